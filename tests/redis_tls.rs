//! The broker link over `rediss://` against redis-server's own TLS port: events cross with
//! the CA named in the target, and a certificate the node does not trust is a clear error
//! naming the address and the setting to change.

#[path = "support/redis_server.rs"]
mod redis_server;

use std::path::PathBuf;
use std::time::Duration;

use monoio::time::timeout;
use redis_server::{free_port, run, RedisServer};
use ringcast::broker::{self, BrokerError, Event, LinkOptions, Publisher, Subscriber};
use ringcast::config::RedisTarget;

/// A self-signed certificate for 127.0.0.1 written as PEM files; removed on drop.
struct Pki {
    dir: PathBuf,
}

impl Pki {
    fn new() -> Pki {
        let dir = std::env::temp_dir().join(format!("ringcast-redis-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
        std::fs::write(dir.join("cert.pem"), made.cert.pem()).unwrap();
        std::fs::write(dir.join("key.pem"), made.key_pair.serialize_pem()).unwrap();
        Pki { dir }
    }

    fn file(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn events_cross_over_tls_and_an_untrusted_certificate_is_named() {
    let pki = Pki::new();
    let tls_port = free_port().to_string();
    let (cert, key) = (pki.file("cert.pem"), pki.file("key.pem"));
    let redis = RedisServer::start(&[
        "--tls-port",
        &tls_port,
        "--tls-cert-file",
        &cert,
        "--tls-key-file",
        &key,
        "--tls-ca-cert-file",
        &cert,
        "--tls-auth-clients",
        "no",
        "--requirepass",
        "pw",
    ]);
    let target = RedisTarget {
        port: tls_port.parse().unwrap(),
        password: Some("pw".into()),
        tls: true,
        tls_ca: Some(cert.clone().into()),
        ..redis.target()
    };
    run(async {
        let options = LinkOptions::default();
        let mut sub = Subscriber::connect(target.clone(), "reverb", "a", options)
            .await
            .unwrap();
        let mut publisher = Publisher::connect(target.clone(), "reverb", "b", options)
            .await
            .unwrap();
        let event = Event {
            app_id: "1".into(),
            channel: "private-tls".into(),
            name: "secure".into(),
            data: "x".repeat(40_000),
            except_socket: None,
        };
        assert_eq!(publisher.publish(event.clone()).await, Ok(1));
        let got = timeout(Duration::from_secs(10), sub.next())
            .await
            .expect("over TLS");
        assert_eq!(
            got.event, event,
            "a 40 kB event crosses several TLS records intact"
        );

        let untrusted = RedisTarget {
            tls_ca: None,
            ..target
        };
        let err = broker::check(&untrusted, &options).await.unwrap_err();
        assert!(matches!(err, BrokerError::Tls { .. }), "{err}");
        let text = err.to_string();
        assert!(text.contains(&format!("127.0.0.1:{tls_port}")), "{text}");
        assert!(text.contains("RINGCAST_REDIS_CA"), "{text}");
    });
}

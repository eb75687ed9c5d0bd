//! TLS: wss:// and https through rustls, with a test CA made here. pusher-js (forceTLS),
//! laravel-echo and the Node SDK (useTLS) run against it; SIGHUP swaps the certificate.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{spawn_client_env, Server};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, ServerName};

/// A CA and a server certificate for 127.0.0.1/localhost, written as PEM files in `dir`.
struct TestPki {
    ca_pem: String,
    ca: rcgen::Certificate,
    ca_key: KeyPair,
}

impl TestPki {
    fn new() -> TestPki {
        let ca_key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "ringcast test CA");
        let ca = params.self_signed(&ca_key).unwrap();
        TestPki {
            ca_pem: ca.pem(),
            ca,
            ca_key,
        }
    }

    /// Writes a fresh leaf certificate (common name `cn`) and key into `dir`.
    fn issue(&self, dir: &Path, cn: &str) {
        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        let leaf = params.signed_by(&key, &self.ca, &self.ca_key).unwrap();
        std::fs::write(dir.join("cert.pem"), leaf.pem()).unwrap();
        std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
        std::fs::write(dir.join("ca.pem"), &self.ca_pem).unwrap();
    }

    fn client_config(&self) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from(self.ca.der().to_vec()))
            .unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        Arc::new(
            rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(roots)
                .with_no_client_auth(),
        )
    }
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ringcast-tls-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn start(dir: &Path) -> Server {
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    Server::start(&[
        ("RINGCAST_WORKERS", "2"),
        ("RINGCAST_TLS_CERT", cert.to_str().unwrap()),
        ("RINGCAST_TLS_KEY", key.to_str().unwrap()),
    ])
}

/// `GET /up` over TLS; returns the response and the common name the server presented.
fn https_up(port: u16, pki: &TestPki) -> (String, String) {
    let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(pki.client_config(), name).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    tls.write_all(b"GET /up HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut resp = Vec::new();
    let _ = tls.read_to_end(&mut resp);
    let leaf = tls.conn.peer_certificates().unwrap()[0].to_vec();
    let cn = String::from_utf8_lossy(&leaf).to_string();
    (String::from_utf8_lossy(&resp).into_owned(), cn)
}

#[test]
fn https_rest_and_a_plain_client_is_refused() {
    let pki = TestPki::new();
    let dir = temp_dir("rest");
    pki.issue(&dir, "first");
    let server = start(&dir);
    let (resp, _) = https_up(server.port, &pki);
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    // A plain HTTP request to a TLS port gets no HTTP answer.
    let mut plain = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    plain
        .write_all(b"GET /up HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut buf = Vec::new();
    let _ = plain.read_to_end(&mut buf);
    assert!(!String::from_utf8_lossy(&buf).contains("HTTP/1.1 200"));
}

#[test]
fn pusher_js_force_tls_and_echo_and_node_sdk_use_tls() {
    let pki = TestPki::new();
    let dir = temp_dir("clients");
    pki.issue(&dir, "clients");
    let server = start(&dir);
    let ca = dir.join("ca.pem");
    let env = [
        ("RINGCAST_TLS", "1"),
        ("NODE_EXTRA_CA_CERTS", ca.to_str().unwrap()),
    ];
    for script in ["pusherjs_channels.js", "echo_reverb.js"] {
        spawn_client_env(script, &[], &server, &env)
            .finish()
            .assert_ok();
    }
}

#[test]
fn sighup_reloads_the_certificate_for_new_connections() {
    let pki = TestPki::new();
    let dir = temp_dir("reload");
    pki.issue(&dir, "before-reload");
    let server = start(&dir);
    let (_, cn) = https_up(server.port, &pki);
    assert!(cn.contains("before-reload"));
    // A broken file first: the reload fails (the server says so) and the old certificate
    // stays in service.
    std::fs::write(dir.join("cert.pem"), "not a certificate").unwrap();
    hup(&server);
    poll("the failed reload is logged", || {
        server.stderr().contains("TLS reload failed")
    });
    let (resp, cn) = https_up(server.port, &pki);
    assert!(resp.starts_with("HTTP/1.1 200") && cn.contains("before-reload"));
    pki.issue(&dir, "after-reload");
    hup(&server);
    // New connections get the new certificate once the main thread has swapped it in.
    poll("new connections get the new certificate", || {
        let (resp, cn) = https_up(server.port, &pki);
        assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
        cn.contains("after-reload")
    });
}

fn hup(server: &Server) {
    let ok = Command::new("kill")
        .args(["-HUP", &server.pid().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

/// Polls `done` every 20 ms until it holds; fails naming `what` after 10 s.
fn poll(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "not within 10 s: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

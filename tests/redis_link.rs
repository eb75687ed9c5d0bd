//! The broker link against a real redis-server: pub/sub between nodes, own events skipped,
//! login and database selection, clear startup errors, and a Redis restart in the middle of
//! traffic with every event that could not go out counted.
//!
//! Each test runs the link in a monoio runtime in this process (io_uring where the kernel
//! allows it), against its own redis-server on a free port. Everything is bounded in time.

#[path = "support/redis_server.rs"]
mod redis_server;

use std::time::{Duration, Instant};

use monoio::time::{sleep, timeout};
use redis_protocol::resp2::types::OwnedFrame;
use redis_server::{free_port, run, RedisServer};
use ringcast::broker::{
    self, Backoff, BrokerError, Connection, Event, LinkOptions, Publisher, Subscriber,
};
use ringcast::config::RedisTarget;

const CHANNEL: &str = "reverb";
const WAIT: Duration = Duration::from_secs(15);

/// Short delays so a restart is noticed and recovered from within the test's time.
fn quick() -> LinkOptions {
    LinkOptions {
        connect_timeout: Duration::from_secs(2),
        backoff: Backoff {
            base: Duration::from_millis(20),
            max: Duration::from_millis(200),
        },
    }
}

fn event(name: &str) -> Event {
    Event {
        app_id: "424242".into(),
        channel: "presence-room".into(),
        name: name.into(),
        data: format!("{{\"n\":\"{name}\"}}"),
        except_socket: Some("1.2".into()),
    }
}

/// Node `node`'s subscriber on [`CHANNEL`].
async fn subscriber(target: RedisTarget, node: &str) -> Subscriber {
    Subscriber::connect(target, CHANNEL, node, quick())
        .await
        .unwrap()
}

/// Node `node`'s publisher on [`CHANNEL`].
async fn publisher(target: RedisTarget, node: &str) -> Publisher {
    Publisher::connect(target, CHANNEL, node, quick())
        .await
        .unwrap()
}

/// Collects envelopes from `sub` until one named `last` arrives; returns them all.
fn collect_until(
    mut sub: Subscriber,
    last: &'static str,
) -> monoio::task::JoinHandle<(Subscriber, Vec<broker::Envelope>)> {
    monoio::spawn(async move {
        let mut got = Vec::new();
        loop {
            let env = sub.next().await;
            let done = env.event.name == last;
            got.push(env);
            if done {
                return (sub, got);
            }
        }
    })
}

#[test]
fn publish_reaches_the_other_node_and_own_events_are_skipped() {
    let redis = RedisServer::start(&[]);
    run(async {
        let target = redis.target();
        let sub_a = subscriber(target.clone(), "node-a").await;
        let mut pub_a = publisher(target.clone(), "node-a").await;
        let mut pub_b = publisher(target, "node-b").await;
        let task = collect_until(sub_a, "b2");
        assert_eq!(
            pub_a.publish(event("own")).await,
            Ok(1),
            "one subscriber: node a"
        );
        pub_b.publish(event("b1")).await.unwrap();
        pub_b.publish(event("b2")).await.unwrap();
        let (sub_a, got) = timeout(WAIT, task)
            .await
            .expect("node a receives b's events");
        let seen: Vec<_> = got
            .iter()
            .map(|e| (e.origin.as_str(), e.seq, e.event.name.as_str()))
            .collect();
        assert_eq!(seen, [("node-b", 1, "b1"), ("node-b", 2, "b2")]);
        assert_eq!(got[0].event, event("b1"), "the event crosses unchanged");
        let stats = sub_a.stats();
        assert_eq!((stats.own_skipped, stats.received, stats.missed), (1, 2, 0));
        assert_eq!(pub_b.stats().published, 2);
    });
}

#[test]
fn login_with_password_user_and_database() {
    let redis = RedisServer::start(&["--requirepass", "s3cret"]);
    run(async {
        let mut target = redis.target();
        let address = target.address();
        let refused = broker::check(&target, &quick()).await.unwrap_err();
        assert!(matches!(refused, BrokerError::Auth { .. }), "{refused}");
        let text = refused.to_string();
        assert!(
            text.contains(&address) && text.contains("REDIS_PASSWORD"),
            "{text}"
        );
        target.password = Some("wrong".into());
        let wrong = broker::check(&target, &quick()).await.unwrap_err();
        assert!(matches!(wrong, BrokerError::Auth { .. }), "{wrong}");
        assert!(
            !wrong.to_string().contains("wrong"),
            "never echo the password: {wrong}"
        );

        target.password = Some("s3cret".into());
        broker::check(&target, &quick()).await.unwrap();
        target.username = Some("default".into());
        target.db = 3;
        let mut publisher = publisher(target.clone(), "n").await;
        assert_eq!(
            publisher.publish(event("e")).await,
            Ok(0),
            "nobody subscribed"
        );
        target.db = 99;
        let err = broker::check(&target, &quick()).await.unwrap_err();
        assert!(matches!(err, BrokerError::Select { db: 99, .. }), "{err}");
        assert!(err.to_string().contains("REDIS_DB"), "{err}");
    });
}

#[test]
fn a_refused_batch_is_counted_and_the_connection_stays_in_step() {
    let redis = RedisServer::start(&[]);
    run(async {
        let target = redis.target();
        let mut admin = Connection::open(&target, Duration::from_secs(2))
            .await
            .unwrap();
        let acl = |rule: &'static str| [&b"ACL"[..], b"SETUSER", b"limited", rule.as_bytes()];
        for rule in ["on", ">pw", "~*", "+@all", "allchannels"] {
            assert!(matches!(
                admin.call(&acl(rule)).await,
                Ok(OwnedFrame::SimpleString(_))
            ));
        }
        let mut sub = subscriber(target.clone(), "node-a").await;
        let limited = RedisTarget {
            username: Some("limited".into()),
            password: Some("pw".into()),
            ..target
        };
        let mut publisher = publisher(limited, "node-b").await;
        assert_eq!(publisher.publish(event("first")).await, Ok(1));
        let first = timeout(WAIT, sub.next()).await.expect("the first event");
        assert_eq!(first.seq, 1);

        admin.call(&acl("resetchannels")).await.unwrap();
        let batch = [event("x"), event("y"), event("z")];
        let err = publisher.publish_batch(&batch).await.unwrap_err();
        assert!(
            matches!(&err, BrokerError::Command(line) if line.starts_with("NOPERM")),
            "{err}"
        );
        assert_eq!(
            (publisher.stats().published, publisher.stats().unpublished),
            (1, 3)
        );

        admin.call(&acl("allchannels")).await.unwrap();
        assert_eq!(publisher.publish(event("allowed")).await, Ok(1));
        assert_eq!(
            publisher.stats().reconnects,
            0,
            "the same connection, still in step"
        );
        let got = timeout(WAIT, sub.next()).await.expect("the allowed event");
        assert_eq!((got.seq, got.event.name.as_str()), (5, "allowed"));
        assert_eq!(
            sub.stats().missed,
            3,
            "the refused events are gaps for the receivers"
        );
    });
}

#[test]
fn unreachable_redis_is_a_clear_error_naming_the_address() {
    let target = RedisTarget {
        host: "127.0.0.1".into(),
        port: free_port(),
        username: None,
        password: None,
        db: 0,
        tls: false,
        tls_ca: None,
    };
    run(async {
        let started = Instant::now();
        let err = Publisher::connect(target.clone(), CHANNEL, "n", quick())
            .await
            .err()
            .unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "fails at once: {err}"
        );
        assert!(matches!(err, BrokerError::Unreachable { .. }), "{err}");
        let text = err.to_string();
        assert!(
            text.contains(&format!("cannot reach Redis at 127.0.0.1:{}", target.port)),
            "{text}"
        );
        assert!(text.contains("REDIS_URL"), "{text}");
        let err = Subscriber::connect(target, CHANNEL, "n", quick())
            .await
            .err()
            .unwrap();
        assert!(matches!(err, BrokerError::Unreachable { .. }), "{err}");
    });
}

#[test]
fn redis_restart_mid_traffic_reconnects_and_counts_what_was_not_sent() {
    let mut redis = RedisServer::start(&[]);
    run(async {
        let target = redis.target();
        let mut sub = subscriber(target.clone(), "node-a").await;
        let mut publisher = publisher(target, "node-b").await;
        assert_eq!(publisher.publish(event("before")).await, Ok(1));
        // Received before the kill: Redis writes the publisher's answer and the subscriber's
        // message separately, and a kill between the two loses the message inside Redis.
        let before = timeout(WAIT, sub.next()).await.expect("before the kill");
        assert_eq!((before.seq, before.event.name.as_str()), (1, "before"));
        let task = collect_until(sub, "after");

        redis.kill();
        let mut failed = 0;
        for _ in 0..5 {
            let err = publisher.publish(event("during")).await.unwrap_err();
            assert!(
                matches!(err, BrokerError::Lost { .. } | BrokerError::Down { .. }),
                "{err}"
            );
            failed += 1;
            sleep(Duration::from_millis(30)).await;
        }
        assert_eq!(publisher.stats().unpublished, 5);

        redis.restart();
        let (mut sent, deadline) = (1, Instant::now() + WAIT);
        loop {
            match publisher.publish(event("after")).await {
                Ok(receivers) => {
                    sent += 1;
                    if receivers >= 1 {
                        break;
                    }
                }
                Err(_) => failed += 1,
            }
            assert!(
                Instant::now() < deadline,
                "no subscriber back within {WAIT:?}"
            );
            sleep(Duration::from_millis(20)).await;
        }
        let stats = publisher.stats();
        assert_eq!((stats.published, stats.unpublished), (sent, failed));
        assert!(stats.reconnects >= 1, "{stats:?}");

        let (sub, got) = timeout(WAIT, task).await.expect("the subscriber is back");
        assert_eq!(got.last().map(|e| e.event.name.as_str()), Some("after"));
        let s = sub.stats();
        assert!(s.reconnects >= 1, "{s:?}");
        // Every event numbered after "before" and not received is counted as missed.
        let last_seq = got.last().unwrap().seq;
        assert_eq!(s.missed, last_seq - 1 - got.len() as u64, "{s:?}");
        assert!(
            s.missed >= 5,
            "the five events sent while Redis was down: {s:?}"
        );
    });
}

/// Measures the link on loopback (printed; run with --no-capture to read them) and checks
/// that nothing is lost or reordered: the round trip of one event from PUBLISH to the other
/// node's subscriber, and the throughput of pipelined batches.
#[test]
fn round_trip_and_batched_throughput_on_loopback() {
    const ROUND_TRIPS: usize = 500;
    const BATCHES: usize = 100;
    const BATCH: usize = 100;
    let redis = RedisServer::start(&[]);
    run(async {
        let target = redis.target();
        let mut sub = subscriber(target.clone(), "node-a").await;
        let mut publisher = publisher(target, "node-b").await;
        let mut rtt = Vec::with_capacity(ROUND_TRIPS);
        for i in 0..ROUND_TRIPS {
            let started = Instant::now();
            publisher.publish(event("ping")).await.unwrap();
            let env = timeout(WAIT, sub.next()).await.expect("round trip");
            rtt.push(started.elapsed());
            assert_eq!(env.seq, i as u64 + 1);
        }
        rtt.sort();
        let received = monoio::spawn(async move {
            let mut last = 0;
            for _ in 0..BATCHES * BATCH {
                last = sub.next().await.seq;
            }
            (sub, last)
        });
        let batch: Vec<Event> = (0..BATCH).map(|_| event("bulk")).collect();
        let started = Instant::now();
        for _ in 0..BATCHES {
            assert_eq!(publisher.publish_batch(&batch).await, Ok(BATCH as u64));
        }
        let (sub, last) = timeout(WAIT, received).await.expect("all batches arrive");
        let elapsed = started.elapsed();
        assert_eq!(last, (ROUND_TRIPS + BATCHES * BATCH) as u64);
        assert_eq!(sub.stats().missed, 0);
        eprintln!(
            "round trip p50 {:?} p99 {:?}; {} events in batches of {BATCH}: {:?}, {:.0} events/s",
            rtt[ROUND_TRIPS / 2],
            rtt[ROUND_TRIPS * 99 / 100],
            BATCHES * BATCH,
            elapsed,
            (BATCHES * BATCH) as f64 / elapsed.as_secs_f64()
        );
    });
}

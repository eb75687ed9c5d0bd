//! Node heartbeats against a real redis-server: a node that stops beating is found dead
//! after its TTL and claimed by exactly one sweeper; live nodes and the sweeper itself are
//! never swept; a clean leave needs no sweep.

#[path = "support/redis_server.rs"]
mod redis_server;

use std::time::Duration;

use monoio::time::sleep;
use redis_server::{run, RedisServer};
use ringcast::broker::heartbeat::Membership;
use ringcast::broker::{liveness, Connection};

const TTL: Duration = Duration::from_millis(300);
/// Long enough that a loaded machine's stall does not expire a node that keeps beating.
const BEATING_TTL: Duration = Duration::from_secs(1);
const OPEN: Duration = Duration::from_secs(2);

#[test]
fn a_node_that_stops_beating_is_claimed_once_after_its_ttl() {
    let redis = RedisServer::start(&[]);
    run(async {
        let target = redis.target();
        let (a, b, c) = (
            Membership::new("rc:", "node-a", BEATING_TTL),
            Membership::new("rc:", "node-b", BEATING_TTL),
            Membership::new("rc:", "node-c", BEATING_TTL),
        );
        let mut conn_a = Connection::open(&target, OPEN).await.unwrap();
        let mut conn_b = Connection::open(&target, OPEN).await.unwrap();
        let mut conn_c = Connection::open(&target, OPEN).await.unwrap();
        for (conn, m) in [(&mut conn_a, &a), (&mut conn_b, &b), (&mut conn_c, &c)] {
            liveness::beat(conn, m).await.unwrap();
        }
        assert!(
            liveness::sweep(&mut conn_b, &b).await.unwrap().is_empty(),
            "all alive"
        );

        // a stops beating (as after kill -9); b and c keep beating for two TTLs.
        for _ in 0..6 {
            sleep(b.beat_every()).await;
            liveness::beat(&mut conn_b, &b).await.unwrap();
            liveness::beat(&mut conn_c, &c).await.unwrap();
        }
        let by_b = liveness::sweep(&mut conn_b, &b).await.unwrap();
        let by_c = liveness::sweep(&mut conn_c, &c).await.unwrap();
        assert_eq!(
            [by_b, by_c].concat(),
            ["node-a"],
            "claimed by exactly one sweeper"
        );
        assert!(liveness::sweep(&mut conn_c, &c).await.unwrap().is_empty());

        // A node that left cleanly is gone at once, nothing for the others to claim.
        liveness::leave(&mut conn_c, &c).await.unwrap();
        let listed = conn_b.call(&[b"SMEMBERS", b"rc:nodes"]).await.unwrap();
        assert_eq!(ringcast::broker::resp::strings(listed).unwrap(), ["node-b"]);
        assert!(liveness::sweep(&mut conn_b, &b).await.unwrap().is_empty());
    });
}

#[test]
fn a_late_sweeper_never_sweeps_itself() {
    let redis = RedisServer::start(&[]);
    run(async {
        let me = Membership::new("rc:", "slow", TTL);
        let mut conn = Connection::open(&redis.target(), OPEN).await.unwrap();
        liveness::beat(&mut conn, &me).await.unwrap();
        sleep(TTL * 2).await;
        assert!(liveness::sweep(&mut conn, &me).await.unwrap().is_empty());
        liveness::beat(&mut conn, &me).await.unwrap();
        let alive = conn.call(&[b"EXISTS", b"rc:node:slow"]).await.unwrap();
        assert_eq!(ringcast::broker::resp::integer(alive), Ok(1));
    });
}

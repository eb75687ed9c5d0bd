//! Filtered collection subscriptions across nodes: two ringcast nodes (two workers each)
//! joined through a real redis-server, JWT-authenticated raw WebSocket subscribers on both,
//! record changes ingested on either node (`POST /apps/{id}/records` and the Pusher-event
//! form). Every matching subscriber on every node gets each change exactly once; a leave
//! (an update that stops matching, judged by `previous`) and the list rule on
//! `@request.auth.id` come out the same on the node that did not ingest the change, and
//! `socket_id` exclusion crosses nodes.

mod common;
#[path = "support/raw_client.rs"]
mod raw_client;
#[path = "support/redis_server.rs"]
mod redis_server;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{http_request, signed_call, Server};
use raw_client::RawClient;
use redis_server::RedisServer;
use ringcast::proto::auth::jwt::sign_hs256;
use serde_json::{json, Value};

const SECRET: &str = "velo-secret";

const VELO_APP: &str = r#"
[[apps]]
id = "velo"
key = "velo-key"
secret = "velo-secret"
connection_auth = "jwt"
collections = [
  { name = "posts", public = true },
  { name = "notes", list_rule = "owner = @request.auth.id" },
]
"#;

/// `n` nodes serving the collections app, joined through `redis`.
fn nodes(redis: &RedisServer, n: usize) -> Vec<Server> {
    let port = redis.port.to_string();
    let env = [
        ("RINGCAST_WORKERS", "2"),
        ("REVERB_SCALING_ENABLED", "true"),
        ("REDIS_HOST", "127.0.0.1"),
        ("REDIS_PORT", port.as_str()),
    ];
    (0..n)
        .map(|_| {
            let mut server = Server::start_with(&[], &env, Some(VELO_APP));
            server.app_id = "velo".into();
            server.app_key = "velo-key".into();
            server.app_secret = SECRET.into();
            server
        })
        .collect()
}

fn jwt(user: &str) -> String {
    let exp = SystemTime::now().duration_since(UNIX_EPOCH).unwrap() + Duration::from_secs(600);
    sign_hs256(
        &json!({"sub": user, "exp": exp.as_secs()}),
        SECRET.as_bytes(),
    )
}

/// A subscriber: `user`'s connection to `node`, registered on `collection` with `filter`
/// through its Bearer token and subscribed to the channel the registration answered.
struct Follower {
    client: RawClient,
    socket_id: String,
}

impl Follower {
    fn new(node: &Server, user: &str, collection: &str, filter: &str) -> Follower {
        let token = jwt(user);
        let path = format!("/app/velo-key?protocol=7&token={token}");
        let mut client = RawClient::connect(node, &path);
        let socket_id = client.established();
        let body = json!({"collection": collection, "socket_id": socket_id, "filter": filter});
        let bearer = format!("Bearer {token}");
        let (status, resp) = http_request(
            node.port,
            "POST",
            "/api/realtime/subscribe",
            &[("Authorization", bearer.as_str())],
            body.to_string().as_bytes(),
        );
        assert_eq!(status, 200, "{resp}");
        let channel = serde_json::from_str::<Value>(&resp).unwrap()["channel_name"].clone();
        let subscribe = json!({"event": "pusher:subscribe", "data": {"channel": channel}});
        client.send_text(&subscribe.to_string());
        let joined = client.recv_json();
        assert_eq!(
            joined["event"], "pusher_internal:subscription_succeeded",
            "{joined}"
        );
        Follower { client, socket_id }
    }

    /// The next record event as `"<event> <id>"`, checking the payload's action matches.
    fn next(&mut self) -> String {
        loop {
            let msg = self.client.recv_json();
            let event = msg["event"].as_str().unwrap_or_default().to_owned();
            if event.starts_with("pusher") {
                continue;
            }
            let data: Value = serde_json::from_str(msg["data"].as_str().unwrap()).unwrap();
            assert_eq!(data["action"], event, "{msg}");
            return format!("{event} {}", data["record"]["id"]);
        }
    }
}

fn records(node: &Server, body: Value) {
    let (status, resp) = signed_call(node, "POST", "/apps/velo/records", &body.to_string());
    assert_eq!(status, 200, "{resp}");
}

/// Checks that each follower's next events are exactly `want[i]`: one missing, extra,
/// duplicated or misjudged delivery fails here or at the next check.
fn expect(followers: &mut [Follower], want: &[&[&str]]) {
    for (i, (follower, want)) in followers.iter_mut().zip(want).enumerate() {
        let got: Vec<String> = want.iter().map(|_| follower.next()).collect();
        assert_eq!(got, *want, "follower {i}");
    }
}

#[test]
fn a_change_ingested_on_one_node_reaches_every_matching_subscriber_on_every_node_once() {
    let redis = RedisServer::start(&[]);
    let nodes = nodes(&redis, 2);
    // Two posts followers and one notes follower per node; each node's two connections of
    // the same kind land on its cores as SO_REUSEPORT decides.
    let mut f = vec![
        Follower::new(&nodes[0], "alice", "posts", "status = 'active'"),
        Follower::new(&nodes[0], "alice", "notes", ""),
        Follower::new(&nodes[1], "bob", "posts", "status = 'active'"),
        Follower::new(&nodes[1], "bob", "notes", ""),
        Follower::new(&nodes[1], "carol", "posts", "status = 'active'"),
    ];
    let post = |id: u32, status: &str| json!({"id": id, "status": status});

    records(
        &nodes[0],
        json!({"collection": "posts", "action": "created", "record": post(1, "active")}),
    );
    expect(
        &mut f,
        &[&["created 1"], &[], &["created 1"], &[], &["created 1"]],
    );

    // A leave on the other node: only `previous` says record 1 was matching before.
    records(
        &nodes[0],
        json!({"collection": "posts", "action": "updated", "record": post(1, "draft"), "previous": post(1, "active")}),
    );
    expect(
        &mut f,
        &[&["deleted 1"], &[], &["deleted 1"], &[], &["deleted 1"]],
    );

    // The list rule reads each node's own claims.
    records(
        &nodes[1],
        json!({"records": [
            {"collection": "notes", "action": "created", "record": {"id": 20, "owner": "alice"}},
            {"collection": "notes", "action": "created", "record": {"id": 21, "owner": "bob"}},
            {"collection": "notes", "action": "created", "record": {"id": 22, "owner": "mallory"}},
        ]}),
    );
    expect(&mut f, &[&[], &["created 20"], &[], &["created 21"], &[]]);

    // The Pusher-event form, published on node 1, excluding bob's socket on node 1.
    let data = json!({"action": "created", "record": post(3, "active")}).to_string();
    let event = json!({"name": "created", "channel": "velo.realtime.posts", "data": data,
                       "socket_id": f[2].socket_id});
    let (status, resp) = signed_call(&nodes[1], "POST", "/apps/velo/events", &event.to_string());
    assert_eq!(status, 200, "{resp}");
    expect(&mut f, &[&["created 3"], &[], &[], &[], &["created 3"]]);

    // Exclusion of a socket on the other node than the one ingesting; then a last change all
    // posts followers get, which shows that nothing else was queued before it.
    records(
        &nodes[1],
        json!({"records": [{"collection": "posts", "action": "deleted", "record": post(3, "active")}],
               "socket_id": f[0].socket_id}),
    );
    records(
        &nodes[0],
        json!({"collection": "posts", "action": "created", "record": post(99, "active")}),
    );
    expect(
        &mut f,
        &[
            &["created 99"],
            &[],
            &["deleted 3", "created 99"],
            &[],
            &["deleted 3", "created 99"],
        ],
    );
    records(
        &nodes[0],
        json!({"records": [
            {"collection": "notes", "action": "created", "record": {"id": 98, "owner": "bob"}},
            {"collection": "notes", "action": "created", "record": {"id": 99, "owner": "alice"}},
        ]}),
    );
    expect(&mut f, &[&[], &["created 99"], &[], &["created 98"], &[]]);
}

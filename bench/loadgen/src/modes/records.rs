//! `records`: filtered collection subscriptions (ringcast's `POST /api/realtime/subscribe`).
//! Connection i registers the filter `owner = 'PREFIX-i'` on the collection, except the last
//! `--scanned` connections, whose filters `seq < -1`, `seq < -2`, … have no equality to index
//! (so the server evaluates each on every change, and none ever matches: `seq` counts from 0).
//! They are distinct so that a server cannot win by noticing they are all the same filter. Each event is one record change
//! `{"owner": "PREFIX-k", "seq": N, "t": T}` for owner k = seq mod owners, published through
//! `POST /apps/ID/records`: exactly one delivery per change, the same deliveries as the
//! `channels` mode with one connection per channel.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::Mutex;

use super::Scenario;
use crate::args::Args;
use crate::publisher::{accepted, Http};
use crate::sign::signed_query;

/// Keep-alive HTTP connections the registrations share (so 10k registrations do not leave
/// 10k sockets in TIME_WAIT).
const REGISTER_CONNS: usize = 8;

pub struct Records {
    pub rate: f64,
    /// Connections with an `owner = …` filter (the first ones); the rest are scanned.
    pub owners: usize,
    pub connections: usize,
}

impl Scenario for Records {
    fn channels(&self) -> usize {
        self.connections
    }
    fn channel_of_connection(&self, conn: usize) -> usize {
        conn
    }
    fn channel_of_event(&self, seq: u64) -> usize {
        (seq % self.owners as u64) as usize
    }
    fn rate_at(&self, _elapsed: Duration) -> f64 {
        self.rate
    }
    fn reports_last_subscriber(&self) -> bool {
        false
    }
}

/// What a connection needs to register its filter before subscribing.
pub struct RecordsSetup {
    app_id: String,
    key: String,
    secret: String,
    collection: String,
    /// The collection's channel, which every connection subscribes to once registered.
    pub channel: String,
    owners: usize,
    http: Vec<Mutex<Http>>,
}

impl RecordsSetup {
    pub fn new(args: &Args, addr: std::net::SocketAddr, host: &str) -> RecordsSetup {
        RecordsSetup {
            app_id: args.app_id.clone(),
            key: args.key.clone(),
            secret: args.secret.clone(),
            collection: args.collection.clone(),
            channel: format!("{}{}", args.realtime_prefix, args.collection),
            owners: args.connections.saturating_sub(args.scanned).max(1),
            http: (0..REGISTER_CONNS)
                .map(|_| Mutex::new(Http::new(addr, host.to_owned())))
                .collect(),
        }
    }

    /// Registers connection `conn` (socket `socket_id`, channel name `name`) with its filter.
    pub async fn register(&self, conn: usize, socket_id: &str, name: &str) -> Result<(), String> {
        let filter = filter_of(conn, self.owners, name);
        let body = serde_json::json!({
            "collection": self.collection,
            "socket_id": socket_id,
            "filter": filter,
        })
        .to_string();
        let path = "/api/realtime/subscribe";
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let query = signed_query("POST", path, &self.key, &self.secret, unix, body.as_bytes());
        let mut http = self.http[conn % REGISTER_CONNS].lock().await;
        let result = http.post(&format!("{path}?{query}"), &body).await;
        let mut error = None;
        match accepted(result, &mut error) {
            true => Ok(()),
            false => Err(format!("register: {}", error.unwrap_or_default())),
        }
    }

    /// The path and body of record change `seq` for owner `name`, stamped `t_ns`.
    pub fn change(&self, name: &str, seq: u64, t_ns: u64) -> (String, String) {
        (self.path(), self.change_json(name, seq, t_ns))
    }

    /// The path changes are posted to.
    pub fn path(&self) -> String {
        format!("/apps/{}/records", self.app_id)
    }

    /// Record change `seq` for owner `name`, stamped `t_ns`, as one change's JSON.
    pub fn change_json(&self, name: &str, seq: u64, t_ns: u64) -> String {
        format!(
            r#"{{"collection":"{}","action":"created","record":{{"owner":"{name}","seq":{seq},"t":{t_ns}}}}}"#,
            self.collection
        )
    }
}

/// The filter connection `conn` (channel name `name`) registers: its own owner for the first
/// `owners`, else `seq < -k` with k counting from 1 over the scanned ones.
fn filter_of(conn: usize, owners: usize, name: &str) -> String {
    match conn.checked_sub(owners) {
        None => format!("owner = '{name}'"),
        Some(k) => format!("seq < -{}", k + 1),
    }
}

/// The shared setup when `args` runs the records mode.
pub fn setup(args: &Args, addr: std::net::SocketAddr, host: &str) -> Option<Arc<RecordsSetup>> {
    (args.mode() == crate::args::ModeKind::Records)
        .then(|| Arc::new(RecordsSetup::new(args, addr, host)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_get_the_events_and_the_scanned_none() {
        let s = Records {
            rate: 1.0,
            owners: 3,
            connections: 5,
        };
        let targets: Vec<usize> = (0..7).map(|seq| s.channel_of_event(seq)).collect();
        assert_eq!(targets, [0, 1, 2, 0, 1, 2, 0]);
        assert_eq!(s.channel_of_connection(4), 4);
    }

    #[test]
    fn scanned_filters_are_distinct_and_never_match() {
        assert_eq!(filter_of(2, 3, "bench-2"), "owner = 'bench-2'");
        let scanned: Vec<String> = (3..6).map(|c| filter_of(c, 3, "x")).collect();
        assert_eq!(scanned, ["seq < -1", "seq < -2", "seq < -3"]);
    }
}

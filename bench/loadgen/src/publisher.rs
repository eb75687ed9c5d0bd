//! The publisher: signed `POST /apps/ID/events` over a keep-alive HTTP/1.1 connection, on a
//! schedule.
//!
//! Owns the event schedule (due times from the mode's rate, never skipping a late event), the
//! body `{"name":"bench","channels":[..],"data":"{\"seq\":N,\"t\":T}"}` stamped just before it is
//! written, and a minimal HTTP client (request written by hand, response read by Content-Length
//! or chunked). Each event's send time goes into the returned log; it never looks at deliveries.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::client::Shared;
use crate::modes::Scenario;
use crate::sign::signed_query;

/// One published event.
#[derive(Clone, Copy, Debug)]
pub struct SentEvent {
    pub seq: u64,
    pub channel: usize,
    /// Scheduled time, nanoseconds since the generator's start (the send stamp in the event is
    /// taken just before writing, at or after this); the warmup is cut by it.
    pub due_ns: u64,
    /// The server answered 2xx: its deliveries are expected.
    pub ok: bool,
}

/// What one publisher task hands back.
pub struct PubOutcome {
    pub sent: Vec<SentEvent>,
    pub errors: u64,
    pub first_error: Option<String>,
    /// Request round trips, microseconds.
    pub rtt_us: Histogram<u64>,
}

/// Credentials and targets for publishing.
pub struct PubCtx {
    pub shared: Arc<Shared>,
    pub app_id: String,
    pub key: String,
    pub secret: String,
    pub scenario: Arc<dyn Scenario>,
    pub channel_names: Arc<Vec<Arc<str>>>,
    /// Events per request (`--batch`): above 1, one `{"records": [...]}` body or one
    /// `batch_events` request carries that many consecutive events.
    pub batch: usize,
    /// `--record-payload`: events carry what a `records` run delivers (see [`event_parts`]).
    pub record_payload: bool,
}

/// A keep-alive HTTP/1.1 client for one host.
pub struct Http {
    addr: SocketAddr,
    host: String,
    stream: Option<TcpStream>,
    buf: Vec<u8>,
}

fn bad(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

impl Http {
    pub fn new(addr: SocketAddr, host: String) -> Http {
        Http {
            addr,
            host,
            stream: None,
            buf: Vec::with_capacity(4096),
        }
    }

    async fn stream(&mut self) -> io::Result<&mut TcpStream> {
        if self.stream.is_none() {
            let s = TcpStream::connect(self.addr).await?;
            s.set_nodelay(true)?;
            self.stream = Some(s);
            self.buf.clear();
        }
        Ok(self.stream.as_mut().expect("just set"))
    }

    /// Sends a POST and returns (status, body). Drops the connection on any error.
    pub async fn post(&mut self, target: &str, body: &str) -> io::Result<(u16, Vec<u8>)> {
        let r = self.post_inner(target, body).await;
        if r.is_err() {
            self.stream = None;
        }
        r
    }

    async fn post_inner(&mut self, target: &str, body: &str) -> io::Result<(u16, Vec<u8>)> {
        let req = format!(
            "POST {target} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{body}",
            self.host,
            body.len()
        );
        self.stream().await?.write_all(req.as_bytes()).await?;
        let head_end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            self.read_more().await?;
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]).into_owned();
        let status: u16 = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad(format!("bad status line: {head}")))?;
        let header = |name: &str| {
            head.lines().skip(1).find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| v.trim().to_owned())
            })
        };
        let close = header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let chunked = header("transfer-encoding").is_some_and(|v| v.contains("chunked"));
        self.buf.drain(..head_end);
        let body = if chunked {
            // Read to the terminating zero chunk, then strip the chunk framing.
            while !self.buf.windows(5).any(|w| w == b"0\r\n\r\n") {
                self.read_more().await?;
            }
            let end = self
                .buf
                .windows(5)
                .position(|w| w == b"0\r\n\r\n")
                .unwrap_or(0)
                + 5;
            let raw: Vec<u8> = self.buf.drain(..end).collect();
            dechunk(&raw)
        } else {
            let len: usize = header("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            while self.buf.len() < len {
                self.read_more().await?;
            }
            self.buf.drain(..len).collect()
        };
        if close {
            self.stream = None;
        }
        Ok((status, body))
    }

    async fn read_more(&mut self) -> io::Result<()> {
        let mut tmp = [0u8; 4096];
        let n = self.stream().await?.read(&mut tmp).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        self.buf.extend_from_slice(&tmp[..n]);
        Ok(())
    }
}

fn dechunk(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = raw;
    while let Some(i) = rest.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&rest[..i])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next()?.trim(), 16).ok())
            .unwrap_or(0);
        if size == 0 || rest.len() < i + 2 + size {
            break;
        }
        out.extend_from_slice(&rest[i + 2..i + 2 + size]);
        rest = &rest[(i + 4 + size).min(rest.len())..];
    }
    out
}

/// Whether a publish succeeded (2xx); the first failure's reason is kept in `first_error`.
pub fn accepted(result: io::Result<(u16, Vec<u8>)>, first_error: &mut Option<String>) -> bool {
    match result {
        Ok((status, _)) if (200..300).contains(&status) => true,
        Ok((status, body)) => {
            let msg = format!("HTTP {status}: {}", String::from_utf8_lossy(&body));
            first_error.get_or_insert(msg);
            false
        }
        Err(e) => {
            first_error.get_or_insert(format!("publish: {e}"));
            false
        }
    }
}

/// The body of event `seq` stamped `t_ns` for `channel`, or with `record` the event a
/// `records` run delivers (see [`event_parts`]).
fn event_body(record: bool, channel: &str, seq: u64, t_ns: u64) -> String {
    let (name, data) = event_parts(record, channel, seq, t_ns);
    format!(r#"{{"name":"{name}","channels":["{channel}"],"data":"{data}"}}"#)
}

/// The name of event `seq` and its data as the inside of a JSON string: `bench` with the
/// stamp `{"seq":N,"t":T}`, or with `record` what a `records` run delivers for owner
/// `channel` (`created` with `{"action":"created","record":{"owner":…,"seq":N,"t":T}}`),
/// so that an unfiltered run can deliver the same frames as a filtered one.
fn event_parts(record: bool, channel: &str, seq: u64, t_ns: u64) -> (&'static str, String) {
    match record {
        false => ("bench", format!(r#"{{\"seq\":{seq},\"t\":{t_ns}}}"#)),
        true => (
            "created",
            format!(
                r#"{{\"action\":\"created\",\"record\":{{\"owner\":\"{channel}\",\"seq\":{seq},\"t\":{t_ns}}}}}"#
            ),
        ),
    }
}

/// The path and body of one request carrying events `seqs`, all stamped `t_ns`.
fn request(ctx: &PubCtx, seqs: std::ops::Range<u64>, t_ns: u64) -> (String, String) {
    let name = |seq| &*ctx.channel_names[ctx.scenario.channel_of_event(seq)];
    let records = ctx.shared.records.as_deref();
    if seqs.end - seqs.start == 1 {
        let seq = seqs.start;
        return match records {
            Some(records) => records.change(name(seq), seq, t_ns),
            None => (
                format!("/apps/{}/events", ctx.app_id),
                event_body(ctx.record_payload, name(seq), seq, t_ns),
            ),
        };
    }
    let items: Vec<String> = seqs
        .map(|seq| match records {
            Some(records) => records.change_json(name(seq), seq, t_ns),
            None => batch_item(ctx.record_payload, name(seq), seq, t_ns),
        })
        .collect();
    match records {
        Some(records) => (
            records.path(),
            format!(r#"{{"records":[{}]}}"#, items.join(",")),
        ),
        None => (
            format!("/apps/{}/batch_events", ctx.app_id),
            format!(r#"{{"batch":[{}]}}"#, items.join(",")),
        ),
    }
}

/// One event of a `batch_events` body: the same event as [`event_body`], on one channel.
fn batch_item(record: bool, channel: &str, seq: u64, t_ns: u64) -> String {
    let (name, data) = event_parts(record, channel, seq, t_ns);
    format!(r#"{{"name":"{name}","channel":"{channel}","data":"{data}"}}"#)
}

/// Publishes events from `start` until `end` at this publisher's share of the mode's rate:
/// requests `index, index + count, ...` (from `seq_base`), request `r` carrying events
/// `r * batch .. (r + 1) * batch`.
pub async fn run(
    ctx: PubCtx,
    index: usize,
    count: usize,
    start: Instant,
    end: Instant,
    seq_base: u64,
) -> PubOutcome {
    let shared = &ctx.shared;
    let mut http = Http::new(shared.addr, shared.host.clone());
    let mut out = PubOutcome {
        sent: Vec::new(),
        errors: 0,
        first_error: None,
        rtt_us: Histogram::new_with_bounds(1, 60_000_000, 3).expect("bounds"),
    };
    let batch = ctx.batch.max(1) as u64;
    let rate0 = ctx.scenario.rate_at(Duration::ZERO) / batch as f64;
    // Stagger publishers so their requests interleave evenly.
    let mut due = start + Duration::from_secs_f64(index as f64 / rate0);
    let mut k: u64 = 0;
    while due < end {
        tokio::time::sleep_until(due.into()).await;
        let first = seq_base + (k * count as u64 + index as u64) * batch;
        let t_ns = shared.now_ns();
        let (path, body) = request(&ctx, first..first + batch, t_ns);
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let query = signed_query("POST", &path, &ctx.key, &ctx.secret, unix, body.as_bytes());
        let target = format!("{path}?{query}");
        let result = http.post(&target, &body).await;
        let rtt = shared.now_ns().saturating_sub(t_ns) / 1000;
        let _ = out.rtt_us.record(rtt.clamp(1, 60_000_000));
        let ok = accepted(result, &mut out.first_error);
        out.errors += u64::from(!ok);
        let due_ns = due.saturating_duration_since(shared.t0).as_nanos() as u64;
        out.sent.extend((first..first + batch).map(|seq| SentEvent {
            seq,
            channel: ctx.scenario.channel_of_event(seq),
            due_ns,
            ok,
        }));
        k += 1;
        let rate = ctx.scenario.rate_at(due.saturating_duration_since(start))
            / (count as u64 * batch) as f64;
        due += Duration::from_secs_f64(1.0 / rate.max(1e-3));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_shape() {
        let b = event_body(false, "bench-0", 3, 42);
        assert_eq!(
            b,
            r#"{"name":"bench","channels":["bench-0"],"data":"{\"seq\":3,\"t\":42}"}"#
        );
        let v: serde_json::Value = serde_json::from_str(&b).unwrap();
        let data: serde_json::Value = serde_json::from_str(v["data"].as_str().unwrap()).unwrap();
        assert_eq!(data["seq"], 3);
    }

    #[test]
    fn a_batch_item_carries_the_same_data_as_an_event() {
        for record in [false, true] {
            let item = batch_item(record, "bench-0", 3, 42);
            let item: serde_json::Value = serde_json::from_str(&item).unwrap();
            let event = event_body(record, "bench-0", 3, 42);
            let event: serde_json::Value = serde_json::from_str(&event).unwrap();
            assert_eq!(item["channel"], "bench-0");
            assert_eq!(
                (&item["name"], &item["data"]),
                (&event["name"], &event["data"])
            );
        }
    }

    #[test]
    fn a_record_payload_is_what_a_records_run_delivers() {
        let event = event_body(true, "bench-7", 3, 42);
        let event: serde_json::Value = serde_json::from_str(&event).unwrap();
        assert_eq!(event["name"], "created");
        let data: serde_json::Value =
            serde_json::from_str(event["data"].as_str().unwrap()).unwrap();
        let expected = serde_json::json!({
            "action": "created",
            "record": {"owner": "bench-7", "seq": 3, "t": 42},
        });
        assert_eq!(data, expected);
        let stamp = crate::client::parse_data::<serde_json::Value>(&event["data"].to_string());
        assert_eq!(stamp, Some(expected));
    }

    #[test]
    fn dechunks() {
        assert_eq!(dechunk(b"2\r\n{}\r\n0\r\n\r\n"), b"{}");
    }
}

//! A webhook receiver inside the test process: HTTP/1.1 with keep-alive (or one request per
//! connection), optionally over TLS with a certificate of its own, answering from a script and
//! recording every request with its arrival time and connection, and the most requests it
//! ever had in progress at once.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// One scripted answer.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// Held this long before answering.
    pub delay: Duration,
}

impl Answer {
    pub fn status(status: u16) -> Answer {
        Answer {
            status,
            headers: Vec::new(),
            delay: Duration::ZERO,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Answer {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn after(mut self, delay: Duration) -> Answer {
        self.delay = delay;
        self
    }
}

/// One request received.
#[derive(Clone, Debug)]
pub struct Seen {
    pub at: Instant,
    /// When the answer was written.
    pub answered: Instant,
    /// Which accepted connection carried it (0-based).
    pub conn: usize,
    pub webhook_id: String,
    pub body: String,
    pub status: u16,
}

/// How the receiver behaves.
pub struct Options {
    /// Answers in order; [`Options::then`] once they are used up.
    pub script: Vec<Answer>,
    pub then: Answer,
    /// Keep connections open between requests.
    pub keep_alive: bool,
    /// Serve TLS with this certificate chain and key.
    pub tls: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            script: Vec::new(),
            then: Answer::status(200),
            keep_alive: true,
            tls: None,
        }
    }
}

struct State {
    script: Mutex<VecDeque<Answer>>,
    then: Answer,
    keep_alive: bool,
    seen: Mutex<Vec<Seen>>,
    conns: AtomicUsize,
    in_progress: AtomicUsize,
    max_in_progress: AtomicUsize,
}

/// A running receiver; its threads end with the test process.
pub struct Receiver {
    pub port: u16,
    state: Arc<State>,
}

/// A self-signed certificate for 127.0.0.1: (PEM for a CA file, chain and key for a server).
pub fn self_signed() -> (String, Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
    let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(made.key_pair.serialize_der()));
    (made.cert.pem(), vec![made.cert.der().clone()], key)
}

impl Receiver {
    pub fn start(options: Options) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(State {
            script: Mutex::new(options.script.into()),
            then: options.then,
            keep_alive: options.keep_alive,
            seen: Mutex::new(Vec::new()),
            conns: AtomicUsize::new(0),
            in_progress: AtomicUsize::new(0),
            max_in_progress: AtomicUsize::new(0),
        });
        let tls = options.tls.map(|(chain, key)| {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(chain, key)
                .unwrap();
            Arc::new(config)
        });
        let shared = state.clone();
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let conn = shared.conns.fetch_add(1, Ordering::SeqCst);
                let state = shared.clone();
                let tls = tls.clone();
                thread::spawn(move || match tls {
                    None => serve(stream, conn, &state),
                    Some(config) => {
                        let session = rustls::ServerConnection::new(config).unwrap();
                        serve(rustls::StreamOwned::new(session, stream), conn, &state)
                    }
                });
            }
        });
        Receiver { port, state }
    }

    pub fn url(&self, scheme: &str) -> String {
        format!("{scheme}://127.0.0.1:{}/hook", self.port)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    /// Requests received so far.
    pub fn count(&self) -> usize {
        self.state.seen.lock().unwrap().len()
    }

    /// Waits until `n` requests arrived (panics after `within`).
    pub fn wait_for(&self, n: usize, within: Duration) -> Vec<Seen> {
        let deadline = Instant::now() + within;
        loop {
            let seen = self.seen();
            if seen.len() >= n {
                return seen;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {n} requests after {within:?}: {seen:?}",
                seen.len()
            );
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.state.conns.load(Ordering::SeqCst)
    }

    /// The most requests in progress at once.
    pub fn max_concurrent(&self) -> usize {
        self.state.max_in_progress.load(Ordering::SeqCst)
    }
}

/// Serves requests on one connection until it closes (or after one without keep-alive).
fn serve<S: Read + Write>(stream: S, conn: usize, state: &State) {
    let mut reader = BufReader::new(stream);
    loop {
        let Some((headers, body)) = read_request(&mut reader) else {
            return;
        };
        let at = Instant::now();
        let now = state.in_progress.fetch_add(1, Ordering::SeqCst) + 1;
        state.max_in_progress.fetch_max(now, Ordering::SeqCst);
        let answer = state
            .script
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| state.then.clone());
        thread::sleep(answer.delay);
        // 204 and 304 carry no body.
        let reply_body = if matches!(answer.status, 204 | 304) {
            ""
        } else {
            "ok"
        };
        let mut head = format!("HTTP/1.1 {} Scripted\r\n", answer.status);
        if !reply_body.is_empty() {
            head.push_str("Content-Length: 2\r\n");
        }
        for (k, v) in &answer.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        if !state.keep_alive {
            head.push_str("Connection: close\r\n");
        }
        head.push_str("\r\n");
        head.push_str(reply_body);
        state.in_progress.fetch_sub(1, Ordering::SeqCst);
        let webhook_id = header(&headers, "webhook-id").unwrap_or_default();
        state.seen.lock().unwrap().push(Seen {
            at,
            answered: Instant::now(),
            conn,
            webhook_id,
            body: String::from_utf8_lossy(&body).into_owned(),
            status: answer.status,
        });
        let stream = reader.get_mut();
        if stream.write_all(head.as_bytes()).is_err() || stream.flush().is_err() {
            return;
        }
        if !state.keep_alive {
            return;
        }
    }
}

fn header(headers: &[(String, String)], name: &str) -> Option<String> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
}

/// A request's headers, names as sent.
type Headers = Vec<(String, String)>;

/// One request's headers and body; `None` when the connection closed.
fn read_request<R: BufRead>(reader: &mut R) -> Option<(Headers, Vec<u8>)> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).ok()?;
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        let (k, v) = trimmed.split_once(':')?;
        headers.push((k.trim().to_owned(), v.trim().to_owned()));
    }
    let len: usize = header(&headers, "content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some((headers, body))
}

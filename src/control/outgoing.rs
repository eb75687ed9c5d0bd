//! The control core's outgoing webhook requests (managed deliveries and Pusher channel
//! webhooks): the SSRF guard on the address connected to, the HTTP/1.1 POST, and the answer
//! the retry rules need (status and `Retry-After`).
//!
//! Requests go through one [`Pool`] per control core (kept-alive connections, concurrency
//! bounded globally and per receiver), installed at the core's start from the `[webhooks]`
//! settings. It lives in a thread-local because connections belong to that one runtime, and so
//! both senders reach the same pool without threading it through their state. https trusts
//! the webpki roots, or only the CAs of `webhooks.ca_file`.

use std::cell::RefCell;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use rustls::{ClientConfig, RootCertStore};

use crate::config::WebhooksConfig;
use crate::proto::http::HttpUrl;
use crate::ratelimit::Cidr;
use crate::shard::io::http_client::ClientError;
use crate::shard::io::http_pool::{Bounds, Origin, Pool};
use crate::webhook::request::Header;
use crate::webhook::retry::Outcome;
use crate::webhook::ssrf::{check_ip, parse_url};

/// Largest answer body read from a receiver.
const MAX_ANSWER: usize = 64 * 1024;
/// Longest wait for a free connection slot before the request is given up as busy (the
/// delivery then waits without using an attempt).
pub(super) const MAX_SLOT_WAIT: Duration = Duration::from_secs(5);

/// The pool and the timeout of one control core.
pub(super) struct Outgoing {
    pub(super) pool: Pool,
    pub(super) timeout: Duration,
}

thread_local! {
    static OUTGOING: RefCell<Option<Rc<Outgoing>>> = const { RefCell::new(None) };
}

/// The TLS settings for https receivers: the CAs of `webhooks.ca_file`, else the webpki roots.
/// The error names the setting and what to change.
pub fn tls_config(cfg: &WebhooksConfig) -> Result<Arc<ClientConfig>, String> {
    let roots = match &cfg.ca_file {
        Some(path) => crate::broker::tls::roots_from(path)
            .map_err(|e| format!("invalid setting webhooks.ca_file: {e}"))?,
        None => RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    };
    crate::broker::tls::client_config(roots)
}

/// Installs this thread's pool from the settings.
pub(super) fn install(cfg: &WebhooksConfig, tls: Arc<ClientConfig>) {
    let bounds = Bounds {
        total: cfg.max_connections,
        per_origin: cfg.max_per_endpoint,
        idle_per_origin: cfg.max_idle_per_endpoint,
    };
    let outgoing = Outgoing {
        pool: Pool::new(bounds, tls),
        timeout: cfg.timeout,
    };
    OUTGOING.with(|o| *o.borrow_mut() = Some(Rc::new(outgoing)));
}

/// This thread's pool; the defaults when none was installed.
pub(super) fn current() -> Rc<Outgoing> {
    OUTGOING.with(|o| {
        o.borrow_mut()
            .get_or_insert_with(|| {
                let cfg = WebhooksConfig::default();
                let tls = tls_config(&cfg).expect("the webpki roots load");
                let bounds = Bounds {
                    total: cfg.max_connections,
                    per_origin: cfg.max_per_endpoint,
                    idle_per_origin: cfg.max_idle_per_endpoint,
                };
                Rc::new(Outgoing {
                    pool: Pool::new(bounds, tls),
                    timeout: cfg.timeout,
                })
            })
            .clone()
    })
}

/// A receiver's answer, as far as the retry rules care.
#[derive(Debug)]
pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) retry_after: Option<String>,
}

/// Why a request got no HTTP answer.
#[derive(Debug)]
pub(super) enum SendError {
    Timeout,
    Connect(String),
    /// No connection slot came free in time; nothing was sent.
    Busy,
}

/// What the retry rules make of a request's result.
pub(super) fn outcome_of(sent: &Result<Answer, SendError>) -> Outcome<'_> {
    match sent {
        Ok(answer) => Outcome::Status {
            code: answer.status,
            retry_after: answer.retry_after.as_deref(),
        },
        Err(SendError::Timeout) => Outcome::Timeout,
        Err(SendError::Connect(why)) => Outcome::Connect(why),
        Err(SendError::Busy) => Outcome::Connect("too many webhook requests in flight"),
    }
}

/// POSTs `body` with `headers` to `url` through the SSRF guard and the pool.
pub(super) async fn post_to(
    url: &str,
    allowed: &[Cidr],
    headers: &[Header<'_>],
    body: &[u8],
) -> Result<Answer, SendError> {
    let target = parse_url(url, allowed).map_err(|e| SendError::Connect(e.to_string()))?;
    let ip = match target.ip {
        Some(ip) => ip,
        None => resolve(&target.url)?,
    };
    // The address checked is the one connected to: the name is not resolved again.
    check_ip(ip, allowed).map_err(|e| SendError::Connect(e.to_string()))?;
    let origin = Origin {
        https: target.https,
        host: target.url.host.clone(),
        addr: SocketAddr::new(ip, target.url.port),
    };
    let out = current();
    let permit = monoio::time::timeout(MAX_SLOT_WAIT, out.pool.acquire(&origin))
        .await
        .map_err(|_| SendError::Busy)?;
    let request = request_bytes(&target.url, headers, body);
    match out
        .pool
        .send(&permit, request, out.timeout, MAX_ANSWER)
        .await
    {
        Ok(reply) => Ok(Answer {
            status: reply.status,
            retry_after: reply.header("retry-after").map(str::to_owned),
        }),
        Err(ClientError::Timeout(_)) => Err(SendError::Timeout),
        Err(e) => Err(SendError::Connect(e.to_string())),
    }
}

fn resolve(url: &HttpUrl) -> Result<IpAddr, SendError> {
    (url.host.as_str(), url.port)
        .to_socket_addrs()
        .map_err(|e| SendError::Connect(format!("cannot resolve {}: {e}", url.host)))?
        .next()
        .map(|a: SocketAddr| a.ip())
        .ok_or_else(|| SendError::Connect(format!("{} has no address", url.host)))
}

/// An HTTP/1.1 POST; the connection stays open for the next request unless the receiver
/// closes it. Written piece by piece into one buffer sized up front: this runs for every
/// attempt on the control core.
fn request_bytes(url: &HttpUrl, headers: &[Header<'_>], body: &[u8]) -> Vec<u8> {
    let host = url.host_header();
    let length = body.len().to_string();
    let head: usize = headers.iter().map(|(k, v)| k.len() + v.len() + 4).sum();
    let mut out = Vec::with_capacity(
        64 + url.path_and_query.len() + host.len() + length.len() + head + body.len(),
    );
    for piece in [
        "POST ",
        url.path_and_query.as_str(),
        " HTTP/1.1\r\nHost: ",
        host.as_str(),
        "\r\nContent-Length: ",
        length.as_str(),
        "\r\n",
    ] {
        out.extend_from_slice(piece.as_bytes());
    }
    for (k, v) in headers {
        for piece in [k.as_ref(), ": ", v.as_ref(), "\r\n"] {
            out.extend_from_slice(piece.as_bytes());
        }
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reaches_the_retry_rules() {
        let sent = Ok(Answer {
            status: 429,
            retry_after: Some("2".into()),
        });
        assert_eq!(
            outcome_of(&sent),
            Outcome::Status {
                code: 429,
                retry_after: Some("2")
            }
        );
        assert_eq!(outcome_of(&Err(SendError::Timeout)), Outcome::Timeout);
    }

    #[test]
    fn requests_are_http_1_1_and_keep_the_connection() {
        let url = HttpUrl::parse("http://127.0.0.1:8080/hook?x=1").unwrap();
        let headers: [Header<'_>; 1] = [("X-Team".into(), "billing".into())];
        let raw = String::from_utf8(request_bytes(&url, &headers, b"{}")).unwrap();
        assert!(raw.starts_with("POST /hook?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"));
        assert!(raw.contains("Content-Length: 2\r\nX-Team: billing\r\n\r\n{}"));
        assert!(!raw.to_ascii_lowercase().contains("connection: close"));
    }

    #[test]
    fn a_named_ca_file_replaces_the_webpki_roots() {
        assert!(tls_config(&WebhooksConfig::default()).is_ok());
        let file = std::env::temp_dir().join(format!("ringcast-hook-ca-{}", std::process::id()));
        std::fs::write(&file, "not a certificate\n").unwrap();
        let cfg = WebhooksConfig {
            ca_file: Some(file.clone()),
            ..WebhooksConfig::default()
        };
        let err = tls_config(&cfg).unwrap_err();
        let _ = std::fs::remove_file(&file);
        assert!(err.contains("webhooks.ca_file"), "{err}");
    }
}

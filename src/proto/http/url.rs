//! `http://host[:port][/path][?query]` URLs for the small outgoing HTTP client (the Sanctum
//! introspection URL). Plain http only: TLS to the app is out of scope, so `https://` is
//! refused with a message saying so. No I/O: host names are resolved by the caller.

use std::fmt;

/// A parsed `http://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl {
    /// Host name or IP address (IPv6 without its brackets).
    pub host: String,
    /// Port, 80 when not written.
    pub port: u16,
    /// Path and query as sent on the request line; `/` at least.
    pub path_and_query: String,
}

/// Why a URL cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlError(&'static str);

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for UrlError {}

impl HttpUrl {
    /// Parses an absolute `http://` URL.
    pub fn parse(url: &str) -> Result<HttpUrl, UrlError> {
        if url.len() >= 5 && url[..5].eq_ignore_ascii_case("https") {
            return Err(UrlError(
                "https:// is not supported (TLS to the app is out of scope); use http:// on a private network",
            ));
        }
        let rest = url
            .get(..7)
            .filter(|s| s.eq_ignore_ascii_case("http://"))
            .map(|_| &url[7..])
            .ok_or(UrlError("must start with http://"))?;
        if !rest.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(UrlError("must be visible ASCII without spaces"));
        }
        let split = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(split);
        if authority.contains('@') {
            return Err(UrlError("user:password@ in the URL is not supported"));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6
                .split_once(']')
                .ok_or(UrlError("unclosed [ in the host"))?;
            (host, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(UrlError("has no host"));
        }
        let port = match port {
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|&p| p != 0)
                .ok_or(UrlError("port must be a number 1-65535"))?,
            None => 80,
        };
        let tail = tail.split('#').next().unwrap_or("");
        let path_and_query = if tail.starts_with('/') {
            tail.to_owned()
        } else {
            format!("/{tail}")
        };
        Ok(HttpUrl {
            host: host.to_owned(),
            port,
            path_and_query,
        })
    }

    /// The `Host` header value: host, brackets for IPv6, and the port unless it is 80.
    pub fn host_header(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == 80 {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hosts_ports_and_paths() {
        let u = HttpUrl::parse("http://127.0.0.1:8000/api/user").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("127.0.0.1", 8000));
        assert_eq!(u.path_and_query, "/api/user");
        let u = HttpUrl::parse("http://app.internal?x=1#frag").unwrap();
        assert_eq!((u.port, u.path_and_query.as_str()), (80, "/?x=1"));
        assert_eq!(u.host_header(), "app.internal");
        let u = HttpUrl::parse("HTTP://[::1]:9/u").unwrap();
        assert_eq!(
            (u.host.as_str(), u.host_header().as_str()),
            ("::1", "[::1]:9")
        );
    }

    #[test]
    fn refuses_what_it_cannot_serve() {
        for bad in [
            "https://app/api/user",
            "ftp://x",
            "app/api/user",
            "http://",
            "http://:80/",
            "http://x:0/",
            "http://x:99999/",
            "http://u:p@x/",
            "http://x/a b",
        ] {
            assert!(HttpUrl::parse(bad).is_err(), "{bad}");
        }
        assert!(HttpUrl::parse("https://x")
            .unwrap_err()
            .to_string()
            .contains("out of scope"));
    }
}

//! TLS for `rediss://`, sans-IO: the rustls client session for a target, and moving bytes
//! through it. The link owns the socket; this file only turns wire bytes into plaintext and
//! plaintext into wire bytes.
//!
//! Trust: the CA file the target names (`RINGCAST_REDIS_CA`), else the first system bundle
//! found. The server name checked is the configured host (a name or an IP address).

use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, RootCertStore};

use crate::config::RedisTarget;

/// Where Debian/Ubuntu, Fedora/RHEL and Alpine/macOS keep the system's CA bundle.
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
];

/// A new client session for `target`; the error says what is wrong with the trust setup.
pub fn session(target: &RedisTarget) -> Result<ClientConnection, String> {
    let roots = match &target.tls_ca {
        Some(path) => roots_from(path)?,
        None => {
            let bundle = SYSTEM_BUNDLES
                .iter()
                .map(Path::new)
                .find(|p| p.exists())
                .ok_or("no system CA bundle found: set RINGCAST_REDIS_CA to the CA's PEM file")?;
            roots_from(bundle)?
        }
    };
    let config = client_config(roots)?;
    let name = ServerName::try_from(target.host.clone()).map_err(|e| {
        format!(
            "'{}' cannot be checked against a certificate: {e}",
            target.host
        )
    })?;
    ClientConnection::new(config, name).map_err(|e| e.to_string())
}

/// A client configuration trusting `roots` (ring, TLS 1.2 and 1.3), shared by the Redis link
/// and the webhook client.
pub fn client_config(roots: RootCertStore) -> Result<Arc<ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The CA certificates of a PEM file (also the webhook client's `webhooks.ca_file`).
pub fn roots_from(path: &Path) -> Result<RootCertStore, String> {
    let file =
        std::fs::File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut roots = RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut std::io::BufReader::new(file)) {
        let cert = cert.map_err(|e| format!("{} is not PEM: {e}", path.display()))?;
        // A bundle may hold certificates rustls cannot use; the others still count.
        let _ = roots.add(cert);
    }
    if roots.is_empty() {
        return Err(format!("{} holds no usable CA certificate", path.display()));
    }
    Ok(roots)
}

/// Takes `wire` bytes from the server and appends the plaintext they carry to `plain`.
pub fn absorb(
    tls: &mut ClientConnection,
    mut wire: &[u8],
    plain: &mut Vec<u8>,
) -> Result<(), String> {
    while !wire.is_empty() {
        tls.read_tls(&mut wire).map_err(|e| e.to_string())?;
        let state = tls.process_new_packets().map_err(|e| e.to_string())?;
        let ready = state.plaintext_bytes_to_read();
        if ready > 0 {
            let start = plain.len();
            plain.resize(start + ready, 0);
            tls.reader()
                .read_exact(&mut plain[start..])
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

/// Encrypts `plain` (buffered until the handshake is done) and returns what to send now.
pub fn seal(tls: &mut ClientConnection, plain: &[u8]) -> Result<Vec<u8>, String> {
    tls.writer().write_all(plain).map_err(|e| e.to_string())?;
    Ok(outgoing(tls))
}

/// The TLS records the session wants sent (handshake messages, alerts, data).
pub fn outgoing(tls: &mut ClientConnection) -> Vec<u8> {
    let mut out = Vec::new();
    while tls.wants_write() {
        if tls.write_tls(&mut out).is_err() {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(ca: Option<&Path>) -> RedisTarget {
        RedisTarget {
            host: "127.0.0.1".into(),
            port: 6380,
            username: None,
            password: None,
            db: 0,
            tls: true,
            tls_ca: ca.map(Path::to_path_buf),
        }
    }

    #[test]
    fn a_named_ca_file_must_exist_and_hold_a_certificate() {
        let missing = session(&target(Some(Path::new("/nonexistent/ca.pem")))).unwrap_err();
        assert!(
            missing.contains("cannot read /nonexistent/ca.pem"),
            "{missing}"
        );
        let empty = std::env::temp_dir().join(format!("ringcast-empty-ca-{}", std::process::id()));
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let err = session(&target(Some(&empty))).unwrap_err();
        let _ = std::fs::remove_file(&empty);
        assert!(err.contains("holds no usable CA certificate"), "{err}");
    }

    #[test]
    fn a_session_starts_with_a_client_hello() {
        let ca = std::env::temp_dir().join(format!("ringcast-ca-{}", std::process::id()));
        let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
        std::fs::write(&ca, made.cert.pem()).unwrap();
        let mut tls = session(&target(Some(&ca))).unwrap();
        let _ = std::fs::remove_file(&ca);
        let hello = seal(&mut tls, b"*1\r\n$4\r\nPING\r\n").unwrap();
        // A TLS handshake record; the command waits inside the session for the handshake.
        assert_eq!(hello[0], 0x16, "handshake record");
        assert!(!hello.windows(4).any(|w| w == b"PING"));
        let mut plain = Vec::new();
        assert!(absorb(&mut tls, b"\x15\x03\x03\x00\x02\x02\x28", &mut plain).is_err());
    }
}

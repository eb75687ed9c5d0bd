//! Pusher REST signing as the server SDKs do it, for tests that call the REST API directly.
//! Written independently of the server's own signer so a bug there cannot hide here.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use super::Server;

/// `path?query` signed as the Pusher SDKs sign: auth_key, auth_timestamp, auth_version,
/// body_md5 (when `body` is non-empty), auth_signature = HMAC-SHA256 over
/// "METHOD\npath\nsorted query". `params` must be URL-safe already.
pub fn signed_path(
    server: &Server,
    method: &str,
    path: &str,
    params: &[(&str, &str)],
    body: &str,
) -> String {
    use hmac::{Hmac, Mac};
    use md5::{Digest, Md5};
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        .to_string();
    let mut q: BTreeMap<String, String> = params
        .iter()
        .map(|(k, v)| (k.to_lowercase(), v.to_string()))
        .collect();
    q.insert("auth_key".into(), server.app_key.clone());
    q.insert("auth_timestamp".into(), now);
    q.insert("auth_version".into(), "1.0".into());
    if !body.is_empty() {
        q.insert("body_md5".into(), hex::encode(Md5::digest(body.as_bytes())));
    }
    let query = q
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let mut mac =
        Hmac::<sha2::Sha256>::new_from_slice(server.app_secret.as_bytes()).expect("any key length");
    mac.update(format!("{method}\n{path}\n{query}").as_bytes());
    let sig = hex::encode(mac.finalize().into_bytes());
    format!("{path}?{query}&auth_signature={sig}")
}

/// A signed JSON request to `path` (which may end in `?k=v&…`, URL-safe already), as the REST
/// tests make them: (status, parsed body or Null).
#[allow(dead_code)]
pub fn signed_call(
    server: &Server,
    method: &str,
    path: &str,
    body: &str,
) -> (u16, serde_json::Value) {
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let params: Vec<(&str, &str)> = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .collect();
    let signed = signed_path(server, method, path, &params, body);
    let headers = [("Content-Type", "application/json")];
    let (status, text) =
        super::http_request(server.port, method, &signed, &headers, body.as_bytes());
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    )
}

/// A signed request to `/apps/{id}/webhooks{rest}` (`rest` may end in `?k=v&…`): (status,
/// parsed body or Null).
#[allow(dead_code)]
pub fn webhooks_call(
    server: &Server,
    method: &str,
    rest: &str,
    body: &str,
) -> (u16, serde_json::Value) {
    let path = format!("/apps/{}/webhooks{rest}", server.app_id);
    signed_call(server, method, &path, body)
}

/// Two workers storing in `data_dir`, with loopback webhook receivers allowed.
#[allow(dead_code)]
pub fn webhooks_server(data_dir: &std::path::Path) -> Server {
    Server::start(&[
        ("RINGCAST_WORKERS", "2"),
        ("RINGCAST_DATA_DIR", data_dir.to_str().expect("utf-8 path")),
        ("RINGCAST_WEBHOOKS_ALLOWED_SUBNETS", "127.0.0.0/8"),
    ])
}

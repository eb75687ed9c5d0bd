//! ringcast's webhook signatures checked by the real verifiers: the Node `pusher` SDK's
//! `webhook().isValid()`, the Python `pusher` SDK's `validate_webhook`, the Python
//! `standardwebhooks` and `svix` libraries and the npm `standardwebhooks` package. Each signed
//! body must be accepted, and a tampered body, a wrong key or secret, or a re-stamped timestamp
//! refused.
//!
//! Bodies and headers come from the library functions the webhook engine uses
//! (`webhook::body`, `webhook::signing`); the verifiers run as child processes
//! (`tests/clients/verify_webhooks.{js,py}`) fed with JSON on stdin. Time is real, because the
//! Python verifiers refuse webhooks more than 5 minutes old.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ringcast::webhook::body::{business_body, pusher_body, BusinessEvent, PusherEvent};
use ringcast::webhook::signing::{
    generate_secret, new_message_id, pusher_headers, standard_headers, SigningKey,
};
use serde_json::{json, Value};

const APP_ID: &str = "424242";
const APP_KEY: &str = "test-key";
const APP_SECRET: &str = "test-secret";
/// The case whose timestamp header was changed after signing.
const RESTAMPED: &str = "standard: timestamp changed";
const INSTALL_HINT: &str = "run scripts/test (it installs the clients)";

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn clients_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/clients")
}

/// One delivery as a receiver sees it, and whether it must verify.
struct Case {
    kind: &'static str,
    secret: Option<String>,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    valid: bool,
    what: &'static str,
}

impl Case {
    fn to_json(&self) -> Value {
        let headers: BTreeMap<_, _> = self.headers.iter().cloned().collect();
        json!({
            "kind": self.kind,
            "secret": self.secret,
            "headers": headers,
            "body": String::from_utf8(self.body.clone()).unwrap(),
        })
    }
}

fn pusher_case(secret: &str, key: &str, tamper: bool, what: &'static str) -> Case {
    let events = [
        PusherEvent::ChannelOccupied {
            channel: "presence-room".into(),
        },
        PusherEvent::MemberAdded {
            channel: "presence-room".into(),
            user_id: "u1".into(),
        },
        PusherEvent::ClientEvent {
            channel: "presence-room".into(),
            event: "client-typing".into(),
            data: "{\"who\":\"u1\"}".into(),
            socket_id: "123.456".into(),
            user_id: Some("u1".into()),
        },
        PusherEvent::SubscriptionCount {
            channel: "news".into(),
            subscription_count: 3,
        },
    ];
    let mut body = pusher_body(now_ms(), &events);
    let mut headers = pusher_headers(key, secret, &body).to_vec();
    headers.push(("Content-Type", "application/json".into()));
    if tamper {
        body = String::from_utf8(body)
            .unwrap()
            .replace("u1", "u2")
            .into_bytes();
    }
    let valid = !tamper && secret == APP_SECRET && key == APP_KEY;
    Case {
        kind: "pusher",
        secret: None,
        headers,
        body,
        valid,
        what,
    }
}

fn standard_case(
    secret: &str,
    id: &str,
    ts_shift: i64,
    tamper: Tamper,
    what: &'static str,
) -> Case {
    let channels = vec!["tenant.acme.orders".to_owned()];
    let at = now_ms();
    let body = business_body(&BusinessEvent {
        id,
        event: "order.paid",
        at_ms: at,
        channels: &channels,
        data: "{\"order\":42,\"total\":\"12.50\"}",
    });
    let key = SigningKey::from_secret(secret).unwrap();
    let mut headers = standard_headers(&key, id, at / 1000 + ts_shift, &body).to_vec();
    headers.push(("Content-Type", "application/json".into()));
    let mut body = body;
    match tamper {
        Tamper::None => {}
        Tamper::Body => {
            body = String::from_utf8(body)
                .unwrap()
                .replace("42", "43")
                .into_bytes()
        }
        Tamper::Timestamp => headers[1].1 = (at / 1000 - 1).to_string(),
    }
    let valid = matches!(tamper, Tamper::None);
    Case {
        kind: "standard",
        secret: Some(secret.into()),
        headers,
        body,
        valid,
        what,
    }
}

#[derive(Clone, Copy)]
enum Tamper {
    None,
    Body,
    Timestamp,
}

fn cases() -> Vec<Case> {
    let fixed = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let generated = generate_secret().unwrap();
    let id = new_message_id(1_700_000_000_000).unwrap();
    vec![
        pusher_case(APP_SECRET, APP_KEY, false, "pusher: signed batch"),
        pusher_case(APP_SECRET, APP_KEY, true, "pusher: tampered body"),
        pusher_case("other-secret", APP_KEY, false, "pusher: wrong secret"),
        pusher_case(APP_SECRET, "other-key", false, "pusher: wrong key"),
        standard_case(fixed, &id, 0, Tamper::None, "standard: signed"),
        standard_case(fixed, &id, 0, Tamper::Body, "standard: tampered body"),
        standard_case(
            fixed,
            &id,
            1,
            Tamper::None,
            "standard: retry, same id, new timestamp",
        ),
        standard_case(
            &generated,
            &id,
            0,
            Tamper::None,
            "standard: generated secret",
        ),
        standard_case(
            fixed,
            &id,
            0,
            Tamper::Timestamp,
            "standard: timestamp changed",
        ),
    ]
}

/// Runs a verifier script with `input` on stdin (bounded to 60 s) and returns its stdout lines.
fn run(program: PathBuf, script: &str, input: &Value) -> Vec<String> {
    let installed = if program.as_os_str() == "node" {
        clients_dir().join("node_modules/pusher")
    } else {
        program.clone()
    };
    assert!(
        installed.exists(),
        "{} is missing: {INSTALL_HINT}",
        installed.display()
    );
    let mut child = Command::new(&program)
        .arg(clients_dir().join(script))
        .current_dir(clients_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {script}: {e} ({INSTALL_HINT})"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{script} did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let (mut out, mut err) = (String::new(), String::new());
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(status.success(), "{script} failed: {err}");
    let lines: Vec<String> = out.lines().map(str::to_owned).collect();
    assert_eq!(
        lines.last().map(String::as_str),
        Some("ok"),
        "{script}: {out}{err}"
    );
    lines
}

fn input(cases: &[&Case]) -> Value {
    json!({
        "app_id": APP_ID, "app_key": APP_KEY, "app_secret": APP_SECRET,
        "cases": cases.iter().map(|c| c.to_json()).collect::<Vec<_>>(),
    })
}

/// Checks that `lines` has `<i> <verifier> valid|invalid` as expected for every case and
/// verifier that `verifiers_of` names; returns how many lines were checked.
fn expect_verdicts(
    cases: &[Case],
    lines: &[String],
    verifiers_of: impl Fn(&Case) -> Vec<&'static str>,
) -> usize {
    let mut checked = 0;
    for (i, case) in cases.iter().enumerate() {
        for v in verifiers_of(case) {
            // The body signature does not cover the timestamp, so re-stamping leaves it valid.
            let want = case.valid || (v == "x-webhook-signature" && case.what == RESTAMPED);
            let line = format!("{i} {v} {}", if want { "valid" } else { "invalid" });
            assert!(
                lines.contains(&line),
                "{}: expected '{line}' in {lines:?}",
                case.what
            );
            checked += 1;
        }
    }
    checked
}

#[test]
fn node_verifiers_accept_signed_webhooks_and_refuse_tampered_ones() {
    let all = cases();
    let refs: Vec<&Case> = all.iter().collect();
    let lines = run(PathBuf::from("node"), "verify_webhooks.js", &input(&refs));
    let checked = expect_verdicts(&all, &lines, |c| match c.kind {
        "pusher" => vec!["pusher"],
        _ => vec!["standardwebhooks"],
    });
    assert_eq!(checked, all.len());
}

#[test]
fn python_verifiers_accept_signed_webhooks_and_refuse_tampered_ones() {
    let all = cases();
    let refs: Vec<&Case> = all.iter().collect();
    let python = clients_dir().join(".venv/bin/python");
    let lines = run(python, "verify_webhooks.py", &input(&refs));
    let checked = expect_verdicts(&all, &lines, |c| match c.kind {
        "pusher" => vec!["pusher"],
        _ => vec!["standardwebhooks", "svix", "x-webhook-signature"],
    });
    assert_eq!(checked, 4 + 5 * 3);
}

//! Unit tests of the RESP helpers: exact command bytes, login plans, reply readings, and the
//! decoder fed the same bytes split at every offset.

use proptest::prelude::*;
use redis_protocol::resp2::types::OwnedFrame;

use super::*;

fn target(username: Option<&str>, password: Option<&str>, db: u32) -> RedisTarget {
    RedisTarget {
        host: "127.0.0.1".into(),
        port: 6379,
        username: username.map(str::to_owned),
        password: password.map(str::to_owned),
        db,
        tls: false,
        tls_ca: None,
    }
}

fn bulk(s: &[u8]) -> OwnedFrame {
    OwnedFrame::BulkString(s.to_vec())
}

#[test]
fn commands_are_arrays_of_bulk_strings() {
    let mut out = b"prev".to_vec();
    encode_command(&mut out, &[b"PUBLISH", b"reverb", b"a\r\nb"]);
    assert_eq!(
        out,
        b"prev*3\r\n$7\r\nPUBLISH\r\n$6\r\nreverb\r\n$4\r\na\r\nb\r\n"
    );
}

#[test]
fn login_plan_follows_the_target() {
    assert!(login_commands(&target(None, None, 0)).is_empty());
    let pw_only = login_commands(&target(None, Some("pw"), 0));
    assert_eq!(
        pw_only,
        [(
            LoginStep::Auth,
            b"*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n".to_vec()
        )]
    );
    let full = login_commands(&target(Some("u"), Some("pw"), 12));
    assert_eq!(full.len(), 2);
    assert_eq!(full[0].0, LoginStep::Auth);
    assert!(full[0].1.ends_with(b"$1\r\nu\r\n$2\r\npw\r\n"));
    assert_eq!(full[1].0, LoginStep::Select);
    assert_eq!(full[1].1, b"*2\r\n$6\r\nSELECT\r\n$2\r\n12\r\n");
    // A user without a password sends nothing: Redis has no AUTH without a password.
    assert!(login_commands(&target(Some("u"), None, 0)).is_empty());
}

#[test]
fn replies_are_read_by_shape() {
    assert_eq!(expect_ok(&OwnedFrame::SimpleString(b"OK".to_vec())), Ok(()));
    let wrong = OwnedFrame::Error("WRONGPASS invalid username-password pair".into());
    let line = expect_ok(&wrong).unwrap_err();
    assert!(is_auth_error(&line));
    assert!(!is_auth_error("ERR DB index is out of range"));
    assert!(expect_ok(&OwnedFrame::Integer(1)).is_err());
    assert_eq!(integer(OwnedFrame::Integer(3)), Ok(3));
    assert!(matches!(
        integer(OwnedFrame::Error("ERR x".into())),
        Err(BrokerError::Command(_))
    ));
    assert!(matches!(integer(bulk(b"3")), Err(BrokerError::Protocol(_))));
}

#[test]
fn arrays_of_members_and_of_values() {
    let members = OwnedFrame::Array(vec![bulk(b"a"), bulk(b"b")]);
    assert_eq!(strings(members).unwrap(), ["a", "b"]);
    assert!(strings(OwnedFrame::Array(vec![bulk(&[0xff])])).is_err());
    assert!(strings(OwnedFrame::Integer(0)).is_err());
    let values = OwnedFrame::Array(vec![bulk(b"x"), OwnedFrame::Null, bulk(b"")]);
    assert_eq!(presence(values).unwrap(), [true, false, true]);
    let refused = OwnedFrame::Error("WRONGTYPE".into());
    assert_eq!(
        presence(refused),
        Err(BrokerError::Command("WRONGTYPE".into()))
    );
}

#[test]
fn pushes_are_classified() {
    let message = OwnedFrame::Array(vec![bulk(b"message"), bulk(b"reverb"), bulk(b"{}")]);
    assert_eq!(
        push(message).unwrap(),
        Push::Message {
            channel: b"reverb".to_vec(),
            payload: b"{}".to_vec()
        }
    );
    let sub = OwnedFrame::Array(vec![
        bulk(b"subscribe"),
        bulk(b"reverb"),
        OwnedFrame::Integer(1),
    ]);
    assert_eq!(
        push(sub).unwrap(),
        Push::Subscribed {
            channel: b"reverb".to_vec()
        }
    );
    let pong = OwnedFrame::Array(vec![bulk(b"pong"), bulk(b"")]);
    assert_eq!(push(pong).unwrap(), Push::Other);
    assert!(push(OwnedFrame::Integer(1)).is_err());
}

#[test]
fn garbage_is_a_protocol_error() {
    let mut d = Decoder::default();
    d.feed(b"!nonsense\r\n");
    assert!(matches!(d.next_frame(), Err(BrokerError::Protocol(_))));
}

proptest! {
    #[test]
    fn commands_decode_back_from_any_split(
        args in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 1..6),
        cut_seed in any::<usize>(),
    ) {
        let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        let mut wire = Vec::new();
        encode_command(&mut wire, &refs);
        encode_command(&mut wire, &[b"PING"]);
        let expected = OwnedFrame::Array(args.iter().map(|a| bulk(a)).collect());
        // Every split point of the first command, and one random point overall.
        let first_len = wire.len() - b"*1\r\n$4\r\nPING\r\n".len();
        for cut in (0..=first_len).chain([cut_seed % (wire.len() + 1)]) {
            let mut d = Decoder::default();
            let mut frames = Vec::new();
            for part in [&wire[..cut], &wire[cut..]] {
                d.feed(part);
                while let Some(f) = d.next_frame().unwrap() {
                    frames.push(f);
                }
            }
            prop_assert_eq!(frames.len(), 2);
            prop_assert_eq!(&frames[0], &expected);
        }
    }
}

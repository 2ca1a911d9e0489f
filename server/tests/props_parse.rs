//! Property tests of the server's own parsing and encoding, without sockets: request paths
//! (routes and topics), cursors and other integer parameters, names, and a message's framings
//! (its JSON object and NDJSON line must decode back to what was published, whatever it holds).
//! `PROPTEST_CASES=N` runs more cases (docs/FUZZING.md).

use proptest::prelude::*;
use server::hub::valid_name;
use server::message::Message;
use server::request::parse_u64;
use server::routes::{Push, Route};

proptest! {
    /// Any path: a route or not-found, never a panic; the topic is the rest of the path.
    #[test]
    fn any_path_parses_to_a_route(path in "(/|poll|sse|ws|publish|stats|[a-z]{0,3}|%2F|é|\\.\\.){0,8}") {
        match Route::parse(&path, false) {
            Route::Publish(t) => prop_assert_eq!(format!("/publish/{t}"), path),
            Route::Subscribe(push, t) => {
                let prefix = match push {
                    Push::Poll => "poll",
                    Push::LongPoll => "long-poll",
                    Push::Stream => "stream",
                    Push::Sse => "sse",
                    Push::Ws => "ws",
                };
                prop_assert_eq!(format!("/{prefix}/{t}"), path);
            }
            Route::DebugPanic => prop_assert!(false, "no /debug/panic unless asked for"),
            _ => {}
        }
    }

    /// A cursor is accepted exactly when it is ASCII digits that fit in a u64.
    #[test]
    fn cursors_are_digits_that_fit(v in prop_oneof![any::<String>(), "[0-9]{0,22}", "[+ 0-9-]{0,4}"]) {
        let fits = !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) && v.parse::<u64>().is_ok();
        match parse_u64("cursor since", &v) {
            Ok(n) => prop_assert!(fits && n.to_string().trim_start_matches('0') == v.trim_start_matches('0')),
            Err(e) => prop_assert!(!fits && e.0.contains("cursor since"), "{v:?}: {}", e.0),
        }
    }

    /// Names: exactly 1 to 64 characters of `[A-Za-z0-9_.-]`.
    #[test]
    fn names_follow_their_rule(v in prop_oneof![any::<String>(), "[A-Za-z0-9_.-]{0,70}"]) {
        let ok = (1..=64).contains(&v.len())
            && v.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
        prop_assert_eq!(valid_name(&v), ok);
    }

    /// Any payload and event name: the JSON object (poll, long poll, WebSocket) and the NDJSON
    /// line (stream) decode back to exactly the id, event and data published.
    #[test]
    fn message_framings_decode_back(
        seq in any::<u64>(),
        event in proptest::option::of("[A-Za-z0-9_.-]{1,64}"),
        data in prop_oneof![any::<String>(), "[\"\\\\\n\r\0\u{2028}\u{7f}]{0,20}"],
    ) {
        let m = Message::new(seq, event.as_deref(), &data).expect("encodes");
        let v: serde_json::Value = serde_json::from_slice(m.json()).expect("JSON");
        prop_assert_eq!(v["id"].as_u64(), Some(seq));
        prop_assert_eq!(v.get("event").and_then(|e| e.as_str()), event.as_deref());
        prop_assert_eq!(v["data"].as_str(), Some(data.as_str()));
        let line = m.ndjson();
        prop_assert_eq!(line.last(), Some(&b'\n'));
        prop_assert!(!line[..line.len() - 1].contains(&b'\n'), "one line");
        let ws = m.ws_text();
        prop_assert_eq!(ws.as_str().as_bytes(), m.json());
    }
}

//! The built-ins and the profile file's checks.

use super::*;

const GOOD: &str = r#"
name = "framework"
[publish]
path = "/publish/{topic}"
body = "{payload}"
[subscribe.sse]
path = "/sse/{topic}"
framing = "sse"
cursor = "last-event-id"
headers = { Accept = "text/event-stream" }
[subscribe.stream]
path = "/stream/{topic}?since={cursor}"
framing = "json-envelope(data)"
cursor = "since-param"
"#;

fn err(text: &str) -> String {
    parse_toml(text, "f.toml").unwrap_err()
}

#[test]
fn a_good_file() {
    let p = parse_toml(GOOD, "f.toml").unwrap();
    assert_eq!(p.name, "framework");
    assert_eq!(p.publish.method, "POST");
    assert!(p.subscribe(Technique::Poll).is_none());
    let s = p.subscribe(Technique::Stream).unwrap();
    assert_eq!(s.framing, Framing::JsonEnvelope("data".into()));
    assert_eq!(s.cursor, Cursor::SinceParam);
    assert_eq!(s.path_for("t0", "7", 5), "/stream/t0?since=7");
    let sse = p.subscribe(Technique::Sse).unwrap();
    assert_eq!(sse.headers, [("Accept".into(), "text/event-stream".into())]);
}

#[test]
fn the_committed_example_file_parses() {
    let text = include_str!("../../../scripts/peers/framework-profile.toml");
    let p = parse_toml(text, "framework-profile.toml").unwrap();
    assert_eq!(p.subscribe.len(), 3);
}

#[test]
fn errors_are_one_line_naming_the_key() {
    let unknown = err(&GOOD.replace(
        "cursor = \"since-param\"",
        "cursor = \"since-param\"\nfoo = 1",
    ));
    assert!(unknown.contains("unknown field `foo`"), "{unknown}");
    assert!(unknown.starts_with("line "), "{unknown}");
    let missing = err(&GOOD.replace("framing = \"sse\"\n", ""));
    assert!(missing.contains("missing field `framing`"), "{missing}");
    let body = err(&GOOD.replace("body = \"{payload}\"", "body = \"x\""));
    assert!(
        body.contains("publish.body") && body.contains("{payload}"),
        "{body}"
    );
    let framing = err(&GOOD.replace("json-envelope(data)", "xml"));
    assert!(
        framing.contains("subscribe.stream.framing") && framing.contains("xml"),
        "{framing}"
    );
    let cursor = err(&GOOD.replace("last-event-id", "cookie"));
    assert!(
        cursor.contains("subscribe.sse.cursor") && cursor.contains("cookie"),
        "{cursor}"
    );
    let technique = err(&GOOD.replace("[subscribe.sse]", "[subscribe.grpc]"));
    assert!(technique.contains("subscribe.grpc"), "{technique}");
    let misfit = err(&GOOD.replace("framing = \"sse\"", "framing = \"ws-text\""));
    assert!(misfit.contains("cannot carry sse"), "{misfit}");
    let no_cursor = err(&GOOD.replace("?since={cursor}", ""));
    assert!(no_cursor.contains("{cursor}"), "{no_cursor}");
    let no_topic = err(&GOOD.replace("/publish/{topic}", "/publish"));
    assert!(no_topic.contains("publish.path"), "{no_topic}");
    for e in [
        unknown, missing, body, framing, cursor, technique, misfit, no_cursor, no_topic,
    ] {
        assert!(!e.contains('\n'), "{e}");
    }
}

#[test]
fn built_ins() {
    let pb = Profile::built_in("pushbench").unwrap();
    assert!(pb.is_pushbench() && Profile::default().is_pushbench());
    assert_eq!(pb.subscribe.len(), 5);
    for s in &pb.subscribe {
        assert!(s.framing.fits(s.technique), "{s:?}");
    }
    let n = Profile::built_in("nchan").unwrap();
    assert!(!n.is_pushbench());
    let lp = n.subscribe(Technique::LongPoll).unwrap();
    assert_eq!(
        (lp.framing.clone(), lp.cursor),
        (Framing::Raw, Cursor::Etag)
    );
    assert_eq!(lp.path_for("t", "0", 5000), "/long-poll/t");
    let p = Profile::built_in("pushpin").unwrap();
    assert_eq!(p.subscribe, pb.subscribe);
    assert!(Profile::built_in("nope").is_none());
    assert!(matches!(
        Profile::load("nope"),
        Err(ProfileError::Unknown(_))
    ));
}

#[test]
fn publish_templates() {
    let mut p = Profile::default().publish;
    assert_eq!(p.body_for("t", "pb1 x"), "pb1 x");
    p.body = r#"{"channel":"{topic}","data":"{payload}"}"#.into();
    p.content_type = "application/json".into();
    assert_eq!(p.body_for("t", "a\"b"), r#"{"channel":"t","data":"a\"b"}"#);
}

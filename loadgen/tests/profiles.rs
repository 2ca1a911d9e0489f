//! `pushbench run --target URL --profile ...`: each built-in profile against a server speaking
//! its wire (an in-test nchan-like server; pushbench's own server for `pushpin`, whose GRIP
//! origin frames every technique as docs/PROTOCOL.md does), a custom profile file, its errors
//! (exit 2, nothing started), and a target answering in another framing (exit 3, no hang).

mod peer_common;
mod run_common;

use std::time::Duration;

use run_common::*;

/// A short run's flags, into `out`.
fn short_run<'a>(out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "run",
        "--out",
        out,
        "--clients",
        "4",
        "--rate",
        "10",
        "--warmup",
        "500ms",
        "--duration",
        "2s",
        "--drain",
        "1s",
        "--poll-interval",
        "200ms",
        "--long-poll-timeout",
        "5s",
        "--pause",
        "100ms",
        "--no-report",
        "--json",
    ];
    args.extend_from_slice(extra);
    args
}

/// Every technique of the run delivered everything it should, nothing lost, no error.
fn assert_all_delivered(doc: &serde_json::Value, names: &[&str]) {
    for name in names {
        let t = technique(doc, name);
        let expected = u(t, "expected");
        assert!(expected > 0, "{name}: nothing expected: {t}");
        assert_eq!(u(t, "delivered"), expected, "{name}: {t}");
        assert_eq!(u(t, "lost"), 0, "{name}: {t}");
        assert_eq!(u(t, "duplicates"), 0, "{name}: {t}");
        assert_eq!(t["failure"], serde_json::Value::Null, "{name}: {t}");
        let errors: u64 = t["errors"]
            .as_object()
            .unwrap()
            .values()
            .filter_map(|v| v.as_u64())
            .sum();
        assert_eq!(errors, 0, "{name}: {t}");
    }
}

/// nchan's framing and cursors on every technique: raw payloads (SSE data, chunks, long-poll
/// and poll bodies, WebSocket text), ids like `1764850000:0` and etag cursors, none of them
/// integers: loss and order are counted from the payloads' pb1 header.
#[test]
fn nchan_profile_against_an_nchan_like_server() {
    let addr = peer_common::start_nchan_like();
    let dir = TempDir::new("prof-nchan");
    let out = dir.join("run");
    let url = format!("http://{addr}");
    let mut args = short_run(
        out.to_str().unwrap(),
        &["--target", &url, "--profile", "nchan"],
    );
    // nchan's polls answer one message each (as real nchan's intervalpoll does): at 20 msg/s
    // a 200 ms poll finds ~4 new messages, so it must ask again at once until a 304.
    let rate = args.iter().position(|a| *a == "--rate").unwrap() + 1;
    args[rate] = "20";
    let doc = run_json(&args, Duration::from_secs(120));
    assert_eq!(doc["manifest"]["params"]["profile"], "nchan");
    assert_all_delivered(&doc, &["poll", "long-poll", "stream", "sse", "ws"]);
}

/// With worker processes, each worker gets the profile in its plan.
#[test]
fn the_profile_reaches_worker_processes() {
    let addr = peer_common::start_nchan_like();
    let dir = TempDir::new("prof-workers");
    let out = dir.join("run");
    let url = format!("http://{addr}");
    let args = short_run(
        out.to_str().unwrap(),
        &[
            "--target",
            &url,
            "--profile",
            "nchan",
            "--techniques",
            "stream,ws",
            "--processes",
            "2",
        ],
    );
    let doc = run_json(&args, Duration::from_secs(120));
    assert_all_delivered(&doc, &["stream", "ws"]);
}

/// The pushpin profile: pushbench's wire (what the GRIP origin serves through Pushpin).
#[test]
fn pushpin_profile_speaks_the_protocol() {
    let server = ServeChild::start(&[]);
    let url = server.url();
    let dir = TempDir::new("prof-pushpin");
    let out = dir.join("run");
    let args = short_run(
        out.to_str().unwrap(),
        &[
            "--target",
            &url,
            "--profile",
            "pushpin",
            "--techniques",
            "long-poll,stream,sse,ws",
        ],
    );
    let doc = run_json(&args, Duration::from_secs(120));
    drop(server);
    assert_eq!(doc["manifest"]["params"]["profile"], "pushpin");
    assert_all_delivered(&doc, &["long-poll", "stream", "sse", "ws"]);
}

/// A custom profile offering two techniques: the others are skipped, not failed.
#[test]
fn a_custom_profile_skips_what_it_does_not_offer() {
    let addr = peer_common::start_nchan_like();
    let dir = TempDir::new("prof-custom");
    let file = dir.join("mine.toml");
    std::fs::write(
        &file,
        "name = \"mine\"\n[publish]\npath = \"/publish/{topic}\"\nbody = \"{payload}\"\n\
         [subscribe.sse]\npath = \"/sse/{topic}\"\nframing = \"sse\"\ncursor = \"last-event-id\"\n\
         [subscribe.ws]\npath = \"/ws/{topic}\"\nframing = \"ws-text\"\n",
    )
    .unwrap();
    let out = dir.join("run");
    let url = format!("http://{addr}");
    let args = short_run(
        out.to_str().unwrap(),
        &["--target", &url, "--profile", file.to_str().unwrap()],
    );
    let doc = run_json(&args, Duration::from_secs(120));
    assert_all_delivered(&doc, &["sse", "ws"]);
    for name in ["poll", "long-poll", "stream"] {
        let t = technique(&doc, name);
        assert_eq!(t["skipped"], "not offered by this target", "{t}");
        assert_eq!(t["failure"], serde_json::Value::Null, "{t}");
        assert_eq!(t["delivered"], serde_json::Value::Null, "{t}");
    }
    // The run directory still makes a report (skipped techniques are left out of it).
    let report = run(&["report", out.to_str().unwrap()], Duration::from_secs(60));
    assert!(
        report.status.success(),
        "{}",
        String::from_utf8_lossy(&report.stderr)
    );
}

/// A JSON envelope per NDJSON line with string ids (`m-N`) and a since-param cursor: delivery
/// and loss still come from the payloads' pb1 header.
#[test]
fn a_custom_json_envelope_profile_with_string_ids() {
    let addr = peer_common::start_nchan_like();
    let dir = TempDir::new("prof-envelope");
    let file = dir.join("env.toml");
    std::fs::write(
        &file,
        "[publish]\npath = \"/publish/{topic}\"\n[subscribe.stream]\n\
         path = \"/env-stream/{topic}?since={cursor}\"\nframing = \"json-envelope(data)\"\n\
         cursor = \"since-param\"\n",
    )
    .unwrap();
    let out = dir.join("run");
    let url = format!("http://{addr}");
    let args = short_run(
        out.to_str().unwrap(),
        &[
            "--target",
            &url,
            "--profile",
            file.to_str().unwrap(),
            "--techniques",
            "stream",
        ],
    );
    let doc = run_json(&args, Duration::from_secs(120));
    assert_all_delivered(&doc, &["stream"]);

    // Streams ended every 3 messages: each client resumes after the last string id it saw.
    std::fs::write(
        &file,
        std::fs::read_to_string(&file)
            .unwrap()
            .replace("/env-stream/", "/env-stream-short/"),
    )
    .unwrap();
    let out = dir.join("run2");
    let args = short_run(
        out.to_str().unwrap(),
        &[
            "--target",
            &url,
            "--profile",
            file.to_str().unwrap(),
            "--techniques",
            "stream",
        ],
    );
    let doc = run_json(&args, Duration::from_secs(120));
    let t = technique(&doc, "stream");
    assert_eq!(u(t, "delivered"), u(t, "expected"), "{t}");
    assert_eq!((u(t, "lost"), u(t, "duplicates")), (0, 0), "{t}");
    assert!(u(t, "reconnects") > 0, "{t}");
}

/// The table says which techniques were skipped and why.
#[test]
fn the_table_names_skipped_techniques() {
    let addr = peer_common::start_nchan_like();
    let dir = TempDir::new("prof-table");
    let file = dir.join("ws-only.toml");
    std::fs::write(
        &file,
        "[publish]\npath = \"/publish/{topic}\"\n[subscribe.ws]\npath = \"/ws/{topic}\"\nframing = \"ws-text\"\n",
    )
    .unwrap();
    let out = dir.join("run");
    let url = format!("http://{addr}");
    let mut args = short_run(
        out.to_str().unwrap(),
        &[
            "--target",
            &url,
            "--profile",
            file.to_str().unwrap(),
            "--techniques",
            "sse,ws",
        ],
    );
    args.retain(|a| *a != "--json");
    let o = run(&args, Duration::from_secs(120));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("sse") && l.contains("skipped: not offered by this target")),
        "{stdout}"
    );
}

/// `--profile nchan` against pushbench's own server: its JSON is not nchan's raw payload. The
/// run says so (the first offending bytes, once per technique), ends and exits 3.
#[test]
fn a_target_in_another_framing_is_a_protocol_error() {
    let server = ServeChild::start(&[]);
    let url = server.url();
    let dir = TempDir::new("prof-mismatch");
    let out = dir.join("run");
    let args = short_run(
        out.to_str().unwrap(),
        &[
            "--target",
            &url,
            "--profile",
            "nchan",
            "--techniques",
            "long-poll,ws",
        ],
    );
    let o = run(&args, Duration::from_secs(120));
    drop(server);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{stderr}");
    for name in ["long-poll", "ws"] {
        let shown = stderr
            .lines()
            .filter(|l| l.starts_with(&format!("pushbench: {name}: protocol error")))
            .count();
        assert_eq!(shown, 1, "{name}: shown once: {stderr}");
    }
    assert!(stderr.contains("first bytes: \"{"), "{stderr}");
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for name in ["long-poll", "ws"] {
        let t = technique(&doc, name);
        assert_eq!(u(t, "delivered"), 0, "{t}");
        assert!(u(&t["errors"], "protocol") > 0, "{t}");
        assert!(t["failure"].as_str().is_some(), "{t}");
    }
}

/// Bad profiles: one line naming the key or the file, exit 2, nothing started.
#[test]
fn bad_profiles_are_usage_errors() {
    let dir = TempDir::new("prof-bad");
    let bad = [
        (
            "unknown.toml",
            "[publish]\npath = \"/p/{topic}\"\ncolour = 1\n[subscribe.ws]\npath = \"/ws/{topic}\"\nframing = \"ws-text\"\n",
            "unknown field `colour`",
        ),
        (
            "noframing.toml",
            "[publish]\npath = \"/p/{topic}\"\n[subscribe.ws]\npath = \"/ws/{topic}\"\n",
            "missing field `framing`",
        ),
        (
            "nopayload.toml",
            "[publish]\npath = \"/p/{topic}\"\nbody = \"x\"\n[subscribe.ws]\npath = \"/ws/{topic}\"\nframing = \"ws-text\"\n",
            "publish.body",
        ),
        (
            "framing.toml",
            "[publish]\npath = \"/p/{topic}\"\n[subscribe.ws]\npath = \"/ws/{topic}\"\nframing = \"protobuf\"\n",
            "subscribe.ws.framing",
        ),
        (
            "cursor.toml",
            "[publish]\npath = \"/p/{topic}\"\n[subscribe.ws]\npath = \"/ws/{topic}\"\nframing = \"ws-text\"\ncursor = \"cookie\"\n",
            "subscribe.ws.cursor",
        ),
    ];
    let out = dir.join("run");
    for (name, text, want) in bad {
        let file = dir.join(name);
        std::fs::write(&file, text).unwrap();
        let o = run(
            &[
                "run",
                "--target",
                "http://127.0.0.1:9",
                "--profile",
                file.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ],
            Duration::from_secs(30),
        );
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{name}: {stderr}");
        assert_eq!(
            stderr.trim().lines().count(),
            1,
            "{name}: one line: {stderr}"
        );
        assert!(
            stderr.contains(want) && stderr.contains(name),
            "{name}: {stderr}"
        );
        assert!(!out.exists(), "{name}: a run directory was made");
    }
    for args in [
        vec!["run", "--profile", "nchan"],
        vec![
            "run",
            "--target",
            "http://127.0.0.1:9",
            "--profile",
            "no-such-profile",
        ],
    ] {
        let o = run(&args, Duration::from_secs(30));
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("--profile"), "{args:?}: {stderr}");
    }
}

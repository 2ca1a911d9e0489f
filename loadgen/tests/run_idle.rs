//! Idle connections between rare messages: the child server's heartbeat must keep every
//! streaming client inside its read timeout, so a low publish rate costs no timeouts.

mod run_common;

use std::time::Duration;

use run_common::{TempDir, run_json, technique, u};

#[test]
fn rare_messages_cost_no_read_timeouts() {
    let dir = TempDir::new("idle");
    let out = dir.join("run");
    // One message every 2 s against a 1.2 s read timeout: only heartbeats (the child server
    // sends one every 400 ms, a third of the timeout) keep the connections alive between
    // messages. The idle time is the scenario; the margin (a heartbeat may be 800 ms late
    // before a client gives up) is what a loaded machine needs.
    let doc = run_json(
        &[
            "run",
            "--out",
            out.to_str().unwrap(),
            "--techniques",
            "stream,sse,ws",
            "--clients",
            "2",
            "--rate",
            "0.5",
            "--read-timeout",
            "1200ms",
            "--long-poll-timeout",
            "500ms",
            "--warmup",
            "500ms",
            "--duration",
            "4s",
            "--drain",
            "1s",
            "--pause",
            "100ms",
            "--no-report",
            "--json",
        ],
        Duration::from_secs(60),
    );
    for name in ["stream", "sse", "ws"] {
        let t = technique(&doc, name);
        assert!(u(t, "expected") >= 2, "{name}: {t}");
        assert_eq!(u(t, "delivered"), u(t, "expected"), "{name}: {t}");
        assert_eq!(t["errors"], serde_json::json!({}), "{name}: {t}");
        assert_eq!(u(t, "reconnects"), 0, "{name}: {t}");
    }
}

//! End to end: `pushbench run` against its own child server, every technique, small numbers.
//! Everything published in the window arrives, the client and server byte counts agree over
//! each whole technique phase, and the request counts match each technique's nature.

mod run_common;

use std::time::Duration;

use run_common::{TempDir, run_json, technique, u};

const CLIENTS: u64 = 5;

#[test]
fn every_technique_delivers_everything_and_bytes_agree() {
    let dir = TempDir::new("e2e");
    let out = dir.join("run");
    let doc = run_json(
        &[
            "run",
            "--out",
            out.to_str().unwrap(),
            "--clients",
            "5",
            "--rate",
            "10",
            "--warmup",
            "500ms",
            "--duration",
            "2s",
            "--drain",
            "1s",
            "--poll-interval",
            "500ms",
            "--long-poll-timeout",
            "5s",
            "--pause",
            "100ms",
            "--no-report",
            "--json",
        ],
        Duration::from_secs(90),
    );
    assert_eq!(doc["manifest"]["partial"], false);
    assert_eq!(doc["manifest"]["fresh_server_per_technique"], true);
    for name in ["poll", "long-poll", "stream", "sse", "ws"] {
        let t = technique(&doc, name);
        let expected = u(t, "expected");
        // 2 s at 10 msg/s, 5 subscribers: about 100 deliveries expected.
        assert!(
            (80..=110).contains(&expected),
            "{name}: expected {expected}"
        );
        assert_eq!(u(t, "delivered"), expected, "{name}: {t}");
        assert_eq!(u(t, "lost"), 0, "{name}");
        assert_eq!(u(t, "duplicates"), 0, "{name}");
        assert_eq!(u(t, "published") * CLIENTS, expected, "{name}");
        assert_eq!(t["latency_us"]["count"].as_u64(), Some(expected), "{name}");
        // Over the whole phase (first connect to last close) both ends saw the same bytes.
        assert_eq!(
            u(t, "phase_bytes_up"),
            u(t, "server_phase_bytes_up"),
            "{name}: bytes up, client vs server"
        );
        assert_eq!(
            u(t, "phase_bytes_down"),
            u(t, "server_phase_bytes_down"),
            "{name}: bytes down, client vs server"
        );
        assert!(
            u(t, "phase_bytes_down") > expected * 256,
            "{name}: payloads were counted"
        );
        assert!(u(t, "server_bytes_down") > 0, "{name}");
    }

    // Short poll: one request per client per interval: 5 x 2 s / 0.5 s = 20 in the window.
    let poll = technique(&doc, "poll");
    let r = u(poll, "requests") as f64;
    assert!(
        (14.0..=26.0).contains(&r),
        "poll requests {r}, expected about 20"
    );

    // Long poll: one request per answered batch; messages 100 ms apart arrive one per batch,
    // so non-empty answers are close to the deliveries (a busy machine may batch a few).
    let lp = technique(&doc, "long-poll");
    let answered = u(lp, "requests").saturating_sub(u(lp, "empty_responses")) as f64;
    let delivered = u(lp, "delivered") as f64;
    assert!(
        (delivered * 0.6..=delivered + CLIENTS as f64 * 2.0).contains(&answered),
        "long-poll answered requests {answered} vs delivered {delivered}"
    );

    // Streaming techniques: one request per client, no reconnects.
    for name in ["stream", "sse", "ws"] {
        let t = technique(&doc, name);
        assert_eq!(u(t, "reconnects"), 0, "{name}");
        assert_eq!(u(t, "phase_requests"), CLIENTS, "{name}");
    }

    // The run directory holds every file of docs/RUN_FORMAT.md.
    for f in [
        "manifest.json",
        "summary.json",
        "summary.csv",
        "timeseries.csv",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    for name in ["poll", "long-poll", "stream", "sse", "ws"] {
        let p = out.join("histograms").join(format!("{name}.hlog"));
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.contains(&format!("Tag={name},")), "{}", p.display());
    }
    let csv = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    assert_eq!(csv.lines().count(), 6);
    let ts = std::fs::read_to_string(out.join("timeseries.csv")).unwrap();
    assert!(ts.lines().any(|l| l.contains(",sse,steady,")), "{ts}");
}

/// `--target`: the same measurements against a server that was already running, with its
/// CPU, memory and byte counters read from its `/stats`.
#[test]
fn target_mode_measures_a_running_server_through_its_stats() {
    let server = run_common::ServeChild::start(&[]);
    let url = server.url();

    let dir = TempDir::new("target");
    let out = dir.join("run");
    let doc = run_json(
        &[
            "run",
            "--target",
            &url,
            "--techniques",
            "long-poll,sse",
            "--out",
            out.to_str().unwrap(),
            "--clients",
            "3",
            "--warmup",
            "300ms",
            "--duration",
            "1s",
            "--drain",
            "1s",
            "--pause",
            "50ms",
            "--no-report",
            "--json",
        ],
        Duration::from_secs(40),
    );
    assert_eq!(doc["manifest"]["target"], url.as_str());
    for name in ["long-poll", "sse"] {
        let t = technique(&doc, name);
        assert!(u(t, "expected") > 0);
        assert_eq!(u(t, "delivered"), u(t, "expected"), "{name}: {t}");
        assert_eq!(
            u(t, "phase_bytes_up"),
            u(t, "server_phase_bytes_up"),
            "{name}"
        );
        assert_eq!(
            u(t, "phase_bytes_down"),
            u(t, "server_phase_bytes_down"),
            "{name}"
        );
        assert!(
            t["server_cpu_s"].is_number(),
            "{name}: CPU from /stats: {t}"
        );
        assert!(u(t, "server_rss_bytes") > 0, "{name}");
    }
}

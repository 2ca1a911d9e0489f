//! `pushbench run --fault idle-cut=IDLE` and `--fault stall-reader=N:DUR` end to end. An
//! emulated intermediary closes a connection that carried no byte for IDLE: the child
//! server's heartbeat (a third of `--read-timeout`, `sut::child::heartbeat_for`) keeps the
//! push connections alive when it comes more often than IDLE, and they are cut (and resume,
//! losing nothing) when it does not. A stalled reader stops reading its socket for DUR: its
//! messages wait, the other clients' do not.

mod fault_common;
mod run_common;

use fault_common::*;
use run_common::u;

const PUSH: [&str; 3] = ["sse", "stream", "ws"];

/// Heartbeat every 3 s (`--read-timeout 9s`), idle limit 1.5 s and a message per topic every
/// 5 s: the push connections go quiet for longer than the limit and are cut, repeatedly.
/// Measured: 80 idle cuts for stream and ws, ~50 for SSE (it waits its `retry:` after each).
#[test]
fn quiet_push_connections_are_cut_when_the_heartbeat_is_slower_than_the_limit() {
    let (doc, stderr) = run_fault(
        "fault-idle-cut",
        &[
            "--techniques",
            "sse,stream,ws",
            "--duration",
            "8s",
            "--read-timeout",
            "9s",
            "--rate",
            "0.2",
            "--fault",
            "idle-cut=1500ms",
        ],
    );
    for name in PUSH {
        let (t, f) = entries(&doc, name);
        lost_nothing(name, t);
        assert_eq!(f["spec"], "idle-cut=1s500ms", "{f}");
        assert!(u(f, "idle_cuts") > 0, "{name}: {f}\n{stderr}");
        assert_eq!(u(f, "cuts"), 0, "{name}: no drop: {f}");
        assert!(u(t, "reconnects") > 0, "{name}: {t}");
        assert_eq!(u(t, "duplicates"), 0, "{name}: {t}");
    }
}

/// Heartbeat every second (`--read-timeout 3s`), idle limit 2 s: no push connection is ever
/// quiet for that long, none is cut, none reconnects.
#[test]
fn heartbeats_keep_push_connections_past_the_idle_limit() {
    let (doc, stderr) = run_fault(
        "fault-idle-kept",
        &[
            "--techniques",
            "sse,stream,ws",
            "--duration",
            "6s",
            "--read-timeout",
            "3s",
            "--rate",
            "0.2",
            "--fault",
            "idle-cut=2s",
        ],
    );
    for name in PUSH {
        let (t, f) = entries(&doc, name);
        lost_nothing(name, t);
        assert_eq!(u(f, "idle_cuts"), 0, "{name}: {f}\n{stderr}");
        assert_eq!(u(t, "reconnects"), 0, "{name}: {t}");
    }
}

/// Two of 20 clients stop reading for 2 s (from 1 s into the window): their messages wait in
/// the socket buffers and arrive late (p99 ~2 s), none is lost; the others are unaffected
/// (measured p99 ~2-3 ms).
#[test]
fn stalled_readers_wait_and_the_others_do_not() {
    let (doc, stderr) = run_fault(
        "fault-stall",
        &[
            "--techniques",
            "sse,ws",
            "--duration",
            "5s",
            "--fault",
            "stall-reader=2:2s",
        ],
    );
    for name in ["sse", "ws"] {
        let (t, f) = entries(&doc, name);
        lost_nothing(name, t);
        assert_eq!(u(f, "stalled_clients"), 2, "{name}: {f}\n{stderr}");
        assert_eq!(f["stall_s"], 2.0, "{name}: {f}");
        assert_eq!(u(f, "others_lost"), 0, "{name}: {f}");
        assert_eq!(u(f, "stalled_lost"), 0, "{name}: {f}");
        let stalled = u(f, "stalled_latency_p99_us");
        let others = u(f, "others_latency_p99_us");
        assert!(
            stalled >= 1_000_000,
            "{name}: stalled p99 {stalled} µs: {f}"
        );
        assert!(others < 500_000, "{name}: others' p99 {others} µs: {f}");
        // A stall is not a cut: the connection stays open.
        assert_eq!(u(f, "cuts") + u(f, "idle_cuts"), 0, "{name}: {f}");
        assert_eq!(u(t, "reconnects"), 0, "{name}: {t}");
    }
}

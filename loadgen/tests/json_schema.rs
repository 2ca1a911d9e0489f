//! The `--json` contract: `{"manifest": {...}, "techniques": [...]}` with every documented key
//! present and of the documented type, technique names exact, and nothing else on stdout.

mod run_common;

use std::time::Duration;

use run_common::{TempDir, run_json};
use serde_json::Value;

#[derive(Clone, Copy, Debug)]
enum Ty {
    U64,
    Num,
    Str,
    Bool,
    Obj,
    Arr,
    /// A number or null (unknown).
    NumOrNull,
    StrOrNull,
}

fn check(v: &Value, key: &str, ty: Ty) {
    let x = v
        .get(key)
        .unwrap_or_else(|| panic!("key `{key}` missing in {v}"));
    let ok = match ty {
        Ty::U64 => x.is_u64(),
        Ty::Num => x.is_number(),
        Ty::Str => x.is_string(),
        Ty::Bool => x.is_boolean(),
        Ty::Obj => x.is_object(),
        Ty::Arr => x.is_array(),
        Ty::NumOrNull => x.is_number() || x.is_null(),
        Ty::StrOrNull => x.is_string() || x.is_null(),
    };
    assert!(ok, "`{key}` should be {ty:?}, is {x}");
}

#[test]
fn json_output_follows_the_contract() {
    let dir = TempDir::new("schema");
    let out = dir.join("run");
    let doc = run_json(
        &[
            "run",
            "--out",
            out.to_str().unwrap(),
            "--clients",
            "2",
            "--warmup",
            "200ms",
            "--duration",
            "1s",
            "--drain",
            "1s",
            "--poll-interval",
            "250ms",
            "--pause",
            "50ms",
            "--one-server",
            "--no-report",
            "--json",
        ],
        Duration::from_secs(60),
    );
    let obj = doc.as_object().unwrap();
    assert_eq!(obj.len(), 2, "only manifest and techniques at the top");

    let m = &doc["manifest"];
    for (k, t) in [
        ("format", Ty::Str),
        ("format_version", Ty::U64),
        ("partial", Ty::Bool),
        ("failure", Ty::StrOrNull),
        ("started_at", Ty::Str),
        ("ended_at", Ty::Str),
        ("command_line", Ty::Arr),
        ("target", Ty::Str),
        ("server_processes", Ty::U64),
        ("loadgen_processes", Ty::U64),
        ("clock", Ty::Str),
        ("params", Ty::Obj),
        ("machine", Ty::Obj),
        ("versions", Ty::Obj),
        ("build_profile", Ty::Str),
        ("git_revision", Ty::StrOrNull),
    ] {
        check(m, k, t);
    }
    assert_eq!(m["format"], "pushbench-run");
    assert_eq!(m["target"], "embedded");
    assert_eq!(m["fresh_server_per_technique"], false, "--one-server");
    for (k, t) in [
        ("clients", Ty::U64),
        ("topics", Ty::U64),
        ("rate", Ty::Num),
        ("payload_bytes", Ty::U64),
        ("poll_interval_ms", Ty::U64),
        ("long_poll_timeout_ms", Ty::U64),
        ("ramp_up_per_s", Ty::Num),
        ("warmup_ms", Ty::U64),
        ("duration_ms", Ty::U64),
        ("drain_ms", Ty::U64),
        ("connect_timeout_ms", Ty::U64),
        ("read_timeout_ms", Ty::U64),
        ("source_addrs", Ty::Arr),
        ("seed", Ty::U64),
        ("techniques", Ty::Arr),
        ("link", Ty::Str),
        ("publisher_link", Ty::Str),
    ] {
        check(&m["params"], k, t);
    }
    assert_eq!(m["params"]["link"], "none", "no --link: direct");
    assert_eq!(m["params"]["publisher_link"], "none");
    assert_eq!(m["params"]["duration_ms"], 1000);
    for (k, t) in [
        ("cores", Ty::U64),
        ("cpu_model", Ty::StrOrNull),
        ("kernel", Ty::StrOrNull),
    ] {
        check(&m["machine"], k, t);
    }
    check(&m["machine"], "memory_bytes", Ty::NumOrNull);
    check(&m["versions"], "pushbench", Ty::Str);

    let techs = doc["techniques"].as_array().unwrap();
    let names: Vec<&str> = techs
        .iter()
        .map(|t| t["technique"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["poll", "long-poll", "stream", "sse", "ws"]);
    for t in techs {
        for k in [
            "clients",
            "topics",
            "payload_bytes",
            "published",
            "expected",
            "delivered",
            "lost",
            "duplicates",
            "out_of_order",
            "requests",
            "empty_responses",
            "reconnects",
            "bytes_up",
            "bytes_down",
            "phase_bytes_up",
            "phase_bytes_down",
        ] {
            check(t, k, Ty::U64);
        }
        check(t, "duration_s", Ty::Num);
        // Known for the embedded server (which has /proc and /stats).
        for k in [
            "server_bytes_up",
            "server_bytes_down",
            "server_requests",
            "server_phase_bytes_up",
            "server_phase_bytes_down",
            "server_rss_bytes",
        ] {
            check(t, k, Ty::U64);
        }
        for k in ["server_cpu_s", "loadgen_cpu_s"] {
            check(t, k, Ty::Num);
        }
        check(t, "latency_us", Ty::Obj);
        for k in ["count", "min", "p50", "p90", "p99", "p999", "max"] {
            check(&t["latency_us"], k, Ty::U64);
        }
        check(&t["latency_us"], "mean", Ty::Num);
        let l = &t["latency_us"];
        let p = |k: &str| l[k].as_u64().unwrap();
        assert!(p("p50") <= p("p90") && p("p90") <= p("p99") && p("p99") <= p("p999"));
        assert!(p("p999") <= p("max") && p("max") > 0, "{l}");
        check(t, "errors", Ty::Obj);
        for (kind, n) in t["errors"].as_object().unwrap() {
            assert!(
                [
                    "connect",
                    "timeout",
                    "http_status",
                    "protocol",
                    "closed",
                    "io"
                ]
                .contains(&kind.as_str()),
                "unknown error kind {kind}"
            );
            assert!(n.is_u64());
        }
        check(t, "failure", Ty::StrOrNull);
        // No link asked for: the keys are there, null (docs/RUN_FORMAT.md; run_link.rs checks
        // their objects).
        for k in ["link", "publisher_link", "link_emulator"] {
            assert!(
                t.get(k).is_some_and(Value::is_null),
                "`{k}` should be null: {t}"
            );
        }
    }

    // summary.json holds the very same document.
    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(file, doc);
}

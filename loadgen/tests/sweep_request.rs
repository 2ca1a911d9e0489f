//! End-to-end tests of a request sweep (`pushbench sweep --mode request`, issue 16) with the
//! real binary and a real child server, a few seconds each: concurrency stepped, each step a
//! request-mode run directory, sweep.csv carrying TTFT / ITL / events/s, the objective judged
//! on TTFT and ITL p99 when given; options that belong to a request sweep refused elsewhere.

mod run_common;

use std::path::Path;
use std::time::Duration;

use run_common::{TempDir, run};

/// A short request-mode step: 20 events 10 ms apart per request, 1 s windows.
const QUICK: [&str; 14] = [
    "--mode",
    "request",
    "--events",
    "20",
    "--interval",
    "10ms",
    "--first-delay",
    "20ms",
    "--duration",
    "1s",
    "--warmup",
    "200ms",
    "--drain",
    "500ms",
];

fn sweep(out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["sweep"];
    args.extend_from_slice(&QUICK);
    let out = out.to_str().unwrap();
    args.extend_from_slice(&["--out", out]);
    args.extend_from_slice(extra);
    run(&args, Duration::from_secs(120))
}

#[test]
fn a_request_sweep_steps_concurrency_and_records_ttft_itl_and_events_per_s() {
    let tmp = TempDir::new("sweep-request");
    let dir = tmp.join("s");
    let out = sweep(
        &dir,
        &[
            "--techniques",
            "sse,ws",
            "--concurrency",
            "2,4",
            "--slo-ttft-p99",
            "2s",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "sweep failed: {stderr}");
    assert!(stderr.contains("concurrent streams"), "{stderr}");
    let doc = reports::sweep::load(&dir).expect("sweep.json loads");
    let rows = reports::sweep::load_csv(&dir).expect("sweep.csv loads");
    assert_eq!(rows, doc.steps, "sweep.csv and sweep.json agree");
    assert_eq!(doc.slo.ttft_p99_us, Some(2_000_000));
    assert_eq!(doc.slo.itl_p99_us, None);
    assert_eq!(doc.steps.len(), 4, "{:?}", doc.steps);
    for s in &doc.steps {
        assert!(s.slo_met, "{s:?}");
        assert_eq!((s.lost, s.errors), (0, 0), "{s:?}");
        // TTFT is the first delay and a little; ITL p50 the interval.
        let ttft = s.ttft_p99_us.expect("ttft_p99_us");
        assert!((15_000..1_000_000).contains(&ttft), "{s:?}");
        let itl = s.itl_p50_us.expect("itl_p50_us");
        assert!((8_000..=12_000).contains(&itl), "{s:?}");
        // Each stream receives 100 events/s: about 100 × concurrency in all.
        let eps = s.events_per_s.expect("events_per_s");
        let want = 100.0 * s.clients as f64;
        assert!((want * 0.5..want * 1.5).contains(&eps), "{eps} vs {want}");
        // Each step is a request-mode run at that concurrency.
        let text = std::fs::read_to_string(dir.join(&s.run_dir).join("summary.json")).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let req = &v["techniques"][0]["request"];
        assert_eq!(req["concurrency"].as_u64(), Some(s.clients), "{text}");
    }
    for t in ["sse", "ws"] {
        let o = doc.outcome(t).unwrap();
        assert_eq!((o.knee_clients, o.broke_at), (Some(4), None), "{o:?}");
    }
    let html = std::fs::read_to_string(dir.join("index.html")).unwrap();
    let objective = html
        .lines()
        .find(|l| l.contains("Objective each step must meet"))
        .unwrap_or_default();
    assert!(
        objective.contains("p99 lateness (received − due)")
            && objective.contains("TTFT p99 ≤ <b>2.00 s</b>"),
        "{objective}"
    );
    assert!(dir.join("request_events_per_s.png").is_file());
    assert!(dir.join("request_ttft_p99.png").is_file());

    // A plan sizes subscribers: it refuses a request sweep in one line.
    let out = run(&["plan", dir.to_str().unwrap()], Duration::from_secs(30));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("is a request sweep"), "{stderr}");
}

#[test]
fn an_itl_objective_below_the_interval_breaks_at_the_first_step() {
    let tmp = TempDir::new("sweep-request-break");
    let dir = tmp.join("s");
    let out = sweep(
        &dir,
        &[
            "--techniques",
            "stream",
            "--concurrency",
            "2,4",
            "--slo-itl-p99",
            "1ms",
            "--no-report",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "sweep failed: {stderr}");
    let doc = reports::sweep::load(&dir).unwrap();
    assert_eq!(doc.steps.len(), 1, "{:?}", doc.steps);
    assert!(!doc.steps[0].slo_met);
    let o = doc.outcome("stream").unwrap();
    assert_eq!((o.knee_clients, o.broke_at), (None, Some(2)));
    let why = o.broke_reason.as_deref().unwrap();
    assert!(
        why.contains("ITL p99") && why.contains("over the objective 1.0ms"),
        "{why}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("at concurrency 2: ITL p99"), "{stdout}");
}

#[test]
fn request_objectives_and_the_open_model_are_refused_where_they_mean_nothing() {
    let tmp = TempDir::new("sweep-request-bad");
    for (args, flag) in [
        (
            vec!["sweep", "--slo-ttft-p99", "1s", "--clients", "2"],
            "--slo-ttft-p99",
        ),
        (vec!["sweep", "--slo-itl-p99", "1s"], "--slo-itl-p99"),
        (
            vec!["sweep", "--mode", "request", "--arrival-rate", "5"],
            "--arrival-rate",
        ),
        (
            vec!["sweep", "--mode", "request", "--concurrency", "4,0"],
            "--concurrency",
        ),
    ] {
        let dir = tmp.join("never");
        let mut a = args.clone();
        a.extend_from_slice(&["--out", dir.to_str().unwrap()]);
        let out = run(&a, Duration::from_secs(30));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(stderr.contains(flag), "{stderr}");
        assert!(!dir.join("sweep.json").exists(), "nothing written");
    }
}

//! End-to-end tests of `pushbench plan` on synthetic sweep directories with known costs: the
//! real binary recovers them in plan.csv and scales them to the target; bad input (a directory
//! that is not a sweep, a bad size, a sweep without steps) gives a clear message and a
//! non-zero exit.

mod run_common;

use std::path::Path;
use std::time::Duration;

use reports::sweep::{self, Outcome, Slo, StepRow, SweepDoc, SweepMachine};
use run_common::{TempDir, run};

/// SSE with 10 KiB per connection over a 30 MB base, 20 µs of server CPU per delivered message
/// over 0.05 cores, 60 B of framing per message; 1 msg/s per client, 256 B payloads, 10 s
/// windows. Steps up to 4000 met the objective, 8000 missed it.
fn sse_step(clients: u64) -> StepRow {
    let d = 10.0;
    let delivered = clients * 10;
    let cpu = 0.05 * d + 20e-6 * delivered as f64;
    let met = clients <= 4000;
    StepRow {
        technique: "sse".into(),
        clients,
        p99_us: Some(if met { 2_000 } else { 900_000 }),
        p50_us: Some(1_000),
        lost: 0,
        errors: 0,
        expected: delivered,
        delivered,
        delivered_per_s: delivered as f64 / d,
        server_cpu_s: Some(cpu),
        server_cores: Some(cpu / d),
        server_rss_bytes: Some(30_000_000 + 10_240 * clients),
        requests: 0,
        bytes_up: 0,
        bytes_down: delivered * (256 + 60),
        duration_s: d,
        rate: 1.0,
        payload_bytes: 256,
        loadgen_cpu_s: None,
        time_wait_before: None,
        slo_met: met,
        broke_reason: (!met).then(|| "p99 900.0ms over the objective 250.0ms".into()),
        run_dir: format!("sse-{clients}"),
        link: "none".into(),
        link_rtt_us: 0,
        ttft_p50_us: None,
        ttft_p99_us: None,
        itl_p50_us: None,
        itl_p99_us: None,
        events_per_s: None,
        instances: 1,
        broker: None,
        broker_cpu_s: None,
        broker_cpu_s_per_million_deliveries: None,
        broker_messages_per_s: None,
        broker_rss_peak_bytes: None,
    }
}

fn write_sweep(dir: &Path, steps: Vec<StepRow>) {
    std::fs::create_dir_all(dir).unwrap();
    let knee = steps.iter().filter(|s| s.slo_met).map(|s| s.clients).max();
    let broke = steps.iter().find(|s| !s.slo_met);
    let doc = SweepDoc {
        format: sweep::FORMAT.into(),
        format_version: sweep::FORMAT_VERSION,
        partial: false,
        failure: None,
        started_at: "2026-11-25T20:00:00Z".into(),
        ended_at: Some("2026-11-25T20:05:00Z".into()),
        command_line: vec!["pushbench".into(), "sweep".into()],
        slo: Slo {
            p99_us: 250_000,
            max_lost: 0,
            max_errors: 0,
            ttft_p99_us: None,
            itl_p99_us: None,
        },
        techniques: vec!["sse".into()],
        clients: steps.iter().map(|s| s.clients).collect(),
        links: Vec::new(),
        instances: Vec::new(),
        run_params: serde_json::json!({"poll_interval_ms": 1000}),
        machine: SweepMachine {
            cpu_model: Some("synthetic".into()),
            cores: Some(2),
            memory_bytes: Some(24 << 30),
            fd_limit: Some(20_000),
            ephemeral_ports: Some(28_232),
        },
        outcomes: vec![Outcome {
            technique: "sse".into(),
            instances: None,
            link: None,
            knee_clients: knee,
            broke_at: broke.map(|s| s.clients),
            broke_reason: broke.and_then(|s| s.broke_reason.clone()),
        }],
        steps,
    };
    sweep::write_data(dir, &doc).unwrap();
}

fn csv_row(path: &Path) -> std::collections::HashMap<String, String> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let headers: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    let rec = r.records().next().expect("a row").unwrap();
    headers
        .into_iter()
        .zip(rec.iter().map(String::from))
        .collect()
}

fn num(row: &std::collections::HashMap<String, String>, col: &str) -> f64 {
    row[col]
        .parse()
        .unwrap_or_else(|_| panic!("{col} = {:?} is not a number", row[col]))
}

#[test]
fn plan_recovers_known_costs_and_scales_them() {
    let tmp = TempDir::new("plan-e2e");
    let dir = tmp.join("sweep");
    write_sweep(&dir, [1000, 2000, 4000, 8000].map(sse_step).to_vec());
    let out = run(
        &[
            "plan",
            dir.to_str().unwrap(),
            "--clients",
            "1000000",
            "--rate",
            "1",
            "--payload-bytes",
            "256",
        ],
        Duration::from_secs(30),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "plan failed: {stderr}");
    assert!(stdout.contains("sse") && stdout.contains("250"), "{stdout}");
    let row = csv_row(&dir.join("plan.csv"));
    assert_eq!(row["technique"], "sse");
    assert_eq!(row["knee_clients"], "4000");
    assert_eq!(row["knee_is_lower_bound"], "false");
    // 1,000,000 clients / 4000 per machine.
    assert_eq!(row["machines"], "250");
    assert_eq!(row["limited_by"], "knee");
    assert_eq!(num(&row, "memory_per_connection_bytes"), 10_240.0);
    assert!((num(&row, "cpu_core_s_per_unit") - 20e-6).abs() < 1e-12);
    assert_eq!(row["points_used"], "3");
    assert_eq!(num(&row, "measured_clients_max"), 4000.0);
    // 1M msgs/s × 20 µs + 250 machines × 0.05 cores.
    assert!((num(&row, "cores") - 32.5).abs() < 1e-6, "{}", row["cores"]);
    // 1M × 10 KiB + 250 × 30 MB.
    assert!((num(&row, "memory_bytes") - 17_740_000_000.0).abs() < 1.0);
    // 1M msgs/s × (256 + 60) B.
    assert!((num(&row, "bandwidth_down_bytes_per_s") - 316e6).abs() < 1.0);
    assert_eq!(num(&row, "memory_r2"), 1.0);
    // 4000 clients a machine was measured; 256 B and 1 msg/s too: nothing extrapolated.
    assert_eq!(row["extrapolated"], "");

    // Another payload and smaller machines: the figures that rest on it are labelled.
    let out = run(
        &[
            "plan",
            dir.to_str().unwrap(),
            "--payload-bytes",
            "4096",
            "--machine-memory",
            "50MB",
            "--machine-cores",
            "8",
        ],
        Duration::from_secs(30),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let row = csv_row(&dir.join("plan.csv"));
    // (50 MB - 30 MB base) / 10 KiB = 1953 clients per machine: memory decides.
    assert_eq!(row["machines"], "512");
    assert_eq!(row["limited_by"], "memory");
    assert_eq!(row["extrapolated"], "bandwidth");
    let html = std::fs::read_to_string(dir.join("plan.html")).unwrap();
    assert!(html.contains("extrapolated") && html.contains("Assumptions"));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("plan.json")).unwrap()).unwrap();
    assert_eq!(json["target"]["machine_cores"], 8.0);
    assert_eq!(json["target"]["machine_memory_bytes"], 50e6);
}

#[test]
fn bad_input_fails_clearly() {
    let tmp = TempDir::new("plan-bad");
    // Not a sweep.
    let out = run(&["plan", tmp.0.to_str().unwrap()], Duration::from_secs(30));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("not a pushbench sweep directory"),
        "{stderr}"
    );
    // A sweep with no step.
    let empty = tmp.join("empty");
    write_sweep(&empty, Vec::new());
    let out = run(&["plan", empty.to_str().unwrap()], Duration::from_secs(30));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no measured step"), "{stderr}");
    // No step met the objective.
    let none = tmp.join("none");
    write_sweep(&none, [8000, 16000].map(sse_step).to_vec());
    let out = run(&["plan", none.to_str().unwrap()], Duration::from_secs(30));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no step of any technique met the objective"),
        "{stderr}"
    );
    assert!(
        none.join("plan.csv").is_file(),
        "what could be computed is written"
    );
    // A bad size names its flag.
    let good = tmp.join("good");
    write_sweep(&good, [1000, 2000].map(sse_step).to_vec());
    let out = run(
        &["plan", good.to_str().unwrap(), "--machine-memory", "lots"],
        Duration::from_secs(30),
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--machine-memory"));
    // A sweep over links: the clients' costs cannot be told from the link's.
    let links = tmp.join("links");
    let mut steps = [1000, 2000].map(sse_step).to_vec();
    let mut far = sse_step(1000);
    (far.link, far.link_rtt_us) = ("rtt=100ms".into(), 100_000);
    steps.push(far);
    write_sweep(&links, steps);
    let out = run(&["plan", links.to_str().unwrap()], Duration::from_secs(30));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("2 links (none, rtt=100ms)"), "{stderr}");
    assert!(!links.join("plan.csv").exists(), "nothing planned");
}

#[test]
fn several_sweeps_are_pooled_when_they_share_the_objective() {
    let tmp = TempDir::new("plan-pool");
    let (a, b) = (tmp.join("a"), tmp.join("b"));
    write_sweep(&a, [1000, 2000].map(sse_step).to_vec());
    write_sweep(&b, [4000, 8000].map(sse_step).to_vec());
    let out_dir = tmp.join("plan");
    let args = [
        "plan",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ];
    let out = run(&args, Duration::from_secs(30));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let row = csv_row(&out_dir.join("plan.csv"));
    // The same answer as one sweep of all four steps.
    assert_eq!(row["knee_clients"], "4000");
    assert_eq!(row["machines"], "250");
    assert_eq!(row["points_used"], "3");
    assert_eq!(num(&row, "memory_per_connection_bytes"), 10_240.0);
    // Another objective: refused.
    let mut doc = reports::sweep::load(&b).unwrap();
    doc.slo.p99_us = 1;
    reports::sweep::write_data(&b, &doc).unwrap();
    let out = run(&args, Duration::from_secs(30));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("another objective"), "{stderr}");
}

//! The sweep report from a synthetic sweep: sweep.json and sweep.csv round-trip, every chart
//! decodes at 1600x1000 and is not blank, the page names each knee and what broke it and
//! links the steps' reports that exist; a directory without sweep.json is refused by name. The
//! plan page labels extrapolated figures.

use std::fs;
use std::path::{Path, PathBuf};

use reports::plan_page::{self, PlanDoc, PlanRow, PlanTarget};
use reports::sweep::{self, Outcome, Slo, StepRow, SweepDoc, SweepError, SweepMachine};

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("reports-sweep")
        .join(name);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn step(technique: &str, clients: u64, p99_ms: u64, met: bool) -> StepRow {
    StepRow {
        technique: technique.into(),
        clients,
        p99_us: Some(p99_ms * 1000),
        p50_us: Some(p99_ms * 500),
        lost: 0,
        errors: 0,
        expected: clients * 10,
        delivered: clients * 10,
        delivered_per_s: clients as f64,
        server_cpu_s: Some(clients as f64 * 1e-4),
        server_cores: Some(clients as f64 * 1e-5),
        server_rss_bytes: Some(20_000_000 + clients * 12_000),
        requests: clients,
        bytes_up: clients * 200,
        bytes_down: clients * 3000,
        duration_s: 10.0,
        rate: 1.0,
        payload_bytes: 256,
        loadgen_cpu_s: Some(0.5),
        time_wait_before: Some(0),
        slo_met: met,
        broke_reason: (!met).then(|| format!("p99 {p99_ms}.0ms over the objective 250.0ms")),
        run_dir: format!("{technique}-{clients}"),
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

fn doc() -> SweepDoc {
    SweepDoc {
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
        techniques: vec!["sse".into(), "ws".into(), "poll".into()],
        clients: vec![1000, 5000, 20000],
        links: Vec::new(),
        instances: Vec::new(),
        run_params: serde_json::json!({"rate": 1.0}),
        machine: SweepMachine {
            cpu_model: Some("synthetic <cpu>".into()),
            cores: Some(2),
            memory_bytes: Some(24 << 30),
            fd_limit: Some(20_000),
            ephemeral_ports: Some(28_232),
        },
        steps: vec![
            step("sse", 1000, 3, true),
            step("sse", 5000, 8, true),
            step("sse", 20000, 400, false),
            step("ws", 1000, 2, true),
            step("ws", 5000, 6, true),
            step("poll", 1000, 900, false),
        ],
        outcomes: vec![
            Outcome {
                technique: "sse".into(),
                instances: None,
                link: None,
                knee_clients: Some(5000),
                broke_at: Some(20000),
                broke_reason: Some("p99 400.0ms over the objective 250.0ms".into()),
            },
            Outcome {
                technique: "ws".into(),
                instances: None,
                link: None,
                knee_clients: Some(5000),
                broke_at: Some(20000),
                broke_reason: Some("out of descriptors: 20000 clients need ...".into()),
            },
            Outcome {
                technique: "poll".into(),
                instances: None,
                link: None,
                knee_clients: None,
                broke_at: Some(1000),
                broke_reason: Some("p99 900.0ms over the objective 250.0ms".into()),
            },
        ],
    }
}

#[test]
fn sweep_files_round_trip_and_charts_decode() {
    let dir = scratch("full");
    let d = doc();
    // One step has its own report, so the page links it.
    fs::create_dir_all(dir.join("sse-1000")).unwrap();
    fs::write(dir.join("sse-1000/index.html"), "<html></html>").unwrap();
    let out = sweep::write_all(&dir, &d).unwrap();
    assert_eq!(sweep::load(&dir).unwrap(), d);
    assert_eq!(sweep::load_csv(&dir).unwrap(), d.steps);
    let mut r = csv::Reader::from_path(dir.join("sweep.csv")).unwrap();
    let headers: Vec<&str> = r.headers().unwrap().iter().collect::<Vec<_>>().clone();
    assert_eq!(headers, sweep::STEP_COLUMNS.to_vec());
    assert_eq!(out.charts.len(), 3);
    for c in &out.charts {
        let img = image::open(c).unwrap_or_else(|e| panic!("{}: {e}", c.display()));
        assert_eq!((img.width(), img.height()), (1600, 1000));
        let rgb = img.to_rgb8();
        let coloured = rgb
            .pixels()
            .filter(|p| p.0 == [0, 114, 178]) // SSE's blue: its line is drawn
            .count();
        assert!(coloured > 200, "{}: SSE line missing", c.display());
    }
    let html = fs::read_to_string(&out.index).unwrap();
    assert!(html.contains("href=\"sse-1000/index.html\""));
    assert!(
        !html.contains("href=\"ws-1000/index.html\""),
        "no report, no link"
    );
    assert!(html.contains("out of descriptors"));
    assert!(html.contains("synthetic &lt;cpu&gt;"), "escaped");
    assert!(html.contains(">none<"), "poll has no knee");
    for c in [
        "sweep_p99.png",
        "sweep_server_cpu.png",
        "sweep_server_memory.png",
    ] {
        assert!(html.contains(&format!("src=\"{c}\"")));
    }
}

#[test]
fn not_a_sweep_is_named() {
    let dir = scratch("empty");
    let e = sweep::load(&dir).unwrap_err();
    assert!(matches!(e, SweepError::NotASweep { .. }), "{e}");
    assert!(e.to_string().contains("not a pushbench sweep directory"));
    fs::write(dir.join("sweep.json"), "{\"format\": \"other\"}").unwrap();
    let e = sweep::load(&dir).unwrap_err();
    assert!(
        e.to_string().contains("not a pushbench sweep directory"),
        "{e}"
    );
}

#[test]
fn plan_page_labels_extrapolations() {
    let dir = scratch("plan");
    let row = PlanRow {
        technique: "sse".into(),
        knee_clients: Some(5000),
        knee_is_lower_bound: false,
        machines: Some(200),
        limited_by: "knee".into(),
        cores: 40.0,
        memory_bytes: 12e9,
        bandwidth_down_bytes_per_s: 316e6,
        bandwidth_up_bytes_per_s: 0.0,
        requests_per_s: 0.0,
        memory_per_connection_bytes: 11_000.0,
        cpu_core_s_per_unit: 2e-5,
        cpu_unit: "message".into(),
        memory_r2: Some(0.99),
        cpu_r2: Some(0.97),
        points_used: 2,
        measured_clients_min: 1000,
        measured_clients_max: 5000,
        extrapolated: "cores".into(),
        notes: "a note".into(),
        broker_kind: None,
        broker_core_s_per_publish_instance: None,
        broker_fit_points: None,
        broker_publishes_per_s: None,
        broker_instances: None,
        broker_messages_per_s: None,
        broker_cores: None,
        broker_verdict: None,
    };
    let doc = PlanDoc {
        format: plan_page::FORMAT.into(),
        format_version: 1,
        sweep_dir: "sweeps/x".into(),
        target: PlanTarget {
            clients: 1_000_000,
            rate: 1.0,
            payload_bytes: 256,
            machine_cores: 2.0,
            machine_memory_bytes: 24e9,
            machine_source: "the measured machine's".into(),
        },
        assumptions: vec!["linear".into()],
        rows: vec![row],
        skipped: Vec::new(),
    };
    let files = plan_page::write_all(&dir, &doc).unwrap();
    assert_eq!(files.len(), 3);
    let html = fs::read_to_string(dir.join("plan.html")).unwrap();
    assert!(
        !html.contains("<h2>Broker</h2>"),
        "no broker, no broker row"
    );
    // Exactly one figure (cores) is labelled.
    assert_eq!(
        html.matches("class=\"x\">extrapolated").count(),
        1,
        "{html}"
    );
    assert!(html.contains("1,000,000 clients"));
    let back: PlanDoc =
        serde_json::from_str(&fs::read_to_string(dir.join("plan.json")).unwrap()).unwrap();
    assert_eq!(back, doc);
}

//! The report of a synthetic sweep over links (`sweep --links 0,20ms,100ms,300ms,1s` at 200
//! clients, 10 msg/s, short poll every 1000 ms): sweep_rtt.csv has every technique's expected
//! p50 at each RTT, a step put deliberately off the model is flagged and the steps on it are
//! not, the four charts against RTT decode at 1600x1000 with the techniques' lines drawn, the
//! page has the table with its flag and no client-count charts; an ordinary sweep writes none
//! of it.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use reports::expect::{self, Link, Settings};
use reports::sweep::{self, Outcome, Slo, StepRow, SweepDoc, SweepMachine, rtt};

const TECHNIQUES: [&str; 5] = ["poll", "long-poll", "stream", "sse", "ws"];
const LINKS: [(&str, u64); 5] = [
    ("none", 0),
    ("rtt=20ms", 20),
    ("rtt=100ms", 100),
    ("rtt=300ms", 300),
    ("rtt=1s", 1000),
];

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("reports-sweep-links")
        .join(name);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// What the model says, for building on-model steps (the test below checks the values).
fn model_p50_ms(technique: &str, rtt_ms: u64) -> f64 {
    let s = Settings {
        rate_per_s: Some(10.0),
        poll_interval_ms: Some(1000.0),
        payload_bytes: Some(256.0),
        publisher_one_way_ms: 0.0,
        start_spread_ms: None,
    };
    expect::p50(technique, &Link::rtt(rtt_ms as f64), &s)
        .unwrap()
        .point_ms()
}

fn step(technique: &str, link: &str, rtt_ms: u64, p50_ms: f64) -> StepRow {
    let clients = 200;
    let delivered = clients * 80;
    let requests = match technique {
        "poll" => clients * 8,
        "long-poll" => delivered,
        _ => clients,
    };
    StepRow {
        technique: technique.into(),
        clients,
        p99_us: Some((p50_ms * 1900.0) as u64 + 500),
        p50_us: Some((p50_ms * 1000.0) as u64 + 300),
        lost: 0,
        errors: 0,
        expected: delivered,
        delivered,
        delivered_per_s: 2000.0,
        server_cpu_s: Some(0.02),
        server_cores: Some(0.002),
        server_rss_bytes: Some(30_000_000),
        requests,
        bytes_up: requests * 100,
        bytes_down: delivered * 300,
        duration_s: 8.0,
        rate: 10.0,
        payload_bytes: 256,
        loadgen_cpu_s: Some(0.3),
        time_wait_before: Some(0),
        slo_met: p50_ms < 1000.0,
        broke_reason: None,
        run_dir: format!("{technique}-{}", link.replace('=', "")),
        link: link.into(),
        link_rtt_us: rtt_ms * 1000,
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

/// A links sweep whose steps follow the model, except SSE at 300 ms: 250 ms instead of 150.
fn links_doc() -> SweepDoc {
    let mut steps = Vec::new();
    let mut outcomes = Vec::new();
    for t in TECHNIQUES {
        for (link, rtt) in LINKS {
            let p50 = match (t, rtt) {
                ("sse", 300) => 250.0,
                _ => model_p50_ms(t, rtt),
            };
            steps.push(step(t, link, rtt, p50));
            outcomes.push(Outcome {
                technique: t.into(),
                instances: None,
                link: Some(link.into()),
                knee_clients: Some(200),
                broke_at: None,
                broke_reason: None,
            });
        }
    }
    SweepDoc {
        format: sweep::FORMAT.into(),
        format_version: sweep::FORMAT_VERSION,
        partial: false,
        failure: None,
        started_at: "2026-12-05T08:00:00Z".into(),
        ended_at: Some("2026-12-05T08:30:00Z".into()),
        command_line: vec!["pushbench".into(), "sweep".into(), "--links".into()],
        slo: Slo {
            p99_us: 5_000_000,
            max_lost: 0,
            max_errors: 0,
            ttft_p99_us: None,
            itl_p99_us: None,
        },
        techniques: TECHNIQUES.iter().map(|t| t.to_string()).collect(),
        clients: vec![200],
        links: LINKS.iter().map(|l| l.0.to_string()).collect(),
        instances: Vec::new(),
        run_params: serde_json::json!({"rate": 10.0, "poll_interval_ms": 1000,
            "long_poll_timeout_ms": 5000, "payload_bytes": 256, "publisher_link": "none",
            "ramp_up_per_s": 1000.0}),
        machine: SweepMachine::default(),
        steps,
        outcomes,
    }
}

type CsvRows = BTreeMap<(String, String), BTreeMap<String, String>>;

fn read_rtt_csv(dir: &Path) -> (Vec<String>, CsvRows) {
    let mut r = csv::Reader::from_path(dir.join(rtt::CSV_FILE)).unwrap();
    let h: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    let mut rows = BTreeMap::new();
    for rec in r.records() {
        let rec = rec.unwrap();
        let m: BTreeMap<String, String> = h
            .iter()
            .cloned()
            .zip(rec.iter().map(String::from))
            .collect();
        rows.insert((m["technique"].clone(), m["link"].clone()), m);
    }
    (h, rows)
}

fn num(cell: &str) -> f64 {
    cell.parse()
        .unwrap_or_else(|e| panic!("{cell:?} is not a number: {e}"))
}

#[test]
fn links_sweep_writes_the_rtt_table_with_expected_values_and_flags() {
    let dir = scratch("links");
    let out = sweep::write_all(&dir, &links_doc()).unwrap();
    let (h, rows) = read_rtt_csv(&dir);
    assert_eq!(h, rtt::CSV_COLUMNS.to_vec());
    assert_eq!(rows.len(), 25);
    // Expected p50 (ms) at 0, 20, 100, 300, 1000 ms of RTT, 10 msg/s, polls every second.
    let expected: [(&str, [&str; 5]); 5] = [
        ("poll", ["500", "510", "550", "650", "1000"]),
        // T = 100 ms: a poll is always armed below 100 ms of RTT, never above; at 100 ms
        // either (the range 50-100, shown by its middle).
        ("long-poll", ["0", "10", "75", "300", "1000"]),
        ("stream", ["0", "10", "50", "150", "500"]),
        ("sse", ["0", "10", "50", "150", "500"]),
        ("ws", ["0", "10", "50", "150", "500"]),
    ];
    for (t, values) in expected {
        for ((link, rtt), want) in LINKS.iter().zip(values) {
            let r = &rows[&(t.to_string(), link.to_string())];
            // Steps at RTT > 0 expect the model plus the technique's loopback floor: its
            // p50 at RTT 0 (0.3 ms over the model in every on-model step built here).
            let floor = if *rtt == 0 { "" } else { "0.3" };
            assert_eq!(r["loopback_floor_ms"], floor, "{t} at {link}");
            let floor = if *rtt == 0 { 0.0 } else { 0.3 };
            let exp = num(&r["expected_p50_ms"]);
            assert!(
                (exp - floor - num(want)).abs() < 1e-9,
                "{t} at {link}: {exp}"
            );
            assert_eq!(num(&r["rtt_ms"]), *rtt as f64, "{t} at {link}");
            let off = t == "sse" && *rtt == 300;
            assert_eq!(r["flagged"], off.to_string(), "{t} at {link}: {r:?}");
        }
    }
    let lp = &rows[&("long-poll".into(), "rtt=100ms".into())];
    assert_eq!(num(&lp["expected_p50_lo_ms"]), 50.3);
    assert_eq!(num(&lp["expected_p50_hi_ms"]), 100.3);
    let sse = &rows[&("sse".into(), "rtt=300ms".into())];
    assert_eq!(num(&sse["p50_ms"]), 250.3);
    // 250.3 against 150 + 0.3: 66.5% over.
    assert_eq!(num(&sse["departure_pct"]), 66.5336);
    assert_eq!(num(&sse["requests_per_msg"]), 0.0125);
    assert_eq!(num(&sse["bytes_down_per_msg"]), 300.0);
    // Loopback: 0.3 ms measured against 0 expected is not flagged (no share of nothing).
    let ws0 = &rows[&("ws".into(), "none".into())];
    assert_eq!((&*ws0["departure_pct"], &*ws0["flagged"]), ("", "false"));

    let files: Vec<String> = out
        .charts
        .iter()
        .map(|c| c.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        files,
        [
            "sweep_rtt_p50.png",
            "sweep_rtt_p99.png",
            "sweep_rtt_requests.png",
            "sweep_rtt_bytes.png"
        ]
    );
    for c in &out.charts {
        let img = image::open(c).unwrap_or_else(|e| panic!("{}: {e}", c.display()));
        assert_eq!((img.width(), img.height()), (1600, 1000));
        let rgb = img.to_rgb8();
        for (name, colour) in [("short poll", [213, 94, 0]), ("SSE", [0, 114, 178])] {
            let n = rgb.pixels().filter(|p| p.0 == colour).count();
            assert!(n > 200, "{}: {name} line missing ({n} px)", c.display());
        }
    }
    assert!(
        !dir.join("sweep_p99.png").exists(),
        "one client count: no client charts"
    );

    let html = fs::read_to_string(&out.index).unwrap();
    for needle in [
        "<h2>Latency against the link</h2>",
        "<h2>Knee per technique and link</h2>",
        "<span class=\"missed\">⚑ off the model</span> (+67%)",
        "<b>1 measurement off the model.</b>",
        "<td>50.3–100 ms</td>",
        "href=\"sweep_rtt.csv\"",
        "src=\"sweep_rtt_p50.png\"",
        "src=\"sweep_rtt_bytes.png\"",
        "<code>rtt=300ms</code>",
        "charts against clients (one point per technique) are not drawn",
    ] {
        assert!(html.contains(needle), "page lacks: {needle}");
    }
    assert!(!html.contains("src=\"sweep_p99.png\""));
    assert_eq!(html.matches("⚑ off the model</span>").count(), 1);
}

#[test]
fn a_preset_link_shows_its_rtt_and_a_narrow_link_its_serialization_time() {
    let mut doc = links_doc();
    doc.steps
        .retain(|s| s.technique == "sse" && s.link_rtt_us <= 20_000);
    // A preset: 150 ms and 1.44 mbit/s down, so 256 B take 1.42 ms: 76.42 ms of model.
    let mut s = step("sse", "fast-3g", 150, 76.0);
    s.p50_us = Some(76_000);
    doc.steps.push(s);
    let rows = rtt::rows(&doc);
    let fast = rows.iter().find(|r| r.link == "fast-3g").unwrap();
    let e = fast.expected.unwrap();
    // Plus SSE's loopback floor, 0.3 ms at RTT 0.
    assert!((e.point_ms() - 76.7222).abs() < 1e-3, "{e:?}");
    assert_eq!(fast.floor_ms, Some(0.3));
    assert!(!fast.flagged);
    assert_eq!(rtt::link_name(fast), "fast-3g (150 ms)");
    // A step that delivered nothing: no measurement, no flag, no per-message figures.
    let mut dead = step("ws", "rtt=20ms", 20, 0.0);
    (dead.p50_us, dead.p99_us, dead.delivered) = (None, None, 0);
    doc.steps.push(dead);
    let rows = rtt::rows(&doc);
    let ws = rows.iter().find(|r| r.technique == "ws").unwrap();
    assert_eq!(
        (ws.p50_ms, ws.flagged, ws.requests_per_msg),
        (None, false, None)
    );
    assert_eq!(ws.expected.unwrap().point_ms(), 10.0);
}

#[test]
fn an_ordinary_sweep_has_no_link_outputs() {
    let dir = scratch("ordinary");
    let mut doc = links_doc();
    doc.links.clear();
    doc.steps.retain(|s| s.link == "none");
    for (i, s) in doc.steps.iter_mut().enumerate() {
        s.clients = 100 * (i as u64 % 5 + 1);
    }
    doc.outcomes.retain(|o| o.link.as_deref() == Some("none"));
    for o in &mut doc.outcomes {
        o.link = None;
    }
    assert!(!rtt::has_link_axis(&doc));
    let out = sweep::write_all(&dir, &doc).unwrap();
    assert_eq!(out.charts.len(), 3);
    assert!(!dir.join(rtt::CSV_FILE).exists());
    let html = fs::read_to_string(&out.index).unwrap();
    assert!(html.contains("<h2>Knee per technique</h2>"));
    assert!(!html.contains("Latency against the link"));
    assert!(!html.contains("sweep_rtt"));
}

#[test]
fn a_slow_loopback_is_flagged_once_and_carried_as_the_floor() {
    let mut doc = links_doc();
    doc.steps.retain(|s| s.technique == "stream");
    // A server that takes 12 ms to deliver on loopback, then adds exactly the link's RTT/2.
    for s in &mut doc.steps {
        s.p50_us = Some((s.link_rtt_us / 2) + 12_000);
    }
    let rows = rtt::rows(&doc);
    let flagged: Vec<f64> = rows
        .iter()
        .filter(|r| r.flagged)
        .map(|r| r.rtt_ms)
        .collect();
    assert_eq!(flagged, [0.0], "{rows:?}");
    let at_300 = rows.iter().find(|r| r.rtt_ms == 300.0).unwrap();
    assert_eq!(at_300.floor_ms, Some(12.0));
    assert_eq!(at_300.expected.unwrap().point_ms(), 162.0);
}

//! Request runs against concurrency (issue 16): three request runs at concurrency 10, 50 and
//! 200 compared with `write_report` draw events/s and TTFT p99 against concurrency in the
//! request section; a request sweep draws them from sweep.csv's request columns when it has
//! them, else from its steps' run directories; a broadcast sweep draws neither.

mod golden_common;
mod request_fixture;
mod run_fixture;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use reports::sweep::{self, Outcome, Slo, StepRow, SweepDoc, SweepMachine};

const FILES: [&str; 2] = ["request_events_per_s.png", "request_ttft_p99.png"];

/// Decodes a chart: full size, not blank, every technique's colour.
fn check_chart(path: &Path, techniques: &[&str]) {
    let img = image::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_rgb8();
    assert_eq!(img.dimensions(), (1600, 1000));
    let colors: BTreeSet<[u8; 3]> = img.pixels().map(|p| p.0).collect();
    let ink = img.pixels().filter(|p| p.0 != [255, 255, 255]).count();
    assert!(ink > 20_000, "{}: {ink} non-white pixels", path.display());
    for t in techniques {
        let c = reports::colors::color(t);
        assert!(
            colors.contains(&[c.0, c.1, c.2]),
            "{}: no {t}",
            path.display()
        );
    }
}

/// The fixture's techniques at `concurrency`, events scaled with it.
fn at(concurrency: u64) -> Vec<request_fixture::Measured> {
    request_fixture::four(concurrency)
        .into_iter()
        .map(|mut m| {
            m.delivered = m.delivered * concurrency / 50;
            m.expected = m.expected * concurrency / 50;
            m.ttft.1 += concurrency * 100;
            m
        })
        .collect()
}

#[test]
fn compared_request_runs_draw_against_concurrency() {
    let base = run_fixture::scratch("request-compare");
    let dirs: Vec<PathBuf> = [10, 50, 200]
        .into_iter()
        .map(|c| {
            let dir = base.join(format!("c{c}"));
            request_fixture::write(&dir, c, &at(c));
            dir
        })
        .collect();
    let out = base.join("out");
    reports::write_report(&dirs, Some(&out)).unwrap();
    let html = fs::read_to_string(out.join("index.html")).unwrap();
    let section = &html[html.find("id=\"request\"").unwrap()..html.find("id=\"servers\"").unwrap()];
    for f in FILES {
        assert!(section.contains(&format!("src=\"report/{f}\"")), "{f}");
        check_chart(
            &out.join("report").join(f),
            &["long-poll", "stream", "sse", "ws"],
        );
    }
    assert!(section.contains("<b>Events per second against concurrency.</b>"));
    // One table row per technique per run, the run named.
    assert_eq!(section.matches("<td class=\"l\">c200</td>").count(), 4);
    // techniques.csv has each run's concurrency.
    let (h, rows) = golden_common::read_csv(&out.join("report/techniques.csv"));
    let conc: BTreeSet<&str> = rows
        .iter()
        .map(|r| golden_common::cell(&h, r, "concurrency"))
        .collect();
    assert_eq!(conc, BTreeSet::from(["10", "200", "50"]));
}

#[test]
fn one_request_run_draws_nothing_against_concurrency() {
    let dir = run_fixture::scratch("request-one");
    request_fixture::write(&dir, 50, &request_fixture::four(50));
    let out = reports::write_report(std::slice::from_ref(&dir), None).unwrap();
    assert!(!out.files.iter().any(|f| f.ends_with(FILES[0])));
}

fn step(technique: &str, clients: u64) -> StepRow {
    StepRow {
        technique: technique.into(),
        clients,
        p99_us: Some(1000),
        p50_us: Some(500),
        lost: 0,
        errors: 0,
        expected: clients * 200,
        delivered: clients * 200,
        delivered_per_s: clients as f64 * 20.0,
        server_cpu_s: Some(0.1),
        server_cores: Some(0.01),
        server_rss_bytes: Some(20_000_000),
        requests: clients,
        bytes_up: 0,
        bytes_down: 0,
        duration_s: 10.0,
        rate: 20.0,
        payload_bytes: 64,
        loadgen_cpu_s: None,
        time_wait_before: None,
        slo_met: true,
        broke_reason: None,
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

fn doc(techniques: &[&str], counts: &[u64]) -> SweepDoc {
    SweepDoc {
        format: sweep::FORMAT.into(),
        format_version: sweep::FORMAT_VERSION,
        partial: false,
        failure: None,
        started_at: "2026-12-06T20:00:00Z".into(),
        ended_at: None,
        command_line: vec!["pushbench".into(), "sweep".into()],
        slo: Slo {
            p99_us: 250_000,
            max_lost: 0,
            max_errors: 0,
            ttft_p99_us: None,
            itl_p99_us: None,
        },
        techniques: techniques.iter().map(|t| t.to_string()).collect(),
        clients: counts.to_vec(),
        links: Vec::new(),
        instances: Vec::new(),
        run_params: serde_json::json!({"mode": "request"}),
        machine: SweepMachine::default(),
        steps: techniques
            .iter()
            .flat_map(|t| counts.iter().map(|c| step(t, *c)))
            .collect(),
        outcomes: techniques
            .iter()
            .map(|t| Outcome {
                technique: t.to_string(),
                instances: None,
                link: None,
                knee_clients: counts.last().copied(),
                broke_at: None,
                broke_reason: None,
            })
            .collect(),
    }
}

#[test]
fn a_request_sweep_reads_its_request_columns_leniently() {
    let dir = run_fixture::scratch("request-sweep-csv");
    let mut d = doc(&["sse", "ws"], &[10, 100, 1000]);
    // The sweep's request columns (and one row without them, which has no run directory
    // to fall back on either).
    for (i, s) in d.steps.iter_mut().enumerate() {
        if i != 2 {
            s.ttft_p99_us = Some(20_000 + i as u64 * 1000);
            s.itl_p99_us = Some(50_000);
            s.events_per_s = Some(((i % 3 + 1) * 200) as f64);
        }
    }
    sweep::write_all(&dir, &d).unwrap();
    let text = fs::read_to_string(dir.join("sweep.csv")).unwrap();
    assert!(
        text.lines()
            .next()
            .unwrap()
            .contains(",ttft_p50_us,ttft_p99_us,itl_p50_us,itl_p99_us,events_per_s,")
    );
    let d = sweep::load(&dir).unwrap();
    let points = sweep::request::points(&dir, &d);
    assert_eq!(points.len(), 5, "{points:?}");
    let ws100 = points
        .iter()
        .find(|p| p.technique == "ws" && p.concurrency == 100)
        .unwrap();
    assert_eq!(
        (ws100.events_per_s, ws100.ttft_p99_us),
        (Some(400.0), Some(24_000))
    );
    let out = sweep::write_report(&dir, &d).unwrap();
    assert_eq!(out.charts.len(), 5);
    for f in FILES {
        check_chart(&dir.join(f), &["sse", "ws"]);
    }
    let html = fs::read_to_string(&out.index).unwrap();
    assert!(html.contains("src=\"request_ttft_p99.png\""));
}

#[test]
fn a_request_sweep_without_the_columns_reads_its_steps() {
    let dir = run_fixture::scratch("request-sweep-steps");
    let d = doc(&["sse"], &[10, 50, 200]);
    for c in [10, 50, 200] {
        let ms: Vec<_> = at(c)
            .into_iter()
            .filter(|m| m.technique.name() == "sse")
            .collect();
        request_fixture::write(&dir.join(format!("sse-{c}")), c, &ms);
    }
    let out = sweep::write_all(&dir, &d).unwrap();
    let points = sweep::request::points(&dir, &d);
    let conc: Vec<u64> = points.iter().map(|p| p.concurrency).collect();
    assert_eq!(conc, [10, 50, 200]);
    assert_eq!(points[2].events_per_s, Some(4000.0));
    assert_eq!(points[2].ttft_p99_us, Some(42_000));
    assert_eq!(out.charts.len(), 5);
}

#[test]
fn a_broadcast_sweep_draws_no_request_chart() {
    let dir = run_fixture::scratch("request-sweep-broadcast");
    let out = sweep::write_all(&dir, &doc(&["sse"], &[10, 100])).unwrap();
    assert_eq!(out.charts.len(), 3);
    assert!(!dir.join(FILES[0]).exists());
}

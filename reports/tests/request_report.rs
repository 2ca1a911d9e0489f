//! The report of a request-mode run (issue 16), built from the format's types
//! ([`request_fixture`]): techniques.csv appends the request columns with the run's values,
//! the page has the "Request-scoped streams" section with the workload and the numbers and
//! never says publish-to-receive, the TTFT, ITL and lateness charts decode and are not blank
//! (drawn from the summary's percentiles when a histogram is missing), and a broadcast run's
//! outputs have none of it.

mod golden_common;
mod request_fixture;
mod run_fixture;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use golden_common::{cell, read_csv, row};
use reports::write_report;

/// A request run of the four techniques at concurrency 50, and its report.
fn report(name: &str) -> PathBuf {
    let dir = run_fixture::scratch(name);
    request_fixture::write(&dir, 50, &request_fixture::four(50));
    write_report(std::slice::from_ref(&dir), None).unwrap();
    dir
}

fn page(dir: &Path) -> String {
    fs::read_to_string(dir.join("index.html")).unwrap()
}

#[test]
fn techniques_csv_appends_the_request_columns_with_the_runs_values() {
    let dir = report("request-csv");
    let (h, rows) = read_csv(&dir.join("report/techniques.csv"));
    let expected: Vec<&str> = reports::csv_out::SUMMARY_COLUMNS
        .iter()
        .chain(&reports::request::COLUMNS)
        .map(|c| c.0)
        .collect();
    assert_eq!(h, expected);
    let ws = row(&h, &rows, "ws");
    assert_eq!(cell(&h, ws, "ttft_p50_us"), "20300");
    assert_eq!(cell(&h, ws, "ttft_p99_us"), "21000");
    assert_eq!(cell(&h, ws, "ttft_max_us"), "22500");
    assert_eq!(cell(&h, ws, "itl_p50_us"), "49900");
    assert_eq!(cell(&h, ws, "itl_p99_us"), "50800");
    assert_eq!(cell(&h, ws, "itl_max_us"), "54000");
    assert_eq!(cell(&h, ws, "events_per_s"), "1000");
    assert_eq!(cell(&h, ws, "requests_per_s"), "5");
    assert_eq!(cell(&h, ws, "requests_completed"), "50");
    assert_eq!(cell(&h, ws, "request_model"), "closed");
    assert_eq!(cell(&h, ws, "concurrency"), "50");
    assert_eq!(cell(&h, ws, "arrival_rate_per_s"), "");
    // 0.3 s of CPU for 10,000 events = 30 s per million.
    assert_eq!(cell(&h, ws, "server_cpu_s_per_1m_events"), "30");
    assert_eq!(cell(&h, ws, "server_rss_per_stream_bytes"), "16384");
    // Lateness stays in the latency columns.
    assert_eq!(cell(&h, ws, "latency_p99_us"), "1000");
    let lp = row(&h, &rows, "long-poll");
    assert_eq!(cell(&h, lp, "requests_failed"), "2");
    assert_eq!(cell(&h, lp, "requests_started"), "50");
    assert_eq!(cell(&h, lp, "e2e_p99_us"), "10030000");
    // The run directory's own summary.csv has them too (contract's SummaryRow).
    let (sh, srows) = read_csv(&dir.join("summary.csv"));
    assert_eq!(cell(&sh, row(&sh, &srows, "ws"), "ttft_p99_us"), "21000");
    assert_eq!(
        cell(&sh, row(&sh, &srows, "long-poll"), "itl_p50_us"),
        "60000"
    );
}

#[test]
fn the_page_has_the_request_section_with_the_numbers() {
    let dir = report("request-page");
    let html = page(&dir);
    assert!(html.contains("<h2 id=\"request\">Request-scoped streams</h2>"));
    assert!(html.contains("<a href=\"#request\">Request-scoped streams</a>"));
    assert!(
        html.contains(
            "Closed model: 50 streams open at once, each client asking again as its stream \
             ends; each request asks for 200 events × 64 B, the first due 20.0 ms after the \
             request, then one every 50.0 ms (fixed)."
        ),
        "workload line"
    );
    // The WebSocket row: requests, events, TTFT p50/p99/max, ITL p50/p99/max, lateness p99,
    // e2e p50/p99, events/s, requests/s, requests per event, CPU-s per 1M events, memory.
    let ws_row = "<td>50 / 0</td><td>10,000 / 10,000</td><td>0</td><td>20.3 ms</td>\
                  <td>21.0 ms</td><td>22.5 ms</td><td>49.9 ms</td><td>50.8 ms</td>\
                  <td>54.0 ms</td><td>1.00 ms</td><td>10.0 s</td><td>10.0 s</td><td>1000</td>\
                  <td>5.00</td><td>0.00500</td><td>30.0</td><td>16.0 KiB</td></tr>";
    assert!(html.contains(ws_row), "ws row");
    let lp_row = "<td>48 / 2</td><td>9,900 / 10,000</td><td>100</td><td>24.0 ms</td>\
                  <td>30.0 ms</td><td>41.0 ms</td><td>60.0 ms</td><td>70.0 ms</td>\
                  <td>90.0 ms</td><td>80.0 ms</td>";
    assert!(html.contains(lp_row), "long-poll row");
    // The request charts are in the section, each once on the page.
    for f in [
        "ttft_percentiles.png",
        "itl_percentiles.png",
        "latency_percentiles.png",
    ] {
        assert_eq!(
            html.matches(&format!("src=\"report/{f}\"")).count(),
            1,
            "{f}"
        );
    }
    let section = &html[html.find("id=\"request\"").unwrap()..html.find("id=\"claims\"").unwrap()];
    assert!(section.contains("report/ttft_percentiles.png"));
    assert!(section.contains("<b>Lateness by percentile.</b>"));
    // Lateness is never called publish-to-receive latency in a request run.
    assert!(!html.to_lowercase().contains("publish-to-receive latency"));
    assert!(html.contains("lateness (received − due)"));
    for r in golden_common::references(&html) {
        assert!(dir.join(&r).is_file(), "{r} does not exist");
    }
}

/// Decodes a chart and checks it is full size, not blank, and shows every technique's colour.
fn check_chart(path: &Path, techniques: &[&str]) {
    let img = image::open(path).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), (1600, 1000), "{}", path.display());
    let colors: BTreeSet<[u8; 3]> = img.pixels().map(|p| p.0).collect();
    let ink = img.pixels().filter(|p| p.0 != [255, 255, 255]).count();
    assert!(
        colors.len() > 50,
        "{}: {} colours",
        path.display(),
        colors.len()
    );
    assert!(ink > 40_000, "{}: {ink} non-white pixels", path.display());
    for t in techniques {
        let c = reports::colors::color(t);
        assert!(
            colors.contains(&[c.0, c.1, c.2]),
            "{}: no {t}",
            path.display()
        );
    }
}

#[test]
fn the_request_charts_decode_and_show_every_technique() {
    let dir = report("request-charts");
    let all = ["long-poll", "stream", "sse", "ws"];
    for f in [
        "ttft_percentiles.png",
        "itl_percentiles.png",
        "latency_percentiles.png",
    ] {
        check_chart(&dir.join("report").join(f), &all);
    }
}

#[test]
fn a_missing_histogram_is_drawn_from_the_summary() {
    let dir = run_fixture::scratch("request-no-hlog");
    request_fixture::write(&dir, 50, &request_fixture::four(50));
    fs::remove_file(dir.join("histograms/sse.itl.hlog")).unwrap();
    fs::remove_file(dir.join("histograms/ws.ttft.hlog")).unwrap();
    // Without its lateness histogram too, a request technique still loads.
    fs::remove_file(dir.join("histograms/stream.hlog")).unwrap();
    write_report(std::slice::from_ref(&dir), None).unwrap();
    let html = page(&dir);
    assert!(html.contains("No histogram for SSE: drawn through the summary&#39;s percentiles"));
    assert!(html.contains("No histogram for WebSocket: drawn through"));
    check_chart(&dir.join("report/itl_percentiles.png"), &["sse", "ws"]);
    check_chart(&dir.join("report/ttft_percentiles.png"), &["sse", "ws"]);
    assert!(html.contains("No histogram for HTTP stream: drawn through the summary&#39;s"));
    check_chart(&dir.join("report/latency_percentiles.png"), &["stream"]);
}

#[test]
fn a_broadcast_run_has_no_request_outputs() {
    let out = golden_common::scratch("request-broadcast");
    write_report(&[golden_common::fixture("run-full")], Some(&out)).unwrap();
    let (h, _) = read_csv(&out.join("report/techniques.csv"));
    assert!(!h.iter().any(|c| c == "ttft_p99_us"));
    let html = page(&out);
    assert!(!html.contains("Request-scoped"));
    assert!(!out.join("report/ttft_percentiles.png").exists());
    assert!(html.contains("Publish-to-receive latency"));
}

#[test]
fn the_findings_state_the_runs_numbers() {
    let dir = report("request-findings");
    let html = page(&dir);
    for needle in [
        "At a glance: lowest p99 lateness: WebSocket (1.00 ms);",
        "Long poll delivered 9,900 of 10,000 expected events (99.0%): 100 lost.",
        "Long poll: 2 of 50 requests failed (4.0%).",
        "WebSocket had the lowest TTFT p99: 21.0 ms, 1.00 ms (4.5%) below SSE&#39;s 22.0 ms, \
         the next lowest; the highest was long poll&#39;s, 30.0 ms.",
        "Against the configured first-event delay of 20.0 ms, TTFT p50 was within 5 ms for \
         long poll 24.0 ms, HTTP stream 20.4 ms, SSE 20.5 ms and WebSocket 20.3 ms.",
        "ITL p50 matched the configured 50.0 ms interval within 5% for HTTP stream 50.1 ms, \
         SSE 50.0 ms and WebSocket 49.9 ms.",
        "Long poll&#39;s ITL p50 was 60.0 ms, 20.0% above the configured 50.0 ms interval: \
         not within 5%.",
        "HTTP stream, SSE and WebSocket kept to the server&#39;s schedule: lateness p99 at \
         most 1.20 ms (SSE&#39;s), under one 50.0 ms interval.",
        "Long poll fell behind its schedule: its lateness p99 was 80.0 ms, more than one \
         50.0 ms interval (1.60× it).",
        "Long poll made 0.250 HTTP requests per delivered event (2,475 for 9,900 events: 4.00 \
         events per request on average)",
        "The server spent the least CPU per event on HTTP stream: 20.0 CPU-s per million \
         events; the most on long poll: 90.9.",
        "Server memory per open stream (RSS under load minus idle, per stream): long poll \
         4.00 KiB, HTTP stream 12.0 KiB, SSE 12.0 KiB, WebSocket 16.0 KiB.",
        "WebSocket had the lowest p99 lateness: 1.00 ms",
    ] {
        assert!(html.contains(needle), "page lacks: {needle}");
    }
    // The broadcast sentences a request run says per event instead are not there.
    assert!(!html.contains("ms per 1,000 delivered messages"));
    assert!(!html.contains("p99 latency"));
}

#[test]
fn the_request_claims_are_judged_on_the_runs_figures() {
    let dir = report("request-claims");
    let html = page(&dir);
    let row = |verdict: &str, class: &str, figure: &str| {
        format!("<td class=\"l {class}\">{verdict}</td><td class=\"l\">{figure}</td>")
    };
    for needle in [
        row(
            "holds",
            "holds",
            "TTFT p99 SSE 22.0 ms vs WebSocket 21.0 ms; ITL p99 SSE 51.0 ms vs WebSocket 50.8 ms",
        ),
        row(
            "does not hold",
            "does-not-hold",
            "ITL p50 60.0 ms (20.0% off the 50.0 ms interval), lateness p99 80.0 ms",
        ),
        row(
            "holds",
            "holds",
            "lateness p99: HTTP stream 1.20 ms, SSE 1.20 ms, WebSocket 1.00 ms",
        ),
        row(
            "holds",
            "holds",
            "CPU-s per 1M events: long poll 90.9 vs HTTP stream 20.0, SSE 25.0, WebSocket 30.0",
        ),
        // The broadcast claim about one request per connection is not judged on a request run.
        row(
            "not measured",
            "not-measured",
            "a request run: one request per stream by design (see Request-scoped streams)",
        ),
    ] {
        assert!(html.contains(&needle), "page lacks: {needle}");
    }
}

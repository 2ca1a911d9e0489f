//! "Servers compared": three run directories built from the format's types, of three servers
//! (pushbench's own with every server figure, an nchan target whose server figures are null and
//! which skipped WebSocket, a pushpin target with a peak RSS but no idle RSS and no WebSocket
//! at all), compared with `write_report`. The page's section and `report/servers.csv` show
//! each technique per run with the actual numbers, "not measured", the skip reason and "not
//! run"; a single run has neither.

mod golden_common;
mod run_fixture;

use std::fs;
use std::path::{Path, PathBuf};

use contract::run_dir::{Technique, TechniqueSummary};
use golden_common::{cell, read_csv};
use run_fixture::*;

fn run(
    base: &Path,
    name: &str,
    profile: Option<&str>,
    target: &str,
    ts: &[TechniqueSummary],
) -> PathBuf {
    let dir = base.join(name);
    let mut params = serde_json::json!({"clients": 100});
    if let Some(p) = profile {
        params["profile"] = p.into();
    }
    let rows: Vec<_> = ts
        .iter()
        .filter(|t| t.skipped.is_none())
        .enumerate()
        .flat_map(|(i, t)| seconds(t.technique, None, i as f64 * 15.0, 5, 100.0))
        .collect();
    write(&dir, &manifest(params, Some(target)), ts, &rows);
    dir
}

/// Compares the three servers; returns the output directory.
fn compare(name: &str) -> PathBuf {
    let base = scratch(name);
    let full = Some((0.05, 9_000_000, 8_000_000));
    let a = run(
        &base,
        "own",
        None,
        "embedded",
        &[
            technique(Technique::Sse, 100, 10_000, (3000, 8000), 300, full),
            technique(Technique::Ws, 100, 10_000, (2800, 6000), 280, full),
        ],
    );
    let mut sse = technique(Technique::Sse, 100, 9_000, (4000, 12_000), 320, None);
    sse.expected = Some(10_000);
    let b = run(
        &base,
        "nchan",
        Some("nchan"),
        "http://127.0.0.1:8080",
        &[
            sse,
            TechniqueSummary::skipped(Technique::Ws, "not offered by this target"),
        ],
    );
    let mut sse = technique(Technique::Sse, 100, 10_000, (5000, 9000), 310, None);
    sse.server_cpu_s = Some(0.2);
    sse.server_rss_bytes = Some(20_000_000);
    let c = run(
        &base,
        "pushpin",
        Some("pushpin"),
        "http://127.0.0.1:7999",
        &[sse],
    );
    let out = base.join("out");
    reports::write_report(&[a, b, c], Some(&out)).unwrap();
    out
}

/// The servers table's row of `technique` (display name) for run `label`.
fn html_row<'a>(html: &'a str, technique: &str, label: &str) -> &'a str {
    let start = html.find("id=\"servers\"").expect("no servers section");
    let table = &html[start..start + html[start..].find("</table>").unwrap()];
    table
        .split("<tr>")
        .find(|r| {
            r.contains(&format!("</span>{technique}</td>")) && r.contains(&format!(">{label}</td>"))
        })
        .unwrap_or_else(|| panic!("no row {technique} {label}"))
}

#[test]
fn the_page_compares_servers_technique_by_technique() {
    let out = compare("servers-page");
    let html = fs::read_to_string(out.join("index.html")).unwrap();
    assert!(html.contains("<h2 id=\"servers\">Servers compared</h2>"));
    for target in golden_common::references(&html) {
        assert!(
            out.join(&target).is_file(),
            "the page links {target}, not written"
        );
    }
    assert!(html.contains("href=\"report/servers.csv\""));
    let own = html_row(&html, "SSE", "own");
    for c in [
        "pushbench @ embedded",
        "<td>1000</td>",
        "<td>10,000 / 10,000 (100.0%)</td>",
        "<td>3.00 ms</td>",
        "<td>8.00 ms</td>",
        "<td>5.00</td>",
        "<td>9.77 KiB</td>",
        "<td>300 B</td>",
    ] {
        assert!(own.contains(c), "{c} not in {own}");
    }
    let nchan = html_row(&html, "SSE", "nchan");
    assert!(nchan.contains("nchan @ http://127.0.0.1:8080"), "{nchan}");
    assert!(nchan.contains("<td>9,000 / 10,000 (90.0%)</td>"), "{nchan}");
    assert!(nchan.contains("<td>900</td>"), "{nchan}");
    assert_eq!(nchan.matches("<td>not measured</td>").count(), 2, "{nchan}");
    let pushpin = html_row(&html, "SSE", "pushpin");
    assert!(pushpin.contains("<td>20.0</td>"), "{pushpin}");
    assert!(
        pushpin.contains("<td>195 KiB (peak RSS / clients; idle RSS unknown)</td>"),
        "{pushpin}"
    );
    let ws = html_row(&html, "WebSocket", "nchan");
    assert!(ws.contains("not offered by this target"), "{ws}");
    let ws = html_row(&html, "WebSocket", "pushpin");
    assert!(ws.contains(">not run</td>"), "{ws}");
    assert!(html_row(&html, "WebSocket", "own").contains("<td>2.80 ms</td>"));
}

#[test]
fn servers_csv_holds_the_same_rows() {
    let out = compare("servers-csv");
    let (h, rows) = read_csv(&out.join("report/servers.csv"));
    assert_eq!(h, reports::servers::CSV_COLUMNS);
    assert_eq!(rows.len(), 6, "two techniques × three runs");
    let find = |t: &str, run: &str| {
        rows.iter()
            .find(|r| cell(&h, r, "technique") == t && cell(&h, r, "run") == run)
            .unwrap_or_else(|| panic!("no {t} {run}"))
    };
    let own = find("sse", "own");
    assert_eq!(cell(&h, own, "profile"), "pushbench");
    assert_eq!(cell(&h, own, "target"), "embedded");
    assert_eq!(cell(&h, own, "status"), "measured");
    assert_eq!(cell(&h, own, "delivered_per_s"), "1000");
    assert_eq!(cell(&h, own, "latency_p50_us"), "3000");
    assert_eq!(cell(&h, own, "latency_p99_us"), "8000");
    assert_eq!(cell(&h, own, "server_cpu_s_per_1m_deliveries"), "5");
    assert_eq!(cell(&h, own, "server_rss_per_conn_bytes"), "10000");
    assert_eq!(
        cell(&h, own, "server_rss_per_conn_basis"),
        "peak-minus-idle"
    );
    assert_eq!(cell(&h, own, "bytes_per_msg"), "300");
    let nchan = find("sse", "nchan");
    assert_eq!(cell(&h, nchan, "profile"), "nchan");
    assert_eq!(cell(&h, nchan, "expected"), "10000");
    assert_eq!(cell(&h, nchan, "server_cpu_s_per_1m_deliveries"), "");
    assert_eq!(cell(&h, nchan, "server_rss_per_conn_bytes"), "");
    let pushpin = find("sse", "pushpin");
    assert_eq!(cell(&h, pushpin, "server_rss_per_conn_bytes"), "200000");
    assert_eq!(cell(&h, pushpin, "server_rss_per_conn_basis"), "peak");
    assert_eq!(
        cell(&h, find("ws", "nchan"), "status"),
        "not offered by this target"
    );
    assert_eq!(cell(&h, find("ws", "nchan"), "latency_p50_us"), "");
    assert_eq!(cell(&h, find("ws", "pushpin"), "status"), "not run");
}

#[test]
fn a_single_run_has_no_servers_section() {
    let base = scratch("servers-one");
    let out = base.join("out");
    let own = run(
        &base,
        "alone",
        None,
        "embedded",
        &[technique(
            Technique::Sse,
            100,
            10_000,
            (3000, 8000),
            300,
            None,
        )],
    );
    reports::write_report(&[own], Some(&out)).unwrap();
    let html = fs::read_to_string(out.join("index.html")).unwrap();
    assert!(!html.contains("Servers compared"));
    assert!(!out.join("report/servers.csv").exists());
}

//! "Broker": a run directory built from the format's types whose SSE technique ran with a
//! Redis broker (its figures and the server's /stats view of it) and whose WebSocket technique
//! had none; the page shows one broker row with those numbers. A run without a broker has no
//! section.

mod run_fixture;

use std::fs;

use contract::run_dir::{BrokerFigures, Technique};
use contract::stats::BrokerStatus;
use run_fixture::*;

#[test]
fn broker_section_shows_the_brokers_figures() {
    let base = scratch("broker-report");
    let dir = base.join("run");
    let full = Some((0.05, 9_000_000, 8_000_000));
    let mut sse = technique(Technique::Sse, 100, 10_000, (3000, 8000), 300, full);
    sse.broker = Some(BrokerFigures {
        kind: "redis".into(),
        cpu_s: Some(0.375),
        cpu_s_per_million_deliveries: Some(37.5),
        rss_peak_bytes: Some(12_582_912),
        in_msgs_per_s: Some(10.0),
        out_msgs_per_s: Some(20.0),
        messages_per_s: Some(30.0),
        restarts: 1,
        status: Some(BrokerStatus {
            kind: "redis".into(),
            url: "redis://127.0.0.1:1".into(),
            connected: true,
            disconnects: 3,
            received: 200,
            backfilled: 17,
            gaps: 2,
            refused: 5,
            processes: 2,
            connected_processes: 2,
            ..Default::default()
        }),
    });
    let ws = technique(Technique::Ws, 100, 10_000, (2800, 6000), 280, full);
    let rows: Vec<_> = [Technique::Sse, Technique::Ws]
        .iter()
        .enumerate()
        .flat_map(|(i, &t)| seconds(t, None, i as f64 * 15.0, 5, 100.0))
        .collect();
    write(
        &dir,
        &manifest(serde_json::json!({"clients": 100, "broker": "redis"}), None),
        &[sse, ws],
        &rows,
    );
    let out = base.join("out");
    reports::write_report(std::slice::from_ref(&dir), Some(&out)).unwrap();
    let html = fs::read_to_string(out.join("index.html")).unwrap();
    let at = html
        .find("<h2 id=\"broker\">Broker</h2>")
        .expect("a Broker section");
    let section = &html[at..];
    let section = &section[..section.find("</table>").unwrap()];
    assert!(section.contains("not</b> in the server"), "{section}");
    // One row: SSE's (WebSocket had no broker).
    assert_eq!(
        section.matches("<tr><td class=\"l\">").count(),
        1,
        "{section}"
    );
    let row = &section[section.find("<tr><td class=\"l\">").unwrap()..];
    let cells: Vec<&str> = row
        .split("<td>")
        .skip(1)
        .map(|c| c.split("</td>").next().unwrap())
        .collect();
    assert_eq!(
        cells,
        [
            "redis", "0.375", "37.5", "12.0 MiB", "10.0", "20.0", "1", "3", "2", "17", "5", "run"
        ],
        "{row}"
    );

    // Without a broker: no section.
    let plain = base.join("plain");
    let ws = technique(Technique::Ws, 100, 10_000, (2800, 6000), 280, full);
    write(
        &plain,
        &manifest(serde_json::json!({"clients": 100}), None),
        &[ws],
        &seconds(Technique::Ws, None, 0.0, 5, 100.0),
    );
    let out = base.join("plain-out");
    reports::write_report(std::slice::from_ref(&plain), Some(&out)).unwrap();
    let html = fs::read_to_string(out.join("index.html")).unwrap();
    assert!(!html.contains("id=\"broker\""));
}

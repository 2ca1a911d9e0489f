//! The link claims on a run's page, end to end: the committed fixture run, given a link in its
//! manifest (`params.link`) and latencies as a 200 ms link makes them, gets both claims decided
//! from its numbers; the fixture as committed (no link) says what to run to judge them.

mod golden_common;

use std::fs;
use std::path::Path;

use golden_common::*;
use reports::write_report;

fn edit_json(path: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let mut v: serde_json::Value = serde_json::from_slice(&fs::read(path).unwrap()).unwrap();
    edit(&mut v);
    fs::write(path, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
}

#[test]
fn a_run_over_a_link_decides_the_link_claims() {
    let dir = scratch("claims-link");
    let run = dir.join("run");
    copy_dir(&fixture("run-full"), &run);
    edit_json(&run.join("manifest.json"), |m| {
        m["params"]["link"] = "rtt=200ms".into();
        m["params"]["publisher_link"] = "none".into();
    });
    // 10 msg/s over 200 ms: long poll answered once per round trip (p50 ≈ RTT), SSE at RTT/2,
    // short poll at RTT/2 + 500 ms.
    edit_json(&run.join("summary.json"), |s| {
        for t in s["techniques"].as_array_mut().unwrap() {
            let p50_us = match t["technique"].as_str().unwrap() {
                "poll" => 601_000,
                "long-poll" => 201_500,
                _ => 100_700,
            };
            t["latency_us"]["p50"] = p50_us.into();
        }
    });
    write_report(std::slice::from_ref(&run), None).unwrap();
    let html = fs::read_to_string(run.join("index.html")).unwrap();
    for needle in [
        "<td class=\"l\">Long poll pays an extra round trip per message at high message \
         rates</td><td class=\"l holds\">holds</td><td class=\"l\">long poll p50 202 ms vs SSE \
         101 ms: +101 ms = 0.504 RTT, at rate × RTT = 2 (messages every 100 ms, RTT 200 ms)</td>",
        "<td class=\"l\">On a slow link SSE beats short polling</td><td class=\"l holds\">holds\
         </td><td class=\"l\">p50 SSE 101 ms vs short poll 601 ms; requests per message \
         0.000625 vs 0.100; bytes per message 272 B vs 307 B</td>",
    ] {
        assert!(html.contains(needle), "page lacks: {needle}");
    }
}

#[test]
fn a_run_without_a_link_says_what_to_run() {
    let out = scratch("claims-no-link");
    write_report(&[fixture("run-full")], Some(&out)).unwrap();
    let html = fs::read_to_string(out.join("index.html")).unwrap();
    let needs = "<td class=\"l not-measured\">not measured</td><td class=\"l\">needs a link: run \
                 with --link rtt=200ms to judge</td>";
    assert_eq!(html.matches(needs).count(), 2, "both link claims");
}

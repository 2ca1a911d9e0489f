//! Golden tests on the committed fixtures (tests/fixtures/, written by
//! `examples/make_fixture.rs` following docs/RUN_FORMAT.md): the CSV columns and values, every
//! chart decodes at 1600x1000 and is not blank, the page references only files that exist and
//! states the fixture's figures, a redraw gives byte-identical CSV, bad input gives typed errors,
//! and a partial run gets its banner. Outputs go to a temporary directory, never the fixture.

mod golden_common;

use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;

use golden_common::*;
use reports::{ReportError, write_report};

#[test]
fn techniques_csv_has_documented_columns_and_fixture_values() {
    let out = scratch("summary");
    let written = write_report(&[fixture("run-full")], Some(&out)).unwrap();
    assert!(!written.partial);
    let (h, rows) = read_csv(&out.join("report/techniques.csv"));
    let expected: Vec<&str> = reports::csv_out::SUMMARY_COLUMNS
        .iter()
        .map(|c| c.0)
        .collect();
    assert_eq!(h, expected);
    assert_eq!(rows.len(), 5);
    let order: Vec<&str> = rows.iter().map(|r| cell(&h, r, "technique")).collect();
    assert_eq!(order, ["poll", "long-poll", "stream", "sse", "ws"]);
    let poll = row(&h, &rows, "poll");
    assert_eq!(cell(&h, poll, "delivered"), "1600");
    assert_eq!(cell(&h, poll, "expected"), "1600");
    assert_eq!(cell(&h, poll, "requests"), "160");
    assert_eq!(cell(&h, poll, "requests_per_msg"), "0.1");
    assert_eq!(cell(&h, poll, "bytes_down_per_msg"), "297.7");
    assert_eq!(cell(&h, poll, "delivered_ratio"), "1");
    let lp = row(&h, &rows, "long-poll");
    assert_eq!(cell(&h, lp, "requests_per_msg"), "0.9825");
    // 0.118 s CPU for 1,600 messages = 73.75 ms per 1,000.
    assert_eq!(cell(&h, lp, "server_cpu_ms_per_1k_msgs"), "73.75");
    let ws = row(&h, &rows, "ws");
    // (peak − idle) / clients = 14,436 bytes.
    assert_eq!(cell(&h, ws, "server_rss_per_conn_bytes"), "14436");
    // 283.3 bytes per message both ways, minus the 256-byte payload.
    assert_eq!(cell(&h, ws, "overhead_bytes_per_msg"), "27.3");
    assert_eq!(cell(&h, ws, "errors_total"), "0");
    assert_eq!(cell(&h, ws, "failure"), "");
}

#[test]
fn timeseries_csv_copies_every_row() {
    let out = scratch("timeseries");
    write_report(&[fixture("run-full")], Some(&out)).unwrap();
    let (h, rows) = read_csv(&out.join("report/timeseries.csv"));
    // The run directory's columns (docs/RUN_FORMAT.md), in order. A single run has no
    // `repetition` column: it appears only when a run has repetitions (--repeat).
    let documented = "t_s,technique,phase,connections,delivered_per_s,latency_p99_us,\
                      bytes_down_per_s,bytes_up_per_s,requests_per_s,server_cpu_s,\
                      server_rss_bytes,loadgen_cpu_s";
    assert_eq!(h.join(","), documented);
    // 13 seconds per technique (1 ramp-up, 2 warm-up, 8 steady, 2 drain), five techniques.
    assert_eq!(rows.len(), 65);
    // The fixture's columns are copied as they are.
    let (src_h, src_rows) = read_csv(&fixture("run-full/timeseries.csv"));
    assert_eq!(src_h, h);
    for (a, b) in src_rows.iter().zip(&rows) {
        for (x, y) in a.iter().zip(b) {
            if x.is_empty() {
                assert!(y.is_empty());
            } else {
                let (fx, fy): (f64, f64) =
                    (x.parse().unwrap_or(f64::NAN), y.parse().unwrap_or(f64::NAN));
                assert!(x == y || fx == fy, "{x} vs {y}");
            }
        }
    }
}

#[test]
fn every_chart_decodes_at_full_size_and_is_not_blank() {
    let out = scratch("charts");
    let written = write_report(&[fixture("run-full")], Some(&out)).unwrap();
    let pngs: Vec<&PathBuf> = written
        .files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "png"))
        .collect();
    assert_eq!(pngs.len(), 5, "{pngs:?}");
    for png in pngs {
        let img = image::open(png).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), (1600, 1000), "{}", png.display());
        let colors: BTreeSet<[u8; 3]> = img.pixels().map(|p| p.0).collect();
        let ink = img.pixels().filter(|p| p.0 != [255, 255, 255]).count();
        assert!(
            colors.len() > 50,
            "{}: {} colours",
            png.display(),
            colors.len()
        );
        assert!(ink > 40_000, "{}: {ink} non-white pixels", png.display());
        // Every technique's colour appears (the legend and the data).
        for t in reports::colors::ORDER {
            let c = reports::colors::color(t);
            assert!(
                colors.contains(&[c.0, c.1, c.2]),
                "{}: no pixel of {t}'s colour",
                png.display()
            );
        }
    }
}

#[test]
fn page_references_existing_files_and_states_the_figures() {
    let out = scratch("page");
    let written = write_report(&[fixture("run-full")], Some(&out)).unwrap();
    assert_eq!(written.index, out.join("index.html"));
    let html = fs::read_to_string(&written.index).unwrap();
    let refs = references(&html);
    assert_eq!(refs.len(), 7, "5 charts and 2 CSV: {refs:?}");
    for r in &refs {
        assert!(!r.contains("://"), "no network: {r}");
        assert!(out.join(r).is_file(), "{r} does not exist");
    }
    assert!(!html.contains("<script"));
    assert!(!html.contains("id=\"partial\""));
    // Findings computed from the fixture's numbers.
    for needle in [
        "At a glance: lowest p99 latency: WebSocket (1.95 ms); fewest requests per message: \
         HTTP stream and WebSocket (0); fewest bytes per message: SSE (272 B); least server CPU \
         per message: short poll (13.1 ms per 1,000); least server memory per connection: \
         short poll (9.00 KiB).",
        "Every technique delivered every expected message (8,000 deliveries in all), with no \
         duplicates.",
        "WebSocket had the lowest p99 latency",
        "the highest was short poll&#39;s, 991 ms",
        "Short poll polling every 1000 ms sent 0.100 requests per delivered message (0.0% of \
         them answered with nothing new); long poll sent 0.983: 9.82× as many as short poll, \
         whose polls carried 10.0 messages each on average.",
        "SSE moved 272 B per delivered message of 256 B payload (272 B down, 0 B up)",
        "WebSocket 14.1 KiB",
        "Client and server byte counts agree within 0.1% for every technique.",
    ] {
        assert!(html.contains(needle), "page lacks: {needle}");
    }
    // The claims, with the figures that decided them.
    for needle in [
        "<td class=\"l does-not-hold\">does not hold</td><td class=\"l\">0 of 160 short-poll \
         requests empty (0.0%)</td>",
        "<td class=\"l does-not-hold\">does not hold</td><td class=\"l\">long poll 0.983 vs \
         short poll 0.100 requests per message</td>",
        "<td class=\"l holds\">holds</td><td class=\"l\">SSE 272 B per message vs WebSocket 283 \
         B per message</td>",
        "<td class=\"l holds\">holds</td><td class=\"l\">SSE 11.5 KiB per connection vs \
         WebSocket 14.1 KiB per connection</td>",
        "<td class=\"l holds\">holds</td><td class=\"l\">SSE 19.4 ms per 1,000 messages vs \
         WebSocket 21.2 ms per 1,000 messages</td>",
        "<td class=\"l holds\">holds</td><td class=\"l\">0 requests for 20 clients and 0 \
         reconnects, 1,600 messages delivered (0 requests per message)</td>",
        "<td class=\"l holds\">holds</td><td class=\"l\">1 request for 20 clients and 1 \
         reconnect, 1,600 messages delivered (0.000625 requests per message)",
    ] {
        assert!(html.contains(needle), "page lacks: {needle}");
    }
    // Text from the files is escaped.
    assert!(html.contains("AMD EPYC 7B13 &lt;fixture&gt;"));
    assert!(!html.contains("<fixture>"));
}

#[test]
fn redraw_gives_identical_csv() {
    let a = scratch("redraw-a");
    let b = scratch("redraw-b");
    write_report(&[fixture("run-full")], Some(&a)).unwrap();
    write_report(&[fixture("run-full")], Some(&b)).unwrap();
    for f in [
        "report/techniques.csv",
        "report/timeseries.csv",
        "index.html",
    ] {
        assert_eq!(
            fs::read(a.join(f)).unwrap(),
            fs::read(b.join(f)).unwrap(),
            "{f}"
        );
    }
    // And redrawing into the same place again changes nothing.
    write_report(&[fixture("run-full")], Some(&a)).unwrap();
    assert_eq!(
        fs::read(a.join("report/techniques.csv")).unwrap(),
        fs::read(b.join("report/techniques.csv")).unwrap()
    );
}

#[test]
fn a_redraw_renames_the_reports_old_summary_csv_and_leaves_the_runs_alone() {
    // A run directory whose report an older version wrote: report/summary.csv.
    let run = scratch("old-report");
    copy_dir(&fixture("run-full"), &run);
    fs::create_dir_all(run.join("report")).unwrap();
    fs::write(
        run.join("report/summary.csv"),
        "technique,clients\npoll,1\n",
    )
    .unwrap();
    write_report(std::slice::from_ref(&run), None).unwrap();
    assert!(run.join("report/techniques.csv").is_file());
    assert!(
        !run.join("report/summary.csv").exists(),
        "two different files named summary.csv"
    );
    // The run directory's own summary.csv is another file, untouched.
    assert_eq!(
        fs::read(run.join("summary.csv")).unwrap(),
        fs::read(fixture("run-full/summary.csv")).unwrap()
    );
}

#[test]
fn one_run_without_out_writes_into_the_run_directory() {
    let run = scratch("in-place");
    copy_dir(&fixture("run-full"), &run);
    let written = write_report(std::slice::from_ref(&run), None).unwrap();
    assert_eq!(written.index, run.join("index.html"));
    assert!(run.join("report/latency_percentiles.png").is_file());
}

#[test]
fn comparison_merges_runs_with_a_run_column() {
    let out = scratch("compare");
    let written = write_report(&[fixture("run-full"), fixture("run-partial")], Some(&out)).unwrap();
    assert!(written.partial);
    let (h, rows) = read_csv(&out.join("report/techniques.csv"));
    assert_eq!(h[0], "run");
    assert_eq!(rows.len(), 8);
    let runs: BTreeSet<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(runs, BTreeSet::from(["run-full", "run-partial"]));
    let (h, rows) = read_csv(&out.join("report/timeseries.csv"));
    assert_eq!(h[0], "run");
    assert_eq!(rows.len(), 65 + 13 + 13 + 7);
    let html = fs::read_to_string(&written.index).unwrap();
    for r in references(&html) {
        assert!(out.join(&r).is_file(), "{r} does not exist");
    }
    let pngs: Vec<&PathBuf> = written
        .files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "png"))
        .collect();
    assert_eq!(
        pngs.len(),
        6,
        "4 shared charts and one timeline per run: {pngs:?}"
    );
    for png in pngs {
        let img = image::open(png).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), (1600, 1000), "{}", png.display());
        let colors: BTreeSet<[u8; 3]> = img.pixels().map(|p| p.0).collect();
        assert!(
            colors.len() > 50,
            "{}: {} colours",
            png.display(),
            colors.len()
        );
    }
    assert!(out.join("report/over_time_A.png").is_file());
    assert!(out.join("report/over_time_B.png").is_file());
    // Several runs need somewhere to go.
    let err = write_report(&[fixture("run-full"), fixture("run-partial")], None).unwrap_err();
    assert!(matches!(err, ReportError::OutRequired(2)), "{err}");
}

#[test]
fn partial_run_reports_with_a_banner() {
    let out = scratch("partial");
    let written = write_report(&[fixture("run-partial")], Some(&out)).unwrap();
    assert!(written.partial);
    let html = fs::read_to_string(&written.index).unwrap();
    assert!(html.contains("<div class=\"banner\" id=\"partial\">PARTIAL RUN"));
    assert!(html.contains("the server process died during stream&#39;s steady state"));
    assert!(html.contains("HTTP stream stopped early: the server closed every connection"));
    assert!(
        html.contains("HTTP stream delivered 1,120 of 1,600 expected messages (70.0%): 480 lost.")
    );
    assert!(html.contains("not measured"));
}

#[test]
fn a_directory_that_is_not_a_run_is_refused() {
    let dir = scratch("not-a-run");
    fs::write(dir.join("notes.txt"), "hello").unwrap();
    let err = write_report(std::slice::from_ref(&dir), None).unwrap_err();
    assert!(matches!(err, ReportError::NotARun { .. }), "{err}");
    assert!(
        err.to_string().contains("not a pushbench run directory"),
        "{err}"
    );
    assert!(!dir.join("index.html").exists());

    let err = write_report(&[dir.join("nowhere")], None).unwrap_err();
    assert!(err.to_string().contains("no such directory"), "{err}");

    // A JSON manifest of something else.
    fs::write(dir.join("manifest.json"), r#"{"format":"other"}"#).unwrap();
    let err = write_report(std::slice::from_ref(&dir), None).unwrap_err();
    assert!(err.to_string().contains("format \"other\""), "{err}");
}

#[test]
fn a_wrong_format_version_is_refused() {
    let newer = with_version("newer", 2);
    let err = write_report(std::slice::from_ref(&newer), None).unwrap_err();
    assert!(
        matches!(
            err,
            ReportError::FormatTooNew {
                found: 2,
                supported: 1,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("newer"), "{err}");
    let older = with_version("older", 0);
    let err = write_report(std::slice::from_ref(&older), None).unwrap_err();
    assert!(
        matches!(err, ReportError::FormatTooOld { found: 0, .. }),
        "{err}"
    );
    assert!(!older.join("index.html").exists());
}

#[test]
fn missing_files_are_named() {
    let dir = scratch("missing-hlog");
    copy_dir(&fixture("run-full"), &dir);
    fs::remove_file(dir.join("histograms/sse.hlog")).unwrap();
    let err = write_report(std::slice::from_ref(&dir), None).unwrap_err();
    assert!(
        matches!(&err, ReportError::MissingHistogram { technique, count: 1600, .. } if technique == "sse"),
        "{err}"
    );
    fs::remove_file(dir.join("timeseries.csv")).unwrap();
    let err = write_report(std::slice::from_ref(&dir), None).unwrap_err();
    assert!(matches!(err, ReportError::MissingFile { .. }), "{err}");
    assert!(err.to_string().contains("timeseries.csv"), "{err}");
}

#[test]
fn a_histogram_merges_its_intervals_exactly() {
    let h = reports::hlog::load_hlog(&fixture("run-full/histograms/poll.hlog")).unwrap();
    assert_eq!(h.len(), 1600);
    let summary: serde_json::Value =
        serde_json::from_slice(&fs::read(fixture("run-full/summary.json")).unwrap()).unwrap();
    let p99 = summary["techniques"][0]["latency_us"]["p99"]
        .as_u64()
        .unwrap();
    assert_eq!(h.value_at_quantile(0.99), p99);
}

#[test]
fn a_technique_that_delivered_nothing_still_reports() {
    let dir = scratch("nothing-delivered");
    copy_dir(&fixture("run-full"), &dir);
    let path = dir.join("summary.json");
    let mut doc: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    let ws = &mut doc["techniques"][4];
    assert_eq!(ws["technique"], "ws");
    ws["delivered"] = 0.into();
    ws["lost"] = 1600.into();
    ws["bytes_down"] = 0.into();
    // As the format writes them: zeros when nothing was recorded, null for "none".
    ws["latency_us"] = serde_json::json!({"count": 0, "min": 0, "mean": 0.0, "p50": 0,
        "p90": 0, "p99": 0, "p999": 0, "max": 0});
    ws["connect_ms"] = serde_json::Value::Null;
    ws["first_message_ms"] = serde_json::Value::Null;
    ws["publish_failures"] = 3.into();
    ws["server_rss_idle_bytes"] = serde_json::Value::Null;
    ws["errors"] = serde_json::json!({"connect": 20});
    ws["failure"] = "every connection was refused".into();
    fs::write(&path, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    fs::remove_file(dir.join("histograms/ws.hlog")).unwrap();
    let written = write_report(std::slice::from_ref(&dir), None).unwrap();
    let html = fs::read_to_string(&written.index).unwrap();
    assert!(html.contains("WebSocket delivered 0 of 1,600 expected messages (0.0%): 1,600 lost."));
    assert!(html.contains("WebSocket stopped early: every connection was refused"));
    // Zero latencies of an empty histogram are not the lowest p99.
    assert!(
        html.contains("At a glance: lowest p99 latency: HTTP stream ("),
        "{html}"
    );
    assert!(html.contains("3 publish attempts failed while WebSocket ran"));
    assert!(html.contains("20 (20 connect)"));
    // SSE against WebSocket cannot be decided without WebSocket's figures.
    assert!(html.contains("no bytes per message for WebSocket"));
    assert!(html.contains("no memory per connection for WebSocket"));
    for png in written
        .files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "png"))
    {
        let img = image::open(png).unwrap();
        assert_eq!((img.width(), img.height()), (1600, 1000));
    }
}

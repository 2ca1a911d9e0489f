//! "Recovery": the committed fixtures `run-fault-resuming` (stream, SSE and WebSocket with
//! `--fault drop=5s --recovery resuming`, 40 cuts each and nothing lost) and
//! `run-fault-classic` (the same work with `--recovery classic`: HTTP stream lost 60 and
//! WebSocket 120 over 40 cuts, SSE nothing), reported together and alone with
//! `write_report`. The page's section and claims, `report/recovery.csv` and `recovery.png`
//! show the actual figures; a run without faults has none of them.

mod golden_common;

use std::fs;
use std::path::PathBuf;

use golden_common::{cell, fixture, read_csv, scratch};

/// Reports `runs` (fixture names) together into a fresh directory; returns it.
fn report(name: &str, runs: &[&str]) -> PathBuf {
    let out = scratch(name);
    let dirs: Vec<PathBuf> = runs.iter().map(|r| fixture(r)).collect();
    reports::write_report(&dirs, Some(&out)).unwrap();
    out
}

/// The page's section `id` up to the end of its first table.
fn table<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no {id}"));
    &html[start..start + html[start..].find("</table>").unwrap()]
}

/// The recovery table's row of `technique` (display name) with behaviour `recovery`.
fn html_row<'a>(html: &'a str, technique: &str, recovery: &str) -> &'a str {
    table(html, "recovery")
        .split("<tr>")
        .find(|r| {
            r.contains(&format!("</span>{technique}</td>"))
                && r.contains(&format!("<td>{recovery}</td>"))
        })
        .unwrap_or_else(|| panic!("no row {technique} {recovery}"))
}

/// The cells of a row, after the technique and run.
fn cells(row: &str) -> Vec<&str> {
    row.split("<td>")
        .skip(1)
        .map(|c| c.split("</td>").next().unwrap())
        .collect()
}

/// The verdict and figure of a recovery claim on the page.
fn claim<'a>(html: &'a str, claim: &str) -> (&'a str, &'a str) {
    let row = table(html, "recovery-claims")
        .split("<tr>")
        .find(|r| r.contains(&format!(">{claim}</td>")))
        .unwrap_or_else(|| panic!("no claim {claim}"));
    let tds: Vec<&str> = row
        .split("<td class=\"l")
        .skip(1)
        .map(|c| {
            let c = &c[c.find('>').unwrap() + 1..];
            c.split("</td>").next().unwrap()
        })
        .collect();
    (tds[1], tds[2])
}

/// Decodes a chart and checks it is the usual size and not one flat colour.
fn assert_drawn(path: &std::path::Path) {
    let img = image::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_rgb8();
    assert_eq!(img.dimensions(), (1600, 1000));
    let first = *img.get_pixel(0, 0);
    let other = img.pixels().filter(|p| **p != first).count();
    assert!(other > 20_000, "{} is nearly blank", path.display());
    // The techniques' colours are drawn: SSE's blue (0, 114, 178), in a bar or its legend box.
    let sse = img.pixels().filter(|p| p.0 == [0, 114, 178]).count();
    assert!(sse > 500, "no SSE bar in {}", path.display());
}

#[test]
fn resuming_and_classic_sit_side_by_side_on_the_page() {
    let out = report(
        "recovery-page",
        &["run-fault-classic", "run-fault-resuming"],
    );
    let html = fs::read_to_string(out.join("index.html")).unwrap();
    assert!(html.contains("<h2 id=\"recovery\">Recovery</h2>"));
    assert!(html.contains("<a href=\"#recovery\">Recovery</a>"));
    for target in golden_common::references(&html) {
        assert!(out.join(&target).is_file(), "the page links {target}");
    }
    // By technique, then resuming before classic, whatever order the runs were given in.
    let order: Vec<(usize, &str)> = ["HTTP stream", "SSE", "WebSocket"]
        .iter()
        .flat_map(|t| ["resuming", "classic"].map(|b| (*t, b)))
        .map(|(t, b)| {
            let row = html_row(&html, t, b);
            (html.find(row).unwrap(), b)
        })
        .collect();
    assert!(order.windows(2).all(|w| w[0].0 < w[1].0), "{order:?}");
    let c = |t, b| {
        cells(html_row(&html, t, b))
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>()
    };
    // fault, recovery, cuts, lost, per 1,000 cuts, duplicates, out of order, reconnects,
    // recovery p50, p99, gaps, server restarts.
    assert_eq!(
        c("WebSocket", "classic"),
        [
            "drop=5s", "classic", "40", "120", "3,000", "0", "0", "40", "12.0 ms", "47.5 ms", "0",
            "0"
        ]
    );
    assert_eq!(
        c("HTTP stream", "resuming"),
        [
            "drop=5s", "resuming", "40", "0", "0", "2", "0", "40", "11.0 ms", "45.0 ms", "0", "0"
        ]
    );
    assert_eq!(c("HTTP stream", "classic")[4], "1,500");
    assert_eq!(c("SSE", "classic")[9], "1.10 s");
    // No stall-reader fault: no stalled readers' columns.
    assert!(!table(&html, "recovery").contains("stalled"));

    assert_eq!(
        claim(&html, "SSE recovers without loss after a drop (resuming)"),
        ("holds", "0 lost over 40 cuts")
    );
    assert_eq!(
        claim(
            &html,
            "WebSocket recovers without loss after a drop (classic)"
        ),
        (
            "does not hold",
            "3,000 lost per 1,000 cuts (120 lost over 40 cuts)"
        )
    );
    assert_eq!(
        claim(&html, "SSE recovers without loss after a drop (classic)").0,
        "holds"
    );
    assert_eq!(
        claim(&html, "Resuming loses less than classic for WebSocket"),
        (
            "holds",
            "resuming 0 vs classic 3,000 lost per 1,000 cuts (0 over 40 cuts vs 120 over 40 cuts)"
        )
    );
    assert_eq!(
        claim(&html, "Resuming loses less than classic for SSE").0,
        "does not hold"
    );
    assert!(html.contains("href=\"report/recovery.csv\""));
    assert!(html.contains("src=\"report/recovery.png\""));
}

#[test]
fn recovery_csv_holds_every_row() {
    let out = report("recovery-csv", &["run-fault-resuming", "run-fault-classic"]);
    let (headers, rows) = read_csv(&out.join("report/recovery.csv"));
    assert_eq!(
        headers[..12],
        [
            "run",
            "technique",
            "fault",
            "recovery",
            "cuts",
            "drops",
            "idle_cuts",
            "lost",
            "lost_per_1000_cuts",
            "duplicates",
            "out_of_order",
            "reconnects"
        ]
    );
    let key = |r: &Vec<String>| {
        format!(
            "{}/{}",
            cell(&headers, r, "technique"),
            cell(&headers, r, "recovery")
        )
    };
    let keys: Vec<String> = rows.iter().map(key).collect();
    assert_eq!(
        keys,
        [
            "stream/resuming",
            "stream/classic",
            "sse/resuming",
            "sse/classic",
            "ws/resuming",
            "ws/classic"
        ]
    );
    let ws = &rows[5];
    for (col, want) in [
        ("run", "run-fault-classic"),
        ("fault", "drop=5s"),
        ("cuts", "40"),
        ("lost", "120"),
        ("lost_per_1000_cuts", "3000"),
        ("recovery_p50_ms", "12"),
        ("recovery_p99_ms", "47.5"),
        ("recoveries", "40"),
        ("gaps", "0"),
        ("server_restarts", "0"),
        ("stalled_clients", ""),
    ] {
        assert_eq!(cell(&headers, ws, col), want, "{col}");
    }
    assert_eq!(cell(&headers, &rows[0], "lost_per_1000_cuts"), "0");
    assert_eq!(cell(&headers, &rows[1], "lost"), "60");
}

#[test]
fn the_charts_are_drawn_with_two_behaviours_and_with_one() {
    let both = report(
        "recovery-charts",
        &["run-fault-resuming", "run-fault-classic"],
    );
    assert_drawn(&both.join("report/recovery.png"));
    let alone = report("recovery-chart-one", &["run-fault-classic"]);
    assert_drawn(&alone.join("report/recovery.png"));
    let html = fs::read_to_string(alone.join("index.html")).unwrap();
    // One behaviour: its claims, no comparison.
    assert_eq!(
        claim(
            &html,
            "HTTP stream recovers without loss after a drop (classic)"
        ),
        (
            "does not hold",
            "1,500 lost per 1,000 cuts (60 lost over 40 cuts)"
        )
    );
    assert!(!html.contains("loses less than classic"));
    assert!(alone.join("report/recovery.csv").is_file());
}

#[test]
fn a_run_without_faults_has_no_recovery() {
    let out = report("recovery-none", &["run-full"]);
    let html = fs::read_to_string(out.join("index.html")).unwrap();
    assert!(!html.contains("id=\"recovery\""), "a recovery section");
    assert!(!html.contains("recovery-claims"));
    assert!(!html.contains("recovery.csv"));
    assert!(!out.join("report/recovery.csv").exists());
    assert!(!out.join("report/recovery.png").exists());
}

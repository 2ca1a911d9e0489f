//! `pushbench run --repeat N` end to end (docs/RUN_FORMAT.md, "Repetitions"): each
//! repetition a readable run directory of its own with its own server, the top level each
//! figure's median with its min–max, the merged histogram every repetition's, the time series
//! tagged by repetition; checks judged on the median; compare taking its spread across the
//! repetitions; a run interrupted keeping the repetitions that completed; a --target measured
//! again by every repetition; bad counts refused.

mod run_common;

use std::path::Path;
use std::time::Duration;

use run_common::{SHORT_RUN, TempDir, run, spawn, technique, u, wait_exit, wait_for_path};

const LIMIT: Duration = Duration::from_secs(120);

fn args<'a>(out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["run", "--out", out, "--techniques", "sse,ws"];
    v.extend_from_slice(SHORT_RUN);
    v.extend_from_slice(extra);
    v
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn min_max(v: &[f64]) -> (f64, f64) {
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (lo, hi)
}

/// The repetitions' summaries (repetitions/1..=n).
fn reps(dir: &Path, n: u32) -> Vec<serde_json::Value> {
    (1..=n)
        .map(|k| json(&dir.join(format!("repetitions/{k}/summary.json"))))
        .collect()
}

/// A repeated run of sse and ws into `out`, with a check that holds and one that cannot;
/// returns its `--json` document (the run exits 5 for the failed check).
fn repeated_run(out: &Path) -> serde_json::Value {
    let o = out.to_str().unwrap();
    let extra = [
        "--repeat",
        "3",
        "--json",
        "--check",
        "sse.p99 < 10s",
        "--check",
        "ws.p50 < 1us",
    ];
    let r = run(&args(o, &extra), LIMIT);
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(5), "a failed check exits 5: {stderr}");
    for k in 1..=3 {
        assert!(
            stderr.contains(&format!("sse [rep {k}/3]:")),
            "progress names the repetition: {stderr}"
        );
    }
    serde_json::from_slice(&r.stdout).unwrap()
}

#[test]
fn three_repetitions_give_medians_ranges_merged_histograms_and_a_compare_spread() {
    let tmp = TempDir::new("repeat");
    let out = tmp.join("a");
    let doc = repeated_run(&out);
    assert_eq!(doc["manifest"]["params"]["repeat"], 3);
    assert_eq!(doc["manifest"]["partial"], false);
    assert!(out.join("index.html").is_file(), "the report is drawn");
    let reps = reps(&out, 3);
    let mut urls = Vec::new();
    for (k, r) in reps.iter().enumerate() {
        let dir = out.join(format!("repetitions/{}", k + 1));
        let run = reports::load::load_run(&dir, "rep").expect("a repetition is a run directory");
        assert_eq!(run.techniques.len(), 2);
        assert!(!dir.join("index.html").exists());
        let m = &r["manifest"];
        assert_eq!(
            (
                m["params"]["repeat"].as_u64(),
                m["params"]["repetition"].as_u64()
            ),
            (Some(3), Some(k as u64 + 1))
        );
        urls.push(m["server_url"].as_str().unwrap().to_string());
    }
    urls.dedup();
    assert_eq!(
        urls.len(),
        3,
        "each repetition had its own server: {urls:?}"
    );

    let top = reports::load::load_run(&out, "top").unwrap();
    for name in ["sse", "ws"] {
        let t = technique(&doc, name);
        let of = |f: &dyn Fn(&serde_json::Value) -> f64| -> Vec<f64> {
            reps.iter().map(|r| f(technique(r, name))).collect()
        };
        let p50 = of(&|t| t["latency_us"]["p50"].as_f64().unwrap());
        let p99 = of(&|t| t["latency_us"]["p99"].as_f64().unwrap());
        let delivered = of(&|t| t["delivered"].as_f64().unwrap());
        assert_eq!(
            t["latency_us"]["p50"].as_f64(),
            Some(median(&p50)),
            "{name} p50"
        );
        assert_eq!(
            t["latency_us"]["p99"].as_f64(),
            Some(median(&p99)),
            "{name} p99"
        );
        assert_eq!(t["delivered"].as_f64(), Some(median(&delivered)));
        let r = &t["repetitions"];
        assert_eq!(u(r, "count"), 3);
        for (fig, v) in [("p50", &p50), ("p99", &p99), ("delivered", &delivered)] {
            let (lo, hi) = min_max(v);
            let range = &r["figures"][fig];
            assert_eq!(
                (
                    range["min"].as_f64(),
                    range["median"].as_f64(),
                    range["max"].as_f64()
                ),
                (Some(lo), Some(median(v)), Some(hi)),
                "{name}.{fig}"
            );
        }
        let counts: u64 = reps
            .iter()
            .map(|r| u(&technique(r, name)["latency_us"], "count"))
            .sum();
        assert_eq!(
            top.histograms[name].len(),
            counts,
            "{name}: merged histogram"
        );
    }
    let csv = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    let head: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let col = head.iter().position(|h| *h == "repetitions").unwrap();
    assert!(
        csv.lines()
            .skip(1)
            .all(|l| l.split(',').nth(col) == Some("3"))
    );
    let mut seen: Vec<u32> = top.timeseries.iter().filter_map(|r| r.repetition).collect();
    seen.dedup();
    assert_eq!(seen, [1, 2, 3], "time series of every repetition, in order");
    assert!(top.timeseries.iter().all(|r| r.repetition.is_some()));

    // Checks: judged on the median, min–max beside it.
    let checks = json(&out.join("checks.json"));
    let c = checks.as_array().unwrap();
    assert_eq!(
        (c[0]["verdict"].as_str(), c[1]["verdict"].as_str()),
        (Some("pass"), Some("fail"))
    );
    let ws = &technique(&doc, "ws")["repetitions"]["figures"]["p50"];
    assert_eq!(c[1]["value"], ws["median"]);
    assert_eq!(
        (&c[1]["min"], &c[1]["max"], &c[1]["repetitions"]),
        (&ws["min"], &ws["max"], &serde_json::json!(3))
    );
    assert!(
        c[1]["detail"].as_str().unwrap().contains("median of 3"),
        "{}",
        c[1]
    );

    // Compare two repeated runs: the spread is the repetitions' min–max.
    let out_b = tmp.join("b");
    let doc_b = repeated_run(&out_b);
    let r = run(
        &[
            "compare",
            out.to_str().unwrap(),
            out_b.to_str().unwrap(),
            "--json",
        ],
        LIMIT,
    );
    assert!(
        r.status.code() == Some(0) || r.status.code() == Some(6),
        "{r:?}"
    );
    let cmp: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    let row = cmp["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["technique"] == "sse" && r["figure"] == "p99")
        .unwrap();
    assert_eq!(
        row["spread"]["how"],
        "min–max across repetitions (3 base, 3 new)"
    );
    let pct = |d: &serde_json::Value| {
        let f = &technique(d, "sse")["repetitions"]["figures"]["p99"];
        let (lo, mid, hi) = (
            f["min"].as_f64().unwrap(),
            f["median"].as_f64().unwrap(),
            f["max"].as_f64().unwrap(),
        );
        (hi - lo) / mid * 100.0
    };
    let want = pct(&doc).max(pct(&doc_b));
    let got = row["spread"]["pct"].as_f64().unwrap();
    assert!(
        (got - want).abs() < 1e-6,
        "spread {got} %, repetitions say {want} %"
    );
    let base_p99 = top.histograms["sse"].value_at_quantile(0.99) as f64 / 1000.0;
    assert_eq!(
        row["base"].as_f64(),
        Some(base_p99),
        "compared on the merged histogram"
    );
}

#[test]
fn an_interrupted_repeat_keeps_the_repetitions_that_completed() {
    let tmp = TempDir::new("repeat-int");
    let out = tmp.join("run");
    let o = out.to_str().unwrap();
    let mut a = args(o, &["--repeat", "3", "--no-report"]);
    // A longer window, so the interrupt lands inside the second repetition.
    let at = a.iter().position(|x| *x == "--duration").unwrap();
    a[at + 1] = "3s";
    let child = spawn(&a);
    let pid = child.id().to_string();
    wait_for_path(&out.join("repetitions/2/manifest.json"), LIMIT);
    run_common::signal(&pid, "INT");
    let r = wait_exit(child, LIMIT, "pushbench run still running after SIGINT");
    assert_eq!(
        r.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    let doc = json(&out.join("summary.json"));
    assert_eq!(doc["manifest"]["partial"], true);
    let failure = doc["manifest"]["failure"].as_str().unwrap();
    assert!(
        failure.contains("1 of 3 repetitions completed"),
        "{failure}"
    );
    for name in ["sse", "ws"] {
        assert_eq!(u(&technique(&doc, name)["repetitions"], "count"), 1);
    }
    assert!(!out.join("repetitions/3").exists());
    reports::load::load_run(&out, "top").expect("the top level reads");
}

#[test]
fn a_repeat_of_0_or_over_1000_is_refused_in_one_line() {
    let tmp = TempDir::new("repeat-bad");
    let scenario = tmp.join("s.toml");
    std::fs::write(&scenario, "repeat = 0\n").unwrap();
    let s = scenario.to_str().unwrap();
    for extra in [
        vec!["--repeat", "0"],
        vec!["--repeat", "1001"],
        vec!["--scenario", s],
    ] {
        let mut a = vec!["run"];
        a.extend(extra);
        let r = run(&a, LIMIT);
        let stderr = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(2), "{a:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{a:?}: {stderr}");
        assert!(stderr.contains("--repeat"), "{stderr}");
    }
}

#[test]
fn with_a_target_every_repetition_measures_that_same_server() {
    let server = run_common::ServeChild::start(&[]);
    let url = server.url();
    let tmp = TempDir::new("repeat-target");
    let out = tmp.join("run");
    let o = out.to_str().unwrap();
    let r = run(
        &args(o, &["--repeat", "2", "--target", &url, "--no-report"]),
        LIMIT,
    );
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(r.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "against --target {url} (the same server every time"
        )),
        "{stderr}"
    );
    for k in 1..=2 {
        let m = json(&out.join(format!("repetitions/{k}/manifest.json")));
        assert_eq!(m["server_url"], url.as_str());
        assert_eq!(m["fresh_server_per_technique"], false);
    }
    let doc = json(&out.join("summary.json"));
    assert_eq!(u(&technique(&doc, "ws")["repetitions"], "count"), 2);
    let table = String::from_utf8_lossy(&r.stdout);
    assert!(
        table.contains("median of 2 repetitions, each against the same server"),
        "{table}"
    );
}

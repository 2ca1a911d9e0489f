//! `pushbench compare` on run directories: copies of the reports crate's fixture run (five
//! techniques, real HdrHistogram logs, per-second rows), edited to hold a known change, and
//! two real short runs. A synthetic 30 % p99 regression is flagged (exit 6, a JUnit failure,
//! a ❌ in the Markdown); a change within the runs' spread is not; bad input exits 2.

mod run_common;

use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use contract::run_dir::hlog::{read_log, write_log};
use hdrhistogram::Histogram;
use run_common::{TempDir, run};

const FIGURES: usize = 9;
const TECHNIQUES: usize = 5;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../reports/tests/fixtures/run-full")
}

/// A copy of the fixture run at `tmp/name`.
fn copy_run(tmp: &TempDir, name: &str) -> PathBuf {
    let dst = tmp.join(name);
    for sub in ["", "histograms"] {
        std::fs::create_dir_all(dst.join(sub)).unwrap();
        for e in std::fs::read_dir(fixture().join(sub)).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_file() {
                std::fs::copy(e.path(), dst.join(sub).join(e.file_name())).unwrap();
            }
        }
    }
    dst
}

fn edit_json(path: &Path, f: impl FnOnce(&mut serde_json::Value)) {
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
}

/// Scales the slowest 10 % of `technique`'s latencies by `factor`: its p99 moves by `factor`,
/// its p50 stays. The histogram log and summary.json both say so.
fn scale_tail(dir: &Path, technique: &str, factor: f64) {
    let path = dir.join("histograms").join(format!("{technique}.hlog"));
    let h = read_log(&std::fs::read(&path).unwrap()).unwrap();
    let p90 = h.value_at_quantile(0.9);
    let mut scaled = Histogram::<u64>::new_with_bounds(1, h.high(), 3).unwrap();
    scaled.auto(true);
    for v in h.iter_recorded() {
        let value = v.value_iterated_to();
        let value = if value > p90 {
            (value as f64 * factor) as u64
        } else {
            value
        };
        scaled.record_n(value, v.count_at_value()).expect("record");
    }
    let p99 = scaled.value_at_quantile(0.99);
    let t0 = UNIX_EPOCH + Duration::from_secs(1_795_633_501);
    let log = write_log(&scaled, t0, t0, Duration::from_secs(8), technique).unwrap();
    std::fs::write(&path, log).unwrap();
    edit_json(&dir.join("summary.json"), |doc| {
        for t in doc["techniques"].as_array_mut().unwrap() {
            if t["technique"] == technique {
                t["latency_us"]["p99"] = p99.into();
            }
        }
    });
}

fn p99_of(dir: &Path, technique: &str) -> u64 {
    let path = dir.join("histograms").join(format!("{technique}.hlog"));
    read_log(&std::fs::read(path).unwrap())
        .unwrap()
        .value_at_quantile(0.99)
}

fn compare(args: &[&str]) -> (Option<i32>, String, String) {
    let mut all = vec!["compare"];
    all.extend_from_slice(args);
    let o = run(&all, Duration::from_secs(60));
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (o.status.code(), text(&o.stdout), text(&o.stderr))
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The table's line of `technique` `figure`.
fn line<'a>(table: &'a str, technique: &str, figure: &str) -> &'a str {
    table
        .lines()
        .find(|l| {
            let mut w = l.split_whitespace();
            w.next() == Some(technique) && w.next() == Some(figure)
        })
        .unwrap_or_else(|| panic!("no line {technique} {figure} in\n{table}"))
}

#[test]
fn a_30_percent_p99_regression_is_flagged_everywhere() {
    let tmp = TempDir::new("cmp-regress");
    let base = copy_run(&tmp, "base");
    let new = copy_run(&tmp, "new");
    let before = p99_of(&new, "sse");
    scale_tail(&new, "sse", 1.3);
    let after = p99_of(&new, "sse") as f64 / before as f64;
    assert!((1.25..1.35).contains(&after), "p99 scaled by {after}");
    let (md, xml) = (tmp.join("summary.md"), tmp.join("junit.xml"));
    let (code, out, err) = compare(&[s(&base), s(&new), "--markdown", s(&md), "--junit", s(&xml)]);
    assert_eq!(code, Some(6), "{out}{err}");
    assert!(line(&out, "sse", "p99").contains("REGRESSION"), "{out}");
    assert!(line(&out, "sse", "p50").contains(" ok "), "{out}");
    assert_eq!(out.matches("REGRESSION").count(), 1, "{out}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("pushbench: error: 1 regression(s): sse.p99"),
        "{err}"
    );

    let xml = std::fs::read_to_string(&xml).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}: {xml}"));
    let cases: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), TECHNIQUES * FIGURES);
    let failed: Vec<(&str, &str)> = cases
        .iter()
        .filter(|c| c.children().any(|n| n.has_tag_name("failure")))
        .map(|c| {
            (
                c.attribute("classname").unwrap(),
                c.attribute("name").unwrap(),
            )
        })
        .collect();
    assert_eq!(failed, [("sse", "p99")]);
    let suite = doc
        .descendants()
        .find(|n| n.has_tag_name("testsuite"))
        .unwrap();
    assert_eq!(suite.attribute("failures"), Some("1"));

    let md = std::fs::read_to_string(&md).unwrap();
    assert!(
        md.contains("| | technique | figure | base | new | change |"),
        "{md}"
    );
    assert!(md.contains("❌ **1 regression(s)**"), "{md}");
    assert!(md.contains("| ❌ | sse | p99 (ms) |"), "{md}");
    assert!(md.contains("| ✅ | ws | p99 (ms) |"), "{md}");
    assert!(md.contains("within-run: 2·sd/√n of per-second p99"), "{md}");
    assert!(md.contains("| clients | 20 | 20 |"), "{md}");
}

#[test]
fn identical_runs_in_other_places_compare_clean_and_lost_from_zero_fails() {
    let tmp = TempDir::new("cmp-same");
    let base = copy_run(&tmp, "base");
    let new = copy_run(&tmp, "elsewhere");
    // What does not change the workload: the output path, the seed, source addresses.
    edit_json(&new.join("manifest.json"), |m| {
        m["command_line"] = serde_json::json!(["pushbench", "run", "--out", "/tmp/other"]);
        m["params"]["seed"] = 7.into();
        m["params"]["source_addrs"] = serde_json::json!([]);
        m["params"]["rate"] = 10.into();
    });
    let (code, out, err) = compare(&[s(&base), s(&new), "--json"]);
    assert_eq!(code, Some(0), "{out}{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["regressions"], 0);
    let rows = doc["rows"].as_array().unwrap();
    assert_eq!(rows.len(), TECHNIQUES * FIGURES);
    assert!(rows.iter().all(|r| r["verdict"] == "ok"), "{out}");

    edit_json(&new.join("summary.json"), |doc| {
        doc["techniques"][4]["lost"] = 3.into();
    });
    let (code, out, err) = compare(&[s(&base), s(&new)]);
    assert_eq!(code, Some(6), "{out}{err}");
    assert!(line(&out, "ws", "lost").contains("REGRESSION"), "{out}");
    assert!(line(&out, "ws", "lost").contains("from 0"), "{out}");
}

#[test]
fn a_change_within_the_baselines_spread_is_noise_and_beyond_it_a_regression() {
    let tmp = TempDir::new("cmp-spread");
    let b1 = copy_run(&tmp, "b1");
    let b2 = copy_run(&tmp, "b2");
    let b3 = copy_run(&tmp, "b3");
    scale_tail(&b3, "ws", 1.25);
    let within = copy_run(&tmp, "within");
    scale_tail(&within, "ws", 1.2);
    let beyond = copy_run(&tmp, "beyond");
    scale_tail(&beyond, "ws", 1.4);
    let bases = ["--base", s(&b1), "--base", s(&b2), "--base", s(&b3)];

    let mut args = bases.to_vec();
    args.push(s(&within));
    let (code, out, err) = compare(&args);
    assert_eq!(code, Some(0), "{out}{err}");
    let l = line(&out, "ws", "p99");
    assert!(l.contains("within noise"), "{l}");
    assert!(out.contains("min–max across runs (3 base, 1 new)"), "{out}");

    let mut args = bases.to_vec();
    args.push(s(&beyond));
    let (code, out, err) = compare(&args);
    assert_eq!(code, Some(6), "{out}{err}");
    assert!(line(&out, "ws", "p99").contains("REGRESSION"), "{out}");
    // A looser threshold lets it pass.
    args.extend(["--max-regression", "p99=50%"]);
    let (code, out, err) = compare(&args);
    assert_eq!(code, Some(0), "{out}{err}");
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    let tmp = TempDir::new("cmp-bad");
    let base = copy_run(&tmp, "base");
    let other = copy_run(&tmp, "other");
    edit_json(&other.join("manifest.json"), |m| {
        m["params"]["clients"] = 40.into();
    });
    let empty = tmp.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let missing = tmp.join("missing");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec![s(&base), s(&other)], "clients is 20 in one and 40"),
        (vec![s(&base), s(&missing)], "no such directory"),
        (vec![s(&empty), s(&base)], "not a pushbench run directory"),
        (vec![s(&base)], "is it the base or the new run"),
        (
            vec![s(&base), s(&base), "--max-regression", "p98=10%"],
            "unknown figure \"p98\"",
        ),
        (
            vec![s(&base), s(&base), "--max-regression", "p99=ten%"],
            "is not a percentage",
        ),
    ];
    for (args, says) in cases {
        let (code, out, err) = compare(&args);
        assert_eq!(code, Some(2), "{args:?}: {out}{err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

#[test]
fn two_real_runs_of_one_workload_in_two_directories_compare() {
    let tmp = TempDir::new("cmp-real");
    let (a, b) = (tmp.join("a"), tmp.join("b"));
    for dir in [&a, &b] {
        let o = run(
            &[
                "run",
                "--techniques",
                "sse,ws",
                "--clients",
                "5",
                "--rate",
                "20",
                "--warmup",
                "500ms",
                "--duration",
                "3s",
                "--drain",
                "500ms",
                "--pause",
                "0s",
                "--no-report",
                "--out",
                s(dir),
            ],
            Duration::from_secs(120),
        );
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(0), "{err}");
    }
    let (code, out, err) = compare(&[s(&a), s(&b)]);
    // Two real runs on a shared machine may differ by more than their spread: 0 or 6, never
    // a refusal.
    assert!(matches!(code, Some(0 | 6)), "{out}{err}");
    for t in ["sse", "ws"] {
        assert!(
            !line(&out, t, "throughput").contains("not measured"),
            "{out}"
        );
        assert!(!line(&out, t, "p99").contains("n/a"), "{out}");
    }
}

#[test]
fn with_one_run_per_side_a_noisy_run_calls_a_larger_change_noise() {
    use contract::run_dir::TimeseriesRow;
    let tmp = TempDir::new("cmp-within");
    let base = copy_run(&tmp, "base");
    let new = copy_run(&tmp, "new");
    scale_tail(&new, "sse", 1.2);
    let (code, out, _) = compare(&[s(&base), s(&new)]);
    assert_eq!(
        code,
        Some(6),
        "steady per-second p99s: a 20 % change is beyond them\n{out}"
    );
    // The new run's per-second p99 swings by ±60 % in its steady state: 20 % is within that.
    let path = new.join("timeseries.csv");
    let mut rows: Vec<TimeseriesRow> = csv::Reader::from_path(&path)
        .unwrap()
        .deserialize()
        .collect::<Result<_, _>>()
        .unwrap();
    let steady =
        |r: &TimeseriesRow| r.technique.name() == "sse" && r.phase.as_deref() == Some("steady");
    for (i, r) in rows.iter_mut().filter(|r| steady(r)).enumerate() {
        let f = if i % 2 == 0 { 0.4 } else { 1.6 };
        r.latency_p99_us = r.latency_p99_us.map(|v| (v as f64 * f) as u64);
    }
    contract::run_dir::csv::write_file(&path, &rows).unwrap();
    let (code, out, err) = compare(&[s(&base), s(&new)]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(line(&out, "sse", "p99").contains("within noise"), "{out}");
}

/// The compare command of docs/CI.md's workflow, run as written on two runs: its options exist
/// and it writes the step summary and the JUnit file. The run command's options exist too.
#[test]
fn the_ci_example_commands_run_as_written() {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/CI.md"))
        .unwrap();
    let command = |start: &str| -> Vec<String> {
        let at = doc
            .find(start)
            .unwrap_or_else(|| panic!("CI.md has no `{start}`"));
        let block: Vec<&str> = doc[at..]
            .lines()
            .take_while(|l| !l.trim().is_empty() && !l.trim_start().starts_with("- "))
            .collect();
        block
            .join(" ")
            .split_whitespace()
            .skip(1)
            .map(|w| w.trim_matches(|c| c == '\'' || c == '"').to_string())
            .collect()
    };
    let tmp = TempDir::new("cmp-ci");
    let bench = tmp.join("bench");
    std::fs::create_dir_all(&bench).unwrap();
    copy_run(&tmp, "bench/base");
    copy_run(&tmp, "bench/new");
    let summary = tmp.join("summary.md");
    let args: Vec<String> = command("./target/release/pushbench compare")
        .into_iter()
        .map(|w| match w.as_str() {
            "bench/base" | "bench/new" => s(&tmp.join(&w)).to_string(),
            "$GITHUB_STEP_SUMMARY" => s(&summary).to_string(),
            "junit.xml" => s(&tmp.join("junit.xml")).to_string(),
            _ => w,
        })
        .collect();
    assert_eq!(args[0], "compare", "{args:?}");
    let refs: Vec<&str> = args.iter().skip(1).map(String::as_str).collect();
    let (code, out, err) = compare(&refs);
    assert_eq!(code, Some(0), "{args:?}: {out}{err}");
    assert!(
        std::fs::read_to_string(&summary)
            .unwrap()
            .contains("✅ **No regression**")
    );
    assert!(tmp.join("junit.xml").is_file());

    let run_args = command("./target/release/pushbench run");
    let help = run(&["run", "--help"], Duration::from_secs(30));
    let help = String::from_utf8_lossy(&help.stdout);
    for opt in run_args.iter().filter(|w| w.starts_with("--")) {
        assert!(help.contains(&format!("{opt} ")), "run has no {opt}");
    }
}

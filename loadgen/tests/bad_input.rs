//! Bad inputs to `pushbench report`, `run`, `merge`, `plan` and `sweep`: a file where a
//! directory is expected, an empty directory, truncated or garbage JSON, an empty, garbage or
//! hostile `.hlog`, a directory of another format version. Each must end with one plain line
//! on stderr naming the file or option (no Rust debug forms, no clause said twice) and a
//! non-zero exit status; none may allocate what a crafted header claims.

mod run_common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use loadgen::stats::new_histogram;
use loadgen::technique::Technique;
use loadgen::worker::protocol::{self, Counts, WorkerReport};
use run_common::{TempDir, bin, run};

/// A full run directory (the reports crate's fixture), copied so a case can spoil it.
fn fixture_copy(to: &Path) -> PathBuf {
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../reports/tests/fixtures/run-full");
    copy_dir(&from, to);
    to.to_path_buf()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

/// The base64 of a compressed V2 histogram whose inner header claims 2 GiB of counts: ~60
/// bytes that made the deserializer allocate 2 GB before failing.
fn hostile_histogram() -> String {
    use std::io::Write;
    let mut inner = Vec::new();
    inner.extend_from_slice(&0x1c84_9313u32.to_be_bytes()); // V2 cookie
    inner.extend_from_slice(&0x7fff_ffffu32.to_be_bytes()); // claimed payload length
    inner.extend_from_slice(&0u32.to_be_bytes()); // normalizing offset
    inner.extend_from_slice(&3u32.to_be_bytes()); // significant digits
    inner.extend_from_slice(&1u64.to_be_bytes()); // lowest
    inner.extend_from_slice(&3_600_000_000u64.to_be_bytes()); // highest
    inner.extend_from_slice(&1.0f64.to_be_bytes()); // integer-to-double ratio
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(&inner).unwrap();
    let body = z.finish().unwrap();
    let mut outer = Vec::new();
    outer.extend_from_slice(&0x1c84_9314u32.to_be_bytes()); // V2 compressed cookie
    outer.extend_from_slice(&(body.len() as u32).to_be_bytes());
    outer.extend_from_slice(&body);
    base64::engine::general_purpose::STANDARD.encode(outer)
}

/// Replaces the first interval line of `hlog` (line 2 in a run's logs) with `encoded`.
fn replace_interval(hlog: &Path, encoded: &str) {
    let text = std::fs::read_to_string(hlog).unwrap();
    let out: Vec<String> = text
        .lines()
        .map(|l| match l.strip_prefix("Tag=") {
            Some(rest) => {
                let fields: Vec<&str> = rest.splitn(5, ',').collect();
                format!(
                    "Tag={},{},{},{},{encoded}",
                    fields[0], fields[1], fields[2], fields[3]
                )
            }
            None => l.to_string(),
        })
        .collect();
    assert!(text.lines().nth(1).unwrap().starts_with("Tag="), "{text}");
    std::fs::write(hlog, out.join("\n") + "\n").unwrap();
}

/// A worker run directory holding one report whose latency histogram is `latency`.
fn worker_dir(dir: &Path, latency: String) -> PathBuf {
    std::fs::create_dir_all(dir.join("raw")).unwrap();
    let m = serde_json::json!({"format": "pushbench-worker", "format_version": 1, "run_id": "x"});
    std::fs::write(dir.join("manifest.json"), m.to_string()).unwrap();
    let empty = protocol::encode(&new_histogram());
    let r = WorkerReport {
        index: 0,
        technique: Technique::Sse,
        clients: 1,
        published: 1,
        expected: 1,
        window: Counts::default(),
        phase: Counts::default(),
        latency,
        connect: empty.clone(),
        first_message: empty,
        clients_not_closed: 0,
        loadgen_cpu_s: None,
        loadgen_rss_bytes: None,
        window_start_us: 1,
        window_end_us: 2,
        failure: None,
        link: None,
        link_cpu_s: None,
        recovery: None,
        stalled_latency: None,
        others_latency: None,
    };
    let raw = serde_json::to_string(&r).unwrap();
    std::fs::write(dir.join("raw/sse.json"), raw).unwrap();
    dir.to_path_buf()
}

/// Bad inputs: what, the command, what its error must name, its exit status. `{name}` stands
/// for `name` in the test's directory (prepared by [`prepare`]).
const CASES: &[(&str, &str, &str, i32)] = &[
    (
        "report of a file",
        "report {a-file}",
        "{a-file}: not a pushbench run",
        1,
    ),
    (
        "report of an empty dir",
        "report {empty}",
        "{empty}: not a pushbench run",
        1,
    ),
    (
        "report of no dir",
        "report {nothing}",
        "{nothing}: not a pushbench run",
        1,
    ),
    (
        "truncated json",
        "report {truncated} --out {out}",
        "{truncated}/summary.json: ",
        1,
    ),
    (
        "truncated csv",
        "report {truncated-csv} --out {out}",
        "{truncated-csv}/summary.csv: no row for technique",
        1,
    ),
    (
        "garbage json",
        "report {garbage} --out {out}",
        "{garbage}/manifest.json: ",
        1,
    ),
    (
        "newer format",
        "report {newer} --out {out}",
        "{newer}/manifest.json: run directory format version 9",
        1,
    ),
    (
        "empty .hlog",
        "report {empty-hlog} --out {out}",
        "{empty-hlog}/histograms/sse.hlog, line 1: ",
        1,
    ),
    (
        "garbage .hlog",
        "report {garbage-hlog} --out {out}",
        "{garbage-hlog}/histograms/sse.hlog, line 1: ",
        1,
    ),
    (
        "hostile .hlog",
        "report {hostile-hlog} --out {out}",
        "{hostile-hlog}/histograms/sse.hlog, line 2: ",
        1,
    ),
    (
        "report --out a file",
        "report {good} --out {a-file}",
        "{a-file}/report: Not a directory",
        1,
    ),
    (
        "a chart where a dir is",
        "report {chart-dir}",
        "{chart-dir}/report/latency_percentiles.png: Is a",
        1,
    ),
    (
        "merge of a file",
        "merge {a-file} --out {out}",
        "{a-file}: not a directory",
        1,
    ),
    (
        "merge of an empty dir",
        "merge {empty} --out {out}",
        "{empty}: not a run or worker directory",
        1,
    ),
    (
        "merge of garbage",
        "merge {garbage} --out {out}",
        "{garbage}/manifest.json: not valid JSON",
        1,
    ),
    (
        "merge of truncated raw",
        "merge {bad-raw} --out {out}",
        "{bad-raw}/raw/sse.json: not valid JSON",
        1,
    ),
    (
        "merge of a hostile histogram",
        "merge {hostile-raw} --out {out}",
        "{hostile-raw}/raw/sse.json: the histogram's header claims",
        1,
    ),
    (
        "plan of a file",
        "plan {a-file}",
        "{a-file}: not a pushbench sweep directory",
        1,
    ),
    (
        "plan of garbage",
        "plan {bad-sweep}",
        "{bad-sweep}: not a pushbench sweep directory",
        1,
    ),
    (
        "worker plan of garbage",
        "worker --plan {bad.toml}",
        "--plan {bad.toml}: not a worker plan: ",
        1,
    ),
    (
        "scenario syntax",
        "run --scenario {bad.toml}",
        "--scenario {bad.toml}: line 2: ",
        2,
    ),
    (
        "scenario is a dir",
        "run --scenario {empty}",
        "--scenario {empty}: ",
        2,
    ),
    (
        "sweep --out under a file",
        "sweep --out {a-file}/sub",
        "{a-file}/sub: Not a directory",
        1,
    ),
    (
        "run --out under a file",
        "run --out {a-file}/sub --no-report --techniques sse --clients 1",
        "{a-file}/sub: Not a directory",
        1,
    ),
];

/// Fills the test directory with the inputs [`CASES`] name.
fn prepare(tmp: &Path) {
    std::fs::write(tmp.join("a-file"), "not a directory\n").unwrap();
    std::fs::create_dir_all(tmp.join("empty")).unwrap();
    fixture_copy(&tmp.join("good"));
    let truncated = fixture_copy(&tmp.join("truncated"));
    let text = std::fs::read_to_string(truncated.join("summary.json")).unwrap();
    std::fs::write(truncated.join("summary.json"), &text[..text.len() / 3]).unwrap();
    let csv = fixture_copy(&tmp.join("truncated-csv")).join("summary.csv");
    let text = std::fs::read_to_string(&csv).unwrap();
    std::fs::write(&csv, text.lines().next().unwrap().to_string() + "\n").unwrap();
    let garbage = fixture_copy(&tmp.join("garbage"));
    std::fs::write(garbage.join("manifest.json"), "<html>not json</html>\n").unwrap();
    let newer = fixture_copy(&tmp.join("newer"));
    let m = std::fs::read_to_string(newer.join("manifest.json")).unwrap();
    let m = m.replacen("\"format_version\": 1", "\"format_version\": 9", 1);
    std::fs::write(newer.join("manifest.json"), m).unwrap();
    let hlog = |d: &Path| d.join("histograms/sse.hlog");
    std::fs::write(hlog(&fixture_copy(&tmp.join("empty-hlog"))), "").unwrap();
    std::fs::write(hlog(&fixture_copy(&tmp.join("garbage-hlog"))), "garbage\n").unwrap();
    replace_interval(
        &hlog(&fixture_copy(&tmp.join("hostile-hlog"))),
        &hostile_histogram(),
    );
    let chart_dir = fixture_copy(&tmp.join("chart-dir"));
    std::fs::create_dir_all(chart_dir.join("report/latency_percentiles.png")).unwrap();
    let bad_raw = worker_dir(&tmp.join("bad-raw"), String::new());
    std::fs::write(bad_raw.join("raw/sse.json"), "{\"index\": 0, ").unwrap();
    worker_dir(&tmp.join("hostile-raw"), hostile_histogram());
    std::fs::create_dir_all(tmp.join("bad-sweep")).unwrap();
    std::fs::write(tmp.join("bad-sweep/sweep.json"), "{\"format\": ").unwrap();
    std::fs::write(tmp.join("bad.toml"), "clients = 3\nrate = = 2\n").unwrap();
}

/// `text` with each `{name}` replaced by the path of `name` in `dir`.
fn expand(text: &str, dir: &Path) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find('{') {
        let j = rest[i..].find('}').expect("closing brace") + i;
        out.push_str(&rest[..i]);
        out.push_str(dir.join(&rest[i + 1..j]).to_str().unwrap());
        rest = &rest[j + 1..];
    }
    out + rest
}

/// What is wrong with `stderr` (the exit status was `code`), if it is not one plain line
/// naming `names` with no debug form or repeated clause after exit status `want`.
fn fault(stderr: &str, code: Option<i32>, want: i32, names: &str) -> Option<String> {
    if code != Some(want) {
        return Some(format!("exit status {code:?}, not {want}"));
    }
    let lines: Vec<&str> = stderr.lines().collect();
    let [line] = lines[..] else {
        return Some(format!("{} lines, not one", lines.len()));
    };
    if !line.starts_with("pushbench: error: ") || !line.contains(names) {
        return Some(format!("does not name `{names}`"));
    }
    let debug = [
        "{ ",
        " }",
        "Error(",
        "Os {",
        "kind:",
        "ParseError",
        "Cookie",
        "TooSmall",
    ];
    if let Some(d) = debug.iter().find(|d| line.contains(**d)) {
        return Some(format!("a debug form (`{d}`)"));
    }
    let clauses: Vec<&str> = line.split(": ").map(str::trim).collect();
    let twice = (0..clauses.len()).find(|&i| clauses[i + 1..].contains(&clauses[i]));
    if let Some(i) = twice {
        return Some(format!("`{}` said twice", clauses[i]));
    }
    (line.matches("(os error").count() > 1).then(|| "an OS error said twice".into())
}

#[test]
fn bad_inputs_end_with_one_plain_line_naming_the_file() {
    let tmp = TempDir::new("bad-input");
    prepare(&tmp.0);
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = busy.local_addr().unwrap().to_string();
    let serve = ["serve --listen ", &busy].concat();
    let serve_names = format!("cannot listen on {busy}: Address already in use");
    let mut faults = Vec::new();
    let dynamic = [(
        "serve on a busy port",
        serve.as_str(),
        serve_names.as_str(),
        1,
    )];
    for &(what, args, names, code) in CASES.iter().chain(&dynamic) {
        let args = expand(args, &tmp.0);
        let o = run(
            &args.split_whitespace().collect::<Vec<_>>(),
            Duration::from_secs(30),
        );
        let stderr = String::from_utf8_lossy(&o.stderr);
        if let Some(f) = fault(&stderr, o.status.code(), code, &expand(names, &tmp.0)) {
            faults.push(format!("{what}: {f}: {}", stderr.trim_end()));
        }
    }
    assert!(faults.is_empty(), "\n{}", faults.join("\n"));
}

#[test]
fn a_hostile_hlog_is_refused_without_allocating_what_it_claims() {
    // Under a 1 GiB address-space limit: the 2 GB the line claims cannot be allocated, so
    // reading it as the old code did would abort instead of printing an error.
    let tmp = TempDir::new("hostile-hlog");
    let dir = fixture_copy(&tmp.join("run"));
    let hlog = dir.join("histograms/sse.hlog");
    replace_interval(&hlog, &hostile_histogram());
    let line = std::fs::read_to_string(&hlog).unwrap();
    assert!(line.lines().nth(1).unwrap().len() < 200, "a short line");
    let o = Command::new("bash")
        .args([
            "-c",
            "ulimit -v 1048576 && exec \"$@\"",
            "bounded",
            bin(),
            "report",
        ])
        .arg(&dir)
        .arg("--out")
        .arg(tmp.join("out"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    let names = format!("{}, line 2: ", hlog.display());
    assert_eq!(fault(&stderr, o.status.code(), 1, &names), None, "{stderr}");
    assert!(stderr.contains("claims 2147483647 bytes"), "{stderr}");
}

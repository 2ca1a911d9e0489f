//! End-to-end tests of `pushbench sweep` with the real binary and a real child server, kept to
//! a few seconds: tiny client counts, 1 s windows. An objective set to break finds no knee
//! (and a plan of that sweep fails clearly); a step past this process's descriptor limit stops
//! the technique as "out of descriptors" with the knee at the step before. The files decode.

mod run_common;

use std::path::Path;
use std::time::Duration;

use run_common::{TempDir, run};

const QUICK: [&str; 8] = [
    "--duration",
    "1s",
    "--warmup",
    "200ms",
    "--drain",
    "500ms",
    "--ramp-up",
    "5000",
];

fn sweep(out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["sweep", "--techniques", "sse", "--no-report"];
    args.extend_from_slice(&QUICK);
    let out = out.to_str().unwrap();
    args.extend_from_slice(&["--out", out]);
    args.extend_from_slice(extra);
    run(&args, Duration::from_secs(90))
}

/// Width and height from a PNG's IHDR chunk (panics if the file is not a PNG).
fn png_size(path: &Path) -> (u32, u32) {
    let b = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(b.len() > 1000, "{} is nearly empty", path.display());
    assert_eq!(
        &b[..8],
        b"\x89PNG\r\n\x1a\n",
        "{} is not a PNG",
        path.display()
    );
    assert_eq!(&b[12..16], b"IHDR");
    let w = u32::from_be_bytes(b[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(b[20..24].try_into().unwrap());
    (w, h)
}

fn check_files(dir: &Path) -> reports::sweep::SweepDoc {
    let doc = reports::sweep::load(dir).expect("sweep.json loads");
    let rows = reports::sweep::load_csv(dir).expect("sweep.csv loads");
    assert_eq!(rows, doc.steps, "sweep.csv and sweep.json agree");
    for png in [
        "sweep_p99.png",
        "sweep_server_cpu.png",
        "sweep_server_memory.png",
    ] {
        assert_eq!(png_size(&dir.join(png)), (1600, 1000), "{png}");
    }
    let html = std::fs::read_to_string(dir.join("index.html")).unwrap();
    assert!(html.contains("Knee per technique"));
    for s in &doc.steps {
        assert!(
            dir.join(&s.run_dir).join("summary.json").is_file(),
            "step {} is a run directory",
            s.run_dir
        );
    }
    doc
}

#[test]
fn an_objective_set_to_break_gives_no_knee_and_plan_says_why() {
    let tmp = TempDir::new("sweep-break");
    let dir = tmp.join("s");
    let out = sweep(&dir, &["--clients", "2,4,8", "--slo-p99", "1us"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "sweep failed: {stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("none"), "{stdout}");
    let doc = check_files(&dir);
    assert!(!doc.partial);
    assert_eq!(doc.slo.p99_us, 1);
    // The first step already misses the objective: it is the only one run.
    assert_eq!(doc.steps.len(), 1, "{:?}", doc.steps);
    let s = &doc.steps[0];
    assert_eq!((s.technique.as_str(), s.clients), ("sse", 2));
    assert!(!s.slo_met);
    assert_eq!(s.lost, 0);
    assert!(s.delivered > 0 && s.p99_us.unwrap() > 1);
    let o = doc.outcome("sse").unwrap();
    assert_eq!(o.knee_clients, None);
    assert_eq!(o.broke_at, Some(2));
    assert!(
        o.broke_reason.as_deref().unwrap().starts_with("p99 "),
        "{o:?}"
    );

    let out = run(&["plan", dir.to_str().unwrap()], Duration::from_secs(30));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a plan without a knee must fail");
    assert!(stderr.contains("no technique could be planned"), "{stderr}");
}

#[test]
fn a_step_past_the_descriptor_limit_stops_the_technique_with_the_knee_before_it() {
    let tmp = TempDir::new("sweep-room");
    let dir = tmp.join("s");
    // 1,000,000 clients cannot fit in one process's descriptors here (20,000 at most).
    let out = sweep(&dir, &["--clients", "2,3,1000000", "--slo-p99", "10s"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "sweep failed: {stderr}");
    let doc = check_files(&dir);
    assert_eq!(doc.steps.len(), 2, "{:?}", doc.steps);
    assert!(doc.steps.iter().all(|s| s.slo_met && s.lost == 0));
    let o = doc.outcome("sse").unwrap();
    assert_eq!(o.knee_clients, Some(3));
    assert_eq!(o.broke_at, Some(1_000_000));
    let why = o.broke_reason.as_deref().unwrap();
    assert!(why.starts_with("out of descriptors"), "{why}");
    assert!(stderr.contains("out of descriptors"), "{stderr}");
}

#[test]
fn a_target_that_is_not_a_push_server_fails_the_sweep_with_exit_3() {
    let server = run_common::NotAPushServer::start();
    let tmp = TempDir::new("sweep-fail");
    let dir = tmp.join("s");
    let url = server.url();
    let out = sweep(&dir, &["--clients", "2,3", "--target", &url]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    let last = stderr.trim_end().lines().last().unwrap_or_default();
    assert!(
        last.contains("sse failed at 2 clients (") && last.contains("no client delivered"),
        "{stderr}"
    );
    let doc = reports::sweep::load(&dir).unwrap();
    assert!(!doc.partial);
    let o = doc.outcome("sse").unwrap();
    assert_eq!((o.knee_clients, o.broke_at), (None, Some(2)), "{o:?}");
    assert_eq!(doc.steps.len(), 1, "no step after the first failed");
}

#[test]
fn bad_sweep_options_are_refused_before_running() {
    let tmp = TempDir::new("sweep-bad");
    let dir = tmp.join("s");
    let out = sweep(&dir, &["--clients", "8,4"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--clients") && stderr.contains("ascending"),
        "{stderr}"
    );
    let out = sweep(&dir, &["--factor", "0.5"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--factor"));
    assert!(!dir.join("sweep.json").exists());
}

#[test]
fn ctrl_c_writes_a_partial_sweep_and_exits_non_zero() {
    use run_common::{signal, spawn, technique_figure, wait_exit, wait_for_server_stats};
    let tmp = TempDir::new("sweep-int");
    let dir = tmp.join("s");
    let child = spawn(&[
        "sweep",
        "--techniques",
        "sse,ws",
        "--clients",
        "2,3",
        "--warmup",
        "200ms",
        "--duration",
        "30s",
        "--no-report",
        "--out",
        dir.to_str().unwrap(),
    ]);
    // Interrupt once the first step's clients are connected and its window has begun (at
    // 10 msg/s the 200 ms warm-up publishes 2 messages; the 5th is in the window).
    wait_for_server_stats(
        child.id(),
        Duration::from_secs(30),
        "2 sse clients connected and the window begun",
        |s| technique_figure(s, "sse", "connections") == 2 && s["published"].as_u64() >= Some(5),
    );
    signal(&child.id().to_string(), "INT");
    let out = wait_exit(
        child,
        Duration::from_secs(20),
        "pushbench sweep did not stop within 20 s of SIGINT",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "a cut-short sweep exits 4");
    assert!(stderr.contains("sweep cut short"), "{stderr}");
    let doc = reports::sweep::load(&dir).unwrap();
    assert!(doc.partial);
    assert!(
        doc.failure.as_deref().unwrap().contains("SIGINT"),
        "{doc:?}"
    );
    // The interrupted step is kept on disk but not judged; ws was never started.
    assert!(doc.steps.is_empty(), "{:?}", doc.steps);
    assert!(dir.join("sse-2/manifest.json").is_file());
    let o = doc.outcome("sse").unwrap();
    assert_eq!(o.knee_clients, None);
    assert!(
        o.broke_reason
            .as_deref()
            .unwrap()
            .starts_with("interrupted")
    );
    assert!(doc.outcome("ws").is_none());
    assert!(dir.join("index.html").is_file());
}

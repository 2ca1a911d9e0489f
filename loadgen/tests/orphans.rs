//! A `pushbench run` that dies, however it dies (`kill -9` here), takes its child processes
//! along: the server it started (`pushbench serve`, or a supervisor and its server processes
//! with `--server-processes`) and its `pushbench worker`s (`--processes`). Nothing is left
//! running with parent 1.

mod run_common;

use std::time::Duration;

use run_common::*;

/// Waits (bounded) until the descendants of `pid` include `want` processes whose command line
/// contains each of `words`; returns all descendants.
fn wait_for_descendants(pid: u32, want: &[(&str, usize)]) -> Vec<u32> {
    let mut lines = Vec::new();
    let mut found = Vec::new();
    let held = wait_until(Duration::from_secs(30), || {
        found = descendants(pid);
        lines = found.iter().map(|p| cmdline(*p)).collect::<Vec<_>>();
        let count = |w: &str| lines.iter().filter(|l| l.contains(w)).count();
        want.iter().all(|(w, n)| count(w) >= *n)
    });
    assert!(
        held,
        "wanted {want:?} among the descendants of {pid}, found {lines:?}"
    );
    found
}

/// Kills `pids` that are still running (cleanup after a failed assertion).
fn kill_all(pids: &[u32]) {
    for p in pids {
        if !gone(*p) {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &p.to_string()])
                .status();
        }
    }
}

/// Starts `pushbench run ARGS`, waits until its descendants match `want`, kills it with
/// SIGKILL and asserts every descendant exits within a bounded time.
fn kill_run_and_check(args: &[&str], want: &[(&str, usize)]) {
    let out = TempDir::new("orphans");
    let dir = out.join("run");
    let mut all: Vec<&str> = vec!["run", "--out", dir.to_str().unwrap(), "--no-report"];
    all.extend(args);
    let mut run = spawn(&all);
    let pid = run.id();
    let kids = wait_for_descendants(pid, want);
    signal(&pid.to_string(), "KILL");
    let _ = run.wait();
    if !wait_until(Duration::from_secs(20), || kids.iter().all(|p| gone(*p))) {
        let left: Vec<String> = kids
            .iter()
            .filter(|p| !gone(**p))
            .map(|p| format!("{p}: {}", cmdline(*p)))
            .collect();
        kill_all(&kids);
        panic!("still running 20 s after `pushbench run` was killed: {left:?}");
    }
}

const RUN: &[&str] = &[
    "--techniques",
    "sse",
    "--clients",
    "4",
    "--warmup",
    "0s",
    "--duration",
    "60s",
];

#[test]
fn a_killed_run_takes_its_server_along() {
    kill_run_and_check(RUN, &[("pushbench serve", 1)]);
}

#[test]
fn a_killed_run_takes_its_server_processes_and_workers_along() {
    let mut args = RUN.to_vec();
    args.extend(["--server-processes", "2", "--processes", "2"]);
    // The supervisor and its two processes, and the two workers of the technique.
    kill_run_and_check(&args, &[("pushbench serve", 3), ("pushbench worker", 2)]);
}

/// Starts `pushbench serve` tied to this test process (as `pushbench run` ties its server),
/// with `parent` as the pid it is told of.
fn tied_serve(parent: u32) -> std::process::Child {
    std::process::Command::new(bin())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env(server::lifeline::ENV, parent.to_string())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start pushbench serve")
}

#[test]
fn a_tied_server_stops_when_its_parent_closes_the_pipe() {
    // The second mechanism alone (the parent lives on, so no parent-death signal): the end of
    // stdin stops the server gracefully.
    let mut child = tied_serve(std::process::id());
    let mut first = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut first,
    )
    .unwrap();
    assert!(first.starts_with("listening on http://"), "{first}");
    drop(child.stdin.take());
    let out = wait_exit(
        child,
        Duration::from_secs(15),
        "serve ignored the end of its stdin",
    );
    assert!(out.status.success(), "{:?}", out);
}

#[test]
fn a_tied_child_whose_parent_is_already_gone_does_not_start() {
    // Told of a parent that is not its parent: it was orphaned before it could ask to be
    // signalled, so it must not run on unwatched.
    let child = tied_serve(u32::MAX - 1);
    let out = wait_exit(
        child,
        Duration::from_secs(15),
        "an orphaned serve kept running",
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("the parent process (pid 4294967294) is gone"),
        "{err}"
    );
}

//! Helpers shared by the `pushbench run` end-to-end tests: a fresh output directory, running
//! the real binary with a time limit, reading its JSON, and waiting on what can be observed
//! (a process exiting, a file appearing, a server's `/stats`) with a bounded deadline.

#![allow(dead_code, unused_imports)]

mod procs;

pub use procs::*;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// A fresh, empty directory under the system temp dir (removed on drop).
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let p = std::env::temp_dir().join(format!("pb-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn join(&self, s: &str) -> PathBuf {
        self.0.join(s)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_pushbench")
}

/// Starts `pushbench ARGS` with stdin closed and stdout/stderr piped.
pub fn spawn(args: &[&str]) -> Child {
    Command::new(bin())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start pushbench")
}

/// How often [`wait_until`] looks again.
const POLL: Duration = Duration::from_millis(20);

/// Checks `cond` every 20 ms until it holds or `limit` has passed; returns whether it held.
/// This is how the tests wait: on something they can observe, for a bounded time, never for a
/// fixed guess (a loaded 2-core CI machine makes every guess wrong sooner or later).
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(POLL);
    }
}

/// Waits for `child` to exit; after `limit` kills it and panics with `what` and its stderr.
pub fn wait_exit(mut child: Child, limit: Duration, what: &str) -> Output {
    if !wait_until(limit, || child.try_wait().unwrap().is_some()) {
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        panic!("{what}; stderr: {}", String::from_utf8_lossy(&out.stderr));
    }
    child.wait_with_output().unwrap()
}

/// Runs `pushbench ARGS`, killing it after `limit`.
pub fn run(args: &[&str], limit: Duration) -> Output {
    let what = format!("pushbench {args:?} still running after {limit:?}");
    wait_exit(spawn(args), limit, &what)
}

/// Waits until `path` exists; panics after `limit`.
pub fn wait_for_path(path: &Path, limit: Duration) {
    assert!(
        wait_until(limit, || path.exists()),
        "{} did not appear within {limit:?}",
        path.display()
    );
}

/// Sends signal `sig` (`INT`, `KILL`, ...) to process `pid`, asserting that `kill` succeeded.
pub fn signal(pid: &str, sig: &str) {
    let status = Command::new("kill")
        .args([&format!("-{sig}"), pid])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{sig} {pid} failed");
}

/// Runs `pushbench run ... --json` and returns the parsed document (panics with stderr if it
/// failed or printed anything but JSON on stdout).
pub fn run_json(args: &[&str], limit: Duration) -> serde_json::Value {
    let out = run(args, limit);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "pushbench {args:?} failed: {stderr}");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {stderr}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// The technique entry named `name`.
pub fn technique<'a>(doc: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    doc["techniques"]
        .as_array()
        .expect("techniques array")
        .iter()
        .find(|t| t["technique"] == name)
        .unwrap_or_else(|| panic!("no technique {name} in {doc}"))
}

pub fn u(v: &serde_json::Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("`{key}` is not an unsigned integer in {v}"))
}

/// A `pushbench serve` child process on 127.0.0.1:0, killed however the test ends.
pub struct ServeChild {
    child: Child,
    /// Where it listens (from its first line, `listening on http(s)://ADDR:PORT`).
    pub addr: SocketAddr,
}

impl ServeChild {
    /// Starts `pushbench serve --listen 127.0.0.1:0 EXTRA...` and waits for its first line.
    pub fn start(extra: &[&str]) -> ServeChild {
        let mut child = Command::new(bin())
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start pushbench serve");
        let mut line = String::new();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        out.read_line(&mut line).unwrap();
        // Keep reading what else it prints (`certificate: FILE` with --tls), so that it never
        // writes into a closed pipe; ends when the server does.
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .and_then(|a| {
                a.strip_prefix("http://")
                    .or_else(|| a.strip_prefix("https://"))
            })
            .unwrap_or_else(|| panic!("unexpected first line `{line}`"))
            .trim_end_matches('/')
            .parse()
            .unwrap();
        ServeChild { child, addr }
    }

    /// `http://ADDR:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ServeChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Options of a short, small run (3 clients, a 1 s window, no pauses) for tests that judge
/// what a run says rather than what it measures.
pub const SHORT_RUN: &[&str] = &[
    "--clients",
    "3",
    "--rate",
    "10",
    "--warmup",
    "0s",
    "--duration",
    "1s",
    "--drain",
    "500ms",
    "--poll-interval",
    "200ms",
    "--pause",
    "0s",
];

/// The environment variable `name` parsed, or `default` when unset or unparsable.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// An HTTP/1.1 server that answers every request `404 Not Found` (keep-alive): it answers,
/// but it is not a push server. Stops accepting when dropped.
pub struct NotAPushServer {
    pub addr: std::net::SocketAddr,
    stop: Arc<AtomicBool>,
}

impl NotAPushServer {
    pub fn start() -> NotAPushServer {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        let addr = l.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        std::thread::spawn(move || {
            // Bounded: ends when the test drops the server, or after a minute at most.
            let until = Instant::now() + Duration::from_secs(60);
            while !s.load(Ordering::Relaxed) && Instant::now() < until {
                match l.accept() {
                    Ok((c, _)) => {
                        std::thread::spawn(move || answer_404(c));
                    }
                    // Non-blocking, so the stop flag is seen: a poll loop, not a test's wait.
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        NotAPushServer { addr, stop }
    }

    /// `http://ADDR:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for NotAPushServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Answers each request on `c` with a 404 until the client closes (or is idle for 5 s).
fn answer_404(c: TcpStream) {
    c.set_nonblocking(false).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut w = c.try_clone().unwrap();
    let mut r = BufReader::new(c);
    loop {
        let mut len = 0usize;
        let mut line = String::new();
        loop {
            line.clear();
            if r.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let l = line.trim_end().to_ascii_lowercase();
            if l.is_empty() {
                break;
            }
            if let Some(v) = l.strip_prefix("content-length:") {
                len = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0u8; len.min(1 << 20)];
        if r.read_exact(&mut body).is_err() {
            return;
        }
        let answer = "HTTP/1.1 404 Not Found\r\ncontent-type: text/plain\r\n\
                      content-length: 10\r\n\r\nnot found\n";
        if w.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

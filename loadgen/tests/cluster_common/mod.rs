//! Helpers of the `pushbench serve --processes N` end-to-end tests: the real binary as a
//! cluster (killed however the test ends), processes that must be gone, and small clients
//! written from docs/PROTOCOL.md (SSE and NDJSON read from hyper's decoded body, WebSocket
//! through tokio-tungstenite), not from the server's code.
#![allow(dead_code)]

mod subs;
pub use subs::*;

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpStream;

/// Bound on any single wait (a hang fails instead of blocking CI).
pub const WAIT: Duration = Duration::from_secs(10);
/// Subscribers per technique (4 techniques): enough that both processes get some.
pub const PER_TECHNIQUE: usize = 8;

/// A running `pushbench serve --processes N`; killed if the test fails.
pub struct Cluster {
    child: Option<Child>,
    pub addr: SocketAddr,
    stderr: std::sync::mpsc::Receiver<String>,
}

impl Cluster {
    pub fn start(processes: u32, extra: &[&str]) -> Cluster {
        let mut child = Command::new(env!("CARGO_BIN_EXE_pushbench"))
            .args(["serve", "--processes", &processes.to_string()])
            .args(["--listen", "127.0.0.1:0", "--heartbeat", "1s"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn pushbench serve");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut first = String::new();
            let _ = BufReader::new(stdout).read_line(&mut first);
            let _ = tx.send(first);
        });
        let mut stderr = child.stderr.take().unwrap();
        let (etx, erx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s);
            let _ = etx.send(s);
        });
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("no `listening on` line");
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("first line: {line:?}"))
            .parse()
            .unwrap();
        Cluster {
            child: Some(child),
            addr,
            stderr: erx,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// Waits (bounded) for the supervisor to exit; returns its status and stderr.
    pub fn wait_exit(&mut self) -> (std::process::ExitStatus, String) {
        let mut child = self.child.take().unwrap();
        let mut status = None;
        if !wait_until(Duration::from_secs(20), || {
            status = child.try_wait().unwrap();
            status.is_some()
        }) {
            let _ = child.kill();
            panic!("supervisor did not exit");
        }
        let status = status.unwrap();
        let err = self.stderr.recv_timeout(WAIT).unwrap_or_default();
        (status, err)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig} {pid}");
}

/// True once `pid` no longer runs (gone, or a zombie nobody reaped yet).
pub fn gone(pid: u64) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(s) => s
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
    }
}

pub fn wait_gone(pids: &[u64]) {
    assert!(
        wait_until(Duration::from_secs(15), || pids.iter().all(|p| gone(*p))),
        "processes {pids:?} still running"
    );
}

/// Checks `cond` every 20 ms until it holds or `limit` has passed; returns whether it held.
/// The tests wait on what they can observe, for a bounded time, never for a fixed guess.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One HTTP/1.1 connection.
pub struct Conn {
    send: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    addr: SocketAddr,
}

impl Conn {
    pub async fn new(addr: SocketAddr) -> Conn {
        let s = tokio::time::timeout(WAIT, TcpStream::connect(addr))
            .await
            .expect("connect timeout")
            .expect("connect");
        let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(s))
            .await
            .expect("handshake");
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Conn { send, addr }
    }

    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> hyper::Response<Incoming> {
        let mut b = Request::builder()
            .method(method)
            .uri(path)
            .header("host", self.addr.to_string());
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let req = b.body(Full::new(Bytes::from(body.to_string()))).unwrap();
        tokio::time::timeout(WAIT, self.send.ready())
            .await
            .expect("ready timeout")
            .expect("ready");
        tokio::time::timeout(WAIT, self.send.send_request(req))
            .await
            .expect("response timeout")
            .expect("response")
    }
}

pub async fn body_text(r: hyper::Response<Incoming>) -> String {
    let b = tokio::time::timeout(WAIT, r.into_body().collect())
        .await
        .expect("body timeout")
        .expect("body")
        .to_bytes();
    String::from_utf8(b.to_vec()).unwrap()
}

/// A request on a fresh connection (so the kernel picks a process): (status, body).
pub async fn call(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut c = Conn::new(addr).await;
    let r = c.request(method, path, &[], body).await;
    let st = r.status().as_u16();
    (st, body_text(r).await)
}

/// Like [`call`], but an error is returned instead of a panic (a connection that was queued
/// on a process that just died is reset).
pub async fn try_call(addr: SocketAddr, method: &str, path: &str) -> Result<(u16, String), String> {
    let attempt = async {
        let s = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(s))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", addr.to_string())
            .body(Full::new(Bytes::new()))
            .unwrap();
        let r = send.send_request(req).await.map_err(|e| e.to_string())?;
        let st = r.status().as_u16();
        let b = r.into_body().collect().await.map_err(|e| e.to_string())?;
        Ok((st, String::from_utf8_lossy(&b.to_bytes()).into_owned()))
    };
    tokio::time::timeout(WAIT, attempt)
        .await
        .map_err(|_| "timed out".to_string())?
}

/// Polls `/stats` until `pred` holds, tolerating refused or reset connections (a process of
/// the cluster may be dying or starting); panics after WAIT.
pub async fn stats_through_restarts(
    addr: SocketAddr,
    what: &str,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + WAIT;
    let mut last = String::new();
    loop {
        if let Ok((200, body)) = try_call(addr, "GET", "/stats").await {
            let s: Value = serde_json::from_str(&body).unwrap();
            if pred(&s) {
                return s;
            }
            last = body;
        }
        assert!(Instant::now() < deadline, "never: {what}; last: {last}");
        // The poll interval of this bounded wait on `/stats`.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub async fn stats(addr: SocketAddr) -> Value {
    let (st, body) = call(addr, "GET", "/stats", "").await;
    assert_eq!(st, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

pub async fn stats_until(addr: SocketAddr, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let s = stats(addr).await;
        if pred(&s) {
            return s;
        }
        assert!(Instant::now() < deadline, "never: {what}; last: {s}");
        // The poll interval of this bounded wait on `/stats`.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub async fn publish(addr: SocketAddr, topic: &str, data: &str) -> u64 {
    let (st, body) = call(addr, "POST", &format!("/publish/{topic}"), data).await;
    assert_eq!(st, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["topic"], topic);
    v["id"].as_u64().unwrap()
}

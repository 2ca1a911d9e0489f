//! End to end: `pushbench serve --processes 2` (the real binary: a supervisor and two server
//! processes sharing one port). Subscribers of every technique spread over both processes get
//! every message in order with the same ids; a client resuming on either process loses
//! nothing; `/stats` sums the processes; SIGTERM stops everything cleanly (exit 0); a child that
//! dies stops the cluster (non-zero exit); a supervisor that dies takes its children along.
//!
//! The test clients here are small and written from docs/PROTOCOL.md (SSE and NDJSON read
//! from hyper's decoded body, WebSocket through tokio-tungstenite), not from the server's code.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpStream;

/// Bound on any single wait (a hang fails instead of blocking CI).
const WAIT: Duration = Duration::from_secs(10);
/// Subscribers per technique (4 techniques): enough that both processes get some.
const PER_TECHNIQUE: usize = 8;

/// A running `pushbench serve --processes N`; killed if the test fails.
struct Cluster {
    child: Option<Child>,
    addr: SocketAddr,
    stderr: std::sync::mpsc::Receiver<String>,
}

impl Cluster {
    fn start(processes: u32, extra: &[&str]) -> Cluster {
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

    fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// Waits (bounded) for the supervisor to exit; returns its status and stderr.
    fn wait_exit(&mut self) -> (std::process::ExitStatus, String) {
        let mut child = self.child.take().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("supervisor did not exit");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
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

fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig} {pid}");
}

/// True once `pid` no longer runs (gone, or a zombie nobody reaped yet).
fn gone(pid: u64) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(s) => s
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
    }
}

fn wait_gone(pids: &[u64]) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !pids.iter().all(|p| gone(*p)) {
        assert!(
            Instant::now() < deadline,
            "processes {pids:?} still running"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One HTTP/1.1 connection.
struct Conn {
    send: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    addr: SocketAddr,
}

impl Conn {
    async fn new(addr: SocketAddr) -> Conn {
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

    async fn request(
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

async fn body_text(r: hyper::Response<Incoming>) -> String {
    let b = tokio::time::timeout(WAIT, r.into_body().collect())
        .await
        .expect("body timeout")
        .expect("body")
        .to_bytes();
    String::from_utf8(b.to_vec()).unwrap()
}

/// A request on a fresh connection (so the kernel picks a process): (status, body).
async fn call(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut c = Conn::new(addr).await;
    let r = c.request(method, path, &[], body).await;
    let st = r.status().as_u16();
    (st, body_text(r).await)
}

async fn stats(addr: SocketAddr) -> Value {
    let (st, body) = call(addr, "GET", "/stats", "").await;
    assert_eq!(st, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

async fn stats_until(addr: SocketAddr, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let s = stats(addr).await;
        if pred(&s) {
            return s;
        }
        assert!(Instant::now() < deadline, "never: {what}; last: {s}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn publish(addr: SocketAddr, topic: &str, data: &str) -> u64 {
    let (st, body) = call(addr, "POST", &format!("/publish/{topic}"), data).await;
    assert_eq!(st, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["topic"], topic);
    v["id"].as_u64().unwrap()
}

/// A received message: (id, data).
type Msg = (u64, String);

/// Reads body chunks of a streaming response.
struct Reader {
    body: Incoming,
    buf: String,
    /// The connection, kept as long as the body is read.
    _conn: Conn,
}

impl Reader {
    /// The next complete piece ending with `sep` (None at a clean end; panics on an error).
    async fn piece(&mut self, sep: &str) -> Option<String> {
        loop {
            if let Some(i) = self.buf.find(sep) {
                let p = self.buf[..i].to_string();
                self.buf.drain(..i + sep.len());
                return Some(p);
            }
            let f = tokio::time::timeout(WAIT, self.body.frame())
                .await
                .expect("body read timeout");
            match f {
                None => return None,
                Some(Err(e)) => panic!("body error: {e}"),
                Some(Ok(frame)) => {
                    if let Ok(d) = frame.into_data() {
                        self.buf.push_str(std::str::from_utf8(&d).unwrap());
                    }
                }
            }
        }
    }
}

enum Sub {
    Sse(Reader),
    Stream(Reader),
    Ws(Box<tokio_tungstenite::WebSocketStream<TcpStream>>),
}

impl Sub {
    async fn open(addr: SocketAddr, technique: &str, topic: &str, last_id: Option<u64>) -> Sub {
        if technique == "ws" {
            let s = TcpStream::connect(addr).await.unwrap();
            let url = format!("ws://{addr}/ws/{topic}?since={}", last_id.unwrap_or(0));
            let (ws, resp) = tokio::time::timeout(WAIT, tokio_tungstenite::client_async(url, s))
                .await
                .expect("ws timeout")
                .expect("ws handshake");
            assert_eq!(resp.status(), 101);
            return Sub::Ws(Box::new(ws));
        }
        let mut c = Conn::new(addr).await;
        // SSE resumes as an EventSource does (Last-Event-ID), a stream with `?since=`.
        let id = last_id.map(|i| i.to_string());
        let mut headers = Vec::new();
        let mut path = format!("/{technique}/{topic}");
        if let Some(id) = &id {
            if technique == "sse" {
                headers.push(("last-event-id", id.as_str()));
            } else {
                path.push_str(&format!("?since={id}"));
            }
        }
        let r = c.request("GET", &path, &headers, "").await;
        assert_eq!(r.status(), 200);
        let reader = Reader {
            body: r.into_body(),
            buf: String::new(),
            _conn: c,
        };
        match technique {
            "sse" => Sub::Sse(reader),
            _ => Sub::Stream(reader),
        }
    }

    /// The next message (skipping heartbeats and the retry hint); None at a clean end.
    async fn next(&mut self) -> Option<Msg> {
        match self {
            Sub::Sse(r) => loop {
                let ev = r.piece("\n\n").await?;
                let (mut id, mut data) = (None, Vec::new());
                for line in ev.lines() {
                    if let Some(v) = line.strip_prefix("id: ") {
                        id = Some(v.parse().unwrap());
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        data.push(v);
                    }
                }
                if let Some(id) = id {
                    return Some((id, data.join("\n")));
                }
            },
            Sub::Stream(r) => loop {
                let line = r.piece("\n").await?;
                if line.is_empty() {
                    continue;
                }
                let v: Value = serde_json::from_str(&line).unwrap();
                return Some((
                    v["id"].as_u64().unwrap(),
                    v["data"].as_str().unwrap().into(),
                ));
            },
            Sub::Ws(ws) => loop {
                use tokio_tungstenite::tungstenite::Message;
                let m = tokio::time::timeout(WAIT, ws.next())
                    .await
                    .expect("ws read timeout")?
                    .expect("ws frame");
                match m {
                    Message::Text(t) => {
                        let v: Value = serde_json::from_str(t.as_str()).unwrap();
                        return Some((
                            v["id"].as_u64().unwrap(),
                            v["data"].as_str().unwrap().into(),
                        ));
                    }
                    Message::Close(_) => return None,
                    _ => continue,
                }
            },
        }
    }
}

/// Long-polls on one connection until `count` messages after `since` arrived.
async fn long_poll(addr: SocketAddr, topic: &str, mut since: u64, count: usize) -> Vec<Msg> {
    let mut c = Conn::new(addr).await;
    let mut got = Vec::new();
    while got.len() < count {
        let r = c
            .request(
                "GET",
                &format!("/long-poll/{topic}?since={since}&timeout=5000"),
                &[],
                "",
            )
            .await;
        assert_eq!(r.status(), 200);
        let v: Value = serde_json::from_str(&body_text(r).await).unwrap();
        for m in v["messages"].as_array().unwrap() {
            got.push((
                m["id"].as_u64().unwrap(),
                m["data"].as_str().unwrap().into(),
            ));
        }
        since = v["next"].as_u64().unwrap();
    }
    got
}

fn expected(from: u64, to: u64) -> Vec<Msg> {
    (from..=to).map(|i| (i, format!("m{i}"))).collect()
}

fn children(s: &Value) -> Vec<&Value> {
    s["per_process"]
        .as_array()
        .expect("per_process")
        .iter()
        .filter(|p| p["role"] == "child")
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_subscriber_on_every_process_gets_every_message() {
    let cluster = Cluster::start(2, &[]);
    let a = cluster.addr;
    let mut subs = Vec::new();
    for t in ["sse", "stream", "ws"] {
        for _ in 0..PER_TECHNIQUE {
            subs.push((t, Sub::open(a, t, "news", None).await));
        }
    }
    const N: u64 = 20;
    let pollers: Vec<_> = (0..PER_TECHNIQUE)
        .map(|_| tokio::spawn(long_poll(a, "news", 0, N as usize)))
        .collect();
    let k = PER_TECHNIQUE as u64;
    let s = stats_until(a, "every subscriber connected", |s| {
        ["sse", "stream", "ws", "long-poll"]
            .iter()
            .all(|t| s["techniques"][t]["connections"] == k)
    })
    .await;
    // The kernel spread the connections over both processes.
    assert_eq!(s["processes"], 2);
    let kids = children(&s);
    assert_eq!(kids.len(), 2);
    for c in &kids {
        assert!(c["connections"].as_u64().unwrap() >= 3, "{s}");
        assert!(c["pid"].as_u64().unwrap() > 0);
    }
    let per_sum: u64 = kids
        .iter()
        .map(|c| c["connections"].as_u64().unwrap())
        .sum();
    assert_eq!(per_sum, s["open_connections"].as_u64().unwrap());

    // Publishes arrive at either process; ids come from one sequence.
    for i in 1..=N {
        assert_eq!(publish(a, "news", &format!("m{i}")).await, i);
    }
    for (t, sub) in &mut subs {
        let mut got = Vec::new();
        for _ in 0..N {
            got.push(sub.next().await.unwrap_or_else(|| panic!("{t} ended")));
        }
        assert_eq!(got, expected(1, N), "{t}");
    }
    for p in pollers {
        assert_eq!(p.await.unwrap(), expected(1, N), "long-poll");
    }

    // /stats sums the processes: every subscriber counted once per message.
    let s = stats(a).await;
    assert_eq!(s["published"], N);
    assert_eq!(s["techniques"]["publish"]["requests"], N);
    for t in ["sse", "stream", "ws", "long-poll"] {
        assert_eq!(s["techniques"][t]["delivered"], N * k, "{t}: {s}");
    }
    let list = s["per_process"].as_array().unwrap();
    let rss: u64 = list.iter().map(|p| p["rss_bytes"].as_u64().unwrap()).sum();
    assert_eq!(s["process"]["rss_bytes"], rss);
    assert_eq!(s["process"]["pid"], cluster.pid());
    // /metrics on whichever process answers shows the same totals.
    for _ in 0..4 {
        let (st, m) = call(a, "GET", "/metrics", "").await;
        assert_eq!(st, 200);
        assert!(
            m.contains(&format!("pushbench_published_total {N}\n")),
            "{m}"
        );
        assert!(m.contains("pushbench_processes 2\n"), "{m}");
        assert!(
            m.contains(&format!(
                "pushbench_delivered_total{{technique=\"sse\"}} {}\n",
                N * k
            )),
            "{m}"
        );
    }
    // A reset on one process resets them all.
    let (st, _) = call(a, "POST", "/stats/reset", "").await;
    assert_eq!(st, 200);
    let s = stats(a).await;
    assert_eq!(s["published"], 0);
    for t in ["sse", "stream", "ws", "long-poll", "publish"] {
        assert_eq!(s["techniques"][t]["delivered"], 0, "{t}");
    }
    assert_eq!(
        s["techniques"]["sse"]["connections"], k,
        "gauges are not reset"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_resuming_on_any_process_loses_nothing() {
    let cluster = Cluster::start(2, &[]);
    let a = cluster.addr;
    let mut first = Sub::open(a, "sse", "r", None).await;
    for i in 1..=5 {
        assert_eq!(publish(a, "r", &format!("m{i}")).await, i);
    }
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(first.next().await.unwrap());
    }
    assert_eq!(got, expected(1, 3));
    drop(first);
    // Published while the client is away.
    for i in 6..=8 {
        assert_eq!(publish(a, "r", &format!("m{i}")).await, i);
    }
    // Resume with Last-Event-ID: 3 from many connections, so some land on each process.
    let mut resumed = Vec::new();
    for i in 0..16 {
        let t = if i % 4 == 3 { "stream" } else { "sse" };
        resumed.push((t, Sub::open(a, t, "r", Some(3)).await));
    }
    let s = stats_until(a, "resumed subscribers connected", |s| {
        s["techniques"]["sse"]["connections"] == 12 && s["techniques"]["stream"]["connections"] == 4
    })
    .await;
    assert!(
        children(&s)
            .iter()
            .all(|c| c["connections"].as_u64().unwrap() >= 1),
        "both processes serve resumed clients: {s}"
    );
    assert_eq!(s["techniques"]["sse"]["resumes"], 12);
    assert_eq!(s["techniques"]["stream"]["resumes"], 4);
    for i in 9..=10 {
        assert_eq!(publish(a, "r", &format!("m{i}")).await, i);
    }
    for (t, sub) in &mut resumed {
        let mut got = Vec::new();
        for _ in 4..=10 {
            got.push(sub.next().await.unwrap());
        }
        assert_eq!(got, expected(4, 10), "{t}");
    }
    // Short polls on fresh connections (either process) see the same history.
    for _ in 0..4 {
        let (st, body) = call(a, "GET", "/poll/r?since=7", "").await;
        assert_eq!(st, 200);
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["next"], 10, "{body}");
        assert_eq!(v["messages"].as_array().unwrap().len(), 3, "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_streams_cleanly_and_every_process_exits() {
    let mut cluster = Cluster::start(2, &["--publish-rate", "20", "--publish-topic", "tick"]);
    let a = cluster.addr;
    let mut subs = Vec::new();
    for _ in 0..16 {
        subs.push(Sub::open(a, "sse", "tick", None).await);
    }
    let s = stats_until(a, "subscribers connected", |s| {
        s["techniques"]["sse"]["connections"] == 16
    })
    .await;
    let kids = children(&s);
    assert!(
        kids.iter().all(|c| c["connections"].as_u64().unwrap() >= 1),
        "subscribers on both processes: {s}"
    );
    let pids: Vec<u64> = kids.iter().map(|c| c["pid"].as_u64().unwrap()).collect();
    assert_eq!(pids.len(), 2);
    // The internal publisher runs once (in the supervisor), not once per process: message n
    // is the same message (same scheduled time in its payload) on every process.
    let mut first: Option<Vec<Msg>> = None;
    for s in &mut subs {
        let mut got = Vec::new();
        for _ in 0..3 {
            got.push(s.next().await.unwrap());
        }
        assert_eq!(got.iter().map(|m| m.0).collect::<Vec<_>>(), [1, 2, 3]);
        assert!(got[0].1.starts_with("pb1 0 1 "), "{got:?}");
        match &first {
            None => first = Some(got),
            Some(f) => assert_eq!(&got, f, "the same messages on every process"),
        }
    }
    signal(cluster.pid(), "-TERM");
    for s in &mut subs {
        // Every stream ends with its terminating chunk (a clean end, not an error).
        while s.next().await.is_some() {}
    }
    let (status, err) = cluster.wait_exit();
    assert!(status.success(), "exit {status}: {err}");
    wait_gone(&pids);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_that_dies_stops_the_cluster() {
    let mut cluster = Cluster::start(2, &[]);
    let s = stats(cluster.addr).await;
    let pids: Vec<u64> = children(&s)
        .iter()
        .map(|c| c["pid"].as_u64().unwrap())
        .collect();
    signal(pids[1] as u32, "-KILL");
    let (status, err) = cluster.wait_exit();
    assert!(!status.success(), "a dead child must fail the server");
    assert!(
        err.contains(&format!("process 1 (pid {})", pids[1])) && err.contains("SIGKILL"),
        "stderr names the child and why: {err}"
    );
    wait_gone(&pids);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn children_exit_when_the_supervisor_dies() {
    let mut cluster = Cluster::start(2, &[]);
    let s = stats(cluster.addr).await;
    let pids: Vec<u64> = children(&s)
        .iter()
        .map(|c| c["pid"].as_u64().unwrap())
        .collect();
    signal(cluster.pid(), "-KILL");
    let _ = cluster.wait_exit();
    wait_gone(&pids);
}

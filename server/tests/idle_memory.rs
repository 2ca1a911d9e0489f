//! Idle memory per connection, per technique: server RSS growth / connections, with 5,000
//! idle subscribers each, the server in a child process (this test binary re-executed) so the
//! clients' memory does not count. A measurement, not a pass/fail check on a busy machine:
//!
//! ```text
//! cargo test -p server --release --test idle_memory -- --ignored --nocapture
//! ```
//!
//! (`IDLE_CONNECTIONS=N` changes the count.) It prints one line per technique.

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const CHILD_ENV: &str = "PUSHBENCH_IDLE_MEMORY_CHILD";

/// The server side: runs only when re-executed by the measurement.
#[test]
#[ignore = "helper process of idle_memory_per_connection"]
fn child_server() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let args = server::ServeArgs {
        listen: "127.0.0.1:0".parse().unwrap(),
        max_connections: 19_000,
        ..server::ServeArgs::default()
    };
    rt.block_on(server::serve(args)).unwrap();
}

fn request(technique: &str) -> String {
    match technique {
        "ws" => "GET /ws/idle HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
            .to_string(),
        "long-poll" => {
            "GET /long-poll/idle?since=0&timeout=300000 HTTP/1.1\r\nHost: x\r\n\r\n".to_string()
        }
        t => format!("GET /{t}/idle HTTP/1.1\r\nHost: x\r\n\r\n"),
    }
}

async fn open(addr: std::net::SocketAddr, technique: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(request(technique).as_bytes()).await.unwrap();
    if technique != "long-poll" {
        // Wait for the response head so the server has fully set the subscriber up.
        let mut buf = [0u8; 512];
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
            .await
            .expect("head timeout")
            .unwrap();
        assert!(n > 0);
    }
    s
}

async fn stats(addr: std::net::SocketAddr) -> serde_json::Value {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let body = out.split_once("\r\n\r\n").unwrap().1;
    serde_json::from_str(body).unwrap()
}

async fn rss(addr: std::net::SocketAddr) -> u64 {
    stats(addr).await["process"]["rss_bytes"].as_u64().unwrap()
}

/// Waits (at most 60 s) until the server holds `count` connections of `technique` whose
/// request it has routed, so every subscriber is set up before its memory is read.
async fn wait_connections(addr: std::net::SocketAddr, technique: &str, count: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let s = stats(addr).await;
        let open = s["techniques"][technique]["connections"]
            .as_u64()
            .unwrap_or(0);
        if open >= count as u64 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{technique}: {open} of {count} connections set up"
        );
        // The poll interval of this bounded wait on `/stats`.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement: run with --ignored --nocapture"]
async fn idle_memory_per_connection() {
    let n: usize = std::env::var("IDLE_CONNECTIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000);
    for technique in ["sse", "stream", "long-poll", "ws"] {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--ignored",
                "--exact",
                "child_server",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, "1")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let addr: std::net::SocketAddr = loop {
            let line = lines.next().expect("child output").unwrap();
            // The test harness may print `test child_server ... ` on the same line.
            if let Some((_, a)) = line.split_once("listening on http://") {
                break a.trim().parse().unwrap();
            }
        };
        // Warm up the runtime and allocator with a few connections first.
        let warm: Vec<TcpStream> =
            futures_util::future::join_all((0..50).map(|_| open(addr, technique))).await;
        wait_connections(addr, technique, warm.len()).await;
        let before = rss(addr).await;
        let mut conns = Vec::with_capacity(n);
        for batch in (0..n).collect::<Vec<_>>().chunks(250) {
            let opened =
                futures_util::future::join_all(batch.iter().map(|_| open(addr, technique))).await;
            conns.extend(opened);
        }
        wait_connections(addr, technique, warm.len() + n).await;
        let after = rss(addr).await;
        let per = (after.saturating_sub(before)) as f64 / n as f64 / 1024.0;
        println!(
            "{technique:>9}: {n} idle connections, server RSS {:.1} MiB -> {:.1} MiB: {per:.2} KiB per connection",
            before as f64 / 1048576.0,
            after as f64 / 1048576.0
        );
        drop(conns);
        drop(warm);
        let _ = child.kill();
        let _ = child.wait();
    }
}

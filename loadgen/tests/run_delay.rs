//! A server that holds one message back shows that delay in the latency histogram: a tiny
//! fake server in this test speaks just enough of docs/PROTOCOL.md (`POST /publish/{topic}`,
//! `GET /sse/{topic}`) and delays message 15 of each SSE stream by 300 ms. pushbench measures
//! it with `--target`.

mod run_common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use run_common::{TempDir, run_json, technique, u};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;

const DELAYED_ID: u64 = 15;
const DELAY: Duration = Duration::from_millis(300);

type Topics = Arc<Mutex<HashMap<String, (u64, broadcast::Sender<(u64, String)>)>>>;

fn topic(topics: &Topics, name: &str) -> broadcast::Sender<(u64, String)> {
    let mut t = topics.lock().unwrap();
    t.entry(name.to_string())
        .or_insert_with(|| (0, broadcast::channel(4096).0))
        .1
        .clone()
}

/// Reads one request head (and its body, by Content-Length). `None` at end of stream.
async fn read_request(s: &mut TcpStream, buf: &mut Vec<u8>) -> Option<(String, String, String)> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            let len: usize = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().ok())?
                })
                .unwrap_or(0);
            while buf.len() < end + 4 + len {
                let mut tmp = [0u8; 4096];
                let n = s.read(&mut tmp).await.ok()?;
                if n == 0 {
                    return None;
                }
                buf.extend_from_slice(&tmp[..n]);
            }
            let body = String::from_utf8_lossy(&buf[end + 4..end + 4 + len]).into_owned();
            buf.drain(..end + 4 + len);
            let mut first = head.lines().next()?.split(' ');
            let method = first.next()?.to_string();
            let path = first.next()?.to_string();
            return Some((method, path, body));
        }
        let mut tmp = [0u8; 4096];
        let n = s.read(&mut tmp).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&tmp[..n]);
    }
}

async fn handle(mut s: TcpStream, topics: Topics) {
    let mut buf = Vec::new();
    while let Some((method, path, body)) = read_request(&mut s, &mut buf).await {
        let path = path.split('?').next().unwrap_or("").to_string();
        if let (Some(name), "POST") = (path.strip_prefix("/publish/"), method.as_str()) {
            let tx = topic(&topics, name);
            let id = {
                let mut t = topics.lock().unwrap();
                let e = t.get_mut(name).unwrap();
                e.0 += 1;
                e.0
            };
            let _ = tx.send((id, body));
            let answer = format!("{{\"topic\":\"{name}\",\"id\":{id}}}");
            let resp = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{answer}",
                answer.len()
            );
            if s.write_all(resp.as_bytes()).await.is_err() {
                return;
            }
        } else if let (Some(name), "GET") = (path.strip_prefix("/sse/"), method.as_str()) {
            let mut rx = topic(&topics, name).subscribe();
            let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-store\r\ntransfer-encoding: chunked\r\n\r\n";
            if s.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let chunk = |text: String| format!("{:x}\r\n{text}\r\n", text.len()).into_bytes();
            if s.write_all(&chunk("retry: 2000\n\n".into())).await.is_err() {
                return;
            }
            while let Ok((id, data)) = rx.recv().await {
                if id == DELAYED_ID {
                    // The scenario: this server holds one message back. Load can only add to
                    // the latency the test asserts a lower bound of.
                    tokio::time::sleep(DELAY).await;
                }
                if s.write_all(&chunk(format!("id: {id}\ndata: {data}\n\n")))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            return;
        } else {
            let resp = "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n";
            if s.write_all(resp.as_bytes()).await.is_err() {
                return;
            }
        }
    }
}

#[test]
fn a_delayed_message_shows_in_the_latency_histogram() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap();
    let topics: Topics = Arc::default();
    rt.spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            tokio::spawn(handle(s, topics.clone()));
        }
    });
    let dir = TempDir::new("delay");
    let out = dir.join("run");
    // 10 msg/s with a 1 s warm-up: messages 11..30 form the window, 15 is inside it.
    let doc = run_json(
        &[
            "run",
            "--target",
            &format!("http://{addr}"),
            "--techniques",
            "sse",
            "--out",
            out.to_str().unwrap(),
            "--clients",
            "3",
            "--rate",
            "10",
            "--warmup",
            "1s",
            "--duration",
            "2s",
            "--drain",
            "1s",
            "--no-report",
            "--json",
        ],
        Duration::from_secs(40),
    );
    let t = technique(&doc, "sse");
    assert_eq!(u(t, "delivered"), u(t, "expected"), "{t}");
    assert!(u(t, "expected") >= 45, "{t}");
    let l = &t["latency_us"];
    let max = l["max"].as_u64().unwrap();
    let p50 = l["p50"].as_u64().unwrap();
    assert!(
        max >= 290_000,
        "the 300 ms hold shows as latency: max {max} µs"
    );
    assert!(max < 2_000_000, "max {max} µs");
    assert!(
        p50 < 100_000,
        "other messages are not delayed: p50 {p50} µs"
    );
    // No /stats on this server: its figures are unknown, not zero.
    assert!(t["server_bytes_down"].is_null(), "{t}");
    assert!(t["server_cpu_s"].is_null(), "{t}");
    drop(rt);
}

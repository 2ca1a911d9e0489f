//! What every broker backend must do, run by each broker's test file against a real broker:
//! instances agree on every id, a client resumes on any instance (one that started late
//! too) with exactly what it missed, a lost broker is shown and refused with `503` until it is
//! back, and a bad URL fails at once with one line.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::Request;
use server::broker::{Broker, BrokerUrl, Kind};

use super::brokers::{TestBroker, broker_args, instance, instances};
use super::*;

async fn sse(addr: SocketAddr, topic: &str, last_event_id: Option<u64>) -> SseSub {
    let mut c = Client::new(addr).await;
    let mut req = Request::get(format!("/sse/{topic}")).header("host", addr.to_string());
    if let Some(id) = last_event_id {
        req = req.header("last-event-id", id.to_string());
    }
    let resp = c.request(req.body(Full::new(Bytes::new())).unwrap()).await;
    // The client lives as long as the body is read.
    std::mem::forget(c);
    SseSub::new(resp)
}

async fn next(s: &mut SseSub) -> Msg {
    tokio::time::timeout(WAIT, s.next())
        .await
        .expect("an SSE message in time")
        .expect("the stream goes on")
}

/// Three instances, a subscriber of each streaming technique on each, messages published
/// through all three in turn: every subscriber gets every message, with the same ids.
pub async fn same_ids_on_every_instance(b: &TestBroker) {
    let all = instances(&b.url(), 3).await;
    let mut sses = Vec::new();
    let mut streams = Vec::new();
    let mut wss = Vec::new();
    for s in &all {
        sses.push(sse(s.addr, "t", None).await);
        let mut c = Client::new(s.addr).await;
        streams.push(StreamSub::new(c.get("/stream/t").await));
        std::mem::forget(c);
        wss.push(ws_connect(s.addr, "/ws/t").await.0);
    }
    let n = 12u64;
    for i in 1..=n {
        let via = all[(i as usize) % 3].addr;
        assert_eq!(
            publish(via, "t", &format!("m{i}"), None).await,
            i,
            "ids in order"
        );
    }
    for i in 1..=n {
        for s in &mut sses {
            let m = next(s).await;
            assert_eq!((m.id, m.data.as_str()), (i, format!("m{i}").as_str()));
        }
        for s in &mut streams {
            let m = tokio::time::timeout(WAIT, s.next()).await.unwrap().unwrap();
            assert_eq!((m.id, m.data), (i, format!("m{i}")));
        }
        for ws in &mut wss {
            let mut gaps = Vec::new();
            let m = ws_next(ws, &mut gaps).await.unwrap();
            assert_eq!((m.id, m.data), (i, format!("m{i}")));
            assert!(gaps.is_empty());
        }
    }
    for s in &all {
        let (_, body) = get(s.addr, "/poll/t?since=0").await;
        let (next, msgs, gap) = poll_answer(&body);
        assert_eq!((next, msgs.len() as u64, gap), (n, n, None));
        let st = stats(s.addr).await;
        assert_eq!(st["broker"]["connected"], true, "{st}");
        assert_eq!(st["broker"]["received"], n, "{st}");
        assert_eq!(st["broker"]["kind"], b.url().kind.name());
    }
    let published: u64 = {
        let mut t = 0;
        for s in &all {
            t += stats(s.addr).await["published"].as_u64().unwrap();
        }
        t
    };
    assert_eq!(
        published, n,
        "each publish counted once, by the instance that took it"
    );
    assert!(sses.iter().all(|s| s.gaps.is_empty()));
}

/// A client resumes on another instance, and on one started after the messages, with
/// exactly what it missed; past the broker's retention it is told of the gap.
pub async fn resume_on_another_instance(b: &TestBroker) {
    let url = b.url();
    let ns = format!("resume{}", std::process::id());
    let mut a = broker_args(&url, &ns);
    a.retention = 4;
    let first = instance(a.clone()).await;
    let second = instance(a.clone()).await;
    let mut s = sse(first.addr, "r", None).await;
    for i in 1..=3 {
        assert_eq!(publish(first.addr, "r", &format!("m{i}"), None).await, i);
    }
    for i in 1..=3 {
        assert_eq!(next(&mut s).await.id, i);
    }
    drop(s);
    for i in 4..=6 {
        assert_eq!(publish(second.addr, "r", &format!("m{i}"), None).await, i);
    }
    let mut s = sse(second.addr, "r", Some(3)).await;
    for i in 4..=6 {
        let m = next(&mut s).await;
        assert_eq!((m.id, m.data), (i, format!("m{i}")));
    }
    assert!(s.gaps.is_empty(), "{:?}", s.gaps);

    // An instance started after all of it, resumed on before any message reaches it.
    let late = instance(a.clone()).await;
    let mut s = sse(late.addr, "r", Some(4)).await;
    for i in 5..=6 {
        assert_eq!(next(&mut s).await.id, i);
    }
    assert!(s.gaps.is_empty(), "{:?}", s.gaps);
    assert_eq!(publish(late.addr, "r", "m7", None).await, 7);
    assert_eq!(next(&mut s).await.id, 7);

    // The broker retains 4 (4..7): a cursor at 1 misses 2 and 3, and is told so.
    let later = instance(a).await;
    let (_, body) = get(later.addr, "/poll/r?since=1").await;
    let (next_id, msgs, gap) = poll_answer(&body);
    let ids: Vec<u64> = msgs.iter().map(|m| m.id).collect();
    assert_eq!(
        (next_id, ids, gap),
        // poll_answer's gap is the gap's first_available (the cursor was 1).
        (7, vec![4, 5, 6, 7], Some(4)),
        "{body}"
    );
    let st = stats(later.addr).await;
    assert!(st["broker"]["backfilled"].as_u64().unwrap() >= 4, "{st}");
}

/// The broker stops: `/stats` and `/metrics` say so and publishes answer `503` with
/// `Retry-After`; it comes back (with its data): publishing goes on with the next id and a
/// subscriber on another instance gets it with no gap. Then it comes back empty (its data
/// lost): the instances raise its counters, so no id is ever issued twice.
pub async fn broker_lost_and_back(b: &mut TestBroker, data_dir: &std::path::Path) {
    let all = instances(&b.url(), 2).await;
    let (a, other) = (all[0].addr, all[1].addr);
    let mut s = sse(other, "f", None).await;
    for i in 1..=2 {
        assert_eq!(publish(a, "f", &format!("m{i}"), None).await, i);
        assert_eq!(next(&mut s).await.id, i);
    }
    b.process.stop();
    stats_until(a, "broker lost", |s| s["broker"]["connected"] == false).await;
    let (status, retry, body) = post(a, "/publish/f", "lost").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(retry.as_deref(), Some("1"));
    assert!(body.contains("broker"), "{body}");
    let (_, metrics) = get(a, "/metrics").await;
    let kind = b.url().kind.name();
    assert!(
        metrics.contains(&format!(
            "pushbench_broker_connected{{broker=\"{kind}\"}} 0"
        )),
        "{metrics}"
    );
    b.process.restart().expect("the broker starts again");
    for addr in [a, other] {
        stats_until(addr, "broker back", |s| s["broker"]["connected"] == true).await;
    }
    assert_eq!(
        publish(a, "f", "m3", None).await,
        3,
        "the next id, not a reused one"
    );
    assert_eq!(next(&mut s).await.id, 3);
    assert!(s.gaps.is_empty(), "{:?}", s.gaps);
    let st = stats(a).await;
    assert!(st["broker"]["disconnects"].as_u64().unwrap() >= 1, "{st}");
    assert!(st["broker"]["refused"].as_u64().unwrap() >= 1, "{st}");

    // Back empty: ids go on above what the instances gave out.
    b.process.stop();
    stats_until(a, "broker lost", |s| s["broker"]["connected"] == false).await;
    for e in std::fs::read_dir(data_dir).unwrap().flatten() {
        if e.file_name().to_string_lossy().ends_with(".log") {
            continue;
        }
        let p = e.path();
        let _ = std::fs::remove_dir_all(&p).or_else(|_| std::fs::remove_file(&p));
    }
    b.process.restart().expect("the broker starts again, empty");
    for addr in [a, other] {
        stats_until(addr, "broker back", |s| s["broker"]["connected"] == true).await;
    }
    assert_eq!(
        publish(other, "f", "m4", None).await,
        4,
        "never an id twice"
    );
    assert_eq!(next(&mut s).await.id, 4);
    assert!(s.gaps.is_empty(), "{:?}", s.gaps);
}

/// POSTs `body`; the status, the `Retry-After` header and the answer.
async fn post(addr: SocketAddr, path: &str, body: &str) -> (u16, Option<String>, String) {
    let mut c = Client::new(addr).await;
    let req = Request::post(path)
        .header("host", addr.to_string())
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap();
    let r = c.request(req).await;
    let status = r.status().as_u16();
    let retry = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    (status, retry, text(r).await)
}

/// Nothing listening there, or something that is not this broker: the connection fails
/// within a few seconds with one line naming the URL.
pub async fn bad_urls_fail_fast(kind: Kind) {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    // Something that accepts and answers nonsense.
    let junk = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let junk_port = junk.local_addr().unwrap().port();
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        while let Ok((mut s, _)) = junk.accept().await {
            let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
        }
    });
    for port in [port, junk_port] {
        let url = BrokerUrl {
            kind,
            host: "127.0.0.1".into(),
            port,
        };
        let a = broker_args(&url, "bad");
        let t0 = Instant::now();
        let e = Broker::connect(&url, &a.broker_options())
            .await
            .expect_err("no broker there");
        let text = e.to_string();
        assert!(t0.elapsed() < Duration::from_secs(8), "{:?}", t0.elapsed());
        assert!(text.contains(&url.url()), "{text}");
        assert!(!text.contains('\n'), "{text}");
    }
}

/// The suite's tests for one broker `$kind` (a `server::broker::Kind`), as `#[tokio::test]`s
/// of the test file that invokes it: each skipped, saying so, where the broker is not
/// installed.
#[macro_export]
macro_rules! broker_suite_tests {
    ($kind:expr) => {
        #[tokio::test]
        async fn instances_agree_on_every_id() {
            let b = common::brokers::broker_or_skip($kind, "instances_agree_on_every_id");
            let Some(b) = b else { return };
            common::broker_suite::same_ids_on_every_instance(&b).await;
        }

        #[tokio::test]
        async fn a_client_resumes_on_any_instance() {
            let b = common::brokers::broker_or_skip($kind, "a_client_resumes_on_any_instance");
            let Some(b) = b else { return };
            common::broker_suite::resume_on_another_instance(&b).await;
        }

        #[tokio::test]
        async fn a_lost_broker_is_shown_refused_and_caught_up() {
            let name = "a_lost_broker_is_shown_refused_and_caught_up";
            let Some(mut b) = common::brokers::broker_or_skip($kind, name) else {
                return;
            };
            let dir = b.dir().to_path_buf();
            common::broker_suite::broker_lost_and_back(&mut b, &dir).await;
        }

        #[tokio::test]
        async fn a_bad_broker_url_fails_at_once() {
            common::broker_suite::bad_urls_fail_fast($kind).await;
        }
    };
}

//! A cursor from an earlier life of the server (it was restarted: retention lost, ids start
//! over) is ahead of the topic's newest seq. Every technique answers it with a gap
//! `{since: N, first_available: F}` and then delivers from the oldest retained message, at
//! once (a long poll does not wait for seq > N); a cursor at the newest seq still waits.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use http_body_util::Full;
use hyper::Request;
use serde_json::{Value, json};

const GAP: &str = r#"{"since":50,"first_available":1}"#;

async fn publish_five(a: std::net::SocketAddr, topic: &str) {
    for i in 1..=5 {
        assert_eq!(publish(a, topic, &format!("m{i}"), None).await, i);
    }
}

fn ids(msgs: &[Msg]) -> Vec<u64> {
    msgs.iter().map(|m| m.id).collect()
}

/// The JSON objects of the first `n` non-empty NDJSON lines of a stream body.
async fn stream_objects(c: &mut Client, path: &str, n: usize) -> Vec<Value> {
    let r = c.get(path).await;
    assert_eq!(r.status(), 200);
    let mut reader = BodyReader::new(r);
    let mut buf = String::new();
    loop {
        let lines: Vec<&str> = buf.lines().filter(|l| !l.trim().is_empty()).collect();
        if buf.ends_with('\n') && lines.len() >= n {
            return lines
                .iter()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
        }
        let chunk = reader.chunk().await.expect("stream body").expect("open");
        buf.push_str(std::str::from_utf8(&chunk).expect("utf-8"));
    }
}

/// The JSON objects of the first `n` text frames of a WebSocket.
async fn ws_objects(a: std::net::SocketAddr, path: &str, n: usize) -> Vec<Value> {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    let (mut ws, _) = ws_connect(a, path).await;
    let mut out = Vec::new();
    while out.len() < n {
        let m = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("ws read timeout")
            .expect("ws open")
            .expect("ws frame");
        if let Message::Text(t) = m {
            out.push(serde_json::from_str(t.as_str()).unwrap());
        }
    }
    out
}

fn assert_gap_then_five(objs: &[Value], what: &str) {
    assert_eq!(
        objs[0],
        json!({"gap":{"since":50,"first_available":1}}),
        "{what}"
    );
    let got: Vec<u64> = objs[1..]
        .iter()
        .map(|o| o["id"].as_u64().unwrap())
        .collect();
    assert_eq!(got, [1, 2, 3, 4, 5], "{what}");
    assert_eq!(objs[1]["data"], "m1", "{what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_ahead_of_the_newest_is_a_gap_in_every_framing() {
    let srv = start(args()).await;
    let a = srv.addr;
    publish_five(a, "r").await;

    // Poll: the gap, all five, and a `next` in the new numbering that works next time.
    let (st, body) = get(a, "/poll/r?since=50").await;
    assert_eq!(st, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["gap"], serde_json::from_str::<Value>(GAP).unwrap());
    let (next, msgs, _) = poll_answer(&body);
    assert_eq!((next, ids(&msgs)), (5, vec![1, 2, 3, 4, 5]));
    let (_, body) = get(a, &format!("/poll/r?since={next}")).await;
    assert_eq!(poll_answer(&body), (5, vec![], None));

    // Long poll: answered at once, not held until the timeout or until seq 51.
    let t0 = Instant::now();
    let (_, body) = get(a, "/long-poll/r?since=50&timeout=5000").await;
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["gap"], serde_json::from_str::<Value>(GAP).unwrap());
    let (next, msgs, _) = poll_answer(&body);
    assert_eq!((next, ids(&msgs)), (5, vec![1, 2, 3, 4, 5]));

    let mut c = Client::new(a).await;
    let objs = stream_objects(&mut c, "/stream/r?since=50", 6).await;
    assert_gap_then_five(&objs, "stream");

    // SSE, by `?since` and by `Last-Event-ID`.
    let mut c = Client::new(a).await;
    let mut sse = SseSub::new(c.get("/sse/r?since=50").await);
    let mut got = Vec::new();
    for _ in 0..5 {
        got.push(sse.next().await.unwrap());
    }
    assert_eq!(
        (sse.gaps.clone(), ids(&got)),
        (vec![GAP.to_string()], vec![1, 2, 3, 4, 5])
    );
    let mut c = Client::new(a).await;
    let req = Request::get("/sse/r")
        .header("host", a.to_string())
        .header("last-event-id", "50")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let mut sse = SseSub::new(c.request(req).await);
    let mut got = Vec::new();
    for _ in 0..5 {
        got.push(sse.next().await.unwrap());
    }
    assert_eq!(
        (sse.gaps.clone(), ids(&got)),
        (vec![GAP.to_string()], vec![1, 2, 3, 4, 5])
    );

    let objs = ws_objects(a, "/ws/r?since=50", 6).await;
    assert_gap_then_five(&objs, "ws");

    // The subscriptions continue in the new numbering.
    assert_eq!(publish(a, "r", "m6", None).await, 6);
    assert_eq!(sse.next().await.unwrap().id, 6);

    let s = stats(a).await;
    for (t, n) in [
        ("poll", 1),
        ("long-poll", 1),
        ("stream", 1),
        ("sse", 2),
        ("ws", 1),
    ] {
        assert_eq!(s["techniques"][t]["gaps"], n, "{t} gaps");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topic_without_messages_answers_a_cursor_above_zero_with_a_gap() {
    let srv = start(args()).await;
    let (_, body) = get(srv.addr, "/poll/fresh?since=50").await;
    assert_eq!(
        body,
        r#"{"next":0,"gap":{"since":50,"first_available":1},"messages":[]}"#
    );
    let (_, body) = get(srv.addr, "/poll/fresh?since=0").await;
    assert_eq!(poll_answer(&body), (0, vec![], None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_at_the_newest_still_waits() {
    let srv = start(args()).await;
    let a = srv.addr;
    publish_five(a, "w").await;

    let (_, body) = get(a, "/poll/w?since=5").await;
    assert_eq!(poll_answer(&body), (5, vec![], None));

    // Held until the timeout, then empty, no gap.
    let t0 = Instant::now();
    let (_, body) = get(a, "/long-poll/w?since=5&timeout=400").await;
    assert!(
        t0.elapsed() >= Duration::from_millis(350),
        "{:?}",
        t0.elapsed()
    );
    assert_eq!(poll_answer(&body), (5, vec![], None));

    // Held until the next publish, which it then carries.
    let t0 = Instant::now();
    let held = tokio::spawn(async move { get(a, "/long-poll/w?since=5&timeout=5000").await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !held.is_finished(),
        "a long poll at the newest seq must wait"
    );
    assert_eq!(publish(a, "w", "m6", None).await, 6);
    let (_, body) = tokio::time::timeout(WAIT, held).await.unwrap().unwrap();
    assert!(t0.elapsed() < Duration::from_secs(4), "{:?}", t0.elapsed());
    let (next, msgs, gap) = poll_answer(&body);
    assert_eq!((next, ids(&msgs), gap), (6, vec![6], None));
    let s = stats(a).await;
    assert_eq!(s["techniques"]["long-poll"]["gaps"], 0);
    assert_eq!(s["techniques"]["long-poll"]["long_poll_timeouts"], 1);
}

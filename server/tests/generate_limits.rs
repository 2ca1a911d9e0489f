//! Request-scoped streams (`/generate`, issue 16) at their edges, with real clients: bad
//! bodies refused with a one-line `400` (a WebSocket's with close 1008) and counted, wrong
//! methods, long-poll ids and cursors, a client leaving mid-stream (its stream is closed at
//! once), and shutdown ending every stream. (Delivery itself: generate.rs.)

mod common;

use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::Full;
use hyper::Request;
use tokio_tungstenite::tungstenite::Message;

use common::generate::{TECHNIQUES, post, run, start_long_poll};
use common::*;

/// Options with a small `--max-payload-bytes` (the largest `event_bytes`).
fn small_args() -> server::ServeArgs {
    server::ServeArgs {
        max_payload_bytes: 1000,
        ..args()
    }
}

/// Bodies every endpoint refuses, and a word of the reason each gets.
fn bad_bodies() -> Vec<(String, &'static str)> {
    vec![
        (r#"{"events":-1}"#.into(), "events must be"),
        (
            r#"{"event_bytes":1001}"#.into(),
            "event_bytes must be a whole number from 0 to 1000",
        ),
        (
            r#"{"distribution":"pareto"}"#.into(),
            "unknown distribution",
        ),
        (
            r#"{"events":1,"colour":"red"}"#.into(),
            "unknown key \"colour\"",
        ),
        ("events=1".into(), "not JSON"),
        (r#"{"interval_ms":-5}"#.into(), "interval_ms must be"),
        (
            format!(r#"{{"model":"{}"}}"#, "x".repeat(70_000)),
            "larger than 65536 bytes",
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bodies_are_refused_with_a_one_line_reason_and_counted() {
    let srv = start(small_args()).await;
    for path in ["/generate/sse", "/generate/stream", "/generate/long-poll"] {
        for (body, want) in bad_bodies() {
            let mut c = Client::new(srv.addr).await;
            let r = c.request(post(&c, path, &body)).await;
            assert_eq!(r.status(), 400, "{path} {want}");
            assert_eq!(r.headers()["content-type"], "text/plain; charset=utf-8");
            let reason = text(r).await;
            assert!(reason.contains(want), "{path}: {reason}");
            assert_eq!(
                reason.matches('\n').count(),
                1,
                "{path}: one line: {reason:?}"
            );
            assert!(reason.ends_with('\n'));
            c.close().await;
        }
    }
    // WebSocket: the request message refused with close 1008 and the reason.
    for (body, want) in bad_bodies() {
        let (mut ws, _) = ws_connect(srv.addr, "/generate/ws").await;
        ws.send(Message::text(body)).await.unwrap();
        let (code, reason) = ws_close(&mut ws).await;
        assert_eq!(code, 1008, "{want}");
        assert!(reason.contains(want), "{reason}");
    }
    let (mut ws, _) = ws_connect(srv.addr, "/generate/ws").await;
    ws.send(Message::binary(b"{}".to_vec())).await.unwrap();
    let (code, reason) = ws_close(&mut ws).await;
    assert_eq!(
        (code, reason.contains("text message")),
        (1008, true),
        "{reason}"
    );
    // The server keeps serving.
    assert!(
        run(srv.addr, "sse", r#"{"events":2,"interval_ms":1}"#)
            .await
            .ended
    );
    let s = stats(srv.addr).await;
    let bad = |t: &str| {
        s["techniques"][t]["generate"]["bad_requests"]
            .as_u64()
            .unwrap()
    };
    let n = bad_bodies().len() as u64;
    assert_eq!((bad("sse"), bad("stream"), bad("long-poll")), (n, n, n));
    assert_eq!(bad("ws"), n + 1, "the bodies and the binary message");
    assert_eq!(s["techniques"]["sse"]["generate"]["streams_started"], 1);
}

/// Reads until the close frame: its code and reason.
async fn ws_close(ws: &mut Ws) -> (u16, String) {
    loop {
        match tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("ws read")
        {
            Some(Ok(Message::Close(Some(f)))) => return (f.code.into(), f.reason.to_string()),
            Some(Ok(Message::Close(None))) | None | Some(Err(_)) => return (0, String::new()),
            Some(Ok(_)) => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn methods_and_long_poll_ids_and_cursors() {
    let srv = start(args()).await;
    let a = srv.addr;
    for path in ["/generate/sse", "/generate/stream", "/generate/long-poll"] {
        let (status, _) = get(a, path).await;
        assert_eq!(status, 405, "GET {path}");
    }
    let mut c = Client::new(a).await;
    let r = c.request(post(&c, "/generate/long-poll/1-1", "")).await;
    assert_eq!(r.status(), 405);
    let _ = text(r).await;
    let opt = Request::options("/generate/sse")
        .header("host", a.to_string())
        .body(Full::new(Bytes::new()))
        .unwrap();
    assert_eq!(c.request(opt).await.status(), 204);
    assert_eq!(get(a, "/generate/nope").await.0, 404);
    assert_eq!(get(a, "/generate/long-poll/no-such-id").await.0, 404);

    let (status, v) = start_long_poll(&mut c, r#"{"events":3,"interval_ms":1}"#).await;
    assert_eq!(status, 200);
    assert_eq!(v["events"], 3);
    let poll = v["poll"].as_str().unwrap().to_string();
    let r = c.get(&format!("{poll}?after=4")).await;
    assert_eq!(r.status(), 400, "after > N");
    assert!(text(r).await.contains("after=4"));
    let r = c.get(&format!("{poll}?after=x")).await;
    assert_eq!(r.status(), 400);
    let _ = text(r).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    // All three are due: one answer, done; then the stream is gone.
    let r = c.get(&format!("{poll}?after=1")).await;
    let v: serde_json::Value = serde_json::from_str(&text(r).await).unwrap();
    assert_eq!(
        (v["next"].as_u64(), v["done"].as_bool()),
        (Some(3), Some(true))
    );
    let seqs: Vec<_> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pushbench"]["seq"].clone())
        .collect();
    assert_eq!(seqs, vec![1, 2]);
    let r = c.get(&poll).await;
    assert_eq!(r.status(), 404, "finished");
    let _ = text(r).await;
    c.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_poll_answers_at_most_64_and_waits_for_the_next_event() {
    let srv = start(args()).await;
    let mut c = Client::new(srv.addr).await;
    let (_, v) = start_long_poll(
        &mut c,
        r#"{"events":100,"interval_ms":0,"first_delay_ms":0}"#,
    )
    .await;
    let poll = v["poll"].as_str().unwrap().to_string();
    let r = c.get(&poll).await;
    let v: serde_json::Value = serde_json::from_str(&text(r).await).unwrap();
    assert_eq!(v["events"].as_array().unwrap().len(), 64);
    assert_eq!(
        (v["next"].as_u64(), v["done"].as_bool()),
        (Some(64), Some(false))
    );
    // A slow stream: the poll is held until event 0 is due (300 ms).
    let (_, v) = start_long_poll(&mut c, r#"{"events":1,"first_delay_ms":300}"#).await;
    let t0 = std::time::Instant::now();
    let r = c.get(v["poll"].as_str().unwrap()).await;
    let v: serde_json::Value = serde_json::from_str(&text(r).await).unwrap();
    assert!(
        t0.elapsed() >= Duration::from_millis(250),
        "{:?}",
        t0.elapsed()
    );
    assert_eq!(
        (v["next"].as_u64(), v["done"].as_bool()),
        (Some(1), Some(true))
    );
    c.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_leaving_mid_stream_closes_its_stream() {
    let srv = start(args()).await;
    let body = r#"{"events":1000,"event_bytes":8,"interval_ms":20}"#;
    // SSE and stream: read one event, then drop the connection.
    for t in ["sse", "stream"] {
        let mut c = Client::new(srv.addr).await;
        let r = c.request(post(&c, &format!("/generate/{t}"), body)).await;
        assert_eq!(r.status(), 200);
        let mut reader = BodyReader::new(r);
        assert!(reader.chunk().await.unwrap().is_some());
        drop(reader);
        c.conn.abort();
        drop(c);
    }
    let (mut ws, _) = ws_connect(srv.addr, "/generate/ws").await;
    ws.send(Message::text(body)).await.unwrap();
    assert!(matches!(ws.next().await, Some(Ok(Message::Text(_)))));
    drop(ws);
    let s = stats_until(srv.addr, "streams closed after their clients left", |s| {
        ["sse", "stream", "ws"].iter().all(|t| {
            let g = &s["techniques"][t]["generate"];
            g["streams_started"] == 1 && g["streams_open"] == 0
        })
    })
    .await;
    for t in ["sse", "stream", "ws"] {
        let g = &s["techniques"][t]["generate"];
        assert_eq!(g["streams_completed"], 0, "{t}: {g}");
        assert!(g["events_sent"].as_u64().unwrap() < 100, "{t}: {g}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_every_generate_stream() {
    let srv = start(args()).await;
    let body = r#"{"events":1000,"event_bytes":8,"interval_ms":20}"#;
    let mut sse = Client::new(srv.addr).await;
    let r = sse.request(post(&sse, "/generate/sse", body)).await;
    let mut reader = BodyReader::new(r);
    assert!(reader.chunk().await.unwrap().is_some());
    let (mut ws, _) = ws_connect(srv.addr, "/generate/ws").await;
    ws.send(Message::text(body)).await.unwrap();
    assert!(matches!(ws.next().await, Some(Ok(Message::Text(_)))));
    let mut lp = Client::new(srv.addr).await;
    let (_, v) = start_long_poll(&mut lp, r#"{"events":1,"first_delay_ms":600000}"#).await;
    let poll = v["poll"].as_str().unwrap().to_string();
    let held = tokio::spawn(async move {
        let r = lp.get(&poll).await;
        text(r).await
    });
    tokio::time::sleep(Duration::from_millis(50)).await;

    let t0 = std::time::Instant::now();
    srv.shutdown.cancel();
    // SSE: the body ends cleanly, without [DONE].
    let mut rest = Vec::new();
    while let Some(chunk) = reader.chunk().await.expect("a clean end") {
        rest.extend_from_slice(&chunk);
    }
    assert!(!String::from_utf8_lossy(&rest).contains("[DONE]"));
    let (code, _) = ws_close(&mut ws).await;
    assert_eq!(code, 1001);
    let answer = tokio::time::timeout(WAIT, held).await.unwrap().unwrap();
    assert!(answer.contains("\"events\":[]"), "{answer}");
    tokio::time::timeout(WAIT, srv.task).await.unwrap().unwrap();
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_technique_counts_its_bytes_and_requests() {
    let srv = start(args()).await;
    for t in TECHNIQUES {
        assert!(
            run(srv.addr, t, r#"{"events":2,"interval_ms":1}"#)
                .await
                .ended
        );
    }
    let s = stats_until(srv.addr, "connections closed", |s| {
        TECHNIQUES
            .iter()
            .all(|t| s["techniques"][t]["connections"] == 0)
    })
    .await;
    for t in TECHNIQUES {
        let x = &s["techniques"][t];
        let requests = if t == "long-poll" { 2 } else { 1 };
        assert!(x["requests"].as_u64().unwrap() >= requests, "{t}: {x}");
        assert!(x["bytes_read"].as_u64().unwrap() > 0, "{t}: {x}");
        assert!(x["bytes_written"].as_u64().unwrap() > 0, "{t}: {x}");
    }
}

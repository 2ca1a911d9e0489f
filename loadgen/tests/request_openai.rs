//! `pushbench run --mode request --profile openai` against a mock OpenAI-compatible server (a
//! tiny hyper server in this test): the request's framing is checked by the mock (path,
//! method, JSON keys, `"stream": true`, `max_tokens`), which answers with chat-completion
//! chunks and `data: [DONE]`; the run measures TTFT and gaps, no lateness, nothing lost.

mod run_common;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use run_common::{TempDir, run_json, technique, u};

/// What the mock saw: each request's verdict (`Ok` or why its framing was wrong).
type Seen = Arc<Mutex<Vec<Result<(), String>>>>;

const TOKENS: u64 = 6;
const GAP: Duration = Duration::from_millis(15);

/// Checks one request's framing.
fn check(method: &str, path: &str, body: &[u8]) -> Result<(), String> {
    if method != "POST" || path != "/base/v1/chat/completions" {
        return Err(format!("{method} {path}"));
    }
    let v: serde_json::Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let ok = v["model"] == "mock-model"
        && v["stream"] == true
        && v["max_tokens"] == TOKENS
        && v["messages"][0]["role"] == "user"
        && v["messages"][0]["content"].is_string();
    ok.then_some(()).ok_or_else(|| format!("body {v}"))
}

async fn answer(
    req: Request<Incoming>,
    seen: Seen,
) -> Result<Response<BoxBody<Bytes, Infallible>>, Infallible> {
    let (method, path) = (req.method().to_string(), req.uri().path().to_string());
    let body = req.into_body().collect().await.map(|b| b.to_bytes());
    let verdict = check(&method, &path, &body.unwrap_or_default());
    if path.ends_with("/stats") {
        let r = Response::builder()
            .status(404)
            .body(Full::new(Bytes::new()).boxed());
        return Ok(r.unwrap());
    }
    let ok = verdict.is_ok();
    seen.lock().unwrap().push(verdict);
    if !ok {
        let r = Response::builder()
            .status(400)
            .body(Full::new(Bytes::new()).boxed());
        return Ok(r.unwrap());
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
    tokio::spawn(async move {
        for i in 0..TOKENS {
            tokio::time::sleep(GAP).await;
            let chunk = format!(
                "data: {{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":\
                 [{{\"index\":0,\"delta\":{{\"content\":\"t{i}\"}},\"finish_reason\":null}}]}}\n\n"
            );
            if tx.send(Bytes::from(chunk)).await.is_err() {
                return;
            }
        }
        let _ = tx.send(Bytes::from_static(b"data: [DONE]\n\n")).await;
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        let b = rx.recv().await?;
        Some((Ok::<_, Infallible>(Frame::data(b)), rx))
    });
    let r = Response::builder()
        .header("content-type", "text/event-stream")
        .body(BodyExt::boxed(StreamBody::new(stream)));
    Ok(r.unwrap())
}

/// Starts the mock on a thread of its own; returns its address.
fn start_mock(seen: Seen) -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async move {
            let l = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((s, _)) = l.accept().await else { return };
                let seen = seen.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |r| answer(r, seen.clone()));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(s), svc)
                        .await;
                });
            }
        });
    });
    addr
}

#[test]
fn openai_profile_streams_chat_completions_from_a_mock() {
    let seen: Seen = Arc::default();
    let addr = start_mock(seen.clone());
    let dir = TempDir::new("req-openai");
    let url = format!("http://{addr}/base");
    let out = dir.join("run");
    let doc = run_json(
        &[
            "run",
            "--mode",
            "request",
            "--target",
            &url,
            "--profile",
            "openai",
            "--model",
            "mock-model",
            "--techniques",
            "sse,ws",
            "--concurrency",
            "2",
            "--events",
            &TOKENS.to_string(),
            "--warmup",
            "0s",
            "--duration",
            "1s",
            "--drain",
            "1s",
            "--no-report",
            "--json",
            "--out",
            out.to_str().unwrap(),
        ],
        Duration::from_secs(30),
    );
    let seen = seen.lock().unwrap();
    assert!(!seen.is_empty(), "the mock saw no request");
    for v in seen.iter() {
        assert_eq!(v, &Ok(()), "bad framing");
    }
    assert_eq!(
        technique(&doc, "ws")["skipped"],
        "not offered by this target"
    );
    let t = technique(&doc, "sse");
    let q = &t["request"];
    let started = u(q, "requests_started");
    assert!(started >= 2, "{q}");
    assert_eq!(u(q, "requests_completed"), started, "{t}");
    assert_eq!(u(t, "delivered"), TOKENS * started, "{t}");
    assert_eq!(u(t, "lost"), 0, "{t}");
    let ttft = u(&t["ttft_us"], "p50");
    assert!(
        (GAP.as_micros() as u64..100_000).contains(&ttft),
        "TTFT {ttft}"
    );
    let itl = u(&t["itl_us"], "p50");
    assert!(itl.abs_diff(15_000) <= 5_000, "ITL {itl}");
    // No due times: lateness is not measured.
    assert!(q["lateness_us"]["p99"].is_null(), "{q}");
    assert!(t["latency_us"]["p99"].is_null(), "{t}");
    assert_eq!(doc["manifest"]["params"]["profile"], "openai");
    let api = &doc["manifest"]["params"]["request"]["api"];
    assert_eq!(api["openai"]["model"], "mock-model", "{api}");
}

//! Property tests against a real server on 127.0.0.1:0 (hostile but standards-valid peers):
//! any message a publisher may send (any UTF-8 payload, any valid event name) comes back
//! exactly on every technique, and any request a client may send (paths, queries, cursors,
//! event names, bodies, HTTP/1.0 or 1.1) gets an answer below 500, after which the server still
//! serves. `PROPTEST_CASES=N` runs more cases (docs/FUZZING.md).

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::Config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use common::*;

/// `default` cases, or `PROPTEST_CASES` when set (a longer run).
fn cases(default: u32) -> Config {
    let n = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    Config::with_cases(n)
}

/// A runtime for the whole test and a server started on it (it runs while a case runs).
fn server() -> (tokio::runtime::Runtime, TestServer) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let s = rt.block_on(start(server::config::ServeArgs {
        max_topics: 1_000_000,
        ..args()
    }));
    (rt, s)
}

/// A message a publisher may send: an optional event name (the server's rule) and any text.
fn message() -> impl Strategy<Value = (Option<String>, String)> {
    (
        proptest::option::of("[A-Za-z0-9_.-]{1,64}"),
        prop_oneof![
            any::<String>(),
            "[a\r\n\0:\"\\\\é\u{2028}\u{feff}]{0,40}",
            "(data: |id: |\r\n|\n\n|\r|event: |retry: 1)*",
        ],
    )
}

/// What an event-stream client makes of `data`: every line end (CRLF, CR, LF) is an LF.
fn normalized(data: &str) -> String {
    data.replace("\r\n", "\n").replace('\r', "\n")
}

/// Publishes `msgs` to a new topic, then reads them back on every technique.
async fn round_trip(a: SocketAddr, topic: &str, msgs: &[(Option<String>, String)]) {
    for (i, (event, data)) in msgs.iter().enumerate() {
        assert_eq!(
            publish(a, topic, data, event.as_deref()).await,
            i as u64 + 1
        );
    }
    let want: Vec<Msg> = msgs
        .iter()
        .enumerate()
        .map(|(i, (event, data))| Msg {
            id: i as u64 + 1,
            event: event.clone(),
            data: data.clone(),
        })
        .collect();
    let n = msgs.len();
    let mut c = Client::new(a).await;
    assert_eq!(poll_collect(&mut c, topic, 0, n).await, want, "poll");
    assert_eq!(
        long_poll_collect(&mut c, topic, 0, n).await,
        want,
        "long-poll"
    );
    let mut stream = StreamSub::new(c.get(&format!("/stream/{topic}?since=0")).await);
    let mut sse = SseSub::new(
        Client::new(a)
            .await
            .get(&format!("/sse/{topic}?since=0"))
            .await,
    );
    let (mut ws, _) = ws_connect(a, &format!("/ws/{topic}?since=0")).await;
    let mut gaps = Vec::new();
    for m in &want {
        let next = tokio::time::timeout(WAIT, stream.next()).await;
        assert_eq!(next.expect("stream").as_ref(), Some(m), "stream");
        let got = tokio::time::timeout(WAIT, sse.next()).await.expect("sse");
        let sse_want = Msg {
            data: normalized(&m.data),
            ..m.clone()
        };
        assert_eq!(got, Some(sse_want), "sse");
        assert_eq!(ws_next(&mut ws, &mut gaps).await.as_ref(), Some(m), "ws");
    }
    assert!(gaps.is_empty());
}

#[test]
fn published_messages_come_back_exactly_on_every_technique() {
    let (rt, s) = server();
    let topics = AtomicU64::new(0);
    proptest!(cases(24), |(msgs in vec(message(), 1..5))| {
        let topic = format!("prop-{}", topics.fetch_add(1, Ordering::Relaxed));
        rt.block_on(round_trip(s.addr, &topic, &msgs));
    });
}

/// Request targets: mostly a route with a topic and a query whose parameters (`since`,
/// `timeout`, `event`) take valid, edge and junk values; sometimes junk from the same pieces,
/// or a `/generate` endpoint.
fn target() -> impl Strategy<Value = String> {
    let route = prop_oneof![
        Just("/poll/"),
        Just("/long-poll/"),
        Just("/stream/"),
        Just("/sse/"),
        Just("/ws/"),
        Just("/publish/"),
        Just("/stats"),
        Just("/stats/reset"),
        Just("/metrics"),
        Just("/"),
        Just("//"),
    ];
    let topic = prop_oneof![
        Just("t1".to_string()),
        "[A-Za-z0-9_.-]{1,70}",
        Just("%2F..%00".to_string()),
        Just("a/b".to_string()),
        Just(String::new()),
    ];
    let value = prop_oneof![
        Just("0".to_string()),
        Just("1".to_string()),
        Just("18446744073709551615".to_string()),
        Just("18446744073709551616".to_string()),
        Just("-1".to_string()),
        Just("%FF".to_string()),
        Just("1e3".to_string()),
        Just(String::new()),
        "[a-z0-9.-]{1,80}",
    ];
    let param = (
        prop_oneof![Just("since"), Just("timeout"), Just("event"), Just("x")],
        value,
    )
        .prop_map(|(k, v)| format!("{k}={v}"));
    let query = proptest::option::of(vec(param, 0..4).prop_map(|p| p.join("&")));
    let junk = vec(
        prop_oneof![
            Just("/"),
            Just("?"),
            Just("&"),
            Just("="),
            Just("%"),
            Just("é"),
            Just("*")
        ],
        0..10,
    )
    .prop_map(|t| format!("/{}", t.concat()));
    // The request-scoped streams (their bodies are the request's random ones).
    let generate = (
        prop_oneof![
            Just("/generate/sse"),
            Just("/generate/stream"),
            Just("/generate/ws"),
            Just("/generate/long-poll"),
            Just("/generate/long-poll/1-1?after=0"),
            Just("/generate/long-poll/"),
            Just("/generate/"),
        ],
        proptest::option::weighted(0.3, "[a-z0-9-]{1,12}"),
    )
        .prop_map(|(r, t)| format!("{r}{}", t.unwrap_or_default()));
    prop_oneof![
        4 => (route, topic, query).prop_map(|(r, t, q)| match q {
            Some(q) => format!("{r}{t}?{q}"),
            None => format!("{r}{t}"),
        }),
        1 => junk,
        1 => generate,
    ]
}

/// One request as raw bytes.
#[derive(Debug, Clone)]
struct RawRequest {
    method: &'static str,
    target: String,
    http10: bool,
    last_event_id: Option<String>,
    body: Option<Vec<u8>>,
}

fn raw_request() -> impl Strategy<Value = RawRequest> {
    (
        prop_oneof![
            6 => Just("GET"),
            3 => Just("POST"),
            1 => Just("HEAD"),
            1 => Just("PUT"),
            1 => Just("DELETE"),
            1 => Just("OPTIONS"),
            1 => Just("PATCH"),
        ],
        target(),
        any::<bool>(),
        proptest::option::of("[0-9a-z:\0-]{0,24}"),
        proptest::option::of(vec(any::<u8>(), 0..200)),
    )
        .prop_map(|(method, target, http10, last_event_id, body)| RawRequest {
            method,
            target,
            http10,
            last_event_id,
            body,
        })
}

impl RawRequest {
    fn bytes(&self, host: SocketAddr) -> Vec<u8> {
        let version = if self.http10 { "1.0" } else { "1.1" };
        let mut out = format!(
            "{} {} HTTP/{version}\r\nHost: {host}\r\nConnection: close\r\n",
            self.method, self.target
        )
        .into_bytes();
        if let Some(id) = &self.last_event_id {
            out.extend(b"Last-Event-ID: ");
            out.extend(id.replace('\0', "").as_bytes());
            out.extend(b"\r\n");
        }
        let body = self.body.as_deref().unwrap_or_default();
        if self.body.is_some() {
            out.extend(format!("Content-Length: {}\r\n", body.len()).into_bytes());
        }
        out.extend(b"\r\n");
        out.extend(body);
        out
    }
}

/// The status of the answer to `raw`, or `None` when no head arrived within `bound` (a long
/// poll held) or the server closed without one.
async fn status_of(a: SocketAddr, raw: &[u8], bound: Duration) -> Option<u16> {
    let mut s = TcpStream::connect(a).await.expect("connect");
    s.write_all(raw).await.expect("send");
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    let read = async {
        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    };
    let _ = tokio::time::timeout(bound, read).await;
    let line = String::from_utf8_lossy(&got);
    line.strip_prefix("HTTP/1.")?.get(2..5)?.parse().ok()
}

#[test]
fn requests_of_any_shape_get_an_answer_below_500() {
    let (rt, s) = server();
    proptest!(cases(128), |(req in raw_request())| {
        rt.block_on(async {
            let status = status_of(s.addr, &req.bytes(s.addr), Duration::from_secs(2)).await;
            match status {
                Some(code) => assert!(code < 500, "{req:?} answered {code}"),
                // Held: a long poll with nothing new, for as long as it asked.
                None => assert!(
                    req.target.starts_with("/long-poll/"),
                    "{req:?} got no answer"
                ),
            }
            // Still serving: /stats answers 200 with its JSON.
            stats(s.addr).await;
        });
    });
}

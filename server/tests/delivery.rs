//! Every technique gets every published message, in order, complete; resume by cursor loses
//! nothing; a gap is announced; long poll holds then answers or times out; heartbeats arrive.

mod common;

use std::time::Duration;

use common::*;

fn payload(i: u64) -> String {
    match i % 4 {
        0 => format!("plain {i}"),
        1 => format!("multi\nline {i}\r\nwith CRLF\rand CR"),
        2 => format!("quote \" and unicode é {i}"),
        _ => String::new(),
    }
}

fn expected(from: u64, to: u64) -> Vec<Msg> {
    (from..=to)
        .map(|i| Msg {
            id: i,
            event: (i % 3 == 0).then(|| "tick".to_string()),
            data: payload(i),
        })
        .collect()
}

/// SSE cannot carry CR: every line break arrives as LF.
fn sse_view(v: &[Msg]) -> Vec<Msg> {
    v.iter()
        .map(|m| Msg {
            data: m.data.replace("\r\n", "\n").replace('\r', "\n"),
            ..m.clone()
        })
        .collect()
}

async fn publish_range(addr: std::net::SocketAddr, topic: &str, from: u64, to: u64) {
    for i in from..=to {
        let ev = (i % 3 == 0).then_some("tick");
        assert_eq!(publish(addr, topic, &payload(i), ev).await, i);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_technique_delivers_all_in_order() {
    let srv = start(args()).await;
    let a = srv.addr;
    const N: u64 = 40;

    let mut sc = Client::new(a).await;
    let mut stream = StreamSub::new(sc.get("/stream/t").await);
    let mut ec = Client::new(a).await;
    let mut sse = SseSub::new(ec.get("/sse/t").await);
    let (mut ws, _) = ws_connect(a, "/ws/t").await;

    let pub_task = tokio::spawn(async move { publish_range(a, "t", 1, N).await });
    let lp = tokio::spawn(async move {
        let mut c = Client::new(a).await;
        long_poll_collect(&mut c, "t", 0, N as usize).await
    });
    let pl = tokio::spawn(async move {
        let mut c = Client::new(a).await;
        poll_collect(&mut c, "t", 0, N as usize).await
    });

    let mut got_stream = Vec::new();
    let mut got_sse = Vec::new();
    let mut got_ws = Vec::new();
    let mut gaps = Vec::new();
    for _ in 0..N {
        got_stream.push(stream.next().await.expect("stream message"));
        got_sse.push(sse.next().await.expect("sse message"));
        got_ws.push(ws_next(&mut ws, &mut gaps).await.expect("ws message"));
    }
    pub_task.await.unwrap();
    let want = expected(1, N);
    assert_eq!(got_stream, want, "stream");
    assert_eq!(got_sse, sse_view(&want), "sse");
    assert_eq!(got_ws, want, "ws");
    assert_eq!(lp.await.unwrap(), want, "long-poll");
    assert_eq!(pl.await.unwrap(), want, "poll");
    assert_eq!(sse.retry, Some(2000));
    assert!(gaps.is_empty() && stream.gaps.is_empty() && sse.gaps.is_empty());

    let s = stats(a).await;
    for t in ["stream", "sse", "ws", "poll", "long-poll"] {
        assert_eq!(s["techniques"][t]["delivered"], N, "{t} delivered");
    }
    assert_eq!(s["published"], N);
    assert_eq!(s["techniques"]["publish"]["requests"], N);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_by_cursor_loses_nothing() {
    let srv = start(args()).await;
    let a = srv.addr;
    publish_range(a, "r", 1, 10).await;
    let want = expected(5, 12);

    // SSE: Last-Event-ID wins over ?since.
    let mut c = Client::new(a).await;
    let req = hyper::Request::get("/sse/r?since=1")
        .header("host", a.to_string())
        .header("last-event-id", "4")
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .unwrap();
    let mut sse = SseSub::new(c.request(req).await);
    let mut sc = Client::new(a).await;
    let mut stream = StreamSub::new(sc.get("/stream/r?since=4").await);
    let (mut ws, _) = ws_connect(a, "/ws/r?since=4").await;
    // Live messages after the replay.
    publish_range(a, "r", 11, 12).await;

    let mut gaps = Vec::new();
    let (mut g1, mut g2, mut g3) = (vec![], vec![], vec![]);
    for _ in 0..want.len() {
        g1.push(sse.next().await.unwrap());
        g2.push(stream.next().await.unwrap());
        g3.push(ws_next(&mut ws, &mut gaps).await.unwrap());
    }
    assert_eq!(g1, sse_view(&want), "sse");
    assert_eq!(g2, want, "stream");
    assert_eq!(g3, want, "ws");

    let mut pc = Client::new(a).await;
    assert_eq!(poll_collect(&mut pc, "r", 4, 8).await, want, "poll");
    assert_eq!(
        long_poll_collect(&mut pc, "r", 4, 8).await,
        want,
        "long-poll"
    );

    // Nothing new: an empty answer whose `next` is the cursor itself.
    let (st, body) = get(a, "/poll/r?since=12").await;
    assert_eq!(st, 200);
    assert_eq!(poll_answer(&body), (12, vec![], None));
    // A cursor ahead of the topic (from an earlier life of the server): a gap, then
    // everything retained; next is the newest seq.
    let (_, body) = get(a, "/poll/r?since=99").await;
    let (next, msgs, gap) = poll_answer(&body);
    assert_eq!((next, gap, msgs.len()), (12, Some(1), 12));

    let s = stats(a).await;
    for t in ["sse", "stream", "ws"] {
        assert_eq!(s["techniques"][t]["resumes"], 1, "{t} resumes");
    }
    // The since=12 answer (the since=99 one is a gap with messages, not empty).
    assert!(s["techniques"]["poll"]["empty_responses"].as_u64().unwrap() >= 1);
    assert_eq!(s["techniques"]["poll"]["gaps"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gap_is_announced_in_every_framing() {
    let mut args = args();
    args.retention = 5;
    let srv = start(args).await;
    let a = srv.addr;
    publish_range(a, "g", 1, 20).await;
    let want = expected(16, 20);

    let (_, body) = get(a, "/poll/g?since=3").await;
    let (next, msgs, gap) = poll_answer(&body);
    assert_eq!((next, gap), (20, Some(16)));
    assert_eq!(msgs, want);
    let (_, body) = get(a, "/long-poll/g?since=3").await;
    assert_eq!(poll_answer(&body).2, Some(16));

    let mut c = Client::new(a).await;
    let mut sse = SseSub::new(c.get("/sse/g?since=3").await);
    let mut got = Vec::new();
    for _ in 0..5 {
        got.push(sse.next().await.unwrap());
    }
    assert_eq!(got, sse_view(&want));
    assert_eq!(
        sse.gaps,
        vec![r#"{"since":3,"first_available":16}"#.to_string()]
    );

    let mut c = Client::new(a).await;
    let mut stream = StreamSub::new(c.get("/stream/g?since=3").await);
    assert_eq!(stream.next().await.unwrap(), want[0]);
    assert_eq!(stream.gaps, vec![16]);

    let (mut ws, _) = ws_connect(a, "/ws/g?since=3").await;
    let mut gaps = Vec::new();
    assert_eq!(ws_next(&mut ws, &mut gaps).await.unwrap(), want[0]);
    assert_eq!(gaps, vec![16]);

    // since=15 is not a gap: 16 is the next one and it is held.
    let (_, body) = get(a, "/poll/g?since=15").await;
    assert_eq!(poll_answer(&body).2, None);
    let s = stats(a).await;
    for t in ["poll", "long-poll", "sse", "stream", "ws"] {
        assert_eq!(s["techniques"][t]["gaps"], 1, "{t} gaps");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_poll_holds_then_answers_and_times_out() {
    let srv = start(args()).await;
    let a = srv.addr;
    publish(a, "lp", "first", None).await;

    // Held: nothing after 1 exists yet.
    let waiter = tokio::spawn(async move {
        let mut c = Client::new(a).await;
        let t0 = tokio::time::Instant::now();
        let r = c.get("/long-poll/lp?since=1").await;
        let body = text(r).await;
        (t0.elapsed(), body)
    });
    // Once the server holds the request (routed, its connection open)...
    stats_until(a, "the long poll arrived", |s| {
        s["techniques"]["long-poll"]["requests"] == 1
            && s["techniques"]["long-poll"]["connections"] == 1
    })
    .await;
    // ...it keeps holding it while nothing is published: letting that time pass is the
    // scenario (a loaded machine can only make the hold longer).
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !waiter.is_finished(),
        "long poll answered before anything was published"
    );
    publish(a, "lp", "second", Some("ev")).await;
    let (held, body) = waiter.await.unwrap();
    assert!(held >= Duration::from_millis(250), "held only {held:?}");
    let (next, msgs, _) = poll_answer(&body);
    assert_eq!(next, 2);
    assert_eq!(
        msgs,
        vec![Msg {
            id: 2,
            event: Some("ev".into()),
            data: "second".into()
        }]
    );

    // Time-out with an empty answer.
    let t0 = tokio::time::Instant::now();
    let (st, body) = get(a, "/long-poll/lp?since=2&timeout=150").await;
    assert_eq!(st, 200);
    assert!(t0.elapsed() >= Duration::from_millis(140));
    assert_eq!(poll_answer(&body), (2, vec![], None));
    let s = stats(a).await;
    assert_eq!(s["techniques"]["long-poll"]["long_poll_timeouts"], 1);
    assert_eq!(s["techniques"]["long-poll"]["empty_responses"], 1);
    assert_eq!(s["techniques"]["long-poll"]["requests"], 2);
    // A bad timeout is a 400.
    assert_eq!(get(a, "/long-poll/lp?timeout=soon").await.0, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_arrive_and_pings_are_answered() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let mut args = args();
    args.heartbeat = Duration::from_millis(100);
    let srv = start(args).await;
    let a = srv.addr;

    let mut c = Client::new(a).await;
    let mut sse = SseSub::new(c.get("/sse/hb").await);
    let mut c2 = Client::new(a).await;
    let mut stream = StreamSub::new(c2.get("/stream/hb").await);
    let (mut ws, _) = ws_connect(a, "/ws/hb").await;

    // Two heartbeats of each kind, then one message.
    let sse_task = tokio::spawn(async move {
        let m = sse.next().await.unwrap();
        (m, sse.heartbeats)
    });
    let stream_task = tokio::spawn(async move {
        let m = stream.next().await.unwrap();
        (m, stream.heartbeats)
    });
    // Each ping is one tick of the server's shared heartbeat ticker, which also writes the
    // SSE and stream heartbeats (to a subscriber that was idle for a whole interval): by the
    // 4th ping, the two earlier subscribers have had at least 2 each.
    let mut pings = 0;
    while pings < 4 {
        match tokio::time::timeout(WAIT, ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap()
        {
            Message::Ping(_) => pings += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    publish(a, "hb", "x", None).await;
    let (m, hb) = sse_task.await.unwrap();
    assert_eq!(m.id, 1);
    assert!(hb >= 2, "sse heartbeats {hb}");
    let (m, hb) = stream_task.await.unwrap();
    assert_eq!(m.id, 1);
    assert!(hb >= 2, "stream heartbeats {hb}");

    // The server answers our ping with a pong carrying the same data.
    ws.send(Message::Ping(bytes::Bytes::from_static(b"hello")))
        .await
        .unwrap();
    loop {
        match tokio::time::timeout(WAIT, ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap()
        {
            Message::Pong(p) => {
                assert_eq!(&p[..], b"hello");
                break;
            }
            Message::Ping(_) | Message::Text(_) => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
}

//! The direct fan-out (`--direct-fanout-min`): subscribers written by a topic's pumps get
//! every message once, in order, counted byte for byte; a reader that pauses is handed back
//! to its task and loses nothing; shutdown ends every stream cleanly; 0 turns it off.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use common::*;

fn u(v: &serde_json::Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// Publishes `n` messages `m{first}..` to `topic`, a few at once (so rounds hold several).
async fn publish_many(a: SocketAddr, topic: &str, first: u64, n: u64) {
    let mut c = Client::new(a).await;
    for i in first..first + n {
        let req = hyper::Request::post(format!("/publish/{topic}"))
            .header("host", a.to_string())
            .body(http_body_util::Full::new(bytes::Bytes::from(format!(
                "m{i}"
            ))))
            .unwrap();
        assert_eq!(c.request(req).await.status(), 200);
    }
}

/// The `id:` lines of an SSE text, in order.
fn ids(text: &str) -> Vec<u64> {
    text.lines()
        .filter_map(|l| l.strip_prefix("id: "))
        .map(|v| v.parse().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_subscriber_gets_every_message_once_in_order_and_every_byte_is_counted() {
    let srv = start(args()).await;
    let a = srv.addr;
    let mut sse = Vec::new();
    let mut streams = Vec::new();
    for _ in 0..12 {
        let mut c = Client::new(a).await;
        let sub = SseSub::new(c.get("/sse/fan").await);
        sse.push((sub, c.counts.clone(), c));
        let mut c = Client::new(a).await;
        let sub = StreamSub::new(c.get("/stream/fan").await);
        streams.push((sub, c.counts.clone(), c));
    }
    // HTTP/1.0: close-delimited, written by the pumps too.
    let mut old = TcpStream::connect(a).await.unwrap();
    old.write_all(b"GET /sse/fan HTTP/1.0\r\n\r\n")
        .await
        .unwrap();
    read_until(&mut old, |t| t.contains("retry: 2000\n\n")).await;

    let total = 300;
    publish_many(a, "fan", 1, 1).await; // the first live message hands the sockets over
    let publishers = [
        tokio::spawn(publish_many(a, "other", 1, 50)), // another topic meanwhile
        tokio::spawn(publish_many(a, "fan", 2, total - 1)),
    ];
    for id in 1..=total {
        let want = (id, format!("m{id}"));
        for (sub, _, _) in &mut sse {
            let m = tokio::time::timeout(WAIT, sub.next())
                .await
                .unwrap()
                .unwrap();
            assert_eq!((m.id, m.data), want);
        }
        for (sub, _, _) in &mut streams {
            let m = tokio::time::timeout(WAIT, sub.next())
                .await
                .unwrap()
                .unwrap();
            assert_eq!((m.id, m.data), want);
        }
    }
    let text = read_until(&mut old, |t| t.contains(&format!("data: m{total}\n\n"))).await;
    assert_eq!(ids(&text), (1..=total).collect::<Vec<_>>());
    for p in publishers {
        p.await.unwrap();
    }

    let st = stats(a).await;
    for t in ["sse", "stream"] {
        let x = &st["techniques"][t];
        let subs = if t == "sse" { 13 } else { 12 };
        assert_eq!(u(&x["delivered"]), subs * total, "{t}: {x}");
        assert!(
            u(&x["direct_delivered"]) >= subs * (total - 10),
            "{t}: the pumps wrote nearly all of it: {x}"
        );
    }

    // Shutdown: the pumps' sockets end cleanly (the terminal chunk; EOF for HTTP/1.0).
    srv.shutdown.cancel();
    let mut rest = Vec::new();
    tokio::time::timeout(WAIT, old.read_to_end(&mut rest))
        .await
        .unwrap()
        .unwrap();
    assert!(rest.is_empty() || !String::from_utf8_lossy(&rest).contains("id:"));
    let mut read = 0;
    for (sub, counts, _) in &mut sse {
        assert!(
            tokio::time::timeout(WAIT, sub.next())
                .await
                .unwrap()
                .is_none()
        );
        read += counts.read.load(Relaxed);
    }
    assert!(read > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_written_by_the_pumps_are_counted_as_the_client_read_them() {
    let srv = start(args()).await;
    let a = srv.addr;
    let mut subs = Vec::new();
    for _ in 0..4 {
        let mut c = Client::new(a).await;
        let sub = SseSub::new(c.get("/sse/count").await);
        subs.push((sub, c));
    }
    publish_many(a, "count", 1, 100).await;
    for (sub, _) in &mut subs {
        for id in 1..=100 {
            assert_eq!(sub.next().await.unwrap().id, id);
        }
    }
    let (mut read, mut written) = (0, 0);
    for (sub, c) in subs {
        read += c.counts.read.load(Relaxed);
        written += c.counts.written.load(Relaxed);
        drop(sub);
        c.close().await;
    }
    let s = stats_until(a, "every SSE connection closed", |s| {
        u(&s["techniques"]["sse"]["connections"]) == 0
    })
    .await;
    let x = &s["techniques"]["sse"];
    assert!(u(&x["direct_delivered"]) > 0, "{x}");
    assert_eq!(u(&x["bytes_written"]), read, "{x}");
    assert_eq!(u(&x["bytes_read"]), written, "{x}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_that_pauses_is_handed_back_and_loses_nothing() {
    let srv = start(args()).await;
    let a = srv.addr;
    // A small receive buffer, so the server's writes soon would block.
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    sock.connect(&a.into()).unwrap();
    sock.set_nonblocking(true).unwrap();
    let mut slow = TcpStream::from_std(sock.into()).unwrap();
    slow.write_all(b"GET /sse/pause HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    read_until(&mut slow, |t| t.contains("retry: 2000\n\n")).await;
    let mut c = Client::new(a).await;
    let mut quick = SseSub::new(c.get("/sse/pause").await);

    let big = "x".repeat(64 * 1024);
    let n = 200; // under --subscriber-queue (256): a pause, not a reader too slow to keep
    let mut p = Client::new(a).await;
    for _ in 0..n {
        let req = hyper::Request::post("/publish/pause")
            .header("host", a.to_string())
            .body(http_body_util::Full::new(bytes::Bytes::from(big.clone())))
            .unwrap();
        assert_eq!(p.request(req).await.status(), 200);
    }
    for id in 1..=n {
        assert_eq!(quick.next().await.unwrap().id, id);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Until the last event (looking at the tail only: the text is megabytes).
    let last = format!("id: {n}\n");
    let mut out = Vec::new();
    let mut buf = vec![0u8; 1 << 20];
    tokio::time::timeout(WAIT, async {
        loop {
            let k = slow.read(&mut buf).await.expect("read");
            assert!(k > 0, "closed early");
            out.extend_from_slice(&buf[..k]);
            let tail = &out[out.len().saturating_sub(big.len() + 64)..];
            if tail.ends_with(b"\n\n\r\n") && String::from_utf8_lossy(tail).contains(&last) {
                break;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("timed out; got {} bytes", out.len()));
    let text = String::from_utf8(out).unwrap();
    assert_eq!(ids(&text), (1..=n).collect::<Vec<_>>());
    let data = format!("data: {big}\n\n");
    assert_eq!(text.matches(&data).count(), n as usize);
    let st = stats(a).await;
    let x = &st["techniques"]["sse"];
    assert!(
        u(&x["handed_back"]) >= 1,
        "the paused reader was handed back: {x}"
    );
    assert_eq!(u(&x["slow_disconnects"]), 0, "{x}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_turns_it_off_and_a_threshold_waits_for_enough_subscribers() {
    for (min, subs, direct) in [(0, 3, false), (5, 3, false), (3, 3, true)] {
        let mut args = args();
        args.direct_fanout_min = min;
        let srv = start(args).await;
        let mut open = Vec::new();
        for _ in 0..subs {
            let mut c = Client::new(srv.addr).await;
            open.push((SseSub::new(c.get("/sse/t").await), c));
        }
        publish_many(srv.addr, "t", 1, 20).await;
        for (sub, _) in &mut open {
            for id in 1..=20 {
                assert_eq!(sub.next().await.unwrap().id, id);
            }
        }
        let st = stats(srv.addr).await;
        let x = &st["techniques"]["sse"];
        assert_eq!(u(&x["delivered"]), 20 * subs, "min {min}: {x}");
        assert_eq!(u(&x["direct_delivered"]) > 0, direct, "min {min}: {x}");
    }
}

/// 2,100 subscribers: passes are split (the far half on a thread of its own) while messages
/// come slowly; a burst makes the pump saturated and write alone. Every subscriber still gets
/// every message once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_split_pass_and_a_saturated_pump_deliver_everything_in_order() {
    let srv = start(args()).await;
    let a = srv.addr;
    let n_subs = 2100;
    let mut readers = Vec::new();
    for i in 0..n_subs {
        let mut s = TcpStream::connect(a).await.unwrap();
        let path = if i % 2 == 0 {
            "/sse/wide"
        } else {
            "/stream/wide"
        };
        s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .await
            .unwrap();
        readers.push(s);
    }
    stats_until(a, "every subscriber in", |s| {
        u(&s["techniques"]["sse"]["connections"]) + u(&s["techniques"]["stream"]["connections"])
            == n_subs
    })
    .await;
    let total = 60;
    let expect = |i: usize| {
        if i % 2 == 0 {
            format!("id: {total}\n")
        } else {
            format!("{{\"id\":{total},")
        }
    };
    let tasks: Vec<_> = readers
        .into_iter()
        .enumerate()
        .map(|(i, mut s)| {
            let last = expect(i);
            tokio::spawn(async move {
                let mut out = Vec::new();
                let mut buf = [0u8; 8192];
                tokio::time::timeout(Duration::from_secs(30), async {
                    while !String::from_utf8_lossy(&out).contains(&last) {
                        let k = s.read(&mut buf).await.unwrap();
                        assert!(k > 0, "closed early");
                        out.extend_from_slice(&buf[..k]);
                    }
                })
                .await
                .expect("every message within 30 s");
                (i, String::from_utf8(out).unwrap())
            })
        })
        .collect();
    // Slowly (split passes), then a burst (a saturated pump).
    for i in 1..=20 {
        publish_many(a, "wide", i, 1).await;
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    publish_many(a, "wide", 21, total - 20).await;
    for t in tasks {
        let (i, text) = t.await.unwrap();
        let got: Vec<u64> = if i % 2 == 0 {
            ids(&text)
        } else {
            text.lines()
                .filter_map(|l| l.split_once("{\"id\":"))
                .map(|(_, r)| r.split(',').next().unwrap().parse().unwrap())
                .collect()
        };
        assert_eq!(got, (1..=total).collect::<Vec<_>>(), "subscriber {i}");
    }
    let st = stats(a).await;
    for t in ["sse", "stream"] {
        let x = &st["techniques"][t];
        assert_eq!(u(&x["delivered"]), total * n_subs / 2, "{t}: {x}");
        assert!(u(&x["direct_delivered"]) > 0, "{t}: {x}");
    }
}

//! Request-scoped streams (`/generate`, issue 16) delivered by every technique, with real
//! clients: N events with seq 0..N-1 and content of event_bytes letters, due times spaced by
//! the interval after the first delay, never received before they are due, the end marker
//! last; exponential gaps reproducible with a seed; a stall shows as lateness; the `generate`
//! counters of `/stats` after a run. (Refusals, disconnects and shutdown: generate_limits.rs.)

mod common;

use common::generate::{Run, TECHNIQUES, run};
use common::*;

/// Receive-time slack for "not before its due time": the server's and the test's wall
/// clocks are the same clock, read a few µs apart; due times are rounded to the µs.
const CLOCK_SLACK_US: u64 = 1_000;

fn check_paced(t: &str, r: &Run, n: u64, bytes: usize, first_delay_us: u64, interval_us: u64) {
    assert!(r.ended, "{t}: no end marker");
    let seqs: Vec<u64> = r.events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (0..n).collect::<Vec<_>>(), "{t}");
    let id = &r.events[0].id;
    assert!(id.starts_with("gen-"), "{t}: {id}");
    for (k, e) in r.events.iter().enumerate() {
        assert_eq!(&e.id, id, "{t}: one id per stream");
        assert_eq!(e.content.len(), bytes, "{t} event {k}");
        assert!(e.content.bytes().all(|b| b.is_ascii_alphabetic()), "{t}");
        let last = k as u64 + 1 == n;
        assert_eq!(e.finish.as_deref(), last.then_some("stop"), "{t} event {k}");
        assert!(
            e.recv_us + CLOCK_SLACK_US >= e.due_us,
            "{t} event {k} arrived {} µs before it was due",
            e.due_us - e.recv_us
        );
        if k > 0 {
            assert_eq!(
                e.due_us - r.events[k - 1].due_us,
                interval_us,
                "{t} gap {k}"
            );
        }
    }
    // The schedule starts when the request is accepted: after it was sent, and soon after.
    let start = r.events[0].due_us - first_delay_us;
    assert!(
        start + CLOCK_SLACK_US >= r.sent_us,
        "{t}: started before the request"
    );
    assert!(
        start < r.sent_us + 2_000_000,
        "{t}: started 2 s after the request"
    );
    assert!(
        r.events[0].recv_us + CLOCK_SLACK_US >= r.sent_us + first_delay_us,
        "{t}: the first event came before the first delay"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_technique_sends_n_paced_events_then_its_end_marker() {
    let srv = start(args()).await;
    let body = r#"{"events":8,"event_bytes":33,"first_delay_ms":60,"interval_ms":15}"#;
    for t in TECHNIQUES {
        let r = run(srv.addr, t, body).await;
        check_paced(t, &r, 8, 33, 60_000, 15_000);
    }
    // Defaults (100 events of 64 bytes, 10 ms apart), and an OpenAI-style body.
    let r = run(srv.addr, "stream", "{}").await;
    check_paced("stream defaults", &r, 100, 64, 0, 10_000);
    let openai = r#"{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true,
        "max_tokens":5,"events":3,"interval_ms":1,"event_bytes":0}"#;
    for t in TECHNIQUES {
        let r = run(srv.addr, t, openai).await;
        check_paced(t, &r, 3, 0, 0, 1_000);
    }
    // No events: only the end marker.
    for t in TECHNIQUES {
        let r = run(srv.addr, t, r#"{"events":0}"#).await;
        assert!(r.ended && r.events.is_empty(), "{t}: {r:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exponential_gaps_are_reproducible_with_a_seed_and_have_the_mean() {
    let srv = start(args()).await;
    let body = |seed: u64| {
        format!(
            r#"{{"events":200,"event_bytes":1,"interval_ms":2,"distribution":"exponential","seed":{seed}}}"#
        )
    };
    let gaps = |r: &Run| -> Vec<u64> {
        assert!(r.ended);
        assert_eq!(r.events.len(), 200);
        r.events
            .windows(2)
            .map(|w| w[1].due_us - w[0].due_us)
            .collect()
    };
    let a = gaps(&run(srv.addr, "stream", &body(7)).await);
    let b = gaps(&run(srv.addr, "ws", &body(7)).await);
    let c = gaps(&run(srv.addr, "sse", &body(8)).await);
    // The same seed gives the same gaps (µs rounding may move one by 1 µs).
    for (x, y) in a.iter().zip(&b) {
        assert!(x.abs_diff(*y) <= 1, "{x} vs {y}");
    }
    assert_ne!(a, c, "another seed, other gaps");
    let mean = a.iter().sum::<u64>() as f64 / a.len() as f64;
    assert!(
        (1_400.0..2_600.0).contains(&mean),
        "mean gap {mean} µs, want about 2000"
    );
    let distinct: std::collections::HashSet<_> = a.iter().collect();
    assert!(distinct.len() > 150, "exponential gaps vary");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stall_shows_as_lateness_of_the_events_after_it() {
    let srv = start(args()).await;
    let body = r#"{"events":8,"event_bytes":4,"interval_ms":10,"stall":{"at":4,"ms":300}}"#;
    for t in TECHNIQUES {
        let r = run(srv.addr, t, body).await;
        assert!(r.ended, "{t}");
        assert_eq!(r.events.len(), 8, "{t}");
        // The schedule did not move.
        for w in r.events.windows(2) {
            assert_eq!(w[1].due_us - w[0].due_us, 10_000, "{t}");
        }
        let late = |k: usize| r.events[k].recv_us.saturating_sub(r.events[k].due_us);
        assert!(late(4) >= 290_000, "{t}: event 4 only {} µs late", late(4));
        // 5, 6, 7 were due 10, 20, 30 ms after 4 and come right behind it.
        assert!(late(7) >= 250_000, "{t}: event 7 only {} µs late", late(7));
        // A long poll sees an event only when it polls: generous for the ones before.
        for k in 0..4 {
            assert!(late(k) < 200_000, "{t}: event {k} {} µs late", late(k));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_count_each_techniques_generate_streams() {
    let srv = start(args()).await;
    let body = r#"{"events":5,"event_bytes":2,"interval_ms":1}"#;
    for t in TECHNIQUES {
        let r = run(srv.addr, t, body).await;
        assert!(r.ended, "{t}");
    }
    // One more stream over SSE, and one bad request over stream.
    assert!(run(srv.addr, "sse", body).await.ended);
    let mut c = Client::new(srv.addr).await;
    let r = c
        .request(common::generate::post(
            &c,
            "/generate/stream",
            "{\"events\":-1}",
        ))
        .await;
    assert_eq!(r.status(), 400);
    c.close().await;
    let s = stats_until(srv.addr, "generate streams closed", |s| {
        TECHNIQUES
            .iter()
            .all(|t| s["techniques"][t]["generate"]["streams_open"] == 0)
    })
    .await;
    for t in TECHNIQUES {
        let g = &s["techniques"][t]["generate"];
        let streams = if t == "sse" { 2 } else { 1 };
        assert_eq!(g["streams_started"], streams, "{t}: {g}");
        assert_eq!(g["streams_completed"], streams, "{t}: {g}");
        assert_eq!(g["events_sent"], 5 * streams, "{t}: {g}");
        let bad = if t == "stream" { 1 } else { 0 };
        assert_eq!(g["bad_requests"], bad, "{t}: {g}");
        // Counted in the technique's own counters too.
        assert!(s["techniques"][t]["requests"].as_u64().unwrap() >= 1, "{t}");
        assert!(
            s["techniques"][t]["bytes_written"].as_u64().unwrap() > 0,
            "{t}"
        );
    }
    // The Prometheus rendering, and the reset (the gauge is not reset).
    let (_, metrics) = get(srv.addr, "/metrics").await;
    assert!(
        metrics.contains("pushbench_generate_events_sent_total{technique=\"sse\"} 10\n"),
        "{metrics}"
    );
    assert!(metrics.contains("pushbench_generate_streams_open{technique=\"ws\"} 0\n"));
    let mut c = Client::new(srv.addr).await;
    let reset = hyper::Request::post("/stats/reset")
        .header("host", srv.addr.to_string())
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .unwrap();
    assert_eq!(c.request(reset).await.status(), 200);
    c.close().await;
    let s = stats(srv.addr).await;
    assert_eq!(s["techniques"]["sse"]["generate"]["events_sent"], 0);
    assert_eq!(s["techniques"]["sse"]["generate"]["streams_started"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_streams_each_get_every_event() {
    let srv = start(args()).await;
    let body = r#"{"events":20,"event_bytes":16,"interval_ms":5}"#;
    for t in TECHNIQUES {
        let runs: Vec<_> = (0..50)
            .map(|_| tokio::spawn(run(srv.addr, t, body)))
            .collect();
        let mut ids = std::collections::HashSet::new();
        for r in runs {
            let r = r.await.expect("client task");
            assert!(r.ended, "{t}");
            let seqs: Vec<u64> = r.events.iter().map(|e| e.seq).collect();
            assert_eq!(seqs, (0..20).collect::<Vec<_>>(), "{t}");
            ids.insert(r.events[0].id.clone());
        }
        assert_eq!(ids.len(), 50, "{t}: one id per stream");
    }
    let s = stats_until(srv.addr, "streams closed", |s| {
        TECHNIQUES
            .iter()
            .all(|t| s["techniques"][t]["generate"]["streams_open"] == 0)
    })
    .await;
    for t in TECHNIQUES {
        let g = &s["techniques"][t]["generate"];
        assert_eq!(g["streams_completed"], 50, "{t}: {g}");
        assert_eq!(g["events_sent"], 1000, "{t}: {g}");
    }
}

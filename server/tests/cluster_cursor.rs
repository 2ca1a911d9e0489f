//! In a cluster a client may resume on one process with a cursor it got from another, before
//! that message reached this process. Such a cursor is ahead of this process's hub but not of
//! the cluster: it must not be answered with a gap. A server here runs with a stand-in
//! supervisor ([`Upstream`]) that has sequenced messages this process has not received yet;
//! the sync round trip brings them in (as the real supervisor's answer travels behind them).

mod common;

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use common::*;
use contract::stats::Stats;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use server::error::{ClusterError, RelayError};
use server::state::Upstream;
use server::{Shared, State};

/// A supervisor stand-in: messages sequenced "elsewhere" wait in `in_flight` until a sync.
#[derive(Debug, Default)]
struct Supervisor {
    state: OnceLock<Weak<Shared>>,
    in_flight: Mutex<Vec<(String, u64)>>,
    syncs: AtomicU64,
}

impl Supervisor {
    fn state(&self) -> State {
        self.state
            .get()
            .and_then(Weak::upgrade)
            .expect("server alive")
    }

    /// Message `seq` of `topic` was published on another process: not relayed here yet.
    fn sequence_elsewhere(&self, topic: &str, seq: u64) {
        self.in_flight
            .lock()
            .unwrap()
            .push((topic.to_string(), seq));
    }
}

impl Upstream for Supervisor {
    fn publish<'a>(
        &'a self,
        topic: &'a str,
        event: Option<&'a str>,
        data: &'a str,
    ) -> BoxFuture<'a, Result<u64, RelayError>> {
        let t = self.state().hub.topic_unlimited(topic);
        let seq = t.latest() + 1;
        let r = t.insert(seq, event, data).map(|_| seq);
        async move { r.map_err(|e| RelayError::Refused(e.to_string())) }.boxed()
    }

    fn sync<'a>(&'a self, topic: &'a str) -> BoxFuture<'a, Result<u64, ClusterError>> {
        self.syncs.fetch_add(1, Relaxed);
        let state = self.state();
        for (t, seq) in self.in_flight.lock().unwrap().drain(..) {
            let _ = state
                .hub
                .topic_unlimited(&t)
                .insert(seq, None, &format!("m{seq}"));
        }
        let latest = state.hub.get(topic).map_or(0, |t| t.latest());
        async move { Ok(latest) }.boxed()
    }

    fn stats(&self) -> BoxFuture<'_, Result<Stats, ClusterError>> {
        let s = self.state().local_stats();
        async move { Ok(s) }.boxed()
    }

    fn reset(&self) -> BoxFuture<'_, Result<(), ClusterError>> {
        async { Ok(()) }.boxed()
    }
}

async fn start_child() -> (TestServer, Arc<Supervisor>) {
    let sup = Arc::new(Supervisor::default());
    let state = Shared::with_upstream(args(), sup.clone()).expect("valid args");
    sup.state.set(Arc::downgrade(&state)).expect("set once");
    let listener = server::server::bind("127.0.0.1:0".parse().unwrap()).expect("bind");
    let addr = listener.local_addr().unwrap();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let task = tokio::spawn(server::run(listener, state.clone(), shutdown.clone()));
    let srv = TestServer {
        addr,
        state,
        shutdown,
        task,
    };
    (srv, sup)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_another_process_issued_is_not_a_gap() {
    let (srv, sup) = start_child().await;
    let a = srv.addr;
    for i in 1..=5 {
        assert_eq!(publish(a, "r", &format!("m{i}"), None).await, i);
    }
    // A cursor this process holds needs no round trip.
    let (_, body) = get(a, "/poll/r?since=3").await;
    assert_eq!(poll_answer(&body).0, 5);
    assert_eq!(sup.syncs.load(Relaxed), 0);

    // 6 was delivered on another process; the client resumes here before 6 arrived.
    sup.sequence_elsewhere("r", 6);
    let (_, body) = get(a, "/poll/r?since=6").await;
    assert_eq!(poll_answer(&body), (6, vec![], None), "no gap: 6 exists");
    assert_eq!(sup.syncs.load(Relaxed), 1);

    // Long poll: no gap, held (the cursor is the newest once 6 is in).
    sup.sequence_elsewhere("r", 7);
    let t0 = Instant::now();
    let (_, body) = get(a, "/long-poll/r?since=7&timeout=300").await;
    assert!(
        t0.elapsed() >= Duration::from_millis(250),
        "{:?}",
        t0.elapsed()
    );
    assert_eq!(poll_answer(&body), (7, vec![], None));

    // SSE by Last-Event-ID, stream and WebSocket: no gap, then the next message live.
    sup.sequence_elsewhere("r", 8);
    let mut c = Client::new(a).await;
    let mut stream = StreamSub::new(c.get("/stream/r?since=8").await);
    let (mut ws, _) = ws_connect(a, "/ws/r?since=8").await;
    assert_eq!(publish(a, "r", "m9", None).await, 9);
    assert_eq!(stream.next().await.unwrap().id, 9);
    let mut ws_gaps = Vec::new();
    assert_eq!(ws_next(&mut ws, &mut ws_gaps).await.unwrap().id, 9);
    assert!(stream.gaps.is_empty() && ws_gaps.is_empty());

    // A cursor the cluster never issued (the whole cluster restarted) is still a gap.
    let (_, body) = get(a, "/poll/r?since=50").await;
    let (next, msgs, gap) = poll_answer(&body);
    assert_eq!((next, msgs.len(), gap), (9, 9, Some(1)));
    let s = srv.state.local_stats();
    assert_eq!(s.technique("poll").unwrap().gaps, 1);
    for t in ["long-poll", "stream", "ws"] {
        assert_eq!(s.technique(t).unwrap().gaps, 0, "{t}");
    }
}

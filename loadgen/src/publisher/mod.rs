//! The publisher: an open-model schedule (message k of topic i is due at t0 + k/rate), POSTed
//! to `/publish/{topic}` over a few keep-alive connections. It keeps the *scheduled* time in
//! the payload even when it falls behind, so a stalled server shows up as latency
//! (coordinated omission), and it marks the steady-state window on the recorder.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

mod stats;

use crate::link::Link;
use crate::payload;
use crate::stats::Recorder;
use crate::sut::target::Target;
pub use stats::{PublisherStats, Publishing};

/// Keep-alive connections the publisher spreads its topics over (one topic stays on one
/// connection so its messages reach the server in order).
pub const MAX_CONNECTIONS: usize = 4;

/// When and what to publish.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// Topic names; index = the payload's topic index.
    pub topics: Vec<String>,
    /// Messages per second per topic.
    pub rate: f64,
    pub payload_bytes: usize,
    /// Start of the schedule (start of warm-up).
    pub t0: Instant,
    /// `t0` as wall-clock µs since the epoch (the payload's time base).
    pub t0_wall_us: u64,
    /// Messages due at or after this belong to the steady-state window...
    pub steady_start: Instant,
    /// ...and those due before this; nothing due at or after it is published.
    pub steady_end: Instant,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    /// The publisher's emulated link (None: direct connections).
    pub link: Option<Link>,
}

/// The steady-state window the schedule will mark, computed in advance: for each topic the
/// range `[first, last]` of sequence numbers due in `[warmup, warmup + duration)` after the
/// schedule's start (`None`: no message of that topic falls in the window). The same
/// arithmetic as [`run`], so worker processes (or machines) can be told the window before the
/// first message of it is published, with no live channel from the publisher.
pub fn window_of(
    n_topics: usize,
    rate: f64,
    warmup: Duration,
    duration: Duration,
) -> Vec<Option<(u64, u64)>> {
    let mut out = vec![None; n_topics];
    if n_topics == 0 || !(rate.is_finite() && rate > 0.0) {
        return out;
    }
    let total_rate = rate * n_topics as f64;
    let end = warmup + duration;
    // Start a little before the window: offsets grow with g, so nothing earlier is in it.
    let mut g = ((warmup.as_secs_f64() * total_rate) as u64).saturating_sub(2);
    loop {
        let offset = Duration::from_secs_f64(g as f64 / total_rate);
        if offset >= end {
            break;
        }
        if offset >= warmup {
            let topic = (g % n_topics as u64) as usize;
            let seq = g / n_topics as u64 + 1;
            let first = out[topic].map_or(seq, |(f, _)| f);
            out[topic] = Some((first, seq));
        }
        g += 1;
    }
    out
}

struct Job {
    topic: usize,
    seq: u64,
    scheduled_us: u64,
    due: Instant,
}

/// Runs the schedule until the steady-state window ends (or `stop`), then waits for the
/// publishes already due to finish. Sets `rec.window` for every topic.
pub async fn run(
    target: Target,
    sched: Schedule,
    rec: Arc<Recorder>,
    stats: Arc<PublisherStats>,
    stop: CancellationToken,
) {
    let n_topics = sched.topics.len();
    let n_workers = n_topics.clamp(1, MAX_CONNECTIONS);
    let last_ok: Arc<Vec<AtomicU64>> = Arc::new((0..n_topics).map(|_| AtomicU64::new(0)).collect());
    let mut senders = Vec::new();
    let mut workers = Vec::new();
    for _ in 0..n_workers {
        let (tx, rx) = mpsc::unbounded_channel::<Job>();
        senders.push(tx);
        workers.push(tokio::spawn(worker(
            target.clone(),
            sched.clone(),
            rx,
            stats.clone(),
            last_ok.clone(),
            stop.clone(),
        )));
    }
    let total_rate = sched.rate * n_topics as f64;
    let mut opened = vec![false; n_topics];
    let mut last_in_window = vec![0u64; n_topics];
    let mut g: u64 = 0;
    let mut stopped = false;
    loop {
        let offset = Duration::from_secs_f64(g as f64 / total_rate);
        let due = sched.t0 + offset;
        if due >= sched.steady_end {
            break;
        }
        tokio::select! {
            _ = stop.cancelled() => { stopped = true; break; }
            _ = tokio::time::sleep_until(due.into()) => {}
        }
        let topic = (g % n_topics as u64) as usize;
        let seq = g / n_topics as u64 + 1;
        if due >= sched.steady_start {
            if !opened[topic] {
                rec.window.open(topic, seq);
                opened[topic] = true;
            }
            last_in_window[topic] = seq;
        }
        let job = Job {
            topic,
            seq,
            scheduled_us: sched.t0_wall_us + offset.as_micros() as u64,
            due,
        };
        if senders[topic % n_workers].send(job).is_err() {
            stats.failed("the publishing task ended");
        }
        g += 1;
    }
    drop(senders);
    if !stopped {
        for (t, &open) in opened.iter().enumerate() {
            if open {
                rec.window.close(t, last_in_window[t]);
            }
        }
    }
    for w in workers {
        let _ = w.await;
    }
    if stopped {
        // Cut short: the window ends with the last message the server accepted.
        for (t, &open) in opened.iter().enumerate() {
            if open {
                let ok = last_ok[t].load(Relaxed).min(last_in_window[t]);
                rec.window.close(t, ok);
            }
        }
    }
}

async fn worker(
    target: Target,
    sched: Schedule,
    mut rx: mpsc::UnboundedReceiver<Job>,
    stats: Arc<PublisherStats>,
    last_ok: Arc<Vec<AtomicU64>>,
    stop: CancellationToken,
) {
    let mut conn = None;
    while let Some(job) = rx.recv().await {
        if stop.is_cancelled() {
            stats.failed("abandoned when the run stopped");
            continue;
        }
        let lag = Instant::now()
            .saturating_duration_since(job.due)
            .as_micros() as u64;
        stats.max_lag_us.fetch_max(lag, Relaxed);
        let body = payload::encode(
            payload::Header {
                topic: job.topic as u32,
                seq: job.seq,
                scheduled_us: job.scheduled_us,
            },
            sched.payload_bytes,
        );
        let c = match conn.as_mut() {
            Some(c) => c,
            None => match target
                .connect_via(sched.link.as_ref(), sched.connect_timeout)
                .await
            {
                Ok(c) => conn.insert(c),
                Err(e) => {
                    stats.failed(e);
                    continue;
                }
            },
        };
        let publish = &target.profile.publish;
        let topic = &sched.topics[job.topic];
        let path = publish.path_for(topic);
        let body = publish.body_for(topic, &body);
        let method =
            http::Method::from_bytes(publish.method.as_bytes()).unwrap_or(http::Method::POST);
        match target
            .request(c, method, &path, Bytes::from(body), sched.request_timeout)
            .await
        {
            Ok((status, _)) if status.is_success() => {
                stats.ok.fetch_add(1, Relaxed);
                last_ok[job.topic].fetch_max(job.seq, Relaxed);
            }
            Ok((status, _)) => stats.failed(format_args!("HTTP {status}")),
            Err(e) => {
                stats.failed(e);
                conn = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::technique::Technique;

    #[test]
    fn window_in_advance_matches_the_schedule() {
        // 3 topics at 1 msg/s: g = 0, 1, 2, ... due at g/3 s; topic g % 3, seq g / 3 + 1.
        let w = window_of(3, 1.0, Duration::from_secs(2), Duration::from_secs(3));
        // Due in [2 s, 5 s): g = 6..=14 -> seqs 3..=5 for every topic.
        assert_eq!(w, vec![Some((3, 5)), Some((3, 5)), Some((3, 5))]);
        let w = window_of(2, 0.5, Duration::from_millis(0), Duration::from_secs(1));
        assert_eq!(w, vec![Some((1, 1)), None]);
    }
    use std::sync::Mutex;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A server answering every request `200`, stalling 300 ms on the 3rd; keeps the bodies.
    async fn fake_server(bodies: Arc<Mutex<Vec<String>>>) -> std::net::SocketAddr {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                let bodies = bodies.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut tmp = [0u8; 4096];
                    loop {
                        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                            match s.read(&mut tmp).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&tmp[..n]),
                            }
                            continue;
                        };
                        let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
                        let len: usize = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse().ok())
                            .unwrap_or(0);
                        while buf.len() < end + 4 + len {
                            match s.read(&mut tmp).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&tmp[..n]),
                            }
                        }
                        let body =
                            String::from_utf8_lossy(&buf[end + 4..end + 4 + len]).into_owned();
                        buf.drain(..end + 4 + len);
                        let n = {
                            let mut b = bodies.lock().unwrap();
                            b.push(body);
                            b.len()
                        };
                        if n == 3 {
                            tokio::time::sleep(Duration::from_millis(300)).await;
                        }
                        let ok = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}";
                        if s.write_all(ok.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        addr
    }

    #[tokio::test]
    async fn keeps_the_schedule_and_marks_the_window() {
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let addr = fake_server(bodies.clone()).await;
        let rec = Arc::new(Recorder::new(Technique::Sse, 1));
        let stats = Arc::new(PublisherStats::default());
        let t0 = Instant::now();
        let sched = Schedule {
            topics: vec!["t".into()],
            rate: 20.0,
            payload_bytes: 64,
            t0,
            t0_wall_us: 1_000_000,
            steady_start: t0 + Duration::from_millis(200),
            steady_end: t0 + Duration::from_millis(700),
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(2),
            link: None,
        };
        run(
            Target::local(addr),
            sched,
            rec.clone(),
            stats.clone(),
            CancellationToken::new(),
        )
        .await;
        // Due at 0, 50, ..., 650 ms: 14 messages; the window holds those due at 200..650 ms.
        let bodies = bodies.lock().unwrap().clone();
        assert_eq!(bodies.len(), 14);
        assert_eq!(stats.ok.load(Relaxed), 14);
        assert_eq!(stats.failures.load(Relaxed), 0);
        assert!(!rec.window.contains(0, 4));
        assert!(rec.window.contains(0, 5) && rec.window.contains(0, 14));
        assert!(!rec.window.contains(0, 15));
        assert_eq!(rec.window.len(0), 10);
        assert_eq!(
            window_of(
                1,
                20.0,
                Duration::from_millis(200),
                Duration::from_millis(500)
            ),
            vec![Some((5, 14))]
        );
        // The server stalled 300 ms on the 3rd publish: later messages went out late, but each
        // payload still carries its *scheduled* time (coordinated omission).
        for (k, b) in bodies.iter().enumerate() {
            let h = payload::decode(b).unwrap();
            assert_eq!(h.seq, k as u64 + 1);
            assert_eq!(h.scheduled_us, 1_000_000 + k as u64 * 50_000);
            assert_eq!(b.len(), 64);
        }
        assert!(
            stats.max_lag_us.load(Relaxed) >= 200_000,
            "the stall shows as publish lag"
        );
    }
}

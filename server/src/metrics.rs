//! Per-technique counters, the `/stats` document they make (`contract::stats::Stats`) and
//! its `/metrics` Prometheus rendering, reset, and the process figures (CPU seconds, RSS, open
//! descriptors; from `procinfo`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Instant;

use contract::stats::{GenerateCounters, Process, ProtocolCounters, Stats, TechniqueCounters};

pub use crate::prometheus::prometheus;
pub use crate::protocol::{Protocol, ProtocolGauge};

use crate::procinfo;

/// What a request (and the bytes of its connection) is attributed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Technique {
    Poll = 0,
    LongPoll = 1,
    Stream = 2,
    Sse = 3,
    Ws = 4,
    Publish = 5,
    Other = 6,
}

impl Technique {
    /// Every technique, in `/stats` order.
    pub const ALL: [Technique; 7] = [
        Technique::Poll,
        Technique::LongPoll,
        Technique::Stream,
        Technique::Sse,
        Technique::Ws,
        Technique::Publish,
        Technique::Other,
    ];

    /// The name used on the wire (`/stats` keys, `/metrics` labels, URL prefixes).
    pub fn name(self) -> &'static str {
        match self {
            Technique::Poll => "poll",
            Technique::LongPoll => "long-poll",
            Technique::Stream => "stream",
            Technique::Sse => "sse",
            Technique::Ws => "ws",
            Technique::Publish => "publish",
            Technique::Other => "other",
        }
    }

    /// The technique with index `i` (as stored in atomics); out of range means `Other`.
    pub fn from_index(i: u8) -> Technique {
        Technique::ALL
            .get(i as usize)
            .copied()
            .unwrap_or(Technique::Other)
    }
}

/// Counters of one technique. All are monotonic except `connections` (a gauge).
#[derive(Debug, Default)]
pub struct Counters {
    pub connections: AtomicU64,
    pub requests: AtomicU64,
    pub delivered: AtomicU64,
    /// Of `delivered`, written by a topic's direct fan-out (`fanout`).
    pub direct_delivered: AtomicU64,
    /// Sockets the direct fan-out gave back to their task (a write would have blocked).
    pub handed_back: AtomicU64,
    pub empty_responses: AtomicU64,
    pub long_poll_timeouts: AtomicU64,
    pub resumes: AtomicU64,
    pub gaps: AtomicU64,
    pub slow_disconnects: AtomicU64,
    pub bytes_read: AtomicU64,
    pub bytes_written: AtomicU64,
    /// The technique's request-scoped streams (`/generate`).
    pub generate: Generate,
}

/// Counters of a technique's request-scoped streams. All are monotonic except `streams_open`.
#[derive(Debug, Default)]
pub struct Generate {
    pub streams_started: AtomicU64,
    pub streams_completed: AtomicU64,
    pub streams_open: AtomicU64,
    pub events_sent: AtomicU64,
    pub bad_requests: AtomicU64,
}

impl Generate {
    /// Their values now.
    pub fn snapshot(&self) -> GenerateCounters {
        let v = |a: &AtomicU64| a.load(Relaxed);
        GenerateCounters {
            bad_requests: v(&self.bad_requests),
            events_sent: v(&self.events_sent),
            streams_completed: v(&self.streams_completed),
            streams_open: v(&self.streams_open),
            streams_started: v(&self.streams_started),
        }
    }

    /// Zeroes the counters (not the gauge `streams_open`).
    fn reset(&self) {
        for a in [
            &self.streams_started,
            &self.streams_completed,
            &self.events_sent,
            &self.bad_requests,
        ] {
            a.store(0, Relaxed);
        }
    }
}

impl Counters {
    /// Their values now.
    pub fn snapshot(&self) -> TechniqueCounters {
        let v = |a: &AtomicU64| a.load(Relaxed);
        TechniqueCounters {
            bytes_read: v(&self.bytes_read),
            bytes_written: v(&self.bytes_written),
            connections: v(&self.connections),
            delivered: v(&self.delivered),
            direct_delivered: v(&self.direct_delivered),
            handed_back: v(&self.handed_back),
            empty_responses: v(&self.empty_responses),
            gaps: v(&self.gaps),
            generate: self.generate.snapshot(),
            long_poll_timeouts: v(&self.long_poll_timeouts),
            requests: v(&self.requests),
            resumes: v(&self.resumes),
            slow_disconnects: v(&self.slow_disconnects),
        }
    }

    /// The counters (not the gauge `connections`).
    fn counters(&self) -> [&AtomicU64; 11] {
        [
            &self.requests,
            &self.delivered,
            &self.direct_delivered,
            &self.handed_back,
            &self.empty_responses,
            &self.long_poll_timeouts,
            &self.resumes,
            &self.gaps,
            &self.slow_disconnects,
            &self.bytes_read,
            &self.bytes_written,
        ]
    }
}

/// All counters of one server.
#[derive(Debug)]
pub struct Metrics {
    started: Instant,
    techniques: [Counters; 7],
    /// Messages published (all topics).
    pub published: AtomicU64,
    /// Connections that ended with an I/O or protocol error.
    pub connection_errors: AtomicU64,
    /// Connections refused with `503` because of `--max-connections`.
    pub rejected_connections: AtomicU64,
    /// TCP connections open right now (all techniques; a gauge).
    pub open_connections: AtomicU64,
    /// Publishes answered `408` because their body did not arrive within
    /// `--body-read-timeout` (their connections closed).
    pub body_timeouts: AtomicU64,
    /// Publishes refused with `503` because their body would pass `--body-buffer-bytes`.
    pub body_buffer_rejections: AtomicU64,
    /// Connections by protocol (indexed by `Protocol as usize`).
    pub protocols: [ProtocolGauge; 4],
    /// TLS handshakes that failed or timed out.
    pub tls_handshake_failures: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            started: Instant::now(),
            techniques: Default::default(),
            published: AtomicU64::new(0),
            connection_errors: AtomicU64::new(0),
            rejected_connections: AtomicU64::new(0),
            open_connections: AtomicU64::new(0),
            body_timeouts: AtomicU64::new(0),
            body_buffer_rejections: AtomicU64::new(0),
            protocols: Default::default(),
            tls_handshake_failures: AtomicU64::new(0),
        }
    }
}

/// This process's CPU time (user + system), resident memory and open descriptors (zero where
/// /proc does not say).
pub fn process() -> Process {
    let usage = procinfo::own_usage().unwrap_or_default();
    Process {
        cpu_seconds: usage.cpu_seconds,
        open_fds: procinfo::own_open_fds().unwrap_or(0),
        pid: std::process::id(),
        rss_bytes: usage.rss_bytes,
    }
}

impl Metrics {
    /// The counters of one technique.
    pub fn of(&self, t: Technique) -> &Counters {
        &self.techniques[t as usize]
    }

    /// Zeroes every counter (not the `connections` gauges).
    pub fn reset(&self) {
        for c in &self.techniques {
            for a in c.counters() {
                a.store(0, Relaxed);
            }
            c.generate.reset();
        }
        self.published.store(0, Relaxed);
        self.connection_errors.store(0, Relaxed);
        self.rejected_connections.store(0, Relaxed);
        self.body_timeouts.store(0, Relaxed);
        self.body_buffer_rejections.store(0, Relaxed);
        self.tls_handshake_failures.store(0, Relaxed);
        for p in &self.protocols {
            p.total.store(0, Relaxed);
        }
    }

    /// The gauge and counter of protocol `p`.
    pub fn protocol(&self, p: Protocol) -> &ProtocolGauge {
        &self.protocols[p as usize]
    }

    /// The `/stats` document of this process alone (see docs/PROTOCOL.md).
    pub fn stats(&self, topics: usize) -> Stats {
        let techniques: BTreeMap<String, TechniqueCounters> = Technique::ALL
            .iter()
            .map(|t| (t.name().to_string(), self.of(*t).snapshot()))
            .collect();
        Stats {
            broker: None,
            body_buffer_rejections: self.body_buffer_rejections.load(Relaxed),
            body_timeouts: self.body_timeouts.load(Relaxed),
            child_restarts: 0,
            connection_errors: self.connection_errors.load(Relaxed),
            open_connections: self.open_connections.load(Relaxed),
            per_process: None,
            process: Some(process()),
            processes: 1,
            published: self.published.load(Relaxed),
            rejected_connections: self.rejected_connections.load(Relaxed),
            protocols: Protocol::ALL
                .iter()
                .map(|p| {
                    let g = self.protocol(*p);
                    let c = ProtocolCounters {
                        open: g.open.load(Relaxed),
                        total: g.total.load(Relaxed),
                    };
                    (p.name().to_string(), c)
                })
                .collect(),
            techniques,
            tls_handshake_failures: self.tls_handshake_failures.load(Relaxed),
            topics: topics as u64,
            uptime_s: self.started.elapsed().as_secs_f64(),
        }
    }

    /// The `/metrics` document of this process alone.
    pub fn prometheus(&self, topics: usize) -> String {
        prometheus(&self.stats(topics))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_renders_the_stats_numbers() {
        let m = Metrics::default();
        m.of(Technique::Sse).delivered.fetch_add(7, Relaxed);
        m.published.fetch_add(3, Relaxed);
        m.of(Technique::Ws)
            .generate
            .events_sent
            .fetch_add(9, Relaxed);
        m.of(Technique::Ws)
            .generate
            .streams_open
            .fetch_add(2, Relaxed);
        m.body_timeouts.fetch_add(4, Relaxed);
        m.body_buffer_rejections.fetch_add(5, Relaxed);
        let text = m.prometheus(2);
        assert!(text.contains("pushbench_body_timeouts_total 4\n"));
        assert!(text.contains("pushbench_body_buffer_rejections_total 5\n"));
        assert!(text.contains("pushbench_delivered_total{technique=\"sse\"} 7\n"));
        assert!(text.contains("pushbench_published_total 3\n"));
        assert!(text.contains("pushbench_generate_events_sent_total{technique=\"ws\"} 9\n"));
        assert!(text.contains("pushbench_generate_streams_open{technique=\"ws\"} 2\n"));
        m.reset();
        let g = m.of(Technique::Ws).generate.snapshot();
        assert_eq!(
            (g.events_sent, g.streams_open),
            (0, 2),
            "the gauge is not reset"
        );
        assert!(text.contains("pushbench_topics 2\n"));
        assert!(text.contains("pushbench_processes 1\n"));
    }
}

//! Per-technique counters, their `/stats` JSON and `/metrics` Prometheus renderings, reset,
//! and the process figures (CPU seconds, RSS, open descriptors) read from `/proc`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Instant;

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
    pub empty_responses: AtomicU64,
    pub long_poll_timeouts: AtomicU64,
    pub resumes: AtomicU64,
    pub gaps: AtomicU64,
    pub slow_disconnects: AtomicU64,
    pub bytes_read: AtomicU64,
    pub bytes_written: AtomicU64,
}

/// The counter names, in output order (the gauge `connections` is separate).
const COUNTER_NAMES: [&str; 9] = [
    "requests",
    "delivered",
    "empty_responses",
    "long_poll_timeouts",
    "resumes",
    "gaps",
    "slow_disconnects",
    "bytes_read",
    "bytes_written",
];

impl Counters {
    fn counters(&self) -> [&AtomicU64; 9] {
        [
            &self.requests,
            &self.delivered,
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
        }
    }
}

/// Process-wide figures read from `/proc/self` (zero where unavailable).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProcessStats {
    pub pid: u32,
    pub cpu_seconds: f64,
    pub rss_bytes: u64,
    pub open_fds: u64,
}

impl ProcessStats {
    /// Reads the current process's CPU time (user + system), resident memory and open fds.
    pub fn read() -> ProcessStats {
        // USER_HZ is 100 on every Linux ABI we run on; reading it needs sysconf (unsafe).
        const USER_HZ: f64 = 100.0;
        let cpu_seconds = std::fs::read_to_string("/proc/self/stat")
            .ok()
            .and_then(|s| {
                // Fields after the `(comm)` part; utime and stime are fields 14 and 15.
                let rest = s.get(s.rfind(')')? + 2..)?;
                let f: Vec<&str> = rest.split_whitespace().collect();
                let ut: f64 = f.get(11)?.parse().ok()?;
                let st: f64 = f.get(12)?.parse().ok()?;
                Some((ut + st) / USER_HZ)
            })
            .unwrap_or(0.0);
        let rss_bytes = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
                let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
                Some(kb * 1024)
            })
            .unwrap_or(0);
        let open_fds = std::fs::read_dir("/proc/self/fd")
            .map(|d| d.count() as u64)
            .unwrap_or(0);
        ProcessStats {
            pid: std::process::id(),
            cpu_seconds,
            rss_bytes,
            open_fds,
        }
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
        }
        self.published.store(0, Relaxed);
        self.connection_errors.store(0, Relaxed);
        self.rejected_connections.store(0, Relaxed);
    }

    /// The `/stats` JSON document (see docs/PROTOCOL.md).
    pub fn stats_json(&self, topics: usize) -> serde_json::Value {
        let p = ProcessStats::read();
        let mut techniques = serde_json::Map::new();
        for t in Technique::ALL {
            let c = self.of(t);
            let mut o = serde_json::Map::new();
            o.insert("connections".into(), c.connections.load(Relaxed).into());
            for (name, a) in COUNTER_NAMES.iter().zip(c.counters()) {
                o.insert((*name).into(), a.load(Relaxed).into());
            }
            techniques.insert(t.name().into(), o.into());
        }
        serde_json::json!({
            "uptime_s": self.started.elapsed().as_secs_f64(),
            "published": self.published.load(Relaxed),
            "topics": topics,
            "connection_errors": self.connection_errors.load(Relaxed),
            "rejected_connections": self.rejected_connections.load(Relaxed),
            "open_connections": self.open_connections.load(Relaxed),
            "process": {
                "pid": p.pid,
                "cpu_seconds": p.cpu_seconds,
                "rss_bytes": p.rss_bytes,
                "open_fds": p.open_fds,
            },
            "techniques": techniques,
        })
    }

    /// The `/metrics` document in the Prometheus text exposition format.
    pub fn prometheus(&self, topics: usize) -> String {
        let p = ProcessStats::read();
        let mut s = String::with_capacity(4096);
        for (i, name) in COUNTER_NAMES.iter().enumerate() {
            let _ = writeln!(s, "# TYPE pushbench_{name}_total counter");
            for t in Technique::ALL {
                let v = self.of(t).counters()[i].load(Relaxed);
                let _ = writeln!(
                    s,
                    "pushbench_{name}_total{{technique=\"{}\"}} {v}",
                    t.name()
                );
            }
        }
        let _ = writeln!(s, "# TYPE pushbench_connections gauge");
        for t in Technique::ALL {
            let v = self.of(t).connections.load(Relaxed);
            let _ = writeln!(s, "pushbench_connections{{technique=\"{}\"}} {v}", t.name());
        }
        let globals = [
            (
                "pushbench_published_total",
                "counter",
                self.published.load(Relaxed),
            ),
            (
                "pushbench_connection_errors_total",
                "counter",
                self.connection_errors.load(Relaxed),
            ),
            (
                "pushbench_rejected_connections_total",
                "counter",
                self.rejected_connections.load(Relaxed),
            ),
            ("pushbench_topics", "gauge", topics as u64),
        ];
        for (name, kind, v) in globals {
            let _ = writeln!(s, "# TYPE {name} {kind}\n{name} {v}");
        }
        let _ = writeln!(
            s,
            "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total {}",
            p.cpu_seconds
        );
        let _ = writeln!(
            s,
            "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes {}",
            p.rss_bytes
        );
        let _ = writeln!(
            s,
            "# TYPE process_open_fds gauge\nprocess_open_fds {}",
            p.open_fds
        );
        s
    }
}

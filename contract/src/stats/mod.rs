//! The `/stats` document of a server (docs/PROTOCOL.md): per-technique counters, process
//! figures, and for a cluster the per-process list.
//!
//! The server builds a [`Stats`] and serializes it (and renders `/metrics` from it); a
//! cluster's supervisor sums its children's; the load generator reads it. Reading is lenient:
//! a key that is missing (a server of another version) reads as 0 (`process` as absent), and
//! unknown keys are ignored. Fields are declared in alphabetical order, the order in which
//! they are written (the order of the document before it had a type).

mod broker;

pub use broker::BrokerStatus;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The whole `/stats` document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Stats {
    /// Publishes answered `503` because their body would pass `--body-buffer-bytes`.
    pub body_buffer_rejections: u64,
    /// Publishes answered `408` because their body did not arrive within
    /// `--body-read-timeout`.
    pub body_timeouts: u64,
    /// With `serve --broker` (issue 18): the broker the topics are shared over, and how the
    /// connection to it fares. Absent without a broker.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broker: Option<BrokerStatus>,
    /// Processes of a cluster restarted after they died (0 for a single process).
    pub child_restarts: u64,
    /// Connections that ended with an I/O or protocol error.
    pub connection_errors: u64,
    /// TCP connections open now, all techniques (a gauge).
    pub open_connections: u64,
    /// A cluster's processes, supervisor first (absent for a single process).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_process: Option<Vec<ProcessEntry>>,
    /// The server's CPU, memory and descriptors (a cluster: all its processes summed).
    /// Always written; `None` when read from a document without it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process: Option<Process>,
    /// Processes serving (1 for a single process; a cluster's live children).
    pub processes: u64,
    /// Connections by the protocol they speak (issue 17): `h1`, `h2` (cleartext, prior
    /// knowledge), `h1_tls`, `h2_tls` (by ALPN). The server writes every one; empty when read
    /// from a server without them (and then not written).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub protocols: BTreeMap<String, ProtocolCounters>,
    /// Messages published, each counted once.
    pub published: u64,
    /// Connections refused with `503` by `--max-connections`.
    pub rejected_connections: u64,
    /// The counters of each technique by its wire name (`poll`, `long-poll`, `stream`, `sse`,
    /// `ws`, `publish`, `other`; the server writes every one).
    pub techniques: BTreeMap<String, TechniqueCounters>,
    /// TLS handshakes that failed or timed out (`--tls`; each also a connection error).
    pub tls_handshake_failures: u64,
    /// Topics held now (a cluster: the most of any process).
    pub topics: u64,
    /// Seconds since the server (a cluster: its supervisor) started.
    pub uptime_s: f64,
}

impl Stats {
    /// The counters of technique `name` (its wire name), if the document has them.
    pub fn technique(&self, name: &str) -> Option<&TechniqueCounters> {
        self.techniques.get(name)
    }
}

/// The connections of one protocol.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProtocolCounters {
    /// Open now (a gauge).
    pub open: u64,
    /// Opened since the start (or `/stats/reset`): monotonic.
    pub total: u64,
}

impl ProtocolCounters {
    /// Adds `other`'s (the figures of several processes).
    pub fn add(&mut self, other: &ProtocolCounters) {
        self.open += other.open;
        self.total += other.total;
    }
}

/// The counters of one technique. All are monotonic (until `/stats/reset`) except
/// `connections`, a gauge.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TechniqueCounters {
    /// Bytes read from the sockets (request heads and bodies included).
    pub bytes_read: u64,
    /// Bytes written to the sockets (headers and framing included).
    pub bytes_written: u64,
    /// Connections open now whose latest request was of this technique (a gauge).
    pub connections: u64,
    /// Messages handed to subscribers' sockets or included in poll answers.
    pub delivered: u64,
    /// Of `delivered`, those the topic's direct fan-out wrote (SSE and stream over
    /// HTTP/1.x: `serve --direct-fanout-min`; zeros from a server without it).
    pub direct_delivered: u64,
    /// Poll and long-poll answers with no message.
    pub empty_responses: u64,
    /// Answers or subscriptions that announced a gap.
    pub gaps: u64,
    /// The request-scoped streams of `/generate` served by the technique (issue 16; zeros
    /// when read from a server without them).
    pub generate: GenerateCounters,
    /// Times the direct fan-out gave a socket back to its subscriber's task because a write
    /// would have blocked (the client reads slower than messages come).
    pub handed_back: u64,
    /// Long polls answered because their timeout passed.
    pub long_poll_timeouts: u64,
    /// Requests routed to the technique.
    pub requests: u64,
    /// Subscriptions that started from a cursor above 0.
    pub resumes: u64,
    /// Subscribers disconnected for reading too slowly.
    pub slow_disconnects: u64,
}

impl TechniqueCounters {
    /// The counters (not the gauge), by name, in `/metrics` order.
    pub fn counters(&self) -> [(&'static str, u64); 11] {
        [
            ("requests", self.requests),
            ("delivered", self.delivered),
            ("direct_delivered", self.direct_delivered),
            ("handed_back", self.handed_back),
            ("empty_responses", self.empty_responses),
            ("long_poll_timeouts", self.long_poll_timeouts),
            ("resumes", self.resumes),
            ("gaps", self.gaps),
            ("slow_disconnects", self.slow_disconnects),
            ("bytes_read", self.bytes_read),
            ("bytes_written", self.bytes_written),
        ]
    }

    /// What was counted since `earlier` (the gauge keeps its current value).
    pub fn since(&self, earlier: &TechniqueCounters) -> TechniqueCounters {
        let d = |now: u64, then: u64| now.saturating_sub(then);
        TechniqueCounters {
            bytes_read: d(self.bytes_read, earlier.bytes_read),
            bytes_written: d(self.bytes_written, earlier.bytes_written),
            connections: self.connections,
            delivered: d(self.delivered, earlier.delivered),
            direct_delivered: d(self.direct_delivered, earlier.direct_delivered),
            handed_back: d(self.handed_back, earlier.handed_back),
            empty_responses: d(self.empty_responses, earlier.empty_responses),
            gaps: d(self.gaps, earlier.gaps),
            generate: self.generate.since(&earlier.generate),
            long_poll_timeouts: d(self.long_poll_timeouts, earlier.long_poll_timeouts),
            requests: d(self.requests, earlier.requests),
            resumes: d(self.resumes, earlier.resumes),
            slow_disconnects: d(self.slow_disconnects, earlier.slow_disconnects),
        }
    }

    /// Adds `other`'s counters and gauge to these (the figures of several processes).
    pub fn add(&mut self, other: &TechniqueCounters) {
        self.bytes_read += other.bytes_read;
        self.bytes_written += other.bytes_written;
        self.connections += other.connections;
        self.delivered += other.delivered;
        self.direct_delivered += other.direct_delivered;
        self.handed_back += other.handed_back;
        self.empty_responses += other.empty_responses;
        self.gaps += other.gaps;
        self.generate.add(&other.generate);
        self.long_poll_timeouts += other.long_poll_timeouts;
        self.requests += other.requests;
        self.resumes += other.resumes;
        self.slow_disconnects += other.slow_disconnects;
    }
}

/// The counters of a technique's request-scoped streams (`/generate`). All are monotonic
/// (until `/stats/reset`) except `streams_open`, a gauge.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct GenerateCounters {
    /// Bodies refused with `400` (a WebSocket's: closed with 1008).
    pub bad_requests: u64,
    /// Events handed to the socket (long poll: included in an answer for the first time).
    pub events_sent: u64,
    /// Streams that sent their last event (and their end marker).
    pub streams_completed: u64,
    /// Streams open now (a gauge).
    pub streams_open: u64,
    /// Streams accepted.
    pub streams_started: u64,
}

impl GenerateCounters {
    /// The counters (not the gauge), by name, in `/metrics` order.
    pub fn counters(&self) -> [(&'static str, u64); 4] {
        [
            ("streams_started", self.streams_started),
            ("streams_completed", self.streams_completed),
            ("events_sent", self.events_sent),
            ("bad_requests", self.bad_requests),
        ]
    }

    /// What was counted since `earlier` (the gauge keeps its current value).
    pub fn since(&self, earlier: &GenerateCounters) -> GenerateCounters {
        let d = |now: u64, then: u64| now.saturating_sub(then);
        GenerateCounters {
            bad_requests: d(self.bad_requests, earlier.bad_requests),
            events_sent: d(self.events_sent, earlier.events_sent),
            streams_completed: d(self.streams_completed, earlier.streams_completed),
            streams_open: self.streams_open,
            streams_started: d(self.streams_started, earlier.streams_started),
        }
    }

    /// Adds `other`'s counters and gauge to these.
    pub fn add(&mut self, other: &GenerateCounters) {
        self.bad_requests += other.bad_requests;
        self.events_sent += other.events_sent;
        self.streams_completed += other.streams_completed;
        self.streams_open += other.streams_open;
        self.streams_started += other.streams_started;
    }
}

/// A process's CPU, memory and descriptors.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Process {
    /// User + system CPU seconds since it started.
    pub cpu_seconds: f64,
    /// Descriptors open now.
    pub open_fds: u64,
    /// Its pid (a cluster: the supervisor's).
    pub pid: u32,
    /// Resident memory, bytes.
    pub rss_bytes: u64,
}

/// One process of a cluster, in `per_process`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProcessEntry {
    /// Its `open_connections` (0 for the supervisor, which holds no client connection).
    pub connections: u64,
    /// User + system CPU seconds since it started.
    pub cpu_seconds: f64,
    /// A child's index (0..N); absent for the supervisor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<u64>,
    /// Descriptors open now.
    pub open_fds: u64,
    /// Its pid.
    pub pid: u32,
    /// Supervisor or child.
    pub role: Role,
    /// Resident memory, bytes.
    pub rss_bytes: u64,
}

/// What a process of a cluster is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The supervisor: assigns sequence numbers, holds no client connection.
    Supervisor,
    /// A server process.
    #[default]
    Child,
    /// A role this reader does not know (a newer server's).
    #[serde(other)]
    Other,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_round_trip_in_alphabetical_key_order() {
        let mut s = Stats {
            processes: 1,
            process: Some(Process {
                cpu_seconds: 1.25,
                open_fds: 17,
                pid: 4242,
                rss_bytes: 12_345_678,
            }),
            uptime_s: 12.5,
            ..Stats::default()
        };
        s.techniques.insert(
            "sse".into(),
            TechniqueCounters {
                delivered: 5,
                ..Default::default()
            },
        );
        let text = serde_json::to_string(&s).unwrap();
        assert_eq!(
            text,
            r#"{"body_buffer_rejections":0,"body_timeouts":0,"child_restarts":0,"connection_errors":0,"open_connections":0,"process":{"cpu_seconds":1.25,"open_fds":17,"pid":4242,"rss_bytes":12345678},"processes":1,"published":0,"rejected_connections":0,"techniques":{"sse":{"bytes_read":0,"bytes_written":0,"connections":0,"delivered":5,"direct_delivered":0,"empty_responses":0,"gaps":0,"generate":{"bad_requests":0,"events_sent":0,"streams_completed":0,"streams_open":0,"streams_started":0},"handed_back":0,"long_poll_timeouts":0,"requests":0,"resumes":0,"slow_disconnects":0}},"tls_handshake_failures":0,"topics":0,"uptime_s":12.5}"#
        );
        // The same order as serde_json's own (sorted) maps.
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v.to_string(), text);
        assert_eq!(serde_json::from_str::<Stats>(&text).unwrap(), s);
    }

    #[test]
    fn reading_is_lenient_to_missing_and_unknown_keys() {
        let s: Stats = serde_json::from_str(
            r#"{"published":3,"new_key":[1],"techniques":{"ws":{"requests":2,"later":1}},
                "per_process":[{"role":"supervisor","pid":1},{"role":"helper","index":0}]}"#,
        )
        .unwrap();
        assert_eq!(s.published, 3);
        assert_eq!(s.body_timeouts, 0);
        assert_eq!(s.process, None);
        assert_eq!(s.technique("ws").map(|t| t.requests), Some(2));
        assert_eq!(
            s.technique("ws").map(|t| t.generate),
            Some(GenerateCounters::default()),
            "a server without /generate reads as zeros"
        );
        assert_eq!(s.technique("sse"), None);
        let list = s.per_process.unwrap();
        assert_eq!((list[0].role, list[0].index), (Role::Supervisor, None));
        assert_eq!((list[1].role, list[1].index), (Role::Other, Some(0)));
        assert!(serde_json::from_str::<Stats>("\"text\"").is_err());
        assert!(serde_json::from_str::<Stats>("not json").is_err());
    }

    #[test]
    fn counters_diff_and_sum() {
        let a = TechniqueCounters {
            connections: 4,
            requests: 10,
            bytes_written: 100,
            ..Default::default()
        };
        let mut b = TechniqueCounters {
            connections: 1,
            requests: 15,
            bytes_written: 90,
            ..Default::default()
        };
        let d = b.since(&a);
        assert_eq!((d.connections, d.requests, d.bytes_written), (1, 5, 0));
        b.add(&a);
        assert_eq!((b.connections, b.requests, b.bytes_written), (5, 25, 190));
        assert_eq!(a.counters()[0], ("requests", 10));
        assert_eq!(a.counters()[10], ("bytes_written", 100));
    }

    #[test]
    fn generate_counters_diff_and_sum_with_the_rest() {
        let g = |started, open| GenerateCounters {
            streams_started: started,
            streams_open: open,
            events_sent: 10 * started,
            ..Default::default()
        };
        let a = TechniqueCounters {
            generate: g(2, 1),
            ..Default::default()
        };
        let mut b = TechniqueCounters {
            generate: g(5, 0),
            ..Default::default()
        };
        let d = b.since(&a).generate;
        assert_eq!(
            (d.streams_started, d.streams_open, d.events_sent),
            (3, 0, 30)
        );
        b.add(&a);
        let s = b.generate;
        assert_eq!(
            (s.streams_started, s.streams_open, s.events_sent),
            (7, 1, 70)
        );
        assert_eq!(s.counters()[2], ("events_sent", 70));
    }
}

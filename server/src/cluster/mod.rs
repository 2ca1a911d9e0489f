//! Several server processes behind one port (`pushbench serve --processes N`): a supervisor
//! and N children. The children share the port with SO_REUSEPORT and serve clients; the
//! supervisor holds no client connection. It is the one place where sequence numbers are
//! assigned: a child forwards every publish to it, it gives the message the topic's next seq and
//! relays it to every child (each inserts it into its hub with that seq), then acknowledges the
//! publish to the child that received it. So every subscriber, on whichever process, sees every
//! message of its topic with the same ids, and a client may resume on any process.
//!
//! Each child talks to the supervisor over its own Unix stream socket, one JSON document per
//! length-delimited frame ([`ToSupervisor`], [`ToChild`]). `/stats` and `/metrics` on any child
//! ask the supervisor, which collects every child's own figures and sums them ([`merge`]).
//!
//! Modules: `child` (a child's side: the link, the relay into its hub), `sequencer` (the
//! supervisor's state: sequence numbers, relaying, gathering stats), `spawn` (starting one
//! child and connecting it), `supervisor` (readiness, the internal publisher, signals,
//! shutdown, and restarting a child that died).

pub mod child;
pub mod sequencer;
pub mod spawn;
pub mod supervisor;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::net::UnixStream;
use tokio_util::codec::{Framed, LengthDelimitedCodec};

use contract::stats::{Process, ProcessEntry, Role, Stats, TechniqueCounters};

use crate::metrics::Technique;

pub use child::Link;
pub use supervisor::supervise;

/// What a child sends to the supervisor.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum ToSupervisor {
    /// The child listens on the port and is ready.
    Ready { index: u32, pid: u32 },
    /// A `POST /publish` arrived at this child: assign a seq and relay it.
    Publish {
        req: u64,
        topic: String,
        event: Option<String>,
        data: String,
    },
    /// A client resumes on this child with a cursor above this child's newest seq of `topic`:
    /// answer with [`ToChild::Synced`] once every message of it sequenced so far is on its
    /// way here (the answer travels behind them on the same socket).
    Sync { req: u64, topic: String },
    /// A `/stats` or `/metrics` arrived: the whole server's figures, please.
    Stats { req: u64 },
    /// A `POST /stats/reset` arrived: reset every process.
    Reset { req: u64 },
    /// This child's own `/stats` document, answering [`ToChild::Collect`].
    Local { collect: u64, stats: Box<Stats> },
    /// This child reset its counters, answering [`ToChild::Reset`].
    ResetDone { collect: u64 },
}

/// What the supervisor sends to a child.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum ToChild {
    /// The first frames a child gets, before it listens: the newest seq of every topic so far
    /// (none at startup; a process started to replace a dead one learns them so that a client
    /// resuming on it is told of a gap instead of waiting past it). `done` on the last one.
    Seed {
        topics: Vec<(String, u64)>,
        done: bool,
    },
    /// A message with its assigned seq: insert it into the hub.
    Message {
        topic: String,
        seq: u64,
        event: Option<String>,
        data: String,
    },
    /// The answer to [`ToSupervisor::Publish`]: the seq, or why it was refused.
    Published {
        req: u64,
        result: Result<u64, String>,
    },
    /// The answer to [`ToSupervisor::Sync`]: the topic's newest seq (0: none). Every message
    /// up to it was sent to this child before this frame.
    Synced { req: u64, seq: u64 },
    /// The answer to [`ToSupervisor::Stats`]: the whole server's `/stats` document.
    Stats { req: u64, stats: Box<Stats> },
    /// The answer to [`ToSupervisor::Reset`].
    WasReset { req: u64 },
    /// Send your own `/stats` document ([`ToSupervisor::Local`]).
    Collect { collect: u64 },
    /// Reset your counters ([`ToSupervisor::ResetDone`]).
    Reset { collect: u64 },
    /// Shut down gracefully.
    Shutdown,
}

/// A framed supervisor-child socket. Frames may hold a payload of `max_payload_bytes`
/// escaped into JSON (up to 6 bytes per byte) plus the envelope.
pub fn framed(
    stream: UnixStream,
    max_payload_bytes: usize,
) -> Framed<UnixStream, LengthDelimitedCodec> {
    let max = max_payload_bytes
        .saturating_mul(6)
        .saturating_add(1 << 20)
        .max(8 << 20);
    Framed::new(
        stream,
        LengthDelimitedCodec::builder()
            .max_frame_length(max)
            .new_codec(),
    )
}

/// Encodes a frame.
pub fn encode<T: Serialize>(msg: &T) -> Bytes {
    Bytes::from(serde_json::to_vec(msg).expect("cluster frames serialize"))
}

/// What only the supervisor knows, for the merged `/stats`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Totals {
    /// Messages published (each once).
    pub published: u64,
    /// Children restarted after they died.
    pub child_restarts: u64,
    /// The supervisor's uptime.
    pub uptime_s: f64,
}

/// The whole server's `/stats` document from each child's own (`parts`, in child order; `None`
/// for a child that is dead or restarting) and the supervisor's own process figures and
/// [`Totals`]: counters and gauges are summed; `topics` is the largest count of any child
/// (every child holds every published topic); `process` sums CPU, memory and descriptors of
/// all processes (supervisor included); `per_process` lists each one; `processes` counts the
/// children that answered.
pub fn merge(parts: &[Option<Stats>], supervisor: Process, totals: Totals) -> Stats {
    let live = || parts.iter().flatten();
    let sum = |f: fn(&Stats) -> u64| live().map(f).sum::<u64>();
    let techniques = Technique::ALL
        .iter()
        .map(|t| {
            let mut total = TechniqueCounters::default();
            for p in live() {
                if let Some(c) = p.technique(t.name()) {
                    total.add(c);
                }
            }
            (t.name().to_string(), total)
        })
        .collect();
    let mut per_process = vec![ProcessEntry {
        role: Role::Supervisor,
        index: None,
        pid: supervisor.pid,
        cpu_seconds: supervisor.cpu_seconds,
        rss_bytes: supervisor.rss_bytes,
        open_fds: supervisor.open_fds,
        connections: 0,
    }];
    let mut total = supervisor;
    for (i, p) in parts.iter().enumerate() {
        let Some(p) = p else { continue };
        let pr = p.process.unwrap_or_default();
        total.cpu_seconds += pr.cpu_seconds;
        total.rss_bytes += pr.rss_bytes;
        total.open_fds += pr.open_fds;
        per_process.push(ProcessEntry {
            role: Role::Child,
            index: Some(i as u64),
            pid: pr.pid,
            cpu_seconds: pr.cpu_seconds,
            rss_bytes: pr.rss_bytes,
            open_fds: pr.open_fds,
            connections: p.open_connections,
        });
    }
    Stats {
        body_buffer_rejections: sum(|p| p.body_buffer_rejections),
        body_timeouts: sum(|p| p.body_timeouts),
        broker: live()
            .filter_map(|p| p.broker.as_ref())
            .fold(None, |acc, b| {
                let mut all: contract::stats::BrokerStatus = acc.unwrap_or_default();
                all.add(b);
                Some(all)
            }),
        child_restarts: totals.child_restarts,
        connection_errors: sum(|p| p.connection_errors),
        open_connections: sum(|p| p.open_connections),
        per_process: Some(per_process),
        process: Some(total),
        processes: live().count() as u64,
        // Over a broker the processes publish themselves (and count it); else the supervisor.
        published: totals.published + sum(|p| p.published),
        rejected_connections: sum(|p| p.rejected_connections),
        protocols: protocols(live()),
        techniques,
        tls_handshake_failures: sum(|p| p.tls_handshake_failures),
        topics: live().map(|p| p.topics).max().unwrap_or(0),
        uptime_s: totals.uptime_s,
    }
}

/// The processes' connections by protocol, summed.
fn protocols<'a>(
    parts: impl Iterator<Item = &'a Stats>,
) -> std::collections::BTreeMap<String, contract::stats::ProtocolCounters> {
    let mut all = std::collections::BTreeMap::new();
    for p in parts {
        for (name, c) in &p.protocols {
            all.entry(name.clone())
                .or_insert_with(contract::stats::ProtocolCounters::default)
                .add(c);
        }
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Metrics;
    use std::sync::atomic::Ordering::Relaxed;

    #[test]
    fn merge_sums_counters_and_processes() {
        let a = Metrics::default();
        let b = Metrics::default();
        a.of(Technique::Sse).delivered.fetch_add(5, Relaxed);
        b.of(Technique::Sse).delivered.fetch_add(7, Relaxed);
        b.of(Technique::Ws).connections.fetch_add(2, Relaxed);
        a.open_connections.fetch_add(1, Relaxed);
        b.open_connections.fetch_add(2, Relaxed);
        b.connection_errors.fetch_add(1, Relaxed);
        a.body_timeouts.fetch_add(2, Relaxed);
        b.body_timeouts.fetch_add(3, Relaxed);
        a.tls_handshake_failures.fetch_add(1, Relaxed);
        b.tls_handshake_failures.fetch_add(4, Relaxed);
        let h2 = crate::metrics::Protocol::H2Tls;
        a.protocol(h2).total.fetch_add(3, Relaxed);
        b.protocol(h2).total.fetch_add(6, Relaxed);
        b.protocol(h2).open.fetch_add(2, Relaxed);
        let sup = Process {
            pid: 1,
            cpu_seconds: 0.5,
            rss_bytes: 100,
            open_fds: 3,
        };
        let parts = [Some(a.stats(2)), Some(b.stats(3))];
        let totals = Totals {
            published: 9,
            child_restarts: 2,
            uptime_s: 1.0,
        };
        let m = merge(&parts, sup, totals);
        assert_eq!(m.child_restarts, 2);
        assert_eq!(m.technique("sse").unwrap().delivered, 12);
        assert_eq!(m.technique("ws").unwrap().connections, 2);
        assert_eq!(m.techniques.len(), Technique::ALL.len());
        assert_eq!(m.open_connections, 3);
        assert_eq!(m.connection_errors, 1);
        assert_eq!(m.body_timeouts, 5);
        assert_eq!(m.tls_handshake_failures, 5);
        let p = m.protocols["h2_tls"];
        assert_eq!((p.open, p.total), (2, 9));
        assert_eq!(m.protocols.len(), 4, "every protocol, zeros included");
        assert_eq!(m.published, 9);
        assert_eq!(m.topics, 3);
        assert_eq!(m.processes, 2);
        let list = m.per_process.as_ref().unwrap();
        assert_eq!(list.len(), 3);
        assert_eq!((list[0].role, list[0].index), (Role::Supervisor, None));
        assert_eq!((list[2].role, list[2].index), (Role::Child, Some(1)));
        assert_eq!(list[1].connections, 1);
        assert_eq!(list[2].connections, 2);
        let rss: u64 = list.iter().map(|p| p.rss_bytes).sum();
        let process = m.process.unwrap();
        assert_eq!(process.rss_bytes, rss);
        assert_eq!(process.pid, 1);
    }

    #[test]
    fn frames_round_trip() {
        let f = ToChild::Published {
            req: 3,
            result: Err("too many".into()),
        };
        let back: ToChild = serde_json::from_slice(&encode(&f)).unwrap();
        assert!(matches!(back, ToChild::Published { req: 3, result: Err(e) } if e == "too many"));
    }
}

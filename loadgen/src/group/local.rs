//! "Run these clients, return raw results": one technique's simulated clients, spawned at the
//! ramp-up rate and spread evenly over the topics and source addresses, then cancelled and
//! awaited. Kept apart from the orchestration and the output so that a worker process can run
//! a group and hand back its [`RawResult`] (counters and histograms merge exactly).

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use rand::{Rng, SeedableRng};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::clients::{self, ClientSpec, Transport, run_client};
use crate::fault::{FaultPlan, Recovery};
use crate::link::Link;
use crate::stats::{FaultHistograms, Recorder, Snapshot, new_histogram};
use crate::sut::target::Target;
use crate::technique::Technique;

/// What one group runs.
#[derive(Debug, Clone)]
pub struct GroupPlan {
    pub technique: Technique,
    pub target: Target,
    pub topics: Vec<String>,
    pub clients: u32,
    /// Connections per second.
    pub ramp_up: f64,
    /// Empty: the OS picks.
    pub source_addrs: Vec<Ipv4Addr>,
    pub poll_interval: Duration,
    pub long_poll_timeout: Duration,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    pub seed: u64,
    /// Index of this group's first client among all the run's clients of this technique (0
    /// unless the clients are split over worker processes): client `i` of the group is client
    /// `first_index + i` of the run, which picks its topic and source address.
    pub first_index: u32,
    /// The subscribers' emulated link (None: direct connections).
    pub link: Option<Link>,
    /// The injected faults (None: none).
    pub faults: Option<Arc<FaultPlan>>,
    /// How the clients come back after a broken connection.
    pub recovery: Recovery,
    /// How they reach the server (HTTP version, TLS, shared connections): one per group.
    pub transport: Arc<Transport>,
}

impl GroupPlan {
    /// The spec of the group's client `i` (run-wide index `n = first_index + i`: topic
    /// `n % topics`, source address `n % addrs`).
    pub fn spec(&self, i: u32) -> ClientSpec {
        let i = self.first_index + i;
        let topic_index = i % self.topics.len() as u32;
        ClientSpec {
            technique: self.technique,
            server: self.target.addr,
            host: self.target.host.clone(),
            path_prefix: self.target.prefix.clone(),
            topic: self.topics[topic_index as usize].clone(),
            topic_index,
            poll_interval: self.poll_interval,
            long_poll_timeout: self.long_poll_timeout,
            connect_timeout: self.connect_timeout,
            read_timeout: self.read_timeout,
            source_addr: (!self.source_addrs.is_empty())
                .then(|| IpAddr::V4(self.source_addrs[i as usize % self.source_addrs.len()])),
            since: 0,
            seed: self.seed,
            index: i,
            link: self.link.clone(),
            profile: self.target.profile.clone(),
            faults: self.faults.clone(),
            recovery: self.recovery,
            transport: self.transport.clone(),
        }
    }

    /// Subscribers of each topic among this group's clients.
    pub fn subscribers_per_topic(&self) -> Vec<u64> {
        let t = self.topics.len() as u32;
        let upto = |n: u32| -> Vec<u64> {
            (0..t)
                .map(|i| u64::from(n / t + u32::from(i < n % t)))
                .collect()
        };
        let before = upto(self.first_index);
        upto(self.first_index + self.clients)
            .iter()
            .zip(before)
            .map(|(a, b)| a - b)
            .collect()
    }

    /// Messages in the window, all topics, `window_len(topic)` being one topic's.
    pub fn published(&self, window_len: impl Fn(usize) -> u64) -> u64 {
        (0..self.topics.len()).map(window_len).sum()
    }

    /// Deliveries this group's clients should have: Σ over topics of the window's messages
    /// (`window_len(topic)`) × the topic's subscribers among them.
    pub fn expected(&self, window_len: impl Fn(usize) -> u64) -> u64 {
        self.subscribers_per_topic()
            .iter()
            .enumerate()
            .map(|(t, s)| window_len(t) * s)
            .sum()
    }
}

/// A running group of clients.
#[derive(Debug)]
pub struct ClientGroup {
    pub plan: GroupPlan,
    pub rec: Arc<Recorder>,
    cancel: CancellationToken,
    tasks: JoinSet<()>,
    spawned: u32,
}

impl ClientGroup {
    pub fn new(plan: GroupPlan) -> ClientGroup {
        let rec = Arc::new(Recorder::new(plan.technique, plan.topics.len()));
        ClientGroup {
            plan,
            rec,
            cancel: CancellationToken::new(),
            tasks: JoinSet::new(),
            spawned: 0,
        }
    }

    /// Clients started so far.
    pub fn spawned(&self) -> u32 {
        self.spawned
    }

    /// Starts the clients at the ramp-up rate (each second's clients jittered within it);
    /// returns early, with fewer started, if `stop` is cancelled.
    pub async fn ramp_up(&mut self, stop: &CancellationToken) {
        let start = Instant::now();
        let mut rng = rand::rngs::StdRng::seed_from_u64(
            self.plan.seed ^ self.plan.technique as u64 ^ (u64::from(self.plan.first_index) << 8),
        );
        let step = 1.0 / self.plan.ramp_up;
        for i in 0..self.plan.clients {
            let jitter: f64 = if self.plan.clients > 1 {
                rng.random_range(0.0..step)
            } else {
                0.0
            };
            let at = start + Duration::from_secs_f64(i as f64 * step + jitter);
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep_until(at.into()) => {}
            }
            let spec = self.plan.spec(i);
            let client = run_client(spec, self.rec.clone(), self.cancel.child_token());
            clients::runtime::spawn(&mut self.tasks, client);
            self.spawned += 1;
        }
    }

    /// Cancels every client and waits (at most `timeout`) for them to close their
    /// connections. Returns how many did not finish in time (they are aborted).
    pub async fn close(&mut self, timeout: Duration) -> usize {
        self.cancel.cancel();
        let deadline = tokio::time::Instant::now() + timeout;
        while !self.tasks.is_empty() {
            match tokio::time::timeout_at(deadline, self.tasks.join_next()).await {
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(_) => {
                    let left = self.tasks.len();
                    self.tasks.abort_all();
                    while self.tasks.join_next().await.is_some() {}
                    return left;
                }
            }
        }
        if let Some(h2) = &self.plan.transport.h2 {
            h2.drained(deadline).await;
        }
        0
    }

    /// The raw measurements of this group: everything needed to merge with other groups.
    pub fn raw(&self, window_start: Snapshot, window_end: Snapshot) -> RawResult {
        RawResult {
            technique: self.plan.technique,
            clients: u64::from(self.spawned),
            window: window_end.since(&window_start),
            phase: self.rec.snapshot(),
            latency: self.rec.latency(),
            connect: self.rec.connect_times(),
            first_message: self.rec.first_message_times(),
            faults: self.rec.faults.histograms(),
        }
    }
}

/// Raw, mergeable results of one technique (one group, or several merged).
#[derive(Debug, Clone)]
pub struct RawResult {
    pub technique: Technique,
    pub clients: u64,
    /// Counters accumulated during the steady-state window (deliveries are attributed by the
    /// message's window, so `delivered` also includes in-window messages received in drain).
    pub window: Snapshot,
    /// Counters accumulated over the whole technique phase (first connect to last close).
    pub phase: Snapshot,
    /// Steady-state publish-to-receive latency, µs.
    pub latency: Histogram<u64>,
    /// Connect times, µs.
    pub connect: Histogram<u64>,
    /// Connect start to first message, µs.
    pub first_message: Histogram<u64>,
    /// The fault histograms (empty without `--fault`).
    pub faults: FaultHistograms,
}

impl RawResult {
    /// An empty result (the identity of [`RawResult::merge`]).
    pub fn empty(technique: Technique) -> RawResult {
        RawResult {
            technique,
            clients: 0,
            window: Snapshot::default(),
            phase: Snapshot::default(),
            latency: new_histogram(),
            connect: new_histogram(),
            first_message: new_histogram(),
            faults: FaultHistograms::default(),
        }
    }

    /// Adds another group's results of the same technique (exact for counters and histograms).
    pub fn merge(&mut self, other: &RawResult) {
        self.clients += other.clients;
        self.window = add(&self.window, &other.window);
        self.phase = add(&self.phase, &other.phase);
        let _ = self.latency.add(&other.latency);
        let _ = self.connect.add(&other.connect);
        let _ = self.first_message.add(&other.first_message);
        self.faults.merge(&other.faults);
    }
}

fn add(a: &Snapshot, b: &Snapshot) -> Snapshot {
    let mut errors = [0; 6];
    for (i, e) in errors.iter_mut().enumerate() {
        *e = a.errors[i] + b.errors[i];
    }
    Snapshot {
        delivered: a.delivered + b.delivered,
        duplicates: a.duplicates + b.duplicates,
        out_of_order: a.out_of_order + b.out_of_order,
        received_total: a.received_total + b.received_total,
        requests: a.requests + b.requests,
        empty_responses: a.empty_responses + b.empty_responses,
        reconnects: a.reconnects + b.reconnects,
        bytes_up: a.bytes_up + b.bytes_up,
        bytes_down: a.bytes_down + b.bytes_down,
        connections: a.connections + b.connections,
        errors,
        cuts: a.cuts + b.cuts,
        idle_cuts: a.idle_cuts + b.idle_cuts,
        gaps: a.gaps + b.gaps,
        stalled_clients: a.stalled_clients + b.stalled_clients,
        stalled_lost: a.stalled_lost + b.stalled_lost,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(clients: u32, topics: usize, addrs: usize) -> GroupPlan {
        GroupPlan {
            technique: Technique::Sse,
            target: Target::local("127.0.0.1:9".parse().unwrap()),
            topics: (0..topics).map(|i| format!("t{i}")).collect(),
            clients,
            ramp_up: 1000.0,
            source_addrs: (1..=addrs as u8)
                .map(|i| Ipv4Addr::new(127, 0, 0, i))
                .collect(),
            poll_interval: Duration::from_secs(1),
            long_poll_timeout: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(1),
            read_timeout: Duration::from_secs(2),
            seed: 1,
            first_index: 0,
            link: None,
            faults: None,
            recovery: Recovery::default(),
            transport: Arc::default(),
        }
    }

    #[test]
    fn spreads_clients_evenly() {
        let p = plan(10, 3, 2);
        assert_eq!(p.subscribers_per_topic(), vec![4, 3, 3]);
        assert_eq!(p.spec(4).topic, "t1");
        assert_eq!(
            p.spec(4).source_addr,
            Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)))
        );
        assert_eq!(
            p.spec(5).source_addr,
            Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)))
        );
        assert_eq!(p.spec(0).path_prefix, "");
        assert_eq!(plan(1, 1, 0).spec(0).source_addr, None);
        // A worker's share: clients 4..10 of the run.
        let mut w = plan(6, 3, 2);
        w.first_index = 4;
        assert_eq!(w.subscribers_per_topic(), vec![2, 2, 2]);
        assert_eq!(w.spec(0).topic, "t1");
        let mut w = plan(3, 3, 2);
        w.first_index = 7;
        assert_eq!(w.subscribers_per_topic(), vec![1, 1, 1]);
        let mut w = plan(2, 3, 2);
        w.first_index = 1;
        assert_eq!(w.subscribers_per_topic(), vec![0, 1, 1]);
        // Windows of 5, 6 and 7 messages: 18 published, 6 + 7 expected of this share.
        assert_eq!(w.published(|t| 5 + t as u64), 18);
        assert_eq!(w.expected(|t| 5 + t as u64), 13);
    }

    #[test]
    fn a_spec_carries_the_run_seed_and_the_run_wide_index() {
        // So a client's reconnect jitter is the same whichever worker process runs it.
        let mut w = plan(3, 3, 0);
        w.seed = 42;
        w.first_index = 7;
        let s = w.spec(1);
        assert_eq!((s.seed, s.index, s.topic_index), (42, 8, 2));
    }

    #[test]
    fn merge_adds_exactly() {
        let mut a = RawResult::empty(Technique::Ws);
        let mut b = RawResult::empty(Technique::Ws);
        a.latency.record(100).unwrap();
        b.latency.record(300).unwrap();
        b.window.delivered = 5;
        a.merge(&b);
        assert_eq!(a.latency.len(), 2);
        assert_eq!(a.latency.max(), 300);
        assert_eq!(a.window.delivered, 5);
    }
}

//! An instance's side of the broker ([`Broker`]): publishing through it, feeding what it
//! delivers into this process's hub, and catching up from its retention whenever the hub is
//! behind: a message whose seq jumps (the instance started late, or missed some while the
//! connection was down), a client resuming with a cursor ahead of the hub, and every topic
//! when the connection comes back. While the connection is lost, publishes are refused (`503`
//! with `Retry-After`) and `/stats` says so; clients keep what they have and are told of a
//! gap for anything the broker no longer retains once it is back.
//!
//! Every change the broker makes to the hub goes through one lock (`apply`), so a catch-up and
//! the live feed never interleave: a topic's messages enter the hub in seq order, and a seq
//! missing from the broker's retention is a gap the clients are told of, never a silent loss.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use contract::stats::BrokerStatus;
use tokio::sync::{Mutex, broadcast, mpsc};
use tokio_util::sync::CancellationToken;

use super::{Backend, BrokerError, BrokerUrl, Delivery, Feed, Options};
use crate::error::PublishError;
use crate::hub::{Hub, TopicHandle};

/// How long [`connect`](Broker::connect) may take at start.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a publish waits for its own message to come back into this hub.
const ECHO_TIMEOUT: Duration = Duration::from_secs(5);
/// Messages the backend may hand over before it waits for the feed.
const FEED_QUEUE: usize = 4096;

/// This instance's link to the broker.
#[derive(Debug)]
pub struct Broker {
    backend: Arc<dyn Backend>,
    url: BrokerUrl,
    /// Serializes every change the broker makes to the hub (see the module docs).
    apply: Mutex<()>,
    connected: AtomicBool,
    /// When the connection was lost (None: connected).
    lost_at: std::sync::Mutex<Option<Instant>>,
    disconnects: AtomicU64,
    received: AtomicU64,
    backfilled: AtomicU64,
    gaps: AtomicU64,
    refused: AtomicU64,
}

impl Broker {
    /// Connects to the broker (failing within a few seconds if it cannot be reached or is
    /// not what the URL says) and returns the link with the feed its subscription fills;
    /// hand that to [`Broker::run_feed`] once the hub exists.
    pub async fn connect(
        url: &BrokerUrl,
        options: &Options,
    ) -> Result<(Arc<Broker>, mpsc::Receiver<Feed>), BrokerError> {
        let (tx, rx) = mpsc::channel(FEED_QUEUE);
        let backend = tokio::time::timeout(CONNECT_TIMEOUT, super::connect(url, options, tx))
            .await
            .map_err(|_| BrokerError::Timeout {
                url: url.url(),
                secs: CONNECT_TIMEOUT.as_secs(),
            })??;
        let broker = Broker {
            backend,
            url: url.clone(),
            apply: Mutex::new(()),
            connected: AtomicBool::new(true),
            lost_at: std::sync::Mutex::new(None),
            disconnects: AtomicU64::new(0),
            received: AtomicU64::new(0),
            backfilled: AtomicU64::new(0),
            gaps: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        };
        Ok((Arc::new(broker), rx))
    }

    /// The broker's URL.
    pub fn url(&self) -> &BrokerUrl {
        &self.url
    }

    /// Whether the connection to the broker is up (publishes are accepted).
    pub fn connected(&self) -> bool {
        self.connected.load(Relaxed)
    }

    fn lost_at(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        self.lost_at.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Publishes through the broker; returns the seq once the message is in `hub` too (or
    /// after a few seconds without it: the seq is the broker's either way).
    pub async fn publish(
        &self,
        hub: &Hub,
        topic: &str,
        event: Option<&str>,
        data: &str,
    ) -> Result<u64, PublishError> {
        if !self.connected() {
            self.refused.fetch_add(1, Relaxed);
            return Err(PublishError::BrokerLost(self.url.url()));
        }
        let handle = hub.topic(topic)?;
        // Listen before publishing, so the message cannot pass unseen.
        let (mut echo, _) = handle.subscribe(handle.latest());
        let seq = match self.backend.publish(topic, event, data).await {
            Ok(seq) => seq,
            Err(e) => {
                self.refused.fetch_add(1, Relaxed);
                return Err(PublishError::Broker(e));
            }
        };
        let arrived = tokio::time::timeout(ECHO_TIMEOUT, async {
            while handle.latest() < seq {
                match echo.recv().await {
                    Ok(m) if m.seq >= seq => break,
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
        })
        .await;
        if arrived.is_err() {
            self.fill(&handle, topic).await;
        }
        Ok(seq)
    }

    /// Call before answering a client that resumes on `topic` from `since`: when the cursor
    /// is ahead of this hub (the client was on another instance, or this one missed
    /// messages), the hub is first filled from the broker's retention.
    pub async fn sync(&self, hub: &Hub, topic: &str, since: u64) {
        let local = hub.get(topic).map_or(0, |t| t.latest());
        if since <= local {
            return;
        }
        let handle = hub.topic_unlimited(topic);
        self.fill(&handle, topic).await;
    }

    /// Fills `topic` in the hub from the broker's retention, under the apply lock.
    async fn fill(&self, handle: &TopicHandle, topic: &str) {
        let _g = self.apply.lock().await;
        self.fill_locked(handle, topic, u64::MAX).await;
    }

    /// Inserts the retained messages of `topic` after the hub's newest, below `before`.
    /// Returns the broker's newest seq (None: it could not be asked).
    async fn fill_locked(&self, handle: &TopicHandle, topic: &str, before: u64) -> Option<u64> {
        let after = handle.latest();
        let retained = match self.backend.since(topic, after).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("pushbench serve: catching up {topic} from the broker: {e}");
                return None;
            }
        };
        for m in retained.messages.iter().filter(|m| m.seq < before) {
            self.insert(handle, m);
            self.backfilled.fetch_add(1, Relaxed);
        }
        Some(retained.latest)
    }

    fn insert(&self, handle: &TopicHandle, m: &Delivery) {
        let latest = handle.latest();
        if m.seq > latest + 1 && latest > 0 {
            // The hub tells its clients of the gap; counted here for /stats.
            self.gaps.fetch_add(1, Relaxed);
        }
        if let Err(e) = handle.insert(m.seq, m.event.as_deref(), &m.data) {
            eprintln!("pushbench serve: message {} of {}: {e}", m.seq, m.topic);
        }
    }

    /// Feeds the broker's messages into the hub of `state` (the server's shared state) until the feed ends or `shutdown`.
    pub async fn run_feed<S: AsRef<Hub>>(
        self: Arc<Self>,
        state: Arc<S>,
        mut feed: mpsc::Receiver<Feed>,
        shutdown: CancellationToken,
    ) {
        loop {
            let next = tokio::select! {
                _ = shutdown.cancelled() => return,
                f = feed.recv() => f,
            };
            let Some(next) = next else { return };
            match next {
                Feed::Message(d) => self.deliver((*state).as_ref(), d).await,
                Feed::Lost(why) => self.lost(&why),
                Feed::Connected => self.reconnected((*state).as_ref()).await,
            }
        }
    }

    async fn deliver(&self, hub: &Hub, d: Delivery) {
        self.received.fetch_add(1, Relaxed);
        if !crate::hub::valid_name(&d.topic) {
            return;
        }
        let _g = self.apply.lock().await;
        let handle = hub.topic_unlimited(&d.topic);
        let latest = handle.latest();
        if d.seq <= latest {
            return;
        }
        if d.seq > latest + 1 {
            // Started late, or missed some while the connection was down: what the broker
            // still retains comes first.
            self.fill_locked(&handle, &d.topic, d.seq).await;
        }
        self.insert(&handle, &d);
    }

    fn lost(&self, why: &str) {
        if self.connected.swap(false, Relaxed) {
            self.disconnects.fetch_add(1, Relaxed);
            *self.lost_at() = Some(Instant::now());
            eprintln!(
                "pushbench serve: broker {} lost ({why}); publishes answer 503 until it is back",
                self.url
            );
        }
    }

    /// The connection is back: every topic is caught up from the broker's retention (and a
    /// broker that restarted empty is raised past the ids already given out) before
    /// publishes are accepted again.
    async fn reconnected(&self, hub: &Hub) {
        let _g = self.apply.lock().await;
        for (topic, _) in hub.topics_with_messages() {
            let handle = hub.topic_unlimited(&topic);
            let latest = handle.latest();
            if let Some(remote) = self.fill_locked(&handle, &topic, u64::MAX).await {
                if remote < latest {
                    if let Err(e) = self.backend.raise(&topic, latest).await {
                        eprintln!("pushbench serve: raising {topic} on the broker: {e}");
                    }
                }
            }
        }
        let was = self.lost_at().take();
        self.connected.store(true, Relaxed);
        if let Some(at) = was {
            eprintln!(
                "pushbench serve: broker {} is back after {:.1} s",
                self.url,
                at.elapsed().as_secs_f64()
            );
        }
    }

    /// What `/stats` shows of the broker.
    pub fn status(&self) -> BrokerStatus {
        BrokerStatus {
            kind: self.url.kind.name().to_string(),
            url: self.url.url(),
            connected: self.connected(),
            lost_for_s: self.lost_at().map_or(0.0, |t| t.elapsed().as_secs_f64()),
            disconnects: self.disconnects.load(Relaxed),
            received: self.received.load(Relaxed),
            backfilled: self.backfilled.load(Relaxed),
            gaps: self.gaps.load(Relaxed),
            refused: self.refused.load(Relaxed),
            processes: 1,
            connected_processes: u64::from(self.connected()),
        }
    }

    /// Zeroes the counters (`POST /stats/reset`); the connection state stays.
    pub fn reset(&self) {
        for c in [
            &self.disconnects,
            &self.received,
            &self.backfilled,
            &self.gaps,
            &self.refused,
        ] {
            c.store(0, Relaxed);
        }
    }
}

//! The simulated clients: one module per push technique, each behaving as a browser does with
//! the classic code, written from docs/PROTOCOL.md (never from the server's code).
//!
//! [`run_client`] runs one client until shutdown. Everything it sees goes into the technique's
//! [`Recorder`]: payloads (latency and sequence checks, one [`SeqTracker`] per client kept
//! across reconnects), requests, empty answers, reconnects, connect and first-message times,
//! and errors by kind. Bytes are counted at the socket by [`crate::net::CountingStream`]. A
//! client never gives up: after an error it backs off briefly and reconnects, resuming from
//! its cursor (the server's `id` of the last message it received).

mod answer;
mod chunked;
mod error;
mod framing;
mod h2;
mod http;
mod idle;
mod jitter;
mod long_poll;

mod ndjson;
mod open;
mod poll;
#[cfg(test)]
mod props;
pub mod runtime;
mod sse;
mod sse_parser;
mod stream;
pub mod transport;
mod wire;
mod ws;

pub use chunked::{ChunkedDecoder, ChunkedError};
pub use error::ClientError;
pub use h2::{CONNECTION_WINDOW, H2Body, H2Pool, STREAM_WINDOW};
pub use http::{Body, Head, HttpConn, get_request};
pub use jitter::Jitter;
pub use ndjson::{LineSplitter, LineTooLong};
pub use sse_parser::{Event, SseParser};
pub use transport::{Transport, Wire};
pub use wire::{Gap, Item, Message, PollAnswer, WireError, parse_item, parse_poll};
pub use ws::{WS_READ_BUFFER, from_ws};

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::fault::{ClientFaults, FaultPlan, Recovery};
use crate::link::Link;
use crate::payload;
use crate::profile::{Profile, Subscribe};
use crate::stats::{Recorder, SeqTracker};
use crate::technique::Technique;

/// How long a client may finish what it is doing after shutdown: a poll or long poll in
/// flight is answered, a WebSocket is closed with a close handshake. Then it is dropped.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);
/// Longest wait before a retry (also caps a 503's `Retry-After`).
pub const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// First wait before a retry; doubles with each failure in a row.
const BASE_BACKOFF: Duration = Duration::from_millis(100);
/// Largest poll answer, stream line or SSE event accepted.
const MAX_MESSAGE: usize = 64 << 20;

/// What one simulated client does and where.
#[derive(Debug, Clone)]
pub struct ClientSpec {
    pub technique: Technique,
    /// Where to connect.
    pub server: SocketAddr,
    /// Host header value, e.g. "127.0.0.1:8080".
    pub host: String,
    /// "" normally; a base path if the target URL had one.
    pub path_prefix: String,
    /// Topic name on the server.
    pub topic: String,
    /// Index in the payload header.
    pub topic_index: u32,
    /// Short poll period; ZERO = back to back (closed loop).
    pub poll_interval: Duration,
    /// Sent as `?timeout=MS`.
    pub long_poll_timeout: Duration,
    pub connect_timeout: Duration,
    /// No byte for this long on a connection that should deliver = timeout error.
    pub read_timeout: Duration,
    /// Bind before connect (127.0.0.x), port chosen at connect time.
    pub source_addr: Option<IpAddr>,
    /// Starting cursor (0 = from the oldest retained message).
    pub since: u64,
    /// The run's `--seed`: with `index`, it seeds the client's reconnect jitter ([`Jitter`]).
    pub seed: u64,
    /// The client's index among the run's clients of its technique (whichever worker process
    /// runs it).
    pub index: u32,
    /// The emulated link every connection of this client goes through (None: direct).
    pub link: Option<Link>,
    /// How the target is asked (paths, framing, cursor); pushbench's protocol by default.
    pub profile: Arc<Profile>,
    /// The run's injected faults (None: none).
    pub faults: Option<Arc<FaultPlan>>,
    /// How the client comes back after its connection breaks.
    pub recovery: Recovery,
    /// HTTP version, TLS and connection sharing, shared by the group's clients.
    pub transport: Arc<Transport>,
}

/// Runs one simulated client until `shutdown` is cancelled, reporting into `rec`.
/// Never panics, never hangs past shutdown + [`SHUTDOWN_GRACE`]; errors are counted in `rec`
/// (by kind) and the client reconnects/retries with a short backoff (resuming from its cursor)
/// until shutdown.
pub async fn run_client(spec: ClientSpec, rec: Arc<Recorder>, shutdown: CancellationToken) {
    let mut client = Client::new(spec, rec, shutdown.clone());
    {
        // Boxed apart: the task then holds only its own technique's state, not room for the
        // largest of the five (a WebSocket's), which more than halves an SSE client's memory.
        let h2 = client.spec.transport.is_h2() && client.spec.technique != Technique::Ws;
        let mut work: Pin<Box<dyn Future<Output = ()> + Send + '_>> = match client.spec.technique {
            _ if h2 => Box::pin(h2::run(&mut client)),
            Technique::Poll => Box::pin(poll::run(&mut client)),
            Technique::LongPoll => Box::pin(long_poll::run(&mut client)),
            Technique::Stream => Box::pin(stream::run(&mut client)),
            Technique::Sse => Box::pin(sse::run(&mut client)),
            Technique::Ws => Box::pin(ws::run(&mut client)),
        };
        let mut stop = idle::Stop::new(&shutdown);
        let finished = tokio::select! {
            biased;
            _ = work.as_mut() => true,
            _ = &mut stop => false,
        };
        if !finished {
            let _ = tokio::time::timeout(SHUTDOWN_GRACE, work).await;
        }
    }
    if let Some(f) = &client.sink.faults {
        f.finish(&client.rec, client.spec.topic_index);
    }
}

/// Hands received payloads to the recorder: one per client, kept across reconnects.
#[derive(Debug)]
struct Deliverer {
    rec: Arc<Recorder>,
    tracker: SeqTracker,
    /// When the client started its first connect.
    started: Instant,
    first_recorded: bool,
    /// This client's fault schedule and accounting (None: no faults).
    faults: Option<ClientFaults>,
}

impl Deliverer {
    /// A payload has been parsed whole: record it, received now.
    fn deliver(&mut self, data: &str) {
        let now = payload::now_us();
        self.deliver_at(data, now);
    }

    /// A payload received at `received_us` (several messages of one answer share the time the
    /// answer was parsed).
    fn deliver_at(&mut self, data: &str, received_us: u64) {
        let delivery = self.rec.on_payload(&mut self.tracker, data, received_us);
        if let Some(f) = &mut self.faults {
            f.delivered(&self.rec, delivery, received_us);
        }
        if !self.first_recorded {
            self.first_recorded = true;
            self.rec
                .record_first_message(micros(self.started.elapsed()));
        }
    }
}

/// One client's state, shared by the technique modules.
#[derive(Debug)]
struct Client {
    spec: ClientSpec,
    rec: Arc<Recorder>,
    shutdown: CancellationToken,
    sink: Deliverer,
    /// Connections opened so far (a reconnect is any after the first).
    opened: u64,
    /// Whether an answer's head has arrived (over HTTP/2, the first answer's wait is the
    /// client's connect time even on a connection another client opened).
    answered_once: bool,
    /// Failures in a row (for the backoff).
    failures: u32,
    /// Spreads the waits before reconnecting ([`Client::pause`]).
    jitter: Jitter,
    /// This technique's entry of the profile.
    sub: Subscribe,
    /// A poller's turn in the per-origin limit, held for one request.
    turn: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl Client {
    fn new(spec: ClientSpec, rec: Arc<Recorder>, shutdown: CancellationToken) -> Self {
        let sub = spec.profile.subscription(spec.technique);
        let faults = (spec.faults.as_deref())
            .filter(|p| p.spec.any())
            .map(|p| ClientFaults::new(p, spec.seed, spec.index));
        if let Some(f) = &faults {
            f.register(&rec);
        }
        Client {
            sub,
            jitter: Jitter::new(spec.seed, spec.index),
            spec,
            sink: Deliverer {
                rec: Arc::clone(&rec),
                tracker: SeqTracker::default(),
                started: Instant::now(),
                first_recorded: false,
                faults,
            },
            rec,
            shutdown,
            opened: 0,
            answered_once: false,
            failures: 0,
            turn: None,
        }
    }

    /// The request path (and query) of this client's technique and topic at `cursor`.
    fn path_at(&self, cursor: &str) -> String {
        let timeout_ms = self.spec.long_poll_timeout.as_millis().clamp(1, 300_000);
        format!(
            "{}{}",
            self.spec.path_prefix.trim_end_matches('/'),
            self.sub.path_for(&self.spec.topic, cursor, timeout_ms)
        )
    }

    /// The profile's extra request headers.
    fn extra_headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.sub
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The connection opened at `t0` has its first answer (head or upgrade).
    fn answered(&self, t0: Instant) {
        self.rec.record_connect(micros(t0.elapsed()));
    }

    /// An exchange went well: the next failure backs off from the start.
    fn succeeded(&mut self) {
        self.failures = 0;
    }

    /// Whether the client reconnects without its cursor (`--recovery classic` on a stream or
    /// a WebSocket: the page reopens the URL it started with).
    fn forgets_cursor(&self) -> bool {
        self.spec.recovery == Recovery::Classic
    }

    /// Counts `e` and returns how long to wait before retrying. An injected fault is not the
    /// server's error: it is counted apart (cuts, idle cuts) and the client reconnects as after
    /// a first failure.
    fn failed(&mut self, e: &ClientError) -> Duration {
        if let Some(f) = &self.sink.faults {
            if matches!(e, ClientError::Injected(_)) || (f.cut_pending() && e.is_disconnect()) {
                self.failures = 1;
                return BASE_BACKOFF;
            }
            if e.is_disconnect() || matches!(e, ClientError::Connect(_)) {
                f.disconnected();
            }
        }
        self.rec.error(e.kind());
        self.failures = self.failures.saturating_add(1);
        if let ClientError::Status {
            status: 503,
            retry_after,
        } = e
        {
            return retry_after
                .unwrap_or(Duration::from_secs(1))
                .clamp(BASE_BACKOFF, MAX_BACKOFF);
        }
        let exp = BASE_BACKOFF.saturating_mul(1 << (self.failures - 1).min(10));
        exp.min(MAX_BACKOFF)
    }

    /// Waits `d` (with ±10% jitter, so that clients dropped together do not return together);
    /// `false` if shutdown came first.
    async fn pause(&mut self, d: Duration) -> bool {
        let d = self.jitter.scale(d);
        tokio::select! {
            _ = self.shutdown.cancelled() => false,
            _ = tokio::time::sleep(d) => true,
        }
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn spec(seed: u64, index: u32) -> ClientSpec {
        ClientSpec {
            technique: Technique::Sse,
            server: "127.0.0.1:9".parse().unwrap(),
            host: "127.0.0.1:9".into(),
            path_prefix: String::new(),
            topic: "t".into(),
            topic_index: 0,
            poll_interval: Duration::from_secs(1),
            long_poll_timeout: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(1),
            read_timeout: Duration::from_secs(1),
            source_addr: None,
            since: 0,
            seed,
            index,
            link: None,
            profile: Default::default(),
            faults: None,
            recovery: Recovery::default(),
            transport: Arc::default(),
        }
    }

    fn client(seed: u64, index: u32) -> Client {
        let spec = spec(seed, index);
        let rec = Arc::new(Recorder::new(Technique::Sse, 1));
        Client::new(spec, rec, CancellationToken::new())
    }

    /// The waits (ms) a client makes before 8 reconnects that should each come after 1 s: on
    /// tokio's paused clock, which jumps to each timer, so they are exact and take no time.
    async fn waits(mut c: Client) -> Vec<u128> {
        let mut out = Vec::new();
        for _ in 0..8 {
            let t0 = tokio::time::Instant::now();
            assert!(c.pause(Duration::from_secs(1)).await);
            out.push(t0.elapsed().as_millis());
        }
        out
    }

    #[tokio::test(start_paused = true)]
    async fn reconnect_waits_follow_the_seed_and_the_client_index() {
        let a = waits(client(7, 3)).await;
        assert_eq!(a, waits(client(7, 3)).await, "same seed, same client");
        assert_ne!(a, waits(client(7, 4)).await, "same seed, another client");
        assert_ne!(a, waits(client(8, 3)).await, "another seed, same client");
        assert!(a.iter().all(|ms| (900..=1100).contains(ms)), "±10%: {a:?}");
        assert!(a.windows(2).any(|w| w[0] != w[1]), "not jittered: {a:?}");
    }
}

#[cfg(test)]
mod size {
    use super::*;

    /// What a client's task holds while it waits: a regression here is memory per client.
    #[test]
    fn a_client_task_holds_only_its_own_technique() {
        let rec = Arc::new(Recorder::new(Technique::Sse, 1));
        let f = run_client(tests::spec(1, 1), rec, CancellationToken::new());
        let bytes = std::mem::size_of_val(&f);
        assert!(bytes < 2048, "run_client future: {bytes} B");
    }
}

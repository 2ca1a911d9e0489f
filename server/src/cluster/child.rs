//! A cluster child's side: the [`Link`] to the supervisor (this process's `Upstream`: requests with ids, answered out of
//! band) and [`serve`], which runs the ordinary server on the shared port while relaying the
//! supervisor's messages into the hub with their assigned seqs (after the seed: every topic's
//! newest seq, learnt before it listens). When the supervisor's socket
//! closes (it died), the child shuts down gracefully and exits with an error: no orphans.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use contract::stats::Stats;
use futures_util::future::BoxFuture;
use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::net::UnixStream;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::{ToChild, ToSupervisor, encode, framed};
use crate::config::ServeArgs;
use crate::error::ServerError;
use crate::error::{ClusterError, RelayError};
use crate::server;
use crate::state::Upstream;
use crate::state::{Shared, State};

/// How long a child waits for the supervisor to answer a request.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// An answer of the supervisor to one request of this child.
#[derive(Debug)]
enum Answer {
    Published(Result<u64, String>),
    Synced(u64),
    Stats(Box<Stats>),
    WasReset,
}

/// A child's connection to its supervisor.
#[derive(Debug)]
pub struct Link {
    tx: mpsc::UnboundedSender<Bytes>,
    next: AtomicU64,
    pending: Mutex<HashMap<u64, oneshot::Sender<Answer>>>,
    gone: AtomicBool,
}

impl Link {
    fn new(tx: mpsc::UnboundedSender<Bytes>) -> Link {
        Link {
            tx,
            next: AtomicU64::new(1),
            pending: Mutex::new(HashMap::new()),
            gone: AtomicBool::new(false),
        }
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, HashMap<u64, oneshot::Sender<Answer>>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn send(&self, msg: &ToSupervisor) -> Result<(), ClusterError> {
        self.tx
            .send(encode(msg))
            .map_err(|_| ClusterError::SupervisorGone)
    }

    async fn call(&self, make: impl FnOnce(u64) -> ToSupervisor) -> Result<Answer, ClusterError> {
        if self.gone.load(Relaxed) {
            return Err(ClusterError::SupervisorGone);
        }
        let req = self.next.fetch_add(1, Relaxed);
        let (tx, rx) = oneshot::channel();
        self.pending().insert(req, tx);
        if let Err(e) = self.send(&make(req)) {
            self.pending().remove(&req);
            return Err(e);
        }
        match tokio::time::timeout(ANSWER_TIMEOUT, rx).await {
            Ok(Ok(a)) => Ok(a),
            Ok(Err(_)) => Err(ClusterError::SupervisorGone),
            Err(_) => {
                self.pending().remove(&req);
                Err(ClusterError::Timeout)
            }
        }
    }

    fn answer(&self, req: u64, a: Answer) {
        if let Some(tx) = self.pending().remove(&req) {
            let _ = tx.send(a);
        }
    }

    /// The supervisor is gone: every waiting request fails.
    fn close(&self) {
        self.gone.store(true, Relaxed);
        self.pending().clear();
    }

    /// Publishes through the supervisor; returns the assigned seq once the supervisor has
    /// relayed the message (to this child too: it is in the hub when this returns).
    pub async fn publish(
        &self,
        topic: &str,
        event: Option<&str>,
        data: &str,
    ) -> Result<u64, RelayError> {
        let a = self
            .call(|req| ToSupervisor::Publish {
                req,
                topic: topic.to_string(),
                event: event.map(str::to_string),
                data: data.to_string(),
            })
            .await?;
        match a {
            Answer::Published(Ok(seq)) => Ok(seq),
            Answer::Published(Err(why)) => Err(RelayError::Refused(why)),
            _ => Err(ClusterError::SupervisorGone.into()),
        }
    }

    /// Waits until this process's hub holds every message of `topic` that the supervisor had
    /// sequenced when it read the request; returns that newest seq. (The supervisor answers on
    /// the same ordered socket it relays messages on, and the reader inserts each message
    /// before it reads the next frame.)
    pub async fn sync(&self, topic: &str) -> Result<u64, ClusterError> {
        let a = self
            .call(|req| ToSupervisor::Sync {
                req,
                topic: topic.to_string(),
            })
            .await?;
        match a {
            Answer::Synced(seq) => Ok(seq),
            _ => Err(ClusterError::SupervisorGone),
        }
    }

    /// The whole server's `/stats` document.
    pub async fn stats(&self) -> Result<Stats, ClusterError> {
        match self.call(|req| ToSupervisor::Stats { req }).await? {
            Answer::Stats(v) => Ok(*v),
            _ => Err(ClusterError::SupervisorGone),
        }
    }

    /// Resets the counters of every process.
    pub async fn reset(&self) -> Result<(), ClusterError> {
        match self.call(|req| ToSupervisor::Reset { req }).await? {
            Answer::WasReset => Ok(()),
            _ => Err(ClusterError::SupervisorGone),
        }
    }
}

impl Upstream for Link {
    fn publish<'a>(
        &'a self,
        topic: &'a str,
        event: Option<&'a str>,
        data: &'a str,
    ) -> BoxFuture<'a, Result<u64, RelayError>> {
        Link::publish(self, topic, event, data).boxed()
    }

    fn sync<'a>(&'a self, topic: &'a str) -> BoxFuture<'a, Result<u64, ClusterError>> {
        Link::sync(self, topic).boxed()
    }

    fn stats(&self) -> BoxFuture<'_, Result<Stats, ClusterError>> {
        Link::stats(self).boxed()
    }

    fn reset(&self) -> BoxFuture<'_, Result<(), ClusterError>> {
        Link::reset(self).boxed()
    }
}

/// Runs this process as a cluster child (`--cluster-child SOCKET`): connects to the
/// supervisor, listens on `--listen` with SO_REUSEPORT, says it is ready, then serves until the
/// supervisor says to shut down, SIGTERM arrives, or the supervisor's socket closes (an error).
/// SIGINT is ignored: on Ctrl-C in a terminal the supervisor gets it too and stops the children.
pub async fn serve(args: ServeArgs) -> Result<(), ServerError> {
    let path = args
        .cluster_child
        .clone()
        .ok_or_else(|| ServerError::Config("--cluster-child is missing".into()))?;
    let cluster_err = |e: std::io::Error| ServerError::Cluster(ClusterError::Io(e));
    let sock = UnixStream::connect(&path).await.map_err(cluster_err)?;
    let (mut sink, mut frames) = framed(sock, args.max_payload_bytes).split();
    let (tx, mut rx) = mpsc::unbounded_channel::<Bytes>();
    let link = Arc::new(Link::new(tx));
    let index = args.cluster_index;
    let listen = args.listen;
    let state = match args.broker {
        None => Shared::with_upstream(args, link.clone())?,
        // Publishes and catch-ups go to the broker; the supervisor gathers figures.
        Some(_) => Shared::over_broker(args, Some(link.clone()), CancellationToken::new()).await?,
    };
    // Learn every topic's newest seq before taking any client (see `ToChild::Seed`).
    seed(&state, &mut frames)
        .await
        .map_err(ServerError::Cluster)?;
    let listener = server::bind_with(listen, true)?;

    tokio::spawn(async move {
        while let Some(frame) = rx.recv().await {
            if sink.send(frame).await.is_err() {
                break;
            }
        }
    });
    link.send(&ToSupervisor::Ready {
        index,
        pid: std::process::id(),
    })
    .map_err(ServerError::Cluster)?;

    let shutdown = CancellationToken::new();
    let lost = Arc::new(AtomicBool::new(false));
    let reader = spawn_reader(frames, &state, &link, &shutdown, &lost, index);
    stop_on_sigterm(&shutdown)?;
    crate::lifeline::stop_when_parent_exits(shutdown.clone());
    server::run(listener, state, shutdown).await;
    reader.abort();
    if lost.load(Relaxed) {
        return Err(ServerError::Cluster(ClusterError::SupervisorGone));
    }
    Ok(())
}

/// Relays the supervisor's frames to this process until it says to shut down (then
/// `shutdown`) or its socket closes (then `lost` too: it died).
fn spawn_reader<S>(
    mut frames: S,
    state: &State,
    link: &Arc<Link>,
    shutdown: &CancellationToken,
    lost: &Arc<AtomicBool>,
    index: u32,
) -> tokio::task::JoinHandle<()>
where
    S: futures_util::Stream<Item = Result<bytes::BytesMut, std::io::Error>>
        + Unpin
        + Send
        + 'static,
{
    let (state, link, shutdown, lost) =
        (state.clone(), link.clone(), shutdown.clone(), lost.clone());
    tokio::spawn(async move {
        while let Some(frame) = frames.next().await {
            let Ok(frame) = frame else { break };
            match serde_json::from_slice::<ToChild>(&frame) {
                Ok(ToChild::Shutdown) => {
                    // The supervisor answers nothing more: fail waiting requests now.
                    link.close();
                    shutdown.cancel();
                    return;
                }
                Ok(msg) => relay(&state, &link, msg),
                Err(e) => eprintln!("pushbench serve (child {index}): {e}"),
            }
        }
        lost.store(true, Relaxed);
        link.close();
        shutdown.cancel();
    })
}

/// Cancels `shutdown` on SIGTERM. SIGINT is ignored: on Ctrl-C in a terminal the supervisor
/// gets it too and stops the children.
fn stop_on_sigterm(shutdown: &CancellationToken) -> Result<(), ServerError> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).map_err(ServerError::Signal)?;
    let mut int = signal(SignalKind::interrupt()).map_err(ServerError::Signal)?;
    let trigger = shutdown.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = int.recv() => continue,
                _ = term.recv() => break,
            }
        }
        trigger.cancel();
    });
    Ok(())
}

/// Reads the supervisor's first frames, the seed, into the hub: each topic with its newest seq
/// and nothing retained.
async fn seed<S>(state: &State, frames: &mut S) -> Result<(), ClusterError>
where
    S: futures_util::Stream<Item = Result<bytes::BytesMut, std::io::Error>> + Unpin,
{
    loop {
        let frame = tokio::time::timeout(ANSWER_TIMEOUT, frames.next())
            .await
            .map_err(|_| ClusterError::Timeout)?
            .ok_or(ClusterError::SupervisorGone)??;
        match serde_json::from_slice::<ToChild>(&frame)? {
            ToChild::Seed { topics, done } => {
                for (topic, seq) in topics {
                    if crate::hub::valid_name(&topic) {
                        state.hub.topic_unlimited(&topic).seed(seq);
                    }
                }
                if done {
                    return Ok(());
                }
            }
            _ => return Err(ClusterError::Unexpected("a frame other than the seed")),
        }
    }
}

/// Handles one frame from the supervisor (all but `Shutdown`).
fn relay(state: &State, link: &Link, msg: ToChild) {
    match msg {
        ToChild::Message {
            topic,
            seq,
            event,
            data,
        } => {
            let t = state.hub.topic_unlimited(&topic);
            if let Err(e) = t.insert(seq, event.as_deref(), &data) {
                eprintln!("pushbench serve: message {seq} of {topic}: {e}");
            }
        }
        ToChild::Published { req, result } => link.answer(req, Answer::Published(result)),
        ToChild::Synced { req, seq } => link.answer(req, Answer::Synced(seq)),
        ToChild::Stats { req, stats } => link.answer(req, Answer::Stats(stats)),
        ToChild::WasReset { req } => link.answer(req, Answer::WasReset),
        ToChild::Collect { collect } => {
            let _ = link.send(&ToSupervisor::Local {
                collect,
                stats: Box::new(state.local_stats()),
            });
        }
        ToChild::Reset { collect } => {
            state.reset_local();
            let _ = link.send(&ToSupervisor::ResetDone { collect });
        }
        ToChild::Seed { .. } | ToChild::Shutdown => {}
    }
}

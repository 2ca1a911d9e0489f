//! The supervisor of `pushbench serve --processes N`: reserves the port (bound with
//! SO_REUSEPORT, never listening, so it receives no connection), starts N children (this same
//! executable, `serve` with the same options plus `--cluster-child`; see `spawn`), waits until
//! every child listens, then prints `listening on http://ADDR:PORT`. From then on it assigns
//! every message's seq, relays it to every child, answers `/stats` with the sum of every
//! process, runs the internal publisher, and watches the children.
//!
//! A child that dies is named on stderr with its exit status and started again (its clients
//! reconnect to the port, which the others keep serving, and resume by cursor; the new one is
//! seeded with every topic's newest seq, so a resume that lands on it before it holds the
//! messages asked for is told of a gap). Past [`MAX_RESTARTS`] deaths within
//! [`RESTART_WINDOW`] something is wrong beyond one process: the supervisor stops every child
//! and fails. Ctrl-C / SIGTERM stop every child gracefully (streams end cleanly) and exit 0.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpSocket;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::sequencer::Sequencer;
use super::spawn::{Event, Proc, START_TIMEOUT, Sink, Spawner, Stream};
use super::{ToChild, ToSupervisor, encode};
use crate::config::ServeArgs;
use crate::error::ServerError;
use crate::publisher::{Schedule, payload};
use crate::state::check_args;

/// How long the children may take to shut down gracefully before they are killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// Most child deaths within [`RESTART_WINDOW`] that are restarted; one more stops the server.
pub const MAX_RESTARTS: usize = 5;
/// See [`MAX_RESTARTS`].
pub const RESTART_WINDOW: Duration = Duration::from_secs(60);

/// Runs `pushbench serve --processes N` with N > 1: the children are this executable run as
/// `serve ...` (so this is for the `pushbench` binary; embedders use [`supervise_with`]).
pub async fn supervise(args: ServeArgs) -> Result<(), ServerError> {
    let exe = std::env::current_exe().map_err(|e| ServerError::Cluster(e.into()))?;
    supervise_with(args, exe, vec!["serve".into()]).await
}

/// The children and what the loop knows of them.
struct Children {
    n: usize,
    procs: Vec<Option<Proc>>,
    /// Start tasks in flight (aborted on shutdown: that kills a child not yet connected).
    starting: Vec<Option<tokio::task::JoinHandle<()>>>,
    spawner: Arc<Spawner>,
    events_tx: mpsc::UnboundedSender<Event>,
}

impl Children {
    fn start(&mut self, i: usize) {
        self.starting[i] = Some(self.spawner.start(i));
    }

    /// Child `i` connected: it gets its seed, then the messages, and its frames are heard.
    fn connected(&mut self, sup: &mut Sequencer, i: usize, proc: Proc, sink: Sink, stream: Stream) {
        self.starting[i] = None;
        self.procs[i] = Some(proc);
        sup.attach(i, spawn_writer(sink));
        spawn_reader(i, stream, self.events_tx.clone());
    }
}

/// Like [`supervise`], with the children run as `exe PREFIX... OPTIONS...`.
pub async fn supervise_with(
    mut args: ServeArgs,
    exe: PathBuf,
    prefix: Vec<OsString>,
) -> Result<(), ServerError> {
    check_args(&args)?;
    if let Some(url) = &args.broker {
        // Asked once here, so that a broker that does not answer stops the server with one
        // line before any process starts (each child then connects on its own).
        crate::broker::Broker::connect(url, &args.broker_options()).await?;
    }
    // One certificate for every child: made (or checked) here, passed as --cert/--key.
    let _made = crate::tls::Made::prepare(&mut args)?;
    crate::tls::load(&args)?;
    let n = args.processes.max(1) as usize;
    let (reserved, addr) = reserve(args.listen)?;
    let (events_tx, mut events) = mpsc::unbounded_channel::<Event>();
    let spawner = Arc::new(Spawner {
        exe,
        prefix,
        args: args.clone(),
        addr,
        events: events_tx.clone(),
    });
    let mut kids = Children {
        n,
        procs: (0..n).map(|_| None).collect(),
        starting: (0..n).map(|_| None).collect(),
        spawner,
        events_tx,
    };
    let mut sup = Sequencer::new(n, args.max_topics as usize);
    for i in 0..n {
        kids.start(i);
    }
    if let Err(e) = wait_ready(&mut kids, &mut sup, &mut events).await {
        stop_all(&mut kids, &[], &mut events).await;
        return Err(e);
    }
    crate::tls::announce(addr, &args)?;

    let signals = CancellationToken::new();
    spawn_signal_watch(signals.clone())?;
    crate::lifeline::stop_when_parent_exits(signals.clone());
    let failure = serve_loop(&args, &mut kids, &mut sup, &mut events, &signals).await;
    if let Some(why) = &failure {
        eprintln!("pushbench serve: {why}; stopping the other processes");
    }
    let clean = stop_all(&mut kids, &sup.writers(), &mut events).await;
    drop(reserved);
    match failure {
        Some(why) => Err(ServerError::ChildFailed(why)),
        None if !clean.is_empty() => Err(ServerError::ChildFailed(clean.join("; "))),
        None => Ok(()),
    }
}

/// The supervisor's life after startup: publishes, relays, gathers, restarts. Returns why it
/// must stop everything, or `None` on a signal.
async fn serve_loop(
    args: &ServeArgs,
    kids: &mut Children,
    sup: &mut Sequencer,
    events: &mut mpsc::UnboundedReceiver<Event>,
    signals: &CancellationToken,
) -> Option<String> {
    let mut schedule = (args.publish_rate > 0.0).then(|| Schedule::new(args.publish_rate));
    let mut deaths = Deaths::default();
    loop {
        let ev = tokio::select! {
            _ = signals.cancelled() => return None,
            t = async { schedule.as_mut().expect("guarded").next().await }, if schedule.is_some() => {
                let seq = sup.latest(&args.publish_topic) + 1;
                let data = payload(seq, t, args.payload_bytes);
                if let Err(e) = sup.publish(&args.publish_topic, None, &data) {
                    eprintln!("pushbench serve: internal publisher: {e}");
                    schedule = None;
                }
                continue;
            }
            ev = events.recv() => ev?,
        };
        let (i, why) = match ev {
            Event::Frame(i, ToSupervisor::Ready { pid, .. }) => {
                // Only a restarted child says Ready here (startup ones are heard earlier).
                sup.restarted();
                eprintln!("pushbench serve: process {i} restarted (pid {pid})");
                continue;
            }
            Event::Frame(i, msg) => {
                sup.handle(i, msg);
                continue;
            }
            Event::Connected(i, proc, sink, stream) => {
                kids.connected(sup, i, proc, sink, stream);
                continue;
            }
            Event::Closed => continue,
            Event::Exited(i, pid, status) => {
                kids.procs[i] = None;
                (
                    i,
                    format!("process {i} (pid {pid}) exited unexpectedly: {status}"),
                )
            }
            Event::StartFailed(i, why) => {
                kids.starting[i] = None;
                (i, why)
            }
        };
        sup.detach(i);
        if !deaths.allow(Instant::now()) {
            return Some(format!(
                "{why}; {} deaths within {RESTART_WINDOW:?}, giving up",
                MAX_RESTARTS + 1
            ));
        }
        eprintln!("pushbench serve: {why}; restarting it");
        kids.start(i);
    }
}

/// The recent deaths of children, for the restart limit.
#[derive(Debug, Default)]
struct Deaths(VecDeque<Instant>);

impl Deaths {
    /// Records a death at `now`; false when it is one too many within the window.
    fn allow(&mut self, now: Instant) -> bool {
        self.0.push_back(now);
        while self
            .0
            .front()
            .is_some_and(|t| now.duration_since(*t) > RESTART_WINDOW)
        {
            self.0.pop_front();
        }
        self.0.len() <= MAX_RESTARTS
    }
}

/// Binds the port with SO_REUSEPORT without listening: learns the real port (for port 0) and
/// keeps it ours, while receiving no connection.
fn reserve(addr: SocketAddr) -> Result<(TcpSocket, SocketAddr), ServerError> {
    let err = |error| ServerError::Bind { addr, error };
    let s = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(err)?;
    s.set_reuseaddr(true).map_err(err)?;
    s.set_reuseport(true).map_err(err)?;
    s.bind(addr).map_err(err)?;
    let local = s.local_addr().map_err(err)?;
    Ok((s, local))
}

/// Waits until each of the children said `Ready`, or fails when one cannot start, exits
/// first, or the time runs out.
async fn wait_ready(
    kids: &mut Children,
    sup: &mut Sequencer,
    events: &mut mpsc::UnboundedReceiver<Event>,
) -> Result<(), ServerError> {
    let n = kids.n;
    let mut ready = vec![false; n];
    let deadline = tokio::time::sleep(START_TIMEOUT + Duration::from_secs(5));
    tokio::pin!(deadline);
    while ready.iter().any(|r| !r) {
        let ev = tokio::select! {
            _ = &mut deadline => {
                let count = ready.iter().filter(|r| **r).count();
                return Err(ServerError::ChildFailed(format!(
                    "only {count} of {n} processes were ready after {START_TIMEOUT:?}"
                )));
            }
            ev = events.recv() => ev,
        };
        match ev {
            Some(Event::Connected(i, proc, sink, stream)) => {
                kids.connected(sup, i, proc, sink, stream)
            }
            Some(Event::Frame(i, ToSupervisor::Ready { .. })) => ready[i] = true,
            Some(Event::Frame(i, msg)) => sup.handle(i, msg),
            Some(Event::StartFailed(i, why)) => {
                kids.starting[i] = None;
                return Err(ServerError::ChildFailed(why));
            }
            Some(Event::Exited(i, pid, status)) => {
                kids.procs[i] = None;
                return Err(ServerError::ChildFailed(format!(
                    "process {i} (pid {pid}) exited before it was ready: {status}"
                )));
            }
            Some(Event::Closed) => {}
            None => return Err(ServerError::ChildFailed("lost every process".into())),
        }
    }
    Ok(())
}

fn spawn_writer(mut sink: Sink) -> mpsc::UnboundedSender<Bytes> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Bytes>();
    tokio::spawn(async move {
        while let Some(f) = rx.recv().await {
            if sink.send(f).await.is_err() {
                break;
            }
        }
    });
    tx
}

fn spawn_reader(i: usize, mut stream: Stream, events: mpsc::UnboundedSender<Event>) {
    tokio::spawn(async move {
        while let Some(Ok(f)) = stream.next().await {
            match serde_json::from_slice::<ToSupervisor>(&f) {
                Ok(msg) => {
                    if events.send(Event::Frame(i, msg)).is_err() {
                        return;
                    }
                }
                Err(e) => eprintln!("pushbench serve: bad frame from process {i}: {e}"),
            }
        }
        let _ = events.send(Event::Closed);
    });
}

fn spawn_signal_watch(token: CancellationToken) -> Result<(), ServerError> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).map_err(ServerError::Signal)?;
    let mut int = signal(SignalKind::interrupt()).map_err(ServerError::Signal)?;
    tokio::spawn(async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        token.cancel();
    });
    Ok(())
}

/// Asks every live child to shut down, waits (bounded), kills what is left; children still
/// starting are killed at once. Returns what went wrong (children that failed or had to be
/// killed); empty when all exited cleanly.
async fn stop_all(
    kids: &mut Children,
    writers: &[mpsc::UnboundedSender<Bytes>],
    events: &mut mpsc::UnboundedReceiver<Event>,
) -> Vec<String> {
    for s in kids.starting.iter_mut().filter_map(Option::take) {
        s.abort();
    }
    let shutdown = encode(&ToChild::Shutdown);
    for w in writers {
        let _ = w.send(shutdown.clone());
    }
    if writers.is_empty() {
        // Not serving yet: no graceful path; stop them at once.
        for p in kids.procs.iter().flatten() {
            p.kill.cancel();
        }
    }
    let mut problems = Vec::new();
    let deadline = tokio::time::sleep(STOP_TIMEOUT);
    tokio::pin!(deadline);
    let mut killed = false;
    while kids.procs.iter().any(Option::is_some) {
        tokio::select! {
            _ = &mut deadline => {
                if killed {
                    break;
                }
                for (i, p) in kids.procs.iter().enumerate() {
                    if let Some(p) = p {
                        problems.push(format!("process {i} (pid {}) did not stop in time; killed", p.pid));
                        p.kill.cancel();
                    }
                }
                killed = true;
                // Reap them (kill is immediate), within a bound.
                deadline.as_mut().reset(tokio::time::Instant::now() + Duration::from_secs(5));
            }
            ev = events.recv() => match ev {
                Some(Event::Exited(i, pid, status)) => {
                    kids.procs[i] = None;
                    if !status.success() && !writers.is_empty() && !killed {
                        problems.push(format!("process {i} (pid {pid}) exited with {status}"));
                    }
                }
                // A child that connected just as we stopped: it never served; kill it.
                Some(Event::Connected(_, p, ..)) => p.kill.cancel(),
                Some(_) => {}
                None => break,
            }
        }
    }
    problems
}

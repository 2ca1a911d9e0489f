//! The supervisor of `pushbench serve --processes N`: reserves the port (bound with
//! SO_REUSEPORT, never listening, so it receives no connection), starts N children (this same
//! executable, `serve` with the same options plus `--cluster-child`), waits until every child
//! listens, then prints `listening on http://ADDR:PORT`. From then on it assigns every message's
//! seq, relays it to every child, answers `/stats` with the sum of every process, runs the
//! internal publisher, and watches the children: one that dies is named on stderr with its exit
//! status, the others are stopped, and the supervisor fails. Ctrl-C / SIGTERM stop every child
//! gracefully (streams end cleanly) and exit 0.

use std::ffi::OsString;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpSocket, UnixListener};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::sequencer::Sequencer;
use super::{ToChild, ToSupervisor, encode, framed};
use crate::publisher::{Schedule, payload};
use crate::{ServeArgs, ServerError, check_args};

/// How long the children may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the children may take to shut down gracefully before they are killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs `pushbench serve --processes N` with N > 1: the children are this executable run as
/// `serve ...` (so this is for the `pushbench` binary; embedders use [`supervise_with`]).
pub async fn supervise(args: ServeArgs) -> Result<(), ServerError> {
    let exe = std::env::current_exe().map_err(|e| ServerError::Cluster(e.into()))?;
    supervise_with(args, exe, vec!["serve".into()]).await
}

/// Like [`supervise`], with the children run as `exe PREFIX... OPTIONS...`.
pub async fn supervise_with(
    args: ServeArgs,
    exe: PathBuf,
    prefix: Vec<OsString>,
) -> Result<(), ServerError> {
    check_args(&args)?;
    let n = args.processes.max(1) as usize;
    let (reserved, addr) = reserve(args.listen)?;
    let sock_path = std::env::temp_dir().join(format!(
        "pushbench-cluster-{}-{}.sock",
        std::process::id(),
        unique_bits()
    ));
    let _ = std::fs::remove_file(&sock_path);
    let unix = UnixListener::bind(&sock_path).map_err(|e| ServerError::Cluster(e.into()))?;
    // Only this user may connect (the socket lives until every child said it is ready).
    use std::os::unix::fs::PermissionsExt as _;
    let _ = std::fs::set_permissions(&sock_path, std::fs::Permissions::from_mode(0o600));
    let (events_tx, mut events) = mpsc::unbounded_channel::<Event>();
    let mut procs = Vec::with_capacity(n);
    for i in 0..n {
        let mut cmd = tokio::process::Command::new(&exe);
        cmd.args(&prefix)
            .args(args.child_args(addr, &sock_path, i as u32))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        let child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                let _ = std::fs::remove_file(&sock_path);
                return Err(ServerError::Cluster(e.into()));
            }
        };
        procs.push(watch_child(i, child, events_tx.clone()));
    }
    let ready = wait_ready(&unix, n, args.max_payload_bytes, &mut events, &mut procs).await;
    let _ = std::fs::remove_file(&sock_path);
    drop(unix);
    let links = match ready {
        Ok(l) => l,
        Err(e) => {
            stop_all(&procs, &[], &mut events).await;
            return Err(e);
        }
    };
    let mut writers = Vec::with_capacity(n);
    for (i, (sink_half, stream_half)) in links.into_iter().enumerate() {
        writers.push(spawn_writer(sink_half));
        spawn_reader(i, stream_half, events_tx.clone());
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on http://{addr}").map_err(ServerError::Stdout)?;
    out.flush().map_err(ServerError::Stdout)?;
    drop(out);

    let signals = CancellationToken::new();
    spawn_signal_watch(signals.clone())?;
    let mut sup = Sequencer::new(writers, args.max_topics as usize);
    let mut schedule = (args.publish_rate > 0.0).then(|| Schedule::new(args.publish_rate));
    let failure = loop {
        tokio::select! {
            _ = signals.cancelled() => break None,
            t = async { schedule.as_mut().expect("guarded").next().await }, if schedule.is_some() => {
                let seq = sup.latest(&args.publish_topic) + 1;
                let data = payload(seq, t, args.payload_bytes);
                if let Err(e) = sup.publish(&args.publish_topic, None, &data) {
                    eprintln!("pushbench serve: internal publisher: {e}");
                    schedule = None;
                }
            }
            ev = events.recv() => match ev {
                Some(Event::Frame(i, msg)) => sup.handle(i, msg),
                Some(Event::Exited(i, pid, status)) => {
                    procs[i].exited = true;
                    break Some(format!("process {i} (pid {pid}) exited unexpectedly: {status}"));
                }
                Some(Event::Closed) => {}
                None => break None,
            }
        }
    };
    if let Some(why) = &failure {
        eprintln!("pushbench serve: {why}; stopping the other processes");
    }
    let clean = stop_all(&procs, sup.writers(), &mut events).await;
    drop(reserved);
    match failure {
        Some(why) => Err(ServerError::ChildFailed(why)),
        None if !clean.is_empty() => Err(ServerError::ChildFailed(clean.join("; "))),
        None => Ok(()),
    }
}

/// Bits that tell apart two supervisors with the same pid (the socket name).
fn unique_bits() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    t.as_nanos() as u64
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

/// What the supervisor's loop hears.
#[derive(Debug)]
enum Event {
    Frame(usize, ToSupervisor),
    Closed,
    Exited(usize, u32, ExitStatus),
}

/// A running child: its pid and the token that kills it.
#[derive(Debug)]
struct Proc {
    pid: u32,
    kill: CancellationToken,
    exited: bool,
}

fn watch_child(
    i: usize,
    mut child: tokio::process::Child,
    events: mpsc::UnboundedSender<Event>,
) -> Proc {
    let pid = child.id().unwrap_or(0);
    let kill = CancellationToken::new();
    let k = kill.clone();
    tokio::spawn(async move {
        let status = tokio::select! {
            s = child.wait() => s,
            _ = k.cancelled() => {
                let _ = child.start_kill();
                child.wait().await
            }
        };
        if let Ok(s) = status {
            let _ = events.send(Event::Exited(i, pid, s));
        }
    });
    Proc {
        pid,
        kill,
        exited: false,
    }
}

type Sink = futures_util::stream::SplitSink<
    tokio_util::codec::Framed<tokio::net::UnixStream, tokio_util::codec::LengthDelimitedCodec>,
    Bytes,
>;
type Stream = futures_util::stream::SplitStream<
    tokio_util::codec::Framed<tokio::net::UnixStream, tokio_util::codec::LengthDelimitedCodec>,
>;

/// Accepts the children's sockets until each of the `n` said `Ready` (in index order), or fails
/// when one exits first or the time runs out.
async fn wait_ready(
    unix: &UnixListener,
    n: usize,
    max_payload: usize,
    events: &mut mpsc::UnboundedReceiver<Event>,
    procs: &mut [Proc],
) -> Result<Vec<(Sink, Stream)>, ServerError> {
    let mut slots: Vec<Option<(Sink, Stream)>> = (0..n).map(|_| None).collect();
    let (ready_tx, mut ready_rx) = mpsc::unbounded_channel();
    let deadline = tokio::time::sleep(START_TIMEOUT);
    tokio::pin!(deadline);
    let mut count = 0;
    while count < n {
        tokio::select! {
            _ = &mut deadline => {
                return Err(ServerError::ChildFailed(format!(
                    "only {count} of {n} processes were ready after {START_TIMEOUT:?}"
                )));
            }
            a = unix.accept() => {
                let (s, _) = a.map_err(|e| ServerError::Cluster(e.into()))?;
                let tx = ready_tx.clone();
                tokio::spawn(async move {
                    let (sink, mut stream) = framed(s, max_payload).split();
                    let first = tokio::time::timeout(START_TIMEOUT, stream.next()).await;
                    if let Ok(Some(Ok(f))) = first {
                        if let Ok(ToSupervisor::Ready { index, .. }) = serde_json::from_slice(&f) {
                            let _ = tx.send((index as usize, sink, stream));
                        }
                    }
                });
            }
            Some((i, sink, stream)) = ready_rx.recv() => {
                if i < n && slots[i].is_none() {
                    slots[i] = Some((sink, stream));
                    count += 1;
                }
            }
            ev = events.recv() => {
                if let Some(Event::Exited(i, pid, status)) = ev {
                    procs[i].exited = true;
                    return Err(ServerError::ChildFailed(format!(
                        "process {i} (pid {pid}) exited before it was ready: {status}"
                    )));
                }
            }
        }
    }
    Ok(slots.into_iter().flatten().collect())
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

/// Asks every live child to shut down, waits (bounded), kills what is left. Returns what went
/// wrong (children that failed or had to be killed); empty when all exited cleanly.
async fn stop_all(
    procs: &[Proc],
    writers: &[mpsc::UnboundedSender<Bytes>],
    events: &mut mpsc::UnboundedReceiver<Event>,
) -> Vec<String> {
    let shutdown = encode(&ToChild::Shutdown);
    for w in writers {
        let _ = w.send(shutdown.clone());
    }
    if writers.is_empty() {
        // Not connected yet: no graceful path; stop them at once.
        for p in procs {
            p.kill.cancel();
        }
    }
    let mut left: Vec<bool> = procs.iter().map(|p| !p.exited).collect();
    let mut problems = Vec::new();
    let deadline = tokio::time::sleep(STOP_TIMEOUT);
    tokio::pin!(deadline);
    while left.iter().any(|l| *l) {
        tokio::select! {
            _ = &mut deadline => {
                for (i, p) in procs.iter().enumerate() {
                    if left[i] {
                        problems.push(format!("process {i} (pid {}) did not stop in time; killed", p.pid));
                        p.kill.cancel();
                    }
                }
                // Reap them (kill is immediate).
                let reap = async {
                    while left.iter().any(|l| *l) {
                        match events.recv().await {
                            Some(Event::Exited(i, ..)) => left[i] = false,
                            Some(_) => {}
                            None => break,
                        }
                    }
                };
                let _ = tokio::time::timeout(Duration::from_secs(5), reap).await;
                break;
            }
            ev = events.recv() => match ev {
                Some(Event::Exited(i, pid, status)) => {
                    left[i] = false;
                    if !status.success() && !writers.is_empty() {
                        problems.push(format!("process {i} (pid {pid}) exited with {status}"));
                    }
                }
                Some(_) => {}
                None => break,
            }
        }
    }
    problems
}

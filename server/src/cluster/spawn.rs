//! Starting one server process of a cluster: a fresh Unix socket for it alone, the process
//! (this executable run as `serve ... --cluster-child SOCKET`, tied to the supervisor: see
//! `lifeline`), and its connection. The supervisor's loop hears the outcome as an [`Event`],
//! so starting one process (at startup, or to replace one that died) never holds it up.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::net::UnixListener;
use tokio::sync::mpsc;
use tokio_util::codec::{Framed, LengthDelimitedCodec};
use tokio_util::sync::CancellationToken;

use super::{ToSupervisor, framed};
use crate::config::ServeArgs;

/// How long a process may take from its start to its connection to the supervisor.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The supervisor's half of a child's socket.
pub type Sink =
    futures_util::stream::SplitSink<Framed<tokio::net::UnixStream, LengthDelimitedCodec>, Bytes>;
/// The child's frames.
pub type Stream =
    futures_util::stream::SplitStream<Framed<tokio::net::UnixStream, LengthDelimitedCodec>>;

/// What the supervisor's loop hears about its processes.
#[derive(Debug)]
pub enum Event {
    /// A frame from process `i`.
    Frame(usize, ToSupervisor),
    /// Process `i`'s socket closed.
    Closed,
    /// Process `i` (pid) exited, with this status.
    Exited(usize, u32, ExitStatus),
    /// Process `i` started and connected; it waits for its seed (see `ToChild::Seed`).
    Connected(usize, Proc, Sink, Stream),
    /// Process `i` could not be started or did not connect: why.
    StartFailed(usize, String),
}

/// A running, connected child: its pid and the token that kills it.
#[derive(Debug)]
pub struct Proc {
    pub pid: u32,
    pub kill: CancellationToken,
    /// The child's stdin: it stops when this closes (the supervisor is gone).
    _lifeline: Option<tokio::process::ChildStdin>,
}

/// Starts child processes of one cluster.
#[derive(Debug)]
pub struct Spawner {
    pub exe: PathBuf,
    pub prefix: Vec<OsString>,
    pub args: ServeArgs,
    pub addr: SocketAddr,
    pub events: mpsc::UnboundedSender<Event>,
}

impl Spawner {
    /// Starts process `i` in a task; its outcome arrives as [`Event::Connected`] or
    /// [`Event::StartFailed`]. Aborting the task kills a process not yet connected.
    pub fn start(self: &Arc<Self>, i: usize) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            let ev = match me.start_one(i).await {
                Ok((proc, sink, stream)) => Event::Connected(i, proc, sink, stream),
                Err(why) => Event::StartFailed(i, why),
            };
            let _ = me.events.send(ev);
        })
    }

    async fn start_one(&self, i: usize) -> Result<(Proc, Sink, Stream), String> {
        let path = std::env::temp_dir().join(format!(
            "pushbench-cluster-{}-{}-{i}.sock",
            std::process::id(),
            unique_bits()
        ));
        let _ = std::fs::remove_file(&path);
        let unix = UnixListener::bind(&path)
            .map_err(|e| format!("cannot listen on {}: {e}", path.display()))?;
        // Only this user may connect (the socket lives until the child connected).
        use std::os::unix::fs::PermissionsExt as _;
        let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
        let r = self.spawn_and_accept(&unix, &path, i).await;
        let _ = std::fs::remove_file(&path);
        r
    }

    async fn spawn_and_accept(
        &self,
        unix: &UnixListener,
        path: &std::path::Path,
        i: usize,
    ) -> Result<(Proc, Sink, Stream), String> {
        let mut cmd = tokio::process::Command::new(&self.exe);
        cmd.args(&self.prefix)
            .args(self.args.child_args(self.addr, path, i as u32))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        crate::lifeline::tie(&mut cmd);
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.exe.display()))?;
        let pid = child.id().unwrap_or(0);
        // Taken now: `Child::wait` closes a stdin still in the `Child`, and that would stop it.
        let lifeline = child.stdin.take();
        let accepted = tokio::select! {
            a = unix.accept() => a.map_err(|e| format!("process {i} (pid {pid}): {e}")),
            s = child.wait() => Err(match s {
                Ok(s) => format!("process {i} (pid {pid}) exited before it was ready: {s}"),
                Err(e) => format!("process {i} (pid {pid}) vanished: {e}"),
            }),
            _ = tokio::time::sleep(START_TIMEOUT) => Err(format!(
                "process {i} (pid {pid}) did not connect within {START_TIMEOUT:?}"
            )),
        };
        let (stream, _) = accepted?;
        let (sink, stream) = framed(stream, self.args.max_payload_bytes).split();
        Ok((watch(i, child, lifeline, self.events.clone()), sink, stream))
    }
}

/// Bits that tell apart two sockets of supervisors with the same pid.
fn unique_bits() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    t.as_nanos() as u64
}

/// Watches `child` (process `i`, whose stdin is `lifeline`): sends [`Event::Exited`] when it
/// exits, kills it when the returned [`Proc`]'s token is cancelled.
fn watch(
    i: usize,
    mut child: tokio::process::Child,
    lifeline: Option<tokio::process::ChildStdin>,
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
        _lifeline: lifeline,
    }
}

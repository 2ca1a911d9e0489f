//! The server as a child process (`pushbench serve --listen 127.0.0.1:0 ...`), so its CPU,
//! memory and descriptors are its own: started, waited for, watched for an early death, and
//! stopped with SIGTERM (then SIGKILL) at the end, on error and on Ctrl-C; tied to this
//! process (`server::lifeline`), so it also stops if this process is killed. It can also be
//! killed outright and started again on the same address ([`ChildServer::restart`], the
//! `restart-server` fault): that death is not reported as one, a death of the new process is.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{oneshot, watch};

/// Why the child server could not be started.
#[derive(Debug, thiserror::Error)]
pub enum ChildError {
    #[error("cannot start the server `{exe}`: {error}")]
    Spawn { exe: PathBuf, error: std::io::Error },
    #[error("the server did not say where it listens within {0:?}{1}")]
    NoAddress(Duration, String),
    #[error("the server printed `{0}` instead of `listening on http://ADDR:PORT`")]
    BadFirstLine(String),
    #[error("the killed server (pid {0}) did not exit within {1:?}")]
    NotKilled(u32, Duration),
}

/// Options passed on to `pushbench serve`.
#[derive(Debug, Clone)]
pub struct ChildOptions {
    pub exe: PathBuf,
    pub retention: u64,
    pub long_poll_timeout: Duration,
    /// The server's heartbeat interval: well inside the clients' read timeout, so an idle
    /// stream, SSE or WebSocket client is never timed out between messages.
    pub heartbeat: Duration,
    /// Connections per server process.
    pub max_connections: u64,
    /// Server processes (`--processes N`; 1: a single process).
    pub processes: u32,
    /// How long to wait for the first line.
    pub start_timeout: Duration,
    /// `--tls` with this certificate and key (PEM files); None: cleartext.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// `--broker URL --broker-namespace NAME` (None: no broker).
    pub broker: Option<(String, String)>,
}

/// The heartbeat for a given client read timeout: a third of it (a heartbeat is sent only
/// after a whole quiet interval, so the longest silence a client sees is under two intervals),
/// between 50 ms and the server's 15 s default.
pub fn heartbeat_for(read_timeout: Duration) -> Duration {
    (read_timeout / 3).clamp(Duration::from_millis(50), Duration::from_secs(15))
}

/// A running child server.
#[derive(Debug)]
pub struct ChildServer {
    pub pid: u32,
    pub addr: SocketAddr,
    /// The command line it was started with.
    pub command: Vec<String>,
    /// Shared by every process started in turn: the supervisor of the current one sends on it.
    exit_tx: Arc<watch::Sender<Option<String>>>,
    exited: watch::Receiver<Option<String>>,
    stop: Option<oneshot::Sender<Stop>>,
    task: Option<tokio::task::JoinHandle<()>>,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
    /// The server's stdin: it stops when this closes (this process is gone).
    _lifeline: Option<tokio::process::ChildStdin>,
    opts: ChildOptions,
}

const TAIL_LINES: usize = 20;

/// How the supervisor ends its process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// SIGTERM, then SIGKILL after 3 s: the end of the run.
    Term,
    /// SIGKILL to the process and its descendants at once: a crash, for a restart.
    Kill,
}

/// How long a killed server's processes are given to be gone.
const KILL_WAIT: Duration = Duration::from_secs(5);
/// Attempts to bind the address again when it is still in use, and the pause between them.
const BIND_ATTEMPTS: u32 = 20;
const BIND_PAUSE: Duration = Duration::from_millis(100);

/// One started server process.
struct Started {
    pid: u32,
    addr: SocketAddr,
    args: Vec<String>,
    stop: oneshot::Sender<Stop>,
    task: tokio::task::JoinHandle<()>,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
    lifeline: Option<tokio::process::ChildStdin>,
}

impl ChildServer {
    /// Starts the server and waits for its `listening on http://ADDR:PORT` line.
    pub async fn start(opts: &ChildOptions) -> Result<ChildServer, ChildError> {
        let (exit_tx, exited) = watch::channel(None);
        let exit_tx = Arc::new(exit_tx);
        let p = spawn(opts, "127.0.0.1:0", exit_tx.clone()).await?;
        let mut command = vec![opts.exe.display().to_string()];
        command.extend(p.args);
        Ok(ChildServer {
            pid: p.pid,
            addr: p.addr,
            command,
            exit_tx,
            exited,
            stop: Some(p.stop),
            task: Some(p.task),
            stderr_tail: p.stderr_tail,
            _lifeline: p.lifeline,
            opts: opts.clone(),
        })
    }

    /// Kills the server with SIGKILL (its worker processes too: a crash, no graceful close),
    /// waits until they are gone, and starts it again with the same options on the same
    /// address (retrying for a while if the address is still in use), waiting until it
    /// listens. The kill is not reported by [`Self::exited`]; a death of the new process is.
    /// Err: the old one would not die or the new one could not start (nothing runs then).
    pub async fn restart(&mut self) -> Result<(), ChildError> {
        let old = self.pid;
        let tree = crate::sut::procfs::process_tree(old);
        if let Some(s) = self.stop.take() {
            let _ = s.send(Stop::Kill);
        }
        if let Some(t) = self.task.take() {
            if tokio::time::timeout(KILL_WAIT, t).await.is_err() {
                return Err(ChildError::NotKilled(old, KILL_WAIT));
            }
        }
        // Its worker processes (`--processes N`) were killed too; wait until they are reaped,
        // so none of them still holds the port (or takes a connection) when the new one binds.
        let gone_by = tokio::time::Instant::now() + KILL_WAIT;
        while tree.iter().skip(1).any(|p| alive(*p)) {
            if tokio::time::Instant::now() >= gone_by {
                return Err(ChildError::NotKilled(old, KILL_WAIT));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let listen = self.addr.to_string();
        let mut attempt = 1;
        let p = loop {
            match spawn(&self.opts, &listen, self.exit_tx.clone()).await {
                Err(ChildError::NoAddress(_, said))
                    if attempt < BIND_ATTEMPTS && said.contains("in use") =>
                {
                    attempt += 1;
                    tokio::time::sleep(BIND_PAUSE).await;
                }
                other => break other?,
            }
        };
        self.pid = p.pid;
        self.stop = Some(p.stop);
        self.task = Some(p.task);
        self.stderr_tail = p.stderr_tail;
        self._lifeline = p.lifeline;
        Ok(())
    }

    /// `Some(why)` once the server has exited on its own.
    pub fn exited(&self) -> Option<String> {
        self.exited.borrow().clone().map(|why| {
            let t = self.stderr_tail.lock().unwrap_or_else(|e| e.into_inner());
            match t.back() {
                Some(last) => format!("{why} (last words: {last})"),
                None => why,
            }
        })
    }

    /// A receiver that turns `Some(why)` when the server exits on its own.
    pub fn exited_watch(&self) -> watch::Receiver<Option<String>> {
        self.exited.clone()
    }

    /// Stops the server: SIGTERM, then SIGKILL if it has not exited within 3 s.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(Stop::Term);
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

/// Starts one server process listening on `listen` and waits for its first line; its
/// supervisor reports its death on `exit_tx`.
async fn spawn(
    opts: &ChildOptions,
    listen: &str,
    exit_tx: Arc<watch::Sender<Option<String>>>,
) -> Result<Started, ChildError> {
    let args = serve_args(opts, listen);
    let mut cmd = Command::new(&opts.exe);
    cmd.args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    // The server stops when this process dies, however it dies (kill -9 included).
    server::lifeline::tie(&mut cmd);
    let mut child = cmd.spawn().map_err(|source| ChildError::Spawn {
        exe: opts.exe.clone(),
        error: source,
    })?;
    let pid = child.id().unwrap_or(0);
    let lifeline = child.stdin.take();
    let stderr_tail = Arc::new(Mutex::new(VecDeque::new()));
    let tail_task = child
        .stderr
        .take()
        .map(|err| tokio::spawn(keep_tail(err, stderr_tail.clone())));
    let Some(out) = child.stdout.take() else {
        let _ = child.start_kill();
        return Err(ChildError::BadFirstLine(String::new()));
    };
    let mut lines = BufReader::new(out).lines();
    let first = tokio::time::timeout(opts.start_timeout, lines.next_line()).await;
    let Ok(Ok(Some(line))) = first else {
        let _ = child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(2), child.wait()).await;
        // Let the stderr reader take the last words (bounded).
        if let Some(t) = tail_task {
            let _ = tokio::time::timeout(Duration::from_millis(500), t).await;
        }
        return Err(ChildError::NoAddress(
            opts.start_timeout,
            tail_text(&stderr_tail),
        ));
    };
    let Some(addr) = listening_addr(&line) else {
        let _ = child.start_kill();
        return Err(ChildError::BadFirstLine(line));
    };
    // Keep reading stdout so the pipe never fills.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let (stop, stop_rx) = oneshot::channel();
    let task = tokio::spawn(supervise(child, pid, exit_tx, stop_rx));
    Ok(Started {
        pid,
        addr,
        args,
        stop,
        task,
        stderr_tail,
        lifeline,
    })
}

/// Whether process `pid` still exists (and is not a zombie).
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name in parentheses: `pid (comm) S ...`.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// The `serve` command line for `opts`, listening on `listen`.
fn serve_args(opts: &ChildOptions, listen: &str) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "serve".into(),
        "--listen".into(),
        listen.into(),
        "--retention".into(),
        opts.retention.to_string(),
        "--long-poll-timeout".into(),
        format!("{}ms", opts.long_poll_timeout.as_millis()),
        "--max-connections".into(),
        opts.max_connections.to_string(),
        "--heartbeat".into(),
        format!("{}ms", opts.heartbeat.as_millis().max(1)),
    ];
    if opts.processes > 1 {
        args.extend(["--processes".into(), opts.processes.to_string()]);
    }
    if let Some((url, namespace)) = &opts.broker {
        args.extend(["--broker".into(), url.clone()]);
        args.extend(["--broker-namespace".into(), namespace.clone()]);
    }
    if let Some((cert, key)) = &opts.tls {
        args.extend([
            "--tls".into(),
            "--cert".into(),
            cert.display().to_string(),
            "--key".into(),
            key.display().to_string(),
        ]);
    }
    args
}

/// Keeps the last [`TAIL_LINES`] lines the server writes to stderr, for error messages.
async fn keep_tail(err: tokio::process::ChildStderr, tail: Arc<Mutex<VecDeque<String>>>) {
    let mut lines = BufReader::new(err).lines();
    while let Ok(Some(l)) = lines.next_line().await {
        let mut t = tail.lock().unwrap_or_else(|e| e.into_inner());
        if t.len() == TAIL_LINES {
            t.pop_front();
        }
        t.push_back(l);
    }
}

/// `; it said: A / B` from the kept stderr lines, or nothing when there are none.
fn tail_text(t: &Mutex<VecDeque<String>>) -> String {
    let t = t.lock().unwrap_or_else(|e| e.into_inner());
    if t.is_empty() {
        String::new()
    } else {
        format!(
            "; it said: {}",
            t.iter().cloned().collect::<Vec<_>>().join(" / ")
        )
    }
}

/// The address in the server's first line, `listening on http://ADDR:PORT`.
fn listening_addr(line: &str) -> Option<SocketAddr> {
    let rest = line.trim().strip_prefix("listening on ")?;
    rest.strip_prefix("http://")
        .or_else(|| rest.strip_prefix("https://"))
        .and_then(|a| a.trim_end_matches('/').parse::<SocketAddr>().ok())
}

async fn supervise(
    mut child: Child,
    pid: u32,
    exit_tx: Arc<watch::Sender<Option<String>>>,
    stop_rx: oneshot::Receiver<Stop>,
) {
    tokio::select! {
        status = child.wait() => {
            let why = match status {
                Ok(s) => format!("the server exited early ({s})"),
                Err(e) => format!("the server vanished: {e}"),
            };
            let _ = exit_tx.send(Some(why));
        }
        how = stop_rx => {
            if how == Ok(Stop::Kill) {
                // The whole tree at once, as a crash would take it.
                for p in crate::sut::procfs::process_tree(pid).into_iter().rev() {
                    signal(p, rustix::process::Signal::KILL);
                }
                let _ = tokio::time::timeout(KILL_WAIT, child.wait()).await;
                return;
            }
            terminate(pid);
            if tokio::time::timeout(Duration::from_secs(3), child.wait()).await.is_err() {
                let _ = child.start_kill();
                let _ = child.wait().await;
            }
        }
    }
}

/// `--max-connections` per server process for `clients` over `processes`: room for an uneven
/// SO_REUSEPORT spread, at least the server's default, under the 20,000-descriptor limit.
pub fn max_connections(clients: u32, processes: u32) -> u64 {
    let per = u64::from(clients.div_ceil(processes.max(1)));
    (per + per / 5 + 1000).clamp(16_000, 19_700)
}

/// Sends SIGTERM to `pid` (our own child, not reaped yet: its supervisor task is the only
/// one that waits for it).
pub fn terminate(pid: u32) {
    signal(pid, rustix::process::Signal::TERM);
}

/// Sends `sig` to `pid`, if it is a valid process id.
fn signal(pid: u32, sig: rustix::process::Signal) {
    use rustix::process::{Pid, kill_process};
    if let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) {
        let _ = kill_process(pid, sig);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    #[test]
    fn terminate_sends_sigterm() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        terminate(child.id());
        let status = child.wait().unwrap();
        assert_eq!(status.signal(), Some(15), "{status}");
    }
}

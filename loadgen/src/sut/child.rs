//! The server as a child process (`pushbench serve --listen 127.0.0.1:0 ...`), so its CPU,
//! memory and descriptors are its own: started, waited for, watched for an early death, and
//! stopped with SIGTERM (then SIGKILL) at the end, on error and on Ctrl-C; tied to this
//! process (`server::lifeline`), so it also stops if this process is killed.

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
    exited: watch::Receiver<Option<String>>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
    /// The server's stdin: it stops when this closes (this process is gone).
    _lifeline: Option<tokio::process::ChildStdin>,
}

const TAIL_LINES: usize = 20;

impl ChildServer {
    /// Starts the server and waits for its `listening on http://ADDR:PORT` line.
    pub async fn start(opts: &ChildOptions) -> Result<ChildServer, ChildError> {
        let args = serve_args(opts);
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
        if let Some(err) = child.stderr.take() {
            tokio::spawn(keep_tail(err, stderr_tail.clone()));
        }
        let out = child.stdout.take().expect("stdout is piped");
        let mut lines = BufReader::new(out).lines();
        let first = tokio::time::timeout(opts.start_timeout, lines.next_line()).await;
        let Ok(Ok(Some(line))) = first else {
            let _ = child.start_kill();
            let _ = tokio::time::timeout(Duration::from_secs(2), child.wait()).await;
            tokio::time::sleep(Duration::from_millis(50)).await;
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
        let (exit_tx, exited) = watch::channel(None);
        let (stop_tx, stop_rx) = oneshot::channel();
        let task = tokio::spawn(supervise(child, pid, exit_tx, stop_rx));
        let mut command = vec![opts.exe.display().to_string()];
        command.extend(args);
        Ok(ChildServer {
            pid,
            addr,
            command,
            exited,
            stop: Some(stop_tx),
            task: Some(task),
            stderr_tail,
            _lifeline: lifeline,
        })
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
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

/// The `serve` command line for `opts`.
fn serve_args(opts: &ChildOptions) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "serve".into(),
        "--listen".into(),
        "127.0.0.1:0".into(),
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
    line.trim()
        .strip_prefix("listening on http://")
        .and_then(|a| a.trim_end_matches('/').parse::<SocketAddr>().ok())
}

async fn supervise(
    mut child: Child,
    pid: u32,
    exit_tx: watch::Sender<Option<String>>,
    stop_rx: oneshot::Receiver<()>,
) {
    tokio::select! {
        status = child.wait() => {
            let why = match status {
                Ok(s) => format!("the server exited early ({s})"),
                Err(e) => format!("the server vanished: {e}"),
            };
            let _ = exit_tx.send(Some(why));
        }
        _ = stop_rx => {
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
    use rustix::process::{Pid, Signal, kill_process};
    if let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) {
        let _ = kill_process(pid, Signal::TERM);
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

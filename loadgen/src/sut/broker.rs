//! The real broker of `pushbench run --broker redis|nats`, started before the child server
//! and stopped after it: a [`server::broker::process::BrokerProcess`] with its data in a
//! temporary directory (removed when it stops), measured apart from the server (it is not a
//! descendant of the server, so the server's CPU never includes it).
//!
//! The broker process is owned by a thread of its own that lives as long as the run: the
//! broker is started with `--pdeathsig` on the thread that starts it, so it must not be a
//! short-lived one (a blocking-pool thread would take the broker with it when it retires).
//! A restart (the `restart-broker` fault) is done by the same thread; what the old process
//! had counted (CPU seconds, messages) is kept, so [`ChildBroker::sample`] is cumulative over
//! every broker process of the run. Its peak resident memory is sampled every 100 ms.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use server::broker::process::{BrokerProcess, ProcessError};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use super::broker_stats::{self, Counters};
use super::procfs;
use crate::config::BrokerKind;

/// Why the broker could not be started or restarted.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("--broker: {0}")]
    Process(#[from] ProcessError),
    #[error("--broker: the broker's thread is gone")]
    Gone,
}

/// The broker's cumulative figures at one moment (over every process of the run).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BrokerSample {
    pub cpu_s: Option<f64>,
    pub counters: Option<Counters>,
}

enum Cmd {
    Restart(oneshot::Sender<Result<u32, ProcessError>>),
}

/// A running child broker.
#[derive(Debug)]
pub struct ChildBroker {
    pub kind: BrokerKind,
    /// `redis://127.0.0.1:PORT` or `nats://127.0.0.1:PORT`.
    pub url: String,
    port: u16,
    monitor_port: Option<u16>,
    /// The current process's pid (0: none).
    pid: Arc<AtomicU32>,
    /// What the processes before the current one counted.
    base: Mutex<BrokerSample>,
    /// Peak RSS since [`ChildBroker::mark_peak`].
    peak: Arc<AtomicU64>,
    tx: Mutex<Option<mpsc::Sender<Cmd>>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    stop_sampling: CancellationToken,
    dir: PathBuf,
}

impl ChildBroker {
    /// Starts the broker (data in a fresh temporary directory) and waits until it accepts
    /// connections.
    pub async fn start(kind: BrokerKind, run_id: &str) -> Result<ChildBroker, BrokerError> {
        let dir =
            std::env::temp_dir().join(format!("pushbench-broker-{}-{run_id}", std::process::id()));
        let (tx, rx) = mpsc::channel::<Cmd>();
        let (ready_tx, ready) = oneshot::channel();
        let pid = Arc::new(AtomicU32::new(0));
        let (thread_pid, thread_dir) = (pid.clone(), dir.clone());
        let thread = std::thread::Builder::new()
            .name("pushbench-broker".into())
            .spawn(move || own(kind, thread_dir, rx, ready_tx, thread_pid))
            .map_err(|e| ProcessError::Spawn(kind.program().0, e))?;
        let started = ready.await.map_err(|_| BrokerError::Gone);
        let (url, monitor_port) = match started {
            Ok(Ok(x)) => x,
            Ok(Err(e)) | Err(e) => {
                drop(tx);
                let _ = tokio::task::spawn_blocking(move || thread.join()).await;
                let _ = std::fs::remove_dir_all(&dir);
                return Err(e);
            }
        };
        let b = ChildBroker {
            kind,
            port: url.port,
            url: url.url(),
            monitor_port,
            pid,
            base: Mutex::new(BrokerSample::default()),
            peak: Arc::new(AtomicU64::new(0)),
            tx: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
            stop_sampling: CancellationToken::new(),
            dir,
        };
        tokio::spawn(sample_peak(
            b.pid.clone(),
            b.peak.clone(),
            b.stop_sampling.clone(),
        ));
        Ok(b)
    }

    /// The current broker process's pid (0: none).
    pub fn pid(&self) -> u32 {
        self.pid.load(Relaxed)
    }

    /// The current process's own figures (since it started).
    async fn current(&self) -> BrokerSample {
        let pid = self.pid();
        let cpu_s = (pid != 0)
            .then(|| procfs::sample(&pid.to_string()))
            .flatten()
            .map(|p| p.cpu_s);
        let counters = broker_stats::read(self.kind, self.port, self.monitor_port).await;
        BrokerSample { cpu_s, counters }
    }

    /// CPU seconds and messages counted by every broker process of the run so far.
    pub async fn sample(&self) -> BrokerSample {
        let now = self.current().await;
        let base = *self.base.lock().unwrap_or_else(|e| e.into_inner());
        add(base, now)
    }

    /// Starts the peak RSS afresh (at the window's start) and returns the current RSS.
    pub fn mark_peak(&self) -> Option<u64> {
        let rss = procfs::sample(&self.pid().to_string()).map(|p| p.rss_bytes);
        self.peak.store(rss.unwrap_or(0), Relaxed);
        rss
    }

    /// The peak RSS since [`Self::mark_peak`] (None: never sampled).
    pub fn peak(&self) -> Option<u64> {
        let now = procfs::sample(&self.pid().to_string()).map(|p| p.rss_bytes);
        let p = self
            .peak
            .fetch_max(now.unwrap_or(0), Relaxed)
            .max(now.unwrap_or(0));
        (p > 0).then_some(p)
    }

    /// Stops the broker gracefully (its data is written out) and starts it again on the same
    /// port with the same data; what the old process counted is kept. Returns (old, new) pid.
    pub async fn restart(&self) -> Result<(u32, u32), BrokerError> {
        let old = self.pid();
        let before = self.current().await;
        let (reply, answer) = oneshot::channel();
        {
            let tx = self.tx.lock().unwrap_or_else(|e| e.into_inner());
            let tx = tx.as_ref().ok_or(BrokerError::Gone)?;
            tx.send(Cmd::Restart(reply))
                .map_err(|_| BrokerError::Gone)?;
        }
        {
            let mut base = self.base.lock().unwrap_or_else(|e| e.into_inner());
            *base = add(*base, before);
        }
        let new = answer.await.map_err(|_| BrokerError::Gone)??;
        Ok((old, new))
    }

    /// Stops the broker (SIGTERM, then SIGKILL after a few seconds) and removes its data.
    pub async fn stop(&self) {
        self.stop_sampling.cancel();
        let tx = self.tx.lock().unwrap_or_else(|e| e.into_inner()).take();
        drop(tx);
        let thread = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(t) = thread {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for ChildBroker {
    fn drop(&mut self) {
        self.stop_sampling.cancel();
        let tx = self.tx.get_mut().unwrap_or_else(|e| e.into_inner()).take();
        drop(tx);
        if let Some(t) = self
            .thread
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            let _ = t.join();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

type Ready = Result<(server::broker::BrokerUrl, Option<u16>), BrokerError>;

/// The broker's thread: starts it, restarts it when asked, stops it when the run lets go.
fn own(
    kind: BrokerKind,
    dir: PathBuf,
    rx: mpsc::Receiver<Cmd>,
    ready: oneshot::Sender<Ready>,
    pid: Arc<AtomicU32>,
) {
    let mut p = match BrokerProcess::start(kind, &dir) {
        Ok(p) => p,
        Err(e) => {
            let _ = ready.send(Err(e.into()));
            return;
        }
    };
    pid.store(p.pid().unwrap_or(0), Relaxed);
    if ready.send(Ok((p.url(), p.monitor_port()))).is_err() {
        return;
    }
    while let Ok(cmd) = rx.recv() {
        match cmd {
            Cmd::Restart(reply) => {
                let r = p.restart().map(|()| p.pid().unwrap_or(0));
                pid.store(p.pid().unwrap_or(0), Relaxed);
                let _ = reply.send(r);
            }
        }
    }
    p.stop();
    pid.store(0, Relaxed);
}

/// Keeps the highest RSS of the current broker process, every 100 ms.
async fn sample_peak(pid: Arc<AtomicU32>, peak: Arc<AtomicU64>, stop: CancellationToken) {
    loop {
        let p = pid.load(Relaxed);
        if p != 0
            && let Some(s) = procfs::sample(&p.to_string())
        {
            peak.fetch_max(s.rss_bytes, Relaxed);
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
    }
}

/// Two samples added (an unknown part makes the sum unknown only if both are unknown).
fn add(a: BrokerSample, b: BrokerSample) -> BrokerSample {
    let cpu_s = match (a.cpu_s, b.cpu_s) {
        (None, None) => None,
        (x, y) => Some(x.unwrap_or(0.0) + y.unwrap_or(0.0)),
    };
    let counters = match (a.counters, b.counters) {
        (None, None) => None,
        (x, y) => {
            let (x, y) = (x.unwrap_or_default(), y.unwrap_or_default());
            Some(Counters {
                in_msgs: x.in_msgs + y.in_msgs,
                out_msgs: x
                    .out_msgs
                    .zip(y.out_msgs)
                    .map(|(a, b)| a + b)
                    .or(y.out_msgs),
            })
        }
    };
    BrokerSample { cpu_s, counters }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real broker: started, counted, restarted (new pid, figures kept), stopped and gone.
    async fn lifecycle(kind: BrokerKind) {
        if !BrokerProcess::available(kind) {
            println!(
                "SKIPPED broker lifecycle: {} is not installed",
                kind.program().0
            );
            return;
        }
        let b = ChildBroker::start(kind, "test").await.unwrap();
        let first = b.pid();
        assert!(first != 0 && b.url.starts_with(kind.name()), "{}", b.url);
        assert!(b.mark_peak().is_some_and(|r| r > 0));
        let s0 = b.sample().await;
        assert!(s0.cpu_s.is_some() && s0.counters.is_some(), "{s0:?}");
        let (old, new) = b.restart().await.unwrap();
        assert_eq!(old, first);
        assert!(new != 0 && new != old && b.pid() == new);
        let s1 = b.sample().await;
        assert!(s1.cpu_s.unwrap() >= s0.cpu_s.unwrap(), "{s0:?} {s1:?}");
        assert!(b.peak().is_some_and(|p| p > 0));
        b.stop().await;
        assert_eq!(b.pid(), 0);
        assert!(!std::path::Path::new(&format!("/proc/{new}/stat")).exists());
        assert!(!b.dir.exists());
    }

    #[tokio::test]
    async fn a_redis_broker_is_sampled_across_a_restart() {
        lifecycle(BrokerKind::Redis).await;
    }

    #[tokio::test]
    async fn a_nats_broker_is_sampled_across_a_restart() {
        lifecycle(BrokerKind::Nats).await;
    }
}

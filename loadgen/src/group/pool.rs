//! The coordinator's side of `--processes N`: one technique's clients split over N
//! `pushbench worker` processes. Each gets its [`WorkerPlan`] on stdin; their ticks (counters
//! four times a second, latencies of the messages just received) are summed into the
//! coordinator's [`Recorder`] and [`Sampler`] so progress, drain and timeseries.csv work as
//! with in-process clients; at the end each hands back a [`WorkerReport`] and the raw results
//! are merged exactly. A worker that dies or stops answering is reported (failure, its
//! clients' messages counted lost), never waited for past a deadline.

use std::collections::VecDeque;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::{Notify, oneshot};
use tokio_util::sync::CancellationToken;

use crate::group::WorkerTotals;
use crate::group::protocol::{self, Control, Counts, Event, WindowSpec, WorkerPlan, WorkerReport};
use crate::stats::Recorder;
use crate::sut::sampler::Sampler;
use crate::technique::Technique;

/// Extra time a worker gets, past its close timeout, to report.
const REPORT_GRACE: Duration = Duration::from_secs(15);

#[derive(Debug, Default)]
struct State {
    counts: Vec<Counts>,
    ramped: Vec<bool>,
    exited: Vec<bool>,
    cpu_s: Vec<Option<f64>>,
    rss: Vec<Option<u64>>,
}

#[derive(Debug)]
struct Proc {
    pid: u32,
    stdin: Option<ChildStdin>,
    child: Child,
    result: Option<oneshot::Receiver<Result<WorkerReport, String>>>,
    stderr: Arc<Mutex<VecDeque<String>>>,
}

/// N running workers of one technique.
#[derive(Debug)]
pub struct WorkerPool {
    pub technique: Technique,
    pub rec: Arc<Recorder>,
    procs: Vec<Proc>,
    state: Arc<Mutex<State>>,
    changed: Arc<Notify>,
    clients: u32,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Splits `clients` over `n` workers: (first_index, count) of each.
pub fn split(clients: u32, n: u32) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    let mut first = 0;
    for i in 0..n {
        let c = clients / n + u32::from(i < clients % n);
        out.push((first, c));
        first += c;
    }
    out
}

impl WorkerPool {
    /// Starts one worker per plan (`exe worker`, or the shell `command` with `{i}` replaced
    /// by the worker's index), sending each its plan. The counters the workers report are
    /// summed into `rec` (the coordinator's recorder of this technique).
    pub async fn start(
        exe: &Path,
        command: Option<&str>,
        plans: Vec<WorkerPlan>,
        rec: Arc<Recorder>,
        sampler: Arc<Sampler>,
    ) -> Result<WorkerPool, std::io::Error> {
        let n = plans.len();
        let shared = Shared {
            state: Arc::new(Mutex::new(State {
                counts: vec![Counts::default(); n],
                ramped: vec![false; n],
                exited: vec![false; n],
                cpu_s: vec![None; n],
                rss: vec![None; n],
            })),
            changed: Arc::new(Notify::new()),
            rec,
            sampler,
        };
        let clients = plans.iter().map(|p| p.clients).sum();
        let mut procs: Vec<Proc> = Vec::new();
        for (k, plan) in plans.into_iter().enumerate() {
            match spawn(k, &plan, worker_command(exe, command, k), &shared).await {
                Ok(p) => procs.push(p),
                Err(e) => {
                    for mut p in procs {
                        let _ = p.child.start_kill();
                    }
                    return Err(e);
                }
            }
        }
        Ok(WorkerPool {
            technique: shared.rec.technique,
            rec: shared.rec,
            procs,
            state: shared.state,
            changed: shared.changed,
            clients,
        })
    }

    /// The workers' pids.
    pub fn pids(&self) -> Vec<u32> {
        self.procs.iter().map(|p| p.pid).collect()
    }

    /// Waits until every worker has started and connected its clients (or died), or `stop`,
    /// or `deadline`.
    pub async fn ramped(&self, stop: &CancellationToken, deadline: Instant) {
        loop {
            let notified = self.changed.notified();
            {
                let s = lock(&self.state);
                if s.ramped.iter().zip(&s.exited).all(|(r, e)| *r || *e) {
                    return;
                }
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep_until(deadline.into()) => return,
                _ = notified => {}
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
        }
    }

    /// Clients the workers were told to run.
    pub fn clients(&self) -> u32 {
        self.clients
    }

    async fn send(&mut self, c: &Control) {
        let mut line = serde_json::to_string(c).unwrap_or_default();
        line.push('\n');
        for p in &mut self.procs {
            if let Some(s) = p.stdin.as_mut() {
                let ok = tokio::time::timeout(Duration::from_secs(2), async {
                    s.write_all(line.as_bytes()).await?;
                    s.flush().await
                })
                .await;
                if !matches!(ok, Ok(Ok(()))) {
                    p.stdin = None;
                }
            }
        }
    }

    /// Tells every worker the steady-state window (or narrows it).
    pub async fn window(&mut self, w: &WindowSpec) {
        self.send(&Control::Window(w.clone())).await;
    }

    /// Tells the workers to close their clients (each within `timeout`) and collects their
    /// reports. Returns the merged raw results, the summed worker figures and the failures.
    pub async fn close(&mut self, timeout: Duration) -> WorkerTotals {
        self.send(&Control::Close {
            timeout_ms: timeout.as_millis() as u64,
        })
        .await;
        for p in &mut self.procs {
            p.stdin = None;
        }
        let deadline = tokio::time::Instant::now() + timeout + REPORT_GRACE;
        let mut out = WorkerTotals::new(self.technique);
        for (k, p) in self.procs.iter_mut().enumerate() {
            let report = match p.result.take() {
                None => Err("already collected".to_string()),
                Some(rx) => match tokio::time::timeout_at(deadline, rx).await {
                    Ok(Ok(r)) => r,
                    Ok(Err(_)) => Err("its reader stopped".to_string()),
                    Err(_) => {
                        let _ = p.child.start_kill();
                        Err("no result before the deadline; killed".to_string())
                    }
                },
            };
            let status = tokio::time::timeout(Duration::from_secs(3), p.child.wait()).await;
            let added = report.and_then(|r| out.add(&r).map(|()| r).map_err(|e| e.to_string()));
            match added {
                Ok(r) => {
                    if let Some(f) = r.failure {
                        out.failures
                            .push(format!("worker {k} (pid {}): {f}", p.pid));
                    }
                }
                Err(why) => {
                    let status = match status {
                        Ok(Ok(s)) => format!(" ({s})"),
                        _ => String::new(),
                    };
                    let last = lock(&p.stderr).back().cloned();
                    out.failures.push(format!(
                        "worker {k} (pid {}) gave no results: {why}{status}{}",
                        p.pid,
                        last.map(|l| format!("; last words: {l}"))
                            .unwrap_or_default()
                    ));
                    out.lost_one();
                }
            }
        }
        out
    }
}

/// What every worker's event reader updates.
#[derive(Debug)]
struct Shared {
    state: Arc<Mutex<State>>,
    changed: Arc<Notify>,
    rec: Arc<Recorder>,
    sampler: Arc<Sampler>,
}

/// The command starting worker `k`: `exe worker`, or the shell `command` with `{i}` replaced
/// by `k`.
fn worker_command(exe: &Path, command: Option<&str>, k: usize) -> Command {
    match command {
        Some(c) => {
            // Not our process: it stops when its stdin (the control channel) ends.
            let mut cmd = Command::new("sh");
            cmd.arg("-c").arg(c.replace("{i}", &k.to_string()));
            server::lifeline::untie(&mut cmd);
            cmd
        }
        None => {
            let mut cmd = Command::new(exe);
            cmd.arg("worker");
            // Also stopped by the kernel if this process dies (kill -9 included).
            server::lifeline::tie(&mut cmd);
            cmd
        }
    }
}

/// Starts worker `k` with `cmd` and sends it its plan; its events are read into `shared`, the
/// last lines of its stderr kept (to say why it died).
async fn spawn(
    k: usize,
    plan: &WorkerPlan,
    mut cmd: Command,
    shared: &Shared,
) -> Result<Proc, std::io::Error> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let pid = child.id().unwrap_or(0);
    let mut stdin = child.stdin.take();
    if let Some(s) = stdin.as_mut() {
        let mut line = serde_json::to_string(plan).map_err(std::io::Error::other)?;
        line.push('\n');
        s.write_all(line.as_bytes()).await?;
        s.flush().await?;
    }
    let stderr = Arc::new(Mutex::new(VecDeque::new()));
    if let Some(err) = child.stderr.take() {
        let tail = stderr.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(err).lines();
            while let Ok(Some(l)) = lines.next_line().await {
                let mut t = lock(&tail);
                if t.len() == 10 {
                    t.pop_front();
                }
                t.push_back(l);
            }
        });
    }
    let (tx, rx) = oneshot::channel();
    let out = child.stdout.take().expect("stdout is piped");
    tokio::spawn(read_events(
        k,
        out,
        tx,
        shared.state.clone(),
        shared.changed.clone(),
        shared.rec.clone(),
        shared.sampler.clone(),
    ));
    Ok(Proc {
        pid,
        stdin,
        child,
        result: Some(rx),
        stderr,
    })
}

/// Reads one worker's events: sums ticks into the coordinator, passes the result on.
async fn read_events(
    k: usize,
    out: tokio::process::ChildStdout,
    tx: oneshot::Sender<Result<WorkerReport, String>>,
    state: Arc<Mutex<State>>,
    changed: Arc<Notify>,
    rec: Arc<Recorder>,
    sampler: Arc<Sampler>,
) {
    let mut lines = BufReader::new(out).lines();
    let mut result = None;
    let mut last_cpu: Option<f64> = None;
    while let Ok(Some(line)) = lines.next_line().await {
        let Ok(ev) = serde_json::from_str::<Event>(&line) else {
            continue;
        };
        match ev {
            Event::Ramped { .. } => {
                lock(&state).ramped[k] = true;
                changed.notify_waiters();
            }
            Event::Tick {
                counts,
                interval,
                cpu_s,
                rss_bytes,
            } => {
                if let Some(h) = interval.and_then(|t| protocol::decode(&t).ok()) {
                    sampler.add_interval(&h);
                }
                if let (Some(now), Some(before)) = (cpu_s, last_cpu) {
                    sampler.add_loadgen_cpu((now - before).max(0.0));
                }
                last_cpu = cpu_s.or(last_cpu);
                let mut s = lock(&state);
                s.counts[k] = *counts;
                s.cpu_s[k] = cpu_s;
                s.rss[k] = rss_bytes;
                store(&rec, &s.counts);
            }
            Event::Result(r) => {
                result = Some(*r);
            }
        }
    }
    lock(&state).exited[k] = true;
    changed.notify_waiters();
    let _ = tx.send(result.ok_or_else(|| "it exited without a result".to_string()));
}

/// Puts the summed counters into the coordinator's recorder (progress, drain, sampler).
fn store(rec: &Recorder, all: &[Counts]) {
    use std::sync::atomic::Ordering::Relaxed;
    let sum = |f: fn(&Counts) -> u64| all.iter().map(f).sum::<u64>();
    let c = &rec.counters;
    c.delivered.store(sum(|x| x.delivered), Relaxed);
    c.duplicates.store(sum(|x| x.duplicates), Relaxed);
    c.out_of_order.store(sum(|x| x.out_of_order), Relaxed);
    c.received_total.store(sum(|x| x.received_total), Relaxed);
    c.requests.store(sum(|x| x.requests), Relaxed);
    c.empty_responses.store(sum(|x| x.empty_responses), Relaxed);
    c.reconnects.store(sum(|x| x.reconnects), Relaxed);
    c.bytes_up.store(sum(|x| x.bytes_up), Relaxed);
    c.bytes_down.store(sum(|x| x.bytes_down), Relaxed);
    c.connections.store(sum(|x| x.connections), Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_evenly_and_contiguously() {
        assert_eq!(split(10, 3), vec![(0, 4), (4, 3), (7, 3)]);
        assert_eq!(split(2, 2), vec![(0, 1), (1, 1)]);
    }
}

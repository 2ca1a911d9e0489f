//! `pushbench worker` (hidden): runs one share of one technique's clients, as told by a
//! [`WorkerPlan`], and hands back raw, mergeable results. A worker needs no live channel to the
//! publisher: the window is a range of sequence numbers per topic plus wall-clock bounds for
//! the time-attributed counters, given in the plan or in one `window` line on stdin. It reports
//! on stdout (JSON lines: `ramped`, ticks four times a second, the final `result`), and with
//! `--out DIR` also writes a worker run directory that `pushbench merge` can combine with
//! others run elsewhere. It closes its clients on a `close` line, at the plan's `close_at_us`,
//! or when stdin ends (so a coordinator that dies never leaves a worker behind).

pub mod dir;

/// What a coordinator and a worker say to each other.
pub use crate::group::protocol;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::group::local::{ClientGroup, GroupPlan};
use crate::measure::wait;
use crate::payload;
use crate::stats::Snapshot;
use crate::sut::procfs::{self, ProcSample};
use crate::sut::target::{Target, TargetError};
pub use protocol::{Control, Counts, Event, WindowSpec, WorkerPlan, WorkerReport};

/// How often a worker reports its counters.
pub const TICK: Duration = Duration::from_millis(250);
/// Close timeout when stdin ends without a `close` line.
const DEFAULT_CLOSE: Duration = Duration::from_secs(5);

/// Why a worker could not run.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("--plan {0}: not a worker plan: {1}")]
    Plan(PathBuf, serde_json::Error),
    #[error("cannot read the plan {0}: {1}")]
    PlanFile(PathBuf, std::io::Error),
    #[error("the plan: {0}")]
    BadPlan(String),
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error(transparent)]
    Output(#[from] crate::output::OutputError),
    #[error("writing to stdout: {0}")]
    Stdout(std::io::Error),
}

/// Options of `pushbench worker`.
#[derive(Debug, Clone, clap::Args)]
pub struct WorkerArgs {
    /// The plan (JSON); `-` reads it from the first line of stdin.
    #[arg(long, value_name = "FILE", default_value = "-")]
    pub plan: PathBuf,
    /// Also write a worker run directory here (raw/<technique>.json, histograms, manifest).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

fn now_us() -> u64 {
    payload::to_us(SystemTime::now())
}

/// The `Instant` at wall-clock time `us` (now if it has passed).
fn instant_at(us: u64) -> Instant {
    Instant::now() + Duration::from_micros(us.saturating_sub(now_us()))
}

/// Checks a plan makes sense on its own.
pub fn validate(plan: &WorkerPlan) -> Result<(), WorkerError> {
    let bad = |m: &str| Err(WorkerError::BadPlan(m.to_string()));
    if plan.topics.is_empty() {
        return bad("no topics");
    }
    if plan.clients == 0 {
        return bad("no clients");
    }
    if !(plan.ramp_up.is_finite() && plan.ramp_up > 0.0) {
        return bad("ramp_up must be a positive number of connections per second");
    }
    if plan.connect_timeout_ms == 0 || plan.read_timeout_ms == 0 {
        return bad("timeouts must be longer than 0");
    }
    Ok(())
}

/// The window's counters: snapshots taken at its wall-clock bounds.
#[derive(Debug, Default)]
struct WindowMarks {
    spec: Option<WindowSpec>,
    c0: Option<(Snapshot, Option<ProcSample>, u64)>,
    c1: Option<(Snapshot, Option<ProcSample>, u64)>,
    rss_max: Option<u64>,
}

/// Runs a worker: reads control lines from `control`, writes event lines to `out`, returns
/// the report (also written as the last event). Never hangs: the clients close on `close`,
/// at `close_at_us`, or when `control` ends.
pub async fn run<R, W>(
    plan: WorkerPlan,
    control: R,
    out: W,
    dir: Option<PathBuf>,
) -> Result<WorkerReport, WorkerError>
where
    R: AsyncBufRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    validate(&plan)?;
    let started_at = chrono::Utc::now();
    let target = Target::from_url(&plan.target).await?;
    let ms = Duration::from_millis;
    let gplan = GroupPlan {
        technique: plan.technique,
        target,
        topics: plan.topics.clone(),
        clients: plan.clients,
        ramp_up: plan.ramp_up,
        source_addrs: plan.source_addrs.clone(),
        poll_interval: ms(plan.poll_interval_ms),
        long_poll_timeout: ms(plan.long_poll_timeout_ms),
        connect_timeout: ms(plan.connect_timeout_ms),
        read_timeout: ms(plan.read_timeout_ms),
        seed: plan.seed,
        first_index: plan.first_index,
    };
    let mut group = ClientGroup::new(gplan.clone());
    let rec = group.rec.clone();

    // Event writer: one task owns stdout.
    let (ev_tx, mut ev_rx) = mpsc::unbounded_channel::<Event>();
    let writer = tokio::spawn(async move {
        let mut out = out;
        while let Some(ev) = ev_rx.recv().await {
            let mut line = serde_json::to_string(&ev).unwrap_or_default();
            line.push('\n');
            out.write_all(line.as_bytes()).await?;
            out.flush().await?;
        }
        Ok::<(), std::io::Error>(())
    });

    // Control reader: window lines apply at once; close (or EOF) ends the run.
    let marks = Arc::new(Mutex::new(WindowMarks::default()));
    let closing = CancellationToken::new();
    let close_timeout = Arc::new(Mutex::new(DEFAULT_CLOSE));
    let mut window_tasks = Vec::new();
    let (win_tx, mut win_rx) = mpsc::unbounded_channel::<WindowSpec>();
    if let Some(w) = plan.window.clone() {
        let _ = win_tx.send(w);
    }
    let timed = plan.close_at_us.is_some();
    let reader = {
        let closing = closing.clone();
        let close_timeout = close_timeout.clone();
        let win_tx = win_tx.clone();
        tokio::spawn(async move {
            let mut lines = control.lines();
            let mut said_close = false;
            while let Ok(Some(line)) = lines.next_line().await {
                match serde_json::from_str::<Control>(&line) {
                    Ok(Control::Window(w)) => {
                        let _ = win_tx.send(w);
                    }
                    Ok(Control::Close { timeout_ms }) => {
                        *close_timeout.lock().unwrap_or_else(|e| e.into_inner()) =
                            Duration::from_millis(timeout_ms);
                        said_close = true;
                        break;
                    }
                    Err(e) => eprintln!("pushbench worker: ignoring a bad control line: {e}"),
                }
            }
            // Stdin ended (or said close). With a close time in the plan, stdin may simply be
            // absent (a pod, a batch job): that time decides.
            if said_close || !timed {
                closing.cancel();
            }
        })
    };
    drop(win_tx);
    if let Some(at) = plan.close_at_us {
        let closing = closing.clone();
        tokio::spawn(async move {
            tokio::time::sleep_until(instant_at(at).into()).await;
            closing.cancel();
        });
    }

    // Ticks.
    let ticker = {
        let rec = rec.clone();
        let ev_tx = ev_tx.clone();
        let marks = marks.clone();
        let stop = closing.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(TICK);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tick.tick() => {}
                }
                let me = procfs::sample("self");
                let interval = rec.take_interval();
                if let Some(m) = me {
                    let mut mk = marks.lock().unwrap_or_else(|e| e.into_inner());
                    mk.rss_max = Some(mk.rss_max.unwrap_or(0).max(m.rss_bytes));
                }
                let _ = ev_tx.send(Event::Tick {
                    counts: rec.snapshot(),
                    interval: (!interval.is_empty()).then(|| protocol::encode(&interval)),
                    cpu_s: me.map(|m| m.cpu_s),
                    rss_bytes: me.map(|m| m.rss_bytes),
                });
            }
        })
    };

    // Ramp-up, then wait (at most the connect timeout) for every client to connect.
    group.ramp_up(&closing).await;
    let connected_by = Instant::now() + Duration::from_millis(plan.connect_timeout_ms);
    let spawned = u64::from(group.spawned());
    wait::until(
        connected_by,
        Some(&closing),
        |_| {},
        || wait::connected(&rec, spawned),
    )
    .await;
    let _ = ev_tx.send(Event::Ramped {
        spawned: group.spawned(),
        connected: rec.snapshot().connections,
    });

    // Until close: apply windows as they come.
    loop {
        tokio::select! {
            _ = closing.cancelled() => break,
            w = win_rx.recv() => {
                let Some(w) = w else {
                    closing.cancelled().await;
                    break;
                };
                w.apply(&rec.window, plan.topics.len());
                let first = {
                    let mut mk = marks.lock().unwrap_or_else(|e| e.into_inner());
                    let first = mk.spec.is_none();
                    mk.spec = Some(w.clone());
                    first
                };
                if first {
                    window_tasks.push(tokio::spawn(mark_window(rec.clone(), marks.clone(), w)));
                }
            }
        }
    }
    let timeout = *close_timeout.lock().unwrap_or_else(|e| e.into_inner());
    let not_closed = group.close(timeout).await;
    ticker.abort();
    reader.abort();
    for t in window_tasks {
        t.abort();
    }

    let end = rec.snapshot();
    let me = procfs::sample("self");
    let (m0, m1, spec, rss_max) = {
        let mk = marks.lock().unwrap_or_else(|e| e.into_inner());
        (mk.c0, mk.c1, mk.spec.clone(), mk.rss_max)
    };
    let now = now_us();
    let (c0, p0, t0) = m0.unwrap_or((end, me, now));
    let (c1, p1, t1) = m1.unwrap_or((end, me, now));
    let failure = match &spec {
        None => Some("the worker was never told the steady-state window".to_string()),
        Some(_) if m1.is_none() => Some("closed before the window's end".to_string()),
        Some(_) => None,
    };
    let published = spec.as_ref().map_or(0, |s| gplan.published(|t| s.len(t)));
    let expected = spec.as_ref().map_or(0, |s| gplan.expected(|t| s.len(t)));
    let raw = group.raw(c0, c1);
    let report = WorkerReport {
        index: plan.index,
        technique: plan.technique,
        clients: raw.clients,
        published,
        expected,
        window: raw.window,
        phase: raw.phase,
        latency: protocol::encode(&raw.latency),
        connect: protocol::encode(&raw.connect),
        first_message: protocol::encode(&raw.first_message),
        clients_not_closed: not_closed as u64,
        loadgen_cpu_s: match (p0, p1) {
            (Some(a), Some(b)) => Some((b.cpu_s - a.cpu_s).max(0.0)),
            _ => None,
        },
        loadgen_rss_bytes: rss_max.or(me.map(|m| m.rss_bytes)),
        window_start_us: t0,
        window_end_us: t1,
        failure,
    };
    if let Some(d) = dir {
        dir::write(&d, &plan, &report, &raw.latency, started_at)?;
    }
    let _ = ev_tx.send(Event::Result(Box::new(report.clone())));
    drop(ev_tx);
    if let Ok(Err(e)) = writer.await {
        return Err(WorkerError::Stdout(e));
    }
    Ok(report)
}

/// Snapshots the counters (and this process's CPU) at the window's wall-clock bounds.
async fn mark_window(
    rec: Arc<crate::stats::Recorder>,
    marks: Arc<Mutex<WindowMarks>>,
    w: WindowSpec,
) {
    tokio::time::sleep_until(instant_at(w.start_us).into()).await;
    let c0 = (
        rec.snapshot(),
        procfs::sample("self"),
        now_us().max(w.start_us),
    );
    marks.lock().unwrap_or_else(|e| e.into_inner()).c0 = Some(c0);
    loop {
        // The end may be narrowed by a later window line (a run cut short).
        let end = marks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .spec
            .as_ref()
            .map_or(w.end_us, |s| s.end_us);
        if now_us() >= end {
            break;
        }
        let step = Duration::from_micros(end - now_us()).min(Duration::from_millis(100));
        tokio::time::sleep(step).await;
    }
    let c1 = (rec.snapshot(), procfs::sample("self"), now_us());
    marks.lock().unwrap_or_else(|e| e.into_inner()).c1 = Some(c1);
}

/// `pushbench worker`: reads the plan, runs, prints events on stdout.
pub async fn main(args: WorkerArgs) -> Result<WorkerReport, WorkerError> {
    // Ctrl-C in a terminal reaches the whole process group: the coordinator decides when its
    // workers close (stdin), so a worker must not die of it and lose its results.
    if let Ok(mut sigint) =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
    {
        tokio::spawn(async move { while sigint.recv().await.is_some() {} });
    }
    let stdin = tokio::io::BufReader::new(tokio::io::stdin());
    let (plan, stdin) = if args.plan.as_os_str() == "-" {
        let mut stdin = stdin;
        let mut line = String::new();
        stdin
            .read_line(&mut line)
            .await
            .map_err(|e| WorkerError::PlanFile(args.plan.clone(), e))?;
        (line, stdin)
    } else {
        let text = std::fs::read_to_string(&args.plan)
            .map_err(|e| WorkerError::PlanFile(args.plan.clone(), e))?;
        (text, stdin)
    };
    let plan: WorkerPlan =
        serde_json::from_str(&plan).map_err(|e| WorkerError::Plan(args.plan.clone(), e))?;
    run(plan, stdin, tokio::io::stdout(), args.out).await
}

//! `pushbench worker` (hidden): runs one share of one technique's clients, as told by a
//! [`WorkerPlan`], and hands back raw, mergeable results. A worker needs no live channel to the
//! publisher: the window is a range of sequence numbers per topic plus wall-clock bounds for
//! the time-attributed counters, given in the plan or in one `window` line on stdin. It reports
//! on stdout (JSON lines: `ramped`, ticks four times a second, the final `result`), and with
//! `--out DIR` also writes a worker run directory that `pushbench merge` can combine with
//! others run elsewhere. It closes its clients on a `close` line, at the plan's `close_at_us`,
//! or when stdin ends (so a coordinator that dies never leaves a worker behind).

mod control;
pub mod dir;
mod window;

/// What a coordinator and a worker say to each other.
pub use crate::group::protocol;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite};

use crate::fault::{FaultPlan, FaultSpec};
use crate::group::{ClientGroup, GroupPlan};
use crate::link::{self, Emulator, Link, LinkCounts};
use crate::measure::wait;
use crate::payload;
use crate::sut::target::{Target, TargetError};
pub use protocol::{Control, Counts, Event, WindowSpec, WorkerPlan, WorkerReport};
pub use window::TICK;

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
    #[error("cannot start the link emulator: {0}")]
    Link(std::io::Error),
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

/// The plan's link, on an emulator of this worker's own (None: no link, nothing started).
fn start_link(plan: &WorkerPlan) -> Result<Option<(Emulator, Link)>, WorkerError> {
    match plan.link {
        Some(spec) if !spec.is_none() => {
            let emu = Emulator::start(link::DEFAULT_THREADS).map_err(WorkerError::Link)?;
            let l = emu.link(spec);
            Ok(Some((emu, l)))
        }
        _ => Ok(None),
    }
}

/// The group of clients a plan describes.
fn group_plan(plan: &WorkerPlan, target: Target, link: Option<Link>) -> GroupPlan {
    let ms = Duration::from_millis;
    GroupPlan {
        technique: plan.technique,
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
        link,
        faults: plan.fault.as_deref().and_then(|label| {
            let spec = FaultSpec::parse_all(&[label]).ok()?;
            spec.any().then(|| {
                Arc::new(FaultPlan {
                    spec,
                    stall_from_us: plan.stall_from_us,
                })
            })
        }),
        recovery: plan
            .recovery
            .as_deref()
            .and_then(|r| r.parse().ok())
            .unwrap_or_default(),
        transport: Arc::new(crate::clients::Transport::for_target(&target)),
        target,
    }
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
    let target = Target::from_url(&plan.target)
        .await?
        .with_profile(plan.profile.clone().unwrap_or_default())
        .with_transport(plan.transport.clone().unwrap_or_default())?;
    let links = start_link(&plan)?;
    let link = links.as_ref().map(|(_, l)| l.clone());
    let mut group = ClientGroup::new(group_plan(&plan, target, link));
    let rec = group.rec.clone();
    let (events, writer) = control::events(out);
    let mut commands = control::listen(control, &plan);
    let closing = commands.closing.clone();
    let marks = Arc::new(Mutex::new(window::Marks::default()));
    let ticker = window::ticker(rec.clone(), events.clone(), marks.clone(), closing.clone());

    // Ramp-up, then wait (at most the connect timeout) for every client to connect.
    group.ramp_up(&closing).await;
    let connected_by = Instant::now() + group.plan.connect_timeout;
    let spawned = u64::from(group.spawned());
    wait::until(
        connected_by,
        Some(&closing),
        |_| {},
        || wait::connected(&rec, spawned),
    )
    .await;
    let _ = events.send(Event::Ramped {
        spawned: group.spawned(),
        connected: rec.snapshot().connections,
    });

    // Until close: apply windows as they come.
    let topics = plan.topics.len();
    let marking = window::follow(topics, &rec, &marks, &mut commands.windows, &closing).await;
    let not_closed = group.close(commands.close_timeout()).await;
    ticker.abort();
    commands.stop();
    marking.iter().for_each(|t| t.abort());

    let (mut report, raw) = window::report(&plan, &group, &marks, not_closed);
    if let Some((emu, link)) = &links {
        report.link = Some(LinkCounts::of(&link.stats()));
        report.link_cpu_s = emu.cpu_seconds();
    }
    if let Some(d) = dir {
        dir::write(&d, &plan, &report, &raw.latency, started_at)?;
    }
    let _ = events.send(Event::Result(Box::new(report.clone())));
    drop(events);
    if let Ok(Err(e)) = writer.await {
        return Err(WorkerError::Stdout(e));
    }
    Ok(report)
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

//! The worker's view of the run while its clients are connected: the window as the coordinator
//! sets it (applied to the recorder, its counters snapshotted at its wall-clock edges), the
//! ticks reporting the counters four times a second, and the final report built from them.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{instant_at, now_us};
use crate::group::protocol::{self, Event, WindowSpec, WorkerPlan, WorkerReport};
use crate::group::{ClientGroup, RawResult};
use crate::stats::{Recorder, Snapshot};
use crate::sut::procfs::{self, ProcSample};

/// How often a worker reports its counters.
pub const TICK: Duration = Duration::from_millis(250);

/// The counters, this process's CPU and the time at one edge of the window.
type Mark = (Snapshot, Option<ProcSample>, u64);

/// The window and its counters: snapshots taken at its wall-clock bounds.
#[derive(Debug, Default)]
pub struct Marks {
    spec: Option<WindowSpec>,
    start: Option<Mark>,
    end: Option<Mark>,
    rss_max: Option<u64>,
}

fn lock(m: &Mutex<Marks>) -> std::sync::MutexGuard<'_, Marks> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Reports the counters every [`TICK`] until `stop`: the counts so far, the latencies received
/// since the last tick, this process's CPU and RSS (its peak kept in `marks`).
pub fn ticker(
    rec: Arc<Recorder>,
    events: UnboundedSender<Event>,
    marks: Arc<Mutex<Marks>>,
    stop: CancellationToken,
) -> JoinHandle<()> {
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
                let mut mk = lock(&marks);
                mk.rss_max = Some(mk.rss_max.unwrap_or(0).max(m.rss_bytes));
            }
            let _ = events.send(Event::Tick {
                counts: Box::new(rec.snapshot()),
                interval: (!interval.is_empty()).then(|| protocol::encode(&interval)),
                cpu_s: me.map(|m| m.cpu_s),
                rss_bytes: me.map(|m| m.rss_bytes),
            });
        }
    })
}

/// Applies each window as it comes until `closing`: the recorder counts its messages, and the
/// first one's edges are snapshotted (a later one narrows its end). Returns the snapshotting
/// tasks (to abort once the clients closed).
pub async fn follow(
    topics: usize,
    rec: &Arc<Recorder>,
    marks: &Arc<Mutex<Marks>>,
    windows: &mut UnboundedReceiver<WindowSpec>,
    closing: &CancellationToken,
) -> Vec<JoinHandle<()>> {
    let mut tasks = Vec::new();
    loop {
        let w = tokio::select! {
            _ = closing.cancelled() => return tasks,
            w = windows.recv() => w,
        };
        let Some(w) = w else {
            closing.cancelled().await;
            return tasks;
        };
        w.apply(&rec.window, topics);
        let first = lock(marks).spec.replace(w.clone()).is_none();
        if first {
            tasks.push(tokio::spawn(mark(rec.clone(), marks.clone(), w)));
        }
    }
}

/// Snapshots the counters (and this process's CPU) at the window's wall-clock bounds.
async fn mark(rec: Arc<Recorder>, marks: Arc<Mutex<Marks>>, w: WindowSpec) {
    tokio::time::sleep_until(instant_at(w.start_us).into()).await;
    let start = (
        rec.snapshot(),
        procfs::sample("self"),
        now_us().max(w.start_us),
    );
    lock(&marks).start = Some(start);
    loop {
        // The end may be narrowed by a later window line (a run cut short).
        let end = lock(&marks).spec.as_ref().map_or(w.end_us, |s| s.end_us);
        // One reading of the clock: a second one may already be past `end` (a subtraction
        // that overflowed here made the end mark's task panic, so a worker that ran its whole
        // window reported "closed before the window's end").
        let now = now_us();
        if now >= end {
            break;
        }
        let step = Duration::from_micros(end - now).min(Duration::from_millis(100));
        tokio::time::sleep(step).await;
    }
    lock(&marks).end = Some((rec.snapshot(), procfs::sample("self"), now_us()));
}

/// How far before the window's end (by this worker's clock) a close may come and still be the
/// coordinator's ordinary one. The coordinator's window ends by its own clock, and its drain
/// ends as soon as every expected message arrived; so on a run where everything arrives at
/// once its close can reach a worker a few milliseconds before the worker's end mark (more
/// across machines, whose clocks differ): that is not a worker that closed early.
const CLOSE_SLACK_US: u64 = 1_000_000;

/// Why the worker's window is not whole (None: it is), given what was marked and the time of
/// the close (`closed_us`). A close that missed the end mark within [`CLOSE_SLACK_US`] is
/// marked at the close.
fn failure(
    spec: Option<&WindowSpec>,
    started: bool,
    ended: bool,
    closed_us: u64,
) -> Option<String> {
    let spec = match spec {
        None => return Some("the worker was never told the steady-state window".to_string()),
        Some(s) => s,
    };
    if ended {
        return None;
    }
    if !started || closed_us.saturating_add(CLOSE_SLACK_US) < spec.end_us {
        return Some("closed before the window's end".to_string());
    }
    None
}

/// The worker's report once its clients closed (`not_closed` of them aborted): the window's
/// counters from `marks` (the end of the run where an edge was never reached, which is then
/// a failure), its share of the messages, and the histograms.
pub fn report(
    plan: &WorkerPlan,
    group: &ClientGroup,
    marks: &Mutex<Marks>,
    not_closed: usize,
) -> (WorkerReport, RawResult) {
    let end = (group.rec.snapshot(), procfs::sample("self"), now_us());
    let (start_mark, end_mark, spec, rss_max) = {
        let mk = lock(marks);
        (mk.start, mk.end, mk.spec.clone(), mk.rss_max)
    };
    let (c0, p0, t0) = start_mark.unwrap_or(end);
    let (c1, p1, t1) = end_mark.unwrap_or(end);
    let failure = failure(
        spec.as_ref(),
        start_mark.is_some(),
        end_mark.is_some(),
        end.2,
    );
    let raw = group.raw(c0, c1);
    let share = &group.plan;
    let report = WorkerReport {
        index: plan.index,
        technique: plan.technique,
        clients: raw.clients,
        published: spec.as_ref().map_or(0, |s| share.published(|t| s.len(t))),
        expected: spec.as_ref().map_or(0, |s| share.expected(|t| s.len(t))),
        window: raw.window,
        phase: raw.phase,
        latency: protocol::encode(&raw.latency),
        connect: protocol::encode(&raw.connect),
        first_message: protocol::encode(&raw.first_message),
        clients_not_closed: not_closed as u64,
        loadgen_cpu_s: p0.zip(p1).map(|(a, b)| (b.cpu_s - a.cpu_s).max(0.0)),
        loadgen_rss_bytes: rss_max.or(end.1.map(|m| m.rss_bytes)),
        window_start_us: t0,
        window_end_us: t1,
        failure,
        link: None,
        link_cpu_s: None,
        recovery: Some(protocol::encode(&raw.faults.recovery)),
        stalled_latency: Some(protocol::encode(&raw.faults.stalled_latency)),
        others_latency: Some(protocol::encode(&raw.faults.others_latency)),
    };
    (report, raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_close_just_before_the_end_mark_is_the_coordinator_s_not_an_early_one() {
        let w = WindowSpec {
            seqs: vec![Some([1, 10])],
            start_us: 1_000_000,
            end_us: 11_000_000,
        };
        assert_eq!(
            failure(Some(&w), true, true, 5_000_000),
            None,
            "marked both edges"
        );
        assert_eq!(
            failure(Some(&w), true, false, 10_990_000),
            None,
            "10 ms before the end"
        );
        assert_eq!(
            failure(Some(&w), true, false, 12_000_000),
            None,
            "after the end"
        );
        assert!(
            failure(Some(&w), true, false, 9_000_000).is_some(),
            "2 s before the end"
        );
        assert!(
            failure(Some(&w), false, false, 11_500_000).is_some(),
            "no start mark"
        );
        assert!(
            failure(None, false, false, 0).is_some(),
            "never told the window"
        );
    }
}

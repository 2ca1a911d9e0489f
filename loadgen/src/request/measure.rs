//! One technique in request mode, phase by phase, as broadcast mode's (and with its
//! snapshots, [`crate::measure::phases`]): the server before (idle memory), warm-up (requests
//! already arriving, not counted), the window (requests that start in it are counted; the
//! streams open are sampled), drain (no new request; the counted streams are given the
//! drain plus one stream's schedule to end, then cut), the server after.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::driver::{self, Window};
use super::plan::Plan;
use super::recorder::ReqRecorder;
use crate::config::Arrival;
use crate::group::local::RawResult;
use crate::measure::{
    RequestFigures, RunCtx, TechniqueResult, between, cpu_between, max_opt, phases, verdict,
};
use crate::stats::Recorder;
use crate::sut::sampler::Phase;
use crate::technique::Technique;

/// How often the open streams are counted in the window.
const OPEN_SAMPLE: Duration = Duration::from_millis(50);

/// Measures technique `tech` in request mode.
pub async fn measure(ctx: &RunCtx, tech: Technique) -> TechniqueResult {
    let cfg = &ctx.cfg;
    let Some(params) = cfg.request.clone() else {
        let mut r = TechniqueResult::empty(tech, 1, 0);
        r.failure = Some("request mode without its parameters".into());
        return r;
    };
    let rec = Arc::new(Recorder::new(tech, 1));
    let rr = Arc::new(ReqRecorder::default());
    let plan = Arc::new(Plan {
        technique: tech,
        server: ctx.target.addr,
        host: ctx.target.host.clone(),
        prefix: ctx.target.prefix.clone(),
        source_addrs: cfg.client_addrs(),
        connect_timeout: cfg.connect_timeout,
        read_timeout: cfg.read_timeout,
        params: params.clone(),
        seed: cfg.seed,
        rec: rec.clone(),
        rr: rr.clone(),
    });
    let before = phases::before(ctx, tech).await;
    ctx.sampler.begin(rec.clone());
    ctx.sampler.set_phase(Phase::Warmup);
    let t0 = Instant::now();
    let window = Window {
        start: t0 + cfg.warmup,
        end: t0 + cfg.warmup + cfg.duration,
    };
    let stop = ctx.shutdown.child_token();
    let mut driver = tokio::spawn(driver::run(plan.clone(), window, stop.clone()));
    ctx.wait(&rec, Phase::Warmup, window.start, || false).await;

    let sampling = CancellationToken::new();
    let open = tokio::spawn(sample_open(rr.clone(), sampling.clone()));
    let done0 = rr.completed_all.load(Relaxed);
    let steady = phases::steady(ctx, tech, &rec, window.end).await;
    let done1 = rr.completed_all.load(Relaxed);
    sampling.cancel();
    let (open_mean, open_max) = open.await.unwrap_or((None, None));

    ctx.sampler.set_phase(Phase::Drain);
    let drain = if ctx.shutdown.is_cancelled() {
        cfg.drain.min(Duration::from_secs(1))
    } else {
        cfg.drain + params.stream_len()
    };
    let drain_end = Instant::now() + drain;
    ctx.wait(&rec, Phase::Drain, drain_end, || {
        Instant::now() >= window.end && rr.counted_open.load(Relaxed) == 0
    })
    .await;
    stop.cancel();
    if tokio::time::timeout(Duration::from_secs(5), &mut driver)
        .await
        .is_err()
    {
        driver.abort();
    }
    let server_after = phases::after(ctx, tech).await;
    let peaks = ctx.sampler.end();

    let n = |a: &AtomicU64| a.load(Relaxed);
    let hists = rr.hists();
    let mut phase = rec.snapshot();
    phase.delivered = n(&rr.delivered);
    phase.duplicates = n(&rr.duplicates);
    phase.out_of_order = n(&rr.out_of_order);
    let window_counts = steady.clients.1.since(&steady.clients.0);
    let expected = n(&rr.expected);
    let clients = match params.arrival {
        Arrival::Closed { concurrency } => concurrency,
        Arrival::Open { .. } => open_max.unwrap_or(0),
    };
    let rss = |p: Option<crate::sut::procfs::ProcSample>| p.map(|p| p.rss_bytes);
    let mut result = TechniqueResult {
        raw: RawResult {
            technique: tech,
            clients,
            window: window_counts,
            phase,
            latency: hists.lateness.clone(),
            connect: rec.connect_times(),
            first_message: crate::stats::new_histogram(),
            faults: Default::default(),
        },
        topics: 1,
        payload_bytes: usize::try_from(params.event_bytes).unwrap_or(usize::MAX),
        duration: steady.duration,
        window_start: steady.start,
        published: expected,
        expected,
        server_window: between(steady.server),
        server_phase: between((before.stats, server_after)),
        server_cpu_s: steady.server_cpu_s,
        server_rss_bytes: max_opt(peaks.server_rss_max, rss(steady.server_proc.1)),
        server_rss_idle_bytes: before.rss_bytes,
        loadgen_cpu_s: cpu_between(steady.loadgen_proc.0, steady.loadgen_proc.1),
        loadgen_rss_bytes: peaks.loadgen_rss_max.or(rss(steady.loadgen_proc.1)),
        request: Some(Box::new(RequestFigures {
            params,
            ttft: hists.ttft,
            itl: hists.itl,
            e2e: hists.e2e,
            started: n(&rr.started),
            completed: n(&rr.completed),
            failed: n(&rr.failed),
            overflow: n(&rr.overflow),
            events_in_window: window_counts.received_total,
            completed_in_window: done1.saturating_sub(done0),
            open_streams_mean: open_mean,
            open_streams_max: open_max,
        })),
        ..TechniqueResult::empty(tech, 1, 0)
    };
    result.failure = if ctx.shutdown.is_cancelled() {
        ctx.failure()
    } else {
        verdict::judge(&result, None)
    };
    result
}

/// Counts the streams open every [`OPEN_SAMPLE`] until `stop`: their mean and most.
async fn sample_open(rr: Arc<ReqRecorder>, stop: CancellationToken) -> (Option<f64>, Option<u64>) {
    let (mut sum, mut count, mut max) = (0u64, 0u64, 0u64);
    let mut tick = tokio::time::interval(OPEN_SAMPLE);
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tick.tick() => {}
        }
        let open = rr.open.load(Relaxed);
        sum += open;
        count += 1;
        max = max.max(open);
    }
    if count == 0 {
        return (None, None);
    }
    (Some(sum as f64 / count as f64), Some(max))
}

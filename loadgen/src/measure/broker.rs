//! The child broker in the measured window (`pushbench run --broker`): its CPU seconds, peak
//! memory and messages between the window's edges ([`mark`], [`window`]), and the
//! `restart-broker` fault: `AT` into the window the broker is stopped gracefully and started
//! again on the same port with its data ([`restart_in_window`]); the instances reconnect on
//! their own, the clients learn of any gap by the usual gap events.

use std::time::{Duration, Instant};

use contract::run_dir::BrokerFigures;

use super::RunCtx;
use crate::sut::broker::BrokerSample;
use crate::technique::Technique;

/// The broker at the window's start.
#[derive(Debug, Clone, Copy)]
pub struct Mark {
    sample: BrokerSample,
    /// The server's `/stats` `broker.received` (messages its instances got from the broker).
    received: Option<u64>,
    at: Instant,
}

/// The broker over a window, before the deliveries are known.
#[derive(Debug, Clone, Copy, Default)]
pub struct BrokerWindow {
    pub cpu_s: Option<f64>,
    pub rss_peak_bytes: Option<u64>,
    pub in_msgs_per_s: Option<f64>,
    pub out_msgs_per_s: Option<f64>,
    pub restarts: u64,
}

async fn received(ctx: &RunCtx) -> Option<u64> {
    let t = ctx.cfg.connect_timeout.min(Duration::from_secs(2));
    Some(ctx.target.stats(t).await?.broker?.received)
}

/// Reads the broker at the window's start (None: no broker).
pub async fn mark(ctx: &RunCtx) -> Option<Mark> {
    let b = ctx.broker.as_ref()?;
    b.mark_peak();
    Some(Mark {
        sample: b.sample().await,
        received: received(ctx).await,
        at: Instant::now(),
    })
}

/// The broker's figures from `m` to now, with `restarts` done in between.
pub async fn window(ctx: &RunCtx, m: Option<Mark>, restarts: u64) -> Option<BrokerWindow> {
    let (b, m) = (ctx.broker.as_ref()?, m?);
    let now = b.sample().await;
    let secs = m.at.elapsed().as_secs_f64();
    let rate = |n: u64| (secs > 0.0).then(|| round3(n as f64 / secs));
    let (c0, c1) = (m.sample.counters, now.counters);
    let in_msgs = c0.zip(c1).map(|(a, b)| b.in_msgs.saturating_sub(a.in_msgs));
    let out_msgs = match c0.zip(c1).and_then(|(a, b)| a.out_msgs.zip(b.out_msgs)) {
        Some((a, b)) => Some(b.saturating_sub(a)),
        // Redis does not count what it sends: what the instances received from it.
        None => match (m.received, received(ctx).await) {
            (Some(a), Some(b)) if b >= a => Some(b - a),
            _ => None,
        },
    };
    Some(BrokerWindow {
        cpu_s: m
            .sample
            .cpu_s
            .zip(now.cpu_s)
            .map(|(a, b)| round3((b - a).max(0.0))),
        rss_peak_bytes: b.peak(),
        in_msgs_per_s: in_msgs.and_then(rate),
        out_msgs_per_s: out_msgs.and_then(rate),
        restarts,
    })
}

/// The summary's figures: the window's, CPU per million deliveries (`delivered` in the
/// window), and the server's final view of the broker (filled in later).
pub fn figures(ctx: &RunCtx, w: BrokerWindow, delivered: u64) -> Option<BrokerFigures> {
    let kind = ctx.cfg.broker?;
    Some(BrokerFigures {
        kind: kind.name().into(),
        cpu_s: w.cpu_s,
        cpu_s_per_million_deliveries: w
            .cpu_s
            .filter(|_| delivered > 0)
            .map(|c| round3(c * 1e6 / delivered as f64)),
        rss_peak_bytes: w.rss_peak_bytes,
        in_msgs_per_s: w.in_msgs_per_s,
        out_msgs_per_s: w.out_msgs_per_s,
        messages_per_s: w
            .in_msgs_per_s
            .zip(w.out_msgs_per_s)
            .map(|(a, b)| round3(a + b)),
        restarts: w.restarts,
        status: None,
    })
}

/// When the window begun at `started` (ending at `end`) has its broker restart.
pub fn due(ctx: &RunCtx, started: Instant, end: Instant) -> Option<Instant> {
    let at = started + ctx.cfg.fault.restart_broker?;
    ctx.broker.as_ref()?;
    (at < end).then_some(at)
}

/// Waits until `at` and restarts the broker, printing a progress line; the number of
/// restarts done (0 or 1). A restart that fails stops the run, with why.
pub async fn restart_in_window(ctx: &RunCtx, tech: Technique, at: Option<Instant>) -> u64 {
    let (Some(at), Some(b)) = (at, ctx.broker.as_ref()) else {
        return 0;
    };
    tokio::select! {
        _ = ctx.shutdown.cancelled() => return 0,
        _ = tokio::time::sleep_until(at.into()) => {}
    }
    let begun = Instant::now();
    match b.restart().await {
        Ok((old, new)) => {
            ctx.progress.println(&format!(
                "{tech:>9}: broker {} restarted {} into the window (pid {old} stopped, pid {new} up in {} ms)",
                b.kind.name(),
                humantime::format_duration(ctx.cfg.fault.restart_broker.unwrap_or_default()),
                begun.elapsed().as_millis()
            ));
            1
        }
        Err(e) => {
            let mut f = ctx.failure.lock().unwrap_or_else(|e| e.into_inner());
            if f.is_none() {
                *f = Some(format!("could not restart the broker: {e}"));
            }
            drop(f);
            ctx.shutdown.cancel();
            0
        }
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

//! How requests arrive: the closed model (a fixed number of clients, each sending its next
//! request as its stream ends) or the open model (Poisson arrivals at a rate, whatever is in
//! flight). Requests start until the window's end, those starting inside it are counted; the
//! driver then waits for its streams to end. Cancelling `stop` (the drain's end, Ctrl-C) cuts
//! every stream still open: each is counted as failed, none is lost from the accounts.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::plan::Plan;
use super::{one_request, recorder::ReqRecorder};
use crate::config::Arrival;
use crate::config::request::MAX_STREAMS;

/// When requests start, and which are counted.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub start: Instant,
    pub end: Instant,
}

/// A closed-model client waits this long after a failed request before the next.
const FAILED_PAUSE: Duration = Duration::from_millis(100);

/// Runs the arrivals of `plan` until the window ends, then until every stream has ended (or
/// `stop`). Requests are numbered from 0 in the order they start.
pub async fn run(plan: Arc<Plan>, window: Window, stop: CancellationToken) {
    match plan.params.arrival {
        Arrival::Closed { concurrency } => closed(plan, concurrency, window, stop).await,
        Arrival::Open { rate } => open(plan, rate, window, stop).await,
    }
}

async fn closed(plan: Arc<Plan>, concurrency: u64, window: Window, stop: CancellationToken) {
    let numbers = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut tasks = JoinSet::new();
    for _ in 0..concurrency {
        let (plan, stop, numbers) = (plan.clone(), stop.clone(), numbers.clone());
        tasks.spawn(async move {
            while !stop.is_cancelled() {
                let now = Instant::now();
                if now >= window.end {
                    break;
                }
                let index = numbers.fetch_add(1, Relaxed);
                let ok = one_request(&plan, index, now >= window.start, &stop).await;
                if !ok {
                    tokio::select! {
                        _ = stop.cancelled() => break,
                        _ = tokio::time::sleep(FAILED_PAUSE) => {}
                    }
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
}

async fn open(plan: Arc<Plan>, rate: f64, window: Window, stop: CancellationToken) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(plan.seed);
    let mut tasks = JoinSet::new();
    let mut next = Instant::now();
    let mut index = 0u64;
    loop {
        if next >= window.end || stop.is_cancelled() {
            break;
        }
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep_until(next.into()) => {}
        }
        while tasks.try_join_next().is_some() {}
        let counted = next >= window.start;
        if plan.rr.open.load(Relaxed) >= MAX_STREAMS {
            // More streams in flight than the run can hold: this arrival is dropped, counted.
            plan.rr.overflow(counted);
        } else {
            let (p, s) = (plan.clone(), stop.clone());
            tasks.spawn(async move {
                one_request(&p, index, counted, &s).await;
            });
            index += 1;
        }
        next += exponential_gap(&mut rng, rate);
    }
    while tasks.join_next().await.is_some() {}
}

/// A gap between Poisson arrivals at `rate` per second.
fn exponential_gap(rng: &mut impl Rng, rate: f64) -> Duration {
    let u: f64 = rng.random_range(f64::EPSILON..1.0);
    Duration::from_secs_f64((-u.ln() / rate).min(3600.0))
}

/// Waits until no counted stream is open (or `deadline`).
pub async fn counted_ended(rr: &ReqRecorder, deadline: Instant) -> bool {
    loop {
        if rr.counted_open.load(Relaxed) == 0 {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poisson_gaps_have_the_rate_as_mean() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let n = 20_000;
        let total: f64 = (0..n)
            .map(|_| exponential_gap(&mut rng, 50.0).as_secs_f64())
            .sum();
        let mean = total / f64::from(n);
        assert!((mean - 0.02).abs() < 0.001, "mean gap {mean}");
    }
}

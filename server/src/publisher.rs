//! The internal publisher (`--publish-rate`, `--payload-bytes`, `--publish-topic`): publishes
//! on a fixed schedule so the demo page comes alive without a load generator. Payloads carry
//! the load generator's `pb1` header (`pb1 0 SEQ SCHEDULED_US xxx...`), so a subscriber can
//! measure latency against it too (clocks: same machine, wall clock). In a cluster the
//! supervisor runs the schedule ([`Schedule`]), so messages are not multiplied by the processes
//! (over a broker, the first process does: it publishes through the broker).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio_util::sync::CancellationToken;

use crate::state::State;

/// Builds a payload of `size` bytes (or just the header when that is longer).
pub fn payload(seq: u64, scheduled_us: u64, size: usize) -> String {
    let mut s = format!("pb1 0 {seq} {scheduled_us} ");
    if s.len() < size {
        s.extend(std::iter::repeat_n('x', size - s.len()));
    }
    s
}

/// A fixed publishing schedule (open model: a late tick keeps its scheduled time).
#[derive(Debug)]
pub struct Schedule {
    period: Duration,
    start_wall: Duration,
    iv: tokio::time::Interval,
    n: u64,
}

impl Schedule {
    /// `rate` messages per second (must be > 0).
    pub fn new(rate: f64) -> Schedule {
        let period = Duration::from_secs_f64(1.0 / rate);
        let start_wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let mut iv = tokio::time::interval(period);
        iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        Schedule {
            period,
            start_wall,
            iv,
            n: 0,
        }
    }

    /// Waits for the next tick; returns its scheduled wall-clock time in µs since the epoch.
    pub async fn next(&mut self) -> u64 {
        self.iv.tick().await;
        let scheduled = self.start_wall + self.period.mul_f64(self.n as f64);
        self.n += 1;
        scheduled.as_micros() as u64
    }
}

/// Publishes until `shutdown`.
pub async fn run(state: State, shutdown: CancellationToken) {
    let rate = state.args.publish_rate;
    if rate <= 0.0 {
        return;
    }
    let Ok(topic) = state.hub.topic(&state.args.publish_topic) else {
        eprintln!("pushbench serve: internal publisher: --max-topics reached; not publishing");
        return;
    };
    let mut schedule = Schedule::new(rate);
    loop {
        let scheduled_us = tokio::select! {
            _ = shutdown.cancelled() => return,
            t = schedule.next() => t,
        };
        let seq = topic.latest() + 1;
        let data = payload(seq, scheduled_us, state.args.payload_bytes);
        if state.broker().is_some() {
            // Over a broker (the ids are the broker's): refused while it is lost.
            let _ = state
                .publish_anywhere(&state.args.publish_topic, None, &data)
                .await;
            continue;
        }
        if topic.publish(None, &data).is_ok() {
            state
                .metrics
                .published
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

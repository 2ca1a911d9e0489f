//! The internal publisher (`--publish-rate`, `--payload-bytes`, `--publish-topic`): publishes
//! on a fixed schedule so the demo page comes alive without a load generator. Payloads carry
//! the load generator's `pb1` header (`pb1 0 SEQ SCHEDULED_US xxx...`), so a subscriber can
//! measure latency against it too (clocks: same machine, wall clock).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio_util::sync::CancellationToken;

use crate::State;

/// Builds a payload of `size` bytes (or just the header when that is longer).
pub fn payload(seq: u64, scheduled_us: u64, size: usize) -> String {
    let mut s = format!("pb1 0 {seq} {scheduled_us} ");
    if s.len() < size {
        s.extend(std::iter::repeat_n('x', size - s.len()));
    }
    s
}

/// Publishes until `shutdown`.
pub async fn run(state: State, shutdown: CancellationToken) {
    let rate = state.args.publish_rate;
    if rate <= 0.0 {
        return;
    }
    let period = Duration::from_secs_f64(1.0 / rate);
    let start_wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let mut iv = tokio::time::interval(period);
    iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let topic = state.hub.topic(&state.args.publish_topic);
    let mut n: u64 = 0;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = iv.tick() => {}
        }
        let scheduled = start_wall + period.mul_f64(n as f64);
        n += 1;
        let seq = topic.latest() + 1;
        let data = payload(seq, scheduled.as_micros() as u64, state.args.payload_bytes);
        if topic.publish(None, &data).is_ok() {
            state
                .metrics
                .published
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

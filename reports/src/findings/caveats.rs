//! The findings' cautions: when a run's memory or CPU figures cannot bear much weight (the
//! server's idle RSS grew between techniques; CPU times short against the kernel's 10 ms tick).

use crate::colors::display_name as name;
use crate::fmt;
use crate::model::TechniqueSummary;

/// When the server's idle RSS grew from one technique to the next, memory freed by earlier
/// techniques is reused by later ones and their per-connection figures read low. Say so.
pub fn memory_caveat(ts: &[TechniqueSummary]) -> Option<String> {
    let idle: Vec<(&TechniqueSummary, u64)> = ts
        .iter()
        .filter_map(|t| Some((t, t.server_rss_idle_bytes?)))
        .collect();
    let (first, lo) = *idle.first()?;
    let (last, hi) = *idle.iter().max_by_key(|(_, b)| *b)?;
    if idle.len() < 2 || (hi as f64) < lo as f64 * 1.2 {
        return None;
    }
    Some(format!(
        "Caution on memory per connection: the server's idle RSS grew from {} before {} to {} \
         before {}. Memory the allocator kept from earlier techniques is reused by later ones, so \
         their per-connection figures can read low; run one technique per server process (or \
         a technique alone) for a clean figure.",
        fmt::bytes(lo as f64),
        name(first.technique.name()),
        fmt::bytes(hi as f64),
        name(last.technique.name())
    ))
}

/// The smallest server CPU time of the run, when it is short against /proc's 10 ms tick.
pub fn cpu_caveat(ts: &[TechniqueSummary]) -> Option<String> {
    let least = ts
        .iter()
        .filter_map(|t| t.server_cpu_s)
        .filter(|s| *s > 0.0)
        .fold(f64::INFINITY, f64::min);
    if !least.is_finite() || least >= 0.5 {
        return None;
    }
    Some(format!(
        "Caution on CPU: the shortest server CPU time here is {} s, and the kernel accounts CPU \
         time in 10 ms ticks, so CPU per message is good to about ±{} at worst; a longer \
         --duration gives finer figures.",
        fmt::sig(least),
        fmt::percent((0.01 / least).min(1.0))
    ))
}

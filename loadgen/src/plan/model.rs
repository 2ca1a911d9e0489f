//! The capacity model: per-technique costs fitted from a sweep's steps, scaled to a target.
//!
//! Costs fitted (each a [`LinearFit`] with its quality and measured range):
//! - memory per connection: server RSS against clients (slope) plus a per-process base;
//! - CPU per unit of work: server cores against delivered messages per second (for short poll,
//!   against requests per second, since its work follows the poll schedule, not the messages);
//! - requests: per delivered message (per client-second for short poll);
//! - bytes on the wire per delivered message, as framing overhead over the payload, so a
//!   target with another payload size is answered.
//!
//! Assumptions (stated in every plan): the target runs on machines like the one measured; costs
//! stay linear; the sweep's knee (largest client count that met the objective) is the most one
//! machine may carry.

use serde::Serialize;

use super::fit::{FitError, LinearFit, fit_linear, fit_through_origin};
use crate::technique::Technique;

/// One sweep step of one technique, as read from `sweep.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub technique: Technique,
    pub clients: u64,
    pub duration_s: f64,
    pub rate: f64,
    pub payload_bytes: u64,
    pub delivered: u64,
    pub requests: u64,
    pub bytes_up: u64,
    pub bytes_down: u64,
    pub server_cpu_s: f64,
    pub server_rss_bytes: u64,
    pub slo_met: bool,
}

/// The question: how many clients, at what rate, with what payloads, on what machines.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Target {
    pub clients: u64,
    /// Messages per second each client receives.
    pub rate: f64,
    pub payload_bytes: u64,
    /// Cores of one machine (the measured machine's, unless told otherwise).
    pub machine_cores: f64,
    /// Memory of one machine, bytes.
    pub machine_memory_bytes: f64,
}

/// The answer for one technique.
#[derive(Debug, Clone, Serialize)]
pub struct TechniquePlan {
    pub technique: Technique,
    /// Largest client count that met the objective on one machine (None: no step met it).
    pub knee_clients: Option<u64>,
    pub memory_per_connection_bytes: f64,
    pub cpu_core_s_per_unit: f64,
    /// `message` or `request`: what the CPU cost is charged per.
    pub cpu_unit: &'static str,
    pub requests_per_s: f64,
    pub bandwidth_down_bytes_per_s: f64,
    pub bandwidth_up_bytes_per_s: f64,
    pub cores: f64,
    pub memory_bytes: f64,
    pub machines: u64,
    /// What decided the machine count: `knee`, `cpu` or `memory`.
    pub machines_limited_by: &'static str,
    /// True when the target lies outside the measured range of any fit.
    pub extrapolated: bool,
    pub memory_fit: LinearFit,
    pub cpu_fit: LinearFit,
    pub requests_fit: LinearFit,
    pub bytes_down_fit: LinearFit,
    pub bytes_up_fit: LinearFit,
    /// The steps used (those that met the objective, or all when fewer than 2 did).
    pub steps_used: usize,
}

/// Why a technique could not be planned.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{technique}: {what}: {source}")]
    Fit {
        technique: Technique,
        what: &'static str,
        source: FitError,
    },
    #[error("{0}: no sweep steps")]
    NoSteps(Technique),
}

/// Plans one technique from its sweep steps.
pub fn plan_technique(steps: &[Step], target: &Target) -> Result<TechniquePlan, PlanError> {
    let technique = steps
        .first()
        .map(|s| s.technique)
        .ok_or(PlanError::NoSteps(Technique::Sse))?;
    let knee_clients = steps.iter().filter(|s| s.slo_met).map(|s| s.clients).max();
    let met: Vec<&Step> = steps.iter().filter(|s| s.slo_met).collect();
    let used: Vec<&Step> = if met.len() >= 2 {
        met
    } else {
        steps.iter().collect()
    };
    let fit_err = |what| {
        move |source| PlanError::Fit {
            technique,
            what,
            source,
        }
    };
    let per_s = |v: f64, s: &Step| v / s.duration_s.max(1e-9);
    let poll = technique == Technique::Poll;

    let memory_fit = fit_linear(
        &used
            .iter()
            .map(|s| (s.clients as f64, s.server_rss_bytes as f64))
            .collect::<Vec<_>>(),
    )
    .map_err(fit_err("memory against clients"))?;
    // Work units per second: messages (push techniques) or requests (short poll).
    let work = |s: &Step| per_s(if poll { s.requests } else { s.delivered } as f64, s);
    let cpu_fit = fit_linear(
        &used
            .iter()
            .map(|s| (work(s), per_s(s.server_cpu_s, s)))
            .collect::<Vec<_>>(),
    )
    .map_err(fit_err("CPU against work"))?;
    // Requests per client-second (poll) or per delivered message (the rest).
    let req_x = |s: &Step| {
        if poll {
            s.clients as f64 * s.duration_s
        } else {
            s.delivered as f64
        }
    };
    let requests_fit = fit_through_origin(
        &used
            .iter()
            .map(|s| (req_x(s), s.requests as f64))
            .collect::<Vec<_>>(),
    )
    .map_err(fit_err("requests"))?;
    // Framing overhead per delivered message, over the payload.
    let overhead = |bytes: u64, s: &Step, payload: bool| {
        (
            s.delivered as f64,
            bytes as f64
                - if payload {
                    (s.payload_bytes * s.delivered) as f64
                } else {
                    0.0
                },
        )
    };
    let bytes_down_fit = fit_through_origin(
        &used
            .iter()
            .map(|s| overhead(s.bytes_down, s, true))
            .collect::<Vec<_>>(),
    )
    .map_err(fit_err("bytes down per message"))?;
    let bytes_up_fit = fit_through_origin(
        &used
            .iter()
            .map(|s| overhead(s.bytes_up, s, false))
            .collect::<Vec<_>>(),
    )
    .map_err(fit_err("bytes up per message"))?;

    let clients = target.clients as f64;
    let msgs_per_s = clients * target.rate;
    let requests_per_s = if poll {
        requests_fit.slope * clients
    } else {
        requests_fit.slope * msgs_per_s
    };
    let work_target = if poll { requests_per_s } else { msgs_per_s };
    let by_knee = knee_clients
        .map(|k| (clients / k.max(1) as f64).ceil())
        .unwrap_or(f64::INFINITY);
    let cpu_variable = (cpu_fit.slope * work_target).max(0.0);
    let mem_variable = (memory_fit.slope * clients).max(0.0);
    let base_mem = memory_fit.intercept.max(0.0);
    let base_cpu = cpu_fit.intercept.max(0.0);
    // Machines needed by each limit (each machine carries its own base cost).
    let by_cpu = (cpu_variable / (target.machine_cores - base_cpu).max(1e-9)).ceil();
    let by_mem = (mem_variable / (target.machine_memory_bytes - base_mem).max(1.0)).ceil();
    let (machines, limited_by) = [(by_knee, "knee"), (by_cpu, "cpu"), (by_mem, "memory")]
        .into_iter()
        .fold(
            (1.0_f64, "knee"),
            |acc, (m, why)| if m > acc.0 { (m, why) } else { acc },
        );
    let machines_u = if machines.is_finite() {
        machines as u64
    } else {
        u64::MAX
    };
    let mf = machines.min(1e12);
    let extrapolated = memory_fit.extrapolates(clients)
        || cpu_fit.extrapolates(work_target / mf)
        || memory_fit.extrapolates(clients / mf);
    Ok(TechniquePlan {
        technique,
        knee_clients,
        memory_per_connection_bytes: memory_fit.slope,
        cpu_core_s_per_unit: cpu_fit.slope,
        cpu_unit: if poll { "request" } else { "message" },
        requests_per_s,
        bandwidth_down_bytes_per_s: msgs_per_s
            * (bytes_down_fit.slope + target.payload_bytes as f64),
        bandwidth_up_bytes_per_s: msgs_per_s * bytes_up_fit.slope,
        cores: cpu_variable + base_cpu * mf,
        memory_bytes: mem_variable + base_mem * mf,
        machines: machines_u,
        machines_limited_by: limited_by,
        extrapolated,
        memory_fit,
        cpu_fit,
        requests_fit,
        bytes_down_fit,
        bytes_up_fit,
        steps_used: used.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Synthetic SSE steps with known costs: 10 KiB per connection + 30 MB base, 20 µs of CPU
    /// per message, 60 bytes of framing per message, 1 message/s per client.
    fn steps() -> Vec<Step> {
        [1000u64, 2000, 4000, 8000]
            .iter()
            .map(|&c| Step {
                technique: Technique::Sse,
                clients: c,
                duration_s: 10.0,
                rate: 1.0,
                payload_bytes: 256,
                delivered: c * 10,
                requests: c,
                bytes_up: c * 150,
                bytes_down: c * 10 * (256 + 60),
                server_cpu_s: 0.05 * 10.0 + 20e-6 * (c * 10) as f64,
                server_rss_bytes: 30_000_000 + 10_240 * c,
                slo_met: c <= 4000,
            })
            .collect()
    }

    #[test]
    fn recovers_known_costs_and_scales() {
        let target = Target {
            clients: 1_000_000,
            rate: 1.0,
            payload_bytes: 512,
            machine_cores: 2.0,
            machine_memory_bytes: 24e9,
        };
        let p = plan_technique(&steps(), &target).unwrap();
        assert_eq!(p.knee_clients, Some(4000));
        assert_eq!(p.steps_used, 3);
        assert!((p.memory_per_connection_bytes - 10_240.0).abs() < 1e-6);
        assert!((p.cpu_core_s_per_unit - 20e-6).abs() < 1e-12);
        // 1M msgs/s × (60 B framing + 512 B payload)
        assert!((p.bandwidth_down_bytes_per_s - 1e6 * 572.0).abs() < 1.0);
        // 1M clients / 4000 per machine
        assert_eq!(p.machines, 250);
        assert_eq!(p.machines_limited_by, "knee");
        assert!(p.extrapolated);
        assert!((p.cores - (20.0 + 0.05 * 250.0)).abs() < 1e-6);
    }
}

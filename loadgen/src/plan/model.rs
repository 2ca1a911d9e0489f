//! The capacity model: per-technique costs fitted from a sweep's steps, scaled to a target.
//!
//! Costs fitted (each a [`LinearFit`] with its quality and measured range):
//! - memory per connection: server RSS against clients (slope) plus a per-process base;
//! - CPU per unit of work: server cores against delivered messages per second (for short poll,
//!   against requests per second, since its work follows the poll schedule, not the messages);
//! - requests: per delivered message (per client-second for short poll);
//! - bytes on the wire per delivered message, as framing overhead over the payload, so a
//!   target with another payload size is answered (short poll: overhead per request, since
//!   every poll pays its headers whether or not it carries a message).
//!
//! Extrapolation is judged per machine, where the fits apply: a figure is labelled
//! extrapolated when one machine's share of the target (clients, messages/s) lies outside the
//! range the sweep measured, or when the target's rate or payload size lies outside the
//! measured ones (per-message costs were measured at those).
//!
//! Assumptions (stated in every plan): the target runs on machines like the one measured; costs
//! stay linear; the sweep's knee (largest client count that met the objective) is the most one
//! machine may carry.

use serde::Serialize;

use super::fit::{FitError, LinearFit, fit_linear, fit_through_origin};
use crate::technique::Technique;

/// How far (as a share) past the measured range a per-machine figure may lie before it is
/// labelled extrapolated.
pub const EXTRAPOLATION_SLACK: f64 = 0.05;

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
    /// Machines needed; None when no step met the objective (the per-machine limit is unknown).
    pub machines: Option<u64>,
    /// What decided the machine count: `knee`, `cpu`, `memory` or `unknown`.
    pub machines_limited_by: &'static str,
    /// True when no step missed the objective: the real per-machine limit is above the knee.
    pub knee_is_lower_bound: bool,
    /// The figures resting on an extrapolation: any of `machines`, `cores`, `memory`,
    /// `bandwidth`, `requests`.
    pub extrapolated: Vec<&'static str>,
    /// Caveats in words.
    pub notes: Vec<String>,
    pub memory_fit: LinearFit,
    pub cpu_fit: LinearFit,
    pub requests_fit: LinearFit,
    pub bytes_down_fit: LinearFit,
    pub bytes_up_fit: LinearFit,
    /// The steps used (those that met the objective, or all when fewer than 2 did).
    pub steps_used: usize,
    /// Smallest and largest client count of the steps used.
    pub measured_clients: (u64, u64),
}

/// Why a technique could not be planned.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{technique}: {what}: {error}")]
    Fit {
        technique: Technique,
        what: &'static str,
        error: FitError,
    },
    #[error("no sweep steps")]
    NoSteps,
}

/// Plans one technique from its sweep steps.
pub fn plan_technique(steps: &[Step], target: &Target) -> Result<TechniquePlan, PlanError> {
    let technique = steps
        .first()
        .map(|s| s.technique)
        .ok_or(PlanError::NoSteps)?;
    let knee_clients = steps.iter().filter(|s| s.slo_met).map(|s| s.clients).max();
    let met: Vec<&Step> = steps.iter().filter(|s| s.slo_met).collect();
    let used: Vec<&Step> = if met.len() >= 2 {
        met
    } else {
        steps.iter().collect()
    };
    let fit_err = |what| {
        move |error| PlanError::Fit {
            technique,
            what,
            error,
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
    // Framing overhead over the payload: per delivered message, or per request for short
    // poll (every poll pays its headers, with or without a message).
    let overhead = |bytes: u64, s: &Step, payload: bool| {
        let x = if poll { s.requests } else { s.delivered } as f64;
        let carried = if payload {
            (s.payload_bytes * s.delivered) as f64
        } else {
            0.0
        };
        (x, bytes as f64 - carried)
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
    let by_knee = knee_clients.map(|k| (clients / k.max(1) as f64).ceil());
    let cpu_variable = (cpu_fit.slope * work_target).max(0.0);
    let mem_variable = (memory_fit.slope * clients).max(0.0);
    let base_mem = memory_fit.intercept.max(0.0);
    let base_cpu = cpu_fit.intercept.max(0.0);
    // Machines needed by each limit (each machine carries its own base cost).
    let by_cpu = (cpu_variable / (target.machine_cores - base_cpu).max(1e-9)).ceil();
    let by_mem = (mem_variable / (target.machine_memory_bytes - base_mem).max(1.0)).ceil();
    let mut notes = Vec::new();
    let (machines, limited_by) = match by_knee {
        Some(k) => [(k, "knee"), (by_cpu, "cpu"), (by_mem, "memory")]
            .into_iter()
            .fold(
                (1.0_f64, "knee"),
                |acc, (m, why)| {
                    if m > acc.0 { (m, why) } else { acc }
                },
            ),
        None => {
            notes.push(
                "no step met the objective: the per-machine limit is unknown, so is the \
                 machine count (figures assume the fitted costs hold)"
                    .to_string(),
            );
            (by_cpu.max(by_mem).max(1.0), "unknown")
        }
    };
    let mf = if machines.is_finite() {
        machines.min(1e12)
    } else {
        1e12
    };
    let knee_is_lower_bound = knee_clients.is_some() && steps.iter().all(|s| s.slo_met);
    if knee_is_lower_bound {
        notes.push(
            "no step missed the objective: the knee is a lower bound, the machine count an \
             upper bound"
                .to_string(),
        );
    }
    for (what, f) in [
        ("memory per connection", &memory_fit),
        ("CPU per unit", &cpu_fit),
    ] {
        if f.slope <= 0.0 {
            notes.push(format!(
                "{what} is not measurable at these client counts (fitted slope {:.3e} ≤ 0): \
                 sweep larger client counts",
                f.slope
            ));
        } else if f.r2.is_some_and(|r2| r2 < 0.8) {
            notes.push(format!(
                "{what}: poor linear fit (R² {:.2})",
                f.r2.unwrap_or_default()
            ));
        }
    }
    if used.len() < 3 {
        notes.push(format!(
            "the fits rest on {} steps: no R², and nothing shows whether costs stay linear",
            used.len()
        ));
    }
    if used.iter().any(|s| !s.slo_met) {
        notes
            .push("fewer than 2 steps met the objective: the fits include overloaded steps".into());
    }

    // Extrapolation, judged per machine (where the fits were measured).
    let range = |f: fn(&Step) -> f64| {
        used.iter()
            .map(|s| f(s))
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                (a.min(v), b.max(v))
            })
    };
    let outside = |v: f64, (lo, hi): (f64, f64)| v < lo * (1.0 - 1e-9) || v > hi * (1.0 + 1e-9);
    let rate_out = outside(target.rate, range(|s| s.rate));
    let payload_out = outside(
        target.payload_bytes as f64,
        range(|s| s.payload_bytes as f64),
    );
    if rate_out {
        notes.push(format!(
            "target rate {} msg/s lies outside the measured rate(s): per-message costs{} were \
             measured at another rate",
            target.rate,
            if by_knee.is_some() {
                " and the knee"
            } else {
                ""
            }
        ));
    }
    if payload_out {
        notes.push(format!(
            "payload {} B lies outside the measured payload size(s): framing is assumed not to \
             change with it",
            target.payload_bytes
        ));
    }
    // A few percent past the last step is measurement noise (a window's delivered/s is never
    // exactly clients × rate), not an extrapolation.
    let beyond = |f: &LinearFit, x: f64| {
        x < f.x_min * (1.0 - EXTRAPOLATION_SLACK) || x > f.x_max * (1.0 + EXTRAPOLATION_SLACK)
    };
    let mem_out = beyond(&memory_fit, clients / mf);
    let cpu_out = beyond(&cpu_fit, work_target / mf) || rate_out;
    let mut extrapolated = Vec::new();
    if by_knee.is_none()
        || (limited_by == "knee" && rate_out)
        || (limited_by == "cpu" && cpu_out)
        || (limited_by == "memory" && mem_out)
    {
        extrapolated.push("machines");
    }
    if cpu_out {
        extrapolated.push("cores");
    }
    if mem_out {
        extrapolated.push("memory");
    }
    if payload_out || rate_out {
        extrapolated.push("bandwidth");
    }
    if rate_out && !poll {
        extrapolated.push("requests");
    }
    let measured_clients = used.iter().fold((u64::MAX, 0), |(a, b), s| {
        (a.min(s.clients), b.max(s.clients))
    });
    let carried_down = msgs_per_s * target.payload_bytes as f64;
    let framing_x = if poll { requests_per_s } else { msgs_per_s };
    Ok(TechniquePlan {
        technique,
        knee_clients,
        memory_per_connection_bytes: memory_fit.slope,
        cpu_core_s_per_unit: cpu_fit.slope,
        cpu_unit: if poll { "request" } else { "message" },
        requests_per_s,
        bandwidth_down_bytes_per_s: carried_down + framing_x * bytes_down_fit.slope.max(0.0),
        bandwidth_up_bytes_per_s: framing_x * bytes_up_fit.slope.max(0.0),
        cores: cpu_variable + base_cpu * mf,
        memory_bytes: mem_variable + base_mem * mf,
        machines: by_knee.map(|_| mf as u64),
        machines_limited_by: limited_by,
        knee_is_lower_bound,
        extrapolated,
        notes,
        memory_fit,
        cpu_fit,
        requests_fit,
        bytes_down_fit,
        bytes_up_fit,
        steps_used: used.len(),
        measured_clients,
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
        assert_eq!(p.machines, Some(250));
        assert_eq!(p.machines_limited_by, "knee");
        assert!(!p.knee_is_lower_bound);
        // 4000 clients per machine lies inside the measured 1000..4000: only the payload
        // (512 B, measured at 256 B) is outside, which touches the bandwidth alone.
        assert_eq!(p.extrapolated, vec!["bandwidth"]);
        assert!((p.cores - (20.0 + 0.05 * 250.0)).abs() < 1e-6);
        assert!((p.memory_bytes - (10_240.0 * 1e6 + 30e6 * 250.0)).abs() < 1.0);
    }

    #[test]
    fn memory_can_limit_and_small_machines_extrapolate() {
        // 1M × 10 KiB = 10.24 GB of connections. On 100 MB machines that is 147 machines,
        // fewer than the knee's 250: the knee still decides.
        let target = Target {
            clients: 1_000_000,
            rate: 1.0,
            payload_bytes: 256,
            machine_cores: 64.0,
            machine_memory_bytes: 100e6,
        };
        let p = plan_technique(&steps(), &target).unwrap();
        // (100 MB - 30 MB base) / 10 KiB = 6835 clients per machine → 147 machines < 250.
        assert_eq!(p.machines_limited_by, "knee");
        let target = Target {
            machine_memory_bytes: 50e6,
            ..target
        };
        let p = plan_technique(&steps(), &target).unwrap();
        // 10.24 GB / (50 MB - 30 MB base) = 512 machines of 1953 clients each (inside the
        // measured 1000..4000, so nothing is extrapolated).
        assert_eq!(p.machines, Some(512));
        assert_eq!(p.machines_limited_by, "memory");
        assert!(p.extrapolated.is_empty(), "{:?}", p.extrapolated);
    }

    #[test]
    fn no_knee_means_no_machine_count() {
        let mut s = steps();
        for st in &mut s {
            st.slo_met = false;
        }
        let target = Target {
            clients: 1_000_000,
            rate: 2.0,
            payload_bytes: 256,
            machine_cores: 2.0,
            machine_memory_bytes: 24e9,
        };
        let p = plan_technique(&s, &target).unwrap();
        assert_eq!(p.knee_clients, None);
        assert_eq!(p.machines, None);
        assert_eq!(p.machines_limited_by, "unknown");
        assert!(p.extrapolated.contains(&"machines"));
        assert!(
            p.extrapolated.contains(&"requests"),
            "rate 2 was not measured"
        );
        assert!(!p.notes.is_empty());
    }

    #[test]
    fn short_poll_pays_framing_per_request() {
        // 1 poll/s per client, a message every other poll: 200 B of headers per poll down,
        // 100 B up, 5 µs of CPU per request.
        let s: Vec<Step> = [1000u64, 2000, 4000]
            .iter()
            .map(|&c| Step {
                technique: Technique::Poll,
                clients: c,
                duration_s: 10.0,
                rate: 0.5,
                payload_bytes: 256,
                delivered: c * 5,
                requests: c * 10,
                bytes_up: c * 10 * 100,
                bytes_down: c * 10 * 200 + c * 5 * 256,
                server_cpu_s: 5e-6 * (c * 10) as f64,
                server_rss_bytes: 10_000_000 + 8_000 * c,
                slo_met: true,
            })
            .collect();
        let target = Target {
            clients: 100_000,
            rate: 0.5,
            payload_bytes: 256,
            machine_cores: 2.0,
            machine_memory_bytes: 24e9,
        };
        let p = plan_technique(&s, &target).unwrap();
        assert_eq!(p.cpu_unit, "request");
        assert!((p.requests_per_s - 100_000.0).abs() < 1e-6);
        assert!((p.bandwidth_up_bytes_per_s - 100_000.0 * 100.0).abs() < 1e-3);
        assert!(
            (p.bandwidth_down_bytes_per_s - (100_000.0 * 200.0 + 50_000.0 * 256.0)).abs() < 1e-3
        );
        assert!((p.cpu_core_s_per_unit - 5e-6).abs() < 1e-12);
        assert!(p.knee_is_lower_bound);
        assert_eq!(p.machines, Some(25));
    }
}

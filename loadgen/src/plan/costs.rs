//! A technique's costs fitted from its sweep steps ([`fit`]), and scaled to a target: the
//! machines each limit calls for, and which one decides ([`size`]).

use super::fit::{LinearFit, fit_linear, fit_through_origin};
use super::model::{PlanError, Step, Target};
use crate::technique::Technique;

/// The fitted costs of one technique.
#[derive(Debug, Clone)]
pub struct Fits {
    /// Server RSS against clients (slope: per connection; intercept: per process).
    pub memory: LinearFit,
    /// Server cores against work per second (messages, or requests for short poll).
    pub cpu: LinearFit,
    /// Requests per delivered message (per client-second for short poll).
    pub requests: LinearFit,
    /// Framing bytes down per delivered message (per request for short poll).
    pub bytes_down: LinearFit,
    /// Bytes up per delivered message (per request for short poll).
    pub bytes_up: LinearFit,
}

/// Fits the costs of `technique` over the steps `used`.
pub fn fit(technique: Technique, used: &[&Step]) -> Result<Fits, PlanError> {
    let fit_err = |what| {
        move |error| PlanError::Fit {
            technique,
            what,
            error,
        }
    };
    let per_s = |v: f64, s: &Step| v / s.duration_s.max(1e-9);
    let poll = technique == Technique::Poll;
    let points = |f: &dyn Fn(&Step) -> (f64, f64)| used.iter().map(|s| f(s)).collect::<Vec<_>>();

    let memory = fit_linear(&points(&|s| (s.clients as f64, s.server_rss_bytes as f64)))
        .map_err(fit_err("memory against clients"))?;
    // Work units per second: messages (push techniques) or requests (short poll).
    let work = |s: &Step| per_s(if poll { s.requests } else { s.delivered } as f64, s);
    let cpu = fit_linear(&points(&|s| (work(s), per_s(s.server_cpu_s, s))))
        .map_err(fit_err("CPU against work"))?;
    // Requests per client-second (poll) or per delivered message (the rest).
    let req_x = |s: &Step| {
        if poll {
            s.clients as f64 * s.duration_s
        } else {
            s.delivered as f64
        }
    };
    let requests = fit_through_origin(&points(&|s| (req_x(s), s.requests as f64)))
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
    let bytes_down = fit_through_origin(&points(&|s| overhead(s.bytes_down, s, true)))
        .map_err(fit_err("bytes down per message"))?;
    let bytes_up = fit_through_origin(&points(&|s| overhead(s.bytes_up, s, false)))
        .map_err(fit_err("bytes up per message"))?;
    Ok(Fits {
        memory,
        cpu,
        requests,
        bytes_down,
        bytes_up,
    })
}

/// The costs scaled to a target.
#[derive(Debug, Clone)]
pub struct Size {
    pub msgs_per_s: f64,
    pub requests_per_s: f64,
    /// Work units per second (messages, or requests for short poll).
    pub work: f64,
    /// Machines by the knee (None: no step met the objective).
    pub by_knee: Option<f64>,
    pub cpu_variable: f64,
    pub mem_variable: f64,
    /// Per-process base costs (each machine carries its own).
    pub base_cpu: f64,
    pub base_mem: f64,
    /// Machines needed (bounded, finite).
    pub machines: f64,
    /// What decided the machine count: `knee`, `cpu`, `memory` or `unknown`.
    pub limited_by: &'static str,
}

/// Scales `fits` to `target`: the machines each limit (the knee, CPU, memory) calls for, and
/// the largest. With no knee the count is unknown (a note says so).
pub fn size(
    fits: &Fits,
    target: &Target,
    knee_clients: Option<u64>,
    poll: bool,
    notes: &mut Vec<String>,
) -> Size {
    let clients = target.clients as f64;
    let msgs_per_s = clients * target.rate;
    let requests_per_s = if poll {
        fits.requests.slope * clients
    } else {
        fits.requests.slope * msgs_per_s
    };
    let work = if poll { requests_per_s } else { msgs_per_s };
    let by_knee = knee_clients.map(|k| (clients / k.max(1) as f64).ceil());
    let cpu_variable = (fits.cpu.slope * work).max(0.0);
    let mem_variable = (fits.memory.slope * clients).max(0.0);
    let base_mem = fits.memory.intercept.max(0.0);
    let base_cpu = fits.cpu.intercept.max(0.0);
    // Machines needed by each limit (each machine carries its own base cost).
    let by_cpu = (cpu_variable / (target.machine_cores - base_cpu).max(1e-9)).ceil();
    let by_mem = (mem_variable / (target.machine_memory_bytes - base_mem).max(1.0)).ceil();
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
    Size {
        msgs_per_s,
        requests_per_s,
        work,
        by_knee,
        cpu_variable,
        mem_variable,
        base_cpu,
        base_mem,
        machines: if machines.is_finite() {
            machines.min(1e12)
        } else {
            1e12
        },
        limited_by,
    }
}

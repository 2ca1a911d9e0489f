//! What a plan says: each technique's row of plan.json / plan.csv, the assumptions stated with
//! it, and the table printed on stdout.

use reports::plan_page::{PlanDoc, PlanRow};
use reports::sweep::{self as sw, SweepDoc};

use super::model::TechniquePlan;

pub fn to_row(p: &TechniquePlan, outcome: Option<&sw::Outcome>) -> PlanRow {
    let mut notes = p.notes.clone();
    if let Some(r) = outcome.and_then(|o| o.broke_reason.as_deref()) {
        if let Some(at) = outcome.and_then(|o| o.broke_at) {
            notes.push(format!("the sweep stopped at {at} clients: {r}"));
        }
    }
    PlanRow {
        technique: p.technique.name().into(),
        knee_clients: p.knee_clients,
        knee_is_lower_bound: p.knee_is_lower_bound,
        machines: p.machines,
        limited_by: p.machines_limited_by.into(),
        cores: round_sig(p.cores),
        memory_bytes: p.memory_bytes.round(),
        bandwidth_down_bytes_per_s: p.bandwidth_down_bytes_per_s.round(),
        bandwidth_up_bytes_per_s: p.bandwidth_up_bytes_per_s.round(),
        requests_per_s: round_sig(p.requests_per_s),
        memory_per_connection_bytes: p.memory_per_connection_bytes.round(),
        cpu_core_s_per_unit: p.cpu_core_s_per_unit,
        cpu_unit: p.cpu_unit.into(),
        memory_r2: p.memory_fit.r2,
        cpu_r2: p.cpu_fit.r2,
        points_used: p.steps_used,
        measured_clients_min: p.measured_clients.0,
        measured_clients_max: p.measured_clients.1,
        extrapolated: p.extrapolated.join(" "),
        notes: notes.join("; "),
        broker_kind: None,
        broker_core_s_per_publish_instance: None,
        broker_fit_points: None,
        broker_publishes_per_s: None,
        broker_instances: None,
        broker_messages_per_s: None,
        broker_cores: None,
        broker_verdict: None,
    }
}

/// Rounds to 4 significant figures (the CSV keeps plain numbers).
fn round_sig(v: f64) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let mag = 10f64.powf(v.abs().log10().floor() - 3.0);
    (v / mag).round() * mag
}

pub fn assumptions(sweep: &SweepDoc) -> Vec<String> {
    let m = &sweep.machine;
    let poll_ms = sweep.run_params["poll_interval_ms"].as_u64();
    let mut a = vec![
        format!(
            "Machines like the one measured ({}, {} cores, {}); the sweep ran the clients and the \
             server on that same machine over loopback, so a server with a machine to itself may \
             carry more.",
            m.cpu_model.as_deref().unwrap_or("unknown CPU"),
            m.cores.map(|c| c.to_string()).unwrap_or_else(|| "?".into()),
            m.memory_bytes
                .map(|b| format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64))
                .unwrap_or_else(|| "unknown memory".into())
        ),
        "Linear regime: memory grows by a fixed amount per connection above a per-machine base, \
         CPU by a fixed amount per delivered message (per request for short poll) above a base; \
         the fits use the steps that met the objective. Figures resting on values outside the \
         measured range are labelled extrapolated."
            .into(),
        format!(
            "The knee (the largest client count whose step met the objective: p99 ≤ {} µs, at \
             most {} lost, at most {} errors) is the most one machine may carry; the machine \
             count is the largest of what the knee, the CPU and the memory require.",
            sweep.slo.p99_us, sweep.slo.max_lost, sweep.slo.max_errors
        ),
        "Each machine fans every message out to its own clients; getting messages to every \
         machine (a broker) is not in the figures. Cores, memory and bandwidth are the servers' \
         totals; the load generator's cost is not included."
            .into(),
    ];
    if let Some(ms) = poll_ms {
        a.push(format!(
            "Short poll is costed at the measured poll interval ({ms} ms): its requests, CPU and \
             bandwidth follow the polls, not the messages."
        ));
    }
    a
}

/// Stated when the sweep ran with a broker (`run --broker`).
pub const BROKER_ASSUMPTION: &str = "The sweep ran with a broker: its CPU is a resource apart \
     from the servers' (not in their cores), fitted per publish × server instance (each \
     message is stored once and sent to every instance) through the origin and scaled to the \
     target's publishes and the instances sized here (machines × the instances each measured \
     machine ran). Redis runs commands on one thread: above ~0.8 of one core one Redis will \
     not hold.";

/// The table printed on stdout.
pub fn table(doc: &PlanDoc) -> String {
    use std::fmt::Write as _;
    let t = &doc.target;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "plan: {} clients × {} msg/s × {} B payload; machines of {} cores, {:.1} GiB ({})",
        t.clients,
        t.rate,
        t.payload_bytes,
        t.machine_cores,
        t.machine_memory_bytes / (1u64 << 30) as f64,
        t.machine_source
    );
    let _ = writeln!(
        s,
        "{:<10} {:>9} {:<8} {:>9} {:>9} {:>11} {:>13} {:>12} {:>11} {:>10} {:>13} {:>11}  extrapolated",
        "technique",
        "machines",
        "limit",
        "knee",
        "cores",
        "memory GiB",
        "down Gbit/s",
        "up Mbit/s",
        "requests/s",
        "KiB/conn",
        "µs CPU/unit",
        "R² mem/cpu",
    );
    let r2 = |v: Option<f64>| v.map(|v| format!("{v:.2}")).unwrap_or_else(|| "-".into());
    for r in &doc.rows {
        let _ = writeln!(
            s,
            "{:<10} {:>9} {:<8} {:>9} {:>9.1} {:>11.1} {:>13.3} {:>12.1} {:>11.0} {:>10.1} {:>13} {:>11}  {}",
            r.technique,
            r.machines
                .map(|m| m.to_string())
                .unwrap_or_else(|| "?".into()),
            r.limited_by,
            match r.knee_clients {
                Some(k) if r.knee_is_lower_bound => format!(">={k}"),
                Some(k) => k.to_string(),
                None => "none".into(),
            },
            r.cores,
            r.memory_bytes / (1u64 << 30) as f64,
            r.bandwidth_down_bytes_per_s * 8.0 / 1e9,
            r.bandwidth_up_bytes_per_s * 8.0 / 1e6,
            r.requests_per_s,
            r.memory_per_connection_bytes / 1024.0,
            format!(
                "{:.2}/{}",
                r.cpu_core_s_per_unit * 1e6,
                if r.cpu_unit == "request" {
                    "req"
                } else {
                    "msg"
                }
            ),
            format!("{}/{}", r2(r.memory_r2), r2(r.cpu_r2)),
            if r.extrapolated.is_empty() {
                "-"
            } else {
                &r.extrapolated
            },
        );
    }
    for r in doc.rows.iter().filter(|r| !r.notes.is_empty()) {
        let _ = writeln!(s, "  {}: {}", r.technique, r.notes);
    }
    for r in &doc.rows {
        if let Some(kind) = &r.broker_kind {
            let _ = writeln!(
                s,
                "  {} broker ({kind}): {} µs CPU per publish × instance; {} publishes/s × {} \
                 instances = {} messages/s, {} cores: {}",
                r.technique,
                opt(r.broker_core_s_per_publish_instance.map(|v| v * 1e6), 3),
                opt(r.broker_publishes_per_s, 1),
                r.broker_instances
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| "?".into()),
                opt(r.broker_messages_per_s, 0),
                opt(r.broker_cores, 3),
                r.broker_verdict.as_deref().unwrap_or("")
            );
        }
    }
    for k in &doc.skipped {
        let _ = writeln!(s, "  {}: not planned: {}", k.technique, k.reason);
    }
    s
}

/// A figure with `places` decimals, `?` when unknown.
fn opt(v: Option<f64>, places: usize) -> String {
    v.map(|v| format!("{v:.places$}"))
        .unwrap_or_else(|| "?".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_to_four_figures() {
        assert_eq!(round_sig(123_456.0), 123_500.0);
        assert_eq!(round_sig(0.0), 0.0);
    }
}

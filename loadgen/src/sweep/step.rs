//! One sweep step judged against the objective, and its row of sweep.csv, from the step's
//! run summary.

use std::time::Duration;

use reports::sweep::{Slo, StepRow};

use contract::run_dir::TechniqueSummary;

/// The objective as given on the command line (`ttft` / `itl`: a request sweep's p99
/// objectives on time to first event and on the gap between events, if given).
pub fn slo(
    p99: Duration,
    max_lost: u64,
    max_errors: u64,
    ttft: Option<Duration>,
    itl: Option<Duration>,
) -> Slo {
    let us = |d: Duration| d.as_micros().min(u128::from(u64::MAX)) as u64;
    Slo {
        p99_us: us(p99),
        max_lost,
        max_errors,
        ttft_p99_us: ttft.map(us),
        itl_p99_us: itl.map(us),
    }
}

/// Why the step missed the objective (every reason, `; `-separated), or None if it met it.
pub fn judge(s: &TechniqueSummary, slo: &Slo) -> Option<String> {
    let mut why = Vec::new();
    if let Some(f) = &s.failure {
        why.push(format!("run failed: {f}"));
    }
    let p99 = s.latency_us.p99.unwrap_or(0);
    if s.latency_us.count.unwrap_or(0) == 0 {
        why.push("nothing delivered".to_string());
    } else if p99 > slo.p99_us {
        why.push(format!(
            "p99 {} over the objective {}",
            us(p99),
            us(slo.p99_us)
        ));
    }
    let objectives = [
        ("TTFT", &s.ttft_us, slo.ttft_p99_us),
        ("ITL", &s.itl_us, slo.itl_p99_us),
    ];
    for (name, measured, objective) in objectives {
        let (Some(objective), Some(m)) = (objective, measured) else {
            continue;
        };
        match m.p99 {
            Some(p99) if p99 > objective => why.push(format!(
                "{name} p99 {} over the objective {}",
                us(p99),
                us(objective)
            )),
            Some(_) => {}
            None => why.push(format!("no {name} measured")),
        }
    }
    let (lost, expected) = (s.lost.unwrap_or(0), s.expected.unwrap_or(0));
    if lost > slo.max_lost {
        let what = if s.request.is_some() {
            "events"
        } else {
            "messages"
        };
        why.push(format!("lost {lost} of {expected} {what}"));
    }

    let errors = s.errors_total();
    if errors > slo.max_errors {
        let kinds: Vec<String> = s
            .errors
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        why.push(format!("{errors} errors ({})", kinds.join(", ")));
    }
    (!why.is_empty()).then(|| why.join("; "))
}

/// A latency in µs for a message: `850µs`, `12.3ms`, `1.20s`.
pub fn us(v: u64) -> String {
    if v < 1000 {
        format!("{v}µs")
    } else if v < 1_000_000 {
        format!("{:.1}ms", v as f64 / 1000.0)
    } else {
        format!("{:.2}s", v as f64 / 1e6)
    }
}

/// The sweep.csv row of a measured step.
pub fn row(
    s: &TechniqueSummary,
    slo: &Slo,
    rate: f64,
    run_dir: String,
    time_wait_before: Option<u64>,
) -> StepRow {
    let broke = judge(s, slo);
    let duration_s = s.duration_s.unwrap_or(0.0);
    let d = duration_s.max(1e-9);
    let measured = s.latency_us.count.unwrap_or(0) > 0;
    let delivered = s.delivered.unwrap_or(0);
    StepRow {
        technique: s.technique.name().to_string(),
        clients: s.clients.unwrap_or(0),
        p99_us: s.latency_us.p99.filter(|_| measured),
        p50_us: s.latency_us.p50.filter(|_| measured),
        lost: s.lost.unwrap_or(0),
        errors: s.errors_total(),
        expected: s.expected.unwrap_or(0),
        delivered,
        delivered_per_s: (delivered as f64 / d * 10.0).round() / 10.0,
        server_cpu_s: s.server_cpu_s,
        server_cores: s.server_cpu_s.map(|c| (c / d * 1e4).round() / 1e4),
        server_rss_bytes: s.server_rss_bytes,
        requests: s.requests.unwrap_or(0),
        bytes_up: s.bytes_up.unwrap_or(0),
        bytes_down: s.bytes_down.unwrap_or(0),
        duration_s,
        rate,
        payload_bytes: s.payload_bytes.unwrap_or(0),
        loadgen_cpu_s: s.loadgen_cpu_s,
        time_wait_before,
        slo_met: broke.is_none(),
        broke_reason: broke,
        run_dir,
        link: "none".into(),
        link_rtt_us: 0,
        ttft_p50_us: s.ttft_us.as_ref().and_then(|l| l.p50),
        ttft_p99_us: s.ttft_us.as_ref().and_then(|l| l.p99),
        itl_p50_us: s.itl_us.as_ref().and_then(|l| l.p50),
        itl_p99_us: s.itl_us.as_ref().and_then(|l| l.p99),
        events_per_s: s.request.as_ref().and_then(|r| r.events_per_s),
        instances: 1,
        broker: s.broker.as_ref().map(|b| b.kind.clone()),
        broker_cpu_s: s.broker.as_ref().and_then(|b| b.cpu_s),
        broker_cpu_s_per_million_deliveries: s
            .broker
            .as_ref()
            .and_then(|b| b.cpu_s_per_million_deliveries),
        broker_messages_per_s: s.broker.as_ref().and_then(|b| b.messages_per_s),
        broker_rss_peak_bytes: s.broker.as_ref().and_then(|b| b.rss_peak_bytes),
    }
}

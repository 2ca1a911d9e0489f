//! An instance sweep (`pushbench sweep --instances 1,2,4`): each technique at one client
//! count, once per server instance count (over a broker with `--broker`, else over the
//! supervisor's relay). Its charts put instances on the x axis (p50/p99 latency, server and
//! broker CPU-s per million deliveries, broker messages/s) and its table lists every step's
//! figures, so the latency the backplane adds shows against the one-instance step.

use std::fmt::Write as _;
use std::path::Path;

use super::charts::{self, Across, Spec};
use super::{StepRow, SweepDoc};
use crate::charts::{Chart, ensure_font};
use crate::error::ReportError;
use crate::fmt;
use crate::html::esc;

/// Whether the sweep stepped server instances rather than clients.
pub fn is_instance_sweep(doc: &SweepDoc) -> bool {
    !doc.instances.is_empty()
}

const SPECS: [Spec; 5] = [
    Spec {
        file: "sweep_instances_p99.png",
        title: "p99 latency against server instances",
        y_desc: "p99 publish-to-receive latency (ms)",
        caption: "p99 publish-to-receive latency of each step's window; dashed: the objective; \
                  crossed: a step that missed it. What the backplane adds shows against the \
                  one-instance step.",
        value: |s| s.p99_us.map(|v| v as f64 / 1000.0),
        tick: fmt::tick,
    },
    Spec {
        file: "sweep_instances_p50.png",
        title: "p50 latency against server instances",
        y_desc: "p50 publish-to-receive latency (ms)",
        caption: "Median publish-to-receive latency of each step's window.",
        value: |s| s.p50_us.map(|v| v as f64 / 1000.0),
        tick: fmt::tick,
    },
    Spec {
        file: "sweep_instances_server_cpu.png",
        title: "Server CPU per million deliveries against server instances",
        y_desc: "server CPU-s per 1M deliveries",
        caption: "CPU seconds of every server instance together (user + system; the broker \
                  not included) per million messages delivered to the clients.",
        value: StepRow::server_cpu_s_per_million,
        tick: fmt::tick,
    },
    Spec {
        file: "sweep_instances_broker_cpu.png",
        title: "Broker CPU per million deliveries against server instances",
        y_desc: "broker CPU-s per 1M deliveries",
        caption: "The broker process's own CPU seconds per million messages delivered to the \
                  clients (steps without a broker have none).",
        value: |s| s.broker_cpu_s_per_million_deliveries,
        tick: fmt::tick,
    },
    Spec {
        file: "sweep_instances_broker_msgs.png",
        title: "Broker messages/s against server instances",
        y_desc: "broker messages/s (in + out)",
        caption: "Messages published into the broker plus messages it sent to the instances, \
                  per second of the window.",
        value: |s| s.broker_messages_per_s,
        tick: fmt::tick,
    },
];

/// Draws the instance sweep's charts into `dir` (x axis: server instances).
pub fn draw_all(doc: &SweepDoc, dir: &Path) -> Result<Vec<Chart>, ReportError> {
    ensure_font().map_err(|message| ReportError::Chart {
        path: dir.to_path_buf(),
        message,
    })?;
    // The drawing code's x is `clients`: give it each step's instance count.
    let mut by_instances = doc.clone();
    for s in &mut by_instances.steps {
        s.clients = s.instances;
    }
    by_instances.outcomes.clear();
    // With a broker, the lines are the broker's steps; `--baseline`'s step (no broker) is in
    // the table, where the latency added is measured against it.
    if doc.steps.iter().any(|s| s.broker.is_some()) {
        by_instances.steps.retain(|s| s.broker.is_some());
    }
    SPECS
        .iter()
        .filter(|spec| doc.steps.iter().any(|s| (spec.value)(s).is_some()))
        .map(|spec| charts::draw(&by_instances, dir, spec, Across::Instances))
        .collect()
}

/// The page's table of an instance sweep: one row per step, with the p50/p99 added over the
/// technique's one-instance step without a broker when the sweep has one.
pub fn table(h: &mut String, doc: &SweepDoc) {
    let _ = writeln!(
        h,
        "<h2>Instances</h2>\n<table>\n<tr><th class=\"l\">technique</th><th>instances</th>\
         <th class=\"l\">broker</th><th>clients</th><th>p50</th><th>p99</th>\
         <th>p50 added</th><th>p99 added</th><th>server CPU-s / 1M</th>\
         <th>broker CPU-s / 1M</th><th>broker msgs/s</th><th>broker RSS</th></tr>"
    );
    for s in &doc.steps {
        let base = baseline(doc, &s.technique);
        let added = |v: Option<u64>, b: Option<u64>| match (v, b) {
            (Some(v), Some(b)) => signed(v as f64 - b as f64),
            _ => "n/a".into(),
        };
        let _ = writeln!(
            h,
            "<tr><td class=\"l\">{}</td><td>{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&s.technique),
            s.instances,
            esc(s
                .broker
                .as_deref()
                .unwrap_or(if s.instances > 1 { "relay" } else { "none" })),
            fmt::count(s.clients),
            fmt::opt(s.p50_us, |v| fmt::latency_us(v as f64)),
            fmt::opt(s.p99_us, |v| fmt::latency_us(v as f64)),
            added(s.p50_us, base.and_then(|b| b.p50_us)),
            added(s.p99_us, base.and_then(|b| b.p99_us)),
            fmt::opt(s.server_cpu_s_per_million(), fmt::sig),
            fmt::opt(s.broker_cpu_s_per_million_deliveries, fmt::sig),
            fmt::opt(s.broker_messages_per_s, fmt::sig),
            fmt::opt(s.broker_rss_peak_bytes, |b| fmt::bytes(b as f64)),
        );
    }
    h.push_str(
        "</table>\n<p class=\"sub\">“added”: the step's latency minus that of the \
         technique's one-instance step without a broker, when the sweep ran one (n/a \
         otherwise; run <code>--instances 1,...</code> without <code>--broker</code> to \
         get it). Server CPU excludes the broker's, which is counted apart.</p>\n",
    );
}

/// The technique's one-instance step without a broker: the latency a backplane adds is
/// measured against it.
pub fn baseline<'a>(doc: &'a SweepDoc, technique: &str) -> Option<&'a StepRow> {
    doc.steps
        .iter()
        .find(|s| s.technique == technique && s.instances == 1 && s.broker.is_none())
}

/// A latency difference, signed: `+1.2 ms`, `-300 µs`.
fn signed(us: f64) -> String {
    let sign = if us < 0.0 { "-" } else { "+" };
    format!("{sign}{}", fmt::latency_us(us.abs()))
}

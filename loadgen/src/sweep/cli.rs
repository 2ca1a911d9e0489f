//! The command-line layer of `pushbench sweep` (anyhow, printing, exit status): thin, the work
//! is in [`super::execute`].

use anyhow::Context;

use reports::sweep::SweepDoc;

use super::SweepError;
use super::args::SweepArgs;
use crate::exit::{self, Status};
use crate::run::{self, Shutdown};

/// Runs `pushbench sweep`: prints the knee per technique (or sweep.json with --json) and
/// fails when the sweep was cut short (exit 4) or a technique failed at its first step
/// (exit 3).
pub fn main(args: &SweepArgs) -> anyhow::Result<()> {
    if !args.run.check.is_empty() {
        return Err(exit::usage(anyhow::anyhow!(
            "--check is for `pushbench run`; a sweep judges each step by --slo-p99, --max-lost \
             and --max-errors (a scenario's `checks` are ignored here)"
        )));
    }
    let command_line: Vec<String> = std::env::args().collect();
    let rt = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let out = rt
        .block_on(async {
            let sd = Shutdown::default();
            run::install_signal_handlers(&sd);
            super::execute(args, command_line, sd).await
        })
        .map_err(|e| match e {
            SweepError::Steps(_) | SweepError::Config(_) => exit::usage(e),
            e => e.into(),
        })?;
    rt.shutdown_timeout(std::time::Duration::from_secs(1));
    let doc = &out.doc;
    if args.run.json {
        println!("{}", serde_json::to_string_pretty(doc)?);
    } else if !doc.links.is_empty() {
        print_link_steps(doc);
    } else if !doc.instances.is_empty() {
        print_instance_steps(doc);
    } else {
        println!("{:<10} {:>12}  what broke it", "technique", "knee");
        for o in &doc.outcomes {
            println!(
                "{:<10} {:>12}  {}",
                o.technique,
                o.knee_clients
                    .map(|k| k.to_string())
                    .unwrap_or_else(|| "none".into()),
                match (&o.broke_reason, o.broke_at) {
                    (Some(r), Some(at)) => format!(
                        "at {}: {r}",
                        super::technique::size(at, reports::sweep::html::is_request(doc))
                    ),
                    (Some(r), None) => r.clone(),
                    (None, _) => "nothing: every step met the objective".into(),
                }
            );
        }
    }
    if !args.run.json {
        println!("sweep directory: {}", out.dir.display());
    }
    if doc.partial {
        return Err(exit::fail(
            Status::Partial,
            anyhow::anyhow!(
                "sweep cut short ({}); what was measured is in {}",
                doc.failure.as_deref().unwrap_or("unknown reason"),
                out.dir.display()
            ),
        ));
    }
    if !out.failed.is_empty() {
        return Err(exit::fail(
            Status::TechniqueFailed,
            anyhow::anyhow!(
                "{}; what was measured is in {}",
                out.failed.join(", "),
                out.dir.display()
            ),
        ));
    }
    Ok(())
}

/// A links sweep's table: one line per step (technique, link, clients), its p50 and p99 and
/// whether it met the objective.
fn print_link_steps(doc: &SweepDoc) {
    println!(
        "{:<10} {:<24} {:>8} {:>10} {:>10}  objective",
        "technique", "link", "clients", "p50", "p99"
    );
    let us = |v: Option<u64>| v.map(super::step::us).unwrap_or_else(|| "n/a".into());
    for r in &doc.steps {
        println!(
            "{:<10} {:<24} {:>8} {:>10} {:>10}  {}",
            r.technique,
            r.link,
            r.clients,
            us(r.p50_us),
            us(r.p99_us),
            r.broke_reason.as_deref().unwrap_or("met")
        );
    }
}

/// An instance sweep's table: one line per step (technique, instances, broker), its p50 and
/// p99 (and what they add over the technique's 1-instance step without a broker, when the
/// sweep ran one), server and broker CPU-s per million deliveries, broker messages/s.
fn print_instance_steps(doc: &SweepDoc) {
    use reports::sweep::instances::baseline;
    println!(
        "{:<10} {:>9} {:<7} {:>8} {:>10} {:>10} {:>11} {:>11} {:>12} {:>12} {:>12}  objective",
        "technique",
        "instances",
        "broker",
        "clients",
        "p50",
        "p99",
        "p50 added",
        "p99 added",
        "server s/1M",
        "broker s/1M",
        "broker msg/s"
    );
    let us = |v: Option<u64>| v.map(super::step::us).unwrap_or_else(|| "n/a".into());
    let added = |v: Option<u64>, b: Option<u64>| match (v, b) {
        (Some(v), Some(b)) if v >= b => format!("+{}", super::step::us(v - b)),
        (Some(v), Some(b)) => format!("-{}", super::step::us(b - v)),
        _ => "n/a".into(),
    };
    let f = |v: Option<f64>, p: usize| {
        v.map(|v| format!("{v:.p$}"))
            .unwrap_or_else(|| "n/a".into())
    };
    for r in &doc.steps {
        let base = baseline(doc, &r.technique);
        println!(
            "{:<10} {:>9} {:<7} {:>8} {:>10} {:>10} {:>11} {:>11} {:>12} {:>12} {:>12}  {}",
            r.technique,
            r.instances,
            r.broker
                .as_deref()
                .unwrap_or(if r.instances > 1 { "relay" } else { "none" }),
            r.clients,
            us(r.p50_us),
            us(r.p99_us),
            added(r.p50_us, base.and_then(|b| b.p50_us)),
            added(r.p99_us, base.and_then(|b| b.p99_us)),
            f(r.server_cpu_s_per_million(), 2),
            f(r.broker_cpu_s_per_million_deliveries, 2),
            f(r.broker_messages_per_s, 0),
            r.broke_reason.as_deref().unwrap_or("met")
        );
    }
}

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

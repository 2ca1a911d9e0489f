//! The `pushbench` command line: subcommands and their options. Thin: each subcommand hands
//! its parsed options to the library.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::check;
use crate::config::RunArgs;
use crate::exit::{self, Status};
use crate::run::{self, Shutdown};
use contract::run_dir::checks::CHECKS_JSON;
use contract::run_dir::{CheckVerdict, TechniqueSummary};

/// pushbench: benchmark server-push techniques (short poll, long poll, HTTP streaming,
/// Server-Sent Events, WebSocket) side by side on identical work.
#[derive(Debug, Parser)]
#[command(name = "pushbench", version, after_help = exit::HELP)]
pub struct Opts {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the instrumented push server (every technique on one port).
    Serve(server::ServeArgs),
    /// Measure every technique side by side and write a run directory.
    #[command(after_help = crate::check::figures::help())]
    Run(RunArgs),
    /// Redraw the report (CSV, charts, index.html) of run directories; several runs are
    /// compared side by side.
    Report(ReportArgs),
    /// Run techniques at growing client counts until an objective breaks; find each knee.
    Sweep(crate::sweep::args::SweepArgs),
    /// Size a push tier from a sweep: machines, cores, memory, bandwidth per technique.
    Plan(crate::plan::cmd::PlanArgs),
    /// Compare a new run with a baseline run of the same workload, technique by technique;
    /// exit 6 when a figure is worse than both its threshold and the run-to-run spread.
    Compare(crate::compare::CompareArgs),
    /// Internal: run one share of one technique's clients as told by a plan (JSON) and report
    /// raw results; started by `pushbench run --processes N` (docs/SCALING.md).
    #[command(hide = true)]
    Worker(crate::worker::WorkerArgs),
    /// Merge the run directories of workers that ran one plan elsewhere (`pushbench worker
    /// --out DIR`) into one run directory: counters add, histograms merge exactly.
    Merge(crate::merge::MergeArgs),
}

/// Options of `pushbench report`.
#[derive(Debug, Clone, clap::Args)]
pub struct ReportArgs {
    /// Run directories (as written by `pushbench run`).
    #[arg(required = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// Where to write the report [default: into the run directory, for one run; required
    /// for several]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// Runs the parsed command line.
pub fn run(opts: Opts) -> anyhow::Result<()> {
    match opts.command {
        Command::Serve(args) => {
            server::lifeline::honour()?;
            let rt = tokio::runtime::Runtime::new()?;
            rt.block_on(server::serve(args))?;
            Ok(())
        }
        Command::Run(args) => run_bench(&args),
        Command::Sweep(args) => crate::sweep::cli::main(&args),
        Command::Plan(args) => crate::plan::cli::main(&args),
        Command::Compare(args) => crate::compare::main(&args),
        Command::Merge(args) => {
            let out = crate::merge::merge(&args.dirs, &args.out)?;
            if !args.no_report {
                if let Err(e) = reports::write_report(std::slice::from_ref(&out.dir), None) {
                    eprintln!("pushbench: warning: report not written: {e}");
                }
            }
            for s in &out.summaries {
                println!(
                    "{:>9}: {}/{} delivered, {} lost, p99 {:.1} ms",
                    s.technique.name(),
                    s.delivered.unwrap_or(0),
                    s.expected.unwrap_or(0),
                    s.lost.unwrap_or(0),
                    s.latency_us.p99.unwrap_or(0) as f64 / 1000.0
                );
            }
            println!("run directory: {}", out.dir.display());
            if out.partial {
                return Err(exit::fail(
                    Status::Partial,
                    anyhow::anyhow!(
                        "some workers' results were partial (see manifest.json `failure` in {})",
                        out.dir.display()
                    ),
                ));
            }
            check_techniques(&out.summaries, &out.dir)
        }
        Command::Worker(args) => {
            server::lifeline::honour()?;
            let rt = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
            rt.block_on(crate::worker::main(args))?;
            rt.shutdown_timeout(std::time::Duration::from_secs(1));
            Ok(())
        }
        Command::Report(args) => {
            let out =
                reports::write_report(&args.dirs, args.out.as_deref()).map_err(|e| match e {
                    reports::ReportError::OutRequired(_) => exit::usage(e),
                    e => e.into(),
                })?;
            println!("{}", out.index.display());
            Ok(())
        }
    }
}

fn run_bench(args: &RunArgs) -> anyhow::Result<()> {
    let cfg = args.resolve().map_err(exit::usage)?;
    check::require_techniques(&cfg.checks, &cfg.techniques)
        .map_err(|e| exit::usage(anyhow::anyhow!("--check: {e}")))?;
    let checks = cfg.checks.clone();
    let json = cfg.json;
    let no_report = cfg.no_report;
    let command_line: Vec<String> = std::env::args().collect();
    let rt = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let outcome = rt.block_on(async {
        let sd = Shutdown::default();
        run::install_signal_handlers(&sd);
        run::execute(cfg, command_line, sd).await
    });
    let outcome = outcome.map_err(|e| match e {
        run::RunError::Target(crate::sut::target::TargetError::BadUrl(_)) => exit::usage(e),
        e => e.into(),
    })?;
    rt.shutdown_timeout(std::time::Duration::from_secs(1));
    let verdicts = check::judge(&checks, &outcome.doc.techniques);
    if !checks.is_empty() {
        // Before the report, which shows them.
        crate::output::write_json(&outcome.dir.join(CHECKS_JSON), &verdicts)?;
    }
    if !no_report {
        if let Err(e) = reports::write_report(std::slice::from_ref(&outcome.dir), None) {
            eprintln!("pushbench: warning: report not written: {e}");
        }
    }
    print_outcome(&outcome, json, &checks, &verdicts)?;
    if outcome.partial {
        return Err(exit::fail(
            Status::Partial,
            anyhow::anyhow!(
                "run cut short ({}); partial results written to {}",
                outcome.failure.as_deref().unwrap_or("unknown reason"),
                outcome.dir.display()
            ),
        ));
    }
    check_techniques(&outcome.doc.techniques, &outcome.dir)?;
    if verdicts.iter().any(|v| !v.passed()) {
        return Err(exit::fail(
            Status::ChecksFailed,
            anyhow::anyhow!(
                "{}; verdicts in {}",
                check::tally(&verdicts),
                outcome.dir.join(CHECKS_JSON).display()
            ),
        ));
    }
    Ok(())
}

/// Prints the run's summary (`--json`: the document, with `checks` when checks were given)
/// and each check's verdict after the table (on stderr with `--json`).
fn print_outcome(
    outcome: &run::RunOutcome,
    json: bool,
    checks: &[check::Check],
    verdicts: &[CheckVerdict],
) -> anyhow::Result<()> {
    #[derive(serde::Serialize)]
    struct WithChecks<'a, D> {
        #[serde(flatten)]
        doc: &'a D,
        checks: &'a [CheckVerdict],
    }
    let lines: Vec<String> = verdicts.iter().map(check::line).collect();
    if json {
        let text = if checks.is_empty() {
            serde_json::to_string_pretty(&outcome.doc)?
        } else {
            serde_json::to_string_pretty(&WithChecks {
                doc: &outcome.doc,
                checks: verdicts,
            })?
        };
        println!("{text}");
        for l in &lines {
            eprintln!("{l}");
        }
    } else {
        let rows = &outcome.doc.techniques;
        if crate::output::request_table::is_request_run(rows) {
            print!("{}", crate::output::request_table::render(rows));
        } else {
            print!("{}", crate::output::table::render(rows));
        }
        if let Some(l) = crate::output::table::repetitions_line(&outcome.doc) {
            println!("{l}");
        }
        let transport = &outcome.doc.manifest.params.transport;
        if !transport.is_default() {
            println!("{}", transport.describe());
        }
        for l in &lines {
            println!("{l}");
        }
        if !checks.is_empty() {
            println!("{}", check::tally(verdicts));
        }
        println!("run directory: {}", outcome.dir.display());
    }
    Ok(())
}

/// Fails with [`Status::TechniqueFailed`] when a technique has a `failure`, naming each.
pub fn check_techniques(techniques: &[TechniqueSummary], dir: &Path) -> anyhow::Result<()> {
    let failed: Vec<String> = techniques
        .iter()
        .filter_map(|t| {
            let f = t.failure.as_deref()?;
            Some(format!("{} failed ({f})", t.technique))
        })
        .collect();
    if failed.is_empty() {
        return Ok(());
    }
    Err(exit::fail(
        Status::TechniqueFailed,
        anyhow::anyhow!(
            "{}; results written to {}",
            failed.join(", "),
            dir.display()
        ),
    ))
}

//! `pushbench sweep`: each chosen technique at growing client counts until a service-level
//! objective breaks (p99 latency, loss, errors) or the machine runs out of room
//! (descriptors, ports, memory: checked before each step, see [`room`]); with `--links`,
//! each technique over each emulated link too (every step run, each judged). Each step is a normal
//! run directory made by [`crate::run::execute`]; the sweep directory holds them plus
//! `sweep.json`, `sweep.csv`, charts and `index.html` (formats and drawing in
//! [`reports::sweep`]; docs/CAPACITY.md). Ctrl-C stops after writing what was measured.

pub mod args;
pub mod cli;
pub mod room;
pub mod step;
mod technique;

use std::path::PathBuf;

use reports::sweep::{self as sw, Slo, SweepDoc, SweepMachine};

use crate::config::{ConfigError, RunConfig};
use crate::link::LinkSpec;
use crate::output::manifest;
use crate::run::Shutdown;
use crate::sut::procfs;
use args::{StepsError, SweepArgs};
use room::Room;

/// Why a sweep could not be made (a sweep cut short is not an error: see `partial`).
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error(transparent)]
    Steps(#[from] StepsError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("--out {0}: already holds a sweep (sweep.json); choose another directory")]
    OutExists(PathBuf),
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(transparent)]
    Write(#[from] sw::SweepError),
    #[error(transparent)]
    Report(#[from] reports::ReportError),
}

/// What a sweep produced.
#[derive(Debug)]
pub struct SweepOutcome {
    pub dir: PathBuf,
    pub doc: SweepDoc,
    /// Techniques whose first step failed outright, with why: it could not run, or it ran and
    /// its technique failed (nothing connected or delivered; see [`crate::measure::verdict`]).
    /// Nothing was measured of them. A first step that merely missed the objective is a
    /// result (no knee), not a failure.
    pub failed: Vec<String>,
}

fn default_dir() -> PathBuf {
    PathBuf::from("sweeps").join(chrono::Utc::now().format("%Y%m%d-%H%M%S").to_string())
}

/// Runs the sweep described by `args`.
pub async fn execute(
    args: &SweepArgs,
    command_line: Vec<String>,
    sd: Shutdown,
) -> Result<SweepOutcome, SweepError> {
    let instances = args.instances()?;
    let links = args.sweep.links(args.run.link.is_some())?;
    let steps = match args.sweep.list() {
        // A links or instance sweep without a client list: one step, at the run's client
        // count (an instance sweep's --clients has one value: checked above).
        None if links.is_some() || instances.is_some() => {
            vec![u64::from(args.run.resolve()?.clients)]
        }
        _ => args.sweep.steps()?,
    };
    let request = args.run.request.mode.as_deref() == Some("request");
    if !request && (args.sweep.slo_ttft_p99.is_some() || args.sweep.slo_itl_p99.is_some()) {
        let flag = if args.sweep.slo_ttft_p99.is_some() {
            "--slo-ttft-p99"
        } else {
            "--slo-itl-p99"
        };
        return Err(StepsError {
            flag,
            msg: "is an objective of a request sweep; add --mode request".into(),
        }
        .into());
    }
    if request && args.run.request.arrival_rate.is_some() {
        return Err(StepsError {
            flag: "--arrival-rate",
            msg: "a request sweep steps --concurrency (closed model); the open model is not \
                  swept"
                .into(),
        }
        .into());
    }
    let slo = step::slo(
        args.sweep.slo_p99.into(),
        args.sweep.max_lost,
        args.sweep.max_errors,
        args.sweep.slo_ttft_p99.map(Into::into),
        args.sweep.slo_itl_p99.map(Into::into),
    );
    // Check every run option once, up front, at the first step's size.
    let first = technique::step_args(&args.run, steps[0]);
    let base = first.resolve()?;
    let dir = base.out.clone().unwrap_or_else(default_dir);
    if dir.join("sweep.json").exists() {
        return Err(SweepError::OutExists(dir));
    }
    std::fs::create_dir_all(&dir).map_err(|error| SweepError::Io {
        path: dir.clone(),
        error,
    })?;
    let mut doc = new_doc(&base, &steps, links.as_deref(), slo, &command_line);
    if let Some(i) = &instances {
        doc.instances = i.iter().map(|&n| u64::from(n)).collect();
        if let Some(o) = doc.run_params.as_object_mut() {
            o.remove("server_processes");
        }
    }
    sw::write_data(&dir, &doc)?;
    announce(&doc, &dir);
    let mut failed = Vec::new();
    let axis: Vec<Option<LinkSpec>> = match &links {
        Some(v) => v.iter().copied().map(Some).collect(),
        None => vec![None],
    };
    // (instances, without the broker): `--baseline` adds 1 instance without it, first.
    let instance_axis: Vec<Option<(u32, bool)>> = match &instances {
        Some(v) => args
            .sweep
            .baseline
            .then_some(Some((1, true)))
            .into_iter()
            .chain(v.iter().map(|&n| Some((n, false))))
            .collect(),
        None => vec![None],
    };
    'techniques: for &tech in &base.techniques {
        if base.profile.subscribe(tech).is_none() {
            eprintln!(
                "pushbench: {tech}: skipped ({})",
                crate::measure::NOT_OFFERED
            );
            continue;
        }
        // One of the two axes is a single `None`: a sweep has links or instances, not both.
        for (&link, &inst) in axis
            .iter()
            .flat_map(|l| instance_axis.iter().map(move |i| (l, i)))
        {
            if sd.token.is_cancelled() {
                break 'techniques;
            }
            let sweeping = technique::Sweeping {
                args,
                tech,
                link,
                instances: inst.map(|i| i.0),
                no_broker: inst.is_some_and(|i| i.1),
                dir: &dir,
                command_line: &command_line,
                sd: &sd,
            };
            let (o, first_failure) = sweeping.run(&steps, &mut doc).await;
            if let Some(why) = first_failure {
                failed.push(format!(
                    "{tech}{} failed at {} ({why})",
                    sweeping.setting(),
                    technique::size(steps[0], request)
                ));
            }
            doc.outcomes.push(o);
            sw::write_data(&dir, &doc)?;
        }
    }
    doc.partial = sd.token.is_cancelled();
    doc.failure = if doc.partial { sd.reason() } else { None };
    doc.ended_at = Some(manifest::rfc3339(chrono::Utc::now()));
    sw::write_all(&dir, &doc)?;
    Ok(SweepOutcome { dir, doc, failed })
}

/// The sweep's first line on stderr: techniques, steps, links, objective, directory.
fn announce(doc: &SweepDoc, dir: &std::path::Path) {
    let request = reports::sweep::html::is_request(doc);
    eprintln!(
        "sweep: {} × {:?} {}{}{}; objective {}, lost ≤ {}, errors ≤ {}; into {}",
        doc.techniques.join(","),
        doc.clients,
        if request {
            "concurrent streams"
        } else {
            "clients"
        },
        if doc.links.is_empty() {
            String::new()
        } else {
            format!(" × links {}", doc.links.join(" "))
        },
        if doc.instances.is_empty() {
            String::new()
        } else {
            format!(" × instances {:?}", doc.instances)
        },
        doc.slo
            .latency_terms(if request { "lateness" } else { "latency" }),
        doc.slo.max_lost,
        doc.slo.max_errors,
        dir.display()
    );
}

/// The sweep's document as it starts (`partial` until it ends): the objective, the steps, the
/// run options common to every step, the machine.
fn new_doc(
    base: &RunConfig,
    steps: &[u64],
    links: Option<&[LinkSpec]>,
    slo: Slo,
    command_line: &[String],
) -> SweepDoc {
    let m = procfs::machine();
    let room0 = Room::read();
    let mut params = serde_json::to_value(base).unwrap_or_default();
    if let Some(o) = params.as_object_mut() {
        o.remove("clients");
        // A request sweep's concurrency is the step's.
        if let Some(r) = o.get_mut("request").and_then(|r| r.as_object_mut()) {
            r.remove("arrival");
        }
        o.remove("techniques");
        if links.is_some() {
            o.remove("link");
        }
    }
    SweepDoc {
        format: sw::FORMAT.into(),
        format_version: sw::FORMAT_VERSION,
        partial: true,
        failure: None,
        started_at: manifest::rfc3339(chrono::Utc::now()),
        ended_at: None,
        command_line: command_line.to_vec(),
        slo,
        techniques: base
            .techniques
            .iter()
            .map(|t| t.name().to_string())
            .collect(),
        clients: steps.to_vec(),
        instances: Vec::new(),
        links: links
            .unwrap_or_default()
            .iter()
            .map(LinkSpec::label)
            .collect(),
        run_params: params,
        machine: SweepMachine {
            cpu_model: m.cpu_model,
            cores: m.cores,
            memory_bytes: m.memory_bytes,
            fd_limit: m.fd_limit,
            ephemeral_ports: room0.ephemeral_ports,
        },
        steps: Vec::new(),
        outcomes: Vec::new(),
    }
}

//! `pushbench sweep`: each chosen technique at growing client counts until a service-level
//! objective breaks (p99 latency, loss, errors) or the machine runs out of room
//! (descriptors, ports, memory: checked before each step, see [`room`]). Each step is a normal
//! run directory made by [`crate::run::execute`]; the sweep directory holds them plus
//! `sweep.json`, `sweep.csv`, charts and `index.html` (formats and drawing in
//! [`reports::sweep`]; docs/CAPACITY.md). Ctrl-C stops after writing what was measured.

pub mod args;
pub mod cli;
pub mod room;
pub mod step;

use std::path::PathBuf;

use reports::sweep::{self as sw, Outcome, SweepDoc, SweepMachine};

use crate::config::ConfigError;
use crate::output::manifest;
use crate::run::{self, Shutdown};
use crate::sut::procfs;
use crate::technique::Technique;
use args::{StepsError, SweepArgs};
use room::{DEFAULT_BYTES_PER_CLIENT, Need, Room};

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
    let steps = args.sweep.steps()?;
    let slo = step::slo(
        args.sweep.slo_p99.into(),
        args.sweep.max_lost,
        args.sweep.max_errors,
    );
    // Check every run option once, up front, at the first step's size.
    let mut first = args.run.clone();
    first.clients = Some(steps[0] as u32);
    let base = first.resolve()?;
    let dir = base.out.clone().unwrap_or_else(default_dir);
    if dir.join("sweep.json").exists() {
        return Err(SweepError::OutExists(dir));
    }
    std::fs::create_dir_all(&dir).map_err(|error| SweepError::Io {
        path: dir.clone(),
        error,
    })?;
    let m = procfs::machine();
    let room0 = Room::read();
    let mut params = serde_json::to_value(&base).unwrap_or_default();
    if let Some(o) = params.as_object_mut() {
        o.remove("clients");
        o.remove("techniques");
    }
    let mut doc = SweepDoc {
        format: sw::FORMAT.into(),
        format_version: sw::FORMAT_VERSION,
        partial: true,
        failure: None,
        started_at: manifest::rfc3339(chrono::Utc::now()),
        ended_at: None,
        command_line: command_line.clone(),
        slo: slo.clone(),
        techniques: base
            .techniques
            .iter()
            .map(|t| t.name().to_string())
            .collect(),
        clients: steps.clone(),
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
    };
    sw::write_data(&dir, &doc)?;
    eprintln!(
        "sweep: {} × {:?} clients; objective p99 ≤ {}, lost ≤ {}, errors ≤ {}; into {}",
        doc.techniques.join(","),
        steps,
        step::us(slo.p99_us),
        slo.max_lost,
        slo.max_errors,
        dir.display()
    );
    let mut failed = Vec::new();
    for &tech in &base.techniques {
        if sd.token.is_cancelled() {
            break;
        }
        let (o, first_failure) =
            sweep_technique(args, tech, &steps, &dir, &command_line, &sd, &mut doc).await;
        if let Some(why) = first_failure {
            failed.push(format!("{tech} failed at {} clients ({why})", steps[0]));
        }
        doc.outcomes.push(o);
        sw::write_data(&dir, &doc)?;
    }
    doc.partial = sd.token.is_cancelled();
    doc.failure = if doc.partial { sd.reason() } else { None };
    doc.ended_at = Some(manifest::rfc3339(chrono::Utc::now()));
    sw::write_all(&dir, &doc)?;
    Ok(SweepOutcome { dir, doc, failed })
}

/// Sweeps one technique: steps until the first that breaks the objective or has no room.
/// Also returns why its first step failed outright, if it did (see [`SweepOutcome::failed`]).
async fn sweep_technique(
    args: &SweepArgs,
    tech: Technique,
    steps: &[u64],
    dir: &std::path::Path,
    command_line: &[String],
    sd: &Shutdown,
    doc: &mut SweepDoc,
) -> (Outcome, Option<String>) {
    let mut out = Outcome {
        technique: tech.name().to_string(),
        knee_clients: None,
        broke_at: None,
        broke_reason: None,
    };
    let mut bytes_per_client = DEFAULT_BYTES_PER_CLIENT;
    let mut first_failure = None;
    let stop = |out: &mut Outcome, n: u64, why: String| {
        eprintln!("sweep: {tech} stopped at {n} clients: {why}");
        out.broke_at = Some(n);
        out.broke_reason = Some(why);
    };
    for (i, &n) in steps.iter().enumerate() {
        if sd.token.is_cancelled() {
            out.broke_reason = Some(format!("interrupted before {n} clients"));
            break;
        }
        let name = format!("{tech}-{n}");
        let mut a = args.run.clone();
        a.clients = Some(n as u32);
        a.techniques = Some(vec![tech]);
        a.out = Some(dir.join(&name));
        a.json = false;
        a.no_report = true;
        let cfg = match a.resolve() {
            Ok(c) => c,
            Err(e) => {
                let why = match &e {
                    ConfigError::Invalid { msg, .. } if msg.contains("descriptor") => {
                        format!("out of descriptors: {msg}")
                    }
                    _ => format!("cannot run: {e}"),
                };
                stop(&mut out, n, why);
                break;
            }
        };
        let room = Room::read();
        let need = Need {
            clients: n,
            loadgen_processes: u64::from(cfg.processes),
            server_processes: u64::from(cfg.server_processes),
            // As the run will use them (spread over 127.0.0.x past one address's ports).
            source_addrs: cfg.client_addrs().len() as u64,
            local_server: cfg.target.is_none(),
            bytes_per_client,
        };
        if let Some(why) = room.check(&need) {
            stop(&mut out, n, why);
            break;
        }
        eprintln!(
            "sweep: {tech} at {n} clients ({} sockets in TIME_WAIT)",
            room.time_wait.unwrap_or(0)
        );
        let ramp_s = n as f64 / cfg.ramp_up.max(1e-9);
        if ramp_s + cfg.warmup.as_secs_f64() >= 0.5 * cfg.read_timeout.as_secs_f64() {
            // Measured here: 40,000 clients at 5000/s with the default 10 s read timeout gave
            // ~20,000 timeouts (everything delivered); with 30 s, none.
            eprintln!(
                "sweep: warning: ramp-up takes {ramp_s:.1} s: the first clients may hear nothing \
                 for longer than --read-timeout ({}) and count timeouts; raise --read-timeout or \
                 --ramp-up",
                humantime::format_duration(cfg.read_timeout)
            );
        }
        let rate = cfg.rate;
        let pause = cfg.pause;
        let result = run::execute(cfg, command_line.to_vec(), sd.clone()).await;
        let outcome = match result {
            Ok(o) => o,
            Err(e) => {
                if i == 0 {
                    first_failure = Some(e.to_string());
                }
                stop(&mut out, n, format!("run failed: {e}"));
                break;
            }
        };
        if outcome.partial && sd.token.is_cancelled() {
            // A step cut short measures nothing worth judging.
            out.broke_reason = Some(format!("interrupted during {n} clients"));
            break;
        }
        let Some(s) = outcome.doc.techniques.first() else {
            if i == 0 {
                first_failure = Some("nothing measured".into());
            }
            stop(&mut out, n, "run failed: nothing measured".into());
            break;
        };
        if i == 0 {
            first_failure.clone_from(&s.failure);
        }
        if !args.run.no_report {
            if let Err(e) = reports::write_report(std::slice::from_ref(&outcome.dir), None) {
                eprintln!("sweep: warning: report of {name} not written: {e}");
            }
        }
        let both = s.server_rss_bytes.unwrap_or(0) + s.loadgen_rss_bytes.unwrap_or(0);
        if both > 0 {
            bytes_per_client = (both as f64 / n as f64).max(4096.0);
        }
        let row = step::row(s, &doc.slo, rate, name, room.time_wait);
        eprintln!(
            "sweep: {tech} at {n} clients: p99 {}, lost {}, errors {}, server {} cores, {} MiB → {}",
            row.p99_us.map(step::us).unwrap_or_else(|| "n/a".into()),
            row.lost,
            row.errors,
            row.server_cores
                .map(|c| format!("{c:.2}"))
                .unwrap_or_else(|| "?".into()),
            row.server_rss_bytes.map(|b| b >> 20).unwrap_or(0),
            row.broke_reason.as_deref().unwrap_or("met the objective")
        );
        let met = row.slo_met;
        let why = row.broke_reason.clone();
        doc.steps.push(row);
        if let Err(e) = sw::write_data(dir, doc) {
            eprintln!("sweep: warning: {e}");
        }
        if !met {
            stop(&mut out, n, why.unwrap_or_default());
            break;
        }
        out.knee_clients = Some(n);
        if i + 1 < steps.len() {
            tokio::select! {
                _ = sd.token.cancelled() => {}
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }
    (out, first_failure)
}

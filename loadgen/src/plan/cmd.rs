//! `pushbench plan SWEEP_DIR`: reads a sweep (`sweep.csv`, `sweep.json`), fits each
//! technique's costs ([`super::model`]), scales them to the target and writes `plan.csv`,
//! `plan.json` and `plan.html` (formats in [`reports::plan_page`]), with the assumptions.

use std::path::{Path, PathBuf};

use reports::plan_page::{self, PlanDoc, PlanRow, PlanTarget, Skipped};
use reports::sweep::{self as sw, StepRow, SweepDoc};

pub use super::error::PlanCmdError;
use super::error::invalid;
use super::model::{Step, Target};
use super::technique_plan::plan_technique;
use super::{broker, doc, sweeps};
use crate::technique::Technique;

/// `pushbench plan`: how many machines, cores, memory, bandwidth a target needs, per
/// technique, from a sweep's measurements.
#[derive(Debug, Clone, clap::Args)]
pub struct PlanArgs {
    /// Sweep directories (as written by `pushbench sweep`); several are planned as one sweep
    /// (their steps pooled; they must share the objective)
    #[arg(required = true, value_name = "SWEEP_DIR")]
    pub dirs: Vec<PathBuf>,
    /// Concurrent clients to serve
    #[arg(long, value_name = "N", default_value_t = 1_000_000)]
    pub clients: u64,
    /// Messages per second each client receives
    #[arg(long, value_name = "MSG/S", default_value_t = 1.0)]
    pub rate: f64,
    /// Payload bytes per message
    #[arg(long, value_name = "BYTES", default_value_t = 256)]
    pub payload_bytes: u64,
    /// Cores of one machine [default: the measured machine's]
    #[arg(long, value_name = "N")]
    pub machine_cores: Option<f64>,
    /// Memory of one machine, e.g. 24GiB, 512MiB, 8GB [default: the measured machine's]
    #[arg(long, value_name = "SIZE")]
    pub machine_memory: Option<String>,
    /// Where to write plan.csv, plan.json, plan.html [default: the (first) sweep directory]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Print plan.json on stdout instead of the table
    #[arg(long)]
    pub json: bool,
}

/// Parses a memory size: `24GiB`, `512 MiB`, `8GB`, `1e9` (bytes).
pub fn parse_size(s: &str) -> Option<f64> {
    let t = s.trim();
    let split = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let v: f64 = num.trim().parse().ok()?;
    let mul = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "m" | "mb" => 1e6,
        "g" | "gb" => 1e9,
        "t" | "tb" => 1e12,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    (v.is_finite() && v > 0.0).then_some(v * mul)
}

/// Makes the plan of the sweep in `args.dir` and writes its files; returns it.
///
/// Techniques with no step meeting the objective are planned without a machine count; when
/// none has one, the files are written and [`PlanCmdError::NothingPlanned`] is returned.
pub fn plan(args: &PlanArgs) -> Result<(PlanDoc, Vec<PathBuf>), PlanCmdError> {
    if args.clients == 0 {
        return Err(invalid("--clients", "must be at least 1"));
    }
    if !args.rate.is_finite() || args.rate <= 0.0 {
        return Err(invalid(
            "--rate",
            "must be a positive number of messages per second",
        ));
    }
    let Some(dir) = args.dirs.first() else {
        return Err(invalid("SWEEP_DIR", "no sweep directory given"));
    };
    let (sweep, rows) = sweeps::load_sweeps(&args.dirs)?;
    if rows.is_empty() {
        return Err(PlanCmdError::NoSteps(dir.clone()));
    }
    let (target, machine_source) = target_of(args, dir, &sweep)?;
    let (planned, skipped) = plan_each(dir, &sweep, &rows, &target);
    let mut assumptions = doc::assumptions(&sweep);
    if planned.iter().any(|r| r.broker_kind.is_some()) {
        assumptions.push(doc::BROKER_ASSUMPTION.into());
    }
    let doc = PlanDoc {
        format: plan_page::FORMAT.into(),
        format_version: 1,
        sweep_dir: args
            .dirs
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        target: PlanTarget {
            clients: args.clients,
            rate: args.rate,
            payload_bytes: args.payload_bytes,
            machine_cores: target.machine_cores,
            machine_memory_bytes: target.machine_memory_bytes,
            machine_source: machine_source.into(),
        },
        assumptions,
        rows: planned,
        skipped,
    };
    let out = args.out.clone().unwrap_or_else(|| dir.clone());
    std::fs::create_dir_all(&out).map_err(|e| reports::ReportError::io(&out, e))?;
    let mut files = plan_page::write_all(&out, &doc)?;
    if out == *dir && args.dirs.len() == 1 {
        // Redraw the sweep's page so it links the plan.
        let page = sw::write_report(dir, &sweep)?;
        files.push(page.index);
    }
    if doc.rows.iter().all(|r| r.machines.is_none()) {
        return Err(nothing_planned(&doc, &out));
    }
    Ok((doc, files))
}

/// The target's machines: as given, else the measured machine's. Also says which.
fn target_of(
    args: &PlanArgs,
    dir: &Path,
    sweep: &SweepDoc,
) -> Result<(Target, &'static str), PlanCmdError> {
    let (m_cores, m_mem) = sweeps::measured_machine(dir, sweep);
    let cores = match args.machine_cores {
        Some(c) if c.is_finite() && c > 0.0 => c,
        Some(c) => {
            return Err(invalid(
                "--machine-cores",
                format!("must be positive, got {c}"),
            ));
        }
        None => m_cores.ok_or_else(|| PlanCmdError::NoMachine(dir.to_path_buf()))?,
    };
    let mem = match &args.machine_memory {
        Some(s) => parse_size(s).ok_or_else(|| {
            invalid(
                "--machine-memory",
                format!("`{s}` is not a size (e.g. 24GiB, 512MiB)"),
            )
        })?,
        None => m_mem.ok_or_else(|| PlanCmdError::NoMachine(dir.to_path_buf()))?,
    };
    let source = match (args.machine_cores.is_some(), args.machine_memory.is_some()) {
        (false, false) => "the measured machine's",
        (true, true) => "given",
        _ => "given in part, the rest the measured machine's",
    };
    let target = Target {
        clients: args.clients,
        rate: args.rate,
        payload_bytes: args.payload_bytes,
        machine_cores: cores,
        machine_memory_bytes: mem,
    };
    Ok((target, source))
}

/// Plans every technique of the sweep: a row for each one planned, and why each other was not.
fn plan_each(
    dir: &Path,
    sweep: &SweepDoc,
    rows: &[StepRow],
    target: &Target,
) -> (Vec<PlanRow>, Vec<Skipped>) {
    let mut names: Vec<String> = sweep.techniques.clone();
    for r in rows {
        if !names.contains(&r.technique) {
            names.push(r.technique.clone());
        }
    }
    let mut planned = Vec::new();
    let mut skipped = Vec::new();
    for name in &names {
        let skip = |reason: String| Skipped {
            technique: name.clone(),
            reason,
        };
        let Ok(tech) = name.parse::<Technique>() else {
            skipped.push(skip("unknown technique".into()));
            continue;
        };
        let steps: Vec<Step> = rows
            .iter()
            .filter(|r| &r.technique == name)
            .filter_map(|r| sweeps::to_step(r, tech))
            .collect();
        if steps.is_empty() {
            let why = sweep
                .outcome(name)
                .and_then(|o| o.broke_reason.clone())
                .map(|r| format!("no step measured with server CPU and memory ({r})"))
                .unwrap_or_else(|| "no step measured with server CPU and memory".into());
            skipped.push(skip(why));
            continue;
        }
        match plan_technique(&steps, target) {
            Ok(p) => {
                let mut row = doc::to_row(&p, sweep.outcome(name));
                let broker_steps: Vec<_> = rows
                    .iter()
                    .filter(|r| &r.technique == name)
                    .filter_map(|r| broker::read_step(dir, r))
                    .collect();
                broker::fill_row(&mut row, &broker_steps, target.rate, target.machine_cores);
                planned.push(row);
            }
            Err(e) => skipped.push(skip(format!(
                "the fit failed ({e}); sweep at least 2 client counts"
            ))),
        }
    }
    (planned, skipped)
}

/// The error of a plan with no machine count at all: why each technique has none.
fn nothing_planned(doc: &PlanDoc, out: &Path) -> PlanCmdError {
    let mut why: Vec<String> = doc
        .skipped
        .iter()
        .map(|s| format!("{}: {}", s.technique, s.reason))
        .collect();
    if !doc.rows.is_empty() {
        why.push(
            "no step of any technique met the objective, so the per-machine limit is unknown \
             (sweep smaller client counts or relax the objective)"
                .into(),
        );
    }
    PlanCmdError::NothingPlanned(format!(
        "{}; what could be computed is in {}",
        why.join("; "),
        out.join("plan.html").display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("24GiB"), Some(24.0 * 1073741824.0));
        assert_eq!(parse_size("512 MiB"), Some(512.0 * 1048576.0));
        assert_eq!(parse_size("8GB"), Some(8e9));
        assert_eq!(parse_size("1000"), Some(1000.0));
        assert_eq!(parse_size("lots"), None);
        assert_eq!(parse_size("-1GiB"), None);
    }
}

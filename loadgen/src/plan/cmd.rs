//! `pushbench plan SWEEP_DIR`: reads a sweep (`sweep.csv`, `sweep.json`), fits each
//! technique's costs ([`super::model`]), scales them to the target and writes `plan.csv`,
//! `plan.json` and `plan.html` (formats in [`reports::plan_page`]), with the assumptions.

use std::path::{Path, PathBuf};

use reports::plan_page::{self, PlanDoc, PlanRow, PlanTarget, Skipped};
use reports::sweep::{self as sw, StepRow, SweepDoc};

use super::model::{Step, Target, TechniquePlan, plan_technique};
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

/// Why a plan could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PlanCmdError {
    #[error(transparent)]
    Sweep(#[from] sw::SweepError),
    #[error("{flag}: {msg}")]
    Invalid { flag: &'static str, msg: String },
    #[error("{0}: the sweep holds no measured step (sweep.csv has no rows)")]
    NoSteps(PathBuf),
    #[error(
        "{0}: the machine's cores or memory are not recorded; give --machine-cores and --machine-memory"
    )]
    NoMachine(PathBuf),
    #[error("no technique could be planned: {0}")]
    NothingPlanned(String),
    #[error(transparent)]
    Write(#[from] reports::ReportError),
}

fn invalid(flag: &'static str, msg: impl Into<String>) -> PlanCmdError {
    PlanCmdError::Invalid {
        flag,
        msg: msg.into(),
    }
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

/// Reads one or more sweeps as one: steps pooled (a later sweep's outcome of a technique wins,
/// run directories made relative to the first sweep's directory where possible).
fn load_sweeps(dirs: &[PathBuf]) -> Result<(SweepDoc, Vec<StepRow>), PlanCmdError> {
    let mut merged: Option<SweepDoc> = None;
    let mut rows = Vec::new();
    for dir in dirs {
        let doc = sw::load(dir)?;
        let mut these = sw::load_csv(dir)?;
        let Some(m) = merged.as_mut() else {
            rows = these;
            merged = Some(doc);
            continue;
        };
        if doc.slo != m.slo {
            return Err(invalid(
                "SWEEP_DIR",
                format!(
                    "{} was swept with another objective ({:?}) than {} ({:?}); the knees would \
                     not compare",
                    dir.display(),
                    doc.slo,
                    dirs[0].display(),
                    m.slo
                ),
            ));
        }
        for r in &mut these {
            r.run_dir = dir.join(&r.run_dir).display().to_string();
        }
        rows.extend(these);
        for t in doc.techniques {
            if !m.techniques.contains(&t) {
                m.techniques.push(t);
            }
        }
        for o in doc.outcomes {
            m.outcomes.retain(|x| x.technique != o.technique);
            m.outcomes.push(o);
        }
    }
    let mut doc = merged.ok_or_else(|| invalid("SWEEP_DIR", "no sweep directory given"))?;
    rows.sort_by(|a, b| {
        a.technique
            .cmp(&b.technique)
            .then(a.clients.cmp(&b.clients))
    });
    doc.steps = rows.clone();
    Ok((doc, rows))
}

/// The measured machine's cores and memory: sweep.json, else a step's manifest.json.
fn measured_machine(dir: &Path, doc: &SweepDoc) -> (Option<f64>, Option<f64>) {
    let mut cores = doc.machine.cores.map(|c| c as f64);
    let mut mem = doc.machine.memory_bytes.map(|m| m as f64);
    if cores.is_none() || mem.is_none() {
        for s in &doc.steps {
            let p = dir.join(&s.run_dir).join("manifest.json");
            let Ok(text) = std::fs::read_to_string(p) else {
                continue;
            };
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
                continue;
            };
            cores = cores.or(v["machine"]["cores"].as_f64());
            mem = mem.or(v["machine"]["memory_bytes"].as_f64());
            break;
        }
    }
    (cores, mem)
}

fn to_step(r: &StepRow, technique: Technique) -> Option<Step> {
    Some(Step {
        technique,
        clients: r.clients,
        duration_s: r.duration_s,
        rate: r.rate,
        payload_bytes: r.payload_bytes,
        delivered: r.delivered,
        requests: r.requests,
        bytes_up: r.bytes_up,
        bytes_down: r.bytes_down,
        server_cpu_s: r.server_cpu_s?,
        server_rss_bytes: r.server_rss_bytes?,
        slo_met: r.slo_met,
    })
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
    let (sweep, rows) = load_sweeps(&args.dirs)?;
    if rows.is_empty() {
        return Err(PlanCmdError::NoSteps(dir.clone()));
    }
    let (m_cores, m_mem) = measured_machine(dir, &sweep);
    let cores = match args.machine_cores {
        Some(c) if c.is_finite() && c > 0.0 => c,
        Some(c) => {
            return Err(invalid(
                "--machine-cores",
                format!("must be positive, got {c}"),
            ));
        }
        None => m_cores.ok_or_else(|| PlanCmdError::NoMachine(dir.clone()))?,
    };
    let mem = match &args.machine_memory {
        Some(s) => parse_size(s).ok_or_else(|| {
            invalid(
                "--machine-memory",
                format!("`{s}` is not a size (e.g. 24GiB, 512MiB)"),
            )
        })?,
        None => m_mem.ok_or_else(|| PlanCmdError::NoMachine(dir.clone()))?,
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
    let mut names: Vec<String> = sweep.techniques.clone();
    for r in &rows {
        if !names.contains(&r.technique) {
            names.push(r.technique.clone());
        }
    }
    let mut out_rows = Vec::new();
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
            .filter_map(|r| to_step(r, tech))
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
        match plan_technique(&steps, &target) {
            Ok(p) => out_rows.push(to_row(&p, sweep.outcome(name))),
            Err(e) => skipped.push(skip(format!(
                "the fit failed ({e}); sweep at least 2 client counts"
            ))),
        }
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
            machine_cores: cores,
            machine_memory_bytes: mem,
            machine_source: source.into(),
        },
        assumptions: assumptions(&sweep),
        rows: out_rows,
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
        return Err(PlanCmdError::NothingPlanned(format!(
            "{}; what could be computed is in {}",
            why.join("; "),
            out.join("plan.html").display()
        )));
    }
    Ok((doc, files))
}

fn to_row(p: &TechniquePlan, outcome: Option<&sw::Outcome>) -> PlanRow {
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

fn assumptions(sweep: &SweepDoc) -> Vec<String> {
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
    for k in &doc.skipped {
        let _ = writeln!(s, "  {}: not planned: {}", k.technique, k.reason);
    }
    s
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
        assert_eq!(round_sig(123_456.0), 123_500.0);
    }
}

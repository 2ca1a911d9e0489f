//! Reading what a plan rests on: one or more sweeps as one (`sweep.json`, `sweep.csv`), the
//! measured machine, each step as the model's [`Step`].

use std::path::{Path, PathBuf};

use reports::sweep::{self as sw, StepRow, SweepDoc};

use super::error::{PlanCmdError, invalid};
use super::model::Step;
use crate::technique::Technique;

/// Reads one or more sweeps as one: steps pooled (a later sweep's outcome of a technique wins,
/// run directories made relative to the first sweep's directory where possible).
pub fn load_sweeps(dirs: &[PathBuf]) -> Result<(SweepDoc, Vec<StepRow>), PlanCmdError> {
    let mut merged: Option<SweepDoc> = None;
    let mut rows = Vec::new();
    for dir in dirs {
        let doc = sw::load(dir)?;
        if sw::html::is_request(&doc) {
            return Err(invalid(
                "SWEEP_DIR",
                format!(
                    "{} is a request sweep (--mode request: concurrent streams, not \
                     subscribers); a plan sizes a broadcast tier from a broadcast sweep",
                    dir.display()
                ),
            ));
        }
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
    one_link(&rows)?;
    rows.sort_by(|a, b| {
        a.technique
            .cmp(&b.technique)
            .then(a.clients.cmp(&b.clients))
    });
    doc.steps = rows.clone();
    Ok((doc, rows))
}

/// A plan fits costs against client counts at one link: steps over several links (a
/// `sweep --links`) would mix what the link costs with what the clients cost.
fn one_link(rows: &[StepRow]) -> Result<(), PlanCmdError> {
    let mut links: Vec<&str> = rows.iter().map(|r| r.link.as_str()).collect();
    links.sort_unstable();
    links.dedup();
    if links.len() > 1 {
        return Err(invalid(
            "SWEEP_DIR",
            format!(
                "the sweep's steps are on {} links ({}); a plan fits costs against client \
                 counts on one link: sweep client counts (--clients A,B,C) with one --link",
                links.len(),
                links.join(", ")
            ),
        ));
    }
    Ok(())
}

/// The measured machine's cores and memory: sweep.json, else a step's manifest.json.
pub fn measured_machine(dir: &Path, doc: &SweepDoc) -> (Option<f64>, Option<f64>) {
    let mut cores = doc.machine.cores.map(|c| c as f64);
    let mut mem = doc.machine.memory_bytes.map(|m| m as f64);
    if cores.is_none() || mem.is_none() {
        for s in &doc.steps {
            let p = dir.join(&s.run_dir).join("manifest.json");
            let Ok(text) = std::fs::read_to_string(p) else {
                continue;
            };
            let Ok(m) = serde_json::from_str::<contract::run_dir::Manifest>(&text) else {
                continue;
            };
            cores = cores.or(m.machine.cores.map(|c| c as f64));
            mem = mem.or(m.machine.memory_bytes.map(|b| b as f64));
            break;
        }
    }
    (cores, mem)
}

pub fn to_step(r: &StepRow, technique: Technique) -> Option<Step> {
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

//! The page's "Parameters and machine" section: what the run was measured with and on, from its
//! manifest.

use std::fmt::Write as _;

use super::text::esc;
use crate::fmt;
use crate::model::Run;

pub(super) fn params(h: &mut String, run: &Run, compare: bool) {
    let m = &run.manifest;
    if compare {
        let _ = writeln!(h, "<h3>{}</h3>", esc(&run.label));
    }
    let mut rows: Vec<(String, String)> = vec![
        ("run directory".into(), run.dir.display().to_string()),
        (
            "started / ended".into(),
            format!(
                "{} / {}",
                m.started_at.as_deref().unwrap_or("?"),
                m.ended_at.as_deref().unwrap_or("?")
            ),
        ),
        ("command line".into(), m.command_line.join(" ")),
        (
            "target".into(),
            m.target.clone().unwrap_or_else(|| "?".into()),
        ),
        (
            "server / load generator processes".into(),
            format!(
                "{} / {}",
                fmt::opt(m.server_processes, |n| n.to_string()),
                fmt::opt(m.loadgen_processes, |n| n.to_string())
            ),
        ),
        (
            "clock".into(),
            m.clock.clone().unwrap_or_else(|| "?".into()),
        ),
        (
            "partial".into(),
            if m.partial { "yes" } else { "no" }.into(),
        ),
    ];
    if let Some(f) = &m.failure {
        rows.push(("failure".into(), f.clone()));
    }
    for (k, v) in &m.params {
        let shown = match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        rows.push((format!("params.{k}"), shown));
    }
    let mc = &m.machine;
    rows.extend([
        (
            "hostname".into(),
            mc.hostname.clone().unwrap_or_else(|| "?".into()),
        ),
        (
            "CPU".into(),
            mc.cpu_model.clone().unwrap_or_else(|| "?".into()),
        ),
        ("cores".into(), fmt::opt(mc.cores, |c| c.to_string())),
        (
            "memory".into(),
            fmt::opt(mc.memory_bytes, |b| fmt::bytes(b as f64)),
        ),
        (
            "kernel".into(),
            mc.kernel.clone().unwrap_or_else(|| "?".into()),
        ),
        ("os".into(), mc.os.clone().unwrap_or_else(|| "?".into())),
        (
            "build profile".into(),
            m.build_profile.clone().unwrap_or_else(|| "?".into()),
        ),
        (
            "git revision".into(),
            m.git_revision.clone().unwrap_or_else(|| "unknown".into()),
        ),
    ]);
    for (k, v) in m.versions.known() {
        rows.push((format!("version of {k}"), v.to_string()));
    }
    h.push_str("<dl>\n");
    for (k, v) in rows {
        let _ = writeln!(h, "<dt>{}</dt><dd>{}</dd>", esc(&k), esc(&v));
    }
    h.push_str("</dl>\n");
}

//! The comparison as text: the terminal table and the Markdown summary (for a CI job's summary
//! page, e.g. `$GITHUB_STEP_SUMMARY`): the table with ✅/❌, the spread used, the runs' parameters.

use std::fmt::Write as _;

use reports::Run;

use super::judge::{Row, Verdict};

/// A value for the table: 3 significant digits or so, `n/a` when unknown.
pub fn num(v: Option<f64>) -> String {
    match v {
        None => "n/a".into(),
        Some(v) if v == v.trunc() && v.abs() < 1e9 => format!("{v:.0}"),
        Some(v) if v.abs() >= 100.0 => format!("{v:.0}"),
        Some(v) if v.abs() >= 1.0 => format!("{v:.2}"),
        Some(v) => format!("{v:.4}"),
    }
}

/// A percentage with its sign, `n/a` when unknown.
pub fn pct(v: Option<f64>) -> String {
    match v {
        None => "n/a".into(),
        Some(v) if v.is_infinite() => "from 0".into(),
        Some(v) => format!("{v:+.1}%"),
    }
}

fn spread_cell(r: &Row) -> String {
    r.spread.pct.map_or("–".into(), |p| format!("±{p:.1}%"))
}

/// The distinct ways the spreads were obtained, for a footnote.
pub fn spreads_used(rows: &[Row]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in rows {
        let line = format!("{}: {}", r.figure.name(), r.spread.how);
        if !out.contains(&line) {
            out.push(line);
        }
    }
    out
}

/// The terminal table, one line per technique × figure, then the spreads used and the verdict.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<10} {:<21} {:>12} {:>12} {:>9} {:>9} {:>9}  {:<17} unit",
        "technique", "figure", "base", "new", "change", "threshold", "spread", "verdict"
    );
    for r in rows {
        let _ = writeln!(
            out,
            "{:<10} {:<21} {:>12} {:>12} {:>9} {:>9} {:>9}  {:<17} {}",
            r.technique.name(),
            r.figure.name(),
            num(r.base),
            num(r.new),
            pct(r.change_pct),
            format!("{:.0}%", r.threshold_pct),
            spread_cell(r),
            r.verdict.label(),
            r.unit
        );
    }
    let _ = writeln!(out, "spread used:");
    for s in spreads_used(rows) {
        let _ = writeln!(out, "  {s}");
    }
    out
}

fn mark(v: Verdict) -> &'static str {
    match v {
        Verdict::Regression => "❌",
        Verdict::NotMeasured => "➖",
        _ => "✅",
    }
}

/// Markdown cells: `|` and line breaks would break the table, `<` `>` `&` would be read as
/// HTML (a CPU model `<fixture>` would vanish).
fn cell(s: &str) -> String {
    reports::html::esc(s)
        .replace('|', "\\|")
        .replace(['\n', '\r'], " ")
}

/// The Markdown summary: a headline, the table, the spreads used and both sides' parameters.
pub fn markdown(rows: &[Row], base: &[Run], new: &[Run]) -> String {
    let regressions = rows
        .iter()
        .filter(|r| r.verdict == Verdict::Regression)
        .count();
    let mut out = String::from("## pushbench compare\n\n");
    let _ = match regressions {
        0 => writeln!(
            out,
            "✅ **No regression** ({} figures compared)\n",
            rows.len()
        ),
        n => writeln!(
            out,
            "❌ **{n} regression(s)** ({} figures compared)\n",
            rows.len()
        ),
    };
    out.push_str("| | technique | figure | base | new | change | threshold | spread | verdict |\n");
    out.push_str("|---|---|---|---:|---:|---:|---:|---:|---|\n");
    for r in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} ({}) | {} | {} | {} | {:.0}% | {} | {} |",
            mark(r.verdict),
            r.technique.name(),
            r.figure.name(),
            cell(r.unit),
            num(r.base),
            num(r.new),
            pct(r.change_pct),
            r.threshold_pct,
            spread_cell(r),
            r.verdict.label()
        );
    }
    out.push_str(
        "\nA change is a regression only when it is worse than both its threshold and the \
         run-to-run spread.\n\n**Spread used**\n\n",
    );
    for s in spreads_used(rows) {
        let _ = writeln!(out, "- {}", cell(&s));
    }
    out.push_str("\n**Runs**\n\n");
    out.push_str(&runs_table(base, new));
    out
}

/// What the runs table shows of one run: (item, value).
fn facts(r: &Run) -> Vec<(&'static str, String)> {
    let na = |v: Option<&str>| v.unwrap_or("n/a").to_string();
    let m = &r.manifest;
    let mut out = vec![
        ("directory", r.dir.display().to_string()),
        ("started", na(m.started_at.as_deref())),
        ("git revision", na(m.git_revision.as_deref())),
        ("pushbench", na(m.versions.pushbench.as_deref())),
        (
            "machine",
            format!(
                "{} ({} cores)",
                na(m.machine.cpu_model.as_deref()),
                m.machine.cores.map_or("?".into(), |c| c.to_string())
            ),
        ),
    ];
    for key in [
        "techniques",
        "clients",
        "rate",
        "payload_bytes",
        "duration_ms",
        "link",
    ] {
        let v = m
            .params
            .get(key)
            // An absent link is a direct connection (runs from before links existed).
            .map_or(if key == "link" { "none" } else { "n/a" }.into(), |v| {
                v.to_string().replace('"', "")
            });
        out.push((key, v));
    }
    out
}

/// Both sides' parameters and provenance, one row per item.
fn runs_table(base: &[Run], new: &[Run]) -> String {
    let side = |runs: &[Run], i: usize| {
        let vals: Vec<String> = runs.iter().map(|r| facts(r).swap_remove(i).1).collect();
        cell(&vals.join(", "))
    };
    let mut out = String::from("| | base | new |\n|---|---|---|\n");
    let names: Vec<&str> = base
        .first()
        .map(facts)
        .unwrap_or_default()
        .iter()
        .map(|f| f.0)
        .collect();
    for (i, name) in names.iter().enumerate() {
        let _ = writeln!(out, "| {name} | {} | {} |", side(base, i), side(new, i));
    }
    out
}

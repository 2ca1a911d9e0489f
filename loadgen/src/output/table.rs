//! The readable summary table printed at the end of a run (when `--json` is not given).

use contract::run_dir::{LinkSummary, TechniqueSummary};

use crate::link::Rate;

fn ms(us: Option<u64>) -> String {
    format!("{:.1}", us.unwrap_or(0) as f64 / 1000.0)
}

fn per(n: Option<u64>, d: Option<u64>) -> String {
    match (n, d) {
        (Some(n), Some(d)) if d > 0 => format!("{:.2}", n as f64 / d as f64),
        _ => "-".into(),
    }
}

pub(super) fn count(n: Option<u64>) -> String {
    n.map_or_else(|| "-".into(), |n| n.to_string())
}

/// ` (min–max)` of latency figure `name` in ms over the repetitions; empty without them.
fn spread(r: &TechniqueSummary, name: &str) -> String {
    let range = r.repetitions.as_ref().and_then(|reps| reps.get(name));
    match range.map(|x| (x.min, x.max)) {
        Some((Some(lo), Some(hi))) => format!(" ({:.1}–{:.1})", lo / 1000.0, hi / 1000.0),
        _ => String::new(),
    }
}

/// Under the table of a run with `--repeat N`: what its figures are.
pub fn repetitions_line(doc: &contract::run_dir::Document<impl Sized>) -> Option<String> {
    let n = doc
        .techniques
        .iter()
        .filter_map(|t| t.repetitions.as_ref().map(|r| r.count))
        .max()?;
    let server = match doc.manifest.fresh_server_per_technique {
        Some(true) => "each on a fresh server",
        _ => "each against the same server",
    };
    Some(format!(
        "median of {n} repetitions, {server}; (min–max) over them"
    ))
}

/// Formats the table: one line per technique.
pub fn render(rows: &[TechniqueSummary]) -> String {
    let head = [
        "technique",
        "delivered/expected",
        "lost",
        "p50 ms",
        "p99 ms",
        "max ms",
        "req/msg",
        "bytes/msg",
        "srv CPU s",
        "srv RSS MiB",
        "errors",
    ];
    let mut lines: Vec<Vec<String>> = vec![head.iter().map(|s| s.to_string()).collect()];
    let (skipped, rows): (Vec<_>, Vec<_>) = rows.iter().partition(|r| r.skipped.is_some());
    for r in &rows {
        let l = &r.latency_us;
        lines.push(vec![
            r.technique.name().to_string(),
            format!("{}/{}", count(r.delivered), count(r.expected)),
            count(r.lost),
            ms(l.p50) + &spread(r, "p50"),
            ms(l.p99) + &spread(r, "p99"),
            ms(l.max),
            per(r.requests, r.delivered),
            per(
                r.bytes_up.zip(r.bytes_down).map(|(u, d)| u + d),
                r.delivered,
            ),
            r.server_cpu_s
                .map(|c| format!("{c:.2}"))
                .unwrap_or_else(|| "-".into()),
            r.server_rss_bytes
                .map(|b| format!("{:.1}", b as f64 / (1024.0 * 1024.0)))
                .unwrap_or_else(|| "-".into()),
            r.errors_total().to_string(),
        ]);
    }
    let mut out = layout(&lines, &skipped);
    out.push_str(&links_line(&rows));
    out.push_str(&super::broker_table::lines(&rows));
    out
}

/// Lays `lines` out in columns (the first is the head, underlined; the first column left-
/// aligned, the others right-aligned), then a line for each of the `skipped` techniques.
pub(super) fn layout(lines: &[Vec<String>], skipped: &[&TechniqueSummary]) -> String {
    let columns = lines.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..columns)
        .map(|c| lines.iter().map(|l| l[c].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for (i, l) in lines.iter().enumerate() {
        let cells: Vec<String> = l
            .iter()
            .enumerate()
            .map(|(c, s)| {
                if c == 0 {
                    format!("{s:<w$}", w = widths[c])
                } else {
                    format!("{s:>w$}", w = widths[c])
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
        if i == 0 {
            out.push_str(&"-".repeat(widths.iter().sum::<usize>() + 2 * (widths.len() - 1)));
            out.push('\n');
        }
    }
    for r in skipped {
        let why = r.skipped.as_deref().unwrap_or_default();
        out.push_str(&format!(
            "{:<w$}  skipped: {why}\n",
            r.technique.name(),
            w = widths[0]
        ));
    }
    out
}

/// Under the table when a link was emulated: which links, and what the emulator cost per
/// message for each technique (so a reader sees the emulator was not the bottleneck).
fn links_line(rows: &[&TechniqueSummary]) -> String {
    let Some(first) = rows.first() else {
        return String::new();
    };
    if first.link.is_none() && first.publisher_link.is_none() {
        return String::new();
    }
    let side = |l: &Option<LinkSummary>| l.as_ref().map_or("direct".to_string(), describe);
    let cost: Vec<String> = rows
        .iter()
        .filter_map(|r| {
            let e = r.link_emulator.as_ref()?;
            let us = e.cpu_us_per_message?;
            // /proc counts CPU in clock ticks (10 ms): a short, light run may show none.
            let tick = if e.cpu_s == Some(0.0) {
                " (under one clock tick)"
            } else {
                ""
            };
            Some(format!("{} {us:.1}{tick}", r.technique.name()))
        })
        .collect();
    let mut line = format!(
        "link: subscribers {}, publisher {}",
        side(&first.link),
        side(&first.publisher_link)
    );
    if !cost.is_empty() {
        line.push_str(&format!(
            "; emulator CPU µs per message: {}",
            cost.join(", ")
        ));
    }
    line + "\n"
}

/// `fast-3g (rtt 150 ms, down 1.44 mbit/s, up 675 kbit/s)`.
fn describe(l: &LinkSummary) -> String {
    let mut parts = vec![format!("rtt {} ms", l.rtt_us.unwrap_or(0) as f64 / 1000.0)];
    if let Some(j) = l.jitter_us.filter(|&j| j > 0) {
        parts.push(format!("jitter {} ms", j as f64 / 1000.0));
    }
    for (name, bits) in [("down", l.down_bits_per_s), ("up", l.up_bits_per_s)] {
        if let Some(b) = bits {
            parts.push(format!("{name} {}/s", Rate::from_bits_per_s(b)));
        }
    }
    format!("{} ({})", l.spec, parts.join(", "))
}

//! The readable summary table printed at the end of a run (when `--json` is not given).

use crate::run::output::summary::TechniqueSummary;

fn ms(us: u64) -> String {
    format!("{:.1}", us as f64 / 1000.0)
}

fn per(n: u64, d: u64) -> String {
    if d == 0 {
        "-".into()
    } else {
        format!("{:.2}", n as f64 / d as f64)
    }
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
    for r in rows {
        let l = &r.latency_us;
        lines.push(vec![
            r.technique.name().to_string(),
            format!("{}/{}", r.delivered, r.expected),
            r.lost.to_string(),
            ms(l.p50),
            ms(l.p99),
            ms(l.max),
            per(r.requests, r.delivered),
            per(r.bytes_up + r.bytes_down, r.delivered),
            r.server_cpu_s
                .map(|c| format!("{c:.2}"))
                .unwrap_or_else(|| "-".into()),
            r.server_rss_bytes
                .map(|b| format!("{:.1}", b as f64 / (1024.0 * 1024.0)))
                .unwrap_or_else(|| "-".into()),
            r.errors.values().sum::<u64>().to_string(),
        ]);
    }
    let widths: Vec<usize> = (0..head.len())
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
    out
}

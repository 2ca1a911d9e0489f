//! Under the summary table of a run with `--broker`: one line per technique with the child
//! broker's own cost and traffic in the window, and what the server saw of it, e.g.
//! `broker redis, sse: 0.42 CPU-s (1.30 per 1M deliveries), 31.0 MiB, 3,000 msg/s`.

use contract::run_dir::TechniqueSummary;

/// The broker lines of `rows` (empty without a broker).
pub fn lines(rows: &[&TechniqueSummary]) -> String {
    let mut out = String::new();
    for r in rows {
        let Some(b) = &r.broker else { continue };
        let cpu = b.cpu_s.map_or("-".into(), |c| format!("{c:.2}"));
        let per = b
            .cpu_s_per_million_deliveries
            .map_or(String::new(), |p| format!(" ({p:.2} per 1M deliveries)"));
        let mib = b.rss_peak_bytes.map_or("-".into(), |m| {
            format!("{:.1}", m as f64 / (1024.0 * 1024.0))
        });
        let rate = b
            .messages_per_s
            .map_or("-".into(), |m| thousands(m.round() as u64));
        let mut line = format!(
            "broker {}, {}: {cpu} CPU-s{per}, {mib} MiB, {rate} msg/s",
            b.kind,
            r.technique.name()
        );
        let mut extra = Vec::new();
        if b.restarts > 0 {
            let s = if b.restarts == 1 { "" } else { "s" };
            extra.push(format!("{} restart{s}", b.restarts));
        }
        if let Some(s) = &b.status {
            extra.push(format!(
                "{} disconnects, {} gaps, {} backfilled, {} refused",
                s.disconnects, s.gaps, s.backfilled, s.refused
            ));
        }
        if !extra.is_empty() {
            line.push_str(&format!("; {}", extra.join(", ")));
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// `3,000`.
fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_separated() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(3000), "3,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }
}

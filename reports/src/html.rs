//! The report page, `index.html`: one self-contained file that opens from disk with no network
//! (inline CSS, no script, no web fonts; charts and CSV by relative path). It shows a banner for
//! a partial run, the findings, the summary table with units, the usual-claims table with each
//! rule, the charts, the run's parameters and machine, and the CSV files' columns. Everything
//! that comes from the run's files is HTML-escaped.

use std::fmt::Write as _;

use crate::charts::Chart;
use crate::claims::{self, Claim, Verdict};
use crate::colors;
use crate::csv_out;
use crate::findings;
use crate::fmt;
use crate::model::{Figures, Run, TechniqueSummary};

/// Escapes text for HTML element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;color:#1d1d1f;background:#fafafa}
main{max-width:1280px;margin:0 auto;padding:24px 32px 64px}
h1{font-size:28px;margin:8px 0 4px}h2{font-size:22px;margin:36px 0 10px;border-bottom:1px solid #ddd;padding-bottom:4px}
h3{font-size:17px;margin:20px 0 6px}
.sub{color:#555;margin:0 0 12px}
.banner{background:#fff3cd;border:2px solid #d39e00;color:#5c4400;padding:12px 16px;border-radius:6px;margin:16px 0;font-weight:600}
table{border-collapse:collapse;background:#fff;font-size:14px;margin:8px 0}
th,td{border:1px solid #ddd;padding:5px 8px;text-align:right;vertical-align:top}
table.num td{white-space:nowrap}
.scroll{overflow-x:auto}
th{background:#f0f0f0;font-weight:600}
td.l,th.l{text-align:left}
.sw{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:6px;vertical-align:-1px}
.holds{color:#116329;font-weight:600}.does-not-hold{color:#a40e26;font-weight:600}.not-measured{color:#666;font-style:italic}
figure{margin:18px 0;background:#fff;border:1px solid #ddd;padding:10px}
figure img{width:100%;height:auto;display:block}
figcaption{color:#444;font-size:14px;margin-top:6px}
ul.findings li{margin:4px 0}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 16px;font-size:14px}
dt{color:#555}dd{margin:0;font-family:ui-monospace,monospace;word-break:break-all}
code{font-family:ui-monospace,monospace;font-size:13px}
nav a{margin-right:14px}
";

/// Everything the page shows.
pub struct Page<'a> {
    pub runs: &'a [Run],
    pub charts: &'a [Chart],
    /// Path of the report directory relative to `index.html` (`report`).
    pub report_dir: &'a str,
}

fn swatch(technique: &str) -> String {
    format!(
        "<span class=\"sw\" style=\"background:{}\"></span>{}",
        colors::hex(technique),
        esc(&colors::display_name(technique))
    )
}

fn opt_lat(v: Option<f64>) -> String {
    fmt::opt(v, fmt::latency_us)
}

/// Renders the page.
pub fn render(page: &Page) -> String {
    let runs = page.runs;
    let compare = runs.len() > 1;
    let mut h = String::new();
    let title = if compare {
        format!("pushbench comparison: {} runs", runs.len())
    } else {
        format!("pushbench report: {}", runs[0].label)
    };
    let _ = write!(
        h,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n<h1>{}</h1>\n",
        esc(&title),
        esc(&title)
    );
    for (i, run) in runs.iter().enumerate() {
        let m = &run.manifest;
        let _ = writeln!(
            h,
            "<p class=\"sub\">{}<code>{}</code>: {} → {}; {}, {}{}</p>",
            if compare {
                format!("{} = ", crate::charts::run_letter(i))
            } else {
                String::new()
            },
            esc(&run.dir.display().to_string()),
            esc(m.started_at.as_deref().unwrap_or("?")),
            esc(m.ended_at.as_deref().unwrap_or("?")),
            esc(m.machine.cpu_model.as_deref().unwrap_or("unknown CPU")),
            fmt::opt(m.machine.cores, |c| format!("{c} cores")),
            fmt::opt(m.build_profile.as_deref(), |p| format!(
                ", {} build",
                esc(p)
            )),
        );
        if m.partial {
            let _ = writeln!(
                h,
                "<div class=\"banner\" id=\"partial\">PARTIAL RUN{}: this run was cut short{}. \
                 The figures cover only what was measured before it stopped.</div>",
                if compare {
                    format!(" ({})", esc(&run.label))
                } else {
                    String::new()
                },
                m.failure
                    .as_deref()
                    .map(|f| format!(" ({})", esc(f)))
                    .unwrap_or_default()
            );
        }
        for t in run.techniques.iter().filter(|t| t.failure.is_some()) {
            let _ = writeln!(
                h,
                "<div class=\"banner\">{}{} stopped early: {}</div>",
                esc(&colors::display_name(t.technique.name())),
                if compare {
                    format!(" ({})", esc(&run.label))
                } else {
                    String::new()
                },
                esc(t.failure.as_deref().unwrap_or_default())
            );
        }
    }
    h.push_str(
        "<nav><a href=\"#findings\">Findings</a><a href=\"#summary\">Summary</a>\
         <a href=\"#claims\">Usual claims</a><a href=\"#charts\">Charts</a>\
         <a href=\"#params\">Parameters and machine</a><a href=\"#csv\">CSV</a></nav>\n",
    );

    h.push_str("<h2 id=\"findings\">Findings</h2>\n");
    for (i, run) in runs.iter().enumerate() {
        if compare {
            let _ = writeln!(
                h,
                "<h3>{} = {}</h3>",
                crate::charts::run_letter(i),
                esc(&run.label)
            );
        }
        h.push_str("<ul class=\"findings\">\n");
        for f in findings::findings(run) {
            let _ = writeln!(h, "<li>{}</li>", esc(&f));
        }
        h.push_str("</ul>\n");
    }

    h.push_str("<h2 id=\"summary\">Summary</h2>\n");
    h.push_str(
        "<p class=\"sub\">Steady-state window only. Latency is publish-to-receive from each \
         message's scheduled send time. Bytes are counted at the client sockets (the server's \
         own count beside them); CPU is the server's user + system time.</p>\n",
    );
    summary_table(&mut h, runs);

    h.push_str("<h2 id=\"claims\">Usual claims, checked against this run</h2>\n");
    claims_table(&mut h, runs);

    h.push_str("<h2 id=\"charts\">Charts</h2>\n");
    for c in page.charts {
        let _ = writeln!(
            h,
            "<figure><img src=\"{}/{}\" alt=\"{}\" width=\"{}\" height=\"{}\">\
             <figcaption><b>{}.</b> {}</figcaption></figure>",
            esc(page.report_dir),
            esc(&c.file),
            esc(&c.title),
            crate::charts::WIDTH,
            crate::charts::HEIGHT,
            esc(&c.title),
            esc(&c.caption)
        );
    }

    h.push_str("<h2 id=\"params\">Parameters and machine</h2>\n");
    for run in runs {
        params(&mut h, run, compare);
    }

    h.push_str("<h2 id=\"csv\">CSV files</h2>\n");
    let _ = writeln!(
        h,
        "<p><a href=\"{0}/summary.csv\">summary.csv</a> (one row per technique{1}) and \
         <a href=\"{0}/timeseries.csv\">timeseries.csv</a> (one row per second per technique{1}). \
         Units are in the column names; an empty cell means unknown.</p>",
        esc(page.report_dir),
        if compare {
            ", per run, first column run"
        } else {
            ""
        }
    );
    h.push_str(
        "<table><tr><th class=\"l\">summary.csv column</th><th class=\"l\">meaning</th></tr>\n",
    );
    for (c, d) in csv_out::SUMMARY_COLUMNS {
        let _ = writeln!(
            h,
            "<tr><td class=\"l\"><code>{}</code></td><td class=\"l\">{}</td></tr>",
            esc(c),
            esc(d)
        );
    }
    h.push_str("</table>\n</main>\n</body>\n</html>\n");
    h
}

fn summary_table(h: &mut String, runs: &[Run]) {
    let compare = runs.len() > 1;
    h.push_str("<div class=\"scroll\"><table class=\"num\">\n<tr>");
    if compare {
        h.push_str("<th class=\"l\">run</th>");
    }
    for col in [
        "technique",
        "clients",
        "delivered / expected",
        "lost",
        "dupli&shy;cates",
        "p50",
        "p99",
        "p99.9",
        "max",
        "requests per msg",
        "bytes per msg, client (down + up)",
        "bytes per msg (server count)",
        "server CPU (ms per 1,000 msgs)",
        "server RSS peak",
        "server RSS per conn",
        "load generator CPU (s)",
        "errors",
    ] {
        let class = if col == "technique" {
            " class=\"l\""
        } else {
            ""
        };
        let _ = write!(h, "<th{class}>{col}</th>");
    }
    h.push_str("</tr>\n");
    for run in runs {
        for t in &run.techniques {
            summary_row(h, run, t, compare);
        }
    }
    h.push_str("</table></div>\n");
}

fn summary_row(h: &mut String, run: &Run, t: &TechniqueSummary, compare: bool) {
    h.push_str("<tr>");
    if compare {
        let _ = write!(h, "<td class=\"l\">{}</td>", esc(&run.label));
    }
    let server_per_msg = match (t.server_bytes_up, t.server_bytes_down, t.delivered) {
        (Some(u), Some(d), Some(n)) if n > 0 => fmt::bytes((u + d) as f64 / n as f64),
        _ => "n/a".into(),
    };
    let errors = if t.errors.is_empty() {
        "0".to_string()
    } else {
        let kinds = t
            .errors
            .iter()
            .filter(|(_, v)| **v > 0)
            .map(|(k, v)| format!("{} {k}", fmt::count(*v)))
            .collect::<Vec<_>>()
            .join(", ");
        if kinds.is_empty() {
            "0".into()
        } else {
            format!("{} ({})", fmt::count(t.errors_total()), kinds)
        }
    };
    let cells = [
        fmt::opt(t.clients, fmt::count),
        match (t.delivered, t.expected) {
            (Some(d), Some(e)) => format!(
                "{} / {}{}",
                fmt::count(d),
                fmt::count(e),
                fmt::opt(t.delivered_ratio(), |r| format!(" ({})", fmt::percent(r)))
            ),
            _ => "n/a".into(),
        },
        fmt::opt(t.lost, fmt::count),
        fmt::opt(t.duplicates, fmt::count),
        opt_lat(t.latency_us.p50.map(|v| v as f64)),
        opt_lat(t.latency_us.p99.map(|v| v as f64)),
        opt_lat(t.latency_us.p999.map(|v| v as f64)),
        opt_lat(t.latency_us.max.map(|v| v as f64)),
        fmt::opt(t.requests_per_msg(), fmt::sig),
        match (t.bytes_down_per_msg(), t.bytes_up_per_msg()) {
            (Some(d), Some(u)) => format!("{} ({:.0} + {:.0})", fmt::bytes(d + u), d, u),
            _ => "n/a".into(),
        },
        server_per_msg,
        fmt::opt(t.cpu_ms_per_1k_msgs(), fmt::sig),
        fmt::opt(t.server_rss_bytes, |b| fmt::bytes(b as f64)),
        fmt::opt(t.rss_per_conn(), fmt::bytes),
        fmt::opt(t.loadgen_cpu_s, fmt::sig),
        errors,
    ];
    let _ = write!(h, "<td class=\"l\">{}</td>", swatch(t.technique.name()));
    for c in cells {
        let _ = write!(h, "<td>{}</td>", esc(&c));
    }
    h.push_str("</tr>\n");
}

fn verdict_class(v: Verdict) -> &'static str {
    match v {
        Verdict::Holds => "holds",
        Verdict::DoesNotHold => "does-not-hold",
        Verdict::NotMeasured => "not-measured",
    }
}

fn claims_table(h: &mut String, runs: &[Run]) {
    let compare = runs.len() > 1;
    let checked: Vec<Vec<Claim>> = runs.iter().map(claims::check).collect();
    h.push_str("<table>\n<tr><th class=\"l\">claim</th>");
    for run in runs {
        let _ = write!(
            h,
            "<th class=\"l\">{}</th><th class=\"l\">the figure that decided it</th>",
            if compare {
                format!("verdict: {}", esc(&run.label))
            } else {
                "verdict".into()
            }
        );
    }
    h.push_str("<th class=\"l\">rule</th></tr>\n");
    for (i, (claim, rule)) in claims::CLAIMS.iter().enumerate() {
        let _ = write!(h, "<tr><td class=\"l\">{}</td>", esc(claim));
        for c in &checked {
            let c = &c[i];
            let _ = write!(
                h,
                "<td class=\"l {}\">{}</td><td class=\"l\">{}</td>",
                verdict_class(c.verdict),
                c.verdict.as_str(),
                esc(&c.figure)
            );
        }
        let _ = writeln!(h, "<td class=\"l\">{}</td></tr>", esc(rule));
    }
    h.push_str("</table>\n");
}

fn params(h: &mut String, run: &Run, compare: bool) {
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

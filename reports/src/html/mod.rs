//! The report page, `index.html`: one self-contained file that opens from disk with no network
//! (inline CSS, no script, no web fonts; charts and CSV by relative path). It shows a banner for
//! a partial run, the findings, the summary table with units (`median (min–max)` in a repeated
//! run), the request-scoped streams of a request run ([`request`]), the servers compared (several runs), HTTP/2 and TLS compared (runs over several transports:
//! [`transport`]), the broker (runs with `--broker`: [`broker`]), the usual-claims table with each rule, the charts,
//! the run's parameters and machine, and the CSV files' columns. Everything that comes from the
//! run's files is HTML-escaped.

mod broker;
mod checks;
mod params;
mod recovery;
mod request;
mod servers;
mod tables;
mod text;
mod transport;

use std::fmt::Write as _;

use crate::charts::Chart;
use crate::colors;
use crate::csv_out;
use crate::findings;
use crate::fmt;
use crate::model::Run;
use params::params;
use tables::{claims_table, summary_table};
pub use text::{esc, swatch};

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
        transport::run_line(&mut h, run, compare);
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
        for t in &run.skipped {
            let _ = writeln!(
                h,
                "<p class=\"skipped\">{}{}: {}, not measured.</p>",
                esc(&colors::display_name(t.technique.name())),
                if compare {
                    format!(" ({})", esc(&run.label))
                } else {
                    String::new()
                },
                esc(t.skipped.as_deref().unwrap_or_default())
            );
        }
    }
    let request = crate::request::any(runs);
    let _ = writeln!(
        h,
        "<nav><a href=\"#findings\">Findings</a><a href=\"#summary\">Summary</a>{}{}{}\
         {}<a href=\"#claims\">Usual claims</a><a href=\"#charts\">Charts</a>\
         <a href=\"#params\">Parameters and machine</a><a href=\"#csv\">CSV</a></nav>",
        if request {
            "<a href=\"#request\">Request-scoped streams</a>"
        } else {
            ""
        },
        if checks::any(runs) {
            "<a href=\"#checks\">Checks</a>"
        } else {
            ""
        },
        if compare {
            "<a href=\"#servers\">Servers compared</a>"
        } else {
            ""
        },
        if crate::recovery::any(runs) {
            "<a href=\"#recovery\">Recovery</a>"
        } else {
            ""
        }
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
    h.push_str(if request {
        "<p class=\"sub\">Steady-state window only. Messages are the events of the requested \
         streams; p50 to max are lateness (received − due): each event's receive time minus the \
         time the server's schedule made it due. Bytes are counted at the client sockets (the \
         server's own count beside them); CPU is the server's user + system time.</p>\n"
    } else {
        "<p class=\"sub\">Steady-state window only. Latency is publish-to-receive from each \
         message's scheduled send time. Bytes are counted at the client sockets (the server's \
         own count beside them); CPU is the server's user + system time.</p>\n"
    });
    for run in runs {
        if let Some(s) = crate::repeat::sentence(run) {
            let who = if compare {
                format!("{}: ", esc(&run.label))
            } else {
                String::new()
            };
            let _ = writeln!(
                h,
                "<p class=\"sub repeat\">{who}{} Cells read median (min–max).</p>",
                esc(&s)
            );
        }
    }
    summary_table(&mut h, runs);
    checks::section(&mut h, runs);
    request::section(&mut h, runs, page.charts, page.report_dir);

    servers::section(&mut h, runs);
    transport::section(&mut h, runs);
    broker::section(&mut h, runs);
    recovery::section(&mut h, runs);

    h.push_str("<h2 id=\"claims\">Usual claims, checked against this run</h2>\n");
    if crate::repeat::any(runs) {
        h.push_str(
            "<p class=\"sub\">In a repeated run the figures are medians; a claim comparing \
             two techniques calls no difference (not measured) when their min–max over the \
             repetitions overlap.</p>\n",
        );
    }
    claims_table(&mut h, runs);
    recovery::claims_table(&mut h, runs);

    h.push_str("<h2 id=\"charts\">Charts</h2>\n");
    // A request run shows its request charts (and lateness) in its own section.
    for c in page
        .charts
        .iter()
        .filter(|c| !(request && request::is_section_chart(&c.file)))
    {
        request::figure(&mut h, c, page.report_dir);
    }

    h.push_str("<h2 id=\"params\">Parameters and machine</h2>\n");
    for run in runs {
        params(&mut h, run, compare);
    }

    h.push_str("<h2 id=\"csv\">CSV files</h2>\n");
    let _ = writeln!(
        h,
        "<p><a href=\"{0}/{2}\">{2}</a> (one row per technique{1}) and \
         <a href=\"{0}/timeseries.csv\">timeseries.csv</a> (one row per second per technique{1}). \
         {3}Units are in the column names; an empty cell means unknown.</p>",
        esc(page.report_dir),
        if compare {
            ", per run, first column run"
        } else {
            ""
        },
        csv_out::TECHNIQUES_CSV,
        if compare {
            format!(
                "<a href=\"{0}/{1}\">{1}</a> holds the servers compared, one row per \
                 technique per run. ",
                esc(page.report_dir),
                crate::servers::SERVERS_CSV
            )
        } else {
            String::new()
        } + &if crate::recovery::any(runs) {
            format!(
                "<a href=\"{0}/{1}\">{1}</a> holds the recovery table, one row per \
                 technique per run with faults. ",
                esc(page.report_dir),
                crate::recovery::RECOVERY_CSV
            )
        } else {
            String::new()
        },
    );
    let _ = writeln!(
        h,
        "<table><tr><th class=\"l\">{} column</th><th class=\"l\">meaning</th></tr>",
        csv_out::TECHNIQUES_CSV
    );
    let request_columns = if request {
        &crate::request::COLUMNS[..]
    } else {
        &[]
    };
    for (c, d) in csv_out::SUMMARY_COLUMNS.iter().chain(request_columns) {
        let d = match *c {
            "latency_min_us" if request => {
                "lateness (received − due) in a request run, else publish-to-receive; \
                 minimum (µs)"
            }
            _ => d,
        };
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

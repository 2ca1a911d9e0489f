//! The sweep's page, `index.html`: the objective, the knee per technique and what broke it,
//! every step with a link to its own report, the charts, and a link to the capacity plan when
//! `pushbench plan` has written one; for a sweep over links, the knee per technique and link
//! and the latency table against the link ([`super::rtt_html`]). Self-contained (inline CSS, no script); everything from
//! the sweep's files is HTML-escaped.

use std::fmt::Write as _;
use std::path::Path;

use super::rtt::RttRow;
use super::{Outcome, Slo, SweepDoc, rtt_html};
use crate::charts::{Chart, HEIGHT, WIDTH};
use crate::fmt;
use crate::html::{esc, swatch};

/// The page's CSS (shared with the plan page).
pub const STYLE: &str = "
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;color:#1d1d1f;background:#fafafa}
main{max-width:1280px;margin:0 auto;padding:24px 32px 64px}
h1{font-size:28px;margin:8px 0 4px}h2{font-size:22px;margin:36px 0 10px;border-bottom:1px solid #ddd;padding-bottom:4px}
.sub{color:#555;margin:0 0 12px}
.banner{background:#fff3cd;border:2px solid #d39e00;color:#5c4400;padding:12px 16px;border-radius:6px;margin:16px 0;font-weight:600}
table{border-collapse:collapse;background:#fff;font-size:14px;margin:8px 0}
th,td{border:1px solid #ddd;padding:5px 8px;text-align:right;vertical-align:top}
th{background:#f0f0f0;font-weight:600}
td.l,th.l{text-align:left}
.sw{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:6px;vertical-align:-1px}
.met{color:#116329;font-weight:600}.missed{color:#a40e26;font-weight:600}.x{color:#8a5a00;font-style:italic}
figure{margin:18px 0;background:#fff;border:1px solid #ddd;padding:10px}
figure img{width:100%;height:auto;display:block}
figcaption{color:#444;font-size:14px;margin-top:6px}
code{font-family:ui-monospace,monospace;font-size:13px}
";

fn head(h: &mut String, title: &str) {
    let _ = write!(
        h,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n\
         <title>{t}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n<h1>{t}</h1>\n",
        t = esc(title)
    );
}

/// The link part of the page, for a sweep with a link axis.
#[derive(Debug, Clone)]
pub struct LinkSection {
    /// The table technique × link.
    pub rows: Vec<RttRow>,
    /// Which steps the table and the charts show, when that needs saying.
    pub note: Option<String>,
}

/// Renders the page of the sweep in `dir`.
pub fn render(dir: &Path, doc: &SweepDoc, charts: &[Chart], links: Option<&LinkSection>) -> String {
    let mut h = String::new();
    head(&mut h, "pushbench sweep");
    let _ = writeln!(
        h,
        "<p class=\"sub\"><code>{}</code>: {} → {}; {}{}</p>",
        esc(&dir.display().to_string()),
        esc(&doc.started_at),
        esc(doc.ended_at.as_deref().unwrap_or("?")),
        esc(doc.machine.cpu_model.as_deref().unwrap_or("unknown CPU")),
        fmt::opt(doc.machine.cores, |c| format!(", {c} cores")),
    );
    if doc.partial {
        let _ = writeln!(
            h,
            "<div class=\"banner\">PARTIAL SWEEP: cut short{}. Only the steps listed were \
             measured.</div>",
            doc.failure
                .as_deref()
                .map(|f| format!(" ({})", esc(f)))
                .unwrap_or_default()
        );
    }
    let _ = writeln!(
        h,
        "<p>Objective each step must meet: {}, at most \
         <b>{}</b> lost, at most <b>{}</b>. The <b>knee</b> is the largest {} that met \
         it; each technique stops at its first step that misses it or that this machine has no \
         room for.</p>",
        objective_terms(doc),
        fmt::plural(doc.slo.max_lost, "message"),
        fmt::plural(doc.slo.max_errors, "error"),
        if is_request(doc) {
            "concurrency"
        } else {
            "client count"
        },
    );
    if dir.join("plan.html").is_file() {
        h.push_str("<p>Capacity plan from this sweep: <a href=\"plan.html\">plan.html</a></p>\n");
    }
    match links {
        Some(_) => knee_table_by_link(&mut h, doc),
        None => knee_table(&mut h, doc),
    }
    if let Some(l) = links {
        rtt_html::table(&mut h, &l.rows, l.note.clone());
    }
    if super::instances::is_instance_sweep(doc) {
        super::instances::table(&mut h, doc);
    }
    steps_table(&mut h, dir, doc, links.is_some());
    h.push_str("<h2>Charts</h2>\n");
    for c in charts {
        let _ = writeln!(
            h,
            "<figure><img src=\"{}\" alt=\"{}\" width=\"{WIDTH}\" height=\"{HEIGHT}\">\
             <figcaption><b>{}.</b> {}</figcaption></figure>",
            esc(&c.file),
            esc(&c.title),
            esc(&c.title),
            esc(&c.caption)
        );
    }
    let _ = writeln!(
        h,
        "<h2>Command</h2>\n<p><code>{}</code></p>\n</main>\n</body>\n</html>",
        esc(&doc.command_line.join(" "))
    );
    h
}

fn knee_cells(o: Option<&Outcome>) -> String {
    let knee = o.and_then(|o| o.knee_clients);
    format!(
        "<td>{}</td><td>{}</td><td class=\"l\">{}</td>",
        match knee {
            Some(k) => fmt::count(k),
            None => "none".into(),
        },
        fmt::opt(o.and_then(|o| o.broke_at), fmt::count),
        match o.and_then(|o| o.broke_reason.as_deref()) {
            Some(r) => esc(r),
            None if knee.is_some() =>
                "nothing: every step met the objective (the knee is a lower bound)".into(),
            None => "not swept".into(),
        }
    )
}

fn knee_table(h: &mut String, doc: &SweepDoc) {
    h.push_str("<h2>Knee per technique</h2>\n<table>\n<tr><th class=\"l\">technique</th>\
                <th>knee (clients)</th><th>stopped at</th><th class=\"l\">what broke it</th></tr>\n");
    for t in &doc.techniques {
        let _ = writeln!(
            h,
            "<tr><td class=\"l\">{}</td>{}</tr>",
            swatch(t),
            knee_cells(doc.outcome(t))
        );
    }
    h.push_str("</table>\n");
}

/// The knee table of a sweep over links: one row per technique and link.
fn knee_table_by_link(h: &mut String, doc: &SweepDoc) {
    h.push_str(
        "<h2>Knee per technique and link</h2>\n<table>\n<tr><th class=\"l\">technique</th>\
                <th class=\"l\">link</th><th>knee (clients)</th><th>stopped at</th>\
                <th class=\"l\">what broke it</th></tr>\n",
    );
    for o in &doc.outcomes {
        let _ = writeln!(
            h,
            "<tr><td class=\"l\">{}</td><td class=\"l\"><code>{}</code></td>{}</tr>",
            swatch(&o.technique),
            esc(o.link.as_deref().unwrap_or("none")),
            knee_cells(Some(o))
        );
    }
    h.push_str("</table>\n");
}

fn steps_table(h: &mut String, dir: &Path, doc: &SweepDoc, by_link: bool) {
    let link_th = if by_link {
        "<th class=\"l\">link</th>"
    } else {
        ""
    };
    let _ = writeln!(
        h,
        "<h2>Steps</h2>\n<table>\n<tr><th class=\"l\">technique</th>{link_th}<th>clients</th>\
         <th>p99</th><th>lost</th><th>errors</th><th>delivered/s</th><th>server CPU (cores)</th>\
         <th>server RSS</th><th>requests</th><th class=\"l\">objective</th>\
         <th class=\"l\">report</th></tr>"
    );
    for s in &doc.steps {
        let link = format!("{}/index.html", s.run_dir);
        let report = if dir.join(&link).is_file() {
            format!("<a href=\"{}\">{}</a>", esc(&link), esc(&s.run_dir))
        } else {
            format!("<code>{}</code>", esc(&s.run_dir))
        };
        let link_td = if by_link {
            format!("<td class=\"l\"><code>{}</code></td>", esc(&s.link))
        } else {
            String::new()
        };
        let _ = writeln!(
            h,
            "<tr><td class=\"l\">{}</td>{link_td}<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td></tr>",
            swatch(&s.technique),
            fmt::count(s.clients),
            fmt::opt(s.p99_us, |v| fmt::latency_us(v as f64)),
            fmt::count(s.lost),
            fmt::count(s.errors),
            fmt::sig(s.delivered_per_s),
            fmt::opt(s.server_cores, fmt::sig),
            fmt::opt(s.server_rss_bytes, |b| fmt::bytes(b as f64)),
            fmt::count(s.requests),
            if s.slo_met {
                "<span class=\"met\">met</span>".to_string()
            } else {
                format!(
                    "<span class=\"missed\">missed</span>: {}",
                    esc(s.broke_reason.as_deref().unwrap_or(""))
                )
            },
            report
        );
    }
    h.push_str(
        "</table>\n<p class=\"sub\">Every figure covers the step's steady-state window. \
                All rows: <a href=\"sweep.csv\">sweep.csv</a>; parameters and outcomes: \
                <a href=\"sweep.json\">sweep.json</a>.</p>\n",
    );
}

/// The head of a page in the same style (for the plan page).
pub fn page_head(title: &str) -> String {
    let mut h = String::new();
    head(&mut h, title);
    h
}

/// Whether the sweep stepped request-mode concurrency (`--mode request`) rather than clients.
pub fn is_request(doc: &SweepDoc) -> bool {
    doc.run_params.get("mode").and_then(|m| m.as_str()) == Some("request")
}

/// The objective's latency terms, bold figures, as the page states them: of publish-to-receive
/// latency in a broadcast sweep, of lateness (and TTFT / ITL where set) in a request sweep.
fn objective_terms(doc: &SweepDoc) -> String {
    let b = |us: u64| format!("<b>{}</b>", esc(&fmt::latency_us(us as f64)));
    if !is_request(doc) {
        return format!("p99 publish-to-receive latency ≤ {}", b(doc.slo.p99_us));
    }
    let mut t = format!("p99 lateness (received − due) ≤ {}", b(doc.slo.p99_us));
    if let Some(v) = doc.slo.ttft_p99_us {
        t.push_str(&format!(", TTFT p99 ≤ {}", b(v)));
    }
    if let Some(v) = doc.slo.itl_p99_us {
        t.push_str(&format!(", ITL p99 ≤ {}", b(v)));
    }
    t
}

impl Slo {
    /// The objective as a sentence's words, e.g. `p99 lateness ≤ 500 ms, TTFT p99 ≤ 1 s`
    /// (`what`: what the p99 objective is of).
    pub fn latency_terms(&self, what: &str) -> String {
        let mut t = format!(
            "p99 {what} ≤ {}",
            crate::fmt::latency_us(self.p99_us as f64)
        );
        if let Some(v) = self.ttft_p99_us {
            t.push_str(&format!(
                ", TTFT p99 ≤ {}",
                crate::fmt::latency_us(v as f64)
            ));
        }
        if let Some(v) = self.itl_p99_us {
            t.push_str(&format!(", ITL p99 ≤ {}", crate::fmt::latency_us(v as f64)));
        }
        t
    }
}

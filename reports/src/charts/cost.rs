//! Chart 4: what each technique cost the server, in two panels: CPU milliseconds per 1,000
//! delivered messages (left) and resident memory per client connection (right, peak RSS minus
//! the RSS before the technique connected, divided by its clients).

use std::path::Path;

use super::bars::{self, Bar, BarChart, Segment};
use super::legend;
use super::{Chart, canvas, chart_err, out, run_letter, techniques};
use crate::colors;
use crate::error::ReportError;
use crate::fmt;
use crate::model::{Figures, Run, TechniqueSummary};

pub const FILE: &str = "server_cost.png";

fn bars_of(
    runs: &[Run],
    groups: &[String],
    (figure, scale): (&str, f64),
    value: impl Fn(&TechniqueSummary) -> Option<f64>,
    label: impl Fn(f64) -> String,
) -> Vec<Bar> {
    let compare = runs.len() > 1;
    let mut out = Vec::new();
    for (g, name) in groups.iter().enumerate() {
        for (r, run) in runs.iter().enumerate() {
            let t = run.technique(name);
            let v = t.and_then(&value);
            let whisker = t
                .and_then(|t| crate::repeat::range(t, figure))
                .map(|(lo, hi)| (lo * scale, hi * scale));
            let (segments, text) = match v {
                Some(v) => (
                    vec![Segment {
                        value: v,
                        color: colors::color(name),
                    }],
                    if compare { fmt::sig(v) } else { label(v) },
                ),
                None => (Vec::new(), "n/a".into()),
            };
            out.push(Bar {
                group: g,
                run: r,
                segments,
                label: text,
                tag: compare.then(|| run_letter(r)),
                whisker,
            });
        }
    }
    out
}

pub fn draw(runs: &[Run], dir: &Path) -> Result<Chart, ReportError> {
    let path = out(dir, FILE);
    let groups = techniques(runs);
    let title = "Server cost per technique".to_string();
    let root = canvas(&path);
    let body = legend::titled(&root, &title).map_err(chart_err(&path))?;
    let plot = legend::split(
        &body,
        &[
            legend::techniques(&groups),
            super::whiskers::legend(runs),
            legend::runs(runs),
        ]
        .concat(),
    )
    .map_err(chart_err(&path))?;
    let (_, h) = plot.dim_in_pixel();
    let (top, bottom) = plot.split_vertically(h / 2);
    let cpu = BarChart {
        title: Some("server CPU per 1,000 delivered messages"),
        y_desc: "CPU (ms per 1,000 msgs)",
        groups: &groups,
        runs: runs.len(),
        log_y: false,
        bars: bars_of(
            runs,
            &groups,
            (crate::repeat::CPU_PER_1M, 1.0),
            TechniqueSummary::cpu_ms_per_1k_msgs,
            |v| format!("{} ms", fmt::sig(v)),
        ),
        hline: None,
        y_fmt: &fmt::tick,
    };
    bars::draw(&top, &cpu).map_err(chart_err(&path))?;
    let rss = BarChart {
        title: Some("server memory per client connection"),
        y_desc: "RSS per connection (KiB)",
        groups: &groups,
        runs: runs.len(),
        log_y: false,
        bars: bars_of(
            runs,
            &groups,
            (crate::repeat::RSS_PER_CLIENT, 1.0 / 1024.0),
            |t| t.rss_per_conn().map(|b| b / 1024.0),
            |v| format!("{} KiB", fmt::sig(v)),
        ),
        hline: None,
        y_fmt: &fmt::tick,
    };
    bars::draw(&bottom, &rss).map_err(chart_err(&path))?;
    super::present(&root, &path)?;
    Ok(Chart {
        file: FILE.into(),
        title: "Server cost".into(),
        caption: "Left: server CPU time (user + system) in the steady-state window per 1,000 \
                  delivered messages. Right: server memory per client connection, (peak RSS − \
                  RSS before the technique connected) / clients."
            .to_string()
            + whisker_note(runs),
    })
}

/// The caption's note on whiskers, for a repeated run (the bars are the medians).
pub(crate) fn whisker_note(runs: &[Run]) -> &'static str {
    if crate::repeat::any(runs) {
        " Bars are the medians over the repetitions; whiskers span their min–max."
    } else {
        ""
    }
}

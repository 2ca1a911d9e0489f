//! Chart 3: HTTP requests per delivered message, per technique, on a logarithmic axis (short
//! poll can spend hundreds of times what a stream spends). Every poll, long poll, (re)connect
//! and WebSocket upgrade in the steady-state window counts.

use std::path::Path;

use super::bars::{self, Bar, BarChart, Segment};
use plotters::style::BLACK;

use super::legend::{self, Mark};
use super::{Chart, out, run_letter, techniques};
use crate::colors;
use crate::error::ReportError;
use crate::fmt;
use crate::model::{Figures, Run};

pub const FILE: &str = "requests_per_message.png";

pub fn draw(runs: &[Run], dir: &Path) -> Result<Chart, ReportError> {
    let path = out(dir, FILE);
    let groups = techniques(runs);
    let compare = runs.len() > 1;
    let mut bars_v = Vec::new();
    for (g, name) in groups.iter().enumerate() {
        for (r, run) in runs.iter().enumerate() {
            let v = run.technique(name).and_then(|t| t.requests_per_msg());
            let (segments, label) = match v {
                Some(v) => (
                    vec![Segment {
                        value: v,
                        color: colors::color(name),
                    }],
                    fmt::sig(v),
                ),
                None => (Vec::new(), "n/a".into()),
            };
            bars_v.push(Bar {
                group: g,
                run: r,
                segments,
                label,
                tag: compare.then(|| run_letter(r)),
                whisker: run
                    .technique(name)
                    .and_then(|t| crate::repeat::range(t, crate::repeat::REQUESTS_PER_MSG)),
            });
        }
    }
    let title = "HTTP requests per delivered message".to_string();
    let mut entries = legend::techniques(&groups);
    entries.push((Mark::Dashed(BLACK, 9, 6), "one request per message".into()));
    entries.extend(super::whiskers::legend(runs));
    entries.extend(legend::runs(runs));
    let chart = BarChart {
        title: None,
        y_desc: "requests per delivered message (log scale)",
        groups: &groups,
        runs: runs.len(),
        log_y: true,
        bars: bars_v,
        hline: Some(1.0),
        y_fmt: &fmt::tick,
    };
    bars::render(&path, &title, &entries, &chart)?;
    Ok(Chart {
        file: FILE.into(),
        title: "Requests per delivered message".into(),
        caption: "HTTP requests sent in the steady-state window (polls, long polls, \
                  reconnects, WebSocket upgrades) divided by messages delivered; logarithmic \
                  axis. A bar at the floor with label 0 means no request at all in the window."
            .to_string()
            + super::cost::whisker_note(runs),
    })
}

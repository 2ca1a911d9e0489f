//! Chart 2: bytes on the wire per delivered message, per technique: bytes the clients read
//! (down, solid) under bytes they wrote (up, light), counted at the client sockets, with the
//! payload size as a dashed line. Everything above the line is the technique's overhead:
//! headers, chunk framing, SSE field names, WebSocket frame headers, empty polls.

use std::path::Path;

use super::bars::{self, Bar, BarChart, Segment};
use plotters::style::{BLACK, RGBColor};

use super::legend::{self, Mark};
use super::{Chart, out, run_letter, techniques};
use crate::colors;
use crate::error::ReportError;
use crate::fmt;
use crate::model::{Figures, Run};

pub const FILE: &str = "bytes_per_message.png";

pub fn draw(runs: &[Run], dir: &Path) -> Result<Chart, ReportError> {
    let path = out(dir, FILE);
    let groups = techniques(runs);
    let compare = runs.len() > 1;
    let mut bars_v = Vec::new();
    for (g, name) in groups.iter().enumerate() {
        for (r, run) in runs.iter().enumerate() {
            let t = run.technique(name);
            let c = colors::color(name);
            let (segments, label) =
                match t.and_then(|t| Some((t.bytes_down_per_msg()?, t.bytes_up_per_msg()?))) {
                    Some((down, up)) => (
                        vec![
                            Segment {
                                value: down,
                                color: c,
                            },
                            Segment {
                                value: up,
                                color: colors::tint(c, 0.6),
                            },
                        ],
                        if compare {
                            format!("{:.0}", down + up)
                        } else {
                            fmt::bytes(down + up)
                        },
                    ),
                    None => (Vec::new(), "n/a".to_string()),
                };
            bars_v.push(Bar {
                group: g,
                run: r,
                segments,
                label,
                tag: compare.then(|| run_letter(r)),
                whisker: t.and_then(|t| crate::repeat::range(t, crate::repeat::BYTES_PER_MSG)),
            });
        }
    }
    // The payload line: the first run's payload size (comparison runs normally share it).
    let payload = runs
        .iter()
        .flat_map(|r| r.techniques.iter())
        .find_map(|t| t.payload_bytes)
        .or_else(|| {
            runs.first()?
                .manifest
                .param_f64("payload_bytes")
                .map(|p| p as u64)
        });
    let title = "Bytes on the wire per delivered message (client sockets)".to_string();
    let mut entries = super::legend::techniques(&groups);
    entries.push((
        Mark::Box(RGBColor(90, 90, 90)),
        "down: server → client".into(),
    ));
    entries.push((
        Mark::Box(RGBColor(200, 200, 200)),
        "up: client → server (light)".into(),
    ));
    if let Some(p) = payload {
        entries.push((Mark::Dashed(BLACK, 9, 6), format!("payload: {p} B")));
    }
    entries.extend(super::whiskers::legend(runs));
    entries.extend(legend::runs(runs));
    let chart = BarChart {
        title: None,
        y_desc: "bytes per delivered message (B)",
        groups: &groups,
        runs: runs.len(),
        log_y: false,
        bars: bars_v,
        hline: payload.map(|p| p as f64),
        y_fmt: &fmt::tick,
    };
    bars::render(&path, &title, &entries, &chart)?;
    Ok(Chart {
        file: FILE.into(),
        title: "Bytes on the wire per delivered message".into(),
        caption: "Bytes the clients read (solid) and wrote (light) per delivered message, \
                  counted at the client sockets over the steady-state window. The dashed line \
                  is the payload; everything above it is the technique's overhead."
            .to_string()
            + super::cost::whisker_note(runs),
    })
}

//! Request mode's percentile charts ([`crate::request`]): time to first event (TTFT) and the
//! gap between consecutive events (ITL) at every percentile, one line per technique, drawn as
//! the latency chart is ([`super::latency::draw_spectra`]: both axes logarithmic, each line
//! ending at its maximum). Each line comes from the technique's `<technique>.ttft.hlog` /
//! `.itl.hlog`; a technique without one is drawn through its summary's percentiles instead,
//! and the caption says so. Lateness (received − due) is the run's latency chart, relabelled
//! in a request run ([`super::latency`]).

use std::path::Path;

use super::latency::{self, Line, Spectra};
use super::{Chart, legend, techniques};
use crate::error::ReportError;
use crate::model::{LatencyUs, Run, TechniqueSummary};

pub const TTFT_FILE: &str = "ttft_percentiles.png";
pub const ITL_FILE: &str = "itl_percentiles.png";

/// One of the charts: its file, words, histogram and summary figure.
struct Spec {
    file: &'static str,
    metric: &'static str,
    heading: &'static str,
    y_desc: &'static str,
    title: &'static str,
    what: &'static str,
    summary: fn(&TechniqueSummary) -> Option<&LatencyUs>,
}

const SPECS: [Spec; 2] = [
    Spec {
        file: TTFT_FILE,
        metric: "ttft",
        heading: "Time to first event (TTFT) by percentile",
        y_desc: "request sent to first event (log scale)",
        title: "Time to first event by percentile",
        what: "Time to first event: from sending the request to receiving its first event \
               (the configured first-event delay is its floor)",
        summary: crate::request::ttft,
    },
    Spec {
        file: ITL_FILE,
        metric: "itl",
        heading: "Inter-event gap (ITL) by percentile",
        y_desc: "gap between consecutive events (log scale)",
        title: "Inter-event gap by percentile",
        what: "Inter-event gap: the time between two consecutive events of one stream, as the \
               client received them (with fixed intervals the median should sit at the \
               configured interval; with exponential gaps, the mean)",
        summary: crate::request::itl,
    },
];

/// Draws the TTFT and ITL charts when any run is a request run (none otherwise).
pub fn draw(runs: &[Run], dir: &Path) -> Result<Vec<Chart>, ReportError> {
    if !crate::request::any(runs) {
        return Ok(Vec::new());
    }
    SPECS.iter().map(|s| draw_one(runs, dir, s)).collect()
}

fn draw_one(runs: &[Run], dir: &Path, spec: &Spec) -> Result<Chart, ReportError> {
    let mut lines: Vec<Line> = Vec::new();
    let mut estimated = Vec::new();
    for name in techniques(runs) {
        for (r, run) in runs.iter().enumerate() {
            let Some(t) = run.technique(&name).filter(|t| t.request.is_some()) else {
                continue;
            };
            let pts = match run.request_histogram(&name, spec.metric) {
                Some(h) => latency::spectrum(h),
                None => {
                    let pts = (spec.summary)(t)
                        .map(latency::summary_spectrum)
                        .unwrap_or_default();
                    if !pts.is_empty() {
                        estimated.push(crate::colors::display_name(&name));
                    }
                    pts
                }
            };
            if !pts.is_empty() {
                lines.push((name.clone(), r, pts));
            }
        }
    }
    latency::draw_spectra(
        runs,
        dir,
        &Spectra {
            file: spec.file,
            heading: spec.heading,
            y_desc: spec.y_desc,
            lines,
            whiskers: Vec::new(),
            legend_extra: legend::runs(runs),
        },
    )?;
    estimated.dedup();
    let fallback = if estimated.is_empty() {
        String::new()
    } else {
        format!(
            " No histogram for {}: drawn through the summary's percentiles (min, p50, p90, \
             p99, p99.9, max), so the line is coarse between them.",
            estimated.join(", ")
        )
    };
    Ok(Chart {
        file: spec.file.into(),
        title: spec.title.into(),
        caption: format!(
            "{} at every percentile, over the steady-state window. Both axes are logarithmic; \
             each line ends at its maximum (dot).{fallback}",
            spec.what
        ),
    })
}

/// The files of the request charts (the page shows them in its request section).
pub fn is_request_chart(file: &str) -> bool {
    SPECS.iter().any(|s| s.file == file) || super::concurrency::FILES.contains(&file)
}

//! `histograms/<technique>.hlog`: each technique's steady-state latency histogram in the
//! HdrHistogram interval-log format ([`contract::run_dir::hlog`]), so runs merge exactly later.

use std::path::Path;
use std::time::{Duration, SystemTime};

use hdrhistogram::Histogram;

/// Writes one interval covering the window (`start`, `len`) tagged with `tag`.
pub fn write_hlog(
    path: &Path,
    h: &Histogram<u64>,
    run_start: SystemTime,
    start: SystemTime,
    len: Duration,
    tag: &str,
) -> std::io::Result<()> {
    let log = contract::run_dir::hlog::write_log(h, run_start, start, len, tag)?;
    std::fs::write(path, log)
}

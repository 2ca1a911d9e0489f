//! Reads a run's `histograms/<technique>.hlog` within bounds: at most
//! [`MAX_HLOG_BYTES`] read, every histogram's claimed lengths checked before decoding
//! ([`contract::run_dir::hlog`]); a failure names the file and line.

use std::io::Read;
use std::path::Path;

use contract::run_dir::hlog::{MAX_HLOG_BYTES, read_log};
use hdrhistogram::Histogram;

use crate::error::ReportError;

/// Reads an HdrHistogram interval log and adds up its intervals (an exact merge). A log with
/// no interval is an error: a run writes one per technique, even with no latency recorded.
pub fn load_hlog(path: &Path) -> Result<Histogram<u64>, ReportError> {
    let bytes = read_bounded(path)?;
    read_log(&bytes).map_err(|e| ReportError::Histogram {
        path: path.to_path_buf(),
        line: e.line,
        message: e.message,
    })
}

/// The file's bytes, if it is not larger than [`MAX_HLOG_BYTES`].
fn read_bounded(path: &Path) -> Result<Vec<u8>, ReportError> {
    let f = std::fs::File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => ReportError::MissingFile {
            path: path.to_path_buf(),
            what: "a latency histogram",
        },
        _ => ReportError::io(path, e),
    })?;
    let mut bytes = Vec::new();
    f.take(MAX_HLOG_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| ReportError::io(path, e))?;
    if bytes.len() as u64 > MAX_HLOG_BYTES {
        return Err(ReportError::parse(
            path,
            format!("larger than a histogram log may be ({MAX_HLOG_BYTES} bytes)"),
        ));
    }
    Ok(bytes)
}

//! Why a report could not be written: one variant per thing a user can fix, each naming the
//! file at fault.

use std::path::PathBuf;

/// Why a report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{path}: not a pushbench run directory ({reason})")]
    NotARun { path: PathBuf, reason: String },
    #[error(
        "{path}: run directory format version {found} is newer than this pushbench reads \
         ({supported}); redraw it with a newer pushbench"
    )]
    FormatTooNew {
        path: PathBuf,
        found: u64,
        supported: u64,
    },
    #[error(
        "{path}: run directory format version {found} is older than this pushbench reads \
         ({supported}); redraw it with the pushbench version that wrote it"
    )]
    FormatTooOld {
        path: PathBuf,
        found: u64,
        supported: u64,
    },
    #[error("{path}: missing ({what})")]
    MissingFile { path: PathBuf, what: &'static str },
    #[error(
        "{path}: missing latency histogram of technique {technique:?}, which recorded \
         {count} latencies"
    )]
    MissingHistogram {
        path: PathBuf,
        technique: String,
        count: u64,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{path}, line {line}: {message}")]
    Histogram {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path}: drawing the chart failed: {message}")]
    Chart { path: PathBuf, message: String },
    #[error("no run directory given")]
    NoRuns,
    #[error("comparing {0} runs needs an output directory (--out DIR)")]
    OutRequired(usize),
}

impl ReportError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, error: std::io::Error) -> Self {
        ReportError::Io {
            path: path.into(),
            error,
        }
    }
    /// A file that does not parse as the format says.
    pub fn parse(path: impl Into<PathBuf>, message: impl std::fmt::Display) -> Self {
        ReportError::Parse {
            path: path.into(),
            message: message.to_string(),
        }
    }
}

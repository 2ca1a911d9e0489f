//! The run directory (docs/RUN_FORMAT.md, format version 1): manifest.json, summary.json /
//! `--json`, summary.csv, timeseries.csv and `histograms/<technique>.hlog`, one module per file.
//!
//! One type per file format, used by its writers (`pushbench run`, `pushbench merge`) and its
//! reader (the reports). The writers fill every field the format always holds; the reader is
//! lenient: every field an older or leaner writer may lack is an `Option` (or defaults), so
//! such a directory still reads, with the figure absent. Unknown keys are ignored. The JSON
//! keys and CSV columns are the fields' names, in the fields' order: renaming or reordering a
//! field changes the format.

pub mod broker;
pub mod checks;
pub mod csv;
pub mod fault;
pub mod hlog;
mod lenient;
pub mod link;
pub mod manifest;
pub mod repetitions;
pub mod request;
pub mod summary;
pub mod summary_row;
pub mod technique;
pub mod timeseries;

use serde::{Deserialize, Serialize};

pub use broker::BrokerFigures;
pub use checks::CheckVerdict;
pub use fault::FaultSummary;
pub use link::{LinkEmulatorSummary, LinkSummary};
pub use manifest::{Machine, Manifest, MergedFrom, Params, Versions};
pub use repetitions::{Range, Repetitions};
pub use request::RequestSummary;
pub use summary::{LatencyUs, Millis, TechniqueSummary};
pub use summary_row::SummaryRow;
pub use technique::{Technique, UnknownTechnique};
pub use timeseries::TimeseriesRow;

/// The `format` of a run directory's manifest.
pub const FORMAT: &str = "pushbench-run";
/// The format version written, and the only one read.
pub const FORMAT_VERSION: u32 = 1;

/// summary.json and `--json`: `{"manifest": {...}, "techniques": [...]}`, techniques in run
/// order. `P` is the type of the manifest's `params` (see [`Manifest`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(bound(
    serialize = "P: Serialize",
    deserialize = "P: Deserialize<'de> + Default"
))]
pub struct Document<P = Params> {
    pub manifest: Manifest<P>,
    pub techniques: Vec<TechniqueSummary>,
}

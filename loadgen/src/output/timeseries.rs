//! timeseries.csv: one [`TimeseriesRow`] per second per technique (docs/RUN_FORMAT.md), as the
//! sampler took them.

use std::path::Path;

use contract::run_dir::TimeseriesRow;

/// Writes timeseries.csv (its header alone when there is no row).
pub fn write_csv(path: &Path, rows: &[TimeseriesRow]) -> Result<(), csv::Error> {
    contract::run_dir::csv::write_file(path, rows)
}

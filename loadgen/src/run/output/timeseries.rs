//! timeseries.csv: one row per second per technique (docs/RUN_FORMAT.md).

use std::path::Path;

use crate::run::sampler::Row;

/// The columns, units in the names: the reports crate reads this file, so it owns the list.
pub use reports::csv_out::TIMESERIES_COLUMNS as COLUMNS;

fn f(x: f64) -> String {
    format!("{}", (x * 1000.0).round() / 1000.0)
}

/// Writes timeseries.csv.
pub fn write_csv(path: &Path, rows: &[Row]) -> Result<(), csv::Error> {
    let mut w = csv::Writer::from_path(path)?;
    w.write_record(COLUMNS)?;
    let opt = |v: Option<String>| v.unwrap_or_default();
    for r in rows {
        w.write_record([
            f(r.t_s),
            r.technique.name().to_string(),
            r.phase.to_string(),
            r.connections.to_string(),
            f(r.delivered_per_s),
            opt(r.latency_p99_us.map(|x| x.to_string())),
            f(r.bytes_down_per_s),
            f(r.bytes_up_per_s),
            f(r.requests_per_s),
            opt(r.server_cpu_s.map(f)),
            opt(r.server_rss_bytes.map(|x| x.to_string())),
            opt(r.loadgen_cpu_s.map(f)),
        ])?;
    }
    w.flush()?;
    Ok(())
}

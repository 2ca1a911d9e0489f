//! The run directory: manifest.json, summary.json / `--json`, summary.csv, timeseries.csv and
//! histograms/<technique>.hlog (docs/RUN_FORMAT.md).

//! manifest.json as this build writes it: the format is [`contract::run_dir::Manifest`];
//! here, what only the writer knows (its versions, build profile, git revision) and the time
//! format.

use contract::run_dir::Versions;

pub use contract::run_dir::{FORMAT, FORMAT_VERSION};

/// Versions of what made the run.
pub fn versions() -> Versions {
    Versions {
        pushbench: Some(env!("CARGO_PKG_VERSION").to_string()),
        rustc: option_env!("PUSHBENCH_RUSTC_VERSION")
            .filter(|s| !s.is_empty())
            .map(str::to_string),
    }
}

/// The git revision the binary was built from, if known.
pub fn git_revision() -> Option<String> {
    option_env!("PUSHBENCH_GIT_REVISION")
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The build profile (`release` or `debug`).
pub fn build_profile() -> &'static str {
    if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    }
}

/// A UTC time as RFC 3339 with milliseconds.
pub fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

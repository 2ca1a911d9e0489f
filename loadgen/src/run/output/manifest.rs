//! manifest.json: every parameter, the machine, versions, times, and whether the run was cut
//! short (docs/RUN_FORMAT.md).

use serde::Serialize;

use crate::run::config::RunConfig;
use crate::run::procfs::Machine;

/// The manifest's format name and version.
pub const FORMAT: &str = "pushbench-run";
pub const FORMAT_VERSION: u32 = 1;

/// Versions of what made the run.
#[derive(Debug, Clone, Serialize)]
pub struct Versions {
    pub pushbench: &'static str,
    pub rustc: Option<&'static str>,
}

impl Versions {
    pub fn current() -> Versions {
        Versions {
            pushbench: env!("CARGO_PKG_VERSION"),
            rustc: option_env!("PUSHBENCH_RUSTC_VERSION").filter(|s| !s.is_empty()),
        }
    }
}

/// The git revision the binary was built from, if known.
pub fn git_revision() -> Option<&'static str> {
    option_env!("PUSHBENCH_GIT_REVISION").filter(|s| !s.is_empty())
}

/// The build profile (`release` or `debug`).
pub fn build_profile() -> &'static str {
    if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    }
}

/// manifest.json.
#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    pub format: &'static str,
    pub format_version: u32,
    pub partial: bool,
    pub failure: Option<String>,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub command_line: Vec<String>,
    /// `embedded` (a child server this run started) or the `--target` URL.
    pub target: String,
    /// The URL the clients used (of the first technique's server, with fresh servers).
    pub server_url: String,
    /// The child server's command line (embedded only).
    pub server_command: Option<Vec<String>>,
    /// Whether each technique had a fresh child server (so its memory and CPU are its own).
    pub fresh_server_per_technique: bool,
    pub server_processes: u32,
    pub loadgen_processes: u32,
    pub clock: &'static str,
    pub run_id: String,
    pub params: RunConfig,
    pub machine: Machine,
    pub versions: Versions,
    pub build_profile: &'static str,
    pub git_revision: Option<&'static str>,
}

/// A UTC time as RFC 3339 with milliseconds.
pub fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

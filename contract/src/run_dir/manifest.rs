//! manifest.json: every parameter, the machine, versions, times, and whether the run was cut
//! short (docs/RUN_FORMAT.md). summary.json repeats it under `manifest`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::lenient::null_default;

/// `params` as a reader sees it: every resolved run option by its key, kept generic so that a
/// report shows a new option unasked. The writer serializes its own typed options instead
/// (`pushbench run`'s resolved configuration): their keys are documented in RUN_FORMAT.md.
pub type Params = serde_json::Map<String, serde_json::Value>;

/// manifest.json. `P` is the type of `params`: the writer's typed options, or [`Params`].
///
/// Fields are in the file's key order. Every field but `format` and `format_version` may be
/// missing in an older file and reads as `None` (or empty).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(bound(
    serialize = "P: Serialize",
    deserialize = "P: Deserialize<'de> + Default"
))]
pub struct Manifest<P = Params> {
    /// [`super::FORMAT`].
    pub format: String,
    pub format_version: u32,
    /// The run was cut short (Ctrl-C, the server died, a worker was lost).
    #[serde(default)]
    pub partial: bool,
    /// Why it was cut short.
    #[serde(default)]
    pub failure: Option<String>,
    /// RFC 3339, UTC, milliseconds.
    #[serde(default)]
    pub started_at: Option<String>,
    /// `null` in the manifest written when the run starts.
    #[serde(default)]
    pub ended_at: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub command_line: Vec<String>,
    /// `embedded` (a child server this run started) or the `--target` URL.
    #[serde(default)]
    pub target: Option<String>,
    /// The URL the clients used (of the first technique's server, with fresh servers).
    #[serde(default)]
    pub server_url: Option<String>,
    /// The child server's command line (embedded only, else `null`).
    #[serde(default)]
    pub server_command: Option<Vec<String>>,
    /// Whether each technique had a fresh child server (so its memory and CPU are its own).
    #[serde(default)]
    pub fresh_server_per_technique: Option<bool>,
    /// Processes of the server (`serve --processes N`); CPU and RSS are summed over them.
    #[serde(default)]
    pub server_processes: Option<u32>,
    /// Processes that ran the clients (1: in the coordinator's process).
    #[serde(default)]
    pub loadgen_processes: Option<u32>,
    /// Which clock latency was measured on, and what it takes for it to hold.
    #[serde(default)]
    pub clock: Option<String>,
    /// Topics are named `pb-<run_id>-<technique>-<i>`.
    #[serde(default)]
    pub run_id: Option<String>,
    /// The directories a `pushbench merge` combined (absent in a run's own manifest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_from: Option<Vec<MergedFrom>>,
    /// The resolved run options (defaults, then the scenario file, then the flags).
    #[serde(default, deserialize_with = "null_default")]
    pub params: P,
    #[serde(default, deserialize_with = "null_default")]
    pub machine: Machine,
    #[serde(default, deserialize_with = "null_default")]
    pub versions: Versions,
    /// `release` or `debug`.
    #[serde(default)]
    pub build_profile: Option<String>,
    /// `null` when unknown.
    #[serde(default)]
    pub git_revision: Option<String>,
}

impl Manifest<Params> {
    /// A numeric run option (`params.<key>`), if present.
    pub fn param_f64(&self, key: &str) -> Option<f64> {
        self.params.get(key).and_then(serde_json::Value::as_f64)
    }
}

/// What the run was measured on (`manifest.json` → `machine`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default)]
    pub cpu_model: Option<String>,
    /// Cores this process may run on.
    #[serde(default)]
    pub cores: Option<u64>,
    #[serde(default)]
    pub memory_bytes: Option<u64>,
    /// e.g. `Linux 6.1.0 x86_64`.
    #[serde(default)]
    pub kernel: Option<String>,
    #[serde(default)]
    pub os: Option<String>,
    #[serde(default)]
    pub arch: Option<String>,
    /// The soft limit on open files (`ulimit -n`).
    #[serde(default)]
    pub fd_limit: Option<u64>,
}

/// Versions of what made the run (`manifest.json` → `versions`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Versions {
    #[serde(default)]
    pub pushbench: Option<String>,
    /// `rustc --version` of the build, `null` if unknown.
    #[serde(default)]
    pub rustc: Option<String>,
}

impl Versions {
    /// The versions by name, those that are known, for display.
    pub fn known(&self) -> Vec<(&'static str, &str)> {
        [("pushbench", &self.pushbench), ("rustc", &self.rustc)]
            .into_iter()
            .filter_map(|(k, v)| Some((k, v.as_deref()?)))
            .collect()
    }
}

/// One input of a merged run directory (`merged_from`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergedFrom {
    pub dir: PathBuf,
    /// `worker`, or `server figures` for a full run directory that lent its server figures.
    pub role: String,
    /// Which worker it was (workers only), as its worker manifest says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<WorkerShare>,
}

/// Which share of a technique's clients a worker ran (a worker manifest's `worker`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerShare {
    /// This worker's number (0-based) among the run's `workers`.
    pub index: u32,
    pub workers: u32,
    /// Its clients, which are the run's clients `first_index..first_index + clients`.
    pub clients: u32,
    pub first_index: u32,
}

/// The roles of [`MergedFrom`].
pub const ROLE_WORKER: &str = "worker";
pub const ROLE_SERVER_FIGURES: &str = "server figures";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_older_leaner_manifest_reads_with_figures_absent() {
        let m: Manifest = serde_json::from_str(
            r#"{"format": "pushbench-run", "format_version": 1, "machine": null,
                "params": {"clients": 20}, "versions": {"pushbench": "0.1.0"}}"#,
        )
        .unwrap();
        assert!(!m.partial);
        assert_eq!(m.server_processes, None);
        assert_eq!(m.machine, Machine::default());
        assert_eq!(m.params["clients"], 20);
        assert_eq!(m.versions.known(), vec![("pushbench", "0.1.0")]);
        // Written back, a run's manifest has no `merged_from` key.
        let text = serde_json::to_string(&m).unwrap();
        assert!(!text.contains("merged_from"), "{text}");
    }

    #[test]
    fn keys_are_written_in_the_documented_order() {
        let m: Manifest = serde_json::from_str(r#"{"format": "x", "format_version": 1}"#).unwrap();
        let v = serde_json::to_value(&m).unwrap();
        let text = serde_json::to_string(&m).unwrap();
        let keys: Vec<&str> = [
            "format",
            "format_version",
            "partial",
            "failure",
            "started_at",
            "ended_at",
            "command_line",
            "target",
            "server_url",
            "server_command",
            "fresh_server_per_technique",
            "server_processes",
            "loadgen_processes",
            "clock",
            "run_id",
            "params",
            "machine",
            "versions",
            "build_profile",
            "git_revision",
        ]
        .to_vec();
        let at: Vec<usize> = keys
            .iter()
            .map(|k| {
                text.find(&format!("\"{k}\":"))
                    .unwrap_or_else(|| panic!("{k}"))
            })
            .collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "{text}");
        assert_eq!(v.as_object().unwrap().len(), keys.len());
    }
}

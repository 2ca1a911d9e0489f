//! The TOML scenario file (`--scenario`): the same options as the flags of `pushbench run`, in
//! kebab-case or snake_case ([`Scenario`]), read with errors that say where
//! ([`load_scenario`]).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::ConfigError;
/// A scenario file: the same options as the flags, in kebab-case or snake_case.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Scenario {
    pub target: Option<String>,
    pub profile: Option<String>,
    pub techniques: Option<Vec<String>>,
    pub clients: Option<u32>,
    pub topics: Option<u32>,
    pub rate: Option<f64>,
    #[serde(alias = "payload_bytes")]
    pub payload_bytes: Option<usize>,
    #[serde(alias = "poll_interval")]
    pub poll_interval: Option<String>,
    #[serde(alias = "long_poll_timeout")]
    pub long_poll_timeout: Option<String>,
    #[serde(alias = "ramp_up")]
    pub ramp_up: Option<f64>,
    pub warmup: Option<String>,
    pub duration: Option<String>,
    pub drain: Option<String>,
    pub pause: Option<String>,
    #[serde(alias = "connect_timeout")]
    pub connect_timeout: Option<String>,
    #[serde(alias = "read_timeout")]
    pub read_timeout: Option<String>,
    #[serde(alias = "source_addrs")]
    pub source_addrs: Option<Vec<String>>,
    pub retention: Option<u64>,
    #[serde(alias = "one_server")]
    pub one_server: Option<bool>,
    pub out: Option<PathBuf>,
    pub seed: Option<u64>,
    pub processes: Option<u32>,
    #[serde(alias = "server_processes")]
    pub server_processes: Option<u32>,
    #[serde(alias = "worker_command")]
    pub worker_command: Option<String>,
    pub link: Option<String>,
    #[serde(alias = "publisher_link")]
    pub publisher_link: Option<String>,
    /// Free text describing the scenario (kept in the manifest).
    pub description: Option<String>,
    /// Thresholds, as `--check` (docs/CHECKS.md).
    pub checks: Option<ScenarioChecks>,
    /// Repetitions, as `--repeat`.
    pub repeat: Option<u32>,
    /// Faults, as `--fault` (a list, or one comma-separated string).
    pub fault: Option<ScenarioFaults>,
    /// The broker, as `--broker` (`redis` or `nats`).
    pub broker: Option<super::BrokerKind>,
    /// As `--recovery`: `resuming` or `classic`.
    pub recovery: Option<String>,
}

/// A scenario's `fault`: `"drop=5s,idle-cut=30s"` or `["drop=5s", "idle-cut=30s"]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ScenarioFaults {
    One(String),
    List(Vec<String>),
}

impl ScenarioFaults {
    pub fn items(&self) -> Vec<String> {
        match self {
            ScenarioFaults::One(s) => vec![s.clone()],
            ScenarioFaults::List(v) => v.clone(),
        }
    }
}

/// A scenario's `checks`: a list of expressions (`checks = ["sse.p99 < 50ms", "*.lost == 0"]`),
/// or a `[checks]` table of lists per technique, each without its technique
/// (`sse = ["p99 < 50ms"]`, `"*" = ["lost == 0"]`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum ScenarioChecks {
    List(Vec<String>),
    Table(std::collections::BTreeMap<String, Vec<String>>),
}

impl ScenarioChecks {
    /// Every expression, written out in full (`TECHNIQUE.FIGURE OP VALUE`).
    pub fn exprs(&self) -> Vec<String> {
        match self {
            ScenarioChecks::List(v) => v.clone(),
            ScenarioChecks::Table(t) => t
                .iter()
                .flat_map(|(tech, v)| v.iter().map(move |e| format!("{tech}.{}", e.trim())))
                .collect(),
        }
    }
}

/// Reads and parses a scenario file; unknown keys are an error naming the key.
pub fn load_scenario(path: &Path) -> Result<Scenario, ConfigError> {
    let err = |msg: String| ConfigError::Scenario {
        path: path.to_path_buf(),
        msg,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    toml::from_str(&text).map_err(|e| {
        // The one-line message, with where it is (toml's Display spans several lines).
        let line = e.span().map(|s| {
            text.as_bytes()[..s.start.min(text.len())]
                .iter()
                .filter(|&&b| b == b'\n')
                .count()
                + 1
        });
        match line {
            Some(n) => err(format!("line {n}: {}", e.message())),
            None => err(e.message().to_string()),
        }
    })
}

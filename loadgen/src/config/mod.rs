//! Options of `pushbench run`: the command-line flags and the TOML scenario file (`args`),
//! their merge (flags override the file, the file overrides the defaults) and validation
//! (`validate`) into a [`RunConfig`] whose every error names the flag at fault.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use crate::fault::{FaultSpec, Recovery};
use crate::link::LinkSpec;
use crate::profile::{Profile, ProfileError};
use crate::technique::Technique;

mod args;
mod broker;
pub mod request;
mod scenario;
pub mod transport;
mod validate;

pub use args::RunArgs;
pub use broker::BrokerKind;
pub use request::{Api, Arrival, RequestArgs, RequestParams};
pub use scenario::{Scenario, ScenarioChecks, ScenarioFaults, load_scenario};
pub use transport::{HttpVersion, TransportArgs, TransportConfig};
pub use validate::parse_source_addrs;

/// Defaults: the whole five-technique run finishes in about a minute on a 2-core machine.
pub mod defaults {
    use std::time::Duration;
    pub const CLIENTS: u32 = 200;
    pub const TOPICS: u32 = 1;
    pub const RATE: f64 = 10.0;
    pub const PAYLOAD_BYTES: usize = 256;
    pub const POLL_INTERVAL: Duration = Duration::from_secs(1);
    pub const LONG_POLL_TIMEOUT: Duration = Duration::from_secs(5);
    pub const RAMP_UP: f64 = 1000.0;
    pub const WARMUP: Duration = Duration::from_secs(2);
    pub const DURATION: Duration = Duration::from_secs(8);
    pub const DRAIN: Duration = Duration::from_secs(2);
    pub const PAUSE: Duration = Duration::from_millis(500);
    pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
    pub const READ_TIMEOUT: Duration = Duration::from_secs(10);
    pub const RETENTION: u64 = 4096;
    pub const SEED: u64 = 1;
}

/// The largest payload the protocol's default server accepts (`--max-payload-bytes`, 1 MiB).
pub const MAX_PAYLOAD_BYTES: usize = 1 << 20;
/// Most worker (or server) processes one run may start.
pub const MAX_PROCESSES: u32 = 64;
/// Most repetitions one run may make (`--repeat`).
pub const MAX_REPEAT: u32 = 1000;
/// Descriptors kept aside for everything that is not a client socket.
pub const FD_RESERVE: u64 = 128;

/// Why the options cannot make a run.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{flag}: {msg}")]
    Invalid { flag: &'static str, msg: String },
    #[error("--scenario {path}: {msg}")]
    Scenario { path: PathBuf, msg: String },
    #[error(transparent)]
    Profile(#[from] ProfileError),
}

fn ser_profile_name<S: serde::Serializer>(p: &Profile, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&p.name)
}

pub(super) fn invalid(flag: &'static str, msg: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        flag,
        msg: msg.into(),
    }
}

/// A validated run configuration.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunConfig {
    pub target: Option<String>,
    /// How to talk to the target (`pushbench` by default); its name in the manifest.
    #[serde(serialize_with = "ser_profile_name")]
    pub profile: Profile,
    pub techniques: Vec<Technique>,
    pub clients: u32,
    pub topics: u32,
    pub rate: f64,
    pub payload_bytes: usize,
    #[serde(serialize_with = "ser_ms", rename = "poll_interval_ms")]
    pub poll_interval: Duration,
    #[serde(serialize_with = "ser_ms", rename = "long_poll_timeout_ms")]
    pub long_poll_timeout: Duration,
    #[serde(rename = "ramp_up_per_s")]
    pub ramp_up: f64,
    #[serde(serialize_with = "ser_ms", rename = "warmup_ms")]
    pub warmup: Duration,
    #[serde(serialize_with = "ser_ms", rename = "duration_ms")]
    pub duration: Duration,
    #[serde(serialize_with = "ser_ms", rename = "drain_ms")]
    pub drain: Duration,
    #[serde(serialize_with = "ser_ms", rename = "pause_ms")]
    pub pause: Duration,
    #[serde(serialize_with = "ser_ms", rename = "connect_timeout_ms")]
    pub connect_timeout: Duration,
    #[serde(serialize_with = "ser_ms", rename = "read_timeout_ms")]
    pub read_timeout: Duration,
    /// Empty: the OS picks the source address.
    pub source_addrs: Vec<Ipv4Addr>,
    pub retention: u64,
    pub one_server: bool,
    #[serde(skip)]
    pub out: Option<PathBuf>,
    #[serde(skip)]
    pub json: bool,
    #[serde(skip)]
    pub no_report: bool,
    pub seed: u64,
    /// Load-generator worker processes (1: the clients run in this process).
    pub processes: u32,
    /// Child-server processes (`pushbench serve --processes N`).
    pub server_processes: u32,
    /// `--server-pid`: the root process of the `--target`, sampled from /proc (its tree).
    pub server_pid: Option<u32>,
    /// Shell command starting one worker (`{i}`: its index); None: this program's own.
    pub worker_command: Option<String>,
    pub scenario: Option<PathBuf>,
    pub scenario_description: Option<String>,
    /// The subscribers' emulated link (`none`: direct), kept as its label.
    pub link: LinkSpec,
    /// The publisher's emulated link (`none`: direct).
    pub publisher_link: LinkSpec,
    /// Thresholds judged after the run (`--check`, the scenario's `checks`); in checks.json,
    /// not in the manifest's params.
    #[serde(skip)]
    pub checks: Vec<crate::check::Check>,
    /// Repetitions (`--repeat N`, 1..=[`MAX_REPEAT`]): every technique measured N times.
    pub repeat: u32,
    /// In a repetition's own run directory (`repetitions/<k>/`): which one it is (1..=N);
    /// absent elsewhere.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repetition: Option<u32>,
    /// Injected faults (`--fault`), by their canonical label (`none`: no faults).
    #[serde(serialize_with = "ser_display")]
    pub fault: FaultSpec,
    /// `--broker`: a real broker the run starts beside its child server (None: none).
    pub broker: Option<BrokerKind>,
    /// How the clients recover from a broken connection (`--recovery`).
    #[serde(serialize_with = "ser_recovery")]
    pub recovery: Recovery,
    /// `broadcast` or `request` (`--mode`).
    pub mode: &'static str,
    /// Request mode's parameters (None in broadcast mode): docs/REQUEST.md.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<RequestParams>,
    /// HTTP version, TLS and connection sharing of the subscribers (`--http`, `--tls`, …).
    pub transport: TransportConfig,
}

impl RunConfig {
    /// The clients' source addresses: as given, else spread over 127.0.0.1.. when one address
    /// has too few ephemeral ports for the clients (each (source, server) pair has ~28k; keep
    /// under [`CLIENTS_PER_SOURCE_ADDR`]). Empty: the OS picks.
    pub fn client_addrs(&self) -> Vec<Ipv4Addr> {
        if !self.source_addrs.is_empty() {
            return self.source_addrs.clone();
        }
        if self.clients <= CLIENTS_PER_SOURCE_ADDR {
            return Vec::new();
        }
        let n = self.clients.div_ceil(CLIENTS_PER_SOURCE_ADDR);
        (1..=n)
            .map(|i| Ipv4Addr::from(u32::from(Ipv4Addr::new(127, 0, 0, 0)) + i))
            .collect()
    }
}

/// Most clients put on one source address when spreading automatically.
pub const CLIENTS_PER_SOURCE_ADDR: u32 = 20_000;

fn ser_display<S: serde::Serializer>(v: &FaultSpec, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

fn ser_recovery<S: serde::Serializer>(r: &Recovery, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(r.name())
}

fn ser_ms<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        args: RunArgs,
    }

    /// `RunArgs` from a command line, resolved (also for the other config modules' tests).
    pub(super) fn parse(args: &[&str]) -> Result<RunConfig, ConfigError> {
        let mut v = vec!["x"];
        v.extend_from_slice(args);
        T::parse_from(v).args.resolve()
    }

    fn err(args: &[&str]) -> String {
        parse(args).unwrap_err().to_string()
    }

    #[test]
    fn defaults_are_valid() {
        let c = parse(&[]).unwrap();
        assert_eq!(c.techniques.len(), 5);
        assert_eq!(c.clients, defaults::CLIENTS);
        assert!(c.source_addrs.is_empty());
    }

    #[test]
    fn bad_values_name_the_flag() {
        assert!(err(&["--clients", "0"]).starts_with("--clients"));
        assert!(err(&["--rate", "0"]).starts_with("--rate"));
        assert!(err(&["--source-addrs", "10.0.0.1"]).starts_with("--source-addrs"));
        assert!(err(&["--topics", "0"]).starts_with("--topics"));
        assert!(err(&["--poll-interval", "3s"]).starts_with("--drain"));
        assert!(err(&["--long-poll-timeout", "20s"]).starts_with("--read-timeout"));
        assert!(err(&["--clients", "100000000"]).starts_with("--clients"));
    }

    #[test]
    fn request_mode_resolves_its_defaults_and_refuses_broadcast_options() {
        let c = parse(&["--mode", "request"]).unwrap();
        let r = c.request.clone().unwrap();
        assert_eq!(r.arrival, Arrival::Closed { concurrency: 10 });
        assert_eq!(
            (r.events, r.event_bytes, r.distribution.as_str()),
            (100, 64, "fixed")
        );
        assert_eq!(
            (r.interval, r.first_delay),
            (Duration::from_millis(10), Duration::ZERO)
        );
        assert_eq!((c.mode, c.clients, c.repeat), ("request", 10, 1));
        assert_eq!(r.stream_len(), Duration::from_millis(990));
        let c = parse(&[
            "--mode",
            "request",
            "--arrival-rate",
            "20",
            "--events",
            "11",
        ])
        .unwrap();
        let r = c.request.unwrap();
        assert_eq!(
            (r.arrival, r.model_name()),
            (Arrival::Open { rate: 20.0 }, "open")
        );
        // Little's law, doubled: 20/s × (0.1 s + 0.1 s) × 2.
        assert_eq!(r.streams(), 16);
        assert!(parse(&[]).unwrap().request.is_none());
        assert!(err(&["--mode", "request", "--rate", "5"]).starts_with("--rate"));
        assert!(err(&["--mode", "request", "--fault", "drop=5s"]).starts_with("--fault"));
        assert!(err(&["--mode", "request", "--model", "m"]).starts_with("--model"));
        assert!(err(&["--mode", "request", "--stall-at", "3"]).starts_with("--stall-at"));
        assert!(err(&["--events", "5"]).starts_with("--events"));
        assert!(err(&["--mode", "request", "--profile", "nchan"]).starts_with("--profile"));
        let e = err(&["--mode", "request", "--event-bytes", "2000000"]);
        assert!(e.starts_with("--event-bytes"), "{e}");
        let c = parse(&[
            "--mode",
            "request",
            "--target",
            "http://127.0.0.1:9",
            "--profile",
            "openai",
        ])
        .unwrap();
        assert_eq!(c.profile.name, "openai");
        assert!(c.profile.subscribe(Technique::Sse).is_some());
        assert!(c.profile.subscribe(Technique::Ws).is_none());
        let api = c.request.unwrap().api;
        assert_eq!(
            api,
            Api::OpenAi {
                model: "pushbench".into()
            }
        );
    }

    #[test]
    fn source_addr_ranges() {
        let v = parse_source_addrs(&["127.0.0.1-127.0.0.3".into(), "127.1.0.1".into()]).unwrap();
        assert_eq!(v.len(), 4);
        assert_eq!(v[3], Ipv4Addr::new(127, 1, 0, 1));
    }

    #[test]
    fn scenario_merges_under_flags_and_rejects_unknown_keys() {
        let dir = std::env::temp_dir().join(format!("pb-scn-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("s.toml");
        std::fs::write(
            &p,
            "clients = 7\nduration = \"3s\"\ntechniques = [\"sse\", \"ws\"]\n",
        )
        .unwrap();
        let ps = p.to_str().unwrap();
        let c = parse(&["--scenario", ps, "--clients", "9"]).unwrap();
        assert_eq!(c.clients, 9);
        assert_eq!(c.duration, Duration::from_secs(3));
        assert_eq!(c.techniques, vec![Technique::Sse, Technique::Ws]);
        std::fs::write(&p, "clientz = 7\n").unwrap();
        let e = err(&["--scenario", ps]);
        assert!(e.contains("clientz"), "{e}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn scenario_checks_as_a_list_or_a_table_come_before_the_flags() {
        let dir = std::env::temp_dir().join(format!("pb-scn-checks-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("s.toml");
        let ps = p.to_str().unwrap();
        let exprs = |c: &RunConfig| c.checks.iter().map(|c| c.expr.clone()).collect::<Vec<_>>();
        std::fs::write(&p, "checks = [\"sse.p99 < 50ms\"]\n").unwrap();
        let c = parse(&["--scenario", ps, "--check", "*.lost == 0"]).unwrap();
        assert_eq!(exprs(&c), ["sse.p99 < 50ms", "*.lost == 0"]);
        std::fs::write(
            &p,
            "[checks]\n\"*\" = [\"lost == 0\"]\nws = [\" p99 < 1s\"]\n",
        )
        .unwrap();
        assert_eq!(
            exprs(&parse(&["--scenario", ps]).unwrap()),
            ["*.lost == 0", "ws.p99 < 1s"]
        );
        std::fs::write(&p, "checks = [\"ws.p99 < 1\"]\n").unwrap();
        let e = err(&["--scenario", ps]);
        assert!(
            e.starts_with("--scenario ") && e.contains("checks: `ws.p99 < 1`"),
            "{e}"
        );
        assert!(err(&["--check", "ws.p99"]).starts_with("--check: `ws.p99`"));
        std::fs::remove_dir_all(&dir).ok();
    }
}

//! Options of `pushbench run`: the command-line flags, the TOML scenario file, their merge
//! (flags override the file, the file overrides the defaults) and validation into a
//! [`RunConfig`] whose every error names the flag at fault.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::technique::Technique;

mod validate;

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
/// Descriptors kept aside for everything that is not a client socket.
pub const FD_RESERVE: u64 = 128;

/// `pushbench run`: measure every push technique side by side on identical work.
///
/// Without --target the server is started as a child process (`pushbench serve` on a free
/// loopback port) so its CPU and memory are measured apart from the load generator's.
/// Every option can also be set in a TOML scenario file (--scenario); flags override it.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RunArgs {
    /// TOML scenario file holding any of these options (keys as the flags without `--`,
    /// e.g. `clients = 500`, `duration = "10s"`); flags given here override it.
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    /// Measure an already running server at this URL (http://HOST:PORT[/PREFIX]) instead of
    /// starting one.
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,
    /// Techniques to measure, in order, comma-separated [default: poll,long-poll,stream,sse,ws]
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub techniques: Option<Vec<Technique>>,
    /// Simulated clients per technique [default: 200]
    #[arg(long, value_name = "N")]
    pub clients: Option<u32>,
    /// Topics the clients are spread over (evenly) [default: 1]
    #[arg(long, value_name = "N")]
    pub topics: Option<u32>,
    /// Messages per second published to each topic [default: 10]
    #[arg(long, value_name = "MSG/S")]
    pub rate: Option<f64>,
    /// Payload size in bytes (the header is padded to it; at least 57, the widest header)
    /// [default: 256]
    #[arg(long, value_name = "BYTES")]
    pub payload_bytes: Option<usize>,
    /// Short-poll interval; 0 polls back to back (a closed loop, as wrk runs) [default: 1s]
    #[arg(long, value_name = "DURATION")]
    pub poll_interval: Option<humantime::Duration>,
    /// How long the server holds a long poll with nothing new [default: 5s]
    #[arg(long, value_name = "DURATION")]
    pub long_poll_timeout: Option<humantime::Duration>,
    /// Connections opened per second during ramp-up [default: 1000]
    #[arg(long, value_name = "CONN/S")]
    pub ramp_up: Option<f64>,
    /// Warm-up with the publisher running, before the measured window [default: 2s]
    #[arg(long, value_name = "DURATION")]
    pub warmup: Option<humantime::Duration>,
    /// Length of the measured steady-state window [default: 8s]
    #[arg(long, value_name = "DURATION")]
    pub duration: Option<humantime::Duration>,
    /// Longest wait after the window for in-flight deliveries, publisher stopped [default: 2s]
    #[arg(long, value_name = "DURATION")]
    pub drain: Option<humantime::Duration>,
    /// Pause between two techniques [default: 500ms]
    #[arg(long, value_name = "DURATION")]
    pub pause: Option<humantime::Duration>,
    /// TCP connect + handshake timeout [default: 5s]
    #[arg(long, value_name = "DURATION")]
    pub connect_timeout: Option<humantime::Duration>,
    /// Longest silence on an open connection before it counts as a timeout [default: 10s]
    #[arg(long, value_name = "DURATION")]
    pub read_timeout: Option<humantime::Duration>,
    /// Client source addresses in 127.0.0.0/8, comma-separated, or a range A-B
    /// (e.g. 127.0.0.1-127.0.0.4) [default: chosen by the OS]
    #[arg(long, value_delimiter = ',', value_name = "ADDRS")]
    pub source_addrs: Option<Vec<String>>,
    /// Messages the child server retains per topic (not used with --target) [default: 4096]
    #[arg(long, value_name = "N")]
    pub retention: Option<u64>,
    /// Use one child server for every technique instead of a fresh one per technique (a fresh
    /// server makes each technique's server memory and CPU its own)
    #[arg(long)]
    pub one_server: bool,
    /// Run directory to write [default: results/<UTC timestamp>]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Print the summary as JSON on stdout ({"manifest": ..., "techniques": [...]})
    #[arg(long)]
    pub json: bool,
    /// Do not write the HTML report into the run directory
    #[arg(long)]
    pub no_report: bool,
    /// Seed for the client start jitter [default: 1]
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Load-generator processes the clients are split over: this process keeps the publisher,
    /// the phases and the output, and N `pushbench worker` processes run the clients (each under
    /// the 20,000-descriptor limit); their raw results are merged exactly. 1: clients run in
    /// this process [default: 1]
    #[arg(long, value_name = "N")]
    pub processes: Option<u32>,
    /// Processes of the child server (`pushbench serve --processes N`, SO_REUSEPORT); its CPU
    /// and memory are summed over all of them [default: 1]
    #[arg(long, value_name = "N")]
    pub server_processes: Option<u32>,
    /// With --processes: a shell command that starts one worker instead of this program's own
    /// `pushbench worker`, `{i}` replaced by the worker's index; it must run `pushbench worker`
    /// with stdin and stdout connected, e.g. `ssh -T loadgen{i} pushbench worker` or
    /// `kubectl exec -i lg-{i} -- pushbench worker` (see docs/SCALING.md)
    #[arg(long, value_name = "CMD")]
    pub worker_command: Option<String>,
}

/// A scenario file: the same options as the flags, in kebab-case or snake_case.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Scenario {
    pub target: Option<String>,
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
    /// Free text describing the scenario (kept in the manifest).
    pub description: Option<String>,
}

/// Why the options cannot make a run.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{flag}: {msg}")]
    Invalid { flag: &'static str, msg: String },
    #[error("--scenario {path}: {msg}")]
    Scenario { path: PathBuf, msg: String },
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
    /// Shell command starting one worker (`{i}`: its index); None: this program's own.
    pub worker_command: Option<String>,
    pub scenario: Option<PathBuf>,
    pub scenario_description: Option<String>,
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

fn ser_ms<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_millis() as u64)
}

impl RunArgs {
    /// Reads the scenario file (if any), merges it under the flags and validates the result.
    pub fn resolve(&self) -> Result<RunConfig, ConfigError> {
        let sc = match &self.scenario {
            Some(p) => load_scenario(p)?,
            None => Scenario::default(),
        };
        let sdur =
            |flag: &'static str, v: &Option<String>| -> Result<Option<Duration>, ConfigError> {
                v.as_deref()
                    .map(|s| {
                        humantime::parse_duration(s.trim()).map_err(|e| {
                            invalid(
                                flag,
                                format!("`{s}` is not a duration ({e}); write e.g. 500ms, 5s, 2m"),
                            )
                        })
                    })
                    .transpose()
            };
        let pick = |flag: Option<humantime::Duration>, file: Option<Duration>, def: Duration| {
            flag.map(Into::into).or(file).unwrap_or(def)
        };
        let techniques = match (&self.techniques, &sc.techniques) {
            (Some(t), _) => t.clone(),
            (None, Some(names)) => names
                .iter()
                .map(|n| {
                    n.parse::<Technique>()
                        .map_err(|e| invalid("--techniques", e.to_string()))
                })
                .collect::<Result<_, _>>()?,
            (None, None) => Technique::ALL.to_vec(),
        };
        let source_addrs = match self.source_addrs.as_ref().or(sc.source_addrs.as_ref()) {
            Some(list) => parse_source_addrs(list)?,
            None => Vec::new(),
        };
        let cfg = RunConfig {
            target: self.target.clone().or(sc.target.clone()),
            techniques,
            clients: self.clients.or(sc.clients).unwrap_or(defaults::CLIENTS),
            topics: self.topics.or(sc.topics).unwrap_or(defaults::TOPICS),
            rate: self.rate.or(sc.rate).unwrap_or(defaults::RATE),
            payload_bytes: self
                .payload_bytes
                .or(sc.payload_bytes)
                .unwrap_or(defaults::PAYLOAD_BYTES),
            poll_interval: pick(
                self.poll_interval,
                sdur("--poll-interval", &sc.poll_interval)?,
                defaults::POLL_INTERVAL,
            ),
            long_poll_timeout: pick(
                self.long_poll_timeout,
                sdur("--long-poll-timeout", &sc.long_poll_timeout)?,
                defaults::LONG_POLL_TIMEOUT,
            ),
            ramp_up: self.ramp_up.or(sc.ramp_up).unwrap_or(defaults::RAMP_UP),
            warmup: pick(self.warmup, sdur("--warmup", &sc.warmup)?, defaults::WARMUP),
            duration: pick(
                self.duration,
                sdur("--duration", &sc.duration)?,
                defaults::DURATION,
            ),
            drain: pick(self.drain, sdur("--drain", &sc.drain)?, defaults::DRAIN),
            pause: pick(self.pause, sdur("--pause", &sc.pause)?, defaults::PAUSE),
            connect_timeout: pick(
                self.connect_timeout,
                sdur("--connect-timeout", &sc.connect_timeout)?,
                defaults::CONNECT_TIMEOUT,
            ),
            read_timeout: pick(
                self.read_timeout,
                sdur("--read-timeout", &sc.read_timeout)?,
                defaults::READ_TIMEOUT,
            ),
            source_addrs,
            retention: self
                .retention
                .or(sc.retention)
                .unwrap_or(defaults::RETENTION),
            one_server: self.one_server || sc.one_server.unwrap_or(false),
            out: self.out.clone().or(sc.out.clone()),
            json: self.json,
            no_report: self.no_report,
            seed: self.seed.or(sc.seed).unwrap_or(defaults::SEED),
            processes: self.processes.or(sc.processes).unwrap_or(1),
            server_processes: self.server_processes.or(sc.server_processes).unwrap_or(1),
            worker_command: self.worker_command.clone().or(sc.worker_command.clone()),
            scenario: self.scenario.clone(),
            scenario_description: sc.description.clone(),
        };
        cfg.validate()?;
        Ok(cfg)
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        args: RunArgs,
    }

    fn parse(args: &[&str]) -> Result<RunConfig, ConfigError> {
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
}

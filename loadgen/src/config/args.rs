//! The options as given: the command-line flags ([`RunArgs`]) and the TOML scenario file
//! ([`Scenario`]), merged into a [`RunConfig`] (flags override the file, the file overrides the
//! defaults) and validated.

use std::path::PathBuf;
use std::time::Duration;

use super::request::{self, RequestArgs};
use super::scenario::{Scenario, ScenarioChecks, load_scenario};
use super::transport::TransportArgs;
use super::{ConfigError, RunConfig, defaults, invalid, parse_source_addrs};
use crate::check::{self, Check};
use crate::fault::{FaultSpec, Recovery};
use crate::link::{LinkSpec, LinkSpecError};
use crate::profile::Profile;
use crate::technique::Technique;

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
    /// How to talk to the --target: a built-in profile (pushbench, nchan, pushpin) or a
    /// profile file (TOML, see docs/PROFILES.md); with --mode request, `openai` for an
    /// OpenAI-compatible server (docs/REQUEST.md) [default: pushbench]
    #[arg(long, value_name = "NAME|FILE")]
    pub profile: Option<String>,
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
    /// Seed for the clients' start and reconnect jitter [default: 1]
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Load-generator processes the clients are split over: this process keeps the publisher,
    /// the phases and the output, and N `pushbench worker` processes run the clients (each under
    /// the 20,000-descriptor limit); their raw results are merged exactly. 1: clients run in
    /// this process. Each process runs its clients on one thread of their own
    /// (PUSHBENCH_CLIENT_THREADS=N for more; docs/PERFORMANCE.md) [default: 1]
    #[arg(long, value_name = "N")]
    pub processes: Option<u32>,
    /// Processes of the child server (`pushbench serve --processes N`, SO_REUSEPORT); its CPU
    /// and memory are summed over all of them [default: 1]
    #[arg(long, value_name = "N")]
    pub server_processes: Option<u32>,
    /// With --target: the PID of the server's root process on this machine (e.g. nginx's
    /// master); the server's CPU and memory are sampled from /proc over it and every process
    /// below it, in place of the target's /stats [default: the target's /stats, if any, else
    /// not measured]
    #[arg(long, value_name = "PID")]
    pub server_pid: Option<u32>,
    /// With --processes: a shell command that starts one worker instead of this program's own
    /// `pushbench worker`, `{i}` replaced by the worker's index; it must run `pushbench worker`
    /// with stdin and stdout connected, e.g. `ssh -T loadgen{i} pushbench worker` or
    /// `kubectl exec -i lg-{i} -- pushbench worker` (see docs/SCALING.md)
    #[arg(long, value_name = "CMD")]
    pub worker_command: Option<String>,
    /// Emulated network link between every subscriber and the server: round-trip time,
    /// jitter, bandwidth each way, e.g. `rtt=200ms`, `rtt=100ms,down=1mbit,up=1mbit`, or a
    /// preset (slow-3g, fast-3g, slow-4g, fast-4g, dsl, satellite); see docs/NETWORK.md
    /// [default: none]
    #[arg(long, value_name = "SPEC")]
    pub link: Option<String>,
    /// Emulated link of the publisher's connections, apart from the subscribers' (same
    /// syntax as --link) [default: none: the publisher sits next to the server]
    #[arg(long, value_name = "SPEC")]
    pub publisher_link: Option<String>,
    /// A threshold the run must meet, TECHNIQUE.FIGURE OP VALUE[UNIT] (repeatable), e.g.
    /// `sse.p99 < 50ms`, `*.lost == 0` (`*`: every technique that ran),
    /// `long-poll.requests_per_message <= 1.1`; the scenario's `checks` add to these. Any
    /// failed check makes the run exit 5. Figures: see docs/CHECKS.md
    #[arg(long = "check", value_name = "EXPR")]
    pub check: Vec<String>,
    /// Measure every technique N times, each time on a fresh server, in rounds (repetition k
    /// measures every technique, then k+1); the summary holds each figure's median with its
    /// min–max, checks are judged on the median (docs/RUN_FORMAT.md, "Repetitions")
    /// [default: 1]
    #[arg(long, value_name = "N")]
    pub repeat: Option<u32>,
    /// Inject a fault (repeatable, or comma-separated): `drop=10s` (each client's connection
    /// reset at a seeded random moment in every 10 s), `restart-server=5s` (the child server
    /// killed and restarted 5 s into each window), `restart-broker=5s` (with --broker: the
    /// broker stopped and started again), `idle-cut=30s` (connections idle that long
    /// are closed, as a load balancer does), `stall-reader=N[:5s]` (N clients per technique
    /// stop reading for a while); see docs/FAULTS.md [default: none]
    #[arg(long = "fault", value_name = "SPEC")]
    pub fault: Vec<String>,
    /// Start a real broker (redis-server or nats-server) beside the child server and share
    /// its topics over it (`serve --broker URL`), measured apart from the server; not with
    /// --target (docs/RUN_FORMAT.md) [default: none]
    #[arg(long, value_name = "KIND", value_enum)]
    pub broker: Option<super::BrokerKind>,
    /// How clients recover from a broken connection: `resuming` (every technique resumes from
    /// its cursor) or `classic` (the seed's browser code: a stream and a WebSocket reopen
    /// without a cursor) [default: resuming]
    #[arg(long, value_name = "HOW", value_enum)]
    pub recovery: Option<Recovery>,
    #[command(flatten)]
    pub request: RequestArgs,
    #[command(flatten)]
    pub transport: TransportArgs,
}

impl RunArgs {
    /// Reads the scenario file (if any), merges it under the flags and validates the result.
    pub fn resolve(&self) -> Result<RunConfig, ConfigError> {
        let sc = match &self.scenario {
            Some(p) => load_scenario(p)?,
            None => Scenario::default(),
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
        let d = self.durations(&sc)?;
        let target = self.target.clone().or(sc.target.clone());
        let request = request::resolve_mode(self, &sc, target.is_some())?;
        let transport = self
            .transport
            .resolve(target.as_deref(), request.is_some())?;
        let openai = request
            .as_ref()
            .is_some_and(|r| matches!(r.api, request::Api::OpenAi { .. }));
        let profile = match self.profile.as_ref().or(sc.profile.as_ref()) {
            None => Profile::default(),
            Some(_) if openai => request::openai_profile(),
            Some(name) => {
                let p = Profile::load(name)?;
                if target.is_none() && !p.is_pushbench() {
                    return Err(invalid(
                        "--profile",
                        format!(
                            "`{name}` describes another server: give its URL with --target \
                             (without --target pushbench starts its own server)"
                        ),
                    ));
                }
                p
            }
        };
        let mut cfg = RunConfig {
            target,
            profile,
            techniques,
            clients: self.clients.or(sc.clients).unwrap_or(defaults::CLIENTS),
            topics: self.topics.or(sc.topics).unwrap_or(defaults::TOPICS),
            rate: self.rate.or(sc.rate).unwrap_or(defaults::RATE),
            payload_bytes: self
                .payload_bytes
                .or(sc.payload_bytes)
                .unwrap_or(defaults::PAYLOAD_BYTES),
            poll_interval: d.poll_interval,
            long_poll_timeout: d.long_poll_timeout,
            ramp_up: self.ramp_up.or(sc.ramp_up).unwrap_or(defaults::RAMP_UP),
            warmup: d.warmup,
            duration: d.duration,
            drain: d.drain,
            pause: d.pause,
            connect_timeout: d.connect_timeout,
            read_timeout: d.read_timeout,
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
            server_pid: self.server_pid,
            worker_command: self.worker_command.clone().or(sc.worker_command.clone()),
            link: link_option("--link", self.link.as_ref().or(sc.link.as_ref()))?,
            publisher_link: link_option(
                "--publisher-link",
                self.publisher_link.as_ref().or(sc.publisher_link.as_ref()),
            )?,
            scenario: self.scenario.clone(),
            scenario_description: sc.description.clone(),
            checks: self.checks(&sc)?,
            repeat: self.repeat.or(sc.repeat).unwrap_or(1),
            repetition: None,
            fault: self.faults(&sc)?,
            broker: self.broker.or(sc.broker),
            recovery: match (self.recovery, &sc.recovery) {
                (Some(r), _) => r,
                (None, Some(text)) => text.parse().map_err(|e: String| ConfigError::Scenario {
                    path: self.scenario.clone().unwrap_or_default(),
                    msg: format!("recovery: {e}"),
                })?,
                (None, None) => Recovery::default(),
            },
            mode: if request.is_some() {
                "request"
            } else {
                "broadcast"
            },
            request: None,
            transport,
        };
        if let Some(r) = request {
            // What request mode does not use, whatever the scenario file says.
            cfg.clients = u32::try_from(r.streams()).unwrap_or(u32::MAX);
            cfg.topics = 1;
            cfg.repeat = 1;
            cfg.processes = 1;
            cfg.fault = FaultSpec::default();
            cfg.link = LinkSpec::none();
            cfg.publisher_link = LinkSpec::none();
            cfg.request = Some(r);
        }
        cfg.validate()?;
        Ok(cfg)
    }

    /// Every duration option: the flag, else the scenario file's, else the default. A duration
    /// in the file must parse even when a flag overrides it.
    fn durations(&self, sc: &Scenario) -> Result<Durations, ConfigError> {
        let pick = |flag: Option<humantime::Duration>,
                    name: &'static str,
                    file: &Option<String>,
                    default: Duration|
         -> Result<Duration, ConfigError> {
            let file = file.as_deref().map(|s| {
                humantime::parse_duration(s.trim()).map_err(|e| {
                    invalid(
                        name,
                        format!("`{s}` is not a duration ({e}); write e.g. 500ms, 5s, 2m"),
                    )
                })
            });
            Ok(flag
                .map(Into::into)
                .or(file.transpose()?)
                .unwrap_or(default))
        };
        Ok(Durations {
            poll_interval: pick(
                self.poll_interval,
                "--poll-interval",
                &sc.poll_interval,
                defaults::POLL_INTERVAL,
            )?,
            long_poll_timeout: pick(
                self.long_poll_timeout,
                "--long-poll-timeout",
                &sc.long_poll_timeout,
                defaults::LONG_POLL_TIMEOUT,
            )?,
            warmup: pick(self.warmup, "--warmup", &sc.warmup, defaults::WARMUP)?,
            duration: pick(
                self.duration,
                "--duration",
                &sc.duration,
                defaults::DURATION,
            )?,
            drain: pick(self.drain, "--drain", &sc.drain, defaults::DRAIN)?,
            pause: pick(self.pause, "--pause", &sc.pause, defaults::PAUSE)?,
            connect_timeout: pick(
                self.connect_timeout,
                "--connect-timeout",
                &sc.connect_timeout,
                defaults::CONNECT_TIMEOUT,
            )?,
            read_timeout: pick(
                self.read_timeout,
                "--read-timeout",
                &sc.read_timeout,
                defaults::READ_TIMEOUT,
            )?,
        })
    }
}

impl RunArgs {
    /// The scenario's checks then `--check`'s, parsed (their techniques are checked against the
    /// run's by [`crate::check::require_techniques`]).
    fn checks(&self, sc: &Scenario) -> Result<Vec<Check>, ConfigError> {
        let mut out = Vec::new();
        for e in sc
            .checks
            .as_ref()
            .map(ScenarioChecks::exprs)
            .unwrap_or_default()
        {
            out.push(check::parse(&e).map_err(|e| ConfigError::Scenario {
                path: self.scenario.clone().unwrap_or_default(),
                msg: format!("checks: {e}"),
            })?);
        }
        for e in &self.check {
            out.push(check::parse(e).map_err(|e| invalid("--check", e.to_string()))?);
        }
        Ok(out)
    }
}

impl RunArgs {
    /// The `--fault` flags, else the scenario's `fault`.
    fn faults(&self, sc: &Scenario) -> Result<FaultSpec, ConfigError> {
        let items = match (&self.fault[..], &sc.fault) {
            ([], Some(f)) => f.items(),
            (flags, _) => flags.to_vec(),
        };
        FaultSpec::parse_all(&items).map_err(|e| invalid("--fault", e.to_string()))
    }
}

/// A `--link`-style option: `none` when absent; a malformed spec is an error naming `flag`
/// (one line listing the valid keys and presets).
fn link_option(flag: &'static str, text: Option<&String>) -> Result<LinkSpec, ConfigError> {
    match text {
        Some(t) => t
            .parse()
            .map_err(|e: LinkSpecError| invalid(flag, e.to_string())),
        None => Ok(LinkSpec::none()),
    }
}

/// The duration options, resolved.
struct Durations {
    poll_interval: Duration,
    long_poll_timeout: Duration,
    warmup: Duration,
    duration: Duration,
    drain: Duration,
    pause: Duration,
    connect_timeout: Duration,
    read_timeout: Duration,
}

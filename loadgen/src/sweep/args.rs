//! Options of `pushbench sweep`: the sweep's own (client counts, the objective) plus every
//! option of `pushbench run` (flattened [`RunArgs`]), which each step passes through. The
//! run's single `--clients N` is replaced by the sweep's list (`--clients 1000,5000,20000`).

use clap::{Args, FromArgMatches};

use crate::config::RunArgs;
use crate::link::{LinkSpec, parse_link_list};

/// The sweep's own options.
#[derive(Debug, Clone, clap::Args)]
pub struct SweepOwnArgs {
    /// Client counts to try, ascending, comma-separated (e.g. 1000,5000,20000); overrides
    /// --start/--factor/--max-clients
    #[arg(
        id = "sweep_clients",
        long = "clients",
        value_delimiter = ',',
        value_name = "LIST"
    )]
    pub clients: Option<Vec<u64>>,
    /// With --mode request: the concurrent streams of each step, ascending, comma-separated
    /// (e.g. 10,100,1000); the same list as --clients, by its request-mode name
    #[arg(
        id = "sweep_concurrency",
        long = "concurrency",
        value_delimiter = ',',
        value_name = "LIST",
        conflicts_with = "sweep_clients"
    )]
    pub concurrency: Option<Vec<u64>>,
    /// First client count of geometric steps
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub start: u64,
    /// Each geometric step multiplies the client count by this
    #[arg(long, value_name = "X", default_value_t = 2.0)]
    pub factor: f64,
    /// Largest client count of geometric steps
    #[arg(long, value_name = "N", default_value_t = 50_000)]
    pub max_clients: u64,
    /// Objective: largest p99 publish-to-receive latency (e.g. 250ms); with --mode request,
    /// of lateness (an event's arrival after its due time)
    #[arg(long, value_name = "DURATION", default_value = "500ms")]
    pub slo_p99: humantime::Duration,
    /// Objective of a request sweep (--mode request): largest p99 time from request to first
    /// event (e.g. 200ms); none unless given
    #[arg(long, value_name = "DURATION")]
    pub slo_ttft_p99: Option<humantime::Duration>,
    /// Objective of a request sweep: largest p99 gap between two events of a stream (e.g.
    /// 50ms); none unless given
    #[arg(long, value_name = "DURATION")]
    pub slo_itl_p99: Option<humantime::Duration>,
    /// Objective: most messages a step may lose
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub max_lost: u64,
    /// Objective: most errors (connect, timeout, HTTP status, ...) a step may count
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub max_errors: u64,
    /// Emulated links to run every technique over, one after another, e.g.
    /// `0,20ms,100ms,300ms,1s` (RTTs), `fast-3g,satellite` (presets) or
    /// `rtt=100ms,down=1mbit;rtt=300ms,down=1mbit` (`;` between full specs); see
    /// docs/NETWORK.md. Without --clients, one step at the run's client count (200). A links
    /// sweep runs every step (technique × link × clients), judging each against the objective
    /// rather than stopping at the first miss
    #[arg(long, value_name = "LIST")]
    pub links: Option<String>,
    /// Server instance counts to run every technique at, e.g. `1,2,4`: each technique at one
    /// client count (the only value of --clients, else the run's 200), once per count; with
    /// --broker the instances share the broker, without it the supervisor's relay
    /// (--server-processes N). Every step is run and judged (docs/CAPACITY.md)
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub instances: Option<Vec<u32>>,
    /// With --instances and --broker: first run each technique on 1 instance without the
    /// broker, the baseline the table's `p50 added`/`p99 added` (the latency the backplane
    /// adds) are measured against
    #[arg(long)]
    pub baseline: bool,
    /// The first of --start/--factor/--max-clients given on the command line (not defaulted):
    /// an instance sweep refuses them.
    /// (An index into [`GEOMETRIC`]: a byte, so `Command::Sweep` stays near `Run`'s size.)
    #[arg(skip)]
    pub geometric_given: Option<u8>,
}

/// The geometric step options: argument id and flag.
const GEOMETRIC: [(&str, &str); 3] = [
    ("start", "--start"),
    ("factor", "--factor"),
    ("max_clients", "--max-clients"),
];

/// The first of the geometric options given on the command line, if any (its index).
fn geometric_given(m: &clap::ArgMatches) -> Option<u8> {
    GEOMETRIC
        .iter()
        .position(|(id, _)| {
            matches!(
                m.try_get_raw(id).ok().and(m.value_source(id)),
                Some(clap::parser::ValueSource::CommandLine)
            )
        })
        .map(|i| i as u8)
}

/// `pushbench sweep`: run each technique at growing client counts until the objective breaks.
///
/// Each step is a normal `pushbench run` of one technique at one client count, written under
/// the sweep directory (--out, default sweeps/<UTC timestamp>); every `run` option applies to
/// every step. A technique stops at its first step that misses the objective or that the
/// machine has no room for (descriptors, ports, memory).
#[derive(Debug, Clone)]
pub struct SweepArgs {
    pub sweep: SweepOwnArgs,
    pub run: RunArgs,
}

impl FromArgMatches for SweepArgs {
    fn from_arg_matches(m: &clap::ArgMatches) -> Result<Self, clap::Error> {
        let mut sweep = SweepOwnArgs::from_arg_matches(m)?;
        sweep.geometric_given = geometric_given(m);
        Ok(SweepArgs {
            sweep,
            run: RunArgs::from_arg_matches(m)?,
        })
    }
    fn update_from_arg_matches(&mut self, m: &clap::ArgMatches) -> Result<(), clap::Error> {
        self.sweep.update_from_arg_matches(m)?;
        self.sweep.geometric_given = geometric_given(m);
        self.run.update_from_arg_matches(m)
    }
}

impl Args for SweepArgs {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        SweepOwnArgs::augment_args(hide_run_clients(RunArgs::augment_args(cmd)))
    }
    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        SweepOwnArgs::augment_args_for_update(hide_run_clients(RunArgs::augment_args_for_update(
            cmd,
        )))
    }
}

/// The run's `--clients N` gives way to the sweep's list (each step sets it); `--check` is the
/// run's alone (the sweep has its objective), hidden and refused.
fn hide_run_clients(cmd: clap::Command) -> clap::Command {
    cmd.mut_arg("clients", |a| a.long("run-clients").hide(true))
        .mut_arg("concurrency", |a| a.long("run-concurrency").hide(true))
        .mut_arg("check", |a| a.hide(true))
}

/// Why the sweep's own options make no sense.
#[derive(Debug, thiserror::Error)]
#[error("{flag}: {msg}")]
pub struct StepsError {
    pub flag: &'static str,
    pub msg: String,
}

/// At most this many links in `--links`.
pub const MAX_LINKS: usize = 32;

impl SweepOwnArgs {
    /// The step list given (`--clients` or `--concurrency`), if any.
    pub fn list(&self) -> Option<&Vec<u64>> {
        self.clients.as_ref().or(self.concurrency.as_ref())
    }

    /// The links of `--links` (None: no link axis), each a distinct label; `fixed`: whether
    /// `--link` was given too (it may not be: each step's link is the axis').
    pub fn links(&self, fixed: bool) -> Result<Option<Vec<LinkSpec>>, StepsError> {
        let Some(text) = &self.links else {
            return Ok(None);
        };
        let err = |msg: String| StepsError {
            flag: "--links",
            msg,
        };
        if fixed {
            return Err(err(
                "cannot be given with --link (each step takes its link from --links)".into(),
            ));
        }
        let links = parse_link_list(text).map_err(|e| err(e.to_string()))?;
        if links.len() > MAX_LINKS {
            return Err(err(format!("more than {MAX_LINKS} links")));
        }
        let mut seen = std::collections::HashSet::new();
        for l in &links {
            if !seen.insert(l.label()) {
                return Err(err(format!("`{}` is listed twice", l.label())));
            }
        }
        Ok(Some(links))
    }
}

/// At most this many instance counts in `--instances`.
pub const MAX_INSTANCE_STEPS: usize = 16;

impl SweepArgs {
    /// The instance counts of `--instances` (None: not an instance sweep), distinct and each
    /// at least 1; Err when an option that makes no sense with it was given too.
    pub fn instances(&self) -> Result<Option<Vec<u32>>, StepsError> {
        let Some(list) = &self.sweep.instances else {
            if self.sweep.baseline {
                return Err(StepsError {
                    flag: "--baseline",
                    msg: "is part of an instance sweep; add --instances LIST --broker KIND".into(),
                });
            }
            return Ok(None);
        };
        if self.sweep.baseline && self.run.broker.is_none() {
            return Err(StepsError {
                flag: "--baseline",
                msg: "runs 1 instance without the broker; it needs --broker (without it, put 1 \
                      in --instances: that step is the baseline)"
                    .into(),
            });
        }
        let err = |msg: String| StepsError {
            flag: "--instances",
            msg,
        };
        if list.is_empty() || list.contains(&0) {
            return Err(err("each instance count must be at least 1".into()));
        }
        if list.len() > MAX_INSTANCE_STEPS {
            return Err(err(format!(
                "more than {MAX_INSTANCE_STEPS} instance counts"
            )));
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(n) = list.iter().find(|&&n| !seen.insert(n)) {
            return Err(err(format!("{n} is listed twice")));
        }
        let geometric = self
            .sweep
            .geometric_given
            .and_then(|i| GEOMETRIC.get(usize::from(i)))
            .map_or("", |g| g.1);
        let conflicts = [
            (geometric, !geometric.is_empty()),
            ("--links", self.sweep.links.is_some()),
            ("--concurrency", self.sweep.concurrency.is_some()),
            ("--server-processes", self.run.server_processes.is_some()),
            ("--target", self.run.target.is_some()),
            (
                "--mode request",
                self.run.request.mode.as_deref() == Some("request"),
            ),
        ];
        if let Some((flag, _)) = conflicts.iter().find(|c| c.1) {
            return Err(err(format!(
                "cannot be given with {flag} (an instance sweep runs each technique at one \
                 client count, on 1..N local server instances)"
            )));
        }
        if let Some(c) = &self.sweep.clients {
            if c.len() != 1 {
                return Err(err(format!(
                    "runs one client count; give --clients one value, got {c:?}"
                )));
            }
        }
        Ok(Some(list.clone()))
    }
}

/// At most this many steps per technique.
pub const MAX_STEPS: usize = 64;

impl SweepOwnArgs {
    /// The client counts to try, ascending.
    pub fn steps(&self) -> Result<Vec<u64>, StepsError> {
        let err = |flag, msg: String| Err(StepsError { flag, msg });
        let steps = match self.list() {
            Some(list) => {
                let flag = if self.clients.is_some() {
                    "--clients"
                } else {
                    "--concurrency"
                };
                if list.is_empty() || list.contains(&0) {
                    return err(flag, "each step must be at least 1".into());
                }
                if list.windows(2).any(|w| w[1] <= w[0]) {
                    return err(flag, format!("must be strictly ascending, got {list:?}"));
                }
                list.clone()
            }
            None => {
                if self.start == 0 {
                    return err("--start", "must be at least 1".into());
                }
                if !self.factor.is_finite() || self.factor <= 1.0 {
                    return err(
                        "--factor",
                        format!("must be more than 1, got {}", self.factor),
                    );
                }
                if self.max_clients < self.start {
                    return err(
                        "--max-clients",
                        format!("({}) is below --start ({})", self.max_clients, self.start),
                    );
                }
                let mut v = vec![self.start];
                while v.len() <= MAX_STEPS {
                    let last = *v.last().unwrap_or(&self.start);
                    let next = ((last as f64 * self.factor).ceil() as u64).max(last + 1);
                    if next > self.max_clients {
                        break;
                    }
                    v.push(next);
                }
                v
            }
        };
        if steps.len() > MAX_STEPS {
            return err("--clients", format!("more than {MAX_STEPS} steps"));
        }
        if steps.iter().any(|&c| c > u64::from(u32::MAX)) {
            return err("--clients", "a client count does not fit in 32 bits".into());
        }
        Ok(steps)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        args: SweepArgs,
    }

    fn parse(args: &[&str]) -> SweepArgs {
        let mut v = vec!["x"];
        v.extend_from_slice(args);
        T::try_parse_from(v).unwrap().args
    }

    #[test]
    fn list_and_run_options_pass_through() {
        let a = parse(&[
            "--clients",
            "2,4,8",
            "--slo-p99",
            "1us",
            "--techniques",
            "sse",
            "--duration",
            "1s",
        ]);
        assert_eq!(a.sweep.steps().unwrap(), vec![2, 4, 8]);
        assert_eq!(a.sweep.slo_p99, std::time::Duration::from_micros(1).into());
        assert_eq!(a.run.clients, None);
        assert!(a.run.techniques.is_some() && a.run.duration.is_some());
    }

    #[test]
    fn geometric_steps_and_errors() {
        let a = parse(&["--start", "1000", "--factor", "2", "--max-clients", "10000"]);
        assert_eq!(a.sweep.steps().unwrap(), vec![1000, 2000, 4000, 8000]);
        let e = parse(&["--clients", "5,3"]).sweep.steps().unwrap_err();
        assert_eq!(e.flag, "--clients");
        let e = parse(&["--factor", "1"]).sweep.steps().unwrap_err();
        assert_eq!(e.flag, "--factor");
        let e = parse(&["--start", "10", "--max-clients", "5"])
            .sweep
            .steps()
            .unwrap_err();
        assert_eq!(e.flag, "--max-clients");
    }
}

//! One technique's sweep (over one link of `--links`): its steps in turn, each a normal run
//! directory, until the first that breaks the objective, has no room on this machine, or
//! fails. A links sweep goes on past a step that misses the objective (it measures the whole
//! grid): only a step without room or a failed run stops it.

use std::path::Path;
use std::time::Duration;

use reports::sweep::{self as sw, Outcome, SweepDoc};

use super::args::SweepArgs;
use super::room::{DEFAULT_BYTES_PER_CLIENT, Need, Room};
use super::step;
use crate::config::{ConfigError, RunArgs, RunConfig};
use crate::link::LinkSpec;
use crate::run::{self, Shutdown};
use crate::technique::Technique;

/// What every step of one technique's sweep shares.
#[derive(Debug)]
pub struct Sweeping<'a> {
    pub args: &'a SweepArgs,
    pub tech: Technique,
    /// The link of this pass of `--links` (None: no link axis).
    pub link: Option<LinkSpec>,
    /// The server instance count of this pass of `--instances` (None: no instance axis).
    pub instances: Option<u32>,
    /// `--baseline`'s step: run without the sweep's `--broker`.
    pub no_broker: bool,
    /// The sweep directory: each step's run directory is made in it.
    pub dir: &'a Path,
    pub command_line: &'a [String],
    pub sd: &'a Shutdown,
}

/// Where one technique's sweep stands.
#[derive(Debug)]
struct State {
    out: Outcome,
    /// Memory one client took (server and load generator) in the last step: the room check's
    /// estimate for the next.
    bytes_per_client: f64,
    /// Why the first step failed outright, if it did.
    first_failure: Option<String>,
    /// A request sweep (steps are concurrency, not clients).
    request: bool,
}

impl State {
    fn stop(&mut self, tech: Technique, n: u64, why: String) {
        eprintln!("sweep: {tech} stopped at {}: {why}", size(n, self.request));
        self.missed(n, why);
    }

    /// The step of `n` clients missed the objective: the first miss is where it broke.
    fn missed(&mut self, n: u64, why: String) {
        if self.out.broke_at.is_none() {
            self.out.broke_at = Some(n);
            self.out.broke_reason = Some(why);
        }
    }
}

/// How a step went.
enum Step {
    /// Met the objective; pause this long before the next.
    Met(Duration),
    /// Missed the objective, but a links sweep goes on after this pause.
    Missed(Duration),
    /// The sweep of this technique stops here.
    Stop,
}

impl Sweeping<'_> {
    /// What this pass runs over, for its messages: ` over LINK`, ` on N instances`.
    pub fn setting(&self) -> String {
        let over = self
            .link
            .map(|l| format!(" over {}", l.label()))
            .unwrap_or_default();
        let on = match (self.instances, self.no_broker) {
            (Some(i), true) => format!(" on {i} instance without the broker"),
            (Some(i), false) => format!(" on {i} instance{}", if i == 1 { "" } else { "s" }),
            (None, _) => String::new(),
        };
        over + &on
    }

    /// Sweeps the technique: steps until the first that breaks the objective or has no room.
    /// Also returns why its first step failed outright, if it did (see
    /// [`super::SweepOutcome::failed`]).
    pub async fn run(&self, steps: &[u64], doc: &mut SweepDoc) -> (Outcome, Option<String>) {
        let mut state = State {
            out: Outcome {
                technique: self.tech.name().to_string(),
                instances: self.instances.map(u64::from),
                link: self.link.map(|l| l.label()),
                knee_clients: None,
                broke_at: None,
                broke_reason: None,
            },
            bytes_per_client: DEFAULT_BYTES_PER_CLIENT,
            first_failure: None,
            request: self.args.run.request.mode.as_deref() == Some("request"),
        };
        for (i, &n) in steps.iter().enumerate() {
            if self.sd.token.is_cancelled() {
                state.out.broke_reason =
                    Some(format!("interrupted before {}", size(n, state.request)));
                break;
            }
            let pause = match self.step(n, i == 0, &mut state, doc).await {
                Step::Met(pause) => {
                    if state.out.broke_at.is_none() {
                        state.out.knee_clients = Some(n);
                    }
                    pause
                }
                Step::Missed(pause) => pause,
                Step::Stop => break,
            };
            if i + 1 < steps.len() {
                tokio::select! {
                    _ = self.sd.token.cancelled() => {}
                    _ = tokio::time::sleep(pause) => {}
                }
            }
        }
        (state.out, state.first_failure)
    }

    /// Runs the step of `n` clients and records its row; says how it went.
    async fn step(&self, n: u64, first: bool, state: &mut State, doc: &mut SweepDoc) -> Step {
        let tech = self.tech;
        let name = match (self.link, self.instances) {
            (Some(l), _) => format!("{tech}-{n}-{}", dir_slug(&l)),
            (None, Some(i)) if self.no_broker => format!("{tech}-{n}-i{i}-nobroker"),
            (None, Some(i)) => format!("{tech}-{n}-i{i}"),
            (None, None) => format!("{tech}-{n}"),
        };
        let prepared = self
            .config(n, &name)
            .and_then(|cfg| Ok((check_room(&cfg, n, state.bytes_per_client)?, cfg)));
        let (room, cfg) = match prepared {
            Ok(p) => p,
            Err(why) => {
                state.stop(tech, n, why);
                return Step::Stop;
            }
        };
        let (rate, pause, link, procs) = (cfg.rate, cfg.pause, cfg.link, cfg.server_processes);
        let outcome = match run::execute(cfg, self.command_line.to_vec(), self.sd.clone()).await {
            Ok(o) => o,
            Err(e) => {
                if first {
                    state.first_failure = Some(e.to_string());
                }
                state.stop(tech, n, format!("run failed: {e}"));
                return Step::Stop;
            }
        };
        if outcome.partial && self.sd.token.is_cancelled() {
            // A step cut short measures nothing worth judging.
            state.out.broke_reason = Some(format!("interrupted during {}", size(n, state.request)));
            return Step::Stop;
        }
        let Some(s) = outcome.doc.techniques.first() else {
            if first {
                state.first_failure = Some("nothing measured".into());
            }
            state.stop(tech, n, "run failed: nothing measured".into());
            return Step::Stop;
        };
        if first {
            state.first_failure.clone_from(&s.failure);
        }
        if !self.args.run.no_report {
            if let Err(e) = reports::write_report(std::slice::from_ref(&outcome.dir), None) {
                eprintln!("sweep: warning: report of {name} not written: {e}");
            }
        }
        let both = s.server_rss_bytes.unwrap_or(0) + s.loadgen_rss_bytes.unwrap_or(0);
        if both > 0 {
            state.bytes_per_client = (both as f64 / n as f64).max(4096.0);
        }
        let mut row = step::row(s, &doc.slo, rate, name, room.time_wait);
        row.link = link.label();
        row.link_rtt_us = link.rtt.as_micros() as u64;
        row.instances = u64::from(procs);
        match self.record(n, row, doc) {
            Ok(()) => Step::Met(pause),
            // A links or instance sweep measures every step of its grid.
            Err(why) if self.link.is_some() || self.instances.is_some() => {
                state.missed(n, why);
                Step::Missed(pause)
            }
            Err(why) => {
                state.stop(tech, n, why);
                Step::Stop
            }
        }
    }

    /// The run options of the step of `n` clients (its run directory `name` in the sweep's).
    fn config(&self, n: u64, name: &str) -> Result<RunConfig, String> {
        let mut a = step_args(&self.args.run, n);
        a.techniques = Some(vec![self.tech]);
        a.out = Some(self.dir.join(name));
        if let Some(l) = self.link {
            a.link = Some(l.label());
        }
        if let Some(i) = self.instances {
            a.server_processes = Some(i);
        }
        if self.no_broker {
            a.broker = None;
        }
        a.json = false;
        a.no_report = true;
        a.resolve().map_err(|e| match &e {
            ConfigError::Invalid { msg, .. } if msg.contains("descriptor") => {
                format!("out of descriptors: {msg}")
            }
            _ => format!("cannot run: {e}"),
        })
    }

    /// Adds the step's row to the sweep (written at once) and says how it went; Err: why it
    /// missed the objective.
    fn record(&self, n: u64, row: sw::StepRow, doc: &mut SweepDoc) -> Result<(), String> {
        eprintln!(
            "sweep: {}{} at {}: p50 {}, p99 {}, lost {}, errors {}, server {} cores, {} MiB{} → {}",
            self.tech,
            self.setting(),
            size(n, row.ttft_p99_us.is_some()),
            row.p50_us.map(step::us).unwrap_or_else(|| "n/a".into()),
            row.p99_us.map(step::us).unwrap_or_else(|| "n/a".into()),
            row.lost,
            row.errors,
            row.server_cores
                .map(|c| format!("{c:.2}"))
                .unwrap_or_else(|| "?".into()),
            row.server_rss_bytes.map(|b| b >> 20).unwrap_or(0),
            match (&row.broker, row.broker_cpu_s) {
                (Some(b), cpu) => format!(
                    ", {b} {} CPU-s, {} msgs/s",
                    cpu.map(|c| format!("{c:.2}")).unwrap_or_else(|| "?".into()),
                    row.broker_messages_per_s
                        .map(|m| format!("{m:.0}"))
                        .unwrap_or_else(|| "?".into())
                ),
                (None, _) => String::new(),
            },
            row.broke_reason.as_deref().unwrap_or("met the objective")
        );
        if let (Some(t), Some(i)) = (row.ttft_p99_us, row.itl_p99_us) {
            eprintln!(
                "sweep: {} at concurrency {n}: TTFT p99 {}, ITL p99 {}, {:.0} events/s (p50/p99 \
                 above: lateness)",
                self.tech,
                step::us(t),
                step::us(i),
                row.events_per_s.unwrap_or(0.0)
            );
        }
        let met = row.slo_met;
        let why = row.broke_reason.clone();
        doc.steps.push(row);
        if let Err(e) = sw::write_data(self.dir, doc) {
            eprintln!("sweep: warning: {e}");
        }
        if met {
            Ok(())
        } else {
            Err(why.unwrap_or_default())
        }
    }
}

/// The run options of a step of `n`: `n` clients, or in a request sweep (`--mode request`)
/// `n` concurrent streams.
pub fn step_args(run: &RunArgs, n: u64) -> RunArgs {
    let mut a = run.clone();
    if a.request.mode.as_deref() == Some("request") {
        a.request.concurrency = Some(n);
    } else {
        a.clients = Some(n.min(u64::from(u32::MAX)) as u32);
    }
    a
}

/// A step's size in words: `200 clients`, or `concurrency 200` in a request sweep.
pub(super) fn size(n: u64, request: bool) -> String {
    if request {
        format!("concurrency {n}")
    } else {
        format!("{n} clients")
    }
}

/// A link as part of a directory name: its label with `=` dropped, `,` as `-`, and anything
/// but letters, digits, `.`, `-` and `_` as `_` (`rtt=100ms,down=1mbit` → `rtt100ms-down1mbit`).
pub fn dir_slug(link: &LinkSpec) -> String {
    link.label()
        .chars()
        .filter(|&c| c != '=')
        .map(|c| match c {
            ',' => '-',
            c if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') => c,
            _ => '_',
        })
        .collect()
}

/// Whether this machine has room for the step (descriptors, ports, memory); Err: why not.
/// Warns when the ramp-up is long enough for the first clients to time out.
fn check_room(cfg: &RunConfig, n: u64, bytes_per_client: f64) -> Result<Room, String> {
    let room = Room::read();
    let need = Need {
        clients: n,
        loadgen_processes: u64::from(cfg.processes),
        server_processes: u64::from(cfg.server_processes),
        // As the run will use them (spread over 127.0.0.x past one address's ports).
        source_addrs: cfg.client_addrs().len() as u64,
        local_server: cfg.target.is_none(),
        bytes_per_client,
    };
    if let Some(why) = room.check(&need) {
        return Err(why);
    }
    eprintln!(
        "sweep: {} at {} ({} sockets in TIME_WAIT)",
        cfg.techniques[0],
        size(n, cfg.request.is_some()),
        room.time_wait.unwrap_or(0)
    );
    let ramp_s = n as f64 / cfg.ramp_up.max(1e-9);
    if cfg.request.is_none()
        && ramp_s + cfg.warmup.as_secs_f64() >= 0.5 * cfg.read_timeout.as_secs_f64()
    {
        // Measured here: 40,000 clients at 5000/s with the default 10 s read timeout gave
        // ~20,000 timeouts (everything delivered); with 30 s, none.
        eprintln!(
            "sweep: warning: ramp-up takes {ramp_s:.1} s: the first clients may hear nothing \
             for longer than --read-timeout ({}) and count timeouts; raise --read-timeout or \
             --ramp-up",
            humantime::format_duration(cfg.read_timeout)
        );
    }
    Ok(room)
}

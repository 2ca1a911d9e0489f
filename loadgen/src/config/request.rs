//! The options of request mode (`pushbench run --mode request`, docs/REQUEST.md): the flags
//! ([`RequestArgs`], flattened into `RunArgs`) and what they resolve to ([`RequestParams`]),
//! kept in the manifest's params. In broadcast mode (the default) none of them may be given.
//!
//! Rules: `--concurrency N` (closed model) or `--arrival-rate R` (open model), not both, each
//! above 0; neither: concurrency 10. Options of broadcast mode that mean nothing here
//! (`--clients`, `--topics`, `--rate`, `--payload-bytes`, `--poll-interval`,
//! `--long-poll-timeout`, `--ramp-up`, `--retention`) and the features request mode does not
//! support (`--processes`, `--repeat`, `--fault`, `--link`, `--publisher-link`) are refused
//! with a one-line error naming the flag; the scenario file's values of them are ignored.

use std::time::Duration;

use serde::Serialize;

use super::{ConfigError, invalid};
use crate::profile::{Profile, Subscribe};
use crate::technique::Technique;

/// Closed-model concurrency when neither `--concurrency` nor `--arrival-rate` is given.
pub const DEFAULT_CONCURRENCY: u64 = 10;
/// Most streams in flight at once (either model): the descriptor limit's share.
pub const MAX_STREAMS: u64 = 15_000;
/// Most events one request may ask for (the protocol's bound).
pub const MAX_EVENTS: u64 = 1_000_000;
/// Longest first delay or interval (the protocol's bound, one hour).
pub const MAX_DELAY: Duration = Duration::from_secs(3600);

/// The request-mode flags of `pushbench run`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RequestArgs {
    /// `broadcast` (a publisher fans messages out to subscribers) or `request` (each client
    /// asks for a stream of events of its own, as a chat completion streams tokens; see
    /// docs/REQUEST.md) [default: broadcast]
    #[arg(long, value_name = "MODE")]
    pub mode: Option<String>,
    /// Request mode, closed model: streams kept in flight, each client asking again as its
    /// stream ends [default: 10, unless --arrival-rate]
    #[arg(long, value_name = "N")]
    pub concurrency: Option<u64>,
    /// Request mode, open model: requests per second, arriving at Poisson-distributed times
    /// whatever is in flight
    #[arg(long, value_name = "REQ/S")]
    pub arrival_rate: Option<f64>,
    /// Request mode: events each request asks for [default: 100]
    #[arg(long, value_name = "N")]
    pub events: Option<u64>,
    /// Request mode: size of each event's content in bytes [default: 64]
    #[arg(long, value_name = "BYTES")]
    pub event_bytes: Option<u64>,
    /// Request mode: time from the request to its first event's due time [default: 0ms]
    #[arg(long, value_name = "DURATION")]
    pub first_delay: Option<humantime::Duration>,
    /// Request mode: time between two events (the mean with exponential gaps)
    /// [default: 10ms]
    #[arg(long, value_name = "DURATION")]
    pub interval: Option<humantime::Duration>,
    /// Request mode: `fixed` gaps between events, or `exponential` ones of mean --interval
    /// [default: fixed]
    #[arg(long, value_name = "DIST")]
    pub interval_distribution: Option<String>,
    /// Request mode with `--profile openai`: the `model` of the chat-completion requests
    /// [default: pushbench]
    #[arg(long, value_name = "NAME")]
    pub model: Option<String>,
    /// Testing aid: the server sleeps before event K of every stream (with --stall-ms)
    #[arg(long, value_name = "K", hide = true)]
    pub stall_at: Option<u64>,
    /// Testing aid: how long the server sleeps before event --stall-at
    #[arg(long, value_name = "MS", hide = true)]
    pub stall_ms: Option<u64>,
}

/// How requests arrive.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Arrival {
    /// A fixed number of streams in flight.
    Closed { concurrency: u64 },
    /// Poisson arrivals at this many requests per second.
    Open { rate: f64 },
}

/// What the target is asked (the wire protocol of each request).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Api {
    /// pushbench's `/generate` endpoints (docs/PROTOCOL.md).
    Generate,
    /// An OpenAI-compatible `/v1/chat/completions` streamed over SSE, with this `model`.
    #[serde(rename = "openai")]
    OpenAi { model: String },
}

/// Request mode's resolved parameters (in the manifest's params, as `request`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestParams {
    pub arrival: Arrival,
    pub events: u64,
    pub event_bytes: u64,
    #[serde(serialize_with = "ser_ms_f64", rename = "first_delay_ms")]
    pub first_delay: Duration,
    #[serde(serialize_with = "ser_ms_f64", rename = "interval_ms")]
    pub interval: Duration,
    /// `fixed` or `exponential`.
    pub distribution: String,
    /// `(at, ms)`: the hidden `--stall-at` / `--stall-ms` testing aid.
    pub stall: Option<(u64, u64)>,
    pub api: Api,
}

fn ser_ms_f64<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1000.0)
}

impl RequestParams {
    /// How long one stream lasts on the server's schedule (first delay and every gap).
    pub fn stream_len(&self) -> Duration {
        let gaps = self.events.saturating_sub(1);
        let stall = self.stall.map_or(0, |(_, ms)| ms);
        self.first_delay
            .saturating_add(
                self.interval
                    .saturating_mul(u32::try_from(gaps).unwrap_or(u32::MAX)),
            )
            .saturating_add(Duration::from_millis(stall))
    }

    /// Streams in flight to plan for: the concurrency, or Little's law (rate × stream length,
    /// doubled, at least 16) in the open model, at most [`MAX_STREAMS`].
    pub fn streams(&self) -> u64 {
        match self.arrival {
            Arrival::Closed { concurrency } => concurrency,
            Arrival::Open { rate } => {
                let n = rate * (self.stream_len().as_secs_f64() + 0.1) * 2.0;
                (n.ceil() as u64).clamp(16, MAX_STREAMS)
            }
        }
    }

    /// `closed` or `open`.
    pub fn model_name(&self) -> &'static str {
        match self.arrival {
            Arrival::Closed { .. } => "closed",
            Arrival::Open { .. } => "open",
        }
    }
}

/// The `--profile openai` stand-in: a profile offering SSE alone (so every other technique is
/// skipped as not offered), named `openai` in the manifest.
pub fn openai_profile() -> Profile {
    let mut p = Profile::default();
    p.name = "openai".into();
    p.subscribe = vec![Subscribe {
        path: "/v1/chat/completions".into(),
        ..p.subscription(Technique::Sse)
    }];
    p
}

/// Whether `--mode` asks for request mode (Err: neither mode's name).
pub fn is_request_mode(mode: Option<&str>) -> Result<bool, ConfigError> {
    match mode.map(str::trim) {
        None | Some("broadcast") => Ok(false),
        Some("request") => Ok(true),
        Some(m) => Err(invalid(
            "--mode",
            format!("`{m}` is not a mode: write broadcast or request"),
        )),
    }
}

impl RequestArgs {
    /// Whether any request-mode option was given (an error in broadcast mode).
    pub fn first_given(&self) -> Option<&'static str> {
        [
            (self.concurrency.is_some(), "--concurrency"),
            (self.arrival_rate.is_some(), "--arrival-rate"),
            (self.events.is_some(), "--events"),
            (self.event_bytes.is_some(), "--event-bytes"),
            (self.first_delay.is_some(), "--first-delay"),
            (self.interval.is_some(), "--interval"),
            (
                self.interval_distribution.is_some(),
                "--interval-distribution",
            ),
            (self.model.is_some(), "--model"),
            (self.stall_at.is_some(), "--stall-at"),
            (self.stall_ms.is_some(), "--stall-ms"),
        ]
        .into_iter()
        .find_map(|(given, flag)| given.then_some(flag))
    }

    /// The resolved parameters; `openai`: `--profile openai` was given.
    pub fn resolve(
        &self,
        openai: bool,
        max_event_bytes: u64,
    ) -> Result<RequestParams, ConfigError> {
        let arrival = match (self.concurrency, self.arrival_rate) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "--concurrency",
                    "give --concurrency (closed model) or --arrival-rate (open model), not both",
                ));
            }
            (Some(0), None) => return Err(invalid("--concurrency", "must be at least 1")),
            (Some(n), None) if n > MAX_STREAMS => {
                return Err(invalid(
                    "--concurrency",
                    format!("at most {MAX_STREAMS} streams in flight, got {n}"),
                ));
            }
            (Some(n), None) => Arrival::Closed { concurrency: n },
            (None, Some(r)) if !r.is_finite() || r <= 0.0 || r > 100_000.0 => {
                return Err(invalid(
                    "--arrival-rate",
                    format!(
                        "must be a number of requests per second above 0 (at most 100000), got {r}"
                    ),
                ));
            }
            (None, Some(rate)) => Arrival::Open { rate },
            (None, None) => Arrival::Closed {
                concurrency: DEFAULT_CONCURRENCY,
            },
        };
        let events = self.events.unwrap_or(100);
        if events == 0 || events > MAX_EVENTS {
            return Err(invalid(
                "--events",
                format!("must be between 1 and {MAX_EVENTS}, got {events}"),
            ));
        }
        let event_bytes = self.event_bytes.unwrap_or(64);
        if event_bytes > max_event_bytes {
            return Err(invalid(
                "--event-bytes",
                format!(
                    "at most {max_event_bytes} (the server's --max-payload-bytes), got {event_bytes}"
                ),
            ));
        }
        let first_delay: Duration = self.first_delay.map_or(Duration::ZERO, Into::into);
        let interval: Duration = self.interval.map_or(Duration::from_millis(10), Into::into);
        for (flag, d) in [("--first-delay", first_delay), ("--interval", interval)] {
            if d > MAX_DELAY {
                return Err(invalid(flag, "at most 1h"));
            }
        }
        let distribution = match self.interval_distribution.as_deref().map(str::trim) {
            None | Some("fixed") => "fixed",
            Some("exponential") => "exponential",
            Some(d) => {
                return Err(invalid(
                    "--interval-distribution",
                    format!("`{d}` is not a distribution: write fixed or exponential"),
                ));
            }
        };
        let stall = match (self.stall_at, self.stall_ms) {
            (Some(at), Some(ms)) => Some((at, ms)),
            (None, None) => None,
            _ => {
                return Err(invalid(
                    "--stall-at",
                    "give --stall-at and --stall-ms together",
                ));
            }
        };
        let api = if openai {
            Api::OpenAi {
                model: self.model.clone().unwrap_or_else(|| "pushbench".into()),
            }
        } else if self.model.is_some() {
            return Err(invalid("--model", "only with --profile openai"));
        } else {
            Api::Generate
        };
        Ok(RequestParams {
            arrival,
            events,
            event_bytes,
            first_delay,
            interval,
            distribution: distribution.into(),
            stall,
            api,
        })
    }
}

/// Request mode's share of resolving `pushbench run`'s options: `Ok(None)` in broadcast mode
/// (where no request-mode flag, nor `--profile openai`, may be given), else the parameters,
/// once the broadcast-only and unsupported options are found absent.
pub(super) fn resolve_mode(
    args: &super::RunArgs,
    sc: &super::Scenario,
    has_target: bool,
) -> Result<Option<RequestParams>, ConfigError> {
    let r = &args.request;
    let openai = args
        .profile
        .as_ref()
        .or(sc.profile.as_ref())
        .map(|p| p.trim())
        == Some("openai");
    if !is_request_mode(r.mode.as_deref())? {
        if let Some(flag) = r.first_given() {
            return Err(invalid(flag, "only with --mode request"));
        }
        if openai {
            return Err(invalid("--profile", "openai: only with --mode request"));
        }
        return Ok(None);
    }
    let profile = args
        .profile
        .as_ref()
        .or(sc.profile.as_ref())
        .map(|p| p.trim());
    if profile.is_some_and(|p| p != "openai" && p != "pushbench") {
        return Err(invalid(
            "--profile",
            "request mode speaks pushbench's /generate (the default profile) or an \
             OpenAI-compatible server (openai)",
        ));
    }
    if openai && !has_target {
        return Err(invalid(
            "--profile",
            "openai measures another server: give its URL with --target",
        ));
    }
    let refused = [
        (
            args.clients.is_some(),
            "--clients",
            "--concurrency or --arrival-rate",
        ),
        (args.topics.is_some(), "--topics", ""),
        (args.rate.is_some(), "--rate", "--interval"),
        (
            args.payload_bytes.is_some(),
            "--payload-bytes",
            "--event-bytes",
        ),
        (args.poll_interval.is_some(), "--poll-interval", ""),
        (args.long_poll_timeout.is_some(), "--long-poll-timeout", ""),
        (args.ramp_up.is_some(), "--ramp-up", ""),
        (args.retention.is_some(), "--retention", ""),
        (args.processes.is_some_and(|p| p > 1), "--processes", ""),
        (args.repeat.is_some_and(|n| n > 1), "--repeat", ""),
        (!args.fault.is_empty(), "--fault", ""),
        (args.link.is_some(), "--link", ""),
        (args.publisher_link.is_some(), "--publisher-link", ""),
    ];
    if let Some((_, flag, instead)) = refused.iter().find(|(given, _, _)| *given) {
        let hint = if instead.is_empty() {
            String::new()
        } else {
            format!(" (use {instead})")
        };
        return Err(invalid(flag, format!("not used in --mode request{hint}")));
    }
    let max = if has_target {
        u64::MAX
    } else {
        super::MAX_PAYLOAD_BYTES as u64
    };
    r.resolve(openai, max).map(Some)
}

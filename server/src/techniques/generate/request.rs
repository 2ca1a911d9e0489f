//! The body of a `/generate` request (docs/PROTOCOL.md, "Request-scoped streams"): a JSON
//! object whose keys are all optional, checked key by key into a [`GenerateSpec`]. Anything
//! wrong is a [`SpecError`] whose text is the one-line reason of the `400` (a WebSocket's
//! close 1008). OpenAI-style keys (`model`, `messages`, `stream`, `max_tokens`) are accepted
//! and ignored, so a chat-completion body works as is.

use serde_json::{Map, Value};

/// Largest request body (or WebSocket request message), in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Most events one stream may ask for.
pub const MAX_EVENTS: u64 = 1_000_000;
/// Largest `first_delay_ms`, `interval_ms` and stall `ms` (an hour).
pub const MAX_MS: f64 = 3_600_000.0;

/// How the gaps between events are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Distribution {
    /// Every gap is `interval_ms`.
    Fixed,
    /// Gaps drawn from an exponential distribution of mean `interval_ms`.
    Exponential,
}

/// The testing aid `stall`: before sending event `at`, the pacing sleeps `ms` more (the
/// schedule does not move, so events `at..` are late).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stall {
    /// The event before which the pacing stalls.
    pub at: u64,
    /// How long, in ms.
    pub ms: f64,
}

/// What a `/generate` request asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateSpec {
    /// Events to send.
    pub events: u64,
    /// Bytes of each event's content.
    pub event_bytes: u64,
    /// From the request's acceptance to event 0, in ms.
    pub first_delay_ms: f64,
    /// The gap between events (the mean gap when exponential), in ms.
    pub interval_ms: f64,
    /// How gaps are drawn.
    pub distribution: Distribution,
    /// The seed of the exponential draws (`None`: a random one).
    pub seed: Option<u64>,
    /// The testing aid, if asked for.
    pub stall: Option<Stall>,
}

impl Default for GenerateSpec {
    fn default() -> Self {
        GenerateSpec {
            events: 100,
            event_bytes: 64,
            first_delay_ms: 0.0,
            interval_ms: 10.0,
            distribution: Distribution::Fixed,
            seed: None,
            stall: None,
        }
    }
}

/// Why a request body is refused; the text is the one-line reason sent back.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SpecError {
    /// Larger than [`MAX_BODY_BYTES`].
    #[error("bad generate request: the body is larger than {MAX_BODY_BYTES} bytes")]
    TooLarge,
    /// Not JSON at all.
    #[error("bad generate request: not JSON ({0})")]
    NotJson(String),
    /// JSON, but not an object.
    #[error("bad generate request: the body must be a JSON object")]
    NotObject,
    /// A key this server does not know.
    #[error("bad generate request: unknown key {0:?}")]
    UnknownKey(String),
    /// A value of the wrong type or out of its range.
    #[error("bad generate request: {key} must be {want}")]
    Value {
        /// The key (`stall.at` for a nested one).
        key: &'static str,
        /// What it must be.
        want: String,
    },
    /// A distribution this server does not draw.
    #[error("bad generate request: unknown distribution {0:?} (fixed or exponential)")]
    Distribution(String),
}

fn bad(key: &'static str, want: impl Into<String>) -> SpecError {
    SpecError::Value {
        key,
        want: want.into(),
    }
}

/// A whole number in `0..=max`.
fn whole(key: &'static str, v: &Value, max: u64) -> Result<u64, SpecError> {
    v.as_u64()
        .filter(|n| *n <= max)
        .ok_or_else(|| bad(key, format!("a whole number from 0 to {max}")))
}

/// A number of ms in `0..=MAX_MS`.
fn millis(key: &'static str, v: &Value) -> Result<f64, SpecError> {
    v.as_f64()
        .filter(|ms| ms.is_finite() && (0.0..=MAX_MS).contains(ms))
        .ok_or_else(|| bad(key, format!("a number of ms from 0 to {MAX_MS}")))
}

fn stall(v: &Value) -> Result<Stall, SpecError> {
    let want = || bad("stall", "an object {\"at\": event, \"ms\": delay}");
    let obj = v.as_object().ok_or_else(want)?;
    let mut s = Stall { at: 0, ms: 0.0 };
    let (mut at, mut ms) = (false, false);
    for (k, v) in obj {
        match k.as_str() {
            "at" => (s.at, at) = (whole("stall.at", v, u64::MAX)?, true),
            "ms" => (s.ms, ms) = (millis("stall.ms", v)?, true),
            _ => return Err(SpecError::UnknownKey(format!("stall.{k}"))),
        }
    }
    if !(at && ms) {
        return Err(want());
    }
    Ok(s)
}

impl GenerateSpec {
    /// Parses a request body; `max_event_bytes` is the server's `--max-payload-bytes`.
    pub fn parse(body: &[u8], max_event_bytes: u64) -> Result<GenerateSpec, SpecError> {
        if body.len() > MAX_BODY_BYTES {
            return Err(SpecError::TooLarge);
        }
        let value: Value = serde_json::from_slice(body).map_err(|e| {
            // serde_json's messages are one line; keep it so.
            SpecError::NotJson(e.to_string().replace(['\n', '\r'], " "))
        })?;
        let Value::Object(obj) = value else {
            return Err(SpecError::NotObject);
        };
        Self::from_object(&obj, max_event_bytes)
    }

    fn from_object(obj: &Map<String, Value>, max_event_bytes: u64) -> Result<Self, SpecError> {
        let mut spec = GenerateSpec::default();
        for (k, v) in obj {
            match k.as_str() {
                "events" => spec.events = whole("events", v, MAX_EVENTS)?,
                "event_bytes" => spec.event_bytes = whole("event_bytes", v, max_event_bytes)?,
                "first_delay_ms" => spec.first_delay_ms = millis("first_delay_ms", v)?,
                "interval_ms" => spec.interval_ms = millis("interval_ms", v)?,
                "distribution" => {
                    spec.distribution = match v.as_str() {
                        Some("fixed") => Distribution::Fixed,
                        Some("exponential") => Distribution::Exponential,
                        Some(other) => {
                            let mut name = other.to_string();
                            name.truncate(64);
                            return Err(SpecError::Distribution(name));
                        }
                        None => return Err(bad("distribution", "\"fixed\" or \"exponential\"")),
                    }
                }
                "seed" => spec.seed = Some(whole("seed", v, u64::MAX)?),
                "stall" => spec.stall = Some(stall(v)?),
                "model" | "messages" | "stream" | "max_tokens" => {}
                _ => {
                    let mut key = k.clone();
                    key.truncate(64);
                    return Err(SpecError::UnknownKey(key));
                }
            }
        }
        Ok(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<GenerateSpec, SpecError> {
        GenerateSpec::parse(s.as_bytes(), 1000)
    }

    #[test]
    fn defaults_and_every_key() {
        assert_eq!(parse("{}").unwrap(), GenerateSpec::default());
        let s = parse(
            r#"{"events":5,"event_bytes":1000,"first_delay_ms":2.5,"interval_ms":0,
                "distribution":"exponential","seed":7,"stall":{"at":3,"ms":40},
                "model":"x","messages":[{"role":"user"}],"stream":true,"max_tokens":9}"#,
        )
        .unwrap();
        assert_eq!(
            s,
            GenerateSpec {
                events: 5,
                event_bytes: 1000,
                first_delay_ms: 2.5,
                interval_ms: 0.0,
                distribution: Distribution::Exponential,
                seed: Some(7),
                stall: Some(Stall { at: 3, ms: 40.0 }),
            }
        );
    }

    #[test]
    fn bad_bodies_say_why_in_one_line() {
        let cases = [
            ("not json", "not JSON"),
            ("[1]", "JSON object"),
            (
                r#"{"events":-1}"#,
                "events must be a whole number from 0 to 1000000",
            ),
            (r#"{"events":1000001}"#, "events must be"),
            (r#"{"events":2.5}"#, "events must be"),
            (
                r#"{"event_bytes":1001}"#,
                "event_bytes must be a whole number from 0 to 1000",
            ),
            (r#"{"interval_ms":-1}"#, "interval_ms must be"),
            (r#"{"first_delay_ms":3600001}"#, "first_delay_ms must be"),
            (r#"{"interval_ms":"10"}"#, "interval_ms must be"),
            (
                r#"{"distribution":"pareto"}"#,
                "unknown distribution \"pareto\"",
            ),
            (r#"{"distribution":1}"#, "distribution must be"),
            (r#"{"evnts":1}"#, "unknown key \"evnts\""),
            (r#"{"stall":{"at":1}}"#, "stall must be"),
            (
                r#"{"stall":{"at":1,"ms":1,"x":0}}"#,
                "unknown key \"stall.x\"",
            ),
            (r#"{"seed":-3}"#, "seed must be"),
        ];
        for (body, want) in cases {
            let e = parse(body).unwrap_err().to_string();
            assert!(e.contains(want), "{body}: {e}");
            assert!(!e.contains('\n'), "{body}: {e}");
        }
        let big = vec![b' '; MAX_BODY_BYTES + 1];
        assert_eq!(
            GenerateSpec::parse(&big, 10).unwrap_err(),
            SpecError::TooLarge
        );
    }
}

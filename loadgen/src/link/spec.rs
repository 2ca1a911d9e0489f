//! What a `--link` value says: round-trip time, jitter and per-connection bandwidth each
//! way, written as `rtt=100ms,jitter=10ms,down=1.6mbit,up=750kbit`, a bare delay (`100ms`,
//! meaning `rtt=`), `0`/`none` (no emulation) or a preset name (`fast-3g`), optionally
//! followed by keys that override the preset's (`fast-3g,jitter=20ms`).
//!
//! Keys, preset names and units are case-insensitive. Delays take `us`, `ms` or `s`
//! (decimals allowed: `1.5s`); a bare `0` is the only delay without a unit. Bandwidths take
//! bits per second (`bit`, `kbit`, `mbit`, `gbit`, powers of 1000, as tc and browsers count)
//! or bytes per second (`byte`, `kbyte`, `mbyte`, `gbyte`); a bandwidth without a unit is an
//! error, since `down=1000` could mean bits or bytes.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use super::presets::{self, PRESETS};
use super::rate::Rate;

/// The valid forms, appended to every parse error so that one line says what to write.
pub const HELP: &str = "valid: rtt=DELAY, jitter=DELAY, down=RATE, up=RATE (DELAY like 100ms \
                        or 1.5s, RATE like 750kbit or 1.6mbit), a bare DELAY for rtt, 0 or \
                        none, or a preset: slow-3g, fast-3g, slow-4g, fast-4g, dsl, satellite";

/// The longest delay accepted (a typo guard: an hour-long RTT measures nothing).
pub const MAX_DELAY: Duration = Duration::from_secs(600);

/// A malformed `--link` value; its text is one line that ends with [`HELP`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkSpecError {
    #[error("the link is empty; {HELP}")]
    Empty,
    #[error("unknown key '{key}' in link item '{item}'; {HELP}")]
    UnknownKey { key: String, item: String },
    #[error("'{name}' is neither a delay nor a preset; {HELP}")]
    UnknownPreset { name: String },
    #[error("a preset must come first ('{name}' follows other items); {HELP}")]
    PresetNotFirst { name: String },
    #[error("'{item}': a delay cannot be negative; {HELP}")]
    NegativeDelay { item: String },
    #[error("'{item}': a delay needs a unit (us, ms or s); {HELP}")]
    DelayWithoutUnit { item: String },
    #[error("'{item}' is not a delay; {HELP}")]
    BadDelay { item: String },
    #[error("'{item}' is longer than the 600 s a link delay may be; {HELP}")]
    DelayTooLong { item: String },
    #[error(
        "'{item}': a bandwidth needs a unit (kbit, mbit, gbit or kbyte, mbyte per second); {HELP}"
    )]
    RateWithoutUnit { item: String },
    #[error("'{item}' is not a bandwidth (a positive number and a unit); {HELP}")]
    BadRate { item: String },
    #[error("'{key}' is given twice; {HELP}")]
    Duplicate { key: String },
}

/// One emulated link: the same for every connection that goes through it, each connection
/// getting its own delay lines and its own bandwidth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LinkSpec {
    /// Round-trip time; each direction delays by half of it.
    pub rtt: Duration,
    /// Extra one-way delay drawn uniformly from `0..=jitter` per segment, never reordering
    /// bytes (a segment never arrives before the one sent ahead of it).
    pub jitter: Duration,
    /// Bandwidth server to client, per connection; `None` = unlimited.
    pub down: Option<Rate>,
    /// Bandwidth client to server, per connection; `None` = unlimited.
    pub up: Option<Rate>,
    /// The preset the spec started from, if any (for labels; the numbers above rule).
    pub preset: Option<&'static str>,
}

impl LinkSpec {
    /// No emulation: connections go straight to the server.
    pub const fn none() -> LinkSpec {
        LinkSpec {
            rtt: Duration::ZERO,
            jitter: Duration::ZERO,
            down: None,
            up: None,
            preset: None,
        }
    }

    /// True when the spec changes nothing (`0`, `none`, `rtt=0`): the caller may connect
    /// directly instead of through the emulator.
    pub fn is_none(&self) -> bool {
        self.rtt.is_zero() && self.jitter.is_zero() && self.down.is_none() && self.up.is_none()
    }

    /// The one-way delay before jitter: half the RTT.
    pub fn one_way(&self) -> Duration {
        self.rtt / 2
    }

    /// A short label: the preset's name when the spec is exactly a preset, else the
    /// canonical form.
    pub fn label(&self) -> String {
        match self.preset.and_then(presets::find) {
            Some(p) if self.is_preset(p) => p.name.to_string(),
            _ => self.to_string(),
        }
    }

    fn is_preset(&self, p: &presets::Preset) -> bool {
        self.rtt == p.rtt
            && self.jitter.is_zero()
            && self.down == Some(p.down)
            && self.up == Some(p.up)
    }

    fn from_preset(p: &presets::Preset) -> LinkSpec {
        LinkSpec {
            rtt: p.rtt,
            jitter: Duration::ZERO,
            down: Some(p.down),
            up: Some(p.up),
            preset: Some(p.name),
        }
    }
}

impl fmt::Display for LinkSpec {
    /// The canonical form, which parses back to the same numbers:
    /// `rtt=150ms,down=1.44mbit,up=675kbit`, or `none`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_none() {
            return f.write_str("none");
        }
        let mut parts = vec![format!("rtt={}", DelayFmt(self.rtt))];
        if !self.jitter.is_zero() {
            parts.push(format!("jitter={}", DelayFmt(self.jitter)));
        }
        if let Some(r) = self.down {
            parts.push(format!("down={r}"));
        }
        if let Some(r) = self.up {
            parts.push(format!("up={r}"));
        }
        f.write_str(&parts.join(","))
    }
}

/// As its [`LinkSpec::label`] (a preset's name, or the canonical form): how a link is kept
/// in a manifest, a scenario file or a worker's plan.
impl serde::Serialize for LinkSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.label())
    }
}

impl<'de> serde::Deserialize<'de> for LinkSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A delay in the largest unit that keeps it whole: `600ms`, `1s`, `250us`.
struct DelayFmt(Duration);

impl fmt::Display for DelayFmt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let us = self.0.as_micros();
        if us == 0 {
            f.write_str("0")
        } else if us % 1_000_000 == 0 {
            write!(f, "{}s", us / 1_000_000)
        } else if us % 1000 == 0 {
            write!(f, "{}ms", us / 1000)
        } else {
            write!(f, "{us}us")
        }
    }
}

impl FromStr for LinkSpec {
    type Err = LinkSpecError;

    fn from_str(s: &str) -> Result<LinkSpec, LinkSpecError> {
        let lower = s.trim().to_ascii_lowercase();
        if lower.is_empty() {
            return Err(LinkSpecError::Empty);
        }
        if lower == "none" || lower == "off" {
            return Ok(LinkSpec::none());
        }
        let mut spec = LinkSpec::none();
        let mut seen: Vec<&str> = Vec::new();
        for (i, item) in lower.split(',').map(str::trim).enumerate() {
            if item.is_empty() {
                return Err(LinkSpecError::Empty);
            }
            let (key, value) = match item.split_once('=') {
                Some((k, v)) => (k.trim(), v.trim()),
                None => match bare(item, i)? {
                    Bare::Preset(p) => {
                        spec = LinkSpec::from_preset(p);
                        continue;
                    }
                    Bare::Delay => ("rtt", item),
                },
            };
            if seen.contains(&key) {
                return Err(LinkSpecError::Duplicate {
                    key: key.to_string(),
                });
            }
            match key {
                "rtt" => spec.rtt = parse_delay(value, item)?,
                "jitter" => spec.jitter = parse_delay(value, item)?,
                "down" => spec.down = Some(parse_rate(value, item)?),
                "up" => spec.up = Some(parse_rate(value, item)?),
                _ => {
                    return Err(LinkSpecError::UnknownKey {
                        key: key.to_string(),
                        item: item.to_string(),
                    });
                }
            }
            seen.push(key);
        }
        Ok(spec)
    }
}

/// What an item without `=` is.
enum Bare {
    Preset(&'static presets::Preset),
    Delay,
}

/// Classifies the bare item at position `index`: a preset (first only) or a delay.
fn bare(item: &str, index: usize) -> Result<Bare, LinkSpecError> {
    if let Some(p) = presets::find(item) {
        if index > 0 {
            return Err(LinkSpecError::PresetNotFirst {
                name: item.to_string(),
            });
        }
        return Ok(Bare::Preset(p));
    }
    let starts_like_number = item
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_digit() || c == '.' || c == '-' || c == '+');
    if starts_like_number {
        Ok(Bare::Delay)
    } else {
        Err(LinkSpecError::UnknownPreset {
            name: item.to_string(),
        })
    }
}

/// Splits `text` into a number and the unit that follows it.
fn number_and_unit(text: &str) -> Option<(f64, &str)> {
    let end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
        .unwrap_or(text.len());
    let (num, unit) = text.split_at(end);
    let n: f64 = num.parse().ok()?;
    n.is_finite().then_some((n, unit.trim()))
}

/// `100ms`, `1.5s`, `250us`, `0` (the only delay without a unit).
fn parse_delay(value: &str, item: &str) -> Result<Duration, LinkSpecError> {
    let bad = || LinkSpecError::BadDelay {
        item: item.to_string(),
    };
    let (n, unit) = number_and_unit(value).ok_or_else(bad)?;
    if n < 0.0 {
        return Err(LinkSpecError::NegativeDelay {
            item: item.to_string(),
        });
    }
    let scale = match unit {
        "" if n == 0.0 => 0.0,
        "" => {
            return Err(LinkSpecError::DelayWithoutUnit {
                item: item.to_string(),
            });
        }
        "us" | "µs" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        _ => return Err(bad()),
    };
    let secs = n * scale;
    if secs > MAX_DELAY.as_secs_f64() {
        return Err(LinkSpecError::DelayTooLong {
            item: item.to_string(),
        });
    }
    Ok(Duration::from_micros((secs * 1e6).round() as u64))
}

/// `750kbit`, `1.6mbit`, `1gbit`, `100kbyte` (bytes per second); never without a unit.
fn parse_rate(value: &str, item: &str) -> Result<Rate, LinkSpecError> {
    let bad = || LinkSpecError::BadRate {
        item: item.to_string(),
    };
    let (n, unit) = number_and_unit(value).ok_or_else(bad)?;
    let bits_per_unit = match unit {
        "" => {
            return Err(LinkSpecError::RateWithoutUnit {
                item: item.to_string(),
            });
        }
        "bit" => 1.0,
        "kbit" => 1e3,
        "mbit" => 1e6,
        "gbit" => 1e9,
        "byte" => 8.0,
        "kbyte" => 8e3,
        "mbyte" => 8e6,
        "gbyte" => 8e9,
        _ => return Err(bad()),
    };
    let bits = (n * bits_per_unit).round();
    // Below 1 bit/s is zero or negative; above 1 tbit/s is a typo.
    if !(1.0..=1e12).contains(&bits) {
        return Err(bad());
    }
    Ok(Rate::from_bits_per_s(bits as u64))
}

/// Parses a list of links (`pushbench sweep --links`): items separated by `;`, or, when
/// every comma-separated item is a single bare word (a delay, a preset, `0`, `none`), by
/// `,` (`0,20ms,100ms,fast-3g`). Anything else is one link (`rtt=100ms,down=1mbit`).
pub fn parse_link_list(s: &str) -> Result<Vec<LinkSpec>, LinkSpecError> {
    let items: Vec<&str> = if s.contains(';') {
        s.split(';').collect()
    } else if s.split(',').all(|i| !i.contains('=')) {
        s.split(',').collect()
    } else {
        vec![s]
    };
    items.into_iter().map(str::parse).collect()
}

/// The preset names, in order (what [`HELP`] lists).
pub fn preset_names() -> impl Iterator<Item = &'static str> {
    PRESETS.iter().map(|p| p.name)
}

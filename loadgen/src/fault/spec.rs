//! What `--fault` says: `drop=10s` (each client's connection reset at a seeded random moment
//! in every 10 s), `restart-server=5s` (the child server killed and started again 5 s into
//! the window), `idle-cut=30s` (an intermediary closes any connection that carried no byte
//! for 30 s), `stall-reader=N` or `stall-reader=N:5s` (N clients of each technique stop
//! reading their socket for a while), `restart-broker=5s` (the child broker of `--broker`
//! stopped and started again 5 s into the window). Several faults: repeat the flag or separate them with
//! commas. And what `--recovery` says: how the clients come back (docs/FAULTS.md).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// The valid forms, appended to every parse error so that one line says what to write.
pub const HELP: &str = "valid: drop=INTERVAL, restart-server=AT, restart-broker=AT, idle-cut=IDLE, \
                        stall-reader=N or stall-reader=N:DURATION (durations like 500ms, 5s, 2m)";

/// A drop interval must be at least this: a client's longest reconnect time (the first retry
/// waits 100 ms; an EventSource waits the stream's `retry:`, 2 s from pushbench's server).
pub const MIN_DROP: Duration = Duration::from_secs(2);
/// How long a stalled reader stops reading when the spec does not say.
pub const DEFAULT_STALL: Duration = Duration::from_secs(5);

/// A malformed `--fault` value; its text is one line ending with [`HELP`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FaultSpecError {
    #[error("unknown fault '{name}'; {HELP}")]
    Unknown { name: String },
    #[error("'{item}' needs a value; {HELP}")]
    NoValue { item: String },
    #[error("'{item}': '{value}' is not a duration; {HELP}")]
    BadDuration { item: String, value: String },
    #[error("'{item}': '{value}' is not a number of clients (1 or more); {HELP}")]
    BadCount { item: String, value: String },
    #[error(
        "'{item}': a drop interval must be at least {}s, a client's reconnect time (an \
         EventSource waits the stream's retry:)",
        MIN_DROP.as_secs()
    )]
    DropTooShort { item: String },
    #[error("'{item}': {what} must be more than 0; {HELP}")]
    Zero { item: String, what: &'static str },
    #[error("'{name}' is given twice; {HELP}")]
    Duplicate { name: String },
}

/// Some clients stop reading their socket (slow consumers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stall {
    /// Clients of each technique that stall.
    pub clients: u32,
    /// How long each stops reading.
    pub duration: Duration,
}

/// Every fault of a run; all `None`: no faults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FaultSpec {
    /// Each client's connection is reset once at a random moment in every such interval.
    pub drop: Option<Duration>,
    /// The child server is killed and restarted this long into each technique's window.
    pub restart_server: Option<Duration>,
    /// The child broker (`--broker`) is stopped and started again this long into each
    /// technique's window (gracefully: its data persists).
    pub restart_broker: Option<Duration>,
    /// A connection that carried no byte for this long is closed by the intermediary.
    pub idle_cut: Option<Duration>,
    pub stall_reader: Option<Stall>,
}

impl FaultSpec {
    /// Whether any fault is set.
    pub fn any(&self) -> bool {
        *self != FaultSpec::default()
    }
    /// Whether a fault acts on the clients' connections (all but the restart).
    pub fn on_connections(&self) -> bool {
        self.drop.is_some() || self.idle_cut.is_some() || self.stall_reader.is_some()
    }

    /// Parses every `--fault` value (each may hold several, comma-separated).
    pub fn parse_all<S: AsRef<str>>(values: &[S]) -> Result<FaultSpec, FaultSpecError> {
        let mut spec = FaultSpec::default();
        for v in values {
            for item in v
                .as_ref()
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
            {
                spec.add(item)?;
            }
        }
        Ok(spec)
    }

    fn add(&mut self, item: &str) -> Result<(), FaultSpecError> {
        let (name, value) = item.split_once('=').map_or((item, ""), |(n, v)| (n, v));
        let name = name.trim().to_ascii_lowercase();
        let value = value.trim();
        let known = [
            "drop",
            "restart-server",
            "restart-broker",
            "idle-cut",
            "stall-reader",
        ];
        if !known.contains(&name.as_str()) {
            return Err(FaultSpecError::Unknown { name });
        }
        if value.is_empty() {
            return Err(FaultSpecError::NoValue { item: item.into() });
        }
        let taken = match name.as_str() {
            "drop" => self.drop.is_some(),
            "restart-server" => self.restart_server.is_some(),
            "restart-broker" => self.restart_broker.is_some(),
            "idle-cut" => self.idle_cut.is_some(),
            _ => self.stall_reader.is_some(),
        };
        if taken {
            return Err(FaultSpecError::Duplicate { name });
        }
        let dur = |v: &str, what: &'static str| -> Result<Duration, FaultSpecError> {
            let d = humantime::parse_duration(v).map_err(|_| FaultSpecError::BadDuration {
                item: item.into(),
                value: v.into(),
            })?;
            if d.is_zero() {
                return Err(FaultSpecError::Zero {
                    item: item.into(),
                    what,
                });
            }
            Ok(d)
        };
        match name.as_str() {
            "drop" => {
                let d = dur(value, "the interval")?;
                if d < MIN_DROP {
                    return Err(FaultSpecError::DropTooShort { item: item.into() });
                }
                self.drop = Some(d);
            }
            "restart-server" => {
                // 0 is allowed here: at the very start of the window.
                self.restart_server = Some(humantime::parse_duration(value).map_err(|_| {
                    FaultSpecError::BadDuration {
                        item: item.into(),
                        value: value.into(),
                    }
                })?);
            }
            "restart-broker" => {
                self.restart_broker = Some(humantime::parse_duration(value).map_err(|_| {
                    FaultSpecError::BadDuration {
                        item: item.into(),
                        value: value.into(),
                    }
                })?);
            }
            "idle-cut" => self.idle_cut = Some(dur(value, "the idle time")?),
            _ => {
                let (n, d) = value
                    .split_once(':')
                    .map_or((value, None), |(n, d)| (n, Some(d)));
                let clients = n
                    .trim()
                    .parse::<u32>()
                    .ok()
                    .filter(|&c| c > 0)
                    .ok_or_else(|| FaultSpecError::BadCount {
                        item: item.into(),
                        value: n.into(),
                    })?;
                let duration = match d {
                    Some(d) => dur(d.trim(), "the stall")?,
                    None => DEFAULT_STALL,
                };
                self.stall_reader = Some(Stall { clients, duration });
            }
        }
        Ok(())
    }
}

/// The canonical label: `drop=5s,restart-server=5s,idle-cut=30s,stall-reader=10:5s`; `none`.
impl fmt::Display for FaultSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = |d: Duration| humantime::format_duration(d).to_string().replace(' ', "");
        let mut parts = Vec::new();
        if let Some(x) = self.drop {
            parts.push(format!("drop={}", d(x)));
        }
        if let Some(x) = self.restart_server {
            parts.push(format!("restart-server={}", d(x)));
        }
        if let Some(x) = self.restart_broker {
            parts.push(format!("restart-broker={}", d(x)));
        }
        if let Some(x) = self.idle_cut {
            parts.push(format!("idle-cut={}", d(x)));
        }
        if let Some(s) = self.stall_reader {
            parts.push(format!("stall-reader={}:{}", s.clients, d(s.duration)));
        }
        if parts.is_empty() {
            return f.write_str("none");
        }
        f.write_str(&parts.join(","))
    }
}

/// How a client comes back after its connection breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Recovery {
    /// Every technique resumes from its cursor (the id of the last message it received).
    #[default]
    Resuming,
    /// The seed's browser code: polls re-issue their request (same cursor), EventSource
    /// reconnects after `retry:` with `Last-Event-ID`, a stream and a WebSocket reopen
    /// without a cursor (from now on).
    Classic,
}

impl Recovery {
    pub fn name(self) -> &'static str {
        match self {
            Recovery::Resuming => "resuming",
            Recovery::Classic => "classic",
        }
    }
}

impl FromStr for Recovery {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "resuming" => Ok(Recovery::Resuming),
            "classic" => Ok(Recovery::Classic),
            _ => Err(format!("unknown recovery '{s}'; valid: resuming, classic")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: &[&str]) -> Result<FaultSpec, FaultSpecError> {
        FaultSpec::parse_all(v)
    }

    #[test]
    fn parses_every_fault_and_prints_it_back() {
        let s = parse(&[
            "drop=10s,idle-cut=30s",
            "restart-server=5s",
            "stall-reader=3",
        ])
        .unwrap();
        assert_eq!(s.drop, Some(Duration::from_secs(10)));
        assert_eq!(s.idle_cut, Some(Duration::from_secs(30)));
        assert_eq!(s.restart_server, Some(Duration::from_secs(5)));
        assert_eq!(
            s.stall_reader,
            Some(Stall {
                clients: 3,
                duration: DEFAULT_STALL
            })
        );
        assert_eq!(
            s.to_string(),
            "drop=10s,restart-server=5s,idle-cut=30s,stall-reader=3:5s"
        );
        assert_eq!(parse(&[&s.to_string()]).unwrap(), s);
        assert_eq!(FaultSpec::default().to_string(), "none");
        assert!(!FaultSpec::default().any());
        let st = parse(&["stall-reader=2:1500ms"])
            .unwrap()
            .stall_reader
            .unwrap();
        assert_eq!(st.duration, Duration::from_millis(1500));
    }

    #[test]
    fn bad_faults_say_what_is_wrong_in_one_line() {
        let e = |v: &str| parse(&[v]).unwrap_err().to_string();
        assert!(
            e("flood=3s").starts_with("unknown fault 'flood'"),
            "{}",
            e("flood=3s")
        );
        assert!(e("drop").contains("needs a value"));
        assert!(e("drop=abc").contains("not a duration"));
        assert!(e("drop=500ms").contains("at least 2s, a client's reconnect time"));
        assert!(e("drop=1999ms").contains("reconnect time"));
        assert!(parse(&["drop=2s"]).is_ok());
        assert!(e("idle-cut=0s").contains("more than 0"));
        assert!(e("stall-reader=0").contains("number of clients"));
        assert!(e("stall-reader=x:1s").contains("number of clients"));
        assert!(e("drop=5s,drop=6s").contains("twice"));
        for v in ["flood=3s", "drop", "drop=500ms", "stall-reader=0"] {
            assert!(!e(v).contains('\n'));
        }
    }

    #[test]
    fn recovery_names() {
        assert_eq!("classic".parse::<Recovery>(), Ok(Recovery::Classic));
        assert_eq!(Recovery::default().name(), "resuming");
        assert!("lazy".parse::<Recovery>().is_err());
    }
}

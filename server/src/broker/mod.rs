//! Topics shared over a real broker (`pushbench serve --broker URL`): any number of server
//! instances, on one machine or many, share topics, sequence numbers and retention through
//! Redis or NATS instead of the supervisor's relay.
//!
//! The broker is the one place where a topic's sequence numbers are assigned and its retained
//! messages kept; every instance receives every message (with its seq) and inserts it into its
//! own hub, from which its clients are served exactly as by a single process. So a client may
//! resume on any instance: a cursor ahead of the instance's hub is filled from the broker's
//! retention first (see [`Broker::sync`]).
//!
//! Modules: this one (the URL, the [`Backend`] every broker implements, what flows from it),
//! `instance` (an instance's side, [`Broker`]: publishing, the feed into the hub, catching up
//! after a jump or a reconnect, the status `/stats` shows), `redis` and `nats` (the backends),
//! `process` (a real broker as a child process, for tests and `pushbench run --broker`).

pub mod instance;
pub mod nats;
pub mod process;
pub mod redis;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use tokio::sync::mpsc;

pub use instance::Broker;

/// Which broker (also what `pushbench run --broker redis|nats` takes, and how run
/// directories name it: `redis`, `nats`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Redis,
    Nats,
}

impl Kind {
    /// The URL scheme and the name `/stats` uses.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Redis => "redis",
            Kind::Nats => "nats",
        }
    }
}

/// A broker's address, `redis://HOST:PORT` or `nats://HOST:PORT` (`--broker`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerUrl {
    pub kind: Kind,
    pub host: String,
    pub port: u16,
}

impl BrokerUrl {
    /// The URL the backend's client crate is given.
    pub fn url(&self) -> String {
        format!(
            "{}://{}:{}",
            self.kind.name(),
            self.host_for_url(),
            self.port
        )
    }

    fn host_for_url(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        }
    }
}

impl fmt::Display for BrokerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url())
    }
}

impl FromStr for BrokerUrl {
    type Err = String;

    /// `redis://HOST[:PORT]` (6379) or `nats://HOST[:PORT]` (4222); HOST a name, an IPv4
    /// address or a bracketed IPv6 one. Nothing after the port (no path, user or query).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad =
            |why: &str| format!("'{s}': {why} (expected redis://HOST:PORT or nats://HOST:PORT)");
        let (scheme, rest) = s.split_once("://").ok_or_else(|| bad("no scheme"))?;
        let kind = match scheme.to_ascii_lowercase().as_str() {
            "redis" => Kind::Redis,
            "nats" => Kind::Nats,
            other => return Err(bad(&format!("unknown scheme '{other}'"))),
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['/', '@', '?', '#']) {
            return Err(bad("only a host and a port may follow the scheme"));
        }
        let default_port = match kind {
            Kind::Redis => 6379,
            Kind::Nats => 4222,
        };
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or_else(|| bad("unclosed '['"))?;
            match after {
                "" => (h.to_string(), None),
                p => (
                    h.to_string(),
                    Some(p.strip_prefix(':').ok_or_else(|| bad("junk after ']'"))?),
                ),
            }
        } else {
            match rest.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (rest.to_string(), None),
            }
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let port = match port {
            None => default_port,
            Some(p) => match p.parse::<u16>() {
                Ok(p) if p > 0 => p,
                _ => return Err(bad(&format!("'{p}' is not a port"))),
            },
        };
        Ok(BrokerUrl { kind, host, port })
    }
}

/// One message as the broker holds it: its topic, the seq the broker assigned, its event
/// name and payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub topic: String,
    pub seq: u64,
    pub event: Option<String>,
    pub data: String,
}

/// What a backend's subscription reports to its instance, in order.
#[derive(Debug)]
pub enum Feed {
    /// A message of some topic, as published (messages of one topic arrive in seq order,
    /// though some may be missing after a loss).
    Message(Delivery),
    /// The subscription is live again after [`Feed::Lost`] (it resubscribed itself): messages
    /// published while it was lost were not delivered and must be fetched ([`Backend::since`]).
    Connected,
    /// The connection to the broker is lost; the backend keeps trying to reconnect.
    Lost(String),
}

/// What a topic holds on the broker after a cursor.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Retained {
    /// Retained messages with seq above the cursor, oldest first (contiguous).
    pub messages: Vec<Delivery>,
    /// The topic's newest seq on the broker (0: nothing published there).
    pub latest: u64,
}

/// Why a broker operation failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum BrokerError {
    /// No connection (at start: nothing answers there; later: lost, reconnecting).
    #[error("broker {url} unreachable: {why}")]
    Unreachable { url: String, why: String },
    /// The broker answered, but not as expected (wrong server, refused command, bad data).
    #[error("broker {url}: {why}")]
    Protocol { url: String, why: String },
    /// The broker did not answer in time.
    #[error("broker {url} did not answer within {secs} s")]
    Timeout { url: String, secs: u64 },
}

/// A broker as an instance uses it. Every method may be called from many tasks at once.
///
/// The subscription is the backend's own: [`connect`] starts it, and it sends every message
/// published to any topic of the namespace (by any instance) into the channel it was given,
/// with [`Feed::Lost`] / [`Feed::Connected`] around a loss of the connection. The channel is
/// bounded: when the instance is slow, the backend waits (the broker then buffers or cuts
/// the subscriber, which is a loss like any other).
pub trait Backend: fmt::Debug + Send + Sync {
    /// Gives `data` the topic's next seq, retains it (the newest `--retention` messages of a
    /// topic are kept) and publishes it to every instance; returns the seq. Sequence numbers
    /// of a topic are contiguous from 1 and never reused, whichever instance publishes.
    fn publish<'a>(
        &'a self,
        topic: &'a str,
        event: Option<&'a str>,
        data: &'a str,
    ) -> BoxFuture<'a, Result<u64, BrokerError>>;

    /// The retained messages of `topic` with seq above `after`, and its newest seq.
    fn since<'a>(
        &'a self,
        topic: &'a str,
        after: u64,
    ) -> BoxFuture<'a, Result<Retained, BrokerError>>;

    /// Makes sure the topic's next seq is above `seq` (a broker that lost its state, restarted
    /// empty, must not issue ids the instances already gave out). Does nothing when the
    /// broker's newest seq is already `seq` or more.
    fn raise<'a>(&'a self, topic: &'a str, seq: u64) -> BoxFuture<'a, Result<(), BrokerError>>;
}

/// What [`connect`] needs besides the URL.
#[derive(Debug, Clone)]
pub struct Options {
    /// Prefix of every key or subject, so that several servers can share one broker.
    pub namespace: String,
    /// Messages retained per topic (`--retention`).
    pub retention: u64,
    /// Largest payload (`--max-payload-bytes`).
    pub max_payload_bytes: usize,
}

/// Connects to the broker at `url` and starts the subscription feeding `feed`. Fails (rather
/// than retrying) when the broker cannot be reached or is not what the URL says, so a server
/// with a bad `--broker` never starts.
pub async fn connect(
    url: &BrokerUrl,
    options: &Options,
    feed: mpsc::Sender<Feed>,
) -> Result<Arc<dyn Backend>, BrokerError> {
    match url.kind {
        Kind::Redis => Ok(Arc::new(redis::Redis::connect(url, options, feed).await?)),
        Kind::Nats => Ok(Arc::new(nats::Nats::connect(url, options, feed).await?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse() {
        let u: BrokerUrl = "redis://127.0.0.1:6380".parse().unwrap();
        assert_eq!(
            (u.kind, u.host.as_str(), u.port),
            (Kind::Redis, "127.0.0.1", 6380)
        );
        let u: BrokerUrl = "nats://localhost".parse().unwrap();
        assert_eq!((u.kind, u.port), (Kind::Nats, 4222));
        let u: BrokerUrl = "redis://[::1]:7000/".parse().unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 7000));
        assert_eq!(u.to_string(), "redis://[::1]:7000");
        assert_eq!("REDIS://h".parse::<BrokerUrl>().unwrap().port, 6379);
    }

    #[test]
    fn bad_urls_say_why() {
        for (s, why) in [
            ("127.0.0.1:6379", "no scheme"),
            ("http://h:1", "unknown scheme 'http'"),
            ("redis://:6379", "no host"),
            ("redis://h:0", "not a port"),
            ("redis://h:99999", "not a port"),
            ("redis://h:x", "not a port"),
            ("redis://user:pw@h:1", "only a host and a port"),
            ("nats://h:1/db", "only a host and a port"),
            ("redis://[::1", "unclosed"),
        ] {
            let e = s.parse::<BrokerUrl>().unwrap_err();
            assert!(e.contains(why), "{s}: {e}");
            assert!(e.contains("redis://HOST:PORT"), "{e}");
            assert!(!e.contains('\n'));
        }
    }
}

//! The options of `pushbench serve` (`ServeArgs`), parsed by clap, with their defaults.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Options of `pushbench serve`: one push server offering every technique on one port.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on, ADDR:PORT. Port 0 picks a free port; the first line printed is
    /// always `listening on http://ADDR:PORT` with the real port (`https://` with `--tls`).
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Messages kept per topic (newest first) so pollers and reconnecting clients can catch up.
    #[arg(long, value_name = "MESSAGES", default_value_t = 1024,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub retention: u64,

    /// How long a long poll is held when nothing new exists (a request may override it with
    /// `?timeout=MS`). Units: ms, s, m (e.g. `500ms`, `30s`, `2m`).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub long_poll_timeout: Duration,

    /// Heartbeat interval: SSE comment lines, empty NDJSON lines on streams, WebSocket pings.
    /// Slow-reader checks run on the same tick. Units: ms, s, m.
    #[arg(long, value_name = "DURATION", default_value = "15s", value_parser = parse_duration)]
    pub heartbeat: Duration,

    /// Most TCP connections open at once; over it a connection gets `503` with `Retry-After: 1`
    /// and is closed. Keep it under the process's file-descriptor limit.
    #[arg(long, value_name = "CONNECTIONS", default_value_t = 16000,
          value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub max_connections: u64,

    /// Largest accepted publish body, in bytes; larger: `413`.
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 20)]
    pub max_payload_bytes: usize,

    /// How many messages a subscriber (stream, SSE, WebSocket) may fall behind before it is
    /// disconnected (counted as a slow disconnect); it then resumes from its cursor.
    #[arg(long, value_name = "MESSAGES", default_value_t = 256,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub subscriber_queue: u64,

    /// A topic with at least this many subscribers fans its messages out directly: one task
    /// per core writes each message (or each batch of messages that came at once) to the SSE
    /// and stream sockets that are caught up, instead of waking every subscriber's task. A
    /// socket that would block goes back to its own task. 0 turns it off (docs/PERFORMANCE.md).
    #[arg(long, value_name = "SUBSCRIBERS", default_value_t = 16)]
    pub direct_fanout_min: u64,

    /// Internal publisher for the demo page: messages per second to `--publish-topic`
    /// (0 = off). Payloads use the load generator's `pb1` header, so latency can be measured.
    #[arg(long, value_name = "MSGS_PER_S", default_value_t = 0.0)]
    pub publish_rate: f64,

    /// Size of each internal publisher payload, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 64)]
    pub payload_bytes: usize,

    /// Topic the internal publisher writes to.
    #[arg(long, value_name = "TOPIC", default_value = "demo")]
    pub publish_topic: String,

    /// Set SO_REUSEPORT on the listening socket so several independent `pushbench serve`
    /// processes can share one port (the kernel spreads new connections over them; each keeps
    /// its own topics and counters). `--processes N` does this for you and keeps the processes'
    /// topics in step.
    #[arg(long)]
    pub reuse_port: bool,

    /// Allow cross-origin requests from ORIGIN (`*` for any): every answer carries
    /// `Access-Control-Allow-Origin`, preflights are answered. Off by default.
    #[arg(long, value_name = "ORIGIN")]
    pub allow_origin: Option<String>,

    /// Most topics the server holds; a request that would create one more gets `503`.
    #[arg(long, value_name = "TOPICS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub max_topics: u64,

    /// A connection that has not sent a complete request head within this time is closed
    /// (a connect-and-say-nothing client, or a keep-alive connection idle between requests).
    /// Open streams and held long polls are not affected. Also bounds a TLS handshake, and
    /// closes an HTTP/2 connection with no request open that wrote nothing meanwhile.
    /// Units: ms, s, m.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub header_read_timeout: Duration,

    /// A publish whose whole body has not arrived within this time of its head is answered
    /// `408` and its connection closed, freeing what was buffered (a client that declares a
    /// large body and stalls, or sends `Expect: 100-continue` and no body). Units: ms, s, m.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub body_read_timeout: Duration,

    /// Most bytes of publish bodies buffered at once, all connections together (at least
    /// `--max-payload-bytes`). A publish that would go over it gets `503` with `Retry-After: 1`.
    #[arg(long, value_name = "BYTES", default_value_t = 64 << 20)]
    pub body_buffer_bytes: usize,

    /// Run as N processes sharing the port (SO_REUSEPORT): a supervisor assigns sequence
    /// numbers and relays every message to every process, so each subscriber gets every
    /// message of its topic with the same ids on any process. `--max-connections` is per
    /// process. Use it past ~19,000 connections (the per-process descriptor limit).
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=64))]
    pub processes: u32,

    /// Most concurrent streams (requests) on one HTTP/2 connection; a client that opens more
    /// waits for one to end (SETTINGS_MAX_CONCURRENT_STREAMS).
    #[arg(long, value_name = "STREAMS", default_value_t = 1000,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub h2_max_streams: u32,

    /// Serve TLS only on the port (ALPN `h2` and `http/1.1`). Without `--cert`/`--key` a
    /// self-signed certificate for localhost, 127.0.0.1, ::1 and the listen address is made at
    /// start; the second line printed names its PEM file (`certificate: FILE`), for clients.
    #[arg(long)]
    pub tls: bool,

    /// With `--tls`: the certificate chain to serve, PEM (implies `--tls`; needs `--key`).
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,

    /// With `--tls`: the private key of `--cert`, PEM (PKCS#8, PKCS#1 or SEC1).
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,

    /// With `--tls` and no `--cert`: where to write the generated certificate (PEM; its key
    /// goes next to it as FILE.key). Default: a new file under the OS temp directory, removed
    /// when the server stops.
    #[arg(long, value_name = "FILE", conflicts_with = "cert")]
    pub cert_out: Option<PathBuf>,

    /// Share topics, sequence numbers and retention with every other instance using this
    /// broker: `redis://HOST:PORT` (Redis pub/sub, with Lua for ids and a list per topic for
    /// retention) or `nats://HOST:PORT` (NATS with JetStream). Any number of `pushbench serve`
    /// instances, here or on other machines, then serve the same topics with the same ids,
    /// and a client may resume on any of them. With `--processes N` every process uses it.
    /// The broker must answer at start (else exit 1, nothing listens); lost later, publishes
    /// answer 503 until it is back (docs/SCALING.md).
    #[arg(long, value_name = "URL", value_parser = parse_broker)]
    pub broker: Option<crate::broker::BrokerUrl>,

    /// With `--broker`: the prefix of every key or subject this server uses on it, so that
    /// unrelated servers can share one broker (instances that share topics use the same).
    #[arg(long, value_name = "NAME", default_value = "pushbench", requires = "broker",
          value_parser = parse_namespace)]
    pub broker_namespace: String,

    /// Internal: run as child INDEX of a cluster whose supervisor listens on this Unix socket.
    #[arg(long, value_name = "SOCKET", hide = true)]
    pub cluster_child: Option<PathBuf>,

    /// Internal: this child's index in its cluster (with `--cluster-child`).
    #[arg(long, value_name = "INDEX", default_value_t = 0, hide = true)]
    pub cluster_index: u32,

    /// Testing only: serve `GET /debug/panic`, whose handler panics (to check that a panic
    /// stays inside its connection). Never enable it in production.
    #[arg(long, hide = true)]
    pub debug_panic_route: bool,
}

impl ServeArgs {
    /// What the broker backends need of these options (`--broker`).
    pub fn broker_options(&self) -> crate::broker::Options {
        crate::broker::Options {
            namespace: self.broker_namespace.clone(),
            retention: self.retention,
            max_payload_bytes: self.max_payload_bytes,
        }
    }

    /// The command-line options that make a cluster child serve exactly like this server on
    /// `listen` (SO_REUSEPORT), as child `index` of the supervisor at `socket`. The internal
    /// publisher stays in the supervisor (children get `--publish-rate 0`).
    pub fn child_args(&self, listen: SocketAddr, socket: &Path, index: u32) -> Vec<OsString> {
        let dur = |d: Duration| format!("{}us", d.as_micros().max(1));
        let mut a: Vec<OsString> = [
            "--listen".to_string(),
            listen.to_string(),
            "--reuse-port".to_string(),
            "--retention".to_string(),
            self.retention.to_string(),
            "--long-poll-timeout".to_string(),
            dur(self.long_poll_timeout),
            "--heartbeat".to_string(),
            dur(self.heartbeat),
            "--max-connections".to_string(),
            self.max_connections.to_string(),
            "--max-payload-bytes".to_string(),
            self.max_payload_bytes.to_string(),
            "--subscriber-queue".to_string(),
            self.subscriber_queue.to_string(),
            "--direct-fanout-min".to_string(),
            self.direct_fanout_min.to_string(),
            "--publish-rate".to_string(),
            // Over a broker the first child runs the internal publisher (the supervisor holds
            // no broker connection); otherwise the supervisor does.
            if self.broker.is_some() && index == 0 {
                self.publish_rate.to_string()
            } else {
                "0".to_string()
            },
            "--payload-bytes".to_string(),
            self.payload_bytes.to_string(),
            "--publish-topic".to_string(),
            self.publish_topic.clone(),
            "--max-topics".to_string(),
            self.max_topics.to_string(),
            "--header-read-timeout".to_string(),
            dur(self.header_read_timeout),
            "--body-read-timeout".to_string(),
            dur(self.body_read_timeout),
            "--body-buffer-bytes".to_string(),
            self.body_buffer_bytes.to_string(),
            "--cluster-index".to_string(),
            index.to_string(),
        ]
        .into_iter()
        .map(OsString::from)
        .collect();
        a.push("--h2-max-streams".into());
        a.push(self.h2_max_streams.to_string().into());
        if let Some(o) = &self.allow_origin {
            a.push("--allow-origin".into());
            a.push(o.into());
        }
        // The supervisor made or loaded the certificate once (`tls::prepare`): every child
        // serves the same one.
        if let (Some(cert), Some(key)) = (&self.cert, &self.key) {
            a.push("--cert".into());
            a.push(cert.as_os_str().to_owned());
            a.push("--key".into());
            a.push(key.as_os_str().to_owned());
        }
        if self.tls {
            a.push("--tls".into());
        }
        if let Some(b) = &self.broker {
            a.push("--broker".into());
            a.push(b.url().into());
            a.push("--broker-namespace".into());
            a.push(self.broker_namespace.clone().into());
        }
        if self.debug_panic_route {
            a.push("--debug-panic-route".into());
        }
        a.push("--cluster-child".into());
        a.push(socket.as_os_str().to_owned());
        a
    }
}

impl Default for ServeArgs {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            retention: 1024,
            long_poll_timeout: Duration::from_secs(30),
            heartbeat: Duration::from_secs(15),
            max_connections: 16000,
            max_payload_bytes: 1 << 20,
            subscriber_queue: 256,
            direct_fanout_min: 16,
            publish_rate: 0.0,
            payload_bytes: 64,
            publish_topic: "demo".to_string(),
            reuse_port: false,
            allow_origin: None,
            max_topics: 10_000,
            header_read_timeout: Duration::from_secs(30),
            body_read_timeout: Duration::from_secs(10),
            body_buffer_bytes: 64 << 20,
            processes: 1,
            h2_max_streams: 1000,
            tls: false,
            cert: None,
            key: None,
            cert_out: None,
            broker: None,
            broker_namespace: "pushbench".to_string(),
            cluster_child: None,
            cluster_index: 0,
            debug_panic_route: false,
        }
    }
}

fn parse_broker(s: &str) -> Result<crate::broker::BrokerUrl, String> {
    s.parse()
}

/// A namespace: 1 to 64 characters from `[A-Za-z0-9_-]` (a key prefix and a subject token).
fn parse_namespace(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
    if ok {
        Ok(s.to_string())
    } else {
        Err(format!("'{s}': 1 to 64 characters from [A-Za-z0-9_-]"))
    }
}

/// Parses a human duration (`500ms`, `5s`, `2m`); zero is refused.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("{e} (examples: 500ms, 5s, 2m)"))?;
    if d.is_zero() {
        return Err("must be greater than zero".to_string());
    }
    Ok(d)
}

#[cfg(test)]
mod tests;

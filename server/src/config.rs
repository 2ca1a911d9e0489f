//! The options of `pushbench serve` (`ServeArgs`), parsed by clap, with their defaults.

use std::net::SocketAddr;
use std::time::Duration;

/// Options of `pushbench serve`: one push server offering every technique on one port.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on, ADDR:PORT. Port 0 picks a free port; the first line printed is
    /// always `listening on http://ADDR:PORT` with the real port.
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

    /// Set SO_REUSEPORT on the listening socket so several `pushbench serve` processes can share
    /// one port (the kernel spreads new connections over them; each keeps its own counters).
    /// Use it past ~19,000 connections, the per-process descriptor limit.
    #[arg(long)]
    pub reuse_port: bool,

    /// Allow cross-origin requests from ORIGIN (`*` for any): every answer carries
    /// `Access-Control-Allow-Origin`, preflights are answered. Off by default.
    #[arg(long, value_name = "ORIGIN")]
    pub allow_origin: Option<String>,
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
            publish_rate: 0.0,
            payload_bytes: 64,
            publish_topic: "demo".to_string(),
            reuse_port: false,
            allow_origin: None,
        }
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

//! What every request of one technique shares ([`Plan`]): where the server is, the timeouts,
//! the request body, the recorders; how a request's connection is opened (counted at the
//! socket, as every technique's), its POST written, and an event's JSON read.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::recorder::ReqRecorder;
use crate::clients::{ClientError, HttpConn};
use crate::config::{Api, RequestParams};
use crate::net::{self, CountingStream};
use crate::stats::Recorder;
use crate::technique::Technique;

/// Longest SSE event, NDJSON line or long-poll answer accepted.
pub const MAX_EVENT: usize = 16 << 20;
/// How long a stream whose end marker came may take to end its response.
pub const END_GRACE: Duration = Duration::from_secs(1);

/// One technique's requests.
#[derive(Debug)]
pub struct Plan {
    pub technique: Technique,
    pub server: SocketAddr,
    /// `Host` header value.
    pub host: String,
    /// The target URL's path prefix ("" for none).
    pub prefix: String,
    /// Empty: the OS picks.
    pub source_addrs: Vec<Ipv4Addr>,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    pub params: RequestParams,
    /// The run's seed: with a request's index, the seed of its exponential gaps.
    pub seed: u64,
    pub rec: Arc<Recorder>,
    pub rr: Arc<ReqRecorder>,
}

impl Plan {
    /// The request path `path` below the target's prefix.
    pub fn path(&self, path: &str) -> String {
        format!("{}{path}", self.prefix)
    }

    /// The longest silence allowed on a stream: the read timeout, or longer when the schedule
    /// itself is quieter (a long first delay, gaps, the stall).
    pub fn quiet_limit(&self) -> Duration {
        let p = &self.params;
        let schedule = p.first_delay
            + p.interval.saturating_mul(10)
            + Duration::from_millis(p.stall.map_or(0, |(_, ms)| ms));
        self.read_timeout.max(schedule + Duration::from_secs(1))
    }

    /// Opens request `index`'s connection (counted in the technique's recorder) and records
    /// how long the connect took.
    pub async fn connect(&self, index: u64) -> Result<CountingStream, ClientError> {
        let source = (!self.source_addrs.is_empty()).then(|| {
            IpAddr::V4(self.source_addrs[(index % self.source_addrs.len() as u64) as usize])
        });
        let t0 = Instant::now();
        let s = net::connect(self.server, source, self.connect_timeout, &self.rec).await?;
        self.rec.record_connect(micros(t0.elapsed()));
        Ok(s)
    }

    /// [`Plan::connect`] as an HTTP/1.1 connection.
    pub async fn http(&self, index: u64) -> Result<HttpConn<CountingStream>, ClientError> {
        Ok(HttpConn::new(self.connect(index).await?))
    }

    /// The JSON body of request `index`: `/generate`'s, or an OpenAI chat completion's.
    pub fn body(&self, index: u64) -> Vec<u8> {
        let p = &self.params;
        let v = match &p.api {
            Api::OpenAi { model } => serde_json::json!({
                "model": model,
                "stream": true,
                "max_tokens": p.events,
                "messages": [{"role": "user", "content": format!(
                    "pushbench: stream {} tokens, please", p.events)}],
            }),
            Api::Generate => {
                let mut v = serde_json::json!({
                    "events": p.events,
                    "event_bytes": p.event_bytes,
                    "first_delay_ms": p.first_delay.as_secs_f64() * 1000.0,
                    "interval_ms": p.interval.as_secs_f64() * 1000.0,
                    "distribution": p.distribution,
                });
                if p.distribution == "exponential" {
                    v["seed"] = self.seed.wrapping_mul(1_000_003).wrapping_add(index).into();
                }
                if let Some((at, ms)) = p.stall {
                    v["stall"] = serde_json::json!({"at": at, "ms": ms});
                }
                v
            }
        };
        serde_json::to_vec(&v).unwrap_or_default()
    }

    /// Whether the events carry `pushbench.seq` (not an OpenAI server's).
    pub fn seq_numbers(&self) -> bool {
        self.params.api == Api::Generate
    }
}

/// The fields of an event (or an end marker) that request mode reads.
#[derive(Debug, Default, Deserialize)]
pub struct Wire {
    /// NDJSON's end marker `{"done":true}`.
    #[serde(default)]
    pub done: bool,
    #[serde(default)]
    pub pushbench: Option<Meta>,
}

/// An event's place in the server's schedule.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct Meta {
    pub seq: u64,
    pub due_us: u64,
}

/// Reads one event's JSON (any JSON object: an OpenAI server's chunks carry no `pushbench`).
pub fn parse_event(bytes: &[u8]) -> Result<Wire, ClientError> {
    serde_json::from_slice(bytes).map_err(|e| ClientError::Protocol(format!("bad event JSON: {e}")))
}

pub fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_and_markers_parse() {
        let w = parse_event(
            br#"{"id":"gen-1","choices":[{"delta":{"content":"ab"}}],"pushbench":{"seq":3,"due_us":17}}"#,
        )
        .unwrap();
        let m = w.pushbench.unwrap();
        assert_eq!((m.seq, m.due_us, w.done), (3, 17, false));
        assert!(parse_event(br#"{"done":true}"#).unwrap().done);
        assert!(
            parse_event(br#"{"choices":[]}"#)
                .unwrap()
                .pushbench
                .is_none()
        );
        assert!(parse_event(b"[DONE").is_err());
    }
}

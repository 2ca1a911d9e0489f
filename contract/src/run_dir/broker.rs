//! The broker of `pushbench run --broker redis|nats`, measured apart from the server, as
//! summary.json records it per technique in `broker` ([`BrokerFigures`]; docs/RUN_FORMAT.md).
//! `null` in a run without `--broker` (or written before it existed).

use serde::{Deserialize, Serialize};

use crate::stats::BrokerStatus;

/// The child broker's cost and traffic in one technique's measured window, and the final
/// broker object of the server's `/stats`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BrokerFigures {
    /// `redis` or `nats`.
    pub kind: String,
    /// The broker process's CPU seconds in the window (across a `restart-broker`: the old
    /// process's up to its stop plus the new one's). Not part of `server_cpu_s`.
    pub cpu_s: Option<f64>,
    /// `cpu_s` per million messages delivered to the clients in the window.
    pub cpu_s_per_million_deliveries: Option<f64>,
    /// The broker process's peak resident memory in the window (bytes).
    pub rss_peak_bytes: Option<u64>,
    /// Messages published into the broker per second in the window (NATS: `/varz`
    /// `in_msgs`; Redis: `PUBLISH`/`SPUBLISH` calls from `INFO commandstats`, scripts' calls
    /// included, or `XADD` calls when there are none).
    pub in_msgs_per_s: Option<f64>,
    /// Messages the broker sent to its subscribers per second in the window (NATS: `/varz`
    /// `out_msgs`; Redis, which does not count them: the messages the server's instances
    /// received from it, `/stats` `broker.received`).
    pub out_msgs_per_s: Option<f64>,
    /// `in_msgs_per_s + out_msgs_per_s`.
    pub messages_per_s: Option<f64>,
    /// Times the broker was stopped and started again in the window (`restart-broker`).
    pub restarts: u64,
    /// The server's `/stats` `broker` object at the technique's end (disconnects, gaps,
    /// backfilled, refused, ...); `null` if the server did not answer.
    pub status: Option<BrokerStatus>,
}

//! Request mode (`pushbench run --mode request`, docs/REQUEST.md): each client request asks
//! the server for a stream of events of its own, paced on the server's open schedule, as a chat
//! completion streams tokens (docs/PROTOCOL.md, `/generate`). Per technique: TTFT, gaps between
//! events (ITL), lateness against the schedule, end-to-end time, loss, and the server's cost
//! per event and memory per open stream.
//!
//! [`measure`] runs one technique's phases against its (fresh) server; [`driver`] makes the
//! requests arrive (closed or open model); [`recorder`] keeps the figures; one module per
//! technique's client ([`sse`], [`ndjson`], [`ws`], [`long_poll`]) and [`openai`] for an
//! OpenAI-compatible server. Their sockets are the counting ones of [`crate::net`], so bytes
//! on the wire are counted as for the broadcast clients.

pub mod driver;
mod exchange;
mod long_poll;
pub mod measure;
mod ndjson;
mod openai;
pub mod plan;
pub mod recorder;
mod sse;
mod ws;

use tokio_util::sync::CancellationToken;

use crate::clients::ClientError;
use crate::config::Api;
use crate::measure::NOT_OFFERED;
use crate::profile::Profile;
use crate::stats::ErrorKind;
use crate::technique::Technique;
pub use measure::measure;
use plan::Plan;

/// Why short polling is skipped in request mode.
pub const POLL_SKIPPED: &str = "short poll has no request-scoped stream";

/// Why technique `tech` is not measured in request mode (None: it is).
pub fn skip_reason(profile: &Profile, tech: Technique) -> Option<&'static str> {
    if tech == Technique::Poll {
        return Some(POLL_SKIPPED);
    }
    profile.subscribe(tech).is_none().then_some(NOT_OFFERED)
}

/// Runs request `index` to its end (`counted`: it started in the window), or until `stop`
/// cuts it; its figures go to the plan's recorders. Returns whether it ended complete.
pub async fn one_request(plan: &Plan, index: u64, counted: bool, stop: &CancellationToken) -> bool {
    let body = plan.body(index);
    let mut t = plan
        .rr
        .begin(counted, plan.params.events, plan.seq_numbers());
    let r = tokio::select! {
        r = technique(plan, index, &body, &mut t) => r.map_err(|e| e.kind()),
        // Cut by the drain's end or Ctrl-C: the stream did not end in time.
        _ = stop.cancelled() => Err(ErrorKind::Timeout),
    };
    let ok = r.is_ok() && t.is_done();
    plan.rr.end(&plan.rec, t, r.err());
    ok
}

/// One request of the plan's technique.
async fn technique(
    plan: &Plan,
    index: u64,
    body: &[u8],
    t: &mut recorder::StreamTrack,
) -> Result<(), ClientError> {
    if let Api::OpenAi { .. } = plan.params.api {
        return openai::run(plan, index, body, t).await;
    }
    match plan.technique {
        Technique::Sse => sse::run(plan, index, "/generate/sse", body, t).await,
        Technique::Stream => ndjson::run(plan, index, body, t).await,
        Technique::Ws => ws::run(plan, index, body, t).await,
        Technique::LongPoll => long_poll::run(plan, index, body, t).await,
        Technique::Poll => Err(ClientError::Protocol(POLL_SKIPPED.into())),
    }
}

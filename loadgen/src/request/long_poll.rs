//! A request-scoped stream over long polling: `POST /generate/long-poll` with the request's
//! JSON answers where to poll (`{"stream","events","poll"}`); then `GET <poll>?after=n` (n: the
//! answer's `next` so far) on the same keep-alive connection (a new one if the server closes
//! it), each answer `{"events":[...],"next":m,"done":bool}` held until an event is due. The
//! events of one answer share its receive time (their gaps are 0: what a long-poll client
//! sees). `done` ends the stream.

use std::time::{Duration, Instant};

use serde::Deserialize;

use super::exchange::post;
use super::plan::{MAX_EVENT, Plan, Wire};
use super::recorder::StreamTrack;
use crate::clients::{ClientError, HttpConn, get_request};
use crate::net::CountingStream;
use crate::payload;

/// The server holds a poll this long at most with nothing due (docs/PROTOCOL.md).
const SERVER_HOLD: Duration = Duration::from_secs(30);
/// Empty answers (held polls that timed out) tolerated beyond one per event.
const MAX_EMPTY: u64 = 100;

#[derive(Deserialize)]
struct Started {
    poll: String,
}

#[derive(Deserialize)]
struct Answer {
    events: Vec<Wire>,
    next: u64,
    #[serde(default)]
    done: bool,
}

/// Request `index`: starts the stream, then polls it to its end.
pub(super) async fn run(
    p: &Plan,
    index: u64,
    body: &[u8],
    t: &mut StreamTrack,
) -> Result<(), ClientError> {
    let mut h = post(p, index, "/generate/long-poll", "application/json", body, t).await?;
    let (answer, mut keep) = read_json(&mut h, p.read_timeout).await?;
    let started: Started = serde_json::from_slice(&answer)
        .map_err(|e| ClientError::Protocol(format!("bad long-poll start: {e}")))?;
    let hold = p.read_timeout.max(SERVER_HOLD + Duration::from_secs(5));
    let mut next = 0u64;
    let mut empty = 0u64;
    let max_polls = p.params.events + MAX_EMPTY;
    for _ in 0..max_polls {
        if !keep {
            h = p.http(index).await?;
        }
        let path = format!("{}?after={next}", p.path(&started.poll));
        p.rec.request();
        h.send(&get_request(&path, &p.host, &[]), p.read_timeout)
            .await?;
        let (bytes, k) = read_json(&mut h, hold).await?;
        keep = k;
        let at = Instant::now();
        let a: Answer = serde_json::from_slice(&bytes)
            .map_err(|e| ClientError::Protocol(format!("bad long-poll answer: {e}")))?;
        if a.events.is_empty() {
            p.rec.empty_response();
            empty += 1;
        }
        let now_us = payload::now_us();
        for e in &a.events {
            let meta = e
                .pushbench
                .ok_or_else(|| ClientError::Protocol("an event without `pushbench`".into()))?;
            t.event(&p.rr, &p.rec, Some(meta.seq), Some(meta.due_us), at, now_us)
                .map_err(|e| ClientError::Protocol(e.to_string()))?;
        }
        if a.next < next {
            return Err(ClientError::Protocol(format!(
                "long-poll cursor went back from {next} to {}",
                a.next
            )));
        }
        next = a.next;
        if a.done {
            t.done(&p.rr, at);
            return Ok(());
        }
        if empty > MAX_EMPTY {
            break;
        }
    }
    Err(ClientError::Protocol(format!(
        "long poll not done after {max_polls} polls"
    )))
}

/// Reads one whole 2xx answer; returns its body and whether the connection stays open.
async fn read_json(
    h: &mut HttpConn<CountingStream>,
    timeout: Duration,
) -> Result<(Vec<u8>, bool), ClientError> {
    let head = h.read_head(timeout).await?;
    let mut body = head.body.clone();
    let bytes = h.read_to_end(&mut body, timeout, MAX_EVENT).await?;
    if let Some(e) = head.status_error() {
        return Err(e);
    }
    Ok((bytes, head.keep_alive))
}

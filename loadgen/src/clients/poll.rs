//! Short poll: `GET /poll/{topic}?since=N` on a fixed schedule (as `setInterval` does) over one
//! keep-alive connection, reopened when it closes. The cursor is the answer's `next`.
//!
//! The schedule is fixed from the client's start: a request is due every `poll_interval`;
//! when an answer comes late the next request goes at once and the schedule resumes on its
//! grid (missed ticks are skipped, not burst). A zero interval polls back to back (the
//! closed loop `wrk` runs). The exchange itself is shared with long poll, and goes over
//! HTTP/2 (a stream of the client's shared connection) when the transport says so.
//!
//! A target whose answers hold one message each (the `raw` framing with an etag cursor, e.g.
//! nchan's intervalpoll, which answers the oldest message after the cursor) is asked again at
//! once while its answers carry a message (at most [`CATCH_UP`] times a tick): one poll then
//! catches up with every message published since the last, as a poll of pushbench's own
//! server does in one answer.

use std::time::{Duration, Instant};

use tokio::time::MissedTickBehavior;

use super::framing::{self, Reader};
use super::h2;
use super::http::{Head, HttpConn, get_request};
use super::transport::Wire;
use super::wire::parse_poll;
use super::{Client, ClientError, MAX_MESSAGE};
use crate::config::HttpVersion;
use crate::payload;
use crate::profile::{Cursor, Framing};

/// The most requests a short poll sends at once, one after the other, to catch up with a
/// target answering one message per request, before it waits for its next tick.
const CATCH_UP: u32 = 4096;

/// The connection a polling client keeps between requests (with a per-origin limit, only
/// during a request: see [`release`]).
pub(super) type Conn = Option<HttpConn<Wire>>;

/// After an exchange that went well: with a per-origin limit, the connection is left idle
/// for the next client's turn (as a browser's pool does) and the turn given back; without
/// one the client keeps it.
pub(super) fn release(c: &mut Client, conn: &mut Conn) {
    if let Some(origin) = &c.spec.transport.origin
        && let Some(h) = conn.take()
    {
        origin.check_in(h);
    }
    c.turn = None;
}

pub(super) async fn run(c: &mut Client) {
    let mut conn: Conn = None;
    let mut cur = PollCursor::new(c.spec.since);
    let period = c.spec.poll_interval;
    let mut ticker = (!period.is_zero()).then(|| {
        let mut t = tokio::time::interval(period);
        t.set_missed_tick_behavior(MissedTickBehavior::Skip);
        t
    });
    let one_per_answer = c.sub.framing == Framing::Raw && c.sub.cursor == Cursor::Etag;
    // Requests sent at once since the last tick (catching up).
    let mut at_once = 0;
    loop {
        if let Some(t) = ticker.as_mut().filter(|_| at_once == 0) {
            tokio::select! {
                biased;
                _ = c.shutdown.cancelled() => return,
                _ = t.tick() => {}
            }
        }
        if c.shutdown.is_cancelled() {
            return;
        }
        let answer_timeout = c.spec.read_timeout;
        match exchange(c, &mut conn, &mut cur, answer_timeout).await {
            Ok(delivered) if delivered && one_per_answer && at_once < CATCH_UP => {
                release(c, &mut conn);
                at_once += 1;
            }
            Ok(_) => {
                release(c, &mut conn);
                at_once = 0;
            }
            Err(e) => {
                at_once = 0;
                conn = None;
                c.turn = None;
                let wait = c.failed(&e);
                if !c.pause(wait).await {
                    return;
                }
            }
        }
    }
}

/// One request and its answer on `conn` (opened first if needed): delivers the messages,
/// counts an empty answer, moves `since` to the answer's `next`. The head must arrive within
/// `answer_timeout`, each later read within the read timeout. On error the caller drops the
/// connection. Ok(true): the answer carried at least one message.
///
/// A kept-alive connection that the server closed while it was idle (the request is met by
/// the end of the stream, not one byte of answer) is replaced by a new one and the request
/// sent again at once, as browsers do; the first request still counts as sent.
pub(super) async fn exchange(
    c: &mut Client,
    conn: &mut Conn,
    cur: &mut PollCursor,
    answer_timeout: Duration,
) -> Result<bool, ClientError> {
    if c.spec.transport.is_h2() {
        // Boxed: an HTTP/1.1 poller's future does not carry room for an HTTP/2 exchange.
        return Box::pin(exchange_h2(c, cur, answer_timeout)).await;
    }
    let request = cur.request(c);
    let mut retried = false;
    let (h, head) = loop {
        let mut opened_at: Option<Instant> = None;
        let h = match conn {
            Some(h) => h,
            None => {
                let transport = c.spec.transport.clone();
                if let Some(origin) = &transport.origin
                    && c.turn.is_none()
                {
                    let (turn, idle) = c.waiting(origin.checkout()).await;
                    c.turn = Some(turn);
                    if let Some(h) = idle {
                        // Left by another client: as good as a kept-alive one.
                        *conn = Some(h);
                        continue;
                    }
                }
                let (s, t0) = c.open_in(None, HttpVersion::H1).await?;
                opened_at = Some(t0);
                conn.insert(HttpConn::new(s))
            }
        };
        c.rec.request();
        let answer = match h.send(&request, c.spec.read_timeout).await {
            Ok(()) => h.read_head(answer_timeout).await,
            Err(e) => Err(e),
        };
        match answer {
            Ok(head) => {
                if let Some(t0) = opened_at {
                    c.answered(t0);
                }
                break (h, head);
            }
            Err(e) if opened_at.is_none() && !retried && h.is_idle() && e.is_disconnect() => {
                retried = true;
                *conn = None;
            }
            Err(e) => return Err(e),
        }
    };
    let nothing_new = nothing_new(c, &head);
    if let Some(e) = head.status_error().filter(|_| !nothing_new) {
        return Err(e);
    }
    let mut body = head.body.clone();
    let bytes = h
        .read_to_end(&mut body, c.spec.read_timeout, MAX_MESSAGE)
        .await?;
    if !head.keep_alive {
        *conn = None;
    }
    take_answer(c, cur, &head, nothing_new, &bytes)
}

/// [`exchange`] over HTTP/2: one request on a stream of the client's shared connection.
async fn exchange_h2(
    c: &mut Client,
    cur: &mut PollCursor,
    answer_timeout: Duration,
) -> Result<bool, ClientError> {
    let req = {
        let (path, headers) = cur.fields(c);
        h2::request(c, &path, &headers)?
    };
    let (head, mut body) = h2::get(c, req, answer_timeout).await?;
    let nothing_new = nothing_new(c, &head);
    if let Some(e) = head.status_error().filter(|_| !nothing_new) {
        return Err(e);
    }
    let bytes = body.read_to_end(c.spec.read_timeout, MAX_MESSAGE).await?;
    take_answer(c, cur, &head, nothing_new, &bytes)
}

/// Whether `head` answers "nothing new": a target with an etag cursor says so with 304 (or
/// 408 when it ends a held request), an empty answer.
fn nothing_new(c: &Client, head: &Head) -> bool {
    c.sub.cursor == Cursor::Etag && matches!(head.status, 304 | 408)
}

/// Takes a whole answer (`head`, its body `bytes`): delivers the messages, counts an empty
/// answer, moves the cursor. Ok(true): the answer carried at least one message.
fn take_answer(
    c: &mut Client,
    cur: &mut PollCursor,
    head: &Head,
    nothing_new: bool,
    bytes: &[u8],
) -> Result<bool, ClientError> {
    if c.sub.cursor == Cursor::Etag && !nothing_new {
        cur.etag = head.etag.clone();
        cur.last_modified = head.last_modified.clone();
    }
    if c.sub.framing != Framing::Pushbench {
        let empty = nothing_new || bytes.is_empty();
        if empty {
            c.rec.empty_response();
        } else {
            let mut reader = Reader {
                technique: c.spec.technique,
                rec: &c.rec,
                sink: &mut c.sink,
            };
            let id = reader.message(&c.sub.framing, bytes);
            if let Some(id) = id.filter(|_| c.sub.cursor == Cursor::SinceParam) {
                cur.since = id;
            }
        }
        c.succeeded();
        return Ok(!empty);
    }
    let answer = parse_poll(bytes)
        .map_err(|e| framing::offending(c.spec.technique, &e.to_string(), bytes))?;
    let received_us = payload::now_us();
    if answer.messages.is_empty() {
        c.rec.empty_response();
    }
    if answer.gap.is_some() {
        c.rec.gap();
    }
    for m in &answer.messages {
        c.sink.deliver_at(&m.data, received_us);
    }
    cur.since = answer.next.to_string();
    c.succeeded();
    Ok(!answer.messages.is_empty())
}

/// Where a polling client is: the `since` of the next request, or the validators of the last
/// answer (an etag cursor).
#[derive(Debug, Default)]
pub(super) struct PollCursor {
    since: String,
    etag: Option<String>,
    last_modified: Option<String>,
}

impl PollCursor {
    pub(super) fn new(since: u64) -> Self {
        PollCursor {
            since: since.to_string(),
            ..PollCursor::default()
        }
    }

    /// The path and fields of the next request of `c` from here.
    fn fields<'a>(&'a self, c: &'a Client) -> (String, Vec<(&'a str, &'a str)>) {
        let path = c.path_at(&self.since);
        let mut headers = vec![("Accept", "application/json")];
        if let Some(v) = &self.last_modified {
            headers.push(("If-Modified-Since", v));
        }
        if let Some(v) = &self.etag {
            headers.push(("If-None-Match", v));
        }
        headers.extend(c.extra_headers());
        (path, headers)
    }

    /// The next HTTP/1.1 request of `c` from here.
    fn request(&self, c: &Client) -> Vec<u8> {
        let (path, headers) = self.fields(c);
        get_request(&path, &c.spec.host, &headers)
    }
}

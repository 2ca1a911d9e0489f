//! Request-scoped streams over long poll. `POST /generate/long-poll` registers a stream and
//! answers its id; `GET /generate/long-poll/{id}?after=n` waits (at most 30 s) until an event
//! with seq >= n is due-and-sent, then answers the events from n that are (at most 64) and
//! the cursor to poll next. A stream is dropped when its last event was answered, or when
//! nobody polled it for 60 s.
//!
//! No task paces a polled stream: its events are a function of its schedule, so a poll works
//! out which are ready now, with the same pacing rule as the other techniques (an event is
//! ready at its due time, after the one before it, and after the stall before it).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{Request, Response, StatusCode};
use tokio::time::Instant;

use super::Started;
use super::event::Encoder;
use super::pace::{Tally, instant_of, stall_duration};
use super::request::Stall;
use super::schedule::Schedule;
use crate::request::{parse_u64, query_param};
use crate::response::{BoxBody, error, json_no_store};
use crate::state::State;

/// Longest a poll waits for an event.
pub const MAX_WAIT: Duration = Duration::from_secs(30);
/// A stream nobody polled for this long is dropped.
pub const IDLE_DROP: Duration = Duration::from_secs(60);
/// Most events in one answer.
pub const MAX_EVENTS_PER_ANSWER: usize = 64;
/// How often idle streams are looked for.
const SWEEP_EVERY: Duration = Duration::from_secs(5);

/// The streams being polled, and the ids of every stream of this server.
#[derive(Debug, Default)]
pub struct Registry {
    next_id: AtomicU64,
    streams: Mutex<HashMap<String, Arc<Polled>>>,
    sweeper: AtomicBool,
}

impl Registry {
    /// A new stream id: this process's pid and a count (a poll that reaches another process of
    /// a cluster finds no such stream there, instead of another one).
    pub fn next_id(&self) -> String {
        let n = self.next_id.fetch_add(1, Relaxed) + 1;
        format!("{}-{n}", std::process::id())
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Polled>>> {
        self.streams.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn get(&self, id: &str) -> Option<Arc<Polled>> {
        self.map().get(id).cloned()
    }

    fn remove(&self, id: &str) {
        self.map().remove(id);
    }

    /// Streams registered now.
    pub fn len(&self) -> usize {
        self.map().len()
    }

    /// Whether no stream is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops the streams nobody polls and nobody polled since `now - IDLE_DROP`.
    pub fn sweep(&self, now: Instant) {
        self.map().retain(|_, s| {
            let state = s.lock();
            state.polls > 0 || now.saturating_duration_since(state.last_poll) < IDLE_DROP
        });
    }
}

/// One polled stream.
#[derive(Debug)]
struct Polled {
    events: u64,
    encoder: Encoder,
    anchor: Instant,
    stall: Option<Stall>,
    /// The schedule from its first event, to start over for a client that polls backwards.
    origin: Schedule,
    state: Mutex<PollState>,
}

/// What changes as a stream is polled.
#[derive(Debug)]
struct PollState {
    /// Where the next event comes from.
    schedule: Schedule,
    /// Events worked out but not yet passed by a poll's cursor: `(seq, due_us, ready)`.
    ahead: VecDeque<(u64, u64, Instant)>,
    /// When the last event worked out was ready.
    last_ready: Instant,
    /// Events counted as sent (the highest answered seq + 1).
    sent: u64,
    /// Polls waiting now.
    polls: u32,
    last_poll: Instant,
    tally: Tally,
}

impl Polled {
    fn lock(&self) -> std::sync::MutexGuard<'_, PollState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The events from `after` ready at `now` (at most [`MAX_EVENTS_PER_ANSWER`]), and when
    /// event `after` is ready if none is.
    fn ready(&self, st: &mut PollState, after: u64, now: Instant) -> (Vec<(u64, u64)>, Instant) {
        if st.ahead.front().is_some_and(|e| e.0 > after)
            || (st.ahead.is_empty() && st.schedule.position() > after)
        {
            // The client polls from before what was worked out: start over.
            st.schedule = self.origin.clone();
            st.ahead.clear();
            st.last_ready = self.anchor;
        }
        while st.ahead.front().is_some_and(|e| e.0 < after) {
            st.ahead.pop_front();
        }
        let mut out = Vec::new();
        let mut i = 0;
        loop {
            if i == st.ahead.len() {
                let Some((seq, due_us)) = st.schedule.next() else {
                    break;
                };
                let due = instant_of(self.anchor, st.schedule.start_us(), due_us);
                let mut ready = due.max(st.last_ready);
                if let Some(s) = self.stall.filter(|s| s.at == seq) {
                    ready += stall_duration(&s);
                }
                st.last_ready = ready;
                st.ahead.push_back((seq, due_us, ready));
                if seq < after {
                    st.ahead.pop_front();
                    continue;
                }
            }
            let (seq, due_us, ready) = st.ahead[i];
            if ready > now || out.len() == MAX_EVENTS_PER_ANSWER {
                return (out, ready);
            }
            out.push((seq, due_us));
            i += 1;
        }
        (out, now)
    }
}

/// Registers an accepted stream; answers its id and where to poll it.
pub fn start(state: &State, started: Started) -> Response<BoxBody> {
    let now = started.anchor;
    let polled = Arc::new(Polled {
        events: started.spec.events,
        encoder: started.encoder,
        anchor: started.anchor,
        stall: started.spec.stall,
        origin: started.schedule.clone(),
        state: Mutex::new(PollState {
            schedule: started.schedule,
            ahead: VecDeque::new(),
            last_ready: now,
            sent: 0,
            polls: 0,
            last_poll: now,
            tally: started.tally,
        }),
    });
    let registry = &state.generate;
    registry.map().insert(started.id.clone(), polled);
    if !registry.sweeper.swap(true, Relaxed) {
        tokio::spawn(sweeper(state.clone()));
    }
    let id = &started.id;
    json_no_store(format!(
        "{{\"stream\":\"{id}\",\"events\":{},\"poll\":\"/generate/long-poll/{id}\"}}",
        started.spec.events
    ))
}

/// Drops idle streams every few seconds, until the server shuts down.
async fn sweeper(state: State) {
    let mut signals = state.signals.subscribe();
    let mut every = tokio::time::interval(SWEEP_EVERY);
    loop {
        tokio::select! {
            _ = every.tick() => state.generate.sweep(Instant::now()),
            r = signals.changed() => {
                if r.is_err() || signals.borrow_and_update().shutdown {
                    return;
                }
            }
        }
    }
}

/// A poll waiting on a stream (which is not idle meanwhile); its end (answered, or dropped
/// with a client that left) marks the stream polled then.
struct Polling<'a>(&'a Polled);

impl<'a> Polling<'a> {
    fn new(p: &'a Polled) -> Polling<'a> {
        let mut st = p.lock();
        st.polls += 1;
        st.last_poll = Instant::now();
        drop(st);
        Polling(p)
    }
}

impl Drop for Polling<'_> {
    fn drop(&mut self) {
        let mut st = self.0.lock();
        st.polls = st.polls.saturating_sub(1);
        st.last_poll = Instant::now();
    }
}

/// `GET /generate/long-poll/{id}?after=n`.
pub async fn poll<B>(req: &Request<B>, state: &State, id: &str) -> Response<BoxBody> {
    let after = match query_param(req, "after") {
        None => 0,
        Some(v) => match parse_u64("after", v) {
            Ok(n) => n,
            Err(e) => return e.response(),
        },
    };
    let Some(stream) = state.generate.get(id) else {
        return error(
            StatusCode::NOT_FOUND,
            "no such generate stream (unknown or finished)",
        );
    };
    if after > stream.events {
        return error(
            StatusCode::BAD_REQUEST,
            format!(
                "after={after} is past the stream's {} events",
                stream.events
            ),
        );
    }
    let waiting = Polling::new(&stream);
    let (events, next) = wait(state, &stream, after).await;
    drop(waiting);
    let done = next == stream.events;
    let mut body = Vec::with_capacity(64 + events.len() * stream.encoder.size_hint());
    body.extend_from_slice(b"{\"events\":[");
    for (i, (seq, due_us)) in events.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        stream.encoder.write(&mut body, *seq, *due_us);
    }
    body.extend_from_slice(format!("],\"next\":{next},\"done\":{done}}}").as_bytes());
    {
        let mut st = stream.lock();
        if next > st.sent {
            st.tally.sent(next - st.sent);
            st.sent = next;
        }
        if done {
            st.tally.complete();
        }
    }
    if done {
        state.generate.remove(id);
    }
    json_no_store(body)
}

/// Waits (at most [`MAX_WAIT`], or until shutdown) for events from `after`; the events and
/// the next cursor.
async fn wait(state: &State, stream: &Polled, after: u64) -> (Vec<(u64, u64)>, u64) {
    let deadline = Instant::now() + MAX_WAIT;
    let mut signals = state.signals.subscribe();
    loop {
        let now = Instant::now();
        let (events, ready_at) = {
            let mut st = stream.lock();
            stream.ready(&mut st, after, now)
        };
        if !events.is_empty() || after == stream.events || now >= deadline {
            let next = events.last().map_or(after, |e| e.0 + 1);
            return (events, next);
        }
        let sleep = tokio::time::sleep_until(ready_at.min(deadline));
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                _ = &mut sleep => break,
                r = signals.changed() => {
                    if r.is_err() || signals.borrow_and_update().shutdown {
                        return (Vec::new(), after);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{Metrics, Technique};
    use crate::techniques::generate::request::GenerateSpec;

    fn polled(spec: &GenerateSpec, anchor: Instant) -> Polled {
        let schedule = Schedule::new(spec, 1_000_000, 1);
        Polled {
            events: spec.events,
            encoder: Encoder::new("1", 0, spec.events, 1),
            anchor,
            stall: spec.stall,
            origin: schedule.clone(),
            state: Mutex::new(PollState {
                schedule,
                ahead: VecDeque::new(),
                last_ready: anchor,
                sent: 0,
                polls: 0,
                last_poll: anchor,
                tally: Tally::start(Arc::new(Metrics::default()), Technique::LongPoll),
            }),
        }
    }

    #[test]
    fn polls_see_the_events_ready_at_their_time_with_the_stall() {
        let spec = GenerateSpec {
            events: 200,
            interval_ms: 10.0,
            stall: Some(Stall { at: 2, ms: 25.0 }),
            ..GenerateSpec::default()
        };
        let t0 = Instant::now();
        let p = polled(&spec, t0);
        let ms = |n| t0 + Duration::from_millis(n);
        let mut st = p.lock();
        let (ev, _) = p.ready(&mut st, 0, ms(15));
        assert_eq!(ev, vec![(0, 1_000_000), (1, 1_010_000)]);
        // Event 2 is due at 20 ms, ready at 45 (the stall); 3 and 4 are late behind it.
        let (ev, at) = p.ready(&mut st, 2, ms(30));
        assert_eq!((ev.len(), at), (0, ms(45)));
        let (ev, _) = p.ready(&mut st, 2, ms(46));
        assert_eq!(ev.iter().map(|e| e.0).collect::<Vec<_>>(), vec![2, 3, 4]);
        // Polling backwards starts over; a long wait is answered 64 at most.
        let (ev, _) = p.ready(&mut st, 1, ms(10_000));
        assert_eq!((ev.len(), ev[0].0), (MAX_EVENTS_PER_ANSWER, 1));
        let (ev, _) = p.ready(&mut st, 190, ms(10_000));
        assert_eq!((ev.len(), ev[9].0), (10, 199));
        let (ev, _) = p.ready(&mut st, 200, ms(10_000));
        assert!(ev.is_empty());
    }

    #[test]
    fn idle_streams_are_swept() {
        let r = Registry::default();
        let t0 = Instant::now();
        r.map()
            .insert("a".into(), Arc::new(polled(&GenerateSpec::default(), t0)));
        r.map()
            .insert("b".into(), Arc::new(polled(&GenerateSpec::default(), t0)));
        r.get("b").unwrap().lock().polls = 1;
        r.sweep(t0 + Duration::from_secs(59));
        assert_eq!(r.len(), 2);
        r.sweep(t0 + IDLE_DROP);
        assert!(r.get("a").is_none() && r.get("b").is_some());
    }
}

//! What request mode measures of one technique, shared by all its streams: TTFT, inter-event
//! gaps, lateness and end-to-end histograms (µs) and the requests' and events' counts
//! ([`ReqRecorder`]), fed by one [`StreamTrack`] per request.
//!
//! Definitions (docs/REQUEST.md): TTFT = request sent to first event received; ITL = gap
//! between the receive times of two consecutive events of one stream; lateness = receive wall
//! time minus the event's `pushbench.due_us`; e2e = request sent to the stream's end marker.
//! Only streams whose request started in the measured window are counted in the figures;
//! every event, counted or not, goes to the per-second series (lateness) and `received_total`.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Instant;

use hdrhistogram::Histogram;

use crate::stats::{ErrorKind, Recorder, new_histogram};

/// The histograms of the counted streams.
#[derive(Debug, Clone)]
pub struct Hists {
    pub ttft: Histogram<u64>,
    pub itl: Histogram<u64>,
    pub lateness: Histogram<u64>,
    pub e2e: Histogram<u64>,
}

/// The request-mode figures of one technique.
#[derive(Debug)]
pub struct ReqRecorder {
    hists: Mutex<Hists>,
    /// Counted requests: started, ended complete, failed.
    pub started: AtomicU64,
    pub completed: AtomicU64,
    pub failed: AtomicU64,
    /// Events the counted requests asked for (or, for a stream that ended complete without
    /// sequence numbers, what it delivered), distinct events received, again, out of order.
    pub expected: AtomicU64,
    pub delivered: AtomicU64,
    pub duplicates: AtomicU64,
    pub out_of_order: AtomicU64,
    /// Streams ended complete, counted or not (for requests/s over the window).
    pub completed_all: AtomicU64,
    /// Streams open now (a gauge), and counted streams not yet ended.
    pub open: AtomicU64,
    pub counted_open: AtomicU64,
    /// Open-model arrivals dropped because too many streams were in flight.
    pub overflow: AtomicU64,
    /// Events each request asks for.
    asked: AtomicU64,
}

impl Default for ReqRecorder {
    fn default() -> Self {
        ReqRecorder {
            hists: Mutex::new(Hists {
                ttft: new_histogram(),
                itl: new_histogram(),
                lateness: new_histogram(),
                e2e: new_histogram(),
            }),
            started: AtomicU64::new(0),
            completed: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            expected: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            out_of_order: AtomicU64::new(0),
            completed_all: AtomicU64::new(0),
            open: AtomicU64::new(0),
            counted_open: AtomicU64::new(0),
            overflow: AtomicU64::new(0),
            asked: AtomicU64::new(0),
        }
    }
}

impl ReqRecorder {
    /// A copy of the histograms.
    pub fn hists(&self) -> Hists {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Hists> {
        self.hists.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// An arrival dropped unsent (too many streams in flight); a failed request if counted.
    pub fn overflow(&self, counted: bool) {
        self.overflow.fetch_add(1, Relaxed);
        if counted {
            self.started.fetch_add(1, Relaxed);
            self.failed.fetch_add(1, Relaxed);
            self.expected.fetch_add(self.asked.load(Relaxed), Relaxed);
        }
    }

    /// A request is about to be sent (`counted`: it starts in the window).
    pub fn begin(&self, counted: bool, asked: u64, seq_numbers: bool) -> StreamTrack {
        self.open.fetch_add(1, Relaxed);
        self.asked.store(asked, Relaxed);
        if counted {
            self.started.fetch_add(1, Relaxed);
            self.counted_open.fetch_add(1, Relaxed);
        }
        StreamTrack {
            counted,
            asked,
            seq_numbers,
            sent: Instant::now(),
            last: None,
            received: 0,
            distinct: 0,
            max_seq: None,
            seen: Vec::new(),
            done: false,
        }
    }

    /// A request's stream ended: `Ok` complete (its end marker came), `Err` failed (counted
    /// in the technique's errors by kind).
    pub fn end(&self, rec: &Recorder, t: StreamTrack, error: Option<ErrorKind>) {
        self.open.fetch_sub(1, Relaxed);
        let complete = t.done && error.is_none();
        if complete {
            self.completed_all.fetch_add(1, Relaxed);
        }
        if let Some(kind) = error {
            rec.error(kind);
        }
        if !t.counted {
            return;
        }
        self.counted_open.fetch_sub(1, Relaxed);
        let expected = if t.seq_numbers || !complete {
            t.asked.max(t.distinct)
        } else {
            t.distinct
        };
        self.expected.fetch_add(expected, Relaxed);
        if complete {
            self.completed.fetch_add(1, Relaxed);
        } else {
            self.failed.fetch_add(1, Relaxed);
        }
    }
}

/// One request's stream as it is received.
#[derive(Debug)]
pub struct StreamTrack {
    counted: bool,
    asked: u64,
    /// Whether its events carry `pushbench.seq` (else they are numbered as they arrive).
    seq_numbers: bool,
    sent: Instant,
    last: Option<Instant>,
    received: u64,
    distinct: u64,
    max_seq: Option<u64>,
    /// One bit per sequence number seen (grown as needed, at most `asked` bits).
    seen: Vec<u64>,
    done: bool,
}

/// An event that cannot be one of this stream's.
#[derive(Debug, thiserror::Error)]
#[error("event seq {seq} outside the {asked} events asked for")]
pub struct SeqOutOfRange {
    pub seq: u64,
    pub asked: u64,
}

impl StreamTrack {
    /// The request is being sent now (the clock of TTFT and e2e starts).
    pub fn sent_now(&mut self) {
        self.sent = Instant::now();
    }

    /// Events received so far (the long-poll cursor).
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Whether its end marker has come.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// An event received at `at` (`now_us`: the wall clock then), with its sequence number and
    /// due time if it carries them.
    pub fn event(
        &mut self,
        rr: &ReqRecorder,
        rec: &Recorder,
        seq: Option<u64>,
        due_us: Option<u64>,
        at: Instant,
        now_us: u64,
    ) -> Result<(), SeqOutOfRange> {
        let seq = seq.unwrap_or(self.received);
        if self.seq_numbers && seq >= self.asked {
            return Err(SeqOutOfRange {
                seq,
                asked: self.asked,
            });
        }
        rec.counters.received_total.fetch_add(1, Relaxed);
        let lateness = due_us.map(|d| now_us.saturating_sub(d));
        if let Some(l) = lateness {
            rec.record_interval(l);
        }
        self.received += 1;
        let (word, bit) = ((seq / 64) as usize, 1u64 << (seq % 64));
        if self.seen.len() <= word {
            self.seen.resize(word + 1, 0);
        }
        let fresh = self.seen[word] & bit == 0;
        self.seen[word] |= bit;
        let late_order = self.max_seq.is_some_and(|m| seq < m);
        self.max_seq = Some(self.max_seq.map_or(seq, |m| m.max(seq)));
        if fresh {
            self.distinct += 1;
        }
        if !self.counted {
            self.last = Some(at);
            return Ok(());
        }
        if !fresh {
            rr.duplicates.fetch_add(1, Relaxed);
        } else {
            rr.delivered.fetch_add(1, Relaxed);
            rec.counters.delivered.fetch_add(1, Relaxed);
            if late_order {
                rr.out_of_order.fetch_add(1, Relaxed);
            }
        }
        let mut h = rr.lock();
        match self.last {
            None => h.ttft.saturating_record(micros(at - self.sent)),
            Some(prev) => h
                .itl
                .saturating_record(micros(at.saturating_duration_since(prev))),
        }
        if let Some(l) = lateness.filter(|_| fresh) {
            h.lateness.saturating_record(l);
        }
        drop(h);
        self.last = Some(at);
        Ok(())
    }

    /// The stream's end marker came at `at`.
    pub fn done(&mut self, rr: &ReqRecorder, at: Instant) {
        if self.done {
            return;
        }
        self.done = true;
        if self.counted {
            rr.lock()
                .e2e
                .saturating_record(micros(at.saturating_duration_since(self.sent)));
        }
    }
}

fn micros(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::technique::Technique;
    use std::time::Duration;

    #[test]
    fn figures_of_one_stream() {
        let rr = ReqRecorder::default();
        let rec = Recorder::new(Technique::Sse, 1);
        let mut t = rr.begin(true, 4, true);
        let t0 = Instant::now();
        t.sent = t0;
        let ms = |n| t0 + Duration::from_millis(n);
        t.event(&rr, &rec, Some(0), Some(1_000), ms(50), 1_500)
            .unwrap();
        t.event(&rr, &rec, Some(2), Some(2_000), ms(70), 2_000)
            .unwrap();
        t.event(&rr, &rec, Some(1), None, ms(90), 0).unwrap();
        t.event(&rr, &rec, Some(1), None, ms(95), 0).unwrap();
        assert!(t.event(&rr, &rec, Some(4), None, ms(99), 0).is_err());
        t.done(&rr, ms(100));
        rr.end(&rec, t, None);
        let h = rr.hists();
        assert_eq!(h.ttft.len(), 1);
        assert!((49_900..=50_100).contains(&h.ttft.max()));
        assert_eq!(h.itl.len(), 3);
        assert_eq!((h.lateness.len(), h.lateness.max()), (2, 500));
        assert!((99_900..=100_100).contains(&h.e2e.max()));
        let n = |a: &AtomicU64| a.load(Relaxed);
        assert_eq!(
            (n(&rr.delivered), n(&rr.duplicates), n(&rr.out_of_order)),
            (3, 1, 1)
        );
        assert_eq!(
            (n(&rr.expected), n(&rr.completed), n(&rr.failed)),
            (4, 1, 0)
        );
        assert_eq!((n(&rr.open), n(&rr.counted_open)), (0, 0));
    }

    #[test]
    fn a_cut_stream_fails_and_an_unnumbered_complete_one_expects_what_it_got() {
        let rr = ReqRecorder::default();
        let rec = Recorder::new(Technique::Sse, 1);
        let mut t = rr.begin(true, 10, false);
        let now = Instant::now();
        t.event(&rr, &rec, None, None, now, 0).unwrap();
        t.done(&rr, now);
        rr.end(&rec, t, None);
        let mut cut = rr.begin(true, 10, false);
        cut.event(&rr, &rec, None, None, now, 0).unwrap();
        rr.end(&rec, cut, Some(ErrorKind::Closed));
        let uncounted = rr.begin(false, 10, true);
        rr.end(&rec, uncounted, Some(ErrorKind::Closed));
        assert_eq!(rr.expected.load(Relaxed), 11);
        assert_eq!(rr.delivered.load(Relaxed), 2);
        assert_eq!(
            (rr.completed.load(Relaxed), rr.failed.load(Relaxed)),
            (1, 1)
        );
        assert_eq!(rec.snapshot().error_map().get("closed"), Some(&2));
    }
}

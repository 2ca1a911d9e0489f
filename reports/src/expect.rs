//! The expected median publish-to-receive latency of each technique over an emulated link,
//! computed from the run's settings, and the rule that flags a measurement departing from it.
//! docs/REPORTS.md ("Expected latency over a link") derives every formula; in short, with the
//! publisher next to the server, one-way delay `d = RTT/2 (+ jitter/2 + one payload's
//! serialization time)` and messages every `T = 1/rate` on each topic:
//!
//! - stream, SSE, WebSocket: `d` (the message just travels down);
//! - short poll every `P`: `d + max(P, RTT)/2` (a message waits half a poll period on the
//!   server; when a round trip outlasts `P` the next poll goes as soon as the answer lands,
//!   so the period is the round trip); a range around it when the clients started too close
//!   together for their polls' phases to spread over the message period ([`poll_lock`]);
//! - long poll: `d` when `T` is longer than a round trip (every message finds a poll armed);
//!   `d + RTT/2` when `T < RTT` (the poll is re-armed one round trip after each answer, so it
//!   is answered every RTT with what arrived meanwhile: waits spread evenly over `0..RTT`);
//!   in between (`RTT ≤ T ≲ 1.1 RTT + 5 ms`, where the re-arm's own few milliseconds decide
//!   which case holds) anything from `d` to `d + RTT/2`.
//!
//! A measurement is flagged when it lies more than 20% (plus 5 ms, so loopback noise and the
//! emulator's ~1 ms timer rounding per hop are not flagged) outside the expected range.

use crate::link::LinkInfo;

/// How far a measurement may depart from the expected range, as a share of it.
pub const TOLERANCE: f64 = 0.20;
/// The absolute allowance on top of [`TOLERANCE`], ms: loopback's own latency on a busy
/// machine (1.6 to 2.4 ms p50 measured at 50 clients on 2 shared cores) and the emulator's
/// timer rounding (0 to 2 ms late per hop, docs/NETWORK.md).
pub const ALLOWANCE_MS: f64 = 5.0;
/// The long-poll band above the RTT in which either case may hold: up to
/// `BAND_SHARE × (RTT + 2·jitter) + BAND_MS`.
pub const BAND_SHARE: f64 = 1.1;
/// See [`BAND_SHARE`], ms.
pub const BAND_MS: f64 = 5.0;

/// What the expected value depends on besides the technique.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Settings {
    /// Messages per second on each topic (each subscriber receives this many).
    pub rate_per_s: Option<f64>,
    /// The short poll's interval, ms (0: back to back).
    pub poll_interval_ms: Option<f64>,
    /// Payload size, bytes (for its serialization time on a narrow link).
    pub payload_bytes: Option<f64>,
    /// The publisher's one-way delay to the server, ms (0: the publisher is direct).
    pub publisher_one_way_ms: f64,
    /// How long the clients of a technique took to start (clients / ramp-up rate), ms;
    /// `None`: unknown, taken as long enough to spread the short polls' phases.
    pub start_spread_ms: Option<f64>,
}

/// The subscribers' link, as far as latency goes (all zero: no link).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Link {
    pub rtt_ms: f64,
    pub jitter_ms: f64,
    pub down_bps: Option<f64>,
}

impl Link {
    /// A link of `rtt_ms` alone.
    pub fn rtt(rtt_ms: f64) -> Link {
        Link {
            rtt_ms,
            ..Link::default()
        }
    }
}

impl From<&LinkInfo> for Link {
    fn from(l: &LinkInfo) -> Link {
        Link {
            rtt_ms: l.rtt_ms,
            jitter_ms: l.jitter_ms,
            down_bps: l.down_bps,
        }
    }
}

/// An expected median: a value (`lo == hi`) or a range the model cannot narrow, ms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Expected {
    pub lo_ms: f64,
    pub hi_ms: f64,
}

impl Expected {
    fn at(v: f64) -> Expected {
        Expected { lo_ms: v, hi_ms: v }
    }
    /// The single figure shown: the middle of the range.
    pub fn point_ms(&self) -> f64 {
        (self.lo_ms + self.hi_ms) / 2.0
    }
    /// The same shifted by `ms` (a technique's loopback floor).
    pub fn plus(self, ms: f64) -> Expected {
        Expected {
            lo_ms: self.lo_ms + ms,
            hi_ms: self.hi_ms + ms,
        }
    }
    /// Whether the model gives a range rather than a value.
    pub fn is_range(&self) -> bool {
        self.hi_ms > self.lo_ms
    }
}

/// One message's way down: the one-way delay, half the mean jitter, its serialization time
/// on the link, and the publisher's own one-way delay.
pub fn one_way_ms(link: &Link, s: &Settings) -> f64 {
    let ser = match (link.down_bps, s.payload_bytes) {
        (Some(bps), Some(b)) if bps > 0.0 => b * 8.0 / bps * 1000.0,
        _ => 0.0,
    };
    link.rtt_ms / 2.0 + link.jitter_ms / 2.0 + ser + s.publisher_one_way_ms
}

/// The expected p50 of `technique` (`poll`, `long-poll`, `stream`, `sse`, `ws`) over `link`,
/// or `None` when a setting it needs is unknown (or the technique is not one of these).
pub fn p50(technique: &str, link: &Link, s: &Settings) -> Option<Expected> {
    let d = one_way_ms(link, s);
    // The mean round trip: two hops, each with half the jitter on average.
    let round_trip = link.rtt_ms + link.jitter_ms;
    match technique {
        "stream" | "sse" | "ws" => Some(Expected::at(d)),
        "poll" => short_poll(d, round_trip, s),
        "long-poll" => {
            let rate = s.rate_per_s.filter(|r| *r > 0.0 && r.is_finite())?;
            let t = 1000.0 / rate;
            let band_hi = BAND_SHARE * (link.rtt_ms + 2.0 * link.jitter_ms) + BAND_MS;
            Some(if t < link.rtt_ms {
                Expected::at(d + round_trip / 2.0)
            } else if t <= band_hi {
                Expected {
                    lo_ms: d,
                    hi_ms: d + round_trip / 2.0,
                }
            } else {
                Expected::at(d)
            })
        }
        _ => None,
    }
}

/// Short poll every `P`: `d + max(P, RTT)/2`, or a range around it when its polls may be in
/// step with the messages (see [`poll_lock`]).
fn short_poll(d: f64, round_trip: f64, s: &Settings) -> Option<Expected> {
    let p = s.poll_interval_ms.filter(|p| *p >= 0.0)?;
    if p <= round_trip {
        // Polls follow the answers, whose round trips drift against the messages.
        return Some(Expected::at(d + round_trip / 2.0));
    }
    Some(match poll_lock(p, s) {
        Some((lo, hi)) => Expected {
            lo_ms: d + lo,
            hi_ms: d + hi,
        },
        None => Expected::at(d + p / 2.0),
    })
}

/// The range of a short poll's median wait when the clients started too close together
/// (within less than `min(P, T)`) for their poll phases to spread over the message period:
/// every client then polls at about the same phase of the publisher's schedule, and the
/// pooled median is that phase's, anywhere in `P/2 ± min(T, P/2)` (within `0..P`), not
/// `P/2`. `None` when the phases spread (or the rate or the spread is unknown).
pub fn poll_lock(p: f64, s: &Settings) -> Option<(f64, f64)> {
    let t = 1000.0 / s.rate_per_s.filter(|r| *r > 0.0 && r.is_finite())?;
    let spread = s.start_spread_ms?;
    if p <= 0.0 || spread >= t.min(p) {
        return None;
    }
    let h = t.min(p / 2.0);
    Some(((p / 2.0 - h).max(0.0), (p / 2.0 + h).min(p)))
}

/// How far `measured_ms` lies outside the expected range, as a signed share of the nearer
/// bound (0 inside it); `None` when that bound is 0 (a share of nothing).
pub fn departure(measured_ms: f64, e: &Expected) -> Option<f64> {
    let bound = if measured_ms > e.hi_ms {
        e.hi_ms
    } else if measured_ms < e.lo_ms {
        e.lo_ms
    } else {
        return Some(0.0);
    };
    (bound > 0.0).then(|| (measured_ms - bound) / bound)
}

/// Whether `measured_ms` departs from the range by more than [`TOLERANCE`] plus
/// [`ALLOWANCE_MS`].
pub fn flagged(measured_ms: f64, e: &Expected) -> bool {
    measured_ms > e.hi_ms * (1.0 + TOLERANCE) + ALLOWANCE_MS
        || measured_ms < e.lo_ms * (1.0 - TOLERANCE) - ALLOWANCE_MS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(rate: f64, poll_ms: f64) -> Settings {
        Settings {
            rate_per_s: Some(rate),
            poll_interval_ms: Some(poll_ms),
            payload_bytes: Some(256.0),
            publisher_one_way_ms: 0.0,
            start_spread_ms: None,
        }
    }

    fn at(t: &str, rtt: f64, s: &Settings) -> Expected {
        p50(t, &Link::rtt(rtt), s).unwrap()
    }

    #[test]
    fn pushes_pay_the_one_way_delay() {
        let s = settings(10.0, 1000.0);
        for t in ["stream", "sse", "ws"] {
            assert_eq!(at(t, 0.0, &s), Expected::at(0.0));
            assert_eq!(at(t, 200.0, &s), Expected::at(100.0));
            assert_eq!(at(t, 1000.0, &s).point_ms(), 500.0);
        }
        // Jitter adds half its mean; a narrow link one payload's serialization:
        // 256 B at 1 mbit/s = 2.048 ms.
        let l = Link {
            rtt_ms: 100.0,
            jitter_ms: 10.0,
            down_bps: Some(1e6),
        };
        assert!((p50("sse", &l, &s).unwrap().lo_ms - 57.048).abs() < 1e-9);
        let far_publisher = Settings {
            publisher_one_way_ms: 20.0,
            ..s
        };
        assert_eq!(at("ws", 100.0, &far_publisher), Expected::at(70.0));
    }

    #[test]
    fn short_poll_waits_half_its_period() {
        let s = settings(10.0, 1000.0);
        assert_eq!(at("poll", 0.0, &s), Expected::at(500.0));
        assert_eq!(at("poll", 100.0, &s), Expected::at(550.0));
        assert_eq!(at("poll", 300.0, &s), Expected::at(650.0));
        // A round trip longer than the interval: the period is the round trip.
        assert_eq!(at("poll", 2000.0, &s), Expected::at(2000.0));
        // Back to back (interval 0): half a round trip of waiting.
        assert_eq!(at("poll", 200.0, &settings(10.0, 0.0)), Expected::at(200.0));
        let unknown = Settings {
            poll_interval_ms: None,
            ..s
        };
        assert_eq!(p50("poll", &Link::rtt(100.0), &unknown), None);
    }

    #[test]
    fn short_polls_started_together_poll_in_step_with_the_messages() {
        // 200 clients at 1,000/s start over 200 ms, more than T = 100 ms: phases spread.
        let spread = |ms: f64, rate: f64| Settings {
            start_spread_ms: Some(ms),
            ..settings(rate, 1000.0)
        };
        assert_eq!(at("poll", 100.0, &spread(200.0, 10.0)), Expected::at(550.0));
        // 50 clients start within 50 ms: one phase, median anywhere in 500 ± 100.
        let e = at("poll", 100.0, &spread(50.0, 10.0));
        assert_eq!((e.lo_ms, e.hi_ms), (450.0, 650.0));
        // 2 msg/s: two messages per poll, the median anywhere in the interval.
        let e = at("poll", 200.0, &spread(20.0, 2.0));
        assert_eq!((e.lo_ms, e.hi_ms), (100.0, 1100.0));
        // A round trip longer than the interval: polls follow the answers, no lock.
        assert_eq!(
            at("poll", 2000.0, &spread(20.0, 10.0)),
            Expected::at(2000.0)
        );
    }

    #[test]
    fn long_poll_pays_the_re_arm_only_when_messages_outpace_the_round_trip() {
        let s = settings(10.0, 1000.0); // T = 100 ms
        assert_eq!(at("long-poll", 0.0, &s), Expected::at(0.0));
        assert_eq!(at("long-poll", 20.0, &s), Expected::at(10.0));
        // T < RTT: answered every RTT, so RTT/2 on the way down plus RTT/2 of waiting.
        assert_eq!(at("long-poll", 300.0, &s), Expected::at(300.0));
        assert_eq!(at("long-poll", 1000.0, &s), Expected::at(1000.0));
        // T = RTT: either case, depending on the re-arm's few milliseconds.
        let e = at("long-poll", 100.0, &s);
        assert_eq!((e.lo_ms, e.hi_ms, e.point_ms()), (50.0, 100.0, 75.0));
        assert!(e.is_range());
        // Just past the band (1.1 × 80 + 5 = 93 < 100): a poll is always armed.
        assert_eq!(at("long-poll", 80.0, &s), Expected::at(40.0));
        // The same link at 100 msg/s (T = 10 ms < 80 ms) pays the re-arm.
        assert_eq!(
            at("long-poll", 80.0, &settings(100.0, 1000.0)),
            Expected::at(80.0)
        );
        let unknown = Settings {
            rate_per_s: None,
            ..s
        };
        assert_eq!(p50("long-poll", &Link::rtt(100.0), &unknown), None);
    }

    #[test]
    fn departures_beyond_twenty_percent_and_five_ms_are_flagged() {
        let e = Expected::at(100.0);
        assert_eq!(departure(100.0, &e), Some(0.0));
        assert!((departure(130.0, &e).unwrap() - 0.3).abs() < 1e-12);
        assert!(!flagged(124.9, &e));
        assert!(flagged(125.1, &e));
        assert!(!flagged(75.1, &e));
        assert!(flagged(74.9, &e));
        // Loopback: expected 0, measured a few milliseconds, not flagged.
        let zero = Expected::at(0.0);
        assert_eq!(departure(2.4, &zero), None);
        assert!(!flagged(2.4, &zero));
        assert!(flagged(5.5, &zero));
        // A range: anything inside it is on the model.
        let r = Expected {
            lo_ms: 50.0,
            hi_ms: 100.0,
        };
        assert_eq!(departure(70.0, &r), Some(0.0));
        assert!(!flagged(36.0, &r) && flagged(34.0, &r));
        assert!(!flagged(124.0, &r) && flagged(126.0, &r));
        assert_eq!(
            r.plus(1.5),
            Expected {
                lo_ms: 51.5,
                hi_ms: 101.5
            }
        );
    }
}

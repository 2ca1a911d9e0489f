//! The payload header: the one format the publisher and the subscribers share.
//!
//! The server treats payloads as opaque text. The load generator writes its own header into
//! each payload so any push server can be measured:
//!
//! ```text
//! pb1 <topic index> <sequence> <scheduled send time, µs since the Unix epoch> <padding>
//! ```
//!
//! for example `pb1 0 42 1764097501123456 xxxxxxxx...`, padded with `x` to the requested size.
//! The scheduled time is wall-clock time, so subscribers in other processes on the same
//! machine (or on machines with synchronized clocks) can measure latency from it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What a payload header carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Index of the topic the message was published to.
    pub topic: u32,
    /// The publisher's per-topic sequence number, from 1.
    pub seq: u64,
    /// When the message was scheduled to be sent, µs since the Unix epoch.
    pub scheduled_us: u64,
}

/// Why a payload could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PayloadError {
    #[error("payload does not start with the `pb1` header")]
    NotOurs,
    #[error("payload header field `{0}` is missing or not a number")]
    BadField(&'static str),
}

/// The header's tag, the first bytes of every payload.
const TAG: &str = "pb1 ";

/// Decimal digits of `n`.
const fn digits(mut n: u64) -> usize {
    let mut d = 1;
    while n >= 10 {
        n /= 10;
        d += 1;
    }
    d
}

/// The longest a header can be: the tag, then the topic, sequence and scheduled time at their
/// widest, each followed by a space (57 bytes). A payload of at least this size is exactly
/// the size asked for, whatever its header holds; `run` refuses smaller `--payload-bytes`.
pub const MAX_HEADER_LEN: usize =
    TAG.len() + digits(u32::MAX as u64) + 1 + digits(u64::MAX) + 1 + digits(u64::MAX) + 1;

/// Builds a payload of exactly `size` bytes (or just the header, if it is longer).
pub fn encode(h: Header, size: usize) -> String {
    let mut s = format!("{TAG}{} {} {} ", h.topic, h.seq, h.scheduled_us);
    if s.len() < size {
        s.extend(std::iter::repeat_n('x', size - s.len()));
    }
    s
}

/// Reads the header of a payload.
pub fn decode(payload: &str) -> Result<Header, PayloadError> {
    let rest = payload.strip_prefix(TAG).ok_or(PayloadError::NotOurs)?;
    let mut it = rest.splitn(4, ' ');
    let mut field = |name: &'static str| -> Result<u64, PayloadError> {
        it.next()
            .and_then(|f| f.parse().ok())
            .ok_or(PayloadError::BadField(name))
    };
    let topic = field("topic")?;
    let seq = field("seq")?;
    let scheduled_us = field("scheduled")?;
    Ok(Header {
        topic: u32::try_from(topic).map_err(|_| PayloadError::BadField("topic"))?,
        seq,
        scheduled_us,
    })
}

/// Now, as µs since the Unix epoch.
pub fn now_us() -> u64 {
    to_us(SystemTime::now())
}

/// A wall-clock time as µs since the Unix epoch (0 before the epoch).
pub fn to_us(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_micros() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_padding() {
        let h = Header {
            topic: 3,
            seq: 42,
            scheduled_us: 1_764_097_501_123_456,
        };
        let p = encode(h, 256);
        assert_eq!(p.len(), 256);
        assert!(p.ends_with('x'));
        assert_eq!(decode(&p), Ok(h));
        // A size smaller than the header gives just the header.
        assert_eq!(decode(&encode(h, 1)), Ok(h));
    }

    #[test]
    fn the_widest_header_fits_the_minimum_size() {
        assert_eq!(MAX_HEADER_LEN, 57);
        let widest = Header {
            topic: u32::MAX,
            seq: u64::MAX,
            scheduled_us: u64::MAX,
        };
        assert_eq!(encode(widest, 1).len(), MAX_HEADER_LEN);
        assert_eq!(encode(widest, MAX_HEADER_LEN).len(), MAX_HEADER_LEN);
    }

    #[test]
    fn rejects_foreign_payloads() {
        assert_eq!(decode("hello"), Err(PayloadError::NotOurs));
        assert_eq!(decode("pb1 0 x 5 "), Err(PayloadError::BadField("seq")));
    }
}

//! `histograms/<technique>.hlog`: each technique's steady-state latency histogram (µs) in the
//! HdrHistogram interval-log format (V2, deflate-compressed, base64), written by [`write_log`];
//! and the histograms it holds read back from untrusted bytes, by [`read_log`] (a log) and
//! [`decode_base64`] (one histogram: a log line's, or a worker report's).
//!
//! A serialized HdrHistogram (V2) begins with a header that claims its payload's length, and
//! the `hdrhistogram` deserializer allocates that length before reading it: a crafted 150-byte
//! log line claiming 0x7fffffff bytes made it allocate 2 GB. So the header is checked here
//! first: a compressed histogram's claimed length must be the line's actual length, it may
//! decompress to at most [`MAX_DECODED_BYTES`], and the decompressed payload's claimed length
//! must be what is there. A run's own logs are a few KiB; a reader should refuse a log file
//! larger than [`MAX_HLOG_BYTES`]. Every failure is a plain sentence (and its line).

use std::borrow::Cow;
use std::io::Read;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::interval_log::{
    IntervalLogIterator, IntervalLogWriterBuilder, LogEntry, Tag,
};
use hdrhistogram::serialization::{
    DeserializeError, Deserializer, Serializer, V2DeflateSerializer,
};

/// The largest `.hlog` file read (a run writes one interval per technique: a few KiB).
pub const MAX_HLOG_BYTES: u64 = 64 << 20;
/// The largest a histogram's counts may decompress to (a histogram of ours, 1 µs to 1 h at
/// 3 significant figures, holds 23,552 counts: at most ~210 KiB).
pub const MAX_DECODED_BYTES: usize = 16 << 20;

/// The V2 header's cookies (uncompressed, and deflate-compressed) and length.
const V2_COOKIE: u32 = 0x1c84_9313;
const V2_COMPRESSED_COOKIE: u32 = 0x1c84_9314;
const V2_HEADER_LEN: usize = 40;

/// Why a serialized histogram cannot be read (a plain sentence fragment).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct DecodeError(String);

fn err<T>(msg: impl Into<String>) -> Result<T, DecodeError> {
    Err(DecodeError(msg.into()))
}

/// The big-endian u32 at `at`, if `bytes` holds it.
fn be_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at + 4)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// Decodes the base64 text of one serialized histogram (V2, compressed or not).
pub fn decode_base64(text: &str) -> Result<Histogram<u64>, DecodeError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .or_else(|e| err(format!("the histogram is not valid base64 ({e})")))?;
    decode(&bytes)
}

/// Decodes one serialized histogram (V2, compressed or not), checking every length its
/// headers claim before anything is allocated for it.
pub fn decode(bytes: &[u8]) -> Result<Histogram<u64>, DecodeError> {
    let plain: Cow<[u8]> = match be_u32(bytes, 0) {
        Some(V2_COMPRESSED_COOKIE) => Cow::Owned(inflate(bytes)?),
        Some(V2_COOKIE) => Cow::Borrowed(bytes),
        Some(c) => {
            return err(format!(
                "not an HdrHistogram V2 histogram (cookie {c:#010x})"
            ));
        }
        None => return err(format!("a histogram of {} bytes is too short", bytes.len())),
    };
    let Some(claimed) = be_u32(&plain, 4) else {
        return err("the histogram ends inside its header");
    };
    let actual = plain.len().saturating_sub(V2_HEADER_LEN);
    if plain.len() < V2_HEADER_LEN || claimed as usize != actual {
        return err(format!(
            "the histogram's header claims {claimed} bytes of counts but {actual} follow"
        ));
    }
    Deserializer::new()
        .deserialize(&mut &plain[..])
        .or_else(|e| err(format!("the histogram does not decode: {}", explain(&e))))
}

/// The V2 payload inside a compressed histogram, at most [`MAX_DECODED_BYTES`].
fn inflate(bytes: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let claimed = be_u32(bytes, 4).unwrap_or(0);
    let body = bytes.get(8..).unwrap_or_default();
    if claimed as usize != body.len() {
        return err(format!(
            "the histogram's header claims {claimed} compressed bytes but {} follow",
            body.len()
        ));
    }
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(body)
        .take(MAX_DECODED_BYTES as u64 + 1)
        .read_to_end(&mut out)
        .or_else(|e| err(format!("the histogram does not decompress ({e})")))?;
    if out.len() > MAX_DECODED_BYTES {
        return err(format!(
            "the histogram decompresses to more than {MAX_DECODED_BYTES} bytes"
        ));
    }
    if be_u32(&out, 0) != Some(V2_COOKIE) {
        return err("the compressed histogram does not hold an HdrHistogram V2 histogram");
    }
    Ok(out)
}

/// The deserializer's errors in words.
fn explain(e: &DeserializeError) -> String {
    match e {
        DeserializeError::IoError(e) => format!("it ends early ({e})"),
        DeserializeError::InvalidCookie => "its format is unknown".into(),
        DeserializeError::UnsupportedFeature => {
            "it uses an HdrHistogram feature this reader does not support".into()
        }
        DeserializeError::UnsuitableCounterType => "a count is too large".into(),
        DeserializeError::InvalidParameters => {
            "its lowest, highest value or significant digits are invalid".into()
        }
        DeserializeError::UsizeTypeTooSmall => "it is too large for this machine".into(),
        DeserializeError::EncodedArrayTooLong => {
            "it holds more counts than its value range allows".into()
        }
    }
}

/// Line number (from 1) of byte `offset` of `bytes`.
fn line_of(bytes: &[u8], offset: usize) -> usize {
    bytes[..offset.min(bytes.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Why an interval log cannot be read: where, and what is wrong.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("line {line}: {message}")]
pub struct LogError {
    /// From 1.
    pub line: usize,
    pub message: String,
}

/// Reads an HdrHistogram interval log and adds up its intervals (an exact merge). A log with
/// no interval is an error: a run writes one per technique, even with no latency recorded.
pub fn read_log(bytes: &[u8]) -> Result<Histogram<u64>, LogError> {
    let bad = |line: usize, message: String| LogError { line, message };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(bad(1, "the histogram log is empty".into()));
    }
    let mut total: Option<Histogram<u64>> = None;
    for entry in IntervalLogIterator::new(bytes) {
        let interval = match entry {
            Ok(LogEntry::Interval(i)) => i,
            Ok(_) => continue,
            Err(e) => {
                let hdrhistogram::serialization::interval_log::LogIteratorError::ParseError {
                    offset,
                } = e;
                let message = "not an HdrHistogram interval log line".to_string();
                return Err(bad(line_of(bytes, offset), message));
            }
        };
        // The encoded text borrows from `bytes`: its address gives its line.
        let text = interval.encoded_histogram();
        let offset = (text.as_ptr() as usize).saturating_sub(bytes.as_ptr() as usize);
        let line = line_of(bytes, offset);
        let h = decode_base64(text).map_err(|e| bad(line, e.to_string()))?;
        match total.as_mut() {
            None => {
                let mut h = h;
                h.auto(true);
                total = Some(h);
            }
            Some(t) => t
                .add(&h)
                .map_err(|e| bad(line, format!("the histogram does not add up: {e}")))?,
        }
    }
    let last = line_of(bytes, bytes.len().saturating_sub(1));
    total.ok_or_else(|| bad(last, "the log holds no histogram, only headers".into()))
}

/// An interval log holding one interval: histogram `h`, covering (`start`, `len`), tagged
/// `tag` (the technique), its times relative to `run_start`.
pub fn write_log(
    h: &Histogram<u64>,
    run_start: SystemTime,
    start: SystemTime,
    len: Duration,
    tag: &str,
) -> std::io::Result<Vec<u8>> {
    write_log_intervals(&[(h, start, len)], run_start, tag)
}

/// An interval log holding several intervals, each a histogram with the window it covers
/// (`start`, `len`), all tagged `tag`, times relative to `run_start` (`run --repeat`: one
/// interval per repetition; [`read_log`] adds them up).
pub fn write_log_intervals(
    intervals: &[(&Histogram<u64>, SystemTime, Duration)],
    run_start: SystemTime,
    tag: &str,
) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    let mut ser = V2DeflateSerializer::new();
    {
        let mut w = IntervalLogWriterBuilder::new()
            .add_comment("pushbench publish-to-receive latency, microseconds")
            .with_start_time(run_start)
            .with_base_time(run_start)
            .begin_log_with(&mut buf, &mut ser)?;
        for (h, start, len) in intervals {
            let offset = start.duration_since(run_start).unwrap_or(Duration::ZERO);
            w.write_histogram(h, offset, *len, Tag::new(tag))
                .map_err(|e| std::io::Error::other(format!("cannot write the histogram: {e}")))?;
        }
    }
    Ok(buf)
}

/// One histogram as an interval-log line holds it: V2 deflate serialization, base64 (exact:
/// histograms decoded from it add up to the very sums).
pub fn encode_base64(h: &Histogram<u64>) -> Result<String, String> {
    let mut buf = Vec::new();
    V2DeflateSerializer::new()
        .serialize(h, &mut buf)
        .map_err(|e| format!("cannot serialize the histogram: {e}"))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(buf))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A V2 header claiming `claimed` bytes of counts, for values 1..3,600,000,000 at 3
    /// significant figures, followed by `counts`.
    fn v2(claimed: u32, counts: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&V2_COOKIE.to_be_bytes());
        b.extend_from_slice(&claimed.to_be_bytes());
        b.extend_from_slice(&0u32.to_be_bytes());
        b.extend_from_slice(&3u32.to_be_bytes());
        b.extend_from_slice(&1u64.to_be_bytes());
        b.extend_from_slice(&3_600_000_000u64.to_be_bytes());
        b.extend_from_slice(&1.0f64.to_be_bytes());
        b.extend_from_slice(counts);
        b
    }

    /// `plain` deflated, behind a compressed V2 header claiming `claimed` bytes (None: the
    /// real length).
    fn compressed(plain: &[u8], claimed: Option<u32>) -> Vec<u8> {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(plain).unwrap();
        let body = z.finish().unwrap();
        let mut b = Vec::new();
        b.extend_from_slice(&V2_COMPRESSED_COOKIE.to_be_bytes());
        b.extend_from_slice(&claimed.unwrap_or(body.len() as u32).to_be_bytes());
        b.extend_from_slice(&body);
        b
    }

    #[test]
    fn claimed_lengths_are_checked_before_decoding() {
        // The 2 GB claim, plain and inside a compressed histogram: refused, nothing allocated.
        let e = decode(&v2(0x7fff_ffff, &[])).unwrap_err().to_string();
        assert_eq!(
            e,
            "the histogram's header claims 2147483647 bytes of counts but 0 follow"
        );
        let e = decode(&compressed(&v2(0x7fff_ffff, &[]), None)).unwrap_err();
        assert!(e.to_string().contains("claims 2147483647 bytes"), "{e}");
        let e = decode(&compressed(&v2(0, &[]), Some(0x7fff_ffff))).unwrap_err();
        assert!(
            e.to_string().contains("claims 2147483647 compressed bytes"),
            "{e}"
        );
        // A decompression bomb stops at the cap.
        let mut bomb = v2(0, &[]);
        bomb.resize(MAX_DECODED_BYTES + 100, 0);
        let e = decode(&compressed(&bomb, None)).unwrap_err();
        assert!(e.to_string().contains("decompresses to more than"), "{e}");
        assert!(
            decode(&[0x1c, 0x84])
                .unwrap_err()
                .to_string()
                .contains("too short")
        );
        assert!(
            decode(b"\0\0\0\0")
                .unwrap_err()
                .to_string()
                .contains("cookie")
        );
    }

    #[test]
    fn a_real_histogram_still_round_trips() {
        use hdrhistogram::serialization::{Serializer, V2DeflateSerializer, V2Serializer};
        let mut h = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
        for v in [3, 40, 500, 6_000, 70_000] {
            h.record_n(v, v % 7 + 1).unwrap();
        }
        let mut z = Vec::new();
        V2DeflateSerializer::new().serialize(&h, &mut z).unwrap();
        assert_eq!(decode(&z).unwrap(), h);
        let mut p = Vec::new();
        V2Serializer::new().serialize(&h, &mut p).unwrap();
        assert_eq!(decode(&p).unwrap(), h);
        // One byte short of what the header claims.
        p.pop();
        assert!(decode(&p).unwrap_err().to_string().contains("claims"));
    }

    #[test]
    fn a_written_log_reads_back() {
        let mut h = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
        for v in [100, 200, 300_000] {
            h.record(v).unwrap();
        }
        let t = SystemTime::now();
        let log = write_log(
            &h,
            t,
            t + Duration::from_secs(2),
            Duration::from_secs(8),
            "sse",
        )
        .unwrap();
        let mut found = 0;
        for e in IntervalLogIterator::new(&log) {
            if let Ok(LogEntry::Interval(i)) = e {
                assert_eq!(i.tag().map(|t| t.as_str().to_string()), Some("sse".into()));
                assert_eq!(i.duration(), Duration::from_secs(8));
                found += 1;
            }
        }
        assert_eq!(found, 1);
        assert_eq!(read_log(&log).unwrap(), h);
        assert_eq!(decode_base64(&encode_base64(&h).unwrap()).unwrap(), h);
        let e = read_log(b"#just a comment\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 1: the log holds no histogram, only headers"
        );
        assert_eq!(read_log(b"\n ").unwrap_err().line, 1);
    }

    #[test]
    fn several_intervals_read_back_as_their_sum() {
        let mut a = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
        let mut b = a.clone();
        a.record_n(100, 3).unwrap();
        b.record_n(900_000, 2).unwrap();
        let t = SystemTime::now();
        let len = Duration::from_secs(1);
        let log = write_log_intervals(&[(&a, t, len), (&b, t + 3 * len, len)], t, "ws").unwrap();
        let intervals = IntervalLogIterator::new(&log)
            .filter(|e| matches!(e, Ok(LogEntry::Interval(_))))
            .count();
        assert_eq!(intervals, 2);
        let sum = read_log(&log).unwrap();
        assert_eq!((sum.len(), sum.max() >= 899_000), (5, true));
    }

    #[test]
    fn lines_are_counted_from_one() {
        let b = b"a\nb\nc";
        assert_eq!((line_of(b, 0), line_of(b, 2), line_of(b, 4)), (1, 2, 3));
    }
}

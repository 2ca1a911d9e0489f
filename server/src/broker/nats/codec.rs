//! How pushbench's messages look on NATS: a topic's subject (`NS.t.{topic}`, every '.' of the
//! topic as '~' so a topic is one subject token), the republished subject the instances
//! subscribe to (`NS.r.{topic}`), the stream's name, and the headers a message carries
//! (`Pb-Seq`, `Pb-Event`, `Pb-Marker`). Pure functions, unit-tested here.

use async_nats::HeaderMap;

/// The topic's seq of a message.
pub const SEQ: &str = "Pb-Seq";
/// The message's event name, when it has one.
pub const EVENT: &str = "Pb-Event";
/// Present (`1`) on a marker: a message that only raises the topic's seq.
pub const MARKER: &str = "Pb-Marker";
/// Optimistic concurrency: the stream sequence of the subject's last message (0: none).
pub const EXPECTED_LAST: &str = "Nats-Expected-Last-Subject-Sequence";
/// Added by the server to a republished message: its stream sequence.
pub const STREAM_SEQ: &str = "Nats-Sequence";

/// A valid stream name for the namespace (no '.', ' ', '*', '>', or path characters).
pub fn stream_name(ns: &str) -> String {
    ns.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The subject a topic is published (and stored) under.
pub fn subject(ns: &str, topic: &str) -> String {
    format!("{ns}.t.{}", topic.replace('.', "~"))
}

/// The stream's subjects.
pub fn stream_subjects(ns: &str) -> String {
    format!("{ns}.t.>")
}

/// Where the stream republishes what it stores, and what the instances subscribe to.
pub fn republished(ns: &str) -> String {
    format!("{ns}.r.>")
}

/// The topic of a republished subject (None: not one of this namespace's).
pub fn topic_of(ns: &str, subject: &str) -> Option<String> {
    let token = subject.strip_prefix(ns)?.strip_prefix(".r.")?;
    if token.is_empty() || token.contains('.') {
        return None;
    }
    Some(token.replace('~', "."))
}

/// The headers of a message with topic seq `seq`, published after the subject's message of
/// stream sequence `expected_last` (0: none).
pub fn headers(seq: u64, event: Option<&str>, marker: bool, expected_last: u64) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(SEQ, seq.to_string().as_str());
    if let Some(e) = event {
        h.insert(EVENT, e);
    }
    if marker {
        h.insert(MARKER, "1");
    }
    h.insert(EXPECTED_LAST, expected_last.to_string().as_str());
    h
}

/// A message as read back from NATS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub seq: u64,
    pub marker: bool,
    pub event: Option<String>,
    pub data: String,
}

/// Why a message could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("no headers")]
    NoHeaders,
    #[error("no valid {SEQ} header")]
    NoSeq,
    #[error("the payload is not UTF-8")]
    NotUtf8,
}

/// Decodes a stored or republished message.
pub fn decode(headers: Option<&HeaderMap>, payload: &[u8]) -> Result<Decoded, DecodeError> {
    let h = headers.ok_or(DecodeError::NoHeaders)?;
    let seq = number(h, SEQ)
        .filter(|&s| s > 0)
        .ok_or(DecodeError::NoSeq)?;
    let marker = h.get(MARKER).is_some_and(|v| v.as_str() == "1");
    let event = h.get(EVENT).map(|v| v.as_str().to_string());
    let data = std::str::from_utf8(payload)
        .map_err(|_| DecodeError::NotUtf8)?
        .to_string();
    Ok(Decoded {
        seq,
        marker,
        event,
        data,
    })
}

/// A header's value as a number.
pub fn number(h: &HeaderMap, name: &str) -> Option<u64> {
    h.get(name)?.as_str().trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_map_topics_one_to_one() {
        assert_eq!(subject("ns", "a.b-c_1"), "ns.t.a~b-c_1");
        assert_eq!(stream_subjects("ns"), "ns.t.>");
        assert_eq!(republished("ns"), "ns.r.>");
        assert_eq!(topic_of("ns", "ns.r.a~b-c_1").as_deref(), Some("a.b-c_1"));
        assert_eq!(topic_of("ns", "ns.t.a"), None);
        assert_eq!(topic_of("ns", "other.r.a"), None);
        assert_eq!(topic_of("ns", "ns.r.a.b"), None);
        assert_eq!(topic_of("ns", "ns.r."), None);
        assert_eq!(stream_name("a.b c*>/x-y_z"), "a_b_c___x-y_z");
    }

    #[test]
    fn headers_round_trip() {
        let h = headers(7, Some("ev"), false, 42);
        assert_eq!(number(&h, EXPECTED_LAST), Some(42));
        let d = decode(Some(&h), b"hello").unwrap();
        assert_eq!(
            d,
            Decoded {
                seq: 7,
                marker: false,
                event: Some("ev".into()),
                data: "hello".into()
            }
        );
        let m = decode(Some(&headers(9, None, true, 0)), b"").unwrap();
        assert!(m.marker);
        assert_eq!((m.seq, m.event), (9, None));
    }

    #[test]
    fn bad_messages_are_errors() {
        assert_eq!(decode(None, b"x"), Err(DecodeError::NoHeaders));
        let mut h = HeaderMap::new();
        assert_eq!(decode(Some(&h), b"x"), Err(DecodeError::NoSeq));
        h.insert(SEQ, "zero");
        assert_eq!(decode(Some(&h), b"x"), Err(DecodeError::NoSeq));
        h.insert(SEQ, "0");
        assert_eq!(decode(Some(&h), b"x"), Err(DecodeError::NoSeq));
        h.insert(SEQ, "3");
        assert_eq!(decode(Some(&h), &[0xff, 0xfe]), Err(DecodeError::NotUtf8));
    }
}

//! How a message is written in Redis, both in a topic's log (`NS:log:TOPIC`) and on the
//! pub/sub channel (`NS:messages`): one header line, then the data as is,
//!
//! ```text
//! SEQ SP TOPIC SP EVENT LF DATA
//! ```
//!
//! with EVENT empty when the message has none. Topic and event names are
//! `[A-Za-z0-9_.-]{1,64}`, so neither holds a space or a line feed and the header is
//! unambiguous; the data (any UTF-8, line feeds included) is everything after the first line
//! feed. The publish script (`scripts::PUBLISH`) builds the same bytes in Lua; [`encode`] is
//! its mirror for tests. [`decode`] never panics: what comes from the wire is checked and a
//! bad entry is an error the caller skips.

use super::super::Delivery;

/// Why bytes from Redis are not a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("no header line")]
    NoHeader,
    #[error("bad header '{0}'")]
    BadHeader(String),
    #[error("bad seq '{0}'")]
    BadSeq(String),
    #[error("bad topic '{0}'")]
    BadTopic(String),
    #[error("bad event name '{0}'")]
    BadEvent(String),
    #[error("data is not UTF-8")]
    NotUtf8,
}

/// The bytes of a message (as the publish script writes them; used by the tests).
#[cfg(test)]
pub fn encode(d: &Delivery) -> Vec<u8> {
    let mut out = format!(
        "{} {} {}\n",
        d.seq,
        d.topic,
        d.event.as_deref().unwrap_or("")
    )
    .into_bytes();
    out.extend_from_slice(d.data.as_bytes());
    out
}

/// A message from its bytes.
pub fn decode(bytes: &[u8]) -> Result<Delivery, DecodeError> {
    let nl = bytes
        .iter()
        .position(|&b| b == b'\n')
        .ok_or(DecodeError::NoHeader)?;
    let header = std::str::from_utf8(&bytes[..nl])
        .map_err(|_| DecodeError::BadHeader(String::from_utf8_lossy(&bytes[..nl]).into()))?;
    let data = std::str::from_utf8(&bytes[nl + 1..]).map_err(|_| DecodeError::NotUtf8)?;
    let mut parts = header.split(' ');
    let (Some(seq), Some(topic), Some(event), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(DecodeError::BadHeader(short(header)));
    };
    let seq = match seq.parse::<u64>() {
        Ok(s) if s > 0 && seq.bytes().all(|b| b.is_ascii_digit()) => s,
        _ => return Err(DecodeError::BadSeq(short(seq))),
    };
    if !valid_name(topic) {
        return Err(DecodeError::BadTopic(short(topic)));
    }
    let event = match event {
        "" => None,
        e if valid_name(e) => Some(e.to_string()),
        e => return Err(DecodeError::BadEvent(short(e))),
    };
    Ok(Delivery {
        topic: topic.to_string(),
        seq,
        event,
        data: data.to_string(),
    })
}

/// `[A-Za-z0-9_.-]{1,64}`: a topic or event name.
fn valid_name(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// At most 80 characters of something bad, for an error line.
fn short(s: &str) -> String {
    s.chars()
        .take(80)
        .collect::<String>()
        .escape_debug()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(topic: &str, seq: u64, event: Option<&str>, data: &str) -> Delivery {
        Delivery {
            topic: topic.into(),
            seq,
            event: event.map(Into::into),
            data: data.into(),
        }
    }

    #[test]
    fn round_trips() {
        let long_name = "a".repeat(64);
        let big = "é\n\r\0 ".repeat(50_000);
        for m in [
            d("t", 1, None, ""),
            d("t", u64::MAX, Some("e"), "x"),
            d("a.b-c_9", 42, Some("-"), "line one\nline two\n\n"),
            d(&long_name, 7, Some(&long_name), "🦀 unicode ✓"),
            d("t", 3, None, "\n"),
            d("t", 3, Some("ev"), " 5 t ev\n"),
            d("t", 9, None, &big),
        ] {
            assert_eq!(decode(&encode(&m)), Ok(m.clone()));
        }
        assert_eq!(encode(&d("t", 5, None, "hi")), b"5 t \nhi");
        assert_eq!(encode(&d("t", 5, Some("e"), "hi")), b"5 t e\nhi");
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        let bad: &[(&[u8], &str)] = &[
            (b"", "no header"),
            (b"5 t ", "no header"),
            (b"5 t\nx", "bad header"),
            (b"5 t e x\nx", "bad header"),
            (b"x t \nx", "bad seq"),
            (b"0 t \nx", "bad seq"),
            (b"+5 t \nx", "bad seq"),
            (b"-5 t \nx", "bad seq"),
            (b"99999999999999999999 t \nx", "bad seq"),
            (b"5  \nx", "bad topic"),
            (b"5 t/x \nx", "bad topic"),
            (b"5 t e/v\nx", "bad event"),
            (b"5 t \n\xff\xfe", "not UTF-8"),
            (b"\xff t \nx", "bad header"),
        ];
        for (bytes, why) in bad {
            let e = decode(bytes).expect_err("malformed");
            assert!(e.to_string().contains(why), "{bytes:?}: {e}");
        }
        let long = format!("5 {} \nx", "t".repeat(65));
        assert!(matches!(
            decode(long.as_bytes()),
            Err(DecodeError::BadTopic(_))
        ));
    }
}

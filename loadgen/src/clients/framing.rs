//! Reading a payload out of a target's own framing (see [`crate::profile::Framing`]): the raw
//! payload itself, or a field of a JSON envelope; and the protocol error for bytes that are
//! not what the profile says, their first bytes shown once per technique (on stderr).

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use super::wire::{Item, parse_item};
use super::{ClientError, Deliverer};
use crate::payload;
use crate::profile::Framing;
use crate::stats::Recorder;
use crate::technique::Technique;

/// How many bytes of an offending message are shown.
const SHOWN_BYTES: usize = 80;

/// Whether each technique (by its index in [`Technique::ALL`]) showed its offending bytes.
static SHOWN: [AtomicBool; 5] = [const { AtomicBool::new(false) }; 5];

/// A protocol error for `bytes` that are not `what`; the first time for `technique` (in this
/// process) it is also printed, with the first bytes escaped.
pub fn offending(technique: Technique, what: &str, bytes: &[u8]) -> ClientError {
    let head: String = bytes
        .iter()
        .take(SHOWN_BYTES)
        .flat_map(|&b| std::ascii::escape_default(b))
        .map(char::from)
        .collect();
    let more = if bytes.len() > SHOWN_BYTES { "..." } else { "" };
    let msg = format!("{what}; first bytes: \"{head}{more}\"");
    let i = Technique::ALL
        .iter()
        .position(|&t| t == technique)
        .unwrap_or(0);
    if !SHOWN[i].swap(true, Relaxed) {
        eprintln!("pushbench: {technique}: protocol error: {msg}");
    }
    ClientError::Protocol(msg)
}

/// A raw payload: UTF-8 text starting with pushbench's `pb1` header.
pub fn raw(technique: Technique, bytes: &[u8]) -> Result<&str, ClientError> {
    match std::str::from_utf8(bytes) {
        Ok(s) if payload::decode(s).is_ok() => Ok(s),
        _ => Err(offending(
            technique,
            "not a pushbench payload (`pb1 TOPIC SEQ TIME ...`) as the profile's framing says",
            bytes,
        )),
    }
}

/// A payload from a JSON envelope: `field`'s string, and the object's `id` (a string or a
/// number) as a cursor. `Ok(None)` for an object without `field` that has a `gap` (a notice,
/// not a message).
pub fn envelope(
    technique: Technique,
    bytes: &[u8],
    field: &str,
) -> Result<Option<(String, Option<String>)>, ClientError> {
    let bad = |what: &str| offending(technique, what, bytes);
    let obj: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(bytes)
        .map_err(|_| bad("not a JSON object as the profile's json-envelope framing says"))?;
    let data = match obj.get(field) {
        Some(serde_json::Value::String(s)) => s.clone(),
        None if obj.contains_key("gap") => return Ok(None),
        _ => return Err(bad(&format!("a JSON object without a string `{field}`"))),
    };
    if payload::decode(&data).is_err() {
        return Err(bad(&format!(
            "`{field}` is not a pushbench payload (`pb1 TOPIC SEQ TIME ...`)"
        )));
    }
    let id = match obj.get("id") {
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    Ok(Some((data, id)))
}

/// Reads one message (a line, a chunk, a WebSocket message) in the profile's framing.
pub(super) struct Reader<'a> {
    pub technique: Technique,
    pub rec: &'a Recorder,
    pub sink: &'a mut Deliverer,
}

impl Reader<'_> {
    /// Delivers the message's payload; returns the server's id of it, if the framing has one.
    /// Bytes that are not in the framing are counted as a protocol error.
    pub fn message(&mut self, f: &Framing, bytes: &[u8]) -> Option<String> {
        let r = match f {
            Framing::Pushbench => match parse_item(bytes) {
                Ok(Item::Message(m)) => {
                    self.sink.deliver(&m.data);
                    return Some(m.id.to_string());
                }
                Ok(Item::Gap(_)) => {
                    self.rec.gap();
                    return None;
                }
                Err(e) => Err(offending(self.technique, &e.to_string(), bytes)),
            },
            Framing::JsonEnvelope(field) => envelope(self.technique, bytes, field).map(|m| {
                let (data, id) = m?;
                self.sink.deliver(&data);
                id
            }),
            _ => raw(self.technique, bytes).map(|data| {
                self.sink.deliver(data);
                None
            }),
        };
        r.unwrap_or_else(|e| {
            self.rec.error(e.kind());
            None
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_and_envelopes() {
        let t = Technique::Ws;
        assert_eq!(raw(t, b"pb1 0 1 2 x").unwrap(), "pb1 0 1 2 x");
        let e = raw(t, br#"{"id":1,"data":"pb1 0 1 2 x"}"#).unwrap_err();
        assert!(e.to_string().contains(r#"first bytes: "{\"id\":1"#), "{e}");
        let (data, id) = envelope(t, br#"{"id": 7, "data": "pb1 0 1 2 x"}"#, "data")
            .unwrap()
            .unwrap();
        assert_eq!((data.as_str(), id.as_deref()), ("pb1 0 1 2 x", Some("7")));
        let (_, id) = envelope(t, br#"{"id":"a:1","m":"pb1 0 1 2"}"#, "m")
            .unwrap()
            .unwrap();
        assert_eq!(id.as_deref(), Some("a:1"));
        assert!(envelope(t, br#"{"gap":{}}"#, "data").unwrap().is_none());
        assert!(envelope(t, b"pb1 0 1 2 x", "data").is_err());
        assert!(envelope(t, br#"{"data":"hello"}"#, "data").is_err());
    }
}

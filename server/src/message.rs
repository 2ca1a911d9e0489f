//! A published message, encoded once per framing at publish time and shared (`Arc`, `Bytes`)
//! by every subscriber: the JSON object (poll, long poll, WebSocket), the NDJSON line (stream)
//! and the SSE event. Also the encodings of a gap and the SSE heartbeat and retry hint.

use bytes::Bytes;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::metrics::Technique;

/// One message of a topic with its framings ready to write.
#[derive(Debug)]
pub struct Message {
    /// The per-topic sequence number (1, 2, 3 ...).
    pub seq: u64,
    /// `{"id":..,"event":..,"data":..}` followed by `\n`: the stream framing.
    ndjson: Bytes,
    /// The SSE event: `id:`, optional `event:`, `data:` lines, blank line.
    sse: Bytes,
    /// The JSON object as a WebSocket text payload (shares `ndjson`'s buffer).
    ws: Utf8Bytes,
}

/// Why a message could not be built. (Its cause is in its text, not also a `source`, so it
/// is printed once.)
#[derive(Debug, thiserror::Error)]
#[error("message encoding failed: {0}")]
pub struct EncodeError(serde_json::Error);

impl From<serde_json::Error> for EncodeError {
    fn from(e: serde_json::Error) -> Self {
        EncodeError(e)
    }
}

impl Message {
    /// Encodes a message with sequence number `seq`, optional event name and payload.
    pub fn new(seq: u64, event: Option<&str>, data: &str) -> Result<Message, EncodeError> {
        let mut line = Vec::with_capacity(data.len() + 48);
        line.extend_from_slice(b"{\"id\":");
        line.extend_from_slice(seq.to_string().as_bytes());
        if let Some(ev) = event {
            line.extend_from_slice(b",\"event\":");
            serde_json::to_writer(&mut line, ev)?;
        }
        line.extend_from_slice(b",\"data\":");
        serde_json::to_writer(&mut line, data)?;
        line.extend_from_slice(b"}\n");
        let ndjson = Bytes::from(line);
        let ws =
            Utf8Bytes::try_from(ndjson.slice(..ndjson.len() - 1)).expect("serde_json writes UTF-8");
        let sse = Bytes::from(sse_event(Some(seq), event, data));
        Ok(Message {
            seq,
            ndjson,
            sse,
            ws,
        })
    }

    /// The JSON object, without a trailing newline.
    pub fn json(&self) -> &[u8] {
        &self.ndjson[..self.ndjson.len() - 1]
    }

    /// The NDJSON line (JSON object + `\n`).
    pub fn ndjson(&self) -> Bytes {
        self.ndjson.clone()
    }

    /// The complete SSE event, ending with the blank line.
    pub fn sse(&self) -> Bytes {
        self.sse.clone()
    }

    /// The JSON object as a WebSocket text payload.
    pub fn ws_text(&self) -> Utf8Bytes {
        self.ws.clone()
    }

    /// The message as a live response of technique `t` carries it: the NDJSON line on a
    /// stream, the SSE event otherwise.
    pub fn streamed(&self, t: Technique) -> Bytes {
        match t {
            Technique::Stream => self.ndjson(),
            _ => self.sse(),
        }
    }
}

/// Builds an SSE event; `data` is split into one `data:` line per line (LF, CR or CRLF).
pub fn sse_event(id: Option<u64>, event: Option<&str>, data: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 48);
    if let Some(id) = id {
        out.extend_from_slice(format!("id: {id}\n").as_bytes());
    }
    if let Some(ev) = event {
        out.extend_from_slice(format!("event: {ev}\n").as_bytes());
    }
    let bytes = data.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' | b'\r' => {
                out.extend_from_slice(b"data: ");
                out.extend_from_slice(&bytes[start..i]);
                out.push(b'\n');
                if bytes[i] == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(&bytes[start..]);
    out.extend_from_slice(b"\n\n");
    out
}

/// A gap: the client asked for everything after `since`, the oldest message held is `first`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap {
    pub since: u64,
    pub first_available: u64,
}

impl Gap {
    /// `{"since":N,"first_available":M}`.
    pub fn inner_json(&self) -> String {
        format!(
            "{{\"since\":{},\"first_available\":{}}}",
            self.since, self.first_available
        )
    }

    /// `{"gap":{...}}`, the gap as a message object (stream line, WebSocket frame).
    pub fn object_json(&self) -> String {
        format!("{{\"gap\":{}}}", self.inner_json())
    }

    /// The SSE `event: gap` announcement.
    pub fn sse(&self) -> Bytes {
        Bytes::from(sse_event(None, Some("gap"), &self.inner_json()))
    }
}

/// The SSE heartbeat comment.
pub const SSE_HEARTBEAT: &[u8] = b": hb\n\n";
/// The NDJSON heartbeat (an empty line).
pub const STREAM_HEARTBEAT: &[u8] = b"\n";

/// The heartbeat of a live response of technique `t` (see [`Message::streamed`]).
pub fn heartbeat(t: Technique) -> &'static [u8] {
    match t {
        Technique::Stream => STREAM_HEARTBEAT,
        _ => SSE_HEARTBEAT,
    }
}

/// The `retry:` hint that starts every SSE response.
pub fn sse_retry(ms: u64) -> Bytes {
    Bytes::from(format!("retry: {ms}\n\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_splits_every_line_break() {
        let e = sse_event(Some(3), Some("tick"), "a\nb\r\nc\rd");
        assert_eq!(
            std::str::from_utf8(&e).unwrap(),
            "id: 3\nevent: tick\ndata: a\ndata: b\ndata: c\ndata: d\n\n"
        );
        let e = sse_event(Some(1), None, "");
        assert_eq!(std::str::from_utf8(&e).unwrap(), "id: 1\ndata: \n\n");
        let e = sse_event(Some(1), None, "x\n");
        assert_eq!(
            std::str::from_utf8(&e).unwrap(),
            "id: 1\ndata: x\ndata: \n\n"
        );
    }

    #[test]
    fn json_escapes_payload() {
        let m = Message::new(7, None, "q\"\n").unwrap();
        assert_eq!(m.json(), br#"{"id":7,"data":"q\"\n"}"#);
        assert_eq!(&m.ndjson()[..], b"{\"id\":7,\"data\":\"q\\\"\\n\"}\n");
        assert_eq!(m.ws_text().as_str(), r#"{"id":7,"data":"q\"\n"}"#);
    }
}

//! The bytes of one generated event: an OpenAI `chat.completion.chunk` object whose content is
//! exactly `event_bytes` ASCII letters, plus `pushbench: {seq, due_us}` so a client measures
//! lateness. Every value is a number or a string of safe characters, so the object is written
//! by formatting, with no escaping to get wrong (a test parses it back).

use std::io::Write as _;

/// The letters an event's content cycles through.
const LETTERS: &[u8; 26] = b"abcdefghijklmnopqrstuvwxyz";

/// Writes the events of one stream.
#[derive(Debug)]
pub struct Encoder {
    /// `gen-<stream id>`.
    id: String,
    /// The stream's start, whole seconds since the epoch (the same in every chunk).
    created: u64,
    /// The content of every event.
    content: Box<str>,
    /// The stream's event count (the last one says `"finish_reason":"stop"`).
    events: u64,
}

impl Encoder {
    /// The encoder of stream `stream_id` (letters, digits and `-` only), accepted at
    /// `start_us`, of `events` events of `event_bytes` letters.
    pub fn new(stream_id: &str, start_us: u64, events: u64, event_bytes: u64) -> Encoder {
        let n = usize::try_from(event_bytes).unwrap_or(usize::MAX);
        let content: String = LETTERS.iter().cycle().take(n).map(|b| *b as char).collect();
        Encoder {
            id: format!("gen-{stream_id}"),
            created: start_us / 1_000_000,
            content: content.into_boxed_str(),
            events,
        }
    }

    /// The length of one event's JSON, about (a capacity hint).
    pub fn size_hint(&self) -> usize {
        self.content.len() + self.id.len() + 200
    }

    /// Appends event `seq` (due at `due_us`) to `out`.
    pub fn write(&self, out: &mut Vec<u8>, seq: u64, due_us: u64) {
        let finish = if seq + 1 >= self.events {
            "\"stop\""
        } else {
            "null"
        };
        // Writing to a Vec cannot fail.
        let _ = write!(
            out,
            "{{\"id\":\"{}\",\"object\":\"chat.completion.chunk\",\"created\":{},\
             \"model\":\"pushbench\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{}\"}},\
             \"finish_reason\":{finish}}}],\"pushbench\":{{\"seq\":{seq},\"due_us\":{due_us}}}}}",
            self.id, self.created, self.content
        );
    }

    /// Event `seq` alone.
    pub fn json(&self, seq: u64, due_us: u64) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.size_hint());
        self.write(&mut out, seq, due_us);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_parse_back_with_their_fields() {
        let e = Encoder::new("12-3", 1_700_000_000_123_456, 2, 30);
        let first: serde_json::Value = serde_json::from_slice(&e.json(0, 99)).unwrap();
        assert_eq!(first["id"], "gen-12-3");
        assert_eq!(first["object"], "chat.completion.chunk");
        assert_eq!(first["created"], 1_700_000_000u64);
        assert_eq!(first["model"], "pushbench");
        let content = first["choices"][0]["delta"]["content"].as_str().unwrap();
        assert_eq!(content.len(), 30);
        assert!(content.bytes().all(|b| b.is_ascii_alphabetic()));
        assert_eq!(first["choices"][0]["index"], 0);
        assert!(first["choices"][0]["finish_reason"].is_null());
        assert_eq!(first["pushbench"]["seq"], 0);
        assert_eq!(first["pushbench"]["due_us"], 99);
        let last: serde_json::Value = serde_json::from_slice(&e.json(1, 100)).unwrap();
        assert_eq!(last["choices"][0]["finish_reason"], "stop");
        let empty: serde_json::Value =
            serde_json::from_slice(&Encoder::new("1", 0, 1, 0).json(0, 0)).unwrap();
        assert_eq!(empty["choices"][0]["delta"]["content"], "");
    }
}

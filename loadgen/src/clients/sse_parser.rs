//! An event-stream parser following the WHATWG rules for interpreting `text/event-stream`
//! (<https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation>).
//!
//! Bytes are buffered until a line ends, then the line is decoded as UTF-8 (invalid sequences
//! become U+FFFD), so a read may end anywhere, even inside a multi-byte character. Lines end at
//! CRLF, LF or CR; a CR ending one read and an LF starting the next are one line end. One BOM
//! at the very start is skipped. Fields: `data` (lines joined with LF), `event`, `id` (ignored
//! when it contains NUL), `retry` (ASCII digits only); other fields are ignored, lines starting
//! with `:` are comments, a line without a colon is a field with an empty value, and one space
//! after the colon is stripped. A blank line dispatches the event; an event without data is not
//! dispatched but still updates the last event ID. An event cut off by the end of the stream is
//! discarded (the parser simply never sees its blank line).

use std::borrow::Cow;

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event<'a> {
    /// The event type (`message` when the stream named none).
    pub event: &'a str,
    /// The data, lines joined with LF.
    pub data: &'a str,
    /// The last event ID at dispatch time.
    pub id: &'a str,
}

/// Parser state of one event stream (one connection).
#[derive(Debug, Default)]
pub struct SseParser {
    /// Bytes of the current, incomplete line.
    line: Vec<u8>,
    /// The previous byte was a CR: an LF now ends nothing new.
    after_cr: bool,
    /// No line has ended yet (a leading BOM is still to be stripped).
    at_start: bool,
    data: String,
    event_type: String,
    id_buffer: String,
    /// An `id` field was read since the last dispatch (else the buffer is the last event ID).
    id_changed: bool,
    last_event_id: String,
    retry_ms: Option<u64>,
}

impl SseParser {
    /// A parser for a new stream. `last_event_id` is the ID the previous stream of the same
    /// client ended with (as Chromium does: a fresh stream's blank lines do not forget it).
    pub fn new(last_event_id: String) -> Self {
        SseParser {
            at_start: true,
            id_buffer: last_event_id.clone(),
            last_event_id,
            ..SseParser::default()
        }
    }

    /// The last event ID: what a reconnect sends as `Last-Event-ID`.
    pub fn last_event_id(&self) -> &str {
        &self.last_event_id
    }

    /// The reconnection time the stream asked for with `retry:`, if any.
    pub fn retry_ms(&self) -> Option<u64> {
        self.retry_ms
    }

    /// Bytes held for the event being received (its unfinished line and data so far).
    pub fn buffered(&self) -> usize {
        self.line.len() + self.data.len()
    }

    /// Feeds the next bytes of the stream, calling `on_event` for each dispatched event.
    pub fn feed<E>(
        &mut self,
        mut bytes: &[u8],
        on_event: &mut dyn FnMut(Event<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        while !bytes.is_empty() {
            if self.after_cr {
                self.after_cr = false;
                if bytes[0] == b'\n' {
                    bytes = &bytes[1..];
                    continue;
                }
            }
            match memchr::memchr2(b'\r', b'\n', bytes) {
                None => {
                    self.line.extend_from_slice(bytes);
                    return Ok(());
                }
                Some(i) => {
                    self.after_cr = bytes[i] == b'\r';
                    let result = if self.line.is_empty() {
                        self.process_line(&bytes[..i], on_event)
                    } else {
                        let mut line = std::mem::take(&mut self.line);
                        line.extend_from_slice(&bytes[..i]);
                        let r = self.process_line(&line, on_event);
                        line.clear();
                        self.line = line;
                        r
                    };
                    bytes = &bytes[i + 1..];
                    result?;
                }
            }
        }
        Ok(())
    }

    fn process_line<E>(
        &mut self,
        mut raw: &[u8],
        on_event: &mut dyn FnMut(Event<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        if self.at_start {
            self.at_start = false;
            raw = raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw);
        }
        if raw.is_empty() {
            return self.dispatch(on_event);
        }
        // Validating first is several times faster than the lossy decoder on valid text.
        let line: Cow<'_, str> = match std::str::from_utf8(raw) {
            Ok(s) => Cow::Borrowed(s),
            Err(_) => String::from_utf8_lossy(raw),
        };
        if line.starts_with(':') {
            return Ok(());
        }
        let (field, value) = match memchr::memchr(b':', line.as_bytes()) {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(' ').unwrap_or(v))
            }
            None => (&line[..], ""),
        };
        match field {
            "event" => {
                self.event_type.clear();
                self.event_type.push_str(value);
            }
            "data" => {
                self.data.push_str(value);
                self.data.push('\n');
            }
            "id" if !value.contains('\0') => {
                self.id_buffer.clear();
                self.id_buffer.push_str(value);
                self.id_changed = true;
            }
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                self.retry_ms = Some(value.parse().unwrap_or(u64::MAX));
            }
            _ => {}
        }
        Ok(())
    }

    fn dispatch<E>(
        &mut self,
        on_event: &mut dyn FnMut(Event<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        if std::mem::take(&mut self.id_changed) {
            self.last_event_id.clone_from(&self.id_buffer);
        }
        if self.data.is_empty() {
            self.event_type.clear();
            return Ok(());
        }
        if self.data.ends_with('\n') {
            self.data.pop();
        }
        let event = if self.event_type.is_empty() {
            "message"
        } else {
            &self.event_type
        };
        let r = on_event(Event {
            event,
            data: &self.data,
            id: &self.last_event_id,
        });
        self.data.clear();
        self.event_type.clear();
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (event, data, id) of every event dispatched when `stream` is fed in pieces of `step`.
    fn events(stream: &[u8], step: usize) -> (Vec<(String, String, String)>, SseParser) {
        let mut p = SseParser::new(String::new());
        let mut out = Vec::new();
        for piece in stream.chunks(step.max(1)) {
            p.feed(piece, &mut |e: Event<'_>| -> Result<(), ()> {
                out.push((e.event.to_string(), e.data.to_string(), e.id.to_string()));
                Ok(())
            })
            .unwrap();
        }
        (out, p)
    }

    fn ev(event: &str, data: &str, id: &str) -> (String, String, String) {
        (event.into(), data.into(), id.into())
    }

    /// Every edge case at once; fed whole, byte by byte and at every other split size.
    const STREAM: &[u8] = b"\xEF\xBB\xBFretry: 2000\n\n\
        : a comment\r\n\
        id: 1\r\nevent: tick\r\ndata: first\r\ndata:second\r\ndata\r\n\r\n\
        id: 2\rdata:  two spaces\r\r\
        data: caf\xC3\xA9 \xE2\x82\xAC\n\
        unknown: field\nid: bad\0id\n\n\
        event: gap\ndata: {\"since\":3}\n\n\
        id\ndata\n\n\
        retry: 12x\nretry: 350\n\
        id: 9\ndata: cut off";

    fn expected() -> Vec<(String, String, String)> {
        vec![
            ev("tick", "first\nsecond\n", "1"),
            ev("message", " two spaces", "2"),
            ev("message", "caf\u{e9} \u{20ac}", "2"),
            ev("gap", "{\"since\":3}", "2"),
            ev("message", "", ""),
        ]
    }

    #[test]
    fn whole_stream() {
        let (got, p) = events(STREAM, STREAM.len());
        assert_eq!(got, expected());
        assert_eq!(p.retry_ms(), Some(350));
        // The cut-off event is never dispatched, but its id is pending, not applied.
        assert_eq!(p.last_event_id(), "");
    }

    #[test]
    fn every_split_size_gives_the_same_events() {
        for step in 1..STREAM.len() {
            let (got, p) = events(STREAM, step);
            assert_eq!(got, expected(), "step {step}");
            assert_eq!(p.retry_ms(), Some(350), "step {step}");
        }
    }

    #[test]
    fn every_split_point_gives_the_same_events() {
        for cut in 0..=STREAM.len() {
            let mut p = SseParser::new(String::new());
            let mut got = Vec::new();
            for piece in [&STREAM[..cut], &STREAM[cut..]] {
                p.feed(piece, &mut |e: Event<'_>| -> Result<(), ()> {
                    got.push(ev(e.event, e.data, e.id));
                    Ok(())
                })
                .unwrap();
            }
            assert_eq!(got, expected(), "cut at {cut}");
        }
    }

    #[test]
    fn cr_then_lf_across_reads_is_one_line_end() {
        // If the LF were a second line end, the empty line would dispatch "a" alone.
        let (got, _) = events(b"data: a\r\ndata: b\r\n\r\n", 8);
        assert_eq!(got, vec![ev("message", "a\nb", "")]);
        let mut p = SseParser::new(String::new());
        let mut got = Vec::new();
        let mut push = |e: Event<'_>| -> Result<(), ()> {
            got.push(ev(e.event, e.data, e.id));
            Ok(())
        };
        p.feed(b"data: a\r", &mut push).unwrap();
        p.feed(b"\ndata: b\r", &mut push).unwrap();
        p.feed(b"\n\r", &mut push).unwrap();
        p.feed(b"\n", &mut push).unwrap();
        assert_eq!(got, vec![ev("message", "a\nb", "")]);
    }

    #[test]
    fn bom_only_once_and_only_at_start() {
        let (got, _) = events(b"\xEF\xBB\xBFdata: x\n\n\xEF\xBB\xBFdata: y\n\n", 1);
        // The second BOM makes the field name "\u{feff}data", which is ignored.
        assert_eq!(got, vec![ev("message", "x", "")]);
        let (got, _) = events(b"\xEF\xBB\xBF\xEF\xBB\xBFdata: x\n\n", 2);
        assert!(got.is_empty());
    }

    #[test]
    fn id_persists_and_blank_events_update_it() {
        let (got, p) = events(b"id: 7\n\ndata: a\n\nid: 8\n\n", 3);
        assert_eq!(got, vec![ev("message", "a", "7")]);
        assert_eq!(p.last_event_id(), "8");
        // A new stream starts from the previous stream's last event ID.
        let mut p = SseParser::new("8".into());
        let mut got = Vec::new();
        p.feed(
            b"retry: 5\n\ndata: b\n\n",
            &mut |e: Event<'_>| -> Result<(), ()> {
                got.push(ev(e.event, e.data, e.id));
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(got, vec![ev("message", "b", "8")]);
    }

    #[test]
    fn invalid_utf8_is_replaced_and_retry_needs_digits() {
        let (got, p) = events(
            b"data: a\xFFb\xE2\x82\n\nretry: -1\nretry: 1.5\nretry:\n\n",
            1,
        );
        assert_eq!(got, vec![ev("message", "a\u{fffd}b\u{fffd}", "")]);
        assert_eq!(p.retry_ms(), None);
    }

    #[test]
    fn sink_errors_stop_the_feed() {
        let mut p = SseParser::new(String::new());
        let r = p.feed(b"data: a\n\ndata: b\n\n", &mut |_e: Event<'_>| Err("stop"));
        assert_eq!(r, Err("stop"));
    }
}

//! Test-side wire parsers (SSE per the WHATWG rules, LF-delimited lines), written from
//! docs/PROTOCOL.md and the SSE specification, not from the server's encoders.

/// An SSE event or comment, per the WHATWG parsing rules (test-side, minimal).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SseEvent {
    pub id: Option<String>,
    pub event: Option<String>,
    pub data: String,
    pub retry: Option<u64>,
    pub comment: Option<String>,
}

/// Incremental SSE parser.
#[derive(Default)]
pub struct SseParser {
    buf: Vec<u8>,
    cur: SseEvent,
    data_lines: Vec<String>,
    has_fields: bool,
}

impl SseParser {
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        self.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        while let Some(pos) = self.buf.iter().position(|&b| b == b'\n' || b == b'\r') {
            // A CR at the very end may be the first half of CRLF: wait for more.
            if self.buf[pos] == b'\r' && pos + 1 == self.buf.len() {
                break;
            }
            let line = String::from_utf8(self.buf[..pos].to_vec()).unwrap();
            let mut cut = pos + 1;
            if self.buf[pos] == b'\r' && self.buf.get(pos + 1) == Some(&b'\n') {
                cut += 1;
            }
            self.buf.drain(..cut);
            if line.is_empty() {
                if self.has_fields {
                    let mut ev = std::mem::take(&mut self.cur);
                    ev.data = self.data_lines.join("\n");
                    self.data_lines.clear();
                    self.has_fields = false;
                    out.push(ev);
                }
                continue;
            }
            if let Some(c) = line.strip_prefix(':') {
                out.push(SseEvent {
                    comment: Some(c.trim_start().to_string()),
                    ..Default::default()
                });
                continue;
            }
            let (field, value) = match line.split_once(':') {
                Some((f, v)) => (f.to_string(), v.strip_prefix(' ').unwrap_or(v).to_string()),
                None => (line.clone(), String::new()),
            };
            self.has_fields = true;
            match field.as_str() {
                "id" => self.cur.id = Some(value),
                "event" => self.cur.event = Some(value),
                "data" => self.data_lines.push(value),
                "retry" => self.cur.retry = value.parse().ok(),
                _ => {}
            }
        }
        out
    }
}

/// Splits a byte stream into lines (LF-terminated).
#[derive(Default)]
pub struct Lines {
    buf: Vec<u8>,
}

impl Lines {
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<String> {
        self.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        while let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
            let line = String::from_utf8(self.buf[..pos].to_vec()).unwrap();
            self.buf.drain(..=pos);
            out.push(line);
        }
        out
    }
}

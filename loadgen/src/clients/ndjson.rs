//! Splits a newline-delimited byte stream into lines, wherever the reads (or chunks) end.
//!
//! Lines end at LF; a CR before it is dropped. Empty (or all-whitespace) lines are the
//! stream's heartbeats and are skipped. A whole line inside one read is handed over without
//! copying; only a line cut by a read boundary is buffered.

/// A line longer than the limit.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("line longer than {0} bytes")]
pub struct LineTooLong(pub usize);

/// The splitter's state: the start of a line not yet ended.
#[derive(Debug)]
pub struct LineSplitter {
    partial: Vec<u8>,
    max_line: usize,
}

impl LineSplitter {
    /// A splitter refusing lines longer than `max_line` bytes.
    pub fn new(max_line: usize) -> Self {
        LineSplitter {
            partial: Vec::new(),
            max_line,
        }
    }

    /// Feeds the next bytes, calling `on_line` with each complete, non-blank line (without
    /// its line end).
    pub fn feed<E: From<LineTooLong>>(
        &mut self,
        mut bytes: &[u8],
        on_line: &mut dyn FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        while let Some(i) = memchr::memchr(b'\n', bytes) {
            if self.partial.is_empty() {
                emit(&bytes[..i], on_line)?;
            } else {
                if self.partial.len() + i > self.max_line {
                    return Err(LineTooLong(self.max_line).into());
                }
                self.partial.extend_from_slice(&bytes[..i]);
                let line = std::mem::take(&mut self.partial);
                let r = emit(&line, on_line);
                self.partial = line;
                self.partial.clear();
                r?;
            }
            bytes = &bytes[i + 1..];
        }
        if self.partial.len() + bytes.len() > self.max_line {
            return Err(LineTooLong(self.max_line).into());
        }
        self.partial.extend_from_slice(bytes);
        Ok(())
    }

    /// Bytes of an unfinished line (what a closed stream cut off).
    pub fn pending(&self) -> usize {
        self.partial.len()
    }
}

fn emit<E>(line: &[u8], on_line: &mut dyn FnMut(&[u8]) -> Result<(), E>) -> Result<(), E> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    on_line(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(pieces: &[&[u8]]) -> Result<(Vec<String>, usize), LineTooLong> {
        let mut s = LineSplitter::new(64);
        let mut out = Vec::new();
        for p in pieces {
            s.feed(p, &mut |l: &[u8]| -> Result<(), LineTooLong> {
                out.push(String::from_utf8(l.to_vec()).unwrap());
                Ok(())
            })?;
        }
        Ok((out, s.pending()))
    }

    const STREAM: &[u8] = b"{\"id\":1}\n\n{\"id\":2,\"data\":\"a\"}\r\n\n \n{\"id\":3}\n{\"id\":4";

    #[test]
    fn every_two_way_split() {
        for cut in 0..=STREAM.len() {
            let (got, pending) = lines(&[&STREAM[..cut], &STREAM[cut..]]).unwrap();
            assert_eq!(
                got,
                ["{\"id\":1}", "{\"id\":2,\"data\":\"a\"}", "{\"id\":3}"],
                "{cut}"
            );
            assert_eq!(pending, 7, "the cut-off last line stays pending");
        }
    }

    #[test]
    fn byte_by_byte_and_three_way() {
        let bytes: Vec<&[u8]> = STREAM.chunks(1).collect();
        let (one, _) = lines(&bytes).unwrap();
        for a in 0..STREAM.len() {
            for b in a..STREAM.len() {
                let (got, _) = lines(&[&STREAM[..a], &STREAM[a..b], &STREAM[b..]]).unwrap();
                assert_eq!(got, one);
            }
        }
        assert_eq!(one.len(), 3);
    }

    #[test]
    fn refuses_endless_lines() {
        assert_eq!(lines(&[&[b'x'; 40], &[b'x'; 40]]), Err(LineTooLong(64)));
        assert_eq!(lines(&[&[b'x'; 65]]), Err(LineTooLong(64)));
    }
}

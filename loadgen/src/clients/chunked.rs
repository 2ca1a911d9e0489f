//! An incremental decoder of HTTP/1.1 chunked transfer coding (RFC 9112 §7.1).
//!
//! Fed raw body bytes in pieces split anywhere, it hands the chunk data to a sink and stops at
//! the end of the body (after the trailer section), leaving what follows for the next answer.

/// A body that does not follow the chunked coding.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("bad chunked encoding: {0}")]
pub struct ChunkedError(pub &'static str);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading the hex size (`digits` so far).
    Size,
    /// After the size: extensions or whitespace up to the line end.
    Ext,
    /// Saw CR after the size line, expecting LF.
    SizeLf,
    /// Inside chunk data (`remaining` bytes left).
    Data,
    /// After data, expecting CR (or a bare LF).
    DataCr,
    /// After data and CR, expecting LF.
    DataLf,
    /// At the start of a trailer line (or the final empty line).
    TrailerStart,
    /// Inside a trailer field line.
    Trailer,
    /// Saw the final CR, expecting LF.
    FinalLf,
    /// The body is complete.
    Done,
}

/// Decoder state of one chunked body.
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: State,
    size: u64,
    digits: u8,
    /// Pass an empty slice to the sink at the end of each chunk's data.
    mark_ends: bool,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        ChunkedDecoder {
            state: State::Size,
            size: 0,
            digits: 0,
            mark_ends: false,
        }
    }
}

impl ChunkedDecoder {
    /// From now on, the end of each chunk's data is passed to the sink as an empty slice (for
    /// servers whose chunk boundaries delimit messages). Chunks of data are never empty.
    pub fn mark_chunk_ends(&mut self) {
        self.mark_ends = true;
    }

    /// Whether the whole body (last chunk and trailers) has been read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decodes as much of `input` as belongs to this body, passing chunk data to `sink`.
    /// Returns how many bytes of `input` were consumed (all of them unless the body ended).
    pub fn decode<E: From<ChunkedError>>(
        &mut self,
        input: &[u8],
        sink: &mut dyn FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<usize, E> {
        let mut i = 0;
        while i < input.len() && self.state != State::Done {
            if self.state == State::Data {
                let n = (input.len() - i).min(usize::try_from(self.size).unwrap_or(usize::MAX));
                sink(&input[i..i + n])?;
                self.size -= n as u64;
                i += n;
                if self.size == 0 {
                    self.state = State::DataCr;
                    if self.mark_ends {
                        sink(&[])?;
                    }
                }
                continue;
            }
            self.framing(input[i])?;
            i += 1;
        }
        Ok(i)
    }

    /// Reads one byte of the framing around the data: sizes, extensions, line ends, trailers.
    fn framing(&mut self, b: u8) -> Result<(), ChunkedError> {
        match self.state {
            State::Size => match hex(b) {
                Some(d) => {
                    if self.digits >= 15 {
                        return Err(ChunkedError("chunk size too large"));
                    }
                    self.size = self.size * 16 + u64::from(d);
                    self.digits += 1;
                }
                None => {
                    if self.digits == 0 {
                        return Err(ChunkedError("missing chunk size"));
                    }
                    match b {
                        b'\r' => self.state = State::SizeLf,
                        b'\n' => self.end_size_line(),
                        b';' | b' ' | b'\t' => self.state = State::Ext,
                        _ => return Err(ChunkedError("bad chunk size")),
                    }
                }
            },
            State::Ext => match b {
                b'\r' => self.state = State::SizeLf,
                b'\n' => self.end_size_line(),
                _ => {}
            },
            State::SizeLf => {
                if b != b'\n' {
                    return Err(ChunkedError("CR without LF after chunk size"));
                }
                self.end_size_line();
            }
            State::DataCr => match b {
                b'\r' => self.state = State::DataLf,
                b'\n' => self.next_chunk(),
                _ => return Err(ChunkedError("chunk data longer than its size")),
            },
            State::DataLf => {
                if b != b'\n' {
                    return Err(ChunkedError("CR without LF after chunk data"));
                }
                self.next_chunk();
            }
            State::TrailerStart => match b {
                b'\r' => self.state = State::FinalLf,
                b'\n' => self.state = State::Done,
                _ => self.state = State::Trailer,
            },
            State::Trailer => {
                if b == b'\n' {
                    self.state = State::TrailerStart;
                }
            }
            State::FinalLf => {
                if b != b'\n' {
                    return Err(ChunkedError("CR without LF at the end of the body"));
                }
                self.state = State::Done;
            }
            State::Data | State::Done => unreachable!("data and the end are not framing"),
        }
        Ok(())
    }

    fn end_size_line(&mut self) {
        self.state = if self.size == 0 {
            State::TrailerStart
        } else {
            State::Data
        };
    }

    fn next_chunk(&mut self) {
        self.state = State::Size;
        self.size = 0;
        self.digits = 0;
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes `input` fed in pieces of `step` bytes; returns (data, bytes consumed, done).
    fn run(input: &[u8], step: usize) -> Result<(Vec<u8>, usize, bool), ChunkedError> {
        let mut d = ChunkedDecoder::default();
        let mut out = Vec::new();
        let mut used = 0;
        for piece in input.chunks(step) {
            let n = d.decode(piece, &mut |b: &[u8]| -> Result<(), ChunkedError> {
                out.extend_from_slice(b);
                Ok(())
            })?;
            used += n;
            if d.is_done() {
                break;
            }
        }
        Ok((out, used, d.is_done()))
    }

    const BODY: &[u8] = b"5\r\nhello\r\n1;ext=1\r\n \r\nA\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\nNEXT";

    #[test]
    fn decodes_at_every_split() {
        let end = BODY.len() - 4;
        for step in 1..=BODY.len() {
            let (data, used, done) = run(BODY, step).unwrap();
            assert_eq!(data, b"hello 0123456789", "step {step}");
            assert!(done);
            // Stops exactly at the end of the body: what follows is the next answer's.
            assert_eq!(used, end, "step {step}");
        }
    }

    #[test]
    fn accepts_bare_lf_and_no_trailers() {
        let (data, used, done) = run(b"3\nabc\n0\n\n", 1).unwrap();
        assert_eq!((data.as_slice(), used, done), (&b"abc"[..], 9, true));
    }

    #[test]
    fn incomplete_body_is_not_done() {
        let (data, _, done) = run(b"5\r\nhel", 2).unwrap();
        assert_eq!((data.as_slice(), done), (&b"hel"[..], false));
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(run(b"zz\r\n", 4), Err(ChunkedError("missing chunk size")));
        assert_eq!(
            run(b"2\r\nabc\r\n", 9),
            Err(ChunkedError("chunk data longer than its size"))
        );
        assert!(run(b"ffffffffffffffffff\r\n", 30).is_err());
    }

    /// With chunk ends marked, each chunk's data comes out whole, wherever the input is split.
    #[test]
    fn marks_chunk_ends_at_every_split() {
        let input = b"5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n";
        for step in 1..=input.len() {
            let mut d = ChunkedDecoder::default();
            d.mark_chunk_ends();
            let (mut chunks, mut cur) = (Vec::new(), Vec::new());
            for piece in input.chunks(step) {
                d.decode(piece, &mut |b: &[u8]| -> Result<(), ChunkedError> {
                    if b.is_empty() {
                        chunks.push(std::mem::take(&mut cur));
                    } else {
                        cur.extend_from_slice(b);
                    }
                    Ok(())
                })
                .unwrap();
            }
            assert_eq!(chunks, [b"hello".to_vec(), b"abc".to_vec()], "step {step}");
            assert!(d.is_done());
        }
    }
}

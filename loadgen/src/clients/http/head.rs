//! The head of an HTTP/1.x answer: where it ends in the read buffer, and its status line and
//! fields parsed into what the clients need ([`Head`], [`Body`]).

use std::time::Duration;

use crate::clients::ClientError;
use crate::clients::chunked::ChunkedDecoder;

/// How the body of an answer is delimited, and how much of it is left.
#[derive(Debug, Clone)]
pub enum Body {
    /// `Content-Length`: this many bytes left (0: complete).
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked(ChunkedDecoder),
    /// Neither: the body ends when the server closes the connection.
    Close,
}

impl Body {
    /// Whether the body has been read to its end.
    pub fn is_done(&self) -> bool {
        match self {
            Body::Length(n) => *n == 0,
            Body::Chunked(d) => d.is_done(),
            Body::Close => false,
        }
    }
}

/// The head of an answer, with what the clients need from its fields.
#[derive(Debug, Clone)]
pub struct Head {
    pub status: u16,
    /// Whether the connection may carry another request after this answer.
    pub keep_alive: bool,
    pub body: Body,
    /// `Retry-After` in seconds, when given as a number.
    pub retry_after: Option<Duration>,
    pub content_type: Option<String>,
    /// `Etag` and `Last-Modified`, kept for a cursor of that style (nchan's long poll).
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

impl Head {
    /// The error for a status other than 2xx.
    pub fn status_error(&self) -> Option<ClientError> {
        (!(200..300).contains(&self.status)).then_some(ClientError::Status {
            status: self.status,
            retry_after: self.retry_after,
        })
    }
}

/// The length of the head at the start of `buf` (through its blank line), if complete.
/// Lines may end with CRLF or a bare LF.
pub(super) fn find_head_end(buf: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(p) = buf[i..].iter().position(|&b| b == b'\n') {
        let next = i + p + 1;
        match buf.get(next) {
            Some(b'\n') => return Some(next + 1),
            Some(b'\r') if buf.get(next + 1) == Some(&b'\n') => return Some(next + 2),
            _ => i = next,
        }
    }
    None
}

/// Parses a complete head (status line and fields).
pub(super) fn parse_head(raw: &[u8]) -> Result<Head, ClientError> {
    let bad = |what: &str| ClientError::Protocol(format!("bad answer head: {what}"));
    let text = std::str::from_utf8(raw).map_err(|_| bad("not UTF-8"))?;
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let status_line = lines.next().unwrap_or("");
    let rest = status_line
        .strip_prefix("HTTP/1.")
        .ok_or_else(|| bad("no HTTP/1.x status line"))?;
    let http10 = rest.starts_with('0');
    let status: u16 = rest
        .get(2..5)
        .and_then(|s| s.parse().ok())
        .filter(|s| (100..1000).contains(s) && rest.as_bytes().get(1) == Some(&b' '))
        .ok_or_else(|| bad("no status code"))?;
    let mut keep_alive = !http10;
    let mut length: Option<u64> = None;
    let mut chunked = false;
    let mut other_coding = false;
    let mut retry_after = None;
    let mut content_type = None;
    let (mut etag, mut last_modified) = (None, None);
    for line in lines.filter(|l| !l.is_empty()) {
        let Some((name, value)) = line.split_once(':') else {
            return Err(bad("a field without a colon"));
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            let n: u64 = value.parse().map_err(|_| bad("Content-Length"))?;
            if length.is_some_and(|l| l != n) {
                return Err(bad("conflicting Content-Length"));
            }
            length = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            let last = value.rsplit(',').next().unwrap_or("").trim();
            chunked = last.eq_ignore_ascii_case("chunked");
            other_coding = !chunked;
        } else if name.eq_ignore_ascii_case("connection") {
            for token in value.split(',').map(str::trim) {
                if token.eq_ignore_ascii_case("close") {
                    keep_alive = false;
                } else if token.eq_ignore_ascii_case("keep-alive") && http10 {
                    keep_alive = true;
                }
            }
        } else if name.eq_ignore_ascii_case("retry-after") {
            retry_after = value.parse().ok().map(Duration::from_secs);
        } else if name.eq_ignore_ascii_case("content-type") {
            content_type = Some(value.to_string());
        } else if name.eq_ignore_ascii_case("etag") {
            etag = Some(value.to_string());
        } else if name.eq_ignore_ascii_case("last-modified") {
            last_modified = Some(value.to_string());
        }
    }
    let body = if (100..200).contains(&status) || status == 204 || status == 304 {
        Body::Length(0)
    } else if chunked {
        Body::Chunked(ChunkedDecoder::default())
    } else if let (Some(n), false) = (length, other_coding) {
        Body::Length(n)
    } else {
        keep_alive = false;
        Body::Close
    };
    Ok(Head {
        status,
        keep_alive,
        body,
        retry_after,
        content_type,
        etag,
        last_modified,
    })
}

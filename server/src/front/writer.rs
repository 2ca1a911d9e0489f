//! Writing an answer as hyper would (RFC 9112): the status line, the response's headers, the
//! framing (`Content-Length` for a body of known length, `Transfer-Encoding: chunked` for a
//! stream to an HTTP/1.1 client, close-delimited for HTTP/1.0), `Connection: close` when the
//! connection ends after it, and `Date`; then the body, each frame written as it comes (a
//! stream's messages are never held back; frames ready at the same moment, such as a replay,
//! share one write). While a stream waits for its next frame, the socket is watched for the
//! client going away; a write blocked on a reader that stopped reading is cut by the stall
//! watch. Nothing is buffered between two writes.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::time::SystemTime;

use bytes::Bytes;
use futures_util::FutureExt;
use http::header::{self, HeaderValue};
use http::{Response, Version};
use http_body_util::BodyExt;
use hyper::body::Body as _;
use hyper::body::Frame;
use tokio::io::AsyncWriteExt;

use crate::fanout;
use crate::front::head::{self, Io, Peer};
use crate::front::live;
use crate::response::Body;
use crate::techniques::live::Live;

/// How an answer ended, and so what becomes of its connection.
#[derive(Debug, PartialEq, Eq)]
pub enum Done {
    /// Complete; the connection may carry another request.
    KeepAlive,
    /// Complete; the connection ends (asked for, HTTP/1.0, close-delimited, shutdown).
    Close,
    /// The stall watch fired: a reader that stopped reading (counted by the caller).
    Stalled,
    /// The client vanished, the socket failed or the body failed mid-answer (an error of the
    /// connection, as hyper counts it).
    Failed,
}

/// How the body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Length(u64),
    Chunked,
    UntilClose,
}

/// Writes `resp` to a request of `version` (`live`: an SSE or stream response, written by
/// `front::live` after `resp`'s head, with `fanout_min` as `--direct-fanout-min`); `close`
/// ends the connection after it. Bytes the client sends meanwhile (a pipelined request) are
/// added to `pending`.
#[allow(clippy::too_many_arguments)]
pub async fn respond<S: Future<Output = ()>>(
    io: &mut Io,
    resp: Response<Body>,
    live: Option<Live>,
    fanout_min: u64,
    version: Version,
    close: bool,
    pending: &mut Vec<u8>,
    mut stall: Pin<&mut S>,
) -> Done {
    let (parts, mut body) = resp.into_parts();
    // A live response's body is empty here: its messages are written by `live`.
    let exact = if live.is_some() {
        None
    } else {
        body.size_hint().exact()
    };
    let framing = match exact {
        Some(n) => Framing::Length(n),
        None if version == Version::HTTP_11 => Framing::Chunked,
        None => Framing::UntilClose,
    };
    let close = close
        || framing == Framing::UntilClose
        || parts.headers.get(header::CONNECTION) == Some(&HeaderValue::from_static("close"));
    let mut out = head_bytes(&parts, framing, close && version == Version::HTTP_11);
    drop(parts);

    if let Some(live) = live {
        // Never `Length` (see `exact`).
        let framing = match framing {
            Framing::Chunked => fanout::Framing::Chunked,
            _ => fanout::Framing::UntilClose,
        };
        let r = live::respond(io, out, framing, live, pending, stall, fanout_min).await;
        drop(body); // the response ends here
        return match r {
            Ok(()) if close => Done::Close,
            Ok(()) => Done::KeepAlive,
            Err(done) => done,
        };
    }

    if let Framing::Length(_) = framing {
        // A complete answer: one write, head and body.
        match body.collect().await {
            Ok(b) => out.extend_from_slice(&b.to_bytes()),
            Err(_) => return Done::Failed,
        }
        return match write(io, Bytes::from(out), stall).await {
            Ok(()) if close => Done::Close,
            Ok(()) => Done::KeepAlive,
            Err(done) => done,
        };
    }
    // The head goes out with the frames ready at once (SSE's retry hint), as with hyper.
    let mut batch = out;
    let mut end = End::Open;
    loop {
        // Every frame ready now, up to BATCH bytes, in one write; nothing kept afterwards.
        while end == End::Open && batch.len() < BATCH {
            match body.frame().now_or_never() {
                None => break,
                Some(frame) => end = add(&mut batch, framing, frame),
            }
        }
        if end == End::Ended && framing == Framing::Chunked {
            // The terminal chunk: the stream ended cleanly (shutdown).
            batch.extend_from_slice(LAST_CHUNK);
        }
        if !batch.is_empty() {
            let bytes = Bytes::from(std::mem::take(&mut batch));
            if let Err(done) = write(io, bytes, stall.as_mut()).await {
                return done;
            }
        }
        match end {
            End::Open => {}
            End::Ended => break,
            End::Failed => return Done::Failed,
        }
        let frame = tokio::select! {
            // In this order, without a random draw each message: the frame is what wakes it.
            biased;
            f = body.frame() => f,
            p = head::peer(io, pending), if pending.is_empty() => match p {
                Peer::Sent => continue,
                Peer::Gone => return Done::Failed,
            },
            _ = stall.as_mut() => return Done::Stalled,
        };
        end = add(&mut batch, framing, frame);
    }
    if close { Done::Close } else { Done::KeepAlive }
}

/// Most bytes of frames gathered into one write.
pub const BATCH: usize = 16 * 1024;

/// Where the body stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Open,
    Ended,
    Failed,
}

/// Adds `frame` (as `frame()` gave it) to `batch`, framed.
fn add(
    batch: &mut Vec<u8>,
    framing: Framing,
    frame: Option<Result<Frame<Bytes>, io::Error>>,
) -> End {
    let data = match frame {
        None => return End::Ended,
        Some(Err(_)) => return End::Failed,
        Some(Ok(f)) => match f.into_data() {
            Ok(d) if !d.is_empty() => d,
            _ => return End::Open, // empty data or trailers: nothing to send
        },
    };
    put(batch, framing == Framing::Chunked, &data);
    End::Open
}

/// The chunk that ends a chunked body.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// Adds `data` (not empty) to `batch`: as one chunk when `chunked`, else as it is.
pub fn put(batch: &mut Vec<u8>, chunked: bool, data: &[u8]) {
    if chunked {
        batch.extend_from_slice(format!("{:X}\r\n", data.len()).as_bytes());
        batch.extend_from_slice(data);
        batch.extend_from_slice(b"\r\n");
    } else {
        batch.extend_from_slice(data);
    }
}

/// The status line and headers.
fn head_bytes(parts: &http::response::Parts, framing: Framing, say_close: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(parts.status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(parts.status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in &parts.headers {
        if name == header::CONTENT_LENGTH
            || name == header::TRANSFER_ENCODING
            || name == header::CONNECTION
        {
            continue; // the framing and the connection's fate are decided here
        }
        line(&mut out, name.as_str(), value.as_bytes());
    }
    match framing {
        Framing::Length(n) => line(&mut out, "content-length", n.to_string().as_bytes()),
        Framing::Chunked => line(&mut out, "transfer-encoding", b"chunked"),
        Framing::UntilClose => {}
    }
    if say_close {
        line(&mut out, "connection", b"close");
    }
    if !parts.headers.contains_key(header::DATE) {
        let date = httpdate::fmt_http_date(SystemTime::now());
        line(&mut out, "date", date.as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out
}

fn line(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// Writes `bytes` whole, unless the socket fails ([`Done::Failed`]) or the stall watch fires
/// first ([`Done::Stalled`]).
pub async fn write<S: Future<Output = ()>>(
    io: &mut Io,
    mut bytes: Bytes,
    stall: Pin<&mut S>,
) -> Result<(), Done> {
    tokio::select! {
        biased;
        r = io.write_all_buf(&mut bytes) => r.map_err(|_| Done::Failed),
        _ = stall => Err(Done::Stalled),
    }
}

//! Property tests of everything the clients parse from a server's bytes (hostile input): the
//! event-stream parser, the chunked decoder and the answer reader. Whatever bytes arrive, split
//! anywhere, they never panic and never read past their bounds; what a well-formed server
//! writes (the server's own encoder, any valid chunking) comes back exactly.
//!
//! Each runs `PROPTEST_CASES` cases (proptest's default, 256, in `cargo test`); a longer run is
//! `PROPTEST_CASES=20000 cargo test --release -p loadgen clients::props` (docs/FUZZING.md).

use std::time::Duration;

use proptest::collection::vec;
use proptest::prelude::*;

use super::chunked::{ChunkedDecoder, ChunkedError};
use super::http::HttpConn;
use super::sse_parser::{Event, SseParser};

/// (event, data, id) of each dispatched event, plus the parser's last id and retry at the end.
type Parsed = (Vec<(String, String, String)>, String, Option<u64>);

/// Feeds `stream` to a fresh parser in the pieces that `cuts` (offsets) make.
fn parse_sse(stream: &[u8], cuts: &[usize]) -> Parsed {
    let mut p = SseParser::new(String::new());
    let mut out = Vec::new();
    for piece in pieces(stream, cuts) {
        p.feed(piece, &mut |e: Event<'_>| -> Result<(), ()> {
            out.push((e.event.to_string(), e.data.to_string(), e.id.to_string()));
            Ok(())
        })
        .expect("the sink never fails");
    }
    let (id, retry) = (p.last_event_id().to_string(), p.retry_ms());
    (out, id, retry)
}

/// The same stream read by a second, deliberately plain reading of the WHATWG rules: the whole
/// stream at once, split into lines first (CRLF, CR or LF; an unfinished last line is never
/// read), then each line interpreted. The incremental parser must agree with it.
fn reference_sse(stream: &[u8]) -> Parsed {
    let s = stream.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(stream);
    let mut lines = Vec::new();
    let (mut start, mut i) = (0, 0);
    while i < s.len() {
        if s[i] == b'\r' || s[i] == b'\n' {
            lines.push(&s[start..i]);
            if s[i] == b'\r' && s.get(i + 1) == Some(&b'\n') {
                i += 1;
            }
            start = i + 1;
        }
        i += 1;
    }
    let (mut data, mut event, mut id_buf, mut last_id) =
        (String::new(), String::new(), String::new(), String::new());
    let (mut retry, mut out) = (None, Vec::new());
    for raw in lines {
        let line = String::from_utf8_lossy(raw);
        if line.is_empty() {
            last_id.clone_from(&id_buf);
            if !data.is_empty() {
                data.pop();
                let name = if event.is_empty() { "message" } else { &event };
                out.push((name.to_string(), data.clone(), last_id.clone()));
            }
            data.clear();
            event.clear();
            continue;
        }
        if line.starts_with(':') {
            continue;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (&line[..], ""),
        };
        match field {
            "event" => event = value.to_string(),
            "data" => {
                data.push_str(value);
                data.push('\n');
            }
            "id" if !value.contains('\0') => id_buf = value.to_string(),
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                retry = Some(value.parse().unwrap_or(u64::MAX));
            }
            _ => {}
        }
    }
    (out, last_id, retry)
}

/// `bytes` cut at each of `cuts` (taken modulo its length, in order).
fn pieces<'a>(bytes: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut at: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    at.sort_unstable();
    at.push(bytes.len());
    let mut start = 0;
    at.into_iter()
        .map(|end| {
            let piece = &bytes[start..end];
            start = end;
            piece
        })
        .collect()
}

/// Bytes that look like an event stream often enough to reach every branch of the parser:
/// field names, colons, every line end, a BOM, NUL, multi-byte and invalid UTF-8, digits.
fn sse_bytes() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        Just(b"data".to_vec()),
        Just(b"id".to_vec()),
        Just(b"event".to_vec()),
        Just(b"retry".to_vec()),
        Just(b":".to_vec()),
        Just(b" ".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\xEF\xBB\xBF".to_vec()),
        Just(b"\0".to_vec()),
        Just("é".as_bytes().to_vec()),
        Just(b"\xC3".to_vec()),
        "[0-9]{1,25}".prop_map(String::into_bytes),
        vec(any::<u8>(), 1..4),
    ];
    vec(token, 0..120).prop_map(|t| t.concat())
}

/// A message the server may publish: an optional event name (the server's rule) and any text.
fn message() -> impl Strategy<Value = (Option<String>, String)> {
    (
        proptest::option::of("[A-Za-z0-9_.-]{1,64}"),
        prop_oneof![
            any::<String>(),
            "[a\r\n\0:é]{0,40}",
            "(data|id|event|retry|:| |\r|\n|\r\n){0,20}",
        ],
    )
}

/// What an event-stream client makes of `data`: every line end (CRLF, CR, LF) is an LF.
fn normalized(data: &str) -> String {
    data.replace("\r\n", "\n").replace('\r', "\n")
}

proptest! {
    /// However the stream is cut into reads, the events, last id and retry are those of the
    /// plain reading of the rules ([`reference_sse`]): line ends split across reads (CR | LF),
    /// characters split mid-sequence, a BOM, NUL in ids and over-long retries included.
    #[test]
    fn sse_reads_may_end_anywhere(stream in sse_bytes(), cuts in vec(any::<usize>(), 0..12)) {
        prop_assert_eq!(parse_sse(&stream, &cuts), reference_sse(&stream));
    }

    /// The server's events (its own encoder, heartbeats and retry hints between them), cut
    /// anywhere, come back exactly: the event name, the data with its line ends as LF, the id.
    #[test]
    fn sse_server_events_come_back_exactly(
        msgs in vec(message(), 1..8),
        first_id in 1u64..u64::MAX / 2,
        cuts in vec(any::<usize>(), 0..12),
    ) {
        let mut stream = server::message::sse_retry(2000).to_vec();
        let mut want = Vec::new();
        for (i, (event, data)) in msgs.iter().enumerate() {
            let id = first_id + i as u64;
            stream.extend(server::message::sse_event(Some(id), event.as_deref(), data));
            stream.extend_from_slice(server::message::SSE_HEARTBEAT);
            let name = event.clone().unwrap_or_else(|| "message".into());
            want.push((name, normalized(data), id.to_string()));
        }
        let (got, last_id, retry) = parse_sse(&stream, &cuts);
        prop_assert_eq!(got, want);
        prop_assert_eq!(last_id, (first_id + msgs.len() as u64 - 1).to_string());
        prop_assert_eq!(retry, Some(2000));
    }
}

/// A chunked body: chunk sizes, hex case, extensions, trailers and line ends all vary.
#[derive(Debug, Clone)]
struct Chunking {
    sizes: Vec<usize>,
    upper: bool,
    ext: bool,
    bare_lf: bool,
    trailers: bool,
}

fn chunking() -> impl Strategy<Value = Chunking> {
    (
        vec(1usize..300, 0..10),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(sizes, upper, ext, bare_lf, trailers)| Chunking {
            sizes,
            upper,
            ext,
            bare_lf,
            trailers,
        })
}

/// `body` encoded with `c` (its sizes cycled until the body is used up).
fn encode_chunked(body: &[u8], c: &Chunking) -> (Vec<u8>, usize) {
    let eol: &[u8] = if c.bare_lf { b"\n" } else { b"\r\n" };
    let mut out = Vec::new();
    let (mut rest, mut chunks, mut i) = (body, 0, 0);
    while !rest.is_empty() {
        let n = c.sizes.get(i % c.sizes.len().max(1)).copied().unwrap_or(64);
        let n = n.min(rest.len());
        let size = if c.upper {
            format!("{n:X}")
        } else {
            format!("{n:x}")
        };
        out.extend_from_slice(size.as_bytes());
        if c.ext {
            out.extend_from_slice(b" ;name=\"v;x\"");
        }
        out.extend_from_slice(eol);
        out.extend_from_slice(&rest[..n]);
        out.extend_from_slice(eol);
        rest = &rest[n..];
        chunks += 1;
        i += 1;
    }
    out.extend_from_slice(b"0");
    out.extend_from_slice(eol);
    if c.trailers {
        out.extend_from_slice(b"X-Trailer: yes");
        out.extend_from_slice(eol);
    }
    out.extend_from_slice(eol);
    (out, chunks)
}

/// Decodes `input` fed in `pieces`: (data, chunk-end marks, bytes consumed, done), or the error.
fn decode(input: &[u8], cuts: &[usize]) -> Result<(Vec<u8>, usize, usize, bool), ChunkedError> {
    let mut d = ChunkedDecoder::default();
    d.mark_chunk_ends();
    let (mut data, mut marks, mut used) = (Vec::new(), 0, 0);
    for piece in pieces(input, cuts) {
        if d.is_done() {
            break;
        }
        let n = d.decode(piece, &mut |b: &[u8]| -> Result<(), ChunkedError> {
            if b.is_empty() {
                marks += 1;
            }
            data.extend_from_slice(b);
            Ok(())
        })?;
        assert!(n <= piece.len(), "consumed more than it was given");
        used += n;
    }
    Ok((data, marks, used, d.is_done()))
}

proptest! {
    /// Any valid chunking of any body, cut anywhere, decodes to the body, marks each chunk's
    /// end once, and stops exactly at the body's end (what follows is the next answer's).
    #[test]
    fn chunked_bodies_decode_exactly(
        body in vec(any::<u8>(), 0..2000),
        c in chunking(),
        cuts in vec(any::<usize>(), 0..10),
    ) {
        let (mut input, chunks) = encode_chunked(&body, &c);
        let end = input.len();
        input.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
        let (data, marks, used, done) = decode(&input, &cuts).expect("valid chunking");
        prop_assert_eq!(data, body);
        prop_assert_eq!((marks, used, done), (chunks, end, true));
    }

    /// Any bytes at all: an error or a partial body, never a panic, never more data out than
    /// bytes in.
    #[test]
    fn chunked_garbage_is_refused_or_partial(
        input in vec(prop_oneof![any::<u8>(), Just(b'\r'), Just(b'\n'), Just(b'0'), Just(b'f')], 0..600),
        cuts in vec(any::<usize>(), 0..10),
    ) {
        if let Ok((data, _, used, _)) = decode(&input, &cuts) {
            prop_assert!(data.len() <= used && used <= input.len());
        }
    }
}

/// What a client reads from `input` (then end of stream): the answers' statuses and bodies,
/// until the first error.
fn read_answers(input: Vec<u8>, piece: usize) -> Vec<Result<(u16, Vec<u8>), String>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async move {
        let (client, mut server) = tokio::io::duplex(64);
        let writer = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            for p in input.chunks(piece.max(1)) {
                if server.write_all(p).await.is_err() {
                    return;
                }
            }
        });
        let mut conn = HttpConn::new(client);
        let t = Duration::from_secs(5);
        let mut out = Vec::new();
        while out.len() < 4 {
            let answer = async {
                let mut head = conn.read_head(t).await?;
                let body = conn.read_to_end(&mut head.body, t, 4096).await?;
                Ok::<_, super::ClientError>((head.status, body))
            };
            match answer.await {
                Ok(a) => out.push(Ok(a)),
                Err(e) => {
                    out.push(Err(e.to_string()));
                    break;
                }
            }
        }
        writer.abort();
        out
    })
}

/// Bytes shaped like HTTP answers: status lines, fields that decide the framing, numbers.
fn answer_bytes() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        Just(b"HTTP/1.1 ".to_vec()),
        Just(b"HTTP/1.0 ".to_vec()),
        "[1-5][0-9][0-9] ".prop_map(String::into_bytes),
        Just(b"Content-Length: ".to_vec()),
        Just(b"Transfer-Encoding: chunked".to_vec()),
        Just(b"Connection: close".to_vec()),
        Just(b"Retry-After: ".to_vec()),
        "[0-9a-f]{1,20}".prop_map(String::into_bytes),
        Just(b"\r\n".to_vec()),
        Just(b"\n".to_vec()),
        Just(b": ".to_vec()),
        vec(any::<u8>(), 1..4),
    ];
    vec(token, 0..80).prop_map(|t| t.concat())
}

proptest! {
    /// Any bytes in answer to a request: statuses and bodies or an error, never a panic or a
    /// hang (the stream ends), never a body over the limit asked for.
    #[test]
    fn answers_of_any_shape_are_read_or_refused(input in answer_bytes(), piece in 1usize..64) {
        for a in read_answers(input, piece).into_iter().flatten() {
            prop_assert!(a.1.len() <= 4096);
        }
    }

    /// Well-formed answers (either framing, CRLF or bare LF) cut anywhere read back exactly.
    #[test]
    fn well_formed_answers_read_back(
        bodies in vec((vec(any::<u8>(), 0..300), any::<bool>(), any::<bool>()), 1..4),
        c in chunking(),
        piece in 1usize..64,
    ) {
        let mut input = Vec::new();
        for (body, chunked, lf) in &bodies {
            let eol = if *lf { "\n" } else { "\r\n" };
            input.extend(format!("HTTP/1.1 200 OK{eol}x-any: {{}}{eol}").into_bytes());
            if *chunked {
                input.extend(format!("Transfer-Encoding: chunked{eol}{eol}").into_bytes());
                input.extend(encode_chunked(body, &c).0);
            } else {
                input.extend(format!("content-length: {}{eol}{eol}", body.len()).into_bytes());
                input.extend_from_slice(body);
            }
        }
        let got = read_answers(input, piece);
        let want: Vec<Result<(u16, Vec<u8>), String>> =
            bodies.iter().map(|(b, _, _)| Ok((200, b.clone()))).collect();
        // Every answer, then the end of the stream as an error.
        prop_assert_eq!(got.len(), bodies.len() + 1);
        prop_assert_eq!(&got[..bodies.len()], &want[..]);
        prop_assert!(got[bodies.len()].is_err());
    }
}

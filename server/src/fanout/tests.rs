//! The sink's hand-over on real sockets, and a round's framing.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use bytes::Bytes;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};

use super::pass::frame;
use super::sink::{Conn, Framing, Offered, Sink};
use crate::message::Message;
use crate::metrics::{Metrics, Technique};

#[derive(Debug, Default)]
struct Counted {
    metrics: Metrics,
    delivered: AtomicU64,
    written: AtomicU64,
}

impl Conn for Counted {
    fn delivered(&self, seq: u64) {
        self.delivered.store(seq, Relaxed);
    }
    fn wrote(&self, n: u64) {
        self.written.fetch_add(n, Relaxed);
    }
    fn metrics(&self) -> &Metrics {
        &self.metrics
    }
}

/// A connected pair: the server's end in a sink (and as its task holds it), the client's
/// end to read from.
async fn pair() -> (Arc<Sink>, Arc<Counted>, TcpStream, Arc<TcpStream>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    let (server, _) = l.accept().await.unwrap();
    let server = Arc::new(server);
    let conn = Arc::new(Counted::default());
    let sink = Sink::new(
        server.clone(),
        conn.clone(),
        Technique::Sse,
        Framing::Chunked,
    );
    (sink, conn, client, server)
}

fn msg(seq: u64, data: &str) -> Arc<Message> {
    Arc::new(Message::new(seq, None, data).unwrap())
}

#[test]
fn a_round_is_one_chunk_of_every_message() {
    let round = [msg(1, "a"), msg(2, "b\nc")];
    let sse = frame(&round, Technique::Sse, Framing::Chunked);
    let body = "id: 1\ndata: a\n\nid: 2\ndata: b\ndata: c\n\n";
    assert_eq!(sse, format!("{:X}\r\n{body}\r\n", body.len()).into_bytes());
    let ndjson = frame(&round, Technique::Stream, Framing::UntilClose);
    assert_eq!(
        ndjson,
        "{\"id\":1,\"data\":\"a\"}\n{\"id\":2,\"data\":\"b\\nc\"}\n".as_bytes()
    );
}

#[tokio::test]
async fn an_armed_sink_takes_what_is_after_its_cursor_once() {
    let (sink, conn, mut client, task_end) = pair().await;
    drop(task_end);
    let epoch = sink.arm(4);
    assert!(sink.adopt(epoch, 4), "caught up with the pump");
    let o = sink.offer(epoch, 5, |cursor| {
        assert_eq!(cursor, 4);
        Some((Bytes::from_static(b"five"), 1))
    });
    assert_eq!(
        o,
        Offered {
            bytes: 4,
            messages: 1,
            kept: true
        }
    );
    assert_eq!(conn.delivered.load(Relaxed), 5);
    // A round it has already is not written again.
    let o = sink.offer(epoch, 5, |_| panic!("nothing to frame"));
    assert!(o.kept && o.bytes == 0);
    // An old epoch (the task took the socket back and handed it over again) writes nothing.
    let newer = sink.arm(5);
    assert!(
        !sink
            .offer(epoch, 6, |_| Some((Bytes::from_static(b"x"), 1)))
            .kept
    );
    assert!(
        sink.write_own(Bytes::from_static(b"+hb")),
        "heartbeat while direct"
    );
    assert_eq!(conn.written.load(Relaxed), 3);
    sink.close();
    assert!(
        !sink
            .offer(newer, 6, |_| Some((Bytes::from_static(b"x"), 1)))
            .kept
    );
    let mut got = Vec::new();
    client.read_to_end(&mut got).await.unwrap_or_default();
    assert_eq!(
        got, b"five+hb",
        "the socket was dropped when the sink closed"
    );
}

#[tokio::test]
async fn a_sink_behind_the_pump_is_handed_back() {
    let (sink, _conn, _client, _task_end) = pair().await;
    let epoch = sink.arm(3);
    assert!(!sink.adopt(epoch, 7), "missed 4 to 7");
    sink.handed_back().await;
    let back = sink.take_back();
    assert_eq!((back.cursor, back.pending, back.failed), (3, None, false));
}

#[tokio::test]
async fn a_write_that_would_block_leaves_the_rest_to_the_task() {
    let (sink, conn, mut client, task_end) = pair().await;
    let mut epoch = sink.arm(0);
    let block = Bytes::from(vec![b'x'; 256 * 1024]);
    let mut seq = 0;
    let mut sent = 0;
    // The client does not read: the socket's buffers fill and a write only partly goes.
    loop {
        seq += 1;
        let o = sink.offer(epoch, seq, |_| Some((block.clone(), 1)));
        sent += o.bytes;
        if !o.kept {
            break;
        }
        assert!(seq < 1000, "the socket never filled");
    }
    assert_eq!(conn.metrics.of(Technique::Sse).handed_back.load(Relaxed), 1);
    assert!(
        !sink.write_own(Bytes::from_static(b"hb")),
        "the task holds it"
    );
    sink.handed_back().await;
    let back = sink.take_back();
    let rest = back.pending.expect("the rest of the round");
    assert_eq!(back.cursor, seq, "the round counts as handed over");
    assert_eq!(sent + rest.len(), seq as usize * block.len());
    // The task writes the rest; the client gets every byte, in order.
    let reader = tokio::spawn(async move {
        let mut n = 0;
        let mut buf = vec![0u8; 64 * 1024];
        while n < seq as usize * 256 * 1024 {
            let k = client.read(&mut buf).await.unwrap();
            assert!(k > 0 && buf[..k].iter().all(|b| *b == b'x'));
            n += k;
        }
        n
    });
    let mut rest = &rest[..];
    while !rest.is_empty() {
        task_end.writable().await.unwrap();
        match task_end.try_write(rest) {
            Ok(n) => rest = &rest[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(reader.await.unwrap(), seq as usize * block.len());
    epoch = sink.arm(seq);
    assert!(sink.adopt(epoch, seq));
}

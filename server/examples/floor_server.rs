//! The fan-out floor: about the least work a server can do to hand one SSE message to N
//! subscribers, as a reference for `pushbench serve` (performance issue, item 3: server CPU
//! per delivery within 1.15x of this). Not a server to use: no cursors, no retention, no
//! heartbeats, no resume, no limits beyond a head and body size.
//!
//! It speaks the subset of docs/PROTOCOL.md that `pushbench run --target URL --techniques sse`
//! uses: `GET /sse/{topic}` answers a chunked `text/event-stream` and then gets each message of
//! the topic as one chunk `id: N\ndata: PAYLOAD\n\n`; `POST /publish/{topic}` answers
//! `{"topic":..,"id":N}` before the fan-out (a publish never waits for subscribers). Everything
//! else is `404` (so `/stats` is absent: the load generator's probe accepts any answer).
//!
//! The fan-out is 2 writer threads, subscribers dealt between them in turn; each message is
//! formatted once and written to each subscriber with one blocking `write_all`. std only: one
//! accept thread, one short thread per connection to read its requests.
//!
//! ```text
//! cargo run --release -p server --example floor_server -- [--port N] [--bind IP]
//! ```
//!
//! Prints `listening on http://ADDR` as its first line on stdout (port 0, the default, picks a
//! free one).

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use anyhow::{Context, bail};
use socket2::{Domain, Socket, Type};

/// Writer threads the subscribers are split between.
const WRITERS: usize = 2;
/// Largest request head read.
const MAX_HEAD: usize = 16 * 1024;
/// Largest publish body read.
const MAX_BODY: usize = 1 << 20;
/// A subscriber whose socket takes longer than this to accept one message is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// A connection that sends no complete request for this long is closed.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// What a writer thread is told, in order: a subscriber added before a message gets it.
enum Cmd {
    Subscribe(Arc<str>, TcpStream),
    Message(Arc<str>, Arc<[u8]>),
}

/// The writers' queues and each topic's last sequence number.
struct Hub {
    writers: Vec<Sender<Cmd>>,
    next_writer: AtomicUsize,
    seqs: Mutex<HashMap<Arc<str>, u64>>,
}

impl Hub {
    fn subscribe(&self, topic: &str, s: TcpStream) {
        let w = self.next_writer.fetch_add(1, Ordering::Relaxed) % self.writers.len();
        let _ = self.writers[w].send(Cmd::Subscribe(topic.into(), s));
    }

    /// Numbers the message, queues it to every writer and returns its id.
    fn publish(&self, topic: &str, payload: &str) -> u64 {
        // Held while queueing, so two publishes to one topic reach the writers in id order.
        let mut seqs = self.seqs.lock().unwrap_or_else(|e| e.into_inner());
        let seq = seqs.entry(topic.into()).or_insert(0);
        *seq += 1;
        let chunk: Arc<[u8]> = sse_chunk(*seq, payload).into();
        let topic: Arc<str> = topic.into();
        for w in &self.writers {
            let _ = w.send(Cmd::Message(topic.clone(), chunk.clone()));
        }
        *seq
    }
}

/// One SSE event as one HTTP chunk (a payload line break starts a new `data:` line).
fn sse_chunk(id: u64, payload: &str) -> Vec<u8> {
    let mut ev = format!("id: {id}\n");
    for line in payload.split('\n') {
        ev.push_str("data: ");
        ev.push_str(line.strip_suffix('\r').unwrap_or(line));
        ev.push('\n');
    }
    ev.push('\n');
    format!("{:x}\r\n{ev}\r\n", ev.len()).into_bytes()
}

/// A writer thread: its subscribers by topic, one blocking write each per message.
fn writer(rx: Receiver<Cmd>) {
    let mut subs: HashMap<Arc<str>, Vec<TcpStream>> = HashMap::new();
    for cmd in rx {
        match cmd {
            Cmd::Subscribe(topic, s) => subs.entry(topic).or_default().push(s),
            Cmd::Message(topic, chunk) => {
                if let Some(list) = subs.get_mut(&topic) {
                    list.retain_mut(|s| s.write_all(&chunk).is_ok());
                }
            }
        }
    }
}

fn valid_topic(t: &str) -> bool {
    (1..=64).contains(&t.len())
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

/// Reads into `buf` until it holds a whole request head; its length (without the blank
/// line), or `None` when the peer closed first.
fn read_head(s: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<Option<usize>> {
    let mut tmp = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            return Ok(Some(end));
        }
        if buf.len() > MAX_HEAD {
            return Err(io::Error::other("request head too large"));
        }
        match s.read(&mut tmp)? {
            0 => return Ok(None),
            n => buf.extend_from_slice(&tmp[..n]),
        }
    }
}

fn answer(s: &mut TcpStream, status: &str, body: &str) -> io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(head.as_bytes())
}

/// One connection: requests until it closes, or until it becomes an SSE subscriber.
fn serve(mut s: TcpStream, hub: &Hub) -> io::Result<()> {
    s.set_nodelay(true)?;
    s.set_read_timeout(Some(READ_TIMEOUT))?;
    let mut buf = Vec::new();
    while let Some(end) = read_head(&mut s, &mut buf)? {
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        let mut lines = head.split("\r\n");
        let mut request = lines.next().unwrap_or("").split(' ');
        let (method, target) = (request.next().unwrap_or(""), request.next().unwrap_or(""));
        let path = target.split('?').next().unwrap_or("");
        let length = lines
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.trim().parse::<usize>().ok())
            .unwrap_or(0);
        if length > MAX_BODY {
            return answer(&mut s, "413 Payload Too Large", "");
        }
        let whole = end + 4 + length;
        let mut tmp = [0u8; 4096];
        while buf.len() < whole {
            match s.read(&mut tmp)? {
                0 => return Ok(()),
                n => buf.extend_from_slice(&tmp[..n]),
            }
        }
        let sse = path.strip_prefix("/sse/").filter(|t| valid_topic(t));
        let publish = path.strip_prefix("/publish/").filter(|t| valid_topic(t));
        match (method, sse, publish) {
            ("GET", Some(topic), _) => {
                s.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\
                      cache-control: no-store\r\nx-accel-buffering: no\r\n\
                      transfer-encoding: chunked\r\n\r\n",
                )?;
                s.set_write_timeout(Some(WRITE_TIMEOUT))?;
                hub.subscribe(topic, s);
                return Ok(());
            }
            ("POST", _, Some(topic)) => {
                let payload = String::from_utf8_lossy(&buf[end + 4..whole]);
                let id = hub.publish(topic, &payload);
                answer(
                    &mut s,
                    "200 OK",
                    &format!("{{\"topic\":\"{topic}\",\"id\":{id}}}"),
                )?;
            }
            _ => answer(&mut s, "404 Not Found", "")?,
        }
        buf.drain(..whole);
    }
    Ok(())
}

fn listen(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket
        .bind(&addr.into())
        .with_context(|| format!("bind {addr}"))?;
    // A deep backlog: 10,000 subscribers connect within seconds.
    socket.listen(4096)?;
    Ok(socket.into())
}

/// Starts the writer threads.
fn hub() -> anyhow::Result<Arc<Hub>> {
    let mut writers = Vec::new();
    for _ in 0..WRITERS {
        let (tx, rx) = mpsc::channel();
        thread::Builder::new()
            .name("writer".into())
            .spawn(move || writer(rx))?;
        writers.push(tx);
    }
    Ok(Arc::new(Hub {
        writers,
        next_writer: AtomicUsize::new(0),
        seqs: Mutex::new(HashMap::new()),
    }))
}

/// Accepts connections for ever, one short thread each.
fn accept_loop(listener: TcpListener, hub: Arc<Hub>) {
    loop {
        let s = match listener.accept() {
            Ok((s, _)) => s,
            // Out of descriptors, or a connection reset before it was accepted.
            Err(_) => {
                thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        let hub = hub.clone();
        // A failed spawn drops the connection: the client sees it closed.
        let _ = thread::Builder::new()
            .stack_size(64 * 1024)
            .spawn(move || serve(s, &hub));
    }
}

fn main() -> anyhow::Result<()> {
    let mut ip: IpAddr = [127, 0, 0, 1].into();
    let mut port = 0u16;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let value = args.next().with_context(|| format!("{a} needs a value"))?;
        match a.as_str() {
            "--port" => port = value.parse().context("--port")?,
            "--bind" => ip = value.parse().context("--bind")?,
            _ => bail!("unknown argument {a} (usage: floor_server [--port N] [--bind IP])"),
        }
    }
    let listener = listen(SocketAddr::new(ip, port))?;
    let hub = hub()?;
    let mut out = io::stdout().lock();
    writeln!(out, "listening on http://{}", listener.local_addr()?)?;
    out.flush()?;
    drop(out);
    accept_loop(listener, hub);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_is_one_chunk() {
        assert_eq!(sse_chunk(7, "pb1 x"), b"13\r\nid: 7\ndata: pb1 x\n\n\r\n");
        assert_eq!(
            sse_chunk(1, "a\r\nb"),
            b"17\r\nid: 1\ndata: a\ndata: b\n\n\r\n"
        );
        assert!(valid_topic("demo-1.x_y"));
        assert!(!valid_topic("") && !valid_topic("a/b") && !valid_topic(&"a".repeat(65)));
    }

    fn read_until(s: &mut TcpStream, buf: &mut Vec<u8>, needle: &[u8]) {
        let mut tmp = [0u8; 4096];
        while !buf.windows(needle.len()).any(|w| w == needle) {
            let n = s.read(&mut tmp).expect("read");
            assert!(n > 0, "closed before {needle:?}: {buf:?}");
            buf.extend_from_slice(&tmp[..n]);
        }
    }

    #[test]
    fn publishes_reach_every_subscriber_of_the_topic_in_order() {
        let listener = listen("127.0.0.1:0".parse().expect("addr")).expect("listen");
        let addr = listener.local_addr().expect("addr");
        let hub = hub().expect("hub");
        thread::spawn(move || accept_loop(listener, hub));
        let mut subs: Vec<TcpStream> = (0..3)
            .map(|i| {
                let topic = if i < 2 { "news" } else { "other" };
                let mut s = TcpStream::connect(addr).expect("connect");
                s.set_read_timeout(Some(Duration::from_secs(5)))
                    .expect("timeout");
                write!(s, "GET /sse/{topic}?since=0 HTTP/1.1\r\nhost: x\r\n\r\n").expect("get");
                let mut buf = Vec::new();
                read_until(&mut s, &mut buf, b"\r\n\r\n");
                assert!(buf.starts_with(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream"));
                s
            })
            .collect();
        // The writers have the subscribers once a publish queued after them is delivered; the
        // connection threads hand them over right after the head, so wait for that first.
        thread::sleep(Duration::from_millis(100));
        let mut p = TcpStream::connect(addr).expect("connect");
        p.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let mut answers = Vec::new();
        for body in ["one", "two"] {
            write!(
                p,
                "POST /publish/news HTTP/1.1\r\ncontent-length: 3\r\n\r\n{body}"
            )
            .expect("post");
        }
        read_until(&mut p, &mut answers, b"\"id\":2}");
        let answers = String::from_utf8_lossy(&answers);
        assert!(
            answers.contains("{\"topic\":\"news\",\"id\":1}"),
            "{answers}"
        );
        write!(p, "GET /stats HTTP/1.1\r\n\r\n").expect("stats");
        let mut not_found = Vec::new();
        read_until(&mut p, &mut not_found, b"\r\n\r\n");
        assert!(not_found.starts_with(b"HTTP/1.1 404"));
        let want = [sse_chunk(1, "one"), sse_chunk(2, "two")].concat();
        for s in &mut subs[..2] {
            let mut got = Vec::new();
            read_until(s, &mut got, &want);
            assert_eq!(got, want);
        }
        // The other topic's subscriber got nothing.
        subs[2]
            .set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        let mut tmp = [0u8; 64];
        assert!(
            subs[2].read(&mut tmp).is_err(),
            "a message of another topic arrived"
        );
    }
}

//! An independent minimal SSE client, to check the latency pushbench's load generator reports
//! (performance issue, item 1): one thread (a tokio current-thread runtime), raw `TcpStream`s,
//! none of pushbench's client, publisher or payload code (CPU is read from /proc by the load
//! generator's `sut::procfs`, so both clients' CPU figures are measured alike).
//!
//! It opens `--clients` SSE connections (`GET {url}/sse/{topic}`, source addresses spread over
//! 127.0.0.1..127.0.0.`--source-addrs`), then publishes `--rate` messages per second itself on
//! one keep-alive connection (`POST {url}/publish/{topic}`, a `pb1 0 SEQ SENT_US xxx..`
//! payload, SENT_US read right before the write) for `--warmup` plus `--duration`. Each
//! subscriber scans what it reads for `pb1 ` payloads line by line (it does not decode the
//! chunked framing: it relies on an event not being split across chunks, as servers write
//! one event per chunk) and records receive time minus SENT_US in an HdrHistogram. Only the
//! messages published after the warm-up count.
//!
//! Prints one JSON line: delivered, expected, lost, p50/p99/max latency (ms), this process's
//! CPU seconds per 1M deliveries, and the server's (with `--server-pid`, the process and its
//! descendants), both over the window (from the first message after the warm-up to the last
//! delivery or the end of `--drain`).
//!
//! ```text
//! cargo run --release -p loadgen --example minimal_client -- --url http://127.0.0.1:8080 \
//!     --clients 10000 --rate 1 --duration 10s [--server-pid PID]
//! ```

use std::cell::{Cell, RefCell};
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use clap::Parser;
use hdrhistogram::Histogram;
use loadgen::sut::procfs;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::LocalSet;

#[derive(Parser, Debug)]
#[command(about = "A minimal one-thread SSE client measuring publish-to-receive latency")]
struct Args {
    /// The server, `http://IP:PORT[/PREFIX]`.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    #[arg(long, default_value_t = 100)]
    clients: usize,
    /// Messages published per second.
    #[arg(long, default_value_t = 1.0)]
    rate: f64,
    #[arg(long, default_value_t = 256)]
    payload_bytes: usize,
    #[arg(long, default_value = "minimal")]
    topic: String,
    #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
    warmup: Duration,
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Longest wait after the last publish for deliveries still on their way.
    #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
    drain: Duration,
    /// Subscribers connect from 127.0.0.1 up to 127.0.0.N.
    #[arg(long, default_value_t = 8)]
    source_addrs: u8,
    /// Connections being opened at once.
    #[arg(long, default_value_t = 256)]
    connect_concurrency: usize,
    /// The server's process, for its CPU seconds.
    #[arg(long)]
    server_pid: Option<u32>,
}

/// What the subscribers share (one thread: cells, no locks).
struct Shared {
    /// Sequence numbers that count, `first..=last`.
    first: u64,
    last: u64,
    subscribed: Cell<usize>,
    connect_failures: Cell<usize>,
    closed: Cell<usize>,
    delivered: Cell<u64>,
    latency_us: RefCell<Histogram<u64>>,
}

impl Shared {
    fn new(first: u64, last: u64) -> anyhow::Result<Shared> {
        Ok(Shared {
            first,
            last,
            subscribed: Cell::new(0),
            connect_failures: Cell::new(0),
            closed: Cell::new(0),
            delivered: Cell::new(0),
            latency_us: RefCell::new(Histogram::new_with_bounds(1, 600_000_000, 3)?),
        })
    }
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// Scans complete lines of `buf` for payloads, records them, keeps the incomplete tail.
fn scan(buf: &mut Vec<u8>, shared: &Shared) {
    let Some(last_nl) = buf.iter().rposition(|&b| b == b'\n') else {
        return;
    };
    let now = now_us();
    for line in buf[..last_nl].split(|&b| b == b'\n') {
        let Some(at) = line.windows(4).position(|w| w == b"pb1 ") else {
            continue;
        };
        let mut fields = line[at + 4..].split(|&b| b == b' ').map(|f| {
            std::str::from_utf8(f)
                .ok()
                .and_then(|f| f.parse::<u64>().ok())
        });
        let (Some(Some(_topic)), Some(Some(seq)), Some(Some(sent))) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        if (shared.first..=shared.last).contains(&seq) {
            shared.delivered.set(shared.delivered.get() + 1);
            let _ = shared
                .latency_us
                .borrow_mut()
                .record(now.saturating_sub(sent).max(1));
        }
    }
    buf.drain(..=last_nl);
}

/// Reads until `buf` holds a response head; its length (blank line included).
async fn read_head(s: &mut TcpStream, buf: &mut Vec<u8>) -> anyhow::Result<usize> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            return Ok(end + 4);
        }
        if buf.len() > 16 * 1024 || s.read_buf(buf).await? == 0 {
            bail!("no response head");
        }
    }
}

/// One subscriber: connect, subscribe, then scan what arrives until the server closes.
async fn subscriber(
    i: usize,
    src: IpAddr,
    server: SocketAddr,
    request: Rc<str>,
    shared: Rc<Shared>,
    permit: tokio::sync::OwnedSemaphorePermit,
) {
    let opened = async {
        let socket = TcpSocket::new_v4()?;
        socket.bind(SocketAddr::new(src, 0))?;
        let mut s = tokio::time::timeout(Duration::from_secs(10), socket.connect(server))
            .await
            .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??;
        s.set_nodelay(true)?;
        s.write_all(request.as_bytes()).await?;
        let mut buf = Vec::with_capacity(4096);
        let head_len = tokio::time::timeout(Duration::from_secs(10), read_head(&mut s, &mut buf))
            .await
            .context("no answer within 10 s")??;
        let head = String::from_utf8_lossy(&buf[..head_len]).to_ascii_lowercase();
        if !head.starts_with("http/1.1 200") || !head.contains("text/event-stream") {
            bail!("subscriber {i}: not an event stream: {head:?}");
        }
        buf.drain(..head_len);
        anyhow::Ok((s, buf))
    }
    .await;
    drop(permit);
    let (mut s, mut buf) = match opened {
        Ok(x) => x,
        Err(_) => {
            shared
                .connect_failures
                .set(shared.connect_failures.get() + 1);
            return;
        }
    };
    shared.subscribed.set(shared.subscribed.get() + 1);
    loop {
        scan(&mut buf, &shared);
        if buf.len() > 1 << 20 {
            buf.clear(); // a line that never ends: not an event stream
        }
        match s.read_buf(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
    shared.closed.set(shared.closed.get() + 1);
}

/// Publishes messages `1..=last` at `rate` per second from `t0` on one keep-alive connection;
/// the failed publishes and the most a publish was written after it was due (µs), which the
/// latency does not include: each payload carries the time it was written.
async fn publisher(
    server: SocketAddr,
    (host, path): (&str, &str),
    a: &Args,
    t0: Instant,
    last: u64,
) -> (u64, u64) {
    let (mut failures, mut max_lag_us) = (0, 0);
    let mut conn: Option<TcpStream> = None;
    for seq in 1..=last {
        let due = t0 + Duration::from_secs_f64((seq - 1) as f64 / a.rate);
        tokio::time::sleep_until(due.into()).await;
        max_lag_us = max_lag_us.max(Instant::now().saturating_duration_since(due).as_micros());
        let ok = async {
            let s = match conn.as_mut() {
                Some(s) => s,
                None => {
                    let s = TcpStream::connect(server).await?;
                    s.set_nodelay(true)?;
                    conn.insert(s)
                }
            };
            let mut body = format!("pb1 0 {seq} {} ", now_us());
            let pad = a.payload_bytes.saturating_sub(body.len());
            body.extend(std::iter::repeat_n('x', pad));
            let request = format!(
                "POST {path} HTTP/1.1\r\nhost: {host}\r\ncontent-type: text/plain\r\n\
                 content-length: {}\r\n\r\n{body}",
                body.len()
            );
            s.write_all(request.as_bytes()).await?;
            let mut buf = Vec::with_capacity(512);
            let head_len = read_head(s, &mut buf).await?;
            let head = String::from_utf8_lossy(&buf[..head_len]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .context("publish answer without content-length")?;
            while buf.len() < head_len + length {
                if s.read_buf(&mut buf).await? == 0 {
                    bail!("publish connection closed");
                }
            }
            anyhow::ensure!(
                head.starts_with("http/1.1 200"),
                "publish answered {head:?}"
            );
            anyhow::Ok(())
        };
        if tokio::time::timeout(Duration::from_secs(5), ok)
            .await
            .map_or(true, |r| r.is_err())
        {
            failures += 1;
            conn = None;
        }
    }
    (failures, max_lag_us as u64)
}

/// CPU seconds of `pid` and its descendants (`None`: this process alone), read from /proc as
/// the load generator reads them, so the two clients' figures compare.
fn cpu_seconds(pid: Option<u32>) -> Option<f64> {
    match pid {
        None => procfs::sample("self"),
        Some(p) => procfs::sample_tree(p),
    }
    .map(|s| s.cpu_s)
}

/// `http://IP:PORT[/PREFIX]`: the address, the `Host` value and the prefix.
fn parse_url(url: &str) -> anyhow::Result<(SocketAddr, String, String)> {
    let rest = url
        .strip_prefix("http://")
        .context("--url must start with http://")?;
    let (host, prefix) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let addr = host
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve {host}"))?
        .next()
        .with_context(|| format!("cannot resolve {host}"))?;
    Ok((
        addr,
        host.to_string(),
        prefix.trim_end_matches('/').to_string(),
    ))
}

async fn run(a: Args) -> anyhow::Result<serde_json::Value> {
    anyhow::ensure!(a.rate > 0.0 && a.rate.is_finite(), "--rate must be above 0");
    let (server, host, prefix) = parse_url(&a.url)?;
    // Message k is published (k - 1) / rate after the first; those due from the warm-up's end
    // until the window's end count.
    let first = (a.warmup.as_secs_f64() * a.rate).ceil() as u64 + 1;
    let last = ((a.warmup + a.duration).as_secs_f64() * a.rate).ceil() as u64;
    anyhow::ensure!(last >= first, "no message falls in --duration at --rate");
    let shared = Rc::new(Shared::new(first, last)?);
    let request: Rc<str> = format!(
        "GET {prefix}/sse/{} HTTP/1.1\r\nhost: {host}\r\naccept: text/event-stream\r\n\r\n",
        a.topic
    )
    .into();
    let sources = a.source_addrs.max(1);
    let gate = Arc::new(Semaphore::new(a.connect_concurrency.max(1)));
    let connect_start = Instant::now();
    for i in 0..a.clients {
        let permit = gate.clone().acquire_owned().await?;
        let src = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1 + (i % sources as usize) as u8));
        let task = subscriber(i, src, server, request.clone(), shared.clone(), permit);
        tokio::task::spawn_local(task);
    }
    // Every subscriber connected or failed (each within 20 s of its start).
    let deadline = Instant::now() + Duration::from_secs(30);
    while shared.subscribed.get() + shared.connect_failures.get() < a.clients {
        if Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let connect_s = connect_start.elapsed().as_secs_f64();
    let subscribed = shared.subscribed.get() as u64;
    let expected = (last - first + 1) * subscribed;

    // Publish; CPU is sampled when the first counted message is due and after the drain.
    let path = format!("{prefix}/publish/{}", a.topic);
    let t0 = Instant::now();
    let window_start = t0 + Duration::from_secs_f64((first - 1) as f64 / a.rate);
    let sampler = async {
        tokio::time::sleep_until(window_start.into()).await;
        (
            cpu_seconds(None),
            a.server_pid.and_then(|p| cpu_seconds(Some(p))),
        )
    };
    let ((failures, max_lag_us), (client0, server0)) =
        tokio::join!(publisher(server, (&host, &path), &a, t0, last), sampler);
    let drain_end = Instant::now() + a.drain;
    while shared.delivered.get() < expected && Instant::now() < drain_end {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let client1 = cpu_seconds(None);
    let server1 = a.server_pid.and_then(|p| cpu_seconds(Some(p)));

    let delivered = shared.delivered.get();
    let per_1m = |c0: Option<f64>, c1: Option<f64>| match (c0, c1) {
        (Some(c0), Some(c1)) if delivered > 0 => Some((c1 - c0) / delivered as f64 * 1e6),
        _ => None,
    };
    let h = shared.latency_us.borrow();
    let ms = |us: u64| us as f64 / 1000.0;
    Ok(serde_json::json!({
        "clients": a.clients,
        "subscribed": subscribed,
        "connect_failures": shared.connect_failures.get(),
        "closed_early": shared.closed.get(),
        "connect_s": connect_s,
        "rate": a.rate,
        "window_messages": last - first + 1,
        "publish_failures": failures,
        "max_publish_lag_ms": ms(max_lag_us),
        "delivered": delivered,
        "expected": expected,
        "lost": expected.saturating_sub(delivered),
        "p50_ms": ms(h.value_at_quantile(0.5)),
        "p99_ms": ms(h.value_at_quantile(0.99)),
        "max_ms": ms(h.max()),
        "client_cpu_s": client1.zip(client0).map(|(c1, c0)| c1 - c0),
        "client_cpu_s_per_1m": per_1m(client0, client1),
        "server_cpu_s": server1.zip(server0).map(|(s1, s0)| s1 - s0),
        "server_cpu_s_per_1m": per_1m(server0, server1),
    }))
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let out = LocalSet::new().block_on(&rt, run(args))?;
    println!("{out}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_payloads_split_across_reads_and_counts_only_the_window() {
        let sh = Shared::new(2, 3).expect("histogram");
        let sent = now_us() - 5_000;
        let stream = format!(
            "13\r\nid: 1\ndata: pb1 0 1 {sent} xx\n\n\r\n: hb\n\nid: 2\ndata: pb1 0 2 {sent} xx\n\n\
             id: 3\ndata: pb1 0 3 {sent} xx\n\nid: 4\ndata: pb1 0 4 {sent} xx\n\n"
        );
        let bytes = stream.as_bytes();
        let mut buf = Vec::new();
        // Fed 7 bytes at a time: lines are cut everywhere.
        for piece in bytes.chunks(7) {
            buf.extend_from_slice(piece);
            scan(&mut buf, &sh);
        }
        assert!(buf.is_empty(), "{buf:?}");
        // Seqs 2 and 3 are in the window; 1 (warm-up) and 4 (after) are not.
        assert_eq!(sh.delivered.get(), 2);
        let h = sh.latency_us.borrow();
        assert_eq!(h.len(), 2);
        assert!(h.min() >= 5_000 && h.max() < 5_000_000, "{}", h.max());
        // A payload header that is not three numbers is not counted.
        drop(h);
        let mut buf = b"data: pb1 0 x 12 \ndata: pb1 0 2\n".to_vec();
        scan(&mut buf, &sh);
        assert_eq!(sh.delivered.get(), 2);
    }

    #[test]
    fn reads_urls() {
        let (addr, host, prefix) = parse_url("http://127.0.0.1:8080/api/").expect("url");
        assert_eq!(addr, "127.0.0.1:8080".parse().expect("addr"));
        assert_eq!((host.as_str(), prefix.as_str()), ("127.0.0.1:8080", "/api"));
        assert_eq!(parse_url("http://127.0.0.1:9").expect("url").2, "");
        assert!(parse_url("https://127.0.0.1:9").is_err());
    }
}

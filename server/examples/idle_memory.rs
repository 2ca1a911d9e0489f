//! Idle memory per connection, per technique: a benchmark of `pushbench serve`, not a test.
//!
//! For each technique in turn it starts a fresh server (`pushbench serve --listen 127.0.0.1:0
//! --max-connections 20000`), reads the server's resident memory (from /proc, `server::procinfo`),
//! opens N idle subscriber connections to it (a hand-written request each: the subscribers are a
//! measuring tool, not clients under test, so they stay tiny and never read), waits until the
//! server's `/stats` gauge shows N open connections of that technique, reads VmRSS again, and
//! prints the growth per connection. Then it closes them (RST, so no TIME_WAIT piles up), waits
//! for the gauge to drop, and stops that server.
//!
//! A fresh server per technique keeps the figures independent: memory freed by one technique's
//! connections would otherwise be reused by the next one and make it look cheaper than it is.
//!
//! ```text
//! cargo build --release -p loadgen --bin pushbench
//! cargo run --release -p server --example idle_memory -- --server target/release/pushbench
//! ```
//! (scripts/idle-memory.sh does exactly this.)

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use clap::Parser;
use contract::stats::Stats;
use socket2::{Domain, Socket, Type};

/// The topic the idle subscribers wait on; nothing is ever published to it.
const TOPIC: &str = "idle-mem";

#[derive(Debug, Parser)]
#[command(about = "Measures the server's resident memory per idle connection, per technique")]
struct Opts {
    /// The pushbench binary; a fresh `pushbench serve` is started for each technique.
    #[arg(long, default_value = "target/release/pushbench")]
    server: PathBuf,
    /// Idle connections to open per technique.
    #[arg(long, short = 'n', default_value_t = 5000)]
    connections: usize,
    /// Techniques to measure, in order (sse, stream, long-poll, ws, poll).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "sse,stream,long-poll,ws,poll"
    )]
    techniques: Vec<String>,
    /// Spread the connections over source addresses 127.0.0.1 ..= 127.0.0.K.
    #[arg(long, default_value_t = 9, value_parser = clap::value_parser!(u8).range(1..=250))]
    source_addrs: u8,
    /// How long to wait for the server's gauges to reach their target, in seconds.
    #[arg(long, default_value_t = 60)]
    wait_s: u64,
    /// How long the connections sit idle before the second RSS reading, in seconds (make it
    /// longer than the server's `--heartbeat` to include what a heartbeat costs).
    #[arg(long, default_value_t = 1.0)]
    settle_s: f64,
    /// Extra arguments for `pushbench serve` (after `--`).
    #[arg(last = true)]
    serve_args: Vec<String>,
}

/// One technique: the request its idle subscriber sends, and its target (KiB per connection).
struct Technique {
    name: &'static str,
    request: String,
    target_kib: f64,
    /// Short poll: the answer comes at once; read it so the connection is idle keep-alive.
    read_answer: bool,
}

fn technique(name: &str) -> Result<Technique> {
    let get = |path: String, extra: &str| {
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}\r\n")
    };
    let t = match name {
        "sse" => Technique {
            name: "sse",
            request: get(format!("/sse/{TOPIC}"), "Accept: text/event-stream\r\n"),
            target_kib: 8.0,
            read_answer: false,
        },
        "stream" => Technique {
            name: "stream",
            request: get(format!("/stream/{TOPIC}"), ""),
            target_kib: 8.0,
            read_answer: false,
        },
        "long-poll" => Technique {
            name: "long-poll",
            request: get(format!("/long-poll/{TOPIC}?since=0&timeout=300000"), ""),
            target_kib: 8.0,
            read_answer: false,
        },
        "ws" => Technique {
            name: "ws",
            request: get(
                format!("/ws/{TOPIC}"),
                "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
                 Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
            ),
            target_kib: 16.0,
            read_answer: false,
        },
        "poll" => Technique {
            name: "poll",
            request: get(format!("/poll/{TOPIC}?since=0"), ""),
            target_kib: 12.0,
            read_answer: true,
        },
        other => bail!("unknown technique `{other}` (sse, stream, long-poll, ws, poll)"),
    };
    Ok(t)
}

/// A running `pushbench serve`, killed when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    fn start(opts: &Opts) -> Result<Server> {
        let mut cmd = Command::new(&opts.server);
        // The server stops when this benchmark dies, however it dies.
        server::lifeline::tie_std(&mut cmd);
        let mut child = cmd
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--max-connections",
                "20000",
            ])
            .args(&opts.serve_args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("cannot start {}", opts.server.display()))?;
        let stdout = child.stdout.take().context("no stdout")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            // Keep draining the server's stdout so it never blocks on a full pipe.
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });
        let line = rx.recv_timeout(Duration::from_secs(20));
        let mut server = Server {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        let line = line.map_err(|_| anyhow!("the server printed nothing within 20 s"))?;
        let addr = line
            .strip_prefix("listening on http://")
            .and_then(|a| a.split_whitespace().next())
            .and_then(|a| a.parse().ok())
            .with_context(|| format!("unexpected first line from the server: {line:?}"))?;
        server.addr = addr;
        Ok(server)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The resident memory of a process, in bytes.
fn rss(pid: u32) -> Result<u64> {
    server::procinfo::usage(pid)
        .map(|u| u.rss_bytes)
        .with_context(|| format!("cannot read the memory of process {pid} in /proc"))
}

/// GET /stats with a minimal HTTP/1.1 request; returns the parsed document.
fn stats(addr: SocketAddr) -> Result<Stats> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(b"GET /stats HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).context("reading /stats")?;
    let text = String::from_utf8(raw).context("/stats is not UTF-8")?;
    let (head, body) = text
        .split_once("\r\n\r\n")
        .context("/stats: no header end")?;
    if !head.starts_with("HTTP/1.1 200") {
        bail!("/stats answered {}", head.lines().next().unwrap_or(""));
    }
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)?
    } else {
        body.to_string()
    };
    Ok(serde_json::from_str(&body)?)
}

fn dechunk(mut body: &str) -> Result<String> {
    let mut out = String::new();
    loop {
        let (size, rest) = body.split_once("\r\n").context("bad chunk")?;
        let size = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16)?;
        if size == 0 {
            return Ok(out);
        }
        out.push_str(rest.get(..size).context("short chunk")?);
        body = rest.get(size + 2..).context("short chunk")?;
    }
}

/// The server's open-connection gauge for a technique.
fn open_connections(addr: SocketAddr, technique: &str) -> Result<u64> {
    let s = stats(addr)?;
    s.technique(technique)
        .map(|t| t.connections)
        .with_context(|| format!("/stats has no techniques.{technique}.connections"))
}

/// Polls the gauge until `done(value)` or the deadline; returns the last value seen.
fn wait_gauge(
    addr: SocketAddr,
    t: &str,
    wait: Duration,
    done: impl Fn(u64) -> bool,
) -> Result<u64> {
    let deadline = Instant::now() + wait;
    loop {
        let v = open_connections(addr, t)?;
        if done(v) || Instant::now() >= deadline {
            return Ok(v);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Opens one idle subscriber connection from 127.0.0.`src` and sends its request.
fn open_one(addr: SocketAddr, src: u8, t: &Technique) -> Result<TcpStream> {
    let sock = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    // Close with RST: no TIME_WAIT, and the server learns of it at once.
    sock.set_linger(Some(Duration::ZERO))?;
    let local = SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, src), 0);
    sock.bind(&local.into())?;
    sock.connect_timeout(&addr.into(), Duration::from_secs(5))?;
    let mut s: TcpStream = sock.into();
    s.set_nodelay(true)?;
    s.write_all(t.request.as_bytes())?;
    if t.read_answer {
        read_answer(&mut s)?;
    }
    Ok(s)
}

/// Reads one complete answer with a Content-Length (short poll) so the connection is idle.
fn read_answer(s: &mut TcpStream) -> Result<()> {
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 512];
    loop {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            bail!("the server closed the connection before answering");
        }
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            if !head.starts_with("HTTP/1.1 200") {
                bail!("answer: {}", head.lines().next().unwrap_or(""));
            }
            let len: usize = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().ok())?
                })
                .context("short-poll answer without Content-Length")?;
            if body.len() >= len {
                return Ok(());
            }
        }
    }
}

/// Reads the status line a subscriber got (a sample check that the server accepted them).
fn status_line(s: &mut TcpStream) -> String {
    let _ = s.set_read_timeout(Some(Duration::from_secs(3)));
    let mut buf = [0u8; 64];
    match s.read(&mut buf) {
        Ok(n) => String::from_utf8_lossy(&buf[..n])
            .lines()
            .next()
            .unwrap_or("")
            .to_string(),
        Err(e) => format!("(nothing read: {e})"),
    }
}

fn mib(b: u64) -> String {
    format!("{:.1} MiB", b as f64 / 1048576.0)
}

fn measure(opts: &Opts, t: &Technique) -> Result<()> {
    let server = Server::start(opts)?;
    let (addr, pid) = (server.addr, server.pid());
    stats(addr).context("the server does not answer /stats")?;
    std::thread::sleep(Duration::from_millis(500));
    let before = rss(pid)?;

    let started = Instant::now();
    let mut conns = Vec::with_capacity(opts.connections);
    for i in 0..opts.connections {
        let src = 1 + (i % usize::from(opts.source_addrs)) as u8;
        let c = open_one(addr, src, t)
            .with_context(|| format!("{}: connection {} of {}", t.name, i + 1, opts.connections))?;
        conns.push(c);
    }
    let opened_in = started.elapsed();
    let n = opts.connections as u64;
    // Short poll's idle keep-alive connections may not be in any gauge: don't wait long for it.
    let wait = Duration::from_secs(if t.read_answer { 3 } else { opts.wait_s });
    let gauge = wait_gauge(addr, t.name, wait, |v| v >= n)?;
    std::thread::sleep(Duration::from_secs_f64(opts.settle_s.clamp(0.0, 600.0)));
    let after = rss(pid)?;
    // Sample check (not for long poll, whose answer comes only at its timeout; not for short
    // poll, already read): the first subscriber got a 200 or a 101.
    let sample = if t.read_answer || t.name == "long-poll" {
        String::new()
    } else {
        status_line(&mut conns[0])
    };

    let per_conn = after.saturating_sub(before) as f64 / n as f64;
    let verdict = if per_conn / 1024.0 <= t.target_kib {
        "ok"
    } else {
        "OVER"
    };
    println!(
        "{:<10} {:>11} {:>11} {:>11} {:>20.0} {:>9.2} KiB  (target {:>2} KiB: {verdict})",
        t.name,
        n,
        mib(before),
        mib(after),
        per_conn,
        per_conn / 1024.0,
        t.target_kib
    );
    let mut notes = vec![format!("opened in {:.1} s", opened_in.as_secs_f64())];
    if gauge < n {
        notes.push(format!("server gauge showed only {gauge} open"));
    }
    if !sample.is_empty() {
        notes.push(format!("first subscriber got {sample:?}"));
    }

    drop(conns);
    let left = wait_gauge(addr, t.name, Duration::from_secs(20), |v| v == 0)?;
    let closed = rss(pid)?;
    notes.push(format!(
        "after closing: {left} still open, RSS {}",
        mib(closed)
    ));
    println!("{:<10} {}", "", notes.join("; "));
    Ok(())
}

fn main() -> Result<()> {
    let opts = Opts::parse();
    let techniques = opts
        .techniques
        .iter()
        .map(|t| technique(t))
        .collect::<Result<Vec<_>>>()?;
    if opts.connections == 0 || opts.connections > 19_000 {
        bail!("--connections must be 1..=19000 (one process holds at most 20,000 descriptors)");
    }
    println!(
        "{:<10} {:>11} {:>11} {:>11} {:>20} {:>13}",
        "technique", "connections", "rss_before", "rss_after", "bytes_per_connection", "(KiB)"
    );
    for t in &techniques {
        measure(&opts, t)?;
    }
    Ok(())
}

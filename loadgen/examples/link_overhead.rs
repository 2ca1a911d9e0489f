//! What the link emulator itself costs: its added latency at rtt=0, its accuracy at a small
//! RTT, its CPU per delivered message, and its memory per idle connection, each measured
//! against direct loopback connections to an in-process server (docs/NETWORK.md).
//!
//! `cargo run --release -p loadgen --example link_overhead -- --clients 200 --rate 100`

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use clap::Parser;
use hdrhistogram::Histogram;
use loadgen::link::{ClientStream, Emulator, Link, LinkSpec};
use server::procinfo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Parser)]
struct Args {
    /// Push connections (each gets every message).
    #[arg(long, default_value_t = 200)]
    clients: usize,
    /// Messages per second to each connection.
    #[arg(long, default_value_t = 100)]
    rate: u32,
    /// Push duration per mode, seconds.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Message size, bytes (at least 8).
    #[arg(long, default_value_t = 256)]
    size: usize,
    /// Round trips of the ping-pong test.
    #[arg(long, default_value_t = 2000)]
    round_trips: usize,
    /// Idle connections for the memory test.
    #[arg(long, default_value_t = 2000)]
    idle: usize,
    /// Emulator threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

/// Nanoseconds since the first call: the timestamp inside each message.
fn now_ns() -> u64 {
    static BASE: OnceLock<Instant> = OnceLock::new();
    BASE.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// A histogram of µs up to a minute (fixed bounds: recording never resizes it).
fn hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).unwrap()
}

/// How the clients connect.
#[derive(Clone)]
enum Via {
    Direct,
    Link(Link),
}

impl Via {
    fn name(&self) -> String {
        match self {
            Via::Direct => "direct".into(),
            Via::Link(l) => format!("link {}", l.spec()),
        }
    }
    async fn connect(&self, addr: SocketAddr) -> ClientStream {
        let t = Duration::from_secs(10);
        match self {
            Via::Direct => {
                ClientStream::Tcp(loadgen::net::connect_tcp(addr, None, t).await.unwrap())
            }
            Via::Link(l) => ClientStream::Linked(l.connect(addr, None, t).await.unwrap()),
        }
    }
    fn link_cpu(&self) -> f64 {
        match self {
            Via::Direct => 0.0,
            Via::Link(l) => l.emulator().cpu_seconds().unwrap_or(0.0),
        }
    }
}

/// Connects `n` clients through `via` and accepts them; returns (clients, server sides).
async fn connect_all(via: &Via, n: usize) -> (Vec<ClientStream>, Vec<TcpStream>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accept = tokio::spawn(async move {
        let mut v = Vec::with_capacity(n);
        while v.len() < n {
            v.push(listener.accept().await.unwrap().0);
        }
        v
    });
    let mut clients = Vec::with_capacity(n);
    for _ in 0..n {
        clients.push(via.connect(addr).await);
    }
    (clients, accept.await.unwrap())
}

/// Push: every server side gets a `size`-byte message `rate` times a second for
/// `seconds`; each client records send-to-receive latency. Returns (latencies, CPU).
async fn push(via: &Via, a: &Args) -> (Histogram<u64>, f64, f64) {
    let (clients, mut servers) = connect_all(via, a.clients).await;
    let size = a.size;
    let readers: Vec<_> = clients
        .into_iter()
        .map(|mut c| {
            tokio::spawn(async move {
                let mut h = hist();
                let mut buf = vec![0u8; size];
                while c.read_exact(&mut buf).await.is_ok() {
                    let sent = u64::from_be_bytes(buf[..8].try_into().unwrap());
                    h.saturating_record((now_ns() - sent) / 1000);
                }
                h
            })
        })
        .collect();
    let (cpu0, link0) = (
        procinfo::own_usage().map_or(0.0, |u| u.cpu_seconds),
        via.link_cpu(),
    );
    let mut tick = tokio::time::interval(Duration::from_secs(1) / a.rate);
    let end = Instant::now() + Duration::from_secs(a.seconds);
    let mut msg = vec![b'x'; size];
    while Instant::now() < end {
        tick.tick().await;
        for s in servers.iter_mut() {
            msg[..8].copy_from_slice(&now_ns().to_be_bytes());
            s.write_all(&msg).await.unwrap();
        }
    }
    drop(servers);
    let mut all = hist();
    for r in readers {
        all.add(r.await.unwrap()).unwrap();
    }
    let cpu = procinfo::own_usage().map_or(0.0, |u| u.cpu_seconds) - cpu0;
    (all, cpu, via.link_cpu() - link0)
}

/// Ping-pong over one connection: round-trip times, µs.
async fn ping_pong(via: &Via, n: usize) -> Histogram<u64> {
    let (mut clients, mut servers) = connect_all(via, 1).await;
    let (mut c, mut s) = (clients.pop().unwrap(), servers.pop().unwrap());
    tokio::spawn(async move {
        let mut buf = [0u8; 64];
        while s.read_exact(&mut buf).await.is_ok() {
            if s.write_all(&buf).await.is_err() {
                break;
            }
        }
    });
    let mut h = hist();
    let mut buf = [7u8; 64];
    for _ in 0..n {
        let t0 = Instant::now();
        c.write_all(&buf).await.unwrap();
        c.read_exact(&mut buf).await.unwrap();
        h.saturating_record(t0.elapsed().as_micros() as u64);
    }
    h
}

/// Resident memory of this process, KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// RSS growth per idle connection (client and server side both in this process), bytes.
async fn idle_cost(via: &Via, n: usize) -> f64 {
    let before = rss_kib();
    let conns = connect_all(via, n).await;
    // Let every connection task settle before sampling.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let grown = rss_kib().saturating_sub(before);
    drop(conns);
    grown as f64 * 1024.0 / n as f64
}

#[tokio::main]
async fn main() {
    let a = Args::parse();
    assert!(a.size >= 8, "--size must be at least 8");
    let emu = Emulator::start(a.threads).expect("cannot start the link runtime");
    let zero = Via::Link(emu.link(LinkSpec::none()));
    let rtt20 = Via::Link(emu.link("rtt=20ms".parse().unwrap()));
    println!(
        "idle connections ({}), RSS per connection, both ends in this process:",
        a.idle
    );
    for via in [&Via::Direct, &zero] {
        println!(
            "  {:<22} {:>7.0} B",
            via.name(),
            idle_cost(via, a.idle).await
        );
    }
    println!(
        "ping-pong, {} round trips of 64 B (one connection), RTT in µs:",
        a.round_trips
    );
    for via in [&Via::Direct, &zero] {
        let h = ping_pong(via, a.round_trips).await;
        println!(
            "  {:<22} p50 {:>6}  p99 {:>6}  max {:>6}",
            via.name(),
            h.value_at_quantile(0.5),
            h.value_at_quantile(0.99),
            h.max()
        );
    }
    let h = ping_pong(&rtt20, a.round_trips.min(200)).await;
    println!(
        "  {:<22} p50 {:>6}  p99 {:>6}  max {:>6}",
        rtt20.name(),
        h.value_at_quantile(0.5),
        h.value_at_quantile(0.99),
        h.max()
    );
    println!(
        "push, {} clients x {} msg/s x {} s, {} B, send-to-receive latency in µs:",
        a.clients, a.rate, a.seconds, a.size
    );
    for via in [&Via::Direct, &zero] {
        let (h, cpu, link_cpu) = push(via, &a).await;
        let n = h.len().max(1) as f64;
        println!(
            "  {:<22} msgs {:>7}  p50 {:>5}  p99 {:>6}  process CPU {:>5.2} s ({:.1} µs/msg)  \
             link CPU {:>5.2} s ({:.1} µs/msg)",
            via.name(),
            h.len(),
            h.value_at_quantile(0.5),
            h.value_at_quantile(0.99),
            cpu,
            cpu * 1e6 / n,
            link_cpu,
            link_cpu * 1e6 / n
        );
    }
}

//! Memory held by stalled publish bodies: a measurement of `pushbench serve`, not a test.
//!
//! Starts `pushbench serve --listen 127.0.0.1:0` (plus any arguments after `--`), reads its
//! resident memory (from /proc, `server::procinfo`), opens N connections that each declare a
//! `Content-Length` of `--declared` bytes, send `--sent` of them and stall, reads VmRSS once
//! the server holds them all, waits until the server has answered every one (`408` after
//! `--body-read-timeout`, or `503` over `--body-buffer-bytes`) and closed it, and reads VmRSS
//! again right away and after `--settle-s`.
//!
//! ```text
//! cargo build --release -p loadgen --bin pushbench
//! cargo run --release -p server --example stalled_uploads -- --server target/release/pushbench
//! ```

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;

#[derive(Debug, Parser)]
#[command(about = "Measures the server's resident memory under stalled publish bodies")]
struct Opts {
    /// The pushbench binary.
    #[arg(long, default_value = "target/release/pushbench")]
    server: PathBuf,
    /// Stalled uploads to open.
    #[arg(long, short = 'n', default_value_t = 100)]
    connections: usize,
    /// The Content-Length each declares.
    #[arg(long, default_value_t = 1_048_576)]
    declared: usize,
    /// The body bytes each sends before it stalls.
    #[arg(long, default_value_t = 1_048_000)]
    sent: usize,
    /// How long to wait after the last answer before the last RSS reading, in seconds.
    #[arg(long, default_value_t = 2.0)]
    settle_s: f64,
    /// Extra arguments for `pushbench serve` (after `--`).
    #[arg(last = true)]
    serve_args: Vec<String>,
}

fn rss_mib(pid: u32) -> Result<f64> {
    let u = server::procinfo::usage(pid).context("no such process in /proc")?;
    Ok(u.rss_bytes as f64 / (1024.0 * 1024.0))
}

fn start(opts: &Opts) -> Result<(Child, SocketAddr)> {
    let mut cmd = Command::new(&opts.server);
    // The server stops when this benchmark dies, however it dies.
    server::lifeline::tie_std(&mut cmd);
    let mut child = cmd
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(&opts.serve_args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("cannot start {}", opts.server.display()))?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().context("no stdout")?).read_line(&mut line)?;
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .context("no `listening on` line")?
        .parse()?;
    Ok((child, addr))
}

fn main() -> Result<()> {
    let opts = Opts::parse();
    let (mut child, addr) = start(&opts)?;
    let pid = child.id();
    let before = rss_mib(pid)?;
    let body = vec![b'x'; opts.sent];
    let mut conns = Vec::with_capacity(opts.connections);
    for _ in 0..opts.connections {
        let mut s = TcpStream::connect(addr)?;
        let head = format!(
            "POST /publish/up HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
            opts.declared
        );
        s.write_all(head.as_bytes())?;
        s.write_all(&body)?;
        conns.push(s);
    }
    // Give the server a moment to read what was sent (the sends above only filled buffers).
    std::thread::sleep(Duration::from_millis(500));
    let held = rss_mib(pid)?;
    let start = Instant::now();
    let mut statuses = std::collections::BTreeMap::new();
    for mut s in conns {
        s.set_read_timeout(Some(Duration::from_secs(120)))?;
        let mut answer = Vec::new();
        let _ = s.read_to_end(&mut answer);
        let text = String::from_utf8_lossy(&answer);
        let status = text.split(' ').nth(1).unwrap_or("none").to_string();
        *statuses.entry(status).or_insert(0u32) += 1;
    }
    let waited = start.elapsed();
    let cut = rss_mib(pid)?;
    std::thread::sleep(Duration::from_secs_f64(opts.settle_s));
    let settled = rss_mib(pid)?;
    let _ = child.kill();
    let _ = child.wait();
    println!(
        "{} uploads, {} of {} bytes each; answers {statuses:?} after {:.1} s",
        opts.connections,
        opts.sent,
        opts.declared,
        waited.as_secs_f64()
    );
    println!(
        "server RSS: {before:.1} MiB before, {held:.1} MiB while stalled, {cut:.1} MiB when cut, \
         {settled:.1} MiB {:.1} s later",
        opts.settle_s
    );
    if statuses.contains_key("none") {
        bail!("some connections were never answered");
    }
    Ok(())
}

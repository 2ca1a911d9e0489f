//! Network conditions emulated in user space: round-trip time, jitter and per-connection
//! bandwidth each way, between the simulated clients and the server (docs/NETWORK.md).
//!
//! An [`Emulator`] is a tokio runtime of its own (threads named `pb-link`) that owns the
//! real sockets of emulated connections. A client calls [`Link::connect`] instead of
//! [`crate::net::connect`] and gets a [`LinkedStream`], one end of an in-memory duplex; the
//! emulator pumps bytes between the other end and the socket through a delay line and a
//! pacer per direction (`pipe.rs`). So the emulator's work runs on its own threads, off the
//! measuring clients' runtime, its CPU is measured per thread
//! ([`Emulator::cpu_seconds`]), and a connection costs no descriptor beyond its socket.

mod conn;
mod pipe;
pub mod presets;
mod rate;
pub mod spec;
pub mod stats;

pub use crate::net::{ClientStream, LinkedStream};
pub use pipe::{QUEUE_SLACK, UNLIMITED_QUEUE, queue_bound};
pub use rate::Rate;
pub use spec::{LinkSpec, LinkSpecError, parse_link_list};
pub use stats::{DirStats, LinkCounts, LinkStats};

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::runtime::{Handle, Runtime};
use tokio::task::JoinHandle;

use crate::net::stream::Shared;
use crate::net::{self, ConnectError, CountingStream};
use crate::stats::Recorder;
use conn::Conn;
use pipe::{Pipe, Shape};
use server::procinfo;
use stats::Counters;

/// Threads of the emulator a run starts (per process: each `--processes` worker starts its
/// own). One: the measured cost is 2-4 µs of CPU per delivered message (docs/NETWORK.md), so
/// one thread carries ~250,000 messages/s, far above what one load-generator process drives;
/// and on the 2-core machines this runs on, every further thread would only compete for a
/// core with the server and the measuring clients (which the emulator must not slow down),
/// and spread each connection's timers over threads that then wake more often. More load
/// needs more load-generator processes, which bring an emulator each.
pub const DEFAULT_THREADS: usize = 1;

/// Bytes the client's end of a linked connection buffers each way (its socket buffers).
const DUPLEX_BUFFER: usize = 64 * 1024;

/// The link runtime: threads that carry every emulated connection.
#[derive(Debug, Clone)]
pub struct Emulator {
    inner: Arc<Threads>,
}

#[derive(Debug)]
struct Threads {
    rt: Option<Runtime>,
    handle: Handle,
    tids: Arc<Mutex<Vec<u32>>>,
    threads: usize,
}

impl Drop for Threads {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which may not happen inside another runtime.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

impl Emulator {
    /// Starts the link runtime with `threads` worker threads (at least 1), named `pb-link`.
    /// Connections through it stop (their clients read EOF) once the emulator and every
    /// [`Link`] made from it are dropped.
    pub fn start(threads: usize) -> io::Result<Emulator> {
        let threads = threads.max(1);
        let tids = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&tids);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("pb-link")
            .enable_all()
            .on_thread_start(move || {
                if let Some(tid) = procinfo::current_tid() {
                    record.lock().unwrap_or_else(|e| e.into_inner()).push(tid);
                }
            })
            .build()?;
        let handle = rt.handle().clone();
        Ok(Emulator {
            inner: Arc::new(Threads {
                rt: Some(rt),
                handle,
                tids,
                threads,
            }),
        })
    }

    /// A link with `spec` carried by this emulator (links share its threads).
    pub fn link(&self, spec: LinkSpec) -> Link {
        Link {
            emu: self.clone(),
            spec,
            counters: Arc::new(Counters::default()),
        }
    }

    pub fn threads(&self) -> usize {
        self.inner.threads
    }

    /// CPU seconds (user + system) the emulator's threads have used since they started;
    /// `None` where /proc is absent.
    pub fn cpu_seconds(&self) -> Option<f64> {
        let tids = self.inner.tids.lock().unwrap_or_else(|e| e.into_inner());
        let mut total = None;
        for &tid in tids.iter() {
            if let Some(s) = procinfo::own_thread_cpu_seconds(tid) {
                *total.get_or_insert(0.0) += s;
            }
        }
        total
    }
}

/// Connections with one [`LinkSpec`], and what they carried. Cheap to clone (clones share
/// their counters).
#[derive(Debug, Clone)]
pub struct Link {
    emu: Emulator,
    spec: LinkSpec,
    counters: Arc<Counters>,
}

impl Link {
    pub fn spec(&self) -> &LinkSpec {
        &self.spec
    }

    pub fn emulator(&self) -> &Emulator {
        &self.emu
    }

    /// Connections, bytes and queued bytes so far.
    pub fn stats(&self) -> LinkStats {
        self.counters.snapshot()
    }

    /// Opens a connection to `server` through the link, bound to `source` when given, as
    /// [`crate::net::connect`] does (`TCP_NODELAY`, linger 0). It completes one RTT after
    /// it starts, as a TCP handshake does (SYN up, SYN-ACK down); a refusal too comes back
    /// after one RTT. `timeout` covers the whole handshake.
    pub async fn connect(
        &self,
        server: SocketAddr,
        source: Option<IpAddr>,
        timeout: Duration,
    ) -> Result<LinkedStream, ConnectError> {
        let link = self.clone();
        let task = self
            .emu
            .inner
            .handle
            .spawn(async move { link.open(server, source, timeout).await });
        match (AbortOnDrop(task)).await {
            Ok(r) => r,
            Err(_) => Err(ConnectError::Refused {
                addr: server,
                error: io::Error::other("the link emulator has stopped"),
            }),
        }
    }

    /// [`Link::connect`], counted into `rec` as [`crate::net::connect`] counts.
    pub async fn connect_counted(
        &self,
        server: SocketAddr,
        source: Option<IpAddr>,
        timeout: Duration,
        rec: &Arc<Recorder>,
    ) -> Result<CountingStream, ConnectError> {
        let s = self.connect(server, source, timeout).await?;
        Ok(CountingStream::new(
            ClientStream::Linked(s),
            Arc::clone(rec),
        ))
    }

    /// Runs on the link runtime: the emulated handshake, then the connection's task.
    async fn open(
        self,
        server: SocketAddr,
        source: Option<IpAddr>,
        timeout: Duration,
    ) -> Result<LinkedStream, ConnectError> {
        use std::sync::atomic::Ordering::Relaxed;
        self.counters.connects.fetch_add(1, Relaxed);
        let handshake = async {
            tokio::time::sleep(self.one_way()).await; // SYN
            let r = net::connect_tcp(server, source, timeout).await;
            tokio::time::sleep(self.one_way()).await; // SYN-ACK, or the refusal
            r
        };
        let tcp = match tokio::time::timeout(timeout, handshake).await {
            Ok(Ok(tcp)) => tcp,
            Ok(Err(e)) => {
                self.counters.connect_failures.fetch_add(1, Relaxed);
                return Err(e);
            }
            Err(_) => {
                self.counters.connect_failures.fetch_add(1, Relaxed);
                return Err(ConnectError::TimedOut {
                    addr: server,
                    timeout,
                });
            }
        };
        let local = tcp.local_addr().unwrap_or(server);
        let (client_end, link_end) = tokio::io::duplex(DUPLEX_BUFFER);
        let shared = Arc::new(Shared::default());
        let up = Pipe::new(self.shape(self.spec.up), Arc::clone(&self.counters.up));
        let down = Pipe::new(self.shape(self.spec.down), Arc::clone(&self.counters.down));
        let conn = Conn::new(
            tcp,
            link_end,
            up,
            down,
            Arc::clone(&shared),
            Arc::clone(&self.counters),
        );
        tokio::spawn(conn);
        Ok(LinkedStream::new(client_end, shared, local, server))
    }

    /// One handshake leg: half the RTT plus a jitter draw.
    fn one_way(&self) -> Duration {
        let jitter = self.spec.jitter.as_micros() as u64;
        self.spec.one_way() + Duration::from_micros(rand::random_range(0..=jitter))
    }

    fn shape(&self, rate: Option<Rate>) -> Shape {
        Shape {
            delay: self.spec.one_way(),
            jitter: self.spec.jitter,
            rate,
            bound: queue_bound(rate, self.spec.rtt),
        }
    }
}

/// A task handle that aborts its task when dropped (a client that gives up on a connect
/// does not leave the handshake running).
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Future for AbortOnDrop<T> {
    type Output = Result<T, tokio::task::JoinError>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.get_mut().0).poll(cx)
    }
}

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

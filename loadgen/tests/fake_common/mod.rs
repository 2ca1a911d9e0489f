//! Helpers of the client fault tests: a client of one technique against a byte-level fake
//! server (its spec, start and stop, its recorder), and what the fake server writes (payloads,
//! chunks, pieces handed over one read at a time).
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use loadgen::clients::{ClientSpec, run_client};
use loadgen::payload::{self, Header};
use loadgen::stats::{ErrorKind, Recorder, Snapshot};
use loadgen::technique::Technique;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Bound on any single wait.
pub const T: Duration = Duration::from_secs(5);

pub fn spec(technique: Technique, server: SocketAddr, read_timeout: Duration) -> ClientSpec {
    ClientSpec {
        technique,
        server,
        host: server.to_string(),
        path_prefix: String::new(),
        topic: "t".into(),
        topic_index: 0,
        poll_interval: Duration::from_millis(10),
        long_poll_timeout: Duration::from_millis(100),
        connect_timeout: Duration::from_secs(2),
        read_timeout,
        source_addr: None,
        since: 0,
        seed: 1,
        index: 0,
        link: None,
        profile: Default::default(),
        faults: None,
        recovery: Default::default(),
        transport: Default::default(),
    }
}

pub fn errors(s: &Snapshot, kind: ErrorKind) -> u64 {
    s.error_map().get(kind.name()).copied().unwrap_or(0)
}

pub async fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    cond()
}

/// Starts one client; returns its recorder, its stop token and its task.
pub fn start(spec: ClientSpec) -> (Arc<Recorder>, CancellationToken, JoinHandle<()>) {
    let rec = recorder(spec.technique);
    let (stop, task) = start_with(spec, Arc::clone(&rec));
    (rec, stop, task)
}

/// A recorder whose window holds messages 1..=1000.
pub fn recorder(technique: Technique) -> Arc<Recorder> {
    let rec = Arc::new(Recorder::new(technique, 1));
    rec.window.open(0, 1);
    rec.window.close(0, 1000);
    rec
}

/// Starts one client recording into `rec`; returns its stop token and its task.
pub fn start_with(spec: ClientSpec, rec: Arc<Recorder>) -> (CancellationToken, JoinHandle<()>) {
    let stop = CancellationToken::new();
    let task = tokio::spawn(run_client(spec, rec, stop.clone()));
    (stop, task)
}

/// Stops a client and checks that it ends within shutdown + grace.
pub async fn stop(stop: CancellationToken, task: JoinHandle<()>) {
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(3), task)
        .await
        .expect("the client hung past shutdown")
        .unwrap();
}

pub fn pl(seq: u64) -> String {
    payload::encode(
        Header {
            topic: 0,
            seq,
            scheduled_us: payload::now_us(),
        },
        40,
    )
}

/// Reads one request head from a fake server's socket.
pub async fn read_request(s: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(
            s.read(&mut b).await.unwrap(),
            1,
            "client closed mid-request"
        );
        head.push(b[0]);
    }
    String::from_utf8(head).unwrap()
}

/// Writes `pieces` one by one, each once the client (recording into `rec`) has read the one
/// before from its socket, so each arrives in reads of its own whatever the machine's load.
pub async fn dribble(s: &mut TcpStream, rec: &Recorder, pieces: &[&[u8]]) {
    let mut read_by = rec.snapshot().bytes_down;
    for p in pieces {
        s.write_all(p).await.unwrap();
        s.flush().await.unwrap();
        read_by += p.len() as u64;
        let read = wait_until(T, || rec.snapshot().bytes_down >= read_by).await;
        assert!(
            read,
            "the client did not read {:?}",
            String::from_utf8_lossy(p)
        );
    }
}

pub fn chunk(data: &[u8]) -> Vec<u8> {
    let mut c = format!("{:x}\r\n", data.len()).into_bytes();
    c.extend_from_slice(data);
    c.extend_from_slice(b"\r\n");
    c
}

//! The link emulator against a real TCP server on 127.0.0.1:0: delay each way, the
//! handshake's round trip, jitter without reordering, bandwidth pacing, the bounded queue.
//! Lower bounds are exact (the emulator never delivers early); upper bounds are generous,
//! only there to catch a hang, since other builds share this machine's cores.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use loadgen::link::{Emulator, Link, LinkSpec, LinkStats, queue_bound};
use loadgen::net::ConnectError;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Longest any single step may take before the test calls it a hang.
const HANG: Duration = Duration::from_secs(10);

fn link(spec: &str) -> Link {
    let spec: LinkSpec = spec.parse().unwrap();
    Emulator::start(1).unwrap().link(spec)
}

async fn listener() -> (TcpListener, SocketAddr) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    (l, addr)
}

/// Connects through `link` and accepts the server side.
async fn pair(link: &Link) -> (loadgen::link::LinkedStream, TcpStream) {
    let (l, addr) = listener().await;
    let client = link.connect(addr, None, HANG).await.unwrap();
    let (server, _) = tokio::time::timeout(HANG, l.accept())
        .await
        .unwrap()
        .unwrap();
    (client, server)
}

async fn within<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(HANG, f)
        .await
        .unwrap_or_else(|_| panic!("{what} hung"))
}

#[tokio::test]
async fn each_direction_is_delayed_by_half_the_rtt() {
    let link = link("rtt=200ms");
    let (mut client, mut server) = pair(&link).await;
    let mut buf = [0u8; 4];

    let t0 = Instant::now();
    client.write_all(b"ping").await.unwrap();
    within("up", server.read_exact(&mut buf)).await.unwrap();
    let up = t0.elapsed();
    assert_eq!(&buf, b"ping");

    let t1 = Instant::now();
    server.write_all(b"pong").await.unwrap();
    within("down", client.read_exact(&mut buf)).await.unwrap();
    let down = t1.elapsed();
    assert_eq!(&buf, b"pong");

    assert!(up >= Duration::from_millis(100), "up took {up:?}");
    assert!(down >= Duration::from_millis(100), "down took {down:?}");
    assert!(up < Duration::from_millis(100) + HANG / 5, "up took {up:?}");
    // The link counts a write once it returns, which may be just after the reader woke.
    let s = within("counts", wait_for(&link, |s| s.down.bytes == 4)).await;
    assert_eq!((s.up.bytes, s.down.bytes), (4, 4));
    assert_eq!((s.connects, s.open), (1, 1));
}

#[tokio::test]
async fn connect_completes_one_rtt_after_it_starts() {
    let link = link("rtt=300ms");
    let (l, addr) = listener().await;
    let t0 = Instant::now();
    let client = within("connect", link.connect(addr, None, HANG))
        .await
        .unwrap();
    let took = t0.elapsed();
    assert!(took >= Duration::from_millis(300), "connect took {took:?}");
    assert_eq!(client.peer_addr(), addr);
    drop(l);

    // A refusal, too, comes back one round trip later.
    let t0 = Instant::now();
    let r = within("refused", link.connect(addr, None, HANG)).await;
    assert!(matches!(r, Err(ConnectError::Refused { .. })), "{r:?}");
    assert!(t0.elapsed() >= Duration::from_millis(300));
    assert_eq!(link.stats().connect_failures, 1);
}

#[tokio::test]
async fn a_handshake_longer_than_the_timeout_times_out() {
    let link = link("rtt=5s");
    let (_l, addr) = listener().await;
    let t0 = Instant::now();
    let r = link.connect(addr, None, Duration::from_millis(200)).await;
    assert!(matches!(r, Err(ConnectError::TimedOut { .. })), "{r:?}");
    assert!(t0.elapsed() < Duration::from_secs(4), "{:?}", t0.elapsed());
}

#[tokio::test]
async fn the_source_address_is_bound() {
    let link = link("rtt=2ms");
    let (l, addr) = listener().await;
    let src = "127.0.0.9".parse().unwrap();
    let client = link.connect(addr, Some(src), HANG).await.unwrap();
    let (_server, from) = l.accept().await.unwrap();
    assert_eq!(from.ip(), src);
    assert_eq!(client.local_addr(), from);
}

#[tokio::test]
async fn jitter_never_reorders_bytes() {
    let link = link("rtt=10ms,jitter=40ms");
    let (mut client, mut server) = pair(&link).await;
    const N: u64 = 150;
    let writer = tokio::spawn(async move {
        for i in 0..N {
            client.write_all(&i.to_be_bytes()).await.unwrap();
            // Separate writes become separate segments, each with its own jitter draw.
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        client
    });
    let mut got = vec![0u8; 8 * N as usize];
    within("read", server.read_exact(&mut got)).await.unwrap();
    let seqs: Vec<u64> = got
        .chunks(8)
        .map(|c| u64::from_be_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(seqs, (0..N).collect::<Vec<_>>());
    let _client = writer.await.unwrap();
    assert!(link.stats().up.segments > N / 2, "{:?}", link.stats());
}

#[tokio::test]
async fn a_large_payload_takes_its_serialization_time() {
    let link = link("down=1mbit,up=1mbit");
    let (mut client, mut server) = pair(&link).await;
    let payload = vec![7u8; 64 * 1024];
    // 64 KiB at 1 mbit/s: 65536 * 8 / 1e6 s.
    let serialization = Duration::from_nanos(524_288_000);

    let t0 = Instant::now();
    server.write_all(&payload).await.unwrap();
    let mut got = vec![0u8; payload.len()];
    within("down", client.read_exact(&mut got)).await.unwrap();
    let down = t0.elapsed();
    assert!(down >= serialization, "64 KiB came down in {down:?}");
    assert_eq!(got, payload);

    let t0 = Instant::now();
    let c = tokio::spawn(async move {
        client.write_all(&payload).await.unwrap();
        client
    });
    within("up", server.read_exact(&mut got)).await.unwrap();
    let up = t0.elapsed();
    assert!(up >= serialization, "64 KiB went up in {up:?}");
    let _client = c.await.unwrap();
    let s = within("counts", wait_for(&link, |s| s.up.bytes == 65536)).await;
    assert_eq!((s.up.bytes, s.down.bytes), (65536, 65536));
    // Cut into ~1460-byte segments, not delivered in one piece.
    assert!(s.down.segments >= 40, "{s:?}");
}

/// Writes `chunk`s into `w` until a write stalls for `stall` or `cap` bytes went in;
/// returns how many bytes went in.
async fn write_until_stalled(
    w: &mut (impl AsyncWriteExt + Unpin),
    cap: usize,
    stall: Duration,
) -> usize {
    let chunk = vec![1u8; 16 * 1024];
    let mut total = 0;
    while total < cap {
        match tokio::time::timeout(stall, w.write(&chunk)).await {
            Ok(Ok(n)) => total += n,
            Ok(Err(e)) => panic!("write failed: {e}"),
            Err(_) => break,
        }
    }
    total
}

#[tokio::test]
async fn a_fast_client_fills_the_link_then_blocks() {
    // 1 kbit/s: the first 1460-byte segment takes ~12 s to serialize, so nothing drains
    // while the client writes and the stall is clean.
    let spec = "rtt=100ms,up=1kbit";
    let link = link(spec);
    let bound = queue_bound(
        spec.parse::<LinkSpec>().unwrap().up,
        Duration::from_millis(100),
    );
    let (mut client, _server) = pair(&link).await;
    let cap = 16 << 20;
    let written = write_until_stalled(&mut client, cap, Duration::from_millis(300)).await;
    let s = link.stats();
    assert!(
        written < cap,
        "the client never blocked ({written} bytes went in)"
    );
    assert!(
        s.up.queued_max <= bound as u64,
        "{} queued, bound {bound}",
        s.up.queued_max
    );
    assert_eq!(s.up.queued, s.up.queued_max);
    // What went in sits in the link's queue and the client's 64 KiB duplex buffer.
    let in_flight = written as u64 - s.up.bytes;
    assert!(
        in_flight <= bound as u64 + 64 * 1024,
        "{in_flight} bytes in flight"
    );
    assert!(in_flight >= bound as u64, "{in_flight} bytes in flight");
}

#[tokio::test]
async fn a_fast_server_fills_the_link_then_its_socket() {
    // 1 kbit/s: nothing drains while the server writes (see the client test above).
    let spec = "rtt=100ms,down=1kbit";
    let link = link(spec);
    let bound = queue_bound(
        spec.parse::<LinkSpec>().unwrap().down,
        Duration::from_millis(100),
    );
    let (client, mut server) = pair(&link).await;
    // The link's queue fills, then the server's socket.
    let cap = 64 << 20;
    let written = write_until_stalled(&mut server, cap, Duration::from_millis(500)).await;
    let s = link.stats();
    assert!(
        written < cap,
        "the server never blocked ({written} bytes went in)"
    );
    assert!(
        s.down.queued_max <= bound as u64,
        "{} queued, bound {bound}",
        s.down.queued_max
    );
    assert!(
        s.down.queued_max + 16 * 1024 > bound as u64,
        "{} queued",
        s.down.queued_max
    );
    drop(client);
}

#[tokio::test]
async fn a_server_close_reaches_the_client_as_eof_after_its_data() {
    let link = link("rtt=100ms");
    let (mut client, mut server) = pair(&link).await;
    server.write_all(b"bye").await.unwrap();
    let t0 = Instant::now();
    drop(server);
    let mut got = Vec::new();
    within("eof", client.read_to_end(&mut got)).await.unwrap();
    assert_eq!(got, b"bye");
    assert!(t0.elapsed() >= Duration::from_millis(50));
}

#[tokio::test]
async fn a_server_reset_reaches_the_client_as_an_error() {
    let link = link("rtt=60ms");
    let (mut client, server) = pair(&link).await;
    socket2::SockRef::from(&server)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(server); // RST
    let mut buf = [0u8; 16];
    let e = within("read", client.read(&mut buf)).await.unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}");
    let e = client.write_all(b"late").await.unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}");
    within("close", wait_closed(&link)).await;
}

#[tokio::test]
async fn a_client_drop_reaches_the_server_after_its_last_bytes() {
    let link = link("rtt=100ms");
    let (mut client, mut server) = pair(&link).await;
    client.write_all(b"last words").await.unwrap();
    drop(client);
    let mut got = Vec::new();
    // The link closes with a reset (linger 0, as direct clients do): data, then an error
    // or EOF, depending on timing.
    let mut buf = [0u8; 64];
    loop {
        match within("server read", server.read(&mut buf)).await {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    assert_eq!(got, b"last words");
    within("close", wait_closed(&link)).await;
}

#[tokio::test]
async fn half_closes_cross_the_link_both_ways() {
    let link = link("rtt=40ms");
    let (mut client, mut server) = pair(&link).await;
    client.write_all(b"question").await.unwrap();
    client.shutdown().await.unwrap();
    let mut got = Vec::new();
    within("server eof", server.read_to_end(&mut got))
        .await
        .unwrap();
    assert_eq!(got, b"question");
    server.write_all(b"answer").await.unwrap();
    drop(server);
    let mut got = Vec::new();
    within("client eof", client.read_to_end(&mut got))
        .await
        .unwrap();
    assert_eq!(got, b"answer");
    drop(client);
    within("close", wait_closed(&link)).await;
}

#[tokio::test]
async fn stopping_the_emulator_ends_its_connections() {
    let (mut client, _server) = {
        let link = link("rtt=20ms");
        pair(&link).await
        // The link and its emulator are dropped here.
    };
    let mut buf = [0u8; 8];
    let r = within("read", client.read(&mut buf)).await;
    assert!(matches!(r, Ok(0) | Err(_)), "{r:?}");
}

/// Waits until the link carries no connection.
async fn wait_closed(link: &Link) {
    wait_for(link, |s| s.open == 0).await;
}

/// Waits until the link's figures satisfy `done`; returns them.
async fn wait_for(link: &Link, done: impl Fn(&LinkStats) -> bool) -> LinkStats {
    loop {
        let s = link.stats();
        if done(&s) {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn a_counted_linked_stream_counts_bytes_and_its_connection() {
    use loadgen::stats::Recorder;
    use loadgen::technique::Technique;
    use std::sync::Arc;
    let link = link("rtt=10ms");
    let rec = Arc::new(Recorder::new(Technique::Sse, 1));
    let (l, addr) = listener().await;
    let mut s = link.connect_counted(addr, None, HANG, &rec).await.unwrap();
    let (mut server, _) = l.accept().await.unwrap();
    assert_eq!(rec.snapshot().connections, 1);
    s.write_all(b"hello").await.unwrap();
    server.write_all(b"abc").await.unwrap();
    let mut got = [0u8; 3];
    within("read", s.read_exact(&mut got)).await.unwrap();
    let snap = rec.snapshot();
    assert_eq!((snap.bytes_up, snap.bytes_down), (5, 3));
    drop(s);
    assert_eq!(rec.snapshot().connections, 0);
}

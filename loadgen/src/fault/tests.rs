//! The faults as a connection meets them: a counting stream over an in-memory pipe, on tokio's
//! paused clock (timers fire exactly when due and take no time).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use tokio::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

use super::{ConnFaults, Injected, injected};
use crate::net::CountingStream;
use crate::stats::Recorder;
use crate::technique::Technique;

fn pipe(
    faults: impl FnOnce(Instant, Arc<AtomicU64>) -> ConnFaults,
) -> (
    CountingStream<DuplexStream>,
    DuplexStream,
    Arc<Recorder>,
    Arc<AtomicU64>,
) {
    let rec = Arc::new(Recorder::new(Technique::Sse, 1));
    let (a, b) = tokio::io::duplex(1 << 16);
    let mut s = CountingStream::new(a, Arc::clone(&rec));
    let cut_us = Arc::new(AtomicU64::new(0));
    s.set_faults(faults(Instant::now(), Arc::clone(&cut_us)));
    (s, b, rec, cut_us)
}

#[tokio::test(start_paused = true)]
async fn a_drop_resets_a_waiting_read_at_its_moment() {
    let (mut s, mut server, rec, cut_us) =
        pipe(|now, c| ConnFaults::new(Some(now + Duration::from_secs(3)), None, None, c));
    server.write_all(b"abc").await.unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(s.read(&mut buf).await.unwrap(), 3);
    let t0 = tokio::time::Instant::now();
    let e = s.read(&mut buf).await.unwrap_err();
    assert_eq!(t0.elapsed(), Duration::from_secs(3));
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset);
    assert_eq!(injected(&e), Some(Injected::Cut));
    assert!(cut_us.load(Relaxed) > 0);
    // Writes fail too; the cut was counted once.
    assert_eq!(
        injected(&s.write(b"x").await.unwrap_err()),
        Some(Injected::Cut)
    );
    assert_eq!((rec.snapshot().cuts, rec.snapshot().idle_cuts), (1, 0));
}

#[tokio::test(start_paused = true)]
async fn an_idle_connection_is_closed_and_bytes_keep_it_open() {
    let (mut s, mut server, rec, _) =
        pipe(|_, c| ConnFaults::new(None, Some(Duration::from_secs(2)), None, c));
    let mut buf = [0u8; 8];
    // A heartbeat every 1.5 s: never idle for 2 s.
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        server.write_all(b"\n").await.unwrap();
        assert_eq!(s.read(&mut buf).await.unwrap(), 1);
    }
    assert_eq!(rec.snapshot().idle_cuts, 0);
    // Then silence: the read sees the end of the stream 2 s after the last byte.
    let t0 = tokio::time::Instant::now();
    assert_eq!(s.read(&mut buf).await.unwrap(), 0);
    assert_eq!(t0.elapsed(), Duration::from_secs(2));
    assert_eq!(rec.snapshot().idle_cuts, 1);
    let e = s.write(b"x").await.unwrap_err();
    assert_eq!(injected(&e), Some(Injected::IdleCut));
}

#[tokio::test(start_paused = true)]
async fn a_stalled_reader_reads_nothing_until_the_stall_ends() {
    let (mut s, mut server, rec, _) = pipe(|now, c| {
        let from = now + Duration::from_secs(1);
        ConnFaults::new(None, None, Some((from, from + Duration::from_secs(4))), c)
    });
    let mut buf = [0u8; 8];
    tokio::time::sleep(Duration::from_secs(2)).await;
    server.write_all(b"late").await.unwrap();
    let t0 = tokio::time::Instant::now();
    assert_eq!(s.read(&mut buf).await.unwrap(), 4);
    // Stalled from 1 s to 5 s: the bytes sent at 2 s are read at 5 s.
    assert_eq!(t0.elapsed(), Duration::from_secs(3));
    // Writing is not stalled, and nothing was cut.
    s.write_all(b"req").await.unwrap();
    assert_eq!((rec.snapshot().cuts, rec.snapshot().bytes_up), (0, 3));
}

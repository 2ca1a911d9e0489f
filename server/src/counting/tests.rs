//! The connection cell's accounting.

use super::*;

/// Every connection has a cell: HTTP/2 and TLS added no field to it (they reuse fields an
/// HTTP/1.1 connection uses otherwise), so it is as small as before them.
#[test]
fn the_cell_of_a_connection_stays_small() {
    assert!(std::mem::size_of::<ConnCell>() <= 48);
}

#[test]
fn held_writes_go_to_the_first_request_s_technique() {
    let m = Arc::new(Metrics::default());
    let cell = ConnCell::new(m.clone());
    cell.set_protocol(Protocol::H2Tls);
    cell.hold_writes();
    cell.on_write(100); // handshake
    cell.on_read(40);
    cell.route(Technique::Sse);
    cell.on_write(7);
    cell.route(Technique::Poll); // HTTP/2: the first request's technique stays
    cell.on_write(3);
    let sse = m.of(Technique::Sse);
    assert_eq!(sse.bytes_written.load(Relaxed), 110);
    assert_eq!(sse.bytes_read.load(Relaxed), 40);
    assert_eq!(m.of(Technique::Poll).bytes_written.load(Relaxed), 0);
    cell.subscribed();
    assert!(
        cell.stalled(0, cell.progress()),
        "a subscription and nothing written"
    );
    let before = cell.progress();
    cell.on_write(1);
    assert!(!cell.stalled(0, before), "something written since");
    cell.unsubscribed();
    assert!(
        !cell.stalled(0, cell.progress()),
        "no subscription: idle, not stalled"
    );
    drop(cell);
    assert_eq!(m.protocol(Protocol::H2Tls).open.load(Relaxed), 0);
    assert_eq!(m.protocol(Protocol::H2Tls).total.load(Relaxed), 1);
}

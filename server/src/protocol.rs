//! The protocols a connection may speak (HTTP/1.1 or HTTP/2, in cleartext or over TLS), as
//! `/stats` and `/metrics` name them, and the connections counted by protocol.

use std::sync::atomic::AtomicU64;

/// The protocol a connection speaks (known after its first bytes, or its TLS handshake).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// HTTP/1.x in cleartext.
    H1 = 0,
    /// HTTP/2 in cleartext, with prior knowledge (h2c).
    H2 = 1,
    /// HTTP/1.1 over TLS (ALPN `http/1.1`, or none).
    H1Tls = 2,
    /// HTTP/2 over TLS (ALPN `h2`).
    H2Tls = 3,
}

impl Protocol {
    /// Every protocol, in `/stats` order.
    pub const ALL: [Protocol; 4] = [Protocol::H1, Protocol::H2, Protocol::H1Tls, Protocol::H2Tls];

    /// The name used on the wire (`/stats` keys, `/metrics` labels).
    pub fn name(self) -> &'static str {
        match self {
            Protocol::H1 => "h1",
            Protocol::H2 => "h2",
            Protocol::H1Tls => "h1_tls",
            Protocol::H2Tls => "h2_tls",
        }
    }

    /// The value of the `x-pushbench-protocol` header (on TLS and HTTP/2 answers).
    pub fn header(self) -> &'static str {
        match self {
            Protocol::H1 => "http/1.1",
            Protocol::H2 => "h2",
            Protocol::H1Tls => "http/1.1+tls",
            Protocol::H2Tls => "h2+tls",
        }
    }

    /// HTTP/2: many requests at once on one connection.
    pub fn multiplexed(self) -> bool {
        matches!(self, Protocol::H2 | Protocol::H2Tls)
    }

    /// The protocol with index `i` (as stored in atomics), if any.
    pub fn from_index(i: u8) -> Option<Protocol> {
        Protocol::ALL.get(i as usize).copied()
    }
}

/// Connections of one protocol.
#[derive(Debug, Default)]
pub struct ProtocolGauge {
    /// Open now (a gauge).
    pub open: AtomicU64,
    /// Opened (monotonic until reset).
    pub total: AtomicU64,
}

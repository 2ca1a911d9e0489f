//! The five push techniques, one module each (`poll`, `long_poll`, `stream`, `sse`, `ws`),
//! and the live `subscription` that stream, SSE and WebSocket share. Each answers the request
//! the router hands it for one topic. `generate`: the request-scoped streams of `/generate`
//! (one client's own events, over SSE, streaming, WebSocket or long poll).

pub mod generate;
pub mod live;
pub mod long_poll;
pub mod poll;
pub mod sse;
pub mod stream;
pub mod subscription;
pub mod ws;

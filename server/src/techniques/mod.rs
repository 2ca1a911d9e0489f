//! The five push techniques, one module each (`poll`, `long_poll`, `stream`, `sse`, `ws`),
//! and the live `subscription` that stream, SSE and WebSocket share. Each answers the request
//! the router hands it for one topic.

pub mod long_poll;
pub mod poll;
pub mod sse;
pub mod stream;
pub mod subscription;
pub mod ws;

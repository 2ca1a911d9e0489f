//! pushbench's instrumented push server: every push technique (short poll, long poll, HTTP
//! streaming, Server-Sent Events, WebSocket) over one message hub, on one port, with byte
//! counting at the socket and per-technique counters. The wire contract is docs/PROTOCOL.md.
//!
//! [`serve`] is what `pushbench serve` runs. To embed the server (tests, benchmarks), build its
//! state with [`Shared::new`], bind a listener (e.g. [`server::bind`] on `127.0.0.1:0`) and
//! drive [`run`] with a `CancellationToken`; cancelling it is the one graceful shutdown path.
//!
//! With `--processes N` (N > 1) [`serve`] becomes the supervisor of N server processes sharing
//! the port; see `cluster`.
//!
//! Modules, from the top down (each uses only modules further down this list):
//! - `cmd`: `pushbench serve`: one process, a cluster's supervisor, or one of its children.
//! - `cluster`: several processes behind one port, one sequence of ids.
//! - `broker` (`--broker`): topics, ids and retention shared over Redis or NATS.
//! - `server`: the accept loop, the connection limit, one task per connection, shutdown.
//! - `tls` (`--tls`: certificates, handshakes, ALPN), `front`: each cleartext connection's
//!   front door: streaming routes served without hyper's buffers, the rest handed to hyper
//!   (HTTP/1.1, or `http2` after the HTTP/2 preface).
//! - `routes`: the router: which endpoint a request is for, its method, its counters.
//! - `techniques` (poll, long poll, stream, SSE, WebSocket, and their shared subscription;
//!   `generate`, the request-scoped streams of `/generate`), `publish` (`POST /publish`).
//! - `request` (query and cursor parsing, `400`s), `cors` (`OPTIONS`, allowed origins),
//!   `publisher` (the internal publisher).
//! - `response` (the body type, plain-text errors, JSON, `503`s), `state` (what the
//!   connections share; a cluster child's `Upstream`).
//! - `counting` (byte counting at the socket), `error` (the error types).
//! - `hub` (topics, retention, fan-out), `fanout` (a busy topic's messages written straight
//!   to its caught-up subscribers' sockets), `socket` (a socket its task and a fan-out share).
//! - `message` (encoded once per framing), `metrics` (the counters, `/stats`; `prometheus`
//!   renders `/metrics`; `protocol`, the connections by protocol),
//!   `lifeline` (children that stop with their parent), `config` (the options), `body`
//!   (reading a publish body within its limits).
//! - `procinfo` (a process's CPU, memory and descriptors from /proc; also the load
//!   generator's reader).

pub mod body;
pub mod broker;
pub mod cluster;
pub mod cmd;
pub mod config;
pub mod cors;
pub mod counting;
pub mod error;
pub mod fanout;
pub mod front;
pub mod http2;
pub mod hub;
pub mod lazy;
pub mod lifeline;
pub mod message;
pub mod metrics;
pub mod procinfo;
pub mod prometheus;
pub mod protocol;
pub mod publish;
pub mod publisher;
pub mod request;
pub mod response;
pub mod routes;
pub mod server;
pub mod socket;
pub mod state;
pub mod techniques;
pub mod tls;

pub use cmd::serve;
pub use config::ServeArgs;
pub use error::{PublishError, ServerError};
pub use metrics::{Metrics, Protocol, Technique};
pub use server::run;
pub use state::{Shared, Signal, State, check_args};

//! The simulated clients, one module per technique (being written by the clients helper;
//! this is the interface stub the run loop codes against).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::stats::Recorder;
use crate::technique::Technique;

/// What one simulated client connects to and how it behaves.
#[derive(Debug, Clone)]
pub struct ClientSpec {
    pub technique: Technique,
    pub server: SocketAddr,
    pub host: String,
    pub path_prefix: String,
    pub topic: String,
    pub topic_index: u32,
    pub poll_interval: Duration,
    pub long_poll_timeout: Duration,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    pub source_addr: Option<IpAddr>,
    pub since: u64,
}

/// Runs one simulated client until `shutdown` is cancelled, reporting into `rec`.
pub async fn run_client(spec: ClientSpec, rec: Arc<Recorder>, shutdown: CancellationToken) {
    let _ = (spec, rec);
    shutdown.cancelled().await;
}

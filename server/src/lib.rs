//! pushbench's instrumented push server: every push technique over one message hub.
//!
//! (Stub: the server is being built; see docs/PROTOCOL.md for the contract.)

/// Options of `pushbench serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
}

/// Errors of the server.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
}

/// Runs `pushbench serve` until Ctrl-C or SIGTERM. Prints `listening on http://ADDR:PORT` first.
pub async fn serve(args: ServeArgs) -> Result<(), ServerError> {
    let _ = args;
    Ok(())
}

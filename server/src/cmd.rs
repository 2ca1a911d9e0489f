//! `pushbench serve`: the one entry point, which runs this process as one server, as the
//! supervisor of a cluster (`--processes N`, N > 1), or as one of its children (the hidden
//! `--cluster-child`).

use tokio_util::sync::CancellationToken;

use crate::config::ServeArgs;
use crate::error::ServerError;
use crate::state::Shared;
use crate::{cluster, lifeline, server, tls};

/// Runs `pushbench serve` until Ctrl-C or SIGTERM (or, started tied to a parent, until the
/// parent is gone: see `lifeline`). Prints `listening on http://ADDR:PORT`
/// (the real port; `https://` with `--tls`, then `certificate: FILE`) as the first line on
/// stdout. With `--processes N` (N > 1) this process
/// becomes the supervisor of N server processes (see `cluster`); with the hidden
/// `--cluster-child` it is one of them.
pub async fn serve(mut args: ServeArgs) -> Result<(), ServerError> {
    if args.cluster_child.is_some() {
        return cluster::child::serve(args).await;
    }
    if args.processes > 1 {
        return cluster::supervise(args).await;
    }
    // With --tls: the certificate is made or loaded and checked before anything listens.
    let _made = tls::Made::prepare(&mut args)?;
    let state = match args.broker {
        None => Shared::new(args)?,
        // The broker must answer before anything listens (no half-started server).
        Some(_) => Shared::over_broker(args, None, CancellationToken::new()).await?,
    };
    let listener = server::bind_with(state.args.listen, state.args.reuse_port)?;
    let local = listener.local_addr().map_err(|error| ServerError::Bind {
        addr: state.args.listen,
        error,
    })?;
    tls::announce(local, &state.args)?;
    let shutdown = CancellationToken::new();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(ServerError::Signal)?;
    let trigger = shutdown.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        trigger.cancel();
    });
    lifeline::stop_when_parent_exits(shutdown.clone());
    server::run(listener, state, shutdown).await;
    Ok(())
}

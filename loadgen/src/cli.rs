//! The `pushbench` command line: subcommands and their options.

use clap::{Parser, Subcommand};

/// pushbench: benchmark server-push techniques (short poll, long poll, HTTP streaming,
/// Server-Sent Events, WebSocket) side by side on identical work.
#[derive(Debug, Parser)]
#[command(name = "pushbench", version, about, long_about = None)]
pub struct Opts {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the instrumented push server (every technique on one port).
    Serve(server::ServeArgs),
}

/// Runs the parsed command line.
pub fn run(opts: Opts) -> anyhow::Result<()> {
    match opts.command {
        Command::Serve(args) => {
            let rt = tokio::runtime::Runtime::new()?;
            rt.block_on(server::serve(args))?;
            Ok(())
        }
    }
}

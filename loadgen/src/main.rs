//! The `pushbench` binary: parses the command line and hands it to the library.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let opts = loadgen::cli::Opts::parse();
    match loadgen::cli::run(opts) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pushbench: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

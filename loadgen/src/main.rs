//! The `pushbench` binary: parses the command line and hands it to the library; the exit
//! status is the library's ([`loadgen::exit::Status`]).

use clap::Parser;

fn main() -> std::process::ExitCode {
    let opts = loadgen::cli::Opts::parse();
    match loadgen::cli::run(opts) {
        Ok(()) => std::process::ExitCode::from(loadgen::exit::Status::Ok.code()),
        Err(e) => {
            eprintln!("pushbench: error: {e:#}");
            std::process::ExitCode::from(loadgen::exit::Status::of(&e).code())
        }
    }
}

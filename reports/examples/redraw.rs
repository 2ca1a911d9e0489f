//! Redraws the report of run directories without the `pushbench` binary (handy while working on
//! the charts): `cargo run -p reports --example redraw -- DIR [DIR...] [--out DIR]`.

use std::path::PathBuf;

fn main() {
    let mut runs = Vec::new();
    let mut out = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--out" {
            out = args.next().map(PathBuf::from);
        } else {
            runs.push(PathBuf::from(a));
        }
    }
    match reports::write_report(&runs, out.as_deref()) {
        Ok(written) => println!("{}", written.index.display()),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}

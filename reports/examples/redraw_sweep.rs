//! Redraws the report of a sweep directory (charts, `sweep_rtt.csv` for a sweep over links,
//! `index.html`) from its `sweep.json`, without the `pushbench` binary:
//! `cargo run -p reports --example redraw_sweep -- DIR`.

use std::path::PathBuf;

fn main() {
    let Some(dir) = std::env::args().nth(1).map(PathBuf::from) else {
        eprintln!("usage: redraw_sweep DIR");
        std::process::exit(2);
    };
    let drawn = reports::sweep::load(&dir).and_then(|doc| reports::sweep::write_report(&dir, &doc));
    match drawn {
        Ok(out) => println!("{}", out.index.display()),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    }
}

//! The command-line layer of `pushbench plan` (anyhow, printing, exit status): thin, the work is in
//! [`super::cmd::plan`].

use super::cmd::{self, PlanArgs};

/// Runs `pushbench plan`: prints the table (or plan.json with --json) and the files written.
pub fn main(args: &PlanArgs) -> anyhow::Result<()> {
    let (doc, files) = cmd::plan(args).map_err(|e| match e {
        cmd::PlanCmdError::Invalid { .. } => crate::exit::usage(e),
        e => e.into(),
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        print!("{}", super::doc::table(&doc));
        for f in files {
            println!("wrote {}", f.display());
        }
    }
    Ok(())
}

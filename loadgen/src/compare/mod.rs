//! `pushbench compare`: two sets of run directories of the same workload (a baseline and a
//! new build), technique by technique, figure by figure; a change is a regression only when
//! it is worse than both its threshold and the run-to-run spread. Exits 6 on a regression
//! ([`crate::exit::Status::Regression`]); docs/CI.md shows it in a CI job.
//!
//! [`figures`] says what is compared and reads it from a run, [`workload`] refuses runs of
//! different workloads, [`spread`] estimates the noise, [`judge`] gives the verdicts, [`text`]
//! and [`junit`] write them out.

pub mod figures;
pub mod judge;
pub mod junit;
pub mod spread;
pub mod text;
pub mod workload;

use std::path::{Path, PathBuf};

use anyhow::Context;
use reports::{ReportError, Run};

use crate::exit::{self, Status};
use figures::Thresholds;
use judge::Verdict;

/// Options of `pushbench compare`.
#[derive(Debug, Clone, clap::Args)]
#[command(
    after_help = "Exit status: 0 no regression, 2 bad input (not a run directory, runs \
    of different workloads, a malformed --max-regression), 6 at least one regression.\n\
    Figures: p50, p99, throughput, lost, errors, server_cpu, server_rss, bytes_per_message, \
    requests_per_message. Default thresholds: 10% (bytes_per_message and requests_per_message: \
    5%); lost and errors going from 0 to more is always a regression."
)]
pub struct CompareArgs {
    /// BASE_DIR NEW_DIR: the baseline's run directory, then the new one's. With --base, the
    /// one directory given is the new run.
    #[arg(value_name = "DIR", num_args = 0..=2)]
    pub dirs: Vec<PathBuf>,
    /// A baseline run directory; repeat it for several runs of the baseline (their min–max
    /// range is then the spread; a run made with `run --repeat N` counts as its repetitions).
    #[arg(long, value_name = "DIR")]
    pub base: Vec<PathBuf>,
    /// A new run directory; repeat it for several runs of the new build.
    #[arg(long, value_name = "DIR")]
    pub new: Vec<PathBuf>,
    /// The largest change in the worse direction that is not a regression, per figure:
    /// FIGURE=PERCENT, comma-separated or repeated (e.g. p99=10%,server_cpu=5%).
    #[arg(long, value_name = "FIGURE=PCT")]
    pub max_regression: Vec<String>,
    /// Also write the comparison as Markdown (e.g. $GITHUB_STEP_SUMMARY).
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// Also write the comparison as JUnit XML, one test case per technique and figure.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Print the comparison as JSON instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// Which directories are the baseline's and which the new build's.
fn sides(args: &CompareArgs) -> Result<(Vec<PathBuf>, Vec<PathBuf>), String> {
    let (mut base, mut new) = (args.base.clone(), args.new.clone());
    match args.dirs.as_slice() {
        [b, n] => {
            base.push(b.clone());
            new.push(n.clone());
        }
        [d] if !base.is_empty() && new.is_empty() => new.push(d.clone()),
        [d] if base.is_empty() && !new.is_empty() => base.push(d.clone()),
        [_] => return Err("one directory given: is it the base or the new run? give BASE_DIR NEW_DIR, or --base DIR with NEW_DIR".into()),
        _ => {}
    }
    if base.is_empty() || new.is_empty() {
        return Err("compare needs a base and a new run directory: BASE_DIR NEW_DIR".into());
    }
    Ok((base, new))
}

/// Loads a run; a directory that is not a run (or lacks one of its files) is bad input.
fn load(dir: &Path) -> anyhow::Result<Run> {
    reports::load::load_run(dir, &dir.display().to_string()).map_err(|e| match e {
        ReportError::NotARun { .. } | ReportError::MissingFile { .. } => exit::usage(e),
        e => e.into(),
    })
}

/// The repetitions of a run made with `run --repeat` (`repetitions/<k>/`, in order), each a
/// run of its own; none for another run. A repetition that does not load or was cut short is
/// left out, with a warning.
fn repetitions(run: &Run) -> Vec<Run> {
    let Ok(entries) = std::fs::read_dir(run.dir.join("repetitions")) else {
        return Vec::new();
    };
    let mut ks: Vec<u32> = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    ks.sort_unstable();
    ks.into_iter()
        .filter_map(|k| {
            let dir = run.dir.join("repetitions").join(k.to_string());
            match reports::load::load_run(&dir, &dir.display().to_string()) {
                Ok(r) if !r.partial() => Some(r),
                Ok(_) => {
                    eprintln!(
                        "pushbench: warning: {} was cut short: left out of the spread",
                        dir.display()
                    );
                    None
                }
                Err(e) => {
                    eprintln!("pushbench: warning: left out of the spread: {e}");
                    None
                }
            }
        })
        .collect()
}

/// A side's spread samples: each run's repetitions (the union over its repeated runs), or the
/// run itself when it has none.
fn samples_of<'a>(runs: &'a [Run], reps: &'a [Vec<Run>]) -> Vec<&'a Run> {
    runs.iter()
        .zip(reps)
        .flat_map(|(run, reps)| match reps.is_empty() {
            true => vec![run],
            false => reps.iter().collect(),
        })
        .collect()
}

/// Every run must have the first's workload.
fn same_workload(runs: &[&Run]) -> anyhow::Result<()> {
    for r in runs.iter().skip(1) {
        if let Some(diff) = workload::difference(runs[0], r) {
            return Err(exit::usage(anyhow::anyhow!(diff)));
        }
    }
    Ok(())
}

/// The comparison as `--json` prints it.
#[derive(serde::Serialize)]
struct JsonOut<'a> {
    base: Vec<&'a Path>,
    new: Vec<&'a Path>,
    regressions: usize,
    rows: &'a [judge::Row],
}

/// Runs `pushbench compare`.
pub fn main(args: &CompareArgs) -> anyhow::Result<()> {
    let (base_dirs, new_dirs) = sides(args).map_err(|e| exit::usage(anyhow::anyhow!(e)))?;
    let thresholds =
        Thresholds::parse(&args.max_regression).map_err(|e| exit::usage(anyhow::anyhow!(e)))?;
    let base: Vec<Run> = base_dirs
        .iter()
        .map(|d| load(d))
        .collect::<Result<_, _>>()?;
    let new: Vec<Run> = new_dirs.iter().map(|d| load(d)).collect::<Result<_, _>>()?;
    same_workload(&base.iter().chain(&new).collect::<Vec<_>>())?;
    for r in base.iter().chain(&new).filter(|r| r.partial()) {
        eprintln!(
            "pushbench: warning: {} was cut short (partial): its figures cover less",
            r.dir.display()
        );
    }
    let base_reps: Vec<Vec<Run>> = base.iter().map(repetitions).collect();
    let new_reps: Vec<Vec<Run>> = new.iter().map(repetitions).collect();
    let samples = judge::Samples {
        base: samples_of(&base, &base_reps),
        new: samples_of(&new, &new_reps),
        across: if base_reps.iter().chain(&new_reps).any(|r| !r.is_empty()) {
            "repetitions"
        } else {
            "runs"
        },
    };
    let rows = judge::compare(&base, &new, &samples, &thresholds);
    let regressions = rows
        .iter()
        .filter(|r| r.verdict == Verdict::Regression)
        .count();
    if let Some(path) = &args.markdown {
        write_out(path, &text::markdown(&rows, &base, &new))?;
    }
    if let Some(path) = &args.junit {
        write_out(path, &junit::junit(&rows))?;
    }
    if args.json {
        let out = JsonOut {
            base: base_dirs.iter().map(PathBuf::as_path).collect(),
            new: new_dirs.iter().map(PathBuf::as_path).collect(),
            regressions,
            rows: &rows,
        };
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print!("{}", text::table(&rows));
    }
    if regressions > 0 {
        let names: Vec<String> = rows
            .iter()
            .filter(|r| r.verdict == Verdict::Regression)
            .map(|r| format!("{}.{}", r.technique.name(), r.figure.name()))
            .collect();
        return Err(exit::fail(
            Status::Regression,
            anyhow::anyhow!("{regressions} regression(s): {}", names.join(", ")),
        ));
    }
    Ok(())
}

/// Writes `text` to `path`, replacing it (`$GITHUB_STEP_SUMMARY` is a file of its own for each
/// step, so this step's summary replaces nothing else).
fn write_out(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

//! The exit status of `pushbench`: one code per kind of outcome, so that scripts and CI can
//! tell a bad command line from a measurement that failed or was cut short. README.md
//! ("Exit status") documents the codes; this is their one definition.

use std::fmt;

/// The exit statuses, as `pushbench --help` lists them.
pub const HELP: &str = "Exit status: 0 done; 1 an error stopped the command; 2 bad command line \
(nothing measured); 3 the run finished but a technique failed; 4 cut short (partial results \
written); 5 `run --check`: a threshold failed (a failed or partial run exits 3 or 4 instead); \
6 `compare`: a regression.";

/// What a `pushbench` command ended with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// 0: done (every technique measured something, nothing cut short).
    Ok,
    /// 1: an error stopped the command: an unreachable server, a file that cannot be read or
    /// written, an input that is not what it should be.
    Error,
    /// 2: a bad command line: an unknown or invalid option, an invalid scenario file (clap
    /// exits 2 for its own errors too). Nothing was measured.
    Usage,
    /// 3: the run finished but a technique failed: its `failure` (summary.json, `--json`)
    /// says why (no client connected, no message delivered, publishing failed, a worker
    /// process lost).
    TechniqueFailed,
    /// 4: cut short (Ctrl-C, SIGTERM, the server died, partial worker results): what was
    /// measured is written and marked `partial`.
    Partial,
    /// 5: the run was whole and every technique measured, but a `--check` threshold failed
    /// (checks.json says which). A failed (3) or partial (4) run exits with its own code.
    ChecksFailed,
    /// 6: `pushbench compare` found a regression: a figure worse than both its threshold and
    /// the run-to-run spread (docs/CI.md).
    Regression,
}

impl Status {
    /// The process exit code. A second Ctrl-C exits 130 at once, without writing results.
    pub fn code(self) -> u8 {
        match self {
            Status::Ok => 0,
            Status::Error => 1,
            Status::Usage => 2,
            Status::TechniqueFailed => 3,
            Status::Partial => 4,
            Status::ChecksFailed => 5,
            Status::Regression => 6,
        }
    }

    /// The status `e` calls for: the one a [`Failure`] in its chain carries, else
    /// [`Status::Error`].
    pub fn of(e: &anyhow::Error) -> Status {
        e.chain()
            .find_map(|c| c.downcast_ref::<Failure>())
            .map_or(Status::Error, |f| f.status)
    }
}

/// An error that says which exit status it calls for. It prints as the error it wraps.
#[derive(Debug)]
pub struct Failure {
    pub status: Status,
    error: anyhow::Error,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl std::error::Error for Failure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.error.source()
    }
}

/// `error`, calling for exit status `status`.
pub fn fail(status: Status, error: impl Into<anyhow::Error>) -> anyhow::Error {
    anyhow::Error::new(Failure {
        status,
        error: error.into(),
    })
}

/// `error`, a bad command line (exit 2).
pub fn usage(error: impl Into<anyhow::Error>) -> anyhow::Error {
    fail(Status::Usage, error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_survives_context_and_prints_once() {
        let e = usage(std::io::Error::other("bad flag"));
        assert_eq!(Status::of(&e), Status::Usage);
        let e = e.context("while starting");
        assert_eq!(Status::of(&e), Status::Usage);
        assert_eq!(format!("{e:#}"), "while starting: bad flag");
        assert_eq!(Status::of(&anyhow::anyhow!("plain")), Status::Error);
        let codes: Vec<u8> = [
            Status::Ok,
            Status::Error,
            Status::Usage,
            Status::TechniqueFailed,
            Status::Partial,
            Status::ChecksFailed,
            Status::Regression,
        ]
        .map(Status::code)
        .to_vec();
        assert_eq!(codes, [0, 1, 2, 3, 4, 5, 6]);
    }
}

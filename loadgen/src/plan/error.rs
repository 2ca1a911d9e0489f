//! Why `pushbench plan` could not make a plan: each error names the flag or the directory at
//! fault.

use std::path::PathBuf;

use reports::sweep as sw;

/// Why a plan could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PlanCmdError {
    #[error(transparent)]
    Sweep(#[from] sw::SweepError),
    #[error("{flag}: {msg}")]
    Invalid { flag: &'static str, msg: String },
    #[error("{0}: the sweep holds no measured step (sweep.csv has no rows)")]
    NoSteps(PathBuf),
    #[error(
        "{0}: the machine's cores or memory are not recorded; give --machine-cores and --machine-memory"
    )]
    NoMachine(PathBuf),
    #[error("no technique could be planned: {0}")]
    NothingPlanned(String),
    #[error(transparent)]
    Write(#[from] reports::ReportError),
}

pub fn invalid(flag: &'static str, msg: impl Into<String>) -> PlanCmdError {
    PlanCmdError::Invalid {
        flag,
        msg: msg.into(),
    }
}

//! pushbench's load generator: a publisher and N simulated clients per push technique, and
//! the `pushbench` command line that drives the server, the measurements and the reports.

pub mod cli;
pub mod clients;
pub mod exit;
pub mod link;
pub mod merge;
pub mod net;
pub mod payload;
pub mod plan;
pub mod run;
pub mod stats;
pub mod sweep;
pub mod technique;
pub mod worker;

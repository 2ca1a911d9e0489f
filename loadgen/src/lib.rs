//! pushbench's load generator: a publisher and N simulated clients per push technique, and
//! the `pushbench` command line that drives the server, the measurements and the reports.
//!
//! What it is made of, each module above the ones it uses (no module imports one above it):
//!
//! - the commands: [`cli`] (the command line, thin), [`run`] (`pushbench run`: orchestration
//!   over the techniques), [`worker`] (`pushbench worker`: one share of a technique's clients
//!   in another process), [`merge`] (worker run directories into one run directory),
//!   [`sweep`] and [`plan`] (capacity), [`compare`] (two runs' figures against each other,
//!   for CI), [`exit`] (exit statuses);
//! - the run directory written: [`output`] (files, and the final table);
//! - one technique measured: [`request`] (request mode: request-scoped streams, TTFT and
//!   inter-event gaps; docs/REQUEST.md) over [`measure`] (ramp-up, warm-up, steady state,
//!   drain; what they produce and whether the technique failed);
//! - one technique's clients, wherever they run: [`group`] (in this process, or in worker
//!   processes speaking the worker protocol);
//! - what the clients meet: [`publisher`] (the open-model schedule), [`sut`] (the server under
//!   test: a child server, a target URL, /proc, the per-second sampler);
//! - the options: [`config`] (flags, scenario file, validation), with [`check`] (the
//!   thresholds of `--check`: their expressions, the figures they name, their verdicts);
//! - the foundations: [`clients`] (one simulated client per technique), [`net`] (counted
//!   sockets), [`link`] (the emulated network link between a client and the server),
//!   [`stats`] (per-technique counters and histograms), [`payload`] (the payload header),
//!   [`technique`] (the five techniques' names).

pub mod check;
pub mod cli;
pub mod clients;
pub mod compare;
pub mod config;
pub mod exit;
pub mod fault;
pub mod group;
pub mod link;
pub mod measure;
pub mod merge;
pub mod net;
pub mod output;
pub mod payload;
pub mod plan;
pub mod profile;
pub mod publisher;
pub mod request;
pub mod run;
pub mod stats;
pub mod sut;
pub mod sweep;
pub mod technique;
pub mod worker;

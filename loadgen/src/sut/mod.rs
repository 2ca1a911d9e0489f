//! The server under test as the load generator sees it: a child server it starts
//! ([`child`]), a server over HTTP ([`target`]), its processes' CPU and memory read from /proc
//! ([`procfs`], which also reads this process and the machine), and the once-a-second sampling
//! of both into the run's time series ([`sampler`]).

pub mod broker;
pub mod broker_stats;
pub mod child;
mod h2_probe;
pub mod procfs;
pub mod sampler;
pub mod target;

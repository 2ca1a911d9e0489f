//! `pushbench plan`: capacity planning from a sweep: fit per-technique costs ([`fit`],
//! [`costs`]), scale them to a target ([`model`]), say how far the answer rests on measurement
//! ([`limits`]); [`cmd`]: the command, reading the sweeps ([`sweeps`]), writing
//! plan.csv/plan.json/plan.html and the printed table ([`doc`]); with a broker sweep, the
//! broker's own row ([`broker`]).

pub mod broker;
pub mod cli;
pub mod cmd;
pub mod costs;
pub mod doc;
pub mod error;
pub mod fit;
pub mod limits;
pub mod model;
pub mod sweeps;
pub mod technique_plan;

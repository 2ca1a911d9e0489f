//! `pushbench plan`: capacity planning from a sweep: fit per-technique costs ([`fit`],
//! [`model`]), scale them to a target, and say how far the answer rests on measurement
//! ([`cmd`]: reading the sweep, writing plan.csv/plan.json/plan.html, the printed table).

pub mod cli;
pub mod cmd;
pub mod fit;
pub mod model;

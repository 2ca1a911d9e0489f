//! `pushbench plan`: capacity planning from a sweep: fit per-technique costs, scale them to a
//! target, and say how far the answer rests on measurement.

pub mod fit;
pub mod model;

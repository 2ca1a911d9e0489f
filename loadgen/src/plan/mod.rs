//! `pushbench plan`: capacity planning from a sweep (in progress).

pub mod fit;

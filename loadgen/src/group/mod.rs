//! One technique's clients, wherever they run: in this process ([`local`]) or split over
//! `pushbench worker` processes ([`pool`]) that speak the [`protocol`].

pub mod local;
pub mod pool;
pub mod protocol;

pub use local::{ClientGroup, GroupPlan, RawResult};

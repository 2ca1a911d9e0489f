//! Faults injected into a run (`--fault`, docs/FAULTS.md) and how clients recover from them
//! (`--recovery`): the spec ([`FaultSpec`]), each client's seeded schedule of cuts and stalls
//! ([`ClientFaults`]), and what one connection does with it ([`ConnFaults`], applied by the
//! counting socket).

mod account;
mod conn;
mod plan;
mod spec;
#[cfg(test)]
mod tests;

pub use conn::{ConnFaults, Injected, injected};
pub use plan::{ClientFaults, FaultPlan};
pub use spec::{DEFAULT_STALL, FaultSpec, FaultSpecError, HELP, MIN_DROP, Recovery, Stall};

//! The capacity model: per-technique costs fitted from a sweep's steps, scaled to a target.
//! Here its terms: the sweep steps it reads ([`Step`]), the question ([`Target`]), the answer
//! ([`TechniquePlan`]); [`super::technique_plan`] computes it.
//!
//! Costs fitted ([`super::costs`]: each a [`LinearFit`] with its quality and measured range):
//! - memory per connection: server RSS against clients (slope) plus a per-process base;
//! - CPU per unit of work: server cores against delivered messages per second (for short poll,
//!   against requests per second, since its work follows the poll schedule, not the messages);
//! - requests: per delivered message (per client-second for short poll);
//! - bytes on the wire per delivered message, as framing overhead over the payload, so a
//!   target with another payload size is answered (short poll: overhead per request, since
//!   every poll pays its headers whether or not it carries a message).
//!
//! Extrapolation is judged per machine, where the fits apply ([`super::limits`]): a figure is labelled
//! extrapolated when one machine's share of the target (clients, messages/s) lies outside the
//! range the sweep measured, or when the target's rate or payload size lies outside the
//! measured ones (per-message costs were measured at those).
//!
//! Assumptions (stated in every plan): the target runs on machines like the one measured; costs
//! stay linear; the sweep's knee (largest client count that met the objective) is the most one
//! machine may carry.

use serde::Serialize;

use super::fit::{FitError, LinearFit};
use crate::technique::Technique;

/// One sweep step of one technique, as read from `sweep.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub technique: Technique,
    pub clients: u64,
    pub duration_s: f64,
    pub rate: f64,
    pub payload_bytes: u64,
    pub delivered: u64,
    pub requests: u64,
    pub bytes_up: u64,
    pub bytes_down: u64,
    pub server_cpu_s: f64,
    pub server_rss_bytes: u64,
    pub slo_met: bool,
}

/// The question: how many clients, at what rate, with what payloads, on what machines.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Target {
    pub clients: u64,
    /// Messages per second each client receives.
    pub rate: f64,
    pub payload_bytes: u64,
    /// Cores of one machine (the measured machine's, unless told otherwise).
    pub machine_cores: f64,
    /// Memory of one machine, bytes.
    pub machine_memory_bytes: f64,
}

/// The answer for one technique.
#[derive(Debug, Clone, Serialize)]
pub struct TechniquePlan {
    pub technique: Technique,
    /// Largest client count that met the objective on one machine (None: no step met it).
    pub knee_clients: Option<u64>,
    pub memory_per_connection_bytes: f64,
    pub cpu_core_s_per_unit: f64,
    /// `message` or `request`: what the CPU cost is charged per.
    pub cpu_unit: &'static str,
    pub requests_per_s: f64,
    pub bandwidth_down_bytes_per_s: f64,
    pub bandwidth_up_bytes_per_s: f64,
    pub cores: f64,
    pub memory_bytes: f64,
    /// Machines needed; None when no step met the objective (the per-machine limit is unknown).
    pub machines: Option<u64>,
    /// What decided the machine count: `knee`, `cpu`, `memory` or `unknown`.
    pub machines_limited_by: &'static str,
    /// True when no step missed the objective: the real per-machine limit is above the knee.
    pub knee_is_lower_bound: bool,
    /// The figures resting on an extrapolation: any of `machines`, `cores`, `memory`,
    /// `bandwidth`, `requests`.
    pub extrapolated: Vec<&'static str>,
    /// Caveats in words.
    pub notes: Vec<String>,
    pub memory_fit: LinearFit,
    pub cpu_fit: LinearFit,
    pub requests_fit: LinearFit,
    pub bytes_down_fit: LinearFit,
    pub bytes_up_fit: LinearFit,
    /// The steps used (those that met the objective, or all when fewer than 2 did).
    pub steps_used: usize,
    /// Smallest and largest client count of the steps used.
    pub measured_clients: (u64, u64),
}

/// Why a technique could not be planned.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{technique}: {what}: {error}")]
    Fit {
        technique: Technique,
        what: &'static str,
        error: FitError,
    },
    #[error("no sweep steps")]
    NoSteps,
}

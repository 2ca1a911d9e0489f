//! How far a plan rests on measurement: notes on the fits' quality, and which figures are
//! extrapolated, judged per machine (where the fits apply).

use super::costs::{Fits, Size};
use super::fit::LinearFit;
use super::model::{Step, Target};

/// How far (as a share) past the measured range a per-machine figure may lie before it is
/// labelled extrapolated.
pub const EXTRAPOLATION_SLACK: f64 = 0.05;

/// Notes on the fits: a lower-bound knee, costs not measurable or poorly fitted, too few steps,
/// overloaded steps among those used.
pub fn note_fits(fits: &Fits, used: &[&Step], knee_is_lower_bound: bool, notes: &mut Vec<String>) {
    if knee_is_lower_bound {
        notes.push(
            "no step missed the objective: the knee is a lower bound, the machine count an \
             upper bound"
                .to_string(),
        );
    }
    for (what, f) in [
        ("memory per connection", &fits.memory),
        ("CPU per unit", &fits.cpu),
    ] {
        if f.slope <= 0.0 {
            notes.push(format!(
                "{what} is not measurable at these client counts (fitted slope {:.3e} ≤ 0): \
                 sweep larger client counts",
                f.slope
            ));
        } else if f.r2.is_some_and(|r2| r2 < 0.8) {
            notes.push(format!(
                "{what}: poor linear fit (R² {:.2})",
                f.r2.unwrap_or_default()
            ));
        }
    }
    if used.len() < 3 {
        notes.push(format!(
            "the fits rest on {} steps: no R², and nothing shows whether costs stay linear",
            used.len()
        ));
    }
    if used.iter().any(|s| !s.slo_met) {
        notes
            .push("fewer than 2 steps met the objective: the fits include overloaded steps".into());
    }
}

/// The figures resting on an extrapolation (`machines`, `cores`, `memory`, `bandwidth`,
/// `requests`), with a note for a target rate or payload size the sweep did not measure.
pub fn extrapolated(
    used: &[&Step],
    fits: &Fits,
    target: &Target,
    size: &Size,
    poll: bool,
    notes: &mut Vec<String>,
) -> Vec<&'static str> {
    let range = |f: fn(&Step) -> f64| {
        used.iter()
            .map(|s| f(s))
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                (a.min(v), b.max(v))
            })
    };
    let outside = |v: f64, (lo, hi): (f64, f64)| v < lo * (1.0 - 1e-9) || v > hi * (1.0 + 1e-9);
    let rate_out = outside(target.rate, range(|s| s.rate));
    let payload_out = outside(
        target.payload_bytes as f64,
        range(|s| s.payload_bytes as f64),
    );
    if rate_out {
        notes.push(format!(
            "target rate {} msg/s lies outside the measured rate(s): per-message costs{} were \
             measured at another rate",
            target.rate,
            if size.by_knee.is_some() {
                " and the knee"
            } else {
                ""
            }
        ));
    }
    if payload_out {
        notes.push(format!(
            "payload {} B lies outside the measured payload size(s): framing is assumed not to \
             change with it",
            target.payload_bytes
        ));
    }
    // A few percent past the last step is measurement noise (a window's delivered/s is never
    // exactly clients × rate), not an extrapolation.
    let beyond = |f: &LinearFit, x: f64| {
        x < f.x_min * (1.0 - EXTRAPOLATION_SLACK) || x > f.x_max * (1.0 + EXTRAPOLATION_SLACK)
    };
    let mf = size.machines;
    let mem_out = beyond(&fits.memory, target.clients as f64 / mf);
    let cpu_out = beyond(&fits.cpu, size.work / mf) || rate_out;
    let limited_by = size.limited_by;
    let mut extrapolated = Vec::new();
    if size.by_knee.is_none()
        || (limited_by == "knee" && rate_out)
        || (limited_by == "cpu" && cpu_out)
        || (limited_by == "memory" && mem_out)
    {
        extrapolated.push("machines");
    }
    if cpu_out {
        extrapolated.push("cores");
    }
    if mem_out {
        extrapolated.push("memory");
    }
    if payload_out || rate_out {
        extrapolated.push("bandwidth");
    }
    if rate_out && !poll {
        extrapolated.push("requests");
    }
    extrapolated
}

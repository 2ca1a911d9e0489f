//! The plan's broker row: when the sweep's steps ran with `run --broker redis|nats`, the
//! broker's CPU is fitted as a resource of its own and sized for the target.
//!
//! Every message is stored once and sent to every server instance, so the broker's work is
//! taken to scale with publishes × instances: busy broker cores (`cpu_s / duration`) against
//! `in_msgs_per_s × instances`, a least-squares line through the origin (an idle broker costs
//! nothing). The target's publishes are the measured publishes per unit of per-client rate
//! (topics × rate) scaled to the target's rate; its instances are the plan's machines × the
//! instances each measured machine ran (`--server-processes`).

use std::path::Path;

use reports::plan_page::PlanRow;
use reports::sweep::StepRow;

use super::fit::{FitError, LinearFit, fit_linear, fit_through_origin};

/// Redis executes commands on one thread: above this share of one core it will not hold.
pub const REDIS_CORE_LIMIT: f64 = 0.8;

/// One sweep step's broker figures.
#[derive(Debug, Clone, PartialEq)]
pub struct BrokerStep {
    pub kind: String,
    /// Server instances that step ran (`--server-processes`, 1 when not recorded).
    pub instances: u64,
    pub duration_s: f64,
    /// Messages per second each client was to receive.
    pub rate: f64,
    /// Messages published into the broker per second.
    pub publishes_per_s: f64,
    pub cpu_s: f64,
}

/// The fitted broker cost.
#[derive(Debug, Clone, PartialEq)]
pub struct BrokerFit {
    pub kind: String,
    /// Broker CPU-seconds per (publish × instance).
    pub fit: LinearFit,
    /// Publishes per second per unit of per-client rate (the topics), mean over the steps.
    pub publishes_per_rate: f64,
    /// Instances per measured machine (the largest the steps ran).
    pub instances_per_machine: u64,
}

/// The broker at the target.
#[derive(Debug, Clone, PartialEq)]
pub struct BrokerSize {
    pub publishes_per_s: f64,
    pub instances: u64,
    /// Publishes in plus one copy out per instance.
    pub messages_per_s: f64,
    pub cores: f64,
    pub verdict: String,
}

/// The broker figures of `technique` in one step's run directory (`summary.json`,
/// `manifest.json`); None when that run had no broker or its files do not say.
pub fn read_step(sweep_dir: &Path, row: &StepRow) -> Option<BrokerStep> {
    #[derive(serde::Deserialize)]
    struct Doc {
        techniques: Vec<serde_json::Value>,
    }
    let dir = sweep_dir.join(&row.run_dir);
    let text = std::fs::read_to_string(dir.join("summary.json")).ok()?;
    let doc: Doc = serde_json::from_str(&text).ok()?;
    let t = doc
        .techniques
        .into_iter()
        .find(|t| t["technique"].as_str() == Some(row.technique.as_str()))?;
    let b: contract::run_dir::BrokerFigures = serde_json::from_value(t["broker"].clone()).ok()?;
    let instances = std::fs::read_to_string(dir.join("manifest.json"))
        .ok()
        .and_then(|m| serde_json::from_str::<serde_json::Value>(&m).ok())
        .and_then(|m| m["server_processes"].as_u64())
        .unwrap_or(1)
        .max(1);
    Some(BrokerStep {
        kind: b.kind,
        instances,
        duration_s: row.duration_s,
        rate: row.rate,
        publishes_per_s: b.in_msgs_per_s?,
        cpu_s: b.cpu_s?,
    })
}

/// Whether the loads (x) of `points` are spread enough for a line with an intercept: the
/// smallest at most 80% of the largest. Loads nearly alike (a client sweep at one rate) would
/// make its slope noise.
fn spread(points: &[(f64, f64)]) -> bool {
    let max = points.iter().map(|p| p.0).fold(f64::MIN, f64::max);
    let min = points.iter().map(|p| p.0).fold(f64::MAX, f64::min);
    points.len() >= 2 && max > 0.0 && min <= 0.8 * max
}

/// Fits the broker's cores against publishes × instances: a line with an intercept (the
/// broker's own idle housekeeping, which a through-origin fit would charge to the few
/// messages of a light step) when the steps' loads are spread (see [`spread`]), else through
/// the origin.
pub fn fit(steps: &[BrokerStep]) -> Result<BrokerFit, FitError> {
    let usable: Vec<&BrokerStep> = steps
        .iter()
        .filter(|s| s.duration_s > 0.0 && s.rate > 0.0)
        .collect();
    let points: Vec<(f64, f64)> = usable
        .iter()
        .map(|s| {
            (
                s.publishes_per_s * s.instances as f64,
                s.cpu_s / s.duration_s,
            )
        })
        .collect();
    let fit = if spread(&points) {
        fit_linear(&points)?
    } else {
        fit_through_origin(&points)?
    };
    let publishes_per_rate = usable
        .iter()
        .map(|s| s.publishes_per_s / s.rate)
        .sum::<f64>()
        / usable.len() as f64;
    Ok(BrokerFit {
        kind: usable.first().map(|s| s.kind.clone()).unwrap_or_default(),
        fit,
        publishes_per_rate,
        instances_per_machine: usable.iter().map(|s| s.instances).max().unwrap_or(1),
    })
}

/// The broker at `rate` messages/s per client with `machines` machines (each running the
/// measured instances); `machine_cores`: a broker machine's cores (NATS).
pub fn size(f: &BrokerFit, rate: f64, machines: u64, machine_cores: f64) -> BrokerSize {
    let publishes_per_s = f.publishes_per_rate * rate;
    let instances = machines.max(1) * f.instances_per_machine;
    let work = publishes_per_s * instances as f64;
    let cores = f.fit.intercept.max(0.0) + f.fit.slope.max(0.0) * work;
    let verdict = if f.kind == "redis" {
        if cores > REDIS_CORE_LIMIT {
            format!(
                "one Redis will not hold it: {:.2} cores of work on a one-thread broker (limit \
                 ~{REDIS_CORE_LIMIT}); shard topics over at least {} Redis, or run fewer, \
                 larger server instances",
                cores,
                (cores / REDIS_CORE_LIMIT).ceil() as u64
            )
        } else {
            format!("one Redis holds it ({:.0}% of its one core)", cores * 100.0)
        }
    } else if cores > REDIS_CORE_LIMIT * machine_cores {
        format!(
            "{:.2} cores: more than one {machine_cores}-core broker machine holds; cluster \
             {} or run fewer, larger server instances",
            cores, f.kind
        )
    } else {
        format!(
            "{:.2} cores of a {machine_cores}-core broker machine ({} is multi-threaded)",
            cores, f.kind
        )
    };
    BrokerSize {
        publishes_per_s,
        instances,
        messages_per_s: publishes_per_s * (1.0 + instances as f64),
        cores,
        verdict,
    }
}

/// Fills `row`'s broker fields from the steps (those of its technique); leaves them empty when
/// the steps had no broker.
pub fn fill_row(row: &mut PlanRow, steps: &[BrokerStep], rate: f64, machine_cores: f64) {
    let Ok(f) = fit(steps) else {
        return;
    };
    row.broker_kind = Some(f.kind.clone());
    row.broker_core_s_per_publish_instance = Some(f.fit.slope);
    row.broker_fit_points = Some(f.fit.n);
    let s = size(&f, rate, row.machines.unwrap_or(1), machine_cores);
    row.broker_publishes_per_s = Some(s.publishes_per_s);
    if row.machines.is_some() {
        row.broker_instances = Some(s.instances);
        row.broker_messages_per_s = Some(s.messages_per_s);
        row.broker_cores = Some(s.cores);
        row.broker_verdict = Some(s.verdict);
    } else {
        row.broker_verdict =
            Some("unknown: no machine count, so the instances the broker feeds are unknown".into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(instances: u64, publishes_per_s: f64, cpu_s: f64) -> BrokerStep {
        BrokerStep {
            kind: "redis".into(),
            instances,
            duration_s: 10.0,
            rate: 2.0,
            publishes_per_s,
            cpu_s,
        }
    }

    #[test]
    fn fits_cpu_per_publish_instance_with_the_idle_cost_apart() {
        // x = publishes/s × instances: 100×1 = 100, 100×2 = 200, 100×4 = 400.
        // y = cpu_s / 10 s: 0.01, 0.02, 0.05 cores. Least squares: mean x = 700/3, mean y =
        // 0.08/3, Sxx = 140_000/3, Sxy = 19/3, so slope = 19 / 140_000 and intercept =
        // 0.08/3 - (19/140_000)(700/3) = -0.005.
        let steps = [
            step(1, 100.0, 0.1),
            step(2, 100.0, 0.2),
            step(4, 100.0, 0.5),
        ];
        let f = fit(&steps).unwrap();
        assert!(
            (f.fit.slope - 19.0 / 140_000.0).abs() < 1e-15,
            "{}",
            f.fit.slope
        );
        assert!(
            (f.fit.intercept + 0.005).abs() < 1e-12,
            "{}",
            f.fit.intercept
        );
        // One load only, or loads nearly alike: through the origin, 0.01 / 100.
        let one = fit(&[step(1, 100.0, 0.1)]).unwrap();
        assert!((one.fit.slope - 1e-4).abs() < 1e-15 && one.fit.intercept == 0.0);
        let alike = fit(&[step(1, 100.0, 0.1), step(1, 110.0, 0.1)]).unwrap();
        assert_eq!(alike.fit.intercept, 0.0);
        assert_eq!(f.fit.n, 3);
        assert!(
            (f.publishes_per_rate - 50.0).abs() < 1e-12,
            "100 publishes/s at rate 2"
        );
        assert_eq!(f.instances_per_machine, 4);
        assert_eq!(fit(&[]).map(|_| ()), Err(FitError::TooFewPoints(0)));
    }

    #[test]
    fn sizes_the_broker_and_judges_one_redis() {
        // 10 µs per publish × instance; 50 publishes/s per unit rate; 2 instances per machine.
        let f = BrokerFit {
            kind: "redis".into(),
            fit: fit_through_origin(&[(1000.0, 0.01)]).unwrap(),
            publishes_per_rate: 50.0,
            instances_per_machine: 2,
        };
        // rate 4 → 200 publishes/s; 30 machines → 60 instances; work 12_000/s → 0.12 cores;
        // messages 200 × 61 = 12_200/s.
        let s = size(&f, 4.0, 30, 2.0);
        assert!((s.publishes_per_s - 200.0).abs() < 1e-9);
        assert_eq!(s.instances, 60);
        assert!((s.messages_per_s - 12_200.0).abs() < 1e-6);
        assert!((s.cores - 0.12).abs() < 1e-9, "{}", s.cores);
        assert!(
            s.verdict.starts_with("one Redis holds it (12%"),
            "{}",
            s.verdict
        );
        // 300 machines → 600 instances → 1.2 cores: over 0.8, at least 2 shards.
        let s = size(&f, 4.0, 300, 2.0);
        assert!((s.cores - 1.2).abs() < 1e-9);
        assert!(s.verdict.contains("will not hold") && s.verdict.contains("at least 2 Redis"));
        // NATS: the same 1.2 cores fit a 2-core broker machine (limit 1.6).
        let nats = BrokerFit {
            kind: "nats".into(),
            ..f
        };
        let s = size(&nats, 4.0, 300, 2.0);
        assert!(
            s.verdict.starts_with("1.20 cores of a 2-core"),
            "{}",
            s.verdict
        );
    }
}

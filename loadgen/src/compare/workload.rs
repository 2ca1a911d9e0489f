//! Whether two runs measured the same workload: every run option in the manifests' `params`
//! must be equal, except the few listed in [`IGNORED`], which do not change what the clients
//! and the server do. A new option is compared unless it is listed here: a comparison refused
//! by mistake is a one-line error, a comparison of two different workloads is a wrong verdict.

use reports::Run;
use serde_json::Value;

/// Run options that do not change the workload, with why.
pub const IGNORED: &[(&str, &str)] = &[
    (
        "target",
        "the server under test is what a comparison compares (a new release at a new URL)",
    ),
    (
        "worker_command",
        "how worker processes are started (a path), not what they do",
    ),
    (
        "scenario",
        "the scenario file's path; the options it set are compared one by one",
    ),
    ("scenario_description", "the scenario file's prose"),
    (
        "source_addrs",
        "which loopback source addresses the clients bind; the load is the same",
    ),
    (
        "seed",
        "drives only the clients' random jitter: another sample of the same workload",
    ),
    (
        "pause_ms",
        "the idle time between techniques, outside every window",
    ),
    (
        "checks",
        "result thresholds (`--check`) judge a run; they do not change it",
    ),
    ("check", "as `checks`"),
    (
        "repeat",
        "repetitions give the spread; each repetition is the same workload",
    ),
    (
        "repetition",
        "which repetition of a repeated run a repetitions/<k>/ directory is",
    ),
    ("out", "where the run directory was written"),
    ("json", "what is printed"),
    ("no_report", "whether the report was drawn"),
];

/// The first option whose value differs between `a` and `b` (absent counts as `null`), as one
/// line naming it and both values; `None` when the workloads are the same.
pub fn difference(a: &Run, b: &Run) -> Option<String> {
    let keys: std::collections::BTreeSet<&String> = a
        .manifest
        .params
        .keys()
        .chain(b.manifest.params.keys())
        .collect();
    for key in keys {
        if IGNORED.iter().any(|(k, _)| k == key) {
            continue;
        }
        let va = normalized(key, a.manifest.params.get(key));
        let vb = normalized(key, b.manifest.params.get(key));
        if va != vb {
            let shown = |v: Option<&Value>| v.map_or("absent".into(), Value::to_string);
            let (va, vb) = (
                shown(a.manifest.params.get(key)),
                shown(b.manifest.params.get(key)),
            );
            return Some(format!(
                "{} and {} measured different workloads: {key} is {va} in one and {vb} in the \
                 other",
                a.dir.display(),
                b.dir.display()
            ));
        }
    }
    None
}

/// A value as compared: `techniques` as a sorted list (their order does not change any one
/// technique's figures), numbers as numbers (`10` and `10.0` are one rate), an absent link as
/// `none` (what runs written before links existed were measured over).
fn normalized(key: &str, v: Option<&Value>) -> Value {
    match v {
        None if key == "link" || key == "publisher_link" => Value::from("none"),
        None => Value::Null,
        Some(Value::Array(items)) if key == "techniques" => {
            let mut names: Vec<String> = items.iter().map(|i| i.to_string()).collect();
            names.sort();
            Value::from(names.join(","))
        }
        Some(Value::Number(n)) => n.as_f64().map_or(Value::Number(n.clone()), Value::from),
        Some(other) => other.clone(),
    }
}

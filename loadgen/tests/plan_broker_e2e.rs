//! `pushbench plan` of a tiny real sweep run with `--broker redis --server-processes 2`: the
//! plan has a broker row whose fit and sizing agree with the figures in the steps' run
//! directories (summary.json `broker`, manifest.json `server_processes`). Skipped (with a
//! `SKIPPED` line) where redis-server is not installed.

mod run_common;

use std::path::Path;
use std::time::Duration;

use run_common::{TempDir, run};
use server::broker::Kind;
use server::broker::process::BrokerProcess;

fn json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

#[test]
fn broker_row_agrees_with_the_steps() {
    if !BrokerProcess::available(Kind::Redis) {
        println!("SKIPPED broker_row_agrees_with_the_steps: redis-server is not installed");
        return;
    }
    let tmp = TempDir::new("plan-broker");
    let dir = tmp.0.join("sweep");
    let d = dir.to_str().unwrap();
    let out = run(
        &[
            "sweep",
            "--techniques",
            "sse",
            "--no-report",
            "--duration",
            "1s",
            "--warmup",
            "200ms",
            "--drain",
            "1s",
            "--ramp-up",
            "5000",
            "--rate",
            "10",
            "--clients",
            "2,4",
            "--slo-p99",
            "10s",
            "--broker",
            "redis",
            "--server-processes",
            "2",
            "--out",
            d,
        ],
        Duration::from_secs(120),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(
        &["plan", d, "--clients", "1000", "--rate", "10", "--json"],
        Duration::from_secs(30),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let row = &plan["rows"][0];
    assert_eq!(row["broker_kind"], "redis", "{row}");

    // The fit by hand from the steps' run directories: cores = cpu_s / duration against
    // in_msgs_per_s × instances; both steps publish at one rate, so their loads are alike
    // and the line goes through the origin.
    let rows = reports::sweep::load_csv(&dir).unwrap();
    assert_eq!(rows.len(), 2);
    let (mut sxy, mut sxx, mut per_rate) = (0.0, 0.0, 0.0);
    for r in &rows {
        let run_dir = dir.join(&r.run_dir);
        let summary = json(&run_dir.join("summary.json"));
        let b = &summary["techniques"][0]["broker"];
        assert_eq!(b["kind"], "redis", "{b}");
        let instances = json(&run_dir.join("manifest.json"))["server_processes"]
            .as_f64()
            .unwrap();
        assert_eq!(instances, 2.0);
        let pubs = b["in_msgs_per_s"].as_f64().unwrap();
        let x = pubs * instances;
        let y = b["cpu_s"].as_f64().unwrap() / r.duration_s;
        sxy += x * y;
        sxx += x * x;
        per_rate += pubs / r.rate / rows.len() as f64;
    }
    let slope = sxy / sxx;
    let got = row["broker_core_s_per_publish_instance"].as_f64().unwrap();
    assert!(
        (got - slope).abs() <= 1e-9 * slope.abs().max(1e-12),
        "{got} vs {slope}"
    );
    assert_eq!(row["broker_fit_points"], 2);
    let machines = row["machines"].as_u64().unwrap();
    let instances = row["broker_instances"].as_u64().unwrap();
    assert_eq!(instances, machines * 2);
    let pubs = row["broker_publishes_per_s"].as_f64().unwrap();
    assert!(
        (pubs - per_rate * 10.0).abs() <= 1e-9 * pubs.max(1.0),
        "{pubs}"
    );
    let msgs = row["broker_messages_per_s"].as_f64().unwrap();
    assert!((msgs - pubs * (1.0 + instances as f64)).abs() <= 1e-6 * msgs.max(1.0));
    let cores = row["broker_cores"].as_f64().unwrap();
    assert!((cores - slope * pubs * instances as f64).abs() <= 1e-9 * cores.max(1e-9));
    let verdict = row["broker_verdict"].as_str().unwrap();
    assert!(verdict.contains("Redis"), "{verdict}");

    // The files carry it too.
    let csv = std::fs::read_to_string(dir.join("plan.csv")).unwrap();
    assert!(
        csv.lines().next().unwrap().contains("broker_cores"),
        "{csv}"
    );
    let html = std::fs::read_to_string(dir.join("plan.html")).unwrap();
    assert!(html.contains("<h2>Broker</h2>"));
}

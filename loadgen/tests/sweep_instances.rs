//! `pushbench sweep --instances 1,2 --broker redis`: each technique at one client count, once
//! per server instance count over a real Redis; every step is a run directory, its row carries
//! the instance count and the broker's figures, and every message is delivered. Options that
//! make no sense with it are one-line usage errors (exit 2). Skipped (with a line saying so)
//! where redis-server is not installed.

mod run_common;

use std::time::Duration;

use run_common::{TempDir, run};
use server::broker::Kind;
use server::broker::process::BrokerProcess;

#[test]
fn an_instance_sweep_over_redis_runs_one_step_per_instance_count() {
    if !BrokerProcess::available(Kind::Redis) {
        println!("SKIPPED an_instance_sweep_over_redis: redis-server is not installed");
        return;
    }
    let tmp = TempDir::new("sweep-instances");
    let dir = tmp.join("s");
    let out = run(
        &[
            "sweep",
            "--techniques",
            "sse",
            "--clients",
            "20",
            "--rate",
            "5",
            "--duration",
            "2s",
            "--warmup",
            "300ms",
            "--drain",
            "2s",
            "--pause",
            "0s",
            "--instances",
            "1,2",
            "--broker",
            "redis",
            "--baseline",
            "--out",
            dir.to_str().unwrap(),
        ],
        Duration::from_secs(55),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stdout.contains("instances") && stdout.contains("broker s/1M"),
        "{stdout}"
    );
    let doc = reports::sweep::load(&dir).expect("sweep.json loads");
    let rows = reports::sweep::load_csv(&dir).expect("sweep.csv loads");
    assert_eq!(rows, doc.steps, "sweep.csv and sweep.json agree");
    assert_eq!(doc.instances, vec![1, 2]);
    let counts: Vec<(u64, Option<&str>)> = doc
        .steps
        .iter()
        .map(|s| (s.instances, s.broker.as_deref()))
        .collect();
    // --baseline: 1 instance without the broker first, then 1 and 2 over Redis.
    assert_eq!(
        counts,
        vec![(1, None), (1, Some("redis")), (2, Some("redis"))],
        "{:?}",
        doc.steps
    );
    let base = &doc.steps[0];
    assert_eq!(base.run_dir, "sse-20-i1-nobroker");
    assert_eq!(base.delivered, base.expected, "{base:?}");
    assert!(base.broker_cpu_s.is_none() && base.broker_messages_per_s.is_none());
    // The printed table measures the broker steps' latency against the baseline.
    let broker_lines: Vec<&str> = stdout.lines().filter(|l| l.contains(" redis ")).collect();
    assert_eq!(broker_lines.len(), 2, "{stdout}");
    assert!(
        broker_lines
            .iter()
            .all(|l| l.matches('+').count() + l.matches('-').count() >= 2),
        "p50/p99 added shown: {stdout}"
    );
    for s in &doc.steps[1..] {
        assert_eq!((s.technique.as_str(), s.clients), ("sse", 20), "{s:?}");
        assert!(s.expected > 0, "{s:?}");
        assert_eq!(
            s.delivered, s.expected,
            "every message delivered: {s:?}\n{stderr}"
        );
        assert_eq!((s.lost, s.errors), (0, 0), "{s:?}");
        assert_eq!(s.broker.as_deref(), Some("redis"), "{s:?}");
        // At 200 deliveries the broker's CPU may round to 0 (10 ms ticks): present, not < 0.
        assert!(s.broker_cpu_s.is_some_and(|c| c >= 0.0), "{s:?}");
        assert!(
            s.broker_cpu_s_per_million_deliveries
                .is_some_and(|c| c >= 0.0),
            "{s:?}"
        );
        assert!(s.broker_messages_per_s.is_some_and(|m| m > 0.0), "{s:?}");
        assert!(
            s.broker_rss_peak_bytes.is_some_and(|b| b > 1 << 20),
            "{s:?}"
        );
        assert!(s.p50_us.is_some() && s.p99_us.is_some(), "{s:?}");
        assert!(dir.join(&s.run_dir).join("summary.json").is_file(), "{s:?}");
        let summary: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join(&s.run_dir).join("summary.json")).unwrap(),
        )
        .unwrap();
        let procs = summary["manifest"]["server_processes"].as_u64();
        assert!(
            procs.is_none() || procs == Some(s.instances),
            "{}",
            summary["manifest"]
        );
    }
    let html = std::fs::read_to_string(dir.join("index.html")).unwrap();
    assert!(
        html.contains("<h2>Instances</h2>"),
        "the page has the instance table"
    );
    for png in [
        "sweep_instances_p99.png",
        "sweep_instances_server_cpu.png",
        "sweep_instances_broker_cpu.png",
        "sweep_instances_broker_msgs.png",
    ] {
        assert!(dir.join(png).is_file(), "{png}");
    }
}

#[test]
fn options_that_make_no_sense_with_instances_are_one_line_usage_errors() {
    let cases: [&[&str]; 6] = [
        &["--instances", "1,2", "--baseline"],
        &["--instances", "1,2", "--start", "10"],
        &["--instances", "1,2", "--clients", "10,20"],
        &["--instances", "1,2", "--server-processes", "2"],
        &["--instances", "1,2", "--links", "0,100ms"],
        &["--instances", "1,0"],
    ];
    for extra in cases {
        let mut args = vec!["sweep", "--techniques", "sse", "--duration", "1s"];
        args.extend_from_slice(extra);
        let o = run(&args, Duration::from_secs(30));
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
        assert!(
            stderr.contains("--instances") || stderr.contains("--baseline"),
            "{stderr}"
        );
    }
}

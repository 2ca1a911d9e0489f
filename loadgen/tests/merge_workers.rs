//! Two `pushbench worker` processes run as they would on two machines: each from a plan file
//! alone (window and close time fixed in advance, no stdin), writing a worker run directory.
//! The test publishes on the plan's schedule, then `pushbench merge` combines the two
//! directories: the counts are the sums and the report draws.

mod run_common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use loadgen::payload;
use loadgen::worker::protocol::{WindowSpec, WorkerPlan};
use run_common::{
    ServeChild, TempDir, bin, run, stats, technique, technique_figure, u, wait_until,
};

fn publish(addr: &str, topic: &str, seq: u64, scheduled_us: u64) {
    let body = payload::encode(
        payload::Header {
            topic: 0,
            seq,
            scheduled_us,
        },
        64,
    );
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "POST /publish/{topic} HTTP/1.1\r\nhost: {addr}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
}

#[test]
fn workers_run_from_plans_and_merge() {
    let server = ServeChild::start(&[]);
    let addr = server.addr.to_string();
    let tmp = TempDir::new("merge");
    let topic = "pb-mergetest-sse-0";
    // Publish 10 messages, 100 ms apart, starting 1.5 s from now; the window is seqs 3..=8.
    let t0 = now_us() + 1_500_000;
    let window = WindowSpec {
        seqs: vec![Some([3, 8])],
        start_us: t0 + 200_000,
        end_us: t0 + 800_000,
    };
    let mut workers = Vec::new();
    for k in 0..2u32 {
        let plan = WorkerPlan {
            index: k,
            workers: 2,
            run_id: "mergetest".into(),
            technique: loadgen::technique::Technique::Sse,
            target: server.url(),
            topics: vec![topic.into()],
            clients: 3,
            first_index: 3 * k,
            ramp_up: 100.0,
            source_addrs: vec![],
            poll_interval_ms: 1000,
            long_poll_timeout_ms: 5000,
            connect_timeout_ms: 3000,
            read_timeout_ms: 10_000,
            seed: 1,
            window: Some(window.clone()),
            close_at_us: Some(t0 + 2_000_000),
            params: serde_json::json!({"payload_bytes": 64, "clients": 6}),
            // Each worker carries its clients through an emulator of its own.
            link: Some("rtt=20ms".parse().unwrap()),
            profile: None,
            fault: None,
            stall_from_us: None,
            recovery: None,
            transport: None,
        };
        let p = tmp.join(&format!("plan{k}.json"));
        std::fs::write(&p, serde_json::to_string(&plan).unwrap()).unwrap();
        let out = tmp.join(&format!("w{k}"));
        workers.push(
            Command::new(bin())
                .args(["worker", "--plan"])
                .arg(&p)
                .arg("--out")
                .arg(&out)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        );
    }
    // Both workers' clients subscribed, as the server counts them.
    let subscribed = wait_until(Duration::from_secs(20), || {
        stats(server.addr).is_some_and(|s| technique_figure(&s, "sse", "connections") == 6)
    });
    assert!(subscribed, "the workers' 6 clients never connected");
    // Publishing on the plans' schedule is the scenario: the waits until each message is due
    // stay (the counts below do not depend on how exactly they are kept).
    for seq in 1..=10u64 {
        let due = t0 + (seq - 1) * 100_000;
        if let Some(early) = due.checked_sub(now_us()) {
            std::thread::sleep(Duration::from_micros(early));
        }
        publish(&addr, topic, seq, due);
    }
    for w in workers {
        let out = w.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "worker failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let last = String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .unwrap()
            .to_string();
        assert!(last.starts_with("{\"result\""), "{last}");
    }
    for k in 0..2 {
        let raw = tmp.join(&format!("w{k}/raw/sse.json"));
        let r: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(raw).unwrap()).unwrap();
        assert_eq!((u(&r, "clients"), u(&r, "expected")), (3, 18), "{r}");
        assert_eq!(u(&r["phase"], "delivered"), 18, "{r}");
    }
    let merged = tmp.join("merged");
    let w0 = tmp.join("w0");
    let w1 = tmp.join("w1");
    let out = run(
        &[
            "merge",
            w0.to_str().unwrap(),
            w1.to_str().unwrap(),
            "--out",
            merged.to_str().unwrap(),
        ],
        Duration::from_secs(60),
    );
    assert!(
        out.status.success(),
        "merge failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(merged.join("summary.json")).unwrap())
            .unwrap();
    let sse = technique(&doc, "sse");
    assert_eq!(u(sse, "clients"), 6);
    assert_eq!(u(sse, "published"), 6);
    assert_eq!(u(sse, "expected"), 36);
    assert_eq!(u(sse, "delivered"), 36);
    assert_eq!(u(sse, "lost"), 0);
    assert_eq!(u(&sse["latency_us"], "count"), 36);
    // The workers' links, added up: 10 ms one way at least.
    assert!(u(&sse["latency_us"], "min") >= 10_000, "{sse}");
    assert_eq!(sse["link"]["spec"], "rtt=20ms");
    assert!(u(&sse["link"], "connects") >= 6, "{sse}");
    assert_eq!(u(&sse["link_emulator"], "processes"), 2, "{sse}");
    assert_eq!(doc["manifest"]["loadgen_processes"], 2);
    assert_eq!(doc["manifest"]["merged_from"].as_array().unwrap().len(), 2);
    assert!(
        doc["manifest"]["clock"]
            .as_str()
            .unwrap()
            .contains("synchronized")
    );
    assert!(merged.join("histograms/sse.hlog").exists());
    let html = std::fs::read_to_string(merged.join("index.html")).unwrap();
    assert!(html.contains("sse"));
    // Merging into an existing run is refused; a directory that is not a run is an error.
    let again = run(
        &[
            "merge",
            w0.to_str().unwrap(),
            "--out",
            merged.to_str().unwrap(),
        ],
        Duration::from_secs(30),
    );
    assert!(!again.status.success());
    let bad = run(
        &[
            "merge",
            tmp.0.to_str().unwrap(),
            "--out",
            tmp.join("m2").to_str().unwrap(),
        ],
        Duration::from_secs(30),
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("manifest.json"));

    // Workers whose clients delivered nothing: the merged technique failed (exit 3).
    let mut dead = Vec::new();
    for k in 0..2 {
        let d = tmp.join(&format!("dead{k}"));
        std::fs::create_dir_all(d.join("raw")).unwrap();
        let src = tmp.join(&format!("w{k}"));
        std::fs::copy(src.join("manifest.json"), d.join("manifest.json")).unwrap();
        let raw = std::fs::read_to_string(src.join("raw/sse.json")).unwrap();
        let mut r: serde_json::Value = serde_json::from_str(&raw).unwrap();
        r["phase"]["delivered"] = 0.into();
        r["window"]["delivered"] = 0.into();
        std::fs::write(d.join("raw/sse.json"), r.to_string()).unwrap();
        dead.push(d.to_str().unwrap().to_string());
    }
    let m3 = tmp.join("m3");
    let out = run(
        &[
            "merge",
            &dead[0],
            &dead[1],
            "--no-report",
            "--out",
            m3.to_str().unwrap(),
        ],
        Duration::from_secs(30),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("sse failed (no client delivered a message"),
        "{stderr}"
    );
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(m3.join("summary.json")).unwrap()).unwrap();
    let f = technique(&doc, "sse")["failure"]
        .as_str()
        .unwrap_or_default();
    assert!(
        f.contains("no client delivered a message (36 expected)"),
        "{doc}"
    );
}

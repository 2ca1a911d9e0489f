//! Writes the test fixtures under `reports/tests/fixtures/`: small run directories that follow
//! docs/RUN_FORMAT.md exactly, with realistic numbers for all five techniques and real
//! HdrHistogram interval logs written by `IntervalLogWriter` from known, seeded samples.
//!
//! The fixtures are committed; rerun this only to change them:
//! `cargo run -p reports --example make_fixture -- reports/tests/fixtures`

use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use hdrhistogram::Histogram;
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
use serde_json::json;

/// A small deterministic generator (xorshift64*).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// What one technique did in the fixture's steady state.
struct Tech {
    name: &'static str,
    delivered: u64,
    requests: u64,
    empty: u64,
    reconnects: u64,
    up_per_msg: f64,
    down_per_msg: f64,
    cpu_s: f64,
    rss_per_conn: u64,
    /// Latency sample in µs from a uniform draw.
    latency: fn(&mut Rng) -> f64,
    failure: Option<&'static str>,
}

const CLIENTS: u64 = 20;
const RATE: u64 = 10;
const DURATION_S: u64 = 8;
const PAYLOAD: u64 = 256;
const IDLE_RSS: u64 = 6 * 1024 * 1024;

fn techs() -> Vec<Tech> {
    let expected = CLIENTS * RATE * DURATION_S;
    vec![
        Tech {
            name: "poll",
            delivered: expected,
            requests: CLIENTS * DURATION_S,
            empty: 0,
            reconnects: 0,
            up_per_msg: 9.5,
            down_per_msg: 297.7,
            cpu_s: 0.021,
            rss_per_conn: 9 * 1024,
            latency: |r| 400.0 + r.next() * 1_000_000.0,
            failure: None,
        },
        Tech {
            name: "long-poll",
            delivered: expected,
            requests: 1_572,
            empty: 0,
            reconnects: 0,
            up_per_msg: 98.2,
            down_per_msg: 446.5,
            cpu_s: 0.118,
            rss_per_conn: 10 * 1024 + 300,
            latency: |r| 600.0 + 900.0 * r.next() + 7_000.0 * r.next().powi(40),
            failure: None,
        },
        Tech {
            name: "stream",
            delivered: expected,
            requests: 0,
            empty: 0,
            reconnects: 0,
            up_per_msg: 0.0,
            down_per_msg: 287.0,
            cpu_s: 0.029,
            rss_per_conn: 11 * 1024 + 200,
            latency: |r| 300.0 + 600.0 * r.next() + 3_000.0 * r.next().powi(60),
            failure: None,
        },
        Tech {
            name: "sse",
            delivered: expected,
            requests: 1,
            empty: 0,
            reconnects: 1,
            up_per_msg: 0.1,
            down_per_msg: 272.4,
            cpu_s: 0.031,
            rss_per_conn: 11 * 1024 + 500,
            latency: |r| 350.0 + 700.0 * r.next() + 3_500.0 * r.next().powi(60),
            failure: None,
        },
        Tech {
            name: "ws",
            delivered: expected,
            requests: 0,
            empty: 0,
            reconnects: 0,
            up_per_msg: 0.3,
            down_per_msg: 283.0,
            cpu_s: 0.034,
            rss_per_conn: 14 * 1024 + 100,
            latency: |r| 280.0 + 550.0 * r.next() + 2_500.0 * r.next().powi(60),
            failure: None,
        },
    ]
}

fn write_run(dir: &Path, techs: &[Tech], partial: Option<&str>) {
    std::fs::create_dir_all(dir.join("histograms")).unwrap();
    let names: Vec<&str> = techs.iter().map(|t| t.name).collect();
    let manifest = json!({
        "format": "pushbench-run",
        "format_version": 1,
        "partial": partial.is_some(),
        "failure": partial,
        "started_at": "2026-11-25T19:05:01.123Z",
        "ended_at": if partial.is_some() { "2026-11-25T19:05:40.002Z" } else { "2026-11-25T19:06:06.456Z" },
        "command_line": ["pushbench", "run", "--clients", "20"],
        "target": "embedded",
        "server_processes": 1,
        "loadgen_processes": 1,
        "clock": "single process clock (publisher and subscribers in one process)",
        "params": {
            "techniques": names, "clients": CLIENTS, "topics": 1, "rate": RATE as f64,
            "payload_bytes": PAYLOAD, "poll_interval_ms": 1000, "long_poll_timeout_ms": 30000,
            "ramp_up_per_s": 1000, "warmup_ms": 2000, "duration_ms": DURATION_S * 1000,
            "drain_ms": 2000, "connect_timeout_ms": 5000, "read_timeout_ms": 10000,
            "source_addrs": ["127.0.0.1"], "seed": 1
        },
        "machine": {"hostname": "bench-1", "cpu_model": "AMD EPYC 7B13 <fixture>", "cores": 2,
                    "memory_bytes": 25769803776u64, "kernel": "Linux 6.1.0 x86_64", "os": "linux"},
        "versions": {"pushbench": "0.1.0", "rustc": "1.95.0"},
        "build_profile": "release",
        "git_revision": "abc1234"
    });
    let mut summaries = Vec::new();
    let mut csv = csv::Writer::from_path(dir.join("summary.csv")).unwrap();
    csv.write_record(
        "technique,clients,topics,payload_bytes,duration_s,published,expected,delivered,lost,\
         duplicates,out_of_order,requests,empty_responses,reconnects,bytes_up,bytes_down,\
         server_bytes_up,server_bytes_down,server_requests,latency_count,latency_min_us,\
         latency_mean_us,latency_p50_us,latency_p90_us,latency_p99_us,latency_p999_us,\
         latency_max_us,connect_p50_ms,connect_p99_ms,first_message_p50_ms,server_cpu_s,\
         server_rss_bytes,server_rss_idle_bytes,loadgen_cpu_s,loadgen_rss_bytes,errors_total"
            .split(','),
    )
    .unwrap();
    let mut ts = csv::Writer::from_path(dir.join("timeseries.csv")).unwrap();
    ts.write_record(
        "t_s,technique,phase,connections,delivered_per_s,latency_p99_us,bytes_down_per_s,\
         bytes_up_per_s,requests_per_s,server_cpu_s,server_rss_bytes,loadgen_cpu_s"
            .split(','),
    )
    .unwrap();
    let mut t_s = 0u64;
    for (i, t) in techs.iter().enumerate() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (i as u64 + 1));
        let mut h = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
        for _ in 0..t.delivered {
            h.record((t.latency)(&mut rng).round() as u64).unwrap();
        }
        let expected = CLIENTS * RATE * DURATION_S;
        let bytes_up = (t.up_per_msg * t.delivered as f64).round() as u64;
        let bytes_down = (t.down_per_msg * t.delivered as f64).round() as u64;
        let rss = IDLE_RSS + t.rss_per_conn * CLIENTS;
        let errors = if t.failure.is_some() {
            json!({"connect": 0, "timeout": 0, "http_status": 0, "protocol": 0, "closed": 20, "io": 0})
        } else {
            json!({"connect": 0, "timeout": 0, "http_status": 0, "protocol": 0, "closed": 0, "io": 0})
        };
        let q = |p: f64| h.value_at_quantile(p);
        let mean = (h.mean() * 10.0).round() / 10.0;
        let connect = [0.21 + i as f64 * 0.01, 0.9, 1.4];
        let first = 4.0 + i as f64;
        summaries.push(json!({
            "technique": t.name, "clients": CLIENTS, "topics": 1, "payload_bytes": PAYLOAD,
            "duration_s": DURATION_S as f64, "published": RATE * DURATION_S, "expected": expected,
            "delivered": t.delivered, "lost": expected - t.delivered, "duplicates": 0,
            "out_of_order": 0, "requests": t.requests, "empty_responses": t.empty,
            "reconnects": t.reconnects, "bytes_up": bytes_up, "bytes_down": bytes_down,
            "server_bytes_up": bytes_up, "server_bytes_down": bytes_down,
            "server_requests": t.requests,
            "latency_us": {"count": h.len(), "min": h.min(), "mean": mean, "p50": q(0.5),
                           "p90": q(0.9), "p99": q(0.99), "p999": q(0.999), "max": h.max()},
            "connect_ms": {"p50": connect[0], "p99": connect[1], "max": connect[2]},
            "first_message_ms": {"p50": first, "p99": first * 3.0, "max": first * 4.0},
            "server_cpu_s": t.cpu_s, "server_rss_bytes": rss, "server_rss_idle_bytes": IDLE_RSS,
            "loadgen_cpu_s": t.cpu_s * 1.5, "loadgen_rss_bytes": 12 * 1024 * 1024 + i as u64 * 4096,
            "errors": errors, "failure": t.failure,
        }));
        let row: Vec<String> = vec![
            t.name.into(),
            CLIENTS.to_string(),
            "1".into(),
            PAYLOAD.to_string(),
            (DURATION_S as f64).to_string(),
            (RATE * DURATION_S).to_string(),
            expected.to_string(),
            t.delivered.to_string(),
            (expected - t.delivered).to_string(),
            "0".into(),
            "0".into(),
            t.requests.to_string(),
            t.empty.to_string(),
            t.reconnects.to_string(),
            bytes_up.to_string(),
            bytes_down.to_string(),
            bytes_up.to_string(),
            bytes_down.to_string(),
            t.requests.to_string(),
            h.len().to_string(),
            h.min().to_string(),
            mean.to_string(),
            q(0.5).to_string(),
            q(0.9).to_string(),
            q(0.99).to_string(),
            q(0.999).to_string(),
            h.max().to_string(),
            connect[0].to_string(),
            connect[1].to_string(),
            first.to_string(),
            t.cpu_s.to_string(),
            rss.to_string(),
            IDLE_RSS.to_string(),
            (t.cpu_s * 1.5).to_string(),
            (12 * 1024 * 1024 + i as u64 * 4096).to_string(),
            if t.failure.is_some() { "20" } else { "0" }.into(),
        ];
        csv.write_record(&row).unwrap();

        // The interval log: one interval covering the steady-state window, tagged.
        let mut buf = Vec::new();
        let mut ser = V2DeflateSerializer::new();
        let mut w = IntervalLogWriterBuilder::new()
            .with_base_time(UNIX_EPOCH + Duration::from_secs(1_795_633_501))
            .begin_log_with(&mut buf, &mut ser)
            .unwrap();
        w.write_histogram(
            &h,
            Duration::from_secs(t_s + 3),
            Duration::from_secs(DURATION_S),
            Tag::new(t.name),
        )
        .unwrap();
        drop(w);
        std::fs::write(dir.join("histograms").join(format!("{}.hlog", t.name)), buf).unwrap();

        // One row per second: ramp-up 1 s, warm-up 2 s, steady 8 s, drain 2 s.
        let per_s = (RATE * CLIENTS) as f64 * t.delivered as f64 / expected as f64;
        let phases = [
            ("ramp-up", 1),
            ("warmup", 2),
            ("steady", DURATION_S),
            ("drain", 2),
        ];
        let stop = if t.failure.is_some() { 7 } else { u64::MAX };
        let mut n = 0;
        for (phase, secs) in phases {
            for _ in 0..secs {
                if n >= stop {
                    break;
                }
                let (conns, delivered) = match phase {
                    "ramp-up" => (CLIENTS as f64, 0.0),
                    "drain" if n == 11 => (CLIENTS as f64, per_s * 0.4),
                    "drain" => (0.0, 0.0),
                    _ => (CLIENTS as f64, per_s * (0.97 + 0.06 * rng.next())),
                };
                let delivered = delivered.round();
                let p99 = if delivered > 0.0 {
                    (q(0.99) as f64 * (0.9 + 0.2 * rng.next()))
                        .round()
                        .to_string()
                } else {
                    String::new()
                };
                let reqs = t.requests as f64 / DURATION_S as f64 * delivered / per_s.max(1.0);
                ts.write_record([
                    t_s.to_string(),
                    t.name.to_string(),
                    phase.to_string(),
                    conns.to_string(),
                    delivered.to_string(),
                    p99,
                    (t.down_per_msg * delivered).round().to_string(),
                    (t.up_per_msg * delivered).round().to_string(),
                    reqs.round().to_string(),
                    format!(
                        "{:.4}",
                        t.cpu_s / DURATION_S as f64 * delivered / per_s.max(1.0)
                    ),
                    if conns > 0.0 { rss } else { IDLE_RSS }.to_string(),
                    format!(
                        "{:.4}",
                        1.5 * t.cpu_s / DURATION_S as f64 * delivered / per_s.max(1.0)
                    ),
                ])
                .unwrap();
                t_s += 1;
                n += 1;
            }
        }
    }
    csv.flush().unwrap();
    ts.flush().unwrap();
    let summary = json!({"manifest": manifest, "techniques": summaries});
    let pretty = |v: &serde_json::Value| serde_json::to_string_pretty(v).unwrap() + "\n";
    std::fs::write(dir.join("manifest.json"), pretty(&manifest)).unwrap();
    std::fs::write(dir.join("summary.json"), pretty(&summary)).unwrap();
}

fn main() {
    let root = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "reports/tests/fixtures".into());
    let root = Path::new(&root);
    write_run(&root.join("run-full"), &techs(), None);
    // A run cut short: two techniques measured, the third stopped when the server died.
    let mut partial: Vec<Tech> = techs().into_iter().take(3).collect();
    partial[2].delivered = 1_120;
    partial[2].failure = Some("the server closed every connection (exit status: signal 9)");
    write_run(
        &root.join("run-partial"),
        &partial,
        Some("the server process died during stream's steady state"),
    );
    println!("fixtures written under {}", root.display());
}

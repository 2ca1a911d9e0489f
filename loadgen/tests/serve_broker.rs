//! End to end: `pushbench serve --broker` (the real binary) over a real redis-server and
//! nats-server started on free loopback ports (skipped, saying so, only where one is not
//! installed; CI installs both). Three processes over each broker give every subscriber, on
//! whichever process, every message with the same ids; two separate instances (two `serve`
//! commands) over one broker agree, and a client resumes on the other with exactly what it
//! missed; a broker URL that does not answer stops `serve` at once with one line, before
//! anything listens.

mod cluster_common;

use std::io::Read as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cluster_common::*;
use server::broker::Kind;
use server::broker::process::BrokerProcess;

/// A broker and its data directory (removed afterwards), or None (with a SKIPPED line).
struct TestBroker {
    process: BrokerProcess,
    dir: std::path::PathBuf,
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        self.process.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn broker(kind: Kind, test: &str) -> Option<TestBroker> {
    let (name, package) = kind.program();
    if !BrokerProcess::available(kind) {
        eprintln!("SKIPPED {test} over {name}: not installed (apt-get install {package})");
        return None;
    }
    let dir = std::env::temp_dir().join(format!(
        "pushbench-serve-broker-{}-{}-{test}",
        std::process::id(),
        kind.name()
    ));
    let process = BrokerProcess::start(kind, &dir).expect("the broker starts");
    Some(TestBroker { process, dir })
}

async fn three_processes_agree(kind: Kind) {
    let Some(b) = broker(kind, "three_processes_agree") else {
        return;
    };
    let url = b.process.url().to_string();
    let cluster = Cluster::start(3, &["--broker", &url]);
    let a = cluster.addr;
    let mut subs = Vec::new();
    for t in ["sse", "stream", "ws"] {
        for _ in 0..PER_TECHNIQUE {
            subs.push((t, Sub::open(a, t, "news", None).await));
        }
    }
    let k = PER_TECHNIQUE as u64;
    let s = stats_until(a, "every subscriber connected", |s| {
        ["sse", "stream", "ws"]
            .iter()
            .all(|t| s["techniques"][t]["connections"] == k)
    })
    .await;
    assert_eq!(s["processes"], 3, "{s}");
    assert_eq!(s["broker"]["processes"], 3, "{s}");
    assert_eq!(s["broker"]["connected_processes"], 3, "{s}");
    assert_eq!(s["broker"]["connected"], true, "{s}");
    assert_eq!(s["broker"]["kind"], kind.name());
    const N: u64 = 20;
    // Publishes land on any of the processes; ids come from the broker's one sequence.
    for i in 1..=N {
        assert_eq!(publish(a, "news", &format!("m{i}")).await, i);
    }
    for (t, sub) in &mut subs {
        let mut got = Vec::new();
        for _ in 0..N {
            got.push(sub.next().await.unwrap_or_else(|| panic!("{t} ended")));
        }
        assert_eq!(got, expected(1, N), "{t} over {}", kind.name());
    }
    // A client resuming on whichever process gets exactly what it missed.
    for t in ["sse", "stream", "ws"] {
        let mut sub = Sub::open(a, t, "news", Some(12)).await;
        let mut got = Vec::new();
        for _ in 12..N {
            got.push(sub.next().await.unwrap());
        }
        assert_eq!(got, expected(13, N), "{t} resumed");
    }
    let s = stats(a).await;
    assert_eq!(s["published"], N, "{s}");
    // Every process received every message from the broker.
    assert_eq!(s["broker"]["received"], 3 * N, "{s}");
    assert_eq!(s["broker"]["gaps"], 0, "{s}");
    for t in ["sse", "stream", "ws"] {
        assert!(
            s["techniques"][t]["delivered"].as_u64().unwrap() >= N * k,
            "{t}: {s}"
        );
    }
    let (st, m) = call(a, "GET", "/metrics", "").await;
    assert_eq!(st, 200);
    let line = format!("pushbench_broker_connected{{broker=\"{}\"}} 1", kind.name());
    assert!(m.contains(&line), "{m}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_over_redis_agree_on_every_id() {
    three_processes_agree(Kind::Redis).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_over_nats_agree_on_every_id() {
    three_processes_agree(Kind::Nats).await;
}

/// Two `serve` commands, each its own port, over one broker: one numbering, and a client
/// moves from one to the other without losing or repeating a message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_topics_and_cursors() {
    for kind in [Kind::Redis, Kind::Nats] {
        let Some(b) = broker(kind, "two_instances") else {
            continue;
        };
        let url = b.process.url().to_string();
        let one = Cluster::start(1, &["--broker", &url]);
        let two = Cluster::start(1, &["--broker", &url]);
        assert_ne!(one.addr, two.addr);
        let mut on_two = Sub::open(two.addr, "sse", "room", None).await;
        for i in 1..=6 {
            let via = if i % 2 == 0 { two.addr } else { one.addr };
            assert_eq!(publish(via, "room", &format!("m{i}")).await, i);
        }
        let mut got = Vec::new();
        for _ in 0..4 {
            got.push(on_two.next().await.unwrap());
        }
        assert_eq!(got, expected(1, 4));
        drop(on_two);
        // The client saw 4 on the second instance and comes back on the first.
        let mut on_one = Sub::open(one.addr, "sse", "room", Some(4)).await;
        assert_eq!(publish(two.addr, "room", "m7").await, 7);
        let mut got = Vec::new();
        for _ in 0..3 {
            got.push(on_one.next().await.unwrap());
        }
        assert_eq!(got, expected(5, 7), "over {}", kind.name());
    }
}

/// `serve --broker` where nothing answers: exit 1 within seconds, one line naming the URL,
/// and no `listening on` line (nothing was started), alone or with `--processes`.
#[test]
fn a_broker_that_does_not_answer_stops_serve_at_once() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    for (scheme, processes) in [("redis", "1"), ("nats", "1"), ("redis", "2")] {
        let url = format!("{scheme}://127.0.0.1:{port}");
        let t0 = Instant::now();
        let mut child = Command::new(env!("CARGO_BIN_EXE_pushbench"))
            .args(["serve", "--listen", "127.0.0.1:0", "--processes", processes])
            .args(["--broker", &url])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut status = None;
        assert!(
            wait_until(Duration::from_secs(15), || {
                status = child.try_wait().unwrap();
                status.is_some()
            }),
            "serve --broker {url} still running"
        );
        let (mut out, mut err) = (String::new(), String::new());
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        assert_eq!(status.unwrap().code(), Some(1), "{err}");
        assert!(t0.elapsed() < Duration::from_secs(12), "{:?}", t0.elapsed());
        assert!(!out.contains("listening"), "{out}");
        let err = err.trim();
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(err.contains(&url), "{err}");
    }
    // A URL that is not a broker's is a usage error.
    let out = Command::new(env!("CARGO_BIN_EXE_pushbench"))
        .args(["serve", "--broker", "http://127.0.0.1:1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("redis://HOST:PORT"), "{err}");
}

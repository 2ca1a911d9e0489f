//! Real brokers for the broker tests: a `redis-server` or `nats-server` started on a free
//! loopback port (skipped, with a line saying so, only where the binary is missing; CI
//! installs both), and server instances sharing topics over it, each on 127.0.0.1:0.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use server::broker::process::BrokerProcess;
use server::broker::{BrokerUrl, Kind};
use server::{ServeArgs, Shared};
use tokio_util::sync::CancellationToken;

use super::{TestServer, args};

/// A broker process and its data directory (removed when dropped, after the process).
pub struct TestBroker {
    pub process: BrokerProcess,
    dir: PathBuf,
}

impl TestBroker {
    pub fn url(&self) -> BrokerUrl {
        self.process.url()
    }

    /// Where the broker keeps its data.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        self.process.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Starts `kind`'s broker, or says the test is skipped (the binary is not installed) and
/// returns None.
pub fn broker_or_skip(kind: Kind, test: &str) -> Option<TestBroker> {
    static N: AtomicU64 = AtomicU64::new(0);
    let (name, package) = kind.program();
    if !BrokerProcess::available(kind) {
        eprintln!("SKIPPED {test}: {name} is not installed (apt-get install {package})");
        return None;
    }
    let dir = std::env::temp_dir().join(format!(
        "pushbench-test-{}-{}-{}",
        name,
        std::process::id(),
        N.fetch_add(1, Relaxed)
    ));
    let process = BrokerProcess::start(kind, &dir).expect("broker starts");
    Some(TestBroker { process, dir })
}

/// Options of an instance over `url` in `namespace`.
pub fn broker_args(url: &BrokerUrl, namespace: &str) -> ServeArgs {
    ServeArgs {
        broker: Some(url.clone()),
        broker_namespace: namespace.to_string(),
        ..args()
    }
}

/// A server instance sharing topics over the broker in `a.broker`, as `pushbench serve
/// --broker` runs one.
pub async fn instance(a: ServeArgs) -> TestServer {
    let shutdown = CancellationToken::new();
    let state = Shared::over_broker(a, None, shutdown.clone())
        .await
        .expect("the broker answers");
    let listener = server::server::bind("127.0.0.1:0".parse().unwrap()).expect("bind");
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(server::run(listener, state.clone(), shutdown.clone()));
    TestServer {
        addr,
        state,
        shutdown,
        task,
    }
}

/// `n` instances over one broker, in one namespace of their own.
pub async fn instances(url: &BrokerUrl, n: usize) -> Vec<TestServer> {
    static N: AtomicU64 = AtomicU64::new(0);
    let ns = format!("t{}x{}", std::process::id(), N.fetch_add(1, Relaxed));
    let mut all = Vec::new();
    for _ in 0..n {
        all.push(instance(broker_args(url, &ns)).await);
    }
    all
}

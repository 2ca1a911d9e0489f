//! Server instances sharing topics over a real nats-server (`serve --broker nats://`):
//! the broker suite (`common::broker_suite`) against it. Skipped, saying so, where
//! nats-server is not installed; CI installs it.

mod common;

use common::brokers::broker_or_skip;
use server::broker::Kind;

crate::broker_suite_tests!(Kind::Nats);

/// A nats-server without JetStream: connecting fails at once, saying to start it with -js.
#[tokio::test]
async fn a_server_without_jetstream_is_refused() {
    let Some(exe) = server::broker::process::find("nats-server") else {
        eprintln!("SKIPPED a_server_without_jetstream_is_refused: nats-server is not installed");
        return;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = std::process::Command::new(exe)
        .args(["-a", "127.0.0.1", "-p", &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("nats-server starts");
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let t0 = std::time::Instant::now();
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(
            t0.elapsed() < std::time::Duration::from_secs(10),
            "nats-server listens"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let url = server::broker::BrokerUrl {
        kind: Kind::Nats,
        host: "127.0.0.1".into(),
        port,
    };
    let a = common::brokers::broker_args(&url, "nojs");
    let t0 = std::time::Instant::now();
    let e = server::broker::Broker::connect(&url, &a.broker_options())
        .await
        .expect_err("no JetStream there");
    let _ = child.kill();
    let _ = child.wait();
    let text = e.to_string();
    assert!(t0.elapsed() < std::time::Duration::from_secs(8));
    assert!(text.contains(&url.url()) && text.contains("-js"), "{text}");
    assert!(!text.contains('\n'), "{text}");
}

/// Two connections racing on one topic: every publish gets its own seq, 1..=n with none
/// missing or twice, and `since` returns them all in order.
#[tokio::test]
async fn racing_publishers_never_share_a_seq() {
    let Some(b) = broker_or_skip(Kind::Nats, "racing_publishers_never_share_a_seq") else {
        return;
    };
    let options = server::broker::Options {
        namespace: format!("race{}", std::process::id()),
        retention: 1000,
        max_payload_bytes: 1024,
    };
    let mut backends = Vec::new();
    for _ in 0..2 {
        let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
        tokio::spawn(async move { while rx.recv().await.is_some() {} });
        backends.push(
            server::broker::connect(&b.url(), &options, tx)
                .await
                .expect("connects"),
        );
    }
    let per = 40u64;
    let mut tasks = Vec::new();
    for (i, be) in backends.iter().enumerate() {
        for j in 0..per / 4 {
            let be = be.clone();
            tasks.push(tokio::spawn(async move {
                let mut seqs = Vec::new();
                for k in 0..4 {
                    let data = format!("b{i}j{j}k{k}");
                    seqs.push((be.publish("x.y", None, &data).await.expect("stored"), data));
                }
                seqs
            }));
        }
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort();
    let seqs: Vec<u64> = all.iter().map(|(s, _)| *s).collect();
    assert_eq!(seqs, (1..=2 * per).collect::<Vec<_>>());
    let r = backends[0].since("x.y", 0).await.expect("since");
    assert_eq!(r.latest, 2 * per);
    let got: Vec<(u64, String)> = r.messages.into_iter().map(|d| (d.seq, d.data)).collect();
    assert_eq!(got, all);
    backends[1].raise("x.y", 100).await.expect("raise");
    assert_eq!(backends[0].since("x.y", 80).await.unwrap().latest, 100);
    assert!(
        backends[0]
            .since("x.y", 80)
            .await
            .unwrap()
            .messages
            .is_empty()
    );
    assert_eq!(
        backends[0]
            .publish("x.y", Some("e"), "after")
            .await
            .unwrap(),
        101
    );
}

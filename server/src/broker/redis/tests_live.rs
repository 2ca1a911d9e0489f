//! The Redis backend against a real redis-server (skipped, saying so, where it is not
//! installed): what the Lua scripts write is what `codec` reads, ids past Lua's exponent
//! notation stay exact, the log keeps the retention, and a malformed message on the channel
//! is skipped without stopping the feed.

use std::time::Duration;

use tokio::sync::mpsc;

use super::*;
use crate::broker::Kind;
use crate::broker::process::BrokerProcess;

async fn next_message(rx: &mut mpsc::Receiver<Feed>) -> Delivery {
    match tokio::time::timeout(Duration::from_secs(5), rx.recv()).await {
        Ok(Some(Feed::Message(d))) => d,
        Ok(Some(other)) => panic!("unexpected {other:?}"),
        Ok(None) => panic!("the feed ended"),
        Err(_) => panic!("no message in time"),
    }
}

#[tokio::test]
async fn scripts_and_codec_agree_on_a_real_redis() {
    if !BrokerProcess::available(Kind::Redis) {
        eprintln!("SKIPPED scripts_and_codec_agree_on_a_real_redis: redis-server is not installed");
        return;
    }
    let dir = std::env::temp_dir().join(format!("pushbench-redis-unit-{}", std::process::id()));
    let mut process = BrokerProcess::start(Kind::Redis, &dir).expect("redis starts");
    let options = Options {
        namespace: "unit".into(),
        retention: 2,
        max_payload_bytes: 1 << 20,
    };
    let (tx, mut rx) = mpsc::channel(16);
    let r = Redis::connect(&process.url(), &options, tx)
        .await
        .expect("connects");

    let big = 1_000_000_000_000_000u64;
    r.raise("t", big).await.expect("raise");
    r.raise("t", 5).await.expect("a lower raise does nothing");
    let data = "line one\nline two é 🦀\n";
    assert_eq!(r.publish("t", Some("ev"), data).await.unwrap(), big + 1);
    let d = next_message(&mut rx).await;
    assert_eq!(
        (d.topic.as_str(), d.seq, d.event.as_deref(), d.data.as_str()),
        ("t", big + 1, Some("ev"), data)
    );

    // Garbage on the channel is skipped; the next message still arrives.
    let mut conn = r
        .commands
        .client
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let _: i64 = ::redis::cmd("PUBLISH")
        .arg("unit:messages")
        .arg(b"\xff not a message".as_slice())
        .query_async(&mut conn)
        .await
        .unwrap();
    for i in 2..=4 {
        assert_eq!(
            r.publish("t", None, &format!("m{i}")).await.unwrap(),
            big + i
        );
        assert_eq!(next_message(&mut rx).await.seq, big + i);
    }

    let all = r.since("t", 0).await.unwrap();
    let ids: Vec<u64> = all.messages.iter().map(|m| m.seq).collect();
    assert_eq!(
        (ids, all.latest),
        (vec![big + 3, big + 4], big + 4),
        "retention 2"
    );
    let after = r.since("t", big + 3).await.unwrap();
    assert_eq!(after.messages.len(), 1);
    assert_eq!(
        (
            after.messages[0].data.as_str(),
            after.messages[0].event.clone()
        ),
        ("m4", None)
    );
    let none = r.since("nothing", 0).await.unwrap();
    assert_eq!(none, Retained::default());

    drop(r);
    process.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

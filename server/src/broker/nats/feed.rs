//! The NATS backend's subscription and connection watch: every message the namespace's stream
//! stores (republished to `NS.r.>`) goes into the instance's feed as [`Feed::Message`]
//! (markers excepted); the client's connection events become [`Feed::Lost`] (once per loss)
//! and [`Feed::Connected`] (once the stream is ensured again on the new connection).

use std::sync::Arc;
use std::time::Duration;

use async_nats::{Client, Event, Subscriber};
use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::{Inner, codec};
use crate::broker::{BrokerError, Delivery, Feed};

/// Subscribes to the republished subjects and starts the tasks that feed `feed`.
pub(super) async fn start(
    inner: Arc<Inner>,
    client: Client,
    feed: mpsc::Sender<Feed>,
    events: mpsc::UnboundedReceiver<Event>,
) -> Result<(), BrokerError> {
    let sub = client
        .subscribe(codec::republished(&inner.ns))
        .await
        .map_err(|e| inner.protocol(format!("subscribing: {e}")))?;
    tokio::spawn(forward(inner.clone(), sub, feed.clone()));
    tokio::spawn(watch(inner, client, feed, events));
    Ok(())
}

/// Forwards every stored message into the feed, until the feed is closed.
async fn forward(inner: Arc<Inner>, mut sub: Subscriber, feed: mpsc::Sender<Feed>) {
    while let Some(m) = sub.next().await {
        let Some(topic) = codec::topic_of(&inner.ns, m.subject.as_str()) else {
            continue;
        };
        let d = match codec::decode(m.headers.as_ref(), &m.payload) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("pushbench serve: skipping a message on {}: {e}", m.subject);
                continue;
            }
        };
        if let Some(stream_seq) = m
            .headers
            .as_ref()
            .and_then(|h| codec::number(h, codec::STREAM_SEQ))
        {
            inner.saw(&topic, d.seq, stream_seq);
        }
        if d.marker {
            continue;
        }
        let delivery = Delivery {
            topic,
            seq: d.seq,
            event: d.event,
            data: d.data,
        };
        if feed.send(Feed::Message(delivery)).await.is_err() {
            return;
        }
    }
}

/// Turns the client's connection events into the feed's `Lost` / `Connected`, until the feed
/// is closed.
async fn watch(
    inner: Arc<Inner>,
    client: Client,
    feed: mpsc::Sender<Feed>,
    mut events: mpsc::UnboundedReceiver<Event>,
) {
    let mut lost = false;
    loop {
        let e = tokio::select! {
            _ = feed.closed() => return,
            e = events.recv() => e,
        };
        let Some(e) = e else { return };
        match e {
            Event::Disconnected | Event::Closed => {
                inner.cache().clear();
                if !lost {
                    lost = true;
                    if feed.send(Feed::Lost(e.to_string())).await.is_err() {
                        return;
                    }
                }
            }
            Event::Connected if lost => {
                // The broker may have come back empty: the stream first.
                if !ensure(&inner, &client, &feed).await {
                    continue;
                }
                inner.cache().clear();
                lost = false;
                if feed.send(Feed::Connected).await.is_err() {
                    return;
                }
            }
            Event::SlowConsumer(_) => {
                eprintln!("pushbench serve: NATS cut this subscriber short (slow consumer)");
            }
            _ => {}
        }
    }
}

/// Ensures the stream on a new connection, trying again while it lasts; false when the
/// connection was lost again first (or the feed closed).
async fn ensure(inner: &Inner, client: &Client, feed: &mpsc::Sender<Feed>) -> bool {
    loop {
        match inner.ensure_stream().await {
            Ok(()) => return true,
            Err(err) => eprintln!("pushbench serve: after reconnecting to NATS: {err}"),
        }
        let down = matches!(
            client.connection_state(),
            async_nats::connection::State::Disconnected
        );
        if down || feed.is_closed() {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

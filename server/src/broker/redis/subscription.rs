//! The Redis backend's subscription: a task with a pub/sub connection of its own, SUBSCRIBEd
//! to the namespace's channel, forwarding every message into the feed (waiting when the feed
//! is full: it is bounded on purpose). When the connection fails (it closes, or a PING every
//! few seconds goes unanswered) it sends [`Feed::Lost`] once, drops the command connection
//! too, reconnects with a backoff (100 ms doubling to 1 s, until the feed's receiver is gone),
//! resubscribes and sends [`Feed::Connected`].

use std::sync::Arc;
use std::time::Duration;

use ::redis::aio::{PubSubSink, PubSubStream};
use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::COMMAND_TIMEOUT;
use super::codec;
use super::commands::{Commands, error};
use crate::broker::{BrokerError, Feed};

/// How often an idle subscription checks its connection.
const KEEPALIVE: Duration = Duration::from_secs(5);
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// A live subscription.
pub struct Subscription {
    sink: PubSubSink,
    stream: PubSubStream,
}

/// Opens a pub/sub connection and subscribes to `channel`, within the command timeout.
pub async fn subscribe(commands: &Commands, channel: &str) -> Result<Subscription, BrokerError> {
    let url = commands.url.clone();
    let open = async {
        let pubsub = commands
            .client
            .get_async_pubsub()
            .await
            .map_err(|e| error(&url, &e))?;
        let (mut sink, stream) = pubsub.split();
        sink.subscribe(channel).await.map_err(|e| error(&url, &e))?;
        Ok(Subscription { sink, stream })
    };
    tokio::time::timeout(COMMAND_TIMEOUT, open)
        .await
        .map_err(|_| BrokerError::Timeout {
            url: url.clone(),
            secs: COMMAND_TIMEOUT.as_secs(),
        })?
}

/// Forwards messages until the feed's receiver is gone or `stop`; survives losses.
pub async fn run(
    mut sub: Subscription,
    commands: Arc<Commands>,
    channel: String,
    feed: mpsc::Sender<Feed>,
    stop: CancellationToken,
) {
    loop {
        let why = tokio::select! {
            _ = stop.cancelled() => return,
            _ = feed.closed() => return,
            why = forward(&mut sub, &channel, &feed) => match why {
                Some(why) => why,
                None => return,
            },
        };
        commands.reset().await;
        if feed.send(Feed::Lost(why)).await.is_err() {
            return;
        }
        let mut backoff = BACKOFF_MIN;
        sub = loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = feed.closed() => return,
                _ = tokio::time::sleep(backoff) => {}
            }
            match subscribe(&commands, &channel).await {
                Ok(s) => break s,
                Err(_) => backoff = (backoff * 2).min(BACKOFF_MAX),
            }
        };
        if feed.send(Feed::Connected).await.is_err() {
            return;
        }
    }
}

/// Forwards messages until the connection fails (Some(why)) or the feed is gone (None).
async fn forward(
    sub: &mut Subscription,
    channel: &str,
    feed: &mpsc::Sender<Feed>,
) -> Option<String> {
    let mut keepalive = tokio::time::interval(KEEPALIVE);
    keepalive.tick().await;
    loop {
        tokio::select! {
            msg = sub.stream.next() => {
                let Some(msg) = msg else {
                    return Some("the subscription's connection closed".into());
                };
                if msg.get_channel_name() != channel {
                    continue;
                }
                match codec::decode(msg.get_payload_bytes()) {
                    Ok(d) => {
                        if feed.send(Feed::Message(d)).await.is_err() {
                            return None;
                        }
                    }
                    Err(e) => eprintln!("pushbench serve: a bad message on redis {channel}: {e}"),
                }
            }
            _ = keepalive.tick() => {
                match tokio::time::timeout(COMMAND_TIMEOUT, sub.sink.ping::<::redis::Value>()).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => return Some(super::commands::one_line(&e.to_string())),
                    Err(_) => return Some("the subscription's connection does not answer PING".into()),
                }
            }
        }
    }
}

//! The Redis backend of `serve --broker redis://HOST:PORT`.
//!
//! Keys, under the namespace NS: `NS:seq:TOPIC` (the topic's counter), `NS:log:TOPIC` (its
//! newest `--retention` messages, each with its seq, see `codec`), and one pub/sub channel,
//! `NS:messages`, for every topic. A publish is one Lua script (`scripts`): INCR, RPUSH +
//! LTRIM, PUBLISH, atomically, so the channel's order is the seq order whichever instance
//! publishes. Commands go over one multiplexed connection (`commands`), made again after a
//! loss and bounded by a timeout; the subscription has a connection and a task of its own
//! (`subscription`) that reports losses and reconnects forever.

mod codec;
mod commands;
mod scripts;
mod subscription;
#[cfg(test)]
mod tests_live;

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::sync::mpsc;

use super::{Backend, BrokerError, BrokerUrl, Delivery, Feed, Options, Retained};
use commands::Commands;

/// How long any one command (or connecting) may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);

/// A link to Redis: the command connection and the subscription task.
#[derive(Debug)]
pub struct Redis {
    commands: Arc<Commands>,
    namespace: String,
    retention: u64,
    /// Stops the subscription task when the backend is dropped.
    _stop: tokio_util::sync::DropGuard,
}

impl Redis {
    /// Connects both connections (each must answer as Redis) and starts the subscription.
    pub async fn connect(
        url: &BrokerUrl,
        options: &Options,
        feed: mpsc::Sender<Feed>,
    ) -> Result<Redis, BrokerError> {
        let commands = Arc::new(Commands::new(url)?);
        commands.ping().await?;
        let channel = format!("{}:messages", options.namespace);
        let sub = subscription::subscribe(&commands, &channel).await?;
        let stop = tokio_util::sync::CancellationToken::new();
        tokio::spawn(subscription::run(
            sub,
            commands.clone(),
            channel,
            feed,
            stop.clone(),
        ));
        Ok(Redis {
            commands,
            namespace: options.namespace.clone(),
            retention: options.retention,
            _stop: stop.drop_guard(),
        })
    }

    fn key(&self, what: &str, topic: &str) -> String {
        format!("{}:{what}:{topic}", self.namespace)
    }
}

impl Backend for Redis {
    fn publish<'a>(
        &'a self,
        topic: &'a str,
        event: Option<&'a str>,
        data: &'a str,
    ) -> BoxFuture<'a, Result<u64, BrokerError>> {
        Box::pin(async move {
            let channel = format!("{}:messages", self.namespace);
            let (counter, log) = (self.key("seq", topic), self.key("log", topic));
            let (counter, log, channel) = (&counter, &log, &channel);
            // Not retried: a publish whose answer was lost may have been applied.
            self.commands
                .run(false, |mut c, s| async move {
                    s.publish
                        .key(counter)
                        .key(log)
                        .arg(channel)
                        .arg(topic)
                        .arg(event.unwrap_or(""))
                        .arg(data)
                        .arg(self.retention)
                        .invoke_async::<u64>(&mut c)
                        .await
                })
                .await
        })
    }

    fn since<'a>(
        &'a self,
        topic: &'a str,
        after: u64,
    ) -> BoxFuture<'a, Result<Retained, BrokerError>> {
        Box::pin(async move {
            let (counter, log) = (self.key("seq", topic), self.key("log", topic));
            let (counter, log) = (&counter, &log);
            let (latest, entries) = self
                .commands
                .run(true, |mut c, s| async move {
                    s.since
                        .key(counter)
                        .key(log)
                        .arg(after)
                        .invoke_async::<(u64, Vec<Vec<u8>>)>(&mut c)
                        .await
                })
                .await?;
            Ok(Retained {
                messages: retained(topic, after, &entries),
                latest,
            })
        })
    }

    fn raise<'a>(&'a self, topic: &'a str, seq: u64) -> BoxFuture<'a, Result<(), BrokerError>> {
        Box::pin(async move {
            let counter = &self.key("seq", topic);
            self.commands
                .run(true, |mut c, s| async move {
                    s.raise
                        .key(counter)
                        .arg(seq)
                        .invoke_async::<i64>(&mut c)
                        .await
                })
                .await?;
            Ok(())
        })
    }
}

/// The log's entries of `topic` above `after`, oldest first; a bad entry is skipped with a
/// line on stderr.
fn retained(topic: &str, after: u64, entries: &[Vec<u8>]) -> Vec<Delivery> {
    let mut out: Vec<Delivery> = Vec::with_capacity(entries.len());
    for e in entries {
        match codec::decode(e) {
            Ok(d) if d.topic == topic && d.seq > after => {
                if out.last().is_none_or(|l| l.seq < d.seq) {
                    out.push(d);
                }
            }
            Ok(_) => {}
            Err(e) => eprintln!("pushbench serve: a bad entry in the log of {topic} on redis: {e}"),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retained_keeps_good_entries_above_the_cursor_in_order() {
        let m = |seq: u64, topic: &str| {
            codec::encode(&Delivery {
                topic: topic.into(),
                seq,
                event: None,
                data: format!("m{seq}"),
            })
        };
        let entries = vec![
            m(3, "t"),
            m(4, "t"),
            b"garbage".to_vec(),
            m(5, "other"),
            m(6, "t"),
            m(6, "t"),
            m(2, "t"),
            m(8, "t"),
        ];
        let ids: Vec<u64> = retained("t", 3, &entries).iter().map(|d| d.seq).collect();
        assert_eq!(ids, vec![4, 6, 8]);
    }
}

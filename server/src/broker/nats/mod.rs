//! The NATS backend (`--broker nats://HOST:PORT`): JetStream keeps the topics, one stream per
//! namespace.
//!
//! - The stream `NS` (see [`codec::stream_name`]) holds the subjects `NS.t.>`, one subject per
//!   topic ([`codec::subject`]), at most `--retention` messages per subject (older ones are
//!   discarded), in files. It is created or updated at connect and after every reconnect (a
//!   broker may come back empty). It republishes every message it stores to `NS.r.>`.
//! - A topic's seq is the `Pb-Seq` header of its messages. A publish takes the subject's last
//!   message's seq plus one, with `Nats-Expected-Last-Subject-Sequence` set to that message's
//!   stream sequence, so of two instances racing for a seq only one is stored; the other
//!   reads the subject's last message and tries again ([`ops`]).
//! - The instances subscribe (core NATS) to the republished subjects, not to `NS.t.>`: a core
//!   subscriber of `NS.t.>` would also receive the publishes the stream rejected ([`feed`]).
//! - `raise` stores a marker (`Pb-Marker: 1`) carrying the seq to go on from; markers are never
//!   delivered nor returned by `since`.

mod codec;
mod feed;
mod ops;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::{self, stream};
use futures_util::future::BoxFuture;
use tokio::sync::mpsc;

use super::{Backend, BrokerError, BrokerUrl, Feed, Options, Retained};

/// How long the first connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(4);
/// How long a request (publish ack, stream management, message get) may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// Room for the headers beside the largest payload.
const HEADER_ROOM: usize = 1024;

/// A connection to NATS.
pub struct Nats {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Nats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Nats")
            .field("url", &self.inner.url)
            .field("namespace", &self.inner.ns)
            .finish()
    }
}

/// What the backend's methods and its tasks share.
struct Inner {
    url: String,
    ns: String,
    stream: String,
    options: Options,
    js: jetstream::Context,
    /// Per topic: its last seq and that message's stream sequence, as last seen (a hint: the
    /// server checks it on every publish).
    cache: Mutex<HashMap<String, (u64, u64)>>,
}

impl Inner {
    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u64, u64)>> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records that `topic`'s message `seq` has stream sequence `stream_seq`, unless a newer
    /// one is known.
    fn saw(&self, topic: &str, seq: u64, stream_seq: u64) {
        let mut c = self.cache();
        match c.get(topic) {
            Some(&(_, s)) if s >= stream_seq => {}
            _ => {
                c.insert(topic.to_string(), (seq, stream_seq));
            }
        }
    }

    fn protocol(&self, why: impl std::fmt::Display) -> BrokerError {
        BrokerError::Protocol {
            url: self.url.clone(),
            why: one_line(why),
        }
    }

    fn timeout(&self) -> BrokerError {
        BrokerError::Timeout {
            url: self.url.clone(),
            secs: REQUEST_TIMEOUT.as_secs(),
        }
    }

    /// Creates the namespace's stream, or updates it to this configuration.
    async fn ensure_stream(&self) -> Result<(), BrokerError> {
        let config = stream::Config {
            name: self.stream.clone(),
            subjects: vec![codec::stream_subjects(&self.ns)],
            storage: stream::StorageType::File,
            max_messages_per_subject: i64::try_from(self.options.retention.max(1))
                .unwrap_or(i64::MAX),
            discard: stream::DiscardPolicy::Old,
            max_message_size: i32::try_from(self.options.max_payload_bytes + HEADER_ROOM)
                .unwrap_or(i32::MAX),
            republish: Some(stream::Republish {
                source: codec::stream_subjects(&self.ns),
                destination: codec::republished(&self.ns),
                headers_only: false,
            }),
            ..Default::default()
        };
        match tokio::time::timeout(REQUEST_TIMEOUT, self.js.create_or_update_stream(config)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => {
                let text = e.to_string();
                if text.contains("no responders")
                    || text.contains("not enabled")
                    || text.contains("unavailable")
                {
                    Err(self.protocol(
                        "JetStream is not enabled on this server (start nats-server with -js)",
                    ))
                } else {
                    Err(self.protocol(format!("creating stream {}: {text}", self.stream)))
                }
            }
            Err(_) => Err(self.timeout()),
        }
    }
}

/// `e` on one line.
fn one_line(e: impl std::fmt::Display) -> String {
    e.to_string().replace(['\r', '\n'], " ")
}

impl Nats {
    /// Connects (once, no retry), makes sure the stream exists and starts the subscription.
    pub async fn connect(
        url: &BrokerUrl,
        options: &Options,
        feed: mpsc::Sender<Feed>,
    ) -> Result<Nats, BrokerError> {
        let u = url.url();
        let (events, events_rx) = mpsc::unbounded_channel();
        let connecting = async_nats::ConnectOptions::new()
            .connection_timeout(Duration::from_secs(3))
            .request_timeout(Some(REQUEST_TIMEOUT))
            .max_reconnects(None)
            .reconnect_delay_callback(|attempts| {
                Duration::from_millis(100u64.saturating_mul(1 << attempts.min(4)))
                    .min(Duration::from_secs(1))
            })
            .event_callback(move |e| {
                let events = events.clone();
                async move {
                    let _ = events.send(e);
                }
            })
            .connect(u.as_str());
        let client = match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                return Err(BrokerError::Unreachable {
                    url: u,
                    why: one_line(e),
                });
            }
            Err(_) => {
                return Err(BrokerError::Unreachable {
                    url: u,
                    why: format!(
                        "no NATS server answered within {} s",
                        CONNECT_TIMEOUT.as_secs()
                    ),
                });
            }
        };
        let mut js = jetstream::new(client.clone());
        js.set_timeout(REQUEST_TIMEOUT);
        let inner = Arc::new(Inner {
            url: u,
            ns: options.namespace.clone(),
            stream: codec::stream_name(&options.namespace),
            options: options.clone(),
            js,
            cache: Mutex::new(HashMap::new()),
        });
        inner.ensure_stream().await?;
        feed::start(inner.clone(), client, feed, events_rx).await?;
        Ok(Nats { inner })
    }
}

impl Backend for Nats {
    fn publish<'a>(
        &'a self,
        topic: &'a str,
        event: Option<&'a str>,
        data: &'a str,
    ) -> BoxFuture<'a, Result<u64, BrokerError>> {
        Box::pin(self.inner.publish(topic, event, data))
    }

    fn since<'a>(
        &'a self,
        topic: &'a str,
        after: u64,
    ) -> BoxFuture<'a, Result<Retained, BrokerError>> {
        Box::pin(self.inner.since(topic, after))
    }

    fn raise<'a>(&'a self, topic: &'a str, seq: u64) -> BoxFuture<'a, Result<(), BrokerError>> {
        Box::pin(self.inner.raise(topic, seq))
    }
}

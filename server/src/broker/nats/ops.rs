//! The NATS backend's operations: publishing with optimistic concurrency on the subject's
//! last stream sequence, raising a topic with a marker, and reading back what a subject
//! retains.

use std::time::{Duration, Instant};

use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::stream::LastRawMessageErrorKind;
use bytes::Bytes;

use super::{Inner, REQUEST_TIMEOUT, codec};
use crate::broker::{BrokerError, Delivery, Retained};

/// How many times a publish is tried when other instances keep winning the race: with the
/// backoff (up to ~25 ms a try) about 4 s at most, so a topic contended by many publishers on
/// a busy machine still gets through (the racing test: 20 at once), and a publish still ends.
const TRIES: u32 = 200;
/// How long `since` may take in all.
const SINCE_TIMEOUT: Duration = Duration::from_secs(5);

/// What the subject's last message says: its topic seq and its stream sequence.
type Last = (u64, u64);

/// How one attempt at storing a message ended.
enum Stored {
    /// Stored.
    Done,
    /// Another message came first: the cache was stale.
    Raced,
}

impl Inner {
    /// The subject's last message, markers included: (topic seq, stream seq); (0, 0) if none.
    async fn last(&self, topic: &str) -> Result<Last, BrokerError> {
        let subject = codec::subject(&self.ns, topic);
        let stream = self
            .js
            .get_stream_no_info(&self.stream)
            .await
            .map_err(|e| self.protocol(e))?;
        let got = tokio::time::timeout(
            REQUEST_TIMEOUT,
            stream.get_last_raw_message_by_subject(&subject),
        )
        .await
        .map_err(|_| self.timeout())?;
        match got {
            Ok(m) => {
                let d = codec::decode(Some(&m.headers), &m.payload)
                    .map_err(|e| self.protocol(format!("last message of {subject}: {e}")))?;
                self.saw(topic, d.seq, m.sequence);
                Ok((d.seq, m.sequence))
            }
            Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => Ok((0, 0)),
            Err(e) => Err(self.protocol(format!("reading the last message of {subject}: {e}"))),
        }
    }

    /// Tries once to store a message after the subject's message of stream sequence
    /// `expected_last`.
    async fn store(
        &self,
        topic: &str,
        seq: u64,
        event: Option<&str>,
        marker: bool,
        expected_last: u64,
        data: &str,
    ) -> Result<Stored, BrokerError> {
        let subject = codec::subject(&self.ns, topic);
        let headers = codec::headers(seq, event, marker, expected_last);
        let payload = Bytes::copy_from_slice(data.as_bytes());
        let acked = tokio::time::timeout(REQUEST_TIMEOUT, async {
            self.js
                .publish_with_headers(subject, headers, payload)
                .await?
                .await
        })
        .await
        .map_err(|_| self.timeout())?;
        match acked {
            Ok(ack) => {
                self.saw(topic, seq, ack.sequence);
                Ok(Stored::Done)
            }
            Err(e) if e.kind() == PublishErrorKind::WrongLastSequence => {
                self.cache().remove(topic);
                Ok(Stored::Raced)
            }
            Err(e) if e.kind() == PublishErrorKind::TimedOut => Err(self.timeout()),
            Err(e) if e.kind() == PublishErrorKind::BrokenPipe => Err(BrokerError::Unreachable {
                url: self.url.clone(),
                why: super::one_line(e),
            }),
            Err(e) => Err(self.protocol(format!("publishing to {topic}: {e}"))),
        }
    }

    /// See [`Backend::publish`](crate::broker::Backend::publish).
    pub(super) async fn publish(
        &self,
        topic: &str,
        event: Option<&str>,
        data: &str,
    ) -> Result<u64, BrokerError> {
        for attempt in 0..TRIES {
            let cached = self.cache().get(topic).copied();
            let (seq, stream_seq) = match cached {
                Some(l) => l,
                None => self.last(topic).await?,
            };
            let next = seq + 1;
            match self
                .store(topic, next, event, false, stream_seq, data)
                .await?
            {
                Stored::Done => return Ok(next),
                Stored::Raced => backoff(attempt).await,
            }
        }
        Err(self.protocol(format!(
            "publishing to {topic}: other publishers won the race {TRIES} times"
        )))
    }

    /// See [`Backend::raise`](crate::broker::Backend::raise).
    pub(super) async fn raise(&self, topic: &str, seq: u64) -> Result<(), BrokerError> {
        for attempt in 0..TRIES {
            let (last, stream_seq) = self.last(topic).await?;
            if last >= seq {
                return Ok(());
            }
            match self.store(topic, seq, None, true, stream_seq, "").await? {
                Stored::Done => return Ok(()),
                Stored::Raced => backoff(attempt).await,
            }
        }
        Err(self.protocol(format!(
            "raising {topic}: other publishers won the race {TRIES} times"
        )))
    }

    /// See [`Backend::since`](crate::broker::Backend::since): reads the subject's retained
    /// messages one by one, oldest first.
    pub(super) async fn since(&self, topic: &str, after: u64) -> Result<Retained, BrokerError> {
        let subject = codec::subject(&self.ns, topic);
        let stream = self
            .js
            .get_stream_no_info(&self.stream)
            .await
            .map_err(|e| self.protocol(e))?;
        let deadline = Instant::now() + SINCE_TIMEOUT;
        let mut out = Retained::default();
        let mut from = 1u64;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let got = tokio::time::timeout(
                left.min(REQUEST_TIMEOUT),
                stream
                    .raw_message_builder()
                    .next_by_subject(subject.clone())
                    .sequence(from)
                    .send(),
            )
            .await
            .map_err(|_| self.timeout())?;
            let m = match got {
                Ok(m) => m,
                Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => break,
                Err(e) => return Err(self.protocol(format!("reading {subject}: {e}"))),
            };
            from = m.sequence + 1;
            let d = match codec::decode(Some(&m.headers), &m.payload) {
                Ok(d) => d,
                Err(e) => {
                    eprintln!(
                        "pushbench serve: skipping message {} of {subject}: {e}",
                        m.sequence
                    );
                    continue;
                }
            };
            out.latest = out.latest.max(d.seq);
            self.saw(topic, d.seq, m.sequence);
            if !d.marker && d.seq > after {
                out.messages.push(Delivery {
                    topic: topic.to_string(),
                    seq: d.seq,
                    event: d.event,
                    data: d.data,
                });
            }
        }
        Ok(out)
    }
}

/// A short, jittered wait before trying again.
async fn backoff(attempt: u32) {
    let nanos = u64::from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos()),
    );
    let ms = 1 + u64::from(attempt.min(10)) * 2 + nanos % 5;
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

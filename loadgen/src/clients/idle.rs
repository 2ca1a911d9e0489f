//! The read timeout of a long-lived connection, armed once and moved lazily.
//!
//! Wrapping every read in `tokio::time::timeout` inserts a timer into the runtime's wheel
//! before the read waits and removes it after: twice per delivered message on a stream that
//! delivers one message per read (about 5% of the load generator's CPU at 10,000 SSE clients).
//! [`IdleTimer`] keeps one sleep per connection, notes the time of each read
//! ([`IdleTimer::touch`], a clock reading), and only when the sleep fires checks whether the
//! connection really was silent for the whole limit; if not it re-arms for the remaining time.
//! So the timer is touched about once per limit (seconds), not once per message, and a silent
//! connection still fails within the limit. The sleep is polled only when it fired ([`Lazy`]).
//!
//! [`Stop`] is the run's shutdown, polled the same way.

use std::pin::Pin;
use std::time::Duration;

use tokio::time::{Instant, Sleep};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use server::lazy::Lazy;

/// One connection's read timeout.
#[derive(Debug)]
pub struct IdleTimer {
    sleep: Lazy<Pin<Box<Sleep>>>,
    last: Instant,
    limit: Duration,
}

impl IdleTimer {
    /// A timer that fires once nothing was read for `limit`, counted from now.
    pub fn new(limit: Duration) -> Self {
        let now = Instant::now();
        IdleTimer {
            sleep: Lazy::new(Box::pin(tokio::time::sleep_until(now + limit))),
            last: now,
            limit,
        }
    }

    /// Something was read: the limit counts from now.
    pub fn touch(&mut self) {
        self.last = Instant::now();
    }

    /// Resolves once nothing was read for the limit. Cancel-safe: dropping it loses nothing.
    pub async fn expired(&mut self) {
        loop {
            (&mut self.sleep).await;
            let due = self.last + self.limit;
            if Instant::now() >= due {
                // Stays expired (polled again, the elapsed sleep is ready at once).
                self.sleep.rearm();
                return;
            }
            self.sleep.get_mut().as_mut().reset(due);
            self.sleep.rearm();
        }
    }
}

/// The run's shutdown as a client waits for it beside its socket.
#[derive(Debug)]
pub struct Stop(Lazy<Pin<Box<WaitForCancellationFutureOwned>>>);

impl Stop {
    pub fn new(token: &CancellationToken) -> Self {
        Stop(Lazy::new(Box::pin(token.clone().cancelled_owned())))
    }
}

impl std::future::Future for Stop {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        Pin::new(&mut self.0).poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn fires_only_after_a_whole_silent_limit() {
        let start = Instant::now();
        let mut t = IdleTimer::new(Duration::from_secs(10));
        // Reads at 4 s and 9 s: the deadline moves to 19 s.
        for at in [4, 9] {
            tokio::select! {
                _ = t.expired() => panic!("fired at {:?}", start.elapsed()),
                _ = tokio::time::sleep_until(start + Duration::from_secs(at)) => t.touch(),
            }
        }
        t.expired().await;
        assert_eq!(start.elapsed(), Duration::from_secs(19));
        // Once expired it stays expired until touched.
        t.expired().await;
        assert_eq!(start.elapsed(), Duration::from_secs(19));
        t.touch();
        t.expired().await;
        assert_eq!(start.elapsed(), Duration::from_secs(29));
    }
}

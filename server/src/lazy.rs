//! Polling a rare event only after it woke the task.
//!
//! A subscriber's task (the server's connection, the load generator's client) waits on its
//! messages and on rare events: the heartbeat tick, a read timeout, shutdown. `tokio::select!`
//! polls every branch each time the task wakes, and the task wakes for every message, so each
//! message also paid for polling a timer, a cancellation token or a watch channel: a lock
//! (tokio's `Notified` takes its list's lock when polled while waiting, and a watch channel's
//! list is shared by every connection) and a look at memory no other message touches. In the
//! load generator at 10,000 SSE clients that was about 7% of its CPU. [`Lazy`] polls its
//! future with a waker of its own that counts its wakeups, and after the first poll polls it
//! again only when that count moved: a message costs one atomic load.
//!
//! The task's waker sits in a slot that a wakeup reads but never empties, and a poll replaces
//! it only when it comes with a waker that would wake another task (`Waker::will_wake`; e.g. a
//! first poll by `now_or_never`, whose waker wakes nothing, must not leave the task deaf to the
//! event). So a message costs a compare of two pointers and one atomic load; the slot's lock is
//! taken only by a wakeup of the rare event and when the waker changes. (An `AtomicWaker`
//! registered on every poll cost 5.5% of the load generator at 10,000 SSE clients; one
//! registered only on a changed waker could go deaf, since its wake empties it.)

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

/// Counts the inner future's wakeups and passes them on to the task.
#[derive(Debug, Default)]
struct Wakes {
    count: AtomicU64,
    /// The task's waker, as last registered; a wakeup wakes it and leaves it in place.
    task: Mutex<Option<Waker>>,
}

impl Wake for Wakes {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        // Counted before the slot is read: a poll that registered its waker (under the lock)
        // before this read is woken; one that registers after it sees the count moved.
        self.count.fetch_add(1, Ordering::Release);
        let task = self.task.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(w) = task.as_ref() {
            w.wake_by_ref();
        }
    }
}

/// A future polled only when it asked to be (see the module doc).
pub struct Lazy<F> {
    inner: F,
    wakes: Arc<Wakes>,
    /// The wakeup count at the last poll (None: poll next time whatever the count).
    seen: Option<u64>,
    /// The waker last put in the slot (the task's own copy, compared without the lock).
    registered: Option<Waker>,
}

impl<F> std::fmt::Debug for Lazy<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lazy").field("seen", &self.seen).finish()
    }
}

impl<F> Lazy<F> {
    pub fn new(inner: F) -> Self {
        Lazy {
            inner,
            wakes: Arc::default(),
            seen: None,
            registered: None,
        }
    }

    /// The inner future, e.g. to reset a timer; call [`Lazy::rearm`] after changing it.
    pub fn get_mut(&mut self) -> &mut F {
        &mut self.inner
    }

    /// The next poll polls the inner future whatever the count.
    pub fn rearm(&mut self) {
        self.seen = None;
    }
}

impl<F: Future + Unpin> Future for Lazy<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        // The slot holds this task's waker before the count is read: a wakeup counted after
        // the read wakes this task.
        let waker = cx.waker();
        if !this.registered.as_ref().is_some_and(|r| r.will_wake(waker)) {
            let mut task = this
                .wakes
                .task
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            *task = Some(waker.clone());
            drop(task);
            this.registered = Some(waker.clone());
        }
        let count = this.wakes.count.load(Ordering::Acquire);
        if this.seen == Some(count) {
            return Poll::Pending;
        }
        this.seen = Some(count);
        let waker = Waker::from(Arc::clone(&this.wakes));
        Pin::new(&mut this.inner).poll(&mut Context::from_waker(&waker))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    /// A future that counts its polls and is ready once `ready` is set.
    struct Probe {
        polls: Arc<AtomicUsize>,
        ready: Arc<std::sync::atomic::AtomicBool>,
        waker: Arc<std::sync::Mutex<Option<Waker>>>,
    }

    impl Future for Probe {
        type Output = ();
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            self.polls.fetch_add(1, Ordering::SeqCst);
            if self.ready.load(Ordering::SeqCst) {
                return Poll::Ready(());
            }
            *self.waker.lock().unwrap() = Some(cx.waker().clone());
            Poll::Pending
        }
    }

    #[tokio::test]
    async fn polls_the_inner_future_only_after_it_woke() {
        let polls = Arc::new(AtomicUsize::new(0));
        let ready = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let waker = Arc::new(std::sync::Mutex::new(None::<Waker>));
        let mut lazy = Lazy::new(Probe {
            polls: polls.clone(),
            ready: ready.clone(),
            waker: waker.clone(),
        });
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
        // Wake the task 5 times through another source: the probe is polled once.
        for _ in 0..5 {
            tx.send(()).unwrap();
        }
        let mut other = 0;
        let done = loop {
            tokio::select! {
                biased;
                _ = &mut lazy => break true,
                Some(()) = rx.recv() => {
                    other += 1;
                    if other == 5 {
                        break false;
                    }
                }
            }
        };
        assert!(!done);
        assert_eq!(polls.load(Ordering::SeqCst), 1, "polled at first only");
        // Now its own waker fires: it is polled again and is ready.
        ready.store(true, Ordering::SeqCst);
        let w = waker.lock().unwrap().take().expect("registered");
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(10)).await;
            w.wake();
        });
        tokio::time::timeout(Duration::from_secs(5), &mut lazy)
            .await
            .expect("woken");
        assert_eq!(polls.load(Ordering::SeqCst), 2);
    }

    /// The first poll comes with a waker that wakes nothing (`now_or_never`, as the server's
    /// writer gathers ready frames): the event must still wake the task that polls it next.
    #[tokio::test]
    async fn a_poll_with_another_waker_does_not_leave_the_task_deaf() {
        let ready = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let waker = Arc::new(std::sync::Mutex::new(None::<Waker>));
        let mut lazy = Lazy::new(Probe {
            polls: Arc::new(AtomicUsize::new(0)),
            ready: ready.clone(),
            waker: waker.clone(),
        });
        assert!(futures_util::FutureExt::now_or_never(&mut lazy).is_none());
        ready.store(true, Ordering::SeqCst);
        let w = waker.lock().unwrap().take().expect("registered");
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            w.wake();
        });
        // A deaf task would be polled again only by the timeout's own deadline (which polls
        // the future once more before giving up), 5 s later: the wake must come at ~50 ms.
        let t0 = std::time::Instant::now();
        tokio::time::timeout(Duration::from_secs(5), &mut lazy)
            .await
            .expect("the task polling it is woken");
        assert!(
            t0.elapsed() < Duration::from_secs(2),
            "woken only after {:?}",
            t0.elapsed()
        );
    }

    /// Ready once for every tick it has not yet reported.
    struct Ticker {
        ticks: Arc<AtomicUsize>,
        seen: usize,
        waker: Arc<std::sync::Mutex<Option<Waker>>>,
    }

    impl Future for Ticker {
        type Output = usize;
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
            *self.waker.lock().unwrap() = Some(cx.waker().clone());
            let now = self.ticks.load(Ordering::SeqCst);
            if now > self.seen {
                self.seen = now;
                return Poll::Ready(now);
            }
            Poll::Pending
        }
    }

    /// The same task woken by its event again and again (each wakeup from another thread,
    /// while the task waits): it hears every one, its waker registered once.
    #[tokio::test]
    async fn a_task_hears_its_event_every_time_it_fires() {
        let ticks = Arc::new(AtomicUsize::new(0));
        let waker = Arc::new(std::sync::Mutex::new(None::<Waker>));
        let mut lazy = Lazy::new(Ticker {
            ticks: ticks.clone(),
            seen: 0,
            waker: waker.clone(),
        });
        for round in 1..=50 {
            let (ticks, waker) = (ticks.clone(), waker.clone());
            let fire = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(2));
                ticks.fetch_add(1, Ordering::SeqCst);
                if let Some(w) = waker.lock().unwrap().as_ref() {
                    w.wake_by_ref();
                }
            });
            // A deaf task would be polled again only by the timeout's own deadline (which
            // polls the future once more before giving up): the wakeup must come at ~2 ms.
            let t0 = std::time::Instant::now();
            let got = tokio::time::timeout(Duration::from_secs(5), &mut lazy).await;
            assert_eq!(got, Ok(round));
            assert!(
                t0.elapsed() < Duration::from_secs(2),
                "round {round}: the wakeup was heard only after {:?}",
                t0.elapsed()
            );
            fire.join().unwrap();
        }
    }
}

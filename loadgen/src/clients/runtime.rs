//! Where the simulated clients run: a process-wide pool of client threads, each with its own
//! single-threaded tokio runtime, the clients dealt out to them in turn.
//!
//! Why not the main multi-threaded runtime: when a message reaches 10,000 subscribers, their
//! sockets become readable one after another over tens of milliseconds; a work-stealing runtime
//! wakes a parked worker for nearly every task it schedules, and the workers park and unpark
//! many times a burst. Measured on 2 cores (10,000 SSE clients, 1 msg/s), that context
//! switching was the largest single cost of the load generator (about a sixth of its CPU), and
//! every CPU-second the client spends is taken from the server it measures. A single-threaded
//! runtime sleeps in its own `epoll_wait` until its sockets have data and then takes all that
//! is ready in one turn: fewer wakeups, larger batches. Measured the same way, one client
//! thread cost 5.1-5.2 CPU-s per 1M deliveries where the work-stealing runtime cost 5.9-6.3,
//! and two single-threaded runtimes side by side 6.6-7.9 (each woke for its own trickle of
//! events). The publisher, the sampler and the orchestration stay on the main runtime.
//!
//! So the pool has one thread by default; `PUSHBENCH_CLIENT_THREADS` (1 to 64) deals the
//! clients out over more, and `--processes` spreads them over processes (as past the
//! descriptor limit). It is started on first use and lives as long as the process.

use std::future::Future;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use tokio::runtime::Handle;
use tokio::task::{AbortHandle, JoinSet};

/// The environment variable that sets the number of client threads.
pub const THREADS_ENV: &str = "PUSHBENCH_CLIENT_THREADS";

/// Most client threads.
const MAX_THREADS: usize = 64;

struct Pool {
    handles: Vec<Handle>,
    next: AtomicUsize,
}

static POOL: OnceLock<Option<Pool>> = OnceLock::new();

/// The number of client threads: `PUSHBENCH_CLIENT_THREADS` if it is a number from 1 to 64,
/// else 1.
pub fn threads() -> usize {
    std::env::var(THREADS_ENV)
        .ok()
        .and_then(|v| parse_threads(&v))
        .unwrap_or(1)
}

/// A valid `PUSHBENCH_CLIENT_THREADS` value: a number from 1 to 64.
fn parse_threads(v: &str) -> Option<usize> {
    v.trim()
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=MAX_THREADS).contains(n))
}

fn start() -> Option<Pool> {
    if let Ok(v) = std::env::var(THREADS_ENV) {
        if parse_threads(&v).is_none() {
            eprintln!(
                "pushbench: warning: {THREADS_ENV}={v:?} is not a number from 1 to {MAX_THREADS}; \
                 using 1 client thread"
            );
        }
    }
    let mut handles = Vec::new();
    for i in 0..threads() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()?;
        handles.push(rt.handle().clone());
        let spawned = std::thread::Builder::new()
            .name(format!("pb-clients-{i}"))
            .spawn(move || rt.block_on(std::future::pending::<()>()));
        if spawned.is_err() {
            return None;
        }
    }
    Some(Pool {
        handles,
        next: AtomicUsize::new(0),
    })
}

/// Spawns `task` into `set` on the next client thread (on the caller's runtime if the pool
/// could not be started: the clients still run, only less cheaply).
pub fn spawn<F>(set: &mut JoinSet<()>, task: F) -> AbortHandle
where
    F: Future<Output = ()> + Send + 'static,
{
    match POOL.get_or_init(start) {
        Some(pool) => {
            let i = pool.next.fetch_add(1, Relaxed) % pool.handles.len();
            set.spawn_on(task, &pool.handles[i])
        }
        None => set.spawn(task),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn tasks_run_on_the_client_threads_and_are_joined_from_the_caller() {
        let mut set = JoinSet::new();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        for _ in 0..8 {
            let tx = tx.clone();
            spawn(&mut set, async move {
                let name = std::thread::current().name().unwrap_or("").to_string();
                let _ = tx.send(name);
            });
        }
        while set.join_next().await.is_some() {}
        drop(tx);
        let mut names = Vec::new();
        while let Some(n) = rx.recv().await {
            names.push(n);
        }
        assert_eq!(names.len(), 8);
        assert!(
            names.iter().all(|n| n.starts_with("pb-clients-")),
            "{names:?}"
        );
        let distinct: std::collections::BTreeSet<_> = names.iter().collect();
        assert_eq!(
            distinct.len(),
            threads().min(8),
            "dealt out in turn: {names:?}"
        );
    }
}

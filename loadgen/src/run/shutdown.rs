//! How a run stops early: one shared stop signal with the first reason given ([`Shutdown`]),
//! pulled by Ctrl-C / SIGTERM ([`install_signal_handlers`]) or by a server that died.

use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;

use crate::sut::child;

/// The shared stop signal of a run and the reason it was given.
#[derive(Debug, Clone, Default)]
pub struct Shutdown {
    pub token: CancellationToken,
    pub reason: Arc<Mutex<Option<String>>>,
    /// The child server's pid (0: none), so a second Ctrl-C can stop it before exiting.
    pub child_pid: Arc<std::sync::atomic::AtomicU32>,
}

impl Shutdown {
    /// Stops the run, keeping the first reason given.
    pub fn trigger(&self, why: impl Into<String>) {
        let mut r = self.reason.lock().unwrap_or_else(|e| e.into_inner());
        if r.is_none() {
            *r = Some(why.into());
        }
        drop(r);
        self.token.cancel();
    }
    pub fn reason(&self) -> Option<String> {
        self.reason
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Stops the run on SIGINT (Ctrl-C) or SIGTERM: the first one ends the run gracefully
/// (partial results are written); a second one stops the child server and exits at once.
/// Call inside the runtime.
pub fn install_signal_handlers(sd: &Shutdown) {
    use tokio::signal::unix::{SignalKind, signal};
    for (kind, name) in [
        (SignalKind::interrupt(), "SIGINT"),
        (SignalKind::terminate(), "SIGTERM"),
    ] {
        let Ok(mut s) = signal(kind) else { continue };
        let sd = sd.clone();
        tokio::spawn(async move {
            if s.recv().await.is_some() {
                eprintln!(
                    "pushbench: {name}: stopping and writing what was measured (again: quit now)"
                );
                sd.trigger(format!("interrupted by {name}"));
            }
            if s.recv().await.is_some() {
                let pid = sd.child_pid.load(std::sync::atomic::Ordering::Relaxed);
                if pid != 0 {
                    child::terminate(pid);
                }
                eprintln!("pushbench: {name} again: exiting without writing results");
                std::process::exit(130);
            }
        });
    }
}

//! The `restart-server` fault in the measured window: `at` after the window starts, the phase
//! asks whoever owns the child server (the run, through a [`RestartHook`]) to kill it and
//! start it again, and carries on measuring. What the restart leaves for the figures: the
//! killed process's CPU up to the kill (the new one is sampled from its start), where the new
//! one is sampled from, and the deliveries counted at that moment (to tell whether anything
//! was delivered after it).

use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use super::RunCtx;
use crate::stats::Recorder;
use crate::sut::sampler::ServerProbe;
use crate::technique::Technique;

/// A server killed and started again.
#[derive(Debug, Clone)]
pub struct Restarted {
    pub old_pid: u32,
    pub new_pid: u32,
    /// The killed processes' CPU seconds just before the kill (None: not known).
    pub old_cpu_s: Option<f64>,
    /// Where the new server's CPU and memory come from.
    pub probe: ServerProbe,
}

/// A request to restart the server, answered with the outcome (None: it could not be done;
/// the run is stopped then, by whoever owns the server).
pub type Request = oneshot::Sender<Option<Restarted>>;

/// How the phases ask for a restart of the server they cannot own themselves.
#[derive(Debug, Clone)]
pub struct RestartHook {
    tx: mpsc::Sender<Request>,
}

impl RestartHook {
    /// A hook and the receiver of its requests (the owner of the server serves them).
    pub fn channel() -> (RestartHook, mpsc::Receiver<Request>) {
        let (tx, rx) = mpsc::channel(1);
        (RestartHook { tx }, rx)
    }

    /// Asks for a restart and waits for it (at most `limit`); None: not done.
    pub async fn restart(&self, limit: Duration) -> Option<Restarted> {
        let (reply, answer) = oneshot::channel();
        self.tx.send(reply).await.ok()?;
        tokio::time::timeout(limit, answer).await.ok()?.ok()?
    }
}

/// The restart done in a window.
#[derive(Debug, Clone)]
pub struct WindowRestart {
    pub restarted: Restarted,
    /// Messages delivered (counted by the recorder) just after the restart.
    pub delivered_at: u64,
}

/// How long a restart may take at most: the kill, the new server's start (10 s) and its
/// answer to a first request, with a margin.
pub fn limit(ctx: &RunCtx) -> Duration {
    Duration::from_secs(20) + ctx.cfg.connect_timeout * 2
}

/// When the window begun at `started` (and ending at `end`) has its restart: at
/// `cfg.fault.restart_server` into it, if that is before its end and the run can restart
/// its server.
pub fn due(ctx: &RunCtx, started: Instant, end: Instant) -> Option<Instant> {
    let at = started + ctx.cfg.fault.restart_server?;
    ctx.restart.as_ref()?;
    (at < end).then_some(at)
}

/// Waits until `at` and restarts the server, printing a progress line; None if the run was
/// stopped first or the restart could not be done.
pub async fn in_window(
    ctx: &RunCtx,
    tech: Technique,
    rec: &Recorder,
    at: Option<Instant>,
) -> Option<WindowRestart> {
    let (at, hook) = (at?, ctx.restart.as_ref()?);
    tokio::select! {
        _ = ctx.shutdown.cancelled() => return None,
        _ = tokio::time::sleep_until(at.into()) => {}
    }
    let into = ctx.cfg.fault.restart_server.unwrap_or_default();
    let begun = Instant::now();
    let restarted = hook.restart(limit(ctx)).await?;
    ctx.progress.println(&format!(
        "{tech:>9}: server restarted {} into the window (pid {} killed, pid {} up in {} ms)",
        humantime::format_duration(into),
        restarted.old_pid,
        restarted.new_pid,
        begun.elapsed().as_millis()
    ));
    Some(WindowRestart {
        restarted,
        delivered_at: rec.counters.delivered.load(Relaxed),
    })
}

/// The server CPU of a window with a restart: the killed process's from the window's start
/// up to the kill plus the new process's since it started; None if either is unknown.
pub fn cpu_across(start_cpu_s: Option<f64>, r: &Restarted, end_cpu_s: Option<f64>) -> Option<f64> {
    let before = (r.old_cpu_s? - start_cpu_s?).max(0.0);
    Some(before + end_cpu_s?.max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_across_a_restart_adds_both_processes() {
        let r = Restarted {
            old_pid: 1,
            new_pid: 2,
            old_cpu_s: Some(5.5),
            probe: ServerProbe::Child(2),
        };
        let cpu = cpu_across(Some(4.0), &r, Some(0.25)).unwrap();
        assert!((cpu - 1.75).abs() < 1e-9, "{cpu}");
        assert_eq!(cpu_across(None, &r, Some(0.25)), None);
        assert_eq!(cpu_across(Some(4.0), &r, None), None);
        let unknown = Restarted {
            old_cpu_s: None,
            ..r
        };
        assert_eq!(cpu_across(Some(4.0), &unknown, Some(1.0)), None);
    }
}

//! Child processes that must not outlive their parent: the server `pushbench run` starts, its
//! `pushbench worker`s, and the server processes of `serve --processes N`. However the parent
//! dies (`kill -9` included), its children stop.
//!
//! The parent prepares each such command with [`tie`]: the child's environment names the
//! parent's pid ([`ENV`]) and its stdin is a pipe from the parent, which the parent keeps open
//! (it holds the `ChildStdin`) for the child's life. The child calls [`honour`] first thing:
//!
//! 1. On Linux it asks the kernel for SIGTERM when its parent dies (`PR_SET_PDEATHSIG`), then
//!    checks that its parent is still the one named: if the parent died before the request,
//!    the child is already orphaned and [`honour`] fails (the caller exits).
//! 2. The kernel sends that signal when the *thread* that spawned the child exits, so the
//!    parent must spawn from a thread that lives as long as the child: a tokio runtime's worker
//!    thread or the main thread, never `spawn_blocking` (whose threads exit when idle). As a
//!    second, thread-independent mechanism a `serve` child also stops when its stdin reaches
//!    end of file ([`stop_when_parent_exits`]): the kernel closes the pipe when the parent
//!    process is gone, whichever thread spawned. (A worker's stdin is its control channel and
//!    already closes it at end of file.)
//!
//! Every process SIGTERM reaches here shuts down gracefully and in bounded time.

use std::io::Read as _;

use tokio_util::sync::CancellationToken;

/// The environment variable naming the parent a child is tied to.
pub const ENV: &str = "PUSHBENCH_PARENT_PID";

/// Why a tied child cannot run.
#[derive(Debug, thiserror::Error)]
pub enum LifelineError {
    #[error("{ENV}={0:?} is not a process id")]
    BadPid(String),
    #[error("cannot ask to be stopped with the parent process: {0}")]
    Prctl(std::io::Error),
    #[error("the parent process (pid {0}) is gone; not starting")]
    ParentGone(u32),
}

/// Ties the child `cmd` will start to this process (see the module doc); the caller must keep
/// the child's stdin (`ChildStdin`) open as long as the child should live (take it out of the
/// `Child` right after spawning: `Child::wait` closes a stdin left in it), and spawn from a
/// long-lived thread.
pub fn tie(cmd: &mut tokio::process::Command) {
    cmd.env(ENV, std::process::id().to_string())
        .stdin(std::process::Stdio::piped());
}

/// [`tie`] for a `std::process::Command` (the benchmark examples, which start a server
/// without a runtime). The caller keeps the returned `Child`'s stdin open (leaves it in the
/// `Child`) for the child's life, and spawns from a thread that lives as long as the child.
pub fn tie_std(cmd: &mut std::process::Command) {
    cmd.env(ENV, std::process::id().to_string())
        .stdin(std::process::Stdio::piped());
}

/// For a command that is not a pushbench process started directly (a shell, `ssh`): make sure
/// it does not inherit this process's own tie.
pub fn untie(cmd: &mut tokio::process::Command) {
    cmd.env_remove(ENV);
}

/// True when this process was started tied to its parent.
pub fn tied() -> bool {
    std::env::var_os(ENV).is_some()
}

/// Called first thing by a child: when tied, asks to be sent SIGTERM when the parent dies and
/// checks the parent is still there. Does nothing for a process started by hand.
pub fn honour() -> Result<(), LifelineError> {
    let Some(v) = std::env::var_os(ENV) else {
        return Ok(());
    };
    let text = v.to_string_lossy().into_owned();
    let parent: u32 = text.parse().map_err(|_| LifelineError::BadPid(text))?;
    #[cfg(target_os = "linux")]
    rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::TERM))
        .map_err(|e| LifelineError::Prctl(e.into()))?;
    // The parent may have died before the request above: then this process was already
    // handed to another parent and would never be told.
    if std::os::unix::process::parent_id() != parent {
        return Err(LifelineError::ParentGone(parent));
    }
    Ok(())
}

/// When tied, cancels `stop` once stdin reaches end of file (the parent is gone); otherwise
/// does nothing. Reads on a plain thread of its own, which never holds up the runtime's
/// shutdown; what the parent may write is ignored.
pub fn stop_when_parent_exits(stop: CancellationToken) {
    if !tied() {
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("parent-watch".into())
        .spawn(move || {
            let mut stdin = std::io::stdin();
            let mut buf = [0u8; 256];
            while matches!(stdin.read(&mut buf), Ok(n) if n > 0) {}
            stop.cancel();
        });
    if let Err(e) = spawned {
        eprintln!("pushbench: cannot watch the parent process: {e}");
    }
}

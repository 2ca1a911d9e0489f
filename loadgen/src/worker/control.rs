//! The worker's two channels: control lines read from stdin (the window, `close`; the end of
//! stdin), and event lines written to stdout by one task that owns it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::instant_at;
use crate::group::protocol::{Control, Event, WindowSpec, WorkerPlan};

/// Close timeout when stdin ends without a `close` line.
const DEFAULT_CLOSE: Duration = Duration::from_secs(5);

/// What the coordinator tells the worker.
#[derive(Debug)]
pub struct Commands {
    /// Windows as they are set (the plan's, then each `window` line).
    pub windows: UnboundedReceiver<WindowSpec>,
    /// Cancelled when the clients must close: a `close` line, the plan's `close_at_us`, or
    /// stdin ending (when the plan has no close time).
    pub closing: CancellationToken,
    /// How long the clients get to close (a `close` line says).
    close_timeout: Arc<Mutex<Duration>>,
    reader: JoinHandle<()>,
}

impl Commands {
    /// The close timeout the coordinator asked for (5 s if it did not).
    pub fn close_timeout(&self) -> Duration {
        *self.close_timeout.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stops reading stdin.
    pub fn stop(&self) {
        self.reader.abort();
    }
}

/// Starts listening: control lines from `control`, and the plan's own window and close time.
pub fn listen<R>(control: R, plan: &WorkerPlan) -> Commands
where
    R: AsyncBufRead + Unpin + Send + 'static,
{
    let closing = CancellationToken::new();
    let close_timeout = Arc::new(Mutex::new(DEFAULT_CLOSE));
    let (windows_tx, windows) = mpsc::unbounded_channel::<WindowSpec>();
    if let Some(w) = plan.window.clone() {
        let _ = windows_tx.send(w);
    }
    let timed = plan.close_at_us.is_some();
    let reader = {
        let closing = closing.clone();
        let close_timeout = close_timeout.clone();
        tokio::spawn(async move {
            let said_close = read_lines(control, &windows_tx, &close_timeout).await;
            // Stdin ended (or said close). With a close time in the plan, stdin may simply be
            // absent (a pod, a batch job): that time decides.
            if said_close || !timed {
                closing.cancel();
            }
        })
    };
    if let Some(at) = plan.close_at_us {
        let closing = closing.clone();
        tokio::spawn(async move {
            tokio::time::sleep_until(instant_at(at).into()).await;
            closing.cancel();
        });
    }
    Commands {
        windows,
        closing,
        close_timeout,
        reader,
    }
}

/// Reads control lines until `close` (true) or the end of input (false).
async fn read_lines<R>(
    control: R,
    windows: &UnboundedSender<WindowSpec>,
    close_timeout: &Mutex<Duration>,
) -> bool
where
    R: AsyncBufRead + Unpin,
{
    let mut lines = control.lines();
    while let Ok(Some(line)) = lines.next_line().await {
        match serde_json::from_str::<Control>(&line) {
            Ok(Control::Window(w)) => {
                let _ = windows.send(w);
            }
            Ok(Control::Close { timeout_ms }) => {
                *close_timeout.lock().unwrap_or_else(|e| e.into_inner()) =
                    Duration::from_millis(timeout_ms);
                return true;
            }
            Err(e) => eprintln!("pushbench worker: ignoring a bad control line: {e}"),
        }
    }
    false
}

/// The event writer: one task owns `out` and writes each event as one JSON line, flushed.
/// Ends when every sender is dropped; its result says whether writing failed.
pub fn events<W>(out: W) -> (UnboundedSender<Event>, JoinHandle<std::io::Result<()>>)
where
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (tx, mut rx) = mpsc::unbounded_channel::<Event>();
    let writer = tokio::spawn(async move {
        let mut out = out;
        while let Some(ev) = rx.recv().await {
            let mut line = serde_json::to_string(&ev).unwrap_or_default();
            line.push('\n');
            out.write_all(line.as_bytes()).await?;
            out.flush().await?;
        }
        Ok(())
    });
    (tx, writer)
}

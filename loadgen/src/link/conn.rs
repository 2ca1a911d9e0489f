//! One emulated connection's task on the link runtime: two [`Pipe`]s between the real
//! socket and the link's end of the client's duplex, and how closes and resets cross the
//! link.
//!
//! - The client shuts its write side down: a FIN follows its last bytes up the delay line,
//!   then the socket's write side is shut down; the server can still answer.
//! - The client drops its stream: its last bytes go up, then the socket is closed (with a
//!   reset, as [`crate::net::connect`]'s linger-0 sockets close).
//! - The server closes: its EOF follows its last bytes down, then the client reads EOF.
//! - The socket fails (the server reset it, or a write to it failed): a reset follows the
//!   bytes already on their way down, then the client's reads and writes fail with
//!   `ConnectionReset`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::task::{Context, Poll};

use tokio::io::DuplexStream;
use tokio::net::TcpStream;

use super::pipe::{End, Outcome, Pipe};
use super::stats::Counters;
use crate::net::stream::Shared;

/// The connection task: completes when the connection is over on both sides.
pub struct Conn {
    tcp: TcpStream,
    app: DuplexStream,
    /// Client to server.
    up: Pipe,
    /// Server to client.
    down: Pipe,
    up_done: bool,
    down_done: bool,
    shared: Arc<Shared>,
    counters: Arc<Counters>,
}

/// What the connection does after one step.
enum Step {
    /// Something changed: poll again.
    Again,
    /// Nothing can happen until a wake-up.
    Wait,
    /// The connection is over.
    Over,
}

impl Conn {
    pub fn new(
        tcp: TcpStream,
        app: DuplexStream,
        up: Pipe,
        down: Pipe,
        shared: Arc<Shared>,
        counters: Arc<Counters>,
    ) -> Conn {
        counters.open.fetch_add(1, Relaxed);
        Conn {
            tcp,
            app,
            up,
            down,
            up_done: false,
            down_done: false,
            shared,
            counters,
        }
    }

    /// Client to server: what the up pipe reports, and what follows from it.
    fn step_up(&mut self, cx: &mut Context<'_>) -> Step {
        if self.up_done {
            return Step::Wait;
        }
        match self.up.poll(cx, &mut self.app, &mut self.tcp) {
            Poll::Pending => Step::Wait,
            Poll::Ready(Outcome::SrcEof | Outcome::SrcError) => {
                let end = if self.shared.is_dropped() {
                    End::Close
                } else {
                    End::Fin
                };
                self.up.push_end(end);
                Step::Again
            }
            Poll::Ready(Outcome::DstError) => {
                // The socket is dead: the client hears of it one way later.
                self.up.stop();
                self.up_done = true;
                self.fail_down();
                Step::Again
            }
            Poll::Ready(Outcome::Ended(End::Fin)) => {
                self.up_done = true;
                Step::Again
            }
            Poll::Ready(Outcome::Ended(End::Close | End::Reset)) => Step::Over,
        }
    }

    /// Server to client: what the down pipe reports, and what follows from it.
    fn step_down(&mut self, cx: &mut Context<'_>) -> Step {
        if self.down_done {
            return Step::Wait;
        }
        match self.down.poll(cx, &mut self.tcp, &mut self.app) {
            Poll::Pending => Step::Wait,
            Poll::Ready(Outcome::SrcEof) => {
                self.down.push_end(End::Fin);
                Step::Again
            }
            Poll::Ready(Outcome::SrcError) => {
                self.up.stop();
                self.up_done = true;
                self.down.push_end(End::Reset);
                Step::Again
            }
            Poll::Ready(Outcome::DstError) => {
                // The client is gone: nothing more goes down.
                self.down.stop();
                self.down_done = true;
                Step::Again
            }
            Poll::Ready(Outcome::Ended(End::Fin)) => {
                self.down_done = true;
                Step::Again
            }
            Poll::Ready(Outcome::Ended(End::Reset)) => {
                self.shared.set_reset();
                Step::Over
            }
            Poll::Ready(Outcome::Ended(End::Close)) => Step::Over,
        }
    }

    /// Queues a reset for the client behind what is already on its way down.
    fn fail_down(&mut self) {
        if !self.down_done {
            self.down.push_end(End::Reset);
        }
    }
}

impl Future for Conn {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        this.shared.register(cx);
        loop {
            let up = this.step_up(cx);
            let down = this.step_down(cx);
            if matches!(up, Step::Over) || matches!(down, Step::Over) {
                return Poll::Ready(());
            }
            if this.up_done && this.down_done {
                return Poll::Ready(());
            }
            // The client dropped its stream after its FIN went up: nothing can come from
            // it any more, and nobody will read what the server sends.
            if this.up_done && this.shared.is_dropped() {
                return Poll::Ready(());
            }
            if matches!((up, down), (Step::Wait, Step::Wait)) {
                return Poll::Pending;
            }
        }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.counters.open.fetch_sub(1, Relaxed);
    }
}

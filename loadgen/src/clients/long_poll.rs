//! Long poll: `GET /long-poll/{topic}?since=N&timeout=MS`, re-issued as soon as the answer
//! arrives, over one keep-alive connection. The server holds the request until a message
//! arrives or `timeout` passes; an empty answer (the timeout) is counted as an empty response.
//! The answer may take the long-poll timeout plus the read timeout.

use super::Client;
use super::poll::{Conn, PollCursor, exchange, release};

pub(super) async fn run(c: &mut Client) {
    let mut conn: Conn = None;
    let mut cur = PollCursor::new(c.spec.since);
    let answer_timeout = c.spec.long_poll_timeout + c.spec.read_timeout;
    while !c.shutdown.is_cancelled() {
        let r = exchange(c, &mut conn, &mut cur, answer_timeout).await;
        if r.is_ok() {
            release(c, &mut conn);
        }
        if let Err(e) = r {
            conn = None;
            c.turn = None;
            let wait = c.failed(&e);
            if !c.pause(wait).await {
                return;
            }
        }
    }
}

//! The built-in `pushbench` profile: docs/PROTOCOL.md, pushbench's own server (the default).

use super::{Cursor, Framing, Profile, Publish, Subscribe};
use crate::technique::Technique;

/// The default: what `pushbench serve` speaks.
pub fn profile() -> Profile {
    Profile {
        name: "pushbench".into(),
        publish: publish(),
        subscribe: subscribe(),
    }
}

/// `POST /publish/{topic}`, the payload as the body.
pub(super) fn publish() -> Publish {
    Publish {
        method: "POST".into(),
        path: "/publish/{topic}".into(),
        body: "{payload}".into(),
        content_type: "text/plain; charset=utf-8".into(),
    }
}

/// Every technique on docs/PROTOCOL.md's paths, framing and `since` cursors.
pub(super) fn subscribe() -> Vec<Subscribe> {
    let sub = |technique, path: &str, framing, cursor| Subscribe {
        technique,
        path: path.into(),
        framing,
        cursor,
        headers: Vec::new(),
    };
    vec![
        sub(
            Technique::Poll,
            "/poll/{topic}?since={cursor}",
            Framing::Pushbench,
            Cursor::SinceParam,
        ),
        sub(
            Technique::LongPoll,
            "/long-poll/{topic}?since={cursor}&timeout={timeout}",
            Framing::Pushbench,
            Cursor::SinceParam,
        ),
        sub(
            Technique::Stream,
            "/stream/{topic}?since={cursor}",
            Framing::Pushbench,
            Cursor::SinceParam,
        ),
        // The first request asks for everything retained; a reconnect sends Last-Event-ID.
        sub(
            Technique::Sse,
            "/sse/{topic}?since=0",
            Framing::Sse,
            Cursor::LastEventId,
        ),
        sub(
            Technique::Ws,
            "/ws/{topic}?since={cursor}",
            Framing::Pushbench,
            Cursor::SinceParam,
        ),
    ]
}

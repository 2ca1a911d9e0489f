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
    Technique::ALL.into_iter().map(subscription).collect()
}

/// How `t` subscribes on pushbench's server.
pub(super) fn subscription(t: Technique) -> Subscribe {
    let (path, framing, cursor) = match t {
        Technique::Poll => (
            "/poll/{topic}?since={cursor}",
            Framing::Pushbench,
            Cursor::SinceParam,
        ),
        Technique::LongPoll => (
            "/long-poll/{topic}?since={cursor}&timeout={timeout}",
            Framing::Pushbench,
            Cursor::SinceParam,
        ),
        Technique::Stream => (
            "/stream/{topic}?since={cursor}",
            Framing::Pushbench,
            Cursor::SinceParam,
        ),
        // `{cursor}` stays the starting cursor; a reconnect sends Last-Event-ID.
        Technique::Sse => (
            "/sse/{topic}?since={cursor}",
            Framing::Sse,
            Cursor::LastEventId,
        ),
        Technique::Ws => (
            "/ws/{topic}?since={cursor}",
            Framing::Pushbench,
            Cursor::SinceParam,
        ),
    };
    Subscribe {
        technique: t,
        path: path.into(),
        framing,
        cursor,
        headers: Vec::new(),
    }
}

//! The built-in `nchan` profile: nginx + nchan with one location per technique on pushbench's
//! paths (scripts/peers/nginx-nchan.conf.template), each with nchan's own framing and cursors:
//!
//! - publish: `POST /publish/{topic}` (`nchan_publisher`), the payload as the body; nchan
//!   answers 201/202 with its own channel info (any 2xx is success);
//! - `/poll/{topic}` (intervalpoll) and `/long-poll/{topic}` (longpoll): one message per
//!   answer, the raw payload as the body; the cursor is the answer's `Last-Modified`/`Etag`,
//!   sent back as `If-Modified-Since`/`If-None-Match` (a 304 is an empty answer);
//! - `/stream/{topic}` (http-chunked, asked with `TE: chunked`): one chunk per message, the
//!   raw payload; no cursor (a reconnect starts at the oldest retained message);
//! - `/sse/{topic}` (eventsource): the raw payload in `data:`, ids like `1764850000:0`,
//!   resumed with `Last-Event-ID`;
//! - `/ws/{topic}` (websocket): one text message per payload, no cursor.

use super::{Cursor, Framing, Profile, Publish, Subscribe};
use crate::technique::Technique;

/// nchan on pushbench's paths.
pub fn profile() -> Profile {
    let sub = |technique, path: &str, framing, cursor, headers: &[(&str, &str)]| Subscribe {
        technique,
        path: path.into(),
        framing,
        cursor,
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    };
    Profile {
        name: "nchan".into(),
        publish: Publish {
            method: "POST".into(),
            path: "/publish/{topic}".into(),
            body: "{payload}".into(),
            content_type: "text/plain; charset=utf-8".into(),
        },
        subscribe: vec![
            sub(
                Technique::Poll,
                "/poll/{topic}",
                Framing::Raw,
                Cursor::Etag,
                &[],
            ),
            sub(
                Technique::LongPoll,
                "/long-poll/{topic}",
                Framing::Raw,
                Cursor::Etag,
                &[],
            ),
            sub(
                Technique::Stream,
                "/stream/{topic}",
                Framing::RawChunks,
                Cursor::None,
                &[("TE", "chunked")],
            ),
            sub(
                Technique::Sse,
                "/sse/{topic}",
                Framing::Sse,
                Cursor::LastEventId,
                &[],
            ),
            sub(
                Technique::Ws,
                "/ws/{topic}",
                Framing::WsText,
                Cursor::None,
                &[],
            ),
        ],
    }
}

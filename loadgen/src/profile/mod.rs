//! Target profiles: how a server other than pushbench's own is asked, per technique: which path
//! to subscribe on, how a message is framed, how a client resumes, and how to publish.
//!
//! A [`Profile`] is a built-in ([`pushbench`], the default; [`nchan`]; [`pushpin`]) or a TOML
//! file ([`file`], see docs/PROFILES.md). Techniques a profile has no `subscribe` entry for are
//! not offered by the target: the run skips them. Loss, duplicates and order never rely on the
//! server's ids: every payload carries pushbench's `pb1` header (see [`crate::payload`]).

mod file;
mod nchan;
mod pushbench;
mod pushpin;

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::technique::Technique;

pub use file::parse_toml;

/// The names of the built-in profiles.
pub const BUILT_INS: [&str; 3] = ["pushbench", "nchan", "pushpin"];

/// A profile that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error(
        "--profile: `{0}` is neither a built-in profile (pushbench, nchan, pushpin) nor a file"
    )]
    Unknown(String),
    #[error("--profile {file}: {msg}")]
    File { file: String, msg: String },
}

/// How to talk to one kind of server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// Its name (a built-in's, or the file's `name`, else the file's path).
    pub name: String,
    pub publish: Publish,
    /// The techniques the target offers, each once.
    pub subscribe: Vec<Subscribe>,
}

/// How the publisher sends one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Publish {
    /// HTTP method, e.g. `POST`.
    pub method: String,
    /// Path below the target URL's prefix; `{topic}` is replaced by the topic.
    pub path: String,
    /// Body; `{payload}` is replaced by the payload, `{topic}` by the topic.
    pub body: String,
    pub content_type: String,
}

/// How a client of one technique subscribes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscribe {
    pub technique: Technique,
    /// Path (and query) below the target URL's prefix: `{topic}`, `{cursor}` (the client's
    /// cursor, `0` at first) and `{timeout}` (the long-poll timeout in ms) are replaced.
    pub path: String,
    pub framing: Framing,
    pub cursor: Cursor,
    /// Extra request headers.
    pub headers: Vec<(String, String)>,
}

/// How messages are framed on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Framing {
    /// docs/PROTOCOL.md's JSON (poll answers, message and gap objects).
    Pushbench,
    /// Server-sent events: the payload is the event's data (a `gap` event is skipped).
    Sse,
    /// One payload per line of the body.
    Ndjson,
    /// One payload per HTTP chunk (nchan's http-chunked).
    RawChunks,
    /// One payload per WebSocket text message.
    WsText,
    /// The whole answer body is one payload (nchan's long poll).
    Raw,
    /// A JSON object per message (NDJSON line, WebSocket message or answer body), the payload
    /// in this field; its `id` field, if any, is the cursor.
    JsonEnvelope(String),
}

/// How a client resumes after a reconnect (or asks for what follows).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Cursor {
    /// The last id seen goes in the path's `{cursor}`.
    SinceParam,
    /// SSE: `Last-Event-ID` with the last `id:` the server sent.
    LastEventId,
    /// `If-None-Match`/`If-Modified-Since` from the previous answer's `Etag`/`Last-Modified`.
    Etag,
    /// No cursor: each (re)connect starts where the server decides.
    None,
}

impl Framing {
    /// Parses a framing name as written in a profile file.
    pub fn parse(s: &str) -> Option<Framing> {
        Some(match s {
            "pushbench" => Framing::Pushbench,
            "sse" => Framing::Sse,
            "ndjson" => Framing::Ndjson,
            "raw-chunks" => Framing::RawChunks,
            "ws-text" => Framing::WsText,
            "raw" => Framing::Raw,
            _ => {
                let field = s.strip_prefix("json-envelope(")?.strip_suffix(')')?.trim();
                if field.is_empty() {
                    return None;
                }
                Framing::JsonEnvelope(field.to_string())
            }
        })
    }

    /// Whether a client of `t` can read this framing.
    pub fn fits(&self, t: Technique) -> bool {
        use Framing as F;
        match t {
            Technique::Poll | Technique::LongPoll => {
                matches!(self, F::Pushbench | F::Raw | F::JsonEnvelope(_))
            }
            Technique::Stream => matches!(
                self,
                F::Pushbench | F::Ndjson | F::RawChunks | F::JsonEnvelope(_)
            ),
            Technique::Sse => matches!(self, F::Sse),
            Technique::Ws => matches!(self, F::Pushbench | F::WsText | F::JsonEnvelope(_)),
        }
    }

    /// Whether the messages carry a server id a cursor can be taken from.
    pub fn has_ids(&self) -> bool {
        matches!(
            self,
            Framing::Pushbench | Framing::Sse | Framing::JsonEnvelope(_)
        )
    }
}

impl fmt::Display for Framing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Framing::Pushbench => f.write_str("pushbench"),
            Framing::Sse => f.write_str("sse"),
            Framing::Ndjson => f.write_str("ndjson"),
            Framing::RawChunks => f.write_str("raw-chunks"),
            Framing::WsText => f.write_str("ws-text"),
            Framing::Raw => f.write_str("raw"),
            Framing::JsonEnvelope(field) => write!(f, "json-envelope({field})"),
        }
    }
}

impl Cursor {
    /// Parses a cursor style as written in a profile file.
    pub fn parse(s: &str) -> Option<Cursor> {
        Some(match s {
            "since-param" => Cursor::SinceParam,
            "last-event-id" => Cursor::LastEventId,
            "etag" => Cursor::Etag,
            "none" => Cursor::None,
            _ => return None,
        })
    }
}

impl Profile {
    /// A built-in profile by name.
    pub fn built_in(name: &str) -> Option<Profile> {
        match name {
            "pushbench" => Some(pushbench::profile()),
            "nchan" => Some(nchan::profile()),
            "pushpin" => Some(pushpin::profile()),
            _ => None,
        }
    }

    /// `--profile NAME|FILE.toml`: a built-in by name, else a profile file.
    pub fn load(arg: &str) -> Result<Profile, ProfileError> {
        if let Some(p) = Profile::built_in(arg) {
            return Ok(p);
        }
        let path = Path::new(arg);
        if !path.is_file() {
            return Err(ProfileError::Unknown(arg.to_string()));
        }
        let text = std::fs::read_to_string(path).map_err(|e| ProfileError::File {
            file: arg.to_string(),
            msg: e.to_string(),
        })?;
        parse_toml(&text, arg).map_err(|msg| ProfileError::File {
            file: arg.to_string(),
            msg,
        })
    }

    /// How `t` subscribes on this target; None: not offered.
    pub fn subscribe(&self, t: Technique) -> Option<&Subscribe> {
        self.subscribe.iter().find(|s| s.technique == t)
    }

    /// How `t` subscribes: this profile's entry, else pushbench's (a technique a profile does
    /// not offer is skipped before any client starts).
    pub fn subscription(&self, t: Technique) -> Subscribe {
        self.subscribe(t)
            .cloned()
            .unwrap_or_else(|| pushbench::subscription(t))
    }

    /// Whether this is the default profile (the target speaks docs/PROTOCOL.md).
    pub fn is_pushbench(&self) -> bool {
        *self == pushbench::profile()
    }
}

impl Default for Profile {
    fn default() -> Self {
        pushbench::profile()
    }
}

impl Publish {
    /// The request path for `topic` (below the target's prefix).
    pub fn path_for(&self, topic: &str) -> String {
        self.path.replace("{topic}", topic)
    }

    /// The request body carrying `payload` to `topic`.
    pub fn body_for(&self, topic: &str, payload: &str) -> String {
        if self.body == "{payload}" {
            return payload.to_string();
        }
        let body = self.body.replace("{topic}", topic);
        if self.content_type.contains("json") {
            // A payload inside a JSON template goes in as a JSON string's content.
            let quoted = serde_json::to_string(payload).unwrap_or_default();
            let inner = quoted
                .strip_prefix('"')
                .and_then(|q| q.strip_suffix('"'))
                .unwrap_or_default();
            return body.replace("{payload}", inner);
        }
        body.replace("{payload}", payload)
    }
}

impl Subscribe {
    /// The request path for `topic` at `cursor`, long polls held `timeout_ms`.
    pub fn path_for(&self, topic: &str, cursor: &str, timeout_ms: u128) -> String {
        self.path
            .replace("{topic}", topic)
            .replace("{cursor}", cursor)
            .replace("{timeout}", &timeout_ms.to_string())
    }
}

#[cfg(test)]
mod tests;

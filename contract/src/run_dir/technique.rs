//! The five push techniques pushbench measures, by their public names.

use std::fmt;
use std::str::FromStr;

/// A server-push technique. The names (`poll`, `long-poll`, `stream`, `sse`, `ws`) are a public
/// contract: they appear in `--techniques`, in `--json` output and in every run directory.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Technique {
    #[serde(rename = "poll")]
    Poll,
    #[serde(rename = "long-poll")]
    LongPoll,
    #[serde(rename = "stream")]
    Stream,
    #[serde(rename = "sse")]
    Sse,
    #[serde(rename = "ws")]
    Ws,
}

impl Technique {
    /// Every technique, in the order a run measures them.
    pub const ALL: [Technique; 5] = [
        Technique::Poll,
        Technique::LongPoll,
        Technique::Stream,
        Technique::Sse,
        Technique::Ws,
    ];

    /// The public name, as in `--techniques` and the run directory.
    pub fn name(self) -> &'static str {
        match self {
            Technique::Poll => "poll",
            Technique::LongPoll => "long-poll",
            Technique::Stream => "stream",
            Technique::Sse => "sse",
            Technique::Ws => "ws",
        }
    }

    /// The server path prefix of this technique (see docs/PROTOCOL.md).
    pub fn path_prefix(self) -> &'static str {
        match self {
            Technique::Poll => "/poll/",
            Technique::LongPoll => "/long-poll/",
            Technique::Stream => "/stream/",
            Technique::Sse => "/sse/",
            Technique::Ws => "/ws/",
        }
    }
}

impl fmt::Display for Technique {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The error for a technique name that is not one of the five.
#[derive(Debug, thiserror::Error)]
#[error("unknown technique `{0}` (expected one of: poll, long-poll, stream, sse, ws)")]
pub struct UnknownTechnique(pub String);

impl FromStr for Technique {
    type Err = UnknownTechnique;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "poll" | "short-poll" => Ok(Technique::Poll),
            "long-poll" | "longpoll" => Ok(Technique::LongPoll),
            "stream" => Ok(Technique::Stream),
            "sse" => Ok(Technique::Sse),
            "ws" | "websocket" => Ok(Technique::Ws),
            other => Err(UnknownTechnique(other.to_string())),
        }
    }
}

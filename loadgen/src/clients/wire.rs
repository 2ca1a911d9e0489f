//! The JSON objects of docs/PROTOCOL.md, as the clients read them: a message
//! (`{"id":17,"event":"tick","data":"..."}`), a gap (`{"gap":{"since":3,"first_available":120}}`)
//! and a poll answer (`{"next":44,"messages":[...],"gap":{...}}`).
//!
//! Strings are borrowed from the input when they contain no escapes.

use std::borrow::Cow;

use serde::Deserialize;

/// Bytes that are not the JSON the protocol describes.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("bad JSON: {0}")]
    Json(serde_json::Error),
    #[error("a JSON object that is neither a message nor a gap")]
    NotAMessage,
}

/// The server's "you asked for more than I still hold" notice.
// The cause is in the text, not also a `source`, so it is printed once.
impl From<serde_json::Error> for WireError {
    fn from(e: serde_json::Error) -> Self {
        WireError::Json(e)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct Gap {
    pub since: u64,
    pub first_available: u64,
}

/// One message as carried by poll, long poll, stream and WebSocket.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Message<'a> {
    pub id: u64,
    #[serde(borrow, default)]
    pub event: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub data: Cow<'a, str>,
}

/// A line of a stream or a WebSocket frame: a message or a gap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item<'a> {
    Message(Message<'a>),
    Gap(Gap),
}

/// A string borrowed from the input when it has no escapes (serde borrows a `Cow` only when
/// it is a field of its own, not inside an `Option`).
#[derive(Deserialize)]
struct Text<'a>(#[serde(borrow)] Cow<'a, str>);

#[derive(Deserialize)]
struct RawItem<'a> {
    id: Option<u64>,
    #[serde(borrow, default)]
    event: Option<Text<'a>>,
    #[serde(borrow, default)]
    data: Option<Text<'a>>,
    gap: Option<Gap>,
}

/// Reads one message-or-gap object.
pub fn parse_item(bytes: &[u8]) -> Result<Item<'_>, WireError> {
    let raw: RawItem<'_> = serde_json::from_slice(bytes)?;
    match raw {
        RawItem {
            id: Some(id),
            event,
            data: Some(Text(data)),
            ..
        } => Ok(Item::Message(Message {
            id,
            event: event.map(|Text(e)| e),
            data,
        })),
        RawItem { gap: Some(g), .. } => Ok(Item::Gap(g)),
        _ => Err(WireError::NotAMessage),
    }
}

/// The answer of `/poll` and `/long-poll`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PollAnswer<'a> {
    /// The cursor for the next request.
    pub next: u64,
    #[serde(borrow)]
    pub messages: Vec<Message<'a>>,
    #[serde(default)]
    pub gap: Option<Gap>,
}

/// Reads a poll or long-poll answer.
pub fn parse_poll(bytes: &[u8]) -> Result<PollAnswer<'_>, WireError> {
    Ok(serde_json::from_slice(bytes)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items() {
        let m = parse_item(br#"{"id":17,"event":"tick","data":"pb1 0 1 2 x"}"#).unwrap();
        let Item::Message(m) = m else { panic!() };
        assert_eq!(
            (m.id, m.event.as_deref(), &*m.data),
            (17, Some("tick"), "pb1 0 1 2 x")
        );
        assert!(matches!(m.data, Cow::Borrowed(_)));
        let m = parse_item(br#"{"data":"a\nb\u00e9","id":3}"#).unwrap();
        assert_eq!(
            m,
            Item::Message(Message {
                id: 3,
                event: None,
                data: "a\nb\u{e9}".into()
            })
        );
        let g = parse_item(br#"{"gap":{"since":3,"first_available":120}}"#).unwrap();
        assert_eq!(
            g,
            Item::Gap(Gap {
                since: 3,
                first_available: 120
            })
        );
        assert!(matches!(
            parse_item(br#"{"id":1}"#),
            Err(WireError::NotAMessage)
        ));
        assert!(matches!(parse_item(b"{\"id\":"), Err(WireError::Json(_))));
    }

    #[test]
    fn poll_answers() {
        let a = parse_poll(
            br#"{"next":44,"messages":[{"id":43,"data":"x"},{"id":44,"data":"y"}],"gap":{"since":1,"first_available":43}}"#,
        )
        .unwrap();
        assert_eq!(a.next, 44);
        assert_eq!(a.messages.len(), 2);
        assert!(matches!(a.messages[0].data, Cow::Borrowed("x")));
        assert_eq!(a.gap.map(|g| g.first_available), Some(43));
        let e = parse_poll(br#"{"next":0,"messages":[]}"#).unwrap();
        assert!(e.messages.is_empty() && e.gap.is_none());
        assert!(parse_poll(br#"{"messages":[]}"#).is_err());
    }
}

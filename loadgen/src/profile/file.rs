//! Custom profile files (TOML, docs/PROFILES.md): read with unknown keys refused, then checked
//! so that every mistake is one line naming the key (and its line in the file).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{Cursor, Framing, Profile, Publish, Subscribe};
use crate::technique::Technique;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    name: Option<String>,
    publish: RawPublish,
    #[serde(default)]
    subscribe: BTreeMap<String, RawSubscribe>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawPublish {
    method: Option<String>,
    path: String,
    body: Option<String>,
    #[serde(alias = "content_type")]
    content_type: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSubscribe {
    path: String,
    framing: String,
    cursor: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

/// Parses and checks a profile file's text; `origin` names it (the default `name`). The error
/// is one line.
pub fn parse_toml(text: &str, origin: &str) -> Result<Profile, String> {
    let raw: RawProfile = toml::from_str(text).map_err(|e| one_line(&e, text))?;
    let publish = publish(raw.publish)?;
    let mut subscribe = Vec::new();
    for (key, s) in raw.subscribe {
        let technique: Technique = key.parse().map_err(|_| {
            format!("[subscribe.{key}]: unknown technique (poll, long-poll, stream, sse, ws)")
        })?;
        subscribe.push(subscription(technique, s)?);
    }
    if subscribe.is_empty() {
        return Err("no [subscribe.TECHNIQUE] table: the target would offer nothing".into());
    }
    subscribe.sort_by_key(|s| s.technique);
    Ok(Profile {
        name: raw.name.unwrap_or_else(|| origin.to_string()),
        publish,
        subscribe,
    })
}

/// toml's message (which names the key) on one line, with the line it is about.
fn one_line(e: &toml::de::Error, text: &str) -> String {
    let msg = e.message().split_whitespace().collect::<Vec<_>>().join(" ");
    match e.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("line {line}: {msg}")
        }
        None => msg,
    }
}

fn publish(p: RawPublish) -> Result<Publish, String> {
    let body = p.body.unwrap_or_else(|| "{payload}".into());
    if !body.contains("{payload}") {
        return Err("publish.body: the template has no {payload} placeholder".into());
    }
    check_path("publish.path", &p.path)?;
    let method = p.method.unwrap_or_else(|| "POST".into());
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(format!(
            "publish.method: `{method}` is not an HTTP method (e.g. POST)"
        ));
    }
    Ok(Publish {
        method,
        path: p.path,
        body,
        content_type: p
            .content_type
            .unwrap_or_else(|| "text/plain; charset=utf-8".into()),
    })
}

fn subscription(technique: Technique, s: RawSubscribe) -> Result<Subscribe, String> {
    let at = format!("subscribe.{technique}");
    check_path(&format!("{at}.path"), &s.path)?;
    let framing = Framing::parse(&s.framing).ok_or_else(|| {
        format!(
            "{at}.framing: unknown framing `{}` (sse, ndjson, raw-chunks, ws-text, raw, \
             json-envelope(FIELD), pushbench)",
            s.framing
        )
    })?;
    if !framing.fits(technique) {
        return Err(format!(
            "{at}.framing: `{framing}` cannot carry {technique} messages"
        ));
    }
    let cursor = match s.cursor.as_deref() {
        None => Cursor::None,
        Some(c) => Cursor::parse(c).ok_or_else(|| {
            format!(
                "{at}.cursor: unknown cursor style `{c}` (since-param, last-event-id, etag, none)"
            )
        })?,
    };
    check_cursor(&at, technique, &framing, cursor, &s.path)?;
    for (name, value) in &s.headers {
        let bad = |c: char| c.is_ascii_control() || c == ':';
        if name.is_empty() || name.chars().any(|c| bad(c) || c == ' ') || value.chars().any(bad) {
            return Err(format!("{at}.headers: `{name}` is not a valid header"));
        }
    }
    Ok(Subscribe {
        technique,
        path: s.path,
        framing,
        cursor,
        headers: s.headers.into_iter().collect(),
    })
}

fn check_path(key: &str, path: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        return Err(format!("{key}: `{path}` does not start with /"));
    }
    if !path.contains("{topic}") {
        return Err(format!("{key}: the template has no {{topic}} placeholder"));
    }
    if path
        .chars()
        .any(|c| c.is_ascii_whitespace() || c.is_ascii_control())
    {
        return Err(format!("{key}: `{path}` has a space or control character"));
    }
    Ok(())
}

fn check_cursor(
    at: &str,
    technique: Technique,
    framing: &Framing,
    cursor: Cursor,
    path: &str,
) -> Result<(), String> {
    let fits = match cursor {
        Cursor::SinceParam => {
            if !path.contains("{cursor}") {
                return Err(format!(
                    "{at}.cursor: since-param needs a {{cursor}} placeholder in the path"
                ));
            }
            framing.has_ids()
        }
        Cursor::LastEventId => technique == Technique::Sse,
        Cursor::Etag => matches!(technique, Technique::Poll | Technique::LongPoll),
        Cursor::None => true,
    };
    if !fits {
        return Err(format!(
            "{at}.cursor: `{}` does not work with {technique} and framing `{framing}`",
            cursor_name(cursor)
        ));
    }
    Ok(())
}

fn cursor_name(c: Cursor) -> &'static str {
    match c {
        Cursor::SinceParam => "since-param",
        Cursor::LastEventId => "last-event-id",
        Cursor::Etag => "etag",
        Cursor::None => "none",
    }
}

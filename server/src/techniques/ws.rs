//! WebSocket: `GET /ws/{topic}?since=N` upgrades on the same port (hyper's upgrade, then
//! tokio-tungstenite with small buffers). Each message (and a gap) is one text frame with the
//! JSON message object; a ping goes out on each idle heartbeat tick; pings are answered; other
//! client data is ignored; a malformed frame closes that socket only (close code 1002).

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::header::{self, HeaderValue};
use http::{Request, Response, StatusCode, Version};
use hyper::body::Incoming;
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{self, Message as WsMessage};

use crate::counting::ConnCell;
use crate::message::Gap;
use crate::metrics::Technique;
use crate::request::since;
use crate::response::{BoxBody, error, full, unavailable};
use crate::state::State;
use crate::techniques::subscription::{Event, Subscription, stall_watch};

/// Read buffer per WebSocket. tungstenite's default (128 KiB) makes each idle connection
/// about 13 times heavier; clients send us nothing but control frames.
pub const READ_BUFFER_BYTES: usize = 2 * 1024;
/// Largest message accepted from a client (they are ignored anyway).
pub const MAX_CLIENT_MESSAGE_BYTES: usize = 64 * 1024;
/// How long closing handshakes may take.
pub(crate) const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

fn has_token(req: &Request<Incoming>, name: header::HeaderName, token: &str) -> bool {
    req.headers().get_all(name).iter().any(|v| {
        v.to_str()
            .is_ok_and(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    })
}

/// RFC 6455 4.2.1: `Sec-WebSocket-Key` is a nonce of 16 bytes, base64-encoded (24 characters
/// with padding); surrounding whitespace is not part of the header value.
pub fn valid_key(key: &[u8]) -> bool {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(key)
        .is_ok_and(|nonce| nonce.len() == 16)
}

/// `GET /ws/{topic}`: validates the handshake, answers `101`, and serves the socket in a task.
pub async fn handle(
    mut req: Request<Incoming>,
    state: &State,
    cell: &Arc<ConnCell>,
    topic: &str,
) -> Response<BoxBody> {
    let since = match since(&req) {
        Ok(s) => s,
        Err(e) => return e.response(),
    };
    let accept = match handshake(&req) {
        Ok(a) => a,
        Err(refusal) => return refusal.response(),
    };
    state.await_cursor(topic, since).await;
    let topic = match state.hub.topic(topic) {
        Ok(t) => t,
        Err(e) => return unavailable(e),
    };
    let on_upgrade = hyper::upgrade::on(&mut req);
    let (sub, gap) = Subscription::new(state, cell.clone(), topic, since, Technique::Ws);
    let (st, cell) = (state.clone(), cell.clone());
    state.tasks.spawn(async move {
        match on_upgrade.await {
            Ok(up) => serve_socket(st, cell, sub, gap, up).await,
            Err(_) => {
                st.metrics.connection_errors.fetch_add(1, Relaxed);
            }
        }
    });
    switching(accept)
}

/// The `101` answering an opening handshake with `accept`.
pub(crate) fn switching(accept: HeaderValue) -> Response<BoxBody> {
    let mut r = full(StatusCode::SWITCHING_PROTOCOLS, "text/plain", Bytes::new());
    let h = r.headers_mut();
    h.remove(header::CONTENT_TYPE);
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    r
}

/// Why an opening handshake is refused (`400`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Malformed: the text says what is wrong.
    Bad(&'static str),
    /// Not `Sec-WebSocket-Version: 13` (the answer names the version supported).
    Version,
}

impl Refusal {
    pub(crate) fn response(self) -> Response<BoxBody> {
        let why = match self {
            Refusal::Bad(why) => why,
            Refusal::Version => "Sec-WebSocket-Version must be 13",
        };
        let mut r = error(
            StatusCode::BAD_REQUEST,
            format!("bad WebSocket handshake: {why}"),
        );
        if self == Refusal::Version {
            r.headers_mut().insert(
                header::SEC_WEBSOCKET_VERSION,
                HeaderValue::from_static("13"),
            );
        }
        r
    }
}

/// Checks the opening handshake (RFC 6455 4.2.1): the `Sec-WebSocket-Accept` value to answer
/// with, or why it is refused.
pub(crate) fn handshake(req: &Request<Incoming>) -> Result<HeaderValue, Refusal> {
    if !has_token(req, header::UPGRADE, "websocket")
        || !has_token(req, header::CONNECTION, "upgrade")
    {
        return Err(Refusal::Bad(
            "Upgrade: websocket and Connection: Upgrade required",
        ));
    }
    if req.version() < Version::HTTP_11 {
        // RFC 6455 4.1: the opening handshake is an HTTP/1.1 (or later) GET; an HTTP/1.0
        // connection cannot be upgraded, so say so instead of switching and dropping it.
        return Err(Refusal::Bad(
            "HTTP/1.1 or higher required (the request is HTTP/1.0)",
        ));
    }
    if req
        .headers()
        .get(header::SEC_WEBSOCKET_VERSION)
        .map(|v| v.as_bytes())
        != Some(b"13")
    {
        return Err(Refusal::Version);
    }
    let Some(key) = req.headers().get(header::SEC_WEBSOCKET_KEY) else {
        return Err(Refusal::Bad("Sec-WebSocket-Key missing"));
    };
    if !valid_key(key.as_bytes()) {
        return Err(Refusal::Bad(
            "Sec-WebSocket-Key must be a base64-encoded 16-byte nonce",
        ));
    }
    HeaderValue::from_str(&derive_accept_key(key.as_bytes()))
        .map_err(|_| Refusal::Bad("Sec-WebSocket-Key"))
}

/// The WebSocket configuration: small buffers, frames written at once.
pub fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(0)
        .max_message_size(Some(MAX_CLIENT_MESSAGE_BYTES))
        .max_frame_size(Some(MAX_CLIENT_MESSAGE_BYTES))
}

/// An upgraded connection's WebSocket.
pub(crate) type Socket = WebSocketStream<TokioIo<Upgraded>>;

/// Sends a close frame (within a bounded time).
pub(crate) async fn close(ws: &mut Socket, code: CloseCode, reason: &'static str) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, ws.close(Some(frame))).await;
}

async fn serve_socket(
    state: State,
    cell: Arc<ConnCell>,
    mut sub: Subscription,
    gap: Option<Gap>,
    up: Upgraded,
) {
    let mut ws =
        WebSocketStream::from_raw_socket(TokioIo::new(up), Role::Server, Some(config())).await;
    let stall = stall_watch(&cell, state.signals.subscribe(), state.hub.queue());
    let main = async {
        if let Some(g) = gap {
            ws.send(WsMessage::text(g.object_json())).await?;
        }
        loop {
            tokio::select! {
                ev = sub.next() => match ev {
                    Event::Message(m) => ws.send(WsMessage::Text(m.ws_text())).await?,
                    Event::Heartbeat => ws.send(WsMessage::Ping(Bytes::new())).await?,
                    Event::Slow => return Ok(()),
                    Event::Shutdown => {
                        close(&mut ws, CloseCode::Away, "server shutting down").await;
                        return Ok(());
                    }
                },
                incoming = ws.next() => match incoming {
                    None => return Ok(()),
                    Some(Ok(WsMessage::Close(_))) => {
                        // tungstenite queued the close reply; send it.
                        let _ = tokio::time::timeout(CLOSE_TIMEOUT, ws.flush()).await;
                        return Ok(());
                    }
                    // Pongs to pings are queued by tungstenite; push them out now.
                    Some(Ok(WsMessage::Ping(_))) => ws.flush().await?,
                    Some(Ok(_)) => {}
                    Some(Err(tungstenite::Error::Protocol(_) | tungstenite::Error::Capacity(_)
                        | tungstenite::Error::Utf8(_))) => {
                        state.metrics.connection_errors.fetch_add(1, Relaxed);
                        close(&mut ws, CloseCode::Protocol, "malformed frame").await;
                        return Ok(());
                    }
                    Some(Err(e)) => return Err(e),
                }
            }
        }
    };
    tokio::select! {
        r = main => {
            if r.is_err() {
                state.metrics.connection_errors.fetch_add(1, Relaxed);
            }
        }
        _ = stall => {
            cell.mark_slow();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::valid_key;

    #[test]
    fn keys_must_be_16_byte_base64_nonces() {
        assert!(valid_key(b"dGhlIHNhbXBsZSBub25jZQ=="));
        for bad in [
            &b"YWJj"[..],
            b"not-base64!!",
            b"",
            b"dGhlIHNhbXBsZSBub25jZQ",
            b"dGhlIHNhbXBsZSBub25jZSE=",
            b"dGhlIHNhbXBsZSBub25jZQ==dGhl",
        ] {
            assert!(!valid_key(bad), "{}", String::from_utf8_lossy(bad));
        }
    }
}

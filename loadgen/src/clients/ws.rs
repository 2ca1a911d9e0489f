//! WebSocket: `GET /ws/{topic}?since=N` upgraded by tokio-tungstenite's client over the
//! counting socket (so the upgrade and every frame header are counted), with a small read
//! buffer. Each text frame is a JSON message or gap. Pings are answered with pongs by
//! tungstenite as the client keeps reading. On shutdown the client closes with a close
//! handshake (as `ws.close()` does); on any failure it reconnects with `since` = the id of the
//! last message it received.

use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message as Frame};

use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};

use super::framing::Reader;
use super::idle::{IdleTimer, Stop};
use super::{Client, ClientError};
use crate::profile::Cursor;

/// tungstenite's read buffer per connection (its default, 128 KiB, would dominate memory).
pub const WS_READ_BUFFER: usize = 4096;

pub(super) async fn run(c: &mut Client) {
    let mut since = c.spec.since.to_string();
    while !c.shutdown.is_cancelled() {
        match session(c, &mut since).await {
            Ok(()) => return,
            Err(e) => {
                if c.forgets_cursor() {
                    // Classic: the page reopens the URL it started with, without a cursor.
                    since = c.spec.since.to_string();
                }
                let wait = c.failed(&e);
                if !c.pause(wait).await {
                    return;
                }
            }
        }
    }
}

fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(WS_READ_BUFFER)
        .write_buffer_size(0)
}

/// One WebSocket connection, until shutdown (`Ok`) or an error (including a close by the
/// server).
async fn session(c: &mut Client, since: &mut String) -> Result<(), ClientError> {
    let (s, t0) = c.open().await?;
    let url = format!("ws://{}{}", c.spec.host, c.path_at(since));
    let mut request = url.into_client_request().map_err(from_ws)?;
    for (name, value) in c.extra_headers() {
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) else {
            return Err(ClientError::Protocol(format!(
                "bad header `{name}` in the profile"
            )));
        };
        request.headers_mut().insert(name, value);
    }
    c.rec.request();
    let upgrade = tokio_tungstenite::client_async_with_config(request, s, Some(config()));
    let (mut ws, _response) = match tokio::time::timeout(c.spec.read_timeout, upgrade).await {
        Ok(r) => r.map_err(from_ws)?,
        Err(_) => return Err(ClientError::Timeout("the WebSocket upgrade")),
    };
    c.answered(t0);
    c.succeeded();
    // One timer and one shutdown future for the connection, not one of each per frame.
    let mut idle = IdleTimer::new(c.spec.read_timeout);
    let mut stop = Stop::new(&c.shutdown);
    loop {
        let next = tokio::select! {
            biased;
            r = ws.next() => r,
            _ = idle.expired() => return Err(ClientError::Timeout("a WebSocket frame")),
            _ = &mut stop => {
                // Close handshake: send a close frame, read until the server's answer.
                if ws.close(None).await.is_ok() {
                    while let Some(Ok(_)) = ws.next().await {}
                }
                return Ok(());
            }
        };
        idle.touch();
        let frame = match next {
            None => return Err(ClientError::Closed),
            Some(r) => r.map_err(from_ws)?,
        };
        let bytes: &[u8] = match &frame {
            Frame::Text(t) => t.as_bytes(),
            Frame::Binary(b) => b,
            // Pongs to pings go out on the next read; a close is answered by tungstenite and
            // the stream then ends.
            Frame::Ping(_) | Frame::Pong(_) | Frame::Close(_) | Frame::Frame(_) => continue,
        };
        let mut reader = Reader {
            technique: c.spec.technique,
            rec: &c.rec,
            sink: &mut c.sink,
        };
        let id = reader.message(&c.sub.framing, bytes);
        if let Some(id) = id.filter(|_| c.sub.cursor == Cursor::SinceParam) {
            *since = id;
        }
    }
}

/// Maps a tungstenite error to a counted client error.
pub fn from_ws(e: WsError) -> ClientError {
    match e {
        WsError::Http(r) => ClientError::Status {
            status: r.status().as_u16(),
            retry_after: r
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .map(std::time::Duration::from_secs),
        },
        WsError::Io(e) => ClientError::from_io(e),
        WsError::ConnectionClosed | WsError::AlreadyClosed => ClientError::Closed,
        WsError::Protocol(p) => match p {
            tokio_tungstenite::tungstenite::error::ProtocolError::ResetWithoutClosingHandshake => {
                ClientError::Closed
            }
            p => ClientError::Protocol(p.to_string()),
        },
        other => ClientError::Protocol(other.to_string()),
    }
}

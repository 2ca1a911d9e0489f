//! A request-scoped stream over WebSocket: `GET /generate/ws` upgraded (tungstenite over the
//! counting socket, so the upgrade and every frame header are counted), then ONE text message
//! with the request's JSON; each text message back is an event; the server's close with code
//! 1000 ends the stream. The request is sent when that message is: the upgrade is the
//! connection's set-up (in `connect_ms`), not part of TTFT.

use std::time::Instant;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::plan::{END_GRACE, Plan, micros, parse_event};
use super::recorder::StreamTrack;
use crate::clients::{ClientError, WS_READ_BUFFER, from_ws};
use crate::payload;

/// Request `index`: upgrades, sends `body`, reads events until the server's close.
pub(super) async fn run(
    p: &Plan,
    index: u64,
    body: &[u8],
    t: &mut StreamTrack,
) -> Result<(), ClientError> {
    let t0 = Instant::now();
    let s = p.connect(index).await?;
    let url = format!("ws://{}{}", p.host, p.path("/generate/ws"));
    let request = url.into_client_request().map_err(from_ws)?;
    let config = WebSocketConfig::default()
        .read_buffer_size(WS_READ_BUFFER)
        .write_buffer_size(0);
    p.rec.request();
    let upgrade = tokio_tungstenite::client_async_with_config(request, s, Some(config));
    let (mut ws, _) = match tokio::time::timeout(p.read_timeout, upgrade).await {
        Ok(r) => r.map_err(from_ws)?,
        Err(_) => return Err(ClientError::Timeout("the WebSocket upgrade")),
    };
    p.rec.record_connect(micros(t0.elapsed()));
    let text = String::from_utf8_lossy(body).into_owned();
    t.sent_now();
    match tokio::time::timeout(p.read_timeout, ws.send(Frame::text(text))).await {
        Ok(r) => r.map_err(from_ws)?,
        Err(_) => return Err(ClientError::Timeout("sending the request")),
    }
    let quiet = p.quiet_limit();
    loop {
        let limit = if t.is_done() { END_GRACE } else { quiet };
        let next = match tokio::time::timeout(limit, ws.next()).await {
            Ok(n) => n,
            Err(_) if t.is_done() => return Ok(()),
            Err(_) => return Err(ClientError::Timeout("a WebSocket message")),
        };
        let frame = match next {
            None if t.is_done() => return Ok(()),
            None => return Err(ClientError::Closed),
            Some(Err(_)) if t.is_done() => return Ok(()),
            Some(r) => r.map_err(from_ws)?,
        };
        let at = Instant::now();
        match frame {
            Frame::Text(text) => {
                if t.is_done() {
                    return Err(ClientError::Protocol("a message after the close".into()));
                }
                let meta = parse_event(text.as_bytes())?
                    .pushbench
                    .ok_or_else(|| ClientError::Protocol("an event without `pushbench`".into()))?;
                t.event(
                    &p.rr,
                    &p.rec,
                    Some(meta.seq),
                    Some(meta.due_us),
                    at,
                    payload::now_us(),
                )
                .map_err(|e| ClientError::Protocol(e.to_string()))?;
            }
            Frame::Close(frame) => {
                let code = frame.as_ref().map(|f| f.code);
                if code != Some(CloseCode::Normal) {
                    let why = frame.map(|f| format!("{} {}", u16::from(f.code), f.reason));
                    return Err(ClientError::Protocol(format!(
                        "closed with {}",
                        why.unwrap_or_else(|| "no code".into())
                    )));
                }
                // tungstenite answers the close; the stream then ends.
                t.done(&p.rr, at);
            }
            _ => {}
        }
    }
}

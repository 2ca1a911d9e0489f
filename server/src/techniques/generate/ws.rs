//! `GET /generate/ws`: after the upgrade the client sends ONE text message, the request JSON;
//! the server sends one text message per event, then closes with 1000 "done". A bad request
//! is closed with 1008 and its one-line reason; shutdown closes with 1001. Pings are answered,
//! other client messages ignored; a client that closes or leaves ends the stream at once.

use std::sync::atomic::Ordering::Relaxed;

use futures_util::{SinkExt, StreamExt};
use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role};

use super::Started;
use super::pace::{self, Step};
use super::request::{GenerateSpec, MAX_BODY_BYTES, SpecError};
use crate::metrics::Technique;
use crate::response::BoxBody;
use crate::state::State;
use crate::techniques::ws::{CLOSE_TIMEOUT, Socket, config, handshake, switching};

/// Longest close reason (a close frame's payload is at most 125 bytes, 2 of them the code).
const MAX_REASON_BYTES: usize = 123;

/// `GET /generate/ws`: validates the handshake, answers `101`, serves the socket in a task.
pub async fn handle(mut req: Request<Incoming>, state: &State) -> Response<BoxBody> {
    let accept = match handshake(&req) {
        Ok(a) => a,
        Err(refusal) => return refusal.response(),
    };
    let on_upgrade = hyper::upgrade::on(&mut req);
    let st = state.clone();
    state.tasks.spawn(async move {
        match on_upgrade.await {
            Ok(up) => {
                let config = config().max_message_size(Some(MAX_BODY_BYTES));
                let ws =
                    WebSocketStream::from_raw_socket(TokioIo::new(up), Role::Server, Some(config))
                        .await;
                serve(st, ws).await;
            }
            Err(_) => {
                st.metrics.connection_errors.fetch_add(1, Relaxed);
            }
        }
    });
    switching(accept)
}

/// How a socket ended, for the close frame.
enum End {
    /// Every event sent.
    Done,
    /// The request was refused.
    Bad(String),
    /// The server is shutting down.
    Shutdown,
    /// The client closed or left (nothing more to send).
    Gone,
}

async fn serve(state: State, mut ws: Socket) {
    let end = match request(&state, &mut ws).await {
        Ok(spec) => {
            let started = Started::new(&state, spec, Technique::Ws);
            match send_events(&state, &mut ws, started).await {
                Ok(end) => end,
                Err(_) => {
                    state.metrics.connection_errors.fetch_add(1, Relaxed);
                    End::Gone
                }
            }
        }
        Err(end) => end,
    };
    let (code, mut reason) = match end {
        End::Done => (CloseCode::Normal, "done".to_string()),
        End::Bad(why) => {
            pace::bad_request(&state.metrics, Technique::Ws);
            (CloseCode::Policy, why)
        }
        End::Shutdown => (CloseCode::Away, "server shutting down".to_string()),
        End::Gone => return,
    };
    if reason.len() > MAX_REASON_BYTES {
        let mut cut = MAX_REASON_BYTES;
        while !reason.is_char_boundary(cut) {
            cut -= 1;
        }
        reason.truncate(cut);
    }
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    // Send the close, then wait (briefly) for the client's: a clean closing handshake.
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
        ws.close(Some(frame)).await?;
        while let Some(m) = ws.next().await {
            m?;
        }
        Ok::<(), tokio_tungstenite::tungstenite::Error>(())
    })
    .await;
}

/// Waits for the request message (within `--body-read-timeout`) and parses it.
async fn request(state: &State, ws: &mut Socket) -> Result<GenerateSpec, End> {
    let read = async {
        loop {
            match ws.next().await {
                None | Some(Ok(WsMessage::Close(_))) => {
                    let _ = ws.flush().await;
                    return Err(End::Gone);
                }
                Some(Ok(WsMessage::Text(t))) => {
                    let max = state.args.max_payload_bytes as u64;
                    return GenerateSpec::parse(t.as_bytes(), max)
                        .map_err(|e| End::Bad(e.to_string()));
                }
                Some(Ok(WsMessage::Ping(_))) => {
                    if ws.flush().await.is_err() {
                        return Err(End::Gone);
                    }
                }
                Some(Ok(WsMessage::Pong(_) | WsMessage::Frame(_))) => {}
                Some(Ok(WsMessage::Binary(_))) => {
                    return Err(End::Bad(
                        "bad generate request: send the request JSON as a text message".into(),
                    ));
                }
                Some(Err(tokio_tungstenite::tungstenite::Error::Capacity(_))) => {
                    return Err(End::Bad(SpecError::TooLarge.to_string()));
                }
                Some(Err(_)) => {
                    state.metrics.connection_errors.fetch_add(1, Relaxed);
                    return Err(End::Gone);
                }
            }
        }
    };
    match tokio::time::timeout(state.args.body_read_timeout, read).await {
        Ok(r) => r,
        Err(_) => Err(End::Bad(
            "bad generate request: no request message within --body-read-timeout".into(),
        )),
    }
}

/// Sends the events at their due times; how it ended.
async fn send_events(
    state: &State,
    ws: &mut Socket,
    started: Started,
) -> Result<End, tokio_tungstenite::tungstenite::Error> {
    let (mut pacer, encoder, mut tally) = started.pacer(state);
    loop {
        tokio::select! {
            step = pacer.next() => match step {
                Step::Event { seq, due_us } => {
                    let json = encoder.json(seq, due_us);
                    let text = String::from_utf8(json)
                        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
                    ws.send(WsMessage::text(text)).await?;
                    tally.sent(1);
                }
                Step::Done => {
                    tally.complete();
                    return Ok(End::Done);
                }
                Step::Shutdown => return Ok(End::Shutdown),
            },
            incoming = ws.next() => match incoming {
                None => return Ok(End::Gone),
                Some(Ok(WsMessage::Close(_))) => {
                    // tungstenite queued the close reply; send it.
                    let _ = tokio::time::timeout(CLOSE_TIMEOUT, ws.flush()).await;
                    return Ok(End::Gone);
                }
                Some(Ok(WsMessage::Ping(_))) => ws.flush().await?,
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e),
            }
        }
    }
}

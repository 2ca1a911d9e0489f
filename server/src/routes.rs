//! Routing: which technique a request belongs to (for counting), the small endpoints (`/`,
//! `/stats`, `/metrics`, `/stats/reset`, `/publish`), errors (400, 404, 405, 408, 413), CORS and
//! `OPTIONS` preflights, and the response body type that tells the connection's byte counter
//! when a response ended.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, combinators::UnsyncBoxBody};
use hyper::body::{Frame, Incoming, SizeHint};

use crate::body::{self, BodyError};
use crate::counting::{ConnCell, ResponseDone};
use crate::hub::valid_name;
use crate::metrics::Technique;
use crate::{PublishError, State, long_poll, poll, sse, stream, ws};

/// A boxed response body.
pub type BoxBody = UnsyncBoxBody<Bytes, io::Error>;

/// The page served at `GET /`.
const DEMO_HTML: &str = include_str!("../assets/demo.html");

/// Every response body: a boxed body plus the guard marking the end of the response.
pub struct Body {
    inner: BoxBody,
    _done: ResponseDone,
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Body")
    }
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A complete response with a fixed body.
pub fn full(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<BoxBody> {
    let mut r = Response::new(
        Full::new(body.into())
            .map_err(|e| match e {})
            .boxed_unsync(),
    );
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// A plain-text error saying what was wrong.
pub fn error(status: StatusCode, msg: impl Into<String>) -> Response<BoxBody> {
    let mut m = msg.into();
    m.push('\n');
    full(status, "text/plain; charset=utf-8", m)
}

/// A JSON answer that must not be cached.
pub fn json_no_store(body: impl Into<Bytes>) -> Response<BoxBody> {
    let mut r = full(StatusCode::OK, "application/json", body);
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// Value of query parameter `key` (first occurrence), not decoded.
pub fn query_param<'a>(req: &'a Request<Incoming>, key: &str) -> Option<&'a str> {
    req.uri().query()?.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (k == key).then_some(v)
    })
}

/// A `400` answer to be: what was wrong with the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRequest(pub String);

impl BadRequest {
    /// The `400` response.
    pub fn response(self) -> Response<BoxBody> {
        error(StatusCode::BAD_REQUEST, self.0)
    }
}

/// Parses a cursor or other non-negative integer parameter.
pub fn parse_u64(what: &str, v: &str) -> Result<u64, BadRequest> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(BadRequest(format!(
            "bad {what} {v:?}: expected a non-negative integer"
        )));
    }
    v.parse()
        .map_err(|_| BadRequest(format!("bad {what} {v:?}: too large")))
}

/// The `since` cursor of a request (0 when absent).
pub fn since(req: &Request<Incoming>) -> Result<u64, BadRequest> {
    query_param(req, "since").map_or(Ok(0), |v| parse_u64("cursor since", v))
}

enum Route<'a> {
    Demo,
    Stats,
    Metrics,
    StatsReset,
    DebugPanic,
    Topic(Technique, &'a str),
    NotFound,
}

fn parse_route(path: &str, debug_panic: bool) -> Route<'_> {
    match path {
        "/" | "/index.html" => return Route::Demo,
        "/stats" => return Route::Stats,
        "/metrics" => return Route::Metrics,
        "/stats/reset" => return Route::StatsReset,
        "/debug/panic" if debug_panic => return Route::DebugPanic,
        _ => {}
    }
    let Some((prefix, topic)) = path.strip_prefix('/').and_then(|p| p.split_once('/')) else {
        return Route::NotFound;
    };
    let t = match prefix {
        "publish" => Technique::Publish,
        "poll" => Technique::Poll,
        "long-poll" => Technique::LongPoll,
        "stream" => Technique::Stream,
        "sse" => Technique::Sse,
        "ws" => Technique::Ws,
        _ => return Route::NotFound,
    };
    Route::Topic(t, topic)
}

type HandlerFuture = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

/// Serves one request on the connection described by `cell`. The future is boxed so the
/// per-connection state hyper keeps between requests stays small.
pub fn handle(req: Request<Incoming>, state: State, cell: Arc<ConnCell>) -> HandlerFuture {
    Box::pin(async move {
        let resp = dispatch(req, &state, &cell).await;
        let mut resp = resp.map(|inner| Body {
            inner,
            _done: ResponseDone(cell),
        });
        if let Some(origin) = &state.args.allow_origin {
            if let Ok(v) = HeaderValue::from_str(origin) {
                resp.headers_mut()
                    .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
            }
        }
        Ok(resp)
    })
}

async fn dispatch(
    req: Request<Incoming>,
    state: &State,
    cell: &Arc<ConnCell>,
) -> Response<BoxBody> {
    let path = req.uri().path().to_owned();
    let route = parse_route(&path, state.args.debug_panic_route);
    let technique = match route {
        Route::Topic(t, _) => t,
        _ => Technique::Other,
    };
    cell.route(technique);
    state.metrics.of(technique).requests.fetch_add(1, Relaxed);

    let method = req.method().clone();
    let wanted = match route {
        Route::StatsReset => Method::POST,
        Route::Topic(Technique::Publish, _) => Method::POST,
        Route::NotFound => {
            return error(StatusCode::NOT_FOUND, format!("no such path: {path}"));
        }
        _ => Method::GET,
    };
    if method == Method::OPTIONS {
        return preflight(&req, state);
    }
    if method != wanted {
        let mut r = error(StatusCode::METHOD_NOT_ALLOWED, format!("use {wanted}"));
        let allow = HeaderValue::from_str(&format!("{wanted}, OPTIONS")).expect("static ascii");
        r.headers_mut().insert(header::ALLOW, allow);
        return r;
    }
    match route {
        Route::Demo => full(StatusCode::OK, "text/html; charset=utf-8", DEMO_HTML),
        Route::Stats => match state.stats_json().await {
            Ok(v) => json_no_store(v.to_string()),
            Err(e) => unavailable(e),
        },
        Route::Metrics => match state.stats_json().await {
            Ok(v) => full(
                StatusCode::OK,
                "text/plain; version=0.0.4; charset=utf-8",
                crate::metrics::prometheus(&v),
            ),
            Err(e) => unavailable(e),
        },
        Route::StatsReset => match state.reset_stats().await {
            Ok(()) => json_no_store("{\"reset\":true}"),
            Err(e) => unavailable(e),
        },
        Route::DebugPanic => panic!("GET /debug/panic (--debug-panic-route): a deliberate panic"),
        Route::NotFound => unreachable!("answered above"),
        Route::Topic(t, topic) => {
            if !valid_name(topic) {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("bad topic {topic:?}: 1 to 64 characters from [A-Za-z0-9_.-]"),
                );
            }
            match t {
                Technique::Publish => publish(req, state, topic).await,
                Technique::Poll => poll::handle(&req, state, topic),
                Technique::LongPoll => long_poll::handle(req, state, topic).await,
                Technique::Stream => stream::handle(&req, state, cell, topic),
                Technique::Sse => sse::handle(&req, state, cell, topic),
                Technique::Ws => ws::handle(req, state, cell, topic),
                Technique::Other => unreachable!("topic routes have a technique"),
            }
        }
    }
}

fn preflight(req: &Request<Incoming>, state: &State) -> Response<BoxBody> {
    let mut r = full(
        StatusCode::NO_CONTENT,
        "text/plain; charset=utf-8",
        Bytes::new(),
    );
    let h = r.headers_mut();
    h.remove(header::CONTENT_TYPE);
    h.insert(
        header::ALLOW,
        HeaderValue::from_static("GET, POST, OPTIONS"),
    );
    if state.args.allow_origin.is_some() {
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, OPTIONS"),
        );
        let asked = req
            .headers()
            .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .cloned()
            .unwrap_or(HeaderValue::from_static("last-event-id, content-type"));
        h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked);
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
    }
    r
}

async fn publish(req: Request<Incoming>, state: &State, topic: &str) -> Response<BoxBody> {
    let max = state.args.max_payload_bytes;
    let event = match query_param(&req, "event") {
        None => None,
        Some(e) if valid_name(e) => Some(e.to_string()),
        Some(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("bad event name {e:?}: 1 to 64 characters from [A-Za-z0-9_.-]"),
            );
        }
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let mut lease = state.body_budget.lease();
    let timeout = state.args.body_read_timeout;
    let body = match body::read(req.into_body(), declared, max, timeout, &mut lease).await {
        Ok(b) => b,
        Err(BodyError::TooLarge) => return too_large(max),
        Err(BodyError::Timeout) => {
            state.metrics.body_timeouts.fetch_add(1, Relaxed);
            return closing(error(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the body did not arrive within --body-read-timeout ({})",
                    humantime::format_duration(timeout)
                ),
            ));
        }
        Err(BodyError::Budget) => {
            state.metrics.body_buffer_rejections.fetch_add(1, Relaxed);
            return closing(unavailable(
                "the server is buffering its limit of publish bodies (--body-buffer-bytes)",
            ));
        }
        Err(BodyError::Bad(e)) => return error(StatusCode::BAD_REQUEST, format!("bad body: {e}")),
    };
    let Ok(data) = std::str::from_utf8(&body) else {
        return error(StatusCode::BAD_REQUEST, "bad payload: not UTF-8");
    };
    match state.publish_anywhere(topic, event.as_deref(), data).await {
        Ok(seq) => {
            let topic_json = serde_json::to_string(topic).unwrap_or_default();
            json_no_store(format!("{{\"topic\":{topic_json},\"id\":{seq}}}"))
        }
        Err(PublishError::Encode(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => unavailable(e),
    }
}

/// `503` with `Retry-After: 1`: the server cannot do this now (too many topics, a cluster
/// supervisor that does not answer); the body says why.
pub fn unavailable(why: impl std::fmt::Display) -> Response<BoxBody> {
    let mut r = error(StatusCode::SERVICE_UNAVAILABLE, why.to_string());
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    r
}

fn too_large(max: usize) -> Response<BoxBody> {
    closing(error(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("payload larger than --max-payload-bytes ({max} bytes)"),
    ))
}

/// Marks `r` as the last answer on its connection (the request body was not read whole).
fn closing(mut r: Response<BoxBody>) -> Response<BoxBody> {
    r.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    r
}

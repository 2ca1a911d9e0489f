//! The router, above everything a request can reach: which endpoint a path is for (its own
//! [`Route`]), which technique's counters the request and its connection's bytes go to, the
//! method each endpoint takes (`405` otherwise, `OPTIONS` answered by `cors`), then the
//! answer: the demo page, `/stats`, `/metrics`, `/stats/reset`, `/publish`, one of the
//! push techniques, or a request-scoped stream (`/generate/...`). Nothing imports the router but the accept loop.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode, Version};
use hyper::body::Incoming;

use crate::counting::{ConnCell, ResponseDone};
use crate::hub::valid_name;
use crate::metrics::{self, Protocol, Technique};
use crate::response::{Body, BoxBody, error, full, json_no_store, unavailable};
use crate::state::State;
use crate::techniques::generate::{self, Endpoint};
use crate::techniques::live::Live;
use crate::techniques::{long_poll, poll, sse, stream, ws};
use crate::{cors, publish};

/// The page served at `GET /`.
const DEMO_HTML: &str = include_str!("../assets/demo.html");

/// A push technique: how a client receives the messages of a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Push {
    Poll,
    LongPoll,
    Stream,
    Sse,
    Ws,
}

impl Push {
    /// The technique whose counters it is counted in.
    pub fn counted_as(self) -> Technique {
        match self {
            Push::Poll => Technique::Poll,
            Push::LongPoll => Technique::LongPoll,
            Push::Stream => Technique::Stream,
            Push::Sse => Technique::Sse,
            Push::Ws => Technique::Ws,
        }
    }
}

/// What a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route<'a> {
    /// `GET /` or `/index.html`: the demo page.
    Demo,
    /// `GET /stats`.
    Stats,
    /// `GET /metrics`.
    Metrics,
    /// `POST /stats/reset`.
    StatsReset,
    /// `GET /debug/panic`, only with `--debug-panic-route`.
    DebugPanic,
    /// `POST /publish/{topic}`.
    Publish(&'a str),
    /// `GET /{technique}/{topic}`.
    Subscribe(Push, &'a str),
    /// `/generate/...`: a request-scoped stream.
    Generate(Endpoint<'a>),
    /// Anything else.
    NotFound,
}

impl Route<'_> {
    /// Parses a request path (`debug_panic`: whether `/debug/panic` exists).
    pub fn parse(path: &str, debug_panic: bool) -> Route<'_> {
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
        let push = match prefix {
            "publish" => return Route::Publish(topic),
            "generate" => return Endpoint::parse(topic).map_or(Route::NotFound, Route::Generate),
            "poll" => Push::Poll,
            "long-poll" => Push::LongPoll,
            "stream" => Push::Stream,
            "sse" => Push::Sse,
            "ws" => Push::Ws,
            _ => return Route::NotFound,
        };
        Route::Subscribe(push, topic)
    }

    /// The technique whose counters the request is counted in.
    pub fn counted_as(self) -> Technique {
        match self {
            Route::Publish(_) => Technique::Publish,
            Route::Subscribe(push, _) => push.counted_as(),
            Route::Generate(endpoint) => endpoint.counted_as(),
            _ => Technique::Other,
        }
    }

    /// The method the endpoint takes (`None`: there is no endpoint).
    pub fn method(self) -> Option<Method> {
        match self {
            Route::NotFound => None,
            Route::StatsReset | Route::Publish(_) => Some(Method::POST),
            Route::Generate(endpoint) => Some(endpoint.method()),
            _ => Some(Method::GET),
        }
    }
}

type HandlerFuture = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

/// Serves one request on the connection described by `cell`. The future is boxed so the
/// per-connection state hyper keeps between requests stays small.
pub fn handle(req: Request<Incoming>, state: State, cell: Arc<ConnCell>) -> HandlerFuture {
    Box::pin(async move {
        let h2 = req.version() == Version::HTTP_2;
        let resp = dispatch(req, &state, &cell).await;
        let mut resp = resp.map(|inner| Body::new(inner, ResponseDone(cell.clone())));
        cors::allow_origin(&mut resp, &state.args);
        mark_protocol(&mut resp, &cell, h2);
        Ok(resp)
    })
}

/// On a TLS or HTTP/2 connection, says which in `x-pushbench-protocol` (the demo page shows
/// it; an HTTP/1.1 cleartext answer is unchanged). An HTTP/2 answer carries no
/// connection-specific header (RFC 9113 8.2.2).
fn mark_protocol(resp: &mut Response<Body>, cell: &ConnCell, h2: bool) {
    let h = resp.headers_mut();
    if let Some(p) = cell.protocol().filter(|p| *p != Protocol::H1) {
        h.insert("x-pushbench-protocol", HeaderValue::from_static(p.header()));
    }
    if h2 {
        for name in [
            "connection",
            "transfer-encoding",
            "keep-alive",
            "proxy-connection",
            "upgrade",
        ] {
            h.remove(name);
        }
    }
}

/// Whether a body-less `GET` of `path` may be served by the connection's front door (see
/// `front`): the routes whose answer is held open (SSE, stream, long poll).
pub fn front_door_route(path: &str) -> bool {
    matches!(
        Route::parse(path, false),
        Route::Subscribe(Push::Sse | Push::Stream | Push::LongPoll, _)
    )
}

/// Serves a body-less `GET` to a [`front_door_route`] whose head the connection's front door
/// read itself: routed, counted, answered and given CORS headers exactly as [`handle`] does.
/// An SSE or stream subscription comes back as its [`Live`] beside the response's head (an
/// empty body), for the front door to write.
pub async fn handle_front_door(
    req: Request<()>,
    state: &State,
    cell: &Arc<ConnCell>,
) -> (Response<Body>, Option<Live>) {
    let path = req.uri().path().to_owned();
    let route = routed(&path, state, cell);
    let (resp, live) = match route {
        Route::Subscribe(_, topic) if !valid_name(topic) => (bad_topic(topic), None),
        Route::Subscribe(Push::Sse, topic) => {
            Live::head_and(sse::subscribe(&req, state, cell, topic).await)
        }
        Route::Subscribe(Push::Stream, topic) => {
            Live::head_and(stream::subscribe(&req, state, cell, topic).await)
        }
        Route::Subscribe(Push::LongPoll, topic) => {
            (long_poll::handle(req, state, topic).await, None)
        }
        _ => (error(StatusCode::NOT_FOUND, "no such path"), None),
    };
    let mut resp = resp.map(|inner| Body::new(inner, ResponseDone(cell.clone())));
    cors::allow_origin(&mut resp, &state.args);
    (resp, live)
}

/// The route of `path`, with the request counted in its technique's counters (and the
/// connection's bytes from now on).
fn routed<'a>(path: &'a str, state: &State, cell: &ConnCell) -> Route<'a> {
    let route = Route::parse(path, state.args.debug_panic_route);
    let technique = route.counted_as();
    cell.route(technique);
    state.metrics.of(technique).requests.fetch_add(1, Relaxed);
    route
}

fn bad_topic(topic: &str) -> Response<BoxBody> {
    error(
        StatusCode::BAD_REQUEST,
        format!("bad topic {topic:?}: 1 to 64 characters from [A-Za-z0-9_.-]"),
    )
}

async fn dispatch(
    req: Request<Incoming>,
    state: &State,
    cell: &Arc<ConnCell>,
) -> Response<BoxBody> {
    let path = req.uri().path().to_owned();
    let route = routed(&path, state, cell);

    let Some(wanted) = route.method() else {
        return error(StatusCode::NOT_FOUND, format!("no such path: {path}"));
    };
    if req.method() == Method::OPTIONS {
        return cors::preflight(&req, &state.args);
    }
    if req.method() != wanted {
        let mut r = error(StatusCode::METHOD_NOT_ALLOWED, format!("use {wanted}"));
        let allow = HeaderValue::from_str(&format!("{wanted}, OPTIONS")).expect("static ascii");
        r.headers_mut().insert(header::ALLOW, allow);
        return r;
    }
    if req.version() == Version::HTTP_2 && route.counted_as() == Technique::Ws {
        return error(
            StatusCode::HTTP_VERSION_NOT_SUPPORTED,
            "WebSocket needs HTTP/1.1: this request came over HTTP/2 (connect without prior \
             knowledge, or with ALPN http/1.1)",
        );
    }
    match route {
        Route::Demo => full(StatusCode::OK, "text/html; charset=utf-8", DEMO_HTML),
        Route::Stats => match state.stats().await.map(|s| serde_json::to_vec(&s)) {
            Ok(Ok(json)) => json_no_store(json),
            Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
            Err(e) => unavailable(e),
        },
        Route::Metrics => match state.stats().await {
            Ok(stats) => full(
                StatusCode::OK,
                "text/plain; version=0.0.4; charset=utf-8",
                metrics::prometheus(&stats),
            ),
            Err(e) => unavailable(e),
        },
        Route::StatsReset => match state.reset_stats().await {
            Ok(()) => json_no_store("{\"reset\":true}"),
            Err(e) => unavailable(e),
        },
        Route::DebugPanic => panic!("GET /debug/panic (--debug-panic-route): a deliberate panic"),
        Route::Publish(topic) | Route::Subscribe(_, topic) if !valid_name(topic) => {
            bad_topic(topic)
        }
        Route::Publish(topic) => publish::handle(req, state, topic).await,
        Route::Generate(endpoint) => generate::handle(endpoint, req, state).await,
        Route::Subscribe(push, topic) => match push {
            Push::Poll => poll::handle(&req, state, topic).await,
            Push::LongPoll => long_poll::handle(req, state, topic).await,
            Push::Stream => stream::handle(&req, state, cell, topic).await,
            Push::Sse => sse::handle(&req, state, cell, topic).await,
            Push::Ws => ws::handle(req, state, cell, topic).await,
        },
        Route::NotFound => error(StatusCode::NOT_FOUND, format!("no such path: {path}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_route_to_their_endpoint_method_and_counters() {
        let cases = [
            ("/", Route::Demo, Some(Method::GET), Technique::Other),
            (
                "/index.html",
                Route::Demo,
                Some(Method::GET),
                Technique::Other,
            ),
            ("/stats", Route::Stats, Some(Method::GET), Technique::Other),
            (
                "/metrics",
                Route::Metrics,
                Some(Method::GET),
                Technique::Other,
            ),
            (
                "/stats/reset",
                Route::StatsReset,
                Some(Method::POST),
                Technique::Other,
            ),
            (
                "/publish/a",
                Route::Publish("a"),
                Some(Method::POST),
                Technique::Publish,
            ),
            (
                "/poll/a",
                Route::Subscribe(Push::Poll, "a"),
                Some(Method::GET),
                Technique::Poll,
            ),
            (
                "/long-poll/b",
                Route::Subscribe(Push::LongPoll, "b"),
                Some(Method::GET),
                Technique::LongPoll,
            ),
            (
                "/stream/c",
                Route::Subscribe(Push::Stream, "c"),
                Some(Method::GET),
                Technique::Stream,
            ),
            (
                "/sse/d",
                Route::Subscribe(Push::Sse, "d"),
                Some(Method::GET),
                Technique::Sse,
            ),
            (
                "/ws/e",
                Route::Subscribe(Push::Ws, "e"),
                Some(Method::GET),
                Technique::Ws,
            ),
            (
                "/ws/",
                Route::Subscribe(Push::Ws, ""),
                Some(Method::GET),
                Technique::Ws,
            ),
            (
                "/generate/sse",
                Route::Generate(Endpoint::Sse),
                Some(Method::POST),
                Technique::Sse,
            ),
            (
                "/generate/stream",
                Route::Generate(Endpoint::Stream),
                Some(Method::POST),
                Technique::Stream,
            ),
            (
                "/generate/ws",
                Route::Generate(Endpoint::Ws),
                Some(Method::GET),
                Technique::Ws,
            ),
            (
                "/generate/long-poll",
                Route::Generate(Endpoint::LongPoll),
                Some(Method::POST),
                Technique::LongPoll,
            ),
            (
                "/generate/long-poll/7-1",
                Route::Generate(Endpoint::Poll("7-1")),
                Some(Method::GET),
                Technique::LongPoll,
            ),
            (
                "/generate/long-poll/",
                Route::NotFound,
                None,
                Technique::Other,
            ),
            ("/generate/nope", Route::NotFound, None, Technique::Other),
            ("/debug/panic", Route::NotFound, None, Technique::Other),
            ("/nope/a", Route::NotFound, None, Technique::Other),
            ("/poll", Route::NotFound, None, Technique::Other),
        ];
        for (path, route, method, counted) in cases {
            let r = Route::parse(path, false);
            assert_eq!(r, route, "{path}");
            assert_eq!(r.method(), method, "{path}");
            assert_eq!(r.counted_as(), counted, "{path}");
        }
        assert_eq!(Route::parse("/debug/panic", true), Route::DebugPanic);
    }
}

//! Reading a request's parameters: query parameters, the `since` cursor and other
//! non-negative integers, and the `400` answer ([`BadRequest`]) when one is malformed; and its
//! whole body within the server's limits ([`read_body`], for `/publish` and `/generate`).

use std::sync::atomic::Ordering::Relaxed;

use http::{Request, Response, StatusCode, header};
use hyper::body::Incoming;

use crate::body::{self, BodyError};
use crate::response::{BoxBody, closing, error, unavailable};
use crate::state::State;

/// The whole body of `req`, at most `max` bytes, read within `--body-read-timeout` and the
/// body budget (`lease` holds its bytes until dropped); or the answer refusing it: `too_large`
/// (the caller's answer to an oversized body), `408` or `503` (each counted), all closing the
/// connection since the rest of the body is not read; `400` for a broken body.
pub async fn read_body(
    req: Request<Incoming>,
    state: &State,
    max: usize,
    lease: &mut body::Lease<'_>,
    too_large: impl FnOnce() -> Response<BoxBody>,
) -> Result<bytes::Bytes, Response<BoxBody>> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let timeout = state.args.body_read_timeout;
    match body::read(req.into_body(), declared, max, timeout, lease).await {
        Ok(b) => Ok(b),
        Err(BodyError::TooLarge) => Err(closing(too_large())),
        Err(BodyError::Timeout) => {
            state.metrics.body_timeouts.fetch_add(1, Relaxed);
            Err(closing(error(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the body did not arrive within --body-read-timeout ({})",
                    humantime::format_duration(timeout)
                ),
            )))
        }
        Err(BodyError::Budget) => {
            state.metrics.body_buffer_rejections.fetch_add(1, Relaxed);
            Err(closing(unavailable(
                "the server is buffering its limit of request bodies (--body-buffer-bytes)",
            )))
        }
        Err(BodyError::Bad(e)) => Err(error(StatusCode::BAD_REQUEST, format!("bad body: {e}"))),
    }
}

/// Value of query parameter `key` (first occurrence), not decoded.
pub fn query_param<'a, B>(req: &'a Request<B>, key: &str) -> Option<&'a str> {
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
pub fn since<B>(req: &Request<B>) -> Result<u64, BadRequest> {
    query_param(req, "since").map_or(Ok(0), |v| parse_u64("cursor since", v))
}

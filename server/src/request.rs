//! Reading a request's parameters: query parameters, the `since` cursor and other
//! non-negative integers, and the `400` answer ([`BadRequest`]) when one is malformed.

use http::{Request, Response, StatusCode};

use crate::response::{BoxBody, error};

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

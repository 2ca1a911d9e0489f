//! Cross-origin access (`--allow-origin`): the `Access-Control-Allow-Origin` header on every
//! answer, and the answer to an `OPTIONS` preflight (which, without `--allow-origin`, only
//! lists the methods).

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;

use crate::config::ServeArgs;
use crate::response::{BoxBody, full};

/// Adds `Access-Control-Allow-Origin` when the server has `--allow-origin`.
pub fn allow_origin<B>(resp: &mut Response<B>, args: &ServeArgs) {
    if let Some(origin) = &args.allow_origin {
        if let Ok(v) = HeaderValue::from_str(origin) {
            resp.headers_mut()
                .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
        }
    }
}

/// The `204` answer to an `OPTIONS` request.
pub fn preflight(req: &Request<Incoming>, args: &ServeArgs) -> Response<BoxBody> {
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
    if args.allow_origin.is_some() {
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

//! `POST /publish/{topic}[?event=NAME]`: reads the body within its limits (`body`), publishes
//! it (in this process, or through a cluster's supervisor) and answers `{"topic":..,"id":N}`;
//! `400` for a bad event name or payload, `408`/`413`/`503` (closing the connection) when the
//! body is too slow, too large, or over the server's body budget.

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;

use crate::error::PublishError;
use crate::hub::valid_name;
use crate::request::{query_param, read_body};
use crate::response::{BoxBody, error, json_no_store, unavailable};
use crate::state::State;

/// `POST /publish/{topic}` (`topic` is a valid name).
pub async fn handle(req: Request<Incoming>, state: &State, topic: &str) -> Response<BoxBody> {
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
    // The lease holds the body's bytes in the budget until the publish is answered.
    let mut lease = state.body_budget.lease();
    let max = state.args.max_payload_bytes;
    let too_large = || {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("payload larger than --max-payload-bytes ({max} bytes)"),
        )
    };
    let body = match read_body(req, state, max, &mut lease, too_large).await {
        Ok(b) => b,
        Err(refusal) => return refusal,
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

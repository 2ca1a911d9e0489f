//! Before a run with `--http 2`: does the target speak HTTP/2 at all? One connection (h2c with
//! prior knowledge in cleartext, ALPN `h2` under TLS), one `GET /stats` (any status will do),
//! then closed. A server that does not is refused at once with a line naming it, rather than
//! every client failing one by one for the whole run.

use std::time::Duration;

use super::target::{Target, TargetError};
use crate::config::HttpVersion;

/// Checks `target` answers one HTTP/2 request within `timeout`.
pub async fn check(target: &Target, timeout: Duration) -> Result<(), TargetError> {
    let addr = target.addr;
    let how = if target.tls.is_some() {
        "over TLS (ALPN h2)"
    } else {
        "in cleartext (h2c with prior knowledge)"
    };
    let refused = |why: String| TargetError::NoHttp2 { addr, how, why };
    let probe = async {
        let io = target.open(None, HttpVersion::H2, timeout).await?;
        let (mut send, conn) = h2::client::handshake(io)
            .await
            .map_err(|e| refused(e.to_string()))?;
        let driver = tokio::spawn(conn);
        let scheme = if target.tls.is_some() {
            "https"
        } else {
            "http"
        };
        let uri = format!("{scheme}://{}{}/stats", target.host, target.prefix);
        let req = http::Request::get(uri)
            .body(())
            .map_err(|e| refused(e.to_string()))?;
        let answer = async {
            let (resp, _) = send.send_request(req, true)?;
            resp.await
        };
        let r = answer.await.map_err(|e| refused(e.to_string()));
        driver.abort();
        r.map(|_| ())
    };
    tokio::time::timeout(timeout, probe)
        .await
        .map_err(|_| refused(format!("no HTTP/2 answer within {timeout:?}")))?
}

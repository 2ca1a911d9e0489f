//! The body of an HTTP/2 answer, read from its stream ([`H2Body`]): each DATA frame handed to
//! a sink as it arrives, its flow-control capacity released once handed on, every wait bounded
//! by the read timeout (one timer per stream, [`IdleTimer`]).

use std::time::Duration;

use h2::RecvStream;

use super::from_h2;
use crate::clients::ClientError;
use crate::clients::idle::IdleTimer;

/// The body of one answer: its stream. Dropped before its end, it resets the stream.
#[derive(Debug)]
pub struct H2Body {
    recv: RecvStream,
    /// The reads' timeout, armed by the first read.
    idle: Option<IdleTimer>,
}

impl H2Body {
    pub fn new(recv: RecvStream) -> H2Body {
        H2Body { recv, idle: None }
    }

    /// Reads the body further: passes the next DATA frame, which must arrive within
    /// `timeout`, to `sink`. Returns `Ok(false)` once the body is complete (as
    /// [`crate::clients::HttpConn::read_body`] does).
    pub async fn read_body<F>(
        &mut self,
        timeout: Duration,
        sink: &mut F,
    ) -> Result<bool, ClientError>
    where
        F: FnMut(&[u8]) -> Result<(), ClientError>,
    {
        if self.recv.is_end_stream() {
            return Ok(false);
        }
        let idle = self.idle.get_or_insert_with(|| IdleTimer::new(timeout));
        let data = tokio::select! {
            biased;
            d = self.recv.data() => d,
            _ = idle.expired() => return Err(ClientError::Timeout("the body")),
        };
        idle.touch();
        match data {
            None => Ok(false),
            Some(Err(e)) => Err(from_h2(e)),
            Some(Ok(bytes)) => {
                // Consumed (the sink keeps what it needs): the server may send as much again.
                let _ = self.recv.flow_control().release_capacity(bytes.len());
                sink(&bytes)?;
                Ok(!self.recv.is_end_stream())
            }
        }
    }

    /// Reads the whole body (at most `limit` bytes), each frame within `timeout`.
    pub async fn read_to_end(
        &mut self,
        timeout: Duration,
        limit: usize,
    ) -> Result<Vec<u8>, ClientError> {
        let mut out = Vec::new();
        let mut sink = crate::clients::http::collect_up_to(&mut out, limit);
        while self.read_body(timeout, &mut sink).await? {}
        drop(sink);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::h2::{CONNECTION_WINDOW, STREAM_WINDOW};
    use bytes::Bytes;

    /// A body three times the stream's window arrives whole only if its reader releases the
    /// capacity it consumes.
    #[tokio::test]
    async fn a_body_larger_than_the_window_arrives_whole() {
        let (client_io, server_io) = tokio::io::duplex(64 * 1024);
        let total = 3 * STREAM_WINDOW as usize;
        let server = tokio::spawn(async move {
            let mut conn = h2::server::handshake(server_io).await.unwrap();
            let (_req, mut respond) = conn.accept().await.unwrap().unwrap();
            let head = http::Response::new(());
            let mut body = respond.send_response(head, false).unwrap();
            // The connection is driven apart while this stream is written.
            tokio::spawn(async move { while conn.accept().await.is_some() {} });
            for _ in 0..total / 16384 {
                body.reserve_capacity(16384);
                while body.capacity() < 16384 {
                    std::future::poll_fn(|cx| body.poll_capacity(cx))
                        .await
                        .unwrap()
                        .unwrap();
                }
                body.send_data(Bytes::from(vec![7u8; 16384]), false)
                    .unwrap();
            }
            body.send_data(Bytes::new(), true).unwrap();
        });
        let (send, conn) = h2::client::Builder::new()
            .initial_window_size(STREAM_WINDOW)
            .initial_connection_window_size(CONNECTION_WINDOW)
            .handshake::<_, Bytes>(client_io)
            .await
            .unwrap();
        tokio::spawn(conn);
        let mut send = send.ready().await.unwrap();
        let req = http::Request::get("http://x/stream/t").body(()).unwrap();
        let (answer, _) = send.send_request(req, true).unwrap();
        let mut body = H2Body::new(answer.await.unwrap().into_body());
        let t = Duration::from_secs(10);
        let got = body
            .read_to_end(t, 4 * STREAM_WINDOW as usize)
            .await
            .unwrap();
        assert_eq!(got.len(), total);
        assert!(got.iter().all(|&b| b == 7));
        assert!(!body.read_body(t, &mut |_| Ok(())).await.unwrap(), "ended");
        server.await.unwrap();
    }
}

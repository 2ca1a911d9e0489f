//! The server under test as seen from the load generator: its address (a `--target` URL or
//! the child server's), a reachability check, a small HTTP/1.1 client for `/publish` and
//! `/stats`, and the parsed `/stats` snapshot (docs/PROTOCOL.md).

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use tokio::net::TcpStream;

use crate::technique::Technique;

/// Errors talking to the server outside the measured clients.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("--target: `{0}` is not an http://HOST:PORT[/PREFIX] URL")]
    BadUrl(String),
    #[error("--target: cannot resolve `{0}`")]
    Resolve(String),
    #[error("server {0} unreachable: no connection within {1:?}")]
    ConnectTimeout(SocketAddr, Duration),
    #[error("server {0} unreachable: {1}")]
    Connect(SocketAddr, std::io::Error),
    #[error("HTTP to {0}: {1}")]
    Http(SocketAddr, String),
    #[error("server {0} does not answer: request timed out after {1:?}")]
    Timeout(SocketAddr, Duration),
}

/// Where the server is.
#[derive(Debug, Clone)]
pub struct Target {
    /// The URL as given (or `http://ADDR` for the child server).
    pub url: String,
    pub addr: SocketAddr,
    /// The `Host` header value.
    pub host: String,
    /// Path prefix before the protocol's paths, without a trailing `/` ("" for none).
    pub prefix: String,
}

impl Target {
    /// Parses an `http://HOST:PORT[/PREFIX]` URL and resolves its host.
    pub async fn from_url(url: &str) -> Result<Target, TargetError> {
        let bad = || TargetError::BadUrl(url.to_string());
        let rest = url.strip_prefix("http://").ok_or_else(bad)?;
        let (hostport, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if hostport.is_empty() {
            return Err(bad());
        }
        let with_port = if hostport
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        {
            hostport.to_string()
        } else {
            format!("{hostport}:80")
        };
        let addr = tokio::net::lookup_host(with_port.as_str())
            .await
            .map_err(|_| TargetError::Resolve(hostport.to_string()))?
            .next()
            .ok_or_else(|| TargetError::Resolve(hostport.to_string()))?;
        Ok(Target {
            url: url.to_string(),
            addr,
            host: hostport.to_string(),
            prefix: path.trim_end_matches('/').to_string(),
        })
    }

    /// The child server at `addr`.
    pub fn local(addr: SocketAddr) -> Target {
        Target {
            url: format!("http://{addr}"),
            addr,
            host: addr.to_string(),
            prefix: String::new(),
        }
    }

    /// A new keep-alive HTTP/1.1 connection, within `timeout`.
    pub async fn connect(
        &self,
        timeout: Duration,
    ) -> Result<SendRequest<Full<Bytes>>, TargetError> {
        let tcp = match tokio::time::timeout(timeout, TcpStream::connect(self.addr)).await {
            Err(_) => return Err(TargetError::ConnectTimeout(self.addr, timeout)),
            Ok(Err(e)) => return Err(TargetError::Connect(self.addr, e)),
            Ok(Ok(s)) => s,
        };
        tcp.set_nodelay(true).ok();
        let io = hyper_util::rt::TokioIo::new(tcp);
        let (send, conn) = tokio::time::timeout(timeout, hyper::client::conn::http1::handshake(io))
            .await
            .map_err(|_| TargetError::Timeout(self.addr, timeout))?
            .map_err(|e| TargetError::Http(self.addr, e.to_string()))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(send)
    }

    /// Sends one request on `conn` and reads the whole answer, within `timeout`.
    pub async fn request(
        &self,
        conn: &mut SendRequest<Full<Bytes>>,
        method: http::Method,
        path: &str,
        body: Bytes,
        timeout: Duration,
    ) -> Result<(http::StatusCode, Bytes), TargetError> {
        let req = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.prefix))
            .header(http::header::HOST, &self.host)
            .header(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .body(Full::new(body))
            .map_err(|e| TargetError::Http(self.addr, e.to_string()))?;
        let fut = async {
            conn.ready()
                .await
                .map_err(|e| TargetError::Http(self.addr, e.to_string()))?;
            let resp = conn
                .send_request(req)
                .await
                .map_err(|e| TargetError::Http(self.addr, e.to_string()))?;
            let status = resp.status();
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| TargetError::Http(self.addr, e.to_string()))?
                .to_bytes();
            Ok((status, body))
        };
        tokio::time::timeout(timeout, fut)
            .await
            .map_err(|_| TargetError::Timeout(self.addr, timeout))?
    }

    /// Checks the server answers HTTP at all (any status) within `timeout`.
    pub async fn check_reachable(&self, timeout: Duration) -> Result<(), TargetError> {
        let mut c = self.connect(timeout).await?;
        self.request(&mut c, http::Method::GET, "/stats", Bytes::new(), timeout)
            .await
            .map(|_| ())
    }

    /// Reads `/stats`; `None` if the server has none (or it is not the documented JSON).
    pub async fn stats(&self, timeout: Duration) -> Option<ServerStats> {
        let mut c = self.connect(timeout).await.ok()?;
        let (status, body) = self
            .request(&mut c, http::Method::GET, "/stats", Bytes::new(), timeout)
            .await
            .ok()?;
        if !status.is_success() {
            return None;
        }
        ServerStats::parse(&body)
    }
}

/// One technique's counters in `/stats`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TechniqueStats {
    pub connections: u64,
    pub requests: u64,
    pub delivered: u64,
    pub bytes_read: u64,
    pub bytes_written: u64,
}

impl TechniqueStats {
    /// Counters accumulated since `earlier` (the connection gauge keeps its current value).
    pub fn since(&self, earlier: &TechniqueStats) -> TechniqueStats {
        TechniqueStats {
            connections: self.connections,
            requests: self.requests.saturating_sub(earlier.requests),
            delivered: self.delivered.saturating_sub(earlier.delivered),
            bytes_read: self.bytes_read.saturating_sub(earlier.bytes_read),
            bytes_written: self.bytes_written.saturating_sub(earlier.bytes_written),
        }
    }
}

/// A `/stats` snapshot.
#[derive(Debug, Clone, Default)]
pub struct ServerStats {
    pub cpu_seconds: Option<f64>,
    pub rss_bytes: Option<u64>,
    techniques: std::collections::HashMap<String, TechniqueStats>,
}

impl ServerStats {
    /// Parses the `/stats` JSON; `None` if it is not JSON with a `techniques` object.
    pub fn parse(body: &[u8]) -> Option<ServerStats> {
        let v: serde_json::Value = serde_json::from_slice(body).ok()?;
        let techs = v.get("techniques")?.as_object()?;
        let n = |o: &serde_json::Value, k: &str| o.get(k).and_then(|x| x.as_u64()).unwrap_or(0);
        let techniques = techs
            .iter()
            .map(|(name, o)| {
                (
                    name.clone(),
                    TechniqueStats {
                        connections: n(o, "connections"),
                        requests: n(o, "requests"),
                        delivered: n(o, "delivered"),
                        bytes_read: n(o, "bytes_read"),
                        bytes_written: n(o, "bytes_written"),
                    },
                )
            })
            .collect();
        let process = v.get("process");
        Some(ServerStats {
            cpu_seconds: process
                .and_then(|p| p.get("cpu_seconds"))
                .and_then(|x| x.as_f64()),
            rss_bytes: process
                .and_then(|p| p.get("rss_bytes"))
                .and_then(|x| x.as_u64()),
            techniques,
        })
    }

    /// The counters of technique `t`, if the server reports it.
    pub fn technique(&self, t: Technique) -> Option<TechniqueStats> {
        self.techniques.get(t.name()).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stats() {
        let body = br#"{"uptime_s":1.0,"process":{"pid":1,"cpu_seconds":1.5,"rss_bytes":1000,"open_fds":3},
            "techniques":{"sse":{"connections":2,"requests":3,"delivered":4,"bytes_read":5,"bytes_written":6}}}"#;
        let s = ServerStats::parse(body).unwrap();
        assert_eq!(s.cpu_seconds, Some(1.5));
        let t = s.technique(Technique::Sse).unwrap();
        assert_eq!((t.requests, t.bytes_read, t.bytes_written), (3, 5, 6));
        assert!(s.technique(Technique::Ws).is_none());
        assert!(ServerStats::parse(b"not json").is_none());
    }

    #[tokio::test]
    async fn parses_urls() {
        let t = Target::from_url("http://127.0.0.1:9/base/").await.unwrap();
        assert_eq!(t.addr.port(), 9);
        assert_eq!(t.prefix, "/base");
        assert!(Target::from_url("https://x").await.is_err());
        assert!(Target::from_url("http://").await.is_err());
    }
}

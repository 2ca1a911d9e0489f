//! The server under test as seen from the load generator: its address (a `--target` URL or
//! the child server's), how to reach it (HTTP version and TLS: [`TransportConfig`]), a
//! reachability check, a small HTTP/1.1 client for `/publish` and `/stats` (over TLS when the
//! target is https), and the parsed `/stats` snapshot (docs/PROTOCOL.md).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use tokio::net::TcpStream;

use contract::stats::Stats;

use crate::config::{HttpVersion, TransportConfig};
use crate::link::Link;
use crate::net::tls::{Secured, TlsClient, TlsError};
use crate::net::{ClientStream, ConnectError};
use crate::profile::Profile;

/// Errors talking to the server outside the measured clients.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("--target: `{0}` is not an http(s)://HOST:PORT[/PREFIX] URL")]
    BadUrl(String),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("--http 2: {addr} does not speak HTTP/2 {how}: {why}")]
    NoHttp2 {
        addr: SocketAddr,
        how: &'static str,
        why: String,
    },
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
    /// How to talk to it (`--profile`; pushbench's own protocol by default).
    pub profile: Arc<Profile>,
    /// HTTP version and TLS of the subscribers (`--http`, `--tls`, …).
    pub transport: TransportConfig,
    /// The TLS client (None: cleartext).
    pub tls: Option<TlsClient>,
}

impl Target {
    /// Parses an `http(s)://HOST[:PORT][/PREFIX]` URL (port 80, or 443 for https, by
    /// default) and resolves its host. An https URL is spoken to with TLS once
    /// [`Target::with_transport`] has set the trust.
    pub async fn from_url(url: &str) -> Result<Target, TargetError> {
        let bad = || TargetError::BadUrl(url.to_string());
        let uri: http::Uri = url.parse().map_err(|_| bad())?;
        let default_port = match uri.scheme_str() {
            Some(s) if s.eq_ignore_ascii_case("http") => 80,
            Some(s) if s.eq_ignore_ascii_case("https") => 443,
            _ => return Err(bad()),
        };
        let authority = uri.authority().ok_or_else(bad)?;
        if authority.host().is_empty() || authority.as_str().contains('@') || uri.query().is_some()
        {
            return Err(bad());
        }
        let host = authority.host();
        let port = match &authority.as_str()[host.len()..] {
            "" => default_port,
            p => p
                .strip_prefix(':')
                .and_then(|p| p.parse::<u16>().ok())
                .ok_or_else(bad)?,
        };
        // An IPv6 literal is bracketed in a URL, not for the resolver.
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let addr = tokio::net::lookup_host((bare, port))
            .await
            .map_err(|_| TargetError::Resolve(authority.to_string()))?
            .next()
            .ok_or_else(|| TargetError::Resolve(authority.to_string()))?;
        Ok(Target {
            url: url.to_string(),
            addr,
            host: authority.to_string(),
            prefix: uri.path().trim_end_matches('/').to_string(),
            profile: Arc::default(),
            transport: TransportConfig {
                tls: default_port == 443,
                ..TransportConfig::default()
            },
            tls: None,
        })
    }

    /// The child server at `addr`.
    pub fn local(addr: SocketAddr) -> Target {
        Target {
            url: format!("http://{addr}"),
            addr,
            host: addr.to_string(),
            prefix: String::new(),
            profile: Arc::default(),
            transport: TransportConfig::default(),
            tls: None,
        }
    }

    /// This target, reached as `transport` says (TLS with its trust when it says TLS).
    pub fn with_transport(mut self, mut transport: TransportConfig) -> Result<Target, TargetError> {
        // An https URL is TLS whatever else is said.
        transport.tls |= self.transport.tls;
        self.tls = TlsClient::new(&transport, &self.host)?;
        if transport.tls && self.url.starts_with("http://") {
            self.url = format!("https://{}", &self.url["http://".len()..]);
        }
        self.transport = transport;
        Ok(self)
    }

    /// This target, talked to as `profile` says.
    pub fn with_profile(mut self, profile: Profile) -> Target {
        self.profile = Arc::new(profile);
        self
    }

    /// A new keep-alive HTTP/1.1 connection, within `timeout`.
    pub async fn connect(
        &self,
        timeout: Duration,
    ) -> Result<SendRequest<Full<Bytes>>, TargetError> {
        self.connect_via(None, timeout).await
    }

    /// [`Target::connect`], through the emulated `link` when given (the publisher's).
    pub async fn connect_via(
        &self,
        link: Option<&Link>,
        timeout: Duration,
    ) -> Result<SendRequest<Full<Bytes>>, TargetError> {
        let stream = self.open(link, HttpVersion::H1, timeout).await?;
        let io = hyper_util::rt::TokioIo::new(stream);
        let (send, conn) = tokio::time::timeout(timeout, hyper::client::conn::http1::handshake(io))
            .await
            .map_err(|_| TargetError::Timeout(self.addr, timeout))?
            .map_err(|e| TargetError::Http(self.addr, e.to_string()))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(send)
    }

    /// A connection to the server within `timeout` (through `link` when given), under TLS
    /// offering `version` by ALPN when the target is https.
    pub(super) async fn open(
        &self,
        link: Option<&Link>,
        version: HttpVersion,
        timeout: Duration,
    ) -> Result<Secured<ClientStream>, TargetError> {
        let stream = match link {
            None => {
                let tcp = match tokio::time::timeout(timeout, TcpStream::connect(self.addr)).await {
                    Err(_) => return Err(TargetError::ConnectTimeout(self.addr, timeout)),
                    Ok(Err(e)) => return Err(TargetError::Connect(self.addr, e)),
                    Ok(Ok(s)) => s,
                };
                tcp.set_nodelay(true).ok();
                ClientStream::Tcp(tcp)
            }
            Some(link) => match link.connect(self.addr, None, timeout).await {
                Ok(s) => ClientStream::Linked(s),
                Err(ConnectError::TimedOut { .. }) => {
                    return Err(TargetError::ConnectTimeout(self.addr, timeout));
                }
                Err(e) => {
                    return Err(TargetError::Connect(self.addr, std::io::Error::other(e)));
                }
            },
        };
        Ok(match &self.tls {
            None => Secured::Plain(stream),
            Some(tls) => Secured::Tls(Box::new(tls.connect(stream, version, timeout).await?)),
        })
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
            .header(
                http::header::CONTENT_TYPE,
                self.profile.publish.content_type.as_str(),
            )
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

    /// Checks the server answers HTTP at all (any status) within `timeout`, and HTTP/2 too
    /// when the subscribers will speak it.
    pub async fn check_reachable(&self, timeout: Duration) -> Result<(), TargetError> {
        let mut c = self.connect(timeout).await?;
        let answer = self
            .request(&mut c, http::Method::GET, "/stats", Bytes::new(), timeout)
            .await;
        if let Err(TargetError::Http(addr, why)) = answer {
            // The classic: a TLS server asked in cleartext answers bytes that are not HTTP.
            let hint = if self.tls.is_none() && why.contains("invalid HTTP version") {
                " (a TLS port? give an https:// URL)"
            } else {
                ""
            };
            return Err(TargetError::Http(addr, format!("{why}{hint}")));
        }
        answer?;
        if self.transport.http == HttpVersion::H2 {
            super::h2_probe::check(self, timeout).await?;
        }
        Ok(())
    }

    /// Reads `/stats`; `None` if the server has none (or it is not the documented JSON).
    pub async fn stats(&self, timeout: Duration) -> Option<Stats> {
        let mut c = self.connect(timeout).await.ok()?;
        let (status, body) = self
            .request(&mut c, http::Method::GET, "/stats", Bytes::new(), timeout)
            .await
            .ok()?;
        if !status.is_success() {
            return None;
        }
        serde_json::from_slice(&body).ok()
    }
}

/// One technique's counters in `/stats`.
pub use contract::stats::TechniqueCounters as TechniqueStats;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_stats_of_a_server_that_reports_less() {
        // An older or other server: no `process`, one technique, fewer counters.
        let body = br#"{"uptime_s":1.0,
            "techniques":{"sse":{"connections":2,"requests":3,"delivered":4,"bytes_read":5,"bytes_written":6}}}"#;
        let s: Stats = serde_json::from_slice(body).unwrap();
        assert_eq!(s.process, None);
        let t = s.technique("sse").unwrap();
        assert_eq!((t.requests, t.bytes_read, t.bytes_written), (3, 5, 6));
        assert_eq!(t.gaps, 0);
        assert!(s.technique("ws").is_none());
    }

    #[tokio::test]
    async fn parses_urls() {
        let t = Target::from_url("http://127.0.0.1:9/base/").await.unwrap();
        assert_eq!((t.addr.port(), t.prefix.as_str()), (9, "/base"));
        assert_eq!(t.host, "127.0.0.1:9");
        let t = Target::from_url("http://127.0.0.1").await.unwrap();
        assert_eq!((t.addr.port(), t.prefix.as_str()), (80, ""));
        assert_eq!(t.host, "127.0.0.1");
        let t = Target::from_url("http://[::1]:8080/a/b").await.unwrap();
        assert_eq!(t.addr, "[::1]:8080".parse().unwrap());
        assert_eq!((t.host.as_str(), t.prefix.as_str()), ("[::1]:8080", "/a/b"));
        let t = Target::from_url("http://localhost:7/").await.unwrap();
        assert_eq!((t.addr.port(), t.prefix.as_str()), (7, ""));
        for bad in [
            "http://",
            "127.0.0.1:9",
            "ftp://127.0.0.1:9",
            "http://127.0.0.1:99999",
            "http://127.0.0.1:x",
            "http://u@127.0.0.1:9",
            "http://127.0.0.1:9/a?b=c",
            "http://127.0.0.1 :9",
            "",
        ] {
            let e = Target::from_url(bad).await.unwrap_err();
            assert_eq!(
                e.to_string(),
                format!("--target: `{bad}` is not an http(s)://HOST:PORT[/PREFIX] URL"),
            );
        }
        let t = Target::from_url("https://127.0.0.1/p").await.unwrap();
        assert_eq!((t.addr.port(), t.transport.tls), (443, true));
        let t = Target::from_url("HTTPS://127.0.0.1:9").await.unwrap();
        assert_eq!((t.addr.port(), t.transport.tls), (9, true));
    }
}

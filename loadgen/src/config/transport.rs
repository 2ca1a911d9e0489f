//! How the subscribers reach the server: HTTP/1.1 or HTTP/2, cleartext or TLS, how many
//! logical clients share an HTTP/2 connection and how many HTTP/1.1 connections a browser
//! would open per origin (`--http`, `--tls`, `--insecure`, `--ca`, `--streams-per-connection`,
//! `--connections-per-origin`; docs/HTTP2.md).

use std::path::PathBuf;

use super::{ConfigError, invalid};

/// The HTTP version of the subscribers' requests.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
pub enum HttpVersion {
    /// HTTP/1.1: one request at a time per connection.
    #[default]
    #[value(name = "1.1")]
    #[serde(rename = "1.1")]
    H1,
    /// HTTP/2: h2c with prior knowledge in cleartext, h2 by ALPN over TLS.
    #[value(name = "2")]
    #[serde(rename = "2")]
    H2,
}

/// The flags, as given.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TransportArgs {
    /// HTTP version of the subscribers' requests: `1.1`, or `2` (h2c with prior knowledge in
    /// cleartext, h2 by ALPN with --tls). Poll, long poll, stream and SSE; WebSocket always
    /// upgrades over HTTP/1.1 [default: 1.1]
    #[arg(long = "http", value_name = "VERSION", value_enum)]
    pub http: Option<HttpVersion>,
    /// Speak TLS to the server. Without --target, the child server serves TLS with a
    /// certificate generated for the run; with --target, give an https:// URL instead
    #[arg(long)]
    pub tls: bool,
    /// Accept any server certificate (a self-signed one, say) without checking it
    #[arg(long, conflicts_with = "ca")]
    pub insecure: bool,
    /// Trust the CA (or self-signed) certificates in this PEM file for TLS
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// With --http 2: logical clients sharing one HTTP/2 connection, as a browser's tabs of
    /// one origin do [default: 1]
    #[arg(long, value_name = "K")]
    pub streams_per_connection: Option<u32>,
    /// With --http 1.1: at most this many connections per origin and technique, as a
    /// browser's six; clients beyond it wait for a free connection, and the wait is latency
    /// [default: no limit]
    #[arg(long, value_name = "N")]
    pub connections_per_origin: Option<u32>,
}

/// Most logical clients on one HTTP/2 connection.
pub const MAX_STREAMS_PER_CONNECTION: u32 = 1000;

/// The validated transport of a run.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TransportConfig {
    pub http: HttpVersion,
    pub tls: bool,
    /// Accept any certificate.
    pub insecure: bool,
    /// Extra trusted roots (PEM).
    pub ca: Option<PathBuf>,
    /// Logical clients per HTTP/2 connection (1 with HTTP/1.1): client `index` shares the
    /// connection of slot `index / K` of its group ([`crate::clients::H2Pool`]).
    pub streams_per_connection: u32,
    /// HTTP/1.1 connections per origin and technique (None: one per client).
    pub connections_per_origin: Option<u32>,
}

impl Default for TransportConfig {
    fn default() -> Self {
        TransportConfig {
            http: HttpVersion::H1,
            tls: false,
            insecure: false,
            ca: None,
            streams_per_connection: 1,
            connections_per_origin: None,
        }
    }
}

impl TransportConfig {
    /// `h1`, `h1+tls`, `h2c` or `h2+tls`: the label a run and its report use.
    pub fn label(&self) -> &'static str {
        match (self.http, self.tls) {
            (HttpVersion::H1, false) => "h1",
            (HttpVersion::H1, true) => "h1+tls",
            (HttpVersion::H2, false) => "h2c",
            (HttpVersion::H2, true) => "h2+tls",
        }
    }

    /// One line for the run's table: the transport and what it means for the figures.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "transport: {} (poll, long poll, stream, SSE; WebSocket over HTTP/1.1{})",
            self.label(),
            if self.tls { " with TLS" } else { "" }
        );
        if self.streams_per_connection > 1 {
            s.push_str(&format!(
                ", {} clients per HTTP/2 connection",
                self.streams_per_connection
            ));
        }
        if let Some(n) = self.connections_per_origin {
            s.push_str(&format!(", at most {n} connections per technique"));
        }
        if self.tls {
            s.push_str("; bytes are TLS records on the wire");
        }
        s
    }

    /// Whether this is the default (HTTP/1.1 cleartext, one connection per client).
    pub fn is_default(&self) -> bool {
        *self == TransportConfig::default()
    }
}

impl TransportArgs {
    /// Validates the flags against the target (`None`: the child server) and the mode.
    pub fn resolve(
        &self,
        target: Option<&str>,
        request_mode: bool,
    ) -> Result<TransportConfig, ConfigError> {
        let https = target.is_some_and(|t| {
            t.get(..8)
                .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
        });
        if self.tls && target.is_some() && !https {
            return Err(invalid(
                "--tls",
                "with --target, TLS follows the URL: give an https:// URL",
            ));
        }
        let tls = self.tls || https;
        if !tls && (self.insecure || self.ca.is_some()) {
            let flag = if self.insecure { "--insecure" } else { "--ca" };
            return Err(invalid(
                flag,
                "only with TLS (--tls, or an https:// --target)",
            ));
        }
        if let Some(ca) = &self.ca
            && !ca.is_file()
        {
            return Err(invalid(
                "--ca",
                format!("`{}` is not a readable file", ca.display()),
            ));
        }
        let version = self.http.unwrap_or_default();
        if request_mode && (version == HttpVersion::H2 || tls) {
            return Err(invalid(
                if tls { "--tls" } else { "--http" },
                "request mode (--mode request) speaks HTTP/1.1 cleartext only",
            ));
        }
        let streams = match self.streams_per_connection {
            None => 1,
            Some(_) if version != HttpVersion::H2 => {
                return Err(invalid(
                    "--streams-per-connection",
                    "only with --http 2 (HTTP/1.1 carries one request at a time)",
                ));
            }
            Some(k) if (1..=MAX_STREAMS_PER_CONNECTION).contains(&k) => k,
            Some(k) => {
                return Err(invalid(
                    "--streams-per-connection",
                    format!("{k} is outside 1..={MAX_STREAMS_PER_CONNECTION}"),
                ));
            }
        };
        let per_origin = match self.connections_per_origin {
            None => None,
            Some(_) if version == HttpVersion::H2 => {
                return Err(invalid(
                    "--connections-per-origin",
                    "only with --http 1.1 (HTTP/2 shares connections: see \
                     --streams-per-connection)",
                ));
            }
            Some(0) => return Err(invalid("--connections-per-origin", "must be at least 1")),
            Some(n) => Some(n),
        };
        Ok(TransportConfig {
            http: version,
            tls,
            insecure: self.insecure,
            ca: self.ca.clone(),
            streams_per_connection: streams,
            connections_per_origin: per_origin,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(http: Option<HttpVersion>) -> TransportArgs {
        TransportArgs {
            http,
            ..TransportArgs::default()
        }
    }

    fn err(a: &TransportArgs, target: Option<&str>) -> String {
        a.resolve(target, false).unwrap_err().to_string()
    }

    #[test]
    fn defaults_are_http1_cleartext_one_connection_per_client() {
        let t = args(None).resolve(None, false).unwrap();
        assert!(t.is_default());
        assert_eq!(t.label(), "h1");
        let t = args(Some(HttpVersion::H2)).resolve(None, false).unwrap();
        assert_eq!((t.label(), t.streams_per_connection), ("h2c", 1));
    }

    #[test]
    fn tls_follows_an_https_target_and_the_flag_without_one() {
        let t = args(None)
            .resolve(Some("https://127.0.0.1:1"), false)
            .unwrap();
        assert_eq!(t.label(), "h1+tls");
        let mut a = args(Some(HttpVersion::H2));
        a.tls = true;
        assert_eq!(a.resolve(None, false).unwrap().label(), "h2+tls");
        assert!(err(&a, Some("http://127.0.0.1:1")).starts_with("--tls: "));
    }

    #[test]
    fn refuses_options_that_do_not_fit_the_version_or_tls() {
        let mut a = args(None);
        a.insecure = true;
        assert!(err(&a, None).starts_with("--insecure: only with TLS"));
        let mut a = args(None);
        a.streams_per_connection = Some(10);
        assert!(err(&a, None).starts_with("--streams-per-connection: only with --http 2"));
        let mut a = args(Some(HttpVersion::H2));
        a.streams_per_connection = Some(0);
        assert!(err(&a, None).contains("outside 1..=1000"));
        a.streams_per_connection = Some(100);
        assert_eq!(a.resolve(None, false).unwrap().streams_per_connection, 100);
        a.connections_per_origin = Some(6);
        assert!(err(&a, None).starts_with("--connections-per-origin: only with --http 1.1"));
        let mut a = args(None);
        a.connections_per_origin = Some(0);
        assert!(err(&a, None).contains("at least 1"));
        a.connections_per_origin = Some(6);
        assert_eq!(
            a.resolve(None, false).unwrap().connections_per_origin,
            Some(6)
        );
        let mut a = args(None);
        a.tls = true;
        a.ca = Some("/nonexistent/ca.pem".into());
        assert!(err(&a, None).starts_with("--ca: `/nonexistent/ca.pem` is not a readable file"));
        let a = args(Some(HttpVersion::H2));
        assert!(
            a.resolve(None, true)
                .unwrap_err()
                .to_string()
                .contains("request mode")
        );
    }
}

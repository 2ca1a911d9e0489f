//! The child broker's own message counters, read over loopback: NATS's `/varz` (HTTP
//! monitoring port: `in_msgs`, `out_msgs`) and Redis's `INFO commandstats` (the calls of
//! `PUBLISH` and `SPUBLISH`, which count those made from scripts too; `XADD`'s when there are
//! none). Redis does not count the messages it sends to subscribers: `out_msgs` is None then.
//! Counters start from zero in every broker process (a restart resets them).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::config::BrokerKind;

/// How long one read of the counters may take.
const TIMEOUT: Duration = Duration::from_secs(2);
/// The most read of one answer.
const MAX_ANSWER: u64 = 1 << 20;

/// Messages the broker counted since its process started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Messages published into it.
    pub in_msgs: u64,
    /// Messages it sent to subscribers (None: it does not count them).
    pub out_msgs: Option<u64>,
}

/// Reads the broker's counters; None if it does not answer (e.g. while it restarts).
pub async fn read(kind: BrokerKind, port: u16, monitor_port: Option<u16>) -> Option<Counters> {
    let answer = match kind {
        BrokerKind::Redis => ask(port, b"INFO commandstats\r\n").await?,
        BrokerKind::Nats => {
            let req = b"GET /varz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
            ask(monitor_port?, req).await?
        }
    };
    match kind {
        BrokerKind::Redis => redis_counters(&answer),
        BrokerKind::Nats => nats_counters(&answer),
    }
}

/// Sends `request` and reads the answer: to the end (HTTP/1.0), or one RESP bulk string.
async fn ask(port: u16, request: &[u8]) -> Option<String> {
    let work = async {
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        s.write_all(request).await.ok()?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 8192];
        loop {
            let n = s.read(&mut chunk).await.ok()?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
            if buf.len() as u64 > MAX_ANSWER || resp_complete(&buf) {
                break;
            }
        }
        Some(String::from_utf8_lossy(&buf).into_owned())
    };
    tokio::time::timeout(TIMEOUT, work).await.ok()?
}

/// Whether `buf` holds one whole RESP bulk string (`$LEN\r\n...\r\n`).
fn resp_complete(buf: &[u8]) -> bool {
    if buf.first() != Some(&b'$') {
        return false;
    }
    let Some(eol) = buf.windows(2).position(|w| w == b"\r\n") else {
        return false;
    };
    let len: usize = match std::str::from_utf8(&buf[1..eol])
        .ok()
        .and_then(|l| l.parse().ok())
    {
        Some(l) => l,
        None => return true,
    };
    buf.len() >= eol + 2 + len + 2
}

/// `cmdstat_NAME:calls=N,...` of `INFO commandstats`.
fn calls(info: &str, name: &str) -> u64 {
    let key = format!("cmdstat_{name}:calls=");
    info.lines()
        .find_map(|l| l.trim().strip_prefix(key.as_str()))
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn redis_counters(answer: &str) -> Option<Counters> {
    if !answer.starts_with('$') {
        return None;
    }
    let published = calls(answer, "publish") + calls(answer, "spublish");
    let in_msgs = if published > 0 {
        published
    } else {
        calls(answer, "xadd")
    };
    Some(Counters {
        in_msgs,
        out_msgs: None,
    })
}

fn nats_counters(answer: &str) -> Option<Counters> {
    let body = answer.split_once("\r\n\r\n")?.1;
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    Some(Counters {
        in_msgs: v.get("in_msgs")?.as_u64()?,
        out_msgs: Some(v.get("out_msgs")?.as_u64()?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_publish_calls_are_counted() {
        let info = "$120\r\n# Commandstats\r\ncmdstat_publish:calls=42,usec=1\r\n\
                    cmdstat_spublish:calls=3,usec=1\r\ncmdstat_xadd:calls=9,usec=2\r\n";
        let c = redis_counters(info).unwrap();
        assert_eq!((c.in_msgs, c.out_msgs), (45, None));
        let streams = "$60\r\ncmdstat_xadd:calls=9,usec=2\r\n";
        assert_eq!(redis_counters(streams).unwrap().in_msgs, 9);
        assert_eq!(redis_counters("-ERR nope\r\n"), None);
    }

    #[test]
    fn nats_varz_counts_both_ways() {
        let a = "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n\
                 {\"in_msgs\": 10, \"out_msgs\": 30}";
        let c = nats_counters(a).unwrap();
        assert_eq!((c.in_msgs, c.out_msgs), (10, Some(30)));
        assert_eq!(nats_counters("HTTP/1.0 500 x\r\n\r\nnot json"), None);
    }

    #[test]
    fn a_bulk_string_is_complete_at_its_length() {
        assert!(resp_complete(b"$3\r\nabc\r\n"));
        assert!(!resp_complete(b"$10\r\nabc"));
        assert!(!resp_complete(b"HTTP/1.0"));
    }
}

//! Checks on the options of `pushbench run` once flags and scenario are merged: each one that
//! fails names the flag at fault. Also parses `--source-addrs`, the one option whose value
//! needs more than a type (addresses and ranges, loopback only).

use std::net::Ipv4Addr;

use std::time::Duration;

use super::{ConfigError, FD_RESERVE, MAX_PAYLOAD_BYTES, MAX_PROCESSES, RunConfig, invalid};
use crate::payload;
use crate::technique::Technique;

/// Parses `--source-addrs`: addresses and `A-B` ranges, all in 127.0.0.0/8.
pub fn parse_source_addrs(list: &[String]) -> Result<Vec<Ipv4Addr>, ConfigError> {
    let flag = "--source-addrs";
    let one = |s: &str| -> Result<Ipv4Addr, ConfigError> {
        let a: Ipv4Addr = s
            .trim()
            .parse()
            .map_err(|_| invalid(flag, format!("`{s}` is not an IPv4 address")))?;
        if a.octets()[0] != 127 {
            return Err(invalid(
                flag,
                format!("{a} is outside 127.0.0.0/8 (loopback only)"),
            ));
        }
        Ok(a)
    };
    let mut out = Vec::new();
    for item in list.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        if let Some((a, b)) = item.split_once('-') {
            let (a, b) = (u32::from(one(a)?), u32::from(one(b)?));
            if b < a || b - a >= 65_536 {
                return Err(invalid(flag, format!("bad range `{item}`")));
            }
            out.extend((a..=b).map(Ipv4Addr::from));
        } else {
            out.push(one(item)?);
        }
    }
    if out.is_empty() {
        return Err(invalid(flag, "no address given"));
    }
    Ok(out)
}

impl RunConfig {
    /// Checks the options make sense together; each message names the flag at fault.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.check_work()?;
        self.check_timing()?;
        self.check_processes()?;
        self.check_repeat()?;
        self.check_server_pid()?;
        self.check_restart_server()?;
        self.check_broker()?;
        self.check_stall()
    }

    /// `--fault restart-server=AT`: only for a server the run starts itself, and within the
    /// window (`AT` before `--duration`).
    fn check_restart_server(&self) -> Result<(), ConfigError> {
        let Some(at) = self.fault.restart_server else {
            return Ok(());
        };
        if self.target.is_some() {
            return Err(invalid(
                "--fault",
                "restart-server with --target: the tool cannot restart a server it did not start",
            ));
        }
        if at >= self.duration {
            return Err(invalid(
                "--fault",
                format!(
                    "restart-server={} must be before the window's end (--duration {})",
                    humantime::format_duration(at),
                    humantime::format_duration(self.duration)
                ),
            ));
        }
        Ok(())
    }

    /// `stall-reader`: the stall must be shorter than --read-timeout (else the stalled client
    /// gives up and reconnects: a timeout, not a slow consumer) and fit in the window (it
    /// starts 1 s into it).
    fn check_stall(&self) -> Result<(), ConfigError> {
        let Some(stall) = self.fault.stall_reader else {
            return Ok(());
        };
        let d = |d: Duration| humantime::format_duration(d).to_string();
        if stall.duration >= self.read_timeout {
            return Err(invalid(
                "--fault",
                format!(
                    "stall-reader for {} must be shorter than --read-timeout {} (the client \
                     would time out and reconnect)",
                    d(stall.duration),
                    d(self.read_timeout)
                ),
            ));
        }
        if stall.duration + Duration::from_secs(1) > self.duration {
            return Err(invalid(
                "--fault",
                format!(
                    "stall-reader for {} does not fit in the window: it starts 1s into it \
                     (--duration {})",
                    d(stall.duration),
                    d(self.duration)
                ),
            ));
        }
        if stall.clients >= self.clients {
            return Err(invalid(
                "--fault",
                format!(
                    "stall-reader={}: fewer clients than --clients {} must stall, so that \
                     others are left to compare with",
                    stall.clients, self.clients
                ),
            ));
        }
        Ok(())
    }

    /// `--repeat`: at least one repetition, at most [`super::MAX_REPEAT`].
    fn check_repeat(&self) -> Result<(), ConfigError> {
        if self.repeat == 0 || self.repeat > super::MAX_REPEAT {
            return Err(invalid(
                "--repeat",
                format!(
                    "{} repetitions: give 1 to {} (each measures every technique once)",
                    self.repeat,
                    super::MAX_REPEAT
                ),
            ));
        }
        Ok(())
    }

    /// `--server-pid`: only with `--target` (a child server is sampled already), and a process
    /// that exists here.
    fn check_server_pid(&self) -> Result<(), ConfigError> {
        let Some(pid) = self.server_pid else {
            return Ok(());
        };
        if self.target.is_none() {
            return Err(invalid(
                "--server-pid",
                "needs --target (the server a run starts itself is sampled from /proc already)",
            ));
        }
        if pid == 0 || !std::path::Path::new(&format!("/proc/{pid}/stat")).exists() {
            return Err(invalid(
                "--server-pid",
                format!("no process {pid} on this machine (/proc/{pid})"),
            ));
        }
        Ok(())
    }

    /// The work: techniques, clients, topics, the window, the rate, the payload.
    fn check_work(&self) -> Result<(), ConfigError> {
        if self.techniques.is_empty() {
            return Err(invalid("--techniques", "no technique given"));
        }
        let mut seen = std::collections::HashSet::new();
        for t in &self.techniques {
            if !seen.insert(t) {
                return Err(invalid("--techniques", format!("`{t}` is listed twice")));
            }
        }
        if self.clients == 0 {
            return Err(invalid("--clients", "must be at least 1"));
        }
        if self.topics == 0 || self.topics > self.clients {
            return Err(invalid(
                "--topics",
                format!(
                    "must be between 1 and --clients ({}), got {}",
                    self.clients, self.topics
                ),
            ));
        }
        if self.duration.is_zero() {
            return Err(invalid("--duration", "must be longer than 0"));
        }
        if !self.rate.is_finite() || self.rate <= 0.0 {
            return Err(invalid(
                "--rate",
                format!(
                    "must be a positive number of messages per second with a --duration, got {}",
                    self.rate
                ),
            ));
        }
        if self.rate > 1_000_000.0 {
            return Err(invalid(
                "--rate",
                "more than 1,000,000 messages per second per topic",
            ));
        }
        if self.payload_bytes < payload::MAX_HEADER_LEN {
            return Err(invalid(
                "--payload-bytes",
                format!(
                    "{} is smaller than the payload header (`pb1 TOPIC SEQ TIME `, up to {} \
                     bytes); use at least {}",
                    self.payload_bytes,
                    payload::MAX_HEADER_LEN,
                    payload::MAX_HEADER_LEN
                ),
            ));
        }
        if self.payload_bytes > MAX_PAYLOAD_BYTES {
            return Err(invalid(
                "--payload-bytes",
                format!(
                    "{} is more than the server accepts ({MAX_PAYLOAD_BYTES})",
                    self.payload_bytes
                ),
            ));
        }
        Ok(())
    }

    /// Rates and durations: ramp-up, timeouts, drain, retention.
    fn check_timing(&self) -> Result<(), ConfigError> {
        if !self.ramp_up.is_finite() || self.ramp_up <= 0.0 {
            return Err(invalid(
                "--ramp-up",
                "must be a positive number of connections per second",
            ));
        }
        let lp = self.long_poll_timeout;
        if lp < Duration::from_millis(1) || lp > Duration::from_secs(300) {
            return Err(invalid(
                "--long-poll-timeout",
                "must be between 1ms and 300s",
            ));
        }
        if self.connect_timeout.is_zero() {
            return Err(invalid("--connect-timeout", "must be longer than 0"));
        }
        if self.read_timeout.is_zero() {
            return Err(invalid("--read-timeout", "must be longer than 0"));
        }
        if self.techniques.contains(&Technique::LongPoll) && self.read_timeout <= lp {
            return Err(invalid(
                "--read-timeout",
                format!(
                    "({}) must be longer than --long-poll-timeout ({}) or every held poll times out",
                    humantime::format_duration(self.read_timeout),
                    humantime::format_duration(lp)
                ),
            ));
        }
        if self.techniques.contains(&Technique::Poll) && self.drain < self.poll_interval {
            return Err(invalid(
                "--drain",
                format!(
                    "({}) must be at least --poll-interval ({}) so the last polls can fetch the window's messages",
                    humantime::format_duration(self.drain),
                    humantime::format_duration(self.poll_interval)
                ),
            ));
        }
        if self.retention == 0 {
            return Err(invalid("--retention", "must be at least 1"));
        }
        Ok(())
    }

    /// Processes: the load generator's and the server's, each within its descriptor limit.
    fn check_processes(&self) -> Result<(), ConfigError> {
        if self.processes == 0 || self.processes > MAX_PROCESSES || self.processes > self.clients {
            return Err(invalid(
                "--processes",
                format!(
                    "must be between 1 and {MAX_PROCESSES} and at most --clients, got {}",
                    self.processes
                ),
            ));
        }
        if self.worker_command.is_some() && self.processes < 2 {
            return Err(invalid(
                "--worker-command",
                "needs --processes 2 or more (the command starts each worker)",
            ));
        }
        if self.server_processes == 0 || self.server_processes > MAX_PROCESSES {
            return Err(invalid(
                "--server-processes",
                format!(
                    "must be between 1 and {MAX_PROCESSES}, got {}",
                    self.server_processes
                ),
            ));
        }
        let limit = crate::sut::procfs::fd_soft_limit().unwrap_or(u64::MAX);
        let per_process = self.clients.div_ceil(self.processes);
        let need = u64::from(per_process) + FD_RESERVE;
        if need > limit {
            return Err(invalid(
                if self.processes > 1 {
                    "--processes"
                } else {
                    "--clients"
                },
                format!(
                    "{per_process} clients per load-generator process need about {need} file \
                     descriptors but a process may open {limit} (ulimit -n); use more --processes \
                     (now {}) or fewer clients",
                    self.processes
                ),
            ));
        }
        if self.target.is_none() {
            let per_server = u64::from(self.clients.div_ceil(self.server_processes));
            if per_server + FD_RESERVE > limit {
                return Err(invalid(
                    "--server-processes",
                    format!(
                        "{per_server} connections per server process exceed its descriptor \
                         limit ({limit}); use more --server-processes (now {})",
                        self.server_processes
                    ),
                ));
            }
        }
        Ok(())
    }
}

//! Whether this machine has room for a sweep step, checked before trying it: descriptors per
//! process (the load generator's and the server's), ephemeral ports per source address, and
//! free memory. A step without room is recorded as "out of descriptors" (etc.) instead of
//! failing halfway through its ramp-up.

use std::fs;

use crate::config::FD_RESERVE;
use crate::sut::procfs;

/// What the machine offers, read once per step.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Room {
    /// Open files one process may hold.
    pub fd_limit: Option<u64>,
    /// Ephemeral ports per source address (ip_local_port_range).
    pub ephemeral_ports: Option<u64>,
    /// Whether TIME_WAIT ports may be reused for new outgoing connections (tcp_tw_reuse 1, or
    /// 2 = loopback only, which is where the sweep runs).
    pub tw_reuse: bool,
    /// MemAvailable, bytes.
    pub mem_available: Option<u64>,
    /// Sockets in TIME_WAIT now.
    pub time_wait: Option<u64>,
}

/// The load a step puts on the machine.
#[derive(Debug, Clone, PartialEq)]
pub struct Need {
    pub clients: u64,
    pub loadgen_processes: u64,
    pub server_processes: u64,
    /// Client source addresses (0: the OS chooses one).
    pub source_addrs: u64,
    /// Whether the server runs here (a child server) rather than elsewhere (--target).
    pub local_server: bool,
    /// Estimated memory per client on this machine, both sides, bytes.
    pub bytes_per_client: f64,
}

/// Memory per client assumed before any step has been measured (server + load generator).
pub const DEFAULT_BYTES_PER_CLIENT: f64 = 64.0 * 1024.0;

impl Room {
    /// Reads the machine's current state.
    pub fn read() -> Room {
        let ports = fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
            .ok()
            .and_then(|s| parse_port_range(&s));
        let tw_reuse = fs::read_to_string("/proc/sys/net/ipv4/tcp_tw_reuse")
            .map(|s| s.trim() != "0")
            .unwrap_or(false);
        let mem_available = procfs::mem_available();
        Room {
            fd_limit: procfs::fd_soft_limit(),
            ephemeral_ports: ports,
            tw_reuse,
            mem_available,
            time_wait: procfs::time_wait_sockets(),
        }
    }

    /// Why `need` does not fit, or None when it does.
    pub fn check(&self, need: &Need) -> Option<String> {
        if let Some(limit) = self.fd_limit {
            let per = need.clients.div_ceil(need.loadgen_processes.max(1)) + FD_RESERVE;
            if per > limit {
                return Some(format!(
                    "out of descriptors: {} clients need about {per} descriptors per \
                     load-generator process, the limit is {limit} per process (more --processes \
                     would spread them)",
                    need.clients
                ));
            }
            let per = need.clients.div_ceil(need.server_processes.max(1)) + FD_RESERVE;
            if need.local_server && per > limit {
                return Some(format!(
                    "out of descriptors: {} connections need about {per} descriptors per server \
                     process, the limit is {limit} per process (more --server-processes would \
                     spread them)",
                    need.clients
                ));
            }
        }
        if let Some(ports) = self.ephemeral_ports {
            let addrs = need.source_addrs.max(1);
            let busy = if self.tw_reuse {
                0
            } else {
                self.time_wait.unwrap_or(0)
            };
            let free = (ports * addrs).saturating_sub(busy);
            // A few connections besides the clients: the publisher, /stats probes.
            if need.clients + 16 > free {
                return Some(format!(
                    "out of ports: {} clients need as many ephemeral ports, {addrs} source \
                     address(es) × {ports} ports{} leave {free} (more --source-addrs would give \
                     more)",
                    need.clients,
                    if busy > 0 {
                        format!(" minus {busy} in TIME_WAIT")
                    } else {
                        String::new()
                    }
                ));
            }
        }
        if let Some(avail) = self.mem_available {
            let want = need.clients as f64 * need.bytes_per_client * 1.25;
            if want > avail as f64 {
                return Some(format!(
                    "out of memory: {} clients need about {} MiB (at {:.0} KiB per client, \
                     both sides, with a 25% margin), {} MiB are available",
                    need.clients,
                    (want / 1048576.0).round(),
                    need.bytes_per_client / 1024.0,
                    avail / 1048576
                ));
            }
        }
        None
    }
}

/// Ports in `ip_local_port_range` ("32768\t60999").
pub fn parse_port_range(s: &str) -> Option<u64> {
    let mut it = s.split_whitespace().map(|v| v.parse::<u64>());
    match (it.next()?, it.next()?) {
        (Ok(lo), Ok(hi)) if hi >= lo => Some(hi - lo + 1),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn need(clients: u64) -> Need {
        Need {
            clients,
            loadgen_processes: 1,
            server_processes: 1,
            source_addrs: 0,
            local_server: true,
            bytes_per_client: DEFAULT_BYTES_PER_CLIENT,
        }
    }

    #[test]
    fn each_limit_names_itself() {
        let room = Room {
            fd_limit: Some(20_000),
            ephemeral_ports: Some(28_232),
            tw_reuse: false,
            mem_available: Some(24 << 30),
            time_wait: Some(10_000),
        };
        assert_eq!(room.check(&need(10_000)), None);
        let e = room.check(&need(25_000)).unwrap();
        assert!(e.starts_with("out of descriptors"), "{e}");
        let spread = Need {
            loadgen_processes: 2,
            server_processes: 2,
            ..need(25_000)
        };
        let e = room.check(&spread).unwrap();
        assert!(
            e.starts_with("out of ports") && e.contains("TIME_WAIT"),
            "{e}"
        );
        let reuse = Room {
            tw_reuse: true,
            ..room.clone()
        };
        assert_eq!(reuse.check(&spread), None);
        let small = Room {
            mem_available: Some(100 << 20),
            ..reuse
        };
        let e = small.check(&need(10_000)).unwrap();
        assert!(e.starts_with("out of memory"), "{e}");
    }

    #[test]
    fn parses_proc_files() {
        assert_eq!(parse_port_range("32768\t60999\n"), Some(28_232));
        assert_eq!(parse_port_range("bad"), None);
        assert!(Room::read().fd_limit.is_some());
    }
}

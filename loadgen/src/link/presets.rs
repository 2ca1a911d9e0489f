//! Named link presets (`--link fast-3g`), after the throttling profiles browsers and web
//! performance tools ship, each with its numbers and where they come from.
//!
//! Chrome DevTools' presets are defined in `front_end/core/sdk/NetworkManager.ts`
//! (ChromeDevTools/devtools-frontend). DevTools throttles per *request*: it adds its
//! `latency` once between a request and its response headers, and caps each request's
//! throughput. Its numbers are a packet-level target scaled by adjustment factors: bandwidth
//! x0.8 or x0.9, latency x5, x3.75 or x2.75 (the `targetLatency` field keeps the unscaled
//! value), so that per-request throttling in the browser approximates a real link on which
//! every handshake and round trip pays the RTT (Lighthouse's `DEVTOOLS_RTT_ADJUSTMENT_FACTOR`
//! = 3.75 and `DEVTOOLS_THROUGHPUT_ADJUSTMENT_FACTOR` = 0.9 are the same factors).
//!
//! pushbench's emulator works at the byte level, like a real link: every round trip (the TCP
//! handshake, a poll, a long poll's re-arm) pays the RTT by itself. So a preset takes the
//! *packet-level* RTT (DevTools' `targetLatency`), not the per-request latency, which would
//! count the handshakes twice; and it keeps DevTools' *adjusted* bandwidth, the goodput a
//! user sees once per-packet overhead is paid (the emulator counts payload bytes only).
//! docs/NETWORK.md has the table and the reasoning.

use std::time::Duration;

use super::rate::Rate;

/// One named preset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preset {
    /// The name given to `--link`.
    pub name: &'static str,
    pub rtt: Duration,
    /// Server to client.
    pub down: Rate,
    /// Client to server.
    pub up: Rate,
    /// Where the numbers come from, one line.
    pub source: &'static str,
}

const fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

const fn kbit(v: u64) -> Rate {
    Rate::from_bits_per_s(v * 1000)
}

/// Every preset, in the order the error message lists them.
pub const PRESETS: &[Preset] = &[
    // DevTools `Slow3GConditions` (titled "3G" since 2024): download = upload =
    // 500 * 1000 / 8 * .8 bytes/s = 400 kbit/s; latency 400 * 5 = 2000 ms per request,
    // targetLatency 400 ms.
    Preset {
        name: "slow-3g",
        rtt: ms(400),
        down: kbit(400),
        up: kbit(400),
        source: "Chrome DevTools Slow3GConditions: 500 kbit/s x0.8 both ways, \
                 target RTT 400 ms (DevTools adds 400 x5 = 2000 ms per request)",
    },
    // DevTools `Fast3GConditions`, renamed `Slow4GConditions` ("Slow 4G") in May 2024
    // (crbug.com/342406608) with the same numbers: download 1.6 * 1000 * 1000 / 8 * .9
    // bytes/s = 1.44 mbit/s, upload 750 * 1000 / 8 * .9 = 675 kbit/s, latency 150 * 3.75 =
    // 562.5 ms per request, targetLatency 150 ms. Lighthouse's mobile default (mobileSlow4G:
    // rttMs 150, 1.6 Mbps, 750 kbps) is the same link.
    Preset {
        name: "fast-3g",
        rtt: ms(150),
        down: kbit(1440),
        up: kbit(675),
        source: "Chrome DevTools Fast3GConditions (Slow 4G since 2024): 1.6 mbit/s and \
                 750 kbit/s x0.9, target RTT 150 ms (DevTools adds 150 x3.75 = 562.5 ms per request)",
    },
    // The same link under DevTools' current name.
    Preset {
        name: "slow-4g",
        rtt: ms(150),
        down: kbit(1440),
        up: kbit(675),
        source: "Chrome DevTools Slow4GConditions (formerly Fast 3G): same numbers as fast-3g",
    },
    // DevTools `Fast4GConditions` (added June 2024, crbug.com/342406608): download
    // 9 * 1000 * 1000 / 8 * .9 bytes/s = 8.1 mbit/s, upload 1.5 * 1000 * 1000 / 8 * .9 =
    // 1.35 mbit/s, latency 60 * 2.75 = 165 ms per request, targetLatency 60 ms.
    Preset {
        name: "fast-4g",
        rtt: ms(60),
        down: kbit(8100),
        up: kbit(1350),
        source: "Chrome DevTools Fast4GConditions: 9 mbit/s and 1.5 mbit/s x0.9, target RTT \
                 60 ms (DevTools adds 60 x2.75 = 165 ms per request)",
    },
    // WebPageTest's `[DSL]` profile (www/settings/connectivity.ini.sample): bwIn=1500000,
    // bwOut=384000, latency=50. WebPageTest shapes packets (dummynet/netem), so its latency
    // is a round trip and needs no adjustment.
    Preset {
        name: "dsl",
        rtt: ms(50),
        down: kbit(1500),
        up: kbit(384),
        source: "WebPageTest DSL profile: 1.5 mbit/s down, 384 kbit/s up, 50 ms RTT",
    },
    // A geostationary link: the satellite sits 35,786 km above the equator and a round trip
    // goes user -> satellite -> ground station and back, >= 4 x 35,786 km = 143,144 km, i.e.
    // >= 477 ms of propagation at the speed of light before any queueing or processing;
    // measured GEO round trips are typically ~600 ms. 25/3 mbit/s is the FCC's 2015-2024
    // broadband benchmark, the tier GEO services such as HughesNet Gen5 were sold at.
    Preset {
        name: "satellite",
        rtt: ms(600),
        down: kbit(25_000),
        up: kbit(3_000),
        source: "geostationary link: >= 477 ms of propagation (4 x 35,786 km at c), ~600 ms \
                 RTT measured; 25/3 mbit/s, the FCC benchmark GEO plans were sold at",
    },
];

/// The preset called `name` (lower case), if any.
pub fn find(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.name == name)
}

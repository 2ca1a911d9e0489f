//! Network conditions emulated in user space: round-trip time, jitter and per-connection
//! bandwidth each way, between the simulated clients and the server (docs/NETWORK.md).

pub mod presets;
pub mod spec;

pub use spec::{LinkSpec, LinkSpecError, Rate, parse_link_list};

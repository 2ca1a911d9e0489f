//! `pushbench run --broker redis|nats`: which real broker the run starts beside its child
//! server (shared topics over it, `pushbench serve --broker URL`), and the checks that go with
//! it: only with the embedded server, and only if the broker is installed here.

use super::{ConfigError, RunConfig, invalid};

/// The broker a run starts (`--broker`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum BrokerKind {
    Redis,
    Nats,
}

impl BrokerKind {
    /// The server crate's name for it.
    pub fn kind(self) -> server::broker::Kind {
        match self {
            BrokerKind::Redis => server::broker::Kind::Redis,
            BrokerKind::Nats => server::broker::Kind::Nats,
        }
    }

    pub fn name(self) -> &'static str {
        self.kind().name()
    }
}

impl RunConfig {
    /// `--broker`: not with `--target` (start those servers with `serve --broker URL`), and
    /// its program installed; `--fault restart-broker` needs it.
    pub(super) fn check_broker(&self) -> Result<(), ConfigError> {
        let Some(b) = self.broker else {
            if self.fault.restart_broker.is_some() {
                return Err(invalid(
                    "--fault",
                    "restart-broker needs --broker redis|nats (a broker the run starts itself)",
                ));
            }
            return Ok(());
        };
        if self.target.is_some() {
            return Err(invalid(
                "--broker",
                "not with --target: start the servers yourself with `pushbench serve --broker URL`",
            ));
        }
        if !server::broker::process::BrokerProcess::available(b.kind()) {
            let (name, package) = b.kind().program();
            return Err(invalid(
                "--broker",
                format!("{name} is not installed (apt-get install {package})"),
            ));
        }
        if let Some(at) = self.fault.restart_broker
            && at >= self.duration
        {
            return Err(invalid(
                "--fault",
                format!(
                    "restart-broker={} must be before the window's end (--duration {})",
                    humantime::format_duration(at),
                    humantime::format_duration(self.duration)
                ),
            ));
        }
        Ok(())
    }
}

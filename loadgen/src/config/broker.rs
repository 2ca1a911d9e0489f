//! `pushbench run --broker redis|nats`: which real broker the run starts beside its child
//! server (shared topics over it, `pushbench serve --broker URL`), and the checks that go with
//! it: only with the embedded server, and only if the broker is installed here.

use super::{ConfigError, RunConfig, invalid};

/// The broker a run starts (`--broker`): the server's own [`server::broker::Kind`].
pub use server::broker::Kind as BrokerKind;

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
        if !server::broker::process::BrokerProcess::available(b) {
            let (name, package) = b.program();
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

#[cfg(test)]
mod tests {
    use super::super::tests::parse;

    #[test]
    fn broker_goes_with_the_embedded_server_only() {
        let e = parse(&["--broker", "redis", "--target", "http://127.0.0.1:1"])
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("--broker") && e.contains("pushbench serve --broker URL"));
        assert_eq!(e.lines().count(), 1, "{e}");
        let e = parse(&["--fault", "restart-broker=1s"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("restart-broker needs --broker"), "{e}");
    }

    #[test]
    fn restart_broker_must_fall_in_the_window() {
        if !server::broker::process::BrokerProcess::available(server::broker::Kind::Redis) {
            println!(
                "SKIPPED restart_broker_must_fall_in_the_window: redis-server is not installed"
            );
            return;
        }
        let c = parse(&["--broker", "redis", "--fault", "restart-broker=1s"]).unwrap();
        assert_eq!(c.broker, Some(super::BrokerKind::Redis));
        assert_eq!(c.fault.to_string(), "restart-broker=1s");
        let e = parse(&[
            "--broker",
            "redis",
            "--duration",
            "2s",
            "--fault",
            "restart-broker=3s",
        ])
        .unwrap_err()
        .to_string();
        assert!(e.contains("before the window's end"), "{e}");
    }
}

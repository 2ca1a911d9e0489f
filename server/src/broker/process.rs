//! A real broker as a child process: `redis-server` or `nats-server` started on a free
//! loopback port with its data in a directory of its own, for the broker tests and for
//! `pushbench run --broker` (which measures it beside the server). The data survives a
//! [`restart`](BrokerProcess::restart) (Redis: append-only file; NATS: JetStream file
//! store), as a production broker's would.
//!
//! The child gets SIGTERM when the thread that started it exits (`setpriv --pdeathsig`, from
//! util-linux, when present), so a broker never outlives a killed parent; and it is stopped
//! (SIGTERM, then SIGKILL after a few seconds) when its [`BrokerProcess`] is dropped.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{BrokerUrl, Kind};

/// How long a broker may take to accept connections after it is started.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a broker may take to stop on SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a broker process could not be started.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("{0} is not installed (apt-get install {1})")]
    Missing(&'static str, &'static str),
    #[error("cannot start {0}: {1}")]
    Spawn(&'static str, std::io::Error),
    #[error("{0} did not accept connections on {1} within {2} s (its log: {3})")]
    NotReady(&'static str, SocketAddr, u64, String),
    #[error("cannot find a free port: {0}")]
    Port(std::io::Error),
}

/// A running broker.
#[derive(Debug)]
pub struct BrokerProcess {
    kind: Kind,
    child: Option<Child>,
    port: u16,
    /// NATS's HTTP monitoring port (`/varz`); 0 for Redis.
    monitor_port: u16,
    dir: PathBuf,
}

impl Kind {
    /// The broker's executable and the Debian package that has it.
    pub fn program(self) -> (&'static str, &'static str) {
        match self {
            Kind::Redis => ("redis-server", "redis-server"),
            Kind::Nats => ("nats-server", "nats-server"),
        }
    }
}

/// Where `name` is installed: on `PATH`, or in /usr/sbin or /usr/local/sbin (Debian puts
/// `nats-server` in /usr/sbin, which a non-root `PATH` may lack).
pub fn find(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/usr/bin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn free_port() -> Result<u16, ProcessError> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(ProcessError::Port)?;
    Ok(l.local_addr().map_err(ProcessError::Port)?.port())
}

impl BrokerProcess {
    /// Whether `kind`'s broker is installed here.
    pub fn available(kind: Kind) -> bool {
        find(kind.program().0).is_some()
    }

    /// Starts `kind`'s broker on a free port of 127.0.0.1, keeping its data under `dir`
    /// (created if needed), and waits until it accepts connections.
    pub fn start(kind: Kind, dir: &Path) -> Result<BrokerProcess, ProcessError> {
        let (name, _) = kind.program();
        std::fs::create_dir_all(dir).map_err(|e| ProcessError::Spawn(name, e))?;
        let mut p = BrokerProcess {
            kind,
            child: None,
            port: free_port()?,
            monitor_port: if kind == Kind::Nats { free_port()? } else { 0 },
            dir: dir.to_path_buf(),
        };
        p.spawn()?;
        Ok(p)
    }

    fn spawn(&mut self) -> Result<(), ProcessError> {
        let (name, package) = self.kind.program();
        let exe = find(name).ok_or(ProcessError::Missing(name, package))?;
        let port = self.port.to_string();
        let dir = self.dir.to_string_lossy().into_owned();
        let args: Vec<String> = match self.kind {
            Kind::Redis => [
                "--port",
                &port,
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--dir",
                &dir,
                "--daemonize",
                "no",
                "--protected-mode",
                "no",
                "--loglevel",
                "warning",
            ]
            .map(String::from)
            .to_vec(),
            Kind::Nats => vec![
                "-a".into(),
                "127.0.0.1".into(),
                "-p".into(),
                port.clone(),
                "-m".into(),
                self.monitor_port.to_string(),
                "-js".into(),
                "-sd".into(),
                dir.clone(),
            ],
        };
        let log = self.dir.join(format!("{name}.log"));
        let out = std::fs::File::create(&log).map_err(|e| ProcessError::Spawn(name, e))?;
        let err = out.try_clone().map_err(|e| ProcessError::Spawn(name, e))?;
        let mut cmd = match find("setpriv") {
            Some(setpriv) => {
                let mut c = Command::new(setpriv);
                c.args(["--pdeathsig", "TERM", "--"]).arg(&exe);
                c
            }
            None => Command::new(&exe),
        };
        cmd.args(&args).stdin(Stdio::null()).stdout(out).stderr(err);
        let child = cmd.spawn().map_err(|e| ProcessError::Spawn(name, e))?;
        self.child = Some(child);
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + START_TIMEOUT;
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            let exited = self
                .child
                .as_mut()
                .is_some_and(|c| c.try_wait().ok().flatten().is_some());
            if exited || Instant::now() > deadline {
                self.stop();
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                let tail: String = text.lines().rev().take(3).collect::<Vec<_>>().join(" | ");
                return Err(ProcessError::NotReady(
                    name,
                    addr,
                    START_TIMEOUT.as_secs(),
                    tail,
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    /// The broker's URL.
    pub fn url(&self) -> BrokerUrl {
        BrokerUrl {
            kind: self.kind,
            host: "127.0.0.1".into(),
            port: self.port,
        }
    }

    /// Which broker.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// NATS's HTTP monitoring port (`/varz`, `/jsz`); None for Redis.
    pub fn monitor_port(&self) -> Option<u16> {
        (self.monitor_port != 0).then_some(self.monitor_port)
    }

    /// The broker's process id (None once stopped).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Stops the broker gracefully (its data is written out) and starts it again on the
    /// same port with the same data.
    pub fn restart(&mut self) -> Result<(), ProcessError> {
        self.stop();
        self.spawn()
    }

    /// Kills the broker at once (SIGKILL: nothing written out); [`restart`](Self::restart)
    /// brings it back.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Stops the broker: SIGTERM, then SIGKILL after a few seconds.
    pub fn stop(&mut self) {
        let Some(mut c) = self.child.take() else {
            return;
        };
        if let Some(pid) = rustix::process::Pid::from_raw(c.id() as i32) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if c.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = c.kill();
        let _ = c.wait();
    }
}

impl Drop for BrokerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

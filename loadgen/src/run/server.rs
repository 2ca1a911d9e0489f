//! The server a run measures: a `--target`, or a child `pushbench serve` of its own, started
//! again for each technique (unless `--one-server`) so each technique's memory and CPU are its
//! own. A child that dies on its own stops the run, with the reason. With `--broker` a real
//! broker is started first (it outlives every fresh server of the run, and stops after the
//! last one): the child server shares its topics over it under the namespace `pb-<run id>`.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{RunError, Shutdown};
use crate::config::RunConfig;
use crate::measure::restart::Restarted;
use crate::sut::broker::ChildBroker;
use crate::sut::child::{self, ChildOptions, ChildServer};
use crate::sut::sampler::ServerProbe;
use crate::sut::target::Target;

/// The server of the technique being measured.
#[derive(Debug)]
pub struct Server {
    pub target: Target,
    /// The child server and how to start another (None with `--target`).
    child: Option<(ChildServer, ChildOptions)>,
    /// `--server-pid`: the target's root process, sampled from /proc.
    server_pid: Option<u32>,
    stats_timeout: Duration,
    /// The child broker of `--broker` (None: none).
    pub broker: Option<Arc<ChildBroker>>,
}

impl Server {
    /// The `--target`, checked to answer, or a child server of our own.
    pub async fn start(cfg: &RunConfig, sd: &Shutdown, run_id: &str) -> Result<Server, RunError> {
        let stats_timeout = cfg.connect_timeout.min(Duration::from_secs(2));
        if let Some(url) = &cfg.target {
            let target = Target::from_url(url)
                .await?
                .with_profile(cfg.profile.clone())
                .with_transport(cfg.transport.clone())?;
            target.check_reachable(cfg.connect_timeout).await?;
            return Ok(Server {
                target,
                child: None,
                server_pid: cfg.server_pid,
                stats_timeout,
                broker: None,
            });
        }
        let broker = match cfg.broker {
            Some(kind) => Some(Arc::new(ChildBroker::start(kind, run_id).await?)),
            None => None,
        };
        let opts = ChildOptions {
            exe: std::env::current_exe().map_err(RunError::Exe)?,
            retention: cfg.retention,
            long_poll_timeout: cfg.long_poll_timeout,
            heartbeat: child::heartbeat_for(cfg.read_timeout),
            processes: cfg.server_processes,
            max_connections: child::max_connections(cfg.clients, cfg.server_processes),
            start_timeout: Duration::from_secs(10),
            tls: child_certificate(cfg)?,
            broker: broker
                .as_ref()
                .map(|b| (b.url.clone(), format!("pb-{run_id}"))),
        };
        let (target, c) = match start_child(&opts, cfg, sd).await {
            Ok(x) => x,
            Err(e) => {
                if let Some(b) = &broker {
                    b.stop().await;
                }
                return Err(e);
            }
        };
        Ok(Server {
            target,
            child: Some((c, opts)),
            server_pid: None,
            stats_timeout,
            broker,
        })
    }

    /// Whether the run started this server (a child process).
    pub fn is_child(&self) -> bool {
        self.child.is_some()
    }

    /// The child server's command line (None with `--target`).
    pub fn command(&self) -> Option<Vec<String>> {
        self.child.as_ref().map(|(c, _)| c.command.clone())
    }

    /// Where the server's CPU and memory come from: /proc for a child or a `--server-pid`
    /// (the process and its descendants), the target's `/stats` otherwise.
    pub fn probe(&self) -> ServerProbe {
        match (&self.child, self.server_pid) {
            (Some((c, _)), _) => ServerProbe::Child(c.pid),
            (None, Some(pid)) => ServerProbe::Child(pid),
            (None, None) => ServerProbe::Remote(Box::new(self.target.clone()), self.stats_timeout),
        }
    }

    /// A fresh child server in place of this one (nothing to do with `--target`): the old one
    /// is stopped first. Err: the new one could not be started; the run is stopped then.
    pub async fn renew(&mut self, cfg: &RunConfig, sd: &Shutdown) -> Result<(), RunError> {
        let Some((old, opts)) = self.child.take() else {
            return Ok(());
        };
        stop_child(old, sd).await;
        if sd.token.is_cancelled() {
            return Ok(());
        }
        let (target, c) = start_child(&opts, cfg, sd).await?;
        self.target = target;
        self.child = Some((c, opts));
        Ok(())
    }

    /// The `restart-server` fault: kills the child server and starts it again on the same
    /// address (see [`ChildServer::restart`]), then checks it answers. Returns the killed
    /// processes' CPU seconds just before the kill and where the new one is sampled from.
    /// None with `--target`. Err: the new server could not be started (the run stops then).
    pub async fn restart(
        &mut self,
        cfg: &RunConfig,
        sd: &Shutdown,
    ) -> Option<Result<Restarted, RunError>> {
        let old_cpu_s = self.probe().sample().await.map(|s| s.cpu_s);
        let (c, _) = self.child.as_mut()?;
        let old_pid = c.pid;
        if let Err(e) = c.restart().await {
            sd.child_pid.store(0, std::sync::atomic::Ordering::Relaxed);
            return Some(Err(e.into()));
        }
        sd.child_pid
            .store(c.pid, std::sync::atomic::Ordering::Relaxed);
        if let Err(e) = self.target.check_reachable(cfg.connect_timeout).await {
            return Some(Err(e.into()));
        }
        Some(Ok(Restarted {
            old_pid,
            new_pid: c.pid,
            old_cpu_s,
            probe: self.probe(),
        }))
    }

    /// Ends the run (with the reason) if the child server dies on its own before `stop`.
    pub fn watch(&self, sd: &Shutdown, stop: &CancellationToken) -> Option<JoinHandle<()>> {
        let (c, _) = self.child.as_ref()?;
        let sd = sd.clone();
        let stop = stop.clone();
        let mut exited = c.exited_watch();
        Some(tokio::spawn(async move {
            tokio::select! {
                _ = stop.cancelled() => {}
                r = exited.wait_for(|e| e.is_some()) => {
                    if let Ok(why) = r {
                        let why = why.clone().unwrap_or_default();
                        // The current process's pid (it changes when the server is restarted).
                        let pid = sd.child_pid.load(std::sync::atomic::Ordering::Relaxed);
                        sd.trigger(format!("{why} (pid {pid})"));
                    }
                }
            }
        }))
    }

    /// Stops the child server, if any, recording why if it had died on its own.
    pub async fn stop(self, sd: &Shutdown) {
        if let Some((c, opts)) = self.child {
            stop_child(c, sd).await;
            forget_certificate(&opts);
        }
        if let Some(b) = self.broker {
            b.stop().await;
        }
    }

    /// Stops the child server without a word (the run could not start).
    pub async fn abandon(self) {
        if let Some((c, opts)) = self.child {
            c.stop().await;
            forget_certificate(&opts);
        }
        if let Some(b) = self.broker {
            b.stop().await;
        }
    }
}

/// Starts a child server and checks it answers.
async fn start_child(
    opts: &ChildOptions,
    cfg: &RunConfig,
    sd: &Shutdown,
) -> Result<(Target, ChildServer), RunError> {
    let c = ChildServer::start(opts).await?;
    sd.child_pid
        .store(c.pid, std::sync::atomic::Ordering::Relaxed);
    let t = match Target::local(c.addr).with_transport(child_transport(cfg, opts)) {
        Ok(t) => t,
        Err(e) => {
            c.stop().await;
            return Err(e.into());
        }
    };
    if let Err(e) = t.check_reachable(cfg.connect_timeout).await {
        c.stop().await;
        return Err(e.into());
    }
    Ok((t, c))
}

/// With `--tls` and no `--target`: a certificate made for this run's child server (in the
/// temporary directory, one per load-generator process), which its clients then trust.
fn child_certificate(
    cfg: &RunConfig,
) -> Result<Option<(std::path::PathBuf, std::path::PathBuf)>, RunError> {
    if !cfg.transport.tls {
        return Ok(None);
    }
    let dir = std::env::temp_dir().join(format!("pushbench-tls-{}", std::process::id()));
    let pair = crate::net::tls::self_signed(&dir).map_err(crate::sut::target::TargetError::from)?;
    Ok(Some(pair))
}

/// Removes the certificate made for the child server (and its directory), if one was.
fn forget_certificate(opts: &ChildOptions) {
    if let Some(dir) = opts.tls.as_ref().and_then(|(cert, _)| cert.parent()) {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// How the clients reach the child server: as the run says, trusting the certificate made
/// for it unless `--insecure` or `--ca` says otherwise.
fn child_transport(cfg: &RunConfig, opts: &ChildOptions) -> crate::config::TransportConfig {
    let mut t = cfg.transport.clone();
    if let Some((cert, _)) = &opts.tls
        && !t.insecure
        && t.ca.is_none()
    {
        t.ca = Some(cert.clone());
    }
    t
}

/// Stops a child server, recording why if it had died on its own.
async fn stop_child(c: ChildServer, sd: &Shutdown) {
    if let Some(why) = c.exited() {
        sd.trigger(format!("{why} (pid {})", c.pid));
    }
    c.stop().await;
    sd.child_pid.store(0, std::sync::atomic::Ordering::Relaxed);
}

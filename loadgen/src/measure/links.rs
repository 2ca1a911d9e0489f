//! The emulated links of one technique's phase (`--link`, `--publisher-link`;
//! docs/NETWORK.md): a link [`Emulator`] started for the phase in this process when it
//! carries a link here (the publisher's, or the subscribers' when they run in this process;
//! worker processes start their own), and what the links carried and cost, added up with the
//! workers' ([`LinkFigures`]). With no link asked for, nothing starts: clients and publisher
//! connect directly, exactly as without the flags.

use std::io;

use crate::config::RunConfig;
use crate::group::WorkerTotals;
use crate::link::{self, Emulator, Link, LinkCounts, LinkSpec};

/// This process's links for one technique's phase.
#[derive(Debug, Default)]
pub struct PhaseLinks {
    emu: Option<Emulator>,
    /// The subscribers' link, when they run in this process.
    pub subscribers: Option<Link>,
    /// The publisher's link.
    pub publisher: Option<Link>,
}

/// What the links of one technique carried and what the emulator cost, all processes.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkFigures {
    /// The subscribers' link and its counts (None: direct).
    pub subscribers: Option<(LinkSpec, LinkCounts)>,
    /// The publisher's link and its counts (None: direct).
    pub publisher: Option<(LinkSpec, LinkCounts)>,
    /// Processes that ran an emulator, and its threads in each.
    pub processes: u64,
    pub threads: u64,
    /// CPU seconds of every emulator thread (None: unknown somewhere).
    pub cpu_s: Option<f64>,
}

impl PhaseLinks {
    /// Starts this process's emulator if it carries a link (see the module doc).
    pub fn start(cfg: &RunConfig) -> io::Result<PhaseLinks> {
        let local_subs = !cfg.link.is_none() && cfg.processes <= 1;
        let publisher = !cfg.publisher_link.is_none();
        if !local_subs && !publisher {
            return Ok(PhaseLinks::default());
        }
        let emu = Emulator::start(link::DEFAULT_THREADS)?;
        Ok(PhaseLinks {
            subscribers: local_subs.then(|| emu.link(cfg.link)),
            publisher: publisher.then(|| emu.link(cfg.publisher_link)),
            emu: Some(emu),
        })
    }

    /// The figures of the phase: this process's links and emulator plus the workers'
    /// (`workers`: their totals, when the subscribers ran in worker processes). None when
    /// no link was asked for.
    pub fn figures(&self, cfg: &RunConfig, workers: Option<&WorkerTotals>) -> Option<LinkFigures> {
        if cfg.link.is_none() && cfg.publisher_link.is_none() {
            return None;
        }
        let mut processes = 0;
        let mut cpu_s = Some(0.0);
        if let Some(emu) = &self.emu {
            processes += 1;
            cpu_s = emu.cpu_seconds();
        }
        let subscribers = (!cfg.link.is_none()).then(|| {
            let mut counts = self
                .subscribers
                .as_ref()
                .map(|l| LinkCounts::of(&l.stats()))
                .unwrap_or_default();
            if let Some(w) = workers {
                counts.add(&w.link);
                processes += w.link_processes;
                cpu_s = cpu_s.zip(w.link_cpu_s).map(|(a, b)| a + b);
            }
            (cfg.link, counts)
        });
        let publisher = self
            .publisher
            .as_ref()
            .map(|l| (cfg.publisher_link, LinkCounts::of(&l.stats())));
        Some(LinkFigures {
            subscribers,
            publisher,
            processes,
            threads: link::DEFAULT_THREADS as u64,
            cpu_s,
        })
    }
}

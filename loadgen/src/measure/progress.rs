//! The live progress line on stderr (clients connected, messages delivered, p99 so far),
//! hidden when stderr or stdout is not a terminal.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::stats::Recorder;

/// One spinner line, updated by the orchestrator.
#[derive(Debug, Clone)]
pub struct Progress {
    bar: ProgressBar,
    enabled: bool,
}

impl Progress {
    /// A progress line, drawn only when both stderr and stdout are terminals.
    pub fn new() -> Progress {
        let enabled = std::io::stderr().is_terminal() && std::io::stdout().is_terminal();
        let bar = if enabled {
            ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template("{spinner} {prefix:>9} {wide_msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        if enabled {
            bar.enable_steady_tick(Duration::from_millis(200));
        }
        Progress { bar, enabled }
    }

    /// Shows where technique `rec` is.
    pub fn update(&self, rec: &Recorder, phase: &str, clients: u32, left: Option<Duration>) {
        if !self.enabled {
            return;
        }
        let s = rec.snapshot();
        let lat = rec.latency();
        let p99 = if lat.is_empty() {
            "-".to_string()
        } else {
            format!("{:.1} ms", lat.value_at_quantile(0.99) as f64 / 1000.0)
        };
        let left = left
            .map(|d| format!(" ({:.0}s left)", d.as_secs_f64().ceil()))
            .unwrap_or_default();
        self.bar.set_prefix(rec.technique.name());
        self.bar.set_message(format!(
            "{phase}{left}: {}/{clients} connected, {} delivered, p99 {p99}, {} errors",
            s.connections,
            s.delivered,
            s.errors.iter().sum::<u64>()
        ));
    }

    /// Prints a line above the spinner (or to stderr when hidden).
    pub fn println(&self, line: &str) {
        if self.enabled {
            self.bar.println(line);
        } else {
            eprintln!("{line}");
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Default for Progress {
    fn default() -> Self {
        Self::new()
    }
}

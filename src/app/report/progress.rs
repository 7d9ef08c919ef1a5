//! The live progress line on stderr: only on a terminal, only for lists of
//! more than a handful of URLs, never mixed into stdout, and cleared when the
//! run ends or is interrupted.

use std::io::IsTerminal;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::Summary;

/// Lists this short finish before a progress line would help.
const HANDFUL: u64 = 5;

pub struct Progress {
    bar: Option<ProgressBar>,
    /// Whether stdout shares the terminal, so writes must hide the bar.
    stdout_on_terminal: bool,
    /// URLs read so far; the total while the count below is not known.
    read: u64,
    /// The number of URLs in the run, once counted (see `input`).
    total: Option<Arc<OnceLock<u64>>>,
}

impl Progress {
    /// A progress line if stderr is a terminal and `enabled`.
    pub fn new(enabled: bool) -> Self {
        let bar = (enabled && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::hidden());
            let template = "{pos}/{len} checked: {msg}  {elapsed_precise}, ETA {eta}";
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style);
            }
            bar
        });
        let stdout_on_terminal = std::io::stdout().is_terminal();
        Progress { bar, stdout_on_terminal, read: 0, total: None }
    }

    /// Whether a progress line could be shown at all.
    pub fn wanted(&self) -> bool {
        self.bar.is_some()
    }

    pub fn set_total(&mut self, total: Arc<OnceLock<u64>>) {
        self.total = Some(total);
    }

    /// `read` URLs were read in this round; once the list is known to be
    /// more than a handful, the line appears.
    pub fn set_read(&mut self, read: u64) {
        let Some(bar) = &self.bar else { return };
        if read == self.read {
            return;
        }
        self.read = read;
        let counted = self.total.as_ref().and_then(|total| total.get().copied());
        let total = counted.unwrap_or(0).max(self.read);
        if bar.length() != Some(total) {
            bar.set_length(total);
        }
        if total > HANDFUL && bar.is_hidden() {
            bar.set_draw_target(ProgressDrawTarget::stderr());
            bar.enable_steady_tick(Duration::from_millis(200));
        }
    }

    /// A result came in; `summary` has already counted it.
    pub fn done(&self, summary: &Summary) {
        if let Some(bar) = &self.bar {
            let rate = summary.checked() as f64 / bar.elapsed().as_secs_f64().max(0.001);
            bar.set_message(format!(
                "{} ok, {} failed, {} errors, {rate:.0}/s",
                summary.ok, summary.failed, summary.errors
            ));
            bar.inc(1);
        }
    }

    /// The line, when stdout shares its terminal: writes to stdout from
    /// another thread must hide it too.
    pub fn shares_stdout_terminal(&self) -> Option<ProgressBar> {
        self.bar.clone().filter(|_| self.stdout_on_terminal)
    }

    /// Runs `write` with the line hidden when stdout shares its terminal.
    pub fn hide_while<T>(&self, write: impl FnOnce() -> T) -> T {
        match &self.bar {
            Some(bar) if self.stdout_on_terminal => bar.suspend(write),
            _ => write(),
        }
    }

    pub fn clear(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

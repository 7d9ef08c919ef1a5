//! The live progress line on stderr: only on a terminal, only for lists of
//! more than a handful of URLs, never mixed into stdout, and cleared when the
//! run ends or is interrupted.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Lists this short finish before a progress line would help.
const HANDFUL: u64 = 5;

pub struct Progress {
    bar: Option<ProgressBar>,
    /// Whether stdout shares the terminal, so writes must hide the bar.
    stdout_on_terminal: bool,
    total: u64,
}

impl Progress {
    /// A progress line if stderr is a terminal and `enabled`.
    pub fn new(enabled: bool) -> Self {
        let bar = (enabled && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::hidden());
            let style = ProgressStyle::with_template(
                "{pos}/{len} checked, {msg}  {per_sec}  {elapsed_precise}  ETA {eta}",
            );
            if let Ok(style) = style {
                bar.set_style(style);
            }
            bar
        });
        Progress {
            bar,
            stdout_on_terminal: std::io::stdout().is_terminal(),
            total: 0,
        }
    }

    /// A URL was read; past a handful, the line appears.
    pub fn add_target(&mut self) {
        let Some(bar) = &self.bar else { return };
        self.total += 1;
        bar.set_length(self.total);
        if self.total == HANDFUL + 1 {
            bar.set_draw_target(ProgressDrawTarget::stderr());
            bar.enable_steady_tick(Duration::from_millis(200));
        }
    }

    pub fn done(&self, ok: u64, failed: u64) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!("{ok} ok, {failed} not"));
            bar.inc(1);
        }
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

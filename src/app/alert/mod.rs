//! Alerts: each result's state goes through flap damping (`damping`); a
//! confirmed change runs the `--on-change` hook (`change`, `hooks`); the
//! confirmed states are kept in `--state FILE` across restarts
//! (`state_file`). Only conclusive rounds move anything: a round whose
//! canaries all failed alerts nothing and advances no streak.

pub mod change;
pub mod damping;
pub mod hooks;
pub mod state_file;

use std::path::PathBuf;

use anyhow::Context;
use statuscheck::result::unix_now;
use statuscheck::State;

use crate::app::input::Checked;
use crate::app::report;
use change::Change;
use damping::{Damper, Damping, Key};
use hooks::{Hook, Hooks};
use state_file::Loaded;

/// What the command line asks of alerts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    /// `--on-change CMD` and `--on-change-timeout`.
    pub hook: Option<Hook>,
    /// `--fail-after`, `--recover-after`.
    pub damping: Damping,
    /// `--state FILE`.
    pub state: Option<PathBuf>,
}

impl Settings {
    /// Whether states are followed at all.
    pub fn enabled(&self) -> bool {
        self.hook.is_some() || self.state.is_some()
    }
}

/// The states to start from, before any check: `--state FILE` read (a
/// truncated or foreign file is said on stderr and treated as empty), and
/// its directory found writable. `None` when alerts are off.
pub fn prepare(settings: &Settings) -> anyhow::Result<Option<Damper>> {
    if !settings.enabled() {
        return Ok(None);
    }
    let Some(path) = &settings.state else { return Ok(Some(Damper::new(settings.damping, []))) };
    let shown = path.display();
    let saved = match state_file::load(path).with_context(|| format!("cannot read --state '{shown}'"))? {
        Loaded::Missing => Vec::new(),
        Loaded::States(states) => states,
        Loaded::Unusable(why) => {
            report::message(&format!("--state '{shown}': {why}; starting with no saved states"));
            Vec::new()
        }
    };
    state_file::check_writable(path).with_context(|| format!("cannot write --state '{shown}' (its directory)"))?;
    Ok(Some(Damper::new(settings.damping, saved)))
}

/// The alerts of a run.
pub struct Alerts {
    damper: Damper,
    hooks: Option<Hooks>,
    state: Option<PathBuf>,
    /// Whether the last save failed, so a failing disk is said once, not
    /// every round.
    save_failed: bool,
}

impl Alerts {
    /// Starts the hooks' task: inside the runtime.
    pub fn start(settings: &Settings, damper: Damper) -> Alerts {
        let hooks = settings.hook.clone().map(Hooks::start);
        Alerts { damper, hooks, state: settings.state.clone(), save_failed: false }
    }

    /// One result, in the state the report showed: a confirmed change runs
    /// the hook, off this task.
    pub fn observe(&mut self, checked: &Checked, state: State, inconclusive: bool) {
        let target = &checked.target;
        let url = match &target.url {
            Ok(url) => url.as_str().to_owned(),
            Err(_) => target.input.clone(),
        };
        let key = Key { url, name: target.name().map(str::to_owned) };
        let Some(transition) = self.damper.observe(key, state, inconclusive) else { return };
        if let Some(hooks) = &self.hooks {
            hooks.submit(Change::new(checked, transition, unix_now()));
        }
    }

    /// A round ended (`complete`: every line was checked): the states are
    /// saved, and dropped hooks said.
    pub fn end_round(&mut self, complete: bool) {
        self.damper.end_round(complete);
        self.save();
        if let Some(hooks) = &mut self.hooks {
            hooks.report_dropped();
        }
    }

    fn save(&mut self) {
        let Some(path) = &self.state else { return };
        match state_file::save(path, &self.damper) {
            Ok(()) => self.save_failed = false,
            Err(error) if !self.save_failed => {
                report::message(&format!("cannot write --state '{}': {error}", path.display()));
                self.save_failed = true;
            }
            Err(_) => {}
        }
    }

    /// No more results; see [`Hooks::close`].
    pub fn close(&mut self, interrupted: bool) {
        if let Some(hooks) = &mut self.hooks {
            hooks.close(interrupted);
        }
    }

    /// Kills the running hooks now (a second signal).
    pub fn kill(&mut self) {
        if let Some(hooks) = &mut self.hooks {
            hooks.kill();
        }
    }

    /// Hooks still running.
    pub fn running(&self) -> u64 {
        self.hooks.as_ref().map_or(0, Hooks::running)
    }

    /// Waits for every hook to end; cancel-safe.
    pub async fn wait(&mut self) {
        if let Some(hooks) = &mut self.hooks {
            hooks.wait().await;
        }
    }
}

//! statuscheck: which of these websites are up, right now?
//!
//! Data flows one way: arguments (`app::cli`) → URL lines (`app::input`) →
//! checks (the `statuscheck` library, driven by `app::run`) → output
//! (`app::report`). This file only wires them and picks the exit status.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod app;

use std::io::{self, BufWriter};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use clap::Parser;

use crate::app::cli::{Action, Cli, Config};
use crate::app::input;
use crate::app::report::{self, Report};
use crate::app::run::{self, Ending, Plan};

/// Exit status: nothing down / something down (or degraded, with
/// `--fail-on degraded`) / usage or input error / inconclusive (every
/// `--canary` failed with a network error).
const EXIT_OK: u8 = 0;
const EXIT_FAILED: u8 = 1;
const EXIT_USAGE: u8 = 2;
const EXIT_INCONCLUSIVE: u8 = 3;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            report::message(&format!("{error:#}"));
            ExitCode::from(EXIT_USAGE)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<u8> {
    let started = Instant::now();
    let config = match Config::from_cli(cli)? {
        Action::Check(config) => config,
        Action::Printed => return Ok(EXIT_OK),
    };
    // Every input is opened first: an unreadable file stops the run before
    // anything is checked.
    let inputs = input::open(&config.checks, &config.files, config.options.profile())?;
    let config: Arc<Config> = Arc::from(config);
    let (runtime, spill) = runtimes()?;
    let plan = Plan::new(config.clone(), spill)?;
    // Stdout is written by a thread of its own, so that a reader that does
    // not read cannot keep the runner from seeing a signal.
    let stdout = BufWriter::with_capacity(64 * 1024, io::stdout());
    let mut report = Report::with_writer_thread(stdout, config.report.clone())?;
    if report.wants_total() {
        let planned = input::planned_count(&inputs, config.shard);
        report.set_total(input::count_in_background(&config.urls, &config.files, config.shard, planned));
    }
    let ending = match report.begin() {
        Ok(()) => {
            let ending;
            (ending, report) = runtime.block_on(run::rounds(plan, inputs, report));
            ending
        }
        Err(error) => Err(error.into()),
    };
    // Don't wait for resolver threads still stuck in getaddrinfo.
    runtime.shutdown_background();

    let ending = ending?;
    if let Ending::InputFailed(error) = &ending {
        report::message(error);
    }
    let code = exit_code(&ending, report.summary.healthy(config.fail_on_degraded), report.inconclusive());
    let interrupted = matches!(ending, Ending::Interrupted { .. });
    match ending {
        Ending::OutputClosed => report.abandon(),
        _ if config.quiet => report.abandon(),
        _ => report.finish(started.elapsed(), interrupted, config.summary_json),
    }
    Ok(code)
}

/// The runtime that runs the runner, the report and, while it keeps up,
/// every check: one thread, so that a check hands nothing between threads.
/// And one more single-threaded runtime per further core, on a thread of its
/// own, for checks to spill over to when that one is busy (`engine::spill`).
fn runtimes() -> io::Result<(tokio::runtime::Runtime, Vec<tokio::runtime::Handle>)> {
    let home = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let mut spill = Vec::new();
    for _ in 1..cores {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        spill.push(runtime.handle().clone());
        // Runs its tasks until the process ends.
        std::thread::Builder::new()
            .name("checks".into())
            .spawn(move || runtime.block_on(std::future::pending::<()>()))?;
    }
    Ok((home, spill))
}

/// The documented exit status: 0 nothing down, 1 something down (or
/// degraded, with `--fail-on degraded`: `healthy` says which), 2 usage or
/// input error, 3 inconclusive (the last round's canaries all failed with a
/// network error), 128 + N for signal N. A closed stdout reports what was seen.
fn exit_code(ending: &Ending, healthy: bool, inconclusive: bool) -> u8 {
    match ending {
        Ending::Interrupted { signal } => 128u8.saturating_add(*signal as u8),
        Ending::InputFailed(_) => EXIT_USAGE,
        Ending::Finished | Ending::OutputClosed if inconclusive => EXIT_INCONCLUSIVE,
        Ending::Finished | Ending::OutputClosed if healthy => EXIT_OK,
        Ending::Finished | Ending::OutputClosed => EXIT_FAILED,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_contract() {
        assert_eq!(exit_code(&Ending::Finished, true, false), 0);
        assert_eq!(exit_code(&Ending::Finished, false, false), 1);
        assert_eq!(exit_code(&Ending::OutputClosed, false, false), 1);
        assert_eq!(exit_code(&Ending::Interrupted { signal: 2 }, true, false), 130);
        assert_eq!(exit_code(&Ending::Interrupted { signal: 15 }, false, false), 143);
        assert_eq!(exit_code(&Ending::InputFailed("x".into()), true, false), 2);
        assert_eq!(exit_code(&Ending::Finished, false, true), 3);
        assert_eq!(exit_code(&Ending::Finished, true, true), 3);
        assert_eq!(exit_code(&Ending::Interrupted { signal: 15 }, false, true), 143);
        assert_eq!(exit_code(&Ending::InputFailed("x".into()), true, true), 2);
    }
}

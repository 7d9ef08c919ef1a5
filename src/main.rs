//! statuscheck: which of these websites are up, right now?
//!
//! Data flows one way: arguments (`cli`) → URL lines (`input`) → checks
//! (`run`, `check`, `http`, `tls`, `resolve`) → results (`outcome`) →
//! output (`report`). This file only wires them and picks the exit status.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod attempt;
mod blocked;
mod check;
mod cli;
mod fdlimit;
mod http;
mod input;
mod outcome;
mod proxy;
mod report;
mod resolve;
mod run;
mod schedule;
mod shard;
mod tls;

use std::io::{self, BufWriter};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use clap::Parser;

use crate::attempt::Tries;
use crate::cli::{Action, Cli, Config};
use crate::report::Report;
use crate::run::{Ending, Limits, Plan};

/// Exit status: every URL accepted / some failed / usage or input error.
const EXIT_OK: u8 = 0;
const EXIT_FAILED: u8 = 1;
const EXIT_USAGE: u8 = 2;

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
    let inputs = input::open(&config.files)?;
    let answered = config.resume.as_deref().map(input::Answered::load).transpose()?.map(Arc::new);
    let checker = check::checker(&config)?;
    if config.insecure {
        report::message("--insecure: TLS certificates are not verified");
    }
    let concurrency = fdlimit::fit(config.concurrency);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let tries = Arc::new(Tries::new(config.retries, config.retry_after_max, config.rate));
    let limits = Limits { concurrency, per_host: config.per_host, ordered: config.ordered, dedupe: config.dedupe };
    let stdout = BufWriter::with_capacity(64 * 1024, io::stdout().lock());
    let mut report = Report::new(stdout, config.report.clone());
    if report.wants_total() {
        report.set_total(input::count_in_background(&config.urls, &config.files, config.shard));
    }
    let plan = Plan { config: &config, checker, tries, limits, answered };
    let ending = report
        .begin()
        .map_err(anyhow::Error::from)
        .and_then(|()| runtime.block_on(run::rounds(&plan, inputs, &mut report)));
    // Don't wait for resolver threads still stuck in getaddrinfo.
    runtime.shutdown_background();

    let summary = &report.summary;
    let code = match ending? {
        Ending::OutputClosed => {
            report.abandon();
            return Ok(if summary.all_ok() { EXIT_OK } else { EXIT_FAILED });
        }
        Ending::Interrupted { signal } => 128 + signal as u8,
        Ending::Finished if summary.all_ok() => EXIT_OK,
        Ending::Finished => EXIT_FAILED,
        Ending::InputFailed(error) => {
            report::message(&error);
            EXIT_USAGE
        }
    };
    if config.quiet {
        report.abandon();
    } else {
        report.finish(started.elapsed(), code > EXIT_USAGE, config.summary_json);
    }
    Ok(code)
}

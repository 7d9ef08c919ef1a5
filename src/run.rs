//! The runner: feeds targets into a bounded `JoinSet` and hands each result
//! to the report as it finishes (or in input order with `--ordered`).
//!
//! One loop serves both modes: `--sequential` is concurrency 1. At most
//! `concurrency` results exist at once, counting those held back for
//! `--ordered`, so memory is bounded by concurrency, not by list length.

use std::collections::BTreeMap;
use std::future::pending;
use std::io::{self, Write};
use std::sync::Arc;
use std::time::Instant;

use anyhow::anyhow;
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::mpsc;
use tokio::task::{JoinError, JoinSet};

use crate::check::Checker;
use crate::input::Target;
use crate::outcome::Checked;
use crate::report::Report;

/// How the run ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ending {
    /// Every target was checked and reported.
    Finished,
    /// SIGINT or SIGTERM: exit 128 + the signal number.
    Interrupted { signal: i32 },
    /// The reader of stdout went away (`| head -1`): stop quietly.
    OutputClosed,
}

/// Checks every target from `targets`, writing each result to `report`.
/// Errors are only what ends the program: a failed write to stdout.
pub async fn run<W: Write>(
    checker: Arc<Checker>,
    concurrency: usize,
    ordered: bool,
    mut targets: mpsc::Receiver<Target>,
    report: &mut Report<W>,
) -> anyhow::Result<Ending> {
    let mut tasks = JoinSet::new();
    let mut order = Order { ordered, next: 0, held: BTreeMap::new() };
    let mut input_open = true;
    let mut interrupted = std::pin::pin!(interrupt());

    let step: anyhow::Result<()> = async {
        loop {
            // Report everything already done, then flush so a pipe sees it
            // before we wait again.
            while let Some(done) = tasks.try_join_next() {
                order.push(joined(done)?, report)?;
            }
            if !input_open && tasks.is_empty() {
                break;
            }
            report.flush()?;
            let has_room = tasks.len() + order.held.len() < concurrency;
            tokio::select! {
                biased;
                signal = &mut interrupted => {
                    tasks.abort_all();
                    order.release_all(report)?;
                    report.end()?;
                    return Err(anyhow!(Interrupt(signal)));
                }
                Some(done) = tasks.join_next() => order.push(joined(done)?, report)?,
                next = targets.recv(), if input_open && has_room => match next {
                    Some(target) => {
                        report.target_read(&target);
                        tasks.spawn(check_one(checker.clone(), target));
                    }
                    None => input_open = false,
                },
            }
        }
        report.end()?;
        Ok(())
    }
    .await;

    match step {
        Ok(()) => Ok(Ending::Finished),
        Err(e) => match e.downcast::<Interrupt>() {
            Ok(Interrupt(signal)) => Ok(Ending::Interrupted { signal }),
            Err(e) => match e.downcast_ref::<io::Error>() {
                Some(io) if io.kind() == io::ErrorKind::BrokenPipe => Ok(Ending::OutputClosed),
                _ => Err(e.context("writing results")),
            },
        },
    }
}

/// One check, timed, as a task of its own.
async fn check_one(checker: Arc<Checker>, target: Target) -> Checked {
    let started = Instant::now();
    let Ok(url) = &target.url else {
        return Checked::invalid(target);
    };
    let answer = checker.check(url).await;
    Checked {
        elapsed: started.elapsed(),
        target,
        outcome: answer.outcome,
        trace: answer.trace,
        redirects: answer.redirects,
        final_url: answer.final_url,
        attempts: 1,
    }
}

/// A check task cannot fail except by a bug; say so rather than lose a row.
fn joined(result: Result<Checked, JoinError>) -> anyhow::Result<Checked> {
    result.map_err(|e| anyhow!("internal error: a check task failed: {e}"))
}

/// Releases results to the report, in input order when asked.
struct Order {
    ordered: bool,
    /// Index of the next result to print in ordered mode.
    next: u64,
    held: BTreeMap<u64, Checked>,
}

impl Order {
    fn push<W: Write>(&mut self, checked: Checked, report: &mut Report<W>) -> io::Result<()> {
        if !self.ordered {
            return report.emit(&checked);
        }
        self.held.insert(checked.target.index, checked);
        while let Some(checked) = self.held.remove(&self.next) {
            report.emit(&checked)?;
            self.next += 1;
        }
        Ok(())
    }

    /// On interruption every known result is still printed, in order, with
    /// the gaps of checks that never finished.
    fn release_all<W: Write>(&mut self, report: &mut Report<W>) -> io::Result<()> {
        for (_, checked) in std::mem::take(&mut self.held) {
            report.emit(&checked)?;
        }
        Ok(())
    }
}

/// The signal that ended the run, carried through `anyhow` to `run`.
#[derive(Debug)]
struct Interrupt(i32);

impl std::fmt::Display for Interrupt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "interrupted by signal {}", self.0)
    }
}

impl std::error::Error for Interrupt {}

/// Resolves with the signal number on the first SIGINT or SIGTERM.
async fn interrupt() -> i32 {
    async fn next(stream: &mut Option<Signal>) {
        match stream {
            Some(stream) => {
                stream.recv().await;
            }
            None => pending().await,
        }
    }
    let mut sigint = signal(SignalKind::interrupt()).ok();
    let mut sigterm = signal(SignalKind::terminate()).ok();
    tokio::select! {
        () = next(&mut sigint) => libc::SIGINT,
        () = next(&mut sigterm) => libc::SIGTERM,
    }
}

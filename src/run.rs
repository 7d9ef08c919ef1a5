//! The runner: feeds targets into a bounded `JoinSet` and hands each result
//! to the report as it finishes (or in input order with `--ordered`).
//!
//! One loop serves both modes: `--sequential` is concurrency 1. At most
//! `concurrency` checks run and results are held back for `--ordered`, and
//! a bounded number of targets wait in the scheduler, so memory is bounded
//! by concurrency, not by list length.

use std::collections::BTreeMap;
use std::future::pending;
use std::io::{self, Write};
use std::sync::Arc;

use anyhow::anyhow;
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::mpsc;
use tokio::task::{JoinError, JoinSet};

use crate::attempt::{check_one, Tries};
use crate::check::Checker;
use crate::cli::Config;
use crate::input::{self, Answered, Input, Target};
use crate::outcome::Checked;
use crate::report::Report;
use crate::schedule::{Admit, Scheduler};

/// How the run ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ending {
    /// Every target was checked and reported.
    Finished,
    /// SIGINT or SIGTERM: exit 128 + the signal number.
    Interrupted { signal: i32 },
    /// The reader of stdout went away (`| head -1`): stop quietly.
    OutputClosed,
    /// An input file failed while being read (the results so far stand).
    InputFailed(String),
}

/// Everything a round of checks needs, made once for the run.
pub struct Plan<'a> {
    pub config: &'a Config,
    pub checker: Arc<Checker>,
    pub tries: Arc<Tries>,
    pub limits: Limits,
    pub answered: Option<Arc<Answered>>,
}

impl<'a> Plan<'a> {
    /// Setup that can fail ends the program here, before any check: a bad
    /// `--cacert` or `--resume` file.
    pub fn new(config: &'a Config) -> anyhow::Result<Plan<'a>> {
        let answered = config.resume.as_deref().map(Answered::load).transpose()?.map(Arc::new);
        let checker = crate::check::checker(config)?;
        if config.insecure {
            crate::report::message("--insecure: TLS certificates are not verified");
        }
        let limits = Limits {
            concurrency: crate::fdlimit::fit(config.concurrency),
            per_host: config.per_host,
            ordered: config.ordered,
            dedupe: config.dedupe,
        };
        let tries = Arc::new(Tries::new(config.retries, config.retry_after_max, config.rate));
        Ok(Plan { config, checker, tries, limits, answered })
    }
}

/// All rounds: one, or with `--watch` one per interval until interrupted,
/// each reading the inputs afresh. `inputs` are the first round's, opened
/// before anything was checked.
pub async fn rounds<W: Write>(plan: &Plan<'_>, inputs: Vec<Input>, report: &mut Report<W>) -> anyhow::Result<Ending> {
    let config = plan.config;
    let mut inputs = Some(inputs);
    loop {
        let opened = match inputs.take() {
            Some(opened) => opened,
            None => input::open(&config.files)?,
        };
        let (targets, reader) = input::stream(config.urls.clone(), opened, 1024, config.shard, plan.answered.clone());
        let ending = run(plan.checker.clone(), plan.tries.clone(), plan.limits, targets, report).await?;
        if ending != Ending::Finished {
            return Ok(ending);
        }
        // The channel closed, so the reader thread has ended.
        match reader.join() {
            Ok(Ok(())) => {}
            Ok(Err(error)) => return Ok(Ending::InputFailed(format!("{error:#}"))),
            Err(_) => return Ok(Ending::InputFailed("the input reader failed".into())),
        }
        let Some(every) = config.watch else { return Ok(ending) };
        report.next_round();
        plan.checker.resolver.new_round();
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            signal = interrupt() => return Ok(Ending::Interrupted { signal }),
        }
    }
}

/// How many checks may run, and how they are admitted.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub concurrency: usize,
    pub per_host: usize,
    pub ordered: bool,
    pub dedupe: bool,
}

/// Targets waiting (for their host, or for a duplicate's answer) before the
/// runner stops reading input: keeps memory bounded by concurrency.
fn waiting_limit(concurrency: usize) -> usize {
    concurrency.saturating_mul(4).max(1024)
}

/// Checks every target from `targets`, writing each result to `report`.
/// Errors are only what ends the program: a failed write to stdout.
pub async fn run<W: Write>(
    checker: Arc<Checker>,
    tries: Arc<Tries>,
    limits: Limits,
    mut targets: mpsc::Receiver<Target>,
    report: &mut Report<W>,
) -> anyhow::Result<Ending> {
    let mut tasks = JoinSet::new();
    let mut order = Order { ordered: limits.ordered, next: 0, held: BTreeMap::new() };
    let mut scheduler = Scheduler::new(limits.per_host, limits.dedupe);
    let mut input_open = true;
    let mut interrupted = std::pin::pin!(interrupt());
    let start = |tasks: &mut JoinSet<Checked>, target| {
        // Boxed: the check future is large, and a pointer is cheaper to move into the task.
        tasks.spawn(Box::pin(check_one(checker.clone(), tries.clone(), target)));
    };

    let step: anyhow::Result<()> = async {
        loop {
            // Report everything already done, start what waited for it, then
            // flush so a pipe sees the results before we wait again.
            while let Some(done) = tasks.try_join_next() {
                finish(joined(done)?, &mut scheduler, &mut order, report)?;
            }
            while tasks.len() < limits.concurrency {
                let Some(target) = scheduler.next_ready() else { break };
                start(&mut tasks, target);
            }
            if !input_open && tasks.is_empty() && scheduler.waiting() == 0 {
                break;
            }
            report.flush()?;
            let has_room = tasks.len() + order.held.len() < limits.concurrency
                && scheduler.waiting() < waiting_limit(limits.concurrency);
            tokio::select! {
                biased;
                signal = &mut interrupted => {
                    tasks.abort_all();
                    order.release_all(report)?;
                    report.end()?;
                    return Err(anyhow!(Interrupt(signal)));
                }
                Some(done) = tasks.join_next() => finish(joined(done)?, &mut scheduler, &mut order, report)?,
                next = targets.recv(), if input_open && has_room => match next {
                    Some(target) => {
                        report.target_read(&target);
                        match scheduler.admit(target) {
                            Admit::Start(target) => start(&mut tasks, target),
                            Admit::Answered(copy) => order.push(*copy, report)?,
                            Admit::Waiting => {}
                        }
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

/// A check is done: free its host slot and report it, with the copies owed
/// to lines that waited for the same URL.
fn finish<W: Write>(
    checked: Checked,
    scheduler: &mut Scheduler,
    order: &mut Order,
    report: &mut Report<W>,
) -> io::Result<()> {
    let copies = scheduler.finished(&checked);
    order.push(checked, report)?;
    for copy in copies {
        order.push(copy, report)?;
    }
    Ok(())
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

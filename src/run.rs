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
use std::time::Duration;

use anyhow::{anyhow, Context};
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::mpsc;
use tokio::task::{JoinError, JoinSet};

use crate::attempt::{check_one, Tries};
use crate::check::Checker;
use crate::cli::Config;
use crate::input::{self, Answered, Input, Target};
use crate::outcome::Checked;
use crate::report::{Output, Report};
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
        // After the setup that can fail, so a refused run leaves FILE as it was.
        if let (Some(answered), Some(path)) = (&answered, &config.resume) {
            let mended = input::mend_resume_output(answered).context("mending the end of --resume")?;
            if answered.was_cut() && !config.quiet {
                let removed = if mended == input::Mended::CutRemoved { "removed it; " } else { "" };
                let name = path.display();
                crate::report::message(&format!(
                    "--resume '{name}' ends in a cut record: {removed}its line is checked again"
                ));
            }
        }
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

/// After a signal, how long the last results may take to reach stdout: a
/// reader that does not read would otherwise hold the exit forever.
const GRACE: Duration = Duration::from_secs(1);

/// All rounds: one, or with `--watch` one per interval until interrupted,
/// each reading the inputs afresh. `inputs` are the first round's, opened
/// before anything was checked. Ends when the last result is written.
pub async fn rounds(plan: &Plan<'_>, inputs: Vec<Input>, report: &mut Report<Output>) -> anyhow::Result<Ending> {
    let mut signals = Signals::new();
    let ending = all_rounds(plan, inputs, report, &mut signals).await?;
    close_output(ending, report, &mut signals).await
}

/// Waits for the writer to write everything, but never past a signal: after
/// one, only for [`GRACE`] (results handed over may not reach a blocked reader).
async fn close_output(ending: Ending, report: &mut Report<Output>, signals: &mut Signals) -> anyhow::Result<Ending> {
    match ending {
        Ending::OutputClosed => Ok(ending),
        Ending::Interrupted { .. } => {
            let _ = tokio::time::timeout(GRACE, report.output().close()).await;
            Ok(ending)
        }
        Ending::Finished | Ending::InputFailed(_) => tokio::select! {
            signal = signals.next() => Ok(Ending::Interrupted { signal }),
            closed = report.output().close() => match closed {
                Ok(()) => Ok(ending),
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(Ending::OutputClosed),
                Err(e) => Err(anyhow::Error::from(e).context("writing results")),
            },
        },
    }
}

async fn all_rounds(
    plan: &Plan<'_>,
    inputs: Vec<Input>,
    report: &mut Report<Output>,
    signals: &mut Signals,
) -> anyhow::Result<Ending> {
    let config = plan.config;
    let mut inputs = Some(inputs);
    loop {
        let opened = match inputs.take() {
            Some(opened) => opened,
            None => input::open(&config.files)?,
        };
        let (targets, reader) = input::stream(config.urls.clone(), opened, 1024, config.shard, plan.answered.clone());
        let ending = run(plan.checker.clone(), plan.tries.clone(), plan.limits, targets, report, signals).await?;
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
            signal = signals.next() => return Ok(Ending::Interrupted { signal }),
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
/// runner stops reading input. Far enough ahead that a list sorted by host
/// keeps every slot busy (the next hosts are read while one host's lines
/// wait); waiting targets are compact (about 100 bytes plus the URL), so
/// memory stays bounded by concurrency, at most about 200 MB.
fn waiting_limit(concurrency: usize) -> usize {
    concurrency.saturating_mul(64).clamp(65_536, 1 << 20)
}

/// Checks every target from `targets`, writing each result to `report`.
/// Errors are only what ends the program: a failed write to stdout.
/// Results go to the writer thread in the same `select` as the signals, and
/// while it is behind no new result is taken: a blocked stdout holds the
/// run back but never keeps a signal from ending it.
pub async fn run(
    checker: Arc<Checker>,
    tries: Arc<Tries>,
    limits: Limits,
    mut targets: mpsc::Receiver<Target>,
    report: &mut Report<Output>,
    signals: &mut Signals,
) -> anyhow::Result<Ending> {
    let mut tasks = JoinSet::new();
    let mut order = Order { ordered: limits.ordered, next: 0, held: BTreeMap::new() };
    let mut scheduler = Scheduler::new(limits.per_host, limits.dedupe);
    let mut input_open = true;
    let start = |tasks: &mut JoinSet<Checked>, target| {
        // Boxed: the check future is large, and a pointer is cheaper to move into the task.
        tasks.spawn(Box::pin(check_one(checker.clone(), tries.clone(), target)));
    };

    let step: anyhow::Result<()> = async {
        loop {
            // Report everything already done (while the writer keeps up),
            // start what waited for it; the select hands the results to the
            // writer before anything else, so a pipe sees them as they come.
            while !report.output().is_full() {
                let Some(done) = tasks.try_join_next() else { break };
                finish(joined(done)?, &mut scheduler, &mut order, report)?;
            }
            while tasks.len() < limits.concurrency {
                let Some(target) = scheduler.next_ready() else { break };
                start(&mut tasks, target);
            }
            if !input_open && tasks.is_empty() && scheduler.waiting() == 0 {
                break;
            }
            scheduler.note_free_slots(tasks.len() < limits.concurrency);
            let has_room = tasks.len() + order.held.len() < limits.concurrency
                && scheduler.waiting() < waiting_limit(limits.concurrency);
            let (pending, writable) = (report.output().has_pending(), !report.output().is_full());
            tokio::select! {
                biased;
                signal = signals.next() => {
                    tasks.abort_all();
                    order.release_all(report)?;
                    report.end()?;
                    return Err(anyhow!(Interrupt(signal)));
                }
                sent = report.output().send(), if pending => sent?,
                Some(done) = tasks.join_next(), if writable => finish(joined(done)?, &mut scheduler, &mut order, report)?,
                next = targets.recv(), if input_open && has_room && writable => match next {
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
        // Everything handed to the writer before the round ends.
        while report.output().has_pending() {
            tokio::select! {
                biased;
                signal = signals.next() => return Err(anyhow!(Interrupt(signal))),
                sent = report.output().send() => sent?,
            }
        }
        Ok(())
    }
    .await;
    report.summary.held_back(limits.per_host, scheduler.held_back());

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

/// SIGINT and SIGTERM, listened to from the start of the run to its end:
/// one that arrives while nobody waits is kept for the next wait, so none is
/// lost between the runner, the pause of `--watch` and the last write.
pub struct Signals {
    sigint: Option<Signal>,
    sigterm: Option<Signal>,
}

impl Signals {
    /// Must run inside the runtime.
    fn new() -> Signals {
        Signals { sigint: signal(SignalKind::interrupt()).ok(), sigterm: signal(SignalKind::terminate()).ok() }
    }

    /// The number of the next signal. Cancel-safe.
    async fn next(&mut self) -> i32 {
        async fn next(stream: &mut Option<Signal>) {
            match stream {
                Some(stream) => {
                    stream.recv().await;
                }
                None => pending().await,
            }
        }
        tokio::select! {
            () = next(&mut self.sigint) => libc::SIGINT,
            () = next(&mut self.sigterm) => libc::SIGTERM,
        }
    }
}

//! The binary's run: rounds of checks (one, or one per `--watch` interval),
//! each a stream of input lines given to the library's runner, with every
//! result handed to the report as it comes, and SIGINT/SIGTERM heard
//! throughout (exit 128 + N, with the summary).
//!
//! One `select` takes the next result, hands formatted bytes to the writer
//! thread and listens for signals; while the writer is behind no new result
//! is taken, so a blocked stdout holds the run back but never keeps a
//! signal from ending it.
//!
//! Each round starts with the canaries (`--canary`), and each result goes
//! on to the alerts (`--on-change`, `--state`), whose hooks run off this loop.

use std::future::pending;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context};
use statuscheck::{Checker, Limits, Results, Runner};
use tokio::signal::unix::{signal, Signal, SignalKind};

use super::alert::{self, damping::Damper, Alerts};
use super::canary::Canaries;
use super::cli::Config;
use super::input::{self, Answered, Checked, Input, Target, Widths};
use super::report::{self, Output, Report};

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
pub struct Plan {
    pub config: Arc<Config>,
    pub runner: Runner,
    pub answered: Option<Arc<Answered>>,
    /// The states alerts start from (`--state`); `None` without alerts.
    pub saved: Option<Damper>,
}

impl Plan {
    /// Setup that can fail ends the program here, before any check: a bad
    /// `--cacert` or `--resume` file.
    /// `spill`: the runtimes checks may spill over to ([`Runner::spill_to`]).
    pub fn new(config: Arc<Config>, spill: Vec<tokio::runtime::Handle>) -> anyhow::Result<Plan> {
        let answered = config.resume.as_deref().map(Answered::load).transpose()?.map(Arc::new);
        let checker = Checker::new(config.options.clone()).map_err(super::flags::setup_error)?;
        let saved = alert::prepare(&config.alerts)?;
        // After the setup that can fail, so a refused run leaves FILE as it was.
        if let (Some(answered), Some(path)) = (&answered, &config.resume) {
            let mended = input::mend_resume_output(answered).context("mending the end of --resume")?;
            if answered.was_cut() && !config.quiet {
                let removed = if mended == input::Mended::CutRemoved { "removed it; " } else { "" };
                let name = path.display();
                report::message(&format!("--resume '{name}' ends in a cut record: {removed}its line is checked again"));
            }
        }
        if config.options.is_insecure() {
            report::message("--insecure: TLS certificates are not verified");
        }
        let limits = fit_descriptors(config.limits);
        Ok(Plan { config, runner: Runner::new(checker, limits).spill_to(spill), answered, saved })
    }
}

/// The limits with `--concurrency` lowered, and the user told, when its
/// sockets would not fit under the file descriptor limit.
fn fit_descriptors(limits: Limits) -> Limits {
    let asked = limits.concurrency_limit();
    let (concurrency, lowered) = super::fdlimit::fit(asked, limits.descriptors_per_check());
    if let Some(limit) = lowered {
        report::message(&format!(
            "--concurrency {asked} needs more file descriptors than the limit of {limit}; using {concurrency}"
        ));
    }
    limits.concurrency(concurrency)
}

/// How often the progress line learns how many targets were read.
const PROGRESS_TICK: Duration = Duration::from_millis(100);

/// After a signal, how long the last results may take to reach stdout: a
/// reader that does not read would otherwise hold the exit forever.
const GRACE: Duration = Duration::from_secs(1);

/// All rounds: one, or with `--watch` one per interval until interrupted,
/// each reading the inputs afresh. `inputs` are the first round's, opened
/// before anything was checked. Ends when the last result is written, and
/// gives the report back for its summary. Meant for the single-threaded
/// runtime the checks start on (`main`), so a result reaches the report
/// without waking another thread.
pub async fn rounds(
    plan: Plan,
    inputs: Vec<Input>,
    mut report: Report<Output>,
) -> (anyhow::Result<Ending>, Report<Output>) {
    let ending = rounds_here(&plan, inputs, &mut report).await;
    (ending, report)
}

async fn rounds_here(plan: &Plan, inputs: Vec<Input>, report: &mut Report<Output>) -> anyhow::Result<Ending> {
    let mut signals = Signals::new();
    let mut watch = Watch {
        canaries: Canaries::new(plan.config.canaries.clone(), plan.config.quiet),
        alerts: plan.saved.clone().map(|saved| Alerts::start(&plan.config.alerts, saved)),
    };
    let ending = all_rounds(plan, inputs, report, &mut signals, &mut watch).await?;
    let ending = close_output(ending, report, &mut signals).await?;
    Ok(end_alerts(watch.alerts, ending, &mut signals).await)
}

/// What lives from round to round besides the report: the canaries and
/// the alerts.
struct Watch {
    canaries: Canaries,
    alerts: Option<Alerts>,
}

/// The hooks' end. A finished run waits for every queued hook (a signal
/// cuts the queue short); an interrupted one drops the queued ones and
/// waits for those running, each within its `--on-change-timeout`, or
/// until a second signal kills them.
async fn end_alerts(alerts: Option<Alerts>, mut ending: Ending, signals: &mut Signals) -> Ending {
    let Some(mut alerts) = alerts else { return ending };
    let interrupted = matches!(ending, Ending::Interrupted { .. });
    alerts.close(interrupted);
    if !interrupted {
        tokio::select! {
            () = alerts.wait() => return ending,
            signal = signals.next() => {
                ending = Ending::Interrupted { signal };
                alerts.close(true);
            }
        }
    }
    let running = alerts.running();
    if running > 0 {
        let hooks = if running == 1 { "hook" } else { "hooks" };
        report::message(&format!(
            "waiting for {running} --on-change {hooks} to end, each within --on-change-timeout \
             (a second SIGINT or SIGTERM kills them)"
        ));
    }
    tokio::select! {
        () = alerts.wait() => {}
        _ = signals.next() => {
            alerts.kill();
            alerts.wait().await;
        }
    }
    ending
}

/// Waits for the writer to write everything, but never past a signal: after
/// one, only for [`GRACE`] (results handed over may not reach a blocked reader).
async fn close_output(ending: Ending, report: &mut Report<Output>, signals: &mut Signals) -> anyhow::Result<Ending> {
    match ending {
        Ending::OutputClosed => Ok(ending),
        Ending::Interrupted { .. } => {
            let _ = tokio::time::timeout(GRACE, hand_over_and_close(report)).await;
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

/// What is left for stdout (the rest of an HTML page), then the close.
async fn hand_over_and_close(report: &mut Report<Output>) -> io::Result<()> {
    while report.output().has_pending() || report.more_output()? {
        report.output().send().await?;
    }
    report.output().close().await
}

async fn all_rounds(
    plan: &Plan,
    inputs: Vec<Input>,
    report: &mut Report<Output>,
    signals: &mut Signals,
    watch: &mut Watch,
) -> anyhow::Result<Ending> {
    let config = &plan.config;
    let mut inputs = Some(inputs);
    loop {
        let opened = match inputs.take() {
            Some(opened) => opened,
            None => input::open(&config.checks, &config.files, config.options.profile())?,
        };
        let inconclusive = tokio::select! {
            inconclusive = watch.canaries.check(&plan.runner) => inconclusive,
            signal = signals.next() => return Ok(Ending::Interrupted { signal }),
        };
        report.start_round(inconclusive);
        let widths = Widths::default();
        let (targets, reader) =
            input::stream(config.urls.clone(), opened, 1024, config.shard, plan.answered.clone(), widths.clone());
        let results = plan.runner.stream(targets);
        let ending =
            round(results, &widths, config.limits.per_host_limit(), report, signals, &mut watch.alerts).await?;
        if let Some(alerts) = &mut watch.alerts {
            alerts.end_round(ending == Ending::Finished);
        }
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
        plan.runner.checker().new_round();
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            signal = signals.next() => return Ok(Ending::Interrupted { signal }),
        }
    }
}

/// One round: every result of `results` to the report. A signal ends it as
/// [`Ending::Interrupted`], an answer like any other; errors are only what
/// ends the program: a failed write to stdout.
async fn round(
    mut results: Results<Target>,
    widths: &Widths,
    per_host: usize,
    report: &mut Report<Output>,
    signals: &mut Signals,
    alerts: &mut Option<Alerts>,
) -> anyhow::Result<Ending> {
    // The progress line counts targets as the runner takes them, also while
    // no result comes in.
    let mut tick = tokio::time::interval(PROGRESS_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let progress = report.wants_total();
    let step: anyhow::Result<Ending> = async {
        loop {
            let (pending, writable) = (report.output().has_pending(), !report.output().is_full());
            tokio::select! {
                biased;
                signal = signals.next() => {
                    // The results done so far (and those held back for
                    // --ordered) are still reported.
                    results.stop();
                    while let Some(checked) = results.next().await {
                        report.targets_read(results.received(), widths);
                        deliver(report, alerts, &checked)?;
                    }
                    // What is kept for the end is written (the HTML page
                    // saying it was cut short); a second signal stops that.
                    report.interrupted();
                    tokio::select! {
                        biased;
                        _ = signals.next() => {}
                        ended = report.end_streamed() => ended?,
                    }
                    return Ok(Ending::Interrupted { signal });
                }
                sent = report.output().send(), if pending => sent?,
                next = results.next(), if writable => match next {
                    Some(checked) => {
                        report.targets_read(results.received(), widths);
                        deliver(report, alerts, &checked)?;
                        // The results already done go in the same chunk: the
                        // writer thread is woken once per batch, not per result.
                        while !report.output().is_full() {
                            let Some(checked) = results.try_next() else { break };
                            deliver(report, alerts, &checked)?;
                        }
                    }
                    None => break,
                },
                _ = tick.tick(), if progress => report.targets_read(results.received(), widths),
            }
        }
        if let Some(failure) = results.failure() {
            return Err(anyhow!(failure));
        }
        report.targets_read(results.received(), widths);
        tokio::select! {
            biased;
            signal = signals.next() => return Ok(Ending::Interrupted { signal }),
            ended = report.end_streamed() => ended?,
        }
        // Everything handed to the writer before the round ends.
        while report.output().has_pending() {
            tokio::select! {
                biased;
                signal = signals.next() => return Ok(Ending::Interrupted { signal }),
                sent = report.output().send() => sent?,
            }
        }
        Ok(Ending::Finished)
    }
    .await;
    report.summary.held_back(per_host, results.held_back().unwrap_or_default());

    match step {
        Ok(ending) => Ok(ending),
        Err(e) => match e.downcast_ref::<io::Error>() {
            Some(io) if io.kind() == io::ErrorKind::BrokenPipe => Ok(Ending::OutputClosed),
            _ => Err(e.context("writing results")),
        },
    }
}

/// One result to the report, then, in the state it was shown in, to the alerts.
fn deliver(report: &mut Report<Output>, alerts: &mut Option<Alerts>, checked: &Checked) -> io::Result<()> {
    let state = report.emit(checked)?;
    if let Some(alerts) = alerts {
        alerts.observe(checked, state, report.inconclusive());
    }
    Ok(())
}

/// SIGINT and SIGTERM, listened to from the start of the run to its end:
/// one that arrives while nobody waits is kept for the next wait, so none is
/// lost between the rounds, the pause of `--watch` and the last write.
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

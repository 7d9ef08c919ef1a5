//! `--on-change CMD`: each confirmed change runs `sh -c CMD` with the change
//! on its standard input and in its environment (never in CMD). Hooks run
//! off the round loop, at most [`AT_ONCE`] at a time, from a queue of
//! [`QUEUED`]: a change that finds the queue full is dropped and counted,
//! so a slow hook or a flood of changes never stops or slows the watch.
//!
//! Each hook is the leader of its own process group: after its timeout the
//! whole group (the hook and anything it started) is killed, and the hook
//! is reaped. A hook that fails or is killed is reported on stderr. On a
//! signal the queue is dropped and running hooks get their timeout; on a
//! second one they are killed at once.

use std::os::fd::AsFd;
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::{JoinHandle, JoinSet};

use super::change::Change;
use crate::app::report;

/// Most hooks running at once.
pub const AT_ONCE: usize = 4;

/// Most changes waiting for a hook; more are dropped (and counted).
pub const QUEUED: usize = 64;

/// How far a run's end has come, for the hooks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Stop {
    /// Hooks run as changes come.
    Running,
    /// A signal: changes still queued are dropped.
    DropQueued,
    /// A second signal: running hooks are killed now.
    KillRunning,
}

/// The command and its deadline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hook {
    pub command: String,
    pub timeout: Duration,
}

/// The queue of changes and the task that runs their hooks.
pub struct Hooks {
    queue: Option<mpsc::Sender<Change>>,
    /// How far the end has come: see [`Stop`].
    stop: watch::Sender<Stop>,
    dispatcher: Option<JoinHandle<()>>,
    counts: Arc<Counts>,
    /// Drops already reported.
    reported: u64,
}

#[derive(Default)]
struct Counts {
    /// Changes that found the queue full.
    dropped: AtomicU64,
    /// Changes still queued when a signal ended the run.
    abandoned: AtomicU64,
    /// Hooks started, and ended (reaped).
    started: AtomicU64,
    ended: AtomicU64,
}

impl Hooks {
    /// Starts the task that runs `hook` for each change. Inside the runtime.
    pub fn start(hook: Hook) -> Hooks {
        let (queue, changes) = mpsc::channel(QUEUED);
        let (stop, stopped) = watch::channel(Stop::Running);
        let counts = Arc::new(Counts::default());
        let dispatcher = tokio::spawn(dispatch(Arc::new(hook), changes, stopped, counts.clone()));
        Hooks { queue: Some(queue), stop, dispatcher: Some(dispatcher), counts, reported: 0 }
    }

    /// Queues a hook for `change`, without waiting: when the queue is full
    /// the change is dropped and counted.
    pub fn submit(&self, change: Change) {
        let Some(queue) = &self.queue else { return };
        if queue.try_send(change).is_err() {
            self.counts.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Says on stderr how many changes were dropped since the last time.
    pub fn report_dropped(&mut self) {
        let dropped = self.counts.dropped.load(Ordering::Relaxed);
        if dropped > self.reported {
            let new = dropped - self.reported;
            let changes = if new == 1 { "change was" } else { "changes were" };
            report::message(&format!(
                "--on-change: {new} {changes} not run: {AT_ONCE} hooks were running and {QUEUED} changes waiting \
                 ({dropped} in all)"
            ));
            self.reported = dropped;
        }
    }

    /// No more changes: after a finished run every queued hook still runs;
    /// after an interrupted one (or a second call with `interrupted`) the
    /// queued are dropped (and counted) and the running ones finish within
    /// their timeout. [`Hooks::wait`] then waits for them.
    pub fn close(&mut self, interrupted: bool) {
        self.queue = None;
        if interrupted {
            self.stop.send_if_modified(|stop| raise(stop, Stop::DropQueued));
        }
    }

    /// Kills the running hooks (their process groups) now, and drops the queue.
    pub fn kill(&mut self) {
        self.queue = None;
        self.stop.send_if_modified(|stop| raise(stop, Stop::KillRunning));
    }

    /// Hooks started and not yet ended.
    pub fn running(&self) -> u64 {
        self.counts.started.load(Ordering::Relaxed) - self.counts.ended.load(Ordering::Relaxed)
    }

    /// Returns once every hook has ended and been reaped (after
    /// [`Hooks::close`]). Cancel-safe: a signal may cut the wait short, to
    /// close again with `interrupted` and wait once more.
    pub async fn wait(&mut self) {
        if let Some(dispatcher) = &mut self.dispatcher {
            let _ = dispatcher.await;
            self.dispatcher = None;
        }
        self.report_dropped();
        let abandoned = self.counts.abandoned.load(Ordering::Relaxed);
        if abandoned > 0 {
            report::message(&format!("--on-change: interrupted, {abandoned} changes still queued were not run"));
        }
    }
}

/// Moves `stop` on to `to`, never back; whether it moved.
fn raise(stop: &mut Stop, to: Stop) -> bool {
    let moved = to > *stop;
    *stop = (*stop).max(to);
    moved
}

/// Takes a slot, then a change, and runs its hook in the slot: the permit
/// is taken before the change, so at most [`AT_ONCE`] hooks run and the
/// rest wait in the queue.
async fn dispatch(
    hook: Arc<Hook>,
    mut changes: mpsc::Receiver<Change>,
    mut stopped: watch::Receiver<Stop>,
    counts: Arc<Counts>,
) {
    let slots = Arc::new(Semaphore::new(AT_ONCE));
    let mut running = JoinSet::new();
    loop {
        let permit = tokio::select! {
            biased;
            _ = stopped.wait_for(|stop| *stop >= Stop::DropQueued) => break,
            permit = slots.clone().acquire_owned() => permit,
        };
        let Ok(permit) = permit else { break };
        let change = tokio::select! {
            biased;
            _ = stopped.wait_for(|stop| *stop >= Stop::DropQueued) => break,
            change = changes.recv() => change,
        };
        let Some(change) = change else { break };
        counts.started.fetch_add(1, Ordering::Relaxed);
        let hook = hook.clone();
        let tally = counts.clone();
        let kill = stopped.clone();
        running.spawn(async move {
            run(hook, change, kill, permit).await;
            tally.ended.fetch_add(1, Ordering::Relaxed);
        });
        while running.try_join_next().is_some() {}
    }
    changes.close();
    while changes.try_recv().is_ok() {
        counts.abandoned.fetch_add(1, Ordering::Relaxed);
    }
    while running.join_next().await.is_some() {}
}

/// Runs one hook to its end or its timeout, and says on stderr if it failed.
async fn run(hook: Arc<Hook>, change: Change, kill: watch::Receiver<Stop>, _slot: OwnedSemaphorePermit) {
    let label = change.label();
    match run_hook(&hook, &change, kill).await {
        Ok(Ended::Exited(status)) if status.success() => {}
        Ok(Ended::Exited(status)) => report::message(&format!("--on-change for {label}: {}", exit_words(status))),
        Ok(Ended::TimedOut) => report::message(&format!(
            "--on-change for {label}: still running after {}: killed with its process group",
            statuscheck::HumanDuration(hook.timeout)
        )),
        Ok(Ended::Killed) => {
            report::message(&format!("--on-change for {label}: killed with its process group at a second signal"))
        }
        Err(error) => report::message(&format!("--on-change for {label}: cannot run sh: {error}")),
    }
}

enum Ended {
    Exited(ExitStatus),
    /// Killed at its timeout.
    TimedOut,
    /// Killed at a second signal.
    Killed,
}

async fn run_hook(hook: &Hook, change: &Change, mut kill: watch::Receiver<Stop>) -> std::io::Result<Ended> {
    let mut child = command(hook, change)?.spawn()?;
    let input = change.json();
    let mut stdin = child.stdin.take();
    let hook_ends = async {
        if let Some(stdin) = &mut stdin {
            // A hook that does not read its input is no failure.
            let _ = stdin.write_all(input.as_bytes()).await;
        }
        drop(stdin);
        child.wait().await
    };
    // The hook's end comes first when all are ready: it is not killed then.
    let ended = tokio::select! {
        biased;
        status = tokio::time::timeout(hook.timeout, hook_ends) => match status {
            Ok(status) => return Ok(Ended::Exited(status?)),
            Err(_) => Ended::TimedOut,
        },
        _ = kill.wait_for(|stop| *stop == Stop::KillRunning) => Ended::Killed,
    };
    kill_group(&child);
    child.wait().await?;
    Ok(ended)
}

/// `sh -c CMD` in a process group of its own, the change in its
/// environment, its output on our stderr (stdout holds the results).
fn command(hook: &Hook, change: &Change) -> std::io::Result<Command> {
    let stdout = std::io::stderr().as_fd().try_clone_to_owned()?;
    let mut command = Command::new("/bin/sh");
    command
        .arg("-c")
        .arg(&hook.command)
        .envs(change.env())
        .stdin(Stdio::piped())
        .stdout(Stdio::from(stdout))
        .stderr(Stdio::inherit())
        .process_group(0)
        // Should this task be dropped before the hook ends, the hook goes too.
        .kill_on_drop(true);
    Ok(command)
}

/// SIGKILL to the hook's process group. Called while the hook is not yet
/// reaped, so its process id (the group's id) cannot have been reused.
fn kill_group(child: &Child) {
    if let Some(pid) = child.id().and_then(|pid| i32::try_from(pid).ok()) {
        // SAFETY: kill has no memory effects; -pid names the group the
        // hook leads (process_group(0)).
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
}

fn exit_words(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(signal)) => format!("ended by signal {signal}"),
        (None, None) => format!("ended: {status}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use statuscheck::State;

    fn change(url: &str) -> Change {
        Change {
            url: url.into(),
            name: None,
            group: None,
            source: "arg:1".into(),
            old: State::Up,
            new: State::Down,
            why: "error connect: refused".into(),
            at: "2026-01-01T00:00:00Z".into(),
        }
    }

    /// A stop signal that never comes.
    fn running() -> watch::Receiver<Stop> {
        let (stop, receiver) = watch::channel(Stop::Running);
        std::mem::forget(stop);
        receiver
    }

    fn hook(command: &str, timeout: Duration) -> Hook {
        Hook { command: command.into(), timeout }
    }

    /// On the paused clock: a hook that hangs is killed at its timeout,
    /// however long that is, without the test waiting for it.
    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn a_hanging_hook_is_killed_at_its_timeout() {
        let started = tokio::time::Instant::now();
        let ended = run_hook(&hook("sleep 1000", Duration::from_secs(600)), &change("a"), running()).await.unwrap();
        assert!(matches!(ended, Ended::TimedOut));
        assert_eq!(started.elapsed(), Duration::from_secs(600));
    }

    /// On the real clock: on the paused one, the runtime idle while the
    /// hook runs would jump to its timeout at once.
    #[tokio::test]
    async fn the_change_reaches_stdin_and_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let command = format!(
            "cat > '{0}'; printf '%s %s' \"$STATUSCHECK_URL\" \"$STATUSCHECK_NEW_STATE\" >> '{0}'",
            out.display()
        );
        let ended =
            run_hook(&hook(&command, Duration::from_secs(60)), &change("https://a.test/"), running()).await.unwrap();
        assert!(matches!(ended, Ended::Exited(status) if status.success()));
        let text = std::fs::read_to_string(&out).unwrap();
        assert_eq!(text, format!("{}https://a.test/ down", change("https://a.test/").json()));
    }

    #[tokio::test]
    async fn a_failing_hook_is_an_exit_status() {
        let ended = run_hook(&hook("exit 7", Duration::from_secs(60)), &change("a"), running()).await.unwrap();
        assert!(matches!(ended, Ended::Exited(status) if status.code() == Some(7)));
    }

    /// A second signal kills a hook at once, long before its timeout.
    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn a_kill_ends_a_hook_before_its_timeout() {
        let (stop, receiver) = watch::channel(Stop::Running);
        let started = tokio::time::Instant::now();
        let hook = hook("sleep 1000", Duration::from_secs(600));
        let killing = async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            stop.send_if_modified(|s| raise(s, Stop::KillRunning));
        };
        let change = change("a");
        let (ended, ()) = tokio::join!(run_hook(&hook, &change, receiver), killing);
        assert!(matches!(ended.unwrap(), Ended::Killed));
        assert_eq!(started.elapsed(), Duration::from_secs(5));
    }

    /// A flood: with every slot taken by a hook that waits, the queue takes
    /// [`QUEUED`] more and drops the rest; an interrupted finish drops the
    /// queue too. Exact counts, no timing.
    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn a_flood_is_bounded_and_counted() {
        let mut hooks = Hooks::start(hook("sleep 1000", Duration::from_secs(30)));
        for i in 0..100 {
            hooks.submit(change(&format!("https://{i}.test/")));
        }
        // Let the dispatcher take its slots.
        while hooks.counts.started.load(Ordering::Relaxed) < AT_ONCE as u64 {
            tokio::task::yield_now().await;
        }
        // The queue was full before the first hook started.
        assert_eq!(hooks.counts.dropped.load(Ordering::Relaxed), 100 - QUEUED as u64);
        hooks.close(true);
        hooks.wait().await;
        assert_eq!(hooks.running(), 0);
        assert_eq!(hooks.counts.started.load(Ordering::Relaxed), AT_ONCE as u64);
        assert_eq!(hooks.counts.dropped.load(Ordering::Relaxed), 100 - QUEUED as u64);
        assert_eq!(hooks.counts.abandoned.load(Ordering::Relaxed), (QUEUED - AT_ONCE) as u64);
    }
}

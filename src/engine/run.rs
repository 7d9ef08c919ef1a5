//! The runner: feeds targets into a bounded `JoinSet` on a task of its own
//! and hands each result back through a bounded channel as it finishes (or
//! in input order with `ordered`).
//!
//! One loop serves every mode: sequential is concurrency 1. At most
//! `concurrency` checks run and results are held back for `ordered`, and a
//! bounded number of targets wait in the scheduler, so memory is bounded by
//! concurrency, not by list length. A consumer that does not take results
//! holds the runner back: it stops starting checks once the channel is full.
//!
//! Resolving ahead: a check's lookup would start only when a slot frees, so
//! with slow DNS every slot waits for its answer in step with the others
//! while the CPU idles, then all connect at once, and so on in waves. The
//! runner therefore reads up to `concurrency` targets beyond the running
//! ones into a queue (in input order; they are admitted from it exactly as
//! they would have been from the input) and starts, for each, the lookup its
//! check will make ([`Checker::resolve_ahead`]), at most `concurrency` of them
//! in flight, on tasks of its own that end with the runner. Why and what it
//! gained: `bench/RESULTS.md`, "Issue 14: resolving ahead".

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::{JoinError, JoinSet};

use super::attempt::{check_one, Tries};
use super::schedule::{Admit, Scheduler};
use super::spill::Spill;
use super::{Checker, Target};
use crate::result::Checked;
use crate::wire::sync::lock;

/// Results the runner may hand over before the consumer takes them.
const RESULTS: usize = 64;

/// How many checks may run, and how targets are admitted and tried.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct Limits {
    concurrency: usize,
    per_host: usize,
    ordered: bool,
    dedupe: bool,
    retries: u32,
    retry_after_max: Duration,
    rate: Option<f64>,
    resolve_ahead: bool,
}

impl Default for Limits {
    /// The command line's: 100 checks in flight, 4 per host, results as they
    /// finish, no dedupe, no retries, `Retry-After` honoured up to 60 s, no
    /// rate, names resolved ahead.
    fn default() -> Self {
        Limits {
            concurrency: 100,
            per_host: 4,
            ordered: false,
            dedupe: false,
            retries: 0,
            retry_after_max: Duration::from_secs(60),
            rate: None,
            resolve_ahead: true,
        }
    }
}

impl Limits {
    /// Most checks in flight at once (at least 1).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Most checks in flight to one host name, whatever the port (at least 1).
    pub fn per_host(mut self, n: usize) -> Self {
        self.per_host = n.max(1);
        self
    }

    /// The [`Limits::concurrency`] in effect, for a caller that fits it under
    /// a descriptor limit or names it in a message.
    pub fn concurrency_limit(&self) -> usize {
        self.concurrency
    }

    /// The [`Limits::per_host`] in effect, for a caller that names it.
    pub fn per_host_limit(&self) -> usize {
        self.per_host
    }

    /// Results in the order the targets came in, not as they finish.
    pub fn ordered(mut self, ordered: bool) -> Self {
        self.ordered = ordered;
        self
    }

    /// Check each distinct URL once; every target still gets its result.
    pub fn dedupe(mut self, dedupe: bool) -> Self {
        self.dedupe = dedupe;
        self
    }

    /// Try connect, timeout and I/O errors again, up to `n` times, with
    /// exponential backoff and jitter; and 429/503 answers with `Retry-After`.
    pub fn retries(mut self, n: u32) -> Self {
        self.retries = n;
        self
    }

    /// The longest `Retry-After` delay honoured.
    pub fn retry_after_max(mut self, max: Duration) -> Self {
        self.retry_after_max = max;
        self
    }

    /// Start at most this many checks per second, all hosts together.
    pub fn rate(mut self, per_second: Option<f64>) -> Self {
        self.rate = per_second.filter(|rate| *rate > 0.0);
        self
    }

    /// Look up the host names of up to `concurrency` targets beyond the
    /// checks in flight, so that their answers are cached when their checks
    /// start (on by default; the `dns` time of such a check is then only
    /// what it still waited). Never with a [`Limits::rate`]: checks then wait
    /// for their turn anyway, and answers looked up long before they are
    /// used could go stale. Off: a check's lookup starts with the check.
    pub fn resolve_ahead(mut self, on: bool) -> Self {
        self.resolve_ahead = on;
        self
    }

    /// File descriptors one unit of [`Limits::concurrency`] may hold at
    /// once, to fit concurrency under a descriptor limit. A check holds its
    /// connection, or the UDP sockets of its own lookup (each query has a
    /// socket of its own, A and AAAA at once), not both: the lookup is over
    /// before it connects, and a redirect's connection is closed before the
    /// next lookup. With names resolved ahead, a lookup ahead holds as many
    /// sockets again.
    pub fn descriptors_per_check(&self) -> u64 {
        let lookup = crate::wire::resolve::SOCKETS_PER_LOOKUP as u64;
        let ahead = if self.ahead() > 0 { lookup } else { 0 };
        lookup.max(1) + ahead
    }

    /// How many targets are read, and looked up, ahead of a free slot.
    fn ahead(&self) -> usize {
        if self.resolve_ahead && self.rate.is_none() {
            self.concurrency
        } else {
            0
        }
    }
}

/// Checks streams of targets with one engine and one set of limits. The
/// `rate` and `Retry-After` pauses carry over from one stream to the next.
pub struct Runner {
    checker: Arc<Checker>,
    tries: Arc<Tries>,
    limits: Limits,
    spill_to: Vec<tokio::runtime::Handle>,
}

impl Runner {
    /// A runner checking with `checker` under `limits`.
    pub fn new(checker: Checker, limits: Limits) -> Runner {
        let tries = Arc::new(Tries::new(limits.retries, limits.retry_after_max, limits.rate));
        Runner { checker: Arc::new(checker), tries, limits, spill_to: Vec::new() }
    }

    /// Lets checks start on `runtimes` while the runtime the runner runs on
    /// (a single-threaded one) is busy for most of the time: a run that one
    /// thread keeps up with stays on it, one that needs more cores gets them
    /// (see `engine::spill`). Without this, every check starts on the
    /// runner's own runtime.
    pub fn spill_to(mut self, runtimes: Vec<tokio::runtime::Handle>) -> Self {
        self.spill_to = runtimes;
        self
    }

    /// The engine, to check one URL or start a new round.
    pub fn checker(&self) -> &Checker {
        &self.checker
    }

    /// Checks every target received from `targets`, until it closes. The
    /// runner runs on a task of its own, so this must be called inside a
    /// Tokio runtime; dropping the [`Results`] cancels it.
    pub fn stream<T: Target>(&self, targets: mpsc::Receiver<T>) -> Results<T> {
        let (results, receiver) = mpsc::channel(RESULTS);
        let (stop, stopped) = oneshot::channel();
        let state = Arc::new(State::default());
        let loop_ = Loop {
            checker: self.checker.clone(),
            tries: self.tries.clone(),
            limits: self.limits,
            scheduler: Scheduler::new(self.limits.per_host, self.limits.dedupe),
            order: Order { ordered: self.limits.ordered, next: 0, held: BTreeMap::new() },
            outbox: VecDeque::new(),
            ahead: VecDeque::new(),
            looked: 0,
            lookups: JoinSet::new(),
            spill: Spill::new(self.spill_to.clone()),
            state: state.clone(),
        };
        tokio::spawn(loop_.run(targets, results, stopped));
        Results { receiver, stop: Some(stop), state }
    }

    /// Checks every target of `targets` (read on a task of its own). Must be
    /// called inside a Tokio runtime.
    pub fn check_all<T, I>(&self, targets: I) -> Results<T>
    where
        T: Target,
        I: IntoIterator<Item = T>,
        I::IntoIter: Send + 'static,
    {
        let (sender, receiver) = mpsc::channel(RESULTS);
        let targets = targets.into_iter();
        tokio::spawn(async move {
            for target in targets {
                if sender.send(target).await.is_err() {
                    return;
                }
            }
        });
        self.stream(receiver)
    }
}

/// The engine's settings and the limits; not the pauses in effect.
impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner").field("checker", &self.checker).field("limits", &self.limits).finish_non_exhaustive()
    }
}

/// The results of a stream of targets, as they come. Dropping it cancels
/// the checks still running.
pub struct Results<T> {
    receiver: mpsc::Receiver<Checked<T>>,
    stop: Option<oneshot::Sender<()>>,
    state: Arc<State>,
}

/// How far the stream is, not the results waiting in it.
impl<T> std::fmt::Debug for Results<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Results")
            .field("received", &self.received())
            .field("stopped", &self.stop.is_none())
            .finish_non_exhaustive()
    }
}

impl<T> Results<T> {
    /// The next result; `None` once every target has its result (or after
    /// [`Results::stop`], once the results that were done are handed over).
    pub async fn next(&mut self) -> Option<Checked<T>> {
        self.receiver.recv().await
    }

    /// A result that is already done, without waiting; `None` when none is
    /// ready right now. Lets a caller take a whole batch per wake-up (the end
    /// of the stream is still seen by [`Results::next`]).
    pub fn try_next(&mut self) -> Option<Checked<T>> {
        self.receiver.try_recv().ok()
    }

    /// Stops: checks in flight are cancelled (they get no result), targets
    /// not yet started are not checked. The results already done, and with
    /// `ordered` those held back for an earlier one, still come from
    /// [`Results::next`].
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// How many targets the runner has taken from the stream so far.
    pub fn received(&self) -> u64 {
        self.state.received.load(Ordering::Relaxed)
    }

    /// Once [`Results::next`] has returned `None`: how long the per-host
    /// limit held checks back while the concurrency had free slots.
    pub fn held_back(&self) -> Option<Duration> {
        self.state.ended().held_back
    }

    /// Once [`Results::next`] has returned `None`: what ended the run early,
    /// if anything did (a check task that failed, which is a bug).
    pub fn failure(&self) -> Option<String> {
        self.state.ended().failure.clone()
    }
}

/// What the runner task shares with [`Results`].
#[derive(Default)]
struct State {
    received: AtomicU64,
    ended: Mutex<Ended>,
}

#[derive(Clone, Default)]
struct Ended {
    held_back: Option<Duration>,
    failure: Option<String>,
}

impl State {
    fn ended(&self) -> std::sync::MutexGuard<'_, Ended> {
        lock(&self.ended)
    }
}

/// Targets waiting (for their host, or for a duplicate's answer) before the
/// runner stops reading input. Far enough ahead that a list sorted by host
/// keeps every slot busy (the next hosts are read while one host's lines
/// wait); waiting targets are compact ([`Target::park`]), so memory stays
/// bounded by concurrency.
fn waiting_limit(concurrency: usize) -> usize {
    concurrency.saturating_mul(64).clamp(65_536, 1 << 20)
}

/// The runner task's state.
struct Loop<T: Target> {
    checker: Arc<Checker>,
    tries: Arc<Tries>,
    limits: Limits,
    scheduler: Scheduler<T>,
    order: Order<T>,
    /// Results released, not yet in the channel.
    outbox: VecDeque<Checked<T>>,
    /// Targets read ahead of a free slot (at most [`Limits::ahead`]), with
    /// their place in the input, not yet admitted.
    ahead: VecDeque<(u64, T)>,
    /// How many at the front of `ahead` had their lookup started (or needed
    /// none): lookups start in queue order.
    looked: usize,
    /// The lookups run ahead (at most [`Limits::ahead`] in flight).
    lookups: JoinSet<()>,
    /// Which runtime each check and lookup ahead starts on.
    spill: Spill,
    state: Arc<State>,
}

/// Why the loop stopped.
enum Stop {
    /// Every target has its result, or the consumer asked to stop.
    Done,
    /// The consumer went away.
    Gone,
}

impl<T: Target> Loop<T> {
    async fn run(
        mut self,
        mut targets: mpsc::Receiver<T>,
        results: mpsc::Sender<Checked<T>>,
        mut stop: oneshot::Receiver<()>,
    ) {
        let mut tasks = JoinSet::new();
        let ended = self.run_loop(&mut targets, &results, &mut stop, &mut tasks).await;
        tasks.abort_all();
        self.lookups.abort_all();
        let held_back = self.scheduler.held_back();
        let mut ended_state = self.state.ended();
        ended_state.held_back = Some(held_back);
        if let Err(failure) = ended {
            ended_state.failure = Some(failure);
        }
        drop(ended_state);
        // The channel closes here, after the state is set.
        drop(results);
    }

    async fn run_loop(
        &mut self,
        targets: &mut mpsc::Receiver<T>,
        results: &mpsc::Sender<Checked<T>>,
        stop: &mut oneshot::Receiver<()>,
        tasks: &mut JoinSet<(u64, Checked<T>)>,
    ) -> Result<(), String> {
        let concurrency = self.limits.concurrency;
        let ahead = self.limits.ahead();
        let mut input_open = true;
        let mut index = 0u64;
        loop {
            // Hand over everything already done (while the consumer keeps
            // up), then start what waited for it.
            loop {
                if let Stop::Gone = self.hand_over(results) {
                    return Ok(());
                }
                if !self.outbox.is_empty() {
                    break;
                }
                let Some(done) = tasks.try_join_next() else { break };
                self.finish(joined(done)?);
            }
            while self.lookups.try_join_next().is_some() {}
            while tasks.len() < concurrency {
                let Some((index, target)) = self.scheduler.next_ready() else { break };
                self.start(tasks, index, target);
            }
            self.admit_ahead(tasks);
            self.resolve_ahead(ahead);
            let idle = tasks.is_empty() && self.ahead.is_empty() && self.scheduler.waiting() == 0;
            if !input_open && idle && self.outbox.is_empty() {
                return Ok(());
            }
            self.scheduler.note_free_slots(tasks.len() < concurrency);
            let readable = self.scheduler.waiting() < waiting_limit(concurrency)
                && (self.has_room(tasks) || self.ahead.len() < ahead);
            let writable = self.outbox.is_empty();
            // Lookups ahead wait for one in flight to end.
            let unlooked = self.looked < self.ahead.len();
            tokio::select! {
                biased;
                _ = &mut *stop => {
                    tasks.abort_all();
                    self.lookups.abort_all();
                    self.order.release_all(&mut self.outbox);
                    while let Some(checked) = self.outbox.pop_front() {
                        if results.send(checked).await.is_err() {
                            break;
                        }
                    }
                    return Ok(());
                }
                permit = results.reserve(), if !writable => match permit {
                    Ok(permit) => {
                        if let Some(checked) = self.outbox.pop_front() {
                            permit.send(checked);
                        }
                    }
                    Err(_) => return Ok(()),
                },
                Some(done) = tasks.join_next(), if writable => self.finish(joined(done)?),
                Some(_) = self.lookups.join_next(), if unlooked => {}
                next = targets.recv(), if input_open && readable && writable => match next {
                    Some(target) => {
                        self.state.received.fetch_add(1, Ordering::Relaxed);
                        self.ahead.push_back((index, target));
                        index += 1;
                    }
                    None => input_open = false,
                },
            }
        }
    }

    /// Whether a target may be admitted now: a free slot (results held back
    /// for `ordered` count as taken) and room to wait in the scheduler.
    fn has_room(&self, tasks: &JoinSet<(u64, Checked<T>)>) -> bool {
        let concurrency = self.limits.concurrency;
        tasks.len() + self.order.held.len() < concurrency && self.scheduler.waiting() < waiting_limit(concurrency)
    }

    /// Admits the targets read ahead, in input order, while there is room
    /// and the results released so far are in the channel: each starts,
    /// waits in the scheduler, or gets its duplicate's answer.
    fn admit_ahead(&mut self, tasks: &mut JoinSet<(u64, Checked<T>)>) {
        while self.outbox.is_empty() && self.has_room(tasks) {
            let Some((index, target)) = self.ahead.pop_front() else { break };
            self.looked = self.looked.saturating_sub(1);
            match self.scheduler.admit(index, target) {
                Admit::Start(index, target) => self.start(tasks, index, target),
                Admit::Answered(index, copy) => self.order.push(index, *copy, &mut self.outbox),
                Admit::Waiting => {}
            }
        }
    }

    /// Starts the lookups of the targets read ahead that have none yet,
    /// while fewer than `limit` are in flight. Targets that the per-host
    /// limit or dedupe will hold share a host with a check already started,
    /// whose answer is cached or in flight: they need no lookup of their own
    /// ([`Checker::resolve_ahead`] says `None`).
    fn resolve_ahead(&mut self, limit: usize) {
        while self.lookups.len() < limit {
            let Some((_, target)) = self.ahead.get(self.looked) else { break };
            self.looked += 1;
            let Ok(url) = target.url() else { continue };
            if let Some(lookup) = self.checker.resolve_ahead(url) {
                self.spill.spawn(&mut self.lookups, lookup);
            }
        }
    }

    fn start(&mut self, tasks: &mut JoinSet<(u64, Checked<T>)>, index: u64, target: T) {
        // Boxed: the check future is large, and a pointer is cheaper to move into the task.
        let check = Box::pin(check_one(self.checker.clone(), self.tries.clone(), target));
        self.spill.spawn(tasks, async move { (index, check.await) });
    }

    /// Moves released results into the channel while it has room.
    fn hand_over(&mut self, results: &mpsc::Sender<Checked<T>>) -> Stop {
        while let Some(checked) = self.outbox.pop_front() {
            match results.try_send(checked) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(checked)) => {
                    self.outbox.push_front(checked);
                    break;
                }
                Err(mpsc::error::TrySendError::Closed(_)) => return Stop::Gone,
            }
        }
        Stop::Done
    }

    /// A check is done: free its host slot and release it, with the copies
    /// owed to targets that waited for the same URL.
    fn finish(&mut self, (index, checked): (u64, Checked<T>)) {
        let copies = self.scheduler.finished(&checked);
        self.order.push(index, checked, &mut self.outbox);
        for (index, copy) in copies {
            self.order.push(index, copy, &mut self.outbox);
        }
    }
}

/// A check task cannot fail except by a bug; say so rather than lose a row.
fn joined<R>(result: Result<R, JoinError>) -> Result<R, String> {
    result.map_err(|e| format!("internal error: a check task failed: {e}"))
}

/// Releases results, in input order when asked.
struct Order<T> {
    ordered: bool,
    /// Index of the next result to release in ordered mode.
    next: u64,
    held: BTreeMap<u64, Checked<T>>,
}

impl<T> Order<T> {
    fn push(&mut self, index: u64, checked: Checked<T>, out: &mut VecDeque<Checked<T>>) {
        if !self.ordered {
            out.push_back(checked);
            return;
        }
        self.held.insert(index, checked);
        while let Some(checked) = self.held.remove(&self.next) {
            out.push_back(checked);
            self.next += 1;
        }
    }

    /// On a stop every known result is still released, in order, with the
    /// gaps of checks that never finished.
    fn release_all(&mut self, out: &mut VecDeque<Checked<T>>) {
        out.extend(std::mem::take(&mut self.held).into_values());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::resolve::test_dns::scripted;
    use crate::{DnsServers, Options};
    use url::Url;

    #[test]
    fn the_limits_read_back_are_those_in_effect() {
        let limits = Limits::default().concurrency(0).per_host(0);
        assert_eq!((limits.concurrency_limit(), limits.per_host_limit()), (1, 1), "at least one");
        assert_eq!((Limits::default().concurrency_limit(), Limits::default().per_host_limit()), (100, 4));
    }

    #[test]
    fn a_check_and_its_lookup_ahead_count_their_sockets() {
        assert_eq!(Limits::default().descriptors_per_check(), 4, "own lookup or connection, and a lookup ahead");
        assert_eq!(Limits::default().resolve_ahead(false).descriptors_per_check(), 2);
        assert_eq!(Limits::default().rate(Some(10.0)).descriptors_per_check(), 2, "--rate: no lookups ahead");
    }

    /// Polls `done` until it holds, for at most 10 s (the DNS server is a
    /// thread: real time).
    async fn eventually(mut done: impl FnMut() -> bool) -> bool {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !done() && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        done()
    }

    /// `-c 1`, DNS that never answers: the first check waits for its
    /// lookup, the second target's lookup runs ahead. Each task holds the
    /// engine, so once its count is back to the runner's alone no check and
    /// no lookup ahead is left, after a stop as after dropping the results.
    #[tokio::test]
    async fn stopping_or_dropping_ends_the_lookups_ahead() {
        for drop_it in [false, true] {
            let server = scripted(|_| vec![]);
            let options = Options::default().dns_servers(Some(DnsServers(vec![server.addr])));
            let runner = Runner::new(Checker::new(options).unwrap(), Limits::default().concurrency(1));
            let urls: Vec<Url> = (0..4).map(|i| Url::parse(&format!("http://n{i}.test:9/")).unwrap()).collect();
            let mut results = runner.check_all(urls);
            let asked = |name: &str| server.asked().iter().any(|(n, _, _)| n == name);
            assert!(eventually(|| asked("n0.test") && asked("n1.test")).await, "{:?}", server.asked());
            // The runner, its loop, the check of n0, the lookup of n1.
            assert_eq!(Arc::strong_count(&runner.checker), 4);
            assert!(!asked("n2.test"), "one target ahead at -c 1");
            if drop_it {
                drop(results);
            } else {
                results.stop();
                assert!(results.next().await.is_none(), "nothing was done");
            }
            assert!(eventually(|| Arc::strong_count(&runner.checker) == 1).await, "drop: {drop_it}");
        }
    }
}

//! Where a check starts: on the runner's own runtime while that has time to
//! spare, on other runtimes when it has not.
//!
//! A check that starts, runs and ends on the thread that runs the runner
//! hands nothing between threads: its wake-ups, its connection's state and
//! the runner's own stay in one core's caches. On tokio's work-stealing
//! runtime the same checks cost 1.2-1.25x the CPU (`bench/RESULTS.md`,
//! "Issue 22: one thread, spilling over"), but one thread cannot use a
//! second core, and on the internet mix (S6) one thread alone lost 5-21 %
//! of the rate. So the binary runs the runner on a single-threaded runtime,
//! home, and gives it one more single-threaded runtime per further core:
//! new checks start at home unless home was busy for 90 % of the last
//! 20 ms (busy: running tasks, or preempted while it was), and then go to
//! the others in turn until home has time again. Each spilled check costs a
//! hand-over to its thread and back; a run that home keeps up with pays
//! none, one that needs more cores gets them.

use std::future::Future;
use std::time::{Duration, Instant};

use tokio::runtime::Handle;
use tokio::task::JoinSet;

/// How often home's load is looked at.
const WINDOW: Duration = Duration::from_millis(20);

/// Home counts as busy when it was busy for at least this share of a
/// window, in percent.
const BUSY_PERCENT: u128 = 90;

/// The runtimes checks may start on, and how busy home was lately.
pub struct Spill {
    home: Handle,
    others: Vec<Handle>,
    next: usize,
    since: Instant,
    busy_then: Duration,
    spilling: bool,
}

impl Spill {
    /// Home is the runtime this is called on; `others` take what home cannot.
    /// Home must be a single-threaded runtime for its load to mean anything:
    /// on a multi-threaded one the load of its first worker stands for it.
    pub fn new(others: Vec<Handle>) -> Spill {
        let home = Handle::current();
        let busy_then = busy(&home);
        Spill { home, others, next: 0, since: Instant::now(), busy_then, spilling: false }
    }

    /// Spawns `task` into `set`, on the runtime its turn falls to.
    pub fn spawn<T: Send + 'static>(&mut self, set: &mut JoinSet<T>, task: impl Future<Output = T> + Send + 'static) {
        match self.pick() {
            Some(runtime) => set.spawn_on(task, runtime),
            None => set.spawn(task),
        };
    }

    /// The runtime the next task starts on: `None` for home. Without others,
    /// nothing to look at: no clock read on a check's way in.
    fn pick(&mut self) -> Option<&Handle> {
        if self.others.is_empty() {
            return None;
        }
        let now = Instant::now();
        if now.saturating_duration_since(self.since) >= WINDOW {
            let busy_now = busy(&self.home);
            self.look(now, busy_now);
        }
        let other = self.pick_other()?;
        self.others.get(other)
    }

    /// Home was busy for `busy_now` in all by `now`: whether it is to spill
    /// until the next look.
    fn look(&mut self, now: Instant, busy_now: Duration) {
        let elapsed = now.saturating_duration_since(self.since);
        self.spilling = overloaded(busy_now.saturating_sub(self.busy_then), elapsed);
        (self.since, self.busy_then) = (now, busy_now);
    }

    /// The index among the others of the runtime the next check starts on.
    fn pick_other(&mut self) -> Option<usize> {
        if !self.spilling || self.others.is_empty() {
            return None;
        }
        self.next = (self.next + 1) % self.others.len();
        Some(self.next)
    }
}

/// How long home's (first) worker has been busy since it started.
fn busy(home: &Handle) -> Duration {
    home.metrics().worker_total_busy_duration(0)
}

/// Whether `busy` of `elapsed` is more than home can take on.
fn overloaded(busy: Duration, elapsed: Duration) -> bool {
    busy.as_nanos() * 100 >= elapsed.as_nanos() * BUSY_PERCENT
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn home_is_overloaded_when_busy_most_of_the_window() {
        let window = Duration::from_millis(20);
        assert!(!overloaded(Duration::ZERO, window));
        assert!(!overloaded(Duration::from_millis(17), window));
        assert!(overloaded(Duration::from_millis(18), window));
        assert!(overloaded(Duration::from_millis(25), window), "busy time counted late");
    }

    /// Idle, home keeps every check; busy for most of a window, it sends
    /// the next ones to the others in turn, until a window where it was not.
    #[test]
    fn checks_stay_home_until_home_is_busy() {
        let runtime = || tokio::runtime::Builder::new_current_thread().build().unwrap();
        let (home, others) = (runtime(), [runtime(), runtime()]);
        let mut spill = home.block_on(async { Spill::new(others.iter().map(|r| r.handle().clone()).collect()) });
        let (start, busy) = (spill.since, spill.busy_then);
        assert_eq!(spill.pick_other(), None, "not yet looked");
        spill.look(start + WINDOW, busy + Duration::from_millis(2));
        assert_eq!(spill.pick_other(), None, "idle home");
        spill.look(start + WINDOW * 2, busy + Duration::from_millis(21));
        let picks = [spill.pick_other(), spill.pick_other(), spill.pick_other()];
        assert_eq!(picks, [Some(1), Some(0), Some(1)], "in turn");
        spill.look(start + WINDOW * 3, busy + Duration::from_millis(30));
        assert_eq!(spill.pick_other(), None, "home has time again");
    }

    #[test]
    fn without_others_every_check_stays_home() {
        let home = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        home.block_on(async {
            let mut spill = Spill::new(Vec::new());
            assert!(spill.pick().is_none());
        });
    }
}

//! Who starts next: between reading a target and starting its check, the
//! scheduler keeps `--per-host` (never more than N checks in flight to one
//! host; that host's other targets wait while other hosts keep the pipeline
//! full) and `--dedupe` (each distinct URL checked once, every line still
//! answered). Targets that wait are counted, so the runner stops reading
//! input when too many wait, and memory stays bounded. They wait in a
//! compact form ([`Target::park`]), so the runner can read far ahead of a host
//! that holds many lines of a sorted list and keep the other hosts busy.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use tokio::time::Instant;

use super::{Profile, Target};
use crate::result::Checked;

/// What to do with a target that was just read (`u64`: its place in the input).
#[derive(Debug)]
pub enum Admit<T> {
    /// Check it now.
    Start(u64, T),
    /// It waits for its host, or for the check of the same URL.
    Waiting,
    /// The same URL was already checked: here is its answer for this target.
    Answered(u64, Box<Checked<T>>),
}

/// `--per-host` and `--dedupe` between reading a target and starting it.
pub struct Scheduler<T: Target> {
    per_host: usize,
    hosts: HashMap<String, Host<T>>,
    /// Hosts that have a free slot and targets waiting for it.
    ready: VecDeque<String>,
    /// Targets waiting, for hosts or for duplicates.
    waiting: usize,
    /// Of those, the ones waiting for a slot of their host.
    for_hosts: usize,
    /// Since when, and for how long in all, targets waited for their host
    /// while `--concurrency` had free slots: `--per-host` held the run back.
    held_since: Option<Instant>,
    held: Duration,
    /// `--dedupe`: URL (and profile, see [`dedupe_key`]) → the check in
    /// flight (with the targets waiting for it) or its answer. Grows with the
    /// number of distinct URLs.
    seen: Option<HashMap<String, Seen<T>>>,
}

struct Host<T: Target> {
    in_flight: usize,
    waiting: VecDeque<(u64, T::Parked)>,
}

impl<T: Target> Default for Host<T> {
    fn default() -> Self {
        Host { in_flight: 0, waiting: VecDeque::new() }
    }
}

enum Seen<T: Target> {
    InFlight(Vec<(u64, T::Parked)>),
    /// The answer, without a target: each copy gets its own.
    Done(Box<Checked<()>>),
}

impl<T: Target> Scheduler<T> {
    /// A scheduler allowing `per_host` checks in flight to one host, and
    /// checking each URL once if `dedupe`.
    pub fn new(per_host: usize, dedupe: bool) -> Self {
        let seen = dedupe.then(HashMap::new);
        let (hosts, ready, held_since, held) = (HashMap::new(), VecDeque::new(), None, Duration::ZERO);
        Scheduler { per_host, hosts, ready, waiting: 0, for_hosts: 0, held_since, held, seen }
    }

    /// How many targets wait.
    pub fn waiting(&self) -> usize {
        self.waiting
    }

    /// The runner says whether `--concurrency` has a free slot right now
    /// (after starting every target that could start); the time during which
    /// it had one while targets waited for their host is `--per-host`'s doing.
    pub fn note_free_slots(&mut self, free: bool) {
        let held = free && self.for_hosts > 0;
        match (held, self.held_since) {
            (true, None) => self.held_since = Some(Instant::now()),
            (false, Some(since)) => {
                self.held += since.elapsed();
                self.held_since = None;
            }
            _ => {}
        }
    }

    /// How long `--per-host` held checks back, in all.
    pub fn held_back(&mut self) -> Duration {
        self.note_free_slots(false);
        self.held
    }

    /// Target number `index` was read: start it, park it, or answer it.
    pub fn admit(&mut self, index: u64, target: T) -> Admit<T> {
        let Ok(url) = target.url() else {
            return Admit::Start(index, target);
        };
        if let Some(seen) = &mut self.seen {
            let key = dedupe_key(url, target.profile());
            match seen.get_mut(&key) {
                Some(Seen::Done(answer)) => return Admit::Answered(index, Box::new(answer.answer_for(target))),
                Some(Seen::InFlight(lines)) => {
                    lines.push((index, target.park()));
                    self.waiting += 1;
                    return Admit::Waiting;
                }
                None => {
                    seen.insert(key, Seen::InFlight(Vec::new()));
                }
            }
        }
        let key = host_of(&target);
        if !self.hosts.contains_key(key) {
            self.hosts.insert(key.to_owned(), Host::default());
        }
        let Some(host) = self.hosts.get_mut(key) else { return Admit::Start(index, target) };
        if host.in_flight < self.per_host {
            host.in_flight += 1;
            return Admit::Start(index, target);
        }
        host.waiting.push_back((index, target.park()));
        self.waiting += 1;
        self.for_hosts += 1;
        Admit::Waiting
    }

    /// A check finished: its host slot frees up, and with `--dedupe` the
    /// targets that waited for the same URL get their copies of the answer.
    pub fn finished(&mut self, checked: &Checked<T>) -> Vec<(u64, Checked<T>)> {
        let Some(url) = checked.target.url().ok() else {
            return Vec::new();
        };
        let key = host_of(&checked.target);
        if let Some(host) = self.hosts.get_mut(key) {
            host.in_flight -= 1;
            if !host.waiting.is_empty() && host.in_flight + 1 == self.per_host {
                self.ready.push_back(key.to_owned());
            }
            if host.in_flight == 0 && host.waiting.is_empty() {
                self.hosts.remove(key);
            }
        }
        let Some(seen) = &mut self.seen else {
            return Vec::new();
        };
        let template = checked.answer_for(());
        match seen.insert(dedupe_key(url, checked.target.profile()), Seen::Done(Box::new(template))) {
            Some(Seen::InFlight(lines)) => {
                self.waiting -= lines.len();
                lines.into_iter().map(|(index, line)| (index, checked.answer_for(T::unpark(line)))).collect()
            }
            _ => Vec::new(),
        }
    }

    /// A waiting target whose host now has a free slot.
    pub fn next_ready(&mut self) -> Option<(u64, T)> {
        while let Some(key) = self.ready.pop_front() {
            let Some(host) = self.hosts.get_mut(&key) else { continue };
            let Some((index, target)) = host.waiting.pop_front() else { continue };
            host.in_flight += 1;
            self.waiting -= 1;
            self.for_hosts -= 1;
            if !host.waiting.is_empty() && host.in_flight < self.per_host {
                self.ready.push_back(key);
            }
            return Some((index, T::unpark(target)));
        }
        None
    }
}

/// What makes two targets one check under `--dedupe`: the same URL, and
/// the same profile (none, or equal ones: the same request, deadline and
/// expectations), so a URL listed twice with different expectations is
/// checked, and judged, once for each. A profile counts by a 64-bit hash of
/// all its settings, header values included (the key stays in memory only).
fn dedupe_key(url: &url::Url, profile: Option<&Profile>) -> String {
    use std::hash::{Hash, Hasher};
    let Some(profile) = profile else { return url.as_str().to_owned() };
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    profile.hash(&mut hasher);
    format!("{url}\0{:016x}", hasher.finish())
}

/// Hosts are counted by name, whatever the port or scheme.
fn host_of<T: Target>(target: &T) -> &str {
    target.url().ok().and_then(|u| u.host_str()).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;
    use url::Url;

    /// A target that is a URL or a reason, parked as its text.
    #[derive(Debug)]
    struct Line(Result<Url, String>);

    impl Target for Line {
        type Parked = String;
        fn url(&self) -> Result<&Url, &str> {
            self.0.as_ref().map_err(String::as_str)
        }
        fn park(self) -> String {
            self.0.map_or_else(|e| format!("!{e}"), String::from)
        }
        fn unpark(text: String) -> Line {
            Line(Url::parse(&text).map_err(|_| text))
        }
    }

    fn target(url: &str) -> Line {
        Line(Url::parse(url).map_err(|e| e.to_string()))
    }

    fn started(admit: Admit<Line>) -> (u64, Line) {
        match admit {
            Admit::Start(index, target) => (index, target),
            other => panic!("expected a start, got {other:?}"),
        }
    }

    fn done(target: Line) -> Checked<Line> {
        Checked::invalid(target, "not checked in this test")
    }

    #[test]
    fn per_host_limit_parks_and_releases_in_order() {
        let mut s = Scheduler::new(2, false);
        let (_, a0) = started(s.admit(0, target("http://a.test/0")));
        let _a1 = started(s.admit(1, target("http://a.test:8080/1")));
        assert!(matches!(s.admit(2, target("http://a.test/2")), Admit::Waiting));
        assert!(matches!(s.admit(3, target("http://a.test/3")), Admit::Waiting));
        let _b = started(s.admit(4, target("http://b.test/")));
        assert_eq!(s.waiting(), 2);
        assert!(s.next_ready().is_none(), "a.test is full");
        s.finished(&done(a0));
        let (index, back) = s.next_ready().unwrap();
        assert_eq!((index, back.0.unwrap().as_str()), (2, "http://a.test/2"));
        assert!(s.next_ready().is_none(), "only one slot freed");
        assert_eq!(s.waiting(), 1);
    }

    #[test]
    fn dedupe_checks_once_and_answers_every_line() {
        let mut s = Scheduler::new(4, true);
        let (_, first) = started(s.admit(0, target("http://a.test/x")));
        assert!(matches!(s.admit(1, target("http://a.test/x")), Admit::Waiting));
        let copies = s.finished(&done(first));
        assert_eq!(copies.iter().map(|(index, _)| *index).collect::<Vec<_>>(), [1]);
        assert_eq!(s.waiting(), 0);
        match s.admit(2, target("http://a.test/x")) {
            Admit::Answered(index, copy) => {
                assert_eq!((index, copy.target.0.unwrap().as_str()), (2, "http://a.test/x"))
            }
            other => panic!("{other:?}"),
        }
        let _other = started(s.admit(3, target("http://a.test/y")));
    }

    #[tokio::test(start_paused = true)]
    async fn time_held_back_counts_only_free_slots_with_targets_waiting() {
        let mut s = Scheduler::new(1, false);
        let (_, a0) = started(s.admit(0, target("http://a.test/0")));
        s.note_free_slots(true);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(matches!(s.admit(1, target("http://a.test/1")), Admit::Waiting));
        s.note_free_slots(false);
        tokio::time::advance(Duration::from_secs(1)).await;
        s.note_free_slots(true);
        tokio::time::advance(Duration::from_secs(3)).await;
        s.finished(&done(a0));
        let _a1 = s.next_ready().unwrap();
        s.note_free_slots(true);
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(s.held_back(), Duration::from_secs(3));
    }

    /// A URL with its own profile.
    #[derive(Debug)]
    struct Ruled(Url, Option<Profile>);

    impl Target for Ruled {
        type Parked = Ruled;
        fn url(&self) -> Result<&Url, &str> {
            Ok(&self.0)
        }
        fn park(self) -> Ruled {
            self
        }
        fn unpark(parked: Ruled) -> Ruled {
            parked
        }
        fn profile(&self) -> Option<&Profile> {
            self.1.as_ref()
        }
    }

    #[test]
    fn dedupe_shares_a_check_only_between_equal_profiles() {
        let url = Url::parse("http://a.test/x").unwrap();
        let strict = Profile::default().policy(crate::Policy::new("200".parse().unwrap()));
        let secret = |value: &str| Profile::default().header("Authorization", value);
        let mut s = Scheduler::new(8, true);
        let mut admit = |index, profile| s.admit(index, Ruled(url.clone(), profile));
        assert!(matches!(admit(0, None), Admit::Start(..)));
        assert!(matches!(admit(1, Some(strict.clone())), Admit::Start(..)), "other expectations");
        assert!(matches!(admit(2, Some(strict)), Admit::Waiting), "the same ones");
        assert!(matches!(admit(3, Some(secret("a"))), Admit::Start(..)));
        assert!(matches!(admit(4, Some(secret("b"))), Admit::Start(..)), "another header value");
        assert!(matches!(admit(5, None), Admit::Waiting));
    }

    #[test]
    fn invalid_lines_start_at_once() {
        let mut s = Scheduler::new(1, true);
        let (_, t) = started(s.admit(0, Line(Err("not a URL".into()))));
        assert!(s.finished(&done(t)).is_empty());
    }
}

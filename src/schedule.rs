//! Who starts next: between reading a target and starting its check, the
//! scheduler keeps `--per-host` (never more than N checks in flight to one
//! host; that host's other targets wait while other hosts keep the pipeline
//! full) and `--dedupe` (each distinct URL checked once, every line still
//! answered). Targets that wait are counted, so the runner stops reading
//! input when too many wait, and memory stays bounded. They wait in a
//! compact form ([`Parked`]), so the runner can read far ahead of a host
//! that holds many lines of a sorted list and keep the other hosts busy.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use tokio::time::Instant;
use url::Url;

use crate::input::{Source, Target};
use crate::outcome::Checked;

/// What to do with a target that was just read.
#[derive(Debug)]
pub enum Admit {
    /// Check it now.
    Start(Target),
    /// It waits for its host, or for the check of the same URL.
    Waiting,
    /// The same URL was already checked: here is its answer for this line.
    Answered(Box<Checked>),
}

pub struct Scheduler {
    per_host: usize,
    hosts: HashMap<String, Host>,
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
    /// `--dedupe`: URL → the check in flight (with the lines waiting for
    /// it) or its answer. Grows with the number of distinct URLs.
    seen: Option<HashMap<String, Seen>>,
}

#[derive(Default)]
struct Host {
    in_flight: usize,
    waiting: VecDeque<Parked>,
}

enum Seen {
    InFlight(Vec<Parked>),
    Done(Box<Checked>),
}

/// A waiting target, about half the size of a [`Target`]: the URL is kept as
/// its text (parsed again when it starts) and the input line only when it
/// differs from that text.
struct Parked {
    index: u64,
    source: Source,
    /// The URL's text (only targets with a URL wait; others start at once).
    url: Result<Box<str>, String>,
    input: Option<Box<str>>,
}

impl Parked {
    fn new(target: Target) -> Parked {
        let url = target.url.map(|url| String::from(url).into_boxed_str());
        let input = match &url {
            Ok(text) if **text == *target.input => None,
            _ => Some(target.input.into_boxed_str()),
        };
        Parked { index: target.index, source: target.source, url, input }
    }

    fn unpark(self) -> Target {
        let input = match (self.input, &self.url) {
            (Some(input), _) => input.into_string(),
            (None, Ok(text)) => text.to_string(),
            (None, Err(_)) => String::new(),
        };
        let source = self.source;
        // The text came from a parsed URL, so it parses again to the same URL.
        let url = self.url.and_then(|text| Url::parse(&text).map_err(|e| format!("invalid URL at {source}: {e}")));
        Target { index: self.index, source, input, url }
    }
}

impl Scheduler {
    pub fn new(per_host: usize, dedupe: bool) -> Self {
        let seen = dedupe.then(HashMap::new);
        let (hosts, ready, held_since, held) = (HashMap::new(), VecDeque::new(), None, Duration::ZERO);
        Scheduler { per_host, hosts, ready, waiting: 0, for_hosts: 0, held_since, held, seen }
    }

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

    pub fn admit(&mut self, target: Target) -> Admit {
        let Ok(url) = &target.url else {
            return Admit::Start(target);
        };
        if let Some(seen) = &mut self.seen {
            match seen.get_mut(url.as_str()) {
                Some(Seen::Done(answer)) => return Admit::Answered(Box::new(answer.answer_for(target))),
                Some(Seen::InFlight(lines)) => {
                    lines.push(Parked::new(target));
                    self.waiting += 1;
                    return Admit::Waiting;
                }
                None => {
                    seen.insert(url.as_str().to_owned(), Seen::InFlight(Vec::new()));
                }
            }
        }
        let key = host_of(&target);
        if !self.hosts.contains_key(key) {
            self.hosts.insert(key.to_owned(), Host::default());
        }
        let Some(host) = self.hosts.get_mut(key) else { return Admit::Start(target) };
        if host.in_flight < self.per_host {
            host.in_flight += 1;
            return Admit::Start(target);
        }
        host.waiting.push_back(Parked::new(target));
        self.waiting += 1;
        self.for_hosts += 1;
        Admit::Waiting
    }

    /// A check finished: its host slot frees up, and with `--dedupe` the
    /// lines that waited for the same URL get their copies of the answer.
    pub fn finished(&mut self, checked: &Checked) -> Vec<Checked> {
        let Some(url) = checked.target.url.as_ref().ok() else {
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
        let template = checked.clone();
        match seen.insert(url.as_str().to_owned(), Seen::Done(Box::new(template))) {
            Some(Seen::InFlight(lines)) => {
                self.waiting -= lines.len();
                lines.into_iter().map(|line| checked.answer_for(line.unpark())).collect()
            }
            _ => Vec::new(),
        }
    }

    /// A waiting target whose host now has a free slot.
    pub fn next_ready(&mut self) -> Option<Target> {
        while let Some(key) = self.ready.pop_front() {
            let Some(host) = self.hosts.get_mut(&key) else { continue };
            let Some(target) = host.waiting.pop_front() else { continue };
            host.in_flight += 1;
            self.waiting -= 1;
            self.for_hosts -= 1;
            if !host.waiting.is_empty() && host.in_flight < self.per_host {
                self.ready.push_back(key);
            }
            return Some(target.unpark());
        }
        None
    }
}

/// Hosts are counted by name, whatever the port or scheme.
fn host_of(target: &Target) -> &str {
    target.url.as_ref().ok().and_then(|u| u.host_str()).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::{parse_url, Source};

    fn target(index: u64, url: &str) -> Target {
        Target { index, source: Source::Arg(1), input: url.into(), url: parse_url(url) }
    }

    fn started(admit: Admit) -> Target {
        match admit {
            Admit::Start(target) => target,
            other => panic!("expected a start, got {other:?}"),
        }
    }

    #[test]
    fn per_host_limit_parks_and_releases_in_order() {
        let mut s = Scheduler::new(2, false);
        let a0 = started(s.admit(target(0, "http://a.test/0")));
        let _a1 = started(s.admit(target(1, "http://a.test:8080/1")));
        assert!(matches!(s.admit(target(2, "http://a.test/2")), Admit::Waiting));
        assert!(matches!(s.admit(target(3, "http://a.test/3")), Admit::Waiting));
        let _b = started(s.admit(target(4, "http://b.test/")));
        assert_eq!(s.waiting(), 2);
        assert!(s.next_ready().is_none(), "a.test is full");
        s.finished(&Checked::invalid(a0));
        assert_eq!(s.next_ready().unwrap().index, 2);
        assert!(s.next_ready().is_none(), "only one slot freed");
        assert_eq!(s.waiting(), 1);
    }

    #[test]
    fn dedupe_checks_once_and_answers_every_line() {
        let mut s = Scheduler::new(4, true);
        let first = started(s.admit(target(0, "http://a.test/x")));
        assert!(matches!(s.admit(target(1, "http://a.test/x")), Admit::Waiting));
        let copies = s.finished(&Checked::invalid(first));
        assert_eq!(copies.iter().map(|c| c.target.index).collect::<Vec<_>>(), [1]);
        assert_eq!(s.waiting(), 0);
        match s.admit(target(2, "http://a.test/x")) {
            Admit::Answered(copy) => assert_eq!(copy.target.index, 2),
            other => panic!("{other:?}"),
        }
        let _other = started(s.admit(target(3, "http://a.test/y")));
    }

    #[tokio::test(start_paused = true)]
    async fn time_held_back_counts_only_free_slots_with_targets_waiting() {
        let mut s = Scheduler::new(1, false);
        let a0 = started(s.admit(target(0, "http://a.test/0")));
        s.note_free_slots(true);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(matches!(s.admit(target(1, "http://a.test/1")), Admit::Waiting));
        s.note_free_slots(false);
        tokio::time::advance(Duration::from_secs(1)).await;
        s.note_free_slots(true);
        tokio::time::advance(Duration::from_secs(3)).await;
        s.finished(&Checked::invalid(a0));
        let _a1 = s.next_ready().unwrap();
        s.note_free_slots(true);
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(s.held_back(), Duration::from_secs(3));
    }

    #[test]
    fn waiting_targets_come_back_whole() {
        let mut s = Scheduler::new(1, false);
        let first = started(s.admit(target(0, "http://a.test/0")));
        let mut line = target(1, "a.test/x");
        line.source = Source::Line { name: "list.txt".into(), line: 9 };
        let mut same = target(2, "http://a.test/same");
        same.input = same.url.as_ref().unwrap().to_string();
        for t in [line.clone(), same.clone()] {
            assert!(matches!(s.admit(t), Admit::Waiting));
        }
        s.finished(&Checked::invalid(first));
        let back = s.next_ready().unwrap();
        assert_eq!((back.index, &back.source, &back.input, &back.url), (1, &line.source, &line.input, &line.url));
        s.finished(&Checked::invalid(back));
        let back = s.next_ready().unwrap();
        assert_eq!((back.input, back.url), (same.input, same.url));
    }

    #[test]
    fn invalid_lines_start_at_once() {
        let mut s = Scheduler::new(1, true);
        let t = started(s.admit(target(0, "ftp://x/")));
        assert!(s.finished(&Checked::invalid(t)).is_empty());
    }
}

//! Who starts next: between reading a target and starting its check, the
//! scheduler keeps `--per-host` (never more than N checks in flight to one
//! host; that host's other targets wait while other hosts keep the pipeline
//! full) and `--dedupe` (each distinct URL checked once, every line still
//! answered). Targets that wait are counted, so the runner stops reading
//! input when too many wait, and memory stays bounded.

use std::collections::{HashMap, VecDeque};

use crate::input::Target;
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
    /// `--dedupe`: URL → the check in flight (with the lines waiting for
    /// it) or its answer. Grows with the number of distinct URLs.
    seen: Option<HashMap<String, Seen>>,
}

#[derive(Default)]
struct Host {
    in_flight: usize,
    waiting: VecDeque<Target>,
}

enum Seen {
    InFlight(Vec<Target>),
    Done(Box<Checked>),
}

impl Scheduler {
    pub fn new(per_host: usize, dedupe: bool) -> Self {
        let seen = dedupe.then(HashMap::new);
        Scheduler { per_host, hosts: HashMap::new(), ready: VecDeque::new(), waiting: 0, seen }
    }

    pub fn waiting(&self) -> usize {
        self.waiting
    }

    pub fn admit(&mut self, target: Target) -> Admit {
        let Ok(url) = &target.url else {
            return Admit::Start(target);
        };
        if let Some(seen) = &mut self.seen {
            match seen.get_mut(url.as_str()) {
                Some(Seen::Done(answer)) => return Admit::Answered(Box::new(answer.answer_for(target))),
                Some(Seen::InFlight(lines)) => {
                    lines.push(target);
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
        host.waiting.push_back(target);
        self.waiting += 1;
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
                lines.into_iter().map(|line| checked.answer_for(line)).collect()
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
            if !host.waiting.is_empty() && host.in_flight < self.per_host {
                self.ready.push_back(key);
            }
            return Some(target);
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

    #[test]
    fn invalid_lines_start_at_once() {
        let mut s = Scheduler::new(1, true);
        let t = started(s.admit(target(0, "ftp://x/")));
        assert!(s.finished(&Checked::invalid(t)).is_empty());
    }
}

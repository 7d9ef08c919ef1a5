//! Flap damping: which state of a URL is *confirmed*, a pure state machine
//! per key (confirmed state, the candidate seen instead, how many rounds in
//! a row). A change counts only after `--fail-after` rounds in a row worse
//! than the confirmed state, or `--recover-after` rounds better, so a URL
//! that flaps alerts once per real change, not once per round.

use std::collections::HashMap;

use statuscheck::State;

/// How many rounds in a row a new state must hold before it counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Damping {
    /// Rounds in a row worse than the confirmed state (`--fail-after`).
    pub fail_after: u32,
    /// Rounds in a row better than the confirmed state (`--recover-after`).
    pub recover_after: u32,
}

impl Default for Damping {
    /// Every change counts at once.
    fn default() -> Self {
        Damping { fail_after: 1, recover_after: 1 }
    }
}

/// One URL's states: what is confirmed, and the rounds in a row that were not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tracked {
    pub confirmed: State,
    /// The last state seen that differs from the confirmed one.
    pub candidate: Option<State>,
    /// Rounds in a row on the candidate's side (worse or better).
    pub streak: u32,
}

/// A confirmed change of state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition {
    pub old: State,
    pub new: State,
}

/// Up is best, down worst; `None` for a state that is no judgement (unknown).
fn rank(state: State) -> Option<u8> {
    match state {
        State::Up => Some(0),
        State::Degraded => Some(1),
        State::Down => Some(2),
        _ => None,
    }
}

impl Tracked {
    /// A URL first seen in `state`: that is its confirmed state (first sight
    /// is no change).
    pub fn new(state: State) -> Tracked {
        Tracked { confirmed: state, candidate: None, streak: 0 }
    }

    /// One conclusive round saw `seen`: the change it confirms, if it does.
    /// The new confirmed state is the last round's (`down, degraded, down`
    /// with `--fail-after 3` after `up` confirms `down`).
    pub fn observe(&mut self, seen: State, damping: Damping) -> Option<Transition> {
        let (Some(now), Some(base)) = (rank(seen), rank(self.confirmed)) else { return None };
        if now == base {
            self.candidate = None;
            self.streak = 0;
            return None;
        }
        let worse = now > base;
        let same_side = self.candidate.and_then(rank).is_some_and(|c| (c > base) == worse);
        self.streak = if same_side { self.streak.saturating_add(1) } else { 1 };
        self.candidate = Some(seen);
        let needed = if worse { damping.fail_after } else { damping.recover_after };
        if self.streak < needed {
            return None;
        }
        let old = self.confirmed;
        *self = Tracked::new(seen);
        Some(Transition { old, new: seen })
    }
}

/// What identifies a URL across rounds and restarts: its URL and its name,
/// not its line (inserting a line changes nothing).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub url: String,
    pub name: Option<String>,
}

/// A URL's entry: its states and the round it was last seen in (`None`:
/// saved by an earlier run, not seen yet).
#[derive(Clone, Debug)]
struct Slot {
    tracked: Tracked,
    seen: Option<u64>,
}

/// The confirmed states of every URL of the list, round after round.
#[derive(Clone, Debug, Default)]
pub struct Damper {
    damping: Damping,
    slots: HashMap<Key, Slot>,
    round: u64,
}

impl Damper {
    /// States saved by an earlier run (`--state`), or none.
    pub fn new(damping: Damping, saved: impl IntoIterator<Item = (Key, Tracked)>) -> Damper {
        let slots = saved.into_iter().map(|(key, tracked)| (key, Slot { tracked, seen: None })).collect();
        Damper { damping, slots, round: 0 }
    }

    /// One result of this round. An inconclusive round advances nothing
    /// (the URL is only kept); a key seen twice in a round (a line
    /// repeated) counts once.
    pub fn observe(&mut self, key: Key, seen: State, inconclusive: bool) -> Option<Transition> {
        let round = self.round;
        if let Some(slot) = self.slots.get_mut(&key) {
            let again = slot.seen.replace(round) == Some(round);
            if inconclusive || again {
                return None;
            }
            return slot.tracked.observe(seen, self.damping);
        }
        if !inconclusive && rank(seen).is_some() {
            self.slots.insert(key, Slot { tracked: Tracked::new(seen), seen: Some(round) });
        }
        None
    }

    /// A round ended; after a whole one, URLs it did not see are forgotten,
    /// so memory follows the list however long the watch runs.
    pub fn end_round(&mut self, complete: bool) {
        if complete {
            let round = self.round;
            self.slots.retain(|_, slot| slot.seen == Some(round));
        }
        self.round += 1;
    }

    /// Every URL's states, for `--state`.
    pub fn states(&self) -> impl Iterator<Item = (&Key, &Tracked)> {
        self.slots.iter().map(|(key, slot)| (key, &slot.tracked))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use State::{Degraded as G, Down as D, Unknown as X, Up as U};

    /// The confirmed changes of one URL seen in `script`, round by round
    /// (`X`: an inconclusive round), starting from `start`.
    fn alerts(start: State, damping: Damping, script: &[State]) -> Vec<(State, State)> {
        let mut damper = Damper::new(damping, [(key("a"), Tracked::new(start))]);
        let mut changes = Vec::new();
        for &seen in script {
            let inconclusive = seen == X;
            if let Some(t) = damper.observe(key("a"), seen, inconclusive) {
                changes.push((t.old, t.new));
            }
            damper.end_round(true);
        }
        changes
    }

    fn key(url: &str) -> Key {
        Key { url: url.into(), name: None }
    }

    fn after(fail: u32, recover: u32) -> Damping {
        Damping { fail_after: fail, recover_after: recover }
    }

    #[test]
    fn without_damping_every_change_counts() {
        assert_eq!(alerts(U, Damping::default(), &[U, D, U, G, G, D]), [(U, D), (D, U), (U, G), (G, D)]);
    }

    #[test]
    fn a_flapping_url_alerts_once_per_real_change() {
        let damping = after(3, 2);
        // Flaps never hold three rounds: nothing.
        assert_eq!(alerts(U, damping, &[D, U, D, D, U, D, D, U, U, D]), []);
        // Down for real: one alert on the third round, then a recovery after two.
        assert_eq!(alerts(U, damping, &[D, D, D, D, D, U, D, U, U, U]), [(U, D), (D, U)]);
        // Degraded and down alike are worse than up: the last one is confirmed.
        assert_eq!(alerts(U, damping, &[D, G, D]), [(U, D)]);
        assert_eq!(alerts(U, damping, &[G, D, G]), [(U, G)]);
        // Down to degraded is better: --recover-after counts it.
        assert_eq!(alerts(D, damping, &[G, G, U, U]), [(D, G), (G, U)]);
    }

    #[test]
    fn inconclusive_rounds_neither_alert_nor_advance() {
        let damping = after(2, 1);
        // X between two downs: the streak is not broken, nor advanced.
        assert_eq!(alerts(U, damping, &[D, X, X, D]), [(U, D)]);
        assert_eq!(alerts(U, damping, &[D, X, X]), []);
        assert_eq!(alerts(U, Damping::default(), &[X, X, X]), []);
    }

    #[test]
    fn first_sight_is_no_change_and_forgotten_urls_start_again() {
        let mut damper = Damper::new(Damping::default(), []);
        assert_eq!(damper.observe(key("a"), D, false), None, "first sight");
        assert_eq!(damper.observe(key("b"), D, true), None, "first sight, inconclusive");
        damper.end_round(true);
        assert_eq!(damper.states().count(), 1, "an unknown first sight keeps nothing");
        assert_eq!(damper.observe(key("b"), D, false), None, "first conclusive sight");
        damper.end_round(true);
        assert_eq!(damper.states().count(), 1, "a went from the list and was forgotten");
        assert_eq!(damper.observe(key("a"), U, false), None, "back on the list: first sight again");
    }

    #[test]
    fn a_repeated_line_counts_once_per_round() {
        let mut damper = Damper::new(after(2, 1), [(key("a"), Tracked::new(U))]);
        assert_eq!(damper.observe(key("a"), D, false), None);
        assert_eq!(damper.observe(key("a"), D, false), None, "the same round");
        damper.end_round(true);
        assert!(damper.observe(key("a"), D, false).is_some(), "the second round in a row");
    }

    #[test]
    fn the_name_is_part_of_the_key() {
        let named = |name: &str| Key { url: "https://a.test/".into(), name: Some(name.into()) };
        let mut damper = Damper::new(Damping::default(), [(named("api"), Tracked::new(U))]);
        assert_eq!(damper.observe(named("web"), D, false), None, "another name: first sight");
        assert!(damper.observe(named("api"), D, false).is_some());
    }

    #[test]
    fn an_interrupted_round_forgets_nothing() {
        let mut damper = Damper::new(Damping::default(), [(key("a"), Tracked::new(U)), (key("b"), Tracked::new(U))]);
        damper.observe(key("a"), U, false);
        damper.end_round(false);
        assert_eq!(damper.states().count(), 2);
    }
}

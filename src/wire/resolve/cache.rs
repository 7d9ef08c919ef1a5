//! The answers of one run, per host name (the port does not change what DNS
//! says: an `http://` and an `https://` URL of a host ask once). Checks of a
//! host that ask while its lookup is in flight share that lookup (so do
//! lookups run ahead of a check, see `engine::run`); once it is over, an
//! answer is used only while it is fresh: addresses for their TTL, "no such
//! name" for its negative TTL (RFC 2308), a failure not at all (age zero).

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::OnceCell;
use tokio::time::Instant;

use crate::wire::sync::lock;

/// Host names cached at most: past this, stale entries go, and if that is
/// not enough the older half of the answers (those nearest to going stale),
/// so memory stays bounded on lists of millions of distinct hosts. Lookups
/// in flight always stay, and so do the newest answers: a check (or the
/// lookup run ahead of it, whose answer its check is yet to use) still needs
/// them. Lookups in flight are bounded by the runner: one per check, one
/// per lookup run ahead. Why this many: a shuffled list visits a host again
/// anywhere later in the list, so a list of more names than this asks again
/// for about the share of names that did not fit (10,000 asked about 1.75
/// lookups per name of a list of 20,000 names, `bench/internet`); an entry
/// costs about 200 bytes (estimated from the sizes of its parts), so the
/// cache, full, some 13 MB.
pub const LIMIT: usize = 65_536;

pub type Answer = Result<Vec<IpAddr>, String>;

/// One lookup: empty while in flight, then its answer and when that goes stale.
type Slot = Arc<OnceCell<(Answer, Instant)>>;

#[derive(Default)]
pub struct Cache {
    slots: Mutex<HashMap<String, Slot>>,
}

impl Cache {
    /// The cached answer for `domain` if fresh, the one in flight if any,
    /// else `lookup`'s, which returns an answer and how long to use it.
    pub async fn get_or_lookup(&self, domain: &str, lookup: impl Future<Output = (Answer, Duration)>) -> Answer {
        let slot = self.slot(domain);
        let (answer, _) = slot
            .get_or_init(|| async {
                let (answer, age) = lookup.await;
                (answer, Instant::now() + age)
            })
            .await;
        answer.clone()
    }

    /// Whether `domain` has an answer that is fresh, or a lookup in flight:
    /// a lookup now would not ask anyone.
    pub fn has(&self, domain: &str) -> bool {
        let now = Instant::now();
        self.lock().get(domain).is_some_and(|slot| usable(slot, now))
    }

    /// Forget every answer (a new `--watch` round).
    pub fn clear(&self) {
        self.lock().clear();
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    fn slot(&self, domain: &str) -> Slot {
        let now = Instant::now();
        let mut slots = self.lock();
        if let Some(slot) = slots.get(domain) {
            if usable(slot, now) {
                return slot.clone();
            }
            slots.remove(domain);
        }
        if slots.len() >= LIMIT {
            slots.retain(|_, slot| usable(slot, now));
            if slots.len() >= LIMIT {
                forget_older_half(&mut slots);
            }
        }
        slots.entry(domain.to_owned()).or_default().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Slot>> {
        lock(&self.slots)
    }
}

/// Drops the answers that go stale first, about half of them, keeping the
/// lookups in flight; if that frees nothing (all go stale at once), every
/// answer. Once per `LIMIT / 2` new names at most, so it costs little.
fn forget_older_half(slots: &mut HashMap<String, Slot>) {
    let mut stale_at: Vec<Instant> = slots.values().filter_map(|slot| slot.get().map(|(_, at)| *at)).collect();
    if stale_at.is_empty() {
        return;
    }
    let middle = stale_at.len() / 2;
    let (_, cut, _) = stale_at.select_nth_unstable(middle);
    let cut = *cut;
    slots.retain(|_, slot| slot.get().is_none_or(|(_, at)| *at > cut));
    if slots.len() >= LIMIT {
        slots.retain(|_, slot| slot.get().is_none());
    }
}

/// In flight, or answered and still fresh (a failure never is: its age is
/// zero).
fn usable(slot: &Slot, now: Instant) -> bool {
    match slot.get() {
        None => true,
        Some((_, stale_at)) => now < *stale_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn addr(last: u8) -> Vec<IpAddr> {
        vec![IpAddr::from([127, 0, 0, last])]
    }

    #[tokio::test(start_paused = true)]
    async fn an_answer_is_used_until_its_age_and_not_after() {
        let cache = Cache::default();
        let first = cache.get_or_lookup("a.test", async { (Ok(addr(1)), Duration::from_secs(30)) }).await;
        assert_eq!(first, Ok(addr(1)));
        tokio::time::advance(Duration::from_secs(29)).await;
        let cached = cache.get_or_lookup("a.test", async { (Ok(addr(2)), Duration::from_secs(30)) }).await;
        assert_eq!(cached, Ok(addr(1)), "still fresh");
        tokio::time::advance(Duration::from_secs(2)).await;
        let asked = cache.get_or_lookup("a.test", async { (Ok(addr(2)), Duration::from_secs(30)) }).await;
        assert_eq!(asked, Ok(addr(2)), "stale: asked again");
    }

    #[tokio::test(start_paused = true)]
    async fn a_failure_is_shared_in_flight_and_then_forgotten() {
        let cache = Arc::new(Cache::default());
        let asked = Arc::new(AtomicUsize::new(0));
        let failing = |asked: Arc<AtomicUsize>| async move {
            asked.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_secs(1)).await;
            (Err("name or service not known".to_string()), Duration::ZERO)
        };
        let together: Vec<_> = (0..3)
            .map(|_| {
                let (cache, lookup) = (cache.clone(), failing(asked.clone()));
                tokio::spawn(async move { cache.get_or_lookup("a.test", lookup).await })
            })
            .collect();
        for check in together {
            assert!(check.await.unwrap().is_err());
        }
        assert_eq!(asked.load(Ordering::SeqCst), 1, "concurrent checks share the lookup in flight");
        let later = cache.get_or_lookup("a.test", async { (Ok(addr(1)), Duration::from_secs(30)) }).await;
        assert_eq!(later, Ok(addr(1)), "the failure was not kept");
    }

    #[tokio::test(start_paused = true)]
    async fn clear_forgets_fresh_answers() {
        let cache = Cache::default();
        cache.get_or_lookup("a.test", async { (Ok(addr(1)), Duration::from_secs(300)) }).await.unwrap();
        cache.clear();
        let asked = cache.get_or_lookup("a.test", async { (Ok(addr(2)), Duration::from_secs(300)) }).await;
        assert_eq!(asked, Ok(addr(2)));
    }

    #[tokio::test(start_paused = true)]
    async fn the_cache_stays_bounded() {
        let cache = Cache::default();
        for i in 0..LIMIT + 10 {
            let name = format!("h{i}.test");
            cache.get_or_lookup(&name, async { (Ok(addr(1)), Duration::from_secs(300)) }).await.unwrap();
            assert!(cache.len() <= LIMIT);
        }
        // Stale entries go first: the fresh ones are kept.
        let cache = Cache::default();
        for i in 0..LIMIT {
            let age = if i % 2 == 0 { Duration::ZERO } else { Duration::from_secs(300) };
            cache.get_or_lookup(&format!("h{i}.test"), async move { (Ok(addr(1)), age) }).await.unwrap();
        }
        cache.get_or_lookup("new.test", async { (Ok(addr(1)), Duration::from_secs(300)) }).await.unwrap();
        assert_eq!(cache.len(), LIMIT / 2 + 1);
    }

    /// A full cache of fresh answers forgets those that go stale first: the
    /// newest (a lookup run ahead whose check is yet to come) stay.
    #[tokio::test(start_paused = true)]
    async fn a_full_cache_keeps_the_newest_answers() {
        let cache = Cache::default();
        for i in 0..LIMIT {
            cache
                .get_or_lookup(&format!("h{i}.test"), async { (Ok(addr(1)), Duration::from_secs(300)) })
                .await
                .unwrap();
            tokio::time::advance(Duration::from_millis(1)).await;
        }
        cache.get_or_lookup("new.test", async { (Ok(addr(1)), Duration::from_secs(300)) }).await.unwrap();
        assert!(cache.len() <= LIMIT / 2 + 1, "{}", cache.len());
        assert!(cache.has("new.test"));
        assert!(cache.has(&format!("h{}.test", LIMIT - 1)), "the newest stay");
        assert!(!cache.has("h0.test"), "the oldest go");
    }

    /// A full cache starts over, but a lookup in flight (one run ahead of
    /// its check) stays, and the check that comes later joins it.
    #[tokio::test(start_paused = true)]
    async fn starting_over_keeps_the_lookups_in_flight() {
        let cache = Arc::new(Cache::default());
        let (answer, answered) = tokio::sync::oneshot::channel::<()>();
        let ahead = {
            let cache = cache.clone();
            tokio::spawn(async move {
                let slow = async {
                    let _ = answered.await;
                    (Ok(addr(7)), Duration::from_secs(300))
                };
                cache.get_or_lookup("ahead.test", slow).await
            })
        };
        while !cache.has("ahead.test") {
            tokio::task::yield_now().await;
        }
        for i in 0..LIMIT + 10 {
            cache
                .get_or_lookup(&format!("h{i}.test"), async { (Ok(addr(1)), Duration::from_secs(300)) })
                .await
                .unwrap();
        }
        assert!(cache.len() <= LIMIT);
        assert!(cache.has("ahead.test"), "still in flight, still there");
        let check = {
            let cache = cache.clone();
            tokio::spawn(async move {
                cache.get_or_lookup("ahead.test", async { (Ok(addr(8)), Duration::from_secs(300)) }).await
            })
        };
        tokio::task::yield_now().await;
        answer.send(()).unwrap();
        assert_eq!(check.await.unwrap(), Ok(addr(7)), "joined the lookup in flight");
        assert_eq!(ahead.await.unwrap(), Ok(addr(7)));
    }
}

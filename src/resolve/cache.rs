//! The answers of one run. Checks of a host that ask while its lookup is in
//! flight share that lookup; once it is over, an answer is used only while it
//! is fresh, and a failure not at all.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::OnceCell;
use tokio::time::Instant;

/// Host names cached at most: past this, stale entries go, and if that is
/// not enough the cache starts over, so memory stays bounded on lists of
/// millions of distinct hosts.
pub const LIMIT: usize = 10_000;

pub type Answer = Result<Vec<SocketAddr>, String>;

/// One lookup: empty while in flight, then its answer and when that goes stale.
type Slot = Arc<OnceCell<(Answer, Instant)>>;

#[derive(Default)]
pub struct Cache {
    slots: Mutex<HashMap<(String, u16), Slot>>,
}

impl Cache {
    /// The cached answer for `domain:port` if fresh, the one in flight if
    /// any, else `lookup`'s, which returns an answer and how long to use it.
    pub async fn get_or_lookup(
        &self,
        domain: &str,
        port: u16,
        lookup: impl Future<Output = (Answer, Duration)>,
    ) -> Answer {
        let slot = self.slot(domain, port);
        let (answer, _) = slot
            .get_or_init(|| async {
                let (answer, age) = lookup.await;
                (answer, Instant::now() + age)
            })
            .await;
        answer.clone()
    }

    /// Forget every answer (a new `--watch` round).
    pub fn clear(&self) {
        self.lock().clear();
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    fn slot(&self, domain: &str, port: u16) -> Slot {
        let now = Instant::now();
        let mut slots = self.lock();
        let key = (domain.to_owned(), port);
        if slots.get(&key).is_some_and(|slot| !usable(slot, now)) {
            slots.remove(&key);
        }
        if slots.len() >= LIMIT && !slots.contains_key(&key) {
            slots.retain(|_, slot| usable(slot, now));
            if slots.len() >= LIMIT {
                slots.clear();
            }
        }
        slots.entry(key).or_default().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, u16), Slot>> {
        self.slots.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// In flight, or answered and still fresh.
fn usable(slot: &Slot, now: Instant) -> bool {
    match slot.get() {
        None => true,
        Some((answer, stale_at)) => answer.is_ok() && now < *stale_at,
    }
}

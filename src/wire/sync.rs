//! Locks that survive a panic: the one way every `Mutex` here is taken.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Takes `mutex`, even when a thread panicked while holding it. Recovering
/// is right for every lock here: each holds a cache, a set or a counter
/// changed in one step under the lock (no invariant is ever left half-done),
/// so what a panic leaves is at worst an entry missing, while refusing the
/// lock would turn one panicked check into every later one panicking.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

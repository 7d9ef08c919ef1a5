//! A map that holds at most a fixed number of keys and forgets the oldest
//! one first: the bound of both TLS caches, so a list of ten million URLs
//! uses the same memory for them as one that fills them once.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

#[derive(Debug)]
pub(super) struct Fifo<K, V> {
    values: HashMap<K, V>,
    /// Every key of `values`, oldest first.
    order: VecDeque<K>,
    capacity: usize,
}

impl<K: Hash + Eq + Clone, V> Fifo<K, V> {
    pub(super) fn new(capacity: usize) -> Self {
        Fifo { values: HashMap::new(), order: VecDeque::new(), capacity }
    }

    pub(super) fn get(&self, key: &K) -> Option<&V> {
        self.values.get(key)
    }

    pub(super) fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.values.get_mut(key)
    }

    /// The value of `key`, made with `make` (forgetting the oldest key when
    /// full) if there is none; `None` only with a capacity of 0.
    pub(super) fn get_or_insert_with(&mut self, key: K, make: impl FnOnce() -> V) -> Option<&mut V> {
        if !self.values.contains_key(&key) {
            if self.capacity == 0 {
                return None;
            }
            while self.values.len() >= self.capacity {
                match self.order.pop_front() {
                    Some(oldest) => self.values.remove(&oldest),
                    None => break,
                };
            }
            self.order.push_back(key.clone());
        }
        Some(self.values.entry(key).or_insert_with(make))
    }

    pub(super) fn len(&self) -> usize {
        self.values.len()
    }

    pub(super) fn clear(&mut self) {
        self.values.clear();
        self.order.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_key_goes_first() {
        let mut fifo = Fifo::new(2);
        *fifo.get_or_insert_with("a", || 1).unwrap() += 10;
        fifo.get_or_insert_with("b", || 2);
        // Using a key again does not make it younger.
        fifo.get_or_insert_with("a", || 100);
        fifo.get_or_insert_with("c", || 3);
        assert_eq!((fifo.get(&"a"), fifo.get(&"b"), fifo.get(&"c")), (None, Some(&2), Some(&3)));
        assert_eq!(fifo.len(), 2);
        fifo.clear();
        assert_eq!((fifo.len(), fifo.get(&"b")), (0, None));
        assert!(Fifo::new(0).get_or_insert_with("a", || 1).is_none());
    }
}

//! The one bounded cache for what the runtime remembers of other services'
//! answers (remote sessions, user profiles), so that a flood of strangers'
//! credentials can neither grow memory nor push real users out.
//!
//! One eviction rule, applied when an insert of a new key finds the cache
//! full:
//! 1. dead entries go (past the instant their owner said they are useless);
//! 2. then the oldest *negative* answer ("no such session", "no such
//!    user"): what a flood of forgeries leaves behind;
//! 3. then the oldest entry.
//!
//! Every step is O(1) amortized: entries sit in insertion order in two
//! queues (negative, positive) whose stale slots are skipped lazily, and the
//! sweep for dead entries runs at most once per quarter-capacity inserts.
//! The cache never reads the clock: callers pass `now`, so tests with a
//! paused clock stay exact.

use std::borrow::Borrow;
use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::time::Instant;

/// How an entry may be dropped before the cache is full of better ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Lifetime {
    /// From this instant the entry is useless and goes at the next sweep;
    /// `None`: kept until evicted (a profile served stale when its service
    /// is down).
    pub dead_after: Option<Instant>,
    /// A negative answer: evicted before any positive one.
    pub negative: bool,
}

#[derive(Debug)]
pub(crate) struct BoundedCache<K, V> {
    capacity: usize,
    entries: HashMap<K, Slot<V>>,
    /// Insertion order: `[positive, negative]`, each slot `(key, stamp)`;
    /// a slot whose stamp no longer matches its entry is stale.
    order: [VecDeque<(K, u64)>; 2],
    next_stamp: u64,
    inserts_since_sweep: usize,
}

#[derive(Debug)]
struct Slot<V> {
    value: V,
    lifetime: Lifetime,
    stamp: u64,
}

impl<K: Eq + Hash + Clone, V> BoundedCache<K, V> {
    /// A cache of at most `capacity` entries (at least 1).
    pub(crate) fn new(capacity: usize) -> Self {
        BoundedCache {
            capacity: capacity.max(1),
            entries: HashMap::new(),
            order: [VecDeque::new(), VecDeque::new()],
            next_stamp: 0,
            inserts_since_sweep: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The entry for `key`, dead or not: freshness is the owner's rule.
    pub(crate) fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.entries.get(key).map(|slot| &slot.value)
    }

    #[cfg(test)]
    pub(crate) fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.entries.remove(key).map(|slot| slot.value)
    }

    /// Inserts or replaces `key`, making room by the rule above first.
    pub(crate) fn insert(&mut self, key: K, value: V, lifetime: Lifetime, now: Instant) {
        if !self.entries.contains_key(&key) && self.entries.len() >= self.capacity {
            self.make_room(now);
        }
        let stamp = self.next_stamp;
        self.next_stamp += 1;
        self.order[usize::from(lifetime.negative)].push_back((key.clone(), stamp));
        self.entries.insert(
            key,
            Slot {
                value,
                lifetime,
                stamp,
            },
        );
        self.inserts_since_sweep += 1;
        self.compact_if_needed();
    }

    fn make_room(&mut self, now: Instant) {
        if self.inserts_since_sweep >= self.capacity / 4 {
            self.inserts_since_sweep = 0;
            self.entries.retain(|_, slot| {
                slot.lifetime
                    .dead_after
                    .is_none_or(|dead_after| now < dead_after)
            });
            if self.entries.len() < self.capacity {
                return;
            }
        }
        for queue in [1, 0] {
            while let Some((key, stamp)) = self.order[queue].pop_front() {
                if self
                    .entries
                    .get(&key)
                    .is_some_and(|slot| slot.stamp == stamp)
                {
                    self.entries.remove(&key);
                    return;
                }
            }
        }
    }

    /// Replaced and removed entries leave stale slots behind; when a queue
    /// holds twice the capacity, keep only the live ones.
    fn compact_if_needed(&mut self) {
        let entries = &self.entries;
        for queue in &mut self.order {
            if queue.len() > 2 * self.capacity {
                queue.retain(|(key, stamp)| {
                    entries.get(key).is_some_and(|slot| slot.stamp == *stamp)
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn keep(negative: bool) -> Lifetime {
        Lifetime {
            dead_after: None,
            negative,
        }
    }

    #[test]
    fn full_evicts_negative_answers_before_users_then_the_oldest() {
        let now = Instant::now();
        let mut cache = BoundedCache::new(3);
        cache.insert("user-1", 1, keep(false), now);
        cache.insert("forged-1", 0, keep(true), now);
        cache.insert("user-2", 2, keep(false), now);
        // Full: the negative answer goes first, though it is not the oldest.
        cache.insert("user-3", 3, keep(false), now);
        assert_eq!(cache.get(&"forged-1"), None);
        assert_eq!(cache.len(), 3);
        // No negative left: the oldest goes.
        cache.insert("user-4", 4, keep(false), now);
        assert_eq!(cache.get(&"user-1"), None);
        assert_eq!(cache.get(&"user-2"), Some(&2));
    }

    #[test]
    fn a_flood_of_negative_answers_never_pushes_users_out() {
        let now = Instant::now();
        let mut cache = BoundedCache::new(100);
        for user in 0..50 {
            cache.insert(format!("user-{user}"), user, keep(false), now);
        }
        for forged in 0..100_000 {
            cache.insert(format!("forged-{forged}"), -1, keep(true), now);
        }
        assert_eq!(cache.len(), 100);
        for user in 0..50 {
            assert_eq!(cache.get(&format!("user-{user}")), Some(&user));
        }
        // The queues stay bounded too, whatever the churn.
        assert!(cache.order.iter().all(|queue| queue.len() <= 200));
    }

    #[test]
    fn dead_entries_go_before_anything_live() {
        let start = Instant::now();
        let mut cache = BoundedCache::new(4);
        let dies = Lifetime {
            dead_after: Some(start + Duration::from_secs(5)),
            negative: false,
        };
        cache.insert("short", 0, dies, start);
        cache.insert("a", 1, keep(true), start);
        cache.insert("b", 2, keep(false), start);
        cache.insert("c", 3, keep(false), start);
        // Later than `short`'s end: it goes, not the negative `a`.
        cache.insert("d", 4, keep(false), start + Duration::from_secs(6));
        assert_eq!(cache.get(&"short"), None);
        assert_eq!(cache.get(&"a"), Some(&1));
    }

    #[test]
    fn replacing_a_key_keeps_one_entry_in_its_new_kind() {
        let now = Instant::now();
        let mut cache = BoundedCache::new(2);
        cache.insert("x", 1, keep(true), now);
        cache.insert("x", 2, keep(false), now);
        for _ in 0..10 {
            cache.insert("x", 3, keep(false), now);
        }
        assert_eq!(cache.len(), 1);
        cache.insert("y", 4, keep(true), now);
        // Full: `y` is the only negative one; `x` (positive now) stays.
        cache.insert("z", 5, keep(false), now);
        assert_eq!(cache.get(&"x"), Some(&3));
        assert_eq!(cache.get(&"y"), None);
        assert_eq!(cache.remove(&"z"), Some(5));
        assert_eq!(cache.len(), 1);
    }
}

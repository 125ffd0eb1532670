//! One call for many concurrent askers: requests that need the same answer
//! at the same time (a session from the auth server, a profile from the
//! user service) share one outbound call instead of stampeding it.
//!
//! If the caller running the call is cancelled (its request was dropped),
//! the next waiter takes the call over, so nobody waits forever; a flight is
//! removed once it has an outcome, or when its last waiter leaves without
//! one, so a flood of abandoned requests leaves nothing behind.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::OnceCell;

/// The calls in progress, by key.
pub(crate) struct Flights<K, V> {
    in_flight: Mutex<HashMap<K, Arc<OnceCell<V>>>>,
}

impl<K, V> std::fmt::Debug for Flights<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Flights")
            .field("in_flight", &self.len())
            .finish()
    }
}

impl<K, V> Default for Flights<K, V> {
    fn default() -> Self {
        Flights {
            in_flight: Mutex::new(HashMap::new()),
        }
    }
}

impl<K, V> Flights<K, V> {
    /// Calls in progress (for `Debug` and tests).
    pub(crate) fn len(&self) -> usize {
        lock(&self.in_flight).len()
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<K: Eq + Hash + Clone, V: Clone> Flights<K, V> {
    /// Runs `work` for `key`, or waits for the run already in progress and
    /// returns its outcome.
    pub(crate) async fn run<F, Fut>(&self, key: K, work: F) -> V
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = V>,
    {
        let guard = self.join(key);
        guard.cell.get_or_init(work).await.clone()
    }

    fn join(&self, key: K) -> Guard<'_, K, V> {
        let mut in_flight = lock(&self.in_flight);
        let cell = match in_flight.get(&key) {
            // A finished flight whose waiters have not all left yet: its
            // outcome is stale for a newcomer, who starts a new one.
            Some(cell) if !cell.initialized() => cell.clone(),
            _ => {
                let cell = Arc::new(OnceCell::new());
                in_flight.insert(key.clone(), cell.clone());
                cell
            }
        };
        Guard {
            flights: &self.in_flight,
            key,
            cell,
        }
    }
}

/// Leaves the flight when the caller is done or cancelled.
struct Guard<'a, K: Eq + Hash, V> {
    flights: &'a Mutex<HashMap<K, Arc<OnceCell<V>>>>,
    key: K,
    cell: Arc<OnceCell<V>>,
}

impl<K: Eq + Hash, V> Drop for Guard<'_, K, V> {
    fn drop(&mut self) {
        let mut in_flight = lock(self.flights);
        let ours = in_flight
            .get(&self.key)
            .is_some_and(|cell| Arc::ptr_eq(cell, &self.cell));
        // Two references: the map's and ours. Waiters clone under this lock,
        // so the count is exact here.
        if ours && (self.cell.initialized() || Arc::strong_count(&self.cell) <= 2) {
            in_flight.remove(&self.key);
        }
    }
}

/// A poisoned lock only means another request panicked while holding it;
/// the map itself is still consistent.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn concurrent_askers_share_one_run_and_nothing_stays_behind() {
        let flights: Arc<Flights<&str, usize>> = Arc::default();
        let runs = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let (flights, runs) = (flights.clone(), runs.clone());
                tokio::spawn(async move {
                    flights
                        .run("k", || async {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            runs.fetch_add(1, Ordering::SeqCst) + 1
                        })
                        .await
                })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap(), 1);
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert!(flights.is_empty());
        // Finished: the next ask runs again.
        assert_eq!(flights.run("k", || async { 2 }).await, 2);
    }

    #[tokio::test]
    async fn a_cancelled_leader_hands_the_run_to_a_waiter() {
        let flights: Arc<Flights<&str, &str>> = Arc::default();
        let leader = {
            let flights = flights.clone();
            tokio::spawn(async move {
                flights
                    .run("k", || async {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                        "leader"
                    })
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        let follower = {
            let flights = flights.clone();
            tokio::spawn(async move { flights.run("k", || async { "follower" }).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        leader.abort();
        let outcome = tokio::time::timeout(Duration::from_secs(5), follower)
            .await
            .expect("the follower is not wedged")
            .unwrap();
        assert_eq!(outcome, "follower");
        assert!(flights.is_empty());
    }
}

//! Per-project caps on upstream connections and on requests waiting for one (issue 21), so a
//! project that never answers, dribbles or streams forever holds at most its share of the proxy.
//!
//! A request takes a [`Lease`] before it goes upstream and holds it until its response body (or
//! WebSocket tunnel) ends. Under the cap that is two loads and one compare-and-swap, no lock and
//! no allocation: the common path costs what the old counter did. At the cap the request joins a
//! bounded queue ([`Slots::wait`]): at most `max_waiting` requests wait, each at most its timeout,
//! and a lease that ends wakes one of them (a [`Notify`]); the rest get 503 naming the project.
//!
//! New requests do not jump the queue: while anyone waits, a newcomer waits too, so a freed slot
//! goes to a request that was already waiting and the queue drains in order (`Notify` wakes its
//! waiters first in, first out).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use tokio::sync::Notify;

/// The counters of one project's upstream connections; kept in its metrics entry (by name), so
/// the caps hold across route table swaps.
#[derive(Debug, Default)]
pub(crate) struct Slots {
    /// Leases held now.
    in_flight: AtomicUsize,
    /// Requests in [`Slots::wait`] now.
    waiting: AtomicUsize,
    /// Signalled when a lease ends while someone waits.
    freed: Notify,
}

/// One upstream connection leased to a request of a project, counted against its cap until the
/// response body (or the upgraded tunnel) holding it is dropped.
#[derive(Debug)]
pub(crate) struct Lease(Arc<Slots>);

impl Drop for Lease {
    fn drop(&mut self) {
        // SeqCst on both sides (here, and `waiting` before `in_flight` in `wait`): either this
        // sees the waiter, or the waiter sees the freed slot. A lost wake-up is impossible.
        self.0.in_flight.fetch_sub(1, SeqCst);
        if self.0.waiting.load(SeqCst) > 0 {
            self.0.freed.notify_one();
        }
    }
}

/// Why a request got no lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The project is at its cap and `max_waiting` requests already wait.
    QueueFull,
    /// The request waited its whole timeout and no slot freed.
    TimedOut,
}

impl Refused {
    /// What the visitor's 503 page says.
    pub(crate) fn detail(self) -> &'static str {
        match self {
            Refused::QueueFull => {
                "The project has as many requests in progress and waiting as it may. Try again in a moment."
            }
            Refused::TimedOut => {
                "The project had as many requests in progress as it may for as long as this one could wait. Try again in a moment."
            }
        }
    }
}

/// Takes `waiting` back when a waiter leaves, however it leaves (lease, timeout, the visitor
/// going away and the request future being dropped).
struct Waiter<'a>(&'a Slots);

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, SeqCst);
    }
}

impl Slots {
    /// A lease at once if the project is under `cap` (0: no cap) and nobody waits; `None` means
    /// the caller must [`wait`](Slots::wait).
    pub(crate) fn try_lease(self: &Arc<Self>, cap: usize) -> Option<Lease> {
        if cap == 0 {
            self.in_flight.fetch_add(1, SeqCst);
            return Some(Lease(self.clone()));
        }
        (self.waiting.load(SeqCst) == 0 && self.take(cap)).then(|| Lease(self.clone()))
    }

    /// Waits for a slot under `cap`, behind at most `max_waiting - 1` others and at most
    /// `timeout`.
    pub(crate) async fn wait(
        self: &Arc<Self>,
        cap: usize,
        max_waiting: usize,
        timeout: Duration,
    ) -> Result<Lease, Refused> {
        let ahead = self.waiting.fetch_add(1, SeqCst);
        let _waiter = Waiter(self);
        if ahead >= max_waiting {
            // A full queue, or none (`max_waiting` 0) while others' refusals are counted for an
            // instant: a slot that is free right now still goes to this request.
            return if self.take(cap) {
                Ok(Lease(self.clone()))
            } else {
                Err(Refused::QueueFull)
            };
        }
        let queued = async {
            loop {
                // Registered before looking, so a lease ending in between still wakes us.
                let freed = self.freed.notified();
                tokio::pin!(freed);
                freed.as_mut().enable();
                if self.take(cap) {
                    // Two leases may have ended for one wake-up (or the cap grown with a
                    // reload): pass the chance on rather than leave a slot idle.
                    if self.in_flight.load(SeqCst) < cap && self.waiting.load(SeqCst) > 1 {
                        self.freed.notify_one();
                    }
                    return Lease(self.clone());
                }
                freed.await;
            }
        };
        tokio::time::timeout(timeout, queued)
            .await
            .map_err(|_| Refused::TimedOut)
    }

    /// One more in flight, unless `cap` are already.
    fn take(&self, cap: usize) -> bool {
        let mut now = self.in_flight.load(SeqCst);
        loop {
            if now >= cap {
                return false;
            }
            match self
                .in_flight
                .compare_exchange_weak(now, now + 1, SeqCst, SeqCst)
            {
                Ok(_) => return true,
                Err(actual) => now = actual,
            }
        }
    }

    /// Leases held now.
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.load(SeqCst)
    }

    /// Requests waiting now.
    pub(crate) fn waiting(&self) -> usize {
        self.waiting.load(SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_waiter_gets_the_slot_a_lease_frees_and_the_queue_is_bounded() {
        let slots = Arc::new(Slots::default());
        let first = slots.try_lease(1).expect("under the cap");
        assert!(slots.try_lease(1).is_none(), "at the cap");
        let s = slots.clone();
        let queued = tokio::spawn(async move { s.wait(1, 1, Duration::from_secs(3)).await });
        while slots.waiting() == 0 {
            tokio::task::yield_now().await;
        }
        // The queue holds one: the next is refused at once.
        assert_eq!(
            slots.wait(1, 1, Duration::from_secs(3)).await.err(),
            Some(Refused::QueueFull)
        );
        // A newcomer does not jump the queue even when a slot is free for an instant (the
        // waiter's task has not run yet on this one-thread runtime).
        drop(first);
        assert!(
            slots.try_lease(1).is_none(),
            "someone waits: a newcomer queues"
        );
        let lease = queued
            .await
            .unwrap()
            .expect("the waiter got the freed slot");
        assert_eq!((slots.in_flight(), slots.waiting()), (1, 0));
        drop(lease);
        assert_eq!(slots.in_flight(), 0);
    }

    #[tokio::test]
    async fn a_wait_ends_at_its_timeout_and_leaves_the_counts_as_they_were() {
        let slots = Arc::new(Slots::default());
        let _held = slots.try_lease(1).unwrap();
        let refused = slots.wait(1, 8, Duration::from_millis(50)).await;
        assert_eq!(refused.err(), Some(Refused::TimedOut));
        assert_eq!((slots.in_flight(), slots.waiting()), (1, 0));
    }

    #[tokio::test]
    async fn no_cap_never_waits() {
        let slots = Arc::new(Slots::default());
        let leases: Vec<_> = (0..100).map(|_| slots.try_lease(0).unwrap()).collect();
        assert_eq!(slots.in_flight(), 100);
        drop(leases);
        assert_eq!(slots.in_flight(), 0);
    }
}

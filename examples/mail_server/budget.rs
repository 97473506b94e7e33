//! A server-wide budget of octets for message content held whole in
//! memory. FETCH streams a large message from disk only when it asks for
//! the message as stored (BODY[], RFC822); a section, BINARY or a search
//! of its text needs it whole, and its answer. Without a bound, many
//! sessions asking for large messages at once (a few users with many
//! connections suffice) would hold their sum. With it, a request waits
//! for room, then is refused for now (`NO [UNAVAILABLE]`), and the
//! server's memory stays near the budget whatever the clients do.
//!
//! Each account takes from its own share ([`MemoryBudget::share`], a
//! quarter of the server's budget) as well: one user's connections that
//! do not read their large answers (32 of them held 512 MiB, each
//! answer held until sent, up to the 600 s write timeout) cannot keep
//! every other user's large messages unread.
//!
//! The wait is on the connection's task ([`MemoryBudget::wait_for_room`]),
//! not in a storage job: the storage jobs are few (`--storage-jobs`) and
//! every session needs them, so a job waiting for room kept every other
//! session's SELECT, FETCH and POP3 RETR waiting too, and clients that
//! hold the budget (by not reading a large answer) stalled the server.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// The budget; [`Held`] gives back what it took when dropped.
#[derive(Debug)]
pub struct MemoryBudget {
    total: u64,
    used: Mutex<u64>,
    freed: Condvar,
    /// Told of room freed, for [`MemoryBudget::wait_for_room`].
    freed_async: tokio::sync::Notify,
    /// For a share: the budget it is a share of, which each hold takes
    /// from too.
    parent: Option<Arc<MemoryBudget>>,
}

/// Octets taken from a [`MemoryBudget`] (and from its parent, for a
/// share), given back on drop.
#[derive(Debug)]
pub struct Held {
    budget: Arc<MemoryBudget>,
    amount: u64,
    parent: Option<Box<Held>>,
}

/// How much of the server's budget one account's share is.
const SHARE_DIVISOR: u64 = 4;

impl MemoryBudget {
    /// A budget of `total` octets (at least 1).
    pub fn new(total: u64) -> Arc<MemoryBudget> {
        Arc::new(MemoryBudget {
            total: total.max(1),
            used: Mutex::new(0),
            freed: Condvar::new(),
            freed_async: tokio::sync::Notify::new(),
            parent: None,
        })
    }

    /// A share of this budget (a quarter of it): what it holds is taken
    /// from both, each holding at most its own total of a request.
    pub fn share(self: &Arc<Self>) -> Arc<MemoryBudget> {
        Arc::new(MemoryBudget {
            total: (self.total / SHARE_DIVISOR).max(1),
            used: Mutex::new(0),
            freed: Condvar::new(),
            freed_async: tokio::sync::Notify::new(),
            parent: Some(Arc::clone(self)),
        })
    }

    /// Whether `amount` octets (the whole budget, if larger) are free.
    fn fits(&self, amount: u64) -> bool {
        let used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        *used + amount.min(self.total) <= self.total
    }

    /// Waits, on a network task, until `amount` octets (the whole budget,
    /// if larger) are free, at most until `deadline`; whether they are.
    /// Takes nothing: the storage job that needs them takes them with
    /// [`MemoryBudget::hold`] and no wait, and asks again if another took
    /// them first.
    pub async fn wait_for_room(&self, amount: u64, deadline: Instant) -> bool {
        if !self.wait_for_own_room(amount, deadline).await {
            return false;
        }
        match &self.parent {
            Some(parent) => Box::pin(parent.wait_for_room(amount, deadline)).await,
            None => true,
        }
    }

    async fn wait_for_own_room(&self, amount: u64, deadline: Instant) -> bool {
        loop {
            let notified = self.freed_async.notified();
            tokio::pin!(notified);
            // Registered before the look, so that room freed in between
            // is not missed.
            notified.as_mut().enable();
            if self.fits(amount) {
                return true;
            }
            if tokio::time::timeout_at(deadline.into(), notified).await.is_err() {
                return self.fits(amount);
            }
        }
    }

    /// Takes `amount` octets, or the whole budget if it is larger (such a
    /// request then runs alone), waiting at most `wait` for them to be
    /// free. Blocks the thread: call it from a storage job, never from a
    /// network task.
    pub fn hold(self: &Arc<Self>, amount: u64, wait: Duration) -> Option<Held> {
        let deadline = Instant::now() + wait;
        let mut held = self.hold_own(amount, deadline)?;
        if let Some(parent) = &self.parent {
            // (Dropped, `held` gives its part back if the parent has no room.)
            let left = deadline.saturating_duration_since(Instant::now());
            held.parent = Some(Box::new(parent.hold(amount, left)?));
        }
        Some(held)
    }

    fn hold_own(self: &Arc<Self>, amount: u64, deadline: Instant) -> Option<Held> {
        let amount = amount.min(self.total);
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        while *used + amount > self.total {
            let left = deadline.checked_duration_since(Instant::now())?;
            used = self
                .freed
                .wait_timeout(used, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        *used += amount;
        Some(Held {
            budget: Arc::clone(self),
            amount,
            parent: None,
        })
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut used = self.budget.used.lock().unwrap_or_else(|e| e.into_inner());
        *used = used.saturating_sub(self.amount);
        self.budget.freed.notify_all();
        self.budget.freed_async.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_waits_for_room_and_gives_up_at_its_deadline() {
        let budget = MemoryBudget::new(100);
        let first = budget.hold(60, Duration::ZERO).expect("room");
        // Larger than the budget: the whole of it, so only alone.
        assert!(budget.hold(1_000, Duration::from_millis(50)).is_none());
        let second = budget.hold(40, Duration::ZERO).expect("room");
        assert!(budget.hold(1, Duration::from_millis(50)).is_none());
        drop(second);
        // Freed by another thread while waiting.
        std::thread::scope(|s| {
            s.spawn(move || {
                std::thread::sleep(Duration::from_millis(100));
                drop(first);
            });
            let all = budget.hold(1_000, Duration::from_secs(30)).expect("freed");
            assert_eq!(all.amount, 100);
        });
        assert_eq!(*budget.used.lock().unwrap(), 0);
    }

    /// A share holds at most a quarter of its budget, and what it holds
    /// is taken from the budget too: one account's holds leave the rest
    /// of the budget to others; a hold larger than the share takes the
    /// share whole (and as much of the budget as it asks, up to all).
    #[test]
    fn a_share_holds_a_quarter_and_takes_from_its_budget() {
        let budget = MemoryBudget::new(100);
        let (a, b) = (budget.share(), budget.share());
        let first = a.hold(20, Duration::ZERO).expect("room in the share");
        assert!(a.hold(10, Duration::ZERO).is_none(), "the share holds 25");
        let other = b.hold(25, Duration::ZERO).expect("another account's share");
        assert_eq!(*budget.used.lock().unwrap(), 45);
        drop(first);
        assert!(a.hold(80, Duration::ZERO).is_none(), "75 left in the budget");
        assert_eq!(*a.used.lock().unwrap(), 0, "given back");
        drop(other);
        let large = a.hold(80, Duration::ZERO).expect("the share whole");
        assert_eq!((*a.used.lock().unwrap(), *budget.used.lock().unwrap()), (25, 80));
        drop(large);
        assert_eq!(*budget.used.lock().unwrap(), 0);
        // No room in the budget: the share's part is given back.
        let all = budget.hold(100, Duration::ZERO).expect("room");
        assert!(a.hold(5, Duration::ZERO).is_none());
        assert_eq!(*a.used.lock().unwrap(), 0);
        drop(all);
    }

    /// A network task waits for room without taking it, and learns of
    /// room freed at once; it gives up at its deadline.
    #[tokio::test]
    async fn a_task_waits_for_room_until_it_is_freed_or_its_deadline() {
        let budget = MemoryBudget::new(100);
        let first = budget.hold(60, Duration::ZERO).expect("room");
        let soon = Instant::now() + Duration::from_millis(50);
        assert!(!budget.wait_for_room(60, soon).await);
        assert!(budget.wait_for_room(40, soon).await, "there is room for 40");
        let freer = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            drop(first);
        });
        let later = Instant::now() + Duration::from_secs(30);
        assert!(budget.wait_for_room(1_000, later).await, "freed");
        assert!(
            Instant::now() < later - Duration::from_secs(20),
            "woken when freed"
        );
        freer.await.unwrap();
        assert_eq!(*budget.used.lock().unwrap(), 0, "waiting took nothing");
    }
}

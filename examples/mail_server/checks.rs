//! Password checks in flight per source address.
//!
//! The hashing pool serves first come, first served, a slot per core. A
//! host with many connections (100, the per-address cap) sending
//! passwords at once, before its failures make it wait (its attempts then
//! take turns, see `penalty`), or with right passwords, would fill the
//! pool's queue with its checks, and every other login would wait behind
//! them. Here each source address (an IPv6 address by its /64, as the
//! failure counts have it) has at most [`PER_ADDRESS`] checks waiting for
//! or holding a slot: the rest of its logins wait for their turn outside
//! the pool's queue, where they delay no one else.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;

/// Checks of one source address at once in the hashing pool's queue.
pub const PER_ADDRESS: usize = 4;

/// The source addresses with checks in flight. An address is listed only
/// while one of its logins holds or waits for a turn, so the table is as
/// large as the logins in progress.
#[derive(Debug, Default)]
pub struct ChecksInFlight {
    turns: Mutex<HashMap<IpAddr, Arc<Semaphore>>>,
}

/// A login's turn to have its password checked, or its wait for one;
/// the address's entry goes with the last of them, however it ends (a
/// login given up while it waits, its task cancelled, counts too).
#[derive(Debug)]
pub struct Turn<'a> {
    checks: &'a ChecksInFlight,
    address: IpAddr,
    turns: Option<Arc<Semaphore>>,
    /// A permit of `turns` is held (forgotten, given back on drop).
    holds: bool,
}

impl ChecksInFlight {
    /// Waits until `ip`'s address has fewer than [`PER_ADDRESS`] checks in
    /// flight; the check counts until the turn is dropped.
    pub async fn turn(&self, ip: IpAddr) -> Turn<'_> {
        let address = crate::penalty::source(ip);
        let turns = {
            let mut map = self.turns.lock().unwrap_or_else(|e| e.into_inner());
            Arc::clone(
                map.entry(address)
                    .or_insert_with(|| Arc::new(Semaphore::new(PER_ADDRESS))),
            )
        };
        let mut turn = Turn {
            checks: self,
            address,
            turns: Some(turns),
            holds: false,
        };
        // Borrowed, so that a wait given up holds no clone of its own: the
        // turn's drop then finds the table's count right. The semaphore is
        // never closed.
        let acquired = match &turn.turns {
            Some(turns) => turns.acquire().await.map(|permit| permit.forget()).is_ok(),
            None => false,
        };
        turn.holds = acquired;
        turn
    }

    /// How many addresses are listed (for tests).
    #[cfg(test)]
    fn listed(&self) -> usize {
        self.turns.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        let mut map = self.checks.turns.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(turns) = self.turns.take() {
            if self.holds {
                turns.add_permits(1);
            }
        }
        // A count of one is the table's own: no login holds or waits for a
        // turn of this address (each clones under this lock).
        if map.get(&self.address).is_some_and(|s| Arc::strong_count(s) == 1) {
            map.remove(&self.address);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `turn` is given at once.
    async fn at_once<'a>(checks: &'a ChecksInFlight, ip: &str) -> Option<Turn<'a>> {
        let ip: IpAddr = ip.parse().expect("an address");
        tokio::time::timeout(std::time::Duration::from_millis(20), checks.turn(ip))
            .await
            .ok()
    }

    #[tokio::test]
    async fn an_address_has_a_few_checks_in_flight_and_others_are_not_held() {
        let checks = ChecksInFlight::default();
        let mut held = Vec::new();
        for _ in 0..PER_ADDRESS {
            held.push(at_once(&checks, "192.0.2.1").await.expect("a turn"));
        }
        assert!(at_once(&checks, "192.0.2.1").await.is_none(), "one turn too many");
        // The same /64 counts as one address.
        held.push(at_once(&checks, "2001:db8::1").await.expect("a turn"));
        for _ in 1..PER_ADDRESS {
            held.push(at_once(&checks, "2001:db8::2").await.expect("a turn"));
        }
        assert!(
            at_once(&checks, "2001:db8::ffff").await.is_none(),
            "the /64 is one address"
        );
        // Another address is not held by them.
        let other = at_once(&checks, "192.0.2.2")
            .await
            .expect("another address's turn");
        assert_eq!(checks.listed(), 3);
        // A turn given back lets the next check of the address go.
        held.remove(0);
        let next = at_once(&checks, "192.0.2.1").await.expect("a freed turn");
        drop((held, other, next));
        assert_eq!(checks.listed(), 0, "addresses without logins are forgotten");
    }

    /// Every turn of `ip` taken, a login waiting for one on another task
    /// (which keeps its turn until `stay` ends), then the turns given back
    /// before that task runs again.
    async fn one_waiting(
        checks: &Arc<ChecksInFlight>,
        ip: IpAddr,
        stay: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> tokio::task::JoinHandle<()> {
        let mut held = Vec::new();
        for _ in 0..PER_ADDRESS {
            held.push(checks.turn(ip).await);
        }
        let waiter = {
            let checks = Arc::clone(checks);
            tokio::spawn(async move {
                let _turn = checks.turn(ip).await;
                stay.await;
            })
        };
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        // Every holder gives its turn back while one still waits.
        drop(held);
        waiter
    }

    /// The entry stays for a login that waits, and it gets a turn.
    #[tokio::test]
    async fn a_waiting_login_keeps_its_address_listed() {
        let checks = Arc::new(ChecksInFlight::default());
        let ip: IpAddr = "192.0.2.7".parse().expect("an address");
        let waiter = one_waiting(&checks, ip, async {}).await;
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .expect("the waiter got its turn")
            .expect("no panic");
        assert_eq!(checks.listed(), 0);
    }

    /// A login given up while it waits (its task cancelled after the
    /// others gave their turns back, before it ran again) leaves nothing
    /// listed.
    #[tokio::test]
    async fn a_wait_given_up_leaves_nothing_behind() {
        let checks = Arc::new(ChecksInFlight::default());
        let ip: IpAddr = "192.0.2.9".parse().expect("an address");
        let waiter = one_waiting(&checks, ip, std::future::pending()).await;
        waiter.abort();
        assert!(waiter.await.is_err_and(|e| e.is_cancelled()));
        assert_eq!(checks.listed(), 0);
    }
}

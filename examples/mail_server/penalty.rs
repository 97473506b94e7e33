//! Failed logins counted across connections, per source address and per
//! account, and the growing wait they put before the next check.
//!
//! The failure delay of a connection (`--auth-failure-delay`) is escaped
//! by a guesser who drops each connection that does not answer at once.
//! This wait is not: it comes before the password is checked, on whatever
//! connection the next attempt arrives. From the second failure on it
//! doubles from 250 ms, up to 15 s for a source address (an IPv6 address
//! counts with its /64, which one host usually holds whole) and up to 2 s
//! for an account (guessing spread over many addresses slows down, while
//! a stranger cannot lock the owner out for long). A successful login
//! clears the account's count only: one with an account of its own could
//! otherwise clear its address's count between guesses. Counts untouched
//! for 15 minutes are forgotten.
//!
//! An address's attempts take turns: each comes its wait after the one
//! before it, whatever connection that came on, so a host that sends its
//! guesses on a hundred connections at once (the per-address cap) gets one
//! check per wait, not a hundred. A turn is taken only by an attempt that
//! holds one of its address's few places among the checks in flight
//! (`checks`), and lies at most that many waits ahead: attempts that are
//! dropped while they wait (a host that sends a login and hangs up, over
//! and over) do not push the address's turns minutes or hours into the
//! future, where they would keep every login from it, a right password
//! included, past its deadline long after the attack stopped. An account's
//! wait is not taken in turns: a stranger queueing attempts at it would
//! lock its owner out.
//!
//! Memory is bounded: an account is counted by a 64-bit hash of its name
//! (a name sent may be a megabyte long), and past 100,000 counts the
//! forgotten ones go first, then the oldest tenth; a count in use (the
//! address or the account being guessed at) is touched by every attempt,
//! so a flood of other addresses or names does not wash it out.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The first wait, after the second failure.
const FIRST: Duration = Duration::from_millis(250);
/// The longest wait for a source address.
const ADDRESS_CAP: Duration = Duration::from_secs(15);
/// The longest wait for an account.
const ACCOUNT_CAP: Duration = Duration::from_secs(2);
/// Counts untouched this long are forgotten.
const FORGET: Duration = Duration::from_secs(15 * 60);
/// How many of an address's turns may be taken ahead: as many as its
/// checks in flight.
const QUEUED: u32 = crate::checks::PER_ADDRESS as u32;
/// Beyond this many counts, the oldest are dropped (memory stays bounded
/// under a flood of addresses or names).
const MAX_ENTRIES: usize = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Address(IpAddr),
    /// A hash of the account's name, keyed per server.
    Account(u64),
}

#[derive(Debug, Clone, Copy)]
struct Count {
    failures: u32,
    last: Instant,
    /// An address's: when its last attempt was let through to a check.
    turn: Option<Instant>,
}

/// The failure counts of the server.
#[derive(Debug, Default)]
pub struct Penalties {
    counts: Mutex<HashMap<Key, Count>>,
    /// Hashes account names: its keys are random, so no one can choose
    /// names that share a count.
    names: std::collections::hash_map::RandomState,
}

/// The address a count is kept for: IPv4 (or IPv4 mapped into IPv6) as
/// it is, IPv6 by its /64.
pub(crate) fn source(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut octets = v6.octets();
                octets[8..].fill(0);
                IpAddr::V6(octets.into())
            }
        },
        v4 => v4,
    }
}

/// The wait after `failures` failures, at most `cap`.
fn wait_after(failures: u32, cap: Duration) -> Duration {
    if failures < 2 {
        return Duration::ZERO;
    }
    let doublings = (failures - 2).min(16);
    (FIRST * 2u32.pow(doublings)).min(cap)
}

impl Penalties {
    fn account(&self, user: &str) -> Key {
        Key::Account(self.names.hash_one(user))
    }

    /// How long to wait before checking a login as `user` from `ip`; the
    /// address's turn is taken (see the module's description).
    pub fn wait(&self, ip: IpAddr, user: &str) -> Duration {
        let now = Instant::now();
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let failures = |counts: &HashMap<Key, Count>, key: &Key| {
            counts
                .get(key)
                .filter(|c| now.duration_since(c.last) < FORGET)
                .map_or(0, |c| c.failures)
        };
        let account = wait_after(failures(&counts, &self.account(user)), ACCOUNT_CAP);
        let key = Key::Address(source(ip));
        let address = wait_after(failures(&counts, &key), ADDRESS_CAP);
        let mut turn = now;
        if let Some(count) = counts.get_mut(&key).filter(|_| !address.is_zero()) {
            let ahead = address * QUEUED;
            turn = (now + address)
                .max(count.turn.map_or(now, |t| t + address))
                .min(now + ahead);
            count.turn = Some(turn);
        }
        (turn - now).max(account)
    }

    /// A login as `user` from `ip` failed.
    pub fn failed(&self, ip: IpAddr, user: &str) {
        let now = Instant::now();
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if counts.len() >= MAX_ENTRIES {
            evict(&mut counts, now);
        }
        for key in [Key::Address(source(ip)), self.account(user)] {
            let count = counts.entry(key).or_insert(Count {
                failures: 0,
                last: now,
                turn: None,
            });
            if now.duration_since(count.last) >= FORGET {
                count.failures = 0;
                count.turn = None;
            }
            count.failures = count.failures.saturating_add(1);
            count.last = now;
        }
    }

    /// Forgets the turns taken: as if every attempt let through had come
    /// long ago.
    #[cfg(test)]
    fn turns_pass(&self) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        counts.values_mut().for_each(|c| c.turn = None);
    }

    /// A login as `user` succeeded: the account's count is cleared (the
    /// address's stays, whoever logged in from it).
    pub fn succeeded(&self, user: &str) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        counts.remove(&self.account(user));
    }
}

/// Makes room in a full table: the forgotten counts go, then, if that
/// was not a tenth of the table, the oldest tenth.
fn evict(counts: &mut HashMap<Key, Count>, now: Instant) {
    counts.retain(|_, c| now.duration_since(c.last) < FORGET);
    let keep = MAX_ENTRIES - MAX_ENTRIES / 10;
    if counts.len() <= keep {
        return;
    }
    let mut ages: Vec<Instant> = counts.values().map(|c| c.last).collect();
    // The oldest `excess` go: those touched before the cut, then as many
    // of those touched at the cut as are still needed.
    let excess = ages.len() - keep;
    let (_, &mut cut, _) = ages.select_nth_unstable(excess - 1);
    let older = counts.values().filter(|c| c.last < cut).count();
    let mut ties = excess - older;
    counts.retain(|_, c| {
        let tie_goes = c.last == cut && ties > 0;
        ties -= usize::from(tie_goes);
        c.last > cut || (c.last == cut && !tie_goes)
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_per_address_and_per_account_and_clear_on_success() {
        let p = Penalties::default();
        let (a, b) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        assert_eq!(p.wait(a, "alice"), Duration::ZERO);
        p.failed(a, "alice");
        assert_eq!(p.wait(a, "alice"), Duration::ZERO);
        p.failed(a, "alice");
        assert_eq!(p.wait(a, "bob"), FIRST);
        for _ in 0..3 {
            p.failed(a, "alice");
        }
        p.turns_pass();
        assert_eq!(p.wait(a, "bob"), FIRST * 8);
        // Another address guessing the same account waits the account's
        // capped wait only.
        assert_eq!(p.wait(b, "alice"), ACCOUNT_CAP);
        assert_eq!(p.wait(b, "bob"), Duration::ZERO);
        for _ in 0..40 {
            p.failed(a, "carol");
        }
        p.turns_pass();
        assert_eq!(p.wait(a, "dave"), ADDRESS_CAP);
        // Success clears the account's count, not the address's: an
        // account of one's own does not wipe one's guesses at others.
        p.succeeded("alice");
        assert_eq!(p.wait(b, "alice"), Duration::ZERO);
        p.turns_pass();
        assert_eq!(p.wait(a, "alice"), ADDRESS_CAP);
    }

    /// Attempts of one address on parallel connections take turns, a wait
    /// apart: those holding its places among the checks in flight get one
    /// check per wait, not one each at once (they each waited the same
    /// 15 s and were checked together). Turns lie at most as many waits
    /// ahead as there are places: attempts dropped while they wait (a host
    /// that sends a login and hangs up, a hundred times a minute) pushed
    /// the turns 25 minutes further every minute, and every login from the
    /// address, a right password included, passed its deadline waiting.
    /// Other addresses, and an account's own wait, are not queued behind
    /// them.
    #[test]
    fn parallel_attempts_of_an_address_take_turns() {
        let p = Penalties::default();
        let (a, b) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        for _ in 0..40 {
            p.failed(a, "carol");
        }
        let waits: Vec<Duration> = (0..100).map(|_| p.wait(a, "dave")).collect();
        for (i, wait) in waits.iter().enumerate() {
            // Each a turn after the one before, within the time the test
            // takes between its calls, up to the places there are.
            let turn = ADDRESS_CAP * (i as u32 + 1).min(QUEUED);
            assert!(
                *wait <= turn && *wait + Duration::from_secs(1) > turn,
                "attempt {i}: {wait:?}"
            );
        }
        assert_eq!(p.wait(b, "dave"), Duration::ZERO);
        // An account's wait is its own, not a queue.
        for _ in 0..10 {
            p.failed(b, "erin");
        }
        let c: IpAddr = "192.0.2.3".parse().unwrap();
        assert_eq!(p.wait(c, "erin"), ACCOUNT_CAP);
        assert_eq!(p.wait(c, "erin"), ACCOUNT_CAP);
    }

    /// A full table drops the forgotten counts, then the oldest, never a
    /// count in use: a flood of fresh names and addresses does not clear
    /// the count of the account under attack.
    #[test]
    fn a_full_table_drops_the_oldest_counts_only() {
        let p = Penalties::default();
        let now = Instant::now();
        let victim = p.account("alice");
        {
            let mut counts = p.counts.lock().unwrap();
            for i in 0..MAX_ENTRIES as u32 {
                let ip = IpAddr::V4(i.into());
                // A third forgotten, the rest a little older than the
                // victim's count.
                let age = if i % 3 == 0 {
                    FORGET + Duration::from_secs(1)
                } else {
                    Duration::from_secs(5)
                };
                counts.insert(
                    Key::Address(ip),
                    Count {
                        failures: 9,
                        last: now - age,
                        turn: None,
                    },
                );
            }
            counts.insert(
                victim,
                Count {
                    failures: 9,
                    last: now,
                    turn: None,
                },
            );
        }
        p.failed("192.0.2.1".parse().unwrap(), "bob");
        {
            let counts = p.counts.lock().unwrap();
            // Only the forgotten went: two thirds of the flood stay.
            assert_eq!(counts.len(), MAX_ENTRIES - MAX_ENTRIES / 3 + 2);
        }
        // Fill it again with newer counts: the oldest tenth goes.
        for i in 0..(MAX_ENTRIES / 3) as u32 {
            p.failed(IpAddr::V4((0x0A00_0000 + i).into()), "x");
        }
        let counts = p.counts.lock().unwrap();
        assert!(counts.len() <= MAX_ENTRIES, "{}", counts.len());
        assert!(counts.len() >= MAX_ENTRIES - MAX_ENTRIES / 10, "{}", counts.len());
        assert_eq!(counts.get(&victim).map(|c| c.failures), Some(9));
    }

    #[test]
    fn an_ipv6_host_counts_with_its_slash_64() {
        let p = Penalties::default();
        for i in 0..4 {
            let ip: IpAddr = format!("2001:db8:1:2::{i}").parse().unwrap();
            p.failed(ip, &format!("user{i}"));
        }
        assert_eq!(p.wait("2001:db8:1:2:ffff::1".parse().unwrap(), "x"), FIRST * 4);
        assert_eq!(p.wait("2001:db8:1:3::1".parse().unwrap(), "x"), Duration::ZERO);
        assert_eq!(p.wait("::ffff:192.0.2.9".parse().unwrap(), "x"), Duration::ZERO);
    }
}

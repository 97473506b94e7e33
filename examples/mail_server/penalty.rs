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
//! clears both counts; counts untouched for 15 minutes are forgotten.

use std::collections::HashMap;
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
/// Beyond this many counts, the oldest minute's are dropped first (memory
/// stays bounded under a flood of addresses).
const MAX_ENTRIES: usize = 100_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Address(IpAddr),
    Account(String),
}

#[derive(Debug, Clone, Copy)]
struct Count {
    failures: u32,
    last: Instant,
}

/// The failure counts of the server.
#[derive(Debug, Default)]
pub struct Penalties {
    counts: Mutex<HashMap<Key, Count>>,
}

/// The address a count is kept for: IPv4 (or IPv4 mapped into IPv6) as
/// it is, IPv6 by its /64.
fn source(ip: IpAddr) -> IpAddr {
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
    /// How long to wait before checking a login as `user` from `ip`.
    pub fn wait(&self, ip: IpAddr, user: &str) -> Duration {
        let now = Instant::now();
        let counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let failures = |key: &Key| {
            counts
                .get(key)
                .filter(|c| now.duration_since(c.last) < FORGET)
                .map_or(0, |c| c.failures)
        };
        let address = wait_after(failures(&Key::Address(source(ip))), ADDRESS_CAP);
        let account = wait_after(failures(&Key::Account(user.to_owned())), ACCOUNT_CAP);
        address.max(account)
    }

    /// A login as `user` from `ip` failed.
    pub fn failed(&self, ip: IpAddr, user: &str) {
        let now = Instant::now();
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if counts.len() >= MAX_ENTRIES {
            counts.retain(|_, c| now.duration_since(c.last) < Duration::from_secs(60));
            if counts.len() >= MAX_ENTRIES {
                counts.clear();
            }
        }
        for key in [Key::Address(source(ip)), Key::Account(user.to_owned())] {
            let count = counts.entry(key).or_insert(Count {
                failures: 0,
                last: now,
            });
            if now.duration_since(count.last) >= FORGET {
                count.failures = 0;
            }
            count.failures = count.failures.saturating_add(1);
            count.last = now;
        }
    }

    /// A login as `user` from `ip` succeeded: both counts are cleared.
    pub fn succeeded(&self, ip: IpAddr, user: &str) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        counts.remove(&Key::Address(source(ip)));
        counts.remove(&Key::Account(user.to_owned()));
    }
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
        assert_eq!(p.wait(a, "bob"), FIRST * 8);
        // Another address guessing the same account waits the account's
        // capped wait only.
        assert_eq!(p.wait(b, "alice"), ACCOUNT_CAP);
        assert_eq!(p.wait(b, "bob"), Duration::ZERO);
        for _ in 0..40 {
            p.failed(a, "carol");
        }
        assert_eq!(p.wait(a, "dave"), ADDRESS_CAP);
        p.succeeded(a, "alice");
        assert_eq!(p.wait(a, "alice"), Duration::ZERO);
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

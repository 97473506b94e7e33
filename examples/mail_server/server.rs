//! The running server: listeners, one task per connection, the limit on
//! connections, and the stop on SIGINT or SIGTERM.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailwire::mailbox::{Account, AccountName, Pop3Config, Store, StoreError};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tracing::Instrument;

use crate::blocking::Blocking;
use crate::connection::{Connection, Ending, Stop};
use crate::users::{QuotaRule, Users};
use crate::watch::Watcher;
use crate::{imap, pop3};

/// How long a stop waits for connections to end.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// What every connection shares.
pub struct Context {
    /// The mailbox store.
    pub store: Store,
    /// Who may log in: the passwd-file as last read (SIGHUP reads it
    /// again, see [`Context::reload_users`]).
    pub users: std::sync::RwLock<Arc<Users>>,
    /// The passwd-file.
    pub users_file: std::path::PathBuf,
    /// The POP3 view's settings (lock policy, UIDL format).
    pub pop3: Pop3Config,
    /// TLS, for POP3S, IMAPS, STLS and STARTTLS.
    pub tls: TlsAcceptor,
    /// USER/PASS, LOGIN and AUTH(ENTICATE) PLAIN without TLS.
    pub allow_plaintext_auth: bool,
    /// The largest message IMAP's APPEND takes (announced as APPENDLIMIT).
    pub append_limit: u64,
    /// What all APPENDs in progress may hold in memory, in KiB (a piece of
    /// each message; the rest is on disk already).
    pub uploads: Arc<Semaphore>,
    /// ENVELOPE, BODY and BODYSTRUCTURE of messages fetched lately, for
    /// every IMAP session.
    pub structures: Arc<crate::imap::StructureCache>,
    /// The part of `uploads` one account's sessions may hold, in KiB.
    pub upload_share_kib: usize,
    /// What IMAP sessions may hold of messages read whole (`--content-memory`).
    pub content: Arc<crate::budget::MemoryBudget>,
    /// Each logged-in account's share of `content` and `uploads`, held by
    /// its sessions.
    pub account_shares: Mutex<HashMap<AccountName, std::sync::Weak<AccountShare>>>,
    /// Close a logged-in connection after this long without a command, or
    /// when a write takes longer.
    pub idle_timeout: Duration,
    /// Close a connection not logged in this long after it opened; a TLS
    /// handshake must end within it too.
    pub login_timeout: Duration,
    /// Wait this long before answering a failed login.
    pub auth_failure_delay: Duration,
    /// Failed logins counted across connections: the wait before the
    /// next check from the same address or for the same account.
    pub penalties: crate::penalty::Penalties,
    /// Where storage work runs.
    pub blocking: Blocking,
    /// Where logins (password checks) run: one per core at a time, since
    /// an Argon2 check holds tens of MiB, and a flood of logins must not
    /// exhaust memory or starve the storage work.
    pub hashing: Blocking,
    /// Checks in the hashing pool's queue per source address.
    pub checks: crate::checks::ChecksInFlight,
    /// Watches the accounts' Maildirs for IDLE.
    pub watcher: Arc<Watcher>,
}

/// Why [`Context::authenticate`] let no one in.
#[derive(Debug)]
pub enum Refusal {
    /// Unknown user or wrong password (the two cost the same time).
    BadCredentials,
    /// The credentials are right but the account cannot be opened.
    NoAccount(String),
    /// The credentials are right, but the user may not log in (`nologin`,
    /// with its reason) or not from there (`allow_nets`, answered as
    /// wrong credentials so nothing is told).
    Denied(crate::users::Denied),
}

/// One account's shares of the server's budgets: what its sessions
/// together may hold, so that one user's connections (that do not read
/// their answers, or send an APPEND a byte at a time) cannot hold the
/// budgets every user shares.
pub struct AccountShare {
    /// Of the content budget ([`MemoryBudget::share`](crate::budget::MemoryBudget::share)).
    pub content: Arc<crate::budget::MemoryBudget>,
    /// Of the upload budget, in KiB; an APPEND takes from both.
    pub uploads: Arc<Semaphore>,
}

impl Context {
    /// The users as last read.
    pub fn users(&self) -> Arc<Users> {
        Arc::clone(&self.users.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// The shares of the server's budgets that `account`'s sessions use
    /// (made for its first session, shared by the others while one lives).
    pub fn account_share(&self, account: &AccountName) -> Arc<AccountShare> {
        let mut shares = self.account_shares.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(share) = shares.get(account).and_then(std::sync::Weak::upgrade) {
            return share;
        }
        // Those of accounts no session uses any more go (as many as
        // accounts logged in at once are kept).
        shares.retain(|_, share| share.strong_count() > 0);
        let share = Arc::new(AccountShare {
            content: self.content.share(),
            uploads: Arc::new(Semaphore::new(self.upload_share_kib)),
        });
        shares.insert(account.clone(), Arc::downgrade(&share));
        share
    }

    /// Reads the passwd-file again; on an error the users stay as they
    /// were. Sessions already logged in go on. A file that names no user
    /// while some are served is refused too: it is most likely one being
    /// rewritten in place (truncated, then written), and taking it would
    /// lock every user out until the next SIGHUP. So is a file caught
    /// half-written in other ways: one that changed while it was read, or
    /// that ends in the middle of a line (it may have lost users, or cut a
    /// `{PLAIN}` password short, which a shorter password would then
    /// match). Replacing the file by a rename avoids all three.
    pub fn reload_users(&self) -> Result<usize, String> {
        let users =
            Users::load_whole(&self.users_file).map_err(|e| format!("{}: {e}", self.users_file.display()))?;
        let count = users.len();
        if count == 0 && self.users().len() > 0 {
            return Err(format!(
                "{}: names no user (to serve none, restart the server)",
                self.users_file.display()
            ));
        }
        users.log_costs();
        *self.users.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(users);
        Ok(count)
    }

    /// Checks a user's password and opens the account, created on first
    /// login as Dovecot creates a Maildir; with the user's quota, from the
    /// same reading of the passwd-file as the password. Blocking (password
    /// hashes are slow on purpose, storage is read): run it on
    /// [`Context::blocking`].
    pub fn authenticate(
        &self,
        user: &[u8],
        password: &[u8],
        peer: std::net::IpAddr,
    ) -> Result<(Account, QuotaRule), Refusal> {
        let users = self.users();
        let name = users.verify(user, password).ok_or(Refusal::BadCredentials)?;
        users.access(name, peer).map_err(Refusal::Denied)?;
        let quota = users.quota(name);
        let name = AccountName::new(name).map_err(|e| Refusal::NoAccount(e.to_string()))?;
        let account = match self.store.account(&name) {
            Err(StoreError::NoSuchAccount(_)) => match self.store.create_account(&name) {
                // Created meanwhile by a concurrent first login.
                Err(StoreError::AccountExists(_)) => self.store.account(&name),
                other => other,
            },
            other => other,
        };
        account
            .map(|a| (a, quota))
            .map_err(|e| Refusal::NoAccount(e.to_string()))
    }
}

/// What a listener serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Port {
    /// Plain POP3, with STLS.
    Pop3,
    /// POP3 in implicit TLS (RFC 8314).
    Pop3s,
    /// Plain IMAP, with STARTTLS.
    Imap,
    /// IMAP in implicit TLS (RFC 8314).
    Imaps,
}

impl Port {
    /// Whether TLS starts with the first byte.
    fn implicit_tls(self) -> bool {
        match self {
            Port::Pop3 | Port::Imap => false,
            Port::Pop3s | Port::Imaps => true,
        }
    }

    /// What to tell a client refused because the server is full, if the
    /// protocol can say it before TLS.
    fn refusal(self) -> Option<Vec<u8>> {
        match self {
            Port::Pop3 => Some(pop3::too_many_connections()),
            Port::Imap => Some(imap::too_many_connections()),
            Port::Pop3s | Port::Imaps => None,
        }
    }
}

/// SIGINT and SIGTERM (stop) and SIGHUP (read the passwd-file again),
/// installed before the server says it is ready.
pub struct Signals {
    interrupt: Signal,
    terminate: Signal,
    hangup: Signal,
}

impl Signals {
    /// Takes over SIGINT and SIGTERM. Needs the runtime.
    pub fn install() -> Result<Signals, String> {
        let install = |kind| signal(kind).map_err(|e| format!("cannot handle signals: {e}"));
        Ok(Signals {
            interrupt: install(SignalKind::interrupt())?,
            terminate: install(SignalKind::terminate())?,
            hangup: install(SignalKind::hangup())?,
        })
    }

    /// The next signal's name.
    async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.interrupt.recv() => "SIGINT",
            _ = self.terminate.recv() => "SIGTERM",
            _ = self.hangup.recv() => "SIGHUP",
        }
    }
}

/// The server: its shared context and its connections.
pub struct Server {
    ctx: Arc<Context>,
    /// One permit per open connection.
    connections: Arc<Semaphore>,
    max_connections: u32,
    /// Open connections per client address.
    addresses: AddressCounts,
    next_id: AtomicU64,
}

/// Open connections per client address, each at most `max`. An IPv6
/// address counts with its /64, which one host usually holds whole (a
/// host could otherwise open `max` connections from each of its 2^64
/// addresses), and its /56 and /48 have two and four shares: what one
/// customer of an ISP is given (a /56 or a /48 holds hundreds of /64s)
/// cannot take every connection either.
struct AddressCounts {
    per_ip: Arc<Mutex<HashMap<Prefix, usize>>>,
    max: usize,
}

/// An address with the length of the prefix counted (32 for IPv4).
type Prefix = (IpAddr, u8);

/// The prefixes a connection from `ip` counts under, with their shares
/// of `max`.
fn prefixes(ip: IpAddr, max: usize) -> Vec<(Prefix, usize)> {
    match crate::penalty::source(ip) {
        IpAddr::V6(v6) => [(64, 1), (56, 2), (48, 4)]
            .into_iter()
            .map(|(bits, shares)| {
                let masked = u128::from(v6) & (u128::MAX << (128 - bits));
                ((IpAddr::V6(masked.into()), bits), max.saturating_mul(shares))
            })
            .collect(),
        v4 => vec![((v4, 32), max)],
    }
}

impl AddressCounts {
    /// Counts a connection from `ip`, unless that address (or a prefix
    /// it counts under) has its share.
    fn take(&self, ip: IpAddr) -> Option<AddressSlot> {
        let counted = prefixes(ip, self.max);
        let mut per_ip = self.per_ip.lock().unwrap_or_else(|e| e.into_inner());
        if counted
            .iter()
            .any(|(prefix, limit)| per_ip.get(prefix).is_some_and(|n| n >= limit))
        {
            return None;
        }
        for (prefix, _) in &counted {
            *per_ip.entry(*prefix).or_insert(0) += 1;
        }
        Some(AddressSlot {
            per_ip: Arc::clone(&self.per_ip),
            prefixes: counted.into_iter().map(|(p, _)| p).collect(),
        })
    }
}

/// A connection's place in the per-address counts, given back when
/// dropped.
struct AddressSlot {
    per_ip: Arc<Mutex<HashMap<Prefix, usize>>>,
    prefixes: Vec<Prefix>,
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut per_ip = self.per_ip.lock().unwrap_or_else(|e| e.into_inner());
        for prefix in &self.prefixes {
            if let Some(n) = per_ip.get_mut(prefix) {
                *n -= 1;
                if *n == 0 {
                    per_ip.remove(prefix);
                }
            }
        }
    }
}

impl Server {
    /// A server that serves at most `max_connections` at once.
    pub fn new(ctx: Context, max_connections: usize, max_per_ip: usize) -> Server {
        let max_connections =
            u32::try_from(max_connections.clamp(1, Semaphore::MAX_PERMITS)).unwrap_or(u32::MAX);
        Server {
            ctx: Arc::new(ctx),
            connections: Arc::new(Semaphore::new(max_connections as usize)),
            max_connections,
            addresses: AddressCounts {
                per_ip: Arc::default(),
                max: max_per_ip.max(1),
            },
            next_id: AtomicU64::new(1),
        }
    }

    /// Serves on the listeners until a signal, then stops: no more
    /// connections are accepted, every connection is told to end (their
    /// sessions end without QUIT, so they commit nothing), and the stop
    /// waits a bounded time for them.
    pub async fn run(self, listeners: Vec<(TcpListener, Port)>, mut signals: Signals) {
        let server = Arc::new(self);
        let (raise_stop, stop) = Stop::new();
        let accepting: Vec<_> = listeners
            .into_iter()
            .map(|(listener, port)| {
                tokio::spawn(Arc::clone(&server).accept_loop(listener, port, stop.clone()))
            })
            .collect();

        let signal = loop {
            match signals.next().await {
                "SIGHUP" => match server.ctx.reload_users() {
                    Ok(count) => tracing::info!(users = count, "SIGHUP: the passwd-file was read again"),
                    Err(error) => {
                        tracing::warn!(%error, "SIGHUP: the passwd-file is unusable; the users stay as they were")
                    }
                },
                stop => break stop,
            }
        };
        tracing::info!(
            signal,
            "stopping: closing every connection; unfinished sessions commit nothing"
        );
        let _ = raise_stop.send(true);
        tokio::spawn(async move {
            loop {
                let signal = signals.next().await;
                if signal != "SIGHUP" {
                    tracing::warn!(signal, "second signal: exiting at once");
                    std::process::exit(130);
                }
            }
        });
        for accept in accepting {
            // The listener is closed when its loop ends.
            let _ = accept.await;
        }
        let all_closed = server.connections.acquire_many(server.max_connections);
        if tokio::time::timeout(STOP_GRACE, all_closed).await.is_err() {
            let left = server.max_connections as usize - server.connections.available_permits();
            tracing::warn!(left, "connections still open at exit");
        }
        tracing::info!("stopped");
    }

    async fn accept_loop(self: Arc<Self>, listener: TcpListener, port: Port, mut stop: Stop) {
        loop {
            let accepted = tokio::select! {
                _ = stop.requested() => return,
                accepted = listener.accept() => accepted,
            };
            match accepted {
                Ok((socket, peer)) => self.start_connection(socket, peer, port, stop.clone()),
                Err(e) => {
                    // Out of file descriptors and the like: do not spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    fn start_connection(self: &Arc<Self>, socket: TcpStream, peer: SocketAddr, port: Port, stop: Stop) {
        let Some(address_slot) = self.addresses.take(peer.ip()) else {
            tracing::warn!(%peer, "too many connections from this address, refused");
            if let Some(refusal) = port.refusal() {
                tokio::spawn(refuse(socket, refusal));
            }
            return;
        };
        let Ok(permit) = Arc::clone(&self.connections).try_acquire_owned() else {
            tracing::warn!(%peer, "too many connections, refused");
            if let Some(refusal) = port.refusal() {
                tokio::spawn(refuse(socket, refusal));
            }
            return;
        };
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let ctx = Arc::clone(&self.ctx);
        let span = tracing::info_span!("conn", id, %peer, port = ?port);
        let connection = async move {
            tracing::info!("connected");
            match serve(&ctx, socket, peer, port, stop).await {
                Ok(ending) => tracing::info!(?ending, "disconnected"),
                Err(e) => tracing::info!(error = %e, "connection ended"),
            }
            // The connection's slots are free again.
            drop(permit);
            drop(address_slot);
        };
        tokio::spawn(connection.instrument(span));
    }
}

/// Serves one connection with its protocol.
async fn serve(
    ctx: &Arc<Context>,
    socket: TcpStream,
    peer: SocketAddr,
    port: Port,
    stop: Stop,
) -> std::io::Result<Ending> {
    let conn = Connection::new(
        socket,
        port.implicit_tls(),
        ctx.tls.clone(),
        stop,
        ctx.idle_timeout,
        ctx.login_timeout,
    )
    .await?;
    match port {
        Port::Pop3 | Port::Pop3s => pop3::serve(ctx, conn, peer).await,
        Port::Imap | Port::Imaps => imap::serve(ctx, conn, peer).await,
    }
}

/// Tells a client it is refused, briefly, and closes.
async fn refuse(mut socket: TcpStream, refusal: Vec<u8>) {
    let _ = tokio::time::timeout(Duration::from_secs(1), socket.write_all(&refusal)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each address has its share of connections, given back as they
    /// end; an IPv6 host's /64 has one share, not one per address.
    #[test]
    fn each_address_and_each_ipv6_slash_64_has_its_share() {
        let counts = AddressCounts {
            per_ip: Arc::default(),
            max: 2,
        };
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let a = [counts.take(ip("192.0.2.1")), counts.take(ip("::ffff:192.0.2.1"))];
        assert!(a.iter().all(Option::is_some));
        assert!(counts.take(ip("192.0.2.1")).is_none());
        assert!(counts.take(ip("192.0.2.2")).is_some());
        let v6 = [
            counts.take(ip("2001:db8:1:2::1")),
            counts.take(ip("2001:db8:1:2:ffff::9")),
        ];
        assert!(v6.iter().all(Option::is_some));
        assert!(counts.take(ip("2001:db8:1:2:abcd::1")).is_none());
        assert!(counts.take(ip("2001:db8:1:3::1")).is_some());
        drop(v6);
        assert!(counts.take(ip("2001:db8:1:2::7")).is_some());
        drop(a);
        assert!(
            counts
                .per_ip
                .lock()
                .unwrap()
                .get(&(ip("192.0.2.1"), 32))
                .is_none()
        );
        assert!(counts.per_ip.lock().unwrap().is_empty());
    }

    /// A /56 has two shares and a /48 four, however many /64s they hold:
    /// one ISP customer's delegation cannot take every connection (a /60
    /// took 1,000 slots at 100 per /64).
    #[test]
    fn an_ipv6_delegation_has_a_few_shares_not_one_per_slash_64() {
        let counts = AddressCounts {
            per_ip: Arc::default(),
            max: 2,
        };
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let mut held = Vec::new();
        for i in 0..16 {
            // Sixteen /64s of one /56 (2001:db8:0:100::/56).
            if let Some(slot) = counts.take(ip(&format!("2001:db8:0:1{i:02x}::1"))) {
                held.push(slot);
            }
        }
        assert_eq!(held.len(), 4, "the /56 has two shares");
        for i in 2..16 {
            // Other /56s of the same /48.
            if let Some(slot) = counts.take(ip(&format!("2001:db8:0:{i:x}00::1"))) {
                held.push(slot);
            }
        }
        assert_eq!(held.len(), 8, "the /48 has four shares");
        assert!(counts.take(ip("2001:db8:1::1")).is_some(), "another /48");
        drop(held);
        assert!(counts.take(ip("2001:db8:0:100::1")).is_some());
    }
}

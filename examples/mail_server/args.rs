//! The command line (clap). Usage errors exit with status 2, `--help`
//! prints every option and exits with 0.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser, ValueEnum};
use mailwire::mailbox::LockPolicy;

/// The unique ids Dovecot 2.3 sends with its default `pop3_uidl_format =
/// %08Xu%08Xv`: its `X` modifier writes lowercase hexadecimal.
pub const DOVECOT_UIDLS: &str = "%08xu%08xv";

/// The longest timeout taken, a year in seconds: far beyond any use, and
/// far below what overflows a deadline (`Instant::now()` plus it).
const YEAR_SECS: u64 = 365 * 24 * 60 * 60;
/// The longest failed-login delay taken, a day in milliseconds.
const DAY_MS: u64 = 24 * 60 * 60 * 1000;

/// The demo's plain POP3 address when no listener is given.
const DEFAULT_POP3: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 1110);
/// The demo's POP3S address when no listener is given.
const DEFAULT_POP3S: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 1995);
/// The demo's plain IMAP address when no listener is given.
const DEFAULT_IMAP: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 1143);
/// The demo's IMAPS address when no listener is given.
const DEFAULT_IMAPS: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 1993);

/// A POP3 and IMAP mail server (with POP3S and IMAPS) over Maildirs and a
/// Dovecot passwd-file.
///
/// With no --mail-root and --users, runs the demo: user alice, password
/// secret, a few sample messages, POP3 on 127.0.0.1:1110, POP3S on
/// 127.0.0.1:1995, IMAP on 127.0.0.1:1143 and IMAPS on 127.0.0.1:1993.
#[derive(Debug, Parser)]
// As before clap, a repeated option takes its last value (--pop3 and
// --pop3s, --imap and --imaps add up).
#[command(
    name = "mail_server",
    version,
    args_override_self = true,
    after_help = "Logs go to standard error; set RUST_LOG (e.g. RUST_LOG=debug) to change the level."
)]
struct Args {
    /// Each user's mail is DIR/<user>/Maildir (with --users)
    #[arg(long, value_name = "DIR")]
    mail_root: Option<PathBuf>,
    /// Dovecot passwd-file (user:{SCHEME}password:...) (with --mail-root)
    #[arg(long, value_name = "FILE")]
    users: Option<PathBuf>,
    /// Plain POP3 with STLS (repeatable) [default: 127.0.0.1:1110 when no listener is given]
    #[arg(long, value_name = "ADDR")]
    pop3: Vec<SocketAddr>,
    /// POP3 in implicit TLS, RFC 8314 (repeatable) [default: 127.0.0.1:1995 when no listener is given]
    #[arg(long, value_name = "ADDR")]
    pop3s: Vec<SocketAddr>,
    /// Plain IMAP with STARTTLS (repeatable) [default: 127.0.0.1:1143 when no listener is given]
    #[arg(long, value_name = "ADDR")]
    imap: Vec<SocketAddr>,
    /// IMAP in implicit TLS, RFC 8314 (repeatable) [default: 127.0.0.1:1993 when no listener is given]
    #[arg(long, value_name = "ADDR")]
    imaps: Vec<SocketAddr>,
    /// Certificate chain in PEM (with --tls-key); needed outside the demo
    /// unless --self-signed
    #[arg(long, value_name = "PEM")]
    tls_cert: Option<PathBuf>,
    /// Private key in PEM (PKCS#8, PKCS#1 or SEC1) (with --tls-cert)
    #[arg(long, value_name = "PEM")]
    tls_key: Option<PathBuf>,
    /// Make a throwaway self-signed certificate at start instead of
    /// --tls-cert (for tests: no client can pin it, so TLS then protects
    /// from eavesdroppers only); the demo does this by itself
    #[arg(long, conflicts_with = "tls_cert")]
    self_signed: bool,
    /// Allow USER/PASS, LOGIN and AUTH(ENTICATE) PLAIN without TLS
    #[arg(long)]
    allow_plaintext_auth: bool,
    /// One POP3 session per maildrop (exclusive), or no lock (none)
    #[arg(long, value_enum, value_name = "POLICY", default_value_t = Lock::Exclusive)]
    lock: Lock,
    /// Unique ids from %u (UID) and %v (UIDVALIDITY); the default is what
    /// Dovecot 2.3 sends for its default pop3_uidl_format = %08Xu%08Xv.
    /// Without %v, ids repeat if INBOX's UIDVALIDITY changes (a warning
    /// at start)
    #[arg(long, value_name = "TEMPLATE", default_value = DOVECOT_UIDLS)]
    uidl_format: String,
    /// Leave the messages POP3 clients download unread for IMAP (by
    /// default a POP3 session that ends with QUIT marks the messages it
    /// sent with RETR \Seen, as Dovecot does unless pop3_no_flag_updates)
    #[arg(long)]
    pop3_no_flag_updates: bool,
    /// Close logged-in connections idle this many seconds (RFC 1939 asks for
    /// at least 600; IMAP sessions get at least 1800, RFC 9051)
    #[arg(long, value_name = "SECS", default_value_t = 600, value_parser = clap::value_parser!(u64).range(..=YEAR_SECS))]
    idle_timeout: u64,
    /// Close connections not logged in this many seconds after they opened
    /// (the TLS handshake included)
    #[arg(long, value_name = "SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(..=YEAR_SECS))]
    login_timeout: u64,
    /// Wait this many milliseconds before answering a failed login (on its
    /// connection; failures are also counted per address and per account
    /// across connections, and from the second one the next check waits
    /// 250 ms, doubling up to 15 s, or 2 s for an account)
    #[arg(long, value_name = "MS", default_value_t = 2000, value_parser = clap::value_parser!(u64).range(..=DAY_MS))]
    auth_failure_delay: u64,
    /// Refuse connections beyond N
    #[arg(long, value_name = "N", default_value_t = 1000)]
    max_connections: usize,
    /// Refuse connections from one IP address (an IPv6 address counts
    /// with its /64) beyond N, so that one host cannot hold every slot;
    /// an IPv6 /56 may hold 2N and a /48 4N
    #[arg(long, value_name = "N", default_value_t = 100)]
    max_connections_per_ip: usize,
    /// Refuse a CREATE or RENAME (NO [LIMIT]) that would give one account
    /// more than N mailboxes, INBOX included: each one costs every listing
    /// and quota check, and the watches IDLE keeps on its folder
    #[arg(long, value_name = "N", default_value_t = 1000)]
    max_mailboxes: usize,
    /// Keep in memory what was read of up to N accounts no one is logged
    /// in to (the most recently used), for a quick next login; others are
    /// read from disk again when next used
    #[arg(long, value_name = "N", default_value_t = 16)]
    idle_accounts: usize,
    /// Storage reads, commits and password checks running at once, on
    /// threads apart from the network ones
    #[arg(long, value_name = "N", default_value_t = 16)]
    storage_jobs: usize,
    /// Octets of message content all IMAP sessions may hold in memory at
    /// once, in MiB: a search of the text (BODY, TEXT) takes three times
    /// the largest message above 256 KiB (it reads text parts, or a message
    /// that cannot be read in pages whole; a search of header fields reads
    /// top headers alone and needs none), and a FETCH of a message that cannot
    /// be read from its file in pages (a header block above 1 MiB) five
    /// times its size while it is sent, and one that reads a large message's
    /// sections from its file what they may hold (16 MiB at most); they
    /// wait for room (10 s, then NO [UNAVAILABLE]). A FETCH of small
    /// messages renders about 1 MiB of literals at a time and needs none
    #[arg(long, value_name = "MIB", default_value_t = 512)]
    content_memory: u64,
    /// What one account's folder state read from its files (the records
    /// of `dovecot-uidlist` and `mailwire-modseq`, about 530 octets a
    /// message) may take in memory, all its folders together, in MiB
    /// (folders not in use forget theirs past half of it); a folder that
    /// needs more gets NO [LIMIT], its files left as they are (a user can
    /// write those files as a gibibyte of records a few octets long)
    #[arg(long, value_name = "MIB", default_value_t = 1024)]
    state_memory: u64,
    /// What is flushed to disk before it is reported done: `full` every
    /// change; `optimized` (Dovecot's default `fsync_mode`) new messages
    /// (content, UID, flags) and the MODSEQ counter, not flag changes and
    /// expunges (a power failure may undo the last of those) nor MODSEQ
    /// records, which are rebuilt from the files; `off` nothing (tests only)
    #[arg(long, value_enum, value_name = "MODE", default_value_t = Fsync::Optimized)]
    fsync: Fsync,
    /// Where the demo keeps its files [default: target/mail-demo]
    #[arg(long, value_name = "DIR")]
    demo_dir: Option<PathBuf>,
}

/// What the store flushes to disk (`--fsync`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Fsync {
    /// Every change.
    Full,
    /// New messages and counters, not flag changes and expunges.
    Optimized,
    /// Nothing.
    Off,
}

/// How POP3 sessions share a maildrop (`--lock`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Lock {
    /// One POP3 session per maildrop at a time
    Exclusive,
    /// No lock: sessions see and delete independently
    None,
}

/// What the command line asked for.
#[derive(Debug, Clone)]
pub struct Options {
    pub mail_root: Option<PathBuf>,
    pub users: Option<PathBuf>,
    pub pop3: Vec<SocketAddr>,
    pub pop3s: Vec<SocketAddr>,
    pub imap: Vec<SocketAddr>,
    pub imaps: Vec<SocketAddr>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// A throwaway certificate (`--self-signed`, or the demo).
    pub self_signed: bool,
    pub allow_plaintext_auth: bool,
    pub lock: LockPolicy,
    pub uidl_format: String,
    /// POP3 QUIT marks retrieved messages `\Seen` (not with
    /// `--pop3-no-flag-updates`).
    pub pop3_mark_seen: bool,
    pub idle_timeout: Duration,
    pub login_timeout: Duration,
    pub auth_failure_delay: Duration,
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
    pub max_mailboxes: usize,
    pub idle_accounts: usize,
    pub storage_jobs: usize,
    pub content_memory: u64,
    pub state_memory: u64,
    pub fsync: Fsync,
    pub demo_dir: Option<PathBuf>,
}

impl Options {
    /// Whether this is the demo (no mail root and no users given).
    pub fn is_demo(&self) -> bool {
        self.mail_root.is_none() && self.users.is_none()
    }

    /// The options of this process's command line. On `--help` or
    /// `--version` it prints and exits with 0; on a usage error it prints
    /// the error and exits with 2.
    pub fn from_command_line() -> Options {
        Options::try_parse_from(std::env::args_os()).unwrap_or_else(|e| e.exit())
    }

    /// Parses `args` (the program name first).
    pub fn try_parse_from<I, T>(args: I) -> Result<Options, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let a = Args::try_parse_from(args)?;
        let usage = |message: &str| Args::command().error(ErrorKind::ArgumentConflict, message);
        if a.mail_root.is_some() != a.users.is_some() {
            return Err(usage("--mail-root and --users go together"));
        }
        if a.tls_cert.is_some() != a.tls_key.is_some() {
            return Err(usage("--tls-cert and --tls-key go together"));
        }
        if a.mail_root.is_some() && a.demo_dir.is_some() {
            return Err(usage("--demo-dir is for the demo, not with --mail-root"));
        }
        // Every listener offers TLS (STLS and STARTTLS on the plain ports):
        // a certificate made at each start is one no client can pin, so
        // outside the demo it is only made when asked for.
        let demo = a.mail_root.is_none();
        if !demo && a.tls_cert.is_none() && !a.self_signed {
            return Err(usage(
                "a certificate is needed (every listener offers TLS): give --tls-cert and --tls-key, \
                 or --self-signed for a throwaway one (tests only)",
            ));
        }
        let (mut pop3, mut pop3s, mut imap, mut imaps) = (a.pop3, a.pop3s, a.imap, a.imaps);
        if pop3.is_empty() && pop3s.is_empty() && imap.is_empty() && imaps.is_empty() {
            pop3.push(DEFAULT_POP3);
            pop3s.push(DEFAULT_POP3S);
            imap.push(DEFAULT_IMAP);
            imaps.push(DEFAULT_IMAPS);
        }
        Ok(Options {
            mail_root: a.mail_root,
            users: a.users,
            pop3,
            pop3s,
            imap,
            imaps,
            tls_cert: a.tls_cert,
            tls_key: a.tls_key,
            self_signed: a.self_signed || demo,
            allow_plaintext_auth: a.allow_plaintext_auth,
            lock: match a.lock {
                Lock::Exclusive => LockPolicy::Exclusive,
                Lock::None => LockPolicy::None,
            },
            uidl_format: a.uidl_format,
            pop3_mark_seen: !a.pop3_no_flag_updates,
            idle_timeout: Duration::from_secs(a.idle_timeout.max(1)),
            login_timeout: Duration::from_secs(a.login_timeout.max(1)),
            auth_failure_delay: Duration::from_millis(a.auth_failure_delay),
            max_connections: a.max_connections.max(1),
            max_connections_per_ip: a.max_connections_per_ip.max(1),
            max_mailboxes: a.max_mailboxes.max(1),
            idle_accounts: a.idle_accounts,
            storage_jobs: a.storage_jobs.max(1),
            content_memory: a.content_memory.max(1).saturating_mul(1 << 20),
            state_memory: a.state_memory.max(1).saturating_mul(1 << 20),
            fsync: a.fsync,
            demo_dir: a.demo_dir,
        })
    }
}

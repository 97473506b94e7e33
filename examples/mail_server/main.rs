//! A POP3 and IMAP mail server over the mailwire mailbox model: POP3 with
//! STLS, POP3S, IMAP with STARTTLS, IMAPS, Dovecot passwd-files, Maildirs,
//! on tokio with one task per connection.
//!
//! ```text
//! cargo run --release --example mail_server                 # the demo: alice / secret
//! curl -s --user alice:secret pop3://127.0.0.1:1110/        # POP3 LIST
//! curl -s --user alice:secret imap://127.0.0.1:1143/        # IMAP LIST
//! cargo run --release --example mail_server -- --help       # the options
//! ```
//!
//! The protocols are `mailwire::pop3::ServerSession` and
//! `mailwire::imap::server::ServerSession`, sans-IO state machines each
//! connection's task drives: bytes from the socket go into them, what they
//! have to send goes out, their deadlines are tokio timers. Both protocols
//! use one store, the mailbox model over Maildirs: POP3 through its
//! maildrop view (`Pop3Maildrop`: numbers frozen at login, deletions
//! committed only at QUIT), IMAP through selected-mailbox views whose
//! changes reach every other session. Storage work (logins with their
//! password hashes, Maildir reads and writes) runs on tokio's blocking
//! pool, a bounded number of jobs at once (`--storage-jobs`), never on the
//! threads that move bytes. This program adds sockets, TLS (tokio-rustls
//! with ring), the user database, the Maildir watch that wakes IDLE, logs
//! (tracing; passwords are never logged), the passwd-file read again on
//! SIGHUP, and a graceful stop on SIGINT or SIGTERM.
//!
//! `connection` owns a client's socket (plain, implicit TLS, or upgraded
//! by STLS or STARTTLS, compressed after COMPRESS), its reads, writes,
//! timeouts and the stop signal; `pop3` and `imap` drive their sessions
//! over it; `watch` watches the accounts' Maildirs.

mod args;
mod blocking;
mod budget;
mod checks;
mod connection;
mod imap;
mod mailstore;
mod penalty;
mod pop3;
mod server;
mod tls;
mod users;
mod watch;

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use mailwire::mailbox::{Pop3Config, UidlTemplate};

use crate::args::Options;
use crate::blocking::Blocking;
use crate::mailstore::Demo;
use crate::server::{Context, Port, Server, Signals};
use crate::tls::Identity;
use crate::users::Users;

/// The largest message IMAP's APPEND takes (APPENDLIMIT, RFC 7889).
const APPEND_LIMIT: u64 = 64 * 1024 * 1024;

/// What all IMAP APPENDs in progress may hold in memory together, in KiB:
/// four messages of the largest size.
const UPLOAD_BUDGET_KIB: usize = 4 * (APPEND_LIMIT / 1024) as usize;

/// What the cache of message structures (ENVELOPE, BODY, BODYSTRUCTURE)
/// may hold, in octets.
const STRUCTURE_CACHE: usize = 32 * 1024 * 1024;

fn main() -> ExitCode {
    let options = Options::from_command_line();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run(options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mail_server: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The demo's directory: `target/mail-demo` next to the build output when
/// run by cargo, `./mail-demo` otherwise.
fn default_demo_dir() -> PathBuf {
    let exe = std::env::current_exe().ok();
    let target = exe.as_deref().and_then(|exe| {
        let examples = exe.parent()?;
        (examples.file_name()? == "examples").then_some(())?;
        Some(examples.parent()?.parent()?.to_path_buf())
    });
    target.map_or_else(|| PathBuf::from("mail-demo"), |t| t.join("mail-demo"))
}

/// The most files one connection holds at once: its socket, a message
/// being read, and a staging or lock file.
const FILES_PER_CONNECTION: u64 = 3;

/// Raises the soft limit on open files to the hard one: each connection
/// holds its socket and, at times, a file or two (a message being sent,
/// an APPEND's staging file, a folder's lock), so the default soft limit
/// (often 1024) would refuse connections well below `--max-connections`.
/// Warns when the limit is still too low for three files a connection.
fn raise_open_file_limit(max_connections: usize) {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    // Listeners, the Maildir watch, the store's files: some headroom.
    let needed = (max_connections as u64)
        .saturating_mul(FILES_PER_CONNECTION)
        .saturating_add(64);
    let mut refused = None;
    for target in open_file_targets(limit.current, limit.maximum, needed) {
        let raised = Rlimit {
            current: target,
            maximum: limit.maximum,
        };
        match setrlimit(Resource::Nofile, raised) {
            Ok(()) => {
                refused = None;
                break;
            }
            Err(e) => refused = Some(e),
        }
    }
    if let Some(e) = refused {
        tracing::warn!(error = %e, "cannot raise the open-file limit");
    }
    let now = getrlimit(Resource::Nofile).current;
    if now.is_some_and(|n| n < needed) {
        tracing::warn!(
            limit = now,
            max_connections,
            "the open-file limit is below three files per connection of --max-connections; connections may fail when it is reached"
        );
    }
}

/// The soft limits on open files to try, best first (`None` is
/// unlimited): the hard limit, then, where the system refuses that (macOS
/// reports an unlimited hard limit and takes no soft limit above its
/// `OPEN_MAX`, 10,240, or its `kern.maxfilesperproc`), what the
/// connections need if more than 10,240, then 10,240, within the hard
/// limit. Nothing when the soft limit is as high already.
fn open_file_targets(current: Option<u64>, maximum: Option<u64>, needed: u64) -> Vec<Option<u64>> {
    let below = |a: Option<u64>, b: Option<u64>| match (a, b) {
        (Some(a), Some(b)) => a < b,
        (Some(_), None) => true,
        (None, _) => false,
    };
    let mut targets = Vec::new();
    if below(current, maximum) {
        targets.push(maximum);
    }
    for fallback in [Some(needed.max(10_240)), Some(10_240)] {
        if !below(maximum, fallback) && below(current, fallback) && !targets.contains(&fallback) {
            targets.push(fallback);
        }
    }
    targets
}

fn run(o: Options) -> Result<(), String> {
    raise_open_file_limit(o.max_connections);
    let demo = o.is_demo().then(|| Demo {
        dir: o.demo_dir.clone().unwrap_or_else(default_demo_dir),
    });
    let (mail_root, users_file, created) = match (&demo, &o.mail_root, &o.users) {
        (Some(demo), _, _) => (demo.mail_root(), demo.users_file(), demo.prepare()?),
        (None, Some(root), Some(users)) => (root.clone(), users.clone(), false),
        _ => return Err("--mail-root and --users go together".into()),
    };
    if o.idle_timeout < Duration::from_secs(600) {
        tracing::warn!(
            seconds = o.idle_timeout.as_secs(),
            "--idle-timeout is below the 10 minutes RFC 1939 asks for"
        );
    }
    let uidl = UidlTemplate::new(&o.uidl_format).map_err(|e| format!("--uidl-format: {e}"))?;
    if !uidl.uses_uid_validity() {
        tracing::warn!(
            template = o.uidl_format,
            "--uidl-format has no %v: if INBOX's UIDVALIDITY ever changes, new messages get the ids \
             of earlier ones, and a client that leaves mail on the server may skip or delete them unseen"
        );
    }
    let users = Users::load(&users_file).map_err(|e| format!("{}: {e}", users_file.display()))?;
    users.log_costs();
    let store = mailstore::open(
        &mail_root,
        o.fsync,
        o.max_mailboxes,
        o.idle_accounts,
        o.state_memory,
    )?;
    if created {
        mailstore::add_default_mailboxes(&store, "alice")?;
    }

    let identity = match (&o.tls_cert, &o.tls_key) {
        (Some(cert), Some(key)) => Identity::from_pem_files(cert, key)?,
        _ if o.self_signed => Identity::self_signed(&["localhost".into(), "127.0.0.1".into(), "::1".into()])?,
        _ => return Err("no certificate (--tls-cert and --tls-key, or --self-signed)".into()),
    };
    let cert_file = match (&demo, &identity.generated_pem) {
        (Some(demo), Some(pem)) => {
            let file = demo.cert_file();
            std::fs::write(&file, pem).map_err(|e| format!("{}: {e}", file.display()))?;
            Some(file)
        }
        _ => None,
    };
    let generated = identity.generated_pem.is_some();
    let tls = identity.server_config()?;

    let all: Vec<SocketAddr> = o
        .pop3
        .iter()
        .chain(&o.pop3s)
        .chain(&o.imap)
        .chain(&o.imaps)
        .copied()
        .collect();
    let loopback_only = all.iter().all(|a| a.ip().is_loopback());
    // The demo allows plaintext logins on loopback, so that the printed
    // curl command works; nothing leaves the machine there.
    let demo_plaintext = demo.is_some() && loopback_only && !o.allow_plaintext_auth;
    let allow_plaintext_auth = o.allow_plaintext_auth || demo_plaintext;

    let mut listeners = Vec::new();
    for (addrs, port) in [
        (&o.pop3, Port::Pop3),
        (&o.pop3s, Port::Pop3s),
        (&o.imap, Port::Imap),
        (&o.imaps, Port::Imaps),
    ] {
        for addr in addrs {
            let listener =
                std::net::TcpListener::bind(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
            listener
                .set_nonblocking(true)
                .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
            let local = listener.local_addr().map_err(|e| e.to_string())?;
            listeners.push((listener, port, local));
        }
    }

    let user_count = users.len();
    let server = Server::new(
        Context {
            store,
            users: std::sync::RwLock::new(Arc::new(users)),
            users_file: users_file.clone(),
            pop3: Pop3Config {
                lock: o.lock,
                uidl: Arc::new(uidl),
                mark_seen: o.pop3_mark_seen,
            },
            tls: tokio_rustls::TlsAcceptor::from(tls),
            allow_plaintext_auth,
            append_limit: APPEND_LIMIT,
            uploads: Arc::new(tokio::sync::Semaphore::new(UPLOAD_BUDGET_KIB)),
            structures: Arc::new(imap::StructureCache::new(STRUCTURE_CACHE)),
            content: budget::MemoryBudget::new(o.content_memory),
            account_shares: Default::default(),
            upload_share_kib: UPLOAD_BUDGET_KIB / 8,
            idle_timeout: o.idle_timeout,
            login_timeout: o.login_timeout,
            auth_failure_delay: o.auth_failure_delay,
            penalties: penalty::Penalties::default(),
            blocking: Blocking::new(o.storage_jobs),
            checks: checks::ChecksInFlight::default(),
            hashing: Blocking::new(std::thread::available_parallelism().map_or(2, |n| n.get())),
            watcher: watch::Watcher::new(),
        },
        o.max_connections,
        o.max_connections_per_ip,
    );
    let banner = Banner {
        demo: demo.as_ref(),
        created,
        mail_root: &mail_root,
        users_file: &users_file,
        users: user_count,
        listeners: &listeners.iter().map(|(_, p, a)| (*p, *a)).collect::<Vec<_>>(),
        allow_plaintext_auth,
        demo_plaintext,
        generated,
        cert_file: cert_file.as_deref(),
    };

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_io()
        .enable_time()
        .thread_name("mail_server")
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let served = runtime.block_on(async {
        let mut serving = Vec::new();
        for (listener, port, addr) in listeners {
            let listener = tokio::net::TcpListener::from_std(listener)
                .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
            serving.push((listener, port));
        }
        // Before the banner: whoever reads it may send a signal at once.
        let signals = Signals::install()?;
        print_banner(&banner);
        server.run(serving, signals).await;
        Ok::<(), String>(())
    });
    // Jobs still running on the blocking pool are not waited for long.
    runtime.shutdown_timeout(Duration::from_secs(1));
    served
}

struct Banner<'a> {
    demo: Option<&'a Demo>,
    created: bool,
    mail_root: &'a Path,
    users_file: &'a Path,
    users: usize,
    listeners: &'a [(Port, SocketAddr)],
    allow_plaintext_auth: bool,
    demo_plaintext: bool,
    generated: bool,
    cert_file: Option<&'a Path>,
}

/// What is served and how to connect. The `POP3  on ADDR` and `POP3S on
/// ADDR` lines are stable: tests read the ports from them.
fn print_banner(b: &Banner<'_>) {
    let mut out = String::new();
    let mut line = |s: String| {
        out.push_str(&s);
        out.push('\n');
    };
    match b.demo {
        Some(demo) => {
            line(format!("mailwire mail_server: demo in {}", demo.dir.display()));
            line(format!(
                "  mail      {} ({})",
                b.mail_root.join("alice").join("Maildir").display(),
                if b.created {
                    "just created"
                } else {
                    "kept from an earlier run; delete the directory to start afresh"
                }
            ));
            line(format!(
                "  users     {} (user alice, password secret)",
                b.users_file.display()
            ));
        }
        None => {
            line("mailwire mail_server".into());
            line(format!("  mail      {}/<user>/Maildir", b.mail_root.display()));
            line(format!(
                "  users     {} ({} users)",
                b.users_file.display(),
                b.users
            ));
        }
    }
    let plaintext = if b.demo_plaintext {
        "logins allowed without TLS: demo on loopback only"
    } else if b.allow_plaintext_auth {
        "logins allowed without TLS"
    } else {
        "logins only after it"
    };
    let certificate = match (b.generated, b.cert_file) {
        (true, Some(file)) => format!("self-signed certificate {}", file.display()),
        (true, None) => "self-signed certificate made at start".into(),
        (false, _) => "certificate from --tls-cert".into(),
    };
    for (port, addr) in b.listeners {
        match port {
            Port::Pop3 => line(format!("  POP3  on {addr} (STLS offered; {plaintext})")),
            Port::Pop3s => line(format!("  POP3S on {addr} (implicit TLS; {certificate})")),
            Port::Imap => line(format!("  IMAP  on {addr} (STARTTLS offered; {plaintext})")),
            Port::Imaps => line(format!("  IMAPS on {addr} (implicit TLS; {certificate})")),
        }
    }
    let user = if b.demo.is_some() {
        "alice:secret"
    } else {
        "USER:PASSWORD"
    };
    let plain = b.listeners.iter().find(|(p, _)| *p == Port::Pop3).map(|(_, a)| a);
    let secure = b
        .listeners
        .iter()
        .find(|(p, _)| *p == Port::Pop3s)
        .map(|(_, a)| a);
    line("Read mail with curl:".into());
    if let Some(addr) = plain {
        let tls = if b.allow_plaintext_auth {
            ""
        } else {
            "--ssl-reqd -k "
        };
        line(format!(
            "  curl -s {tls}--user {user} pop3://{addr}/              # LIST"
        ));
        line(format!(
            "  curl -s {tls}--user {user} pop3://{addr}/1             # RETR 1"
        ));
        line(format!(
            "  curl -s {tls}--user {user} pop3://{addr}/ -X UIDL      # unique ids"
        ));
        line(format!(
            "  curl -s {tls}--user {user} pop3://{addr}/ -X 'TOP 1 0' # headers of message 1"
        ));
    }
    if let Some(addr) = secure {
        let trust = match b.cert_file {
            Some(file) => format!("--cacert {}", file.display()),
            None => "-k".into(),
        };
        line(format!("  curl -s {trust} --user {user} pop3s://{addr}/"));
    }
    let plain = b.listeners.iter().find(|(p, _)| *p == Port::Imap).map(|(_, a)| a);
    let secure = b
        .listeners
        .iter()
        .find(|(p, _)| *p == Port::Imaps)
        .map(|(_, a)| a);
    if let Some(addr) = plain {
        let tls = if b.allow_plaintext_auth {
            ""
        } else {
            "--ssl-reqd -k "
        };
        line(format!(
            "  curl -s {tls}--user {user} imap://{addr}/                  # LIST"
        ));
        line(format!(
            "  curl -s {tls}--user {user} 'imap://{addr}/INBOX?ALL'       # SEARCH ALL"
        ));
        line(format!(
            "  curl -s {tls}--user {user} 'imap://{addr}/INBOX;UID=1'     # message UID 1"
        ));
    }
    if let Some(addr) = secure {
        let trust = match b.cert_file {
            Some(file) => format!("--cacert {}", file.display()),
            None => "-k".into(),
        };
        line(format!(
            "  curl -s {trust} --user {user} 'imaps://{addr}/INBOX;UID=1;SECTION=HEADER'"
        ));
    }
    line("Press Ctrl-C to stop.".into());
    print!("{out}");
    let _ = std::io::stdout().flush();
}

#[cfg(test)]
mod open_file_tests {
    use super::open_file_targets;

    #[test]
    fn the_soft_limit_goes_to_the_hard_one_then_to_what_is_needed() {
        // Linux: a finite hard limit, taken whole (10,240 if refused).
        assert_eq!(
            open_file_targets(Some(1024), Some(524_288), 1_064),
            [Some(524_288), Some(10_240)]
        );
        // macOS: an unlimited hard limit is tried, then 10,240 (or what
        // the connections need, if more).
        assert_eq!(open_file_targets(Some(256), None, 1_064), [None, Some(10_240)]);
        assert_eq!(
            open_file_targets(Some(256), None, 20_064),
            [None, Some(20_064), Some(10_240)]
        );
        // A hard limit below the fallback: the hard limit alone.
        assert_eq!(open_file_targets(Some(256), Some(4_096), 1_064), [Some(4_096)]);
        // Nothing to raise.
        assert!(open_file_targets(Some(4_096), Some(4_096), 1_064).is_empty());
        assert!(open_file_targets(None, None, 1_064).is_empty());
    }
}

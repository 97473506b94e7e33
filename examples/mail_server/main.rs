//! A POP3 mail server over the mailwire mailbox model: POP3 with STLS,
//! POP3S, Dovecot passwd-files, Maildirs, one thread per connection.
//!
//! ```text
//! cargo run --release --example mail_server                 # the demo: alice / secret
//! curl -s --user alice:secret pop3://127.0.0.1:1110/        # LIST
//! cargo run --release --example mail_server -- --help       # the options
//! ```
//!
//! The protocol is `mailwire::pop3::ServerSession`; the maildrop is the
//! mailbox model's POP3 view (`Pop3Maildrop`), which keeps RFC 1939's
//! rules: numbers frozen at login, deletions committed only at QUIT. This
//! program adds sockets, TLS (rustls with ring), the user database, logs
//! (tracing; passwords are never logged) and a graceful stop on SIGINT or
//! SIGTERM that commits no session that did not QUIT.

mod args;
mod connection;
mod mailstore;
mod tls;
mod users;

use std::collections::HashMap;
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mailwire::mailbox::{Pop3Config, UidlTemplate};
use signal_hook::consts::{SIGINT, SIGTERM};

use crate::args::Options;
use crate::connection::{Context, Port};
use crate::mailstore::Demo;
use crate::tls::Identity;
use crate::users::Users;

/// How long a stop waits for connections to end.
const STOP_GRACE: Duration = Duration::from_secs(10);

fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let options = match args::parse(std::env::args().skip(1)) {
        Ok(Some(o)) => o,
        Ok(None) => {
            println!("{}", args::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("mail_server: {e}\n\n{}", args::USAGE);
            return ExitCode::from(2);
        }
    };
    match run(options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mail_server: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The running server: what connections share, and what a stop needs.
struct Server {
    ctx: Context,
    stopping: AtomicBool,
    /// A handle on each open connection's socket, to close it at a stop.
    live: Mutex<HashMap<u64, TcpStream>>,
    next_id: AtomicU64,
    max_connections: usize,
}

impl Server {
    fn live(&self) -> std::sync::MutexGuard<'_, HashMap<u64, TcpStream>> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stops accepting and closes every connection. Their sessions end
    /// without QUIT, so they commit nothing.
    fn stop(&self, listening: &[SocketAddr]) {
        self.stopping.store(true, Ordering::SeqCst);
        for addr in listening {
            // Wakes the accept loop, which then sees `stopping`.
            let _ = TcpStream::connect_timeout(&wake_address(*addr), Duration::from_secs(1));
        }
        for socket in self.live().values() {
            let _ = socket.shutdown(std::net::Shutdown::Both);
        }
    }

    fn accept_loop(self: &Arc<Self>, listener: TcpListener, port: Port) {
        for socket in listener.incoming() {
            if self.stopping.load(Ordering::SeqCst) {
                break;
            }
            let socket = match socket {
                Ok(s) => s,
                Err(e) => {
                    // Out of file descriptors and the like: do not spin.
                    tracing::warn!(error = %e, "accept failed");
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                }
            };
            self.start_connection(socket, port);
        }
    }

    fn start_connection(self: &Arc<Self>, mut socket: TcpStream, port: Port) {
        let peer = socket
            .peer_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        {
            let mut live = self.live();
            if live.len() >= self.max_connections {
                tracing::warn!(%peer, "too many connections, refused");
                if port == Port::Pop3 {
                    let _ = socket.write_all(b"-ERR [SYS/TEMP] Too many connections, try later\r\n");
                }
                return;
            }
            match socket.try_clone() {
                Ok(handle) => live.insert(id, handle),
                Err(e) => {
                    tracing::warn!(%peer, error = %e, "cannot keep a handle on the socket");
                    return;
                }
            };
        }
        // A stop that began meanwhile did not see this socket.
        if self.stopping.load(Ordering::SeqCst) {
            self.live().remove(&id);
            return;
        }
        let server = Arc::clone(self);
        let spawned = std::thread::Builder::new()
            .name(format!("pop3-{id}"))
            .spawn(move || {
                let span = tracing::info_span!("conn", id, %peer, port = ?port);
                let _entered = span.enter();
                tracing::info!("connected");
                match connection::serve(&server.ctx, socket, port, peer) {
                    Ok(ending) => tracing::info!(?ending, "disconnected"),
                    Err(e) => tracing::info!(error = %e, "connection ended"),
                }
                server.live().remove(&id);
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start a connection thread");
            self.live().remove(&id);
        }
    }
}

/// Where to connect to reach a listener (a wildcard address is reached on
/// loopback).
fn wake_address(addr: SocketAddr) -> SocketAddr {
    let mut addr = addr;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    addr
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

fn run(o: Options) -> Result<(), String> {
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
    let users = Users::load(&users_file).map_err(|e| format!("{}: {e}", users_file.display()))?;
    let store = mailstore::open(&mail_root)?;

    let identity = match (&o.tls_cert, &o.tls_key) {
        (Some(cert), Some(key)) => Identity::from_pem_files(cert, key)?,
        _ => Identity::self_signed(&["localhost".into(), "127.0.0.1".into(), "::1".into()])?,
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

    let all: Vec<SocketAddr> = o.pop3.iter().chain(&o.pop3s).copied().collect();
    let loopback_only = all.iter().all(|a| a.ip().is_loopback());
    // The demo allows plaintext logins on loopback, so that the printed
    // curl command works; nothing leaves the machine there.
    let demo_plaintext = demo.is_some() && loopback_only && !o.allow_plaintext_auth;
    let allow_plaintext_auth = o.allow_plaintext_auth || demo_plaintext;

    let mut listeners = Vec::new();
    for (addrs, port) in [(&o.pop3, Port::Pop3), (&o.pop3s, Port::Pop3s)] {
        for addr in addrs {
            let listener = TcpListener::bind(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
            let local = listener.local_addr().map_err(|e| e.to_string())?;
            listeners.push((listener, port, local));
        }
    }
    let listening: Vec<SocketAddr> = listeners.iter().map(|(_, _, a)| *a).collect();

    let server = Arc::new(Server {
        ctx: Context {
            store,
            users,
            pop3: Pop3Config {
                lock: o.lock,
                uidl: Arc::new(uidl),
            },
            tls,
            allow_plaintext_auth,
            idle_timeout: o.idle_timeout,
            auth_failure_delay: o.auth_failure_delay,
        },
        stopping: AtomicBool::new(false),
        live: Mutex::new(HashMap::new()),
        next_id: AtomicU64::new(1),
        max_connections: o.max_connections,
    });

    print_banner(&Banner {
        demo: demo.as_ref(),
        created,
        mail_root: &mail_root,
        users_file: &users_file,
        users: server.ctx.users.len(),
        listeners: &listeners.iter().map(|(_, p, a)| (*p, *a)).collect::<Vec<_>>(),
        allow_plaintext_auth,
        demo_plaintext,
        generated,
        cert_file: cert_file.as_deref(),
    });

    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])
        .map_err(|e| format!("cannot handle signals: {e}"))?;
    {
        let server = Arc::clone(&server);
        let listening = listening.clone();
        std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                for signal in signals.forever() {
                    if server.stopping.load(Ordering::SeqCst) {
                        tracing::warn!(signal, "second signal: exiting at once");
                        std::process::exit(130);
                    }
                    tracing::info!(
                        signal,
                        "stopping: closing every connection; unfinished sessions commit nothing"
                    );
                    server.stop(&listening);
                }
            })
            .map_err(|e| e.to_string())?;
    }

    let mut accept_threads = Vec::new();
    for (listener, port, addr) in listeners {
        let server = Arc::clone(&server);
        let handle = std::thread::Builder::new()
            .name(format!("accept-{addr}"))
            .spawn(move || server.accept_loop(listener, port))
            .map_err(|e| e.to_string())?;
        accept_threads.push(handle);
    }
    for handle in accept_threads {
        let _ = handle.join();
    }
    let deadline = Instant::now() + STOP_GRACE;
    while !server.live().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let left = server.live().len();
    if left > 0 {
        tracing::warn!(left, "connections still open at exit");
    }
    tracing::info!("stopped");
    Ok(())
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
        "USER/PASS and AUTH PLAIN allowed without TLS: demo on loopback only"
    } else if b.allow_plaintext_auth {
        "USER/PASS and AUTH PLAIN allowed without TLS"
    } else {
        "logins only after STLS"
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
    line("Press Ctrl-C to stop.".into());
    print!("{out}");
    let _ = std::io::stdout().flush();
}

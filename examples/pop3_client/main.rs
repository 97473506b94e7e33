//! A POP3 client that downloads a maildrop into a local Maildir, the
//! classic POP3 job, and never loses or duplicates a message.
//!
//! ```text
//! MAILWIRE_PASSWORD=secret cargo run --example pop3_client -- \
//!     --server pop.example.com:995 --tls implicit --user alice --maildir ~/Mail/inbox
//! cargo run --example pop3_client -- --help
//! ```
//!
//! It shows how a program drives `mailwire::pop3::ClientSession` over a
//! blocking socket with rustls: the session does the protocol (and
//! pipelines when the server offers PIPELINING), the program moves bytes
//! and stores messages.
//!
//! By default a copy stays on the server and the UIDLs of downloaded
//! messages are kept in a state file in the Maildir (one per account:
//! host, port and user, `.mailwire-uidl-*`), so the next run fetches only
//! new mail. With `--delete`, each message is deleted on the server after
//! it is stored.
//!
//! Messages are named in the Maildir after a hash of the host, the user and
//! the UIDL, written to `tmp/`, flushed to disk, linked into `new/`, and
//! `new/` is flushed, before the UIDL is recorded or DELE is sent: killed
//! at any point, the next run completes the job without losing or
//! duplicating anything. Line ends are stored as LF (the Maildir
//! convention); `--crlf` keeps the CRLF received. A UIDL counts as
//! downloaded only with the size LIST gave for it then (recorded in the
//! state file), so a server that gives an old UIDL to a new message never
//! has that message skipped or deleted unseen. A file of a message's name
//! without a record (a run killed before it saved the state, or a UIDL
//! reused after a deletion at the same size) is compared with the message
//! downloaded again; when LIST gives no sizes, recorded messages are not
//! deleted.
//!
//! One run at a time per Maildir: a run holds an exclusive lock
//! (`flock`) on the file `.mailwire-pop3-lock` in the Maildir from before
//! it reads the state until it has quit, and a second run started
//! meanwhile does not wait: it stops at once, having changed nothing, with
//! exit status 8. The system drops the lock when the holder ends, so a
//! killed run leaves none behind; the next run also removes the files the
//! killed one left in `tmp/`.
//!
//! Without TLS (`--tls none`) a single warning says what the login method
//! exposes to anyone on the network path.
#![forbid(unsafe_code)]

mod connection;
mod fetch;
mod maildir;
mod options;
mod state;
#[path = "../common/tls_client.rs"]
mod tls_client;

use std::fmt;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::OnceLock;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mailwire::pop3::{Capability, ClientError, Command, Response};
use tracing_subscriber::EnvFilter;

use crate::connection::{Connection, describe, login_failure};
use crate::maildir::{
    LOCK_FILE_NAME, Maildir, MaildirLock, adopts_unported_state, state_file_name, unported_state_file_name,
};
use crate::options::{Auth, Options, Secret, TlsMode, read_password};
use crate::state::UidlState;
use crate::tls_client::TlsSetup;

/// Why a run failed; each kind has its exit status.
#[derive(Debug)]
pub enum Failure {
    /// Bad command line or unusable local input (2).
    Usage(String),
    /// The network, TLS, or the server's protocol (3).
    Network(String),
    /// The server refused the credentials (4).
    Login(String),
    /// The local Maildir or state file (5).
    Local(String),
    /// The server refused the login for now (6).
    LoginTemporary(String),
    /// `--stop-after` was reached after storing this many messages (7).
    Stopped(usize),
    /// Another run holds the Maildir's lock; nothing was done (8).
    Busy(String),
}

impl Failure {
    fn exit_code(&self) -> u8 {
        match self {
            Failure::Usage(_) => 2,
            Failure::Network(_) => 3,
            Failure::Login(_) => 4,
            Failure::Local(_) => 5,
            Failure::LoginTemporary(_) => 6,
            Failure::Stopped(_) => 7,
            Failure::Busy(_) => 8,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Usage(m)
            | Failure::Network(m)
            | Failure::Login(m)
            | Failure::Local(m)
            | Failure::Busy(m) => f.write_str(m),
            Failure::LoginTemporary(m) => write!(f, "{m} (try again later)"),
            Failure::Stopped(n) => write!(f, "stopped after storing {n} messages, as asked"),
        }
    }
}

/// What a run did.
#[derive(Debug, Default)]
pub struct Summary {
    /// Messages downloaded and stored in this run.
    pub fetched: usize,
    /// Their size, as the server counts it.
    pub bytes: u64,
    /// Messages that were already stored by an earlier run.
    pub already: usize,
    /// Messages deleted on the server (committed by QUIT).
    pub deleted: usize,
    /// The UIDLs of those messages.
    pub deleted_uidls: Vec<String>,
    /// Messages or commands that failed.
    pub failed: usize,
}

/// The progress bar, once created: log lines are written around it.
static PROGRESS: OnceLock<ProgressBar> = OnceLock::new();

/// Log output to standard error, without tearing the progress bar.
struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let write = || std::io::stderr().lock().write_all(buf);
        match PROGRESS.get() {
            Some(bar) => bar.suspend(write)?,
            None => write()?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

fn init_logging(verbosity: i8) {
    let default = match verbosity {
        i8::MIN..=-1 => "warn",
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_env("MAILWIRE_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| LogWriter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
}

fn progress_bar() -> ProgressBar {
    // Drawn on standard output, and only when it is a terminal.
    let target = if std::io::stdout().is_terminal() {
        ProgressDrawTarget::stdout()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(Some(0), target);
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {binary_bytes}/{binary_total_bytes} {msg} (eta {eta})",
    ) {
        bar.set_style(style);
    }
    bar
}

/// Logs in with the chosen method.
fn login(conn: &mut Connection, options: &Options, password: &Secret) -> Result<(), Failure> {
    let user = options.user.as_bytes();
    let invalid = |e: ClientError| match e {
        ClientError::NoApopTimestamp => {
            Failure::Login("the server does not offer APOP (no timestamp in its greeting)".into())
        }
        ClientError::Invalid(e) => Failure::Usage(format!("the user name or password cannot be sent: {e}")),
        other => Failure::Usage(other.to_string()),
    };
    let session = conn.session();
    let id = match options.auth {
        Auth::User => session.login_user_pass(user, password.expose()),
        Auth::Apop => session.login_apop(user, password.expose()),
        Auth::Plain => session.login_plain(b"", user, password.expose()),
    }
    .map_err(invalid)?;
    match conn.wait(id)? {
        Response::Status(s) if s.is_ok() => Ok(()),
        Response::Status(s) => Err(login_failure(&s)),
        other => Err(Failure::Network(format!(
            "unexpected answer to the login: {other:?}"
        ))),
    }
}

/// Asks for the capabilities; servers without CAPA are served too.
fn capabilities(conn: &mut Connection) -> Result<(), Failure> {
    match conn.call(Command::Capa)? {
        Response::Capabilities { .. } => {}
        Response::Status(s) => tracing::debug!("no CAPA: {}", describe(&s)),
        other => tracing::debug!("unexpected answer to CAPA: {other:?}"),
    }
    Ok(())
}

/// What the login method exposes without TLS, in one line.
fn cleartext_risk(auth: Auth) -> &'static str {
    match auth {
        Auth::User => {
            "no TLS: USER/PASS sends the password in clear, so anyone on the network path can \
             read it, and the mail too; use --tls starttls or --tls implicit"
        }
        Auth::Plain => {
            "no TLS: AUTH PLAIN sends the password in clear (base64 is no protection), so anyone \
             on the network path can read it, and the mail too; use --tls starttls or --tls implicit"
        }
        Auth::Apop => {
            "no TLS: APOP hides the password behind MD5 only, which anyone on the network path \
             can attack offline, and the mail travels in clear; use --tls starttls or --tls implicit"
        }
    }
}

/// Takes the Maildir's lock for this run, and clears what killed runs left
/// in `tmp/`.
fn lock_maildir(maildir: &Maildir) -> Result<MaildirLock, Failure> {
    let lock = maildir.lock().map_err(|e| {
        let path = maildir.root().join(LOCK_FILE_NAME);
        if e.kind() == std::io::ErrorKind::WouldBlock {
            Failure::Busy(format!(
                "another pop3_client run is using the Maildir {} (it holds the lock on {}); \
                 nothing was done, try again when it has finished",
                maildir.root().display(),
                path.display()
            ))
        } else {
            Failure::Local(format!("cannot lock the Maildir ({}): {e}", path.display()))
        }
    })?;
    match maildir.remove_stale_temp_files() {
        Ok(0) => {}
        Ok(n) => tracing::debug!("removed {n} files that interrupted runs left in tmp/"),
        Err(e) => tracing::warn!("cleaning the Maildir's tmp/: {e}"),
    }
    Ok(lock)
}

fn run(options: &Options, progress: &ProgressBar) -> Result<Summary, Failure> {
    let password = read_password(options.password_file.as_ref()).map_err(Failure::Usage)?;
    let maildir = Maildir::open_or_create(&options.maildir)
        .map_err(|e| Failure::Local(format!("Maildir {}: {e}", options.maildir.display())))?;
    // Held until this function returns, after QUIT.
    let _lock = lock_maildir(&maildir)?;
    let user = options.user.as_bytes();
    let state_path = maildir
        .root()
        .join(state_file_name(&options.host, options.port, user));
    let earlier = adopts_unported_state(options.port)
        .then(|| maildir.root().join(unported_state_file_name(&options.host, user)));
    let mut state = UidlState::load_or_adopt(
        state_path,
        earlier,
        &format!(
            "UIDLs downloaded from {} port {} for {:?}",
            options.host, options.port, options.user
        ),
    )
    .map_err(|e| Failure::Local(format!("UIDL state: {e}")))?;
    if state.adopted() {
        tracing::info!(
            known = state.len(),
            "took over the UIDL state an earlier version kept without the port; in delete mode \
             each message it lists is downloaded and compared once before it is deleted"
        );
    }
    tracing::debug!(path = %state.path().display(), known = state.len(), "state loaded");

    let tls = match options.tls {
        TlsMode::None => None,
        TlsMode::StartTls | TlsMode::Implicit => {
            let name = options.tls_name.as_deref().unwrap_or(&options.host);
            Some(TlsSetup::new(
                options.ca_file.as_deref(),
                name,
                " (--ca-file trusts a private CA or a self-signed certificate; --tls-name sets the name to check)",
            )?)
        }
    };
    let implicit = tls.as_ref().filter(|_| options.tls == TlsMode::Implicit);
    let mut conn = Connection::open(
        &options.host,
        options.port,
        options.timeout,
        options.no_pipelining,
        implicit,
    )?;
    let greeting = conn.greeting()?;
    tracing::info!(
        server = %format_args!("{}:{}", options.host, options.port),
        tls = ?options.tls,
        "connected: {}",
        describe(&greeting)
    );
    capabilities(&mut conn)?;
    if options.tls == TlsMode::StartTls {
        let setup = tls.as_ref().expect("a TLS setup for --tls starttls");
        if !conn.session().has_capability(|c| *c == Capability::Stls) {
            tracing::debug!("STLS is not among the capabilities; trying it anyway");
        }
        conn = conn.start_tls(setup)?;
        capabilities(&mut conn)?;
    } else if options.tls == TlsMode::None {
        tracing::warn!("{}", cleartext_risk(options.auth));
    }
    login(&mut conn, options, &password)?;
    tracing::info!(user = options.user, "logged in");
    // Capabilities may change after login (RFC 2449 section 5).
    capabilities(&mut conn)?;
    fetch::run(conn, options, &maildir, &mut state, progress)
}

fn main() -> ExitCode {
    let options = Options::from_command_line();
    init_logging(options.verbosity);
    let progress = PROGRESS.get_or_init(progress_bar);
    let result = run(&options, progress);
    progress.finish_and_clear();
    match result {
        Ok(summary) => {
            println!(
                "{}: fetched {} messages ({} octets), {} already stored, {} deleted on the server, {} failed",
                options.host,
                summary.fetched,
                summary.bytes,
                summary.already,
                summary.deleted,
                summary.failed
            );
            if summary.failed > 0 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(failure) => {
            tracing::debug!(?failure, "run failed");
            eprintln!("pop3_client: {failure}");
            ExitCode::from(failure.exit_code())
        }
    }
}

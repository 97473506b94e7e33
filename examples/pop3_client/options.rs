//! The command line (clap). Usage errors exit with status 2, `--help`
//! prints every option and exits with 0.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use clap::error::ErrorKind;
use clap::{ArgAction, CommandFactory, Parser, ValueEnum};

/// What `--help` prints after the options.
const AFTER_HELP: &str = "\
The password comes from --password-file FILE (its first line) or from the
environment variable MAILWIRE_PASSWORD, never from the command line.

Exit status: 0 done; 1 some messages failed (the others are done); 2 usage;
3 network, TLS or protocol failure; 4 login refused; 5 local storage failure;
6 login refused for now (mailbox in use, login delay, temporary failure);
7 stopped by --stop-after; 8 another run is using the Maildir.

One run at a time per Maildir: a run locks the file .mailwire-pop3-lock in
it, and a second run started meanwhile stops at once (status 8) without
waiting and without changing anything. Without TLS (--tls none) a warning
says what the login method exposes on the network.";

/// Downloads every message of a POP3 maildrop into a local Maildir.
#[derive(Debug, Parser)]
// As before clap, a repeated option takes its last value.
#[command(name = "pop3_client", version, after_help = AFTER_HELP, args_override_self = true)]
struct Args {
    /// The POP3 server (port 110 for none/starttls, 995 for implicit)
    #[arg(long, value_name = "HOST:PORT", value_parser = crate::tls_client::split_server)]
    server: (String, u16),
    /// The account name
    #[arg(long, value_name = "USER", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    user: String,
    /// The local Maildir (created with cur/ new/ tmp/ if missing)
    #[arg(long, value_name = "DIR")]
    maildir: PathBuf,
    /// Read the password from the first line of FILE
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,
    /// Refused: other users can see a command line; use --password-file
    /// or MAILWIRE_PASSWORD
    #[arg(long, short = 'p', value_name = "PASSWORD", num_args = 0..=1, default_missing_value = "", value_parser = refuse_password)]
    password: Option<Refused>,
    /// How to log in
    #[arg(long, value_enum, value_name = "METHOD", default_value_t = Auth::User)]
    auth: Auth,
    /// How to secure the connection
    #[arg(long, value_enum, value_name = "MODE", default_value_t = TlsMode::StartTls)]
    tls: TlsMode,
    /// Trust only the certificates in PEM (a CA or a self-signed server
    /// certificate) instead of the system's
    #[arg(long, value_name = "PEM")]
    ca_file: Option<PathBuf>,
    /// The name to check in the server certificate [default: HOST]
    #[arg(long, value_name = "NAME")]
    tls_name: Option<String>,
    /// Delete each message on the server once it is stored and flushed to
    /// disk locally (default: keep it there and remember its UIDL so the
    /// next run skips it)
    #[arg(long)]
    delete: bool,
    /// Store CRLF line ends as received (default: LF, the Maildir
    /// convention)
    #[arg(long)]
    crlf: bool,
    /// Accept a message whose size differs from the LIST size (for servers
    /// that list estimates); default: refuse it
    #[arg(long)]
    lax_size: bool,
    /// Send one command at a time even if the server pipelines
    #[arg(long)]
    no_pipelining: bool,
    /// Network timeout in seconds
    #[arg(long, value_name = "SECS", default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..))]
    timeout: u64,
    /// More log output, repeatable (MAILWIRE_LOG=filter overrides)
    #[arg(short, long, action = ArgAction::Count)]
    verbose: u8,
    /// Only warnings and errors
    #[arg(short, long)]
    quiet: bool,
    /// Sleep N ms after each piece of message and each message
    #[arg(long, value_name = "N", help_heading = "Debugging options")]
    throttle_ms: Option<u64>,
    /// Drop the connection without QUIT after storing N messages
    #[arg(long, value_name = "N", help_heading = "Debugging options")]
    stop_after: Option<u64>,
}

/// A `--password` given on the command line; its value is not kept.
#[derive(Debug, Clone, Copy)]
struct Refused;

fn refuse_password(_: &str) -> Result<Refused, String> {
    Ok(Refused)
}

/// How to log in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Auth {
    /// USER and PASS
    User,
    /// APOP
    Apop,
    /// AUTH PLAIN
    Plain,
}

/// How to secure the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TlsMode {
    /// No TLS at all (the password travels in clear)
    None,
    /// STLS before logging in
    #[value(name = "starttls")]
    StartTls,
    /// TLS from the first byte
    Implicit,
}

/// A password; Debug never shows it.
pub struct Secret(Vec<u8>);

impl Secret {
    /// The password bytes. Named so that every use is visible in review.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Parsed options.
#[derive(Debug)]
pub struct Options {
    /// The host part of `--server`.
    pub host: String,
    /// The port part of `--server`.
    pub port: u16,
    /// The account.
    pub user: String,
    /// Where the password is; `None`: the environment.
    pub password_file: Option<PathBuf>,
    /// How to log in.
    pub auth: Auth,
    /// How to secure the connection.
    pub tls: TlsMode,
    /// Trusted certificates instead of the system's.
    pub ca_file: Option<PathBuf>,
    /// The name to check in the server certificate.
    pub tls_name: Option<String>,
    /// The local Maildir.
    pub maildir: PathBuf,
    /// Delete on the server after storing.
    pub delete: bool,
    /// Keep CRLF line ends.
    pub crlf: bool,
    /// Accept size mismatches.
    pub lax_size: bool,
    /// Never pipeline.
    pub no_pipelining: bool,
    /// Network timeout.
    pub timeout: Duration,
    /// -1 quiet, 0 normal, 1 or more verbose.
    pub verbosity: i8,
    /// Sleep after each body piece and each stored message.
    pub throttle: Option<Duration>,
    /// Drop the connection after storing this many messages.
    pub stop_after: Option<u64>,
}

/// The password from the first line of a file, or from the environment.
pub fn read_password(file: Option<&PathBuf>) -> Result<Secret, String> {
    let mut bytes = match file {
        Some(path) => {
            #[cfg(unix)]
            if let Ok(meta) = std::fs::metadata(path) {
                use std::os::unix::fs::PermissionsExt;
                if meta.permissions().mode() & 0o077 != 0 {
                    tracing::warn!(file = %path.display(), "the password file can be read by other users");
                }
            }
            let text = std::fs::read(path)
                .map_err(|e| format!("--password-file: cannot read {}: {e}", path.display()))?;
            let end = memchr::memchr(b'\n', &text).unwrap_or(text.len());
            text.get(..end).unwrap_or_default().to_vec()
        }
        None => match std::env::var_os("MAILWIRE_PASSWORD") {
            Some(value) => value.into_encoded_bytes(),
            None => {
                return Err("no password: give --password-file FILE or set MAILWIRE_PASSWORD".into());
            }
        },
    };
    if bytes.last() == Some(&b'\r') {
        bytes.pop();
    }
    if bytes.is_empty() {
        return Err("the password is empty".into());
    }
    Ok(Secret(bytes))
}

impl Options {
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
        if a.password.is_some() {
            return Err(usage(
                "passwords are not taken on the command line (other users can see it): \
                 use --password-file FILE or MAILWIRE_PASSWORD",
            ));
        }
        if a.tls == TlsMode::None && (a.ca_file.is_some() || a.tls_name.is_some()) {
            return Err(usage("--ca-file and --tls-name need --tls starttls or implicit"));
        }
        let (host, port) = a.server;
        Ok(Options {
            host,
            port,
            user: a.user,
            password_file: a.password_file,
            auth: a.auth,
            tls: a.tls,
            ca_file: a.ca_file,
            tls_name: a.tls_name,
            maildir: a.maildir,
            delete: a.delete,
            crlf: a.crlf,
            lax_size: a.lax_size,
            no_pipelining: a.no_pipelining,
            timeout: Duration::from_secs(a.timeout),
            verbosity: if a.quiet {
                -1
            } else {
                i8::try_from(a.verbose).unwrap_or(i8::MAX)
            },
            throttle: a.throttle_ms.map(Duration::from_millis),
            stop_after: a.stop_after,
        })
    }
}

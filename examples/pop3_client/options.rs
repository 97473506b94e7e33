//! The command line.

use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// The help text.
pub const USAGE: &str = "\
usage: pop3_client --server HOST:PORT --user USER --maildir DIR [options]

Downloads every message of a POP3 maildrop into a local Maildir.

The password comes from --password-file FILE (its first line) or from the
environment variable MAILWIRE_PASSWORD, never from the command line.

options:
  --server HOST:PORT     the POP3 server (port 110 for none/starttls, 995 for implicit)
  --user USER            the account name
  --maildir DIR          the local Maildir (created with cur/ new/ tmp/ if missing)
  --password-file FILE   read the password from the first line of FILE
  --auth user|apop|plain USER/PASS (default), APOP, or AUTH PLAIN
  --tls starttls|implicit|none
                         STLS before logging in (default), TLS from the first
                         byte, or no TLS at all (the password travels in clear)
  --ca-file PEM          trust only the certificates in PEM (a CA or a
                         self-signed server certificate) instead of the system's
  --tls-name NAME        the name to check in the server certificate (default HOST)
  --delete               delete each message on the server once it is stored
                         and flushed to disk locally (default: keep it there and
                         remember its UIDL so the next run skips it)
  --crlf                 store CRLF line ends as received (default: LF, the
                         Maildir convention)
  --lax-size             accept a message whose size differs from the LIST size
                         (for servers that list estimates); default: refuse it
  --no-pipelining        send one command at a time even if the server pipelines
  --timeout SECS         network timeout (default 120)
  -v, --verbose          more log output (MAILWIRE_LOG=filter overrides)
  -q, --quiet            only warnings and errors
  -h, --help             this text

debugging options:
  --throttle-ms N        sleep N ms after each piece of message and each message
  --stop-after N         drop the connection without QUIT after storing N messages

exit status: 0 done; 1 some messages failed (the others are done); 2 usage;
3 network, TLS or protocol failure; 4 login refused; 5 local storage failure;
6 login refused for now (mailbox in use, login delay, temporary failure);
7 stopped by --stop-after.";

/// How to log in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// USER and PASS.
    User,
    /// APOP.
    Apop,
    /// AUTH PLAIN.
    Plain,
}

/// How to secure the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// No TLS.
    None,
    /// STLS before logging in.
    StartTls,
    /// TLS from the first byte.
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

fn to_string(value: OsString, name: &str) -> Result<String, String> {
    value
        .into_string()
        .map_err(|_| format!("{name}: the value is not valid UTF-8"))
}

fn number<T: std::str::FromStr>(value: &str, name: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("{name}: {value:?} is not a valid number"))
}

/// Splits `HOST:PORT`, with `[v6]:PORT` for IPv6 addresses.
fn split_server(server: &str) -> Result<(String, u16), String> {
    let bad = || format!("--server: {server:?} is not HOST:PORT");
    let (host, port) = server.rsplit_once(':').ok_or_else(bad)?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.is_empty() || host.contains(':') && !server.starts_with('[') {
        return Err(bad());
    }
    let port: u16 = port.parse().map_err(|_| bad())?;
    if port == 0 {
        return Err(bad());
    }
    Ok((host.to_owned(), port))
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
    /// Parses the arguments (without the program name). `Ok(None)` means
    /// help was asked for.
    pub fn parse(args: Vec<OsString>) -> Result<Option<Options>, String> {
        let mut server = None;
        let mut user = None;
        let mut maildir = None;
        let mut password_file = None;
        let mut auth = Auth::User;
        let mut tls = TlsMode::StartTls;
        let mut ca_file = None;
        let mut tls_name = None;
        let (mut delete, mut crlf, mut lax_size, mut no_pipelining) = (false, false, false, false);
        let mut timeout = Duration::from_secs(120);
        let mut verbosity = 0i8;
        let mut throttle = None;
        let mut stop_after = None;

        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let arg = to_string(arg, "argument")?;
            let (name, inline) = match arg.split_once('=') {
                Some((n, v)) if n.starts_with("--") => (n.to_owned(), Some(v.to_owned())),
                _ => (arg.clone(), None),
            };
            let mut value = |name: &str| -> Result<String, String> {
                match inline.clone() {
                    Some(v) => Ok(v),
                    None => to_string(args.next().ok_or(format!("{name} needs a value"))?, name),
                }
            };
            match name.as_str() {
                "-h" | "--help" => return Ok(None),
                "--server" => server = Some(split_server(&value("--server")?)?),
                "--user" => user = Some(value("--user")?),
                "--maildir" => maildir = Some(PathBuf::from(value("--maildir")?)),
                "--password-file" => password_file = Some(PathBuf::from(value("--password-file")?)),
                "--password" | "-p" => {
                    return Err("passwords are not taken on the command line (other users can \
                                see it): use --password-file FILE or MAILWIRE_PASSWORD"
                        .into());
                }
                "--auth" => {
                    auth = match value("--auth")?.as_str() {
                        "user" => Auth::User,
                        "apop" => Auth::Apop,
                        "plain" => Auth::Plain,
                        other => return Err(format!("--auth: {other:?} is not user, apop or plain")),
                    }
                }
                "--tls" => {
                    tls = match value("--tls")?.as_str() {
                        "none" => TlsMode::None,
                        "starttls" => TlsMode::StartTls,
                        "implicit" => TlsMode::Implicit,
                        other => return Err(format!("--tls: {other:?} is not none, starttls or implicit")),
                    }
                }
                "--ca-file" => ca_file = Some(PathBuf::from(value("--ca-file")?)),
                "--tls-name" => tls_name = Some(value("--tls-name")?),
                "--delete" => delete = true,
                "--crlf" => crlf = true,
                "--lax-size" => lax_size = true,
                "--no-pipelining" => no_pipelining = true,
                "--timeout" => {
                    let secs: u64 = number(&value("--timeout")?, "--timeout")?;
                    if secs == 0 {
                        return Err("--timeout must be at least 1 second".into());
                    }
                    timeout = Duration::from_secs(secs);
                }
                "-v" | "--verbose" => verbosity = verbosity.saturating_add(1),
                "-q" | "--quiet" => verbosity = -1,
                "--throttle-ms" => {
                    throttle = Some(Duration::from_millis(number(
                        &value("--throttle-ms")?,
                        "--throttle-ms",
                    )?))
                }
                "--stop-after" => stop_after = Some(number(&value("--stop-after")?, "--stop-after")?),
                other => return Err(format!("unknown option {other:?}")),
            }
        }
        let (host, port) = server.ok_or("--server HOST:PORT is required")?;
        let user = user.ok_or("--user USER is required")?;
        if user.is_empty() {
            return Err("--user: the name is empty".into());
        }
        let maildir = maildir.ok_or("--maildir DIR is required")?;
        if tls == TlsMode::None && (ca_file.is_some() || tls_name.is_some()) {
            return Err("--ca-file and --tls-name need --tls starttls or implicit".into());
        }
        Ok(Some(Options {
            host,
            port,
            user,
            password_file,
            auth,
            tls,
            ca_file,
            tls_name,
            maildir,
            delete,
            crlf,
            lax_size,
            no_pipelining,
            timeout,
            verbosity,
            throttle,
            stop_after,
        }))
    }
}

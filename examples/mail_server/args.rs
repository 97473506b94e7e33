//! The command line.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use mailwire::mailbox::LockPolicy;

pub const USAGE: &str = "\
usage: mail_server [OPTIONS]

With no --mail-root and --users, runs the demo: user alice, password secret,
a few sample messages, POP3 on 127.0.0.1:1110 and POP3S on 127.0.0.1:1995.

  --mail-root DIR          each user's mail is DIR/<user>/Maildir
  --users FILE             Dovecot passwd-file (user:{SCHEME}password:...)
  --pop3 ADDR              plain POP3 with STLS (repeatable; default 127.0.0.1:1110)
  --pop3s ADDR             POP3 in implicit TLS, RFC 8314 (repeatable; default 127.0.0.1:1995)
  --tls-cert PEM           certificate chain (with --tls-key; default: self-signed, made at start)
  --tls-key PEM            private key
  --allow-plaintext-auth   allow USER/PASS and AUTH PLAIN without TLS
  --lock exclusive|none    one POP3 session per maildrop (default), or no lock
  --uidl-format TEMPLATE   unique ids from %u (UID) and %v (UIDVALIDITY); default %08xu%08xv,
                           what Dovecot 2.3 sends for its default pop3_uidl_format = %08Xu%08Xv
  --idle-timeout SECS      close idle connections (default 600, RFC 1939's minimum)
  --auth-failure-delay MS  wait before answering a failed login (default 2000)
  --max-connections N      refuse connections beyond N (default 1000)
  --demo-dir DIR           where the demo keeps its files (default: target/mail-demo)
  -h, --help               this text

Logs go to standard error; set RUST_LOG (e.g. RUST_LOG=debug) to change the level.";

/// The unique ids Dovecot 2.3 sends with its default `pop3_uidl_format =
/// %08Xu%08Xv`: its `X` modifier writes lowercase hexadecimal.
pub const DOVECOT_UIDLS: &str = "%08xu%08xv";

/// What the command line asked for.
#[derive(Debug, Clone)]
pub struct Options {
    pub mail_root: Option<PathBuf>,
    pub users: Option<PathBuf>,
    pub pop3: Vec<SocketAddr>,
    pub pop3s: Vec<SocketAddr>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub allow_plaintext_auth: bool,
    pub lock: LockPolicy,
    pub uidl_format: String,
    pub idle_timeout: Duration,
    pub auth_failure_delay: Duration,
    pub max_connections: usize,
    pub demo_dir: Option<PathBuf>,
}

impl Options {
    /// Whether this is the demo (no mail root and no users given).
    pub fn is_demo(&self) -> bool {
        self.mail_root.is_none() && self.users.is_none()
    }
}

/// Parses the arguments (without the program name). `Err` holds the
/// message to print; `Ok(None)` means help was asked for.
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Option<Options>, String> {
    let mut o = Options {
        mail_root: None,
        users: None,
        pop3: Vec::new(),
        pop3s: Vec::new(),
        tls_cert: None,
        tls_key: None,
        allow_plaintext_auth: false,
        lock: LockPolicy::Exclusive,
        uidl_format: DOVECOT_UIDLS.into(),
        idle_timeout: Duration::from_secs(600),
        auth_failure_delay: Duration::from_millis(2000),
        max_connections: 1000,
        demo_dir: None,
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        let addr = |v: String| {
            v.parse::<SocketAddr>()
                .map_err(|e| format!("{name}: {v:?} is not an address like 127.0.0.1:1110 ({e})"))
        };
        let number = |v: String| {
            v.parse::<u64>()
                .map_err(|_| format!("{name}: {v:?} is not a number"))
        };
        match name.as_str() {
            "-h" | "--help" => return Ok(None),
            "--mail-root" => o.mail_root = Some(value()?.into()),
            "--users" => o.users = Some(value()?.into()),
            "--pop3" => o.pop3.push(addr(value()?)?),
            "--pop3s" => o.pop3s.push(addr(value()?)?),
            "--tls-cert" => o.tls_cert = Some(value()?.into()),
            "--tls-key" => o.tls_key = Some(value()?.into()),
            "--allow-plaintext-auth" if inline.is_none() => o.allow_plaintext_auth = true,
            "--lock" => {
                o.lock = match value()?.as_str() {
                    "exclusive" => LockPolicy::Exclusive,
                    "none" => LockPolicy::None,
                    other => return Err(format!("--lock: {other:?} is not exclusive or none")),
                }
            }
            "--uidl-format" => o.uidl_format = value()?,
            "--idle-timeout" => o.idle_timeout = Duration::from_secs(number(value()?)?.max(1)),
            "--auth-failure-delay" => o.auth_failure_delay = Duration::from_millis(number(value()?)?),
            "--max-connections" => {
                o.max_connections = usize::try_from(number(value()?)?.max(1)).unwrap_or(usize::MAX)
            }
            "--demo-dir" => o.demo_dir = Some(value()?.into()),
            _ => return Err(format!("unknown argument {arg:?}")),
        }
    }
    if o.mail_root.is_some() != o.users.is_some() {
        return Err("--mail-root and --users go together".into());
    }
    if o.tls_cert.is_some() != o.tls_key.is_some() {
        return Err("--tls-cert and --tls-key go together".into());
    }
    if !o.is_demo() && o.demo_dir.is_some() {
        return Err("--demo-dir is for the demo, not with --mail-root".into());
    }
    if o.pop3.is_empty() && o.pop3s.is_empty() {
        o.pop3.push(SocketAddr::from(([127, 0, 0, 1], 1110)));
        o.pop3s.push(SocketAddr::from(([127, 0, 0, 1], 1995)));
    }
    Ok(Some(o))
}

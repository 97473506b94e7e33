//! The user database: a Dovecot passwd-file.
//!
//! Each line is `user:password:uid:gid:gecos:home:shell:extra_fields`; the
//! user, the password and one extra field are used here (a user's mail is
//! always `<mail root>/<user>/Maildir`): Dovecot's
//! `userdb_quota_rule=*:storage=SIZE` (`SIZE` in octets or with a `k`, `M`,
//! `G` or `T` suffix of powers of 1024, `messages=N` also allowed, several
//! joined with `:`) sets the user's quota, announced by IMAP's QUOTA;
//! `nologin` (a flag, whatever value it is given; `reason=TEXT` is
//! logged) refuses the user's logins (IMAP `NO
//! [CONTACTADMIN]`, POP3 `-ERR [SYS/PERM]`, after the password was
//! right); `allow_nets=NET,...` (addresses or `ADDRESS/BITS`, IPv4 or
//! IPv6) admits logins from those networks only, others failing as a
//! wrong password would. Blank lines and lines starting with `#` are
//! skipped. The password is `{SCHEME}value`; without a scheme it is
//! taken as `CRYPT`, Dovecot's default for passwd-files. Schemes:
//!
//! - `PLAIN` (also `CLEAR`, `CLEARTEXT`): the password itself;
//! - `SHA512-CRYPT` and `SHA256-CRYPT` (`$6$` and `$5$`, as made by
//!   `doveadm pw -s SHA512-CRYPT`), and `CRYPT` with one of those;
//! - `ARGON2ID` and `ARGON2I` (PHC strings, `$argon2id$v=19$...`).
//!
//! Every comparison of secrets is constant-time, and an unknown user costs
//! as much as most known users (a check against a password of the scheme
//! and parameters most users have), so timing does not tell which users
//! exist.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

// The same trait for both crates (password-hash).
use argon2::PasswordVerifier as _;
use subtle::ConstantTimeEq;

/// The longest password checked. SHA-crypt's work grows with the square
/// of a password's length (a megabyte takes minutes), and a login may
/// carry a literal or a SASL response far longer than any password.
pub const MAX_PASSWORD: usize = 1024;

/// The longest user name (see `check_user_name`).
const MAX_USER: usize = 255;

/// How one user's password is stored.
#[derive(Clone)]
enum Secret {
    Plain(Vec<u8>),
    ShaCrypt(String),
    Argon2(String),
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print a password or a hash.
        f.write_str(match self {
            Secret::Plain(_) => "PLAIN(..)",
            Secret::ShaCrypt(_) => "SHA-CRYPT(..)",
            Secret::Argon2(_) => "ARGON2(..)",
        })
    }
}

impl Secret {
    /// What the cost of a check depends on: the scheme and its parameters
    /// (a hash without its salt and digest), not the password.
    fn cost(&self) -> &str {
        match self {
            Secret::Plain(_) => "PLAIN",
            Secret::ShaCrypt(hash) | Secret::Argon2(hash) => {
                // `$id[$params]$salt$digest`: the last two fields go.
                let mut end = hash.len();
                for _ in 0..2 {
                    end = hash[..end].rfind('$').unwrap_or(0);
                }
                &hash[..end]
            }
        }
    }

    fn verify(&self, password: &[u8]) -> bool {
        record_check(self.cost());
        match self {
            // Digests of equal length are compared, so the time tells
            // nothing of the password's length either.
            Secret::Plain(expected) => {
                use sha2::Digest as _;
                let (a, b) = (sha2::Sha256::digest(expected), sha2::Sha256::digest(password));
                bool::from(a.as_slice().ct_eq(b.as_slice()))
            }
            Secret::ShaCrypt(hash) => sha_crypt::ShaCrypt::default()
                .verify_password(password, hash.as_str())
                .is_ok(),
            Secret::Argon2(hash) => argon2::Argon2::default()
                .verify_password(password, hash.as_str())
                .is_ok(),
        }
    }
}

#[cfg(test)]
thread_local! {
    /// The checks of passwords made on this thread, by their scheme and
    /// parameters as [`Users::unknown_user_cost`] writes them: tests see
    /// what work a login did without timing it.
    pub static CHECKS_MADE: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

#[cfg(test)]
fn record_check(cost: &str) {
    CHECKS_MADE.with(|made| made.borrow_mut().push(cost.to_owned()));
}

#[cfg(not(test))]
fn record_check(_: &str) {}

/// A passwd-file that failed to load: the line and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsersError {
    /// The 1-based line number (0: the file could not be read).
    pub line: usize,
    /// What is wrong.
    pub problem: String,
}

impl fmt::Display for UsersError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.problem)
        } else {
            write!(f, "line {}: {}", self.line, self.problem)
        }
    }
}

impl std::error::Error for UsersError {}

/// A user's limits (`userdb_quota_rule`); `None` is unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QuotaRule {
    /// The most octets all the user's messages may take.
    pub storage: Option<u64>,
    /// The most messages the user may keep.
    pub messages: Option<u64>,
}

impl QuotaRule {
    /// Whether any limit is set.
    pub fn is_limited(&self) -> bool {
        self.storage.is_some() || self.messages.is_some()
    }
}

/// Who may log in from where: Dovecot's `nologin` and `allow_nets`
/// extra fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Access {
    /// `nologin`, with its `reason=` (or a default) when given.
    nologin: Option<String>,
    /// `allow_nets=NET,...`: the networks a login may come from.
    allow_nets: Option<Vec<(std::net::IpAddr, u8)>>,
}

/// Why a user whose password is right may not log in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denied {
    /// `nologin`: the reason to show.
    NoLogin(String),
    /// Not from a network `allow_nets` names.
    Network,
}

/// The users who may log in, with their passwords and quotas.
#[derive(Debug, Clone)]
pub struct Users {
    users: HashMap<String, (Secret, QuotaRule, Access)>,
    /// What a login as an unknown user is checked against: a password of
    /// the scheme and parameters most users have, so that it costs what
    /// most known users cost ([`NO_USERS_DUMMY`] without users).
    dummy: Secret,
}

/// Without users, a login is checked against this SHA512-CRYPT hash of
/// the default rounds ("Hello world!" from the SHA-crypt specification).
const NO_USERS_DUMMY: &str =
    "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1";

impl Users {
    /// Reads a passwd-file.
    pub fn load(path: &Path) -> Result<Users, UsersError> {
        let text = std::fs::read_to_string(path).map_err(|e| UsersError {
            line: 0,
            problem: format!("cannot read {}: {e}", path.display()),
        })?;
        Users::parse(&text)
    }

    /// Reads a passwd-file that may be rewritten meanwhile (a reload):
    /// refused if it changed while it was read (its size, time or file),
    /// or if it ends in the middle of a line and was written in the last
    /// two seconds, as a file caught half-written does (one that has
    /// rested since, as an editor saving without a final line end leaves
    /// it, is taken).
    pub fn load_whole(path: &Path) -> Result<Users, UsersError> {
        use std::os::unix::fs::MetadataExt as _;
        let stamp = |what: &str| {
            std::fs::metadata(path)
                .map(|m| (m.len(), m.modified().ok(), m.ino(), m.dev()))
                .map_err(|e| UsersError {
                    line: 0,
                    problem: format!("cannot {what} {}: {e}", path.display()),
                })
        };
        let before = stamp("read")?;
        let text = std::fs::read_to_string(path).map_err(|e| UsersError {
            line: 0,
            problem: format!("cannot read {}: {e}", path.display()),
        })?;
        if stamp("read")? != before || text.len() as u64 != before.0 {
            return Err(UsersError {
                line: 0,
                problem: "changed while it was read (replace it by a rename)".into(),
            });
        }
        let fresh = before
            .1
            .and_then(|m| std::time::SystemTime::now().duration_since(m).ok())
            .is_none_or(|age| age < std::time::Duration::from_secs(2));
        if fresh && !text.is_empty() && !text.ends_with('\n') {
            return Err(UsersError {
                line: text.lines().count(),
                problem: "ends in the middle of a line: maybe still being written (replace it by a rename)"
                    .into(),
            });
        }
        Users::parse(&text)
    }

    /// Parses the text of a passwd-file.
    pub fn parse(text: &str) -> Result<Users, UsersError> {
        let mut users = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            let line_no = i + 1;
            let err = |problem: String| UsersError {
                line: line_no,
                problem,
            };
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let mut fields = line.splitn(8, ':');
            let user = fields.next().unwrap_or_default();
            let Some(password) = fields.next() else {
                return Err(err("expected user:password".into()));
            };
            check_user_name(user).map_err(&err)?;
            let secret = parse_password(password).map_err(&err)?;
            let extra = fields.nth(5).unwrap_or_default();
            let quota = parse_extra_fields(extra).map_err(&err)?;
            let access = parse_access(extra).map_err(&err)?;
            if users.insert(user.to_owned(), (secret, quota, access)).is_some() {
                return Err(err(format!("user {user:?} is listed twice")));
            }
        }
        let mut costs: HashMap<&str, (usize, &Secret)> = HashMap::new();
        for (secret, _, _) in users.values() {
            costs.entry(secret.cost()).or_insert((0, secret)).0 += 1;
        }
        // The most common cost; of equal counts, the first in order of
        // name, so that the choice does not depend on hashing.
        let dummy = costs
            .into_values()
            .max_by(|a, b| a.0.cmp(&b.0).then_with(|| b.1.cost().cmp(a.1.cost())))
            .map_or_else(
                || Secret::ShaCrypt(NO_USERS_DUMMY.to_owned()),
                |(_, secret)| secret.clone(),
            );
        Ok(Users { users, dummy })
    }

    /// The scheme and parameters a login as an unknown user is checked
    /// with (`PLAIN`, or a hash without its salt and digest, like
    /// `$6$rounds=10000`).
    pub fn unknown_user_cost(&self) -> &str {
        self.dummy.cost()
    }

    /// How many users' passwords are hashed with another scheme or other
    /// parameters than [`Users::unknown_user_cost`]: a login as one of
    /// them takes another time than a login as an unknown user, which
    /// tells that they exist.
    pub fn telling_users(&self) -> usize {
        let cost = self.dummy.cost();
        self.users.values().filter(|(s, _, _)| s.cost() != cost).count()
    }

    /// Logs what a login's time tells (see [`Users::telling_users`]).
    pub fn log_costs(&self) {
        tracing::debug!(
            unknown_user_cost = self.unknown_user_cost(),
            "logins as unknown users are checked against this scheme"
        );
        let telling = self.telling_users();
        if telling > 0 {
            tracing::warn!(
                users = telling,
                most = self.unknown_user_cost(),
                "some passwords are hashed otherwise than most: how long a login takes tells that those users \
                 exist (hash them as most are)"
            );
        }
    }

    /// How many users there are.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Checks a user's password; the user's name if it is right. Takes
    /// about as long for a user who does not exist. A user name longer
    /// than any the file may hold, or a password longer than
    /// [`MAX_PASSWORD`], is wrong without a check.
    pub fn verify(&self, user: &[u8], password: &[u8]) -> Option<&str> {
        if user.len() > MAX_USER || password.len() > MAX_PASSWORD {
            return None;
        }
        let found = std::str::from_utf8(user)
            .ok()
            .and_then(|u| self.users.get_key_value(u));
        match found {
            Some((name, (secret, _, _))) => secret.verify(password).then_some(name.as_str()),
            None => {
                // As much work as most known users' checks (the result is
                // kept from the optimiser, and thrown away).
                std::hint::black_box(self.dummy.verify(std::hint::black_box(password)));
                None
            }
        }
    }
}

impl Users {
    /// A user's quota (unlimited for an unknown user).
    pub fn quota(&self, user: &str) -> QuotaRule {
        self.users.get(user).map(|(_, q, _)| *q).unwrap_or_default()
    }

    /// Whether `user` (whose password was right) may log in from `peer`.
    pub fn access(&self, user: &str, peer: std::net::IpAddr) -> Result<(), Denied> {
        let Some((_, _, access)) = self.users.get(user) else {
            return Ok(());
        };
        if let Some(reason) = &access.nologin {
            return Err(Denied::NoLogin(reason.clone()));
        }
        match &access.allow_nets {
            Some(nets) if !nets.iter().any(|&(net, bits)| in_net(peer, net, bits)) => Err(Denied::Network),
            _ => Ok(()),
        }
    }
}

/// Whether `ip` is in `net/bits` (an IPv4 address mapped into IPv6 counts
/// as IPv4).
fn in_net(ip: std::net::IpAddr, net: std::net::IpAddr, bits: u8) -> bool {
    use std::net::IpAddr;
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    let prefix = |a: &[u8], b: &[u8], bits: u8| {
        let whole = usize::from(bits / 8);
        let rest = bits % 8;
        a[..whole] == b[..whole] && (rest == 0 || (a[whole] ^ b[whole]) >> (8 - rest) == 0)
    };
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => prefix(&a.octets(), &b.octets(), bits),
        (IpAddr::V6(a), IpAddr::V6(b)) => prefix(&a.octets(), &b.octets(), bits),
        _ => false,
    }
}

/// Dovecot's `nologin` (with `reason=TEXT`, one word, as the fields are
/// separated by spaces) and `allow_nets`
/// (comma-separated addresses or networks; `local`, a UNIX socket, never
/// matches a network connection).
fn parse_access(extra: &str) -> Result<Access, String> {
    let mut access = Access::default();
    let mut reason = None;
    for field in extra.split_whitespace() {
        // Dovecot reads `nologin` as a flag: present, with any value or
        // none, it refuses the login.
        if field.split_once('=').map_or(field, |(name, _)| name) == "nologin" {
            access.nologin = Some(String::new());
        } else if let Some(text) = field.strip_prefix("reason=") {
            reason = Some(text.to_owned());
        } else if let Some(list) = field.strip_prefix("allow_nets=") {
            let mut nets = Vec::new();
            for net in list.split(',').filter(|n| !n.is_empty() && *n != "local") {
                let bad = || format!("allow_nets {net:?}: expected an address or ADDRESS/BITS");
                let (addr, bits) = net.split_once('/').unwrap_or((net, ""));
                let addr: std::net::IpAddr = addr.parse().map_err(|_| bad())?;
                let max = if addr.is_ipv4() { 32 } else { 128 };
                let bits = if bits.is_empty() {
                    max
                } else {
                    bits.parse().map_err(|_| bad())?
                };
                if bits > max {
                    return Err(bad());
                }
                nets.push((addr, bits));
            }
            access.allow_nets = Some(nets);
        }
    }
    if let Some(n) = &mut access.nologin {
        *n = reason.unwrap_or_else(|| "Login disabled".into());
    }
    Ok(access)
}

/// The extra fields used here: `userdb_quota_rule` (others are ignored,
/// as Dovecot ignores fields it has no use for).
fn parse_extra_fields(extra: &str) -> Result<QuotaRule, String> {
    let mut rule = QuotaRule::default();
    for field in extra.split_whitespace() {
        let Some(value) = field.strip_prefix("userdb_quota_rule=") else {
            continue;
        };
        let bad = || format!("userdb_quota_rule {value:?}: expected *:storage=SIZE[:messages=N]");
        let mut parts = value.split(':');
        if parts.next() != Some("*") {
            return Err(bad());
        }
        for part in parts {
            let (key, amount) = part.split_once('=').ok_or_else(bad)?;
            match key.to_ascii_lowercase().as_str() {
                "storage" => rule.storage = Some(parse_size(amount).ok_or_else(bad)?),
                "messages" => rule.messages = Some(amount.parse().map_err(|_| bad())?),
                _ => return Err(bad()),
            }
        }
    }
    Ok(rule)
}

/// `100`, `100B`, `64k`, `10M`, `1G`, `2T` (powers of 1024, as Dovecot).
fn parse_size(text: &str) -> Option<u64> {
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let shift = match unit.to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => return None,
    };
    digits.parse::<u64>().ok()?.checked_mul(1 << shift)
}

/// User names become directory names: refuse what could leave the mail
/// root or confuse the layout.
fn check_user_name(user: &str) -> Result<(), String> {
    if user.is_empty() || user.len() > MAX_USER {
        return Err("the user name must be 1 to 255 bytes".into());
    }
    if user.starts_with('.') || user.contains(['/', '\\']) || user.chars().any(|c| c.is_control() || c == ' ')
    {
        return Err(format!(
            "user name {user:?} must not start with '.' or hold '/', '\\', spaces or control characters"
        ));
    }
    Ok(())
}

fn parse_password(field: &str) -> Result<Secret, String> {
    let (scheme, value) = match field.strip_prefix('{').and_then(|rest| rest.split_once('}')) {
        Some((scheme, value)) => (scheme.to_ascii_uppercase(), value),
        None => ("CRYPT".to_owned(), field),
    };
    let sha_crypt = |value: &str, prefix: &str| {
        if value.starts_with(prefix) && sha_crypt::PasswordHashRef::new(value).is_ok() {
            Ok(Secret::ShaCrypt(value.to_owned()))
        } else {
            Err(format!("{scheme} needs a {prefix}... hash"))
        }
    };
    let argon2 = |value: &str, prefix: &str| {
        if value.starts_with(prefix) && argon2::PasswordHash::new(value).is_ok() {
            Ok(Secret::Argon2(value.to_owned()))
        } else {
            Err(format!("{scheme} needs a {prefix}... PHC string"))
        }
    };
    match scheme.as_str() {
        "PLAIN" | "CLEAR" | "CLEARTEXT" => {
            if value.is_empty() {
                Err("empty password".into())
            } else {
                Ok(Secret::Plain(value.as_bytes().to_vec()))
            }
        }
        "SHA512-CRYPT" => sha_crypt(value, "$6$"),
        "SHA256-CRYPT" => sha_crypt(value, "$5$"),
        "ARGON2ID" => argon2(value, "$argon2id$"),
        "ARGON2I" => argon2(value, "$argon2i$"),
        "CRYPT" if value.starts_with("$6$") || value.starts_with("$5$") => sha_crypt(value, &value[..3]),
        "CRYPT" if value.starts_with("$argon2") => argon2(value, "$argon2"),
        "CRYPT" => {
            Err("only $6$ (SHA512-CRYPT), $5$ (SHA256-CRYPT) and $argon2 crypt hashes are supported".into())
        }
        other => Err(format!(
            "unsupported password scheme {{{other}}} (supported: PLAIN, SHA512-CRYPT, SHA256-CRYPT, ARGON2ID, ARGON2I, CRYPT)"
        )),
    }
}

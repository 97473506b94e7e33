//! The user database: a Dovecot passwd-file.
//!
//! Each line is `user:password:uid:gid:gecos:home:shell:extra_fields`; only
//! the first two fields are used here (a user's mail is always
//! `<mail root>/<user>/Maildir`). Blank lines and lines starting with `#`
//! are skipped. The password is `{SCHEME}value`; without a scheme it is
//! taken as `CRYPT`, Dovecot's default for passwd-files. Schemes:
//!
//! - `PLAIN` (also `CLEAR`, `CLEARTEXT`): the password itself;
//! - `SHA512-CRYPT` and `SHA256-CRYPT` (`$6$` and `$5$`, as made by
//!   `doveadm pw -s SHA512-CRYPT`), and `CRYPT` with one of those;
//! - `ARGON2ID` and `ARGON2I` (PHC strings, `$argon2id$v=19$...`).
//!
//! Every comparison of secrets is constant-time, and an unknown user costs
//! as much as a known one, so timing does not tell which users exist.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

// The same trait for both crates (password-hash).
use argon2::PasswordVerifier as _;
use subtle::ConstantTimeEq;

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
    fn verify(&self, password: &[u8]) -> bool {
        match self {
            Secret::Plain(expected) => bool::from(expected.as_slice().ct_eq(password)),
            Secret::ShaCrypt(hash) => sha_crypt::ShaCrypt::default()
                .verify_password(password, hash.as_str())
                .is_ok(),
            Secret::Argon2(hash) => argon2::Argon2::default()
                .verify_password(password, hash.as_str())
                .is_ok(),
        }
    }
}

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

/// The users who may log in, with their passwords.
#[derive(Debug, Clone, Default)]
pub struct Users {
    users: HashMap<String, Secret>,
}

impl Users {
    /// Reads a passwd-file.
    pub fn load(path: &Path) -> Result<Users, UsersError> {
        let text = std::fs::read_to_string(path).map_err(|e| UsersError {
            line: 0,
            problem: format!("cannot read {}: {e}", path.display()),
        })?;
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
            let mut fields = line.splitn(3, ':');
            let user = fields.next().unwrap_or_default();
            let Some(password) = fields.next() else {
                return Err(err("expected user:password".into()));
            };
            check_user_name(user).map_err(&err)?;
            let secret = parse_password(password).map_err(&err)?;
            if users.insert(user.to_owned(), secret).is_some() {
                return Err(err(format!("user {user:?} is listed twice")));
            }
        }
        Ok(Users { users })
    }

    /// How many users there are.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Checks a user's password; the user's name if it is right. Takes
    /// about as long for a user who does not exist.
    pub fn verify(&self, user: &[u8], password: &[u8]) -> Option<&str> {
        let found = std::str::from_utf8(user)
            .ok()
            .and_then(|u| self.users.get_key_value(u));
        match found {
            Some((name, secret)) => secret.verify(password).then_some(name.as_str()),
            None => {
                // As much work as a SHA512-CRYPT check with default rounds.
                let _ = sha_crypt::sha512_crypt(password, b"mailwiredummy", sha_crypt::Params::default());
                None
            }
        }
    }
}

/// User names become directory names: refuse what could leave the mail
/// root or confuse the layout.
fn check_user_name(user: &str) -> Result<(), String> {
    if user.is_empty() || user.len() > 255 {
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

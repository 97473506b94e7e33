//! Authentication helpers: APOP digests (RFC 1939 section 7), the SASL
//! PLAIN message (RFC 4616) and the extension point for other SASL
//! mechanisms on the server (RFC 5034).

use std::fmt;

use md5::{Digest as _, Md5};
use subtle::ConstantTimeEq;

use crate::command::Digest;
use crate::types::{Timestamp, TypeError};

/// Computes the APOP digest: MD5 of the timestamp (brackets included)
/// followed by the shared secret.
pub fn apop_digest(timestamp: &Timestamp<'_>, secret: &[u8]) -> Digest {
    let mut md5 = Md5::new();
    md5.update(timestamp.as_str().as_bytes());
    md5.update(secret);
    Digest(md5.finalize().into())
}

/// Checks an APOP digest against the shared secret in constant time.
pub fn apop_verify(timestamp: &Timestamp<'_>, secret: &[u8], digest: &Digest) -> bool {
    apop_digest(timestamp, secret).0.ct_eq(&digest.0).into()
}

/// The message of the PLAIN mechanism: `[authzid] NUL authcid NUL passwd`.
#[derive(Clone, PartialEq, Eq)]
pub struct PlainCredentials {
    /// The identity to act as; empty means the same as `authcid`.
    pub authzid: Vec<u8>,
    /// The identity whose password is given.
    pub authcid: Vec<u8>,
    password: Vec<u8>,
}

impl PlainCredentials {
    /// Builds credentials; fails if a field holds NUL or a required field
    /// is empty.
    pub fn new(authzid: &[u8], authcid: &[u8], password: &[u8]) -> Result<Self, TypeError> {
        let c = PlainCredentials {
            authzid: authzid.to_vec(),
            authcid: authcid.to_vec(),
            password: password.to_vec(),
        };
        c.check()?;
        Ok(c)
    }

    fn check(&self) -> Result<(), TypeError> {
        let bad = |problem| TypeError {
            what: "PLAIN message",
            problem,
            byte: None,
            position: None,
        };
        if self.authcid.is_empty() || self.password.is_empty() {
            return Err(bad("authcid and password must not be empty"));
        }
        if [&self.authzid, &self.authcid, &self.password]
            .iter()
            .any(|f| f.contains(&0))
        {
            return Err(bad("fields must not contain NUL"));
        }
        if [&self.authzid, &self.authcid, &self.password]
            .iter()
            .any(|f| f.len() > 255)
        {
            return Err(bad("fields are limited to 255 octets"));
        }
        Ok(())
    }

    /// Parses the decoded PLAIN message.
    pub fn parse(message: &[u8]) -> Result<Self, TypeError> {
        let mut parts = message.splitn(3, |&b| b == 0);
        let (Some(authzid), Some(authcid), Some(password)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(TypeError {
                what: "PLAIN message",
                problem: "needs two NUL separators",
                byte: None,
                position: None,
            });
        };
        Self::new(authzid, authcid, password)
    }

    /// The raw PLAIN message, to be base64-encoded.
    pub fn to_message(&self) -> Vec<u8> {
        let mut m = Vec::with_capacity(self.authzid.len() + self.authcid.len() + self.password.len() + 2);
        m.extend_from_slice(&self.authzid);
        m.push(0);
        m.extend_from_slice(&self.authcid);
        m.push(0);
        m.extend_from_slice(&self.password);
        m
    }

    /// The password. Named so that every use is visible in review.
    pub fn expose_password(&self) -> &[u8] {
        &self.password
    }
}

impl fmt::Debug for PlainCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlainCredentials")
            .field("authzid", &String::from_utf8_lossy(&self.authzid))
            .field("authcid", &String::from_utf8_lossy(&self.authcid))
            .field("password", &"<redacted>")
            .finish()
    }
}

/// One step of a server-side SASL mechanism.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaslStep {
    /// Send this challenge (raw bytes; the session base64-encodes it).
    Challenge(Vec<u8>),
    /// The client proved its identity.
    Success {
        /// The authenticated identity.
        authcid: Vec<u8>,
        /// The identity to act as, if different.
        authzid: Option<Vec<u8>>,
    },
    /// Authentication failed.
    Failure,
}

/// A server-side SASL mechanism other than the built-in PLAIN: the
/// extension point of [`crate::ServerSession`]. The mechanism verifies the
/// client itself (it owns whatever credential store it needs).
pub trait SaslMechanism: Send {
    /// The first step: `initial` is the initial response of the AUTH
    /// command, if the client sent one (decoded from base64).
    fn start(&mut self, initial: Option<&[u8]>) -> SaslStep;
    /// A later step with the client's decoded response.
    fn step(&mut self, response: &[u8]) -> SaslStep;
}

/// Seconds a user must still wait before logging in again under a
/// LOGIN-DELAY policy (RFC 2449 section 6.5); 0 when the login may go on.
/// The caller passes the times because this crate reads no clock.
pub fn login_delay_remaining(delay_seconds: u32, last_login_unix: Option<u64>, now_unix: u64) -> u64 {
    match last_login_unix {
        Some(last) => (last + u64::from(delay_seconds)).saturating_sub(now_unix),
        None => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1939_apop_example() {
        // RFC 1939 section 7: shared secret "tanstaaf".
        let ts = Timestamp::new("<1896.697170952@dbc.mtview.ca.us>").unwrap();
        let d = apop_digest(&ts, b"tanstaaf");
        let expected = Digest::from_hex(b"c4c9334bac560ecc979e58001b3e22fb").unwrap();
        assert_eq!(d, expected);
        assert!(apop_verify(&ts, b"tanstaaf", &expected));
        assert!(!apop_verify(&ts, b"tanstaaF", &expected));
    }

    #[test]
    fn plain_messages() {
        let c = PlainCredentials::parse(b"\0tim\0tanstaaftanstaaf").unwrap();
        assert_eq!(
            (c.authzid.as_slice(), c.authcid.as_slice()),
            (&b""[..], &b"tim"[..])
        );
        assert_eq!(c.to_message(), b"\0tim\0tanstaaftanstaaf");
        assert!(!format!("{c:?}").contains("tanstaaf"));
        assert!(PlainCredentials::parse(b"tim\0pw").is_err());
        assert!(PlainCredentials::parse(b"\0\0pw").is_err());
        assert!(PlainCredentials::parse(b"\0tim\0").is_err());
        // A NUL inside the password is a fourth field: rejected.
        assert!(PlainCredentials::parse(b"\0tim\0p\0w").is_err());
    }

    #[test]
    fn login_delay() {
        assert_eq!(login_delay_remaining(900, None, 1000), 0);
        assert_eq!(login_delay_remaining(900, Some(1000), 1600), 300);
        assert_eq!(login_delay_remaining(900, Some(1000), 2000), 0);
    }
}

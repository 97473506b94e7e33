//! What a server session asks of the application: the events, the handles
//! that answer them, and the login types.
//!
//! A handle is the only way to answer its request. It is moved back into
//! the session by the method that answers, so each request is answered
//! once, and only with the answers its type offers. Handles are plain owned
//! values (`Send + 'static`), so the answer may come later, from another
//! task or thread.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::auth::{PlainCredentials, apop_verify};
use crate::command::Digest;
use crate::maildrop::MaildropError;
use crate::types::{Mechanism, MessageNumber, Param, Password, Timestamp, UniqueId};

/// Serial numbers of requests, unique in the process so that a handle of
/// one session is never taken for the pending request of another.
static NEXT_SERIAL: AtomicU64 = AtomicU64::new(1);

pub(crate) fn next_serial() -> u64 {
    NEXT_SERIAL.fetch_add(1, Ordering::Relaxed)
}

/// Credentials presented by the client, for the application to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginRequest {
    /// USER then PASS.
    User {
        /// The user name.
        user: Param<'static>,
        /// The password.
        password: Password<'static>,
    },
    /// APOP; check with [`LoginRequest::verify_apop`].
    Apop {
        /// The user name.
        user: Param<'static>,
        /// The digest the client sent.
        digest: Digest,
        /// The timestamp of this session's greeting.
        timestamp: Timestamp<'static>,
    },
    /// AUTH PLAIN (RFC 4616).
    Plain(PlainCredentials),
    /// Another SASL mechanism, which already verified the client.
    Sasl {
        /// The mechanism.
        mechanism: Mechanism<'static>,
        /// The authenticated identity.
        authcid: Vec<u8>,
        /// The identity to act as, if different.
        authzid: Option<Vec<u8>>,
    },
}

impl LoginRequest {
    /// The user to log in as (the authorization identity when one is given).
    pub fn user(&self) -> &[u8] {
        match self {
            LoginRequest::User { user, .. } | LoginRequest::Apop { user, .. } => user.as_inner(),
            LoginRequest::Plain(c) if !c.authzid.is_empty() => &c.authzid,
            LoginRequest::Plain(c) => &c.authcid,
            LoginRequest::Sasl { authzid: Some(z), .. } => z,
            LoginRequest::Sasl { authcid, .. } => authcid,
        }
    }

    /// For APOP, whether the digest matches `secret` (constant time);
    /// false for other requests.
    pub fn verify_apop(&self, secret: &[u8]) -> bool {
        match self {
            LoginRequest::Apop {
                digest, timestamp, ..
            } => apop_verify(timestamp, secret, digest),
            _ => false,
        }
    }
}

/// Why the application refuses a login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoginRejection {
    /// Wrong credentials: `-ERR [AUTH]`.
    BadCredentials,
    /// Logged in too recently: `-ERR [LOGIN-DELAY]`.
    LoginDelay,
    /// The maildrop is locked elsewhere: `-ERR [IN-USE]`.
    InUse,
    /// A transient failure such as an unreachable user database:
    /// `-ERR [SYS/TEMP]`.
    TemporaryFailure,
    /// A permanent failure: `-ERR [SYS/PERM]`.
    PermanentFailure,
}

impl From<&MaildropError> for LoginRejection {
    /// The rejection for a maildrop that could not be locked or listed.
    fn from(e: &MaildropError) -> Self {
        match e {
            MaildropError::InUse => LoginRejection::InUse,
            MaildropError::Temporary(_) => LoginRejection::TemporaryFailure,
            MaildropError::Permanent(_) => LoginRejection::PermanentFailure,
            // A message vanished while the maildrop was listed: a new
            // listing will do.
            MaildropError::Gone(_) => LoginRejection::TemporaryFailure,
        }
    }
}

/// Something the application must act on.
///
/// [`Login`](Self::Login), [`Retrieve`](Self::Retrieve) and
/// [`Commit`](Self::Commit) carry a handle; until it is passed back to the
/// session, the session processes no further command (input stays
/// buffered), so answers go out in order.
#[derive(Debug)]
#[non_exhaustive]
pub enum ServerEvent {
    /// Check the credentials ([`LoginHandle::request`]). To let the client
    /// in, lock the user's maildrop, list it and call
    /// [`ServerSession::accept_login`](crate::ServerSession::accept_login)
    /// with the list; otherwise call
    /// [`ServerSession::reject_login`](crate::ServerSession::reject_login)
    /// (with [`LoginRejection::InUse`] if the maildrop is locked elsewhere).
    Login(LoginHandle),
    /// RETR or TOP of a message that exists and is not deleted: stream it
    /// with [`ServerSession::message_data`](crate::ServerSession::message_data)
    /// and end with
    /// [`ServerSession::message_end`](crate::ServerSession::message_end),
    /// or give up with
    /// [`ServerSession::message_failed`](crate::ServerSession::message_failed).
    Retrieve(RetrieveHandle),
    /// QUIT in the TRANSACTION state (RFC 1939's UPDATE state): remove
    /// [`CommitHandle::deleted`] from the maildrop, all or none, release
    /// the lock, and call
    /// [`ServerSession::commit_done`](crate::ServerSession::commit_done) or
    /// [`ServerSession::commit_failed`](crate::ServerSession::commit_failed).
    Commit(CommitHandle),
    /// Send everything [`ServerSession::poll_transmit`](crate::ServerSession::poll_transmit)
    /// yields, run the TLS handshake, then call
    /// [`ServerSession::tls_established`](crate::ServerSession::tls_established).
    /// Input received after STLS and before the handshake was discarded.
    StartTls,
    /// The session is over. Send what remains, then close the connection.
    ///
    /// With `committed: false` nothing was removed: if the application
    /// locked a maildrop for this session, it releases the lock now
    /// without changing anything. That covers QUIT in the AUTHORIZATION
    /// state, a failed commit, a message that failed half-way, and the
    /// autologout timer. A session dropped before reporting `Closed` ends
    /// the same way: release the lock.
    Closed {
        /// Whether deletions were committed.
        committed: bool,
    },
}

/// The answer came with a handle that is not the session's pending
/// request: a handle of another session, or one whose session was
/// replaced or closed meanwhile. Nothing was changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the handle does not belong to this session's pending request")]
#[non_exhaustive]
pub struct HandleError;

/// A login waiting for the application's decision; answer with
/// [`ServerSession::accept_login`](crate::ServerSession::accept_login) or
/// [`ServerSession::reject_login`](crate::ServerSession::reject_login).
///
/// Like every handle it cannot be copied, so the request is answered once:
///
/// ```compile_fail
/// fn answer_twice(login: mailwire_pop3::LoginHandle) {
///     let again = login.clone();
/// }
/// ```
#[derive(Debug)]
#[must_use = "a login waits until the handle is passed to accept_login or reject_login"]
pub struct LoginHandle {
    pub(crate) serial: u64,
    pub(crate) request: LoginRequest,
}

impl LoginHandle {
    /// The credentials to check.
    pub fn request(&self) -> &LoginRequest {
        &self.request
    }

    /// The user to log in as ([`LoginRequest::user`]).
    pub fn user(&self) -> &[u8] {
        self.request.user()
    }
}

/// A RETR or TOP waiting for the message; answer with
/// [`ServerSession::message_data`](crate::ServerSession::message_data)
/// (as often as needed) and then
/// [`ServerSession::message_end`](crate::ServerSession::message_end), or
/// with [`ServerSession::message_failed`](crate::ServerSession::message_failed).
#[derive(Debug)]
#[must_use = "the session waits until the handle is passed to message_end or message_failed"]
pub struct RetrieveHandle {
    pub(crate) serial: u64,
    pub(crate) message: MessageNumber,
    pub(crate) size: u64,
    pub(crate) unique_id: UniqueId<'static>,
    pub(crate) lines: Option<u32>,
}

impl RetrieveHandle {
    /// The message number, in the list given at login.
    pub fn message(&self) -> MessageNumber {
        self.message
    }

    /// The size given at login ([`MessageInfo::size`](crate::MessageInfo::size)).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The unique id given at login.
    pub fn unique_id(&self) -> &UniqueId<'static> {
        &self.unique_id
    }

    /// For TOP, the number of body lines asked for; `None` for RETR.
    pub fn top_lines(&self) -> Option<u32> {
        self.lines
    }
}

/// The QUIT of a TRANSACTION waiting for the deletions to be committed;
/// answer with [`ServerSession::commit_done`](crate::ServerSession::commit_done)
/// or [`ServerSession::commit_failed`](crate::ServerSession::commit_failed).
#[derive(Debug)]
#[must_use = "the session waits until the handle is passed to commit_done or commit_failed"]
pub struct CommitHandle {
    pub(crate) serial: u64,
    pub(crate) deleted: Vec<MessageNumber>,
    pub(crate) retrieved: Vec<MessageNumber>,
}

impl CommitHandle {
    /// The messages marked deleted, in order; possibly none. Commit removes
    /// them all or none and releases the maildrop either way.
    pub fn deleted(&self) -> &[MessageNumber] {
        &self.deleted
    }

    /// The messages RETR sent whole since the login or the last RSET and
    /// not marked deleted, in order: a maildrop may mark them read with
    /// the commit (Dovecot sets `\Seen` on them at QUIT unless told not
    /// to with `pop3_no_flag_updates`). TOP does not count.
    pub fn retrieved(&self) -> &[MessageNumber] {
        &self.retrieved
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send_static<T: Send + 'static>() {}

    #[test]
    fn handles_and_events_can_move_to_another_task() {
        send_static::<LoginHandle>();
        send_static::<RetrieveHandle>();
        send_static::<CommitHandle>();
        send_static::<ServerEvent>();
        send_static::<HandleError>();
    }

    #[test]
    fn serials_are_unique() {
        let a = next_serial();
        let b = next_serial();
        assert_ne!(a, b);
    }
}

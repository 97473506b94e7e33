//! What a server session asks of the application, and the handles it
//! answers through.

use bytes::Bytes;

use crate::capability::Capability;
use crate::command::{Command, Secret};
use crate::id::IdParams;
use crate::string::Tag;

/// Something the application must act on (or may want to know).
#[derive(Debug)]
#[non_exhaustive]
pub enum ServerEvent {
    /// Credentials to check, or a step of a SASL exchange the application
    /// runs. Answer with [`ServerSession::accept_login`],
    /// [`ServerSession::reject_login`] or (SASL mechanisms other than
    /// PLAIN) [`ServerSession::sasl_challenge`].
    ///
    /// [`ServerSession::accept_login`]: super::ServerSession::accept_login
    /// [`ServerSession::reject_login`]: super::ServerSession::reject_login
    /// [`ServerSession::sasl_challenge`]: super::ServerSession::sasl_challenge
    Authenticate(AuthRequest),
    /// A synchronizing literal was announced: the client waits for a
    /// continuation request before it sends the data. Answer with
    /// [`ServerSession::accept_literal`] or
    /// [`ServerSession::refuse_literal`].
    ///
    /// [`ServerSession::accept_literal`]: super::ServerSession::accept_literal
    /// [`ServerSession::refuse_literal`]: super::ServerSession::refuse_literal
    Literal(LiteralRequest),
    /// A command for the store. Send its data with
    /// [`ServerSession::respond`] and finish it with
    /// [`ServerSession::complete`].
    ///
    /// [`ServerSession::respond`]: super::ServerSession::respond
    /// [`ServerSession::complete`]: super::ServerSession::complete
    Command(CommandRequest),
    /// The client identified itself with ID (RFC 2971); the session has
    /// answered. `None` for `ID NIL`.
    ClientId(Option<IdParams<'static>>),
    /// ENABLE turned these extensions on, or a CONDSTORE-enabling command
    /// (RFC 7162 section 3.1) turned CONDSTORE on: everything the session
    /// writes from now on follows them, and so must what the application
    /// sends. Comes before the command that turned them on (for SELECT or
    /// EXAMINE with CONDSTORE, once the mailbox opens).
    Enabled(Vec<Capability<'static>>),
    /// The client started IDLE: the session forwards mailbox changes as
    /// they are fed to it, until [`ServerEvent::IdleEnded`].
    IdleStarted,
    /// IDLE ended (with `DONE`, or because the connection closed).
    IdleEnded,
    /// Send everything [`ServerSession::poll_transmit`] yields, run the
    /// TLS handshake, then call [`ServerSession::tls_established`]. Input
    /// received after the STARTTLS command was discarded, as RFC 9051
    /// section 6.2.1 requires.
    ///
    /// [`ServerSession::poll_transmit`]: super::ServerSession::poll_transmit
    /// [`ServerSession::tls_established`]: super::ServerSession::tls_established
    StartTls,
    /// COMPRESS DEFLATE succeeded (RFC 4978). Send what
    /// [`ServerSession::poll_transmit`] yields as it is (it ends with the
    /// tagged OK); from then on compress everything the session writes and
    /// inflate everything the client sends, starting with `input`: bytes
    /// that arrived after the command, already compressed. Then call
    /// [`ServerSession::compression_started`].
    ///
    /// [`ServerSession::poll_transmit`]: super::ServerSession::poll_transmit
    /// [`ServerSession::compression_started`]: super::ServerSession::compression_started
    Compress {
        /// Compressed bytes received after the command.
        input: Bytes,
    },
    /// A message of an APPEND is announced: accept it with
    /// [`ServerSession::accept_append`] (its data follows as
    /// [`ServerEvent::AppendData`]) or refuse it with
    /// [`ServerSession::refuse_append`].
    ///
    /// [`ServerSession::accept_append`]: super::ServerSession::accept_append
    /// [`ServerSession::refuse_append`]: super::ServerSession::refuse_append
    Append(super::AppendRequest),
    /// A part of an accepted CATENATE message (RFC 4469), in order: append
    /// what its URL names and accept it, or accept its text literal (its
    /// data follows as [`ServerEvent::AppendData`]), with
    /// [`ServerSession::accept_catenate_part`]; or refuse it with
    /// [`ServerSession::refuse_catenate_part`].
    ///
    /// [`ServerSession::accept_catenate_part`]: super::ServerSession::accept_catenate_part
    /// [`ServerSession::refuse_catenate_part`]: super::ServerSession::refuse_catenate_part
    CatenatePart(super::CatenatePart),
    /// A piece of the accepted message's data, in order (of a CATENATE
    /// message's text parts, one after the other). The session reads
    /// no more input while more than
    /// [`ServerConfig::max_buffered_input`](super::ServerConfig::max_buffered_input)
    /// bytes of it wait in the event queue.
    AppendData(Bytes),
    /// The accepted message's data is complete.
    AppendMessageEnd,
    /// Every message of the APPEND arrived: commit them (all or none) and
    /// answer with [`ServerSession::complete_append`].
    ///
    /// [`ServerSession::complete_append`]: super::ServerSession::complete_append
    AppendComplete(super::AppendCompletion),
    /// The APPEND failed after messages were accepted (a refusal, a syntax
    /// error, the connection closing): drop what was received for it.
    AppendAborted,
    /// UNAUTHENTICATE (RFC 8437) returned the connection to the not
    /// authenticated state: release the user's resources.
    Unauthenticated,
    /// The session is over. Send what [`ServerSession::poll_transmit`]
    /// still yields, then close the connection.
    ///
    /// [`ServerSession::poll_transmit`]: super::ServerSession::poll_transmit
    Closed(CloseReason),
}

/// Why a session closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// The client sent LOGOUT.
    Logout,
    /// The greeting was `BYE`.
    Refused,
    /// No input for longer than the configured timeout.
    Autologout,
    /// [`ServerSession::shutdown`](super::ServerSession::shutdown).
    Shutdown,
    /// The client broke the protocol beyond recovery.
    ProtocolError,
}

/// Credentials the client presented.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Credentials {
    /// `LOGIN user password`.
    Login {
        /// The user name.
        user: Vec<u8>,
        /// The password.
        password: Secret<Vec<u8>>,
    },
    /// AUTHENTICATE PLAIN (RFC 4616).
    Plain {
        /// The identity to act as; empty to act as `authcid`.
        authzid: Vec<u8>,
        /// The identity whose password this is.
        authcid: Vec<u8>,
        /// The password.
        password: Secret<Vec<u8>>,
    },
}

impl Credentials {
    /// The user the client asks to act as.
    pub fn user(&self) -> &[u8] {
        match self {
            Credentials::Login { user, .. } => user,
            Credentials::Plain { authzid, authcid, .. } if authzid.is_empty() => authcid,
            Credentials::Plain { authzid, .. } => authzid,
        }
    }

    /// The password.
    pub fn password(&self) -> &[u8] {
        match self {
            Credentials::Login { password, .. } | Credentials::Plain { password, .. } => password.expose(),
        }
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        match self {
            Credentials::Login { user, .. } => f
                .debug_struct("Login")
                .field("user", &text(user))
                .field("password", &"<hidden>")
                .finish(),
            Credentials::Plain { authzid, authcid, .. } => f
                .debug_struct("Plain")
                .field("authzid", &text(authzid))
                .field("authcid", &text(authcid))
                .field("password", &"<hidden>")
                .finish(),
        }
    }
}

/// What an [`AuthRequest`] carries.
#[derive(Debug)]
#[non_exhaustive]
pub enum AuthStep {
    /// Credentials to check (LOGIN, or AUTHENTICATE PLAIN decoded by the
    /// session).
    Credentials(Credentials),
    /// A client response in the exchange of another SASL mechanism: the
    /// initial response (`None` when the client sent none), then one per
    /// challenge.
    Sasl {
        /// The mechanism, upper case.
        mechanism: String,
        /// The decoded response.
        response: Option<Secret<Vec<u8>>>,
    },
}

/// A login to decide.
#[must_use = "the session waits for an answer"]
pub struct AuthRequest {
    pub(super) serial: u64,
    pub(super) tag: Tag<'static>,
    pub(super) step: AuthStep,
}

impl AuthRequest {
    /// The tag of the LOGIN or AUTHENTICATE command.
    pub fn tag(&self) -> &Tag<'static> {
        &self.tag
    }

    /// What to decide.
    pub fn step(&self) -> &AuthStep {
        &self.step
    }

    /// The credentials, for LOGIN and AUTHENTICATE PLAIN.
    pub fn credentials(&self) -> Option<&Credentials> {
        match &self.step {
            AuthStep::Credentials(c) => Some(c),
            AuthStep::Sasl { .. } => None,
        }
    }
}

/// Why the application refuses a login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoginRejection {
    /// Wrong credentials: `NO [AUTHENTICATIONFAILED]`.
    AuthenticationFailed,
    /// The credentials are right but may not act as the requested user:
    /// `NO [AUTHORIZATIONFAILED]`.
    AuthorizationFailed,
    /// A temporary failure, such as an unreachable user database:
    /// `NO [UNAVAILABLE]`.
    Unavailable,
    /// The password has expired: `NO [EXPIRED]`.
    Expired,
    /// The account needs an administrator: `NO [CONTACTADMIN]`.
    ContactAdmin,
}

/// A synchronizing literal waiting for the application's consent.
#[must_use = "the session waits for an answer"]
pub struct LiteralRequest {
    pub(super) serial: u64,
    pub(super) tag: Option<Tag<'static>>,
    pub(super) command: Option<&'static str>,
    pub(super) length: u64,
    pub(super) binary: bool,
}

impl LiteralRequest {
    /// The tag of the command the literal belongs to, when it could be
    /// read.
    pub fn tag(&self) -> Option<&Tag<'static>> {
        self.tag.as_ref()
    }

    /// The command name (`APPEND`, `LOGIN`...), upper case, when the part
    /// before the literal names a command the session knows.
    pub fn command(&self) -> Option<&'static str> {
        self.command
    }

    /// The announced length in octets.
    pub fn length(&self) -> u64 {
        self.length
    }

    /// `~{n}`: a literal8, which may hold NUL (RFC 3516).
    pub fn is_binary(&self) -> bool {
        self.binary
    }
}

/// How the application refuses a literal.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LiteralRefusal {
    /// `tag NO [TOOBIG] text`.
    TooBig(String),
    /// `tag NO [OVERQUOTA] text`: it would not fit the user's quota.
    OverQuota(String),
    /// `tag NO [TRYCREATE] text`: the APPEND's mailbox does not exist
    /// (RFC 9051 section 6.3.12).
    TryCreate(String),
    /// `tag NO [UNAVAILABLE] text`: the server cannot take it now (RFC
    /// 5530), for example because too much is being uploaded at once.
    Unavailable(String),
    /// `tag NO [BADURL url] text`: a CATENATE URL part (RFC 4469) names
    /// nothing this user can read (the session puts the part's URL in the
    /// code; for any other refusal it is a plain NO).
    BadUrl(String),
    /// `tag BAD text`.
    Bad(String),
}

impl LiteralRefusal {
    /// The status, code and text of the tagged answer; `url` is the URL
    /// of a refused CATENATE part, for `BADURL`.
    pub(super) fn answer(
        &self,
        url: Option<&str>,
    ) -> (
        crate::response::Status,
        Option<crate::response::Code<'static>>,
        &str,
    ) {
        use crate::response::{Code, Status};
        use LiteralRefusal as R;
        let condition = super::condition;
        match self {
            R::TooBig(t) => (Status::No, Some(condition("TOOBIG")), t),
            R::OverQuota(t) => (Status::No, Some(condition("OVERQUOTA")), t),
            R::TryCreate(t) => (Status::No, Some(Code::TryCreate), t),
            R::Unavailable(t) => (Status::No, Some(condition("UNAVAILABLE")), t),
            R::BadUrl(t) => (Status::No, url.map(|u| Code::BadUrl(u.to_owned().into())), t),
            R::Bad(t) => (Status::Bad, None, t),
        }
    }
}

/// A command for the application.
#[must_use = "the session waits for the command's completion"]
pub struct CommandRequest {
    pub(super) serial: u64,
    pub(super) command: Command<'static>,
    pub(super) messages: Vec<std::num::NonZeroU32>,
    pub(super) owes_highest_modseq: bool,
}

impl CommandRequest {
    /// The command.
    pub fn command(&self) -> &Command<'static> {
        &self.command
    }

    /// The tag.
    pub fn tag(&self) -> &Tag<'static> {
        &self.command.tag
    }

    /// For FETCH, STORE, COPY, MOVE and UID EXPUNGE (with or without
    /// UID): the UIDs of the messages the sequence set names in the
    /// client's view, ascending, with `*` and `$` resolved. UIDs that name
    /// no message are left out; a message expunged in the store that the
    /// client has not been told about yet may be among them (RFC 9051
    /// leaves the answer for it to the server: skip it, or answer `NO`).
    /// Empty for other commands.
    pub fn messages(&self) -> &[std::num::NonZeroU32] {
        &self.messages
    }

    /// This command is the session's first CONDSTORE-enabling command
    /// (RFC 7162 section 3.1: FETCH of MODSEQ, SEARCH with a MODSEQ key,
    /// STORE with UNCHANGEDSINCE...) and a mailbox is selected: send the
    /// mailbox's highest mod-sequence, `* OK [HIGHESTMODSEQ n]` (with
    /// [`ServerSession::respond`](super::ServerSession::respond)), before
    /// the command's other answers, or `* OK [NOMODSEQ]` for a mailbox
    /// that keeps none. From this command on,
    /// [`Enabled::condstore`](super::Enabled::condstore) is set and the
    /// session adds `MODSEQ` to every `FETCH` it writes for flag changes.
    pub fn owes_highest_modseq(&self) -> bool {
        self.owes_highest_modseq
    }
}

/// An answer the session could not take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AnswerError {
    /// The handle is not the request the session waits for: it was
    /// answered already, belongs to another session, or the session
    /// closed meanwhile.
    #[error("this request is not the one the session waits for")]
    NotPending,
    /// This answer is not allowed for this request (a tagged status or a
    /// continuation request as command data, a SASL challenge after
    /// LOGIN).
    #[error("this answer is not allowed here")]
    NotAllowed,
}

// The serial numbers that tie handles to their session stay out of Debug:
// they differ from run to run and mean nothing to a reader.

impl std::fmt::Debug for AuthRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthRequest")
            .field("tag", &self.tag)
            .field("step", &self.step)
            .finish()
    }
}

impl std::fmt::Debug for LiteralRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiteralRequest")
            .field("tag", &self.tag)
            .field("command", &self.command)
            .field("length", &self.length)
            .field("binary", &self.binary)
            .finish()
    }
}

impl std::fmt::Debug for CommandRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandRequest")
            .field("command", &self.command)
            .field("messages", &self.messages)
            .field("owes_highest_modseq", &self.owes_highest_modseq)
            .finish()
    }
}

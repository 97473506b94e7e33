//! What a server session offers, and its limits and timers.

use std::time::Duration;

use crate::capability::Capability;
use crate::decode::{DecoderConfig, Limits};
use crate::id::IdParams;

/// Whether TLS protects the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tls {
    /// No TLS, and STARTTLS is not offered.
    Unavailable,
    /// A plain connection on which STARTTLS is offered.
    Available,
    /// TLS is active: implicit TLS (RFC 8314) or after STARTTLS.
    Active,
}

/// The greeting a session opens with (RFC 9051 section 7.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Greeting {
    /// `* OK text`: the client must log in.
    Ok(String),
    /// `* PREAUTH text`: the transport already authenticated the client
    /// (a TLS client certificate, a local socket); the session starts in
    /// the authenticated state.
    PreAuth {
        /// Text after the status.
        text: String,
    },
    /// `* BYE text`: the server refuses the connection; the session
    /// closes after the greeting.
    Bye(String),
}

/// Which non-synchronizing literals the session takes (RFC 7888).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonSyncLiterals {
    /// Neither: every `{n+}` is refused.
    None,
    /// `LITERAL-`: up to 4096 octets; a longer one is refused with
    /// `BAD [TOOBIG]`, and its data is read and thrown away so the stream
    /// stays in step.
    Minus,
    /// `LITERAL+`: any size within the decoder's limits.
    Plus,
}

/// What a server session offers and how it decodes.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Decoder limits and leniency. The defaults read commands the way
    /// Dovecot does (64 KiB lines).
    pub decoder: DecoderConfig,
    /// The greeting.
    pub greeting: Greeting,
    /// TLS state at connection start.
    pub tls: Tls,
    /// Allow LOGIN and AUTHENTICATE PLAIN on a connection without TLS.
    /// Without it the session announces `LOGINDISABLED` and refuses both
    /// with `NO [PRIVACYREQUIRED]` until TLS is active.
    pub allow_plaintext_login: bool,
    /// Offer `IMAP4rev1` (RFC 3501).
    pub imap4rev1: bool,
    /// Offer `IMAP4rev2` (RFC 9051). When both are offered, a client
    /// chooses IMAP4rev2 with `ENABLE IMAP4rev2`.
    pub imap4rev2: bool,
    /// Non-synchronizing literals.
    pub non_sync_literals: NonSyncLiterals,
    /// SASL mechanisms besides PLAIN, which the session decodes itself.
    /// The application runs their exchanges through
    /// [`ServerEvent::Authenticate`](super::ServerEvent::Authenticate).
    pub sasl_mechanisms: Vec<String>,
    /// Offer AUTHENTICATE PLAIN (RFC 4616).
    pub sasl_plain: bool,
    /// The server's `ID` answer (RFC 2971); `None` does not offer ID.
    pub id: Option<Option<IdParams<'static>>>,
    /// Offer `COMPRESS=DEFLATE` (RFC 4978); the transport compresses
    /// after [`ServerEvent::Compress`](super::ServerEvent::Compress).
    pub compress: bool,
    /// Offer `UNAUTHENTICATE` (RFC 8437).
    pub unauthenticate: bool,
    /// The extensions the application implements, announced after login
    /// (`SORT`, `CONDSTORE`, `QUOTA`, ...). The session refuses with `BAD`
    /// the commands of extensions not listed, so the application never
    /// sees them. ENABLE accepts `CONDSTORE`, `QRESYNC` and `UTF8=ACCEPT`
    /// when they are listed here.
    pub capabilities: Vec<Capability<'static>>,
    /// The `APPENDLIMIT` (RFC 7889): the largest message APPEND takes.
    /// It bounds APPEND's message literals, which may be larger than
    /// other literals ([`Limits::literal`]) and than other whole commands
    /// ([`Limits::command_message`], checked as each literal is announced);
    /// `None` leaves them at the decoder's limits.
    pub append_limit: Option<u64>,
    /// Stream APPEND's messages to the application in chunks
    /// ([`ServerEvent::Append`](super::ServerEvent::Append) and what
    /// follows) instead of passing the command whole: plain, UTF8 (RFC
    /// 6855) and CATENATE (RFC 4469) messages, several in one command. An
    /// APPEND the streaming reader cannot read (a line the decoder alone
    /// parses, or none with a literal) comes whole, within the decoder's
    /// configured limits, not the APPENDLIMIT.
    pub stream_append: bool,
    /// The most a command may hold before the client has logged in,
    /// counted to the end of each literal it announces (and so APPEND's,
    /// whatever [`append_limit`](ServerConfig::append_limit) says: APPEND
    /// is not valid then); the line after its last literal adds at most
    /// the line limit ([`Limits::command_line`]). LOGIN, ID and the like
    /// need little; a literal past it is refused (a synchronizing one with
    /// `NO [TOOBIG]`, a non-synchronizing one with `BAD [TOOBIG]`, its data
    /// read and thrown away), so that a connection that never logs in
    /// holds little. The decoder's limits apply too.
    pub login_command_limit: u64,
    /// Auto-logout of a connection that has not logged in.
    pub login_timeout: Duration,
    /// Auto-logout of an authenticated connection (RFC 9051 section 5.4:
    /// at least 30 minutes). IDLE does not stop it: clients restart IDLE
    /// before it ends.
    pub autologout: Duration,
    /// Interval of the `* OK Still here` keep-alive during IDLE.
    pub idle_keepalive: Duration,
    /// Input bytes the session buffers before [`wants_input`] says to stop
    /// reading.
    ///
    /// [`wants_input`]: super::ServerSession::wants_input
    pub max_buffered_input: usize,
    /// Output bytes the session lets pile up before it stops processing
    /// commands until [`poll_transmit`] drains them, so a client that
    /// pipelines without reading cannot grow memory.
    ///
    /// [`poll_transmit`]: super::ServerSession::poll_transmit
    pub max_buffered_output: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            decoder: DecoderConfig {
                limits: Limits::default(),
                ..DecoderConfig::default()
            },
            greeting: Greeting::Ok("IMAP server ready".into()),
            tls: Tls::Unavailable,
            allow_plaintext_login: false,
            imap4rev1: true,
            imap4rev2: true,
            non_sync_literals: NonSyncLiterals::Plus,
            sasl_mechanisms: Vec::new(),
            sasl_plain: true,
            id: None,
            compress: false,
            unauthenticate: false,
            capabilities: Vec::new(),
            append_limit: None,
            stream_append: true,
            login_command_limit: 64 * 1024,
            login_timeout: Duration::from_secs(60),
            autologout: Duration::from_secs(30 * 60),
            idle_keepalive: Duration::from_secs(2 * 60),
            max_buffered_input: 256 * 1024,
            max_buffered_output: 256 * 1024,
        }
    }
}

//! The server session: a sans-IO state machine for one POP3 connection
//! (see [`ServerSession`]).

mod request;
mod top;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::{Buf, BufMut, Bytes, BytesMut};

pub use request::{
    CommitHandle, HandleError, LoginHandle, LoginRejection, LoginRequest, RetrieveHandle, ServerEvent,
};

use crate::auth::{PlainCredentials, SaslMechanism, SaslStep};
use crate::body::DotStuffer;
use crate::capability::{Capability, Expire};
use crate::clock::ActivityClock;
use crate::command::{Command, LanguageRange, SaslResponse, decode_command, decode_sasl_response};
use crate::decode::{DecodeError, Decoded, DecoderConfig, put_u64};
use crate::maildrop::{MaildropError, MessageInfo};
use crate::response::{Language, Response, ResponseCode, Stat, Status, StatusLine, encode_scan, encode_uidl};
use crate::types::{LanguageTag, Mechanism, MessageNumber, Param, SaslData, Text, Timestamp};
use request::next_serial;
use top::TopLimiter;

/// Whether TLS protects the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tls {
    /// No TLS and no STLS.
    Unavailable,
    /// Plain connection; STLS is offered.
    Available,
    /// TLS is active (implicit TLS, RFC 8314, or after STLS).
    Active,
}

/// What a server session offers and how it decodes.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Decoder limits and leniency.
    pub decoder: DecoderConfig,
    /// Text of the greeting, before the APOP timestamp.
    pub greeting: String,
    /// The APOP timestamp of this connection's greeting; `None` disables
    /// APOP. Make one per connection with [`Timestamp::generate`].
    pub apop_timestamp: Option<Timestamp<'static>>,
    /// TLS state at connection start.
    pub tls: Tls,
    /// Allow USER/PASS and AUTH PLAIN without TLS.
    pub allow_plaintext_auth: bool,
    /// The IMPLEMENTATION capability, if any.
    pub implementation: Option<String>,
    /// The EXPIRE capability, if any.
    pub expire: Option<Expire>,
    /// The LOGIN-DELAY capability in seconds, if any; the application
    /// enforces it by rejecting with [`LoginRejection::LoginDelay`].
    pub login_delay: Option<u32>,
    /// Offer the UTF8 command and accept UTF-8 user names (RFC 6856).
    pub utf8: bool,
    /// Languages for LANG (RFC 6856), first is the default; empty disables
    /// LANG. The session's own texts are English, so list only languages
    /// your responses really use.
    pub languages: Vec<(LanguageTag<'static>, String)>,
    /// Input bytes the session buffers before [`ServerSession::wants_input`]
    /// asks the caller to stop reading.
    pub max_buffered_input: usize,
    /// Output bytes the session lets pile up before it stops processing
    /// commands until [`ServerSession::poll_transmit`] drains them, so a
    /// client that pipelines without reading cannot grow memory. While a
    /// message is streamed, [`ServerSession::wants_message_data`] turns
    /// false at this mark.
    pub max_buffered_output: usize,
    /// Message bytes [`MaildropServer`](crate::MaildropServer) reads from
    /// the maildrop per step of a RETR or TOP; values below 512 read 512.
    pub transmit_chunk: usize,
    /// RFC 1939 section 3's inactivity autologout: after this long with no
    /// input while the session waits for a command, it closes without
    /// sending anything and without committing deletions
    /// ([`ServerEvent::Closed`] with `committed: false`). The RFC asks for
    /// at least 10 minutes, the default; `None` disables the timer.
    pub autologout: Option<Duration>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            decoder: DecoderConfig::default(),
            greeting: "POP3 server ready".into(),
            apop_timestamp: None,
            tls: Tls::Unavailable,
            allow_plaintext_auth: false,
            implementation: Some("mailwire".into()),
            expire: None,
            login_delay: None,
            utf8: true,
            languages: Vec::new(),
            max_buffered_input: 64 * 1024,
            max_buffered_output: 256 * 1024,
            transmit_chunk: 64 * 1024,
            autologout: Some(Duration::from_secs(10 * 60)),
        }
    }
}

/// A server-side SASL mechanism factory.
type MechanismFactory = Box<dyn Fn() -> Box<dyn SaslMechanism> + Send>;

enum SaslExchange {
    Plain,
    Other(Mechanism<'static>, Box<dyn SaslMechanism>),
}

/// The request the application has not answered yet.
struct Pending {
    serial: u64,
    kind: PendingKind,
}

enum PendingKind {
    Login,
    Retrieve(Streaming),
    Commit {
        /// Messages left once the deletions are committed.
        left: u32,
    },
}

/// A message being streamed by the application.
struct Streaming {
    stuffer: DotStuffer,
    top: Option<TopLimiter>,
    /// The `+OK` line went out with the first byte of the message; until
    /// then a failure can still be an `-ERR`.
    started: bool,
}

struct Transaction {
    messages: Vec<MessageInfo>,
    deleted: Vec<bool>,
    /// Sent whole by RETR (since the last RSET).
    retrieved: Vec<bool>,
    live_count: u32,
    live_size: u64,
}

enum State {
    Authorization {
        user: Option<Param<'static>>,
    },
    Sasl(SaslExchange),
    AwaitingLogin,
    AwaitingTls,
    Transaction(Transaction),
    /// RFC 1939's UPDATE state: QUIT waits for the commit.
    Update,
    Closed,
}

/// The server side of one POP3 connection: a sans-IO state machine.
///
/// The session has the shape every mailwire session has:
///
/// - [`ServerSession::receive`] takes what the client sent,
///   [`ServerSession::poll_transmit`] gives what to send back;
/// - [`ServerSession::poll_event`] reports what the application must do,
///   as a [`ServerEvent`];
/// - [`ServerSession::handle_timeout`] tells it the time, and
///   [`ServerSession::poll_timeout`] says when to tell it next.
///
/// It never reads a clock, does I/O or touches storage. A command that
/// needs the store comes out as an event carrying a handle
/// ([`ServerEvent::Login`], [`ServerEvent::Retrieve`],
/// [`ServerEvent::Commit`]); the application does the storage work and
/// answers by passing the handle back to a session method
/// ([`accept_login`](ServerSession::accept_login),
/// [`message_data`](ServerSession::message_data),
/// [`commit_done`](ServerSession::commit_done), ...), now or later, from
/// any task. So the same session runs under an async runtime, on a
/// blocking thread per connection, or in a test without I/O.
/// [`MaildropServer`](crate::MaildropServer) answers those events from a
/// [`Maildrop`](crate::Maildrop) for programs that read storage blocking.
///
/// The session enforces RFC 1939 itself: states, stable message numbers,
/// deletion marks, RSET, dot-stuffing, TOP's line count, and a commit only
/// for QUIT in the TRANSACTION state. Any other end (QUIT before login, a
/// failed commit, a message that failed half-way, the autologout timer, or
/// dropping the session) commits nothing, and the application releases
/// the maildrop it locked ([`ServerEvent::Closed`]).
///
/// While a request waits for its answer the session processes no further
/// command: pipelined input stays buffered (bounded by
/// [`ServerConfig::max_buffered_input`], see
/// [`wants_input`](ServerSession::wants_input)), so answers go out in
/// order. A message is streamed under back-pressure
/// ([`wants_message_data`](ServerSession::wants_message_data)).
///
/// A whole session with no I/O: a login, a RETR answered in pieces, and a
/// QUIT that commits one deletion.
///
/// ```
/// use std::time::Instant;
/// use mailwire_pop3::{MessageInfo, ServerConfig, ServerEvent, ServerSession, UniqueId, crlf_size};
///
/// let message = b"Subject: hi\n\n.dot\nHello\n";
/// let mut session = ServerSession::new(ServerConfig {
///     allow_plaintext_auth: true,
///     ..ServerConfig::default()
/// });
/// let now = Instant::now();
/// session.handle_timeout(now);
/// session.receive(b"USER alice\r\nPASS secret\r\nRETR 1\r\nDELE 1\r\nQUIT\r\n");
/// session.handle_timeout(now);
///
/// let mut committed = Vec::new();
/// while let Some(event) = session.poll_event() {
///     match event {
///         ServerEvent::Login(login) => {
///             assert_eq!(login.user(), b"alice");
///             // Check the password, lock alice's maildrop and list it.
///             let listing = vec![MessageInfo {
///                 size: crlf_size(message),
///                 unique_id: UniqueId::new("m1")?,
///                 needs_utf8: false,
///             }];
///             session.accept_login(login, listing)?;
///         }
///         ServerEvent::Retrieve(retr) => {
///             assert_eq!((retr.message().get(), retr.top_lines()), (1, None));
///             // Any chunking: the session stuffs dots and ends lines with CRLF.
///             for piece in message.chunks(4) {
///                 session.message_data(&retr, piece)?;
///             }
///             session.message_end(retr)?;
///         }
///         ServerEvent::Commit(commit) => {
///             // Remove the messages, all or none, and release the lock.
///             committed.extend_from_slice(commit.deleted());
///             session.commit_done(commit)?;
///         }
///         ServerEvent::Closed { committed } => assert!(committed),
///         _ => {}
///     }
/// }
/// assert_eq!(committed.len(), 1);
///
/// let mut sent = Vec::new();
/// while let Some(bytes) = session.poll_transmit() {
///     sent.extend_from_slice(&bytes);
/// }
/// let sent = String::from_utf8(sent)?;
/// assert!(sent.contains("+OK 28 octets\r\nSubject: hi\r\n\r\n..dot\r\nHello\r\n.\r\n"));
/// assert!(sent.ends_with("+OK message 1 deleted\r\n+OK POP3 server signing off (0 messages left)\r\n"));
/// assert!(session.is_closed());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Time
///
/// RFC 1939 section 3's autologout timer ([`ServerConfig::autologout`])
/// runs while the session waits for a command. The session learns the time
/// only from [`ServerSession::handle_timeout`]: call it once at the start,
/// cheaply after each [`receive`](ServerSession::receive) and answer, and
/// whenever the deadline of [`poll_timeout`](ServerSession::poll_timeout)
/// passes. Input received since the last call counts as activity at the
/// `now` of the next call.
pub struct ServerSession {
    config: ServerConfig,
    mechanisms: Vec<(Mechanism<'static>, MechanismFactory)>,
    input: BytesMut,
    output: BytesMut,
    /// Skipping the rest of an overlong line up to its LF.
    discarding: bool,
    /// Octets at the start of the input known to hold no LF while a SASL
    /// line arrives: each read is searched once, not the whole line again.
    sasl_scanned: usize,
    state: State,
    pending: Option<Pending>,
    events: VecDeque<ServerEvent>,
    tls: Tls,
    utf8: bool,
    language: Option<usize>,
    /// The autologout timer.
    clock: ActivityClock,
}

impl std::fmt::Debug for ServerSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match &self.state {
            State::Authorization { .. } => "AUTHORIZATION",
            State::Sasl(_) => "AUTHORIZATION (SASL)",
            State::AwaitingLogin => "AUTHORIZATION (checking credentials)",
            State::AwaitingTls => "AUTHORIZATION (TLS handshake)",
            State::Transaction(_) => "TRANSACTION",
            State::Update => "UPDATE",
            State::Closed => "closed",
        };
        let pending = self.pending.as_ref().map(|p| match p.kind {
            PendingKind::Login => "login",
            PendingKind::Retrieve(_) => "message",
            PendingKind::Commit { .. } => "commit",
        });
        f.debug_struct("ServerSession")
            .field("state", &state)
            .field("pending", &pending)
            .field("tls", &self.tls)
            .field("buffered_input", &self.input.len())
            .field("pending_output", &self.output.len())
            .finish()
    }
}

impl ServerSession {
    /// A session that has queued its greeting.
    pub fn new(config: ServerConfig) -> Self {
        let mut s = ServerSession {
            tls: config.tls,
            config,
            mechanisms: Vec::new(),
            input: BytesMut::new(),
            output: BytesMut::new(),
            discarding: false,
            sasl_scanned: 0,
            state: State::Authorization { user: None },
            pending: None,
            events: VecDeque::new(),
            utf8: false,
            language: None,
            clock: ActivityClock::new(),
        };
        // The greeting is one line: CR, LF and NUL in the configured text
        // become spaces rather than dropping the text and its timestamp.
        let mut text = mailwire_core::one_line(&s.config.greeting).into_owned();
        if let Some(ts) = &s.config.apop_timestamp {
            text.push(' ');
            text.push_str(ts.as_str());
        }
        s.reply(Status::Ok, None, text.as_bytes());
        s
    }

    /// The configuration the session was made with.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// Adds a SASL mechanism besides the built-in PLAIN; `factory` makes
    /// one exchange's state.
    pub fn add_mechanism(
        &mut self,
        name: Mechanism<'static>,
        factory: impl Fn() -> Box<dyn SaslMechanism> + Send + 'static,
    ) {
        self.mechanisms.push((name, Box::new(factory)));
    }

    /// Takes bytes the client sent. While a request is pending they are
    /// only buffered (see [`wants_input`](Self::wants_input)).
    pub fn receive(&mut self, bytes: &[u8]) {
        if matches!(self.state, State::AwaitingTls | State::Closed) {
            return;
        }
        if !bytes.is_empty() {
            self.clock.touch();
        }
        self.input.extend_from_slice(bytes);
        self.advance();
    }

    /// Whether the caller should read more from the client: false once
    /// [`ServerConfig::max_buffered_input`] bytes are buffered
    /// (back-pressure for pipelined clients; pipelined commands wait there
    /// while a request is pending), during the STLS handshake, and after
    /// the session closed.
    pub fn wants_input(&self) -> bool {
        !matches!(self.state, State::Closed | State::AwaitingTls)
            && self.input.len() < self.config.max_buffered_input
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        self.advance();
        self.events.pop_front()
    }

    /// The next bytes to send, or `None` when there is nothing to send
    /// now.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        self.advance();
        (!self.output.is_empty()).then(|| self.output.split().freeze())
    }

    /// Tells the session the time. Call it once at the start, after each
    /// [`receive`](Self::receive) and answer (it is cheap), and when the
    /// deadline of [`poll_timeout`](Self::poll_timeout) passes.
    ///
    /// Input received or a request answered since the last call restarts
    /// the autologout timer at `now`. Otherwise, once the timer has run
    /// out, the session closes as RFC 1939 section 3 says: no response, no
    /// UPDATE state, deletions dropped, and [`ServerEvent::Closed`] with
    /// `committed: false`.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use mailwire_pop3::{ServerConfig, ServerEvent, ServerSession};
    ///
    /// let mut session = ServerSession::new(ServerConfig::default());
    /// let start = Instant::now();
    /// session.handle_timeout(start);
    /// let deadline = session.poll_timeout().unwrap();
    /// assert_eq!(deadline, start + Duration::from_secs(600));
    /// session.handle_timeout(deadline);
    /// assert!(session.is_closed());
    /// assert!(matches!(session.poll_event(), Some(ServerEvent::Closed { committed: false })));
    /// ```
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.clock.restart(now) {
            return;
        }
        if self.poll_timeout().is_some_and(|deadline| now >= deadline) {
            // RFC 1939 section 3: "the server should close the TCP
            // connection without removing any messages or sending any
            // response to the client".
            self.close(false);
        }
    }

    /// When to call [`handle_timeout`](Self::handle_timeout) next, if the
    /// session is waiting for a command and the autologout timer runs. No
    /// timer runs while a request waits for the application or the TLS
    /// handshake: then the client is waiting, not idle.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let waiting_for_client = self.pending.is_none()
            && matches!(
                self.state,
                State::Authorization { .. } | State::Sasl(_) | State::Transaction(_)
            );
        if !waiting_for_client {
            return None;
        }
        self.clock.deadline(self.config.autologout?)
    }

    /// Whether the session is over; close the connection once
    /// [`poll_transmit`](Self::poll_transmit) returns `None`.
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    /// Whether the session is in the TRANSACTION state.
    pub fn is_authenticated(&self) -> bool {
        matches!(self.state, State::Transaction(_))
    }

    /// Whether the client enabled UTF-8 mode (RFC 6856).
    pub fn utf8_enabled(&self) -> bool {
        self.utf8
    }

    /// The language selected with LANG, if any.
    pub fn language(&self) -> Option<&LanguageTag<'static>> {
        self.language.map(|i| &self.config.languages[i].0)
    }

    /// Accepts the pending login. The application has locked the user's
    /// maildrop and gives its messages in order, message 1 first; the list
    /// is frozen for the session (RFC 1939 section 4). A maildrop that
    /// cannot be locked is a [`reject_login`](Self::reject_login) with
    /// [`LoginRejection::InUse`] or a failure instead.
    pub fn accept_login(
        &mut self,
        handle: LoginHandle,
        messages: Vec<MessageInfo>,
    ) -> Result<(), HandleError> {
        let PendingKind::Login = self.take_pending(handle.serial)? else {
            return Err(HandleError);
        };
        let mut messages = messages;
        let live_count = u32::try_from(messages.len()).unwrap_or(u32::MAX);
        messages.truncate(live_count as usize);
        let live_size = messages.iter().map(|m| m.size).sum();
        let text = maildrop_text(live_count, live_size);
        self.state = State::Transaction(Transaction {
            deleted: vec![false; messages.len()],
            retrieved: vec![false; messages.len()],
            messages,
            live_count,
            live_size,
        });
        self.reply(Status::Ok, None, text.as_bytes());
        self.advance();
        Ok(())
    }

    /// Refuses the pending login with the right response code.
    pub fn reject_login(&mut self, handle: LoginHandle, why: LoginRejection) -> Result<(), HandleError> {
        let PendingKind::Login = self.take_pending(handle.serial)? else {
            return Err(HandleError);
        };
        self.state = State::Authorization { user: None };
        let (code, text): (_, &[u8]) = match why {
            LoginRejection::BadCredentials => (ResponseCode::Auth, b"Authentication failed"),
            LoginRejection::LoginDelay => (ResponseCode::LoginDelay, b"Logged in too recently, try later"),
            LoginRejection::InUse => (ResponseCode::InUse, b"Maildrop already locked"),
            LoginRejection::TemporaryFailure => (ResponseCode::SysTemp, b"Temporary failure, try later"),
            LoginRejection::PermanentFailure => (ResponseCode::SysPerm, b"Login not possible"),
        };
        self.reply(Status::Err, Some(code), text);
        self.advance();
        Ok(())
    }

    /// The next piece of the message a [`ServerEvent::Retrieve`] asked
    /// for, in any chunking: the session ends bare-LF lines with CRLF,
    /// stuffs dots and, for TOP, keeps only the lines asked for. The `+OK`
    /// line goes out with the first byte.
    ///
    /// Feed while [`wants_message_data`](Self::wants_message_data) is
    /// true; when it turns false, drain
    /// [`poll_transmit`](Self::poll_transmit) first, or, once
    /// [`top_complete`](Self::top_complete), stop reading and call
    /// [`message_end`](Self::message_end). Data given after TOP's last line
    /// is ignored.
    pub fn message_data(&mut self, handle: &RetrieveHandle, data: &[u8]) -> Result<(), HandleError> {
        let streaming = streaming(&mut self.pending, handle.serial)?;
        let mut data = data;
        if let Some(top) = &mut streaming.top {
            if top.done {
                return Ok(());
            }
            data = &data[..top.take(data)];
        }
        if data.is_empty() {
            return Ok(());
        }
        if !streaming.started {
            streaming.started = true;
            put_message_status(&mut self.output, handle);
        }
        streaming.stuffer.push(data, &mut self.output);
        Ok(())
    }

    /// Ends the message of a [`ServerEvent::Retrieve`]: the session adds a
    /// final CRLF if the message lacks one and the terminating `.`, then
    /// goes on with the next command.
    pub fn message_end(&mut self, handle: RetrieveHandle) -> Result<(), HandleError> {
        let PendingKind::Retrieve(mut streaming) = self.take_pending(handle.serial)? else {
            return Err(HandleError);
        };
        if !streaming.started {
            put_message_status(&mut self.output, &handle);
        }
        streaming.stuffer.finish(&mut self.output);
        if let (State::Transaction(t), None) = (&mut self.state, handle.lines) {
            if let Some(r) = t.retrieved.get_mut(handle.message.index()) {
                *r = true;
            }
        }
        self.advance();
        Ok(())
    }

    /// The message of a [`ServerEvent::Retrieve`] cannot be read. Before
    /// its first byte, the client gets `-ERR` with the code of `error`
    /// ([`MaildropError::InUse`]: `[IN-USE]`, [`MaildropError::Temporary`]:
    /// `[SYS/TEMP]`, [`MaildropError::Permanent`]: `[SYS/PERM]`,
    /// [`MaildropError::Gone`]: none) and the session goes on. After it, a half-sent message cannot be taken back:
    /// the session closes without the terminator, so the client cannot take
    /// the part for the whole, and commits nothing
    /// ([`ServerEvent::Closed`] with `committed: false`).
    pub fn message_failed(
        &mut self,
        handle: RetrieveHandle,
        error: MaildropError,
    ) -> Result<(), HandleError> {
        let PendingKind::Retrieve(streaming) = self.take_pending(handle.serial)? else {
            return Err(HandleError);
        };
        if streaming.started {
            self.close(false);
        } else {
            self.maildrop_error(&error);
            self.advance();
        }
        Ok(())
    }

    /// Whether the message a [`ServerEvent::Retrieve`] asked for takes more
    /// data now: false when no message is pending, once
    /// [`top_complete`](Self::top_complete), and while
    /// [`ServerConfig::max_buffered_output`] bytes wait for
    /// [`poll_transmit`](Self::poll_transmit). An application that feeds
    /// only while this holds keeps the output below that mark plus one
    /// chunk (dot-stuffed: at most twice its size).
    pub fn wants_message_data(&self) -> bool {
        match &self.pending {
            Some(Pending {
                kind: PendingKind::Retrieve(s),
                ..
            }) => {
                !s.top.as_ref().is_some_and(|t| t.done)
                    && self.output.len() < self.config.max_buffered_output.max(1)
            }
            _ => false,
        }
    }

    /// Whether the pending TOP has all the lines it sends: call
    /// [`message_end`](Self::message_end) without reading the rest. Always
    /// false for RETR.
    pub fn top_complete(&self) -> bool {
        matches!(
            &self.pending,
            Some(Pending { kind: PendingKind::Retrieve(s), .. }) if s.top.as_ref().is_some_and(|t| t.done)
        )
    }

    /// The deletions of a [`ServerEvent::Commit`] are committed and the
    /// lock released: the client gets `+OK` and the session closes with
    /// `committed: true`.
    pub fn commit_done(&mut self, handle: CommitHandle) -> Result<(), HandleError> {
        let PendingKind::Commit { left } = self.take_pending(handle.serial)? else {
            return Err(HandleError);
        };
        let mut text = b"POP3 server signing off (".to_vec();
        put_u64(&mut text, u64::from(left));
        text.push(b' ');
        text.extend_from_slice(plural(left).as_bytes());
        text.extend_from_slice(b" left)");
        self.reply(Status::Ok, None, &text);
        self.close(true);
        Ok(())
    }

    /// The deletions of a [`ServerEvent::Commit`] could not be committed
    /// (none were made, and the lock is released): the client gets
    /// `-ERR [SYS/TEMP]` (RFC 3206: trying again later may work) and the
    /// session closes with `committed: false`.
    pub fn commit_failed(&mut self, handle: CommitHandle, error: MaildropError) -> Result<(), HandleError> {
        let PendingKind::Commit { .. } = self.take_pending(handle.serial)? else {
            return Err(HandleError);
        };
        // Every failure answers alike: the client can only try again.
        let _ = error;
        self.reply(
            Status::Err,
            Some(ResponseCode::SysTemp),
            b"Some deleted messages not removed",
        );
        self.close(false);
        Ok(())
    }

    /// The TLS handshake after STLS succeeded: the session forgets what it
    /// learned before (RFC 2595 section 4) and goes on in AUTHORIZATION.
    pub fn tls_established(&mut self) {
        if matches!(self.state, State::AwaitingTls) {
            self.input.clear();
            self.discarding = false;
            self.tls = Tls::Active;
            self.utf8 = false;
            self.language = None;
            self.state = State::Authorization { user: None };
            self.clock.touch();
        }
    }

    /// Takes the pending request if `serial` names it.
    fn take_pending(&mut self, serial: u64) -> Result<PendingKind, HandleError> {
        match self.pending.take() {
            Some(p) if p.serial == serial => {
                self.clock.touch();
                Ok(p.kind)
            }
            other => {
                self.pending = other;
                Err(HandleError)
            }
        }
    }

    /// Hands a login to the application.
    fn login(&mut self, request: LoginRequest) {
        let serial = next_serial();
        self.state = State::AwaitingLogin;
        self.pending = Some(Pending {
            serial,
            kind: PendingKind::Login,
        });
        self.events
            .push_back(ServerEvent::Login(LoginHandle { serial, request }));
    }

    /// The capabilities the session offers in its current state.
    pub fn capabilities(&self) -> Vec<Capability<'static>> {
        let authorization = !matches!(self.state, State::Transaction(_));
        let plaintext = self.plaintext_allowed();
        let mut caps = vec![Capability::Top, Capability::Uidl];
        // RFC 2449 section 5: what AUTHORIZATION offers is announced in both
        // states; RFC 5034 section 3: SASL stays after a successful AUTH.
        if plaintext {
            caps.push(Capability::User);
        }
        {
            let mut mechs: Vec<Mechanism<'static>> = Vec::new();
            if plaintext {
                mechs.push(Mechanism::PLAIN);
            }
            mechs.extend(self.mechanisms.iter().map(|(m, _)| m.clone()));
            if !mechs.is_empty() {
                caps.push(Capability::Sasl(mechs));
            }
        }
        caps.extend([
            Capability::RespCodes,
            Capability::AuthRespCode,
            Capability::Pipelining,
        ]);
        if let Some(seconds) = self.config.login_delay {
            caps.push(Capability::LoginDelay {
                seconds,
                per_user: false,
            });
        }
        if let Some(policy) = self.config.expire {
            caps.push(Capability::Expire {
                policy,
                per_user: false,
            });
        }
        if authorization && self.tls == Tls::Available {
            caps.push(Capability::Stls);
        }
        if self.config.utf8 {
            caps.push(Capability::Utf8 { user: true });
        }
        if !self.config.languages.is_empty() {
            caps.push(Capability::Lang);
        }
        if let Some(imp) = &self.config.implementation {
            if let Ok(text) = Text::new(imp.as_bytes().to_vec()) {
                caps.push(Capability::Implementation(text));
            }
        }
        caps
    }

    fn plaintext_allowed(&self) -> bool {
        self.config.allow_plaintext_auth || self.tls == Tls::Active
    }

    fn reply(&mut self, status: Status, code: Option<ResponseCode<'_>>, text: &[u8]) {
        StatusLine {
            status,
            code,
            text: Text::new(text).unwrap_or(Text::EMPTY),
        }
        .encode(&mut self.output);
    }

    fn err(&mut self, text: &str) {
        self.reply(Status::Err, None, text.as_bytes());
    }

    fn maildrop_error(&mut self, e: &MaildropError) {
        let (code, text): (_, &[u8]) = match e {
            MaildropError::InUse => (Some(ResponseCode::InUse), b"Maildrop already locked"),
            MaildropError::Temporary(_) => (Some(ResponseCode::SysTemp), b"Temporary failure, try later"),
            MaildropError::Permanent(_) => (Some(ResponseCode::SysPerm), b"Maildrop not available"),
            MaildropError::Gone(_) => (None, b"Message no longer exists"),
        };
        self.reply(Status::Err, code, text);
    }

    fn close(&mut self, committed: bool) {
        self.state = State::Closed;
        self.pending = None;
        self.input.clear();
        self.events.push_back(ServerEvent::Closed { committed });
    }

    /// Processes buffered input until the session must wait.
    fn advance(&mut self) {
        loop {
            if self.pending.is_some()
                || matches!(
                    self.state,
                    State::Closed | State::AwaitingLogin | State::AwaitingTls | State::Update
                )
            {
                return;
            }
            if self.output.len() >= self.config.max_buffered_output {
                return;
            }
            if self.discarding {
                match memchr::memchr(b'\n', &self.input) {
                    Some(lf) => {
                        self.input.advance(lf + 1);
                        self.discarding = false;
                    }
                    None => {
                        self.input.clear();
                        return;
                    }
                }
            }
            let config = self.config.decoder;
            if matches!(self.state, State::Sasl(_)) {
                let limit = config.limits.sasl_line;
                let window = self.input.len().min(limit);
                let from = self.sasl_scanned.min(window);
                let found = memchr::memchr(b'\n', &self.input[from..window]);
                #[cfg(test)]
                crate::decode::SCANNED.with(|s| s.set(s.get() + found.map_or(window - from, |i| i + 1)));
                if found.is_none() && self.input.len() < limit {
                    self.sasl_scanned = window;
                    return;
                }
                self.sasl_scanned = 0;
                match decode_sasl_response(&self.input, &config) {
                    Ok(Decoded::Incomplete) => return,
                    Ok(Decoded::Complete { value, consumed }) => {
                        let value = value.into_owned();
                        self.input.advance(consumed);
                        self.sasl_line(value);
                    }
                    Err(e) => {
                        self.skip(&e);
                        self.state = State::Authorization { user: None };
                        self.err("Invalid SASL response, authentication cancelled");
                    }
                }
                continue;
            }
            match decode_command(&self.input, &config) {
                Ok(Decoded::Incomplete) => return,
                Ok(Decoded::Complete { value, consumed }) => {
                    let command = value.into_owned();
                    self.input.advance(consumed);
                    self.command(command);
                }
                Err(e) => {
                    self.skip(&e);
                    let text = format!("{e}");
                    self.err(&text);
                }
            }
        }
    }

    fn skip(&mut self, e: &DecodeError) {
        match e.resume_at {
            Some(n) => self.input.advance(n.min(self.input.len())),
            None => {
                self.input.clear();
                self.discarding = true;
            }
        }
    }

    fn command(&mut self, command: Command<'static>) {
        // Commands valid in every state.
        match command {
            Command::Capa => {
                let capabilities = self.capabilities();
                Response::Capabilities {
                    status: StatusLine::ok("Capability list follows"),
                    capabilities,
                }
                .encode(&mut self.output);
                return;
            }
            Command::Lang(range) => return self.lang(range),
            _ => {}
        }
        match &mut self.state {
            State::Authorization { .. } => self.authorization(command),
            State::Transaction(_) => self.transaction(command),
            State::Sasl(_) | State::AwaitingLogin | State::AwaitingTls | State::Update | State::Closed => {}
        }
    }

    fn authorization(&mut self, command: Command<'static>) {
        match command {
            Command::User(name) => {
                if !self.plaintext_allowed() {
                    return self.reply(
                        Status::Err,
                        Some(ResponseCode::Auth),
                        b"Plaintext authentication disallowed on non-secure connections",
                    );
                }
                if !self.utf8_ok(name.as_inner()) {
                    return self.err("Invalid UTF-8 user name");
                }
                self.state = State::Authorization { user: Some(name) };
                self.reply(Status::Ok, None, b"Send PASS");
            }
            Command::Pass(password) => {
                let State::Authorization { user } = &mut self.state else {
                    return;
                };
                match user.take() {
                    // RFC 6856 section 2.2: reject credentials that are not UTF-8.
                    Some(_) if !self.utf8_ok(password.expose()) => self.err("Invalid UTF-8 password"),
                    Some(user) => self.login(LoginRequest::User { user, password }),
                    None => self.err("Send USER first"),
                }
            }
            Command::Apop { name, .. } if !self.utf8_ok(name.as_inner()) => {
                self.err("Invalid UTF-8 user name")
            }
            Command::Apop { name, digest } => match self.config.apop_timestamp.clone() {
                Some(timestamp) => self.login(LoginRequest::Apop {
                    user: name,
                    digest,
                    timestamp,
                }),
                None => self.err("APOP not available"),
            },
            Command::Auth {
                mechanism,
                initial_response,
            } => self.auth(mechanism, initial_response),
            Command::Stls => {
                if self.tls != Tls::Available {
                    return self.err("STLS not available");
                }
                if self.utf8 {
                    // RFC 6856 section 2.1: no STLS after UTF8.
                    return self.err("STLS not allowed after UTF8");
                }
                self.reply(Status::Ok, None, b"Begin TLS negotiation");
                // Anything pipelined after STLS arrived in plaintext and must
                // not be taken as if it came over TLS (RFC 2595 section 4).
                self.input.clear();
                self.state = State::AwaitingTls;
                self.events.push_back(ServerEvent::StartTls);
            }
            Command::Utf8 => {
                if self.config.utf8 {
                    self.utf8 = true;
                    self.reply(Status::Ok, None, b"UTF8 enabled");
                } else {
                    self.err("UTF8 not supported");
                }
            }
            Command::Quit => {
                self.reply(Status::Ok, None, b"POP3 server signing off");
                self.close(false);
            }
            other => self.err(&format!(
                "{} not valid in the AUTHORIZATION state",
                other.keyword()
            )),
        }
    }

    /// UTF-8 user names and passwords are accepted when offered (RFC 6856
    /// section 2.2), and must then be valid UTF-8.
    fn utf8_ok(&self, name: &[u8]) -> bool {
        name.is_ascii() || (self.config.utf8 && std::str::from_utf8(name).is_ok())
    }

    fn auth(&mut self, mechanism: Mechanism<'static>, initial: Option<SaslData<'static>>) {
        let initial = match initial.map(|d| d.decode()).transpose() {
            Ok(i) => i,
            Err(_) => return self.err("Invalid base64 in initial response"),
        };
        if mechanism.is("PLAIN") {
            if !self.plaintext_allowed() {
                return self.reply(
                    Status::Err,
                    Some(ResponseCode::Auth),
                    b"Plaintext authentication disallowed on non-secure connections",
                );
            }
            return match initial {
                Some(message) => self.plain(&message),
                None => {
                    self.state = State::Sasl(SaslExchange::Plain);
                    self.sasl_scanned = 0;
                    Response::Continuation(SaslData::unchecked("")).encode(&mut self.output);
                }
            };
        }
        let Some(factory) = self
            .mechanisms
            .iter()
            .find(|(m, _)| m.is(mechanism.as_str()))
            .map(|(_, f)| f)
        else {
            return self.err("Unsupported SASL mechanism");
        };
        let mut exchange = factory();
        let step = exchange.start(initial.as_deref());
        self.sasl_step(mechanism, exchange, step);
    }

    fn plain(&mut self, message: &[u8]) {
        match PlainCredentials::parse(message) {
            // RFC 4616 section 2: every field of PLAIN is UTF-8.
            Ok(credentials)
                if [
                    &credentials.authzid[..],
                    &credentials.authcid,
                    credentials.expose_password(),
                ]
                .iter()
                .all(|f| std::str::from_utf8(f).is_ok()) =>
            {
                self.login(LoginRequest::Plain(credentials));
            }
            _ => {
                self.state = State::Authorization { user: None };
                self.reply(Status::Err, Some(ResponseCode::Auth), b"Malformed PLAIN message");
            }
        }
    }

    fn sasl_step(&mut self, mechanism: Mechanism<'static>, exchange: Box<dyn SaslMechanism>, step: SaslStep) {
        match step {
            SaslStep::Challenge(c) => {
                Response::Continuation(SaslData::encode(&c)).encode(&mut self.output);
                self.state = State::Sasl(SaslExchange::Other(mechanism, exchange));
                self.sasl_scanned = 0;
            }
            SaslStep::Success { authcid, authzid } => self.login(LoginRequest::Sasl {
                mechanism,
                authcid,
                authzid,
            }),
            SaslStep::Failure => {
                self.state = State::Authorization { user: None };
                self.reply(Status::Err, Some(ResponseCode::Auth), b"Authentication failed");
            }
        }
    }

    fn sasl_line(&mut self, line: SaslResponse<'static>) {
        let State::Sasl(exchange) = std::mem::replace(&mut self.state, State::Authorization { user: None })
        else {
            return;
        };
        let data = match line {
            SaslResponse::Cancel => return self.err("Authentication cancelled"),
            SaslResponse::Data(d) => match d.decode() {
                Ok(d) => d,
                Err(_) => return self.err("Invalid base64, authentication cancelled"),
            },
        };
        match exchange {
            SaslExchange::Plain => self.plain(&data),
            SaslExchange::Other(mechanism, mut exchange) => {
                let step = exchange.step(&data);
                self.sasl_step(mechanism, exchange, step);
            }
        }
    }

    fn lang(&mut self, range: Option<LanguageRange<'static>>) {
        if self.config.languages.is_empty() {
            return self.err("LANG not supported");
        }
        let chosen = match range {
            None => {
                let languages = self
                    .config
                    .languages
                    .iter()
                    .map(|(tag, name)| Language {
                        tag: tag.clone(),
                        description: Text::new(name.as_bytes()).unwrap_or(Text::EMPTY),
                    })
                    .collect();
                Response::Languages {
                    status: StatusLine::ok("Language listing follows"),
                    languages,
                }
                .encode(&mut self.output);
                return;
            }
            Some(LanguageRange::Any) => Some(0),
            // RFC 4647 basic filtering: "en" matches "en" and "en-US".
            Some(LanguageRange::Tag(want)) => self.config.languages.iter().position(|(tag, _)| {
                let (tag, want) = (tag.as_str().as_bytes(), want.as_str().as_bytes());
                tag.len() >= want.len()
                    && tag[..want.len()].eq_ignore_ascii_case(want)
                    && (tag.len() == want.len() || tag[want.len()] == b'-')
            }),
        };
        match chosen {
            Some(i) => {
                self.language = Some(i);
                let mut text = self.config.languages[i].0.as_str().as_bytes().to_vec();
                text.extend_from_slice(b" Language changed");
                self.reply(Status::Ok, None, &text);
            }
            None => self.err("Language not supported"),
        }
    }

    fn transaction(&mut self, command: Command<'static>) {
        let State::Transaction(t) = &mut self.state else {
            return;
        };
        let out = &mut self.output;
        match command {
            Command::Stat => Response::Stat(Stat {
                count: t.live_count,
                size: t.live_size,
            })
            .encode(out),
            Command::List(None) => {
                out.put_slice(b"+OK ");
                out.put_slice(maildrop_text(t.live_count, t.live_size).as_bytes());
                out.put_slice(b"\r\n");
                for (message, m) in live_messages(t) {
                    encode_scan(
                        &crate::ScanListing {
                            message,
                            size: m.size,
                        },
                        out,
                    );
                }
                out.put_slice(b".\r\n");
            }
            Command::Uidl(None) => {
                out.put_slice(b"+OK\r\n");
                for (message, m) in live_messages(t) {
                    encode_uidl(
                        &crate::UniqueIdListing {
                            message,
                            unique_id: m.unique_id.borrowed(),
                        },
                        out,
                    );
                }
                out.put_slice(b".\r\n");
            }
            Command::List(Some(n)) => {
                if let Some(m) = live(t, n, out) {
                    Response::ScanListing(crate::ScanListing {
                        message: n,
                        size: m.size,
                    })
                    .encode(out);
                }
            }
            Command::Uidl(Some(n)) => {
                if let Some(m) = live(t, n, out) {
                    Response::UniqueIdListing(crate::UniqueIdListing {
                        message: n,
                        unique_id: m.unique_id.borrowed(),
                    })
                    .encode(out);
                }
            }
            Command::Retr(n) => self.retrieve(n, None),
            Command::Top { message, lines } => self.retrieve(message, Some(lines)),
            Command::Dele(n) => {
                if let Some(m) = live(t, n, out) {
                    let size = m.size;
                    t.deleted[n.index()] = true;
                    t.live_count -= 1;
                    t.live_size -= size;
                    out.put_slice(b"+OK message ");
                    put_u64(out, u64::from(n.get()));
                    out.put_slice(b" deleted\r\n");
                }
            }
            Command::Noop => out.put_slice(b"+OK\r\n"),
            Command::Rset => {
                t.deleted.fill(false);
                t.retrieved.fill(false);
                t.live_count = t.messages.len() as u32;
                t.live_size = t.messages.iter().map(|m| m.size).sum();
                let text = maildrop_text(t.live_count, t.live_size);
                self.reply(Status::Ok, None, text.as_bytes());
            }
            Command::Quit => self.quit(),
            other => self.err(&format!("{} not valid in the TRANSACTION state", other.keyword())),
        }
    }

    /// The UPDATE state (RFC 1939 section 6): the application commits the
    /// deletions as one step; the session closes when it answers.
    fn quit(&mut self) {
        let State::Transaction(t) = std::mem::replace(&mut self.state, State::Update) else {
            return;
        };
        let numbers = |marked: &dyn Fn(usize) -> bool| -> Vec<MessageNumber> {
            (0..t.messages.len())
                .filter(|&i| marked(i))
                .filter_map(|i| MessageNumber::new(u32::try_from(i + 1).ok()?))
                .collect()
        };
        let deleted = numbers(&|i| t.deleted[i]);
        let retrieved = numbers(&|i| t.retrieved[i] && !t.deleted[i]);
        let serial = next_serial();
        self.pending = Some(Pending {
            serial,
            kind: PendingKind::Commit { left: t.live_count },
        });
        self.events.push_back(ServerEvent::Commit(CommitHandle {
            serial,
            deleted,
            retrieved,
        }));
    }

    /// RETR, or TOP with `lines`: asks the application for the message.
    fn retrieve(&mut self, n: MessageNumber, lines: Option<u32>) {
        let State::Transaction(t) = &mut self.state else {
            return;
        };
        let Some(info) = live(t, n, &mut self.output) else {
            return;
        };
        if info.needs_utf8 && !self.utf8 {
            // RFC 6856 sections 2.1 and 5.
            return self.reply(Status::Err, Some(ResponseCode::Utf8), b"Message needs UTF8 mode");
        }
        let serial = next_serial();
        let handle = RetrieveHandle {
            serial,
            message: n,
            size: info.size,
            unique_id: info.unique_id.clone(),
            lines,
        };
        self.pending = Some(Pending {
            serial,
            kind: PendingKind::Retrieve(Streaming {
                stuffer: DotStuffer::new(),
                top: lines.map(TopLimiter::new),
                started: false,
            }),
        });
        self.events.push_back(ServerEvent::Retrieve(handle));
    }
}

/// The message being streamed, if `serial` names it.
fn streaming(pending: &mut Option<Pending>, serial: u64) -> Result<&mut Streaming, HandleError> {
    match pending {
        Some(Pending {
            serial: s,
            kind: PendingKind::Retrieve(streaming),
        }) if *s == serial => Ok(streaming),
        _ => Err(HandleError),
    }
}

/// The `+OK` line of RETR (with the size) or TOP.
fn put_message_status(out: &mut BytesMut, handle: &RetrieveHandle) {
    out.put_slice(b"+OK");
    if handle.lines.is_none() {
        out.put_u8(b' ');
        put_u64(out, handle.size);
        out.put_slice(b" octets");
    }
    out.put_slice(b"\r\n");
}

fn maildrop_text(count: u32, size: u64) -> String {
    format!("maildrop has {count} {} ({size} octets)", plural(count))
}

fn plural(count: u32) -> &'static str {
    if count == 1 { "message" } else { "messages" }
}

/// The messages not marked deleted, with their numbers.
fn live_messages(t: &Transaction) -> impl Iterator<Item = (MessageNumber, &MessageInfo)> {
    t.messages
        .iter()
        .zip(&t.deleted)
        .enumerate()
        .filter(|(_, (_, deleted))| !**deleted)
        .filter_map(|(i, (m, _))| Some((MessageNumber::new(u32::try_from(i + 1).ok()?)?, m)))
}

/// The message `n` if it exists and is not deleted; otherwise writes the
/// `-ERR` and returns `None`.
fn live<'t>(t: &'t Transaction, n: MessageNumber, out: &mut BytesMut) -> Option<&'t MessageInfo> {
    match t.messages.get(n.index()) {
        None => {
            out.put_slice(b"-ERR no such message, only ");
            put_u64(out, t.messages.len() as u64);
            out.put_slice(b" messages in maildrop\r\n");
            None
        }
        Some(_) if t.deleted[n.index()] => {
            out.put_slice(b"-ERR message ");
            put_u64(out, u64::from(n.get()));
            out.put_slice(b" already deleted\r\n");
            None
        }
        Some(m) => Some(m),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::UniqueId;

    fn info(size: u64) -> MessageInfo {
        MessageInfo {
            size,
            unique_id: UniqueId::new(format!("u{size}")).unwrap(),
            needs_utf8: false,
        }
    }

    #[test]
    fn a_client_that_does_not_read_cannot_grow_the_output() {
        let mut session = ServerSession::new(ServerConfig {
            allow_plaintext_auth: true,
            max_buffered_output: 1024,
            max_buffered_input: usize::MAX,
            ..ServerConfig::default()
        });
        session.receive(b"USER a\r\nPASS b\r\n");
        let Some(ServerEvent::Login(login)) = session.poll_event() else {
            panic!("no login")
        };
        session.accept_login(login, (0..50).map(info).collect()).unwrap();
        session.receive(&b"UIDL\r\n".repeat(200));
        // One UIDL answer is about 400 bytes: processing stopped near the limit.
        assert!(session.output.len() < 1024 + 600, "{}", session.output.len());
        assert!(!session.input.is_empty());
        let mut sent = Vec::new();
        while let Some(b) = session.poll_transmit() {
            sent.extend_from_slice(&b);
        }
        assert_eq!(sent.windows(5).filter(|w| w == b"\r\n.\r\n").count(), 200);
    }

    /// A SASL response of 60,000 octets sent an octet at a time is
    /// searched for its end about once, not once per octet received (3.6
    /// billion octets counted before the change).
    #[test]
    fn a_sasl_line_arriving_slowly_is_searched_once() {
        let mut session = ServerSession::new(ServerConfig {
            allow_plaintext_auth: true,
            ..ServerConfig::default()
        });
        session.receive(b"AUTH PLAIN\r\n");
        while session.poll_transmit().is_some() {}
        crate::decode::SCANNED.with(|s| s.set(0));
        for _ in 0..60_000 {
            session.receive(b"Q");
        }
        session.receive(b"\r\n");
        let scanned = crate::decode::SCANNED.with(|s| s.get());
        assert!(scanned < 3 * 60_000, "{scanned} octets searched");
        let mut sent = Vec::new();
        while let Some(b) = session.poll_transmit() {
            sent.extend_from_slice(&b);
        }
        assert!(sent.starts_with(b"-ERR"), "{}", String::from_utf8_lossy(&sent));
    }
}

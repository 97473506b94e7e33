//! The server session: a sans-IO state machine for one POP3 connection.
//!
//! The caller moves bytes: [`ServerSession::receive`] what the client sent,
//! [`ServerSession::poll_transmit`] what to send back, and answers the
//! [`ServerEvent`]s from [`ServerSession::poll_event`] (credentials to
//! check, a TLS upgrade to perform). The session enforces RFC 1939 itself:
//! states, stable message numbers, deletion marks, RSET, and commits
//! deletions only for QUIT in the TRANSACTION state. Dropping a session in
//! any other state commits nothing.
//!
//! ```
//! use mailwire_pop3::{LoginRequest, MemoryMaildrop, ServerConfig, ServerEvent, ServerSession, UniqueId};
//!
//! let maildrop = MemoryMaildrop::new();
//! maildrop.push(UniqueId::new("m1").unwrap(), &b"Subject: hi\r\n\r\nHello\r\n"[..]);
//!
//! let mut session = ServerSession::new(ServerConfig {
//!     allow_plaintext_auth: true,
//!     ..ServerConfig::default()
//! });
//! let mut sent = Vec::new();
//! session.receive(b"USER alice\r\nPASS secret\r\n");
//! while let Some(event) = session.poll_event() {
//!     if let ServerEvent::Login(LoginRequest::User { user, password }) = event {
//!         assert_eq!((user.as_inner(), password.expose()), (&b"alice"[..], &b"secret"[..]));
//!         session.accept_login(maildrop.clone()).unwrap();
//!     }
//! }
//! session.receive(b"RETR 1\r\nQUIT\r\n");
//! while let Some(bytes) = session.poll_transmit() {
//!     sent.extend_from_slice(&bytes);
//! }
//! assert!(sent.ends_with(b"Hello\r\n.\r\n+OK POP3 server signing off (1 message left)\r\n"));
//! assert!(session.is_closed());
//! ```

use std::collections::VecDeque;
use std::io::Read;

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::auth::{PlainCredentials, SaslMechanism, SaslStep, apop_verify};
use crate::body::DotStuffer;
use crate::capability::{Capability, Expire};
use crate::command::{Command, Digest, LanguageRange, SaslResponse, decode_command, decode_sasl_response};
use crate::decode::{DecodeError, Decoded, DecoderConfig, put_u64};
use crate::maildrop::{Maildrop, MaildropError, MessageInfo};
use crate::response::{Language, Response, ResponseCode, Stat, Status, StatusLine, encode_scan, encode_uidl};
use crate::types::{LanguageTag, Mechanism, MessageNumber, Param, Password, SaslData, Text, Timestamp};

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
    /// client that pipelines without reading cannot grow memory.
    pub max_buffered_output: usize,
    /// Message bytes read per [`ServerSession::poll_transmit`] call.
    pub transmit_chunk: usize,
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
        }
    }
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

/// Something the application must act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerEvent {
    /// Check these credentials, then call [`ServerSession::accept_login`]
    /// with the user's maildrop or [`ServerSession::reject_login`]. No
    /// further command is processed until then.
    Login(LoginRequest),
    /// Send everything [`ServerSession::poll_transmit`] yields, run the TLS
    /// handshake, then call [`ServerSession::tls_established`]. Input
    /// received after STLS and before the handshake was discarded.
    StartTls,
    /// The session is over: after QUIT (`committed` says whether deletions
    /// were committed) or after a failure that left the connection
    /// unusable. Send what remains, then close the connection.
    Closed {
        /// Whether deletions were committed.
        committed: bool,
    },
}

/// A server-side SASL mechanism factory.
type MechanismFactory = Box<dyn Fn() -> Box<dyn SaslMechanism> + Send>;

enum SaslExchange {
    Plain,
    Other(Mechanism<'static>, Box<dyn SaslMechanism>),
}

/// Message that is being sent.
struct Sending<R> {
    reader: R,
    stuffer: DotStuffer,
    top: Option<TopLimiter>,
}

struct Transaction<M: Maildrop> {
    maildrop: M,
    messages: Vec<MessageInfo>,
    deleted: Vec<bool>,
    live_count: u32,
    live_size: u64,
    sending: Option<Sending<M::Message>>,
}

enum State<M: Maildrop> {
    Authorization { user: Option<Param<'static>> },
    Sasl(SaslExchange),
    AwaitingLogin,
    AwaitingTls,
    Transaction(Transaction<M>),
    Closed,
}

/// The server side of one POP3 connection.
pub struct ServerSession<M: Maildrop> {
    config: ServerConfig,
    mechanisms: Vec<(Mechanism<'static>, MechanismFactory)>,
    input: BytesMut,
    output: BytesMut,
    /// Skipping the rest of an overlong line up to its LF.
    discarding: bool,
    state: State<M>,
    events: VecDeque<ServerEvent>,
    tls: Tls,
    utf8: bool,
    language: Option<usize>,
    scratch: Vec<u8>,
}

impl<M: Maildrop> std::fmt::Debug for ServerSession<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match &self.state {
            State::Authorization { .. } => "AUTHORIZATION",
            State::Sasl(_) => "AUTHORIZATION (SASL)",
            State::AwaitingLogin => "AUTHORIZATION (checking credentials)",
            State::AwaitingTls => "AUTHORIZATION (TLS handshake)",
            State::Transaction(_) => "TRANSACTION",
            State::Closed => "closed",
        };
        f.debug_struct("ServerSession")
            .field("state", &state)
            .field("tls", &self.tls)
            .field("buffered_input", &self.input.len())
            .field("pending_output", &self.output.len())
            .finish()
    }
}

impl<M: Maildrop> ServerSession<M> {
    /// A session that has queued its greeting.
    pub fn new(config: ServerConfig) -> Self {
        let mut s = ServerSession {
            tls: config.tls,
            config,
            mechanisms: Vec::new(),
            input: BytesMut::new(),
            output: BytesMut::new(),
            discarding: false,
            state: State::Authorization { user: None },
            events: VecDeque::new(),
            utf8: false,
            language: None,
            scratch: Vec::new(),
        };
        // The greeting is one line: CR, LF and NUL in the configured text
        // become spaces rather than dropping the text and its timestamp.
        let mut text: String = s
            .config
            .greeting
            .chars()
            .map(|c| if matches!(c, '\r' | '\n' | '\0') { ' ' } else { c })
            .collect();
        if let Some(ts) = &s.config.apop_timestamp {
            text.push(' ');
            text.push_str(ts.as_str());
        }
        s.reply(Status::Ok, None, text.as_bytes());
        s
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

    /// Takes bytes the client sent.
    pub fn receive(&mut self, bytes: &[u8]) {
        if matches!(self.state, State::AwaitingTls | State::Closed) {
            return;
        }
        self.input.extend_from_slice(bytes);
        self.advance();
    }

    /// Whether the caller should read more from the client: false while
    /// enough input is buffered (back-pressure for pipelined clients) or
    /// after the session closed.
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
    /// now. A message body comes in pieces of about
    /// [`ServerConfig::transmit_chunk`] bytes, read from the maildrop as
    /// they are asked for.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        self.advance();
        if self.output.is_empty() {
            self.fill_body();
            self.advance();
        }
        (!self.output.is_empty()).then(|| self.output.split().freeze())
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

    /// Accepts the pending login with the user's maildrop. The session
    /// locks it; if it is in use, the client gets `-ERR [IN-USE]`. Gives
    /// the maildrop back if no login was pending.
    pub fn accept_login(&mut self, mut maildrop: M) -> Result<(), M> {
        if !matches!(self.state, State::AwaitingLogin) {
            return Err(maildrop);
        }
        match maildrop.lock() {
            Ok(messages) => {
                let live_size = messages.iter().map(|m| m.size).sum();
                let live_count = u32::try_from(messages.len()).unwrap_or(u32::MAX);
                let mut messages = messages;
                messages.truncate(live_count as usize);
                let text = maildrop_text(live_count, live_size);
                self.state = State::Transaction(Transaction {
                    maildrop,
                    deleted: vec![false; messages.len()],
                    messages,
                    live_count,
                    live_size,
                    sending: None,
                });
                self.reply(Status::Ok, None, text.as_bytes());
            }
            Err(e) => {
                self.state = State::Authorization { user: None };
                self.maildrop_error(&e);
            }
        }
        self.advance();
        Ok(())
    }

    /// Refuses the pending login with the right response code.
    pub fn reject_login(&mut self, why: LoginRejection) {
        if !matches!(self.state, State::AwaitingLogin) {
            return;
        }
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
        }
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
            MaildropError::InUse => (ResponseCode::InUse, b"Maildrop already locked"),
            MaildropError::Temporary(_) => (ResponseCode::SysTemp, b"Temporary failure, try later"),
            MaildropError::Permanent(_) => (ResponseCode::SysPerm, b"Maildrop not available"),
        };
        self.reply(Status::Err, Some(code), text);
    }

    fn close(&mut self, committed: bool) {
        self.state = State::Closed;
        self.input.clear();
        self.events.push_back(ServerEvent::Closed { committed });
    }

    /// Processes buffered input until the session must wait.
    fn advance(&mut self) {
        loop {
            match &self.state {
                State::Closed | State::AwaitingLogin | State::AwaitingTls => return,
                State::Transaction(t) if t.sending.is_some() => return,
                _ => {}
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
            State::Sasl(_) | State::AwaitingLogin | State::AwaitingTls | State::Closed => {}
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
                    Some(user) => {
                        self.state = State::AwaitingLogin;
                        self.events
                            .push_back(ServerEvent::Login(LoginRequest::User { user, password }));
                    }
                    None => self.err("Send USER first"),
                }
            }
            Command::Apop { name, .. } if !self.utf8_ok(name.as_inner()) => {
                self.err("Invalid UTF-8 user name")
            }
            Command::Apop { name, digest } => match self.config.apop_timestamp.clone() {
                Some(timestamp) => {
                    self.state = State::AwaitingLogin;
                    self.events.push_back(ServerEvent::Login(LoginRequest::Apop {
                        user: name,
                        digest,
                        timestamp,
                    }));
                }
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
                self.state = State::AwaitingLogin;
                self.events
                    .push_back(ServerEvent::Login(LoginRequest::Plain(credentials)));
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
            }
            SaslStep::Success { authcid, authzid } => {
                self.state = State::AwaitingLogin;
                self.events.push_back(ServerEvent::Login(LoginRequest::Sasl {
                    mechanism,
                    authcid,
                    authzid,
                }));
            }
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
            Command::Retr(n) => self.send_message(n, None),
            Command::Top { message, lines } => self.send_message(message, Some(lines)),
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
                t.live_count = t.messages.len() as u32;
                t.live_size = t.messages.iter().map(|m| m.size).sum();
                let text = maildrop_text(t.live_count, t.live_size);
                self.reply(Status::Ok, None, text.as_bytes());
            }
            Command::Quit => self.quit(),
            other => self.err(&format!("{} not valid in the TRANSACTION state", other.keyword())),
        }
    }

    /// The UPDATE state (RFC 1939 section 6): commit the deletions as one
    /// step, then close.
    fn quit(&mut self) {
        let State::Transaction(mut t) = std::mem::replace(&mut self.state, State::Closed) else {
            return;
        };
        let deleted: Vec<MessageNumber> = t
            .deleted
            .iter()
            .enumerate()
            .filter(|(_, d)| **d)
            .filter_map(|(i, _)| MessageNumber::new(i as u32 + 1))
            .collect();
        let committed = match t.maildrop.commit(&deleted) {
            Ok(()) => {
                let mut text = b"POP3 server signing off (".to_vec();
                put_u64(&mut text, u64::from(t.live_count));
                text.push(b' ');
                text.extend_from_slice(plural(t.live_count).as_bytes());
                text.extend_from_slice(b" left)");
                self.reply(Status::Ok, None, &text);
                true
            }
            Err(_) => {
                t.maildrop.release();
                self.reply(
                    Status::Err,
                    Some(ResponseCode::SysTemp),
                    b"Some deleted messages not removed",
                );
                false
            }
        };
        self.close(committed);
    }

    fn send_message(&mut self, n: MessageNumber, top: Option<u32>) {
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
        let size = info.size;
        match t.maildrop.open(n) {
            Ok(reader) => {
                let out = &mut self.output;
                out.put_slice(b"+OK");
                if top.is_none() {
                    out.put_u8(b' ');
                    put_u64(out, size);
                    out.put_slice(b" octets");
                }
                out.put_slice(b"\r\n");
                t.sending = Some(Sending {
                    reader,
                    stuffer: DotStuffer::new(),
                    top: top.map(TopLimiter::new),
                });
            }
            Err(e) => self.maildrop_error(&e),
        }
    }

    /// Reads the next piece of the message being sent into the output.
    fn fill_body(&mut self) {
        let State::Transaction(t) = &mut self.state else {
            return;
        };
        let Some(sending) = &mut t.sending else { return };
        self.scratch.resize(self.config.transmit_chunk.max(512), 0);
        let read = loop {
            match sending.reader.read(&mut self.scratch) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        match read {
            Ok(0) => {
                sending.stuffer.finish(&mut self.output);
                t.sending = None;
            }
            Ok(n) => {
                let mut chunk = &self.scratch[..n];
                let mut done = false;
                if let Some(top) = &mut sending.top {
                    let keep = top.take(chunk);
                    done = top.done;
                    chunk = &chunk[..keep];
                }
                sending.stuffer.push(chunk, &mut self.output);
                if done {
                    sending.stuffer.finish(&mut self.output);
                    t.sending = None;
                }
            }
            Err(_) => {
                // The body is cut short: end the connection without the
                // terminator, so the client cannot take a partial message
                // for a whole one, and commit nothing.
                if let State::Transaction(mut t) = std::mem::replace(&mut self.state, State::Closed) {
                    t.maildrop.release();
                }
                self.close(false);
            }
        }
    }
}

impl<M: Maildrop> Drop for ServerSession<M> {
    fn drop(&mut self) {
        // A connection that ends without QUIT commits nothing.
        if let State::Transaction(t) = &mut self.state {
            t.maildrop.release();
        }
    }
}

fn maildrop_text(count: u32, size: u64) -> String {
    format!("maildrop has {count} {} ({size} octets)", plural(count))
}

fn plural(count: u32) -> &'static str {
    if count == 1 { "message" } else { "messages" }
}

/// The messages not marked deleted, with their numbers.
fn live_messages<M: Maildrop>(t: &Transaction<M>) -> impl Iterator<Item = (MessageNumber, &MessageInfo)> {
    t.messages
        .iter()
        .zip(&t.deleted)
        .enumerate()
        .filter(|(_, (_, deleted))| !**deleted)
        .filter_map(|(i, (m, _))| Some((MessageNumber::new(u32::try_from(i + 1).ok()?)?, m)))
}

/// The message `n` if it exists and is not deleted; otherwise writes the
/// `-ERR` and returns `None`.
fn live<'t, M: Maildrop>(
    t: &'t Transaction<M>,
    n: MessageNumber,
    out: &mut BytesMut,
) -> Option<&'t MessageInfo> {
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

/// Cuts a message after its header, the blank line and `n` body lines
/// (TOP, RFC 1939 section 7). Lines end at LF, so bare-LF messages count
/// the same way.
#[derive(Debug)]
struct TopLimiter {
    in_header: bool,
    /// What the current line held so far: nothing, only CR, or more.
    line: LineSoFar,
    remaining: u32,
    done: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LineSoFar {
    Empty,
    Cr,
    Content,
}

impl TopLimiter {
    fn new(lines: u32) -> Self {
        TopLimiter {
            in_header: true,
            line: LineSoFar::Empty,
            remaining: lines,
            done: false,
        }
    }

    /// How many bytes of `chunk` to send.
    fn take(&mut self, chunk: &[u8]) -> usize {
        if self.done {
            return 0;
        }
        let mut from = 0;
        for lf in memchr::memchr_iter(b'\n', chunk) {
            let line = &chunk[from..lf];
            let blank = matches!(
                (self.line, line),
                (LineSoFar::Empty, [] | [b'\r']) | (LineSoFar::Cr, [])
            );
            from = lf + 1;
            self.line = LineSoFar::Empty;
            if self.in_header {
                if blank {
                    self.in_header = false;
                    if self.remaining == 0 {
                        self.done = true;
                        return from;
                    }
                }
            } else {
                self.remaining -= 1;
                if self.remaining == 0 {
                    self.done = true;
                    return from;
                }
            }
        }
        let tail = &chunk[from..];
        self.line = match (self.line, tail) {
            (s, []) => s,
            (LineSoFar::Empty, [b'\r']) => LineSoFar::Cr,
            _ => LineSoFar::Content,
        };
        chunk.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn top(message: &[u8], lines: u32, step: usize) -> Vec<u8> {
        let mut t = TopLimiter::new(lines);
        let mut out = Vec::new();
        for chunk in message.chunks(step) {
            let keep = t.take(chunk);
            out.extend_from_slice(&chunk[..keep]);
            if t.done {
                break;
            }
        }
        out
    }

    #[test]
    fn a_client_that_does_not_read_cannot_grow_the_output() {
        let maildrop = crate::MemoryMaildrop::new();
        for i in 0..50 {
            maildrop.push(crate::UniqueId::new(format!("u{i}")).unwrap(), &b"x\r\n"[..]);
        }
        let mut session = ServerSession::new(ServerConfig {
            allow_plaintext_auth: true,
            max_buffered_output: 1024,
            max_buffered_input: usize::MAX,
            ..ServerConfig::default()
        });
        session.receive(b"USER a\r\nPASS b\r\n");
        assert!(matches!(session.poll_event(), Some(ServerEvent::Login(_))));
        session.accept_login(maildrop).unwrap();
        session.receive(&b"UIDL\r\n".repeat(200));
        // One UIDL answer is about 450 bytes: processing stopped near the limit.
        assert!(session.output.len() < 1024 + 600, "{}", session.output.len());
        assert!(!session.input.is_empty());
        let mut sent = Vec::new();
        while let Some(b) = session.poll_transmit() {
            sent.extend_from_slice(&b);
        }
        assert_eq!(sent.windows(5).filter(|w| w == b"\r\n.\r\n").count(), 200);
    }

    #[test]
    fn top_counts_only_body_lines() {
        let m = b"A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\nl3\r\n";
        for step in 1..m.len() {
            assert_eq!(top(m, 0, step), b"A: 1\r\nB: 2\r\n\r\n");
            assert_eq!(top(m, 2, step), b"A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\n");
            assert_eq!(top(m, 9, step), m);
        }
        assert_eq!(top(b"A: 1\n\nbody\nmore\n", 1, 3), b"A: 1\n\nbody\n");
        // No blank line: the whole message is header.
        assert_eq!(top(b"A: 1\r\nB: 2", 0, 4), b"A: 1\r\nB: 2");
    }
}

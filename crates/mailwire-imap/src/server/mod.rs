//! The server session: a sans-IO state machine for one IMAP connection.
//!
//! The caller moves bytes and time: [`ServerSession::receive`] what the
//! client sent, [`ServerSession::poll_transmit`] what to send back,
//! [`ServerSession::handle_timeout`] when [`ServerSession::poll_timeout`]'s
//! deadline passes. The session keeps RFC 9051's rules itself: the
//! greeting, the states and which command is valid in which, tags,
//! continuation requests for literals, LOGIN and AUTHENTICATE (PLAIN
//! decoded here, other SASL mechanisms run by the application), STARTTLS
//! and COMPRESS switch points, ENABLE, IDLE with its keep-alive, ID, and
//! auto-logout. What needs the store comes out of
//! [`ServerSession::poll_event`] as a [`ServerEvent`] carrying a handle;
//! the application answers by passing the handle back to a session method,
//! now or later. Until then the session reads no further command, so
//! commands complete in the order they were sent (RFC 9051 section 5.5)
//! and pipelined input waits in a bounded buffer.
//!
//! ```
//! use mailwire_imap::{RespText, Response, Status};
//! use mailwire_imap::server::{ServerConfig, ServerEvent, ServerSession};
//!
//! let mut session = ServerSession::new(ServerConfig {
//!     allow_plaintext_login: true,
//!     ..ServerConfig::default()
//! });
//! session.receive(b"a1 LOGIN alice secret\r\na2 LIST \"\" *\r\n");
//! let Some(ServerEvent::Authenticate(login)) = session.poll_event() else { unreachable!() };
//! let credentials = login.credentials().unwrap();
//! assert_eq!((credentials.user(), credentials.password()), (&b"alice"[..], &b"secret"[..]));
//! session.accept_login(login)?;
//!
//! // The pipelined LIST comes out once the login is answered.
//! let Some(ServerEvent::Command(list)) = session.poll_event() else { unreachable!() };
//! assert_eq!(list.command().body.name(), "LIST");
//! session.complete(list, Status::Ok, RespText::text("LIST completed"))?;
//!
//! let mut sent = Vec::new();
//! while let Some(bytes) = session.poll_transmit() {
//!     sent.extend_from_slice(&bytes);
//! }
//! let sent = String::from_utf8(sent).unwrap();
//! assert!(sent.starts_with("* OK [CAPABILITY IMAP4rev1 IMAP4rev2 AUTH=PLAIN SASL-IR LITERAL+ ENABLE IDLE] IMAP server ready\r\n"));
//! assert!(sent.ends_with("a2 OK LIST completed\r\n"));
//! # Ok::<(), mailwire_imap::server::AnswerError>(())
//! ```
//!
//! # Time
//!
//! The session never reads a clock. Call [`ServerSession::handle_timeout`]
//! once when the connection starts, after each [`ServerSession::receive`]
//! (it is cheap), and whenever the deadline of
//! [`ServerSession::poll_timeout`] passes; the session measures idle time
//! from the last call that followed input.

mod append;
mod auth;
mod config;
mod event;
mod input;
mod rules;
mod selected;

use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use bytes::Bytes;

pub use append::{AppendCompletion, AppendRequest, CatenatePart};
use auth::auth_capability;
pub use config::{Greeting, NonSyncLiterals, ServerConfig, Tls};
pub use event::{
    AnswerError, AuthRequest, AuthStep, CloseReason, CommandRequest, Credentials, LiteralRefusal,
    LiteralRequest, LoginRejection, ServerEvent,
};
use rules::State;
pub use selected::MailboxSnapshot;
use selected::View;

use crate::capability::{Capabilities, Capability};
use crate::command::{
    AuthenticateData, Command, CommandBody, CommandReader, Secret, decode_authenticate_data,
};
use crate::decode::{DecodeError, Decoded, DecoderConfig, ErrorKind, LiteralMode};
use crate::frame::literal_header;
use crate::response::{Code, RespText, Response, Status};
use crate::string::{Atom, Tag, peek_tag};

/// RFC 7888: the largest non-synchronizing literal LITERAL- allows.
const LITERAL_MINUS_MAX: u64 = 4096;

/// The extensions ENABLE can turn on (RFC 5161), as the session tracks
/// them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Enabled {
    /// `CONDSTORE` (RFC 7162), also on after QRESYNC.
    pub condstore: bool,
    /// `QRESYNC` (RFC 7162).
    pub qresync: bool,
    /// `UTF8=ACCEPT` (RFC 6855).
    pub utf8_accept: bool,
    /// `IMAP4rev2` (RFC 9051), when the server offers both revisions.
    pub imap4rev2: bool,
}

/// What the session waits for from the application.
#[derive(Debug)]
enum Waiting {
    Login {
        tag: Tag<'static>,
        mechanism: Option<String>,
    },
    Literal {
        data_start: usize,
        tag: Option<Tag<'static>>,
    },
    Command {
        effect: Effect,
        /// No EXPUNGE may be sent while it runs
        /// ([`CommandBody::forbids_expunge`]).
        by_sequence: bool,
    },
}

/// How a command's successful completion changes the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Effect {
    None,
    Select { read_only: bool },
    Deselect,
}

/// The switch a transport performs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Switch {
    Tls,
    Compress,
}

#[derive(Debug)]
enum Phase {
    /// Reading commands.
    Commands,
    /// A request is out with the application.
    Waiting {
        serial: u64,
        on: Waiting,
    },
    /// Reading the client's answer in a SASL exchange: PLAIN's
    /// credentials when `mechanism` is `None`.
    Sasl {
        tag: Tag<'static>,
        mechanism: Option<String>,
    },
    /// Between IDLE and DONE.
    Idle {
        tag: Tag<'static>,
    },
    /// Throwing away the data of a refused non-synchronizing literal.
    DiscardLiteral {
        remaining: u64,
    },
    /// Throwing away the rest of a refused command up to its line end
    /// (and the data of any non-synchronizing literal that line
    /// announces).
    SkipLine {
        tail: Vec<u8>,
    },
    /// A streamed APPEND.
    Append(Box<append::AppendStream>),
    /// Waiting for the transport to switch.
    Switching(Switch),
    Closed,
}

#[derive(Debug, Default)]
struct Clock {
    /// When the session learnt of its first moment.
    started: Option<Instant>,
    /// The last moment known.
    now: Option<Instant>,
    /// The last moment input (or work) was seen.
    active: Option<Instant>,
    /// Input arrived since the last `handle_timeout`.
    input_seen: bool,
    /// When the next IDLE keep-alive is due.
    keepalive: Option<Instant>,
}

/// The server side of one IMAP connection.
#[derive(Debug)]
pub struct ServerSession {
    config: ServerConfig,
    reader: CommandReader,
    /// Received bytes; those before `start` are used.
    input: Vec<u8>,
    start: usize,
    output: Vec<u8>,
    events: VecDeque<ServerEvent>,
    state: State,
    phase: Phase,
    tls: Tls,
    compressing: bool,
    enabled: Enabled,
    /// The `data_start` of the last literal of the current command that
    /// may be sent: accepted, or non-synchronizing.
    literal_open: usize,
    /// The reader stopped for lack of input.
    needs_input: bool,
    /// Octets of the pending input known to hold no LF while a SASL or
    /// IDLE line arrives: each read is searched once, not the whole line
    /// again.
    line_scanned: usize,
    /// Times the command being read was offered to the APPEND streaming
    /// reader ([`ServerSession::start_append`]).
    append_tries: u8,
    /// The selected mailbox as the client sees it.
    view: Option<View>,
    /// The mailbox a pending SELECT or EXAMINE is opening.
    opening: Option<View>,
    /// The message of a streamed APPEND the application decides about.
    append_waiting: Option<u64>,
    /// Bytes of APPEND data in the event queue.
    append_buffered: usize,
    /// The octets still owed to a FETCH literal being streamed
    /// ([`ServerSession::fetch_literal_start`]).
    streaming: Option<u64>,
    clock: Clock,
}

impl ServerSession {
    /// A session that has queued its greeting.
    pub fn new(config: ServerConfig) -> Self {
        let mut decoder = config.decoder;
        if let Some(limit) = config.append_limit {
            // APPEND's message may be larger than other literals; the
            // session checks every other literal against the configured
            // limit itself.
            decoder.limits.literal = decoder.limits.literal.max(limit);
            decoder.limits.command_message = decoder
                .limits
                .command_message
                .max(limit.saturating_add(64 * 1024));
        }
        let mut s = ServerSession {
            reader: CommandReader::new(decoder),
            tls: config.tls,
            input: Vec::new(),
            start: 0,
            output: Vec::new(),
            events: VecDeque::new(),
            state: State::NotAuthenticated,
            phase: Phase::Commands,
            compressing: false,
            enabled: Enabled::default(),
            literal_open: 0,
            needs_input: true,
            line_scanned: 0,
            append_tries: 0,
            view: None,
            opening: None,
            append_waiting: None,
            append_buffered: 0,
            streaming: None,
            clock: Clock::default(),
            config,
        };
        match s.config.greeting.clone() {
            Greeting::Ok(text) => {
                let code = Code::Capability(s.capabilities());
                s.untagged(Status::Ok, Some(code), &text);
            }
            Greeting::PreAuth { text } => {
                s.state = State::Authenticated;
                let code = Code::Capability(s.capabilities());
                s.untagged(Status::PreAuth, Some(code), &text);
            }
            Greeting::Bye(text) => {
                s.untagged(Status::Bye, None, &text);
                s.close(CloseReason::Refused);
            }
        }
        s
    }

    /// Takes bytes the client sent.
    pub fn receive(&mut self, bytes: &[u8]) {
        match self.phase {
            Phase::Closed | Phase::Switching(Switch::Tls) => return,
            _ => {}
        }
        self.clock.input_seen = true;
        self.input.extend_from_slice(bytes);
        self.advance();
    }

    /// Whether the caller should read more input now: false while the
    /// session holds enough unprocessed input (it waits for the
    /// application or for output to drain) or is closed.
    pub fn wants_input(&self) -> bool {
        match self.phase {
            Phase::Closed | Phase::Switching(_) => false,
            _ if self.append_buffered >= self.config.max_buffered_input => false,
            _ => self.needs_input || self.input.len() - self.start < self.config.max_buffered_input,
        }
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        let event = self.events.pop_front();
        if let Some(ServerEvent::AppendData(data)) = &event {
            self.append_data_taken(data.len());
            self.advance();
        }
        event
    }

    /// The next bytes to send to the client.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        if self.output.is_empty() {
            return None;
        }
        let out = Bytes::from(std::mem::take(&mut self.output));
        self.advance();
        Some(out)
    }

    /// The moment [`ServerSession::handle_timeout`] should next be
    /// called, if any.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if matches!(self.phase, Phase::Closed) {
            return None;
        }
        let logout = self.logout_deadline();
        match (logout, self.clock.keepalive) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Tells the session the time: auto-logout and IDLE keep-alives happen
    /// here.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.clock.now = Some(now);
        self.clock.started.get_or_insert(now);
        let busy = matches!(self.phase, Phase::Waiting { .. } | Phase::Switching(_));
        if self.clock.input_seen || self.clock.active.is_none() || busy {
            self.clock.active = Some(now);
            self.clock.input_seen = false;
        }
        if matches!(self.phase, Phase::Closed) {
            return;
        }
        if self.logout_deadline().is_some_and(|d| now >= d) {
            self.untagged(Status::Bye, None, "Autologout; idle for too long");
            self.close(CloseReason::Autologout);
            return;
        }
        if let Phase::Idle { .. } = self.phase {
            match self.clock.keepalive {
                Some(at) if now >= at => {
                    self.untagged(Status::Ok, None, "Still here");
                    self.clock.keepalive = Some(now + self.config.idle_keepalive);
                }
                None => self.clock.keepalive = Some(now + self.config.idle_keepalive),
                Some(_) => {}
            }
        }
    }

    /// Ends the session with `* BYE` (the server is shutting down). A
    /// request still out with the application is dropped.
    pub fn shutdown(&mut self, text: &str) {
        if matches!(self.phase, Phase::Closed) {
            return;
        }
        // Inside a streamed literal nothing else can be said: the
        // connection just closes.
        if self.streaming.is_none() {
            self.untagged(Status::Bye, None, text);
        }
        self.close(CloseReason::Shutdown);
    }

    /// Whether the session has ended.
    pub fn is_closed(&self) -> bool {
        matches!(self.phase, Phase::Closed)
    }

    /// Whether a user is logged in.
    pub fn is_authenticated(&self) -> bool {
        matches!(self.state, State::Authenticated | State::Selected { .. })
    }

    /// Whether a mailbox is selected, and if so whether read-only.
    pub fn selected(&self) -> Option<bool> {
        match self.state {
            State::Selected { read_only } => Some(read_only),
            _ => None,
        }
    }

    /// The extensions ENABLE turned on.
    pub fn enabled(&self) -> Enabled {
        self.enabled
    }

    /// Whether mailbox names travel as UTF-8 (after ENABLE UTF8=ACCEPT, RFC
    /// 6855, or with IMAP4rev2, RFC 9051 section 5.1) rather than in
    /// modified UTF-7. Names in the commands the application receives are
    /// in the client's form, and so must be those it sends:
    /// [`ServerSession::mailbox_name`] and [`ServerSession::mailbox`]
    /// convert.
    pub fn utf8_names(&self) -> bool {
        self.enabled.utf8_accept || self.rev2_active()
    }

    /// The human name of a mailbox a command names, decoded from the
    /// client's form.
    pub fn mailbox_name<'m>(
        &self,
        mailbox: &'m crate::mailbox::Mailbox<'_>,
    ) -> Result<Cow<'m, str>, crate::string::TypeError> {
        if self.utf8_names() {
            mailbox.to_utf8_name_raw().map(Cow::Borrowed)
        } else {
            mailbox.to_utf8_name()
        }
    }

    /// A mailbox of a human name, in the client's form.
    pub fn mailbox<'n>(
        &self,
        name: &'n str,
    ) -> Result<crate::mailbox::Mailbox<'n>, crate::string::TypeError> {
        if self.utf8_names() {
            crate::mailbox::Mailbox::from_utf8_name_raw(name)
        } else {
            Ok(crate::mailbox::Mailbox::from_utf8_name(name))
        }
    }

    /// Whether TLS protects the connection.
    pub fn tls(&self) -> Tls {
        self.tls
    }

    /// The capabilities to announce in the current state.
    pub fn capabilities(&self) -> Capabilities<'static> {
        let mut list = Vec::new();
        if self.config.imap4rev1 {
            list.push(Capability::Imap4Rev1);
        }
        if self.config.imap4rev2 {
            list.push(Capability::Imap4Rev2);
        }
        if self.state == State::NotAuthenticated {
            if self.tls == Tls::Available {
                list.push(Capability::StartTls);
            }
            let plaintext = self.plaintext_allowed();
            if !plaintext {
                list.push(Capability::LoginDisabled);
            }
            if self.config.sasl_plain && plaintext {
                list.push(auth_capability("PLAIN"));
            }
            list.extend(self.config.sasl_mechanisms.iter().map(|m| auth_capability(m)));
            list.push(Capability::SaslIr);
        }
        match self.config.non_sync_literals {
            NonSyncLiterals::Plus => list.push(Capability::LiteralPlus),
            NonSyncLiterals::Minus => list.push(Capability::LiteralMinus),
            NonSyncLiterals::None => {}
        }
        list.extend([Capability::Enable, Capability::Idle]);
        if self.config.id.is_some() {
            list.push(Capability::Id);
        }
        if self.state != State::NotAuthenticated {
            if self.config.unauthenticate {
                list.push(Capability::Unauthenticate);
            }
            if self.config.compress && !self.compressing {
                list.push(Capability::Compress(Atom::new("DEFLATE").expect("an atom")));
            }
            if let Some(limit) = self.config.append_limit {
                list.push(Capability::AppendLimit(Some(limit)));
            }
            for c in &self.config.capabilities {
                if !list.contains(c) {
                    list.push(c.clone());
                }
            }
        }
        Capabilities(list)
    }

    /// Lets the client send a literal's data (`+ Ready for literal data`).
    pub fn accept_literal(&mut self, request: LiteralRequest) -> Result<(), AnswerError> {
        let (data_start, _) = self.take_literal(request.serial)?;
        self.write(&Response::Continue(RespText::text("Ready for literal data")));
        self.literal_open = data_start;
        self.resume();
        Ok(())
    }

    /// Refuses a literal: the command fails and its literal is never read.
    pub fn refuse_literal(
        &mut self,
        request: LiteralRequest,
        why: LiteralRefusal,
    ) -> Result<(), AnswerError> {
        let (data_start, tag) = self.take_literal(request.serial)?;
        let (status, code, text) = why.answer(None);
        self.status(tag.as_ref(), status, code, text);
        // The client abandons the command: what follows the literal's
        // header is the next command.
        self.consume(data_start);
        self.end_command();
        self.resume();
        Ok(())
    }

    /// Sends untagged data for a command: any response except a tagged
    /// status, a continuation request, and (with a mailbox selected)
    /// `EXISTS`, `EXPUNGE`, `FETCH` and `VANISHED` without `(EARLIER)`,
    /// whose numbers the session keeps: use
    /// [`ServerSession::fetch_data`] and the change methods
    /// ([`ServerSession::message_added`]...) for those.
    pub fn respond(&mut self, request: &CommandRequest, response: &Response<'_>) -> Result<(), AnswerError> {
        self.check_command(request.serial)?;
        match response {
            Response::Status { tag: Some(_), .. }
            | Response::Status {
                status: Status::PreAuth,
                ..
            }
            | Response::Continue(_) => return Err(AnswerError::NotAllowed),
            // Message numbers are the session's: news about the selected
            // mailbox goes through the view (`message_added`, `fetch_data`
            // ...), so that the client's numbers stay right.
            Response::Exists(_)
            | Response::Expunge(_)
            | Response::Fetch { .. }
            | Response::Vanished { earlier: false, .. }
                if self.view.is_some() || self.opening.is_some() =>
            {
                return Err(AnswerError::NotAllowed);
            }
            _ => {}
        }
        self.write(response);
        Ok(())
    }

    /// Completes a command with its tagged status (`OK`, `NO` or `BAD`).
    /// A successful SELECT or EXAMINE selects the mailbox (read-only for
    /// EXAMINE, or when the text carries `[READ-ONLY]`); a failed one
    /// leaves none selected; CLOSE and UNSELECT deselect.
    pub fn complete(
        &mut self,
        request: CommandRequest,
        status: Status,
        text: RespText<'_>,
    ) -> Result<(), AnswerError> {
        if !matches!(status, Status::Ok | Status::No | Status::Bad) {
            return Err(AnswerError::NotAllowed);
        }
        let (effect, by_sequence) = self.check_command(request.serial)?;
        match (effect, status) {
            (Effect::Select { read_only }, Status::Ok) => {
                let Some(mut view) = self.opening.take() else {
                    return Err(AnswerError::NotAllowed);
                };
                view.read_only |= read_only || text.code == Some(Code::ReadOnly);
                self.state = State::Selected {
                    read_only: view.read_only,
                };
                self.view = Some(view);
            }
            (Effect::Select { .. }, Status::No) | (Effect::Deselect, Status::Ok) => {
                self.opening = None;
                self.view = None;
                self.state = State::Authenticated;
            }
            (Effect::Select { .. }, _) => self.opening = None,
            _ => self.announce(!by_sequence),
        }
        self.write(&Response::Status {
            tag: Some(request.command.tag),
            status,
            text,
        });
        self.phase = Phase::Commands;
        self.resume();
        Ok(())
    }

    /// The TLS handshake after STARTTLS succeeded.
    pub fn tls_established(&mut self) {
        if let Phase::Switching(Switch::Tls) = self.phase {
            self.tls = Tls::Active;
            self.phase = Phase::Commands;
            self.advance();
        }
    }

    /// The transport compresses from now on (after
    /// [`ServerEvent::Compress`]).
    pub fn compression_started(&mut self) {
        if let Phase::Switching(Switch::Compress) = self.phase {
            self.compressing = true;
            self.phase = Phase::Commands;
            self.advance();
        }
    }

    fn plaintext_allowed(&self) -> bool {
        self.tls == Tls::Active || self.config.allow_plaintext_login
    }

    fn offers(&self, test: impl Fn(&Capability<'_>) -> bool) -> bool {
        self.config.capabilities.iter().any(test)
    }

    fn logout_deadline(&self) -> Option<Instant> {
        if matches!(self.phase, Phase::Waiting { .. } | Phase::Switching(_)) {
            return None;
        }
        if self.state == State::NotAuthenticated {
            Some(self.clock.started? + self.config.login_timeout)
        } else {
            Some(self.clock.active? + self.config.autologout)
        }
    }

    fn take_literal(&mut self, serial: u64) -> Result<(usize, Option<Tag<'static>>), AnswerError> {
        match std::mem::replace(&mut self.phase, Phase::Commands) {
            Phase::Waiting {
                serial: s,
                on: Waiting::Literal { data_start, tag },
            } if s == serial => Ok((data_start, tag)),
            other => {
                self.phase = other;
                Err(AnswerError::NotPending)
            }
        }
    }

    fn check_command(&self, serial: u64) -> Result<(Effect, bool), AnswerError> {
        if self.streaming.is_some() {
            // Only the literal's data and end may come now.
            return Err(AnswerError::NotAllowed);
        }
        match &self.phase {
            Phase::Waiting {
                serial: s,
                on: Waiting::Command { effect, by_sequence },
            } if *s == serial => Ok((*effect, *by_sequence)),
            _ => Err(AnswerError::NotPending),
        }
    }

    /// Continues with buffered input after an answer.
    fn resume(&mut self) {
        self.advance();
    }

    fn close(&mut self, reason: CloseReason) {
        self.append_closed();
        if let Phase::Idle { .. } = self.phase {
            self.events.push_back(ServerEvent::IdleEnded);
        }
        self.phase = Phase::Closed;
        self.state = State::Logout;
        self.clock.keepalive = None;
        self.input = Vec::new();
        self.start = 0;
        self.events.push_back(ServerEvent::Closed(reason));
    }

    fn write(&mut self, response: &Response<'_>) {
        response.encode_into(&mut self.output);
    }

    fn untagged(&mut self, status: Status, code: Option<Code<'_>>, text: &str) {
        self.status(None, status, code, text);
    }

    fn tagged(&mut self, tag: &Tag<'_>, status: Status, code: Option<Code<'_>>, text: &str) {
        self.status(Some(tag), status, code, text);
    }

    fn status(&mut self, tag: Option<&Tag<'_>>, status: Status, code: Option<Code<'_>>, text: &str) {
        self.write(&Response::Status {
            tag: tag.map(|t| Tag::new(t.as_str()).expect("a valid tag")),
            status,
            text: RespText {
                code,
                text: mailwire_core::one_line(text),
            },
        });
    }

    /// Processes buffered input until the session must wait.
    fn advance(&mut self) {
        loop {
            if self.output.len() >= self.config.max_buffered_output {
                return;
            }
            let progressed = match &self.phase {
                Phase::Commands => self.next_command(),
                Phase::Sasl { .. } => self.sasl_line(),
                Phase::Idle { .. } => self.idle_line(),
                Phase::DiscardLiteral { .. } => self.discard_literal(),
                Phase::SkipLine { .. } => self.skip_line(),
                Phase::Append(_) => self.append_step(),
                Phase::Waiting { .. } | Phase::Switching(_) | Phase::Closed => false,
            };
            if !progressed {
                return;
            }
        }
    }

    fn dispatch(&mut self, command: Command<'static>) {
        let Command { tag, body } = command;
        let valid = rules::valid_in(&body);
        if !valid.allows(self.state) {
            let text = valid.refusal(self.state);
            self.tagged(&tag, Status::Bad, None, text);
            return;
        }
        if rules::needs(&body, self.config.imap4rev2).is_some_and(|test| !self.offers(test)) {
            let text = format!("Unknown command {}", body.name());
            self.tagged(&tag, Status::Bad, None, &text);
            return;
        }
        if let CommandBody::Thread { thread, .. } = &body {
            // THREAD=algorithm names each algorithm offered (RFC 5256).
            let name = thread.algorithm.as_str();
            let offered = self
                .config
                .capabilities
                .iter()
                .any(|c| matches!(c, Capability::Thread(a) if a.as_str().eq_ignore_ascii_case(name)));
            if !offered {
                self.tagged(&tag, Status::Bad, None, "Unsupported threading algorithm");
                return;
            }
        }
        if let CommandBody::Search { search, .. } = &body {
            if self.enabled.utf8_accept && search.charset.is_some() {
                // RFC 6855 section 3: the charset labels would conflict.
                self.tagged(
                    &tag,
                    Status::Bad,
                    None,
                    "SEARCH with CHARSET after ENABLE UTF8=ACCEPT",
                );
                return;
            }
        }
        match body {
            CommandBody::Capability => {
                self.write(&Response::Capability(self.capabilities()));
                self.tagged(&tag, Status::Ok, None, "CAPABILITY completed");
            }
            CommandBody::Noop if !matches!(self.state, State::Selected { .. }) => {
                self.tagged(&tag, Status::Ok, None, "NOOP completed");
            }
            CommandBody::Logout => {
                self.untagged(Status::Bye, None, "Logging out");
                self.tagged(&tag, Status::Ok, None, "LOGOUT completed");
                self.close(CloseReason::Logout);
            }
            CommandBody::StartTls => self.starttls(tag),
            CommandBody::Login { username, password } => {
                if !self.plaintext_allowed() {
                    let text = "LOGIN is disabled until TLS is active";
                    self.tagged(&tag, Status::No, Some(condition("PRIVACYREQUIRED")), text);
                    return;
                }
                let credentials = Credentials::Login {
                    user: username.as_bytes().to_vec(),
                    password: Secret::new(password.expose().as_bytes().to_vec()),
                };
                self.ask_login(tag, None, AuthStep::Credentials(credentials));
            }
            CommandBody::Authenticate {
                mechanism,
                initial_response,
            } => self.authenticate(
                tag,
                mechanism.as_str(),
                initial_response.map(|r| r.expose().as_str().to_owned()),
            ),
            CommandBody::Enable(list) => self.enable(tag, list),
            CommandBody::Idle => {
                self.write(&Response::Continue(RespText::text("idling")));
                self.phase = Phase::Idle { tag };
                self.clock.keepalive = self.clock.now.map(|now| now + self.config.idle_keepalive);
                self.events.push_back(ServerEvent::IdleStarted);
            }
            CommandBody::Id(params) => match self.config.id.clone() {
                Some(answer) => {
                    self.write(&Response::Id(answer));
                    self.tagged(&tag, Status::Ok, None, "ID completed");
                    self.events.push_back(ServerEvent::ClientId(params));
                }
                None => self.tagged(&tag, Status::Bad, None, "Unknown command ID"),
            },
            CommandBody::Compress(mechanism) => self.compress(tag, mechanism.as_str()),
            CommandBody::Unauthenticate if self.config.unauthenticate => {
                self.state = State::NotAuthenticated;
                // The selected mailbox goes with the login (its changes
                // and `$` are the old user's, not the next one's).
                self.view = None;
                self.opening = None;
                self.enabled = Enabled::default();
                self.clock.started = self.clock.now;
                self.tagged(&tag, Status::Ok, None, "UNAUTHENTICATE completed");
                self.events.push_back(ServerEvent::Unauthenticated);
            }
            CommandBody::Unauthenticate => {
                self.tagged(&tag, Status::Bad, None, "Unknown command UNAUTHENTICATE")
            }
            body => {
                let effect = match &body {
                    CommandBody::Select { .. } => Effect::Select { read_only: false },
                    CommandBody::Examine { .. } => Effect::Select { read_only: true },
                    CommandBody::Close | CommandBody::Unselect => Effect::Deselect,
                    _ => Effect::None,
                };
                let messages = match self.messages_of(&body) {
                    Ok(messages) => messages,
                    Err(text) => return self.tagged(&tag, Status::Bad, None, text),
                };
                if matches!(effect, Effect::Select { .. }) && matches!(self.state, State::Selected { .. }) {
                    // RFC 9051 section 6.3.2: the old mailbox closes first,
                    // whether or not the new one opens.
                    self.untagged(Status::Ok, Some(Code::Closed), "Previous mailbox closed");
                    self.state = State::Authenticated;
                    self.view = None;
                }
                // RFC 7162 section 3.1: the first CONDSTORE-enabling command
                // turns MODSEQ on in every untagged FETCH from now on, and
                // owes the client the selected mailbox's HIGHESTMODSEQ (a
                // SELECT's opening carries the new mailbox's).
                let turns_on_condstore = !self.enabled.condstore
                    && rules::enables_condstore(&body)
                    && self.offers(|c| *c == Capability::CondStore);
                if turns_on_condstore {
                    self.enabled.condstore = true;
                    self.events
                        .push_back(ServerEvent::Enabled(vec![Capability::CondStore]));
                }
                let owes_highest_modseq = turns_on_condstore && self.view.is_some();
                let by_sequence = body.forbids_expunge();
                let serial = next_serial();
                self.phase = Phase::Waiting {
                    serial,
                    on: Waiting::Command { effect, by_sequence },
                };
                self.events.push_back(ServerEvent::Command(CommandRequest {
                    serial,
                    command: Command { tag, body },
                    messages,
                    owes_highest_modseq,
                }));
            }
        }
    }

    fn starttls(&mut self, tag: Tag<'static>) {
        if self.tls != Tls::Available {
            self.tagged(&tag, Status::Bad, None, "STARTTLS not available");
            return;
        }
        self.tagged(&tag, Status::Ok, None, "Begin TLS negotiation now");
        // RFC 9051 section 6.2.1: nothing sent before the handshake may
        // be taken as a command afterwards.
        self.input.clear();
        self.start = 0;
        self.phase = Phase::Switching(Switch::Tls);
        self.events.push_back(ServerEvent::StartTls);
    }

    fn compress(&mut self, tag: Tag<'static>, mechanism: &str) {
        if !self.config.compress {
            self.tagged(&tag, Status::Bad, None, "Unknown command COMPRESS");
        } else if self.compressing {
            self.tagged(&tag, Status::Bad, None, "Compression already active");
        } else if !mechanism.eq_ignore_ascii_case("DEFLATE") {
            self.tagged(&tag, Status::Bad, None, "Unknown compression mechanism");
        } else {
            self.tagged(&tag, Status::Ok, None, "DEFLATE active");
            let rest = Bytes::copy_from_slice(self.pending_input());
            self.input.clear();
            self.start = 0;
            self.phase = Phase::Switching(Switch::Compress);
            self.events.push_back(ServerEvent::Compress { input: rest });
        }
    }

    fn enable(&mut self, tag: Tag<'static>, list: Vec<Capability<'static>>) {
        let had_condstore = self.enabled.condstore;
        let mut newly = Vec::new();
        for capability in list {
            let offered = self.config.capabilities.contains(&capability);
            let flag = match capability {
                Capability::CondStore if offered => &mut self.enabled.condstore,
                Capability::QResync if offered => &mut self.enabled.qresync,
                Capability::Utf8Accept if offered => &mut self.enabled.utf8_accept,
                Capability::Imap4Rev2 if self.config.imap4rev2 => &mut self.enabled.imap4rev2,
                _ => continue,
            };
            if !*flag {
                *flag = true;
                newly.push(capability);
            }
        }
        // RFC 7162 section 3.2.3: QRESYNC implies CONDSTORE.
        if self.enabled.qresync {
            self.enabled.condstore = true;
        }
        self.write(&Response::Enabled(newly.clone()));
        if let (false, true, Some(view)) = (had_condstore, self.enabled.condstore, &self.view) {
            // ENABLE belongs before SELECT (RFC 5161 section 3.1), but a
            // client that sends it after gets what RFC 7162 section 3.1
            // owes a first CONDSTORE-enabling command with a mailbox
            // selected.
            let status = selected::modseq_status(view.highest_modseq);
            self.write(&status);
        }
        self.tagged(&tag, Status::Ok, None, "ENABLE completed");
        if !newly.is_empty() {
            self.events.push_back(ServerEvent::Enabled(newly));
        }
    }
}

fn condition(name: &'static str) -> Code<'static> {
    Code::Condition(Atom::new(name).expect("RFC 5530 codes are atoms"))
}

/// A serial number no other request of this process carries, so a handle
/// from another session never matches.
fn next_serial() -> u64 {
    static SERIAL: AtomicU64 = AtomicU64::new(1);
    SERIAL.fetch_add(1, Ordering::Relaxed)
}

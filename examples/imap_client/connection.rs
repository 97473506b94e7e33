//! One IMAP connection: a blocking transport (plain, STARTTLS or implicit
//! TLS) and the sans-IO `ClientSession` that speaks over it. Every command
//! runs to its completion before the next is sent; what the server says
//! about the selected mailbox meanwhile is kept as [`MailboxChange`]s for
//! the caller.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::time::{Duration, Instant};

use bytes::Bytes;
use mailwire::imap::client::{
    ClientConfig, ClientEvent, ClientSession, ClientState, Completion, MailboxChange,
};
use mailwire::imap::{Capability, Code, CommandBody, DataItemName, MessageDataItem, RespText, Status};

use crate::Failure;
use crate::tls_client::{ConnectError, TlsSetup, Transport, connect_tcp, network_error};

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TlsMode {
    /// TLS from the first byte (RFC 8314), the default on port 993.
    Implicit,
    /// Plain TCP upgraded by STARTTLS before logging in.
    #[value(name = "starttls")]
    StartTls,
    /// No TLS at all: the password crosses the network in clear.
    None,
}

/// How long a server that starts in plain text may take to greet.
const GREETING_WAIT: Duration = Duration::from_secs(10);

/// The slowest a message streamed to the program may come, in octets a
/// second, measured over each `--timeout`: a server that sends a large
/// message a few octets at a time answers every read and keeps the
/// session's clock from running (each piece is an answer), and would hold
/// the client for days. A link of 8 kbit/s is faster.
const MIN_STREAM_RATE: u64 = 1024;

/// Where and how to connect.
pub struct Target<'a> {
    pub host: &'a str,
    pub port: u16,
    pub tls: TlsMode,
    pub ca_file: Option<&'a std::path::Path>,
    /// The name checked in the certificate instead of `host`.
    pub tls_name: Option<&'a str>,
    pub timeout: Duration,
}

/// A piece of a FETCH answer whose literal is too long to hold: the item
/// it belongs to starts, its bytes come, then the message's answer ends.
pub enum Streamed<'a> {
    /// A literal begins.
    Start {
        /// The message's UID, when the items before the literal or the
        /// session say it.
        uid: Option<u32>,
        /// The item the literal is the value of.
        item: &'a DataItemName<'static>,
    },
    /// Some of its bytes.
    Data(&'a [u8]),
    /// The message's answer is complete; `uid` is its UID, when the
    /// answer or the session said it.
    End {
        /// The message's UID.
        uid: Option<u32>,
    },
}

/// The UID among a FETCH answer's items, if it has one.
pub fn uid_in(items: &[MessageDataItem<'_>]) -> Option<u32> {
    items.iter().find_map(|i| match i {
        MessageDataItem::Uid(u) => Some(u.get()),
        _ => None,
    })
}

/// Receives streamed FETCH literals.
pub type Sink<'a> = dyn FnMut(Streamed<'_>) -> io::Result<()> + 'a;

/// A logged-in IMAP connection.
pub struct Imap {
    transport: Transport,
    session: ClientSession,
    buf: Vec<u8>,
    changes: VecDeque<MailboxChange>,
    /// `BYE` was received.
    bye: Option<String>,
    /// Responses that could not be read so far: a download whose message
    /// did not come and that saw one fails, instead of taking the
    /// message for expunged.
    unreadable: u64,
    /// How long to wait for the server (`--timeout`).
    timeout: Duration,
    /// When the server last sent data, or this program last sent some:
    /// with no command's answer to wait for (the greeting), the server
    /// has the timeout from then (TLS records that carry no data, a
    /// session ticket, do not count).
    heard: Instant,
    /// While a message is streamed: how long reads have waited for it
    /// since its pace was last measured, and the octets since.
    pace: Option<(Duration, u64)>,
}

impl From<ConnectError> for Failure {
    fn from(e: ConnectError) -> Failure {
        match e {
            ConnectError::Usage(m) => Failure::Usage(m),
            ConnectError::Network(m) => Failure::Network(m),
        }
    }
}

/// A tagged or untagged response's text, with its code's name when it
/// has one the user can act on.
pub fn describe(text: &RespText<'_>) -> String {
    match condition(text) {
        Some(code) => format!("[{code}] {}", text.text),
        None => text.text.to_string(),
    }
}

/// The RFC 5530 condition of a response (`UNAVAILABLE`, `NONEXISTENT`...).
pub fn condition<'t>(text: &'t RespText<'_>) -> Option<&'t str> {
    match &text.code {
        Some(Code::Condition(atom)) => Some(atom.as_str()),
        _ => None,
    }
}

impl Imap {
    /// Connects, protects the connection as `target.tls` says, and logs in.
    pub fn connect(target: &Target<'_>, user: &str, password: &[u8]) -> Result<Imap, Failure> {
        let tls = match target.tls {
            TlsMode::None => None,
            _ => Some(TlsSetup::new(
                target.ca_file,
                target.tls_name.unwrap_or(target.host),
                " (--ca-file trusts a private CA or a self-signed certificate; --tls-name sets the name to check)",
            )?),
        };
        let tcp = connect_tcp(target.host, target.port, target.timeout)?;
        let transport = match (&tls, target.tls) {
            (Some(setup), TlsMode::Implicit) => setup.wrap(tcp)?,
            _ => Transport::Plain(tcp),
        };
        let config = ClientConfig {
            // Larger literals (message bodies, attachments) reach the
            // program in pieces and never whole.
            stream_above: 256 * 1024,
            // A command's answer must make progress (whole responses, or
            // pieces of a streamed message) within the timeout: a server
            // that sends a response a few octets at a time, each before
            // the read would time out, held the client for good.
            response_timeout: Some(target.timeout),
            ..ClientConfig::default()
        };
        let mut imap = Imap {
            transport,
            session: ClientSession::new(config),
            buf: vec![0; 64 * 1024],
            changes: VecDeque::new(),
            bye: None,
            unreadable: 0,
            timeout: target.timeout,
            heard: Instant::now(),
            pace: None,
        };
        imap.greeting(target.timeout.min(GREETING_WAIT))?;
        if target.tls == TlsMode::StartTls {
            imap.start_tls(tls.as_ref().expect("STARTTLS has a TLS setup"))?;
        }
        if imap.session.state() == ClientState::NotAuthenticated {
            imap.login(user, password)?;
        }
        if imap.session.capabilities().is_none() {
            imap.ok(CommandBody::Capability, "CAPABILITY")?;
        }
        Ok(imap)
    }

    /// Waits for the greeting. On a connection that starts in plain text a
    /// silent server is most likely waiting for a TLS handshake (an IMAPS
    /// port), so the wait is short and the error says what to change.
    fn greeting(&mut self, wait: Duration) -> Result<(), Failure> {
        let plain = matches!(self.transport, Transport::Plain(_));
        let hint = "; a port that expects TLS from the first byte (IMAPS) needs --tls implicit";
        let deadline = Instant::now() + wait;
        loop {
            let event = if plain {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(Failure::Network(format!(
                        "the server sent no greeting within {} s{hint}",
                        wait.as_secs_f32()
                    )));
                }
                match self.next_event_within(left) {
                    Ok(Some(event)) => event,
                    Ok(None) => continue,
                    Err(Failure::Network(text)) => return Err(Failure::Network(format!("{text}{hint}"))),
                    Err(other) => return Err(other),
                }
            } else {
                self.next_event()?
            };
            match event {
                ClientEvent::Greeting { status, text } => {
                    return match status {
                        Status::Bye => Err(Failure::LoginTemporary(format!(
                            "the server refused the connection: {}",
                            describe(&text)
                        ))),
                        _ => {
                            if self.session.capabilities().is_none() {
                                self.ok(CommandBody::Capability, "CAPABILITY")?;
                            }
                            Ok(())
                        }
                    };
                }
                other => self.aside(other)?,
            }
        }
    }

    fn start_tls(&mut self, setup: &TlsSetup) -> Result<(), Failure> {
        if !self.offers("STARTTLS") {
            return Err(Failure::Network(
                "the server does not offer STARTTLS: use --tls implicit on its IMAPS port, or --tls none"
                    .into(),
            ));
        }
        // Refused, TLS cannot be had: a failure of the connection (exit
        // 3), like a server without STARTTLS, never a plaintext login.
        self.ok(CommandBody::StartTls, "STARTTLS").map_err(|e| match e {
            Failure::Server(text) => Failure::Network(format!(
                "{text}: the server refused TLS (use --tls implicit on its IMAPS port, or --tls none)"
            )),
            other => other,
        })?;
        self.flush()?;
        // A stand-in while the socket is wrapped; dropped right after.
        let stand_in = Transport::Plain(
            self.transport
                .tcp()
                .try_clone()
                .map_err(|e| network_error("socket", &e))?,
        );
        let Transport::Plain(tcp) = std::mem::replace(&mut self.transport, stand_in) else {
            return Err(Failure::Network("STARTTLS on a TLS connection".into()));
        };
        self.transport = setup.wrap(tcp)?;
        self.session.tls_established();
        self.ok(CommandBody::Capability, "CAPABILITY")?;
        Ok(())
    }

    fn login(&mut self, user: &str, password: &[u8]) -> Result<(), Failure> {
        if self.offers("LOGINDISABLED") && !self.offers("AUTH=PLAIN") {
            return Err(Failure::Login(
                "the server allows no login on this connection (LOGINDISABLED): use TLS".into(),
            ));
        }
        let id = if self.offers("AUTH=PLAIN") {
            self.session.authenticate_plain(b"", user.as_bytes(), password)
        } else {
            self.session
                .login(user.as_bytes(), password)
                .map_err(|e| Failure::Usage(format!("the user name or password cannot be sent: {e}")))?
        };
        let done = self.wait(id, None)?;
        match done.status {
            Status::Ok => Ok(()),
            _ => {
                let text = describe(&done.text);
                let temporary = condition(&done.text)
                    .is_some_and(|c| ["UNAVAILABLE", "INUSE", "LIMIT", "SERVERBUG"].contains(&c));
                Err(if temporary {
                    Failure::LoginTemporary(format!("login refused for now: {text}"))
                } else {
                    Failure::Login(format!("login refused: {text}"))
                })
            }
        }
    }

    /// Whether the server announced `capability` (`IDLE`, `AUTH=PLAIN`...).
    pub fn offers(&self, capability: &str) -> bool {
        let Ok(wanted) = Capability::try_from(capability) else {
            return false;
        };
        self.session
            .capabilities()
            .is_some_and(|caps| caps.contains(&wanted))
    }

    /// The selected mailbox, as the session follows it.
    pub fn mailbox(&self) -> Option<&mailwire::imap::client::MailboxView> {
        self.session.mailbox()
    }

    /// Runs a command and returns its completion, whatever its status.
    pub fn run(&mut self, body: CommandBody<'static>) -> Result<Completion, Failure> {
        let id = self.session.send(body);
        self.wait(id, None)
    }

    /// Runs a command that must succeed; a NO or BAD is a failure that
    /// names `what`.
    pub fn ok(&mut self, body: CommandBody<'static>, what: &str) -> Result<Completion, Failure> {
        let done = self.run(body)?;
        Self::check(done, what)
    }

    /// Runs a FETCH whose long literals go to `sink` as they arrive, and
    /// returns its completion, whatever its status.
    pub fn run_streaming(
        &mut self,
        body: CommandBody<'static>,
        sink: &mut Sink<'_>,
    ) -> Result<Completion, Failure> {
        let id = self.session.send(body);
        self.wait(id, Some(sink))
    }

    /// [`Imap::run_streaming`] for a FETCH that must succeed.
    pub fn fetch_streaming(
        &mut self,
        body: CommandBody<'static>,
        what: &str,
        sink: &mut Sink<'_>,
    ) -> Result<Completion, Failure> {
        let done = self.run_streaming(body, sink)?;
        Self::check(done, what)
    }

    /// APPENDLIMIT, when the server states one limit for every mailbox.
    pub fn append_limit(&self) -> Option<u64> {
        self.session
            .capabilities()
            .and_then(|c| c.append_limit())
            .flatten()
    }

    /// `done` if it succeeded; a NO or BAD is a failure that names `what`.
    pub fn check(done: Completion, what: &str) -> Result<Completion, Failure> {
        match done.status {
            Status::Ok => Ok(done),
            _ => Err(Failure::Server(format!("{what}: {}", describe(&done.text)))),
        }
    }

    /// The changes to the selected mailbox received so far.
    pub fn take_changes(&mut self) -> Vec<MailboxChange> {
        self.changes.drain(..).collect()
    }

    /// IDLE until the server reports a change or `limit` passes; returns
    /// the changes (empty when the time ran out). The connection is out of
    /// IDLE when this returns.
    pub fn idle(&mut self, limit: Duration) -> Result<Vec<MailboxChange>, Failure> {
        if !self.changes.is_empty() {
            return Ok(self.take_changes());
        }
        let id = self.session.idle();
        loop {
            match self.next_event()? {
                ClientEvent::Idling { .. } => break,
                ClientEvent::Completed(done) if done.id == id => {
                    return Err(Failure::Server(format!("IDLE: {}", describe(&done.text))));
                }
                other => self.aside(other)?,
            }
        }
        let deadline = std::time::Instant::now() + limit;
        while self.changes.is_empty() {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                break;
            }
            match self.next_event_within(left)? {
                Some(other) => self.aside(other)?,
                None => break,
            }
        }
        self.session.done();
        self.wait(id, None)?;
        Ok(self.take_changes())
    }

    /// How many of the server's responses could not be read so far.
    pub fn unreadable(&self) -> u64 {
        self.unreadable
    }

    /// LOGOUT, ignoring what goes wrong: the work is done.
    pub fn logout(mut self) {
        let _ = self.run(CommandBody::Logout);
        self.transport.close();
    }

    /// Waits for command `id`'s completion; streamed literals go to `sink`.
    fn wait(
        &mut self,
        id: mailwire::imap::client::CommandId,
        mut sink: Option<&mut Sink<'_>>,
    ) -> Result<Completion, Failure> {
        // The message a streamed answer is about, and its UID if the items
        // before the literal said it.
        let mut current: Option<(std::num::NonZeroU32, Option<u32>)> = None;
        loop {
            match self.next_event()? {
                ClientEvent::Completed(done) if done.id == id => return Ok(*done),
                ClientEvent::FetchStart { seq, items, item, .. } => {
                    let uid = uid_in(&items)
                        .or_else(|| self.session.mailbox().and_then(|m| m.uid(seq)).map(|u| u.get()));
                    current = Some((seq, uid_in(&items)));
                    self.pace = Some((Duration::ZERO, 0));
                    let sink = sink.as_mut().ok_or_else(|| {
                        Failure::Network("the server sent a long literal nobody asked for".into())
                    })?;
                    sink(Streamed::Start { uid, item: &item })
                        .map_err(|e| Failure::Local(format!("storing what the server sent: {e}")))?;
                }
                ClientEvent::FetchData(bytes) => {
                    self.paced(bytes.len())?;
                    if let Some(sink) = sink.as_mut() {
                        sink(Streamed::Data(&bytes))
                            .map_err(|e| Failure::Local(format!("storing what the server sent: {e}")))?;
                    }
                }
                ClientEvent::FetchEnd { seq, items } => {
                    self.pace = None;
                    let uid = current
                        .take()
                        .and_then(|(_, uid)| uid)
                        .or_else(|| uid_in(&items))
                        .or_else(|| self.session.mailbox().and_then(|m| m.uid(seq)).map(|u| u.get()));
                    if let Some(sink) = sink.as_mut() {
                        sink(Streamed::End { uid })
                            .map_err(|e| Failure::Local(format!("storing what the server sent: {e}")))?;
                    }
                }
                // A response that breaks off inside a streamed literal
                // leaves its message cut short: not to be stored.
                ClientEvent::Error(e) if current.is_some() => {
                    return Err(Failure::Network(format!(
                        "the server's answer broke off inside a message: {e}"
                    )));
                }
                other => self.aside(other)?,
            }
        }
    }

    /// Deals with an event nobody waits for.
    fn aside(&mut self, event: ClientEvent) -> Result<(), Failure> {
        match event {
            ClientEvent::Changed(change) => self.changes.push_back(change),
            ClientEvent::Alert(text) => {
                eprintln!(
                    "server alert: {}",
                    crate::show::printable(&text.to_string(), false)
                )
            }
            ClientEvent::Bye(text) => self.bye = Some(describe(&text)),
            ClientEvent::SaslChallenge { id, .. } => self.session.sasl_cancel(id),
            ClientEvent::Error(e) => {
                self.unreadable += 1;
                tracing::warn!("the server sent something that does not parse: {e}")
            }
            ClientEvent::Closed => {
                return Err(Failure::Network(match self.bye.take() {
                    Some(text) => format!("the server closed the connection: {text}"),
                    None => "the server closed the connection".into(),
                }));
            }
            other => tracing::debug!(?other, "not asked for"),
        }
        Ok(())
    }

    /// Checks the pace of a streamed message that `octets` more came of
    /// (see [`MIN_STREAM_RATE`]), over the time reads waited for it (the
    /// time this program takes storing it is not the server's).
    fn paced(&mut self, octets: usize) -> Result<(), Failure> {
        let Some((waited, got)) = &mut self.pace else {
            return Ok(());
        };
        *got += octets as u64;
        if *waited >= self.timeout {
            if *got < MIN_STREAM_RATE.saturating_mul(waited.as_secs().max(1)) {
                return Err(Failure::Network(format!(
                    "the server sent a message at {got} octets in {:.1} s, slower than {MIN_STREAM_RATE} octets a second",
                    waited.as_secs_f32()
                )));
            }
            self.pace = Some((Duration::ZERO, 0));
        }
        Ok(())
    }

    fn next_event(&mut self) -> Result<ClientEvent, Failure> {
        loop {
            if let Some(event) = self.session.poll_event() {
                return Ok(event);
            }
            self.flush()?;
            self.read_paced()?;
        }
    }

    /// Reads once, waiting no longer than the session's deadline for the
    /// answer it waits on (the timeout since the last whole response or
    /// piece of a streamed message, or the last bytes sent), not the
    /// timeout for each read: a response sent a few octets at a time does
    /// not hold the client. (The session is told the time before the read
    /// only: what this program does with what it read is not the
    /// server's time.)
    fn read_paced(&mut self) -> Result<(), Failure> {
        let timeout = self.timeout;
        let late = || {
            Failure::Network(format!(
                "the server did not answer in time ({} s)",
                timeout.as_secs_f32()
            ))
        };
        self.session.handle_timeout(Instant::now());
        let deadline = self.session.poll_timeout().unwrap_or(self.heard + self.timeout);
        let wait = deadline.saturating_duration_since(Instant::now());
        if wait.is_zero() {
            return Err(late());
        }
        let _ = self.transport.tcp().set_read_timeout(Some(wait));
        let started = Instant::now();
        let read = self.read_some();
        if let Some((waited, _)) = &mut self.pace {
            *waited += started.elapsed();
        }
        let _ = self.transport.tcp().set_read_timeout(Some(self.timeout));
        match read {
            Ok(()) => Ok(()),
            Err(ReadError::TimedOut) => Err(late()),
            Err(ReadError::Failed(f)) => Err(f),
        }
    }

    /// The next event, or `None` when nothing came within `limit`.
    fn next_event_within(&mut self, limit: Duration) -> Result<Option<ClientEvent>, Failure> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(event) = self.session.poll_event() {
                return Ok(Some(event));
            }
            self.flush()?;
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            let _ = self.transport.tcp().set_read_timeout(Some(left));
            let read = self.read_some();
            let _ = self.transport.tcp().set_read_timeout(Some(self.timeout));
            match read {
                Ok(()) => {}
                Err(ReadError::TimedOut) => return Ok(None),
                Err(ReadError::Failed(f)) => return Err(f),
            }
        }
    }

    fn flush(&mut self) -> Result<(), Failure> {
        while let Some(bytes) = self.session.poll_transmit() {
            self.write(&bytes)?;
            self.heard = Instant::now();
        }
        self.transport
            .flush()
            .map_err(|e| network_error("sending", &e).into())
    }

    fn write(&mut self, bytes: &Bytes) -> Result<(), Failure> {
        self.transport
            .write_all(bytes)
            .map_err(|e| network_error("sending", &e).into())
    }

    fn read_some(&mut self) -> Result<(), ReadError> {
        match self.transport.read_step(&mut self.buf) {
            Ok(0) => {
                self.session.receive(&[]);
                Err(ReadError::Failed(Failure::Network(match self.bye.take() {
                    Some(text) => format!("the server closed the connection: {text}"),
                    None => "the server closed the connection".into(),
                })))
            }
            Ok(n) => {
                self.heard = Instant::now();
                self.session.receive(&self.buf[..n]);
                Ok(())
            }
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                Err(ReadError::TimedOut)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(()),
            Err(e) => Err(ReadError::Failed(network_error("receiving", &e).into())),
        }
    }
}

enum ReadError {
    TimedOut,
    Failed(Failure),
}

impl From<ReadError> for Failure {
    fn from(e: ReadError) -> Failure {
        match e {
            ReadError::TimedOut => Failure::Network("the server did not answer in time".into()),
            ReadError::Failed(f) => f,
        }
    }
}

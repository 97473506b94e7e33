//! The client session: a sans-IO state machine for one POP3 connection
//! (see [`ClientSession`]).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};

use crate::auth::{PlainCredentials, apop_digest};
use crate::body::{BodyChunk, BodyDecoder};
use crate::capability::Capability;
use crate::clock::ActivityClock;
use crate::command::{Command, SaslResponse};
use crate::decode::{DecodeError, Decoded, DecoderConfig};
use crate::response::{Expect, Response, Status, StatusLine, decode_response};
use crate::types::{Mechanism, Param, Password, SaslData, TypeError};

/// How a client session behaves.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClientConfig {
    /// Decoder limits and leniency.
    pub decoder: DecoderConfig,
    /// Never pipeline, even if the server offers PIPELINING.
    pub no_pipelining: bool,
    /// How long the server may stay silent while it owes the greeting, an
    /// answer, or the rest of a message body, before the session gives up
    /// with [`ClientEvent::Timeout`]. Any byte from the server restarts the
    /// wait, so a long download does not time out while it moves. `None`
    /// (the default) waits forever.
    pub response_timeout: Option<Duration>,
}

/// The most commands a pipelining session has on the wire unanswered.
/// RFC 2449 section 6.6: a peer that writes while blocking must not send
/// more than the transport's window; a run of thousands of DELE could
/// fill the window both ways, each side blocked writing. 32 short commands
/// and their one-line answers stay far below any TCP window; a RETR's
/// answer is read while the next commands wait.
pub const MAX_PIPELINED: usize = 32;

/// Identifies a queued command in the events that answer it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CommandId(u64);

/// What the session reports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientEvent {
    /// The server's greeting.
    Greeting(StatusLine<'static>),
    /// The complete answer to a command (for RETR and TOP, only a `-ERR`).
    Response {
        /// The command answered.
        id: CommandId,
        /// The response.
        response: Response<'static>,
    },
    /// The `+OK` line of RETR or TOP; the body follows in
    /// [`ClientEvent::BodyChunk`]s and ends with [`ClientEvent::BodyEnd`].
    MessageStart {
        /// The command answered.
        id: CommandId,
        /// The `+OK` line.
        status: StatusLine<'static>,
    },
    /// A piece of message body, unstuffed.
    BodyChunk {
        /// The command answered.
        id: CommandId,
        /// The bytes.
        data: Bytes,
    },
    /// The message body is complete.
    BodyEnd {
        /// The command answered.
        id: CommandId,
    },
    /// A SASL challenge for an exchange started with
    /// [`ClientSession::authenticate`]; answer with
    /// [`ClientSession::sasl_respond`] or [`ClientSession::sasl_cancel`].
    Challenge {
        /// The AUTH command.
        id: CommandId,
        /// The decoded challenge.
        data: Vec<u8>,
    },
    /// The server accepted STLS: send what is pending, run the TLS
    /// handshake, then call [`ClientSession::tls_established`].
    StartTls,
    /// The server sent something that does not decode; the session skipped
    /// it and, if it was a response, answered its command with nothing.
    Error {
        /// The command whose response failed, if any.
        id: Option<CommandId>,
        /// What went wrong.
        error: DecodeError,
    },
    /// The server did not answer within [`ClientConfig::response_timeout`].
    /// The session is closed: close the connection.
    Timeout {
        /// The commands sent or queued that got no (complete) answer, in
        /// order; empty if the greeting never came.
        unanswered: Vec<CommandId>,
    },
}

/// Misuse of the client API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// APOP needs a timestamp in the greeting.
    #[error("the greeting holds no APOP timestamp")]
    NoApopTimestamp,
    /// A credential is not valid on the wire.
    #[error(transparent)]
    Invalid(#[from] TypeError),
}

/// Where the session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientState {
    /// Waiting for the greeting.
    Greeting,
    /// AUTHORIZATION.
    Authorization,
    /// TRANSACTION.
    Transaction,
    /// STLS accepted; the TLS handshake is due.
    AwaitingTls,
    /// QUIT answered, the server closed the session, or it did not
    /// answer in time.
    Closed,
}

#[derive(Debug)]
enum Sasl {
    /// AUTH PLAIN without initial response: answer the empty challenge.
    Plain(SaslData<'static>),
    /// The application answers challenges.
    Application,
}

#[derive(Debug)]
struct InFlight {
    id: CommandId,
    expect: Expect,
    kind: Kind,
}

/// What a command does to the session when it succeeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Login,
    Stls,
    Quit,
    Capa,
    Other,
}

/// The client side of one POP3 connection: a sans-IO state machine.
///
/// Queue commands with [`ClientSession::send`] (or the login helpers), move
/// bytes with [`ClientSession::receive`] and [`ClientSession::poll_transmit`],
/// and read typed results from [`ClientSession::poll_event`]. The session
/// knows which responses are multi-line for which command, pipelines when
/// the server announced PIPELINING, and hands out message bodies in pieces
/// as they arrive, never holding a whole message.
///
/// ```
/// use mailwire_pop3::{ClientEvent, ClientSession, Command, MessageNumber};
///
/// let mut client = ClientSession::new(Default::default());
/// client.receive(b"+OK POP3 server ready\r\n");
/// let retr = client.send(Command::Retr(MessageNumber::FIRST));
/// assert_eq!(&client.poll_transmit().unwrap()[..], b"RETR 1\r\n");
///
/// client.receive(b"+OK 9 octets\r\nHi\r\n..x\r\n.\r\n");
/// let mut body = Vec::new();
/// while let Some(event) = client.poll_event() {
///     match event {
///         ClientEvent::BodyChunk { id, data } if id == retr => body.extend_from_slice(&data),
///         ClientEvent::BodyEnd { id } if id == retr => break,
///         _ => {}
///     }
/// }
/// assert_eq!(body, b"Hi\r\n.x\r\n");
/// ```
///
/// # Time
///
/// With [`ClientConfig::response_timeout`] set, a server that stays silent
/// that long while it owes an answer ends the session with
/// [`ClientEvent::Timeout`]. The session reads no clock: call
/// [`ClientSession::handle_timeout`] once at the start, cheaply after each
/// [`receive`](ClientSession::receive) and
/// [`poll_transmit`](ClientSession::poll_transmit), and whenever the
/// deadline of [`ClientSession::poll_timeout`] passes.
#[derive(Debug)]
pub struct ClientSession {
    config: ClientConfig,
    input: BytesMut,
    /// How much of `input` is known to hold no terminator of the
    /// multi-line listing being received (reset as input is consumed).
    scanned: usize,
    output: BytesMut,
    queue: VecDeque<(CommandId, Command<'static>)>,
    in_flight: VecDeque<InFlight>,
    next_id: u64,
    state: ClientState,
    greeting: Option<StatusLine<'static>>,
    capabilities: Option<Vec<Capability<'static>>>,
    /// Receiving a body, or skipping the rest of a multi-line response that
    /// failed to decode (`None` id).
    body: Option<(Option<CommandId>, BodyDecoder)>,
    sasl: Option<Sasl>,
    /// A challenge waits for the application's answer: the server waits
    /// too, so no response timer runs.
    challenge_pending: bool,
    events: VecDeque<ClientEvent>,
    /// The response timer.
    clock: ActivityClock,
}

impl ClientSession {
    /// A session waiting for the greeting.
    pub fn new(config: ClientConfig) -> Self {
        ClientSession {
            config,
            input: BytesMut::new(),
            scanned: 0,
            output: BytesMut::new(),
            queue: VecDeque::new(),
            in_flight: VecDeque::new(),
            next_id: 0,
            state: ClientState::Greeting,
            greeting: None,
            capabilities: None,
            body: None,
            sasl: None,
            challenge_pending: false,
            events: VecDeque::new(),
            clock: ActivityClock::new(),
        }
    }

    /// The session state.
    pub fn state(&self) -> ClientState {
        self.state
    }

    /// The greeting, once received.
    pub fn greeting(&self) -> Option<&StatusLine<'static>> {
        self.greeting.as_ref()
    }

    /// The capabilities from the last CAPA answer in this TLS context.
    pub fn capabilities(&self) -> Option<&[Capability<'static>]> {
        self.capabilities.as_deref()
    }

    /// Whether the server announced `capability` (compared by kind:
    /// `Sasl(..)` matches any SASL list).
    pub fn has_capability(&self, f: impl Fn(&Capability<'static>) -> bool) -> bool {
        self.capabilities.as_deref().is_some_and(|c| c.iter().any(f))
    }

    /// Whether commands are being pipelined.
    pub fn pipelining(&self) -> bool {
        !self.config.no_pipelining && self.has_capability(|c| *c == Capability::Pipelining)
    }

    /// Commands sent or queued and not yet answered.
    pub fn pending(&self) -> usize {
        self.queue.len() + self.in_flight.len()
    }

    /// Queues a command; its answer carries the returned id.
    pub fn send(&mut self, command: Command<'static>) -> CommandId {
        let id = CommandId(self.next_id);
        self.next_id += 1;
        self.queue.push_back((id, command));
        id
    }

    /// Queues USER and PASS; returns the id of PASS, whose `+OK` means
    /// logged in.
    pub fn login_user_pass(&mut self, user: &[u8], password: &[u8]) -> Result<CommandId, ClientError> {
        let user = Param::new(user.to_vec())?;
        let password = Password::new(password.to_vec())?;
        self.send(Command::User(user));
        Ok(self.send(Command::Pass(password)))
    }

    /// Queues APOP with the digest of the greeting's timestamp and
    /// `secret`.
    pub fn login_apop(&mut self, user: &[u8], secret: &[u8]) -> Result<CommandId, ClientError> {
        let timestamp = self
            .greeting
            .as_ref()
            .and_then(|g| g.apop_timestamp().map(|t| t.into_owned()))
            .ok_or(ClientError::NoApopTimestamp)?;
        let name = Param::new(user.to_vec())?;
        Ok(self.send(Command::Apop {
            name,
            digest: apop_digest(&timestamp, secret),
        }))
    }

    /// Queues AUTH PLAIN (RFC 4616), with an initial response when it fits
    /// the 255-octet command limit (RFC 5034 section 4), otherwise after the
    /// server's empty challenge.
    pub fn login_plain(
        &mut self,
        authzid: &[u8],
        user: &[u8],
        password: &[u8],
    ) -> Result<CommandId, ClientError> {
        let credentials = PlainCredentials::new(authzid, user, password)?;
        let data = SaslData::encode(&credentials.to_message());
        // "AUTH PLAIN " + data + CRLF.
        if 11 + data.as_str().len() + 2 <= 255 {
            self.sasl = Some(Sasl::Application);
            Ok(self.send(Command::Auth {
                mechanism: Mechanism::PLAIN,
                initial_response: Some(data),
            }))
        } else {
            self.sasl = Some(Sasl::Plain(data));
            Ok(self.send(Command::Auth {
                mechanism: Mechanism::PLAIN,
                initial_response: None,
            }))
        }
    }

    /// Starts an AUTH exchange with any mechanism; challenges come as
    /// [`ClientEvent::Challenge`].
    pub fn authenticate(&mut self, mechanism: Mechanism<'static>, initial: Option<&[u8]>) -> CommandId {
        self.sasl = Some(Sasl::Application);
        self.send(Command::Auth {
            mechanism,
            initial_response: initial.map(SaslData::encode),
        })
    }

    /// Answers the current SASL challenge.
    pub fn sasl_respond(&mut self, data: &[u8]) {
        self.challenge_pending = false;
        SaslResponse::Data(SaslData::encode(data)).encode(&mut self.output);
    }

    /// Cancels the current SASL exchange (`*`).
    pub fn sasl_cancel(&mut self) {
        self.challenge_pending = false;
        SaslResponse::Cancel.encode(&mut self.output);
    }

    /// The TLS handshake after STLS succeeded: capabilities must be asked
    /// again (RFC 2595 section 4), and anything received before the
    /// handshake is dropped.
    pub fn tls_established(&mut self) {
        if self.state == ClientState::AwaitingTls {
            self.drop_input();
            self.capabilities = None;
            self.state = ClientState::Authorization;
        }
    }

    /// Takes bytes the server sent.
    pub fn receive(&mut self, bytes: &[u8]) {
        if matches!(self.state, ClientState::AwaitingTls | ClientState::Closed) {
            return;
        }
        if !bytes.is_empty() {
            self.clock.touch();
        }
        self.input.extend_from_slice(bytes);
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        if self.events.is_empty() {
            self.advance();
        }
        self.events.pop_front()
    }

    /// The next bytes to send, or `None`.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        self.advance();
        self.flush_queue();
        if self.output.is_empty() {
            return None;
        }
        self.clock.touch();
        Some(self.output.split().freeze())
    }

    /// Tells the session the time. Call it once at the start, after each
    /// [`receive`](Self::receive) and [`poll_transmit`](Self::poll_transmit)
    /// (it is cheap), and when the deadline of
    /// [`poll_timeout`](Self::poll_timeout) passes.
    ///
    /// Bytes received or sent since the last call restart the response
    /// timer at `now`. Otherwise, once it has run out, the session closes
    /// with [`ClientEvent::Timeout`] listing the commands left unanswered.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use mailwire_pop3::{ClientConfig, ClientEvent, ClientSession, ClientState, Command};
    ///
    /// let mut client = ClientSession::new(ClientConfig {
    ///     response_timeout: Some(Duration::from_secs(30)),
    ///     ..ClientConfig::default()
    /// });
    /// let start = Instant::now();
    /// client.handle_timeout(start);
    /// client.receive(b"+OK ready\r\n");
    /// let stat = client.send(Command::Stat);
    /// client.poll_transmit();
    /// client.handle_timeout(start + Duration::from_secs(1));
    /// let deadline = client.poll_timeout().unwrap();
    /// client.handle_timeout(deadline);
    /// let events: Vec<_> = std::iter::from_fn(|| client.poll_event()).collect();
    /// assert_eq!(events.last(), Some(&ClientEvent::Timeout { unanswered: vec![stat] }));
    /// assert_eq!(client.state(), ClientState::Closed);
    /// ```
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.clock.restart(now) {
            return;
        }
        if self.poll_timeout().is_some_and(|deadline| now >= deadline) {
            self.time_out();
        }
    }

    /// When to call [`handle_timeout`](Self::handle_timeout) next: while
    /// the server owes the greeting, an answer or the rest of a body, and
    /// [`ClientConfig::response_timeout`] is set.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let timeout = self.config.response_timeout?;
        let server_owes = match self.state {
            ClientState::Greeting => true,
            ClientState::AwaitingTls | ClientState::Closed => false,
            ClientState::Authorization | ClientState::Transaction => {
                self.body.is_some() || (!self.in_flight.is_empty() && !self.challenge_pending)
            }
        };
        if !server_owes {
            return None;
        }
        self.clock.deadline(timeout)
    }

    /// Gives up on a silent server.
    fn time_out(&mut self) {
        // Answers received but not yet decoded are answers all the same.
        self.advance();
        if self.poll_timeout().is_none() {
            return;
        }
        let mut unanswered: Vec<CommandId> = self.body.take().and_then(|(id, _)| id).into_iter().collect();
        unanswered.extend(self.in_flight.drain(..).map(|f| f.id));
        unanswered.extend(self.queue.drain(..).map(|(id, _)| id));
        self.state = ClientState::Closed;
        self.drop_input();
        self.output.clear();
        self.sasl = None;
        self.challenge_pending = false;
        self.events.push_back(ClientEvent::Timeout { unanswered });
    }

    /// Moves queued commands to the wire as far as the protocol allows.
    fn flush_queue(&mut self) {
        if matches!(
            self.state,
            ClientState::Greeting | ClientState::AwaitingTls | ClientState::Closed
        ) {
            return;
        }
        while let Some((_, command)) = self.queue.front() {
            let kind = match command {
                Command::Pass(_) | Command::Apop { .. } | Command::Auth { .. } => Kind::Login,
                Command::Stls => Kind::Stls,
                Command::Quit => Kind::Quit,
                Command::Capa => Kind::Capa,
                _ => Kind::Other,
            };
            // Commands that change what comes next (an AUTH exchange, STLS,
            // CAPA that decides pipelining) go alone; others go together
            // when the server pipelines.
            let alone =
                |k: Kind| matches!(k, Kind::Stls | Kind::Capa) || k == Kind::Login && self.sasl.is_some();
            let may_send = self.in_flight.is_empty()
                || (self.pipelining()
                    && self.in_flight.len() < MAX_PIPELINED
                    && !alone(kind)
                    && !self.in_flight.iter().any(|f| alone(f.kind)));
            if !may_send {
                break;
            }
            let Some((id, command)) = self.queue.pop_front() else {
                break;
            };
            command.encode(&mut self.output);
            self.in_flight.push_back(InFlight {
                id,
                expect: Expect::for_command(&command),
                kind,
            });
        }
    }

    fn advance(&mut self) {
        loop {
            if matches!(self.state, ClientState::AwaitingTls | ClientState::Closed) {
                return;
            }
            if let Some((id, decoder)) = &mut self.body {
                let id = *id;
                match decoder.decode(&self.input) {
                    Decoded::Incomplete => return,
                    Decoded::Complete {
                        value: BodyChunk::End,
                        consumed,
                    } => {
                        self.consume(consumed);
                        self.body = None;
                        if let Some(id) = id {
                            self.events.push_back(ClientEvent::BodyEnd { id });
                        }
                    }
                    Decoded::Complete {
                        value: BodyChunk::Data(data),
                        consumed,
                    } => {
                        let start = consumed - data.len();
                        let len = data.len();
                        let chunk = self.input.split_to(consumed).freeze();
                        self.scanned = 0;
                        if let (Some(id), true) = (id, len > 0) {
                            self.events.push_back(ClientEvent::BodyChunk {
                                id,
                                data: chunk.slice(start..start + len),
                            });
                        }
                    }
                }
                continue;
            }
            if self.input.is_empty() {
                return;
            }
            let expect = match (self.state, self.in_flight.front()) {
                (ClientState::Greeting, _) => Expect::Greeting,
                (_, Some(f)) if f.expect == Expect::Message => Expect::Status,
                (_, Some(f)) => f.expect,
                // Queued commands not sent yet: what is buffered answers
                // them, once they are on the wire. Waiting makes the events
                // independent of how the input was split into reads.
                (_, None) if !self.queue.is_empty() => return,
                (_, None) => {
                    // Nothing was asked: the server sent something
                    // unsolicited. Skip it a line at a time.
                    let error = DecodeError::syntax(&self.input, 0, "no data before a command is sent");
                    match crate::skip_line(&self.input) {
                        Some(n) => self.consume(n),
                        // A line longer than any response is not kept
                        // whole; the rest of it is skipped as it comes.
                        None if self.input.len() > self.config.decoder.limits.response_line => {
                            self.drop_input()
                        }
                        None => return,
                    }
                    self.events.push_back(ClientEvent::Error { id: None, error });
                    continue;
                }
            };
            if !self.listing_may_be_complete(expect) {
                return;
            }
            match decode_response(&self.input, expect, &self.config.decoder) {
                Ok(Decoded::Incomplete) => return,
                Ok(Decoded::Complete { value, consumed }) => {
                    let value = value.into_owned();
                    self.consume(consumed);
                    self.response(value);
                }
                Err(error) => self.skip_bad_response(error),
            }
        }
    }

    /// Consumes `n` octets of the input.
    fn consume(&mut self, n: usize) {
        self.input.advance(n);
        self.scanned = 0;
    }

    /// Drops the whole input.
    fn drop_input(&mut self) {
        self.input.clear();
        self.scanned = 0;
    }

    /// Whether a multi-line listing (CAPA, LIST, UIDL, LANG) may be whole
    /// in the input, so that decoding it is worth trying: its first line
    /// is not here or not `+OK`, or a terminating line is. Each octet is
    /// searched for the terminator once, however the listing is split
    /// into reads: decoding searched all of it again on each read, so a
    /// 16 MiB listing sent a few octets at a time took hours.
    fn listing_may_be_complete(&mut self, expect: Expect) -> bool {
        if !expect.is_multi_line() || expect == Expect::Message {
            return true;
        }
        let Some(first_end) = memchr::memchr(b'\n', &self.input) else {
            return true;
        };
        if !self.input.starts_with(b"+OK") {
            return true;
        }
        // The first line's LF starts a terminator after an empty listing;
        // one cut by the last read starts at most three octets before its
        // end.
        let from = first_end.max(self.scanned.saturating_sub(3));
        let rest = &self.input[from..];
        let ended = memchr::memmem::find(rest, b"\n.\r\n").is_some()
            || (self.config.decoder.leniency.bare_lf && memchr::memmem::find(rest, b"\n.\n").is_some());
        #[cfg(test)]
        crate::decode::SCANNED.with(|s| s.set(s.get() + rest.len()));
        self.scanned = self.input.len();
        // Past the limit, decoding says so.
        ended || self.input.len() > self.config.decoder.limits.multi_line
    }

    /// Skips a response that does not decode without losing the framing of
    /// the next ones: a multi-line response whose `+OK` line was fine is
    /// skipped up to its terminator.
    fn skip_bad_response(&mut self, error: DecodeError) {
        let id = if self.state == ClientState::Greeting {
            self.state = ClientState::Authorization;
            None
        } else {
            self.in_flight.front().map(|f| f.id)
        };
        let multi = self.in_flight.front().is_some_and(|f| f.expect.is_multi_line());
        let first_line = crate::skip_line(&self.input);
        match first_line {
            Some(n) if multi && self.input.starts_with(b"+OK") => {
                self.consume(n);
                self.body = Some((None, BodyDecoder::new()));
            }
            _ => match error.resume_at.or(first_line) {
                Some(n) => self.consume(n.min(self.input.len())),
                // A line too long and not yet ended: drop what is here; the
                // rest is skipped as unsolicited lines.
                None => self.drop_input(),
            },
        }
        if id.is_some() {
            self.in_flight.pop_front();
        }
        self.events.push_back(ClientEvent::Error { id, error });
    }

    fn response(&mut self, response: Response<'static>) {
        if self.state == ClientState::Greeting {
            let status = match response {
                Response::Status(s) => s,
                _ => return,
            };
            self.state = if status.is_ok() {
                ClientState::Authorization
            } else {
                // A server that greets with -ERR will not serve us.
                ClientState::Closed
            };
            self.greeting = Some(status.clone());
            self.events.push_back(ClientEvent::Greeting(status));
            return;
        }
        let Some(front) = self.in_flight.front() else {
            return;
        };
        let (id, kind, expect) = (front.id, front.kind, front.expect);
        if let Response::Continuation(challenge) = &response {
            match &self.sasl {
                Some(Sasl::Plain(data)) if challenge.as_str().is_empty() => {
                    let data = data.clone();
                    SaslResponse::Data(data).encode(&mut self.output);
                    self.sasl = Some(Sasl::Application);
                }
                Some(_) => match challenge.decode() {
                    Ok(data) => {
                        self.challenge_pending = true;
                        self.events.push_back(ClientEvent::Challenge { id, data });
                    }
                    Err(_) => {
                        self.sasl_cancel();
                        let error = DecodeError::syntax(challenge.as_str().as_bytes(), 0, "base64 challenge");
                        self.events.push_back(ClientEvent::Error { id: Some(id), error });
                    }
                },
                None => self.sasl_cancel(),
            }
            return;
        }
        self.in_flight.pop_front();
        let ok = match &response {
            Response::Status(s) => s.status == Status::Ok,
            _ => true,
        };
        if kind == Kind::Login {
            self.sasl = None;
            self.challenge_pending = false;
        }
        if ok {
            match kind {
                Kind::Login => self.state = ClientState::Transaction,
                Kind::Quit => self.state = ClientState::Closed,
                Kind::Stls => {
                    self.state = ClientState::AwaitingTls;
                    self.drop_input();
                }
                Kind::Capa => {
                    if let Response::Capabilities { capabilities, .. } = &response {
                        self.capabilities = Some(capabilities.clone());
                    }
                }
                Kind::Other => {}
            }
        }
        match (expect, response) {
            (Expect::Message, Response::Status(status)) if status.is_ok() => {
                self.body = Some((Some(id), BodyDecoder::new()));
                self.events.push_back(ClientEvent::MessageStart { id, status });
            }
            (_, response) => self.events.push_back(ClientEvent::Response { id, response }),
        }
        if kind == Kind::Stls && self.state == ClientState::AwaitingTls {
            self.events.push_back(ClientEvent::StartTls);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MessageNumber;

    fn drain(c: &mut ClientSession) -> Vec<ClientEvent> {
        std::iter::from_fn(|| c.poll_event()).collect()
    }

    fn sent(c: &mut ClientSession) -> Vec<u8> {
        std::iter::from_fn(|| c.poll_transmit())
            .flat_map(|b| b.to_vec())
            .collect()
    }

    #[test]
    fn waits_for_greeting_then_one_command_at_a_time() {
        let mut c = ClientSession::new(ClientConfig::default());
        c.send(Command::Stat);
        c.send(Command::Noop);
        assert!(sent(&mut c).is_empty());
        c.receive(b"+OK ready\r\n");
        assert_eq!(sent(&mut c), b"STAT\r\n");
        c.receive(b"+OK 1 10\r\n");
        assert_eq!(sent(&mut c), b"NOOP\r\n");
        let events = drain(&mut c);
        assert!(matches!(events[0], ClientEvent::Greeting(_)));
        assert!(matches!(
            events[1],
            ClientEvent::Response {
                response: Response::Stat(_),
                ..
            }
        ));
    }

    /// A session logged in to a server that pipelines.
    fn pipelining() -> ClientSession {
        let mut c = ClientSession::new(ClientConfig::default());
        c.receive(b"+OK ready\r\n");
        c.send(Command::Capa);
        sent(&mut c);
        c.receive(b"+OK\r\nPIPELINING\r\nUSER\r\n.\r\n");
        c.login_user_pass(b"u", b"p").unwrap();
        sent(&mut c);
        c.receive(b"+OK\r\n+OK logged in\r\n");
        drain(&mut c);
        c
    }

    fn uidl_count(events: &[ClientEvent]) -> Option<usize> {
        events.iter().find_map(|e| match e {
            ClientEvent::Response {
                response: Response::UniqueIdListings { listings, .. },
                ..
            } => Some(listings.len()),
            _ => None,
        })
    }

    #[test]
    fn pipelining_keeps_a_window_of_commands_on_the_wire() {
        // 5,000 DELE were written at once, and a server that answers
        // while it reads would block writing its answers while the client
        // blocked writing the rest (RFC 2449 section 6.6).
        let mut c = pipelining();
        for n in 1..=5_000 {
            c.send(Command::Dele(MessageNumber::new(n).unwrap()));
        }
        let lines = |b: Vec<u8>| b.iter().filter(|&&b| b == b'\n').count();
        assert_eq!(lines(sent(&mut c)), MAX_PIPELINED);
        c.receive(b"+OK\r\n+OK\r\n");
        drain(&mut c);
        assert_eq!(lines(sent(&mut c)), 2);
        let mut answered = 2;
        while answered < 5_000 {
            c.receive(b"+OK\r\n");
            answered += 1;
            drain(&mut c);
            assert!(lines(sent(&mut c)) <= 1);
            assert!(c.in_flight.len() <= MAX_PIPELINED);
        }
        assert_eq!(c.pending(), 0);
    }

    #[test]
    fn a_listing_sent_in_pieces_is_searched_once() {
        // 300 KB of UIDL listing 16 octets at a time: each read searched
        // the whole listing again for its end (some 3 * 10^9 octets here,
        // hours for a 16 MiB listing). The octets searched are counted.
        let mut listing = b"+OK\r\n".to_vec();
        let count = 20_000;
        for n in 1..=count {
            listing.extend_from_slice(format!("{n} u{n:09}\r\n").as_bytes());
        }
        listing.extend_from_slice(b".\r\n");
        let mut c = pipelining();
        c.send(Command::Uidl(None));
        sent(&mut c);
        crate::decode::SCANNED.with(|s| s.set(0));
        let mut got = None;
        for piece in listing.chunks(16) {
            c.receive(piece);
            got = got.or(uidl_count(&drain(&mut c)));
        }
        assert_eq!(got, Some(count));
        let scanned = crate::decode::SCANNED.with(|s| s.get());
        assert!(
            scanned < 4 * listing.len(),
            "{scanned} octets searched for {}",
            listing.len()
        );
        // The terminator split at every place, and an empty listing whose
        // first line's LF starts it; an -ERR is one line.
        for answer in [
            &b"+OK\r\n1 a\r\n2 b\r\n.\r\n"[..],
            b"+OK\r\n.\r\n",
            b"-ERR no\r\n",
        ] {
            c.send(Command::Uidl(None));
            sent(&mut c);
            let mut events = Vec::new();
            for &b in answer {
                c.receive(&[b]);
                events.extend(drain(&mut c));
            }
            let done = events
                .iter()
                .filter(|e| matches!(e, ClientEvent::Response { .. }))
                .count();
            assert_eq!(done, 1, "{answer:?}: {events:?}");
            assert!(c.input.is_empty());
        }
    }

    #[test]
    fn an_unsolicited_line_is_not_kept_past_the_line_limit() {
        // Nothing asked, and no line end: the bytes were kept, without
        // bound.
        let mut c = pipelining();
        let limit = c.config.decoder.limits.response_line;
        let mut errors = 0;
        for _ in 0..1_000 {
            c.receive(&[b'x'; 1024]);
            errors += drain(&mut c)
                .iter()
                .filter(|e| matches!(e, ClientEvent::Error { id: None, .. }))
                .count();
            assert!(c.input.len() <= limit + 1024);
        }
        assert!(errors > 0);
        // The session goes on.
        c.receive(b"\r\n");
        drain(&mut c);
        c.send(Command::Noop);
        assert_eq!(sent(&mut c), b"NOOP\r\n");
        c.receive(b"+OK\r\n");
        assert!(
            drain(&mut c)
                .iter()
                .any(|e| matches!(e, ClientEvent::Response { .. }))
        );
    }

    #[test]
    fn pipelines_after_capa_announces_it() {
        let mut c = ClientSession::new(ClientConfig::default());
        c.receive(b"+OK ready\r\n");
        c.send(Command::Capa);
        assert_eq!(sent(&mut c), b"CAPA\r\n");
        c.receive(b"+OK\r\nPIPELINING\r\nUSER\r\n.\r\n");
        c.login_user_pass(b"u", b"p w").unwrap();
        c.send(Command::Retr(MessageNumber::FIRST));
        c.send(Command::Quit);
        assert_eq!(sent(&mut c), b"USER u\r\nPASS p w\r\nRETR 1\r\nQUIT\r\n");
        c.receive(b"+OK\r\n+OK logged in\r\n+OK\r\nbody\r\n.\r\n+OK bye\r\n");
        let events = drain(&mut c);
        assert!(
            events
                .iter()
                .any(|e| matches!(e, ClientEvent::BodyChunk { data, .. } if &data[..] == b"body\r\n"))
        );
        assert_eq!(c.state(), ClientState::Closed);
    }

    #[test]
    fn plain_without_room_for_initial_response_answers_empty_challenge() {
        let mut c = ClientSession::new(ClientConfig::default());
        c.receive(b"+OK\r\n");
        let long = vec![b'p'; 200];
        c.login_plain(b"", b"user", &long).unwrap();
        assert_eq!(sent(&mut c), b"AUTH PLAIN\r\n");
        c.receive(b"+ \r\n");
        let line = sent(&mut c);
        let expected = SaslData::encode(&PlainCredentials::new(b"", b"user", &long).unwrap().to_message());
        assert_eq!(line, format!("{}\r\n", expected.as_str()).as_bytes());
        c.receive(b"+OK\r\n");
        drain(&mut c);
        assert_eq!(c.state(), ClientState::Transaction);
    }

    #[test]
    fn bad_listing_line_is_skipped_to_the_terminator() {
        let mut c = ClientSession::new(ClientConfig::default());
        c.receive(b"+OK\r\n");
        let list = c.send(Command::List(None));
        let stat = c.send(Command::Stat);
        sent(&mut c);
        c.receive(b"+OK\r\n1 100\r\nbogus\r\n2 200\r\n.\r\n");
        sent(&mut c);
        c.receive(b"+OK 1 100\r\n");
        let events = drain(&mut c);
        assert!(
            events
                .iter()
                .any(|e| matches!(e, ClientEvent::Error { id: Some(i), .. } if *i == list))
        );
        assert!(
            events.iter().any(
                |e| matches!(e, ClientEvent::Response { id, response: Response::Stat(_) } if *id == stat)
            )
        );
    }
}

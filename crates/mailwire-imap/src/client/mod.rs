//! The client session: a sans-IO state machine for one IMAP connection,
//! seen from the client.
//!
//! The application queues commands with [`ClientSession::send`] (or the
//! helpers for login, IDLE and SASL), moves bytes with
//! [`ClientSession::receive`] and [`ClientSession::poll_transmit`], and
//! reads [`ClientEvent`]s. The session generates tags, waits for the
//! continuation request before a synchronizing literal (and uses LITERAL+ or
//! LITERAL- when the server offers them), holds back a command that uses
//! message sequence numbers while one that may expunge is in progress
//! (RFC 9051 section 5.5), pairs each tagged completion with the untagged
//! data that belongs to its command, and folds unsolicited data into a
//! [`MailboxView`] of the selected mailbox, reported as
//! [`MailboxChange`]s.
//!
//! What a server says costs the session memory in proportion to the bytes
//! it sent, not to the numbers in them: `* 4000000000 EXISTS` is a count,
//! and the view keeps a UID only for a message whose UID the server named.
//! Sets in answers (VANISHED, APPENDUID, COPYUID, ESEARCH) stay ranges;
//! walk one with [`UidSet::iter`](crate::UidSet::iter) only as far as the
//! messages you have, since `1:4294967295` is a valid set.
//!
//! ```
//! use mailwire_imap::client::{ClientConfig, ClientEvent, ClientSession};
//! use mailwire_imap::{CommandBody, Mailbox, Status};
//!
//! fn sent(client: &mut ClientSession) -> Vec<u8> {
//!     std::iter::from_fn(|| client.poll_transmit()).flatten().collect()
//! }
//!
//! let mut client = ClientSession::new(ClientConfig::default());
//! client.receive(b"* OK [CAPABILITY IMAP4rev2 LITERAL+] ready\r\n");
//! let login = client.login(b"alice", b"secret")?;
//! let select = client.send(CommandBody::Select {
//!     mailbox: Mailbox::Inbox,
//!     parameters: Vec::new(),
//! });
//! // SELECT changes the state: it waits until LOGIN has completed.
//! assert_eq!(sent(&mut client), b"A1 LOGIN alice secret\r\n");
//! client.receive(b"A1 OK Logged in\r\n");
//! assert_eq!(sent(&mut client), b"A2 SELECT INBOX\r\n");
//!
//! client.receive(b"* 2 EXISTS\r\n* OK [UIDVALIDITY 9] UIDs valid\r\nA2 OK [READ-WRITE] done\r\n");
//! let mut completed = Vec::new();
//! while let Some(event) = client.poll_event() {
//!     if let ClientEvent::Completed(done) = event {
//!         completed.push((done.id, done.status));
//!     }
//! }
//! assert_eq!(completed, [(login, Status::Ok), (select, Status::Ok)]);
//! assert_eq!(client.mailbox().map(|m| m.exists()), Some(2));
//! # Ok::<(), mailwire_imap::TypeError>(())
//! ```

mod data;
mod incoming;
mod known;
mod outgoing;
mod view;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;

pub use data::{CommandData, Completion, SelectData};
use outgoing::owned_fragment;
pub use view::{MailboxChange, MailboxView};

use crate::capability::{Capabilities, Capability};
use crate::command::{Command, CommandBody, Secret};
use crate::decode::{DecodeError, DecoderConfig};
use crate::encode::Fragment;
use crate::response::{RespText, Response, Status};
use crate::stream::ResponseReader;
use crate::string::{AString, Atom, Tag, TypeError};

/// How a client session behaves.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Decoder limits and leniency. The defaults take a `* SEARCH` of a
    /// mailbox of a million messages.
    pub decoder: DecoderConfig,
    /// FETCH literals longer than this stream as
    /// [`ClientEvent::FetchStart`], [`ClientEvent::FetchData`] and
    /// [`ClientEvent::FetchEnd`] instead of being held in memory.
    pub stream_above: u64,
    /// The tags are this prefix and a number.
    pub tag_prefix: String,
    /// A command unanswered for this long fails the connection (IDLE
    /// excepted); `None` waits for ever. The time counts from the last
    /// response (or piece of a streamed literal) received and the last
    /// bytes taken to send, as of the next
    /// [`handle_timeout`](ClientSession::handle_timeout) after them.
    pub response_timeout: Option<Duration>,
    /// The most octets of untagged data (counted as sent) the session
    /// holds for one command until it completes: a server that sends more
    /// (`* LIST` after `* LIST`, say) fails the connection with a
    /// [`ClientEvent::Error`] of [`ErrorKind::MessageTooLarge`] and
    /// [`ClientEvent::Closed`], instead of filling the client's memory.
    /// As much as one response may hold by default (256 MiB); a FETCH of
    /// the flags of a million messages holds about 50 MiB. Streamed
    /// literals ([`ClientConfig::stream_above`]) are not held, nor counted.
    ///
    /// [`ErrorKind::MessageTooLarge`]: crate::ErrorKind::MessageTooLarge
    pub max_command_data: u64,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            decoder: DecoderConfig::default(),
            stream_above: 1024 * 1024,
            tag_prefix: "A".into(),
            response_timeout: None,
            max_command_data: 256 * 1024 * 1024,
        }
    }
}

/// Identifies a command in the events that answer it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CommandId(u64);

/// Where the session stands (RFC 9051 section 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientState {
    /// Waiting for the greeting.
    Greeting,
    /// Not authenticated.
    NotAuthenticated,
    /// Authenticated.
    Authenticated,
    /// A mailbox is selected.
    Selected,
    /// STARTTLS or COMPRESS succeeded; the transport must switch.
    Switching,
    /// LOGOUT answered, a BYE, or a failure: the connection is over.
    Closed,
}

/// What the session reports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientEvent {
    /// The greeting: `OK`, `PREAUTH` or `BYE`.
    Greeting {
        /// The status.
        status: Status,
        /// Its text and code.
        text: RespText<'static>,
    },
    /// A command completed, with the data that belongs to it.
    Completed(Box<Completion>),
    /// A SASL challenge during AUTHENTICATE: answer with
    /// [`ClientSession::sasl_respond`] or [`ClientSession::sasl_cancel`].
    SaslChallenge {
        /// The AUTHENTICATE command.
        id: CommandId,
        /// The decoded challenge.
        data: Vec<u8>,
    },
    /// The server confirmed IDLE; end it with [`ClientSession::done`].
    Idling {
        /// The IDLE command.
        id: CommandId,
    },
    /// The selected mailbox changed (or, while a SELECT or EXAMINE runs,
    /// the mailbox it opens). What the server says of the mailbox a
    /// SELECT closes, before `[CLOSED]` (or, from a server that sends
    /// none, before the new mailbox's answer begins), is not reported:
    /// that mailbox's view goes with it (reported if a BAD leaves it
    /// selected). A later SELECT of it with QRESYNC names what changed;
    /// without, its messages are listed again.
    Changed(MailboxChange),
    /// `* OK [ALERT] text`: show it to the user (RFC 9051 section 7.1).
    Alert(String),
    /// `* BYE`: the server is closing the connection.
    Bye(RespText<'static>),
    /// Untagged data no command in progress asked for.
    Unsolicited(Response<'static>),
    /// A FETCH literal longer than the threshold begins: the items before
    /// it, and the item it belongs to.
    FetchStart {
        /// The FETCH or STORE command the data answers, if any.
        id: Option<CommandId>,
        /// The message sequence number.
        seq: std::num::NonZeroU32,
        /// The items before the literal.
        items: Vec<crate::fetch::data::MessageDataItem<'static>>,
        /// The item the literal is the value of.
        item: crate::fetch::data::DataItemName<'static>,
        /// The literal's length.
        length: u64,
    },
    /// A piece of the streamed literal.
    FetchData(Bytes),
    /// The end of a FETCH response with streamed literals: the items after
    /// the last one. Until it comes, the response is not whole: an
    /// [`ClientEvent::Error`] before it (a NUL in a `{n}` literal, say)
    /// means the rest of the response was skipped, and what was streamed
    /// of its literal may be cut short.
    FetchEnd {
        /// The message sequence number.
        seq: std::num::NonZeroU32,
        /// The items after the last streamed literal.
        items: Vec<crate::fetch::data::MessageDataItem<'static>>,
    },
    /// STARTTLS succeeded: send what [`ClientSession::poll_transmit`]
    /// yields, run the TLS handshake, then call
    /// [`ClientSession::tls_established`].
    StartTls,
    /// COMPRESS succeeded: from now on compress what the session writes
    /// and inflate what the server sends, starting with `input` (bytes
    /// received after the OK); then call
    /// [`ClientSession::compression_started`].
    Compress {
        /// Compressed bytes received after the OK.
        input: Bytes,
    },
    /// The server sent something that does not decode; the session
    /// skipped it.
    Error(DecodeError),
    /// No answer within the response timeout, or the server closed the
    /// session: the connection is over.
    Closed,
}

/// What a command is, for pairing data and changing state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Login,
    Authenticate,
    StartTls,
    Compress,
    Select,
    Deselect,
    Fetch,
    Search,
    Sort,
    Thread,
    List,
    Status,
    Capability,
    Enable,
    Idle,
    Logout,
    Unauthenticate,
    Other,
}

impl Kind {
    fn of(body: &CommandBody<'_>) -> Kind {
        use CommandBody as C;
        match body {
            C::Login { .. } => Kind::Login,
            C::Authenticate { .. } => Kind::Authenticate,
            C::StartTls => Kind::StartTls,
            C::Compress(_) => Kind::Compress,
            C::Select { .. } | C::Examine { .. } => Kind::Select,
            C::Close | C::Unselect => Kind::Deselect,
            C::Fetch { .. } | C::Store { .. } => Kind::Fetch,
            C::Search { .. } => Kind::Search,
            C::Sort { .. } => Kind::Sort,
            C::Thread { .. } => Kind::Thread,
            C::List(_) | C::Lsub { .. } => Kind::List,
            C::Status { .. } => Kind::Status,
            C::Capability => Kind::Capability,
            C::Enable(_) => Kind::Enable,
            C::Idle => Kind::Idle,
            C::Logout => Kind::Logout,
            C::Unauthenticate => Kind::Unauthenticate,
            _ => Kind::Other,
        }
    }

    /// Nothing else runs beside it: it changes the state, the transport
    /// or the mailbox, or takes the connection over.
    fn exclusive(self) -> bool {
        matches!(
            self,
            Kind::Login
                | Kind::Authenticate
                | Kind::StartTls
                | Kind::Compress
                | Kind::Select
                | Kind::Deselect
                | Kind::Enable
                | Kind::Idle
                | Kind::Logout
                | Kind::Unauthenticate
        )
    }
}

/// A command queued or being written.
#[derive(Debug)]
struct Outgoing {
    id: CommandId,
    tag: Tag<'static>,
    kind: Kind,
    expunge_free: bool,
    uses_sequence_numbers: bool,
    fragments: VecDeque<Fragment<'static>>,
    /// A synchronizing literal is next and the server said `+`.
    may_send_literal: bool,
}

/// A command the server has (at least partly) received.
#[derive(Debug)]
struct InFlight {
    id: CommandId,
    tag: Tag<'static>,
    kind: Kind,
    expunge_free: bool,
    data: CommandData,
    /// Octets of untagged data held in `data`, as sent.
    held: u64,
    /// For SELECT and EXAMINE: the mailbox being opened.
    opening: Option<MailboxView>,
    /// For SELECT and EXAMINE: changes of the mailbox being closed, which
    /// the server sent before the new one's answer began; reported only
    /// if it stays selected (a BAD to the command).
    closing_changes: Vec<MailboxChange>,
}

#[derive(Debug, Default)]
struct Clock {
    now: Option<Instant>,
    /// Since when the session waits for the server.
    waiting_since: Option<Instant>,
    /// The server answered something since the last `handle_timeout`.
    answered: bool,
    /// The application took bytes to send since the last
    /// `handle_timeout`: the server's time counts from their sending
    /// (a large APPEND's literal can take longer than the timeout to go).
    sent: bool,
}

/// The client side of one IMAP connection.
#[derive(Debug)]
pub struct ClientSession {
    config: ClientConfig,
    reader: ResponseReader,
    input: Vec<u8>,
    output: Vec<u8>,
    events: VecDeque<ClientEvent>,
    state: ClientState,
    capabilities: Option<Capabilities<'static>>,
    enabled: Vec<Capability<'static>>,
    next_tag: u64,
    queue: VecDeque<Outgoing>,
    /// The command being written (all of it once sent, until complete).
    writing: Option<Outgoing>,
    in_flight: Vec<InFlight>,
    /// The selected mailbox.
    mailbox: Option<MailboxView>,
    /// The command a streamed FETCH literal answers.
    streaming: Option<Option<CommandId>>,
    /// The octets of the response being handled, until a command's data
    /// takes it in (`InFlight::held`).
    charge: u64,
    /// An initial SASL response to send at the first challenge (no
    /// SASL-IR).
    sasl_initial: Option<(CommandId, Vec<u8>)>,
    /// The IDLE command the server confirmed, until DONE.
    idling: Option<CommandId>,
    /// The state to return to after a transport switch.
    before_switch: ClientState,
    clock: Clock,
}

impl ClientSession {
    /// A session waiting for the greeting.
    pub fn new(config: ClientConfig) -> Self {
        ClientSession {
            reader: ResponseReader::new(config.decoder, config.stream_above),
            config,
            input: Vec::new(),
            output: Vec::new(),
            events: VecDeque::new(),
            state: ClientState::Greeting,
            capabilities: None,
            enabled: Vec::new(),
            next_tag: 1,
            queue: VecDeque::new(),
            writing: None,
            in_flight: Vec::new(),
            mailbox: None,
            streaming: None,
            charge: 0,
            sasl_initial: None,
            idling: None,
            before_switch: ClientState::NotAuthenticated,
            clock: Clock::default(),
        }
    }

    /// Where the session stands.
    pub fn state(&self) -> ClientState {
        self.state
    }

    /// The server's capabilities, when known: from the greeting, a
    /// CAPABILITY response or code. Forgotten after STARTTLS and login
    /// when the server may change them.
    pub fn capabilities(&self) -> Option<&Capabilities<'static>> {
        self.capabilities.as_ref()
    }

    /// The extensions ENABLE turned on.
    pub fn enabled(&self) -> &[Capability<'static>] {
        &self.enabled
    }

    /// The selected mailbox, if any.
    pub fn mailbox(&self) -> Option<&MailboxView> {
        self.mailbox.as_ref()
    }

    /// Commands sent or queued and not yet complete.
    pub fn pending(&self) -> usize {
        self.queue.len() + self.in_flight.len()
    }

    /// Queues a command; its tag is generated, never one a command in
    /// progress has (a caller's, given to [`send_tagged`](Self::send_tagged)).
    /// The completion event carries the returned id.
    pub fn send(&mut self, body: CommandBody<'static>) -> CommandId {
        loop {
            let tag = Tag::new(format!("{}{}", self.config.tag_prefix, self.next_tag)).unwrap_or_else(|_| {
                Tag::new(format!("A{}", self.next_tag)).expect("a letter and digits make a tag")
            });
            if !self.tag_in_use(&tag) {
                return self.send_tagged(tag, body);
            }
            self.next_tag += 1;
        }
    }

    /// Whether a command queued or awaiting its completion has this tag.
    fn tag_in_use(&self, tag: &Tag<'_>) -> bool {
        // (The command being written is in flight too.)
        self.queue.iter().any(|c| c.tag == *tag) || self.in_flight.iter().any(|c| c.tag == *tag)
    }

    /// Queues a command with a tag of the caller's (a proxy keeps its
    /// client's tags). Tags of commands in progress must differ; the
    /// session does not check it.
    pub fn send_tagged(&mut self, tag: Tag<'static>, body: CommandBody<'static>) -> CommandId {
        let id = CommandId(self.next_tag);
        self.next_tag += 1;
        let kind = Kind::of(&body);
        let command = Command {
            tag: tag.clone(),
            body,
        };
        let fragments = command
            .encode(self.literal_policy())
            .into_iter()
            .map(owned_fragment)
            .collect();
        self.queue.push_back(Outgoing {
            id,
            tag,
            kind,
            expunge_free: command.body.forbids_expunge(),
            uses_sequence_numbers: command.body.uses_sequence_numbers(),
            fragments,
            may_send_literal: false,
        });
        self.pump();
        id
    }

    /// Queues `LOGIN user password`.
    pub fn login(&mut self, user: &[u8], password: &[u8]) -> Result<CommandId, TypeError> {
        let username = AString::from_bytes(user.to_vec())?;
        let password = Secret::new(AString::from_bytes(password.to_vec())?);
        Ok(self.send(CommandBody::Login { username, password }))
    }

    /// Queues AUTHENTICATE PLAIN (RFC 4616), with the credentials as an
    /// initial response when the server offers SASL-IR, or after its
    /// empty challenge otherwise.
    pub fn authenticate_plain(&mut self, authzid: &[u8], user: &[u8], password: &[u8]) -> CommandId {
        let mut message = Vec::with_capacity(authzid.len() + user.len() + password.len() + 2);
        message.extend_from_slice(authzid);
        message.push(0);
        message.extend_from_slice(user);
        message.push(0);
        message.extend_from_slice(password);
        self.authenticate("PLAIN", Some(&message))
    }

    /// Queues AUTHENTICATE with `mechanism`. An initial response goes on
    /// the command line when the server offers SASL-IR (RFC 4959), or
    /// answers the server's first challenge otherwise; further challenges
    /// come as [`ClientEvent::SaslChallenge`].
    pub fn authenticate(&mut self, mechanism: &str, initial: Option<&[u8]>) -> CommandId {
        use base64::Engine as _;
        let mechanism = Atom::new(mechanism.to_ascii_uppercase())
            .unwrap_or_else(|_| Atom::new("X-INVALID").expect("an atom"));
        let (initial_response, later) = match initial {
            Some(data) if self.offers(&Capability::SaslIr) => {
                let text = match data {
                    [] => "=".to_owned(),
                    _ => base64::engine::general_purpose::STANDARD.encode(data),
                };
                let text = crate::command::Base64::new(text).expect("the engine writes base64");
                (Some(Secret::new(text)), None)
            }
            Some(data) => (None, Some(data.to_vec())),
            None => (None, None),
        };
        let id = self.send(CommandBody::Authenticate {
            mechanism,
            initial_response,
        });
        self.sasl_initial = later.map(|data| (id, data));
        id
    }

    /// Answers a [`ClientEvent::SaslChallenge`].
    pub fn sasl_respond(&mut self, id: CommandId, data: &[u8]) {
        use base64::Engine as _;
        if self.is_in_flight(id, Kind::Authenticate) {
            let text = base64::engine::general_purpose::STANDARD.encode(data);
            self.output.extend_from_slice(text.as_bytes());
            self.output.extend_from_slice(b"\r\n");
        }
    }

    /// Cancels an AUTHENTICATE exchange (`*`); the server answers BAD.
    pub fn sasl_cancel(&mut self, id: CommandId) {
        if self.is_in_flight(id, Kind::Authenticate) {
            self.output.extend_from_slice(b"*\r\n");
        }
    }

    /// Queues IDLE (RFC 2177); [`ClientEvent::Idling`] says when the server
    /// listens, [`ClientSession::done`] ends it.
    pub fn idle(&mut self) -> CommandId {
        self.send(CommandBody::Idle)
    }

    /// Ends IDLE: sends `DONE`. Commands queued meanwhile follow it.
    pub fn done(&mut self) {
        if self.idling.take().is_some() {
            self.output.extend_from_slice(b"DONE\r\n");
        }
    }

    /// The TLS handshake after [`ClientEvent::StartTls`] succeeded. The
    /// capabilities are forgotten: ask again (RFC 9051 section 6.2.1); so
    /// is anything the server said enabled before (ENABLE comes after
    /// login, STARTTLS before: it could only have been injected).
    ///
    /// Commands queued behind STARTTLS were encoded with what the server
    /// offered in plain text, which a man in the middle may have written:
    /// their non-synchronizing literals (LITERAL+, LITERAL-) become
    /// synchronizing ones, which every server takes. Sent as they were to
    /// a server without LITERAL+, a literal's data would be read as
    /// commands, in the protected session.
    pub fn tls_established(&mut self) {
        if self.state == ClientState::Switching {
            self.capabilities = None;
            self.enabled.clear();
            for queued in &mut self.queue {
                outgoing::synchronize(&mut queued.fragments);
            }
            self.state = self.before_switch;
            self.pump();
        }
    }

    /// The transport compresses from now on (after
    /// [`ClientEvent::Compress`]).
    pub fn compression_started(&mut self) {
        if self.state == ClientState::Switching {
            self.state = self.before_switch;
            self.pump();
        }
    }

    /// Takes bytes the server sent. While the transport switches (after
    /// [`ClientEvent::StartTls`] or [`ClientEvent::Compress`], before
    /// [`tls_established`](Self::tls_established) or
    /// [`compression_started`](Self::compression_started)) bytes of the
    /// old transport are dropped: after STARTTLS they could only be a man
    /// in the middle's (RFC 2595 section 3.1's response injection).
    pub fn receive(&mut self, bytes: &[u8]) {
        if matches!(self.state, ClientState::Closed | ClientState::Switching) {
            return;
        }
        self.input.extend_from_slice(bytes);
        self.process_input();
        self.pump();
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    /// The next bytes to send to the server.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        if self.output.is_empty() {
            return None;
        }
        self.clock.sent = true;
        Some(Bytes::from(std::mem::take(&mut self.output)))
    }

    /// When [`ClientSession::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let limit = self.config.response_timeout?;
        Some(self.clock.waiting_since? + limit)
    }

    /// Tells the session the time. Call it once what
    /// [`poll_transmit`](Self::poll_transmit) gave is sent, before waiting
    /// for the server, and when the deadline of
    /// [`ClientSession::poll_timeout`] passes: a command left unanswered
    /// beyond the response timeout closes the session. (Called before a
    /// wait rather than right after a read, the time the application
    /// takes over what it read is not counted against the server.)
    pub fn handle_timeout(&mut self, now: Instant) {
        self.clock.now = Some(now);
        let waiting = !self.in_flight.is_empty() && self.idling.is_none();
        let answered = std::mem::take(&mut self.clock.answered) | std::mem::take(&mut self.clock.sent);
        if !waiting {
            self.clock.waiting_since = None;
        } else if self.clock.waiting_since.is_none() || answered {
            self.clock.waiting_since = Some(now);
        }
        if self.poll_timeout().is_some_and(|deadline| now >= deadline) {
            self.close();
        }
    }

    fn close(&mut self) {
        if self.state != ClientState::Closed {
            self.state = ClientState::Closed;
            self.queue.clear();
            self.writing = None;
            self.events.push_back(ClientEvent::Closed);
        }
    }

    fn is_in_flight(&self, id: CommandId, kind: Kind) -> bool {
        self.in_flight.iter().any(|c| c.id == id && c.kind == kind)
    }
}

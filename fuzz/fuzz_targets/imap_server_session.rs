//! The IMAP server session fed arbitrary client bytes in arbitrary reads,
//! with an application that answers every request as the fuzzer's flags
//! say.
//!
//! Beyond "no panic": the session's state (not authenticated,
//! authenticated, selected read-write or read-only) is at every pause the
//! one a model of RFC 9051's states kept here gives, from the events and
//! the application's answers alone; commands reach the application only
//! in a state where they are valid, and logins only before one succeeded;
//! every answer the application gives is taken; the output and the events
//! (compared as values, passwords and literals included) do not depend on
//! how the input was split into reads (unless STARTTLS or COMPRESS hand
//! over what was pipelined after them, which depends on the reads); and
//! the output of every run decodes, response by response, with the strict
//! grammar, as a client reads it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::num::NonZeroU32;

use mailwire_fuzz::show;
use mailwire_imap::server::{
    AuthStep, Credentials, LiteralRefusal, LoginRejection, MailboxSnapshot, NonSyncLiterals, ServerConfig,
    ServerEvent, ServerSession, Tls,
};
use mailwire_imap::{
    Capability, Command, CommandBody, DataItemName, Decoded, DecoderConfig, Mailbox, MailboxStatus,
    MessageDataItem, RespText, Response, Section, Status, StatusValue, decode_response,
};

#[derive(Debug, PartialEq)]
struct Run {
    output: Vec<u8>,
    events: Vec<Seen>,
}

/// An event as two runs are compared: as values where Debug hides or
/// cuts them (passwords, SASL responses, long literals, APPEND data).
#[derive(Debug, PartialEq)]
enum Seen {
    Credentials(Credentials),
    Sasl {
        mechanism: String,
        response: Option<Vec<u8>>,
    },
    Command {
        command: Command<'static>,
        messages: Vec<NonZeroU32>,
    },
    AppendData(Vec<u8>),
    Other(String),
}

impl Seen {
    fn of(event: &ServerEvent) -> Seen {
        match event {
            ServerEvent::Authenticate(request) => match request.step() {
                AuthStep::Credentials(c) => Seen::Credentials(c.clone()),
                AuthStep::Sasl { mechanism, response } => Seen::Sasl {
                    mechanism: mechanism.clone(),
                    response: response.as_ref().map(|r| r.expose().clone()),
                },
                other => Seen::Other(format!("{other:?}")),
            },
            ServerEvent::Command(request) => Seen::Command {
                command: request.command().clone(),
                messages: request.messages().to_vec(),
            },
            other => Seen::Other(format!("{other:?}")),
        }
    }
}

/// RFC 9051's states (section 3), kept from what the session reports and
/// what the application answers.
#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    NotAuthenticated,
    Authenticated,
    Selected { read_only: bool },
}

impl State {
    /// The state the session reports.
    fn of(session: &ServerSession) -> State {
        match (session.is_authenticated(), session.selected()) {
            (false, None) => State::NotAuthenticated,
            (true, None) => State::Authenticated,
            (true, Some(read_only)) => State::Selected { read_only },
            (false, Some(_)) => panic!("a mailbox selected without a login"),
        }
    }
}

/// Commands valid in the selected state only: RFC 9051 section 6.4, CHECK
/// (RFC 3501 section 6.4.1), SORT and THREAD (RFC 5256), CANCELUPDATE
/// (RFC 5267) and REPLACE (RFC 8508).
fn needs_selected(body: &CommandBody<'_>) -> bool {
    matches!(
        body,
        CommandBody::Check
            | CommandBody::Close
            | CommandBody::Unselect
            | CommandBody::Expunge
            | CommandBody::UidExpunge(_)
            | CommandBody::Search { .. }
            | CommandBody::Fetch { .. }
            | CommandBody::Store { .. }
            | CommandBody::Copy { .. }
            | CommandBody::Move { .. }
            | CommandBody::Sort { .. }
            | CommandBody::Thread { .. }
            | CommandBody::CancelUpdate(_)
            | CommandBody::Replace { .. }
    )
}

fn run(flags: u16, input: &[u8], reads: &[u8]) -> Run {
    let mut config = ServerConfig {
        allow_plaintext_login: flags & 1 != 0,
        tls: match (flags >> 1) & 3 {
            0 => Tls::Unavailable,
            1 => Tls::Available,
            _ => Tls::Active,
        },
        non_sync_literals: match (flags >> 3) & 3 {
            0 => NonSyncLiterals::None,
            1 => NonSyncLiterals::Minus,
            _ => NonSyncLiterals::Plus,
        },
        compress: flags & 32 != 0,
        unauthenticate: flags & 64 != 0,
        sasl_mechanisms: vec!["X-FUZZ".into()],
        capabilities: vec![Capability::Sort, Capability::CondStore, Capability::QResync],
        append_limit: (flags & 128 != 0).then_some(300),
        max_buffered_output: 512,
        ..ServerConfig::default()
    };
    config.decoder.limits.literal = 100;
    config.decoder.limits.command_line = 1024;
    let accept_login = flags & 256 != 0;
    let accept_literals = flags & 512 != 0;
    let fail_commands = flags & 1024 != 0;
    // Stream the first message of a FETCH as a literal.
    let stream_literals = flags & 2048 != 0;
    // NOTIFY-style news between commands, and RECENT with new messages.
    let notify = flags & 4096 != 0;
    let mut session = ServerSession::new(config);
    let mut output = Vec::new();
    let mut events = Vec::new();
    let mut append_data = Vec::new();
    let mut state = State::NotAuthenticated;
    // CONDSTORE as the session had it at the last command.
    let mut condstore = false;
    let mut reads = mailwire_fuzz::Reads::new(input, reads);
    loop {
        loop {
            let mut progressed = false;
            while let Some(event) = session.poll_event() {
                progressed = true;
                // APPEND data comes in pieces that follow the reads: kept
                // joined, so that only its content counts.
                if let ServerEvent::AppendData(data) = &event {
                    append_data.extend_from_slice(data);
                } else {
                    if !append_data.is_empty() {
                        events.push(Seen::AppendData(std::mem::take(&mut append_data)));
                    }
                    events.push(Seen::of(&event));
                }
                match event {
                    ServerEvent::Authenticate(request) => {
                        assert_eq!(state, State::NotAuthenticated, "a login after a login");
                        if accept_login {
                            state = State::Authenticated;
                        }
                        let answer = if request.credentials().is_none() && !accept_login {
                            session.sasl_challenge(request, b"more")
                        } else if accept_login {
                            session.accept_login(request)
                        } else {
                            session.reject_login(request, LoginRejection::AuthenticationFailed)
                        };
                        answer.expect("the login was pending");
                    }
                    ServerEvent::Literal(request) => {
                        let answer = if accept_literals {
                            session.accept_literal(request)
                        } else {
                            session.refuse_literal(request, LiteralRefusal::TooBig("no".into()))
                        };
                        answer.expect("the literal was pending");
                    }
                    ServerEvent::Command(request) => {
                        assert_ne!(
                            state,
                            State::NotAuthenticated,
                            "a command before login: {request:?}"
                        );
                        let body = &request.command().body;
                        // RFC 7162 section 3.1: HIGHESTMODSEQ is owed by the
                        // first CONDSTORE-enabling command, with a mailbox
                        // selected (a SELECT's opening carries its own).
                        let was = std::mem::replace(&mut condstore, session.enabled().condstore);
                        if request.owes_highest_modseq() {
                            assert!(!was && condstore, "HIGHESTMODSEQ owed twice: {request:?}");
                            assert!(
                                matches!(state, State::Selected { .. })
                                    && !matches!(
                                        body,
                                        CommandBody::Select { .. } | CommandBody::Examine { .. }
                                    ),
                                "HIGHESTMODSEQ owed with no mailbox: {request:?}"
                            );
                        }
                        if needs_selected(body) {
                            assert!(
                                matches!(state, State::Selected { .. }),
                                "{} with no mailbox",
                                body.name()
                            );
                        }
                        // What the command leaves selected once completed as
                        // this application completes it (RFC 9051 sections
                        // 6.3.2, 6.3.3, 6.4.1; RFC 3691): a SELECT closes
                        // the mailbox selected before it, whatever follows.
                        let status = if fail_commands { Status::No } else { Status::Ok };
                        let after = match body {
                            CommandBody::Select { .. } | CommandBody::Examine { .. } => {
                                state = State::Authenticated;
                                let read_only = matches!(body, CommandBody::Examine { .. });
                                if fail_commands {
                                    State::Authenticated
                                } else {
                                    State::Selected { read_only }
                                }
                            }
                            CommandBody::Close | CommandBody::Unselect if !fail_commands => {
                                State::Authenticated
                            }
                            _ => state,
                        };
                        assert_eq!(
                            State::of(&session),
                            state,
                            "the state when {} arrives",
                            body.name()
                        );
                        if matches!(body, CommandBody::Select { .. } | CommandBody::Examine { .. }) {
                            let uids = (1..=5).map(|n| NonZeroU32::new(n * 2).unwrap()).collect();
                            let one = NonZeroU32::new(1).unwrap();
                            let snapshot = MailboxSnapshot::new(one, NonZeroU32::new(11).unwrap(), uids);
                            session
                                .open_mailbox(&request, snapshot)
                                .expect("a SELECT may open");
                        }
                        for (i, &uid) in request.messages().iter().enumerate() {
                            let items = vec![MessageDataItem::Rfc822Size(10)];
                            if i == 0 && stream_literals {
                                let name = DataItemName::BodySection {
                                    section: Section::WHOLE,
                                    origin: None,
                                };
                                session
                                    .fetch_literal_start(&request, uid, items, name, 5, false)
                                    .expect("a message the client knows");
                                session
                                    .fetch_literal_data(&request, b"ab")
                                    .expect("within the length");
                                assert!(session.unsolicited(&news()).is_err(), "inside a literal");
                                assert!(session.fetch_literal_end(&request).is_err(), "3 octets owed");
                                session
                                    .fetch_literal_data(&request, b"cde")
                                    .expect("within the length");
                                session.fetch_literal_end(&request).expect("all sent");
                                continue;
                            }
                            session
                                .fetch_data(&request, uid, items)
                                .expect("a message the client knows");
                        }
                        if let CommandBody::Search { .. } = body {
                            let uids = [NonZeroU32::new(2).unwrap(), NonZeroU32::new(8).unwrap()];
                            session.search_matches(&request, &uids, None).expect("a SEARCH");
                        }
                        // The store changes while the command runs.
                        if fail_commands {
                            session.message_expunged(NonZeroU32::new(4).unwrap());
                        } else {
                            session.message_added(NonZeroU32::new(20).unwrap());
                            if notify {
                                session.recent_changed(1);
                            }
                        }
                        assert!(session.unsolicited(&news()).is_err(), "while a command runs");
                        let note = Response::Status {
                            tag: None,
                            status: Status::Ok,
                            text: RespText::text("working"),
                        };
                        session.respond(&request, &note).expect("untagged OK is allowed");
                        if matches!(state, State::Selected { .. }) {
                            let exists = Response::Exists(1);
                            assert!(
                                session.respond(&request, &exists).is_err(),
                                "the session keeps the numbers"
                            );
                        }
                        session
                            .complete(request, status, RespText::text("done"))
                            .expect("the command was pending");
                        state = after;
                    }
                    ServerEvent::Append(message) => {
                        let answer = if accept_literals {
                            session.accept_append(message)
                        } else {
                            session.refuse_append(message, LiteralRefusal::TryCreate("no".into()))
                        };
                        answer.expect("the message was pending");
                    }
                    ServerEvent::CatenatePart(part) => {
                        // A URL naming UID 9 cannot be read; text parts
                        // are taken as messages are.
                        let answer = match part.url() {
                            Some(url) if url.uid().is_some_and(|u| u.get() == 9) => {
                                session.refuse_catenate_part(part, LiteralRefusal::BadUrl("no".into()))
                            }
                            Some(_) => session.accept_catenate_part(part),
                            None if accept_literals => session.accept_catenate_part(part),
                            None => session.refuse_catenate_part(part, LiteralRefusal::TooBig("no".into())),
                        };
                        answer.expect("the part was pending");
                    }
                    ServerEvent::AppendComplete(done) => {
                        assert_ne!(state, State::NotAuthenticated, "an APPEND before login");
                        let status = if fail_commands { Status::No } else { Status::Ok };
                        session
                            .complete_append(done, status, RespText::text("done"))
                            .expect("the APPEND was pending");
                    }
                    ServerEvent::Unauthenticated => {
                        state = State::NotAuthenticated;
                        condstore = false;
                    }
                    ServerEvent::StartTls => session.tls_established(),
                    ServerEvent::Compress { .. } => session.compression_started(),
                    _ => {}
                }
            }
            while let Some(bytes) = session.poll_transmit() {
                progressed = true;
                output.extend_from_slice(&bytes);
            }
            if !progressed {
                // Every event taken and nothing more to send (sending may
                // let the session go on with pipelined commands): the
                // session is where the model says, until it closes.
                if !session.is_closed() {
                    assert_eq!(State::of(&session), state, "the session's state");
                }
                break;
            }
        }
        if session.is_closed() {
            break;
        }
        let Some(read) = reads.next() else {
            if notify {
                // After the last command (once, so that how the input was
                // read does not matter): news of another mailbox, and the
                // selected mailbox's changes at once.
                let _ = session.unsolicited(&news());
                session.message_expunged(NonZeroU32::new(6).unwrap());
                session.announce_changes(true);
                while let Some(bytes) = session.poll_transmit() {
                    output.extend_from_slice(&bytes);
                }
            }
            break;
        };
        session.receive(read);
    }
    Run { output, events }
}

/// A NOTIFY-style STATUS of another mailbox.
fn news() -> Response<'static> {
    Response::MailboxStatus(MailboxStatus {
        mailbox: Mailbox::from_utf8_name("Sent"),
        values: vec![StatusValue::Messages(1)],
    })
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let flags = u16::from_le_bytes([data[0], data[1]]);
    let rest = &data[2..];
    // Up to 8 read sizes, then the client's bytes.
    let n = usize::from(rest[0] % 9);
    let (reads, input) = rest[1..].split_at(n.min(rest.len() - 1));
    let chunked = run(flags, input, reads);
    let whole = run(flags, input, &[]);
    // STARTTLS and COMPRESS hand over (or throw away) what was pipelined
    // after them, which depends on the reads.
    let switches = input
        .windows(8)
        .any(|w| w.eq_ignore_ascii_case(b"STARTTLS") || w.eq_ignore_ascii_case(b"COMPRESS"));
    if !switches {
        assert_eq!(chunked, whole, "the session depends on how the input was read");
    }
    // Whatever a client sent, the server's bytes are responses a client
    // decodes with the RFCs' grammar: greeting, answers, BAD for what it
    // could not read, the application's data. After STARTTLS or COMPRESS
    // too: the transport encrypts or compresses them, the session still
    // writes IMAP.
    let config = DecoderConfig::STRICT;
    for run in [&whole, &chunked] {
        let mut rest = &run.output[..];
        while !rest.is_empty() {
            match decode_response(rest, &config) {
                Ok(Decoded::Complete { consumed, .. }) => rest = &rest[consumed..],
                other => panic!("the server wrote {:?}: {other:?}", show(rest)),
            }
        }
    }
});

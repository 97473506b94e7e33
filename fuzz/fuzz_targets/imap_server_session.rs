//! The IMAP server session fed arbitrary client bytes in arbitrary reads,
//! with an application that answers every request as the fuzzer's flags
//! say.
//!
//! Beyond "no panic": commands reach the application only in a state
//! where they are valid (a reference model of RFC 9051's states), every
//! answer the application gives is taken, the output and events do not
//! depend on how the input was split into reads, and the output decodes,
//! response by response, as a client reads it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::num::NonZeroU32;

use mailwire_fuzz::show;
use mailwire_imap::server::{
    LiteralRefusal, LoginRejection, MailboxSnapshot, NonSyncLiterals, ServerConfig, ServerEvent,
    ServerSession, Tls,
};
use mailwire_imap::{
    Capability, CommandBody, DataItemName, Decoded, DecoderConfig, Mailbox, MailboxStatus, MessageDataItem,
    RespText, Response, Section, Status, StatusValue, decode_response,
};

#[derive(Debug, PartialEq)]
struct Run {
    output: Vec<u8>,
    events: Vec<String>,
}

fn needs_selected(body: &CommandBody<'_>) -> bool {
    matches!(
        body,
        CommandBody::Fetch { .. }
            | CommandBody::Store { .. }
            | CommandBody::Search { .. }
            | CommandBody::Copy { .. }
            | CommandBody::Move { .. }
            | CommandBody::Expunge
            | CommandBody::UidExpunge(_)
            | CommandBody::Close
            | CommandBody::Unselect
            | CommandBody::Sort { .. }
            | CommandBody::Thread { .. }
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
                        events.push(format!("AppendData {:?}", std::mem::take(&mut append_data)));
                    }
                    events.push(format!("{event:?}"));
                }
                match event {
                    ServerEvent::Authenticate(request) => {
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
                        assert!(session.is_authenticated(), "a command before login: {request:?}");
                        let body = &request.command().body;
                        if needs_selected(body) {
                            assert!(session.selected().is_some(), "{} with no mailbox", body.name());
                        }
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
                        if session.selected().is_some() {
                            let exists = Response::Exists(1);
                            assert!(
                                session.respond(&request, &exists).is_err(),
                                "the session keeps the numbers"
                            );
                        }
                        let status = if fail_commands { Status::No } else { Status::Ok };
                        session
                            .complete(request, status, RespText::text("done"))
                            .expect("the command was pending");
                    }
                    ServerEvent::Append(message) => {
                        let answer = if accept_literals {
                            session.accept_append(message)
                        } else {
                            session.refuse_append(message, LiteralRefusal::TryCreate("no".into()))
                        };
                        answer.expect("the message was pending");
                    }
                    ServerEvent::AppendComplete(done) => {
                        assert!(session.is_authenticated());
                        let status = if fail_commands { Status::No } else { Status::Ok };
                        session
                            .complete_append(done, status, RespText::text("done"))
                            .expect("the APPEND was pending");
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
        // Whatever a client sent, the server's bytes are responses a
        // client decodes: greeting, answers, BAD for what it could not
        // read, the application's data.
        let config = DecoderConfig::default();
        let mut rest = &whole.output[..];
        while !rest.is_empty() {
            match decode_response(rest, &config) {
                Ok(Decoded::Complete { consumed, .. }) => rest = &rest[consumed..],
                other => panic!("the server wrote {:?}: {other:?}", show(rest)),
            }
        }
    }
});

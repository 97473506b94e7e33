//! The sessions' common shape: storage requests leave the server session as
//! events with handles and come back through them (answered here by hand,
//! with no I/O, or by `MaildropServer`), no command runs while one is
//! pending, message data is streamed in any chunking under back-pressure,
//! and time comes in through `handle_timeout`: RFC 1939's autologout for
//! the server, a response timeout for the client.

#[path = "common/mod.rs"]
mod common;

use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;
use mailwire_pop3::{
    ClientConfig, ClientEvent, ClientSession, ClientState, Command, Maildrop, MaildropError, MaildropServer,
    Mechanism, MemoryMaildrop, MessageInfo, MessageNumber, RetrieveHandle, ServerConfig, ServerEvent,
    ServerSession, UniqueId, crlf_size,
};
use proptest::prelude::*;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn listing(messages: &[&[u8]]) -> Vec<MessageInfo> {
    messages
        .iter()
        .enumerate()
        .map(|(i, m)| MessageInfo {
            size: crlf_size(m),
            unique_id: UniqueId::new(format!("id{}", i + 1)).unwrap(),
            needs_utf8: false,
        })
        .collect()
}

fn drain(session: &mut ServerSession) -> Vec<u8> {
    std::iter::from_fn(|| session.poll_transmit())
        .flat_map(|b| b.to_vec())
        .collect()
}

/// A session logged in on `messages`, answered by hand, its output taken.
fn logged_in_on(config: ServerConfig, messages: &[&[u8]]) -> ServerSession {
    let mut session = ServerSession::new(ServerConfig {
        allow_plaintext_auth: true,
        ..config
    });
    session.receive(b"USER u\r\nPASS p\r\n");
    let Some(ServerEvent::Login(login)) = session.poll_event() else {
        panic!("no login")
    };
    session.accept_login(login, listing(messages)).unwrap();
    let out = drain(&mut session);
    assert!(show(&out).ends_with("octets)\r\n"), "{}", show(&out));
    session
}

fn retrieve(session: &mut ServerSession) -> RetrieveHandle {
    match session.poll_event() {
        Some(ServerEvent::Retrieve(handle)) => handle,
        other => panic!("expected a Retrieve, got {other:?}"),
    }
}

fn n(number: u32) -> MessageNumber {
    MessageNumber::new(number).unwrap()
}

/// Answers `command` (RETR or TOP of message 1) with `message` cut into
/// pieces of the sizes in `pieces`, repeated (one piece if empty). With
/// `stop_at_top`, stops reading when the session says TOP is complete, as
/// an application should; otherwise feeds everything.
fn answer_in_pieces(message: &[u8], command: &str, pieces: &[usize], stop_at_top: bool) -> Vec<u8> {
    let mut session = logged_in_on(ServerConfig::default(), &[message]);
    session.receive(command.as_bytes());
    let handle = retrieve(&mut session);
    let mut sizes = pieces.iter().copied().cycle();
    let mut at = 0;
    while at < message.len() {
        if stop_at_top && session.top_complete() {
            break;
        }
        let size = sizes.next().unwrap_or(message.len());
        let end = (at + size).min(message.len());
        session.message_data(&handle, &message[at..end]).unwrap();
        at = end;
    }
    session.message_end(handle).unwrap();
    drain(&mut session)
}

/// TOP written independently of the crate: the header, the blank line and
/// `lines` body lines of the CRLF-normalised message.
fn top_of(message: &[u8], lines: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut in_header = true;
    let mut left = lines;
    for line in normalise(message).split_inclusive(|&b| b == b'\n') {
        if !in_header && left == 0 {
            break;
        }
        out.extend_from_slice(line);
        if in_header {
            in_header = line != b"\r\n";
        } else {
            left -= 1;
        }
    }
    out
}

fn stuffed_top(message: &[u8], lines: u32) -> Vec<u8> {
    // Stuffing a normalised prefix: `stuffed` normalises again, which
    // changes nothing.
    stuffed(&top_of(message, lines))
}

/// Messages made of the pieces that matter to stuffing and TOP: dots at
/// line starts, CRLF, bare LF, lone CR, blank lines.
fn message() -> impl Strategy<Value = Vec<u8>> {
    let fragments: Vec<&'static [u8]> = vec![
        b"Subject: x",
        b"a",
        b".",
        b"..",
        b" ",
        b"\r\n",
        b"\n",
        b"\r",
        b"x.y",
        b"\r\n.\r\n",
        b"\n.\n",
        b"\n\n",
    ];
    proptest::collection::vec(proptest::sample::select(fragments), 0..60).prop_map(|parts| parts.concat())
}

// ---------------------------------------------------------------------------
// Retrieve: any chunking gives the same bytes
// ---------------------------------------------------------------------------

proptest! {
    #[test]
    fn retr_in_any_chunking_is_byte_identical(
        message in message(),
        pieces in proptest::collection::vec(1usize..20, 0..8),
    ) {
        let whole = answer_in_pieces(&message, "RETR 1\r\n", &[], true);
        let expected = [
            format!("+OK {} octets\r\n", normalise(&message).len()).into_bytes(),
            stuffed(&message),
            b".\r\n".to_vec(),
        ]
        .concat();
        prop_assert_eq!(show(&whole), show(&expected));
        let cut = answer_in_pieces(&message, "RETR 1\r\n", &pieces, true);
        prop_assert_eq!(show(&cut), show(&whole));
    }

    #[test]
    fn top_in_any_chunking_is_byte_identical(
        message in message(),
        lines in 0u32..5,
        pieces in proptest::collection::vec(1usize..20, 0..8),
    ) {
        let command = format!("TOP 1 {lines}\r\n");
        let whole = answer_in_pieces(&message, &command, &[], true);
        let expected = [b"+OK\r\n".to_vec(), stuffed_top(&message, lines), b".\r\n".to_vec()].concat();
        prop_assert_eq!(show(&whole), show(&expected));
        for stop_at_top in [true, false] {
            let cut = answer_in_pieces(&message, &command, &pieces, stop_at_top);
            prop_assert_eq!(show(&cut), show(&whole));
        }
    }
}

#[test]
fn bare_lf_and_dots_split_at_every_byte() {
    let message = b"Subject: lf\n\n.\n..two\r\nmid\rline\n.\r\nlast.";
    let whole = answer_in_pieces(message, "RETR 1\r\n", &[], true);
    assert_eq!(
        show(&whole),
        "+OK 45 octets\r\nSubject: lf\r\n\r\n..\r\n...two\r\nmid\rline\r\n..\r\nlast.\r\n.\r\n"
    );
    for size in 1..message.len() {
        assert_eq!(
            answer_in_pieces(message, "RETR 1\r\n", &[size], true),
            whole,
            "{size}"
        );
        for lines in 0..4 {
            let command = format!("TOP 1 {lines}\r\n");
            assert_eq!(
                answer_in_pieces(message, &command, &[size], true),
                answer_in_pieces(message, &command, &[], true),
                "TOP {lines} in pieces of {size}"
            );
        }
    }
}

#[test]
fn the_status_line_waits_for_the_first_byte() {
    let mut session = logged_in_on(ServerConfig::default(), &[b"x\r\n"]);
    session.receive(b"RETR 1\r\n");
    let handle = retrieve(&mut session);
    assert_eq!(
        (handle.message(), handle.size(), handle.top_lines()),
        (n(1), 3, None)
    );
    assert_eq!(handle.unique_id().as_str(), "id1");
    assert!(drain(&mut session).is_empty());
    // Empty pieces start nothing.
    session.message_data(&handle, b"").unwrap();
    assert!(drain(&mut session).is_empty());
    session.message_data(&handle, b"x").unwrap();
    assert_eq!(show(&drain(&mut session)), "+OK 3 octets\r\nx");
    session.message_end(handle).unwrap();
    assert_eq!(show(&drain(&mut session)), "\r\n.\r\n");
}

// ---------------------------------------------------------------------------
// Handles
// ---------------------------------------------------------------------------

#[test]
fn a_handle_of_another_session_gets_an_error_and_changes_nothing() {
    // Logins.
    let mut a = ServerSession::new(rfc1939_config());
    let mut b = ServerSession::new(rfc1939_config());
    drain(&mut a);
    drain(&mut b);
    a.receive(b"USER a\r\nPASS a\r\n");
    b.receive(b"USER b\r\nPASS b\r\nSTAT\r\n");
    let Some(ServerEvent::Login(login_a)) = a.poll_event() else {
        panic!()
    };
    let Some(ServerEvent::Login(login_b)) = b.poll_event() else {
        panic!()
    };
    drain(&mut a);
    drain(&mut b);
    let error = b.accept_login(login_a, Vec::new()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "the handle does not belong to this session's pending request"
    );
    assert!(!b.is_authenticated());
    assert!(drain(&mut b).is_empty(), "B still waits for its own answer");
    b.accept_login(login_b, listing(&[b"m\r\n"])).unwrap();
    assert_eq!(
        show(&drain(&mut b)),
        "+OK maildrop has 1 message (3 octets)\r\n+OK 1 3\r\n"
    );

    // Messages: A's RETR handle does not feed B's RETR.
    let mut a = logged_in_on(ServerConfig::default(), &[b"from a\r\n"]);
    let mut b = logged_in_on(ServerConfig::default(), &[b"from b\r\n"]);
    a.receive(b"RETR 1\r\n");
    b.receive(b"RETR 1\r\n");
    let retr_a = retrieve(&mut a);
    let retr_b = retrieve(&mut b);
    assert!(b.message_data(&retr_a, b"from a\r\n").is_err());
    assert!(b.message_end(retr_a).is_err());
    assert!(drain(&mut b).is_empty());
    b.message_data(&retr_b, b"from b\r\n").unwrap();
    b.message_end(retr_b).unwrap();
    assert_eq!(show(&drain(&mut b)), "+OK 8 octets\r\nfrom b\r\n.\r\n");

    // Commits.
    let mut a = logged_in_on(ServerConfig::default(), &[b"x\r\n"]);
    let mut b = logged_in_on(ServerConfig::default(), &[b"x\r\n"]);
    a.receive(b"QUIT\r\n");
    b.receive(b"DELE 1\r\nQUIT\r\n");
    let Some(ServerEvent::Commit(commit_a)) = a.poll_event() else {
        panic!()
    };
    let Some(ServerEvent::Commit(commit_b)) = b.poll_event() else {
        panic!()
    };
    assert_eq!((commit_a.deleted(), commit_b.deleted()), (&[][..], &[n(1)][..]));
    assert!(b.commit_done(commit_a).is_err());
    assert!(!b.is_closed());
    b.commit_failed(commit_b, MaildropError::Temporary("x".into()))
        .unwrap();
    assert!(b.is_closed());
}

#[test]
fn a_handle_of_a_replaced_session_gets_an_error() {
    let mut session = logged_in_on(ServerConfig::default(), &[b"x\r\n"]);
    session.receive(b"RETR 1\r\n");
    let handle = retrieve(&mut session);
    // The connection was reset and a new session made for the same slot.
    session = logged_in_on(ServerConfig::default(), &[b"y\r\n"]);
    assert!(session.message_data(&handle, b"x\r\n").is_err());
    assert!(!session.wants_message_data());
    // With a retrieval of its own pending, the old handle still reaches
    // nothing: not its data, nor a failure that would close it.
    session.receive(b"RETR 1\r\n");
    let own = retrieve(&mut session);
    assert!(session.message_data(&handle, b"x\r\n").is_err());
    assert!(
        session
            .message_failed(handle, MaildropError::Permanent("gone".into()))
            .is_err()
    );
    assert!(!session.is_closed());
    session.message_data(&own, b"y\r\n").unwrap();
    session.message_end(own).unwrap();
    session.receive(b"STAT\r\n");
    assert_eq!(
        show(&drain(&mut session)),
        "+OK 3 octets\r\ny\r\n.\r\n+OK 1 3\r\n"
    );
}

#[test]
fn no_command_runs_while_a_request_is_pending() {
    let message = b"Subject: one\r\n\r\nbody\r\n";
    let config = ServerConfig {
        max_buffered_input: 64,
        ..ServerConfig::default()
    };
    let mut session = logged_in_on(config, &[message, b"two\r\n"]);
    session.receive(b"RETR 1\r\nDELE 1\r\nQUIT\r\n");
    let handle = retrieve(&mut session);
    // Nothing else comes out while the message is pending: no DELE
    // answer, no Commit.
    assert!(session.poll_event().is_none());
    assert!(drain(&mut session).is_empty());
    assert!(session.wants_input());
    // More pipelined input is only buffered, up to the limit.
    session.receive(&b"NOOP\r\n".repeat(10));
    assert!(!session.wants_input());
    assert!(session.poll_event().is_none());
    session.message_data(&handle, &message[..10]).unwrap();
    assert!(session.poll_event().is_none());
    assert_eq!(show(&drain(&mut session)), "+OK 22 octets\r\nSubject: o");
    session.message_data(&handle, &message[10..]).unwrap();
    assert!(session.poll_event().is_none());
    session.message_end(handle).unwrap();
    // Now DELE, then QUIT's commit; the NOOPs after QUIT are never run.
    let Some(ServerEvent::Commit(commit)) = session.poll_event() else {
        panic!("no commit")
    };
    assert_eq!(commit.deleted(), [n(1)]);
    assert_eq!(
        show(&drain(&mut session)),
        "ne\r\n\r\nbody\r\n.\r\n+OK message 1 deleted\r\n"
    );
    session.commit_done(commit).unwrap();
    assert_eq!(
        show(&drain(&mut session)),
        "+OK POP3 server signing off (1 message left)\r\n"
    );
    assert!(matches!(
        session.poll_event(),
        Some(ServerEvent::Closed { committed: true })
    ));
    assert!(session.poll_event().is_none());
    assert!(session.is_closed() && !session.wants_input());
}

#[test]
fn a_pending_login_holds_back_pipelined_commands() {
    let mut session = ServerSession::new(rfc1939_config());
    drain(&mut session);
    session.receive(b"USER mrose\r\nPASS secret\r\nSTAT\r\nQUIT\r\n");
    let Some(ServerEvent::Login(login)) = session.poll_event() else {
        panic!()
    };
    assert_eq!(login.user(), b"mrose");
    assert_eq!(show(&drain(&mut session)), "+OK Send PASS\r\n");
    assert!(session.poll_event().is_none());
    session.accept_login(login, listing(&[b"x\r\n"])).unwrap();
    assert!(matches!(session.poll_event(), Some(ServerEvent::Commit(_))));
    assert_eq!(
        show(&drain(&mut session)),
        "+OK maildrop has 1 message (3 octets)\r\n+OK 1 3\r\n"
    );
}

// ---------------------------------------------------------------------------
// Back-pressure
// ---------------------------------------------------------------------------

#[test]
fn output_stays_below_the_mark_plus_one_piece_while_the_application_listens() {
    const MARK: usize = 1000;
    const PIECE: usize = 300;
    // Stuffing's worst case: lines that are a lone dot, with bare LF.
    let mut message = b"Subject: dots\n\n".to_vec();
    for i in 0..20_000 {
        message.extend_from_slice(if i % 2 == 0 { b".\n" } else { b"..x\r\n" });
    }
    let config = ServerConfig {
        max_buffered_output: MARK,
        ..ServerConfig::default()
    };
    let status = format!("+OK {} octets\r\n", crlf_size(&message));
    let mut session = logged_in_on(config, &[&message]);
    session.receive(b"RETR 1\r\nNOOP\r\n");
    let handle = retrieve(&mut session);
    let mut at = 0;
    let mut sent = Vec::new();
    let mut most = 0;
    while at < message.len() {
        while session.wants_message_data() && at < message.len() {
            let end = (at + PIECE).min(message.len());
            session.message_data(&handle, &message[at..end]).unwrap();
            at = end;
        }
        if at < message.len() {
            assert!(!session.wants_message_data());
        }
        let out = drain(&mut session);
        assert!(
            out.len() <= MARK + 2 * PIECE + status.len(),
            "{} bytes",
            out.len()
        );
        most = most.max(out.len());
        sent.extend(out);
    }
    assert!(most > MARK, "the mark was reached: {most}");
    session.message_end(handle).unwrap();
    sent.extend(drain(&mut session));
    let expected = [
        answer_in_pieces(&message, "RETR 1\r\n", &[], true),
        b"+OK\r\n".to_vec(),
    ]
    .concat();
    assert!(sent == expected, "the output differs from one piece's");
}

// ---------------------------------------------------------------------------
// Failures
// ---------------------------------------------------------------------------

#[test]
fn a_message_that_fails_before_its_first_byte_is_an_err_and_the_session_goes_on() {
    let cases = [
        (
            MaildropError::Temporary("busy".into()),
            "-ERR [SYS/TEMP] Temporary failure, try later\r\n",
        ),
        (
            MaildropError::Permanent("gone".into()),
            "-ERR [SYS/PERM] Maildrop not available\r\n",
        ),
        (MaildropError::InUse, "-ERR [IN-USE] Maildrop already locked\r\n"),
        (
            MaildropError::Gone("removed".into()),
            "-ERR Message no longer exists\r\n",
        ),
    ];
    for (error, answer) in cases {
        let mut session = logged_in_on(ServerConfig::default(), &[b"x\r\n"]);
        session.receive(b"TOP 1 0\r\nSTAT\r\n");
        let handle = retrieve(&mut session);
        assert_eq!(handle.top_lines(), Some(0));
        session.message_failed(handle, error).unwrap();
        assert_eq!(show(&drain(&mut session)), format!("{answer}+OK 1 3\r\n"));
        assert!(session.is_authenticated());
    }
}

#[test]
fn a_message_that_fails_half_way_ends_the_connection_without_terminator_or_commit() {
    let message = b"Subject: big\r\n\r\nfirst half\r\nsecond half\r\n";
    let mut session = logged_in_on(ServerConfig::default(), &[message, b"other\r\n"]);
    session.receive(b"DELE 2\r\nRETR 1\r\nDELE 1\r\nQUIT\r\n");
    let handle = retrieve(&mut session);
    session.message_data(&handle, &message[..28]).unwrap();
    session
        .message_failed(handle, MaildropError::Temporary("read error".into()))
        .unwrap();
    assert_eq!(
        show(&drain(&mut session)),
        "+OK message 2 deleted\r\n+OK 41 octets\r\nSubject: big\r\n\r\nfirst half\r\n"
    );
    assert!(session.is_closed());
    // No Commit: the DELE 2 mark is dropped with the session.
    assert!(matches!(
        session.poll_event(),
        Some(ServerEvent::Closed { committed: false })
    ));
    assert!(session.poll_event().is_none());
}

#[test]
fn a_failed_commit_answers_sys_temp_and_commits_nothing() {
    for error in [
        MaildropError::Temporary("disk full".into()),
        MaildropError::Permanent("read-only".into()),
    ] {
        let mut session = logged_in_on(ServerConfig::default(), &[b"a\r\n", b"b\r\n"]);
        session.receive(b"DELE 2\r\nQUIT\r\nNOOP\r\n");
        let Some(ServerEvent::Commit(commit)) = session.poll_event() else {
            panic!()
        };
        assert_eq!(commit.deleted(), [n(2)]);
        assert!(!session.is_authenticated() && !session.is_closed());
        session.commit_failed(commit, error).unwrap();
        assert_eq!(
            show(&drain(&mut session)),
            "+OK message 2 deleted\r\n-ERR [SYS/TEMP] Some deleted messages not removed\r\n"
        );
        assert!(matches!(
            session.poll_event(),
            Some(ServerEvent::Closed { committed: false })
        ));
        assert!(session.is_closed());
    }
}

/// The commit names the messages RETR sent whole and not deleted, for a
/// maildrop that marks them read (Dovecot sets `\Seen` at QUIT): not those
/// TOP sent, nor one whose RETR failed, nor those retrieved before an
/// RSET (Dovecot forgets them too).
#[test]
fn the_commit_names_the_messages_retr_sent_whole() {
    let mut session = logged_in_on(
        ServerConfig::default(),
        &[b"a\r\n", b"b\r\n", b"c\r\n", b"d\r\n", b"e\r\n"],
    );
    let answer = |session: &mut ServerSession, command: &[u8], content: Option<&[u8]>| {
        session.receive(command);
        let handle = retrieve(session);
        match content {
            Some(content) => {
                session.message_data(&handle, content).unwrap();
                session.message_end(handle).unwrap();
            }
            None => session
                .message_failed(handle, MaildropError::Gone("x".into()))
                .unwrap(),
        }
        drain(session);
    };
    answer(&mut session, b"RETR 5\r\n", Some(b"e\r\n"));
    session.receive(b"RSET\r\n");
    drain(&mut session);
    answer(&mut session, b"RETR 1\r\n", Some(b"a\r\n"));
    answer(&mut session, b"TOP 2 0\r\n", Some(b"b\r\n"));
    answer(&mut session, b"RETR 3\r\n", None);
    answer(&mut session, b"RETR 4\r\n", Some(b"d\r\n"));
    answer(&mut session, b"RETR 4\r\n", Some(b"d\r\n"));
    answer(&mut session, b"RETR 2\r\n", Some(b"b\r\n"));
    session.receive(b"DELE 2\r\nQUIT\r\n");
    let Some(ServerEvent::Commit(commit)) = session.poll_event() else {
        panic!("no commit")
    };
    assert_eq!(commit.deleted(), [n(2)]);
    assert_eq!(commit.retrieved(), [n(1), n(4)]);
}

// ---------------------------------------------------------------------------
// Autologout (RFC 1939 section 3)
// ---------------------------------------------------------------------------

const TEN_MINUTES: Duration = Duration::from_secs(600);
const SECOND: Duration = Duration::from_secs(1);

#[test]
fn autologout_closes_without_committing_or_answering() {
    let maildrop = maildrop_with(&[b"a\r\n", b"b\r\n"]);
    let mut server = Server::new(rfc1939_config(), &maildrop);
    let start = Instant::now();
    server.session.handle_timeout(start);
    server.take_output();
    server.exchange("USER mrose\r\nPASS secret\r\nDELE 1\r\nDELE 2\r\n");
    server.session.handle_timeout(start);
    assert!(maildrop.is_locked());
    assert_eq!(server.session.poll_timeout(), Some(start + TEN_MINUTES));
    server.session.handle_timeout(start + TEN_MINUTES - SECOND);
    assert!(!server.session.is_closed());
    server.session.handle_timeout(start + TEN_MINUTES);
    assert!(server.session.is_closed());
    // RFC 1939: no response, no UPDATE state.
    assert_eq!(show(&server.take_output()), "");
    assert_eq!(server.closed_events(), [&Seen::Closed { committed: false }]);
    assert!(!server.events.iter().any(|e| matches!(e, Seen::Commit { .. })));
    assert_eq!(server.session.poll_timeout(), None);
    assert_eq!(maildrop.messages().len(), 2, "DELE marks are not committed");
    assert!(!maildrop.is_locked(), "the maildrop is released");
    // Input after the close is ignored.
    assert_eq!(server.exchange("QUIT\r\n"), "");
}

#[test]
fn the_greeting_stays_on_one_line_with_its_timestamp() {
    let mut session = ServerSession::new(ServerConfig {
        greeting: "mail\r\nhost\0 ready \u{e9}".into(),
        apop_timestamp: Some(mailwire_pop3::Timestamp::new("<1.2@host>").unwrap()),
        ..ServerConfig::default()
    });
    let mut greeting = Vec::new();
    while let Some(bytes) = session.poll_transmit() {
        greeting.extend_from_slice(&bytes);
    }
    assert_eq!(greeting, "+OK mail  host  ready \u{e9} <1.2@host>\r\n".as_bytes());
}

#[test]
fn input_before_the_deadline_pushes_it_back() {
    let mut session = ServerSession::new(ServerConfig::default());
    let start = Instant::now();
    session.handle_timeout(start);
    assert_eq!(session.poll_timeout(), Some(start + TEN_MINUTES));
    // A command at 9 minutes: the ten minutes start again then.
    let later = start + 9 * 60 * SECOND;
    session.receive(b"NOOP\r\n");
    session.handle_timeout(later);
    assert_eq!(session.poll_timeout(), Some(later + TEN_MINUTES));
    session.handle_timeout(start + TEN_MINUTES);
    session.handle_timeout(later + TEN_MINUTES - SECOND);
    assert!(!session.is_closed());
    // Input that arrived after the deadline, before the session was told
    // the time, still counts.
    session.receive(b"NOOP\r\n");
    session.handle_timeout(later + 2 * TEN_MINUTES);
    assert!(!session.is_closed());
    // Even a partial line is activity.
    session.receive(b"NO");
    session.handle_timeout(later + 3 * TEN_MINUTES);
    assert!(!session.is_closed());
    session.handle_timeout(later + 4 * TEN_MINUTES);
    assert!(session.is_closed(), "in AUTHORIZATION too");
    assert!(matches!(
        session.poll_event(),
        Some(ServerEvent::Closed { committed: false })
    ));
}

#[test]
fn no_autologout_while_the_application_or_the_handshake_is_awaited() {
    let start = Instant::now();
    let mut session = ServerSession::new(rfc1939_config());
    session.handle_timeout(start);
    session.receive(b"USER mrose\r\nPASS secret\r\n");
    session.handle_timeout(start);
    let Some(ServerEvent::Login(login)) = session.poll_event() else {
        panic!()
    };
    assert_eq!(session.poll_timeout(), None);
    let much_later = start + 100 * TEN_MINUTES;
    session.handle_timeout(much_later);
    assert!(!session.is_closed());
    // Answering restarts the timer.
    session.accept_login(login, listing(&[b"x\r\n"])).unwrap();
    session.handle_timeout(much_later);
    assert_eq!(session.poll_timeout(), Some(much_later + TEN_MINUTES));

    // STLS: the handshake is the application's.
    let mut session = ServerSession::new(ServerConfig {
        tls: mailwire_pop3::Tls::Available,
        ..ServerConfig::default()
    });
    session.handle_timeout(start);
    session.receive(b"STLS\r\n");
    session.handle_timeout(start);
    assert!(matches!(session.poll_event(), Some(ServerEvent::StartTls)));
    assert_eq!(session.poll_timeout(), None);
    session.tls_established();
    session.handle_timeout(much_later);
    assert_eq!(session.poll_timeout(), Some(much_later + TEN_MINUTES));
}

#[test]
fn the_autologout_can_be_set_or_disabled() {
    let start = Instant::now();
    let mut session = ServerSession::new(ServerConfig {
        autologout: None,
        ..ServerConfig::default()
    });
    session.handle_timeout(start);
    assert_eq!(session.poll_timeout(), None);
    session.handle_timeout(start + 1000 * TEN_MINUTES);
    assert!(!session.is_closed());

    let mut session = ServerSession::new(ServerConfig {
        autologout: Some(30 * 60 * SECOND),
        ..ServerConfig::default()
    });
    // The clock starts at the first call.
    assert_eq!(session.poll_timeout(), None);
    session.handle_timeout(start + SECOND);
    assert_eq!(session.poll_timeout(), Some(start + SECOND + 30 * 60 * SECOND));
}

// ---------------------------------------------------------------------------
// MaildropServer: the blocking adapter
// ---------------------------------------------------------------------------

/// A maildrop that counts what is read and can fail reading after some
/// bytes.
#[derive(Debug, Clone)]
struct Probe {
    inner: MemoryMaildrop,
    fail_after: Option<usize>,
    read: Arc<AtomicUsize>,
}

impl Probe {
    fn new(inner: &MemoryMaildrop, fail_after: Option<usize>) -> Self {
        Probe {
            inner: inner.clone(),
            fail_after,
            read: Arc::new(AtomicUsize::new(0)),
        }
    }
}

struct ProbeReader {
    inner: <MemoryMaildrop as Maildrop>::Message,
    left: Option<usize>,
    read: Arc<AtomicUsize>,
}

impl Read for ProbeReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let buf = match self.left {
            Some(0) => return Err(io::Error::other("disk error")),
            Some(left) => {
                let len = left.min(buf.len());
                &mut buf[..len]
            }
            None => buf,
        };
        let n = self.inner.read(buf)?;
        if let Some(left) = &mut self.left {
            *left -= n;
        }
        self.read.fetch_add(n, Ordering::Relaxed);
        Ok(n)
    }
}

impl Maildrop for Probe {
    type Message = ProbeReader;

    fn lock(&mut self) -> Result<Vec<MessageInfo>, MaildropError> {
        self.inner.lock()
    }

    fn open(&mut self, message: MessageNumber) -> Result<ProbeReader, MaildropError> {
        Ok(ProbeReader {
            inner: self.inner.open(message)?,
            left: self.fail_after,
            read: self.read.clone(),
        })
    }

    fn commit(
        &mut self,
        deleted: &[MessageNumber],
        retrieved: &[MessageNumber],
    ) -> Result<(), MaildropError> {
        self.inner.commit(deleted, retrieved)
    }

    fn release(&mut self) {
        self.inner.release()
    }
}

/// Drives `session` with `store` until neither moves; returns the output.
fn pump<M: Maildrop>(
    session: &mut ServerSession,
    store: &mut MaildropServer<M>,
    events: &mut Vec<Seen>,
) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let mut progressed = false;
        while let Some(event) = store.poll_event(session) {
            progressed = true;
            events.push(Seen::of(&event));
        }
        while let Some(bytes) = store.poll_transmit(session) {
            progressed = true;
            out.extend_from_slice(&bytes);
        }
        if !progressed {
            return out;
        }
    }
}

#[test]
fn maildrop_server_serves_a_whole_session_over_memory_maildrop() {
    let big = message_of_size("big", 20_000);
    let small = b"Subject: small\n\n.dot\nend".to_vec();
    let maildrop = maildrop_with(&[&big, &small, b"third\r\n"]);
    let mut session = ServerSession::new(ServerConfig {
        allow_plaintext_auth: true,
        transmit_chunk: 1000,
        ..ServerConfig::default()
    });
    let mut store = MaildropServer::new();
    let mut events = Vec::new();
    let greeting = pump(&mut session, &mut store, &mut events);
    assert_eq!(show(&greeting), "+OK POP3 server ready\r\n");

    session.receive(b"USER alice\r\nPASS secret\r\n");
    let Some(ServerEvent::Login(login)) = store.poll_event(&mut session) else {
        panic!("the login is the application's")
    };
    assert_eq!(login.user(), b"alice");
    store.accept_login(&mut session, login, maildrop.clone()).unwrap();
    assert!(maildrop.is_locked() && store.is_locked());
    let small_size = normalise(&small).len();
    assert_eq!(
        show(&pump(&mut session, &mut store, &mut events)),
        format!(
            "+OK Send PASS\r\n+OK maildrop has 3 messages ({} octets)\r\n",
            20_000 + small_size + 7
        )
    );

    session.receive(b"LIST\r\nRETR 1\r\nTOP 2 1\r\nRETR 2\r\nDELE 1\r\nDELE 3\r\nUIDL\r\nQUIT\r\n");
    let out = show(&pump(&mut session, &mut store, &mut events));
    let expected = format!(
        "+OK maildrop has 3 messages ({total} octets)\r\n1 20000\r\n2 {small_size}\r\n3 7\r\n.\r\n\
         +OK 20000 octets\r\n{big}.\r\n\
         +OK\r\nSubject: small\r\n\r\n..dot\r\n.\r\n\
         +OK {small_size} octets\r\nSubject: small\r\n\r\n..dot\r\nend\r\n.\r\n\
         +OK message 1 deleted\r\n+OK message 3 deleted\r\n+OK\r\n2 id2\r\n.\r\n\
         +OK POP3 server signing off (1 message left)\r\n",
        total = 20_000 + small_size + 7,
        big = show(&stuffed(&big)),
    );
    assert!(out == expected, "{out}");
    // The store answered the Commit itself.
    assert_eq!(events, [Seen::Closed { committed: true }]);
    assert!(session.is_closed());
    assert_eq!(maildrop.messages(), vec![Arc::<[u8]>::from(small)]);
    assert!(!maildrop.is_locked() && !store.is_locked());
}

#[test]
fn maildrop_server_maps_lock_failures_to_login_rejections() {
    let maildrop = maildrop_with(&[b"x\r\n"]);
    let mut holder = maildrop.clone();
    holder.lock().unwrap();
    let mut session = ServerSession::new(rfc1939_config());
    let mut store = MaildropServer::new();
    session.receive(b"USER mrose\r\nPASS secret\r\n");
    let Some(ServerEvent::Login(login)) = store.poll_event(&mut session) else {
        panic!()
    };
    store.accept_login(&mut session, login, maildrop.clone()).unwrap();
    assert!(!session.is_authenticated() && !store.is_locked());
    let out = show(&pump(&mut session, &mut store, &mut Vec::new()));
    assert!(
        out.ends_with("-ERR [IN-USE] Maildrop already locked\r\n"),
        "{out}"
    );
    holder.release();
}

#[test]
fn maildrop_server_reads_no_further_than_top_needs() {
    let big = message_of_size("big", 200_000);
    let probe = Probe::new(&maildrop_with(&[&big]), None);
    let mut server = logged_in(
        ServerConfig {
            transmit_chunk: 4096,
            ..rfc1939_config()
        },
        &probe,
    );
    let out = server.exchange("TOP 1 2\r\n");
    assert_eq!(
        out,
        show(&[b"+OK\r\n".to_vec(), stuffed_top(&big, 2), b".\r\n".to_vec()].concat())
    );
    assert_eq!(probe.read.load(Ordering::Relaxed), 4096, "one chunk read");
}

#[test]
fn maildrop_server_read_failures() {
    // Before the first byte: -ERR, and the session goes on.
    let maildrop = maildrop_with(&[b"Subject: x\r\n\r\nbody\r\n"]);
    let mut server = logged_in(rfc1939_config(), &Probe::new(&maildrop, Some(0)));
    assert_eq!(
        server.exchange("RETR 1\r\nSTAT\r\n"),
        "-ERR [SYS/TEMP] Temporary failure, try later\r\n+OK 1 20\r\n"
    );

    // Half-way: the connection ends without terminator; nothing deleted,
    // the lock released.
    let big = message_of_size("big", 10_000);
    let maildrop = maildrop_with(&[&big, b"x\r\n"]);
    let config = ServerConfig {
        transmit_chunk: 1000,
        ..rfc1939_config()
    };
    let mut server = logged_in(config, &Probe::new(&maildrop, Some(2500)));
    let out = server.exchange("DELE 2\r\nRETR 1\r\nQUIT\r\n");
    assert_eq!(
        out,
        format!(
            "+OK message 2 deleted\r\n+OK 10000 octets\r\n{}",
            show(&big[..2500])
        )
    );
    assert!(server.session.is_closed());
    assert_eq!(server.closed_events(), [&Seen::Closed { committed: false }]);
    assert_eq!(maildrop.messages().len(), 2);
    assert!(!maildrop.is_locked());
}

// ---------------------------------------------------------------------------
// The client's response timeout
// ---------------------------------------------------------------------------

fn client(timeout: Option<Duration>) -> ClientSession {
    ClientSession::new(ClientConfig {
        response_timeout: timeout,
        ..ClientConfig::default()
    })
}

fn events(client: &mut ClientSession) -> Vec<ClientEvent> {
    std::iter::from_fn(|| client.poll_event()).collect()
}

#[test]
fn client_without_a_response_timeout_waits_forever() {
    let mut c = client(None);
    let start = Instant::now();
    c.handle_timeout(start);
    assert_eq!(c.poll_timeout(), None);
    c.handle_timeout(start + 1000 * TEN_MINUTES);
    assert_eq!(c.state(), ClientState::Greeting);
}

#[test]
fn client_gives_up_on_a_missing_greeting() {
    let mut c = client(Some(30 * SECOND));
    let start = Instant::now();
    c.handle_timeout(start);
    let stat = c.send(Command::Stat);
    assert_eq!(c.poll_timeout(), Some(start + 30 * SECOND));
    c.handle_timeout(start + 29 * SECOND);
    assert!(events(&mut c).is_empty());
    c.handle_timeout(start + 30 * SECOND);
    assert_eq!(
        events(&mut c),
        [ClientEvent::Timeout {
            unanswered: vec![stat]
        }]
    );
    assert_eq!(c.state(), ClientState::Closed);
    assert_eq!(c.poll_timeout(), None);
    assert!(c.poll_transmit().is_none());
}

#[test]
fn client_times_out_sent_and_queued_commands_in_order() {
    let mut c = client(Some(30 * SECOND));
    let start = Instant::now();
    c.handle_timeout(start);
    c.receive(b"+OK ready\r\n");
    c.handle_timeout(start);
    // Idle in AUTHORIZATION with nothing asked: no timer.
    assert!(c.poll_transmit().is_none());
    assert_eq!(c.poll_timeout(), None);
    let ids = [
        c.send(Command::Stat),
        c.send(Command::Noop),
        c.send(Command::Quit),
    ];
    assert_eq!(&c.poll_transmit().unwrap()[..], b"STAT\r\n");
    let sent_at = start + 100 * SECOND;
    c.handle_timeout(sent_at);
    assert_eq!(c.poll_timeout(), Some(sent_at + 30 * SECOND));
    c.handle_timeout(sent_at + 30 * SECOND);
    let got = events(&mut c);
    assert!(matches!(got[0], ClientEvent::Greeting(_)));
    assert_eq!(
        got[1..],
        [ClientEvent::Timeout {
            unanswered: ids.to_vec()
        }]
    );
    assert_eq!(c.state(), ClientState::Closed);
}

#[test]
fn client_counts_an_answer_received_but_not_yet_polled() {
    let mut c = client(Some(30 * SECOND));
    let start = Instant::now();
    c.handle_timeout(start);
    c.receive(b"+OK ready\r\n");
    let stat = c.send(Command::Stat);
    c.poll_transmit();
    c.handle_timeout(start);
    c.receive(b"+OK 1 3\r\n");
    c.handle_timeout(start);
    // The application takes its time before polling the events.
    c.handle_timeout(start + TEN_MINUTES);
    assert!(
        events(&mut c)
            .iter()
            .any(|e| matches!(e, ClientEvent::Response { id, .. } if *id == stat))
    );
    assert_eq!(c.state(), ClientState::Authorization);
    assert_eq!(c.poll_timeout(), None);
}

#[test]
fn client_download_that_keeps_moving_does_not_time_out() {
    let mut c = client(Some(30 * SECOND));
    let start = Instant::now();
    c.handle_timeout(start);
    c.receive(b"+OK ready\r\n");
    let retr = c.send(Command::Retr(MessageNumber::FIRST));
    c.poll_transmit();
    c.handle_timeout(start);
    c.receive(b"+OK 1000 octets\r\n");
    // A piece every 20 seconds: never 30 seconds of silence.
    let mut now = start;
    for _ in 0..10 {
        now += 20 * SECOND;
        c.handle_timeout(now);
        c.receive(b"line\r\n");
        c.handle_timeout(now);
        events(&mut c);
    }
    assert_eq!(c.state(), ClientState::Authorization);
    assert_eq!(c.poll_timeout(), Some(now + 30 * SECOND));
    // Then the server stalls in the middle of the body.
    c.handle_timeout(now + 30 * SECOND);
    assert_eq!(
        events(&mut c),
        [ClientEvent::Timeout {
            unanswered: vec![retr]
        }]
    );
}

#[test]
fn client_runs_no_timer_while_the_application_answers_a_challenge() {
    let mut c = client(Some(30 * SECOND));
    let start = Instant::now();
    c.handle_timeout(start);
    c.receive(b"+OK ready\r\n");
    let auth = c.authenticate(Mechanism::new("CRAM-MD5").unwrap(), None);
    c.poll_transmit();
    c.handle_timeout(start);
    assert!(c.poll_timeout().is_some());
    c.receive(b"+ PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n");
    c.handle_timeout(start);
    assert!(
        events(&mut c)
            .iter()
            .any(|e| matches!(e, ClientEvent::Challenge { id, .. } if *id == auth))
    );
    assert_eq!(c.poll_timeout(), None);
    c.handle_timeout(start + TEN_MINUTES);
    assert_ne!(c.state(), ClientState::Closed);
    c.sasl_respond(b"tim b913a602c7eda7a495b4e6e7334d3890");
    c.poll_transmit();
    let later = start + TEN_MINUTES + SECOND;
    c.handle_timeout(later);
    assert_eq!(c.poll_timeout(), Some(later + 30 * SECOND));
}

//! The IMAP server session: states, login, literals, IDLE, timers and
//! switch points, driven with no I/O.

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use mailwire_imap::server::{
    AnswerError, AuthStep, CloseReason, CommandRequest, Credentials, Greeting, LiteralRefusal,
    LoginRejection, MailboxSnapshot, NonSyncLiterals, ServerConfig, ServerEvent, ServerSession, Tls,
};
use mailwire_imap::{Capability, MessageDataItem, RespText, Response, Status};

fn plaintext() -> ServerConfig {
    ServerConfig {
        allow_plaintext_login: true,
        ..ServerConfig::default()
    }
}

/// Everything the session has to send, as text.
fn sent(session: &mut ServerSession) -> String {
    let mut out = Vec::new();
    while let Some(bytes) = session.poll_transmit() {
        out.extend_from_slice(&bytes);
    }
    String::from_utf8(out).expect("the session writes UTF-8 here")
}

fn events(session: &mut ServerSession) -> Vec<ServerEvent> {
    std::iter::from_fn(|| session.poll_event()).collect()
}

/// A session past its greeting, logged in as alice.
fn logged_in(config: ServerConfig) -> ServerSession {
    let mut s = ServerSession::new(config);
    sent(&mut s);
    s.receive(b"l1 LOGIN alice secret\r\n");
    let Some(ServerEvent::Authenticate(login)) = s.poll_event() else {
        panic!("no login event")
    };
    s.accept_login(login).unwrap();
    assert!(sent(&mut s).starts_with("l1 OK [CAPABILITY "));
    s
}

fn uid(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap()
}

/// Opens an empty mailbox for SELECT and EXAMINE.
fn open_if_select(session: &mut ServerSession, request: &CommandRequest) {
    if matches!(request.command().body.name(), "SELECT" | "EXAMINE") {
        let snapshot = MailboxSnapshot::new(uid(1), uid(1), Vec::new());
        session.open_mailbox(request, snapshot).unwrap();
    }
}

/// Answers every command with OK and every literal with a continuation.
fn answer_all(session: &mut ServerSession) -> Vec<String> {
    let mut names = Vec::new();
    while let Some(event) = session.poll_event() {
        match event {
            ServerEvent::Command(request) => {
                names.push(request.command().body.name().to_owned());
                open_if_select(session, &request);
                session
                    .complete(request, Status::Ok, RespText::text("done"))
                    .unwrap();
            }
            ServerEvent::Literal(request) => session.accept_literal(request).unwrap(),
            ServerEvent::Authenticate(request) => session.accept_login(request).unwrap(),
            _ => {}
        }
    }
    names
}

#[test]
fn the_greeting_announces_what_the_state_allows() {
    let mut s = ServerSession::new(ServerConfig {
        tls: Tls::Available,
        ..ServerConfig::default()
    });
    let greeting = sent(&mut s);
    assert_eq!(
        greeting,
        "* OK [CAPABILITY IMAP4rev1 IMAP4rev2 STARTTLS LOGINDISABLED SASL-IR LITERAL+ ENABLE IDLE] IMAP server ready\r\n"
    );

    let mut s = ServerSession::new(ServerConfig {
        tls: Tls::Active,
        sasl_mechanisms: vec!["SCRAM-SHA-256".into()],
        ..ServerConfig::default()
    });
    assert!(sent(&mut s).contains(" AUTH=PLAIN AUTH=SCRAM-SHA-256 SASL-IR "));

    let mut s = ServerSession::new(ServerConfig {
        greeting: Greeting::Bye("Too many connections".into()),
        ..ServerConfig::default()
    });
    assert_eq!(sent(&mut s), "* BYE Too many connections\r\n");
    assert!(matches!(
        events(&mut s)[..],
        [ServerEvent::Closed(CloseReason::Refused)]
    ));
    assert!(s.is_closed());
}

#[test]
fn preauth_starts_authenticated_with_the_full_capability_list() {
    let mut s = ServerSession::new(ServerConfig {
        greeting: Greeting::PreAuth {
            text: "Logged in as alice".into(),
        },
        capabilities: vec![Capability::Sort, Capability::CondStore],
        ..ServerConfig::default()
    });
    let greeting = sent(&mut s);
    assert!(
        greeting
            .starts_with("* PREAUTH [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ ENABLE IDLE SORT CONDSTORE]")
    );
    assert!(s.is_authenticated());
    s.receive(b"a LOGIN bob pw\r\n");
    assert_eq!(sent(&mut s), "a BAD Already authenticated\r\n");
}

#[test]
fn commands_outside_their_state_are_refused_without_reaching_the_application() {
    let mut s = ServerSession::new(plaintext());
    sent(&mut s);
    s.receive(b"a1 SELECT INBOX\r\na2 FETCH 1 FLAGS\r\na3 NOOP\r\na4 CAPABILITY\r\n");
    assert_eq!(
        sent(&mut s),
        "a1 BAD Log in first\r\na2 BAD Log in first\r\na3 OK NOOP completed\r\n\
         * CAPABILITY IMAP4rev1 IMAP4rev2 AUTH=PLAIN SASL-IR LITERAL+ ENABLE IDLE\r\na4 OK CAPABILITY completed\r\n"
    );
    assert!(events(&mut s).is_empty());

    let mut s = logged_in(plaintext());
    s.receive(b"b1 FETCH 1 FLAGS\r\nb2 SORT (DATE) UTF-8 ALL\r\nb3 LIST \"\" *\r\n");
    let out = sent(&mut s);
    assert_eq!(
        out,
        "b1 BAD No mailbox selected\r\nb2 BAD No mailbox selected\r\n"
    );
    let [ServerEvent::Command(list)] = &events(&mut s)[..] else {
        panic!("LIST reaches the application")
    };
    assert_eq!(list.tag().as_str(), "b3");
}

#[test]
fn commands_of_extensions_not_offered_are_unknown() {
    let mut s = logged_in(plaintext());
    s.receive(b"a SELECT INBOX\r\n");
    answer_all(&mut s);
    assert!(sent(&mut s).ends_with("a OK done\r\n"));
    s.receive(b"b SORT (DATE) UTF-8 ALL\r\nc GETQUOTAROOT INBOX\r\nd THREAD REFS UTF-8 ALL\r\n");
    assert_eq!(
        sent(&mut s),
        "b BAD Unknown command SORT\r\nc BAD Unknown command GETQUOTAROOT\r\nd BAD Unknown command THREAD\r\n"
    );

    let mut s = logged_in(ServerConfig {
        capabilities: vec![Capability::Sort],
        ..plaintext()
    });
    s.receive(b"a SELECT INBOX\r\nb SORT (DATE) UTF-8 ALL\r\n");
    assert_eq!(answer_all(&mut s), ["SELECT", "SORT"]);
}

#[test]
fn select_examine_close_and_a_failed_select_change_the_state() {
    let mut s = logged_in(plaintext());
    s.receive(b"a EXAMINE INBOX\r\n");
    answer_all(&mut s);
    assert!(sent(&mut s).ends_with("a OK done\r\n"));
    assert_eq!(s.selected(), Some(true));
    s.receive(b"b SELECT Drafts\r\n");
    let Some(ServerEvent::Command(select)) = s.poll_event() else {
        panic!()
    };
    // The old mailbox closed before the new one is asked for.
    assert_eq!(sent(&mut s), "* OK [CLOSED] Previous mailbox closed\r\n");
    assert_eq!(s.selected(), None);
    s.complete(select, Status::No, RespText::text("No such mailbox"))
        .unwrap();
    assert_eq!(s.selected(), None);
    s.receive(b"c SELECT INBOX\r\nd CLOSE\r\n");
    let Some(ServerEvent::Command(select)) = s.poll_event() else {
        panic!()
    };
    s.open_mailbox(
        &select,
        MailboxSnapshot::new(uid(7), uid(4), vec![uid(1), uid(2), uid(3)]),
    )
    .unwrap();
    s.complete(
        select,
        Status::Ok,
        RespText {
            code: Some(mailwire_imap::Code::ReadWrite),
            text: "SELECT completed".into(),
        },
    )
    .unwrap();
    assert_eq!(s.selected(), Some(false));
    answer_all(&mut s);
    assert_eq!(s.selected(), None);
    assert_eq!(
        sent(&mut s),
        "b NO No such mailbox\r\n* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n* 3 EXISTS\r\n* 0 RECENT\r\n\
         * OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted\r\n\
         * OK [UIDVALIDITY 7] UIDs valid\r\n* OK [UIDNEXT 4] Predicted next UID\r\n\
         c OK [READ-WRITE] SELECT completed\r\nd OK done\r\n"
    );
}

#[test]
fn nothing_more_is_read_until_the_pending_request_is_answered() {
    let mut s = logged_in(plaintext());
    s.receive(b"a CREATE x\r\nb DELETE x\r\nc LOGOUT\r\n");
    let Some(ServerEvent::Command(create)) = s.poll_event() else {
        panic!()
    };
    assert!(s.poll_event().is_none());
    assert_eq!(sent(&mut s), "");
    s.complete(create, Status::Ok, RespText::text("CREATE completed"))
        .unwrap();
    let Some(ServerEvent::Command(delete)) = s.poll_event() else {
        panic!()
    };
    assert_eq!(delete.tag().as_str(), "b");
    s.complete(delete, Status::No, RespText::text("no")).unwrap();
    assert_eq!(
        sent(&mut s),
        "a OK CREATE completed\r\nb NO no\r\n* BYE Logging out\r\nc OK LOGOUT completed\r\n"
    );
    assert!(matches!(
        events(&mut s)[..],
        [ServerEvent::Closed(CloseReason::Logout)]
    ));
}

#[test]
fn handles_answer_once_and_only_as_their_request_allows() {
    let mut s = logged_in(plaintext());
    s.receive(b"a LIST \"\" *\r\n");
    let Some(ServerEvent::Command(list)) = s.poll_event() else {
        panic!()
    };
    let tagged = Response::Status {
        tag: Some(mailwire_imap::Tag::new("a").unwrap()),
        status: Status::Ok,
        text: RespText::text("early"),
    };
    assert_eq!(s.respond(&list, &tagged), Err(AnswerError::NotAllowed));
    assert_eq!(
        s.respond(&list, &Response::Continue(RespText::text("go"))),
        Err(AnswerError::NotAllowed)
    );
    assert_eq!(
        s.complete(list, Status::PreAuth, RespText::text("x"))
            .map_err(|e| e.to_string()),
        Err("this answer is not allowed here".into())
    );

    // A handle from another session.
    let mut other = logged_in(plaintext());
    other.receive(b"z LIST \"\" *\r\n");
    let Some(ServerEvent::Command(foreign)) = other.poll_event() else {
        panic!()
    };
    let mut s = logged_in(plaintext());
    s.receive(b"y NAMESPACE\r\n");
    let Some(ServerEvent::Command(mine)) = s.poll_event() else {
        panic!()
    };
    assert_eq!(
        s.complete(foreign, Status::Ok, RespText::text("ok")),
        Err(AnswerError::NotPending)
    );
    s.complete(mine, Status::Ok, RespText::text("ok")).unwrap();

    // A login answered as a SASL exchange it is not.
    let mut s = ServerSession::new(plaintext());
    s.receive(b"a LOGIN alice pw\r\n");
    let Some(ServerEvent::Authenticate(login)) = s.poll_event() else {
        panic!()
    };
    assert_eq!(s.sasl_challenge(login, b"x"), Err(AnswerError::NotAllowed));
}

#[test]
fn login_is_refused_in_cleartext_unless_allowed() {
    let mut s = ServerSession::new(ServerConfig::default());
    sent(&mut s);
    s.receive(b"a LOGIN alice secret\r\nb AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\n");
    assert_eq!(
        sent(&mut s),
        "a NO [PRIVACYREQUIRED] LOGIN is disabled until TLS is active\r\n\
         b NO [PRIVACYREQUIRED] Plaintext authentication is disabled until TLS is active\r\n"
    );
    assert!(events(&mut s).is_empty());
}

#[test]
fn starttls_discards_what_was_sent_with_it_and_changes_the_capabilities() {
    let mut s = ServerSession::new(ServerConfig {
        tls: Tls::Available,
        ..ServerConfig::default()
    });
    sent(&mut s);
    // An attacker's injected LOGIN rides after STARTTLS in the same packet.
    s.receive(b"a STARTTLS\r\nb LOGIN mallory pw\r\n");
    assert_eq!(sent(&mut s), "a OK Begin TLS negotiation now\r\n");
    assert!(matches!(events(&mut s)[..], [ServerEvent::StartTls]));
    assert!(!s.wants_input());
    s.receive(b"c LOGIN mallory pw\r\n");
    s.tls_established();
    assert_eq!(s.tls(), Tls::Active);
    assert!(events(&mut s).is_empty());
    s.receive(b"d CAPABILITY\r\ne STARTTLS\r\nf LOGIN alice pw\r\n");
    let out = sent(&mut s);
    assert!(out.starts_with("* CAPABILITY IMAP4rev1 IMAP4rev2 AUTH=PLAIN SASL-IR LITERAL+ ENABLE IDLE\r\n"));
    assert!(out.ends_with("e BAD STARTTLS not available\r\n"));
    let [ServerEvent::Authenticate(login)] = &events(&mut s)[..] else {
        panic!()
    };
    assert_eq!(login.tag().as_str(), "f");
}

fn plain(authzid: &str, authcid: &str, password: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(format!("{authzid}\0{authcid}\0{password}"))
}

#[test]
fn authenticate_plain_with_and_without_an_initial_response() {
    let mut s = ServerSession::new(plaintext());
    sent(&mut s);
    s.receive(format!("a AUTHENTICATE PLAIN {}\r\n", plain("", "alice", "secret")).as_bytes());
    let Some(ServerEvent::Authenticate(request)) = s.poll_event() else {
        panic!()
    };
    let Some(Credentials::Plain { authzid, authcid, .. }) = request.credentials() else {
        panic!()
    };
    assert_eq!(
        (authzid.as_slice(), authcid.as_slice()),
        (&b""[..], &b"alice"[..])
    );
    assert_eq!(request.credentials().unwrap().password(), b"secret");
    // Debug output never shows the password.
    assert!(!format!("{request:?}").contains("secret"));
    s.reject_login(request, LoginRejection::AuthenticationFailed)
        .unwrap();
    assert_eq!(
        sent(&mut s),
        "a NO [AUTHENTICATIONFAILED] Authentication failed\r\n"
    );

    s.receive(b"b AUTHENTICATE plain\r\n");
    assert_eq!(sent(&mut s), "+ \r\n");
    s.receive(format!("{}\r\n", plain("admin", "alice", "pw")).as_bytes());
    let Some(ServerEvent::Authenticate(request)) = s.poll_event() else {
        panic!()
    };
    assert_eq!(request.credentials().unwrap().user(), b"admin");
    s.accept_login(request).unwrap();
    assert!(
        sent(&mut s).starts_with("b OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ ENABLE IDLE] Logged in\r\n")
    );
    assert!(s.is_authenticated());
}

#[test]
fn authenticate_is_cancelled_with_a_star_and_bad_data_is_refused() {
    let mut s = ServerSession::new(plaintext());
    sent(&mut s);
    s.receive(
        b"a AUTHENTICATE PLAIN\r\n*\r\nb AUTHENTICATE PLAIN\r\n%%%\r\nc AUTHENTICATE PLAIN YWxpY2U=\r\n",
    );
    assert_eq!(
        sent(&mut s),
        "+ \r\na BAD Authentication cancelled\r\n+ \r\nb BAD Invalid authentication data: syntax error at offset 0: \
         expected base64, found '%'\r\nc BAD Malformed PLAIN message\r\n"
    );
    s.receive(b"d AUTHENTICATE CRAM-MD5\r\n");
    assert_eq!(
        sent(&mut s),
        "d NO [CANNOT] Unsupported authentication mechanism\r\n"
    );
    assert!(events(&mut s).is_empty());
}

#[test]
fn other_sasl_mechanisms_run_in_the_application() {
    let mut s = ServerSession::new(ServerConfig {
        sasl_mechanisms: vec!["X-TOKEN".into()],
        ..ServerConfig::default()
    });
    sent(&mut s);
    s.receive(b"a AUTHENTICATE x-token\r\n");
    let Some(ServerEvent::Authenticate(request)) = s.poll_event() else {
        panic!()
    };
    let AuthStep::Sasl { mechanism, response } = request.step() else {
        panic!()
    };
    assert_eq!((mechanism.as_str(), response.is_none()), ("X-TOKEN", true));
    s.sasl_challenge(request, b"nonce").unwrap();
    assert_eq!(sent(&mut s), "+ bm9uY2U=\r\n");
    s.receive(b"YW5zd2Vy\r\n");
    let Some(ServerEvent::Authenticate(request)) = s.poll_event() else {
        panic!()
    };
    let AuthStep::Sasl {
        response: Some(answer),
        ..
    } = request.step()
    else {
        panic!()
    };
    assert_eq!(answer.expose(), b"answer");
    s.accept_login(request).unwrap();
    assert!(sent(&mut s).starts_with("a OK [CAPABILITY"));
}

#[test]
fn a_synchronizing_literal_waits_for_the_application() {
    let mut s = logged_in(plaintext());
    s.receive(b"a CREATE {5}\r\n");
    let Some(ServerEvent::Literal(literal)) = s.poll_event() else {
        panic!()
    };
    assert_eq!(
        (
            literal.tag().unwrap().as_str(),
            literal.command(),
            literal.length()
        ),
        ("a", Some("CREATE"), 5)
    );
    // No continuation request before the application agrees.
    assert_eq!(sent(&mut s), "");
    s.accept_literal(literal).unwrap();
    assert_eq!(sent(&mut s), "+ Ready for literal data\r\n");
    s.receive(b"hello\r\n");
    let Some(ServerEvent::Command(create)) = s.poll_event() else {
        panic!()
    };
    assert_eq!(create.command().body.name(), "CREATE");

    // Refused: the client never sends the data; the next line is a command.
    s.complete(create, Status::Ok, RespText::text("done")).unwrap();
    s.receive(b"b CREATE {99999}\r\nc NOOP\r\n");
    let Some(ServerEvent::Literal(literal)) = s.poll_event() else {
        panic!()
    };
    s.refuse_literal(literal, LiteralRefusal::TooBig("Message too large".into()))
        .unwrap();
    assert_eq!(
        sent(&mut s),
        "a OK done\r\nb NO [TOOBIG] Message too large\r\nc OK NOOP completed\r\n"
    );

    // The application's text stays on its line: CR, LF and NUL become
    // spaces, anything else passes as it is.
    s.receive(b"d CREATE {99999}\r\n");
    let Some(ServerEvent::Literal(literal)) = s.poll_event() else {
        panic!()
    };
    s.refuse_literal(
        literal,
        LiteralRefusal::TooBig("too\r\nlarge\0 \u{e9}t\u{e9}".into()),
    )
    .unwrap();
    assert_eq!(sent(&mut s), "d NO [TOOBIG] too  large  \u{e9}t\u{e9}\r\n");
}

#[test]
fn literals_over_the_limit_are_refused_by_the_session() {
    let mut config = plaintext();
    config.decoder.limits.literal = 1000;
    let mut s = logged_in(config);
    s.receive(b"a CREATE {4294967295}\r\nb NOOP\r\n");
    assert_eq!(
        sent(&mut s),
        "a NO [TOOBIG] Literal too large\r\nb OK NOOP completed\r\n"
    );
    // Non-synchronizing: refused, and its data read and thrown away.
    s.receive(b"c CREATE {2000+}\r\n");
    s.receive(&[b'x'; 2000]);
    s.receive(b"\r\nd NOOP\r\n");
    assert_eq!(
        sent(&mut s),
        "c NO [TOOBIG] Literal too large\r\nd OK NOOP completed\r\n"
    );
    assert!(events(&mut s).is_empty());
}

/// With an APPENDLIMIT the decoder's whole-command limit is raised for
/// APPEND; every other command keeps the configured one: many small
/// literals that add up past it are refused as they are announced, so a
/// command of a million tiny literals is never buffered.
#[test]
fn literals_adding_up_past_the_command_limit_are_refused() {
    let mut config = plaintext();
    config.decoder.limits.literal = 100;
    config.decoder.limits.command_message = 1000;
    config.append_limit = Some(100_000);
    let mut s = logged_in(config);
    s.receive(b"s SELECT INBOX\r\n");
    assert_eq!(answer_all(&mut s), ["SELECT"]);
    let _ = sent(&mut s);
    let mut search = b"a SEARCH".to_vec();
    for _ in 0..30 {
        search.extend_from_slice(b" SUBJECT {50+}\r\n");
        search.extend_from_slice(&[b'x'; 50]);
    }
    search.extend_from_slice(b"\r\nb NOOP\r\n");
    s.receive(&search);
    // Only the NOOP reaches the application.
    assert_eq!(answer_all(&mut s), ["NOOP"]);
    let out = sent(&mut s);
    assert!(out.starts_with("a BAD [TOOBIG] "), "{out}");
    assert!(out.ends_with("\r\nb OK done\r\n"), "{out}");

    // A synchronizing literal that would pass the limit is refused before
    // its data is asked for; APPEND may still be as large as its limit.
    let mut big = b"z SEARCH".to_vec();
    for _ in 0..9 {
        big.extend_from_slice(b" SUBJECT {90+}\r\n");
        big.extend_from_slice(&[b'y'; 90]);
    }
    big.extend_from_slice(b" SUBJECT {90}\r\n");
    s.receive(&big);
    assert!(events(&mut s).is_empty());
    assert!(sent(&mut s).starts_with("z NO [TOOBIG] "));
    s.receive(b"d APPEND INBOX {5000}\r\n");
    let Some(ServerEvent::Append(message)) = s.poll_event() else {
        panic!("a 5000-octet APPEND within the APPENDLIMIT was refused")
    };
    assert_eq!(message.length(), 5000);
}

/// Before login a command holds at most `login_command_limit`, APPEND's
/// included: the APPENDLIMIT, which raises the decoder's limits, is for
/// those who may append. A connection that never logs in cannot make the
/// server hold a message's worth of input.
#[test]
fn before_login_a_command_is_small_whatever_the_appendlimit() {
    let mut config = plaintext();
    config.append_limit = Some(64 << 20);
    let mut s = ServerSession::new(config.clone());
    sent(&mut s);
    s.receive(b"a APPEND INBOX {67000000}\r\n");
    assert!(
        events(&mut s).is_empty(),
        "the literal was offered to the application"
    );
    assert_eq!(sent(&mut s), "a NO [TOOBIG] Literal too large\r\n");
    // Non-synchronizing: refused, its data thrown away as it arrives.
    s.receive(b"b APPEND INBOX {67000000+}\r\n");
    let piece = vec![b'x'; 1 << 20];
    for _ in 0..63 {
        s.receive(&piece);
        assert!(events(&mut s).is_empty());
    }
    s.receive(&piece[..67_000_000 - (63 << 20)]);
    s.receive(b"\r\nc NOOP\r\n");
    assert!(events(&mut s).is_empty());
    assert_eq!(
        sent(&mut s),
        "b BAD [TOOBIG] Non-synchronizing literal too large\r\nc OK NOOP completed\r\n"
    );
    // Literals that add up past the limit, whatever the command.
    s.receive(b"d LOGIN {40000+}\r\n");
    s.receive(&[b'u'; 40000]);
    s.receive(b" {40000}\r\n");
    assert!(events(&mut s).is_empty());
    assert_eq!(sent(&mut s), "d NO [TOOBIG] Literal too large\r\n");
    // Within it, LOGIN takes literals as ever.
    s.receive(b"e LOGIN {5}\r\n");
    let Some(ServerEvent::Literal(literal)) = s.poll_event() else {
        panic!("a small literal before login was refused")
    };
    s.accept_literal(literal).unwrap();
    s.receive(b"alice {6}\r\n");
    let Some(ServerEvent::Literal(literal)) = s.poll_event() else {
        panic!("the password's literal was refused")
    };
    s.accept_literal(literal).unwrap();
    s.receive(b"secret\r\n");
    let Some(ServerEvent::Authenticate(login)) = s.poll_event() else {
        panic!("no login event")
    };
    s.accept_login(login).unwrap();
    // Logged in, APPEND has its APPENDLIMIT.
    sent(&mut s);
    s.receive(b"f APPEND INBOX {67000000}\r\n");
    let Some(ServerEvent::Append(message)) = s.poll_event() else {
        panic!("an APPEND within the APPENDLIMIT was refused after login")
    };
    assert_eq!(message.length(), 67_000_000);
}

#[test]
fn append_limit_admits_messages_larger_than_other_literals() {
    let mut config = plaintext();
    config.decoder.limits.literal = 100;
    config.append_limit = Some(1000);
    let mut s = logged_in(config.clone());
    s.receive(b"a APPEND INBOX {500}\r\n");
    let Some(ServerEvent::Append(message)) = s.poll_event() else {
        panic!()
    };
    assert_eq!((message.length(), message.index()), (500, 0));
    s.accept_append(message).unwrap();
    s.receive(&[b'x'; 500]);
    s.receive(b"\r\nb APPEND INBOX {1001}\r\nc CREATE {500}\r\n");
    let got = events(&mut s);
    let data: usize = got
        .iter()
        .map(|e| match e {
            ServerEvent::AppendData(d) => d.len(),
            _ => 0,
        })
        .sum();
    assert_eq!(data, 500);
    let Some(ServerEvent::AppendComplete(done)) = got.into_iter().last() else {
        panic!()
    };
    s.complete_append(done, Status::Ok, RespText::text("APPEND completed"))
        .unwrap();
    assert_eq!(
        sent(&mut s),
        "+ Ready for literal data\r\na OK APPEND completed\r\nb NO [TOOBIG] Literal too large\r\n\
         c NO [TOOBIG] Literal too large\r\n"
    );
    assert!(s.capabilities().contains(&Capability::AppendLimit(Some(1000))));

    // Not streamed: the command comes whole, its literal within the
    // APPENDLIMIT though larger than other literals.
    config.stream_append = false;
    let mut s = logged_in(config);
    s.receive(b"a APPEND INBOX {500+}\r\n");
    s.receive(&[b'x'; 500]);
    s.receive(b"\r\n");
    assert_eq!(answer_all(&mut s), ["APPEND"]);
}

#[test]
fn literal_minus_refuses_long_non_synchronizing_literals_and_stays_in_step() {
    let mut s = logged_in(ServerConfig {
        non_sync_literals: NonSyncLiterals::Minus,
        ..plaintext()
    });
    assert!(s.capabilities().contains(&Capability::LiteralMinus));
    s.receive(b"a CREATE {4096+}\r\n");
    s.receive(&[b'y'; 4096]);
    s.receive(b"\r\n");
    assert_eq!(answer_all(&mut s), ["CREATE"]);
    s.receive(b"b CREATE {4097+}\r\n");
    // The data arrives in pieces, with a literal-looking line inside.
    s.receive(&[b'z'; 4000]);
    s.receive(b"x {5+}\r\n");
    s.receive(&[b'z'; 89]);
    s.receive(b" {3+}\r\nabc\r\nc NOOP\r\n");
    assert_eq!(
        sent(&mut s),
        "a OK done\r\nb BAD [TOOBIG] Non-synchronizing literal too large\r\nc OK NOOP completed\r\n"
    );
    assert!(events(&mut s).is_empty());
}

#[test]
fn syntax_errors_get_a_tagged_bad_and_the_next_command_is_read() {
    let mut s = logged_in(plaintext());
    s.receive(b"a CREATE\r\nb NOOP\r\n* NOOP\r\n\r\nc NOOP\r\n");
    let out = sent(&mut s);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("a BAD Error in IMAP command: syntax error"),
        "{out}"
    );
    assert_eq!(lines[1], "b OK NOOP completed");
    assert!(lines[2].starts_with("* BAD "), "{out}");
    assert!(lines[3].starts_with("* BAD "), "{out}");
    assert_eq!(lines[4], "c OK NOOP completed");
}

#[test]
fn an_overlong_line_is_refused_and_skipped() {
    let mut s = logged_in(plaintext());
    s.receive(b"a CREATE ");
    for _ in 0..200 {
        s.receive(&[b'x'; 1000]);
    }
    assert!(s.wants_input());
    s.receive(b"\r\nb NOOP\r\n");
    let out = sent(&mut s);
    assert!(
        out.starts_with("a BAD Error in IMAP command: line longer than 65536 bytes"),
        "{out}"
    );
    assert!(out.ends_with("\r\nb OK NOOP completed\r\n"), "{out}");
}

#[test]
fn idle_sends_keepalives_and_keeps_commands_pipelined_after_done() {
    let t0 = Instant::now();
    let mut s = logged_in(ServerConfig {
        idle_keepalive: Duration::from_secs(120),
        ..plaintext()
    });
    s.handle_timeout(t0);
    s.receive(b"a IDLE\r\n");
    s.handle_timeout(t0);
    assert_eq!(sent(&mut s), "+ idling\r\n");
    assert!(matches!(events(&mut s)[..], [ServerEvent::IdleStarted]));
    assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(120)));
    s.handle_timeout(t0 + Duration::from_secs(119));
    assert_eq!(sent(&mut s), "");
    s.handle_timeout(t0 + Duration::from_secs(120));
    assert_eq!(sent(&mut s), "* OK Still here\r\n");
    s.handle_timeout(t0 + Duration::from_secs(240));
    assert_eq!(sent(&mut s), "* OK Still here\r\n");
    s.receive(b"DONE\r\nb NOOP\r\nc LIST \"\" *\r\n");
    assert_eq!(sent(&mut s), "a OK IDLE terminated\r\nb OK NOOP completed\r\n");
    let got = events(&mut s);
    assert!(matches!(
        got[..],
        [ServerEvent::IdleEnded, ServerEvent::Command(_)]
    ));
    // No keep-alive after IDLE.
    s.handle_timeout(t0 + Duration::from_secs(1000));
    assert_eq!(sent(&mut s), "");
}

#[test]
fn idle_ended_by_something_other_than_done_is_a_bad() {
    let mut s = logged_in(plaintext());
    s.receive(b"a IDLE\r\nb NOOP\r\nc NOOP\r\n");
    assert_eq!(
        sent(&mut s),
        "+ idling\r\na BAD Expected DONE\r\nc OK NOOP completed\r\n"
    );
}

#[test]
fn a_connection_that_does_not_log_in_in_time_is_closed() {
    let t0 = Instant::now();
    let mut s = ServerSession::new(ServerConfig {
        login_timeout: Duration::from_secs(60),
        ..plaintext()
    });
    s.handle_timeout(t0);
    assert_eq!(s.poll_timeout(), Some(t0 + Duration::from_secs(60)));
    // Input does not extend the deadline to log in.
    s.receive(b"a NOOP\r\n");
    s.handle_timeout(t0 + Duration::from_secs(59));
    assert!(!s.is_closed());
    s.handle_timeout(t0 + Duration::from_secs(60));
    assert!(s.is_closed());
    assert!(sent(&mut s).ends_with("* BYE Autologout; idle for too long\r\n"));
    assert!(matches!(
        events(&mut s)[..],
        [ServerEvent::Closed(CloseReason::Autologout)]
    ));
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn an_authenticated_connection_is_logged_out_after_thirty_idle_minutes() {
    let t0 = Instant::now();
    let mut s = logged_in(plaintext());
    s.handle_timeout(t0);
    let half = Duration::from_secs(15 * 60);
    s.handle_timeout(t0 + half);
    s.receive(b"a NOOP\r\n");
    s.handle_timeout(t0 + half);
    // Idle time counts from the last input.
    assert_eq!(s.poll_timeout(), Some(t0 + half + Duration::from_secs(30 * 60)));
    s.handle_timeout(t0 + half + Duration::from_secs(30 * 60 - 1));
    assert!(!s.is_closed());
    // A command out with the application does not count as idle.
    s.receive(b"b LIST \"\" *\r\n");
    let Some(ServerEvent::Command(list)) = s.poll_event() else {
        panic!()
    };
    s.handle_timeout(t0 + Duration::from_secs(3 * 3600));
    assert!(!s.is_closed());
    assert_eq!(s.poll_timeout(), None);
    s.complete(list, Status::Ok, RespText::text("done")).unwrap();
    // Idle from the command's end: thirty minutes from then, not from the
    // deadline before it.
    let done = t0 + Duration::from_secs(3 * 3600);
    s.handle_timeout(done);
    assert_eq!(s.poll_timeout(), Some(done + Duration::from_secs(30 * 60)));
    s.handle_timeout(done + Duration::from_secs(30 * 60 - 1));
    assert!(!s.is_closed());
    s.handle_timeout(done + Duration::from_secs(30 * 60));
    assert!(s.is_closed());
}

#[test]
fn enable_reports_only_what_it_newly_turned_on() {
    let mut s = logged_in(ServerConfig {
        capabilities: vec![Capability::QResync, Capability::CondStore],
        ..plaintext()
    });
    s.receive(b"a ENABLE QRESYNC X-UNKNOWN UTF8=ACCEPT\r\nb ENABLE CONDSTORE QRESYNC IMAP4rev2\r\n");
    assert_eq!(
        sent(&mut s),
        "* ENABLED QRESYNC\r\na OK ENABLE completed\r\n* ENABLED IMAP4rev2\r\nb OK ENABLE completed\r\n"
    );
    let enabled = s.enabled();
    assert!(enabled.qresync && enabled.condstore && enabled.imap4rev2 && !enabled.utf8_accept);
    let got = events(&mut s);
    assert!(
        matches!(&got[..], [ServerEvent::Enabled(a), ServerEvent::Enabled(b)]
        if a == &[Capability::QResync] && b == &[Capability::Imap4Rev2])
    );
    // Before login, ENABLE is refused.
    let mut s = ServerSession::new(plaintext());
    sent(&mut s);
    s.receive(b"a ENABLE CONDSTORE\r\n");
    assert_eq!(sent(&mut s), "a BAD Log in first\r\n");
}

#[test]
fn id_is_answered_by_the_session_when_offered() {
    let mut s = ServerSession::new(ServerConfig {
        id: Some(Some(
            mailwire_imap::IdParams::new(vec![
                mailwire_imap::IdParam::from_text("name", Some("mailwire")).unwrap(),
            ])
            .unwrap(),
        )),
        ..plaintext()
    });
    sent(&mut s);
    s.receive(b"a ID (\"name\" \"imaplib\")\r\n");
    assert_eq!(
        sent(&mut s),
        "* ID (\"name\" \"mailwire\")\r\na OK ID completed\r\n"
    );
    let [ServerEvent::ClientId(Some(params))] = &events(&mut s)[..] else {
        panic!()
    };
    assert_eq!(
        params.get("name").and_then(|v| v.as_bytes()),
        Some(&b"imaplib"[..])
    );

    let mut s = ServerSession::new(plaintext());
    sent(&mut s);
    s.receive(b"a ID NIL\r\n");
    assert_eq!(sent(&mut s), "a BAD Unknown command ID\r\n");
}

#[test]
fn compress_hands_back_the_compressed_bytes_that_followed_it() {
    let mut s = logged_in(ServerConfig {
        compress: true,
        ..plaintext()
    });
    assert!(s.capabilities().contains(&Capability::Compress(
        mailwire_imap::Atom::new("DEFLATE").unwrap()
    )));
    s.receive(b"a COMPRESS DEFLATE\r\n\x78\x9c\x01\x02");
    assert_eq!(sent(&mut s), "a OK DEFLATE active\r\n");
    let [ServerEvent::Compress { input }] = &events(&mut s)[..] else {
        panic!()
    };
    assert_eq!(&input[..], b"\x78\x9c\x01\x02");
    s.compression_started();
    s.receive(b"b COMPRESS DEFLATE\r\n");
    assert_eq!(sent(&mut s), "b BAD Compression already active\r\n");
}

#[test]
fn unauthenticate_returns_to_the_not_authenticated_state() {
    let mut s = logged_in(ServerConfig {
        unauthenticate: true,
        capabilities: vec![Capability::CondStore],
        ..plaintext()
    });
    s.receive(b"a ENABLE CONDSTORE\r\nb UNAUTHENTICATE\r\nc LIST \"\" *\r\n");
    let out = sent(&mut s);
    assert!(
        out.ends_with("b OK UNAUTHENTICATE completed\r\nc BAD Log in first\r\n"),
        "{out}"
    );
    assert!(!s.is_authenticated());
    assert_eq!(s.enabled(), Default::default());
    let got = events(&mut s);
    assert!(matches!(
        got[..],
        [ServerEvent::Enabled(_), ServerEvent::Unauthenticated]
    ));
}

/// A snapshot that names a UID twice (a store's bug) opens with EXISTS
/// counting each message once, as the numbers the session gives do.
#[test]
fn exists_counts_a_uid_named_twice_once() {
    let mut s = logged_in(plaintext());
    s.receive(b"s SELECT INBOX\r\n");
    let Some(ServerEvent::Command(select)) = s.poll_event() else {
        panic!("no SELECT")
    };
    let snapshot = MailboxSnapshot::new(uid(1), uid(4), vec![uid(1), uid(2), uid(2), uid(3)]);
    s.open_mailbox(&select, snapshot).unwrap();
    s.complete(select, Status::Ok, RespText::text("done")).unwrap();
    let out = sent(&mut s);
    assert!(out.contains("* 3 EXISTS\r\n"), "{out}");
    s.receive(b"f FETCH 4 FLAGS\r\n");
    assert!(sent(&mut s).starts_with("f BAD"));
}

/// UNAUTHENTICATE closes the selected mailbox: the next login (another
/// user's, maybe) is told nothing of it, neither its changes nor its
/// saved search result. Before, the old mailbox's EXPUNGE and EXISTS
/// reached the next user, and `$` named its messages.
#[test]
fn unauthenticate_closes_the_selected_mailbox() {
    let mut s = logged_in(ServerConfig {
        unauthenticate: true,
        capabilities: vec![Capability::SearchRes],
        ..plaintext()
    });
    s.receive(b"s SELECT INBOX\r\n");
    let Some(ServerEvent::Command(select)) = s.poll_event() else {
        panic!("no SELECT")
    };
    let snapshot = MailboxSnapshot::new(uid(1), uid(4), vec![uid(1), uid(2), uid(3)]);
    s.open_mailbox(&select, snapshot).unwrap();
    s.complete(select, Status::Ok, RespText::text("done")).unwrap();
    s.receive(b"f SEARCH RETURN (SAVE) ALL\r\n");
    let Some(ServerEvent::Command(search)) = s.poll_event() else {
        panic!("no SEARCH")
    };
    s.search_matches(&search, &[uid(1), uid(2), uid(3)], None)
        .unwrap();
    s.complete(search, Status::Ok, RespText::text("done")).unwrap();
    sent(&mut s);
    assert_eq!(s.saved_search(), Some(&[uid(1), uid(2), uid(3)][..]));

    s.receive(b"u UNAUTHENTICATE\r\n");
    assert!(sent(&mut s).ends_with("u OK UNAUTHENTICATE completed\r\n"));
    events(&mut s);
    s.receive(b"l LOGIN bob secret\r\n");
    let Some(ServerEvent::Authenticate(login)) = s.poll_event() else {
        panic!("no login event")
    };
    s.accept_login(login).unwrap();
    sent(&mut s);
    assert_eq!(s.saved_search(), None);
    // Changes of the old mailbox are not for this login.
    s.message_expunged(uid(2));
    s.message_added(uid(4));
    s.receive(b"n NOOP\r\nx FETCH $ FLAGS\r\n");
    let mut out = String::new();
    while let Some(event) = s.poll_event() {
        if let ServerEvent::Command(request) = event {
            assert!(request.messages().is_empty(), "{:?}", request.messages());
            s.complete(request, Status::Ok, RespText::text("done")).unwrap();
        }
        out.push_str(&sent(&mut s));
    }
    out.push_str(&sent(&mut s));
    assert!(!out.contains("EXPUNGE") && !out.contains("EXISTS"), "{out}");
    assert!(out.contains("n OK"), "{out}");
    assert!(out.contains("x BAD"), "{out}");
}

#[test]
fn output_back_pressure_stops_reading_commands() {
    let mut s = ServerSession::new(ServerConfig {
        max_buffered_output: 1000,
        max_buffered_input: 4096,
        ..plaintext()
    });
    sent(&mut s);
    let many = b"a CAPABILITY\r\n".repeat(1000);
    s.receive(&many);
    // The session stopped once its output passed the limit.
    assert!(!s.wants_input());
    let mut total = 0;
    while let Some(bytes) = s.poll_transmit() {
        assert!(bytes.len() < 1000 + 200, "one chunk of {}", bytes.len());
        total += bytes.len();
    }
    assert_eq!(total, 1000 * "* CAPABILITY IMAP4rev1 IMAP4rev2 AUTH=PLAIN SASL-IR LITERAL+ ENABLE IDLE\r\na OK CAPABILITY completed\r\n".len());
    assert!(s.wants_input());
}

#[test]
fn shutdown_says_bye_even_with_a_request_out() {
    let mut s = logged_in(plaintext());
    s.receive(b"a LIST \"\" *\r\n");
    let Some(ServerEvent::Command(list)) = s.poll_event() else {
        panic!()
    };
    s.shutdown("Server shutting down");
    assert_eq!(sent(&mut s), "* BYE Server shutting down\r\n");
    assert_eq!(
        s.complete(list, Status::Ok, RespText::text("late")),
        Err(AnswerError::NotPending)
    );
    assert!(matches!(
        events(&mut s)[..],
        [ServerEvent::Closed(CloseReason::Shutdown)]
    ));
}

/// Feeds `input` split at the given points, answering every request, and
/// returns the output and the event kinds.
fn run_split(input: &[u8], splits: &[usize]) -> (String, Vec<String>) {
    let mut s = ServerSession::new(plaintext());
    let mut log = Vec::new();
    let mut last = 0;
    for &at in splits.iter().chain(std::iter::once(&input.len())) {
        s.receive(&input[last..at]);
        last = at;
        while let Some(event) = s.poll_event() {
            log.push(
                format!("{event:?}")
                    .split(['(', ' ', '{'])
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
            );
            match event {
                ServerEvent::Command(r) => {
                    open_if_select(&mut s, &r);
                    s.complete(r, Status::Ok, RespText::text("done")).unwrap()
                }
                ServerEvent::Literal(r) => s.accept_literal(r).unwrap(),
                ServerEvent::Authenticate(r) => s.accept_login(r).unwrap(),
                _ => {}
            }
        }
    }
    (sent(&mut s), log)
}

#[test]
fn every_split_of_the_input_gives_the_same_session() {
    let input: &[u8] = b"a AUTHENTICATE PLAIN\r\nAGFsaWNlAHNlY3JldA==\r\nb CREATE {3}\r\nabc\r\n\
        c CREATE {2+}\r\nxy\r\nd IDLE\r\nDONE\r\ne BAD-COMMAND\r\nf SELECT INBOX\r\ng FETCH 1 FLAGS\r\nh LOGOUT\r\n";
    let whole = run_split(input, &[]);
    assert!(whole.0.ends_with("h OK LOGOUT completed\r\n"), "{}", whole.0);
    for at in 1..input.len() {
        assert_eq!(run_split(input, &[at]), whole, "split at {at}");
    }
    // Byte by byte.
    let every: Vec<usize> = (1..input.len()).collect();
    assert_eq!(run_split(input, &every), whole);
}

/// A session with INBOX selected, holding UIDs 10, 20, 30, 40.
fn selected(config: ServerConfig, enable: &[u8]) -> ServerSession {
    let mut s = logged_in(config);
    if !enable.is_empty() {
        s.receive(enable);
        sent(&mut s);
        events(&mut s);
    }
    s.receive(b"s SELECT INBOX\r\n");
    let Some(ServerEvent::Command(select)) = s.poll_event() else {
        panic!("no SELECT")
    };
    let uids = vec![uid(10), uid(20), uid(30), uid(40)];
    let mut snapshot = MailboxSnapshot::new(uid(3), uid(41), uids);
    snapshot.highest_modseq = mailwire_imap::ModSeq::new(100).ok();
    s.open_mailbox(&select, snapshot).unwrap();
    s.complete(select, Status::Ok, RespText::text("SELECT completed"))
        .unwrap();
    sent(&mut s);
    s
}

/// The command `line` makes, past the `Enabled` event of a command that
/// turns CONDSTORE on.
fn command(s: &mut ServerSession, line: &[u8]) -> CommandRequest {
    s.receive(line);
    loop {
        match s.poll_event() {
            Some(ServerEvent::Command(request)) => return request,
            Some(ServerEvent::Enabled(_)) => {}
            other => panic!("no command: {other:?} {}", sent(s)),
        }
    }
}

#[test]
fn select_writes_the_rev1_or_rev2_forms_and_condstore_data() {
    let mut s = logged_in(ServerConfig {
        capabilities: vec![Capability::CondStore],
        ..plaintext()
    });
    let select = command(&mut s, b"a SELECT INBOX (CONDSTORE)\r\n");
    let mut snapshot = MailboxSnapshot::new(uid(3857529045), uid(4392), vec![uid(4391)]);
    snapshot.recent = 1;
    snapshot.first_unseen = Some(uid(1));
    snapshot.highest_modseq = mailwire_imap::ModSeq::new(715194045007).ok();
    s.open_mailbox(&select, snapshot.clone()).unwrap();
    s.complete(select, Status::Ok, RespText::text("SELECT completed"))
        .unwrap();
    let out = sent(&mut s);
    assert!(
        out.contains("* 1 EXISTS\r\n* 1 RECENT\r\n* OK [UNSEEN 1] First unseen\r\n"),
        "{out}"
    );
    assert!(
        out.contains("* OK [HIGHESTMODSEQ 715194045007] Highest\r\n"),
        "{out}"
    );
    // SELECT (CONDSTORE) turned CONDSTORE on (RFC 7162 section 3.1).
    assert!(s.enabled().condstore);

    // IMAP4rev2: no RECENT and no UNSEEN; NOMODSEQ after ENABLE CONDSTORE.
    let mut s = logged_in(ServerConfig {
        capabilities: vec![Capability::CondStore],
        ..plaintext()
    });
    s.receive(b"e ENABLE IMAP4rev2 CONDSTORE\r\n");
    sent(&mut s);
    events(&mut s);
    let select = command(&mut s, b"a EXAMINE INBOX\r\n");
    snapshot.highest_modseq = None;
    s.open_mailbox(&select, snapshot).unwrap();
    s.complete(select, Status::Ok, RespText::text("EXAMINE completed"))
        .unwrap();
    let out = sent(&mut s);
    assert!(!out.contains("RECENT") && !out.contains("UNSEEN"), "{out}");
    assert!(
        out.contains("* OK [NOMODSEQ] No permanent modsequences\r\n"),
        "{out}"
    );
    assert_eq!(s.selected(), Some(true));

    // SELECT answered OK without opening a mailbox is refused.
    let select = command(&mut s, b"b SELECT INBOX\r\n");
    assert_eq!(
        s.complete(select, Status::Ok, RespText::text("x")),
        Err(AnswerError::NotAllowed)
    );
}

#[test]
fn sequence_sets_resolve_to_uids_and_numbers_beyond_the_mailbox_are_bad() {
    let mut s = selected(plaintext(), b"");
    let fetch = command(&mut s, b"a FETCH 2:3,* FLAGS\r\n");
    assert_eq!(fetch.messages(), [uid(20), uid(30), uid(40)]);
    s.complete(fetch, Status::Ok, RespText::text("done")).unwrap();
    let fetch = command(&mut s, b"b UID FETCH 15:35,99:* FLAGS\r\n");
    // 99:* is 40:99 when 40 is the largest UID (RFC 9051 section 9).
    assert_eq!(fetch.messages(), [uid(20), uid(30), uid(40)]);
    s.complete(fetch, Status::Ok, RespText::text("done")).unwrap();
    s.receive(b"c FETCH 5 FLAGS\r\nd STORE 1:9 +FLAGS (\\Seen)\r\n");
    let out = sent(&mut s);
    assert!(
        out.ends_with("c BAD Invalid message sequence number\r\nd BAD Invalid message sequence number\r\n"),
        "{out}"
    );
    assert!(events(&mut s).is_empty());
    let expunge = command(&mut s, b"e UID EXPUNGE 1:25\r\n");
    assert_eq!(expunge.messages(), [uid(10), uid(20)]);
}

#[test]
fn fetch_data_carries_the_client_s_numbers_and_the_uid_of_uid_commands() {
    let mut s = selected(plaintext(), b"");
    let fetch = command(&mut s, b"a UID FETCH 30 FLAGS\r\n");
    assert_eq!(
        s.respond(&fetch, &Response::Exists(9)),
        Err(AnswerError::NotAllowed),
        "the session keeps the message numbers"
    );
    let flags = vec![mailwire_imap::FlagFetch::Flag(mailwire_imap::Flag::Seen)];
    s.fetch_data(
        &fetch,
        uid(30),
        vec![mailwire_imap::MessageDataItem::Flags(flags)],
    )
    .unwrap();
    assert_eq!(
        s.fetch_data(&fetch, uid(35), Vec::new()),
        Err(AnswerError::NotAllowed),
        "a UID the client does not know"
    );
    s.complete(fetch, Status::Ok, RespText::text("done")).unwrap();
    assert_eq!(sent(&mut s), "* 3 FETCH (UID 30 FLAGS (\\Seen))\r\na OK done\r\n");
}

#[test]
fn expunges_wait_for_a_command_that_allows_them_and_renumber_the_view() {
    let mut s = selected(plaintext(), b"");
    let fetch = command(&mut s, b"a FETCH 1:* FLAGS\r\n");
    // Another session expunges 20 while this FETCH runs.
    s.message_expunged(uid(20));
    s.message_added(uid(50));
    s.complete(fetch, Status::Ok, RespText::text("done")).unwrap();
    // No EXPUNGE during FETCH; the new message counts the expunged one.
    assert_eq!(sent(&mut s), "* 5 EXISTS\r\na OK done\r\n");
    let fetch = command(&mut s, b"b FETCH 2 FLAGS\r\n");
    assert_eq!(
        fetch.messages(),
        [uid(20)],
        "message 2 is still 20 for the client"
    );
    s.complete(fetch, Status::Ok, RespText::text("done")).unwrap();
    let noop = command(&mut s, b"c NOOP\r\n");
    s.complete(noop, Status::Ok, RespText::text("NOOP completed"))
        .unwrap();
    assert_eq!(
        sent(&mut s),
        "b OK done\r\n* 2 EXPUNGE\r\nc OK NOOP completed\r\n"
    );
    let fetch = command(&mut s, b"d FETCH 2,4 FLAGS\r\n");
    assert_eq!(fetch.messages(), [uid(30), uid(50)]);
    s.complete(fetch, Status::Ok, RespText::text("done")).unwrap();
    // UID commands may carry EXPUNGE (RFC 9051 section 7.5.1).
    let fetch = command(&mut s, b"e UID FETCH 1:* FLAGS\r\n");
    s.message_expunged(uid(10));
    s.message_expunged(uid(50));
    s.complete(fetch, Status::Ok, RespText::text("done")).unwrap();
    assert_eq!(
        sent(&mut s),
        "d OK done\r\n* 1 EXPUNGE\r\n* 3 EXPUNGE\r\ne OK done\r\n"
    );
}

#[test]
fn qresync_turns_expunges_into_vanished_and_condstore_adds_modseq() {
    let config = ServerConfig {
        capabilities: vec![Capability::CondStore, Capability::QResync],
        ..plaintext()
    };
    let mut s = selected(config, b"e ENABLE QRESYNC\r\n");
    let noop = command(&mut s, b"a NOOP\r\n");
    s.message_expunged(uid(20));
    s.message_expunged(uid(30));
    let seen = vec![mailwire_imap::FlagFetch::Flag(mailwire_imap::Flag::Seen)];
    s.flags_changed(uid(40), seen, mailwire_imap::ModSeq::new(105).ok());
    s.message_added(uid(41));
    s.complete(noop, Status::Ok, RespText::text("NOOP completed"))
        .unwrap();
    assert_eq!(
        sent(&mut s),
        "* VANISHED 20,30\r\n* 2 FETCH (UID 40 FLAGS (\\Seen) MODSEQ (105))\r\n* 3 EXISTS\r\na OK NOOP completed\r\n"
    );
}

#[test]
fn the_first_condstore_enabling_command_turns_modseq_on_and_owes_highest_modseq() {
    let config = || ServerConfig {
        capabilities: vec![Capability::CondStore, Capability::Sort],
        ..plaintext()
    };
    let seen = || vec![mailwire_imap::FlagFetch::Flag(mailwire_imap::Flag::Seen)];
    // RFC 7162 section 3.1's list, with a mailbox selected.
    for line in [
        "a FETCH 1 (FLAGS MODSEQ)",
        "a UID FETCH 1:* MODSEQ",
        "a FETCH 1 (FLAGS) (CHANGEDSINCE 5)",
        "a STORE 1 (UNCHANGEDSINCE 5) +FLAGS (\\Seen)",
        "a UID SEARCH NOT OR SEEN (DRAFT MODSEQ 5)",
        "a SORT (DATE) UTF-8 MODSEQ \"/flags/\\\\draft\" all 5",
        "a STATUS INBOX (UIDNEXT HIGHESTMODSEQ)",
    ] {
        let mut s = selected(config(), b"");
        assert!(!s.enabled().condstore, "{line}");
        s.receive(format!("{line}\r\n").as_bytes());
        let mut happened = events(&mut s);
        let Some(ServerEvent::Command(request)) = happened.pop() else {
            panic!("{line}: no command");
        };
        assert!(
            matches!(&happened[..], [ServerEvent::Enabled(what)] if what[..] == [Capability::CondStore]),
            "{line}: {happened:?}"
        );
        assert!(request.owes_highest_modseq(), "{line}");
        assert!(s.enabled().condstore, "{line}");
        // From now on a flag change carries UID and MODSEQ.
        s.flags_changed(uid(40), seen(), mailwire_imap::ModSeq::new(105).ok());
        s.complete(request, Status::Ok, RespText::text("done")).unwrap();
        assert_eq!(
            sent(&mut s),
            "* 4 FETCH (UID 40 FLAGS (\\Seen) MODSEQ (105))\r\na OK done\r\n",
            "{line}"
        );
        // Only the first one owes it.
        let again = command(&mut s, b"b FETCH 1 (MODSEQ)\r\n");
        assert!(!again.owes_highest_modseq(), "{line}");
        assert!(events(&mut s).is_empty(), "{line}");
    }

    // Commands that name no mod-sequence turn nothing on.
    let mut s = selected(config(), b"");
    for line in [
        "a FETCH 1 (FLAGS UID)",
        "a FETCH 1 FULL",
        "a STORE 1 +FLAGS (\\Seen)",
        "a SEARCH OR SEEN (NOT DRAFT)",
        "a SORT (DATE) UTF-8 ALL",
        "a STATUS INBOX (MESSAGES UIDNEXT)",
    ] {
        let request = command(&mut s, format!("{line}\r\n").as_bytes());
        assert!(!request.owes_highest_modseq(), "{line}");
        s.complete(request, Status::Ok, RespText::text("done")).unwrap();
        assert!(!s.enabled().condstore, "{line}");
        assert!(events(&mut s).is_empty(), "{line}");
    }
    s.flags_changed(uid(40), seen(), mailwire_imap::ModSeq::new(105).ok());
    let noop = command(&mut s, b"n NOOP\r\n");
    s.complete(noop, Status::Ok, RespText::text("done")).unwrap();
    assert!(sent(&mut s).ends_with("* 4 FETCH (FLAGS (\\Seen))\r\nn OK done\r\n"));

    // Outside a mailbox, STATUS (HIGHESTMODSEQ) turns it on and owes
    // nothing; the next SELECT's opening reports HIGHESTMODSEQ.
    let mut s = logged_in(config());
    let status = command(&mut s, b"a STATUS INBOX (HIGHESTMODSEQ)\r\n");
    assert!(!status.owes_highest_modseq());
    assert!(s.enabled().condstore);
    s.complete(status, Status::Ok, RespText::text("done")).unwrap();
    let select = command(&mut s, b"b SELECT INBOX\r\n");
    assert!(!select.owes_highest_modseq());
    let mut snapshot = MailboxSnapshot::new(uid(3), uid(41), vec![uid(10)]);
    snapshot.highest_modseq = mailwire_imap::ModSeq::new(100).ok();
    s.open_mailbox(&select, snapshot).unwrap();
    assert!(sent(&mut s).contains("* OK [HIGHESTMODSEQ 100] Highest\r\n"));

    // A SELECT (CONDSTORE) with a mailbox selected closes that one first:
    // the new one's opening carries HIGHESTMODSEQ, nothing more is owed.
    let mut s = selected(config(), b"");
    let select = command(&mut s, b"c SELECT INBOX (CONDSTORE)\r\n");
    assert!(!select.owes_highest_modseq());
    let mut snapshot = MailboxSnapshot::new(uid(3), uid(41), vec![uid(10)]);
    snapshot.highest_modseq = mailwire_imap::ModSeq::new(100).ok();
    s.open_mailbox(&select, snapshot).unwrap();
    assert!(s.enabled().condstore);
    assert!(sent(&mut s).contains("* OK [HIGHESTMODSEQ 100] Highest\r\n"));
    assert!(matches!(&events(&mut s)[..], [ServerEvent::Enabled(_)]));

    // SELECT's QRESYNC parameter without ENABLE QRESYNC is refused (RFC
    // 7162 section 3.2.5), and a refused SELECT changes nothing, though it
    // asks for CONDSTORE too.
    let mut s = logged_in(ServerConfig {
        capabilities: vec![Capability::CondStore, Capability::QResync],
        ..plaintext()
    });
    let select = command(&mut s, b"q SELECT INBOX (CONDSTORE QRESYNC (3 100))\r\n");
    s.complete(select, Status::Bad, RespText::text("QRESYNC is not enabled"))
        .unwrap();
    assert!(!s.enabled().condstore);

    // Where CONDSTORE is not offered, nothing turns it on.
    let mut s = selected(plaintext(), b"");
    let fetch = command(&mut s, b"a FETCH 1 (FLAGS MODSEQ)\r\n");
    assert!(!fetch.owes_highest_modseq());
    assert!(!s.enabled().condstore);
}

/// ENABLE CONDSTORE belongs before SELECT (RFC 5161 section 3.1); sent
/// after it, it is answered as RFC 7162 section 3.1 asks of a first
/// CONDSTORE-enabling command with a mailbox selected: with the highest
/// mod-sequence the client was told of (the opening's, raised by flag
/// changes since), or NOMODSEQ for a mailbox that keeps none.
#[test]
fn enable_condstore_with_a_mailbox_selected_reports_highestmodseq() {
    let config = || ServerConfig {
        capabilities: vec![Capability::CondStore, Capability::QResync],
        ..plaintext()
    };
    let mut s = selected(config(), b"");
    let noop = command(&mut s, b"n NOOP\r\n");
    let seen = vec![mailwire_imap::FlagFetch::Flag(mailwire_imap::Flag::Seen)];
    s.flags_changed(uid(20), seen, mailwire_imap::ModSeq::new(130).ok());
    s.complete(noop, Status::Ok, RespText::text("done")).unwrap();
    sent(&mut s);
    s.receive(b"e ENABLE CONDSTORE\r\n");
    assert_eq!(
        sent(&mut s),
        "* ENABLED CONDSTORE\r\n* OK [HIGHESTMODSEQ 130] Highest\r\ne OK ENABLE completed\r\n"
    );
    // Once only; QRESYNC after it adds nothing.
    s.receive(b"f ENABLE CONDSTORE QRESYNC\r\n");
    assert_eq!(sent(&mut s), "* ENABLED QRESYNC\r\nf OK ENABLE completed\r\n");

    // QRESYNC turns CONDSTORE on too; a mailbox without mod-sequences.
    let mut s = logged_in(config());
    let select = command(&mut s, b"s SELECT INBOX\r\n");
    let snapshot = MailboxSnapshot::new(uid(3), uid(41), vec![uid(10)]);
    s.open_mailbox(&select, snapshot).unwrap();
    s.complete(select, Status::Ok, RespText::text("done")).unwrap();
    sent(&mut s);
    s.receive(b"e ENABLE QRESYNC\r\n");
    assert_eq!(
        sent(&mut s),
        "* ENABLED QRESYNC\r\n* OK [NOMODSEQ] No permanent modsequences\r\ne OK ENABLE completed\r\n"
    );

    // Outside a mailbox, nothing more than ENABLED.
    let mut s = logged_in(config());
    s.receive(b"e ENABLE CONDSTORE\r\n");
    assert_eq!(sent(&mut s), "* ENABLED CONDSTORE\r\ne OK ENABLE completed\r\n");
}

#[test]
fn a_flag_change_of_a_new_message_comes_after_its_exists() {
    let mut s = selected(plaintext(), b"");
    let noop = command(&mut s, b"a NOOP\r\n");
    s.message_added(uid(50));
    s.flags_changed(uid(50), Vec::new(), None);
    // Added and expunged before the client heard of it: never mentioned.
    s.message_added(uid(60));
    s.message_expunged(uid(60));
    s.complete(noop, Status::Ok, RespText::text("NOOP completed"))
        .unwrap();
    assert_eq!(
        sent(&mut s),
        "* 5 EXISTS\r\n* 5 FETCH (FLAGS ())\r\na OK NOOP completed\r\n"
    );
}

#[test]
fn changes_reach_an_idling_client_at_once() {
    let mut s = selected(plaintext(), b"");
    s.receive(b"a IDLE\r\n");
    assert_eq!(sent(&mut s), "+ idling\r\n");
    assert!(matches!(events(&mut s)[..], [ServerEvent::IdleStarted]));
    s.message_added(uid(50));
    assert_eq!(sent(&mut s), "* 5 EXISTS\r\n");
    s.message_expunged(uid(10));
    assert_eq!(sent(&mut s), "* 1 EXPUNGE\r\n");
    s.receive(b"DONE\r\n");
    assert_eq!(sent(&mut s), "a OK IDLE terminated\r\n");
    assert!(matches!(events(&mut s)[..], [ServerEvent::IdleEnded]));
    // Outside a command nothing is sent: it waits for the next one.
    s.message_expunged(uid(20));
    assert_eq!(sent(&mut s), "");
    let noop = command(&mut s, b"b NOOP\r\n");
    s.complete(noop, Status::Ok, RespText::text("NOOP completed"))
        .unwrap();
    assert_eq!(sent(&mut s), "* 1 EXPUNGE\r\nb OK NOOP completed\r\n");
}

#[test]
fn store_responses_replace_the_pending_flag_change_of_the_same_message() {
    let mut s = selected(plaintext(), b"");
    let store = command(&mut s, b"a STORE 2 +FLAGS (\\Seen)\r\n");
    let seen = vec![mailwire_imap::FlagFetch::Flag(mailwire_imap::Flag::Seen)];
    s.flags_changed(uid(20), seen.clone(), None);
    s.fetch_data(&store, uid(20), vec![mailwire_imap::MessageDataItem::Flags(seen)])
        .unwrap();
    s.complete(store, Status::Ok, RespText::text("STORE completed"))
        .unwrap();
    assert_eq!(
        sent(&mut s),
        "* 2 FETCH (FLAGS (\\Seen))\r\na OK STORE completed\r\n"
    );
}

#[test]
fn search_answers_in_the_form_the_client_asked_for() {
    let mut s = selected(plaintext(), b"");
    let search = command(&mut s, b"a SEARCH UNSEEN\r\n");
    s.search_matches(&search, &[uid(40), uid(20), uid(99)], None)
        .unwrap();
    s.complete(search, Status::Ok, RespText::text("SEARCH completed"))
        .unwrap();
    assert_eq!(sent(&mut s), "* SEARCH 2 4\r\na OK SEARCH completed\r\n");

    let search = command(&mut s, b"b UID SEARCH RETURN (MIN COUNT) UNSEEN\r\n");
    s.search_matches(&search, &[uid(40), uid(20)], None).unwrap();
    s.complete(search, Status::Ok, RespText::text("SEARCH completed"))
        .unwrap();
    assert_eq!(
        sent(&mut s),
        "* ESEARCH (TAG \"b\") UID MIN 20 COUNT 2\r\nb OK SEARCH completed\r\n"
    );

    // SAVE alone answers nothing, and `$` then names the result.
    let search = command(&mut s, b"c SEARCH RETURN (SAVE) FLAGGED\r\n");
    s.search_matches(&search, &[uid(30), uid(10)], None).unwrap();
    s.complete(search, Status::Ok, RespText::text("SEARCH completed"))
        .unwrap();
    assert_eq!(sent(&mut s), "c OK SEARCH completed\r\n");
    let fetch = command(&mut s, b"d FETCH $ FLAGS\r\n");
    assert_eq!(fetch.messages(), [uid(10), uid(30)]);
    s.complete(fetch, Status::Ok, RespText::text("done")).unwrap();

    // IMAP4rev2 without RETURN: ESEARCH with ALL.
    let mut s = selected(plaintext(), b"e ENABLE IMAP4rev2\r\n");
    let search = command(&mut s, b"a SEARCH ALL\r\n");
    s.search_matches(&search, &[uid(10), uid(20), uid(40)], None)
        .unwrap();
    s.complete(search, Status::Ok, RespText::text("SEARCH completed"))
        .unwrap();
    assert_eq!(
        sent(&mut s),
        "* ESEARCH (TAG \"a\") ALL 1:2,4\r\na OK SEARCH completed\r\n"
    );
}

/// Streams an APPEND through a session that accepts every message,
/// feeding the input in `chunk`-byte reads; returns the events' story and
/// the output.
fn stream_append(input: &[u8], chunk: usize) -> (Vec<String>, Vec<Vec<u8>>, String) {
    stream_append_with(plaintext(), input, chunk)
}

/// [`stream_append`] with a configuration of its own.
fn stream_append_with(
    config: ServerConfig,
    input: &[u8],
    chunk: usize,
) -> (Vec<String>, Vec<Vec<u8>>, String) {
    let mut s = logged_in(config);
    let mut story = Vec::new();
    let mut messages: Vec<Vec<u8>> = Vec::new();
    for piece in input.chunks(chunk) {
        s.receive(piece);
        while let Some(event) = s.poll_event() {
            match event {
                ServerEvent::Append(m) => {
                    story.push(format!(
                        "message {} to {} {:?} {:?} {}{}{}",
                        m.index(),
                        String::from_utf8_lossy(m.mailbox().as_bytes()),
                        m.flags(),
                        m.date().is_some(),
                        m.length(),
                        if m.is_utf8() { " utf8" } else { "" },
                        if m.is_catenate() { " catenate" } else { "" },
                    ));
                    messages.push(Vec::new());
                    s.accept_append(m).unwrap();
                }
                ServerEvent::CatenatePart(part) => {
                    story.push(match (part.url(), part.text_length()) {
                        (Some(url), _) => format!("{} url {}", part.index(), url.as_str()),
                        (None, Some(n)) => format!(
                            "{} text {n}{}{}",
                            part.index(),
                            if part.is_binary() { " binary" } else { "" },
                            if part.is_utf8() { " utf8" } else { "" }
                        ),
                        (None, None) => panic!("{part:?}"),
                    });
                    s.accept_catenate_part(part).unwrap();
                }
                ServerEvent::AppendData(d) => messages.last_mut().unwrap().extend_from_slice(&d),
                ServerEvent::AppendMessageEnd => story.push("end".into()),
                ServerEvent::Literal(l) => s.accept_literal(l).unwrap(),
                ServerEvent::AppendComplete(done) => {
                    story.push(format!("complete {}", done.count()));
                    s.complete_append(done, Status::Ok, RespText::text("APPEND completed"))
                        .unwrap();
                }
                other => story.push(format!("{other:?}")),
            }
        }
    }
    (story, messages, sent(&mut s))
}

#[test]
fn multiappend_streams_each_message_in_any_chunking() {
    let input: &[u8] =
        b"a APPEND Drafts (\\Seen \\Draft) \"05-Dec-2026 10:00:00 +0100\" {12}\r\nhello\r\nbye\r\n \
        {6+}\r\nsecond ~{3}\r\n\x00\x01\x02\r\nb NOOP\r\n";
    let whole = stream_append(input, input.len());
    assert_eq!(
        whole.0,
        [
            "message 0 to Drafts Some([Seen, Draft]) true 12",
            "end",
            "message 1 to Drafts None false 6",
            "end",
            "message 2 to Drafts None false 3",
            "end",
            "complete 3"
        ]
    );
    assert_eq!(whole.1, [&b"hello\r\nbye\r\n"[..], b"second", b"\x00\x01\x02"]);
    assert_eq!(
        whole.2,
        "+ Ready for literal data\r\n+ Ready for literal data\r\na OK APPEND completed\r\nb OK NOOP completed\r\n"
    );
    for chunk in [1, 2, 3, 7, 16] {
        assert_eq!(stream_append(input, chunk), whole, "reads of {chunk} bytes");
    }
}

#[test]
fn a_refused_append_reads_no_data_and_a_later_refusal_aborts_the_rest() {
    let mut s = logged_in(plaintext());
    s.receive(b"a APPEND Nowhere {5}\r\nb NOOP\r\n");
    let Some(ServerEvent::Append(m)) = s.poll_event() else {
        panic!()
    };
    s.refuse_append(m, LiteralRefusal::TryCreate("No such mailbox".into()))
        .unwrap();
    assert_eq!(
        sent(&mut s),
        "a NO [TRYCREATE] No such mailbox\r\nb OK NOOP completed\r\n"
    );
    assert!(events(&mut s).is_empty(), "nothing to abort before any data");

    // The second message of a MULTIAPPEND, sent with LITERAL+: its data is
    // already on the way, thrown away, and the first message is dropped.
    s.receive(b"c APPEND INBOX {3+}\r\none {4+}\r\ntwo!\r\nd NOOP\r\n");
    let Some(ServerEvent::Append(first)) = s.poll_event() else {
        panic!()
    };
    s.accept_append(first).unwrap();
    let mut second = None;
    while let Some(event) = s.poll_event() {
        if let ServerEvent::Append(m) = event {
            second = Some(m);
        }
    }
    s.refuse_append(
        second.unwrap(),
        LiteralRefusal::OverQuota("Quota exceeded".into()),
    )
    .unwrap();
    assert!(matches!(events(&mut s)[..], [ServerEvent::AppendAborted]));
    assert_eq!(
        sent(&mut s),
        "c NO [OVERQUOTA] Quota exceeded\r\nd OK NOOP completed\r\n"
    );
}

#[test]
fn garbage_after_a_message_aborts_the_append() {
    let mut s = logged_in(plaintext());
    s.receive(b"a APPEND INBOX {2+}\r\nhiXYZ\r\nb NOOP\r\n");
    let Some(ServerEvent::Append(m)) = s.poll_event() else {
        panic!()
    };
    s.accept_append(m).unwrap();
    let got = events(&mut s);
    assert!(matches!(got.last(), Some(ServerEvent::AppendAborted)), "{got:?}");
    assert_eq!(
        sent(&mut s),
        "a BAD Expected another message or the end of APPEND\r\nb OK NOOP completed\r\n"
    );
}

#[test]
fn append_data_waits_for_the_application_to_take_it() {
    let mut s = logged_in(ServerConfig {
        max_buffered_input: 64 * 1024,
        ..plaintext()
    });
    s.receive(b"a APPEND INBOX {1000000+}\r\n");
    let Some(ServerEvent::Append(m)) = s.poll_event() else {
        panic!()
    };
    s.accept_append(m).unwrap();
    let body = vec![b'm'; 1_000_000];
    let mut fed = 0;
    let mut taken = 0;
    let mut max_queued = 0;
    while taken < body.len() {
        while s.wants_input() && fed < body.len() {
            let n = 10_000.min(body.len() - fed);
            s.receive(&body[fed..fed + n]);
            fed += n;
        }
        // Queued but not yet taken: bounded by the input limit.
        max_queued = max_queued.max(fed - taken);
        while let Some(event) = s.poll_event() {
            if let ServerEvent::AppendData(d) = event {
                taken += d.len();
                break;
            }
        }
    }
    assert!(max_queued <= 2 * 64 * 1024 + 10_000, "{max_queued} bytes held");
    s.receive(b"\r\n");
    assert!(
        events(&mut s)
            .iter()
            .any(|e| matches!(e, ServerEvent::AppendComplete(_)))
    );
}

#[test]
fn an_append_with_a_literal_mailbox_name_and_the_utf8_form() {
    let (story, messages, out) = stream_append(b"a APPEND {5}\r\nDraft {2}\r\nhi\r\n", 4);
    assert_eq!(story, ["message 0 to Draft None false 2", "end", "complete 1"]);
    assert_eq!(messages, [b"hi"]);
    assert!(out.ends_with("a OK APPEND completed\r\n"));

    // RFC 6855's UTF8 form streams too, before ENABLE UTF8=ACCEPT as
    // after (the application refuses 8-bit header fields before).
    // An empty mailbox name as a literal: the mailbox ends where the
    // literal announced starts, and the next literal decides (found by
    // fuzzing: the line after the mailbox was taken as one octet shorter
    // than nothing).
    let (story, messages, _) = stream_append(b"c APPEND {0}\r\n {2+}\r\nhi\r\n", 5);
    assert_eq!(story, ["message 0 to  None false 2", "end", "complete 1"]);
    assert_eq!(messages, [b"hi"]);

    let (story, messages, out) = stream_append(b"b APPEND {5}\r\nDraft UTF8 (~{2+}\r\nhi)\r\n", 3);
    assert_eq!(
        story,
        ["message 0 to Draft None false 2 utf8", "end", "complete 1"]
    );
    assert_eq!(messages, [b"hi"]);
    assert!(out.ends_with("b OK APPEND completed\r\n"), "{out}");
}

/// The UTF8 form of APPEND (RFC 6855 section 4), which clients use for
/// every message with UTF-8 header fields, streams like the plain one
/// once UTF8=ACCEPT is enabled: announced with `is_utf8`, its data in
/// chunks, its `)` read after it, several messages in one command.
/// Before ENABLE it streams too (it came whole, within the APPENDLIMIT,
/// outside an application's upload budget).
#[test]
fn the_utf8_form_of_append_streams_before_and_after_enable() {
    let config = ServerConfig {
        capabilities: vec![Capability::Utf8Accept],
        ..plaintext()
    };
    let mut s = logged_in(config.clone());
    s.receive(b"a APPEND INBOX UTF8 (~{3+}\r\nabc)\r\n");
    let Some(ServerEvent::Append(before)) = s.poll_event() else {
        panic!("the UTF8 form was not streamed before ENABLE")
    };
    assert!(before.is_utf8() && !s.utf8_names());
    s.refuse_append(before, LiteralRefusal::Bad("8-bit header fields".into()))
        .unwrap();
    assert_eq!(sent(&mut s), "a BAD 8-bit header fields\r\n");
    assert!(events(&mut s).is_empty());

    s.receive(b"e ENABLE UTF8=ACCEPT\r\n");
    sent(&mut s);
    events(&mut s);
    s.receive("b APPEND INBOX (\\Seen) UTF8 (~{7}\r\n".as_bytes());
    let Some(ServerEvent::Append(first)) = s.poll_event() else {
        panic!("the UTF8 form was not streamed")
    };
    assert!(first.is_utf8() && first.is_binary());
    assert_eq!((first.length(), first.index()), (7, 0));
    s.accept_append(first).unwrap();
    assert_eq!(sent(&mut s), "+ Ready for literal data\r\n");
    s.receive("h\u{e9}\u{e9}o\0".as_bytes());
    s.receive(b") UTF8 (~{2+}\r\nxy) {3+}\r\nabc\r\n");
    let mut data = Vec::new();
    let mut seen = Vec::new();
    while let Some(event) = s.poll_event() {
        match event {
            ServerEvent::AppendData(d) => data.extend_from_slice(&d),
            ServerEvent::AppendMessageEnd => seen.push("end".to_owned()),
            ServerEvent::Append(next) => {
                seen.push(format!(
                    "append {} {} utf8 {}",
                    next.index(),
                    next.length(),
                    next.is_utf8()
                ));
                s.accept_append(next).unwrap();
            }
            ServerEvent::AppendComplete(done) => {
                seen.push(format!("complete {}", done.count()));
                s.complete_append(done, Status::Ok, RespText::text("APPEND completed"))
                    .unwrap();
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(data, "h\u{e9}\u{e9}o\0xyabc".as_bytes());
    assert_eq!(
        seen,
        [
            "end",
            "append 1 2 utf8 true",
            "end",
            "append 2 3 utf8 false",
            "end",
            "complete 3"
        ]
    );
    assert_eq!(sent(&mut s), "b OK APPEND completed\r\n");

    // No `)` after the data: a BAD, and what was appended is dropped.
    s.receive(b"c APPEND INBOX UTF8 (~{2+}\r\nxyz\r\nd NOOP\r\n");
    let mut events = Vec::new();
    while let Some(event) = s.poll_event() {
        match event {
            ServerEvent::Append(m) => s.accept_append(m).unwrap(),
            ServerEvent::Command(r) => panic!("{:?}", r.command()),
            ServerEvent::AppendAborted => events.push("aborted".to_owned()),
            _ => {}
        }
    }
    // (NOOP with nothing selected is the session's own to answer.)
    assert_eq!(events, ["aborted"]);
    assert_eq!(
        sent(&mut s),
        "c BAD Expected ')' after a UTF8 literal\r\nd OK NOOP completed\r\n"
    );
}

/// CATENATE (RFC 4469) streams: the message is announced, then each part
/// in order, URLs (quoted, atoms, literals) for the application to copy
/// from and TEXT and UTF8 literals whose data comes in chunks; with other
/// messages in one command, in any chunking. It came whole, its literals
/// up to the APPENDLIMIT each, held until the command ended.
#[test]
fn catenate_streams_its_parts_in_any_chunking() {
    let input: &[u8] = b"a APPEND Drafts CATENATE (URL \"/Drafts/;UID=1\" TEXT {5}\r\nhello \
        URL /INBOX/;UID=2 TEXT {3+}\r\nabc UTF8 (~{2}\r\nxy) URL {13}\r\n/INBOX/;UID=3) \
        (\\Seen) {2}\r\nhi catenate (url \"/INBOX/;UID=4\")\r\nb NOOP\r\n";
    let whole = stream_append(input, input.len());
    assert_eq!(
        whole.0,
        [
            "message 0 to Drafts None false 0 catenate",
            "0 url /Drafts/;UID=1",
            "1 text 5",
            "2 url /INBOX/;UID=2",
            "3 text 3",
            "4 text 2 binary utf8",
            "5 url /INBOX/;UID=3",
            "end",
            "message 1 to Drafts Some([Seen]) false 2",
            "end",
            "message 2 to Drafts None false 0 catenate",
            "0 url /INBOX/;UID=4",
            "end",
            "complete 3"
        ]
    );
    assert_eq!(whole.1, [&b"helloabcxy"[..], b"hi", b""]);
    assert_eq!(
        whole.2,
        "+ Ready for literal data\r\n".repeat(4) + "a OK APPEND completed\r\nb OK NOOP completed\r\n"
    );
    for chunk in [1, 2, 3, 7, 16] {
        assert_eq!(stream_append(input, chunk), whole, "reads of {chunk} bytes");
    }
    // In order: each part announced before its data, a continuation
    // request only once the application accepted a synchronizing
    // literal, the data of a part before the next part.
    let ordered = |chunk: usize| {
        let mut s = logged_in(plaintext());
        let mut story: Vec<String> = Vec::new();
        let note_output = |s: &mut ServerSession, story: &mut Vec<String>| {
            let out = sent(s);
            story.extend(
                out.lines()
                    .map(|l| format!("> {}", l.split(' ').next().unwrap_or(""))),
            );
        };
        for piece in input.chunks(chunk) {
            s.receive(piece);
            while let Some(event) = s.poll_event() {
                match event {
                    ServerEvent::Append(m) => {
                        story.push("message".into());
                        s.accept_append(m).unwrap();
                    }
                    ServerEvent::CatenatePart(part) => {
                        story.push(if part.url().is_some() { "url" } else { "text" }.into());
                        s.accept_catenate_part(part).unwrap();
                    }
                    ServerEvent::AppendData(d) => match story.last_mut() {
                        Some(last) if last.starts_with("data ") => {
                            last.push_str(&String::from_utf8_lossy(&d))
                        }
                        _ => story.push(format!("data {}", String::from_utf8_lossy(&d))),
                    },
                    ServerEvent::AppendMessageEnd => story.push("end".into()),
                    ServerEvent::AppendComplete(done) => {
                        story.push("complete".into());
                        s.complete_append(done, Status::Ok, RespText::text("done"))
                            .unwrap();
                    }
                    other => panic!("{other:?}"),
                }
                note_output(&mut s, &mut story);
            }
            note_output(&mut s, &mut story);
        }
        story
    };
    let want = [
        "message",
        "url",
        "text",
        "> +",
        "data hello",
        "url",
        "text",
        "data abc",
        "text",
        "> +",
        "data xy",
        "> +",
        "url",
        "end",
        "message",
        "> +",
        "data hi",
        "end",
        "message",
        "url",
        "end",
        "complete",
        "> a",
        "> b",
    ];
    assert_eq!(ordered(1), want, "reads of one byte");
    // In other reads the session may reach the URL literal's `+` before
    // the data events before it are taken; the events keep their order.
    let events_only = |story: &[String]| -> Vec<String> {
        story.iter().filter(|l| !l.starts_with("> +")).cloned().collect()
    };
    for chunk in [5, input.len()] {
        let story = ordered(chunk);
        assert_eq!(
            events_only(&story),
            events_only(&want.map(String::from)),
            "reads of {chunk} bytes"
        );
        assert_eq!(
            story.iter().filter(|l| *l == "> +").count(),
            4,
            "reads of {chunk} bytes"
        );
    }
}

/// A CATENATE URL the application cannot read fails the APPEND with `NO
/// [BADURL url]`: the parts after it are never announced, what was
/// accepted is dropped, and the data of a non-synchronizing literal on
/// the way is skipped, not read as commands.
#[test]
fn a_catenate_url_refused_ends_the_append() {
    let mut s = logged_in(ServerConfig {
        append_limit: Some(1 << 20),
        ..plaintext()
    });
    s.receive(b"a APPEND INBOX CATENATE (TEXT {2+}\r\nhi URL \"/INBOX/;UID=9\" URL /INBOX/;UID=1 TEXT {8+}\r\nb NOOP\r\n)\r\nc NOOP\r\n");
    let mut story = Vec::new();
    while let Some(event) = s.poll_event() {
        match event {
            ServerEvent::Append(m) => s.accept_append(m).unwrap(),
            ServerEvent::CatenatePart(part) => match part.url() {
                Some(url) => {
                    story.push(format!("url {}", url.as_str()));
                    s.refuse_catenate_part(part, LiteralRefusal::BadUrl("No such message".into()))
                        .unwrap();
                }
                None => {
                    story.push("text".to_owned());
                    s.accept_catenate_part(part).unwrap();
                }
            },
            ServerEvent::AppendData(d) => story.push(String::from_utf8_lossy(&d).into_owned()),
            ServerEvent::AppendAborted => story.push("aborted".to_owned()),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(story, ["text", "hi", "url /INBOX/;UID=9", "aborted"]);
    assert_eq!(
        sent(&mut s),
        "a NO [BADURL /INBOX/;UID=9] No such message\r\nc OK NOOP completed\r\n"
    );

    // A TEXT part over the APPENDLIMIT, refused before its data: a
    // synchronizing literal gets no continuation request, and the
    // client's next command is read.
    s.receive(b"d APPEND INBOX CATENATE (URL /INBOX/;UID=1 TEXT {2000000}\r\ne NOOP\r\n");
    let mut seen = Vec::new();
    while let Some(event) = s.poll_event() {
        match event {
            ServerEvent::Append(m) => s.accept_append(m).unwrap(),
            ServerEvent::CatenatePart(part) if part.url().is_some() => s.accept_catenate_part(part).unwrap(),
            ServerEvent::AppendAborted => seen.push("aborted"),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(seen, ["aborted"]);
    assert_eq!(
        sent(&mut s),
        "d NO [TOOBIG] Message too large\r\ne OK NOOP completed\r\n"
    );
}

/// A CATENATE list that breaks the grammar after a part is a BAD, and
/// drops what was accepted; the literal ending the line is skipped.
#[test]
fn a_catenate_list_that_breaks_the_grammar_is_a_bad() {
    for (input, error) in [
        (
            &b"a APPEND INBOX CATENATE (TEXT {1+}\r\nx BOGUS {3+}\r\nabc\r\nb NOOP\r\n"[..],
            "Expected TEXT, URL or UTF8",
        ),
        (
            b"a APPEND INBOX CATENATE (TEXT {1+}\r\nx TEXT {2+}\r\nyz\r\nb NOOP\r\n",
            "Expected a space or ')'",
        ),
        (
            b"a APPEND INBOX CATENATE (TEXT {1+}\r\nx URL \"/INBOX/;UID=1\"\r\nb NOOP\r\n",
            "Expected a space or ')'",
        ),
        (
            b"a APPEND INBOX CATENATE (TEXT {1+}\r\nx UTF8 ({2+}\r\nyz)\r\nb NOOP\r\n",
            "Expected a literal8 in the UTF8 form",
        ),
        (
            b"a APPEND INBOX CATENATE (TEXT {1+}\r\nx) TEXT\r\nb NOOP\r\n",
            "Expected another message or the end of APPEND",
        ),
        // `TEXT SP literal` (RFC 4469): a literal8, as the command decoded
        // whole has it, only in the UTF8 form.
        (
            b"a APPEND INBOX CATENATE (TEXT {1+}\r\nx TEXT ~{3+}\r\nabc)\r\nb NOOP\r\n",
            "Expected a literal after TEXT",
        ),
        // NUL only in a literal8, as for a command decoded whole.
        (
            b"a APPEND INBOX CATENATE (TEXT {3+}\r\na\0b)\r\nb NOOP\r\n",
            "NUL in a literal (only a literal8 may hold it)",
        ),
    ] {
        let mut s = logged_in(plaintext());
        s.receive(input);
        let mut aborted = false;
        while let Some(event) = s.poll_event() {
            match event {
                ServerEvent::Append(m) => s.accept_append(m).unwrap(),
                ServerEvent::CatenatePart(part) => s.accept_catenate_part(part).unwrap(),
                ServerEvent::AppendData(_) => {}
                ServerEvent::AppendAborted => aborted = true,
                other => panic!("{other:?}"),
            }
        }
        let input = String::from_utf8_lossy(input);
        assert!(aborted, "{input}");
        assert_eq!(
            sent(&mut s),
            format!("a BAD {error}\r\nb OK NOOP completed\r\n"),
            "{input}"
        );
    }
}

/// A NUL in a streamed literal that is not a literal8 ends the APPEND
/// (as the command decoded whole refuses it), after the data before it,
/// however the input was read (found by fuzzing: the data before the NUL
/// was handed out only when it came in an earlier read). A literal8 may
/// hold NUL.
#[test]
fn a_nul_in_a_streamed_literal_ends_the_append_whatever_the_reads() {
    let run = |input: &[u8], chunk: usize| {
        let mut s = logged_in(plaintext());
        let mut story: Vec<String> = Vec::new();
        for piece in input.chunks(chunk) {
            s.receive(piece);
            while let Some(event) = s.poll_event() {
                match event {
                    ServerEvent::Append(m) => s.accept_append(m).unwrap(),
                    ServerEvent::AppendData(d) => match story.last_mut() {
                        Some(last) if *last != "aborted" && *last != "end" => {
                            last.push_str(&String::from_utf8_lossy(&d))
                        }
                        _ => story.push(String::from_utf8_lossy(&d).into_owned()),
                    },
                    ServerEvent::AppendMessageEnd => story.push("end".to_owned()),
                    ServerEvent::AppendAborted => story.push("aborted".to_owned()),
                    ServerEvent::AppendComplete(done) => {
                        story.push("complete".to_owned());
                        s.complete_append(done, Status::Ok, RespText::text("APPEND completed"))
                            .unwrap();
                    }
                    other => panic!("{other:?}"),
                }
            }
        }
        (story, sent(&mut s))
    };
    let input = b"a APPEND INBOX {5+}\r\nab\0cd\r\nb NOOP\r\n";
    let whole = run(input, input.len());
    assert_eq!(whole.0, ["ab", "aborted"]);
    assert_eq!(
        whole.1,
        "a BAD NUL in a literal (only a literal8 may hold it)\r\nb OK NOOP completed\r\n"
    );
    for chunk in [1, 2, 3, 24, 25] {
        assert_eq!(run(input, chunk), whole, "reads of {chunk} bytes");
    }
    let binary = run(b"a APPEND INBOX ~{5+}\r\nab\0cd\r\n", 4);
    assert_eq!(binary.0, ["ab\0cd", "end", "complete"]);
}

/// A URL sent as a literal and refused: the rest of its line is the
/// APPEND's, skipped, not read as a command (a `TEXT {5}` there was taken
/// for a new command's literal, and the client's next command for its
/// data). A literal8 after TEXT on the first line goes to the decoder,
/// which refuses it whole.
#[test]
fn a_url_literal_refused_skips_the_rest_of_its_line() {
    let mut s = logged_in(plaintext());
    s.receive(b"a APPEND INBOX CATENATE (URL {13}\r\n");
    let Some(ServerEvent::Append(m)) = s.poll_event() else {
        panic!("not streamed")
    };
    s.accept_append(m).unwrap();
    assert_eq!(sent(&mut s), "+ Ready for literal data\r\n");
    s.receive(b"/INBOX/;UID=9 TEXT {5}\r\nb NOOP\r\n");
    let Some(ServerEvent::CatenatePart(part)) = s.poll_event() else {
        panic!("no URL part")
    };
    assert_eq!(part.url().map(|u| u.as_str()), Some("/INBOX/;UID=9"));
    s.refuse_catenate_part(part, LiteralRefusal::BadUrl("No such message".into()))
        .unwrap();
    assert!(matches!(s.poll_event(), Some(ServerEvent::AppendAborted)));
    assert!(s.poll_event().is_none());
    assert_eq!(
        sent(&mut s),
        "a NO [BADURL /INBOX/;UID=9] No such message\r\nb OK NOOP completed\r\n"
    );

    s.receive(b"c APPEND INBOX CATENATE (TEXT ~{3+}\r\na\0b)\r\nd NOOP\r\n");
    assert!(events(&mut s).is_empty());
    let out = sent(&mut s);
    assert!(
        out.starts_with("c BAD ") && out.ends_with("\r\nd OK NOOP completed\r\n"),
        "{out}"
    );
}

/// A refused URL with a `]` (an IPv6 host) is named in BADURL with the
/// `]` percent-encoded: `url-resp-text` cannot hold it, and the code
/// would end there.
#[test]
fn a_badurl_code_never_holds_a_bracket() {
    let mut s = logged_in(plaintext());
    s.receive(b"a APPEND INBOX CATENATE (URL \"imap://[::1]/INBOX/;UID=1\" TEXT {1+}\r\nx)\r\n");
    while let Some(event) = s.poll_event() {
        match event {
            ServerEvent::Append(m) => s.accept_append(m).unwrap(),
            ServerEvent::CatenatePart(part) => s
                .refuse_catenate_part(part, LiteralRefusal::BadUrl("Remote URLs are not taken".into()))
                .unwrap(),
            ServerEvent::AppendAborted => {}
            other => panic!("{other:?}"),
        }
    }
    let out = sent(&mut s);
    assert_eq!(
        out,
        "a NO [BADURL imap://[::1%5D/INBOX/;UID=1] Remote URLs are not taken\r\n"
    );
    let decoded = mailwire_imap::decode_response(out.as_bytes(), &mailwire_imap::DecoderConfig::STRICT);
    assert!(
        matches!(decoded, Ok(mailwire_imap::Decoded::Complete { consumed, .. }) if consumed == out.len()),
        "{decoded:?}"
    );
}

/// Without LITERAL+ or LITERAL-, a non-synchronizing literal in a
/// streamed APPEND is refused as in any command (it was streamed).
#[test]
fn a_streamed_append_keeps_the_non_synchronizing_literal_policy() {
    for (policy, input, refused) in [
        (
            NonSyncLiterals::None,
            &b"a APPEND INBOX {3+}\r\nabc\r\nb NOOP\r\n"[..],
            true,
        ),
        (
            NonSyncLiterals::None,
            b"a APPEND INBOX CATENATE (TEXT {3+}\r\nabc)\r\nb NOOP\r\n",
            true,
        ),
        (
            NonSyncLiterals::Minus,
            b"a APPEND INBOX CATENATE (TEXT {4097+}\r\n",
            true,
        ),
        (
            NonSyncLiterals::Minus,
            b"a APPEND INBOX CATENATE (TEXT {3+}\r\nabc)\r\nb NOOP\r\n",
            false,
        ),
    ] {
        let mut s = logged_in(ServerConfig {
            non_sync_literals: policy,
            ..plaintext()
        });
        let mut input = input.to_vec();
        if input.ends_with(b"{4097+}\r\n") {
            input.extend(std::iter::repeat_n(b'x', 4097));
            input.extend_from_slice(b")\r\nb NOOP\r\n");
        }
        s.receive(&input);
        let mut parts = 0;
        while let Some(event) = s.poll_event() {
            match event {
                ServerEvent::Append(m) => s.accept_append(m).unwrap(),
                ServerEvent::CatenatePart(part) => {
                    parts += 1;
                    s.accept_catenate_part(part).unwrap()
                }
                ServerEvent::AppendComplete(done) => s
                    .complete_append(done, Status::Ok, RespText::text("APPEND completed"))
                    .unwrap(),
                _ => {}
            }
        }
        let out = sent(&mut s);
        let want = if refused {
            "a BAD [TOOBIG] Non-synchronizing literal too large\r\nb OK NOOP completed\r\n"
        } else {
            "a OK APPEND completed\r\nb OK NOOP completed\r\n"
        };
        assert_eq!(out, want, "{policy:?} {}", String::from_utf8_lossy(&input[..40]));
        assert_eq!(parts, usize::from(!refused));
    }
}

/// With APPEND streamed, an APPEND the streaming reader does not take
/// (its line does not parse as it reads it) is held whole within the
/// decoder's own limits, not the APPENDLIMIT: it was held up to the
/// APPENDLIMIT, outside what an application budgets for uploads.
#[test]
fn an_append_held_whole_keeps_the_configured_limits() {
    let mut config = plaintext();
    config.decoder.limits.literal = 1 << 20;
    config.decoder.limits.command_message = 4 << 20;
    config.append_limit = Some(64 << 20);
    let mut s = logged_in(config.clone());
    s.receive(b"a APPEND INBOX X {2000000}\r\nb NOOP\r\n");
    assert!(events(&mut s).is_empty());
    assert_eq!(
        sent(&mut s),
        "a NO [TOOBIG] Literal too large\r\nb OK NOOP completed\r\n"
    );
    // A streamed message may be as large as the APPENDLIMIT.
    s.receive(b"c APPEND INBOX {2000000}\r\n");
    let Some(ServerEvent::Append(m)) = s.poll_event() else {
        panic!("not streamed")
    };
    assert_eq!(m.length(), 2_000_000);
}

#[test]
fn mailbox_names_follow_the_client_s_form() {
    let mut s = logged_in(ServerConfig {
        capabilities: vec![Capability::Utf8Accept],
        ..plaintext()
    });
    // IMAP4rev1 without UTF8=ACCEPT: modified UTF-7.
    assert!(!s.utf8_names());
    s.receive(b"a CREATE &ZeVnLIqe-\r\n");
    let create = match s.poll_event() {
        Some(ServerEvent::Command(r)) => r,
        other => panic!("{other:?}"),
    };
    let mailwire_imap::CommandBody::Create { mailbox, .. } = &create.command().body else {
        panic!()
    };
    assert_eq!(s.mailbox_name(mailbox).unwrap(), "日本語");
    assert_eq!(s.mailbox("日本語").unwrap().as_bytes(), b"&ZeVnLIqe-");
    s.complete(create, Status::Ok, RespText::text("done")).unwrap();

    // After ENABLE UTF8=ACCEPT: UTF-8, and `&` stands for itself.
    s.receive(b"b ENABLE UTF8=ACCEPT\r\n");
    assert!(s.utf8_names());
    assert_eq!(s.mailbox("R&D").unwrap().as_bytes(), b"R&D");
    assert_eq!(s.mailbox("日本語").unwrap().as_bytes(), "日本語".as_bytes());
    // RFC 6855 section 3: no SEARCH CHARSET any more.
    s.receive(b"c SELECT INBOX\r\n");
    answer_all(&mut s);
    sent(&mut s);
    s.receive(b"d SEARCH CHARSET UTF-8 SUBJECT x\r\ne SEARCH SUBJECT x\r\n");
    assert_eq!(
        sent(&mut s),
        "d BAD SEARCH with CHARSET after ENABLE UTF8=ACCEPT\r\n"
    );
    assert!(matches!(s.poll_event(), Some(ServerEvent::Command(_))));

    // IMAP4rev2 enabled: UTF-8 as well.
    let mut s = logged_in(plaintext());
    s.receive(b"a ENABLE IMAP4rev2\r\n");
    assert!(s.utf8_names());
}

#[test]
fn thread_takes_only_the_algorithms_offered() {
    let mut s = logged_in(ServerConfig {
        capabilities: vec![Capability::Thread(
            mailwire_imap::Atom::new("REFERENCES").unwrap(),
        )],
        ..plaintext()
    });
    s.receive(b"a SELECT INBOX\r\n");
    answer_all(&mut s);
    sent(&mut s);
    s.receive(b"b THREAD REFS UTF-8 ALL\r\nc THREAD references UTF-8 ALL\r\n");
    assert_eq!(sent(&mut s), "b BAD Unsupported threading algorithm\r\n");
    assert_eq!(answer_all(&mut s), ["THREAD"]);
}

#[test]
fn a_fetch_literal_streams_in_pieces_and_nothing_else_interleaves() {
    use mailwire_imap::{DataItemName, Section};
    let mut s = selected(plaintext(), b"");
    let fetch = command(&mut s, b"a UID FETCH 30 BODY.PEEK[]\r\n");
    let name = DataItemName::BodySection {
        section: Section::WHOLE,
        origin: None,
    };
    s.fetch_literal_start(&fetch, uid(30), Vec::new(), name.clone(), 11, false)
        .unwrap();
    assert_eq!(sent(&mut s), "* 3 FETCH (UID 30 BODY[] {11}\r\n");
    s.fetch_literal_data(&fetch, b"hello ").unwrap();
    // Inside the literal nothing else may be written.
    assert_eq!(
        s.fetch_data(&fetch, uid(30), Vec::new()),
        Err(AnswerError::NotAllowed)
    );
    assert_eq!(
        s.fetch_literal_end(&fetch),
        Err(AnswerError::NotAllowed),
        "5 octets owed"
    );
    assert_eq!(
        s.fetch_literal_data(&fetch, b"world!"),
        Err(AnswerError::NotAllowed),
        "too long"
    );
    s.fetch_literal_data(&fetch, b"world").unwrap();
    s.fetch_literal_end(&fetch).unwrap();
    assert!(!s.is_streaming());
    s.complete(fetch, Status::Ok, RespText::text("done")).unwrap();
    assert_eq!(sent(&mut s), "hello world)\r\na OK done\r\n");

    // BINARY may be a literal8; BODY may not.
    let fetch = command(&mut s, b"b FETCH 3 (FLAGS BINARY.PEEK[])\r\n");
    assert_eq!(
        s.fetch_literal_start(&fetch, uid(30), Vec::new(), name, 1, true),
        Err(AnswerError::NotAllowed)
    );
    let flags = vec![mailwire_imap::FlagFetch::Flag(mailwire_imap::Flag::Seen)];
    let binary = DataItemName::Binary {
        section: None,
        origin: None,
    };
    s.fetch_literal_start(
        &fetch,
        uid(30),
        vec![mailwire_imap::MessageDataItem::Flags(flags)],
        binary,
        2,
        true,
    )
    .unwrap();
    s.fetch_literal_data(&fetch, b"\0\x01").unwrap();
    s.fetch_literal_end(&fetch).unwrap();
    let mut out = Vec::new();
    while let Some(bytes) = s.poll_transmit() {
        out.extend_from_slice(&bytes);
    }
    assert_eq!(out, b"* 3 FETCH (FLAGS (\\Seen) BINARY[] ~{2}\r\n\0\x01)\r\n");
}

#[test]
fn recent_goes_with_exists_to_imap4rev1_clients_only() {
    let mut s = selected(plaintext(), b"");
    s.message_added(uid(50));
    s.recent_changed(1);
    let noop = command(&mut s, b"n NOOP\r\n");
    s.complete(noop, Status::Ok, RespText::text("NOOP completed"))
        .unwrap();
    assert_eq!(
        sent(&mut s),
        "* 5 EXISTS\r\n* 1 RECENT\r\nn OK NOOP completed\r\n"
    );

    let mut s = selected(plaintext(), b"e ENABLE IMAP4rev2\r\n");
    s.message_added(uid(50));
    s.recent_changed(1);
    let noop = command(&mut s, b"n NOOP\r\n");
    s.complete(noop, Status::Ok, RespText::text("NOOP completed"))
        .unwrap();
    assert_eq!(sent(&mut s), "* 5 EXISTS\r\nn OK NOOP completed\r\n");
}

/// NOTIFY's MessageNew attributes: `* n FETCH` after the EXISTS that
/// announced the message, with its UID first; never for a message the
/// client has not been told of, nor while a command runs.
#[test]
fn unsolicited_fetch_follows_the_exists_of_a_new_message() {
    let mut s = selected(plaintext(), b"e ENABLE IMAP4rev2\r\n");
    let flags = || vec![MessageDataItem::Flags(Vec::new())];
    s.message_added(uid(50));
    assert_eq!(
        s.unsolicited_fetch(uid(50), flags()),
        Err(AnswerError::NotAllowed)
    );
    s.announce_changes(true);
    s.unsolicited_fetch(uid(50), flags()).unwrap();
    assert_eq!(sent(&mut s), "* 5 EXISTS\r\n* 5 FETCH (UID 50 FLAGS ())\r\n");
    assert_eq!(
        s.unsolicited_fetch(uid(60), flags()),
        Err(AnswerError::NotAllowed)
    );
    let noop = command(&mut s, b"n NOOP\r\n");
    assert_eq!(
        s.unsolicited_fetch(uid(50), flags()),
        Err(AnswerError::NotAllowed)
    );
    s.complete(noop, Status::Ok, RespText::text("done")).unwrap();
    assert_eq!(sent(&mut s), "n OK done\r\n");
}

#[test]
fn notify_news_goes_out_between_commands_only() {
    let mut s = selected(plaintext(), b"");
    let status = Response::MailboxStatus(mailwire_imap::MailboxStatus {
        mailbox: mailwire_imap::Mailbox::from_utf8_name("Sent"),
        values: vec![mailwire_imap::StatusValue::Messages(2)],
    });
    s.unsolicited(&status).unwrap();
    s.message_expunged(uid(20));
    s.announce_changes(true);
    assert_eq!(sent(&mut s), "* STATUS Sent (MESSAGES 2)\r\n* 2 EXPUNGE\r\n");
    assert_eq!(
        s.unsolicited(&Response::Exists(3)),
        Err(AnswerError::NotAllowed),
        "message numbers are the session's"
    );
    // While a command runs, nothing unsolicited goes out.
    let fetch = command(&mut s, b"f FETCH 1 FLAGS\r\n");
    assert_eq!(s.unsolicited(&status), Err(AnswerError::NotAllowed));
    s.message_expunged(uid(10));
    s.announce_changes(true);
    assert_eq!(sent(&mut s), "");
    s.complete(fetch, Status::Ok, RespText::text("done")).unwrap();
    assert_eq!(sent(&mut s), "f OK done\r\n", "FETCH holds the expunge back");
}

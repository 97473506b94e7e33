//! Transcript tests of the POP3 sessions.
//!
//! 1. The example exchanges of RFC 1939, 2449, 2595, 5034 and 6856, replayed
//!    byte for byte: through a `ServerSession` (the client lines fed, the
//!    server lines compared) and through a `ClientSession` (the client lines
//!    compared with what it sends, the RFC's server lines fed verbatim, the
//!    typed events checked).
//! 2. Edge cases that broke other implementations, each on its own.
//! 3. A client and a server connected in memory.
//!
//! # What is compared where the RFC's text and ours differ
//!
//! RFC 1939 section 9: "with the exception of the STAT, LIST, and UIDL
//! commands, the reply given by the POP3 server to any command is
//! significant only to "+OK" and "-ERR". Any text occurring after this
//! reply may be ignored by the client." The texts of the examples ("mrose
//! is a real hoopy frood", "dewey POP3 server signing off") are therefore
//! free, and so is the text after an RFC 2449 response code, the text of a
//! LANG answer after the language tag (RFC 6856 section 3.2) and the order
//! of CAPA and LANG listings. Everything else is compared exactly: status,
//! response code, the numbers of STAT, LIST and UIDL, listings, message
//! bodies, challenges and the multi-line framing. Where our wording differs
//! a script says so with `S~` (status and code compared, text free) or an
//! `S-`/`S+` pair (the RFC's line fed to the client, ours expected from the
//! server); extra capabilities our server announces are `S?+` lines. See
//! `common/mod.rs` for the script format.

mod common;

use bytes::Bytes;
use common::*;
use mailwire_pop3::{
    Capability, ClientEvent, ClientSession, ClientState, Command, CommandId, DecoderConfig, Expire, Language,
    LanguageTag, LoginRejection, LoginRequest, Mechanism, MemoryMaildrop, MessageNumber, Response,
    ResponseCode, SaslStep, ScanListing, ServerConfig, ServerEvent, Stat, StatusLine, Text, Tls, UniqueId,
    UniqueIdListing, login_delay_remaining, parse_status_line,
};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

const UID1: &str = "whqtswO00WBw418f9t5JxYwZ";
const UID2: &str = "QhdPYR:00WBw1Ph7x7";

/// The maildrop of the RFC 1939 examples: two messages of 120 and 200
/// octets, with the unique ids of the UIDL example.
fn rfc1939_maildrop() -> (MemoryMaildrop, Vec<u8>, Vec<u8>) {
    let m1 = message_of_size("message 1", 120);
    let m2 = message_of_size("message 2", 200);
    let maildrop = MemoryMaildrop::new();
    maildrop.push(UniqueId::new(UID1).unwrap(), m1.clone());
    maildrop.push(UniqueId::new(UID2).unwrap(), m2.clone());
    (maildrop, m1, m2)
}

fn n(number: u32) -> MessageNumber {
    MessageNumber::new(number).unwrap()
}

fn st(line: &'static str) -> StatusLine<'static> {
    parse_status_line(line.as_bytes(), &DecoderConfig::STRICT)
        .unwrap()
        .into_owned()
}

fn resp(id: CommandId, response: Response<'static>) -> ClientEvent {
    ClientEvent::Response { id, response }
}

fn status(id: CommandId, line: &'static str) -> ClientEvent {
    resp(id, Response::Status(st(line)))
}

fn greeting(line: &'static str) -> ClientEvent {
    ClientEvent::Greeting(st(line))
}

/// The events of a RETR or TOP that succeeded.
fn message_events(id: CommandId, line: &'static str, body: &[u8]) -> Vec<ClientEvent> {
    let mut v = vec![ClientEvent::MessageStart { id, status: st(line) }];
    if !body.is_empty() {
        v.push(ClientEvent::BodyChunk {
            id,
            data: Bytes::copy_from_slice(body),
        });
    }
    v.push(ClientEvent::BodyEnd { id });
    v
}

fn mech(name: &'static str) -> Mechanism<'static> {
    Mechanism::new(name).unwrap()
}

fn text(t: &'static str) -> Text<'static> {
    Text::new(t.as_bytes()).unwrap()
}

/// Replays `script` through a server on `maildrop` and through a client.
fn replay_both(config: ServerConfig, maildrop: &MemoryMaildrop, script: &str) -> (Server, ClientReplay) {
    let mut server = Server::new(config, maildrop);
    server.replay(script);
    let mut client = ClientReplay::new();
    client.apop_secret = Some(b"tanstaaf".to_vec());
    client.replay(script);
    (server, client)
}

/// The body a client received for `id`, from the joined events.
fn body_of(events: &[ClientEvent], id: CommandId) -> Option<Vec<u8>> {
    let mut started = false;
    let mut body = Vec::new();
    for e in events {
        match e {
            ClientEvent::MessageStart { id: i, .. } if *i == id => started = true,
            ClientEvent::BodyChunk { id: i, data } if *i == id => body.extend_from_slice(data),
            ClientEvent::BodyEnd { id: i } if *i == id => return started.then_some(body),
            _ => {}
        }
    }
    None
}

/// Login lines the RFC examples of the TRANSACTION state leave out.
const LOGIN: &str = "
    S: +OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>
    C: USER mrose
    S~ +OK | mrose is a real hoopy frood
    C: PASS secret
    S~ +OK | mrose's maildrop has 2 messages (320 octets)
";

// ---------------------------------------------------------------------------
// RFC 1939
// ---------------------------------------------------------------------------

/// RFC 1939 section 4: the greeting, and QUIT in the AUTHORIZATION state.
#[test]
fn rfc1939_s4_greeting_and_quit_in_authorization() {
    let (maildrop, _, _) = rfc1939_maildrop();
    let script = "
        S: +OK POP3 server ready
        C: QUIT
        S~ +OK | dewey POP3 server signing off
    ";
    let config = ServerConfig {
        allow_plaintext_auth: true,
        ..ServerConfig::default()
    };
    let (server, client) = replay_both(config, &maildrop, script);
    assert!(server.session.is_closed());
    assert_eq!(server.events, vec![ServerEvent::Closed { committed: false }]);
    assert_eq!(maildrop.messages().len(), 2);
    assert!(!maildrop.is_locked());

    assert_eq!(
        client.events,
        vec![
            greeting("+OK POP3 server ready"),
            status(client.ids[0], "+OK dewey POP3 server signing off")
        ]
    );
    assert_eq!(client.client.state(), ClientState::Closed);
}

/// RFC 1939 section 5: STAT and LIST.
#[test]
fn rfc1939_s5_stat_and_list() {
    let (maildrop, _, _) = rfc1939_maildrop();
    let script = format!(
        "{LOGIN}
        C: STAT
        S: +OK 2 320
        C: LIST
        S~ +OK | 2 messages (320 octets)
        S: 1 120
        S: 2 200
        S: .
        C: LIST 2
        S: +OK 2 200
        C: LIST 3
        S: -ERR no such message, only 2 messages in maildrop
        "
    );
    let (_, client) = replay_both(rfc1939_config(), &maildrop, &script);
    let ids = &client.ids;
    assert_eq!(
        client.events[3..],
        [
            resp(ids[2], Response::Stat(Stat { count: 2, size: 320 })),
            resp(
                ids[3],
                Response::ScanListings {
                    status: st("+OK 2 messages (320 octets)"),
                    listings: vec![
                        ScanListing {
                            message: n(1),
                            size: 120
                        },
                        ScanListing {
                            message: n(2),
                            size: 200
                        }
                    ],
                }
            ),
            resp(
                ids[4],
                Response::ScanListing(ScanListing {
                    message: n(2),
                    size: 200
                })
            ),
            status(ids[5], "-ERR no such message, only 2 messages in maildrop"),
        ]
    );
    assert_eq!(client.client.state(), ClientState::Transaction);
}

/// RFC 1939 section 5: RETR.
#[test]
fn rfc1939_s5_retr() {
    let (maildrop, m1, _) = rfc1939_maildrop();
    let script = format!(
        "{LOGIN}
        C: RETR 1
        S: +OK 120 octets
        {}S: .
        ",
        body_script(&m1)
    );
    let (_, client) = replay_both(rfc1939_config(), &maildrop, &script);
    assert_eq!(
        client.events[3..],
        message_events(client.ids[2], "+OK 120 octets", &m1)[..]
    );
}

/// RFC 1939 section 5: DELE, NOOP and RSET.
#[test]
fn rfc1939_s5_dele_noop_rset() {
    let (maildrop, _, _) = rfc1939_maildrop();
    let script = format!(
        "{LOGIN}
        C: DELE 1
        S: +OK message 1 deleted
        # The RFC's '...' hides a DELE 2 that succeeded.
        C: DELE 2
        S: +OK message 2 deleted
        C: DELE 2
        S: -ERR message 2 already deleted
        C: NOOP
        S: +OK
        C: RSET
        S: +OK maildrop has 2 messages (320 octets)
        C: STAT
        S: +OK 2 320
        "
    );
    let (server, client) = replay_both(rfc1939_config(), &maildrop, &script);
    let ids = &client.ids;
    assert_eq!(
        client.events[3..],
        [
            status(ids[2], "+OK message 1 deleted"),
            status(ids[3], "+OK message 2 deleted"),
            status(ids[4], "-ERR message 2 already deleted"),
            status(ids[5], "+OK"),
            status(ids[6], "+OK maildrop has 2 messages (320 octets)"),
            resp(ids[7], Response::Stat(Stat { count: 2, size: 320 })),
        ]
    );
    drop(server);
    assert_eq!(maildrop.messages().len(), 2);
}

/// RFC 1939 section 6: QUIT in the TRANSACTION state, first with nothing
/// deleted, then with everything deleted.
#[test]
fn rfc1939_s6_quit() {
    let (maildrop, _, _) = rfc1939_maildrop();
    let kept = format!(
        "{LOGIN}
        C: QUIT
        S~ +OK | dewey POP3 server signing off (2 messages left)
        "
    );
    let (server, client) = replay_both(rfc1939_config(), &maildrop, &kept);
    assert_eq!(server.closed_events(), [&ServerEvent::Closed { committed: true }]);
    assert_eq!(client.client.state(), ClientState::Closed);
    assert_eq!(maildrop.messages().len(), 2);
    assert!(!maildrop.is_locked());

    let emptied = format!(
        "{LOGIN}
        C: DELE 1
        S: +OK message 1 deleted
        C: DELE 2
        S: +OK message 2 deleted
        C: QUIT
        S~ +OK | dewey POP3 server signing off (maildrop empty)
        "
    );
    let mut server = Server::new(rfc1939_config(), &maildrop);
    server.replay(&emptied);
    assert_eq!(server.closed_events(), [&ServerEvent::Closed { committed: true }]);
    assert!(maildrop.messages().is_empty());
    assert!(!maildrop.is_locked());
}

/// RFC 1939 section 7: TOP.
#[test]
fn rfc1939_s7_top() {
    let mut m1 = b"From: mrose@dbc.mtview.ca.us\r\nSubject: lines\r\n\r\n".to_vec();
    for i in 1..=15 {
        m1.extend_from_slice(format!("body line {i}\r\n").as_bytes());
    }
    let maildrop = maildrop_with(&[&m1, b"Subject: two\r\n\r\nshort\r\n"]);
    let mut top = b"From: mrose@dbc.mtview.ca.us\r\nSubject: lines\r\n\r\n".to_vec();
    for i in 1..=10 {
        top.extend_from_slice(format!("body line {i}\r\n").as_bytes());
    }
    let script = format!(
        "{}
        C: TOP 1 10
        S: +OK
        {}S: .
        C: TOP 100 3
        S~ -ERR | no such message
        ",
        LOGIN.replace("2 messages (320 octets)", "..."),
        body_script(&top)
    );
    let (_, client) = replay_both(rfc1939_config(), &maildrop, &script);
    let ids = &client.ids;
    let mut expected = message_events(ids[2], "+OK", &top);
    expected.push(status(ids[3], "-ERR no such message"));
    assert_eq!(client.events[3..], expected[..]);
}

/// RFC 1939 section 7: UIDL.
#[test]
fn rfc1939_s7_uidl() {
    let (maildrop, _, _) = rfc1939_maildrop();
    let script = format!(
        "{LOGIN}
        C: UIDL
        S: +OK
        S: 1 whqtswO00WBw418f9t5JxYwZ
        S: 2 QhdPYR:00WBw1Ph7x7
        S: .
        C: UIDL 2
        S: +OK 2 QhdPYR:00WBw1Ph7x7
        C: UIDL 3
        S: -ERR no such message, only 2 messages in maildrop
        "
    );
    let (_, client) = replay_both(rfc1939_config(), &maildrop, &script);
    let ids = &client.ids;
    let uidl = |m, id: &'static str| UniqueIdListing {
        message: n(m),
        unique_id: UniqueId::new(id).unwrap(),
    };
    assert_eq!(
        client.events[3..],
        [
            resp(
                ids[2],
                Response::UniqueIdListings {
                    status: st("+OK"),
                    listings: vec![uidl(1, UID1), uidl(2, UID2)],
                }
            ),
            resp(ids[3], Response::UniqueIdListing(uidl(2, UID2))),
            status(ids[4], "-ERR no such message, only 2 messages in maildrop"),
        ]
    );
}

/// RFC 1939 section 7: USER.
///
/// Our session never looks a name up at USER (the application sees it only
/// with the password), which RFC 1939 allows: "The server may return a
/// positive response even though no such mailbox exists." So the RFC's
/// `-ERR` for frated cannot be reproduced on the server side: ours answers
/// `+OK`, and the failure comes at PASS as `-ERR [AUTH]`.
#[test]
fn rfc1939_s7_user() {
    let (maildrop, _, _) = rfc1939_maildrop();
    let script = "
        S: +OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>
        C: USER frated
        S- -ERR sorry, no mailbox for frated here
        S+ +OK Send PASS
        C: USER mrose
        S~ +OK | mrose is a real hoopy frood
    ";
    let (mut server, client) = replay_both(rfc1939_config(), &maildrop, script);
    assert_eq!(
        client.events,
        vec![
            greeting("+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>"),
            status(client.ids[0], "-ERR sorry, no mailbox for frated here"),
            status(client.ids[1], "+OK mrose is a real hoopy frood"),
        ]
    );
    assert_eq!(client.client.state(), ClientState::Authorization);

    let out = server.exchange("USER frated\r\nPASS secret\r\n");
    assert_eq!(out, "+OK Send PASS\r\n-ERR [AUTH] Authentication failed\r\n");
}

/// RFC 1939 section 7: PASS, first with the maildrop locked by another
/// session, then free.
#[test]
fn rfc1939_s7_pass() {
    let (maildrop, _, _) = rfc1939_maildrop();
    let other = logged_in(rfc1939_config(), &maildrop);
    let locked = "
        S: +OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>
        C: USER mrose
        S~ +OK | mrose is a real hoopy frood
        C: PASS secret
        # Ours adds the response code of RFC 2449 section 8.1.2.
        S- -ERR maildrop already locked
        S+ -ERR [IN-USE] Maildrop already locked
    ";
    let mut server = Server::new(rfc1939_config(), &maildrop);
    server.replay(locked);
    assert!(!server.session.is_authenticated());
    drop(other);
    let free = "
        C: USER mrose
        S~ +OK | mrose is a real hoopy frood
        C: PASS secret
        S~ +OK | mrose's maildrop has 2 messages (320 octets)
    ";
    server.replay(free);
    assert!(server.session.is_authenticated());

    let mut client = ClientReplay::new();
    client.replay(&format!("{locked}{free}"));
    let ids = &client.ids;
    assert_eq!(
        client.events[1..],
        [
            status(ids[0], "+OK mrose is a real hoopy frood"),
            status(ids[1], "-ERR maildrop already locked"),
            status(ids[2], "+OK mrose is a real hoopy frood"),
            status(ids[3], "+OK mrose's maildrop has 2 messages (320 octets)"),
        ]
    );
    assert_eq!(client.client.state(), ClientState::Transaction);
}

/// RFC 1939 section 7: APOP, with the shared secret "tanstaaf"; the client
/// computes the digest from the greeting.
#[test]
fn rfc1939_s7_apop() {
    let maildrop = MemoryMaildrop::new();
    maildrop.push(UniqueId::new("a").unwrap(), message_of_size("the one", 369));
    let script = "
        S: +OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>
        C: APOP mrose c4c9334bac560ecc979e58001b3e22fb
        S: +OK maildrop has 1 message (369 octets)
    ";
    let (server, client) = replay_both(rfc1939_config(), &maildrop, script);
    let [ServerEvent::Login(request @ LoginRequest::Apop { user, .. })] = &server.events[..] else {
        panic!("{:?}", server.events)
    };
    assert_eq!(user.as_inner(), b"mrose");
    assert!(request.verify_apop(b"tanstaaf"));
    assert!(!request.verify_apop(b"tanstaaF"));
    assert_eq!(
        client.events,
        vec![
            greeting("+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>"),
            status(client.ids[0], "+OK maildrop has 1 message (369 octets)"),
        ]
    );
    assert_eq!(client.client.state(), ClientState::Transaction);
}

/// RFC 1939 section 10: the sample session.
#[test]
fn rfc1939_s10_sample_session() {
    let (maildrop, m1, m2) = rfc1939_maildrop();
    let script = format!(
        "
        S: +OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>
        C: APOP mrose c4c9334bac560ecc979e58001b3e22fb
        S~ +OK | mrose's maildrop has 2 messages (320 octets)
        C: STAT
        S: +OK 2 320
        C: LIST
        S~ +OK | 2 messages (320 octets)
        S: 1 120
        S: 2 200
        S: .
        C: RETR 1
        S: +OK 120 octets
        {}S: .
        C: DELE 1
        S: +OK message 1 deleted
        C: RETR 2
        S: +OK 200 octets
        {}S: .
        C: DELE 2
        S: +OK message 2 deleted
        C: QUIT
        S~ +OK | dewey POP3 server signing off (maildrop empty)
        ",
        body_script(&m1),
        body_script(&m2)
    );
    let (server, client) = replay_both(rfc1939_config(), &maildrop, &script);
    assert!(server.session.is_closed());
    assert_eq!(server.closed_events(), [&ServerEvent::Closed { committed: true }]);
    assert!(maildrop.messages().is_empty());
    assert!(!maildrop.is_locked());

    let ids = &client.ids;
    let mut expected = vec![
        greeting("+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>"),
        status(ids[0], "+OK mrose's maildrop has 2 messages (320 octets)"),
        resp(ids[1], Response::Stat(Stat { count: 2, size: 320 })),
        resp(
            ids[2],
            Response::ScanListings {
                status: st("+OK 2 messages (320 octets)"),
                listings: vec![
                    ScanListing {
                        message: n(1),
                        size: 120,
                    },
                    ScanListing {
                        message: n(2),
                        size: 200,
                    },
                ],
            },
        ),
    ];
    expected.extend(message_events(ids[3], "+OK 120 octets", &m1));
    expected.push(status(ids[4], "+OK message 1 deleted"));
    expected.extend(message_events(ids[5], "+OK 200 octets", &m2));
    expected.push(status(ids[6], "+OK message 2 deleted"));
    expected.push(status(
        ids[7],
        "+OK dewey POP3 server signing off (maildrop empty)",
    ));
    assert_eq!(client.events, expected);
    assert_eq!(client.client.state(), ClientState::Closed);
}

// ---------------------------------------------------------------------------
// RFC 2449
// ---------------------------------------------------------------------------

/// RFC 2449 section 5: the CAPA example.
#[test]
fn rfc2449_capa() {
    let config = ServerConfig {
        allow_plaintext_auth: true,
        login_delay: Some(900),
        expire: Some(Expire::Days(60)),
        implementation: Some("Shlemazle-Plotz-v302".into()),
        utf8: false,
        ..ServerConfig::default()
    };
    let script = "
        S: +OK POP3 server ready
        C: CAPA
        S: +OK Capability list follows
        S? TOP
        S? USER
        # Ours offers PLAIN wherever it offers USER: both send the password
        # in the clear and both follow allow_plaintext_auth.
        S?- SASL CRAM-MD5 KERBEROS_V4
        S?+ SASL PLAIN CRAM-MD5 KERBEROS_V4
        S? RESP-CODES
        S? LOGIN-DELAY 900
        S? PIPELINING
        S? EXPIRE 60
        S? UIDL
        S? IMPLEMENTATION Shlemazle-Plotz-v302
        # Ours also implements RFC 3206.
        S?+ AUTH-RESP-CODE
        S: .
    ";
    let maildrop = MemoryMaildrop::new();
    let mut server = Server::new(config, &maildrop);
    server
        .session
        .add_mechanism(mech("CRAM-MD5"), || Box::new(ScriptedMechanism::new()));
    server
        .session
        .add_mechanism(mech("KERBEROS_V4"), || Box::new(ScriptedMechanism::new()));
    server.replay(script);

    let mut client = ClientReplay::new();
    client.replay(script);
    let capabilities = vec![
        Capability::Top,
        Capability::User,
        Capability::Sasl(vec![mech("CRAM-MD5"), mech("KERBEROS_V4")]),
        Capability::RespCodes,
        Capability::LoginDelay {
            seconds: 900,
            per_user: false,
        },
        Capability::Pipelining,
        Capability::Expire {
            policy: Expire::Days(60),
            per_user: false,
        },
        Capability::Uidl,
        Capability::Implementation(text("Shlemazle-Plotz-v302")),
    ];
    assert_eq!(
        client.events[1..],
        [resp(
            client.ids[0],
            Response::Capabilities {
                status: st("+OK Capability list follows"),
                capabilities: capabilities.clone(),
            }
        )]
    );
    assert_eq!(client.client.capabilities(), Some(&capabilities[..]));
    assert!(client.client.pipelining());
}

/// RFC 2449 section 8: the IN-USE example.
#[test]
fn rfc2449_in_use() {
    let (maildrop, _, _) = rfc1939_maildrop();
    let _holder = logged_in(rfc1939_config(), &maildrop);
    let script = "
        S: +OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>
        C: APOP mrose c4c9334bac560ecc979e58001b3e22fb
        S~ -ERR [IN-USE] | Do you have another POP session running?
    ";
    let (server, client) = replay_both(rfc1939_config(), &maildrop, script);
    assert!(!server.session.is_authenticated());
    let ClientEvent::Response {
        response: Response::Status(line),
        ..
    } = &client.events[1]
    else {
        panic!("{:?}", client.events)
    };
    assert_eq!(line.code, Some(ResponseCode::InUse));
    assert_eq!(line.text.as_bytes(), b"Do you have another POP session running?");
    assert_eq!(client.client.state(), ClientState::Authorization);
}

/// RFC 2449 sections 6.5 and 8.1.1: LOGIN-DELAY, announced and enforced by
/// the application with the times it passes in.
#[test]
fn rfc2449_login_delay() {
    let config = ServerConfig {
        login_delay: Some(900),
        ..rfc1939_config()
    };
    let (maildrop, _, _) = rfc1939_maildrop();
    let mut server = Server::new(config, &maildrop);
    let (last_login, now) = (1_000, 1_600);
    server.auth = Box::new(move |request| {
        rfc_users(request)?;
        match login_delay_remaining(900, Some(last_login), now) {
            0 => Ok(()),
            _ => Err(LoginRejection::LoginDelay),
        }
    });
    let script = "
        S: +OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>
        C: CAPA
        S: +OK Capability list follows
        S? TOP
        S? UIDL
        S? USER
        S? SASL PLAIN
        S? RESP-CODES
        S? AUTH-RESP-CODE
        S? PIPELINING
        S? LOGIN-DELAY 900
        S? UTF8 USER
        S? IMPLEMENTATION mailwire
        S: .
        C: APOP mrose c4c9334bac560ecc979e58001b3e22fb
        S~ -ERR [LOGIN-DELAY] | minimum time between mail checks violated
        C: USER mrose
        S~ +OK | mrose is a real hoopy frood
        C: PASS secret
        S~ -ERR [LOGIN-DELAY] | minimum time between mail checks violated
    ";
    server.replay(script);
    assert!(!maildrop.is_locked());

    let mut client = ClientReplay::new();
    client.apop_secret = Some(b"tanstaaf".to_vec());
    client.replay(script);
    assert!(client.client.has_capability(|c| *c
        == Capability::LoginDelay {
            seconds: 900,
            per_user: false
        }));
    let ClientEvent::Response {
        response: Response::Status(line),
        ..
    } = &client.events[2]
    else {
        panic!("{:?}", client.events)
    };
    assert_eq!(line.code, Some(ResponseCode::LoginDelay));
    assert_eq!(client.client.state(), ClientState::Authorization);
}

// ---------------------------------------------------------------------------
// RFC 2595
// ---------------------------------------------------------------------------

fn tls_config() -> ServerConfig {
    ServerConfig {
        tls: Tls::Available,
        utf8: false,
        implementation: None,
        ..ServerConfig::default()
    }
}

/// RFC 2595 section 4: the STLS example, with CAPA before and after (the
/// client must forget the capabilities, the server may change them).
#[test]
fn rfc2595_stls() {
    let script = "
        S: +OK POP3 server ready
        C: CAPA
        S: +OK Capability list follows
        S? TOP
        S? UIDL
        S? RESP-CODES
        S? AUTH-RESP-CODE
        S? PIPELINING
        S? STLS
        S: .
        C: STLS
        S: +OK Begin TLS negotiation
        # TLS negotiation; further commands are under the TLS layer.
        C: CAPA
        S: +OK Capability list follows
        S? TOP
        S? UIDL
        S? USER
        S? SASL PLAIN
        S? RESP-CODES
        S? AUTH-RESP-CODE
        S? PIPELINING
        S: .
        C: STLS
        S~ -ERR | Command not permitted when TLS active
    ";
    let mut server = Server::new(tls_config(), &MemoryMaildrop::new());
    server.replay(script);
    assert_eq!(server.events, vec![ServerEvent::StartTls]);

    let mut client = ClientReplay::new();
    client.replay(script);
    let ids = &client.ids;
    assert!(matches!(client.events[1], ClientEvent::Response { id, .. } if id == ids[0]));
    assert_eq!(
        client.events[2..4],
        [status(ids[1], "+OK Begin TLS negotiation"), ClientEvent::StartTls]
    );
    assert!(matches!(client.events[4], ClientEvent::Response { id, .. } if id == ids[2]));
    assert_eq!(
        client.events[5..],
        [status(ids[3], "-ERR Command not permitted when TLS active")]
    );
    assert!(client.client.has_capability(|c| *c == Capability::User));
    assert!(!client.client.has_capability(|c| *c == Capability::Stls));
}

/// RFC 2595 section 4: after STLS the client forgets the capabilities
/// until it asks again.
#[test]
fn rfc2595_client_forgets_capabilities_after_stls() {
    let mut client = ClientReplay::new();
    client.replay(
        "
        S: +OK POP3 server ready
        C: CAPA
        S: +OK Capability list follows
        S: PIPELINING
        S: STLS
        S: .
        C: STLS
        S: +OK Begin TLS negotiation
        ",
    );
    assert_eq!(client.client.capabilities(), None);
    assert!(!client.client.pipelining());
    assert_eq!(client.client.state(), ClientState::Authorization);
}

// ---------------------------------------------------------------------------
// RFC 5034
// ---------------------------------------------------------------------------

const DIGEST_CHALLENGE: &str = "cmVhbG09ImVsd29vZC5pbm5vc29mdC5jb20iLG5vbmNlPSJPQTZNRzl0RVFHbTJoaCIscW9wPSJhdXRoIixhbGdvcml0aG09bWQ1LXNlc3MsY2hhcnNldD11dGYtOA==";
const DIGEST_RESPONSE: &str = "Y2hhcnNldD11dGYtOCx1c2VybmFtZT0iY2hyaXMiLHJlYWxtPSJlbHdvb2QuaW5ub3NvZnQuY29tIixub25jZT0iT0E2TUc5dEVRR20yaGgiLG5jPTAwMDAwMDAxLGNub25jZT0iT0E2TUhYaDZWcVRyUmsiLGRpZ2VzdC11cmk9InBvcC9lbHdvb2QuaW5ub3NvZnQuY29tIixyZXNwb25zZT1iMGQ1NmQyZjA1NGMyNGI2MjA3MjMyMjEwNjQ2OGRiOSxxb3A9YXV0aA==";
const DIGEST_RSPAUTH: &str = "cnNwYXV0aD0wYjk3MTQ2MmNlZjVlOGY5MzBkYjlhMzNiMDJmYzlhMA==";

/// The server of the RFC 5034 examples.
fn rfc5034_server(allow_plaintext_auth: bool) -> Server {
    let config = ServerConfig {
        greeting: "pop.example.com BlurdyBlurp POP3 server ready".into(),
        implementation: Some("BlurdyBlurp POP3 server".into()),
        allow_plaintext_auth,
        ..tls_config()
    };
    let (maildrop, _, _) = rfc1939_maildrop();
    let mut server = Server::new(config, &maildrop);
    // The DIGEST-MD5 exchange of RFC 5034 section 6, as a fixed script.
    server.session.add_mechanism(mech("DIGEST-MD5"), || {
        Box::new(
            ScriptedMechanism::new()
                .then(None, SaslStep::Challenge(unbase64(DIGEST_CHALLENGE)))
                .then(
                    Some(&unbase64(DIGEST_RESPONSE)),
                    SaslStep::Challenge(unbase64(DIGEST_RSPAUTH)),
                )
                .then(
                    Some(b""),
                    SaslStep::Success {
                        authcid: b"chris".to_vec(),
                        authzid: None,
                    },
                ),
        )
    });
    // A GSSAPI-like exchange with binary tokens: an empty initial
    // response, a token back and forth, then the security-layer message.
    server.session.add_mechanism(mech("GSSAPI"), || {
        Box::new(
            ScriptedMechanism::new()
                .then(Some(b""), SaslStep::Challenge(vec![0x60, 0x00, 0xff, 0x0d, 0x0a]))
                .then(
                    Some(&[0x60, 0x01, 0x00, 0x2e]),
                    SaslStep::Challenge(vec![0x01, 0, 0x10, 0]),
                )
                .then(
                    Some(&[0x01, 0, 0x10, 0, b'c', b'h', b'r', b'i', b's']),
                    SaslStep::Success {
                        authcid: b"chris@ELWOOD.INNOSOFT.COM".to_vec(),
                        authzid: Some(b"chris".to_vec()),
                    },
                ),
        )
    });
    server.session.add_mechanism(mech("ANONYMOUS"), || {
        Box::new(ScriptedMechanism::new().then(
            Some(b"sirhc"),
            SaslStep::Success {
                authcid: b"anonymous".to_vec(),
                authzid: None,
            },
        ))
    });
    server
}

/// RFC 5034 section 3: the CAPA example (a server that offers PLAIN
/// before TLS).
#[test]
fn rfc5034_s3_capa() {
    let script = "
        S: +OK pop.example.com BlurdyBlurp POP3 server ready
        C: CAPA
        S~ +OK | List of capabilities follows
        S? SASL PLAIN DIGEST-MD5 GSSAPI ANONYMOUS
        S? STLS
        S? IMPLEMENTATION BlurdyBlurp POP3 server
        S?+ TOP
        S?+ UIDL
        S?+ USER
        S?+ RESP-CODES
        S?+ AUTH-RESP-CODE
        S?+ PIPELINING
        S: .
    ";
    rfc5034_server(true).replay(script);
    let mut client = ClientReplay::new();
    client.replay(script);
    assert_eq!(
        client.client.capabilities(),
        Some(
            &[
                Capability::Sasl(vec![
                    Mechanism::PLAIN,
                    mech("DIGEST-MD5"),
                    mech("GSSAPI"),
                    mech("ANONYMOUS")
                ]),
                Capability::Stls,
                Capability::Implementation(text("BlurdyBlurp POP3 server")),
            ][..]
        )
    );
}

/// The part of the RFC 5034 section 6 examples before AUTH: CAPA, STLS,
/// CAPA again.
const RFC5034_TO_TLS: &str = "
    S: +OK pop.example.com BlurdyBlurp POP3 server ready
    C: CAPA
    S~ +OK | List of capabilities follows
    S? SASL DIGEST-MD5 GSSAPI ANONYMOUS
    S? STLS
    S? IMPLEMENTATION BlurdyBlurp POP3 server
    S?+ TOP
    S?+ UIDL
    S?+ RESP-CODES
    S?+ AUTH-RESP-CODE
    S?+ PIPELINING
    S: .
    C: STLS
    S~ +OK | Begin TLS negotiation now
    # TLS negotiation proceeds, further commands protected by TLS layer.
    C: CAPA
    S~ +OK | List of capabilities follows
    S? SASL PLAIN DIGEST-MD5 GSSAPI ANONYMOUS
    S? IMPLEMENTATION BlurdyBlurp POP3 server
    S?+ TOP
    S?+ UIDL
    S?+ USER
    S?+ RESP-CODES
    S?+ AUTH-RESP-CODE
    S?+ PIPELINING
    S: .
";

/// RFC 5034 section 6, first example: AUTH PLAIN with an initial response
/// under TLS. The client builds the line with `login_plain`.
#[test]
fn rfc5034_s6_plain_with_initial_response() {
    let script = format!(
        "{RFC5034_TO_TLS}
        C: AUTH PLAIN dGVzdAB0ZXN0AHRlc3Q=
        S~ +OK | Maildrop locked and ready
        "
    );
    let mut server = rfc5034_server(false);
    server.replay(&script);
    assert!(server.session.is_authenticated());
    let logins = server.logins();
    let [LoginRequest::Plain(credentials)] = &logins[..] else {
        panic!("{logins:?}")
    };
    assert_eq!(
        (
            credentials.authzid.as_slice(),
            credentials.authcid.as_slice(),
            credentials.expose_password()
        ),
        (&b"test"[..], &b"test"[..], &b"test"[..])
    );

    let mut client = ClientReplay::new();
    client.replay(&script);
    assert_eq!(
        client.events.last(),
        Some(&status(client.ids[3], "+OK Maildrop locked and ready"))
    );
    assert_eq!(client.client.state(), ClientState::Transaction);
    assert!(
        client
            .client
            .has_capability(|c| matches!(c, Capability::Sasl(m) if m[0] == Mechanism::PLAIN))
    );
}

/// RFC 5034 section 6, second example: AUTH PLAIN without an initial
/// response, answered after the empty challenge `+ `.
#[test]
fn rfc5034_s6_plain_after_empty_challenge() {
    let script = format!(
        "{RFC5034_TO_TLS}
        C: AUTH PLAIN
        # There is a space after the '+'.
        S: +<SP>
        C: dGVzdAB0ZXN0AHRlc3Q=
        S~ +OK | Maildrop locked and ready
        "
    );
    let mut server = rfc5034_server(false);
    server.replay(&script);
    assert!(server.session.is_authenticated());
    assert!(matches!(server.logins()[..], [LoginRequest::Plain(_)]));

    let mut client = ClientReplay::new();
    client.replay(&script);
    let id = client.ids[3];
    assert_eq!(
        client.events[client.events.len() - 2..],
        [
            ClientEvent::Challenge { id, data: Vec::new() },
            status(id, "+OK Maildrop locked and ready")
        ]
    );
    assert_eq!(client.client.state(), ClientState::Transaction);
}

/// RFC 5034 section 6, third example: DIGEST-MD5, a mechanism that starts
/// with a server challenge and ends with an empty client response.
#[test]
fn rfc5034_s6_digest_md5() {
    let script = format!(
        "
        S: +OK pop.example.com BlurdyBlurp POP3 server ready
        C: CAPA
        S~ +OK | List of capabilities follows
        S? SASL DIGEST-MD5 GSSAPI ANONYMOUS
        S? STLS
        S? IMPLEMENTATION BlurdyBlurp POP3 server
        S?+ TOP
        S?+ UIDL
        S?+ RESP-CODES
        S?+ AUTH-RESP-CODE
        S?+ PIPELINING
        S: .
        C: AUTH DIGEST-MD5
        S: + {DIGEST_CHALLENGE}
        C: {DIGEST_RESPONSE}
        S: + {DIGEST_RSPAUTH}
        C:
        S~ +OK | Maildrop locked and ready
        "
    );
    let mut server = rfc5034_server(false);
    server.replay(&script);
    assert!(server.session.is_authenticated());
    assert_eq!(
        server.logins(),
        [&LoginRequest::Sasl {
            mechanism: mech("DIGEST-MD5"),
            authcid: b"chris".to_vec(),
            authzid: None,
        }]
    );

    let mut client = ClientReplay::new();
    client.replay(&script);
    let id = client.ids[1];
    assert_eq!(
        client.events[2..],
        [
            ClientEvent::Challenge {
                id,
                data: unbase64(DIGEST_CHALLENGE)
            },
            ClientEvent::Challenge {
                id,
                data: b"rspauth=0b971462cef5e8f930db9a33b02fc9a0".to_vec()
            },
            status(id, "+OK Maildrop locked and ready"),
        ]
    );
    assert_eq!(client.client.state(), ClientState::Transaction);
}

/// RFC 5034 section 4 with a GSSAPI-like mechanism: an empty initial
/// response sent as `=`, binary tokens (CR and LF among them) both ways.
#[test]
fn rfc5034_gssapi_like_exchange_with_empty_initial_response() {
    let challenge1 = b64(&[0x60, 0x00, 0xff, 0x0d, 0x0a]);
    let response1 = b64(&[0x60, 0x01, 0x00, 0x2e]);
    let challenge2 = b64(&[0x01, 0, 0x10, 0]);
    let response2 = b64(&[0x01, 0, 0x10, 0, b'c', b'h', b'r', b'i', b's']);
    let script = format!(
        "{RFC5034_TO_TLS}
        C: AUTH GSSAPI =
        S: + {challenge1}
        C: {response1}
        S: + {challenge2}
        C: {response2}
        S~ +OK | Maildrop locked and ready
        "
    );
    let mut server = rfc5034_server(false);
    server.replay(&script);
    let logins = server.logins();
    assert_eq!(logins.len(), 1);
    assert_eq!(logins[0].user(), b"chris");

    let mut client = ClientReplay::new();
    client.replay(&script);
    assert_eq!(client.client.state(), ClientState::Transaction);
}

fn b64(raw: &[u8]) -> String {
    mailwire_pop3::SaslData::encode(raw).as_str().to_string()
}

/// CRAM-MD5 with the values of RFC 2195 (and RFC 2595 section 6).
#[test]
fn rfc5034_cram_md5() {
    let script = "
        S: +OK POP3 server ready
        C: AUTH CRAM-MD5
        S: + PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+
        C: dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw
        S~ +OK | CRAM-MD5 password initialized
    ";
    let (maildrop, _, _) = rfc1939_maildrop();
    let mut server = Server::new(tls_config(), &maildrop);
    server.session.add_mechanism(mech("CRAM-MD5"), cram_md5);
    server.replay(script);
    assert_eq!(server.logins()[0].user(), b"tim");

    let mut client = ClientReplay::new();
    client.replay(script);
    assert_eq!(
        client.events[1],
        ClientEvent::Challenge {
            id: client.ids[0],
            data: b"<1896.697170952@postoffice.reston.mci.net>".to_vec()
        }
    );
    assert_eq!(client.client.state(), ClientState::Transaction);
}

fn cram_md5() -> Box<dyn mailwire_pop3::SaslMechanism> {
    Box::new(
        ScriptedMechanism::new()
            .then(
                None,
                SaslStep::Challenge(b"<1896.697170952@postoffice.reston.mci.net>".to_vec()),
            )
            .then(
                Some(b"tim b913a602c7eda7a495b4e6e7334d3890"),
                SaslStep::Success {
                    authcid: b"tim".to_vec(),
                    authzid: None,
                },
            ),
    )
}

/// RFC 5034 section 4: `=` is an empty initial response (EXTERNAL, whose
/// empty message means "authorize as the certificate's identity"), and an
/// empty line answers an empty challenge.
#[test]
fn rfc5034_empty_initial_response() {
    let script = "
        S: +OK POP3 server ready
        C: AUTH EXTERNAL =
        S~ +OK | Maildrop locked and ready
    ";
    let (maildrop, _, _) = rfc1939_maildrop();
    let mut server = Server::new(tls_config(), &maildrop);
    server
        .session
        .add_mechanism(mech("EXTERNAL"), || Box::new(External));
    server.replay(script);
    assert_eq!(
        server.logins(),
        [&LoginRequest::Sasl {
            mechanism: mech("EXTERNAL"),
            authcid: b"cert-subject".to_vec(),
            authzid: None
        }]
    );
    let mut client = ClientReplay::new();
    client.replay(script);
    assert_eq!(client.client.state(), ClientState::Transaction);

    // Without an initial response: an empty challenge, an empty answer.
    let script = "
        S: +OK POP3 server ready
        C: AUTH EXTERNAL
        S: +<SP>
        C:
        S~ +OK | Maildrop locked and ready
    ";
    let mut server = Server::new(tls_config(), &MemoryMaildrop::new());
    server
        .session
        .add_mechanism(mech("EXTERNAL"), || Box::new(External));
    server.replay(script);
    assert!(server.session.is_authenticated());
    let mut client = ClientReplay::new();
    client.replay(script);
    assert_eq!(client.client.state(), ClientState::Transaction);

    // `=` for PLAIN is an empty PLAIN message: malformed.
    let mut server = Server::new(
        ServerConfig {
            tls: Tls::Active,
            ..tls_config()
        },
        &MemoryMaildrop::new(),
    );
    server.take_output();
    assert_eq!(
        server.exchange("AUTH PLAIN =\r\n"),
        "-ERR [AUTH] Malformed PLAIN message\r\n"
    );
}

/// RFC 5034 section 4: `*` cancels; the server answers -ERR and behaves as
/// if AUTH had not been sent.
#[test]
fn rfc5034_cancel() {
    let script = "
        S: +OK POP3 server ready
        C: AUTH CRAM-MD5
        S: + PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+
        C: *
        S~ -ERR | AUTH command cancelled
        C: AUTH CRAM-MD5
        S: + PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+
        C: dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw
        S~ +OK | Maildrop locked and ready
    ";
    let (maildrop, _, _) = rfc1939_maildrop();
    let mut server = Server::new(tls_config(), &maildrop);
    server.session.add_mechanism(mech("CRAM-MD5"), cram_md5);
    server.replay(script);
    assert_eq!(server.logins().len(), 1);

    let mut client = ClientReplay::new();
    client.replay(script);
    let ClientEvent::Response {
        id,
        response: Response::Status(line),
    } = &client.events[2]
    else {
        panic!("{:?}", client.events)
    };
    assert_eq!((*id, line.is_ok()), (client.ids[0], false));
    assert_eq!(client.client.state(), ClientState::Transaction);
}

/// RFC 5034 section 4: the failures, each answered with -ERR and leaving
/// the session in AUTHORIZATION.
#[test]
fn rfc5034_failures() {
    let (maildrop, _, _) = rfc1939_maildrop();
    let mut server = Server::new(
        ServerConfig {
            tls: Tls::Active,
            ..tls_config()
        },
        &maildrop,
    );
    server.session.add_mechanism(mech("CRAM-MD5"), cram_md5);
    server.take_output();
    let wrong = b64(b"\0test\0wrong");
    let cases: Vec<(String, &str)> = vec![
        // An unsupported mechanism.
        ("AUTH X-UNKNOWN\r\n".into(), "-ERR Unsupported SASL mechanism\r\n"),
        // Wrong credentials.
        (
            format!("AUTH PLAIN {wrong}\r\n"),
            "-ERR [AUTH] Authentication failed\r\n",
        ),
        (
            format!("AUTH PLAIN\r\n{wrong}\r\n"),
            "+ \r\n-ERR [AUTH] Authentication failed\r\n",
        ),
        // A response that is not base64, or with the pad in the middle.
        ("AUTH PLAIN\r\nnot base64!\r\n".into(), "+ \r\n-ERR "),
        ("AUTH PLAIN\r\nAA=A\r\n".into(), "+ \r\n-ERR "),
        ("AUTH PLAIN =AAA\r\n".into(), "-ERR "),
        // An initial response to a mechanism that starts with a challenge.
        (
            "AUTH CRAM-MD5 dGlt\r\n".into(),
            "-ERR [AUTH] Authentication failed\r\n",
        ),
        // A wrong answer to the challenge.
        (
            "AUTH CRAM-MD5\r\ndGlt\r\n".into(),
            "+ PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n-ERR [AUTH] Authentication failed\r\n",
        ),
        // A command where a SASL response is due ends the exchange.
        ("AUTH PLAIN\r\nQUIT now\r\n".into(), "+ \r\n-ERR "),
    ];
    for (input, expected) in cases {
        let out = server.exchange(&input);
        assert!(out.starts_with(expected), "{input:?} gave {out:?}");
        assert!(
            out.ends_with("\r\n") && out.matches("-ERR").count() == 1,
            "{input:?} gave {out:?}"
        );
        assert!(!server.session.is_authenticated(), "{input:?}");
    }
    // Still usable, and no login reached the application but the wrong
    // PLAIN ones.
    assert!(
        server
            .logins()
            .iter()
            .all(|l| matches!(l, LoginRequest::Plain(c) if c.authcid == b"test"))
    );
    let right = b64(b"\0test\0test");
    assert!(
        server
            .exchange(&format!("AUTH PLAIN {right}\r\n"))
            .starts_with("+OK ")
    );
    // After a successful AUTH, AUTH is refused.
    assert!(
        server
            .exchange(&format!("AUTH PLAIN {right}\r\n"))
            .starts_with("-ERR ")
    );
    assert!(server.session.is_authenticated());
}

/// RFC 5034 section 4: a client whose initial response would make the AUTH
/// line longer than 255 octets waits for the empty challenge.
#[test]
fn rfc5034_long_initial_response_goes_after_the_challenge() {
    let password = "p".repeat(200);
    let credentials = b64(format!("\0alice\0{password}").as_bytes());
    let script = format!(
        "
        S: +OK POP3 server ready
        C: AUTH PLAIN
        S: +<SP>
        C: {credentials}
        S~ +OK | Maildrop locked and ready
        "
    );
    let mut server = Server::new(
        ServerConfig {
            tls: Tls::Active,
            ..tls_config()
        },
        &MemoryMaildrop::new(),
    );
    server.auth = Box::new(|r| match r {
        LoginRequest::Plain(c) if c.authcid == b"alice" => Ok(()),
        _ => Err(LoginRejection::BadCredentials),
    });
    server.replay(&script);
    assert!(server.session.is_authenticated());

    let mut client = ClientReplay::new();
    client.feed(b"+OK POP3 server ready\r\n");
    let id = client
        .client
        .login_plain(b"", b"alice", password.as_bytes())
        .unwrap();
    assert_eq!(client.sent(), b"AUTH PLAIN\r\n");
    client.feed(b"+ \r\n");
    assert_eq!(client.sent(), format!("{credentials}\r\n").as_bytes());
    client.feed(b"+OK Maildrop locked and ready\r\n");
    assert_eq!(
        client.events.last(),
        Some(&status(id, "+OK Maildrop locked and ready"))
    );
    assert_eq!(client.client.state(), ClientState::Transaction);
}

// ---------------------------------------------------------------------------
// RFC 6856
// ---------------------------------------------------------------------------

/// RFC 6856 section 2: the UTF8 capability and command, a UTF-8 user name,
/// and STLS refused after UTF8 (section 2.1).
#[test]
fn rfc6856_utf8() {
    let config = ServerConfig {
        allow_plaintext_auth: true,
        ..tls_config()
    };
    let config = ServerConfig { utf8: true, ..config };
    let script = "
        S: +OK POP3 server ready
        C: CAPA
        S: +OK Capability list follows
        S? TOP
        S? UIDL
        S? USER
        S? SASL PLAIN
        S? RESP-CODES
        S? AUTH-RESP-CODE
        S? PIPELINING
        S? STLS
        S? UTF8 USER
        S: .
        C: UTF8
        S~ +OK | UTF8 enabled
        C: STLS
        S~ -ERR | STLS not allowed after UTF8
        C: USER jöran
        S~ +OK | Hello, jöran
        C: PASS pässword
        S~ +OK | jöran's maildrop has 2 messages (320 octets)
    ";
    let (maildrop, _, _) = rfc1939_maildrop();
    let mut server = Server::new(config, &maildrop);
    server.auth = Box::new(|r| match r {
        LoginRequest::User { user, password }
            if user.as_str() == Some("jöran") && password.expose() == "pässword".as_bytes() =>
        {
            Ok(())
        }
        _ => Err(LoginRejection::BadCredentials),
    });
    server.replay(script);
    assert!(server.session.utf8_enabled());
    assert!(server.session.is_authenticated());
    assert!(!server.events.contains(&ServerEvent::StartTls));

    let mut client = ClientReplay::new();
    client.replay(script);
    assert!(
        client
            .client
            .has_capability(|c| *c == Capability::Utf8 { user: true })
    );
    assert_eq!(client.client.state(), ClientState::Transaction);
}

/// RFC 6856 section 2: UTF8 is valid in AUTHORIZATION only.
#[test]
fn rfc6856_utf8_only_in_authorization() {
    let (maildrop, _, _) = rfc1939_maildrop();
    let mut server = logged_in(rfc1939_config(), &maildrop);
    assert!(server.exchange("UTF8\r\n").starts_with("-ERR "));
    assert!(!server.session.utf8_enabled());
}

/// RFC 6856 section 3.3: the LANG examples. The server's preferred
/// language is listed first in our configuration, so `LANG *` selects
/// Spanish as in the RFC; the RFC leaves the order of the listing free.
/// Our server words its texts in English whatever the language.
#[test]
fn rfc6856_lang() {
    let languages = [
        ("es", "Espanol"),
        ("en", "English"),
        ("en-boont", "English Boontling dialect"),
        ("de", "Deutsch"),
        ("it", "Italiano"),
        ("sv", "Svenska"),
    ];
    let config = ServerConfig {
        languages: languages
            .iter()
            .map(|(t, d)| (LanguageTag::new(*t).unwrap(), d.to_string()))
            .collect(),
        ..rfc1939_config()
    };
    let script = "
        S: +OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>
        C: USER karen
        S~ +OK | Hello, karen
        C: PASS password
        S~ +OK | karen's maildrop contains 2 messages (320 octets)
        C: LANG MUL
        S~ -ERR | invalid language MUL
        C: LANG
        S~ +OK | Language listing follows:
        S? en English
        S? en-boont English Boontling dialect
        S? de Deutsch
        S? it Italiano
        S? es Espanol
        S? sv Svenska
        S: .
        C: LANG es
        S~ +OK es | Idioma cambiado
        C: LANG uga
        S~ -ERR | es Idioma <<UGA>> no es conocido
        C: LANG sv
        S~ +OK sv | Kommandot \"LANG\" lyckades
        C: LANG *
        S~ +OK es | Idioma cambiado
    ";
    let (maildrop, _, _) = rfc1939_maildrop();
    let mut server = Server::new(config, &maildrop);
    server.replay(script);
    assert_eq!(server.session.language().map(|t| t.as_str()), Some("es"));
    // A failed LANG keeps the language; ranges match case-insensitively and
    // by prefix (RFC 4647 basic filtering).
    assert!(server.exchange("LANG uga\r\n").starts_with("-ERR "));
    assert_eq!(server.session.language().map(|t| t.as_str()), Some("es"));
    assert!(server.exchange("LANG EN-BOONT\r\n").starts_with("+OK en-boont "));
    assert!(server.exchange("LANG en\r\n").starts_with("+OK en "));
    assert!(server.exchange("LANG e\r\n").starts_with("-ERR "));
    assert_eq!(server.session.language().map(|t| t.as_str()), Some("en"));

    let mut client = ClientReplay::new();
    client.replay(script);
    let ids = &client.ids;
    let language = |tag: &'static str, description: &'static str| Language {
        tag: LanguageTag::new(tag).unwrap(),
        description: text(description),
    };
    assert_eq!(
        client.events[3..],
        [
            status(ids[2], "-ERR invalid language MUL"),
            resp(
                ids[3],
                Response::Languages {
                    status: st("+OK Language listing follows:"),
                    languages: vec![
                        language("en", "English"),
                        language("en-boont", "English Boontling dialect"),
                        language("de", "Deutsch"),
                        language("it", "Italiano"),
                        language("es", "Espanol"),
                        language("sv", "Svenska"),
                    ],
                }
            ),
            status(ids[4], "+OK es Idioma cambiado"),
            status(ids[5], "-ERR es Idioma <<UGA>> no es conocido"),
            status(ids[6], "+OK sv Kommandot \"LANG\" lyckades"),
            status(ids[7], "+OK es Idioma cambiado"),
        ]
    );
}

/// RFC 6856 section 3.3: a LANG listing can fail; a server without
/// languages refuses LANG.
#[test]
fn rfc6856_lang_listing_refused() {
    let script = "
        S: +OK POP3 server ready
        C: LANG
        S~ -ERR | Server is unable to list languages
        C: LANG en
        S~ -ERR | not supported
    ";
    let (server, client) = replay_both(ServerConfig::default(), &MemoryMaildrop::new(), script);
    assert_eq!(server.session.language(), None);
    assert_eq!(
        client.events[1],
        status(client.ids[0], "-ERR Server is unable to list languages")
    );
    assert_eq!(client.client.state(), ClientState::Authorization);
}

/// RFC 6856 section 5: the UTF8 response code is defined for LIST, TOP and
/// RETR only ("a request for message content that contains a UTF-8 string
/// when the client is not in UTF-8 mode"); section 2.2 asks the server to
/// reject user names that are not UTF-8, with no code given.
#[test]
fn rfc6856_invalid_utf8_user_name_is_refused_without_the_utf8_code() {
    let mut server = Server::new(rfc1939_config(), &MemoryMaildrop::new());
    server.take_output();
    server.feed(b"USER j\xf6ran\r\n");
    let out = server.take_output();
    assert!(out.starts_with(b"-ERR"), "{}", show(&out));
    assert!(!out.starts_with(b"-ERR [UTF8]"), "{}", show(&out));
}

/// RFC 6856 section 2.1: "When UTF-8 mode has not been enabled, character
/// strings outside the ASCII repertoire MUST NOT be sent to the client as
/// is." A message with UTF-8 header fields (RFC 6532) is refused with
/// `-ERR [UTF8]` (section 5) or replaced by a surrogate; after UTF8 it is
/// sent as is.
#[test]
fn rfc6856_utf8_message_needs_utf8_mode() {
    let message = "From: jöran@exämple.org\r\nSubject: café\r\n\r\nhej\r\n".as_bytes();
    // The store marks the messages that need UTF-8 mode (an SMTPUTF8
    // delivery); legacy 8-bit mail stays readable without it.
    let maildrop = MemoryMaildrop::new();
    maildrop.push_message(UniqueId::new("id1").unwrap(), message.to_vec(), true);
    let mut server = logged_in(rfc1939_config(), &maildrop);
    for command in ["RETR 1\r\n", "TOP 1 0\r\n"] {
        let out = server.exchange(command);
        assert!(out.starts_with("-ERR [UTF8]"), "{command:?} gave {out:?}");
    }
    drop(server);

    let mut server = Server::new(rfc1939_config(), &maildrop);
    server.take_output();
    let out = server.exchange("UTF8\r\nUSER mrose\r\nPASS secret\r\nRETR 1\r\n");
    assert!(out.ends_with("Subject: café\r\n\r\nhej\r\n.\r\n"), "{out}");
}

// ---------------------------------------------------------------------------
// CAPA across states
// ---------------------------------------------------------------------------

/// RFC 2449 section 5: "Capabilities available in the AUTHORIZATION state
/// MUST be announced in both states." RFC 5034 section 3: "implementations
/// MUST continue to include the SASL capability even after a successful
/// AUTH command has been completed". USER and SASL are "both / no".
/// (STLS is announced in AUTHORIZATION only, RFC 2595 section 4.)
#[test]
fn capa_in_transaction_keeps_user_and_sasl() {
    let (maildrop, _, _) = rfc1939_maildrop();
    let mut server = Server::new(rfc1939_config(), &maildrop);
    server.take_output();
    let before = server.exchange("CAPA\r\n");
    server.exchange("USER mrose\r\nPASS secret\r\n");
    assert!(server.session.is_authenticated());
    let after = server.exchange("CAPA\r\n");
    assert!(
        before.contains("\r\nUSER\r\n") && before.contains("\r\nSASL PLAIN\r\n"),
        "{before}"
    );
    assert_eq!(after, before);
}

// ---------------------------------------------------------------------------
// Edge cases: message bodies
// ---------------------------------------------------------------------------

/// Logs in on a maildrop holding `messages`, runs `commands`, and returns
/// what the server sent for them.
fn run_on(messages: &[&[u8]], commands: &str) -> String {
    let maildrop = maildrop_with(messages);
    let mut server = logged_in(rfc1939_config(), &maildrop);
    server.exchange(commands)
}

/// What a client makes of `wire` as the answer to RETR: its events, joined.
fn client_reads(wire: &[u8]) -> Vec<u8> {
    let mut client = ClientReplay::new();
    client.feed(b"+OK ready\r\n");
    let id = client.client.send(Command::Retr(n(1)));
    client.sent();
    client.feed(wire);
    body_of(&client.events, id).expect("a complete body")
}

/// Checks that RETR 1 on `message` sends exactly `wire` (status line
/// included), that the announced size and LIST size are the octets a client
/// reads, and that the client reads the CRLF-normalised message.
fn check_retr(message: &[u8], wire: &str) {
    let out = run_on(&[message], "LIST 1\r\nRETR 1\r\n");
    let normalised = normalise(message);
    let list = format!("+OK 1 {}\r\n", normalised.len());
    assert_eq!(out, format!("{list}{wire}"), "message {:?}", show(message));
    let read = client_reads(wire.as_bytes());
    assert_eq!(show(&read), show(&normalised));
    assert!(wire.starts_with(&format!("+OK {} octets\r\n", read.len())));
}

#[test]
fn body_line_that_is_a_single_dot() {
    check_retr(
        b"Subject: dot\r\n\r\nbefore\r\n.\r\nafter\r\n",
        "+OK 34 octets\r\nSubject: dot\r\n\r\nbefore\r\n..\r\nafter\r\n.\r\n",
    );
    // First line, and last line without CRLF.
    check_retr(b".\r\n", "+OK 3 octets\r\n..\r\n.\r\n");
    check_retr(b"a\r\n.", "+OK 6 octets\r\na\r\n..\r\n.\r\n");
    check_retr(b".", "+OK 3 octets\r\n..\r\n.\r\n");
}

#[test]
fn lines_starting_with_dots_are_stuffed() {
    check_retr(
        b"Subject: dots\r\n\r\n..\r\n...\r\n.x\r\n..x\r\n. \r\nx.\r\n",
        "+OK 43 octets\r\nSubject: dots\r\n\r\n...\r\n....\r\n..x\r\n...x\r\n.. \r\nx.\r\n.\r\n",
    );
}

#[test]
fn message_without_final_crlf() {
    check_retr(
        b"Subject: x\r\n\r\nno newline",
        "+OK 26 octets\r\nSubject: x\r\n\r\nno newline\r\n.\r\n",
    );
    check_retr(
        b"Subject: x\r\n\r\nlone CR\r",
        "+OK 23 octets\r\nSubject: x\r\n\r\nlone CR\r\n.\r\n",
    );
    check_retr(b"", "+OK 0 octets\r\n.\r\n");
}

/// Bare LF in a stored message becomes CRLF on the wire, and every size the
/// server announces (LIST, STAT, RETR) is what the client reads, unstuffed.
#[test]
fn bare_lf_messages_sizes_match_retr() {
    let messages: [&[u8]; 4] = [
        b"Subject: lf\n\nline one\n.dot\n\nlast",
        b"Subject: mixed\r\nX: y\n\r\n.\nend\r\n",
        b"\n\n\n",
        b"a\rb\nc\r\n.\r",
    ];
    for message in messages {
        let normalised = normalise(message);
        let out = run_on(&[message], "STAT\r\nLIST\r\nRETR 1\r\n");
        let size = normalised.len();
        let head = format!("+OK 1 {size}\r\n+OK maildrop has 1 message ({size} octets)\r\n1 {size}\r\n.\r\n");
        assert!(out.starts_with(&head), "{message:?}: {out:?}");
        let retr = &out[head.len()..];
        let expected = format!("+OK {size} octets\r\n{}.\r\n", show(&stuffed(message)));
        assert_eq!(retr, expected, "{message:?}");
        assert_eq!(client_reads(retr.as_bytes()), normalised, "{message:?}");
    }
}

/// A large message through small transmit chunks, dots and CRLFs falling on
/// every chunk boundary.
#[test]
fn large_message_across_transmit_chunks() {
    let mut message = b"Subject: big\r\n\r\n".to_vec();
    for i in 0..400 {
        match i % 4 {
            0 => message.extend_from_slice(b".\r\n"),
            1 => message.extend_from_slice(format!("..line {i}\n").as_bytes()),
            2 => message.extend_from_slice(format!(".{}\r\n", "x".repeat(i % 37)).as_bytes()),
            _ => message.extend_from_slice(format!("plain {i}\r\n").as_bytes()),
        }
    }
    for chunk in [1, 512, 513, 1000, 4096] {
        let maildrop = maildrop_with(&[&message]);
        let config = ServerConfig {
            transmit_chunk: chunk,
            ..rfc1939_config()
        };
        let mut server = logged_in(config, &maildrop);
        let out = server.exchange("RETR 1\r\nNOOP\r\n");
        let normalised = normalise(&message);
        let expected = format!(
            "+OK {} octets\r\n{}.\r\n+OK\r\n",
            normalised.len(),
            show(&stuffed(&message))
        );
        assert_eq!(out, expected, "transmit_chunk {chunk}");
    }
}

#[test]
fn top_with_zero_lines_sends_the_header_and_blank_line() {
    let out = run_on(&[b"A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\n"], "TOP 1 0\r\n");
    assert_eq!(out, "+OK\r\nA: 1\r\nB: 2\r\n\r\n.\r\n");
    let out = run_on(&[b"A: 1\nB: 2\n\nl1\n"], "TOP 1 0\r\n");
    assert_eq!(out, "+OK\r\nA: 1\r\nB: 2\r\n\r\n.\r\n");
    // Folded header lines are header lines.
    let out = run_on(&[b"A: 1\r\n  more\r\n\tmore\r\n\r\nbody\r\n"], "TOP 1 0\r\n");
    assert_eq!(out, "+OK\r\nA: 1\r\n  more\r\n\tmore\r\n\r\n.\r\n");
    // No blank line: the whole message is header.
    let out = run_on(&[b"A: 1\r\nB: 2"], "TOP 1 0\r\n");
    assert_eq!(out, "+OK\r\nA: 1\r\nB: 2\r\n.\r\n");
    // A message that is only a blank line.
    let out = run_on(&[b"\r\nbody\r\n"], "TOP 1 0\r\n");
    assert_eq!(out, "+OK\r\n\r\n.\r\n");
}

#[test]
fn top_counts_only_body_lines() {
    let message: &[u8] = b"A: 1\r\nB: 2\r\n\r\nl1\r\n\r\n.\r\nl4\r\nl5";
    let cases = [
        (1, "A: 1\r\nB: 2\r\n\r\nl1\r\n"),
        (2, "A: 1\r\nB: 2\r\n\r\nl1\r\n\r\n"),
        (3, "A: 1\r\nB: 2\r\n\r\nl1\r\n\r\n..\r\n"),
        (4, "A: 1\r\nB: 2\r\n\r\nl1\r\n\r\n..\r\nl4\r\n"),
        (5, "A: 1\r\nB: 2\r\n\r\nl1\r\n\r\n..\r\nl4\r\nl5\r\n"),
        (6, "A: 1\r\nB: 2\r\n\r\nl1\r\n\r\n..\r\nl4\r\nl5\r\n"),
        (
            4_294_967_295_u32,
            "A: 1\r\nB: 2\r\n\r\nl1\r\n\r\n..\r\nl4\r\nl5\r\n",
        ),
    ];
    for (lines, body) in cases {
        let out = run_on(&[message], &format!("TOP 1 {lines}\r\n"));
        assert_eq!(out, format!("+OK\r\n{body}.\r\n"), "TOP 1 {lines}");
    }
    let bare = run_on(&[b"A: 1\n\nbody\nmore\n"], "TOP 1 1\r\n");
    assert_eq!(bare, "+OK\r\nA: 1\r\n\r\nbody\r\n.\r\n");
}

/// TOP with the blank line and the counted lines falling on the boundary of
/// the server's 512-byte read.
#[test]
fn top_across_read_boundaries() {
    for header_len in 500..=520 {
        for lf in ["\r\n", "\n"] {
            let filler = header_len - "X: ".len() - lf.len();
            let header = format!("X: {}{lf}", "h".repeat(filler));
            assert_eq!(header.len(), header_len);
            let message = format!("{header}{lf}b1{lf}b2{lf}b3{lf}");
            let config = ServerConfig {
                transmit_chunk: 512,
                ..rfc1939_config()
            };
            let maildrop = maildrop_with(&[message.as_bytes()]);
            let mut server = logged_in(config, &maildrop);
            let crlf_header = header.replace(lf, "\r\n");
            let out = server.exchange("TOP 1 0\r\nTOP 1 1\r\nTOP 1 2\r\n");
            assert_eq!(
                out,
                format!(
                    "+OK\r\n{crlf_header}\r\n.\r\n+OK\r\n{crlf_header}\r\nb1\r\n.\r\n+OK\r\n{crlf_header}\r\nb1\r\nb2\r\n.\r\n"
                ),
                "header of {header_len} octets with {lf:?}"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Edge cases: message numbers and deletion
// ---------------------------------------------------------------------------

fn two_messages() -> MemoryMaildrop {
    rfc1939_maildrop().0
}

#[test]
fn message_zero_is_an_error() {
    let maildrop = two_messages();
    let mut server = logged_in(rfc1939_config(), &maildrop);
    for command in ["RETR 0", "DELE 0", "LIST 0", "UIDL 0", "TOP 0 1", "RETR 00"] {
        let out = server.exchange(&format!("{command}\r\n"));
        assert!(
            out.starts_with("-ERR ") && out.matches("\r\n").count() == 1,
            "{command}: {out:?}"
        );
    }
    assert_eq!(server.exchange("STAT\r\n"), "+OK 2 320\r\n");
    assert_eq!(
        server.exchange("QUIT\r\n"),
        "+OK POP3 server signing off (2 messages left)\r\n"
    );
    assert_eq!(maildrop.messages().len(), 2);
}

#[test]
fn numbers_past_the_end() {
    let maildrop = two_messages();
    let mut server = logged_in(rfc1939_config(), &maildrop);
    for command in [
        "RETR 3",
        "DELE 3",
        "LIST 3",
        "UIDL 3",
        "TOP 3 0",
        "RETR 4294967295",
    ] {
        let out = server.exchange(&format!("{command}\r\n"));
        assert_eq!(
            out, "-ERR no such message, only 2 messages in maildrop\r\n",
            "{command}"
        );
    }
    for command in [
        "RETR 4294967296",
        "LIST 99999999999999999999999",
        "TOP 1 4294967296",
        "TOP 1 -1",
    ] {
        let out = server.exchange(&format!("{command}\r\n"));
        assert!(
            out.starts_with("-ERR ") && out.matches("\r\n").count() == 1,
            "{command}: {out:?}"
        );
    }
    assert_eq!(server.exchange("STAT\r\n"), "+OK 2 320\r\n");
}

#[test]
fn deleted_message_referenced_again() {
    let maildrop = two_messages();
    let mut server = logged_in(rfc1939_config(), &maildrop);
    assert_eq!(server.exchange("DELE 1\r\n"), "+OK message 1 deleted\r\n");
    for command in ["RETR 1", "DELE 1", "LIST 1", "UIDL 1", "TOP 1 0"] {
        let out = server.exchange(&format!("{command}\r\n"));
        assert_eq!(out, "-ERR message 1 already deleted\r\n", "{command}");
    }
    // Message 2 keeps its number.
    assert_eq!(server.exchange("LIST 2\r\n"), "+OK 2 200\r\n");
}

#[test]
fn stat_list_and_uidl_leave_deleted_messages_out() {
    let maildrop = two_messages();
    let mut server = logged_in(rfc1939_config(), &maildrop);
    let out = server.exchange("DELE 1\r\nSTAT\r\nLIST\r\nUIDL\r\n");
    assert_eq!(
        out,
        format!(
            "+OK message 1 deleted\r\n+OK 1 200\r\n+OK maildrop has 1 message (200 octets)\r\n2 200\r\n.\r\n+OK\r\n2 {UID2}\r\n.\r\n"
        )
    );
    let out = server.exchange("DELE 2\r\nSTAT\r\nLIST\r\nUIDL\r\n");
    assert_eq!(
        out,
        "+OK message 2 deleted\r\n+OK 0 0\r\n+OK maildrop has 0 messages (0 octets)\r\n.\r\n+OK\r\n.\r\n"
    );
}

#[test]
fn rset_unmarks_deleted_messages() {
    let (maildrop, m1, _) = rfc1939_maildrop();
    let mut server = logged_in(rfc1939_config(), &maildrop);
    server.exchange("DELE 1\r\nDELE 2\r\n");
    assert_eq!(
        server.exchange("RSET\r\n"),
        "+OK maildrop has 2 messages (320 octets)\r\n"
    );
    assert_eq!(server.exchange("STAT\r\n"), "+OK 2 320\r\n");
    let retr = server.exchange("RETR 1\r\n");
    assert_eq!(retr, format!("+OK 120 octets\r\n{}.\r\n", show(&stuffed(&m1))));
    assert!(server.exchange("QUIT\r\n").starts_with("+OK "));
    assert_eq!(maildrop.messages().len(), 2);
    // RSET then DELE again, then QUIT: only the new mark counts.
    let mut server = logged_in(rfc1939_config(), &maildrop);
    server.exchange("DELE 1\r\nRSET\r\nDELE 2\r\nQUIT\r\n");
    assert_eq!(maildrop.messages(), vec![m1.into()]);
}

// ---------------------------------------------------------------------------
// Edge cases: session end, locking, commit
// ---------------------------------------------------------------------------

#[test]
fn dropped_connection_deletes_nothing_and_releases_the_lock() {
    let maildrop = two_messages();
    let mut server = logged_in(rfc1939_config(), &maildrop);
    server.exchange("DELE 1\r\nDELE 2\r\n");
    assert!(maildrop.is_locked());
    drop(server);
    assert_eq!(maildrop.messages().len(), 2);
    assert!(!maildrop.is_locked());

    // Dropped in the middle of sending a body.
    let big = message_of_size("big", 100_000);
    let maildrop = maildrop_with(&[&big]);
    let config = ServerConfig {
        transmit_chunk: 1024,
        ..rfc1939_config()
    };
    let mut session = mailwire_pop3::ServerSession::new(config);
    session.receive(b"USER mrose\r\nPASS secret\r\nDELE 1\r\nRSET\r\nRETR 1\r\nDELE 1\r\nQUIT\r\n");
    assert!(matches!(session.poll_event(), Some(ServerEvent::Login(_))));
    session.accept_login(maildrop.clone()).unwrap();
    // Send only the start of the body: the DELE and QUIT after it are not
    // reached.
    let mut sent = 0;
    while sent < 10_000 {
        sent += session.poll_transmit().expect("more body").len();
    }
    assert!(maildrop.is_locked());
    drop(session);
    assert_eq!(maildrop.messages().len(), 1);
    assert!(!maildrop.is_locked());

    // Dropped while the application checks credentials.
    let maildrop = two_messages();
    let mut session = mailwire_pop3::ServerSession::<MemoryMaildrop>::new(rfc1939_config());
    session.receive(b"USER mrose\r\nPASS secret\r\n");
    assert!(matches!(session.poll_event(), Some(ServerEvent::Login(_))));
    drop(session);
    assert!(!maildrop.is_locked());
}

#[test]
fn quit_in_authorization_commits_nothing() {
    let maildrop = two_messages();
    let mut server = Server::new(rfc1939_config(), &maildrop);
    server.take_output();
    assert_eq!(
        server.exchange("USER mrose\r\nQUIT\r\nPASS secret\r\n"),
        "+OK Send PASS\r\n+OK POP3 server signing off\r\n"
    );
    assert!(server.session.is_closed());
    assert_eq!(server.events, vec![ServerEvent::Closed { committed: false }]);
    assert!(server.logins().is_empty());
    // Input after QUIT is ignored.
    assert_eq!(server.exchange("USER mrose\r\n"), "");
    assert_eq!(maildrop.messages().len(), 2);
    assert!(!maildrop.is_locked());
}

#[test]
fn commit_failure_at_quit() {
    let maildrop = two_messages();
    let mut server = Server::new(rfc1939_config(), &maildrop);
    server.maildrop.fail_commit = true;
    server.take_output();
    let out = server.exchange("USER mrose\r\nPASS secret\r\nDELE 1\r\nQUIT\r\n");
    assert!(
        out.ends_with("+OK message 1 deleted\r\n-ERR [SYS/TEMP] Some deleted messages not removed\r\n"),
        "{out}"
    );
    assert!(server.session.is_closed());
    assert_eq!(
        server.closed_events(),
        [&ServerEvent::Closed { committed: false }]
    );
    assert_eq!(maildrop.messages().len(), 2);
    assert!(!maildrop.is_locked());
}

#[test]
fn second_session_gets_in_use_until_the_first_quits() {
    let maildrop = two_messages();
    let mut first = logged_in(rfc1939_config(), &maildrop);
    let mut second = Server::new(rfc1939_config(), &maildrop);
    second.take_output();
    assert_eq!(
        second.exchange("USER mrose\r\nPASS secret\r\n"),
        "+OK Send PASS\r\n-ERR [IN-USE] Maildrop already locked\r\n"
    );
    assert!(!second.session.is_authenticated());
    // APOP too.
    let apop = "APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n";
    assert_eq!(second.exchange(apop), "-ERR [IN-USE] Maildrop already locked\r\n");
    // The first session goes on undisturbed, deletes and quits.
    assert_eq!(
        first.exchange("DELE 1\r\nQUIT\r\n"),
        "+OK message 1 deleted\r\n+OK POP3 server signing off (1 message left)\r\n"
    );
    assert!(!maildrop.is_locked());
    // The failed PASS forgot the user: USER again.
    assert_eq!(second.exchange("PASS secret\r\n"), "-ERR Send USER first\r\n");
    assert_eq!(
        second.exchange(apop),
        "+OK maildrop has 1 message (200 octets)\r\n"
    );
    assert!(maildrop.is_locked());
}

#[test]
fn wrong_password_gets_auth_code() {
    let maildrop = two_messages();
    let mut server = Server::new(rfc1939_config(), &maildrop);
    server.take_output();
    assert_eq!(
        server.exchange("USER mrose\r\nPASS wrong\r\n"),
        "+OK Send PASS\r\n-ERR [AUTH] Authentication failed\r\n"
    );
    assert_eq!(
        server.exchange("APOP mrose 00000000000000000000000000000000\r\n"),
        "-ERR [AUTH] Authentication failed\r\n"
    );
    assert!(!maildrop.is_locked());
    // A password with spaces is one argument (RFC 1939 section 7).
    server.auth = Box::new(|r| match r {
        LoginRequest::User { password, .. } if password.expose() == b"two words " => Ok(()),
        _ => Err(LoginRejection::BadCredentials),
    });
    assert!(
        server
            .exchange("USER mrose\r\nPASS two words \r\n")
            .ends_with(" octets)\r\n")
    );
    assert!(server.session.is_authenticated());
}

#[test]
fn commands_invalid_in_the_current_state() {
    let maildrop = two_messages();
    let mut server = Server::new(rfc1939_config(), &maildrop);
    server.take_output();
    for command in [
        "STAT", "LIST", "LIST 1", "RETR 1", "DELE 1", "NOOP", "RSET", "TOP 1 1", "UIDL", "UIDL 1", "XYZZY",
        "",
    ] {
        let out = server.exchange(&format!("{command}\r\n"));
        assert!(
            out.starts_with("-ERR") && out.matches("\r\n").count() == 1,
            "{command:?}: {out:?}"
        );
    }
    let mut server = logged_in(rfc1939_config(), &maildrop);
    for command in [
        "USER mrose",
        "PASS secret",
        "APOP mrose c4c9334bac560ecc979e58001b3e22fb",
        "AUTH PLAIN dGVzdAB0ZXN0AHRlc3Q=",
        "AUTH PLAIN",
        "STLS",
        "UTF8",
        "XYZZY",
        "STAT 1",
    ] {
        let out = server.exchange(&format!("{command}\r\n"));
        assert!(
            out.starts_with("-ERR") && out.matches("\r\n").count() == 1,
            "{command:?}: {out:?}"
        );
    }
    // Nothing changed: still logged in, nothing deleted, one login.
    assert_eq!(server.exchange("STAT\r\n"), "+OK 2 320\r\n");
    assert_eq!(server.logins().len(), 1);
}

#[test]
fn pass_without_user() {
    let maildrop = two_messages();
    let mut server = Server::new(rfc1939_config(), &maildrop);
    server.take_output();
    assert_eq!(server.exchange("PASS secret\r\n"), "-ERR Send USER first\r\n");
    // After a failed PASS the user is forgotten too.
    assert!(
        server
            .exchange("USER mrose\r\nPASS wrong\r\n")
            .ends_with("-ERR [AUTH] Authentication failed\r\n")
    );
    assert_eq!(server.exchange("PASS secret\r\n"), "-ERR Send USER first\r\n");
    assert_eq!(server.logins().len(), 1);
    assert!(!server.session.is_authenticated());
}

// ---------------------------------------------------------------------------
// Edge cases: STLS and plaintext authentication
// ---------------------------------------------------------------------------

fn stls_server() -> (Server, MemoryMaildrop) {
    let maildrop = two_messages();
    let config = ServerConfig {
        allow_plaintext_auth: true,
        ..tls_config()
    };
    let mut server = Server::new(config, &maildrop);
    server.take_output();
    (server, maildrop)
}

/// Commands pipelined after STLS arrived in plaintext; they must not run
/// as if they came over TLS (CVE-2011-0411 and its kin).
#[test]
fn stls_discards_pipelined_plaintext() {
    let (mut server, maildrop) = stls_server();
    assert_eq!(
        server.exchange("STLS\r\nUSER mrose\r\nPASS secret\r\n"),
        "+OK Begin TLS negotiation\r\n"
    );
    assert_eq!(server.events, vec![ServerEvent::StartTls]);
    assert_eq!(server.exchange("PASS secret\r\n"), "-ERR Send USER first\r\n");
    assert!(server.logins().is_empty());
    assert!(!maildrop.is_locked());

    // Bytes that arrive between STLS and the end of the handshake.
    let (mut server, _) = stls_server();
    server.auto_tls = false;
    assert_eq!(server.exchange("STLS\r\n"), "+OK Begin TLS negotiation\r\n");
    assert!(!server.session.wants_input());
    assert_eq!(server.exchange("USER mrose\r\nPASS secret\r\nCAPA\r\n"), "");
    server.session.tls_established();
    assert!(server.session.wants_input());
    assert!(server.exchange("NOOP\r\n").starts_with("-ERR"));
    assert!(server.logins().is_empty());
}

/// RFC 2595 section 4: the server forgets what the client said before STLS.
#[test]
fn stls_forgets_the_user_given_before() {
    let (mut server, _) = stls_server();
    assert_eq!(server.exchange("USER mrose\r\n"), "+OK Send PASS\r\n");
    assert_eq!(server.exchange("STLS\r\n"), "+OK Begin TLS negotiation\r\n");
    assert_eq!(server.exchange("PASS secret\r\n"), "-ERR Send USER first\r\n");
    assert!(server.logins().is_empty());
    // USER pipelined before STLS in one packet, PASS after the handshake.
    let (mut server, _) = stls_server();
    assert_eq!(
        server.exchange("USER mrose\r\nSTLS\r\n"),
        "+OK Send PASS\r\n+OK Begin TLS negotiation\r\n"
    );
    assert_eq!(server.exchange("PASS secret\r\n"), "-ERR Send USER first\r\n");
    // UTF8 and LANG are forgotten too.
    let (mut server, _) = stls_server();
    server.session = mailwire_pop3::ServerSession::new(ServerConfig {
        utf8: true,
        languages: vec![(LanguageTag::new("en").unwrap(), "English".into())],
        ..tls_config()
    });
    server.take_output();
    assert!(
        server
            .exchange("LANG en\r\nSTLS\r\n")
            .ends_with("+OK Begin TLS negotiation\r\n")
    );
    assert_eq!(server.session.language(), None);
}

/// RFC 2595 section 2.2 and RFC 5034 section 4: without TLS and without
/// allow_plaintext_auth, USER/PASS and AUTH PLAIN are refused with [AUTH]
/// and not announced; APOP and other mechanisms stay available.
#[test]
fn plaintext_auth_refused_without_tls() {
    let maildrop = two_messages();
    let config = ServerConfig {
        apop_timestamp: rfc1939_config().apop_timestamp,
        ..tls_config()
    };
    let mut server = Server::new(config, &maildrop);
    server.take_output();
    let refused = "-ERR [AUTH] Plaintext authentication disallowed on non-secure connections\r\n";
    assert_eq!(server.exchange("USER mrose\r\n"), refused);
    assert_eq!(server.exchange("PASS secret\r\n"), "-ERR Send USER first\r\n");
    assert_eq!(server.exchange("AUTH PLAIN dGVzdAB0ZXN0AHRlc3Q=\r\n"), refused);
    assert_eq!(server.exchange("AUTH PLAIN\r\n"), refused);
    assert!(server.logins().is_empty());
    let capa = server.exchange("CAPA\r\n");
    assert_eq!(
        capa,
        "+OK Capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\nSTLS\r\n.\r\n"
    );
    server.session.add_mechanism(mech("CRAM-MD5"), cram_md5);
    assert!(server.exchange("CAPA\r\n").contains("\r\nSASL CRAM-MD5\r\n"));

    // After STLS both are offered and accepted.
    assert_eq!(server.exchange("STLS\r\n"), "+OK Begin TLS negotiation\r\n");
    let capa = server.exchange("CAPA\r\n");
    assert!(
        capa.contains("\r\nUSER\r\n") && capa.contains("\r\nSASL PLAIN CRAM-MD5\r\n"),
        "{capa}"
    );
    assert!(!capa.contains("STLS"), "{capa}");
    assert!(
        server
            .exchange("USER mrose\r\nPASS secret\r\n")
            .starts_with("+OK Send PASS\r\n+OK maildrop has 2")
    );

    drop(server);

    // With no TLS at all: the same refusals, and no STLS.
    let mut server = Server::new(
        ServerConfig {
            tls: Tls::Unavailable,
            ..tls_config()
        },
        &maildrop,
    );
    server.take_output();
    assert_eq!(server.exchange("USER mrose\r\n"), refused);
    assert_eq!(server.exchange("STLS\r\n"), "-ERR STLS not available\r\n");
    let capa = server.exchange("CAPA\r\n");
    assert!(
        !capa.contains("USER") && !capa.contains("SASL") && !capa.contains("STLS"),
        "{capa}"
    );

    // APOP sends no password: allowed without TLS.
    drop(server);
    let mut server = Server::new(
        ServerConfig {
            apop_timestamp: rfc1939_config().apop_timestamp,
            ..tls_config()
        },
        &maildrop,
    );
    server.take_output();
    assert!(
        server
            .exchange("APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n")
            .starts_with("+OK maildrop has 2")
    );
}

/// The client drops what the server sent after its STLS +OK in the same
/// packet: it was plaintext, injectable by a man in the middle.
#[test]
fn client_discards_plaintext_after_stls_ok() {
    let mut client = ClientReplay::new();
    client.feed(b"+OK POP3 server ready\r\n");
    let stls = client.client.send(Command::Stls);
    assert_eq!(client.sent(), b"STLS\r\n");
    client.feed(b"+OK Begin TLS negotiation\r\n+OK 3 300\r\n-ERR injected\r\n");
    assert_eq!(
        client.events[1..],
        [status(stls, "+OK Begin TLS negotiation"), ClientEvent::StartTls]
    );
    let stat = client.client.send(Command::Stat);
    assert_eq!(client.sent(), b"STAT\r\n");
    client.feed(b"-ERR not yet\r\n");
    assert_eq!(client.events[3..], [status(stat, "-ERR not yet")]);
}

// ---------------------------------------------------------------------------
// Pipelining and arbitrary splits
// ---------------------------------------------------------------------------

/// Messages with every body quirk at once.
fn quirky_messages() -> Vec<Vec<u8>> {
    let mut big = b"Subject: big\r\n\r\n".to_vec();
    for i in 0..150 {
        big.extend_from_slice(if i % 3 == 0 { b".\r\n" as &[u8] } else { b"..x\n" });
        big.extend_from_slice(format!("line {i}\r\n").as_bytes());
    }
    vec![
        b"Subject: one\r\n\r\n.\r\n..two dots\r\n.x\r\nend".to_vec(),
        b"Subject: two\n\nline\n.\nlast\n".to_vec(),
        big,
        b"Subject: four\r\n\r\nends in CR\r".to_vec(),
        Vec::new(),
    ]
}

const PIPELINED: &str = "USER mrose\r\nPASS secret\r\nSTAT\r\nLIST\r\nUIDL\r\nRETR 1\r\nRETR 2\r\nRETR 3\r\n\
    TOP 3 5\r\nTOP 2 0\r\nRETR 5\r\nDELE 1\r\nLIST 1\r\nRETR 1\r\nRSET\r\nDELE 2\r\nDELE 4\r\nSTAT\r\n\
    NOOP\r\nCAPA\r\nUIDL 3\r\nLIST 9\r\nQUIT\r\n";

/// Runs the pipelined input fed in the given pieces; returns the output
/// and the messages left.
fn pipelined_run(pieces: &[&[u8]]) -> (Vec<u8>, Vec<std::sync::Arc<[u8]>>) {
    let messages = quirky_messages();
    let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
    let maildrop = maildrop_with(&refs);
    let config = ServerConfig {
        transmit_chunk: 512,
        ..rfc1939_config()
    };
    let mut server = Server::new(config, &maildrop);
    let mut out = server.take_output();
    for piece in pieces {
        server.feed(piece);
        out.extend(server.take_output());
    }
    assert!(server.session.is_closed());
    (out, maildrop.messages())
}

/// A whole pipelined session, fed split at every byte position and one
/// byte at a time, gives the same output every time.
#[test]
fn pipelined_session_split_at_every_byte() {
    let input = PIPELINED.as_bytes();
    let (reference, left) = pipelined_run(&[input]);
    // The reference itself is right.
    let messages = quirky_messages();
    let text = show(&reference);
    for (i, m) in messages
        .iter()
        .enumerate()
        .filter(|(i, _)| [0, 1, 2, 4].contains(i))
    {
        let retr = format!("+OK {} octets\r\n{}.\r\n", normalise(m).len(), show(&stuffed(m)));
        assert!(text.contains(&retr), "RETR {} missing from {text}", i + 1);
    }
    assert!(
        text.ends_with("+OK POP3 server signing off (3 messages left)\r\n"),
        "{text}"
    );
    // LIST, UIDL, five RETR and TOP that succeed, CAPA.
    assert_eq!(text.matches("\r\n.\r\n").count(), 9, "{text}");
    let expected_left: Vec<std::sync::Arc<[u8]>> = [&messages[0], &messages[2], &messages[4]]
        .iter()
        .map(|m| m.as_slice().into())
        .collect();
    assert_eq!(left, expected_left);

    for i in 0..=input.len() {
        let (out, left_now) = pipelined_run(&[&input[..i], &input[i..]]);
        assert!(out == reference, "split at {i}:\n{}\n---\n{}", show(&out), text);
        assert_eq!(left_now, left, "split at {i}");
    }
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    let (out, left_now) = pipelined_run(&bytes);
    assert!(out == reference, "one byte at a time:\n{}", show(&out));
    assert_eq!(left_now, left);
}

/// The client: a pipelined server stream, split at every byte position and
/// fed one byte at a time, gives the same events.
#[test]
fn client_stream_split_at_every_byte() {
    let messages = quirky_messages();
    let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
    let maildrop = maildrop_with(&refs);
    let mut server = Server::new(rfc1939_config(), &maildrop);
    let prelude = server.take_output();
    let capa = server.exchange("CAPA\r\n");

    // A client that has seen the greeting and CAPA, then pipelines.
    let setup = || {
        let mut client = ClientReplay::new();
        client.feed(&prelude);
        client.client.send(Command::Capa);
        client.sent();
        client.feed(capa.as_bytes());
        assert!(client.client.pipelining());
        client.client.login_user_pass(b"mrose", b"secret").unwrap();
        for command in [
            Command::Stat,
            Command::List(None),
            Command::Uidl(None),
            Command::Retr(n(1)),
            Command::Retr(n(2)),
            Command::Top {
                message: n(3),
                lines: 2,
            },
            Command::Retr(n(5)),
            Command::Retr(n(9)),
            Command::Dele(n(1)),
            Command::List(Some(n(1))),
            Command::Uidl(Some(n(2))),
            Command::Rset,
            Command::Retr(n(4)),
            Command::Quit,
        ] {
            client.client.send(command);
        }
        client
    };
    let mut reference = setup();
    let sent = reference.sent();
    assert_eq!(
        show(&sent).matches("\r\n").count(),
        16,
        "everything pipelined at once"
    );
    let stream = server.exchange(&show(&sent)).into_bytes();
    reference.feed(&stream);
    assert_eq!(reference.client.state(), ClientState::Closed);
    assert_eq!(reference.client.pending(), 0);
    // Bodies as stored, CRLF-normalised.
    let bodies: Vec<Vec<u8>> = reference
        .events
        .iter()
        .filter_map(|e| match e {
            ClientEvent::MessageStart { id, .. } => Some(body_of(&reference.events, *id).unwrap()),
            _ => None,
        })
        .collect();
    assert_eq!(bodies.len(), 5);
    assert_eq!(bodies[0], normalise(&messages[0]));
    assert_eq!(bodies[1], normalise(&messages[1]));
    assert_eq!(bodies[3], normalise(&messages[4]));
    assert_eq!(bodies[4], normalise(&messages[3]));
    assert!(
        reference
            .events
            .iter()
            .all(|e| !matches!(e, ClientEvent::Error { .. }))
    );

    for i in 0..=stream.len() {
        let mut client = setup();
        client.sent();
        client.feed(&stream[..i]);
        client.feed(&stream[i..]);
        assert!(client.events == reference.events, "split at {i}");
    }
    let mut client = setup();
    client.sent();
    for byte in stream.chunks(1) {
        client.feed(byte);
    }
    assert_eq!(client.events, reference.events);
}

// ---------------------------------------------------------------------------
// Client and server connected
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
enum Login {
    UserPass,
    Apop,
    Plain,
}

/// Moves bytes both ways until neither side has anything to say; returns
/// how many command lines each client write held.
fn connect(client: &mut ClientSession, server: &mut Server, events: &mut Vec<ClientEvent>) -> Vec<usize> {
    let mut writes = Vec::new();
    loop {
        let mut progressed = false;
        while let Some(bytes) = client.poll_transmit() {
            writes.push(bytes.iter().filter(|&&b| b == b'\n').count());
            server.feed(&bytes);
            progressed = true;
        }
        let out = server.take_output();
        if !out.is_empty() {
            client.receive(&out);
            progressed = true;
        }
        while let Some(event) = client.poll_event() {
            push_event(events, event);
            progressed = true;
        }
        if !progressed {
            return writes;
        }
    }
}

/// Logs in with `login`, asks CAPA, downloads every message, deletes them
/// all, then QUITs or (with `quit` false) drops the connection.
fn download_all(login: Login, quit: bool) {
    let messages = quirky_messages();
    let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
    let maildrop = maildrop_with(&refs);
    let mut server = Server::new(rfc1939_config(), &maildrop);
    server.auth = Box::new(rfc_users);
    let mut client = ClientSession::new(Default::default());
    let mut events = Vec::new();
    connect(&mut client, &mut server, &mut events);
    assert!(matches!(events[..], [ClientEvent::Greeting(_)]));

    let login_id = match login {
        Login::UserPass => client.login_user_pass(b"alice", b"wonderland").unwrap(),
        Login::Apop => client.login_apop(b"alice", b"tanstaaf").unwrap(),
        Login::Plain => client.login_plain(b"", b"alice", b"wonderland").unwrap(),
    };
    let capa = client.send(Command::Capa);
    connect(&mut client, &mut server, &mut events);
    assert!(
        events.iter().any(|e| matches!(e, ClientEvent::Response { id, response: Response::Status(s) } if *id == login_id && s.is_ok())),
        "{login:?}: {events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, ClientEvent::Response { id, .. } if *id == capa))
    );
    assert_eq!(client.state(), ClientState::Transaction);
    assert!(client.pipelining());
    assert_eq!(server.logins().len(), 1);
    assert_eq!(server.logins()[0].user(), b"alice");

    let count = messages.len() as u32;
    let retrs: Vec<CommandId> = (1..=count).map(|i| client.send(Command::Retr(n(i)))).collect();
    let deles: Vec<CommandId> = (1..=count).map(|i| client.send(Command::Dele(n(i)))).collect();
    let quit_id = quit.then(|| client.send(Command::Quit));
    let writes = connect(&mut client, &mut server, &mut events);
    assert_eq!(
        writes,
        [2 * count as usize + usize::from(quit)],
        "pipelined in one write"
    );
    for (id, message) in retrs.iter().zip(&messages) {
        assert_eq!(
            body_of(&events, *id).as_deref(),
            Some(&normalise(message)[..]),
            "{login:?}"
        );
    }
    for id in deles {
        assert!(events.iter().any(|e| matches!(e, ClientEvent::Response { id: i, response: Response::Status(s) } if *i == id && s.is_ok())));
    }
    assert!(
        events.iter().all(|e| !matches!(e, ClientEvent::Error { .. })),
        "{events:?}"
    );
    if let Some(quit_id) = quit_id {
        assert!(events.iter().any(|e| matches!(e, ClientEvent::Response { id, response: Response::Status(s) } if *id == quit_id && s.is_ok())));
        assert_eq!(client.state(), ClientState::Closed);
        assert!(server.session.is_closed());
        assert!(maildrop.messages().is_empty(), "{login:?}");
    } else {
        drop(server);
        assert_eq!(maildrop.messages().len(), messages.len(), "{login:?}");
    }
    assert!(!maildrop.is_locked());
}

#[test]
fn client_and_server_user_pass() {
    download_all(Login::UserPass, true);
}

#[test]
fn client_and_server_apop() {
    download_all(Login::Apop, true);
}

#[test]
fn client_and_server_auth_plain() {
    download_all(Login::Plain, true);
}

#[test]
fn client_and_server_dropped_before_quit() {
    for login in [Login::UserPass, Login::Apop, Login::Plain] {
        download_all(login, false);
    }
}

// ---------------------------------------------------------------------------
// More edge cases
// ---------------------------------------------------------------------------

/// A pipelining client sends USER, PASS and more at once; when the login
/// fails, the rest is answered in the AUTHORIZATION state, in order.
#[test]
fn pipelined_commands_after_a_failed_login() {
    let maildrop = two_messages();
    let mut server = Server::new(rfc1939_config(), &maildrop);
    server.take_output();
    let out = server.exchange(
        "USER mrose\r\nPASS wrong\r\nSTAT\r\nRETR 1\r\nUSER mrose\r\nPASS secret\r\nSTAT\r\nQUIT\r\n",
    );
    assert_eq!(
        out,
        "+OK Send PASS\r\n-ERR [AUTH] Authentication failed\r\n\
         -ERR STAT not valid in the AUTHORIZATION state\r\n-ERR RETR not valid in the AUTHORIZATION state\r\n\
         +OK Send PASS\r\n+OK maildrop has 2 messages (320 octets)\r\n+OK 2 320\r\n\
         +OK POP3 server signing off (2 messages left)\r\n"
    );
}

/// RFC 2449 section 4: commands are at most 255 octets. A longer line is
/// answered with one -ERR and skipped up to its end, however it arrives.
#[test]
fn overlong_command_line_is_skipped() {
    let input = format!("USER {}\r\nCAPA\r\nUSER mrose\r\n", "a".repeat(300));
    let run = |pieces: &[&[u8]]| {
        let mut server = Server::new(rfc1939_config(), &MemoryMaildrop::new());
        server.take_output();
        let mut out = Vec::new();
        for piece in pieces {
            server.feed(piece);
            out.extend(server.take_output());
        }
        show(&out)
    };
    let reference = run(&[input.as_bytes()]);
    let lines: Vec<&str> = reference.split_terminator("\r\n").collect();
    assert!(
        lines[0].starts_with("-ERR line longer than 255 bytes"),
        "{reference}"
    );
    assert_eq!(lines[1], "+OK Capability list follows");
    assert!(reference.ends_with(".\r\n+OK Send PASS\r\n"), "{reference}");
    assert_eq!(reference.matches("-ERR").count(), 1);
    for i in 0..=input.len() {
        let out = run(&[&input.as_bytes()[..i], &input.as_bytes()[i..]]);
        assert_eq!(out, reference, "split at {i}");
    }
    let bytes: Vec<&[u8]> = input.as_bytes().chunks(1).collect();
    assert_eq!(run(&bytes), reference);
}

/// RFC 1939 section 3: keywords are case-insensitive; so are SASL
/// mechanism names (RFC 5034 section 5).
#[test]
fn keywords_are_case_insensitive() {
    let (maildrop, m1, _) = rfc1939_maildrop();
    let mut server = Server::new(
        ServerConfig {
            tls: Tls::Active,
            ..tls_config()
        },
        &maildrop,
    );
    server.take_output();
    let out = server.exchange("user mrose\r\nPass secret\r\nsTaT\r\nlist 2\r\ntop 1 0\r\nuidl 2\r\nnoop\r\n");
    assert_eq!(
        out,
        format!(
            "+OK Send PASS\r\n+OK maildrop has 2 messages (320 octets)\r\n+OK 2 320\r\n+OK 2 200\r\n+OK\r\nSubject: message 1\r\n\r\n.\r\n+OK 2 {UID2}\r\n+OK\r\n"
        )
    );
    assert!(
        server
            .exchange("retr 1\r\n")
            .ends_with(&format!("{}.\r\n", show(&stuffed(&m1))))
    );
    assert!(server.exchange("quit\r\n").starts_with("+OK "));

    let mut server = Server::new(
        ServerConfig {
            tls: Tls::Active,
            ..tls_config()
        },
        &maildrop,
    );
    server.take_output();
    let plain = b64(b"\0test\0test");
    assert!(
        server
            .exchange(&format!("auth plain {plain}\r\n"))
            .starts_with("+OK maildrop has 2")
    );
}

/// RFC 1939 section 7: unique ids persist across sessions, while message
/// numbers are per session.
#[test]
fn unique_ids_persist_across_sessions() {
    let maildrop = two_messages();
    let mut server = logged_in(rfc1939_config(), &maildrop);
    assert_eq!(
        server.exchange("UIDL\r\n"),
        format!("+OK\r\n1 {UID1}\r\n2 {UID2}\r\n.\r\n")
    );
    server.exchange("DELE 1\r\nQUIT\r\n");
    let mut server = logged_in(rfc1939_config(), &maildrop);
    assert_eq!(server.exchange("UIDL\r\n"), format!("+OK\r\n1 {UID2}\r\n.\r\n"));
    assert_eq!(
        server.exchange("LIST\r\n"),
        "+OK maildrop has 1 message (200 octets)\r\n1 200\r\n.\r\n"
    );
    // A session that ends without QUIT changes neither.
    server.exchange("DELE 1\r\n");
    drop(server);
    let mut server = logged_in(rfc1939_config(), &maildrop);
    assert_eq!(server.exchange("UIDL 1\r\n"), format!("+OK 1 {UID2}\r\n"));
}

/// Implicit TLS (RFC 8314): plaintext passwords are allowed, STLS is
/// neither offered nor accepted.
#[test]
fn implicit_tls() {
    let maildrop = two_messages();
    let mut server = Server::new(
        ServerConfig {
            tls: Tls::Active,
            ..tls_config()
        },
        &maildrop,
    );
    server.take_output();
    assert_eq!(
        server.exchange("CAPA\r\n"),
        "+OK Capability list follows\r\nTOP\r\nUIDL\r\nUSER\r\nSASL PLAIN\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n.\r\n"
    );
    assert!(server.exchange("STLS\r\n").starts_with("-ERR "));
    assert!(server.events.is_empty());
    assert!(
        server
            .exchange("USER mrose\r\nPASS secret\r\n")
            .ends_with("+OK maildrop has 2 messages (320 octets)\r\n")
    );
}

/// Bytes that could end a response line early are never echoed back: the
/// -ERR for a bad command names offending bytes in hex.
#[test]
fn bad_commands_are_not_echoed() {
    let mut server = Server::new(rfc1939_config(), &MemoryMaildrop::new());
    server.take_output();
    for input in [
        &b"USER a\0b\r\n"[..],
        b"USER a\rb\r\n",
        b"X\x85\xff\r\n",
        b"RETR \x01\r\n",
        b"\r\n",
    ] {
        server.feed(input);
        let out = server.take_output();
        let lines = crlf_lines(&out);
        assert_eq!(lines.len(), 1, "{input:?}: {}", show(&out));
        assert!(lines[0].starts_with(b"-ERR "), "{input:?}: {}", show(&out));
        assert!(
            lines[0].iter().all(|&b| (0x20..0x7f).contains(&b)),
            "{input:?}: {}",
            show(&out)
        );
    }
    assert!(server.logins().is_empty());
}

/// TOP as RFC 1939 section 7 defines it, written independently: the
/// header, the blank line, then `lines` body lines of the CRLF-normalised
/// message.
fn expected_top(message: &[u8], lines: usize) -> Vec<u8> {
    let normalised = normalise(message);
    let mut out = Vec::new();
    let mut in_header = true;
    let mut body_lines = 0;
    for line in normalised.split_inclusive(|&b| b == b'\n') {
        if !in_header {
            if body_lines == lines {
                break;
            }
            body_lines += 1;
        }
        out.extend_from_slice(line);
        if in_header && line == b"\r\n" {
            in_header = false;
        }
    }
    stuffed(&out)
}

/// RETR and TOP of messages whose awkward spots (dots, bare LF, CR LF, the
/// blank line) fall on every offset of the server's 512-byte reads.
#[test]
fn retr_and_top_at_every_read_alignment() {
    let tail: &[u8] = b"\r\n.\r\n..\n\n.x\r\nab\r\r\n.\n\r\n.";
    for pad in 0..64 {
        let mut message = format!("X: {}\n", "p".repeat(440 + pad)).into_bytes();
        message.extend_from_slice(b"Y: y\r\n");
        for _ in 0..40 {
            message.extend_from_slice(tail);
        }
        let maildrop = maildrop_with(&[&message]);
        let config = ServerConfig {
            transmit_chunk: 512,
            ..rfc1939_config()
        };
        let mut server = logged_in(config, &maildrop);
        let retr = server.exchange("RETR 1\r\n");
        let size = normalise(&message).len();
        assert_eq!(
            retr,
            format!("+OK {size} octets\r\n{}.\r\n", show(&stuffed(&message))),
            "pad {pad}"
        );
        for lines in [0, 1, 2, 3, 7, 50, 1000] {
            let top = server.exchange(&format!("TOP 1 {lines}\r\n"));
            assert_eq!(
                top,
                format!("+OK\r\n{}.\r\n", show(&expected_top(&message, lines))),
                "pad {pad}, TOP 1 {lines}"
            );
        }
    }
}

/// RFC 6856 section 2.2: a server that announces `UTF8 USER` "MUST reject
/// UTF-8 usernames or passwords that fail to comply with the formal syntax
/// in UTF-8". The session checks the USER name (and the PLAIN authcid) but
/// not the PASS argument nor the APOP name.
#[test]
fn rfc6856_invalid_utf8_password_and_apop_name_are_refused() {
    let mut server = Server::new(rfc1939_config(), &MemoryMaildrop::new());
    server.take_output();
    assert!(server.exchange("CAPA\r\n").contains("\r\nUTF8 USER\r\n"));
    server.feed(b"USER mrose\r\nPASS p\xe4ssword\r\nAPOP j\xf6ran c4c9334bac560ecc979e58001b3e22fb\r\n");
    let out = show(&server.take_output());
    assert!(server.logins().is_empty(), "{out}: {:?}", server.logins());
    assert_eq!(out.matches("-ERR").count(), 2, "{out}");
}

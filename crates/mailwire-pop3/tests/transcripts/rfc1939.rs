//! RFC 1939: the example exchanges of the base protocol, and case-insensitive keywords.

use crate::common::*;
use crate::helpers::*;
use mailwire_pop3::{
    ClientState, LoginRequest, MemoryMaildrop, Response, ScanListing, ServerConfig, Stat, Tls, UniqueId,
    UniqueIdListing,
};

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
    assert_eq!(server.events, vec![Seen::Closed { committed: false }]);
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
    assert_eq!(server.closed_events(), [&Seen::Closed { committed: true }]);
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
    assert_eq!(server.closed_events(), [&Seen::Closed { committed: true }]);
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
    let [Seen::Login(request @ LoginRequest::Apop { user, .. })] = &server.events[..] else {
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
    assert_eq!(server.closed_events(), [&Seen::Closed { committed: true }]);
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
// More edge cases
// ---------------------------------------------------------------------------

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

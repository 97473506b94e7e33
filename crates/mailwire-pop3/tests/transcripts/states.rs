//! Authentication and states: failed logins, wrong-state commands, STLS, plaintext auth, implicit TLS.

use crate::common::*;
use crate::helpers::*;
use mailwire_pop3::{
    ClientEvent, Command, LanguageTag, LoginRejection, LoginRequest, MemoryMaildrop, ServerConfig, Tls,
};

// ---------------------------------------------------------------------------
// Edge cases: session end, locking, commit
// ---------------------------------------------------------------------------

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
    assert_eq!(server.events, vec![Seen::StartTls]);
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
    // LANG is forgotten too.
    let utf8_server = || {
        let (mut server, _) = stls_server();
        server.session = mailwire_pop3::ServerSession::new(ServerConfig {
            utf8: true,
            languages: vec![(LanguageTag::new("en").unwrap(), "English".into())],
            ..tls_config()
        });
        server.take_output();
        server
    };
    let mut server = utf8_server();
    let before = server.exchange("LANG en\r\n");
    assert!(before.starts_with("+OK"), "{before}");
    assert_eq!(server.session.language().map(|l| l.as_str()), Some("en"));
    assert_eq!(server.exchange("STLS\r\n"), "+OK Begin TLS negotiation\r\n");
    assert_eq!(server.session.language(), None);
    // After UTF8 a client must not start TLS (RFC 6856 section 3.1): STLS
    // is refused and UTF8 stays on.
    let mut server = utf8_server();
    assert!(server.exchange("UTF8\r\n").starts_with("+OK"));
    assert!(server.session.utf8_enabled());
    assert_eq!(
        server.exchange("STLS\r\n"),
        "-ERR STLS not allowed after UTF8\r\n"
    );
    assert!(server.session.utf8_enabled());
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

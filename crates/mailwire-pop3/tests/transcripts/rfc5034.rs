//! RFC 5034: SASL AUTH, its examples, initial responses, cancellation and failures.

use crate::common::*;
use crate::helpers::*;
use mailwire_pop3::{
    Capability, ClientEvent, ClientState, LoginRejection, LoginRequest, Mechanism, MemoryMaildrop, Response,
    SaslStep, ServerConfig, Tls,
};

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
    // Still usable, and no login reached the application but the two wrong
    // PLAIN ones.
    assert_eq!(server.logins().len(), 2);
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
    server.auth = Box::new(move |r| match r {
        LoginRequest::Plain(c) if c.authcid == b"alice" && c.expose_password() == [b'p'; 200] => Ok(()),
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

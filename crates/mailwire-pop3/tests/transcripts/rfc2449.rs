//! RFC 2449: CAPA, the IN-USE and LOGIN-DELAY response codes, and CAPA across states.

use crate::common::*;
use crate::helpers::*;
use mailwire_pop3::{
    Capability, ClientEvent, ClientState, Expire, LoginRejection, MemoryMaildrop, Response, ResponseCode,
    ServerConfig, login_delay_remaining,
};

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

//! RFC 6856: UTF8 mode and LANG, and the UTF-8 checks on credentials and messages.

use crate::common::*;
use crate::helpers::*;
use mailwire_pop3::{
    Capability, ClientState, Language, LanguageTag, LoginRejection, LoginRequest, MemoryMaildrop, Response,
    ServerConfig, UniqueId,
};

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
    assert!(!server.events.contains(&Seen::StartTls));

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
// More edge cases
// ---------------------------------------------------------------------------

/// RFC 6856 section 2.2: a server that announces `UTF8 USER` "MUST reject
/// UTF-8 usernames or passwords that fail to comply with the formal syntax
/// in UTF-8": the PASS argument and the APOP name are checked like the
/// USER name.
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

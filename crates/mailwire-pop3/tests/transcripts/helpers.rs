//! Helpers shared by the test modules: RFC 1939 maildrop, event builders, TLS/SASL setups, messages.

use crate::common::*;
use bytes::Bytes;
use mailwire_pop3::{
    ClientEvent, CommandId, Mechanism, MemoryMaildrop, MessageNumber, Response, SaslStep, ServerConfig,
    Status, StatusLine, Text, Tls, UniqueId,
};

pub(crate) const UID1: &str = "whqtswO00WBw418f9t5JxYwZ";
pub(crate) const UID2: &str = "QhdPYR:00WBw1Ph7x7";

/// The maildrop of the RFC 1939 examples: two messages of 120 and 200
/// octets, with the unique ids of the UIDL example.
pub(crate) fn rfc1939_maildrop() -> (MemoryMaildrop, Vec<u8>, Vec<u8>) {
    let m1 = message_of_size("message 1", 120);
    let m2 = message_of_size("message 2", 200);
    let maildrop = MemoryMaildrop::new();
    maildrop.push(UniqueId::new(UID1).unwrap(), m1.clone());
    maildrop.push(UniqueId::new(UID2).unwrap(), m2.clone());
    (maildrop, m1, m2)
}

pub(crate) fn n(number: u32) -> MessageNumber {
    MessageNumber::new(number).unwrap()
}

/// The status line `line` (`+OK text` or `-ERR text`, no response code),
/// built field by field rather than by the parser the client uses.
pub(crate) fn st(line: &'static str) -> StatusLine<'static> {
    let (status, rest) = if let Some(rest) = line.strip_prefix("+OK") {
        (Status::Ok, rest)
    } else {
        (Status::Err, line.strip_prefix("-ERR").expect("+OK or -ERR"))
    };
    let text = rest.strip_prefix(' ').unwrap_or(rest);
    assert!(!text.starts_with('['), "a response code: {line}");
    StatusLine {
        status,
        code: None,
        text: Text::new(text.as_bytes()).expect("one line of text"),
    }
}

pub(crate) fn resp(id: CommandId, response: Response<'static>) -> ClientEvent {
    ClientEvent::Response { id, response }
}

pub(crate) fn status(id: CommandId, line: &'static str) -> ClientEvent {
    resp(id, Response::Status(st(line)))
}

pub(crate) fn greeting(line: &'static str) -> ClientEvent {
    ClientEvent::Greeting(st(line))
}

/// The events of a RETR or TOP that succeeded.
pub(crate) fn message_events(id: CommandId, line: &'static str, body: &[u8]) -> Vec<ClientEvent> {
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

pub(crate) fn mech(name: &'static str) -> Mechanism<'static> {
    Mechanism::new(name).unwrap()
}

pub(crate) fn text(t: &'static str) -> Text<'static> {
    Text::new(t.as_bytes()).unwrap()
}

/// Replays `script` through a server on `maildrop` and through a client.
pub(crate) fn replay_both(
    config: ServerConfig,
    maildrop: &MemoryMaildrop,
    script: &str,
) -> (Server, ClientReplay) {
    let mut server = Server::new(config, maildrop);
    server.replay(script);
    let mut client = ClientReplay::new();
    client.apop_secret = Some(b"tanstaaf".to_vec());
    client.replay(script);
    (server, client)
}

/// The body a client received for `id`, from the joined events.
pub(crate) fn body_of(events: &[ClientEvent], id: CommandId) -> Option<Vec<u8>> {
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
pub(crate) const LOGIN: &str = "
    S: +OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>
    C: USER mrose
    S~ +OK | mrose is a real hoopy frood
    C: PASS secret
    S~ +OK | mrose's maildrop has 2 messages (320 octets)
";

pub(crate) fn tls_config() -> ServerConfig {
    ServerConfig {
        tls: Tls::Available,
        utf8: false,
        implementation: None,
        ..ServerConfig::default()
    }
}

pub(crate) fn b64(raw: &[u8]) -> String {
    mailwire_pop3::SaslData::encode(raw).as_str().to_string()
}

pub(crate) fn cram_md5() -> Box<dyn mailwire_pop3::SaslMechanism> {
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

pub(crate) fn two_messages() -> MemoryMaildrop {
    rfc1939_maildrop().0
}

/// Messages with every body quirk at once.
pub(crate) fn quirky_messages() -> Vec<Vec<u8>> {
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

/// TOP as RFC 1939 section 7 defines it, written independently: the
/// header, the blank line, then `lines` body lines of the CRLF-normalised
/// message (before dot-stuffing).
pub fn top_lines(message: &[u8], lines: usize) -> Vec<u8> {
    let normalised = crate::common::normalise(message);
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
    out
}

//! Pipelined sessions and overlong lines, fed split at every byte position.

use crate::common::*;
use crate::helpers::*;
use mailwire_pop3::{ClientEvent, ClientState, Command, MemoryMaildrop, ServerConfig};

// ---------------------------------------------------------------------------
// Pipelining and arbitrary splits
// ---------------------------------------------------------------------------

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
    // LIST, UIDL, the six RETR and TOP that succeed, CAPA.
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
    assert_eq!(bodies[2], top_lines(&messages[2], 2));
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
// More edge cases
// ---------------------------------------------------------------------------

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

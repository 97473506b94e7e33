//! Message-body edge cases: dot-stuffing, line endings, sizes, TOP, chunk and read boundaries.

use crate::common::*;
use crate::helpers::*;
use mailwire_pop3::{Command, ServerConfig};

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

/// A large message through the smallest transmit chunks (the server reads
/// at least 512 octets at a time) and larger ones; where dots and CRLFs
/// fall on every read boundary is `retr_and_top_at_every_read_alignment`'s.
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
    for chunk in [512, 513, 1000, 4096] {
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
// More edge cases
// ---------------------------------------------------------------------------

/// TOP as sent on the wire: [`top_lines`], dot-stuffed.
fn expected_top(message: &[u8], lines: usize) -> Vec<u8> {
    stuffed(&top_lines(message, lines))
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

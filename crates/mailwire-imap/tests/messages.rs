//! APPEND, STORE, COPY, MOVE and UID EXPUNGE, with the FLAGS response and
//! the UIDPLUS codes: the examples of RFC 9051 sections 6.3.12 and 6.4,
//! RFC 4315, RFC 6851 and RFC 3502, decoded, re-encoded and compared; and
//! every prefix of each command is "need more bytes" or "literal announced"
//! exactly where a literal's data starts.

use mailwire_imap::{
    CommandBody, DecodeError, Decoded, DecoderConfig, Flag, LiteralMode, LiteralPolicy, StoreAction,
    decode_command, to_bytes,
};

/// Decodes `wire` as one command, checks every prefix, re-encodes and
/// compares, and returns the command body's name and the decoded command.
fn command(wire: &[u8]) -> mailwire_imap::Command<'_> {
    let config = DecoderConfig::STRICT;
    for end in 0..wire.len() {
        match decode_command(&wire[..end], &config) {
            Ok(Decoded::Incomplete) => {}
            Ok(Decoded::LiteralAnnounced(a)) => {
                // Announced once the header's CRLF is in, until the data is.
                assert!(a.data_start <= end, "announced at {end} before its header ended");
                let header_end = a.data_start;
                assert_eq!(&wire[header_end - 2..header_end], b"\r\n");
                assert!(end < header_end + a.length as usize);
            }
            other => panic!("prefix of {end} bytes: {other:?}"),
        }
    }
    let (value, consumed) = decode_command(wire, &config)
        .unwrap()
        .complete()
        .unwrap_or_else(|| panic!("incomplete: {:?}", String::from_utf8_lossy(wire)));
    assert_eq!(consumed, wire.len());
    assert_eq!(
        String::from_utf8_lossy(&to_bytes(&value.encode(LiteralPolicy::SyncOnly))),
        String::from_utf8_lossy(wire)
    );
    value
}

fn error(wire: &[u8]) -> DecodeError {
    decode_command(wire, &DecoderConfig::STRICT).expect_err("should not decode")
}

const RFC9051_MESSAGE: &[u8] = b"Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\n\
From: Fred Foobar <foobar@Blurdybloop.example>\r\n\
Subject: afternoon meeting\r\n\
To: mooch@owatagu.siam.edu.example\r\n\
Message-Id: <B27397-0100000@Blurdybloop.example>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n\
\r\n\
Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n";

#[test]
fn rfc9051_append() {
    assert_eq!(RFC9051_MESSAGE.len(), 326, "the size RFC 9051 announces");
    let wire = [
        &b"A003 APPEND saved-messages (\\Seen) {326}\r\n"[..],
        RFC9051_MESSAGE,
        b"\r\n",
    ]
    .concat();
    let c = command(&wire);
    let CommandBody::Append(a) = c.body else { panic!() };
    assert_eq!(a.mailbox.as_bytes(), b"saved-messages");
    assert_eq!(a.messages.len(), 1);
    assert_eq!(a.messages[0].data.literal().unwrap().data(), RFC9051_MESSAGE);
    assert_eq!(a.messages[0].flags.as_deref(), Some(&[Flag::Seen][..]));
}

#[test]
fn append_with_date_multiappend_and_binary() {
    let wire = b"A1 APPEND INBOX () \"14-Jul-2024 02:44:25 -0700\" {5+}\r\nHello (\\Draft $Junk) {2}\r\nab ~{3}\r\n\0\x01\x02\r\n";
    let config = DecoderConfig::STRICT;
    let (c, _) = decode_command(wire, &config).unwrap().complete().unwrap();
    let CommandBody::Append(a) = &c.body else { panic!() };
    assert_eq!(a.mailbox, mailwire_imap::Mailbox::Inbox);
    assert_eq!(a.messages.len(), 3);
    assert_eq!(a.messages[0].flags.as_deref(), Some(&[][..]));
    assert_eq!(
        a.messages[0].date.unwrap().to_string(),
        "14-Jul-2024 02:44:25 -0700"
    );
    assert_eq!(a.messages[1].flags.as_ref().unwrap().len(), 2);
    assert!(a.messages[2].data.literal().unwrap().is_binary());
    // A client that may not send non-synchronizing literals waits for '+'
    // before each literal's data.
    let fragments = c.encode(LiteralPolicy::SyncOnly);
    let literals: Vec<_> = fragments
        .iter()
        .filter_map(|f| match f {
            mailwire_imap::Fragment::Literal { data, mode } => Some((data.len(), *mode)),
            _ => None,
        })
        .collect();
    assert_eq!(
        literals,
        vec![
            (5, LiteralMode::Sync),
            (2, LiteralMode::Sync),
            (3, LiteralMode::Sync)
        ]
    );
    let plus = to_bytes(&c.encode(LiteralPolicy::LiteralPlus));
    assert!(plus.starts_with(b"A1 APPEND INBOX () \"14-Jul-2024 02:44:25 -0700\" {5+}\r\nHello"));
    assert!(plus.ends_with(b"~{3+}\r\n\0\x01\x02\r\n"));

    // A literal is required (a quoted string reads as the start of a
    // date-time); NUL only in literal8; no \Recent.
    let place = |input: &[u8]| {
        let e = error(input);
        assert_eq!(e.tag.as_ref().map(|t| t.as_str()), Some("A1"));
        (e.offset, e.expected)
    };
    assert_eq!(
        place(b"A1 APPEND INBOX \"text\"\r\n"),
        (17, "two-digit day, or space and digit")
    );
    assert_eq!(
        place(b"A1 APPEND INBOX {1}\r\n\0\r\n"),
        (21, "CHAR8 (NUL only in literal8)")
    );
    assert_eq!(place(b"A1 APPEND INBOX\r\n"), (15, "space and message literal"));
    assert_eq!(
        place(b"A1 APPEND INBOX (\\Recent) {1}\r\nx\r\n"),
        (17, "flag (\\Recent is only allowed in FETCH FLAGS)")
    );
}

#[test]
fn rfc9051_store_copy_move_expunge() {
    let c = command(b"A003 STORE 2:4 +FLAGS (\\Deleted)\r\n");
    let CommandBody::Store { store, uid: false } = c.body else {
        panic!()
    };
    assert_eq!((store.action, store.silent), (StoreAction::Add, false));
    command(b"A004 STORE 1 FLAGS.SILENT (\\Seen $Important)\r\n");
    command(b"A005 STORE 1:* -FLAGS ()\r\n");
    command(b"A003 COPY 2:4 MEETING\r\n");
    let c = command(b"a UID MOVE 42:69 foo\r\n");
    assert!(matches!(c.body, CommandBody::Move { uid: true, .. }));
    command(b"a MOVE 1:5 \"Other \\\"stuff\\\"\"\r\n");
    let c = command(b"A003 UID EXPUNGE 3000:3002\r\n");
    let CommandBody::UidExpunge(set) = c.body else {
        panic!()
    };
    assert_eq!(set.to_string(), "3000:3002");
    command(b"A004 UID COPY 1:3,5 \"Saved Mail\"\r\n");
    command(b"A005 UID STORE 100:* (UNCHANGEDSINCE 320162338) +FLAGS.SILENT (\\Deleted)\r\n");
    // The unparenthesised flag form decodes and is written back with
    // parentheses.
    let (c, _) = decode_command(b"A6 STORE 1 +FLAGS \\Seen \\Flagged\r\n", &DecoderConfig::STRICT)
        .unwrap()
        .complete()
        .unwrap();
    assert_eq!(
        to_bytes(&c.encode(LiteralPolicy::SyncOnly)),
        b"A6 STORE 1 +FLAGS (\\Seen \\Flagged)\r\n"
    );
}

#[test]
fn malformed_commands_name_the_place() {
    let e = error(b"A1 STORE 1 FLAG (\\Seen)\r\n");
    assert_eq!(e.offset, 11);
    let e = error(b"A1 COPY 0 INBOX\r\n");
    assert_eq!(e.offset, 8);
    // EXPUNGE takes no argument; UID EXPUNGE takes one.
    let e = error(b"A1 EXPUNGE 1:3\r\n");
    assert_eq!((e.offset, e.expected), (10, "CRLF"));
    let e = error(b"A1 UID EXPUNGE\r\n");
    assert_eq!((e.offset, e.expected), (14, "space"));
    let e = error(b"A1 UID FROB 1\r\n");
    assert_eq!(e.tag.as_ref().map(|t| t.as_str()), Some("A1"));
    assert_eq!(e.offset, 7);
    let e = error(b"A1 UID COPY 1:* \r\n");
    assert_eq!((e.offset, e.expected), (16, "mailbox"));
}

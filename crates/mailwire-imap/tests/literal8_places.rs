//! A string held as a `literal8` (made with `Literal::binary`, which any
//! `IString` may hold) is written as one only where the grammar has
//! `literal8` (BINARY data, a METADATA value, URLFETCH's BINARY); in a
//! mailbox name, a LOGIN argument or BODY[] data it is written as a
//! literal, which the peer reads, unless it holds NUL, which nothing but
//! a literal8 holds. It was written `~{n}` everywhere: the peer refused
//! the command or response.

use std::num::NonZeroU32;

use mailwire_imap::{
    AString, Command, CommandBody, DataItemName, Decoded, DecoderConfig, IString, Literal, LiteralPolicy,
    Mailbox, MessageDataItem, MetadataEntry, MetadataEntryValue, NString, Response, Section, Tag,
    decode_command, decode_response, to_bytes,
};

fn binary(data: &[u8]) -> IString<'_> {
    IString::Literal(Literal::binary(data))
}

fn command_bytes(body: CommandBody<'_>) -> Vec<u8> {
    let command = Command {
        tag: Tag::new("a").unwrap(),
        body,
    };
    to_bytes(&command.encode(LiteralPolicy::LiteralPlus))
}

fn fetch_bytes(item: MessageDataItem<'_>) -> Vec<u8> {
    let response = Response::Fetch {
        seq: NonZeroU32::new(1).unwrap(),
        items: vec![item],
    };
    to_bytes(&response.encode())
}

#[test]
fn a_literal8_outside_its_places_is_written_as_a_literal() {
    let login = |user: &'static [u8]| CommandBody::Login {
        username: AString::String(binary(user)),
        password: mailwire_imap::Secret::new(AString::from_bytes(&b"secret"[..]).unwrap()),
    };
    let sent = command_bytes(login(b"ann"));
    assert_eq!(sent, b"a LOGIN {3+}\r\nann secret\r\n");
    // What the peer reads: the same name.
    let Ok(Decoded::Complete { value, .. }) = decode_command(&sent, &DecoderConfig::default()) else {
        panic!("{}", String::from_utf8_lossy(&sent));
    };
    let CommandBody::Login { username, .. } = value.body else {
        panic!("{value:?}");
    };
    assert_eq!(username.as_bytes(), b"ann");
    // NUL fits nothing but a literal8: it stays one.
    assert_eq!(command_bytes(login(b"a\0n")), b"a LOGIN ~{3+}\r\na\0n secret\r\n");

    let select = CommandBody::Select {
        mailbox: Mailbox::from(AString::String(binary(b"Work"))),
        parameters: Vec::new(),
    };
    assert_eq!(command_bytes(select), b"a SELECT {4+}\r\nWork\r\n");

    let body = DataItemName::BodySection {
        section: Section::WHOLE,
        origin: None,
    };
    assert_eq!(
        fetch_bytes(body.with_data(NString(Some(binary(b"abc"))))),
        b"* 1 FETCH (BODY[] {3}\r\nabc)\r\n"
    );
}

#[test]
fn a_literal8_in_its_places_stays_one() {
    let binary_item = DataItemName::Binary {
        section: None,
        origin: None,
    };
    assert_eq!(
        fetch_bytes(binary_item.with_data(NString(Some(binary(b"abc"))))),
        b"* 1 FETCH (BINARY[] ~{3}\r\nabc)\r\n"
    );
    let set = CommandBody::SetMetadata {
        mailbox: Mailbox::Inbox,
        values: vec![MetadataEntryValue {
            entry: MetadataEntry::new("/private/comment").unwrap(),
            value: NString(Some(binary(b"x\0y"))),
        }],
    };
    let sent = command_bytes(set);
    assert_eq!(sent, b"a SETMETADATA INBOX (/private/comment ~{3+}\r\nx\0y)\r\n");
    assert!(matches!(
        decode_command(&sent, &DecoderConfig::default()),
        Ok(Decoded::Complete { .. })
    ));
    let set = CommandBody::SetMetadata {
        mailbox: Mailbox::Inbox,
        values: vec![MetadataEntryValue {
            entry: MetadataEntry::new("/private/comment").unwrap(),
            value: NString(Some(binary(b"xy"))),
        }],
    };
    assert_eq!(
        command_bytes(set),
        b"a SETMETADATA INBOX (/private/comment ~{2+}\r\nxy)\r\n"
    );
    // A decoded response gives back the same bytes, an item this crate
    // does not know included (its strings are taken as literal8 too; the
    // fuzzer found this one written `{0}` once literal8 was kept to its
    // places).
    for wire in [
        &b"* 1 FETCH (BINARY[] ~{3}\r\nabc)\r\n"[..],
        b"* 1 FETCH (HODY (NIL \"\" ~{0}\r\n 3))\r\n",
    ] {
        let Ok(Decoded::Complete { value, .. }) = decode_response(wire, &DecoderConfig::default()) else {
            panic!("{}", String::from_utf8_lossy(wire));
        };
        assert_eq!(to_bytes(&value.encode()), wire);
    }
}

//! REPLACE (RFC 8508): the command forms of the examples of section 4
//! (REPLACE and UID REPLACE with flags and a literal, the responses that
//! follow) decoded, re-encoded and compared with typed values; the message
//! parsed as APPEND's (flags, date, literal, literal8, non-synchronizing
//! literals, CATENATE and UTF8 data); malformed forms with error offsets,
//! an `append-ext` among them; a property test.

mod codec_support;

use std::num::NonZeroU32;

use codec_support::*;
use mailwire_imap::{
    AppendData, AppendMessage, CatPart, Command, CommandBody, DateTime, DecoderConfig, Flag, Literal,
    LiteralPolicy, Mailbox, Replace, SeqNumber, Tag, to_bytes,
};
use proptest::prelude::*;

const MESSAGE: &[u8] = b"Date: Thu, 1 Jan 2015 00:05:00 -0500 (EST)\r\n\
Subject: Gas\r\n\r\nShe is not going to make it.\r\n";

#[test]
fn rfc8508_examples() {
    let wire = [
        b"A003 REPLACE 4 Drafts (\\Seen \\Draft) {90}\r\n".as_slice(),
        MESSAGE,
        b"\r\n",
    ]
    .concat();
    let c = command_round_trip(&wire);
    let CommandBody::Replace { replace, uid: false } = &c.body else {
        panic!("{c:?}")
    };
    assert_eq!(replace.target, SeqNumber::new(4).unwrap());
    assert_eq!(replace.mailbox.as_bytes(), b"Drafts");
    assert_eq!(replace.message.flags, Some(vec![Flag::Seen, Flag::Draft]));
    assert_eq!(replace.message.data.literal().unwrap().data(), MESSAGE);
    assert_eq!(c.body.name(), "REPLACE");
    response_round_trip(b"* OK [APPENDUID 1 2000] Replacement Message ready\r\n");
    response_round_trip(b"* 5 EXISTS\r\n");
    response_round_trip(b"* 4 EXPUNGE\r\n");
    response_round_trip(b"A003 OK Replace completed\r\n");

    let wire = [
        b"B00009 UID REPLACE 2004 Drafts (\\Seen \\Draft) {90}\r\n".as_slice(),
        MESSAGE,
        b"\r\n",
    ]
    .concat();
    let c = command_round_trip(&wire);
    let CommandBody::Replace { replace, uid: true } = &c.body else {
        panic!("{c:?}")
    };
    assert_eq!(replace.target, SeqNumber::Value(NonZeroU32::new(2004).unwrap()));
    assert_eq!(c.body.name(), "UID REPLACE");
    response_round_trip(b"* OK [APPENDUID 1 2005] Replacement Message ready\r\n");
    response_round_trip(b"B00009 OK Replace completed\r\n");
    // Literal+ and another mailbox; a date, no flags; literal8; '*'.
    let wire = [b"C1 UID REPLACE 2004 Sent {90+}\r\n".as_slice(), MESSAGE, b"\r\n"].concat();
    let expected = [b"C1 UID REPLACE 2004 Sent {90}\r\n".as_slice(), MESSAGE, b"\r\n"].concat();
    command_encodes_as(&wire, LiteralPolicy::SyncOnly, &expected);
    command_encodes_as(&wire, LiteralPolicy::LiteralPlus, &wire);
    let c = command_round_trip(b"C2 REPLACE * INBOX \"14-Jul-2015 10:00:00 +0000\" {3}\r\nabc\r\n");
    let CommandBody::Replace { replace, .. } = &c.body else {
        panic!()
    };
    assert_eq!(
        (replace.target, replace.mailbox.clone()),
        (SeqNumber::Largest, Mailbox::Inbox)
    );
    assert!(replace.message.date.is_some() && replace.message.flags.is_none());
    let c = command_round_trip(b"C3 REPLACE 1 Drafts () ~{3}\r\na\0b\r\n");
    let CommandBody::Replace { replace, .. } = &c.body else {
        panic!()
    };
    assert!(replace.message.data.literal().unwrap().is_binary());
    assert_eq!(replace.message.flags, Some(vec![]));
}

/// RFC 8508 section 4.2: with CATENATE, the message may be a CATENATE
/// list; UTF8=ACCEPT's `UTF8 (literal8)` extends `append-data` too.
#[test]
fn catenate_and_utf8_messages() {
    let c = command_round_trip(
        b"A4 REPLACE 4 Drafts CATENATE (URL \"/Drafts;UIDVALIDITY=385759045/;UID=20/;section=1\" TEXT {3}\r\nabc)\r\n",
    );
    let CommandBody::Replace { replace, uid: false } = &c.body else {
        panic!("{c:?}")
    };
    let AppendData::Catenate(parts) = &replace.message.data else {
        panic!("{c:?}")
    };
    assert!(matches!(parts[..], [CatPart::Url(_), CatPart::Text(ref t)] if t.data() == b"abc"));
    let c = command_round_trip(b"A5 UID REPLACE 4 Drafts (\\Seen) UTF8 (~{3}\r\na\0c)\r\n");
    let CommandBody::Replace { replace, uid: true } = &c.body else {
        panic!("{c:?}")
    };
    assert_eq!(replace.message.flags, Some(vec![Flag::Seen]));
    assert!(matches!(&replace.message.data, AppendData::Utf8(l) if l.data() == b"a\0c"));
}

#[test]
fn malformed() {
    let strict = DecoderConfig::STRICT;
    for (input, offset) in [
        (&b"r REPLACE\r\n"[..], 9),
        (b"r REPLACE 0 Drafts {1}\r\na\r\n", 10),
        (b"r REPLACE 1:2 Drafts {1}\r\na\r\n", 11),
        (b"r REPLACE 1 Drafts\r\n", 18),
        (b"r REPLACE 1 Drafts (\\Seen)\r\n", 26),
        (b"r REPLACE 1 Drafts \"x\"\r\n", 20),
        (b"r REPLACE 1 Drafts {1}\r\na {1}\r\nb\r\n", 25),
        (b"r UID REPLACE x Drafts {1}\r\na\r\n", 14),
        // An append-ext is refused, as with APPEND.
        (b"r REPLACE 1 Drafts X-EXT 5 {1}\r\na\r\n", 19),
        (b"r REPLACE 1 Drafts (\\Seen) X-EXT 5 {1}\r\na\r\n", 27),
        (b"r REPLACE 1 Drafts CATENATE ()\r\n", 29),
        (b"r REPLACE 1 Drafts UTF8 ({1}\r\na)\r\n", 25),
    ] {
        let e = command_error(input, &strict);
        assert_eq!(
            (e.offset, e.tag.map(|t| t.as_str().to_owned())),
            (offset, Some("r".to_owned())),
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
}

proptest! {
    #[test]
    fn generated_replaces_round_trip(
        target in prop_oneof![Just(SeqNumber::Largest), (1u32..).prop_map(|n| SeqNumber::new(n).unwrap())],
        name in "[ -~]{0,10}",
        flags in proptest::option::of(proptest::collection::vec(
            prop_oneof![Just(Flag::Seen), Just(Flag::Draft), Just(Flag::Flagged)], 0..3)),
        date in proptest::option::of(Just("\"14-Jul-2015 10:00:00 +0000\"".parse::<DateTime>().unwrap())),
        data in proptest::collection::vec(any::<u8>(), 0..40),
        binary in any::<bool>(),
        uid in any::<bool>(),
        policy in prop_oneof![Just(LiteralPolicy::SyncOnly), Just(LiteralPolicy::LiteralPlus)],
    ) {
        let data = if binary {
            Literal::binary(data)
        } else {
            Literal::new(data.into_iter().map(|b| b.max(1)).collect::<Vec<_>>()).unwrap()
        };
        let mailbox = Mailbox::new(mailwire_imap::AString::from_bytes(name.into_bytes()).unwrap());
        let command = Command {
            tag: Tag::new("r").unwrap(),
            body: CommandBody::Replace {
                replace: Replace { target, mailbox, message: AppendMessage { flags, date, data: AppendData::Literal(data) } },
                uid,
            },
        };
        let bytes = to_bytes(&command.encode(policy));
        prop_assert_eq!(decode_cmd_with(&bytes, &DecoderConfig::STRICT), command);
    }
}

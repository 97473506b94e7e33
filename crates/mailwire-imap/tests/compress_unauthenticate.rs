//! COMPRESS (RFC 4978) and UNAUTHENTICATE (RFC 8437): the examples of RFC
//! 4978 section 3 and RFC 8437 section 4 decoded, re-encoded and compared,
//! the `[COMPRESSIONACTIVE]` code typed, malformed forms with error
//! offsets, and a property test over algorithm names.

mod codec_support;

use codec_support::*;
use mailwire_imap::{
    Atom, Code, Command, CommandBody, DecoderConfig, ErrorKind, LiteralPolicy, RespText, Response, Status,
    Tag, to_bytes,
};
use proptest::prelude::*;

#[test]
fn rfc4978_examples() {
    let c = command_encodes_as(
        b"c compress deflate\r\n",
        LiteralPolicy::SyncOnly,
        b"c COMPRESS deflate\r\n",
    );
    let CommandBody::Compress(algorithm) = &c.body else {
        panic!()
    };
    assert!(algorithm.as_str().eq_ignore_ascii_case("DEFLATE"));
    command_round_trip(b"c COMPRESS DEFLATE\r\n");
    response_round_trip(b"d OK DEFLATE active\r\n");
    let r = response_round_trip(b"c NO [COMPRESSIONACTIVE] DEFLATE active via TLS\r\n");
    let Response::Status {
        status: Status::No,
        text: RespText { code, .. },
        ..
    } = &r
    else {
        panic!()
    };
    assert_eq!(code, &Some(Code::CompressionActive));
    // Capability names are case-insensitive; IMAP4rev1 is written as
    // RFC 3501 spells it.
    let r = response_encodes_as(
        b"* OK [CAPABILITY IMAP4REV1 STARTTLS COMPRESS=DEFLATE] ready\r\n",
        b"* OK [CAPABILITY IMAP4rev1 STARTTLS COMPRESS=DEFLATE] ready\r\n",
    );
    let Response::Status {
        text: RespText {
            code: Some(Code::Capability(caps)),
            ..
        },
        ..
    } = r
    else {
        panic!()
    };
    assert!(caps.contains(&mailwire_imap::Capability::Compress(
        Atom::new("deflate").unwrap()
    )));
}

#[test]
fn rfc8437_examples() {
    let c = command_round_trip(b"A3 UNAUTHENTICATE\r\n");
    assert_eq!(
        (c.body.name(), &c.body),
        ("UNAUTHENTICATE", &CommandBody::Unauthenticate)
    );
    command_encodes_as(
        b"a4 unauthenticate\r\n",
        LiteralPolicy::SyncOnly,
        b"a4 UNAUTHENTICATE\r\n",
    );
    response_round_trip(b"A3 OK [CAPABILITY IMAP4rev1 UNAUTHENTICATE] Unauthenticated\r\n");
}

#[test]
fn malformed() {
    let strict = DecoderConfig::STRICT;
    for (input, offset) in [
        (&b"c COMPRESS\r\n"[..], 10),
        (b"c COMPRESS \r\n", 11),
        (b"c COMPRESS (DEFLATE)\r\n", 11),
        (b"c COMPRESS DEFLATE LEVEL\r\n", 18),
        (b"c UNAUTHENTICATE now\r\n", 16),
    ] {
        let e = command_error(input, &strict);
        assert_eq!(
            (e.offset, e.kind, e.tag.map(|t| t.as_str().to_owned())),
            (offset, ErrorKind::Syntax, Some("c".to_owned())),
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
}

proptest! {
    #[test]
    fn generated_compress_round_trips(name in "[A-Za-z0-9=.-]{1,12}") {
        let command = Command {
            tag: Tag::new("z").unwrap(),
            body: CommandBody::Compress(Atom::new(name).unwrap()),
        };
        let bytes = to_bytes(&command.encode(LiteralPolicy::SyncOnly));
        prop_assert_eq!(decode_cmd_with(&bytes, &DecoderConfig::STRICT), command);
    }
}

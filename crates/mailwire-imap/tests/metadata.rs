//! METADATA (RFC 5464): the examples of sections 4.2, 4.3 and 4.4 decoded,
//! re-encoded and compared (quoted `"INBOX"` comes back as the atom, a
//! parenthesized single entry without parentheses); entry names validated
//! with error offsets; MAXSIZE, DEPTH and unknown options; the response
//! codes; over-limit lists; a property test that generated commands and
//! responses round-trip.

mod codec_support;

use codec_support::*;
use mailwire_imap::{
    AString, Code, Command, CommandBody, DecoderConfig, ErrorKind, GetMetadata, GetMetadataOption, IString,
    Literal, LiteralPolicy, Mailbox, MetadataCode, MetadataData, MetadataDepth, MetadataEntry,
    MetadataEntryValue, MetadataResponse, NString, RespText, Response, Tag, to_bytes,
};
use proptest::prelude::*;

fn entry(s: &str) -> MetadataEntry<'_> {
    MetadataEntry::new(s).unwrap()
}

fn code_of<'a>(r: &'a Response<'a>) -> &'a Code<'a> {
    match r {
        Response::Status {
            text: RespText { code: Some(c), .. },
            ..
        } => c,
        other => panic!("{other:?}"),
    }
}

#[test]
fn rfc5464_getmetadata_examples() {
    let c = command_round_trip(b"a GETMETADATA \"\" /shared/comment\r\n");
    let CommandBody::GetMetadata(GetMetadata {
        options,
        mailbox,
        entries,
    }) = &c.body
    else {
        panic!()
    };
    assert!(options.is_empty());
    assert_eq!(mailbox.as_bytes(), b"");
    assert_eq!(entries, &[entry("/shared/comment")]);
    let r = response_round_trip(b"* METADATA \"\" (/shared/comment \"Shared comment\")\r\n");
    let Response::Metadata(MetadataResponse {
        data: MetadataData::Values(values),
        ..
    }) = &r
    else {
        panic!()
    };
    assert_eq!(values[0].entry.as_str(), "/shared/comment");
    assert_eq!(values[0].value.as_bytes(), Some(&b"Shared comment"[..]));

    command_encodes_as(
        b"a GETMETADATA \"INBOX\" /private/comment\r\n",
        LiteralPolicy::SyncOnly,
        b"a GETMETADATA INBOX /private/comment\r\n",
    );
    response_encodes_as(
        b"* METADATA \"INBOX\" (/private/comment \"My own comment\")\r\n",
        b"* METADATA INBOX (/private/comment \"My own comment\")\r\n",
    );
    let c = command_encodes_as(
        b"a GETMETADATA \"INBOX\" (/shared/comment /private/comment)\r\n",
        LiteralPolicy::SyncOnly,
        b"a GETMETADATA INBOX (/shared/comment /private/comment)\r\n",
    );
    let CommandBody::GetMetadata(g) = &c.body else {
        panic!()
    };
    assert_eq!((g.mailbox.clone(), g.entries.len()), (Mailbox::Inbox, 2));
    let r = response_encodes_as(
        b"* METADATA \"INBOX\" (/shared/comment \"Shared comment\" /private/comment \"My own comment\")\r\n",
        b"* METADATA INBOX (/shared/comment \"Shared comment\" /private/comment \"My own comment\")\r\n",
    );
    assert!(
        matches!(&r, Response::Metadata(m) if matches!(&m.data, MetadataData::Values(v) if v.len() == 2))
    );

    // Section 4.2.1: MAXSIZE and LONGENTRIES.
    let c = command_encodes_as(
        b"a GETMETADATA \"INBOX\" (MAXSIZE 1024) (/shared/comment /private/comment)\r\n",
        LiteralPolicy::SyncOnly,
        b"a GETMETADATA (MAXSIZE 1024) INBOX (/shared/comment /private/comment)\r\n",
    );
    // RFC 5464's example puts the options after the mailbox, against its
    // ABNF: read, and written in the ABNF's order.
    let CommandBody::GetMetadata(g) = &c.body else {
        panic!()
    };
    assert_eq!(g.options, [GetMetadataOption::MaxSize(1024)]);
    let c = command_round_trip(b"a GETMETADATA (MAXSIZE 1024) INBOX (/shared/comment /private/comment)\r\n");
    let CommandBody::GetMetadata(g) = &c.body else {
        panic!()
    };
    assert_eq!(g.options, [GetMetadataOption::MaxSize(1024)]);
    let r = response_round_trip(b"a OK [METADATA LONGENTRIES 2199] GETMETADATA complete\r\n");
    assert_eq!(code_of(&r), &Code::Metadata(MetadataCode::LongEntries(2199)));

    // Section 4.2.2: DEPTH, in the example's place too.
    let c = command_encodes_as(
        b"a GETMETADATA \"INBOX\" (DEPTH 1) (/private/filters/values)\r\n",
        LiteralPolicy::SyncOnly,
        b"a GETMETADATA (DEPTH 1) INBOX /private/filters/values\r\n",
    );
    let CommandBody::GetMetadata(g) = &c.body else {
        panic!()
    };
    assert_eq!(g.options, [GetMetadataOption::Depth(MetadataDepth::One)]);
    response_encodes_as(
        b"* METADATA \"INBOX\" (/private/filters/values/small \"SMALLER 5000\" \
          /private/filters/values/boss \"FROM \\\"boss@example.com\\\"\")\r\n",
        b"* METADATA INBOX (/private/filters/values/small \"SMALLER 5000\" \
          /private/filters/values/boss \"FROM \\\"boss@example.com\\\"\")\r\n",
    );
    let c = command_round_trip(b"a GETMETADATA (DEPTH infinity MAXSIZE 0 X-OPT (1 2)) \"\" /shared\r\n");
    let CommandBody::GetMetadata(g) = &c.body else {
        panic!()
    };
    assert_eq!(g.options[0], GetMetadataOption::Depth(MetadataDepth::Infinity));
    assert!(matches!(&g.options[2], GetMetadataOption::Other(t) if t.name.as_str() == "X-OPT"));
    command_encodes_as(
        b"a GETMETADATA (depth INFINITY) \"\" /shared/x\r\n",
        LiteralPolicy::SyncOnly,
        b"a GETMETADATA (DEPTH infinity) \"\" /shared/x\r\n",
    );
}

#[test]
fn rfc5464_setmetadata_and_unsolicited_examples() {
    let c = command_round_trip(
        b"a SETMETADATA INBOX (/private/comment {33}\r\nMy new comment across\r\ntwo lines.)\r\n",
    );
    let CommandBody::SetMetadata { mailbox, values } = &c.body else {
        panic!()
    };
    assert_eq!(mailbox, &Mailbox::Inbox);
    assert_eq!(
        values[0].value.as_bytes(),
        Some(&b"My new comment across\r\ntwo lines."[..])
    );
    let c = command_round_trip(b"a SETMETADATA INBOX (/private/comment NIL)\r\n");
    let CommandBody::SetMetadata { values, .. } = &c.body else {
        panic!()
    };
    assert_eq!(values[0].value, NString::NIL);
    command_round_trip(
        b"a SETMETADATA INBOX (/private/comment \"My new comment\" /shared/comment \"This one is for you!\")\r\n",
    );
    let r = response_round_trip(b"a NO [METADATA TOOMANY] SETMETADATA failed\r\n");
    assert_eq!(code_of(&r), &Code::Metadata(MetadataCode::TooMany));
    let r = response_round_trip(b"a NO [METADATA MAXSIZE 1024] SETMETADATA failed\r\n");
    assert_eq!(code_of(&r), &Code::Metadata(MetadataCode::MaxSize(1024)));
    let r = response_round_trip(b"a NO [METADATA NOPRIVATE] SETMETADATA failed\r\n");
    assert_eq!(code_of(&r), &Code::Metadata(MetadataCode::NoPrivate));
    // An unknown METADATA code stays generic.
    let r = response_round_trip(b"a NO [METADATA FROBNICATED 3] failed\r\n");
    assert!(
        matches!(code_of(&r), Code::Other { name, text: Some(t) } if name.as_str() == "METADATA" && t == "FROBNICATED 3")
    );
    let r = response_round_trip(b"a NO [METADATA TOOMANY 3] failed\r\n");
    assert!(matches!(code_of(&r), Code::Other { .. }));

    // Section 4.4: unsolicited responses list the changed entries.
    let r = response_round_trip(b"* METADATA \"\" /shared/comment\r\n");
    let Response::Metadata(MetadataResponse {
        data: MetadataData::Entries(e),
        ..
    }) = &r
    else {
        panic!()
    };
    assert_eq!(e, &[entry("/shared/comment")]);
    let r = response_encodes_as(
        b"* METADATA \"INBOX\" /shared/comment /private/comment\r\n",
        b"* METADATA INBOX /shared/comment /private/comment\r\n",
    );
    let Response::Metadata(MetadataResponse {
        data: MetadataData::Entries(e),
        ..
    }) = &r
    else {
        panic!()
    };
    assert_eq!(e.len(), 2);
    // literal8 values.
    let c = command_round_trip(b"a SETMETADATA \"\" (/shared/vendor/x/bin ~{3}\r\na\0b)\r\n");
    let CommandBody::SetMetadata { values, .. } = &c.body else {
        panic!()
    };
    assert!(matches!(&values[0].value.0, Some(IString::Literal(l)) if l.is_binary()));
    response_round_trip(b"* METADATA \"\" (/shared/vendor/x/bin ~{3}\r\na\0b)\r\n");
    // Entry names with spaces and quotes are quoted.
    command_round_trip(b"a GETMETADATA \"\" \"/shared/a b\\\"c\"\r\n");
}

#[test]
fn malformed_and_hostile() {
    let strict = DecoderConfig::STRICT;
    let check = command_error_at(&strict, "m");
    // Entry names: '*', '%', controls, 8-bit, '//', trailing '/', no '/'.
    check(b"m GETMETADATA INBOX /shared/a*\r\n", 29, ErrorKind::Syntax);
    check(b"m GETMETADATA INBOX \"/shared/%\"\r\n", 29, ErrorKind::Syntax);
    check(
        b"m GETMETADATA INBOX {9}\r\n/shared/\x01\r\n",
        33,
        ErrorKind::Syntax,
    );
    check(
        b"m GETMETADATA INBOX \"/shared/\xc3\xa9\"\r\n",
        29,
        ErrorKind::Syntax,
    );
    check(b"m GETMETADATA INBOX /shared//a\r\n", 28, ErrorKind::Syntax);
    check(b"m GETMETADATA INBOX /shared/\r\n", 28, ErrorKind::Syntax);
    check(b"m GETMETADATA INBOX shared\r\n", 20, ErrorKind::Syntax);
    check(b"m GETMETADATA INBOX (/a /b*)\r\n", 26, ErrorKind::Syntax);
    check(
        b"m SETMETADATA INBOX (/private/a% NIL)\r\n",
        31,
        ErrorKind::Syntax,
    );
    // Missing parts, empty lists, bad options.
    check(b"m GETMETADATA INBOX\r\n", 19, ErrorKind::Syntax);
    check(b"m GETMETADATA INBOX ()\r\n", 21, ErrorKind::Syntax);
    check(b"m GETMETADATA () INBOX /a/b\r\n", 15, ErrorKind::Syntax);
    check(b"m GETMETADATA (DEPTH 2) INBOX /a/b\r\n", 21, ErrorKind::Syntax);
    check(b"m GETMETADATA (MAXSIZE x) INBOX /a/b\r\n", 23, ErrorKind::Syntax);
    check(b"m SETMETADATA INBOX ()\r\n", 21, ErrorKind::Syntax);
    check(b"m SETMETADATA INBOX (/a/b)\r\n", 25, ErrorKind::Syntax);
    check(b"m SETMETADATA INBOX (/a/b NIL\r\n", 29, ErrorKind::Syntax);
    check(b"m SETMETADATA INBOX /a/b NIL\r\n", 20, ErrorKind::Syntax);
    check(
        b"m GETMETADATA (DEPTH 1) INBOX (MAXSIZE 1) /a\r\n",
        31,
        ErrorKind::Syntax,
    );
    check(b"m GETMETADATA INBOX (DEPTH 1)\r\n", 29, ErrorKind::Syntax);
    let e = response_error(b"* METADATA INBOX /a/b /c*\r\n", &strict);
    assert_eq!(e.offset, 24);
    let e = response_error(b"* METADATA INBOX ()\r\n", &strict);
    assert_eq!(e.offset, 18);
    // Over the list limit, and nesting in an unknown option's value.
    let mut low = DecoderConfig::STRICT;
    low.limits.list = 2;
    let e = command_error(b"m GETMETADATA INBOX (/a /b /c)\r\n", &low);
    assert_eq!((e.offset, e.kind), (27, ErrorKind::TooMany { limit: 2 }));
    let e = command_error(b"m SETMETADATA INBOX (/a NIL /b NIL /c NIL)\r\n", &low);
    assert_eq!((e.offset, e.kind), (35, ErrorKind::TooMany { limit: 2 }));
    let e = response_error(b"* METADATA INBOX /a /b /c\r\n", &low);
    assert_eq!((e.offset, e.kind), (22, ErrorKind::TooMany { limit: 2 }));
    let mut shallow = DecoderConfig::STRICT;
    shallow.limits.depth = 3;
    let e = command_error(b"m GETMETADATA (X ((((1))))) INBOX /a\r\n", &shallow);
    assert_eq!((e.offset, e.kind), (20, ErrorKind::TooDeep { limit: 3 }));
    // The constructor names the byte.
    let e = MetadataEntry::new("/shared/a*b").unwrap_err();
    assert_eq!((e.byte, e.position), (Some(b'*'), Some(9)));
    assert!(MetadataEntry::new("/shared//a").is_err());
    assert!(MetadataEntry::new("").is_err());
}

fn entry_strategy() -> impl Strategy<Value = MetadataEntry<'static>> {
    proptest::collection::vec("[a-z0-9 \"().]{1,6}", 1..4)
        .prop_map(|parts| MetadataEntry::new(format!("/{}", parts.join("/"))).unwrap())
}

fn value_strategy() -> impl Strategy<Value = NString<'static>> {
    prop_oneof![
        Just(NString::NIL),
        "[ -~]{0,20}".prop_map(|s| NString(Some(IString::from_bytes(s.into_bytes()).unwrap()))),
        proptest::collection::vec(any::<u8>(), 0..10)
            .prop_map(|v| NString(Some(IString::Literal(Literal::binary(v))))),
    ]
}

fn option_strategy() -> impl Strategy<Value = GetMetadataOption<'static>> {
    prop_oneof![
        any::<u32>().prop_map(GetMetadataOption::MaxSize),
        prop_oneof![
            Just(MetadataDepth::Zero),
            Just(MetadataDepth::One),
            Just(MetadataDepth::Infinity)
        ]
        .prop_map(GetMetadataOption::Depth),
    ]
}

proptest! {
    #[test]
    fn generated_metadata_round_trips(
        name in "[ -~]{0,10}",
        options in proptest::collection::vec(option_strategy(), 0..3),
        entries in proptest::collection::vec(entry_strategy(), 1..4),
        values in proptest::collection::vec((entry_strategy(), value_strategy()), 1..4),
        policy in prop_oneof![Just(LiteralPolicy::SyncOnly), Just(LiteralPolicy::LiteralPlus)],
    ) {
        let mailbox = Mailbox::new(AString::from_bytes(name.into_bytes()).unwrap());
        let values: Vec<_> = values.into_iter().map(|(entry, value)| MetadataEntryValue { entry, value }).collect();
        for body in [
            CommandBody::GetMetadata(GetMetadata { options, mailbox: mailbox.clone(), entries: entries.clone() }),
            CommandBody::SetMetadata { mailbox: mailbox.clone(), values: values.clone() },
        ] {
            let command = Command { tag: Tag::new("m").unwrap(), body };
            let bytes = to_bytes(&command.encode(policy));
            prop_assert_eq!(decode_cmd_with(&bytes, &DecoderConfig::STRICT), command);
        }
        for data in [MetadataData::Values(values), MetadataData::Entries(entries)] {
            let response = Response::Metadata(MetadataResponse { mailbox: mailbox.clone(), data });
            let bytes = to_bytes(&response.encode());
            prop_assert_eq!(decode_resp_with(&bytes, &DecoderConfig::STRICT), response);
        }
    }
}

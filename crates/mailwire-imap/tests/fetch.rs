//! FETCH commands and responses through the public API: the examples of
//! RFC 3501, RFC 9051, RFC 3516 and RFC 7162 (fetch modifiers), responses
//! as real servers send them, prefixes, limits, errors, and property tests
//! that round-trip generated data items and body structures.

use std::num::{NonZeroU32, NonZeroU64};

use mailwire_imap::{
    AString, Address, AddressList, BodyExtension, BodyFields, BodyParam, BodyParams, BodyStructure, Command,
    CommandBody, Decoded, DecoderConfig, Disposition, Envelope, ErrorKind, ExtensionTail, Fetch, FetchItem,
    FetchItems, FetchMacro, FetchModifier, Flag, FlagFetch, HeaderList, IString, Language, LanguageTail,
    LiteralPolicy, LocationTail, MessageDataItem, ModSeq, MultipartExtension, NString, Partial, Response,
    Section, SectionPart, SectionText, SinglePartExtension, SpecificFields, Tag, decode_command,
    decode_response, to_bytes,
};
use proptest::prelude::*;

const STRICT: DecoderConfig = DecoderConfig::STRICT;

mod codec_support;

use codec_support::{command_encodes_as, decode_cmd_with, decode_resp_with};

fn command(input: &[u8]) -> Command<'_> {
    decode_cmd_with(input, &STRICT)
}

/// Decodes a command, checks that it encodes to `canonical`, that its
/// prefixes are incomplete and that the owned copy is equal.
fn command_round_trip<'a>(input: &'a [u8], canonical: &[u8]) -> Fetch<'a> {
    match command_encodes_as(input, LiteralPolicy::SyncOnly, canonical).body {
        CommandBody::Fetch { fetch, .. } => fetch,
        other => panic!("{other:?}"),
    }
}

fn response_with(input: &[u8], config: &DecoderConfig) -> Response<'static> {
    decode_resp_with(input, config).into_owned()
}

/// Decodes a FETCH response strictly, checks that it encodes to the same
/// bytes and that its prefixes are incomplete.
fn response_round_trip(input: &[u8]) -> (NonZeroU32, Vec<MessageDataItem<'static>>) {
    match codec_support::response_round_trip(input).into_owned() {
        Response::Fetch { seq, items } => (seq, items),
        other => panic!("{other:?}"),
    }
}

fn part(parts: &[u32]) -> SectionPart {
    SectionPart::new(parts.iter().map(|&n| NonZeroU32::new(n).unwrap()).collect()).unwrap()
}

#[test]
fn rfc_fetch_commands() {
    // RFC 3501 and RFC 9051 section 6.4.5.
    let f = command_round_trip(
        b"A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])\r\n",
        b"A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])\r\n",
    );
    let FetchItems::List(items) = &f.items else {
        panic!()
    };
    assert_eq!(items[0], FetchItem::Flags);
    let FetchItem::BodySection {
        section,
        partial: None,
        peek: false,
    } = &items[1]
    else {
        panic!()
    };
    let Some(SectionText::HeaderFields(list)) = section.text() else {
        panic!()
    };
    assert_eq!(list.names()[1].as_bytes(), b"FROM");
    // RFC 3501 and RFC 9051 section 6.4.9 (UID).
    let c = command(b"A999 UID FETCH 4827313:4828442 FLAGS\r\n");
    assert!(matches!(c.body, CommandBody::Fetch { uid: true, .. }));
    assert_eq!(c.body.name(), "UID FETCH");
    command_round_trip(
        b"A999 UID FETCH 4827313:4828442 FLAGS\r\n",
        b"A999 UID FETCH 4827313:4828442 FLAGS\r\n",
    );
    // RFC 9051 section 6.4.4.4 (SEARCHRES).
    let f = command_round_trip(
        b"A283 FETCH $ (UID INTERNALDATE FLAGS BODY.PEEK[HEADER])\r\n",
        b"A283 FETCH $ (UID INTERNALDATE FLAGS BODY.PEEK[HEADER])\r\n",
    );
    assert!(f.sequence_set.is_last_command());
    // RFC 9051 sections 6.3.2 and 6.3.3 (SELECT and EXAMINE examples).
    let f = command_round_trip(b"A003 FETCH 4 ALL\r\n", b"A003 FETCH 4 ALL\r\n");
    assert_eq!(f.items, FetchItems::Macro(FetchMacro::All));
    command_round_trip(b"A005 FETCH 3 ALL\r\n", b"A005 FETCH 3 ALL\r\n");
    // RFC 3501 and RFC 9051 section 8, sent in lower case.
    let f = command_round_trip(b"a003 fetch 12 full\r\n", b"a003 FETCH 12 FULL\r\n");
    assert_eq!(f.items.items().len(), 5);
    let f = command_round_trip(
        b"a004 fetch 12 body[header]\r\n",
        b"a004 FETCH 12 BODY[HEADER]\r\n",
    );
    assert!(matches!(
        &f.items,
        FetchItems::Item(FetchItem::BodySection { section, .. }) if section.text() == Some(&SectionText::Header)
    ));
    // RFC 7162 sections 3.1.4.1 and 3.2.6: modifiers.
    let f = command_round_trip(
        b"s100 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345)\r\n",
        b"s100 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345)\r\n",
    );
    assert_eq!(
        f.modifiers,
        [FetchModifier::ChangedSince(ModSeq::new(12345).unwrap())]
    );
    command_round_trip(
        b"C101 UID FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345 VANISHED)\r\n",
        b"C101 UID FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345 VANISHED)\r\n",
    );
}

#[test]
fn every_fetch_attribute() {
    let input = b"A1 FETCH 1,3:5,7:* (ENVELOPE FLAGS INTERNALDATE RFC822.SIZE RFC822 RFC822.HEADER \
RFC822.TEXT BODY BODYSTRUCTURE UID BODY[] BODY[]<0.2048> BODY.PEEK[1.2.MIME] BODY[3.TEXT]<100.200> \
BODY.PEEK[HEADER.FIELDS.NOT (Received \"X y\")] BINARY[1] BINARY.PEEK[]<5.10> BINARY.SIZE[4.2] BINARY.SIZE[])\r\n";
    let f = command_round_trip(input, input);
    let items = f.items.items();
    assert_eq!(items.len(), 19);
    assert_eq!(
        items[11],
        FetchItem::BodySection {
            section: Section::WHOLE,
            partial: Some(Partial::new(0, NonZeroU64::new(2048).unwrap()).unwrap()),
            peek: false,
        }
    );
    assert_eq!(
        items[12],
        FetchItem::BodySection {
            section: Section::new(Some(part(&[1, 2])), Some(SectionText::Mime)).unwrap(),
            partial: None,
            peek: true,
        }
    );
    assert_eq!(
        items[16],
        FetchItem::Binary {
            section: None,
            partial: Some(Partial::new(5, NonZeroU64::new(10).unwrap()).unwrap()),
            peek: true,
        }
    );
    assert_eq!(
        items[17],
        FetchItem::BinarySize {
            section: Some(part(&[4, 2]))
        }
    );
    // A header name sent as a literal.
    let input = b"A2 FETCH 1 BODY.PEEK[HEADER.FIELDS ({7}\r\nX-Weird SUBJECT)]\r\n";
    command_round_trip(input, input);
}

#[test]
fn command_errors_carry_offsets() {
    for (input, offset, expected) in [
        (
            &b"A1 FETCH 1 (FLAGS ALL)\r\n"[..],
            18,
            "fetch attribute (ALL, FAST and FULL stand alone)",
        ),
        (b"A1 FETCH 1 ()\r\n", 12, "fetch attribute"),
        (b"A1 FETCH 1 FROB\r\n", 11, "fetch attribute, macro or '('"),
        (b"A1 FETCH 0 FLAGS\r\n", 9, "number from 1"),
        (
            b"A1 FETCH 1 BODY[MIME]\r\n",
            16,
            "part number, HEADER, HEADER.FIELDS, HEADER.FIELDS.NOT or TEXT",
        ),
        (b"A1 FETCH 1 BODY[]<0.0>\r\n", 20, "number from 1"),
        (b"A1 FETCH 1 BODY[]<0.01>\r\n", 20, "digit 1-9"),
        (b"A1 FETCH 1 (FLAGS) ()\r\n", 20, "extension label"),
        (
            b"A1 UID FROB 1\r\n",
            7,
            "a command with a UID form (FETCH, STORE, COPY, MOVE, SEARCH, SORT, THREAD, EXPUNGE, REPLACE)",
        ),
        (b"A1 FETCH 1 FLAGS \r\n", 16, "CRLF"),
    ] {
        let e = decode_command(input, &STRICT).unwrap_err();
        assert_eq!(
            (e.offset, e.expected),
            (offset, expected),
            "{}",
            String::from_utf8_lossy(input)
        );
        assert_eq!(e.tag.unwrap().as_str(), "A1");
        assert_eq!(e.resume_at, Some(input.len()));
    }
}

#[test]
fn commands_built_by_a_client() {
    let header_fields = HeaderList::new(vec![
        AString::from_bytes(&b"DATE"[..]).unwrap(),
        AString::from_bytes(&b"two words"[..]).unwrap(),
        AString::from_bytes(&b"line\r\nbreak"[..]).unwrap(),
    ])
    .unwrap();
    let c = Command {
        tag: Tag::new("c1").unwrap(),
        body: CommandBody::Fetch {
            fetch: Fetch {
                sequence_set: "1:*".parse().unwrap(),
                items: FetchItems::List(vec![
                    FetchItem::Uid,
                    FetchItem::BodySection {
                        section: Section::new(None, Some(SectionText::HeaderFields(header_fields))).unwrap(),
                        partial: None,
                        peek: true,
                    },
                ]),
                modifiers: Vec::new(),
            },
            uid: true,
        },
    };
    let fragments = c.encode(LiteralPolicy::LiteralPlus);
    let bytes = to_bytes(&fragments);
    assert_eq!(
        bytes,
        b"c1 UID FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (DATE \"two words\" {11+}\r\nline\r\nbreak)])\r\n"
    );
    assert_eq!(fragments.len(), 3);
    assert_eq!(command(&bytes), c);
}

#[test]
fn rfc_fetch_responses() {
    // RFC 9051 section 7.5.2.
    let (seq, items) = response_round_trip(b"* 23 FETCH (FLAGS (\\Seen) RFC822.SIZE 44827 UID 447)\r\n");
    assert_eq!(seq.get(), 23);
    assert_eq!(
        items,
        [
            MessageDataItem::Flags(vec![FlagFetch::Flag(Flag::Seen)]),
            MessageDataItem::Rfc822Size(44827),
            MessageDataItem::Uid(NonZeroU32::new(447).unwrap()),
        ]
    );
    // RFC 3501 section 7.4.2.
    response_round_trip(b"* 23 FETCH (FLAGS (\\Seen) RFC822.SIZE 44827)\r\n");
    // RFC 9051 section 5.5 and 6.4.6, RFC 3501 section 6.4.6.
    response_round_trip(b"* 14 FETCH (UID 1305 FLAGS (\\Seen \\Deleted))\r\n");
    response_round_trip(b"* 2 FETCH (FLAGS (\\Deleted \\Seen))\r\n");
    response_round_trip(b"* 3 FETCH (FLAGS (\\Deleted))\r\n");
    response_round_trip(b"* 4 FETCH (FLAGS (\\Deleted \\Flagged \\Seen))\r\n");
    // RFC 3501 and RFC 9051 section 6.4.9.
    for line in [
        &b"* 23 FETCH (FLAGS (\\Seen) UID 4827313)\r\n"[..],
        b"* 24 FETCH (FLAGS (\\Seen) UID 4827943)\r\n",
        b"* 25 FETCH (FLAGS (\\Seen) UID 4828442)\r\n",
    ] {
        response_round_trip(line);
    }
    // RFC 9051 section 4.5 (with the number and FETCH in their order).
    let (_, nil) = response_round_trip(b"* 1 FETCH (BODY[1] NIL)\r\n");
    let (_, text) = response_round_trip(b"* 1 FETCH (BODY[1] \"NIL\")\r\n");
    assert!(matches!(&nil[0], MessageDataItem::BodySection { data, .. } if data.0.is_none()));
    assert!(
        matches!(&text[0], MessageDataItem::BodySection { data, .. } if data.as_bytes() == Some(&b"NIL"[..]))
    );
    // RFC 9051 section 7.5.2: body structures.
    let (_, items) = response_round_trip(
        b"* 1 FETCH (BODYSTRUCTURE (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 2279 48))\r\n",
    );
    assert!(matches!(
        &items[0],
        MessageDataItem::BodyStructure(b) if matches!(**b, BodyStructure::Single { specific: SpecificFields::Text { lines: 48 }, .. })
    ));
    let (_, items) = response_round_trip(
        b"* 1 FETCH (BODYSTRUCTURE ((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 1152 23)\
(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\" \"NAME\" \"cc.diff\") \"<960723163407.20117h@cac.washington.edu>\" \
\"Compiler diff\" \"BASE64\" 4554 73) \"MIXED\"))\r\n",
    );
    let MessageDataItem::BodyStructure(b) = &items[0] else {
        panic!()
    };
    let BodyStructure::Multipart { parts, subtype, .. } = &**b else {
        panic!()
    };
    assert_eq!((parts.len(), subtype.as_bytes()), (2, &b"MIXED"[..]));
    let BodyStructure::Single { fields, .. } = &parts[1] else {
        panic!()
    };
    assert_eq!(fields.param("name"), Some(&b"cc.diff"[..]));
    assert_eq!(fields.description.as_bytes(), Some(&b"Compiler diff"[..]));
}

#[test]
fn rfc_sample_connections() {
    // RFC 3501 section 8 and RFC 9051 section 8 (line breaks for editorial
    // clarity removed).
    for subject in ["IMAP4rev1", "IMAP4rev2"] {
        let full = format!(
            "* 12 FETCH (FLAGS (\\Seen) INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" RFC822.SIZE 4286 \
ENVELOPE (\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" \"{subject} WG mtg summary and minutes\" \
((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) \
((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) ((NIL NIL \"imap\" \"cac.washington.edu\")) \
((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")(\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) NIL NIL \
\"<B27397-0100000@cac.washington.edu>\") BODY (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 3028 92))\r\n"
        );
        let (seq, items) = response_round_trip(full.as_bytes());
        assert_eq!((seq.get(), items.len()), (12, 5));
        let MessageDataItem::InternalDate(date) = &items[1] else {
            panic!()
        };
        assert_eq!(date.to_string(), "17-Jul-1996 02:44:25 -0700");
        let MessageDataItem::Envelope(env) = &items[3] else {
            panic!()
        };
        assert_eq!(env.cc[1].name.as_bytes(), Some(&b"John Klensin"[..]));
        assert!(matches!(&items[4], MessageDataItem::Body(_)));
        let header = format!(
            "Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\r\nFrom: Terry Gray <gray@cac.washington.edu>\r\n\
Subject: {subject} WG mtg summary and minutes\r\nTo: imap@cac.washington.edu\r\n\
cc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>\r\n\
Message-Id: <B27397-0100000@cac.washington.edu>\r\nMIME-Version: 1.0\r\n\
Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n\r\n"
        );
        assert_eq!(header.len(), 342);
        let body_header = format!("* 12 FETCH (BODY[HEADER] {{342}}\r\n{header})\r\n");
        let (_, items) = response_round_trip(body_header.as_bytes());
        assert!(matches!(
            &items[0],
            MessageDataItem::BodySection { data, origin: None, .. } if data.as_bytes() == Some(header.as_bytes())
        ));
        response_round_trip(b"* 12 FETCH (FLAGS (\\Seen \\Deleted))\r\n");
    }
}

#[test]
fn binary_responses() {
    // RFC 3516 section 4.3: a literal8 when the data holds NUL, a string
    // otherwise; the decoded size.
    let (_, items) = response_round_trip(b"* 1 FETCH (BINARY[1.2] ~{4}\r\nA\0\0B BINARY.SIZE[1.2] 4)\r\n");
    let MessageDataItem::Binary {
        section,
        origin,
        data,
    } = &items[0]
    else {
        panic!()
    };
    assert_eq!((section, origin), (&Some(part(&[1, 2])), &None));
    assert!(matches!(&data.0, Some(IString::Literal(l)) if l.is_binary() && l.data() == b"A\0\0B"));
    assert!(matches!(items[1], MessageDataItem::BinarySize { size: 4, .. }));
    response_round_trip(b"* 2 FETCH (UID 7 BINARY[]<0> {3}\r\nabc BINARY[3] \"plain\" BINARY[4] NIL)\r\n");
    // A NUL outside a literal8 is refused.
    let e = decode_response(b"* 1 FETCH (BODY[] {1}\r\n\0)\r\n", &STRICT).unwrap_err();
    assert_eq!((e.offset, e.found), (23, Some(0)), "{e:?}");
}

/// A realistic FETCH answer of an IMAP client's message list.
const DOVECOT: &[u8] = b"* 42 FETCH (UID 1042 FLAGS (\\Seen $Forwarded) INTERNALDATE \"13-Feb-2024 10:15:30 +0100\" \
RFC822.SIZE 48213 ENVELOPE (\"Tue, 13 Feb 2024 10:15:28 +0100\" \"Quarterly figures\" \
((\"Alice Example\" NIL \"alice\" \"example.org\")) ((\"Alice Example\" NIL \"alice\" \"example.org\")) \
((\"Alice Example\" NIL \"alice\" \"example.org\")) ((NIL NIL \"bob\" \"example.com\")(\"Carol\" NIL \"carol\" \"example.net\")) \
NIL NIL NIL \"<20240203091528.GA1234@example.org>\") BODYSTRUCTURE (((\"text\" \"plain\" (\"charset\" \"utf-8\" \"format\" \"flowed\") \
NIL NIL \"quoted-printable\" 1834 41 NIL NIL NIL NIL)(\"text\" \"html\" (\"charset\" \"utf-8\") NIL NIL \"quoted-printable\" \
9120 187 NIL NIL NIL NIL) \"alternative\" (\"boundary\" \"b2\") NIL NIL NIL)(\"application\" \"pdf\" (\"name\" \"q4.pdf\") NIL NIL \
\"base64\" 36120 NIL (\"attachment\" (\"filename\" \"q4.pdf\" \"size\" \"26392\")) NIL NIL) \"mixed\" (\"boundary\" \"b1\") NIL \
(\"en\") NIL))\r\n";

#[test]
fn dovecot_multipart_with_extension_data() {
    let (_, items) = response_round_trip(DOVECOT);
    let MessageDataItem::BodyStructure(b) = &items[5] else {
        panic!()
    };
    let BodyStructure::Multipart { parts, extension, .. } = &**b else {
        panic!()
    };
    assert!(
        matches!(extension, Some(MultipartExtension { params, .. }) if params[0].value.as_bytes() == b"b1")
    );
    assert!(matches!(b.language(), Some(Language::List(l)) if l[0].as_bytes() == b"en"));
    assert_eq!(b.location(), Some(&NString::NIL));
    let BodyStructure::Multipart { parts: alt, .. } = &parts[0] else {
        panic!()
    };
    assert_eq!(alt.len(), 2);
    assert!(alt[0].disposition().is_none());
    assert_eq!(parts[1].disposition().unwrap().param("size"), Some(&b"26392"[..]));
}

#[test]
fn nested_message_rfc822() {
    let input = b"* 7 FETCH (BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 120 4 NIL NIL NIL NIL)\
(\"message\" \"rfc822\" (\"name\" \"fwd.eml\") NIL NIL \"7bit\" 2400 (\"Mon, 1 Jan 2024 00:00:00 +0000\" \"Inner\" \
((NIL NIL \"x\" \"example.org\")) ((NIL NIL \"x\" \"example.org\")) ((NIL NIL \"x\" \"example.org\")) \
((NIL NIL \"y\" \"example.org\")) NIL NIL NIL \"<inner@example.org>\") ((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \
\"8bit\" 300 10 NIL NIL NIL NIL)(\"image\" \"gif\" (\"name\" \"a.gif\") \"<a@x>\" NIL \"base64\" 1400 NIL (\"inline\" NIL) NIL NIL) \
\"related\" (\"boundary\" \"inner\") NIL NIL NIL) 60 NIL (\"attachment\" (\"filename\" \"fwd.eml\")) NIL NIL) \
\"mixed\" (\"boundary\" \"outer\") NIL NIL NIL))\r\n";
    let (_, items) = response_round_trip(input);
    let MessageDataItem::BodyStructure(b) = &items[0] else {
        panic!()
    };
    let BodyStructure::Multipart { parts, .. } = &**b else {
        panic!()
    };
    let BodyStructure::Single {
        specific:
            SpecificFields::Message {
                envelope,
                body,
                lines,
            },
        ..
    } = &parts[1]
    else {
        panic!("{:?}", parts[1])
    };
    assert_eq!((envelope.subject.as_bytes(), *lines), (Some(&b"Inner"[..]), 60));
    assert!(matches!(&**body, BodyStructure::Multipart { parts, .. } if parts.len() == 2));
}

#[test]
fn envelope_with_groups_and_a_literal_subject() {
    // From: team: Ann <ann@example.com>;  To: Undisclosed recipients:;
    let subject = "Re: \"quotes\" & \\ ok";
    let input = format!(
        "* 3 FETCH (ENVELOPE (\"Tue, 2 Jan 2024 09:00:00 -0500\" {{{}}}\r\n{subject} ((NIL NIL \"team\" NIL)\
(\"Ann\" NIL \"ann\" \"example.com\")(NIL NIL NIL NIL)) NIL NIL ((NIL NIL \"Undisclosed recipients\" NIL)\
(NIL NIL NIL NIL)) NIL NIL NIL \"<g@example.com>\"))\r\n",
        subject.len()
    );
    let (_, items) = response_round_trip(input.as_bytes());
    let MessageDataItem::Envelope(env) = &items[0] else {
        panic!()
    };
    assert_eq!(env.subject.as_bytes(), Some(subject.as_bytes()));
    assert!(matches!(env.subject.0, Some(IString::Literal(_))));
    assert!(env.from[0].is_group_start() && env.from[2].is_group_end());
    assert_eq!(env.from[0].mailbox.as_bytes(), Some(&b"team"[..]));
    assert_eq!(env.from[1].host.as_bytes(), Some(&b"example.com"[..]));
    assert!(env.sender.is_empty() && env.reply_to.is_empty());
    assert!(env.to[0].is_group_start() && env.to[1].is_group_end());
}

#[test]
fn gmail_style_responses_need_leniency() {
    // Gmail: Google's extension items, and multiparts without parts.
    let input = b"* 56697 FETCH (X-GM-THRID 1563190496481790748 X-GM-MSGID 1563491715126921418 \
X-GM-LABELS (\"\\\\Sent\" \\Important) UID 227195 RFC822.SIZE 87705 MODSEQ (10677203) FLAGS (\\Seen) \
BODYSTRUCTURE (((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"UTF-8\" \"DELSP\" \"yes\" \"FORMAT\" \"flowed\") NIL NIL \"BASE64\" 10418 133 NIL NIL NIL)\
(\"TEXT\" \"HTML\" (\"CHARSET\" \"UTF-8\") NIL NIL \"BASE64\" 34544 442 NIL NIL NIL) \"ALTERNATIVE\" (\"BOUNDARY\" \"94eb\") NIL NIL)\
(\"RELATED\" NIL (\"ATTACHMENT\" NIL) NIL) \"MIXED\" (\"BOUNDARY\" \"94ec\") NIL NIL))\r\n";
    // Strictly, the NIL subtype of the part-less multipart is refused.
    let e = decode_response(input, &STRICT).unwrap_err();
    assert_eq!((e.offset, e.expected), (423, "string"));
    let r = response_with(input, &DecoderConfig::default());
    let Response::Fetch { items, .. } = &r else {
        panic!()
    };
    assert_eq!(items.len(), 8);
    assert!(matches!(&items[0], MessageDataItem::Other { name, .. } if name.as_str() == "X-GM-THRID"));
    // A NIL parameter value (Mail.ru).
    let mailru = b"* 4 FETCH (BODYSTRUCTURE ((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"8bit\" 536 0 NIL NIL NIL NIL)\
(\"text\" \"html\" (\"charset\" \"utf-8\") NIL NIL \"8bit\" 7130 0 NIL NIL NIL NIL) \"alternative\" (\"boundary\" NIL)))\r\n";
    let e = decode_response(mailru, &STRICT).unwrap_err();
    assert_eq!(
        (&mailru[e.offset..e.offset + 3], e.expected),
        (&b"NIL"[..], "string"),
        "{e:?}"
    );
    let r = response_with(mailru, &DecoderConfig::default());
    let Response::Fetch { items, .. } = &r else {
        panic!()
    };
    let MessageDataItem::BodyStructure(body) = &items[0] else {
        panic!("{items:?}")
    };
    // The parameter is kept, its value read as empty.
    assert!(
        format!("{body:?}").contains(r#"BodyParam { name: "boundary", value: "" }"#),
        "{body:?}"
    );
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let leaf = b"(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 1 1)";
    let config = STRICT;
    for depth in [65usize, 10_000] {
        let mut input = b"* 1 FETCH (BODYSTRUCTURE ".to_vec();
        input.extend_from_slice(&b"(".repeat(depth));
        input.extend_from_slice(leaf);
        input.extend_from_slice(&b" \"MIXED\")".repeat(depth));
        input.extend_from_slice(b")\r\n");
        let e = decode_response(&input, &config).unwrap_err();
        assert_eq!(e.kind, ErrorKind::TooDeep { limit: 64 });
        assert_eq!(e.offset, 25 + 64);
        assert_eq!(e.resume_at, Some(input.len()));
        // With a line limit below its length, the line is refused before
        // parsing.
        if depth == 10_000 {
            let mut short = STRICT;
            short.limits.response_line = 64 * 1024;
            let e = decode_response(&input, &short).unwrap_err();
            assert_eq!(e.kind, ErrorKind::LineTooLong { limit: 64 * 1024 });
        }
    }
    let mut input = b"* 1 FETCH (X-EXT ".to_vec();
    input.extend_from_slice(&b"(".repeat(10_000));
    input.extend_from_slice(&b")".repeat(10_000));
    input.extend_from_slice(b")\r\n");
    let e = decode_response(&input, &config).unwrap_err();
    assert_eq!(e.kind, ErrorKind::TooDeep { limit: 64 });
}

#[test]
fn response_errors_carry_offsets() {
    for (input, offset) in [
        (&b"* 0 FETCH (UID 1)\r\n"[..], 2),
        (b"* 1 FETCH ()\r\n", 11),
        (b"* 1 FETCH (UID 1 )\r\n", 17),
        (b"* 1 FETCH (FLAGS (\\Seen)\r\n", 24),
        (b"* 1 FETCH (INTERNALDATE \"32-Jan-2024 00:00:00 +0000\")\r\n", 25),
        (b"* 1 FETCH (ENVELOPE (NIL NIL))\r\n", 28),
        (b"* 1 FETCH (BODY[1.0] NIL)\r\n", 18),
        (b"* 1 FETCH (RFC822.SIZE x)\r\n", 23),
    ] {
        let e = decode_response(input, &STRICT).unwrap_err();
        assert_eq!(e.offset, offset, "{}: {e}", String::from_utf8_lossy(input));
        assert_eq!(e.resume_at, Some(input.len()));
    }
    // The next response is still readable.
    let stream = b"* 1 FETCH (UID x)\r\n* 2 FETCH (UID 2)\r\n";
    let e = decode_response(stream, &STRICT).unwrap_err();
    let next = e.resume_at.unwrap();
    assert!(matches!(
        decode_response(&stream[next..], &STRICT).unwrap(),
        Decoded::Complete {
            value: Response::Fetch { .. },
            ..
        }
    ));
}

#[test]
fn expunge_and_exists_still_decode() {
    assert_eq!(
        response_with(b"* 3 EXPUNGE\r\n", &STRICT),
        Response::Expunge(NonZeroU32::new(3).unwrap())
    );
    assert_eq!(response_with(b"* 18 EXISTS\r\n", &STRICT), Response::Exists(18));
    assert!(decode_response(b"* 3 FETCHX (UID 1)\r\n", &STRICT).is_err());
}

/// Valid messages that the damage test below breaks.
const DAMAGE_SAMPLES: [&[u8]; 4] = [
    DOVECOT,
    b"* 1 FETCH (BINARY[1.2] ~{4}\r\nA\0\0B BODY[HEADER.FIELDS (A B)]<0> {2}\r\nhi X-EXT (1 \\F \"s\" NIL))\r\n",
    b"A1 FETCH 1:* (BODY.PEEK[1.2.HEADER.FIELDS.NOT (A {1}\r\nB)]<0.100> BINARY.SIZE[3] UID) (X (a (b)) Y 1:4)\r\n",
    b"* 2 FETCH (BODY ((\"text\" \"plain\" NIL NIL NIL \"7bit\" 1 1)(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 1 \
(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) (\"text\" \"plain\" NIL NIL NIL \"7bit\" 1 1) 1) \"mixed\"))\r\n",
];

#[test]
fn damage_samples_are_valid() {
    for (i, sample) in DAMAGE_SAMPLES.iter().enumerate() {
        let complete = if i == 2 {
            matches!(decode_command(sample, &STRICT), Ok(Decoded::Complete { .. }))
        } else {
            matches!(decode_response(sample, &STRICT), Ok(Decoded::Complete { .. }))
        };
        assert!(complete, "{i}");
    }
}

// ---------------------------------------------------------------------
// Property tests.

fn istring() -> BoxedStrategy<IString<'static>> {
    prop_oneof![
        4 => "[ -~]{0,12}",
        1 => "[a-z\r\n\"\\\\]{0,8}",
        1 => "[a-zé€]{1,6}",
    ]
    .prop_map(|s| IString::from_bytes(s.into_bytes()).unwrap())
    .boxed()
}

fn nstring() -> BoxedStrategy<NString<'static>> {
    prop::option::of(istring()).prop_map(NString).boxed()
}

fn astring() -> BoxedStrategy<AString<'static>> {
    "[ -~]{0,10}"
        .prop_map(|s| AString::from_bytes(s.into_bytes()).unwrap())
        .boxed()
}

fn section_part() -> BoxedStrategy<SectionPart> {
    prop::collection::vec(1u32..50, 1..4)
        .prop_map(|v| part(&v))
        .boxed()
}

fn header_list() -> BoxedStrategy<HeaderList<'static>> {
    prop::collection::vec(astring(), 1..4)
        .prop_map(|v| HeaderList::new(v).unwrap())
        .boxed()
}

fn section() -> BoxedStrategy<Section<'static>> {
    let text = prop_oneof![
        Just(SectionText::Header),
        Just(SectionText::Text),
        Just(SectionText::Mime),
        header_list().prop_map(SectionText::HeaderFields),
        header_list().prop_map(SectionText::HeaderFieldsNot),
    ];
    (prop::option::of(section_part()), prop::option::of(text))
        .prop_map(|(part, text)| {
            let text = if part.is_none() && text == Some(SectionText::Mime) {
                Some(SectionText::Text)
            } else {
                text
            };
            Section::new(part, text).unwrap()
        })
        .boxed()
}

fn partial() -> BoxedStrategy<Option<Partial>> {
    prop::option::of((0u64..=i64::MAX as u64, 1u64..=i64::MAX as u64))
        .prop_map(|p| p.map(|(o, l)| Partial::new(o, NonZeroU64::new(l).unwrap()).unwrap()))
        .boxed()
}

fn fetch_item() -> BoxedStrategy<FetchItem<'static>> {
    prop_oneof![
        prop::sample::select(vec![
            FetchItem::Envelope,
            FetchItem::Flags,
            FetchItem::InternalDate,
            FetchItem::Rfc822Size,
            FetchItem::Rfc822,
            FetchItem::Rfc822Header,
            FetchItem::Rfc822Text,
            FetchItem::Body,
            FetchItem::BodyStructure,
            FetchItem::Uid,
        ]),
        (section(), partial(), any::<bool>()).prop_map(|(section, partial, peek)| FetchItem::BodySection {
            section,
            partial,
            peek
        }),
        (prop::option::of(section_part()), partial(), any::<bool>()).prop_map(|(section, partial, peek)| {
            FetchItem::Binary {
                section,
                partial,
                peek,
            }
        }),
        prop::option::of(section_part()).prop_map(|section| FetchItem::BinarySize { section }),
    ]
    .boxed()
}

fn params() -> BoxedStrategy<BodyParams<'static>> {
    prop::collection::vec((istring(), istring()), 0..3)
        .prop_map(|v| {
            v.into_iter()
                .map(|(name, value)| BodyParam { name, value })
                .collect()
        })
        .boxed()
}

fn address() -> BoxedStrategy<Address<'static>> {
    (nstring(), nstring(), nstring(), nstring())
        .prop_map(|(name, adl, mailbox, host)| Address {
            name,
            adl,
            mailbox,
            host,
        })
        .boxed()
}

fn envelope() -> BoxedStrategy<Envelope<'static>> {
    let list = || prop::collection::vec(address(), 0..3).prop_map(AddressList::from);
    (
        (nstring(), nstring(), list(), list(), list()),
        (list(), list(), list(), nstring(), nstring()),
    )
        .prop_map(
            |((date, subject, from, sender, reply_to), (to, cc, bcc, in_reply_to, message_id))| Envelope {
                date,
                subject,
                from,
                sender,
                reply_to,
                to,
                cc,
                bcc,
                in_reply_to,
                message_id,
            },
        )
        .boxed()
}

fn body_extension() -> BoxedStrategy<BodyExtension<'static>> {
    let leaf = prop_oneof![
        nstring().prop_map(BodyExtension::String),
        (0u64..=i64::MAX as u64).prop_map(BodyExtension::Number),
    ];
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop::collection::vec(inner, 1..3).prop_map(BodyExtension::List)
    })
    .boxed()
}

fn tail() -> BoxedStrategy<Option<ExtensionTail<'static>>> {
    let disposition =
        prop::option::of((istring(), params()).prop_map(|(kind, params)| Disposition { kind, params }));
    let language = prop_oneof![
        nstring().prop_map(Language::Single),
        prop::collection::vec(istring(), 1..3).prop_map(Language::List),
    ];
    let location = prop::option::of(
        (nstring(), prop::collection::vec(body_extension(), 0..3))
            .prop_map(|(location, extensions)| LocationTail { location, extensions }),
    );
    prop::option::of((
        disposition,
        prop::option::of(
            (language, location).prop_map(|(language, location)| LanguageTail { language, location }),
        ),
    ))
    .prop_map(|t| {
        t.map(|(disposition, language)| ExtensionTail {
            disposition,
            language,
        })
    })
    .boxed()
}

fn fields() -> BoxedStrategy<BodyFields<'static>> {
    (params(), nstring(), nstring(), istring(), any::<u32>())
        .prop_map(|(params, id, description, encoding, octets)| BodyFields {
            params,
            id,
            description,
            encoding,
            octets,
        })
        .boxed()
}

fn single_extension() -> BoxedStrategy<Option<SinglePartExtension<'static>>> {
    prop::option::of((nstring(), tail()).prop_map(|(md5, tail)| SinglePartExtension { md5, tail })).boxed()
}

fn plain_part() -> BoxedStrategy<BodyStructure<'static>> {
    let basic_type = prop::sample::select(vec!["APPLICATION", "image", "Audio", "x-unknown", "MESSAGE"]);
    let basic = (basic_type, "[a-z-]{1,10}", fields(), single_extension()).prop_map(
        |(media_type, subtype, fields, extension)| BodyStructure::Single {
            media_type: IString::from_bytes(media_type.as_bytes().to_vec()).unwrap(),
            // A MESSAGE subtype of letters and '-' is never RFC822 or GLOBAL.
            media_subtype: IString::from_bytes(subtype.into_bytes()).unwrap(),
            fields,
            specific: SpecificFields::Basic,
            extension,
        },
    );
    let text = (
        prop::sample::select(vec!["TEXT", "text"]),
        istring(),
        fields(),
        0u64..=i64::MAX as u64,
        single_extension(),
    )
        .prop_map(
            |(t, media_subtype, fields, lines, extension)| BodyStructure::Single {
                media_type: IString::from_bytes(t.as_bytes().to_vec()).unwrap(),
                media_subtype,
                fields,
                specific: SpecificFields::Text { lines },
                extension,
            },
        );
    prop_oneof![basic, text].boxed()
}

fn body_structure() -> BoxedStrategy<BodyStructure<'static>> {
    plain_part()
        .prop_recursive(4, 16, 3, |inner| {
            let multipart = (
                prop::collection::vec(inner.clone(), 1..4),
                istring(),
                prop::option::of(
                    (params(), tail()).prop_map(|(params, tail)| MultipartExtension { params, tail }),
                ),
            )
                .prop_map(|(parts, subtype, extension)| BodyStructure::Multipart {
                    parts,
                    subtype,
                    extension,
                });
            let message = (
                prop::sample::select(vec!["RFC822", "global"]),
                fields(),
                envelope(),
                inner,
                any::<u32>(),
                single_extension(),
            )
                .prop_map(|(subtype, fields, envelope, body, lines, extension)| {
                    BodyStructure::Single {
                        media_type: IString::from_bytes(&b"MESSAGE"[..]).unwrap(),
                        media_subtype: IString::from_bytes(subtype.as_bytes().to_vec()).unwrap(),
                        fields,
                        specific: SpecificFields::Message {
                            envelope: Box::new(envelope),
                            body: Box::new(body),
                            lines: u64::from(lines),
                        },
                        extension,
                    }
                });
            prop_oneof![multipart, message]
        })
        .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn fetch_commands_round_trip(
        items in prop::collection::vec(fetch_item(), 1..6),
        single in any::<bool>(),
        uid in any::<bool>(),
    ) {
        let items = if single && items.len() == 1 {
            FetchItems::Item(items[0].clone())
        } else {
            FetchItems::List(items)
        };
        let c = Command {
            tag: Tag::new("p1").unwrap(),
            body: CommandBody::Fetch {
                fetch: Fetch { sequence_set: "1:*,4".parse().unwrap(), items, modifiers: Vec::new() },
                uid,
            },
        };
        for policy in [LiteralPolicy::SyncOnly, LiteralPolicy::LiteralPlus] {
            let bytes = to_bytes(&c.encode(policy));
            let decoded = decode_command(&bytes, &STRICT).unwrap();
            prop_assert_eq!(decoded, Decoded::Complete { value: c.clone(), consumed: bytes.len() });
        }
    }

    #[test]
    fn body_structures_round_trip(body in body_structure(), envelope in envelope()) {
        let r = Response::Fetch {
            seq: NonZeroU32::new(9).unwrap(),
            items: vec![
                MessageDataItem::BodyStructure(Box::new(body)),
                MessageDataItem::Envelope(Box::new(envelope)),
            ],
        };
        let bytes = to_bytes(&r.encode());
        let mut config = STRICT;
        config.limits = config.limits.with_line(usize::MAX).with_message(u64::MAX);
        let decoded = decode_response(&bytes, &config).unwrap();
        prop_assert_eq!(decoded, Decoded::Complete { value: r, consumed: bytes.len() });
    }

    /// Damaged FETCH responses and commands never panic, and errors point
    /// inside the input.
    #[test]
    fn damaged_input_never_panics(
        which in 0usize..4,
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut input = DAMAGE_SAMPLES[which].to_vec();
        for (at, byte) in edits {
            let i = at.index(input.len());
            input[i] = byte;
        }
        input.truncate(cut.index(input.len() + 1));
        for config in [STRICT, DecoderConfig::default()] {
            for outcome in [
                decode_response(&input, &config).map(|d| d.map(|_| ())),
                decode_command(&input, &config).map(|d| d.map(|_| ())),
            ] {
                if let Err(e) = outcome {
                    prop_assert!(e.offset <= input.len());
                    prop_assert!(e.resume_at.is_none_or(|r| r <= input.len()));
                }
            }
        }
    }
}

//! URLAUTH=BINARY (RFC 5524): extended URLFETCH arguments and answers in
//! the manner of the RFC's section 4 exchanges (each metadata item in its
//! own parentheses), decoded strictly, re-encoded byte for byte and
//! checked; the shapes real servers send outside the grammar, Dovecot's
//! single list (its recorded answer) and Cyrus's `BODYPARTSTRUCTURE NIL`,
//! decoded where the leniency allows them and re-encoded in the RFC form;
//! malformed forms with their offsets and tags; the body structure's
//! depth limit; property tests that generated values round-trip, and that
//! Dovecot's shape of them decodes to the same value.

mod codec_support;

use codec_support::*;
use mailwire_imap::{
    Atom, BodyStructure, Command, CommandBody, DecoderConfig, ErrorKind, IString, ImapUrl, Leniency, Literal,
    LiteralPolicy, NString, Response, Tag, UrlFetchAnswer, UrlFetchData, UrlFetchMetadata, UrlFetchParam,
    UrlFetchRequest, to_bytes,
};
use proptest::prelude::*;

const FULL: &str = "imap://joe@example.com/INBOX/;uid=20/;section=1.2;urlauth=submit+fred:internal:91354a473744909de610943775f92038";
const DOVECOT: &str = "imap://alice@127.0.0.1:43579/INBOX;UIDVALIDITY=1796300185/;UID=1/;SECTION=TEXT;URLAUTH=user+alice:internal:01f225d7cab1d57650050008a22f41b4b6c0b811d4";

fn requests<'a>(c: &'a Command<'a>) -> &'a [UrlFetchRequest<'a>] {
    match &c.body {
        CommandBody::UrlFetch(r) => r,
        other => panic!("{other:?}"),
    }
}

fn answers<'a>(r: &'a Response<'a>) -> &'a [UrlFetchData<'a>] {
    match r {
        Response::UrlFetch(d) => d,
        other => panic!("{other:?}"),
    }
}

fn extended<'a>(a: &'a UrlFetchAnswer<'a>) -> &'a [UrlFetchMetadata<'a>] {
    match a {
        UrlFetchAnswer::Extended(items) => items,
        other => panic!("{other:?}"),
    }
}

/// BINARY alone: the decoded content as a literal8; BODY alone: the
/// content as stored; NIL where the server cannot decode.
#[test]
fn binary_and_body_exchanges() {
    let input = format!("a001 URLFETCH (\"{FULL}\" BINARY)\r\n");
    let c = command_round_trip(input.as_bytes());
    let r = requests(&c);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].url.as_str(), FULL);
    assert_eq!(r[0].params, Some(vec![UrlFetchParam::Binary]));
    let line = format!("* URLFETCH \"{FULL}\" (BINARY ~{{7}}\r\nab\0cd\r\n)\r\n");
    let resp = response_round_trip(line.as_bytes());
    let d = answers(&resp);
    assert_eq!(d[0].url.as_str(), FULL);
    let [UrlFetchMetadata::Binary(NString(Some(IString::Literal(l))))] = extended(&d[0].data) else {
        panic!("{resp:?}")
    };
    assert!(l.is_binary());
    assert_eq!(l.data(), b"ab\0cd\r\n");
    response_round_trip(b"a001 OK URLFETCH completed\r\n");

    let input = format!("a002 URLFETCH (\"{FULL}\" BODY) \"{FULL}\"\r\n");
    let c = command_round_trip(input.as_bytes());
    let r = requests(&c);
    assert_eq!(r[0].params, Some(vec![UrlFetchParam::Body]));
    assert_eq!(r[1].params, None);
    let line = format!("* URLFETCH \"{FULL}\" (BODY {{5}}\r\nhello) \"{FULL}\" NIL\r\n");
    let resp = response_round_trip(line.as_bytes());
    let d = answers(&resp);
    assert_eq!(
        extended(&d[0].data),
        &[UrlFetchMetadata::Body(NString(Some(IString::Literal(
            Literal::new(&b"hello"[..]).unwrap()
        ))))]
    );
    assert_eq!(d[1].data, UrlFetchAnswer::Plain(NString::NIL));

    // Content the server cannot decode: BINARY NIL.
    let line = format!(
        "* URLFETCH \"{FULL}\" (BODYPARTSTRUCTURE (\"APPLICATION\" \"OCTET-STREAM\" NIL NIL NIL \"X-UNKNOWN\" 12)) (BINARY NIL)\r\n"
    );
    let resp = response_round_trip(line.as_bytes());
    let items = extended(&answers(&resp)[0].data);
    assert!(
        matches!(&items[0], UrlFetchMetadata::BodyPartStructure(Some(b)) if matches!(**b, BodyStructure::Single { .. }))
    );
    assert_eq!(items[1], UrlFetchMetadata::Binary(NString::NIL));
}

/// RFC 5524 section 4: `url-metadata = 1*(SP "(" url-metadata-el ")")`,
/// BODYPARTSTRUCTURE and BINARY in parentheses of their own, the data a
/// literal8; a second URL after the items.
#[test]
fn rfc5524_metadata_items_in_own_parentheses() {
    let input = format!("a003 URLFETCH (\"{FULL}\" BODYPARTSTRUCTURE BINARY)\r\n");
    let c = command_round_trip(input.as_bytes());
    assert_eq!(
        requests(&c)[0].params,
        Some(vec![UrlFetchParam::BodyPartStructure, UrlFetchParam::Binary])
    );
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    let line = [
        format!("* URLFETCH \"{FULL}\" (BODYPARTSTRUCTURE (\"IMAGE\" \"PNG\" NIL NIL NIL \"BINARY\" 123)) (BINARY ~{{{}}}\r\n", png.len()).as_bytes(),
        png,
        b") /a/;UID=2 NIL\r\n",
    ]
    .concat();
    let resp = response_round_trip(&line);
    let d = answers(&resp);
    assert_eq!((d.len(), &d[1].data), (2, &UrlFetchAnswer::Plain(NString::NIL)));
    let [
        UrlFetchMetadata::BodyPartStructure(Some(body)),
        UrlFetchMetadata::Binary(NString(Some(IString::Literal(data)))),
    ] = extended(&d[0].data)
    else {
        panic!("{resp:?}")
    };
    assert!(matches!(&**body, BodyStructure::Single { media_type, .. } if media_type.as_bytes() == b"IMAGE"));
    assert_eq!((data.data(), data.is_binary()), (&png[..], true));

    // The example's body structure writes its parameters as `()`, which
    // RFC 3501 does not allow: the lenient default takes it (and writes
    // NIL); the metadata shape is the RFC's either way.
    let line = format!(
        "* URLFETCH \"{FULL}\" (BODYPARTSTRUCTURE (\"IMAGE\" \"PNG\" () NIL NIL \"BINARY\" 123)) (BINARY NIL)\r\n"
    );
    let resp = response_encodes_as_with(
        line.as_bytes(),
        line.replace("()", "NIL").as_bytes(),
        &DecoderConfig::default(),
    );
    assert_eq!(extended(&answers(&resp)[0].data).len(), 2);
}

/// Dovecot 2.3's exchange (tests/traces/imap/imaplib-urlauth.*): its
/// answer lists both items in one pair of parentheses, which the RFC's
/// grammar does not allow. The lenient default decodes it; it re-encodes
/// in the RFC form, which a strict decoder reads as the same value.
#[test]
fn dovecot_bodypartstructure_binary() {
    let input = format!("HOAJ7 URLFETCH (\"{DOVECOT}\" BODYPARTSTRUCTURE BINARY)\r\n");
    let c = command_round_trip(input.as_bytes());
    assert_eq!(c.tag.as_str(), "HOAJ7");
    assert_eq!(
        requests(&c)[0].params,
        Some(vec![UrlFetchParam::BodyPartStructure, UrlFetchParam::Binary])
    );
    let text = "Hello from the URLAUTH trace.\r\nSecond line.\r\nThird!!\r\n";
    assert_eq!(text.len(), 54);
    let text = format!("{text}ok\r");
    let structure = "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 57 5 NIL NIL NIL NIL)";
    let line = format!("* URLFETCH {DOVECOT} (BODYPARTSTRUCTURE {structure} BINARY {{57}}\r\n{text})\r\n");
    let rfc = format!("* URLFETCH {DOVECOT} (BODYPARTSTRUCTURE {structure}) (BINARY {{57}}\r\n{text})\r\n");
    let resp = response_encodes_as_with(line.as_bytes(), rfc.as_bytes(), &DecoderConfig::default());
    assert_eq!(decode_resp_with(rfc.as_bytes(), &DecoderConfig::STRICT), resp);
    let only_this = DecoderConfig {
        leniency: Leniency {
            urlfetch_one_list: true,
            ..Leniency::STRICT
        },
        ..DecoderConfig::STRICT
    };
    assert_eq!(decode_resp_with(line.as_bytes(), &only_this), resp);
    // Strictly, the list ends after its first item.
    let e = response_error(line.as_bytes(), &DecoderConfig::STRICT);
    let at = line.find(" BINARY").unwrap();
    assert_eq!((e.offset, e.expected), (at, "')'"), "{e:?}");
    let d = answers(&resp);
    assert_eq!(d[0].url.as_str(), DOVECOT);
    let [
        UrlFetchMetadata::BodyPartStructure(body),
        UrlFetchMetadata::Binary(data),
    ] = extended(&d[0].data)
    else {
        panic!("{resp:?}")
    };
    let Some(BodyStructure::Single {
        media_type,
        media_subtype,
        fields,
        ..
    }) = body.as_deref()
    else {
        panic!("{body:?}")
    };
    assert_eq!(
        (media_type.as_bytes(), media_subtype.as_bytes()),
        (&b"text"[..], &b"plain"[..])
    );
    assert_eq!(fields.param("charset"), Some(&b"us-ascii"[..]));
    assert_eq!(data.as_bytes(), Some(text.as_bytes()));
}

/// Parameter and item names are case-insensitive; an unknown parameter
/// is kept; an empty parameter list is the parenthesized form.
#[test]
fn parameter_forms() {
    let c = command_encodes_as(
        b"a1 URLFETCH (/a/;UID=1 binary bodypartstructure X-FUTURE) (/a/;UID=2)\r\n",
        LiteralPolicy::SyncOnly,
        b"a1 URLFETCH (/a/;UID=1 BINARY BODYPARTSTRUCTURE X-FUTURE) (/a/;UID=2)\r\n",
    );
    let r = requests(&c);
    assert_eq!(
        r[0].params,
        Some(vec![
            UrlFetchParam::Binary,
            UrlFetchParam::BodyPartStructure,
            UrlFetchParam::Other(Atom::new("X-FUTURE").unwrap()),
        ])
    );
    assert_eq!(r[1].params, Some(Vec::new()));
    response_encodes_as(
        b"* URLFETCH /a/;UID=1 (body \"x\") (binary NIL)\r\n",
        b"* URLFETCH /a/;UID=1 (BODY \"x\") (BINARY NIL)\r\n",
    );
}

/// Cyrus answers BODYPARTSTRUCTURE with NIL, outside the grammar (`body`
/// is required): no structure under the lenient default, written back
/// as NIL; an error strictly.
#[test]
fn cyrus_nil_bodypartstructure() {
    let line = b"* URLFETCH /a/;UID=1 (BODYPARTSTRUCTURE NIL) (BINARY {5}\r\nhello)\r\n";
    let resp = response_encodes_as_with(line, line, &DecoderConfig::default());
    assert_eq!(
        extended(&answers(&resp)[0].data),
        &[
            UrlFetchMetadata::BodyPartStructure(None),
            UrlFetchMetadata::Binary(NString(Some(IString::Literal(
                Literal::new(&b"hello"[..]).unwrap()
            )))),
        ]
    );
    let only_this = DecoderConfig {
        leniency: Leniency {
            urlfetch_nil_structure: true,
            ..Leniency::STRICT
        },
        ..DecoderConfig::STRICT
    };
    assert_eq!(decode_resp_with(line, &only_this), resp);
    // Lower case too, and in Dovecot's single list.
    response_encodes_as_with(
        b"* URLFETCH /a/;UID=1 (bodypartstructure nil binary NIL)\r\n",
        b"* URLFETCH /a/;UID=1 (BODYPARTSTRUCTURE NIL) (BINARY NIL)\r\n",
        &DecoderConfig::default(),
    );
    let e = response_error(line, &DecoderConfig::STRICT);
    assert_eq!(e.offset, 40, "{e:?}");
    let e = response_error(
        line,
        &DecoderConfig {
            leniency: Leniency {
                urlfetch_nil_structure: false,
                ..Leniency::LENIENT
            },
            ..DecoderConfig::default()
        },
    );
    assert_eq!(e.offset, 40, "{e:?}");
}

#[test]
fn malformed_extended_urlfetch() {
    let c = DecoderConfig::STRICT;
    for (input, offset, expected) in [
        (&b"a1 URLFETCH (/a/;UID=1 BINARY\r\n"[..], 29, "space or ')'"),
        (
            b"a1 URLFETCH (/a/;UID=1 \"BINARY\")\r\n",
            23,
            "URLFETCH parameter",
        ),
        (b"a1 URLFETCH (/a/;UID=1  BINARY)\r\n", 23, "URLFETCH parameter"),
        (b"a1 URLFETCH (/a/;UID=1)(/a/;UID=2)\r\n", 23, "CRLF"),
        (b"a1 URLFETCH ()\r\n", 13, "astring"),
    ] {
        expect_command_error(input, &c, offset, expected, "a1");
    }
    let lenient = DecoderConfig::default();
    for (input, offset, config) in [
        (&b"* URLFETCH /a/;UID=1 ()\r\n"[..], 22, &c),
        (b"* URLFETCH /a/;UID=1 (BINARY)\r\n", 28, &c),
        (b"* URLFETCH /a/;UID=1 (SIZE 3)\r\n", 22, &c),
        (b"* URLFETCH /a/;UID=1 (BODY ~{1}\r\nx)\r\n", 27, &c),
        (b"* URLFETCH /a/;UID=1 (BODYPARTSTRUCTURE NIL)\r\n", 40, &c),
        (b"* URLFETCH /a/;UID=1 (BINARY NIL\r\n", 32, &c),
        // Dovecot's single list, strictly: the list ends after an item.
        (b"* URLFETCH /a/;UID=1 (BINARY NIL BODY NIL)\r\n", 32, &c),
        (b"* URLFETCH /a/;UID=1 (BINARY NIL) (BODY NIL)x\r\n", 44, &c),
        (b"* URLFETCH /a/;UID=1 (BINARY NIL)(BODY NIL)\r\n", 33, &c),
        (b"* URLFETCH /a/;UID=1 (BINARY NIL) ()\r\n", 35, &c),
        (b"* URLFETCH /a/;UID=1 (BINARY NIL) \r\n", 34, &c),
        (b"* URLFETCH /a/;UID=1 NIL (BINARY NIL)\r\n", 25, &c),
        (b"* URLFETCH /a/;UID=1 (BINARY NIL BODY NIL)x\r\n", 42, &lenient),
        (b"* URLFETCH /a/;UID=1 (BINARY NIL BODY)\r\n", 37, &lenient),
        (b"* URLFETCH /a/;UID=1 (BODYPARTSTRUCTURE NILX)\r\n", 43, &lenient),
        (
            b"* URLFETCH /a/;UID=1 (BODYPARTSTRUCTURE NIL BODY x)\r\n",
            49,
            &lenient,
        ),
    ] {
        let e = response_error(input, config);
        assert_eq!(e.offset, offset, "{:?}: {e:?}", String::from_utf8_lossy(input));
    }
    let mut small = DecoderConfig::STRICT;
    small.limits.list = 2;
    let e = command_error(
        b"a1 URLFETCH (/a/;UID=1 BODY BINARY BODYPARTSTRUCTURE)\r\n",
        &small,
    );
    assert_eq!((e.offset, e.kind), (35, ErrorKind::TooMany { limit: 2 }));
    let e = response_error(
        b"* URLFETCH /a/;UID=1 (BODY NIL) (BODY NIL) (BODY NIL)\r\n",
        &small,
    );
    assert_eq!((e.offset, e.kind), (44, ErrorKind::TooMany { limit: 2 }));
    // The items of both shapes count against one limit.
    small.leniency = Leniency::LENIENT;
    for (input, offset) in [
        (&b"* URLFETCH /a/;UID=1 (BODY NIL BODY NIL BODY NIL)\r\n"[..], 40),
        (b"* URLFETCH /a/;UID=1 (BODY NIL) (BODY NIL BODY NIL)\r\n", 42),
    ] {
        let e = response_error(input, &small);
        assert_eq!((e.offset, e.kind), (offset, ErrorKind::TooMany { limit: 2 }));
    }
}

/// The body structure of a BODYPARTSTRUCTURE item is bounded by
/// `limits.depth` like a FETCH BODYSTRUCTURE.
#[test]
fn bodypartstructure_depth_limit() {
    let leaf = b"(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 1 1)";
    let nested = |depth: usize| {
        let mut v = b"* URLFETCH /a/;UID=1 (BODYPARTSTRUCTURE ".to_vec();
        v.extend_from_slice(&b"(".repeat(depth));
        v.extend_from_slice(leaf);
        v.extend_from_slice(&b" \"MIXED\")".repeat(depth));
        v.extend_from_slice(b")\r\n");
        v
    };
    let mut c = DecoderConfig::STRICT;
    c.limits.depth = 4;
    let ok = nested(3);
    assert!(matches!(
        answers(&decode_resp_with(&ok, &c))[0].data,
        UrlFetchAnswer::Extended(_)
    ));
    let e = response_error(&nested(4), &c);
    assert_eq!(e.kind, ErrorKind::TooDeep { limit: 4 });
    assert_eq!(e.offset, 40 + 4);
    let e = response_error(&nested(100_000), &long_lines());
    assert!(matches!(e.kind, ErrorKind::TooDeep { .. }), "{e:?}");
}

fn url_strategy() -> impl Strategy<Value = ImapUrl<'static>> {
    ("[a-z]{1,5}", "[A-Za-z]{1,6}", 1u32..).prop_map(|(host, mailbox, uid)| {
        ImapUrl::new(format!(
            "imap://{host}/{mailbox}/;UID={uid};URLAUTH=anonymous:INTERNAL:0123456789abcdef0123456789abcdef"
        ))
        .unwrap()
    })
}

fn nstring_strategy() -> impl Strategy<Value = NString<'static>> {
    prop_oneof![
        Just(NString::NIL),
        proptest::collection::vec(1u8..=255, 0..20)
            .prop_map(|d| NString(Some(IString::from_bytes(d).unwrap()))),
    ]
}

fn param_strategy() -> impl Strategy<Value = UrlFetchParam<'static>> {
    prop_oneof![
        Just(UrlFetchParam::BodyPartStructure),
        Just(UrlFetchParam::Binary),
        Just(UrlFetchParam::Body),
        "X-[A-Z]{1,6}".prop_map(|a| UrlFetchParam::Other(Atom::new(a).unwrap())),
    ]
}

fn metadata_strategy() -> impl Strategy<Value = UrlFetchMetadata<'static>> {
    prop_oneof![
        nstring_strategy().prop_map(UrlFetchMetadata::Body),
        nstring_strategy().prop_map(UrlFetchMetadata::Binary),
        proptest::collection::vec(any::<u8>(), 0..20)
            .prop_map(|d| UrlFetchMetadata::Binary(NString(Some(IString::Literal(Literal::binary(d)))))),
        (1u32..1000, 0u32..50).prop_map(|(size, lines)| {
            let text =
                format!("(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"UTF-8\") NIL NIL \"8BIT\" {size} {lines})");
            let line = format!("* URLFETCH /a/;UID=1 (BODYPARTSTRUCTURE {text})\r\n");
            let r = decode_resp_with(line.as_bytes(), &DecoderConfig::STRICT).into_owned();
            let Response::UrlFetch(mut d) = r else {
                unreachable!()
            };
            let UrlFetchAnswer::Extended(mut items) = d.remove(0).data else {
                unreachable!()
            };
            items.remove(0)
        }),
        Just(UrlFetchMetadata::BodyPartStructure(None)),
    ]
}

/// Whether a response holds Cyrus's `BODYPARTSTRUCTURE NIL`, which only a
/// lenient decoder reads.
fn has_nil_structure(r: &Response<'_>) -> bool {
    answers(r).iter().any(|d| {
        matches!(&d.data, UrlFetchAnswer::Extended(items)
            if items.contains(&UrlFetchMetadata::BodyPartStructure(None)))
    })
}

proptest! {
    #[test]
    fn generated_extended_urlfetch_commands_round_trip(
        args in proptest::collection::vec(
            (url_strategy(), proptest::option::of(proptest::collection::vec(param_strategy(), 0..4))),
            1..4,
        ),
    ) {
        let body = CommandBody::UrlFetch(args.into_iter().map(|(url, params)| UrlFetchRequest { url, params }).collect());
        let command = Command { tag: Tag::new("u1").unwrap(), body };
        let bytes = to_bytes(&command.encode(LiteralPolicy::SyncOnly));
        prop_assert_eq!(&decode_cmd_with(&bytes, &DecoderConfig::STRICT), &command);
    }

    #[test]
    fn generated_extended_urlfetch_responses_round_trip(
        data in proptest::collection::vec(
            (url_strategy(), prop_oneof![
                nstring_strategy().prop_map(UrlFetchAnswer::Plain),
                proptest::collection::vec(metadata_strategy(), 1..4).prop_map(UrlFetchAnswer::Extended),
            ]).prop_map(|(url, data)| UrlFetchData { url, data }),
            1..4,
        ),
    ) {
        let r = Response::UrlFetch(data);
        let bytes = to_bytes(&r.encode());
        let decoded = decode_resp_with(&bytes, &DecoderConfig::default());
        prop_assert_eq!(&decoded, &r);
        prop_assert_eq!(&to_bytes(&decoded.encode()), &bytes);
        // The encoder writes the RFC form, which a strict decoder reads
        // (all of it but Cyrus's NIL).
        if !has_nil_structure(&r) {
            prop_assert_eq!(&decode_resp_with(&bytes, &DecoderConfig::STRICT), &r);
        }
    }

    /// Items written in Dovecot's single list decode, leniently, to the
    /// value of the RFC form; strictly, more than one is an error.
    #[test]
    fn dovecot_single_lists_decode_as_the_rfc_form(
        url in url_strategy(),
        items in proptest::collection::vec(metadata_strategy(), 1..5),
    ) {
        // Each item as the encoder writes it alone, `(item)`, unwrapped.
        let parts: Vec<Vec<u8>> = items
            .iter()
            .map(|item| {
                let one = Response::UrlFetch(vec![UrlFetchData {
                    url: url.clone(),
                    data: UrlFetchAnswer::Extended(vec![item.clone()]),
                }]);
                let bytes = to_bytes(&one.encode());
                let open = bytes.iter().position(|&b| b == b'(').unwrap();
                bytes[open + 1..bytes.len() - 3].to_vec()
            })
            .collect();
        let url_wire = {
            let bytes = to_bytes(&Response::GenUrlAuth(vec![url.clone()]).encode());
            bytes[b"* GENURLAUTH ".len()..bytes.len() - 2].to_vec()
        };
        let line = [&b"* URLFETCH "[..], &url_wire, b" (", &parts.join(&b' '), b")\r\n"].concat();
        // Strictly, Cyrus's NIL would fail first.
        let strict_reads_first = items[0] != UrlFetchMetadata::BodyPartStructure(None);
        let r = Response::UrlFetch(vec![UrlFetchData { url, data: UrlFetchAnswer::Extended(items) }]);
        prop_assert_eq!(&decode_resp_with(&line, &DecoderConfig::default()), &r);
        if parts.len() > 1 && strict_reads_first {
            let e = response_error(&line, &DecoderConfig::STRICT);
            prop_assert_eq!(e.expected, "')'");
        }
    }
}

//! `ResponseReader` and literals that are not message data.
//!
//! A server may send any string of a response as a literal (RFC 9051:
//! `string = quoted / literal`): an ENVELOPE's subject, a BODYSTRUCTURE's
//! parameter, an address's name, a PREVIEW, a header field name inside
//! `BODY[HEADER.FIELDS (...)]`, an extension's value, a LIST response's
//! mailbox. The reader streams only the literals that are the data of a
//! message data item (`BODY[section]<origin>`, `BINARY[section]<origin>`,
//! `RFC822`, `RFC822.HEADER`, `RFC822.TEXT`) and longer than its
//! threshold; every other literal, whatever its size, is decoded in place.
//!
//! Each response below is fed whole and in every chunking from 1 byte up,
//! with thresholds below, between and above its literals' lengths, and the
//! events must be what `decode_response` gives for the whole input: one
//! `Response` with the same value, or for FETCH with streamed message data
//! `LiteralStart`, the data, `FetchEnd` around the very same items.

mod codec_support;

use codec_support::decode_resp_with;
use mailwire_imap::{
    DataItemName, DecodeError, Decoded, DecoderConfig, ErrorKind, IString, MessageDataItem, NString,
    ReadEvent, Response, ResponseReader, decode_response,
};
use proptest::prelude::*;

/// What the reader said, owned, with the pieces of a streamed literal
/// joined.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Event {
    Response(Response<'static>),
    LiteralStart {
        seq: u32,
        items: Vec<MessageDataItem<'static>>,
        item: DataItemName<'static>,
        length: u64,
    },
    Data(Vec<u8>),
    FetchEnd {
        seq: u32,
        items: Vec<MessageDataItem<'static>>,
    },
}

/// Feeds `input` to a reader in pieces whose sizes `sizes` gives (each
/// appended to a buffer, as socket reads are), and collects its events.
/// Every input here is valid: an error or a skip fails the test.
fn read(
    input: &[u8],
    config: &DecoderConfig,
    threshold: u64,
    sizes: &mut dyn Iterator<Item = usize>,
) -> Vec<Event> {
    let mut reader = ResponseReader::new(*config, threshold);
    let mut buffer: Vec<u8> = Vec::new();
    let mut fed = 0;
    let mut events = Vec::new();
    loop {
        match reader.decode(&buffer) {
            Ok(Decoded::Complete { value, consumed }) => {
                assert!(consumed > 0 && consumed <= buffer.len());
                let event = match value {
                    ReadEvent::Response(r) => Event::Response(r.into_owned()),
                    ReadEvent::LiteralStart {
                        seq,
                        items,
                        item,
                        length,
                    } => Event::LiteralStart {
                        seq: seq.get(),
                        items: items.into_iter().map(MessageDataItem::into_owned).collect(),
                        item: item.into_owned(),
                        length,
                    },
                    ReadEvent::LiteralData(d) => {
                        if let Some(Event::Data(joined)) = events.last_mut() {
                            joined.extend_from_slice(&d);
                            buffer.drain(..consumed);
                            continue;
                        }
                        Event::Data(d.to_vec())
                    }
                    ReadEvent::FetchEnd { seq, items } => Event::FetchEnd {
                        seq: seq.get(),
                        items: items.into_iter().map(MessageDataItem::into_owned).collect(),
                    },
                    ReadEvent::Skipped(s) => panic!("skipped {:?}", String::from_utf8_lossy(&s)),
                };
                events.push(event);
                buffer.drain(..consumed);
            }
            Ok(Decoded::Incomplete | Decoded::LiteralAnnounced(_)) => {
                if fed == input.len() {
                    break;
                }
                let end = (fed + sizes.next().unwrap_or(1).max(1)).min(input.len());
                buffer.extend_from_slice(&input[fed..end]);
                fed = end;
            }
            Err(e) => panic!("{e} in {:?}", String::from_utf8_lossy(input)),
        }
    }
    assert!(
        buffer.is_empty(),
        "left over: {:?}",
        String::from_utf8_lossy(&buffer)
    );
    events
}

/// The item's name and data when it is message data sent as a literal
/// longer than `threshold`: what the reader streams.
fn streamed(item: &MessageDataItem<'static>, threshold: u64) -> Option<(DataItemName<'static>, Vec<u8>)> {
    let literal = |data: &NString<'static>| match &data.0 {
        Some(IString::Literal(l)) if l.data().len() as u64 > threshold => Some(l.data().to_vec()),
        _ => None,
    };
    match item {
        MessageDataItem::BodySection {
            section,
            origin,
            data,
        } => literal(data).map(|d| {
            (
                DataItemName::BodySection {
                    section: section.clone(),
                    origin: *origin,
                },
                d,
            )
        }),
        MessageDataItem::Binary {
            section,
            origin,
            data,
        } => literal(data).map(|d| {
            (
                DataItemName::Binary {
                    section: section.clone(),
                    origin: *origin,
                },
                d,
            )
        }),
        MessageDataItem::Rfc822(data) => literal(data).map(|d| (DataItemName::Rfc822, d)),
        MessageDataItem::Rfc822Header(data) => literal(data).map(|d| (DataItemName::Rfc822Header, d)),
        MessageDataItem::Rfc822Text(data) => literal(data).map(|d| (DataItemName::Rfc822Text, d)),
        _ => None,
    }
}

/// The events the reader must give for the responses of `input`, from
/// `decode_response` on the whole input.
fn expected(input: &[u8], config: &DecoderConfig, threshold: u64) -> Vec<Event> {
    let mut events = Vec::new();
    let mut rest = input;
    while !rest.is_empty() {
        let (response, consumed) = match decode_response(rest, config) {
            Ok(Decoded::Complete { value, consumed }) => (value.into_owned(), consumed),
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(rest)),
        };
        rest = &rest[consumed..];
        let Response::Fetch { seq, items } = response else {
            events.push(Event::Response(response));
            continue;
        };
        let mut before = Vec::new();
        let mut streamed_any = false;
        for item in items {
            match streamed(&item, threshold) {
                Some((name, data)) => {
                    events.push(Event::LiteralStart {
                        seq: seq.get(),
                        items: std::mem::take(&mut before),
                        item: name,
                        length: data.len() as u64,
                    });
                    events.push(Event::Data(data));
                    streamed_any = true;
                }
                None => before.push(item),
            }
        }
        events.push(if streamed_any {
            Event::FetchEnd {
                seq: seq.get(),
                items: before,
            }
        } else {
            Event::Response(Response::Fetch { seq, items: before })
        });
    }
    events
}

/// The reader gives the expected events for `input` fed whole and in
/// pieces of every size from 1 to 80 bytes, with both leniency settings
/// and with `threshold`, 0 and no streaming at all.
fn check_thresholds(input: &[u8], threshold: u64) {
    for config in [DecoderConfig::default(), DecoderConfig::STRICT] {
        for t in [threshold, 0, u64::MAX] {
            let want = expected(input, &config, t);
            let whole = read(input, &config, t, &mut std::iter::repeat(input.len()));
            assert_eq!(
                whole,
                want,
                "whole, threshold {t}: {:?}",
                String::from_utf8_lossy(input)
            );
            for chunk in 1..=80 {
                let got = read(input, &config, t, &mut std::iter::repeat(chunk));
                assert_eq!(
                    got,
                    want,
                    "chunk {chunk}, threshold {t}: {:?}",
                    String::from_utf8_lossy(input)
                );
            }
        }
    }
}

/// The streaming threshold of the tests: every long string is longer.
const THRESHOLD: u64 = 16;

/// [`check_thresholds`] with [`THRESHOLD`].
fn check(input: &[u8]) {
    check_thresholds(input, THRESHOLD);
}

/// `s` as a literal.
fn lit(s: &str) -> String {
    format!("{{{}}}\r\n{s}", s.len())
}

/// `s` as a quoted string; a string no quoted string can hold (a quote, a
/// backslash, a line end) stays a literal.
fn quote(s: &str) -> String {
    if s.contains(['"', '\\', '\r', '\n']) {
        return lit(s);
    }
    format!("\"{s}\"")
}

/// `input` decodes, strictly and whole, to the value of `quoted`, the same
/// response with its literals written as quoted strings: each literal's
/// value lands in the field a quoted string does. Compared through Debug
/// with the literals' `{n}` marks taken out (a decoded string keeps its
/// form; these strings are short and ASCII, which Debug shows whole).
fn same_as_quoted(input: &[u8], quoted: &[u8]) {
    let shown = |input: &[u8]| {
        let debug = format!("{:?}", decode_resp_with(input, &DecoderConfig::STRICT));
        let mut out = String::new();
        let mut rest = debug.as_str();
        while let Some(at) = rest.find('{') {
            out.push_str(&rest[..at]);
            let after = &rest[at + 1..];
            let digits = after.bytes().take_while(u8::is_ascii_digit).count();
            if digits > 0 && after[digits..].starts_with("}\"") {
                rest = &after[digits + 1..];
            } else {
                out.push('{');
                rest = after;
            }
        }
        out + rest
    };
    assert_eq!(
        shown(input),
        shown(quoted),
        "{:?}",
        String::from_utf8_lossy(input)
    );
}

/// `s` as a literal8.
fn lit8(s: &str) -> String {
    format!("~{{{}}}\r\n{s}", s.len())
}

const SUBJECT: &str = "A subject longer than the threshold";
const DATE: &str = "Wed, 17 Jul 1996 02:23:25 -0700 (PDT)";

/// A FETCH response with one ENVELOPE whose ten fields are given.
fn envelope(fields: [&str; 10]) -> Vec<u8> {
    format!(
        "* 12 FETCH (UID 4827 ENVELOPE ({}) FLAGS (\\Seen))\r\n",
        fields.join(" ")
    )
    .into_bytes()
}

/// The envelope of RFC 9051's example, with `field` replaced by `value`.
fn envelope_with(field: usize, value: &str) -> Vec<u8> {
    let mut fields = [
        "\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\"",
        "\"IMAP4rev2 WG mtg summary and minutes\"",
        "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\"))",
        "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\"))",
        "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\"))",
        "((NIL NIL \"imap\" \"cac.washington.edu\"))",
        "((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")(\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\"))",
        "NIL",
        "NIL",
        "\"<B27397-0100000@cac.washington.edu>\"",
    ];
    fields[field] = value;
    envelope(fields)
}

/// Checks that `input` decodes, strictly, to a value that holds `needle`
/// (so that a test cannot pass by decoding nothing).
fn decodes_holding(input: &[u8], needle: &str) {
    let r = decode_resp_with(input, &DecoderConfig::STRICT);
    let mut encoded = Vec::new();
    r.encode_into(&mut encoded);
    assert!(
        encoded.windows(needle.len()).any(|w| w == needle.as_bytes()),
        "{needle:?} not in {r:?}"
    );
}

#[test]
fn envelope_date_and_subject() {
    let input = envelope_with(0, &lit(DATE));
    decodes_holding(&input, DATE);
    check(&input);
    let input = envelope_with(1, &lit(SUBJECT));
    decodes_holding(&input, SUBJECT);
    check(&input);
}

#[test]
fn the_reported_case_a_20_byte_subject_over_a_16_byte_threshold() {
    let input = envelope_with(1, "{20}\r\n01234567890123456789");
    let want = expected(&input, &DecoderConfig::default(), 16);
    assert!(matches!(&want[..], [Event::Response(Response::Fetch { .. })]));
    assert_eq!(
        read(
            &input,
            &DecoderConfig::default(),
            16,
            &mut std::iter::repeat(input.len())
        ),
        want
    );
    assert_eq!(
        read(&input, &DecoderConfig::default(), 16, &mut std::iter::repeat(7)),
        want
    );
}

#[test]
fn address_fields_in_every_address_list() {
    let name = "Terry Gray, with a long display name";
    let adl = "@route.one.example,@route.two.example";
    let mailbox = "a-very-long-local-part-of-an-address";
    let host = "a.host.name.longer.than.the.threshold.example";
    // from, sender, reply-to, to, cc, bcc, each with one field as a literal.
    let cases: [(usize, String, &str); 8] = [
        (2, format!("(({} NIL \"gray\" \"example.org\"))", lit(name)), name),
        (3, format!("((NIL {} \"gray\" \"example.org\"))", lit(adl)), adl),
        (
            4,
            format!("((NIL NIL {} \"example.org\"))", lit(mailbox)),
            mailbox,
        ),
        (5, format!("((NIL NIL \"gray\" {}))", lit(host)), host),
        (
            6,
            format!(
                "((\"Ann\" NIL \"ann\" \"example.org\")({} NIL \"bob\" \"example.org\"))",
                lit(name)
            ),
            name,
        ),
        (7, format!("((NIL NIL {} {}))", lit(mailbox), lit(host)), host),
        // A group's start: mailbox is the group name, host is NIL.
        (
            5,
            format!("((NIL NIL {} NIL)(NIL NIL NIL NIL))", lit(mailbox)),
            mailbox,
        ),
        (
            2,
            format!("(({} {} {} {}))", lit(name), lit(adl), lit(mailbox), lit(host)),
            adl,
        ),
    ];
    for (field, value, needle) in cases {
        let input = envelope_with(field, &value);
        decodes_holding(&input, needle);
        check(&input);
    }
}

#[test]
fn envelope_in_reply_to_and_message_id() {
    let id = "<CAFxyz-long-message-id-0123456789@mail.example.org>";
    let input = envelope_with(8, &lit(id));
    decodes_holding(&input, id);
    check(&input);
    let input = envelope_with(9, &lit(id));
    decodes_holding(&input, id);
    check(&input);
}

/// A FETCH response with a BODYSTRUCTURE.
fn bodystructure(body: &str) -> Vec<u8> {
    format!("* 3 FETCH (UID 9 BODYSTRUCTURE {body} RFC822.SIZE 4286)\r\n").into_bytes()
}

#[test]
fn single_part_body_structure_fields() {
    let long = "a-value-longer-than-the-threshold";
    let cases = |lit: fn(&str) -> String| {
        [
            // type, subtype
            format!(
                "({} \"octet-stream\" NIL NIL NIL \"BASE64\" 1024)",
                lit("x-application-long-type")
            ),
            format!(
                "(\"TEXT\" {} NIL NIL NIL \"7BIT\" 3028 92)",
                lit("x-long-text-subtype")
            ),
            // parameter names and values
            format!(
                "(\"TEXT\" \"PLAIN\" ({} \"US-ASCII\") NIL NIL \"7BIT\" 3028 92)",
                lit("X-LONG-PARAMETER-NAME")
            ),
            format!(
                "(\"TEXT\" \"PLAIN\" (\"CHARSET\" {}) NIL NIL \"7BIT\" 3028 92)",
                lit(long)
            ),
            format!(
                "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\" {} {}) NIL NIL \"7BIT\" 3028 92)",
                lit("X-LONG-PARAMETER-NAME"),
                lit(long)
            ),
            // id, description, encoding
            format!(
                "(\"TEXT\" \"PLAIN\" NIL {} NIL \"7BIT\" 3028 92)",
                lit("<part-id-0123456789@example.org>")
            ),
            format!(
                "(\"TEXT\" \"PLAIN\" NIL NIL {} \"7BIT\" 3028 92)",
                lit("A description of the part")
            ),
            format!(
                "(\"APPLICATION\" \"PDF\" NIL NIL NIL {} 4096)",
                lit("X-LONG-CONTENT-ENCODING")
            ),
            // md5, disposition type and parameters, language, location, extension
            format!(
                "(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 3028 92 {})",
                lit("Q2hlY2sgSW50ZWdyaXR5IQ==")
            ),
            format!(
                "(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 3028 92 NIL ({} NIL))",
                lit("x-long-disposition-type")
            ),
            format!(
                "(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 3028 92 NIL (\"attachment\" (\"FILENAME\" {})))",
                lit("a long file name.txt")
            ),
            format!(
                "(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 3028 92 NIL NIL {})",
                lit("en-x-long-language-tag")
            ),
            format!(
                "(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 3028 92 NIL NIL (\"en\" {}))",
                lit("de-x-long-language-tag")
            ),
            format!(
                "(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 3028 92 NIL NIL NIL {})",
                lit("http://example.org/a/long/location")
            ),
            format!(
                "(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 3028 92 NIL NIL NIL NIL {} (1 {}))",
                lit(long),
                lit(long)
            ),
        ]
    };
    for (body, quoted) in cases(lit).into_iter().zip(cases(quote)) {
        same_as_quoted(&bodystructure(&body), &bodystructure(&quoted));
        check(&bodystructure(&body));
    }
    // BODY, without extension data, has the same fields.
    let body = |lit: fn(&str) -> String| {
        format!(
            "* 3 FETCH (BODY ({} {} ({} {}) {} {} {} 1024))\r\n",
            lit("x-application-long-type"),
            lit("x-long-application-subtype"),
            lit("X-LONG-PARAMETER-NAME"),
            lit(long),
            lit("<part-id-0123456789@example.org>"),
            lit("A description of the part"),
            lit("X-LONG-CONTENT-ENCODING"),
        )
    };
    let input = body(lit);
    decodes_holding(input.as_bytes(), long);
    same_as_quoted(input.as_bytes(), body(quote).as_bytes());
    check(input.as_bytes());
}

#[test]
fn multipart_and_message_body_structure_fields() {
    let plain = "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 1152 23)";
    let cases = |lit: fn(&str) -> String| {
        [
            // The multipart subtype.
            format!("({plain}{plain} {})", lit("x-long-multipart-subtype")),
            // Its parameters, disposition, language, location.
            format!(
                "({plain}{plain} \"MIXED\" (\"BOUNDARY\" {}))",
                lit("----=_Part_0123456789_boundary")
            ),
            format!(
                "({plain}{plain} \"MIXED\" NIL ({} NIL) {} {})",
                lit("x-long-disposition-type"),
                lit("en-x-long-language-tag"),
                lit("http://example.org/a/long/location")
            ),
            // A part inside a part.
            format!(
                "(({plain}({} \"PLAIN\" NIL NIL NIL \"7BIT\" 10) \"ALTERNATIVE\") \"MIXED\")",
                lit("x-application-long-type")
            ),
            // A message/rfc822 part: its envelope and body structure are
            // nested three and four parentheses deep.
            format!(
                "({plain}(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 4000 ({} {} NIL NIL NIL NIL NIL NIL NIL NIL) (\"TEXT\" \"PLAIN\" NIL NIL {} \"7BIT\" 100 3) 80) \"MIXED\")",
                lit(DATE),
                lit(SUBJECT),
                lit("A description of the part")
            ),
        ]
    };
    for (body, quoted) in cases(lit).into_iter().zip(cases(quote)) {
        same_as_quoted(&bodystructure(&body), &bodystructure(&quoted));
        check(&bodystructure(&body));
    }
}

#[test]
fn message_data_literals_below_and_above_the_threshold() {
    let small = "0123456789";
    let large = "From: ann@example.org\r\nSubject: hi\r\n\r\nHello, (world) {5}\r\n\"\r\n";
    for data in [small, large] {
        for item in [
            "BODY[]",
            "BODY[1.2]",
            "BODY[HEADER]<0>",
            "BODY[1.TEXT]<100>",
            "RFC822",
            "RFC822.HEADER",
            "RFC822.TEXT",
        ] {
            check(format!("* 2 FETCH (UID 5 {item} {} FLAGS ())\r\n", lit(data)).as_bytes());
        }
        check(format!("* 2 FETCH (BINARY[1] {} UID 5)\r\n", lit8(data)).as_bytes());
        check(format!("* 2 FETCH (BINARY[] {} UID 5)\r\n", lit(data)).as_bytes());
    }
    // The threshold itself does not stream: only longer literals do.
    let input = format!("* 2 FETCH (BODY[] {})\r\n", lit(&"x".repeat(16))).into_bytes();
    assert!(matches!(
        &read(&input, &DecoderConfig::default(), 16, &mut std::iter::repeat(3))[..],
        [Event::Response(_)]
    ));
}

#[test]
fn header_field_names_in_a_section() {
    let name = "X-A-Header-Field-Name-Longer-Than-The-Threshold";
    for data in [
        "abc",
        "X-A-Header-Field-Name-Longer-Than-The-Threshold: 1\r\n\r\n",
    ] {
        let input = format!(
            "* 4 FETCH (BODY[HEADER.FIELDS (SUBJECT {} \"FROM\")] {} UID 8)\r\n",
            lit(name),
            lit(data)
        );
        decodes_holding(input.as_bytes(), name);
        check(input.as_bytes());
        let input = format!(
            "* 4 FETCH (BODY[1.HEADER.FIELDS.NOT ({})]<0> {})\r\n",
            lit(name),
            lit(data)
        );
        check(input.as_bytes());
    }
}

#[test]
fn preview_and_extension_values() {
    let preview = "The first words of the message, longer than the threshold";
    let input = format!("* 5 FETCH (UID 1 PREVIEW {} FLAGS (\\Seen))\r\n", lit(preview));
    decodes_holding(input.as_bytes(), preview);
    check(input.as_bytes());
    // Items of extensions without a variant: a string value, strings in a
    // list and in a nested list.
    let label = "A Gmail label longer than the threshold";
    for value in [
        lit(label),
        format!("(\\Inbox {} \"Work\")", lit(label)),
        format!("(1 (a {}) NIL)", lit(label)),
    ] {
        let input = format!("* 5 FETCH (X-GM-MSGID 1278455344230334865 X-GM-LABELS {value} UID 1)\r\n");
        decodes_holding(input.as_bytes(), label);
        check(input.as_bytes());
    }
    // Names like a data item's, but not one, or not right inside msg-att.
    for input in [
        format!("* 5 FETCH (X-RFC822 {} X-BODY 1)\r\n", lit(label)),
        format!("* 5 FETCH (X-EXT (RFC822 {}) X-BODY 1)\r\n", lit(label)),
        format!("* 5 FETCH (X-EXT (BODY {}))\r\n", lit(label)),
        // Atoms that end like a data item's name, right before a literal.
        format!(
            "* 5 FETCH (X-EXT (RFC822 {} a] {} 1> {}) UID 2)\r\n",
            lit(label),
            lit(label),
            lit(label)
        ),
        format!(
            "* 5 FETCH (BODY[] {} X-EXT (RFC822.TEXT {}) BODY[1] {} X-EXT (x] {}))\r\n",
            lit(label),
            lit(label),
            lit(label),
            lit(label)
        ),
    ] {
        decodes_holding(input.as_bytes(), label);
        check(input.as_bytes());
    }
}

#[test]
fn internaldate_is_never_a_literal() {
    // date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP
    // time SP zone DQUOTE: a literal is refused, by the reader as by
    // decode_response, and the reader goes on with the next response.
    let date = "17-Jul-1996 02:44:25 -0700";
    let bad = format!("* 6 FETCH (INTERNALDATE {} UID 3)\r\n", lit(date)).into_bytes();
    let input = [&bad[..], b"* 7 EXISTS\r\n"].concat();
    let whole = decode_response(&bad, &DecoderConfig::default()).unwrap_err();
    for chunk in [1, 7, 64, input.len()] {
        let mut reader = ResponseReader::new(DecoderConfig::default(), THRESHOLD);
        let mut buffer = Vec::new();
        let mut fed = 0;
        let mut errors: Vec<DecodeError> = Vec::new();
        let mut responses = Vec::new();
        loop {
            match reader.decode(&buffer) {
                Ok(Decoded::Complete {
                    value: ReadEvent::Response(r),
                    consumed,
                }) => {
                    responses.push(r.into_owned());
                    buffer.drain(..consumed);
                }
                Ok(Decoded::Incomplete | Decoded::LiteralAnnounced(_)) if fed < input.len() => {
                    let end = (fed + chunk).min(input.len());
                    buffer.extend_from_slice(&input[fed..end]);
                    fed = end;
                }
                Err(e) => {
                    buffer.drain(..e.resume_at.unwrap());
                    errors.push(e);
                }
                other => {
                    assert!(matches!(other, Ok(Decoded::Incomplete)), "{other:?}");
                    break;
                }
            }
        }
        assert_eq!(errors, std::slice::from_ref(&whole), "chunk {chunk}");
        assert_eq!(responses, [Response::Exists(7)], "chunk {chunk}");
    }
    // Quoted, it decodes.
    check(format!("* 6 FETCH (INTERNALDATE \"{date}\" UID 3)\r\n").as_bytes());
}

#[test]
fn a_long_subject_and_a_long_body_in_one_response() {
    let body = "From: ann@example.org\r\nSubject: (a) \"b\" {3}\r\n\r\nThe body of the message.\r\n";
    let input = format!(
        "* 9 FETCH (UID 31 ENVELOPE (NIL {} NIL NIL NIL NIL NIL NIL NIL NIL) BODY[] {} PREVIEW {} \
         BODY[HEADER.FIELDS ({})] {} FLAGS (\\Seen))\r\n",
        lit(SUBJECT),
        lit(body),
        lit("A preview after the streamed body, longer than the threshold"),
        lit("X-A-Header-Field-Name-Longer-Than-The-Threshold"),
        lit(body),
    );
    let want = expected(input.as_bytes(), &DecoderConfig::default(), THRESHOLD);
    // The subject decodes in place before the body streams; the preview
    // and the header field name decode in place between the two streamed
    // literals, and the flags after them.
    assert_eq!(want.len(), 5, "{want:#?}");
    let Event::LiteralStart { items, item, .. } = &want[0] else {
        panic!("{want:#?}")
    };
    assert!(
        matches!(&items[..], [MessageDataItem::Uid(_), MessageDataItem::Envelope(e)]
        if e.subject.as_bytes() == Some(SUBJECT.as_bytes()))
    );
    assert!(matches!(item, DataItemName::BodySection { .. }));
    assert_eq!(want[1], Event::Data(body.as_bytes().to_vec()));
    let Event::LiteralStart { items, .. } = &want[2] else {
        panic!("{want:#?}")
    };
    assert!(matches!(&items[..], [MessageDataItem::Preview(_)]));
    assert!(
        matches!(&want[4], Event::FetchEnd { items, .. } if matches!(&items[..], [MessageDataItem::Flags(_)]))
    );
    check(input.as_bytes());
}

#[test]
fn literals_of_other_responses_are_never_streamed() {
    let name = "A mailbox name longer than the threshold";
    let value = "A metadata value longer than the threshold, (with) \"quotes\" {3}\r\n";
    let inputs = |lit: fn(&str) -> String| {
        [
            format!("* LIST (\\HasNoChildren) \"/\" {}\r\n", lit(name)),
            format!("* LSUB () \".\" {}\r\n", lit(name)),
            format!("* STATUS {} (MESSAGES 231 UIDNEXT 44292)\r\n", lit(name)),
            format!("* METADATA \"INBOX\" (/private/comment {})\r\n", lit(value)),
            format!(
                "* ID (\"name\" {} \"version\" \"1.0\")\r\n",
                lit("A server name longer than the threshold")
            ),
            format!("* MYRIGHTS {} rwiptsldaex\r\n", lit(name)),
            format!("* ACL {} Fred rwipslxetad\r\n", lit(name)),
            format!("* QUOTAROOT {} \"\"\r\n", lit(name)),
            // A status response's text is never a literal: `{20}` at its end
            // is text, and what follows is the next response.
            "* OK [ALERT] text that ends like a literal {20}\r\n".to_string(),
            "A1 NO [TRYCREATE] no such mailbox {20}\r\n".to_string(),
        ]
    };
    for (input, quoted) in inputs(lit).iter().zip(inputs(quote)) {
        // The values decode, each string where its quoted form puts it.
        same_as_quoted(input.as_bytes(), quoted.as_bytes());
        check(&[input.as_bytes(), b"* 3 FETCH (UID 5)\r\n"].concat());
    }
}

#[test]
fn limits_still_hold_for_literals_decoded_in_place() {
    // A subject announced at 4294967295 bytes: refused when announced,
    // before its data is waited for; the same with a small literal limit.
    let mut reader = ResponseReader::new(DecoderConfig::default(), THRESHOLD);
    let e = reader
        .decode(b"* 1 FETCH (ENVELOPE (NIL {4294967295}\r\n")
        .unwrap_err();
    assert!(
        matches!(
            e.kind,
            ErrorKind::LiteralTooLarge {
                length: 4294967295,
                ..
            }
        ),
        "{e}"
    );
    let mut config = DecoderConfig::default();
    config.limits.literal = 100;
    let input = envelope_with(1, &lit(&"s".repeat(101)));
    let mut reader = ResponseReader::new(config, THRESHOLD);
    let e = reader.decode(&input).unwrap_err();
    assert_eq!(
        e.kind,
        ErrorKind::LiteralTooLarge {
            length: 101,
            limit: 100
        }
    );
    let one_shot = decode_response(&input, &config).unwrap_err();
    assert_eq!((e.kind, e.offset), (one_shot.kind, one_shot.offset));
    // A message data literal of the same size streams.
    let body = format!("* 1 FETCH (BODY[] {})\r\n", lit(&"s".repeat(101)));
    let mut reader = ResponseReader::new(config, THRESHOLD);
    assert!(matches!(
        reader.decode(body.as_bytes()).unwrap(),
        Decoded::Complete {
            value: ReadEvent::LiteralStart { length: 101, .. },
            ..
        }
    ));
    // The whole-response limit counts literals decoded in place.
    let mut config = DecoderConfig::default();
    config.limits.response_message = 200;
    let input = envelope_with(1, &lit(&"s".repeat(190)));
    let mut reader = ResponseReader::new(config, THRESHOLD);
    let e = reader.decode(&input).unwrap_err();
    assert_eq!(e.kind, ErrorKind::MessageTooLarge { limit: 200 });
    // The line limit holds between them.
    let mut config = DecoderConfig::default();
    config.limits.response_line = 64;
    let input = envelope_with(1, &lit(SUBJECT));
    let mut reader = ResponseReader::new(config, THRESHOLD);
    let e = reader.decode(&input).unwrap_err();
    assert!(matches!(e.kind, ErrorKind::LineTooLong { limit: 64 }), "{e}");
}

// ---------------------------------------------------------------------
// Random responses, random literals, random pieces.

/// Bytes a literal may hold that look like structure: parentheses,
/// brackets, quotes, backslashes, line ends, literal headers, item names.
fn literal_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just("a".to_string()),
            Just(" ".to_string()),
            Just("(".to_string()),
            Just(")".to_string()),
            Just("[".to_string()),
            Just("]".to_string()),
            Just("\"".to_string()),
            Just("\\".to_string()),
            Just("\r\n".to_string()),
            Just("\n".to_string()),
            Just("{5}\r\n".to_string()),
            Just(" BODY[] ".to_string()),
            Just("RFC822 ".to_string()),
            "[a-zA-Z0-9]{1,12}",
        ],
        0..12,
    )
    .prop_map(|parts| parts.concat())
}

/// A string: a literal of [`literal_text`], or a quoted string.
fn string() -> impl Strategy<Value = String> {
    string_starting("")
}

/// A string whose text starts with `prefix`.
fn string_starting(prefix: &'static str) -> impl Strategy<Value = String> {
    prop_oneof![
        3 => literal_text().prop_map(move |s| lit(&format!("{prefix}{s}"))),
        1 => "[a-zA-Z0-9 ()\\[\\]{}]{0,30}".prop_map(move |s| format!("\"{prefix}{s}\"")),
    ]
}

fn nstring() -> impl Strategy<Value = String> {
    prop_oneof![5 => string(), 1 => Just("NIL".to_string())]
}

fn address() -> impl Strategy<Value = String> {
    prop::collection::vec(nstring(), 4).prop_map(|f| format!("({})", f.join(" ")))
}

fn address_list() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => Just("NIL".to_string()),
        3 => prop::collection::vec(address(), 1..3).prop_map(|a| format!("({})", a.concat())),
    ]
}

fn envelope_item() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(nstring(), 2),
        prop::collection::vec(address_list(), 6),
        prop::collection::vec(nstring(), 2),
    )
        .prop_map(|(a, b, c)| format!("ENVELOPE ({} {} {})", a.join(" "), b.join(" "), c.join(" ")))
}

/// A single-part BODYSTRUCTURE of a basic type: the type starts with
/// `X-`, so it is never TEXT or MESSAGE, whose shapes take more fields.
fn body_item() -> impl Strategy<Value = String> {
    (
        string_starting("X-"),
        string(),
        string(),
        string(),
        nstring(),
        nstring(),
        string(),
        nstring(),
        nstring(),
    )
        .prop_map(|(ty, sub, pn, pv, id, desc, enc, md5, loc)| {
            format!("BODYSTRUCTURE ({ty} {sub} ({pn} {pv}) {id} {desc} {enc} 100 {md5} ({ty} NIL) NIL {loc})")
        })
}

/// Any string as message data, or a literal8.
fn data() -> impl Strategy<Value = String> {
    prop_oneof![4 => nstring(), 1 => literal_text().prop_map(|s| lit8(&s))]
}

fn item() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("UID 7".to_string()),
        Just("FLAGS (\\Seen $Junk)".to_string()),
        Just("INTERNALDATE \"17-Jul-1996 02:44:25 -0700\"".to_string()),
        envelope_item(),
        body_item(),
        nstring().prop_map(|s| format!("BODY[] {s}")),
        (nstring(), string()).prop_map(|(s, h)| format!("BODY[HEADER.FIELDS (FROM {h})]<0> {s}")),
        data().prop_map(|s| format!("BINARY[1] {s}")),
        nstring().prop_map(|s| format!("RFC822.TEXT {s}")),
        nstring().prop_map(|s| format!("PREVIEW {s}")),
        (string(), nstring()).prop_map(|(a, b)| format!("X-EXT ({a} ({b} 1))")),
        // Atoms that end like a data item's name, before strings.
        (nstring(), nstring(), nstring()).prop_map(|(a, b, c)| format!("X-EXT (RFC822 {a} x] {b} 1> {c})")),
        nstring().prop_map(|s| format!("X-EXT {s}")),
    ]
}

fn fetch() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(item(), 1..6)
        .prop_map(|items| format!("* 1 FETCH ({})\r\n* 2 EXISTS\r\n", items.join(" ")).into_bytes())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_fetch_responses_in_random_pieces(
        input in fetch(),
        threshold in 0u64..40,
        sizes in prop::collection::vec(1usize..40, 1..20),
    ) {
        let config = DecoderConfig::default();
        // Every shape generated is valid: the whole input decodes.
        let mut rest = &input[..];
        while !rest.is_empty() {
            match decode_response(rest, &config) {
                Ok(Decoded::Complete { consumed, .. }) => rest = &rest[consumed..],
                other => prop_assert!(false, "{:?}: {:?}", String::from_utf8_lossy(&input), other),
            }
        }
        let want = expected(&input, &config, threshold);
        let whole = read(&input, &config, threshold, &mut std::iter::repeat(input.len()));
        prop_assert_eq!(&whole, &want);
        let pieces = read(&input, &config, threshold, &mut sizes.iter().copied().cycle());
        prop_assert_eq!(&pieces, &want);
    }
}

/// Feeds `input` in pieces of `chunk` bytes and describes the events,
/// errors included, with streamed data joined and skipped bytes counted.
fn read_with_errors(input: &[u8], config: DecoderConfig, threshold: u64, chunk: usize) -> Vec<String> {
    let mut reader = ResponseReader::new(config, threshold);
    let mut buffer: Vec<u8> = Vec::new();
    let mut fed = 0;
    let mut events: Vec<String> = Vec::new();
    loop {
        match reader.decode(&buffer) {
            Ok(Decoded::Complete { value, consumed }) => {
                let event = match value {
                    ReadEvent::LiteralData(d) => format!("data {}", d.len()),
                    ReadEvent::Skipped(s) => format!("skipped {}", s.len()),
                    other => format!("{other:?}"),
                };
                // Pieces of data and of skipped bytes add up.
                let last = events.last().and_then(|l| l.rsplit_once(' '));
                match last {
                    Some((kind, n)) if event.starts_with(kind) && (kind == "data" || kind == "skipped") => {
                        let more: usize = event[kind.len() + 1..].parse().unwrap();
                        let total = n.parse::<usize>().unwrap() + more;
                        *events.last_mut().unwrap() = format!("{kind} {total}");
                    }
                    _ => events.push(event),
                }
                buffer.drain(..consumed);
            }
            Ok(Decoded::Incomplete | Decoded::LiteralAnnounced(_)) => {
                if fed == input.len() {
                    break;
                }
                let end = (fed + chunk).min(input.len());
                buffer.extend_from_slice(&input[fed..end]);
                fed = end;
            }
            Err(e) => {
                events.push(format!("error {:?} at {}", e.kind, e.offset));
                buffer.drain(..e.resume_at.expect("the reader resumes"));
            }
        }
    }
    assert!(buffer.is_empty());
    events
}

#[test]
fn a_literal_over_the_limit_is_refused_and_skipped_in_step() {
    let mut config = DecoderConfig::default();
    config.limits.literal = 100;
    let long = "s".repeat(101);
    let input = [
        // Not message data, in a FETCH response.
        envelope_with(1, &lit(&long)),
        // After a streamed literal.
        format!(
            "* 2 FETCH (BODY[] {} PREVIEW {} UID 4)\r\n",
            lit(&long),
            lit(&long)
        )
        .into_bytes(),
        // In another response.
        format!("* LIST () \"/\" {}\r\n", lit(&long)).into_bytes(),
        b"* 7 EXISTS\r\n".to_vec(),
    ]
    .concat();
    let whole = read_with_errors(&input, config, THRESHOLD, input.len());
    let errors: Vec<&String> = whole.iter().filter(|e| e.starts_with("error")).collect();
    assert_eq!(errors.len(), 3, "{whole:#?}");
    assert!(
        errors
            .iter()
            .all(|e| e.contains("LiteralTooLarge { length: 101, limit: 100 }"))
    );
    assert!(whole[2].starts_with("LiteralStart { seq: 2"), "{whole:#?}");
    assert_eq!(whole.last().unwrap(), "Response(Exists(7))");
    for chunk in 1..=80 {
        assert_eq!(
            read_with_errors(&input, config, THRESHOLD, chunk),
            whole,
            "chunk {chunk}"
        );
    }
    // Skipping the rest of a response after a malformed head: a literal
    // over the limit there (but not above the threshold) is skipped too,
    // lines that look like responses and all.
    let tricky = format!("{}\r\n* 9 EXISTS\r\n", "s".repeat(90));
    let input = [
        format!(
            "* 1 FETCH (UID 0 BODY[] {} PREVIEW {})\r\n",
            lit(&"b".repeat(300)),
            lit(&tricky)
        )
        .into_bytes(),
        b"* 7 EXISTS\r\n".to_vec(),
    ]
    .concat();
    let whole = read_with_errors(&input, config, 200, input.len());
    assert_eq!(whole.len(), 3, "{whole:#?}");
    assert!(whole[0].starts_with("error Syntax"), "{whole:#?}");
    assert_eq!(
        whole[1],
        format!(
            "skipped {}",
            input.len() - b"* 1 FETCH (UID 0 BODY[] {300}\r\n".len() - b"* 7 EXISTS\r\n".len()
        )
    );
    assert_eq!(whole[2], "Response(Exists(7))");
    for chunk in 1..=80 {
        assert_eq!(
            read_with_errors(&input, config, 200, chunk),
            whole,
            "chunk {chunk}"
        );
    }
    // A subject of 4294967295 bytes: nothing is allocated, its data is
    // skipped as it comes.
    let mut reader = ResponseReader::new(DecoderConfig::default(), THRESHOLD);
    let head = b"* 1 FETCH (ENVELOPE (NIL {4294967295}\r\n";
    let e = reader.decode(head).unwrap_err();
    assert_eq!(e.resume_at, Some(head.len()));
    let chunk = [b'x'; 4096];
    assert_eq!(
        reader.decode(&chunk).unwrap(),
        Decoded::Complete {
            value: ReadEvent::Skipped(std::borrow::Cow::Borrowed(&chunk[..])),
            consumed: 4096
        }
    );
    assert!(!reader.is_between_responses());
}

//! Compares the message analysis with what Dovecot 2.3.19 returned for the
//! same messages (tests/corpus/NAME.eml and NAME.expected, made by
//! tests/corpus/regenerate.py), byte for byte.
//!
//! The analysis returns mailwire-imap's types; each item is put in a FETCH
//! response and encoded by mailwire-imap's encoder, the way a server sends
//! it, and the item is cut out of the response line. The requests
//! (`BODY.PEEK[1.MIME]<0.20>`...) are parsed by mailwire-imap too.

use std::borrow::Cow;
use std::num::NonZeroU32;
use std::path::PathBuf;

use mailwire_imap::{
    AString, FetchItem, HeaderList, IString, Literal, MessageDataItem, NString, Response, Section,
    SectionText,
};
use mailwire_mailbox::analysis::{
    BinaryError, MessageAnalysis, analyze, apply_partial, binary_size, decode_binary, extract_section,
    to_crlf,
};

/// Items where this crate deliberately differs from Dovecot: message, item,
/// what this crate gives, and the reason. The test checks that they still
/// differ (so a stale entry is noticed) and give what is written here.
const DIFFERENCES: &[(&str, &str, &str, &str)] = &[
    (
        "02-alternative",
        "BODY.PEEK[0]",
        "BAD syntax error at offset 10: expected digit 1-9, found '0'",
        "0 is not a valid part number (nz-number); Dovecot reads it as 1, this refuses the command",
    ),
    (
        "05-encoded-words",
        "BINARY.PEEK[TEXT]",
        "BAD syntax error at offset 12: expected part number or ']', found 'T'",
        "RFC 3516 allows only part numbers in BINARY sections; Dovecot also accepts TEXT",
    ),
    (
        "14-rfc822-variants",
        "BINARY.SIZE[1]",
        "BINARY.SIZE[1] 34",
        "Dovecot reports 0 for a base64 message/rfc822 part although BINARY[1] sends 34 octets; \
         this reports the size of what decode_binary returns",
    ),
    (
        "17-unknown-cte",
        "BINARY.SIZE[1]",
        "BINARY.SIZE[1] 15",
        "Dovecot fails BINARY.SIZE of a 7bit part because a sibling part has an unknown encoding; \
         this answers for the part asked for",
    ),
    (
        "25-empty-and-defaults",
        "BINARY.SIZE[1]",
        "BINARY.SIZE[1] 27",
        "same as 17-unknown-cte: the unknown (empty) encoding is in part 2, not part 1",
    ),
];

// ------------------------------------------------------------- rendering

/// The item as mailwire-imap encodes it in `* 1 FETCH (...)`, the name
/// included unless `value_only`.
fn encode(item: MessageDataItem<'_>, value_only: bool) -> Vec<u8> {
    let response = Response::Fetch {
        seq: NonZeroU32::MIN,
        items: vec![item],
    };
    let mut out = Vec::new();
    response.encode_into(&mut out);
    let inner = out
        .strip_prefix(b"* 1 FETCH (")
        .and_then(|r| r.strip_suffix(b")\r\n"))
        .expect("a FETCH response")
        .to_vec();
    if !value_only {
        return inner;
    }
    let space = inner.iter().position(|&b| b == b' ').expect("name and value");
    inner[space + 1..].to_vec()
}

/// The section as Dovecot echoes it: header field names in upper case.
fn echoed(section: &Section<'_>) -> Section<'static> {
    let upper = |list: &HeaderList<'_>| {
        let names = list
            .names()
            .iter()
            .map(|n| AString::from_bytes(n.as_bytes().to_ascii_uppercase()).expect("field name"))
            .collect();
        HeaderList::new(names).expect("names")
    };
    let text = section.text().map(|t| match t {
        SectionText::HeaderFields(l) => SectionText::HeaderFields(upper(l)),
        SectionText::HeaderFieldsNot(l) => SectionText::HeaderFieldsNot(upper(l)),
        other => other.clone().into_owned(),
    });
    Section::new(section.part().cloned(), text).expect("section")
}

fn no(e: BinaryError) -> Vec<u8> {
    match e {
        BinaryError::UnknownCte => b"NO [UNKNOWN-CTE]".to_vec(),
        other => format!("NO ({other})").into_bytes(),
    }
}

/// A literal (a literal8 for `binary`), as Dovecot sends message data.
fn literal(data: Cow<'_, [u8]>, binary: bool) -> NString<'_> {
    let literal = if binary {
        Literal::binary(data)
    } else {
        Literal::new(data).expect("no NUL in message data")
    };
    NString(Some(IString::Literal(literal)))
}

/// A server sends the message with CRLF line ends (decoded content is sent
/// as decoded); a partial range applies to what is sent.
fn as_sent(data: Cow<'_, [u8]>, decoded: bool) -> Cow<'_, [u8]> {
    match data {
        Cow::Borrowed(b) if !decoded => to_crlf(b),
        Cow::Owned(v) if !decoded => Cow::Owned(to_crlf(&v).into_owned()),
        d => d,
    }
}

fn render_item(msg: &MessageAnalysis<'_>, item: &str) -> Vec<u8> {
    let request: FetchItem<'static> = match item.parse() {
        Ok(r) => r,
        // Not IMAP (`BODY.PEEK[0]`: 0 is no nz-number).
        Err(e) => return format!("BAD {e}").into_bytes(),
    };
    match request {
        FetchItem::Envelope => encode(MessageDataItem::Envelope(Box::new(msg.envelope().clone())), true),
        FetchItem::BodyStructure => encode(
            MessageDataItem::BodyStructure(Box::new(msg.body_structure().clone())),
            true,
        ),
        FetchItem::Body => encode(MessageDataItem::Body(Box::new(msg.body())), true),
        FetchItem::Rfc822Size => encode(MessageDataItem::Rfc822Size(msg.size()), true),
        FetchItem::BinarySize { section } => match binary_size(msg, section.as_ref()) {
            Ok(n) => encode(
                MessageDataItem::BinarySize {
                    section,
                    size: u32::try_from(n).expect("small"),
                },
                false,
            ),
            Err(e) => no(e),
        },
        FetchItem::Binary { section, partial, .. } => {
            let content = match decode_binary(msg, section.as_ref()) {
                Ok(c) => c,
                Err(e) => return no(e),
            };
            let data = as_sent(content.data, content.decoded);
            let data = apply_partial(data, partial.as_ref());
            encode(
                MessageDataItem::Binary {
                    section,
                    origin: partial.map(|p| p.offset()),
                    data: literal(data, content.decoded),
                },
                false,
            )
        }
        FetchItem::BodySection { section, partial, .. } => {
            let data = extract_section(msg, &section, None).unwrap_or(Cow::Borrowed(b""));
            let data = as_sent(data, false);
            let data = apply_partial(data, partial.as_ref());
            encode(
                MessageDataItem::BodySection {
                    section: echoed(&section),
                    origin: partial.map(|p| p.offset()),
                    data: literal(data, false),
                },
                false,
            )
        }
        other => panic!("no such item in the corpus: {other:?}"),
    }
}

// ------------------------------------------------------------------ the test

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("corpus")
}

fn records(data: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        let line_end = pos + data[pos..].iter().position(|&b| b == b'\n').expect("item line");
        let item = std::str::from_utf8(&data[pos..line_end]).expect("utf-8 item");
        let item = item.strip_prefix("ITEM ").expect("ITEM prefix").to_string();
        let len_end = line_end
            + 1
            + data[line_end + 1..]
                .iter()
                .position(|&b| b == b'\n')
                .expect("length");
        let len: usize = std::str::from_utf8(&data[line_end + 1..len_end])
            .expect("len")
            .parse()
            .expect("len");
        let value = data[len_end + 1..len_end + 1 + len].to_vec();
        assert_eq!(
            data.get(len_end + 1 + len),
            Some(&b'\n'),
            "record terminator after {item}"
        );
        pos = len_end + 2 + len;
        out.push((item, value));
    }
    out
}

/// A corpus message: name, raw bytes, Dovecot's (item, value) records.
type CorpusEntry = (String, Vec<u8>, Vec<(String, Vec<u8>)>);

fn corpus() -> Vec<CorpusEntry> {
    let mut names: Vec<String> = std::fs::read_dir(corpus_dir())
        .expect("corpus dir")
        .filter_map(|e| {
            e.ok()?
                .file_name()
                .into_string()
                .ok()?
                .strip_suffix(".eml")
                .map(str::to_string)
        })
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let eml = std::fs::read(corpus_dir().join(format!("{name}.eml"))).expect("eml");
            let expected = std::fs::read(corpus_dir().join(format!("{name}.expected"))).expect("expected");
            let recs = records(&expected);
            (name, eml, recs)
        })
        .collect()
}

#[test]
fn corpus_matches_dovecot() {
    let corpus = corpus();
    assert!(corpus.len() >= 15, "corpus has {} messages", corpus.len());
    let mut compared = 0;
    let mut failures = Vec::new();
    for (name, eml, recs) in &corpus {
        let msg = analyze(eml);
        for (item, expected) in recs {
            let got = render_item(&msg, item);
            let known = DIFFERENCES.iter().find(|(n, i, _, _)| n == name && i == item);
            match known {
                Some((_, _, ours, why)) => {
                    assert_ne!(
                        &got, expected,
                        "{name} {item} now matches Dovecot; remove it from DIFFERENCES ({why})"
                    );
                    // And it gives what the difference says, not anything.
                    assert_eq!(String::from_utf8_lossy(&got), *ours, "{name} {item} ({why})");
                }
                None if &got != expected => failures.push(format!(
                    "{name} {item}\n  dovecot: {}\n  ours:    {}",
                    String::from_utf8_lossy(expected).escape_debug(),
                    String::from_utf8_lossy(&got).escape_debug()
                )),
                None => compared += 1,
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(compared > 400, "only {compared} items compared");
}

#[test]
fn every_corpus_message_has_the_core_items() {
    for (name, _, recs) in corpus() {
        for item in ["ENVELOPE", "BODYSTRUCTURE", "BODY", "RFC822.SIZE"] {
            assert!(recs.iter().any(|(i, _)| i == item), "{name} lacks {item}");
        }
    }
}

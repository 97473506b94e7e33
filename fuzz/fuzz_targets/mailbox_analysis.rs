//! MIME analysis of arbitrary messages: what FETCH ENVELOPE, BODY,
//! BODYSTRUCTURE, BODY[section] and BINARY[section] would send.
//!
//! The input is the message. Checked: no panic; every part of the part
//! tree lies inside its parent, in order, with its header before its body;
//! ENVELOPE, BODY and BODYSTRUCTURE encode, as a FETCH response, to bytes
//! the decoder reads back as the same values, whatever the message (with
//! the default leniency: like Dovecot, the analysis describes a
//! message/global part with the basic fields only, where RFC 9051's
//! grammar has those of message/rfc822); every part's HEADER, TEXT, MIME
//! and whole-part sections can be extracted (or are refused) without
//! panic, none longer than the message with every LF doubled; BINARY of
//! the message and of each part decodes where `binary_size` gives a size,
//! and that size is its length as sent (stored bytes that need no decoding
//! go out with CRLF line ends); the sizes in BODYSTRUCTURE are those of
//! what FETCH sends for each part, up to 64 parts: `octets` the length of
//! BODY[part] with CRLF line ends,
//! `lines` of a text part or an encapsulated message its number of LFs.
//! Parts are numbered as RFC 9051 section 6.4.5 says, a message that is
//! not a multipart being its own part 1.
#![no_main]

use std::num::NonZeroU32;

use libfuzzer_sys::fuzz_target;
use mailwire_imap::{
    BodyStructure, Decoded, DecoderConfig, MessageDataItem, Response, SpecificFields, decode_response,
    to_bytes,
};
use mailwire_mailbox::analysis::{
    MessageAnalysis, PREVIEW_CHARS, Part, PartKind, Section, SectionPart, SectionText, analyze, binary_size,
    decode_binary, extract_section, preview, to_crlf,
};

/// Checks that `part` and its children nest inside `[start, end)`.
fn walk(part: &Part, start: usize, end: usize) {
    assert!(
        start <= part.header_start
            && part.header_start <= part.body_start
            && part.body_start <= part.end
            && part.end <= end,
        "part at {}..{}..{} outside {start}..{end}",
        part.header_start,
        part.body_start,
        part.end
    );
    let children: &[Part] = match &part.kind {
        PartKind::Multipart(parts) => parts,
        PartKind::Message(inner) => std::slice::from_ref(&**inner),
        _ => &[],
    };
    let mut from = part.body_start;
    for child in children {
        walk(child, from, part.end);
        from = child.end;
    }
}

/// The parts of a message whose sizes are checked; the first 16 of them
/// have their sections extracted.
const MAX_PARTS: usize = 64;

/// Checks the sizes BODYSTRUCTURE gives for `body`, the part at `path`,
/// and those below it, against what FETCH sends for the part: `octets` is
/// the length of BODY[path] with CRLF line ends, and a text part's or an
/// encapsulated message's `lines` is its number of LFs. Parts are numbered
/// as RFC 9051 section 6.4.5 says: a multipart's parts one by one, and the
/// body of an encapsulated message as its part, or its parts when it is a
/// multipart. Collects the path of every part in `paths`, up to
/// [`MAX_PARTS`].
fn check_sizes(
    msg: &MessageAnalysis<'_>,
    body: &BodyStructure<'_>,
    path: &mut Vec<NonZeroU32>,
    paths: &mut Vec<Vec<NonZeroU32>>,
) {
    if paths.len() == MAX_PARTS {
        return;
    }
    if !path.is_empty() {
        paths.push(path.clone());
    }
    let below = |path: &mut Vec<NonZeroU32>, i: usize, part: &BodyStructure<'_>, paths: &mut Vec<_>| {
        path.push(NonZeroU32::new(i as u32 + 1).expect("from 1"));
        check_sizes(msg, part, path, paths);
        path.pop();
    };
    match body {
        BodyStructure::Multipart { parts, .. } => {
            for (i, part) in parts.iter().enumerate() {
                below(path, i, part, paths);
            }
        }
        BodyStructure::Single { fields, specific, .. } => {
            let section = Section::new(Some(SectionPart::new(path.clone()).expect("not empty")), None)
                .expect("a part section");
            let content = extract_section(msg, &section, None).unwrap_or_default();
            assert_eq!(
                u64::from(fields.octets),
                to_crlf(&content).len() as u64,
                "octets of part {path:?}"
            );
            let lfs = content.iter().filter(|&&b| b == b'\n').count() as u64;
            match specific {
                SpecificFields::Text { lines } => assert_eq!(*lines, lfs, "lines of part {path:?}"),
                SpecificFields::Message { body, lines, .. } => {
                    assert_eq!(*lines, lfs, "lines of message {path:?}");
                    match &**body {
                        BodyStructure::Multipart { .. } => check_sizes(msg, body, path, paths),
                        single => below(path, 0, single, paths),
                    }
                }
                SpecificFields::Basic => {}
            }
        }
    }
}

fuzz_target!(|raw: &[u8]| {
    let msg = analyze(raw);
    // The preview is short, one line, and has no runs of whitespace.
    let preview = preview(&msg);
    assert!(preview.chars().count() <= PREVIEW_CHARS, "{preview:?}");
    assert!(
        !preview.contains("  ") && preview.trim() == preview && !preview.contains(['\r', '\n']),
        "{preview:?}"
    );
    walk(msg.part_tree(), 0, raw.len());

    let response = Response::Fetch {
        seq: NonZeroU32::MIN,
        items: vec![
            MessageDataItem::Envelope(Box::new(msg.envelope().clone())),
            MessageDataItem::Body(Box::new(msg.body())),
            MessageDataItem::BodyStructure(Box::new(msg.body_structure().clone())),
        ],
    };
    let wire = to_bytes(&response.encode());
    match decode_response(&wire, &DecoderConfig::default()) {
        Ok(Decoded::Complete { value, consumed }) => {
            assert_eq!(consumed, wire.len());
            assert_eq!(value, response, "{}", String::from_utf8_lossy(&wire));
        }
        other => panic!("{other:?} for {}", String::from_utf8_lossy(&wire)),
    }

    // A message that is not a multipart is its own part 1.
    let mut top = Vec::new();
    if matches!(msg.body_structure(), BodyStructure::Single { .. }) {
        top.push(NonZeroU32::MIN);
    }
    let mut paths = Vec::new();
    check_sizes(&msg, msg.body_structure(), &mut top, &mut paths);

    let limit = raw.len() * 2 + 2;
    let mut sections = vec![
        Section::new(None, None),
        Section::new(None, Some(SectionText::Header)),
        Section::new(None, Some(SectionText::Text)),
    ];
    let parts: Vec<SectionPart> = paths
        .iter()
        .take(16)
        .map(|path| SectionPart::new(path.clone()).expect("not empty"))
        .collect();
    for part in &parts {
        for text in [
            None,
            Some(SectionText::Header),
            Some(SectionText::Text),
            Some(SectionText::Mime),
        ] {
            sections.push(Section::new(Some(part.clone()), text));
        }
    }
    // BINARY[] and BINARY[part] decode where BINARY.SIZE is known, and
    // give as many octets as it says.
    for part in std::iter::once(None).chain(parts.iter().map(Some)) {
        match (decode_binary(&msg, part), binary_size(&msg, part)) {
            (Ok(content), Ok(size)) => {
                // Content that needs no decoding is the stored bytes, sent
                // with CRLF line ends as the sizes count them.
                let sent = if content.decoded {
                    content.data.len()
                } else {
                    to_crlf(&content.data).len()
                };
                assert_eq!(sent as u64, size, "BINARY.SIZE[{part:?}]");
            }
            (Err(_), Err(_)) => {}
            (content, size) => panic!(
                "BINARY[{part:?}] {:?} but BINARY.SIZE {size:?}",
                content.map(|c| c.data.len())
            ),
        }
    }
    for section in sections.into_iter().flatten() {
        if let Some(data) = extract_section(&msg, &section, None) {
            assert!(
                data.len() <= limit,
                "{section:?}: {} octets of {}",
                data.len(),
                raw.len()
            );
        }
    }
});

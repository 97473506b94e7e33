//! `BODY[section]<partial>` (RFC 3501 section 6.4.5, RFC 9051 section 6.4.5)
//! as slices of the message.
//!
//! Part numbers resolve as in Dovecot: in a multipart, `n` is its n-th part;
//! in any other part only `1` is allowed and means the part itself (so `1`
//! of a single-part message is its body, and `3.1` of a text part is that
//! part), and it may be followed by more numbers only when the part is a
//! message/rfc822, whose embedded message the rest then addresses. `HEADER`,
//! `TEXT` and `HEADER.FIELDS[.NOT]` need the message itself or a
//! message/rfc822 part; `MIME` is the header of the addressed part, which
//! for `1.MIME` of a single-part message is the message header.

use std::borrow::Cow;
use std::collections::HashSet;
use std::num::NonZeroU32;

use mailwire_imap::{Partial, Section, SectionText};

use super::MessageAnalysis;
use super::header::Fields;
use super::pieces::{Piece, assemble, push_copy};
use super::source::Source;
use super::structure::{Part, PartKind};

/// Cuts `data` to the range `<offset.length>` of a FETCH command (empty
/// when it starts past the end), or returns it as it is when the command
/// gave no range; borrowed data stays borrowed.
pub fn apply_partial<'a>(data: Cow<'a, [u8]>, partial: Option<&Partial>) -> Cow<'a, [u8]> {
    let Some(partial) = partial else {
        return data;
    };
    let start = usize::try_from(partial.offset())
        .unwrap_or(usize::MAX)
        .min(data.len());
    let length = usize::try_from(partial.length().get()).unwrap_or(usize::MAX);
    let end = start.saturating_add(length).min(data.len());
    match data {
        Cow::Borrowed(b) => Cow::Borrowed(&b[start..end]),
        Cow::Owned(mut v) => {
            v.truncate(end);
            v.drain(..start);
            Cow::Owned(v)
        }
    }
}

/// Finds the part that a part number addresses (Dovecot's rules, see the
/// module documentation). An empty path is the message's root part.
pub fn find_part<'b>(root: &'b Part, path: &[NonZeroU32]) -> Option<&'b Part> {
    let mut node = root;
    for (i, n) in path.iter().enumerate() {
        let n = n.get();
        let more = i + 1 < path.len();
        node = match &node.kind {
            PartKind::Multipart(parts) => parts.get(usize::try_from(n).ok()?.checked_sub(1)?)?,
            PartKind::Message(_) if n == 1 => node,
            _ if n == 1 && !more => node,
            _ => return None,
        };
        if more {
            if let PartKind::Message(body) = &node.kind {
                node = body;
            }
        }
    }
    Some(node)
}

/// The message that HEADER / TEXT address: the root for an empty path, the
/// embedded message of a message/rfc822 part otherwise.
fn message_of<'b>(root: &'b Part, path: &[NonZeroU32]) -> Option<&'b Part> {
    if path.is_empty() {
        return Some(root);
    }
    match &find_part(root, path)?.kind {
        PartKind::Message(body) => Some(body),
        _ => None,
    }
}

/// Returns the content of `BODY[section]<partial>`, or `None` when the
/// section does not exist (Dovecot then sends an empty string).
///
/// Everything but `HEADER.FIELDS[.NOT]` is a slice of the message.
/// `HEADER.FIELDS` copies the matching fields whole (folding included), in
/// message order, and ends with the blank line. Slices are the stored
/// bytes: a message stored with bare LF line ends needs [`to_crlf`] before
/// it is sent, as the sizes in BODYSTRUCTURE count CRLF.
pub fn extract_section<'a>(
    msg: &MessageAnalysis<'a>,
    section: &Section<'_>,
    partial: Option<&Partial>,
) -> Option<Cow<'a, [u8]>> {
    let raw = msg.raw();
    let pieces = section_pieces(&raw, msg.part_tree(), section)?;
    // Sections decode nothing: putting them together cannot fail.
    let data = assemble(raw, &pieces).unwrap_or_default();
    Some(apply_partial(data, partial))
}

/// The pieces of `BODY[section]` of the message in `src` whose tree is
/// `root`; `None` when the section does not exist.
pub(crate) fn section_pieces<'a, S: Source<'a>>(
    src: &S,
    root: &Part,
    section: &Section<'_>,
) -> Option<Vec<Piece>> {
    let path = section.part().map_or(&[][..], |p| p.as_slice());
    let mut out = Vec::new();
    match section.text() {
        None if path.is_empty() => push_copy(&mut out, 0..src.len()),
        None => push_copy(&mut out, find_part(root, path)?.body_range()),
        Some(SectionText::Mime) if path.is_empty() => return None,
        Some(SectionText::Mime) => push_copy(&mut out, find_part(root, path)?.header_range()),
        Some(SectionText::Header) => {
            // A header cut short by a boundary line ends without its last
            // line break here, although that break counts in the part size
            // (what Dovecot does).
            let m = message_of(root, path)?;
            let mut r = m.header_range();
            if m.header_cut {
                r.end -= src.break_before(r.end).min(r.len());
            }
            push_copy(&mut out, r);
        }
        Some(SectionText::Text) => push_copy(&mut out, message_of(root, path)?.body_range()),
        Some(SectionText::HeaderFields(names)) => out.push(Piece::Insert(header_fields(
            src,
            message_of(root, path)?,
            names.names().iter().map(|n| n.as_bytes()),
            true,
        ))),
        Some(SectionText::HeaderFieldsNot(names)) => out.push(Piece::Insert(header_fields(
            src,
            message_of(root, path)?,
            names.names().iter().map(|n| n.as_bytes()),
            false,
        ))),
    }
    Some(out)
}

/// With more names than this, [`header_fields`] looks them up in a set.
const LOOKUP_FROM: usize = 8;

fn header_fields<'a, 'n, S: Source<'a>>(
    src: &S,
    msg: &Part,
    names: impl Iterator<Item = &'n [u8]> + Clone,
    wanted: bool,
) -> Vec<u8> {
    let header = src.bytes(msg.header_start, msg.body_start);
    // A long list is looked up, not read through at every field: a header
    // of many fields asked for many names cost their product.
    let set: Option<HashSet<Vec<u8>>> = (names.clone().nth(LOOKUP_FROM).is_some())
        .then(|| names.clone().map(<[u8]>::to_ascii_lowercase).collect());
    let mut out = Vec::new();
    for f in Fields::new(&header, 0, header.len()) {
        let named = match &set {
            Some(set) => set.contains(&f.name.to_ascii_lowercase()),
            None => names.clone().any(|n| n.eq_ignore_ascii_case(f.name)),
        };
        if named != wanted {
            continue;
        }
        let bytes = header.get(f.start..f.end).unwrap_or_default();
        out.extend_from_slice(bytes);
        if !bytes.ends_with(b"\n") {
            out.extend_from_slice(b"\r\n");
        }
    }
    // The blank line ends the result when the header has one (RFC 3501)
    // and, as Dovecot does, whenever a field was selected.
    let has_blank_line = matches!(
        &*header,
        [b'\n'] | [b'\r', b'\n'] | [.., b'\n', b'\n'] | [.., b'\n', b'\r', b'\n']
    );
    if has_blank_line || !out.is_empty() {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Turns every bare LF into CRLF (borrowed when there is none).
pub fn to_crlf(data: &[u8]) -> Cow<'_, [u8]> {
    match crate::content::crlf_converted(data) {
        Some(converted) => Cow::Owned(converted),
        None => Cow::Borrowed(data),
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU64;

    use mailwire_imap::{AString, HeaderList, SectionPart};

    use super::super::analyze;
    use super::*;

    const MSG: &[u8] = b"Subject: s\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\none\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\ninner body\r\n--b--\r\n";

    fn get(part: &[u32], text: Option<SectionText<'_>>) -> Option<Vec<u8>> {
        let msg = analyze(MSG);
        let part: Option<Vec<NonZeroU32>> = part.iter().map(|&n| NonZeroU32::new(n)).collect();
        // 0 is no part number (nz-number): no section has it.
        let part = part?;
        let part = if part.is_empty() {
            None
        } else {
            SectionPart::new(part).ok()
        };
        let section = Section::new(part, text).ok()?;
        extract_section(&msg, &section, None).map(Cow::into_owned)
    }

    fn names(names: &[&'static str]) -> HeaderList<'static> {
        HeaderList::new(names.iter().map(|n| AString::try_from(*n).unwrap()).collect()).unwrap()
    }

    #[test]
    fn parts_and_nested_messages() {
        assert_eq!(get(&[1], None).as_deref(), Some(&b"one"[..]));
        assert_eq!(
            get(&[2], None).as_deref(),
            Some(&b"Subject: inner\r\n\r\ninner body"[..])
        );
        assert_eq!(
            get(&[2], Some(SectionText::Header)).as_deref(),
            Some(&b"Subject: inner\r\n\r\n"[..])
        );
        assert_eq!(
            get(&[2], Some(SectionText::Text)).as_deref(),
            Some(&b"inner body"[..])
        );
        assert_eq!(get(&[2, 1], None).as_deref(), Some(&b"inner body"[..]));
        assert_eq!(get(&[1, 1], None).as_deref(), Some(&b"one"[..]));
        assert_eq!(get(&[1, 1, 1], None), None);
        assert_eq!(get(&[3], None), None);
        assert_eq!(get(&[0], None), None);
        assert_eq!(get(&[1], Some(SectionText::Header)), None);
        assert_eq!(get(&[], Some(SectionText::Mime)), None);
        assert_eq!(get(&[1], Some(SectionText::Mime)).as_deref(), Some(&b"\r\n"[..]));
    }

    #[test]
    fn header_fields_keep_order_and_end_with_blank_line() {
        let got = get(
            &[],
            Some(SectionText::HeaderFields(names(&["content-type", "SUBJECT"]))),
        );
        assert_eq!(
            got.as_deref(),
            Some(&b"Subject: s\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"[..])
        );
        let got = get(
            &[],
            Some(SectionText::HeaderFieldsNot(names(&["content-type", "SUBJECT"]))),
        );
        assert_eq!(got.as_deref(), Some(&b"\r\n"[..]));
    }

    #[test]
    fn long_name_lists_are_looked_up() {
        // Nine names or more go through the set: the same answers as the
        // list read through, case and repeats ignored.
        let mut long = vec!["X-A", "subject", "SUBJECT", "x-b", "x-c", "x-d", "x-e", "x-f"];
        assert_eq!(long.len(), LOOKUP_FROM);
        for extra in [None, Some("Content-TYPE")] {
            long.extend(extra);
            let got = get(&[], Some(SectionText::HeaderFields(names(&long))));
            let want: &[u8] = match extra {
                None => b"Subject: s\r\n\r\n",
                Some(_) => b"Subject: s\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n",
            };
            assert_eq!(got.as_deref(), Some(want));
            let got = get(&[], Some(SectionText::HeaderFieldsNot(names(&long))));
            let want: &[u8] = match extra {
                None => b"Content-Type: multipart/mixed; boundary=b\r\n\r\n",
                Some(_) => b"\r\n",
            };
            assert_eq!(got.as_deref(), Some(want));
        }
        // 40,000 fields asked for 20,000 names: 8 * 10^8 comparisons
        // before.
        let mut msg = "a: 1\r\n".repeat(40_000);
        msg.push_str("B: 2\r\n\r\nbody");
        let list: Vec<String> = (0..20_000).map(|i| format!("n{i}")).chain(["b".into()]).collect();
        let list = HeaderList::new(
            list.iter()
                .map(|n| AString::try_from(n.as_str()).unwrap())
                .collect(),
        )
        .unwrap();
        let section = Section::new(None, Some(SectionText::HeaderFields(list))).unwrap();
        let got = extract_section(&analyze(msg.as_bytes()), &section, None).map(Cow::into_owned);
        assert_eq!(got.as_deref(), Some(&b"B: 2\r\n\r\n"[..]));
    }

    fn partial(offset: u64, length: u64) -> Partial {
        Partial::new(offset, NonZeroU64::new(length).unwrap()).unwrap()
    }

    #[test]
    fn partial_ranges() {
        let p = partial(2, 3);
        assert_eq!(&*apply_partial(Cow::Borrowed(b"abcdef"), Some(&p)), b"cde");
        assert_eq!(&*apply_partial(Cow::Owned(b"abcdef".to_vec()), Some(&p)), b"cde");
        assert_eq!(&*apply_partial(Cow::Borrowed(b"abc"), Some(&partial(9, 3))), b"");
        assert_eq!(
            &*apply_partial(Cow::Borrowed(b"abc"), Some(&partial(1, i64::MAX as u64))),
            b"bc"
        );
        assert_eq!(
            &*apply_partial(Cow::Borrowed(b"abc"), Some(&partial(i64::MAX as u64, 1))),
            b""
        );
        let owned = apply_partial(Cow::Owned(b"abc".to_vec()), None);
        assert!(matches!(owned, Cow::Owned(ref v) if v == b"abc"));
        let borrowed = apply_partial(Cow::Borrowed(b"abc"), None);
        assert!(matches!(borrowed, Cow::Borrowed(b"abc")));
    }

    #[test]
    fn crlf_conversion() {
        assert!(matches!(to_crlf(b"a\r\nb"), Cow::Borrowed(_)));
        assert_eq!(&*to_crlf(b"\na\nb\r\n"), b"\r\na\r\nb\r\n");
    }
}

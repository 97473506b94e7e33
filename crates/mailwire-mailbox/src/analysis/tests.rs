//! Whole-analysis tests: limits, hostile input, sizes and invariants.

use std::borrow::Cow;
use std::num::{NonZeroU32, NonZeroU64};

use mailwire_imap::{AString, HeaderList, IString, SpecificFields};

use super::*;

fn depth(b: &Part) -> usize {
    // Iterative, so that a bug producing a deep tree fails the assertion
    // rather than the test's stack.
    let mut max = 0;
    let mut todo = vec![(b, 1usize)];
    while let Some((node, d)) = todo.pop() {
        max = max.max(d);
        todo.extend(node.children().iter().map(|p| (p, d + 1)));
    }
    max
}

fn count_parts(b: &Part) -> usize {
    let mut n = 0;
    let mut todo = vec![b];
    while let Some(node) = todo.pop() {
        n += 1;
        todo.extend(node.children());
    }
    n
}

/// Offsets are ordered and nested, sizes and line counts are consistent,
/// and the part tree and the body structure have the same shape.
fn check_invariants(raw: &[u8], msg: &MessageAnalysis<'_>) {
    let mut todo = vec![(msg.part_tree(), msg.body_structure())];
    while let Some((node, body)) = todo.pop() {
        assert!(node.header_start <= node.body_start, "header before body");
        assert!(
            node.body_start <= node.end && node.end <= raw.len(),
            "body inside message"
        );
        let len = (node.end - node.body_start) as u64;
        assert!(node.size >= len && node.size <= 2 * len, "size counts CRLF");
        let kids: Vec<(&Part, &BodyStructure<'_>)> = match (&node.kind, body) {
            (PartKind::Multipart(parts), BodyStructure::Multipart { parts: bodies, .. }) => {
                if parts.is_empty() {
                    // Dovecot's empty text/plain stands for no part.
                    assert_eq!(bodies.len(), 1);
                } else {
                    assert_eq!(parts.len(), bodies.len(), "same parts");
                }
                parts.iter().zip(bodies).collect()
            }
            (
                PartKind::Message(inner),
                BodyStructure::Single {
                    fields,
                    specific: SpecificFields::Message { body, lines, .. },
                    ..
                },
            ) => {
                assert_eq!(u64::from(fields.octets), node.size);
                assert!(*lines <= len);
                vec![(&**inner, &**body)]
            }
            (PartKind::Leaf, BodyStructure::Single { fields, specific, .. }) => {
                assert_eq!(u64::from(fields.octets), node.size);
                if let SpecificFields::Text { lines } = specific {
                    assert!(*lines <= len);
                }
                assert!(!matches!(specific, SpecificFields::Message { .. }));
                Vec::new()
            }
            (kind, body) => panic!("shapes differ: {kind:?} and {body:?}"),
        };
        let mut pos = node.body_start;
        for (k, b) in kids {
            assert!(k.header_start >= pos, "children in order, inside the parent body");
            assert!(k.end <= node.end);
            pos = k.end;
            todo.push((k, b));
        }
    }
}

fn fields<'b, 'a>(b: &'b BodyStructure<'a>) -> &'b BodyFields<'a> {
    match b {
        BodyStructure::Single { fields, .. } => fields,
        BodyStructure::Multipart { .. } => panic!("a single part"),
    }
}

fn path(p: &[u32]) -> Option<SectionPart> {
    SectionPart::new(p.iter().map(|&n| NonZeroU32::new(n).unwrap()).collect()).ok()
}

#[test]
fn deep_multipart_nesting_is_cut_at_the_limit() {
    let mut raw = Vec::new();
    for i in 0..5000 {
        raw.extend_from_slice(
            format!("Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n").as_bytes(),
        );
    }
    raw.extend_from_slice(b"\r\nleaf\r\n");
    let msg = analyze(&raw);
    assert_eq!(depth(msg.part_tree()), 101);
    check_invariants(&raw, &msg);
    let shallow = analyze_with(
        &raw,
        &AnalysisOptions {
            max_depth: 3,
            ..AnalysisOptions::default()
        },
    );
    assert_eq!(depth(shallow.part_tree()), 4);
}

#[test]
fn deep_message_nesting_is_cut_at_the_limit() {
    let raw = b"Content-Type: message/rfc822\r\n\r\n".repeat(20_000);
    let msg = analyze(&raw);
    // 100 message/rfc822 parts parsed (each the embedded message of the one
    // before), then one too deep with its empty stub message.
    assert_eq!(depth(msg.part_tree()), 102);
    check_invariants(&raw, &msg);
    let huge = AnalysisOptions {
        max_depth: usize::MAX,
        ..AnalysisOptions::default()
    };
    assert_eq!(
        depth(analyze_with(&raw, &huge).part_tree()),
        AnalysisOptions::MAX_DEPTH + 2
    );
}

#[test]
fn part_count_is_limited() {
    let mut raw = b"Content-Type: multipart/mixed; boundary=x\r\n\r\n".to_vec();
    raw.extend_from_slice(&b"--x\r\n\r\np\r\n".repeat(30_000));
    let msg = analyze(&raw);
    assert_eq!(count_parts(msg.part_tree()), 10_000);
    let small = analyze_with(
        &raw,
        &AnalysisOptions {
            max_parts: 50,
            ..AnalysisOptions::default()
        },
    );
    assert_eq!(count_parts(small.part_tree()), 50);
    check_invariants(&raw, &small);
}

#[test]
fn huge_headers_are_linear() {
    // Quadratic work on any of these would not finish in test time.
    let mut raw = b"To: ".to_vec();
    raw.extend_from_slice(&b"a@b,\r\n ".repeat(200_000));
    raw.extend_from_slice(b"x@y\r\nSubject: ");
    raw.extend_from_slice(&b"  w\r\n\t".repeat(200_000));
    raw.extend_from_slice(b"\r\nContent-Type: text/plain");
    raw.extend_from_slice(&b"; p*1=v".repeat(100_000));
    raw.extend_from_slice(b"\r\n\r\nbody\r\n");
    let msg = analyze(&raw);
    assert_eq!(msg.envelope().to.len(), 200_001);
    assert_eq!(
        msg.envelope().subject.as_bytes().map(<[u8]>::len),
        Some(200_000 * 2 - 1)
    );
    assert_eq!(fields(msg.body_structure()).params.len(), 100_001);
}

#[test]
fn bare_lf_sizes() {
    let raw = b"Subject: x\n\na\nb\n";
    let msg = analyze(raw);
    assert_eq!(msg.size(), raw.len() as u64 + 4);
    assert_eq!(fields(msg.body_structure()).octets, 6);
    assert_eq!(msg.part_tree().size, 6);
    assert!(matches!(
        msg.body_structure(),
        BodyStructure::Single {
            specific: SpecificFields::Text { lines: 2 },
            ..
        }
    ));
    let plain = analyze_with(
        raw,
        &AnalysisOptions {
            count_lf_as_crlf: false,
            ..AnalysisOptions::default()
        },
    );
    assert_eq!(plain.size(), raw.len() as u64);
    assert_eq!(fields(plain.body_structure()).octets, 4);
}

#[test]
fn owned_structure_is_equal() {
    let raw = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/corpus/04-nested-rfc822.eml"
    ));
    let raw = raw.unwrap_or_default();
    let msg = analyze(&raw);
    let owned: BodyStructure<'static> = msg.body_structure().clone().into_owned();
    assert_eq!(&owned, msg.body_structure());
    assert!(matches!(owned, BodyStructure::Multipart { ref parts, .. } if parts.len() == 2));
    let body = msg.body();
    assert!(matches!(body, BodyStructure::Multipart { extension: None, .. }));
}

#[test]
fn empty_message_is_an_empty_text_part() {
    let msg = analyze(b"");
    let BodyStructure::Single {
        media_type,
        media_subtype,
        fields,
        ..
    } = msg.body_structure()
    else {
        panic!("a single part");
    };
    assert_eq!(
        (media_type.as_bytes(), media_subtype.as_bytes()),
        (&b"text"[..], &b"plain"[..])
    );
    assert_eq!(fields.octets, 0);
    assert_eq!(fields.encoding.as_bytes(), b"7bit");
    assert_eq!(fields.params.len(), 1);
    let e = msg.envelope();
    assert!(e.date.0.is_none() && e.subject.0.is_none() && e.message_id.0.is_none());
    assert!(e.from.is_empty() && e.sender.is_empty() && e.to.is_empty());
}

#[test]
fn structure_borrows_from_the_message() {
    let raw = b"Content-Type: Text/Plain; charset=\"utf-8\"\r\nContent-ID: <a@b>\r\n\r\nx";
    let msg = analyze(raw);
    let BodyStructure::Single {
        media_type, fields, ..
    } = msg.body_structure()
    else {
        panic!("a single part");
    };
    let borrowed = |s: &IString<'_>| matches!(s.clone().into_bytes(), Cow::Borrowed(_));
    assert!(borrowed(media_type) && media_type.as_bytes() == b"Text");
    assert!(borrowed(&fields.params[0].value) && fields.params[0].value.as_bytes() == b"utf-8");
    assert!(fields.id.0.as_ref().is_some_and(borrowed));
    assert_eq!(fields.id.as_bytes(), Some(&b"<a@b>"[..]));
}

/// A small xorshift generator: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const PIECES: &[&[u8]] = &[
    b"\r\n",
    b"\n",
    b"\r",
    b"--b",
    b"--b--",
    b"--c",
    b"Content-Type: multipart/mixed; boundary=b\r\n",
    b"Content-Type: multipart/digest; boundary=\"c\"\r\n",
    b"Content-Type: message/rfc822\r\n",
    b"Content-Transfer-Encoding: base64\r\n",
    b"Content-Transfer-Encoding: quoted-printable\r\n",
    b"Content-Disposition: attachment; f*0*=a; f*1=b\r\n",
    b"From: \"a\\\" b\" <x@y>, g: c@d;\r\n",
    b"Subject: =?utf-8?q?x?=\r\n",
    b" folded",
    b"text",
    b"QUJD",
    b"=3D=\r\n",
    b"\"",
    b"(",
    b")",
    b"<",
    b"@",
    b";",
    b":",
    b"\0",
    b"\xff",
];

#[test]
fn random_messages_do_not_panic_and_stay_consistent() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..3000 {
        let mut raw = Vec::new();
        for _ in 0..rng.below(60) {
            raw.extend_from_slice(PIECES[rng.below(PIECES.len())]);
        }
        let msg = analyze(&raw);
        check_invariants(&raw, &msg);
        assert!(msg.size() >= raw.len() as u64);
        let partial = Partial::new(3, NonZeroU64::new(7).unwrap()).unwrap();
        for p in [&[][..], &[1], &[2], &[1, 1], &[2, 1], &[1, 2, 1], &[3, 1, 1]] {
            for text in [
                None,
                Some(SectionText::Header),
                Some(SectionText::Text),
                Some(SectionText::Mime),
            ] {
                let Ok(s) = Section::new(path(p), text) else {
                    continue;
                };
                // A partial range takes its octets of the whole section.
                let whole = extract_section(&msg, &s, None).map(Cow::into_owned);
                let part = extract_section(&msg, &s, Some(&partial)).map(Cow::into_owned);
                let cut = whole.map(|w| apply_partial(Cow::Owned(w), Some(&partial)).into_owned());
                assert_eq!(part, cut, "{s:?}");
            }
            let from = HeaderList::new(vec![AString::try_from("from").unwrap()]).unwrap();
            let fields = Section::new(path(p), Some(SectionText::HeaderFields(from))).unwrap();
            // HEADER.FIELDS (FROM): From fields and their folded lines only.
            if let Some(d) = extract_section(&msg, &fields, None) {
                for line in d.split(|&b| b == b'\n') {
                    let line = line.strip_suffix(b"\r").unwrap_or(line);
                    assert!(
                        line.is_empty()
                            || line.get(..4).is_some_and(|n| n.eq_ignore_ascii_case(b"from"))
                            || line.starts_with(b" ")
                            || line.starts_with(b"\t"),
                        "{p:?}: {:?}",
                        String::from_utf8_lossy(&d)
                    );
                }
            }
            // BINARY and BINARY.SIZE succeed or fail together, and agree.
            match (
                decode_binary(&msg, path(p).as_ref()),
                binary_size(&msg, path(p).as_ref()),
            ) {
                (Ok(b), Ok(size)) => {
                    let sent = if b.decoded {
                        b.data.len()
                    } else {
                        assert!(matches!(b.data, Cow::Borrowed(_)));
                        to_crlf(&b.data).len()
                    };
                    assert_eq!(sent as u64, size, "{p:?}");
                }
                (Err(_), Err(_)) => {}
                (b, size) => panic!(
                    "{p:?}: BINARY {:?}, BINARY.SIZE {size:?}",
                    b.map(|b| b.data.len())
                ),
            }
        }
    }
}

/// What a [`Content`] reads, measured first; a read error as its kind.
fn read_content(mut c: Content) -> Result<Vec<u8>, std::io::ErrorKind> {
    use std::io::Read;
    let measured = c.measure().map_err(|e| e.kind())?;
    assert_eq!(c.length().map_err(|e| e.kind())?, measured.len, "length");
    let mut out = Vec::new();
    // Small reads, to cross every boundary of the content's blocks.
    let mut buf = [0u8; 1000];
    loop {
        let n = c.read(&mut buf).map_err(|e| e.kind())?;
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    assert_eq!(measured.len, out.len() as u64, "measured length");
    assert_eq!(measured.nul, out.contains(&0), "measured NUL");
    Ok(out)
}

/// A message read from a file answers as the whole analysis of the same
/// message with CRLF line ends: structure, sections and BINARY sections,
/// with and without a partial range; so does the same file opened again
/// with the first analysis's layout.
fn stored_matches_whole(raw: &[u8]) {
    use std::io::Write;
    let crlf = to_crlf(raw).into_owned();
    let whole = analyze(&crlf);
    let mut file = tempfile::tempfile().expect("a temporary file");
    file.write_all(raw).expect("written");
    let len = raw.len() as u64;
    let opened = StoredMessage::open(file.try_clone().expect("a handle"), len).expect("analysed");
    let layout = opened.layout();
    // The top header alone, as a search reads it, is the root's header.
    let root = opened.part_tree();
    let header = opened
        .read_range(root.header_start..root.body_start)
        .expect("read");
    let mut handle = file.try_clone().expect("a handle");
    std::io::Seek::rewind(&mut handle).expect("rewound");
    let top = super::header::top_header(std::io::Read::take(handle, len), 1 << 20).expect("read");
    assert_eq!(to_crlf(&top), header, "top header");
    assert!(StoredMessage::reopen(file.try_clone().expect("a handle"), len + 1, &layout).is_err());
    let reopened = StoredMessage::reopen(file, len, &layout).expect("opened again");
    for stored in [&opened, &reopened] {
        assert_eq!(stored.envelope(), whole.envelope());
        assert_eq!(stored.body_structure(), whole.body_structure());
        assert_eq!(stored.part_tree(), whole.part_tree());
        assert_eq!(stored.size(), whole.size());
        assert_eq!(stored.preview().expect("no read error"), preview(&whole));
        let partials = [
            None,
            Some(Partial::new(3, NonZeroU64::new(70_000).unwrap()).unwrap()),
        ];
        let from = HeaderList::new(vec![AString::try_from("from").unwrap()]).unwrap();
        for p in [&[][..], &[1], &[2], &[1, 1], &[2, 1], &[1, 2, 1], &[3, 1, 1]] {
            let texts = [
                None,
                Some(SectionText::Header),
                Some(SectionText::Text),
                Some(SectionText::Mime),
                Some(SectionText::HeaderFieldsNot(from.clone())),
            ];
            for partial in &partials {
                for text in texts.clone() {
                    let Ok(s) = Section::new(path(p), text) else {
                        continue;
                    };
                    let expected = extract_section(&whole, &s, partial.as_ref()).map(Cow::into_owned);
                    let got = stored
                        .section(&s, partial.as_ref())
                        .expect("no read error")
                        .map(|c| read_content(c).expect("a section reads"));
                    assert!(
                        got == expected,
                        "section {s:?} {partial:?}: {:?} octets against {:?}",
                        got.as_ref().map(Vec::len),
                        expected.as_ref().map(Vec::len)
                    );
                }
                let expected = decode_binary(&whole, path(p).as_ref())
                    .map(|b| (apply_partial(b.data, partial.as_ref()).into_owned(), b.decoded));
                match stored
                    .binary(path(p).as_ref(), partial.as_ref())
                    .expect("no read error")
                {
                    Err(e) => assert_eq!(Err(e), expected.map(|_| ()), "binary {p:?}"),
                    Ok(c) => {
                        let decoded = c.decoded();
                        match (read_content(c), expected) {
                            (Ok(data), Ok(want)) => assert!(
                                (&data, decoded) == (&want.0, want.1),
                                "binary {p:?}: {} octets against {}",
                                data.len(),
                                want.0.len()
                            ),
                            (Err(kind), Err(BinaryError::InvalidContent)) => {
                                assert_eq!(kind, std::io::ErrorKind::InvalidData)
                            }
                            (got, want) => panic!(
                                "binary {p:?}: {:?} against {:?}",
                                got.map(|d| d.len()),
                                want.map(|w| w.0.len())
                            ),
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn stored_messages_answer_as_whole_ones() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    for round in 0..600 {
        let mut raw = Vec::new();
        for _ in 0..rng.below(60) {
            raw.extend_from_slice(PIECES[rng.below(PIECES.len())]);
            // Large pieces in some rounds, so that pages, blocks and the
            // partial range are crossed.
            if round % 40 == 0 && rng.below(4) == 0 {
                let filler: &[u8] = [&b"QUJD"[..], b"=3D=\r\n", b"text\r\n", b"\n"][rng.below(4)];
                for _ in 0..rng.below(40_000) {
                    raw.extend_from_slice(filler);
                }
            }
        }
        if rng.below(2) == 0 {
            // Bare LF line ends, as Dovecot stores messages.
            raw.retain(|&b| b != b'\r');
        }
        stored_matches_whole(&raw);
    }
}

#[test]
fn a_stored_message_with_a_huge_header_is_refused() {
    use std::io::Write;
    let mut raw = b"Subject: x\r\n".to_vec();
    raw.extend(std::iter::repeat_n(b"X-Pad: 0123456789\r\n", 70_000).flatten());
    raw.extend_from_slice(b"\r\nbody\r\n");
    let mut file = tempfile::tempfile().expect("a temporary file");
    file.write_all(&raw).expect("written");
    let err = StoredMessage::open(file, raw.len() as u64).expect_err("a 1.3 MB header");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
}

#[test]
fn a_stored_message_whose_header_blocks_add_up_is_refused() {
    use std::io::Write;
    // 1,700 parts with a 10 KB header each: every block is small, together
    // they are above the 16 MiB an analysis in a file keeps.
    let pad = "x".repeat(10_000);
    let mut raw = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n".to_vec();
    for _ in 0..1_700 {
        raw.extend_from_slice(format!("--b\r\nX-Pad: {pad}\r\n\r\nbody\r\n").as_bytes());
    }
    raw.extend_from_slice(b"--b--\r\n");
    let mut file = tempfile::tempfile().expect("a temporary file");
    file.write_all(&raw).expect("written");
    let err = StoredMessage::open(file, raw.len() as u64).expect_err("17 MB of headers");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    // Fewer of them are kept.
    let small = &raw[..raw.len() / 2];
    let mut file = tempfile::tempfile().expect("a temporary file");
    file.write_all(small).expect("written");
    let stored = StoredMessage::open(file, small.len() as u64).expect("half of them");
    assert_eq!(stored.part_tree(), analyze(&to_crlf(small)).part_tree());
}

#[test]
fn a_long_boundary_is_cut_and_its_lines_cost_linear_time() {
    use std::io::Write;
    // A 500,000-octet boundary, and 200,000 lines starting with `--`: each
    // such line was compared with the whole boundary, read from the file
    // (some 10^11 octets copied); the boundary is now its first 80 octets,
    // as Dovecot has it.
    let cut = "A".repeat(MAX_BOUNDARY);
    let mut raw = format!(
        "Content-Type: multipart/mixed; boundary=\"{}\"\r\n\r\n--{cut}\r\n\r\nfirst\r\n",
        "A".repeat(500_000)
    )
    .into_bytes();
    raw.extend(std::iter::repeat_n(b"--\r\n", 200_000).flatten());
    raw.extend_from_slice(
        format!("--{cut}B\r\nContent-Type: text/html\r\n\r\nsecond\r\n--{cut}--\r\n").as_bytes(),
    );
    let whole = analyze(&raw);
    assert_eq!(whole.part_tree().children().len(), 2);
    let mut file = tempfile::tempfile().expect("a temporary file");
    file.write_all(&raw).expect("written");
    let stored = StoredMessage::open(file, raw.len() as u64).expect("analysed");
    assert_eq!(stored.part_tree(), whole.part_tree());
    assert_eq!(stored.body_structure(), whole.body_structure());
    let second = &whole.part_tree().children()[1];
    assert_eq!(&raw[second.body_range()], b"second");
}

#[test]
fn a_boundary_folded_inside_its_quotes_is_unfolded() {
    // The folding's CRLF stayed in the boundary, which then matched no
    // line: a multipart without parts.
    let raw = b"Content-Type: multipart/mixed; boundary=\"==part\r\n boundary==\"\r\n\r\n\
--==part boundary==\r\nContent-Type: text/plain;\r\n name=\"a\r\n\tb.txt\"\r\n\r\nhello\r\n--==part boundary==--\r\n";
    let msg = analyze(raw);
    let parts = msg.part_tree().children();
    assert_eq!(parts.len(), 1);
    assert_eq!(&raw[parts[0].body_range()], b"hello");
    let BodyStructure::Multipart { parts, .. } = msg.body_structure() else {
        panic!("a multipart");
    };
    assert_eq!(fields(&parts[0]).param("name"), Some(&b"a\tb.txt"[..]));
}

#[test]
fn the_first_of_repeated_content_headers_counts() {
    // The last counted: a filter reading the first saw a text part where
    // IMAP clients saw a multipart with an attachment.
    let raw = b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\
Content-Type: multipart/mixed; boundary=x\r\nContent-Transfer-Encoding: base64\r\n\r\n\
--x\r\nContent-Type: application/octet-stream\r\n\r\nAAAA\r\n--x--\r\n";
    let msg = analyze(raw);
    assert!(msg.part_tree().children().is_empty());
    let BodyStructure::Single { media_type, .. } = msg.body_structure() else {
        panic!("a single part");
    };
    assert_eq!(media_type.as_bytes(), b"text");
    assert_eq!(fields(msg.body_structure()).encoding.as_bytes(), b"8bit");
}

#[test]
fn a_repeated_header_dovecot_could_not_use_gives_way() {
    // Where Dovecot takes nothing from the first (a transfer encoding not
    // one token, a disposition without parameters, a language without a
    // tag), the next one counts.
    let raw = b"Content-Transfer-Encoding: base64 junk\r\nContent-Transfer-Encoding: quoted-printable\r\n\
Content-Disposition: inline\r\nContent-Disposition: attachment; filename=b.txt\r\n\
Content-Disposition: inline; filename=c.txt\r\nContent-Language: ()\r\nContent-Language: en\r\n\
Content-Language: de\r\n\r\nbody\r\n";
    let msg = analyze(raw);
    let body = msg.body_structure();
    assert_eq!(fields(body).encoding.as_bytes(), b"quoted-printable");
    let disposition = body.disposition().expect("a disposition");
    assert_eq!(disposition.kind.as_bytes(), b"attachment");
    assert_eq!(disposition.param("filename"), Some(&b"b.txt"[..]));
    match body.language().expect("a language") {
        mailwire_imap::Language::List(tags) => {
            assert_eq!(tags.iter().map(IString::as_bytes).collect::<Vec<_>>(), [b"en"]);
        }
        other => panic!("{other:?}"),
    }
}

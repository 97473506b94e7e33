//! Whole-analysis tests: limits, hostile input, sizes and invariants.

use std::borrow::Cow;

use super::*;

fn depth(b: &BodyStructure<'_>) -> usize {
    // Iterative, so that a bug producing a deep tree fails the assertion
    // rather than the test's stack.
    let mut max = 0;
    let mut todo = vec![(b, 1usize)];
    while let Some((node, d)) = todo.pop() {
        max = max.max(d);
        match &node.kind {
            BodyKind::Multipart { parts } => todo.extend(parts.iter().map(|p| (p, d + 1))),
            BodyKind::Message { body, .. } => todo.push((body, d + 1)),
            _ => {}
        }
    }
    max
}

fn count_parts(b: &BodyStructure<'_>) -> usize {
    let mut n = 0;
    let mut todo = vec![b];
    while let Some(node) = todo.pop() {
        n += 1;
        match &node.kind {
            BodyKind::Multipart { parts } => todo.extend(parts.iter()),
            BodyKind::Message { body, .. } => todo.push(body),
            _ => {}
        }
    }
    n
}

/// Offsets are ordered and nested, sizes and line counts are consistent.
fn check_invariants(raw: &[u8], b: &BodyStructure<'_>) {
    let mut todo = vec![b];
    while let Some(node) = todo.pop() {
        assert!(node.header_start <= node.body_start, "header before body");
        assert!(
            node.body_start <= node.end && node.end <= raw.len(),
            "body inside message"
        );
        let len = (node.end - node.body_start) as u64;
        assert!(
            node.fields.size >= len && node.fields.size <= 2 * len,
            "size counts CRLF"
        );
        if let BodyKind::Text { lines } | BodyKind::Message { lines, .. } = node.kind {
            assert!(lines <= len);
        }
        let kids: Vec<&BodyStructure<'_>> = match &node.kind {
            BodyKind::Multipart { parts } => parts.iter().collect(),
            BodyKind::Message { body, .. } => vec![&**body],
            _ => Vec::new(),
        };
        let mut pos = node.body_start;
        for k in kids {
            assert!(k.header_start >= pos, "children in order, inside the parent body");
            assert!(k.end <= node.end);
            pos = k.end;
            todo.push(k);
        }
    }
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
    assert_eq!(depth(msg.body_structure()), 101);
    check_invariants(&raw, msg.body_structure());
    let shallow = analyze_with(
        &raw,
        &AnalysisOptions {
            max_depth: 3,
            ..AnalysisOptions::default()
        },
    );
    assert_eq!(depth(shallow.body_structure()), 4);
}

#[test]
fn deep_message_nesting_is_cut_at_the_limit() {
    let raw = b"Content-Type: message/rfc822\r\n\r\n".repeat(20_000);
    let msg = analyze(&raw);
    // 100 message/rfc822 parts parsed (each the embedded message of the one
    // before), then one too deep with its empty stub message.
    assert_eq!(depth(msg.body_structure()), 102);
    check_invariants(&raw, msg.body_structure());
    let huge = AnalysisOptions {
        max_depth: usize::MAX,
        ..AnalysisOptions::default()
    };
    assert_eq!(
        depth(analyze_with(&raw, &huge).body_structure()),
        AnalysisOptions::MAX_DEPTH + 2
    );
}

#[test]
fn part_count_is_limited() {
    let mut raw = b"Content-Type: multipart/mixed; boundary=x\r\n\r\n".to_vec();
    raw.extend_from_slice(&b"--x\r\n\r\np\r\n".repeat(30_000));
    let msg = analyze(&raw);
    assert_eq!(count_parts(msg.body_structure()), 10_000);
    let small = analyze_with(
        &raw,
        &AnalysisOptions {
            max_parts: 50,
            ..AnalysisOptions::default()
        },
    );
    assert_eq!(count_parts(small.body_structure()), 50);
    check_invariants(&raw, small.body_structure());
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
        msg.envelope().subject.as_deref().map(<[u8]>::len),
        Some(200_000 * 2 - 1)
    );
    assert_eq!(msg.body_structure().fields.params.len(), 100_001);
}

#[test]
fn bare_lf_sizes() {
    let raw = b"Subject: x\n\na\nb\n";
    let msg = analyze(raw);
    assert_eq!(msg.size(), raw.len() as u64 + 4);
    assert_eq!(msg.body_structure().fields.size, 6);
    assert!(matches!(msg.body_structure().kind, BodyKind::Text { lines: 2 }));
    let plain = analyze_with(
        raw,
        &AnalysisOptions {
            count_lf_as_crlf: false,
            ..AnalysisOptions::default()
        },
    );
    assert_eq!(plain.size(), raw.len() as u64);
    assert_eq!(plain.body_structure().fields.size, 4);
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
    assert!(matches!(owned.kind, BodyKind::Multipart { ref parts } if parts.len() == 2));
}

#[test]
fn empty_message_is_an_empty_text_part() {
    let msg = analyze(b"");
    let b = msg.body_structure();
    assert_eq!((&*b.media_type, &*b.media_subtype), (&b"text"[..], &b"plain"[..]));
    assert_eq!(b.fields.size, 0);
    assert_eq!(&*b.fields.encoding, b"7bit");
    assert_eq!(b.fields.params.len(), 1);
    assert_eq!(msg.envelope(), &Envelope::default());
}

#[test]
fn structure_borrows_from_the_message() {
    let raw = b"Content-Type: Text/Plain; charset=\"utf-8\"\r\nContent-ID: <a@b>\r\n\r\nx";
    let msg = analyze(raw);
    let b = msg.body_structure();
    assert!(matches!(b.media_type, Cow::Borrowed(b"Text")));
    assert!(matches!(b.fields.params[0].value, Cow::Borrowed(b"utf-8")));
    assert!(matches!(b.fields.id, Some(Cow::Borrowed(b"<a@b>"))));
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
        check_invariants(&raw, msg.body_structure());
        assert!(msg.size() >= raw.len() as u64);
        for path in [&[][..], &[1], &[2], &[1, 1], &[2, 1], &[1, 2, 1], &[3, 1, 1]] {
            for text in [
                None,
                Some(SectionText::Header),
                Some(SectionText::Text),
                Some(SectionText::Mime),
            ] {
                let s = Section {
                    part: path.to_vec(),
                    text,
                };
                let _ = extract_section(&msg, &s, Some(Partial { origin: 3, count: 7 }));
            }
            let fields = Section {
                part: path.to_vec(),
                text: Some(SectionText::HeaderFields(vec![b"from"])),
            };
            let _ = extract_section(&msg, &fields, None);
            if let Ok(b) = decode_binary(&msg, path) {
                if !b.decoded {
                    assert!(matches!(b.data, Cow::Borrowed(_)));
                }
            }
            let _ = binary_size(&msg, path);
        }
    }
}

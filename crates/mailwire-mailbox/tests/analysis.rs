//! Compares the message analysis with what Dovecot 2.3.19 returned for the
//! same messages (tests/corpus/NAME.eml and NAME.expected, made by
//! tests/corpus/regenerate.py), byte for byte.
//!
//! The library returns neutral types; the small serializer below renders
//! them the way Dovecot writes IMAP: quoted strings unless a literal is
//! needed, a literal for a subject or display name that Dovecot rewrote or
//! that holds `"`, `\` or 8-bit octets, `~{n}` for decoded BINARY content.

use std::borrow::Cow;
use std::path::PathBuf;

use mailwire_mailbox::analysis::{
    Address, BinaryError, BodyKind, BodyStructure, Envelope, MessageAnalysis, Param, Partial, Section,
    SectionText, analyze, binary_size, decode_binary, extract_section, to_crlf,
};

/// Items where this crate deliberately differs from Dovecot, with the reason.
/// The test checks that they still differ, so a stale entry is noticed.
const DIFFERENCES: &[(&str, &str, &str)] = &[
    (
        "02-alternative",
        "BODY.PEEK[0]",
        "0 is not a valid part number (nz-number); Dovecot reads it as 1, this finds no part",
    ),
    (
        "05-encoded-words",
        "BINARY.PEEK[TEXT]",
        "RFC 3516 allows only part numbers in BINARY sections; Dovecot also accepts TEXT",
    ),
    (
        "14-rfc822-variants",
        "BINARY.SIZE[1]",
        "Dovecot reports 0 for a base64 message/rfc822 part although BINARY[1] sends 34 octets; \
         this reports the size of what decode_binary returns",
    ),
    (
        "17-unknown-cte",
        "BINARY.SIZE[1]",
        "Dovecot fails BINARY.SIZE of a 7bit part because a sibling part has an unknown encoding; \
         this answers for the part asked for",
    ),
    (
        "25-empty-and-defaults",
        "BINARY.SIZE[1]",
        "same as 17-unknown-cte: the unknown (empty) encoding is in part 2, not part 1",
    ),
];

// ---------------------------------------------------------------- serializer

fn needs_literal(s: &[u8]) -> bool {
    s.iter().any(|&b| b >= 0x80 || b == 0 || b == b'\r' || b == b'\n')
}

fn literal(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(format!("{{{}}}\r\n", s.len()).as_bytes());
    out.extend_from_slice(s);
}

fn quoted(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &b in s {
        if b == b'"' || b == b'\\' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'"');
}

/// A string as Dovecot's `imap_append_string` writes it.
fn string(out: &mut Vec<u8>, s: &[u8]) {
    if needs_literal(s) {
        literal(out, s)
    } else {
        quoted(out, s)
    }
}

fn nstring(out: &mut Vec<u8>, s: Option<&[u8]>) {
    match s {
        Some(s) => string(out, s),
        None => out.extend_from_slice(b"NIL"),
    }
}

/// A string "for humans" (subject, display name): Dovecot sends a literal
/// when it rewrote whitespace (`rewritten`) or when the string holds `"`,
/// `\`, NUL or 8-bit octets.
fn human(out: &mut Vec<u8>, s: Option<&Cow<'_, [u8]>>, rewritten: bool) {
    match s {
        None => out.extend_from_slice(b"NIL"),
        Some(s) if s.is_empty() => out.extend_from_slice(b"\"\""),
        Some(s) if rewritten || s.iter().any(|&b| b >= 0x80 || b == 0 || b == b'"' || b == b'\\') => {
            literal(out, s)
        }
        Some(s) => quoted(out, s),
    }
}

fn addresses(out: &mut Vec<u8>, list: &[Address<'_>]) {
    if list.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for a in list {
        out.push(b'(');
        human(out, a.name.as_ref(), false);
        out.push(b' ');
        nstring(out, a.adl.as_deref());
        out.push(b' ');
        nstring(out, a.mailbox.as_deref());
        out.push(b' ');
        nstring(out, a.host.as_deref());
        out.push(b')');
    }
    out.push(b')');
}

fn envelope(out: &mut Vec<u8>, e: &Envelope<'_>) {
    out.push(b'(');
    nstring(out, e.date.as_deref());
    out.push(b' ');
    human(out, e.subject.as_ref(), matches!(e.subject, Some(Cow::Owned(_))));
    for list in [&e.from, &e.sender, &e.reply_to, &e.to, &e.cc, &e.bcc] {
        out.push(b' ');
        addresses(out, list);
    }
    out.push(b' ');
    nstring(out, e.in_reply_to.as_deref());
    out.push(b' ');
    nstring(out, e.message_id.as_deref());
    out.push(b')');
}

fn params(out: &mut Vec<u8>, params: &[Param<'_>]) {
    if params.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for (i, p) in params.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        string(out, &p.name);
        out.push(b' ');
        string(out, &p.value);
    }
    out.push(b')');
}

fn extension(out: &mut Vec<u8>, b: &BodyStructure<'_>) {
    out.push(b' ');
    match &b.disposition {
        None => out.extend_from_slice(b"NIL"),
        Some(d) => {
            out.push(b'(');
            string(out, &d.kind);
            out.push(b' ');
            params(out, &d.params);
            out.push(b')');
        }
    }
    out.push(b' ');
    if b.language.is_empty() {
        out.extend_from_slice(b"NIL");
    } else {
        out.push(b'(');
        for (i, l) in b.language.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            string(out, l);
        }
        out.push(b')');
    }
    out.push(b' ');
    nstring(out, b.location.as_deref());
}

fn body(out: &mut Vec<u8>, b: &BodyStructure<'_>, ext: bool) {
    out.push(b'(');
    if let BodyKind::Multipart { parts } = &b.kind {
        if parts.is_empty() {
            // What Dovecot sends for a multipart without parts.
            let empty = if ext {
                &b"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)"[..]
            } else {
                &b"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)"[..]
            };
            out.extend_from_slice(empty);
        }
        for p in parts {
            body(out, p, ext);
        }
        out.push(b' ');
        string(out, &b.media_subtype);
        if ext {
            out.push(b' ');
            params(out, &b.fields.params);
            extension(out, b);
        }
        out.push(b')');
        return;
    }
    string(out, &b.media_type);
    out.push(b' ');
    string(out, &b.media_subtype);
    out.push(b' ');
    params(out, &b.fields.params);
    out.push(b' ');
    nstring(out, b.fields.id.as_deref());
    out.push(b' ');
    nstring(out, b.fields.description.as_deref());
    out.push(b' ');
    string(out, &b.fields.encoding);
    out.extend_from_slice(format!(" {}", b.fields.size).as_bytes());
    match &b.kind {
        BodyKind::Text { lines } => out.extend_from_slice(format!(" {lines}").as_bytes()),
        BodyKind::Message {
            envelope: env,
            body: inner,
            lines,
        } => {
            out.push(b' ');
            envelope(out, env);
            out.push(b' ');
            body(out, inner, ext);
            out.extend_from_slice(format!(" {lines}").as_bytes());
        }
        _ => {}
    }
    if ext {
        out.push(b' ');
        nstring(out, b.md5.as_deref());
        extension(out, b);
    }
    out.push(b')');
}

// ------------------------------------------------------- fetch item requests

/// A parsed `BODY.PEEK[...]<o.c>` / `BINARY.PEEK[...]` / `BINARY.SIZE[...]`.
struct Request<'s> {
    binary: bool,
    size: bool,
    section: Section<'s>,
    partial: Option<Partial>,
    /// The item name in the response (`BODY[1]<0>`).
    response_name: String,
}

fn field_list(s: &str) -> Vec<&[u8]> {
    let inner = s.trim().trim_start_matches('(').trim_end_matches(')');
    inner
        .split(' ')
        .filter(|n| !n.is_empty())
        .map(str::as_bytes)
        .collect()
}

fn parse_request(item: &str) -> Request<'_> {
    let open = item.find('[').expect("section item");
    let close = item.rfind(']').expect("section item");
    let head = &item[..open];
    let spec = &item[open + 1..close];
    let tail = &item[close + 1..];
    let mut part = Vec::new();
    let mut rest = spec;
    while rest.starts_with(|c: char| c.is_ascii_digit()) {
        let end = rest.find('.').unwrap_or(rest.len());
        part.push(rest[..end].parse().expect("part number"));
        rest = rest.get(end + 1..).unwrap_or("");
    }
    let text = if rest.is_empty() {
        None
    } else if let Some(list) = rest.strip_prefix("HEADER.FIELDS.NOT ") {
        Some(SectionText::HeaderFieldsNot(field_list(list)))
    } else if let Some(list) = rest.strip_prefix("HEADER.FIELDS ") {
        Some(SectionText::HeaderFields(field_list(list)))
    } else {
        Some(match rest {
            "HEADER" => SectionText::Header,
            "TEXT" => SectionText::Text,
            "MIME" => SectionText::Mime,
            other => panic!("unknown section text {other}"),
        })
    };
    let partial = tail.strip_prefix('<').map(|p| {
        let (o, c) = p.trim_end_matches('>').split_once('.').expect("origin.count");
        Partial {
            origin: o.parse().expect("origin"),
            count: c.parse().expect("count"),
        }
    });
    let base = head.replace(".PEEK", "");
    // Dovecot echoes header field names in upper case.
    let mut response_name = format!("{base}[{}]", spec.to_ascii_uppercase());
    if let Some(p) = partial {
        response_name.push_str(&format!("<{}>", p.origin));
    }
    Request {
        binary: head.starts_with("BINARY"),
        size: head == "BINARY.SIZE",
        section: Section { part, text },
        partial,
        response_name,
    }
}

fn render_item(msg: &MessageAnalysis<'_>, item: &str) -> Vec<u8> {
    let mut out = Vec::new();
    match item {
        "ENVELOPE" => envelope(&mut out, msg.envelope()),
        "BODYSTRUCTURE" => body(&mut out, msg.body_structure(), true),
        "BODY" => body(&mut out, msg.body_structure(), false),
        "RFC822.SIZE" => out.extend_from_slice(msg.size().to_string().as_bytes()),
        _ => {
            let req = parse_request(item);
            let no = |e: BinaryError| match e {
                BinaryError::UnknownCte => b"NO [UNKNOWN-CTE]".to_vec(),
                other => format!("NO ({other})").into_bytes(),
            };
            if req.size {
                return match binary_size(msg, &req.section.part) {
                    Ok(n) => format!("{} {n}", req.response_name).into_bytes(),
                    Err(e) => no(e),
                };
            }
            if req.binary && req.section.text.is_some() {
                // RFC 3516: section-binary = "[" [section-part] "]".
                return b"BAD section text in BINARY".to_vec();
            }
            let (data, tilde) = if req.binary {
                match decode_binary(msg, &req.section.part) {
                    Ok(b) => (b.data, b.decoded),
                    Err(e) => return no(e),
                }
            } else {
                (
                    extract_section(msg, &req.section, None).unwrap_or(Cow::Borrowed(b"")),
                    false,
                )
            };
            // A server sends the message with CRLF line ends (decoded
            // content is sent as decoded); the partial range applies to what
            // is sent.
            let data = match data {
                Cow::Borrowed(b) if !tilde => to_crlf(b),
                Cow::Owned(v) if !tilde => Cow::Owned(to_crlf(&v).into_owned()),
                d => d,
            };
            let data = match req.partial {
                Some(p) => p.apply(data),
                None => data,
            };
            out.extend_from_slice(req.response_name.as_bytes());
            out.extend_from_slice(if tilde { b" ~" } else { b" " });
            literal(&mut out, &data);
        }
    }
    out
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
            let known = DIFFERENCES.iter().find(|(n, i, _)| n == name && i == item);
            match known {
                Some((_, _, why)) => {
                    assert_ne!(
                        &got, expected,
                        "{name} {item} now matches Dovecot; remove it from DIFFERENCES ({why})"
                    );
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

//! Mailbox model benchmarks (`mailwire::mailbox`, memory backend).
//!
//! Run with `cargo bench --bench mailbox`; see `benches/README.md` for the
//! results. Groups:
//!
//! - `mailbox_open_100k`: SELECT (EXAMINE) of a 100,000-message mailbox:
//!   the snapshot and the session's view; and the bare snapshot.
//! - `mailbox_flags_100k`: reading the flags of all 100,000 messages through
//!   the view, and STORE on all of them (`+FLAGS \Flagged` then `-FLAGS
//!   \Flagged`, so that every iteration really changes every message, each
//!   followed by the session's `changes`).
//! - `mailbox_search_10k`: SEARCH over 10,000 varied messages (plain,
//!   quoted-printable ISO-8859-1, base64 UTF-8, multiparts with HTML and
//!   attachments, nested message/rfc822): BODY with a word found only after
//!   decoding, SUBJECT, and UNSEEN (no content read).
//! - `mailbox_append_10k`: 10,000 APPENDs, one message each, to an empty
//!   mailbox.
//! - `mailbox_bodystructure`: `analysis::analyze` (ENVELOPE and
//!   BODYSTRUCTURE) of a 30-part message, in memory and from a file read a
//!   page at a time (`StoredMessage::open`).
//! - `mailbox_binary_8mib`: `BINARY[2]` of a message with an 8 MiB base64
//!   attachment stored with LF line ends, as a server answers it: the file
//!   read whole, made CRLF, analysed and decoded in memory; or analysed in
//!   the file, measured and read from it page by page.

// `criterion_group!` generates an undocumented `pub fn`.
#![allow(missing_docs)]

#[path = "common/mod.rs"]
mod common;

use std::hint::black_box;
use std::time::Duration;

use bytes::Bytes;
use common::{Rng, WORDS};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use mailwire::imap::{AString, BodyStructure, SpecificFields};
use mailwire::mailbox::analysis::{StoredMessage, analyze, decode_binary, to_crlf};
use mailwire::mailbox::search::SearchKey;
use mailwire::mailbox::{
    Account, AccountName, AppendMessage, FlagAction, Flags, InternalDate, MailboxName, MaildirBackend,
    MaildirOptions, MemoryBackend, SelectMode, Store, StoreConfig, StoreFlags, SystemFlags, Uid,
};

/// Words with non-ASCII letters, for the ISO-8859-1 and UTF-8 bodies.
const ACCENTED: &[&str] = &[
    "café",
    "naïve",
    "Müller",
    "déjà",
    "façade",
    "Ångström",
    "señor",
    "über",
];

/// The word BODY looks for: put in about 1% of the messages, always inside
/// an encoded or multipart body for all but the plain ones.
const NEEDLE: &str = "quokka";

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_lines(data: &[u8], out: &mut String) {
    let mut line = 0;
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(BASE64[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
        line += 4;
        if line >= 76 {
            out.push_str("\r\n");
            line = 0;
        }
    }
    out.push_str("\r\n");
}

/// Quoted-printable of Latin-1 text (every character of `text` is below
/// U+0100).
fn quoted_printable_latin1(text: &str, out: &mut String) {
    let mut line = 0;
    for c in text.chars() {
        let code = c as u32;
        if c == '\n' {
            out.push_str("\r\n");
            line = 0;
            continue;
        }
        if code >= 0x80 || c == '=' {
            out.push_str(&format!("={code:02X}"));
            line += 3;
        } else {
            out.push(c);
            line += 1;
        }
        if line >= 72 {
            out.push_str("=\r\n");
            line = 0;
        }
    }
    out.push_str("\r\n");
}

/// A paragraph of `lines` lines of words, `\n`-separated, with the needle
/// in it if asked.
fn paragraph(rng: &mut Rng, lines: usize, accented: bool, needle: bool) -> String {
    let mut text = String::new();
    let needle_line = rng.below(lines);
    for l in 0..lines {
        for w in 0..10 {
            if w > 0 {
                text.push(' ');
            }
            if needle && l == needle_line && w == 5 {
                text.push_str(NEEDLE);
            } else if accented && rng.below(6) == 0 {
                text.push_str(rng.pick(ACCENTED));
            } else {
                text.push_str(rng.pick(WORDS));
            }
        }
        text.push('\n');
    }
    text
}

fn crlf(text: &str) -> String {
    text.replace('\n', "\r\n")
}

/// One of five kinds of message, and whether its body holds the needle.
fn build_message(i: usize, rng: &mut Rng) -> (String, String, bool) {
    let needle = rng.below(100) == 0;
    let subject = format!("{} {} {} #{i}", rng.pick(WORDS), rng.pick(WORDS), rng.pick(WORDS));
    let mut m = format!(
        "Return-Path: <sender{i}@example.org>\r\nDate: Tue, 3 Mar 2026 10:{:02}:00 +0100\r\n\
         From: Sender {i} <sender{i}@example.org>\r\nTo: Alice <alice@example.net>\r\n\
         Subject: {subject}\r\nMessage-ID: <{i}.{}@example.org>\r\nMIME-Version: 1.0\r\n",
        i % 60,
        rng.next()
    );
    let lines = 8 + rng.below(20);
    match i % 5 {
        0 => {
            m.push_str("Content-Type: text/plain; charset=us-ascii\r\n\r\n");
            m.push_str(&crlf(&paragraph(rng, lines, false, needle)));
        }
        1 => {
            m.push_str(
                "Content-Type: text/plain; charset=ISO-8859-1\r\n\
                 Content-Transfer-Encoding: quoted-printable\r\n\r\n",
            );
            quoted_printable_latin1(&paragraph(rng, lines, true, needle), &mut m);
        }
        2 => {
            m.push_str(
                "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n",
            );
            base64_lines(paragraph(rng, lines, true, needle).as_bytes(), &mut m);
        }
        3 => {
            m.push_str("Content-Type: multipart/mixed; boundary=\"=_outer\"\r\n\r\n--=_outer\r\n");
            m.push_str("Content-Type: multipart/alternative; boundary=alt\r\n\r\n--alt\r\n");
            m.push_str("Content-Type: text/plain; charset=utf-8\r\n\r\n");
            m.push_str(&crlf(&paragraph(rng, lines, true, false)));
            m.push_str("--alt\r\nContent-Type: text/html; charset=ISO-8859-1\r\n");
            m.push_str("Content-Transfer-Encoding: quoted-printable\r\n\r\n<html><body><p>");
            quoted_printable_latin1(&paragraph(rng, lines, true, needle), &mut m);
            m.push_str("</p></body></html>\r\n--alt--\r\n--=_outer\r\n");
            m.push_str("Content-Type: application/octet-stream; name=data.bin\r\n");
            m.push_str("Content-Disposition: attachment; filename=data.bin\r\n");
            m.push_str("Content-Transfer-Encoding: base64\r\n\r\n");
            let data: Vec<u8> = (0..1500).map(|_| rng.next() as u8).collect();
            base64_lines(&data, &mut m);
            m.push_str("--=_outer--\r\n");
        }
        _ => {
            m.push_str("Content-Type: multipart/mixed; boundary=fwd\r\n\r\n--fwd\r\n");
            m.push_str("Content-Type: text/plain\r\n\r\nForwarded message below.\r\n--fwd\r\n");
            m.push_str("Content-Type: message/rfc822\r\n\r\n");
            m.push_str("From: someone@example.com\r\nSubject: original\r\n");
            m.push_str(
                "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n",
            );
            base64_lines(paragraph(rng, lines, true, needle).as_bytes(), &mut m);
            m.push_str("--fwd--\r\n");
        }
    }
    (m, subject, needle)
}

fn inbox() -> MailboxName {
    MailboxName::inbox()
}

fn new_account() -> Account {
    let store = Store::with_config(MemoryBackend::new(), StoreConfig::default());
    store.create_account(&AccountName::new("alice").unwrap()).unwrap()
}

/// An account whose INBOX holds `count` small plain messages, a third of
/// them `\Seen`.
fn small_mailbox(count: usize) -> Account {
    let acc = new_account();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut batch = Vec::with_capacity(10_000);
    for i in 0..count {
        let content = format!(
            "From: Sender <s{i}@example.org>\r\nSubject: {} {i}\r\n\r\n{} {} {}\r\n",
            rng.pick(WORDS),
            rng.pick(WORDS),
            rng.pick(WORDS),
            rng.pick(WORDS)
        );
        let flags = if i % 3 == 0 {
            Flags::system(SystemFlags::SEEN)
        } else {
            Flags::new()
        };
        batch.push(AppendMessage {
            content: Bytes::from(content),
            flags,
            internal_date: Some(InternalDate::from_unix(1_772_000_000 + i as i64)),
        });
        if batch.len() == 10_000 {
            acc.append_all(&inbox(), std::mem::take(&mut batch)).unwrap();
        }
    }
    if !batch.is_empty() {
        acc.append_all(&inbox(), batch).unwrap();
    }
    acc
}

fn bench_open(c: &mut Criterion) {
    let acc = small_mailbox(100_000);
    let mut g = c.benchmark_group("mailbox_open_100k");
    g.sample_size(20);
    g.throughput(Throughput::Elements(100_000));
    g.bench_function("select_examine", |b| {
        b.iter(|| {
            let view = acc.select(&inbox(), SelectMode::ReadOnly).unwrap();
            assert_eq!(view.exists(), 100_000);
            black_box(view)
        })
    });
    g.bench_function("snapshot", |b| {
        b.iter(|| black_box(acc.snapshot(&inbox()).unwrap()))
    });
    g.finish();
}

fn bench_flags(c: &mut Criterion) {
    let acc = small_mailbox(100_000);
    let mut view = acc.select(&inbox(), SelectMode::ReadWrite).unwrap();
    let uids: Vec<Uid> = view.messages().iter().map(|m| m.uid).collect();
    let mut g = c.benchmark_group("mailbox_flags_100k");
    g.sample_size(10);
    g.throughput(Throughput::Elements(100_000));
    g.bench_function("read_all", |b| {
        b.iter(|| {
            let mut seen = 0u32;
            let mut keywords = 0usize;
            for m in view.messages() {
                seen += u32::from(m.flags.is_seen());
                keywords += m.flags.keywords.len();
            }
            black_box((seen, keywords))
        })
    });
    let store = |action| StoreFlags {
        uids: uids.clone(),
        action,
        flags: Flags::system(SystemFlags::FLAGGED),
        condition: None,
    };
    let (add, remove) = (store(FlagAction::Add), store(FlagAction::Remove));
    g.bench_function("store_add_then_remove", |b| {
        b.iter(|| {
            // Each STORE is followed by the session's changes, as a server
            // does after a command; 100,000 updates overflow the session's
            // queue (10,000 by default), so that compares with a snapshot.
            let added = view.store_flags(&add).unwrap();
            black_box(view.changes(false).unwrap());
            let removed = view.store_flags(&remove).unwrap();
            black_box(view.changes(false).unwrap());
            assert_eq!((added.updated.len(), removed.updated.len()), (100_000, 100_000));
        })
    });
    g.finish();
}

fn bench_search(c: &mut Criterion) {
    const COUNT: usize = 10_000;
    let acc = new_account();
    let mut rng = Rng(0x0123_4567_89AB_CDEF);
    let mut expected_body = Vec::new();
    let mut expected_subject = Vec::new();
    let mut bytes = 0usize;
    let mut messages = Vec::with_capacity(COUNT);
    for i in 0..COUNT {
        let (content, subject, needle) = build_message(i, &mut rng);
        let uid = Uid::new(i as u32 + 1).unwrap();
        if needle {
            expected_body.push(uid);
        }
        if subject.contains("budget review") {
            expected_subject.push(uid);
        }
        bytes += content.len();
        let flags = if rng.below(10) < 7 {
            Flags::system(SystemFlags::SEEN)
        } else {
            Flags::new()
        };
        messages.push(AppendMessage {
            content: Bytes::from(content),
            flags,
            internal_date: None,
        });
    }
    acc.append_all(&inbox(), messages).unwrap();
    let view = acc.select(&inbox(), SelectMode::ReadOnly).unwrap();
    let body = SearchKey::Body(AString::try_from("QUOKKA").unwrap());
    let subject = SearchKey::Subject(AString::try_from("Budget Review").unwrap());
    // Check once that the search really decodes and finds what was put in.
    assert_eq!(view.search(&body).unwrap(), expected_body);
    assert!(expected_body.len() > 50, "{}", expected_body.len());
    assert_eq!(view.search(&subject).unwrap(), expected_subject);
    let mut g = c.benchmark_group("mailbox_search_10k");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("body", |b| b.iter(|| black_box(view.search(&body).unwrap())));
    g.bench_function("subject", |b| {
        b.iter(|| black_box(view.search(&subject).unwrap()))
    });
    g.throughput(Throughput::Elements(COUNT as u64));
    g.bench_function("unseen", |b| {
        b.iter(|| black_box(view.search(&SearchKey::Unseen).unwrap()))
    });
    g.finish();
    eprintln!(
        "mailbox_search_10k: {COUNT} messages, {bytes} bytes, BODY matches {}, SUBJECT matches {}",
        expected_body.len(),
        expected_subject.len()
    );
}

fn bench_append(c: &mut Criterion) {
    const COUNT: usize = 10_000;
    let mut rng = Rng(0xDEAD_BEEF_CAFE_F00D);
    let messages: Vec<Bytes> = (0..COUNT)
        .map(|i| Bytes::from(build_message(i, &mut rng).0))
        .collect();
    let mut g = c.benchmark_group("mailbox_append_10k");
    g.sample_size(10);
    g.throughput(Throughput::Elements(COUNT as u64));
    g.bench_function("memory", |b| {
        b.iter_batched(
            new_account,
            |acc| {
                for m in &messages {
                    acc.append(&inbox(), AppendMessage::new(m.clone())).unwrap();
                }
                acc
            },
            BatchSize::PerIteration,
        )
    });
    // The same messages into an empty Maildir INBOX in a fresh temporary
    // directory. Without fsync: with it (the production default, each
    // append durable when it returns) one append costs about one disk
    // flush, some 7 ms on this machine's disk, and 10,000 take over a
    // minute per sample; this row measures the backend's own work.
    g.bench_function("maildir_no_fsync", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().unwrap();
                let options = MaildirOptions::default().with_fsync(false);
                let backend = MaildirBackend::with_options(dir.path(), options).unwrap();
                let store = Store::with_config(backend, StoreConfig::default());
                let acc = store.create_account(&AccountName::new("alice").unwrap()).unwrap();
                (dir, acc)
            },
            |(dir, acc)| {
                for m in &messages {
                    acc.append(&inbox(), AppendMessage::new(m.clone())).unwrap();
                }
                (dir, acc)
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

/// A 30-part message: a multipart/mixed of a multipart/alternative (text and
/// HTML), text, HTML, images, PDFs, a message/rfc822 with its own two
/// parts, and more text parts, 30 leaves in all.
fn thirty_part_message() -> Vec<u8> {
    let mut rng = Rng(42);
    let mut m = String::from(
        "From: Ann <ann@example.org>\r\nTo: Bob <bob@example.net>, team: c@x, d@y;\r\n\
         Subject: =?UTF-8?Q?Thirty_parts_=E2=80=94_report?=\r\nDate: Tue, 3 Mar 2026 10:00:00 +0100\r\n\
         Message-ID: <thirty@example.org>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"top\"\r\n\r\nPreamble.\r\n",
    );
    let mut leaves = 0;
    m.push_str("--top\r\nContent-Type: multipart/alternative; boundary=alt\r\n\r\n");
    m.push_str("--alt\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n");
    m.push_str(&crlf(&paragraph(&mut rng, 10, true, false)));
    m.push_str("--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>hi</p>\r\n--alt--\r\n");
    leaves += 2;
    m.push_str("--top\r\nContent-Type: message/rfc822\r\n\r\n");
    m.push_str("From: c@x\r\nSubject: inner\r\nContent-Type: multipart/mixed; boundary=in\r\n\r\n");
    m.push_str("--in\r\nContent-Type: text/plain\r\n\r\ninner text\r\n");
    m.push_str("--in\r\nContent-Type: image/png; name=a.png\r\nContent-Transfer-Encoding: base64\r\n\r\n");
    base64_lines(&[7u8; 300], &mut m);
    m.push_str("--in--\r\n");
    leaves += 2;
    let mut n = 0;
    while leaves < 30 {
        n += 1;
        m.push_str("--top\r\n");
        match n % 4 {
            0 => {
                m.push_str("Content-Type: text/plain; charset=ISO-8859-1; format=flowed\r\n");
                m.push_str("Content-Transfer-Encoding: quoted-printable\r\n\r\n");
                quoted_printable_latin1(&paragraph(&mut rng, 6, true, false), &mut m);
            }
            1 => {
                m.push_str(&format!(
                    "Content-Type: image/jpeg; name=\"photo{n}.jpg\"\r\n\
                     Content-Disposition: attachment; filename*=UTF-8''ph%C3%B6to{n}.jpg\r\n\
                     Content-ID: <img{n}@example.org>\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                ));
                let data: Vec<u8> = (0..900).map(|_| rng.next() as u8).collect();
                base64_lines(&data, &mut m);
            }
            2 => {
                m.push_str(&format!(
                    "Content-Type: application/pdf; name=doc{n}.pdf\r\n\
                     Content-Disposition: attachment; filename=doc{n}.pdf; size=1200\r\n\
                     Content-Language: en, de\r\nContent-Transfer-Encoding: base64\r\n\r\n"
                ));
                let data: Vec<u8> = (0..1200).map(|_| rng.next() as u8).collect();
                base64_lines(&data, &mut m);
            }
            _ => {
                m.push_str("Content-Type: text/html; charset=utf-8\r\nContent-Description: part\r\n\r\n");
                m.push_str(&crlf(&paragraph(&mut rng, 4, true, false)));
            }
        }
        leaves += 1;
    }
    m.push_str("--top--\r\nEpilogue.\r\n");
    m.into_bytes()
}

fn count_leaves(part: &BodyStructure<'_>) -> usize {
    match part {
        BodyStructure::Multipart { parts, .. } => parts.iter().map(count_leaves).sum(),
        BodyStructure::Single {
            specific: SpecificFields::Message { body, .. },
            ..
        } => count_leaves(body),
        BodyStructure::Single { .. } => 1,
    }
}

fn bench_bodystructure(c: &mut Criterion) {
    let raw = thirty_part_message();
    assert_eq!(count_leaves(analyze(&raw).body_structure()), 30);
    let mut g = c.benchmark_group("mailbox_bodystructure");
    g.throughput(Throughput::Bytes(raw.len() as u64));
    g.bench_function("analyze_30_parts", |b| {
        b.iter(|| black_box(analyze(black_box(&raw))))
    });
    let file = file_of(&raw);
    g.bench_function("analyze_file_30_parts", |b| {
        b.iter(|| {
            let msg = StoredMessage::open(file.try_clone().unwrap(), raw.len() as u64).unwrap();
            black_box(msg.size())
        })
    });
    g.finish();
    eprintln!("mailbox_bodystructure: message of {} bytes", raw.len());
}

fn file_of(data: &[u8]) -> std::fs::File {
    use std::io::Write;
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(data).unwrap();
    file
}

fn bench_binary(c: &mut Criterion) {
    let mut rng = Rng(7);
    let mut raw = b"From: a@b\nSubject: attachment\nContent-Type: multipart/mixed; boundary=xx\n\n--xx\n\nSee it.\n--xx\nContent-Transfer-Encoding: base64\n\n".to_vec();
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    while raw.len() < 8 << 20 {
        for _ in 0..76 {
            raw.push(alphabet[(rng.next() % 64) as usize]);
        }
        raw.push(b'\n');
    }
    raw.extend_from_slice(b"--xx--\n");
    let file = file_of(&raw);
    let part = mailwire::imap::SectionPart::new(vec![std::num::NonZeroU32::new(2).unwrap()]).unwrap();
    let mut g = c.benchmark_group("mailbox_binary_8mib");
    g.throughput(Throughput::Bytes(raw.len() as u64));
    g.sample_size(10);
    g.bench_function("whole", |b| {
        b.iter(|| {
            use std::io::{Read, Seek};
            let mut f = file.try_clone().unwrap();
            f.rewind().unwrap();
            let mut data = Vec::new();
            f.read_to_end(&mut data).unwrap();
            let crlf = to_crlf(&data).into_owned();
            let msg = analyze(&crlf);
            black_box(decode_binary(&msg, Some(&part)).unwrap().data.len())
        })
    });
    g.bench_function("from_file", |b| {
        b.iter(|| {
            let msg = StoredMessage::open(file.try_clone().unwrap(), raw.len() as u64).unwrap();
            let mut content = msg.binary(Some(&part), None).unwrap().unwrap();
            let len = content.measure().unwrap().len;
            let copied = std::io::copy(&mut content, &mut std::io::sink()).unwrap();
            assert_eq!(len, copied);
            black_box(copied)
        })
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_open, bench_flags, bench_search, bench_append, bench_bodystructure, bench_binary
}
criterion_main!(benches);

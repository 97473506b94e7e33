//! A message analysed in a file, read a page at a time (`StoredMessage`),
//! against the same message analysed whole with CRLF line ends.
//!
//! The input is the file's content. Fuzzing builds read the file in pages
//! of 64 octets, so that short inputs cross page ends. Checked: no panic;
//! the file opens unless a header block is over 1 MiB (longer inputs than
//! the fuzzer makes); ENVELOPE, BODYSTRUCTURE, the part tree and the size are equal; every
//! part's whole, HEADER, TEXT, MIME and HEADER.FIELDS sections, with and
//! without a partial range, read the same octets from the file as
//! `extract_section` gives; the PREVIEW is `preview`'s; every part's
//! BINARY reads what `decode_binary` gives, or fails where it fails; what
//! `Content::measure` says matches what is read. Parts are numbered as RFC
//! 9051 section 6.4.5 says, a message that is not a multipart being its
//! own part 1 (the first 20 parts). Inputs of odd length are checked
//! through `StoredMessage::reopen` with the layout of a first opening.
#![no_main]

use std::cell::RefCell;
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::num::{NonZeroU32, NonZeroU64};

use libfuzzer_sys::fuzz_target;
use mailwire_imap::{AString, HeaderList};
use mailwire_mailbox::analysis::{
    BinaryError, Content, Part, PartKind, Partial, Section, SectionPart, SectionText, StoredMessage, analyze,
    apply_partial, decode_binary, extract_section, preview, to_crlf,
};

thread_local! {
    // In memory (/dev/shm) where there is one: each input is written to the
    // file and read back in small pages, a file system's writes cost runs.
    static FILE: RefCell<File> = RefCell::new(
        tempfile::tempfile_in("/dev/shm")
            .or_else(|_| tempfile::tempfile())
            .expect("a temporary file"),
    );
}

/// The paths of the parts inside `part`, which is at `path`, numbered as
/// RFC 9051 section 6.4.5 says: a multipart's parts one by one; the body
/// of an encapsulated message as its part 1, or its parts when it is a
/// multipart.
fn paths(part: &Part, path: &mut Vec<NonZeroU32>, out: &mut Vec<Vec<NonZeroU32>>) {
    let at = |i: usize, child: &Part, path: &mut Vec<NonZeroU32>, out: &mut Vec<_>| {
        path.push(NonZeroU32::new(i as u32 + 1).expect("from 1"));
        out.push(path.clone());
        paths(child, path, out);
        path.pop();
    };
    match &part.kind {
        PartKind::Message(inner) if !matches!(inner.kind, PartKind::Multipart(_)) => at(0, inner, path, out),
        PartKind::Message(inner) => paths(inner, path, out),
        PartKind::Multipart(parts) => {
            for (i, child) in parts.iter().enumerate() {
                at(i, child, path, out);
            }
        }
        PartKind::Leaf => {}
    }
}

/// What a content reads (measured first), or the kind of its error.
fn read(mut c: Content) -> Result<Vec<u8>, std::io::ErrorKind> {
    let m = c.measure().map_err(|e| e.kind())?;
    let mut out = Vec::new();
    c.read_to_end(&mut out).map_err(|e| e.kind())?;
    assert_eq!(m.len, out.len() as u64);
    assert_eq!(m.nul, out.contains(&0));
    Ok(out)
}

fuzz_target!(|raw: &[u8]| {
    let file = FILE.with(|f| {
        let mut f = f.borrow_mut();
        f.set_len(0).expect("truncated");
        f.rewind().expect("rewound");
        f.write_all(raw).expect("written");
        f.try_clone().expect("a second descriptor")
    });
    let again = file.try_clone().expect("a third descriptor");
    let crlf = to_crlf(raw).into_owned();
    let stored = match StoredMessage::open(file, raw.len() as u64) {
        Ok(stored) => stored,
        // Only a header block over 1 MiB (with CRLF line ends) is refused;
        // an input that long comes from outside the fuzzer's 4 KiB.
        Err(e) => {
            assert!(
                e.kind() == std::io::ErrorKind::InvalidData && crlf.len() > 1 << 20,
                "{e}"
            );
            return;
        }
    };
    // Half the inputs are read through the same file opened again with
    // the first analysis's layout, as a server's structure cache does.
    let stored = if raw.len() % 2 == 1 {
        StoredMessage::reopen(again, raw.len() as u64, &stored.layout()).expect("opened again")
    } else {
        stored
    };
    let whole = analyze(&crlf);
    assert_eq!(stored.envelope(), whole.envelope());
    assert_eq!(stored.body_structure(), whole.body_structure());
    assert_eq!(stored.part_tree(), whole.part_tree());
    assert_eq!(stored.size(), whole.size());
    assert_eq!(stored.preview().expect("no read error"), preview(&whole));

    // The message, then its parts; one that is not a multipart is its own
    // part 1.
    let mut all = vec![Vec::new()];
    let root = whole.part_tree();
    if matches!(root.kind, PartKind::Multipart(_)) {
        paths(root, &mut Vec::new(), &mut all);
    } else {
        all.push(vec![NonZeroU32::MIN]);
        paths(root, &mut vec![NonZeroU32::MIN], &mut all);
    }
    let partial = Partial::new(2, NonZeroU64::new(5).expect("not zero")).expect("a range");
    let names = HeaderList::new(vec![AString::try_from("subject").expect("an atom")]).expect("one name");
    for path in all.iter().take(20) {
        let part = if path.is_empty() {
            None
        } else {
            Some(SectionPart::new(path.clone()).expect("a part number"))
        };
        for text in [
            None,
            Some(SectionText::Header),
            Some(SectionText::Text),
            Some(SectionText::Mime),
            Some(SectionText::HeaderFields(names.clone())),
        ] {
            let Ok(section) = Section::new(part.clone(), text) else {
                continue;
            };
            for p in [None, Some(&partial)] {
                let want = extract_section(&whole, &section, p).map(|d| d.into_owned());
                let got = stored
                    .section(&section, p)
                    .expect("no read error")
                    .map(|c| read(c).expect("a section reads"));
                assert_eq!(got, want, "{section:?} {p:?}");
            }
        }
        for p in [None, Some(&partial)] {
            let want = decode_binary(&whole, part.as_ref())
                .map(|b| (apply_partial(b.data, p).into_owned(), b.decoded));
            match stored.binary(part.as_ref(), p).expect("no read error") {
                Err(e) => assert_eq!(Err(e), want.map(|_| ())),
                Ok(c) => {
                    let decoded = c.decoded();
                    match (read(c), want) {
                        (Ok(data), Ok(want)) => assert_eq!((data, decoded), want),
                        (Err(kind), Err(BinaryError::InvalidContent)) => {
                            assert_eq!(kind, std::io::ErrorKind::InvalidData)
                        }
                        (got, want) => panic!("BINARY {path:?}: {got:?} against {want:?}"),
                    }
                }
            }
        }
    }
});

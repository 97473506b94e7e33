//! A `dovecot-uidlist` whose last record was cut short by a writer killed
//! in the middle of its append (Dovecot, or a mailwire process): the next
//! append must start on a line of its own, the cut record must not give
//! any file a UID, and the file must stay in Dovecot's version 3 format.
//! The cut record is written by hand, byte for byte as a killed writer
//! leaves it.

use std::collections::BTreeSet;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;

use bytes::Bytes;
use mailwire_mailbox::{
    AccountName, Backend, Flags, InternalDate, MailboxName, MaildirBackend, MaildirOptions, NewMessage,
};

fn acct() -> AccountName {
    AccountName::new("alice").unwrap()
}

fn open(dir: &Path) -> MaildirBackend {
    MaildirBackend::with_options(dir, MaildirOptions::default().with_fsync(false)).unwrap()
}

fn message(tag: &str) -> NewMessage {
    NewMessage {
        content: Bytes::from(format!("Subject: {tag}\r\n\r\n{tag}\r\n")),
        flags: Flags::new(),
        internal_date: InternalDate::from_unix(1_700_000_000),
    }
}

fn append_torn(uidlist: &Path, bytes: &str) {
    let mut f = OpenOptions::new().append(true).open(uidlist).unwrap();
    f.write_all(bytes.as_bytes()).unwrap();
}

/// The message files of the INBOX, by base name (without `:2,...`).
fn files(maildir: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for d in ["new", "cur"] {
        for e in fs::read_dir(maildir.join(d)).unwrap() {
            let name = e.unwrap().file_name().into_string().unwrap();
            out.insert(name.split(':').next().unwrap().to_owned());
        }
    }
    out
}

/// Checks the uidlist line by line as Dovecot reads it, and returns its
/// records as (UID, base name).
fn parse_strictly(uidlist: &Path) -> Vec<(u32, String)> {
    let text = fs::read_to_string(uidlist).unwrap();
    assert!(
        text.ends_with('\n'),
        "uidlist does not end with a line end: {text:?}"
    );
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let fields: Vec<&str> = header.split(' ').collect();
    assert_eq!(fields[0], "3", "not a version 3 header: {header:?}");
    assert!(
        fields[1].strip_prefix('V').unwrap().parse::<u32>().unwrap() > 0,
        "{header:?}"
    );
    // N is the next UID when the header was written; appended records go
    // past it (readers take the larger), as in Dovecot's own files.
    assert!(
        fields[2].strip_prefix('N').unwrap().parse::<u32>().unwrap() > 0,
        "{header:?}"
    );
    let guid = fields[3].strip_prefix('G').unwrap();
    assert!(
        guid.len() == 32 && guid.bytes().all(|b| b.is_ascii_hexdigit()),
        "{header:?}"
    );
    let mut records: Vec<(u32, String)> = Vec::new();
    for line in lines {
        let (uid, rest) = line
            .split_once(' ')
            .unwrap_or_else(|| panic!("bad record {line:?} in {text:?}"));
        let uid: u32 = uid
            .parse()
            .unwrap_or_else(|_| panic!("bad UID in {line:?} of {text:?}"));
        let (ext, base) = rest
            .split_once(':')
            .unwrap_or_else(|| panic!("no ':' in {line:?}"));
        assert!(ext.is_empty() || ext.ends_with(' '), "{line:?}");
        assert!(
            !base.contains([' ', ':']),
            "two records glued in {line:?} of {text:?}"
        );
        if let Some((last, _)) = records.last() {
            assert!(uid > *last, "UIDs out of order at {line:?} in {text:?}");
        }
        records.push((uid, base.to_owned()));
    }
    records
}

/// The records that name a file: no file has two, each UID belongs to one
/// file, and with `complete` (after a reconciliation) every file has one.
fn check_mapping(maildir: &Path, records: &[(u32, String)], complete: bool) {
    let on_disk = files(maildir);
    let named: Vec<&String> = records
        .iter()
        .map(|(_, b)| b)
        .filter(|b| on_disk.contains(*b))
        .collect();
    let unique: BTreeSet<&String> = named.iter().copied().collect();
    assert_eq!(unique.len(), named.len(), "a file with two UIDs: {records:?}");
    for b in on_disk.iter().filter(|_| complete) {
        assert!(unique.contains(b), "file {b} has no record: {records:?}");
    }
}

/// A Dovecot delivery killed after writing part of its record: a fresh
/// mailwire instance appends next.
#[test]
fn an_append_after_a_torn_dovecot_record_starts_a_new_line() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, inbox) = (acct(), MailboxName::inbox());
    let b = open(tmp.path());
    b.create_account(&a).unwrap();
    let first = b
        .append(&a, &inbox, vec![message("one"), message("two")])
        .unwrap();
    let maildir = tmp.path().join("alice/Maildir");
    let uidlist = maildir.join("dovecot-uidlist");
    let before = parse_strictly(&uidlist);
    assert_eq!(before.len(), 2);

    // The killed writer's file is in new/, its record cut after 14 bytes.
    let base = "1795310866.M520951P14468.vm,S=14,W=17";
    fs::write(maildir.join("new").join(base), "Subject: x\n\nx\n").unwrap();
    append_torn(&uidlist, &format!("3 :{}", &base[..14]));

    let later = open(tmp.path());
    let got = later.append(&a, &inbox, vec![message("three")]).unwrap();
    let records = parse_strictly(&uidlist);
    assert_eq!(&records[..2], &before[..]);
    assert!(records.iter().all(|(_, b)| b != &base[..14]), "{records:?}");
    // UID 3 was the killed writer's: nobody gets it.
    assert!(records.iter().all(|(u, _)| *u != 3), "{records:?}");
    check_mapping(&maildir, &records, true);
    let new_uid = got.messages[0].uid.get();
    assert!(new_uid > first.messages[1].uid.get());

    // Every instance, old and new, agrees on every message's UID.
    let snapshot = |b: &MaildirBackend| {
        let s = b.mailbox_snapshot(&a, &inbox).unwrap();
        s.messages.iter().map(|m| m.uid.get()).collect::<Vec<_>>()
    };
    let fresh = open(tmp.path());
    assert_eq!(snapshot(&fresh), snapshot(&later));
    assert_eq!(
        snapshot(&fresh).len(),
        4,
        "the killed writer's file is not listed once"
    );
    check_mapping(&maildir, &parse_strictly(&uidlist), true);
}

/// A torn record is cut as soon as a mailwire instance looks at the
/// folder under its lock, before anyone appends: Dovecot appending next
/// starts a line of its own. The torn record's UID is not given again.
#[test]
fn a_torn_record_is_cut_at_the_first_locked_look() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, inbox) = (acct(), MailboxName::inbox());
    let b = open(tmp.path());
    b.create_account(&a).unwrap();
    b.append(&a, &inbox, vec![message("one"), message("two")])
        .unwrap();
    let maildir = tmp.path().join("alice/Maildir");
    let uidlist = maildir.join("dovecot-uidlist");
    let before = parse_strictly(&uidlist);
    append_torn(&uidlist, "3 :1795310866.M5");

    let later = open(tmp.path());
    let uids: Vec<u32> = later
        .mailbox_snapshot(&a, &inbox)
        .unwrap()
        .messages
        .iter()
        .map(|m| m.uid.get())
        .collect();
    assert_eq!(uids, [1, 2]);
    let text = fs::read_to_string(&uidlist).unwrap();
    assert!(text.ends_with('\n'), "{text:?}");
    assert_eq!(parse_strictly(&uidlist), before);
    let next: u32 = text
        .split(' ')
        .find_map(|f| f.strip_prefix('N'))
        .unwrap()
        .parse()
        .unwrap();
    assert!(next > 3, "{text:?}");
    // Dovecot appends a record: a line of its own.
    let base = "1795310867.M1P1.vm,S=14,W=17";
    fs::write(maildir.join("new").join(base), "Subject: x\n\nx\n").unwrap();
    OpenOptions::new()
        .append(true)
        .open(&uidlist)
        .unwrap()
        .write_all(format!("{next} :{base}\n").as_bytes())
        .unwrap();
    let records = parse_strictly(&uidlist);
    assert_eq!(records.last(), Some(&(next, base.to_owned())));
    check_mapping(&maildir, &records, true);
}

/// A writer (a mailwire process this time) killed just before its line
/// end: a whole record without its `\n`, for a file that exists. An
/// instance that had read the file before appends next, reading only
/// the tail.
#[test]
fn a_record_without_its_line_end_is_not_glued_to_the_next() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, inbox) = (acct(), MailboxName::inbox());
    let b = open(tmp.path());
    b.create_account(&a).unwrap();
    let first = b.append(&a, &inbox, vec![message("one")]).unwrap();
    let maildir = tmp.path().join("alice/Maildir");
    let uidlist = maildir.join("dovecot-uidlist");

    let base = "1795310867.M1P99.vm,S=14";
    fs::write(maildir.join("new").join(base), "Subject: y\n\ny\n").unwrap();
    let torn_uid = first.messages[0].uid.get() + 1;
    append_torn(&uidlist, &format!("{torn_uid} :{base}"));

    b.append(&a, &inbox, vec![message("two")]).unwrap();
    let records = parse_strictly(&uidlist);
    check_mapping(&maildir, &records, false);
    b.append(&a, &inbox, vec![message("three")]).unwrap();
    check_mapping(&maildir, &parse_strictly(&uidlist), false);
    // A fresh instance reconciles: the killed writer's file gets a UID of
    // its own, and the UID its torn record named is given to nobody.
    let snap = open(tmp.path()).mailbox_snapshot(&a, &inbox).unwrap();
    let records = parse_strictly(&uidlist);
    check_mapping(&maildir, &records, true);
    assert!(records.iter().all(|(u, _)| *u != torn_uid), "{records:?}");
    assert!(snap.messages.iter().all(|m| m.uid.get() != torn_uid));
    assert_eq!(snap.messages.len(), 4);
    let r = mailwire_mailbox::MailboxRef {
        name: inbox.clone(),
        uid_validity: snap.uid_validity,
    };
    b.sync(&a, &r).unwrap();
    let ours = b.mailbox_snapshot(&a, &inbox).unwrap();
    let uids = |s: &mailwire_mailbox::MailboxSnapshot| s.messages.iter().map(|m| m.uid).collect::<Vec<_>>();
    assert_eq!(uids(&snap), uids(&ours));
}

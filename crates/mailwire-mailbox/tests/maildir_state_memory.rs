//! The memory an account's folder state may take (`MaildirOptions::
//! state_memory`): whoever can write to a Maildir can write its
//! `dovecot-uidlist` or `mailwire-modseq` as a gibibyte of records a few
//! octets long, which the backend (one process for every user) read whole,
//! at a few hundred octets of memory per record.
//!
//! The first test measures this test binary's peak resident memory, so
//! the others here allocate little.

use std::fs;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use mailwire_mailbox::{
    AccountName, Backend, Flags, InternalDate, MailboxName, MaildirBackend, MaildirOptions, NewMessage,
    StoreError,
};

/// The process's peak resident memory so far, in KiB (`VmHWM`).
fn peak_kib() -> u64 {
    let status = fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/self/status")
}

fn backend(dir: &Path, state_memory: u64) -> MaildirBackend {
    let options = MaildirOptions::default()
        .with_fsync(false)
        .with_state_memory(state_memory);
    MaildirBackend::with_options(dir, options).expect("a backend")
}

fn account(name: &str) -> AccountName {
    AccountName::new(name).expect("a valid name")
}

fn message(text: &str) -> NewMessage {
    NewMessage {
        content: Bytes::from(format!("Subject: {text}\r\n\r\n{text}\r\n")),
        flags: Flags::default(),
        internal_date: InternalDate {
            unix_seconds: 1_700_000_000,
            zone_minutes: 0,
        },
    }
}

/// An account with one message in INBOX (and `folders`, each with one
/// message): its files written.
fn filled(b: &MaildirBackend, name: &str, folders: &[&str]) {
    let a = account(name);
    b.create_account(&a).expect("account created");
    b.append(&a, &MailboxName::inbox(), vec![message("one")])
        .expect("appended");
    for f in folders {
        let folder = MailboxName::new(f).expect("a valid name");
        b.create_mailbox(&a, &folder, &[]).expect("folder created");
        b.append(&a, &folder, vec![message(f)]).expect("appended");
    }
}

/// The Maildir directory of folder `folder` (`""` for INBOX).
fn folder_dir(root: &Path, name: &str, folder: &str) -> PathBuf {
    let maildir = root.join(name).join("Maildir");
    if folder.is_empty() {
        maildir
    } else {
        maildir.join(format!(".{folder}"))
    }
}

/// Replaces the folder's uidlist (by a rename, as its writers do) with
/// its header and `records` more records (`<uid> :<uid>`, a few octets
/// each, of files that do not exist), after the ones it has; returns the
/// new file's contents.
fn pad_uidlist(dir: &Path, records: u32) -> Vec<u8> {
    let path = dir.join("dovecot-uidlist");
    let mut text = fs::read(&path).expect("a uidlist");
    for uid in 100..100 + records {
        text.extend_from_slice(format!("{uid} :{uid}\n").as_bytes());
    }
    let tmp = dir.join("dovecot-uidlist.pad");
    fs::write(&tmp, &text).expect("written");
    fs::rename(&tmp, &path).expect("renamed");
    text
}

/// A uidlist of about 30 MB of records a few octets long, read with an
/// allowance of 32 MiB: refused once its records would take more, with
/// the process's peak memory near the allowance and the file's size. The
/// whole list took about 400 MB (some 200 octets per record).
#[test]
fn a_uidlist_of_tiny_records_is_read_within_the_allowance() {
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let b = backend(tmp.path(), 32 << 20);
    filled(&b, "alice", &[]);
    let dir = folder_dir(tmp.path(), "alice", "");
    let written = pad_uidlist(&dir, 1_800_000);
    assert!(
        written.len() > 25 << 20 && written.len() < 32 << 20,
        "{}",
        written.len()
    );
    let before = peak_kib();
    let fresh = backend(tmp.path(), 32 << 20);
    let read = fresh.mailbox_snapshot(&account("alice"), &MailboxName::inbox());
    assert!(matches!(read, Err(StoreError::Limit(_))), "{read:?}");
    let grown = peak_kib().saturating_sub(before);
    assert!(grown < 160 * 1024, "the peak grew by {grown} KiB");
    // The file is left as it is.
    assert_eq!(
        fs::read(dir.join("dovecot-uidlist")).expect("the uidlist"),
        written
    );
}

/// Over the allowance, the folder is refused with a limit and its files
/// are left as they are; other accounts are served; and once the file is
/// mended the folder is read again.
#[test]
fn a_folder_over_the_allowance_is_refused_and_read_once_mended() {
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let b = backend(tmp.path(), 1 << 20);
    filled(&b, "alice", &[]);
    filled(&b, "bob", &[]);
    let dir = folder_dir(tmp.path(), "alice", "");
    let original = fs::read(dir.join("dovecot-uidlist")).expect("the uidlist");
    let written = pad_uidlist(&dir, 20_000);
    let inbox = MailboxName::inbox();
    // A new instance (this one serves what it read before, until a sync).
    let b = backend(tmp.path(), 1 << 20);
    let read = b.mailbox_snapshot(&account("alice"), &inbox);
    assert!(matches!(read, Err(StoreError::Limit(_))), "{read:?}");
    assert_eq!(
        fs::read(dir.join("dovecot-uidlist")).expect("the uidlist"),
        written
    );
    let bob = b.mailbox_snapshot(&account("bob"), &inbox).expect("bob's INBOX");
    assert_eq!(bob.messages.len(), 1);
    // A journal of many tombstones is refused the same way.
    let journal = dir.join("mailwire-modseq");
    let header = fs::read_to_string(&journal).expect("the journal");
    let mut padded = header.clone();
    for uid in 100..60_000 {
        padded.push_str(&format!("x{uid} 5\n"));
    }
    fs::write(dir.join("dovecot-uidlist.pad"), &original).expect("written");
    fs::rename(dir.join("dovecot-uidlist.pad"), dir.join("dovecot-uidlist")).expect("renamed");
    fs::write(dir.join("journal.pad"), &padded).expect("written");
    fs::rename(dir.join("journal.pad"), &journal).expect("renamed");
    let read = b.mailbox_snapshot(&account("alice"), &inbox);
    assert!(matches!(read, Err(StoreError::Limit(_))), "{read:?}");
    assert_eq!(fs::read_to_string(&journal).expect("the journal"), padded);
    // Mended, the folder is read again, as it was.
    fs::write(dir.join("journal.pad"), &header).expect("written");
    fs::rename(dir.join("journal.pad"), &journal).expect("renamed");
    let snapshot = b
        .mailbox_snapshot(&account("alice"), &inbox)
        .expect("alice's INBOX");
    assert_eq!(snapshot.messages.len(), 1);
}

/// Folders of one account that do not fit in its allowance together are
/// served one after another, each read again when used again; another
/// account has an allowance of its own.
#[test]
fn folders_that_do_not_fit_together_are_served_one_after_another() {
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let b = backend(tmp.path(), 1 << 20);
    filled(&b, "alice", &["A", "B"]);
    filled(&b, "bob", &["A"]);
    // About 0.6 MiB of records and journal entries each (records of
    // files that do not exist would be dropped by the first look).
    let many: Vec<NewMessage> = (0..1_250).map(|i| message(&i.to_string())).collect();
    for (name, folder) in [("alice", "A"), ("alice", "B"), ("bob", "A")] {
        let folder = MailboxName::new(folder).expect("a valid name");
        b.append(&account(name), &folder, many.clone()).expect("appended");
    }
    let fresh = backend(tmp.path(), 1 << 20);
    let (a, b_) = (MailboxName::new("A").unwrap(), MailboxName::new("B").unwrap());
    for (name, folder) in [("alice", &a), ("alice", &b_), ("bob", &a), ("alice", &a)] {
        let snapshot = fresh
            .mailbox_snapshot(&account(name), folder)
            .unwrap_or_else(|e| panic!("{name}'s {folder:?}: {e}"));
        assert_eq!(snapshot.messages.len(), 1_251);
    }
}

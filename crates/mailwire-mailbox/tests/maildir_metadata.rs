//! Metadata files of a Maildir that the user (who can write to their own
//! Maildir) or another program damaged: a huge sparse `dovecot-keywords`,
//! `subscriptions` or `dovecot-uidvalidity` is refused (or ignored) without
//! an allocation of its claimed size, and a `dovecot-keywords` line that
//! cannot be read costs only its own keyword.

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use mailwire_mailbox::{
    AccountName, Backend, FlagAction, Flags, InternalDate, MailboxName, MailboxRef, MaildirBackend,
    MaildirOptions, NewMessage, StoreError, StoreFlags, Uid,
};

/// What `truncate -s 1T` makes: a file that claims a tebibyte and
/// occupies no disk.
const TEBIBYTE: u64 = 1 << 40;

fn backend(dir: &Path) -> MaildirBackend {
    MaildirBackend::with_options(dir, MaildirOptions::default().with_fsync(false)).unwrap()
}

fn acct() -> AccountName {
    AccountName::new("alice").unwrap()
}

fn mb(s: &str) -> MailboxName {
    MailboxName::new(s).unwrap()
}

fn maildir(tmp: &Path) -> PathBuf {
    tmp.join("alice").join("Maildir")
}

fn flags(names: &[&str]) -> Flags {
    Flags::parse(names.iter().copied()).unwrap()
}

fn msg(body: &str, flags: &[&str]) -> NewMessage {
    NewMessage {
        content: Bytes::from(format!("Subject: {body}\r\n\r\n{body}\r\n")),
        flags: Flags::parse(flags.iter().copied()).unwrap(),
        internal_date: InternalDate::from_unix(1_700_000_000),
    }
}

/// Makes `path` a sparse file of `len` octets, as `truncate -s` does.
fn make_sparse(path: &Path, len: u64) {
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .unwrap();
    file.set_len(len).unwrap();
}

#[test]
fn a_huge_sparse_keywords_file_is_an_error_not_an_abort() {
    let tmp = tempfile::tempdir().unwrap();
    let b = backend(tmp.path());
    let a = acct();
    b.create_account(&a).unwrap();
    let inbox = MailboxName::inbox();
    let appended = b.append(&a, &inbox, vec![msg("one", &["Work"])]).unwrap();
    let r = MailboxRef {
        name: inbox.clone(),
        uid_validity: appended.uid_validity,
    };
    let path = maildir(tmp.path()).join("dovecot-keywords");
    let kept = fs::read(&path).unwrap();
    make_sparse(&path, TEBIBYTE);

    // A new instance has nothing cached: it must read the file.
    let fresh = backend(tmp.path());
    let err = fresh.mailbox_snapshot(&a, &inbox).unwrap_err();
    assert!(
        matches!(&err, StoreError::Permanent(text) if text.contains("dovecot-keywords")),
        "{err:?}"
    );
    // The instance that read the file before reads it again to sync.
    let err = b.sync(&a, &r).unwrap_err();
    assert!(matches!(err, StoreError::Permanent(_)), "{err:?}");

    // Repaired, the folder is served again, its keyword intact.
    fs::write(&path, kept).unwrap();
    let snap = fresh.mailbox_snapshot(&a, &inbox).unwrap();
    assert_eq!(snap.messages[0].flags, Flags::parse(["Work"]).unwrap());
}

#[test]
fn a_huge_sparse_subscriptions_file_is_an_error_not_an_abort() {
    let tmp = tempfile::tempdir().unwrap();
    let b = backend(tmp.path());
    let a = acct();
    b.create_account(&a).unwrap();
    b.set_subscribed(&a, &mb("Sent"), true).unwrap();
    let path = maildir(tmp.path()).join("subscriptions");
    let kept = fs::read(&path).unwrap();
    make_sparse(&path, TEBIBYTE);

    let err = b.subscriptions(&a).unwrap_err();
    assert!(
        matches!(&err, StoreError::Permanent(text) if text.contains("subscriptions")),
        "{err:?}"
    );
    let err = b.set_subscribed(&a, &mb("Drafts"), true).unwrap_err();
    assert!(matches!(err, StoreError::Permanent(_)), "{err:?}");
    assert_eq!(
        fs::metadata(&path).unwrap().len(),
        TEBIBYTE,
        "a refused file is left as it is"
    );

    fs::write(&path, kept).unwrap();
    assert_eq!(b.subscriptions(&a).unwrap(), [mb("Sent")]);
}

/// `dovecot-uidvalidity` is only a hint (the marker files and mailwire's
/// own state file also say which UIDVALIDITY was given last): a huge one
/// is ignored, as unreadable content is.
#[test]
fn a_huge_sparse_uidvalidity_file_is_ignored() {
    let tmp = tempfile::tempdir().unwrap();
    let b = backend(tmp.path());
    let a = acct();
    b.create_account(&a).unwrap();
    let first = b.create_mailbox(&a, &mb("One"), &[]).unwrap();
    make_sparse(&maildir(tmp.path()).join("dovecot-uidvalidity"), TEBIBYTE);
    let second = b.create_mailbox(&a, &mb("Two"), &[]).unwrap();
    assert!(second.uid_validity > first.uid_validity);
}

/// The names of the files in `cur/`, sorted.
fn cur_files(md: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(md.join("cur"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// The name of the file in `cur/` of the message `msg(body, ...)` made.
fn file_of(md: &Path, body: &str) -> String {
    let subject = format!("Subject: {body}\r\n");
    cur_files(md)
        .into_iter()
        .find(|name| {
            fs::read(md.join("cur").join(name))
                .unwrap()
                .starts_with(subject.as_bytes())
        })
        .unwrap()
}

fn add_flags(b: &MaildirBackend, r: &MailboxRef, uids: &[u32], names: &[&str]) {
    let stored = b
        .store_flags(
            &acct(),
            r,
            &StoreFlags {
                uids: uids.iter().map(|&u| Uid::new(u).unwrap()).collect(),
                action: FlagAction::Add,
                flags: flags(names),
                condition: None,
            },
        )
        .unwrap();
    assert_eq!(stored.updated.len(), uids.len());
}

/// A `dovecot-keywords` line that is not UTF-8 (Dovecot reads it, as the
/// octets it is) once emptied the whole table: a flag change then dropped
/// every keyword letter from the file names, and the next new keyword
/// took letter `a`, relabelling every message that had it.
#[test]
fn a_keyword_line_that_cannot_be_read_costs_only_its_own_keyword() {
    let tmp = tempfile::tempdir().unwrap();
    let b = backend(tmp.path());
    let a = acct();
    b.create_account(&a).unwrap();
    let inbox = MailboxName::inbox();
    let appended = b
        .append(&a, &inbox, vec![msg("one", &["Work"]), msg("two", &["Temp"])])
        .unwrap();
    let r = MailboxRef {
        name: inbox.clone(),
        uid_validity: appended.uid_validity,
    };
    let md = maildir(tmp.path());
    let path = md.join("dovecot-keywords");
    assert_eq!(fs::read(&path).unwrap(), b"0 Work\n1 Temp\n");
    // Letter b's line damaged: Dovecot would serve it as "caf\xe9".
    fs::write(&path, b"0 Work\n1 caf\xe9\n").unwrap();

    add_flags(&b, &r, &[1, 2], &["\\Flagged"]);
    assert!(file_of(&md, "one").ends_with(":2,Fa"), "{:?}", cur_files(&md));
    assert!(file_of(&md, "two").ends_with(":2,Fb"), "{:?}", cur_files(&md));
    let snap = backend(tmp.path()).mailbox_snapshot(&a, &inbox).unwrap();
    assert_eq!(snap.messages[0].flags, flags(&["\\Flagged", "Work"]));
    assert_eq!(snap.messages[1].flags, flags(&["\\Flagged"]));

    // A copy to another folder keeps no `b`: there the letter is another
    // keyword (one Dovecot would serve, "Gro\xdf").
    let archive = b.create_mailbox(&a, &mb("Archive"), &[]).unwrap();
    fs::write(md.join(".Archive/dovecot-keywords"), b"1 Gro\xdf\n").unwrap();
    b.copy(&a, &r, &[Uid::new(2).unwrap()], &archive.name).unwrap();
    let copies = cur_files(&md.join(".Archive"));
    assert!(copies[0].ends_with(":2,F"), "{copies:?}");

    // A new keyword takes neither `a` nor the damaged line's `b`, and the
    // damaged line is written back as it was read.
    add_flags(&b, &r, &[1], &["New"]);
    assert_eq!(fs::read(&path).unwrap(), b"0 Work\n1 caf\xe9\n2 New\n");
    assert!(file_of(&md, "one").ends_with(":2,Fac"), "{:?}", cur_files(&md));

    // Repaired, every keyword is back where it was.
    fs::write(&path, "0 Work\n1 Temp\n2 New\n").unwrap();
    let snap = backend(tmp.path()).mailbox_snapshot(&a, &inbox).unwrap();
    assert_eq!(snap.messages[0].flags, flags(&["\\Flagged", "Work", "New"]));
    assert_eq!(snap.messages[1].flags, flags(&["\\Flagged", "Temp"]));
}

/// A keyword letter on a message with no line at all for it (the file
/// lost it, or another program wrote the letter): Dovecot names it
/// `unknown-<i>` when it sees it; mailwire keeps it and gives the letter
/// to no new keyword, which would relabel that message.
#[test]
fn a_new_keyword_takes_no_letter_a_message_carries() {
    let tmp = tempfile::tempdir().unwrap();
    let b = backend(tmp.path());
    let a = acct();
    b.create_account(&a).unwrap();
    let inbox = MailboxName::inbox();
    b.append(&a, &inbox, vec![msg("one", &["\\Seen"])]).unwrap();
    let md = maildir(tmp.path());
    let name = file_of(&md, "one");
    let stray = name.replace(":2,S", ":2,Sa");
    fs::rename(md.join("cur").join(&name), md.join("cur").join(&stray)).unwrap();

    let appended = b.append(&a, &inbox, vec![msg("two", &["New"])]).unwrap();
    assert_eq!(
        fs::read_to_string(md.join("dovecot-keywords")).unwrap(),
        "1 New\n"
    );
    let snap = backend(tmp.path()).mailbox_snapshot(&a, &inbox).unwrap();
    assert_eq!(snap.messages[0].flags, flags(&["\\Seen"]));
    assert_eq!(snap.messages[1].flags, flags(&["New"]));
    let r = MailboxRef {
        name: inbox,
        uid_validity: appended.uid_validity,
    };
    add_flags(&b, &r, &[1], &["\\Flagged"]);
    assert!(file_of(&md, "one").ends_with(":2,FSa"), "{:?}", cur_files(&md));
}

//! Metadata files of a Maildir that the user (who can write to their own
//! Maildir) or another program damaged: a huge sparse `dovecot-keywords`,
//! `subscriptions` or `dovecot-uidvalidity` is refused (or ignored) without
//! an allocation of its claimed size, and a `dovecot-keywords` line that
//! cannot be read costs only its own keyword.

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use mailwire_mailbox::{
    AccountName, Backend, Flags, InternalDate, MailboxName, MailboxRef, MaildirBackend, MaildirOptions,
    NewMessage, StoreError,
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

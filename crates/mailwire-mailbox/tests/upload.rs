//! Messages received in pieces (`Account::start_upload`): the content
//! stored equals the canonical form of the whole, however it was cut; a
//! Maildir upload goes through the folder's `tmp/` and leaves nothing
//! there, also when it fails or is dropped.

use std::fs;
use std::path::Path;

use bytes::Bytes;
use mailwire_mailbox::{
    AccountName, Flags, InternalDate, MailboxName, MaildirBackend, MaildirOptions, MemoryBackend, Store,
    StoreConfig, StoreError, canonical_crlf,
};
use proptest::prelude::*;

fn alice() -> AccountName {
    AccountName::new("alice").unwrap()
}

fn maildir_store(dir: &Path, config: StoreConfig) -> Store {
    let backend = MaildirBackend::with_options(dir, MaildirOptions::default().with_fsync(false)).unwrap();
    let store = Store::with_config(backend, config);
    store.create_account(&alice()).unwrap();
    store
}

fn memory_store() -> Store {
    let store = Store::new(MemoryBackend::new());
    store.create_account(&alice()).unwrap();
    store
}

/// The files of a folder's subdirectory, which must exist.
fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Uploads `pieces` as one message and returns what the store then holds.
fn round_trip(store: &Store, pieces: &[&[u8]]) -> Bytes {
    let account = store.account(&alice()).unwrap();
    let inbox = MailboxName::inbox();
    let mut upload = account.start_upload(&inbox, Flags::default(), None).unwrap();
    for piece in pieces {
        upload.write(piece).unwrap();
    }
    let appended = account.append_uploads(&inbox, vec![upload]).unwrap();
    account.read_message(&inbox, appended.uids[0]).unwrap()
}

#[test]
fn a_maildir_upload_is_written_through_tmp_and_stored_canonical() {
    let dir = tempfile::tempdir().unwrap();
    let store = maildir_store(dir.path(), StoreConfig::default());
    let maildir = dir.path().join("alice/Maildir");
    let account = store.account(&alice()).unwrap();
    let inbox = MailboxName::inbox();
    let date = InternalDate {
        unix_seconds: 1_700_000_000,
        zone_minutes: 60,
    };
    let flags = Flags::parse(["\\Seen", "$Work"]).unwrap();
    let mut upload = account.start_upload(&inbox, flags.clone(), Some(date)).unwrap();
    // A CR at the end of one piece, its LF at the start of the next; bare
    // LFs; no final line end.
    for piece in [&b"Subject: x\r"[..], b"\nFrom: a@b\n\nline\r\n", b"last"] {
        upload.write(piece).unwrap();
        assert_eq!(
            files(&maildir.join("tmp")).len(),
            1,
            "written to tmp/ as it comes"
        );
    }
    let expected = b"Subject: x\r\nFrom: a@b\r\n\r\nline\r\nlast\r\n";
    assert_eq!(
        upload.size(),
        expected.len() as u64 - 2,
        "the final CRLF is added at the end"
    );
    let mut second = account.start_upload(&inbox, Flags::default(), None).unwrap();
    second.write(b"Subject: two\n\nbody\n").unwrap();
    let appended = account.append_uploads(&inbox, vec![upload, second]).unwrap();
    assert_eq!(appended.uids.len(), 2);
    assert_eq!(appended.uids[1].get(), appended.uids[0].get() + 1);
    assert!(
        files(&maildir.join("tmp")).is_empty(),
        "{:?}",
        files(&maildir.join("tmp"))
    );
    assert_eq!(
        &account.read_message(&inbox, appended.uids[0]).unwrap()[..],
        expected
    );
    assert_eq!(
        &account.read_message(&inbox, appended.uids[1]).unwrap()[..],
        b"Subject: two\r\n\r\nbody\r\n"
    );
    let snapshot = account.snapshot(&inbox).unwrap();
    let first = snapshot
        .messages
        .iter()
        .find(|m| m.uid == appended.uids[0])
        .unwrap();
    assert_eq!(first.flags, flags);
    assert_eq!(first.internal_date.unix_seconds, date.unix_seconds);
    assert_eq!(first.size, expected.len() as u64);
    // The file has its size in its name, as Dovecot reads it.
    let stored: Vec<String> = files(&maildir.join("cur"));
    assert!(
        stored
            .iter()
            .any(|n| n.contains(&format!(",S={},", expected.len()))),
        "{stored:?}"
    );
}

#[test]
fn a_dropped_or_failed_upload_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig {
        max_message_size: 100,
        ..StoreConfig::default()
    };
    let store = maildir_store(dir.path(), config);
    let tmp = dir.path().join("alice/Maildir/tmp");
    let account = store.account(&alice()).unwrap();
    let inbox = MailboxName::inbox();

    let mut dropped = account.start_upload(&inbox, Flags::default(), None).unwrap();
    dropped.write(b"Subject: never\r\n").unwrap();
    assert_eq!(files(&tmp).len(), 1, "the upload is written to tmp/");
    drop(dropped);
    assert!(files(&tmp).is_empty());

    // 99 octets whose bare LF makes them 100, then one more.
    let mut big = account.start_upload(&inbox, Flags::default(), None).unwrap();
    big.write(&[b'a'; 98]).unwrap();
    big.write(b"\n").unwrap();
    assert_eq!(big.size(), 100);
    assert!(matches!(big.write(b"b"), Err(StoreError::Limit(_))));
    assert!(files(&tmp).is_empty(), "a refused upload is removed at once");
    assert!(big.write(b"c").is_err());
    assert!(account.append_uploads(&inbox, vec![big]).is_err());
    // 99 octets that the final CRLF would take past the limit.
    let mut edge = account.start_upload(&inbox, Flags::default(), None).unwrap();
    edge.write(&[b'a'; 99]).unwrap();
    assert!(matches!(
        account.append_uploads(&inbox, vec![edge]),
        Err(StoreError::Limit(_))
    ));
    assert!(files(&tmp).is_empty());
    assert!(account.snapshot(&inbox).unwrap().messages.is_empty());

    // A mailbox that does not exist, and too many keywords.
    assert!(matches!(
        account.start_upload(&MailboxName::new("Nowhere").unwrap(), Flags::default(), None),
        Err(StoreError::NoSuchMailbox(_))
    ));
    let many: Vec<String> = (0..200).map(|i| format!("k{i}")).collect();
    let many = Flags::parse(many.iter().map(String::as_str)).unwrap();
    assert!(account.start_upload(&inbox, many, None).is_err());
    assert!(files(&tmp).is_empty());
}

/// A completed upload keeps its file (closed: the server's MULTIAPPEND
/// test counts its descriptors) until it is appended or dropped; it takes
/// no more data, and completes again as a no-op.
#[test]
fn a_completed_upload_is_stored_or_removed_like_any_other() {
    let dir = tempfile::tempdir().unwrap();
    let store = maildir_store(dir.path(), StoreConfig::default());
    let tmp = dir.path().join("alice/Maildir/tmp");
    let account = store.account(&alice()).unwrap();
    let inbox = MailboxName::inbox();

    let mut kept = account.start_upload(&inbox, Flags::default(), None).unwrap();
    kept.write(b"Subject: kept\n\nno final line end").unwrap();
    kept.complete().unwrap();
    assert_eq!(files(&tmp).len(), 1, "its file stays in tmp/");
    kept.complete().unwrap();
    assert!(kept.write(b"more").is_err(), "a completed upload takes no more");
    let mut open = account.start_upload(&inbox, Flags::default(), None).unwrap();
    open.write(
        b"Subject: open

x
",
    )
    .unwrap();
    let appended = account.append_uploads(&inbox, vec![kept, open]).unwrap();
    assert_eq!(
        &account.read_message(&inbox, appended.uids[0]).unwrap()[..],
        b"Subject: kept\r\n\r\nno final line end\r\n"
    );
    assert!(files(&tmp).is_empty());

    let mut dropped = account.start_upload(&inbox, Flags::default(), None).unwrap();
    dropped.write(b"Subject: dropped\r\n").unwrap();
    dropped.complete().unwrap();
    drop(dropped);
    assert!(files(&tmp).is_empty(), "a completed upload dropped is removed");

    // Without staging files (the memory backend) it is the same.
    let store = memory_store();
    let account = store.account(&alice()).unwrap();
    let mut upload = account.start_upload(&inbox, Flags::default(), None).unwrap();
    upload.write(b"Subject: m\n\nx").unwrap();
    upload.complete().unwrap();
    let appended = account.append_uploads(&inbox, vec![upload]).unwrap();
    assert_eq!(
        &account.read_message(&inbox, appended.uids[0]).unwrap()[..],
        b"Subject: m\r\n\r\nx\r\n"
    );
}

proptest! {
    /// However a message is cut, the stored content is the canonical form
    /// of the whole (memory and Maildir backends).
    #[test]
    fn any_cut_stores_the_canonical_form(
        content in proptest::collection::vec(prop_oneof![Just(b'a'), Just(b'\r'), Just(b'\n')], 0..40),
        cuts in proptest::collection::vec(0usize..40, 0..6),
    ) {
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(content.len())).collect();
        cuts.sort_unstable();
        let mut pieces = Vec::new();
        let mut start = 0;
        for cut in cuts.into_iter().chain([content.len()]) {
            pieces.push(&content[start..cut]);
            start = cut;
        }
        let expected = canonical_crlf(Bytes::from(content.clone()));
        prop_assert_eq!(&round_trip(&memory_store(), &pieces)[..], &expected[..]);
        let dir = tempfile::tempdir().unwrap();
        let store = maildir_store(dir.path(), StoreConfig::default());
        prop_assert_eq!(&round_trip(&store, &pieces)[..], &expected[..]);
    }
}

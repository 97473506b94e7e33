//! A full disk under a Maildir (a small tmpfs, filled): deleting mail is
//! how a user frees space, so an expunge must go through even when the
//! MODSEQ journal is due for a rewrite (which needs room), and the
//! space must come back. Every instance then agrees that the message is
//! gone, a resynchronising client is told so, and HIGHESTMODSEQ never
//! goes down. Needs root to mount the tmpfs: skipped loudly without it on
//! a developer machine, failed under `CI`.

use std::fs;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use bytes::Bytes;
use mailwire_mailbox::{
    AccountName, Backend, ExpungeRequest, FlagAction, Flags, InternalDate, MailboxName, MailboxRef,
    MaildirBackend, MaildirOptions, ModSeq, NewMessage, SelectMode, Store, StoreFlags, Uid,
};

#[path = "support/tmpfs.rs"]
mod tmpfs;
use tmpfs::Tmpfs;

fn open(root: &Path) -> MaildirBackend {
    MaildirBackend::with_options(root, MaildirOptions::default()).unwrap()
}

/// A message of about 60 KiB, so that deleting it frees pages.
fn message(n: u32) -> NewMessage {
    NewMessage {
        content: Bytes::from(format!("Subject: {n}\r\n\r\n{}\r\n", "m".repeat(60 * 1024))),
        flags: Flags::new(),
        internal_date: InternalDate::from_unix(1_700_000_000),
    }
}

fn seen(uid: Uid, action: FlagAction) -> StoreFlags {
    flag(uid, action, "\\Seen")
}

fn flag(uid: Uid, action: FlagAction, name: &str) -> StoreFlags {
    StoreFlags {
        uids: vec![uid],
        action,
        flags: Flags::parse([name]).unwrap(),
        condition: None,
    }
}

fn expunge_one(uid: Uid) -> ExpungeRequest {
    ExpungeRequest {
        uids: Some(vec![uid]),
        only_deleted: false,
    }
}

/// The journal's inode and its number of lines.
fn journal_state(maildir: &Path) -> (u64, usize) {
    let path = maildir.join("mailwire-modseq");
    let ino = fs::metadata(&path).unwrap().ino();
    (ino, fs::read_to_string(&path).unwrap().lines().count())
}

/// Flag changes until the journal is due for a rewrite: until one
/// rewrote it (a new inode), then until it is as long again as the
/// longest it grew to before, so that the next write rewrites it. (The
/// rule is the journal's own; the test finds it out.)
fn flag_changes_until_a_rewrite_is_due(b: &MaildirBackend, a: &AccountName, r: &MailboxRef, uid: Uid) {
    let maildir = b.maildir_path(a);
    let (first, mut longest) = journal_state(&maildir);
    let mut on = true;
    let mut toggle = || {
        let action = if on { FlagAction::Add } else { FlagAction::Remove };
        on = !on;
        assert_eq!(b.store_flags(a, r, &seen(uid, action)).unwrap().updated.len(), 1);
        journal_state(&maildir)
    };
    loop {
        let (ino, lines) = toggle();
        if ino != first {
            break;
        }
        longest = lines;
        assert!(lines < 10_000, "the journal is never rewritten");
    }
    while toggle().1 < longest {}
    assert_eq!(journal_state(&maildir).1, longest);
}

/// The files below a directory, by path from `dir`.
fn all_files(dir: &Path, under: &str, out: &mut Vec<String>) {
    for e in fs::read_dir(dir.join(under)).unwrap().flatten() {
        let path = format!("{under}{}", e.file_name().to_string_lossy());
        if e.file_type().unwrap().is_dir() {
            all_files(dir, &format!("{path}/"), out);
        } else {
            out.push(path);
        }
    }
}

/// What a write that failed half-way would leave in the Maildir: a
/// temporary file, or a metadata file without its last line end.
fn half_written(maildir: &Path) -> Vec<String> {
    let mut files = Vec::new();
    all_files(maildir, "", &mut files);
    files
        .into_iter()
        .filter(|f| {
            let torn = (f == "mailwire-modseq" || f == "dovecot-uidlist")
                && !fs::read(maildir.join(f)).unwrap().ends_with(b"\n");
            f.ends_with(".tmp") || f.starts_with("tmp/") || torn
        })
        .collect()
}

fn message_count(maildir: &Path) -> usize {
    ["new", "cur"]
        .iter()
        .map(|d| fs::read_dir(maildir.join(d)).unwrap().count())
        .sum()
}

#[test]
fn an_expunge_due_to_rewrite_the_journal_goes_through_on_a_full_disk() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(disk) = Tmpfs::mount(&tmp.path().join("mnt"), "1m") else {
        return;
    };
    let root = disk.path().join("mail");
    let (a, inbox) = (AccountName::new("alice").unwrap(), MailboxName::inbox());
    let b = open(&root);
    b.create_account(&a).unwrap();
    let added = b
        .append(&a, &inbox, (1..=3).map(message).collect())
        .unwrap()
        .messages;
    let uids: Vec<Uid> = added.iter().map(|m| m.uid).collect();
    let r = b.mailbox(&a, &inbox).unwrap().to_ref();
    let maildir = b.maildir_path(&a);
    flag_changes_until_a_rewrite_is_due(&b, &a, &r, uids[0]);
    let before = b.mailbox_snapshot(&a, &inbox).unwrap().highest_modseq;

    disk.fill("filler");
    let full = disk.free();
    let done = b
        .expunge(&a, &r, &expunge_one(uids[1]))
        .expect("an expunge on a full disk");
    assert_eq!(done.uids, [uids[1]]);
    let expunged = done.modseq.unwrap();
    assert!(expunged > before);
    assert_eq!(message_count(&maildir), 2, "the file left the folder");
    b.purge(&a, &r, &[uids[1]]).unwrap();
    assert!(
        disk.free() >= full + 48 * 1024,
        "no space was freed: {} bytes free, {full} before",
        disk.free()
    );
    assert_eq!(half_written(&maildir), Vec::<String>::new());
    agree_on(&root, &a, &r, &[uids[0], uids[2]], before, expunged);

    // Full again: flag changes, and another expunge, go through too.
    disk.fill("filler2");
    for action in [FlagAction::Add, FlagAction::Remove, FlagAction::Add] {
        let stored = b
            .store_flags(&a, &r, &flag(uids[0], action, "\\Flagged"))
            .unwrap();
        assert_eq!(stored.updated.len(), 1);
    }
    disk.fill("filler3");
    let done = b
        .expunge(&a, &r, &expunge_one(uids[2]))
        .expect("a second expunge on a full disk");
    assert_eq!(done.uids, [uids[2]]);
    let second = done.modseq.unwrap();
    assert!(second > expunged);
    b.purge(&a, &r, &[uids[2]]).unwrap();
    assert_eq!(message_count(&maildir), 1);
    assert_eq!(half_written(&maildir), Vec::<String>::new());
    agree_on(&root, &a, &r, &[uids[0]], before, second);
    assert_eq!(
        b.mailbox_snapshot(&a, &inbox)
            .unwrap()
            .messages
            .iter()
            .map(|m| m.uid)
            .collect::<Vec<_>>(),
        [uids[0]]
    );
    // With room again, every write goes on as before.
    for f in ["filler", "filler2", "filler3"] {
        disk.remove(f);
    }
    b.store_flags(&a, &r, &seen(uids[0], FlagAction::Remove)).unwrap();
    agree_on(&root, &a, &r, &[uids[0]], before, second);
}

/// The journal filled up to the end of its last page, with a line that
/// changes nothing (a `\Recent` claim of UID 1, padded with zeros): not a
/// byte can be appended on a full disk.
fn pad_journal_to_a_page(maildir: &Path) {
    let path = maildir.join("mailwire-modseq");
    let len = fs::metadata(&path).unwrap().len() as usize;
    let pad = (4096 - (len + 3) % 4096) % 4096;
    let mut f = fs::OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(format!("r{}1\n", "0".repeat(pad)).as_bytes())
        .unwrap();
    assert_eq!(fs::metadata(&path).unwrap().len() % 4096, 0);
}

#[test]
fn an_expunge_goes_through_on_a_full_disk_with_no_room_to_append_to_the_journal() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(disk) = Tmpfs::mount(&tmp.path().join("mnt"), "1m") else {
        return;
    };
    let root = disk.path().join("mail");
    let (a, inbox) = (AccountName::new("alice").unwrap(), MailboxName::inbox());
    let b = open(&root);
    b.create_account(&a).unwrap();
    let added = b
        .append(&a, &inbox, (1..=3).map(message).collect())
        .unwrap()
        .messages;
    let uids: Vec<Uid> = added.iter().map(|m| m.uid).collect();
    let r = b.mailbox(&a, &inbox).unwrap().to_ref();
    let maildir = b.maildir_path(&a);
    let before = b.mailbox_snapshot(&a, &inbox).unwrap().highest_modseq;
    pad_journal_to_a_page(&maildir);

    disk.fill("filler");
    let journal = fs::read(maildir.join("mailwire-modseq")).unwrap();
    let done = b
        .expunge(&a, &r, &expunge_one(uids[1]))
        .expect("an expunge on a full disk");
    assert_eq!(done.uids, [uids[1]]);
    let expunged = done.modseq.unwrap();
    assert_eq!(message_count(&maildir), 2, "the file left the folder");
    assert_eq!(
        fs::read(maildir.join("mailwire-modseq")).unwrap(),
        journal,
        "the journal had room after all"
    );
    assert_eq!(half_written(&maildir), Vec::<String>::new());
    let full = disk.free();
    b.purge(&a, &r, &[uids[1]]).unwrap();
    assert!(
        disk.free() >= full + 48 * 1024,
        "no space was freed: {} bytes free, {full} before",
        disk.free()
    );
    let journal = fs::read_to_string(maildir.join("mailwire-modseq")).unwrap();
    assert!(
        journal.contains(&format!("\nx{} {}\n", uids[1].get(), expunged.get())),
        "the expunge is recorded once there is room: {journal}"
    );
    assert_eq!(half_written(&maildir), Vec::<String>::new());
    agree_on(&root, &a, &r, &[uids[0], uids[2]], before, expunged);
}

/// A read-write SELECT claims `\Recent` for the new messages, which is a
/// write: on a full disk it does not fail the SELECT.
#[test]
fn a_select_on_a_full_disk_shows_new_messages_as_recent_once() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(disk) = Tmpfs::mount(&tmp.path().join("mnt"), "1m") else {
        return;
    };
    let root = disk.path().join("mail");
    let (a, inbox) = (AccountName::new("alice").unwrap(), MailboxName::inbox());
    let b = open(&root);
    b.create_account(&a).unwrap();
    b.append(&a, &inbox, (1..=3).map(message).collect()).unwrap();
    let maildir = b.maildir_path(&a);
    drop(b);
    pad_journal_to_a_page(&maildir);
    disk.fill("filler");

    let store = Store::new(open(&root));
    let acc = store.account(&a).unwrap();
    let first = acc
        .select(&inbox, SelectMode::ReadWrite)
        .expect("SELECT on a full disk");
    assert_eq!((first.exists(), first.recent()), (3, 3));
    let second = acc.select(&inbox, SelectMode::ReadWrite).unwrap();
    assert_eq!((second.exists(), second.recent()), (3, 0), "recent twice");
    assert_eq!(half_written(&maildir), Vec::<String>::new());
}

/// A fresh instance lists exactly `present`, reports a HIGHESTMODSEQ of
/// at least `highest`, and names every other UID given as vanished since
/// `since`.
fn agree_on(root: &Path, a: &AccountName, r: &MailboxRef, present: &[Uid], since: ModSeq, highest: ModSeq) {
    let fresh = open(root);
    let snapshot = fresh.mailbox_snapshot(a, &r.name).unwrap();
    assert_eq!(snapshot.uid_validity, r.uid_validity);
    let listed: Vec<Uid> = snapshot.messages.iter().map(|m| m.uid).collect();
    assert_eq!(listed, present);
    assert!(
        snapshot.highest_modseq >= highest,
        "HIGHESTMODSEQ went down: {:?} after {highest:?}",
        snapshot.highest_modseq
    );
    let vanished = fresh.vanished_since(a, r, since).unwrap();
    for uid in (1..snapshot.uid_next.get()).filter_map(Uid::new) {
        assert_eq!(
            vanished.contains(uid),
            !present.contains(&uid),
            "UID {uid:?} in {vanished:?}"
        );
    }
}

/// Reading a folder whose uidlist is due to be compacted (many records
/// of expunged messages), as logging in does, needs no room: the
/// compaction waits. Before, it failed the read on a full disk.
#[test]
fn a_folder_due_for_compaction_is_read_on_a_full_disk() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(disk) = Tmpfs::mount(&tmp.path().join("mnt"), "1m") else {
        return;
    };
    let root = disk.path().join("mail");
    let (a, inbox) = (AccountName::new("alice").unwrap(), MailboxName::inbox());
    let b = open(&root);
    b.create_account(&a).unwrap();
    let small = |n: u32| NewMessage {
        content: Bytes::from(format!("Subject: {n}\r\n\r\n{n}\r\n")),
        flags: Flags::new(),
        internal_date: InternalDate::from_unix(1_700_000_000),
    };
    let added = b
        .append(&a, &inbox, (1..=80).map(small).collect())
        .unwrap()
        .messages;
    let r = b.mailbox(&a, &inbox).unwrap().to_ref();
    let gone: Vec<Uid> = added[..40].iter().map(|m| m.uid).collect();
    let request = ExpungeRequest {
        uids: Some(gone.clone()),
        only_deleted: false,
    };
    b.expunge(&a, &r, &request).unwrap();
    b.purge(&a, &r, &gone).unwrap();
    drop(b);
    let maildir = root.join("alice/Maildir");
    let uidlist = fs::read(maildir.join("dovecot-uidlist")).unwrap();
    disk.fill("filler");

    let fresh = open(&root);
    let snapshot = fresh
        .mailbox_snapshot(&a, &inbox)
        .expect("reading a folder on a full disk");
    let listed: Vec<Uid> = snapshot.messages.iter().map(|m| m.uid).collect();
    let kept: Vec<Uid> = added[40..].iter().map(|m| m.uid).collect();
    assert_eq!(listed, kept);
    assert_eq!(fs::read(maildir.join("dovecot-uidlist")).unwrap(), uidlist);
    assert_eq!(half_written(&maildir), Vec::<String>::new());

    // With room, the next reading instance compacts it.
    disk.remove("filler");
    let again = open(&root);
    assert_eq!(again.mailbox_snapshot(&a, &inbox).unwrap().messages.len(), 40);
    let records = fs::read_to_string(maildir.join("dovecot-uidlist"))
        .unwrap()
        .lines()
        .count();
    assert_eq!(records, 41, "the uidlist was not compacted");
}

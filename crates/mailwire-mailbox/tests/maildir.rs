//! Every Backend operation of the Maildir backend on a temporary directory,
//! persistence across instances, and changes made by other programs.

use std::fs;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use mailwire_mailbox::{
    AccountName, Backend, ExpungeRequest, ExternalChange, FlagAction, Flags, InternalDate, MailboxName,
    MailboxRef, MaildirBackend, MaildirOptions, ModSeq, NewMessage, SpecialUse, StoreCondition, StoreError,
    StoreFlags, Uid,
};

fn backend(dir: &Path) -> MaildirBackend {
    MaildirBackend::with_options(dir, MaildirOptions::default().with_fsync(false)).unwrap()
}

fn acct() -> AccountName {
    AccountName::new("alice").unwrap()
}

fn mb(s: &str) -> MailboxName {
    MailboxName::new(s).unwrap()
}

fn flags(names: &[&str]) -> Flags {
    Flags::parse(names.iter().copied()).unwrap()
}

fn msg(body: &str, f: &[&str]) -> NewMessage {
    NewMessage {
        content: Bytes::from(format!("Subject: {body}\r\n\r\n{body}\r\n")),
        flags: flags(f),
        internal_date: InternalDate {
            unix_seconds: 1_700_000_000,
            zone_minutes: 120,
        },
    }
}

fn uid(n: u32) -> Uid {
    Uid::new(n).unwrap()
}

fn inbox_ref(b: &MaildirBackend) -> MailboxRef {
    let snap = b.mailbox_snapshot(&acct(), &MailboxName::inbox()).unwrap();
    MailboxRef {
        name: MailboxName::inbox(),
        uid_validity: snap.uid_validity,
    }
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().into_string().unwrap())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn maildir(tmp: &Path) -> PathBuf {
    tmp.join("alice").join("Maildir")
}

#[test]
fn accounts_and_mailboxes() {
    let tmp = tempfile::tempdir().unwrap();
    let b = backend(tmp.path());
    let a = acct();
    assert!(!b.account_exists(&a).unwrap());
    assert!(matches!(b.list_mailboxes(&a), Err(StoreError::NoSuchAccount(_))));
    b.create_account(&a).unwrap();
    assert!(matches!(b.create_account(&a), Err(StoreError::AccountExists(_))));
    assert!(b.account_exists(&a).unwrap());
    let md = maildir(tmp.path());
    for f in [
        "cur",
        "new",
        "tmp",
        "dovecot-uidlist",
        "mailwire-modseq",
        "mailwire-state",
    ] {
        assert!(md.join(f).exists(), "{f}");
    }
    let list = b.list_mailboxes(&a).unwrap();
    assert_eq!(list.len(), 1);
    assert!(list[0].name.is_inbox());

    let sent = b.create_mailbox(&a, &mb("Sent"), &[SpecialUse::Sent]).unwrap();
    assert!(sent.uid_validity > list[0].uid_validity);
    assert_eq!(sent.special_use, [SpecialUse::Sent]);
    assert!(md.join(".Sent/maildirfolder").exists());
    assert!(matches!(
        b.create_mailbox(&a, &mb("Sent"), &[]),
        Err(StoreError::MailboxExists(_))
    ));
    assert!(matches!(
        b.create_mailbox(&a, &mb("inbox"), &[]),
        Err(StoreError::MailboxExists(_))
    ));
    b.create_mailbox(&a, &mb("Work"), &[]).unwrap();
    let proj = b.create_mailbox(&a, &mb("Work/Entwürfe"), &[]).unwrap();
    assert!(md.join(".Work.Entw&APw-rfe/cur").is_dir());
    let names: Vec<String> = b
        .list_mailboxes(&a)
        .unwrap()
        .iter()
        .map(|e| e.name.to_string())
        .collect();
    assert_eq!(names, ["INBOX", "Sent", "Work", "Work/Entwürfe"]);

    // Rename with inferiors keeps UIDVALIDITY.
    let work = b
        .list_mailboxes(&a)
        .unwrap()
        .into_iter()
        .find(|e| e.name == mb("Work"))
        .unwrap();
    assert!(matches!(
        b.rename_mailbox(&a, &work.to_ref(), &mb("Work/x")),
        Err(StoreError::NotAllowed(_))
    ));
    assert!(matches!(
        b.rename_mailbox(&a, &work.to_ref(), &mb("Sent")),
        Err(StoreError::MailboxExists(_))
    ));
    let pairs = b.rename_mailbox(&a, &work.to_ref(), &mb("Jobs")).unwrap();
    assert_eq!(
        pairs,
        [
            (mb("Work"), mb("Jobs")),
            (mb("Work/Entwürfe"), mb("Jobs/Entwürfe"))
        ]
    );
    let list = b.list_mailboxes(&a).unwrap();
    let moved = list.iter().find(|e| e.name == mb("Jobs/Entwürfe")).unwrap();
    assert_eq!(moved.uid_validity, proj.uid_validity);
    let stale = MailboxRef {
        name: mb("Jobs"),
        uid_validity: proj.uid_validity,
    };
    assert!(matches!(
        b.delete_mailbox(&a, &stale),
        Err(StoreError::MailboxGone(_))
    ));

    // Delete and recreate: a greater UIDVALIDITY; inferiors stay.
    let jobs = list.iter().find(|e| e.name == mb("Jobs")).unwrap().clone();
    b.delete_mailbox(&a, &jobs.to_ref()).unwrap();
    assert!(!md.join(".Jobs").exists());
    assert!(md.join(".Jobs.Entw&APw-rfe").exists());
    let again = b.create_mailbox(&a, &mb("Jobs"), &[]).unwrap();
    assert!(again.uid_validity > jobs.uid_validity);
    assert!(matches!(
        b.mailbox_snapshot(&a, &mb("Nope")),
        Err(StoreError::NoSuchMailbox(_))
    ));

    // A second instance (a restart) sees the same, and its counter goes on.
    drop(b);
    let b2 = backend(tmp.path());
    let list2 = b2.list_mailboxes(&a).unwrap();
    assert!(
        list2
            .iter()
            .any(|e| e.name == mb("Jobs") && e.uid_validity == again.uid_validity)
    );
    let newest = b2.create_mailbox(&a, &mb("Later"), &[]).unwrap();
    assert!(newest.uid_validity > again.uid_validity);
    assert!(fs::read_dir(md.join("mailwire-tmp")).unwrap().next().is_none());
}

#[test]
fn subscriptions_file() {
    let tmp = tempfile::tempdir().unwrap();
    let b = backend(tmp.path());
    let a = acct();
    b.create_account(&a).unwrap();
    assert!(b.subscriptions(&a).unwrap().is_empty());
    b.set_subscribed(&a, &mb("Work/Projects"), true).unwrap();
    b.set_subscribed(&a, &mb("INBOX"), true).unwrap();
    b.set_subscribed(&a, &mb("INBOX"), true).unwrap();
    assert_eq!(b.subscriptions(&a).unwrap(), [mb("INBOX"), mb("Work/Projects")]);
    let text = fs::read_to_string(maildir(tmp.path()).join("subscriptions")).unwrap();
    assert_eq!(text, "V\t2\n\nWork\tProjects\nINBOX\n");
    b.set_subscribed(&a, &mb("Work/Projects"), false).unwrap();
    assert_eq!(b.subscriptions(&a).unwrap(), [mb("INBOX")]);
}

#[test]
fn append_read_flags_expunge_and_persistence() {
    let tmp = tempfile::tempdir().unwrap();
    let b = backend(tmp.path());
    let a = acct();
    b.create_account(&a).unwrap();
    let inbox = MailboxName::inbox();
    let before = b.mailbox_snapshot(&a, &inbox).unwrap();
    assert_eq!(before.uid_next, uid(1));
    let appended = b
        .append(
            &a,
            &inbox,
            vec![
                msg("one", &[]),
                msg("two", &["\\Seen", "$Forwarded"]),
                msg("three", &["\\Deleted"]),
            ],
        )
        .unwrap();
    assert_eq!(appended.uid_validity, before.uid_validity);
    let uids: Vec<u32> = appended.messages.iter().map(|m| m.uid.get()).collect();
    assert_eq!(uids, [1, 2, 3]);
    let m = appended.messages[0].modseq;
    assert!(m > before.highest_modseq);
    assert!(appended.messages.iter().all(|x| x.modseq == m));
    assert_eq!(appended.messages[1].internal_date.zone_minutes, 120);

    // Files as Dovecot names them.
    let md = maildir(tmp.path());
    let new = files_in(&md.join("new"));
    let cur = files_in(&md.join("cur"));
    assert_eq!(new.len(), 1);
    assert_eq!(cur.len(), 2);
    let size = appended.messages[0].size;
    assert!(new[0].ends_with(&format!(",S={size},W={size}")), "{new:?}");
    assert!(cur.iter().any(|n| n.ends_with(":2,Sa")), "{cur:?}");
    assert!(cur.iter().any(|n| n.ends_with(":2,T")), "{cur:?}");
    assert_eq!(
        fs::read_to_string(md.join("dovecot-keywords")).unwrap(),
        "0 $Forwarded\n"
    );
    let uidlist = fs::read_to_string(md.join("dovecot-uidlist")).unwrap();
    assert!(
        uidlist.starts_with(&format!("3 V{} N1 G", before.uid_validity)),
        "{uidlist}"
    );
    assert_eq!(uidlist.lines().count(), 4);

    let r = inbox_ref(&b);
    let body = b.read_message(&a, &r, uid(2)).unwrap();
    assert_eq!(&body[..], b"Subject: two\r\n\r\ntwo\r\n");
    let mut streamed = Vec::new();
    std::io::Read::read_to_end(&mut b.open_message(&a, &r, uid(2)).unwrap(), &mut streamed).unwrap();
    assert_eq!(streamed, body);
    assert!(matches!(
        b.read_message(&a, &r, uid(9)),
        Err(StoreError::NoSuchMessage(_))
    ));

    // Flags: add, condition, no-op.
    let stored = b
        .store_flags(
            &a,
            &r,
            &StoreFlags {
                uids: vec![uid(1), uid(2), uid(7)],
                action: FlagAction::Add,
                flags: flags(&["\\Flagged", "Work"]),
                condition: None,
            },
        )
        .unwrap();
    assert_eq!(stored.updated.len(), 2);
    let m2 = stored.updated[0].modseq;
    assert!(m2 > m);
    assert_eq!(
        stored.updated[1].flags,
        flags(&["\\Seen", "\\Flagged", "$Forwarded", "Work"])
    );
    let cond = b
        .store_flags(
            &a,
            &r,
            &StoreFlags {
                uids: vec![uid(1), uid(3)],
                action: FlagAction::Replace,
                flags: flags(&["\\Answered"]),
                condition: Some(StoreCondition::UnchangedSince(m)),
            },
        )
        .unwrap();
    assert_eq!(cond.failed, [uid(1)]);
    assert_eq!(cond.updated.len(), 1);
    let noop = b
        .store_flags(
            &a,
            &r,
            &StoreFlags {
                uids: vec![uid(2)],
                action: FlagAction::Add,
                flags: flags(&["\\Seen"]),
                condition: None,
            },
        )
        .unwrap();
    assert!(noop.updated.is_empty());
    assert!(
        files_in(&md.join("new")).is_empty(),
        "flagged message moved to cur/"
    );
    assert!(files_in(&md.join("cur")).iter().any(|n| n.ends_with(":2,FSab")));

    // Expunge: \Deleted only; content kept until purge.
    b.store_flags(
        &a,
        &r,
        &StoreFlags {
            uids: vec![uid(1)],
            action: FlagAction::Add,
            flags: flags(&["\\Deleted"]),
            condition: None,
        },
    )
    .unwrap();
    let none = b
        .expunge(
            &a,
            &r,
            &ExpungeRequest {
                uids: Some(vec![uid(2)]),
                only_deleted: true,
            },
        )
        .unwrap();
    assert!(none.uids.is_empty() && none.modseq.is_none());
    let gone = b
        .expunge(
            &a,
            &r,
            &ExpungeRequest {
                uids: None,
                only_deleted: true,
            },
        )
        .unwrap();
    assert_eq!(gone.uids, [uid(1)]);
    let em = gone.modseq.unwrap();
    assert_eq!(
        &b.read_message(&a, &r, uid(1)).unwrap()[..],
        b"Subject: one\r\n\r\none\r\n"
    );
    let tombs = b.tombstones(&a, &r, ModSeq::MIN).unwrap();
    assert_eq!(tombs.len(), 1);
    assert_eq!((tombs[0].uid, tombs[0].modseq), (uid(1), em));
    assert!(b.tombstones(&a, &r, em).unwrap().is_empty());
    b.purge(&a, &r, &[uid(1)]).unwrap();
    assert!(matches!(
        b.read_message(&a, &r, uid(1)),
        Err(StoreError::NoSuchMessage(_))
    ));

    // Recent.
    assert_eq!(b.claim_recent(&a, &r, uid(1)).unwrap(), uid(1));
    assert_eq!(b.claim_recent(&a, &r, uid(4)).unwrap(), uid(1));
    assert_eq!(b.claim_recent(&a, &r, uid(2)).unwrap(), uid(4));

    // Kept content of a not purged expunge disappears with the instance.
    b.expunge(
        &a,
        &r,
        &ExpungeRequest {
            uids: Some(vec![uid(3)]),
            only_deleted: false,
        },
    )
    .unwrap();
    assert_eq!(
        &b.read_message(&a, &r, uid(3)).unwrap()[..],
        b"Subject: three\r\n\r\nthree\r\n"
    );
    let snap = b.mailbox_snapshot(&a, &inbox).unwrap();
    let kept = |md: &Path| -> usize {
        let dirs = files_in(&md.join("mailwire-expunged"));
        dirs.iter()
            .map(|d| files_in(&md.join("mailwire-expunged").join(d)).len())
            .sum()
    };
    assert_eq!(
        kept(&md),
        1,
        "message 3's content is kept while the instance lives"
    );
    drop(b);
    assert_eq!(kept(&md), 0, "and goes with it");

    // A new instance sees the same state.
    let b2 = backend(tmp.path());
    let snap2 = b2.mailbox_snapshot(&a, &inbox).unwrap();
    assert_eq!(snap2, snap);
    assert_eq!(snap2.first_recent_uid, uid(4));
    assert_eq!(snap2.uid_next, uid(4));
    assert_eq!(b2.tombstones(&a, &r, ModSeq::MIN).unwrap().len(), 2);
    assert!(matches!(
        b2.read_message(&a, &r, uid(3)),
        Err(StoreError::NoSuchMessage(_))
    ));
    let more = b2.append(&a, &inbox, vec![msg("four", &[])]).unwrap();
    assert_eq!(more.messages[0].uid, uid(4));
    assert!(more.messages[0].modseq > snap.highest_modseq);
    assert!(b2.sync(&a, &r).unwrap().is_empty());
}

#[test]
fn copy_and_move() {
    let tmp = tempfile::tempdir().unwrap();
    let b = backend(tmp.path());
    let a = acct();
    b.create_account(&a).unwrap();
    let inbox = MailboxName::inbox();
    let arch = b
        .create_mailbox(&a, &mb("Archive"), &[SpecialUse::Archive])
        .unwrap();
    b.append(
        &a,
        &inbox,
        vec![msg("a", &["Junk"]), msg("b", &[]), msg("c", &["\\Seen"])],
    )
    .unwrap();
    let r = inbox_ref(&b);
    let copied = b.copy(&a, &r, &[uid(3), uid(1), uid(9)], &arch.name).unwrap();
    assert_eq!(copied.uid_validity, arch.uid_validity);
    assert_eq!(copied.mapping, [(uid(1), uid(1)), (uid(3), uid(2))]);
    assert_eq!(copied.added[0].flags, flags(&["Junk"]));
    assert_eq!(copied.added[0].internal_date.zone_minutes, 120);
    assert_eq!(
        fs::read_to_string(maildir(tmp.path()).join(".Archive/dovecot-keywords")).unwrap(),
        "0 Junk\n"
    );
    let arch_ref = arch.to_ref();
    assert_eq!(
        b.read_message(&a, &arch_ref, uid(2)).unwrap(),
        b.read_message(&a, &r, uid(3)).unwrap()
    );
    // Within one mailbox.
    let same = b.copy(&a, &r, &[uid(2)], &inbox).unwrap();
    assert_eq!(same.mapping, [(uid(2), uid(4))]);

    let moved = b.move_messages(&a, &r, &[uid(1), uid(2)], &arch.name).unwrap();
    assert_eq!(moved.copied.mapping, [(uid(1), uid(3)), (uid(2), uid(4))]);
    assert_eq!(moved.expunged.uids, [uid(1), uid(2)]);
    assert_eq!(moved.expunged.modseq, Some(moved.copied.added[0].modseq));
    let snap = b.mailbox_snapshot(&a, &inbox).unwrap();
    let left: Vec<u32> = snap.messages.iter().map(|m| m.uid.get()).collect();
    assert_eq!(left, [3, 4]);
    assert_eq!(
        &b.read_message(&a, &r, uid(1)).unwrap()[..],
        b"Subject: a\r\n\r\na\r\n",
        "moved content kept until purge"
    );
    let stale = MailboxRef {
        name: mb("Archive"),
        uid_validity: r.uid_validity,
    };
    assert!(matches!(
        b.copy(&a, &stale, &[uid(1)], &inbox),
        Err(StoreError::MailboxGone(_))
    ));
    assert!(matches!(
        b.copy(&a, &r, &[uid(3)], &mb("Nope")),
        Err(StoreError::NoSuchMailbox(_))
    ));
}

#[test]
fn too_many_keywords_is_a_limit_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let b = backend(tmp.path());
    let a = acct();
    b.create_account(&a).unwrap();
    let names: Vec<String> = (0..27).map(|i| format!("k{i}")).collect();
    let many = Flags::parse(names.iter().map(String::as_str)).unwrap();
    let m = NewMessage {
        flags: many,
        ..msg("x", &[])
    };
    let err = b.append(&a, &MailboxName::inbox(), vec![m]).unwrap_err();
    assert!(matches!(err, StoreError::Limit(_)), "{err:?}");
    let snap = b.mailbox_snapshot(&a, &MailboxName::inbox()).unwrap();
    assert!(snap.messages.is_empty());
    let md = maildir(tmp.path());
    assert!(files_in(&md.join("tmp")).is_empty());
    assert!(files_in(&md.join("cur")).is_empty());
}

#[test]
fn sync_reports_changes_made_by_other_programs() {
    let tmp = tempfile::tempdir().unwrap();
    let b = backend(tmp.path());
    let a = acct();
    b.create_account(&a).unwrap();
    let inbox = MailboxName::inbox();
    b.append(
        &a,
        &inbox,
        vec![msg("a", &["\\Seen"]), msg("b", &[]), msg("c", &[])],
    )
    .unwrap();
    let r = inbox_ref(&b);
    let base = b.mailbox_snapshot(&a, &inbox).unwrap();
    let md = maildir(tmp.path());

    // Another MUA: marks a message flagged (rename), deletes one, and an
    // MDA delivers a message with LF line ends into new/.
    let cur = files_in(&md.join("cur"));
    let seen = cur.iter().find(|n| n.ends_with(":2,S")).unwrap();
    fs::rename(
        md.join("cur").join(seen),
        md.join("cur").join(seen.replace(":2,S", ":2,FS")),
    )
    .unwrap();
    let new = files_in(&md.join("new"));
    fs::remove_file(md.join("new").join(&new[0])).unwrap();
    fs::write(md.join("new/1700000000.M1P1.mda"), "Subject: lf\n\nbody\n").unwrap();
    let when = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_600_000_000);
    fs::File::options()
        .write(true)
        .open(md.join("new/1700000000.M1P1.mda"))
        .unwrap()
        .set_modified(when)
        .unwrap();
    // Another mailwire instance appends too.
    let other = backend(tmp.path());
    let theirs = other.append(&a, &inbox, vec![msg("d", &[])]).unwrap();

    let changes = b.sync(&a, &r).unwrap();
    assert_eq!(changes.len(), 4, "{changes:#?}");
    let mut kinds = Vec::new();
    for c in &changes {
        match c {
            ExternalChange::Added(m) => kinds.push(format!("added {}", m.uid)),
            ExternalChange::Flags(f) => {
                assert_eq!(f.flags, flags(&["\\Seen", "\\Flagged"]));
                kinds.push(format!("flags {}", f.uid));
            }
            ExternalChange::Expunged(t) => kinds.push(format!("expunged {}", t.uid)),
        }
    }
    kinds.sort();
    assert_eq!(kinds, ["added 4", "added 5", "expunged 2", "flags 1"]);
    let lf = changes
        .iter()
        .find_map(|c| match c {
            ExternalChange::Added(m) if m.uid == uid(4) => Some(m.clone()),
            _ => None,
        })
        .unwrap();
    // The other instance took in the delivered file first (UID 4).
    assert_eq!(theirs.messages[0].uid, uid(5));
    assert!(lf.modseq > base.highest_modseq);
    let content = b.read_message(&a, &r, uid(4)).unwrap();
    assert_eq!(&content[..], b"Subject: lf\r\n\r\nbody\r\n");
    assert_eq!(lf.size, content.len() as u64);
    assert_eq!(lf.internal_date.unix_seconds, 1_600_000_000);
    assert!(b.sync(&a, &r).unwrap().is_empty());
    assert_eq!(b.tombstones(&a, &r, ModSeq::MIN).unwrap().len(), 1);
    // The other instance sees the same UIDs and MODSEQs.
    // It first looked after every change: nothing is news to it.
    assert!(other.sync(&a, &r).unwrap().is_empty());
    assert_eq!(
        other.mailbox_snapshot(&a, &inbox).unwrap().messages,
        b.mailbox_snapshot(&a, &inbox).unwrap().messages
    );
    // The uidlist names the delivered file.
    let uidlist = fs::read_to_string(md.join("dovecot-uidlist")).unwrap();
    assert!(uidlist.contains("4 :1700000000.M1P1.mda\n"), "{uidlist}");
}

/// Marks message `n` `\Deleted`, expunges it (only it) and drops its
/// kept content, as a session that deleted it and was told does.
fn expunge_and_purge(b: &MaildirBackend, r: &MailboxRef, n: u32) {
    let store = StoreFlags {
        uids: vec![uid(n)],
        action: FlagAction::Add,
        flags: flags(&["\\Deleted"]),
        condition: None,
    };
    b.store_flags(&acct(), r, &store).unwrap();
    let request = ExpungeRequest {
        uids: None,
        only_deleted: true,
    };
    assert_eq!(b.expunge(&acct(), r, &request).unwrap().uids, [uid(n)]);
    b.purge(&acct(), r, &[uid(n)]).unwrap();
}

/// The file of an expunged message put back (a backup restored, a file
/// moved out and back by another program) is a new message with a new
/// UID, as Dovecot makes it: under its old UID, a client told of the
/// expunge would see the expunged UID come back. Before, it took its old
/// UID again.
#[test]
fn a_file_put_back_after_its_expunge_gets_a_new_uid() {
    let tmp = tempfile::tempdir().unwrap();
    let b = backend(tmp.path());
    let a = acct();
    b.create_account(&a).unwrap();
    let inbox = MailboxName::inbox();
    b.append(&a, &inbox, vec![msg("a", &["\\Seen"]), msg("b", &["\\Seen"])])
        .unwrap();
    let r = inbox_ref(&b);
    let md = maildir(tmp.path());
    let name = files_in(&md.join("cur"))[0].clone();
    let content = fs::read(md.join("cur").join(&name)).unwrap();
    expunge_and_purge(&b, &r, 1);
    assert!(!md.join("cur").join(&name).exists());

    // Put back under its name, without the flag: the same file.
    let back = name.replace("T", "");
    fs::write(md.join("cur").join(&back), &content).unwrap();
    let changes = b.sync(&a, &r).unwrap();
    let added: Vec<u32> = changes
        .iter()
        .filter_map(|c| match c {
            ExternalChange::Added(m) => Some(m.uid.get()),
            _ => None,
        })
        .collect();
    assert_eq!(added, [3], "{changes:#?}");
    let uids: Vec<u32> = b
        .mailbox_snapshot(&a, &inbox)
        .unwrap()
        .messages
        .iter()
        .map(|m| m.uid.get())
        .collect();
    assert_eq!(uids, [2, 3]);
    assert_eq!(&b.read_message(&a, &r, uid(3)).unwrap()[..], &content[..]);
    assert!(b.read_message(&a, &r, uid(1)).is_err());
    let gone: Vec<u32> = b
        .tombstones(&a, &r, ModSeq::MIN)
        .unwrap()
        .iter()
        .map(|t| t.uid.get())
        .collect();
    assert_eq!(gone, [1]);

    // Another instance, and Dovecot reading the uidlist, agree.
    let other = backend(tmp.path());
    let theirs: Vec<u32> = other
        .mailbox_snapshot(&a, &inbox)
        .unwrap()
        .messages
        .iter()
        .map(|m| m.uid.get())
        .collect();
    assert_eq!(theirs, [2, 3]);
    let uidlist = fs::read_to_string(md.join("dovecot-uidlist")).unwrap();
    let base = back.split(':').next().unwrap();
    assert!(uidlist.contains(&format!("3 :{base}\n")), "{uidlist}");
}

/// A second name of a message's file (a hard link another program made
/// a moment ago, moving the file by link and unlink) is left alone, and
/// when the message is expunged the name left is a message of its own,
/// under a new UID (as Dovecot does). Before, it took the expunged UID
/// again, and a client that had deleted that message (a POP3 client
/// leaving mail on the server) or was told of its expunge saw the UID
/// come back.
#[test]
fn a_second_name_left_after_an_expunge_gets_a_new_uid() {
    let tmp = tempfile::tempdir().unwrap();
    let b = backend(tmp.path());
    let a = acct();
    b.create_account(&a).unwrap();
    let inbox = MailboxName::inbox();
    b.append(&a, &inbox, vec![msg("a", &["\\Seen"])]).unwrap();
    let r = inbox_ref(&b);
    let md = maildir(tmp.path());
    let name = files_in(&md.join("cur"))[0].clone();
    let base = name.split(':').next().unwrap().to_owned();
    fs::hard_link(md.join("cur").join(&name), md.join("new").join(&base)).unwrap();
    let content = b.read_message(&a, &r, uid(1)).unwrap();
    let listed: Vec<u32> = b
        .mailbox_snapshot(&a, &inbox)
        .unwrap()
        .messages
        .iter()
        .map(|m| m.uid.get())
        .collect();
    assert_eq!(listed, [1]);
    b.sync(&a, &r).unwrap();

    expunge_and_purge(&b, &r, 1);
    b.sync(&a, &r).unwrap();
    let snapshot = b.mailbox_snapshot(&a, &inbox).unwrap();
    let uids: Vec<u32> = snapshot.messages.iter().map(|m| m.uid.get()).collect();
    assert_eq!(uids, [2], "the expunged UID was given to the name left");
    assert_eq!(b.read_message(&a, &r, uid(2)).unwrap(), content);
}

/// Two files of one base name with their own contents are two messages,
/// as Dovecot makes them: the file not listed before is renamed to a base
/// name of its own and gets a new UID; the other keeps its UID. Before,
/// the second was hidden until the first was expunged. Two names of one
/// file (a hard link, as a program moving it by link and unlink makes)
/// stay one message.
#[test]
fn two_files_of_one_name_are_two_messages_and_two_links_one() {
    let tmp = tempfile::tempdir().unwrap();
    let b = backend(tmp.path());
    let a = acct();
    b.create_account(&a).unwrap();
    let inbox = MailboxName::inbox();
    b.append(&a, &inbox, vec![msg("a", &["\\Seen"]), msg("b", &["\\Seen"])])
        .unwrap();
    let r = inbox_ref(&b);
    let md = maildir(tmp.path());
    let names = files_in(&md.join("cur"));
    let base = names[0].split(':').next().unwrap().to_owned();
    let first = b.read_message(&a, &r, uid(1)).unwrap();
    fs::write(md.join("new").join(&base), "Subject: other\r\n\r\nother\r\n").unwrap();
    // A second name of the other message's file.
    let linked = names[1].split(':').next().unwrap().to_owned();
    fs::hard_link(md.join("cur").join(&names[1]), md.join("new").join(&linked)).unwrap();

    let changes = b.sync(&a, &r).unwrap();
    assert_eq!(changes.len(), 1, "{changes:#?}");
    let snapshot = b.mailbox_snapshot(&a, &inbox).unwrap();
    let uids: Vec<u32> = snapshot.messages.iter().map(|m| m.uid.get()).collect();
    assert_eq!(uids, [1, 2, 3]);
    assert_eq!(b.read_message(&a, &r, uid(1)).unwrap(), first);
    assert_eq!(
        &b.read_message(&a, &r, uid(3)).unwrap()[..],
        b"Subject: other\r\n\r\nother\r\n"
    );
    // The copy has a name of its own; the link is left (it is young).
    let new = files_in(&md.join("new"));
    assert_eq!(new.len(), 2, "{new:?}");
    assert!(new.contains(&linked), "{new:?}");
    assert!(b.sync(&a, &r).unwrap().is_empty());
    let other = backend(tmp.path());
    assert_eq!(
        other.mailbox_snapshot(&a, &inbox).unwrap().messages,
        snapshot.messages
    );
}

/// A mailbox deleted and made again by another process while a session
/// has the old one selected: a change to the new one (an APPEND) is made,
/// and the session learns its mailbox is gone at its next look. Before,
/// every change to the new mailbox failed (`MailboxGone`) until that
/// session looked.
#[test]
fn a_mailbox_made_again_elsewhere_takes_changes_while_the_old_one_is_selected() {
    let tmp = tempfile::tempdir().unwrap();
    let store = mailwire_mailbox::Store::new(backend(tmp.path()));
    let a = acct();
    let account = store.create_account(&a).unwrap();
    let lists = mb("Lists");
    account.create_mailbox(&lists, &[]).unwrap();
    let mut old = account
        .select(&lists, mailwire_mailbox::SelectMode::ReadWrite)
        .unwrap();

    let other = backend(tmp.path());
    let entry = other.mailbox(&a, &lists).unwrap();
    other.delete_mailbox(&a, &entry.to_ref()).unwrap();
    other.create_mailbox(&a, &lists, &[]).unwrap();

    account
        .append(
            &lists,
            mailwire_mailbox::AppendMessage::new(&b"Subject: new\r\n\r\nnew\r\n"[..]),
        )
        .expect("an APPEND to the mailbox made again");
    assert_eq!(account.status(&lists).unwrap().messages, 1);
    assert_eq!(old.changes(true).unwrap(), [mailwire_mailbox::Notification::Gone]);
}

#[test]
fn mailbox_recreated_elsewhere_is_gone() {
    let tmp = tempfile::tempdir().unwrap();
    let b = backend(tmp.path());
    let other = backend(tmp.path());
    let a = acct();
    b.create_account(&a).unwrap();
    let e = b.create_mailbox(&a, &mb("X"), &[]).unwrap();
    b.append(&a, &mb("X"), vec![msg("x", &[])]).unwrap();
    other.delete_mailbox(&a, &e.to_ref()).unwrap();
    let e2 = other.create_mailbox(&a, &mb("X"), &[]).unwrap();
    assert!(matches!(
        b.read_message(&a, &e.to_ref(), uid(1)),
        Err(StoreError::MailboxGone(_))
    ));
    assert!(matches!(b.sync(&a, &e.to_ref()), Err(StoreError::MailboxGone(_))));
    let snap = b.mailbox_snapshot(&a, &mb("X")).unwrap();
    assert_eq!(snap.uid_validity, e2.uid_validity);
    assert!(snap.messages.is_empty());
}

/// Another process delivers a message while this instance has the mailbox
/// open; this instance then appends one of its own. The session hears of
/// the other process's message first: its UID is the lower one, and sessions
/// see UIDs in ascending order.
#[test]
fn a_poll_takes_the_folder_lock_only_when_files_and_journal_differ() {
    use std::sync::mpsc;
    use std::time::Duration;
    let tmp = tempfile::tempdir().unwrap();
    let b = backend(tmp.path());
    let a = acct();
    b.create_account(&a).unwrap();
    let inbox = MailboxName::inbox();
    b.append(&a, &inbox, vec![msg("a", &["\\Seen"]), msg("b", &["\\Seen"])])
        .unwrap();
    let r = inbox_ref(&b);
    assert!(b.sync(&a, &r).unwrap().is_empty());
    let md = maildir(tmp.path());

    // Another process (Dovecot, another mail_server) holds the lock while
    // it changes the folder.
    let lock = md.join("dovecot-uidlist.lock");
    fs::write(&lock, "1:elsewhere\n").unwrap();
    let (b, a, r) = (&b, &a, &r);
    std::thread::scope(|s| {
        // With nothing new on disk, a poll answers without the lock.
        let (tx, rx) = mpsc::channel();
        s.spawn(move || tx.send(b.sync(a, r)).unwrap());
        let polled = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("a poll that found nothing new waited for the lock");
        assert!(polled.unwrap().is_empty());

        // Half-way through its change: a file renamed (a flag given), its
        // record not yet written. That state is not reported; the poll
        // waits for the lock and then sees the change done.
        let cur = files_in(&md.join("cur"));
        let first = cur.iter().min().unwrap();
        fs::rename(
            md.join("cur").join(first),
            md.join("cur").join(first.replace(":2,S", ":2,FS")),
        )
        .unwrap();
        let (tx, rx) = mpsc::channel();
        s.spawn(move || tx.send(b.sync(a, r)).unwrap());
        assert!(
            rx.recv_timeout(Duration::from_millis(500)).is_err(),
            "a change half-done by a lock holder was read without the lock"
        );
        fs::remove_file(&lock).unwrap();
        let changes = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the poll did not take the lock once it was free")
            .unwrap();
        match &changes[..] {
            [ExternalChange::Flags(f)] => assert_eq!(f.flags, flags(&["\\Seen", "\\Flagged"])),
            other => panic!("expected one flag change, got {other:#?}"),
        }
    });
}

#[test]
fn external_changes_are_reported_before_this_instances_own() {
    use mailwire_mailbox::{AppendMessage, Notification, SelectMode, Store, StoreConfig};
    let tmp = tempfile::tempdir().unwrap();
    let here = Store::with_config(backend(tmp.path()), StoreConfig::default());
    let account = here.create_account(&acct()).unwrap();
    let mut session = account.select(&mb("INBOX"), SelectMode::ReadWrite).unwrap();
    assert!(session.messages().is_empty());

    // "Another process": a second backend instance on the same Maildir.
    let elsewhere = backend(tmp.path());
    let theirs = elsewhere
        .append(&acct(), &mb("INBOX"), vec![msg("from elsewhere", &[])])
        .unwrap();
    let ours = account
        .append(&mb("INBOX"), AppendMessage::new(&b"from here\r\n"[..]))
        .unwrap();
    assert!(theirs.messages[0].uid < ours.uids[0]);

    let notes = session.changes(true).unwrap();
    assert!(
        notes.iter().any(|n| matches!(n, Notification::Exists(2))),
        "{notes:?}"
    );
    let uids: Vec<Uid> = session.messages().iter().map(|m| m.uid).collect();
    assert_eq!(uids, vec![theirs.messages[0].uid, ours.uids[0]]);
}

/// A Maildir store in a new temporary directory where alice's INBOX holds
/// these messages (no flags), and the INBOX's snapshot after the append.
fn inbox_with(texts: &[&str]) -> (tempfile::TempDir, mailwire_mailbox::MailboxSnapshot) {
    let tmp = tempfile::tempdir().unwrap();
    let b = backend(tmp.path());
    b.create_account(&acct()).unwrap();
    let messages = texts.iter().map(|t| msg(t, &[])).collect();
    b.append(&acct(), &MailboxName::inbox(), messages).unwrap();
    let snapshot = b.mailbox_snapshot(&acct(), &MailboxName::inbox()).unwrap();
    (tmp, snapshot)
}

/// A `dovecot-uidlist` that lost records (here cut inside the first one,
/// as a torn write or a careless edit leaves it) must not hand the same
/// UIDs to other messages under the same UIDVALIDITY: the files get UIDs
/// above every UID given before, the old ones are reported expunged, and
/// each UID's size and content agree. Found by the `mailbox_maildir_files`
/// fuzz target (before the fix, "one" became UID 2, formerly "two", and
/// UID 3 kept the size of "three").
#[test]
fn a_uidlist_that_lost_records_never_gives_a_uid_again() {
    let a = acct();
    let inbox = MailboxName::inbox();
    let (tmp, before) = inbox_with(&["one", "two", "three"]);
    let path = maildir(tmp.path()).join("dovecot-uidlist");
    let text = fs::read_to_string(&path).unwrap();
    let first_record = text.find('\n').unwrap() + 1;
    fs::write(&path, format!("{}1 :17garbage\n", &text[..first_record])).unwrap();

    let b = backend(tmp.path());
    let after = b.mailbox_snapshot(&a, &inbox).unwrap();
    assert_eq!(after.uid_validity, before.uid_validity);
    let old_uids: Vec<u32> = before.messages.iter().map(|m| m.uid.get()).collect();
    assert_eq!(old_uids, [1, 2, 3]);
    assert_eq!(after.messages.len(), 3);
    let r = MailboxRef {
        name: inbox,
        uid_validity: after.uid_validity,
    };
    let mut bodies = Vec::new();
    for m in &after.messages {
        assert!(m.uid.get() > 3, "UID {} given again", m.uid.get());
        let content = b.read_message(&a, &r, m.uid).unwrap();
        assert_eq!(content.len() as u64, m.size, "UID {}", m.uid.get());
        bodies.push(String::from_utf8_lossy(&content).into_owned());
    }
    bodies.sort();
    assert_eq!(
        bodies,
        [
            "Subject: one\r\n\r\none\r\n",
            "Subject: three\r\n\r\nthree\r\n",
            "Subject: two\r\n\r\ntwo\r\n"
        ]
    );
    let gone: Vec<u32> = b
        .tombstones(&a, &r, before.highest_modseq)
        .unwrap()
        .iter()
        .map(|t| t.uid.get())
        .collect();
    assert_eq!(gone, [1, 2, 3]);
}

/// A `dovecot-uidlist` whose header cannot be read: the MODSEQ journal
/// vouches for the UIDVALIDITY, and for each record whose UID it holds live
/// with the size the file name says, so those messages keep their UIDs (a
/// POP3 client leaving mail on the server keeps its UIDLs; an IMAP cache
/// stays right). A record whose UID is above every UID the journal has seen
/// keeps it too (Dovecot gave it since mailwire last looked). A record the
/// journal contradicts (here UID 3 on the file of another size) gets a UID
/// above every UID the journal or the file names, the header's `N` included
/// where it reads: clients may have seen them. Old UIDs no file keeps are
/// reported expunged. (The file's UIDs were dropped where the journal did
/// not vouch for them, and new ones given from the journal's highest: a
/// file Dovecot numbered 7 became 4, below a UIDNEXT clients had seen.)
#[test]
fn an_unreadable_uidlist_header_keeps_the_uidvalidity_and_the_uids() {
    let a = acct();
    let inbox = MailboxName::inbox();
    let (tmp, before) = inbox_with(&["one", "two", "three"]);
    let path = maildir(tmp.path()).join("dovecot-uidlist");
    let text = fs::read_to_string(&path).unwrap();
    let records = &text[text.find('\n').unwrap() + 1..];
    assert!(records.lines().nth(2).unwrap().starts_with("3 "), "{records}");
    let records = records.replacen("\n3 ", "\n7 ", 1).replacen("\n2 ", "\n3 ", 1);
    fs::write(&path, format!("3 Vgarbage N12\n{records}")).unwrap();

    let b = backend(tmp.path());
    let after = b.mailbox_snapshot(&a, &inbox).unwrap();
    assert_eq!(after.uid_validity, before.uid_validity);
    let uids: Vec<u32> = after.messages.iter().map(|m| m.uid.get()).collect();
    assert_eq!(uids, [1, 7, 12]);
    let r = MailboxRef {
        name: inbox.clone(),
        uid_validity: after.uid_validity,
    };
    for (n, text) in [(1, "one"), (7, "three"), (12, "two")] {
        let body = b.read_message(&a, &r, uid(n)).unwrap();
        assert_eq!(
            body[..],
            *format!("Subject: {text}\r\n\r\n{text}\r\n").as_bytes(),
            "UID {n}"
        );
    }
    let gone: Vec<u32> = b
        .tombstones(&a, &r, before.highest_modseq)
        .unwrap()
        .iter()
        .map(|t| t.uid.get())
        .collect();
    assert_eq!(gone, [2, 3]);
    // The uidlist is whole again, and Dovecot's format.
    let repaired = fs::read_to_string(&path).unwrap();
    assert!(
        repaired.starts_with(&format!("3 V{} N", before.uid_validity.get())),
        "{repaired}"
    );
    let uids: Vec<&str> = repaired
        .lines()
        .skip(1)
        .filter_map(|l| l.split(' ').next())
        .collect();
    assert_eq!(uids, ["1", "7", "12"], "{repaired}");
    // The next message is numbered above them all.
    let appended = b.append(&a, &inbox, vec![msg("four", &[])]).unwrap();
    assert_eq!(appended.messages[0].uid, uid(13));
}

/// A new message's journal line is not flushed (`fsync = optimized`): one
/// lost in a power failure is written again from the file, and the message
/// keeps its UID, flags, size and INTERNALDATE (its instant; the zone is
/// not in the file) under a new MODSEQ.
#[test]
fn a_new_messages_lost_journal_line_is_written_again_from_its_file() {
    let tmp = tempfile::tempdir().unwrap();
    let a = acct();
    let inbox = MailboxName::inbox();
    let b = backend(tmp.path());
    b.create_account(&a).unwrap();
    b.append(&a, &inbox, vec![msg("one", &["\\Seen", "\\Flagged"])])
        .unwrap();
    let before = b.mailbox_snapshot(&a, &inbox).unwrap();
    let path = maildir(tmp.path()).join("mailwire-modseq");
    let text = fs::read_to_string(&path).unwrap();
    let kept: String = text
        .lines()
        .filter(|l| !l.starts_with("+1 "))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(kept, text, "{text}");
    fs::write(&path, kept).unwrap();

    let after = backend(tmp.path()).mailbox_snapshot(&a, &inbox).unwrap();
    let (was, now) = (&before.messages[0], &after.messages[0]);
    assert_eq!(after.uid_validity, before.uid_validity);
    assert_eq!((now.uid, &now.flags, now.size), (was.uid, &was.flags, was.size));
    assert_eq!(now.internal_date.unix_seconds, 1_700_000_000);
    assert!(now.modseq > was.modseq);
}

/// A MODSEQ journal line whose size was damaged does not change
/// RFC822.SIZE: the W= size in the file's name wins (found by the
/// `mailbox_maildir_files` fuzz target, which read 21 bytes for a message
/// listed at 2,188,088,888,800).
#[test]
fn a_damaged_journal_size_gives_way_to_the_file_name() {
    let a = acct();
    let inbox = MailboxName::inbox();
    let (tmp, _) = inbox_with(&["one"]);
    let path = maildir(tmp.path()).join("mailwire-modseq");
    let text = fs::read_to_string(&path).unwrap();
    let damaged: String = text
        .lines()
        .map(|l| match l.strip_prefix("+1 ") {
            Some(_) => format!("{} 2188088888800\n", l.rsplit_once(' ').unwrap().0),
            None => format!("{l}\n"),
        })
        .collect();
    assert_ne!(damaged, text);
    fs::write(&path, damaged).unwrap();
    let snapshot = backend(tmp.path()).mailbox_snapshot(&a, &inbox).unwrap();
    assert_eq!(snapshot.messages[0].size, 21);
}

/// A `W=` size in a file's name that cannot be its size with CRLF line
/// ends (below the file's length or above twice it) is not believed, when
/// the message is first seen nor when another program renames its file:
/// RFC822.SIZE stays the file's. A name claiming 2^64 - 1 octets was
/// taken at its word, and the mailbox's total size (STATUS SIZE)
/// overflowed.
#[test]
fn a_size_in_a_file_name_that_cannot_be_the_files_is_not_believed() {
    let a = acct();
    let inbox = MailboxName::inbox();
    let tmp = tempfile::tempdir().unwrap();
    let b = backend(tmp.path());
    b.create_account(&a).unwrap();
    let cur = maildir(tmp.path()).join("cur");
    // 17 octets, 20 with CRLF line ends.
    let text = "Subject: x\n\nbody\n";
    for (name, _) in [
        ("1700000000.M1P1.h,S=17,W=18446744073709551615:2,", 20),
        ("1700000001.M2P1.h,S=17,W=16:2,", 20),
        ("1700000002.M3P1.h,S=17,W=35:2,", 20),
        ("1700000003.M4P1.h,S=17,W=34:2,", 34),
    ] {
        fs::write(cur.join(name), text).unwrap();
    }
    let sizes = |b: &MaildirBackend| {
        let snapshot = b.mailbox_snapshot(&a, &inbox).unwrap();
        let mut sizes: Vec<u64> = snapshot.messages.iter().map(|m| m.size).collect();
        sizes.sort_unstable();
        (sizes, mailwire_mailbox::MailboxStatus::of(&snapshot).size)
    };
    assert_eq!(sizes(&b), (vec![20, 20, 20, 34], 94));

    // Another program renames a file, with a size that cannot be.
    fs::rename(
        cur.join("1700000001.M2P1.h,S=17,W=16:2,"),
        cur.join("1700000001.M2P1.h,S=17,W=9999:2,S"),
    )
    .unwrap();
    assert_eq!(sizes(&b), (vec![20, 20, 20, 34], 94));
    assert_eq!(sizes(&backend(tmp.path())), (vec![20, 20, 20, 34], 94));
}

/// A MODSEQ journal rebuilt (its header damaged) forgets the expunges it
/// held: asked for the UIDs expunged since a MODSEQ from before the
/// rebuild, the backend answers with a superset (every UID below UIDNEXT
/// that is not a message), never with nothing, so a QRESYNC client does
/// not keep an expunged message (it answered `[]`).
#[test]
fn a_rebuilt_journal_still_reports_the_expunges_it_forgot() {
    let a = acct();
    let inbox = MailboxName::inbox();
    let (tmp, before) = inbox_with(&["one", "two", "three"]);
    let b = backend(tmp.path());
    let r = MailboxRef {
        name: inbox.clone(),
        uid_validity: before.uid_validity,
    };
    b.expunge(
        &a,
        &r,
        &ExpungeRequest {
            uids: Some(vec![uid(2)]),
            only_deleted: false,
        },
    )
    .unwrap();
    drop(b);
    let path = maildir(tmp.path()).join("mailwire-modseq");
    let text = fs::read_to_string(&path).unwrap();
    let records = &text[text.find('\n').unwrap() + 1..];
    fs::write(&path, format!("mailwire-modseq 1 Vgarbage\n{records}")).unwrap();

    let b = backend(tmp.path());
    let after = b.mailbox_snapshot(&a, &inbox).unwrap();
    assert_eq!(after.uid_validity, before.uid_validity);
    let uids: Vec<u32> = after.messages.iter().map(|m| m.uid.get()).collect();
    assert_eq!(uids, [1, 3]);
    assert!(after.highest_modseq > before.highest_modseq);
    let vanished = b.vanished_since(&a, &r, before.highest_modseq).unwrap();
    assert!(vanished.contains(uid(2)), "{vanished:?}");
    assert!(
        !vanished.contains(uid(1)) && !vanished.contains(uid(3)),
        "{vanished:?}"
    );
    // Since the rebuild, nothing.
    let since_rebuild = b.vanished_since(&a, &r, after.highest_modseq).unwrap();
    assert!(since_rebuild.is_empty(), "{since_rebuild:?}");
}

/// The superset a rebuilt journal answers with survives its later prunes:
/// they raise the highest pruned UID to what they drop, and UIDs above it
/// expunged before the rebuild left the answer (the rebuild did not set
/// that mark).
#[test]
fn a_rebuilt_journals_superset_survives_later_prunes() {
    let a = acct();
    let inbox = MailboxName::inbox();
    let texts: Vec<String> = (0..2102).map(|i| format!("m{i}")).collect();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let (tmp, before) = inbox_with(&texts);
    let r = MailboxRef {
        name: inbox.clone(),
        uid_validity: before.uid_validity,
    };
    let expunge = |b: &MaildirBackend, uids: Vec<Uid>| {
        b.expunge(
            &a,
            &r,
            &ExpungeRequest {
                uids: Some(uids),
                only_deleted: false,
            },
        )
        .unwrap();
    };
    let b = backend(tmp.path());
    expunge(&b, vec![uid(2102)]);
    drop(b);
    let path = maildir(tmp.path()).join("mailwire-modseq");
    let text = fs::read_to_string(&path).unwrap();
    let records = &text[text.find('\n').unwrap() + 1..];
    fs::write(&path, format!("mailwire-modseq 1 Vgarbage\n{records}")).unwrap();
    let b = backend(tmp.path());
    b.mailbox_snapshot(&a, &inbox).unwrap();
    expunge(&b, (1..=2100).map(uid).collect());
    let header = fs::read_to_string(&path).unwrap();
    assert!(
        header.lines().next().unwrap().contains(" D"),
        "no prune: {}",
        header.lines().next().unwrap()
    );
    let vanished = b.vanished_since(&a, &r, before.highest_modseq).unwrap();
    assert!(vanished.contains(uid(2102)), "{vanished:?}");
    assert!(!vanished.contains(uid(2101)), "{vanished:?}");
    // Nor is UID 2102 given again.
    let appended = b.append(&a, &inbox, vec![msg("new", &[])]).unwrap();
    assert!(appended.messages[0].uid > uid(2102));
}

/// A uidlist whose header gives the last UID there is as the next one (a
/// damaged or hostile file): a new file gets no UID, with an error, and
/// no panic (the count of UIDs left underflowed).
#[test]
fn a_uidlist_with_no_uid_left_refuses_new_files_without_a_panic() {
    let a = acct();
    let inbox = MailboxName::inbox();
    let (tmp, before) = inbox_with(&["one"]);
    let md = maildir(tmp.path());
    let path = md.join("dovecot-uidlist");
    let text = fs::read_to_string(&path).unwrap();
    let records = &text[text.find('\n').unwrap() + 1..];
    let header = format!(
        "3 V{} N4294967295 G0123456789abcdef0123456789abcdef",
        before.uid_validity.get()
    );
    fs::write(&path, format!("{header}\n{records}")).unwrap();
    fs::write(md.join("new").join("1700000000.M9P1.other"), "Subject: x\n\nx\n").unwrap();
    let err = backend(tmp.path()).mailbox_snapshot(&a, &inbox).unwrap_err();
    assert!(matches!(err, StoreError::Limit(_)), "{err:?}");
}

/// A snapshot (what STATUS and LIST-STATUS read) sees what another
/// program delivered, flagged or expunged since the last one.
#[test]
fn snapshots_see_other_programs_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let store = mailwire_mailbox::Store::new(backend(tmp.path()));
    let account = store.create_account(&acct()).unwrap();
    let inbox = MailboxName::inbox();
    let snapshot = || account.snapshot(&inbox).unwrap();
    assert_eq!(snapshot().messages.len(), 0);
    let md = maildir(tmp.path());
    assert_eq!(account.delivery_dir(&inbox), Some(md.clone()));
    assert_eq!(account.delivery_dir(&mb("a/b")), Some(md.join(".a.b")));
    for i in 0..3 {
        fs::write(
            md.join("new").join(format!("1700000000.M{i}P1.other")),
            "Subject: x\n\nx\n",
        )
        .unwrap();
    }
    assert_eq!(snapshot().messages.len(), 3, "a delivery into new/");
    assert_eq!(account.status(&inbox).unwrap().messages, 3);
    fs::rename(
        md.join("new").join("1700000000.M0P1.other"),
        md.join("cur").join("1700000000.M0P1.other:2,S"),
    )
    .unwrap();
    assert_eq!(
        snapshot().messages.iter().filter(|m| m.flags.is_seen()).count(),
        1,
        "a flag set by renaming into cur/"
    );
    fs::remove_file(md.join("new").join("1700000000.M1P1.other")).unwrap();
    assert_eq!(snapshot().messages.len(), 2, "an expunge");
}

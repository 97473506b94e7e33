//! The IMAP selected-mailbox view: sequence numbers, notifications taken
//! between commands, \Recent for one session only, \Seen on reading, and
//! read-only EXAMINE.

use std::sync::atomic::Ordering;

use bytes::Bytes;
use mailwire_mailbox::{
    Account, AccountName, AppendMessage, FlagAction, Flags, MailboxName, MemoryBackend, Notification,
    SelectMode, Store, StoreConfig, StoreError, StoreFlags, SystemFlags, Uid,
};

#[path = "support/flaky.rs"]
mod flaky;
use flaky::Flaky;

fn name(s: &str) -> MailboxName {
    MailboxName::new(s).unwrap()
}

fn uid(n: u32) -> Uid {
    Uid::new(n).unwrap()
}

fn account_with(config: StoreConfig) -> Account {
    let store = Store::with_config(MemoryBackend::new(), config);
    store.create_account(&AccountName::new("alice").unwrap()).unwrap()
}

fn account() -> Account {
    account_with(StoreConfig::default())
}

fn append(acc: &Account, n: usize) {
    let messages = (0..n)
        .map(|i| AppendMessage::new(Bytes::from(format!("Subject: {i}\r\n\r\nbody {i}\r\n"))))
        .collect();
    acc.append_all(&name("INBOX"), messages).unwrap();
}

fn set(action: FlagAction, flag: SystemFlags, uids: &[u32]) -> StoreFlags {
    StoreFlags {
        uids: uids.iter().map(|&u| uid(u)).collect(),
        action,
        flags: Flags::system(flag),
        condition: None,
    }
}

#[test]
fn sequence_numbers_follow_uids() {
    let acc = account();
    append(&acc, 3);
    acc.store_flags(&name("INBOX"), &set(FlagAction::Add, SystemFlags::DELETED, &[2]))
        .unwrap();
    acc.expunge(&name("INBOX"), None).unwrap();
    append(&acc, 1);
    let view = acc.select(&name("INBOX"), SelectMode::ReadWrite).unwrap();
    assert_eq!(view.exists(), 3);
    assert_eq!(view.uid(2), Some(uid(3)));
    assert_eq!(view.seq(uid(4)), Some(3));
    assert_eq!(view.seq(uid(2)), None);
    assert_eq!(view.uid(4), None);
    assert_eq!(view.get(0), None);
    assert_eq!(view.uid_next(), uid(5));
    assert_eq!(view.first_unseen(), Some(1));
}

#[test]
fn other_sessions_changes_wait_until_asked_for() {
    let acc = account();
    append(&acc, 3);
    let inbox = name("INBOX");
    let mut a = acc.select(&inbox, SelectMode::ReadWrite).unwrap();
    let mut b = acc.select(&inbox, SelectMode::ReadWrite).unwrap();

    // B flags and deletes message 2, then expunges it; a message arrives.
    b.store_flags(&set(FlagAction::Add, SystemFlags::FLAGGED, &[1]))
        .unwrap();
    b.store_flags(&set(FlagAction::Add, SystemFlags::DELETED, &[2]))
        .unwrap();
    b.expunge(None).unwrap();
    append(&acc, 1);
    // A has been told nothing yet.
    assert_eq!(a.exists(), 3);
    assert!(!a.messages()[0].flags.system.contains(SystemFlags::FLAGGED));

    // After a FETCH (no expunges allowed): new message and flags, but
    // message 2 keeps its number and stays readable. A selected first, so
    // every message is \Recent for it.
    let n = a.changes(false).unwrap();
    assert_eq!(
        n,
        [
            Notification::Exists(4),
            Notification::Recent(4),
            Notification::Flags {
                seq: 1,
                uid: uid(1),
                flags: Flags::system(SystemFlags::FLAGGED),
                modseq: a.messages()[0].modseq,
                recent: true,
            },
        ]
    );
    assert_eq!(a.uid(2), Some(uid(2)));
    assert!(a.is_expunged(uid(2)));
    assert!(a.read(uid(2)).unwrap().starts_with(b"Subject: 1"));

    // Between other commands the expunge is reported.
    let n = a.changes(true).unwrap();
    assert_eq!(n, [Notification::Expunge { seq: 2, uid: uid(2) }]);
    assert_eq!(a.exists(), 3);
    assert_eq!(a.uid(2), Some(uid(3)));
    assert!(a.changes(true).unwrap().is_empty());

    // B's own expunge reaches B too; its own flag changes do not come back.
    let n = b.changes(true).unwrap();
    assert_eq!(n[0], Notification::Expunge { seq: 2, uid: uid(2) });
    assert_eq!(n[1], Notification::Exists(3));
    assert!(!n.iter().any(|x| matches!(x, Notification::Flags { .. })));
    // Both views agree now (but for \Recent).
    let plain = |v: &mailwire_mailbox::SelectedMailbox| {
        v.messages()
            .iter()
            .map(|m| (m.uid, m.flags.clone(), m.modseq))
            .collect::<Vec<_>>()
    };
    assert_eq!(plain(&a), plain(&b));
    assert!(b.messages().iter().all(|m| !m.recent));
    // Once both were told, the content is gone.
    assert!(matches!(a.read(uid(2)), Err(StoreError::NoSuchMessage(_))));
    assert!(matches!(
        acc.read_message(&inbox, uid(2)),
        Err(StoreError::NoSuchMessage(_))
    ));
}

#[test]
fn expunge_sequence_numbers_shift_as_they_are_reported() {
    let acc = account();
    append(&acc, 5);
    let mut a = acc.select(&name("INBOX"), SelectMode::ReadWrite).unwrap();
    a.store_flags(&set(FlagAction::Add, SystemFlags::DELETED, &[2, 3, 5]))
        .unwrap();
    a.expunge(None).unwrap();
    let n = a.changes(true).unwrap();
    assert_eq!(
        n,
        [
            Notification::Expunge { seq: 2, uid: uid(2) },
            Notification::Expunge { seq: 2, uid: uid(3) },
            Notification::Expunge { seq: 3, uid: uid(5) },
        ]
    );
    assert_eq!(
        a.messages().iter().map(|m| m.uid.get()).collect::<Vec<_>>(),
        [1, 4]
    );
}

#[test]
fn a_message_that_came_and_went_is_never_announced() {
    let acc = account();
    let inbox = name("INBOX");
    let mut a = acc.select(&inbox, SelectMode::ReadWrite).unwrap();
    append(&acc, 1);
    acc.store_flags(&inbox, &set(FlagAction::Add, SystemFlags::DELETED, &[1]))
        .unwrap();
    acc.expunge(&inbox, None).unwrap();
    let n = a.changes(true).unwrap();
    assert!(
        !n.iter().any(|x| matches!(x, Notification::Expunge { .. })),
        "{n:?}"
    );
    assert_eq!(a.exists(), 0);
    assert_eq!(a.uid_next(), uid(2));
}

#[test]
fn recent_goes_to_one_read_write_session_only() {
    let acc = account();
    let inbox = name("INBOX");
    append(&acc, 2);
    // EXAMINE sees \Recent but does not take it.
    let examine = acc.select(&inbox, SelectMode::ReadOnly).unwrap();
    assert_eq!(examine.recent(), 2);
    let mut a = acc.select(&inbox, SelectMode::ReadWrite).unwrap();
    assert_eq!(a.recent(), 2);
    let mut b = acc.select(&inbox, SelectMode::ReadWrite).unwrap();
    assert_eq!(b.recent(), 0);
    assert_eq!(acc.status(&inbox).unwrap().recent, 0);

    // A new message: whichever session hears of it first gets \Recent.
    append(&acc, 1);
    assert_eq!(acc.status(&inbox).unwrap().recent, 1);
    let nb = b.changes(true).unwrap();
    assert_eq!(nb, [Notification::Exists(3), Notification::Recent(1)]);
    let na = a.changes(true).unwrap();
    assert_eq!(na, [Notification::Exists(3), Notification::Recent(2)]);
    assert!(b.messages()[2].recent && !a.messages()[2].recent);
    drop(examine);
    let later = acc.select(&inbox, SelectMode::ReadWrite).unwrap();
    assert_eq!(later.recent(), 0);
}

#[test]
fn non_peek_fetch_sets_seen_but_not_in_examine() {
    let acc = account();
    let inbox = name("INBOX");
    append(&acc, 2);
    let mut ro = acc.select(&inbox, SelectMode::ReadOnly).unwrap();
    assert!(ro.mark_seen(&[uid(1)]).unwrap().is_empty());
    assert_eq!(acc.status(&inbox).unwrap().unseen, 2);
    assert!(matches!(
        ro.store_flags(&set(FlagAction::Add, SystemFlags::SEEN, &[1])),
        Err(StoreError::ReadOnly)
    ));
    assert!(matches!(ro.expunge(None), Err(StoreError::ReadOnly)));

    let mut rw = acc.select(&inbox, SelectMode::ReadWrite).unwrap();
    let updated = rw.mark_seen(&[uid(1)]).unwrap();
    assert_eq!(updated.len(), 1);
    assert!(updated[0].flags.is_seen());
    assert!(rw.messages()[0].flags.is_seen());
    // Already seen: nothing to change.
    assert!(rw.mark_seen(&[uid(1)]).unwrap().is_empty());
    assert_eq!(acc.status(&inbox).unwrap().unseen, 1);
    // The EXAMINE session hears of it as a flag change.
    let n = ro.changes(true).unwrap();
    assert!(matches!(&n[..], [Notification::Flags { seq: 1, flags, .. }] if flags.is_seen()));
}

#[test]
fn close_expunges_silently_and_copy_works_read_only() {
    let acc = account();
    let inbox = name("INBOX");
    append(&acc, 3);
    let mut ro = acc.select(&inbox, SelectMode::ReadOnly).unwrap();
    let copied = ro.copy_to(&[uid(1), uid(3)], &name("Trash")).unwrap();
    assert_eq!(copied.mapping, [(uid(1), uid(1)), (uid(3), uid(2))]);
    assert!(matches!(
        ro.move_to(&[uid(1)], &name("Trash")),
        Err(StoreError::ReadOnly)
    ));

    let mut rw = acc.select(&inbox, SelectMode::ReadWrite).unwrap();
    rw.store_flags(&set(FlagAction::Add, SystemFlags::DELETED, &[2]))
        .unwrap();
    rw.close().unwrap();
    assert_eq!(acc.status(&inbox).unwrap().messages, 2);
    // The read-only session still shows message 2 and can read it until
    // it is told.
    assert_eq!(&ro.read(uid(2)).unwrap()[..], b"Subject: 1\r\n\r\nbody 1\r\n");
    assert_eq!(
        ro.changes(true).unwrap(),
        [Notification::Expunge { seq: 2, uid: uid(2) }]
    );
}

#[test]
fn move_reports_expunges_to_the_source_sessions() {
    let acc = account();
    let inbox = name("INBOX");
    append(&acc, 3);
    let mut a = acc.select(&inbox, SelectMode::ReadWrite).unwrap();
    let mut trash = acc.select(&name("Trash"), SelectMode::ReadWrite).unwrap();
    let moved = a.move_to(&[uid(2)], &name("Trash")).unwrap();
    assert_eq!(moved.mapping, [(uid(2), uid(1))]);
    assert_eq!(
        a.changes(true).unwrap(),
        [Notification::Expunge { seq: 2, uid: uid(2) }]
    );
    assert_eq!(
        trash.changes(true).unwrap(),
        [Notification::Exists(1), Notification::Recent(1)]
    );
}

#[test]
fn renamed_and_deleted_mailboxes() {
    let acc = account();
    acc.create_mailbox(&name("Work"), &[]).unwrap();
    acc.append(&name("Work"), AppendMessage::new(&b"x\r\n"[..]))
        .unwrap();
    let mut a = acc.select(&name("Work"), SelectMode::ReadWrite).unwrap();
    acc.rename_mailbox(&name("Work"), &name("Job")).unwrap();
    assert!(a.changes(true).unwrap().is_empty());
    assert_eq!(a.mailbox().name, name("Job"));
    a.store_flags(&set(FlagAction::Add, SystemFlags::SEEN, &[1]))
        .unwrap();
    assert!(acc.snapshot(&name("Job")).unwrap().messages[0].flags.is_seen());

    acc.delete_mailbox(&name("Job")).unwrap();
    acc.create_mailbox(&name("Job"), &[]).unwrap();
    assert_eq!(a.changes(true).unwrap(), [Notification::Gone]);
    assert!(a.is_gone());
    assert!(matches!(
        a.store_flags(&set(FlagAction::Add, SystemFlags::SEEN, &[1])),
        Err(StoreError::MailboxGone(_))
    ));
}

#[test]
fn an_overflowing_session_resynchronises_from_the_mailbox() {
    let acc = account_with(StoreConfig {
        max_pending_changes: 2,
        ..StoreConfig::default()
    });
    let inbox = name("INBOX");
    append(&acc, 3);
    let mut a = acc.select(&inbox, SelectMode::ReadWrite).unwrap();
    let mut b = acc.select(&inbox, SelectMode::ReadWrite).unwrap();
    b.store_flags(&set(FlagAction::Add, SystemFlags::DELETED, &[1]))
        .unwrap();
    b.store_flags(&set(FlagAction::Add, SystemFlags::FLAGGED, &[3]))
        .unwrap();
    b.expunge(None).unwrap();
    append(&acc, 2);
    b.store_flags(&set(FlagAction::Add, SystemFlags::SEEN, &[4]))
        .unwrap();
    let n = a.changes(true).unwrap();
    assert_eq!(n[0], Notification::Expunge { seq: 1, uid: uid(1) });
    assert_eq!(n[1], Notification::Exists(4));
    assert!(
        n.iter()
            .any(|x| matches!(x, Notification::Flags { uid, .. } if uid.get() == 3))
    );
    b.changes(true).unwrap();
    let plain = |v: &mailwire_mailbox::SelectedMailbox| {
        v.messages()
            .iter()
            .map(|m| (m.uid, m.flags.clone(), m.modseq))
            .collect::<Vec<_>>()
    };
    assert_eq!(plain(&a), plain(&b));
    assert_eq!(
        a.messages().iter().map(|m| m.uid.get()).collect::<Vec<_>>(),
        [2, 3, 4, 5]
    );
    assert!(a.messages()[2].flags.is_seen());
}

/// While a session holds expunges back (its command forbids them), the
/// HIGHESTMODSEQ it may tell stays below their MODSEQ, though it has
/// seen higher ones (a flag change after them): RFC 7162 section 3.2. A
/// client told the higher value, reconnecting with QRESYNC, would never
/// learn of those expunges.
#[test]
fn a_session_holding_expunges_back_tells_a_highestmodseq_below_them() {
    let acc = account();
    let inbox = name("INBOX");
    append(&acc, 3);
    let mut a = acc.select(&inbox, SelectMode::ReadWrite).unwrap();
    let mut b = acc.select(&inbox, SelectMode::ReadWrite).unwrap();
    b.store_flags(&set(FlagAction::Add, SystemFlags::DELETED, &[1]))
        .unwrap();
    a.changes(true).unwrap();
    let before = a.highest_modseq();
    b.expunge(None).unwrap();
    b.store_flags(&set(FlagAction::Add, SystemFlags::FLAGGED, &[3]))
        .unwrap();
    let held = a.changes(false).unwrap();
    assert!(
        held.iter().all(|n| !matches!(n, Notification::Expunge { .. })),
        "{held:?}"
    );
    assert!(a.has_pending_expunges());
    assert!(
        a.highest_modseq() > before.next().unwrap(),
        "the flag change was seen"
    );
    assert_eq!(a.safe_highest_modseq(), before, "below the expunge's MODSEQ");
    let told = a.changes(true).unwrap();
    assert_eq!(told[0], Notification::Expunge { seq: 1, uid: uid(1) });
    assert!(!a.has_pending_expunges());
    assert_eq!(a.safe_highest_modseq(), a.highest_modseq());
}

/// An overflowed session whose look at the mailbox fails (a snapshot the
/// backend cannot give now) keeps its changes for the next look: then it
/// learns of everything, and lets go of the expunged content. Before, the
/// changes were taken and dropped: the view kept an expunged message for
/// good, and its content was never purged (and counted against the
/// quota).
#[test]
fn an_overflowed_session_whose_look_fails_keeps_its_changes() {
    let flaky = Flaky::default();
    let fail = flaky.fail_snapshot.clone();
    let store = Store::with_config(
        flaky,
        StoreConfig {
            max_pending_changes: 2,
            ..StoreConfig::default()
        },
    );
    let acc = store.create_account(&AccountName::new("alice").unwrap()).unwrap();
    let inbox = name("INBOX");
    append(&acc, 3);
    let mut a = acc.select(&inbox, SelectMode::ReadWrite).unwrap();
    let mut b = acc.select(&inbox, SelectMode::ReadWrite).unwrap();
    b.store_flags(&set(FlagAction::Add, SystemFlags::DELETED, &[1]))
        .unwrap();
    b.store_flags(&set(FlagAction::Add, SystemFlags::FLAGGED, &[3]))
        .unwrap();
    b.expunge(None).unwrap();
    append(&acc, 2);
    b.changes(true).unwrap();
    assert!(acc.kept_size(&inbox).unwrap() > 0, "a has not been told");

    fail.store(true, Ordering::SeqCst);
    assert!(a.changes(true).is_err());
    fail.store(false, Ordering::SeqCst);
    let n = a.changes(true).unwrap();
    assert_eq!(n[0], Notification::Expunge { seq: 1, uid: uid(1) });
    assert_eq!(
        a.messages().iter().map(|m| m.uid.get()).collect::<Vec<_>>(),
        [2, 3, 4, 5]
    );
    assert_eq!(
        acc.kept_size(&inbox).unwrap(),
        0,
        "the expunged content is let go"
    );
}

#[test]
fn a_renamed_mailbox_stays_readable_by_its_sessions() {
    let acc = account();
    acc.create_mailbox(&name("B/C"), &[]).unwrap();
    acc.append(&name("B/C"), AppendMessage::new(&b"x\r\n"[..]))
        .unwrap();
    let a = acc.select(&name("B/C"), SelectMode::ReadWrite).unwrap();
    acc.rename_mailbox(&name("B/C"), &name("D")).unwrap();
    assert_eq!(&a.read(uid(1)).unwrap()[..], b"x\r\n");
}

#[test]
fn store_and_views_are_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    fn assert_send<T: Send>() {}
    assert_send_sync::<Store>();
    assert_send_sync::<Account>();
    assert_send::<mailwire_mailbox::SelectedMailbox>();

    let acc = account();
    let inbox = name("INBOX");
    let mut watcher = acc.select(&inbox, SelectMode::ReadOnly).unwrap();
    let workers: Vec<_> = (0..4)
        .map(|t| {
            let acc = acc.clone();
            std::thread::spawn(move || {
                let mut view = acc.select(&name("INBOX"), SelectMode::ReadWrite).unwrap();
                for i in 0..25 {
                    let body = format!("Subject: {t}-{i}\r\n\r\nx\r\n");
                    let new = acc
                        .append(&name("INBOX"), AppendMessage::new(Bytes::from(body)))
                        .unwrap();
                    view.changes(true).unwrap();
                    view.mark_seen(&new.uids).unwrap();
                    if i % 5 == 0 {
                        view.store_flags(&set(FlagAction::Add, SystemFlags::DELETED, &[new.uids[0].get()]))
                            .unwrap();
                        view.expunge(None).unwrap();
                    }
                }
                view.changes(true).unwrap();
                view.messages().len()
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    watcher.changes(true).unwrap();
    let snapshot = acc.snapshot(&inbox).unwrap();
    assert_eq!(snapshot.messages.len(), 4 * 20);
    let view: Vec<_> = watcher
        .messages()
        .iter()
        .map(|m| (m.uid, m.flags.clone()))
        .collect();
    let store: Vec<_> = snapshot
        .messages
        .iter()
        .map(|m| (m.uid, m.flags.clone()))
        .collect();
    assert_eq!(view, store);
    assert!(snapshot.messages.iter().all(|m| m.flags.is_seen()));
    // UIDs were handed out once each: 100 appends, UIDNEXT 101.
    assert_eq!(snapshot.uid_next, uid(101));
}

/// A read-write SELECT whose `\Recent` claim cannot be recorded (a
/// temporary failure: a full disk) opens the mailbox, with the messages
/// nobody claimed shown as recent (RFC 3501 section 2.3.2); the next
/// SELECT, once the claim can be recorded, sees them recent too, and
/// claims them. Before, the failure of the claim failed the SELECT.
#[test]
fn a_select_whose_recent_claim_fails_temporarily_opens() {
    let flaky = Flaky::default();
    let fail = flaky.fail_claim_recent.clone();
    let store = Store::new(flaky);
    let acc = store.create_account(&AccountName::new("alice").unwrap()).unwrap();
    append(&acc, 2);
    let inbox = name("INBOX");

    fail.store(true, Ordering::SeqCst);
    let a = acc
        .select(&inbox, SelectMode::ReadWrite)
        .expect("SELECT with a failed claim");
    assert_eq!(a.recent(), 2);
    fail.store(false, Ordering::SeqCst);
    let b = acc.select(&inbox, SelectMode::ReadWrite).unwrap();
    assert_eq!(b.recent(), 2, "the claim was never recorded");
    let c = acc.select(&inbox, SelectMode::ReadWrite).unwrap();
    assert_eq!(c.recent(), 0);
}

/// A session left idle while another appends and expunges holds none of
/// those messages: it never showed them, and it does not hear of them.
/// It held each one's content (counted against the quota) until it
/// looked, and then announced them (EXISTS) only to expunge them.
#[test]
fn an_idle_session_holds_no_message_that_came_and_went_since_it_looked() {
    let acc = account();
    let inbox = name("INBOX");
    append(&acc, 2);
    let mut idle = acc.select(&inbox, SelectMode::ReadWrite).unwrap();
    let mut busy = acc.select(&inbox, SelectMode::ReadWrite).unwrap();
    for _ in 0..50 {
        append(&acc, 1);
        busy.changes(true).unwrap();
        let newest = busy.messages().last().unwrap().uid.get();
        busy.store_flags(&set(FlagAction::Add, SystemFlags::DELETED, &[newest]))
            .unwrap();
        busy.expunge(None).unwrap();
        busy.changes(true).unwrap();
        assert_eq!(acc.kept_size(&inbox).unwrap(), 0, "UID {newest} kept");
    }
    // A message the idle session shows is kept for it until it is told.
    busy.store_flags(&set(FlagAction::Add, SystemFlags::DELETED, &[1]))
        .unwrap();
    busy.expunge(None).unwrap();
    busy.changes(true).unwrap();
    assert!(acc.kept_size(&inbox).unwrap() > 0);
    assert_eq!(idle.changes(false).unwrap(), []);
    assert_eq!(
        idle.changes(true).unwrap(),
        [Notification::Expunge { seq: 1, uid: uid(1) }]
    );
    assert_eq!(
        idle.messages().iter().map(|m| m.uid.get()).collect::<Vec<_>>(),
        [2]
    );
    assert_eq!(acc.kept_size(&inbox).unwrap(), 0);
}

//! Store operations on the memory backend: accounts, the mailbox
//! hierarchy, RENAME (INBOX included), UIDVALIDITY, COPY/MOVE UID maps,
//! STORE, EXPUNGE tombstones and STATUS; the cap on mailboxes on the
//! Maildir backend too.

#[path = "support/flaky.rs"]
mod flaky;

use bytes::Bytes;
use flaky::Flaky;
use mailwire_mailbox::{
    Account, AccountName, AppendMessage, FlagAction, Flags, InternalDate, MailboxName, MaildirBackend,
    MaildirOptions, MemoryBackend, ModSeq, SpecialUse, Store, StoreCondition, StoreConfig, StoreError,
    StoreFlags, SystemFlags, Uid,
};

fn name(s: &str) -> MailboxName {
    MailboxName::new(s).unwrap()
}

fn uid(n: u32) -> Uid {
    Uid::new(n).unwrap()
}

fn account() -> Account {
    let store = Store::new(MemoryBackend::new());
    store.create_account(&AccountName::new("alice").unwrap()).unwrap()
}

fn msg(text: &str) -> AppendMessage {
    AppendMessage {
        content: Bytes::copy_from_slice(text.as_bytes()),
        flags: Flags::new(),
        internal_date: Some(InternalDate::from_unix(1_700_000_000)),
    }
}

fn flags(names: &[&str]) -> Flags {
    Flags::parse(names.iter().copied()).unwrap()
}

fn uids_of(account: &Account, mailbox: &str) -> Vec<u32> {
    account
        .snapshot(&name(mailbox))
        .unwrap()
        .messages
        .iter()
        .map(|m| m.uid.get())
        .collect()
}

#[test]
fn new_accounts_get_the_special_use_mailboxes_subscribed() {
    let acc = account();
    let list = acc.list().unwrap();
    let names: Vec<_> = list.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["Drafts", "INBOX", "Junk", "Sent", "Trash"]);
    let uses: Vec<_> = list.iter().map(|m| m.special_use.clone()).collect();
    assert_eq!(
        uses,
        [
            vec![SpecialUse::Drafts],
            vec![],
            vec![SpecialUse::Junk],
            vec![SpecialUse::Sent],
            vec![SpecialUse::Trash]
        ]
    );
    assert_eq!(acc.subscriptions().unwrap().len(), 5);
    // Every mailbox has its own UIDVALIDITY.
    let mut v: Vec<_> = list.iter().map(|m| m.uid_validity).collect();
    v.sort();
    v.dedup();
    assert_eq!(v.len(), 5);
    let again = acc.store().create_account(acc.name());
    assert!(matches!(again, Err(StoreError::AccountExists(_))));
}

#[test]
fn create_makes_superiors_and_refuses_inbox_and_duplicates() {
    let acc = account();
    acc.create_mailbox(&name("a/b/c"), &[]).unwrap();
    assert!(acc.mailbox(&name("a")).is_ok() && acc.mailbox(&name("a/b")).is_ok());
    assert!(matches!(
        acc.create_mailbox(&name("a/b/c"), &[]),
        Err(StoreError::MailboxExists(_))
    ));
    assert!(matches!(
        acc.create_mailbox(&name("inbox"), &[]),
        Err(StoreError::MailboxExists(_))
    ));
    let archive = acc
        .create_mailbox(&name("Archive"), &[SpecialUse::Archive])
        .unwrap();
    assert_eq!(archive.special_use, [SpecialUse::Archive]);
}

#[test]
fn delete_keeps_inferiors_and_recreate_gets_a_new_uidvalidity() {
    let acc = account();
    acc.create_mailbox(&name("work/old"), &[]).unwrap();
    let first = acc.mailbox(&name("work")).unwrap().uid_validity;
    acc.append(&name("work"), msg("one\r\n")).unwrap();
    acc.append(&name("work"), msg("two\r\n")).unwrap();
    acc.delete_mailbox(&name("work")).unwrap();
    assert!(acc.mailbox(&name("work/old")).is_ok());
    assert!(matches!(
        acc.status(&name("work")),
        Err(StoreError::NoSuchMailbox(_))
    ));
    let again = acc.create_mailbox(&name("work"), &[]).unwrap();
    assert!(again.uid_validity > first);
    // The new incarnation starts empty; its UIDs start over under the new
    // UIDVALIDITY.
    let status = acc.status(&name("work")).unwrap();
    assert_eq!((status.messages, status.uid_next), (0, uid(1)));
    assert!(matches!(
        acc.delete_mailbox(&name("INBOX")),
        Err(StoreError::NotAllowed(_))
    ));
    assert!(matches!(
        acc.delete_mailbox(&name("nope")),
        Err(StoreError::NoSuchMailbox(_))
    ));
}

#[test]
fn rename_moves_inferiors_and_keeps_uidvalidity() {
    let acc = account();
    acc.create_mailbox(&name("a/b"), &[]).unwrap();
    acc.append(&name("a/b"), msg("x\r\n")).unwrap();
    let v = acc.mailbox(&name("a/b")).unwrap().uid_validity;
    acc.rename_mailbox(&name("a"), &name("z/y")).unwrap();
    assert!(acc.mailbox(&name("a")).is_err() && acc.mailbox(&name("a/b")).is_err());
    assert!(acc.mailbox(&name("z")).is_ok());
    let moved = acc.mailbox(&name("z/y/b")).unwrap();
    assert_eq!(moved.uid_validity, v);
    assert_eq!(uids_of(&acc, "z/y/b"), [1]);
    assert!(matches!(
        acc.rename_mailbox(&name("z"), &name("z/y/q")),
        Err(StoreError::NotAllowed(_))
    ));
    assert!(matches!(
        acc.rename_mailbox(&name("z"), &name("Sent")),
        Err(StoreError::MailboxExists(_))
    ));
    assert!(matches!(
        acc.rename_mailbox(&name("nope"), &name("x")),
        Err(StoreError::NoSuchMailbox(_))
    ));
}

#[test]
fn renaming_inbox_moves_its_messages_and_leaves_it_empty() {
    let acc = account();
    acc.create_mailbox(&name("INBOX/keep"), &[]).unwrap();
    let inbox_v = acc.mailbox(&name("INBOX")).unwrap().uid_validity;
    let mut seen = msg("first\r\n");
    seen.flags = flags(&["\\Seen", "$Work"]);
    acc.append(&name("INBOX"), seen).unwrap();
    acc.append(&name("INBOX"), msg("second\r\n")).unwrap();
    acc.rename_mailbox(&name("inbox"), &name("Old/Mail")).unwrap();

    let inbox = acc.status(&name("INBOX")).unwrap();
    assert_eq!(inbox.messages, 0);
    assert_eq!(inbox.uid_validity, inbox_v, "INBOX stays the same mailbox");
    assert_eq!(inbox.uid_next, uid(3), "its UIDs are not reused");
    assert!(
        acc.mailbox(&name("INBOX/keep")).is_ok(),
        "inferiors of INBOX stay"
    );

    let old = acc.snapshot(&name("Old/Mail")).unwrap();
    assert!(old.uid_validity > inbox_v);
    assert_eq!(old.messages.len(), 2);
    assert_eq!(old.messages[0].flags, flags(&["\\Seen", "$Work"]));
    assert_eq!(
        old.messages[0].internal_date,
        InternalDate::from_unix(1_700_000_000)
    );
    assert_eq!(
        &acc.read_message(&name("Old/Mail"), old.messages[1].uid).unwrap()[..],
        b"second\r\n"
    );
    assert!(matches!(
        acc.rename_mailbox(&name("INBOX"), &name("Sent")),
        Err(StoreError::MailboxExists(_))
    ));
}

#[test]
fn append_returns_uids_and_normalises_line_ends() {
    let acc = account();
    let inbox = name("INBOX");
    let a = acc.append(&inbox, msg("Subject: a\n\nbody")).unwrap();
    assert_eq!(a.uids, [uid(1)]);
    assert_eq!(a.uid_validity, acc.mailbox(&inbox).unwrap().uid_validity);
    let stored = acc.read_message(&inbox, uid(1)).unwrap();
    assert_eq!(&stored[..], b"Subject: a\r\n\r\nbody\r\n");
    assert_eq!(
        acc.snapshot(&inbox).unwrap().messages[0].size,
        stored.len() as u64
    );
    let b = acc.append_all(&inbox, vec![msg("b\r\n"), msg("c\r\n")]).unwrap();
    assert_eq!(b.uids, [uid(2), uid(3)]);
    let status = acc.status(&inbox).unwrap();
    assert_eq!((status.messages, status.uid_next, status.unseen), (3, uid(4), 3));
    assert_eq!(status.size, (stored.len() + 6) as u64);
    assert!(matches!(
        acc.append(&name("nope"), msg("x")),
        Err(StoreError::NoSuchMailbox(_))
    ));
}

#[test]
fn limits_refuse_oversized_messages_and_keyword_floods() {
    let store = Store::with_config(
        MemoryBackend::new(),
        StoreConfig {
            max_keywords: 2,
            max_message_size: 10,
            ..StoreConfig::default()
        },
    );
    let acc = store.create_account(&AccountName::new("bob").unwrap()).unwrap();
    assert!(matches!(
        acc.append(&name("INBOX"), msg("0123456789\n")),
        Err(StoreError::Limit(_))
    ));
    let mut m = msg("ok");
    m.flags = flags(&["a", "b", "c"]);
    assert!(matches!(acc.append(&name("INBOX"), m), Err(StoreError::Limit(_))));
    assert_eq!(acc.status(&name("INBOX")).unwrap().messages, 0);
}

/// A CREATE or RENAME past `max_mailboxes` is refused whole (no superior
/// made, INBOX's messages where they were); a DELETE makes room again.
fn mailbox_cap_holds(store: Store) {
    let acc = store.create_account(&AccountName::new("carol").unwrap()).unwrap();
    // INBOX and the four special-use mailboxes: room for three more.
    assert_eq!(acc.list().unwrap().len(), 5);
    acc.create_mailbox(&name("a"), &[]).unwrap();
    acc.create_mailbox(&name("b/c"), &[]).unwrap();
    let full = acc.list().unwrap();
    assert_eq!(full.len(), 8);
    fn refused<T>(r: Result<T, StoreError>) -> bool {
        matches!(r, Err(StoreError::Limit(_)))
    }
    assert!(refused(acc.create_mailbox(&name("d"), &[])));
    // A superior counts: "x/y" needs two, and neither is made.
    acc.delete_mailbox(&name("a")).unwrap();
    assert!(refused(acc.create_mailbox(&name("x/y"), &[])));
    assert!(acc.mailbox(&name("x")).is_err());
    // A name whose superiors exist needs one.
    acc.create_mailbox(&name("b/d"), &[]).unwrap();
    assert!(refused(acc.create_mailbox(&name("b/e"), &[])));
    // A rename that makes no mailbox passes; one that makes a superior,
    // or renames INBOX (a new mailbox), does not.
    acc.rename_mailbox(&name("b/d"), &name("b/f")).unwrap();
    assert!(refused(acc.rename_mailbox(&name("b/f"), &name("g/f"))));
    assert!(acc.mailbox(&name("b/f")).is_ok() && acc.mailbox(&name("g")).is_err());
    acc.append(&name("INBOX"), msg("kept\n")).unwrap();
    assert!(refused(acc.rename_mailbox(&name("INBOX"), &name("Old"))));
    assert!(acc.mailbox(&name("Old")).is_err());
    assert_eq!(uids_of(&acc, "INBOX"), [1]);
    // An existing name is still refused as existing, not as a limit.
    assert!(matches!(
        acc.create_mailbox(&name("b/c"), &[]),
        Err(StoreError::MailboxExists(_))
    ));
    acc.delete_mailbox(&name("b/f")).unwrap();
    acc.rename_mailbox(&name("INBOX"), &name("Old")).unwrap();
    assert_eq!(uids_of(&acc, "Old"), [1]);
    assert_eq!(acc.list().unwrap().len(), 8);
}

#[test]
fn mailboxes_past_the_cap_are_refused() {
    let config = StoreConfig {
        max_mailboxes: 8,
        ..StoreConfig::default()
    };
    mailbox_cap_holds(Store::with_config(MemoryBackend::new(), config.clone()));
    let dir = tempfile::tempdir().unwrap();
    let maildir =
        MaildirBackend::with_options(dir.path(), MaildirOptions::default().with_fsync(false)).unwrap();
    mailbox_cap_holds(Store::with_config(maildir, config));
}

#[test]
fn copy_and_move_return_uid_maps() {
    let acc = account();
    let (inbox, trash) = (name("INBOX"), name("Trash"));
    acc.append_all(&inbox, (0..4).map(|i| msg(&format!("m{i}\r\n"))).collect())
        .unwrap();
    acc.append(&trash, msg("already\r\n")).unwrap();
    let trash_v = acc.mailbox(&trash).unwrap().uid_validity;

    // UID 9 does not exist: it is left out of the map.
    let copied = acc.copy(&inbox, &[uid(3), uid(1), uid(9)], &trash).unwrap();
    assert_eq!(copied.uid_validity, trash_v);
    assert_eq!(copied.mapping, [(uid(1), uid(2)), (uid(3), uid(3))]);
    assert_eq!(uids_of(&acc, "INBOX"), [1, 2, 3, 4]);

    let moved = acc.move_messages(&inbox, &[uid(2), uid(4)], &trash).unwrap();
    assert_eq!(moved.mapping, [(uid(2), uid(4)), (uid(4), uid(5))]);
    assert_eq!(uids_of(&acc, "INBOX"), [1, 3]);
    assert_eq!(uids_of(&acc, "Trash"), [1, 2, 3, 4, 5]);
    assert_eq!(&acc.read_message(&trash, uid(5)).unwrap()[..], b"m3\r\n");
    // A move leaves tombstones in the source.
    let changes = acc.changes_since(&inbox, ModSeq::MIN).unwrap();
    assert_eq!(changes.vanished.iter().collect::<Vec<_>>(), [uid(2), uid(4)]);
}

#[test]
fn store_flags_add_remove_replace_and_unchangedsince() {
    let acc = account();
    let inbox = name("INBOX");
    acc.append_all(&inbox, vec![msg("a"), msg("b")]).unwrap();
    let request = |action, f: &[&str], uids: &[u32]| StoreFlags {
        uids: uids.iter().map(|&u| uid(u)).collect(),
        action,
        flags: flags(f),
        condition: None,
    };
    let before = acc.status(&inbox).unwrap().highest_modseq;
    let out = acc
        .store_flags(&inbox, &request(FlagAction::Add, &["\\Seen", "$Junk"], &[1, 2]))
        .unwrap();
    assert_eq!(out.updated.len(), 2);
    let m1 = out.updated[0].modseq;
    assert!(m1 > before);
    assert_eq!(
        out.updated[0].modseq, out.updated[1].modseq,
        "one operation, one MODSEQ"
    );
    assert_eq!(acc.status(&inbox).unwrap().highest_modseq, m1);

    // Adding what is there changes nothing and keeps the MODSEQ.
    let none = acc
        .store_flags(&inbox, &request(FlagAction::Add, &["\\seen"], &[1]))
        .unwrap();
    assert!(none.updated.is_empty());
    assert_eq!(acc.status(&inbox).unwrap().highest_modseq, m1);

    let out = acc
        .store_flags(&inbox, &request(FlagAction::Remove, &["$junk"], &[2]))
        .unwrap();
    assert_eq!(out.updated[0].flags, flags(&["\\Seen"]));
    let m2 = out.updated[0].modseq;
    assert!(m2 > m1);
    let out = acc
        .store_flags(&inbox, &request(FlagAction::Replace, &["\\Draft"], &[1]))
        .unwrap();
    assert_eq!(out.updated[0].flags, flags(&["\\Draft"]));

    // UNCHANGEDSINCE m1: message 2 changed after it, message 1 too (at
    // m3); both fail. With the current value, both pass.
    let mut conditional = request(FlagAction::Add, &["\\Flagged"], &[1, 2]);
    conditional.condition = Some(StoreCondition::UnchangedSince(m1));
    let out = acc.store_flags(&inbox, &conditional).unwrap();
    assert_eq!(out.failed, [uid(1), uid(2)]);
    assert!(out.updated.is_empty());
    let now = acc.status(&inbox).unwrap().highest_modseq;
    conditional.condition = Some(StoreCondition::UnchangedSince(now));
    let out = acc.store_flags(&inbox, &conditional).unwrap();
    assert!(out.failed.is_empty());
    assert_eq!(out.updated.len(), 2);
    let snapshot = acc.snapshot(&inbox).unwrap();
    assert!(
        snapshot
            .messages
            .iter()
            .all(|m| m.flags.system.contains(SystemFlags::FLAGGED))
    );
}

#[test]
fn expunge_leaves_tombstones_answering_what_vanished_since() {
    let acc = account();
    let inbox = name("INBOX");
    acc.append_all(&inbox, (0..5).map(|i| msg(&format!("{i}"))).collect())
        .unwrap();
    let deleted = |uids: &[u32]| StoreFlags {
        uids: uids.iter().map(|&u| uid(u)).collect(),
        action: FlagAction::Add,
        flags: Flags::system(SystemFlags::DELETED),
        condition: None,
    };
    acc.store_flags(&inbox, &deleted(&[2, 4, 5])).unwrap();
    let mark = acc.status(&inbox).unwrap().highest_modseq;

    // UID EXPUNGE: only the listed \Deleted messages.
    let first = acc.expunge(&inbox, Some(&[uid(4), uid(1)])).unwrap();
    assert_eq!(first.uids, [uid(4)]);
    let m4 = first.modseq.unwrap();
    assert!(m4 > mark);
    let second = acc.expunge(&inbox, None).unwrap();
    assert_eq!(second.uids, [uid(2), uid(5)]);
    assert!(second.modseq.unwrap() > m4);
    assert_eq!(acc.expunge(&inbox, None).unwrap().modseq, None);

    let status = acc.status(&inbox).unwrap();
    assert_eq!(status.highest_modseq, second.modseq.unwrap());
    assert_eq!(status.uid_next, uid(6), "UIDNEXT does not go back");
    assert_eq!(uids_of(&acc, "INBOX"), [1, 3]);

    let since_mark = acc.changes_since(&inbox, mark).unwrap();
    assert_eq!(
        since_mark.vanished.iter().collect::<Vec<_>>(),
        [uid(2), uid(4), uid(5)]
    );
    assert!(since_mark.changed.is_empty());
    let since_first = acc.changes_since(&inbox, m4).unwrap();
    assert_eq!(since_first.vanished.iter().collect::<Vec<_>>(), [uid(2), uid(5)]);
    // Nobody shows the messages, so their content is gone.
    assert!(matches!(
        acc.read_message(&inbox, uid(2)),
        Err(StoreError::NoSuchMessage(_))
    ));
    // New messages never reuse a UID.
    assert_eq!(acc.append(&inbox, msg("new")).unwrap().uids, [uid(6)]);
}

#[test]
fn status_counts() {
    let acc = account();
    let inbox = name("INBOX");
    let mut a = msg("a");
    a.flags = flags(&["\\Seen", "\\Deleted"]);
    acc.append_all(&inbox, vec![a, msg("bb"), msg("ccc")]).unwrap();
    let s = acc.status(&inbox).unwrap();
    assert_eq!((s.messages, s.unseen, s.deleted, s.recent), (3, 2, 1, 3));
    assert_eq!(s.size, 3 + 4 + 5);
}

#[test]
fn subscriptions_are_kept_by_name() {
    let acc = account();
    acc.unsubscribe(&name("Junk")).unwrap();
    acc.subscribe(&name("Not/There")).unwrap();
    let subs: Vec<_> = acc
        .subscriptions()
        .unwrap()
        .into_iter()
        .map(|n| n.to_string())
        .collect();
    assert_eq!(subs, ["Drafts", "INBOX", "Not/There", "Sent", "Trash"]);
    acc.delete_mailbox(&name("Trash")).unwrap();
    assert!(acc.subscriptions().unwrap().contains(&name("Trash")));
}

/// A store over a [`Flaky`] backend keeping `idle` accounts no handle
/// uses, and the list of the accounts it told the backend to forget.
fn recording_store(idle: usize) -> (Store, std::sync::Arc<std::sync::Mutex<Vec<AccountName>>>) {
    let backend = Flaky::default();
    let released = std::sync::Arc::clone(&backend.released);
    let config = StoreConfig {
        max_idle_accounts: idle,
        ..StoreConfig::default()
    };
    (Store::with_config(backend, config), released)
}

/// The store keeps the accounts no handle uses up to
/// `max_idle_accounts`, the most recently used, and has the backend forget
/// the least recently used past that; an account in use (a session, a
/// handle, a clone of one) is never forgotten, and one taken again is no
/// longer idle.
#[test]
fn accounts_no_session_uses_are_forgotten_past_the_idle_bound() {
    let (store, released) = recording_store(2);
    let forgotten = || -> Vec<String> {
        released
            .lock()
            .unwrap()
            .drain(..)
            .map(|a| a.as_str().to_owned())
            .collect()
    };
    let names: Vec<AccountName> = ["a", "b", "c", "d", "e", "f"]
        .iter()
        .map(|n| AccountName::new(n).unwrap())
        .collect();
    for n in &names {
        drop(store.create_account(n).unwrap());
    }
    // a, b idle and kept; c pushed a out, d pushed b, and so on.
    assert_eq!(forgotten(), ["a", "b", "c", "d"]);

    // An account with a session open, and one with two handles.
    let a = store.account(&names[0]).unwrap();
    let session = a
        .select(&MailboxName::inbox(), mailwire_mailbox::SelectMode::ReadWrite)
        .unwrap();
    drop(a);
    let b = store.account(&names[1]).unwrap();
    let b_again = b.clone();
    drop(b);
    for n in &names[2..] {
        drop(store.account(n).unwrap());
    }
    // e and f were idle; each of c, d, e, f going idle again pushes out
    // the oldest of the three.
    assert_eq!(forgotten(), ["e", "f", "c", "d"]);
    for _ in 0..3 {
        for n in &names[2..] {
            drop(store.account(n).unwrap());
        }
    }
    let gone = forgotten();
    assert!(
        !gone.iter().any(|n| n == "a" || n == "b"),
        "an account in use was forgotten: {gone:?}"
    );
    // The session still works on its account.
    assert_eq!(session.exists(), 0);
    drop(b_again);
    drop(session);
    // b then a went idle last: the bound of two keeps them.
    assert_eq!(forgotten(), ["e", "f"]);
    drop(store.account(&names[2]).unwrap());
    assert_eq!(forgotten(), ["b"]);
}

/// Two handles of one account dropped at the same moment on two threads:
/// exactly one of them is the last, and the account is forgotten once.
#[test]
fn handles_dropped_at_once_forget_their_account_once() {
    let (store, released) = recording_store(0);
    let x = AccountName::new("x").unwrap();
    drop(store.create_account(&x).unwrap());
    released.lock().unwrap().clear();
    for round in 1..=200 {
        let one = store.account(&x).unwrap();
        let two = one.clone();
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
        let other = std::sync::Arc::clone(&barrier);
        let thread = std::thread::spawn(move || {
            other.wait();
            drop(two);
        });
        barrier.wait();
        drop(one);
        thread.join().unwrap();
        assert_eq!(released.lock().unwrap().len(), round, "round {round}");
    }
}

/// A Maildir account forgotten by the store is read again from its files
/// when next used: the same UIDVALIDITY, UIDs, flags and HIGHESTMODSEQ,
/// and a later change is taken in as before. (That the store tells the
/// backend is `accounts_no_session_uses_are_forgotten_past_the_idle_bound`'s
/// to show, that the Maildir backend then drops the account
/// `a_released_account_is_dropped_unless_in_use_or_unsaved`'s, and the
/// `mailbox_maildir_files` fuzz target reads folders again after damage.)
#[test]
fn a_forgotten_maildir_account_is_read_again_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let backend =
        MaildirBackend::with_options(dir.path(), MaildirOptions::default().with_fsync(false)).unwrap();
    let store = Store::with_config(
        backend,
        StoreConfig {
            max_idle_accounts: 0,
            ..StoreConfig::default()
        },
    );
    let alice = AccountName::new("alice").unwrap();
    let account = store.create_account(&alice).unwrap();
    for text in ["Subject: one\r\n\r\n1\r\n", "Subject: two\r\n\r\n2\r\n"] {
        account.append(&MailboxName::inbox(), msg(text)).unwrap();
    }
    let mode = mailwire_mailbox::SelectMode::ReadWrite;
    let mut session = account.select(&MailboxName::inbox(), mode).unwrap();
    session
        .store_flags(&StoreFlags {
            uids: vec![uid(2)],
            action: FlagAction::Add,
            flags: Flags::system(SystemFlags::FLAGGED),
            condition: None,
        })
        .unwrap();
    let seen = |s: &mailwire_mailbox::SelectedMailbox| {
        let messages: Vec<_> = s
            .messages()
            .iter()
            .map(|m| (m.uid, m.flags.clone(), m.modseq, m.size, m.internal_date))
            .collect();
        (s.uid_validity(), s.highest_modseq(), messages)
    };
    let before = seen(&session);
    assert_eq!(before.2.len(), 2);
    drop(session);
    drop(account);

    let account = store.account(&alice).unwrap();
    let session = account.select(&MailboxName::inbox(), mode).unwrap();
    assert_eq!(seen(&session), before);
    account
        .append(&MailboxName::inbox(), msg("Subject: three\r\n\r\n3\r\n"))
        .unwrap();
    drop((session, account));
    let session = store
        .account(&alice)
        .unwrap()
        .select(&MailboxName::inbox(), mode)
        .unwrap();
    let uids: Vec<Uid> = session.messages().iter().map(|m| m.uid).collect();
    assert_eq!(uids, [uid(1), uid(2), uid(3)]);
    assert!(session.highest_modseq() > before.1);
}

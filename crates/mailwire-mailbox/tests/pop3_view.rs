//! The POP3 maildrop view, directly and under `mailwire_pop3::ServerSession`
//! (answered by `mailwire_pop3::MaildropServer`):
//! frozen numbering, exact sizes, Dovecot-style UIDL, commit at QUIT only,
//! all or nothing, the lock policy, and coexistence with IMAP sessions.

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use mailwire_mailbox::{
    Account, AccountName, AppendMessage, Backend, FlagAction, Flags, LockPolicy, MailboxName, MemoryBackend,
    ModSeq, Pop3Config, Pop3Maildrop, SelectMode, Store, StoreError, StoreFlags, SystemFlags, Uid,
    UidlTemplate,
};
use mailwire_pop3::{
    LoginRequest, Maildrop, MaildropError, MaildropServer, MessageNumber, ServerConfig, ServerEvent,
    ServerSession, crlf_size,
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

fn n(i: u32) -> MessageNumber {
    MessageNumber::new(i).unwrap()
}

fn account_on(backend: impl Backend + 'static) -> Account {
    let store = Store::new(backend);
    store.create_account(&AccountName::new("alice").unwrap()).unwrap()
}

fn fill(acc: &Account, bodies: &[&str]) {
    let messages = bodies
        .iter()
        .map(|b| AppendMessage::new(Bytes::copy_from_slice(b.as_bytes())))
        .collect();
    acc.append_all(&name("INBOX"), messages).unwrap();
}

fn inbox_uids(acc: &Account) -> Vec<u32> {
    acc.snapshot(&name("INBOX"))
        .unwrap()
        .messages
        .iter()
        .map(|m| m.uid.get())
        .collect()
}

fn read_all(mut r: impl Read) -> Vec<u8> {
    let mut out = Vec::new();
    r.read_to_end(&mut out).unwrap();
    out
}

#[test]
fn lock_freezes_sizes_and_dovecot_uidl() {
    let acc = account_on(MemoryBackend::new());
    fill(&acc, &["Subject: a\n\nbare LF body", "Subject: b\r\n\r\nok\r\n"]);
    let v = acc.mailbox(&name("INBOX")).unwrap().uid_validity;
    let mut drop1 = acc.maildrop(Pop3Config::default());
    let infos = drop1.lock().unwrap();
    assert_eq!(infos.len(), 2);
    let sent: [&[u8]; 2] = [b"Subject: a\r\n\r\nbare LF body\r\n", b"Subject: b\r\n\r\nok\r\n"];
    for (i, info) in infos.iter().enumerate() {
        let content = read_all(drop1.open(n(i as u32 + 1)).unwrap());
        assert_eq!(content, sent[i], "message {}", i + 1);
        assert_eq!(info.size, content.len() as u64);
        assert_eq!(info.size, crlf_size(&content), "what RETR sends");
        let expected = format!("{:08x}{:08x}", i + 1, v.get());
        assert_eq!(info.unique_id.as_str(), expected);
    }
    assert_eq!(infos[0].unique_id.as_str(), format!("00000001{:08x}", v.get()));
    // Ids are the same in a later session.
    drop1.release();
    let mut drop2 = acc.maildrop(Pop3Config::default());
    assert_eq!(drop2.lock().unwrap(), infos);
}

#[test]
fn uidl_format_is_pluggable() {
    let acc = account_on(MemoryBackend::new());
    fill(&acc, &["x"]);
    let v = acc.mailbox(&name("INBOX")).unwrap().uid_validity;
    let mut maildrop = acc.maildrop(Pop3Config {
        uidl: Arc::new(UidlTemplate::new("%v.%u").unwrap()),
        ..Pop3Config::default()
    });
    let infos = maildrop.lock().unwrap();
    assert_eq!(infos[0].unique_id.as_str(), format!("{v}.1"));
}

#[test]
fn exclusive_lock_gives_in_use_and_no_lock_allows_overlap() {
    let acc = account_on(MemoryBackend::new());
    fill(&acc, &["a", "b"]);
    let mut first = acc.maildrop(Pop3Config::default());
    let mut second = acc.maildrop(Pop3Config::default());
    first.lock().unwrap();
    assert_eq!(second.lock(), Err(MaildropError::InUse));
    // IMAP is not locked out.
    assert!(acc.select(&name("INBOX"), SelectMode::ReadWrite).is_ok());
    first.release();
    assert_eq!(second.lock().unwrap().len(), 2);
    drop(second);
    // Dropping the view releases its lock too.
    let mut third = acc.maildrop(Pop3Config::default());
    assert!(third.lock().is_ok());
    third.release();

    let open = Pop3Config {
        lock: LockPolicy::None,
        ..Pop3Config::default()
    };
    let mut x = acc.maildrop(open.clone());
    let mut y = acc.maildrop(open);
    x.lock().unwrap();
    y.lock().unwrap();
    // Both delete message 1: it goes once, and neither commit fails.
    x.commit(&[n(1)], &[]).unwrap();
    y.commit(&[n(1), n(2)], &[]).unwrap();
    assert!(inbox_uids(&acc).is_empty());
}

#[test]
fn release_deletes_nothing_and_commit_deletes_exactly_the_marked() {
    let acc = account_on(MemoryBackend::new());
    fill(&acc, &["a", "b", "c"]);
    let mut m = acc.maildrop(Pop3Config::default());
    m.lock().unwrap();
    m.release();
    assert_eq!(inbox_uids(&acc), [1, 2, 3]);
    m.lock().unwrap();
    m.commit(&[n(1), n(3)], &[]).unwrap();
    assert_eq!(inbox_uids(&acc), [2]);
    // The expunges left tombstones like IMAP's.
    let changes = acc.changes_since(&name("INBOX"), ModSeq::MIN).unwrap();
    assert_eq!(changes.vanished.iter().collect::<Vec<_>>(), [uid(1), uid(3)]);
}

#[test]
fn numbering_stays_frozen_while_imap_changes_the_inbox() {
    let acc = account_on(MemoryBackend::new());
    fill(&acc, &["first\r\n", "second\r\n", "third\r\n"]);
    let mut pop = acc.maildrop(Pop3Config::default());
    pop.lock().unwrap();

    // IMAP expunges message 2 and a new message arrives.
    let mut imap = acc.select(&name("INBOX"), SelectMode::ReadWrite).unwrap();
    imap.store_flags(&StoreFlags {
        uids: vec![uid(2)],
        action: FlagAction::Add,
        flags: Flags::system(SystemFlags::DELETED),
        condition: None,
    })
    .unwrap();
    imap.expunge(None).unwrap();
    imap.changes(true).unwrap();
    fill(&acc, &["fourth\r\n"]);

    // The POP3 session still has its three messages, all readable.
    assert_eq!(pop.uids().unwrap(), [uid(1), uid(2), uid(3)]);
    assert_eq!(read_all(pop.open(n(2)).unwrap()), b"second\r\n");
    assert!(pop.open(n(4)).is_err());
    // Deleting 2 (gone already) and 3 still commits; 4 is untouched.
    pop.commit(&[n(2), n(3)], &[]).unwrap();
    assert_eq!(inbox_uids(&acc), [1, 4]);
    // Nobody shows message 2 any more: its content is dropped.
    assert!(matches!(
        acc.read_message(&name("INBOX"), uid(2)),
        Err(StoreError::NoSuchMessage(_))
    ));
    // IMAP hears of the POP3 deletion.
    assert_eq!(
        imap.changes(true).unwrap()[0],
        mailwire_mailbox::Notification::Expunge { seq: 2, uid: uid(3) }
    );
}

/// The content IMAP expunges while a POP3 session lists it stays
/// readable for that session, and the account still holds it: it is
/// counted as kept until the session ends, and only then freed. A quota
/// that counted messages alone let an account hold its quota once more
/// per lingering POP3 session.
fn kept_content_is_counted_until_the_pop3_session_ends(backend: impl Backend + 'static) {
    let acc = account_on(backend);
    let inbox = name("INBOX");
    fill(&acc, &["first\r\n", "second message\r\n", "third\r\n"]);
    assert_eq!(acc.kept_size(&inbox).unwrap(), 0);
    let mut pop = acc.maildrop(Pop3Config::default());
    pop.lock().unwrap();

    let mut imap = acc.select(&inbox, SelectMode::ReadWrite).unwrap();
    imap.store_flags(&StoreFlags {
        uids: vec![uid(2), uid(3)],
        action: FlagAction::Add,
        flags: Flags::system(SystemFlags::DELETED),
        condition: None,
    })
    .unwrap();
    imap.expunge(None).unwrap();
    imap.changes(true).unwrap();
    // IMAP was told; the POP3 session still lists both messages.
    let held = crlf_size(b"second message\r\n") + crlf_size(b"third\r\n");
    assert_eq!(acc.kept_size(&inbox).unwrap(), held);
    assert_eq!(acc.status(&inbox).unwrap().size, crlf_size(b"first\r\n"));
    assert_eq!(read_all(pop.open(n(2)).unwrap()), b"second message\r\n");

    // A session that deletes one of them and quits lets go of both.
    pop.commit(&[n(3)], &[]).unwrap();
    drop(pop);
    assert_eq!(acc.kept_size(&inbox).unwrap(), 0);
}

#[test]
fn kept_content_is_counted_until_the_pop3_session_ends_in_memory() {
    kept_content_is_counted_until_the_pop3_session_ends(MemoryBackend::new());
}

#[test]
fn kept_content_is_counted_until_the_pop3_session_ends_in_a_maildir() {
    let tmp = tempfile::tempdir().unwrap();
    let backend = mailwire_mailbox::MaildirBackend::with_options(
        tmp.path(),
        mailwire_mailbox::MaildirOptions::default().with_fsync(false),
    )
    .unwrap();
    kept_content_is_counted_until_the_pop3_session_ends(backend);
}

/// Runs a POP3 server session over `maildrop` for `input`, returning
/// what it sent and whether it committed.
fn serve(maildrop: Pop3Maildrop, input: &[u8]) -> (String, Option<bool>) {
    let mut session = ServerSession::new(ServerConfig {
        allow_plaintext_auth: true,
        ..ServerConfig::default()
    });
    let mut store = MaildropServer::new();
    let mut maildrop = Some(maildrop);
    let mut sent = Vec::new();
    let mut committed = None;
    session.receive(input);
    loop {
        let mut progress = false;
        while let Some(event) = store.poll_event(&mut session) {
            progress = true;
            match event {
                ServerEvent::Login(login) if matches!(login.request(), LoginRequest::User { .. }) => {
                    let m = maildrop.take().expect("one login");
                    store.accept_login(&mut session, login, m).unwrap();
                }
                ServerEvent::Closed { committed: c } => committed = Some(c),
                other => panic!("unexpected {other:?}"),
            }
        }
        while let Some(bytes) = store.poll_transmit(&mut session) {
            progress = true;
            sent.extend_from_slice(&bytes);
        }
        if !progress {
            break;
        }
    }
    (String::from_utf8(sent).unwrap(), committed)
}

#[test]
fn server_session_retr_dele_quit_removes_from_the_store() {
    let acc = account_on(MemoryBackend::new());
    fill(
        &acc,
        &["Subject: one\n\nHello\n", "Subject: two\r\n\r\n.dot line\r\n"],
    );
    let v = acc.mailbox(&name("INBOX")).unwrap().uid_validity;
    let input = b"USER alice\r\nPASS secret\r\nSTAT\r\nUIDL 1\r\nRETR 1\r\nRETR 2\r\nDELE 1\r\nQUIT\r\n";
    let (out, committed) = serve(acc.maildrop(Pop3Config::default()), input);
    let size1 = b"Subject: one\r\n\r\nHello\r\n".len();
    let size2 = b"Subject: two\r\n\r\n.dot line\r\n".len();
    assert!(out.contains(&format!("+OK 2 {}\r\n", size1 + size2)), "{out}");
    assert!(
        out.contains(&format!("+OK 1 00000001{:08x}\r\n", v.get())),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "+OK {size1} octets\r\nSubject: one\r\n\r\nHello\r\n.\r\n"
        )),
        "{out}"
    );
    assert!(out.contains("\r\n..dot line\r\n.\r\n"), "dot-stuffed: {out}");
    assert!(
        out.ends_with("+OK POP3 server signing off (1 message left)\r\n"),
        "{out}"
    );
    assert_eq!(committed, Some(true));
    assert_eq!(inbox_uids(&acc), [2]);
    // The lock is free again.
    assert!(acc.maildrop(Pop3Config::default()).lock().is_ok());
}

/// The UIDs of the INBOX's messages that have `\Seen`.
fn seen_uids(acc: &Account) -> Vec<u32> {
    acc.snapshot(&name("INBOX"))
        .unwrap()
        .messages
        .iter()
        .filter(|m| m.flags.is_seen())
        .map(|m| m.uid.get())
        .collect()
}

/// A session that ends with QUIT marks the messages RETR sent `\Seen`, as
/// Dovecot does, so that IMAP shows them read: not those TOP sent, nor
/// one deleted; with `mark_seen` off, none. A session that ends without
/// QUIT marks nothing.
#[test]
fn retrieved_messages_are_marked_seen_at_quit() {
    let input = b"USER alice\r\nPASS x\r\nRETR 1\r\nTOP 2 0\r\nRETR 3\r\nDELE 3\r\nRETR 4\r\n";
    let fresh = || {
        let acc = account_on(MemoryBackend::new());
        fill(&acc, &["a\r\n", "b\r\n", "c\r\n", "d\r\n"]);
        acc
    };

    let acc = fresh();
    let mut quit = input.to_vec();
    quit.extend_from_slice(b"QUIT\r\n");
    let (_, committed) = serve(acc.maildrop(Pop3Config::default()), &quit);
    assert_eq!(committed, Some(true));
    assert_eq!(inbox_uids(&acc), [1, 2, 4]);
    assert_eq!(seen_uids(&acc), [1, 4]);

    let acc = fresh();
    // The connection drops: the session never ends with QUIT.
    let (_, committed) = serve(acc.maildrop(Pop3Config::default()), input);
    assert_eq!(committed, None);
    assert!(seen_uids(&acc).is_empty());

    let acc = fresh();
    let config = Pop3Config {
        mark_seen: false,
        ..Pop3Config::default()
    };
    serve(acc.maildrop(config), &quit);
    assert_eq!(inbox_uids(&acc), [1, 2, 4]);
    assert!(seen_uids(&acc).is_empty());
}

#[test]
fn server_session_dropped_without_quit_deletes_nothing() {
    let acc = account_on(MemoryBackend::new());
    fill(&acc, &["a\r\n", "b\r\n"]);
    let (out, committed) = serve(
        acc.maildrop(Pop3Config::default()),
        b"USER alice\r\nPASS x\r\nDELE 1\r\nDELE 2\r\n",
    );
    assert!(
        out.ends_with("+OK message 1 deleted\r\n+OK message 2 deleted\r\n"),
        "{out}"
    );
    assert_eq!(committed, None);
    assert_eq!(inbox_uids(&acc), [1, 2]);
    // And the lock was released when the session was dropped.
    assert!(acc.maildrop(Pop3Config::default()).lock().is_ok());
}

#[test]
fn server_session_in_use_and_failed_commit_is_all_or_nothing() {
    let fail = Arc::new(AtomicBool::new(false));
    let acc = account_on(Flaky {
        fail_expunge: fail.clone(),
        ..Flaky::default()
    });
    fill(&acc, &["a\r\n", "b\r\n", "c\r\n"]);

    let mut holder = acc.maildrop(Pop3Config::default());
    holder.lock().unwrap();
    let (out, _) = serve(acc.maildrop(Pop3Config::default()), b"USER alice\r\nPASS x\r\n");
    assert!(out.contains("-ERR [IN-USE]"), "{out}");
    holder.release();

    fail.store(true, Ordering::SeqCst);
    let (out, committed) = serve(
        acc.maildrop(Pop3Config::default()),
        b"USER alice\r\nPASS x\r\nRETR 2\r\nDELE 1\r\nDELE 3\r\nQUIT\r\n",
    );
    assert!(
        out.ends_with("-ERR [SYS/TEMP] Some deleted messages not removed\r\n"),
        "{out}"
    );
    assert_eq!(committed, Some(false));
    assert_eq!(inbox_uids(&acc), [1, 2, 3], "nothing removed");
    assert!(seen_uids(&acc).is_empty(), "nothing marked read");
    // The failed session released its lock; a retry succeeds.
    fail.store(false, Ordering::SeqCst);
    let (_, committed) = serve(
        acc.maildrop(Pop3Config::default()),
        b"USER alice\r\nPASS x\r\nDELE 1\r\nDELE 3\r\nQUIT\r\n",
    );
    assert_eq!(committed, Some(true));
    assert_eq!(inbox_uids(&acc), [2]);
}

//! The Maildir backend reading state files another program wrote: Dovecot's
//! `dovecot-uidlist` and `dovecot-keywords`, mailwire's MODSEQ journal
//! (`mailwire-modseq`) and state file (`mailwire-state`), and
//! `subscriptions`, each replaced by arbitrary bytes.
//!
//! A Maildir with three messages (one with a keyword) is made in a fresh
//! directory (under /dev/shm where there is one). The first byte picks the
//! file, the next two an offset in it, the fourth whether what follows
//! replaces its bytes from there (odd) or its whole rest (even), so that
//! the fuzzer edits real files rather than guessing their syntax. A new
//! backend instance (nothing cached) then reads the mailbox. Checked: no panic; an error
//! is a `StoreError`; a snapshot lists ascending UIDs below UIDNEXT, every
//! message it lists can be read, and a message appended afterwards gets a
//! UID no listed message has, at or above the UIDNEXT it was promised, and
//! then appears in the listing with its content. A second look at the
//! unchanged folder (the poll that runs without the lock) finds no change,
//! and no listed message is among the UIDs reported expunged.
#![no_main]

use std::path::Path;

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use mailwire_mailbox::{
    AccountName, Backend, Flags, InternalDate, MailboxName, MailboxRef, MaildirBackend, MaildirOptions,
    ModSeq, NewMessage,
};

const FILES: [&str; 5] = [
    "dovecot-uidlist",
    "dovecot-keywords",
    "mailwire-modseq",
    "mailwire-state",
    "subscriptions",
];

fn backend(dir: &Path) -> MaildirBackend {
    MaildirBackend::with_options(dir, MaildirOptions::default().with_fsync(false))
        .expect("a fresh directory opens")
}

fn message(text: &str, flags: &[&str]) -> NewMessage {
    NewMessage {
        content: Bytes::from(format!("Subject: {text}\r\n\r\n{text}\r\n")),
        flags: Flags::parse(flags.iter().copied()).expect("valid flags"),
        internal_date: InternalDate {
            unix_seconds: 1_700_000_000,
            zone_minutes: 60,
        },
    }
}

fuzz_target!(|bytes: &[u8]| {
    let [selector, high, low, keep, content @ ..] = bytes else {
        return;
    };
    let shm = Path::new("/dev/shm");
    let tmp = if shm.is_dir() {
        tempfile::tempdir_in(shm)
    } else {
        tempfile::tempdir()
    }
    .expect("a temporary directory");
    let account = AccountName::new("alice").expect("valid name");
    let inbox = MailboxName::inbox();
    {
        let setup = backend(tmp.path());
        setup.create_account(&account).expect("account created");
        setup
            .append(
                &account,
                &inbox,
                vec![
                    message("one", &[]),
                    message("two", &["\\Seen", "$Label1"]),
                    message("three", &["\\Flagged"]),
                ],
            )
            .expect("messages appended");
    }
    let path = tmp
        .path()
        .join("alice/Maildir")
        .join(FILES[usize::from(*selector) % FILES.len()]);
    let old = std::fs::read(&path).unwrap_or_default();
    let at = usize::from(u16::from_be_bytes([*high, *low])).min(old.len());
    let mut new = old[..at].to_vec();
    new.extend_from_slice(content);
    if keep % 2 == 1 {
        new.extend_from_slice(&old[(at + content.len()).min(old.len())..]);
    }
    std::fs::write(&path, new).expect("file written");

    let fresh = backend(tmp.path());
    let Ok(snapshot) = fresh.mailbox_snapshot(&account, &inbox) else {
        return;
    };
    let uids: Vec<u32> = snapshot.messages.iter().map(|m| m.uid.get()).collect();
    assert!(
        uids.windows(2).all(|w| w[0] < w[1]),
        "UIDs not ascending: {uids:?}"
    );
    assert!(
        uids.iter().all(|&u| u < snapshot.uid_next.get()),
        "{uids:?} not below {:?}",
        snapshot.uid_next
    );
    let mailbox = MailboxRef {
        name: inbox.clone(),
        uid_validity: snapshot.uid_validity,
    };
    for m in &snapshot.messages {
        if let Ok(content) = fresh.read_message(&account, &mailbox, m.uid) {
            assert_eq!(content.len() as u64, m.size, "size of UID {}", m.uid.get());
        }
    }
    if fresh.sync(&account, &mailbox).is_ok() {
        if let Ok(again) = fresh.sync(&account, &mailbox) {
            assert!(again.is_empty(), "an unchanged folder reported {again:?}");
        }
    }
    if let (Ok(vanished), Ok(now)) = (
        fresh.vanished_since(&account, &mailbox, ModSeq::MIN),
        fresh.mailbox_snapshot(&account, &inbox),
    ) {
        let listed: Vec<u32> = now
            .messages
            .iter()
            .filter(|m| vanished.contains(m.uid))
            .map(|m| m.uid.get())
            .collect();
        assert!(listed.is_empty(), "listed messages reported expunged: {listed:?}");
    }
    let Ok(appended) = fresh.append(&account, &inbox, vec![message("four", &["$Label2"])]) else {
        return;
    };
    let new = appended.messages[0].uid.get();
    if appended.uid_validity == snapshot.uid_validity {
        assert!(
            new >= snapshot.uid_next.get() && !uids.contains(&new),
            "UID {new} given again ({uids:?})"
        );
    }
    if let Ok(after) = fresh.mailbox_snapshot(&account, &inbox) {
        assert!(
            after.messages.iter().any(|m| m.uid.get() == new),
            "UID {new} not listed"
        );
        let again = MailboxRef {
            name: inbox,
            uid_validity: after.uid_validity,
        };
        if let Ok(content) = fresh.read_message(&account, &again, appended.messages[0].uid) {
            assert_eq!(&content[..], b"Subject: four\r\n\r\nfour\r\n");
        }
    }
});

//! The Maildir backend reading state files another program wrote: Dovecot's
//! `dovecot-uidlist` and `dovecot-keywords`, mailwire's MODSEQ journal
//! (`mailwire-modseq`) and state file (`mailwire-state`), and
//! `subscriptions`, each replaced by arbitrary bytes.
//!
//! A Maildir with three messages (one with a keyword) is made once by the
//! backend; each run copies it, with its files' modes and modification
//! times, into a fresh directory (under /dev/shm where there is one): 1.3
//! times the runs a second of making it in every run. The first byte picks the
//! file, the next two an offset in it, the fourth whether what follows
//! replaces its bytes from there (odd) or its whole rest (even), so that
//! the fuzzer edits real files rather than guessing their syntax. A new
//! backend instance (nothing cached) then reads the mailbox. Checked: no
//! panic; the first snapshot fails only when the edited uidlist or journal
//! leaves no UID or MODSEQ to give (`StoreError::Limit`), and the append
//! only for a limit too (UIDs, MODSEQs, the 26 keywords of a folder);
//! once the snapshot has read the damaged file, nothing after it fails
//! (reads, syncs, `vanished_since`, snapshots, subscriptions). A snapshot
//! lists ascending UIDs below UIDNEXT, and every message it lists can be
//! read with its size; unless the uidlist was the file edited, the
//! UIDVALIDITY stays and the template's messages keep their UIDs and
//! contents (but for a message whose UID an edited journal calls
//! expunged: it gets a new UID above them, and its old one is not
//! listed). Whatever the subscriptions file holds, it lists, and a
//! subscription added and removed gives the same list back. A message
//! appended afterwards gets a UID no listed message has, at or above the
//! UIDNEXT it was promised, and then appears in the listing with its
//! content. A second look at the unchanged folder (the poll that runs
//! without the lock) finds no change, and no listed message is among the
//! UIDs reported expunged. Released from memory
//! (`Backend::release_account`) and read again from its files, the folder
//! gives the snapshot it gave before.
#![no_main]

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::SystemTime;

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use mailwire_mailbox::{
    AccountName, Backend, Flags, InternalDate, MailboxName, MailboxRef, MaildirBackend, MaildirOptions,
    ModSeq, NewMessage, StoreError, UidValidity,
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

fn temporary_directory() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        tempfile::tempdir_in(shm)
    } else {
        tempfile::tempdir()
    }
    .expect("a temporary directory")
}

/// One entry of the template: its path below the root, its mode and
/// modification time, and a file's content (`None` for a directory).
struct Entry {
    path: PathBuf,
    mode: u32,
    modified: SystemTime,
    content: Option<Vec<u8>>,
}

/// The Maildir every run starts from: its entries, parents before their
/// children, and its INBOX's UIDVALIDITY and messages (UID, content).
struct Template {
    entries: Vec<Entry>,
    uid_validity: UidValidity,
    messages: Vec<(u32, Vec<u8>)>,
}

fn template() -> &'static Template {
    static TEMPLATE: OnceLock<Template> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let made = temporary_directory();
        let setup = backend(made.path());
        let account = AccountName::new("alice").expect("valid name");
        setup.create_account(&account).expect("account created");
        let new = vec![
            message("one", &[]),
            message("two", &["\\Seen", "$Label1"]),
            message("three", &["\\Flagged"]),
        ];
        let contents: Vec<Vec<u8>> = new.iter().map(|m| m.content.to_vec()).collect();
        let appended = setup
            .append(&account, &MailboxName::inbox(), new)
            .expect("messages appended");
        let messages = appended
            .messages
            .iter()
            .map(|m| m.uid.get())
            .zip(contents)
            .collect();
        let mut entries = Vec::new();
        let mut pending = vec![PathBuf::new()];
        while let Some(dir) = pending.pop() {
            let mut names: Vec<_> = fs::read_dir(made.path().join(&dir))
                .expect("the template is listed")
                .map(|e| e.expect("an entry").file_name())
                .collect();
            names.sort();
            for name in names {
                let path = dir.join(name);
                let meta = fs::symlink_metadata(made.path().join(&path)).expect("an entry's metadata");
                let content = if meta.is_dir() {
                    pending.push(path.clone());
                    None
                } else {
                    assert!(meta.is_file(), "{path:?} is neither a file nor a directory");
                    Some(fs::read(made.path().join(&path)).expect("a file of the template"))
                };
                entries.push(Entry {
                    path,
                    mode: meta.permissions().mode() & 0o7777,
                    modified: meta.modified().expect("a modification time"),
                    content,
                });
            }
        }
        Template {
            entries,
            uid_validity: appended.uid_validity,
            messages,
        }
    })
}

/// Copies the template below `root`: directories and files with their
/// modes, then every modification time, directories last (adding a file
/// changes its directory's).
fn copy_template(root: &Path) {
    let entries = &template().entries;
    for e in entries {
        let path = root.join(&e.path);
        match &e.content {
            None => DirBuilder::new().mode(e.mode).create(&path).expect("a directory"),
            Some(content) => {
                let mut file = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(e.mode)
                    .open(&path)
                    .expect("a file");
                file.write_all(content).expect("written");
                file.set_modified(e.modified).expect("its time set");
            }
        }
    }
    for e in entries.iter().rev().filter(|e| e.content.is_none()) {
        File::open(root.join(&e.path))
            .and_then(|d| d.set_modified(e.modified))
            .expect("a directory's time set");
    }
}

fuzz_target!(|bytes: &[u8]| {
    let [selector, high, low, keep, content @ ..] = bytes else {
        return;
    };
    let tmp = temporary_directory();
    copy_template(tmp.path());
    let account = AccountName::new("alice").expect("valid name");
    let inbox = MailboxName::inbox();
    let edited = FILES[usize::from(*selector) % FILES.len()];
    let path = tmp.path().join("alice/Maildir").join(edited);
    let old = std::fs::read(&path).unwrap_or_default();
    let at = usize::from(u16::from_be_bytes([*high, *low])).min(old.len());
    let mut new = old[..at].to_vec();
    new.extend_from_slice(content);
    if keep % 2 == 1 {
        new.extend_from_slice(&old[(at + content.len()).min(old.len())..]);
    }
    std::fs::write(&path, new).expect("file written");

    let fresh = backend(tmp.path());
    let snapshot = match fresh.mailbox_snapshot(&account, &inbox) {
        Ok(snapshot) => snapshot,
        // A uidlist or journal edited to the top of its UIDs or MODSEQs:
        // the folder cannot give one more, and says so.
        Err(StoreError::Limit(_)) if matches!(edited, "dovecot-uidlist" | "mailwire-modseq") => return,
        Err(e) => panic!("the INBOX unreadable after {edited} was edited: {e:?}"),
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
    let mut listed = Vec::new();
    for m in &snapshot.messages {
        let content = fresh
            .read_message(&account, &mailbox, m.uid)
            .unwrap_or_else(|e| panic!("listed UID {} unreadable: {e}", m.uid.get()));
        assert_eq!(content.len() as u64, m.size, "size of UID {}", m.uid.get());
        listed.push((m.uid.get(), content.to_vec()));
    }
    // Which message has which UID is the uidlist's to say: with it intact
    // and the UIDVALIDITY kept, every message keeps its UID and content,
    // but for one the journal says was expunged (a tombstone the edit
    // wrote; the file of an expunged message put back looks the same):
    // it is listed under a new UID, above the template's, and not under
    // its old one (an expunged UID must not come back).
    let template = template();
    if edited != "dovecot-uidlist" {
        assert_eq!(
            snapshot.uid_validity, template.uid_validity,
            "the UIDVALIDITY after {edited} was edited"
        );
        // (Whether the old UID is reported expunged depends on the MODSEQ
        // the edit gave the tombstone: one of 1 is above no MODSEQ a
        // client can name.)
        let highest = template.messages.iter().map(|(u, _)| *u).max().unwrap_or(0);
        for (uid, content) in &listed {
            if template.messages.iter().any(|(u, c)| u == uid && c == content) {
                continue;
            }
            let old = template.messages.iter().find(|(_, c)| c == content).map(|(u, _)| *u);
            assert!(
                edited == "mailwire-modseq" && *uid > highest && old.is_some(),
                "UID {uid} after {edited} was edited: {:?} (was {old:?})",
                String::from_utf8_lossy(content)
            );
        }
        let mut contents: Vec<&[u8]> = listed.iter().map(|(_, c)| &c[..]).collect();
        let mut expected: Vec<&[u8]> = template.messages.iter().map(|(_, c)| &c[..]).collect();
        contents.sort_unstable();
        expected.sort_unstable();
        assert!(contents == expected, "the messages after {edited} was edited");
    }
    // Subscriptions: whatever the file holds, it lists; a new subscription
    // adds to it and its removal gives the same list back.
    let subscribed = fresh
        .subscriptions(&account)
        .unwrap_or_else(|e| panic!("subscriptions unreadable: {e}"));
    let name = MailboxName::new("Fuzz/Sub").expect("valid name");
    if !subscribed.contains(&name) {
        fresh
            .set_subscribed(&account, &name, true)
            .unwrap_or_else(|e| panic!("subscribing failed: {e}"));
        let with = fresh.subscriptions(&account).expect("subscriptions");
        assert!(
            with.contains(&name) && subscribed.iter().all(|n| with.contains(n)),
            "{subscribed:?} became {with:?}"
        );
        fresh
            .set_subscribed(&account, &name, false)
            .unwrap_or_else(|e| panic!("unsubscribing failed: {e}"));
        let without = fresh.subscriptions(&account).expect("subscriptions");
        assert_eq!(without, subscribed, "after a subscription and its removal");
    }
    // The damaged file was read (or rebuilt) by the snapshot: what follows
    // reads the same folder, so it does not fail.
    fresh
        .sync(&account, &mailbox)
        .unwrap_or_else(|e| panic!("a sync after a snapshot failed: {e}"));
    let again = fresh
        .sync(&account, &mailbox)
        .unwrap_or_else(|e| panic!("a second sync failed: {e}"));
    assert!(again.is_empty(), "an unchanged folder reported {again:?}");
    let vanished = fresh
        .vanished_since(&account, &mailbox, ModSeq::MIN)
        .unwrap_or_else(|e| panic!("vanished_since failed: {e}"));
    let now = fresh
        .mailbox_snapshot(&account, &inbox)
        .unwrap_or_else(|e| panic!("a second snapshot failed: {e}"));
    let listed: Vec<u32> = now
        .messages
        .iter()
        .filter(|m| vanished.contains(m.uid))
        .map(|m| m.uid.get())
        .collect();
    assert!(listed.is_empty(), "listed messages reported expunged: {listed:?}");
    let appended = match fresh.append(&account, &inbox, vec![message("four", &["$Label2"])]) {
        Ok(appended) => appended,
        Err(StoreError::Limit(_)) => return,
        Err(e) => panic!("an append after {edited} was edited: {e:?}"),
    };
    let new = appended.messages[0].uid.get();
    if appended.uid_validity == snapshot.uid_validity {
        assert!(
            new >= snapshot.uid_next.get() && !uids.contains(&new),
            "UID {new} given again ({uids:?})"
        );
    }
    let after = fresh
        .mailbox_snapshot(&account, &inbox)
        .unwrap_or_else(|e| panic!("a snapshot after an append failed: {e}"));
    assert!(
        after.messages.iter().any(|m| m.uid.get() == new),
        "UID {new} not listed"
    );
    let again = MailboxRef {
        name: inbox,
        uid_validity: after.uid_validity,
    };
    let content = fresh
        .read_message(&account, &again, appended.messages[0].uid)
        .unwrap_or_else(|e| panic!("appended UID {new} unreadable: {e}"));
    assert_eq!(&content[..], b"Subject: four\r\n\r\nfour\r\n");
    // Forgotten (as a store does with an account no one uses) and read
    // again from its files, the folder is what the backend had in memory.
    fresh.release_account(&account);
    let reread = fresh
        .mailbox_snapshot(&account, &again.name)
        .unwrap_or_else(|e| panic!("a snapshot read again failed: {e}"));
    assert_eq!(reread, after, "the folder read again after {edited} was edited");
});

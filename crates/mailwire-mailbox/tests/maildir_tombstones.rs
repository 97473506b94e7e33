//! Expunge tombstones in the Maildir backend's MODSEQ journal are pruned
//! (the journal does not grow with every expunge ever made), and nobody
//! misses an expunge because of it: an instance that still lists the
//! messages reports every expunge, and changes asked for since a MODSEQ
//! below the prune mark list every UID not present (a superset), never
//! fewer than were expunged.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use bytes::Bytes;
use mailwire_mailbox::{
    AccountName, Backend, ExpungeRequest, ExternalChange, Flags, InternalDate, MailboxName, MailboxRef,
    MaildirBackend, MaildirOptions, ModSeq, NewMessage, Store, Uid,
};

fn open(dir: &Path) -> MaildirBackend {
    MaildirBackend::with_options(dir, MaildirOptions::default().with_fsync(false)).unwrap()
}

fn message(n: u32) -> NewMessage {
    NewMessage {
        content: Bytes::from(format!("Subject: {n}\r\n\r\n{n}\r\n")),
        flags: Flags::new(),
        internal_date: InternalDate::from_unix(1_700_000_000),
    }
}

const MESSAGES: u32 = 3000;
const BATCH: u32 = 299;
const BATCHES: u32 = 10;

fn uids(set: impl IntoIterator<Item = Uid>) -> BTreeSet<u32> {
    set.into_iter().map(Uid::get).collect()
}

#[test]
fn pruned_tombstones_lose_no_expunge() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, inbox) = (AccountName::new("alice").unwrap(), MailboxName::inbox());
    let b = open(tmp.path());
    b.create_account(&a).unwrap();
    let added = b
        .append(&a, &inbox, (1..=MESSAGES).map(message).collect())
        .unwrap();
    assert_eq!(added.messages.last().unwrap().uid.get(), MESSAGES);
    let r = MailboxRef {
        name: inbox.clone(),
        uid_validity: added.uid_validity,
    };
    let before = b.mailbox_snapshot(&a, &inbox).unwrap().highest_modseq;

    // Another instance lists every message, then sleeps through all the
    // expunges.
    let other = open(tmp.path());
    assert_eq!(
        other.mailbox_snapshot(&a, &inbox).unwrap().messages.len(),
        MESSAGES as usize
    );

    // Expunges in batches, each with its MODSEQ: (modseq, UIDs).
    let mut batches: Vec<(ModSeq, BTreeSet<u32>)> = Vec::new();
    for k in 0..BATCHES {
        let these: Vec<Uid> = (k * BATCH + 1..=(k + 1) * BATCH)
            .map(|u| Uid::new(u).unwrap())
            .collect();
        let request = ExpungeRequest {
            uids: Some(these.clone()),
            only_deleted: false,
        };
        let done = b.expunge(&a, &r, &request).unwrap();
        assert_eq!(done.uids, these);
        batches.push((done.modseq.unwrap(), uids(these)));
    }
    let live: BTreeSet<u32> = (BATCH * BATCHES + 1..=MESSAGES).collect();

    // Pruned: the journal lists far fewer expunges than were made, and
    // says so in its header.
    let journal = fs::read_to_string(tmp.path().join("alice/Maildir/mailwire-modseq")).unwrap();
    let header = journal.lines().next().unwrap();
    assert!(header.contains(" P"), "no prune mark: {header}");
    let listed = journal.lines().filter(|l| l.starts_with('x')).count();
    // Pruning keeps at most twice 1024 (the live messages are fewer).
    assert!(listed <= 2 * 1024, "{listed} tombstones kept");

    // The instance that slept reports every expunge.
    let changes = other.sync(&a, &r).unwrap();
    let reported: BTreeSet<u32> = changes
        .iter()
        .filter_map(|c| match c {
            ExternalChange::Expunged(t) => Some(t.uid.get()),
            _ => None,
        })
        .collect();
    assert_eq!(reported.len(), (BATCH * BATCHES) as usize);
    assert!(reported.iter().all(|u| !live.contains(u)));

    // Resynchronisation from every point, on this instance, the sleeping
    // one and a fresh one, through the backend and through the store:
    // everything expunged since is listed, nothing present is.
    let store = Store::new(open(tmp.path()));
    let account = store.account(&a).unwrap();
    let fresh = open(tmp.path());
    let points = std::iter::once(before).chain(batches.iter().map(|(m, _)| *m));
    for since in points {
        let expected: BTreeSet<u32> = batches
            .iter()
            .filter(|(m, _)| *m > since)
            .flat_map(|(_, u)| u.iter().copied())
            .collect();
        let answers = [
            uids(b.tombstones(&a, &r, since).unwrap().into_iter().map(|t| t.uid)),
            uids(
                other
                    .tombstones(&a, &r, since)
                    .unwrap()
                    .into_iter()
                    .map(|t| t.uid),
            ),
            uids(
                fresh
                    .tombstones(&a, &r, since)
                    .unwrap()
                    .into_iter()
                    .map(|t| t.uid),
            ),
            uids(account.changes_since(&inbox, since).unwrap().vanished),
        ];
        for got in answers {
            let missing: Vec<&u32> = expected.difference(&got).take(5).collect();
            assert!(missing.is_empty(), "since {since:?}: missing {missing:?}...");
            assert!(
                got.is_disjoint(&live),
                "since {since:?}: a present message listed"
            );
        }
    }
    // Above the mark the answer is exact again.
    let (last, _) = batches.last().unwrap();
    assert!(b.tombstones(&a, &r, *last).unwrap().is_empty());
    let (prev, last_uids) = (batches[BATCHES as usize - 2].0, &batches[BATCHES as usize - 1].1);
    assert_eq!(
        &uids(b.tombstones(&a, &r, prev).unwrap().into_iter().map(|t| t.uid)),
        last_uids
    );

    // A new message never gets a pruned UID.
    let next = b.append(&a, &inbox, vec![message(0)]).unwrap();
    assert_eq!(next.messages[0].uid.get(), MESSAGES + 1);
}

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
            uids(b.vanished_since(&a, &r, since).unwrap().iter()),
            uids(other.vanished_since(&a, &r, since).unwrap().iter()),
            uids(fresh.vanished_since(&a, &r, since).unwrap().iter()),
            uids(account.changes_since(&inbox, since).unwrap().vanished.iter()),
        ];
        // The tombstones still kept are exact: each was expunged since.
        for backend in [&b, &other, &fresh] {
            let kept = uids(
                backend
                    .tombstones(&a, &r, since)
                    .unwrap()
                    .into_iter()
                    .map(|t| t.uid),
            );
            assert!(kept.is_subset(&expected), "since {since:?}");
        }
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
    assert!(b.vanished_since(&a, &r, *last).unwrap().is_empty());
    let (prev, last_uids) = (batches[BATCHES as usize - 2].0, &batches[BATCHES as usize - 1].1);
    assert_eq!(
        &uids(b.tombstones(&a, &r, prev).unwrap().into_iter().map(|t| t.uid)),
        last_uids
    );
    assert_eq!(&uids(b.vanished_since(&a, &r, prev).unwrap().iter()), last_uids);

    // A new message never gets a pruned UID.
    let next = b.append(&a, &inbox, vec![message(0)]).unwrap();
    assert_eq!(next.messages[0].uid.get(), MESSAGES + 1);
}

/// UIDs near the top of their range (a uidlist that reached them, or was
/// written so): a resynchronisation from before the prune mark answers
/// with the gaps between the messages as a few ranges. It used to list
/// each of the four billion UIDs below the highest pruned one.
#[test]
fn a_resync_from_before_the_prune_mark_costs_ranges_not_uids() {
    const FIRST: u32 = 4_000_000_000;
    const COUNT: u32 = 2100;
    let tmp = tempfile::tempdir().unwrap();
    let (a, inbox) = (AccountName::new("alice").unwrap(), MailboxName::inbox());
    let b = open(tmp.path());
    b.create_account(&a).unwrap();
    let start = b.mailbox_snapshot(&a, &inbox).unwrap();
    // The uidlist's next UID (its header's N field) moved up.
    let path = tmp.path().join("alice/Maildir/dovecot-uidlist");
    let text = fs::read_to_string(&path).unwrap();
    let (header, rest) = text.split_once('\n').unwrap();
    let header: Vec<String> = header
        .split(' ')
        .map(|f| match f.strip_prefix('N') {
            Some(_) => format!("N{FIRST}"),
            None => f.to_owned(),
        })
        .collect();
    assert!(header.iter().any(|f| *f == format!("N{FIRST}")), "{text}");
    fs::write(&path, format!("{}\n{rest}", header.join(" "))).unwrap();

    let b = open(tmp.path());
    let added = b.append(&a, &inbox, (1..=COUNT).map(message).collect()).unwrap();
    assert_eq!(added.messages[0].uid.get(), FIRST);
    let r = MailboxRef {
        name: inbox.clone(),
        uid_validity: added.uid_validity,
    };
    // Expunge all but every hundredth, in two batches: the first batch's
    // tombstones are pruned.
    let all: Vec<Uid> = added.messages.iter().map(|m| m.uid).collect();
    let gone: Vec<Uid> = all.iter().copied().filter(|u| u.get() % 100 != 0).collect();
    for half in gone.chunks(gone.len() / 2 + 1) {
        let request = ExpungeRequest {
            uids: Some(half.to_vec()),
            only_deleted: false,
        };
        b.expunge(&a, &r, &request).unwrap();
    }
    let live: BTreeSet<u32> = all.iter().map(|u| u.get()).filter(|u| u % 100 == 0).collect();

    let vanished = b.vanished_since(&a, &r, start.highest_modseq).unwrap();
    // Every expunged UID is named, no present one; the answer is one range
    // per gap between the present messages.
    assert!(gone.iter().all(|u| vanished.contains(*u)));
    assert!(live.iter().all(|&u| !vanished.contains(Uid::new(u).unwrap())));
    assert!(
        vanished.ranges().len() <= live.len() + 1,
        "{} ranges",
        vanished.ranges().len()
    );
    assert!(vanished.len() >= u64::from(FIRST) - 1);
    // The store's answer is the same set.
    let store = Store::new(open(tmp.path()));
    let account = store.account(&a).unwrap();
    let changes = account.changes_since(&inbox, start.highest_modseq).unwrap();
    assert_eq!(changes.vanished, vanished);
}

/// A journal that says a message was expunged while its file is still
/// there (a damaged or hand-edited journal, found by fuzzing; or the file
/// of an expunged message put back, which cannot be told from it): the
/// message is listed, under a new UID, and the old one stays expunged.
/// A UID reported expunged must not come back: a client that synchronises
/// by asking for UIDs above the last it saw would never see the message.
/// (Before, the message kept UID 1 and the tombstone was hidden.)
#[test]
fn a_tombstone_of_a_message_still_present_gives_it_a_new_uid() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, inbox) = (AccountName::new("alice").unwrap(), MailboxName::inbox());
    let b = open(tmp.path());
    b.create_account(&a).unwrap();
    let added = b.append(&a, &inbox, (1..=3).map(message).collect()).unwrap();
    let journal = tmp.path().join("alice/Maildir/mailwire-modseq");
    let mut text = fs::read_to_string(&journal).unwrap();
    text.push_str("x1 99\n");
    fs::write(&journal, text).unwrap();

    let fresh = open(tmp.path());
    let r = MailboxRef {
        name: inbox.clone(),
        uid_validity: added.uid_validity,
    };
    let snapshot = fresh.mailbox_snapshot(&a, &inbox).unwrap();
    let listed = uids(snapshot.messages.iter().map(|m| m.uid));
    assert_eq!(listed, BTreeSet::from([2, 3, 4]));
    assert_eq!(snapshot.uid_next.get(), 5);
    let first = fresh.read_message(&a, &r, Uid::new(4).unwrap()).unwrap();
    assert_eq!(first, b.read_message(&a, &r, added.messages[0].uid).unwrap());
    let vanished = fresh.vanished_since(&a, &r, ModSeq::MIN).unwrap();
    assert!(vanished.contains(Uid::new(1).unwrap()), "{vanished:?}");
    // Read again, nothing changes.
    let again = open(tmp.path());
    assert_eq!(
        again.mailbox_snapshot(&a, &inbox).unwrap().messages,
        snapshot.messages
    );
}

/// The same tombstone written while an instance already lists the message:
/// its next look reports UID 1 expunged and the message added under a new
/// UID, once; sessions never see UID 1 come back.
#[test]
fn a_tombstone_of_a_listed_message_still_present_is_an_expunge_and_an_addition() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, inbox) = (AccountName::new("alice").unwrap(), MailboxName::inbox());
    let b = open(tmp.path());
    b.create_account(&a).unwrap();
    let added = b.append(&a, &inbox, (1..=3).map(message).collect()).unwrap();
    let r = MailboxRef {
        name: inbox.clone(),
        uid_validity: added.uid_validity,
    };
    let before = b.mailbox_snapshot(&a, &inbox).unwrap();
    let journal = tmp.path().join("alice/Maildir/mailwire-modseq");
    let mut text = fs::read_to_string(&journal).unwrap();
    text.push_str(&format!("x1 {}\n", before.highest_modseq.get() + 1));
    fs::write(&journal, text).unwrap();

    let changes = b.sync(&a, &r).unwrap();
    let expunged: Vec<u32> = changes
        .iter()
        .filter_map(|c| match c {
            ExternalChange::Expunged(t) => Some(t.uid.get()),
            _ => None,
        })
        .collect();
    let added_now: Vec<u32> = changes
        .iter()
        .filter_map(|c| match c {
            ExternalChange::Added(m) => Some(m.uid.get()),
            _ => None,
        })
        .collect();
    assert_eq!((expunged, added_now), (vec![1], vec![4]), "{changes:?}");
    let listed = uids(
        b.mailbox_snapshot(&a, &inbox)
            .unwrap()
            .messages
            .iter()
            .map(|m| m.uid),
    );
    assert_eq!(listed, BTreeSet::from([2, 3, 4]));
    assert!(b.sync(&a, &r).unwrap().is_empty());
}

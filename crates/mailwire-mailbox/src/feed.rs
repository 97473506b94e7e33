//! The change feed: per mailbox, the sessions that have it open and the
//! changes each has not yet taken, plus the reference counts that keep the
//! content of expunged messages readable until every session that could
//! still show them has been told.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use crate::backend::{FlagUpdate, MessageMeta, Tombstone};
use crate::types::{MailboxName, Uid, UidValidity};

/// Identifies one session (an IMAP selection or a POP3 maildrop lock).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct SessionId(pub(crate) u64);

/// Identifies one mailbox incarnation while sessions have it open; it
/// follows the mailbox through renames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct FeedId(pub(crate) u64);

/// A change as sessions receive it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Change {
    Added(MessageMeta),
    Flags(FlagUpdate),
    Expunged(Tombstone),
}

/// What a session wants to hear.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SessionKind {
    /// Everything: an IMAP selected mailbox, which can show the messages
    /// up to UID `shown` (0 for none): those it listed when it opened and
    /// those it took since ([`Feed::raise_shown`]). A message above it
    /// that is expunged before the session takes its addition is never
    /// shown: its content is not kept for it, and the session does not
    /// hear of it at all.
    Imap {
        /// The highest UID it can show.
        shown: u32,
    },
    /// Only expunges of the messages it lists (to keep their content
    /// readable): a POP3 maildrop, whose message list is frozen, its
    /// highest UID `highest` (0 for none). A message delivered after it
    /// was listed is never shown by it: its content is not kept for it.
    #[cfg_attr(not(feature = "pop3"), allow(dead_code))]
    Pop3 {
        /// The highest UID it lists.
        highest: u32,
    },
}

#[derive(Debug)]
pub(crate) struct SessionQueue {
    kind: SessionKind,
    changes: VecDeque<Change>,
    /// Additions and flag changes were dropped because the queue was full:
    /// the session must compare its view with the mailbox instead.
    overflowed: bool,
    /// Messages added and expunged since the session last took its
    /// changes (IMAP, above `shown`): their additions and flag changes are
    /// left out when it takes them. At most one per addition queued.
    came_and_went: HashSet<Uid>,
}

/// What a session takes from its queue.
#[derive(Debug, Default)]
pub(crate) struct Taken {
    pub(crate) changes: Vec<Change>,
    pub(crate) overflowed: bool,
    /// The highest UID of the messages left out because they came and
    /// went: the mailbox's next UID is above it.
    pub(crate) came_and_went: Option<Uid>,
}

#[derive(Debug)]
pub(crate) struct Feed {
    pub(crate) name: MailboxName,
    pub(crate) uid_validity: UidValidity,
    sessions: BTreeMap<SessionId, SessionQueue>,
    /// Expunged UIDs whose content is kept, with how many sessions have
    /// yet to let go of them.
    kept: HashMap<Uid, usize>,
}

impl Feed {
    pub(crate) fn new(name: MailboxName, uid_validity: UidValidity) -> Feed {
        Feed {
            name,
            uid_validity,
            sessions: BTreeMap::new(),
            kept: HashMap::new(),
        }
    }

    pub(crate) fn register(&mut self, id: SessionId, kind: SessionKind) {
        self.sessions.insert(
            id,
            SessionQueue {
                kind,
                changes: VecDeque::new(),
                overflowed: false,
                came_and_went: HashSet::new(),
            },
        );
    }

    pub(crate) fn is_idle(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Queues a change for every session. For an expunge, returns whether
    /// its content can be dropped at once (no session to tell).
    pub(crate) fn publish(&mut self, change: &Change, limit: usize) -> bool {
        let mut holders = 0;
        let expunged = match change {
            Change::Expunged(t) => Some(t.uid.get()),
            _ => None,
        };
        let is_expunge = expunged.is_some();
        for queue in self.sessions.values_mut() {
            match queue.kind {
                SessionKind::Pop3 { highest } => {
                    if expunged.is_none_or(|uid| uid > highest) {
                        continue;
                    }
                }
                SessionKind::Imap { shown } => {
                    if let Change::Expunged(t) = change {
                        if t.uid.get() > shown {
                            // Never shown: its addition (if the queue still
                            // has it) is left out when the session takes
                            // its changes; an overflowed queue has none.
                            if !queue.overflowed {
                                queue.came_and_went.insert(t.uid);
                            }
                            continue;
                        }
                    }
                }
            }
            if queue.overflowed && !is_expunge {
                continue;
            }
            queue.changes.push_back(change.clone());
            if is_expunge {
                holders += 1;
            }
            // Past the limit once, the queue keeps expunges only (the
            // session reads the rest again); it is cut down then, not at
            // every later expunge, which would scan it each time (a POP3
            // session's queue is never taken: quadratic work under the
            // account's lock while another session expunged thousands).
            if !queue.overflowed && queue.changes.len() > limit {
                queue.changes.retain(|c| matches!(c, Change::Expunged(_)));
                queue.came_and_went = HashSet::new();
                queue.overflowed = true;
                #[cfg(test)]
                CUTS.with(|c| c.set(c.get() + 1));
            }
        }
        if let Change::Expunged(t) = change {
            if holders > 0 {
                *self.kept.entry(t.uid).or_insert(0) += holders;
                return false;
            }
            return true;
        }
        false
    }

    /// Takes a session's queued changes, less those of messages that came
    /// and went since it last took them.
    pub(crate) fn take(&mut self, id: SessionId) -> Option<Taken> {
        let queue = self.sessions.get_mut(&id)?;
        let gone = std::mem::take(&mut queue.came_and_went);
        let changes = queue.changes.drain(..);
        let changes = if gone.is_empty() {
            changes.collect()
        } else {
            changes
                .filter(|c| match c {
                    Change::Added(m) => !gone.contains(&m.uid),
                    Change::Flags(f) => !gone.contains(&f.uid),
                    Change::Expunged(_) => true,
                })
                .collect()
        };
        Some(Taken {
            changes,
            overflowed: std::mem::take(&mut queue.overflowed),
            came_and_went: gone.into_iter().max(),
        })
    }

    /// An IMAP session took its changes and can show the messages up to
    /// UID `uid` now: the expunges of those are held for it.
    pub(crate) fn raise_shown(&mut self, id: SessionId, uid: Uid) {
        if let Some(SessionQueue {
            kind: SessionKind::Imap { shown },
            ..
        }) = self.sessions.get_mut(&id)
        {
            *shown = (*shown).max(uid.get());
        }
    }

    /// Puts changes a session took back at the head of its queue (its
    /// look at them failed): they are taken again with the next.
    pub(crate) fn put_back(&mut self, id: SessionId, taken: Taken) {
        if let Some(queue) = self.sessions.get_mut(&id) {
            let rest = std::mem::take(&mut queue.changes);
            queue.changes = taken.changes.into();
            queue.changes.extend(rest);
            queue.overflowed |= taken.overflowed;
        }
    }

    /// A session lets go of expunged UIDs; returns those whose content no
    /// session needs any more.
    pub(crate) fn release(&mut self, uids: impl IntoIterator<Item = Uid>) -> Vec<Uid> {
        let mut free = Vec::new();
        for uid in uids {
            if let Some(count) = self.kept.get_mut(&uid) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    self.kept.remove(&uid);
                    free.push(uid);
                }
            }
        }
        free
    }

    /// Removes a session, letting go of the expunges it was never told of
    /// and of `held` (expunged UIDs it took but still shows); returns the
    /// UIDs whose content can be dropped.
    pub(crate) fn unregister(&mut self, id: SessionId, held: impl IntoIterator<Item = Uid>) -> Vec<Uid> {
        let Some(queue) = self.sessions.remove(&id) else {
            return Vec::new();
        };
        let queued = queue.changes.into_iter().filter_map(|c| match c {
            Change::Expunged(t) => Some(t.uid),
            _ => None,
        });
        let all: Vec<Uid> = queued.chain(held).collect();
        self.release(all)
    }
}

/// The feeds of one account.
#[derive(Debug, Default)]
pub(crate) struct Feeds {
    feeds: HashMap<FeedId, Feed>,
    by_name: HashMap<MailboxName, FeedId>,
    next: u64,
}

impl Feeds {
    /// The feed of a mailbox, made if no session had it open.
    pub(crate) fn open(&mut self, name: &MailboxName, uid_validity: UidValidity) -> FeedId {
        if let Some(id) = self.by_name.get(name) {
            if self.feeds.get(id).is_some_and(|f| f.uid_validity == uid_validity) {
                return *id;
            }
            // A stale feed of a mailbox deleted behind our back.
            let id = *id;
            self.feeds.remove(&id);
            self.by_name.remove(name);
        }
        self.next += 1;
        let id = FeedId(self.next);
        self.feeds.insert(id, Feed::new(name.clone(), uid_validity));
        self.by_name.insert(name.clone(), id);
        id
    }

    pub(crate) fn get(&self, id: FeedId) -> Option<&Feed> {
        self.feeds.get(&id)
    }

    pub(crate) fn get_mut(&mut self, id: FeedId) -> Option<&mut Feed> {
        self.feeds.get_mut(&id)
    }

    /// The feed of a mailbox that sessions have open.
    pub(crate) fn id_by_name(&self, name: &MailboxName) -> Option<FeedId> {
        self.by_name.get(name).copied()
    }

    pub(crate) fn by_name_mut(&mut self, name: &MailboxName) -> Option<&mut Feed> {
        let id = self.by_name.get(name)?;
        self.feeds.get_mut(id)
    }

    /// Drops a feed that no session uses any more, and its name, unless
    /// the name is another feed's now (a stale feed of a mailbox deleted
    /// behind the store's back, whose name a rename gave to another).
    pub(crate) fn close_if_idle(&mut self, id: FeedId) {
        if self.feeds.get(&id).is_some_and(Feed::is_idle) {
            if let Some(feed) = self.feeds.remove(&id) {
                self.forget_name(&feed.name, id);
            }
        }
    }

    /// A stale feed gives up its name (it keeps its sessions until they
    /// close).
    pub(crate) fn forget_name(&mut self, name: &MailboxName, id: FeedId) {
        if self.by_name.get(name) == Some(&id) {
            self.by_name.remove(name);
        }
    }

    /// The mailbox was deleted: its sessions find no feed any more.
    pub(crate) fn remove(&mut self, name: &MailboxName) {
        if let Some(id) = self.by_name.remove(name) {
            self.feeds.remove(&id);
        }
    }

    /// Mailboxes were renamed.
    pub(crate) fn rename(&mut self, pairs: &[(MailboxName, MailboxName)]) {
        let moved: Vec<(FeedId, MailboxName)> = pairs
            .iter()
            .filter_map(|(old, new)| self.by_name.remove(old).map(|id| (id, new.clone())))
            .collect();
        for (id, new) in moved {
            if let Some(feed) = self.feeds.get_mut(&id) {
                feed.name = new.clone();
            }
            self.by_name.insert(new, id);
        }
    }
}

#[cfg(test)]
thread_local! {
    /// How many times this thread cut a queue down to its expunges.
    static CUTS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::ModSeq;

    /// A queue past its limit is cut down to its expunges once, not at
    /// every later expunge: a POP3 session's queue, never taken, took a
    /// scan of the whole queue for each of the thousands of expunges
    /// another session made, under the account's lock.
    #[test]
    fn a_queue_past_its_limit_is_cut_once() {
        let mut feed = Feed::new(MailboxName::inbox(), UidValidity::new(1).unwrap());
        feed.register(SessionId(1), SessionKind::Pop3 { highest: 50_000 });
        feed.register(SessionId(2), SessionKind::Imap { shown: 50_000 });
        CUTS.with(|c| c.set(0));
        for uid in 1..=50_000 {
            feed.publish(&expunge(uid), 100);
        }
        assert_eq!(CUTS.with(std::cell::Cell::get), 2, "one cut per queue");
        let taken = feed.take(SessionId(2)).unwrap();
        assert!(taken.overflowed);
        assert_eq!(taken.changes.len(), 50_000, "every expunge is kept");
    }

    fn expunge(uid: u32) -> Change {
        Change::Expunged(Tombstone {
            uid: Uid::new(uid).unwrap(),
            modseq: ModSeq::MIN,
        })
    }

    /// A rename onto the name of a stale feed (its mailbox deleted behind
    /// the store's back, its session not yet told) gives the name to the
    /// renamed mailbox's feed; the stale one closing later leaves it. It
    /// took the name away: the renamed mailbox's sessions heard of no
    /// change any more, their own expunges included.
    #[test]
    fn a_stale_feed_closing_leaves_a_name_a_rename_gave_away() {
        let mut feeds = Feeds::default();
        let (lists, work) = (
            MailboxName::new("Lists").unwrap(),
            MailboxName::new("Work").unwrap(),
        );
        let stale = feeds.open(&lists, UidValidity::new(1).unwrap());
        feeds
            .get_mut(stale)
            .unwrap()
            .register(SessionId(1), SessionKind::Imap { shown: 0 });
        let live = feeds.open(&work, UidValidity::new(2).unwrap());
        feeds
            .get_mut(live)
            .unwrap()
            .register(SessionId(2), SessionKind::Imap { shown: 0 });
        feeds.rename(&[(work.clone(), lists.clone())]);
        assert_eq!(feeds.id_by_name(&lists), Some(live));
        feeds.get_mut(stale).unwrap().unregister(SessionId(1), []);
        feeds.close_if_idle(stale);
        assert_eq!(feeds.id_by_name(&lists), Some(live));
        assert!(feeds.get(live).is_some());
    }

    /// A POP3 session keeps the content of the messages it lists, not of
    /// those delivered after it listed them: it never shows them. It kept
    /// every expunged message's content until it ended, so a session kept
    /// open while another filled and emptied the mailbox filled the disk.
    #[test]
    fn a_pop3_session_holds_only_the_expunges_of_messages_it_lists() {
        let mut feed = Feed::new(MailboxName::inbox(), UidValidity::new(1).unwrap());
        feed.register(SessionId(1), SessionKind::Pop3 { highest: 5 });
        assert!(
            !feed.publish(&expunge(3), 100),
            "a listed message's content was dropped"
        );
        assert!(
            feed.publish(&expunge(7), 100),
            "a later message's content was kept"
        );
        assert_eq!(feed.unregister(SessionId(1), []), [Uid::new(3).unwrap()]);

        // An IMAP session holds every expunge of a message it can show
        // until it is told.
        feed.register(SessionId(2), SessionKind::Imap { shown: 7 });
        assert!(!feed.publish(&expunge(7), 100));
    }

    fn added(uid: u32) -> Change {
        Change::Added(MessageMeta {
            uid: Uid::new(uid).unwrap(),
            flags: crate::Flags::default(),
            internal_date: crate::InternalDate {
                unix_seconds: 0,
                zone_minutes: 0,
            },
            size: 10,
            modseq: ModSeq::MIN,
            save_date: 0,
        })
    }

    /// An IMAP session that has not taken its changes holds no expunge of
    /// a message added after it last took them, and never hears of it:
    /// one left idle while another session appended and expunged held
    /// every one of those messages' content (and an entry in its queue)
    /// until it looked.
    #[test]
    fn an_idle_imap_session_holds_no_message_it_never_showed() {
        let mut feed = Feed::new(MailboxName::inbox(), UidValidity::new(1).unwrap());
        feed.register(SessionId(1), SessionKind::Imap { shown: 5 });
        for uid in 6..=1000 {
            feed.publish(&added(uid), 10_000);
            assert!(feed.publish(&expunge(uid), 10_000), "UID {uid}'s content kept");
        }
        assert!(
            !feed.publish(&expunge(5), 10_000),
            "a shown message's content dropped"
        );
        feed.publish(&added(1001), 10_000);
        let taken = feed.take(SessionId(1)).unwrap();
        assert_eq!(taken.changes, [expunge(5), added(1001)]);
        // Taken, UID 1001 can be shown: its expunge is held.
        feed.raise_shown(SessionId(1), Uid::new(1001).unwrap());
        assert!(!feed.publish(&expunge(1001), 10_000));
        // An overflowed queue has dropped the additions; it drops such
        // expunges too.
        for uid in 1002..=1010 {
            feed.publish(&added(uid), 3);
        }
        assert!(feed.publish(&expunge(1005), 3));
        let taken = feed.take(SessionId(1)).unwrap();
        assert!(taken.overflowed);
        assert_eq!(taken.changes, [expunge(1001)]);
    }
}

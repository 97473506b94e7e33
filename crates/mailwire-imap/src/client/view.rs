//! The client's view of the selected mailbox: what the server's
//! unsolicited data says about it, folded into one state and reported as
//! changes.

use std::num::NonZeroU32;

use crate::condstore::ModSeq;
use crate::fetch::data::MessageDataItem;
use crate::flag::FlagFetch;
use crate::sequence::UidSet;

/// A change to the selected mailbox, as the server reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MailboxChange {
    /// The mailbox now holds `count` messages (`* n EXISTS`).
    Exists {
        /// The new message count.
        count: u32,
    },
    /// Message `seq` was expunged; later messages moved down by one.
    Expunged {
        /// Its sequence number before the expunge.
        seq: NonZeroU32,
        /// Its UID, when the session had learnt it.
        uid: Option<NonZeroU32>,
    },
    /// Messages were expunged by UID (`* VANISHED`, QRESYNC); the message
    /// count went down by their number.
    Vanished {
        /// The UIDs.
        uids: UidSet,
    },
    /// `* VANISHED (EARLIER)`: messages expunged before this session saw
    /// them (an answer to `SELECT (QRESYNC ...)` or `UID FETCH (VANISHED)`).
    /// The message count does not change.
    VanishedEarlier {
        /// The UIDs.
        uids: UidSet,
    },
    /// A message's flags, as the server reported them.
    Flags {
        /// The sequence number.
        seq: NonZeroU32,
        /// The UID, when known.
        uid: Option<NonZeroU32>,
        /// The flags.
        flags: Vec<FlagFetch<'static>>,
        /// The mod-sequence (CONDSTORE), when sent.
        modseq: Option<ModSeq>,
    },
    /// The highest mod-sequence of the mailbox moved (`HIGHESTMODSEQ`, or
    /// a larger `MODSEQ` in a FETCH).
    HighestModSeq(ModSeq),
    /// The UIDVALIDITY changed while the mailbox was selected: every
    /// cached UID is void (RFC 9051 section 2.3.1.1).
    UidValidity(NonZeroU32),
}

/// The selected mailbox as the client knows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailboxView {
    /// UIDVALIDITY, once the server said it.
    pub uid_validity: Option<NonZeroU32>,
    /// UIDNEXT, once the server said it.
    pub uid_next: Option<NonZeroU32>,
    /// HIGHESTMODSEQ (CONDSTORE), once known.
    pub highest_modseq: Option<ModSeq>,
    /// The mailbox was opened read-only.
    pub read_only: bool,
    /// The UID of each message, message 1 first; `None` where the server
    /// has not said it yet.
    uids: Vec<Option<NonZeroU32>>,
    /// VANISHED named messages whose numbers the session did not know, so
    /// some numbers in `uids` may be off until the next full listing.
    uncertain: bool,
}

impl MailboxView {
    /// The number of messages.
    pub fn exists(&self) -> u32 {
        self.uids.len() as u32
    }

    /// The UID of message `seq`, when known.
    pub fn uid(&self, seq: NonZeroU32) -> Option<NonZeroU32> {
        self.uids.get(seq.get() as usize - 1).copied().flatten()
    }

    /// The sequence number of the message with `uid`, when known.
    pub fn seq(&self, uid: NonZeroU32) -> Option<NonZeroU32> {
        let i = self.uids.iter().position(|u| *u == Some(uid))?;
        NonZeroU32::new(i as u32 + 1)
    }

    /// Whether every UID the view holds is placed for certain (false after
    /// a VANISHED named a message whose number the session never learnt).
    pub fn is_certain(&self) -> bool {
        !self.uncertain
    }

    pub(super) fn set_exists(&mut self, count: u32, changes: &mut Vec<MailboxChange>) {
        self.uids.resize(count as usize, None);
        changes.push(MailboxChange::Exists { count });
    }

    pub(super) fn expunge(&mut self, seq: NonZeroU32, changes: &mut Vec<MailboxChange>) {
        let i = seq.get() as usize - 1;
        let uid = if i < self.uids.len() {
            self.uids.remove(i)
        } else {
            None
        };
        changes.push(MailboxChange::Expunged { seq, uid });
    }

    pub(super) fn vanished(&mut self, uids: UidSet, earlier: bool, changes: &mut Vec<MailboxChange>) {
        if earlier {
            changes.push(MailboxChange::VanishedEarlier { uids });
            return;
        }
        let before = self.uids.len();
        self.uids.retain(|u| !u.is_some_and(|u| uids.contains(u.get())));
        let unplaced = uids.count().saturating_sub((before - self.uids.len()) as u64);
        if unplaced > 0 {
            // Messages the session never learnt the UID of: the count
            // still goes down, but which numbers went is unknown.
            self.uncertain = true;
            let keep = self.uids.len().saturating_sub(unplaced as usize);
            let mut dropped = 0;
            let mut i = self.uids.len();
            while i > 0 && self.uids.len() > keep {
                i -= 1;
                if self.uids[i].is_none() {
                    self.uids.remove(i);
                    dropped += 1;
                }
            }
            if dropped < unplaced as usize {
                self.uids.truncate(keep);
            }
        }
        changes.push(MailboxChange::Vanished { uids });
    }

    /// Takes what a FETCH says about message `seq`.
    pub(super) fn fetched(
        &mut self,
        seq: NonZeroU32,
        items: &[MessageDataItem<'_>],
        changes: &mut Vec<MailboxChange>,
    ) {
        let i = seq.get() as usize - 1;
        if i >= self.uids.len() {
            // A server must not send FETCH for a message it did not
            // announce; take it as an implicit EXISTS.
            self.set_exists(seq.get(), changes);
        }
        let mut flags = None;
        let mut modseq = None;
        for item in items {
            match item {
                MessageDataItem::Uid(uid) => self.uids[i] = Some(*uid),
                MessageDataItem::Flags(f) => flags = Some(f),
                MessageDataItem::ModSeq(m) => modseq = Some(*m),
                _ => {}
            }
        }
        if let Some(m) = modseq {
            self.raise_modseq(m, changes);
        }
        if let Some(flags) = flags {
            changes.push(MailboxChange::Flags {
                seq,
                uid: self.uids[i],
                flags: flags.iter().cloned().map(FlagFetch::into_owned).collect(),
                modseq,
            });
        }
    }

    pub(super) fn raise_modseq(&mut self, m: ModSeq, changes: &mut Vec<MailboxChange>) {
        if self.highest_modseq.is_none_or(|h| m > h) {
            self.highest_modseq = Some(m);
            changes.push(MailboxChange::HighestModSeq(m));
        }
    }

    pub(super) fn set_uid_validity(&mut self, v: NonZeroU32, changes: &mut Vec<MailboxChange>) {
        if self.uid_validity.is_some_and(|old| old != v) {
            self.uids.iter_mut().for_each(|u| *u = None);
            changes.push(MailboxChange::UidValidity(v));
        }
        self.uid_validity = Some(v);
    }
}

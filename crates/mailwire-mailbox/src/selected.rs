//! The IMAP view of a selected mailbox: message sequence numbers, the
//! session's own copy of flags, `\Recent`, and the changes of other
//! sessions, applied only when the session asks.
//!
//! IMAP forbids some updates at some moments: no EXPUNGE while answering
//! FETCH, STORE or SEARCH, nor when no command is in progress (RFC 9051
//! sections 5.3 and 7.5.1). The view therefore never changes on its own:
//! the server calls [`SelectedMailbox::changes`] between commands (or
//! during IDLE and NOOP) and says whether expunges may be reported now.
//! Until they are reported, expunged messages keep their sequence
//! numbers and stay readable.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;

use bytes::Bytes;

use crate::backend::{Copied, ExpungeRequest, Expunged, FlagUpdate, FlagsStored, MessageMeta, StoreFlags};
use crate::feed::{Change, FeedId, SessionId, SessionKind};
use crate::flags::{FlagAction, Flags, SystemFlags};
use crate::store::{Account, AccountState};
use crate::types::{InternalDate, MailboxName, MailboxRef, ModSeq, StoreError, Uid, UidValidity};

/// How a mailbox is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SelectMode {
    /// SELECT: flags can change, and the session claims `\Recent`.
    ReadWrite,
    /// EXAMINE: nothing changes through this session, not even `\Seen`
    /// on reading, and `\Recent` stays for the next read-write session.
    ReadOnly,
}

/// A message as the session sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewMessage {
    /// Its UID.
    pub uid: Uid,
    /// Its flags as last reported to this session.
    pub flags: Flags,
    /// Its MODSEQ as last reported to this session.
    pub modseq: ModSeq,
    /// `\Recent` in this session (RFC 3501 section 2.3.2).
    pub recent: bool,
    /// RFC822.SIZE.
    pub size: u64,
    /// INTERNALDATE.
    pub internal_date: InternalDate,
    /// When it was saved in this mailbox (RFC 8514), in seconds since the
    /// epoch ([`MessageMeta::save_date`]).
    pub save_date: i64,
}

impl ViewMessage {
    pub(crate) fn new(meta: MessageMeta, recent: bool) -> ViewMessage {
        ViewMessage {
            uid: meta.uid,
            flags: meta.flags,
            modseq: meta.modseq,
            recent,
            size: meta.size,
            internal_date: meta.internal_date,
            save_date: meta.save_date,
        }
    }
}

/// An update to report to the client, in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notification {
    /// `* n EXPUNGE` (or the UID for VANISHED): the message left; later
    /// sequence numbers are already one lower in the next notification.
    Expunge {
        /// Its sequence number at this point of the list.
        seq: u32,
        /// Its UID.
        uid: Uid,
    },
    /// `* n EXISTS`: the number of messages, after new ones arrived.
    Exists(u32),
    /// `* n RECENT` (IMAP4rev1 only), sent along with EXISTS.
    Recent(u32),
    /// `* n FETCH (FLAGS (...))`: another session changed a message's
    /// flags.
    Flags {
        /// Its sequence number.
        seq: u32,
        /// Its UID.
        uid: Uid,
        /// Its flags now.
        flags: Flags,
        /// Its MODSEQ now (for CONDSTORE clients).
        modseq: ModSeq,
        /// Whether it is `\Recent` in this session.
        recent: bool,
    },
    /// The mailbox was deleted (or replaced): the server should end the
    /// selection (RFC 9051 suggests `* BYE` or, with NOTIFY, a LIST with
    /// `\NonExistent`). Nothing else is reported after it.
    Gone,
}

/// A mailbox selected (or examined) by one IMAP session.
///
/// Dropping it ends the selection (UNSELECT); [`close`](Self::close) also
/// expunges silently (CLOSE).
pub struct SelectedMailbox {
    account: Account,
    feed: FeedId,
    session: SessionId,
    mailbox: MailboxRef,
    mode: SelectMode,
    messages: Vec<ViewMessage>,
    /// Expunged messages not yet reported, with whether the store keeps
    /// their content for this session.
    ghosts: BTreeMap<Uid, bool>,
    /// The lowest MODSEQ among the expunges in `ghosts` (for one found
    /// gone by a look at the mailbox, one above what the session had
    /// seen then): see [`SelectedMailbox::safe_highest_modseq`].
    ghosts_modseq: Option<ModSeq>,
    uid_next: Uid,
    highest_modseq: ModSeq,
    gone: bool,
}

impl std::fmt::Debug for SelectedMailbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SelectedMailbox")
            .field("mailbox", &self.mailbox)
            .field("mode", &self.mode)
            .field("exists", &self.messages.len())
            .field("pending_expunges", &self.ghosts.len())
            .finish_non_exhaustive()
    }
}

/// The changes a session took, before they are applied to its view.
struct TakenChanges {
    changes: Vec<Change>,
    /// A snapshot to compare with, when the queue overflowed.
    snapshot: Option<Vec<MessageMeta>>,
    /// New messages from this UID up are `\Recent` for this session.
    first_recent: Uid,
    /// The highest UID of the messages that came and went unseen.
    came_and_went: Option<Uid>,
}

impl Account {
    /// Selects a mailbox (SELECT or EXAMINE).
    pub fn select(&self, name: &MailboxName, mode: SelectMode) -> Result<SelectedMailbox, StoreError> {
        let backend = self.backend();
        let mut state = self.lock();
        let entry = self.mailbox(name)?;
        let feed = state.feeds.open(&entry.name, entry.uid_validity);
        let mailbox = entry.to_ref();
        let session = self.store.next_session();
        // Changes other processes made go to the sessions already here;
        // this one starts from the snapshot taken after them.
        let opened = self.sync_locked(&mut state, feed).and_then(|()| {
            let snapshot = backend.mailbox_snapshot(self.name(), name)?;
            if snapshot.uid_validity != entry.uid_validity {
                return Err(StoreError::MailboxGone(name.clone()));
            }
            let first_recent = match mode {
                SelectMode::ReadWrite => match backend.claim_recent(self.name(), &mailbox, snapshot.uid_next)
                {
                    // The claim could not be recorded for a passing
                    // reason (the Maildir backend keeps a claim that
                    // finds a full disk in memory, but its lock may be
                    // busy, or a repair may need room): the messages
                    // nobody claimed are shown as recent, as RFC
                    // 3501 (section 2.3.2) asks when it cannot be told
                    // whether this session is the first to see them, and
                    // the mailbox opens (a user must be able to get in to
                    // delete mail).
                    Err(StoreError::Temporary(_)) => snapshot.first_recent_uid,
                    claimed => claimed?,
                },
                SelectMode::ReadOnly => snapshot.first_recent_uid,
            };
            Ok((snapshot, first_recent))
        });
        let (snapshot, first_recent) = match opened {
            Ok(v) => v,
            Err(e) => {
                state.feeds.close_if_idle(feed);
                return Err(e);
            }
        };
        if let Some(f) = state.feeds.get_mut(feed) {
            let shown = snapshot.messages.iter().map(|m| m.uid.get()).max().unwrap_or(0);
            f.register(session, SessionKind::Imap { shown });
        }
        drop(state);
        let messages = snapshot
            .messages
            .into_iter()
            .map(|m| {
                let recent = m.uid >= first_recent;
                ViewMessage::new(m, recent)
            })
            .collect();
        Ok(SelectedMailbox {
            account: self.clone(),
            feed,
            session,
            mailbox,
            mode,
            messages,
            ghosts: BTreeMap::new(),
            ghosts_modseq: None,
            uid_next: snapshot.uid_next,
            highest_modseq: snapshot.highest_modseq,
            gone: false,
        })
    }
}

impl SelectedMailbox {
    /// The mailbox (its name follows renames once changes are taken).
    pub fn mailbox(&self) -> &MailboxRef {
        &self.mailbox
    }

    /// The account.
    pub fn account(&self) -> &Account {
        &self.account
    }

    /// How it was opened.
    pub fn mode(&self) -> SelectMode {
        self.mode
    }

    /// Whether it was opened with EXAMINE.
    pub fn is_read_only(&self) -> bool {
        self.mode == SelectMode::ReadOnly
    }

    /// Whether the mailbox was found deleted.
    pub fn is_gone(&self) -> bool {
        self.gone
    }

    /// UIDVALIDITY.
    pub fn uid_validity(&self) -> UidValidity {
        self.mailbox.uid_validity
    }

    /// UIDNEXT as this session knows it.
    pub fn uid_next(&self) -> Uid {
        self.uid_next
    }

    /// The highest MODSEQ this session has seen.
    pub fn highest_modseq(&self) -> ModSeq {
        self.highest_modseq
    }

    /// The HIGHESTMODSEQ the client may be told now:
    /// [`highest_modseq`](Self::highest_modseq), or, while expunges wait
    /// to be reported (during a command that forbids them), one below the
    /// lowest of theirs. RFC 7162 section 3.2: a server that sends MODSEQ data
    /// while it holds back expunges with lower mod-sequences MUST send
    /// `OK [HIGHESTMODSEQ]` below them, or a client that loses the
    /// connection resynchronises past the expunges, and keeps those
    /// messages for good.
    pub fn safe_highest_modseq(&self) -> ModSeq {
        match self.ghosts_modseq {
            Some(m) => self
                .highest_modseq
                .min(ModSeq::new(m.get().saturating_sub(1)).unwrap_or(ModSeq::MIN)),
            None => self.highest_modseq,
        }
    }

    /// Whether expunges wait to be reported (see
    /// [`safe_highest_modseq`](Self::safe_highest_modseq)).
    pub fn has_pending_expunges(&self) -> bool {
        !self.ghosts.is_empty()
    }

    /// The number of messages (EXISTS), expunged ones not yet reported
    /// included.
    pub fn exists(&self) -> u32 {
        u32::try_from(self.messages.len()).unwrap_or(u32::MAX)
    }

    /// The number of `\Recent` messages in this session.
    pub fn recent(&self) -> u32 {
        u32::try_from(self.messages.iter().filter(|m| m.recent).count()).unwrap_or(u32::MAX)
    }

    /// The sequence number of the first message without `\Seen` (the
    /// IMAP4rev1 `UNSEEN` code of SELECT).
    pub fn first_unseen(&self) -> Option<u32> {
        let i = self.messages.iter().position(|m| !m.flags.is_seen())?;
        u32::try_from(i + 1).ok()
    }

    /// The messages in sequence-number order (message 1 first).
    pub fn messages(&self) -> &[ViewMessage] {
        &self.messages
    }

    /// The message with sequence number `seq`.
    pub fn get(&self, seq: u32) -> Option<&ViewMessage> {
        self.messages.get(usize::try_from(seq).ok()?.checked_sub(1)?)
    }

    /// The sequence number of a UID.
    pub fn seq(&self, uid: Uid) -> Option<u32> {
        let i = self.index(uid)?;
        u32::try_from(i + 1).ok()
    }

    /// The UID of a sequence number.
    pub fn uid(&self, seq: u32) -> Option<Uid> {
        self.get(seq).map(|m| m.uid)
    }

    /// Whether the message was expunged and the expunge is not yet
    /// reported (RFC 9051 section 7.5.1 lets a server answer a FETCH of
    /// it, or refuse with `NO [EXPUNGEISSUED]`).
    pub fn is_expunged(&self, uid: Uid) -> bool {
        self.ghosts.contains_key(&uid)
    }

    fn index(&self, uid: Uid) -> Option<usize> {
        self.messages.binary_search_by_key(&uid, |m| m.uid).ok()
    }

    fn max_uid(&self) -> Option<Uid> {
        self.messages.last().map(|m| m.uid)
    }

    /// The content of a message of the view, even one expunged but not
    /// yet reported.
    pub fn read(&self, uid: Uid) -> Result<Bytes, StoreError> {
        if self.index(uid).is_none() {
            return Err(StoreError::NoSuchMessage(uid));
        }
        let mailbox = self.current_ref()?;
        self.account
            .backend()
            .read_message(self.account.name(), &mailbox, uid)
    }

    /// The mailbox under its current name (another session may have
    /// renamed it).
    fn current_ref(&self) -> Result<MailboxRef, StoreError> {
        let state = self.account.lock();
        match state.feeds.get(self.feed) {
            Some(f) if f.uid_validity == self.mailbox.uid_validity && !self.gone => Ok(MailboxRef {
                name: f.name.clone(),
                uid_validity: f.uid_validity,
            }),
            _ => Err(StoreError::MailboxGone(self.mailbox.name.clone())),
        }
    }

    /// The file of a message of the view and its length, where the backend
    /// keeps one (see [`Backend::message_file`](crate::Backend::message_file)).
    pub fn message_file(&self, uid: Uid) -> Result<Option<(std::fs::File, u64)>, StoreError> {
        if self.index(uid).is_none() {
            return Err(StoreError::NoSuchMessage(uid));
        }
        let mailbox = self.current_ref()?;
        self.account
            .backend()
            .message_file(self.account.name(), &mailbox, uid)
    }

    /// A reader of a message's content (see [`read`](Self::read)).
    pub fn open(&self, uid: Uid) -> Result<Box<dyn Read + Send>, StoreError> {
        if self.index(uid).is_none() {
            return Err(StoreError::NoSuchMessage(uid));
        }
        let mailbox = self.current_ref()?;
        self.account
            .backend()
            .open_message(self.account.name(), &mailbox, uid)
    }

    fn writable(&self) -> Result<(), StoreError> {
        match self.mode {
            SelectMode::ReadWrite => Ok(()),
            SelectMode::ReadOnly => Err(StoreError::ReadOnly),
        }
    }

    /// Changes flags (STORE). The view takes the new flags at once; the
    /// result lists what changed (for the FETCH answers) and what failed a
    /// condition. Other sessions learn of it through their changes.
    pub fn store_flags(&mut self, request: &StoreFlags) -> Result<FlagsStored, StoreError> {
        self.writable()?;
        let account = self.account.clone();
        let mut state = lock_feed(&account, self.feed, &mut self.mailbox, self.gone)?;
        let mailbox = self.mailbox.clone();
        let stored = account.store_flags_locked(&mut state, &mailbox, request)?;
        drop(state);
        self.apply_own(&stored.updated);
        Ok(stored)
    }

    fn apply_own(&mut self, updates: &[FlagUpdate]) {
        for update in updates {
            self.highest_modseq = self.highest_modseq.max(update.modseq);
            if self.ghosts.contains_key(&update.uid) {
                continue;
            }
            if let Some(i) = self.index(update.uid) {
                let m = &mut self.messages[i];
                if update.modseq > m.modseq {
                    m.flags = update.flags.clone();
                    m.modseq = update.modseq;
                }
            }
        }
    }

    /// Sets `\Seen` on messages read with a non-PEEK body fetch (RFC 9051
    /// section 6.4.5); does nothing in a read-only selection. Returns the
    /// messages whose flags changed, for the FETCH answer to include FLAGS.
    pub fn mark_seen(&mut self, uids: &[Uid]) -> Result<Vec<FlagUpdate>, StoreError> {
        if self.is_read_only() {
            return Ok(Vec::new());
        }
        let unseen: Vec<Uid> = uids
            .iter()
            .copied()
            .filter(|u| !self.ghosts.contains_key(u))
            .filter(|u| self.index(*u).is_some_and(|i| !self.messages[i].flags.is_seen()))
            .collect();
        if unseen.is_empty() {
            return Ok(Vec::new());
        }
        let request = StoreFlags {
            uids: unseen,
            action: FlagAction::Add,
            flags: Flags::system(SystemFlags::SEEN),
            condition: None,
        };
        Ok(self.store_flags(&request)?.updated)
    }

    /// Expunges messages with `\Deleted` (EXPUNGE, or UID EXPUNGE with
    /// `uids`). Report them with [`changes`](Self::changes)`(true)`.
    pub fn expunge(&mut self, uids: Option<&[Uid]>) -> Result<Expunged, StoreError> {
        self.writable()?;
        let account = self.account.clone();
        let mut state = lock_feed(&account, self.feed, &mut self.mailbox, self.gone)?;
        let mailbox = self.mailbox.clone();
        let mut request = ExpungeRequest {
            uids: uids.map(<[Uid]>::to_vec),
            only_deleted: true,
        };
        if let Some(list) = &mut request.uids {
            list.sort_unstable();
            list.dedup();
        }
        account.expunge_locked(&mut state, &mailbox, &request)
    }

    /// Copies messages to another mailbox (COPY); allowed read-only.
    pub fn copy_to(&mut self, uids: &[Uid], to: &MailboxName) -> Result<Copied, StoreError> {
        let account = self.account.clone();
        let mut state = lock_feed(&account, self.feed, &mut self.mailbox, self.gone)?;
        let mailbox = self.mailbox.clone();
        account.copy_locked(&mut state, &mailbox, uids, to)
    }

    /// Moves messages to another mailbox (MOVE, RFC 6851). Report the
    /// expunges with [`changes`](Self::changes)`(true)`.
    pub fn move_to(&mut self, uids: &[Uid], to: &MailboxName) -> Result<Copied, StoreError> {
        self.writable()?;
        let account = self.account.clone();
        let mut state = lock_feed(&account, self.feed, &mut self.mailbox, self.gone)?;
        let mailbox = self.mailbox.clone();
        account.move_locked(&mut state, &mailbox, uids, to)
    }

    /// Ends the selection with CLOSE: expunges the `\Deleted` messages
    /// without reporting them (read-write only), then unselects.
    pub fn close(mut self) -> Result<(), StoreError> {
        if self.mode == SelectMode::ReadWrite && !self.gone {
            self.expunge(None)?;
        }
        Ok(())
    }

    /// Takes the changes made since the last call (by other sessions,
    /// other processes, or this session's own EXPUNGE, MOVE and APPEND),
    /// applies them to the view and returns what to report, in order:
    /// expunges (only if `allow_expunge`; otherwise they stay pending and
    /// the messages keep their numbers), then EXISTS and RECENT, then
    /// flag changes.
    ///
    /// Call it between commands, never in the middle of one: with
    /// `allow_expunge` false after FETCH, STORE and SEARCH (not their UID
    /// forms), true otherwise.
    pub fn changes(&mut self, allow_expunge: bool) -> Result<Vec<Notification>, StoreError> {
        if self.gone {
            return Ok(Vec::new());
        }
        let taken = match self.take() {
            Ok(t) => t,
            Err(StoreError::MailboxGone(_) | StoreError::NoSuchMailbox(_)) => {
                self.gone = true;
                return Ok(vec![Notification::Gone]);
            }
            Err(e) => return Err(e),
        };
        let old_max = self.max_uid();
        if let Some(uid) = taken.came_and_went.filter(|&u| u >= self.uid_next) {
            self.uid_next = uid.next().unwrap_or(uid);
        }
        let mut changed = BTreeSet::new();
        let mut release = Vec::new();
        let mut added = false;
        match taken.snapshot {
            None => {
                for change in taken.changes {
                    match change {
                        Change::Added(meta) => added |= self.add(meta, taken.first_recent),
                        Change::Flags(update) => {
                            if self.update_flags(update.uid, &update.flags, update.modseq) {
                                changed.insert(update.uid);
                            }
                        }
                        Change::Expunged(t) => self.expunged(t.uid, Some(t.modseq), &mut release),
                    }
                }
            }
            Some(snapshot) => {
                for change in taken.changes {
                    if let Change::Expunged(t) = change {
                        self.expunged(t.uid, Some(t.modseq), &mut release);
                    }
                }
                let present: BTreeSet<Uid> = snapshot.iter().map(|m| m.uid).collect();
                let vanished: Vec<Uid> = self
                    .messages
                    .iter()
                    .map(|m| m.uid)
                    .filter(|u| !present.contains(u) && !self.ghosts.contains_key(u))
                    .collect();
                let seen = self.highest_modseq.next();
                for uid in vanished {
                    self.ghosts.insert(uid, false);
                    self.note_ghost_modseq(seen);
                }
                for meta in snapshot {
                    if self.update_flags(meta.uid, &meta.flags, meta.modseq) {
                        changed.insert(meta.uid);
                    }
                    added |= self.add(meta, taken.first_recent);
                }
            }
        }
        let mut out = Vec::new();
        if allow_expunge {
            let ghosts = std::mem::take(&mut self.ghosts);
            self.ghosts_modseq = None;
            // One pass, ascending: each EXPUNGE's number counts the
            // removals before it, as removing the messages one at a time
            // would, without moving the list once per message (quadratic:
            // an EXPUNGE of 100,000 messages cost every session that had
            // them selected tens of seconds).
            let (mut position, mut removed) = (0usize, 0usize);
            self.messages.retain(|m| {
                position += 1;
                if !ghosts.contains_key(&m.uid) {
                    return true;
                }
                // A message that came and went in this batch was never
                // announced: it leaves silently.
                if old_max.is_some_and(|max| m.uid <= max) {
                    let seq = u32::try_from(position - removed).unwrap_or(u32::MAX);
                    out.push(Notification::Expunge { seq, uid: m.uid });
                }
                removed += 1;
                false
            });
            release.extend(ghosts.into_iter().filter(|&(_, kept)| kept).map(|(uid, _)| uid));
        }
        if added {
            out.push(Notification::Exists(self.exists()));
            out.push(Notification::Recent(self.recent()));
        }
        for uid in changed {
            // Messages new in this batch are announced by EXISTS alone.
            if old_max.is_none_or(|max| uid > max) || self.ghosts.contains_key(&uid) {
                continue;
            }
            if let Some(i) = self.index(uid) {
                let m = &self.messages[i];
                out.push(Notification::Flags {
                    seq: u32::try_from(i + 1).unwrap_or(u32::MAX),
                    uid,
                    flags: m.flags.clone(),
                    modseq: m.modseq,
                    recent: m.recent,
                });
            }
        }
        self.account.release(self.feed, release);
        Ok(out)
    }

    /// Takes the queued changes (and a snapshot if the queue overflowed),
    /// claiming `\Recent` for the new messages.
    fn take(&mut self) -> Result<TakenChanges, StoreError> {
        let account = self.account.clone();
        let backend = account.backend();
        let mut state = lock_feed(&account, self.feed, &mut self.mailbox, self.gone)?;
        let mailbox = self.mailbox.clone();
        account.sync_locked(&mut state, self.feed)?;
        let taken = state
            .feeds
            .get_mut(self.feed)
            .and_then(|f| f.take(self.session))
            .ok_or_else(|| StoreError::MailboxGone(mailbox.name.clone()))?;
        let snapshot = if taken.overflowed {
            let looked = backend
                .mailbox_snapshot(account.name(), &mailbox.name)
                .and_then(|s| match s.uid_validity == mailbox.uid_validity {
                    true => Ok(s),
                    false => Err(StoreError::MailboxGone(mailbox.name.clone())),
                });
            match looked {
                Ok(s) => Some(s.messages),
                Err(e) => {
                    // The changes go back, to be taken with the next look:
                    // dropped, the expunges among them would never be let
                    // go of (their content kept, and counted, for good) and
                    // this view would never learn of them.
                    if let Some(f) = state.feeds.get_mut(self.feed) {
                        f.put_back(self.session, taken);
                    }
                    return Err(e);
                }
            }
        } else {
            None
        };
        let max_known = self.messages.last().map(|m| m.uid);
        let newest = match &snapshot {
            Some(s) => s.last().map(|m| m.uid),
            None => taken
                .changes
                .iter()
                .filter_map(|c| match c {
                    Change::Added(m) => Some(m.uid),
                    _ => None,
                })
                .max(),
        };
        if let (Some(newest), Some(f)) = (newest, state.feeds.get_mut(self.feed)) {
            f.raise_shown(self.session, newest);
        }
        let newest = newest.filter(|n| max_known.is_none_or(|k| *n > k));
        let first_recent = match newest {
            None => Uid::MIN,
            Some(newest) => {
                let up_to = match self.mode {
                    SelectMode::ReadWrite => newest.next().unwrap_or(newest),
                    SelectMode::ReadOnly => Uid::MIN,
                };
                // If the mark cannot be read, RFC 3501 says to count the
                // messages as recent.
                backend
                    .claim_recent(account.name(), &mailbox, up_to)
                    .unwrap_or(Uid::MIN)
            }
        };
        drop(state);
        Ok(TakenChanges {
            changes: taken.changes,
            snapshot,
            first_recent,
            came_and_went: taken.came_and_went,
        })
    }

    /// Adds a new message to the view; false if it was known.
    fn add(&mut self, meta: MessageMeta, first_recent: Uid) -> bool {
        self.highest_modseq = self.highest_modseq.max(meta.modseq);
        if self.max_uid().is_some_and(|max| meta.uid <= max) {
            return false;
        }
        if meta.uid >= self.uid_next {
            self.uid_next = meta.uid.next().unwrap_or(meta.uid);
        }
        let recent = meta.uid >= first_recent;
        self.messages.push(ViewMessage::new(meta, recent));
        true
    }

    /// Takes newer flags; true if they changed.
    fn update_flags(&mut self, uid: Uid, flags: &Flags, modseq: ModSeq) -> bool {
        self.highest_modseq = self.highest_modseq.max(modseq);
        if self.ghosts.contains_key(&uid) {
            return false;
        }
        let Some(i) = self.index(uid) else { return false };
        let m = &mut self.messages[i];
        if modseq <= m.modseq {
            return false;
        }
        m.modseq = modseq;
        if m.flags.same_spelling(flags) {
            return false;
        }
        m.flags = flags.clone();
        true
    }

    /// Records an expunge: a pending one if the view shows the message,
    /// otherwise its content is let go at once.
    fn expunged(&mut self, uid: Uid, modseq: Option<ModSeq>, release: &mut Vec<Uid>) {
        if uid >= self.uid_next {
            self.uid_next = uid.next().unwrap_or(uid);
        }
        if self.index(uid).is_some() && !self.ghosts.contains_key(&uid) {
            self.ghosts.insert(uid, true);
            self.note_ghost_modseq(modseq);
        } else {
            release.push(uid);
        }
    }

    /// Lowers [`Self::ghosts_modseq`] to `modseq`.
    fn note_ghost_modseq(&mut self, modseq: Option<ModSeq>) {
        if let Some(m) = modseq {
            self.ghosts_modseq = Some(self.ghosts_modseq.map_or(m, |g| g.min(m)));
        }
    }
}

/// Locks the account and finds the mailbox's current name.
fn lock_feed<'a>(
    account: &'a Account,
    feed: FeedId,
    mailbox: &mut MailboxRef,
    gone: bool,
) -> Result<std::sync::MutexGuard<'a, AccountState>, StoreError> {
    if gone {
        return Err(StoreError::MailboxGone(mailbox.name.clone()));
    }
    let state = account.lock();
    match state.feeds.get(feed) {
        Some(f) if f.uid_validity == mailbox.uid_validity => {
            mailbox.name = f.name.clone();
            Ok(state)
        }
        _ => Err(StoreError::MailboxGone(mailbox.name.clone())),
    }
}

impl Drop for SelectedMailbox {
    fn drop(&mut self) {
        let held: Vec<Uid> = self
            .ghosts
            .iter()
            .filter(|(_, kept)| **kept)
            .map(|(u, _)| *u)
            .collect();
        self.account.unregister(self.feed, self.session, held);
    }
}

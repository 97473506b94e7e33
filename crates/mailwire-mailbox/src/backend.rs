//! The storage backend trait and the values it exchanges with the store.
//!
//! A backend keeps accounts, their mailboxes and messages; it speaks of
//! nothing else (no files, no paths, no sessions), so that an in-memory
//! map, a Maildir tree or a SQL database can implement it. The
//! [`Store`](crate::Store) on top resolves sequence sets, keeps the
//! sessions' change feeds and enforces the protocol rules.

use std::io::{Cursor, Read};

use bytes::Bytes;

use crate::flags::{FlagAction, Flags};
use crate::ranges::UidRanges;
use crate::types::{
    AccountName, InternalDate, MailboxName, MailboxRef, ModSeq, SpecialUse, StoreError, Uid, UidValidity,
};

/// A message to add to a mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    /// The message, in the store's canonical form (CRLF line ends, ending
    /// with CRLF unless empty; see [`crate::canonical_crlf`]).
    pub content: Bytes,
    /// Its initial flags.
    pub flags: Flags,
    /// Its INTERNALDATE.
    pub internal_date: InternalDate,
}

/// A message written in full to a file of the backend's own (see
/// [`Backend::stage`]), ready to be added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedMessage {
    /// The file, closed; its content in the store's canonical form (as
    /// [`NewMessage::content`]).
    pub path: std::path::PathBuf,
    /// Its size in octets.
    pub size: u64,
    /// Its initial flags.
    pub flags: Flags,
    /// Its INTERNALDATE.
    pub internal_date: InternalDate,
}

/// What is known of a message besides its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageMeta {
    /// Its UID.
    pub uid: Uid,
    /// Its flags.
    pub flags: Flags,
    /// Its INTERNALDATE.
    pub internal_date: InternalDate,
    /// Its exact size in octets (RFC822.SIZE; also the POP3 size, since
    /// content is stored with CRLF line ends).
    pub size: u64,
    /// The MODSEQ of its last change.
    pub modseq: ModSeq,
    /// When it was saved in this mailbox (RFC 8514's save date), in
    /// seconds since the epoch: its APPEND, COPY or MOVE here, or, for a
    /// message another program delivered, when the store found it.
    pub save_date: i64,
}

/// A mailbox as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxEntry {
    /// Its name.
    pub name: MailboxName,
    /// Its UIDVALIDITY.
    pub uid_validity: UidValidity,
    /// Its SPECIAL-USE attributes, sorted, without repeats.
    pub special_use: Vec<SpecialUse>,
}

impl MailboxEntry {
    /// The mailbox as a reference for message operations.
    pub fn to_ref(&self) -> MailboxRef {
        MailboxRef {
            name: self.name.clone(),
            uid_validity: self.uid_validity,
        }
    }
}

/// The state of a mailbox at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxSnapshot {
    /// Its UIDVALIDITY.
    pub uid_validity: UidValidity,
    /// The UID the next message will get at the least.
    pub uid_next: Uid,
    /// The highest MODSEQ of any change to it (messages added, flags
    /// changed, messages expunged, the mailbox created).
    pub highest_modseq: ModSeq,
    /// Messages with this UID or above have not been claimed as `\Recent`
    /// by any read-write session (see [`Backend::claim_recent`]).
    pub first_recent_uid: Uid,
    /// Its messages, in ascending UID order.
    pub messages: Vec<MessageMeta>,
}

/// The outcome of [`Backend::append`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    /// The UIDVALIDITY of the mailbox the messages went to.
    pub uid_validity: UidValidity,
    /// The new messages, in the order given.
    pub messages: Vec<MessageMeta>,
}

/// The outcome of [`Backend::copy`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    /// The UIDVALIDITY of the target mailbox.
    pub uid_validity: UidValidity,
    /// (source UID, new UID in the target), in ascending source order; a
    /// source UID that no longer existed is missing.
    pub mapping: Vec<(Uid, Uid)>,
    /// The new messages in the target, in the same order.
    pub added: Vec<MessageMeta>,
}

/// A message that was expunged: what remains of it to answer "what
/// vanished since MODSEQ x" (RFC 7162 section 3.2.5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tombstone {
    /// The UID it had.
    pub uid: Uid,
    /// The MODSEQ of the expunge.
    pub modseq: ModSeq,
}

/// The outcome of [`Backend::expunge`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expunged {
    /// The MODSEQ of the expunge; `None` if nothing was expunged.
    pub modseq: Option<ModSeq>,
    /// The UIDs removed, ascending.
    pub uids: Vec<Uid>,
}

/// The outcome of [`Backend::move_messages`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    /// The messages as added to the target.
    pub copied: Copied,
    /// The same messages as removed from the source.
    pub expunged: Expunged,
}

/// Which messages [`Backend::expunge`] removes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpungeRequest {
    /// Only these UIDs (UID EXPUNGE, POP3 QUIT); `None` for all. UIDs that
    /// do not exist (any more) are ignored.
    pub uids: Option<Vec<Uid>>,
    /// Only messages with `\Deleted` (IMAP EXPUNGE and UID EXPUNGE); POP3
    /// removes what it was told regardless of flags.
    pub only_deleted: bool,
}

/// A condition on a flag change, checked per message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StoreCondition {
    /// `UNCHANGEDSINCE` (RFC 7162 section 3.1.3): change only messages whose
    /// MODSEQ is at most this value; the others are reported as failed.
    UnchangedSince(ModSeq),
}

/// A flag change (STORE), as a request so that conditions fit in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreFlags {
    /// The messages, ascending, without repeats; UIDs that do not exist
    /// (any more) are ignored.
    pub uids: Vec<Uid>,
    /// Add, remove or replace.
    pub action: FlagAction,
    /// The flags to add, remove or set.
    pub flags: Flags,
    /// An optional condition.
    pub condition: Option<StoreCondition>,
}

/// A message's flags after a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagUpdate {
    /// The message.
    pub uid: Uid,
    /// Its flags now.
    pub flags: Flags,
    /// Its MODSEQ now.
    pub modseq: ModSeq,
}

/// The outcome of [`Backend::store_flags`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlagsStored {
    /// The messages whose flags changed, ascending. A message whose flags
    /// would not change is left alone and keeps its MODSEQ (RFC 7162
    /// section 3.1.11).
    pub updated: Vec<FlagUpdate>,
    /// The messages that failed the condition (RFC 7162's MODIFIED list),
    /// ascending.
    pub failed: Vec<Uid>,
}

/// A change to a mailbox made outside this backend instance, reported by
/// [`Backend::sync`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExternalChange {
    /// A message was added.
    Added(MessageMeta),
    /// A message's flags changed.
    Flags(FlagUpdate),
    /// A message was expunged; its content may already be gone.
    Expunged(Tombstone),
}

/// Storage for accounts, mailboxes and messages.
///
/// # Contract
///
/// **Identity.** Accounts are named by [`AccountName`]. A mailbox is named
/// by its [`MailboxName`]; operations on messages also pass the
/// mailbox's UIDVALIDITY in a [`MailboxRef`], and fail with
/// [`StoreError::MailboxGone`] if the mailbox of that name now has another
/// one (it was deleted and created again) or [`StoreError::NoSuchMailbox`]
/// if none exists. A message is `(mailbox, UID)`.
///
/// **Counters.** Each account has a UIDVALIDITY counter and a MODSEQ
/// counter, both persisted and never going back. Every mailbox created
/// (a new name or an old one again, a rename target of INBOX) takes a
/// UIDVALIDITY greater than any the account used before; a rename keeps
/// the UIDVALIDITY. Every successful mutating call that changes something
/// takes one new MODSEQ for all it changes; the mailboxes it touches get
/// it as their `highest_modseq`. Each mailbox keeps its UIDNEXT: UIDs are
/// assigned from it in ascending order and it never goes back, even when
/// the newest messages are expunged. UID `u32::MAX` is never assigned;
/// when no UID is left, adding fails with [`StoreError::Limit`].
///
/// **Content.** Content is stored as given (the store has put it in
/// canonical CRLF form) and never changes; `size` is its length. An
/// expunged message leaves a [`Tombstone`] and its content stays readable
/// by `read_message`/`open_message` until [`purge`](Backend::purge) is
/// called for it (sessions that have not yet been told of the expunge may
/// still read it), or until the backend is dropped and opened again (no
/// session survives that). Deleting a mailbox drops its content at once,
/// kept or not.
///
/// **Atomicity.** Every mutating call is one transaction: when it returns
/// `Ok`, all of its effects are visible to every later call from any
/// thread; when it returns `Err`, nothing changed. A call given a list
/// (append several messages, expunge a UID list, rename with inferiors) is
/// all or nothing for the list.
///
/// **Durability.** When a mutating call returns `Ok`, a persistent backend
/// has made its effects durable (they survive a crash), with two
/// exceptions that may be lost: the `\Recent` mark of
/// [`claim_recent`](Backend::claim_recent) (messages then count as recent
/// again, which RFC 3501 allows) and [`purge`](Backend::purge) (content
/// is then dropped later).
///
/// **Concurrency.** Methods take `&self`; the backend is `Send + Sync`.
/// The store calls the mutating methods for one account one at a time, in
/// the order it publishes their changes, but calls for different accounts
/// and the reading methods (`account_exists`, `list_mailboxes`, `mailbox`,
/// `subscriptions`, `mailbox_snapshot`, `tombstones`, `kept_size`,
/// `read_message`, `open_message`) may come from any thread at any time.
/// A backend whose storage other processes also change reports their
/// changes to messages through [`sync`](Backend::sync) and answers the
/// listing methods from storage, fresh each time.
pub trait Backend: Send + Sync {
    /// Creates an account holding an empty INBOX (without SPECIAL-USE
    /// attributes) and no subscriptions. Fails with
    /// [`StoreError::AccountExists`].
    fn create_account(&self, account: &AccountName) -> Result<(), StoreError>;

    /// Whether the account exists.
    fn account_exists(&self, account: &AccountName) -> Result<bool, StoreError>;

    /// The account's mailboxes, INBOX included, sorted by name.
    fn list_mailboxes(&self, account: &AccountName) -> Result<Vec<MailboxEntry>, StoreError>;

    /// Creates one mailbox (not its superiors: the store creates those
    /// first) with a new UIDVALIDITY, UIDNEXT 1 and a new MODSEQ as its
    /// `highest_modseq`. Fails with [`StoreError::MailboxExists`].
    fn create_mailbox(
        &self,
        account: &AccountName,
        name: &MailboxName,
        special_use: &[SpecialUse],
    ) -> Result<MailboxEntry, StoreError>;

    /// Deletes a mailbox, its messages, tombstones and kept content; its
    /// inferiors stay. Never called for INBOX.
    fn delete_mailbox(&self, account: &AccountName, mailbox: &MailboxRef) -> Result<(), StoreError>;

    /// Renames a mailbox and all its inferiors (`from/x` becomes `to/x`),
    /// keeping their UIDVALIDITY, messages, flags and MODSEQs, and returns
    /// the (old, new) names, the mailbox itself first. Fails with
    /// [`StoreError::MailboxExists`] if any new name is taken. Never called
    /// for INBOX (the store implements RFC 9051's INBOX rename with
    /// [`create_mailbox`](Backend::create_mailbox) and
    /// [`move_messages`](Backend::move_messages)); the store creates the
    /// superiors of `to` first.
    fn rename_mailbox(
        &self,
        account: &AccountName,
        from: &MailboxRef,
        to: &MailboxName,
    ) -> Result<Vec<(MailboxName, MailboxName)>, StoreError>;

    /// The subscribed names, sorted (they need not exist).
    fn subscriptions(&self, account: &AccountName) -> Result<Vec<MailboxName>, StoreError>;

    /// Adds or removes a subscription (doing nothing if it is already so).
    fn set_subscribed(
        &self,
        account: &AccountName,
        name: &MailboxName,
        subscribed: bool,
    ) -> Result<(), StoreError>;

    /// One mailbox's entry; by default found in
    /// [`list_mailboxes`](Backend::list_mailboxes). Fails with
    /// [`StoreError::NoSuchMailbox`].
    fn mailbox(&self, account: &AccountName, name: &MailboxName) -> Result<MailboxEntry, StoreError> {
        self.list_mailboxes(account)?
            .into_iter()
            .find(|m| &m.name == name)
            .ok_or_else(|| StoreError::NoSuchMailbox(name.clone()))
    }

    /// The mailbox's state now.
    fn mailbox_snapshot(
        &self,
        account: &AccountName,
        name: &MailboxName,
    ) -> Result<MailboxSnapshot, StoreError>;

    /// Adds messages, in order, with ascending new UIDs and one new MODSEQ.
    fn append(
        &self,
        account: &AccountName,
        mailbox: &MailboxName,
        messages: Vec<NewMessage>,
    ) -> Result<Appended, StoreError>;

    /// A new file to write a message that is still arriving (an IMAP
    /// APPEND), so that it never has to be whole in memory; the message
    /// is then added by [`append_staged`](Backend::append_staged) without
    /// a copy. `None` (the default): the backend keeps content in memory,
    /// and the caller gathers the message and calls
    /// [`append`](Backend::append). The caller removes a file it does not
    /// hand over.
    fn stage(
        &self,
        account: &AccountName,
        mailbox: &MailboxName,
    ) -> Result<Option<(std::path::PathBuf, std::fs::File)>, StoreError> {
        let _ = (account, mailbox);
        Ok(None)
    }

    /// Adds messages written to files from [`stage`](Backend::stage), as
    /// [`append`](Backend::append) does (in order, ascending new UIDs, one
    /// new MODSEQ, all or none). The files are the backend's from then on:
    /// moved into the mailbox, or removed if the call fails. By default
    /// each file is read and given to [`append`](Backend::append).
    fn append_staged(
        &self,
        account: &AccountName,
        mailbox: &MailboxName,
        messages: Vec<StagedMessage>,
    ) -> Result<Appended, StoreError> {
        let mut new = Vec::with_capacity(messages.len());
        let mut failed = None;
        for m in &messages {
            match std::fs::read(&m.path) {
                Ok(content) => new.push(NewMessage {
                    content: content.into(),
                    flags: m.flags.clone(),
                    internal_date: m.internal_date,
                }),
                Err(e) => {
                    failed = Some(StoreError::Permanent(format!("read {}: {e}", m.path.display())));
                    break;
                }
            }
        }
        for m in &messages {
            let _ = std::fs::remove_file(&m.path);
        }
        match failed {
            Some(e) => Err(e),
            None => self.append(account, mailbox, new),
        }
    }

    /// Copies messages with their flags and INTERNALDATE to `to` (which may
    /// be `from`), with ascending new UIDs and one new MODSEQ.
    fn copy(
        &self,
        account: &AccountName,
        from: &MailboxRef,
        uids: &[Uid],
        to: &MailboxName,
    ) -> Result<Copied, StoreError>;

    /// Copies messages like [`copy`](Backend::copy) and expunges them from
    /// `from`, as one transaction (RFC 6851). The source content is kept
    /// until purged, as for [`expunge`](Backend::expunge).
    fn move_messages(
        &self,
        account: &AccountName,
        from: &MailboxRef,
        uids: &[Uid],
        to: &MailboxName,
    ) -> Result<Moved, StoreError>;

    /// Changes flags; the changed messages share one new MODSEQ.
    fn store_flags(
        &self,
        account: &AccountName,
        mailbox: &MailboxRef,
        request: &StoreFlags,
    ) -> Result<FlagsStored, StoreError>;

    /// Removes messages, leaving a tombstone for each with one new MODSEQ.
    /// Their content is kept until [`purge`](Backend::purge).
    fn expunge(
        &self,
        account: &AccountName,
        mailbox: &MailboxRef,
        request: &ExpungeRequest,
    ) -> Result<Expunged, StoreError>;

    /// Drops the kept content of expunged messages (UIDs without kept
    /// content are ignored).
    fn purge(&self, account: &AccountName, mailbox: &MailboxRef, uids: &[Uid]) -> Result<(), StoreError>;

    /// The octets of the expunged messages' content it keeps for a
    /// mailbox (what [`purge`](Backend::purge) has yet to drop), counted
    /// as [`MessageMeta::size`] counts: storage the account still uses,
    /// which a quota must count (a POP3 session that lingers would
    /// otherwise let an account hold its quota twice over).
    fn kept_size(&self, account: &AccountName, mailbox: &MailboxRef) -> Result<u64, StoreError>;

    /// The tombstones it keeps with a MODSEQ above `since`, ascending by
    /// UID. A backend may prune old tombstones (the Maildir backend keeps
    /// the newest ones and a mark of the highest MODSEQ pruned): those are
    /// not listed; [`Backend::vanished_since`] answers for them.
    fn tombstones(
        &self,
        account: &AccountName,
        mailbox: &MailboxRef,
        since: ModSeq,
    ) -> Result<Vec<Tombstone>, StoreError>;

    /// The UIDs expunged after `since`, as ranges: those of
    /// [`Backend::tombstones`] (the default, for a backend that prunes
    /// none). A backend that pruned tombstones above `since` answers with
    /// a superset, never fewer: every UID up to the highest it pruned that
    /// is not a message now (QRESYNC allows this in `VANISHED (EARLIER)`),
    /// as ranges, so the answer's size follows the gaps, not the UIDs.
    fn vanished_since(
        &self,
        account: &AccountName,
        mailbox: &MailboxRef,
        since: ModSeq,
    ) -> Result<UidRanges, StoreError> {
        Ok(self
            .tombstones(account, mailbox, since)?
            .into_iter()
            .map(|t| t.uid)
            .collect())
    }

    /// The content of a message, present or expunged but not yet purged.
    /// Fails with [`StoreError::NoSuchMessage`] otherwise.
    fn read_message(
        &self,
        account: &AccountName,
        mailbox: &MailboxRef,
        uid: Uid,
    ) -> Result<Bytes, StoreError>;

    /// The file a message's content is stored in, and its length, for a
    /// reader that needs to move around in it
    /// (`analysis::StoredMessage`, with the `imap` feature); `None`, the
    /// default, for a backend that keeps no files. Lines may end in bare
    /// LF: [`read_message`](Backend::read_message) gives them as CRLF.
    fn message_file(
        &self,
        account: &AccountName,
        mailbox: &MailboxRef,
        uid: Uid,
    ) -> Result<Option<(std::fs::File, u64)>, StoreError> {
        let _ = (account, mailbox, uid);
        Ok(None)
    }

    /// A reader of a message's content, for streaming it; by default over
    /// [`read_message`](Backend::read_message).
    fn open_message(
        &self,
        account: &AccountName,
        mailbox: &MailboxRef,
        uid: Uid,
    ) -> Result<Box<dyn Read + Send>, StoreError> {
        Ok(Box::new(Cursor::new(self.read_message(account, mailbox, uid)?)))
    }

    /// Claims `\Recent` (RFC 3501 section 2.3.2) for a read-write session:
    /// raises the mailbox's first recent UID to `up_to` if it is lower and
    /// returns the value it had, so that the caller alone sees the UIDs
    /// from that value up to `up_to` as recent. With `up_to` = UID 1 it
    /// only reads the value.
    fn claim_recent(
        &self,
        account: &AccountName,
        mailbox: &MailboxRef,
        up_to: Uid,
    ) -> Result<Uid, StoreError>;

    /// Takes in the changes that other processes made to the mailbox since
    /// this instance last looked, and returns them in the order they
    /// happened; changes made through this instance are not returned. A
    /// backend that no one else changes returns nothing.
    fn sync(&self, account: &AccountName, mailbox: &MailboxRef) -> Result<Vec<ExternalChange>, StoreError>;

    /// The store forgets `account`: no [`Account`](crate::Account) handle
    /// of it is left, so no session uses it (see
    /// [`StoreConfig::max_idle_accounts`](crate::StoreConfig::max_idle_accounts)).
    /// A backend that caches an account's state in memory may drop it
    /// here, to be read from storage when the account is next used; one
    /// whose memory is the storage keeps everything (the default does
    /// nothing). What was reported of the account's mailboxes
    /// ([`Backend::sync`]) need not be remembered: the next user starts
    /// from a snapshot.
    fn release_account(&self, account: &AccountName) {
        let _ = account;
    }

    /// A directory in which every change to the account's mail shows (a
    /// file created, renamed or removed somewhere below it), for a server
    /// that watches the file system (inotify) to learn at once of changes
    /// other processes make, and then calls [`sync`](Backend::sync). `None`
    /// (the default) when there is none: such a server polls instead.
    fn watch_path(&self, account: &AccountName) -> Option<std::path::PathBuf> {
        let _ = account;
        None
    }

    /// The directory another program delivers a mailbox's messages into,
    /// if it has one: for a Maildir, the folder (a message is written to
    /// its `tmp/` and renamed into `new/` or `cur/`; the backend takes it
    /// in at its next [`sync`](Backend::sync)). A program that downloads
    /// large messages streams them there instead of holding them whole
    /// for [`append`](Backend::append). `None` (the default) when there
    /// is none.
    fn delivery_dir(&self, account: &AccountName, mailbox: &MailboxName) -> Option<std::path::PathBuf> {
        let _ = (account, mailbox);
        None
    }
}

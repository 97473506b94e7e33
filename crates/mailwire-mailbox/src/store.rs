//! The store: accounts and their mailboxes over one [`Backend`], with the
//! change feed that keeps every open session consistent.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use bytes::Bytes;

use crate::backend::{
    Backend, Copied, ExpungeRequest, Expunged, ExternalChange, FlagsStored, MailboxEntry, MailboxSnapshot,
    MessageMeta, NewMessage, StagedMessage, StoreFlags, Tombstone,
};
use crate::content::canonical_crlf;
use crate::feed::{Change, FeedId, Feeds, SessionId};
use crate::flags::Flags;
use crate::ranges::UidRanges;
use crate::types::{
    AccountName, DEFAULT_MAILBOXES, InternalDate, MailboxName, MailboxRef, ModSeq, SpecialUse, StoreError,
    Uid, UidValidity,
};
use crate::upload::{Sink, Upload};

/// Limits of a [`Store`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// The most keywords one message may carry.
    pub max_keywords: usize,
    /// The largest message accepted, in octets (after CRLF conversion).
    pub max_message_size: u64,
    /// The most changes queued for one IMAP session; past it the session
    /// compares its view with the mailbox when it next takes its changes,
    /// instead of replaying them.
    pub max_pending_changes: usize,
    /// The most mailboxes one account may hold, INBOX included: a CREATE
    /// or RENAME that would make more (with the superiors it creates) is
    /// refused with [`StoreError::Limit`], and nothing is created. Each
    /// mailbox costs every listing, and a watch of its folder costs kernel
    /// resources its owner shares with other accounts. Mailboxes made by
    /// another program are not refused, only counted.
    pub max_mailboxes: usize,
    /// How many accounts that no [`Account`] handle uses (no session is
    /// logged in to them) the store keeps, the most recently used: past
    /// it, the least recently used is forgotten, and its backend told to
    /// drop what it keeps in memory of it
    /// ([`Backend::release_account`](crate::Backend::release_account)),
    /// to be read from storage again when next used. Without a bound, a
    /// server would keep every account it ever served until it stops.
    pub max_idle_accounts: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            max_keywords: 128,
            max_message_size: 256 << 20,
            max_pending_changes: 10_000,
            max_mailboxes: 1_000,
            max_idle_accounts: 16,
        }
    }
}

/// A message to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendMessage {
    /// The message; bare LF line ends are converted to CRLF and a final
    /// CRLF is added if missing (see [`crate::canonical_crlf`]).
    pub content: Bytes,
    /// Its flags.
    pub flags: Flags,
    /// Its INTERNALDATE; the current time if `None`.
    pub internal_date: Option<InternalDate>,
}

impl AppendMessage {
    /// A message without flags, dated now.
    pub fn new(content: impl Into<Bytes>) -> AppendMessage {
        AppendMessage {
            content: content.into(),
            flags: Flags::new(),
            internal_date: None,
        }
    }
}

/// Where appended messages went (RFC 4315 APPENDUID).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendUid {
    /// The target mailbox's UIDVALIDITY.
    pub uid_validity: UidValidity,
    /// The new UIDs, in the order of the messages.
    pub uids: Vec<Uid>,
}

/// The STATUS of a mailbox (RFC 9051 section 6.3.11, RFC 7162 section
/// 3.1.8, RFC 8438).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailboxStatus {
    /// MESSAGES.
    pub messages: u32,
    /// RECENT (IMAP4rev1): messages no read-write session has claimed yet.
    pub recent: u32,
    /// UIDNEXT.
    pub uid_next: Uid,
    /// UIDVALIDITY.
    pub uid_validity: UidValidity,
    /// UNSEEN: messages without `\Seen`.
    pub unseen: u32,
    /// DELETED: messages with `\Deleted`.
    pub deleted: u32,
    /// SIZE: the sum of the message sizes.
    pub size: u64,
    /// HIGHESTMODSEQ.
    pub highest_modseq: ModSeq,
}

impl MailboxStatus {
    /// The status of a snapshot.
    pub fn of(snapshot: &MailboxSnapshot) -> MailboxStatus {
        let count = |f: &dyn Fn(&MessageMeta) -> bool| {
            u32::try_from(snapshot.messages.iter().filter(|m| f(m)).count()).unwrap_or(u32::MAX)
        };
        MailboxStatus {
            messages: u32::try_from(snapshot.messages.len()).unwrap_or(u32::MAX),
            recent: count(&|m| m.uid >= snapshot.first_recent_uid),
            uid_next: snapshot.uid_next,
            uid_validity: snapshot.uid_validity,
            unseen: count(&|m| !m.flags.is_seen()),
            deleted: count(&|m| m.flags.is_deleted()),
            size: snapshot
                .messages
                .iter()
                .fold(0, |sum, m| sum.saturating_add(m.size)),
            highest_modseq: snapshot.highest_modseq,
        }
    }
}

/// What changed in a mailbox since a MODSEQ (RFC 7162 CHANGEDSINCE and
/// QRESYNC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangesSince {
    /// The mailbox's UIDVALIDITY.
    pub uid_validity: UidValidity,
    /// Its HIGHESTMODSEQ now.
    pub highest_modseq: ModSeq,
    /// Messages added or changed since, ascending by UID.
    pub changed: Vec<MessageMeta>,
    /// UIDs expunged since: exactly those, or (asked from below the mark
    /// of tombstones the backend pruned) every UID up to the highest
    /// pruned that is not a message now, never fewer
    /// ([`Backend::vanished_since`](crate::Backend::vanished_since)).
    pub vanished: UidRanges,
}

/// One account's shared state: its feeds and its POP3 lock.
#[derive(Debug, Default)]
pub(crate) struct AccountState {
    pub(crate) feeds: Feeds,
    /// The POP3 session holding the exclusive maildrop lock.
    pub(crate) pop3_lock: Option<SessionId>,
}

#[derive(Debug)]
pub(crate) struct AccountShared {
    pub(crate) name: AccountName,
    state: Mutex<AccountState>,
    /// The store, told when the last handle goes.
    store: Weak<Inner>,
}

impl Drop for AccountShared {
    /// The last [`Account`] handle went: no session uses the account.
    fn drop(&mut self) {
        if let Some(inner) = self.store.upgrade() {
            let keep = inner.config.max_idle_accounts;
            let mut accounts = inner.accounts.lock().unwrap_or_else(|e| e.into_inner());
            accounts.went_idle(&self.name, keep, &*inner.backend);
        }
    }
}

pub(crate) struct Inner {
    pub(crate) backend: Box<dyn Backend>,
    pub(crate) config: StoreConfig,
    accounts: Mutex<Accounts>,
    next_session: AtomicU64,
}

/// The accounts a store has handed out (each alive while a handle is),
/// and those no handle uses any more.
#[derive(Default)]
struct Accounts {
    shared: HashMap<AccountName, Weak<AccountShared>>,
    /// Accounts whose last handle went, least recently first, at most
    /// [`StoreConfig::max_idle_accounts`] of them. One here may be in use
    /// again (a handle taken since); it is skipped when its turn to be
    /// forgotten comes.
    idle: VecDeque<AccountName>,
}

impl Accounts {
    /// `name`'s last handle went: unless a new one was taken since, it
    /// joins the idle accounts, and the least recently used of them past
    /// `keep` are forgotten, in the store and in `backend`.
    fn went_idle(&mut self, name: &AccountName, keep: usize, backend: &dyn Backend) {
        let in_use = |accounts: &Self, name: &AccountName| {
            accounts.shared.get(name).is_some_and(|a| a.strong_count() > 0)
        };
        if in_use(self, name) {
            return;
        }
        self.idle.retain(|n| n != name);
        self.idle.push_back(name.clone());
        while self.idle.len() > keep {
            let Some(oldest) = self.idle.pop_front() else {
                break;
            };
            // No handle, so no session and no call in progress; none can
            // start while the lock is held.
            if !in_use(self, &oldest) {
                self.shared.remove(&oldest);
                backend.release_account(&oldest);
            }
        }
    }
}

/// The mailbox store: one per server, shared by every session of every
/// protocol. Cloning is cheap (all clones are one store); it is `Send +
/// Sync`, and its calls block only on storage.
#[derive(Clone)]
pub struct Store {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// A store over `backend` with default limits.
    pub fn new(backend: impl Backend + 'static) -> Store {
        Store::with_config(backend, StoreConfig::default())
    }

    /// A store over `backend` with the given limits.
    pub fn with_config(backend: impl Backend + 'static, config: StoreConfig) -> Store {
        Store {
            inner: Arc::new(Inner {
                backend: Box::new(backend),
                config,
                accounts: Mutex::new(Accounts::default()),
                next_session: AtomicU64::new(1),
            }),
        }
    }

    /// The backend.
    pub fn backend(&self) -> &dyn Backend {
        &*self.inner.backend
    }

    /// The limits.
    pub fn config(&self) -> &StoreConfig {
        &self.inner.config
    }

    /// Creates an account with INBOX, Drafts, Sent, Junk and Trash (the
    /// last four with their SPECIAL-USE attributes), all subscribed.
    pub fn create_account(&self, name: &AccountName) -> Result<Account, StoreError> {
        let backend = self.backend();
        backend.create_account(name)?;
        for (mailbox, special_use) in DEFAULT_MAILBOXES {
            let mailbox = MailboxName::new(mailbox)?;
            if !mailbox.is_inbox() {
                backend.create_mailbox(name, &mailbox, special_use.as_slice())?;
            }
            backend.set_subscribed(name, &mailbox, true)?;
        }
        self.account(name)
    }

    /// An existing account.
    pub fn account(&self, name: &AccountName) -> Result<Account, StoreError> {
        if !self.backend().account_exists(name)? {
            return Err(StoreError::NoSuchAccount(name.clone()));
        }
        let mut accounts = self.inner.accounts.lock().unwrap_or_else(|e| e.into_inner());
        let shared = match accounts.shared.get(name).and_then(Weak::upgrade) {
            Some(shared) => shared,
            None => {
                let shared = Arc::new(AccountShared {
                    name: name.clone(),
                    state: Mutex::new(AccountState::default()),
                    store: Arc::downgrade(&self.inner),
                });
                accounts.shared.insert(name.clone(), Arc::downgrade(&shared));
                shared
            }
        };
        Ok(Account {
            store: self.clone(),
            shared,
        })
    }

    pub(crate) fn next_session(&self) -> SessionId {
        SessionId(self.inner.next_session.fetch_add(1, Ordering::Relaxed))
    }
}

/// One account of a [`Store`]: its mailboxes, subscriptions and messages.
/// Every change made here reaches the sessions that have the mailbox open
/// (see [`SelectedMailbox`](crate::SelectedMailbox)).
#[derive(Clone)]
pub struct Account {
    pub(crate) store: Store,
    pub(crate) shared: Arc<AccountShared>,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("name", &self.shared.name)
            .finish_non_exhaustive()
    }
}

impl Account {
    /// The account's name.
    pub fn name(&self) -> &AccountName {
        &self.shared.name
    }

    /// The store it belongs to.
    pub fn store(&self) -> &Store {
        &self.store
    }

    pub(crate) fn backend(&self) -> &dyn Backend {
        self.store.backend()
    }

    /// Locks the account's shared state. Every change goes through this
    /// lock, so changes are published in the order the backend made them.
    pub(crate) fn lock(&self) -> MutexGuard<'_, AccountState> {
        // The state is only feeds and reference counts: a panic elsewhere
        // leaves it usable.
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Where changes to the account's mail show on disk, if anywhere
    /// ([`Backend::watch_path`]).
    pub fn watch_path(&self) -> Option<std::path::PathBuf> {
        self.backend().watch_path(self.name())
    }

    /// Where another program delivers into a mailbox, if anywhere
    /// ([`Backend::delivery_dir`]).
    pub fn delivery_dir(&self, name: &MailboxName) -> Option<std::path::PathBuf> {
        self.backend().delivery_dir(self.name(), name)
    }

    /// The mailboxes, sorted by name.
    pub fn list(&self) -> Result<Vec<MailboxEntry>, StoreError> {
        self.backend().list_mailboxes(self.name())
    }

    /// One mailbox.
    pub fn mailbox(&self, name: &MailboxName) -> Result<MailboxEntry, StoreError> {
        self.backend().mailbox(self.name(), name)
    }

    /// Creates a mailbox and, first, any missing superior (RFC 9051
    /// section 6.3.4). INBOX and existing names are refused, and so is a
    /// mailbox past [`StoreConfig::max_mailboxes`].
    pub fn create_mailbox(
        &self,
        name: &MailboxName,
        special_use: &[SpecialUse],
    ) -> Result<MailboxEntry, StoreError> {
        let _state = self.lock();
        let backend = self.backend();
        if name.is_inbox() {
            return Err(StoreError::MailboxExists(name.clone()));
        }
        self.check_room(name, true)?;
        self.create_superiors(name)?;
        backend.create_mailbox(self.name(), name, special_use)
    }

    /// [`StoreError::Limit`] when creating the missing superiors of `name`,
    /// and `name` itself when `itself`, would take the account past
    /// [`StoreConfig::max_mailboxes`]. A name that already exists is left
    /// to its creation to refuse.
    fn check_room(&self, name: &MailboxName, itself: bool) -> Result<(), StoreError> {
        let backend = self.backend();
        let absent = |name: &MailboxName| match backend.mailbox(self.name(), name) {
            Ok(_) => Ok(false),
            Err(StoreError::NoSuchMailbox(_)) => Ok(true),
            Err(e) => Err(e),
        };
        let mut missing = usize::from(itself && absent(name)?);
        for superior in name.ancestors() {
            missing += usize::from(absent(&superior)?);
        }
        if missing == 0 {
            return Ok(());
        }
        let held = backend.list_mailboxes(self.name())?.len();
        if held.saturating_add(missing) > self.store.inner.config.max_mailboxes {
            return Err(StoreError::Limit("too many mailboxes"));
        }
        Ok(())
    }

    fn create_superiors(&self, name: &MailboxName) -> Result<(), StoreError> {
        for superior in name.ancestors() {
            match self.backend().create_mailbox(self.name(), &superior, &[]) {
                Ok(_) | Err(StoreError::MailboxExists(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Deletes a mailbox and its messages; inferiors stay (RFC 9051 section
    /// 6.3.5). INBOX cannot be deleted. Sessions that have it selected find
    /// it gone when they next take their changes.
    pub fn delete_mailbox(&self, name: &MailboxName) -> Result<(), StoreError> {
        if name.is_inbox() {
            return Err(StoreError::NotAllowed("INBOX cannot be deleted"));
        }
        let mut state = self.lock();
        let entry = self.mailbox(name)?;
        self.backend().delete_mailbox(self.name(), &entry.to_ref())?;
        state.feeds.remove(name);
        Ok(())
    }

    /// Renames a mailbox with its inferiors (RFC 9051 section 6.3.6),
    /// creating missing superiors of the new name. Renaming INBOX moves
    /// all its messages to a new mailbox of the new name and leaves INBOX
    /// empty; inferiors of INBOX stay where they are. The mailboxes it
    /// creates count toward [`StoreConfig::max_mailboxes`].
    pub fn rename_mailbox(&self, from: &MailboxName, to: &MailboxName) -> Result<(), StoreError> {
        let mut state = self.lock();
        let backend = self.backend();
        let entry = self.mailbox(from)?;
        if to.is_inbox() {
            return Err(StoreError::MailboxExists(to.clone()));
        }
        if from.is_inbox() {
            if backend.mailbox(self.name(), to).is_ok() {
                return Err(StoreError::MailboxExists(to.clone()));
            }
            self.check_room(to, true)?;
            self.create_superiors(to)?;
            backend.create_mailbox(self.name(), to, &[])?;
            // What other processes changed in INBOX first, as for a MOVE:
            // its sessions hear of a delivery before the move takes it.
            self.sync_before_change(&mut state, from)?;
            let snapshot = backend.mailbox_snapshot(self.name(), from)?;
            let uids: Vec<Uid> = snapshot.messages.iter().map(|m| m.uid).collect();
            let moved = backend.move_messages(self.name(), &entry.to_ref(), &uids, to)?;
            self.publish_added(&mut state, to, &moved.copied.added);
            self.publish_expunged(&mut state, from, &moved.expunged);
            return Ok(());
        }
        if to == from || to.is_inferior_of(from) {
            return Err(StoreError::NotAllowed("cannot rename a mailbox into itself"));
        }
        if backend.mailbox(self.name(), to).is_ok() {
            return Err(StoreError::MailboxExists(to.clone()));
        }
        self.check_room(to, false)?;
        self.create_superiors(to)?;
        let pairs = backend.rename_mailbox(self.name(), &entry.to_ref(), to)?;
        state.feeds.rename(&pairs);
        Ok(())
    }

    /// Adds a name to the subscriptions (it need not exist).
    pub fn subscribe(&self, name: &MailboxName) -> Result<(), StoreError> {
        let _state = self.lock();
        self.backend().set_subscribed(self.name(), name, true)
    }

    /// Removes a name from the subscriptions.
    pub fn unsubscribe(&self, name: &MailboxName) -> Result<(), StoreError> {
        let _state = self.lock();
        self.backend().set_subscribed(self.name(), name, false)
    }

    /// The subscribed names, sorted.
    pub fn subscriptions(&self) -> Result<Vec<MailboxName>, StoreError> {
        self.backend().subscriptions(self.name())
    }

    /// The mailbox's state now, with what other processes changed in it
    /// taken in first (and passed to the sessions that have it open).
    pub fn snapshot(&self, name: &MailboxName) -> Result<MailboxSnapshot, StoreError> {
        let mut state = self.lock();
        match state.feeds.id_by_name(name) {
            Some(feed) => self.sync_locked(&mut state, feed)?,
            None => {
                // No session has it open: there is nobody to tell.
                let mailbox = MailboxRef {
                    name: name.clone(),
                    uid_validity: self.backend().mailbox(self.name(), name)?.uid_validity,
                };
                match self.backend().sync(self.name(), &mailbox) {
                    Ok(_) | Err(StoreError::MailboxGone(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        drop(state);
        self.backend().mailbox_snapshot(self.name(), name)
    }

    /// The mailbox's STATUS.
    pub fn status(&self, name: &MailboxName) -> Result<MailboxStatus, StoreError> {
        Ok(MailboxStatus::of(&self.snapshot(name)?))
    }

    /// The octets of expunged messages whose content is kept for the
    /// sessions that still show them (an IMAP session not yet told, a
    /// POP3 session that listed them): storage the account still uses,
    /// which a quota counts along with the messages' sizes. It is freed
    /// as those sessions let go.
    pub fn kept_size(&self, name: &MailboxName) -> Result<u64, StoreError> {
        let entry = self.mailbox(name)?;
        self.backend().kept_size(self.name(), &entry.to_ref())
    }

    /// What changed in a mailbox since `since` (CONDSTORE/QRESYNC
    /// resynchronisation of an offline client): messages with a higher
    /// MODSEQ and UIDs expunged after it.
    pub fn changes_since(&self, name: &MailboxName, since: ModSeq) -> Result<ChangesSince, StoreError> {
        let snapshot = self.snapshot(name)?;
        let mailbox = MailboxRef {
            name: name.clone(),
            uid_validity: snapshot.uid_validity,
        };
        let vanished = self.backend().vanished_since(self.name(), &mailbox, since)?;
        Ok(ChangesSince {
            uid_validity: snapshot.uid_validity,
            highest_modseq: snapshot.highest_modseq,
            changed: snapshot
                .messages
                .into_iter()
                .filter(|m| m.modseq > since)
                .collect(),
            vanished,
        })
    }

    /// Appends one message; returns its UID with the UIDVALIDITY.
    pub fn append(&self, name: &MailboxName, message: AppendMessage) -> Result<AppendUid, StoreError> {
        self.append_all(name, vec![message])
    }

    /// Appends several messages as one transaction (MULTIAPPEND, RFC
    /// 3502): all or none.
    pub fn append_all(
        &self,
        name: &MailboxName,
        messages: Vec<AppendMessage>,
    ) -> Result<AppendUid, StoreError> {
        let config = &self.store.inner.config;
        let mut new = Vec::with_capacity(messages.len());
        for m in messages {
            self.check_flags(&m.flags)?;
            if m.content.len() as u64 > config.max_message_size {
                return Err(StoreError::Limit("message too large"));
            }
            let content = canonical_crlf(m.content);
            if content.len() as u64 > config.max_message_size {
                return Err(StoreError::Limit("message too large"));
            }
            new.push(NewMessage {
                content,
                flags: m.flags,
                internal_date: m.internal_date.unwrap_or_else(InternalDate::now),
            });
        }
        let mut state = self.lock();
        self.sync_before_change(&mut state, name)?;
        let appended = self.backend().append(self.name(), name, new)?;
        self.publish_added(&mut state, name, &appended.messages);
        Ok(AppendUid {
            uid_validity: appended.uid_validity,
            uids: appended.messages.iter().map(|m| m.uid).collect(),
        })
    }

    /// Starts receiving a message for `name`, to be added with
    /// [`append_uploads`](Account::append_uploads): its content is written
    /// to the backend's staging file as it arrives (the Maildir backend:
    /// the folder's `tmp/`), so a large message is never whole in memory.
    /// Fails with [`StoreError::NoSuchMailbox`] and for too many keywords.
    pub fn start_upload(
        &self,
        name: &MailboxName,
        flags: Flags,
        internal_date: Option<InternalDate>,
    ) -> Result<Upload, StoreError> {
        self.check_flags(&flags)?;
        let limit = self.store.inner.config.max_message_size;
        let sink = match self.backend().stage(self.name(), name)? {
            Some((path, file)) => Sink::File {
                path,
                file: std::io::BufWriter::with_capacity(64 * 1024, file),
            },
            None => {
                self.mailbox(name)?;
                Sink::Memory(Vec::new())
            }
        };
        Ok(Upload::new(sink, flags, internal_date, limit))
    }

    /// Adds uploads as one transaction, as
    /// [`append_all`](Account::append_all) does; each must have been
    /// started for `name`.
    pub fn append_uploads(&self, name: &MailboxName, uploads: Vec<Upload>) -> Result<AppendUid, StoreError> {
        let mut uploads = uploads;
        // Every upload is complete before any is taken apart: on an error
        // here the uploads are dropped, which removes their files.
        for upload in &mut uploads {
            upload.finish()?;
        }
        let mut staged = Vec::with_capacity(uploads.len());
        let mut in_memory = Vec::with_capacity(uploads.len());
        let mut broken = false;
        for mut upload in uploads {
            let internal_date = upload.internal_date.unwrap_or_else(InternalDate::now);
            let flags = std::mem::take(&mut upload.flags);
            let size = upload.size();
            match upload.take() {
                Sink::File { path, file } => {
                    drop(file);
                    staged.push(StagedMessage {
                        path,
                        size,
                        flags,
                        internal_date,
                    });
                }
                Sink::Closed { path } => {
                    staged.push(StagedMessage {
                        path,
                        size,
                        flags,
                        internal_date,
                    });
                }
                Sink::Memory(content) => in_memory.push(AppendMessage {
                    content: content.into(),
                    flags,
                    internal_date: Some(internal_date),
                }),
                // `finish` refuses an upload that failed; not met here.
                Sink::Gone => broken = true,
            }
        }
        let unstage = |staged: &[StagedMessage]| {
            for m in staged {
                let _ = std::fs::remove_file(&m.path);
            }
        };
        if broken || !(staged.is_empty() || in_memory.is_empty()) {
            unstage(&staged);
            return Err(StoreError::Permanent(
                "uploads of two kinds, or a failed one".into(),
            ));
        }
        if staged.is_empty() {
            return self.append_all(name, in_memory);
        }
        let mut state = self.lock();
        if let Err(e) = self.sync_before_change(&mut state, name) {
            unstage(&staged);
            return Err(e);
        }
        let appended = self.backend().append_staged(self.name(), name, staged)?;
        self.publish_added(&mut state, name, &appended.messages);
        Ok(AppendUid {
            uid_validity: appended.uid_validity,
            uids: appended.messages.iter().map(|m| m.uid).collect(),
        })
    }

    pub(crate) fn check_flags(&self, flags: &Flags) -> Result<(), StoreError> {
        if flags.keywords.len() > self.store.inner.config.max_keywords {
            return Err(StoreError::Limit("too many keywords"));
        }
        Ok(())
    }

    /// The content of a message (present, or expunged while a session
    /// still shows it).
    pub fn read_message(&self, name: &MailboxName, uid: Uid) -> Result<Bytes, StoreError> {
        let entry = self.mailbox(name)?;
        self.backend().read_message(self.name(), &entry.to_ref(), uid)
    }

    /// The file of a message and its length, where the backend keeps one
    /// ([`Backend::message_file`]).
    pub fn message_file(
        &self,
        name: &MailboxName,
        uid: Uid,
    ) -> Result<Option<(std::fs::File, u64)>, StoreError> {
        let entry = self.mailbox(name)?;
        self.backend().message_file(self.name(), &entry.to_ref(), uid)
    }

    /// Opens a message to read in pieces ([`Backend::open_message`]), so a
    /// large one is never whole in memory.
    pub fn open_message(
        &self,
        name: &MailboxName,
        uid: Uid,
    ) -> Result<Box<dyn std::io::Read + Send>, StoreError> {
        let entry = self.mailbox(name)?;
        self.backend().open_message(self.name(), &entry.to_ref(), uid)
    }

    /// Copies messages (those of `uids` that exist) to `to`; returns the
    /// UID mapping (RFC 4315 COPYUID).
    pub fn copy(&self, from: &MailboxName, uids: &[Uid], to: &MailboxName) -> Result<Copied, StoreError> {
        let mut state = self.lock();
        let entry = self.mailbox(from)?;
        self.copy_locked(&mut state, &entry.to_ref(), uids, to)
    }

    pub(crate) fn copy_locked(
        &self,
        state: &mut AccountState,
        from: &MailboxRef,
        uids: &[Uid],
        to: &MailboxName,
    ) -> Result<Copied, StoreError> {
        self.sync_before_change(state, to)?;
        let copied = self.backend().copy(self.name(), from, &sorted(uids), to)?;
        self.publish_added(state, to, &copied.added);
        Ok(copied)
    }

    /// Moves messages to `to` (RFC 6851): copies and expunges them as one
    /// transaction; returns the UID mapping.
    pub fn move_messages(
        &self,
        from: &MailboxName,
        uids: &[Uid],
        to: &MailboxName,
    ) -> Result<Copied, StoreError> {
        let mut state = self.lock();
        let entry = self.mailbox(from)?;
        self.move_locked(&mut state, &entry.to_ref(), uids, to)
    }

    pub(crate) fn move_locked(
        &self,
        state: &mut AccountState,
        from: &MailboxRef,
        uids: &[Uid],
        to: &MailboxName,
    ) -> Result<Copied, StoreError> {
        self.sync_before_change(state, &from.name)?;
        self.sync_before_change(state, to)?;
        let moved = self
            .backend()
            .move_messages(self.name(), from, &sorted(uids), to)?;
        self.publish_added(state, to, &moved.copied.added);
        self.publish_expunged(state, &from.name, &moved.expunged);
        Ok(moved.copied)
    }

    /// Changes flags (STORE).
    pub fn store_flags(&self, name: &MailboxName, request: &StoreFlags) -> Result<FlagsStored, StoreError> {
        let mut state = self.lock();
        let entry = self.mailbox(name)?;
        self.store_flags_locked(&mut state, &entry.to_ref(), request)
    }

    pub(crate) fn store_flags_locked(
        &self,
        state: &mut AccountState,
        mailbox: &MailboxRef,
        request: &StoreFlags,
    ) -> Result<FlagsStored, StoreError> {
        self.check_flags(&request.flags)?;
        let mut request = request.clone();
        request.uids = sorted(&request.uids);
        self.sync_before_change(state, &mailbox.name)?;
        let stored = self.backend().store_flags(self.name(), mailbox, &request)?;
        let limit = self.store.inner.config.max_pending_changes;
        if let Some(feed) = state.feeds.by_name_mut(&mailbox.name) {
            for update in &stored.updated {
                feed.publish(&Change::Flags(update.clone()), limit);
            }
        }
        Ok(stored)
    }

    /// Expunges the messages with `\Deleted`, all of them or only those
    /// among `uids` (UID EXPUNGE). Sessions learn of it through their
    /// changes, the session that asked included.
    pub fn expunge(&self, name: &MailboxName, uids: Option<&[Uid]>) -> Result<Expunged, StoreError> {
        let mut state = self.lock();
        let entry = self.mailbox(name)?;
        let request = ExpungeRequest {
            uids: uids.map(sorted),
            only_deleted: true,
        };
        self.expunge_locked(&mut state, &entry.to_ref(), &request)
    }

    pub(crate) fn expunge_locked(
        &self,
        state: &mut AccountState,
        mailbox: &MailboxRef,
        request: &ExpungeRequest,
    ) -> Result<Expunged, StoreError> {
        self.sync_before_change(state, &mailbox.name)?;
        let expunged = self.backend().expunge(self.name(), mailbox, request)?;
        self.publish_expunged(state, &mailbox.name, &expunged);
        Ok(expunged)
    }

    fn publish_added(&self, state: &mut AccountState, name: &MailboxName, added: &[MessageMeta]) {
        let limit = self.store.inner.config.max_pending_changes;
        if let Some(feed) = state.feeds.by_name_mut(name) {
            for meta in added {
                feed.publish(&Change::Added(meta.clone()), limit);
            }
        }
    }

    /// Tells the sessions of an expunge and drops the content no session
    /// needs.
    fn publish_expunged(&self, state: &mut AccountState, name: &MailboxName, expunged: &Expunged) {
        let Some(modseq) = expunged.modseq else { return };
        let limit = self.store.inner.config.max_pending_changes;
        let (free, uid_validity) = match state.feeds.by_name_mut(name) {
            Some(feed) => {
                let free: Vec<Uid> = expunged
                    .uids
                    .iter()
                    .filter(|&&uid| feed.publish(&Change::Expunged(Tombstone { uid, modseq }), limit))
                    .copied()
                    .collect();
                (free, Some(feed.uid_validity))
            }
            None => (expunged.uids.clone(), None),
        };
        let uid_validity = match uid_validity {
            Some(v) => v,
            None => match self.backend().mailbox(self.name(), name) {
                Ok(entry) => entry.uid_validity,
                Err(_) => return,
            },
        };
        self.purge(name, uid_validity, &free);
    }

    /// Drops kept content (with the account state locked, like every
    /// change). A failure only delays it: the backend drops kept content
    /// when it is opened again.
    pub(crate) fn purge(&self, name: &MailboxName, uid_validity: UidValidity, uids: &[Uid]) {
        if uids.is_empty() {
            return;
        }
        let mailbox = MailboxRef {
            name: name.clone(),
            uid_validity,
        };
        let _ = self.backend().purge(self.name(), &mailbox, uids);
    }

    /// Before this instance changes a mailbox that sessions have open, it
    /// takes in what other processes changed there first, so that sessions
    /// hear of changes in the order they happened (an external delivery
    /// before this instance's own append, whose UID is higher).
    fn sync_before_change(&self, state: &mut AccountState, name: &MailboxName) -> Result<(), StoreError> {
        let Some(feed) = state.feeds.id_by_name(name) else {
            return Ok(());
        };
        match self.sync_locked(state, feed) {
            // The feed is of a mailbox deleted behind the store's back (its
            // sessions not yet told): one of that name made since is
            // another, which the change is for. The stale feed gives the
            // name up (its sessions learn of the deletion at their next
            // look); before, every change to the new mailbox failed until
            // they did.
            Err(StoreError::MailboxGone(_)) if self.backend().mailbox(self.name(), name).is_ok() => {
                state.feeds.forget_name(name, feed);
                Ok(())
            }
            other => other,
        }
    }

    /// Takes in the changes other processes made to a mailbox and passes
    /// them to its sessions (with the account state locked).
    pub(crate) fn sync_locked(&self, state: &mut AccountState, feed: FeedId) -> Result<(), StoreError> {
        let Some(f) = state.feeds.get(feed) else {
            return Ok(());
        };
        let mailbox = MailboxRef {
            name: f.name.clone(),
            uid_validity: f.uid_validity,
        };
        let changes = self.backend().sync(self.name(), &mailbox)?;
        let limit = self.store.inner.config.max_pending_changes;
        let mut free = Vec::new();
        if let Some(f) = state.feeds.get_mut(feed) {
            for change in changes {
                let change = match change {
                    ExternalChange::Added(m) => Change::Added(m),
                    ExternalChange::Flags(u) => Change::Flags(u),
                    ExternalChange::Expunged(t) => Change::Expunged(t),
                };
                if f.publish(&change, limit) {
                    if let Change::Expunged(t) = change {
                        free.push(t.uid);
                    }
                }
            }
        }
        self.purge(&mailbox.name, mailbox.uid_validity, &free);
        Ok(())
    }

    /// Removes a session from a feed, releasing what it held.
    pub(crate) fn unregister(&self, feed: FeedId, session: SessionId, held: Vec<Uid>) {
        let mut state = self.lock();
        if state.pop3_lock == Some(session) {
            state.pop3_lock = None;
        }
        let Some(f) = state.feeds.get_mut(feed) else {
            return;
        };
        let free = f.unregister(session, held);
        let (name, uid_validity) = (f.name.clone(), f.uid_validity);
        state.feeds.close_if_idle(feed);
        self.purge(&name, uid_validity, &free);
        drop(state);
    }

    /// A session lets go of expunged messages it has reported.
    pub(crate) fn release(&self, feed: FeedId, uids: Vec<Uid>) {
        if uids.is_empty() {
            return;
        }
        let mut state = self.lock();
        let Some(f) = state.feeds.get_mut(feed) else {
            return;
        };
        let free = f.release(uids);
        let (name, uid_validity) = (f.name.clone(), f.uid_validity);
        self.purge(&name, uid_validity, &free);
        drop(state);
    }
}

/// The UIDs ascending, without repeats.
fn sorted(uids: &[Uid]) -> Vec<Uid> {
    let mut out = uids.to_vec();
    out.sort_unstable();
    out.dedup();
    out
}

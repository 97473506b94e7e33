//! A backend that fails on demand and records what the store tells it to
//! forget, shared through `#[path]` by the tests of the views
//! (`pop3_view`, `imap_view`) and of the store.

#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use mailwire_mailbox::{
    AccountName, Appended, Backend, Copied, ExpungeRequest, Expunged, ExternalChange, FlagsStored,
    MailboxEntry, MailboxName, MailboxRef, MailboxSnapshot, MemoryBackend, ModSeq, Moved, NewMessage,
    SpecialUse, StoreError, StoreFlags, Tombstone, Uid,
};

/// A [`MemoryBackend`] that can be told to fail some operations with a
/// temporary error, as a full disk or a failing device would.
#[derive(Default)]
pub struct Flaky {
    pub inner: MemoryBackend,
    /// Expunges fail (a POP3 QUIT whose deletions cannot be made).
    pub fail_expunge: Arc<AtomicBool>,
    /// Claims of `\Recent` fail (a read-write SELECT that cannot record
    /// which messages it showed as recent).
    pub fail_claim_recent: Arc<AtomicBool>,
    /// Snapshots fail (a folder whose lock another process holds).
    pub fail_snapshot: Arc<AtomicBool>,
    /// The accounts the store told the backend to forget, in order.
    pub released: Arc<Mutex<Vec<AccountName>>>,
}

impl Backend for Flaky {
    fn create_account(&self, a: &AccountName) -> Result<(), StoreError> {
        self.inner.create_account(a)
    }
    fn account_exists(&self, a: &AccountName) -> Result<bool, StoreError> {
        self.inner.account_exists(a)
    }
    fn list_mailboxes(&self, a: &AccountName) -> Result<Vec<MailboxEntry>, StoreError> {
        self.inner.list_mailboxes(a)
    }
    fn create_mailbox(
        &self,
        a: &AccountName,
        n: &MailboxName,
        s: &[SpecialUse],
    ) -> Result<MailboxEntry, StoreError> {
        self.inner.create_mailbox(a, n, s)
    }
    fn delete_mailbox(&self, a: &AccountName, m: &MailboxRef) -> Result<(), StoreError> {
        self.inner.delete_mailbox(a, m)
    }
    fn rename_mailbox(
        &self,
        a: &AccountName,
        f: &MailboxRef,
        t: &MailboxName,
    ) -> Result<Vec<(MailboxName, MailboxName)>, StoreError> {
        self.inner.rename_mailbox(a, f, t)
    }
    fn subscriptions(&self, a: &AccountName) -> Result<Vec<MailboxName>, StoreError> {
        self.inner.subscriptions(a)
    }
    fn set_subscribed(&self, a: &AccountName, n: &MailboxName, s: bool) -> Result<(), StoreError> {
        self.inner.set_subscribed(a, n, s)
    }
    fn mailbox_snapshot(&self, a: &AccountName, n: &MailboxName) -> Result<MailboxSnapshot, StoreError> {
        if self.fail_snapshot.load(Ordering::SeqCst) {
            return Err(StoreError::Temporary("folder locked".into()));
        }
        self.inner.mailbox_snapshot(a, n)
    }
    fn append(
        &self,
        a: &AccountName,
        m: &MailboxName,
        msgs: Vec<NewMessage>,
    ) -> Result<Appended, StoreError> {
        self.inner.append(a, m, msgs)
    }
    fn copy(
        &self,
        a: &AccountName,
        f: &MailboxRef,
        u: &[Uid],
        t: &MailboxName,
    ) -> Result<Copied, StoreError> {
        self.inner.copy(a, f, u, t)
    }
    fn move_messages(
        &self,
        a: &AccountName,
        f: &MailboxRef,
        u: &[Uid],
        t: &MailboxName,
    ) -> Result<Moved, StoreError> {
        self.inner.move_messages(a, f, u, t)
    }
    fn store_flags(
        &self,
        a: &AccountName,
        m: &MailboxRef,
        r: &StoreFlags,
    ) -> Result<FlagsStored, StoreError> {
        self.inner.store_flags(a, m, r)
    }
    fn expunge(&self, a: &AccountName, m: &MailboxRef, r: &ExpungeRequest) -> Result<Expunged, StoreError> {
        if self.fail_expunge.load(Ordering::SeqCst) {
            return Err(StoreError::Temporary("disk full".into()));
        }
        self.inner.expunge(a, m, r)
    }
    fn purge(&self, a: &AccountName, m: &MailboxRef, u: &[Uid]) -> Result<(), StoreError> {
        self.inner.purge(a, m, u)
    }
    fn kept_size(&self, a: &AccountName, m: &MailboxRef) -> Result<u64, StoreError> {
        self.inner.kept_size(a, m)
    }
    fn tombstones(&self, a: &AccountName, m: &MailboxRef, s: ModSeq) -> Result<Vec<Tombstone>, StoreError> {
        self.inner.tombstones(a, m, s)
    }
    fn read_message(&self, a: &AccountName, m: &MailboxRef, u: Uid) -> Result<Bytes, StoreError> {
        self.inner.read_message(a, m, u)
    }
    fn claim_recent(&self, a: &AccountName, m: &MailboxRef, u: Uid) -> Result<Uid, StoreError> {
        if self.fail_claim_recent.load(Ordering::SeqCst) {
            return Err(StoreError::Temporary("disk full".into()));
        }
        self.inner.claim_recent(a, m, u)
    }
    fn sync(&self, a: &AccountName, m: &MailboxRef) -> Result<Vec<ExternalChange>, StoreError> {
        self.inner.sync(a, m)
    }
    fn release_account(&self, a: &AccountName) {
        self.released.lock().unwrap().push(a.clone());
        self.inner.release_account(a);
    }
}

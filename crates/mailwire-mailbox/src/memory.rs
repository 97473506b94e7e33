//! The in-memory backend: the embedded default for tests and demos.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use bytes::Bytes;

use crate::backend::{
    Appended, Backend, Copied, ExpungeRequest, Expunged, ExternalChange, FlagUpdate, FlagsStored,
    MailboxEntry, MailboxSnapshot, MessageMeta, Moved, NewMessage, StoreCondition, StoreFlags, Tombstone,
};
use crate::types::{
    AccountName, InternalDate, MailboxName, MailboxRef, ModSeq, SpecialUse, StoreError, Uid, UidValidity,
};

/// The highest UID ever assigned: `u32::MAX` stays free so that UIDNEXT
/// always fits in a UID.
const LAST_UID: u32 = u32::MAX - 1;

#[derive(Debug)]
struct MemMessage {
    meta: MessageMeta,
    content: Bytes,
}

#[derive(Debug)]
struct MemMailbox {
    uid_validity: UidValidity,
    /// The next UID to assign (at most `u32::MAX`).
    uid_next: Uid,
    highest_modseq: ModSeq,
    first_recent_uid: Uid,
    special_use: Vec<SpecialUse>,
    messages: BTreeMap<Uid, MemMessage>,
    tombstones: Vec<Tombstone>,
    /// Content of expunged messages, until purged.
    kept: HashMap<Uid, Bytes>,
}

impl MemMailbox {
    fn entry(&self, name: &MailboxName) -> MailboxEntry {
        MailboxEntry {
            name: name.clone(),
            uid_validity: self.uid_validity,
            special_use: self.special_use.clone(),
        }
    }

    /// The UIDs for `count` new messages, or a limit error.
    fn reserve_uids(&self, count: usize) -> Result<(), StoreError> {
        let last = u64::from(self.uid_next.get()) + count as u64;
        if count > 0 && last - 1 > u64::from(LAST_UID) {
            return Err(StoreError::Limit("no UID left in this mailbox"));
        }
        Ok(())
    }

    /// Adds a message with the next UID (reserved beforehand).
    fn add(&mut self, mut meta: MessageMeta, content: Bytes, modseq: ModSeq) -> MessageMeta {
        let uid = self.uid_next;
        self.uid_next = uid.next().unwrap_or(uid);
        meta.uid = uid;
        meta.modseq = modseq;
        meta.save_date = InternalDate::now().unix_seconds;
        self.messages.insert(
            uid,
            MemMessage {
                meta: meta.clone(),
                content,
            },
        );
        self.highest_modseq = modseq;
        meta
    }

    /// Expunges the given UIDs (which exist), keeping their content.
    fn remove(&mut self, uids: &[Uid], modseq: ModSeq) {
        for uid in uids {
            if let Some(m) = self.messages.remove(uid) {
                self.kept.insert(*uid, m.content);
                self.tombstones.push(Tombstone { uid: *uid, modseq });
            }
        }
        if !uids.is_empty() {
            self.highest_modseq = modseq;
        }
    }
}

#[derive(Debug)]
struct MemAccount {
    /// The last UIDVALIDITY given out.
    last_uid_validity: u32,
    /// The last MODSEQ given out.
    last_modseq: u64,
    mailboxes: BTreeMap<MailboxName, MemMailbox>,
    subscriptions: BTreeSet<MailboxName>,
}

impl MemAccount {
    fn next_modseq(&mut self) -> Result<ModSeq, StoreError> {
        let next = self
            .last_modseq
            .checked_add(1)
            .and_then(ModSeq::new)
            .ok_or(StoreError::Limit("MODSEQ space exhausted"))?;
        self.last_modseq = next.get();
        Ok(next)
    }

    /// Creates a mailbox (the name must be free).
    fn create(&mut self, name: &MailboxName, special_use: &[SpecialUse]) -> Result<MailboxEntry, StoreError> {
        if self.mailboxes.contains_key(name) {
            return Err(StoreError::MailboxExists(name.clone()));
        }
        let mut special_use = special_use.to_vec();
        special_use.sort();
        special_use.dedup();
        // Take both numbers before changing anything.
        let uid_validity = self
            .last_uid_validity
            .checked_add(1)
            .and_then(UidValidity::new)
            .ok_or(StoreError::Limit("UIDVALIDITY space exhausted"))?;
        let modseq = self
            .last_modseq
            .checked_add(1)
            .and_then(ModSeq::new)
            .ok_or(StoreError::Limit("MODSEQ space exhausted"))?;
        self.last_uid_validity = uid_validity.get();
        self.last_modseq = modseq.get();
        let mailbox = MemMailbox {
            uid_validity,
            uid_next: Uid::MIN,
            highest_modseq: modseq,
            first_recent_uid: Uid::MIN,
            special_use,
            messages: BTreeMap::new(),
            tombstones: Vec::new(),
            kept: HashMap::new(),
        };
        let entry = mailbox.entry(name);
        self.mailboxes.insert(name.clone(), mailbox);
        Ok(entry)
    }

    fn by_name(&self, name: &MailboxName) -> Result<&MemMailbox, StoreError> {
        self.mailboxes
            .get(name)
            .ok_or_else(|| StoreError::NoSuchMailbox(name.clone()))
    }

    fn by_name_mut(&mut self, name: &MailboxName) -> Result<&mut MemMailbox, StoreError> {
        self.mailboxes
            .get_mut(name)
            .ok_or_else(|| StoreError::NoSuchMailbox(name.clone()))
    }

    fn by_ref(&self, mailbox: &MailboxRef) -> Result<&MemMailbox, StoreError> {
        let found = self.by_name(&mailbox.name)?;
        if found.uid_validity != mailbox.uid_validity {
            return Err(StoreError::MailboxGone(mailbox.name.clone()));
        }
        Ok(found)
    }

    fn by_ref_mut(&mut self, mailbox: &MailboxRef) -> Result<&mut MemMailbox, StoreError> {
        self.by_ref(mailbox)?;
        self.by_name_mut(&mailbox.name)
    }

    /// Copies the existing messages among `uids` from `from` to `to` and,
    /// for a move, expunges them from `from`, all with one MODSEQ.
    fn transfer(
        &mut self,
        from: &MailboxRef,
        uids: &[Uid],
        to: &MailboxName,
        expunge: bool,
    ) -> Result<(Copied, Expunged), StoreError> {
        let source = self.by_ref(from)?;
        let picked: Vec<(MessageMeta, Bytes)> = uids
            .iter()
            .filter_map(|uid| source.messages.get(uid))
            .map(|m| (m.meta.clone(), m.content.clone()))
            .collect();
        let target = self.by_name(to)?;
        target.reserve_uids(picked.len())?;
        let uid_validity = target.uid_validity;
        if picked.is_empty() {
            let copied = Copied {
                uid_validity,
                mapping: Vec::new(),
                added: Vec::new(),
            };
            return Ok((copied, Expunged::default()));
        }
        let modseq = self.next_modseq()?;
        let moved: Vec<Uid> = picked.iter().map(|(m, _)| m.uid).collect();
        if expunge {
            self.by_name_mut(&from.name)?.remove(&moved, modseq);
        }
        let target = self.by_name_mut(to)?;
        let mut mapping = Vec::with_capacity(picked.len());
        let mut added = Vec::with_capacity(picked.len());
        for (meta, content) in picked {
            let old = meta.uid;
            let new = target.add(meta, content, modseq);
            mapping.push((old, new.uid));
            added.push(new);
        }
        let copied = Copied {
            uid_validity,
            mapping,
            added,
        };
        let expunged = if expunge {
            Expunged {
                modseq: Some(modseq),
                uids: moved,
            }
        } else {
            Expunged::default()
        };
        Ok((copied, expunged))
    }
}

#[derive(Debug, Default)]
struct MemState {
    accounts: HashMap<AccountName, MemAccount>,
}

impl MemState {
    fn account(&self, account: &AccountName) -> Result<&MemAccount, StoreError> {
        self.accounts
            .get(account)
            .ok_or_else(|| StoreError::NoSuchAccount(account.clone()))
    }

    fn account_mut(&mut self, account: &AccountName) -> Result<&mut MemAccount, StoreError> {
        self.accounts
            .get_mut(account)
            .ok_or_else(|| StoreError::NoSuchAccount(account.clone()))
    }
}

/// A [`Backend`] that keeps everything in memory, behind one lock. Nothing
/// survives the process; no other process shares it, so
/// [`sync`](Backend::sync) reports nothing.
#[derive(Debug)]
pub struct MemoryBackend {
    state: RwLock<MemState>,
    first_uid_validity: u32,
}

impl Default for MemoryBackend {
    fn default() -> Self {
        MemoryBackend::new()
    }
}

impl MemoryBackend {
    /// An empty backend whose accounts number UIDVALIDITY from 1.
    pub fn new() -> MemoryBackend {
        MemoryBackend::with_first_uid_validity(UidValidity::new(1).unwrap_or_else(|| unreachable!()))
    }

    /// An empty backend whose accounts number UIDVALIDITY from `first` (a
    /// server restarted with an empty memory store should start above the
    /// values it gave out before, e.g. from the current time).
    pub fn with_first_uid_validity(first: UidValidity) -> MemoryBackend {
        MemoryBackend {
            state: RwLock::new(MemState::default()),
            first_uid_validity: first.get(),
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, MemState> {
        // Every change is checked before anything is modified, so a panic
        // elsewhere cannot leave half a change behind.
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, MemState> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }
}

impl Backend for MemoryBackend {
    fn create_account(&self, account: &AccountName) -> Result<(), StoreError> {
        let mut state = self.write();
        if state.accounts.contains_key(account) {
            return Err(StoreError::AccountExists(account.clone()));
        }
        let mut acc = MemAccount {
            last_uid_validity: self.first_uid_validity - 1,
            last_modseq: 0,
            mailboxes: BTreeMap::new(),
            subscriptions: BTreeSet::new(),
        };
        acc.create(&MailboxName::inbox(), &[])?;
        state.accounts.insert(account.clone(), acc);
        Ok(())
    }

    fn account_exists(&self, account: &AccountName) -> Result<bool, StoreError> {
        Ok(self.read().accounts.contains_key(account))
    }

    fn list_mailboxes(&self, account: &AccountName) -> Result<Vec<MailboxEntry>, StoreError> {
        let state = self.read();
        let acc = state.account(account)?;
        Ok(acc.mailboxes.iter().map(|(n, m)| m.entry(n)).collect())
    }

    fn mailbox(&self, account: &AccountName, name: &MailboxName) -> Result<MailboxEntry, StoreError> {
        let state = self.read();
        Ok(state.account(account)?.by_name(name)?.entry(name))
    }

    fn create_mailbox(
        &self,
        account: &AccountName,
        name: &MailboxName,
        special_use: &[SpecialUse],
    ) -> Result<MailboxEntry, StoreError> {
        self.write().account_mut(account)?.create(name, special_use)
    }

    fn delete_mailbox(&self, account: &AccountName, mailbox: &MailboxRef) -> Result<(), StoreError> {
        let mut state = self.write();
        let acc = state.account_mut(account)?;
        acc.by_ref(mailbox)?;
        acc.mailboxes.remove(&mailbox.name);
        Ok(())
    }

    fn rename_mailbox(
        &self,
        account: &AccountName,
        from: &MailboxRef,
        to: &MailboxName,
    ) -> Result<Vec<(MailboxName, MailboxName)>, StoreError> {
        let mut state = self.write();
        let acc = state.account_mut(account)?;
        acc.by_ref(from)?;
        if to == &from.name || to.is_inferior_of(&from.name) {
            return Err(StoreError::NotAllowed("cannot rename a mailbox into itself"));
        }
        let mut pairs = Vec::new();
        for name in acc.mailboxes.keys() {
            if name == &from.name || name.is_inferior_of(&from.name) {
                let new = name
                    .rebase(&from.name, to)
                    .ok_or(StoreError::Limit("renamed name too long or too deep"))?;
                if acc.mailboxes.contains_key(&new) {
                    return Err(StoreError::MailboxExists(new));
                }
                pairs.push((name.clone(), new));
            }
        }
        // The mailbox itself first, then its inferiors in name order.
        pairs.sort_by_key(|(old, _)| old != &from.name);
        let moved: Vec<_> = pairs
            .iter()
            .filter_map(|(old, new)| acc.mailboxes.remove(old).map(|m| (new.clone(), m)))
            .collect();
        acc.mailboxes.extend(moved);
        Ok(pairs)
    }

    fn subscriptions(&self, account: &AccountName) -> Result<Vec<MailboxName>, StoreError> {
        Ok(self
            .read()
            .account(account)?
            .subscriptions
            .iter()
            .cloned()
            .collect())
    }

    fn set_subscribed(
        &self,
        account: &AccountName,
        name: &MailboxName,
        subscribed: bool,
    ) -> Result<(), StoreError> {
        let mut state = self.write();
        let subs = &mut state.account_mut(account)?.subscriptions;
        if subscribed {
            subs.insert(name.clone());
        } else {
            subs.remove(name);
        }
        Ok(())
    }

    fn mailbox_snapshot(
        &self,
        account: &AccountName,
        name: &MailboxName,
    ) -> Result<MailboxSnapshot, StoreError> {
        let state = self.read();
        let mb = state.account(account)?.by_name(name)?;
        Ok(MailboxSnapshot {
            uid_validity: mb.uid_validity,
            uid_next: mb.uid_next,
            highest_modseq: mb.highest_modseq,
            first_recent_uid: mb.first_recent_uid,
            messages: mb.messages.values().map(|m| m.meta.clone()).collect(),
        })
    }

    fn append(
        &self,
        account: &AccountName,
        mailbox: &MailboxName,
        messages: Vec<NewMessage>,
    ) -> Result<Appended, StoreError> {
        let mut state = self.write();
        let acc = state.account_mut(account)?;
        let mb = acc.by_name(mailbox)?;
        mb.reserve_uids(messages.len())?;
        let uid_validity = mb.uid_validity;
        if messages.is_empty() {
            return Ok(Appended {
                uid_validity,
                messages: Vec::new(),
            });
        }
        let modseq = acc.next_modseq()?;
        let mb = acc.by_name_mut(mailbox)?;
        let added = messages
            .into_iter()
            .map(|m| {
                let meta = MessageMeta {
                    uid: Uid::MIN,
                    flags: m.flags,
                    internal_date: m.internal_date,
                    size: m.content.len() as u64,
                    modseq,
                    save_date: 0,
                };
                mb.add(meta, m.content, modseq)
            })
            .collect();
        Ok(Appended {
            uid_validity,
            messages: added,
        })
    }

    fn copy(
        &self,
        account: &AccountName,
        from: &MailboxRef,
        uids: &[Uid],
        to: &MailboxName,
    ) -> Result<Copied, StoreError> {
        let mut state = self.write();
        let (copied, _) = state.account_mut(account)?.transfer(from, uids, to, false)?;
        Ok(copied)
    }

    fn move_messages(
        &self,
        account: &AccountName,
        from: &MailboxRef,
        uids: &[Uid],
        to: &MailboxName,
    ) -> Result<Moved, StoreError> {
        let mut state = self.write();
        let (copied, expunged) = state.account_mut(account)?.transfer(from, uids, to, true)?;
        Ok(Moved { copied, expunged })
    }

    fn store_flags(
        &self,
        account: &AccountName,
        mailbox: &MailboxRef,
        request: &StoreFlags,
    ) -> Result<FlagsStored, StoreError> {
        let mut state = self.write();
        let acc = state.account_mut(account)?;
        let mb = acc.by_ref(mailbox)?;
        let mut out = FlagsStored::default();
        let mut changes = Vec::new();
        for uid in &request.uids {
            let Some(m) = mb.messages.get(uid) else { continue };
            if let Some(StoreCondition::UnchangedSince(limit)) = request.condition {
                if m.meta.modseq > limit {
                    out.failed.push(*uid);
                    continue;
                }
            }
            let flags = m.meta.flags.apply(request.action, &request.flags);
            if flags != m.meta.flags {
                changes.push((*uid, flags));
            }
        }
        if changes.is_empty() {
            return Ok(out);
        }
        let modseq = acc.next_modseq()?;
        let mb = acc.by_ref_mut(mailbox)?;
        for (uid, flags) in changes {
            if let Some(m) = mb.messages.get_mut(&uid) {
                m.meta.flags = flags.clone();
                m.meta.modseq = modseq;
                out.updated.push(FlagUpdate { uid, flags, modseq });
            }
        }
        mb.highest_modseq = modseq;
        Ok(out)
    }

    fn expunge(
        &self,
        account: &AccountName,
        mailbox: &MailboxRef,
        request: &ExpungeRequest,
    ) -> Result<Expunged, StoreError> {
        let mut state = self.write();
        let acc = state.account_mut(account)?;
        let mb = acc.by_ref(mailbox)?;
        let wanted = |m: &MemMessage| !request.only_deleted || m.meta.flags.is_deleted();
        let uids: Vec<Uid> = match &request.uids {
            Some(list) => {
                let mut list: Vec<Uid> = list
                    .iter()
                    .filter(|u| mb.messages.get(u).is_some_and(wanted))
                    .copied()
                    .collect();
                list.sort_unstable();
                list.dedup();
                list
            }
            None => mb
                .messages
                .values()
                .filter(|m| wanted(m))
                .map(|m| m.meta.uid)
                .collect(),
        };
        if uids.is_empty() {
            return Ok(Expunged::default());
        }
        let modseq = acc.next_modseq()?;
        acc.by_ref_mut(mailbox)?.remove(&uids, modseq);
        Ok(Expunged {
            modseq: Some(modseq),
            uids,
        })
    }

    fn purge(&self, account: &AccountName, mailbox: &MailboxRef, uids: &[Uid]) -> Result<(), StoreError> {
        let mut state = self.write();
        let mb = state.account_mut(account)?.by_ref_mut(mailbox)?;
        for uid in uids {
            mb.kept.remove(uid);
        }
        Ok(())
    }

    fn kept_size(&self, account: &AccountName, mailbox: &MailboxRef) -> Result<u64, StoreError> {
        let state = self.read();
        let mb = state.account(account)?.by_ref(mailbox)?;
        Ok(mb.kept.values().map(|c| c.len() as u64).sum())
    }

    fn tombstones(
        &self,
        account: &AccountName,
        mailbox: &MailboxRef,
        since: ModSeq,
    ) -> Result<Vec<Tombstone>, StoreError> {
        let state = self.read();
        let mb = state.account(account)?.by_ref(mailbox)?;
        let mut out: Vec<Tombstone> = mb
            .tombstones
            .iter()
            .filter(|t| t.modseq > since)
            .copied()
            .collect();
        out.sort_unstable_by_key(|t| t.uid);
        Ok(out)
    }

    fn read_message(
        &self,
        account: &AccountName,
        mailbox: &MailboxRef,
        uid: Uid,
    ) -> Result<Bytes, StoreError> {
        let state = self.read();
        let mb = state.account(account)?.by_ref(mailbox)?;
        match mb.messages.get(&uid) {
            Some(m) => Ok(m.content.clone()),
            None => mb.kept.get(&uid).cloned().ok_or(StoreError::NoSuchMessage(uid)),
        }
    }

    fn claim_recent(
        &self,
        account: &AccountName,
        mailbox: &MailboxRef,
        up_to: Uid,
    ) -> Result<Uid, StoreError> {
        let mut state = self.write();
        let mb = state.account_mut(account)?.by_ref_mut(mailbox)?;
        let before = mb.first_recent_uid;
        mb.first_recent_uid = before.max(up_to);
        Ok(before)
    }

    fn sync(&self, account: &AccountName, mailbox: &MailboxRef) -> Result<Vec<ExternalChange>, StoreError> {
        self.read().account(account)?.by_ref(mailbox)?;
        Ok(Vec::new())
    }
}

//! The Maildir backend: accounts as Maildir++ directories that Dovecot
//! (and other Maildir software) can serve at the same time, with the same
//! UIDs, UIDVALIDITY, flags and keywords.
//!
//! # Files
//!
//! An account is `<root>/<account>/Maildir` (see [`MaildirOptions`]). In it:
//!
//! | file | owner | content |
//! |---|---|---|
//! | `cur/ new/ tmp/` | Maildir | INBOX's messages |
//! | `.a.b/` | Maildir++ | the mailbox `a/b` (with `cur/ new/ tmp/`, `maildirfolder`) |
//! | `dovecot-uidlist` | Dovecot | UIDVALIDITY, next UID, UID of each file ([`uidlist`]) |
//! | `dovecot-keywords` | Dovecot | keyword letters ([`keywords`]) |
//! | `dovecot-uidvalidity[.<hex>]` | Dovecot | the account's UIDVALIDITY counter |
//! | `subscriptions` | Dovecot | subscribed names ([`subs`]) |
//! | `mailwire-state` | mailwire | the account's MODSEQ and UIDVALIDITY counters ([`state`]) |
//! | `mailwire-modseq` | mailwire | per folder: MODSEQs, dates, sizes, tombstones ([`journal`]) |
//! | `mailwire-expunged/<instance>/` | mailwire | per folder: content of expunged messages until purged |
//! | `mailwire-tmp/` | mailwire | folders being created or deleted |
//!
//! Dovecot ignores the `mailwire-*` names (they do not start with a dot).
//!
//! # Locks
//!
//! Every change to a folder's messages happens under its
//! `dovecot-uidlist.lock` dotlock, which Dovecot takes too ([`lock`]);
//! changes of the account's counters and of its set of mailboxes happen
//! under an `flock` of `mailwire-state` ([`state`]), always taken after
//! folder locks (folder locks in path order). Inside a process, one mutex
//! per account comes first.
//!
//! # Writes
//!
//! A new message is written to `tmp/`, flushed and renamed into `new/`
//! (no flags) or `cur/` (`:2,<flags>`); then the directory is flushed,
//! its record appended to `dovecot-uidlist` and its MODSEQ to
//! `mailwire-modseq`, each flushed. A flag change renames the file; an
//! expunge renames it into this instance's `mailwire-expunged/` directory,
//! where its content stays readable until [`purge`](Backend::purge) (or
//! until the backend is dropped; after a crash, the next instance that
//! opens the folder removes directories of instances that no longer run).
//! A crash between these steps leaves each message whole: a file without
//! its records is taken in as a new message by the next reconciliation (a
//! new UID if the uidlist lacked it), a renamed file as a flag change, a
//! vanished file as an expunge. A call with several messages may be cut
//! short by a crash after some of them (each is then whole); a crashed
//! move may leave the message in both mailboxes.
//!
//! A full disk refuses what needs room (a new message, a copy) and nothing
//! that frees it: reading a folder and logging in need no room, and an
//! expunge or a flag change whose journal lines find none is made all the
//! same (the files are what every reader goes by), its lines written with
//! the next write (for an expunge, once purging its content freed space),
//! or, failing that, the files recorded by the next reconciliation with a
//! new MODSEQ. A flag change that fails otherwise puts the file names
//! back.
//!
//! Changes made by other programs are found by [`sync`](Backend::sync),
//! which compares the directories with the journal.
//!
//! # Symbolic links
//!
//! The account's Maildir itself may be a symbolic link (the operator's
//! choice); nothing below it is followed. A folder, or its `cur/`, `new/`
//! or `tmp/`, that is a link is not a folder; a message file that is a
//! link (or a FIFO, or anything but a regular file) is not a message; state
//! files are opened with `O_NOFOLLOW`, so a link planted in their place
//! makes the operation fail instead of reading or writing its target. A
//! user who can write to their own Maildir could otherwise reach another
//! user's mail, or a system file, through a server that serves every
//! account from one process. A user with a shell who swaps a directory for
//! a link while an operation runs can still race the checks; a server
//! that gives local users shell access to their Maildirs should run one
//! process per user, with that user's rights, as Dovecot does.

mod folder;
mod fsutil;
mod journal;
mod keywords;
mod layout;
mod lock;
mod state;
mod subs;
mod uidlist;

use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;

use self::folder::{Ctx, Folder, Loc};
pub(crate) use self::fsutil::io_err;
use self::journal::{Entry, Journal};
use self::lock::DotLock;
use self::state::Counters;
use self::uidlist::UidList;
use crate::backend::{
    Appended, Backend, Copied, ExpungeRequest, Expunged, ExternalChange, FlagsStored, MailboxEntry,
    MailboxSnapshot, Moved, NewMessage, StagedMessage, StoreCondition, StoreFlags, Tombstone,
};
use crate::flags::Flags;
use crate::ranges::UidRanges;
use crate::types::{
    AccountName, InternalDate, MailboxName, MailboxRef, ModSeq, SpecialUse, StoreError, Uid, UidValidity,
};

/// Where the Maildir backend keeps accounts, and how carefully it writes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MaildirOptions {
    /// Flush every change to disk before reporting it done (default). Turn
    /// off only for tests and throw-away data: a power failure may then
    /// lose acknowledged changes (a process crash still cannot).
    pub fsync: bool,
    /// With `fsync`, also flush flag changes and expunges before reporting
    /// them done (default). Dovecot's default (`fsync_mode = optimized`)
    /// does not, and neither does this when off: a power failure may then
    /// undo the last flag changes and expunges (the message files tell
    /// what is left, and the next look at the folder records it with a new
    /// MODSEQ), while new messages (content, UID, flags) and the MODSEQ
    /// counter stay flushed. A new message's journal line is not flushed
    /// either: lost, it is written again from the file (with a new MODSEQ,
    /// the INTERNALDATE's zone as UTC, the file's change time as its save
    /// date).
    pub flush_flag_changes: bool,
    /// The Maildir inside an account's directory: `Some("Maildir")`
    /// (default) gives `<root>/<account>/Maildir`, as Dovecot's
    /// `mail_location = maildir:<root>/%u/Maildir`; `None` gives
    /// `<root>/<account>`.
    pub subdir: Option<String>,
    /// The largest message file [`Backend::read_message`] reads whole into
    /// memory (default 256 MiB, the largest message a
    /// [`Store`](crate::Store) accepts by default); a larger one fails with
    /// [`StoreError::Limit`], and is read in pieces through
    /// [`Backend::open_message`] or [`Backend::message_file`]. Whoever can
    /// write to a Maildir can plant a sparse file that claims a tebibyte.
    pub max_read_whole: u64,
    /// The memory one account's folder state read from its files (the
    /// `dovecot-uidlist` and `mailwire-modseq` records) may take, all its
    /// folders together (default 1 GiB: some two million messages, at
    /// about 530 octets each). Once the other folders hold more than half
    /// of it, the largest of them forget what they read (and read their
    /// files again when next used), so an account whose folders do not fit
    /// together is served one folder at a time. A folder that does not fit
    /// in what is left (at least half of it) fails with
    /// [`StoreError::Limit`], and its files are left as they are: whoever
    /// can write to a Maildir can write a gibibyte of records a few octets
    /// long, which would take tens of gibibytes in the process that serves
    /// every user. What is counted is an estimate of the records' memory,
    /// not the directory listings (which cost the user disk space and
    /// inodes) nor message contents; while a changed file is read again,
    /// its old records, the new ones and the file's octets are held at
    /// once (up to three times this).
    pub state_memory: u64,
}

impl Default for MaildirOptions {
    fn default() -> Self {
        MaildirOptions {
            fsync: true,
            flush_flag_changes: true,
            subdir: Some("Maildir".into()),
            max_read_whole: 256 << 20,
            state_memory: 1 << 30,
        }
    }
}

impl MaildirOptions {
    /// The default options with `fsync` set.
    pub fn with_fsync(mut self, fsync: bool) -> MaildirOptions {
        self.fsync = fsync;
        self
    }

    /// The options with `flush_flag_changes` set.
    pub fn with_flag_changes_flushed(mut self, flush: bool) -> MaildirOptions {
        self.flush_flag_changes = flush;
        self
    }

    /// The default options with `subdir` set.
    pub fn with_subdir(mut self, subdir: Option<&str>) -> MaildirOptions {
        self.subdir = subdir.map(str::to_owned);
        self
    }

    /// The options with `max_read_whole` set.
    pub fn with_max_read_whole(mut self, octets: u64) -> MaildirOptions {
        self.max_read_whole = octets;
        self
    }

    /// The options with `state_memory` set.
    pub fn with_state_memory(mut self, octets: u64) -> MaildirOptions {
        self.state_memory = octets;
        self
    }
}

#[derive(Debug)]
struct Account {
    maildir: PathBuf,
    folders: HashMap<MailboxName, Folder>,
    cleaned: bool,
}

/// The memory folder `name`'s state may take of `total`: what an
/// account's other `folders` leave of it, once they hold at most half of
/// it. Past that, the largest of them forget what they read from their
/// files (they read them again when next used), unless a journal holds
/// lines a full disk kept from its file: an account whose folders do not
/// fit together is served one folder after another, while each fits.
fn allowance(folders: &mut HashMap<MailboxName, Folder>, name: &MailboxName, total: u64) -> u64 {
    let mut held: u64 = folders
        .iter()
        .filter(|(n, _)| *n != name)
        .map(|(_, f)| f.cost())
        .sum();
    if held > total / 2 {
        let mut largest: Vec<(u64, &mut Folder)> = folders
            .iter_mut()
            .filter(|(n, f)| *n != name && !f.journal.is_unsaved())
            .map(|(_, f)| (f.cost(), f))
            .collect();
        largest.sort_unstable_by_key(|(cost, _)| std::cmp::Reverse(*cost));
        for (cost, fold) in largest {
            if held <= total / 2 {
                break;
            }
            fold.invalidate();
            held = held.saturating_sub(cost);
        }
    }
    total.saturating_sub(held)
}

/// Folder `name` of an account's `folders`, with its allowance set (made
/// if not yet read).
fn folder_mut<'a>(
    folders: &'a mut HashMap<MailboxName, Folder>,
    name: &MailboxName,
    total: u64,
) -> &'a mut Folder {
    let allowance = allowance(folders, name, total);
    let fold = folders.entry(name.clone()).or_default();
    fold.allowance = Some(allowance);
    fold
}

impl Account {
    fn dir_of(&self, name: &MailboxName) -> PathBuf {
        if name.is_inbox() {
            self.maildir.clone()
        } else {
            self.maildir.join(layout::folder_dir_name(name))
        }
    }
}

/// A [`Backend`] on Maildir++ directories, shared with Dovecot and other
/// Maildir programs (see the `maildir` module's source documentation for the files,
/// locks and crash behaviour).
#[derive(Debug)]
pub struct MaildirBackend {
    root: PathBuf,
    options: MaildirOptions,
    instance: String,
    accounts: Mutex<HashMap<AccountName, Arc<Mutex<Account>>>>,
}

/// The reported outcome of moving messages between folders.
struct Transfer {
    copied: Copied,
    expunged: Expunged,
}

/// Whether `name`'s folder `dir` is a folder, in an account that
/// [`MaildirBackend::open`] found: INBOX is the Maildir itself, which it
/// checked (the same `lstat`s need not run twice per operation).
fn opened_folder(dir: &Path, name: &MailboxName) -> bool {
    name.is_inbox() || folder::is_folder(dir, false)
}

impl MaildirBackend {
    /// A backend whose accounts live under `root` (created if missing),
    /// with the default options.
    pub fn new(root: impl Into<PathBuf>) -> Result<MaildirBackend, StoreError> {
        MaildirBackend::with_options(root, MaildirOptions::default())
    }

    /// A backend whose accounts live under `root` (created if missing).
    pub fn with_options(
        root: impl Into<PathBuf>,
        options: MaildirOptions,
    ) -> Result<MaildirBackend, StoreError> {
        let root = root.into();
        fs::create_dir_all(&root).map_err(|e| io_err("create directory", &root, &e))?;
        let instance = folder::instance_name();
        folder::live_instances()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(instance.clone());
        Ok(MaildirBackend {
            root,
            options,
            instance,
            accounts: Mutex::new(HashMap::new()),
        })
    }

    /// The Maildir directory of an account (whether or not it exists).
    pub fn maildir_path(&self, account: &AccountName) -> PathBuf {
        let dir = self.root.join(layout::account_dir_name(account.as_str()));
        match &self.options.subdir {
            Some(sub) => dir.join(sub),
            None => dir,
        }
    }

    fn account(&self, account: &AccountName) -> Arc<Mutex<Account>> {
        let mut map = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
        let entry = map.entry(account.clone()).or_insert_with(|| {
            Arc::new(Mutex::new(Account {
                maildir: self.maildir_path(account),
                folders: HashMap::new(),
                cleaned: false,
            }))
        });
        Arc::clone(entry)
    }

    /// Locks an existing account.
    fn open<'a>(
        &self,
        name: &AccountName,
        acc: &'a Arc<Mutex<Account>>,
    ) -> Result<MutexGuard<'a, Account>, StoreError> {
        let mut guard = acc.lock().unwrap_or_else(|e| e.into_inner());
        if !folder::is_folder(&guard.maildir, true) {
            return Err(StoreError::NoSuchAccount(name.clone()));
        }
        if !guard.cleaned {
            guard.cleaned = true;
            clean_staging(&guard.maildir);
        }
        Ok(guard)
    }

    fn ctx<'a>(&'a self, dir: &'a Path, lock: Option<&'a DotLock>) -> Ctx<'a> {
        Ctx {
            dir,
            fsync: self.options.fsync,
            fsync_changes: self.options.fsync && self.options.flush_flag_changes,
            instance: &self.instance,
            lock,
        }
    }

    /// Runs `f` on a folder under its lock, after bringing it up to date
    /// (`full`: reconcile with the directories; else read the metadata) and
    /// checking the UIDVALIDITY against `expect`.
    fn with_folder<T>(
        &self,
        account: &AccountName,
        name: &MailboxName,
        expect: Option<UidValidity>,
        full: bool,
        f: impl FnOnce(&mut Folder, Ctx<'_>, &mut Counters<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let acc = self.account(account);
        let mut guard = self.open(account, &acc)?;
        self.with_folder_of(&mut guard, name, expect, full, f)
    }

    /// [`with_folder`](Self::with_folder) in an account already opened.
    fn with_folder_of<T>(
        &self,
        acc: &mut Account,
        name: &MailboxName,
        expect: Option<UidValidity>,
        full: bool,
        f: impl FnOnce(&mut Folder, Ctx<'_>, &mut Counters<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let dir = acc.dir_of(name);
        if !opened_folder(&dir, name) {
            acc.folders.remove(name);
            return Err(StoreError::NoSuchMailbox(name.clone()));
        }
        let lock = folder::lock_folder(&dir)?;
        let mut counters = Counters::new(&acc.maildir, self.options.fsync);
        let ctx = self.ctx(&dir, Some(&lock));
        let fold = folder_mut(&mut acc.folders, name, self.options.state_memory);
        if full || fold.unread() {
            fold.reconcile(ctx, &mut counters)?;
        } else {
            fold.refresh_meta(ctx, &mut counters)?;
        }
        check_validity(fold, name, expect)?;
        if fold.known.is_none() {
            fold.adopt()?;
        }
        f(fold, ctx, &mut counters)
    }

    /// Runs `f` on a folder's cached state without its lock, loading it
    /// under the lock first if this instance has not yet seen it.
    fn with_cached<T>(
        &self,
        account: &AccountName,
        name: &MailboxName,
        expect: Option<UidValidity>,
        f: impl FnOnce(&mut Folder, Ctx<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let acc = self.account(account);
        let mut guard = self.open(account, &acc)?;
        let acc = &mut *guard;
        let dir = acc.dir_of(name);
        if !opened_folder(&dir, name) {
            acc.folders.remove(name);
            return Err(StoreError::NoSuchMailbox(name.clone()));
        }
        let fold = folder_mut(&mut acc.folders, name, self.options.state_memory);
        let on_disk = if fold.uidlist.same_file(&dir.join("dovecot-uidlist")) {
            UidValidity::new(fold.uidlist.uid_validity)
        } else {
            folder::peek(&dir).map(|(v, _)| v)
        };
        let stale =
            fold.known.as_ref().map(|k| k.uid_validity) != on_disk || on_disk.is_none() || fold.unread();
        if stale {
            let lock = folder::lock_folder(&dir)?;
            let mut counters = Counters::new(&acc.maildir, self.options.fsync);
            fold.reconcile(self.ctx(&dir, Some(&lock)), &mut counters)?;
            if fold.known.as_ref().map(|k| k.uid_validity) != fold.uid_validity() {
                fold.known = None;
            }
            if fold.known.is_none() {
                fold.adopt()?;
            }
        }
        check_validity(fold, name, expect)?;
        f(fold, self.ctx(&dir, None))
    }

    /// Runs `f` on a folder as this instance holds it in memory (with the
    /// folder's directory), for the content it keeps of expunged messages,
    /// without reading the folder's files: dropping or counting that
    /// content needs none of them, and must not fail for a folder whose
    /// files cannot be read now (past the state allowance, or forgotten to
    /// make room for another), which would leave the content on disk, and
    /// counted against the quota, until the account is released. `None`
    /// when this instance keeps nothing of the folder under that
    /// UIDVALIDITY.
    fn with_kept<T>(
        &self,
        account: &AccountName,
        mailbox: &MailboxRef,
        f: impl FnOnce(&mut Folder, &Path) -> T,
    ) -> Result<Option<T>, StoreError> {
        let acc = self.account(account);
        let mut guard = self.open(account, &acc)?;
        let acc = &mut *guard;
        let dir = acc.dir_of(&mailbox.name);
        if !opened_folder(&dir, &mailbox.name) {
            return Ok(None);
        }
        Ok(acc
            .folders
            .get_mut(&mailbox.name)
            .filter(|fold| fold.known.as_ref().map(|k| k.uid_validity) == Some(mailbox.uid_validity))
            .map(|fold| f(fold, &dir)))
    }

    /// Copies (and for a move, expunges) messages between two folders of
    /// one account, or within one.
    fn transfer(
        &self,
        account: &AccountName,
        from: &MailboxRef,
        uids: &[Uid],
        to: &MailboxName,
        expunge: bool,
    ) -> Result<Transfer, StoreError> {
        let acc = self.account(account);
        let mut guard = self.open(account, &acc)?;
        let acc = &mut *guard;
        let (src_dir, dst_dir) = (acc.dir_of(&from.name), acc.dir_of(to));
        for (dir, name) in [(&src_dir, &from.name), (&dst_dir, to)] {
            if !opened_folder(dir, name) {
                return Err(StoreError::NoSuchMailbox(name.clone()));
            }
        }
        let same = src_dir == dst_dir;
        // Folder locks in path order, then the account lock (in Counters).
        let mut locks = Vec::with_capacity(2);
        let mut order = vec![&src_dir, &dst_dir];
        order.sort();
        order.dedup();
        for dir in &order {
            locks.push(folder::lock_folder(dir)?);
        }
        let lock_of = |dir: &PathBuf| order.iter().position(|d| *d == dir).map(|i| &locks[i]);
        let mut counters = Counters::new(&acc.maildir, self.options.fsync);
        let (sctx, dctx) = (
            self.ctx(&src_dir, lock_of(&src_dir)),
            self.ctx(&dst_dir, lock_of(&dst_dir)),
        );
        let mut src = acc.folders.remove(&from.name).unwrap_or_default();
        let mut dst = if same {
            None
        } else {
            Some(acc.folders.remove(to).unwrap_or_default())
        };
        // The two folders' allowances (both out of the map): what the
        // account's other folders leave, less what the other of the two
        // holds when each is read.
        let rest = allowance(&mut acc.folders, &from.name, self.options.state_memory);
        let result = (|| {
            let mut beside = dst.as_ref().map_or(0, Folder::cost);
            for (fold, ctx) in [(&mut src, sctx)]
                .into_iter()
                .chain(dst.as_mut().map(|d| (d, dctx)))
            {
                fold.allowance = Some(rest.saturating_sub(beside));
                if fold.unread() {
                    fold.reconcile(ctx, &mut counters)?;
                    if fold.known.is_none() {
                        fold.adopt()?;
                    }
                } else {
                    fold.refresh_meta(ctx, &mut counters)?;
                }
                beside = fold.cost();
            }
            check_validity(&src, &from.name, Some(from.uid_validity))?;
            let dst_v = dst.as_ref().unwrap_or(&src).uid_validity();
            let uid_validity = dst_v.ok_or_else(|| StoreError::NoSuchMailbox(to.clone()))?;
            // What to copy: present messages, ascending.
            let mut wanted: Vec<u32> = uids.iter().map(|u| u.get()).collect();
            wanted.sort_unstable();
            wanted.dedup();
            let mut picked: Vec<(u32, Loc, Entry, Flags)> = Vec::new();
            for uid in wanted {
                let known = src.knows(uid);
                let Some(e) = src.journal.live.get(&uid).cloned() else {
                    continue;
                };
                if !known {
                    continue;
                }
                let Some(loc) = src.locate(sctx.dir, uid)? else {
                    continue;
                };
                let flags = src.keywords.flags_of(loc.info());
                picked.push((uid, loc, e, flags));
            }
            let target = dst.as_mut().unwrap_or(&mut src);
            target.reserve(picked.len())?;
            if picked.is_empty() {
                let copied = Copied {
                    uid_validity,
                    mapping: Vec::new(),
                    added: Vec::new(),
                };
                return Ok(Transfer {
                    copied,
                    expunged: Expunged::default(),
                });
            }
            let flag_refs: Vec<&Flags> = picked.iter().map(|p| &p.3).collect();
            target.ensure_keywords(dctx, &flag_refs)?;
            let floor = src
                .journal
                .highest
                .max(dst.as_ref().map_or(0, |d| d.journal.highest));
            let m = counters.next_modseq(floor)?.get();
            let saved_now = InternalDate::now().unix_seconds;
            let target = dst.as_mut().unwrap_or(&mut src);
            let mut added = Vec::with_capacity(picked.len());
            let mut made = Vec::with_capacity(picked.len());
            for (_, loc, e, flags) in &picked {
                let old_base = layout::split_info(&loc.name).0;
                let base = layout::copy_base(old_base);
                let info = if same {
                    target.keywords.info_of(flags, loc.info())
                } else {
                    target.keywords.info_of_copy(flags, loc.info())
                };
                let new_loc = if info.is_empty() && !loc.cur {
                    Loc {
                        cur: false,
                        name: base,
                    }
                } else {
                    Loc {
                        cur: true,
                        name: format!("{base}:2,{info}"),
                    }
                };
                let dest = new_loc.path(dctx.dir);
                if let Err(err) = link_or_copy(&loc.path(sctx.dir), &dest, dctx) {
                    for p in &made {
                        let _ = fs::remove_file(p);
                    }
                    return Err(err);
                }
                made.push(dest);
                let entry = Entry {
                    modseq: m,
                    info,
                    saved: Some(saved_now),
                    ..e.clone()
                };
                added.push((new_loc, entry));
            }
            // Copies given no UID are not in the target: they go, as in
            // `commit_staged`, or the next reconciliation would add what
            // the client was told failed (and a retry would add it twice).
            let recorded = folder::sync_placed(dctx.dir, &added, dctx.fsync)
                .and_then(|()| target.record_added(dctx, added));
            let metas = match recorded {
                Ok(metas) => metas,
                Err(e) => {
                    abandon(target, &made);
                    return Err(e);
                }
            };
            let mapping: Vec<(Uid, Uid)> = picked
                .iter()
                .zip(&metas)
                .filter_map(|(p, meta)| Some((Uid::new(p.0)?, meta.uid)))
                .collect();
            let mut expunged = Expunged::default();
            if expunge {
                let moved: Vec<u32> = picked.iter().map(|p| p.0).collect();
                if let Err(e) = src.expunge_files(sctx, &moved, m) {
                    // The originals stay (a failed expunge puts them back):
                    // the copies are expunged again, so that each message
                    // is left where it was (RFC 6851 section 3.3), not in
                    // both mailboxes for a retry to copy once more. If that
                    // fails too, both stay: nothing is lost.
                    let target = dst.as_mut().unwrap_or(&mut src);
                    let copies: Vec<u32> = metas.iter().map(|meta| meta.uid.get()).collect();
                    // A failed expunge leaves its folder to be read again
                    // (`Folder::invalidate`): within one mailbox, that is
                    // the target, read before the copies leave it.
                    let ready = !target.unread() || target.reconcile(dctx, &mut counters).is_ok();
                    if let (true, Ok(undo)) = (ready, counters.next_modseq(m)) {
                        let _ = target.expunge_files(dctx, &copies, undo.get());
                    }
                    return Err(e);
                }
                expunged = Expunged {
                    modseq: ModSeq::new(m),
                    uids: moved.iter().filter_map(|&u| Uid::new(u)).collect(),
                };
            }
            let copied = Copied {
                uid_validity,
                mapping,
                added: metas,
            };
            Ok(Transfer { copied, expunged })
        })();
        acc.folders.insert(from.name.clone(), src);
        if let Some(d) = dst {
            acc.folders.insert(to.clone(), d);
        }
        drop(counters);
        drop(locks);
        result
    }

    /// Builds a folder (cur/ new/ tmp/, uidlist, journal) in the account's
    /// staging area and moves it to `dest`.
    fn build_folder(
        &self,
        maildir: &Path,
        dest: &Path,
        counters: &mut Counters<'_>,
        special_use: &[SpecialUse],
        inbox: bool,
    ) -> Result<UidValidity, StoreError> {
        let fsync = self.options.fsync;
        let staging_root = maildir.join("mailwire-tmp");
        fsutil::ensure_dir(&staging_root)?;
        let staging = staging_root.join(format!("{}+{:016x}", self.instance, fsutil::random_u64()));
        let built = (|| {
            fsutil::ensure_dir(&staging)?;
            for sub in ["cur", "new", "tmp"] {
                fsutil::ensure_dir(&staging.join(sub))?;
            }
            if !inbox {
                let path = staging.join("maildirfolder");
                File::create(&path).map_err(|e| io_err("create", &path, &e))?;
            }
            let v = counters.next_uid_validity()?;
            let m = counters.next_modseq(0)?;
            UidList::new(v.get(), uidlist::new_guid()).rewrite(&staging, |_| true, fsync)?;
            Journal::new(v.get(), m.get(), special_use).rewrite(&staging, fsync)?;
            for sub in ["cur", "new", "tmp"] {
                fsutil::sync_dir(&staging.join(sub), fsync)?;
            }
            fsutil::sync_dir(&staging, fsync)?;
            fs::rename(&staging, dest).map_err(|e| io_err("rename", &staging, &e))?;
            if let Some(parent) = dest.parent() {
                fsutil::sync_dir(parent, fsync)?;
            }
            Ok(v)
        })();
        if built.is_err() {
            let _ = fs::remove_dir_all(&staging);
        }
        built
    }
}

impl Account {
    /// Removes the content this backend instance kept of the account's
    /// expunged messages: those kept in tmp/ (see `Folder::expunge_files`),
    /// then the directory of the others.
    fn remove_kept(&self, instance: &str) {
        for (name, fold) in &self.folders {
            let folder_dir = self.dir_of(name);
            for kept in fold.kept.values() {
                let _ = fs::remove_file(folder_dir.join(&kept.within));
            }
            let dir = folder_dir.join(folder::EXPUNGED_DIR).join(instance);
            let _ = fs::remove_dir_all(dir);
        }
    }
}

impl Drop for MaildirBackend {
    fn drop(&mut self) {
        // Kept content lives as long as this instance (see the contract).
        let accounts = self.accounts.get_mut().unwrap_or_else(|e| e.into_inner());
        for acc in accounts.values() {
            acc.lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove_kept(&self.instance);
        }
        folder::live_instances()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.instance);
    }
}

/// Removes message files placed in a folder whose UIDs could not be
/// recorded, and makes the folder be read again. `record_added` fails only
/// before its journal line; of a uidlist append that failed, only whole
/// records stay, and their UIDs, never given again, name files that are
/// gone: expunged before anyone listed them. Under the lock nobody else
/// could have given the files UIDs.
fn abandon(folder: &mut Folder, placed: &[PathBuf]) {
    for p in placed {
        let _ = fs::remove_file(p);
    }
    folder.invalidate();
}

/// A look at a folder without its lock, as a poll takes it: `f` on the
/// folder when its files and journal agree; `None` when the locked
/// reconciliation must run (they disagree, or this instance has not read
/// the folder yet).
fn look_unlocked<T>(
    acc: &mut Account,
    total: u64,
    mailbox: &MailboxRef,
    f: impl FnOnce(&mut Folder) -> Result<T, StoreError>,
) -> Result<Option<T>, StoreError> {
    let dir = acc.dir_of(&mailbox.name);
    if !opened_folder(&dir, &mailbox.name) {
        return Ok(None);
    }
    let room = allowance(&mut acc.folders, &mailbox.name, total);
    let Some(fold) = acc.folders.get_mut(&mailbox.name) else {
        return Ok(None);
    };
    fold.allowance = Some(room);
    if !fold.reconcile_unlocked(&dir)? {
        return Ok(None);
    }
    check_validity(fold, &mailbox.name, Some(mailbox.uid_validity))?;
    f(fold).map(Some)
}

fn check_validity(fold: &Folder, name: &MailboxName, expect: Option<UidValidity>) -> Result<(), StoreError> {
    match (expect, fold.uid_validity()) {
        (_, None) => Err(StoreError::NoSuchMailbox(name.clone())),
        (Some(want), Some(have)) if want != have => Err(StoreError::MailboxGone(name.clone())),
        _ => Ok(()),
    }
}

/// Hard-links `from` to `to`, or copies it (through the target's `tmp/`)
/// where links are not possible.
fn link_or_copy(from: &Path, to: &Path, ctx: Ctx<'_>) -> Result<(), StoreError> {
    match fs::hard_link(from, to) {
        Ok(()) => return Ok(()),
        Err(e) if fsutil::not_found(&e) => return Err(io_err("link", from, &e)),
        Err(_) => {}
    }
    let mut source = fsutil::open_read(from).map_err(|e| io_err("read", from, &e))?;
    let tmp = ctx.dir.join("tmp").join(fsutil::unique_base());
    let written = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| io_err("create", &tmp, &e))?;
        // In pieces: the file may be of any size.
        std::io::copy(&mut source, &mut f).map_err(|e| io_err("copy", from, &e))?;
        if let Ok(meta) = source.metadata() {
            if let Ok(t) = meta.modified() {
                let _ = f.set_modified(t);
            }
        }
        fsutil::sync_file(&f, &tmp, ctx.fsync)?;
        fs::rename(&tmp, to).map_err(|e| io_err("rename", &tmp, &e))
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}

/// Removes staging directories of instances that no longer run.
fn clean_staging(maildir: &Path) {
    // Opened once, never through a link; what is in it is removed
    // relative to it (see `fsutil::OpenDir`).
    let Ok(staging) = fsutil::OpenDir::open(&maildir.join("mailwire-tmp")) else {
        return;
    };
    for (name, _) in staging.entries().unwrap_or_default() {
        let Some(name) = name.to_str() else {
            continue;
        };
        let instance = name.split('+').next().unwrap_or("");
        if folder::instance_is_dead(instance) {
            let _ = staging.remove_tree(name.as_ref());
        }
    }
}

/// The names of the folders of a Maildir (INBOX first), each with its
/// directory.
fn folder_dirs(maildir: &Path) -> Result<Vec<(MailboxName, PathBuf)>, StoreError> {
    let mut out = vec![(MailboxName::inbox(), maildir.to_path_buf())];
    let mut seen: HashSet<MailboxName> = HashSet::from([MailboxName::inbox()]);
    let entries = fs::read_dir(maildir).map_err(|e| io_err("read directory", maildir, &e))?;
    for entry in entries {
        let entry = entry.map_err(|e| io_err("read directory", maildir, &e))?;
        let Ok(dir_name) = entry.file_name().into_string() else {
            continue;
        };
        let Some(name) = layout::mailbox_of_dir(&dir_name) else {
            continue;
        };
        let path = entry.path();
        if folder::is_folder(&path, false) && seen.insert(name.clone()) {
            out.push((name, path));
        }
    }
    Ok(out)
}

/// A message's flags must have letters; the check happens before anything
/// is written.
impl MaildirBackend {
    /// A folder's entry, as its uidlist and journal name it; a folder made
    /// by another program is given a uidlist first. `None` if it still has
    /// none that can be read.
    fn entry_of(
        &self,
        acc: &mut Account,
        name: MailboxName,
        dir: &Path,
    ) -> Result<Option<MailboxEntry>, StoreError> {
        let mut seen = folder::peek(dir);
        if seen.is_none() {
            let lock = folder::lock_folder(dir)?;
            let mut counters = Counters::new(&acc.maildir, self.options.fsync);
            let mut fold = Folder::default();
            fold.allowance = Some(allowance(&mut acc.folders, &name, self.options.state_memory));
            fold.refresh_meta(self.ctx(dir, Some(&lock)), &mut counters)?;
            seen = folder::peek(dir);
        }
        Ok(seen.map(|(uid_validity, special_use)| MailboxEntry {
            name,
            uid_validity,
            special_use,
        }))
    }

    /// The directory of an existing mailbox's folder (checked without its
    /// lock: the caller takes it later).
    fn existing_folder(&self, account: &AccountName, mailbox: &MailboxName) -> Result<PathBuf, StoreError> {
        let dir = {
            let acc = self.account(account);
            let guard = self.open(account, &acc)?;
            guard.dir_of(mailbox)
        };
        if !opened_folder(&dir, mailbox) {
            return Err(StoreError::NoSuchMailbox(mailbox.clone()));
        }
        Ok(dir)
    }

    /// Moves messages written to `tmp/` (`staged`: their paths there and
    /// their final base names) into the folder and records them, under
    /// the folder's lock; on failure none of them is delivered (the caller
    /// removes the staged files).
    fn commit_staged(
        &self,
        account: &AccountName,
        mailbox: &MailboxName,
        staged: &[(PathBuf, String)],
        metas: &[(&Flags, InternalDate, u64)],
    ) -> Result<Appended, StoreError> {
        self.with_folder(account, mailbox, None, false, |fold, ctx, counters| {
            fold.reserve(metas.len())?;
            let flags: Vec<&Flags> = metas.iter().map(|m| m.0).collect();
            fold.ensure_keywords(ctx, &flags)?;
            let uid_validity = fold
                .uid_validity()
                .ok_or_else(|| StoreError::NoSuchMailbox(mailbox.clone()))?;
            let m = counters.next_modseq(fold.journal.highest)?.get();
            let saved_now = InternalDate::now().unix_seconds;
            let mut added = Vec::with_capacity(metas.len());
            let mut placed: Vec<PathBuf> = Vec::with_capacity(metas.len());
            for (&(flags, date, size), (tmp, base)) in metas.iter().zip(staged) {
                let info = fold.keywords.info_of(flags, "");
                let loc = if flags.is_empty() {
                    Loc {
                        cur: false,
                        name: base.clone(),
                    }
                } else {
                    Loc {
                        cur: true,
                        name: format!("{base}:2,{info}"),
                    }
                };
                let dest = loc.path(ctx.dir);
                if let Err(e) = fs::rename(tmp, &dest) {
                    for p in &placed {
                        let _ = fs::remove_file(p);
                    }
                    return Err(io_err("rename", tmp, &e));
                }
                placed.push(dest);
                let entry = Entry {
                    modseq: m,
                    info,
                    date: date.unix_seconds,
                    zone: date.zone_minutes,
                    size,
                    saved: Some(saved_now),
                };
                added.push((loc, entry));
            }
            if let Err(e) = folder::sync_placed(ctx.dir, &added, ctx.fsync) {
                abandon(fold, &placed);
                return Err(e);
            }
            let messages = match fold.record_added(ctx, added) {
                Ok(messages) => messages,
                Err(e) => {
                    // Not delivered: they go, or the next reconciliation
                    // would deliver what the caller was told failed (and
                    // a retry would deliver it twice).
                    abandon(fold, &placed);
                    return Err(e);
                }
            };
            Ok(Appended {
                uid_validity,
                messages,
            })
        })
    }
}

#[cfg(test)]
thread_local! {
    /// Runs on a folder's directory once a flag change has found its
    /// files and before it renames them: the tests of another program
    /// renaming a file meanwhile.
    static BEFORE_FLAG_RENAMES: std::cell::Cell<Option<fn(&Path)>> = const { std::cell::Cell::new(None) };
}

impl Backend for MaildirBackend {
    fn create_account(&self, account: &AccountName) -> Result<(), StoreError> {
        let acc = self.account(account);
        let mut guard = acc.lock().unwrap_or_else(|e| e.into_inner());
        let maildir = guard.maildir.clone();
        if folder::is_folder(&maildir, true) {
            return Err(StoreError::AccountExists(account.clone()));
        }
        let parent = maildir
            .parent()
            .ok_or_else(|| StoreError::Permanent("Maildir has no parent directory".into()))?;
        fs::create_dir_all(parent).map_err(|e| io_err("create directory", parent, &e))?;
        let file_name = maildir.file_name().and_then(|n| n.to_str()).unwrap_or("Maildir");
        let staging = parent.join(format!(".{file_name}.mailwire-{:016x}", fsutil::random_u64()));
        let built = (|| {
            fsutil::ensure_dir(&staging)?;
            for sub in ["cur", "new", "tmp"] {
                fsutil::ensure_dir(&staging.join(sub))?;
            }
            fsutil::sync_dir(&staging, self.options.fsync)?;
            fs::rename(&staging, &maildir).map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists | std::io::ErrorKind::DirectoryNotEmpty => {
                    StoreError::AccountExists(account.clone())
                }
                _ => io_err("rename", &staging, &e),
            })?;
            fsutil::sync_dir(parent, self.options.fsync)
        })();
        if built.is_err() {
            let _ = fs::remove_dir_all(&staging);
        }
        built?;
        // INBOX's uidlist and journal (a crash before this leaves a valid
        // Maildir whose INBOX gets them when first opened).
        let lock = folder::lock_folder(&maildir)?;
        let mut counters = Counters::new(&maildir, self.options.fsync);
        let mut inbox = Folder::default();
        inbox.refresh_meta(self.ctx(&maildir, Some(&lock)), &mut counters)?;
        guard.folders.clear();
        guard.folders.insert(MailboxName::inbox(), inbox);
        Ok(())
    }

    fn account_exists(&self, account: &AccountName) -> Result<bool, StoreError> {
        Ok(folder::is_folder(&self.maildir_path(account), true))
    }

    fn list_mailboxes(&self, account: &AccountName) -> Result<Vec<MailboxEntry>, StoreError> {
        let acc = self.account(account);
        let mut guard = self.open(account, &acc)?;
        let mut out = Vec::new();
        for (name, dir) in folder_dirs(&guard.maildir)? {
            if let Some(entry) = self.entry_of(&mut guard, name, &dir)? {
                out.push(entry);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// The folder of this one name alone: a mailbox looked up (STATUS,
    /// SELECT, each mailbox of a LIST-STATUS) costs one folder, not a
    /// listing of them all.
    fn mailbox(&self, account: &AccountName, name: &MailboxName) -> Result<MailboxEntry, StoreError> {
        let acc = self.account(account);
        let mut guard = self.open(account, &acc)?;
        let dir = guard.dir_of(name);
        if !opened_folder(&dir, name) {
            return Err(StoreError::NoSuchMailbox(name.clone()));
        }
        self.entry_of(&mut guard, name.clone(), &dir)?
            .ok_or_else(|| StoreError::NoSuchMailbox(name.clone()))
    }

    fn create_mailbox(
        &self,
        account: &AccountName,
        name: &MailboxName,
        special_use: &[SpecialUse],
    ) -> Result<MailboxEntry, StoreError> {
        let acc = self.account(account);
        let mut guard = self.open(account, &acc)?;
        let acc = &mut *guard;
        let dir = acc.dir_of(name);
        if name.is_inbox() || dir.exists() {
            return Err(StoreError::MailboxExists(name.clone()));
        }
        if layout::folder_dir_name(name).len() > 255 {
            return Err(StoreError::Limit("mailbox name too long for a Maildir folder"));
        }
        let mut special_use = special_use.to_vec();
        special_use.sort();
        special_use.dedup();
        let mut counters = Counters::new(&acc.maildir, self.options.fsync);
        counters.lock()?;
        if dir.exists() {
            return Err(StoreError::MailboxExists(name.clone()));
        }
        let uid_validity = self.build_folder(&acc.maildir, &dir, &mut counters, &special_use, false)?;
        acc.folders.remove(name);
        Ok(MailboxEntry {
            name: name.clone(),
            uid_validity,
            special_use,
        })
    }

    fn delete_mailbox(&self, account: &AccountName, mailbox: &MailboxRef) -> Result<(), StoreError> {
        let acc = self.account(account);
        let mut guard = self.open(account, &acc)?;
        let acc = &mut *guard;
        if mailbox.name.is_inbox() {
            return Err(StoreError::NotAllowed("INBOX cannot be deleted"));
        }
        let dir = acc.dir_of(&mailbox.name);
        if !folder::is_folder(&dir, false) {
            return Err(StoreError::NoSuchMailbox(mailbox.name.clone()));
        }
        let lock = folder::lock_folder(&dir)?;
        let mut counters = Counters::new(&acc.maildir, self.options.fsync);
        counters.lock()?;
        match folder::peek(&dir) {
            Some((v, _)) if v == mailbox.uid_validity => {}
            Some(_) => return Err(StoreError::MailboxGone(mailbox.name.clone())),
            None => return Err(StoreError::NoSuchMailbox(mailbox.name.clone())),
        }
        let staging_root = acc.maildir.join("mailwire-tmp");
        fsutil::ensure_dir(&staging_root)?;
        let doomed = staging_root.join(format!("{}+deleted+{:016x}", self.instance, fsutil::random_u64()));
        fs::rename(&dir, &doomed).map_err(|e| io_err("rename", &dir, &e))?;
        fsutil::sync_dir(&acc.maildir, self.options.fsync)?;
        drop(lock);
        let _ = fs::remove_dir_all(&doomed);
        acc.folders.remove(&mailbox.name);
        Ok(())
    }

    fn rename_mailbox(
        &self,
        account: &AccountName,
        from: &MailboxRef,
        to: &MailboxName,
    ) -> Result<Vec<(MailboxName, MailboxName)>, StoreError> {
        let acc = self.account(account);
        let mut guard = self.open(account, &acc)?;
        let acc = &mut *guard;
        let dir = acc.dir_of(&from.name);
        if from.name.is_inbox() || !folder::is_folder(&dir, false) {
            return Err(StoreError::NoSuchMailbox(from.name.clone()));
        }
        let mut counters = Counters::new(&acc.maildir, self.options.fsync);
        counters.lock()?;
        match folder::peek(&dir) {
            Some((v, _)) if v == from.uid_validity => {}
            Some(_) => return Err(StoreError::MailboxGone(from.name.clone())),
            None => return Err(StoreError::NoSuchMailbox(from.name.clone())),
        }
        if to == &from.name || to.is_inferior_of(&from.name) {
            return Err(StoreError::NotAllowed("cannot rename a mailbox into itself"));
        }
        let mut pairs: Vec<(MailboxName, MailboxName, PathBuf, PathBuf)> = Vec::new();
        let mut all = folder_dirs(&acc.maildir)?;
        all.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, path) in all {
            if name != from.name && !name.is_inferior_of(&from.name) {
                continue;
            }
            let new = name
                .rebase(&from.name, to)
                .ok_or(StoreError::Limit("renamed name too long or too deep"))?;
            let new_dir_name = layout::folder_dir_name(&new);
            if new_dir_name.len() > 255 {
                return Err(StoreError::Limit("mailbox name too long for a Maildir folder"));
            }
            let new_path = acc.maildir.join(new_dir_name);
            if new.is_inbox() || new_path.exists() {
                return Err(StoreError::MailboxExists(new));
            }
            pairs.push((name, new, path, new_path));
        }
        pairs.sort_by_key(|(old, ..)| old != &from.name);
        let mut done: Vec<(&PathBuf, &PathBuf)> = Vec::new();
        for (_, _, old_path, new_path) in &pairs {
            if let Err(e) = fs::rename(old_path, new_path) {
                for (o, n) in done.iter().rev() {
                    let _ = fs::rename(n, o);
                }
                return Err(io_err("rename", old_path, &e));
            }
            done.push((old_path, new_path));
        }
        fsutil::sync_dir(&acc.maildir, self.options.fsync)?;
        let mut out = Vec::with_capacity(pairs.len());
        for (old, new, ..) in pairs {
            if let Some(f) = acc.folders.remove(&old) {
                acc.folders.insert(new.clone(), f);
            }
            out.push((old, new));
        }
        Ok(out)
    }

    fn subscriptions(&self, account: &AccountName) -> Result<Vec<MailboxName>, StoreError> {
        let acc = self.account(account);
        let guard = self.open(account, &acc)?;
        subs::list(&guard.maildir)
    }

    fn set_subscribed(
        &self,
        account: &AccountName,
        name: &MailboxName,
        subscribed: bool,
    ) -> Result<(), StoreError> {
        let acc = self.account(account);
        let guard = self.open(account, &acc)?;
        subs::set(&guard.maildir, name, subscribed, self.options.fsync)
    }

    fn mailbox_snapshot(
        &self,
        account: &AccountName,
        name: &MailboxName,
    ) -> Result<MailboxSnapshot, StoreError> {
        self.with_cached(account, name, None, |fold, _| {
            let known = fold
                .known
                .as_ref()
                .ok_or_else(|| StoreError::NoSuchMailbox(name.clone()))?;
            let first_recent = fold.journal.first_recent.max(1);
            Ok(MailboxSnapshot {
                uid_validity: known.uid_validity,
                uid_next: Uid::new(known.uid_next).unwrap_or(Uid::MIN),
                highest_modseq: ModSeq::new(known.highest).unwrap_or(ModSeq::MIN),
                first_recent_uid: Uid::new(first_recent).unwrap_or(Uid::MIN),
                messages: known.messages.values().cloned().collect(),
            })
        })
    }

    fn append(
        &self,
        account: &AccountName,
        mailbox: &MailboxName,
        messages: Vec<NewMessage>,
    ) -> Result<Appended, StoreError> {
        if messages.is_empty() {
            return self.with_cached(account, mailbox, None, |fold, _| {
                let uid_validity = fold
                    .uid_validity()
                    .ok_or_else(|| StoreError::NoSuchMailbox(mailbox.clone()))?;
                Ok(Appended {
                    uid_validity,
                    messages: Vec::new(),
                })
            });
        }
        // Content goes to tmp/ before any lock is taken.
        let dir = self.existing_folder(account, mailbox)?;
        let fsync = self.options.fsync;
        let mut staged: Vec<(PathBuf, String)> = Vec::with_capacity(messages.len());
        let staging = (|| {
            for m in &messages {
                let base = layout::new_base(m.content.len() as u64);
                let path = dir.join("tmp").join(&base);
                staged.push((path.clone(), base));
                let mut f = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&path)
                    .map_err(|e| io_err("create", &path, &e))?;
                f.write_all(&m.content).map_err(|e| io_err("write", &path, &e))?;
                let _ = f.set_modified(fsutil::system_time(m.internal_date.unix_seconds));
                fsutil::sync_file(&f, &path, fsync)?;
            }
            Ok(())
        })();
        let unstage = |staged: &[(PathBuf, String)]| {
            for (p, _) in staged {
                let _ = fs::remove_file(p);
            }
        };
        if let Err(e) = staging {
            unstage(&staged);
            return Err(e);
        }
        let metas: Vec<(&Flags, InternalDate, u64)> = messages
            .iter()
            .map(|m| (&m.flags, m.internal_date, m.content.len() as u64))
            .collect();
        let result = self.commit_staged(account, mailbox, &staged, &metas);
        if result.is_err() {
            unstage(&staged);
        }
        result
    }

    fn copy(
        &self,
        account: &AccountName,
        from: &MailboxRef,
        uids: &[Uid],
        to: &MailboxName,
    ) -> Result<Copied, StoreError> {
        Ok(self.transfer(account, from, uids, to, false)?.copied)
    }

    fn move_messages(
        &self,
        account: &AccountName,
        from: &MailboxRef,
        uids: &[Uid],
        to: &MailboxName,
    ) -> Result<Moved, StoreError> {
        let t = self.transfer(account, from, uids, to, true)?;
        Ok(Moved {
            copied: t.copied,
            expunged: t.expunged,
        })
    }

    fn store_flags(
        &self,
        account: &AccountName,
        mailbox: &MailboxRef,
        request: &StoreFlags,
    ) -> Result<FlagsStored, StoreError> {
        // A STORE that changes nothing (flags already as asked: a client
        // marking a message it read before as \Seen again) needs no lock
        // when an unlocked look at the folder finds files and journal in
        // agreement: it is then answered as of that look, as if it came
        // just before any change made after it.
        // A look that finds files and journal apart (another process
        // changed the folder meanwhile) is followed by the whole locked
        // reconciliation, as a poll's would be.
        // A conditional STORE (UNCHANGEDSINCE) looks too: it compares
        // MODSEQs, and a flag change another program made since the last
        // look has none until it is recorded; without it, the STORE would
        // pass the condition and overwrite that change.
        let mut full = false;
        {
            let acc = self.account(account);
            let mut guard = self.open(account, &acc)?;
            match look_unlocked(&mut guard, self.options.state_memory, mailbox, |fold| {
                Ok(fold.changes_nothing(request))
            })? {
                Some(true) if request.condition.is_none() => return Ok(FlagsStored::default()),
                Some(_) => {}
                None => full = true,
            }
        }
        self.with_folder(
            account,
            &mailbox.name,
            Some(mailbox.uid_validity),
            full,
            |fold, ctx, counters| {
                let mut out = FlagsStored::default();
                let mut changes: Vec<(u32, Loc, Flags)> = Vec::new();
                for uid in &request.uids {
                    let uid = uid.get();
                    let known = fold.knows(uid);
                    let Some(modseq) = fold.journal.live.get(&uid).map(|e| e.modseq) else {
                        continue;
                    };
                    if !known {
                        continue;
                    }
                    let Some(loc) = fold.locate(ctx.dir, uid)? else {
                        continue;
                    };
                    if let Some(StoreCondition::UnchangedSince(limit)) = request.condition {
                        if modseq > limit.get() {
                            if let Some(u) = Uid::new(uid) {
                                out.failed.push(u);
                            }
                            continue;
                        }
                    }
                    let old = fold.keywords.flags_of(loc.info());
                    let new = old.apply(request.action, &request.flags);
                    if new != old {
                        changes.push((uid, loc, new));
                    }
                }
                if changes.is_empty() {
                    return Ok(out);
                }
                let refs: Vec<&Flags> = changes.iter().map(|c| &c.2).collect();
                fold.ensure_keywords(ctx, &refs)?;
                let m = counters.next_modseq(fold.journal.highest)?.get();
                let mut done: Vec<(u32, String)> = Vec::with_capacity(changes.len());
                // Each file renamed: where it was, and where it is.
                let mut renamed: Vec<(Loc, Loc)> = Vec::with_capacity(changes.len());
                #[cfg(test)]
                if let Some(hook) = BEFORE_FLAG_RENAMES.with(std::cell::Cell::get) {
                    hook(ctx.dir);
                }
                let located = (|| {
                    for (uid, loc, flags) in &changes {
                        let info = fold.keywords.info_of(flags, loc.info());
                        let moved = match fold.rename_flags(ctx.dir, loc, &info) {
                            Ok(new) => Some((loc.clone(), new, info)),
                            // Renamed or removed by another program meanwhile.
                            Err(_) => match fold.locate(ctx.dir, *uid)? {
                                Some(again) => {
                                    // Its flags as that program left them,
                                    // changed as asked: those of the name
                                    // first found would undo its change
                                    // (a \Deleted it removed set again).
                                    let flags = fold
                                        .keywords
                                        .flags_of(again.info())
                                        .apply(request.action, &request.flags);
                                    let info = fold.keywords.info_of(&flags, again.info());
                                    fold.rename_flags(ctx.dir, &again, &info)
                                        .ok()
                                        .map(|new| (again, new, info))
                                }
                                None => None,
                            },
                        };
                        if let Some((old, new, info)) = moved {
                            renamed.push((old, new));
                            done.push((*uid, info));
                        }
                    }
                    Ok(())
                })();
                let recorded = located
                    .and_then(|()| fsutil::sync_dir(&ctx.dir.join("cur"), ctx.fsync_changes))
                    .and_then(|()| fsutil::sync_dir(&ctx.dir.join("new"), ctx.fsync_changes))
                    .and_then(|()| fold.record_flags(ctx, &done, m));
                match recorded {
                    Ok(updated) => out.updated = updated,
                    Err(e) => {
                        // A STORE answered NO changes no flag: the names
                        // go back, and the folder is read again (the
                        // journal in memory may hold the lines).
                        for (old, new) in renamed.iter().rev() {
                            let _ = fs::rename(new.path(ctx.dir), old.path(ctx.dir));
                        }
                        fold.invalidate();
                        return Err(e);
                    }
                }
                Ok(out)
            },
        )
    }

    fn expunge(
        &self,
        account: &AccountName,
        mailbox: &MailboxRef,
        request: &ExpungeRequest,
    ) -> Result<Expunged, StoreError> {
        self.with_folder(
            account,
            &mailbox.name,
            Some(mailbox.uid_validity),
            false,
            |fold, ctx, counters| {
                let wanted = |fold: &Folder, uid: u32| -> bool {
                    let known = fold.knows(uid);
                    let Some(e) = fold.journal.live.get(&uid) else {
                        return false;
                    };
                    known && (!request.only_deleted || fold.keywords.flags_of(&e.info).is_deleted())
                };
                let uids: Vec<u32> = match &request.uids {
                    Some(list) => {
                        let mut l: Vec<u32> = list
                            .iter()
                            .map(|u| u.get())
                            .filter(|&u| wanted(fold, u))
                            .collect();
                        l.sort_unstable();
                        l.dedup();
                        l
                    }
                    None => {
                        let all: Vec<u32> = fold.journal.live.keys().copied().collect();
                        all.into_iter().filter(|&u| wanted(fold, u)).collect()
                    }
                };
                if uids.is_empty() {
                    return Ok(Expunged::default());
                }
                let m = counters.next_modseq(fold.journal.highest)?.get();
                fold.expunge_files(ctx, &uids, m)?;
                Ok(Expunged {
                    modseq: ModSeq::new(m),
                    uids: uids.into_iter().filter_map(Uid::new).collect(),
                })
            },
        )
    }

    /// Removes the kept files. If that freed space while the journal
    /// holds lines a full disk kept from it (see `Folder::expunge_files`),
    /// they are written now, under the folder's lock; failing again, they
    /// wait for the next write.
    fn purge(&self, account: &AccountName, mailbox: &MailboxRef, uids: &[Uid]) -> Result<(), StoreError> {
        let v = Some(mailbox.uid_validity);
        let save = self.with_kept(account, mailbox, |fold, dir| {
            let mut freed = false;
            for uid in uids {
                if let Some(kept) = fold.kept.remove(&uid.get()) {
                    freed |= fs::remove_file(dir.join(kept.within)).is_ok();
                }
            }
            freed && fold.journal.is_unsaved()
        })?;
        if save == Some(true) {
            let _ = self.with_folder(account, &mailbox.name, v, false, |fold, ctx, _| {
                ctx.confirm_lock()?;
                fold.journal.save(ctx.dir, ctx.fsync)
            });
        }
        Ok(())
    }

    fn kept_size(&self, account: &AccountName, mailbox: &MailboxRef) -> Result<u64, StoreError> {
        let size = self.with_kept(account, mailbox, |fold, _| {
            fold.kept.values().map(|k| k.size).sum()
        });
        Ok(size?.unwrap_or(0))
    }

    fn tombstones(
        &self,
        account: &AccountName,
        mailbox: &MailboxRef,
        since: ModSeq,
    ) -> Result<Vec<Tombstone>, StoreError> {
        self.with_cached(account, &mailbox.name, Some(mailbox.uid_validity), |fold, _| {
            Ok(fold.kept_tombstones(since))
        })
    }

    fn vanished_since(
        &self,
        account: &AccountName,
        mailbox: &MailboxRef,
        since: ModSeq,
    ) -> Result<UidRanges, StoreError> {
        self.with_cached(account, &mailbox.name, Some(mailbox.uid_validity), |fold, _| {
            let mut out: UidRanges = fold.kept_tombstones(since).into_iter().map(|t| t.uid).collect();
            // Expunges at or below the prune mark are no longer listed:
            // asked for changes since before it, answer with every UID up
            // to the highest one pruned (below UIDNEXT when a file does
            // not say it) that is not a message now, the gaps between the
            // messages: a superset of those expunged since.
            let Some(known) = fold.known.as_ref() else {
                return Ok(out);
            };
            if since.get() >= fold.journal.pruned_modseq {
                return Ok(out);
            }
            let top = match fold.journal.pruned_uid {
                0 => known.uid_next,
                highest => known.uid_next.min(highest.saturating_add(1)),
            };
            let mut from = 1u32;
            for &present in known.messages.keys().take_while(|&&u| u < top) {
                if let (Some(first), Some(last)) = (Uid::new(from), Uid::new(present - 1)) {
                    out.insert_range(first..=last);
                }
                from = present.saturating_add(1);
            }
            if let (Some(first), Some(last)) = (Uid::new(from), Uid::new(top.saturating_sub(1))) {
                out.insert_range(first..=last);
            }
            Ok(out)
        })
    }

    fn read_message(
        &self,
        account: &AccountName,
        mailbox: &MailboxRef,
        uid: Uid,
    ) -> Result<Bytes, StoreError> {
        let limit = self.options.max_read_whole;
        self.with_cached(account, &mailbox.name, Some(mailbox.uid_validity), |fold, ctx| {
            fold.read(ctx, uid.get(), limit)?
                .ok_or(StoreError::NoSuchMessage(uid))
        })
    }

    /// The account's Maildir: messages arrive in and move between its
    /// folders' `new/` and `cur/`, and the index files change in its
    /// folders.
    fn watch_path(&self, account: &AccountName) -> Option<PathBuf> {
        Some(self.maildir_path(account))
    }

    /// A new file in the folder's `tmp/`, where Maildir writers put what
    /// they are still writing (Dovecot and mailwire leave it alone; a file
    /// left there by a crash is removed after 36 hours).
    fn stage(
        &self,
        account: &AccountName,
        mailbox: &MailboxName,
    ) -> Result<Option<(PathBuf, File)>, StoreError> {
        let dir = self.existing_folder(account, mailbox)?;
        let tmp = dir.join("tmp");
        fsutil::ensure_dir(&tmp)?;
        let path = tmp.join(format!(
            "{}.{}.part",
            fsutil::unique_base(),
            fsutil::filename_host()
        ));
        let file = fsutil::no_follow(OpenOptions::new().write(true).create_new(true))
            .open(&path)
            .map_err(|e| io_err("create", &path, &e))?;
        Ok(Some((path, file)))
    }

    /// Names each staged file for its size, dates and flushes it, then
    /// commits them as [`append`](Backend::append) does.
    fn append_staged(
        &self,
        account: &AccountName,
        mailbox: &MailboxName,
        messages: Vec<StagedMessage>,
    ) -> Result<Appended, StoreError> {
        let dir = self
            .delivery_dir(account, mailbox)
            .ok_or_else(|| StoreError::NoSuchMailbox(mailbox.clone()))?;
        let tmp_dir = dir.join("tmp");
        let fsync = self.options.fsync;
        let mut staged: Vec<(PathBuf, String)> = Vec::with_capacity(messages.len());
        let mut left: Vec<&Path> = messages.iter().map(|m| m.path.as_path()).collect();
        let named = (|| {
            for m in &messages {
                if m.path.parent() != Some(tmp_dir.as_path()) {
                    return Err(StoreError::Permanent(format!(
                        "{} was not staged in {}",
                        m.path.display(),
                        tmp_dir.display()
                    )));
                }
                let base = layout::new_base(m.size);
                let path = tmp_dir.join(&base);
                let file = fsutil::no_follow(OpenOptions::new().write(true))
                    .open(&m.path)
                    .map_err(|e| io_err("open", &m.path, &e))?;
                let _ = file.set_modified(fsutil::system_time(m.internal_date.unix_seconds));
                fsutil::sync_file(&file, &m.path, fsync)?;
                fs::rename(&m.path, &path).map_err(|e| io_err("rename", &m.path, &e))?;
                left.retain(|p| *p != m.path);
                staged.push((path, base));
            }
            Ok(())
        })();
        let unstage = |staged: &[(PathBuf, String)], left: &[&Path]| {
            for p in staged
                .iter()
                .map(|(p, _)| p.as_path())
                .chain(left.iter().copied())
            {
                let _ = fs::remove_file(p);
            }
        };
        if let Err(e) = named {
            unstage(&staged, &left);
            return Err(e);
        }
        let metas: Vec<(&Flags, InternalDate, u64)> = messages
            .iter()
            .map(|m| (&m.flags, m.internal_date, m.size))
            .collect();
        let result = self.commit_staged(account, mailbox, &staged, &metas);
        if result.is_err() {
            unstage(&staged, &[]);
        }
        result
    }

    /// The mailbox's folder (the Maildir itself for INBOX).
    fn delivery_dir(&self, account: &AccountName, mailbox: &MailboxName) -> Option<PathBuf> {
        let maildir = self.maildir_path(account);
        Some(if mailbox.is_inbox() {
            maildir
        } else {
            maildir.join(layout::folder_dir_name(mailbox))
        })
    }

    /// The message's file (its kept copy once expunged), which stays
    /// readable however it is renamed later.
    fn message_file(
        &self,
        account: &AccountName,
        mailbox: &MailboxRef,
        uid: Uid,
    ) -> Result<Option<(fs::File, u64)>, StoreError> {
        let (path, file) =
            self.with_cached(account, &mailbox.name, Some(mailbox.uid_validity), |fold, ctx| {
                fold.open(ctx, uid.get())?.ok_or(StoreError::NoSuchMessage(uid))
            })?;
        let len = file.metadata().map_err(|e| io_err("read", &path, &e))?.len();
        Ok(Some((file, len)))
    }

    /// Streams the file, bare LFs turned into CRLFs on the way: a message
    /// is never whole in memory, and the folder is not held while it is
    /// read.
    fn open_message(
        &self,
        account: &AccountName,
        mailbox: &MailboxRef,
        uid: Uid,
    ) -> Result<Box<dyn Read + Send>, StoreError> {
        let file = self.with_cached(account, &mailbox.name, Some(mailbox.uid_validity), |fold, ctx| {
            fold.open(ctx, uid.get())?.ok_or(StoreError::NoSuchMessage(uid))
        })?;
        Ok(Box::new(folder::CrlfReader::new(file.1)))
    }

    fn claim_recent(
        &self,
        account: &AccountName,
        mailbox: &MailboxRef,
        up_to: Uid,
    ) -> Result<Uid, StoreError> {
        self.with_folder(
            account,
            &mailbox.name,
            Some(mailbox.uid_validity),
            false,
            |fold, ctx, _| {
                let before = fold.journal.first_recent.max(1);
                if up_to.get() > before {
                    let mut line = String::new();
                    Journal::recent_line(up_to.get(), &mut line);
                    // Losing the claim in a crash is allowed: no flush.
                    ctx.confirm_lock()?;
                    match fold.journal.write(ctx.dir, &line, false) {
                        // Nor does a full disk fail a SELECT for it: the
                        // claim holds in this instance's memory and is
                        // written with its next write (lost if there is
                        // none, or if a failed write makes this instance
                        // read the folder again first: another session
                        // may then show the same messages as recent, as
                        // RFC 3501 allows when it cannot be told).
                        Err(StoreError::Temporary(e)) => tracing::warn!(
                            folder = %ctx.dir.display(),
                            "\\Recent claimed in memory only: {e}"
                        ),
                        written => written?,
                    }
                }
                Ok(Uid::new(before).unwrap_or(Uid::MIN))
            },
        )
    }

    /// Drops the account's folders from memory, and the content kept of
    /// their expunged messages (no session is left to read it), unless a
    /// call is using the account or a journal holds lines a full disk
    /// kept from its file (they are written at the next change).
    fn release_account(&self, account: &AccountName) {
        let mut map = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
        // Every call takes its handle under this lock: only the map's
        // means none is running, and none can start until it is released.
        let Some(acc) = map.get(account).filter(|a| Arc::strong_count(a) == 1) else {
            return;
        };
        let guard = acc.lock().unwrap_or_else(|e| e.into_inner());
        if guard.folders.values().any(|f| f.journal.is_unsaved()) {
            return;
        }
        // Under the store's lock and this one: touch the disk only when
        // there is kept content (an empty directory of it is removed with
        // the kept content of dead instances, when the folder is next
        // opened by another instance).
        if guard.folders.values().any(|f| !f.kept.is_empty()) {
            guard.remove_kept(&self.instance);
        }
        drop(guard);
        map.remove(account);
    }

    fn sync(&self, account: &AccountName, mailbox: &MailboxRef) -> Result<Vec<ExternalChange>, StoreError> {
        // A poll that finds files and journal in agreement takes no lock.
        let acc = self.account(account);
        let mut guard = self.open(account, &acc)?;
        if let Some(changes) = look_unlocked(&mut guard, self.options.state_memory, mailbox, Folder::diff)? {
            return Ok(changes);
        }
        // Otherwise the locked reconciliation, in the account opened.
        self.with_folder_of(
            &mut guard,
            &mailbox.name,
            Some(mailbox.uid_validity),
            true,
            |fold, _, _| fold.diff(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::NewMessage;
    use crate::types::InternalDate;

    fn message(text: &str) -> NewMessage {
        NewMessage {
            content: Bytes::from(format!("Subject: {text}\r\n\r\n{text}\r\n")),
            flags: Flags::default(),
            internal_date: InternalDate {
                unix_seconds: 1_700_000_000,
                zone_minutes: 0,
            },
        }
    }

    fn setup() -> (tempfile::TempDir, AccountName, MailboxName) {
        let tmp = tempfile::tempdir().unwrap();
        let a = AccountName::new("alice").unwrap();
        open_in(tmp.path()).create_account(&a).unwrap();
        (tmp, a, MailboxName::inbox())
    }

    fn open_in(root: &Path) -> MaildirBackend {
        MaildirBackend::with_options(root, MaildirOptions::default().with_fsync(false)).unwrap()
    }

    /// An account's folders that do not fit in its allowance together are
    /// served one after another: reading one makes the largest of the
    /// others forget what they read from their files (read again when
    /// next used), so the account's state stays within the allowance; a
    /// journal holding lines a full disk kept from its file is not
    /// forgotten, and the folder that would need its room is refused.
    #[test]
    fn folders_past_half_the_allowance_forget_their_state() {
        let tmp = tempfile::tempdir().unwrap();
        let a = AccountName::new("alice").unwrap();
        let budget: u64 = 1 << 20;
        let options = MaildirOptions::default()
            .with_fsync(false)
            .with_state_memory(budget);
        let b = MaildirBackend::with_options(tmp.path(), options.clone()).unwrap();
        b.create_account(&a).unwrap();
        let names = [MailboxName::new("A").unwrap(), MailboxName::new("B").unwrap()];
        // About 0.6 MiB of state each.
        let many: Vec<NewMessage> = (0..1_250).map(|i| message(&i.to_string())).collect();
        for name in &names {
            b.create_mailbox(&a, name, &[]).unwrap();
            b.append(&a, name, many.clone()).unwrap();
        }
        let fresh = MaildirBackend::with_options(tmp.path(), options).unwrap();
        let costs = || {
            let acc = fresh.account(&a);
            let guard = acc.lock().unwrap();
            names
                .iter()
                .map(|n| guard.folders.get(n).map_or(0, Folder::cost))
                .collect::<Vec<u64>>()
        };
        fresh.mailbox_snapshot(&a, &names[0]).unwrap();
        let first = costs()[0];
        assert!(first > budget / 2 && first < budget, "{first}");
        fresh.mailbox_snapshot(&a, &names[1]).unwrap();
        let after = costs();
        assert_eq!(after[0], 0, "A still holds its state");
        assert!(after[1] > budget / 2 && after[1] < budget, "{after:?}");
        let again = fresh.mailbox_snapshot(&a, &names[0]).unwrap();
        assert_eq!(again.messages.len(), 1_250);
        assert_eq!(costs()[1], 0, "B still holds its state");
        // A's journal holds lines its file lacks: it keeps its state, and
        // B finds no room.
        {
            let acc = fresh.account(&a);
            let mut guard = acc.lock().unwrap();
            guard
                .folders
                .get_mut(&names[0])
                .unwrap()
                .journal
                .apply_unsaved("");
        }
        let read = fresh.mailbox_snapshot(&a, &names[1]);
        assert!(matches!(read, Err(StoreError::Limit(_))), "{read:?}");
        assert_eq!(costs()[0], first);
    }

    /// A new account whose INBOX holds two messages ("one", "two"), and
    /// the backend that appended them: the directory, the account, INBOX,
    /// the backend and the messages.
    type TwoMessages = (
        tempfile::TempDir,
        AccountName,
        MailboxName,
        MaildirBackend,
        Vec<crate::MessageMeta>,
    );

    /// [`TwoMessages`] made.
    fn two_messages() -> TwoMessages {
        two_messages_with(MaildirOptions::default().with_fsync(false))
    }

    /// [`two_messages`] on a backend with `options`.
    fn two_messages_with(options: MaildirOptions) -> TwoMessages {
        let (tmp, a, inbox) = setup();
        let b = MaildirBackend::with_options(tmp.path(), options).unwrap();
        let added = b
            .append(&a, &inbox, vec![message("one"), message("two")])
            .unwrap()
            .messages;
        (tmp, a, inbox, b, added)
    }

    /// Kept content of expunged messages is dropped (and no longer
    /// counted) without reading the folder's files: a folder that forgot
    /// what it read (to make room for another) and whose uidlist has grown
    /// past the allowance kept it on disk, counted against the quota,
    /// until the account was released, since the purge read the folder
    /// first and failed.
    #[test]
    fn kept_content_is_purged_without_reading_the_folder() {
        let options = MaildirOptions::default()
            .with_fsync(false)
            .with_state_memory(256 << 10);
        let (tmp, a, inbox, b, added) = two_messages_with(options);
        let r = b.mailbox(&a, &inbox).unwrap().to_ref();
        let two = ExpungeRequest {
            uids: Some(vec![added[1].uid]),
            only_deleted: false,
        };
        b.expunge(&a, &r, &two).unwrap();
        let size = b.kept_size(&a, &r).unwrap();
        assert!(size > 0);
        let maildir = tmp.path().join("alice/Maildir");
        let kept = {
            let acc = b.account(&a);
            let mut guard = acc.lock().unwrap();
            let fold = guard.folders.get_mut(&inbox).unwrap();
            fold.invalidate();
            maildir.join(&fold.kept[&added[1].uid.get()].within)
        };
        assert!(kept.is_file());
        let path = maildir.join("dovecot-uidlist");
        let mut text = fs::read(&path).unwrap();
        for uid in 100..30_000 {
            text.extend_from_slice(format!("{uid} :{uid}\n").as_bytes());
        }
        fs::write(maildir.join("padded"), &text).unwrap();
        fs::rename(maildir.join("padded"), &path).unwrap();
        assert!(matches!(b.sync(&a, &r), Err(StoreError::Limit(_))));
        assert_eq!(b.kept_size(&a, &r).unwrap(), size);
        b.purge(&a, &r, &[added[1].uid]).unwrap();
        assert!(!kept.exists(), "the kept content stays");
        assert_eq!(b.kept_size(&a, &r).unwrap(), 0);
    }

    fn message_files(root: &Path) -> usize {
        ["new", "cur"]
            .iter()
            .map(|d| fs::read_dir(root.join("alice/Maildir").join(d)).unwrap().count())
            .sum()
    }

    /// A second name of a message's file (a hard link another program
    /// made) is one message, left alone while it is young (the program
    /// may be half-way through moving the file by link and unlink), and
    /// removed once the file has been unchanged for `LINK_AGE`: left, it
    /// would come back as a message once the first name was expunged.
    #[test]
    fn a_second_name_of_a_file_is_removed_once_settled() {
        let (tmp, a, inbox, b, added) = two_messages();
        let r = MailboxRef {
            name: inbox.clone(),
            uid_validity: b.mailbox_snapshot(&a, &inbox).unwrap().uid_validity,
        };
        let md = tmp.path().join("alice/Maildir");
        let (sub, name) = ["new", "cur"]
            .iter()
            .flat_map(|d| {
                fs::read_dir(md.join(d))
                    .unwrap()
                    .map(move |e| (*d, e.unwrap().file_name().into_string().unwrap()))
            })
            .min_by(|x, y| x.1.cmp(&y.1))
            .unwrap();
        let base = layout::split_info(&name).0.to_owned();
        let other = if sub == "new" { "cur" } else { "new" };
        let second = if other == "cur" {
            format!("{base}:2,")
        } else {
            base
        };
        fs::hard_link(md.join(sub).join(&name), md.join(other).join(&second)).unwrap();
        // Directories unchanged for an hour: their listing is trusted, and
        // not taken again while they stay so. The young link must be
        // looked at again all the same (it was forgotten).
        let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        for dir in ["new", "cur"] {
            fs::File::open(md.join(dir))
                .unwrap()
                .set_modified(hour_ago)
                .unwrap();
        }
        let uids = |b: &MaildirBackend| -> Vec<Uid> {
            b.mailbox_snapshot(&a, &inbox)
                .unwrap()
                .messages
                .iter()
                .map(|m| m.uid)
                .collect()
        };
        let listed: Vec<Uid> = added.iter().map(|m| m.uid).collect();

        assert!(b.sync(&a, &r).unwrap().is_empty());
        assert_eq!(uids(&b), listed);
        assert_eq!(message_files(tmp.path()), 3, "a young link is left");

        folder::LINK_AGE_FOR_TESTS.with(|c| c.set(Some(std::time::Duration::ZERO)));
        let synced = b.sync(&a, &r);
        folder::LINK_AGE_FOR_TESTS.with(|c| c.set(None));
        assert!(synced.unwrap().is_empty());
        assert_eq!(message_files(tmp.path()), 2, "the settled link is removed");
        assert!(md.join(sub).join(&name).exists(), "the first name stays");
        assert_eq!(uids(&b), listed);
        assert_eq!(uids(&open_in(tmp.path())), listed);
    }

    /// A STORE that adds `\Seen` to one message.
    fn add_seen(uid: Uid) -> StoreFlags {
        StoreFlags {
            uids: vec![uid],
            action: crate::flags::FlagAction::Add,
            flags: Flags::parse(["\\Seen"]).unwrap(),
            condition: None,
        }
    }

    fn uids_of(b: &MaildirBackend, a: &AccountName, inbox: &MailboxName) -> Vec<(Uid, ModSeq)> {
        let snapshot = b.mailbox_snapshot(a, inbox).unwrap();
        snapshot.messages.iter().map(|m| (m.uid, m.modseq)).collect()
    }

    /// A user who can write to their own Maildir plants symbolic links to
    /// another user's mail and to a file outside every Maildir: as
    /// folders, as messages, as `new/` and `tmp/`, and as state files. No
    /// link is followed: the other mail is never listed, read, changed or
    /// deleted, and the outside file is never read or written.
    #[test]
    fn links_planted_in_a_maildir_are_never_followed() {
        use std::os::unix::fs::symlink;
        let (tmp, alice, inbox) = setup();
        let root = tmp.path();
        let bob = AccountName::new("bob").unwrap();
        let b = open_in(root);
        b.create_account(&bob).unwrap();
        let private = MailboxName::new("Private").unwrap();
        b.create_mailbox(&bob, &private, &[]).unwrap();
        b.append(&bob, &inbox, vec![message("bob's inbox")]).unwrap();
        b.append(&bob, &private, vec![message("bob's private")]).unwrap();
        b.append(&alice, &inbox, vec![message("alice's own")]).unwrap();
        let victim = root.join("victim");
        fs::write(&victim, "precious\n").unwrap();
        let outside = root.join("outside");
        fs::create_dir(&outside).unwrap();

        let (am, bm) = (root.join("alice/Maildir"), root.join("bob/Maildir"));
        let bob_file = |dir: &Path| {
            ["new", "cur"]
                .iter()
                .flat_map(|d| fs::read_dir(dir.join(d)).unwrap())
                .map(|e| e.unwrap().path())
                .next()
                .unwrap()
        };
        let everything_of_bob = || {
            let mut all = Vec::new();
            for dir in [bm.clone(), bm.join(".Private")] {
                for d in ["new", "cur"] {
                    for e in fs::read_dir(dir.join(d)).unwrap() {
                        let p = e.unwrap().path();
                        all.push((p.file_name().unwrap().to_owned(), fs::read(&p).unwrap()));
                    }
                }
            }
            all.sort();
            all
        };
        symlink(&bm, am.join(".Evil")).unwrap();
        symlink(bm.join(".Private"), am.join(".Evil2")).unwrap();
        symlink(bob_file(&bm), am.join("cur/1700000000.planted.host:2,S")).unwrap();
        symlink(&victim, am.join("new/1700000001.victim.host")).unwrap();
        let bob_before = everything_of_bob();

        let b = open_in(root);
        let names: Vec<String> = b
            .list_mailboxes(&alice)
            .unwrap()
            .iter()
            .map(|m| m.name.as_str().to_owned())
            .collect();
        assert!(!names.iter().any(|n| n.starts_with("Evil")), "{names:?}");
        for name in ["Evil", "Evil2"] {
            let name = MailboxName::new(name).unwrap();
            assert!(matches!(
                b.mailbox_snapshot(&alice, &name),
                Err(StoreError::NoSuchMailbox(_))
            ));
            let fake = MailboxRef {
                name: name.clone(),
                uid_validity: b.mailbox(&bob, &inbox).unwrap().uid_validity,
            };
            assert!(b.delete_mailbox(&alice, &fake).is_err());
            assert!(
                b.rename_mailbox(&alice, &fake, &MailboxName::new("Mine").unwrap())
                    .is_err()
            );
            assert!(b.append(&alice, &name, vec![message("into a link")]).is_err());
        }
        let snapshot = b.mailbox_snapshot(&alice, &inbox).unwrap();
        assert_eq!(snapshot.messages.len(), 1, "only alice's own message");
        let inbox_ref = b.mailbox(&alice, &inbox).unwrap().to_ref();
        let own = b
            .read_message(&alice, &inbox_ref, snapshot.messages[0].uid)
            .unwrap();
        assert!(String::from_utf8_lossy(&own).contains("alice's own"));

        // new/ and tmp/ replaced by links to a directory outside: the folder
        // is refused as a whole, and nothing is written outside.
        let junk = MailboxName::new("Junk").unwrap();
        b.create_mailbox(&alice, &junk, &[]).unwrap();
        let jd = am.join(".Junk");
        fs::remove_dir(jd.join("tmp")).unwrap();
        symlink(&outside, jd.join("tmp")).unwrap();
        assert!(b.append(&alice, &junk, vec![message("through tmp")]).is_err());
        assert_eq!(fs::read_dir(&outside).unwrap().count(), 0);

        // Each state file in turn replaced by a link to the outside file:
        // an operation may fail (the user broke their own Maildir), but the
        // outside file is neither read as state nor written.
        for state in [
            "mailwire-state",
            "dovecot-uidlist",
            "mailwire-modseq",
            "dovecot-keywords",
            "subscriptions",
        ] {
            let path = am.join(state);
            let saved = fs::read(&path).ok();
            let _ = fs::remove_file(&path);
            symlink(&victim, &path).unwrap();
            let b = open_in(root);
            let _ = b.append(&alice, &inbox, vec![message("after the state links")]);
            let _ = b.set_subscribed(&alice, &junk, true);
            let _ = b.create_mailbox(&alice, &MailboxName::new(&format!("New {state}")).unwrap(), &[]);
            let _ = b.mailbox_snapshot(&alice, &inbox);
            drop(b);
            assert_eq!(
                fs::read(&victim).unwrap(),
                b"precious\n",
                "written through {state}"
            );
            if fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
                fs::remove_file(&path).unwrap();
                if let Some(saved) = saved {
                    fs::write(&path, saved).unwrap();
                }
            }
        }
        assert_eq!(everything_of_bob(), bob_before, "bob's mail changed");
    }

    /// Another program (a mail reader that takes no lock) renames a file
    /// between the moment a flag change found it and its rename: the
    /// change is made to the flags that program left, not to those of the
    /// name first found. Here it removed `\Deleted` while `\Flagged` was
    /// being added: the message ends flagged and not deleted. The change
    /// was computed from the old name, and set `\Deleted` again.
    #[test]
    fn a_flag_change_keeps_what_another_program_changed_meanwhile() {
        let (tmp, a, inbox, b, added) = two_messages();
        let inbox_ref = b.mailbox(&a, &inbox).unwrap().to_ref();
        let deleted = StoreFlags {
            flags: Flags::parse(["\\Seen", "\\Deleted"]).unwrap(),
            ..add_seen(added[0].uid)
        };
        b.store_flags(&a, &inbox_ref, &deleted).unwrap();
        let cur = tmp.path().join("alice/Maildir/cur");
        let info_of_first = |cur: &Path| -> Vec<String> {
            fs::read_dir(cur)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter_map(|n| n.split_once(":2,").map(|(_, info)| info.to_owned()))
                .filter(|info| info.contains('S'))
                .collect()
        };
        assert_eq!(info_of_first(&cur), ["ST"]);
        fn undelete(dir: &Path) {
            let cur = dir.join("cur");
            for entry in fs::read_dir(&cur).unwrap() {
                let name = entry.unwrap().file_name().to_string_lossy().into_owned();
                if let Some(base) = name.strip_suffix(":2,ST") {
                    fs::rename(cur.join(&name), cur.join(format!("{base}:2,S"))).unwrap();
                }
            }
        }
        let flagged = StoreFlags {
            flags: Flags::parse(["\\Flagged"]).unwrap(),
            ..add_seen(added[0].uid)
        };
        BEFORE_FLAG_RENAMES.with(|h| h.set(Some(undelete)));
        let stored = b.store_flags(&a, &inbox_ref, &flagged);
        BEFORE_FLAG_RENAMES.with(|h| h.set(None));
        stored.unwrap();
        assert_eq!(
            info_of_first(&cur),
            ["FS"],
            "\\Deleted came back, or \\Flagged was not set"
        );
        let snapshot = b.mailbox_snapshot(&a, &inbox).unwrap();
        let first = snapshot.messages.iter().find(|m| m.uid == added[0].uid).unwrap();
        assert_eq!(first.flags, Flags::parse(["\\Seen", "\\Flagged"]).unwrap());
    }

    /// A STORE that changes nothing takes no lock: it is answered while
    /// another process holds the folder's lock. One that changes flags
    /// another process changed meanwhile is not taken for one that changes
    /// nothing: it waits for the lock and makes its change.
    #[test]
    fn a_store_that_changes_nothing_needs_no_lock() {
        let (tmp, a, inbox) = setup();
        let b = open_in(tmp.path());
        let added = b.append(&a, &inbox, vec![message("one")]).unwrap().messages;
        let inbox_ref = b.mailbox(&a, &inbox).unwrap().to_ref();
        let seen = add_seen(added[0].uid);
        assert_eq!(b.store_flags(&a, &inbox_ref, &seen).unwrap().updated.len(), 1);
        // Another process holds the lock (a live pid: this test's).
        let maildir = tmp.path().join("alice/Maildir");
        let lock = maildir.join("dovecot-uidlist.lock");
        fs::write(&lock, format!("{}:elsewhere", std::process::id())).unwrap();
        let started = std::time::Instant::now();
        let again = b.store_flags(&a, &inbox_ref, &seen).unwrap();
        assert!(again.updated.is_empty() && again.failed.is_empty());
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        fs::remove_file(&lock).unwrap();

        // \Seen removed by another program renaming the file: the same
        // STORE now changes it back.
        let cur = maildir.join("cur");
        let name = fs::read_dir(&cur).unwrap().next().unwrap().unwrap().file_name();
        let name = name.to_str().unwrap().to_owned();
        assert!(name.ends_with(":2,S"), "{name}");
        fs::rename(cur.join(&name), cur.join(name.trim_end_matches('S'))).unwrap();
        let changed = b.store_flags(&a, &inbox_ref, &seen).unwrap();
        assert_eq!(changed.updated.len(), 1, "{changed:?}");
        assert!(cur.join(&name).exists(), "the file has \\Seen again");
    }

    /// A folder lock another process takes over (Dovecot takes one that
    /// was not touched for 120 s) while an operation holds it: every write
    /// of the uidlist checks first that the lock is still ours, so the
    /// operation fails with a temporary error and the uidlist stays as it
    /// was (or missing): delivery (the UIDs of new files), the
    /// reconciliation that records a file another program delivered, and
    /// the repairs of a missing uidlist and of one whose header cannot be
    /// read. With the lock back, each works and no UID is given twice.
    /// Replaces the lock file at `lock` by another process's (pid 1):
    /// Dovecot taking over a lock it found stale.
    fn take_over(lock: &Path) {
        fs::remove_file(lock).unwrap();
        fs::write(lock, format!("1:{}", fsutil::hostname())).unwrap();
    }

    /// Runs `f` on a fresh backend of `root` whose folder locks are taken
    /// over as soon as they are taken; checks that it fails with a
    /// temporary error and that none of `files` changed; then gives the
    /// lock back (removes the other's lock file) in `maildir`.
    fn taken_over(
        root: &Path,
        maildir: &Path,
        files: &[&str],
        what: &str,
        f: &dyn Fn(&MaildirBackend) -> Result<(), StoreError>,
    ) {
        let read = || {
            files
                .iter()
                .map(|n| fs::read(maildir.join(n)).ok())
                .collect::<Vec<_>>()
        };
        let before = read();
        let b = open_in(root);
        folder::AFTER_LOCKING.with(|h| h.set(Some(take_over)));
        let result = f(&b);
        folder::AFTER_LOCKING.with(|h| h.set(None));
        assert!(
            matches!(result, Err(StoreError::Temporary(_))),
            "{what}: {result:?}"
        );
        assert!(
            read() == before,
            "{what}: {files:?} written by a lock's former owner"
        );
        fs::remove_file(maildir.join("dovecot-uidlist.lock")).unwrap();
    }

    #[test]
    fn a_folder_lock_taken_over_mid_operation_stops_every_uidlist_write() {
        let (tmp, a, inbox, first, added) = two_messages();
        let added_validity = first.mailbox_snapshot(&a, &inbox).unwrap().uid_validity;
        drop(first);
        let maildir = tmp.path().join("alice/Maildir");
        let uidlist = maildir.join("dovecot-uidlist");
        let taken = |what: &str, f: &dyn Fn(&MaildirBackend) -> Result<(), StoreError>| {
            taken_over(tmp.path(), &maildir, &["dovecot-uidlist"], what, f)
        };
        let snapshot = |b: &MaildirBackend| b.mailbox_snapshot(&a, &inbox).map(drop);

        taken("append", &|b| {
            b.append(&a, &inbox, vec![message("three")]).map(drop)
        });
        assert_eq!(message_files(tmp.path()), 2, "the file of a failed append stays");

        let foreign = maildir.join("new/1700000000.M1P1.other");
        fs::write(&foreign, "Subject: delivered by another program\n\n").unwrap();
        taken("reconcile", &snapshot);

        // A record a killed writer left without its line end.
        let whole = fs::read(&uidlist).unwrap();
        fs::write(&uidlist, [&whole[..], b"99 :1700000000.M9P9.torn"].concat()).unwrap();
        taken("the cut of a torn record", &snapshot);
        fs::write(&uidlist, whole).unwrap();

        let header = fs::read_to_string(&uidlist).unwrap();
        let (first, rest) = header.split_once('\n').unwrap();
        fs::write(&uidlist, format!("garbage {first}\n{rest}")).unwrap();
        taken("repair of an unreadable header", &snapshot);

        // With the lock back: the three messages, the first two under the
        // UIDs they had.
        let uids = |b: &MaildirBackend| -> Vec<Uid> {
            let after = b.mailbox_snapshot(&a, &inbox).unwrap();
            assert_eq!(after.uid_validity, added_validity);
            after.messages.iter().map(|m| m.uid).collect()
        };
        let kept = uids(&open_in(tmp.path()));
        assert_eq!(kept.len(), 3, "{kept:?}");
        assert!(kept.windows(2).all(|w| w[0] < w[1]), "{kept:?}");
        assert!(added.iter().all(|m| kept.contains(&m.uid)), "{kept:?}");

        // A missing uidlist is made anew (with a new UIDVALIDITY, as
        // Dovecot does), only by the lock's owner.
        fs::remove_file(&uidlist).unwrap();
        taken("repair of a missing uidlist", &snapshot);
        let b = open_in(tmp.path());
        let after = b.mailbox_snapshot(&a, &inbox).unwrap();
        assert_ne!(after.uid_validity, added_validity);
        let uids: Vec<Uid> = after.messages.iter().map(|m| m.uid).collect();
        assert_eq!(uids.len(), 3, "{uids:?}");
        assert!(uids.windows(2).all(|w| w[0] < w[1]), "{uids:?}");
        let more = b.append(&a, &inbox, vec![message("four")]).unwrap().messages;
        assert!(uids.iter().all(|u| *u < more[0].uid));
    }

    /// As [`a_folder_lock_taken_over_mid_operation_stops_every_uidlist_write`]
    /// for the other writes under the folder lock: the compaction of the
    /// uidlist, and the journal's lines (flag changes, expunges, a claim of
    /// `\Recent`, a flag changed by another program, the rebuild of a
    /// damaged journal).
    #[test]
    fn a_folder_lock_taken_over_mid_operation_stops_compactions_and_journal_writes() {
        let (tmp, a, inbox) = setup();
        let maildir = tmp.path().join("alice/Maildir");
        let b = open_in(tmp.path());
        let messages = (0..70).map(|i| message(&format!("m{i}"))).collect();
        let added = b.append(&a, &inbox, messages).unwrap().messages;
        let r = b.mailbox(&a, &inbox).unwrap().to_ref();
        let taken = |what: &str, f: &dyn Fn(&MaildirBackend) -> Result<(), StoreError>| {
            taken_over(tmp.path(), &maildir, &["dovecot-uidlist", journal::NAME], what, f)
        };

        taken("a flag change", &|b| {
            b.store_flags(&a, &r, &add_seen(added[0].uid)).map(drop)
        });
        let some = ExpungeRequest {
            uids: Some(vec![added[1].uid]),
            only_deleted: false,
        };
        taken("an expunge", &|b| b.expunge(&a, &r, &some).map(drop));
        let next = Uid::new(added[69].uid.get() + 1).unwrap();
        taken("a claim of \\Recent", &|b| b.claim_recent(&a, &r, next).map(drop));
        // A mail reader moves a message to cur/ and flags it.
        let file = fs::read_dir(maildir.join("new"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let flagged = maildir
            .join("cur")
            .join(format!("{}:2,F", file.file_name().unwrap().to_str().unwrap()));
        fs::rename(&file, &flagged).unwrap();
        taken("a flag another program changed", &|b| {
            b.mailbox_snapshot(&a, &inbox).map(drop)
        });
        fs::rename(&flagged, &file).unwrap();

        let journal_path = maildir.join(journal::NAME);
        let text = fs::read_to_string(&journal_path).unwrap();
        fs::write(&journal_path, format!("damaged {text}")).unwrap();
        taken("the rebuild of the journal", &|b| {
            b.mailbox_snapshot(&a, &inbox).map(drop)
        });
        fs::write(&journal_path, text).unwrap();

        // 40 of the 70 expunged: a compaction is due at the next look.
        let many = ExpungeRequest {
            uids: Some(added[30..].iter().map(|m| m.uid).collect()),
            only_deleted: false,
        };
        assert_eq!(b.expunge(&a, &r, &many).unwrap().uids.len(), 40);
        let records = || {
            fs::read_to_string(maildir.join("dovecot-uidlist"))
                .unwrap()
                .lines()
                .count()
        };
        assert_eq!(records(), 71, "compacted already");
        taken("a compaction", &|b| b.mailbox_snapshot(&a, &inbox).map(drop));
        let after = open_in(tmp.path()).mailbox_snapshot(&a, &inbox).unwrap();
        assert_eq!(after.messages.len(), 30);
        assert_eq!(records(), 31, "not compacted with the lock back");
    }

    /// A user who can write to their own Maildir swaps `tmp/` for a link
    /// to another user's `cur/` just after the backend opened it to remove
    /// old leftovers: nothing of the other user's is removed, since the
    /// entries are listed and removed through the directory opened; the
    /// old leftover in the real `tmp/` is. Before, `tmp/` was checked, then
    /// listed and emptied by path, through the link: every message of the
    /// other user's older than 36 hours was deleted.
    #[test]
    fn a_tmp_swapped_for_a_link_while_leftovers_are_cleaned_removes_nothing_beyond_it() {
        fn swap(tmp: &Path) {
            let root = tmp.parent().unwrap().parent().unwrap().parent().unwrap();
            fs::rename(tmp, tmp.with_file_name("tmp.real")).unwrap();
            std::os::unix::fs::symlink(root.join("bob/Maildir/cur"), tmp).unwrap();
        }
        let (tmp, a, inbox) = setup();
        let bob = AccountName::new("bob").unwrap();
        let b = open_in(tmp.path());
        b.create_account(&bob).unwrap();
        b.append(&bob, &inbox, vec![message("bob's")]).unwrap();
        let bob_cur = tmp.path().join("bob/Maildir/cur");
        fs::write(
            bob_cur.join("1700000000.M1P1.h:2,S"),
            "Subject: bob's old mail\n\n",
        )
        .unwrap();
        drop(b);
        let bobs = || {
            ["new", "cur"]
                .iter()
                .map(|d| {
                    fs::read_dir(tmp.path().join("bob/Maildir").join(d))
                        .unwrap()
                        .count()
                })
                .sum::<usize>()
        };
        assert_eq!(bobs(), 2);
        let alice = tmp.path().join("alice/Maildir");
        fs::write(alice.join("tmp/1700000000.M2P2.leftover"), "half a message").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));

        folder::TMP_AGE.with(|t| t.set(Some(std::time::Duration::ZERO)));
        folder::AFTER_OPENING_TMP.with(|h| h.set(Some(swap)));
        let looked = open_in(tmp.path()).mailbox_snapshot(&a, &inbox);
        folder::AFTER_OPENING_TMP.with(|h| h.set(None));
        folder::TMP_AGE.with(|t| t.set(None));
        looked.unwrap();
        assert!(
            fs::symlink_metadata(alice.join("tmp"))
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(bobs(), 2, "another user's mail was removed");
        assert_eq!(fs::read_dir(alice.join("tmp.real")).unwrap().count(), 0);
    }

    /// Without `flush_flag_changes`, a power failure may lose the journal
    /// lines of the last flag changes and expunges. The files still tell:
    /// the next look records a flag change found in a file name, and an
    /// expunge found in a missing file, each with a MODSEQ above every one
    /// given before, so no client's CHANGEDSINCE misses them.
    #[test]
    fn flag_changes_and_expunges_whose_journal_lines_were_lost_are_recovered() {
        let options = MaildirOptions::default().with_flag_changes_flushed(false);
        let (tmp, a, inbox, b, added) = two_messages_with(options);
        let inbox_ref = b.mailbox(&a, &inbox).unwrap().to_ref();
        let journal_path = tmp.path().join("alice/Maildir").join(journal::NAME);
        let before_changes = fs::read_to_string(&journal_path).unwrap();
        let seen = add_seen(added[0].uid);
        let highest = b.store_flags(&a, &inbox_ref, &seen).unwrap().updated[0].modseq;
        let gone = ExpungeRequest {
            uids: Some(vec![added[1].uid]),
            only_deleted: false,
        };
        let expunged = b.expunge(&a, &inbox_ref, &gone).unwrap().modseq.unwrap();
        assert!(expunged > highest);
        let highest = expunged;
        drop(b);
        // The lines written since were lost.
        fs::write(&journal_path, before_changes).unwrap();

        let fresh = open_in(tmp.path());
        let snapshot = fresh.mailbox_snapshot(&a, &inbox).unwrap();
        assert_eq!(snapshot.messages.len(), 1, "the expunge is found again");
        let first = &snapshot.messages[0];
        assert_eq!(first.uid, added[0].uid);
        assert!(first.flags.system.contains(crate::flags::SystemFlags::SEEN));
        assert!(first.modseq > highest, "{:?} after {highest:?}", first.modseq);
        let gone = fresh.tombstones(&a, &inbox_ref, highest).unwrap();
        assert!(
            gone.iter().any(|t| t.uid == added[1].uid && t.modseq > highest),
            "{gone:?}"
        );
    }

    /// An expunge whose journal lines cannot be written for lack of space
    /// is made all the same: the files leave the folder (deleting mail is
    /// how a user frees space), the content stays readable until purged,
    /// and purging it, which frees space, writes the lines with the MODSEQ
    /// the expunge reported. Before, the files were moved back and the
    /// expunge refused, again at every retry.
    #[test]
    fn an_expunge_whose_journal_finds_no_room_is_made() {
        let (tmp, a, inbox, b, added) = two_messages();
        let uids: Vec<Uid> = added.iter().map(|m| m.uid).collect();
        let inbox_ref = b.mailbox(&a, &inbox).unwrap().to_ref();
        let before = b.mailbox_snapshot(&a, &inbox).unwrap().highest_modseq;
        let journal_path = tmp.path().join("alice/Maildir").join(journal::NAME);
        let journal_before = fs::read_to_string(&journal_path).unwrap();
        let request = ExpungeRequest {
            uids: None,
            only_deleted: false,
        };
        journal::FAIL_WRITES.with(|f| f.set(Some(StoreError::Temporary)));
        let done = b.expunge(&a, &inbox_ref, &request);
        journal::FAIL_WRITES.with(|f| f.set(None));
        let done = done.expect("an expunge on a full disk");
        assert_eq!(done.uids, uids);
        let m = done.modseq.unwrap();
        assert!(m > before);
        assert_eq!(message_files(tmp.path()), 0, "the files left the folder");
        assert_eq!(fs::read_to_string(&journal_path).unwrap(), journal_before);
        assert!(uids_of(&b, &a, &inbox).is_empty());
        let content = b.read_message(&a, &inbox_ref, uids[1]).unwrap();
        assert!(String::from_utf8_lossy(&content).contains("two"));

        b.purge(&a, &inbox_ref, &uids).unwrap();
        let journal = fs::read_to_string(&journal_path).unwrap();
        for uid in &uids {
            assert!(
                journal.contains(&format!("\nx{} {}\n", uid.get(), m.get())),
                "{journal}"
            );
        }
        let fresh = open_in(tmp.path());
        let snapshot = fresh.mailbox_snapshot(&a, &inbox).unwrap();
        assert!(snapshot.messages.is_empty());
        assert_eq!(snapshot.highest_modseq, m);
        let vanished = fresh.vanished_since(&a, &inbox_ref, before).unwrap();
        assert_eq!(vanished.iter().collect::<Vec<_>>(), uids);
    }

    /// The name of INBOX's only message file.
    fn only_file(root: &Path) -> String {
        let md = root.join("alice/Maildir");
        let mut names = ["new", "cur"]
            .iter()
            .flat_map(|d| fs::read_dir(md.join(d)).unwrap())
            .map(|e| e.unwrap().file_name().into_string().unwrap());
        let name = names.next().unwrap();
        assert!(names.next().is_none());
        name
    }

    /// How many files (not directories) are below `dir`, at any depth.
    fn files_below(dir: &Path) -> usize {
        fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .map(|p| if p.is_dir() { files_below(&p) } else { 1 })
            .sum()
    }

    fn flags_in(b: &MaildirBackend, a: &AccountName, inbox: &MailboxName) -> Vec<Flags> {
        let snapshot = b.mailbox_snapshot(a, inbox).unwrap();
        snapshot.messages.iter().map(|m| m.flags.clone()).collect()
    }

    /// An account the store releases is dropped from memory, with the
    /// content kept of its expunged messages, and read again from its
    /// files when next used; not while a call holds it, nor while its
    /// journal holds lines a full disk kept from the file.
    #[test]
    fn a_released_account_is_dropped_unless_in_use_or_unsaved() {
        let (tmp, a, inbox, b, added) = two_messages();
        let r = b.mailbox(&a, &inbox).unwrap().to_ref();
        let cached = |b: &MaildirBackend| b.accounts.lock().unwrap().contains_key(&a);
        let expunge = ExpungeRequest {
            uids: Some(vec![added[0].uid]),
            only_deleted: false,
        };
        b.expunge(&a, &r, &expunge).unwrap();
        let kept = b.read_message(&a, &r, added[0].uid).expect("kept content");
        assert!(String::from_utf8_lossy(&kept).contains("one"));
        let kept_files = || files_below(&tmp.path().join("alice/Maildir"));
        let with_kept = kept_files();

        let held = b.account(&a);
        b.release_account(&a);
        assert!(cached(&b), "dropped while a call held it");
        drop(held);

        let seen = add_seen(added[1].uid);
        journal::FAIL_WRITES.with(|f| f.set(Some(StoreError::Temporary)));
        let stored = b.store_flags(&a, &r, &seen);
        journal::FAIL_WRITES.with(|f| f.set(None));
        let modseq = stored.expect("a STORE on a full disk").updated[0].modseq;
        b.release_account(&a);
        assert!(cached(&b), "dropped with journal lines only in memory");

        let flagged = StoreFlags {
            flags: Flags::parse(["\\Flagged"]).unwrap(),
            ..seen
        };
        b.store_flags(&a, &r, &flagged).unwrap();
        b.release_account(&a);
        assert!(!cached(&b));
        assert_eq!(kept_files(), with_kept - 1, "the kept content is removed");
        assert!(b.read_message(&a, &r, added[0].uid).is_err());
        let now = uids_of(&b, &a, &inbox);
        assert_eq!(now.len(), 1);
        assert_eq!(now[0].0, added[1].uid);
        assert!(now[0].1 > modseq, "{now:?}");
        let flags = flags_in(&b, &a, &inbox);
        assert!(
            flags[0]
                .system
                .contains(crate::flags::SystemFlags::SEEN | crate::flags::SystemFlags::FLAGGED)
        );
    }

    /// A flag change whose journal line finds no room (a full disk) is
    /// made and reported, as the file name says; the line is written with
    /// the next write. Another failure (a broken device) answers NO and
    /// puts the file name back: a STORE answered NO changes no flag, for
    /// this instance or a fresh one. Before, either failure answered NO
    /// with the file renamed, which every reader takes as the change made.
    #[test]
    fn a_flag_change_is_made_on_a_full_disk_and_undone_on_a_failure() {
        let (tmp, a, inbox) = setup();
        let b = open_in(tmp.path());
        let added = b.append(&a, &inbox, vec![message("one")]).unwrap().messages;
        let r = b.mailbox(&a, &inbox).unwrap().to_ref();
        let seen = add_seen(added[0].uid);
        let plain = (only_file(tmp.path()), flags_in(&b, &a, &inbox));

        journal::FAIL_WRITES.with(|f| f.set(Some(StoreError::Permanent)));
        let refused = b.store_flags(&a, &r, &seen);
        journal::FAIL_WRITES.with(|f| f.set(None));
        assert!(matches!(refused, Err(StoreError::Permanent(_))), "{refused:?}");
        assert_eq!(only_file(tmp.path()), plain.0, "the name is back");
        assert_eq!(flags_in(&b, &a, &inbox), plain.1);
        assert_eq!(flags_in(&open_in(tmp.path()), &a, &inbox), plain.1);

        journal::FAIL_WRITES.with(|f| f.set(Some(StoreError::Temporary)));
        let stored = b.store_flags(&a, &r, &seen);
        journal::FAIL_WRITES.with(|f| f.set(None));
        let update = stored.expect("a STORE on a full disk").updated;
        assert_eq!(update.len(), 1);
        assert!(update[0].flags.system.contains(crate::flags::SystemFlags::SEEN));
        assert!(only_file(tmp.path()).ends_with(":2,S"));
        assert_eq!(flags_in(&b, &a, &inbox), [update[0].flags.clone()]);
        let fresh = open_in(tmp.path());
        assert_eq!(flags_in(&fresh, &a, &inbox), [update[0].flags.clone()]);
        assert!(fresh.mailbox_snapshot(&a, &inbox).unwrap().messages[0].modseq >= update[0].modseq);
    }

    /// A write that fails and is undone (a STORE answered NO, an expunge
    /// moved back, an append abandoned) makes this instance read the
    /// folder's files again, but not forget what it reported or the
    /// content it keeps: a message another instance delivered meanwhile
    /// is reported by the next sync, and a message this instance expunged
    /// can still be read by sessions that have not learnt of it. Before,
    /// the rollback dropped both: the next sync took the disk as reported
    /// (the delivery was never announced) and the kept content was lost.
    #[test]
    fn a_rolled_back_write_keeps_what_was_reported() {
        let (tmp, a, inbox, b, added) = two_messages();
        let r = b.mailbox(&a, &inbox).unwrap().to_ref();
        assert!(b.sync(&a, &r).unwrap().is_empty());
        let one = ExpungeRequest {
            uids: Some(vec![added[1].uid]),
            only_deleted: false,
        };
        assert_eq!(b.expunge(&a, &r, &one).unwrap().uids, [added[1].uid]);
        let other = open_in(tmp.path());
        let three = other.append(&a, &inbox, vec![message("three")]).unwrap().messages;
        let seen = add_seen(added[0].uid);
        journal::FAIL_WRITES.with(|f| f.set(Some(StoreError::Permanent)));
        let refused = b.store_flags(&a, &r, &seen);
        journal::FAIL_WRITES.with(|f| f.set(None));
        assert!(matches!(refused, Err(StoreError::Permanent(_))), "{refused:?}");

        let content = b.read_message(&a, &r, added[1].uid).unwrap();
        assert!(String::from_utf8_lossy(&content).contains("two"));
        let changes = b.sync(&a, &r).unwrap();
        assert!(
            matches!(&changes[..], [ExternalChange::Added(m)] if m.uid == three[0].uid),
            "{changes:?}"
        );
        assert!(b.sync(&a, &r).unwrap().is_empty());
        let content = b.read_message(&a, &r, added[1].uid).unwrap();
        assert!(String::from_utf8_lossy(&content).contains("two"));
        b.purge(&a, &r, &[added[1].uid]).unwrap();
        assert!(matches!(
            b.read_message(&a, &r, added[1].uid),
            Err(StoreError::NoSuchMessage(_))
        ));

        // An expunge moved back and an append abandoned do the same.
        let other_four = other.append(&a, &inbox, vec![message("four")]).unwrap().messages;
        let all = ExpungeRequest {
            uids: None,
            only_deleted: false,
        };
        journal::FAIL_WRITES.with(|f| f.set(Some(StoreError::Permanent)));
        let refused = b.expunge(&a, &r, &all);
        journal::FAIL_WRITES.with(|f| f.set(None));
        assert!(refused.is_err(), "{refused:?}");
        let other_five = other.append(&a, &inbox, vec![message("five")]).unwrap().messages;
        uidlist::FAIL_APPENDS.with(|f| f.set(true));
        let refused = b.append(&a, &inbox, vec![message("six")]);
        uidlist::FAIL_APPENDS.with(|f| f.set(false));
        assert!(refused.is_err(), "{refused:?}");
        let added_uids: Vec<Uid> = b
            .sync(&a, &r)
            .unwrap()
            .iter()
            .filter_map(|c| match c {
                ExternalChange::Added(m) => Some(m.uid),
                _ => None,
            })
            .collect();
        assert_eq!(added_uids, [other_four[0].uid, other_five[0].uid]);
    }

    /// After a rolled-back write, a folder found under another
    /// UIDVALIDITY (its uidlist rebuilt by another program) is a new
    /// mailbox: the content this instance kept of the old one's expunged
    /// messages is not served under the new one's UIDs.
    #[test]
    fn a_rolled_back_write_then_a_new_uidvalidity_forgets_the_old_folder() {
        let (tmp, a, inbox, b, added) = two_messages();
        let r = b.mailbox(&a, &inbox).unwrap().to_ref();
        let one = ExpungeRequest {
            uids: Some(vec![added[1].uid]),
            only_deleted: false,
        };
        b.expunge(&a, &r, &one).unwrap();
        let seen = add_seen(added[0].uid);
        journal::FAIL_WRITES.with(|f| f.set(Some(StoreError::Permanent)));
        assert!(b.store_flags(&a, &r, &seen).is_err());
        journal::FAIL_WRITES.with(|f| f.set(None));

        let path = tmp.path().join("alice/Maildir/dovecot-uidlist");
        let old = r.uid_validity.get();
        let text = fs::read_to_string(&path).unwrap();
        let renumbered = text.replacen(&format!("V{old} "), &format!("V{} ", old + 7), 1);
        assert_ne!(text, renumbered);
        fs::write(&path, renumbered).unwrap();

        assert!(b.sync(&a, &r).is_err(), "the old UIDVALIDITY is gone");
        let snapshot = b.mailbox_snapshot(&a, &inbox).unwrap();
        assert_eq!(snapshot.uid_validity.get(), old + 7);
        let new = MailboxRef {
            name: inbox.clone(),
            uid_validity: snapshot.uid_validity,
        };
        assert!(
            matches!(
                b.read_message(&a, &new, added[1].uid),
                Err(StoreError::NoSuchMessage(_))
            ),
            "the old folder's kept content is not the new one's"
        );
        assert!(b.sync(&a, &new).unwrap().is_empty());
    }

    /// The octets this thread has read through system calls (Linux's
    /// `/proc/thread-self/io`).
    #[cfg(target_os = "linux")]
    fn thread_read_octets() -> u64 {
        let io = fs::read_to_string("/proc/thread-self/io").unwrap();
        io.lines()
            .find_map(|l| l.strip_prefix("rchar: "))
            .and_then(|n| n.trim().parse().ok())
            .unwrap()
    }

    /// A sparse message file without a `W=` size, planted by whoever can
    /// write to the Maildir, is sized from the data it holds: its holes
    /// (zeros, no LF) count their length unread. Before, the file was read
    /// whole, under the folder lock: 16 GiB of zeros read for a file of
    /// 4 KiB on disk, and a tebibyte took minutes.
    #[test]
    #[cfg(target_os = "linux")]
    fn a_sparse_message_file_is_sized_without_reading_its_holes() {
        use std::io::{Seek, SeekFrom, Write};
        let (tmp, a, inbox) = setup();
        let claimed = 16u64 << 30;
        let path = tmp.path().join("alice/Maildir/cur/1700000000.M1P1.sparse:2,");
        let mut file = fs::File::create(&path).unwrap();
        file.write_all(b"Subject: sparse\n\nline\n").unwrap();
        file.seek(SeekFrom::Start(claimed / 2)).unwrap();
        file.write_all(b"\nmiddle\r\n").unwrap();
        file.set_len(claimed).unwrap();
        drop(file);
        let b = open_in(tmp.path());
        let before = thread_read_octets();
        let snapshot = b.mailbox_snapshot(&a, &inbox).unwrap();
        let read = thread_read_octets() - before;
        assert_eq!(snapshot.messages.len(), 1);
        // Three bare LFs at the start, one after the hole.
        assert_eq!(snapshot.messages[0].size, claimed + 4);
        assert!(read < 8 << 20, "{read} octets read to size it");
    }

    /// A message file larger than `max_read_whole` is not read whole into
    /// memory: `read_message` fails with a Limit error, and the file is
    /// read in pieces through `open_message`. A sparse file that claims a
    /// tebibyte (planted by whoever can write to the Maildir) is refused
    /// without an allocation of its size.
    #[test]
    fn a_message_file_too_large_to_read_whole_is_refused() {
        let (tmp, a, inbox) = setup();
        let cur = tmp.path().join("alice/Maildir/cur");
        for (name, len) in [
            ("1700000000.M1P1.big,W=2097152:2,", 2u64 << 20),
            ("1700000001.M2P1.huge,W=1099511627776:2,", 1 << 40),
        ] {
            let f = fs::File::create(cur.join(name)).unwrap();
            f.set_len(len).unwrap();
        }
        let b = MaildirBackend::with_options(
            tmp.path(),
            MaildirOptions::default()
                .with_fsync(false)
                .with_max_read_whole(1 << 20),
        )
        .unwrap();
        let snapshot = b.mailbox_snapshot(&a, &inbox).unwrap();
        let r = b.mailbox(&a, &inbox).unwrap().to_ref();
        assert_eq!(snapshot.messages.len(), 2);
        for m in &snapshot.messages {
            let read = b.read_message(&a, &r, m.uid);
            assert!(
                matches!(read, Err(StoreError::Limit(_))),
                "{:?}",
                read.map(|content| content.len())
            );
        }
        let mut start = vec![0u8; 4096];
        b.open_message(&a, &r, snapshot.messages[1].uid)
            .unwrap()
            .read_exact(&mut start)
            .unwrap();
        assert!(start.iter().all(|&b| b == 0));
        // Within the limit, as before.
        let small = b.append(&a, &inbox, vec![message("small")]).unwrap().messages;
        assert_eq!(
            &b.read_message(&a, &r, small[0].uid).unwrap()[..],
            b"Subject: small\r\n\r\nsmall\r\n"
        );
    }

    /// A MOVE within one mailbox whose expunge of the originals fails (a
    /// rename or the journal failing for good) expunges the copies again
    /// from the folder read anew: the mailbox is left as it was, journal
    /// included. Before, the undo ran on the folder the failed expunge had
    /// just dropped from memory: the copy stayed (the message twice), and
    /// the journal was written over from nothing (its UIDVALIDITY 0, every
    /// tombstone and MODSEQ lost).
    #[test]
    fn a_move_within_a_mailbox_whose_expunge_fails_leaves_it_as_it_was() {
        let (tmp, a, inbox, b, added) = two_messages();
        let r = b.mailbox(&a, &inbox).unwrap().to_ref();
        let journal_path = tmp.path().join("alice/Maildir").join(journal::NAME);
        let header = |text: &str| text.lines().next().unwrap().to_owned();
        let before = header(&fs::read_to_string(&journal_path).unwrap());

        folder::FAIL_EXPUNGES.with(|f| f.set(1));
        let failed = b.move_messages(&a, &r, &[added[0].uid], &inbox);
        folder::FAIL_EXPUNGES.with(|f| f.set(0));
        assert!(failed.is_err(), "{failed:?}");
        assert_eq!(message_files(tmp.path()), 2, "the copy was not undone");
        assert_eq!(header(&fs::read_to_string(&journal_path).unwrap()), before);
        let want: Vec<Uid> = added.iter().map(|m| m.uid).collect();
        for backend in [&b, &open_in(tmp.path())] {
            let snapshot = backend.mailbox_snapshot(&a, &inbox).unwrap();
            assert_eq!(snapshot.uid_validity, r.uid_validity);
            let uids: Vec<Uid> = snapshot.messages.iter().map(|m| m.uid).collect();
            assert_eq!(uids, want);
        }
    }

    /// One mailbox looked up by name is the entry the listing gives it,
    /// a folder another program made included (it gets a uidlist); a name
    /// with no folder, or with a file or a link in its place, is no
    /// mailbox.
    #[test]
    fn a_mailbox_looked_up_alone_is_its_listed_entry() {
        let (tmp, a, inbox) = setup();
        let b = open_in(tmp.path());
        for name in ["Work", "Work/Reports", "Entw\u{fc}rfe"] {
            b.create_mailbox(&a, &MailboxName::new(name).unwrap(), &[SpecialUse::Archive])
                .unwrap();
        }
        let maildir = tmp.path().join("alice/Maildir");
        for sub in ["cur", "new", "tmp"] {
            fs::create_dir_all(maildir.join(".Other").join(sub)).unwrap();
        }
        fs::write(maildir.join(".Plain"), b"not a folder").unwrap();
        std::os::unix::fs::symlink(maildir.join(".Work"), maildir.join(".Linked")).unwrap();
        let fresh = open_in(tmp.path());
        let other = MailboxName::new("Other").unwrap();
        let alone = fresh.mailbox(&a, &other).unwrap();
        assert!(maildir.join(".Other/dovecot-uidlist").exists());
        let listed = fresh.list_mailboxes(&a).unwrap();
        let names: Vec<&str> = listed.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["Entw\u{fc}rfe", "INBOX", "Other", "Work", "Work/Reports"]);
        for entry in &listed {
            assert_eq!(&fresh.mailbox(&a, &entry.name).unwrap(), entry);
        }
        assert_eq!(listed.iter().find(|m| m.name == other), Some(&alone));
        assert_eq!(fresh.mailbox(&a, &inbox).unwrap().name, inbox);
        for missing in ["Nothing", "Plain", "Linked", "Work/None"] {
            let name = MailboxName::new(missing).unwrap();
            assert!(
                matches!(fresh.mailbox(&a, &name), Err(StoreError::NoSuchMailbox(_))),
                "{missing}"
            );
        }
    }

    /// A read-write SELECT claims `\Recent` for the new messages: a claim
    /// that cannot be written for lack of space does not fail it. The
    /// claim holds for this instance, and is written with its next write.
    #[test]
    fn a_recent_claim_that_finds_no_room_holds_in_memory() {
        let (tmp, a, inbox, b, added) = two_messages();
        let r = b.mailbox(&a, &inbox).unwrap().to_ref();
        let up_to = added[1].uid.next().unwrap();
        journal::FAIL_WRITES.with(|f| f.set(Some(StoreError::Temporary)));
        let claimed = b.claim_recent(&a, &r, up_to);
        journal::FAIL_WRITES.with(|f| f.set(None));
        assert_eq!(claimed.expect("a claim on a full disk"), Uid::MIN);
        assert_eq!(b.claim_recent(&a, &r, up_to).unwrap(), up_to, "claimed twice");
        b.append(&a, &inbox, vec![message("three")]).unwrap();
        assert_eq!(open_in(tmp.path()).claim_recent(&a, &r, Uid::MIN).unwrap(), up_to);
        // Another failure still fails it.
        journal::FAIL_WRITES.with(|f| f.set(Some(StoreError::Permanent)));
        let failed = b.claim_recent(&a, &r, up_to.next().unwrap().next().unwrap());
        journal::FAIL_WRITES.with(|f| f.set(None));
        assert!(matches!(failed, Err(StoreError::Permanent(_))), "{failed:?}");
    }

    /// An expunge whose journal lines cannot be written for another
    /// reason than a passing one (a failing device) moves the files back
    /// and fails: the messages stay, with their UIDs, for this instance and
    /// a fresh one, and nothing is left in the kept directory.
    /// A conditional STORE (`UNCHANGEDSINCE`, RFC 7162 section 3.1.3) on a
    /// message whose flags another program changed since the backend last
    /// looked: the change is recorded first (a new MODSEQ), so the STORE
    /// fails its condition and leaves that change alone. It compared with
    /// the MODSEQ of before, passed, and `FLAGS (\Seen \Deleted)` took
    /// away the `\Flagged` the other program had set.
    #[test]
    fn a_conditional_store_sees_a_change_another_program_made() {
        let (tmp, a, inbox, b, added) = two_messages();
        let inbox_ref = b.mailbox(&a, &inbox).unwrap().to_ref();
        b.store_flags(&a, &inbox_ref, &add_seen(added[0].uid)).unwrap();
        let before = b.mailbox_snapshot(&a, &inbox).unwrap();
        let modseq = before
            .messages
            .iter()
            .find(|m| m.uid == added[0].uid)
            .unwrap()
            .modseq;
        // A mail reader flags it: `:2,S` becomes `:2,FS`.
        let cur = tmp.path().join("alice/Maildir/cur");
        for entry in fs::read_dir(&cur).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            if let Some(base) = name.strip_suffix(":2,S") {
                fs::rename(cur.join(&name), cur.join(format!("{base}:2,FS"))).unwrap();
            }
        }
        let conditional = StoreFlags {
            uids: vec![added[0].uid],
            action: crate::flags::FlagAction::Replace,
            flags: Flags::parse(["\\Seen", "\\Deleted"]).unwrap(),
            condition: Some(StoreCondition::UnchangedSince(modseq)),
        };
        let stored = b.store_flags(&a, &inbox_ref, &conditional).unwrap();
        assert_eq!(stored.failed, [added[0].uid], "{stored:?}");
        let after = open_in(tmp.path()).mailbox_snapshot(&a, &inbox).unwrap();
        let first = after.messages.iter().find(|m| m.uid == added[0].uid).unwrap();
        assert_eq!(first.flags, Flags::parse(["\\Seen", "\\Flagged"]).unwrap());
        assert!(first.modseq > modseq);
    }

    /// A file name whose info holds spaces (`:2,S 1 2 99999`, as the user
    /// may name a file of their own Maildir) is recorded with its real
    /// size and date, and a second look finds nothing changed. The info
    /// was written unescaped into the journal's line, whose fields it
    /// then set (a size of 99,999), and it never matched the name again:
    /// a new MODSEQ at every look.
    #[test]
    fn a_file_name_with_spaces_in_its_info_writes_no_fields() {
        let (tmp, a, inbox, b, _) = two_messages();
        let maildir = tmp.path().join("alice/Maildir");
        let content = "Subject: named by hand\r\n\r\nbody\r\n";
        fs::write(maildir.join("cur/1700000000.M7P7.host:2,S 1 2 99999"), content).unwrap();
        let inbox_ref = b.mailbox(&a, &inbox).unwrap().to_ref();
        b.sync(&a, &inbox_ref).unwrap();
        let snapshot = b.mailbox_snapshot(&a, &inbox).unwrap();
        let named = snapshot.messages.last().unwrap();
        assert_eq!(named.size, content.len() as u64, "{named:?}");
        assert!(named.internal_date.unix_seconds > 1_700_000_000, "{named:?}");
        assert!(b.sync(&a, &inbox_ref).unwrap().is_empty());
        let again = open_in(tmp.path()).mailbox_snapshot(&a, &inbox).unwrap();
        assert_eq!(again.highest_modseq, snapshot.highest_modseq);
        assert_eq!(again.messages.last(), Some(named));
    }

    /// A file another program delivered and then renamed (a mail reader
    /// moving it from new/ to cur/) between a reconciliation's listing and
    /// its look at the file: not recorded then, it is recorded by the next
    /// reconciliation with its size and date. It was recorded with a size
    /// of 0 and a date of 1970, and kept them.
    #[test]
    fn a_file_renamed_before_it_is_described_gets_its_size_and_date() {
        let (tmp, a, inbox, b, _) = two_messages();
        let maildir = tmp.path().join("alice/Maildir");
        fs::write(
            maildir.join("new/1700000000.M1P1.other"),
            "Subject: delivered by another program\n\nbody\n",
        )
        .unwrap();
        fn move_to_cur(dir: &Path) {
            for entry in fs::read_dir(dir.join("new")).unwrap() {
                let name = entry.unwrap().file_name().to_string_lossy().into_owned();
                fs::rename(
                    dir.join("new").join(&name),
                    dir.join("cur").join(format!("{name}:2,S")),
                )
                .unwrap();
            }
        }
        let inbox_ref = b.mailbox(&a, &inbox).unwrap().to_ref();
        folder::BEFORE_DESCRIBING.with(|h| h.set(Some(move_to_cur)));
        let polled = b.sync(&a, &inbox_ref);
        folder::BEFORE_DESCRIBING.with(|h| h.set(None));
        polled.unwrap();
        assert_eq!(message_files(tmp.path()), 3);
        assert!(
            fs::read_dir(maildir.join("new")).unwrap().next().is_none(),
            "the hook ran"
        );
        b.sync(&a, &inbox_ref).unwrap();
        let expected = "Subject: delivered by another program\r\n\r\nbody\r\n".len() as u64;
        for backend in [&b, &open_in(tmp.path())] {
            let snapshot = backend.mailbox_snapshot(&a, &inbox).unwrap();
            assert_eq!(snapshot.messages.len(), 3);
            let other = snapshot.messages.last().unwrap();
            assert_eq!(other.size, expected, "{other:?}");
            assert!(other.internal_date.unix_seconds > 1_700_000_000, "{other:?}");
            assert!(other.flags.system.contains(crate::SystemFlags::SEEN), "{other:?}");
        }
    }

    /// Another program (a mail reader that takes no lock) renames the
    /// files of a folder (here: sets `\Seen`) between an expunge's look-up
    /// and its rename: the files are looked for again and expunged. Taken
    /// for gone, they stayed, reported expunged, and every instance that
    /// read the folder afterwards listed them again under their UIDs.
    #[test]
    fn an_expunge_finds_files_another_program_renamed_meanwhile() {
        let (tmp, a, inbox, b, _) = two_messages();
        let inbox_ref = b.mailbox(&a, &inbox).unwrap().to_ref();
        fn mark_seen(dir: &Path) {
            for sub in ["new", "cur"] {
                for entry in fs::read_dir(dir.join(sub)).unwrap() {
                    let name = entry.unwrap().file_name().to_string_lossy().into_owned();
                    let seen = match name.split_once(":2,") {
                        Some((_, info)) if info.contains('S') => continue,
                        Some(_) => format!("{name}S"),
                        None => format!("{name}:2,S"),
                    };
                    fs::rename(dir.join(sub).join(&name), dir.join("cur").join(seen)).unwrap();
                }
            }
        }
        let request = ExpungeRequest {
            uids: None,
            only_deleted: false,
        };
        folder::BEFORE_EXPUNGE_RENAME.with(|h| h.set(Some(mark_seen)));
        let done = b.expunge(&a, &inbox_ref, &request);
        folder::BEFORE_EXPUNGE_RENAME.with(|h| h.set(None));
        assert_eq!(done.unwrap().uids.len(), 2);
        assert_eq!(message_files(tmp.path()), 0, "a file renamed meanwhile stayed");
        assert!(uids_of(&b, &a, &inbox).is_empty());
        assert!(
            uids_of(&open_in(tmp.path()), &a, &inbox).is_empty(),
            "expunged UIDs came back"
        );
    }

    #[test]
    fn an_expunge_whose_journal_fails_for_good_deletes_nothing() {
        let (tmp, a, inbox, b, added) = two_messages();
        let inbox_ref = b.mailbox(&a, &inbox).unwrap().to_ref();
        let before = uids_of(&b, &a, &inbox);
        let request = ExpungeRequest {
            uids: None,
            only_deleted: false,
        };
        journal::FAIL_WRITES.with(|f| f.set(Some(StoreError::Permanent)));
        let refused = b.expunge(&a, &inbox_ref, &request);
        journal::FAIL_WRITES.with(|f| f.set(None));
        assert!(matches!(refused, Err(StoreError::Permanent(_))), "{refused:?}");
        assert_eq!(message_files(tmp.path()), 2, "the files are back");
        let kept = tmp.path().join("alice/Maildir").join(folder::EXPUNGED_DIR);
        for dir in fs::read_dir(&kept).unwrap() {
            assert_eq!(fs::read_dir(dir.unwrap().path()).unwrap().count(), 0);
        }
        assert_eq!(uids_of(&b, &a, &inbox), before);
        assert_eq!(uids_of(&open_in(tmp.path()), &a, &inbox), before);
        let content = b.read_message(&a, &inbox_ref, added[1].uid).unwrap();
        assert!(String::from_utf8_lossy(&content).contains("two"));
        // And it works once the device works again.
        let done = b.expunge(&a, &inbox_ref, &request).unwrap();
        assert_eq!(done.uids.len(), 2);
        assert_eq!(message_files(tmp.path()), 0);
    }

    /// A message whose file is in new/ and whose UID is in the uidlist is
    /// delivered, even if its journal line could not be written: the
    /// append reports success (a retry would deliver it twice), every
    /// instance lists it once under that UID, and the journal gets its
    /// line at this instance's next write.
    #[test]
    fn an_append_whose_journal_write_fails_is_delivered_once() {
        let (tmp, a, inbox) = setup();
        let b = open_in(tmp.path());
        let first = b.append(&a, &inbox, vec![message("kept")]).unwrap();

        journal::FAIL_WRITES.with(|f| f.set(Some(StoreError::Temporary)));
        let appended = b.append(&a, &inbox, vec![message("late")]);
        journal::FAIL_WRITES.with(|f| f.set(None));
        let late = appended.expect("a delivered message reported failed").messages[0].clone();
        assert!(late.uid > first.messages[0].uid);
        assert_eq!(message_files(tmp.path()), 2);
        let journal = fs::read_to_string(tmp.path().join("alice/Maildir").join(journal::NAME)).unwrap();
        assert!(!journal.contains(&format!("+{} ", late.uid.get())), "{journal}");

        let want = vec![
            (first.messages[0].uid, first.messages[0].modseq),
            (late.uid, late.modseq),
        ];
        assert_eq!(uids_of(&b, &a, &inbox), want);
        // The next write of this instance saves the line it could not.
        b.append(&a, &inbox, vec![message("next")]).unwrap();
        let journal = fs::read_to_string(tmp.path().join("alice/Maildir").join(journal::NAME)).unwrap();
        assert!(
            journal.contains(&format!("+{} {} ", late.uid.get(), late.modseq.get())),
            "{journal}"
        );
        let fresh = open_in(tmp.path());
        assert_eq!(uids_of(&fresh, &a, &inbox)[..2], want[..]);
        let r = MailboxRef {
            name: inbox.clone(),
            uid_validity: fresh.mailbox_snapshot(&a, &inbox).unwrap().uid_validity,
        };
        assert_eq!(
            &fresh.read_message(&a, &r, late.uid).unwrap()[..],
            b"Subject: late\r\n\r\nlate\r\n"
        );
    }

    /// The same failure, when no write of this instance follows: another
    /// instance reconciles and describes the file from the disk, under the
    /// UID the append reported.
    #[test]
    fn a_missing_journal_line_is_completed_by_the_next_reconciliation() {
        let (tmp, a, inbox) = setup();
        let b = open_in(tmp.path());
        journal::FAIL_WRITES.with(|f| f.set(Some(StoreError::Temporary)));
        let appended = b.append(&a, &inbox, vec![message("late")]);
        journal::FAIL_WRITES.with(|f| f.set(None));
        let late = appended.unwrap().messages[0].uid;
        drop(b);
        let fresh = open_in(tmp.path());
        let uids: Vec<Uid> = uids_of(&fresh, &a, &inbox).into_iter().map(|(u, _)| u).collect();
        assert_eq!(uids, [late]);
        let journal = fs::read_to_string(tmp.path().join("alice/Maildir").join(journal::NAME)).unwrap();
        assert!(journal.contains(&format!("+{} ", late.get())), "{journal}");
    }

    /// Files of a folder by name, in its new/ and cur/.
    fn folder_files(root: &Path, folder: &str) -> usize {
        ["new", "cur"]
            .iter()
            .map(|d| {
                fs::read_dir(root.join("alice/Maildir").join(folder).join(d))
                    .unwrap()
                    .count()
            })
            .sum()
    }

    /// A COPY whose UIDs cannot be recorded in the target (a full disk)
    /// leaves no file there: the next reconciliation would otherwise add
    /// what the client was told failed, and a retry would add it twice.
    /// An INBOX with two messages (their UIDs) and an empty Archive.
    fn inbox_and_archive() -> (
        tempfile::TempDir,
        AccountName,
        MaildirBackend,
        MailboxRef,
        Vec<Uid>,
    ) {
        let (tmp, a, inbox, b, added) = two_messages();
        b.create_mailbox(&a, &archive(), &[]).unwrap();
        let from = b.mailbox(&a, &inbox).unwrap().to_ref();
        let uids = added.iter().map(|m| m.uid).collect();
        (tmp, a, b, from, uids)
    }

    fn archive() -> MailboxName {
        MailboxName::new("Archive").unwrap()
    }

    #[test]
    fn a_copy_that_cannot_be_recorded_leaves_nothing_in_the_target() {
        let (tmp, a, b, from, uids) = inbox_and_archive();
        let (inbox, archive) = (from.name.clone(), archive());

        uidlist::FAIL_APPENDS.with(|f| f.set(true));
        let failed = b.copy(&a, &from, &uids, &archive);
        uidlist::FAIL_APPENDS.with(|f| f.set(false));
        assert!(failed.is_err());
        assert_eq!(folder_files(tmp.path(), ".Archive"), 0);
        assert!(uids_of(&open_in(tmp.path()), &a, &archive).is_empty());
        assert!(uids_of(&b, &a, &archive).is_empty());

        b.copy(&a, &from, &uids, &archive).unwrap();
        assert_eq!(uids_of(&open_in(tmp.path()), &a, &archive).len(), 2);
        assert_eq!(uids_of(&b, &a, &inbox).len(), 2);
    }

    /// A MOVE whose expunge in the source fails (a full disk) after the
    /// copies were recorded in the target expunges the copies again: each
    /// message is where it was (RFC 6851 section 3.3), so a retry moves it
    /// once. If the copies cannot be expunged either, both stay: nothing
    /// is lost.
    #[test]
    fn a_move_whose_expunge_fails_leaves_each_message_where_it_was() {
        let (tmp, a, b, from, uids) = inbox_and_archive();
        let (inbox, archive) = (from.name.clone(), archive());
        let first = [uids[0]];
        let before = uids_of(&b, &a, &inbox);

        folder::FAIL_EXPUNGES.with(|f| f.set(1));
        let failed = b.move_messages(&a, &from, &first, &archive);
        folder::FAIL_EXPUNGES.with(|f| f.set(0));
        assert!(failed.is_err());
        for instance in [&b, &open_in(tmp.path())] {
            assert_eq!(uids_of(instance, &a, &inbox), before);
            assert!(uids_of(instance, &a, &archive).is_empty());
        }
        assert_eq!(folder_files(tmp.path(), ".Archive"), 0);

        let moved = b.move_messages(&a, &from, &first, &archive).unwrap();
        assert_eq!(moved.expunged.uids, first);
        assert_eq!(uids_of(&open_in(tmp.path()), &a, &archive).len(), 1);
        assert_eq!(uids_of(&open_in(tmp.path()), &a, &inbox).len(), 1);

        // The undo fails too: the second message is in both, not lost.
        let second = [uids[1]];
        folder::FAIL_EXPUNGES.with(|f| f.set(2));
        let failed = b.move_messages(&a, &from, &second, &archive);
        folder::FAIL_EXPUNGES.with(|f| f.set(0));
        assert!(failed.is_err());
        let fresh = open_in(tmp.path());
        assert_eq!(uids_of(&fresh, &a, &inbox).len(), 1);
        assert_eq!(uids_of(&fresh, &a, &archive).len(), 2);
    }

    /// Reading a folder needs no room on the disk: a file delivered by
    /// another program (no UID yet) that cannot be given one is left out
    /// until it can, a journal line that cannot be written is kept in
    /// memory, and the folder is served, so that a user can log in and
    /// delete mail. With room again, the file gets its UID.
    #[test]
    fn reading_a_folder_on_a_full_disk_serves_what_it_can() {
        let (tmp, a, inbox) = setup();
        let b = open_in(tmp.path());
        let added = b.append(&a, &inbox, vec![message("one")]).unwrap();
        let md = tmp.path().join("alice/Maildir");
        // Delivered by another program: a file in new/, no UID.
        fs::write(
            md.join("new/1700000000.M1P1.elsewhere"),
            b"Subject: new\r\n\r\nnew\r\n",
        )
        .unwrap();
        // Flagged by another program: the journal lacks the change.
        let cur: Vec<_> = fs::read_dir(md.join("cur"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        let new: Vec<_> = fs::read_dir(md.join("new"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| !p.ends_with("1700000000.M1P1.elsewhere"))
            .collect();
        let old = cur.first().or(new.first()).unwrap().clone();
        let base = old
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .split(':')
            .next()
            .unwrap()
            .to_owned();
        fs::rename(&old, md.join("cur").join(format!("{base}:2,S"))).unwrap();

        uidlist::FAIL_APPENDS.with(|f| f.set(true));
        journal::FAIL_WRITES.with(|f| f.set(Some(StoreError::Temporary)));
        let fresh = open_in(tmp.path());
        let snapshot = fresh.mailbox_snapshot(&a, &inbox);
        uidlist::FAIL_APPENDS.with(|f| f.set(false));
        journal::FAIL_WRITES.with(|f| f.set(None));
        let snapshot = snapshot.expect("a folder read on a full disk");
        assert_eq!(snapshot.messages.len(), 1);
        assert_eq!(snapshot.messages[0].uid, added.messages[0].uid);
        assert!(
            snapshot.messages[0]
                .flags
                .system
                .contains(crate::flags::SystemFlags::SEEN)
        );

        // Room again: the next look gives the new file its UID.
        let uids: Vec<u32> = uids_of(&open_in(tmp.path()), &a, &inbox)
            .iter()
            .map(|(u, _)| u.get())
            .collect();
        assert_eq!(
            uids,
            [added.messages[0].uid.get(), added.messages[0].uid.get() + 1]
        );
    }

    /// An expunge when the directory for kept content cannot be made (a
    /// full disk: a new directory needs a block) keeps the content in
    /// `tmp/` instead and succeeds, since deleting mail is how a user frees
    /// space; the content stays readable until purged, and goes with the
    /// instance.
    #[test]
    fn an_expunge_without_room_for_a_directory_keeps_content_in_tmp() {
        let (tmp, a, inbox, b, added) = two_messages();
        let r = b.mailbox(&a, &inbox).unwrap().to_ref();
        // What cannot be a directory stands where it would be made.
        let md = tmp.path().join("alice/Maildir");
        fs::write(md.join(folder::EXPUNGED_DIR), b"").unwrap();
        let request = ExpungeRequest {
            uids: Some(vec![added[0].uid]),
            only_deleted: false,
        };
        let done = b.expunge(&a, &r, &request).unwrap();
        assert_eq!(done.uids, [added[0].uid]);
        assert_eq!(message_files(tmp.path()), 1);
        let in_tmp = || fs::read_dir(md.join("tmp")).unwrap().count();
        assert_eq!(in_tmp(), 1);
        assert_eq!(
            &b.read_message(&a, &r, added[0].uid).unwrap()[..],
            b"Subject: one\r\n\r\none\r\n"
        );
        let fresh = open_in(tmp.path());
        assert_eq!(uids_of(&fresh, &a, &inbox), uids_of(&b, &a, &inbox));
        assert_eq!(uids_of(&fresh, &a, &inbox).len(), 1);
        b.purge(&a, &r, &[added[0].uid]).unwrap();
        assert_eq!(in_tmp(), 0);
        // Kept again, then dropped with the instance.
        let request = ExpungeRequest {
            uids: None,
            only_deleted: false,
        };
        b.expunge(&a, &r, &request).unwrap();
        assert_eq!((in_tmp(), message_files(tmp.path())), (1, 0));
        drop(b);
        assert_eq!(in_tmp(), 0);
    }

    /// A uidlist append for files another program delivered that fails
    /// half-way leaves the records written whole in the file, and this
    /// instance keeps them too: the next look records each file once. It
    /// dropped them from memory while counting their octets as read, so
    /// the next look recorded the first file again under a new UID, and
    /// another instance saw it expunged and added anew.
    #[test]
    fn files_recorded_by_a_failed_append_are_recorded_once() {
        let (tmp, a, inbox) = setup();
        let b = open_in(tmp.path());
        let mine = b.append(&a, &inbox, vec![message("mine")]).unwrap();
        let r = MailboxRef {
            name: inbox.clone(),
            uid_validity: mine.uid_validity,
        };
        let watcher = open_in(tmp.path());
        assert_eq!(uids_of(&watcher, &a, &inbox).len(), 1);
        let md = tmp.path().join("alice/Maildir");
        for i in 0..2 {
            fs::write(
                md.join("new").join(format!("1700000000.M{i}P1.elsewhere")),
                "Subject: x\n\nx\n",
            )
            .unwrap();
        }
        uidlist::FAIL_APPENDS.with(|f| f.set(true));
        let first = b.sync(&a, &r);
        uidlist::FAIL_APPENDS.with(|f| f.set(false));
        first.expect("a look whose uidlist append failed");
        let text = fs::read_to_string(md.join("dovecot-uidlist")).unwrap();
        assert_eq!(text.lines().count(), 3, "one record written whole: {text}");
        let seen = watcher.sync(&a, &r).unwrap();
        b.sync(&a, &r).unwrap();
        let text = fs::read_to_string(md.join("dovecot-uidlist")).unwrap();
        for i in 0..2 {
            let name = format!(":1700000000.M{i}P1.elsewhere");
            assert_eq!(text.matches(&name).count(), 1, "{text}");
        }
        let mut later = seen;
        later.extend(watcher.sync(&a, &r).unwrap());
        assert!(
            !later.iter().any(|c| matches!(c, ExternalChange::Expunged { .. })),
            "nothing was expunged: {later:?}"
        );
        let all = uids_of(&b, &a, &inbox);
        assert_eq!(all.len(), 3, "{all:?}");
        assert_eq!(uids_of(&watcher, &a, &inbox), all);
        assert_eq!(uids_of(&open_in(tmp.path()), &a, &inbox), all);
    }

    /// A uidlist append that fails half-way (a full disk) is cut back to
    /// its last whole record: nothing is delivered (the files are gone),
    /// no reader sees a torn record, and the UIDs of records written whole
    /// (which Dovecot, reading without the lock, may have seen) are never
    /// given again: the retry's UID is above them, for this instance and
    /// a fresh one.
    #[test]
    fn an_append_whose_uidlist_write_fails_delivers_nothing() {
        let (tmp, a, inbox) = setup();
        let b = open_in(tmp.path());
        let first = b.append(&a, &inbox, vec![message("kept")]).unwrap();
        let uidlist = tmp.path().join("alice/Maildir/dovecot-uidlist");
        let before = fs::read_to_string(&uidlist).unwrap();

        uidlist::FAIL_APPENDS.with(|f| f.set(true));
        let failed = b.append(&a, &inbox, vec![message("lost"), message("lost too")]);
        uidlist::FAIL_APPENDS.with(|f| f.set(false));
        assert!(matches!(failed, Err(StoreError::Temporary(_))), "{failed:?}");
        // The injected failure writes half of the two records: the first
        // whole, the second torn, which is cut.
        let after = fs::read_to_string(&uidlist).unwrap();
        let added = after
            .strip_prefix(&before)
            .expect("the uidlist was only appended to");
        assert!(added.ends_with('\n') && added.lines().count() == 1, "{after}");
        let taken: u32 = added.split(' ').next().unwrap().parse().unwrap();
        assert!(taken > first.messages[0].uid.get());
        assert_eq!(
            message_files(tmp.path()),
            1,
            "the failed message's file is left behind"
        );
        let only = vec![(first.messages[0].uid, first.messages[0].modseq)];
        assert_eq!(uids_of(&b, &a, &inbox), only);
        assert_eq!(uids_of(&open_in(tmp.path()), &a, &inbox), only);

        let retry = b.append(&a, &inbox, vec![message("lost")]).unwrap();
        assert!(retry.messages[0].uid.get() > taken, "UID {taken} given again");
        let fresh = open_in(tmp.path());
        let uids: Vec<u32> = uids_of(&fresh, &a, &inbox).iter().map(|(u, _)| u.get()).collect();
        assert_eq!(uids, [first.messages[0].uid.get(), retry.messages[0].uid.get()]);
        let again = fresh.append(&a, &inbox, vec![message("more")]).unwrap();
        assert!(again.messages[0].uid > retry.messages[0].uid);
    }
}

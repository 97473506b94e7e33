//! One Maildir folder: its files on disk, what this backend instance has
//! reported of it, and the reconciliation of the two.
//!
//! The *disk state* is the uidlist (UID of each file), the directory
//! listing of `new/` and `cur/` (where each file is and its flags), the
//! keyword table and the journal (MODSEQ, date, size of each message and
//! the tombstones). [`Folder::reconcile`] brings the journal in line with
//! the files under the folder lock: files without a UID get one, files
//! whose flags changed or that vanished are recorded, all with one new
//! MODSEQ. The *known state* is the view reported to the store; the
//! backend's own changes update both, and [`Folder::diff`] turns the
//! difference left by other processes into [`ExternalChange`]s.

use std::collections::hash_map::Entry as MapEntry;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use super::fsutil::{self, io_err};
use super::journal::{Entry, Journal};
use super::keywords::{self, KeywordTable};
use super::layout;
use super::lock::{self, DotLock};
use super::state::Counters;
use super::uidlist::{self, Refreshed, UidList};
use crate::backend::{ExternalChange, FlagUpdate, MessageMeta, Tombstone};
use crate::flags::Flags;
use crate::types::{InternalDate, ModSeq, SpecialUse, StoreError, Uid, UidValidity};

#[cfg(test)]
thread_local! {
    /// How many of the next [`Folder::expunge_files`] calls on this thread
    /// fail just before their journal line is written (their files moved
    /// first, as a lock taken over fails them), for the tests of what
    /// they leave.
    pub(crate) static FAIL_EXPUNGES: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Directory listings whose mtime is younger than this are not trusted to
/// show every change (file systems stamp with a coarse clock).
const TRUST_AGE: Duration = Duration::from_secs(2);

/// How long a file with two names in the folder must have been unchanged
/// before the second name is removed (Dovecot waits as long): a program
/// moving the file by link and unlink may be between the two.
const LINK_AGE: Duration = Duration::from_secs(30);
/// Files in `tmp/` older than this are left over from crashes (Dovecot
/// uses the same age).
const TMP_MAX_AGE: Duration = Duration::from_secs(36 * 3600);
/// The directory of kept expunged content inside a folder.
pub(crate) const EXPUNGED_DIR: &str = "mailwire-expunged";

/// Settings shared by every folder operation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ctx<'a> {
    /// The folder's directory.
    pub(crate) dir: &'a Path,
    /// Flush writes to disk.
    pub(crate) fsync: bool,
    /// Flush flag changes and expunges too
    /// ([`MaildirOptions::flush_flag_changes`](super::MaildirOptions)).
    pub(crate) fsync_changes: bool,
    /// This backend instance's name (for its kept-content directory).
    pub(crate) instance: &'a str,
    /// The folder's lock, when held: every write of the uidlist or the
    /// journal first confirms it (see [`Ctx::confirm_lock`]).
    pub(crate) lock: Option<&'a DotLock>,
}

impl Ctx<'_> {
    /// Before a write of the uidlist or the journal: fails if the folder's
    /// lock was taken over (a process that judged it stale), and refreshes
    /// it, so that a long operation is not judged stale while it runs.
    pub(crate) fn confirm_lock(&self) -> Result<(), StoreError> {
        self.lock.map_or(Ok(()), DotLock::confirm)
    }
}

/// The live backend instances of this process (their kept content must not
/// be cleaned away by another instance).
pub(crate) fn live_instances() -> &'static Mutex<HashSet<String>> {
    static I: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    I.get_or_init(|| Mutex::new(HashSet::new()))
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    ino: u64,
    len: u64,
    mtime: Option<SystemTime>,
}

impl Stamp {
    fn of(path: &Path) -> Option<Stamp> {
        let m = fs::symlink_metadata(path).ok()?;
        Some(Stamp {
            ino: m.ino(),
            len: m.len(),
            mtime: m.modified().ok(),
        })
    }
}

/// Where a message file is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Loc {
    /// In `cur/` (else `new/`).
    pub(crate) cur: bool,
    /// Its whole file name.
    pub(crate) name: String,
}

impl Loc {
    pub(crate) fn path(&self, dir: &Path) -> PathBuf {
        dir.join(if self.cur { "cur" } else { "new" }).join(&self.name)
    }

    pub(crate) fn info(&self) -> &str {
        layout::split_info(&self.name).1.unwrap_or("")
    }
}

#[derive(Debug, Default)]
struct Scan {
    files: HashMap<String, Loc>,
    /// Files whose base name another file listed in `files` has (see
    /// [`Folder::part_duplicates`]).
    duplicates: Vec<Loc>,
    new_stamp: Option<Stamp>,
    cur_stamp: Option<Stamp>,
    /// The listing was taken when both directories had been unchanged
    /// long enough to trust their stamps.
    trusted: bool,
    valid: bool,
}

/// What this backend instance has reported of a folder.
#[derive(Debug, Clone)]
pub(crate) struct Known {
    pub(crate) uid_validity: UidValidity,
    pub(crate) uid_next: u32,
    pub(crate) highest: u64,
    pub(crate) messages: BTreeMap<u32, MessageMeta>,
    /// How many of the journal's tombstones have been reported, counted
    /// as [`Journal::tombstones_ever`] counts (pruning does not change it).
    pub(crate) tombstones: usize,
}

/// The content this instance keeps of an expunged message.
#[derive(Debug, Clone)]
pub(crate) struct Kept {
    /// Where, relative to the folder's directory (a RENAME moves the
    /// directory, and the content with it).
    pub(crate) within: PathBuf,
    /// Its size as [`MessageMeta::size`] counts (the storage it holds,
    /// for a quota).
    pub(crate) size: u64,
}

/// A folder.
#[derive(Debug, Default)]
pub(crate) struct Folder {
    pub(crate) uidlist: UidList,
    pub(crate) journal: Journal,
    pub(crate) keywords: KeywordTable,
    kw_stamp: Option<Stamp>,
    scan: Scan,
    pub(crate) known: Option<Known>,
    /// Expunged UIDs whose content this instance keeps.
    pub(crate) kept: HashMap<u32, Kept>,
    cleaned: bool,
    /// The disk state changed since the last reconciliation.
    dirty: bool,
    /// The memory its uidlist and journal may take together (what its
    /// account's other folders leave of the account's allowance), set by
    /// the backend before each use; `None`: no bound.
    pub(crate) allowance: Option<u64>,
}

/// A UID's new journal entry, or `None` for its expunge.
type JournalChange = (u32, Option<Entry>);

fn modseq(v: u64) -> ModSeq {
    ModSeq::new(v).unwrap_or(ModSeq::MIN)
}

/// The size a file's content has once its bare LFs are CRLFs.
#[cfg(test)]
fn virtual_size(data: &[u8]) -> u64 {
    let bare = memchr::memchr_iter(b'\n', data)
        .filter(|&i| i == 0 || data.get(i - 1) != Some(&b'\r'))
        .count();
    (data.len() + bare) as u64
}

/// A reader of a message file that turns bare LFs into CRLFs on the way,
/// as [`to_crlf`] does for a whole file: its output has the file's
/// `virtual_size`.
pub(crate) struct CrlfReader<R> {
    inner: R,
    /// The previous byte read was CR.
    after_cr: bool,
    /// A CR owed before the LF at the start of `pending`.
    owe_cr: bool,
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl<R: std::io::Read> CrlfReader<R> {
    pub(crate) fn new(inner: R) -> CrlfReader<R> {
        CrlfReader {
            inner,
            after_cr: false,
            owe_cr: false,
            buf: vec![0; 64 * 1024],
            start: 0,
            end: 0,
        }
    }
}

impl<R: std::io::Read> std::io::Read for CrlfReader<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        if self.start == self.end {
            self.end = self.inner.read(&mut self.buf)?;
            self.start = 0;
            if self.end == 0 {
                return Ok(0);
            }
        }
        let mut written = 0;
        while written < out.len() && self.start < self.end {
            let b = self.buf[self.start];
            if b == b'\n' && !self.after_cr && !self.owe_cr {
                // The CR goes out now; the LF on the next turn.
                self.owe_cr = true;
                out[written] = b'\r';
                written += 1;
                continue;
            }
            out[written] = b;
            written += 1;
            self.start += 1;
            self.owe_cr = false;
            self.after_cr = b == b'\r';
        }
        Ok(written)
    }
}

/// The LFs of content read in pieces that no CR comes just before.
#[derive(Default)]
struct BareLfs {
    count: u64,
    /// The octet before the next piece (0 at the start).
    prev: u8,
}

impl BareLfs {
    /// Counts what `reader` yields, in pieces of `buf`; returns how many
    /// octets it read.
    fn read(&mut self, mut reader: impl std::io::Read, buf: &mut [u8]) -> std::io::Result<u64> {
        let mut read = 0u64;
        loop {
            let n = match reader.read(buf) {
                Ok(0) => return Ok(read),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            let chunk = &buf[..n];
            let prev = self.prev;
            let bare = memchr::memchr_iter(b'\n', chunk)
                .filter(|&i| {
                    if i == 0 {
                        prev != b'\r'
                    } else {
                        chunk[i - 1] != b'\r'
                    }
                })
                .count();
            self.count += bare as u64;
            self.prev = chunk[n - 1];
            read += n as u64;
        }
    }
}

/// [`virtual_size`] of a message file, read in pieces and only where it
/// holds data: a hole of a sparse file reads as zeros, which hold no LF,
/// so it counts its length unread. (A file that claims a tebibyte, planted
/// by whoever can write to the Maildir, costs what it holds on disk, not
/// minutes of reading zeros under the folder lock.)
fn virtual_size_of_file(file: &fs::File) -> std::io::Result<u64> {
    use std::io::{Read, Seek};
    let len = file.metadata()?.len();
    let mut lfs = BareLfs::default();
    let mut buf = vec![0u8; 64 * 1024];
    let mut pos = 0u64;
    while pos < len {
        let Some((start, end)) = data_extent(file, pos, len)? else {
            break;
        };
        if start > pos {
            // A hole came first.
            lfs.prev = 0;
        }
        let mut reader = file;
        reader.seek(std::io::SeekFrom::Start(start))?;
        let read = lfs.read(reader.take(end - start), &mut buf)?;
        if read < end - start {
            // Shorter than it was: what is there is counted.
            return Ok(start + read + lfs.count);
        }
        pos = end;
    }
    Ok(len + lfs.count)
}

/// The first run of data of `file` at or after `pos`, up to `len` (its
/// start and end), or `None` when only a hole is left: asked of the file
/// system (`SEEK_DATA`, `SEEK_HOLE`), which answers "all of it" when it
/// keeps no holes. A file system that refuses the question (some FUSE or
/// network file systems answer `EINVAL` or `EOPNOTSUPP`), and a system
/// without it, has the rest of the file read as data.
fn data_extent(file: &fs::File, pos: u64, len: u64) -> std::io::Result<Option<(u64, u64)>> {
    #[cfg(any(
        target_os = "linux",
        target_os = "android",
        target_os = "freebsd",
        target_vendor = "apple"
    ))]
    {
        use rustix::fs::{SeekFrom, seek};
        let start = match seek(file, SeekFrom::Data(pos)) {
            Ok(start) => start,
            // Nothing but a hole from `pos` on.
            Err(rustix::io::Errno::NXIO) => return Ok(None),
            Err(_) => return Ok(Some((pos, len))),
        };
        if start >= len {
            return Ok(None);
        }
        let end = seek(file, SeekFrom::Hole(start)).unwrap_or(len);
        Ok(Some((start, end.clamp(start + 1, len))))
    }
    #[cfg(not(any(
        target_os = "linux",
        target_os = "android",
        target_os = "freebsd",
        target_vendor = "apple"
    )))]
    {
        let _ = file;
        Ok((pos < len).then_some((pos, len)))
    }
}

/// The content with bare LFs turned into CRLFs (how Dovecot serves files
/// it stored with LF line ends; their W= size counts the same way): the
/// buffer itself when it has none.
pub(crate) fn to_crlf(data: Vec<u8>) -> Bytes {
    match crate::content::crlf_converted(&data) {
        Some(converted) => Bytes::from(converted),
        None => Bytes::from(data),
    }
}

impl Folder {
    /// The folder's UIDVALIDITY as last read from disk.
    pub(crate) fn uid_validity(&self) -> Option<UidValidity> {
        if self.uidlist.is_loaded() {
            UidValidity::new(self.uidlist.uid_validity)
        } else {
            None
        }
    }

    /// The flags that a journal entry stands for.
    fn flags_of(&self, e: &Entry) -> Flags {
        self.keywords.flags_of(&e.info)
    }

    fn meta_of(&self, uid: u32, e: &Entry) -> Option<MessageMeta> {
        Some(MessageMeta {
            uid: Uid::new(uid)?,
            flags: self.flags_of(e),
            internal_date: InternalDate {
                unix_seconds: e.date,
                zone_minutes: e.zone,
            },
            size: e.size,
            modseq: modseq(e.modseq),
            // Lines from before save dates were kept: the INTERNALDATE,
            // which is when most messages were delivered.
            save_date: e.saved.unwrap_or(e.date),
        })
    }

    /// The memory its uidlist and journal take (an estimate).
    pub(crate) fn cost(&self) -> u64 {
        self.uidlist.cost().saturating_add(self.journal.cost())
    }

    /// The memory a new read of one state file may take: the allowance
    /// less what `other` (the other file's state) holds.
    fn room_beside(&self, other: u64) -> u64 {
        self.allowance.unwrap_or(u64::MAX).saturating_sub(other)
    }

    /// Re-reads the keyword table, uidlist and journal where they changed;
    /// creates a missing uidlist or journal. Needs the folder lock.
    pub(crate) fn refresh_meta(
        &mut self,
        ctx: Ctx<'_>,
        counters: &mut Counters<'_>,
    ) -> Result<(), StoreError> {
        self.read_keywords(ctx.dir)?;
        if let Some(refreshed) = self.read_uidlist(ctx.dir)? {
            self.repair_uidlist(ctx, counters, refreshed)?;
        }
        // A record a killed writer left without its line end is cut as soon
        // as it is seen under the lock: another writer appending after it,
        // as Dovecot may, would glue its record to it. (Its UID stays
        // taken: the header written says so. On a full disk it waits.)
        if self.uidlist.torn_tail(&ctx.dir.join("dovecot-uidlist")) {
            ctx.confirm_lock()?;
            let _ = self.uidlist.rewrite(ctx.dir, |_| true, ctx.fsync);
        }
        if let Some(ok) = self.read_journal(ctx.dir)? {
            self.repair_journal(ctx, counters, ok)?;
        }
        if !self.cleaned {
            self.cleaned = true;
            clean_leftovers(ctx);
        }
        Ok(())
    }

    /// Re-reads the keyword table if it changed.
    fn read_keywords(&mut self, dir: &Path) -> Result<(), StoreError> {
        let kw_stamp = Stamp::of(&dir.join("dovecot-keywords"));
        if kw_stamp != self.kw_stamp || kw_stamp.is_none() {
            self.keywords = KeywordTable::load(dir)?;
            self.kw_stamp = kw_stamp;
        }
        Ok(())
    }

    /// Re-reads the uidlist where it changed (no write, so no lock is
    /// needed: it is replaced by renames and appended whole lines, and a
    /// torn last line is not taken); `Some` if it is missing or its header
    /// unreadable, which [`Folder::repair_uidlist`] mends.
    fn read_uidlist(&mut self, dir: &Path) -> Result<Option<Refreshed>, StoreError> {
        // The UIDVALIDITY this instance worked under: the list's, or after
        // `invalidate` the one it reported.
        let before = if self.uidlist.is_loaded() {
            self.uidlist.uid_validity
        } else {
            self.known.as_ref().map_or(0, |k| k.uid_validity.get())
        };
        let room = self.room_beside(self.journal.cost());
        match self.uidlist.refresh(&dir.join("dovecot-uidlist"), room)? {
            Refreshed::Same => Ok(None),
            Refreshed::Appended => {
                self.dirty = true;
                Ok(None)
            }
            Refreshed::Reloaded => {
                self.dirty = true;
                if before != 0 && before != self.uidlist.uid_validity {
                    self.forget();
                }
                Ok(None)
            }
            refreshed @ (Refreshed::Missing | Refreshed::Unreadable) => Ok(Some(refreshed)),
        }
    }

    /// Writes a new uidlist in place of a missing or unreadable one.
    /// Needs the folder lock.
    fn repair_uidlist(
        &mut self,
        ctx: Ctx<'_>,
        counters: &mut Counters<'_>,
        refreshed: Refreshed,
    ) -> Result<(), StoreError> {
        if !ctx.dir.join("cur").is_dir() {
            return Err(StoreError::Permanent(format!(
                "{} is not a Maildir",
                ctx.dir.display()
            )));
        }
        // A uidlist whose header was damaged: the MODSEQ journal
        // still knows the UIDVALIDITY and every UID given under
        // it, so the mailbox keeps its UIDVALIDITY (clients keep
        // their caches). Its records keep their UIDs where the journal
        // holds that UID live with the size the file name says, or where
        // the UID is above every UID the journal has seen (given by
        // Dovecot since: the journal cannot contradict it), so POP3 UIDLs
        // and IMAP caches stay right; other files get UIDs above every
        // UID the journal or the file names. With no file, or no journal
        // to ask, the mailbox starts anew, as Dovecot does: without the
        // header's next UID or the journal, UIDs given and expunged
        // since the last record could be given again under the same
        // UIDVALIDITY.
        // What the list held is of no use now, and its room is the new
        // one's.
        self.uidlist = UidList::default();
        let mut journal = Journal::default();
        let kept = refreshed == Refreshed::Unreadable
            && journal.refresh(ctx.dir, self.room_beside(self.cost()))?
            && journal.uid_validity != 0;
        let mut list = if kept {
            let mut list = UidList::new(journal.uid_validity, uidlist::new_guid());
            let highest = journal.highest_uid();
            let room = self.room_beside(self.cost().saturating_add(journal.cost()));
            list.salvage(
                &ctx.dir.join("dovecot-uidlist"),
                |uid, base| {
                    uid > highest
                        || journal.live.get(&uid).is_some_and(|entry| {
                            layout::base_field(base, 'W').is_none_or(|size| size == entry.size)
                        })
                },
                room,
            )?;
            list.next_uid = list.next_uid.max(journal.highest_uid().saturating_add(1));
            list
        } else {
            UidList::new(counters.next_uid_validity()?.get(), uidlist::new_guid())
        };
        ctx.confirm_lock()?;
        list.rewrite(ctx.dir, |_| true, ctx.fsync)?;
        self.uidlist = list;
        self.forget();
        self.dirty = true;
        Ok(())
    }

    /// Re-reads the journal where it changed (no write; see
    /// [`Folder::read_uidlist`]); `true` if it is missing, unreadable or
    /// of another UIDVALIDITY than the uidlist, which
    /// [`Folder::repair_journal`] mends.
    fn read_journal(&mut self, dir: &Path) -> Result<Option<bool>, StoreError> {
        let had = self.journal.is_loaded();
        let ok = self.journal.refresh(dir, self.room_beside(self.uidlist.cost()))?;
        if !ok || self.journal.uid_validity != self.uidlist.uid_validity {
            return Ok(Some(ok));
        }
        if !had {
            self.dirty = true;
        }
        Ok(None)
    }

    /// Starts a new journal in place of one [`Folder::read_journal`]
    /// could not use. Needs the folder lock.
    fn repair_journal(
        &mut self,
        ctx: Ctx<'_>,
        counters: &mut Counters<'_>,
        ok: bool,
    ) -> Result<(), StoreError> {
        let keep_special = if ok && self.journal.uid_validity == self.uidlist.uid_validity {
            self.journal.special_use.clone()
        } else {
            Vec::new()
        };
        let created = counters.next_modseq(0)?;
        let mut j = Journal::new(self.uidlist.uid_validity, created.get(), &keep_special);
        // The expunges the old journal held are lost: everything before
        // the new one counts as pruned, up to the last UID given, so that
        // a client asking what was expunged since an older MODSEQ gets a
        // superset (every UID given that is not a message), not nothing,
        // and later prunes (which raise the marks) keep those UIDs in it;
        // nor are they given again.
        j.pruned_modseq = created.get();
        j.pruned_uid = self.uidlist.next_uid.saturating_sub(1);
        ctx.confirm_lock()?;
        j.rewrite(ctx.dir, ctx.fsync)?;
        self.journal = j;
        self.dirty = true;
        Ok(())
    }

    /// Drops what this instance read from the folder's files, so that the
    /// next use reads them all again (after a write that failed half-way,
    /// the memory may hold what the files do not). What it reported, and
    /// the content it keeps for sessions that have not learnt of an
    /// expunge, stay: the next sync reports what changed meanwhile, as
    /// after any change by another process (unless the folder is found
    /// under another UIDVALIDITY, see [`Folder::read_uidlist`]).
    pub(crate) fn invalidate(&mut self) {
        self.uidlist = UidList::default();
        self.journal = Journal::default();
        self.scan = Scan::default();
        self.dirty = true;
    }

    /// Whether the folder must be reconciled before its state is used:
    /// this instance has not reported it yet, or must read its files again
    /// (see [`Folder::invalidate`]).
    pub(crate) fn unread(&self) -> bool {
        self.known.is_none() || !self.uidlist.is_loaded()
    }

    /// Drops everything this instance knew of an earlier incarnation.
    fn forget(&mut self) {
        self.known = None;
        self.kept.clear();
        self.scan = Scan::default();
        self.journal = Journal::default();
    }

    /// Lists `new/` and `cur/` unless the last listing can be trusted to be
    /// current; `Ok(true)` if it listed.
    fn scan_dirs(&mut self, dir: &Path, force: bool) -> Result<bool, StoreError> {
        let new_stamp = Stamp::of(&dir.join("new"));
        let cur_stamp = Stamp::of(&dir.join("cur"));
        if !force
            && self.scan.valid
            && self.scan.trusted
            && new_stamp == self.scan.new_stamp
            && cur_stamp == self.scan.cur_stamp
        {
            return Ok(false);
        }
        let now = SystemTime::now();
        let old_enough = |s: &Option<Stamp>| {
            s.as_ref()
                .and_then(|s| s.mtime)
                .and_then(|m| now.duration_since(m).ok())
                .is_some_and(|age| age >= TRUST_AGE)
        };
        let trusted = old_enough(&new_stamp) && old_enough(&cur_stamp);
        let mut files: HashMap<String, Loc> = HashMap::with_capacity(self.scan.files.len().max(16));
        let mut duplicates = Vec::new();
        // new/ first: a file moved to cur/ meanwhile is then seen there.
        for (sub, cur) in [("new", false), ("cur", true)] {
            let path = dir.join(sub);
            if !fsutil::real_dir(&path) {
                // Missing, or a link planted in place of the directory
                // (not followed).
                continue;
            }
            let entries = match fs::read_dir(&path) {
                Ok(e) => e,
                Err(e) if fsutil::not_found(&e) => continue,
                Err(e) => return Err(io_err("read directory", &path, &e)),
            };
            for entry in entries {
                let entry = entry.map_err(|e| io_err("read directory", &path, &e))?;
                let Ok(name) = entry.file_name().into_string() else {
                    continue;
                };
                // Symbolic links, FIFOs and directories are not messages.
                if !layout::valid_message_file(&name) || !entry.file_type().is_ok_and(|t| t.is_file()) {
                    continue;
                }
                let base = layout::split_info(&name).0.to_owned();
                let loc = Loc { cur, name };
                match files.entry(base) {
                    MapEntry::Vacant(v) => {
                        v.insert(loc);
                    }
                    MapEntry::Occupied(mut o) => {
                        // Two files of one base name. The one the last
                        // listing gave it keeps it; else the one in cur/,
                        // else the first by name.
                        let before = self.scan.files.get(o.key()).map(|l| l.name.as_str());
                        let first = o.get();
                        let wins = if before == Some(loc.name.as_str()) {
                            true
                        } else if before == Some(first.name.as_str()) {
                            false
                        } else if loc.cur != first.cur {
                            loc.cur
                        } else {
                            loc.name < first.name
                        };
                        duplicates.push(if wins { o.insert(loc) } else { loc });
                    }
                }
            }
        }
        self.scan = Scan {
            files,
            duplicates,
            new_stamp,
            cur_stamp,
            trusted,
            valid: true,
        };
        self.dirty = true;
        Ok(true)
    }

    /// Notes that this instance changed `new/` or `cur/`: the next
    /// reconciliation lists them again (another process may have changed
    /// them within the same timestamp).
    fn touched_dirs(&mut self) {
        self.scan.trusted = false;
    }

    /// Brings the folder up to date without its lock, where that needs
    /// no write: `Ok(true)` if the files show nothing the journal lacks
    /// (the usual case of a poll; Dovecot reads its uidlist unlocked
    /// too), `Ok(false)` if [`Folder::reconcile`] must run under the
    /// lock. What was read stays read; the locked pass goes on from it.
    ///
    /// Without the lock another process may be half-way through a change
    /// (files renamed, journal not yet written, or the other way round):
    /// every such state shows as a difference between files and journal,
    /// and is left to the locked pass, which waits for the writer. Only a
    /// state where the two agree is reported, and that state existed.
    pub(crate) fn reconcile_unlocked(&mut self, dir: &Path) -> Result<bool, StoreError> {
        if !self.cleaned || self.known.is_none() {
            return Ok(false);
        }
        self.read_keywords(dir)?;
        if self.read_uidlist(dir)?.is_some() || self.read_journal(dir)?.is_some() {
            return Ok(false);
        }
        let listed = self.scan_dirs(dir, false)?;
        if !listed && !self.dirty {
            return Ok(true);
        }
        if self.record_gone()
            || !self.scan.duplicates.is_empty()
            || !self.unrecorded().is_empty()
            || !self.reappeared().is_empty()
        {
            return Ok(false);
        }
        let (changes, live) = self.changes(dir)?;
        if !changes.is_empty() || self.wants_compaction(&live) {
            return Ok(false);
        }
        self.dirty = false;
        Ok(true)
    }

    /// Whether a journal record's file is missing from the listing.
    fn record_gone(&self) -> bool {
        self.journal
            .live
            .keys()
            .any(|&uid| self.base_of(uid).is_none_or(|b| !self.scan.files.contains_key(b)))
    }

    /// The listed files the uidlist has no UID for, sorted.
    fn unrecorded(&self) -> Vec<String> {
        let mut unrecorded: Vec<&String> = self
            .scan
            .files
            .keys()
            .filter(|b| self.uidlist.uid_of(b).is_none())
            .collect();
        unrecorded.sort_unstable();
        unrecorded.into_iter().cloned().collect()
    }

    /// Parts two files of one base name (a file copied from `cur/` into
    /// `new/` with its name, a message restored from a backup beside its
    /// renamed self), as Dovecot does: the one not listed is renamed to a
    /// new base name, and so becomes a message of its own with a new UID
    /// (hidden, it would show only once the other was expunged). Two names
    /// of one file (a hard link another program made, to move the file
    /// by link and unlink) are one message: the second name is removed
    /// once the file has not changed for [`LINK_AGE`], never sooner (the
    /// program may be half-way through). Returns whether a file was renamed
    /// or removed. Needs the folder lock.
    fn part_duplicates(&mut self, ctx: Ctx<'_>) -> Result<bool, StoreError> {
        let mut changed = false;
        // Second names too young to be removed: kept, to be looked at
        // again (left alone, a name that stays would come back as a
        // message once the first is expunged).
        let mut young = Vec::new();
        for loc in std::mem::take(&mut self.scan.duplicates) {
            let (base, info) = layout::split_info(&loc.name);
            let Some(kept) = self.scan.files.get(base) else {
                continue;
            };
            let path = loc.path(ctx.dir);
            let (Ok(this), Ok(other)) = (
                fs::symlink_metadata(&path),
                fs::symlink_metadata(kept.path(ctx.dir)),
            ) else {
                // Renamed or removed meanwhile: the next listing sees.
                continue;
            };
            if (this.dev(), this.ino()) == (other.dev(), other.ino()) {
                let changed_at = UNIX_EPOCH + Duration::from_secs(u64::try_from(this.ctime()).unwrap_or(0));
                #[cfg(test)]
                let link_age = LINK_AGE_FOR_TESTS.with(std::cell::Cell::get).unwrap_or(LINK_AGE);
                #[cfg(not(test))]
                let link_age = LINK_AGE;
                let settled = SystemTime::now()
                    .duration_since(changed_at)
                    .is_ok_and(|age| age >= link_age);
                if !settled {
                    young.push(loc);
                } else if this.nlink() > 1 && fs::remove_file(&path).is_ok() {
                    changed = true;
                }
                continue;
            }
            let new_base = layout::copy_base(base);
            let name = match info {
                Some(info) => format!("{new_base}:2,{info}"),
                None => new_base,
            };
            let to = Loc { cur: loc.cur, name }.path(ctx.dir);
            ctx.confirm_lock()?;
            match fs::rename(&path, &to) {
                Ok(()) => {
                    tracing::warn!(
                        from = %path.display(),
                        to = %to.display(),
                        "two message files had one base name: the second renamed, a message of its own"
                    );
                    changed = true;
                }
                Err(e) if fsutil::not_found(&e) => {}
                // (A file this process may not rename stays hidden; the
                // folder is read all the same.)
                Err(e) => tracing::warn!(
                    file = %path.display(),
                    error = %e,
                    "two message files have one base name, and the second cannot be renamed: it is not listed"
                ),
            }
        }
        self.scan.duplicates = young;
        if changed {
            self.touched_dirs();
        }
        Ok(changed)
    }

    /// The listed files whose record's UID was expunged, sorted: the file
    /// of an expunged message put back, or the second file of one base
    /// name, hidden behind the first until it was expunged. Each gets a
    /// new UID, as Dovecot gives one ("expunged message reappeared"):
    /// under its old UID, a client told of the expunge (or a POP3 client
    /// that deleted it) would see an expunged UID come back, with a
    /// message it may not have read. (A file put back after its tombstone
    /// was pruned keeps its UID: nothing says it was expunged.)
    fn reappeared(&self) -> Vec<String> {
        let expunged = self.expunged_uids();
        let mut out: Vec<String> = self
            .uidlist
            .records
            .iter()
            .filter(|r| expunged.contains(&r.uid) && self.scan.files.contains_key(&r.base))
            .map(|r| r.base.clone())
            .collect();
        out.sort_unstable();
        out
    }

    /// The UIDs with a tombstone and no live entry, if a listed file has
    /// a record with one of them (else none, not looked for: the usual
    /// case costs a look at each record).
    fn expunged_uids(&self) -> HashSet<u32> {
        let candidate = self.uidlist.records.iter().any(|r| {
            !r.base.is_empty()
                && !self.journal.live.contains_key(&r.uid)
                && self.scan.files.contains_key(&r.base)
        });
        if !candidate {
            return HashSet::new();
        }
        self.journal
            .tombstones
            .iter()
            .map(|t| t.uid.get())
            .filter(|uid| !self.journal.live.contains_key(uid))
            .collect()
    }

    /// Whether the uidlist holds so many records of expunged messages
    /// (`live` are the UIDs with a file) that it should be rewritten.
    fn wants_compaction(&self, live: &HashSet<u32>) -> bool {
        let records = self.uidlist.records.len();
        records > 64 && records > live.len().saturating_mul(4) / 3
    }

    /// Brings the journal in line with the files (see the module
    /// documentation). Needs the folder lock.
    pub(crate) fn reconcile(&mut self, ctx: Ctx<'_>, counters: &mut Counters<'_>) -> Result<(), StoreError> {
        self.refresh_meta(ctx, counters)?;
        let listed = self.scan_dirs(ctx.dir, false)?;
        if !listed && !self.dirty {
            return Ok(());
        }
        // A file renamed while the directory was read may have been missed:
        // list again before calling anything with a record gone.
        if self.record_gone() {
            self.scan_dirs(ctx.dir, true)?;
        }
        if !self.scan.duplicates.is_empty() && self.part_duplicates(ctx)? {
            self.scan_dirs(ctx.dir, true)?;
        }
        // Something that could not be written, to try again next time.
        let mut deferred = false;
        let mut unrecorded = self.unrecorded();
        unrecorded.extend(self.reappeared());
        if !unrecorded.is_empty() {
            // A uidlist that lost records (cut short, or written over by
            // hand) may offer UIDs its files had before: they were given
            // under this UIDVALIDITY, and a client that cached them would
            // show another message's data. The journal remembers them.
            let seen = self.journal.highest_uid();
            if self.uidlist.next_uid <= seen {
                self.uidlist.next_uid = seen.saturating_add(1);
            }
            // UIDs from the next one to the highest, u32::MAX - 1 (none
            // when a damaged file's header made the next one u32::MAX).
            let room = u64::from(u32::MAX - self.uidlist.next_uid);
            if unrecorded.len() as u64 > room {
                return Err(StoreError::Limit("no UID left in this mailbox"));
            }
            ctx.confirm_lock()?;
            if let Err(e) = self.uidlist.append(ctx.dir, &unrecorded, ctx.fsync) {
                // A full disk (or another passing failure): the new files
                // get UIDs once there is room, and are not listed until
                // then; the folder is read as it is, so that logging in
                // and deleting mail, which frees room, need none.
                if !matches!(e, StoreError::Temporary(_)) {
                    return Err(e);
                }
                deferred = true;
            }
        }
        let (mut changes, live) = self.changes(ctx.dir)?;
        if !changes.is_empty() {
            let m = counters.next_modseq(self.journal.highest)?.get();
            let mut lines = String::new();
            changes.sort_by_key(|(uid, _)| *uid);
            for (uid, change) in changes {
                match change {
                    Some(mut e) => {
                        e.modseq = m;
                        Journal::live_line(uid, &e, &mut lines);
                    }
                    None => Journal::expunge_line(uid, m, &mut lines),
                }
            }
            ctx.confirm_lock()?;
            match self.journal.write(ctx.dir, &lines, ctx.fsync) {
                // The lines are in memory, and the next write writes the
                // whole journal (as after an append's failed line): what
                // the files say is served meanwhile.
                Err(StoreError::Temporary(_)) => deferred = true,
                other => other?,
            }
        }
        // Drop the records of expunged messages once they are many (not
        // on a full disk: a rewrite needs room, and reading a folder must
        // not; the file keeps them until a rewrite finds room).
        if !deferred && self.wants_compaction(&live) {
            ctx.confirm_lock()?;
            match self
                .uidlist
                .rewrite(ctx.dir, |r| live.contains(&r.uid), ctx.fsync)
            {
                Err(StoreError::Temporary(_)) => {}
                other => other?,
            }
        }
        // A second name of a file, too young to be removed, is looked at
        // again by the next reconciliation (the listing may not change).
        self.dirty = deferred || !self.scan.duplicates.is_empty();
        Ok(())
    }

    /// What the journal lacks: for each UID whose file is new, renamed
    /// (its flags) or gone, its new entry or `None` (an expunge), before
    /// a MODSEQ is given; and the UIDs that have a file.
    fn changes(&self, dir: &Path) -> Result<(Vec<JournalChange>, HashSet<u32>), StoreError> {
        let mut changes: Vec<JournalChange> = Vec::new();
        let mut live: HashSet<u32> = HashSet::with_capacity(self.scan.files.len());
        // Their files wait for a new UID (see `reappeared`; the uidlist
        // could not be written): an expunged UID is not made live again.
        let expunged = self.expunged_uids();
        for r in &self.uidlist.records {
            let Some(loc) = self.scan.files.get(&r.base) else {
                continue;
            };
            if r.base.is_empty() || expunged.contains(&r.uid) {
                continue;
            }
            live.insert(r.uid);
            // The W= size in a file name is written with the file and
            // cannot go stale; a journal line that disagrees was damaged,
            // unless the name cannot be the file's size (then the name is
            // the damaged one).
            let named_size = layout::base_field(&r.base, 'W');
            let corrected = match self.journal.live.get(&r.uid) {
                Some(e) if named_size.is_some_and(|w| w != e.size) => named_size.filter(|&w| {
                    fs::symlink_metadata(loc.path(dir)).is_ok_and(|m| layout::fits_file(w, m.len()))
                }),
                _ => None,
            };
            match self.journal.live.get(&r.uid) {
                Some(e) if corrected.is_some() => changes.push((
                    r.uid,
                    Some(Entry {
                        info: loc.info().to_owned(),
                        size: corrected.unwrap_or(e.size),
                        ..e.clone()
                    }),
                )),
                Some(e) if e.info == loc.info() => {}
                Some(e) => changes.push((
                    r.uid,
                    Some(Entry {
                        info: loc.info().to_owned(),
                        ..e.clone()
                    }),
                )),
                None => {
                    #[cfg(test)]
                    if let Some(hook) = BEFORE_DESCRIBING.with(std::cell::Cell::get) {
                        hook(dir);
                    }
                    // A file renamed or removed since the listing is left
                    // to the next reconciliation, which lists it again.
                    if let Some(entry) = describe_file(dir, &r.base, loc)? {
                        changes.push((r.uid, Some(entry)));
                    }
                }
            }
        }
        for &uid in self.journal.live.keys() {
            if !live.contains(&uid) {
                changes.push((uid, None));
            }
        }
        Ok((changes, live))
    }

    /// The base file name of a UID.
    pub(crate) fn base_of(&self, uid: u32) -> Option<&str> {
        let recs = &self.uidlist.records;
        let i = recs.binary_search_by_key(&uid, |r| r.uid).ok()?;
        recs.get(i).map(|r| r.base.as_str()).filter(|b| !b.is_empty())
    }

    /// Whether `request` would change no message's flags, as the folder
    /// was last read: each message of it (that is still there) already
    /// has the flags asked for. False when that is not known from the
    /// last listing.
    pub(crate) fn changes_nothing(&self, request: &crate::backend::StoreFlags) -> bool {
        if !self.scan.valid {
            return false;
        }
        request.uids.iter().all(|uid| {
            let uid = uid.get();
            let present = self.knows(uid) && self.journal.live.contains_key(&uid);
            if !present {
                // Skipped by the change too.
                return true;
            }
            self.listed(uid).is_some_and(|loc| {
                let old = self.keywords.flags_of(loc.info());
                old.apply(request.action, &request.flags) == old
            })
        })
    }

    /// Whether the message is in what this instance last reported of the
    /// folder.
    pub(crate) fn knows(&self, uid: u32) -> bool {
        self.known.as_ref().is_some_and(|k| k.messages.contains_key(&uid))
    }

    /// Where the last listing saw a message's file.
    fn listed(&self, uid: u32) -> Option<Loc> {
        self.base_of(uid).and_then(|b| self.scan.files.get(b)).cloned()
    }

    /// Where a message file is now, listing the folder again if needed.
    pub(crate) fn locate(&mut self, dir: &Path, uid: u32) -> Result<Option<Loc>, StoreError> {
        let Some(base) = self.base_of(uid).map(str::to_owned) else {
            return Ok(None);
        };
        if let Some(loc) = self.scan.files.get(&base) {
            if loc.path(dir).exists() {
                return Ok(Some(loc.clone()));
            }
        }
        self.scan_dirs(dir, true)?;
        Ok(self.scan.files.get(&base).cloned())
    }

    /// Makes the known state the disk state.
    pub(crate) fn adopt(&mut self) -> Result<(), StoreError> {
        let uid_validity = UidValidity::new(self.uidlist.uid_validity)
            .ok_or_else(|| StoreError::Permanent("folder has no UIDVALIDITY".into()))?;
        let messages = self
            .journal
            .live
            .iter()
            .filter_map(|(&uid, e)| Some((uid, self.meta_of(uid, e)?)))
            .collect();
        self.known = Some(Known {
            uid_validity,
            uid_next: self.uidlist.next_uid,
            highest: self.journal.highest,
            messages,
            tombstones: self.journal.tombstones_ever(),
        });
        Ok(())
    }

    /// The tombstones this instance reported (the known state's) with a
    /// MODSEQ above `since` that the journal still keeps, ascending by UID;
    /// none of a message whose file is listed.
    pub(crate) fn kept_tombstones(&self, since: ModSeq) -> Vec<Tombstone> {
        let Some(known) = self.known.as_ref() else {
            return Vec::new();
        };
        let mut out: Vec<Tombstone> = self
            .journal
            .tombstones
            .iter()
            .take(known.tombstones.saturating_sub(self.journal.pruned_count))
            // A message whose file is listed is present, whatever a
            // damaged journal says.
            .filter(|t| t.modseq > since && !known.messages.contains_key(&t.uid.get()))
            .copied()
            .collect();
        out.sort_by_key(|t| t.uid);
        out
    }

    /// The changes of the disk state that the known state lacks, in the
    /// order they happened; the known state then is the disk state.
    pub(crate) fn diff(&mut self) -> Result<Vec<ExternalChange>, StoreError> {
        let Some(known) = self.known.take() else {
            self.adopt()?;
            return Ok(Vec::new());
        };
        let mut out: Vec<(u64, u32, ExternalChange)> = Vec::new();
        for (&uid, e) in &self.journal.live {
            match known.messages.get(&uid) {
                None => {
                    if let Some(meta) = self.meta_of(uid, e) {
                        out.push((e.modseq, uid, ExternalChange::Added(meta)));
                    }
                }
                Some(old) if old.modseq.get() != e.modseq || old.flags != self.flags_of(e) => {
                    let update = FlagUpdate {
                        uid: old.uid,
                        flags: self.flags_of(e),
                        modseq: modseq(e.modseq),
                    };
                    out.push((e.modseq, uid, ExternalChange::Flags(update)));
                }
                Some(_) => {}
            }
        }
        // Tombstones pruned before this instance saw them are not listed:
        // the messages they expunged are found gone below. One of a message
        // still live (its file there, recorded again after the tombstone)
        // is not an expunge: the files say what is present.
        let unseen = known.tombstones.saturating_sub(self.journal.pruned_count);
        let mut reported = HashSet::new();
        for t in self.journal.tombstones.iter().skip(unseen) {
            let uid = t.uid.get();
            if known.messages.contains_key(&uid) && !self.journal.live.contains_key(&uid) {
                reported.insert(uid);
                out.push((t.modseq.get(), t.uid.get(), ExternalChange::Expunged(*t)));
            }
        }
        // Messages gone without a tombstone this instance has seen (the
        // journal was rebuilt): report them with the current MODSEQ.
        for &uid in known.messages.keys() {
            if !self.journal.live.contains_key(&uid) && !reported.contains(&uid) {
                if let Some(u) = Uid::new(uid) {
                    let t = Tombstone {
                        uid: u,
                        modseq: modseq(self.journal.highest),
                    };
                    out.push((self.journal.highest, uid, ExternalChange::Expunged(t)));
                }
            }
        }
        out.sort_by_key(|(m, uid, _)| (*m, *uid));
        self.adopt()?;
        if let Some(k) = &mut self.known {
            k.highest = k.highest.max(known.highest);
            k.uid_next = k.uid_next.max(known.uid_next);
        }
        Ok(out.into_iter().map(|(_, _, c)| c).collect())
    }

    /// Stores the keyword letters for `flags` if some are missing: letters
    /// that no message of the folder carries (the folder is listed again
    /// if it changed since the last listing).
    pub(crate) fn ensure_keywords(&mut self, ctx: Ctx<'_>, flags: &[&Flags]) -> Result<(), StoreError> {
        if flags.iter().all(|f| self.keywords.covers(f)) {
            return Ok(());
        }
        self.scan_dirs(ctx.dir, false)?;
        let carried = self
            .scan
            .files
            .values()
            .fold(0, |bits, loc| bits | keywords::letter_bits(loc.info()));
        let mut table = self.keywords.clone();
        for f in flags {
            table.add_all(f, carried)?;
        }
        keywords::store(ctx.dir, &table, ctx.fsync)?;
        self.keywords = table;
        self.kw_stamp = Stamp::of(&ctx.dir.join("dovecot-keywords"));
        Ok(())
    }

    /// Checks that `count` more UIDs are available.
    pub(crate) fn reserve(&self, count: usize) -> Result<(), StoreError> {
        let last = u64::from(self.uidlist.next_uid) + count as u64;
        if count > 0 && last - 1 > u64::from(u32::MAX - 1) {
            return Err(StoreError::Limit("no UID left in this mailbox"));
        }
        Ok(())
    }

    /// Records messages whose files were just put into `new/` or `cur/`
    /// (under `bases`, with these journal entries): UIDs in the uidlist,
    /// entries in the journal, metas in the known state.
    ///
    /// Fails only when the uidlist append fails: the records it wrote whole
    /// stay, their UIDs never given again, and the caller removes the files
    /// (`abandon`), which then count as expunged before anyone listed
    /// them. Once the uidlist gives the files their UIDs they are
    /// delivered: Dovecot and other instances list them from then on, so a
    /// failure to write the journal after that is not reported (a retry of
    /// a "failed" delivery would deliver the message twice). The journal
    /// keeps the entries in memory and writes them with its next write; if
    /// this instance never writes again, the next reconciliation of any
    /// instance describes the files from the disk.
    pub(crate) fn record_added(
        &mut self,
        ctx: Ctx<'_>,
        added: Vec<(Loc, Entry)>,
    ) -> Result<Vec<MessageMeta>, StoreError> {
        let bases: Vec<String> = added
            .iter()
            .map(|(l, _)| layout::split_info(&l.name).0.to_owned())
            .collect();
        ctx.confirm_lock()?;
        let uids = self.uidlist.append(ctx.dir, &bases, ctx.fsync)?;
        let mut lines = String::new();
        for (uid, (_, e)) in uids.iter().zip(&added) {
            Journal::live_line(*uid, e, &mut lines);
        }
        match ctx.confirm_lock() {
            // A failed write leaves the lines applied in memory. The
            // message is safe once its file and uidlist line are: a lost
            // journal line is written again from the file.
            Ok(()) => {
                let _ = self.journal.write(ctx.dir, &lines, ctx.fsync_changes);
            }
            // Another process holds the lock now: it must not see a write
            // (it describes the files itself when it reconciles).
            Err(_) => self.journal.apply_unsaved(&lines),
        }
        let mut metas = Vec::with_capacity(added.len());
        for ((loc, e), (uid, base)) in added.into_iter().zip(uids.into_iter().zip(bases)) {
            let meta = self
                .meta_of(uid, &e)
                .ok_or(StoreError::Limit("no UID left in this mailbox"))?;
            self.scan.files.insert(base, loc);
            if let Some(k) = &mut self.known {
                k.messages.insert(uid, meta.clone());
                k.uid_next = k.uid_next.max(uid.saturating_add(1));
                k.highest = k.highest.max(e.modseq);
            }
            metas.push(meta);
        }
        self.touched_dirs();
        Ok(metas)
    }

    /// Renames a message file to carry new flags.
    pub(crate) fn rename_flags(&mut self, dir: &Path, loc: &Loc, info: &str) -> Result<Loc, StoreError> {
        let base = layout::split_info(&loc.name).0.to_owned();
        let new = Loc {
            cur: true,
            name: format!("{base}:2,{info}"),
        };
        let (from, to) = (loc.path(dir), new.path(dir));
        fs::rename(&from, &to).map_err(|e| io_err("rename", &from, &e))?;
        self.scan.files.insert(base, new.clone());
        self.touched_dirs();
        Ok(new)
    }

    /// Records flag changes made to the files (one MODSEQ).
    ///
    /// As for an expunge (see [`Folder::expunge_files`]), the file names
    /// are the change: journal lines that a full disk has no room for wait
    /// in memory for the next write (or the next reconciliation finds the
    /// names changed), and the change is reported made. Any other failure
    /// is returned with nothing reported; the caller puts the names back.
    pub(crate) fn record_flags(
        &mut self,
        ctx: Ctx<'_>,
        changed: &[(u32, String)],
        m: u64,
    ) -> Result<Vec<FlagUpdate>, StoreError> {
        let mut lines = String::new();
        let mut entries = Vec::with_capacity(changed.len());
        for (uid, info) in changed {
            let Some(old) = self.journal.live.get(uid) else {
                continue;
            };
            let e = Entry {
                modseq: m,
                info: info.clone(),
                ..old.clone()
            };
            Journal::live_line(*uid, &e, &mut lines);
            entries.push((*uid, e));
        }
        ctx.confirm_lock()?;
        match self.journal.write(ctx.dir, &lines, ctx.fsync_changes) {
            Err(StoreError::Temporary(e)) => tracing::warn!(
                folder = %ctx.dir.display(),
                "flags changed, their MODSEQ kept in memory to be recorded later: {e}"
            ),
            written => written?,
        }
        let mut updates = Vec::with_capacity(entries.len());
        for (uid, e) in entries {
            let flags = self.flags_of(&e);
            if let (Some(k), Some(u)) = (&mut self.known, Uid::new(uid)) {
                if let Some(meta) = k.messages.get_mut(&uid) {
                    meta.flags = flags.clone();
                    meta.modseq = modseq(m);
                }
                k.highest = k.highest.max(m);
                updates.push(FlagUpdate {
                    uid: u,
                    flags,
                    modseq: modseq(m),
                });
            }
        }
        Ok(updates)
    }

    /// The directory where this instance keeps expunged content.
    pub(crate) fn kept_dir(ctx: Ctx<'_>) -> PathBuf {
        ctx.dir.join(EXPUNGED_DIR).join(ctx.instance)
    }

    /// The path of an expunged message's kept content: in this
    /// instance's directory, or in `tmp/` when that directory cannot be
    /// made (a full disk: a new directory needs a block, and deleting mail
    /// is how a user frees space; `tmp/` is cleaned of what is left there
    /// after 36 hours).
    fn kept_path(&self, ctx: Ctx<'_>, uid: u32, in_tmp: bool) -> PathBuf {
        let name = format!("{}-{uid}", self.uidlist.uid_validity);
        if in_tmp {
            ctx.dir
                .join("tmp")
                .join(format!("{EXPUNGED_DIR}.{}.{name}", ctx.instance))
        } else {
            Self::kept_dir(ctx).join(name)
        }
    }

    /// Moves the files of these messages out of the folder (keeping their
    /// content for this instance) and records their expunge with MODSEQ
    /// `m`. UIDs whose file is already gone are expunged too.
    ///
    /// The files leaving the folder are the expunge, for Dovecot and every
    /// instance; the journal lines only give it its MODSEQ. So a journal
    /// that cannot be written for a passing reason (a full disk, where
    /// deleting mail is how a user frees space) does not fail it: the
    /// lines wait in memory for this instance's next write (purging the
    /// content, which frees space, tries at once), and if this instance
    /// never writes again, the next reconciliation of any instance finds
    /// the files gone and records the expunge with a MODSEQ above `m`.
    /// If the expunge cannot be made otherwise (a rename or flush fails,
    /// the lock was taken over, the journal fails for good), the files
    /// are moved back before the error is returned, so a refused EXPUNGE
    /// or POP3 QUIT deletes nothing.
    pub(crate) fn expunge_files(&mut self, ctx: Ctx<'_>, uids: &[u32], m: u64) -> Result<(), StoreError> {
        if uids.is_empty() {
            return Ok(());
        }
        let kept_dir = Self::kept_dir(ctx);
        let in_tmp = fsutil::ensure_dir(&ctx.dir.join(EXPUNGED_DIR))
            .and_then(|()| fsutil::ensure_dir(&kept_dir))
            .is_err();
        let mut lines = String::new();
        let mut moved: Vec<(u32, PathBuf, PathBuf, u64)> = Vec::with_capacity(uids.len());
        let done = (|| {
            for &uid in uids {
                let to = self.kept_path(ctx, uid, in_tmp);
                // Read before the expunge line takes the entry away.
                let size = self.journal.live.get(&uid).map_or(0, |e| e.size);
                if let Some(from) = self.take_file(ctx.dir, uid, &to)? {
                    moved.push((uid, from, to, size));
                }
                Journal::expunge_line(uid, m, &mut lines);
            }
            self.touched_dirs();
            fsutil::sync_dir(&ctx.dir.join("cur"), ctx.fsync_changes)?;
            fsutil::sync_dir(&ctx.dir.join("new"), ctx.fsync_changes)?;
            ctx.confirm_lock()?;
            Ok(())
        })();
        #[cfg(test)]
        let done = done.and_then(|()| {
            let fail = FAIL_EXPUNGES.with(|f| f.replace(f.get().saturating_sub(1)) > 0);
            if fail {
                Err(StoreError::Temporary("expunge record failed (injected)".into()))
            } else {
                Ok(())
            }
        });
        let before = self.journal.tombstones_ever();
        let done = done.and_then(
            |()| match self.journal.write(ctx.dir, &lines, ctx.fsync_changes) {
                Err(StoreError::Temporary(e)) => {
                    tracing::warn!(
                        folder = %ctx.dir.display(),
                        "expunge made, its MODSEQ kept in memory to be recorded later: {e}"
                    );
                    Ok(())
                }
                written => written,
            },
        );
        if let Err(e) = done {
            for (_, from, to, _) in moved.iter().rev() {
                let _ = fs::rename(to, from);
            }
            // The journal in memory holds the expunges the file does not
            // (a failed append is cut back): read everything again.
            self.invalidate();
            return Err(e);
        }
        for (uid, _, kept, size) in &moved {
            let within = kept.strip_prefix(ctx.dir).unwrap_or(kept).to_path_buf();
            self.kept.insert(*uid, Kept { within, size: *size });
            if let Some(base) = self.base_of(*uid) {
                let base = base.to_owned();
                self.scan.files.remove(&base);
            }
        }
        if let Some(k) = &mut self.known {
            for &uid in uids {
                k.messages.remove(&uid);
            }
            k.highest = k.highest.max(m);
            // The new tombstones are this instance's own: reported already.
            if k.tombstones == before {
                k.tombstones = self.journal.tombstones_ever();
            }
        }
        Ok(())
    }

    /// Moves the file of `uid` to `to` and returns where it was; `None` if
    /// it is gone. A file another program renames meanwhile (a mail reader
    /// changing its flags, or moving it from `new/` to `cur/`) is looked
    /// for again: taken for gone, it would stay, and the expunge recorded
    /// for it would be undone by the next reconciliation, which gives a
    /// file it lists its UID back. A file not found is looked for in a
    /// second listing (one made while it was renamed may miss it); one
    /// that keeps moving fails the expunge (temporarily).
    fn take_file(&mut self, dir: &Path, uid: u32, to: &Path) -> Result<Option<PathBuf>, StoreError> {
        let Some(base) = self.base_of(uid).map(str::to_owned) else {
            return Ok(None);
        };
        for _ in 0..4 {
            let loc = match self.locate(dir, uid)? {
                Some(loc) => loc,
                None => {
                    self.scan_dirs(dir, true)?;
                    match self.scan.files.get(&base) {
                        Some(loc) => loc.clone(),
                        None => return Ok(None),
                    }
                }
            };
            #[cfg(test)]
            if let Some(hook) = BEFORE_EXPUNGE_RENAME.with(std::cell::Cell::get) {
                hook(dir);
            }
            let from = loc.path(dir);
            match fs::rename(&from, to) {
                Ok(()) => return Ok(Some(from)),
                Err(e) if fsutil::not_found(&e) => {
                    self.scan_dirs(dir, true)?;
                }
                Err(e) => return Err(io_err("rename", &from, &e)),
            }
        }
        Err(StoreError::Temporary(format!(
            "{}: the file of message {uid} kept moving",
            dir.display()
        )))
    }

    /// Reads a message's content: its file, or the kept content of an
    /// expunged message; a file longer than `limit` octets is refused.
    pub(crate) fn read(&mut self, ctx: Ctx<'_>, uid: u32, limit: u64) -> Result<Option<Bytes>, StoreError> {
        let Some((path, mut file)) = self.open(ctx, uid)? else {
            return Ok(None);
        };
        match fsutil::read_from(&mut file, 0, limit) {
            Ok(data) => Ok(Some(to_crlf(data))),
            Err(e) if e.kind() == std::io::ErrorKind::FileTooLarge => Err(StoreError::Limit(
                "message file too large to read whole (MaildirOptions::max_read_whole)",
            )),
            Err(e) => Err(io_err("read", &path, &e)),
        }
    }

    /// Opens a message's file (its kept copy once expunged): the file
    /// stays readable however it is renamed later, so the content can be
    /// streamed without holding the folder.
    pub(crate) fn open(&mut self, ctx: Ctx<'_>, uid: u32) -> Result<Option<(PathBuf, fs::File)>, StoreError> {
        let present = self.knows(uid);
        if present {
            // Where the last listing saw it: the open tells whether it is
            // still there (no `stat` first).
            let mut listed = self.listed(uid);
            if listed.is_none() {
                listed = self.locate(ctx.dir, uid)?;
            }
            for _ in 0..2 {
                let Some(loc) = listed else {
                    break;
                };
                let path = loc.path(ctx.dir);
                match fsutil::open_read(&path) {
                    Ok(file) => return Ok(Some((path, file))),
                    Err(e) if fsutil::not_found(&e) => {
                        // Renamed meanwhile: list again.
                        self.scan_dirs(ctx.dir, true)?;
                        listed = self.listed(uid);
                    }
                    Err(e) => return Err(io_err("read", &path, &e)),
                }
            }
        }
        if let Some(kept) = self.kept.get(&uid) {
            let path = ctx.dir.join(&kept.within);
            return match fsutil::open_read(&path) {
                Ok(file) => Ok(Some((path, file))),
                Err(e) if fsutil::not_found(&e) => Ok(None),
                Err(e) => Err(io_err("read", &path, &e)),
            };
        }
        Ok(None)
    }
}

/// The journal entry for a file found in the folder (its date is the
/// file's mtime, as Dovecot keeps it; its size the W= or S= field, or
/// counted).
fn describe_file(dir: &Path, base: &str, loc: &Loc) -> Result<Option<Entry>, StoreError> {
    let path = loc.path(dir);
    let meta = match fs::symlink_metadata(&path) {
        Ok(m) => m,
        // Renamed (another program changed its flags, or moved it from
        // new/ to cur/) or removed since the listing: nothing to describe.
        // Recorded with a size of 0 and a date of 1970, it kept them.
        Err(e) if fsutil::not_found(&e) => return Ok(None),
        Err(e) => return Err(io_err("stat", &path, &e)),
    };
    let size = match layout::base_field(base, 'W').filter(|&w| layout::fits_file(w, meta.len())) {
        Some(w) => w,
        // Counted in pieces: a big message is never read whole.
        None => match fsutil::open_read(&path) {
            Ok(file) => virtual_size_of_file(&file).unwrap_or(meta.len()),
            Err(e) if fsutil::not_found(&e) => return Ok(None),
            Err(_) => meta.len(),
        },
    };
    Ok(Some(Entry {
        modseq: 1,
        info: loc.info().to_owned(),
        date: fsutil::mtime_secs(&meta),
        zone: 0,
        size,
        // Another program put it here: the change time of the file is
        // when it arrived in this folder (or was last renamed), as close
        // as the file tells.
        saved: Some(meta.ctime()),
    }))
}

/// Removes what crashed writers left: old files in `tmp/` and the kept
/// content of backend instances that no longer run.
///
/// Each directory is opened once, never through a link, and its entries
/// are looked at and removed relative to it ([`fsutil::OpenDir`]).
fn clean_leftovers(ctx: Ctx<'_>) {
    let now = SystemTime::now();
    #[cfg(test)]
    let max_age = TMP_AGE.with(std::cell::Cell::get).unwrap_or(TMP_MAX_AGE);
    #[cfg(not(test))]
    let max_age = TMP_MAX_AGE;
    if let Ok(tmp) = fsutil::OpenDir::open(&ctx.dir.join("tmp")) {
        #[cfg(test)]
        if let Some(swap) = AFTER_OPENING_TMP.with(std::cell::Cell::get) {
            swap(&ctx.dir.join("tmp"));
        }
        for (name, is_dir) in tmp.entries().unwrap_or_default() {
            // The change time: the mtime of a staged message is its
            // INTERNALDATE, which may be old.
            let old = tmp.stat(&name).is_ok_and(|s| {
                let ctime = fsutil::system_time(s.st_ctime);
                now.duration_since(ctime).is_ok_and(|age| age > max_age)
            });
            if old && !is_dir {
                let _ = tmp.remove_file(&name);
            }
        }
    }
    if let Ok(kept) = fsutil::OpenDir::open(&ctx.dir.join(EXPUNGED_DIR)) {
        for (name, _) in kept.entries().unwrap_or_default() {
            let Some(instance) = name.to_str() else {
                continue;
            };
            if instance != ctx.instance && instance_is_dead(instance) {
                let _ = kept.remove_tree(&name);
            }
        }
    }
}

#[cfg(test)]
thread_local! {
    /// Runs on a folder's `tmp/` once [`clean_leftovers`] opened it: the
    /// test of a link swapped in for it at that moment.
    pub(crate) static AFTER_OPENING_TMP: std::cell::Cell<Option<fn(&Path)>> = const { std::cell::Cell::new(None) };
    /// How old a file in `tmp/` must be to be removed, instead of
    /// [`TMP_MAX_AGE`] (a file's change time cannot be set back).
    pub(crate) static TMP_AGE: std::cell::Cell<Option<Duration>> = const { std::cell::Cell::new(None) };
}

/// A backend instance name `<host>-<pid>-<nonce>`.
pub(crate) fn instance_name() -> String {
    format!(
        "{}-{}-{:016x}",
        fsutil::filename_host().replace('-', "_"),
        std::process::id(),
        fsutil::random_u64()
    )
}

/// Whether the instance that wrote under this name is gone: it ran on this
/// host, and its process is gone or is this process without that
/// instance, and its pid cannot be one of another PID namespace sharing
/// the host name (as for the owner of a lock: [`lock`]).
pub(crate) fn instance_is_dead(name: &str) -> bool {
    let mut parts = name.rsplitn(3, '-');
    let (Some(_nonce), Some(pid), Some(host)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let Ok(pid) = pid.parse::<u32>() else { return false };
    if host != fsutil::filename_host().replace('-', "_") {
        return false;
    }
    if pid == std::process::id() {
        let live = live_instances().lock().unwrap_or_else(|e| e.into_inner());
        if live.contains(name) {
            return false;
        }
    } else if fsutil::process_alive(pid) {
        return false;
    }
    !fsutil::pid_of_another_namespace(pid)
}

/// Takes a folder's lock (Dovecot's `dovecot-uidlist.lock`).
pub(crate) fn lock_folder(dir: &Path) -> Result<DotLock, StoreError> {
    let lock = DotLock::acquire(
        &dir.join("dovecot-uidlist"),
        lock::UIDLIST_STALE,
        lock::default_timeout(lock::UIDLIST_STALE),
    )?;
    #[cfg(test)]
    if let Some(take_over) = AFTER_LOCKING.with(std::cell::Cell::get) {
        take_over(&dir.join("dovecot-uidlist.lock"));
    }
    Ok(lock)
}

#[cfg(test)]
thread_local! {
    /// Runs on a folder's directory before a reconciliation describes a
    /// file it listed (its size and date): the tests of another program
    /// renaming it meanwhile.
    pub(crate) static BEFORE_DESCRIBING: std::cell::Cell<Option<fn(&Path)>> = const { std::cell::Cell::new(None) };
}

#[cfg(test)]
thread_local! {
    /// Replaces [`LINK_AGE`] on this thread: the tests of a second name
    /// removed, which cannot wait for it.
    pub(crate) static LINK_AGE_FOR_TESTS: std::cell::Cell<Option<Duration>> = const { std::cell::Cell::new(None) };
}

#[cfg(test)]
thread_local! {
    /// Runs on a folder's directory before an expunge renames a message's
    /// file away: the tests of another program renaming it meanwhile.
    pub(crate) static BEFORE_EXPUNGE_RENAME: std::cell::Cell<Option<fn(&Path)>> = const { std::cell::Cell::new(None) };
}

#[cfg(test)]
thread_local! {
    /// Runs on the lock file of a folder as soon as this thread locked the
    /// folder: the tests of a lock another process takes over (Dovecot,
    /// after 120 s without a touch) while an operation holds it.
    pub(crate) static AFTER_LOCKING: std::cell::Cell<Option<fn(&Path)>> = const { std::cell::Cell::new(None) };
}

/// Flushes the directories that messages were just placed in (`cur/`,
/// `new/`, or both).
pub(crate) fn sync_placed(dir: &Path, placed: &[(Loc, Entry)], fsync: bool) -> Result<(), StoreError> {
    for (sub, cur) in [("cur", true), ("new", false)] {
        if placed.iter().any(|(l, _)| l.cur == cur) {
            fsutil::sync_dir(&dir.join(sub), fsync)?;
        }
    }
    Ok(())
}

/// Whether `dir` is a Maildir folder: it has `cur/`, and neither it nor
/// `cur/`, `new/` or `tmp/` is a symbolic link. `top` is the Maildir
/// itself (INBOX), which the operator may place anywhere through a link;
/// below it no link is followed (see [`fsutil::no_follow`]).
pub(crate) fn is_folder(dir: &Path, top: bool) -> bool {
    let linked = |sub: &str| fs::symlink_metadata(dir.join(sub)).is_ok_and(|m| m.file_type().is_symlink());
    (top || fsutil::real_dir(dir)) && fsutil::real_dir(&dir.join("cur")) && !linked("new") && !linked("tmp")
}

/// The first line of a file (at most 4 KiB), without its line end.
fn first_line(path: &Path) -> Option<String> {
    use std::io::Read;
    let mut buf = Vec::with_capacity(256);
    fsutil::open_read(path)
        .ok()?
        .take(4096)
        .read_to_end(&mut buf)
        .ok()?;
    let end = memchr::memchr(b'\n', &buf)?;
    String::from_utf8(buf.get(..end)?.to_vec()).ok()
}

/// Reads a folder's UIDVALIDITY and SPECIAL-USE from the first lines of its
/// uidlist and journal, without the lock; `None` for a folder without a
/// usable uidlist.
pub(crate) fn peek(dir: &Path) -> Option<(UidValidity, Vec<SpecialUse>)> {
    let header = first_line(&dir.join("dovecot-uidlist"))?;
    let v = header
        .split(' ')
        .skip(1)
        .find_map(|f| f.strip_prefix('V'))
        .and_then(|v| v.parse().ok())
        .and_then(UidValidity::new)?;
    let mut special = Vec::new();
    if let Some(j) = first_line(&dir.join(super::journal::NAME)) {
        let tag = format!("V{v}");
        if j.starts_with("mailwire-modseq 1 ") && j.split(' ').any(|f| f == tag) {
            for field in j.split(' ') {
                if let Some(list) = field.strip_prefix('U') {
                    special.extend(
                        list.split(',')
                            .filter_map(|n| SpecialUse::from_name(&format!("\\{n}"))),
                    );
                }
            }
        }
    }
    special.sort();
    special.dedup();
    Some((v, special))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf_conversion_matches_virtual_size() {
        for input in [&b"a\nb\r\nc\n"[..], b"", b"\n\n", b"x\r\n", b"no end"] {
            let out = to_crlf(input.to_vec());
            assert_eq!(out.len() as u64, virtual_size(input), "{input:?}");
            for step in [1, 2, 5] {
                let pieces = Trickle { data: input, step };
                let mut lfs = BareLfs::default();
                let read = lfs.read(pieces, &mut [0u8; 3]).unwrap();
                assert_eq!(read + lfs.count, virtual_size(input), "{input:?} {step}");
            }
            assert!(!memchr::memchr_iter(b'\n', &out).any(|i| i == 0 || out[i - 1] != b'\r'));
        }
    }

    /// The size of a message file counted over its data alone equals that
    /// of the whole file read, holes (zeros) included: an LF after a hole
    /// is bare, a CR before a hole does not pair with an LF after it.
    #[test]
    fn virtual_size_of_a_sparse_file_equals_that_of_its_whole_content() {
        use std::io::{Seek, SeekFrom, Write};
        let dir = tempfile::tempdir().unwrap();
        let pieces: [&[u8]; 4] = [b"a\nb\r\nc\n", b"\r", b"\nafter a hole\r", b"\n"];
        for gap in [0u64, 1, 4096, 3 << 20] {
            let path = dir.path().join(format!("gap{gap}"));
            let mut file = fs::File::create(&path).unwrap();
            let mut whole = Vec::new();
            for piece in pieces {
                file.seek(SeekFrom::Current(gap as i64)).unwrap();
                file.write_all(piece).unwrap();
                whole.resize(whole.len() + gap as usize, 0);
                whole.extend_from_slice(piece);
            }
            // A hole at the end too.
            file.set_len(whole.len() as u64 + gap).unwrap();
            whole.resize(whole.len() + gap as usize, 0);
            let file = fs::File::open(&path).unwrap();
            assert_eq!(
                virtual_size_of_file(&file).unwrap(),
                virtual_size(&whole),
                "gap {gap}"
            );
        }
        let empty = dir.path().join("empty");
        fs::File::create(&empty).unwrap();
        assert_eq!(virtual_size_of_file(&fs::File::open(&empty).unwrap()).unwrap(), 0);
    }

    /// A reader that hands out at most `step` bytes per call, as a file or
    /// pipe may.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl std::io::Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            let n = self.step.min(out.len()).min(self.data.len());
            out[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    #[test]
    fn streamed_crlf_conversion_equals_the_whole_file_one() {
        let inputs: [&[u8]; 8] = [
            b"a\nb\r\nc\n",
            b"",
            b"\n\n",
            b"x\r\n",
            b"no end",
            b"\r\r\n\n\r",
            b"\nstarts with LF",
            b"lone CR\r then text\n",
        ];
        for input in inputs {
            for (step, out_len) in [(1, 1), (1, 7), (3, 2), (64, 1), (1000, 1000)] {
                let mut reader = CrlfReader::new(Trickle { data: input, step });
                let mut got = Vec::new();
                let mut out = vec![0; out_len];
                loop {
                    let n = std::io::Read::read(&mut reader, &mut out).unwrap();
                    if n == 0 {
                        break;
                    }
                    got.extend_from_slice(&out[..n]);
                }
                assert_eq!(
                    got,
                    &to_crlf(input.to_vec())[..],
                    "{input:?} step {step} out {out_len}"
                );
            }
        }
    }

    #[test]
    fn instance_names() {
        let name = instance_name();
        assert!(instance_is_dead(&name), "not registered: treated as gone");
        live_instances().lock().unwrap().insert(name.clone());
        assert!(!instance_is_dead(&name));
        live_instances().lock().unwrap().remove(&name);
        assert!(!instance_is_dead("otherhost-1-00"));
        assert!(!instance_is_dead("garbage"));
    }

    /// An instance of this host name whose pid no process here has, but a
    /// live process of another PID namespace has there, is not gone (its
    /// kept content must stay); once that process ends, it is.
    #[test]
    fn an_instance_of_another_pid_namespace_is_alive() {
        let Some((mut child, pid)) = fsutil::tests::process_in_child_pid_namespace() else {
            return;
        };
        let host = fsutil::filename_host().replace('-', "_");
        let name = format!("{host}-{pid}-00000000000000ff");
        let alive = !instance_is_dead(&name);
        let _ = child.kill();
        let _ = child.wait();
        assert!(alive, "an instance of another PID namespace judged gone");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !instance_is_dead(&name) {
            assert!(
                std::time::Instant::now() < deadline,
                "still alive after its namespace ended"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

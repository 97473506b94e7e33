//! The `dovecot-uidlist` file: a folder's UIDVALIDITY, next UID and the
//! UID of every message file, in Dovecot's version 3 format:
//!
//! ```text
//! 3 V<uidvalidity> N<next uid> G<mailbox guid, 32 hex digits> [<key><value> ...]
//! <uid> [<key><value> ...] :<file name up to the ':'>
//! ```
//!
//! Records are in ascending UID order. A record whose file is gone stands
//! for an expunged message until the file is rewritten. New records are
//! appended to the file under `dovecot-uidlist.lock` (as Dovecot does), so
//! the next UID is the larger of `N` and the last UID + 1; a rewrite goes
//! through `dovecot-uidlist.tmp` and a rename. Readers keep the file's
//! identity and the length read, and read only what was appended since.
//! A last line without its line end (a writer killed in mid-append) is not
//! read, and since the file is then longer than what was read, the next
//! append rewrites the file without it instead of writing after it: a
//! record is never glued to a torn one (tests/maildir_torn.rs). The UID a
//! torn record names, if its digits are complete, is not given again.
//! Version 1 files (`1 <uidvalidity> <next uid>`, records `<uid>
//! <name>`) are read too and rewritten as version 3.

use std::collections::HashMap;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::fsutil::{self, io_err};
use crate::types::StoreError;

/// A uidlist larger than this is refused as corrupt: ten million records
/// of about a hundred octets, more than a folder holds whose directory
/// can still be listed.
const MAX_FILE: u64 = 1 << 30;

/// The memory a record takes beyond its text (which it holds twice, in
/// the record and as the key of `by_base`): the record, the key and the
/// index in the map, each twice for the slack of a vector and a map that
/// grow by doubling, and the allocator's bookkeeping of two strings. (A
/// million records of a few octets measured 204 octets each, this gives
/// 236; 300,000 of Dovecot's names 318, this 344.)
const RECORD_COST: u64 =
    (2 * std::mem::size_of::<Record>() + 2 * std::mem::size_of::<(String, usize)>() + 48) as u64;

/// What a record of `base` and `ext` costs in memory.
fn record_cost(base: &str, ext: &str) -> u64 {
    RECORD_COST + 2 * base.len() as u64 + ext.len() as u64
}

#[cfg(test)]
thread_local! {
    /// Makes [`UidList::append`] on this thread write half of its records
    /// and fail, as a write into a full disk does.
    pub(crate) static FAIL_APPENDS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// One message: its UID, extension fields and base file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    pub(crate) uid: u32,
    /// Extension fields as found (`S123 W125`), without separators at
    /// the ends; written back as they are.
    pub(crate) ext: String,
    pub(crate) base: String,
}

/// A parsed uidlist, with what is needed to read appended records.
#[derive(Debug, Clone, Default)]
pub(crate) struct UidList {
    pub(crate) uid_validity: u32,
    /// The next UID to assign: the header's `N`, raised past every record.
    pub(crate) next_uid: u32,
    pub(crate) guid: String,
    /// Other header fields, kept as found.
    hdr_ext: String,
    version: u8,
    pub(crate) records: Vec<Record>,
    by_base: HashMap<String, usize>,
    /// (device, inode) of the file read, and how many bytes of it.
    file_id: Option<(u64, u64)>,
    read_len: u64,
    /// The memory the records take, as [`record_cost`] counts it (a
    /// record emptied when another replaced it still counts).
    cost: u64,
}

/// What [`UidList::refresh`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refreshed {
    /// Nothing changed.
    Same,
    /// Records were appended.
    Appended,
    /// The file was replaced (rewritten, or removed and recreated).
    Reloaded,
    /// There is no file.
    Missing,
    /// There is a file, but its header cannot be read: its UIDVALIDITY
    /// and next UID are lost (its records are not trusted either).
    Unreadable,
}

impl UidList {
    /// A new, empty list.
    pub(crate) fn new(uid_validity: u32, guid: String) -> UidList {
        UidList {
            uid_validity,
            next_uid: 1,
            guid,
            version: 3,
            ..UidList::default()
        }
    }

    /// The record index of a base name.
    pub(crate) fn uid_of(&self, base: &str) -> Option<u32> {
        self.by_base
            .get(base)
            .and_then(|&i| self.records.get(i))
            .map(|r| r.uid)
    }

    /// The memory the list takes (an estimate, for the account's
    /// allowance).
    pub(crate) fn cost(&self) -> u64 {
        self.cost
    }

    /// Whether the file has been read.
    pub(crate) fn is_loaded(&self) -> bool {
        self.file_id.is_some()
    }

    /// Whether `path` is still the file this list was read from (its
    /// header, rewritten only by a rename, is then as read).
    pub(crate) fn same_file(&self, path: &Path) -> bool {
        fsutil::file_stamp(path).is_some_and(|(dev, ino, _)| self.file_id == Some((dev, ino)))
    }

    /// Whether the file at `path`, the one this list was read from, ends
    /// with an incomplete record (what follows the last whole line read).
    pub(crate) fn torn_tail(&self, path: &Path) -> bool {
        fsutil::file_stamp(path)
            .is_some_and(|(dev, ino, len)| self.file_id == Some((dev, ino)) && len > self.read_len)
    }

    /// Brings the list up to date with the file at `path`, holding at most
    /// `allowance` octets of memory ([`fsutil::OVER_BUDGET`] otherwise:
    /// whoever can write to the Maildir can write a gibibyte of records
    /// of a few octets each, tens of gibibytes in memory). A list that
    /// would hold more is not taken: it stays as it was, and a list that
    /// outgrew it while taking appended records is read whole next time.
    pub(crate) fn refresh(&mut self, path: &Path, allowance: u64) -> Result<Refreshed, StoreError> {
        // Unchanged since the last read: one lstat instead of an open.
        if self.version == 3
            && fsutil::file_stamp(path)
                .is_some_and(|(dev, ino, len)| self.file_id == Some((dev, ino)) && len == self.read_len)
        {
            return Ok(Refreshed::Same);
        }
        let mut file = match fsutil::open_read(path) {
            Ok(f) => f,
            Err(e) if fsutil::not_found(&e) => {
                self.file_id = None;
                return Ok(Refreshed::Missing);
            }
            Err(e) => return Err(io_err("open", path, &e)),
        };
        let meta = file.metadata().map_err(|e| io_err("stat", path, &e))?;
        let id = (meta.dev(), meta.ino());
        if self.file_id == Some(id) && self.version == 3 {
            if meta.len() == self.read_len {
                return Ok(Refreshed::Same);
            }
            if meta.len() > self.read_len {
                let room = allowance.saturating_sub(self.cost);
                let tail = fsutil::read_state(&mut file, path, self.read_len, MAX_FILE, room)?;
                let complete = memchr::memrchr(b'\n', &tail).map_or(0, |p| p + 1);
                for line in fsutil::lossy_lines(&tail[..complete]) {
                    self.parse_record(&line);
                    if self.cost > allowance {
                        self.file_id = None;
                        return Err(fsutil::OVER_BUDGET);
                    }
                }
                self.pass_torn(&tail[complete..]);
                self.read_len += complete as u64;
                return Ok(Refreshed::Appended);
            }
        }
        let all = fsutil::read_state(&mut file, path, 0, MAX_FILE, allowance)?;
        let complete = memchr::memrchr(b'\n', &all).map_or(0, |p| p + 1);
        let mut fresh = UidList::default();
        let mut lines = fsutil::lossy_lines(&all[..complete]);
        if !lines.next().is_some_and(|h| fresh.parse_header(&h)) {
            self.file_id = None;
            return Ok(Refreshed::Unreadable);
        }
        for line in lines {
            fresh.parse_record(&line);
            if fresh.cost > allowance {
                return Err(fsutil::OVER_BUDGET);
            }
        }
        fresh.pass_torn(&all[complete..]);
        fresh.file_id = Some(id);
        fresh.read_len = complete as u64;
        *self = fresh;
        Ok(Refreshed::Reloaded)
    }

    /// Takes the records of the file at `path`, whose header could not be
    /// read, into this list (of the UIDVALIDITY they were given under, as
    /// something else vouches for it): each as Dovecot's version 3 writes
    /// it, and only those `keep` accepts by UID and base name. Whatever is
    /// kept, the next UID given is above every UID the file names (records
    /// dropped, a torn last one, the header's `N` where it reads): a client
    /// may have seen them. A missing or unreadable file gives none; one
    /// whose records would take more than `allowance` octets of memory
    /// is refused ([`fsutil::OVER_BUDGET`]).
    pub(crate) fn salvage(
        &mut self,
        path: &Path,
        keep: impl Fn(u32, &str) -> bool,
        allowance: u64,
    ) -> Result<(), StoreError> {
        let all = match fsutil::open_read(path) {
            Ok(mut file) => match fsutil::read_state(&mut file, path, 0, MAX_FILE, allowance) {
                Ok(all) => all,
                Err(e) if e == fsutil::OVER_BUDGET => return Err(e),
                Err(_) => return Ok(()),
            },
            Err(_) => return Ok(()),
        };
        let complete = memchr::memrchr(b'\n', &all).map_or(0, |p| p + 1);
        let mut lines = fsutil::lossy_lines(&all[..complete]);
        let header = lines.next().unwrap_or_default();
        let named = header
            .split(' ')
            .filter_map(|field| field.strip_prefix('N')?.parse::<u32>().ok())
            .max()
            .unwrap_or(0);
        let mut highest = 0;
        for line in lines {
            let kept = line.split_once(' ').is_some_and(|(uid, rest)| {
                let base = rest.split_once(':').map_or("", |(_, b)| b);
                let base = base.split(':').next().unwrap_or(base);
                uid.parse::<u32>().is_ok_and(|uid| {
                    if uid != u32::MAX {
                        highest = highest.max(uid);
                    }
                    keep(uid, base)
                })
            });
            if kept {
                self.parse_record(&line);
                if self.cost > allowance {
                    return Err(fsutil::OVER_BUDGET);
                }
            }
        }
        self.pass_torn(&all[complete..]);
        self.next_uid = self.next_uid.max(named).max(highest.saturating_add(1));
        Ok(())
    }

    fn parse_header(&mut self, line: &str) -> bool {
        let (version, rest) = match line.split_once(' ') {
            Some(("3", rest)) => (3, rest),
            Some(("1", rest)) => (1, rest),
            _ => return false,
        };
        self.version = version;
        let mut next = 0u32;
        if version == 1 {
            let mut it = rest.split(' ');
            self.uid_validity = it.next().and_then(|v| v.parse().ok()).unwrap_or(0);
            next = it.next().and_then(|v| v.parse().ok()).unwrap_or(0);
        } else {
            let mut ext = Vec::new();
            for field in rest.split(' ').filter(|f| !f.is_empty()) {
                let (key, value) = field.split_at(field.chars().next().map_or(0, char::len_utf8));
                match key {
                    "V" => self.uid_validity = value.parse().unwrap_or(0),
                    "N" => next = value.parse().unwrap_or(0),
                    // Dovecot refuses a header whose GUID is not 32 hex
                    // digits (and deletes the file): one that is not is
                    // never written back.
                    "G" if is_guid(value) => self.guid = value.to_owned(),
                    "G" => {}
                    _ => ext.push(field),
                }
            }
            self.hdr_ext = ext.join(" ");
        }
        if self.uid_validity == 0 || next == 0 {
            return false;
        }
        self.next_uid = next;
        true
    }

    /// Adds one record line; lines that are malformed or out of order are
    /// skipped.
    fn parse_record(&mut self, line: &str) {
        let Some((uid, rest)) = line.split_once(' ') else {
            return;
        };
        let Ok(uid) = uid.parse::<u32>() else { return };
        if uid == 0 || uid == u32::MAX || self.records.last().is_some_and(|r| r.uid >= uid) {
            return;
        }
        let (ext, base) = if self.version == 3 {
            let Some(colon) = rest.find(':') else { return };
            (rest[..colon].trim(), &rest[colon + 1..])
        } else {
            ("", rest.trim())
        };
        let base = base.split(':').next().unwrap_or(base);
        if !super::layout::valid_message_file(base) {
            return;
        }
        if let Some(&old) = self.by_base.get(base) {
            // The same file under a new UID: the later record wins (Dovecot
            // does the same).
            if let Some(r) = self.records.get_mut(old) {
                r.base = String::new();
            }
        }
        self.by_base.insert(base.to_owned(), self.records.len());
        self.cost += record_cost(base, ext);
        self.records.push(Record {
            uid,
            ext: ext.to_owned(),
            base: base.to_owned(),
        });
        if self.next_uid <= uid {
            self.next_uid = uid.saturating_add(1);
        }
    }

    /// Keeps the UID of a torn last record (its writer was killed while
    /// appending it) from being given again: the writer had taken it, and
    /// a reader that parsed the part written may have seen it.
    fn pass_torn(&mut self, torn: &[u8]) {
        let Some(space) = memchr::memchr(b' ', torn) else {
            return;
        };
        let uid = std::str::from_utf8(&torn[..space])
            .ok()
            .and_then(|u| u.parse::<u32>().ok());
        if let Some(uid) = uid.filter(|&u| u != u32::MAX && u >= self.next_uid) {
            self.next_uid = uid + 1;
        }
    }

    fn header_line(&self) -> String {
        let mut out = format!("3 V{} N{} G{}", self.uid_validity, self.next_uid, self.guid);
        if !self.hdr_ext.is_empty() {
            out.push(' ');
            out.push_str(&self.hdr_ext);
        }
        out.push('\n');
        out
    }

    fn record_line(r: &Record, out: &mut String) {
        out.push_str(&r.uid.to_string());
        if !r.ext.is_empty() {
            out.push(' ');
            out.push_str(&r.ext);
        }
        out.push_str(" :");
        out.push_str(&r.base);
        out.push('\n');
    }

    /// Adds records with new UIDs from `next_uid` for these bases, and
    /// appends them to the file (or rewrites it if it cannot be appended
    /// to). The caller holds the lock and has refreshed the list. On
    /// failure the file and the list hold the same records: an append that
    /// failed half-way is cut back to its last whole record, and the
    /// records written whole stay, in the file (Dovecot, reading without
    /// the lock, may have seen their UIDs) and in the list (their files are
    /// recorded; a delivery's caller removes its files, which then count
    /// as expunged).
    ///
    /// A base that has a record already (the file of an expunged message
    /// put back) gets a new one, which replaces it, as a later record of
    /// one file does when the file is read (Dovecot gives such a file a
    /// new UID too): its old UID was expunged and is never given again.
    pub(crate) fn append(
        &mut self,
        dir: &Path,
        bases: &[String],
        fsync: bool,
    ) -> Result<Vec<u32>, StoreError> {
        let mut uids = Vec::with_capacity(bases.len());
        let mut text = String::new();
        let first_new = self.records.len();
        for base in bases {
            let uid = self.next_uid;
            if uid == u32::MAX {
                for r in self.records.drain(first_new..) {
                    self.cost = self.cost.saturating_sub(record_cost(&r.base, &r.ext));
                }
                return Err(StoreError::Limit("no UID left in this mailbox"));
            }
            let r = Record {
                uid,
                ext: String::new(),
                base: base.clone(),
            };
            Self::record_line(&r, &mut text);
            self.cost += record_cost(&r.base, &r.ext);
            self.records.push(r);
            self.next_uid = uid + 1;
            uids.push(uid);
        }
        // The records the new ones replace, emptied (as a file read with
        // both has them); put back if the new ones are undone.
        let mut replaced: Vec<(usize, usize)> = Vec::new();
        for i in first_new..self.records.len() {
            let base = self.records[i].base.clone();
            if let Some(old) = self.by_base.insert(base, i) {
                if let Some(r) = self.records.get_mut(old).filter(|_| old < first_new) {
                    r.base.clear();
                    replaced.push((i, old));
                }
            }
        }
        let next_before = uids.first().copied().unwrap_or(self.next_uid);
        // Undoes the new records from index `from` on.
        let undo_from = |list: &mut UidList, from: usize| {
            let undone: Vec<Record> = list.records.drain(from..).collect();
            for (i, r) in undone.into_iter().enumerate() {
                list.cost = list.cost.saturating_sub(record_cost(&r.base, &r.ext));
                list.by_base.remove(&r.base);
                if let Some(&(_, old)) = replaced.iter().find(|(new, _)| *new == from + i) {
                    if let Some(o) = list.records.get_mut(old) {
                        o.base.clone_from(&r.base);
                        list.by_base.insert(r.base, old);
                    }
                }
            }
        };
        let undo = |list: &mut UidList| {
            undo_from(list, first_new);
            list.next_uid = next_before;
        };
        let path = dir.join("dovecot-uidlist");
        let appendable = self.version == 3
            && self.file_id.is_some()
            && fs::metadata(&path)
                .is_ok_and(|m| Some((m.dev(), m.ino())) == self.file_id && m.len() == self.read_len);
        if !appendable {
            // The rewrite replaces the file whole or not at all.
            return match self.rewrite(dir, |_| true, fsync) {
                Ok(()) => Ok(uids),
                Err(e) => {
                    undo(self);
                    Err(e)
                }
            };
        }
        // The whole lines of `text` a failed write leaves in the file.
        let mut kept = 0;
        let appended = (|| {
            let f = fsutil::no_follow(OpenOptions::new().append(true))
                .open(&path)
                .map_err(|e| io_err("open", &path, &e))?;
            #[cfg(test)]
            let injected = FAIL_APPENDS.with(std::cell::Cell::get);
            #[cfg(not(test))]
            let injected = false;
            let written = if injected {
                let _ = (&f).write_all(&text.as_bytes()[..text.len() / 2]);
                Err(StoreError::Temporary("uidlist write failed (injected)".into()))
            } else {
                (&f).write_all(text.as_bytes())
                    .map_err(|e| io_err("write", &path, &e))
                    .and_then(|()| fsutil::sync_file(&f, &path, fsync))
            };
            if written.is_err() {
                // Only a torn last line is cut: records written whole may
                // have been read already (Dovecot reads without the lock),
                // so their UIDs stay taken. A delivery's files, which its
                // caller removes, then count as expunged; a file found in
                // the folder gets a record again, which wins.
                // (Should the cut fail, the file stays longer than what
                // was read, so the next write rewrites it whole.)
                let on_disk = f.metadata().map_or(self.read_len, |m| m.len());
                let ours = usize::try_from(on_disk.saturating_sub(self.read_len)).unwrap_or(0);
                kept = memchr::memrchr(b'\n', &text.as_bytes()[..ours.min(text.len())]).map_or(0, |p| p + 1);
                let _ = f.set_len(self.read_len + kept as u64);
            }
            written
        })();
        match appended {
            Ok(()) => {
                self.read_len += text.len() as u64;
                Ok(uids)
            }
            Err(e) => {
                // Records left whole in the file stay known, as read: their
                // files are recorded (a delivery's caller removes its files,
                // which then count as expunged), and their UIDs are never
                // given again. Only the others are undone.
                let taken = text.as_bytes()[..kept].iter().filter(|&&b| b == b'\n').count();
                undo_from(self, first_new + taken);
                if let Some(&last) = uids.get(taken.wrapping_sub(1)) {
                    self.next_uid = last.saturating_add(1);
                } else {
                    self.next_uid = next_before;
                }
                self.read_len += kept as u64;
                Err(e)
            }
        }
    }

    /// Rewrites the file with the records that `keep` accepts (dropping
    /// those of expunged messages).
    pub(crate) fn rewrite(
        &mut self,
        dir: &Path,
        keep: impl Fn(&Record) -> bool,
        fsync: bool,
    ) -> Result<(), StoreError> {
        // Made on a copy, taken once the file is replaced: a failed write
        // (a full disk) leaves the list as the file still is (a version 1
        // list taken for version 3 would append version 3 records to it,
        // which no reader of the file knows).
        let mut next = self.clone();
        next.records.retain(|r| !r.base.is_empty() && keep(r));
        next.cost = next.records.iter().map(|r| record_cost(&r.base, &r.ext)).sum();
        next.by_base = next
            .records
            .iter()
            .enumerate()
            .map(|(i, r)| (r.base.clone(), i))
            .collect();
        next.version = 3;
        // A version 1 header, or a version 3 one without a valid `G`, has
        // no GUID to keep: Dovecot reads an empty or broken `G` as a broken
        // header, deletes the file and numbers the mailbox anew, so a new
        // GUID is written, as Dovecot does when it has none.
        if !is_guid(&next.guid) {
            next.guid = new_guid();
        }
        let mut text = next.header_line();
        for r in &next.records {
            Self::record_line(r, &mut text);
        }
        let path = dir.join("dovecot-uidlist");
        fsutil::replace_file(&dir.join("dovecot-uidlist.tmp"), &path, text.as_bytes(), fsync)?;
        let meta = fs::metadata(&path).map_err(|e| {
            // Replaced, but not known as read: read it again next time.
            self.file_id = None;
            io_err("stat", &path, &e)
        })?;
        next.file_id = Some((meta.dev(), meta.ino()));
        next.read_len = text.len() as u64;
        *self = next;
        Ok(())
    }
}

/// A new mailbox GUID: 32 hex digits.
pub(crate) fn new_guid() -> String {
    format!("{:016x}{:016x}", fsutil::random_u64(), fsutil::random_u64())
}

/// Whether `value` is a mailbox GUID as Dovecot reads one: 32 hex digits.
fn is_guid(value: &str) -> bool {
    value.len() == 32 && value.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records past the allowance are not taken: a list read whole stays
    /// as it was, and one that outgrew it while taking appended records
    /// is read whole next time; the cost counts every record and goes
    /// down with a rewrite that drops some.
    #[test]
    fn records_past_the_allowance_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dovecot-uidlist");
        fs::write(&path, "3 V7 N3 G0123456789abcdef0123456789abcdef\n1 :a\n2 :b\n").unwrap();
        let mut list = UidList::default();
        list.refresh(&path, u64::MAX).unwrap();
        let small = list.cost();
        assert_eq!(small, record_cost("a", "") + record_cost("b", ""));
        // Appended by another process: past the allowance.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        for uid in 3..200 {
            writeln!(f, "{uid} :m{uid}").unwrap();
        }
        let allowance = small + 10 * RECORD_COST;
        assert_eq!(list.refresh(&path, allowance), Err(fsutil::OVER_BUDGET));
        assert!(!list.is_loaded(), "to be read whole next time");
        // Read whole: refused, the list left as it was.
        let before = list.records.len();
        assert_eq!(list.refresh(&path, allowance), Err(fsutil::OVER_BUDGET));
        assert_eq!(list.records.len(), before);
        // With room, everything; a rewrite of two records costs two.
        assert_eq!(list.refresh(&path, u64::MAX).unwrap(), Refreshed::Reloaded);
        assert_eq!(list.records.len(), 199);
        list.rewrite(dir.path(), |r| r.uid <= 2, false).unwrap();
        assert_eq!(list.cost(), small);
    }

    #[test]
    fn reads_dovecot_output_and_appends() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dovecot-uidlist");
        fs::write(
            &path,
            "3 V1795310868 N3 Gd9c5b11e1245026b8438000083ecc375\n\
             1 :1795310866.M519226P14468.vm,S=18,W=21\n\
             2 W17 :1795310866.M520951P14468.vm,S=14\n",
        )
        .unwrap();
        let mut list = UidList::default();
        assert_eq!(list.refresh(&path, u64::MAX).unwrap(), Refreshed::Reloaded);
        assert_eq!((list.uid_validity, list.next_uid), (1795310868, 3));
        assert_eq!(list.uid_of("1795310866.M520951P14468.vm,S=14"), Some(2));
        assert_eq!(list.records[1].ext, "W17");
        assert_eq!(list.refresh(&path, u64::MAX).unwrap(), Refreshed::Same);

        let uids = list
            .append(dir.path(), &["new1".into(), "new2".into()], false)
            .unwrap();
        assert_eq!(uids, [3, 4]);
        let text = fs::read_to_string(&path).unwrap();
        assert!(
            text.ends_with("2 W17 :1795310866.M520951P14468.vm,S=14\n3 :new1\n4 :new2\n"),
            "{text}"
        );

        // Another process appends: only the tail is read.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"7 :other\n9 :part").unwrap();
        assert_eq!(list.refresh(&path, u64::MAX).unwrap(), Refreshed::Appended);
        assert_eq!(list.uid_of("other"), Some(7));
        assert_eq!(list.uid_of("part"), None);
        // The torn record's UID 9 is passed over.
        assert_eq!(list.next_uid, 10);

        list.rewrite(dir.path(), |r| r.uid != 3, false).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("3 V1795310868 N10 Gd9c5b11e1245026b8438000083ecc375\n1 :"),
            "{text}"
        );
        assert!(!text.contains(":new1"));
        let mut again = UidList::default();
        again.refresh(&path, u64::MAX).unwrap();
        assert_eq!(again.records, list.records);
    }

    /// A base recorded again replaces its record, in the list and in the
    /// file read again; an append that fails puts the old record back, and
    /// one that fails half-way keeps what it wrote whole.
    #[test]
    fn a_base_recorded_again_replaces_its_record_unless_the_write_fails() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dovecot-uidlist");
        fs::write(
            &path,
            "3 V7 N3 Gd9c5b11e1245026b8438000083ecc375
1 :a
2 :b
",
        )
        .unwrap();
        let mut list = UidList::default();
        list.refresh(&path, u64::MAX).unwrap();
        assert_eq!(list.append(dir.path(), &["a".into()], false).unwrap(), [3]);
        assert_eq!(list.uid_of("a"), Some(3));
        assert_eq!(
            list.records[0].base, "",
            "the old record no longer names the file"
        );
        let mut again = UidList::default();
        again.refresh(&path, u64::MAX).unwrap();
        assert_eq!(again.uid_of("a"), Some(3));
        assert!(again.records.iter().all(|r| r.uid != 1 || r.base.is_empty()));

        // Two records again, the write torn after the first.
        FAIL_APPENDS.with(|f| f.set(true));
        let failed = list.append(dir.path(), &["b".into(), "a".into()], false);
        FAIL_APPENDS.with(|f| f.set(false));
        assert!(failed.is_err());
        // "b" was written whole (its new UID stays taken, as read by
        // others); "a" was not, and keeps its record.
        assert_eq!(list.uid_of("b"), Some(4));
        assert_eq!(list.records[1].base, "");
        assert_eq!(list.uid_of("a"), Some(3));
        assert_eq!(list.next_uid, 5);
        let mut again = UidList::default();
        again.refresh(&path, u64::MAX).unwrap();
        assert_eq!(again.uid_of("a"), Some(3));
        assert_eq!(again.uid_of("b"), Some(4));

        // A write that fails at once puts everything back.
        FAIL_APPENDS.with(|f| f.set(true));
        let failed = list.append(dir.path(), &["a".into()], false);
        FAIL_APPENDS.with(|f| f.set(false));
        assert!(failed.is_err());
        assert_eq!(list.uid_of("a"), Some(3));
        assert_eq!(list.records.iter().filter(|r| r.base == "a").count(), 1);
        assert_eq!(list.next_uid, 5);
    }

    /// A header with no GUID, an empty one or a broken one is written back
    /// with a new GUID of 32 hex digits: Dovecot deletes a uidlist whose
    /// `G` it cannot read. A valid one is kept (`reads_dovecot_output_and_appends`).
    #[test]
    fn a_missing_or_broken_guid_is_written_back_as_a_new_one() {
        for header in ["1 5 2", "3 V5 N2", "3 V5 N2 G", "3 V5 N2 Gxyz", "3 V5 N2 G0123"] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("dovecot-uidlist");
            let record = if header.starts_with('1') { "1 a" } else { "1 :a" };
            fs::write(&path, format!("{header}\n{record}\n")).unwrap();
            let mut list = UidList::default();
            list.refresh(&path, u64::MAX).unwrap();
            list.rewrite(dir.path(), |_| true, false).unwrap();
            let text = fs::read_to_string(&path).unwrap();
            let guid = text
                .lines()
                .next()
                .and_then(|h| h.strip_prefix("3 V5 N2 G"))
                .unwrap_or_else(|| panic!("{header}: {text}"));
            assert!(is_guid(guid), "{header}: {text}");
            assert!(text.ends_with("\n1 :a\n"), "{header}: {text}");
        }
    }

    /// A rewrite that fails (a full disk) leaves the list as the file is:
    /// a version 1 list was taken for version 3 in memory, and the next
    /// append wrote version 3 records into the version 1 file, which no
    /// reader then knew.
    #[test]
    fn a_failed_rewrite_leaves_the_list_as_the_file_is() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dovecot-uidlist");
        fs::write(&path, "1 5 3\n1 a\n2 b\n").unwrap();
        let mut list = UidList::default();
        list.refresh(&path, u64::MAX).unwrap();
        // The temporary file cannot be made.
        let tmp = dir.path().join("dovecot-uidlist.tmp");
        fs::create_dir(&tmp).unwrap();
        assert!(list.rewrite(dir.path(), |r| r.uid != 1, false).is_err());
        assert_eq!((list.version, list.records.len()), (1, 2));
        fs::remove_dir(&tmp).unwrap();
        assert_eq!(list.append(dir.path(), &["c".into()], false).unwrap(), [3]);
        let mut fresh = UidList::default();
        fresh.refresh(&path, u64::MAX).unwrap();
        assert_eq!(
            ["a", "b", "c"].map(|b| fresh.uid_of(b)),
            [Some(1), Some(2), Some(3)],
            "{}",
            fs::read_to_string(&path).unwrap()
        );
    }

    #[test]
    fn broken_lines_are_skipped_and_broken_headers_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dovecot-uidlist");
        fs::write(&path, "3 V5 N2 G00\n2 :b\n1 :a\nx :c\n3 :a/b\n4 nocolon\n5 :e\n").unwrap();
        let mut list = UidList::default();
        list.refresh(&path, u64::MAX).unwrap();
        let uids: Vec<u32> = list.records.iter().map(|r| r.uid).collect();
        assert_eq!(uids, [2, 5]);
        assert_eq!(list.next_uid, 6);
        for bad in ["", "3 V0 N1\n", "3 N1 G0\n", "4 V1 N1\n", "3 V1 N1"] {
            fs::write(&path, bad).unwrap();
            assert_eq!(
                UidList::default().refresh(&path, u64::MAX).unwrap(),
                Refreshed::Unreadable,
                "{bad:?}"
            );
        }
        let gone = dir.path().join("no-such-uidlist");
        assert_eq!(
            UidList::default().refresh(&gone, u64::MAX).unwrap(),
            Refreshed::Missing
        );
        fs::write(&path, "1 77 9\n3 1.M1P1.h:2,S\n").unwrap();
        let mut v1 = UidList::default();
        v1.refresh(&path, u64::MAX).unwrap();
        assert_eq!(
            (v1.uid_validity, v1.next_uid, v1.uid_of("1.M1P1.h")),
            (77, 9, Some(3))
        );
    }
}

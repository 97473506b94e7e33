//! The `mailwire-modseq` file of a folder: what mailwire knows of each
//! message beyond the Maildir itself (its MODSEQ, its INTERNALDATE zone,
//! its size) and the expunge tombstones. Dovecot ignores the file.
//!
//! ```text
//! mailwire-modseq 1 V<uidvalidity> C<modseq of creation> [U<special-use,...>] [P<modseq> D<count> H<uid>]
//! +<uid> <modseq> <info letters or -> <unix date> <zone minutes> <size> [<unix save date>]
//! x<uid> <modseq>
//! r<first recent uid>
//! ```
//!
//! Lines are appended under the folder's `dovecot-uidlist.lock`; a later
//! line for a UID replaces an earlier one. `+` records a message as it was
//! at that MODSEQ (its info letters are compared with its file name to
//! notice flag changes made by other programs; a space, `%` and an info
//! of `-` alone are written `%20`, `%25` and `%2D`, so that a file name
//! holding spaces cannot write fields of its own), `x` its expunge, `r` the
//! `\Recent` claim. The file is rewritten (through `mailwire-modseq.tmp`
//! and a rename) when it holds more than twice the lines needed. A last
//! line without its line end (a crash while appending) is ignored, and the
//! next append rewrites the file. On a full disk, where a rewrite finds no
//! room, lines are appended all the same (see [`Journal::write`]).
//!
//! Tombstones are pruned: when there are more than twice
//! [`KEEP_TOMBSTONES`] (or twice the live messages, if more), the oldest
//! are dropped down to that many at the next write, and the header
//! records the high-water mark: `P` the highest MODSEQ dropped (every
//! expunge with a higher MODSEQ is still listed), `D` how many were ever
//! dropped (so that a count of tombstones seen, as instances keep, stays
//! meaningful) and `H` the highest UID dropped (never to be given again).
//! No session needs a pruned tombstone: an instance that still lists an
//! expunged message finds it gone from the live messages and reports its
//! expunge, and a client resynchronising from a MODSEQ at or below `P`
//! is answered with every UID up to `H` not present, as ranges (see
//! `Backend::vanished_since` in the Maildir backend).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::fsutil::{self, io_err};
use crate::backend::Tombstone;
use crate::types::{ModSeq, SpecialUse, StoreError, Uid};

/// The file name.
pub(crate) const NAME: &str = "mailwire-modseq";
/// A journal larger than this is refused as corrupt: it is some twenty
/// million messages' lines, and it is read whole.
const MAX_FILE: u64 = 1 << 30;

/// How many tombstones are kept at least when they are pruned.
pub(crate) const KEEP_TOMBSTONES: usize = 1024;

/// More tombstones than a folder records in its life (a million expunges a
/// day for three thousand years): a header that counts more is damaged.
const MAX_TOMBSTONES_EVER: u64 = 1 << 40;

/// The memory a live entry takes beyond its info letters: its key and
/// entry in the map's node, twice for the nodes' slack, and the
/// allocator's bookkeeping of the letters. (A million entries measured 179
/// octets each; this gives 185.)
const ENTRY_COST: u64 = (2 * (std::mem::size_of::<u32>() + std::mem::size_of::<Entry>()) + 48) as u64;

/// The memory a tombstone takes, twice for the slack of a vector that
/// grows by doubling (a million measured 34 octets each; this gives 36).
const TOMBSTONE_COST: u64 = (2 * std::mem::size_of::<Tombstone>() + 4) as u64;

/// An injected failure: `StoreError::Temporary` as a full disk fails a
/// write, `StoreError::Permanent` as a broken device does.
#[cfg(test)]
pub(crate) type Failure = fn(String) -> StoreError;

#[cfg(test)]
thread_local! {
    /// Makes [`Journal::write`] fail on this thread after applying its
    /// lines, as a failed write to the file does, for the tests of what a
    /// failed write leaves behind.
    pub(crate) static FAIL_WRITES: std::cell::Cell<Option<Failure>> = const { std::cell::Cell::new(None) };
}

/// What is recorded of a live message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) modseq: u64,
    /// The info letters of its file name when recorded.
    pub(crate) info: String,
    pub(crate) date: i64,
    pub(crate) zone: i16,
    pub(crate) size: u64,
    /// When it was saved in the folder (lines written before save dates
    /// were kept have none).
    pub(crate) saved: Option<i64>,
}

/// A folder's journal.
#[derive(Debug, Clone, Default)]
pub(crate) struct Journal {
    pub(crate) uid_validity: u32,
    pub(crate) created: u64,
    pub(crate) special_use: Vec<SpecialUse>,
    pub(crate) live: BTreeMap<u32, Entry>,
    pub(crate) tombstones: Vec<Tombstone>,
    pub(crate) first_recent: u32,
    /// The highest MODSEQ recorded.
    pub(crate) highest: u64,
    /// The highest MODSEQ of a pruned tombstone (0: none pruned).
    pub(crate) pruned_modseq: u64,
    /// How many tombstones were pruned, ever.
    pub(crate) pruned_count: usize,
    /// The highest UID of a pruned tombstone.
    pub(crate) pruned_uid: u32,
    lines: usize,
    file_id: Option<(u64, u64)>,
    read_len: u64,
    /// The file ends with an incomplete line.
    torn: bool,
    /// A write failed: the memory holds lines the file lacks, so the next
    /// write rewrites the whole file.
    unsaved: bool,
    /// The octets of the live entries' info letters.
    info_len: u64,
}

impl Journal {
    /// A journal for a new folder.
    pub(crate) fn new(uid_validity: u32, created: u64, special_use: &[SpecialUse]) -> Journal {
        Journal {
            uid_validity,
            created,
            special_use: special_use.to_vec(),
            first_recent: 1,
            highest: created,
            ..Journal::default()
        }
    }

    /// The highest UID this journal has seen, live or expunged (0 for
    /// none): under its UIDVALIDITY no message may get it or a lower one
    /// again, whatever the uidlist says.
    pub(crate) fn highest_uid(&self) -> u32 {
        let live = self.live.keys().next_back().copied().unwrap_or(0);
        let gone = self.tombstones.iter().map(|t| t.uid.get()).max().unwrap_or(0);
        live.max(gone).max(self.pruned_uid)
    }

    /// How many tombstones were ever recorded, pruned ones included: the
    /// tombstone at index `i` is number `pruned_count + i`.
    pub(crate) fn tombstones_ever(&self) -> usize {
        self.pruned_count.saturating_add(self.tombstones.len())
    }

    /// The memory the journal takes (an estimate, for the account's
    /// allowance).
    pub(crate) fn cost(&self) -> u64 {
        self.live.len() as u64 * ENTRY_COST + self.info_len + self.tombstones.len() as u64 * TOMBSTONE_COST
    }

    /// Whether a file was read.
    pub(crate) fn is_loaded(&self) -> bool {
        self.file_id.is_some()
    }

    /// Brings the journal up to date with the file in `dir`, holding at
    /// most `allowance` octets of memory ([`fsutil::OVER_BUDGET`]
    /// otherwise, the journal left as it was, or read whole next time if
    /// it outgrew it while taking appended lines); `Ok(false)` if there is
    /// no usable file.
    pub(crate) fn refresh(&mut self, dir: &Path, allowance: u64) -> Result<bool, StoreError> {
        let path = dir.join(NAME);
        // Unchanged since the last read: one lstat instead of an open.
        if fsutil::file_stamp(&path)
            .is_some_and(|(dev, ino, len)| self.file_id == Some((dev, ino)) && len == self.read_len)
        {
            self.torn = false;
            return Ok(true);
        }
        let mut file = match fsutil::open_read(&path) {
            Ok(f) => f,
            Err(e) if fsutil::not_found(&e) => {
                self.file_id = None;
                return Ok(false);
            }
            Err(e) => return Err(io_err("open", &path, &e)),
        };
        let meta = file.metadata().map_err(|e| io_err("stat", &path, &e))?;
        let id = (meta.dev(), meta.ino());
        if self.file_id == Some(id) && meta.len() >= self.read_len {
            if meta.len() == self.read_len {
                self.torn = false;
                return Ok(true);
            }
            let room = allowance.saturating_sub(self.cost());
            let tail = fsutil::read_state(&mut file, &path, self.read_len, MAX_FILE, room)?;
            let complete = memchr::memrchr(b'\n', &tail).map_or(0, |p| p + 1);
            if self.unsaved {
                // Read whole again, a journal holding lines its file lacks
                // would lose them: a tail that could pass the allowance is
                // refused before any of it is taken (each line adds one
                // entry or tombstone at most), and read from the same
                // place next time.
                let lines = memchr::memchr_iter(b'\n', &tail[..complete]).count() as u64;
                let most = lines.saturating_mul(ENTRY_COST).saturating_add(complete as u64);
                if self.cost().saturating_add(most) > allowance {
                    return Err(fsutil::OVER_BUDGET);
                }
            }
            self.torn = complete < tail.len();
            for line in fsutil::lossy_lines(&tail[..complete]) {
                self.apply(&line);
                if self.cost() > allowance {
                    self.file_id = None;
                    return Err(fsutil::OVER_BUDGET);
                }
            }
            self.read_len += complete as u64;
            return Ok(true);
        }
        let all = fsutil::read_state(&mut file, &path, 0, MAX_FILE, allowance)?;
        let complete = memchr::memrchr(b'\n', &all).map_or(0, |p| p + 1);
        let mut lines = fsutil::lossy_lines(&all[..complete]);
        let Some(mut fresh) = lines.next().and_then(|h| Journal::parse_header(&h)) else {
            self.file_id = None;
            return Ok(false);
        };
        for line in lines {
            fresh.apply(&line);
            if fresh.cost() > allowance {
                return Err(fsutil::OVER_BUDGET);
            }
        }
        fresh.file_id = Some(id);
        fresh.read_len = complete as u64;
        fresh.torn = complete < all.len();
        *self = fresh;
        Ok(true)
    }

    fn parse_header(line: &str) -> Option<Journal> {
        let rest = line.strip_prefix("mailwire-modseq 1 ")?;
        let mut j = Journal {
            first_recent: 1,
            ..Journal::default()
        };
        for field in rest.split(' ') {
            if let Some(v) = field.strip_prefix('V') {
                j.uid_validity = v.parse().ok()?;
            } else if let Some(c) = field.strip_prefix('C') {
                j.created = c.parse().ok()?;
            } else if let Some(p) = field.strip_prefix('P') {
                j.pruned_modseq = p.parse().ok()?;
            } else if let Some(d) = field.strip_prefix('D') {
                j.pruned_count = d
                    .parse::<u64>()
                    .ok()
                    .filter(|&d| d <= MAX_TOMBSTONES_EVER)
                    .and_then(|d| usize::try_from(d).ok())?;
            } else if let Some(h) = field.strip_prefix('H') {
                j.pruned_uid = h.parse().ok()?;
            } else if let Some(u) = field.strip_prefix('U') {
                for name in u.split(',').filter(|n| !n.is_empty()) {
                    if let Some(su) = SpecialUse::from_name(&format!("\\{name}")) {
                        j.special_use.push(su);
                    }
                }
            }
        }
        if j.uid_validity == 0 || ModSeq::new(j.created).is_none() {
            return None;
        }
        j.special_use.sort();
        j.special_use.dedup();
        j.highest = j.created.max(j.pruned_modseq);
        Some(j)
    }

    /// Applies one line; malformed lines are ignored.
    fn apply(&mut self, line: &str) {
        self.lines += 1;
        let mut fields = line.get(1..).unwrap_or("").split(' ');
        let uid = fields
            .next()
            .and_then(|u| u.parse::<u32>().ok())
            .filter(|&u| u != 0);
        match (line.as_bytes().first(), uid) {
            (Some(b'+'), Some(uid)) => {
                let mut next = || fields.next();
                let entry = (|| {
                    let modseq = next()?
                        .parse::<u64>()
                        .ok()
                        .filter(|&m| ModSeq::new(m).is_some())?;
                    let info = decode_info(next()?);
                    let date = next()?.parse().ok()?;
                    let zone = next()?.parse().ok()?;
                    let size = next()?.parse().ok()?;
                    let saved = next().and_then(|s| s.parse().ok());
                    Some(Entry {
                        modseq,
                        info,
                        date,
                        zone,
                        size,
                        saved,
                    })
                })();
                if let Some(e) = entry {
                    self.highest = self.highest.max(e.modseq);
                    self.info_len += e.info.len() as u64;
                    if let Some(old) = self.live.insert(uid, e) {
                        self.info_len = self.info_len.saturating_sub(old.info.len() as u64);
                    }
                }
            }
            (Some(b'x'), Some(uid)) => {
                let modseq = fields
                    .next()
                    .and_then(|m| m.parse::<u64>().ok())
                    .and_then(ModSeq::new);
                if let (Some(modseq), Some(u)) = (modseq, Uid::new(uid)) {
                    if let Some(old) = self.live.remove(&uid) {
                        self.info_len = self.info_len.saturating_sub(old.info.len() as u64);
                    }
                    self.highest = self.highest.max(modseq.get());
                    self.tombstones.push(Tombstone { uid: u, modseq });
                }
            }
            (Some(b'r'), Some(uid)) => self.first_recent = self.first_recent.max(uid),
            _ => {}
        }
    }

    /// The line recording a live message.
    pub(crate) fn live_line(uid: u32, e: &Entry, out: &mut String) {
        let _ = write!(out, "+{uid} {} ", e.modseq);
        encode_info(&e.info, out);
        let _ = write!(out, " {} {} {}", e.date, e.zone, e.size);
        if let Some(saved) = e.saved {
            let _ = write!(out, " {saved}");
        }
        out.push('\n');
    }

    /// The line recording an expunge.
    pub(crate) fn expunge_line(uid: u32, modseq: u64, out: &mut String) {
        let _ = writeln!(out, "x{uid} {modseq}");
    }

    /// The line recording a `\Recent` claim.
    pub(crate) fn recent_line(uid: u32, out: &mut String) {
        let _ = writeln!(out, "r{uid}");
    }

    fn header(&self) -> String {
        let mut out = format!("mailwire-modseq 1 V{} C{}", self.uid_validity, self.created);
        if !self.special_use.is_empty() {
            out.push_str(" U");
            let names: Vec<&str> = self.special_use.iter().map(|s| &s.as_str()[1..]).collect();
            out.push_str(&names.join(","));
        }
        // A rebuilt journal marks what came before it as pruned with no
        // tombstone dropped (`Folder::repair_journal`).
        if self.pruned_count > 0 || self.pruned_modseq > 0 {
            let _ = write!(
                out,
                " P{} D{} H{}",
                self.pruned_modseq, self.pruned_count, self.pruned_uid
            );
        }
        out.push('\n');
        out
    }

    /// Drops the oldest tombstones when there are too many (see the
    /// module's description); whether it did.
    fn prune(&mut self) -> bool {
        let keep = KEEP_TOMBSTONES.max(self.live.len());
        if self.tombstones.len() <= keep.saturating_mul(2) {
            return false;
        }
        let drop = self.tombstones.len() - keep;
        for t in self.tombstones.drain(..drop) {
            self.pruned_modseq = self.pruned_modseq.max(t.modseq.get());
            self.pruned_uid = self.pruned_uid.max(t.uid.get());
        }
        self.pruned_count = self.pruned_count.saturating_add(drop);
        true
    }

    /// Applies `lines` (made with the `*_line` functions) and writes them
    /// to the file: appended, or the whole file rewritten when it is
    /// missing, torn or holds too many superseded lines.
    ///
    /// A rewrite needs room for a second copy of the file; an append only
    /// for the new lines, often none (the file's last block has some). So
    /// when a rewrite fails (a full disk), the lines are appended to the
    /// file as last read instead (a torn tail cut first): deleting mail,
    /// which is how a user frees space, must not need any. What the memory
    /// then holds that the file lacks (tombstones pruned, lines of a write
    /// that failed before) waits for the next rewrite.
    ///
    /// On failure the lines stay applied (the caller may have changed the
    /// Maildir already) and the next write rewrites the file; an append
    /// that failed half-way is cut back first, so no other process reads a
    /// part of it.
    pub(crate) fn write(&mut self, dir: &Path, lines: &str, fsync: bool) -> Result<(), StoreError> {
        // A journal not read from its file (dropped after a failed write)
        // would be written over it from nothing.
        if !self.is_loaded() {
            return Err(StoreError::Permanent(format!(
                "{}: the journal was not read before a write",
                dir.join(NAME).display()
            )));
        }
        for line in lines.lines() {
            self.apply(line);
        }
        #[cfg(test)]
        if let Some(failure) = FAIL_WRITES.with(std::cell::Cell::get) {
            self.unsaved = true;
            return Err(failure("journal write failed (injected)".into()));
        }
        let path = dir.join(NAME);
        let pruned = self.prune();
        let needed = self.live.len() + self.tombstones.len() + 2;
        let appendable = !self.torn
            && !pruned
            && !self.unsaved
            && self.lines <= needed.saturating_mul(2).saturating_add(64)
            && self.length_as_read(&path) == Some(self.read_len);
        if appendable {
            return self
                .append(&path, lines, fsync)
                .inspect_err(|_| self.unsaved = true);
        }
        let Err(failed) = self.rewrite(dir, fsync) else {
            return Ok(());
        };
        // Whatever the rewrite got to, the file must still be the one read
        // (not one it renamed into place) to take the lines.
        let as_read = self
            .length_as_read(&path)
            .is_some_and(|len| len == self.read_len || (self.torn && len > self.read_len));
        if !as_read || self.append(&path, lines, fsync).is_err() {
            self.unsaved = true;
            return Err(failed);
        }
        self.unsaved |= pruned;
        Ok(())
    }

    /// The length of the file at `path` if it is the file last read (a
    /// link is not followed).
    fn length_as_read(&self, path: &Path) -> Option<u64> {
        fsutil::file_stamp(path)
            .filter(|&(dev, ino, _)| self.file_id == Some((dev, ino)))
            .map(|(_, _, len)| len)
    }

    /// Appends `lines` to the file as last read, after cutting what
    /// follows its last whole line (a torn tail, under the lock the work
    /// of a writer that died). A failed append is cut back too, so that
    /// no other process reads a part of it.
    fn append(&mut self, path: &Path, lines: &str, fsync: bool) -> Result<(), StoreError> {
        if lines.is_empty() {
            return Ok(());
        }
        let f = fsutil::no_follow(OpenOptions::new().append(true))
            .open(path)
            .map_err(|e| io_err("open", path, &e))?;
        let cut = |f: &fs::File| f.set_len(self.read_len).map_err(|e| io_err("truncate", path, &e));
        if self.torn {
            cut(&f)?;
        }
        let written = (&f)
            .write_all(lines.as_bytes())
            .map_err(|e| io_err("write", path, &e))
            .and_then(|()| fsutil::sync_file(&f, path, fsync));
        if written.is_err() {
            let _ = cut(&f);
        }
        written?;
        self.read_len += lines.len() as u64;
        self.torn = false;
        Ok(())
    }

    /// Whether the memory holds what the file lacks (a write failed).
    pub(crate) fn is_unsaved(&self) -> bool {
        self.unsaved
    }

    /// Rewrites the file if the memory holds what it lacks.
    pub(crate) fn save(&mut self, dir: &Path, fsync: bool) -> Result<(), StoreError> {
        if self.unsaved {
            self.rewrite(dir, fsync)
        } else {
            Ok(())
        }
    }

    /// Applies `lines` in memory only, for the next write to save.
    pub(crate) fn apply_unsaved(&mut self, lines: &str) {
        for line in lines.lines() {
            self.apply(line);
        }
        self.unsaved = true;
    }

    /// Rewrites the whole file from the current state.
    pub(crate) fn rewrite(&mut self, dir: &Path, fsync: bool) -> Result<(), StoreError> {
        let mut text = self.header();
        // Tombstones first: a UID expunged and then recorded live again (a
        // file put back) is both, and a later line replaces an earlier
        // one, so the file read again must end with its live line.
        for t in &self.tombstones {
            Self::expunge_line(t.uid.get(), t.modseq.get(), &mut text);
        }
        for (uid, e) in &self.live {
            Self::live_line(*uid, e, &mut text);
        }
        if self.first_recent > 1 {
            Self::recent_line(self.first_recent, &mut text);
        }
        let path = dir.join(NAME);
        fsutil::replace_file(&dir.join("mailwire-modseq.tmp"), &path, text.as_bytes(), fsync)?;
        let meta = fs::metadata(&path).map_err(|e| io_err("stat", &path, &e))?;
        self.file_id = Some((meta.dev(), meta.ino()));
        self.read_len = text.len() as u64;
        self.lines = text.lines().count().saturating_sub(1);
        self.torn = false;
        self.unsaved = false;
        Ok(())
    }
}

/// Writes a file name's info as one field of a `+` line: `-` when
/// empty; a space, `%` and a lone `-` escaped (see the module's text).
fn encode_info(info: &str, out: &mut String) {
    if info.is_empty() {
        out.push('-');
        return;
    }
    if info == "-" {
        out.push_str("%2D");
        return;
    }
    for c in info.chars() {
        match c {
            ' ' => out.push_str("%20"),
            '%' => out.push_str("%25"),
            c => out.push(c),
        }
    }
}

/// The info a field written by [`encode_info`] stands for. A `%` not
/// followed by two hex digits (a line of an earlier version) stays as it
/// is.
fn decode_info(field: &str) -> String {
    if field == "-" {
        return String::new();
    }
    if !field.contains('%') {
        return field.to_owned();
    }
    let mut out = Vec::with_capacity(field.len());
    let bytes = field.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| field.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A journal holding lines its file lacks (a full disk) keeps them when
    /// another process's appended lines do not fit in the allowance: the
    /// tail is refused before any of it is taken, and taken once it fits.
    /// Refused after taking part of it, the journal was read whole next
    /// time, and the lines only memory held were lost.
    #[test]
    fn unsaved_lines_survive_a_tail_past_the_allowance() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::new(7, 1, &[]);
        j.rewrite(dir.path(), false).unwrap();
        assert!(j.refresh(dir.path(), u64::MAX).unwrap());
        let mut mine = String::new();
        Journal::expunge_line(3, 2, &mut mine);
        j.apply_unsaved(&mine);
        let mut theirs = String::new();
        for uid in 10..2_000 {
            Journal::live_line(
                uid,
                &Entry {
                    modseq: 3,
                    info: "S".into(),
                    date: 1_700_000_000,
                    zone: 0,
                    size: 100,
                    saved: None,
                },
                &mut theirs,
            );
        }
        let mut f = OpenOptions::new()
            .append(true)
            .open(dir.path().join(NAME))
            .unwrap();
        f.write_all(theirs.as_bytes()).unwrap();
        // Room for the tail's octets, not for its entries.
        let allowance = j.cost() + theirs.len() as u64 + 1_000;
        assert_eq!(j.refresh(dir.path(), allowance), Err(fsutil::OVER_BUDGET));
        assert!(j.is_loaded() && j.live.is_empty());
        assert!(j.refresh(dir.path(), u64::MAX).unwrap());
        assert_eq!(j.live.len(), 1_990);
        assert!(
            j.tombstones.iter().any(|t| t.uid.get() == 3),
            "the unsaved expunge was lost"
        );
    }

    /// Infos of every shape a file name may hold come back as they went:
    /// spaces (which would have made fields of their own: a name ending
    /// in `:2,S 1 2 99999` set its message's date and size), `%`, `-`.
    #[test]
    fn infos_with_spaces_and_escapes_are_written_as_one_field() {
        for info in [
            "",
            "S",
            "-",
            "S 1 2 99999",
            "%",
            "%20",
            "a%2Db",
            "ST ",
            " ",
            "é %",
        ] {
            let e = Entry {
                info: info.to_owned(),
                ..entry(4, "")
            };
            let mut line = String::new();
            Journal::live_line(7, &e, &mut line);
            assert_eq!(line.split(' ').count(), 7, "{line:?}");
            let mut j = Journal::default();
            j.apply(line.trim_end());
            assert_eq!(j.live.get(&7), Some(&e), "{info:?}: {line:?}");
        }
        // A line of an earlier version with a bare `%` reads as it was.
        assert_eq!(decode_info("S%"), "S%");
        assert_eq!(decode_info("%zz"), "%zz");
    }

    /// A UID expunged and then recorded live again (its file put back) is
    /// live, and stays live when the file is rewritten and read again:
    /// the rewrite wrote the live lines before the tombstones, so a fresh
    /// read took the message as expunged, and its reconciliation gave it
    /// a new MODSEQ (found by the Maildir fuzz target reading a folder
    /// again after a damaged journal).
    #[test]
    fn a_uid_expunged_then_live_again_stays_live_through_a_rewrite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(NAME);
        std::fs::write(&path, "mailwire-modseq 1 V5 C1\n+1 2 - 1700000000 0 21\nx1 8\n+1 9 S 1700000000 0 21\n+2 3 - 1700000000 0 30\n").unwrap();
        let mut j = Journal::default();
        assert!(j.refresh(dir.path(), u64::MAX).unwrap());
        assert_eq!(j.live[&1].modseq, 9);
        assert_eq!(j.tombstones.len(), 1);
        j.rewrite(dir.path(), false).unwrap();
        let mut again = Journal::default();
        assert!(again.refresh(dir.path(), u64::MAX).unwrap());
        assert_eq!(again.live, j.live, "{}", std::fs::read_to_string(&path).unwrap());
        assert_eq!(again.tombstones, j.tombstones);
        assert_eq!(again.highest, j.highest);
    }

    /// A journal past its limit is refused without being read, on a first
    /// read and on a read of what was appended (a sparse file of 1 GiB and
    /// a page was read whole under the old 4 GiB limit).
    #[test]
    fn a_journal_past_its_limit_is_refused_unread() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(NAME);
        let header = "mailwire-modseq 1 V5 C1\n";
        std::fs::write(&path, header).unwrap();
        let mut j = Journal::default();
        assert!(j.refresh(dir.path(), u64::MAX).unwrap());
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        file.set_len(MAX_FILE + 4096).unwrap();
        let err = j.refresh(dir.path(), u64::MAX).unwrap_err();
        assert!(
            matches!(&err, StoreError::Permanent(m) if m.contains("larger than")),
            "{err:?}"
        );
        let err = Journal::default().refresh(dir.path(), u64::MAX).unwrap_err();
        assert!(
            matches!(&err, StoreError::Permanent(m) if m.contains("larger than")),
            "{err:?}"
        );
    }

    fn entry(modseq: u64, info: &str) -> Entry {
        Entry {
            modseq,
            info: info.into(),
            date: -5,
            zone: -90,
            size: 12,
            // Lines with a save date and lines without (older files).
            saved: (modseq % 2 == 0).then_some(1_700_000_000 + modseq as i64),
        }
    }

    #[test]
    fn round_trip_and_incremental_reads() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::new(7, 3, &[SpecialUse::Trash, SpecialUse::Archive]);
        j.rewrite(dir.path(), false).unwrap();
        let mut lines = String::new();
        Journal::live_line(1, &entry(4, "FS"), &mut lines);
        Journal::live_line(2, &entry(4, ""), &mut lines);
        j.write(dir.path(), &lines, false).unwrap();

        let mut other = Journal::default();
        assert!(other.refresh(dir.path(), u64::MAX).unwrap());
        assert_eq!(other.special_use, [SpecialUse::Archive, SpecialUse::Trash]);
        assert_eq!(other.live.get(&1), Some(&entry(4, "FS")));
        assert_eq!(other.highest, 4);

        let mut more = String::new();
        Journal::expunge_line(1, 5, &mut more);
        Journal::recent_line(3, &mut more);
        j.write(dir.path(), &more, false).unwrap();
        assert!(other.refresh(dir.path(), u64::MAX).unwrap());
        assert_eq!(other.live.keys().copied().collect::<Vec<_>>(), [2]);
        assert_eq!(other.tombstones.len(), 1);
        assert_eq!((other.first_recent, other.highest), (3, 5));
    }

    #[test]
    fn torn_tail_is_ignored_then_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::new(1, 1, &[]);
        j.rewrite(dir.path(), false).unwrap();
        let path = dir.path().join(NAME);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"+1 2 S 0 0 5\n+2 2 S 0").unwrap();
        assert!(j.refresh(dir.path(), u64::MAX).unwrap());
        assert_eq!(j.live.len(), 1);
        let mut lines = String::new();
        Journal::live_line(3, &entry(3, "S"), &mut lines);
        j.write(dir.path(), &lines, false).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert!(!text.contains("+2 "), "{text}");
        let mut again = Journal::default();
        again.refresh(dir.path(), u64::MAX).unwrap();
        assert_eq!(again.live.keys().copied().collect::<Vec<_>>(), [1, 3]);
    }

    /// Pruning keeps the newest tombstones and writes the mark, which a
    /// reader takes in (the highest UID ever given included).
    #[test]
    fn pruned_tombstones_leave_a_mark() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::new(1, 1, &[]);
        j.rewrite(dir.path(), false).unwrap();
        let total = 2 * KEEP_TOMBSTONES as u32 + 1;
        let mut lines = String::new();
        for uid in 1..=total {
            Journal::expunge_line(uid, u64::from(uid) + 1, &mut lines);
        }
        j.write(dir.path(), &lines, false).unwrap();
        assert_eq!(j.tombstones.len(), KEEP_TOMBSTONES);
        let dropped = total - KEEP_TOMBSTONES as u32;
        assert_eq!(
            (j.pruned_count, j.pruned_modseq),
            (dropped as usize, u64::from(dropped) + 1)
        );
        assert_eq!(j.tombstones[0].uid.get(), dropped + 1);
        assert_eq!(j.tombstones_ever(), total as usize);

        let mut other = Journal::default();
        assert!(other.refresh(dir.path(), u64::MAX).unwrap());
        assert_eq!(
            (other.pruned_count, other.pruned_modseq, other.tombstones.len()),
            (j.pruned_count, j.pruned_modseq, KEEP_TOMBSTONES)
        );
        assert_eq!(other.highest_uid(), total);
        assert_eq!(other.highest, u64::from(total) + 1);
        // All pruned except the newest: still the highest UID ever seen.
        let mut only_old = Journal::default();
        fs::write(dir.path().join(NAME), "mailwire-modseq 1 V1 C1 P9 D8 H70\n").unwrap();
        assert!(only_old.refresh(dir.path(), u64::MAX).unwrap());
        assert_eq!((only_old.highest_uid(), only_old.highest), (70, 9));
    }

    /// A journal of `live` messages, the last one with `superseded` lines
    /// before its last, `len` bytes long: its last line is padded with
    /// zeros.
    fn long_journal(dir: &Path, live: u32, superseded: u64, len: usize) {
        let mut text = "mailwire-modseq 1 V1 C1\n".to_owned();
        for uid in 1..live {
            let _ = writeln!(text, "+{uid} 2 - 0 0 5");
        }
        for m in 0..superseded {
            let _ = writeln!(text, "+{live} {} S 0 0 5", m + 2);
        }
        let last = format!("+{live} {} S 0 0 5\n", superseded + 2);
        let pad = len.checked_sub(text.len() + last.len()).unwrap();
        text.push_str(&last.replace(" 5\n", &format!(" {}5\n", "0".repeat(pad))));
        assert_eq!(text.len(), len);
        fs::write(dir.join(NAME), text).unwrap();
    }

    /// On a full disk, where a rewrite finds no room, the lines are
    /// appended (the file's last page has room for them) after the torn
    /// tail is cut, and nothing is left behind.
    #[test]
    fn a_rewrite_without_room_appends_instead() {
        let Some(disk) = fsutil::tests::Tmpfs::new("64k") else {
            return;
        };
        let dir = disk.path().join("folder");
        fs::create_dir(&dir).unwrap();
        long_journal(&dir, 3, 100, 3000);
        // And a line a writer that died left torn: cut before the append.
        let mut f = OpenOptions::new().append(true).open(dir.join(NAME)).unwrap();
        f.write_all(b"+3 999 S 0").unwrap();
        let mut j = Journal::default();
        assert!(j.refresh(&dir, u64::MAX).unwrap());
        disk.fill("filler");
        let mut x = String::new();
        Journal::expunge_line(2, 200, &mut x);
        j.write(&dir, &x, true).unwrap();
        let text = fs::read_to_string(dir.join(NAME)).unwrap();
        assert!(text.ends_with("5\nx2 200\n"), "{text}");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1, "a file left behind");
        let mut other = Journal::default();
        assert!(other.refresh(&dir, u64::MAX).unwrap());
        assert_eq!(other.live.keys().copied().collect::<Vec<_>>(), [1, 3]);
        assert_eq!(other.highest, 200);
    }

    /// A write that finds room for neither a rewrite nor an append fails
    /// and leaves the file whole; the next write, with room for its lines
    /// only, appends them (it does not insist on a rewrite), and the first
    /// rewrite with room saves what the failed write could not.
    #[test]
    fn a_failed_write_does_not_make_every_later_write_a_rewrite() {
        let Some(disk) = fsutil::tests::Tmpfs::new("64k") else {
            return;
        };
        let dir = disk.path().join("folder");
        fs::create_dir(&dir).unwrap();
        // Three whole pages, not a byte of room after the last line; and
        // a rewrite needs three pages too (600 lines of 14 bytes).
        long_journal(&dir, 600, 0, 3 * 4096);
        let mut j = Journal::default();
        assert!(j.refresh(&dir, u64::MAX).unwrap());
        fs::write(disk.path().join("spare"), [0u8; 4096]).unwrap();
        disk.fill("filler");
        let before = fs::read(dir.join(NAME)).unwrap();

        let mut x2 = String::new();
        Journal::expunge_line(2, 101, &mut x2);
        let failed = j.write(&dir, &x2, true);
        assert!(matches!(failed, Err(StoreError::Temporary(_))), "{failed:?}");
        assert_eq!(fs::read(dir.join(NAME)).unwrap(), before);
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1, "a file left behind");
        assert!(!j.live.contains_key(&2), "the memory keeps the line");

        // One page free: room for an append, not for a rewrite.
        disk.remove("spare");
        let mut x3 = String::new();
        Journal::expunge_line(3, 102, &mut x3);
        j.write(&dir, &x3, true).unwrap();
        let text = fs::read_to_string(dir.join(NAME)).unwrap();
        assert!(text.ends_with("5\nx3 102\n"), "{text}");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1, "a file left behind");
        assert!(j.is_unsaved());
        let mut other = Journal::default();
        assert!(other.refresh(&dir, u64::MAX).unwrap());
        assert!(other.live.contains_key(&2) && !other.live.contains_key(&3));

        disk.remove("filler");
        j.save(&dir, true).unwrap();
        assert!(!j.is_unsaved());
        assert!(other.refresh(&dir, u64::MAX).unwrap());
        assert_eq!(other.live.len(), 598);
        assert_eq!(other.tombstones.len(), 2);
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1, "a file left behind");
    }

    #[test]
    fn bad_headers_and_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(NAME);
        for bad in [
            "",
            "mailwire-modseq 1 V0 C1\n",
            "mailwire-modseq 1 V1 C0\n",
            // More tombstones than a folder ever records: they would
            // overflow the count of tombstones ever.
            "mailwire-modseq 1 V1 C1 D18446744073709551615\n",
            "mailwire-modseq 1 V1 C1 D1099511627777\n",
            "other\n",
        ] {
            fs::write(&path, bad).unwrap();
            assert!(
                !Journal::default().refresh(dir.path(), u64::MAX).unwrap(),
                "{bad:?}"
            );
        }
        fs::write(
            &path,
            "mailwire-modseq 1 V1 C1\n+0 1 - 0 0 0\n+1 0 - 0 0 0\n+2 x\nx3\nzz\n+4 9 - 0 0 1\n",
        )
        .unwrap();
        let mut j = Journal::default();
        j.refresh(dir.path(), u64::MAX).unwrap();
        assert_eq!(j.live.keys().copied().collect::<Vec<_>>(), [4]);
        assert!(j.tombstones.is_empty());

        fs::write(&path, "mailwire-modseq 1 V1 C1 D1099511627776\nx3 2\n").unwrap();
        let mut j = Journal::default();
        assert!(j.refresh(dir.path(), u64::MAX).unwrap());
        assert_eq!(j.tombstones_ever(), (1 << 40) + 1);
    }
}

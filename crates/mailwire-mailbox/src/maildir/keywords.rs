//! Flags in file names and the `dovecot-keywords` file.
//!
//! The info suffix `:2,<letters>` holds the system flags as `D` (draft),
//! `F` (flagged), `R` (replied), `S` (seen) and `T` (trashed, `\Deleted`),
//! and keywords as `a` to `z`: letter `a` + i is the keyword on line
//! `i <keyword>` of the folder's `dovecot-keywords`. Letters are written in
//! ASCII order. Other upper-case letters (e.g. `P`, passed) are kept as
//! they are when mailwire renames a file; lower-case letters without a
//! keyword are dropped.

use std::path::Path;

use super::fsutil::io_err;
use super::lock::{self, DotLock};
use crate::flags::{Flags, Keyword, SystemFlags};
use crate::types::StoreError;

/// How many keywords a Maildir folder can hold (`a` to `z`).
pub(crate) const MAX_KEYWORDS: usize = 26;

/// A `dovecot-keywords` larger than this is refused as corrupt: the
/// file Dovecot or mailwire writes has at most 26 lines of at most 261
/// octets (a keyword is at most 255), under 7 KiB; the rest leaves room
/// for lines other writers add, and stays cheap to read.
const MAX_FILE: u64 = 1 << 20;

/// The letters of the system flags, in ASCII order.
const SYSTEM_LETTERS: [(u8, SystemFlags); 5] = [
    (b'D', SystemFlags::DRAFT),
    (b'F', SystemFlags::FLAGGED),
    (b'R', SystemFlags::ANSWERED),
    (b'S', SystemFlags::SEEN),
    (b'T', SystemFlags::DELETED),
];

/// A folder's keyword table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct KeywordTable {
    slots: Vec<Option<Keyword>>,
}

impl KeywordTable {
    /// Parses `dovecot-keywords` (`<index> <keyword>` lines; bad lines and
    /// indexes of 26 or more are skipped).
    pub(crate) fn parse(text: &str) -> KeywordTable {
        let mut slots: Vec<Option<Keyword>> = vec![None; MAX_KEYWORDS];
        for line in text.lines() {
            let Some((idx, name)) = line.split_once(' ') else {
                continue;
            };
            let Ok(idx) = idx.parse::<usize>() else { continue };
            let Ok(kw) = Keyword::new(name) else { continue };
            if let Some(slot) = slots.get_mut(idx) {
                *slot = Some(kw);
            }
        }
        while slots.last().is_some_and(Option::is_none) {
            slots.pop();
        }
        KeywordTable { slots }
    }

    /// Reads the table of a folder (empty if the file is missing).
    pub(crate) fn load(dir: &Path) -> Result<KeywordTable, StoreError> {
        let path = dir.join("dovecot-keywords");
        match super::fsutil::read_file(&path, MAX_FILE).and_then(|b| {
            String::from_utf8(b).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
        }) {
            Ok(text) => Ok(KeywordTable::parse(&text)),
            Err(e) if super::fsutil::not_found(&e) => Ok(KeywordTable::default()),
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => Ok(KeywordTable::default()),
            Err(e) => Err(io_err("read", &path, &e)),
        }
    }

    /// The file's text.
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        for (i, slot) in self.slots.iter().enumerate() {
            if let Some(kw) = slot {
                out.push_str(&i.to_string());
                out.push(' ');
                out.push_str(kw.as_str());
                out.push('\n');
            }
        }
        out
    }

    fn index_of(&self, kw: &Keyword) -> Option<usize> {
        self.slots.iter().position(|s| s.as_ref() == Some(kw))
    }

    /// Adds the keywords of `flags` that have no letter yet; `Ok(true)` if
    /// the table changed, [`StoreError::Limit`] if 26 letters do not suffice.
    pub(crate) fn add_all(&mut self, flags: &Flags) -> Result<bool, StoreError> {
        let mut changed = false;
        for kw in &flags.keywords {
            if self.index_of(kw).is_some() {
                continue;
            }
            if let Some(free) = self.slots.iter().position(Option::is_none) {
                self.slots[free] = Some(kw.clone());
            } else if self.slots.len() < MAX_KEYWORDS {
                self.slots.push(Some(kw.clone()));
            } else {
                return Err(StoreError::Limit("a Maildir folder holds at most 26 keywords"));
            }
            changed = true;
        }
        Ok(changed)
    }

    /// Whether every keyword of `flags` has a letter.
    pub(crate) fn covers(&self, flags: &Flags) -> bool {
        flags.keywords.iter().all(|k| self.index_of(k).is_some())
    }

    /// The flags that an info string stands for.
    pub(crate) fn flags_of(&self, info: &str) -> Flags {
        let mut flags = Flags::new();
        for b in info.bytes() {
            if let Some((_, f)) = SYSTEM_LETTERS.iter().find(|(l, _)| *l == b) {
                flags.system = flags.system | *f;
            } else if b.is_ascii_lowercase() {
                let idx = usize::from(b - b'a');
                if let Some(Some(kw)) = self.slots.get(idx) {
                    flags.keywords.insert(kw.clone());
                }
            }
        }
        flags
    }

    /// The info string for `flags`, keeping the unknown upper-case letters
    /// of `old_info`. Every keyword must have a letter (see
    /// [`add_all`](Self::add_all)); one without is left out.
    pub(crate) fn info_of(&self, flags: &Flags, old_info: &str) -> String {
        let mut letters: Vec<u8> = Vec::with_capacity(8);
        for (l, f) in SYSTEM_LETTERS {
            if flags.system.contains(f) {
                letters.push(l);
            }
        }
        for kw in &flags.keywords {
            if let Some(i) = self.index_of(kw) {
                letters.push(b'a' + i as u8);
            }
        }
        for b in old_info.bytes() {
            let known = SYSTEM_LETTERS.iter().any(|(l, _)| *l == b);
            if b.is_ascii_uppercase() && !known && !letters.contains(&b) {
                letters.push(b);
            }
        }
        letters.sort_unstable();
        letters.dedup();
        letters.into_iter().map(char::from).collect()
    }
}

/// Writes a folder's keyword table the way Dovecot does: under
/// `dovecot-keywords.lock`, whose content becomes the new file.
pub(crate) fn store(dir: &Path, table: &KeywordTable, fsync: bool) -> Result<(), StoreError> {
    let path = dir.join("dovecot-keywords");
    let lock = DotLock::acquire(&path, lock::SHORT_STALE, lock::default_timeout(lock::SHORT_STALE))?;
    lock.replace(table.render().as_bytes(), fsync)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(names: &[&str]) -> Flags {
        Flags::parse(names.iter().copied()).unwrap()
    }

    #[test]
    fn letters_in_ascii_order() {
        let mut t = KeywordTable::parse("0 $Forwarded\n1 Junk\n");
        assert!(!t.add_all(&f(&["junk"])).unwrap());
        assert!(t.add_all(&f(&["Work"])).unwrap());
        assert_eq!(t.render(), "0 $Forwarded\n1 Junk\n2 Work\n");
        let all = f(&[
            "\\Seen",
            "\\Deleted",
            "\\Draft",
            "\\Flagged",
            "\\Answered",
            "Work",
            "$forwarded",
        ]);
        assert_eq!(t.info_of(&all, ""), "DFRSTac");
        assert_eq!(t.flags_of("DFRSTac"), all);
        assert_eq!(t.info_of(&f(&["\\Seen"]), "PSz"), "PS");
        assert_eq!(t.flags_of("Sz"), f(&["\\Seen"]));
    }

    #[test]
    fn at_most_26_keywords() {
        let mut t = KeywordTable::default();
        let names: Vec<String> = (0..26).map(|i| format!("k{i}")).collect();
        t.add_all(&Flags::parse(names.iter().map(String::as_str)).unwrap())
            .unwrap();
        assert!(matches!(t.add_all(&f(&["one-more"])), Err(StoreError::Limit(_))));
        assert!(t.covers(&f(&["k25"])));
        let reparsed = KeywordTable::parse(&t.render());
        assert_eq!(reparsed, t);
        assert_eq!(KeywordTable::parse("26 x\nbad\n-1 y\n3 ok\n").render(), "3 ok\n");
    }

    #[test]
    fn store_writes_through_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = KeywordTable::default();
        t.add_all(&f(&["$Junk"])).unwrap();
        store(dir.path(), &t, false).unwrap();
        assert_eq!(KeywordTable::load(dir.path()).unwrap(), t);
        assert!(!dir.path().join("dovecot-keywords.lock").exists());
    }
}

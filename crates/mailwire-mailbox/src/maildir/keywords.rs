//! Flags in file names and the `dovecot-keywords` file.
//!
//! The info suffix `:2,<letters>` holds the system flags as `D` (draft),
//! `F` (flagged), `R` (replied), `S` (seen) and `T` (trashed, `\Deleted`),
//! and keywords as `a` to `z`: letter `a` + i is the keyword on line
//! `i <keyword>` of the folder's `dovecot-keywords`. Letters are written in
//! ASCII order.
//!
//! The file is read as Dovecot 2.3 reads it (see [`KeywordTable::parse`]),
//! so that a letter means the same keyword to both. Dovecot takes a name
//! as the octets it is; a name that is no IMAP keyword (not UTF-8, not an
//! atom) costs only its own letter here: the letter stays taken, and the
//! line is written back as it was read.
//!
//! A letter that stands for nothing mailwire can serve (an upper-case flag
//! of another program, such as `P`, passed; a keyword letter whose line
//! cannot be read or is missing) is kept as it is when mailwire renames a
//! file within its folder, and a new keyword takes no letter that a
//! message of the folder carries (Dovecot names such a letter
//! `unknown-<i>` in the file). A copy to another folder keeps only the
//! upper-case ones: a keyword letter there may stand for another keyword.

use std::collections::HashSet;
use std::path::Path;

use super::fsutil::{self, io_err};
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

/// What a keyword letter stands for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
enum Slot {
    /// Nothing: no line names it.
    #[default]
    Free,
    /// A keyword.
    Named(Keyword),
    /// A name that Dovecot reads but that is no keyword (not UTF-8, not an
    /// atom, longer than 255 octets): the line as read, without its LF.
    Unreadable(Vec<u8>),
}

/// A folder's keyword table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct KeywordTable {
    slots: [Slot; MAX_KEYWORDS],
}

/// The letters `a` to `z` of an info string, as bit i for letter `a` + i.
pub(crate) fn letter_bits(info: &str) -> u32 {
    info.bytes()
        .filter(u8::is_ascii_lowercase)
        .fold(0, |bits, b| bits | 1 << (b - b'a'))
}

/// The letter index that a line's first field gives: a decimal number
/// below 26, leading zeros allowed, no sign (Dovecot's `str_to_uint`).
fn slot_index(field: &[u8]) -> Option<usize> {
    if field.is_empty() || !field.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let first = field.iter().position(|&d| d != b'0').unwrap_or(field.len());
    let digits = &field[first..];
    if digits.len() > 2 {
        return None;
    }
    let n = digits.iter().fold(0, |n, &d| n * 10 + usize::from(d - b'0'));
    (n < MAX_KEYWORDS).then_some(n)
}

impl KeywordTable {
    /// Reads `dovecot-keywords` as Dovecot 2.3 does. A line, ended by LF
    /// (a CR before it is dropped), is `<index> <name>`: the index a
    /// decimal number below 26, the name the rest of the line up to a NUL
    /// (Dovecot reads a line as a C string), not empty.
    /// A later line for an index replaces an earlier one; a line whose
    /// name an earlier line gave (ASCII case ignored) is skipped, as are
    /// lines of another form and a last line without its LF. A name read
    /// that is not a keyword ([`Keyword::new`]) leaves its letter taken
    /// and unnamed ([`Slot::Unreadable`]).
    pub(crate) fn parse(text: &[u8]) -> KeywordTable {
        let mut table = KeywordTable::default();
        let mut names: HashSet<Vec<u8>> = HashSet::new();
        let complete = memchr::memrchr(b'\n', text).map_or(0, |p| p + 1);
        for raw in text[..complete].split(|&b| b == b'\n') {
            let line = raw.strip_suffix(b"\r").unwrap_or(raw);
            // Dovecot reads a line as a C string: it ends at a NUL.
            let line = memchr::memchr(0, line).map_or(line, |nul| &line[..nul]);
            let Some(space) = memchr::memchr(b' ', line) else {
                continue;
            };
            let (index, name) = (&line[..space], &line[space + 1..]);
            let Some(i) = slot_index(index) else { continue };
            if name.is_empty() || !names.insert(name.to_ascii_lowercase()) {
                continue;
            }
            let keyword = std::str::from_utf8(name).ok().and_then(|n| Keyword::new(n).ok());
            table.slots[i] = match keyword {
                Some(kw) => Slot::Named(kw),
                None => Slot::Unreadable(raw.to_vec()),
            };
        }
        table
    }

    /// Reads the table of a folder (empty if the file is missing).
    pub(crate) fn load(dir: &Path) -> Result<KeywordTable, StoreError> {
        let path = dir.join("dovecot-keywords");
        match fsutil::read_file(&path, MAX_FILE) {
            Ok(text) => Ok(KeywordTable::parse(&text)),
            Err(e) if fsutil::not_found(&e) => Ok(KeywordTable::default()),
            Err(e) => Err(io_err("read", &path, &e)),
        }
    }

    /// The file's content: a line for each letter taken, in their order,
    /// a line that could not be read as it was read.
    pub(crate) fn render(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, slot) in self.slots.iter().enumerate() {
            match slot {
                Slot::Free => continue,
                Slot::Named(kw) => {
                    out.extend_from_slice(i.to_string().as_bytes());
                    out.push(b' ');
                    out.extend_from_slice(kw.as_str().as_bytes());
                }
                Slot::Unreadable(line) => out.extend_from_slice(line),
            }
            out.push(b'\n');
        }
        out
    }

    fn index_of(&self, kw: &Keyword) -> Option<usize> {
        self.slots
            .iter()
            .position(|s| matches!(s, Slot::Named(named) if named == kw))
    }

    /// Gives the keywords of `flags` that have no letter yet the first
    /// letters that no line takes and no message carries (`carried`, as
    /// [`letter_bits`] gives them); `Ok(true)` if the table changed,
    /// [`StoreError::Limit`] if the letters do not suffice.
    pub(crate) fn add_all(&mut self, flags: &Flags, carried: u32) -> Result<bool, StoreError> {
        let mut changed = false;
        for kw in &flags.keywords {
            if self.index_of(kw).is_some() {
                continue;
            }
            let free = (0..MAX_KEYWORDS).find(|&i| self.slots[i] == Slot::Free && carried & (1 << i) == 0);
            let Some(free) = free else {
                return Err(StoreError::Limit("a Maildir folder holds at most 26 keywords"));
            };
            self.slots[free] = Slot::Named(kw.clone());
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
                if let Slot::Named(kw) = &self.slots[usize::from(b - b'a')] {
                    flags.keywords.insert(kw.clone());
                }
            }
        }
        flags
    }

    /// The info string for `flags` of a message of this folder whose info
    /// was `old_info`, keeping the letters of `old_info` that stand for
    /// nothing this table names. Every keyword must have a letter (see
    /// [`add_all`](Self::add_all)); one without is left out.
    pub(crate) fn info_of(&self, flags: &Flags, old_info: &str) -> String {
        self.info_keeping(flags, old_info, true)
    }

    /// The info string for `flags` of a copy into this folder of a message
    /// whose info in its folder is `source_info`: as [`info_of`](Self::info_of),
    /// but only upper-case letters are kept (a keyword letter that the
    /// source could not name may name another keyword here).
    pub(crate) fn info_of_copy(&self, flags: &Flags, source_info: &str) -> String {
        self.info_keeping(flags, source_info, false)
    }

    fn info_keeping(&self, flags: &Flags, old_info: &str, keyword_letters: bool) -> String {
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
            let unknown = if b.is_ascii_uppercase() {
                SYSTEM_LETTERS.iter().all(|(l, _)| *l != b)
            } else {
                keyword_letters
                    && b.is_ascii_lowercase()
                    && !matches!(self.slots[usize::from(b - b'a')], Slot::Named(_))
            };
            if unknown {
                letters.push(b);
            }
        }
        letters.sort_unstable();
        letters.dedup();
        letters.into_iter().map(char::from).collect()
    }
}

/// Writes a folder's keyword table the way Dovecot does: under
/// `dovecot-keywords.lock`, whose content becomes the new file, with a
/// modification time in a later second than the file it replaces.
///
/// Dovecot reads the file again only when its mtime in whole seconds
/// changed, and makes it grow at each of its own writes. A table replaced
/// within the second a running Dovecot read the old one would otherwise
/// stay unread there: Dovecot would not know the keyword a letter now
/// stands for, and could give that letter to another keyword.
pub(crate) fn store(dir: &Path, table: &KeywordTable, fsync: bool) -> Result<(), StoreError> {
    let path = dir.join("dovecot-keywords");
    let lock = DotLock::acquire(&path, lock::SHORT_STALE, lock::default_timeout(lock::SHORT_STALE))?;
    let old = std::fs::symlink_metadata(&path).and_then(|m| m.modified()).ok();
    lock.replace_newer(&table.render(), fsync, old)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(names: &[&str]) -> Flags {
        Flags::parse(names.iter().copied()).unwrap()
    }

    #[test]
    fn letters_in_ascii_order() {
        let mut t = KeywordTable::parse(b"0 $Forwarded\n1 Junk\n");
        assert!(!t.add_all(&f(&["junk"]), 0).unwrap());
        assert!(t.add_all(&f(&["Work"]), 0).unwrap());
        assert_eq!(t.render(), b"0 $Forwarded\n1 Junk\n2 Work\n");
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
        // `b` (Junk) removed; `P` and `z` stand for nothing known: kept.
        assert_eq!(t.info_of(&f(&["\\Seen"]), "PSbz"), "PSz");
        assert_eq!(t.flags_of("Sz"), f(&["\\Seen"]));
    }

    #[test]
    fn at_most_26_keywords() {
        let mut t = KeywordTable::default();
        let names: Vec<String> = (0..26).map(|i| format!("k{i}")).collect();
        t.add_all(&Flags::parse(names.iter().map(String::as_str)).unwrap(), 0)
            .unwrap();
        assert!(matches!(
            t.add_all(&f(&["one-more"]), 0),
            Err(StoreError::Limit(_))
        ));
        assert!(t.covers(&f(&["k25"])));
        let reparsed = KeywordTable::parse(&t.render());
        assert_eq!(reparsed, t);
        assert_eq!(
            KeywordTable::parse(b"26 x\nbad\n-1 y\n3 ok\n").render(),
            b"3 ok\n"
        );
    }

    /// The lines below as Dovecot 2.3.19 read them, serving twelve messages
    /// with a letter each, `a` to `l`: it named `a`, `b`, `d`, `e`, `g` and
    /// `i` `Work`, `caf\xe9`, `Three`, `FourB`, `six` and `a(b`, and the
    /// others `unknown-<i>`, names it made up.
    #[test]
    fn reads_the_file_as_dovecot_does() {
        let t = KeywordTable::parse(
            b"0 Work\n1 caf\xe9\n2x Two\nhello world\n03 Three\n4 Four\n4 FourB\n5 four\n\
              6 six\r\n7 \n8 a(b\n 9 nine\n+10 ten\n26 big\n11 Last",
        );
        let mut expected = KeywordTable::default();
        expected.slots[0] = Slot::Named(Keyword::new("Work").unwrap());
        expected.slots[1] = Slot::Unreadable(b"1 caf\xe9".to_vec());
        expected.slots[3] = Slot::Named(Keyword::new("Three").unwrap());
        expected.slots[4] = Slot::Named(Keyword::new("FourB").unwrap());
        expected.slots[6] = Slot::Named(Keyword::new("six").unwrap());
        expected.slots[8] = Slot::Unreadable(b"8 a(b".to_vec());
        assert_eq!(t, expected);
        assert_eq!(t.render(), b"0 Work\n1 caf\xe9\n3 Three\n4 FourB\n6 six\n8 a(b\n");
        assert_eq!(t.flags_of("abdegijl"), f(&["Work", "Three", "FourB", "six"]));
    }

    /// A line with a NUL ends there, as Dovecot reads it (a C string): a
    /// name with a NUL and octets after it is the name before the NUL, and
    /// a NUL before the space leaves no name. Before, such a name was
    /// taken as no keyword, and the letter meant a keyword to Dovecot and
    /// none to mailwire.
    #[test]
    fn a_line_ends_at_a_nul() {
        let t = KeywordTable::parse(b"0 Work\0tail\n1\0 Gone\n2 work\0\n3 Home\0\r\n");
        let mut expected = KeywordTable::default();
        expected.slots[0] = Slot::Named(Keyword::new("Work").unwrap());
        expected.slots[3] = Slot::Named(Keyword::new("Home").unwrap());
        assert_eq!(t, expected);
        assert_eq!(t.render(), b"0 Work\n3 Home\n");
    }

    /// A name Dovecot reads but mailwire cannot serve costs its own letter
    /// only: the others keep theirs, the letter stays on the messages
    /// that have it and goes to no new keyword, and the line is written
    /// back as it was read.
    #[test]
    fn an_unreadable_name_keeps_its_letter() {
        let mut t = KeywordTable::parse(b"0 Work\n1 caf\xe9\r\n2 Home\n");
        assert_eq!(t.flags_of("Sabc"), f(&["\\Seen", "Work", "Home"]));
        assert_eq!(t.info_of(&f(&["\\Flagged", "Work"]), "Sabc"), "Fab");
        assert_eq!(t.info_of(&f(&[]), "Sabc"), "b");
        assert_eq!(t.info_of(&f(&["Home"]), ""), "c");
        assert!(t.add_all(&f(&["New"]), 0).unwrap());
        assert_eq!(t.render(), b"0 Work\n1 caf\xe9\r\n2 Home\n3 New\n");
        assert_eq!(KeywordTable::parse(&t.render()), t);
    }

    #[test]
    fn a_copy_keeps_no_letter_its_target_would_misread() {
        let t = KeywordTable::parse(b"0 Work\n");
        assert_eq!(t.info_of_copy(&f(&["\\Seen", "Work"]), "PSabz"), "PSa");
        assert_eq!(t.info_of(&f(&["\\Seen", "Work"]), "PSabz"), "PSabz");
    }

    #[test]
    fn new_keywords_take_no_letter_a_message_carries() {
        let mut t = KeywordTable::parse(b"1 Work\n");
        let carried = letter_bits("FSacx") | letter_bits("d");
        assert_eq!(carried, 0b1000_0000_0000_0000_0000_1101);
        assert!(t.add_all(&f(&["Work", "One", "Two"]), carried).unwrap());
        assert_eq!(t.render(), b"1 Work\n4 One\n5 Two\n");
        let all = (1 << MAX_KEYWORDS) - 1;
        assert!(matches!(
            t.add_all(&f(&["Three"]), all),
            Err(StoreError::Limit(_))
        ));
    }

    proptest::proptest! {
        /// What mailwire writes back means what was read, to mailwire and
        /// (lines being kept as read) to Dovecot.
        #[test]
        fn a_table_written_back_reads_the_same(
            text in proptest::collection::vec(
                proptest::sample::select(b"0123 aAbB(\r\n\xe9".to_vec()),
                0..48,
            )
        ) {
            let t = KeywordTable::parse(&text);
            proptest::prop_assert_eq!(KeywordTable::parse(&t.render()), t);
        }
    }

    /// Each table written has an mtime in a later second than the one it
    /// replaces, also when that one's is not behind the clock (written
    /// within the same second, or pushed ahead by such a write); one
    /// written after the clock moved on has the clock's time.
    #[test]
    fn a_stored_table_has_a_later_mtime_in_seconds() {
        use std::time::{Duration, SystemTime, UNIX_EPOCH};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dovecot-keywords");
        let set = |t: SystemTime| {
            std::fs::File::options()
                .write(true)
                .open(&path)
                .unwrap()
                .set_modified(t)
                .unwrap();
        };
        let secs = |t: SystemTime| t.duration_since(UNIX_EPOCH).unwrap().as_secs();
        let mtime = || std::fs::metadata(&path).unwrap().modified().unwrap();
        let mut t = KeywordTable::default();
        t.add_all(&f(&["$Junk"]), 0).unwrap();
        store(dir.path(), &t, false).unwrap();
        for (name, ahead) in [("a", 0), ("b", 1), ("c", 30)] {
            let old = SystemTime::now() + Duration::from_secs(ahead);
            set(old);
            t.add_all(&f(&[name]), 0).unwrap();
            store(dir.path(), &t, false).unwrap();
            assert_eq!(secs(mtime()), secs(old) + 1, "{name}");
        }
        // The lock's touch thread, which sets the mtime of the locks held
        // to now, does not undo it while the new file waits to be renamed
        // into place.
        let old = SystemTime::now() + Duration::from_secs(30);
        set(old);
        t.add_all(&f(&["e"]), 0).unwrap();
        lock::PAUSE_BEFORE_RENAME.with(|p| p.set(true));
        let stored = store(dir.path(), &t, false);
        lock::PAUSE_BEFORE_RENAME.with(|p| p.set(false));
        stored.unwrap();
        assert_eq!(secs(mtime()), secs(old) + 1, "touched before the rename");

        set(SystemTime::now() - Duration::from_secs(3600));
        let before = SystemTime::now();
        t.add_all(&f(&["d"]), 0).unwrap();
        store(dir.path(), &t, false).unwrap();
        assert!(secs(mtime()) >= secs(before) && mtime() <= SystemTime::now());
        assert_eq!(KeywordTable::load(dir.path()).unwrap(), t);
    }

    #[test]
    fn store_writes_through_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = KeywordTable::default();
        t.add_all(&f(&["$Junk"]), 0).unwrap();
        store(dir.path(), &t, false).unwrap();
        assert_eq!(KeywordTable::load(dir.path()).unwrap(), t);
        assert!(!dir.path().join("dovecot-keywords.lock").exists());
    }
}

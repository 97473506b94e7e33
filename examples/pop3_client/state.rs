//! The UIDL state file: which messages of one account were downloaded,
//! and the size LIST gave each.
//!
//! One file per account in the Maildir (so two accounts delivering into
//! one Maildir never write the same file), replaced atomically: the new
//! contents go to a temporary file that is flushed to disk and renamed
//! over the old one, and the directory is flushed. A crash leaves either
//! the old file or the new one, never a mix.
//!
//! The format is text: a first line `mailwire-pop3-uidl 2`, comment lines
//! starting with `#`, then one message per line: its UIDL, a space and its
//! size in octets, or the UIDL alone when the size is unknown. Files of
//! version 1 (a UIDL per line, no sizes, written by earlier versions) are
//! read too, and rewritten as version 2 when saved.
//!
//! This file uses nothing from the rest of the example but `maildir.rs`,
//! so the tests include the two on their own.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::maildir::create_new_file;

/// The first line of a state file.
pub const MAGIC: &str = "mailwire-pop3-uidl 2";

/// The first line of a state file of version 1 (no sizes), still read.
pub const MAGIC_V1: &str = "mailwire-pop3-uidl 1";

/// RFC 1939 section 7: a unique-id is 1 to 70 characters from 0x21 to 0x7E.
pub fn is_valid_uidl(uidl: &str) -> bool {
    (1..=70).contains(&uidl.len()) && uidl.bytes().all(|b| (0x21..=0x7E).contains(&b))
}

/// The downloaded UIDLs of one account, each with its LIST size if known.
#[derive(Debug)]
pub struct UidlState {
    path: PathBuf,
    comment: String,
    uidls: BTreeMap<String, Option<u64>>,
    dirty: bool,
    adopted: bool,
}

fn invalid(path: &Path, line: usize, what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{} line {line}: {what}", path.display()),
    )
}

impl UidlState {
    /// Reads the state file at `path`; a missing file is an empty state.
    /// `comment` is written on the second line (say which account the
    /// file belongs to; a line break in it is replaced).
    pub fn load(path: PathBuf, comment: &str) -> io::Result<UidlState> {
        let comment = comment.replace(['\r', '\n'], " ");
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(UidlState {
                    path,
                    comment,
                    uidls: BTreeMap::new(),
                    dirty: false,
                    adopted: false,
                });
            }
            Err(e) => return Err(e),
        };
        let mut lines = text.lines();
        let sized = match lines.next() {
            Some(MAGIC) => true,
            Some(MAGIC_V1) => false,
            _ => {
                return Err(invalid(
                    &path,
                    1,
                    &format!("not a state file (expected {MAGIC:?} or {MAGIC_V1:?})"),
                ));
            }
        };
        let mut uidls = BTreeMap::new();
        for (i, line) in lines.enumerate() {
            if line.starts_with('#') || line.is_empty() {
                continue;
            }
            let (uidl, size) = match line.split_once(' ') {
                Some((uidl, size)) if sized => {
                    // Digits only: `parse` would take a sign too.
                    if size.is_empty() || !size.bytes().all(|b| b.is_ascii_digit()) {
                        return Err(invalid(&path, i + 2, "not a size"));
                    }
                    let size = size
                        .parse::<u64>()
                        .map_err(|_| invalid(&path, i + 2, "not a size"))?;
                    (uidl, Some(size))
                }
                _ => (line, None),
            };
            if !is_valid_uidl(uidl) {
                return Err(invalid(&path, i + 2, "not a UIDL"));
            }
            uidls.insert(uidl.to_owned(), size);
        }
        Ok(UidlState {
            path,
            comment,
            uidls,
            dirty: false,
            adopted: false,
        })
    }

    /// Reads the state file at `path`; if there is none, the one at
    /// `earlier` (the file an earlier version kept for this account under
    /// another name), whose records are then [`adopted`](Self::adopted)
    /// and saved at `path` from then on. Neither file: an empty state.
    pub fn load_or_adopt(path: PathBuf, earlier: Option<PathBuf>, comment: &str) -> io::Result<UidlState> {
        let state = UidlState::load(path, comment)?;
        let Some(earlier) = earlier else {
            return Ok(state);
        };
        match fs::symlink_metadata(&state.path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            _ => return Ok(state),
        }
        let mut old = UidlState::load(earlier, comment)?;
        if old.uidls.is_empty() {
            return Ok(state);
        }
        old.path = state.path;
        old.dirty = true;
        old.adopted = true;
        Ok(old)
    }

    /// Whether the records come from the file of an earlier version (see
    /// [`load_or_adopt`](Self::load_or_adopt)): they may not be trusted as
    /// much as this version's own.
    pub fn adopted(&self) -> bool {
        self.adopted
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `None` if `uidl` was not downloaded, else the size recorded with it
    /// (`None` inside if unknown).
    pub fn size(&self, uidl: &str) -> Option<Option<u64>> {
        self.uidls.get(uidl).copied()
    }

    /// Records `uidl` as downloaded with `size`, replacing the size it had.
    pub fn insert(&mut self, uidl: &str, size: Option<u64>) {
        if self.uidls.get(uidl) != Some(&size) {
            self.uidls.insert(uidl.to_owned(), size);
            self.dirty = true;
        }
    }

    /// Forgets `uidl`.
    pub fn remove(&mut self, uidl: &str) {
        self.dirty |= self.uidls.remove(uidl).is_some();
    }

    /// Keeps only the UIDLs for which `keep` holds.
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        let before = self.uidls.len();
        self.uidls.retain(|u, _| keep(u));
        self.dirty |= self.uidls.len() != before;
    }

    /// How many UIDLs are recorded.
    pub fn len(&self) -> usize {
        self.uidls.len()
    }

    /// Replaces the file atomically with the current state, if it changed.
    pub fn save(&mut self) -> io::Result<()> {
        if !self.dirty {
            return Ok(());
        }
        let mut text = String::with_capacity(64 + self.uidls.len() * 30);
        text.push_str(MAGIC);
        text.push_str("\n# ");
        text.push_str(&self.comment);
        text.push('\n');
        for (uidl, size) in &self.uidls {
            text.push_str(uidl);
            if let Some(size) = size {
                text.push(' ');
                text.push_str(&size.to_string());
            }
            text.push('\n');
        }
        let mut tmp_name = self.path.file_name().unwrap_or_default().to_os_string();
        tmp_name.push(".tmp");
        let tmp = self.path.with_file_name(tmp_name);
        // Left by a killed run (only one run holds the Maildir's lock); a
        // link planted there is removed, not followed.
        match fs::remove_file(&tmp) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let mut file = create_new_file(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, &self.path)?;
        if let Some(dir) = self.path.parent() {
            sync_parent(dir)?;
        }
        self.dirty = false;
        Ok(())
    }
}

fn sync_parent(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        fs::File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

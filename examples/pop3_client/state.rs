//! The UIDL state file: which messages of one account were downloaded.
//!
//! One file per account in the Maildir (so two accounts delivering into
//! one Maildir never write the same file), replaced atomically: the new
//! contents go to a temporary file that is flushed to disk and renamed
//! over the old one, and the directory is flushed. A crash leaves either
//! the old file or the new one, never a mix.
//!
//! The format is text: a first line `mailwire-pop3-uidl 1`, comment lines
//! starting with `#`, then one UIDL per line.
//!
//! This file uses nothing from the rest of the example but `maildir.rs`,
//! so the tests include the two on their own.

use std::collections::BTreeSet;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::maildir::create_new_file;

/// The first line of a state file.
pub const MAGIC: &str = "mailwire-pop3-uidl 1";

/// RFC 1939 section 7: a unique-id is 1 to 70 characters from 0x21 to 0x7E.
pub fn is_valid_uidl(uidl: &str) -> bool {
    (1..=70).contains(&uidl.len()) && uidl.bytes().all(|b| (0x21..=0x7E).contains(&b))
}

/// The downloaded UIDLs of one account.
#[derive(Debug)]
pub struct UidlState {
    path: PathBuf,
    comment: String,
    uidls: BTreeSet<String>,
    dirty: bool,
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
                    uidls: BTreeSet::new(),
                    dirty: false,
                });
            }
            Err(e) => return Err(e),
        };
        let mut lines = text.lines();
        if lines.next() != Some(MAGIC) {
            return Err(invalid(
                &path,
                1,
                &format!("not a state file (expected {MAGIC:?})"),
            ));
        }
        let mut uidls = BTreeSet::new();
        for (i, line) in lines.enumerate() {
            if line.starts_with('#') || line.is_empty() {
                continue;
            }
            if !is_valid_uidl(line) {
                return Err(invalid(&path, i + 2, "not a UIDL"));
            }
            uidls.insert(line.to_owned());
        }
        Ok(UidlState {
            path,
            comment,
            uidls,
            dirty: false,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether `uidl` was downloaded.
    pub fn contains(&self, uidl: &str) -> bool {
        self.uidls.contains(uidl)
    }

    /// Records `uidl` as downloaded.
    pub fn insert(&mut self, uidl: &str) {
        if !self.uidls.contains(uidl) {
            self.uidls.insert(uidl.to_owned());
            self.dirty = true;
        }
    }

    /// Forgets `uidl`.
    pub fn remove(&mut self, uidl: &str) {
        self.dirty |= self.uidls.remove(uidl);
    }

    /// Keeps only the UIDLs for which `keep` holds.
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        let before = self.uidls.len();
        self.uidls.retain(|u| keep(u));
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
        let mut text = String::with_capacity(64 + self.uidls.len() * 20);
        text.push_str(MAGIC);
        text.push_str("\n# ");
        text.push_str(&self.comment);
        text.push('\n');
        for uidl in &self.uidls {
            text.push_str(uidl);
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

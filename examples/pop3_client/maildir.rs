//! The local Maildir: durable delivery under names derived from the UIDL,
//! and the lock that keeps two runs out of one Maildir.
//!
//! A message is written to `tmp/`, flushed to disk, linked into `new/`,
//! and `new/` itself is flushed, so once [`Incoming::commit`] returns the
//! message survives a crash. Its name is a hash of the account, the UIDL
//! and the size, the same on every run, so a message stored by a run that
//! was killed before it could record the UIDL is found by the next run,
//! which downloads it again and compares ([`Incoming::commit_compared`]):
//! the same message is not stored twice, another one under that UIDL and
//! size is stored under a name of its own. A UIDL the server reused for a
//! message of another size gets a name of its own anyway.
//!
//! The file in `tmp/` has a name no other writer uses (time, process id
//! and a counter, as the Maildir delivery convention has it) and is
//! created only if nothing, not even a symbolic link, is at that name.
//!
//! This file uses nothing from the rest of the example (but the files
//! shared with `imap_client`), so the tests include it on its own.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

#[path = "../common/maildir_files.rs"]
mod files;
#[cfg(unix)]
use files::nofollow;
pub use files::{create_new_file, sync_dir};

/// What every name this program gives a message starts with.
pub const NAME_PREFIX: &str = "mailwire-";

/// What the names of this program's files in `tmp/` start with: only
/// those are ever removed from there.
pub const TMP_PREFIX: &str = "mailwire-pop3-tmp.";

/// The lock file in the Maildir's directory, held locked for a whole run.
pub const LOCK_FILE_NAME: &str = ".mailwire-pop3-lock";

/// How line ends are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineEnds {
    /// LF, the Maildir convention (what delivery agents write and mail
    /// readers expect): every CRLF received becomes LF.
    Lf,
    /// CRLF, exactly as received.
    Crlf,
}

/// The 128-bit hash of `parts` as 32 lower-case hex digits. Each part is
/// preceded by its length, so no two lists of parts hash alike by
/// shifting bytes from one part to the next.
fn hash_hex(domain: &str, parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(domain.as_bytes());
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    hex32(&hasher.finalize())
}

/// The first 16 octets of `digest` as 32 lower-case hex digits.
fn hex32(digest: &[u8]) -> String {
    let mut hex = String::with_capacity(32);
    for byte in digest.iter().take(16) {
        hex.push(char::from(HEX[usize::from(byte >> 4)]));
        hex.push(char::from(HEX[usize::from(byte & 0xF)]));
    }
    hex
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The Maildir file name of the message with `uidl` and the LIST `size`
/// in the account of `user` at `host`. The host is compared without regard
/// to case; the port and the TLS mode are left out, so they may change
/// between runs without fetching everything again. The size tells apart
/// two messages a server gave the same UIDL; without one (LIST failed) the
/// name is the one earlier versions gave every message.
pub fn message_name(host: &str, user: &[u8], uidl: &str, size: Option<u64>) -> String {
    let host = host.to_ascii_lowercase();
    let size = size.map(|s| s.to_string());
    let mut parts = vec![host.as_bytes(), user, uidl.as_bytes()];
    if let Some(size) = &size {
        parts.push(size.as_bytes());
    }
    let hash = hash_hex("mailwire-pop3-message\0", &parts);
    format!("{NAME_PREFIX}{hash}")
}

/// The name of the UIDL state file of an account, inside the Maildir.
///
/// The port is part of the account: two ports of one host may be two
/// servers (tunnels to several machines all end on `localhost`), and one
/// server's record of a UIDL and size must never vouch for another's
/// message.
pub fn state_file_name(host: &str, port: u16, user: &[u8]) -> String {
    let host = host.to_ascii_lowercase();
    let port = port.to_string();
    state_name(
        "mailwire-pop3-account-port\0",
        &[host.as_bytes(), port.as_bytes(), user],
    )
}

/// The name earlier versions gave the state file of an account, without
/// its port; see [`adopts_unported_state`].
pub fn unported_state_file_name(host: &str, user: &[u8]) -> String {
    let host = host.to_ascii_lowercase();
    state_name("mailwire-pop3-account\0", &[host.as_bytes(), user])
}

/// A state file's name from the digest of `parts` under `domain`.
fn state_name(domain: &str, parts: &[&[u8]]) -> String {
    let hash = hash_hex(domain, parts);
    // 64 bits tell accounts apart well enough; the name stays short.
    format!(".mailwire-uidl-{}", hash.get(..16).unwrap_or(&hash))
}

/// Whether an account on `port` takes over the state file an earlier
/// version wrote without a port (when it has none of its own yet): only
/// on POP3's own ports, 110 and 995 (RFC 8314), where that file was
/// almost surely written for the same server. On any other port it may
/// have been another server's, so it is ignored, and the first run
/// downloads every message again and compares it with the file of its
/// name (nothing is stored twice).
pub fn adopts_unported_state(port: u16) -> bool {
    port == 110 || port == 995
}

/// The base name of a Maildir file: without the `:2,flags` info that mail
/// readers append, nor the `,S=size` fields that some delivery agents add.
pub fn base_name(file_name: &str) -> &str {
    let end = file_name.find([':', ',']).unwrap_or(file_name.len());
    file_name.get(..end).unwrap_or(file_name)
}

/// The exclusive lock on a Maildir, held until dropped. It is an advisory
/// `flock` on [`LOCK_FILE_NAME`]: the system releases it when the process
/// ends however it ends, so a killed run leaves no stale lock, and the
/// file itself stays (removing a lock file would let a third run lock a
/// new file while the second still holds the old one).
#[derive(Debug)]
pub struct MaildirLock {
    _file: File,
}

fn create_private_dir(path: &Path) -> io::Result<bool> {
    let mut builder = fs::DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    match builder.create(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && path.is_dir() => Ok(false),
        Err(e) => Err(e),
    }
}

/// A Maildir: a directory holding `tmp/`, `new/` and `cur/`.
#[derive(Debug, Clone)]
pub struct Maildir {
    root: PathBuf,
    tmp: PathBuf,
    new: PathBuf,
    cur: PathBuf,
}

impl Maildir {
    /// Opens the Maildir at `root`, creating it and its three
    /// subdirectories (and missing parents) if needed.
    pub fn open_or_create(root: &Path) -> io::Result<Maildir> {
        let maildir = Maildir {
            root: root.to_path_buf(),
            tmp: root.join("tmp"),
            new: root.join("new"),
            cur: root.join("cur"),
        };
        if !root.is_dir() {
            if let Some(parent) = root.parent().filter(|p| !p.as_os_str().is_empty()) {
                fs::create_dir_all(parent)?;
            }
            if create_private_dir(root)? {
                if let Some(parent) = root.parent().filter(|p| !p.as_os_str().is_empty()) {
                    sync_dir(parent)?;
                }
            }
        }
        let mut created = false;
        for dir in [&maildir.tmp, &maildir.new, &maildir.cur] {
            created |= create_private_dir(dir)?;
        }
        if created {
            sync_dir(root)?;
        }
        Ok(maildir)
    }

    /// The Maildir's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where a message named `name` is put in `new/`.
    pub fn new_path(&self, name: &str) -> PathBuf {
        self.new.join(name)
    }

    /// Takes the exclusive lock on this Maildir without waiting. When
    /// another process holds it the error's kind is
    /// [`io::ErrorKind::WouldBlock`].
    pub fn lock(&self) -> io::Result<MaildirLock> {
        let path = self.root.join(LOCK_FILE_NAME);
        let mut options = OpenOptions::new();
        // Never truncated: the file holds nothing, only its lock matters.
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
            options.custom_flags(nofollow());
        }
        let file = options.open(&path)?;
        #[cfg(unix)]
        rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive)
            .map_err(io::Error::from)?;
        Ok(MaildirLock { _file: file })
    }

    /// Removes the files this program left in `tmp/` (runs that were
    /// killed while writing a message). Call it only while holding the
    /// lock: then no living run owns any of them. Answers how many were
    /// removed.
    pub fn remove_stale_temp_files(&self) -> io::Result<usize> {
        let mut removed = 0;
        for entry in fs::read_dir(&self.tmp)? {
            let entry = entry?;
            let is_ours = entry
                .file_name()
                .to_str()
                .is_some_and(|n| n.starts_with(TMP_PREFIX));
            // A link is removed, never followed; a directory is left alone.
            if is_ours && !entry.file_type()?.is_dir() {
                match fs::remove_file(entry.path()) {
                    Ok(()) => removed += 1,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(removed)
    }

    /// The messages in `new/` and `cur/` that this program named: each
    /// base name with the path of a file of that name.
    pub fn existing_messages(&self) -> io::Result<HashMap<String, PathBuf>> {
        let mut names = HashMap::new();
        for dir in [&self.new, &self.cur] {
            for entry in fs::read_dir(dir)? {
                let entry = entry?;
                if let Some(name) = entry.file_name().to_str() {
                    if name.starts_with(NAME_PREFIX) {
                        names.insert(base_name(name).to_owned(), entry.path());
                    }
                }
            }
        }
        Ok(names)
    }

    /// Starts writing the message `name` into a new file of `tmp/`, under
    /// a name of its own (see [`create_new_file`]).
    pub fn begin(&self, name: &str, line_ends: LineEnds) -> io::Result<Incoming> {
        let tmp_path = self.tmp.join(files::unique_name(TMP_PREFIX, ""));
        let file = create_new_file(&tmp_path)?;
        Ok(Incoming {
            file: BufWriter::with_capacity(64 * 1024, file),
            tmp: TmpFile {
                path: tmp_path,
                gone: false,
            },
            new_path: self.new.join(name),
            new_dir: self.new.clone(),
            to_lf: (line_ends == LineEnds::Lf).then_some(CrlfToLf::default()),
            received: 0,
            last: [0; 2],
            storing: true,
        })
    }
}

/// Turns CRLF into LF in a stream cut into arbitrary pieces; a CR not
/// followed by LF is kept.
#[derive(Debug, Default)]
pub struct CrlfToLf {
    /// The previous piece ended with a CR not yet written.
    pending_cr: bool,
}

impl CrlfToLf {
    /// Converts `data`, appending to `out`.
    pub fn push(&mut self, mut data: &[u8], out: &mut Vec<u8>) {
        if data.is_empty() {
            return;
        }
        if self.pending_cr {
            self.pending_cr = false;
            if data.first() != Some(&b'\n') {
                out.push(b'\r');
            }
        }
        while let Some(cr) = memchr::memchr(b'\r', data) {
            let (before, rest) = data.split_at(cr);
            out.extend_from_slice(before);
            match rest.get(1) {
                Some(b'\n') => {}
                Some(_) => out.push(b'\r'),
                None => self.pending_cr = true,
            }
            data = rest.get(1..).unwrap_or_default();
        }
        out.extend_from_slice(data);
    }

    /// Ends the stream, appending a CR held back at the end.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if std::mem::take(&mut self.pending_cr) {
            out.push(b'\r');
        }
    }
}

/// A file of this program in `tmp/`, removed when dropped unless it was
/// moved or removed on purpose: a run that gives up on a message (a
/// server that sends more than it listed, a connection lost in the
/// middle, a full disk) leaves nothing behind in `tmp/`.
#[derive(Debug)]
struct TmpFile {
    path: PathBuf,
    /// The file is gone from `path` (linked, renamed or removed).
    gone: bool,
}

impl TmpFile {
    /// Removes the file.
    fn remove(&mut self) -> io::Result<()> {
        fs::remove_file(&self.path)?;
        self.gone = true;
        Ok(())
    }
}

impl Drop for TmpFile {
    fn drop(&mut self) {
        if !self.gone {
            // Best effort: what stays is removed at the next run's start.
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// A message being written into `tmp/`. Dropped without
/// [`commit`](Incoming::commit), its file in `tmp/` is removed.
#[derive(Debug)]
pub struct Incoming {
    file: BufWriter<File>,
    tmp: TmpFile,
    new_path: PathBuf,
    new_dir: PathBuf,
    to_lf: Option<CrlfToLf>,
    received: u64,
    /// The last two octets received (zeros before there are two).
    last: [u8; 2],
    /// Whether what is received is written (see [`Incoming::stop_storing`]).
    storing: bool,
}

impl Incoming {
    /// Whether what is received is still written to the file.
    pub fn storing(&self) -> bool {
        self.storing
    }

    /// Stops writing what is received, and empties the file: for a
    /// message that will be refused, whose end is still read. It is then
    /// only counted ([`Incoming::received`]) and must be discarded.
    pub fn stop_storing(&mut self) -> io::Result<()> {
        self.storing = false;
        self.file.flush()?;
        self.file.get_ref().set_len(0)
    }

    /// Appends a piece of the message as received (CRLF line ends).
    pub fn write(&mut self, data: &[u8]) -> io::Result<()> {
        self.received = self.received.saturating_add(data.len() as u64);
        match data {
            [.., a, b] => self.last = [*a, *b],
            [b] => self.last = [self.last[1], *b],
            [] => {}
        }
        match &mut self.to_lf {
            _ if !self.storing => Ok(()),
            None => self.file.write_all(data),
            Some(to_lf) => {
                let mut converted = Vec::with_capacity(data.len());
                to_lf.push(data, &mut converted);
                self.file.write_all(&converted)
            }
        }
    }

    /// The octets received so far, as the server counts them (CRLF line
    /// ends, dot-stuffing removed).
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Whether what was received is a message of `listed` octets with no
    /// line break at its end, followed by the one the server must send
    /// before the terminating `.` line (RFC 1939 section 3): CRLF after
    /// the last octet, or LF after a last CR. Servers list the message's
    /// own size (Dovecot does), so such a message arrives one or two
    /// octets longer than LIST said.
    pub fn ends_with_a_line_break_added_to(&self, listed: u64) -> bool {
        let extra = self.received.checked_sub(listed);
        self.last == *b"\r\n" && matches!(extra, Some(1 | 2))
    }

    /// Makes the message durable in `new/`: the file is flushed to disk,
    /// linked into `new/`, and `new/` is flushed. If `new/` already holds a
    /// file of that name (which this run's listing of the Maildir did not
    /// show), the message is compared with it as
    /// [`commit_compared`](Incoming::commit_compared) does: never counted
    /// as stored on the strength of a name alone.
    pub fn commit(self) -> io::Result<Compared> {
        let mut written = self.written()?;
        let path = written.new_path.clone();
        if written.place(&path)? {
            Ok(Compared::Stored(path))
        } else {
            written.beside(&path)
        }
    }

    /// Like [`Incoming::commit`] for a message whose name the Maildir
    /// already holds, at `stored`, from a run that did not record it: if
    /// the message is the same as that file (octet for octet) nothing is
    /// stored; otherwise it is stored under its name followed by a hash of
    /// its content, so it is never mistaken for the other, nor stored
    /// twice by runs that repeat this (a file of that name is the same
    /// message). A `stored` that cannot be read (or is a symbolic link)
    /// counts as different.
    pub fn commit_compared(self, stored: &Path) -> io::Result<Compared> {
        self.written()?.beside(stored)
    }

    /// Ends the file in `tmp/`: the CR held back written, flushed to disk.
    fn written(mut self) -> io::Result<Written> {
        if !self.storing {
            return Err(io::Error::other("the message was not written whole"));
        }
        if let Some(to_lf) = &mut self.to_lf {
            let mut tail = Vec::new();
            to_lf.finish(&mut tail);
            self.file.write_all(&tail)?;
        }
        let file = self.file.into_inner().map_err(io::IntoInnerError::into_error)?;
        file.sync_all()?;
        Ok(Written {
            tmp: self.tmp,
            new_path: self.new_path,
            new_dir: self.new_dir,
        })
    }

    /// Gives the message up and removes its file from `tmp/`.
    pub fn discard(mut self) -> io::Result<()> {
        drop(self.file);
        self.tmp.remove()
    }
}

/// What [`Incoming::commit`] and [`Incoming::commit_compared`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Compared {
    /// The message is the one stored; nothing new was stored.
    Same,
    /// The message is now stored at this path.
    Stored(PathBuf),
}

/// A message's file in `tmp/`, whole and flushed.
struct Written {
    tmp: TmpFile,
    new_path: PathBuf,
    new_dir: PathBuf,
}

impl Written {
    /// Moves the file to `path` in `new/` and flushes `new/`. Answers
    /// whether it was placed: not when a file is already at `path`, which
    /// is never replaced; this one then stays in `tmp/`.
    fn place(&mut self, path: &Path) -> io::Result<bool> {
        // A link, unlike a rename, never replaces a file already there.
        match fs::hard_link(&self.tmp.path, path) {
            Ok(()) => self.tmp.remove()?,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(false),
            // Some file systems have no hard links (EPERM on FAT, or not
            // supported): renamed instead, again never over a file.
            Err(e) if no_hard_links(&e) => {
                if !rename_no_replace(&self.tmp.path, path)? {
                    return Ok(false);
                }
                self.tmp.gone = true;
            }
            Err(e) => return Err(e),
        }
        sync_dir(&self.new_dir)?;
        Ok(true)
    }

    /// Stores the message beside the file at `stored`, a message of the
    /// same name (see [`Incoming::commit_compared`]).
    fn beside(mut self, stored: &Path) -> io::Result<Compared> {
        let (same, hash) = compare(&self.tmp.path, stored)?;
        if let Some(stored_file) = same {
            // The server's copy may be deleted on the strength of that
            // file: it and its directory entry are made durable first (a
            // run killed before it flushed `new/` may have left it).
            stored_file.sync_all()?;
            if let Some(dir) = stored.parent() {
                sync_dir(dir)?;
            }
            self.tmp.remove()?;
            return Ok(Compared::Same);
        }
        let mut name = self.new_path.clone().into_os_string();
        name.push("-");
        name.push(hash);
        let path = PathBuf::from(name);
        if self.place(&path)? {
            Ok(Compared::Stored(path))
        } else {
            // A file of that name holds these very octets (its name is
            // their hash): stored by an earlier run.
            self.tmp.remove()?;
            Ok(Compared::Same)
        }
    }
}

/// Whether a failed hard link says the file system has none (EPERM on
/// FAT file systems, or not supported at all).
fn no_hard_links(e: &io::Error) -> bool {
    #[cfg(unix)]
    {
        use rustix::io::Errno;
        matches!(Errno::from_io_error(e), Some(Errno::PERM | Errno::OPNOTSUPP))
    }
    #[cfg(not(unix))]
    {
        matches!(
            e.kind(),
            io::ErrorKind::Unsupported | io::ErrorKind::PermissionDenied
        )
    }
}

/// Renames `from` to `to` unless something is at `to`; answers whether it
/// was renamed.
fn rename_no_replace(from: &Path, to: &Path) -> io::Result<bool> {
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{CWD, RenameFlags, renameat_with};
        match renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE) {
            Ok(()) => return Ok(true),
            Err(e) if e == rustix::io::Errno::EXIST => return Ok(false),
            // A file system without the flag: checked first, below.
            Err(e) if e == rustix::io::Errno::INVAL || e == rustix::io::Errno::NOSYS => {}
            Err(e) => return Err(e.into()),
        }
    }
    // The Maildir lock keeps other runs of this program out between the
    // check and the rename, and no other program uses these names.
    if fs::symlink_metadata(to).is_ok() {
        return Ok(false);
    }
    fs::rename(from, to)?;
    Ok(true)
}

/// The file at `stored`, open, when it holds the same octets as the one
/// at `path`; and the hash of `path`'s content (32 hex digits). `stored`
/// is opened without following a symbolic link; if it cannot be read it
/// is not the same.
fn compare(path: &Path, stored: &Path) -> io::Result<(Option<File>, String)> {
    let mut file = File::open(path)?;
    let mut other = {
        let mut options = OpenOptions::new();
        options.read(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.custom_flags(nofollow());
        }
        options.open(stored).ok()
    };
    let mut hasher = Sha256::new();
    let (mut ours, mut theirs) = (vec![0; 64 * 1024], vec![0; 64 * 1024]);
    loop {
        let n = read_full(&mut file, &mut ours)?;
        hasher.update(&ours[..n]);
        if let Some(f) = other.as_mut() {
            // As many octets from the other file, and at the end one more
            // to see that it ends too.
            let want = n.max(1);
            let same = read_full(f, &mut theirs[..want]).is_ok_and(|m| m == n && ours[..n] == theirs[..n]);
            if !same {
                other = None;
            }
        }
        if n == 0 {
            break;
        }
    }
    Ok((other, hex32(&hasher.finalize())))
}

/// Reads into `buf` until it is full or the file ends; answers how many
/// octets were read.
fn read_full(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

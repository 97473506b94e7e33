//! File-system helpers: durable writes, unique names, the host name and
//! process liveness, and the mapping of I/O errors to [`StoreError`].

use std::borrow::Cow;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::types::StoreError;

/// An I/O failure as a store error: a full disk or quota, an interrupted
/// or timed-out call is temporary, anything else (a missing file
/// included) permanent; the path is named.
pub(crate) fn io_err(what: &str, path: &Path, e: &io::Error) -> StoreError {
    let text = format!("{what} {}: {e}", path.display());
    match e.kind() {
        io::ErrorKind::StorageFull
        | io::ErrorKind::Interrupted
        | io::ErrorKind::WouldBlock
        | io::ErrorKind::TimedOut
        | io::ErrorKind::QuotaExceeded => StoreError::Temporary(text),
        _ => StoreError::Permanent(text),
    }
}

/// Refuses to open the file through a symbolic link (`O_NOFOLLOW`).
///
/// Below a user's Maildir every file and directory the backend uses must be
/// a real one: a user who can write to their own Maildir could otherwise
/// plant a link to another user's mail or to a system file, and a server
/// that serves every user from one process (as root, or as one mail user)
/// would read, overwrite or delete through it.
pub(crate) fn no_follow(options: &mut OpenOptions) -> &mut OpenOptions {
    options.custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
}

/// Opens a regular file for reading, refusing a symbolic link and anything
/// that is not a regular file (a FIFO would hold the reader forever).
pub(crate) fn open_read(path: &Path) -> io::Result<File> {
    let flags = rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK;
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(flags.bits() as i32)
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a regular file"));
    }
    Ok(file)
}

/// Reads a whole regular file (see [`open_read`]) of at most `limit`
/// octets; a longer one is an error of kind `FileTooLarge`.
pub(crate) fn read_file(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    read_from(&mut open_read(path)?, 0, limit)
}

/// Reads an open file from octet `from` to its end, where that end is at
/// most `limit` octets into the file; a longer file is an error of kind
/// `FileTooLarge`.
///
/// The length the file claims sizes nothing: a user who can write to their
/// own Maildir can make a sparse file that claims a tebibyte (`truncate -s
/// 1T`), and an allocation of that size aborts the process that serves
/// every user. No more than the limit is read, however the file grows
/// meanwhile.
pub(crate) fn read_from(file: &mut File, from: u64, limit: u64) -> io::Result<Vec<u8>> {
    use std::io::{Read, Seek, SeekFrom};
    let claimed = file.metadata()?.len();
    if claimed > limit {
        return Err(too_large(limit));
    }
    file.seek(SeekFrom::Start(from))?;
    let room = limit.saturating_sub(from);
    let mut bytes = Vec::with_capacity(usize::try_from(claimed.saturating_sub(from)).unwrap_or(0));
    file.take(room.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > room {
        return Err(too_large(limit));
    }
    Ok(bytes)
}

/// The error of a folder whose state files (uidlist, journal) would take
/// more memory than its account's allowance.
pub(crate) const OVER_BUDGET: StoreError = StoreError::Limit(
    "the folder's state files need more memory than this account may hold (MaildirOptions::state_memory)",
);

/// Reads a state file from octet `from` to its end, as [`read_from`]
/// does, where the file is at most `max_file` octets long and what is
/// read at most `allowance` octets (the memory the account may still
/// hold: a file of more parses to more); [`OVER_BUDGET`] past the
/// allowance.
pub(crate) fn read_state(
    file: &mut File,
    path: &Path,
    from: u64,
    max_file: u64,
    allowance: u64,
) -> Result<Vec<u8>, StoreError> {
    let budgeted = from.saturating_add(allowance);
    match read_from(file, from, max_file.min(budgeted)) {
        Err(e) if e.kind() == io::ErrorKind::FileTooLarge && budgeted < max_file => Err(OVER_BUDGET),
        other => other.map_err(|e| io_err("read", path, &e)),
    }
}

/// The error of a file longer than `limit` octets.
pub(crate) fn too_large(limit: u64) -> io::Error {
    io::Error::new(io::ErrorKind::FileTooLarge, format!("larger than {limit} octets"))
}

/// The lines of `text` as `String::from_utf8_lossy(text).lines()` gives
/// them (a line ends at LF, or CRLF), each converted on its own: a line of
/// valid UTF-8 is borrowed, and one that is not costs a copy of that line,
/// never of the whole text.
pub(crate) fn lossy_lines(text: &[u8]) -> impl Iterator<Item = Cow<'_, str>> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let line = match memchr::memchr(b'\n', rest) {
            Some(end) => {
                let line = &rest[..end];
                rest = &rest[end + 1..];
                line.strip_suffix(b"\r").unwrap_or(line)
            }
            None => std::mem::take(&mut rest),
        };
        Some(String::from_utf8_lossy(line))
    })
}

/// The device, inode and length of a regular file, from `lstat` (a link
/// is not followed and gives `None`): enough to tell, without opening
/// it, that an append-only file replaced only by renames is as last read.
pub(crate) fn file_stamp(path: &Path) -> Option<(u64, u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let m = fs::symlink_metadata(path).ok()?;
    m.file_type().is_file().then(|| (m.dev(), m.ino(), m.len()))
}

/// Whether `path` is a directory and not a symbolic link to one.
pub(crate) fn real_dir(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.is_dir())
}

/// A directory opened without following a symbolic link at its own name,
/// whose entries are listed, looked at and removed relative to it: a link
/// swapped in for the directory (or for one of its entries) after it was
/// opened leads nowhere else. A user who can write to their own Maildir
/// could otherwise swap `tmp/` for a link to another user's `cur/` between
/// the check of `tmp/` and the removal of its old files.
pub(crate) struct OpenDir(rustix::fd::OwnedFd);

/// How deep [`OpenDir::remove_tree`] goes: the trees it removes (the
/// backend's own staging and kept content) are one or two levels deep.
const MAX_TREE_DEPTH: usize = 8;

impl OpenDir {
    /// Opens the directory at `path`, refusing a link at `path` itself.
    pub(crate) fn open(path: &Path) -> io::Result<OpenDir> {
        use rustix::fs::{Mode, OFlags};
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        Ok(OpenDir(rustix::fs::open(path, flags, Mode::empty())?))
    }

    /// Opens the directory `name` inside this one, refusing a link.
    fn open_child(&self, name: &std::ffi::OsStr) -> io::Result<OpenDir> {
        use rustix::fs::{Mode, OFlags};
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        Ok(OpenDir(rustix::fs::openat(&self.0, name, flags, Mode::empty())?))
    }

    /// The names of its entries (without `.` and `..`), each with whether
    /// it is a directory (a link is not).
    pub(crate) fn entries(&self) -> io::Result<Vec<(std::ffi::OsString, bool)>> {
        use std::os::unix::ffi::OsStrExt;
        let mut out = Vec::new();
        for entry in rustix::fs::Dir::read_from(&self.0)? {
            let entry = entry?;
            let name = entry.file_name().to_bytes();
            if name == b"." || name == b".." {
                continue;
            }
            let is_dir = match entry.file_type() {
                rustix::fs::FileType::Directory => true,
                rustix::fs::FileType::Unknown => {
                    self.stat(std::ffi::OsStr::from_bytes(name)).is_ok_and(|s| {
                        rustix::fs::FileType::from_raw_mode(s.st_mode) == rustix::fs::FileType::Directory
                    })
                }
                _ => false,
            };
            out.push((std::ffi::OsStr::from_bytes(name).to_owned(), is_dir));
        }
        Ok(out)
    }

    /// The status of the entry `name` (of a link, not of what it names).
    pub(crate) fn stat(&self, name: &std::ffi::OsStr) -> io::Result<rustix::fs::Stat> {
        Ok(rustix::fs::statat(
            &self.0,
            name,
            rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
        )?)
    }

    /// Removes the entry `name`, not a directory (a link is removed, not
    /// followed).
    pub(crate) fn remove_file(&self, name: &std::ffi::OsStr) -> io::Result<()> {
        Ok(rustix::fs::unlinkat(&self.0, name, rustix::fs::AtFlags::empty())?)
    }

    /// Removes the entry `name` and, if it is a directory, everything in
    /// it, never following a link; a tree deeper than a few levels is
    /// left (what is removed here is never that deep).
    pub(crate) fn remove_tree(&self, name: &std::ffi::OsStr) -> io::Result<()> {
        self.remove_tree_at(name, 0)
    }

    fn remove_tree_at(&self, name: &std::ffi::OsStr, depth: usize) -> io::Result<()> {
        let child = match self.open_child(name) {
            Ok(child) => child,
            // Not a directory (or a link): an entry to unlink.
            Err(e)
                if e.raw_os_error() == Some(rustix::io::Errno::NOTDIR.raw_os_error())
                    || e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) =>
            {
                return self.remove_file(name);
            }
            Err(e) => return Err(e),
        };
        if depth >= MAX_TREE_DEPTH {
            return Err(io::Error::other("a directory tree too deep to remove"));
        }
        for (entry, is_dir) in child.entries()? {
            if is_dir {
                child.remove_tree_at(&entry, depth + 1)?;
            } else {
                child.remove_file(&entry)?;
            }
        }
        Ok(rustix::fs::unlinkat(
            &self.0,
            name,
            rustix::fs::AtFlags::REMOVEDIR,
        )?)
    }
}

/// Whether an error says that the file does not exist.
pub(crate) fn not_found(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound
}

/// Flushes a directory's entries to disk (after a create, rename or
/// unlink in it), if `enabled`.
pub(crate) fn sync_dir(dir: &Path, enabled: bool) -> Result<(), StoreError> {
    if !enabled {
        return Ok(());
    }
    let f = File::open(dir).map_err(|e| io_err("open directory", dir, &e))?;
    f.sync_all().map_err(|e| io_err("fsync directory", dir, &e))
}

/// Flushes a file's data, if `enabled`.
pub(crate) fn sync_file(f: &File, path: &Path, enabled: bool) -> Result<(), StoreError> {
    if !enabled {
        return Ok(());
    }
    f.sync_data().map_err(|e| io_err("fsync", path, &e))
}

/// Writes `content` to `tmp` (created or truncated), flushes it and renames
/// it over `dest`, then flushes the directory: readers see the old or the
/// new file, never a part of either. A failure before the rename removes
/// `tmp` (a full disk fails the write: the part written must not stay).
pub(crate) fn replace_file(tmp: &Path, dest: &Path, content: &[u8], fsync: bool) -> Result<(), StoreError> {
    let mut f = no_follow(OpenOptions::new().write(true).create(true).truncate(true))
        .open(tmp)
        .map_err(|e| io_err("create", tmp, &e))?;
    let placed = (|| {
        f.write_all(content).map_err(|e| io_err("write", tmp, &e))?;
        sync_file(&f, tmp, fsync)?;
        drop(f);
        fs::rename(tmp, dest).map_err(|e| io_err("rename", tmp, &e))
    })();
    if let Err(e) = placed {
        let _ = fs::remove_file(tmp);
        return Err(e);
    }
    if let Some(dir) = dest.parent() {
        sync_dir(dir, fsync)?;
    }
    Ok(())
}

/// Creates a directory; an existing one is fine.
pub(crate) fn ensure_dir(path: &Path) -> Result<(), StoreError> {
    match fs::create_dir(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && real_dir(path) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(StoreError::Permanent(format!(
            "{} is not a directory (a symbolic link is not followed)",
            path.display()
        ))),
        Err(e) => Err(io_err("create directory", path, &e)),
    }
}

/// This machine's name as `gethostname` gives it (Dovecot writes the same
/// value into its dotlocks), or `localhost`.
pub(crate) fn hostname() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        let from_proc = fs::read_to_string("/proc/sys/kernel/hostname").ok();
        let from_etc = || fs::read_to_string("/etc/hostname").ok();
        let name = from_proc.or_else(from_etc).unwrap_or_default();
        let name = name.trim();
        if name.is_empty() || name.len() > 255 {
            "localhost".to_owned()
        } else {
            name.to_owned()
        }
    })
}

/// The host name as it may appear in a Maildir file name: `/`, `:` and
/// `,` are written as `\057`, `\072` and `\054` (the Maildir convention).
pub(crate) fn filename_host() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        let mut out = String::new();
        for c in hostname().chars() {
            match c {
                '/' => out.push_str("\\057"),
                ':' => out.push_str("\\072"),
                ',' => out.push_str("\\054"),
                c if c.is_control() || c == ' ' => out.push('_'),
                c => out.push(c),
            }
        }
        out
    })
}

/// Whether a process with this id exists (in this PID namespace), as
/// `kill(pid, 0)` tells: a process of another user counts.
pub(crate) fn process_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    let Some(pid) = i32::try_from(pid).ok().and_then(rustix::process::Pid::from_raw) else {
        return false;
    };
    // kill(pid, 0): EPERM is a process of another user, alive (looking in
    // /proc would miss it where /proc is mounted with hidepid).
    match rustix::process::test_kill_process(pid) {
        Ok(()) => true,
        Err(e) => e != rustix::io::Errno::SRCH,
    }
}

/// `/proc/self/ns/pid` in the initial PID namespace (the kernel's fixed
/// `PROC_PID_INIT_INO`).
const INITIAL_PID_NAMESPACE: &str = "pid:[4026531836]";

/// Whether `pid`, written by a process of this host name, may be a pid of
/// another PID namespace: a pid names a process only within one namespace,
/// and processes of other namespaces can share the host name (containers
/// sharing the UTS namespace but not the PID one, as the containers of a
/// Kubernetes pod do, or a pod with `hostNetwork`; systemd's
/// `PrivatePIDs=`). Outside the initial PID namespace, processes of other
/// namespaces (the host's, a sibling container's) are invisible, so any
/// pid may be theirs. In the initial namespace every process is visible
/// with its pids in all its namespaces (`NSpid:` in its status), so the
/// pid is another namespace's only if some process has it there.
pub(crate) fn pid_of_another_namespace(pid: u32) -> bool {
    match fs::read_link("/proc/self/ns/pid") {
        Ok(ns) if ns.as_os_str() == INITIAL_PID_NAMESPACE => {}
        _ => return true,
    }
    let Ok(dir) = fs::read_dir("/proc") else {
        return true;
    };
    dir.flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        })
        .any(|e| {
            fs::read_to_string(e.path().join("status"))
                .is_ok_and(|status| inner_pids(&status).any(|p| p == pid))
        })
}

/// The pids a process has in the PID namespaces below ours: the `NSpid:`
/// line of its `/proc/<pid>/status` without its first field (its pid in
/// ours).
pub(crate) fn inner_pids(status: &str) -> impl Iterator<Item = u32> + '_ {
    status
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))
        .into_iter()
        .flat_map(|rest| rest.split_whitespace().skip(1))
        .filter_map(|p| p.parse().ok())
}

/// Seconds and microseconds since the Unix epoch.
pub(crate) fn now_parts() -> (u64, u32) {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => (d.as_secs(), d.subsec_micros()),
        Err(_) => (0, 0),
    }
}

/// Seconds since the Unix epoch.
pub(crate) fn now_secs() -> u64 {
    now_parts().0
}

/// A name unique among every process and thread of this machine:
/// `<secs>.M<usecs>P<pid>Q<counter>` (the counter is per process).
pub(crate) fn unique_base() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
    let (secs, usecs) = now_parts();
    format!("{secs}.M{usecs}P{}Q{n}", std::process::id())
}

/// A random-looking 64-bit value (for GUIDs and instance names), mixed
/// from the clock, the process id, a counter and the standard library's
/// random hash keys.
pub(crate) fn random_u64() -> u64 {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = RandomState::new().build_hasher();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    h.write_u128(nanos);
    h.write_u32(std::process::id());
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.finish()
}

/// The modification time of `meta` in whole seconds since the epoch
/// (negative before 1970).
pub(crate) fn mtime_secs(meta: &fs::Metadata) -> i64 {
    match meta.modified() {
        Ok(t) => match t.duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            Err(e) => {
                let d = e.duration();
                let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
                // -0.5 s is second -1, as a Unix time_t would say.
                if d.subsec_nanos() > 0 { -secs - 1 } else { -secs }
            }
        },
        Err(_) => 0,
    }
}

/// The time `unix_seconds` as a `SystemTime`.
pub(crate) fn system_time(unix_seconds: i64) -> SystemTime {
    if unix_seconds >= 0 {
        UNIX_EPOCH + Duration::from_secs(unix_seconds.unsigned_abs())
    } else {
        UNIX_EPOCH
            .checked_sub(Duration::from_secs(unix_seconds.unsigned_abs()))
            .unwrap_or(UNIX_EPOCH)
    }
}

/// The 64-bit FNV-1a hash of `data` (a checksum for small state records).
pub(crate) fn fnv1a(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The tmpfs of the full-disk tests, shared with the integration tests.
#[cfg(test)]
#[path = "../../tests/support/tmpfs.rs"]
mod tmpfs;

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) use super::tmpfs::Tmpfs;
    use super::tmpfs::is_root;

    /// A `sleep` in a new PID namespace, with a pid there that no process
    /// of ours has, and that pid; `None` (with a note) when not root, as
    /// `unshare --pid` needs, except under `CI`, where that fails the
    /// test. Kill the child to end the namespace.
    pub(crate) fn process_in_child_pid_namespace() -> Option<(std::process::Child, u32)> {
        use std::io::BufRead;
        use std::process::{Command, Stdio};
        if !is_root() {
            let message = "not root: unshare --pid is not permitted, test not run";
            assert!(std::env::var_os("CI").is_none(), "{message}");
            eprintln!("{message}");
            return None;
        }
        let pid = (1000..32000u32)
            .rev()
            .find(|p| !Path::new(&format!("/proc/{p}")).exists() && !pid_of_another_namespace(*p))
            .unwrap();
        let script = format!(
            "echo {} > /proc/sys/kernel/ns_last_pid; sleep 60 & echo $!; wait",
            pid - 1
        );
        let mut child = Command::new("unshare")
            .args([
                "--pid",
                "--fork",
                "--mount-proc",
                "--kill-child",
                "sh",
                "-c",
                &script,
            ])
            .stdout(Stdio::piped())
            .spawn()
            .expect("unshare");
        let mut line = String::new();
        io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(
            line.trim(),
            pid.to_string(),
            "the child namespace gave another pid"
        );
        assert!(!Path::new(&format!("/proc/{pid}")).exists());
        assert!(pid_of_another_namespace(pid));
        Some((child, pid))
    }

    #[test]
    fn unique_bases_differ() {
        let a = unique_base();
        let b = unique_base();
        assert_ne!(a, b);
        assert!(a.contains(&format!("P{}Q", std::process::id())));
    }

    #[test]
    fn replace_file_writes_whole_content() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("f");
        replace_file(&dir.path().join("f.tmp"), &dest, b"one", true).unwrap();
        replace_file(&dir.path().join("f.tmp"), &dest, b"two!", false).unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"two!");
        assert!(!dir.path().join("f.tmp").exists());
    }

    /// A write that fails for lack of space leaves no temporary file
    /// behind, and the file it was to replace as it was.
    #[test]
    fn replace_file_on_a_full_disk_leaves_nothing_behind() {
        let Some(disk) = Tmpfs::new("64k") else {
            return;
        };
        let (tmp, dest) = (disk.path().join("f.tmp"), disk.path().join("f"));
        replace_file(&tmp, &dest, b"old", false).unwrap();
        disk.fill("filler");
        let failed = replace_file(&tmp, &dest, &[b'n'; 16 * 1024], true);
        assert!(matches!(failed, Err(StoreError::Temporary(_))), "{failed:?}");
        assert!(!tmp.exists(), "the temporary file was left behind");
        assert_eq!(fs::read(&dest).unwrap(), b"old");
    }

    #[test]
    fn read_file_takes_the_limit_and_not_one_octet_more() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        fs::write(&p, b"0123456789").unwrap();
        assert_eq!(read_file(&p, 10).unwrap(), b"0123456789");
        let e = read_file(&p, 9).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::FileTooLarge);
        assert_eq!(
            io_err("read", &p, &e),
            StoreError::Permanent(format!("read {}: larger than 9 octets", p.display()))
        );
        // A sparse file claiming a tebibyte: an allocation of its size
        // would abort the test.
        File::options()
            .write(true)
            .open(&p)
            .unwrap()
            .set_len(1 << 40)
            .unwrap();
        assert_eq!(
            read_file(&p, 1 << 20).unwrap_err().kind(),
            io::ErrorKind::FileTooLarge
        );
        assert!(not_found(&read_file(&dir.path().join("none"), 10).unwrap_err()));
    }

    /// The tail of a file read from an offset (what a uidlist or journal
    /// appended since the last read) is bounded by the same limit, counted
    /// from the start of the file.
    #[test]
    fn read_from_reads_the_tail_within_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        fs::write(&p, b"0123456789").unwrap();
        let mut f = open_read(&p).unwrap();
        assert_eq!(read_from(&mut f, 4, 10).unwrap(), b"456789");
        assert_eq!(read_from(&mut f, 10, 10).unwrap(), b"");
        assert_eq!(read_from(&mut f, 0, 10).unwrap(), b"0123456789");
        let e = read_from(&mut f, 4, 9).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::FileTooLarge);
        assert_eq!(e.to_string(), "larger than 9 octets");
    }

    proptest::proptest! {
        #[test]
        fn lossy_lines_are_the_lines_of_the_lossy_text(
            text in proptest::collection::vec(proptest::sample::select(b"ab\r\n\xe9\xc3\xa9".to_vec()), 0..24)
        ) {
            let whole = String::from_utf8_lossy(&text);
            let expected: Vec<&str> = whole.lines().collect();
            let got: Vec<Cow<'_, str>> = lossy_lines(&text).collect();
            proptest::prop_assert_eq!(got, expected);
        }
    }

    #[test]
    fn lossy_lines_borrow_valid_lines() {
        let lines: Vec<Cow<'_, str>> = lossy_lines(b"ok\r\ncaf\xe9\n\nlast\r").collect();
        assert_eq!(lines, ["ok", "caf\u{fffd}", "", "last\r"]);
        assert!(matches!(lines[0], Cow::Borrowed(_)));
        assert!(matches!(lines[1], Cow::Owned(_)));
    }

    #[test]
    fn times_round_trip_before_and_after_1970() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t");
        let f = File::create(&p).unwrap();
        for secs in [0i64, 1_700_000_000, -86_400] {
            f.set_modified(system_time(secs)).unwrap();
            assert_eq!(mtime_secs(&fs::metadata(&p).unwrap()), secs);
        }
    }

    /// A tree removed through [`OpenDir`]: its files, subdirectories and
    /// links go; what a link names stays; a link at the tree's own name or
    /// at the directory opened is not followed.
    #[test]
    fn open_dirs_remove_trees_without_following_links() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::create_dir(&victim).unwrap();
        fs::write(victim.join("mail"), "precious").unwrap();
        let top = dir.path().join("top");
        fs::create_dir_all(top.join("tree/sub")).unwrap();
        fs::write(top.join("tree/a"), "a").unwrap();
        fs::write(top.join("tree/sub/b"), "b").unwrap();
        symlink(&victim, top.join("tree/link")).unwrap();
        symlink(&victim, top.join("tree/sub/link")).unwrap();
        symlink(&victim, top.join("linked")).unwrap();
        let open = OpenDir::open(&top).unwrap();
        let mut names = open.entries().unwrap();
        names.sort();
        assert_eq!(names, [("linked".into(), false), ("tree".into(), true)]);
        open.remove_tree("tree".as_ref()).unwrap();
        open.remove_tree("linked".as_ref()).unwrap();
        assert_eq!(fs::read_dir(&top).unwrap().count(), 0);
        assert_eq!(fs::read(victim.join("mail")).unwrap(), b"precious");
        symlink(&victim, dir.path().join("link")).unwrap();
        assert!(OpenDir::open(&dir.path().join("link")).is_err());
    }

    #[test]
    fn own_process_is_alive() {
        assert!(process_alive(std::process::id()));
        // Not a pid at all (above i32::MAX), then one that was: a child
        // that ended and was reaped (kill answers ESRCH), and pid 1,
        // alive in every namespace (kill may answer EPERM: still alive).
        assert!(!process_alive(u32::MAX - 7));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(!process_alive(pid));
        assert!(process_alive(1));
        assert_ne!(fnv1a(b"a"), fnv1a(b"b"));
    }
}

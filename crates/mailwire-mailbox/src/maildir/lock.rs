//! Dotlocks as Dovecot takes them, so that Dovecot and mailwire processes
//! exclude each other.
//!
//! Protocol (Dovecot's `file_dotlock_create`): the lock of `F` is the file
//! `F.lock` holding `<pid>:<hostname>`, created exclusively (a temporary
//! file `.temp.<host>.<pid>.<n>` with the owner, hard-linked to the lock
//! name; `O_EXCL` where links fail). Whoever finds it taken waits. A lock
//! older than 2 seconds that names a process of this host is judged by
//! that process alone: it is stale, and removed, when the process no
//! longer exists, and never while it does, however long the lock goes
//! untouched (Dovecot's `check_lock`). A pid that may be one of another
//! PID namespace sharing the host name proves nothing (see
//! [`owner_gone`]); such a lock, one of another host, and one without an
//! owner are stale when neither the lock nor `F` has changed for the stale
//! timeout (120 s for `dovecot-uidlist`, 30 s for `subscriptions`, the
//! values Dovecot uses). A lock is removed only if it is still the same
//! file (inode, size, mtime) that was judged stale. A held lock is touched
//! every 10 seconds by a thread, and before each write under it, so that
//! it never looks stale while in use.
//! Releasing unlinks the lock only if it is still ours; "replacing"
//! writes the new content of `F` into the lock file and renames it over
//! `F`, which releases the lock and updates `F` in one step (Dovecot's
//! `file_dotlock_replace`).
//!
//! Threads of one process cannot tell each other apart by pid, so a
//! process-wide registry of held locks comes first: a thread waits there
//! until no other thread (of any backend instance) holds the lock, however
//! its path is spelled.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use super::fsutil::{self, io_err};
use crate::types::StoreError;

/// The stale timeout of `dovecot-uidlist.lock` (Dovecot's
/// `MAILDIR_UIDLIST_LOCK_STALE_TIMEOUT`).
pub(crate) const UIDLIST_STALE: Duration = Duration::from_secs(120);
/// The stale timeout of `subscriptions.lock` and of mailwire's own locks.
pub(crate) const SHORT_STALE: Duration = Duration::from_secs(30);
/// A lock younger than this is not checked for a dead owner (Dovecot's
/// `STALE_PID_CHECK_SECS`).
const PID_CHECK_AGE: Duration = Duration::from_secs(2);
/// A held lock is touched (its mtime set to now) at most this often, when
/// its holder confirms it before a write: far below the stale timeouts, so
/// a lock in use never looks abandoned.
const TOUCH_EVERY: Duration = Duration::from_secs(1);
/// And at least this often while it is held, by a thread of its own, so
/// that a long operation that writes nothing (a reconciliation reading a
/// large Maildir) keeps it too (Dovecot's holders touch from a timer).
#[cfg(not(test))]
const TOUCH_TIMER: Duration = Duration::from_secs(10);
#[cfg(test)]
const TOUCH_TIMER: Duration = Duration::from_millis(50);
/// A waiter judges the owner of the same lock file at most this often.
const OWNER_CHECK_EVERY: Duration = Duration::from_secs(1);

#[cfg(test)]
thread_local! {
    /// Makes [`DotLock::replace`] on this thread wait a few touches of the
    /// touch thread before its rename.
    pub(crate) static PAUSE_BEFORE_RENAME: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

struct Registry {
    held: Mutex<HashSet<LockKey>>,
    freed: Condvar,
}

/// What the registry knows a lock by: its directory's identity and its
/// name, so that two spellings of one lock (through a symbolic link, or
/// `a/../a`) are one lock. Keyed by the path as spelled, a second backend
/// instance reaching the Maildir another way took the first one's live
/// lock: a lock of our own pid counts as left from an earlier process.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct LockKey {
    dir: (u64, u64),
    name: std::ffi::OsString,
}

impl LockKey {
    fn of(lock_path: &Path) -> Result<LockKey, StoreError> {
        let dir = match lock_path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let meta = fs::metadata(dir).map_err(|e| io_err("stat", dir, &e))?;
        Ok(LockKey {
            dir: (meta.dev(), meta.ino()),
            name: lock_path.file_name().unwrap_or_default().to_owned(),
        })
    }
}

fn registry() -> &'static Registry {
    static R: OnceLock<Registry> = OnceLock::new();
    R.get_or_init(|| Registry {
        held: Mutex::new(HashSet::new()),
        freed: Condvar::new(),
    })
}

/// Waits until no thread of this process holds the lock at `path`, then
/// holds it; what it is held by.
fn registry_take(path: &Path, deadline: Instant) -> Result<LockKey, StoreError> {
    let key = LockKey::of(path)?;
    let r = registry();
    let mut held = r.held.lock().unwrap_or_else(|e| e.into_inner());
    while held.contains(&key) {
        let now = Instant::now();
        if now >= deadline {
            return Err(StoreError::Temporary(format!(
                "timed out waiting for {}",
                path.display()
            )));
        }
        held = r
            .freed
            .wait_timeout(held, deadline - now)
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
    held.insert(key.clone());
    Ok(key)
}

/// The files of the locks this process holds, touched every
/// [`TOUCH_TIMER`] by one thread. Touching goes through a descriptor, so a
/// lock taken over meanwhile (its path now another's file) is not touched.
fn touching() -> &'static Mutex<HashMap<PathBuf, File>> {
    static HELD: OnceLock<Mutex<HashMap<PathBuf, File>>> = OnceLock::new();
    HELD.get_or_init(|| {
        // Without the thread, locks are still touched when confirmed.
        let _ = std::thread::Builder::new()
            .name("mailwire-lock-touch".into())
            .spawn(|| {
                loop {
                    std::thread::sleep(TOUCH_TIMER);
                    let held = touching().lock().unwrap_or_else(|e| e.into_inner());
                    for file in held.values() {
                        let _ = file.set_modified(SystemTime::now());
                    }
                }
            });
        Mutex::new(HashMap::new())
    })
}

fn start_touching(lock_path: &Path, file: &File) {
    if let Ok(copy) = file.try_clone() {
        let mut held = touching().lock().unwrap_or_else(|e| e.into_inner());
        held.insert(lock_path.to_path_buf(), copy);
    }
}

/// Stops touching a lock (before it is renamed over its file, whose mtime
/// must not change, or removed).
fn stop_touching(lock_path: &Path) {
    touching()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(lock_path);
}

fn registry_release(key: &LockKey) {
    let r = registry();
    let mut held = r.held.lock().unwrap_or_else(|e| e.into_inner());
    held.remove(key);
    drop(held);
    r.freed.notify_all();
}

/// A held dotlock; released on drop.
#[derive(Debug)]
pub(crate) struct DotLock {
    /// The lock file (`F.lock`).
    lock_path: PathBuf,
    /// Its entry in this process's registry.
    key: LockKey,
    /// The protected file `F`.
    target: PathBuf,
    /// The lock file's identity, to recognise it as ours.
    id: (u64, u64),
    file: Option<File>,
    released: bool,
    /// When the lock file's mtime was last set.
    touched: std::cell::Cell<Instant>,
}

/// How long to wait for a lock before giving up with a temporary error.
pub(crate) fn default_timeout(stale: Duration) -> Duration {
    stale + Duration::from_secs(2)
}

impl DotLock {
    /// Takes the lock of `target` (the lock file is `target` + `.lock`).
    pub(crate) fn acquire(target: &Path, stale: Duration, timeout: Duration) -> Result<DotLock, StoreError> {
        let mut lock_name = target.as_os_str().to_owned();
        lock_name.push(".lock");
        let lock_path = PathBuf::from(lock_name);
        let deadline = Instant::now() + timeout;
        let key = registry_take(&lock_path, deadline)?;
        match Self::acquire_file(target, &lock_path, stale, deadline) {
            Ok((file, id)) => {
                start_touching(&lock_path, &file);
                Ok(DotLock {
                    lock_path,
                    key,
                    target: target.to_path_buf(),
                    id,
                    file: Some(file),
                    released: false,
                    touched: std::cell::Cell::new(Instant::now()),
                })
            }
            Err(e) => {
                registry_release(&key);
                Err(e)
            }
        }
    }

    fn acquire_file(
        target: &Path,
        lock_path: &Path,
        stale: Duration,
        deadline: Instant,
    ) -> Result<Created, StoreError> {
        let mut wait = Duration::from_micros(500);
        // The lock as last seen, and when it or the protected file last
        // changed.
        let mut watch: Option<(LockSeen, SystemTime)> = None;
        // The lock file whose owner was last judged, when, and whether it
        // is a live process of this host.
        let mut alive_at: Option<((u64, u64), Instant, bool)> = None;
        loop {
            if let Some(done) = create_with_owner(lock_path)? {
                return Ok(done);
            }
            let Some(seen) = LockSeen::look(lock_path, target) else {
                continue; // released meanwhile
            };
            // Judging the owner may read every process's status (see
            // owner_gone): once a second per lock file is enough.
            let recheck =
                alive_at.is_none_or(|(id, at, _)| id != seen.id || at.elapsed() >= OWNER_CHECK_EVERY);
            if recheck {
                match seen.owner() {
                    Owner::Gone => {
                        remove_if_same(lock_path, &seen);
                        watch = None;
                        alive_at = None;
                        continue;
                    }
                    owner => alive_at = Some((seen.id, Instant::now(), owner == Owner::Alive)),
                }
            }
            let owner_alive = alive_at.is_some_and(|(_, _, alive)| alive);
            let now = SystemTime::now();
            let changed_at = match &watch {
                Some((old, at)) if old.same(&seen) => *at,
                Some(_) => now,
                None => seen.last_change(now),
            };
            if !owner_alive && now.duration_since(changed_at).unwrap_or_default() > stale {
                remove_if_same(lock_path, &seen);
                watch = None;
                continue;
            }
            watch = Some((seen, changed_at));
            if Instant::now() >= deadline {
                return Err(StoreError::Temporary(format!(
                    "timed out waiting for lock {}",
                    lock_path.display()
                )));
            }
            std::thread::sleep(wait);
            wait = (wait * 2).min(Duration::from_millis(50));
        }
    }

    /// Writes `content` as the new content of the protected file and
    /// renames the lock over it, releasing the lock.
    pub(crate) fn replace(self, content: &[u8], fsync: bool) -> Result<(), StoreError> {
        self.replace_newer(content, fsync, None)
    }

    /// [`DotLock::replace`], giving the new file a modification time a
    /// whole second later than `than` (the replaced file's) where the
    /// clock has not passed it yet: a reader that rereads the file only
    /// when its mtime in seconds changed, as Dovecot does with
    /// `dovecot-keywords`, then sees a change made within the same second.
    pub(crate) fn replace_newer(
        mut self,
        content: &[u8],
        fsync: bool,
        than: Option<SystemTime>,
    ) -> Result<(), StoreError> {
        // On failure the drop releases the lock.
        self.replace_inner(content, fsync, than)?;
        self.released = true;
        registry_release(&self.key);
        Ok(())
    }

    fn replace_inner(
        &mut self,
        content: &[u8],
        fsync: bool,
        than: Option<SystemTime>,
    ) -> Result<(), StoreError> {
        let Some(f) = self.file.as_mut() else {
            return Err(StoreError::Permanent("lock file already closed".into()));
        };
        f.set_len(0)
            .map_err(|e| io_err("truncate", &self.lock_path, &e))?;
        let mut w: &File = f;
        io::Seek::seek(&mut w, io::SeekFrom::Start(0)).map_err(|e| io_err("seek", &self.lock_path, &e))?;
        w.write_all(content)
            .map_err(|e| io_err("write", &self.lock_path, &e))?;
        // The file's mtime is its own from now on: the touch thread must
        // not set it to now (undoing the one set below).
        stop_touching(&self.lock_path);
        if let Some(than) = than {
            let secs = |t: SystemTime| {
                t.duration_since(SystemTime::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs())
            };
            let written = f
                .metadata()
                .and_then(|m| m.modified())
                .map_err(|e| io_err("stat", &self.lock_path, &e))?;
            if secs(written) <= secs(than) {
                let later = SystemTime::UNIX_EPOCH + Duration::from_secs(secs(than) + 1);
                f.set_modified(later)
                    .map_err(|e| io_err("set the time of", &self.lock_path, &e))?;
            }
        }
        fsutil::sync_file(f, &self.lock_path, fsync)?;
        if !self.still_ours() {
            return Err(StoreError::Temporary(format!(
                "lock {} was taken over",
                self.lock_path.display()
            )));
        }
        #[cfg(test)]
        if PAUSE_BEFORE_RENAME.with(std::cell::Cell::get) {
            std::thread::sleep(TOUCH_TIMER * 4);
        }
        fs::rename(&self.lock_path, &self.target).map_err(|e| io_err("rename", &self.lock_path, &e))?;
        if let Some(dir) = self.target.parent() {
            fsutil::sync_dir(dir, fsync)?;
        }
        Ok(())
    }

    /// Confirms the lock before a write under it: fails with a temporary
    /// error if the lock file is no longer the one this lock created
    /// (another process judged it stale and took it over, so writing now
    /// could interleave with its writes), and refreshes its mtime when the
    /// last refresh is [`TOUCH_EVERY`] old, as Dovecot's
    /// `file_dotlock_touch` does, so that waiters do not judge it stale.
    pub(crate) fn confirm(&self) -> Result<(), StoreError> {
        if !self.still_ours() {
            return Err(StoreError::Temporary(format!(
                "lock {} was taken over",
                self.lock_path.display()
            )));
        }
        if self.touched.get().elapsed() >= TOUCH_EVERY {
            if let Some(f) = &self.file {
                f.set_modified(SystemTime::now())
                    .map_err(|e| io_err("touch", &self.lock_path, &e))?;
            }
            self.touched.set(Instant::now());
        }
        Ok(())
    }

    /// Whether the lock file is still the one this lock created.
    pub(crate) fn still_ours(&self) -> bool {
        fs::symlink_metadata(&self.lock_path).is_ok_and(|m| (m.dev(), m.ino()) == self.id)
    }
}

impl Drop for DotLock {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        stop_touching(&self.lock_path);
        // Checked while our descriptor still holds the inode, so that its
        // number cannot have been given to another process's new lock.
        if self.still_ours() {
            let _ = fs::remove_file(&self.lock_path);
        }
        self.file = None;
        registry_release(&self.key);
    }
}

/// A created lock file and its (device, inode).
type Created = (File, (u64, u64));

/// Creates the lock file already holding `<pid>:<host>`: the owner is
/// written to a temporary file that is then hard-linked to the lock name
/// (Dovecot's method when `dotlock_use_excl` is off; as exclusive as
/// `O_EXCL`, and a crash can never leave an empty lock whose owner is
/// unknown). Falls back to `O_EXCL` where links are not supported.
/// `Ok(None)` if the lock is taken.
fn create_with_owner(lock_path: &Path) -> Result<Option<Created>, StoreError> {
    let owner = format!("{}:{}", std::process::id(), fsutil::hostname());
    let dir = lock_path.parent().unwrap_or(Path::new("."));
    let temp = dir.join(format!(
        ".temp.{}.{}.{:x}",
        fsutil::filename_host(),
        std::process::id(),
        fsutil::random_u64()
    ));
    let made = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&temp);
    let linked = match made {
        Ok(mut f) => {
            let written = f.write_all(owner.as_bytes());
            let linked = written.and_then(|()| fs::hard_link(&temp, lock_path));
            let _ = fs::remove_file(&temp);
            match linked {
                Ok(()) => Some(f),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(None),
                Err(_) => None,
            }
        }
        Err(_) => None,
    };
    let file = match linked {
        Some(f) => f,
        None => match OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(lock_path)
        {
            Ok(mut f) => {
                // An empty lock is legal (Dovecot leaves it empty when the
                // write fails), so a failed write is not fatal.
                let _ = f.write_all(owner.as_bytes());
                f
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(None),
            Err(e) => return Err(io_err("create lock", lock_path, &e)),
        },
    };
    let meta = file.metadata().map_err(|e| io_err("stat", lock_path, &e))?;
    Ok(Some((file, (meta.dev(), meta.ino()))))
}

/// What was seen of a taken lock.
#[derive(Debug, Clone)]
struct LockSeen {
    id: (u64, u64),
    size: u64,
    mtime: Option<SystemTime>,
    target_mtime: Option<SystemTime>,
    target_size: u64,
    owner: Option<(u32, String)>,
}

impl LockSeen {
    fn look(lock_path: &Path, target: &Path) -> Option<LockSeen> {
        let meta = fs::symlink_metadata(lock_path).ok()?;
        let mtime = meta.modified().ok();
        let young = mtime
            .and_then(|m| SystemTime::now().duration_since(m).ok())
            .is_none_or(|age| age < PID_CHECK_AGE);
        let owner = if young { None } else { read_owner(lock_path) };
        let tmeta = fs::metadata(target).ok();
        Some(LockSeen {
            id: (meta.dev(), meta.ino()),
            size: meta.len(),
            mtime,
            target_mtime: tmeta.as_ref().and_then(|m| m.modified().ok()),
            target_size: tmeta.map_or(0, |m| m.len()),
            owner,
        })
    }

    fn same(&self, other: &LockSeen) -> bool {
        self.id == other.id
            && self.size == other.size
            && self.mtime == other.mtime
            && self.target_mtime == other.target_mtime
            && self.target_size == other.target_size
    }

    /// What the lock's owner says of it.
    fn owner(&self) -> Owner {
        match &self.owner {
            Some((pid, host)) if host == fsutil::hostname() => {
                let visible = fsutil::process_alive(*pid);
                if owner_gone(*pid, visible, fsutil::pid_of_another_namespace) {
                    Owner::Gone
                } else if visible && *pid != std::process::id() {
                    Owner::Alive
                } else {
                    Owner::Unknown
                }
            }
            _ => Owner::Unknown,
        }
    }

    /// When the lock or the protected file last changed, by their
    /// modification times (never later than `now`).
    fn last_change(&self, now: SystemTime) -> SystemTime {
        let latest = match (self.mtime, self.target_mtime) {
            (Some(a), Some(b)) => a.max(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => now,
        };
        latest.min(now)
    }
}

/// A lock's owner, as far as this process can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    /// A process of this host that exists: the lock is never taken over.
    Alive,
    /// A process of this host that no longer exists: the lock is stale.
    Gone,
    /// Another host, another PID namespace, no owner written, or a lock
    /// too young to judge: the stale timeout decides.
    Unknown,
}

/// Whether the owner `pid` of a lock written under this host name is
/// gone, given whether a process with that pid is `visible` here. Our own
/// pid counts as not visible: the registry guarantees that no thread of
/// this process holds the lock, so the file is left from an earlier
/// process with the same pid, or written in another PID namespace. A pid
/// that is not visible proves nothing when it may belong to another PID
/// namespace sharing the host name ([`fsutil::pid_of_another_namespace`]):
/// such a lock is treated as alive, and only the stale timeout (nothing
/// changed for 120 s) takes it over, as for a lock of another host.
fn owner_gone(pid: u32, visible: bool, another_namespace: impl Fn(u32) -> bool) -> bool {
    let visible = visible && pid != std::process::id();
    !visible && !another_namespace(pid)
}

fn read_owner(lock_path: &Path) -> Option<(u32, String)> {
    let mut buf = Vec::with_capacity(64);
    fsutil::open_read(lock_path)
        .ok()?
        .take(512)
        .read_to_end(&mut buf)
        .ok()?;
    let text = std::str::from_utf8(&buf).ok()?.trim_end_matches('\n');
    let (pid, host) = text.split_once(':')?;
    let pid: u32 = pid.parse().ok().filter(|&p| p > 0)?;
    Some((pid, host.to_owned()))
}

/// Removes a stale lock if it is still the file that was judged stale,
/// then waits a little so that two processes overriding the same lock at
/// once do not remove each other's new lock (as Dovecot does).
fn remove_if_same(lock_path: &Path, seen: &LockSeen) {
    if let Ok(meta) = fs::symlink_metadata(lock_path) {
        if (meta.dev(), meta.ino()) == seen.id
            && meta.len() == seen.size
            && meta.modified().ok() == seen.mtime
        {
            let _ = fs::remove_file(lock_path);
            let jitter = fsutil::random_u64() % 5_000;
            std::thread::sleep(Duration::from_micros(1_000 + jitter));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn lock_excludes_threads_and_writes_owner() {
        let dir = tempfile::tempdir().unwrap();
        let target = Arc::new(dir.path().join("dovecot-uidlist"));
        let inside = Arc::new(AtomicUsize::new(0));
        let mut threads = Vec::new();
        for _ in 0..4 {
            let (target, inside) = (Arc::clone(&target), Arc::clone(&inside));
            threads.push(std::thread::spawn(move || {
                for _ in 0..20 {
                    let lock = DotLock::acquire(&target, UIDLIST_STALE, Duration::from_secs(20)).unwrap();
                    assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0);
                    let owner = fs::read_to_string(target.with_file_name("dovecot-uidlist.lock")).unwrap();
                    assert_eq!(owner, format!("{}:{}", std::process::id(), fsutil::hostname()));
                    inside.fetch_sub(1, Ordering::SeqCst);
                    drop(lock);
                }
            }));
        }
        for t in threads {
            t.join().unwrap();
        }
        assert!(!dir.path().join("dovecot-uidlist.lock").exists());
    }

    /// A lock held through a long operation is refreshed while held,
    /// writes or not (so that Dovecot and other mailwire processes do not
    /// judge it stale after 120 s), and one taken over by another process
    /// fails the write that was about to happen under it, and is neither
    /// touched nor removed by its former holder.
    #[test]
    fn a_held_lock_is_refreshed_and_a_taken_one_refuses_writes() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("dovecot-uidlist");
        let lock_path = dir.path().join("dovecot-uidlist.lock");
        let lock = DotLock::acquire(&target, UIDLIST_STALE, Duration::from_secs(5)).unwrap();
        let age = |path: &Path| {
            let mtime = fs::metadata(path).unwrap().modified().unwrap();
            SystemTime::now().duration_since(mtime).unwrap_or_default()
        };
        // As if the lock had been held, untouched, for ten minutes: the
        // thread touches it, without a write.
        set_age(&lock_path, Duration::from_secs(600));
        let deadline = Instant::now() + Duration::from_secs(10);
        while age(&lock_path) > Duration::from_secs(60) {
            assert!(Instant::now() < deadline, "not refreshed");
            std::thread::sleep(TOUCH_TIMER);
        }
        // And a confirmation touches it too.
        set_age(&lock_path, Duration::from_secs(600));
        lock.touched.set(Instant::now() - TOUCH_EVERY);
        lock.confirm().unwrap();
        assert!(age(&lock_path) < Duration::from_secs(60), "not refreshed");

        // Another process judged it stale: removed it and made its own.
        fs::remove_file(&lock_path).unwrap();
        fs::write(&lock_path, "1:elsewhere").unwrap();
        let theirs = set_age(&lock_path, Duration::from_secs(600));
        assert!(matches!(lock.confirm(), Err(StoreError::Temporary(_))));
        std::thread::sleep(TOUCH_TIMER * 4);
        assert_eq!(
            fs::metadata(&lock_path).unwrap().modified().unwrap(),
            theirs,
            "theirs touched"
        );
        drop(lock);
        assert_eq!(
            fs::read(&lock_path).unwrap(),
            b"1:elsewhere",
            "someone else's lock removed"
        );
    }

    /// A lock renamed over its file stops being touched: the file's
    /// modification time is the file's own from then on.
    #[test]
    fn a_replaced_lock_is_touched_no_more() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("subscriptions");
        let lock = DotLock::acquire(&target, SHORT_STALE, Duration::from_secs(5)).unwrap();
        lock.replace(b"INBOX\n", false).unwrap();
        let old = set_age(&target, Duration::from_secs(600));
        std::thread::sleep(TOUCH_TIMER * 4);
        assert_eq!(fs::metadata(&target).unwrap().modified().unwrap(), old);
    }

    /// Sets the mtime of `path` to `age` ago; answers it.
    fn set_age(path: &Path, age: Duration) -> SystemTime {
        let old = SystemTime::now() - age;
        File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(old)
            .unwrap();
        old
    }

    fn write_old_lock(lock_path: &Path, owner: &str) {
        fs::write(lock_path, owner).unwrap();
        set_age(lock_path, Duration::from_secs(10));
    }

    #[test]
    fn stale_lock_of_dead_process_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("f");
        let lock_path = dir.path().join("f.lock");
        let pid = u32::MAX - 9;
        write_old_lock(&lock_path, &format!("{pid}:{}", fsutil::hostname()));
        let got = DotLock::acquire(&target, UIDLIST_STALE, Duration::from_millis(300));
        if fsutil::pid_of_another_namespace(pid) {
            // Not in the initial PID namespace: the pid may be a process
            // this one cannot see, so the lock is respected.
            assert!(matches!(got, Err(StoreError::Temporary(_))), "{got:?}");
            return;
        }
        let lock = got.unwrap();
        lock.replace(b"new content", false).unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"new content");
        assert!(!lock_path.exists());
    }

    #[test]
    fn a_pid_that_may_be_another_namespaces_is_alive() {
        let me = std::process::id();
        let other = |_: u32| true;
        let ours_only = |_: u32| false;
        // Seen here: alive, whatever namespace.
        assert!(!owner_gone(1, true, ours_only));
        // Not seen, and no other namespace can have it: gone.
        assert!(owner_gone(u32::MAX - 9, false, ours_only));
        // Not seen, but perhaps another namespace's: alive.
        assert!(!owner_gone(u32::MAX - 9, false, other));
        // Our own pid: an earlier process of ours, or another namespace's.
        assert!(owner_gone(me, true, ours_only));
        assert!(!owner_gone(me, true, other));

        let status = "Name:\tsleep\nPid:\t11390\nNSpid:\t11390\t30000\nNSpgid:\t1\n";
        assert_eq!(fsutil::inner_pids(status).collect::<Vec<_>>(), [30000]);
        assert_eq!(fsutil::inner_pids("NSpid:\t5\n").count(), 0);
        assert_eq!(fsutil::inner_pids("Pid:\t5\n").count(), 0);
    }

    /// A lock written by a live process of a child PID namespace (its pid
    /// there, our host name) is respected although no process here has
    /// that pid; once that process is gone, it is taken over. Needs root
    /// for `unshare --pid`.
    #[test]
    fn a_lock_from_another_pid_namespace_is_alive() {
        let Some((mut child, pid)) = fsutil::tests::process_in_child_pid_namespace() else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("dovecot-uidlist");
        let lock_path = dir.path().join("dovecot-uidlist.lock");
        write_old_lock(&lock_path, &format!("{pid}:{}", fsutil::hostname()));
        let got = DotLock::acquire(&target, UIDLIST_STALE, Duration::from_millis(300));
        let _ = child.kill();
        let _ = child.wait();
        assert!(
            matches!(got, Err(StoreError::Temporary(_))),
            "a live owner's lock was taken: {got:?}"
        );
        assert!(lock_path.exists());

        let deadline = Instant::now() + Duration::from_secs(10);
        while fsutil::pid_of_another_namespace(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let lock = DotLock::acquire(&target, UIDLIST_STALE, Duration::from_secs(5)).unwrap();
        assert!(lock.still_ours());
    }

    /// A lock naming a live process of this host is never taken over,
    /// however long neither it nor its file has changed (Dovecot's rule):
    /// a long operation of its holder must not let a second writer in.
    /// Once the process is gone, it is.
    #[test]
    fn a_live_owners_lock_is_never_stale() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("f");
        let lock_path = dir.path().join("f.lock");
        let mut child = std::process::Command::new("sleep").arg("60").spawn().unwrap();
        fs::write(&lock_path, format!("{}:{}", child.id(), fsutil::hostname())).unwrap();
        set_age(&lock_path, Duration::from_secs(600));
        let got = DotLock::acquire(&target, Duration::from_millis(50), Duration::from_millis(400));
        assert!(matches!(got, Err(StoreError::Temporary(_))), "{got:?}");
        assert!(lock_path.exists());
        child.kill().unwrap();
        child.wait().unwrap();
        let lock = DotLock::acquire(&target, Duration::from_millis(50), Duration::from_secs(5)).unwrap();
        assert!(lock.still_ours());
    }

    /// One lock reached by two spellings of its path (a symbolic link to
    /// the Maildir, as a second backend instance may be given) is one lock:
    /// the second waits, and does not take the first's live lock, whose
    /// pid is our own and whose age (past the two seconds a pid is judged
    /// after) made it look left from an earlier process.
    #[test]
    fn one_lock_under_two_spellings_of_its_path_is_one_lock() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        fs::create_dir(&real).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let first = DotLock::acquire(&real.join("f"), UIDLIST_STALE, Duration::from_secs(5)).unwrap();
        stop_touching(&real.join("f.lock"));
        let old = SystemTime::now() - Duration::from_secs(10);
        File::options()
            .write(true)
            .open(real.join("f.lock"))
            .unwrap()
            .set_modified(old)
            .unwrap();
        let err = DotLock::acquire(&link.join("f"), UIDLIST_STALE, Duration::from_millis(300)).unwrap_err();
        assert!(matches!(err, StoreError::Temporary(_)), "{err:?}");
        assert!(first.still_ours());
        drop(first);
        let second = DotLock::acquire(&link.join("f"), UIDLIST_STALE, Duration::from_secs(5)).unwrap();
        assert!(second.still_ours());
    }

    #[test]
    fn live_foreign_lock_times_out() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("f");
        // A fresh lock of another process (pid 1, alive): it is waited
        // for, then given up with a temporary error. (Whether an old lock
        // of a live owner is ever taken is a_live_owners_lock_is_never_stale.)
        fs::write(dir.path().join("f.lock"), format!("1:{}", fsutil::hostname())).unwrap();
        let err = DotLock::acquire(&target, UIDLIST_STALE, Duration::from_millis(200)).unwrap_err();
        assert!(matches!(err, StoreError::Temporary(_)), "{err:?}");
    }

    #[test]
    fn unchanged_lock_goes_stale_after_the_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("f");
        let lock_path = dir.path().join("f.lock");
        fs::write(&lock_path, "").unwrap();
        set_age(&lock_path, Duration::from_secs(600));
        let lock = DotLock::acquire(&target, Duration::from_millis(50), Duration::from_secs(5)).unwrap();
        assert!(lock.still_ours());
    }
}

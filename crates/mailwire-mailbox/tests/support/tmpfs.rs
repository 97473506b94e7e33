//! A small tmpfs for tests of a full disk, shared through `#[path]` by
//! the test binaries that need one: `mailwire-mailbox`'s unit tests, its
//! `maildir_disk_full` test and the server's `mail_server` tests (through
//! their `support.rs`). [`is_root`] is the one check of root those and
//! the `pop3_client` tests use.
//!
//! Mounting needs root. Without it, [`Tmpfs::mount`] says so and gives
//! `None`, so that a developer's test run skips the test loudly; under
//! `CI` it fails the test instead, since a test that does not run must not
//! pass there.

#![allow(dead_code)]

use std::fs::{self, File};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A tmpfs mounted on a directory, unmounted when dropped.
pub struct Tmpfs {
    path: PathBuf,
    /// The mount point when [`Tmpfs::new`] made it, removed after the
    /// unmount.
    _dir: Option<tempfile::TempDir>,
}

/// Whether this process runs as root: its effective UID (the second
/// field of `Uid:` in /proc/self/status, after the real one) is 0, which
/// is what mounting and adding users check.
pub fn is_root() -> bool {
    fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1))
            == Some("0")
    })
}

impl Tmpfs {
    /// A tmpfs of `size` (as `mount -o size=` takes it) on `at`, made if
    /// missing; `None` (with a note) when not root, except under `CI`,
    /// where that fails the test.
    pub fn mount(at: &Path, size: &str) -> Option<Tmpfs> {
        if !is_root() {
            let message = "\n\n*** SKIPPED: mounting a tmpfs needs root ***\n";
            assert!(std::env::var_os("CI").is_none(), "{message}");
            eprintln!("{message}");
            return None;
        }
        fs::create_dir_all(at).expect("create the mount point");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "mount -t tmpfs failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(Tmpfs {
            path: at.to_path_buf(),
            _dir: None,
        })
    }

    /// [`Tmpfs::mount`] on a new temporary directory.
    pub fn new(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().expect("make a mount point");
        let mut disk = Tmpfs::mount(dir.path(), size)?;
        disk._dir = Some(dir);
        Some(disk)
    }

    /// The mount point.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Free octets.
    pub fn free(&self) -> u64 {
        let s = rustix::fs::statvfs(&self.path).expect("statvfs");
        s.f_bavail * s.f_frsize
    }

    /// Writes `name` until the file system has no octet left for it, and
    /// checks that it is full: a page more is refused. Filling goes on
    /// until a page written after it is refused (a rare run of the
    /// full-disk tests found a page free right after a fill: a probe of
    /// 4 KiB was taken).
    pub fn fill(&self, name: &str) {
        let mut f = File::create(self.path.join(name)).expect("create the filler");
        let chunk = vec![b'x'; 64 * 1024];
        for _ in 0..100 {
            let mut size = chunk.len();
            while size > 0 {
                match f.write(&chunk[..size]) {
                    Ok(0) => size /= 2,
                    Ok(_) => {}
                    Err(e) if e.kind() == ErrorKind::StorageFull => size /= 2,
                    Err(e) => panic!("filling the disk: {e}"),
                }
            }
            let probe = File::create(self.path.join("probe")).and_then(|mut p| p.write_all(&chunk[..4096]));
            let _ = fs::remove_file(self.path.join("probe"));
            match probe {
                Err(e) if e.kind() == ErrorKind::StorageFull => return,
                Err(e) => panic!("probing the full disk: {e}"),
                Ok(()) => eprintln!("a page was free after filling the disk: filling again"),
            }
        }
        panic!("the disk is not full after 100 rounds of filling");
    }
}

impl Tmpfs {
    /// Removes `name` and waits until its space is free again. (Its pages
    /// stay taken while any process holds the file open, and a child that
    /// another test thread starts holds every open file of this process
    /// until it execs: a run of the full-disk tests once found the space
    /// of a filler not yet back after its removal.)
    pub fn remove(&self, name: &str) {
        use std::os::unix::fs::MetadataExt;
        let path = self.path.join(name);
        let taken = fs::metadata(&path).expect("stat the file to remove").blocks() * 512;
        let before = self.free();
        fs::remove_file(&path).expect("remove the file");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while self.free() < before + taken {
            assert!(
                std::time::Instant::now() < deadline,
                "the space of {name} did not come back: {} octets free, {before} before",
                self.free()
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

//! Files written into a Maildir as delivery agents write them, for the
//! example clients (`pop3_client`, `imap_client`): a new file in `tmp/`
//! under a name no other writer uses, created only where nothing is, and
//! directories flushed so that what was renamed or linked into them
//! survives a crash.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Flushes a directory, so that names created or renamed in it survive a
/// crash.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        // Other systems offer no way to open a directory for flushing.
        let _ = dir;
        Ok(())
    }
}

/// Creates the file `path` for writing, readable by its owner only; fails
/// if anything is at that name already, a symbolic link (even one pointing
/// nowhere) included, so nothing is ever written through a link someone
/// planted.
pub fn create_new_file(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    // O_CREAT | O_EXCL: POSIX has it fail on any existing name, links
    // included.
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
        // Refuse links a second way, in case a file system gets O_EXCL
        // wrong (old NFS).
        options.custom_flags(nofollow());
    }
    options.open(path)
}

/// `O_NOFOLLOW`, from rustix (the workspace forbids the unsafe code a libc
/// call would need, and rustix is here already).
#[cfg(unix)]
pub fn nofollow() -> i32 {
    i32::try_from(rustix::fs::OFlags::NOFOLLOW.bits()).unwrap_or(0)
}

/// A name for a new file that no other writer uses: `prefix`, the time in
/// microseconds, the process id and a counter of this process (the
/// Maildir delivery convention), then `suffix`.
pub fn unique_name(prefix: &str, suffix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    format!(
        "{prefix}{}.M{}P{}Q{}{suffix}",
        now.as_secs(),
        now.subsec_micros(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

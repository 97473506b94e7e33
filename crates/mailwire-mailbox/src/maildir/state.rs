//! The account's counters: the last UIDVALIDITY and MODSEQ given out.
//!
//! `mailwire-state` (at the Maildir root, ignored by Dovecot) holds two
//! fixed 128-byte slots, each a line
//! `mailwire-state 1 G<generation> V<uidvalidity> M<modseq> [R<reserved> B<boot>] K<checksum>`
//! padded with spaces. A write goes to the slot that does not hold the
//! newest generation, so a crash in the middle of it leaves the other slot
//! intact; readers take the valid slot with the highest generation.
//! Writers hold an exclusive `flock` on the file itself, which is also the
//! account's lock for changes to its set of mailboxes: no lock file to
//! create and remove (a dotlock cycle cost 77 µs on ext4 here, an `flock`
//! with the counters' read and write 9.7 µs), and the kernel releases it
//! when its holder dies,
//! so it is never stale. (mailwire versions that took the dotlock
//! `mailwire-state.lock` instead must not serve the same Maildir at the
//! same time as this one. On NFS, Linux takes the lock on the server
//! through NFS's own locking; a mount without it refuses the lock, and the
//! changes that need it fail with that error rather than run unlocked.)
//!
//! MODSEQs are reserved in blocks, so that giving one out needs no flush
//! to disk: `R` is the highest value reserved, written to both slots and
//! flushed before any value up to it is given; `B` is the boot of the
//! system that wrote the slot. While the system runs, a written slot is
//! what every process reads, even unflushed, so the next MODSEQ follows
//! `M`; a slot written before the last boot may have lost writes, so the
//! next MODSEQ follows `R`, which no value given out ever passed. A crash
//! thus skips MODSEQs but never gives one twice. A UIDVALIDITY is flushed
//! when it is given.
//!
//! UIDVALIDITY values are also claimed through Dovecot's own counter at the
//! Maildir root, so that Dovecot and mailwire never hand out one value
//! twice: `dovecot-uidvalidity` holds the last value as 8 hex digits and
//! an empty file `dovecot-uidvalidity.<8 hex digits>` marks it; the next
//! value is claimed by renaming that marker to the next value's name.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::{Duration, Instant};

use super::fsutil::{self, io_err};
use super::lock;
use crate::types::{ModSeq, StoreError, UidValidity};

/// The file name.
pub(crate) const NAME: &str = "mailwire-state";
const SLOT: usize = 128;

/// MODSEQs reserved at a time.
const MODSEQ_BLOCK: u64 = 4096;

/// The counters of an account.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct State {
    pub(crate) generation: u64,
    pub(crate) uid_validity: u32,
    pub(crate) modseq: u64,
    /// The highest MODSEQ reserved, flushed to disk (0 in files written
    /// before reservations: then every MODSEQ was flushed).
    pub(crate) reserved: u64,
    /// The boot of the system that wrote it ([`boot_id`]).
    pub(crate) boot: u64,
}

/// This boot of the system: a hash of Linux's `boot_id` (0 where there is
/// none: then every MODSEQ is flushed, as if each write came after a
/// reboot).
fn boot_id() -> u64 {
    static ID: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *ID.get_or_init(|| {
        fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .ok()
            .map(|id| id.trim().to_owned())
            .filter(|id| !id.is_empty())
            .map_or(0, |id| fsutil::fnv1a(id.as_bytes()).max(1))
    })
}

impl State {
    fn parse_slot(slot: &[u8]) -> Option<State> {
        let text = std::str::from_utf8(slot).ok()?.trim_end();
        let (body, sum) = text.rsplit_once(" K")?;
        if u64::from_str_radix(sum, 16).ok()? != fsutil::fnv1a(body.as_bytes()) {
            return None;
        }
        let rest = body.strip_prefix("mailwire-state 1 ")?;
        let mut s = State::default();
        for field in rest.split(' ') {
            if let Some(v) = field.strip_prefix('G') {
                s.generation = v.parse().ok()?;
            } else if let Some(v) = field.strip_prefix('V') {
                s.uid_validity = v.parse().ok()?;
            } else if let Some(v) = field.strip_prefix('M') {
                s.modseq = v.parse().ok()?;
            } else if let Some(v) = field.strip_prefix('R') {
                s.reserved = v.parse().ok()?;
            } else if let Some(v) = field.strip_prefix('B') {
                s.boot = u64::from_str_radix(v, 16).ok()?;
            }
        }
        Some(s)
    }

    fn render_slot(&self) -> Vec<u8> {
        let body = format!(
            "mailwire-state 1 G{} V{} M{} R{} B{:x}",
            self.generation, self.uid_validity, self.modseq, self.reserved, self.boot
        );
        let mut line = format!("{body} K{:016x}", fsutil::fnv1a(body.as_bytes()));
        while line.len() < SLOT - 1 {
            line.push(' ');
        }
        line.push('\n');
        line.into_bytes()
    }

    /// Reads the counters (zero if the file is missing or unreadable).
    #[cfg(test)]
    pub(crate) fn load(root: &Path) -> Result<State, StoreError> {
        let path = root.join(NAME);
        match fsutil::open_read(&path) {
            Ok(f) => State::read_from(&f, &path),
            Err(e) if fsutil::not_found(&e) => Ok(State::default()),
            Err(e) => Err(io_err("open", &path, &e)),
        }
    }

    /// Reads the counters from the open file `f` (zero if it holds no
    /// valid slot).
    fn read_from(f: &File, path: &Path) -> Result<State, StoreError> {
        let mut buf = [0u8; 2 * SLOT];
        let mut len = 0;
        while len < buf.len() {
            match f.read_at(&mut buf[len..], len as u64) {
                Ok(0) => break,
                Ok(n) => len += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io_err("read", path, &e)),
            }
        }
        Ok(buf[..len]
            .chunks(SLOT)
            .filter_map(State::parse_slot)
            .max_by_key(|s| s.generation)
            .unwrap_or_default())
    }

    /// The MODSEQ given out last for certain: `M` if this slot was written
    /// since the system booted, else `R` (see the module documentation).
    fn modseq_floor(&self) -> u64 {
        if self.boot != 0 && self.boot == boot_id() {
            self.modseq
        } else {
            self.modseq.max(self.reserved)
        }
    }

    /// Writes the counters as the next generation.
    #[cfg(test)]
    pub(crate) fn store(&mut self, root: &Path, fsync: bool) -> Result<(), StoreError> {
        let f = open_state(root, fsync)?;
        self.store_in(&f, &root.join(NAME), fsync)
    }

    /// Writes the counters as the next generation into the open file `f`.
    fn store_in(&mut self, f: &File, path: &Path, fsync: bool) -> Result<(), StoreError> {
        // A forged G of 2^64 - 1 stays there (both slots then take turns
        // no more) rather than wrap to 0, which readers would take for the
        // older slot.
        self.generation = self.generation.saturating_add(1);
        let offset = (self.generation % 2) * SLOT as u64;
        f.write_all_at(&self.render_slot(), offset)
            .map_err(|e| io_err("write", path, &e))?;
        fsutil::sync_file(f, path, fsync)
    }
}

/// Opens `mailwire-state` for reading and writing, creating it (and
/// flushing the directory that gained it) if missing; a link or anything
/// but a regular file in its place is refused.
fn open_state(root: &Path, fsync: bool) -> Result<File, StoreError> {
    let path = root.join(NAME);
    let open = |create: bool| {
        fsutil::no_follow(OpenOptions::new().read(true).write(true).create_new(create)).open(&path)
    };
    let (f, created) = match open(false) {
        Ok(f) => (f, false),
        Err(e) if fsutil::not_found(&e) => match open(true) {
            Ok(f) => (f, true),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                (open(false).map_err(|e| io_err("open", &path, &e))?, false)
            }
            Err(e) => return Err(io_err("create", &path, &e)),
        },
        Err(e) => return Err(io_err("open", &path, &e)),
    };
    if !f.metadata().map_err(|e| io_err("stat", &path, &e))?.is_file() {
        return Err(StoreError::Permanent(format!(
            "{} is not a regular file",
            path.display()
        )));
    }
    if created {
        fsutil::sync_dir(root, fsync)?;
    }
    Ok(f)
}

/// Takes the account lock: an exclusive `flock` on `f`, waiting at most
/// `timeout` for another holder (a process, or another thread with its
/// own opening of the file) to let it go.
fn flock_exclusive(f: &File, path: &Path, timeout: Duration) -> Result<(), StoreError> {
    use rustix::fs::{FlockOperation, flock};
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_micros(100);
    loop {
        match flock(f, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => return Ok(()),
            Err(e) if e == rustix::io::Errno::WOULDBLOCK || e == rustix::io::Errno::INTR => {
                if Instant::now() >= deadline {
                    return Err(StoreError::Temporary(format!(
                        "{} is locked by another process",
                        path.display()
                    )));
                }
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(10));
            }
            Err(e) => return Err(io_err("lock", path, &e.into())),
        }
    }
}

/// The counters of one account while its lock is held (the file, locked,
/// and what it held; closing the file releases the lock).
#[derive(Debug)]
pub(crate) struct Counters<'a> {
    root: &'a Path,
    fsync: bool,
    held: Option<(File, State)>,
}

impl<'a> Counters<'a> {
    /// Counters of the account whose Maildir is `root`; the lock is taken
    /// when a value is first needed.
    pub(crate) fn new(root: &'a Path, fsync: bool) -> Counters<'a> {
        Counters {
            root,
            fsync,
            held: None,
        }
    }

    /// Takes the account lock now (for operations that change the set of
    /// mailboxes).
    pub(crate) fn lock(&mut self) -> Result<&mut State, StoreError> {
        Ok(self.locked()?.1)
    }

    /// The account lock, taken if not yet held: the locked file and the
    /// counters read from it.
    fn locked(&mut self) -> Result<(&File, &mut State), StoreError> {
        if self.held.is_none() {
            let path = self.root.join(NAME);
            let f = open_state(self.root, self.fsync)?;
            flock_exclusive(&f, &path, lock::default_timeout(lock::UIDLIST_STALE))?;
            let state = State::read_from(&f, &path)?;
            self.held = Some((f, state));
        }
        match &mut self.held {
            Some((f, s)) => Ok((f, s)),
            None => Err(StoreError::Permanent("account lock lost".into())),
        }
    }

    /// A new MODSEQ above the account's counter and above `floor` (the
    /// highest value the caller's mailbox already holds, in case the
    /// counter file was lost), durably recorded.
    pub(crate) fn next_modseq(&mut self, floor: u64) -> Result<ModSeq, StoreError> {
        let (path, fsync) = (self.root.join(NAME), self.fsync);
        let (f, state) = self.locked()?;
        let next = state
            .modseq_floor()
            .max(floor)
            .checked_add(1)
            .and_then(ModSeq::new)
            .ok_or(StoreError::Limit("MODSEQ space exhausted"))?;
        let mut new = *state;
        new.modseq = next.get();
        new.boot = boot_id();
        let reserved = new.boot != 0 && state.boot == new.boot && next.get() <= state.reserved;
        if reserved || !fsync {
            new.store_in(f, &path, false)?;
        } else if new.boot == 0 {
            // No boot id to tell a reboot by: every MODSEQ is flushed.
            new.store_in(f, &path, true)?;
        } else {
            // A new block, flushed to both slots before any of it is used:
            // whichever slot survives a crash holds it.
            new.reserved = next.get().saturating_add(MODSEQ_BLOCK);
            new.store_in(f, &path, true)?;
            new.store_in(f, &path, true)?;
        }
        *state = new;
        Ok(next)
    }

    /// A new UIDVALIDITY, greater than any this account (mailwire or
    /// Dovecot) gave out before.
    pub(crate) fn next_uid_validity(&mut self) -> Result<UidValidity, StoreError> {
        let (root, fsync) = (self.root, self.fsync);
        let path = root.join(NAME);
        let (f, state) = self.locked()?;
        let mut attempts = 0;
        let value = loop {
            attempts += 1;
            let (file_value, marker) = dovecot_counter(root)?;
            let base = u64::from(file_value.max(marker.unwrap_or(0)).max(state.uid_validity));
            let next = if base == 0 {
                fsutil::now_secs().max(1)
            } else {
                base + 1
            };
            let next = u32::try_from(next).map_err(|_| StoreError::Limit("UIDVALIDITY space exhausted"))?;
            let to = root.join(format!("dovecot-uidvalidity.{next:08x}"));
            let claimed = match marker {
                Some(m) => match fs::rename(root.join(format!("dovecot-uidvalidity.{m:08x}")), &to) {
                    Ok(()) => true,
                    Err(e) if fsutil::not_found(&e) => false, // taken meanwhile
                    Err(e) => return Err(io_err("rename", &to, &e)),
                },
                None => match OpenOptions::new().write(true).create_new(true).open(&to) {
                    Ok(f) => {
                        let mut perms = f.metadata().map_err(|e| io_err("stat", &to, &e))?.permissions();
                        perms.set_readonly(true);
                        let _ = f.set_permissions(perms);
                        true
                    }
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => false,
                    Err(e) => return Err(io_err("create", &to, &e)),
                },
            };
            if claimed {
                break next;
            }
            if attempts >= 10 {
                return Err(StoreError::Temporary("could not claim a UIDVALIDITY".into()));
            }
        };
        let text = format!("{value:08x}");
        fsutil::replace_file(
            &root.join("dovecot-uidvalidity.mailwire-tmp"),
            &root.join("dovecot-uidvalidity"),
            text.as_bytes(),
            false,
        )?;
        let mut new = *state;
        new.uid_validity = value;
        new.store_in(f, &path, fsync)?;
        *state = new;
        UidValidity::new(value).ok_or(StoreError::Limit("UIDVALIDITY space exhausted"))
    }
}

/// Dovecot's counter: the value in `dovecot-uidvalidity` (0 if the file is
/// missing or unreadable, as one of more than 64 octets is: it holds 8 hex
/// digits) and the highest marker file (older markers are removed).
fn dovecot_counter(root: &Path) -> Result<(u32, Option<u32>), StoreError> {
    let file_value = fsutil::read_file(&root.join("dovecot-uidvalidity"), 64)
        .ok()
        .and_then(|t| u32::from_str_radix(String::from_utf8_lossy(&t).trim(), 16).ok())
        .unwrap_or(0);
    let mut markers = Vec::new();
    let entries = fs::read_dir(root).map_err(|e| io_err("read directory", root, &e))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(hex) = name.strip_prefix("dovecot-uidvalidity.") {
            if hex.len() == 8 {
                if let Ok(v) = u32::from_str_radix(hex, 16) {
                    markers.push(v);
                }
            }
        }
    }
    markers.sort_unstable();
    let max = markers.last().copied();
    for old in markers.iter().rev().skip(1) {
        let _ = fs::remove_file(root.join(format!("dovecot-uidvalidity.{old:08x}")));
    }
    Ok((file_value, max))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_survive_a_torn_write() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = State {
            modseq: 5,
            ..State::default()
        };
        s.store(dir.path(), false).unwrap();
        s.modseq = 6;
        s.store(dir.path(), false).unwrap();
        assert_eq!(State::load(dir.path()).unwrap(), s);
        // Tear the newest slot: the previous value remains.
        let path = dir.path().join(NAME);
        let f = OpenOptions::new().write(true).open(&path).unwrap();
        f.write_all_at(b"garbage", (s.generation % 2) * SLOT as u64)
            .unwrap();
        assert_eq!(State::load(dir.path()).unwrap().modseq, 5);
    }

    /// A slot whose generation is the largest there is (a forged file:
    /// its checksum is no secret) is still the newest after the next
    /// write. The generation wrapped to 0, so readers took the other
    /// slot, and the write was lost.
    #[test]
    fn the_last_generation_does_not_wrap() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = State {
            modseq: 5,
            generation: u64::MAX - 1,
            ..State::default()
        };
        s.store(dir.path(), false).unwrap();
        assert_eq!(State::load(dir.path()).unwrap().generation, u64::MAX);
        s.modseq = 6;
        s.store(dir.path(), false).unwrap();
        assert_eq!(State::load(dir.path()).unwrap().modseq, 6);
    }

    /// MODSEQs come from a flushed reservation: within one boot each
    /// follows the last one given; a slot written before another boot (or
    /// by a version without reservations) is trusted only up to what it
    /// reserved, so a crash that lost unflushed writes never gives a MODSEQ
    /// twice.
    #[test]
    fn modseqs_are_reserved_in_blocks_and_never_reused_after_a_reboot() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Counters::new(dir.path(), true);
        assert_eq!(c.next_modseq(0).unwrap().get(), 1);
        let first = State::load(dir.path()).unwrap();
        assert_eq!((first.modseq, first.reserved), (1, 1 + MODSEQ_BLOCK));
        assert_eq!(first.boot, boot_id());
        for n in 2..=5 {
            assert_eq!(c.next_modseq(0).unwrap().get(), n);
        }
        drop(c);
        let s = State::load(dir.path()).unwrap();
        assert_eq!((s.modseq, s.reserved), (5, 1 + MODSEQ_BLOCK), "no new block");
        // Both slots hold the reservation.
        let bytes = fs::read(dir.path().join(NAME)).unwrap();
        for slot in bytes.chunks(SLOT) {
            let slot = State::parse_slot(slot).unwrap();
            assert_eq!(slot.reserved, 1 + MODSEQ_BLOCK, "{slot:?}");
        }

        // Written before a reboot, with MODSEQs given past M whose writes
        // were lost: the next one comes after R.
        let mut before = State {
            modseq: 10,
            reserved: 100,
            boot: boot_id().wrapping_add(1).max(1),
            ..State::default()
        };
        before.store(dir.path(), false).unwrap();
        before.store(dir.path(), false).unwrap();
        let mut c = Counters::new(dir.path(), true);
        assert_eq!(c.next_modseq(0).unwrap().get(), 101);
        let after = State::load(dir.path()).unwrap();
        assert_eq!(
            (after.modseq, after.reserved, after.boot),
            (101, 101 + MODSEQ_BLOCK, boot_id())
        );
        drop(c);

        // A file from before reservations: its M was flushed.
        fs::write(dir.path().join(NAME), "").unwrap();
        let mut old = State {
            modseq: 50,
            ..State::default()
        };
        old.store(dir.path(), false).unwrap();
        let text = fs::read_to_string(dir.path().join(NAME)).unwrap();
        let body = "mailwire-state 1 G1 V0 M50";
        let line = format!("{body} K{:016x}", fsutil::fnv1a(body.as_bytes()));
        fs::write(dir.path().join(NAME), format!("{line:<127}\n")).unwrap();
        assert!(text.contains("M50"));
        assert_eq!(Counters::new(dir.path(), true).next_modseq(0).unwrap().get(), 51);
        // The floor of a mailbox still counts.
        assert_eq!(
            Counters::new(dir.path(), true).next_modseq(9_000).unwrap().get(),
            9_001
        );
    }

    /// The account lock is an `flock` of the state file: held by one
    /// opening at a time (threads of one process included), released when
    /// its holder lets go, and MODSEQs taken at once by many holders are
    /// all different.
    #[test]
    fn the_account_lock_excludes_other_holders() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(NAME);
        let mut a = Counters::new(dir.path(), false);
        a.lock().unwrap();
        let other = open_state(dir.path(), false).unwrap();
        assert!(matches!(
            flock_exclusive(&other, &path, Duration::from_millis(50)),
            Err(StoreError::Temporary(_))
        ));
        drop(a);
        flock_exclusive(&other, &path, Duration::from_millis(50)).unwrap();
        drop(other);

        let given: Vec<u64> = std::thread::scope(|s| {
            let threads: Vec<_> = (0..4)
                .map(|_| {
                    s.spawn(|| {
                        (0..200)
                            .map(|_| Counters::new(dir.path(), false).next_modseq(0).unwrap().get())
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            threads.into_iter().flat_map(|t| t.join().unwrap()).collect()
        });
        let mut distinct = given.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), given.len(), "a MODSEQ given twice");
        assert_eq!(State::load(dir.path()).unwrap().modseq, 800);
    }

    #[test]
    fn uid_validity_follows_dovecot_counter() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("dovecot-uidvalidity"), "6b024514").unwrap();
        fs::write(dir.path().join("dovecot-uidvalidity.6b024514"), "").unwrap();
        fs::write(dir.path().join("dovecot-uidvalidity.00000005"), "").unwrap();
        let mut c = Counters::new(dir.path(), false);
        assert_eq!(c.next_uid_validity().unwrap().get(), 0x6b02_4515);
        assert_eq!(c.next_uid_validity().unwrap().get(), 0x6b02_4516);
        assert_eq!(
            fs::read_to_string(dir.path().join("dovecot-uidvalidity")).unwrap(),
            "6b024516"
        );
        assert!(dir.path().join("dovecot-uidvalidity.6b024516").exists());
        assert!(!dir.path().join("dovecot-uidvalidity.00000005").exists());
        assert_eq!(c.next_modseq(0).unwrap().get(), 1);
        assert_eq!(c.next_modseq(7).unwrap().get(), 8);
        drop(c);
        let s = State::load(dir.path()).unwrap();
        assert_eq!((s.uid_validity, s.modseq), (0x6b02_4516, 8));
        // Without Dovecot's files the counter in mailwire-state still rises.
        fs::remove_file(dir.path().join("dovecot-uidvalidity")).unwrap();
        fs::remove_file(dir.path().join("dovecot-uidvalidity.6b024516")).unwrap();
        let mut c = Counters::new(dir.path(), false);
        assert_eq!(c.next_uid_validity().unwrap().get(), 0x6b02_4517);
    }
}

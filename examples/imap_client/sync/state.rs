//! What the last synchronisation left: per mailbox, the server's
//! UIDVALIDITY, UIDNEXT and HIGHESTMODSEQ, the local mailbox's
//! UIDVALIDITY, and every pair of a server message and a local one with
//! the flags both had when they last agreed.
//!
//! It lives in the mirror's directory, in `mailwire-sync/` (a name that
//! is no Maildir++ folder):
//!
//! - `state`: the whole state as of the last completed run, replaced by
//!   writing `state.new`, flushing it and renaming it over;
//! - `journal`: every change made since, one line each, flushed before
//!   the change it records is relied upon; read after `state` and
//!   replayed, then emptied when the next `state` is written;
//! - `lock`: held (`flock`) for a whole run, so two runs never overlap.
//!
//! Both files have the same lines, tab-separated (mailbox names hold no
//! control characters):
//!
//! ```text
//! M <mailbox> <uidvalidity> <uidnext> <highestmodseq> <local uidvalidity>
//! P <mailbox> <server uid> <local uid> <flag> <flag>...
//! K <mailbox> <server uid> <size> <id>
//! D <mailbox> <server uid>
//! X <mailbox>
//! U <mailbox> <local uid> <sent>
//! R <mailbox> <local uid> <sent>
//! ```
//!
//! `M` sets a mailbox's numbers (`0` for unknown), `P` records a pair, `K`
//! the key of its server message (its size and Message-ID, or a digest of
//! its header: see [`Key`]), `D` drops a pair, `X` forgets a mailbox. `U` records an APPEND of a local
//! message about to be sent (`sent` in Unix milliseconds names the
//! attempt), `R` that its answer was read. An upload with no `R` was cut
//! off (the run was killed, the connection lost): the server may have
//! stored it, even after the next run looked (see [`State::cut_uploads`]).
//! A torn last line (a run killed while writing it) is ignored: its change
//! is made again by the next run.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mailwire::imap::ModSeq;

use crate::Failure;

/// The flags of a message, as IMAP names, sorted, `\Recent` left out.
pub type FlagSet = std::collections::BTreeSet<String>;

/// What identifies a message across the two sides: its size and its
/// Message-ID (`id:<value>`), or without one a digest of its header
/// (`header:<hex>`).
pub type Key = (u64, String);

/// One mailbox's synchronised state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailboxState {
    /// The server's UIDVALIDITY the pairs are valid for (0: none yet).
    pub uid_validity: u32,
    /// The server's UIDNEXT when last synchronised.
    pub uid_next: u32,
    /// The server's HIGHESTMODSEQ when last synchronised (0: none).
    pub highest_modseq: u64,
    /// The local mailbox's UIDVALIDITY the pairs are valid for.
    pub local_validity: u32,
    /// Server UID to (local UID, flags both had).
    pub pairs: BTreeMap<u32, (u32, FlagSet)>,
    /// Server UID to the key its message had when it was paired (pairs
    /// that earlier versions recorded have none). A server that gives the
    /// UID to another message under the same UIDVALIDITY (RFC 9051
    /// forbids it) or a mirror synchronised with another account shows a
    /// key that differs: the message is not the one paired.
    pub keys: BTreeMap<u32, Key>,
    /// Uploads whose answer was never read: (local UID, when sent, in
    /// Unix milliseconds).
    pub uploads: BTreeSet<(u32, u64)>,
}

/// How long an upload cut off may still be stored by the server. A server
/// finishes an APPEND whose client went away as soon as it has read it,
/// or drops it; ten minutes leaves room for a slow disk and a busy
/// server, and bounds how long a copy of the message made by someone else
/// in the same mailbox could be taken for the upload's.
pub const CUT_UPLOAD_LIFETIME: Duration = Duration::from_secs(600);

fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The state of a whole mirror, and the journal it writes to.
pub struct State {
    dir: PathBuf,
    /// By local mailbox name.
    pub mailboxes: BTreeMap<String, MailboxState>,
    journal: Option<File>,
    /// `--dry-run`: nothing is written.
    dry_run: bool,
    _lock: Option<File>,
}

/// A `K` line.
fn key_line(name: &str, remote: u32, (size, id): &Key) -> String {
    format!("K\t{name}\t{remote}\t{size}\t{id}\n")
}

fn local(what: &str, path: &Path, e: io::Error) -> Failure {
    Failure::Local(format!("{what} {}: {e}", path.display()))
}

impl State {
    /// Opens the state of the mirror in `maildir`, taking its lock (a run
    /// already going is an error), and replays the journal.
    pub fn open(maildir: &Path, dry_run: bool) -> Result<State, Failure> {
        let dir = maildir.join("mailwire-sync");
        fs::create_dir_all(&dir).map_err(|e| local("create", &dir, e))?;
        let lock_path = dir.join("lock");
        let lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(|e| local("open", &lock_path, e))?;
        match rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(e) if e == rustix::io::Errno::WOULDBLOCK => {
                return Err(Failure::Local(format!(
                    "another sync of {} is running (it holds {})",
                    maildir.display(),
                    lock_path.display()
                )));
            }
            Err(e) => return Err(local("lock", &lock_path, e.into())),
        }
        let mut state = State {
            dir,
            mailboxes: BTreeMap::new(),
            journal: None,
            dry_run,
            _lock: Some(lock),
        };
        for name in ["state", "journal"] {
            let path = state.dir.join(name);
            let text = match fs::read(&path) {
                Ok(text) => text,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(local("read", &path, e)),
            };
            state.replay(&text);
            // A torn last line (a run killed while writing it) is cut
            // off, so the next line written does not continue it.
            let whole = memchr::memrchr(b'\n', &text).map_or(0, |end| end + 1);
            if name == "journal" && whole < text.len() && !dry_run {
                OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .and_then(|f| f.set_len(whole as u64))
                    .map_err(|e| local("repair", &path, e))?;
            }
        }
        Ok(state)
    }

    fn replay(&mut self, text: &[u8]) {
        // Only whole lines: a last line without its newline is torn.
        let whole = match memchr::memrchr(b'\n', text) {
            Some(end) => &text[..=end],
            None => return,
        };
        for line in String::from_utf8_lossy(whole).lines() {
            // A line whose numbers do not fit what they count (a file
            // damaged or edited by hand) is skipped like one that does not
            // parse: what it said is then found out again from the server.
            let fields: Vec<&str> = line.split('\t').collect();
            let num = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
            let n32 = |i: usize| fields.get(i).and_then(|f| f.parse::<u32>().ok());
            let uid = |i: usize| n32(i).filter(|&u| u != 0);
            let modseq = |i: usize| num(i).filter(|&m| m <= ModSeq::MAX.get());
            match fields.as_slice() {
                ["M", name, ..] => {
                    let (Some(v), Some(n), Some(m), Some(l)) = (n32(2), n32(3), modseq(4), n32(5)) else {
                        continue;
                    };
                    let mb = self.mailboxes.entry((*name).to_owned()).or_default();
                    mb.uid_validity = v;
                    mb.uid_next = n;
                    mb.highest_modseq = m;
                    mb.local_validity = l;
                }
                ["P", name, _, _, flags @ ..] => {
                    let (Some(r), Some(l)) = (uid(2), uid(3)) else {
                        continue;
                    };
                    let flags = flags
                        .iter()
                        .filter(|f| !f.is_empty())
                        .map(|f| (*f).to_owned())
                        .collect();
                    self.mailboxes
                        .entry((*name).to_owned())
                        .or_default()
                        .pairs
                        .insert(r, (l, flags));
                }
                ["K", name, _, _, id @ ..] => {
                    let (Some(r), Some(size)) = (uid(2), num(3)) else {
                        continue;
                    };
                    let mb = self.mailboxes.entry((*name).to_owned()).or_default();
                    mb.keys.insert(r, (size, id.join("\t")));
                }
                ["D", name, _] => {
                    if let (Some(mb), Some(r)) = (self.mailboxes.get_mut(*name), uid(2)) {
                        mb.pairs.remove(&r);
                        mb.keys.remove(&r);
                    }
                }
                ["X", name] => {
                    self.mailboxes.remove(*name);
                }
                [kind @ ("U" | "R"), name, _, _] => {
                    let (Some(l), Some(sent)) = (uid(2), num(3)) else {
                        continue;
                    };
                    let uploads = &mut self.mailboxes.entry((*name).to_owned()).or_default().uploads;
                    if *kind == "U" {
                        uploads.insert((l, sent));
                    } else {
                        uploads.remove(&(l, sent));
                    }
                }
                _ => {}
            }
        }
    }

    fn write(&mut self, line: &str) -> Result<(), Failure> {
        if self.dry_run {
            return Ok(());
        }
        let path = self.dir.join("journal");
        if self.journal.is_none() {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| local("open", &path, e))?;
            self.journal = Some(file);
        }
        let journal = self.journal.as_mut().expect("opened above");
        journal
            .write_all(line.as_bytes())
            .and_then(|()| journal.sync_data())
            .map_err(|e| local("write", &path, e))
    }

    /// Records a mailbox's numbers.
    pub fn set_mailbox(
        &mut self,
        name: &str,
        uid_validity: u32,
        uid_next: u32,
        modseq: u64,
        local: u32,
    ) -> Result<(), Failure> {
        let mb = self.mailboxes.entry(name.to_owned()).or_default();
        if (mb.uid_validity, mb.uid_next, mb.highest_modseq, mb.local_validity)
            == (uid_validity, uid_next, modseq, local)
        {
            return Ok(());
        }
        mb.uid_validity = uid_validity;
        mb.uid_next = uid_next;
        mb.highest_modseq = modseq;
        mb.local_validity = local;
        self.write(&format!(
            "M\t{name}\t{uid_validity}\t{uid_next}\t{modseq}\t{local}\n"
        ))
    }

    /// Records a pair and the flags both sides now have, and the key of
    /// its server message if given (else the pair keeps the key it had).
    pub fn pair(
        &mut self,
        name: &str,
        remote: u32,
        local: u32,
        flags: &FlagSet,
        key: Option<&Key>,
    ) -> Result<(), Failure> {
        let mb = self.mailboxes.entry(name.to_owned()).or_default();
        let mut lines = String::new();
        if !mb
            .pairs
            .get(&remote)
            .is_some_and(|(l, f)| *l == local && f == flags)
        {
            mb.pairs.insert(remote, (local, flags.clone()));
            lines.push_str(&format!("P\t{name}\t{remote}\t{local}"));
            for flag in flags {
                lines.push('\t');
                lines.push_str(flag);
            }
            lines.push('\n');
        }
        if let Some(key) = key.filter(|k| mb.keys.get(&remote) != Some(k)) {
            mb.keys.insert(remote, key.clone());
            lines.push_str(&key_line(name, remote, key));
        }
        if lines.is_empty() {
            return Ok(());
        }
        self.write(&lines)
    }

    /// Drops a pair.
    pub fn unpair(&mut self, name: &str, remote: u32) -> Result<(), Failure> {
        if let Some(mb) = self.mailboxes.get_mut(name) {
            let keyed = mb.keys.remove(&remote).is_some();
            if mb.pairs.remove(&remote).is_some() || keyed {
                return self.write(&format!("D\t{name}\t{remote}\n"));
            }
        }
        Ok(())
    }

    /// Records an upload of local message `local` about to be sent, and
    /// returns the attempt's name for [`State::upload_answered`].
    pub fn upload_sent(&mut self, name: &str, local: u32) -> Result<u64, Failure> {
        let sent = now_millis();
        self.mailboxes
            .entry(name.to_owned())
            .or_default()
            .uploads
            .insert((local, sent));
        self.write(&format!("U\t{name}\t{local}\t{sent}\n"))?;
        Ok(sent)
    }

    /// Records that an upload's answer was read (or that the copy it left
    /// on the server is accounted for).
    pub fn upload_answered(&mut self, name: &str, local: u32, sent: u64) -> Result<(), Failure> {
        if let Some(mb) = self.mailboxes.get_mut(name) {
            if mb.uploads.remove(&(local, sent)) {
                return self.write(&format!("R\t{name}\t{local}\t{sent}\n"));
            }
        }
        Ok(())
    }

    /// The uploads to `name` an earlier run sent and never saw answered,
    /// oldest first, within [`CUT_UPLOAD_LIFETIME`]: each may have left a
    /// copy on the server, stored after this run listed the mailbox.
    pub fn cut_uploads(&self, name: &str) -> Vec<(u32, u64)> {
        let oldest = now_millis().saturating_sub(CUT_UPLOAD_LIFETIME.as_millis() as u64);
        let mut cut: Vec<(u32, u64)> = self
            .mailboxes
            .get(name)
            .map(|mb| {
                mb.uploads
                    .iter()
                    .filter(|(_, sent)| *sent >= oldest)
                    .copied()
                    .collect()
            })
            .unwrap_or_default();
        cut.sort_by_key(|(_, sent)| *sent);
        cut
    }

    /// Forgets a mailbox.
    pub fn forget(&mut self, name: &str) -> Result<(), Failure> {
        if self.mailboxes.remove(name).is_some() {
            return self.write(&format!("X\t{name}\n"));
        }
        Ok(())
    }

    /// Writes the whole state and empties the journal.
    pub fn compact(&mut self) -> Result<(), Failure> {
        if self.dry_run {
            return Ok(());
        }
        let mut text = String::new();
        for (name, mb) in &self.mailboxes {
            text.push_str(&format!(
                "M\t{name}\t{}\t{}\t{}\t{}\n",
                mb.uid_validity, mb.uid_next, mb.highest_modseq, mb.local_validity
            ));
            for (remote, (local, flags)) in &mb.pairs {
                text.push_str(&format!("P\t{name}\t{remote}\t{local}"));
                for flag in flags {
                    text.push('\t');
                    text.push_str(flag);
                }
                text.push('\n');
                if let Some(key) = mb.keys.get(remote) {
                    text.push_str(&key_line(name, *remote, key));
                }
            }
            // Uploads cut off, while the server may still store them.
            let oldest = now_millis().saturating_sub(CUT_UPLOAD_LIFETIME.as_millis() as u64);
            for (local, sent) in &mb.uploads {
                if *sent >= oldest {
                    text.push_str(&format!("U\t{name}\t{local}\t{sent}\n"));
                }
            }
        }
        let new = self.dir.join("state.new");
        let path = self.dir.join("state");
        let mut file = File::create(&new).map_err(|e| local("create", &new, e))?;
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| local("write", &new, e))?;
        fs::rename(&new, &path).map_err(|e| local("rename", &new, e))?;
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| local("flush", &self.dir, e))?;
        // The journal's changes are all in the new state now.
        self.journal = None;
        let journal = self.dir.join("journal");
        File::create(&journal)
            .and_then(|f| f.sync_all())
            .map_err(|e| local("empty", &journal, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ and the local UIDVALIDITY.
    fn numbers(mb: &MailboxState) -> (u32, u32, u64, u32) {
        (mb.uid_validity, mb.uid_next, mb.highest_modseq, mb.local_validity)
    }

    fn flags(names: &[&str]) -> FlagSet {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn the_journal_replays_over_the_state_and_a_torn_line_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut s = State::open(dir.path(), false).unwrap();
            s.set_mailbox("INBOX", 7, 10, 100, 3).unwrap();
            s.pair("INBOX", 1, 1, &flags(&["\\Seen"]), None).unwrap();
            s.pair("INBOX", 2, 5, &flags(&[]), None).unwrap();
            s.compact().unwrap();
            s.pair("INBOX", 3, 6, &flags(&["$Label1", "\\Flagged"]), None)
                .unwrap();
            s.unpair("INBOX", 1).unwrap();
            s.pair("Sent", 9, 9, &flags(&[]), None).unwrap();
            s.forget("Sent").unwrap();
        }
        let journal = dir.path().join("mailwire-sync/journal");
        let mut text = fs::read(&journal).unwrap();
        text.extend_from_slice(b"P\tINBOX\t4\t7");
        fs::write(&journal, text).unwrap();
        let mut s = State::open(dir.path(), false).unwrap();
        // The torn line is gone: the next record stands on its own line.
        s.pair("INBOX", 5, 8, &flags(&[]), None).unwrap();
        drop(s);
        let s = State::open(dir.path(), false).unwrap();
        let inbox = &s.mailboxes["INBOX"];
        assert_eq!(numbers(inbox), (7, 10, 100, 3));
        let pairs: Vec<_> = inbox
            .pairs
            .iter()
            .map(|(r, (l, f))| (*r, *l, f.clone()))
            .collect();
        assert_eq!(
            pairs,
            [
                (2, 5, flags(&[])),
                (3, 6, flags(&["$Label1", "\\Flagged"])),
                (5, 8, flags(&[]))
            ]
        );
        assert!(!s.mailboxes.contains_key("Sent"));
    }

    #[test]
    fn keys_of_paired_messages_are_kept_with_their_pairs() {
        let dir = tempfile::tempdir().unwrap();
        let key = |size: u64, id: &str| (size, id.to_owned());
        {
            let mut s = State::open(dir.path(), false).unwrap();
            s.pair("INBOX", 1, 1, &flags(&[]), Some(&key(10, "id:<a@x>")))
                .unwrap();
            s.pair("INBOX", 2, 2, &flags(&[]), Some(&key(20, "header:ab")))
                .unwrap();
            s.compact().unwrap();
            // A flag change keeps the key; a pair dropped loses it.
            s.pair("INBOX", 1, 1, &flags(&["\\Seen"]), None).unwrap();
            s.unpair("INBOX", 2).unwrap();
            s.pair(
                "INBOX",
                3,
                3,
                &flags(&[]),
                Some(&key(30, "id:<with tab\tinside>")),
            )
            .unwrap();
        }
        let journal = fs::read_to_string(dir.path().join("mailwire-sync/journal")).unwrap();
        // Only the new pair's key was written again.
        assert_eq!(
            journal.lines().filter(|l| l.starts_with("K\t")).count(),
            1,
            "{journal}"
        );
        let check = |s: &State| {
            let inbox = &s.mailboxes["INBOX"];
            assert_eq!(inbox.keys.get(&1), Some(&key(10, "id:<a@x>")));
            assert_eq!(inbox.keys.get(&2), None);
            assert_eq!(inbox.keys.get(&3), Some(&key(30, "id:<with tab\tinside>")));
            assert_eq!(inbox.pairs[&1].1, flags(&["\\Seen"]));
        };
        let mut s = State::open(dir.path(), false).unwrap();
        check(&s);
        s.compact().unwrap();
        drop(s);
        let state = fs::read_to_string(dir.path().join("mailwire-sync/state")).unwrap();
        assert!(
            state.contains("P\tINBOX\t1\t1\t\\Seen\nK\tINBOX\t1\t10\tid:<a@x>\n"),
            "{state}"
        );
        check(&State::open(dir.path(), false).unwrap());
    }

    #[test]
    fn uploads_cut_off_are_remembered_until_answered_or_too_old() {
        let dir = tempfile::tempdir().unwrap();
        let (first, second, answered);
        {
            let mut s = State::open(dir.path(), false).unwrap();
            first = s.upload_sent("INBOX", 4).unwrap();
            answered = s.upload_sent("INBOX", 5).unwrap();
            s.upload_answered("INBOX", 5, answered).unwrap();
            // The run is killed before 4's answer; the next sends it again.
        }
        {
            let mut s = State::open(dir.path(), false).unwrap();
            assert_eq!(s.cut_uploads("INBOX"), [(4, first)]);
            std::thread::sleep(Duration::from_millis(2));
            second = s.upload_sent("INBOX", 4).unwrap();
            s.upload_answered("INBOX", 4, second).unwrap();
            s.compact().unwrap();
        }
        let state = fs::read_to_string(dir.path().join("mailwire-sync/state")).unwrap();
        assert!(state.contains(&format!("U\tINBOX\t4\t{first}\n")), "{state}");
        let s = State::open(dir.path(), false).unwrap();
        assert_eq!(s.cut_uploads("INBOX"), [(4, first)]);
        assert!(s.cut_uploads("Sent").is_empty());
        drop(s);
        // One older than the lifetime is neither reported nor kept.
        let old = first - CUT_UPLOAD_LIFETIME.as_millis() as u64 - 1;
        fs::write(
            dir.path().join("mailwire-sync/journal"),
            format!("U\tSent\t9\t{old}\n"),
        )
        .unwrap();
        let mut s = State::open(dir.path(), false).unwrap();
        assert!(s.cut_uploads("Sent").is_empty());
        s.compact().unwrap();
        let state = fs::read_to_string(dir.path().join("mailwire-sync/state")).unwrap();
        assert!(!state.contains("U\tSent"), "{state}");
    }

    #[test]
    fn numbers_out_of_range_skip_their_line() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("mailwire-sync")).unwrap();
        let lines = [
            // Kept: the largest values each field holds.
            "M\tINBOX\t4294967295\t4294967295\t9223372036854775807\t4294967295",
            "P\tINBOX\t4294967295\t1\t\\Seen",
            "U\tINBOX\t7\t100",
            // Skipped: a UIDVALIDITY, a UID or a MODSEQ past its range, a
            // UID of 0.
            "M\tSent\t4294967296\t1\t1\t1",
            "M\tDrafts\t1\t1\t9223372036854775808\t1",
            "P\tINBOX\t4294967296\t2\t",
            "P\tINBOX\t3\t0\t",
            "P\tINBOX\t0\t4\t",
            "U\tINBOX\t0\t100",
            "D\tINBOX\t4294967296",
        ];
        fs::write(dir.path().join("mailwire-sync/journal"), lines.join("\n") + "\n").unwrap();
        let s = State::open(dir.path(), false).unwrap();
        assert_eq!(s.mailboxes.keys().collect::<Vec<_>>(), ["INBOX"]);
        let inbox = &s.mailboxes["INBOX"];
        assert_eq!(numbers(inbox), (u32::MAX, u32::MAX, ModSeq::MAX.get(), u32::MAX));
        assert_eq!(inbox.pairs.keys().collect::<Vec<_>>(), [&u32::MAX]);
        assert_eq!(inbox.uploads.iter().collect::<Vec<_>>(), [&(7, 100)]);
    }

    #[test]
    fn one_run_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let _first = State::open(dir.path(), false).unwrap();
        assert!(
            matches!(State::open(dir.path(), false), Err(Failure::Local(m)) if m.contains("another sync"))
        );
    }
}

//! The Maildir backend under several processes: writers killed with
//! SIGKILL at random points, and threads and processes appending at once.
//! Child processes are this test binary again, running the ignored test
//! `child_writer` with its instructions in environment variables.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use mailwire_mailbox::{
    AccountName, Backend, ExpungeRequest, FlagAction, Flags, InternalDate, MailboxName, MailboxRef,
    MaildirBackend, MaildirOptions, NewMessage, StoreFlags, Uid,
};

fn acct() -> AccountName {
    AccountName::new("alice").unwrap()
}

fn open(dir: &Path) -> MaildirBackend {
    MaildirBackend::with_options(dir, MaildirOptions::default().with_fsync(false)).unwrap()
}

/// The message for tag `tag`: its body repeats the tag, so a truncated
/// message is recognisable.
fn message(tag: &str) -> NewMessage {
    let body = format!("{tag}\r\n").repeat(200);
    NewMessage {
        content: Bytes::from(format!("Subject: {tag}\r\n\r\n{body}")),
        flags: Flags::new(),
        internal_date: InternalDate::from_unix(1_700_000_000),
    }
}

struct Rng(u64);

impl Rng {
    fn seeded() -> Rng {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64;
        Rng(nanos ^ (u64::from(std::process::id()) << 32) | 1)
    }
    fn next(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound.max(1)
    }
}

fn inbox_ref(b: &MaildirBackend) -> MailboxRef {
    let snap = b.mailbox_snapshot(&acct(), &MailboxName::inbox()).unwrap();
    MailboxRef {
        name: MailboxName::inbox(),
        uid_validity: snap.uid_validity,
    }
}

/// Run by child processes: `MW_DIR` is the root, `MW_MODE` is `storm`
/// (appends, flag changes and expunges until killed) or `append:<n>`.
/// Every acknowledged append is printed as `ACK <uid> <tag>`, every
/// expunge as `TRY <uid>` before and `EXP <uid>` after, flushed at once.
#[test]
#[ignore = "run as a child process by the other tests"]
fn child_writer() {
    let (Ok(dir), Ok(mode)) = (std::env::var("MW_DIR"), std::env::var("MW_MODE")) else {
        panic!("MW_DIR and MW_MODE must be set");
    };
    let b = open(Path::new(&dir));
    let a = acct();
    let inbox = MailboxName::inbox();
    let r = inbox_ref(&b);
    let mut out = std::io::stdout().lock();
    let mut rng = Rng::seeded();
    let pid = std::process::id();
    let limit = mode.strip_prefix("append:").map(|n| n.parse::<u64>().unwrap());
    let mut k = 0u64;
    loop {
        k += 1;
        if limit.is_some_and(|n| k > n) {
            break;
        }
        let action = if limit.is_some() { 0 } else { rng.next(10) };
        if action < 6 {
            let count = if limit.is_some() {
                1
            } else {
                1 + rng.next(3) as usize
            };
            let tags: Vec<String> = (0..count).map(|i| format!("p{pid}-{k}-{i}")).collect();
            let done = b
                .append(&a, &inbox, tags.iter().map(|t| message(t)).collect())
                .unwrap();
            for (m, t) in done.messages.iter().zip(&tags) {
                writeln!(out, "ACK {} {t}", m.uid).unwrap();
            }
            out.flush().unwrap();
        } else {
            let snap = b.mailbox_snapshot(&a, &inbox).unwrap();
            if snap.messages.is_empty() {
                continue;
            }
            let pick = snap.messages[rng.next(snap.messages.len() as u64) as usize].uid;
            if action < 9 {
                let flags = Flags::parse(["\\Seen", "Junk"]).unwrap();
                b.store_flags(
                    &a,
                    &r,
                    &StoreFlags {
                        uids: vec![pick],
                        action: FlagAction::Add,
                        flags,
                        condition: None,
                    },
                )
                .unwrap();
            } else {
                // Announced first: a kill may come after the expunge and
                // before its acknowledgement.
                writeln!(out, "TRY {pick}").unwrap();
                out.flush().unwrap();
                let gone = b
                    .expunge(
                        &a,
                        &r,
                        &ExpungeRequest {
                            uids: Some(vec![pick]),
                            only_deleted: false,
                        },
                    )
                    .unwrap();
                for u in gone.uids {
                    writeln!(out, "EXP {u}").unwrap();
                }
                out.flush().unwrap();
            }
        }
    }
}

fn spawn_child(dir: &Path, mode: &str) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "child_writer",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("MW_DIR", dir)
        .env("MW_MODE", mode)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// The acknowledged appends (uid → tag) and the expunges tried in a
/// child's output.
fn acks(child: &mut Child) -> (BTreeMap<u32, String>, BTreeSet<u32>) {
    let mut added = BTreeMap::new();
    let mut expunged = BTreeSet::new();
    let stdout = child.stdout.take().unwrap();
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        // The harness's "test child_writer ... " may start the first line.
        let start = ["ACK ", "TRY "]
            .iter()
            .filter_map(|w| line.find(w))
            .min()
            .unwrap_or(0);
        let mut parts = line[start..].split(' ');
        match (parts.next(), parts.next(), parts.next()) {
            (Some("ACK"), Some(u), Some(tag)) => {
                added.insert(u.parse().unwrap(), tag.to_owned());
            }
            (Some("TRY"), Some(u), None) => {
                expunged.insert(u.parse().unwrap());
            }
            _ => {} // the test harness's own lines, or a line cut by the kill
        }
    }
    (added, expunged)
}

#[test]
fn killed_writers_never_leave_half_messages_or_lose_acknowledged_ones() {
    let tmp = tempfile::tempdir().unwrap();
    open(tmp.path()).create_account(&acct()).unwrap();
    let mut rng = Rng::seeded();
    let mut all_added: BTreeMap<u32, String> = BTreeMap::new();
    let mut all_expunged: BTreeSet<u32> = BTreeSet::new();
    for _ in 0..6 {
        let mut child = spawn_child(tmp.path(), "storm");
        std::thread::sleep(Duration::from_millis(150 + rng.next(400)));
        child.kill().unwrap();
        let (added, expunged) = acks(&mut child);
        child.wait().unwrap();
        for (u, t) in added {
            assert!(all_added.insert(u, t).is_none(), "UID {u} acknowledged twice");
        }
        all_expunged.extend(expunged);

        // A fresh instance after the crash.
        let b = open(tmp.path());
        let a = acct();
        let r = inbox_ref(&b);
        let snap = b.mailbox_snapshot(&a, &MailboxName::inbox()).unwrap();
        let present: BTreeMap<u32, u64> = snap.messages.iter().map(|m| (m.uid.get(), m.size)).collect();
        for (u, tag) in &all_added {
            if all_expunged.contains(u) {
                continue;
            }
            assert!(present.contains_key(u), "acknowledged UID {u} ({tag}) is missing");
            let content = b.read_message(&a, &r, Uid::new(*u).unwrap()).unwrap();
            assert_eq!(content, message(tag).content, "UID {u}");
        }
        for (u, size) in &present {
            let content = b.read_message(&a, &r, Uid::new(*u).unwrap()).unwrap();
            assert_eq!(content.len() as u64, *size);
            let text = std::str::from_utf8(&content).unwrap();
            let tag = text
                .strip_prefix("Subject: ")
                .and_then(|t| t.split("\r\n").next())
                .unwrap();
            assert_eq!(content, message(tag).content, "UID {u} is not a whole message");
        }
        let uids: Vec<u32> = present.keys().copied().collect();
        assert!(uids.windows(2).all(|w| w[0] < w[1]));
        assert!(snap.uid_next.get() > uids.last().copied().unwrap_or(0));
    }
    assert!(
        all_added.len() >= 6,
        "the children made progress: {}",
        all_added.len()
    );
}

#[test]
fn threads_and_processes_append_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let b = Arc::new(open(tmp.path()));
    b.create_account(&acct()).unwrap();
    let started = Instant::now();
    let mut children: Vec<Child> = (0..2).map(|_| spawn_child(tmp.path(), "append:40")).collect();
    let threads: Vec<_> = (0..3)
        .map(|t| {
            let b = Arc::clone(&b);
            std::thread::spawn(move || {
                let mut uids = Vec::new();
                for k in 0..40 {
                    let done = b
                        .append(
                            &acct(),
                            &MailboxName::inbox(),
                            vec![message(&format!("t{t}-{k}"))],
                        )
                        .unwrap();
                    uids.push(done.messages[0].uid.get());
                }
                uids
            })
        })
        .collect();
    let mut every: Vec<u32> = Vec::new();
    for t in threads {
        let uids = t.join().unwrap();
        assert!(uids.windows(2).all(|w| w[0] < w[1]), "{uids:?}");
        every.extend(uids);
    }
    for child in &mut children {
        let (added, _) = acks(child);
        assert!(child.wait().unwrap().success());
        assert_eq!(added.len(), 40);
        every.extend(added.keys());
    }
    let unique: BTreeSet<u32> = every.iter().copied().collect();
    assert_eq!(unique.len(), every.len(), "a UID was given twice");
    let fresh = open(tmp.path());
    let snap = fresh.mailbox_snapshot(&acct(), &MailboxName::inbox()).unwrap();
    let on_disk: BTreeSet<u32> = snap.messages.iter().map(|m| m.uid.get()).collect();
    assert_eq!(on_disk, unique);
    assert!(started.elapsed() < Duration::from_secs(120));
}

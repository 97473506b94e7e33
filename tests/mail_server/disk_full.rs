//! A full disk under the mail root (a 2 MiB tmpfs mounted there, then
//! filled): an upload fails with a temporary error and leaves nothing
//! half-written in the Maildir, and a user can still log in over POP3 and
//! IMAP and delete mail, which is how a user frees space, also when many
//! flag changes made the MODSEQ journal due for a rewrite (which needs
//! room). A Maildir never indexed is the exception: its messages cannot
//! be given UIDs, and a login to it fails as a temporary failure until
//! there is room. Needs root to mount; skipped loudly without it on a
//! developer machine, failed in CI.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use crate::support::tmpfs::Tmpfs;
use crate::support::{self, MailRoot, RawPop3};
use crate::{PASSWD, start};

/// A minimal IMAP client: commands with tags, responses as lines.
struct Imap {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    tag: u32,
    /// The untagged lines the last command got.
    untagged: Vec<String>,
}

impl Imap {
    fn connect(addr: SocketAddr) -> Imap {
        let stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("set a timeout");
        let writer = stream.try_clone().expect("clone the socket");
        let mut imap = Imap {
            reader: BufReader::new(stream),
            writer,
            tag: 0,
            untagged: Vec::new(),
        };
        let greeting = imap.line();
        assert!(greeting.starts_with("* OK"), "{greeting}");
        imap
    }

    fn line(&mut self) -> String {
        let mut line = Vec::new();
        let _ = self.reader.read_until(b'\n', &mut line);
        String::from_utf8_lossy(&line).trim_end().to_owned()
    }

    /// Sends a command (with a literal after it, if given) and returns
    /// the tagged status line; its untagged lines are kept in `untagged`.
    fn command(&mut self, command: &str, literal: Option<&[u8]>) -> String {
        self.tag += 1;
        let tag = format!("t{}", self.tag);
        match literal {
            None => self.send(format!("{tag} {command}\r\n").as_bytes()),
            Some(data) => {
                self.send(format!("{tag} {command} {{{}}}\r\n", data.len()).as_bytes());
                let go = self.line();
                if !go.starts_with('+') {
                    return go;
                }
                self.send(data);
                self.send(b"\r\n");
            }
        }
        self.untagged.clear();
        loop {
            let line = self.line();
            assert!(!line.is_empty(), "connection closed waiting for {tag}");
            if let Some(status) = line.strip_prefix(&format!("{tag} ")) {
                return status.to_owned();
            }
            self.untagged.push(line);
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("send");
    }
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn message_files(maildir: &Path) -> Vec<String> {
    let mut all = names_in(&maildir.join("new"));
    all.extend(names_in(&maildir.join("cur")));
    all.sort();
    all
}

/// The Maildir's metadata files whose last line is incomplete, and any
/// temporary file left beside them.
fn half_written(maildir: &Path) -> Vec<String> {
    let mut bad = Vec::new();
    for name in names_in(maildir) {
        let path = maildir.join(&name);
        if name.ends_with(".tmp") || name.ends_with(".mailwire-tmp") || name.starts_with(".temp.") {
            bad.push(name);
        } else if name.starts_with("dovecot-uidlist") || name.starts_with("mailwire-modseq") {
            let text = fs::read(&path).unwrap_or_default();
            if !text.is_empty() && !text.ends_with(b"\n") && !name.ends_with(".lock") {
                bad.push(name);
            }
        }
    }
    bad.extend(
        names_in(&maildir.join("tmp"))
            .into_iter()
            .map(|n| format!("tmp/{n}")),
    );
    bad
}

#[test]
fn a_full_disk_refuses_uploads_cleanly_and_still_lets_users_delete_mail() {
    let mail = MailRoot::new("disk-full", PASSWD, "alice", &[]);
    let Some(disk) = Tmpfs::mount(&mail.root, "2m") else {
        return;
    };
    let samples = support::sample_messages();
    mail.deliver("alice", &samples);
    let maildir = mail.maildir("alice");
    let server = start(&mail, &["--allow-plaintext-auth"]);

    // A first login builds the indexes while there is room.
    let mut imap = Imap::connect(server.imap);
    assert!(imap.command("LOGIN alice secret", None).starts_with("OK"));
    assert!(imap.command("SELECT INBOX", None).starts_with("OK"));
    assert!(imap.command("LOGOUT", None).starts_with("OK"));
    let before = message_files(&maildir);
    assert_eq!(before.len(), samples.len());

    disk.fill("filler");

    // The upload fails with a temporary error, and nothing of it stays.
    let upload = format!("Subject: too big\r\n\r\n{}\r\n", "y".repeat(300 * 1024));
    let mut imap = Imap::connect(server.imap);
    assert!(imap.command("LOGIN alice secret", None).starts_with("OK"));
    let refused = imap.command("APPEND INBOX", Some(upload.as_bytes()));
    assert!(
        refused.starts_with("NO [UNAVAILABLE]"),
        "APPEND on a full disk: {refused}"
    );
    assert_eq!(message_files(&maildir), before);
    assert_eq!(half_written(&maildir), Vec::<String>::new());
    assert!(imap.command("LOGOUT", None).starts_with("OK"));

    // POP3: log in and delete one message, with the disk still full.
    let (mut pop3, greeting) = RawPop3::connect(server.pop3);
    assert!(greeting.starts_with("+OK"), "{greeting}");
    let login = pop3.login("alice", "secret");
    assert!(login.starts_with("+OK"), "POP3 login on a full disk: {login}");
    let stat = pop3.command("STAT");
    assert!(stat.starts_with(&format!("+OK {} ", samples.len())), "{stat}");
    assert!(pop3.command("DELE 1").starts_with("+OK"));
    let quit = pop3.command("QUIT");
    assert!(quit.starts_with("+OK"), "POP3 QUIT on a full disk: {quit}");
    assert_eq!(message_files(&maildir).len(), samples.len() - 1);

    // IMAP: log in, flag and expunge one more.
    let mut imap = Imap::connect(server.imap);
    let login = imap.command("LOGIN alice secret", None);
    assert!(login.starts_with("OK"), "IMAP login on a full disk: {login}");
    let select = imap.command("SELECT INBOX", None);
    assert!(select.starts_with("OK"), "SELECT on a full disk: {select}");
    let store = imap.command("STORE 1 +FLAGS (\\Deleted)", None);
    assert!(store.starts_with("OK"), "STORE on a full disk: {store}");
    let expunge = imap.command("EXPUNGE", None);
    assert!(expunge.starts_with("OK"), "EXPUNGE on a full disk: {expunge}");
    assert!(imap.command("LOGOUT", None).starts_with("OK"));
    assert_eq!(message_files(&maildir).len(), samples.len() - 2);
    assert_eq!(half_written(&maildir), Vec::<String>::new());

    // With room again, the upload goes through and every message is listed
    // once.
    disk.remove("filler");
    let mut imap = Imap::connect(server.imap);
    assert!(imap.command("LOGIN alice secret", None).starts_with("OK"));
    let appended = imap.command("APPEND INBOX", Some(upload.as_bytes()));
    assert!(appended.starts_with("OK"), "APPEND with room: {appended}");
    let status = imap.command("STATUS INBOX (MESSAGES)", None);
    assert!(status.starts_with("OK"), "{status}");
    let messages = format!("* STATUS INBOX (MESSAGES {})", samples.len() - 1);
    assert_eq!(imap.untagged, [messages], "STATUS with room");
    assert!(imap.command("LOGOUT", None).starts_with("OK"));
    assert_eq!(message_files(&maildir).len(), samples.len() - 1);
    assert_eq!(half_written(&maildir), Vec::<String>::new());
}

/// A Maildir never indexed (its messages delivered by another program, no
/// uidlist yet) cannot give its messages UIDs on a full disk: the POP3
/// login is refused with `-ERR [SYS/TEMP]` and IMAP's SELECT with `NO
/// [UNAVAILABLE]`, temporary failures, rather than an empty maildrop
/// (serving the messages would need UIDs that could not be kept). Nothing
/// half-written stays, and with room again every message is listed.
#[test]
fn a_maildir_never_indexed_is_refused_for_now_on_a_full_disk() {
    let mail = MailRoot::new("disk-full-unindexed", PASSWD, "alice", &[]);
    let Some(disk) = Tmpfs::mount(&mail.root, "2m") else {
        return;
    };
    let samples = support::sample_messages();
    mail.deliver("alice", &samples);
    let maildir = mail.maildir("alice");
    disk.fill("filler");
    let server = start(&mail, &["--allow-plaintext-auth"]);

    let (mut pop3, greeting) = RawPop3::connect(server.pop3);
    assert!(greeting.starts_with("+OK"), "{greeting}");
    let login = pop3.login("alice", "secret");
    assert!(login.starts_with("-ERR [SYS/TEMP]"), "POP3 login: {login}");
    let mut imap = Imap::connect(server.imap);
    assert!(imap.command("LOGIN alice secret", None).starts_with("OK"));
    let select = imap.command("SELECT INBOX", None);
    assert!(select.starts_with("NO [UNAVAILABLE]"), "SELECT: {select}");
    assert!(imap.command("LOGOUT", None).starts_with("OK"));
    assert_eq!(message_files(&maildir).len(), samples.len());
    assert_eq!(half_written(&maildir), Vec::<String>::new());

    disk.remove("filler");
    let (mut pop3, _) = RawPop3::connect(server.pop3);
    assert!(pop3.login("alice", "secret").starts_with("+OK"));
    let stat = pop3.command("STAT");
    assert!(stat.starts_with(&format!("+OK {} ", samples.len())), "{stat}");
    assert!(pop3.command("QUIT").starts_with("+OK"));
    let mut imap = Imap::connect(server.imap);
    assert!(imap.command("LOGIN alice secret", None).starts_with("OK"));
    assert!(imap.command("SELECT INBOX", None).starts_with("OK"));
    let exists = format!("* {} EXISTS", samples.len());
    assert!(imap.untagged.contains(&exists), "{:?}", imap.untagged);
    assert!(imap.command("LOGOUT", None).starts_with("OK"));
    assert_eq!(half_written(&maildir), Vec::<String>::new());
}

/// The MODSEQ journal's inode and number of lines.
fn journal_state(maildir: &Path) -> (u64, usize) {
    let path = maildir.join("mailwire-modseq");
    let ino = fs::metadata(&path).expect("the journal").ino();
    (ino, fs::read_to_string(&path).unwrap_or_default().lines().count())
}

/// Flag changes over IMAP until the journal is due for a rewrite: until
/// one rewrote it (a new inode), then until it is as long again as the
/// longest it grew to before, so that the next write rewrites it.
fn flag_changes_until_a_rewrite_is_due(imap: &mut Imap, maildir: &Path) {
    let (first, mut longest) = journal_state(maildir);
    let mut on = true;
    let mut toggle = |imap: &mut Imap| {
        let sign = if on { '+' } else { '-' };
        on = !on;
        let stored = imap.command(&format!("STORE 1 {sign}FLAGS.SILENT (\\Flagged)"), None);
        assert!(stored.starts_with("OK"), "{stored}");
        journal_state(maildir)
    };
    loop {
        let (ino, lines) = toggle(imap);
        if ino != first {
            break;
        }
        longest = lines;
        assert!(lines < 10_000, "the journal is never rewritten");
    }
    while toggle(imap).1 < longest {}
}

#[test]
fn deleting_mail_on_a_full_disk_works_after_many_flag_changes() {
    let mail = MailRoot::new("disk-full-flags", PASSWD, "alice", &[]);
    let Some(disk) = Tmpfs::mount(&mail.root, "2m") else {
        return;
    };
    let samples = support::sample_messages();
    mail.deliver("alice", &samples);
    let maildir = mail.maildir("alice");
    let server = start(&mail, &["--allow-plaintext-auth"]);

    let mut imap = Imap::connect(server.imap);
    assert!(imap.command("LOGIN alice secret", None).starts_with("OK"));
    assert!(imap.command("SELECT INBOX", None).starts_with("OK"));
    flag_changes_until_a_rewrite_is_due(&mut imap, &maildir);
    assert!(imap.command("LOGOUT", None).starts_with("OK"));
    disk.fill("filler");

    // IMAP: flag one message \Deleted and expunge it.
    let mut imap = Imap::connect(server.imap);
    assert!(imap.command("LOGIN alice secret", None).starts_with("OK"));
    let select = imap.command("SELECT INBOX", None);
    assert!(select.starts_with("OK"), "SELECT on a full disk: {select}");
    let store = imap.command("STORE 2 +FLAGS (\\Deleted)", None);
    assert!(store.starts_with("OK"), "STORE on a full disk: {store}");
    let expunge = imap.command("EXPUNGE", None);
    assert!(expunge.starts_with("OK"), "EXPUNGE on a full disk: {expunge}");
    assert_eq!(imap.untagged, ["* 2 EXPUNGE"]);
    assert!(imap.command("LOGOUT", None).starts_with("OK"));
    assert_eq!(message_files(&maildir).len(), samples.len() - 1);
    assert_eq!(half_written(&maildir), Vec::<String>::new());

    // The space freed is taken again: POP3 deletes on a disk as full.
    disk.fill("filler2");
    let (mut pop3, greeting) = RawPop3::connect(server.pop3);
    assert!(greeting.starts_with("+OK"), "{greeting}");
    let login = pop3.login("alice", "secret");
    assert!(login.starts_with("+OK"), "POP3 login on a full disk: {login}");
    assert!(pop3.command("DELE 1").starts_with("+OK"));
    let quit = pop3.command("QUIT");
    assert!(quit.starts_with("+OK"), "POP3 QUIT on a full disk: {quit}");
    assert_eq!(message_files(&maildir).len(), samples.len() - 2);
    assert_eq!(half_written(&maildir), Vec::<String>::new());

    // Every session agrees, with room again: the messages are gone.
    disk.remove("filler");
    disk.remove("filler2");
    let mut imap = Imap::connect(server.imap);
    assert!(imap.command("LOGIN alice secret", None).starts_with("OK"));
    let status = imap.command("STATUS INBOX (MESSAGES)", None);
    assert!(status.starts_with("OK"), "{status}");
    let messages = format!("* STATUS INBOX (MESSAGES {})", samples.len() - 2);
    assert_eq!(imap.untagged, [messages]);
    assert!(imap.command("LOGOUT", None).starts_with("OK"));
}

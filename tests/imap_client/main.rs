//! The `imap_client` example against real IMAP servers on loopback:
//! mail_server and Dovecot, each started by the test. Every command runs
//! against both, and what it prints and what it changes on the server are
//! checked; Dovecot's raw log of what it received proves that `headers`
//! fetches no body and `read` only the part it shows.
//!
//! Without Dovecot (or root to start it) the Dovecot tests say so loudly
//! and pass; on CI (`CI` set) they fail instead.

#[path = "../mail_server/support.rs"]
mod support;

mod hostile;
mod proxy;
mod sync;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use support::{Dovecot, MailRoot, MailServer, TempDir, is_root, require};

const PASSWD: &str = "alice:{PLAIN}secret::::::\n";

/// The attachment of the multipart message: every octet value, so its
/// base64 must be decoded exactly.
fn attachment() -> Vec<u8> {
    (0..=255u8).cycle().take(3000).collect()
}

/// The test account: the sample messages of the server tests, then a
/// multipart message with quoted-printable Latin-1 text and a base64
/// attachment, then an HTML-only message.
fn messages() -> Vec<Vec<u8>> {
    use base64::Engine as _;
    let mut all = support::sample_messages();
    let encoded = base64::engine::general_purpose::STANDARD.encode(attachment());
    let lines: Vec<&str> = encoded
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).expect("base64 is ASCII"))
        .collect();
    all.push(
        format!(
            "From: Carol <carol@example.org>\nTo: alice@example.org\nSubject: =?ISO-8859-1?Q?Rapport_=E9t=E9?=\n\
             Date: Mon, 23 Nov 2026 09:30:00 +0100\nMessage-ID: <multipart@mailwire.test>\nMIME-Version: 1.0\n\
             Content-Type: multipart/mixed; boundary=\"b1\"\n\n--b1\n\
             Content-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\n\
             Gr=FC=DFe aus Z=FCrich, the report is attached.=\n Soft break.\n--b1\n\
             Content-Type: application/octet-stream; name=\"report.bin\"\n\
             Content-Disposition: attachment; filename=\"report.bin\"\nContent-Transfer-Encoding: base64\n\n\
             {}\n--b1--\n",
            lines.join("\n")
        )
        .into_bytes(),
    );
    all.push(
        b"From: Dan <dan@example.org>\nTo: alice@example.org\nSubject: HTML only\n\
          Date: Tue, 24 Nov 2026 08:00:00 +0000\nMessage-ID: <html@mailwire.test>\nMIME-Version: 1.0\n\
          Content-Type: text/html; charset=utf-8\n\n\
          <html><head><style>p {color: red}</style></head><body><p>Hello <b>HTML</b> &amp; friends</p></body></html>\n"
            .to_vec(),
    );
    all
}

/// Where the client connects, and where the account's mail lies.
struct Account<'a> {
    server: SocketAddr,
    maildir: PathBuf,
    /// The server's name for logs.
    name: &'a str,
}

fn client_command(server: SocketAddr, args: &[&str]) -> Command {
    let mut command = Command::new(support::example_binary("imap_client"));
    command
        .arg("--server")
        .arg(server.to_string())
        .args(["--tls", "none", "--user", "alice", "--timeout", "20"])
        .args(args)
        .env("MAILWIRE_PASSWORD", "secret")
        .env_remove("RUST_LOG");
    command
}

/// Runs the client and returns what it did.
fn client(server: SocketAddr, args: &[&str]) -> Output {
    support::run(&mut client_command(server, args), b"", Duration::from_secs(60))
}

/// Runs the client, which must succeed, and returns what it printed.
fn ok(account: &Account<'_>, args: &[&str]) -> String {
    let out = client(account.server, args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{}: imap_client {args:?} failed ({}):\n{stdout}\n{}",
        account.name,
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The rows of a table `mailboxes` or `headers` printed: the cells of
/// each line after the head, split on runs of two spaces or more.
fn rows(table: &str) -> Vec<Vec<String>> {
    table
        .lines()
        .skip(1)
        .map(|line| {
            line.split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .collect()
}

/// The `headers` row of message `uid`, if listed.
fn header_row(account: &Account<'_>, mailbox: &str, uid: u32) -> Option<Vec<String>> {
    let table = ok(account, &["headers", "--mailbox", mailbox, "--limit", "100"]);
    rows(&table)
        .into_iter()
        .find(|r| r.first().is_some_and(|c| c == &uid.to_string()))
}

/// What `mailboxes` says of `mailbox`: its special use (empty for none),
/// message count and unseen count.
fn mailbox_row(account: &Account<'_>, mailbox: &str) -> [String; 3] {
    let table = ok(account, &["mailboxes"]);
    let row = rows(&table)
        .into_iter()
        .find(|r| r.first().is_some_and(|c| c == mailbox))
        .unwrap_or_else(|| panic!("{}: no {mailbox} in\n{table}", account.name));
    // MAILBOX [USE] MESSAGES UNSEEN SIZE
    let n = row.len();
    let special = if n == 5 { row[1].clone() } else { String::new() };
    [special, row[n - 3].clone(), row[n - 2].clone()]
}

/// Every file of a Maildir folder (`new/` and `cur/`), line ends made LF.
fn folder_messages(folder: &Path) -> Vec<Vec<u8>> {
    let mut messages = Vec::new();
    for sub in ["new", "cur"] {
        for entry in std::fs::read_dir(folder.join(sub))
            .expect("a Maildir folder")
            .flatten()
        {
            messages.push(support::lf(&std::fs::read(entry.path()).expect("a message file")));
        }
    }
    messages
}

/// Runs every command but `watch` against one account of 8 messages with
/// UIDs 1 to 8 and checks what each prints and changes.
fn every_command(account: &Account<'_>) {
    let name = account.name;
    // mailboxes: counts from LIST-STATUS or STATUS, special uses.
    let inbox = mailbox_row(account, "INBOX");
    assert_eq!(
        inbox[1..3],
        ["8", "8"],
        "{name}: INBOX messages and unseen: {inbox:?}"
    );
    let trash = mailbox_row(account, "Trash");
    assert_eq!(trash[0], "\\Trash", "{name}: {trash:?}");

    // headers: the newest first, from the envelope; encoded words decoded.
    let table = ok(account, &["headers", "--limit", "3"]);
    let listed = rows(&table);
    let uids: Vec<&str> = listed.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(uids, ["8", "7", "6"], "{name}:\n{table}");
    assert!(
        listed[1].last().is_some_and(|s| s == "Rapport été"),
        "{name}:\n{table}"
    );
    assert!(
        listed[1][1] == "2026-11-23 09:30" && listed[1][2] == "Carol",
        "{name}:\n{table}"
    );

    // read --peek: the text part decoded from quoted-printable and
    // Latin-1, the attachment listed, no \Seen.
    let text = ok(account, &["read", "7", "--peek"]);
    assert!(text.contains("Subject: Rapport été"), "{name}:\n{text}");
    assert!(
        text.contains("Grüße aus Zürich, the report is attached. Soft break."),
        "{name}:\n{text}"
    );
    assert!(
        text.contains("[part 2: application/octet-stream \"report.bin\", "),
        "{name}:\n{text}"
    );
    let row = header_row(account, "INBOX", 7).expect("message 7");
    assert!(!row.iter().any(|c| c.contains("\\Seen")), "{name}: {row:?}");

    // read --part: the attachment's octets, to a new file only.
    let dir = TempDir::new("client-part");
    let saved = dir.path().join("report.bin");
    let saved_arg = saved.display().to_string();
    ok(account, &["read", "7", "--part", "2", "--output", &saved_arg]);
    assert!(
        std::fs::read(&saved).expect("the saved part") == attachment(),
        "{name}: the attachment differs"
    );
    std::fs::write(&saved, b"mine").expect("write");
    let again = client(
        account.server,
        &["read", "7", "--part", "2", "--output", &saved_arg],
    );
    assert_eq!(
        again.status.code(),
        Some(5),
        "{name}: an existing file must not be overwritten"
    );
    assert_eq!(std::fs::read(&saved).expect("read"), b"mine");
    // Without --peek the message is now seen.
    let row = header_row(account, "INBOX", 7).expect("message 7");
    assert!(row.iter().any(|c| c.contains("\\Seen")), "{name}: {row:?}");

    // An HTML-only message is shown as text; an 8-bit Latin-1 one decoded.
    let html = ok(account, &["read", "8"]);
    assert!(html.contains("Hello HTML & friends"), "{name}:\n{html}");
    let body = html.split_once("\n\n").map(|(_, b)| b).unwrap_or_default();
    assert!(!body.contains('<') && !body.contains("color"), "{name}:\n{html}");
    let latin = ok(account, &["read", "4", "--peek"]);
    assert!(latin.contains("Grüße, café, © 2026"), "{name}:\n{latin}");

    // copy, move.
    let copied = ok(account, &["copy", "1", "--to", "Sent"]);
    assert!(copied.starts_with("copied 1 -> Sent "), "{name}: {copied}");
    let moved = ok(account, &["move", "2", "--to", "Junk"]);
    assert!(moved.starts_with("moved 2 -> Junk "), "{name}: {moved}");
    assert!(
        header_row(account, "INBOX", 2).is_none(),
        "{name}: message 2 is still in INBOX"
    );
    assert_eq!(mailbox_row(account, "Sent")[1], "1");
    assert_eq!(mailbox_row(account, "Junk")[1], "1");

    // flag: set and clear flags and keywords.
    ok(
        account,
        &["flag", "3", "5", "+\\Flagged", "+$Label1", "+\\Answered"],
    );
    ok(account, &["flag", "5", "-\\Answered"]);
    let row = header_row(account, "INBOX", 3).expect("message 3");
    assert!(
        row.iter()
            .any(|c| c.contains("\\Flagged") && c.contains("$Label1") && c.contains("\\Answered"))
    );
    let row = header_row(account, "INBOX", 5).expect("message 5");
    assert!(
        row.iter()
            .any(|c| c.contains("\\Flagged") && !c.contains("\\Answered")),
        "{row:?}"
    );

    // delete: into the trash, then for good from there.
    let deleted = ok(account, &["delete", "3"]);
    assert!(deleted.starts_with("moved 3 -> Trash "), "{name}: {deleted}");
    let trash_uid: u32 = deleted
        .trim()
        .rsplit(' ')
        .next()
        .and_then(|u| u.parse().ok())
        .expect("a UID");
    assert!(header_row(account, "INBOX", 3).is_none());
    ok(account, &["delete", &trash_uid.to_string(), "--mailbox", "Trash"]);
    assert_eq!(mailbox_row(account, "Trash")[1], "0", "{name}");
    // --expunge deletes at once.
    ok(account, &["delete", "6", "--expunge"]);
    assert!(header_row(account, "INBOX", 6).is_none());
    assert_eq!(mailbox_row(account, "Trash")[1], "0", "{name}");

    // upload: two files (one APPEND with MULTIAPPEND), with flags; the
    // stored messages are the files.
    let first = dir.path().join("one.eml");
    let second = dir.path().join("two.eml");
    std::fs::write(
        &first,
        b"From: me@example.org\nSubject: uploaded one\n\nfirst body\n",
    )
    .expect("write");
    std::fs::write(
        &second,
        b"From: me@example.org\nSubject: uploaded two\n\nsecond body\n",
    )
    .expect("write");
    let uploaded = ok(
        account,
        &[
            "upload",
            &first.display().to_string(),
            &second.display().to_string(),
            "--to",
            "Drafts",
            "--flags",
            "\\Draft,$Upload",
        ],
    );
    assert_eq!(uploaded.lines().count(), 2, "{name}: {uploaded}");
    assert!(
        uploaded.lines().all(|l| l.contains(" to Drafts as UID ")),
        "{name}: {uploaded}"
    );
    let mut stored = folder_messages(&account.maildir.join(".Drafts"));
    stored.sort();
    assert_eq!(
        stored,
        [
            b"From: me@example.org\nSubject: uploaded one\n\nfirst body\n".to_vec(),
            b"From: me@example.org\nSubject: uploaded two\n\nsecond body\n".to_vec()
        ],
        "{name}"
    );
    let drafts = ok(account, &["headers", "--mailbox", "Drafts"]);
    let rows = rows(&drafts);
    assert_eq!(rows.len(), 2, "{name}:\n{drafts}");
    assert!(
        rows.iter()
            .all(|r| r.iter().any(|c| c.contains("\\Draft") && c.contains("$Upload"))),
        "{name}:\n{drafts}"
    );

    // Mistakes get a clear error and an exit status.
    let missing = client(account.server, &["read", "99"]);
    assert_eq!(missing.status.code(), Some(1), "{name}");
    let usage = client(account.server, &["move", "x7", "--to", "Junk"]);
    assert_eq!(usage.status.code(), Some(2), "{name}");
    let zero = client(account.server, &["read", "0"]);
    assert_eq!(zero.status.code(), Some(2), "{name}: UID 0");
    // A stop beyond a year is refused: one of 2^64 - 1 seconds overflowed
    // the deadline and panicked.
    let forever = client(account.server, &["watch", "--stop-after", "31536001"]);
    assert_eq!(forever.status.code(), Some(2), "{name}: watch --stop-after");
    let denied = support::run(
        client_command(account.server, &["mailboxes"]).env("MAILWIRE_PASSWORD", "wrong"),
        b"",
        Duration::from_secs(60),
    );
    assert_eq!(denied.status.code(), Some(4), "{name}: a wrong password");
    // Without MAILWIRE_PASSWORD the password is read from the terminal or,
    // as here, from standard input.
    let piped = support::run(
        client_command(account.server, &["mailboxes"]).env_remove("MAILWIRE_PASSWORD"),
        b"secret\n",
        Duration::from_secs(60),
    );
    assert!(
        piped.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&piped.stderr)
    );
    // Without TLS it says so, once.
    let stderr = String::from_utf8_lossy(&piped.stderr);
    assert_eq!(stderr.matches("--tls none").count(), 1, "{name}: {stderr}");
}

/// A running `watch`, its output lines as they come.
struct Watch {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Watch {
    fn start(server: SocketAddr, seconds: u64) -> Watch {
        let mut child = client_command(server, &["watch", "--stop-after", &seconds.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start imap_client watch");
        let (tx, lines) = mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().expect("stdout")) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().expect("stderr")),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { break };
                    let _ = tx.send(line);
                }
            });
        }
        Watch {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits (at most 20 s) for a line starting with `prefix`.
    fn expect(&mut self, prefix: &str) -> String {
        if let Some(line) = self.seen.iter().find(|l| l.starts_with(prefix)) {
            return line.clone();
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while let Ok(line) = self
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            self.seen.push(line.clone());
            if line.starts_with(prefix) {
                return line;
            }
        }
        panic!(
            "watch printed no line starting with {prefix:?}; it printed:\n{}",
            self.seen.join("\n")
        );
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `watch` prints a new message, a flag change and an expunge made by
/// other clients, through a connection that is cut once on the way: the
/// change made while it was down is reported after it reconnects.
fn watch_reports_changes(account: &Account<'_>) {
    let proxy = proxy::Proxy::start(account.server);
    let via_proxy = Account {
        server: proxy.addr,
        maildir: account.maildir.clone(),
        name: account.name,
    };
    let mut watch = Watch::start(via_proxy.server, 60);
    watch.expect("watching INBOX: ");
    let dir = TempDir::new("watch");
    let file = dir.path().join("new.eml");
    std::fs::write(
        &file,
        b"From: Eve <eve@example.org>\nSubject: while watching\n\nhi\n",
    )
    .expect("write");
    let uploaded = ok(account, &["upload", &file.display().to_string(), "--to", "INBOX"]);
    let uid: u32 = uploaded
        .trim()
        .rsplit(' ')
        .next()
        .and_then(|u| u.parse().ok())
        .expect("APPENDUID");
    let line = watch.expect(&format!("new {uid} "));
    assert!(
        line.ends_with("from Eve: while watching"),
        "{}: {line}",
        account.name
    );
    ok(account, &["flag", &uid.to_string(), "+\\Flagged"]);
    let line = watch.expect(&format!("flags {uid} "));
    assert!(line.contains("\\Flagged"), "{line}");
    ok(account, &["delete", &uid.to_string(), "--expunge"]);
    watch.expect(&format!("vanished {uid}"));

    // The connection drops; meanwhile a message arrives and one goes.
    proxy.cut();
    watch.expect("connection lost");
    std::fs::write(&file, b"From: Fay <fay@example.org>\nSubject: while away\n\nhi\n").expect("write");
    let uploaded = ok(account, &["upload", &file.display().to_string(), "--to", "INBOX"]);
    let away: u32 = uploaded
        .trim()
        .rsplit(' ')
        .next()
        .and_then(|u| u.parse().ok())
        .expect("APPENDUID");
    ok(account, &["delete", "1", "--expunge"]);
    let line = watch.expect(&format!("new {away} "));
    assert!(line.ends_with("from Fay: while away"), "{line}");
    watch.expect("vanished 1");
}

/// A certificate for 127.0.0.1 with its key, as PEM files in `dir`.
fn certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).expect("a certificate");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, certified.cert.pem()).expect("write the certificate");
    std::fs::write(&key, certified.signing_key.serialize_pem()).expect("write the key");
    (cert, key)
}

/// mail_server serving alice, whose account it created (with Drafts,
/// Sent, Junk and Trash) before her messages were delivered.
fn mail_server_account(tag: &str) -> (MailRoot, MailServer) {
    let mail = MailRoot::new(tag, PASSWD, "nobody", &[]);
    let (cert, key) = certificate(mail.dir.path());
    let (cert, key) = (cert.display().to_string(), key.display().to_string());
    let server = MailServer::serving(
        &mail,
        &["--tls-cert", &cert, "--tls-key", &key, "--allow-plaintext-auth"],
    );
    // The first login creates the account; then the mail arrives.
    let first = client(server.imap, &["mailboxes"]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    mail.deliver("alice", &messages());
    (mail, server)
}

#[test]
fn every_command_against_mail_server() {
    let (mail, server) = mail_server_account("client-commands");
    every_command(&Account {
        server: server.imap,
        maildir: mail.maildir("alice"),
        name: "mail_server",
    });
}

#[test]
fn watch_against_mail_server() {
    let (mail, server) = mail_server_account("client-watch");
    watch_reports_changes(&Account {
        server: server.imap,
        maildir: mail.maildir("alice"),
        name: "mail_server",
    });
}

/// The client over IMAPS and over STARTTLS, trusting the server's
/// certificate with --ca-file, and refusing it without.
#[test]
fn implicit_tls_and_starttls_against_mail_server() {
    let (mail, server) = mail_server_account("client-tls");
    let ca = mail.dir.path().join("cert.pem").display().to_string();
    let tls_within = |addr: SocketAddr, mode: &str, ca: Option<&str>, timeout: &str| {
        let mut command = Command::new(support::example_binary("imap_client"));
        command.args([
            "--server",
            &addr.to_string(),
            "--tls",
            mode,
            "--user",
            "alice",
            "--timeout",
            timeout,
        ]);
        if let Some(ca) = ca {
            command.args(["--ca-file", ca]);
        }
        command
            .args(["headers", "--limit", "1"])
            .env("MAILWIRE_PASSWORD", "secret");
        support::run(&mut command, b"", Duration::from_secs(60))
    };
    let tls = |addr: SocketAddr, mode: &str, ca: Option<&str>| tls_within(addr, mode, ca, "20");
    for (addr, mode) in [(server.imaps, "implicit"), (server.imap, "starttls")] {
        let out = tls(addr, mode, Some(&ca));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(!String::from_utf8_lossy(&out.stderr).contains("unencrypted"));
        assert!(
            out.status.success() && stdout.contains("HTML only"),
            "--tls {mode}: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let refused = tls(addr, mode, None);
        assert_eq!(
            refused.status.code(),
            Some(3),
            "--tls {mode}: an unknown certificate must be refused"
        );
        assert!(String::from_utf8_lossy(&refused.stderr).contains("certificate"));
    }
    // STARTTLS asked of an IMAPS port (which waits, silent, for a TLS
    // handshake) fails rather than falling back to plaintext, within the
    // timeout, and says which option fits; so does implicit TLS asked of
    // a port that greets in plain text.
    let started = Instant::now();
    let no_greeting = tls_within(server.imaps, "starttls", Some(&ca), "2");
    let stderr = String::from_utf8_lossy(&no_greeting.stderr);
    assert_eq!(no_greeting.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("no greeting") && stderr.contains("--tls implicit"),
        "{stderr}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    let plain = tls(server.imap, "implicit", Some(&ca));
    let stderr = String::from_utf8_lossy(&plain.stderr);
    assert_eq!(plain.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("without TLS"), "{stderr}");

    // --tls-name is the name checked instead of the host's: the
    // certificate's passes, another is refused.
    for (name, accepted) in [("127.0.0.1", true), ("mail.example.org", false)] {
        let mut command = Command::new(support::example_binary("imap_client"));
        command
            .args(["--server", &server.imaps.to_string(), "--tls", "implicit"])
            .args(["--ca-file", &ca, "--tls-name", name])
            .args(["--user", "alice", "--timeout", "20", "headers", "--limit", "1"])
            .env("MAILWIRE_PASSWORD", "secret");
        let out = support::run(&mut command, b"", Duration::from_secs(60));
        let stderr = String::from_utf8_lossy(&out.stderr);
        if accepted {
            assert!(out.status.success(), "--tls-name {name}: {stderr}");
        } else {
            assert_eq!(out.status.code(), Some(3), "--tls-name {name}: {stderr}");
            assert!(stderr.contains("certificate"), "{stderr}");
        }
    }
}

/// Dovecot with Sent, Drafts, Junk and Trash (with their special uses)
/// and a raw log of everything each session receives.
fn dovecot_account(tag: &str) -> Option<(MailRoot, Dovecot, TempDir)> {
    if !require("dovecot") {
        return None;
    }
    if !is_root() {
        let message =
            "\n\n*** SKIPPED: Dovecot is started as root in this test (it needs a system user) ***\n";
        assert!(std::env::var_os("CI").is_none(), "{message}");
        eprintln!("{message}");
        return None;
    }
    let mail = MailRoot::new(tag, PASSWD, "alice", &messages());
    let rawlog = TempDir::new("dovecot-rawlog");
    support::chown(rawlog.path(), support::DOVECOT_TEST_USER);
    let namespace = "  mailbox Drafts {\n    special_use = \\Drafts\n    auto = create\n  }\n\
                     mailbox Sent {\n    special_use = \\Sent\n    auto = create\n  }\n\
                     mailbox Junk {\n    special_use = \\Junk\n    auto = create\n  }\n\
                     mailbox Trash {\n    special_use = \\Trash\n    auto = create\n  }\n";
    let extra = format!(
        "protocol imap {{\n  rawlog_dir = {}\n}}\n",
        rawlog.path().display()
    );
    let dovecot = Dovecot::start_configured(&mail.root, &mail.users, false, 64, namespace, &extra);
    Some((mail, dovecot, rawlog))
}

/// What the client sent in the sessions Dovecot logged since the last
/// call (the logs are removed once read).
fn received(rawlog: &Path) -> String {
    let mut text = String::new();
    for entry in std::fs::read_dir(rawlog).expect("the rawlog directory").flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "in") {
            text.push_str(&String::from_utf8_lossy(&std::fs::read(&path).expect("a rawlog")));
        }
        let _ = std::fs::remove_file(&path);
    }
    text
}

#[test]
fn every_command_against_dovecot() {
    let Some((mail, dovecot, rawlog)) = dovecot_account("client-dovecot") else {
        return;
    };
    let account = Account {
        server: dovecot.imap,
        maildir: mail.maildir("alice"),
        name: "Dovecot",
    };
    // headers fetches envelopes and no body.
    ok(&account, &["headers", "--limit", "8"]);
    let sent = received(rawlog.path());
    let fetches: Vec<&str> = sent.lines().filter(|l| l.contains("FETCH")).collect();
    assert!(!fetches.is_empty(), "no FETCH in Dovecot's raw log:\n{sent}");
    for line in &fetches {
        assert!(line.contains("ENVELOPE"), "{line}");
        assert!(
            !line.contains('[') && !line.contains("RFC822 ") && !line.contains("RFC822)"),
            "{line}"
        );
    }
    // read fetches the structure, then the text part alone.
    ok(&account, &["read", "7", "--peek"]);
    let sent = received(rawlog.path());
    let parts: Vec<&str> = sent
        .lines()
        .filter(|l| l.contains('['))
        .flat_map(|l| l.split(' ').filter(|w| w.contains('[')))
        .collect();
    assert_eq!(
        parts,
        ["BINARY.PEEK[1])"],
        "read fetched more than its text part:\n{sent}"
    );
    every_command(&account);
}

#[test]
fn watch_against_dovecot() {
    let Some((mail, dovecot, _rawlog)) = dovecot_account("client-dovecot-watch") else {
        return;
    };
    watch_reports_changes(&Account {
        server: dovecot.imap,
        maildir: mail.maildir("alice"),
        name: "Dovecot",
    });
}

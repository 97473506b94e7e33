//! `imap_client sync` against mail_server, Dovecot with QRESYNC, and
//! Dovecot with CONDSTORE and QRESYNC turned off (so the full-scan path
//! runs): the scenarios of the issue, each ending with every mailbox of
//! both sides compared (bodies with LF line ends, flags, the mailbox
//! list). The server side is read and changed by Python's imaplib; the
//! local side is read straight from the Maildir files.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use crate::support::{self, Dovecot, MailRoot, MailServer, TempDir, is_root, require};

/// Mailbox name to its messages: (flags, body with LF line ends), sorted.
type View = BTreeMap<String, Vec<(Vec<String>, String)>>;

/// The server variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    MailServer,
    Dovecot,
    /// Dovecot announcing CONDSTORE but not QRESYNC.
    DovecotCondstore,
    /// Dovecot announcing neither CONDSTORE nor QRESYNC.
    DovecotPlain,
}

/// A server with alice's account, which it can forget the UIDs of.
struct Server {
    kind: Kind,
    mail: MailRoot,
    mail_server: Option<MailServer>,
    dovecot: Option<Dovecot>,
}

/// Dovecot 2.3's capabilities after login, less CONDSTORE and QRESYNC.
const PLAIN_CAPABILITIES: &str = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY \
    THREAD=REFERENCES THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT CHILDREN \
    NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS \
    BINARY MOVE STATUS=SIZE LITERAL+ SPECIAL-USE";

const NAMESPACE: &str = "  mailbox Drafts {\n    special_use = \\Drafts\n    auto = create\n  }\n\
                         mailbox Sent {\n    special_use = \\Sent\n    auto = create\n  }\n\
                         mailbox Junk {\n    special_use = \\Junk\n    auto = create\n  }\n\
                         mailbox Trash {\n    special_use = \\Trash\n    auto = create\n  }\n";

impl Server {
    fn start(kind: Kind, tag: &str) -> Option<Server> {
        if !require("python3") {
            return None;
        }
        if kind != Kind::MailServer && (!require("dovecot") || !dovecot_as_root()) {
            return None;
        }
        let mail = MailRoot::new(tag, crate::PASSWD, "nobody", &[]);
        let mut server = Server {
            kind,
            mail,
            mail_server: None,
            dovecot: None,
        };
        server.launch();
        Some(server)
    }

    fn launch(&mut self) {
        match self.kind {
            Kind::MailServer => {
                self.mail_server = Some(MailServer::serving(&self.mail, &["--allow-plaintext-auth"]));
            }
            Kind::Dovecot | Kind::DovecotCondstore | Kind::DovecotPlain => {
                let capabilities = match self.kind {
                    Kind::DovecotPlain => PLAIN_CAPABILITIES.to_owned(),
                    Kind::DovecotCondstore => format!("{PLAIN_CAPABILITIES} CONDSTORE"),
                    _ => String::new(),
                };
                let extra = if capabilities.is_empty() {
                    String::new()
                } else {
                    format!("protocol imap {{\n  imap_capability = {capabilities}\n}}\n")
                };
                self.dovecot = Some(Dovecot::start_configured(
                    &self.mail.root,
                    &self.mail.users,
                    false,
                    64,
                    NAMESPACE,
                    &extra,
                ));
            }
        }
    }

    fn addr(&self) -> SocketAddr {
        match (&self.mail_server, &self.dovecot) {
            (Some(m), _) => m.imap,
            (_, Some(d)) => d.imap,
            _ => unreachable!("a server runs"),
        }
    }

    /// Stops the server, removes what ties UIDs to its messages (so it
    /// numbers them anew under a new UIDVALIDITY), and starts it again.
    fn reset_uids(&mut self) {
        self.mail_server = None;
        if let Some(mut d) = self.dovecot.take() {
            d.stop();
        }
        let maildir = self.mail.maildir("alice");
        let mut dirs = vec![maildir.clone()];
        for entry in std::fs::read_dir(&maildir).expect("the Maildir").flatten() {
            if entry.file_name().to_string_lossy().starts_with('.') && entry.path().is_dir() {
                dirs.push(entry.path());
            }
        }
        for dir in dirs {
            for entry in std::fs::read_dir(&dir).expect("a folder").flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with("dovecot-uidlist")
                    || name.starts_with("dovecot.index")
                    || name.starts_with("mailwire-")
                {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        let _ = std::fs::remove_file(maildir.join("dovecot-uidvalidity"));
        // UIDVALIDITY is a time in seconds: make sure it differs.
        std::thread::sleep(Duration::from_millis(1100));
        self.launch();
    }

    /// Runs imaplib operations (see server_side.py) and returns what it
    /// printed.
    fn imaplib(&self, operations: &serde_like::Json) -> String {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/imap_client/server_side.py");
        let addr = self.addr();
        let out = support::run(
            Command::new("python3")
                .arg(script)
                .args([addr.ip().to_string(), addr.port().to_string()])
                .args(["alice", "secret"]),
            operations.0.as_bytes(),
            Duration::from_secs(120),
        );
        assert!(
            out.status.success(),
            "imaplib {}: {}\n{}",
            operations.0,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Every mailbox on the server.
    fn view(&self) -> View {
        let text = self.imaplib(&serde_like::Json("[[\"dump\"]]".into()));
        serde_like::parse_dump(text.trim())
    }
}

fn dovecot_as_root() -> bool {
    if is_root() {
        return true;
    }
    let message = "\n\n*** SKIPPED: Dovecot is started as root in this test (it needs a system user) ***\n";
    assert!(std::env::var_os("CI").is_none(), "{message}");
    eprintln!("{message}");
    false
}

/// A tiny JSON writer and the reader of server_side.py's dump (the
/// workspace has no JSON crate, and the dump's shape is fixed).
mod serde_like {
    use super::View;

    /// JSON text.
    pub struct Json(pub String);

    pub fn string(s: &str) -> String {
        let mut out = String::from("\"");
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    /// `[[op, args...], ...]` from string and number arguments.
    pub fn ops(ops: &[&[&str]]) -> Json {
        let items: Vec<String> = ops
            .iter()
            .map(|op| {
                let args: Vec<String> = op
                    .iter()
                    .map(|a| {
                        if a.parse::<u32>().is_ok() {
                            (*a).to_owned()
                        } else {
                            string(a)
                        }
                    })
                    .collect();
                format!("[{}]", args.join(","))
            })
            .collect();
        Json(format!("[{}]", items.join(",")))
    }

    #[derive(Debug)]
    enum Value {
        Str(String),
        Num,
        List(Vec<Value>),
        Map(Vec<(String, Value)>),
    }

    fn parse(s: &[char], i: &mut usize) -> Value {
        while s[*i].is_whitespace() {
            *i += 1;
        }
        match s[*i] {
            '"' => {
                *i += 1;
                let mut out = String::new();
                while s[*i] != '"' {
                    if s[*i] == '\\' {
                        *i += 1;
                        match s[*i] {
                            'n' => out.push('\n'),
                            'r' => out.push('\r'),
                            't' => out.push('\t'),
                            'u' => {
                                let hex: String = s[*i + 1..*i + 5].iter().collect();
                                out.push(
                                    char::from_u32(u32::from_str_radix(&hex, 16).unwrap()).unwrap_or('?'),
                                );
                                *i += 4;
                            }
                            c => out.push(c),
                        }
                    } else {
                        out.push(s[*i]);
                    }
                    *i += 1;
                }
                *i += 1;
                Value::Str(out)
            }
            '[' | '{' => {
                let map = s[*i] == '{';
                *i += 1;
                let (mut list, mut entries) = (Vec::new(), Vec::new());
                loop {
                    while s[*i].is_whitespace() || s[*i] == ',' {
                        *i += 1;
                    }
                    if s[*i] == ']' || s[*i] == '}' {
                        *i += 1;
                        break;
                    }
                    if map {
                        let Value::Str(key) = parse(s, i) else {
                            panic!("a key")
                        };
                        while s[*i].is_whitespace() || s[*i] == ':' {
                            *i += 1;
                        }
                        entries.push((key, parse(s, i)));
                    } else {
                        list.push(parse(s, i));
                    }
                }
                if map {
                    Value::Map(entries)
                } else {
                    Value::List(list)
                }
            }
            _ => {
                let start = *i;
                while s[*i].is_ascii_digit() {
                    *i += 1;
                }
                assert!(*i > start, "a number at {start}");
                Value::Num
            }
        }
    }

    pub fn parse_dump(text: &str) -> View {
        let chars: Vec<char> = text.chars().collect();
        let Value::Map(entries) = parse(&chars, &mut 0) else {
            panic!("a dump: {text}")
        };
        let mut view = View::new();
        for (name, messages) in entries {
            let Value::List(messages) = messages else {
                panic!("messages")
            };
            let mut list = Vec::new();
            for m in messages {
                let Value::List(parts) = m else {
                    panic!("a message")
                };
                let mut parts = parts.into_iter();
                let (Some(Value::List(flags)), Some(Value::Str(body)), Some(Value::Num)) =
                    (parts.next(), parts.next(), parts.next())
                else {
                    panic!("a message's parts")
                };
                let flags = flags
                    .into_iter()
                    .map(|f| match f {
                        Value::Str(f) => f,
                        other => panic!("a flag: {other:?}"),
                    })
                    .collect();
                list.push((flags, body));
            }
            list.sort();
            view.insert(name, list);
        }
        view
    }
}

/// Every mailbox of a Maildir++ read from its files: flags from the
/// `:2,` info and dovecot-keywords.
fn local_view(maildir: &Path) -> View {
    let mut view = View::new();
    let mut folders = vec![("INBOX".to_owned(), maildir.to_path_buf())];
    for entry in std::fs::read_dir(maildir).expect("the mirror").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(folder) = name.strip_prefix('.') {
            if entry.path().join("cur").is_dir() {
                folders.push((folder.replace('.', "/"), entry.path()));
            }
        }
    }
    for (name, dir) in folders {
        let keywords: BTreeMap<char, String> = std::fs::read_to_string(dir.join("dovecot-keywords"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let (n, k) = l.split_once(' ')?;
                Some((char::from(b'a' + n.parse::<u8>().ok()?), k.to_owned()))
            })
            .collect();
        let mut messages = Vec::new();
        for sub in ["new", "cur"] {
            for entry in std::fs::read_dir(dir.join(sub)).into_iter().flatten().flatten() {
                let file = entry.file_name().to_string_lossy().into_owned();
                let info = file.rsplit_once(":2,").map(|(_, i)| i).unwrap_or("");
                let mut flags: Vec<String> = info
                    .chars()
                    .filter_map(|c| match c {
                        'D' => Some("\\Draft".to_owned()),
                        'F' => Some("\\Flagged".to_owned()),
                        'R' => Some("\\Answered".to_owned()),
                        'S' => Some("\\Seen".to_owned()),
                        'T' => Some("\\Deleted".to_owned()),
                        c => keywords.get(&c).cloned(),
                    })
                    .collect();
                flags.sort();
                let body = support::lf(&std::fs::read(entry.path()).expect("a message"));
                messages.push((flags, String::from_utf8_lossy(&body).into_owned()));
            }
        }
        messages.sort();
        view.insert(name, messages);
    }
    view
}

/// A message as a reader of a failure wants it: its subject and flags.
fn brief(messages: &[(Vec<String>, String)]) -> Vec<String> {
    messages
        .iter()
        .map(|(flags, body)| {
            let subject = body
                .lines()
                .find_map(|l| l.strip_prefix("Subject: "))
                .unwrap_or("(no subject)");
            format!("{subject} ({}) {} bytes", flags.join(" "), body.len())
        })
        .collect()
}

/// The two sides hold the same mailboxes, messages and flags.
fn assert_same(server: &Server, maildir: &Path, what: &str) -> View {
    let remote = server.view();
    let local = local_view(maildir);
    if remote != local {
        let mut report = String::new();
        let names: std::collections::BTreeSet<&String> = remote.keys().chain(local.keys()).collect();
        for name in names {
            let (r, l) = (remote.get(name), local.get(name));
            if r != l {
                let r = r.map(|m| brief(m)).unwrap_or_default();
                let l = l.map(|m| brief(m)).unwrap_or_default();
                let only_r: Vec<&String> = r.iter().filter(|m| !l.contains(m)).collect();
                let only_l: Vec<&String> = l.iter().filter(|m| !r.contains(m)).collect();
                report.push_str(&format!(
                    "{name}: {} on the server, {} here\n  only on the server: {only_r:?}\n  only here: {only_l:?}\n",
                    r.len(),
                    l.len()
                ));
            }
        }
        if let Some(keep) = std::env::var_os("MAILWIRE_KEEP_FAILED") {
            let _ = Command::new("cp").arg("-a").arg(maildir).arg(&keep).status();
        }
        panic!("{:?} {what}: the two sides differ\n{report}", server.kind);
    }
    remote
}

fn sync_command(server: &Server, maildir: &Path, extra: &[&str]) -> Command {
    sync_command_to(server.addr(), maildir, extra)
}

/// [`sync_command`] through another address (a proxy's).
pub fn sync_command_to(server: SocketAddr, maildir: &Path, extra: &[&str]) -> Command {
    let mut command = Command::new(support::example_binary("imap_client"));
    command
        .args([
            "--server",
            &server.to_string(),
            "--tls",
            "none",
            "--user",
            "alice",
            "--timeout",
            "30",
        ])
        .arg("sync")
        .arg("--maildir")
        .arg(maildir)
        .args(extra)
        .env("MAILWIRE_PASSWORD", "secret")
        .env_remove("RUST_LOG");
    command
}

/// Runs a sync, which must succeed, and returns what it printed.
fn sync(server: &Server, maildir: &Path, what: &str) -> String {
    let out: Output = support::run(
        &mut sync_command(server, maildir, &[]),
        b"",
        Duration::from_secs(180),
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{:?} {what}: sync failed ({}):\n{stdout}\n{}",
        server.kind,
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    // Shown when a test fails.
    eprintln!("{:?} {what}:\n{stdout}", server.kind);
    stdout
}

fn message(n: &str, body: &str) -> String {
    format!(
        "From: Sync Test <sync@example.org>\nTo: alice@example.org\nSubject: {n}\nMessage-ID: <{n}@sync.test>\n\
         Date: Wed, 25 Nov 2026 12:00:00 +0000\n\n{body}\n"
    )
}

/// The files of a local folder, by name.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for sub in ["new", "cur"] {
        for entry in std::fs::read_dir(dir.join(sub)).into_iter().flatten().flatten() {
            out.push(entry.path());
        }
    }
    out.sort();
    out
}

/// The local file whose Subject is `subject`.
fn file_with(dir: &Path, subject: &str) -> PathBuf {
    files(dir)
        .into_iter()
        .find(|p| {
            std::fs::read_to_string(p).is_ok_and(|t| t.lines().any(|l| l == format!("Subject: {subject}")))
        })
        .unwrap_or_else(|| panic!("no message {subject:?} in {}", dir.display()))
}

/// Sets a local file's system flags (Maildir info letters), moving it to
/// `cur/`.
fn set_local_flags(path: &Path, letters: &str) {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let base = name.split_once(":2,").map_or(name.as_str(), |(b, _)| b);
    let keep: String = name
        .split_once(":2,")
        .map(|(_, i)| i.chars().filter(char::is_ascii_lowercase).collect())
        .unwrap_or_default();
    let mut info: Vec<char> = format!("{letters}{keep}").chars().collect();
    info.sort();
    let folder = path.parent().unwrap().parent().unwrap();
    let target = folder
        .join("cur")
        .join(format!("{base}:2,{}", info.into_iter().collect::<String>()));
    std::fs::rename(path, target).expect("rename a message file");
}

/// How many messages each side gets before the runs that are killed.
const BURST: usize = 60;

/// Every scenario against one server.
fn scenarios(kind: Kind) {
    let Some(mut server) = Server::start(kind, &format!("sync-{kind:?}")) else {
        return;
    };
    // The account: INBOX, Sent, Archive/2026 under Archive, and two
    // mailboxes the server renames and deletes later.
    let mut setup: Vec<Vec<String>> = vec![
        vec!["create".into(), "Archive".into()],
        vec!["create".into(), "Archive/2026".into()],
        vec!["create".into(), "Old".into()],
        vec!["append".into(), "Old".into(), "()".into(), message("old1", "old")],
        vec!["create".into(), "Gone".into()],
        vec![
            "append".into(),
            "Gone".into(),
            "()".into(),
            message("gone1", "gone"),
        ],
    ];
    for i in 1..=6 {
        let flags = if i % 2 == 0 { "(\\Seen)" } else { "()" };
        setup.push(vec![
            "append".into(),
            "INBOX".into(),
            flags.into(),
            message(&format!("in{i}"), "inbox text"),
        ]);
    }
    for i in 1..=2 {
        setup.push(vec![
            "append".into(),
            "Archive/2026".into(),
            "($Archived)".into(),
            message(&format!("ar{i}"), "archived"),
        ]);
    }
    setup.push(vec![
        "append".into(),
        "Sent".into(),
        "(\\Seen)".into(),
        message("sent1", "sent"),
    ]);
    let owned: Vec<Vec<&str>> = setup
        .iter()
        .map(|op| op.iter().map(String::as_str).collect())
        .collect();
    let refs: Vec<&[&str]> = owned.iter().map(Vec::as_slice).collect();
    server.imaplib(&serde_like::ops(&refs));

    let mirror = TempDir::new("sync-mirror");
    let dir = mirror.path().join("mail");

    // 1. The first sync of an account with several mailboxes.
    let first = sync(&server, &dir, "first sync");
    assert!(first.contains(" 11 downloaded"), "{kind:?}: {first}");
    let view = assert_same(&server, &dir, "after the first sync");
    assert!(view.contains_key("Archive/2026") && view["INBOX"].len() == 6);
    // A second run with nothing changed transfers nothing and says so.
    let method = match kind {
        Kind::MailServer | Kind::Dovecot => "(QRESYNC)",
        Kind::DovecotCondstore => "(CONDSTORE)",
        Kind::DovecotPlain => "(full scans)",
    };
    assert!(first.contains(method), "{kind:?}: {first}");
    let again = sync(&server, &dir, "second sync");
    assert!(
        again.contains("nothing changed, no message transferred"),
        "{kind:?}: {again}"
    );

    // 2. Changes made on the server by imaplib.

    server.imaplib(&serde_like::ops(&[
        &["flag", "INBOX", "1", "+FLAGS ($Work \\Flagged)"],
        &["flag", "INBOX", "2", "-FLAGS (\\Seen)"],
        &["move", "INBOX", "3", "Archive/2026"],
        &["expunge", "INBOX", "4"],
        &[
            "append",
            "INBOX",
            "(\\Answered)",
            &message("new-on-server", "fresh"),
        ],
        &["create", "Projects"],
        &["append", "Projects", "()", &message("project1", "plans")],
        &["rename", "Old", "Renamed"],
        &["delete", "Gone"],
    ]));
    let out = sync(&server, &dir, "server changes");
    assert!(
        !out.contains("uploaded: "),
        "{kind:?}: nothing was new here:\n{out}"
    );
    assert!(
        out.contains("renamed on the server: Old -> Renamed"),
        "{kind:?}: {out}"
    );
    assert!(out.contains("deleted on the server: Gone"), "{kind:?}: {out}");
    assert_same(&server, &dir, "after changes on the server");

    // 3. Changes made in the local Maildir.
    set_local_flags(&file_with(&dir, "in5"), "FS");
    std::fs::remove_file(file_with(&dir, "in6")).expect("delete a local message");
    let moved = file_with(&dir, "in2");
    std::fs::rename(
        &moved,
        dir.join(".Archive").join("cur").join(moved.file_name().unwrap()),
    )
    .expect("move a message between folders");
    std::fs::write(
        dir.join("new").join("1764000000.local1.test"),
        message("local-new", "from here"),
    )
    .unwrap();
    std::fs::write(
        dir.join(".Sent").join("cur").join("1764000001.local2.test:2,S"),
        message("local-sent", "sent here"),
    )
    .unwrap();
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(dir.join(".Local").join(sub)).unwrap();
    }
    std::fs::write(
        dir.join(".Local").join("new").join("1764000002.local3.test"),
        message("local-folder", "x"),
    )
    .unwrap();
    // --dry-run says what would change and changes nothing.
    let (server_before, local_before) = (server.view(), local_view(&dir));
    let dry = support::run(
        &mut sync_command(&server, &dir, &["--dry-run"]),
        b"",
        Duration::from_secs(180),
    );
    let dry_out = String::from_utf8_lossy(&dry.stdout);
    assert!(dry.status.success(), "{kind:?}: {dry_out}");
    for expected in [
        "would be moved on the server: INBOX ",
        "would be created on the server: Local",
        "would be deleted on the server: INBOX ",
        "would be uploaded: Sent",
        " 3 would be uploaded",
    ] {
        assert!(
            dry_out.contains(expected),
            "{kind:?}: --dry-run did not say {expected:?}:\n{dry_out}"
        );
    }
    assert!(
        server.view() == server_before,
        "{kind:?}: --dry-run changed the server"
    );
    assert!(
        local_view(&dir) == local_before,
        "{kind:?}: --dry-run changed the mirror"
    );
    let out = sync(&server, &dir, "local changes");
    assert!(
        out.contains("moved on the server: INBOX "),
        "{kind:?}: the move must be a MOVE:\n{out}"
    );
    assert!(out.contains(" 3 uploaded"), "{kind:?}: {out}");
    assert!(out.contains("created on the server: Local"), "{kind:?}: {out}");
    assert_same(&server, &dir, "after local changes");

    // 4. Both sides changed the same messages.

    let uid_of = |mailbox: &str, subject: &str| -> String {
        let dump = server.imaplib(&serde_like::Json("[[\"dump\"]]".into()));
        uid_in_dump(&dump, mailbox, subject)
    };

    let (x, y, z) = (
        uid_of("INBOX", "in1"),
        uid_of("INBOX", "in5"),
        uid_of("INBOX", "new-on-server"),
    );
    set_local_flags(&file_with(&dir, "in1"), "R"); // \Answered here...
    std::fs::remove_file(file_with(&dir, "in5")).unwrap(); // deleted here...
    set_local_flags(&file_with(&dir, "new-on-server"), "RS"); // changed here...
    server.imaplib(&serde_like::ops(&[
        &["flag", "INBOX", &x, "+FLAGS (\\Seen)"],     // ...\Seen there
        &["flag", "INBOX", &y, "+FLAGS ($Important)"], // ...changed there: kept
        &["expunge", "INBOX", &z],                     // ...deleted there: kept
    ]));
    sync(&server, &dir, "changes on both sides");
    let view = assert_same(&server, &dir, "after changes on both sides");
    let flags_of = |subject: &str| -> Vec<String> {
        view["INBOX"]
            .iter()
            .find(|(_, body)| body.contains(&format!("Subject: {subject}\n")))
            .map(|(f, _)| f.clone())
            .unwrap_or_else(|| panic!("{kind:?}: {subject} is gone"))
    };
    let in1 = flags_of("in1");
    assert!(
        in1.contains(&"\\Answered".to_owned()) && in1.contains(&"\\Seen".to_owned()),
        "{kind:?}: {in1:?}"
    );
    assert!(flags_of("in5").contains(&"$Important".to_owned()));
    flags_of("new-on-server");

    // A folder removed by hand deletes nothing on the server: it comes
    // back whole.
    let archive_before = server.view()["Archive"].clone();
    assert!(!archive_before.is_empty());
    std::fs::remove_dir_all(dir.join(".Archive")).expect("remove a local folder");
    let out = sync(&server, &dir, "a local folder removed");
    assert!(
        out.contains("deleted here, so downloaded again: Archive"),
        "{kind:?}: {out}"
    );
    let view = assert_same(&server, &dir, "after a local folder was removed");
    assert_eq!(view["Archive"], archive_before, "{kind:?}: the server lost mail");

    // 5. Two mirrors of one account converge.
    let second = mirror.path().join("second");
    sync(&server, &second, "second mirror");
    set_local_flags(&file_with(&dir, "in1"), "F");
    sync(&server, &dir, "a change in the first mirror");
    sync(&server, &second, "the second mirror catches up");
    let view = assert_same(&server, &second, "two mirrors");
    assert_eq!(view, local_view(&dir), "{kind:?}: the two mirrors differ");

    // 6. A UIDVALIDITY reset loses and duplicates nothing.
    let before = server.view();
    server.reset_uids();
    let out = sync(&server, &dir, "after a UIDVALIDITY reset");
    let transferred_nothing = out.contains("no message transferred")
        || (out.contains(" 0 downloaded") && out.contains(" 0 uploaded"));
    assert!(
        out.contains("UIDVALIDITY changed") && transferred_nothing,
        "{kind:?}: {out}"
    );
    let after = assert_same(&server, &dir, "after a UIDVALIDITY reset");
    assert_eq!(after, before, "{kind:?}: the reset changed the messages");

    // 7. kill -9 at random moments in a loop of syncs.
    let mut ops: Vec<Vec<String>> = Vec::new();
    for i in 0..BURST {
        ops.push(vec![
            "append".into(),
            "INBOX".into(),
            "()".into(),
            message(&format!("burst{i}"), &"x".repeat(2_000)),
        ]);
        std::fs::write(
            dir.join(".Archive")
                .join("new")
                .join(format!("1764100000.burst{i}.test")),
            message(&format!("local-burst{i}"), &"y".repeat(2_000)),
        )
        .unwrap();
    }
    let owned: Vec<Vec<&str>> = ops
        .iter()
        .map(|op| op.iter().map(String::as_str).collect())
        .collect();
    let refs: Vec<&[&str]> = owned.iter().map(Vec::as_slice).collect();
    server.imaplib(&serde_like::ops(&refs));
    let mut rng = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64
        | 1;
    for round in 0..10 {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let delay = Duration::from_millis(5 + rng % 150);
        let mut child = sync_command(&server, &dir, &[])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start a sync");
        std::thread::sleep(delay);
        let _ = Command::new("kill")
            .args(["-KILL", &child.id().to_string()])
            .status();
        let status = child.wait().expect("wait for the sync");
        eprintln!("{kind:?}: kill round {round} after {delay:?}: {status}");
    }
    // The server may still be storing what the last killed run sent: a
    // copy it stores after the next run listed the mailbox is deleted by
    // the run after that (a later step tests it), but this
    // step compares the two sides right after one run.
    std::thread::sleep(Duration::from_millis(500));
    sync(&server, &dir, "after the killed runs");
    let view = assert_same(&server, &dir, "after the killed runs");
    let count = |prefix: &str| {
        view.values()
            .flatten()
            .filter(|(_, b)| b.contains(&format!("Subject: {prefix}")))
            .count()
    };
    assert_eq!(
        count("burst"),
        BURST,
        "{kind:?}: server messages lost or duplicated"
    );
    assert_eq!(
        count("local-burst"),
        BURST,
        "{kind:?}: local messages lost or duplicated"
    );
    let last = sync(&server, &dir, "the run after");
    assert!(last.contains("nothing changed"), "{kind:?}: {last}");

    // A pair the state lost (a run that could not record it) is found
    // again by its message, whatever way the server's changes are learnt:
    // nothing is uploaded twice.
    let state_file = dir.join("mailwire-sync").join("state");
    let state = std::fs::read_to_string(&state_file).expect("the state");
    let forgotten = state
        .lines()
        .find(|l| l.starts_with("P\tINBOX\t"))
        .expect("a pair")
        .to_owned();
    std::fs::write(&state_file, state.replacen(&format!("{forgotten}\n"), "", 1)).unwrap();
    let out = sync(&server, &dir, "a pair forgotten");
    assert!(
        !out.contains("uploaded:") && !out.contains("downloaded:"),
        "{kind:?}: {out}"
    );
    assert!(
        out.contains("no message transferred") || out.contains(" 0 uploaded"),
        "{kind:?}: {out}"
    );
    assert_same(&server, &dir, "after a pair was forgotten");

    // An upload stored by the server after the next run listed the
    // mailbox: the run that sent it was killed before the answer (its `U`
    // record stands), the next one uploaded the message again, and now
    // the first copy appears. It is deleted on the server, not downloaded;
    // a copy without such a record is someone else's, and is kept.
    let twice = message("upload-twice", "sent by a run killed before the answer");
    std::fs::write(dir.join("new").join("1764200000.twice.test"), &twice).unwrap();
    let out = sync(&server, &dir, "an upload");
    assert!(
        out.contains("uploaded: INBOX") || out.contains(" 1 uploaded"),
        "{kind:?}: {out}"
    );
    let dump = server.imaplib(&serde_like::Json("[[\"dump\"]]".into()));
    let first = uid_in_dump(&dump, "INBOX", "upload-twice");
    let local_uid = paired_local(&dir, "INBOX", &first);
    let count_twice = |view: &View| {
        view["INBOX"]
            .iter()
            .filter(|(_, b)| b.contains("Subject: upload-twice\n"))
            .count()
    };
    server.imaplib(&serde_like::ops(&[&["append", "INBOX", "()", &twice]]));
    let journal = state_file.with_file_name("journal");
    let mut records = std::fs::read_to_string(&journal).unwrap_or_default();
    let sent = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    records.push_str(&format!("U\tINBOX\t{local_uid}\t{sent}\n"));
    std::fs::write(&journal, records).unwrap();
    let out = sync(&server, &dir, "a cut-off upload's copy appears");
    assert!(
        out.contains("second copies of uploads a run cut off: INBOX") && out.contains(" 0 downloaded"),
        "{kind:?}: {out}"
    );
    let view = assert_same(&server, &dir, "after a cut-off upload's copy");
    assert_eq!(count_twice(&view), 1, "{kind:?}: the copy was kept");
    let out = sync(&server, &dir, "the run after");
    assert!(out.contains("nothing changed"), "{kind:?}: {out}");
    // The record was answered: another copy is someone else's.
    server.imaplib(&serde_like::ops(&[&["append", "INBOX", "()", &twice]]));
    let out = sync(&server, &dir, "a copy made on the server");
    assert!(!out.contains("second copies"), "{kind:?}: {out}");
    let view = assert_same(&server, &dir, "after a copy made on the server");
    assert_eq!(
        count_twice(&view),
        2,
        "{kind:?}: a copy made on the server was lost"
    );

    // --mailbox mirrors only the mailboxes its pattern names.
    let some = mirror.path().join("some");
    let out = support::run(
        &mut sync_command(&server, &some, &["--mailbox", "Archive*"]),
        b"",
        Duration::from_secs(180),
    );
    assert!(
        out.status.success(),
        "{kind:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let partial = local_view(&some);
    let names: Vec<&String> = partial.keys().filter(|n| *n != "INBOX").collect();
    assert_eq!(names, ["Archive", "Archive/2026"], "{kind:?}");
    assert!(partial["INBOX"].is_empty(), "{kind:?}: INBOX was mirrored");
    let server_now = server.view();
    assert_eq!(partial["Archive/2026"], server_now["Archive/2026"], "{kind:?}");

    // 8. mbsync on the same account reaches the same messages and flags.
    mbsync_agrees(&server, &dir);
}

/// mbsync, run on the same account, reaches the messages and flags the
/// mirror holds (system flags only: mbsync keeps no keywords).
fn mbsync_agrees(server: &Server, mirror: &Path) {
    if !require("mbsync") {
        return;
    }
    let work = TempDir::new("sync-mbsync");
    let local = work.path().join("Maildir");
    let config = work.path().join("mbsyncrc");
    std::fs::write(
        &config,
        format!(
            "IMAPAccount server\nHost 127.0.0.1\nPort {}\nUser alice\nPass secret\nSSLType None\nAuthMechs LOGIN\n\n\
             IMAPStore remote\nAccount server\n\n\
             MaildirStore local\nInbox {}\nSubFolders Maildir++\n\n\
             Channel mirror\nFar :remote:\nNear :local:\nPatterns *\nCreate Near\nSync Pull\nSyncState *\n",
            server.addr().port(),
            local.display()
        ),
    )
    .expect("write the mbsync configuration");
    let out = support::run(
        Command::new("mbsync").arg("-c").arg(&config).arg("-a"),
        b"",
        Duration::from_secs(180),
    );
    assert!(
        out.status.success(),
        "mbsync failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // mbsync may add an X-TUID header; keywords it does not keep.
    let comparable = |view: View| -> View {
        view.into_iter()
            .map(|(name, messages)| {
                let mut messages: Vec<(Vec<String>, String)> = messages
                    .into_iter()
                    .map(|(flags, body)| {
                        let flags = flags.into_iter().filter(|f| f.starts_with('\\')).collect();
                        let body = body
                            .split_inclusive('\n')
                            .filter(|l| !l.starts_with("X-TUID: "))
                            .collect();
                        (flags, body)
                    })
                    .collect();
                messages.sort();
                (name, messages)
            })
            .collect()
    };
    let theirs = comparable(local_view(&local));
    let ours = comparable(local_view(mirror));
    if theirs != ours {
        let names = |v: &View| {
            v.iter()
                .map(|(k, m)| format!("{k}:{:?}", brief(m)))
                .collect::<Vec<_>>()
        };
        panic!(
            "{:?}: mbsync and the mirror differ\nmbsync: {:#?}\nmirror: {:#?}",
            server.kind,
            names(&theirs),
            names(&ours)
        );
    }
}

/// The local UID the mirror's state pairs with server UID `remote`.
fn paired_local(mirror: &Path, mailbox: &str, remote: &str) -> String {
    let dir = mirror.join("mailwire-sync");
    let mut text = std::fs::read_to_string(dir.join("state")).unwrap_or_default();
    text.push_str(&std::fs::read_to_string(dir.join("journal")).unwrap_or_default());
    let prefix = format!("P\t{mailbox}\t{remote}\t");
    text.lines()
        .rev()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|rest| rest.split('\t').next())
        .unwrap_or_else(|| panic!("no pair for {mailbox} {remote} in the state"))
        .to_owned()
}

/// The UID of the message with `subject` in a dump.
fn uid_in_dump(dump: &str, mailbox: &str, subject: &str) -> String {
    let start = dump
        .find(&format!("\"{mailbox}\": ["))
        .unwrap_or_else(|| panic!("no {mailbox} in the dump"));
    let rest = &dump[start..];
    let at = rest
        .find(&format!("Subject: {subject}\\n"))
        .unwrap_or_else(|| panic!("no {subject} in {mailbox}"));
    let after = &rest[at..];
    let close = after.find("\", ").expect("the body's end") + 3;
    after[close..].chars().take_while(char::is_ascii_digit).collect()
}

#[test]
fn sync_with_mail_server() {
    scenarios(Kind::MailServer);
}

#[test]
fn sync_with_dovecot_qresync() {
    scenarios(Kind::Dovecot);
}

#[test]
fn sync_with_dovecot_condstore_only() {
    scenarios(Kind::DovecotCondstore);
}

#[test]
fn sync_with_dovecot_without_condstore() {
    scenarios(Kind::DovecotPlain);
}

/// Every SELECT that opens a mailbox read-write is answered with a
/// VANISHED (EARLIER) of every UID first.
fn everything_vanished_earlier(line: &[u8]) -> Option<Vec<u8>> {
    let (_, rest) = line.split_at(line.iter().position(|&b| b == b' ')?);
    if !rest.starts_with(b" OK [READ-WRITE]") {
        return None;
    }
    let mut out = b"* VANISHED (EARLIER) 1:4294967295\r\n".to_vec();
    out.extend_from_slice(line);
    Some(out)
}

/// A SELECT (QRESYNC) answered with a VANISHED (EARLIER) of four billion
/// UIDs: the sync looks its pairs up in the set instead of walking the
/// set into a list, and takes the server at its word (the messages are
/// gone) within a bounded address space.
#[test]
fn a_vanished_set_of_every_uid_is_looked_up() {
    let Some(server) = Server::start(Kind::MailServer, "sync-hostile") else {
        return;
    };
    // The first login creates the account; the messages then arrive.
    server.imaplib(&serde_like::Json("[]".into()));
    let messages: Vec<Vec<u8>> = (1..=3)
        .map(|i| message(&format!("hostile{i}"), "text").into_bytes())
        .collect();
    server.mail.deliver("alice", &messages);
    let mirror = TempDir::new("sync-hostile-mirror");
    let dir = mirror.path().join("mail");
    sync(&server, &dir, "the first run");
    assert_eq!(files(&dir).len(), 3, "the first run mirrored the messages");
    let proxy = crate::proxy::Proxy::rewriting(server.addr(), Some(everything_vanished_earlier));
    let mut command = crate::hostile::limited(&sync_command_to(proxy.addr, &dir, &[]));
    let out = support::run(&mut command, b"", Duration::from_secs(120));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the sync failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        files(&dir).is_empty(),
        "the messages the server called gone are kept:\n{stdout}"
    );
}

/// Runs a sync through a proxy that makes a line of the server's
/// unreadable with `rewrite`; the sync must succeed and say it met a line
/// that does not parse. Returns what it printed.
fn sync_through_breaking_proxy(server: &Server, dir: &Path, rewrite: crate::proxy::Rewrite) -> String {
    let proxy = crate::proxy::Proxy::rewriting(server.addr(), Some(rewrite));
    let out = support::run(
        &mut sync_command_to(proxy.addr, dir, &[]),
        b"",
        Duration::from_secs(120),
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the sync failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(
        stderr.contains("does not parse"),
        "the proxy made nothing unreadable:\n{stdout}\n{stderr}"
    );
    stdout
}

/// The LIST entry of the mailbox Old, made unreadable (its attribute list
/// not closed).
fn old_unreadable(line: &[u8]) -> Option<Vec<u8>> {
    let old = line.ends_with(b" Old\r\n") || line.ends_with(b" \"Old\"\r\n");
    (line.starts_with(b"* LIST ") && old).then(|| b"* LIST (\\HasNoChildren \"/\" Old\r\n".to_vec())
}

/// A LIST answer with an entry that cannot be read: the mailbox it names
/// looked deleted on the server, and its local folder was deleted. The
/// folder is left as it is; the next run, with the whole list, finds it
/// in sync.
#[test]
fn a_list_entry_that_cannot_be_read_deletes_no_folder() {
    let Some(server) = Server::start(Kind::MailServer, "sync-unreadable-list") else {
        return;
    };
    server.imaplib(&serde_like::Json("[[\"create\", \"Old\"]]".into()));
    server
        .mail
        .deliver("alice", &[message("listed", "text").into_bytes()]);
    let mirror = TempDir::new("sync-unreadable-list-mirror");
    let dir = mirror.path().join("mail");
    sync(&server, &dir, "the first run");
    assert!(dir.join(".Old").is_dir(), "the first run mirrored Old");
    // A mailbox new on the server is not created here on a list that
    // could not all be read (it may be Old renamed).
    server.imaplib(&serde_like::Json("[[\"create\", \"Fresh\"]]".into()));
    let stdout = sync_through_breaking_proxy(&server, &dir, old_unreadable);
    assert!(
        dir.join(".Old").is_dir() && !stdout.contains("deleted on the server: "),
        "a folder was deleted for an entry that could not be read:\n{stdout}"
    );
    assert!(
        !dir.join(".Fresh").exists(),
        "created on a partial list:\n{stdout}"
    );
    let again = sync(&server, &dir, "the run with the whole list");
    assert!(
        dir.join(".Old").is_dir() && !again.contains("deleted on the server: "),
        "{again}"
    );
    assert!(dir.join(".Fresh").is_dir(), "{again}");
    assert!(server.view().contains_key("Old"), "the server lost Old");
}

/// The flags of message 1 in a FETCH answer, made unreadable.
fn first_flags_unreadable(line: &[u8]) -> Option<Vec<u8>> {
    let flags = line.windows(6).any(|w| w == b"FLAGS ");
    (line.starts_with(b"* 1 FETCH (") && flags && !line.ends_with(b"}\r\n"))
        .then(|| b"* 1 FETCH (UID FLAGS\r\n".to_vec())
}

/// A server without CONDSTORE is listed in full at each run: a FETCH
/// answer that could not be read made its message look expunged there,
/// and its local copy was deleted. The message is taken as there and
/// unchanged that run; the rest of the mailbox is synchronised (a new
/// message downloaded).
#[test]
fn a_fetch_answer_that_cannot_be_read_deletes_no_message() {
    let Some(server) = Server::start(Kind::DovecotPlain, "sync-unreadable-fetch") else {
        return;
    };
    let (one, two) = (message("scanned1", "text"), message("scanned2", "text"));
    server.imaplib(&serde_like::ops(&[
        &["append", "INBOX", "()", &one],
        &["append", "INBOX", "()", &two],
    ]));
    let mirror = TempDir::new("sync-unreadable-fetch-mirror");
    let dir = mirror.path().join("mail");
    sync(&server, &dir, "the first run");
    assert_eq!(files(&dir).len(), 2, "the first run mirrored the messages");
    let three = message("scanned3", "text");
    server.imaplib(&serde_like::ops(&[&["append", "INBOX", "()", &three]]));
    let stdout = sync_through_breaking_proxy(&server, &dir, first_flags_unreadable);
    assert_eq!(
        files(&dir).len(),
        3,
        "a message was deleted for an answer that could not be read, or the new one not downloaded:\n{stdout}"
    );
    let again = sync(&server, &dir, "the run with whole answers");
    assert_eq!(files(&dir).len(), 3, "{again}");
    assert_eq!(server.view()["INBOX"].len(), 3, "the server lost mail");
}

/// Where the marker of [`a_message_that_cannot_be_read_is_not_stored`] stands in a
/// literal, a NUL instead of its first octet.
fn nul_at_the_marker(literal: &mut [u8]) {
    if let Some(at) = literal.windows(NUL_MARKER.len()).position(|w| w == NUL_MARKER) {
        literal[at] = 0;
    }
}

const NUL_MARKER: &[u8] = b"NUL-GOES-HERE";

/// A server whose FETCH of a message cannot be read (a NUL in a `{n}`
/// literal, which the decoder refuses): the run fails and stores nothing
/// of that message, whether it broke off inside a streamed message or the
/// whole response was refused, instead of storing a message cut short or
/// taking the message for expunged; without the fault, the next run
/// stores it whole.
#[test]
fn a_message_that_cannot_be_read_is_not_stored() {
    // Above the client's streaming threshold (256 KiB), and below it.
    for (size, error) in [
        (300 << 10, "broke off inside a message"),
        (2 << 10, "the server's answer could not be read"),
    ] {
        let Some(server) = Server::start(Kind::MailServer, &format!("sync-cut-{size}")) else {
            return;
        };
        server.imaplib(&serde_like::Json("[]".into()));
        let mut message =
            b"From: Big <big@example.org>\nSubject: cut\nMessage-ID: <cut@sync.test>\n\n".to_vec();
        while message.len() < size {
            message.extend_from_slice(b"a line of a message that a NUL makes unreadable\n");
        }
        message.extend_from_slice(NUL_MARKER);
        message.extend_from_slice(b"\nand the rest of it\n");
        server.mail.deliver("alice", std::slice::from_ref(&message));
        let mirror = TempDir::new("sync-cut-mirror");
        let dir = mirror.path().join("mail");
        let proxy = crate::proxy::Proxy::rewriting_literals(server.addr(), None, Some(nul_at_the_marker));
        let out = support::run(
            &mut sync_command_to(proxy.addr, &dir, &[]),
            b"",
            Duration::from_secs(120),
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success(),
            "{size} octets: the sync passed over a message it could not read"
        );
        assert!(
            stderr.contains(error),
            "{size} octets: the sync failed otherwise: {stderr}"
        );
        assert!(
            files(&dir).is_empty(),
            "{size} octets: something of the message was stored"
        );
        let left: Vec<_> = std::fs::read_dir(dir.join("tmp"))
            .into_iter()
            .flatten()
            .flatten()
            .collect();
        assert!(
            left.is_empty(),
            "{size} octets: the part received is left in tmp/: {left:?}"
        );
        sync(&server, &dir, "the run without the fault");
        let stored: Vec<Vec<u8>> = files(&dir)
            .iter()
            .map(|p| support::lf(&std::fs::read(p).expect("a mirrored message")))
            .collect();
        assert!(
            stored == [message],
            "{size} octets: the message was not stored whole"
        );
    }
}

/// A large message is streamed to the mirror's disk as it arrives: the
/// client's peak memory stays far below the message's size.
#[test]
fn large_messages_are_streamed_to_disk() {
    let Some(server) = Server::start(Kind::MailServer, "sync-large") else {
        return;
    };
    // The first login creates the account; the message then arrives.
    server.imaplib(&serde_like::Json("[]".into()));
    let mut big = b"From: Big <big@example.org>\nSubject: big\nMessage-ID: <big@sync.test>\n\n".to_vec();
    let line = b"a line of a large message, long enough to be counted in megabytes soon\n";
    while big.len() < 40 << 20 {
        big.extend_from_slice(line);
    }
    // And one whose header alone is too long to hold (no Message-ID:
    // pairing reads the header's digest).
    let mut tall = b"From: Tall <tall@example.org>\nSubject: tall\n".to_vec();
    for i in 0..5000 {
        tall.extend_from_slice(format!("X-Padding-{i}: {}\n", "p".repeat(60)).as_bytes());
    }
    tall.extend_from_slice(b"\nbody\n");
    server.mail.deliver("alice", &[big.clone(), tall.clone()]);
    let mirror = TempDir::new("sync-large-mirror");
    let dir = mirror.path().join("mail");
    let mut child = sync_command(&server, &dir, &[])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start a sync");
    let mut peak = 0;
    let status = loop {
        if let Some(kib) = support::peak_memory_kib(child.id()) {
            peak = peak.max(kib);
        }
        if let Some(status) = child.try_wait().expect("wait for the sync") {
            break status;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let output = child.wait_with_output().expect("the sync's output");
    assert!(
        status.success(),
        "sync failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(peak > 0, "the client's memory was never read");
    assert!(
        peak < 24 * 1024,
        "the client's peak memory was {peak} KiB for a 40 MiB message: it was held whole"
    );
    // Downloaded mail is for its owner alone, whatever the umask.
    for path in files(&dir) {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path)
            .expect("a mirrored message")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{}", path.display());
    }
    let mut stored: Vec<Vec<u8>> = files(&dir)
        .iter()
        .map(|p| support::lf(&std::fs::read(p).expect("a mirrored message")))
        .collect();
    stored.sort_by_key(Vec::len);
    assert!(
        stored.len() == 2 && stored[0] == tall && stored[1] == big,
        "the mirrored messages differ"
    );
    // With its state lost, the mirror pairs every message again by its
    // key (the tall header streamed, the big message's header read alone)
    // and transfers nothing.
    std::fs::remove_dir_all(dir.join("mailwire-sync")).expect("remove the state");
    let again = sync(&server, &dir, "the state lost");
    assert!(again.contains("no message transferred"), "{again}");
}

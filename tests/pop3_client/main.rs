//! The `pop3_client` example against a real Dovecot POP3 server started by
//! each test on 127.0.0.1: keep and delete modes, USER/PASS, APOP and AUTH
//! PLAIN, STLS and implicit TLS, runs killed at many points, overlapping
//! runs on one Maildir, and the example's own pieces (Maildir delivery and
//! its lock, the UIDL state file).
//!
//! Without Dovecot installed the Dovecot tests say so loudly and pass; on
//! CI (`CI` set) they fail instead.

mod dovecot;
mod scripted;
mod units;

// The example's files that stand alone, tested directly in `units`.
#[allow(dead_code)]
#[path = "../../examples/pop3_client/maildir.rs"]
mod maildir;
#[allow(dead_code)]
#[path = "../../examples/pop3_client/state.rs"]
mod state;
// Only its `is_root`, the one check of root the tests share.
#[path = "../../crates/mailwire-mailbox/tests/support/tmpfs.rs"]
mod tmpfs;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use dovecot::{Dovecot, PASSWORD, ServerTls, USER};

/// Builds the example (a no-op when it is up to date) and returns its path.
fn client_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let mut cargo = Command::new(env!("CARGO"));
        // What cargo sets for this test process would make the inner build
        // look different from the outer one (build scripts such as ring's
        // watch CARGO_MANIFEST_DIR), and rebuild everything each time.
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            if [
                "CARGO_PKG_",
                "CARGO_MANIFEST_",
                "CARGO_CRATE_",
                "CARGO_BIN_",
                "CARGO_PRIMARY_PACKAGE",
            ]
            .iter()
            .any(|p| name.starts_with(p))
                || name == "CARGO_TARGET_TMPDIR"
            {
                cargo.env_remove(name.as_ref());
            }
        }
        let output = cargo
            .args([
                "build",
                "--example",
                "pop3_client",
                "--message-format=json-render-diagnostics",
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stderr(Stdio::inherit())
            .output()
            .expect("run cargo build");
        assert!(output.status.success(), "building the pop3_client example failed");
        let stdout = String::from_utf8(output.stdout).unwrap();
        let key = "\"executable\":\"";
        stdout
            .lines()
            .filter(|l| l.contains("\"compiler-artifact\"") && l.contains("pop3_client"))
            .find_map(|l| {
                let start = l.find(key)? + key.len();
                let end = l.get(start..)?.find('"')? + start;
                Some(PathBuf::from(l.get(start..end)?))
            })
            .expect("cargo names the example's executable")
    })
}

/// The Dovecot binary, or `None` (after a loud message) to skip.
fn dovecot_or_skip() -> Option<PathBuf> {
    dovecot::dovecot_binary()
}

/// The outcome of one client run.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn assert_code(&self, code: i32) -> &Run {
        assert_eq!(
            self.code,
            Some(code),
            "stdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// The `fetched N messages` count of the summary line.
    fn fetched(&self) -> usize {
        let start = self.stdout.find("fetched ").expect("a summary line") + "fetched ".len();
        let rest = self.stdout.get(start..).unwrap();
        rest.split(' ').next().unwrap().parse().unwrap()
    }

    fn assert_no_password(&self) {
        for text in [&self.stdout, &self.stderr] {
            assert!(
                !text.contains(PASSWORD),
                "the password shows in the output:\n{text}"
            );
        }
    }
}

/// A client command for `dovecot`, storing into `maildir`, with the
/// password in a file.
fn client(dovecot: &Dovecot, maildir: &Path, args: &[&str]) -> Command {
    let password_file = dovecot.client_dir().join("password");
    if !password_file.exists() {
        fs::write(&password_file, format!("{PASSWORD}\n")).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&password_file, fs::Permissions::from_mode(0o600)).unwrap();
        }
    }
    let mut command = Command::new(client_binary());
    command
        .arg("--server")
        .arg(format!("127.0.0.1:{}", dovecot.port))
        .args(["--user", USER, "--tls", "none", "--maildir"])
        .arg(maildir)
        .arg("--password-file")
        .arg(&password_file)
        .args(args)
        .env_remove("MAILWIRE_PASSWORD")
        .env_remove("MAILWIRE_LOG")
        .stdin(Stdio::null());
    command
}

fn run(mut command: Command) -> Run {
    let output = command.output().expect("run the client");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// CRLF turned into LF: what the client stores by default.
fn lf(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len());
    let mut i = 0;
    while let Some(&b) = message.get(i) {
        if b == b'\r' && message.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        out.push(b);
        i += 1;
    }
    out
}

/// Bare LF turned into CRLF: what a POP3 server sends.
fn crlf(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + message.len() / 40);
    for (i, &b) in message.iter().enumerate() {
        if b == b'\n' && (i == 0 || message.get(i - 1) != Some(&b'\r')) {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

/// The messages of a local Maildir (`new/` and `cur/`).
fn local_messages(maildir: &Path) -> Vec<Vec<u8>> {
    let mut messages = Vec::new();
    for sub in ["new", "cur"] {
        let Ok(entries) = fs::read_dir(maildir.join(sub)) else {
            continue;
        };
        for entry in entries {
            messages.push(fs::read(entry.unwrap().path()).unwrap());
        }
    }
    messages
}

/// Two lists of messages are equal as multisets; on failure the sizes are
/// shown, not megabytes of mail.
fn assert_same_messages(actual: Vec<Vec<u8>>, expected: Vec<Vec<u8>>) {
    let mut actual = actual;
    let mut expected = expected;
    actual.sort();
    expected.sort();
    if actual != expected {
        let sizes = |m: &[Vec<u8>]| m.iter().map(Vec::len).collect::<Vec<_>>();
        let missing = expected.iter().filter(|m| !actual.contains(m)).count();
        let extra = actual.iter().filter(|m| !expected.contains(m)).count();
        panic!(
            "messages differ: {} present, {} expected; {missing} missing, {extra} unexpected\n\
             present sizes {:?}\nexpected sizes {:?}",
            actual.len(),
            expected.len(),
            sizes(&actual),
            sizes(&expected)
        );
    }
}

/// A large message (about 3 MiB) of base64-like lines, some starting with
/// a dot.
fn large_message() -> Vec<u8> {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut message = b"From: big@example.test\nSubject: a large attachment\nMIME-Version: 1.0\n\
Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n"
        .to_vec();
    let mut x: u32 = 12345;
    for line in 0..41_000 {
        if line % 97 == 0 {
            message.push(b'.');
        }
        for _ in 0..76 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            message.push(alphabet[(x >> 16) as usize % 64]);
        }
        message.push(b'\n');
    }
    message
}

/// Messages that exercise the transfer: dot-stuffing, CRLF and LF files,
/// 8-bit text, a large message, no body, a long line, a lone CR.
fn varied_messages() -> Vec<Vec<u8>> {
    let mut long_line = b"Subject: one long line\n\n".to_vec();
    long_line.extend(std::iter::repeat_n(b'x', 20_000));
    long_line.push(b'\n');
    vec![
        b"From: alice@example.test\nTo: bob@example.test\nSubject: hello\n\nHello Bob.\n".to_vec(),
        b"Subject: dots\n\n.\n..\n.leading dot\n...\nmiddle\n. space\n.\n".to_vec(),
        b"Subject: stored with CRLF\r\nFrom: carol@example.test\r\n\r\nline one\r\n.line two\r\n\r\n"
            .to_vec(),
        "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\nContent-Type: text/plain; charset=utf-8\n\
Content-Transfer-Encoding: 8bit\n\nGrüße aus Köln, ½ €.\n"
            .bytes()
            .chain(*b"latin-1 bytes: \xe9\xe0\xff\n")
            .collect(),
        large_message(),
        b"Subject: no body\n\n".to_vec(),
        long_line,
        b"Subject: a lone CR\n\nbefore\rafter\n".to_vec(),
    ]
}

/// `n` small messages, numbered from `from`.
fn numbered(from: usize, n: usize) -> Vec<Vec<u8>> {
    (from..from + n)
        .map(|i| {
            format!(
                "From: sender{i}@example.test\nSubject: message {i}\nMessage-ID: <{i}@example.test>\n\n\
                 body of message {i}\n.a dot line in {i}\n"
            )
            .into_bytes()
        })
        .collect()
}

/// The UIDLs in the client's state files.
fn state_uidls(maildir: &Path) -> Vec<String> {
    let mut uidls = Vec::new();
    for entry in fs::read_dir(maildir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(".mailwire-uidl-") && !name.ends_with(".tmp") {
            let text = fs::read_to_string(entry.path()).unwrap();
            let mut lines = text.lines();
            assert_eq!(lines.next(), Some(state::MAGIC));
            uidls.extend(
                lines
                    .filter(|l| !l.starts_with('#'))
                    .map(|l| l.split(' ').next().unwrap_or(l).to_owned()),
            );
        }
    }
    uidls
}

#[test]
fn keep_mode_downloads_each_message_once() {
    let Some(binary) = dovecot_or_skip() else { return };
    let seeds = varied_messages();
    let dovecot = Dovecot::start(&binary, &seeds, None);
    let local = dovecot.client_dir().join("Maildir");

    let mut command = client(&dovecot, &local, &[]);
    command.env("MAILWIRE_LOG", "trace");
    let first = run(command);
    first.assert_code(0).assert_no_password();
    assert_eq!(first.fetched(), seeds.len());
    assert_eq!(
        first.stderr.matches("no TLS: USER/PASS").count(),
        1,
        "{}",
        first.stderr
    );
    assert_same_messages(local_messages(&local), seeds.iter().map(|m| lf(m)).collect());
    assert_eq!(
        dovecot.wait_sessions(1),
        (seeds.len() as u64, 0),
        "retr and del counts"
    );
    for sub in ["cur", "new", "tmp"] {
        assert!(local.join(sub).is_dir());
    }
    assert_eq!(fs::read_dir(local.join("tmp")).unwrap().count(), 0);
    assert_eq!(state_uidls(&local).len(), seeds.len());

    let second = run(client(&dovecot, &local, &[]));
    second.assert_code(0);
    assert_eq!(second.fetched(), 0, "{}", second.stdout);
    assert_eq!(
        dovecot.wait_sessions(2),
        (0, 0),
        "the second run retrieved messages"
    );
    assert_same_messages(local_messages(&local), seeds.iter().map(|m| lf(m)).collect());
    assert_same_messages(dovecot.messages(), seeds.clone());

    // New mail arrives; the user deletes a downloaded message locally.
    let news = numbered(1, 2);
    for (i, m) in news.iter().enumerate() {
        dovecot.add_message("new", &format!("1800000000.new{i}.mailwire"), m);
    }
    let gone = fs::read_dir(local.join("new"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let gone_contents = fs::read(&gone).unwrap();
    fs::remove_file(&gone).unwrap();
    let third = run(client(&dovecot, &local, &[]));
    third.assert_code(0);
    assert_eq!(third.fetched(), 2, "{}", third.stdout);
    assert_eq!(dovecot.wait_sessions(3), (2, 0));
    let mut expected: Vec<Vec<u8>> = seeds.iter().chain(&news).map(|m| lf(m)).collect();
    let removed = expected.iter().position(|m| *m == gone_contents).unwrap();
    expected.remove(removed);
    assert_same_messages(local_messages(&local), expected);
    assert_eq!(state_uidls(&local).len(), seeds.len() + 2);
}

#[test]
fn delete_mode_with_auth_plain_empties_the_server_and_keeps_crlf() {
    let Some(binary) = dovecot_or_skip() else { return };
    let seeds = varied_messages();
    let dovecot = Dovecot::start(&binary, &seeds, None);
    let local = dovecot.client_dir().join("deep/path/Maildir");

    let first = run(client(
        &dovecot,
        &local,
        &["--delete", "--crlf", "--auth", "plain"],
    ));
    first.assert_code(0);
    assert_eq!(first.fetched(), seeds.len());
    // Stored exactly as received: the server's CRLF form of each message.
    assert_same_messages(local_messages(&local), seeds.iter().map(|m| crlf(m)).collect());
    let n = seeds.len() as u64;
    assert_eq!(dovecot.wait_sessions(1), (n, n));
    assert!(dovecot.messages().is_empty(), "the server still has messages");
    assert!(dovecot.log().contains("method=PLAIN"), "{}", dovecot.log());
    // Deleted messages need no state.
    assert!(state_uidls(&local).is_empty());

    let second = run(client(&dovecot, &local, &["--delete", "--auth", "plain"]));
    second.assert_code(0);
    assert_eq!(second.fetched(), 0);
    assert_eq!(dovecot.wait_sessions(2), (0, 0));
    assert_eq!(local_messages(&local).len(), seeds.len());
}

/// Messages with no line break at their end (one ends in a bare CR):
/// Dovecot lists their own size and adds the line break the terminating
/// line needs, so they arrive one or two octets longer than LIST said.
/// They are stored (with that line break) and deleted; they were refused
/// on every run, and stayed on the server.
#[test]
fn messages_without_a_final_line_break_are_stored_and_deleted() {
    let Some(binary) = dovecot_or_skip() else { return };
    let seeds = vec![
        b"Subject: no end\r\n\r\nthe last line has no line break".to_vec(),
        b"Subject: a final CR\r\n\r\nthe last octet is a CR\r".to_vec(),
    ];
    let dovecot = Dovecot::start(&binary, &seeds, None);
    let local = dovecot.client_dir().join("Maildir");
    let out = run(client(&dovecot, &local, &["--delete", "--crlf"]));
    out.assert_code(0);
    assert_eq!(out.fetched(), 2, "{}\n{}", out.stdout, out.stderr);
    let expected = vec![
        b"Subject: no end\r\n\r\nthe last line has no line break\r\n".to_vec(),
        // Dovecot adds a whole CRLF after a final CR.
        b"Subject: a final CR\r\n\r\nthe last octet is a CR\r\r\n".to_vec(),
    ];
    assert_same_messages(local_messages(&local), expected);
    assert_eq!(dovecot.wait_sessions(1), (2, 2));
    assert!(dovecot.messages().is_empty(), "the server still has messages");
}

#[test]
fn apop_without_pipelining() {
    let Some(binary) = dovecot_or_skip() else { return };
    let seeds = numbered(1, 5);
    let dovecot = Dovecot::start(&binary, &seeds, None);
    let local = dovecot.client_dir().join("Maildir");
    let out = run(client(
        &dovecot,
        &local,
        &["--auth", "apop", "--no-pipelining", "-v"],
    ));
    out.assert_code(0).assert_no_password();
    assert!(out.stderr.contains("pipelining=false"), "{}", out.stderr);
    assert_eq!(out.stderr.matches("no TLS: APOP").count(), 1, "{}", out.stderr);
    assert_same_messages(local_messages(&local), seeds.iter().map(|m| lf(m)).collect());
    assert!(dovecot.log().contains("method=APOP"), "{}", dovecot.log());
}

/// Runs the client again and again, killing it with SIGKILL at several
/// points, then lets it finish: nothing is lost or duplicated, and in
/// delete mode nothing leaves the server before the run that completes.
fn killed_runs(delete: bool) {
    let Some(binary) = dovecot_or_skip() else { return };
    let mut seeds = numbered(1, 40);
    seeds.insert(17, large_message());
    let dovecot = Dovecot::start(&binary, &seeds, None);
    let local_dir = dovecot.client_dir().join("Maildir");
    let local = local_dir.as_path();
    let expected: Vec<Vec<u8>> = seeds.iter().map(|m| lf(m)).collect();
    let mode: &[&str] = if delete { &["--delete"] } else { &[] };
    let count = |dir: &str| fs::read_dir(local.join(dir)).map_or(0, |d| d.count());

    // When to kill, given the number of messages stored before the run.
    type Point<'a> = Box<dyn Fn(usize) -> bool + 'a>;
    let points: Vec<(&str, Point)> = vec![
        (
            "right after start",
            Box::new(|_| {
                std::thread::sleep(Duration::from_millis(120));
                true
            }),
        ),
        ("after 3 messages", Box::new(|_| count("new") >= 3)),
        (
            "inside the large message",
            Box::new(move |before| {
                let big = |dir: &str| {
                    fs::read_dir(local.join(dir)).is_ok_and(|d| {
                        d.flatten()
                            .any(|e| e.metadata().is_ok_and(|m| m.len() > 256 * 1024))
                    })
                };
                // If it was stored already, two more messages will do.
                big("tmp") || big("new") && count("new") >= before + 2
            }),
        ),
        ("after 5 more", Box::new(move |before| count("new") >= before + 5)),
        ("after 1 more", Box::new(move |before| count("new") > before)),
    ];
    let mut interrupted = 0;
    for (what, point) in &points {
        let before = count("new");
        let mut command = client(&dovecot, local, mode);
        command
            .args(["--throttle-ms", "15"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child: Child = command.spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut exited = false;
        while !point(before) {
            if child.try_wait().unwrap().is_some() {
                exited = true;
                break;
            }
            assert!(Instant::now() < deadline, "the kill point {what} never came");
            std::thread::sleep(Duration::from_millis(2));
        }
        if !exited {
            child.kill().unwrap();
        }
        child.wait().unwrap();
        eprintln!("killed {what}: {} messages stored", count("new"));
        if !exited && count("new") < seeds.len() {
            interrupted += 1;
        }

        let stored = local_messages(local);
        let mut distinct = stored.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(
            distinct.len(),
            stored.len(),
            "a message was stored twice (killed {what})"
        );
        assert!(
            stored.iter().all(|m| expected.contains(m)),
            "a stored message is not one of the server's (killed {what})"
        );
        if delete {
            // No QUIT, no deletion.
            assert_eq!(dovecot.messages().len(), seeds.len(), "killed {what}");
        }
    }
    assert!(
        interrupted >= 3,
        "only {interrupted} runs were killed before they ended"
    );

    // Let Dovecot log the end of the killed sessions before counting them.
    std::thread::sleep(Duration::from_millis(300));
    let sessions = dovecot.sessions().len();
    let stored = local_messages(local).len();
    let recorded = state_uidls(local).len();
    assert!(recorded <= stored);
    let last = run(client(&dovecot, local, mode));
    last.assert_code(0);
    assert_same_messages(local_messages(local), expected);
    // The partial files of the killed runs are gone from tmp/.
    assert_eq!(count("tmp"), 0, "files left in tmp/");
    // What the state did not record was retrieved (messages stored by a
    // run killed before it saved the state are compared with their files),
    // and only what was missing was stored.
    let (retr, del) = dovecot.wait_sessions(sessions + 1);
    assert_eq!(retr as usize, seeds.len() - recorded, "{}", last.stdout);
    assert_eq!(last.fetched(), seeds.len() - stored);
    assert_eq!(del as usize, if delete { seeds.len() } else { 0 });
    if delete {
        assert!(dovecot.messages().is_empty(), "the server still has messages");
    } else {
        assert_same_messages(dovecot.messages(), seeds.clone());
        assert_eq!(state_uidls(local).len(), seeds.len());
        let again = run(client(&dovecot, local, mode));
        again.assert_code(0);
        assert_eq!(again.fetched(), 0);
    }
}

#[test]
fn killed_runs_keep_mode() {
    killed_runs(false);
}

#[test]
fn killed_runs_delete_mode() {
    killed_runs(true);
}

#[test]
fn overlapping_runs_on_one_maildir_store_each_message_once_and_delete_only_stored_ones() {
    let Some(binary) = dovecot_or_skip() else { return };
    let mut seeds = numbered(1, 30);
    seeds.insert(10, large_message());
    let dovecot = Dovecot::start(&binary, &seeds, None);
    let local = dovecot.client_dir().join("Maildir");
    let count = |dir: &str| fs::read_dir(local.join(dir)).map_or(0, |d| d.count());

    // A slow run in delete mode, then others while it works.
    let mut first = client(&dovecot, &local, &["--delete", "--throttle-ms", "20"]);
    first.stdout(Stdio::piped()).stderr(Stdio::piped());
    let first = first.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while count("new") == 0 {
        assert!(Instant::now() < deadline, "the first run stored nothing");
        std::thread::sleep(Duration::from_millis(2));
    }
    for mode in [&["--delete"][..], &[]] {
        let second = run(client(&dovecot, &local, mode));
        second.assert_code(8);
        assert!(
            second
                .stderr
                .contains("another pop3_client run is using the Maildir"),
            "{}",
            second.stderr
        );
        assert!(second.stdout.is_empty(), "{}", second.stdout);
    }
    // The others overlapped it: it was still storing.
    assert!(
        count("new") < seeds.len(),
        "the first run ended before the others started"
    );
    let first = first.wait_with_output().unwrap();
    let first = Run {
        code: first.status.code(),
        stdout: String::from_utf8_lossy(&first.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&first.stderr).into_owned(),
    };
    first.assert_code(0);
    assert_eq!(first.fetched(), seeds.len());
    // Each message once, whole; deleted on the server exactly those, by
    // the one run that stored them; the others never even connected.
    assert_same_messages(local_messages(&local), seeds.iter().map(|m| lf(m)).collect());
    let n = seeds.len() as u64;
    assert_eq!(dovecot.wait_sessions(1), (n, n));
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(dovecot.sessions().len(), 1, "{}", dovecot.log());
    assert!(dovecot.messages().is_empty());
    assert_eq!(count("tmp"), 0);

    // Two runs started at the same moment: one does the job, the other
    // stops (or, if it came late, finds nothing left to do).
    let news = numbered(100, 12);
    for (i, m) in news.iter().enumerate() {
        dovecot.add_message("new", &format!("1800000000.news{i}.mailwire"), m);
    }
    let spawn = || {
        let mut command = client(&dovecot, &local, &["--delete", "--throttle-ms", "20"]);
        command.stdout(Stdio::null()).stderr(Stdio::null());
        command.spawn().unwrap()
    };
    let (mut a, mut b) = (spawn(), spawn());
    let mut codes = [a.wait().unwrap().code(), b.wait().unwrap().code()];
    codes.sort();
    assert!(
        codes == [Some(0), Some(8)] || codes == [Some(0), Some(0)],
        "{codes:?}"
    );
    let all: Vec<Vec<u8>> = seeds.iter().chain(&news).map(|m| lf(m)).collect();
    assert_same_messages(local_messages(&local), all);
    assert!(dovecot.messages().is_empty());
}

#[test]
fn dropped_connection_before_quit_deletes_nothing() {
    let Some(binary) = dovecot_or_skip() else { return };
    let seeds = numbered(1, 12);
    let dovecot = Dovecot::start(&binary, &seeds, None);
    let local = dovecot.client_dir().join("Maildir");

    let stopped = run(client(&dovecot, &local, &["--delete", "--stop-after", "4"]));
    stopped.assert_code(7);
    assert!(
        stopped.stderr.contains("stopped after storing 4"),
        "{}",
        stopped.stderr
    );
    assert_eq!(local_messages(&local).len(), 4);
    dovecot.wait_sessions(1);
    assert_same_messages(dovecot.messages(), seeds.clone());

    let rest = run(client(&dovecot, &local, &["--delete"]));
    rest.assert_code(0);
    assert_eq!(rest.fetched(), 8, "{}", rest.stdout);
    assert!(rest.stdout.contains("4 already stored"), "{}", rest.stdout);
    assert_eq!(dovecot.wait_sessions(2), (8, 12));
    assert_same_messages(local_messages(&local), seeds.iter().map(|m| lf(m)).collect());
    assert!(dovecot.messages().is_empty());
}

#[test]
fn wrong_password_is_refused_and_never_shown() {
    let Some(binary) = dovecot_or_skip() else { return };
    let dovecot = Dovecot::start(&binary, &numbered(1, 1), None);
    let local = dovecot.client_dir().join("Maildir");
    let wrong = "Wrong-9c1e-password";
    for auth in ["user", "plain"] {
        let mut command = Command::new(client_binary());
        command
            .arg("--server")
            .arg(format!("127.0.0.1:{}", dovecot.port))
            .args(["--user", USER, "--tls", "none", "--auth", auth, "--maildir"])
            .arg(&local)
            .env("MAILWIRE_PASSWORD", wrong)
            .env("MAILWIRE_LOG", "trace");
        let out = run(command);
        out.assert_code(4);
        assert!(out.stderr.contains("login refused"), "{}", out.stderr);
        for text in [&out.stdout, &out.stderr] {
            assert!(!text.contains(wrong), "the password shows in the output:\n{text}");
        }
    }
    assert!(local_messages(&local).is_empty());
}

#[test]
fn command_line_and_connection_errors() {
    let binary = client_binary();
    let dir = std::env::temp_dir().join(format!("mailwire-pop3-client-args-{}", std::process::id()));
    let maildir = dir.join("Maildir");
    let base = |extra: &[&str]| {
        let mut command = Command::new(binary);
        command
            .args([
                "--server",
                "127.0.0.1:9",
                "--user",
                "u",
                "--tls",
                "none",
                "--maildir",
            ])
            .arg(&maildir)
            .args(extra)
            .env_remove("MAILWIRE_PASSWORD");
        command
    };
    let out = run(base(&[]));
    out.assert_code(2);
    assert!(out.stderr.contains("no password"), "{}", out.stderr);
    let out = run(base(&["--password", "secret-on-the-command-line"]));
    out.assert_code(2);
    assert!(
        out.stderr.contains("not taken on the command line"),
        "{}",
        out.stderr
    );
    let out = run(base(&["--frobnicate"]));
    out.assert_code(2);
    let out = run(base(&["--auth", "kerberos"]));
    out.assert_code(2);
    let help = run(base(&["--help"]));
    help.assert_code(0);
    assert!(help.stdout.contains("Usage: pop3_client"), "{}", help.stdout);
    for option in [
        "--server",
        "--user",
        "--maildir",
        "--password-file",
        "--auth",
        "--tls",
        "--timeout",
    ] {
        assert!(
            help.stdout.contains(option),
            "--help lacks {option}:\n{}",
            help.stdout
        );
    }

    // Nothing listens on a port just freed: the connection is refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut command = Command::new(binary);
    command
        .arg("--server")
        .arg(format!("127.0.0.1:{port}"))
        .args(["--user", "u", "--tls", "none", "--maildir"])
        .arg(&maildir)
        .env("MAILWIRE_PASSWORD", "x");
    let out = run(command);
    out.assert_code(3);
    assert!(out.stderr.contains("cannot connect"), "{}", out.stderr);
    let _ = fs::remove_dir_all(&dir);
}

/// A CA and a server certificate it signed, for 127.0.0.1 and localhost.
fn ca_and_server_cert() -> (String, ServerTls) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SanType};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "mailwire test CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params
        .subject_alt_names
        .push(SanType::IpAddress(std::net::IpAddr::from([127, 0, 0, 1])));
    params.distinguished_name.push(DnType::CommonName, "localhost");
    let cert = params.signed_by(&key, &issuer).unwrap();
    (
        ca_cert.pem(),
        ServerTls {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        },
    )
}

/// A self-signed server certificate for 127.0.0.1.
fn self_signed_cert() -> ServerTls {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .subject_alt_names
        .push(rcgen::SanType::IpAddress(std::net::IpAddr::from([127, 0, 0, 1])));
    let cert = params.self_signed(&key).unwrap();
    ServerTls {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}

/// TLS logins Dovecot recorded.
fn tls_logins(dovecot: &Dovecot) -> usize {
    dovecot
        .log()
        .lines()
        .filter(|l| l.contains("Login: user=<bob>") && l.contains("TLS"))
        .count()
}

#[test]
fn implicit_tls_and_starttls_with_a_private_ca() {
    let Some(binary) = dovecot_or_skip() else { return };
    let (ca_pem, server) = ca_and_server_cert();
    let seeds = varied_messages();
    let dovecot = Dovecot::start(&binary, &seeds, Some(&server));
    let ca_file = dovecot.client_dir().join("ca.pem");
    fs::write(&ca_file, &ca_pem).unwrap();
    let ca = ca_file.to_str().unwrap();
    let pop3s = format!("127.0.0.1:{}", dovecot.pop3s_port.unwrap());

    // Implicit TLS on the pop3s port; --server given twice, the last wins.
    let implicit = dovecot.client_dir().join("implicit");
    let out = run(client(
        &dovecot,
        &implicit,
        &["--tls", "implicit", "--ca-file", ca, "--server", &pop3s],
    ));
    out.assert_code(0);
    assert!(!out.stderr.contains("no TLS"), "{}", out.stderr);
    assert_same_messages(local_messages(&implicit), seeds.iter().map(|m| lf(m)).collect());

    // STLS on the pop3 port, in delete mode.
    let stls = dovecot.client_dir().join("stls");
    let out = run(client(
        &dovecot,
        &stls,
        &["--tls", "starttls", "--ca-file", ca, "--delete"],
    ));
    out.assert_code(0);
    assert!(!out.stderr.contains("no TLS"), "{}", out.stderr);
    assert_same_messages(local_messages(&stls), seeds.iter().map(|m| lf(m)).collect());
    assert!(dovecot.messages().is_empty());
    assert_eq!(tls_logins(&dovecot), 2, "{}", dovecot.log());

    // Refused: a CA the system does not trust, and a name not in the
    // certificate.
    let other = dovecot.client_dir().join("other");
    for args in [
        vec!["--tls", "implicit", "--server", &pop3s],
        vec![
            "--tls",
            "implicit",
            "--server",
            &pop3s,
            "--ca-file",
            ca,
            "--tls-name",
            "pop.example.test",
        ],
        vec![
            "--tls",
            "starttls",
            "--tls-name",
            "pop.example.test",
            "--ca-file",
            ca,
        ],
    ] {
        let out = run(client(&dovecot, &other, &args));
        out.assert_code(3);
        assert!(
            out.stderr.contains("invalid peer certificate") && out.stderr.contains("--ca-file trusts"),
            "{args:?}: {}",
            out.stderr
        );
    }
    assert!(local_messages(&other).is_empty());
    assert_eq!(tls_logins(&dovecot), 2);
}

#[test]
fn starttls_with_a_self_signed_certificate() {
    let Some(binary) = dovecot_or_skip() else { return };
    let server = self_signed_cert();
    let seeds = numbered(1, 3);
    let dovecot = Dovecot::start(&binary, &seeds, Some(&server));
    let cert_file = dovecot.client_dir().join("server.pem");
    fs::write(&cert_file, &server.cert_pem).unwrap();
    let local = dovecot.client_dir().join("Maildir");
    let out = run(client(
        &dovecot,
        &local,
        &[
            "--tls",
            "starttls",
            "--auth",
            "plain",
            "--ca-file",
            cert_file.to_str().unwrap(),
        ],
    ));
    out.assert_code(0);
    assert!(!out.stderr.contains("no TLS"), "{}", out.stderr);
    assert_same_messages(local_messages(&local), seeds.iter().map(|m| lf(m)).collect());
    assert_eq!(tls_logins(&dovecot), 1, "{}", dovecot.log());
}

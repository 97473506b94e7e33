//! Test support shared by the mail_server tests and the load benchmark:
//! temporary Maildirs, the server process, Dovecot, peer programs.
#![allow(dead_code)] // Each user takes only part of it.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Whether a peer program is installed. On a developer machine a missing
/// one skips its test with a loud message; in CI (`CI` set) it fails the
/// test, since `.ci/run` installs every peer.
pub fn require(program: &str) -> bool {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
        .unwrap_or(false);
    if !found {
        let message = format!(
            "\n\n*** SKIPPED: `{program}` is not installed; this test needs it \
             (.ci/run installs it with apt-get) ***\n"
        );
        if std::env::var_os("CI").is_some() {
            panic!("{message}");
        }
        eprintln!("{message}");
    }
    found
}

/// A small tmpfs for the tests of a full disk, and whether this process
/// runs as root (Dovecot, getmail's `user` and mounting need it).
#[path = "../../crates/mailwire-mailbox/tests/support/tmpfs.rs"]
pub mod tmpfs;
pub use tmpfs::is_root;

/// A directory removed when dropped.
#[derive(Debug)]
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A new empty directory under the system's temporary directory.
    pub fn new(tag: &str) -> TempDir {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!(
            "mailwire-{tag}-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("create a temporary directory");
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Test messages as a Maildir holds them (LF line ends), each with its own
/// Message-ID. Together they cover dot-stuffing, 8-bit bytes, an empty
/// body, long lines and a message larger than one transmit chunk.
pub fn sample_messages() -> Vec<Vec<u8>> {
    let header = |n: u32, subject: &str| {
        format!(
            "Return-Path: <sender@example.org>\nFrom: Sender <sender@example.org>\n\
             To: alice@example.org\nSubject: {subject}\nDate: Sun, 22 Nov 2026 10:{n:02}:00 +0000\n\
             Message-ID: <sample-{n}@mailwire.test>\n"
        )
    };
    let mut messages = vec![
        format!("{}\nHello Alice,\nthis is a plain message.\n", header(1, "Plain")).into_bytes(),
        format!(
            "{}\n.\n..\n.leading dot\n...three\nthe end.\n.\n",
            header(2, "Dots everywhere")
        )
        .into_bytes(),
        format!("{}\n", header(3, "Empty body")).into_bytes(),
    ];
    let mut eight_bit = header(4, "8-bit").into_bytes();
    eight_bit.extend_from_slice(
        b"Content-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: 8bit\n\n",
    );
    eight_bit.extend_from_slice(b"Gr\xfc\xdfe, caf\xe9, \xa9 2026\nUTF-8 too: \xc3\xa9\xe2\x82\xac\n");
    messages.push(eight_bit);
    let mut long = header(5, "Long lines").into_bytes();
    long.push(b'\n');
    long.extend_from_slice(&b"x".repeat(990));
    long.extend_from_slice(b"\n.");
    long.extend_from_slice(&b"y".repeat(900));
    long.push(b'\n');
    messages.push(long);
    let mut big = header(6, "Large").into_bytes();
    big.push(b'\n');
    for i in 0..4000u32 {
        // Every 7th line starts with a dot, so stuffing crosses chunk
        // boundaries somewhere.
        let dot = if i % 7 == 0 { "." } else { "" };
        big.extend_from_slice(
            format!("{dot}line {i:05} of a large message, padded to about seventy\n").as_bytes(),
        );
    }
    messages.push(big);
    messages
}

/// The message with CRLF line ends, as POP3 sends it.
pub fn crlf(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + message.len() / 40);
    for &b in message {
        if b == b'\n' && out.last() != Some(&b'\r') {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

/// The header and the blank line after it, with CRLF: what POP3's `TOP n 0`
/// and IMAP's `BODY[HEADER]` send.
pub fn header_part(message: &[u8]) -> Vec<u8> {
    let end = message
        .windows(2)
        .position(|w| w == b"\n\n")
        .map_or(message.len(), |p| p + 2);
    crlf(&message[..end])
}

/// The message with LF line ends.
pub fn lf(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len());
    for (i, &b) in message.iter().enumerate() {
        if b == b'\r' && message.get(i + 1) == Some(&b'\n') {
            continue;
        }
        out.push(b);
    }
    out
}

/// The Message-ID of a message, from its header.
pub fn message_id(message: &[u8]) -> Option<String> {
    for line in message.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return None;
        }
        if line.len() > 11 && line[..11].eq_ignore_ascii_case(b"message-id:") {
            return Some(String::from_utf8_lossy(&line[11..]).trim().to_owned());
        }
    }
    None
}

/// Messages by Message-ID.
pub fn by_message_id(messages: &[Vec<u8>]) -> BTreeMap<String, Vec<u8>> {
    messages
        .iter()
        .map(|m| {
            (
                message_id(m).expect("every test message has a Message-ID"),
                m.clone(),
            )
        })
        .collect()
}

/// A mail root with users, as `--mail-root` and `--users` take them.
#[derive(Debug)]
pub struct MailRoot {
    pub dir: TempDir,
    /// `dir/mail`; each user's Maildir is `mail/<user>/Maildir`.
    pub root: PathBuf,
    /// `dir/users`, a passwd-file.
    pub users: PathBuf,
}

impl MailRoot {
    /// A mail root where `user` has `messages` in the INBOX's `new/`, with
    /// Dovecot-style file names; `passwd` holds the passwd-file lines.
    pub fn new(tag: &str, passwd: &str, user: &str, messages: &[Vec<u8>]) -> MailRoot {
        let dir = TempDir::new(tag);
        let root = dir.path().join("mail");
        let users = dir.path().join("users");
        std::fs::write(&users, passwd).expect("write the passwd-file");
        let mail = MailRoot { dir, root, users };
        mail.deliver(user, messages);
        mail
    }

    /// The user's Maildir.
    pub fn maildir(&self, user: &str) -> PathBuf {
        self.root.join(user).join("Maildir")
    }

    /// Drops messages into the user's `new/`, as an MTA would.
    pub fn deliver(&self, user: &str, messages: &[Vec<u8>]) {
        let maildir = self.maildir(user);
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(maildir.join(sub)).expect("create the Maildir");
        }
        for (i, message) in messages.iter().enumerate() {
            let name = format!("17640000{:02}.M{i}P1Q{i}.mailwire-test", i);
            std::fs::write(maildir.join("new").join(name), message).expect("deliver a message");
        }
    }
}

/// The options of [`MailServer::serving`]: `mail`'s root and
/// passwd-file, no failure delay, and `extra`.
fn serving_args(mail: &MailRoot, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "--mail-root".into(),
        mail.root.display().to_string(),
        "--users".into(),
        mail.users.display().to_string(),
        "--auth-failure-delay".into(),
        "0".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

/// The mail_server example's binary, built (once per process) with the
/// profile of the running test or benchmark, so it is never stale.
pub fn server_binary() -> PathBuf {
    example_binary("mail_server")
}

/// An example's binary, built (once per process and example) with the
/// profile of the running test or benchmark, so it is never stale.
pub fn example_binary(name: &str) -> PathBuf {
    static BUILT: Mutex<BTreeMap<String, PathBuf>> = Mutex::new(BTreeMap::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(path) = built.get(name) {
        return path.clone();
    }
    let exe = std::env::current_exe().expect("the test's own path");
    // target/<profile>/deps/<test> -> target/<profile>/examples/<name>
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test runs from target/<profile>/deps");
    let mut cargo = Command::new(env!("CARGO"));
    cargo
        .args(["build", "--example", name, "--manifest-path"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"));
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        cargo.arg("--release");
    }
    let output = cargo.output().expect("run cargo build");
    assert!(
        output.status.success(),
        "cargo build --example {name} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let path = profile_dir.join("examples").join(name);
    built.insert(name.to_owned(), path.clone());
    path
}

/// A running mail_server.
#[derive(Debug)]
pub struct MailServer {
    child: Option<Child>,
    /// The plain POP3 address.
    pub pop3: SocketAddr,
    /// The POP3S address.
    pub pop3s: SocketAddr,
    /// The plain IMAP address (STARTTLS).
    pub imap: SocketAddr,
    /// The IMAPS address.
    pub imaps: SocketAddr,
    /// Its standard error (the logs).
    pub log: PathBuf,
    _log_dir: TempDir,
}

impl MailServer {
    /// Starts the server on free loopback ports with `args` (which must
    /// not give a listener: `--pop3`, `--pop3s`, `--imap`, `--imaps`), and
    /// waits until it listens.
    pub fn start<I, S>(args: I) -> MailServer
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        MailServer::start_logging(args, "debug")
    }

    /// Starts the server on `mail` (its mail root and passwd-file) with
    /// `extra` options, without the failure delay.
    pub fn serving(mail: &MailRoot, extra: &[&str]) -> MailServer {
        MailServer::start(serving_args(mail, extra))
    }

    /// [`MailServer::start`] with the given log level (`RUST_LOG`).
    pub fn start_logging<I, S>(args: I, level: &str) -> MailServer
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        MailServer::launch(Command::new(server_binary()), args, level)
    }

    /// [`MailServer::serving`], the server started by `wrapper`: a program
    /// that sets something up and then executes the server in its own
    /// process (as `prlimit` does), so that the process is the server's.
    pub fn serving_under(wrapper: &[&str], mail: &MailRoot, extra: &[&str]) -> MailServer {
        let (program, options) = wrapper.split_first().expect("a wrapper program");
        let mut command = Command::new(program);
        command.args(options).arg(server_binary());
        MailServer::launch(command, serving_args(mail, extra), "debug")
    }

    /// Starts `command` (the server, or a wrapper that executes it) with
    /// the listeners on loopback and `args`.
    fn launch<I, S>(mut command: Command, args: I, level: &str) -> MailServer
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        let log_dir = TempDir::new("server-log");
        let log = log_dir.path().join("stderr.log");
        let mut args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        // A server of the tests needs a certificate: a throwaway one unless
        // the test gives its own.
        if !args.iter().any(|a| a == "--tls-cert") {
            args.push("--self-signed".into());
        }
        let mut child = command
            .args(["--pop3", "127.0.0.1:0", "--pop3s", "127.0.0.1:0"])
            .args(["--imap", "127.0.0.1:0", "--imaps", "127.0.0.1:0"])
            .args(args)
            .env("RUST_LOG", level)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("create the log file"))
            .spawn()
            .expect("start mail_server");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let mut words = line.split_whitespace();
                let (kind, on, addr) = (words.next(), words.next(), words.next());
                if on == Some("on") {
                    if let (Some(kind), Some(Ok(addr))) = (kind, addr.map(str::parse::<SocketAddr>)) {
                        let _ = tx.send((kind.to_owned(), addr));
                    }
                }
            }
        });
        let (mut pop3, mut pop3s, mut imap, mut imaps) = (None, None, None, None);
        let deadline = Instant::now() + Duration::from_secs(60);
        while pop3.is_none() || pop3s.is_none() || imap.is_none() || imaps.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok((kind, addr)) if kind == "POP3" => pop3 = Some(addr),
                Ok((kind, addr)) if kind == "POP3S" => pop3s = Some(addr),
                Ok((kind, addr)) if kind == "IMAP" => imap = Some(addr),
                Ok((kind, addr)) if kind == "IMAPS" => imaps = Some(addr),
                Ok(_) => {}
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "mail_server did not start:\n{}",
                        std::fs::read_to_string(&log).unwrap_or_default()
                    );
                }
            }
        }
        MailServer {
            child: Some(child),
            pop3: pop3.expect("POP3 address"),
            pop3s: pop3s.expect("POP3S address"),
            imap: imap.expect("IMAP address"),
            imaps: imaps.expect("IMAPS address"),
            log,
            _log_dir: log_dir,
        }
    }

    /// The server's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The logs so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Whether the logs hold `needle` within 5 s: a session logs how it
    /// ended after its connection is closed.
    pub fn logged(&self, needle: &str) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !self.logs().contains(needle) {
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        true
    }

    /// Stops the server with SIGTERM and returns how it exited.
    pub fn stop(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for MailServer {
    fn drop(&mut self) {
        self.stop();
        // A failing test shows what the server logged last.
        if std::thread::panicking() {
            let logs = self.logs();
            let lines: Vec<&str> = logs.lines().collect();
            eprintln!("--- the server's last log lines ---");
            for line in &lines[lines.len().saturating_sub(60)..] {
                eprintln!("{line}");
            }
        }
    }
}

/// Runs a command to its end (at most `timeout`), with `stdin` as input.
pub fn run(command: &mut Command, stdin: &[u8], timeout: Duration) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    let mut input = child.stdin.take().expect("piped stdin");
    let stdin = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stdout.read_to_end(&mut v);
        v
    });
    let err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stderr.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            // What it printed tells where it stopped.
            let said = |v: Vec<u8>| String::from_utf8_lossy(&v).into_owned();
            panic!(
                "{command:?} did not finish within {timeout:?}\n--- its output ---\n{}\n--- its errors ---\n{}",
                said(out.join().unwrap_or_default()),
                said(err.join().unwrap_or_default())
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let _ = writer.join();
    Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

/// A process's peak resident memory in KiB (Linux).
pub fn peak_memory_kib(pid: u32) -> Option<u64> {
    status_kib(pid, "VmHWM:")
}

/// A process's resident memory now, in KiB (Linux).
pub fn resident_memory_kib(pid: u32) -> Option<u64> {
    status_kib(pid, "VmRSS:")
}

/// The value in KiB of the line starting with `field` of the process's
/// `/proc/<pid>/status`.
fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// A free loopback port (bound, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Waits until something accepts connections on `addr`.
pub fn wait_for_port(addr: SocketAddr, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// A minimal POP3 client over a plain socket, for the tests that need to
/// control a session byte by byte.
pub struct RawPop3 {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl RawPop3 {
    /// Connects and reads the greeting.
    pub fn connect(addr: SocketAddr) -> (RawPop3, String) {
        let stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("set a timeout");
        let writer = stream.try_clone().expect("clone the socket");
        let mut client = RawPop3 {
            reader: BufReader::new(stream),
            writer,
        };
        let greeting = client.line();
        (client, greeting)
    }

    /// One response line without its CRLF ("" at the end of the stream).
    pub fn line(&mut self) -> String {
        let mut line = Vec::new();
        let _ = self.reader.read_until(b'\n', &mut line);
        String::from_utf8_lossy(&line).trim_end().to_owned()
    }

    /// Sends a command and reads the status line.
    pub fn command(&mut self, command: &str) -> String {
        self.writer
            .write_all(format!("{command}\r\n").as_bytes())
            .expect("send a command");
        self.line()
    }

    /// Reads a multi-line body after a positive status line, unstuffed,
    /// with CRLF line ends.
    pub fn body(&mut self) -> Vec<u8> {
        let mut body = Vec::new();
        loop {
            let mut line = Vec::new();
            let n = self
                .reader
                .read_until(b'\n', &mut line)
                .expect("read a body line");
            assert!(n > 0, "connection closed in a multi-line response");
            if line == b".\r\n" {
                return body;
            }
            let line = if line.starts_with(b".") {
                &line[1..]
            } else {
                &line[..]
            };
            body.extend_from_slice(line);
        }
    }

    /// Logs in with USER/PASS and returns the answer to PASS.
    pub fn login(&mut self, user: &str, password: &str) -> String {
        let answer = self.command(&format!("USER {user}"));
        if !answer.starts_with("+OK") {
            return answer;
        }
        self.command(&format!("PASS {password}"))
    }

    /// Whether the server closed the connection (reads until EOF, at most
    /// `timeout`).
    pub fn closed_within(&mut self, timeout: Duration) -> bool {
        let _ = self.reader.get_ref().set_read_timeout(Some(timeout));
        let mut rest = Vec::new();
        match self.reader.read_to_end(&mut rest) {
            Ok(_) => true,
            // A reset also ends the connection; only a timeout does not.
            Err(e) => !matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
        }
    }
}

/// The system user Dovecot's mail processes run as in the tests.
pub const DOVECOT_TEST_USER: &str = "mailwire-test";

/// The uid and gid of a system user, created if missing (needs root).
pub fn system_user(name: &str) -> Option<(u32, u32)> {
    let id = |flag: &str| {
        Command::new("id")
            .args([flag, name])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse::<u32>().ok())
    };
    if id("-u").is_none() {
        let _ = Command::new("useradd")
            .args([
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                name,
            ])
            .status();
    }
    Some((id("-u")?, id("-g")?))
}

/// Gives a directory tree to a user (`chown -R`).
pub fn chown(path: &Path, owner: &str) {
    let status = Command::new("chown")
        .arg("-R")
        .arg(owner)
        .arg(path)
        .status()
        .expect("run chown");
    assert!(status.success(), "chown -R {owner} {}", path.display());
}

/// A Dovecot instance serving POP3 and IMAP on loopback from a mail root,
/// with its own configuration, run and state directories.
pub struct Dovecot {
    child: Option<Child>,
    /// The POP3 address.
    pub addr: SocketAddr,
    /// The IMAP address (plaintext logins allowed, no TLS).
    pub imap: SocketAddr,
    dir: TempDir,
}

impl Dovecot {
    /// Starts Dovecot (needs root and the `dovecot` binary) serving
    /// `root/<user>/Maildir` with the users of the PLAIN passwd-file
    /// `users`; the mail files are given to [`DOVECOT_TEST_USER`].
    pub fn start(root: &Path, users: &Path) -> Dovecot {
        Dovecot::start_tuned(root, users, false)
    }

    /// [`Dovecot::start`]; `tuned` runs it in its "high-performance mode"
    /// (login and mail processes serve many connections, `service_count =
    /// 0`) instead of its default of one process per login and per session.
    pub fn start_tuned(root: &Path, users: &Path, tuned: bool) -> Dovecot {
        Dovecot::start_with(root, users, tuned, 1024)
    }

    /// [`Dovecot::start_tuned`] allowing `connections` IMAP and POP3
    /// connections at once (each one a mail process of its own; the login
    /// processes, auth and anvil are sized to match).
    pub fn start_with(root: &Path, users: &Path, tuned: bool, connections: usize) -> Dovecot {
        Dovecot::start_configured(root, users, tuned, connections, "", "")
    }

    /// [`Dovecot::start_with`] with `namespace` added to the INBOX
    /// namespace's section and `extra` to the configuration's end.
    pub fn start_configured(
        root: &Path,
        users: &Path,
        tuned: bool,
        connections: usize,
        namespace: &str,
        extra: &str,
    ) -> Dovecot {
        let service_count = u8::from(!tuned);
        let (uid, gid) = system_user(DOVECOT_TEST_USER).expect("a system user for Dovecot (run as root)");
        chown(root, &format!("{uid}:{gid}"));
        // Dovecot's processes need to reach the mail root.
        let mut parent = root.parent();
        while let Some(p) = parent {
            if p == Path::new("/") || p == std::env::temp_dir() {
                break;
            }
            let _ = Command::new("chmod").arg("a+x").arg(p).status();
            parent = p.parent();
        }
        let dir = TempDir::new("dovecot");
        let port = free_port();
        let imap_port = free_port();
        let processes = connections.max(1024);
        let clients = (connections + 1000).max(2000);
        let base = dir.path();
        let config = format!(
            "base_dir = {base}/run\n\
             state_dir = {base}/state\n\
             log_path = {base}/dovecot.log\n\
             listen = 127.0.0.1\n\
             protocols = pop3 imap\n\
             ssl = no\n\
             disable_plaintext_auth = no\n\
             auth_mechanisms = plain\n\
             auth_failure_delay = 0\n\
             default_internal_user = dovecot\n\
             default_login_user = dovenull\n\
             first_valid_uid = {uid}\n\
             last_valid_uid = {uid}\n\
             mail_uid = {uid}\n\
             mail_gid = {gid}\n\
             mail_location = maildir:{root}/%u/Maildir\n\
             pop3_uidl_format = %08Xu%08Xv\n\
             mailbox_idle_check_interval = 1 secs\n\
             namespace inbox {{\n  inbox = yes\n  separator = /\n{namespace}}}\n\
             passdb {{\n  driver = passwd-file\n  args = scheme=PLAIN {users}\n}}\n\
             userdb {{\n  driver = static\n  args = uid={uid} gid={gid} home={root}/%u\n}}\n\
             service pop3-login {{\n  inet_listener pop3 {{\n    address = 127.0.0.1\n    port = {port}\n  }}\n  \
             inet_listener pop3s {{\n    port = 0\n  }}\n  chroot =\n  process_min_avail = 2\n  \
             service_count = {service_count}\n}}\n\
             service pop3 {{\n  process_limit = {processes}\n  service_count = {service_count}\n}}\n\
             service imap-login {{\n  inet_listener imap {{\n    address = 127.0.0.1\n    port = {imap_port}\n  }}\n  \
             inet_listener imaps {{\n    port = 0\n  }}\n  chroot =\n  process_min_avail = 2\n  \
             service_count = {service_count}\n  process_limit = {processes}\n}}\n\
             service imap {{\n  process_limit = {processes}\n  service_count = {service_count}\n}}\n\
             service anvil {{\n  chroot =\n}}\n\
             default_client_limit = {clients}\n\
             default_process_limit = {processes}\n\
             mail_max_userip_connections = {clients}\n\
             {extra}\n",
            base = base.display(),
            root = root.display(),
            users = users.display(),
        );
        let conf = base.join("dovecot.conf");
        std::fs::write(&conf, config).expect("write dovecot.conf");
        let child = Command::new("dovecot")
            .arg("-F")
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start dovecot");
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let imap = SocketAddr::from(([127, 0, 0, 1], imap_port));
        let mut dovecot = Dovecot {
            child: Some(child),
            addr,
            imap,
            dir,
        };
        if !wait_for_port(addr, Duration::from_secs(30)) || !wait_for_port(imap, Duration::from_secs(30)) {
            let log = dovecot.log();
            dovecot.stop();
            panic!("Dovecot did not start:\n{log}");
        }
        dovecot
    }

    /// The master process's id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Dovecot's log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dovecot.log")).unwrap_or_default()
    }

    /// Stops Dovecot and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs curl with `args` and returns its output; it must succeed.
pub fn curl(args: &[&str]) -> Vec<u8> {
    let output = run(Command::new("curl").args(args), b"", Duration::from_secs(60));
    assert!(
        output.status.success(),
        "curl {args:?} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// Bytes from hex text, as the Python scripts print them.
pub fn unhex(text: &str) -> Vec<u8> {
    (0..text.len() / 2)
        .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

/// Files in a directory (and, for a Maildir, in its `new` and `cur`).
pub fn files_in(dir: &Path) -> Vec<Vec<u8>> {
    let mut files = Vec::new();
    for sub in [dir.to_path_buf(), dir.join("new"), dir.join("cur")] {
        if let Ok(entries) = std::fs::read_dir(&sub) {
            for entry in entries.flatten() {
                if entry.path().is_file() {
                    files.push(std::fs::read(entry.path()).expect("read a delivered message"));
                }
            }
        }
    }
    files
}

/// Every delivered message (line ends normalised to LF, as local mail
/// tools write them) equals the stored one, and each arrived once.
pub fn check_delivered(who: &str, delivered: &[Vec<u8>], stored: &[Vec<u8>]) {
    let expected = by_message_id(stored);
    assert_eq!(
        delivered.len(),
        stored.len(),
        "{who} delivered {} messages",
        delivered.len()
    );
    let mut seen = BTreeSet::new();
    for message in delivered {
        let id = message_id(message).unwrap_or_else(|| panic!("{who}: a message without Message-ID"));
        assert_eq!(
            lf(message),
            expected[&id],
            "{who}: {id} differs from the stored message"
        );
        assert!(seen.insert(id), "{who}: a message arrived twice");
    }
}

/// A shell script for fetchmail's `mda` that writes each message it is
/// given to a new file in `out`.
pub fn file_writing_mda(work: &Path, out: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let deliver = work.join("deliver.sh");
    std::fs::write(
        &deliver,
        format!("#!/bin/sh\nexec cat > \"{}/$(date +%s%N).$$\"\n", out.display()),
    )
    .expect("write the MDA");
    std::fs::set_permissions(&deliver, std::fs::Permissions::from_mode(0o755)).expect("chmod the MDA");
    deliver
}

/// `work/Maildir` for getmail to deliver into, and the `user = ...` line
/// its destination needs: getmail refuses to deliver as root, so as root
/// it delivers as nobody, who must own the Maildir and reach it.
pub fn getmail_maildir(work: &Path) -> (PathBuf, &'static str) {
    use std::os::unix::fs::PermissionsExt;
    let out = work.join("Maildir");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(out.join(sub)).expect("create the output Maildir");
    }
    if is_root() {
        chown(&out, "nobody");
        std::fs::set_permissions(work, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        (out, "user = nobody\n")
    } else {
        (out, "")
    }
}

/// Runs fetchmail once in keep mode against 127.0.0.1:`port`, with
/// `protocol` (`pop3 uidl`, `IMAP`) and `options` (its TLS settings),
/// delivering each message to a file; returns what it delivered. Panics,
/// with the server's log, when fetchmail fails.
pub fn run_fetchmail(server: &MailServer, port: u16, protocol: &str, options: &str) -> Vec<Vec<u8>> {
    use std::os::unix::fs::PermissionsExt;
    let work = TempDir::new("fetchmail-work");
    let out = work.path().join("out");
    std::fs::create_dir_all(&out).expect("create the output directory");
    let deliver = file_writing_mda(work.path(), &out);
    let rc = work.path().join("fetchmailrc");
    std::fs::write(
        &rc,
        format!(
            "set no bouncemail\nset invisible\n\
             poll 127.0.0.1 service {port} protocol {protocol} auth password timeout 60:\n  \
             user \"alice\" there with password \"secret\" is \"root\" here\n  \
             keep fetchall no rewrite {options} mda \"{mda}\"\n",
            mda = deliver.display()
        ),
    )
    .expect("write the rc file");
    std::fs::set_permissions(&rc, std::fs::Permissions::from_mode(0o600)).expect("chmod the rc file");
    let output = run(
        Command::new("fetchmail")
            .args(["-v", "--nodetach", "-f"])
            .arg(&rc)
            .env("FETCHMAILHOME", work.path()),
        b"",
        Duration::from_secs(120),
    );
    assert!(
        output.status.success(),
        "fetchmail ({protocol} {options}) failed ({}):\n{}\n{}\nserver log:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        server.logs()
    );
    files_in(&out)
}

/// Runs getmail once for alice with `retriever` (its `[retriever]` lines
/// but the user's), delivering into a Maildir and leaving mail on the
/// server; returns the work directory (kept alive) and the Maildir. Panics,
/// with the server's log, when getmail fails.
pub fn run_getmail(server: &MailServer, retriever: &str) -> (TempDir, PathBuf) {
    let work = TempDir::new("getmail-work");
    let (out, user) = getmail_maildir(work.path());
    let rc = work.path().join("getmailrc");
    std::fs::write(
        &rc,
        format!(
            "[retriever]\n{retriever}username = alice\npassword = secret\n\n\
             [destination]\ntype = Maildir\npath = {out}/\n{user}\n\
             [options]\nverbose = 2\nread_all = true\ndelete = false\n\
             delivered_to = false\nreceived = false\n",
            out = out.display(),
        ),
    )
    .expect("write the rc file");
    let output = run(
        Command::new("getmail")
            .arg("--rcfile")
            .arg(&rc)
            .arg("--getmaildir")
            .arg(work.path()),
        b"",
        Duration::from_secs(120),
    );
    assert!(
        output.status.success(),
        "getmail failed ({}):\n{}\n{}\nserver log:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        server.logs()
    );
    (work, out)
}

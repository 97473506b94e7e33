//! IMAP load: concurrent clients each run whole sessions (LOGIN, SELECT,
//! a FETCH of every envelope, three BODY.PEEK[], a flag change, an APPEND
//! and its expunge, LOGOUT) against mail_server and against Dovecot serving
//! copies of the same Maildirs, in the same run. Prints messages per
//! second, session and per-command latency percentiles, and the ratios.
//!
//! ```text
//! cargo bench --bench imap_load                       # 1, 16 and 64 clients
//! IMAP_LOAD_CLIENTS=16 IMAP_LOAD_SESSIONS=40 cargo bench --bench imap_load
//! IMAP_LOAD_CLIENTS=64 IMAP_LOAD_SERVER_ARGS="--storage-jobs 64" cargo bench --bench imap_load
//! ```
//!
//! `IMAP_LOAD_CLIENTS` takes a comma-separated sweep; `IMAP_LOAD_SESSIONS`
//! the sessions per client (by default 200 for one client, else about
//! 400-512 in all); `IMAP_LOAD_SERVER_ARGS` more mail_server options,
//! split at spaces.
//!
//! A session, as one client's user:
//!
//! ```text
//! a1 LOGIN userN secret
//! a2 SELECT INBOX
//! a3 FETCH 1:* (UID FLAGS ENVELOPE RFC822.SIZE)
//! a4 UID FETCH u1,u2,u3 BODY.PEEK[]            three UIDs, a different sample every session
//! a5 UID STORE u1 +FLAGS (\Seen)
//! a6 APPEND INBOX (\Seen) {n+}                  LITERAL+ when offered, else a synchronizing literal
//! a7 UID STORE <APPENDUID> +FLAGS (\Deleted)
//! a8 UID EXPUNGE <APPENDUID>                    so the mailbox keeps its 20 messages
//! a9 LOGOUT
//! ```
//!
//! "messages" are the bodies fetched with BODY.PEEK[] (three a session),
//! the counterpart of the POP3 bench's RETRs; the envelopes of a3 (20 a
//! session) are counted apart. Every server gets one warm-up session per
//! user first.
//!
//! Dovecot runs twice, as in `pop3_load`: its default one process per login
//! and per session (`dovecot`), and its "high-performance mode" where
//! processes serve many connections (`dovecot-hp`, `service_count = 0`). It
//! takes part when it is installed and this runs as root; otherwise only
//! mail_server is measured.

#[path = "../tests/mail_server/support.rs"]
mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use support::{Dovecot, MailRoot, MailServer};

/// The Maildir contents: those of the POP3 load bench (the test messages,
/// one of about 220 KiB, and 14 plain mails), 20 in all.
fn messages() -> Vec<Vec<u8>> {
    let mut messages = support::sample_messages();
    for i in 0..14u32 {
        let mut m = format!(
            "From: Someone <someone{i}@example.org>\nTo: user@example.org\nSubject: Message {i}\n\
             Date: Sun, 22 Nov 2026 11:{i:02}:00 +0000\nMessage-ID: <load-{i}@mailwire.test>\n\
             MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n"
        )
        .into_bytes();
        for line in 0..(40 + 20 * i) {
            let dot = if line % 11 == 0 { "." } else { "" };
            m.extend_from_slice(
                format!("{dot}Line {line} of message {i}: some ordinary text to fill it.\n").as_bytes(),
            );
        }
        messages.push(m);
    }
    messages
}

/// The message each session appends (and expunges again).
fn appended(user: &str, n: usize) -> Vec<u8> {
    format!(
        "From: Load <load@example.org>\r\nTo: {user}@example.org\r\nSubject: Appended {n}\r\n\
         Date: Sun, 22 Nov 2026 12:00:00 +0000\r\nMessage-ID: <append-{user}-{n}@mailwire.test>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         A small message, as a client saves a sent mail.\r\nIt has three lines.\r\nThe end.\r\n"
    )
    .into_bytes()
}

/// One server response: its lines joined, literals left out (only their
/// sizes are kept).
#[derive(Default)]
struct Response {
    /// The text of the response with every literal replaced by `{n}`.
    text: Vec<u8>,
    /// The sizes of its literals.
    literals: Vec<usize>,
}

impl Response {
    fn starts_with(&self, prefix: &[u8]) -> bool {
        self.text.starts_with(prefix)
    }

    fn lossy(&self) -> String {
        String::from_utf8_lossy(&self.text).into_owned()
    }
}

/// A blocking IMAP client: reads whole responses (a line ending in `{n}`
/// is followed by n octets of literal, then more of the line).
struct Client {
    reader: BufReader<TcpStream>,
    line: Vec<u8>,
    literal: Vec<u8>,
    next_tag: u32,
    /// The tagged response and the untagged ones before it, of the last
    /// command.
    untagged: Vec<Response>,
}

impl Client {
    fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .expect("timeout");
        let mut client = Client {
            reader: BufReader::with_capacity(64 * 1024, stream),
            line: Vec::new(),
            literal: Vec::new(),
            next_tag: 1,
            untagged: Vec::new(),
        };
        let greeting = client.response();
        assert!(greeting.starts_with(b"* OK"), "greeting: {}", greeting.lossy());
        client
    }

    /// Reads one response, its literals included.
    fn response(&mut self) -> Response {
        let mut response = Response::default();
        loop {
            self.line.clear();
            let n = self
                .reader
                .read_until(b'\n', &mut self.line)
                .expect("read a response line");
            assert!(n > 0, "connection closed in a response");
            let line = self.line.strip_suffix(b"\r\n").unwrap_or(&self.line);
            response.text.extend_from_slice(line);
            let Some(size) = literal_size(line) else {
                return response;
            };
            self.literal.resize(size, 0);
            self.reader.read_exact(&mut self.literal).expect("read a literal");
            response.literals.push(size);
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.reader.get_mut().write_all(bytes).expect("send a command");
    }

    fn tag(&mut self) -> String {
        let tag = format!("a{}", self.next_tag);
        self.next_tag += 1;
        tag
    }

    /// Sends `command` (without tag and CRLF) and reads to its tagged
    /// response, which must be OK; the untagged responses are kept in
    /// `self.untagged`.
    fn command(&mut self, command: &str) -> Response {
        let tag = self.tag();
        self.send(format!("{tag} {command}\r\n").as_bytes());
        self.finish(&tag, command)
    }

    fn finish(&mut self, tag: &str, command: &str) -> Response {
        self.untagged.clear();
        let tagged = format!("{tag} ");
        loop {
            let response = self.response();
            if response.starts_with(tagged.as_bytes()) {
                assert!(
                    response.text[tagged.len()..].starts_with(b"OK"),
                    "{command}: {}",
                    response.lossy()
                );
                return response;
            }
            self.untagged.push(response);
        }
    }

    /// APPENDs `message` to the INBOX with a literal (non-synchronizing
    /// when `literal_plus`); returns the tagged response.
    fn append(&mut self, message: &[u8], literal_plus: bool) -> Response {
        let tag = self.tag();
        let plus = if literal_plus { "+" } else { "" };
        let head = format!("{tag} APPEND INBOX (\\Seen) {{{}{plus}}}\r\n", message.len());
        if literal_plus {
            let mut all = head.into_bytes();
            all.extend_from_slice(message);
            all.extend_from_slice(b"\r\n");
            self.send(&all);
        } else {
            self.send(head.as_bytes());
            let go = self.response();
            assert!(go.starts_with(b"+"), "APPEND literal: {}", go.lossy());
            let mut all = message.to_vec();
            all.extend_from_slice(b"\r\n");
            self.send(&all);
        }
        self.finish(&tag, "APPEND")
    }
}

/// The size of the literal a line announces at its end (`{n}` or `{n+}`).
fn literal_size(line: &[u8]) -> Option<usize> {
    let open = line.strip_suffix(b"}")?;
    let open = open.strip_suffix(b"+").unwrap_or(open);
    let start = open.iter().rposition(|&b| b == b'{')? + 1;
    std::str::from_utf8(&open[start..]).ok()?.parse().ok()
}

/// The word after `key` in `text` (`UID 17` -> 17), as a number.
fn number_after(text: &[u8], key: &[u8]) -> Option<u32> {
    let at = memchr::memmem::find(text, key)? + key.len();
    let digits: Vec<u8> = text[at..]
        .iter()
        .copied()
        .take_while(u8::is_ascii_digit)
        .collect();
    std::str::from_utf8(&digits).ok()?.parse().ok()
}

/// The commands of a session, in order, for the per-command latencies.
const COMMANDS: [&str; 9] = [
    "LOGIN",
    "SELECT",
    "FETCH 1:*",
    "UID FETCH BODY[]",
    "UID STORE \\Seen",
    "APPEND",
    "UID STORE \\Deleted",
    "UID EXPUNGE",
    "LOGOUT",
];

#[derive(Default)]
struct Measured {
    sessions: Vec<Duration>,
    /// Latencies by index into [`COMMANDS`].
    commands: BTreeMap<usize, Vec<Duration>>,
    /// Bodies fetched with BODY.PEEK[].
    messages: usize,
    /// Their octets.
    bytes: usize,
    /// Envelopes fetched.
    envelopes: usize,
}

impl Measured {
    fn add(&mut self, other: Measured) {
        self.sessions.extend(other.sessions);
        for (k, v) in other.commands {
            self.commands.entry(k).or_default().extend(v);
        }
        self.messages += other.messages;
        self.bytes += other.bytes;
        self.envelopes += other.envelopes;
    }
}

/// One session as `user`; `n` numbers the session (it chooses the sample
/// of bodies fetched).
fn session(addr: SocketAddr, user: &str, n: usize, literal_plus: bool, out: &mut Measured) {
    let start = Instant::now();
    let mut c = Client::connect(addr);
    timed(out, &mut c, 0, &|c| c.command(&format!("LOGIN {user} secret")));
    timed(out, &mut c, 1, &|c| c.command("SELECT INBOX"));
    timed(out, &mut c, 2, &|c| {
        c.command("FETCH 1:* (UID FLAGS ENVELOPE RFC822.SIZE)")
    });
    let uids: Vec<u32> = c
        .untagged
        .iter()
        .filter(|r| memchr::memmem::find(&r.text, b" FETCH (").is_some())
        .filter_map(|r| number_after(&r.text, b"UID "))
        .collect();
    assert!(uids.len() >= 3, "too few messages: {}", uids.len());
    out.envelopes += uids.len();
    let len = uids.len();
    let sample = [uids[n % len], uids[(n + 7) % len], uids[(n + 13) % len]];
    let set = format!("{},{},{}", sample[0], sample[1], sample[2]);
    timed(out, &mut c, 3, &|c| {
        c.command(&format!("UID FETCH {set} BODY.PEEK[]"))
    });
    for r in &c.untagged {
        if !r.literals.is_empty() {
            out.messages += 1;
            out.bytes += r.literals.iter().sum::<usize>();
        }
    }
    timed(out, &mut c, 4, &|c| {
        c.command(&format!("UID STORE {} +FLAGS (\\Seen)", sample[0]))
    });
    let message = appended(user, n);
    let done = timed(out, &mut c, 5, &|c| c.append(&message, literal_plus));
    let new = append_uid(&done.text).unwrap_or_else(|| panic!("no APPENDUID: {}", done.lossy()));
    timed(out, &mut c, 6, &|c| {
        c.command(&format!("UID STORE {new} +FLAGS (\\Deleted)"))
    });
    timed(out, &mut c, 7, &|c| c.command(&format!("UID EXPUNGE {new}")));
    timed(out, &mut c, 8, &|c| c.command("LOGOUT"));
    out.sessions.push(start.elapsed());
}

/// Runs one command of a session, timing it as `COMMANDS[i]`.
fn timed(out: &mut Measured, c: &mut Client, i: usize, run: &dyn Fn(&mut Client) -> Response) -> Response {
    let t = Instant::now();
    let r = run(c);
    out.commands.entry(i).or_default().push(t.elapsed());
    r
}

/// The UID of `[APPENDUID <uidvalidity> <uid>]` in a tagged OK.
fn append_uid(text: &[u8]) -> Option<u32> {
    let at = memchr::memmem::find(text, b"[APPENDUID ")? + 11;
    let mut words = text[at..].split(|&b| b == b' ' || b == b']');
    words.next()?;
    std::str::from_utf8(words.next()?).ok()?.parse().ok()
}

/// Whether the server offers LITERAL+ (asked once, before the timed run).
fn offers_literal_plus(addr: SocketAddr) -> bool {
    let mut c = Client::connect(addr);
    c.command("CAPABILITY");
    let offered = c.untagged.iter().any(|r| {
        r.starts_with(b"* CAPABILITY ")
            && r.text
                .split(|&b| b == b' ')
                .any(|w| w.eq_ignore_ascii_case(b"LITERAL+"))
    });
    c.command("LOGOUT");
    offered
}

struct Report {
    name: &'static str,
    elapsed: Duration,
    measured: Measured,
    literal_plus: bool,
}

impl Report {
    fn messages_per_second(&self) -> f64 {
        self.measured.messages as f64 / self.elapsed.as_secs_f64()
    }

    fn session_p99(&self) -> Duration {
        percentile(&self.measured.sessions, 99.0)
    }

    fn command_p99(&self, i: usize) -> Duration {
        self.measured
            .commands
            .get(&i)
            .map_or(Duration::ZERO, |v| percentile(v, 99.0))
    }

    fn sort(&mut self) {
        self.measured.sessions.sort();
        for v in self.measured.commands.values_mut() {
            v.sort();
        }
    }

    fn print(&self) {
        let m = &self.measured;
        let secs = self.elapsed.as_secs_f64();
        println!(
            "{:<12} {:>8.0} msg/s {:>8.0} env/s {:>7.1} sessions/s {:>7.1} MB/s  session p50 {:>8.2} ms p99 {:>8.2} ms  \
             ({} sessions, {} messages in {:.2} s, {})",
            self.name,
            self.messages_per_second(),
            m.envelopes as f64 / secs,
            m.sessions.len() as f64 / secs,
            m.bytes as f64 / secs / 1e6,
            ms(percentile(&m.sessions, 50.0)),
            ms(self.session_p99()),
            m.sessions.len(),
            m.messages,
            secs,
            if self.literal_plus {
                "LITERAL+"
            } else {
                "synchronizing literal"
            },
        );
        let per_command: Vec<String> = COMMANDS
            .iter()
            .enumerate()
            .map(|(i, name)| format!("{name} {:.3}", ms(self.command_p99(i))))
            .collect();
        println!("{:<12} command p99 ms: {}", "", per_command.join(", "));
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// `clients` threads, each running `sessions` sessions as its own user.
fn load(name: &'static str, addr: SocketAddr, clients: usize, sessions: usize) -> Report {
    let literal_plus = offers_literal_plus(addr);
    // Warm-up: every user's indexes made and the files in the page cache.
    for i in 0..clients {
        session(
            addr,
            &format!("user{i}"),
            0,
            literal_plus,
            &mut Measured::default(),
        );
    }
    let barrier = Arc::new(Barrier::new(clients + 1));
    let threads: Vec<_> = (0..clients)
        .map(|i| {
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                let mut out = Measured::default();
                let user = format!("user{i}");
                barrier.wait();
                for n in 0..sessions {
                    session(addr, &user, n + i, literal_plus, &mut out);
                }
                out
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    let mut measured = Measured::default();
    for t in threads {
        measured.add(t.join().expect("a client failed"));
    }
    let mut report = Report {
        name,
        elapsed: start.elapsed(),
        measured,
        literal_plus,
    };
    report.sort();
    report
}

fn env_number(name: &str) -> Option<usize> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// Sessions per client by default: about 200-500 sessions in all.
fn default_sessions(clients: usize) -> usize {
    match clients {
        1 => 200,
        2..=16 => 400 / clients,
        _ => (512 / clients).max(4),
    }
}

fn main() {
    let sweep: Vec<usize> = match std::env::var("IMAP_LOAD_CLIENTS") {
        Ok(v) => v
            .split(',')
            .filter_map(|n| n.trim().parse().ok())
            .map(|n: usize| n.max(1))
            .collect(),
        Err(_) => vec![1, 16, 64],
    };
    let max_clients = sweep.iter().copied().max().unwrap_or(1);
    let messages = messages();
    let passwd: String = (0..max_clients)
        .map(|i| format!("user{i}:{{PLAIN}}secret::::::\n"))
        .collect();
    // Separate copies: IMAP changes the Maildirs (flags, appends,
    // expunges, each server's own index files).
    let ours_mail = MailRoot::new("imap-load", &passwd, "user0", &messages);
    let theirs_mail = MailRoot::new("imap-load-dovecot", &passwd, "user0", &messages);
    for i in 1..max_clients {
        ours_mail.deliver(&format!("user{i}"), &messages);
        theirs_mail.deliver(&format!("user{i}"), &messages);
    }
    let total: usize = messages.iter().map(|m| support::crlf(m).len()).sum();
    println!(
        "IMAP load: clients {sweep:?}; each session logs in, SELECTs the INBOX ({} messages, {total} octets), \
         FETCHes every envelope, BODY.PEEK[]s 3 messages, sets \\Seen on one, APPENDs one and expunges it, LOGOUT",
        messages.len()
    );
    let dovecot_ok = support::require("dovecot") && support::is_root();
    if !dovecot_ok {
        println!("Dovecot not measured (needs the dovecot binary and root)");
    }

    let extra = std::env::var("IMAP_LOAD_SERVER_ARGS").unwrap_or_default();
    if !extra.is_empty() {
        println!("mail_server options added: {extra}");
    }
    let mut args: Vec<String> = [
        "--mail-root",
        &ours_mail.root.display().to_string(),
        "--users",
        &ours_mail.users.display().to_string(),
        "--allow-plaintext-auth",
        "--max-connections",
        "10000",
    ]
    .map(str::to_owned)
    .into();
    args.extend(extra.split_whitespace().map(str::to_owned));
    let mut server = MailServer::start_logging(args, "warn");
    let mut summary = Vec::new();
    for &clients in &sweep {
        let sessions = env_number("IMAP_LOAD_SESSIONS")
            .unwrap_or_else(|| default_sessions(clients))
            .max(1);
        println!("\n{clients} clients x {sessions} sessions");
        let ours = load("mail_server", server.imap, clients, sessions);
        ours.print();
        if !dovecot_ok {
            continue;
        }
        for (name, tuned) in [("dovecot", false), ("dovecot-hp", true)] {
            let mut dovecot = Dovecot::start_tuned(&theirs_mail.root, &theirs_mail.users, tuned);
            let theirs = load(name, dovecot.imap, clients, sessions);
            dovecot.stop();
            theirs.print();
            let worst_command = (0..COMMANDS.len())
                .map(|i| {
                    let ratio = ours.command_p99(i).as_secs_f64() / theirs.command_p99(i).as_secs_f64();
                    (ratio, COMMANDS[i])
                })
                .fold((0.0, ""), |a, b| if b.0 > a.0 { b } else { a });
            let line = format!(
                "ratio mail_server / {name} at {clients} clients: {:.2}x messages per second, session p99 {:.2}x \
                 (lower is better), worst command p99 {:.2}x ({})",
                ours.messages_per_second() / theirs.messages_per_second(),
                ms(ours.session_p99()) / ms(theirs.session_p99()),
                worst_command.0,
                worst_command.1,
            );
            println!("{line}");
            summary.push(line);
        }
    }
    server.stop();
    if !summary.is_empty() {
        println!("\nSummary");
        for line in summary {
            println!("{line}");
        }
    }
}

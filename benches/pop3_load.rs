//! POP3 load: concurrent clients each log in, LIST, RETR every message and
//! QUIT, against mail_server and against Dovecot serving the same Maildirs,
//! in the same run. Prints messages per second, session and RETR latency
//! percentiles, and the ratios.
//!
//! ```text
//! cargo bench --bench pop3_load
//! POP3_LOAD_CLIENTS=64 POP3_LOAD_SESSIONS=20 cargo bench --bench pop3_load
//! ```
//!
//! Dovecot runs twice: with its default one process per login and per
//! session (`dovecot`), and in its "high-performance mode" where processes
//! serve many connections (`dovecot-hp`, `service_count = 0`).
//!
//! Dovecot takes part when it is installed and this runs as root (it needs
//! a system user); otherwise only mail_server is measured. Everything is
//! on 127.0.0.1, and the number of sessions is fixed, so the run ends by
//! itself.

#[path = "../tests/mail_server/support.rs"]
mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use support::{Dovecot, MailRoot, MailServer};

/// The Maildir contents: the test messages (one of about 220 KiB) and
/// typical small mails, 20 in all, with LF line ends.
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

/// A blocking POP3 client that reads every response fully.
struct Client {
    reader: BufReader<TcpStream>,
    line: Vec<u8>,
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
        };
        client.status();
        client
    }

    fn status(&mut self) {
        self.line.clear();
        self.reader
            .read_until(b'\n', &mut self.line)
            .expect("read a status line");
        assert!(
            self.line.starts_with(b"+OK"),
            "{}",
            String::from_utf8_lossy(&self.line)
        );
    }

    fn send(&mut self, command: &str) {
        self.reader
            .get_mut()
            .write_all(command.as_bytes())
            .expect("send a command");
    }

    /// Reads a multi-line body; returns its size on the wire.
    fn body(&mut self) -> usize {
        let mut size = 0;
        loop {
            self.line.clear();
            let n = self
                .reader
                .read_until(b'\n', &mut self.line)
                .expect("read a body line");
            assert!(n > 0, "connection closed in a body");
            if self.line == b".\r\n" {
                return size;
            }
            size += n;
        }
    }
}

#[derive(Default)]
struct Measured {
    sessions: Vec<Duration>,
    retrs: Vec<Duration>,
    messages: usize,
    bytes: usize,
}

/// One session: login, LIST, RETR all, QUIT.
fn session(addr: SocketAddr, user: &str, out: &mut Measured) {
    let start = Instant::now();
    let mut c = Client::connect(addr);
    c.send(&format!("USER {user}\r\n"));
    c.status();
    c.send("PASS secret\r\n");
    c.status();
    c.send("LIST\r\n");
    c.status();
    c.line.clear();
    let mut count = 0;
    loop {
        c.line.clear();
        c.reader.read_until(b'\n', &mut c.line).expect("read LIST");
        if c.line == b".\r\n" {
            break;
        }
        count += 1;
    }
    for n in 1..=count {
        let t = Instant::now();
        c.send(&format!("RETR {n}\r\n"));
        c.status();
        out.bytes += c.body();
        out.retrs.push(t.elapsed());
        out.messages += 1;
    }
    c.send("QUIT\r\n");
    c.status();
    out.sessions.push(start.elapsed());
}

struct Report {
    name: &'static str,
    elapsed: Duration,
    measured: Measured,
}

impl Report {
    fn messages_per_second(&self) -> f64 {
        self.measured.messages as f64 / self.elapsed.as_secs_f64()
    }

    fn print(&mut self) {
        self.measured.sessions.sort();
        self.measured.retrs.sort();
        let m = &self.measured;
        println!(
            "{:<12} {:>9.0} msg/s {:>8.1} MB/s  session p50 {:>8.2} ms p99 {:>8.2} ms  RETR p50 {:>7.3} ms p99 {:>7.3} ms  ({} sessions, {} messages in {:.2} s)",
            self.name,
            self.messages_per_second(),
            m.bytes as f64 / self.elapsed.as_secs_f64() / 1e6,
            ms(percentile(&m.sessions, 50.0)),
            ms(percentile(&m.sessions, 99.0)),
            ms(percentile(&m.retrs, 50.0)),
            ms(percentile(&m.retrs, 99.0)),
            m.sessions.len(),
            m.messages,
            self.elapsed.as_secs_f64(),
        );
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
    // Warm-up: every user's indexes made and the files in the page cache.
    for i in 0..clients {
        session(addr, &format!("user{i}"), &mut Measured::default());
    }
    let barrier = Arc::new(Barrier::new(clients + 1));
    let threads: Vec<_> = (0..clients)
        .map(|i| {
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                let mut out = Measured::default();
                let user = format!("user{i}");
                barrier.wait();
                for _ in 0..sessions {
                    session(addr, &user, &mut out);
                }
                out
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    let mut measured = Measured::default();
    for t in threads {
        let out = t.join().expect("a client failed");
        measured.sessions.extend(out.sessions);
        measured.retrs.extend(out.retrs);
        measured.messages += out.messages;
        measured.bytes += out.bytes;
    }
    Report {
        name,
        elapsed: start.elapsed(),
        measured,
    }
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let clients = env_number("POP3_LOAD_CLIENTS", 16).max(1);
    let sessions = env_number("POP3_LOAD_SESSIONS", 25).max(1);
    let messages = messages();
    let passwd: String = (0..clients)
        .map(|i| format!("user{i}:{{PLAIN}}secret::::::\n"))
        .collect();
    let mail = MailRoot::new("pop3-load", &passwd, "user0", &messages);
    for i in 1..clients {
        mail.deliver(&format!("user{i}"), &messages);
    }
    let total: usize = messages.iter().map(|m| support::crlf(m).len()).sum();
    println!(
        "POP3 load: {clients} concurrent clients x {sessions} sessions; each logs in (USER/PASS), LISTs, \
         RETRs all {} messages ({total} octets) and QUITs",
        messages.len()
    );

    let mut ours = {
        let server = MailServer::start_logging(
            [
                "--mail-root",
                &mail.root.display().to_string(),
                "--users",
                &mail.users.display().to_string(),
                "--allow-plaintext-auth",
                "--max-connections",
                "10000",
            ],
            "warn",
        );
        load("mail_server", server.pop3, clients, sessions)
    };
    ours.print();

    let dovecot_ok = support::require("dovecot") && support::is_root();
    if !dovecot_ok {
        println!("Dovecot not measured (needs the dovecot binary and root)");
        return;
    }
    let p99 = |r: &Report| percentile(&r.measured.sessions, 99.0).as_secs_f64();
    for (name, tuned) in [("dovecot", false), ("dovecot-hp", true)] {
        let mut dovecot = Dovecot::start_tuned(&mail.root, &mail.users, tuned);
        let mut theirs = load(name, dovecot.addr, clients, sessions);
        dovecot.stop();
        theirs.print();
        println!(
            "ratio mail_server / {name}: {:.2}x messages per second, session p99 {:.2}x (lower is better)",
            ours.messages_per_second() / theirs.messages_per_second(),
            p99(&ours) / p99(&theirs)
        );
    }
}

//! Memory per idle IMAP connection: opens many connections to mail_server
//! from 127.0.0.1, each `LOGIN` and `SELECT INBOX`, then sends `IDLE` on
//! every one and waits for every `+ idling`, and reports the server's resident memory before
//! and after: (VmRSS after - VmRSS before) / connections. Then the same
//! against Dovecot, summing the memory of its master and every process
//! under it (one `imap` process per connection), when it is installed and
//! this runs as root.
//!
//! ```text
//! cargo bench --bench imap_idle_memory
//! IMAP_IDLE_CONNECTIONS=2000 IMAP_IDLE_USERS=20 cargo bench --bench imap_idle_memory
//! ```
//!
//! - `IMAP_IDLE_CONNECTIONS` (default 10000): connections to mail_server;
//! - `IMAP_IDLE_DOVECOT_CONNECTIONS` (default 2000, at most the above):
//!   connections to Dovecot, which forks a process for each;
//! - `IMAP_IDLE_USERS` (default 100): connection i logs in as user i mod
//!   this; every user's INBOX holds the 20 messages of the load benches.
//!
//! The bench needs a file descriptor per connection, and so does the
//! server: it raises its own soft `RLIMIT_NOFILE` to the hard limit (with
//! `prlimit`, as the workspace forbids `unsafe`), and the servers inherit
//! it. If the hard limit is too low, raise it first (`ulimit -Hn`).
//!
//! It also prints the memory with the connections selected but not yet
//! idling, and how busy the server is (CPU seconds per second) while they
//! idle: an idle server should be close to 0.

#[path = "../tests/mail_server/support.rs"]
mod support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use support::{Dovecot, MailRoot, MailServer};

/// The messages of every INBOX: those of the load benches.
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
            m.extend_from_slice(
                format!("Line {line} of message {i}: some ordinary text to fill it.\n").as_bytes(),
            );
        }
        messages.push(m);
    }
    messages
}

/// Reads lines up to one starting with `prefix`; panics on EOF.
fn read_until_prefix(reader: &mut BufReader<TcpStream>, prefix: &[u8], what: &str) {
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line).expect(what);
        assert!(n > 0, "{what}: connection closed");
        if line.starts_with(prefix) {
            return;
        }
    }
}

/// Connects, logs in and selects the INBOX; returns the open connection.
fn selected_connection(addr: SocketAddr, user: &str) -> BufReader<TcpStream> {
    let stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(300)))
        .expect("timeout");
    let mut reader = BufReader::with_capacity(4096, stream);
    read_until_prefix(&mut reader, b"* OK", "greeting");
    let send = |reader: &mut BufReader<TcpStream>, command: &str| {
        reader.get_mut().write_all(command.as_bytes()).expect("send");
    };
    send(&mut reader, &format!("a1 LOGIN {user} secret\r\n"));
    read_until_prefix(&mut reader, b"a1 ", "LOGIN");
    send(&mut reader, "a2 SELECT INBOX\r\n");
    read_until_prefix(&mut reader, b"a2 OK", "SELECT");
    reader
}

/// `count` connections with the INBOX selected, opened by a few threads
/// at once.
fn open_selected(addr: SocketAddr, count: usize, users: usize) -> Vec<BufReader<TcpStream>> {
    let threads = 8.min(count.max(1));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            std::thread::spawn(move || {
                (t..count)
                    .step_by(threads)
                    .map(|i| selected_connection(addr, &format!("user{}", i % users)))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    handles
        .into_iter()
        .flat_map(|h| h.join().expect("a connecting thread failed"))
        .collect()
}

/// Sends IDLE on every connection, then waits for every `+ idling`.
fn enter_idle(connections: &mut [BufReader<TcpStream>]) {
    for c in connections.iter_mut() {
        c.get_mut().write_all(b"a3 IDLE\r\n").expect("send IDLE");
    }
    for c in connections.iter_mut() {
        read_until_prefix(c, b"+ ", "IDLE");
    }
}

/// CPU time (clock ticks, user + system) of `pid` and its descendants.
fn cpu_ticks(pids: &[u32]) -> u64 {
    pids.iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/stat")).ok())
        .filter_map(|stat| {
            let rest = stat.rsplit_once(')')?.1.to_owned();
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
        })
        .sum()
}

/// How busy the processes are while the connections idle: CPU seconds per
/// second over `span`.
fn busy(pids: &[u32], span: Duration) -> f64 {
    let before = cpu_ticks(pids);
    std::thread::sleep(span);
    (cpu_ticks(pids) - before) as f64 / 100.0 / span.as_secs_f64()
}

/// A field of /proc/<pid>/status or smaps_rollup in KiB (`VmRSS:`, `Pss:`).
fn proc_kib(pid: u32, file: &str, field: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/{file}")).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Resident and proportional memory (KiB) of `pid` and every process
/// under it, and how many processes that is.
fn tree_memory(pid: u32) -> (u64, u64, Vec<u32>) {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for entry in std::fs::read_dir("/proc").expect("read /proc").flatten() {
        let Some(p) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        // pid (comm) state ppid ...: comm may hold spaces, so after the last ')'.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|n| n.parse::<u32>().ok());
        if let Some(ppid) = ppid {
            children.entry(ppid).or_default().push(p);
        }
    }
    let (mut rss, mut pss, mut all) = (0, 0, Vec::new());
    let mut todo = vec![pid];
    while let Some(p) = todo.pop() {
        rss += proc_kib(p, "status", "VmRSS:");
        pss += proc_kib(p, "smaps_rollup", "Pss:");
        all.push(p);
        todo.extend(children.get(&p).into_iter().flatten());
    }
    (rss, pss, all)
}

/// Raises this process's soft RLIMIT_NOFILE to its hard limit; returns
/// the soft limit in force afterwards.
fn raise_nofile() -> u64 {
    let limits = || {
        let text = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
        let line = text
            .lines()
            .find(|l| l.starts_with("Max open files"))
            .unwrap_or_default()
            .to_owned();
        let mut words = line.split_whitespace().skip(3);
        let soft = words.next().and_then(|w| w.parse::<u64>().ok()).unwrap_or(1024);
        let hard = words.next().and_then(|w| w.parse::<u64>().ok()).unwrap_or(soft);
        (soft, hard)
    };
    let (soft, hard) = limits();
    if soft < hard {
        let _ = Command::new("prlimit")
            .arg(format!("--pid={}", std::process::id()))
            .arg(format!("--nofile={hard}:{hard}"))
            .status();
    }
    limits().0
}

struct Measurement {
    name: &'static str,
    connections: usize,
    /// KiB before, with the INBOX selected, idling, and after the
    /// connections closed.
    before: u64,
    selected: u64,
    after: u64,
    closed: u64,
    processes: usize,
    took: Duration,
    /// CPU seconds per second while the connections idle.
    busy: f64,
    note: &'static str,
}

impl Measurement {
    fn per_connection_kib(&self) -> f64 {
        (self.after as f64 - self.before as f64) / self.connections as f64
    }

    fn print(&self) {
        println!(
            "{:<12} {:>6} connections in {:>6.2} s: {:>9} KiB before, {:>9} KiB selected, {:>9} KiB idle, \
             {:>9} KiB after closing ({} processes idle, {:.2} CPUs busy idling): {:>8.1} KiB per idle connection \
             ({:.1} selected)  [{}]",
            self.name,
            self.connections,
            self.took.as_secs_f64(),
            self.before,
            self.selected,
            self.after,
            self.closed,
            self.processes,
            self.busy,
            self.per_connection_kib(),
            (self.selected as f64 - self.before as f64) / self.connections as f64,
            self.note,
        );
    }
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One LOGIN, SELECT, IDLE and close per user, so the baseline holds what
/// the first session of a user leaves behind (threads, caches, indexes).
fn warm_up(addr: SocketAddr, users: usize) {
    let mut connections = open_selected(addr, users, users);
    enter_idle(&mut connections);
    drop(connections);
    std::thread::sleep(Duration::from_millis(500));
}

fn main() {
    let count = env_number("IMAP_IDLE_CONNECTIONS", 10_000).max(1);
    let users = env_number("IMAP_IDLE_USERS", 100).clamp(1, count);
    let dovecot_count = env_number("IMAP_IDLE_DOVECOT_CONNECTIONS", 2_000).clamp(1, count);
    let nofile = raise_nofile();
    assert!(
        nofile as usize > count + 200,
        "RLIMIT_NOFILE is {nofile}: too low for {count} connections (raise the hard limit)"
    );
    let messages = messages();
    let passwd: String = (0..users)
        .map(|i| format!("user{i}:{{PLAIN}}secret::::::\n"))
        .collect();
    let ours_mail = MailRoot::new("imap-idle", &passwd, "user0", &messages);
    let theirs_mail = MailRoot::new("imap-idle-dovecot", &passwd, "user0", &messages);
    for i in 1..users {
        ours_mail.deliver(&format!("user{i}"), &messages);
        theirs_mail.deliver(&format!("user{i}"), &messages);
    }
    println!(
        "IMAP idle memory: connections LOGIN, SELECT INBOX ({} messages) and IDLE, as {users} users; \
         RLIMIT_NOFILE {nofile}",
        messages.len()
    );
    let settle = Duration::from_secs(2);

    let max = (count + 1000).to_string();
    let mut server = MailServer::start_logging(
        [
            "--mail-root",
            &ours_mail.root.display().to_string(),
            "--users",
            &ours_mail.users.display().to_string(),
            "--allow-plaintext-auth",
            "--max-connections",
            &max,
            // All the connections come from 127.0.0.1.
            "--max-connections-per-ip",
            &max,
            "--idle-timeout",
            "3600",
        ],
        "warn",
    );
    let pid = server.pid().expect("mail_server runs");
    let server_limit = std::fs::read_to_string(format!("/proc/{pid}/limits"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap_or_default()
        .to_owned();
    println!("mail_server pid {pid}: {server_limit}");
    warm_up(server.imap, users);
    let before = proc_kib(pid, "status", "VmRSS:");
    let start = Instant::now();
    let mut connections = open_selected(server.imap, count, users);
    std::thread::sleep(settle);
    let selected = proc_kib(pid, "status", "VmRSS:");
    enter_idle(&mut connections);
    let took = start.elapsed();
    std::thread::sleep(settle);
    let after = proc_kib(pid, "status", "VmRSS:");
    let busy_idling = busy(&[pid], Duration::from_secs(5));
    let hwm = proc_kib(pid, "status", "VmHWM:");
    let threads = proc_kib(pid, "status", "Threads:");
    drop(connections);
    std::thread::sleep(settle);
    let closed = proc_kib(pid, "status", "VmRSS:");
    let ours = Measurement {
        name: "mail_server",
        connections: count,
        before,
        selected,
        after,
        closed,
        processes: 1,
        took,
        busy: busy_idling,
        note: "VmRSS",
    };
    ours.print();
    println!("{:<24} VmHWM {hwm} KiB, {threads} threads", "");
    server.stop();

    if !(support::require("dovecot") && support::is_root()) {
        println!("Dovecot not measured (needs the dovecot binary and root)");
        return;
    }
    for (name, tuned) in [("dovecot", false), ("dovecot-hp", true)] {
        let mut dovecot =
            Dovecot::start_with(&theirs_mail.root, &theirs_mail.users, tuned, dovecot_count + 100);
        let master = dovecot.pid().expect("Dovecot runs");
        warm_up(dovecot.imap, users.min(dovecot_count));
        std::thread::sleep(settle);
        let (rss_before, pss_before, _) = tree_memory(master);
        let start = Instant::now();
        let mut connections = open_selected(dovecot.imap, dovecot_count, users);
        std::thread::sleep(settle);
        let (rss_selected, pss_selected, _) = tree_memory(master);
        enter_idle(&mut connections);
        let took = start.elapsed();
        std::thread::sleep(settle);
        let (rss_after, pss_after, pids) = tree_memory(master);
        let busy_idling = busy(&pids, Duration::from_secs(5));
        let processes = pids.len();
        drop(connections);
        std::thread::sleep(settle * 2);
        let (rss_closed, pss_closed, _) = tree_memory(master);
        dovecot.stop();
        let rss = Measurement {
            name,
            connections: dovecot_count,
            before: rss_before,
            selected: rss_selected,
            after: rss_after,
            closed: rss_closed,
            processes,
            took,
            busy: busy_idling,
            note: "sum of VmRSS, shared pages counted in every process",
        };
        rss.print();
        let pss = Measurement {
            name,
            connections: dovecot_count,
            before: pss_before,
            selected: pss_selected,
            after: pss_after,
            closed: pss_closed,
            processes,
            took,
            busy: busy_idling,
            note: "sum of Pss, shared pages divided among their processes",
        };
        pss.print();
        println!(
            "ratio mail_server / {name}: {:.3}x memory per idle connection (Pss; lower is better), {:.3}x (VmRSS)",
            ours.per_connection_kib() / pss.per_connection_kib(),
            ours.per_connection_kib() / rss.per_connection_kib(),
        );
    }
}

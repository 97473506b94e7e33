//! The connection layer: what a client pipelines after STLS is dropped,
//! a stop ends a connection stuck in a write, and hostile input costs
//! bounded memory.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

use crate::support::{MailRoot, RawPop3, sample_messages};
use crate::{PASSWD, TlsFiles, start};

/// One line from a plain socket, read byte by byte so that nothing after
/// it is taken from the socket.
fn plain_line(socket: &mut TcpStream) -> String {
    let mut line = Vec::new();
    let mut byte = [0u8];
    while line.last() != Some(&b'\n') {
        match socket.read(&mut byte) {
            Ok(1) => line.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&line).trim_end().to_owned()
}

#[test]
fn commands_pipelined_after_stls_are_dropped() {
    let mail = MailRoot::new("stls-pipelined", PASSWD, "alice", &[]);
    let tls = TlsFiles::new();
    let tls_args = tls.args();
    let extra: Vec<&str> = tls_args.iter().map(String::as_str).collect();
    let server = start(&mail, &extra);
    let mut socket = TcpStream::connect(server.pop3).expect("connect");
    socket
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("set a timeout");
    assert!(plain_line(&mut socket).starts_with("+OK"));
    // An attacker in the middle appends a command to STLS in the clear;
    // it must not be run as if it came through TLS.
    socket.write_all(b"STLS\r\nXYZZY\r\n").expect("send STLS");
    let answer = plain_line(&mut socket);
    assert!(answer.starts_with("+OK"), "{answer}");

    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(&tls.cert).expect("read the certificate"))
        .expect("trust the certificate");
    let config =
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
    let name = ServerName::try_from("localhost").expect("a server name");
    let client = rustls::ClientConnection::new(Arc::new(config), name).expect("a TLS client");
    let mut tls = BufReader::new(rustls::StreamOwned::new(client, socket));
    tls.get_mut().write_all(b"USER alice\r\n").expect("send USER");
    let mut line = String::new();
    tls.read_line(&mut line).expect("read the answer to USER");
    // The first answer in TLS is USER's, not an -ERR for XYZZY.
    assert!(line.starts_with("+OK"), "{line}");
    tls.get_mut().write_all(b"QUIT\r\n").expect("send QUIT");
    line.clear();
    tls.read_line(&mut line).expect("read the answer to QUIT");
    assert!(line.starts_with("+OK"), "{line}");
}

#[test]
fn a_stop_ends_a_connection_stuck_in_a_write_and_commits_nothing() {
    // Larger than what loopback sockets buffer, so the server blocks in a
    // write to a client that does not read.
    let mut big = b"Subject: big\nMessage-ID: <big@mailwire.test>\n\n".to_vec();
    while big.len() < 48 << 20 {
        big.extend_from_slice(&[b'x'; 77]);
        big.push(b'\n');
    }
    let small = b"Subject: small\nMessage-ID: <small@mailwire.test>\n\nHello\n".to_vec();
    let mail = MailRoot::new("stop-stuck", PASSWD, "alice", &[big, small]);
    let mut server = start(&mail, &["--allow-plaintext-auth"]);
    let (mut pop3, _) = RawPop3::connect(server.pop3);
    assert!(pop3.login("alice", "secret").starts_with("+OK"));
    assert!(pop3.command("DELE 2").starts_with("+OK"));
    // The big message is asked for and never read.
    let first = pop3.command("RETR 1");
    assert!(first.starts_with("+OK"), "{first}");
    std::thread::sleep(Duration::from_millis(500));

    let started = Instant::now();
    let status = server.stop().expect("the server stops on SIGTERM");
    assert!(status.success(), "exit status {status}");
    // Well within the 10 s the stop grants connections.
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    let logs = server.logs();
    assert!(logs.contains("stopping"), "{logs}");
    assert!(logs.contains("the server is stopping"), "{logs}");
    assert!(!logs.contains("connections still open"), "{logs}");
    let files = std::fs::read_dir(mail.maildir("alice").join("new")).map_or(0, |d| d.count())
        + std::fs::read_dir(mail.maildir("alice").join("cur")).map_or(0, |d| d.count());
    assert_eq!(files, 2, "a message is gone");
}

/// The server's peak resident memory in KiB (Linux).
fn peak_memory_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn hostile_lines_get_errors_and_memory_stays_bounded() {
    let mail = MailRoot::new("hostile", PASSWD, "alice", &sample_messages());
    let server = start(&mail, &["--allow-plaintext-auth"]);
    let (mut pop3, _) = RawPop3::connect(server.pop3);
    let mut socket = TcpStream::connect(server.pop3).expect("connect");
    socket
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("set a timeout");
    assert!(plain_line(&mut socket).starts_with("+OK"));
    // A 100 MB line, NUL bytes, and a 10 MB AUTH PLAIN line.
    let piece = vec![b'A'; 1 << 20];
    for _ in 0..100 {
        socket.write_all(&piece).expect("send the long line");
    }
    socket.write_all(b"\r\nNO\0OP\r\nAUTH PLAIN ").expect("send");
    for _ in 0..10 {
        socket.write_all(&piece).expect("send the long AUTH line");
    }
    socket
        .write_all(b"\r\nUSER alice\r\nPASS secret\r\nSTAT\r\n")
        .expect("send");
    let answers: Vec<String> = (0..6).map(|_| plain_line(&mut socket)).collect();
    assert!(answers[..3].iter().all(|a| a.starts_with("-ERR")), "{answers:?}");
    assert!(answers[3..5].iter().all(|a| a.starts_with("+OK")), "{answers:?}");
    assert!(answers[5].starts_with("+OK 6 "), "{answers:?}");
    // Another session was served meanwhile.
    assert!(pop3.login("bob", "builder").starts_with("+OK"));
    let pid = server.pid().expect("the server runs");
    if let Some(peak) = peak_memory_kib(pid) {
        // 110 MB went through one connection; the server never held it.
        assert!(peak < 64 * 1024, "peak memory {peak} KiB");
    }
}

//! Server behaviour seen from a raw POP3 client: capabilities, locks,
//! idle timeout, a stop that commits nothing, concurrency, configuration.

use std::io::{BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use crate::support::{self, MailRoot, MailServer, RawPop3, TempDir, by_message_id, crlf, message_id, run};
use crate::{alice_root, start};

fn capabilities(pop3: &mut RawPop3) -> Vec<String> {
    assert!(pop3.command("CAPA").starts_with("+OK"));
    String::from_utf8_lossy(&pop3.body())
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn capabilities_say_exactly_what_works_before_tls() {
    let mail = alice_root("capa");
    let server = start(&mail, &[]);
    let (mut pop3, greeting) = RawPop3::connect(server.pop3);
    assert!(greeting.starts_with("+OK"), "{greeting}");
    let capa = capabilities(&mut pop3);
    let expected = [
        "TOP",
        "UIDL",
        "RESP-CODES",
        "AUTH-RESP-CODE",
        "PIPELINING",
        "EXPIRE NEVER",
        "STLS",
        "UTF8 USER",
    ];
    for c in expected {
        assert!(capa.iter().any(|x| x == c), "CAPA lacks {c}: {capa:?}");
    }
    assert!(
        capa.iter().any(|x| x.starts_with("IMPLEMENTATION mailwire")),
        "{capa:?}"
    );
    // No plaintext login without TLS, so neither USER nor SASL PLAIN.
    assert!(
        !capa.iter().any(|x| x == "USER" || x.starts_with("SASL")),
        "{capa:?}"
    );
    let refused = pop3.command("USER alice");
    assert!(refused.starts_with("-ERR [AUTH]"), "{refused}");
    let refused = pop3.command("AUTH PLAIN AGFsaWNlAHNlY3JldA==");
    assert!(refused.starts_with("-ERR [AUTH]"), "{refused}");
    assert!(pop3.command("QUIT").starts_with("+OK"));

    let plain = start(&mail, &["--allow-plaintext-auth"]);
    let (mut pop3, _) = RawPop3::connect(plain.pop3);
    let capa = capabilities(&mut pop3);
    assert!(
        capa.iter().any(|x| x == "USER") && capa.iter().any(|x| x == "SASL PLAIN"),
        "{capa:?}"
    );
    // AUTH PLAIN with an initial response: \0alice\0secret.
    assert!(pop3.command("AUTH PLAIN AGFsaWNlAHNlY3JldA==").starts_with("+OK"));
    // Pipelined commands are answered in order.
    let answers = pop3.command("NOOP\r\nSTAT\r\nNOOP");
    assert_eq!(answers, "+OK");
    assert!(pop3.line().starts_with("+OK 6 "));
    assert_eq!(pop3.line(), "+OK");
    assert!(pop3.command("QUIT").starts_with("+OK"));
}

#[test]
fn the_exclusive_lock_admits_one_session_and_none_admits_all() {
    let mail = alice_root("lock");
    let server = start(&mail, &["--allow-plaintext-auth"]);
    let (mut first, _) = RawPop3::connect(server.pop3);
    assert!(first.login("alice", "secret").starts_with("+OK"));
    let (mut second, _) = RawPop3::connect(server.pop3);
    let refused = second.login("alice", "secret");
    assert!(refused.starts_with("-ERR [IN-USE]"), "{refused}");
    // Another user is not affected.
    let (mut bob, _) = RawPop3::connect(server.pop3);
    assert!(bob.login("bob", "builder").starts_with("+OK"));
    assert!(first.command("QUIT").starts_with("+OK"));
    assert!(second.login("alice", "secret").starts_with("+OK"));
    drop((first, second, bob));

    let unlocked = start(&mail, &["--allow-plaintext-auth", "--lock", "none"]);
    let (mut first, _) = RawPop3::connect(unlocked.pop3);
    let (mut second, _) = RawPop3::connect(unlocked.pop3);
    assert!(first.login("alice", "secret").starts_with("+OK"));
    assert!(second.login("alice", "secret").starts_with("+OK"));
    // Both delete message 1: it is removed once, the others stay.
    assert!(first.command("DELE 1").starts_with("+OK"));
    assert!(second.command("DELE 1").starts_with("+OK"));
    assert!(first.command("QUIT").starts_with("+OK"));
    assert!(second.command("QUIT").starts_with("+OK"));
    let (mut third, _) = RawPop3::connect(unlocked.pop3);
    assert!(third.login("alice", "secret").starts_with("+OK"));
    assert!(third.command("STAT").starts_with("+OK 5 "));
}

#[test]
fn idle_connections_are_closed_and_their_lock_released() {
    let mail = alice_root("idle");
    let server = start(&mail, &["--allow-plaintext-auth", "--idle-timeout", "1"]);
    let (mut idle, _) = RawPop3::connect(server.pop3);
    assert!(idle.login("alice", "secret").starts_with("+OK"));
    assert!(idle.command("DELE 1").starts_with("+OK"));
    assert!(
        idle.closed_within(Duration::from_secs(10)),
        "the idle connection stayed open"
    );
    let (mut next, _) = RawPop3::connect(server.pop3);
    assert!(
        next.login("alice", "secret").starts_with("+OK"),
        "the lock was not released"
    );
    // The timed-out session committed nothing.
    assert!(next.command("STAT").starts_with("+OK 6 "));
    assert!(server.logged("IdleTimeout"), "{}", server.logs());
}

/// A `--uidl-format` without `%v` works (as Dovecot's `pop3_uidl_format =
/// %u` does) but is warned about at start: its ids repeat once INBOX's
/// UIDVALIDITY changes. The default is not.
#[test]
fn a_uidl_format_without_the_uidvalidity_is_warned_about() {
    let mail = alice_root("uidl-no-v");
    let warning = "--uidl-format has no %v";
    let server = start(&mail, &["--allow-plaintext-auth", "--uidl-format", "%08Xu"]);
    assert!(server.logged(warning), "{}", server.logs());
    let (mut pop3, _) = RawPop3::connect(server.pop3);
    assert!(pop3.login("alice", "secret").starts_with("+OK"));
    assert_eq!(pop3.command("UIDL 1"), "+OK 1 00000001");
    drop(server);
    let server = start(&mail, &["--allow-plaintext-auth"]);
    let (mut pop3, _) = RawPop3::connect(server.pop3);
    assert!(pop3.login("alice", "secret").starts_with("+OK"));
    assert!(!server.logs().contains(warning), "{}", server.logs());
}

/// Files in the Maildir's `new` and `cur`.
fn maildir_files(mail: &MailRoot) -> usize {
    ["new", "cur"]
        .iter()
        .map(|d| std::fs::read_dir(mail.maildir("alice").join(d)).map_or(0, |e| e.count()))
        .sum()
}

/// A message file another program removes after the listing: RETR and
/// TOP of it answer a plain `-ERR` (a fault of that message, not the
/// `[SYS/PERM]` RFC 3206 keeps for the system, which may make a client
/// give up the whole maildrop), and the session goes on to its QUIT.
#[test]
fn a_message_removed_after_the_listing_is_an_err_of_its_own() {
    let mail = alice_root("gone-file");
    let server = start(&mail, &["--allow-plaintext-auth"]);
    let (mut pop3, _) = RawPop3::connect(server.pop3);
    assert!(pop3.login("alice", "secret").starts_with("+OK"));
    assert!(pop3.command("STAT").starts_with("+OK 6 "));
    for dir in ["new", "cur"] {
        for entry in std::fs::read_dir(mail.maildir("alice").join(dir)).unwrap() {
            std::fs::remove_file(entry.unwrap().path()).unwrap();
        }
    }
    assert_eq!(pop3.command("RETR 1"), "-ERR Message no longer exists");
    assert_eq!(pop3.command("TOP 2 0"), "-ERR Message no longer exists");
    assert!(pop3.command("NOOP").starts_with("+OK"));
    assert!(pop3.command("QUIT").starts_with("+OK"));
}

/// The messages a POP3 session sent with RETR are `\Seen` for IMAP once it
/// ends with QUIT, as with Dovecot (TOP leaves a message unread); with
/// `--pop3-no-flag-updates` (Dovecot's `pop3_no_flag_updates`), none is.
#[test]
fn messages_retrieved_over_pop3_are_seen_over_imap() {
    for (extra, seen) in [(None, "1"), (Some("--pop3-no-flag-updates"), "")] {
        let mail = alice_root("pop3-seen");
        let mut args = vec!["--allow-plaintext-auth"];
        args.extend(extra);
        let server = start(&mail, &args);
        let (mut pop3, _) = RawPop3::connect(server.pop3);
        assert!(pop3.login("alice", "secret").starts_with("+OK"));
        assert!(pop3.command("RETR 1").starts_with("+OK"));
        pop3.body();
        assert!(pop3.command("TOP 2 0").starts_with("+OK"));
        pop3.body();
        assert!(pop3.command("QUIT").starts_with("+OK"));
        assert!(pop3.closed_within(Duration::from_secs(10)));

        let mut imap = crate::imap_wire::Imap::login(server.imap, "alice", "secret");
        imap.command("EXAMINE INBOX").ok("EXAMINE");
        let search = imap.command("SEARCH SEEN").ok("SEARCH SEEN");
        let found: Vec<String> = search
            .untagged
            .iter()
            .map(|r| String::from_utf8_lossy(r).trim_end().to_owned())
            .collect();
        let expected = format!("* SEARCH{}{seen}", if seen.is_empty() { "" } else { " " });
        assert_eq!(found, [expected], "{extra:?}");
        imap.logout();
    }
}

#[test]
fn a_stop_closes_sessions_without_committing_them() {
    let mail = alice_root("stop");
    let mut server = start(&mail, &["--allow-plaintext-auth"]);
    let (mut pop3, _) = RawPop3::connect(server.pop3);
    assert!(pop3.login("alice", "secret").starts_with("+OK"));
    assert!(pop3.command("DELE 1").starts_with("+OK"));
    assert!(pop3.command("DELE 2").starts_with("+OK"));
    let (mut waiting, _) = RawPop3::connect(server.pop3);
    let status = server.stop().expect("the server stops on SIGTERM");
    assert!(status.success(), "exit status {status}");
    assert!(pop3.closed_within(Duration::from_secs(5)));
    assert!(waiting.closed_within(Duration::from_secs(5)));
    let logs = server.logs();
    assert!(logs.contains("stopping"), "{logs}");
    assert!(!logs.contains("committed=true"), "{logs}");
    assert_eq!(maildir_files(&mail), support::sample_messages().len());
    let again = start(&mail, &["--allow-plaintext-auth"]);
    let (mut pop3, _) = RawPop3::connect(again.pop3);
    assert!(pop3.login("alice", "secret").starts_with("+OK"));
    assert!(
        pop3.command("STAT").starts_with("+OK 6 "),
        "deletions were committed"
    );
    // QUIT does commit, to the Maildir on disk.
    assert!(pop3.command("DELE 3").starts_with("+OK"));
    assert!(pop3.command("QUIT").starts_with("+OK"));
    assert_eq!(maildir_files(&mail), support::sample_messages().len() - 1);
    drop(again);
    let third = start(&mail, &["--allow-plaintext-auth"]);
    let (mut pop3, _) = RawPop3::connect(third.pop3);
    assert!(pop3.login("alice", "secret").starts_with("+OK"));
    assert!(pop3.command("STAT").starts_with("+OK 5 "));
}

#[test]
fn many_concurrent_clients_each_get_every_message() {
    let mail = alice_root("concurrent");
    let server = start(&mail, &["--allow-plaintext-auth", "--lock", "none"]);
    let expected = by_message_id(&support::sample_messages());
    let addr = server.pop3;
    let clients: Vec<_> = (0..32)
        .map(|_| {
            let expected = expected.clone();
            std::thread::spawn(move || {
                let (mut pop3, _) = RawPop3::connect(addr);
                assert!(pop3.login("alice", "secret").starts_with("+OK"));
                for n in 1..=expected.len() {
                    assert!(pop3.command(&format!("RETR {n}")).starts_with("+OK"));
                    let message = pop3.body();
                    let id = message_id(&message).expect("Message-ID");
                    assert_eq!(message, crlf(&expected[&id]));
                }
                assert!(pop3.command("QUIT").starts_with("+OK"));
            })
        })
        .collect();
    for client in clients {
        client.join().expect("a client failed");
    }
}

#[test]
fn a_sha512_crypt_user_logs_in_and_passwords_stay_out_of_the_logs() {
    let hash = "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1";
    let mail = MailRoot::new(
        "sha512",
        &format!("carol:{{SHA512-CRYPT}}{hash}::::::\n"),
        "carol",
        &support::sample_messages(),
    );
    let server = start(&mail, &["--allow-plaintext-auth"]);
    let (mut pop3, _) = RawPop3::connect(server.pop3);
    let refused = pop3.login("carol", "Hello-world!");
    assert!(refused.starts_with("-ERR [AUTH]"), "{refused}");
    let refused = pop3.login("mallory", "Hello-world?");
    assert!(refused.starts_with("-ERR [AUTH]"), "{refused}");
    assert!(pop3.login("carol", "Hello world!").starts_with("+OK"));
    assert!(pop3.command("QUIT").starts_with("+OK"));
    let logs = server.logs();
    assert!(
        logs.contains("authentication failed") && logs.contains("logged in"),
        "{logs}"
    );
    for secret in ["Hello-world!", "Hello-world?", "Hello world!"] {
        assert!(!logs.contains(secret), "{secret:?} is in the logs:\n{logs}");
    }
}

/// The largest value of every limit is taken: the server starts and
/// serves. An open-file headroom of `--max-connections` + 64 overflowed
/// and panicked the start.
#[test]
fn the_largest_limits_are_taken() {
    let dir = TempDir::new("largest-limits");
    let demo = dir.path().join("demo").display().to_string();
    let most = u64::MAX.to_string();
    let server = MailServer::start([
        "--demo-dir",
        &demo,
        "--max-connections",
        &most,
        "--max-connections-per-ip",
        &most,
        "--storage-jobs",
        &most,
        "--content-memory",
        &most,
        "--login-timeout",
        "31536000",
        "--idle-timeout",
        "31536000",
    ]);
    let (mut pop3, _) = RawPop3::connect(server.pop3);
    assert!(pop3.login("alice", "secret").starts_with("+OK"));
    let stat = pop3.command("STAT");
    assert!(stat.starts_with("+OK 3 "), "{stat}");
    assert!(pop3.command("QUIT").starts_with("+OK"));
    let mut imap = TcpStream::connect(server.imap).expect("connect to IMAP");
    imap.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    imap.write_all(b"a LOGIN alice secret\r\nb SELECT INBOX\r\nc LOGOUT\r\n")
        .unwrap();
    let mut answers = String::new();
    BufReader::new(imap).read_to_string(&mut answers).unwrap();
    assert!(
        answers.contains("a OK") && answers.contains("* 3 EXISTS") && answers.contains("c OK"),
        "{answers}"
    );
}

#[test]
fn the_demo_serves_alice_and_keeps_its_store() {
    let dir = TempDir::new("demo");
    let demo = dir.path().join("demo");
    let demo_arg = demo.display().to_string();
    let server = MailServer::start(["--demo-dir", &demo_arg, "--auth-failure-delay", "0"]);
    assert!(demo.join("users").is_file() && demo.join("tls-cert.pem").is_file());
    let (mut pop3, _) = RawPop3::connect(server.pop3);
    // The demo on loopback allows plaintext logins, so that curl works.
    assert!(pop3.login("alice", "secret").starts_with("+OK"));
    let stat = pop3.command("STAT");
    assert!(stat.starts_with("+OK 3 "), "{stat}");
    assert!(pop3.command("QUIT").starts_with("+OK"));
    // The store is on disk: a deletion lasts across a restart.
    drop(server);
    let server = MailServer::start(["--demo-dir", &demo_arg, "--auth-failure-delay", "0"]);
    let (mut pop3, _) = RawPop3::connect(server.pop3);
    assert!(pop3.login("alice", "secret").starts_with("+OK"));
    assert!(pop3.command("DELE 3").starts_with("+OK"));
    assert!(pop3.command("QUIT").starts_with("+OK"));
    drop(server);
    let server = MailServer::start(["--demo-dir", &demo_arg, "--auth-failure-delay", "0"]);
    let (mut pop3, _) = RawPop3::connect(server.pop3);
    assert!(pop3.login("alice", "secret").starts_with("+OK"));
    let stat = pop3.command("STAT");
    assert!(stat.starts_with("+OK 2 "), "{stat}");
    assert!(pop3.command("QUIT").starts_with("+OK"));
    if support::require("curl") {
        let list = run(
            Command::new("curl").args([
                "-s",
                "--user",
                "alice:secret",
                &format!("pop3://{}/", server.pop3),
            ]),
            b"",
            Duration::from_secs(60),
        );
        assert_eq!(
            String::from_utf8_lossy(&list.stdout).lines().count(),
            2,
            "{list:?}"
        );
        let cert = demo.join("tls-cert.pem").display().to_string();
        let secure = run(
            Command::new("curl").args([
                "-s",
                "--cacert",
                &cert,
                "--user",
                "alice:secret",
                &format!("pop3s://{}/1", server.pop3s),
            ]),
            b"",
            Duration::from_secs(60),
        );
        assert!(
            String::from_utf8_lossy(&secure.stdout).contains("Subject: Welcome to mailwire"),
            "{secure:?}"
        );
    }
}

#[test]
fn bad_configurations_are_refused() {
    let binary = support::server_binary();
    let usage = run(
        Command::new(&binary).args(["--mail-root", "/nonexistent"]),
        b"",
        Duration::from_secs(30),
    );
    assert_eq!(usage.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&usage.stderr).contains("--mail-root and --users go together"));
    let unknown = run(
        Command::new(&binary).arg("--frobnicate"),
        b"",
        Duration::from_secs(30),
    );
    assert_eq!(unknown.status.code(), Some(2));
    // Timeouts and delays beyond a year and a day are refused at the
    // start: a login timeout of 2^64 - 1 seconds overflowed each
    // connection's deadline and panicked its task.
    for (option, value) in [
        ("--login-timeout", "31536001"),
        ("--idle-timeout", "18446744073709551615"),
        ("--auth-failure-delay", "86400001"),
    ] {
        // Refused before anything is made: the demo directory stays absent.
        let demo = std::env::temp_dir().join(format!("mailwire-refused-demo-{}", std::process::id()));
        let huge = run(
            Command::new(&binary)
                .arg("--demo-dir")
                .arg(&demo)
                .args([option, value]),
            b"",
            Duration::from_secs(30),
        );
        let made = demo.exists();
        let _ = std::fs::remove_dir_all(&demo);
        assert_eq!(huge.status.code(), Some(2), "{option}");
        let stderr = String::from_utf8_lossy(&huge.stderr);
        assert!(stderr.contains(option) && stderr.contains(value), "{stderr}");
        assert!(!made, "{option}: the demo was made");
    }

    let mail = MailRoot::new("badusers", "alice:{MD5}abc::::::\n", "alice", &[]);
    let refused = run(
        Command::new(&binary).args([
            "--mail-root",
            &mail.root.display().to_string(),
            "--users",
            &mail.users.display().to_string(),
            "--pop3",
            "127.0.0.1:0",
            "--self-signed",
        ]),
        b"",
        Duration::from_secs(30),
    );
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("line 1") && stderr.contains("{MD5}"), "{stderr}");

    // Outside the demo a listener offering TLS needs a certificate: none
    // is made up unless asked for.
    let good = MailRoot::new("nocert", "alice:{PLAIN}secret::::::\n", "alice", &[]);
    for listener in ["--pop3", "--pop3s", "--imap", "--imaps"] {
        let no_cert = run(
            Command::new(&binary).args([
                "--mail-root",
                &good.root.display().to_string(),
                "--users",
                &good.users.display().to_string(),
                listener,
                "127.0.0.1:0",
            ]),
            b"",
            Duration::from_secs(30),
        );
        assert_eq!(no_cert.status.code(), Some(2), "{listener}");
        let stderr = String::from_utf8_lossy(&no_cert.stderr);
        assert!(
            stderr.contains("--tls-cert") && stderr.contains("--self-signed"),
            "{stderr}"
        );
    }
    let both = run(
        Command::new(&binary).args(["--self-signed", "--tls-cert", "x.pem", "--tls-key", "y.pem"]),
        b"",
        Duration::from_secs(30),
    );
    assert_eq!(both.status.code(), Some(2));
}

#[test]
fn connections_beyond_the_limit_are_refused_and_tls_garbage_is_survived() {
    let mail = alice_root("limits");
    let server = start(&mail, &["--allow-plaintext-auth", "--max-connections", "1"]);
    let (mut first, greeting) = RawPop3::connect(server.pop3);
    assert!(greeting.starts_with("+OK"), "{greeting}");
    let (mut second, refused) = RawPop3::connect(server.pop3);
    assert!(refused.starts_with("-ERR [SYS/TEMP]"), "{refused}");
    assert!(second.closed_within(Duration::from_secs(5)));
    assert!(first.command("QUIT").starts_with("+OK"));
    assert!(first.closed_within(Duration::from_secs(5)));

    // Plain text on the implicit-TLS port fails the handshake and ends
    // only that connection.
    let mut stream = connect_when_free(server.pop3s);
    stream.write_all(b"USER alice\r\n\r\n").expect("send");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut answer = Vec::new();
    assert!(
        stream.read_to_end(&mut answer).is_ok(),
        "the connection stayed open"
    );
    assert!(!answer.starts_with(b"+OK"), "{answer:?}");
    drop(stream);
    let mut pop3 = None;
    for _ in 0..100 {
        let (mut client, greeting) = RawPop3::connect(server.pop3);
        if greeting.starts_with("+OK") {
            assert!(client.login("alice", "secret").starts_with("+OK"));
            pop3 = Some(client);
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        pop3.is_some(),
        "no connection accepted after the failed handshake"
    );
    assert!(server.logged("TLS handshake"), "{}", server.logs());
}

/// A connection once the server has a free slot (the previous
/// connection's thread may still be ending).
fn connect_when_free(addr: std::net::SocketAddr) -> std::net::TcpStream {
    for _ in 0..100 {
        std::thread::sleep(Duration::from_millis(50));
        if let Ok(stream) = std::net::TcpStream::connect(addr) {
            return stream;
        }
    }
    panic!("cannot connect to {addr}");
}

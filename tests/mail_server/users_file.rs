//! The passwd-file reader of mail_server, checked against the SHA-crypt
//! specification's vectors and against hashes Dovecot's `doveadm pw` makes.

use std::process::Command;
use std::time::Duration;

use crate::support::{require, run};
use crate::users::Users;

/// From Ulrich Drepper's SHA-crypt specification ("Hello world!").
const SHA512_VECTOR: &str =
    "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1";
const SHA512_ROUNDS_VECTOR: &str = "$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.";
const SHA256_VECTOR: &str = "$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5";

#[test]
fn plain_and_sha_crypt_passwords_are_checked() {
    let users = Users::parse(&format!(
        "# comment\n\nalice:{{PLAIN}}secret::::::\n\
         carol:{{SHA512-CRYPT}}{SHA512_VECTOR}\n\
         dave:{{CRYPT}}{SHA512_ROUNDS_VECTOR}::::::\n\
         erin:{SHA256_VECTOR}:1000:1000::/home/erin::\n\
         frank:{{sha256-crypt}}{SHA256_VECTOR}\r\n\
         gina:{{CLEARTEXT}}pass:word with spaces\n"
    ))
    .expect("a valid passwd-file");
    assert_eq!(users.len(), 6);
    assert_eq!(users.verify(b"alice", b"secret"), Some("alice"));
    assert_eq!(users.verify(b"alice", b"secret "), None);
    assert_eq!(users.verify(b"alice", b"Secret"), None);
    assert_eq!(users.verify(b"Alice", b"secret"), None);
    for user in ["carol", "dave", "erin", "frank"] {
        assert_eq!(
            users.verify(user.as_bytes(), b"Hello world!"),
            Some(user),
            "{user}"
        );
        assert_eq!(users.verify(user.as_bytes(), b"Hello world"), None, "{user}");
    }
    // The password field ends at the next colon.
    assert_eq!(users.verify(b"gina", b"pass"), Some("gina"));
    assert_eq!(users.verify(b"nobody", b"secret"), None);
    assert_eq!(users.verify(b"\xff", b"secret"), None);
}

/// The checks of passwords `verify` makes for `user`.
fn checks_made(users: &Users, user: &[u8]) -> Vec<String> {
    crate::users::CHECKS_MADE.with(|made| made.borrow_mut().clear());
    assert_eq!(users.verify(user, b"not the password"), None);
    crate::users::CHECKS_MADE.with(|made| made.take())
}

/// A login as an unknown user is checked against a password of the scheme
/// and parameters most users have, so that it costs what they cost: one
/// check, as a known user's login makes.
#[test]
fn unknown_users_cost_what_most_users_cost() {
    let line = |user: &str, password: &str| format!("{user}:{password}\n");
    let mut file = String::new();
    for i in 0..3 {
        file += &line(
            &format!("a{i}"),
            &format!("{{SHA512-CRYPT}}{SHA512_ROUNDS_VECTOR}"),
        );
    }
    file += &line("b", &format!("{{SHA512-CRYPT}}{SHA512_VECTOR}"));
    file += &line("c", "{PLAIN}x");
    let users = Users::parse(&file).unwrap();
    assert_eq!(users.unknown_user_cost(), "$6$rounds=10000");
    // b (other rounds) and c (PLAIN) can be told by their logins' time:
    // the server warns of them.
    assert_eq!(users.telling_users(), 2);
    assert_eq!(checks_made(&users, b"nobody"), ["$6$rounds=10000"]);
    assert_eq!(checks_made(&users, b"a1"), ["$6$rounds=10000"]);
    assert_eq!(checks_made(&users, b"c"), ["PLAIN"]);
    assert_eq!(
        checks_made(&users, b"\xff"),
        ["$6$rounds=10000"],
        "a name not UTF-8"
    );
    let users = Users::parse(
        "p:{PLAIN}x\nq:{PLAIN}y\nr:{SHA256-CRYPT}$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5\n",
    )
    .unwrap();
    assert_eq!(users.unknown_user_cost(), "PLAIN");
    assert_eq!(checks_made(&users, b"nobody"), ["PLAIN"]);
    let argon = "$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG";
    let users = Users::parse(&format!("p:{{ARGON2ID}}{argon}\n")).unwrap();
    assert_eq!(users.unknown_user_cost(), "$argon2id$v=19$m=65536,t=3,p=4");
    assert_eq!(users.telling_users(), 0);
    assert_eq!(checks_made(&users, b"nobody"), ["$argon2id$v=19$m=65536,t=3,p=4"]);
    // Without users, SHA512-CRYPT with its default rounds.
    let nobody = Users::parse("").unwrap();
    assert_eq!(nobody.unknown_user_cost(), "$6");
    assert_eq!(checks_made(&nobody, b"nobody"), ["$6"]);
}

/// SHA-crypt's work grows with the square of the password's length: a
/// password longer than any a user has is wrong without being hashed,
/// so a 1 MiB LOGIN literal cannot hold a hashing slot for minutes.
#[test]
fn passwords_and_user_names_past_their_limits_are_refused_unchecked() {
    use crate::users::MAX_PASSWORD;
    let long = "p".repeat(MAX_PASSWORD);
    let users = Users::parse(&format!(
        "alice:{{PLAIN}}{long}\ncarol:{{SHA512-CRYPT}}{SHA512_VECTOR}\n"
    ))
    .unwrap();
    assert_eq!(users.verify(b"alice", long.as_bytes()), Some("alice"));
    let longer = format!("{long}p");
    assert_eq!(users.verify(b"alice", longer.as_bytes()), None);
    let huge = vec![b'x'; 1 << 20];
    let started = std::time::Instant::now();
    assert_eq!(users.verify(b"carol", &huge), None);
    assert_eq!(users.verify(b"nobody", &huge), None);
    assert_eq!(users.verify(&huge, b"Hello world!"), None);
    // Hashed, a megabyte takes minutes; unchecked, nothing like a second.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn bad_lines_are_refused_with_their_number() {
    for (text, line, words) in [
        ("alice:{PLAIN}x\nbob\n", 2, "user:password"),
        ("alice:{MD5-CRYPT}$1$abc$def\n", 1, "unsupported password scheme"),
        ("alice:$1$abc$def\n", 1, "crypt hashes"),
        ("alice:{SHA512-CRYPT}$5$abc$def\n", 1, "$6$"),
        ("alice:{SHA512-CRYPT}$6$\n", 1, "$6$"),
        ("alice:{PLAIN}\n", 1, "empty password"),
        ("\nalice:{PLAIN}a\nalice:{PLAIN}b\n", 3, "twice"),
        ("../etc:{PLAIN}a\n", 1, "must not"),
        ("a/b:{PLAIN}a\n", 1, "must not"),
        (":{PLAIN}a\n", 1, "1 to 255"),
    ] {
        let e = Users::parse(text).expect_err(text);
        assert_eq!(e.line, line, "{text:?}: {e}");
        assert!(e.problem.contains(words), "{text:?}: {e}");
    }
}

#[test]
fn hashes_made_by_doveadm_are_accepted() {
    if !require("doveadm") {
        return;
    }
    let mut lines = String::new();
    for (i, scheme) in ["SHA512-CRYPT", "SHA256-CRYPT", "ARGON2ID", "ARGON2I", "PLAIN"]
        .iter()
        .enumerate()
    {
        let output = run(
            Command::new("doveadm").args(["pw", "-s", scheme, "-p", &format!("pw-{i} ü")]),
            b"",
            Duration::from_secs(60),
        );
        assert!(output.status.success(), "doveadm pw -s {scheme}: {output:?}");
        let hash = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        assert!(hash.starts_with(&format!("{{{scheme}}}")), "{hash}");
        lines.push_str(&format!("user{i}:{hash}::::::\n"));
    }
    let users = Users::parse(&lines).expect("doveadm's hashes");
    for i in 0..5 {
        let user = format!("user{i}");
        assert_eq!(
            users.verify(user.as_bytes(), format!("pw-{i} ü").as_bytes()),
            Some(user.as_str())
        );
        assert_eq!(
            users.verify(user.as_bytes(), format!("pw-{i} u").as_bytes()),
            None
        );
    }
}

#[test]
fn quota_rules_come_from_the_extra_fields() {
    use crate::users::QuotaRule;
    let users = Users::parse(
        "a:{PLAIN}x:::::: userdb_quota_rule=*:storage=10M\n\
         b:{PLAIN}x::::::userdb_mail=maildir:~/M userdb_quota_rule=*:storage=512:messages=20\n\
         c:{PLAIN}x\n",
    )
    .unwrap();
    assert_eq!(
        users.quota("a"),
        QuotaRule {
            storage: Some(10 << 20),
            messages: None
        }
    );
    assert_eq!(
        users.quota("b"),
        QuotaRule {
            storage: Some(512),
            messages: Some(20)
        }
    );
    assert!(!users.quota("c").is_limited() && !users.quota("nobody").is_limited());
    for bad in [
        "storage=1G",
        "*:storage=1X",
        "*:bytes=5",
        "*:storage=99999999999999T",
    ] {
        let line = format!("d:{{PLAIN}}x::::::userdb_quota_rule={bad}\n");
        assert!(Users::parse(&line).is_err(), "{bad}");
    }
}

#[test]
fn nologin_and_allow_nets_are_honoured() {
    use crate::users::Denied;
    let users = Users::parse(
        "carol:{PLAIN}pw::::::nologin reason=Moved\n\
         dave:{PLAIN}pw::::::allow_nets=127.0.0.2/32,10.1.0.0/16,fd00::/8\n\
         erin:{PLAIN}pw::::::nologin\n\
         fay:{PLAIN}pw::::::allow_nets=local\n\
         gus:{PLAIN}pw::::::userdb_quota_rule=*:storage=1M allow_nets=0.0.0.0/0\n",
    )
    .expect("a valid passwd-file");
    let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
    assert_eq!(
        users.access("carol", ip("127.0.0.1")),
        Err(Denied::NoLogin("Moved".into()))
    );
    assert_eq!(
        users.access("erin", ip("127.0.0.1")),
        Err(Denied::NoLogin("Login disabled".into()))
    );
    assert_eq!(users.access("dave", ip("127.0.0.2")), Ok(()));
    assert_eq!(users.access("dave", ip("127.0.0.1")), Err(Denied::Network));
    assert_eq!(users.access("dave", ip("10.1.255.7")), Ok(()));
    assert_eq!(users.access("dave", ip("10.2.0.1")), Err(Denied::Network));
    assert_eq!(users.access("dave", ip("::ffff:127.0.0.2")), Ok(()));
    assert_eq!(users.access("dave", ip("fd12::1")), Ok(()));
    assert_eq!(users.access("dave", ip("fe80::1")), Err(Denied::Network));
    // `local` is a UNIX socket: never a network connection.
    assert_eq!(users.access("fay", ip("127.0.0.1")), Err(Denied::Network));
    assert_eq!(users.access("gus", ip("192.0.2.1")), Ok(()));
    assert!(users.quota("gus").is_limited());
    // Dovecot takes `nologin` as a flag: any value refuses the login.
    for field in [
        "nologin=y",
        "nologin=Y",
        "nologin=YES",
        "nologin=1",
        "nologin=true",
        "nologin=no",
        "nologin=",
    ] {
        let users = Users::parse(&format!("hal:{{PLAIN}}pw::::::{field}\n")).unwrap();
        assert!(
            matches!(users.access("hal", ip("127.0.0.1")), Err(Denied::NoLogin(_))),
            "{field}"
        );
    }
    let users = Users::parse("hal:{PLAIN}pw::::::nologinx=1 xnologin\n").unwrap();
    assert_eq!(users.access("hal", ip("127.0.0.1")), Ok(()));
    for bad in [
        "allow_nets=10.0.0.0/33",
        "allow_nets=nonsense",
        "allow_nets=::/129",
    ] {
        let line = format!("x:{{PLAIN}}pw::::::{bad}\n");
        assert!(Users::parse(&line).is_err(), "{bad}");
    }
}

/// SIGHUP reads the passwd-file again: a user added can log in, one
/// removed cannot; an unusable file, one that names no user, or one that
/// ends inside a line (caught half-written), changes nothing.
#[test]
fn sighup_reloads_the_passwd_file() {
    use std::io::{BufRead, BufReader, Write};
    let mail = crate::support::MailRoot::new("sighup", "alice:{PLAIN}secret::::::\n", "alice", &[]);
    let mut server = crate::support::MailServer::serving(&mail, &["--allow-plaintext-auth"]);
    let login = |user: &str, password: &str| -> bool {
        let mut s = std::net::TcpStream::connect(server.imap).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        s.write_all(format!("a LOGIN {user} {password}\r\nb LOGOUT\r\n").as_bytes())
            .unwrap();
        let mut reader = BufReader::new(s);
        let mut line = String::new();
        while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
            if line.starts_with("a ") {
                return line.starts_with("a OK");
            }
            line.clear();
        }
        false
    };
    let hangup = |expect: &str, count: usize| {
        let pid = server.pid().expect("running").to_string();
        assert!(
            Command::new("kill")
                .args(["-HUP", &pid])
                .status()
                .unwrap()
                .success()
        );
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while server.logs().matches(expect).count() < count {
            assert!(
                std::time::Instant::now() < deadline,
                "no {expect:?} in:\n{}",
                server.logs()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    assert!(login("alice", "secret") && !login("bob", "builder"));
    std::fs::write(&mail.users, "bob:{PLAIN}builder::::::\n").unwrap();
    hangup("the passwd-file was read again", 1);
    assert!(login("bob", "builder"), "a user added must log in");
    assert!(!login("alice", "secret"), "a user removed must not");
    std::fs::write(&mail.users, "carol:{MD5}abc::::::\n").unwrap();
    hangup("the passwd-file is unusable", 1);
    assert!(login("bob", "builder"), "an unusable file changes nothing");
    // A file caught empty (rewritten in place) or naming no user locks
    // nobody out.
    for empty in ["", "# every user is gone\n"] {
        std::fs::write(&mail.users, empty).unwrap();
        hangup("names no user", 1 + usize::from(!empty.is_empty()));
        assert!(login("bob", "builder"), "a file without users changes nothing");
    }
    // A file caught half-written (here cut inside a line, a `{PLAIN}`
    // password cut short) changes nothing: "buil" must not let bob in.
    std::fs::write(&mail.users, "bob:{PLAIN}buil").unwrap();
    hangup("ends in the middle of a line", 1);
    assert!(!login("bob", "buil"), "a password cut short must not work");
    assert!(login("bob", "builder"), "a half-written file changes nothing");
    // One without a final line end that has rested since it was written
    // (an editor may save so) is taken.
    std::fs::write(&mail.users, "bob:{PLAIN}builder::::::\ncarol:{PLAIN}pw::::::").unwrap();
    let rested = std::time::SystemTime::now() - Duration::from_secs(60);
    std::fs::File::options()
        .write(true)
        .open(&mail.users)
        .unwrap()
        .set_modified(rested)
        .unwrap();
    hangup("the passwd-file was read again", 2);
    assert!(
        login("carol", "pw"),
        "a rested file without a final line end is taken"
    );
    // The server still stops on SIGTERM, cleanly.
    assert!(server.stop().is_some_and(|s| s.success()));
}

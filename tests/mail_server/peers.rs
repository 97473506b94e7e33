//! Real clients: curl, Python's poplib, fetchmail and getmail6.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::support::{
    self, MailServer, by_message_id, check_delivered, crlf, curl, files_in, header_part, message_id, require,
    run, unhex,
};
use crate::{TlsFiles, alice_root, start};

/// `n size` or `n id` lines.
fn listing(text: &[u8]) -> Vec<(u32, String)> {
    String::from_utf8_lossy(text)
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (n, v) = l
                .split_once(' ')
                .unwrap_or_else(|| panic!("bad listing line {l:?}"));
            (n.parse().expect("a message number"), v.to_owned())
        })
        .collect()
}

#[test]
fn curl_lists_retrieves_and_tops_every_message_over_plain_stls_and_pop3s() {
    if !require("curl") {
        return;
    }
    let mail = alice_root("curl");
    let tls = TlsFiles::new();
    let mut extra: Vec<&str> = vec!["--allow-plaintext-auth"];
    let tls_args = tls.args();
    extra.extend(tls_args.iter().map(String::as_str));
    let server = start(&mail, &extra);
    let stored = support::sample_messages();
    let expected = by_message_id(&stored);
    let base = format!("pop3://{}/", server.pop3);

    let list = listing(&curl(&["-s", "--user", "alice:secret", &base]));
    assert_eq!(list.len(), stored.len(), "LIST: {list:?}");
    let uidl = listing(&curl(&["-s", "--user", "alice:secret", &base, "-X", "UIDL"]));
    assert_eq!(uidl.len(), stored.len(), "UIDL: {uidl:?}");
    let ids: BTreeSet<&String> = uidl.iter().map(|(_, id)| id).collect();
    assert_eq!(ids.len(), stored.len(), "unique ids: {uidl:?}");

    let mut seen = BTreeSet::new();
    for (n, size) in &list {
        let message = curl(&["-s", "--user", "alice:secret", &format!("{base}{n}")]);
        let id = message_id(&message).unwrap_or_else(|| panic!("RETR {n} has no Message-ID"));
        let original = &expected[&id];
        assert_eq!(
            message,
            crlf(original),
            "RETR {n} ({id}) differs from the stored message"
        );
        assert_eq!(
            size.parse::<usize>().ok(),
            Some(message.len()),
            "LIST size of {n}"
        );
        let top = curl(&["-s", "--user", "alice:secret", &base, "-X", &format!("TOP {n} 0")]);
        assert_eq!(top, header_part(original), "TOP {n} 0");
        seen.insert(id);
    }
    assert_eq!(seen.len(), stored.len());

    // POP3S (implicit TLS), the certificate checked by curl.
    let cert = tls.cert.display().to_string();
    let secure = format!("pop3s://{}/", server.pop3s);
    for (n, _) in &list {
        let message = curl(&[
            "-s",
            "--cacert",
            &cert,
            "--user",
            "alice:secret",
            &format!("{secure}{n}"),
        ]);
        let id = message_id(&message).expect("a Message-ID");
        assert_eq!(message, crlf(&expected[&id]), "POP3S RETR {n}");
    }
    // STLS, required by curl.
    let stls = curl(&[
        "-s",
        "--ssl-reqd",
        "--cacert",
        &cert,
        "--user",
        "alice:secret",
        &format!("{base}1"),
    ]);
    let id = message_id(&stls).expect("a Message-ID");
    assert_eq!(stls, crlf(&expected[&id]), "RETR 1 after STLS");
    assert!(!server.logs().contains("secret"), "a password reached the logs");
}

#[test]
fn curl_cannot_log_in_without_tls_unless_allowed() {
    if !require("curl") {
        return;
    }
    let mail = alice_root("curl-tls");
    let tls = TlsFiles::new();
    let tls_args = tls.args();
    let extra: Vec<&str> = tls_args.iter().map(String::as_str).collect();
    let server = start(&mail, &extra);
    let base = format!("pop3://{}/", server.pop3);
    let refused = run(
        Command::new("curl").args(["-s", "--user", "alice:secret", &base]),
        b"",
        Duration::from_secs(60),
    );
    // 67: "the user name, password, or similar was not accepted".
    assert_eq!(refused.status.code(), Some(67), "{refused:?}");
    let cert = tls.cert.display().to_string();
    let list = listing(&curl(&[
        "-s",
        "--ssl-reqd",
        "--cacert",
        &cert,
        "--user",
        "alice:secret",
        &base,
    ]));
    assert_eq!(list.len(), support::sample_messages().len());
}

/// Runs poplib_session.py and returns its results.
fn poplib(mode: &str, server: &MailServer, port: u16, cert: &Path) -> BTreeMap<String, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mail_server/poplib_session.py");
    let output = run(
        Command::new("python3").arg(script).args([
            mode,
            "127.0.0.1",
            &port.to_string(),
            "alice",
            "secret",
            &cert.display().to_string(),
        ]),
        b"",
        Duration::from_secs(120),
    );
    assert!(
        output.status.success(),
        "poplib ({mode}) failed: {}\nserver log:\n{}",
        String::from_utf8_lossy(&output.stderr),
        server.logs()
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn check_poplib(mode: &str, results: &BTreeMap<String, String>) {
    let stored = support::sample_messages();
    let expected = by_message_id(&stored);
    let get = |k: &str| {
        results
            .get(k)
            .unwrap_or_else(|| panic!("{mode}: no {k} in {results:?}"))
    };
    assert!(
        get("wrong_password").starts_with("-ERR [AUTH]"),
        "{mode}: {}",
        get("wrong_password")
    );
    let capa = get("capa");
    for c in [
        "TOP",
        "UIDL",
        "USER",
        "SASL",
        "RESP-CODES",
        "AUTH-RESP-CODE",
        "PIPELINING",
        "UTF8",
    ] {
        assert!(capa.split(' ').any(|x| x == c), "{mode}: CAPA lacks {c}: {capa}");
    }
    assert_eq!(
        capa.split(' ').any(|x| x == "STLS"),
        mode == "plain",
        "{mode}: STLS only before TLS: {capa}"
    );
    assert!(get("pass").starts_with("+OK"));
    let total: usize = stored.iter().map(|m| crlf(m).len()).sum();
    assert_eq!(get("stat"), &format!("{} {total}", stored.len()), "{mode}: STAT");
    let sizes: BTreeMap<u32, usize> = get("list")
        .split(',')
        .map(|l| {
            let (n, s) = l.split_once(' ').expect("n size");
            (n.parse().expect("n"), s.parse().expect("size"))
        })
        .collect();
    assert_eq!(get("uidl").split(',').count(), stored.len());
    let mut first_size = 0;
    for n in 1..=stored.len() as u32 {
        let retr = unhex(get(&format!("retr {n}")));
        let id = message_id(&retr).expect("Message-ID");
        assert_eq!(retr, crlf(&expected[&id]), "{mode}: RETR {n} ({id})");
        assert_eq!(sizes[&n], retr.len(), "{mode}: LIST {n}");
        assert_eq!(
            unhex(get(&format!("top {n}"))),
            header_part(&expected[&id]),
            "{mode}: TOP {n} 0"
        );
        if n == 1 {
            first_size = retr.len();
        }
    }
    assert!(get("dele").starts_with("+OK"));
    assert_eq!(
        get("stat_after_dele"),
        &format!("{} {}", stored.len() - 1, total - first_size)
    );
    assert!(get("retr_deleted").starts_with("-ERR"), "{}", get("retr_deleted"));
    assert!(get("rset").starts_with("+OK"));
    assert_eq!(get("stat_after_rset"), get("stat"));
    assert!(get("quit").starts_with("+OK"));
    assert_eq!(
        get("stat_next_session"),
        get("stat"),
        "{mode}: RSET then QUIT deleted nothing"
    );
}

#[test]
fn python_poplib_over_plain_stls_and_pop3s() {
    if !require("python3") {
        return;
    }
    let mail = alice_root("poplib");
    let tls = TlsFiles::new();
    let tls_args = tls.args();
    let mut extra: Vec<&str> = tls_args.iter().map(String::as_str).collect();
    extra.push("--allow-plaintext-auth");
    let server = start(&mail, &extra);
    check_poplib("plain", &poplib("plain", &server, server.pop3.port(), &tls.cert));
    check_poplib("stls", &poplib("stls", &server, server.pop3.port(), &tls.cert));
    check_poplib("pop3s", &poplib("pop3s", &server, server.pop3s.port(), &tls.cert));
    let logs = server.logs();
    assert!(logs.contains("authentication failed"), "{logs}");
    assert!(!logs.contains("secret"), "a password reached the logs:\n{logs}");
}

#[test]
fn fetchmail_in_keep_mode_delivers_every_message_unchanged() {
    if !require("fetchmail") {
        return;
    }
    let mail = alice_root("fetchmail");
    let server = start(&mail, &["--allow-plaintext-auth"]);
    let delivered = support::run_fetchmail(&server, server.pop3.port(), "pop3 uidl", "sslproto ''");
    let stored = support::sample_messages();
    check_delivered("fetchmail", &delivered, &stored);
    // Keep mode: everything is still on the server.
    let (mut pop3, _) = support::RawPop3::connect(server.pop3);
    assert!(pop3.login("alice", "secret").starts_with("+OK"));
    let total: usize = stored.iter().map(|m| crlf(m).len()).sum();
    assert_eq!(pop3.command("STAT"), format!("+OK {} {total}", stored.len()));
    assert!(pop3.command("QUIT").starts_with("+OK"));
}

#[test]
fn getmail_delivers_every_message_unchanged_into_a_maildir() {
    if !require("getmail") {
        return;
    }
    let mail = alice_root("getmail");
    let server = start(&mail, &["--allow-plaintext-auth"]);
    let retriever = format!(
        "type = SimplePOP3Retriever\nserver = 127.0.0.1\nport = {}\n",
        server.pop3.port()
    );
    let (_work, out) = support::run_getmail(&server, &retriever);
    check_delivered("getmail", &files_in(&out), &support::sample_messages());
}

//! The same Maildir served by Dovecot and by mail_server: same UIDLs, same
//! sizes, same bytes, whichever served it first.

use std::net::SocketAddr;

use crate::support::{self, Dovecot, RawPop3, is_root, require};
use crate::{alice_root, start};

/// What a client sees: (UIDL, LIST size, RETR bytes) per message.
fn view(addr: SocketAddr) -> Vec<(String, usize, Vec<u8>)> {
    let (mut pop3, greeting) = RawPop3::connect(addr);
    assert!(greeting.starts_with("+OK"), "{greeting}");
    let answer = pop3.login("alice", "secret");
    assert!(answer.starts_with("+OK"), "{answer}");
    assert!(pop3.command("UIDL").starts_with("+OK"));
    let uidl = String::from_utf8_lossy(&pop3.body()).into_owned();
    assert!(pop3.command("LIST").starts_with("+OK"));
    let list = String::from_utf8_lossy(&pop3.body()).into_owned();
    let mut out = Vec::new();
    for (u, l) in uidl.lines().zip(list.lines()) {
        let (n, id) = u.split_once(' ').expect("n id");
        let (m, size) = l.split_once(' ').expect("n size");
        assert_eq!(n, m);
        assert!(pop3.command(&format!("RETR {n}")).starts_with("+OK"));
        out.push((id.to_owned(), size.parse().expect("size"), pop3.body()));
    }
    assert!(pop3.command("QUIT").starts_with("+OK"));
    out
}

/// Compares two views message by message, with readable failures.
fn assert_same(ours: &[(String, usize, Vec<u8>)], theirs: &[(String, usize, Vec<u8>)], what: &str) {
    let ids = |v: &[(String, usize, Vec<u8>)]| {
        v.iter()
            .map(|(id, size, _)| (id.clone(), *size))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids(ours),
        ids(theirs),
        "{what}: (UIDL, size) of mail_server, then of Dovecot"
    );
    for ((id, _, a), (_, _, b)) in ours.iter().zip(theirs) {
        assert!(a == b, "{what}: message {id} differs");
    }
}

pub(crate) fn dovecot_available() -> bool {
    if !require("dovecot") {
        return false;
    }
    if !is_root() {
        let message =
            "\n\n*** SKIPPED: Dovecot is started as root in this test (it needs a system user) ***\n";
        assert!(std::env::var_os("CI").is_none(), "{message}");
        eprintln!("{message}");
        return false;
    }
    true
}

#[test]
fn dovecot_then_mail_server_give_the_same_uidls() {
    if !dovecot_available() {
        return;
    }
    let mail = alice_root("uidl-dovecot-first");
    let mut dovecot = Dovecot::start(&mail.root, &mail.users);
    let theirs = view(dovecot.addr);
    let log = dovecot.log();
    dovecot.stop();
    assert_eq!(theirs.len(), support::sample_messages().len(), "Dovecot:\n{log}");
    let server = start(&mail, &["--allow-plaintext-auth"]);
    let ours = view(server.pop3);
    assert_same(&ours, &theirs, "mail_server after Dovecot");
}

#[test]
fn mail_server_then_dovecot_give_the_same_uidls() {
    if !dovecot_available() {
        return;
    }
    let mail = alice_root("uidl-mail-server-first");
    let mut server = start(&mail, &["--allow-plaintext-auth"]);
    let ours = view(server.pop3);
    server.stop();
    let dovecot = Dovecot::start(&mail.root, &mail.users);
    let theirs = view(dovecot.addr);
    assert_eq!(ours.len(), support::sample_messages().len());
    assert_same(&ours, &theirs, "Dovecot after mail_server");
}

//! Maildrop rules: message numbers, deletion, RSET, drops, locks, commit failure, unique ids.

use crate::common::*;
use crate::helpers::*;
use mailwire_pop3::{
    Maildrop, MaildropError, MaildropServer, MemoryMaildrop, MessageInfo, MessageNumber, ServerConfig,
    ServerEvent,
};

// ---------------------------------------------------------------------------
// Edge cases: message numbers and deletion
// ---------------------------------------------------------------------------

#[test]
fn message_zero_is_an_error() {
    let maildrop = two_messages();
    let mut server = logged_in(rfc1939_config(), &maildrop);
    for command in ["RETR 0", "DELE 0", "LIST 0", "UIDL 0", "TOP 0 1", "RETR 00"] {
        let out = server.exchange(&format!("{command}\r\n"));
        assert!(
            out.starts_with("-ERR ") && out.matches("\r\n").count() == 1,
            "{command}: {out:?}"
        );
    }
    assert_eq!(server.exchange("STAT\r\n"), "+OK 2 320\r\n");
    assert_eq!(
        server.exchange("QUIT\r\n"),
        "+OK POP3 server signing off (2 messages left)\r\n"
    );
    assert_eq!(maildrop.messages().len(), 2);
}

#[test]
fn numbers_past_the_end() {
    let maildrop = two_messages();
    let mut server = logged_in(rfc1939_config(), &maildrop);
    for command in [
        "RETR 3",
        "DELE 3",
        "LIST 3",
        "UIDL 3",
        "TOP 3 0",
        "RETR 4294967295",
    ] {
        let out = server.exchange(&format!("{command}\r\n"));
        assert_eq!(
            out, "-ERR no such message, only 2 messages in maildrop\r\n",
            "{command}"
        );
    }
    for command in [
        "RETR 4294967296",
        "LIST 99999999999999999999999",
        "TOP 1 4294967296",
        "TOP 1 -1",
    ] {
        let out = server.exchange(&format!("{command}\r\n"));
        assert!(
            out.starts_with("-ERR ") && out.matches("\r\n").count() == 1,
            "{command}: {out:?}"
        );
    }
    assert_eq!(server.exchange("STAT\r\n"), "+OK 2 320\r\n");
}

#[test]
fn deleted_message_referenced_again() {
    let maildrop = two_messages();
    let mut server = logged_in(rfc1939_config(), &maildrop);
    assert_eq!(server.exchange("DELE 1\r\n"), "+OK message 1 deleted\r\n");
    for command in ["RETR 1", "DELE 1", "LIST 1", "UIDL 1", "TOP 1 0"] {
        let out = server.exchange(&format!("{command}\r\n"));
        assert_eq!(out, "-ERR message 1 already deleted\r\n", "{command}");
    }
    // Message 2 keeps its number.
    assert_eq!(server.exchange("LIST 2\r\n"), "+OK 2 200\r\n");
}

#[test]
fn stat_list_and_uidl_leave_deleted_messages_out() {
    let maildrop = two_messages();
    let mut server = logged_in(rfc1939_config(), &maildrop);
    let out = server.exchange("DELE 1\r\nSTAT\r\nLIST\r\nUIDL\r\n");
    assert_eq!(
        out,
        format!(
            "+OK message 1 deleted\r\n+OK 1 200\r\n+OK maildrop has 1 message (200 octets)\r\n2 200\r\n.\r\n+OK\r\n2 {UID2}\r\n.\r\n"
        )
    );
    let out = server.exchange("DELE 2\r\nSTAT\r\nLIST\r\nUIDL\r\n");
    assert_eq!(
        out,
        "+OK message 2 deleted\r\n+OK 0 0\r\n+OK maildrop has 0 messages (0 octets)\r\n.\r\n+OK\r\n.\r\n"
    );
}

#[test]
fn rset_unmarks_deleted_messages() {
    let (maildrop, m1, _) = rfc1939_maildrop();
    let mut server = logged_in(rfc1939_config(), &maildrop);
    server.exchange("DELE 1\r\nDELE 2\r\n");
    assert_eq!(
        server.exchange("RSET\r\n"),
        "+OK maildrop has 2 messages (320 octets)\r\n"
    );
    assert_eq!(server.exchange("STAT\r\n"), "+OK 2 320\r\n");
    let retr = server.exchange("RETR 1\r\n");
    assert_eq!(retr, format!("+OK 120 octets\r\n{}.\r\n", show(&stuffed(&m1))));
    assert!(server.exchange("QUIT\r\n").starts_with("+OK "));
    assert_eq!(maildrop.messages().len(), 2);
    // RSET then DELE again, then QUIT: only the new mark counts.
    let mut server = logged_in(rfc1939_config(), &maildrop);
    server.exchange("DELE 1\r\nRSET\r\nDELE 2\r\nQUIT\r\n");
    assert_eq!(maildrop.messages(), vec![m1.into()]);
}

// ---------------------------------------------------------------------------
// Edge cases: session end, locking, commit
// ---------------------------------------------------------------------------

#[test]
fn dropped_connection_deletes_nothing_and_releases_the_lock() {
    let maildrop = two_messages();
    let mut server = logged_in(rfc1939_config(), &maildrop);
    assert_eq!(
        server.exchange("DELE 1\r\nDELE 2\r\n"),
        "+OK message 1 deleted\r\n+OK message 2 deleted\r\n"
    );
    assert!(maildrop.is_locked());
    drop(server);
    assert_eq!(maildrop.messages().len(), 2);
    assert!(!maildrop.is_locked());

    // Dropped in the middle of sending a body.
    let big = message_of_size("big", 100_000);
    let maildrop = maildrop_with(&[&big]);
    let config = ServerConfig {
        transmit_chunk: 1024,
        ..rfc1939_config()
    };
    let mut session = mailwire_pop3::ServerSession::new(config);
    let mut store = MaildropServer::new();
    session.receive(b"USER mrose\r\nPASS secret\r\nDELE 1\r\nRSET\r\nRETR 1\r\nDELE 1\r\nQUIT\r\n");
    let Some(ServerEvent::Login(login)) = session.poll_event() else {
        panic!("no login")
    };
    store.accept_login(&mut session, login, maildrop.clone()).unwrap();
    assert!(
        store.poll_event(&mut session).is_none(),
        "RETR is answered by the store"
    );
    // Send only the start of the body: the DELE and QUIT after it are not
    // reached.
    let mut sent = 0;
    while sent < 10_000 {
        sent += store.poll_transmit(&mut session).expect("more body").len();
    }
    assert!(maildrop.is_locked());
    drop(session);
    drop(store);
    assert_eq!(maildrop.messages().len(), 1);
    assert!(!maildrop.is_locked());

    // Dropped while the application checks credentials: the login it then
    // accepts is refused by the session that took the connection's place,
    // and nothing is locked.
    let maildrop = two_messages();
    let mut session = mailwire_pop3::ServerSession::new(rfc1939_config());
    session.receive(b"USER mrose\r\nPASS secret\r\n");
    let Some(ServerEvent::Login(login)) = session.poll_event() else {
        panic!("no login")
    };
    drop(session);
    let mut replaced = mailwire_pop3::ServerSession::new(rfc1939_config());
    let mut store = MaildropServer::new();
    assert!(
        store
            .accept_login(&mut replaced, login, maildrop.clone())
            .is_err()
    );
    assert!(!maildrop.is_locked() && !store.is_locked());
}

#[test]
fn quit_in_authorization_commits_nothing() {
    let maildrop = two_messages();
    let mut server = Server::new(rfc1939_config(), &maildrop);
    server.take_output();
    assert_eq!(
        server.exchange("USER mrose\r\nQUIT\r\nPASS secret\r\n"),
        "+OK Send PASS\r\n+OK POP3 server signing off\r\n"
    );
    assert!(server.session.is_closed());
    assert_eq!(server.events, vec![Seen::Closed { committed: false }]);
    assert!(server.logins().is_empty());
    // Input after QUIT is ignored.
    assert_eq!(server.exchange("USER mrose\r\n"), "");
    assert_eq!(maildrop.messages().len(), 2);
    assert!(!maildrop.is_locked());
}

/// A maildrop whose commits fail.
#[derive(Debug, Clone)]
struct FailingCommit(MemoryMaildrop);

impl Maildrop for FailingCommit {
    type Message = <MemoryMaildrop as Maildrop>::Message;

    fn lock(&mut self) -> Result<Vec<MessageInfo>, MaildropError> {
        self.0.lock()
    }

    fn open(&mut self, message: MessageNumber) -> Result<Self::Message, MaildropError> {
        self.0.open(message)
    }

    fn commit(&mut self, _: &[MessageNumber], _: &[MessageNumber]) -> Result<(), MaildropError> {
        Err(MaildropError::Temporary("commit failed".into()))
    }

    fn release(&mut self) {
        self.0.release()
    }
}

#[test]
fn commit_failure_at_quit() {
    let maildrop = two_messages();
    let mut server = Server::new(rfc1939_config(), &FailingCommit(maildrop.clone()));
    server.take_output();
    let out = server.exchange("USER mrose\r\nPASS secret\r\nDELE 1\r\nQUIT\r\n");
    assert!(
        out.ends_with("+OK message 1 deleted\r\n-ERR [SYS/TEMP] Some deleted messages not removed\r\n"),
        "{out}"
    );
    assert!(server.session.is_closed());
    assert_eq!(server.closed_events(), [&Seen::Closed { committed: false }]);
    assert_eq!(maildrop.messages().len(), 2);
    assert!(!maildrop.is_locked());
}

#[test]
fn second_session_gets_in_use_until_the_first_quits() {
    let maildrop = two_messages();
    let mut first = logged_in(rfc1939_config(), &maildrop);
    let mut second = Server::new(rfc1939_config(), &maildrop);
    second.take_output();
    assert_eq!(
        second.exchange("USER mrose\r\nPASS secret\r\n"),
        "+OK Send PASS\r\n-ERR [IN-USE] Maildrop already locked\r\n"
    );
    assert!(!second.session.is_authenticated());
    // APOP too.
    let apop = "APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n";
    assert_eq!(second.exchange(apop), "-ERR [IN-USE] Maildrop already locked\r\n");
    // The first session goes on undisturbed, deletes and quits.
    assert_eq!(
        first.exchange("DELE 1\r\nQUIT\r\n"),
        "+OK message 1 deleted\r\n+OK POP3 server signing off (1 message left)\r\n"
    );
    assert!(!maildrop.is_locked());
    // The failed PASS forgot the user: USER again.
    assert_eq!(second.exchange("PASS secret\r\n"), "-ERR Send USER first\r\n");
    assert_eq!(
        second.exchange(apop),
        "+OK maildrop has 1 message (200 octets)\r\n"
    );
    assert!(maildrop.is_locked());
}

// ---------------------------------------------------------------------------
// More edge cases
// ---------------------------------------------------------------------------

/// RFC 1939 section 7: unique ids persist across sessions, while message
/// numbers are per session.
#[test]
fn unique_ids_persist_across_sessions() {
    let maildrop = two_messages();
    let mut server = logged_in(rfc1939_config(), &maildrop);
    assert_eq!(
        server.exchange("UIDL\r\n"),
        format!("+OK\r\n1 {UID1}\r\n2 {UID2}\r\n.\r\n")
    );
    server.exchange("DELE 1\r\nQUIT\r\n");
    let mut server = logged_in(rfc1939_config(), &maildrop);
    assert_eq!(server.exchange("UIDL\r\n"), format!("+OK\r\n1 {UID2}\r\n.\r\n"));
    assert_eq!(
        server.exchange("LIST\r\n"),
        "+OK maildrop has 1 message (200 octets)\r\n1 200\r\n.\r\n"
    );
    // A session that ends without QUIT changes neither.
    assert_eq!(server.exchange("DELE 1\r\n"), "+OK message 1 deleted\r\n");
    drop(server);
    let mut server = logged_in(rfc1939_config(), &maildrop);
    assert_eq!(server.exchange("UIDL 1\r\n"), format!("+OK 1 {UID2}\r\n"));
}

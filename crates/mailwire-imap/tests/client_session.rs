//! The IMAP client session: tags, literals, pipelining rules, pairing of
//! data with commands, and the view of the selected mailbox.

use std::num::NonZeroU32;

use mailwire_imap::client::{
    ClientConfig, ClientEvent, ClientSession, ClientState, Completion, MailboxChange,
};
use mailwire_imap::{
    AString, CommandBody, CopyMove, Fetch, FetchItems, FetchMacro, Flag, FlagFetch, Mailbox, SequenceSet,
    Status,
};

fn uid(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap()
}

fn wire(client: &mut ClientSession) -> String {
    let mut out = Vec::new();
    while let Some(bytes) = client.poll_transmit() {
        out.extend_from_slice(&bytes);
    }
    String::from_utf8(out).unwrap()
}

fn events(client: &mut ClientSession) -> Vec<ClientEvent> {
    std::iter::from_fn(|| client.poll_event()).collect()
}

fn completions(client: &mut ClientSession) -> Vec<Completion> {
    events(client)
        .into_iter()
        .filter_map(|e| match e {
            ClientEvent::Completed(c) => Some(*c),
            _ => None,
        })
        .collect()
}

fn greeted(capabilities: &str) -> ClientSession {
    let mut c = ClientSession::new(ClientConfig::default());
    let list = format!("IMAP4rev1 {capabilities}");
    c.receive(format!("* OK [CAPABILITY {}] ready\r\n", list.trim_end()).as_bytes());
    assert!(matches!(
        events(&mut c)[..],
        [ClientEvent::Greeting {
            status: Status::Ok,
            ..
        }]
    ));
    c
}

fn fetch(set: &str, uid: bool) -> CommandBody<'static> {
    CommandBody::Fetch {
        fetch: Fetch {
            sequence_set: set.parse::<SequenceSet>().unwrap(),
            items: FetchItems::Macro(FetchMacro::Fast),
            modifiers: Vec::new(),
        },
        uid,
    }
}

fn select() -> CommandBody<'static> {
    CommandBody::Select {
        mailbox: Mailbox::Inbox,
        parameters: Vec::new(),
    }
}

/// A client with INBOX selected: 3 messages, UIDs 5, 6, 9.
fn selected() -> ClientSession {
    selected_on("")
}

/// [`selected`] on a server that offers `capabilities`.
fn selected_on(capabilities: &str) -> ClientSession {
    let mut c = greeted(capabilities);
    c.send(select());
    c.receive(
        b"* 3 EXISTS\r\n* OK [UIDVALIDITY 42] UIDs valid\r\n* OK [UIDNEXT 10] next\r\nA1 OK [READ-WRITE] done\r\n",
    );
    wire(&mut c);
    events(&mut c);
    c.send(fetch("1:*", false));
    c.receive(b"* 1 FETCH (UID 5)\r\n* 2 FETCH (UID 6)\r\n* 3 FETCH (UID 9)\r\nA2 OK done\r\n");
    wire(&mut c);
    events(&mut c);
    c
}

#[test]
fn nothing_is_sent_before_the_greeting_and_a_bye_greeting_closes() {
    let mut c = ClientSession::new(ClientConfig::default());
    c.send(CommandBody::Capability);
    assert_eq!(wire(&mut c), "");
    c.receive(b"* OK ready\r\n");
    assert_eq!(wire(&mut c), "A1 CAPABILITY\r\n");

    let mut c = ClientSession::new(ClientConfig::default());
    c.receive(b"* BYE too busy\r\n");
    assert_eq!(c.state(), ClientState::Closed);
    assert!(matches!(
        events(&mut c)[..],
        [
            ClientEvent::Greeting {
                status: Status::Bye,
                ..
            },
            ClientEvent::Closed
        ]
    ));
}

#[test]
fn a_synchronizing_literal_waits_for_the_continuation_request() {
    let mut c = greeted("");
    let id = c.login(b"alice", b"p\"w\r\nd").unwrap();
    assert_eq!(wire(&mut c), "A1 LOGIN alice {6}\r\n");
    c.receive(b"+ go ahead\r\n");
    assert_eq!(wire(&mut c), "p\"w\r\nd\r\n");
    c.receive(b"A1 OK [CAPABILITY IMAP4rev1 IDLE] Logged in\r\n");
    let done = completions(&mut c);
    assert_eq!((done[0].id, done[0].status), (id, Status::Ok));
    assert_eq!(c.state(), ClientState::Authenticated);
    assert!(
        c.capabilities()
            .unwrap()
            .contains(&mailwire_imap::Capability::Idle)
    );

    // Refused instead of continued: the rest is never sent, and the next
    // command goes.
    let mut c = greeted("");
    c.login(b"alice", b"line\r\nbreak").unwrap();
    c.send(CommandBody::Noop);
    assert_eq!(wire(&mut c), "A1 LOGIN alice {11}\r\n");
    c.receive(b"A1 NO [TOOBIG] no\r\n");
    assert_eq!(wire(&mut c), "A2 NOOP\r\n");
    assert_eq!(completions(&mut c)[0].status, Status::No);
}

#[test]
fn literal_plus_sends_literals_without_waiting() {
    let mut c = greeted("LITERAL+");
    c.login(b"alice", b"p\"w\r\nd").unwrap();
    assert_eq!(wire(&mut c), "A1 LOGIN alice {6+}\r\np\"w\r\nd\r\n");
}

#[test]
fn a_command_with_sequence_numbers_waits_for_one_that_may_expunge() {
    let mut c = greeted("");
    c.send(CommandBody::Copy {
        args: CopyMove {
            sequence_set: "1:2".parse().unwrap(),
            mailbox: Mailbox::from(AString::from_bytes(&b"Archive"[..]).unwrap()),
        },
        uid: false,
    });
    c.send(fetch("1", false));
    c.send(fetch("2", true));
    // FETCH 1 waits for COPY; UID FETCH behind it waits too (commands go
    // in order).
    assert_eq!(wire(&mut c), "A1 COPY 1:2 Archive\r\n");
    c.receive(b"A1 OK copied\r\n");
    assert_eq!(wire(&mut c), "A2 FETCH 1 FAST\r\nA3 UID FETCH 2 FAST\r\n");

    // FETCH, STORE and SEARCH run side by side.
    let mut c = greeted("");
    c.send(fetch("1", false));
    c.send(fetch("2", false));
    assert_eq!(wire(&mut c), "A1 FETCH 1 FAST\r\nA2 FETCH 2 FAST\r\n");
}

#[test]
fn select_runs_alone() {
    let mut c = greeted("");
    c.send(CommandBody::Noop);
    c.send(select());
    c.send(CommandBody::Noop);
    assert_eq!(wire(&mut c), "A1 NOOP\r\n");
    c.receive(b"A1 OK\r\n");
    assert_eq!(wire(&mut c), "A2 SELECT INBOX\r\n");
    c.receive(b"* FLAGS (\\Seen)\r\n* 2 EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY 7] v\r\n* OK [HIGHESTMODSEQ 90] h\r\nA2 OK [READ-ONLY] done\r\n");
    assert_eq!(wire(&mut c), "A3 NOOP\r\n");
    let done = completions(&mut c);
    let select = done[1].data.select.as_ref().unwrap();
    assert_eq!(
        (
            select.exists,
            select.recent,
            select.uid_validity,
            select.read_only
        ),
        (2, Some(0), Some(uid(7)), true)
    );
    assert_eq!(select.flags, [Flag::Seen]);
    let view = c.mailbox().unwrap();
    assert_eq!(
        (view.exists(), view.uid_validity, view.read_only),
        (2, Some(uid(7)), true)
    );
    assert_eq!(view.highest_modseq.map(|m| m.get()), Some(90));
    assert_eq!(c.state(), ClientState::Selected);
}

#[test]
fn data_goes_to_the_command_that_asked_for_it() {
    let mut c = selected();
    let f = c.send(fetch("1:2", false));
    let s = c.send(CommandBody::Search {
        search: mailwire_imap::Search::new(vec![mailwire_imap::SearchKey::All]),
        uid: false,
    });
    let l = c.send(CommandBody::List(mailwire_imap::List::new(
        mailwire_imap::Mailbox::Inbox,
        mailwire_imap::ListMailbox::from_bytes(&b"*"[..]).unwrap(),
    )));
    wire(&mut c);
    c.receive(
        b"* 1 FETCH (FLAGS (\\Seen) UID 5)\r\n* SEARCH 1 3\r\n* 2 FETCH (FLAGS () UID 6)\r\nA3 OK fetched\r\n\
          A4 OK searched\r\n* LIST () \"/\" INBOX\r\n* LIST () \"/\" Sent\r\nA5 OK listed\r\n",
    );
    let done = completions(&mut c);
    assert_eq!(done.iter().map(|d| d.id).collect::<Vec<_>>(), [f, s, l]);
    assert_eq!(done[0].data.fetch.len(), 2);
    assert_eq!(done[1].data.search.as_ref().unwrap().0, [uid(1), uid(3)]);
    assert_eq!(done[2].data.list.len(), 2);
}

/// A server that sends untagged data for a command without end cannot
/// fill the client's memory: past `max_command_data` octets held for one
/// command the session fails with an error and closes; within it, the
/// command completes with all its data.
#[test]
fn untagged_data_past_the_limit_for_one_command_closes_the_session() {
    let list = || {
        CommandBody::List(mailwire_imap::List::new(
            mailwire_imap::Mailbox::Inbox,
            mailwire_imap::ListMailbox::from_bytes(&b"*"[..]).unwrap(),
        ))
    };
    let line = b"* LIST () \"/\" some-mailbox-name\r\n";
    let mut c = ClientSession::new(ClientConfig {
        max_command_data: 100 * line.len() as u64,
        ..ClientConfig::default()
    });
    c.receive(b"* OK ready\r\n");
    events(&mut c);
    let l = c.send(list());
    wire(&mut c);
    c.receive(&line.repeat(100));
    c.receive(b"A1 OK listed\r\n");
    let done = completions(&mut c);
    assert_eq!((done[0].id, done[0].data.list.len()), (l, 100));
    c.send(list());
    wire(&mut c);
    c.receive(&line.repeat(101));
    let got = events(&mut c);
    assert!(
        matches!(
            got.as_slice(),
            [ClientEvent::Error(e), ClientEvent::Closed]
                if e.kind == mailwire_imap::ErrorKind::MessageTooLarge { limit: 100 * line.len() as u64 }
        ),
        "{got:?}"
    );
    assert_eq!(c.state(), ClientState::Closed);
}

#[test]
fn unsolicited_data_changes_the_view() {
    let mut c = selected();
    c.receive(b"* 2 EXPUNGE\r\n* 4 EXISTS\r\n* 3 FETCH (UID 12 FLAGS (\\Flagged))\r\n");
    let changes: Vec<MailboxChange> = events(&mut c)
        .into_iter()
        .filter_map(|e| match e {
            ClientEvent::Changed(change) => Some(change),
            _ => None,
        })
        .collect();
    assert_eq!(
        changes,
        [
            MailboxChange::Expunged {
                seq: uid(2),
                uid: Some(uid(6))
            },
            MailboxChange::Exists { count: 4 },
            MailboxChange::Flags {
                seq: uid(3),
                uid: Some(uid(12)),
                flags: vec![FlagFetch::Flag(Flag::Flagged)],
                modseq: None
            },
        ]
    );
    let view = c.mailbox().unwrap();
    assert_eq!(view.exists(), 4);
    assert_eq!(
        (view.uid(uid(1)), view.uid(uid(2)), view.uid(uid(3))),
        (Some(uid(5)), Some(uid(9)), Some(uid(12)))
    );
    assert_eq!(view.seq(uid(9)), Some(uid(2)));

    c.receive(b"* VANISHED 5,12\r\n* VANISHED (EARLIER) 1:4\r\n");
    let view = c.mailbox().unwrap();
    assert_eq!(view.exists(), 2);
    assert_eq!(view.uid(uid(1)), Some(uid(9)));
    assert!(view.is_certain());
    c.receive(b"* OK [UIDVALIDITY 43] reset\r\n");
    assert!(
        events(&mut c)
            .iter()
            .any(|e| matches!(e, ClientEvent::Changed(MailboxChange::UidValidity(v)) if v.get() == 43))
    );
    assert_eq!(c.mailbox().unwrap().uid(uid(1)), None);
}

#[test]
fn authenticate_plain_uses_sasl_ir_when_offered() {
    let mut c = greeted("SASL-IR AUTH=PLAIN");
    c.authenticate_plain(b"", b"alice", b"secret");
    assert_eq!(wire(&mut c), "A1 AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\n");

    let mut c = greeted("AUTH=PLAIN");
    let id = c.authenticate_plain(b"", b"alice", b"secret");
    assert_eq!(wire(&mut c), "A1 AUTHENTICATE PLAIN\r\n");
    c.receive(b"+ \r\n");
    assert_eq!(wire(&mut c), "AGFsaWNlAHNlY3JldA==\r\n");
    c.receive(b"A1 OK done\r\n");
    assert_eq!(completions(&mut c)[0].id, id);

    // Challenges of other mechanisms go to the application.
    let mut c = greeted("AUTH=X-TOKEN");
    let id = c.authenticate("x-token", None);
    c.receive(b"+ bm9uY2U=\r\n");
    let got = events(&mut c);
    assert!(matches!(&got[..], [ClientEvent::SaslChallenge { id: i, data }] if *i == id && data == b"nonce"));
    c.sasl_cancel(id);
    assert_eq!(wire(&mut c), "A1 AUTHENTICATE X-TOKEN\r\n*\r\n");
}

#[test]
fn idle_waits_for_the_server_and_done_lets_queued_commands_go() {
    let mut c = selected();
    let idle = c.idle();
    c.send(CommandBody::Noop);
    assert_eq!(wire(&mut c), "A3 IDLE\r\n");
    c.receive(b"+ idling\r\n* 4 EXISTS\r\n");
    let got = events(&mut c);
    assert!(matches!(got[0], ClientEvent::Idling { id } if id == idle));
    assert!(matches!(
        got[1],
        ClientEvent::Changed(MailboxChange::Exists { count: 4 })
    ));
    c.done();
    assert_eq!(wire(&mut c), "DONE\r\n");
    c.receive(b"A3 OK IDLE terminated\r\n");
    assert_eq!(wire(&mut c), "A4 NOOP\r\n");
}

#[test]
fn starttls_switches_and_forgets_the_capabilities() {
    let mut c = greeted("STARTTLS LOGINDISABLED");
    c.send(CommandBody::StartTls);
    c.send(CommandBody::Capability);
    assert_eq!(wire(&mut c), "A1 STARTTLS\r\n");
    c.receive(b"A1 OK begin\r\n");
    assert_eq!(c.state(), ClientState::Switching);
    assert!(events(&mut c).iter().any(|e| matches!(e, ClientEvent::StartTls)));
    assert_eq!(wire(&mut c), "");
    c.tls_established();
    assert!(c.capabilities().is_none());
    assert_eq!(wire(&mut c), "A2 CAPABILITY\r\n");
}

/// `[CLOSED]` ends the selection: a BAD to the SELECT that caused it
/// leaves the session Authenticated with no mailbox (it stayed Selected
/// with none), and an OK selects the new one.
#[test]
fn closed_then_a_bad_select_leaves_no_mailbox_selected() {
    let mut c = selected();
    c.send(select());
    assert_eq!(wire(&mut c), "A3 SELECT INBOX\r\n");
    c.receive(b"* OK [CLOSED] previous mailbox closed\r\nA3 BAD bad parameters\r\n");
    events(&mut c);
    assert!(c.mailbox().is_none());
    assert_eq!(c.state(), ClientState::Authenticated);
    c.send(select());
    wire(&mut c);
    c.receive(b"* 0 EXISTS\r\n* OK [UIDVALIDITY 43] UIDs valid\r\nA4 OK [READ-WRITE] done\r\n");
    events(&mut c);
    assert_eq!(c.state(), ClientState::Selected);
    assert!(c.mailbox().is_some());
}

/// The changes of a SELECT's answer: the completion's FETCH data and the
/// mailbox changes reported, UIDs as numbers.
fn select_answer(c: &mut ClientSession, answer: &[u8]) -> (Vec<u32>, Vec<String>) {
    c.receive(answer);
    let mut fetched = Vec::new();
    let mut changes = Vec::new();
    for e in events(c) {
        match e {
            ClientEvent::Completed(done) => {
                fetched.extend(done.data.fetch.iter().map(|(seq, _)| seq.get()));
            }
            ClientEvent::Changed(change) => changes.push(match change {
                MailboxChange::Vanished { uids } => format!("vanished {uids}"),
                MailboxChange::VanishedEarlier { uids } => format!("earlier {uids}"),
                MailboxChange::Expunged { seq, .. } => format!("expunged {seq}"),
                MailboxChange::Flags { seq, .. } => format!("flags {seq}"),
                other => format!("{other:?}"),
            }),
            _ => {}
        }
    }
    (fetched, changes)
}

/// What a server sends before `[CLOSED]` is about the mailbox being
/// closed (RFC 7162 section 3.2.11): a VANISHED or a FETCH of it was taken
/// as the new mailbox's, so a synchronising client deleted the new
/// mailbox's copies of those UIDs and took another's flags.
#[test]
fn responses_before_closed_are_the_old_mailboxs() {
    let mut c = selected();
    c.send(select());
    assert_eq!(wire(&mut c), "A3 SELECT INBOX\r\n");
    let (fetched, changes) = select_answer(
        &mut c,
        b"* VANISHED 5\r\n* 1 EXPUNGE\r\n* 1 FETCH (UID 9 FLAGS (\\Seen))\r\n* OK [CLOSED] closed\r\n\
* 4 EXISTS\r\n* OK [UIDVALIDITY 42] UIDs valid\r\n* VANISHED (EARLIER) 20\r\n\
* 2 FETCH (UID 4 FLAGS (\\Flagged))\r\nA3 OK [READ-WRITE] done\r\n",
    );
    assert_eq!(fetched, [2]);
    assert_eq!(changes, ["earlier 20", "flags 2"]);
    let view = c.mailbox().expect("selected");
    assert_eq!(view.exists(), 4);
    assert_eq!(view.uid(uid(2)), Some(uid(4)));
    assert_eq!(view.uid(uid(1)), None);
}

/// A server that sends no `[CLOSED]` begins the new mailbox's answer with
/// data only a SELECT's answer holds (FLAGS here); what came before is
/// the old mailbox's.
#[test]
fn without_closed_the_new_answer_begins_the_new_mailbox() {
    let mut c = selected();
    c.send(select());
    wire(&mut c);
    let (fetched, changes) = select_answer(
        &mut c,
        b"* 2 EXPUNGE\r\n* FLAGS (\\Seen)\r\n* 2 EXISTS\r\n* 1 FETCH (UID 7 FLAGS ())\r\n\
* OK [UIDVALIDITY 50] valid\r\nA3 OK done\r\n",
    );
    assert_eq!(fetched, [1]);
    assert_eq!(changes, ["flags 1"]);
    let view = c.mailbox().expect("selected");
    assert_eq!(view.exists(), 2);
    assert_eq!(view.uid(uid(1)), Some(uid(7)));
}

/// A server that offers QRESYNC (or CONDSTORE, or IMAP4rev2) ends the
/// old mailbox with `[CLOSED]` only: RECENT or FLAGS before it may be
/// about the old mailbox (RECENT comes with EXISTS), and did not end it,
/// so what followed went to the new one; EXISTS before it is the old
/// mailbox's too.
#[test]
fn a_server_that_sends_closed_ends_the_old_mailbox_with_it_only() {
    let mut c = selected_on("QRESYNC");
    c.send(select());
    wire(&mut c);
    let (fetched, changes) = select_answer(
        &mut c,
        b"* 4 EXISTS\r\n* 1 RECENT\r\n* FLAGS (\\Seen $New)\r\n* VANISHED 6\r\n\
* 1 FETCH (UID 5 FLAGS (\\Seen))\r\n* OK [CLOSED] closed\r\n* 2 EXISTS\r\n* 0 RECENT\r\n\
* OK [UIDVALIDITY 43] valid\r\nA3 OK [READ-WRITE] done\r\n",
    );
    assert!(fetched.is_empty());
    assert!(changes.is_empty(), "{changes:?}");
    let view = c.mailbox().expect("selected");
    assert_eq!(view.exists(), 2);
    assert_eq!(view.uid_validity, Some(uid(43)));
    // A BAD leaves the old one selected, with all it was told.
    c.send(select());
    wire(&mut c);
    let (_, changes) = select_answer(
        &mut c,
        b"* 5 EXISTS\r\n* 1 RECENT\r\n* 2 EXPUNGE\r\nA4 BAD no\r\n",
    );
    assert_eq!(changes, ["Exists { count: 5 }", "expunged 2"]);
    assert_eq!(c.mailbox().expect("still selected").exists(), 4);
}

/// A BAD to the SELECT leaves the old mailbox selected: the changes it
/// was told meanwhile are reported then, and its view has them.
#[test]
fn a_bad_select_reports_the_old_mailboxs_changes() {
    let mut c = selected();
    c.send(select());
    wire(&mut c);
    let (fetched, changes) = select_answer(&mut c, b"* 1 EXPUNGE\r\n* VANISHED 9\r\nA3 BAD no\r\n");
    assert!(fetched.is_empty());
    assert_eq!(changes, ["expunged 1", "vanished 9"]);
    let view = c.mailbox().expect("still selected");
    assert_eq!(view.exists(), 1);
    assert_eq!(view.uid(uid(1)), Some(uid(6)));
    assert_eq!(c.state(), ClientState::Selected);
}

/// A generated tag is never one a command in progress has: a proxy that
/// forwards its client's tags (`A2` here) beside commands of its own
/// would have a completion taken for the wrong command.
#[test]
fn generated_tags_skip_those_in_use() {
    let mut c = greeted("");
    let theirs = c.send_tagged(mailwire_imap::Tag::new("A2").unwrap(), CommandBody::Noop);
    let ours = c.send(CommandBody::Noop);
    assert_eq!(wire(&mut c), "A2 NOOP\r\nA3 NOOP\r\n");
    c.receive(b"A3 OK done\r\nA2 OK done\r\n");
    let done: Vec<_> = completions(&mut c).iter().map(|d| d.id).collect();
    assert_eq!(done, [ours, theirs]);
}

/// A command queued behind STARTTLS was encoded with the capabilities the
/// plain-text greeting named, which a man in the middle may have written:
/// after the handshake its literals are synchronizing, which every server
/// takes (`{n+}` to a server without LITERAL+ would have it read the
/// literal's data as commands of the protected session).
#[test]
fn literals_queued_behind_starttls_wait_for_the_server() {
    let mut c = greeted("STARTTLS LITERAL+");
    c.send(CommandBody::StartTls);
    let password = "p ".repeat(1000);
    c.login(b"user", password.as_bytes()).unwrap();
    assert_eq!(wire(&mut c), "A1 STARTTLS\r\n");
    c.receive(b"A1 OK begin\r\n");
    events(&mut c);
    c.tls_established();
    assert_eq!(wire(&mut c), "A2 LOGIN user {2000}\r\n");
    c.receive(b"+ go on\r\n");
    assert_eq!(wire(&mut c), format!("{password}\r\n"));
}

/// Bytes a man in the middle puts after the server's OK to STARTTLS, in
/// the same read or in a later one before the handshake, are dropped:
/// no capability, no ENABLED, no BYE of theirs reaches the session after
/// TLS (RFC 2595 section 3.1).
#[test]
fn starttls_drops_what_comes_before_the_handshake() {
    let mut c = greeted("STARTTLS LOGINDISABLED");
    c.receive(b"* ENABLED QRESYNC\r\n");
    c.send(CommandBody::StartTls);
    assert_eq!(wire(&mut c), "A1 STARTTLS\r\n");
    c.receive(b"A1 OK begin\r\n* CAPABILITY IMAP4rev2 AUTH=PLAIN\r\n");
    c.receive(b"* BYE injected\r\n* OK [ALERT] injected\r\n");
    let got = events(&mut c);
    assert!(got.iter().any(|e| matches!(e, ClientEvent::StartTls)), "{got:?}");
    assert!(
        !got.iter()
            .any(|e| matches!(e, ClientEvent::Bye(_) | ClientEvent::Alert(_))),
        "{got:?}"
    );
    c.tls_established();
    assert!(c.capabilities().is_none());
    assert!(c.enabled().is_empty(), "{:?}", c.enabled());
    assert_ne!(c.state(), ClientState::Closed);
    assert!(events(&mut c).is_empty());
    c.send(CommandBody::Capability);
    assert_eq!(wire(&mut c), "A2 CAPABILITY\r\n");
}

#[test]
fn a_large_fetch_literal_streams() {
    let mut c = ClientSession::new(ClientConfig {
        stream_above: 16,
        ..ClientConfig::default()
    });
    c.receive(b"* OK ready\r\n");
    events(&mut c);
    let id = c.send(fetch("1", false));
    c.receive(b"* 1 FETCH (UID 5 BODY[] {40}\r\n0123456789");
    c.receive(b"0123456789012345678901234567890123456789");
    c.receive(b")\r\nA1 OK done\r\n");
    let got = events(&mut c);
    let ClientEvent::FetchStart {
        id: for_id, length, ..
    } = &got[0]
    else {
        panic!("{got:?}")
    };
    assert_eq!((*for_id, *length), (Some(id), 40));
    let data: Vec<u8> = got
        .iter()
        .filter_map(|e| match e {
            ClientEvent::FetchData(d) => Some(d.to_vec()),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(data, b"0123456789012345678901234567890123456789");
    assert!(matches!(got.last(), Some(ClientEvent::Completed(done)) if done.id == id));
}

#[test]
fn a_fetch_cut_short_leaves_no_stream_open_for_the_next_one() {
    let mut c = ClientSession::new(ClientConfig {
        stream_above: 16,
        ..ClientConfig::default()
    });
    c.receive(b"* OK ready\r\n");
    events(&mut c);
    let first = c.send(fetch("1", false));
    // A NUL in a `{n}` literal: the response breaks off after "01234".
    c.receive(b"* 1 FETCH (BODY[] {20}\r\n01234\x0056789012345678 UID 5)\r\nA1 OK done\r\n");
    let got = events(&mut c);
    assert!(
        matches!(got[0], ClientEvent::FetchStart { id, .. } if id == Some(first)),
        "{got:?}"
    );
    assert!(
        matches!(&got[1], ClientEvent::FetchData(d) if &d[..] == b"01234"),
        "{got:?}"
    );
    assert!(matches!(got[2], ClientEvent::Error(_)), "{got:?}");
    assert!(matches!(got.last(), Some(ClientEvent::Completed(done)) if done.id == first));
    let second = c.send(fetch("2", false));
    c.receive(b"* 2 FETCH (BODY[] {20}\r\n01234567890123456789)\r\n");
    let got = events(&mut c);
    assert!(
        matches!(got[0], ClientEvent::FetchStart { id, .. } if id == Some(second)),
        "the second FETCH's data is paired with another command: {got:?}"
    );
}

#[test]
fn copyuid_and_appenduid_are_read_from_the_completion() {
    let mut c = selected();
    c.send(CommandBody::Move {
        args: CopyMove {
            sequence_set: "1".parse().unwrap(),
            mailbox: Mailbox::from(AString::from_bytes(&b"Trash"[..]).unwrap()),
        },
        uid: false,
    });
    c.receive(b"* OK [COPYUID 7 5 100] moved\r\n* 1 EXPUNGE\r\nA3 OK done\r\n");
    let done = completions(&mut c);
    let (validity, source, destination) = done[0].copy_uid().unwrap();
    assert_eq!(validity.get(), 7);
    assert!(source.contains(5) && destination.contains(100));
    assert_eq!(c.mailbox().unwrap().exists(), 2);
}

#[test]
fn a_silent_server_times_out() {
    let t0 = std::time::Instant::now();
    let mut c = ClientSession::new(ClientConfig {
        response_timeout: Some(std::time::Duration::from_secs(30)),
        ..ClientConfig::default()
    });
    c.receive(b"* OK ready\r\n");
    c.send(CommandBody::Noop);
    c.handle_timeout(t0);
    assert_eq!(c.poll_timeout(), Some(t0 + std::time::Duration::from_secs(30)));
    c.handle_timeout(t0 + std::time::Duration::from_secs(29));
    assert_ne!(c.state(), ClientState::Closed);
    c.handle_timeout(t0 + std::time::Duration::from_secs(30));
    assert_eq!(c.state(), ClientState::Closed);
}

/// The server's time counts from the sending: a literal that takes
/// longer than the timeout to go (a large APPEND on a slow link) does not
/// close the session, and a silence after it does. The clock restarted
/// only on what the server sent, so the time spent sending was the
/// server's.
#[test]
fn the_response_time_counts_from_the_sending() {
    let t0 = std::time::Instant::now();
    let secs = std::time::Duration::from_secs;
    let mut c = ClientSession::new(ClientConfig {
        response_timeout: Some(secs(30)),
        ..ClientConfig::default()
    });
    c.receive(b"* OK ready\r\n");
    c.login(b"alice", b"pa\r\nss").unwrap();
    let line = c.poll_transmit().expect("the command's line");
    assert!(line.ends_with(b"{6}\r\n"), "{line:?}");
    c.handle_timeout(t0);
    c.receive(b"+ go\r\n");
    // (An application that tells the time after each read.)
    c.handle_timeout(t0 + secs(1));
    let data = c.poll_transmit().expect("the literal");
    assert!(data.starts_with(b"pa\r\nss"), "{data:?}");
    // Four minutes to send it, then the session waits.
    c.handle_timeout(t0 + secs(241));
    assert_ne!(c.state(), ClientState::Closed);
    assert_eq!(c.poll_timeout(), Some(t0 + secs(271)));
    c.handle_timeout(t0 + secs(271));
    assert_eq!(c.state(), ClientState::Closed);
}

/// The client's events for `server` fed at the given split points, with
/// streamed literal data joined (its pieces follow the reads).
fn client_story(server: &[u8], splits: &[usize]) -> (Vec<String>, String) {
    let mut c = ClientSession::new(ClientConfig {
        stream_above: 8,
        ..ClientConfig::default()
    });
    c.login(b"alice", b"secret").unwrap();
    c.send(select());
    c.send(fetch("1:*", false));
    c.idle();
    c.send(CommandBody::Logout);
    let mut story = Vec::new();
    let mut data = Vec::new();
    let mut out = String::new();
    let mut last = 0;
    for &at in splits.iter().chain(std::iter::once(&server.len())) {
        c.receive(&server[last..at]);
        last = at;
        while let Some(event) = c.poll_event() {
            match event {
                ClientEvent::FetchData(d) => data.extend_from_slice(&d),
                ClientEvent::Idling { .. } => {
                    c.done();
                    story.push("Idling".to_owned());
                }
                other => {
                    if !data.is_empty() {
                        story.push(format!("data {:?}", String::from_utf8_lossy(&data)));
                        data.clear();
                    }
                    story.push(format!("{other:?}"));
                }
            }
        }
        out.push_str(&wire(&mut c));
    }
    (story, out)
}

#[test]
fn every_split_of_the_server_s_bytes_gives_the_same_events() {
    let server: &[u8] = b"* OK [CAPABILITY IMAP4rev1 IDLE] ready\r\nA1 OK logged in\r\n\
        * 2 EXISTS\r\n* OK [UIDVALIDITY 3] v\r\nA2 OK [READ-WRITE] selected\r\n\
        * 1 FETCH (UID 4 FLAGS (\\Seen) BODY[] {12}\r\nHello world!)\r\n* 2 FETCH (UID 5 FLAGS ())\r\n\
        A3 OK fetched\r\n+ idling\r\n* 3 EXISTS\r\n* 1 EXPUNGE\r\nA4 OK IDLE done\r\n\
        * BYE bye\r\nA5 OK LOGOUT completed\r\n";
    let whole = client_story(server, &[]);
    assert!(
        whole.0.iter().any(|e| e.contains("Hello world!")),
        "{:#?}",
        whole.0
    );
    assert!(whole.0.last().unwrap().contains("Closed"), "{:#?}", whole.0);
    // The events; what the client writes may differ, as it should: fed
    // the server's IDLE completion before it could send DONE, it sends
    // none.
    for at in 1..server.len() {
        assert_eq!(client_story(server, &[at]).0, whole.0, "split at {at}");
    }
    let every: Vec<usize> = (1..server.len()).collect();
    let byte_by_byte = client_story(server, &every);
    assert_eq!(byte_by_byte.0, whole.0, "byte by byte");
    assert_eq!(
        byte_by_byte.1,
        "A1 LOGIN alice secret\r\nA2 SELECT INBOX\r\nA3 FETCH 1:* FAST\r\nA4 IDLE\r\nDONE\r\nA5 LOGOUT\r\n"
    );
}

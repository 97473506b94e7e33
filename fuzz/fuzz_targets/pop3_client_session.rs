//! The client session fed arbitrary server bytes in arbitrary reads, with
//! a few commands queued.
//!
//! Beyond "no panic": every event names a command that was sent before it
//! (counted in the lines the client wrote), commands are answered in the
//! order queued and each at most once, bodies arrive only between
//! MessageStart and BodyEnd of their command, and the events (with body
//! chunks joined) do not depend on how the input was split into reads.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailwire_pop3::{ClientEvent, ClientSession, Command, CommandId, MessageNumber};

fn commands(selector: u8) -> Vec<Command<'static>> {
    let one = MessageNumber::FIRST;
    let all = [
        Command::Capa,
        Command::Stat,
        Command::List(None),
        Command::List(Some(one)),
        Command::Uidl(None),
        Command::Retr(one),
        Command::Top {
            message: one,
            lines: 2,
        },
        Command::Lang(None),
        Command::Dele(one),
        Command::Quit,
    ];
    let start = usize::from(selector) % all.len();
    all.into_iter()
        .cycle()
        .skip(start)
        .take(1 + usize::from(selector >> 4) % 6)
        .collect()
}

/// What one run gave: the events, with adjacent body chunks of one command
/// joined; for each event, how many lines the client had sent before it;
/// the ids of the commands queued, in order.
struct Run {
    events: Vec<ClientEvent>,
    sent: Vec<usize>,
    ids: Vec<CommandId>,
}

fn run(selector: u8, login: u8, input: &[u8], reads: &[u8]) -> Run {
    let mut client = ClientSession::new(Default::default());
    let mut ids = Vec::new();
    match login % 3 {
        0 => ids.push(client.login_user_pass(b"user", b"pass").unwrap()),
        1 => ids.push(client.login_plain(b"", b"user", b"pass").unwrap()),
        _ => {}
    }
    ids.extend(commands(selector).into_iter().map(|c| client.send(c)));
    let mut events: Vec<ClientEvent> = Vec::new();
    let mut sent = Vec::new();
    let mut lines = 0;
    let mut reads = mailwire_fuzz::Reads::new(input, reads);
    loop {
        let mut progressed = true;
        while progressed {
            progressed = false;
            // Events first: what answering them makes the client send is
            // not counted as sent before them.
            while let Some(event) = client.poll_event() {
                progressed = true;
                match (events.last_mut(), event) {
                    (
                        Some(ClientEvent::BodyChunk { id: a, data: joined }),
                        ClientEvent::BodyChunk { id: b, data },
                    ) if *a == b => {
                        let mut v = joined.to_vec();
                        v.extend_from_slice(&data);
                        *joined = v.into();
                    }
                    (_, event) => {
                        events.push(event);
                        sent.push(lines);
                    }
                }
            }
            while let Some(bytes) = client.poll_transmit() {
                progressed = true;
                lines += bytes.iter().filter(|&&b| b == b'\n').count();
            }
        }
        let Some(read) = reads.next() else {
            break;
        };
        client.receive(read);
    }
    Run { events, sent, ids }
}

/// Every event names a queued command (or USER, whose id is the one before
/// PASS's, the first queued) that was sent before it; commands are
/// answered (a response, or a message) in the order queued, each at most
/// once, and nothing names a command once a later one was answered; bodies
/// sit between their MessageStart and BodyEnd.
fn check(run: &Run, user_pass: bool) {
    // A command's place among the lines the client sends: USER first.
    let place = |id: &CommandId| -> usize {
        if user_pass && run.ids.first().is_some_and(|first| id < first) {
            return 0;
        }
        let i = run
            .ids
            .iter()
            .position(|q| q == id)
            .unwrap_or_else(|| panic!("{id:?} was never queued"));
        i + usize::from(user_pass)
    };
    // The place of the last command answered (a response, or the start of
    // a message): a later event names a later command, sent before it.
    let mut answered: Option<usize> = None;
    let after = |id: &CommandId, sent: usize, what: &str, answered: Option<usize>| -> usize {
        let at = place(id);
        assert!(
            at < sent,
            "{what} for {id:?} before it was sent ({sent} lines sent)"
        );
        assert!(
            answered.is_none_or(|last| at > last),
            "{what} for {id:?}, answered already or queued before the last answered"
        );
        at
    };
    let mut open = None;
    for (event, &sent) in run.events.iter().zip(&run.sent) {
        match event {
            ClientEvent::Response { id, .. } => {
                assert!(open.is_none(), "a response inside a body");
                answered = Some(after(id, sent, "a response", answered));
            }
            ClientEvent::MessageStart { id, .. } => {
                assert!(open.is_none(), "a message inside a body");
                answered = Some(after(id, sent, "a message", answered));
                open = Some(*id);
            }
            ClientEvent::BodyChunk { id, data } => {
                assert_eq!(open, Some(*id));
                assert!(!data.is_empty());
            }
            ClientEvent::BodyEnd { id } => {
                assert_eq!(open.take(), Some(*id));
            }
            // A challenge, or an undecodable line (which may answer its
            // command with nothing, or be a bad challenge of an exchange
            // that goes on).
            ClientEvent::Challenge { id, .. } => {
                assert!(open.is_none(), "a challenge inside a body");
                after(id, sent, "a challenge", answered);
            }
            ClientEvent::Error { id: Some(id), .. } => {
                after(id, sent, "an error", answered);
            }
            ClientEvent::Greeting(_) | ClientEvent::StartTls | ClientEvent::Error { id: None, .. } => {}
            // No response timeout is set, so no Timeout.
            other => panic!("unexpected event {other:?}"),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let [selector, login, n, rest @ ..] = data else {
        return;
    };
    let n = usize::from(*n % 9).min(rest.len());
    let (reads, input) = rest.split_at(n);
    let chunked = run(*selector, *login, input, reads);
    let whole = run(*selector, *login, input, &[]);
    assert_eq!(
        chunked.events, whole.events,
        "events depend on how the input was read"
    );
    let user_pass = *login % 3 == 0;
    check(&chunked, user_pass);
    check(&whole, user_pass);
});

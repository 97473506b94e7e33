//! The client session fed arbitrary server bytes in arbitrary reads, with
//! a few commands queued.
//!
//! Beyond "no panic": every event names a command that was sent, bodies
//! arrive only between MessageStart and BodyEnd of their command, and the
//! events (with body chunks joined) do not depend on how the input was
//! split into reads.
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

/// Events with adjacent body chunks of one command joined.
fn run(selector: u8, login: u8, input: &[u8], reads: &[u8]) -> (Vec<ClientEvent>, Vec<CommandId>) {
    let mut client = ClientSession::new(Default::default());
    let mut ids = Vec::new();
    match login % 3 {
        0 => ids.push(client.login_user_pass(b"user", b"pass").unwrap()),
        1 => ids.push(client.login_plain(b"", b"user", b"pass").unwrap()),
        _ => {}
    }
    ids.extend(commands(selector).into_iter().map(|c| client.send(c)));
    let mut events: Vec<ClientEvent> = Vec::new();
    let mut reads = mailwire_fuzz::Reads::new(input, reads);
    loop {
        let mut progressed = true;
        while progressed {
            progressed = false;
            while client.poll_transmit().is_some() {
                progressed = true;
            }
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
                    (_, event) => events.push(event),
                }
            }
        }
        let Some(read) = reads.next() else {
            break;
        };
        client.receive(read);
    }
    (events, ids)
}

fuzz_target!(|data: &[u8]| {
    let [selector, login, n, rest @ ..] = data else {
        return;
    };
    let n = usize::from(*n % 9).min(rest.len());
    let (reads, input) = rest.split_at(n);
    let (chunked, ids) = run(*selector, *login, input, reads);
    let (whole, _) = run(*selector, *login, input, &[]);
    assert_eq!(chunked, whole, "events depend on how the input was read");

    // Every event names a queued command, or USER, whose id is the one
    // before PASS's (the first queued); bodies sit between their
    // MessageStart and BodyEnd.
    let user_pass = *login % 3 == 0;
    let known =
        |id: &CommandId| ids.contains(id) || (user_pass && ids.first().is_some_and(|first| id < first));
    let mut open = None;
    for event in &chunked {
        match event {
            ClientEvent::Response { id, .. } | ClientEvent::Challenge { id, .. } => {
                assert!(known(id));
                assert!(open.is_none(), "a response inside a body");
            }
            ClientEvent::MessageStart { id, .. } => {
                assert!(known(id) && open.is_none());
                open = Some(*id);
            }
            ClientEvent::BodyChunk { id, data } => {
                assert_eq!(open, Some(*id));
                assert!(!data.is_empty());
            }
            ClientEvent::BodyEnd { id } => {
                assert_eq!(open.take(), Some(*id));
            }
            ClientEvent::Error { id: Some(id), .. } => assert!(known(id)),
            ClientEvent::Greeting(_) | ClientEvent::StartTls | ClientEvent::Error { id: None, .. } => {}
            // No response timeout is set, so no Timeout.
            other => panic!("unexpected event {other:?}"),
        }
    }
});

//! The IMAP client session fed arbitrary server bytes in arbitrary reads,
//! after queueing a fixed set of commands.
//!
//! Beyond "no panic": every completion names a command that was sent and
//! completes it once, the mailbox view never counts fewer messages than
//! its known UIDs, and the events do not depend on how the input was
//! split into reads.
#![no_main]

use std::collections::HashSet;

use libfuzzer_sys::fuzz_target;
use mailwire_imap::client::{ClientConfig, ClientEvent, ClientSession};
use mailwire_imap::{CommandBody, Fetch, FetchItem, FetchItems, Mailbox, Search, SearchKey};

fn commands(client: &mut ClientSession) -> HashSet<mailwire_imap::client::CommandId> {
    let mut ids = HashSet::new();
    ids.insert(client.login(b"alice", b"pass\"word").expect("valid credentials"));
    ids.insert(client.send(CommandBody::Select {
        mailbox: Mailbox::Inbox,
        parameters: Vec::new(),
    }));
    ids.insert(client.send(CommandBody::Fetch {
        fetch: Fetch {
            sequence_set: "1:*".parse().expect("a set"),
            items: FetchItems::List(vec![FetchItem::Uid, FetchItem::Flags]),
            modifiers: Vec::new(),
        },
        uid: false,
    }));
    ids.insert(client.send(CommandBody::Search {
        search: Search::new(vec![SearchKey::All]),
        uid: true,
    }));
    ids.insert(client.idle());
    ids.insert(client.send(CommandBody::Logout));
    ids
}

fn run(stream_above: u64, input: &[u8], reads: &[u8]) -> Vec<String> {
    let mut client = ClientSession::new(ClientConfig {
        stream_above,
        ..ClientConfig::default()
    });
    let ids = commands(&mut client);
    let mut completed = HashSet::new();
    let mut log = Vec::new();
    let mut reads = mailwire_fuzz::Reads::new(input, reads);
    loop {
        while let Some(event) = client.poll_event() {
            match &event {
                ClientEvent::Completed(done) => {
                    assert!(ids.contains(&done.id), "a completion for a command never sent");
                    assert!(completed.insert(done.id), "a command completed twice");
                }
                ClientEvent::Idling { .. } => client.done(),
                ClientEvent::StartTls => client.tls_established(),
                ClientEvent::Compress { .. } => client.compression_started(),
                ClientEvent::SaslChallenge { id, .. } => client.sasl_cancel(*id),
                _ => {}
            }
            log.push(format!("{event:?}"));
        }
        if let Some(view) = client.mailbox() {
            let known =
                (1..=view.exists()).filter(|&n| view.uid(std::num::NonZeroU32::new(n).unwrap()).is_some());
            assert!(known.count() as u32 <= view.exists());
        }
        // What the client writes may depend on the reads: fed a server's
        // IDLE completion before it could answer `+ idling`, it sends no
        // DONE. The events must not.
        while client.poll_transmit().is_some() {}
        let Some(read) = reads.next() else {
            break;
        };
        client.receive(read);
    }
    log
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let stream_above = u64::from(data[0] % 64);
    let rest = &data[1..];
    let n = usize::from(rest[0] % 9);
    let (reads, input) = rest[1..].split_at(n.min(rest.len() - 1));
    let chunked = run(stream_above, input, reads);
    let whole = run(stream_above, input, &[]);
    // Streamed literal data comes in pieces that follow the reads; the
    // rest must not depend on them.
    let merge = |log: &[String]| -> Vec<String> {
        log.iter()
            .filter(|l| !l.starts_with("FetchData"))
            .cloned()
            .collect()
    };
    assert_eq!(merge(&chunked), merge(&whole), "events depend on the reads");
});

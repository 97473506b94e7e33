//! The IMAP client session fed arbitrary server bytes in arbitrary reads,
//! after queueing a fixed set of commands.
//!
//! Beyond "no panic": every completion names a command that was sent and
//! completes it once; the mailbox view holds each known UID once, at a
//! number it counts, and counts what its reported changes add up to
//! (EXISTS sets the count, EXPUNGE takes one, VANISHED one per UID it
//! names); a streamed literal's pieces add up to the length announced
//! (unless a NUL in a `{n}` literal ends it with an error);
//! and the events, with those pieces joined, do not depend on how the
//! input was split into reads, the session's close when one command is
//! sent more than 1 KiB of untagged data included.
#![no_main]

use std::collections::HashSet;

use libfuzzer_sys::fuzz_target;
use mailwire_imap::client::{
    ClientConfig, ClientEvent, ClientSession, CommandId, MailboxChange, MailboxView,
};
use mailwire_imap::{CommandBody, Fetch, FetchItem, FetchItems, Mailbox, Search, SearchKey, Status, UidSet};

/// Queues the commands; their ids, and the SELECT's.
fn commands(client: &mut ClientSession) -> (HashSet<CommandId>, CommandId) {
    let mut ids = HashSet::new();
    ids.insert(client.login(b"alice", b"pass\"word").expect("valid credentials"));
    let select = client.send(CommandBody::Select {
        mailbox: Mailbox::Inbox,
        parameters: Vec::new(),
    });
    ids.insert(select);
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
    (ids, select)
}

/// How many different UIDs a set names (`5,5` and `1:4,3:9` repeat some).
fn distinct(uids: &UidSet) -> u64 {
    let mut ranges: Vec<(u32, u32)> = uids
        .as_sequence_set()
        .resolved_ranges(u32::MAX)
        .map(|r| (*r.start(), *r.end()))
        .collect();
    ranges.sort_unstable();
    let (mut total, mut covered) = (0u64, 0u64);
    for (lo, hi) in ranges {
        let from = u64::from(lo).max(covered + 1);
        if u64::from(hi) >= from {
            total += u64::from(hi) - from + 1;
            covered = u64::from(hi);
        }
    }
    total
}

/// Each known UID once, at a number the view counts, by number.
fn check_view(view: &MailboxView) {
    let mut last = 0;
    for (seq, uid) in view.known() {
        assert!(
            seq.get() > last && seq.get() <= view.exists(),
            "known UIDs out of place"
        );
        last = seq.get();
        assert_eq!(view.uid(seq), Some(uid));
        assert_eq!(view.seq(uid), Some(seq), "a UID known twice");
    }
}

/// The message count that the reported changes add up to, once an
/// EXISTS after the SELECT has given one.
#[derive(Default)]
struct Count {
    selected: bool,
    count: Option<u32>,
}

impl Count {
    fn event(&mut self, event: &ClientEvent, select: CommandId) {
        match event {
            ClientEvent::Completed(done) if done.id == select => {
                self.selected = done.status == Status::Ok;
                self.count = None;
            }
            ClientEvent::Changed(change) if self.selected => match change {
                MailboxChange::Exists { count } => self.count = Some(*count),
                MailboxChange::Expunged { seq, .. } => {
                    if let Some(c) = self.count.as_mut().filter(|c| seq.get() <= **c) {
                        *c -= 1;
                    }
                }
                MailboxChange::Vanished { uids } => {
                    if let Some(c) = self.count.as_mut() {
                        *c = u64::from(*c).saturating_sub(distinct(uids)) as u32;
                    }
                }
                _ => {}
            },
            _ => {}
        }
    }

    fn check(&mut self, view: Option<&MailboxView>) {
        match view {
            None => *self = Count::default(),
            Some(view) => {
                if let Some(c) = self.count {
                    assert_eq!(view.exists(), c, "the count is not what the changes add up to");
                }
            }
        }
    }
}

/// The events with the pieces of each streamed literal joined into one
/// `FetchData`, checked against the length its `FetchStart` announced: all
/// of it once another event follows (less only before the error of a NUL
/// in a `{n}` literal), no more where the input ends inside the literal.
fn joined(log: &[ClientEvent]) -> Vec<ClientEvent> {
    let mut out = Vec::with_capacity(log.len());
    // The literal being streamed: its announced length and its data so far.
    let mut literal: Option<(u64, Vec<u8>)> = None;
    for event in log {
        if let ClientEvent::FetchData(piece) = event {
            let (_, data) = literal.as_mut().expect("literal data after a FetchStart");
            data.extend_from_slice(piece);
            continue;
        }
        if let Some((length, data)) = literal.take() {
            // Only an error in the literal (a NUL in a `{n}` one) ends it
            // early; the rest of its response is skipped.
            let cut = matches!(event, ClientEvent::Error(e) if e.expected == "CHAR8 (NUL only in literal8)");
            if !cut {
                assert_eq!(data.len() as u64, length, "a streamed literal cut short");
            }
            assert!(data.len() as u64 <= length, "a streamed literal ran over");
            out.push(ClientEvent::FetchData(data.into()));
        }
        if let ClientEvent::FetchStart { length, .. } = event {
            literal = Some((*length, Vec::new()));
        }
        out.push(event.clone());
    }
    if let Some((length, data)) = literal {
        assert!(data.len() as u64 <= length, "a streamed literal ran over");
        out.push(ClientEvent::FetchData(data.into()));
    }
    out
}

fn run(stream_above: u64, input: &[u8], reads: &[u8]) -> Vec<ClientEvent> {
    let mut client = ClientSession::new(ClientConfig {
        stream_above,
        // Small, so that inputs of a few KiB pass it for one command and
        // the session fails with an error and closes.
        max_command_data: 1024,
        ..ClientConfig::default()
    });
    let (ids, select) = commands(&mut client);
    let mut count = Count::default();
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
            count.event(&event, select);
            log.push(event);
        }
        if let Some(view) = client.mailbox() {
            check_view(view);
        }
        count.check(client.mailbox());
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
    // Streamed literal data comes in pieces that follow the reads: joined,
    // it must not depend on them, nor must the rest. Compared as values:
    // formatting every event cost a quarter of the target's time.
    assert_eq!(joined(&chunked), joined(&whole), "events depend on the reads");
});

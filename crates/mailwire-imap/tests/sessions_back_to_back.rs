//! A server session and a client session wired back to back in memory,
//! with an application on the server side that keeps a model store, and
//! store changes injected at random points as another session would make
//! them. Every command completes, and once the client has been told
//! everything, its view of the mailbox equals the store.

use std::collections::BTreeMap;
use std::num::NonZeroU32;

use mailwire_imap::client::{ClientConfig, ClientEvent, ClientSession, Completion};
use mailwire_imap::server::{MailboxSnapshot, ServerConfig, ServerEvent, ServerSession};
use mailwire_imap::{
    CommandBody, Decoded, Fetch, FetchItem, FetchItems, Flag, FlagFetch, Mailbox, MessageDataItem, RespText,
    Search, SearchKey, SequenceSet, Status, Store, StoreAction, decode_command,
};
use proptest::prelude::*;

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap()
}

/// The store behind the server: UID → flags.
#[derive(Debug, Default)]
struct Model {
    messages: BTreeMap<u32, Vec<Flag<'static>>>,
    next_uid: u32,
}

impl Model {
    fn flags(&self, uid: u32) -> Vec<FlagFetch<'static>> {
        self.messages[&uid].iter().cloned().map(FlagFetch::Flag).collect()
    }
}

struct Pair {
    server: ServerSession,
    client: ClientSession,
    model: Model,
    completions: Vec<Completion>,
    server_commands: Vec<String>,
    /// The client's bytes not yet read as commands.
    written: Vec<u8>,
    /// The commands the client has written and not yet seen complete.
    running: Vec<(String, Kind)>,
    /// Commands queued with message numbers that may be stale when sent.
    may_be_stale: Vec<mailwire_imap::client::CommandId>,
}

/// What a running command allows beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// FETCH, STORE, SEARCH by number: no EXPUNGE while they run.
    ExpungeFree,
    MayExpunge,
    /// SELECT, IDLE, LOGOUT.
    Alone,
}

impl Pair {
    fn new(messages: u32) -> Self {
        let mut model = Model {
            next_uid: 1,
            ..Model::default()
        };
        for _ in 0..messages {
            model.messages.insert(model.next_uid, Vec::new());
            model.next_uid += 1;
        }
        let mut pair = Pair {
            server: ServerSession::new(ServerConfig {
                allow_plaintext_login: true,
                ..ServerConfig::default()
            }),
            client: ClientSession::new(ClientConfig::default()),
            model,
            completions: Vec::new(),
            server_commands: Vec::new(),
            written: Vec::new(),
            running: Vec::new(),
            may_be_stale: Vec::new(),
        };
        pair.client.login(b"alice", b"secret").unwrap();
        pair.client.send(CommandBody::Select {
            mailbox: Mailbox::Inbox,
            parameters: Vec::new(),
        });
        pair.run();
        pair
    }

    /// Moves bytes and answers requests until nothing moves.
    fn run(&mut self) {
        loop {
            let mut moved = false;
            while let Some(bytes) = self.server.poll_transmit() {
                self.client.receive(&bytes);
                moved = true;
                // What the client learnt from these bytes, before it writes.
                self.client_events();
            }
            while let Some(bytes) = self.client.poll_transmit() {
                self.check_pipelining(&bytes);
                self.server.receive(&bytes);
                moved = true;
            }
            while let Some(event) = self.server.poll_event() {
                self.serve(event);
                moved = true;
            }
            moved |= self.client_events();
            if !moved {
                // Every command the client wrote was read whole, and so
                // checked.
                assert!(
                    self.written.is_empty(),
                    "written and never read as a command: {:?}",
                    String::from_utf8_lossy(&self.written)
                );
                return;
            }
        }
    }

    fn client_events(&mut self) -> bool {
        let mut any = false;
        while let Some(event) = self.client.poll_event() {
            if let ClientEvent::Completed(done) = event {
                self.running.retain(|(tag, _)| *tag != done.tag.as_str());
                self.completions.push(*done);
            }
            any = true;
        }
        any
    }

    /// RFC 9051 section 5.5, checked on what the client writes: a command
    /// with message numbers starts only while nothing but FETCH, STORE and
    /// SEARCH by number runs; SELECT and IDLE start alone and run alone.
    fn check_pipelining(&mut self, bytes: &[u8]) {
        self.written.extend_from_slice(bytes);
        loop {
            if self.written.starts_with(b"DONE\r\n") {
                self.written.drain(..6);
                continue;
            }
            let config = mailwire_imap::DecoderConfig::default();
            let (value, consumed) = match decode_command(&self.written, &config) {
                Ok(Decoded::Complete { value, consumed }) => (value, consumed),
                // The rest of the command is still to come.
                Ok(_) => return,
                Err(e) => panic!(
                    "the client wrote what is not a command ({e}): {:?}",
                    String::from_utf8_lossy(&self.written)
                ),
            };
            let body = &value.body;
            let alone = matches!(
                body,
                CommandBody::Select { .. } | CommandBody::Idle | CommandBody::Logout
            );
            assert!(
                !self.running.iter().any(|(_, kind)| *kind == Kind::Alone),
                "{} started beside a command that runs alone: {:?}",
                body.name(),
                self.running
            );
            if alone {
                assert!(
                    self.running.is_empty(),
                    "{} started beside {:?}",
                    body.name(),
                    self.running
                );
            }
            let by_number = matches!(
                body,
                CommandBody::Fetch { uid: false, .. }
                    | CommandBody::Store { uid: false, .. }
                    | CommandBody::Search { uid: false, .. }
                    | CommandBody::Copy { uid: false, .. }
                    | CommandBody::Move { uid: false, .. }
            );
            if by_number {
                assert!(
                    self.running.iter().all(|(_, kind)| *kind == Kind::ExpungeFree),
                    "{} with message numbers while {:?} may expunge",
                    body.name(),
                    self.running
                );
            }
            let kind = if alone {
                Kind::Alone
            } else if matches!(
                body,
                CommandBody::Fetch { uid: false, .. }
                    | CommandBody::Store { uid: false, .. }
                    | CommandBody::Search { uid: false, .. }
            ) {
                Kind::ExpungeFree
            } else {
                Kind::MayExpunge
            };
            self.running.push((value.tag.as_str().to_owned(), kind));
            self.written.drain(..consumed);
        }
    }

    /// The server's application.
    fn serve(&mut self, event: ServerEvent) {
        match event {
            ServerEvent::Authenticate(request) => self.server.accept_login(request).unwrap(),
            ServerEvent::Literal(request) => self.server.accept_literal(request).unwrap(),
            ServerEvent::Command(request) => {
                let body = &request.command().body;
                self.server_commands.push(body.name().to_owned());
                match body {
                    CommandBody::Select { .. } => {
                        let uids = self.model.messages.keys().map(|&u| nz(u)).collect();
                        let snapshot = MailboxSnapshot::new(nz(1), nz(self.model.next_uid), uids);
                        self.server.open_mailbox(&request, snapshot).unwrap();
                    }
                    CommandBody::Fetch { .. } => {
                        for &uid in request.messages() {
                            if !self.model.messages.contains_key(&uid.get()) {
                                continue; // expunged, not yet announced
                            }
                            let items = vec![
                                MessageDataItem::Uid(uid),
                                MessageDataItem::Flags(self.model.flags(uid.get())),
                            ];
                            self.server.fetch_data(&request, uid, items).unwrap();
                        }
                    }
                    CommandBody::Store { store, .. } => {
                        for &uid in request.messages() {
                            let Some(flags) = self.model.messages.get_mut(&uid.get()) else {
                                continue;
                            };
                            for flag in &store.flags {
                                match store.action {
                                    StoreAction::Add if !flags.contains(flag) => flags.push(flag.clone()),
                                    StoreAction::Remove => flags.retain(|f| f != flag),
                                    StoreAction::Replace => *flags = store.flags.clone(),
                                    _ => {}
                                }
                            }
                            if !store.silent {
                                let items = vec![MessageDataItem::Flags(self.model.flags(uid.get()))];
                                self.server.fetch_data(&request, uid, items).unwrap();
                            }
                        }
                    }
                    CommandBody::Search { .. } => {
                        let uids: Vec<NonZeroU32> = self.model.messages.keys().map(|&u| nz(u)).collect();
                        self.server.search_matches(&request, &uids, None).unwrap();
                    }
                    CommandBody::Expunge => {
                        let deleted: Vec<u32> = self
                            .model
                            .messages
                            .iter()
                            .filter(|(_, f)| f.contains(&Flag::Deleted))
                            .map(|(&u, _)| u)
                            .collect();
                        for uid in deleted {
                            self.model.messages.remove(&uid);
                            self.server.message_expunged(nz(uid));
                        }
                    }
                    _ => {}
                }
                self.server
                    .complete(request, Status::Ok, RespText::text("done"))
                    .unwrap();
            }
            _ => {}
        }
    }

    /// Another session changes the store.
    fn inject(&mut self, change: &Change) {
        let uids: Vec<u32> = self.model.messages.keys().copied().collect();
        match *change {
            Change::Add => {
                let uid = self.model.next_uid;
                self.model.next_uid += 1;
                self.model.messages.insert(uid, Vec::new());
                self.server.message_added(nz(uid));
            }
            Change::Expunge(i) if !uids.is_empty() => {
                let uid = uids[i % uids.len()];
                self.model.messages.remove(&uid);
                self.server.message_expunged(nz(uid));
            }
            Change::Flag(i) if !uids.is_empty() => {
                let uid = uids[i % uids.len()];
                let flags = self.model.messages.get_mut(&uid).unwrap();
                if flags.contains(&Flag::Flagged) {
                    flags.retain(|f| *f != Flag::Flagged);
                } else {
                    flags.push(Flag::Flagged);
                }
                let flags = self.model.flags(uid);
                self.server.flags_changed(nz(uid), flags, None);
            }
            _ => {}
        }
    }

    /// The client's view agrees with the store: the count, and every UID
    /// it knows (all of them, `all_known`, after a listing of every UID).
    fn check_view(&self, all_known: bool) {
        let view = self.client.mailbox().expect("INBOX is selected");
        let uids: Vec<u32> = self.model.messages.keys().copied().collect();
        assert_eq!(view.exists() as usize, uids.len(), "message count");
        for (i, uid) in uids.iter().enumerate() {
            match view.uid(nz(i as u32 + 1)) {
                Some(known) => assert_eq!(known.get(), *uid, "UID of message {}", i + 1),
                None => assert!(!all_known, "UID of message {} unknown after a listing", i + 1),
            }
        }
    }
}

#[derive(Debug, Clone)]
enum Change {
    Add,
    Expunge(usize),
    Flag(usize),
}

#[derive(Debug, Clone)]
enum Op {
    Noop,
    Fetch {
        uid: bool,
    },
    StoreDeleted(u32),
    Expunge,
    Search,
    /// IDLE, with these changes while idling, then DONE.
    Idle(Vec<Change>),
    /// Changes while no command runs.
    Inject(Vec<Change>),
    /// Two FETCHes and a SEARCH sent without waiting.
    Pipelined,
    /// NOOP, a FETCH by number, a UID FETCH, a STORE and an EXPUNGE sent
    /// without waiting: the client must hold back what could be
    /// misnumbered.
    Mixed,
}

fn fetch(set: &str, uid: bool) -> CommandBody<'static> {
    CommandBody::Fetch {
        fetch: Fetch {
            sequence_set: set.parse::<SequenceSet>().unwrap(),
            items: FetchItems::List(vec![FetchItem::Uid, FetchItem::Flags]),
            modifiers: Vec::new(),
        },
        uid,
    }
}

fn search() -> CommandBody<'static> {
    CommandBody::Search {
        search: Search::new(vec![SearchKey::All]),
        uid: false,
    }
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        Just(Change::Add),
        any::<usize>().prop_map(Change::Expunge),
        any::<usize>().prop_map(Change::Flag),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        Just(Op::Noop),
        any::<bool>().prop_map(|uid| Op::Fetch { uid }),
        (1..6u32).prop_map(Op::StoreDeleted),
        Just(Op::Expunge),
        Just(Op::Search),
        prop::collection::vec(change(), 0..4).prop_map(Op::Idle),
        prop::collection::vec(change(), 0..4).prop_map(Op::Inject),
        Just(Op::Pipelined),
        Just(Op::Mixed),
    ]
}

fn apply(pair: &mut Pair, op: &Op) {
    let exists = pair.client.mailbox().map_or(0, |m| m.exists());
    match op {
        Op::Noop => {
            pair.client.send(CommandBody::Noop);
        }
        Op::Fetch { uid } => {
            if *uid || exists > 0 {
                pair.client.send(fetch("1:*", *uid));
            }
        }
        Op::StoreDeleted(n) if *n <= exists => {
            pair.client.send(CommandBody::Store {
                store: Store {
                    sequence_set: n.to_string().parse().unwrap(),
                    modifiers: Vec::new(),
                    action: StoreAction::Add,
                    silent: false,
                    flags: vec![Flag::Deleted],
                },
                uid: false,
            });
        }
        Op::StoreDeleted(_) => {}
        Op::Expunge => {
            pair.client.send(CommandBody::Expunge);
        }
        Op::Search => {
            pair.client.send(search());
        }
        Op::Idle(changes) => {
            pair.client.idle();
            pair.run();
            for c in changes {
                pair.inject(c);
                pair.run();
            }
            pair.client.done();
        }
        Op::Inject(changes) => {
            for c in changes {
                pair.inject(c);
            }
        }
        Op::Pipelined => {
            if exists > 0 {
                pair.client.send(fetch("1", false));
                pair.client.send(fetch("1:*", false));
            }
            pair.client.send(search());
        }
        Op::Mixed => {
            // Their numbers come from the view as it is now; the NOOP may
            // bring expunges that make them stale by the time they go, and
            // the server then rightly answers BAD.
            pair.client.send(CommandBody::Noop);
            if exists > 0 {
                let id = pair.client.send(fetch("1", false));
                pair.may_be_stale.push(id);
            }
            pair.client.send(fetch("1:*", true));
            if exists > 0 {
                let id = pair.client.send(CommandBody::Store {
                    store: Store {
                        sequence_set: "1".parse().unwrap(),
                        modifiers: Vec::new(),
                        action: StoreAction::Add,
                        silent: true,
                        flags: vec![Flag::Seen],
                    },
                    uid: false,
                });
                pair.may_be_stale.push(id);
            }
            pair.client.send(CommandBody::Expunge);
        }
    }
    pair.run();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn the_client_view_follows_the_store(start in 0..5u32, ops in prop::collection::vec(op(), 1..25)) {
        let mut pair = Pair::new(start);
        pair.check_view(false);
        for op in &ops {
            apply(&mut pair, op);
        }
        // A NOOP lets the server tell everything still pending.
        pair.client.send(CommandBody::Noop);
        pair.run();
        pair.check_view(false);
        // After a listing of every UID the view knows them all.
        pair.client.send(fetch("1:*", true));
        pair.run();
        pair.check_view(true);
        prop_assert_eq!(pair.client.pending(), 0, "every command completed");
        for done in &pair.completions {
            let stale = done.status == Status::Bad
                && pair.may_be_stale.contains(&done.id)
                && done.text.text == "Invalid message sequence number";
            prop_assert!(done.status == Status::Ok || stale, "{:?}", done);
        }
    }
}

#[test]
fn a_fetch_during_expunges_keeps_the_numbers_in_step() {
    let mut pair = Pair::new(4);
    pair.client.send(fetch("1:*", false));
    // Another session expunges message 2 while the FETCH runs (the
    // server session holds the EXPUNGE back until a command allows it).
    pair.inject(&Change::Expunge(1));
    pair.run();
    assert_eq!(pair.client.mailbox().unwrap().exists(), 4);
    pair.client.send(CommandBody::Noop);
    pair.run();
    pair.check_view(true);
    assert_eq!(pair.client.mailbox().unwrap().exists(), 3);
}

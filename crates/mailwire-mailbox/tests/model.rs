//! Model-based test: random operations from several concurrent sessions
//! (IMAP selections and POP3 maildrops mixed, plus account-level changes)
//! run against a store, and checked after every step against a simple
//! reference model:
//!
//! - UIDs strictly increase and are never reused within a UIDVALIDITY; a
//!   recreated mailbox gets a new UIDVALIDITY;
//! - MODSEQ strictly increases with every change, and a message keeps its
//!   MODSEQ when nothing about it changes;
//! - every mailbox holds exactly what the model says (UIDs, flags,
//!   content): nothing committed is lost, nothing expunged comes back, and
//!   every expunge leaves a tombstone;
//! - every IMAP session's notifications, replayed by a simulated client,
//!   lead to the session's view, and the view equals the mailbox once the
//!   session takes its changes with expunges allowed;
//! - a session can read every message it shows, expunged or not; a POP3
//!   session reads its frozen list until it ends;
//! - `\Recent` is given to at most one read-write session per message.
//!
//! The harness, [`check`], is generic over the backend: another backend
//! is tested by calling it with its own factory.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;

use bytes::Bytes;
use mailwire_mailbox::{
    Account, AccountName, AppendMessage, Backend, FlagAction, Flags, InternalDate, Keyword, LockPolicy,
    MailboxName, MemoryBackend, ModSeq, Notification, Pop3Config, Pop3Maildrop, SelectMode, SelectedMailbox,
    Store, StoreConfig, StoreError, StoreFlags, SystemFlags, Uid, UidValidity,
};
use mailwire_pop3::{Maildrop, MaildropError, MessageNumber};
use proptest::prelude::*;

/// STORE's three actions (RFC 9051 section 6.4.6) on plain data, written
/// here rather than taken from `Flags::apply`, which the stores use:
/// system flags as bits, keywords compared without regard to case, the
/// spelling already there kept.
fn naive_apply(old: &Flags, action: FlagAction, operand: &Flags) -> Flags {
    let names = |f: &Flags| -> Vec<String> { f.keywords.iter().map(|k| k.as_str().to_owned()).collect() };
    let has = |list: &[String], k: &str| list.iter().any(|n| n.eq_ignore_ascii_case(k));
    let (old_bits, bits) = (old.system.bits(), operand.system.bits());
    let (system, keywords) = match action {
        FlagAction::Replace => (bits, names(operand)),
        FlagAction::Add => {
            let mut keywords = names(old);
            for k in names(operand) {
                if !has(&keywords, &k) {
                    keywords.push(k);
                }
            }
            (old_bits | bits, keywords)
        }
        FlagAction::Remove => {
            let gone = names(operand);
            let kept = names(old).into_iter().filter(|k| !has(&gone, k)).collect();
            (old_bits & !bits, kept)
        }
    };
    let mut flags = Flags::system(SystemFlags::from_bits(system));
    for k in keywords {
        flags.keywords.insert(Keyword::new(&k).expect("a keyword it had"));
    }
    flags
}

const SESSIONS: usize = 3;
const POP3_SESSIONS: usize = 2;

/// The mailboxes operations pick from: INBOX and two that can be renamed
/// (to their second name and back) and recreated.
const NAMES: [(&str, &str); 3] = [("INBOX", "INBOX"), ("A", "A2"), ("B/C", "D")];

#[derive(Debug, Clone, Copy)]
enum Via {
    Account,
    Session(u8),
}

#[derive(Debug, Clone)]
enum Op {
    Append {
        mailbox: u8,
        count: u8,
        flags: u8,
    },
    Store {
        via: Via,
        mailbox: u8,
        pick: Vec<u8>,
        action: u8,
        flags: u8,
    },
    Expunge {
        via: Via,
        mailbox: u8,
        pick: Option<Vec<u8>>,
    },
    Transfer {
        via: Via,
        from: u8,
        pick: Vec<u8>,
        to: u8,
        moving: bool,
    },
    Select {
        slot: u8,
        mailbox: u8,
        read_only: bool,
    },
    Unselect {
        slot: u8,
        close: bool,
    },
    Changes {
        slot: u8,
        allow_expunge: bool,
    },
    MarkSeen {
        slot: u8,
        pick: u8,
    },
    Read {
        slot: u8,
        pick: u8,
    },
    Recreate {
        mailbox: u8,
    },
    Rename {
        mailbox: u8,
    },
    RenameInbox,
    PopLock {
        slot: u8,
    },
    PopRead {
        slot: u8,
        n: u8,
    },
    PopCommit {
        slot: u8,
        mask: u8,
    },
    PopRelease {
        slot: u8,
    },
}

fn flags_of(bits: u8) -> Flags {
    let mut f = Flags::new();
    for (bit, flag) in [
        (1, SystemFlags::SEEN),
        (2, SystemFlags::FLAGGED),
        (4, SystemFlags::DELETED),
    ] {
        if bits & bit != 0 {
            f.system = f.system | flag;
        }
    }
    // Bit 32 spells the keywords in other cases: they are the same
    // keywords (RFC 9051 section 2.3.2).
    let other_case = bits & 32 != 0;
    let mut names = Vec::new();
    if bits & 8 != 0 {
        names.push(if other_case { "$k1" } else { "$K1" });
    }
    if bits & 16 != 0 {
        names.push(if other_case { "K2" } else { "k2" });
    }
    let k = Flags::parse(names).unwrap();
    f.keywords = k.keywords;
    f
}

fn action_of(n: u8) -> FlagAction {
    match n % 3 {
        0 => FlagAction::Add,
        1 => FlagAction::Remove,
        _ => FlagAction::Replace,
    }
}

#[derive(Debug, Clone)]
struct RefMessage {
    flags: Flags,
    content: Bytes,
    /// The MODSEQ last observed in the store.
    modseq: Option<ModSeq>,
    /// Changed by the current operation.
    touched: bool,
}

#[derive(Debug, Clone)]
struct RefMailbox {
    name: MailboxName,
    /// Which incarnation (changes when recreated).
    incarnation: u64,
    uid_validity: UidValidity,
    /// The highest UID ever given out here.
    max_uid: u32,
    messages: BTreeMap<Uid, RefMessage>,
    expunged: BTreeSet<Uid>,
    /// The content of expunged messages (sessions may still read it).
    removed: BTreeMap<Uid, Bytes>,
    highest_modseq: ModSeq,
    /// The mailbox changed in the current operation.
    touched: bool,
}

struct ImapSlot {
    view: SelectedMailbox,
    mailbox: usize,
    incarnation: u64,
    /// The UIDs as the simulated client knows them.
    client: Vec<Uid>,
    id: u64,
    gone: bool,
}

struct PopSlot {
    maildrop: Pop3Maildrop,
    /// The frozen list while locked: (UID, content).
    frozen: Option<Vec<(Uid, Bytes)>>,
    id: u64,
}

struct Harness {
    account: Account,
    mailboxes: Vec<RefMailbox>,
    sessions: Vec<Option<ImapSlot>>,
    pops: Vec<PopSlot>,
    policy: LockPolicy,
    pop_lock: Option<u64>,
    next_id: u64,
    next_incarnation: u64,
    next_body: u64,
    used_validity: BTreeSet<UidValidity>,
    max_modseq: ModSeq,
    /// (incarnation, UID) -> the read-write session that got \Recent.
    recent_owner: HashMap<(u64, Uid), u64>,
    inbox_renames: u32,
    /// A MODSEQ outside the pool, counted once the operation is verified.
    later_modseq: Option<ModSeq>,
}

fn name(s: &str) -> MailboxName {
    MailboxName::new(s).unwrap()
}

impl Harness {
    fn new<B: Backend + 'static>(backend: B, config: StoreConfig, policy: LockPolicy) -> Harness {
        let store = Store::with_config(backend, config);
        let account = store.create_account(&AccountName::new("model").unwrap()).unwrap();
        account.create_mailbox(&name("A"), &[]).unwrap();
        account.create_mailbox(&name("B/C"), &[]).unwrap();
        let mut h = Harness {
            account,
            mailboxes: Vec::new(),
            sessions: (0..SESSIONS).map(|_| None).collect(),
            pops: Vec::new(),
            policy,
            pop_lock: None,
            next_id: 1,
            next_incarnation: 1,
            next_body: 1,
            used_validity: BTreeSet::new(),
            max_modseq: ModSeq::MIN,
            recent_owner: HashMap::new(),
            inbox_renames: 0,
            later_modseq: None,
        };
        for entry in h.account.list().unwrap() {
            assert!(h.used_validity.insert(entry.uid_validity), "UIDVALIDITY reused");
            let s = h.account.snapshot(&entry.name).unwrap();
            h.max_modseq = h.max_modseq.max(s.highest_modseq);
        }
        for (primary, _) in NAMES {
            let rm = h.fresh_mailbox(name(primary));
            h.mailboxes.push(rm);
        }
        for _ in 0..POP3_SESSIONS {
            let maildrop = h.account.maildrop(Pop3Config {
                lock: policy,
                ..Pop3Config::default()
            });
            let id = h.id();
            h.pops.push(PopSlot {
                maildrop,
                frozen: None,
                id,
            });
        }
        h
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn fresh_mailbox(&mut self, name: MailboxName) -> RefMailbox {
        let s = self.account.snapshot(&name).unwrap();
        self.next_incarnation += 1;
        RefMailbox {
            name,
            incarnation: self.next_incarnation,
            uid_validity: s.uid_validity,
            max_uid: 0,
            messages: BTreeMap::new(),
            expunged: BTreeSet::new(),
            removed: BTreeMap::new(),
            highest_modseq: s.highest_modseq,
            touched: false,
        }
    }

    fn body(&mut self) -> Bytes {
        self.next_body += 1;
        Bytes::from(format!(
            "Subject: m{}\r\n\r\nbody {}\r\n",
            self.next_body, self.next_body
        ))
    }

    /// Picks UIDs of a mailbox: existing ones by index, plus one that does
    /// not exist when an index is past the end.
    fn pick(&self, mailbox: usize, pick: &[u8]) -> Vec<Uid> {
        let m = &self.mailboxes[mailbox];
        let uids: Vec<Uid> = m.messages.keys().copied().collect();
        pick.iter()
            .map(|&i| {
                uids.get(usize::from(i) % (uids.len() + 1))
                    .copied()
                    .unwrap_or_else(|| Uid::new(m.max_uid + 1 + u32::from(i)).unwrap())
            })
            .collect()
    }

    fn live_session(&self, slot: u8) -> Option<usize> {
        let i = usize::from(slot) % SESSIONS;
        self.sessions[i].as_ref().map(|_| i)
    }

    /// Whether a session's mailbox is still the one it selected.
    fn stale(&self, i: usize) -> bool {
        let s = self.sessions[i].as_ref().unwrap();
        s.gone || self.mailboxes[s.mailbox].incarnation != s.incarnation
    }

    fn run(&mut self, op: &Op) {
        for m in &mut self.mailboxes {
            m.touched = false;
            for msg in m.messages.values_mut() {
                msg.touched = false;
            }
        }
        match op.clone() {
            Op::Append {
                mailbox,
                count,
                flags,
            } => self.append(usize::from(mailbox) % 3, count % 3 + 1, flags),
            Op::Store {
                via,
                mailbox,
                pick,
                action,
                flags,
            } => self.store(
                via,
                usize::from(mailbox) % 3,
                &pick,
                action_of(action),
                flags_of(flags),
            ),
            Op::Expunge { via, mailbox, pick } => self.expunge(via, usize::from(mailbox) % 3, pick),
            Op::Transfer {
                via,
                from,
                pick,
                to,
                moving,
            } => self.transfer(via, usize::from(from) % 3, &pick, usize::from(to) % 3, moving),
            Op::Select {
                slot,
                mailbox,
                read_only,
            } => self.select(usize::from(slot) % SESSIONS, usize::from(mailbox) % 3, read_only),
            Op::Unselect { slot, close } => self.unselect(slot, close),
            Op::Changes { slot, allow_expunge } => self.changes(slot, allow_expunge),
            Op::MarkSeen { slot, pick } => self.mark_seen(slot, pick),
            Op::Read { slot, pick } => self.read(slot, pick),
            Op::Recreate { mailbox } => self.recreate(usize::from(mailbox) % 2 + 1),
            Op::Rename { mailbox } => self.rename(usize::from(mailbox) % 2 + 1),
            Op::RenameInbox => self.rename_inbox(),
            Op::PopLock { slot } => self.pop_lock(usize::from(slot) % POP3_SESSIONS),
            Op::PopRead { slot, n } => self.pop_read(usize::from(slot) % POP3_SESSIONS, n),
            Op::PopCommit { slot, mask } => self.pop_commit(usize::from(slot) % POP3_SESSIONS, mask),
            Op::PopRelease { slot } => {
                let p = &mut self.pops[usize::from(slot) % POP3_SESSIONS];
                p.maildrop.release();
                if p.frozen.take().is_some() && self.pop_lock == Some(p.id) {
                    self.pop_lock = None;
                }
            }
        }
        self.verify();
    }

    fn append(&mut self, mailbox: usize, count: u8, flags: u8) {
        let flags = flags_of(flags);
        let bodies: Vec<Bytes> = (0..count).map(|_| self.body()).collect();
        let messages = bodies
            .iter()
            .map(|b| AppendMessage {
                content: b.clone(),
                flags: flags.clone(),
                internal_date: Some(InternalDate::from_unix(0)),
            })
            .collect();
        let m = &mut self.mailboxes[mailbox];
        let out = self.account.append_all(&m.name, messages).unwrap();
        assert_eq!(out.uid_validity, m.uid_validity);
        assert_eq!(out.uids.len(), bodies.len());
        for (uid, content) in out.uids.into_iter().zip(bodies) {
            m.add(uid, flags.clone(), content);
        }
    }

    fn store(&mut self, via: Via, mailbox: usize, pick: &[u8], action: FlagAction, flags: Flags) {
        let (mailbox, uids) = match via {
            Via::Account => (mailbox, self.pick(mailbox, pick)),
            Via::Session(slot) => {
                let Some(i) = self.live_session(slot) else { return };
                let s = self.sessions[i].as_ref().unwrap();
                let view: Vec<Uid> = s.view.messages().iter().map(|m| m.uid).collect();
                let uids = pick
                    .iter()
                    .filter_map(|&p| view.get(usize::from(p) % (view.len() + 1)).copied())
                    .collect();
                (s.mailbox, uids)
            }
        };
        let request = StoreFlags {
            uids: uids.clone(),
            action,
            flags: flags.clone(),
            condition: None,
        };
        let result = match via {
            Via::Account => self.account.store_flags(&self.mailboxes[mailbox].name, &request),
            Via::Session(slot) => {
                let i = self.live_session(slot).unwrap();
                let stale = self.stale(i);
                let s = self.sessions[i].as_mut().unwrap();
                let r = s.view.store_flags(&request);
                if s.view.is_read_only() {
                    assert!(matches!(r, Err(StoreError::ReadOnly)), "{r:?}");
                    return;
                }
                if stale {
                    assert!(r.is_err(), "store on a gone mailbox: {r:?}");
                    return;
                }
                r
            }
        };
        let stored = result.unwrap();
        let m = &mut self.mailboxes[mailbox];
        let mut expected = Vec::new();
        let mut sorted = uids;
        sorted.sort();
        sorted.dedup();
        for uid in sorted {
            if let Some(msg) = m.messages.get_mut(&uid) {
                let new = naive_apply(&msg.flags, action, &flags);
                if new != msg.flags {
                    msg.flags = new;
                    msg.touched = true;
                    m.touched = true;
                    expected.push(uid);
                }
            }
        }
        let got: Vec<Uid> = stored.updated.iter().map(|u| u.uid).collect();
        assert_eq!(got, expected, "flag changes");
        for u in &stored.updated {
            assert_eq!(u.flags, m.messages[&u.uid].flags);
        }
    }

    fn expunge(&mut self, via: Via, mailbox: usize, pick: Option<Vec<u8>>) {
        let mailbox = match via {
            Via::Account => mailbox,
            Via::Session(slot) => {
                let Some(i) = self.live_session(slot) else { return };
                let stale = self.stale(i);
                let s = self.sessions[i].as_mut().unwrap();
                if s.view.is_read_only() || stale {
                    assert!(s.view.expunge(None).is_err());
                    return;
                }
                s.mailbox
            }
        };
        let uids = pick.map(|p| self.pick(mailbox, &p));
        let result = match via {
            Via::Account => self
                .account
                .expunge(&self.mailboxes[mailbox].name, uids.as_deref()),
            Via::Session(slot) => {
                let i = self.live_session(slot).unwrap();
                self.sessions[i].as_mut().unwrap().view.expunge(uids.as_deref())
            }
        };
        let out = result.unwrap();
        let m = &mut self.mailboxes[mailbox];
        let expected: Vec<Uid> = m
            .messages
            .iter()
            .filter(|(u, msg)| msg.flags.is_deleted() && uids.as_ref().is_none_or(|l| l.contains(u)))
            .map(|(u, _)| *u)
            .collect();
        assert_eq!(out.uids, expected, "expunged");
        m.remove(&expected);
    }

    fn transfer(&mut self, via: Via, from: usize, pick: &[u8], to: usize, moving: bool) {
        let from = match via {
            Via::Account => from,
            Via::Session(slot) => match self.live_session(slot) {
                Some(i) if !self.stale(i) => self.sessions[i].as_ref().unwrap().mailbox,
                _ => return,
            },
        };
        let uids = self.pick(from, pick);
        let to_name = self.mailboxes[to].name.clone();
        let result = match via {
            Via::Account if moving => self
                .account
                .move_messages(&self.mailboxes[from].name, &uids, &to_name),
            Via::Account => self.account.copy(&self.mailboxes[from].name, &uids, &to_name),
            Via::Session(slot) => {
                let i = self.live_session(slot).unwrap();
                let s = self.sessions[i].as_mut().unwrap();
                if moving && s.view.is_read_only() {
                    assert!(matches!(
                        s.view.move_to(&uids, &to_name),
                        Err(StoreError::ReadOnly)
                    ));
                    return;
                }
                if moving {
                    s.view.move_to(&uids, &to_name)
                } else {
                    s.view.copy_to(&uids, &to_name)
                }
            }
        };
        let copied = result.unwrap();
        let mut sources: Vec<Uid> = uids
            .into_iter()
            .filter(|u| self.mailboxes[from].messages.contains_key(u))
            .collect();
        sources.sort();
        sources.dedup();
        assert_eq!(copied.uid_validity, self.mailboxes[to].uid_validity);
        let got: Vec<Uid> = copied.mapping.iter().map(|(s, _)| *s).collect();
        assert_eq!(got, sources, "copied sources");
        let picked: Vec<RefMessage> = sources
            .iter()
            .map(|u| self.mailboxes[from].messages[u].clone())
            .collect();
        if moving {
            self.mailboxes[from].remove(&sources);
        }
        for ((_, new), msg) in copied.mapping.iter().zip(picked) {
            self.mailboxes[to].add(*new, msg.flags, msg.content);
        }
    }

    fn select(&mut self, slot: usize, mailbox: usize, read_only: bool) {
        self.sessions[slot] = None;
        let mode = if read_only {
            SelectMode::ReadOnly
        } else {
            SelectMode::ReadWrite
        };
        let view = self.account.select(&self.mailboxes[mailbox].name, mode).unwrap();
        let id = self.id();
        let client = view.messages().iter().map(|m| m.uid).collect();
        self.sessions[slot] = Some(ImapSlot {
            view,
            mailbox,
            incarnation: self.mailboxes[mailbox].incarnation,
            client,
            id,
            gone: false,
        });
        self.check_view(slot, true);
    }

    fn unselect(&mut self, slot: u8, close: bool) {
        let Some(i) = self.live_session(slot) else { return };
        let stale = self.stale(i);
        let s = self.sessions[i].take().unwrap();
        if close && !stale && !s.view.is_read_only() {
            s.view.close().unwrap();
            let m = &mut self.mailboxes[s.mailbox];
            let deleted: Vec<Uid> = m
                .messages
                .iter()
                .filter(|(_, x)| x.flags.is_deleted())
                .map(|(u, _)| *u)
                .collect();
            m.remove(&deleted);
        }
    }

    fn changes(&mut self, slot: u8, allow_expunge: bool) {
        let Some(i) = self.live_session(slot) else { return };
        let stale = self.stale(i);
        let s = self.sessions[i].as_mut().unwrap();
        let notes = s.view.changes(allow_expunge).unwrap();
        if s.gone {
            assert!(notes.is_empty());
            return;
        }
        if stale {
            assert_eq!(notes, [Notification::Gone]);
            s.gone = true;
            return;
        }
        // Replay the notifications as a client would.
        let mut saw_exists = false;
        for note in &notes {
            match note {
                Notification::Expunge { seq, uid } => {
                    assert!(allow_expunge, "expunge reported when not allowed");
                    assert!(!saw_exists, "expunges come first");
                    let at = usize::try_from(*seq).unwrap() - 1;
                    assert_eq!(s.client.get(at), Some(uid), "expunge of the right message");
                    s.client.remove(at);
                }
                Notification::Exists(n) => {
                    saw_exists = true;
                    let n = usize::try_from(*n).unwrap();
                    assert!(n >= s.client.len(), "EXISTS never shrinks the mailbox");
                    let known = s.client.len();
                    s.client.extend(s.view.messages()[known..n].iter().map(|m| m.uid));
                }
                Notification::Recent(n) => assert_eq!(*n, s.view.recent()),
                Notification::Flags { seq, uid, flags, .. } => {
                    let at = usize::try_from(*seq).unwrap() - 1;
                    assert_eq!(s.client.get(at), Some(uid), "flags of the right message");
                    assert_eq!(Some(flags), s.view.get(*seq).map(|m| &m.flags));
                }
                Notification::Gone => panic!("mailbox reported gone while it exists"),
            }
        }
        self.check_view(i, allow_expunge);
    }

    /// The view against the model: equal after expunges were reported; a
    /// superset (the pending expunges) otherwise.
    fn check_view(&mut self, i: usize, converged: bool) {
        let s = self.sessions[i].as_ref().unwrap();
        let m = &self.mailboxes[s.mailbox];
        let view: Vec<Uid> = s.view.messages().iter().map(|x| x.uid).collect();
        assert_eq!(s.client, view, "client replay matches the view");
        assert_eq!(s.view.uid_validity(), m.uid_validity);
        for msg in s.view.messages() {
            match m.messages.get(&msg.uid) {
                Some(r) => assert_eq!(msg.flags, r.flags, "flags of {} in the view", msg.uid),
                None => {
                    assert!(!converged, "expunged message still shown after EXPUNGE reports");
                    assert!(s.view.is_expunged(msg.uid));
                    assert!(m.expunged.contains(&msg.uid), "shown message never existed");
                }
            }
        }
        let model: Vec<Uid> = m.messages.keys().copied().collect();
        if converged {
            assert_eq!(view, model, "view converged");
        } else {
            let shown: BTreeSet<Uid> = view.iter().copied().collect();
            assert!(model.iter().all(|u| shown.contains(u)), "view lacks a message");
        }
        if s.view.mode() == SelectMode::ReadWrite {
            for msg in s.view.messages().iter().filter(|x| x.recent) {
                let owner = self.recent_owner.entry((s.incarnation, msg.uid)).or_insert(s.id);
                assert_eq!(*owner, s.id, "\\Recent given to two sessions");
            }
        }
    }

    fn mark_seen(&mut self, slot: u8, pick: u8) {
        let Some(i) = self.live_session(slot) else { return };
        let stale = self.stale(i);
        let s = self.sessions[i].as_mut().unwrap();
        let Some(msg) = s
            .view
            .messages()
            .get(usize::from(pick) % (s.view.messages().len() + 1))
        else {
            return;
        };
        let (uid, seen_in_view) = (msg.uid, msg.flags.is_seen());
        let ghost = s.view.is_expunged(uid);
        let read_only = s.view.is_read_only();
        let result = s.view.mark_seen(&[uid]);
        let mailbox = s.mailbox;
        if read_only || seen_in_view || ghost {
            assert_eq!(result.unwrap(), []);
            return;
        }
        if stale {
            assert!(result.is_err());
            return;
        }
        let updated = result.unwrap();
        let m = &mut self.mailboxes[mailbox];
        match m.messages.get_mut(&uid) {
            Some(r) if !r.flags.is_seen() => {
                r.flags.system = r.flags.system | SystemFlags::SEEN;
                r.touched = true;
                m.touched = true;
                assert_eq!(updated.len(), 1);
            }
            _ => assert!(updated.is_empty()),
        }
    }

    fn read(&mut self, slot: u8, pick: u8) {
        let Some(i) = self.live_session(slot) else { return };
        let stale = self.stale(i);
        let s = self.sessions[i].as_ref().unwrap();
        let Some(msg) = s
            .view
            .messages()
            .get(usize::from(pick) % (s.view.messages().len() + 1))
        else {
            return;
        };
        if stale {
            return;
        }
        let content = s.view.read(msg.uid).unwrap();
        let m = &self.mailboxes[s.mailbox];
        let expected = m
            .content_of(msg.uid)
            .expect("the view shows a message the model knows");
        assert_eq!(content, expected, "content of {}", msg.uid);
        let mut streamed = Vec::new();
        s.view.open(msg.uid).unwrap().read_to_end(&mut streamed).unwrap();
        assert_eq!(streamed, expected);
    }

    fn recreate(&mut self, mailbox: usize) {
        let current = self.mailboxes[mailbox].name.clone();
        self.account.delete_mailbox(&current).unwrap();
        let primary = name(NAMES[mailbox].0);
        let entry = self.account.create_mailbox(&primary, &[]).unwrap();
        let newest = self.used_validity.iter().next_back().copied();
        assert!(
            newest.is_none_or(|v| entry.uid_validity > v),
            "UIDVALIDITY did not rise"
        );
        self.used_validity.insert(entry.uid_validity);
        let fresh = self.fresh_mailbox(primary);
        // A superior created on the way (B for B/C) is not in the pool.
        self.max_modseq = self.max_modseq.max(fresh.highest_modseq);
        self.mailboxes[mailbox] = fresh;
    }

    fn rename(&mut self, mailbox: usize) {
        let (primary, alt) = NAMES[mailbox];
        let current = self.mailboxes[mailbox].name.clone();
        let target = if current.as_str() == primary {
            name(alt)
        } else {
            name(primary)
        };
        self.account.rename_mailbox(&current, &target).unwrap();
        let entry = self.account.mailbox(&target).unwrap();
        assert_eq!(
            entry.uid_validity, self.mailboxes[mailbox].uid_validity,
            "rename keeps UIDVALIDITY"
        );
        self.mailboxes[mailbox].name = target;
    }

    fn rename_inbox(&mut self) {
        self.inbox_renames += 1;
        let target = name(&format!("Old{}", self.inbox_renames));
        self.account
            .rename_mailbox(&MailboxName::inbox(), &target)
            .unwrap();
        let entry = self.account.mailbox(&target).unwrap();
        assert!(
            self.used_validity.insert(entry.uid_validity),
            "UIDVALIDITY reused"
        );
        let moved = self.account.snapshot(&target).unwrap();
        let inbox = &mut self.mailboxes[0];
        let before: Vec<RefMessage> = inbox.messages.values().cloned().collect();
        assert_eq!(moved.messages.len(), before.len());
        for (meta, old) in moved.messages.iter().zip(&before) {
            assert_eq!(meta.flags, old.flags);
            let content = self.account.read_message(&target, meta.uid).unwrap();
            assert_eq!(content, old.content);
            assert!(meta.modseq > self.max_modseq);
        }
        self.later_modseq = Some(moved.highest_modseq);
        let all: Vec<Uid> = inbox.messages.keys().copied().collect();
        inbox.remove(&all);
    }

    fn pop_lock(&mut self, slot: usize) {
        let in_use = self.policy == LockPolicy::Exclusive && self.pop_lock.is_some();
        let p = &mut self.pops[slot];
        let was_locked = p.frozen.is_some();
        let result = p.maildrop.lock();
        if was_locked {
            assert!(result.is_err(), "a second lock by the same view");
            return;
        }
        if in_use {
            assert_eq!(result, Err(MaildropError::InUse));
            return;
        }
        let infos = result.unwrap();
        let inbox = &self.mailboxes[0];
        let frozen: Vec<(Uid, Bytes)> = inbox
            .messages
            .iter()
            .map(|(u, m)| (*u, m.content.clone()))
            .collect();
        assert_eq!(infos.len(), frozen.len());
        for (info, (uid, content)) in infos.iter().zip(&frozen) {
            assert_eq!(info.size, content.len() as u64);
            let id = format!("{:08x}{:08x}", uid.get(), inbox.uid_validity.get());
            assert_eq!(info.unique_id.as_str(), id);
        }
        p.frozen = Some(frozen);
        if self.policy == LockPolicy::Exclusive {
            self.pop_lock = Some(p.id);
        }
    }

    fn pop_read(&mut self, slot: usize, n: u8) {
        let p = &mut self.pops[slot];
        let Some(frozen) = &p.frozen else {
            assert!(p.maildrop.open(MessageNumber::FIRST).is_err());
            return;
        };
        let Some((_, expected)) = frozen.get(usize::from(n) % (frozen.len() + 1)) else {
            let past = MessageNumber::new(u32::try_from(frozen.len()).unwrap() + 1).unwrap();
            assert!(p.maildrop.open(past).is_err());
            return;
        };
        let expected = expected.clone();
        let number =
            MessageNumber::new(u32::from(n) % (u32::try_from(frozen.len()).unwrap() + 1) + 1).unwrap();
        let mut content = Vec::new();
        p.maildrop
            .open(number)
            .unwrap()
            .read_to_end(&mut content)
            .unwrap();
        assert_eq!(content, expected, "POP3 reads its frozen message");
    }

    fn pop_commit(&mut self, slot: usize, mask: u8) {
        let p = &mut self.pops[slot];
        let Some(frozen) = p.frozen.take() else {
            assert!(p.maildrop.commit(&[], &[]).is_err());
            return;
        };
        let numbers: Vec<MessageNumber> = (0..frozen.len().min(8))
            .filter(|i| mask & (1 << i) != 0)
            .map(|i| MessageNumber::new(u32::try_from(i).unwrap() + 1).unwrap())
            .collect();
        p.maildrop.commit(&numbers, &[]).unwrap();
        if self.pop_lock == Some(p.id) {
            self.pop_lock = None;
        }
        let gone: Vec<Uid> = numbers
            .iter()
            .map(|n| frozen[n.index()].0)
            .filter(|u| self.mailboxes[0].messages.contains_key(u))
            .collect();
        self.mailboxes[0].remove(&gone);
    }

    /// The store against the model, after every operation.
    fn verify(&mut self) {
        let before = self.max_modseq;
        let mut highest = before;
        for m in &mut self.mailboxes {
            let s = self.account.snapshot(&m.name).unwrap();
            assert_eq!(s.uid_validity, m.uid_validity, "{}", m.name);
            let uids: Vec<Uid> = s.messages.iter().map(|x| x.uid).collect();
            let model: Vec<Uid> = m.messages.keys().copied().collect();
            assert_eq!(uids, model, "messages of {}", m.name);
            assert!(s.uid_next.get() > m.max_uid, "UIDNEXT above every UID given");
            assert!(s.highest_modseq >= m.highest_modseq, "HIGHESTMODSEQ went back");
            if m.touched {
                assert!(s.highest_modseq > before, "a change takes a new MODSEQ");
            } else {
                assert_eq!(
                    s.highest_modseq, m.highest_modseq,
                    "HIGHESTMODSEQ moved without a change"
                );
            }
            m.highest_modseq = s.highest_modseq;
            highest = highest.max(s.highest_modseq);
            for meta in &s.messages {
                let r = m.messages.get_mut(&meta.uid).unwrap();
                assert_eq!(meta.flags, r.flags, "flags of {} in {}", meta.uid, m.name);
                assert_eq!(meta.size, r.content.len() as u64);
                assert!(meta.modseq <= s.highest_modseq);
                match r.modseq {
                    Some(old) if !r.touched => assert_eq!(meta.modseq, old, "MODSEQ moved without a change"),
                    _ => assert!(meta.modseq > before, "changed message without a new MODSEQ"),
                }
                r.modseq = Some(meta.modseq);
            }
            for (uid, r) in &m.messages {
                let content = self.account.read_message(&m.name, *uid).unwrap();
                assert_eq!(content, r.content);
            }
            let vanished: BTreeSet<Uid> = self
                .account
                .changes_since(&m.name, ModSeq::MIN)
                .unwrap()
                .vanished
                .iter()
                .collect();
            assert_eq!(vanished, m.expunged, "tombstones of {}", m.name);
        }
        self.max_modseq = highest.max(self.later_modseq.take().unwrap_or(highest));
    }
}

impl RefMailbox {
    fn add(&mut self, uid: Uid, flags: Flags, content: Bytes) {
        assert!(
            uid.get() > self.max_uid,
            "UID {uid} not above {} in {}",
            self.max_uid,
            self.name
        );
        self.max_uid = uid.get();
        self.messages.insert(
            uid,
            RefMessage {
                flags,
                content,
                modseq: None,
                touched: true,
            },
        );
        self.touched = true;
    }

    fn remove(&mut self, uids: &[Uid]) {
        for uid in uids {
            if let Some(m) = self.messages.remove(uid) {
                self.expunged.insert(*uid);
                self.removed.insert(*uid, m.content);
                self.touched = true;
            }
        }
    }

    fn content_of(&self, uid: Uid) -> Option<Bytes> {
        self.messages
            .get(&uid)
            .map(|m| m.content.clone())
            .or_else(|| self.removed.get(&uid).cloned())
    }
}

/// Runs `ops` against a store over the backend `make` returns, checking
/// the model after every step. Call it with another backend's factory to
/// test that backend.
fn check<B: Backend + 'static>(make: impl Fn() -> B, ops: &[Op], config: StoreConfig, policy: LockPolicy) {
    let mut h = Harness::new(make(), config, policy);
    for op in ops {
        h.run(op);
    }
    // Every session converges once it takes its changes.
    for slot in 0..SESSIONS {
        h.run(&Op::Changes {
            slot: u8::try_from(slot).unwrap(),
            allow_expunge: true,
        });
    }
    // Ending every session releases everything.
    h.sessions.iter_mut().for_each(|s| *s = None);
    for p in &mut h.pops {
        p.maildrop.release();
        p.frozen = None;
    }
    for m in &h.mailboxes {
        for uid in &m.expunged {
            assert!(
                matches!(
                    h.account.read_message(&m.name, *uid),
                    Err(StoreError::NoSuchMessage(_))
                ),
                "content of expunged {uid} kept after every session ended"
            );
        }
    }
}

fn via() -> impl Strategy<Value = Via> {
    prop_oneof![Just(Via::Account), (0u8..3).prop_map(Via::Session)]
}

fn op() -> impl Strategy<Value = Op> {
    let pick = prop::collection::vec(any::<u8>(), 0..4);
    prop_oneof![
        4 => (any::<u8>(), any::<u8>(), any::<u8>()).prop_map(|(mailbox, count, flags)| Op::Append { mailbox, count, flags }),
        4 => (via(), any::<u8>(), pick.clone(), any::<u8>(), any::<u8>())
            .prop_map(|(via, mailbox, pick, action, flags)| Op::Store { via, mailbox, pick, action, flags }),
        2 => (via(), any::<u8>(), prop::option::of(pick.clone()))
            .prop_map(|(via, mailbox, pick)| Op::Expunge { via, mailbox, pick }),
        2 => (via(), any::<u8>(), pick, any::<u8>(), any::<bool>())
            .prop_map(|(via, from, pick, to, moving)| Op::Transfer { via, from, pick, to, moving }),
        3 => (any::<u8>(), any::<u8>(), any::<bool>())
            .prop_map(|(slot, mailbox, read_only)| Op::Select { slot, mailbox, read_only }),
        1 => (any::<u8>(), any::<bool>()).prop_map(|(slot, close)| Op::Unselect { slot, close }),
        5 => (any::<u8>(), any::<bool>()).prop_map(|(slot, allow_expunge)| Op::Changes { slot, allow_expunge }),
        2 => (any::<u8>(), any::<u8>()).prop_map(|(slot, pick)| Op::MarkSeen { slot, pick }),
        2 => (any::<u8>(), any::<u8>()).prop_map(|(slot, pick)| Op::Read { slot, pick }),
        1 => any::<u8>().prop_map(|mailbox| Op::Recreate { mailbox }),
        1 => any::<u8>().prop_map(|mailbox| Op::Rename { mailbox }),
        1 => Just(Op::RenameInbox),
        2 => any::<u8>().prop_map(|slot| Op::PopLock { slot }),
        2 => (any::<u8>(), any::<u8>()).prop_map(|(slot, n)| Op::PopRead { slot, n }),
        2 => (any::<u8>(), any::<u8>()).prop_map(|(slot, mask)| Op::PopCommit { slot, mask }),
        1 => any::<u8>().prop_map(|slot| Op::PopRelease { slot }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    #[test]
    fn memory_backend_follows_the_model(
        ops in prop::collection::vec(op(), 1..60),
        exclusive in any::<bool>(),
        small_queues in any::<bool>(),
    ) {
        let config = StoreConfig {
            // Tiny queues make sessions fall back to comparing with the
            // mailbox.
            max_pending_changes: if small_queues { 3 } else { 10_000 },
            ..StoreConfig::default()
        };
        let policy = if exclusive { LockPolicy::Exclusive } else { LockPolicy::None };
        check(MemoryBackend::new, &ops, config, policy);
    }

    /// The same model against the Maildir backend, in a fresh directory per
    /// case (fewer cases: every step touches the disk).
    #[test]
    fn maildir_backend_follows_the_model(
        ops in prop::collection::vec(op(), 1..40),
        exclusive in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let policy = if exclusive { LockPolicy::Exclusive } else { LockPolicy::None };
        check(
            move || {
                let options = mailwire_mailbox::MaildirOptions::default().with_fsync(false);
                mailwire_mailbox::MaildirBackend::with_options(root.clone(), options).unwrap()
            },
            &ops,
            StoreConfig::default(),
            policy,
        );
    }
}

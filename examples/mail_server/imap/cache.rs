//! ENVELOPE, BODY and BODYSTRUCTURE of messages recently fetched, shared
//! by every IMAP session of the server, so that a client that lists a
//! mailbox's envelopes does not make the server read and parse every
//! message again (Dovecot keeps the same in its index cache).
//!
//! A message's content never changes under its UID: an entry is keyed by
//! the account, the mailbox's UIDVALIDITY (which an account never gives
//! twice, and which RENAME keeps) and the UID. The cache holds at most
//! [`StructureCache::new`]'s budget of octets (an estimate of each entry's
//! size); past it, the entries put in first go first.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use mailwire::imap::{BodyStructure, Envelope, FetchItem, MessageDataItem};
use mailwire::mailbox::analysis::{MessageAnalysis, StoredLayout, StoredMessage};
use mailwire::mailbox::{AccountName, Uid, UidValidity};

/// What FETCH can answer from the cache.
#[derive(Debug)]
pub struct Structure {
    found: Found,
    /// BODY (BODYSTRUCTURE without extension data).
    body: BodyStructure<'static>,
}

/// ENVELOPE and BODYSTRUCTURE: kept apart for a message read whole, inside
/// its layout (not a second time) for one analysed in its file.
#[derive(Debug)]
enum Found {
    Whole {
        envelope: Envelope<'static>,
        body_structure: BodyStructure<'static>,
    },
    /// What the analysis of the file found: its sections are then read
    /// again without analysing it again.
    Stored(StoredLayout),
}

impl Structure {
    /// The structure of an analysed message.
    pub fn of(msg: &MessageAnalysis<'_>) -> Structure {
        Structure {
            found: Found::Whole {
                envelope: msg.envelope().clone().into_owned(),
                body_structure: msg.body_structure().clone().into_owned(),
            },
            body: msg.body().into_owned(),
        }
    }

    /// The structure of a message analysed in its file.
    pub fn of_stored(msg: &StoredMessage) -> Structure {
        Structure {
            found: Found::Stored(msg.layout()),
            body: msg.body(),
        }
    }

    /// For a message analysed in its file, what the analysis found.
    pub fn layout(&self) -> Option<&StoredLayout> {
        match &self.found {
            Found::Stored(layout) => Some(layout),
            Found::Whole { .. } => None,
        }
    }

    /// The answer to ENVELOPE, BODY or BODYSTRUCTURE; `None` for any other
    /// item.
    pub fn item(&self, item: &FetchItem<'_>) -> Option<MessageDataItem<'static>> {
        let (envelope, body_structure) = match &self.found {
            Found::Whole {
                envelope,
                body_structure,
            } => (envelope, body_structure),
            Found::Stored(layout) => (layout.envelope(), layout.body_structure()),
        };
        Some(match item {
            FetchItem::Envelope => MessageDataItem::Envelope(Box::new(envelope.clone())),
            FetchItem::BodyStructure => MessageDataItem::BodyStructure(Box::new(body_structure.clone())),
            FetchItem::Body => MessageDataItem::Body(Box::new(self.body.clone())),
            _ => return None,
        })
    }
}

type Key = (AccountName, UidValidity, Uid);

/// The shared cache (see the module documentation).
#[derive(Debug)]
pub struct StructureCache {
    inner: Mutex<Inner>,
    budget: usize,
}

#[derive(Debug, Default)]
struct Inner {
    /// Each entry with its weight and the number of its put.
    entries: HashMap<Key, (Arc<Structure>, usize, u64)>,
    /// Keys in the order they were put, with the number of that put: a
    /// key put again leaves its earlier place here, stale, to be skipped
    /// (no search through the queue).
    order: VecDeque<(Key, u64)>,
    held: usize,
    puts: u64,
}

impl StructureCache {
    /// A cache of at most about `budget` octets.
    pub fn new(budget: usize) -> StructureCache {
        StructureCache {
            inner: Mutex::new(Inner::default()),
            budget,
        }
    }

    /// The structure of a message, if cached.
    pub fn get(&self, account: &AccountName, uid_validity: UidValidity, uid: Uid) -> Option<Arc<Structure>> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner
            .entries
            .get(&(account.clone(), uid_validity, uid))
            .map(|(s, ..)| Arc::clone(s))
    }

    /// Keeps a message's structure, in place of one kept before; `weight`
    /// estimates its size (the message's header is a fair one: ENVELOPE
    /// repeats most of it; plus its layout's, if it has one).
    pub fn put(
        &self,
        account: &AccountName,
        uid_validity: UidValidity,
        uid: Uid,
        structure: Arc<Structure>,
        weight: usize,
    ) {
        let weight = weight.saturating_add(256);
        if weight > self.budget {
            return;
        }
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let key = (account.clone(), uid_validity, uid);
        if let Some((_, w, _)) = inner.entries.remove(&key) {
            inner.held -= w;
        }
        while inner.held + weight > self.budget {
            let Some((old, put)) = inner.order.pop_front() else {
                break;
            };
            if inner.entries.get(&old).is_some_and(|e| e.2 == put) {
                if let Some((_, w, _)) = inner.entries.remove(&old) {
                    inner.held -= w;
                }
            }
        }
        // Stale places outnumber the entries: dropped, once in a while.
        if inner.order.len() > 2 * inner.entries.len() + 64 {
            let Inner { entries, order, .. } = &mut *inner;
            order.retain(|(k, put)| entries.get(k).is_some_and(|e| e.2 == *put));
        }
        inner.puts += 1;
        let put = inner.puts;
        inner.held += weight;
        inner.order.push_back((key.clone(), put));
        inner.entries.insert(key, (structure, weight, put));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailwire::mailbox::analysis::analyze;

    #[test]
    fn keeps_within_its_budget_and_drops_the_oldest_first() {
        let msg = b"From: a@b\r\nSubject: x\r\n\r\nbody\r\n";
        let structure = Arc::new(Structure::of(&analyze(msg)));
        let alice = AccountName::new("alice").unwrap();
        let v = UidValidity::new(7).unwrap();
        let cache = StructureCache::new(3 * 356);
        for n in 1..=4 {
            cache.put(&alice, v, Uid::new(n).unwrap(), Arc::clone(&structure), 100);
        }
        assert!(
            cache.get(&alice, v, Uid::new(1).unwrap()).is_none(),
            "the oldest went"
        );
        for n in 2..=4 {
            assert!(cache.get(&alice, v, Uid::new(n).unwrap()).is_some());
        }
        let other = UidValidity::new(8).unwrap();
        assert!(cache.get(&alice, other, Uid::new(4).unwrap()).is_none());
        let bob = AccountName::new("bob").unwrap();
        assert!(cache.get(&bob, v, Uid::new(4).unwrap()).is_none());
        // Larger than the whole budget: not kept.
        cache.put(&alice, v, Uid::new(9).unwrap(), structure, 10_000);
        assert!(cache.get(&alice, v, Uid::new(9).unwrap()).is_none());
    }

    #[test]
    fn a_structure_put_again_replaces_the_one_kept() {
        use std::io::Write;
        let msg = b"From: a@b\r\nSubject: x\r\n\r\nbody\r\n";
        let alice = AccountName::new("alice").unwrap();
        let v = UidValidity::new(7).unwrap();
        let uid = |n| Uid::new(n).unwrap();
        let cache = StructureCache::new(3 * 356);
        let whole = Arc::new(Structure::of(&analyze(msg)));
        for n in 1..=3 {
            cache.put(&alice, v, uid(n), Arc::clone(&whole), 100);
        }
        // Message 2 analysed in its file: its layout replaces the
        // structure read whole, in the same room.
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(msg).unwrap();
        let stored = StoredMessage::open(file, msg.len() as u64).unwrap();
        cache.put(&alice, v, uid(2), Arc::new(Structure::of_stored(&stored)), 100);
        assert!(cache.get(&alice, v, uid(2)).unwrap().layout().is_some());
        for n in [1, 3] {
            assert!(cache.get(&alice, v, uid(n)).is_some(), "{n} was dropped");
        }
        // Put again many times: the queue of the order of puts stays
        // bounded, and the oldest entry still goes first.
        for _ in 0..1_000 {
            cache.put(&alice, v, uid(3), Arc::clone(&whole), 100);
        }
        assert!(cache.inner.lock().unwrap().order.len() <= 2 * 3 + 64 + 1);
        cache.put(&alice, v, uid(4), Arc::clone(&whole), 100);
        assert!(cache.get(&alice, v, uid(1)).is_none(), "the oldest went");
        for n in 2..=4 {
            assert!(cache.get(&alice, v, uid(n)).is_some(), "{n} was dropped");
        }
        assert_eq!(cache.inner.lock().unwrap().held, 3 * 356);
    }
}

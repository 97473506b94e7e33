//! The client's view of the selected mailbox: what the server's
//! unsolicited data says about it, folded into one state and reported as
//! changes.

use std::num::NonZeroU32;

use crate::condstore::ModSeq;
use crate::fetch::data::MessageDataItem;
use crate::flag::FlagFetch;
use crate::sequence::UidSet;

use super::known::Known;

/// A change to the selected mailbox, as the server reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MailboxChange {
    /// The mailbox now holds `count` messages (`* n EXISTS`).
    Exists {
        /// The new message count.
        count: u32,
    },
    /// Message `seq` was expunged; later messages moved down by one.
    Expunged {
        /// Its sequence number before the expunge.
        seq: NonZeroU32,
        /// Its UID, when the session had learnt it.
        uid: Option<NonZeroU32>,
    },
    /// Messages were expunged by UID (`* VANISHED`, QRESYNC); the message
    /// count went down by their number.
    Vanished {
        /// The UIDs.
        uids: UidSet,
    },
    /// `* VANISHED (EARLIER)`: messages expunged before this session saw
    /// them (an answer to `SELECT (QRESYNC ...)` or `UID FETCH (VANISHED)`).
    /// The message count does not change.
    VanishedEarlier {
        /// The UIDs.
        uids: UidSet,
    },
    /// A message's flags, as the server reported them.
    Flags {
        /// The sequence number.
        seq: NonZeroU32,
        /// The UID, when known.
        uid: Option<NonZeroU32>,
        /// The flags.
        flags: Vec<FlagFetch<'static>>,
        /// The mod-sequence (CONDSTORE), when sent.
        modseq: Option<ModSeq>,
    },
    /// The highest mod-sequence of the mailbox moved (`HIGHESTMODSEQ`, or
    /// a larger `MODSEQ` in a FETCH).
    HighestModSeq(ModSeq),
    /// The UIDVALIDITY changed while the mailbox was selected: every
    /// cached UID is void (RFC 9051 section 2.3.1.1).
    UidValidity(NonZeroU32),
}

/// The selected mailbox as the client knows it.
///
/// Room is taken only for the messages whose UID the server has said: a
/// server announcing four billion messages (`* 4000000000 EXISTS`) costs a
/// number, not a slot per message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailboxView {
    /// UIDVALIDITY, once the server said it.
    pub uid_validity: Option<NonZeroU32>,
    /// UIDNEXT, once the server said it.
    pub uid_next: Option<NonZeroU32>,
    /// HIGHESTMODSEQ (CONDSTORE), once known.
    pub highest_modseq: Option<ModSeq>,
    /// The mailbox was opened read-only.
    pub read_only: bool,
    /// The number of messages.
    count: u32,
    /// The messages whose UID the server has said, by sequence number,
    /// each UID once.
    known: Known,
    /// VANISHED named messages whose numbers the session did not know, so
    /// some numbers in `known` may be off until the next full listing.
    uncertain: bool,
}

/// The UIDs of a set as ascending ranges that neither overlap nor touch
/// (a server may send `5,5` or `1:4,3:9`), for counting them and for
/// looking one up in logarithmic time.
fn merged(uids: &UidSet) -> Vec<(u32, u32)> {
    uids.as_sequence_set()
        .normalized(u32::MAX)
        .map_or_else(Vec::new, |set| {
            set.resolved_ranges(u32::MAX)
                .map(|r| (*r.start(), *r.end()))
                .collect()
        })
}

impl MailboxView {
    /// The number of messages.
    pub fn exists(&self) -> u32 {
        self.count
    }

    /// The UID of message `seq`, when known.
    pub fn uid(&self, seq: NonZeroU32) -> Option<NonZeroU32> {
        self.known.get(seq)
    }

    /// The sequence number of the message with `uid`, when known.
    pub fn seq(&self, uid: NonZeroU32) -> Option<NonZeroU32> {
        self.known.find(uid)
    }

    /// The messages whose UID is known, as (sequence number, UID), by
    /// sequence number.
    pub fn known(&self) -> impl Iterator<Item = (NonZeroU32, NonZeroU32)> + '_ {
        self.known.iter()
    }

    /// Whether every UID the view holds is placed for certain (false after
    /// a VANISHED named a message whose number the session never learnt).
    pub fn is_certain(&self) -> bool {
        !self.uncertain
    }

    pub(super) fn set_exists(&mut self, count: u32, changes: &mut Vec<MailboxChange>) {
        // A count that goes down (which only EXPUNGE may do) drops the
        // messages above it.
        self.known.truncate_above(count);
        self.count = count;
        changes.push(MailboxChange::Exists { count });
    }

    pub(super) fn expunge(&mut self, seq: NonZeroU32, changes: &mut Vec<MailboxChange>) {
        let mut uid = None;
        if seq.get() <= self.count {
            self.count -= 1;
            uid = self.known.expunge(seq);
        }
        changes.push(MailboxChange::Expunged { seq, uid });
    }

    pub(super) fn vanished(&mut self, uids: UidSet, earlier: bool, changes: &mut Vec<MailboxChange>) {
        if earlier {
            changes.push(MailboxChange::VanishedEarlier { uids });
            return;
        }
        // The messages it names whose UID is known go, and the ones after
        // them move down.
        let named = merged(&uids);
        let gone = self.known.remove_uids(&named);
        self.count -= gone;
        // Each UID names one message (RFC 7162 section 3.2.10): the count
        // goes down by their number, whether the session knew them or not.
        let distinct: u64 = named.iter().map(|&(lo, hi)| u64::from(hi - lo) + 1).sum();
        let unplaced = distinct.saturating_sub(u64::from(gone));
        if unplaced > 0 {
            // Which numbers went is unknown: the highest numbers whose UID
            // the session never learnt are taken, then the highest known.
            self.uncertain = true;
            let unknown = self.count - self.known.len() as u32;
            match u32::try_from(unplaced) {
                Ok(drop) if drop <= unknown => {
                    self.known.lower_top(self.count, drop);
                    self.count -= drop;
                }
                _ => {
                    let keep = u64::from(self.count).saturating_sub(unplaced) as u32;
                    self.known.keep_first(keep as usize);
                    self.count = keep;
                }
            }
        }
        changes.push(MailboxChange::Vanished { uids });
    }

    /// Records that message `seq` has `uid`. The known UIDs ascend with
    /// the numbers, as they must (RFC 9051 section 2.3.1.1), so a UID
    /// names one message: a server that breaks that order is taken at its
    /// latest word, and the pairs it contradicts (the nearest before `seq`
    /// with a UID as high or higher, after it as low or lower) are
    /// forgotten, so the order holds again and each new UID is checked
    /// against its neighbours alone. (A server's disorder once cost every
    /// later UID a look through all the known ones: a crafted stream of
    /// FETCHes took quadratic time.)
    fn set_uid(&mut self, seq: NonZeroU32, uid: NonZeroU32) {
        // A listing's answers come in order: past the last pair, no search.
        if self.known.last().is_none_or(|(last, u)| last < seq && u < uid) {
            self.known.set(seq, uid);
            return;
        }
        loop {
            match self.known.neighbour_pairs(seq) {
                (Some((s, u)), _) if u >= uid => self.known.forget(s),
                (_, Some((s, u))) if u <= uid => self.known.forget(s),
                _ => break,
            }
        }
        self.known.set(seq, uid);
    }

    /// Takes what a FETCH says about message `seq`.
    pub(super) fn fetched(
        &mut self,
        seq: NonZeroU32,
        items: &[MessageDataItem<'_>],
        changes: &mut Vec<MailboxChange>,
    ) {
        if seq.get() > self.count {
            // A server must not send FETCH for a message it did not
            // announce; take it as an implicit EXISTS.
            self.set_exists(seq.get(), changes);
        }
        let mut flags = None;
        let mut modseq = None;
        let mut said = None;
        for item in items {
            match item {
                MessageDataItem::Uid(uid) => {
                    self.set_uid(seq, *uid);
                    said = Some(*uid);
                }
                MessageDataItem::Flags(f) => flags = Some(f),
                MessageDataItem::ModSeq(m) => modseq = Some(*m),
                _ => {}
            }
        }
        if let Some(m) = modseq {
            self.raise_modseq(m, changes);
        }
        if let Some(flags) = flags {
            changes.push(MailboxChange::Flags {
                seq,
                uid: said.or_else(|| self.uid(seq)),
                flags: flags.iter().cloned().map(FlagFetch::into_owned).collect(),
                modseq,
            });
        }
    }

    pub(super) fn raise_modseq(&mut self, m: ModSeq, changes: &mut Vec<MailboxChange>) {
        if self.highest_modseq.is_none_or(|h| m > h) {
            self.highest_modseq = Some(m);
            changes.push(MailboxChange::HighestModSeq(m));
        }
    }

    pub(super) fn set_uid_validity(&mut self, v: NonZeroU32, changes: &mut Vec<MailboxChange>) {
        if self.uid_validity.is_some_and(|old| old != v) {
            self.known.clear();
            changes.push(MailboxChange::UidValidity(v));
        }
        self.uid_validity = Some(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn nz(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).expect("not zero")
    }

    /// A slot per message, as the view was before it took room only for
    /// known UIDs: the reference it must agree with.
    #[derive(Debug, Default)]
    struct Dense {
        uids: Vec<Option<u32>>,
        uncertain: bool,
    }

    impl Dense {
        fn vanished(&mut self, named: &[u32]) {
            let before = self.uids.len();
            self.uids.retain(|u| !u.is_some_and(|u| named.contains(&u)));
            let unplaced = named.len().saturating_sub(before - self.uids.len());
            if unplaced == 0 {
                return;
            }
            self.uncertain = true;
            let keep = self.uids.len().saturating_sub(unplaced);
            let mut i = self.uids.len();
            while i > 0 && self.uids.len() > keep {
                i -= 1;
                if self.uids[i].is_none() {
                    self.uids.remove(i);
                }
            }
            self.uids.truncate(keep);
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Exists(u32),
        Expunge(u32),
        Fetch(u32, Option<u32>),
        Vanished(Vec<(u32, u32)>),
        NewValidity,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            1 => (0..28u32).prop_map(Op::Exists),
            1 => (1..30u32).prop_map(Op::Expunge),
            4 => (1..30u32, proptest::option::of(1..40u32)).prop_map(|(s, u)| Op::Fetch(s, u)),
            // Mostly short ranges, so that some known UIDs stay.
            1 => proptest::collection::vec((1..40u32, 0..3u32), 1..4)
                .prop_map(|r| Op::Vanished(r.into_iter().map(|(a, w)| (a, a + w)).collect())),
            1 => proptest::collection::vec((1..40u32, 1..40u32), 1..3).prop_map(Op::Vanished),
            1 => Just(Op::NewValidity),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        /// Any sequence of what a server may say leaves the view as a
        /// slot per message would: the same count, the same known UIDs at
        /// the same numbers, each UID once, the same expunged UIDs.
        #[test]
        fn the_view_agrees_with_a_slot_per_message(ops in proptest::collection::vec(op(), 1..80)) {
            let mut view = MailboxView::default();
            let mut dense = Dense::default();
            let mut changes = Vec::new();
            let mut validity = 1;
            view.set_uid_validity(nz(validity), &mut changes);
            for op in ops {
                changes.clear();
                match op {
                    Op::Exists(n) => {
                        view.set_exists(n, &mut changes);
                        dense.uids.resize(n as usize, None);
                    }
                    Op::Expunge(seq) => {
                        view.expunge(nz(seq), &mut changes);
                        let i = seq as usize - 1;
                        let uid = if i < dense.uids.len() { dense.uids.remove(i) } else { None };
                        prop_assert_eq!(
                            &changes[..],
                            &[MailboxChange::Expunged { seq: nz(seq), uid: uid.map(nz) }][..]
                        );
                    }
                    Op::Fetch(seq, uid) => {
                        let items: Vec<MessageDataItem<'_>> =
                            uid.map(|u| MessageDataItem::Uid(nz(u))).into_iter().collect();
                        view.fetched(nz(seq), &items, &mut changes);
                        let i = seq as usize - 1;
                        if i >= dense.uids.len() {
                            dense.uids.resize(i + 1, None);
                        }
                        if let Some(u) = uid {
                            // The server's latest word: UIDs ascend with
                            // the numbers, so those it contradicts go (the
                            // same UID elsewhere among them).
                            for (j, slot) in dense.uids.iter_mut().enumerate() {
                                if slot.is_some_and(|v| (j < i && v >= u) || (j > i && v <= u)) {
                                    *slot = None;
                                }
                            }
                            dense.uids[i] = Some(u);
                        }
                    }
                    Op::Vanished(ranges) => {
                        let mut named: Vec<u32> =
                            ranges.iter().flat_map(|&(a, b)| a.min(b)..=a.max(b)).collect();
                        named.sort_unstable();
                        named.dedup();
                        let text = ranges
                            .iter()
                            .map(|(a, b)| format!("{a}:{b}"))
                            .collect::<Vec<_>>()
                            .join(",");
                        let set = UidSet::try_from(text.parse::<crate::SequenceSet>().expect("a set"))
                            .expect("a UID set");
                        view.vanished(set, false, &mut changes);
                        dense.vanished(&named);
                    }
                    Op::NewValidity => {
                        validity += 1;
                        view.set_uid_validity(nz(validity), &mut changes);
                        dense.uids.iter_mut().for_each(|u| *u = None);
                    }
                }
                prop_assert_eq!(view.exists() as usize, dense.uids.len());
                view.known.check();
                let want: Vec<(NonZeroU32, NonZeroU32)> = dense
                    .uids
                    .iter()
                    .enumerate()
                    .filter_map(|(i, u)| Some((nz(i as u32 + 1), nz((*u)?))))
                    .collect();
                prop_assert_eq!(view.known().collect::<Vec<_>>(), want.clone());
                // UIDs ascend with the numbers, whatever the server said.
                prop_assert!(want.windows(2).all(|w| w[0].1 < w[1].1));
                for (s, u) in want {
                    prop_assert_eq!(view.uid(s), Some(u));
                    prop_assert_eq!(view.seq(u), Some(s));
                }
                prop_assert_eq!(view.is_certain(), !dense.uncertain);
            }
        }
    }

    fn uids(text: &str) -> UidSet {
        UidSet::try_from(text.parse::<crate::SequenceSet>().expect("a set")).expect("a UID set")
    }

    /// A server alternating new messages with VANISHEDs of UIDs the
    /// session never learnt moves the known pairs' blocks, not each pair:
    /// a copy of every pair per response made such a stream quadratic.
    #[test]
    fn vanished_unknown_uids_move_blocks_not_pairs() {
        let mut view = MailboxView::default();
        let mut changes = Vec::new();
        let n = 3000;
        // Message 1's UID unknown, 2 to n+1 known, every 64th skipped
        // (gaps inside blocks).
        view.set_exists(n + 1, &mut changes);
        for seq in (2..=n + 1).filter(|s| s % 64 != 0) {
            view.fetched(nz(seq), &[MessageDataItem::Uid(nz(10 * seq))], &mut changes);
        }
        let known = view.known().count();
        let before = super::super::known::pairs_touched();
        let mut next = 1_000_000;
        for round in 0..300u32 {
            // One new message, then one or two unknown UIDs gone: the
            // lowest unknown number (below every pair), the new one on
            // top, or more than the unknown ones (known pairs go too).
            view.set_exists(view.exists() + 1, &mut changes);
            let named = if round % 3 == 2 {
                format!("{next}:{}", next + 1)
            } else {
                next.to_string()
            };
            next += 2;
            let count = view.exists();
            view.vanished(uids(&named), false, &mut changes);
            assert!(view.exists() < count);
        }
        let touched = super::super::known::pairs_touched() - before;
        // The blocks with a gap that a renumbering closes, each once or a
        // few times: a small multiple of the pairs, not 300 times them.
        assert!(
            touched < 4 * known,
            "{touched} pairs read one by one for {known} known"
        );
        // And the view still agrees with itself: ascending, each UID at
        // its number.
        let pairs: Vec<_> = view.known().collect();
        assert!(pairs.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 < w[1].1));
        assert!(pairs.last().is_none_or(|p| p.0.get() <= view.exists()));
        for (s, u) in pairs {
            assert_eq!((view.seq(u), view.uid(s)), (Some(s), Some(u)));
        }
    }

    #[test]
    fn four_billion_messages_take_no_room() {
        let mut view = MailboxView::default();
        let mut changes = Vec::new();
        view.set_exists(4_000_000_000, &mut changes);
        view.fetched(nz(3_999_999_999), &[MessageDataItem::Uid(nz(77))], &mut changes);
        assert_eq!(view.known().count(), 1);
        view.expunge(nz(1), &mut changes);
        assert_eq!(
            (view.exists(), view.uid(nz(3_999_999_998))),
            (3_999_999_999, Some(nz(77)))
        );
        let all = UidSet::try_from("1:4294967295".parse::<crate::SequenceSet>().unwrap()).unwrap();
        view.vanished(all, false, &mut changes);
        assert_eq!((view.exists(), view.known().count()), (0, 0));
    }

    #[test]
    fn a_uid_given_twice_names_the_later_message() {
        let mut view = MailboxView::default();
        let mut changes = Vec::new();
        // In order, then out of it: 30, 10, 20; then 30 again, which its
        // neighbours (20 before, none after) do not show as a repeat.
        for (seq, uid) in [(1, 30), (2, 10), (3, 20), (4, 30)] {
            view.fetched(nz(seq), &[MessageDataItem::Uid(nz(uid))], &mut changes);
        }
        let known: Vec<(u32, u32)> = view.known().map(|(s, u)| (s.get(), u.get())).collect();
        assert_eq!(known, [(2, 10), (3, 20), (4, 30)]);
        assert_eq!((view.seq(nz(30)), view.uid(nz(1))), (Some(nz(4)), None));
    }

    #[test]
    fn a_uid_repeated_in_a_vanished_counts_once() {
        let mut view = MailboxView::default();
        let mut changes = Vec::new();
        view.set_exists(3, &mut changes);
        view.fetched(nz(2), &[MessageDataItem::Uid(nz(5))], &mut changes);
        let set = UidSet::try_from("5,5,4:6".parse::<crate::SequenceSet>().unwrap()).unwrap();
        view.vanished(set, false, &mut changes);
        // UID 5 and two UIDs the session never learnt (4 and 6).
        assert_eq!((view.exists(), view.known().count()), (0, 0));
        view.set_exists(3, &mut changes);
        let set = UidSet::try_from("9,9".parse::<crate::SequenceSet>().unwrap()).unwrap();
        view.vanished(set, false, &mut changes);
        assert_eq!(view.exists(), 2);
    }
}

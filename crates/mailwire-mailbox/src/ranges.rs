//! Sets of UIDs kept as ranges: what QRESYNC's `VANISHED (EARLIER)` names
//! when a backend no longer knows each expunge, and "every UID up to four
//! billion except these" must cost as much as the exceptions.

use std::ops::RangeInclusive;

use crate::types::Uid;

/// A set of UIDs, kept as sorted, disjoint, non-adjacent ranges: its size
/// grows with the number of gaps, not with the UIDs it holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UidRanges {
    /// `(first, last)`, `first <= last`, ascending, with a gap of at least
    /// one UID between neighbours.
    ranges: Vec<(u32, u32)>,
}

impl UidRanges {
    /// The empty set.
    pub fn new() -> UidRanges {
        UidRanges::default()
    }

    /// Whether it holds no UID.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// How many UIDs it holds.
    pub fn len(&self) -> u64 {
        self.ranges
            .iter()
            .map(|&(first, last)| u64::from(last - first) + 1)
            .sum()
    }

    /// Whether it holds `uid`.
    pub fn contains(&self, uid: Uid) -> bool {
        let u = uid.get();
        // The last range starting at or below u.
        let i = self.ranges.partition_point(|&(first, _)| first <= u);
        i > 0 && self.ranges[i - 1].1 >= u
    }

    /// The ranges, ascending.
    pub fn ranges(&self) -> impl ExactSizeIterator<Item = RangeInclusive<Uid>> + '_ {
        self.ranges.iter().map(|&(first, last)| uid(first)..=uid(last))
    }

    /// Every UID, ascending (as many items as [`UidRanges::len`]).
    pub fn iter(&self) -> impl Iterator<Item = Uid> + '_ {
        self.ranges
            .iter()
            .flat_map(|&(first, last)| (first..=last).map(uid))
    }

    /// Adds the UIDs of `range` (nothing if it is empty).
    pub fn insert_range(&mut self, range: RangeInclusive<Uid>) {
        let (first, last) = (range.start().get(), range.end().get());
        if first > last {
            return;
        }
        // Ranges that overlap or touch [first, last] are merged with it:
        // from the first one ending at or after first - 1 to the last one
        // starting at or before last + 1.
        let from = self
            .ranges
            .partition_point(|&(_, end)| end < first.saturating_sub(1));
        let to = self
            .ranges
            .partition_point(|&(start, _)| start <= last.saturating_add(1));
        if from == to {
            self.ranges.insert(from, (first, last));
            return;
        }
        let merged = (first.min(self.ranges[from].0), last.max(self.ranges[to - 1].1));
        self.ranges.splice(from..to, std::iter::once(merged));
    }

    /// Adds one UID.
    pub fn insert(&mut self, uid: Uid) {
        self.insert_range(uid..=uid);
    }

    /// The UIDs it shares with `ranges` (in any order, overlapping or not;
    /// ranges whose start is above their end are empty).
    pub fn intersection(&self, ranges: impl IntoIterator<Item = RangeInclusive<u32>>) -> UidRanges {
        // Those ranges merged first (a client's set may name the mailbox
        // thousands of times over: each walked the ranges here again),
        // then one walk through both sorted lists: O(n log n + m) and
        // what is found.
        let asked = UidRanges::from_pairs(ranges.into_iter().map(|r| (*r.start(), *r.end())).collect());
        let mut out = UidRanges::new();
        let mut from = 0;
        for &(first, last) in &asked.ranges {
            from += self.ranges[from..].partition_point(|&(_, end)| end < first);
            for &(start, end) in self.ranges[from..]
                .iter()
                .take_while(|&&(start, _)| start <= last)
            {
                out.insert_range(uid(start.max(first))..=uid(end.min(last)));
            }
        }
        out
    }

    /// The UIDs of `(first, last)` pairs in any order, overlapping or not:
    /// a pair whose first is above its last is empty, and 0 is left out
    /// (`(0, 5)` holds 1 to 5). A sort and one pass, O(n log n) for n
    /// pairs, where inserting them one by one could move the ranges at
    /// each.
    pub(crate) fn from_pairs(mut pairs: Vec<(u32, u32)>) -> UidRanges {
        pairs.retain(|&(first, last)| first.max(1) <= last);
        // Sets come ascending more often than not: no sort then.
        if !pairs.is_sorted() {
            pairs.sort_unstable();
        }
        let mut out = UidRanges::new();
        for (first, last) in pairs {
            let first = first.max(1);
            match out.ranges.last_mut() {
                Some((_, end)) if first <= end.saturating_add(1) => *end = (*end).max(last),
                _ => out.ranges.push((first, last)),
            }
        }
        out
    }
}

impl FromIterator<Uid> for UidRanges {
    fn from_iter<I: IntoIterator<Item = Uid>>(iter: I) -> UidRanges {
        UidRanges::from_pairs(iter.into_iter().map(|u| (u.get(), u.get())).collect())
    }
}

/// A number of a range: never 0 (the invariant of the ranges).
fn uid(n: u32) -> Uid {
    Uid::new(n).unwrap_or(Uid::MIN)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::*;

    fn u(n: u32) -> Uid {
        Uid::new(n).unwrap()
    }

    fn pairs(set: &UidRanges) -> Vec<(u32, u32)> {
        set.ranges().map(|r| (r.start().get(), r.end().get())).collect()
    }

    #[test]
    fn ranges_merge_when_they_touch_or_overlap() {
        let mut set = UidRanges::new();
        set.insert_range(u(10)..=u(20));
        set.insert_range(u(30)..=u(40));
        assert_eq!(pairs(&set), [(10, 20), (30, 40)]);
        set.insert_range(u(21)..=u(29));
        assert_eq!(pairs(&set), [(10, 40)]);
        set.insert(u(42));
        set.insert(u(1));
        assert_eq!(pairs(&set), [(1, 1), (10, 40), (42, 42)]);
        set.insert_range(u(2)..=u(u32::MAX));
        assert_eq!(pairs(&set), [(1, u32::MAX)]);
        assert_eq!(set.len(), u64::from(u32::MAX));
        assert!(set.contains(u(u32::MAX)));
    }

    #[test]
    fn an_empty_range_adds_nothing() {
        let mut set = UidRanges::new();
        set.insert_range(RangeInclusive::new(u(5), u(4)));
        assert!(set.is_empty());
        set.insert(u(5));
        assert_eq!(
            set.intersection([RangeInclusive::new(7, 3), 0..=0]),
            UidRanges::new()
        );
    }

    #[test]
    fn four_billion_uids_cost_one_range() {
        let mut set = UidRanges::new();
        set.insert_range(u(1)..=u(u32::MAX - 1));
        let known = set.intersection([5..=9, 4_000_000_000..=u32::MAX]);
        assert_eq!(pairs(&known), [(5, 9), (4_000_000_000, u32::MAX - 1)]);
        assert_eq!(known.iter().take(3).map(Uid::get).collect::<Vec<_>>(), [5, 6, 7]);
    }

    proptest! {
        /// Inserts, membership, counts and intersections agree with a
        /// set of numbers.
        #[test]
        fn behaves_as_a_set(
            inserts in proptest::collection::vec((1u32..200, 0u32..20), 0..30),
            other in proptest::collection::vec((0u32..220, 0u32..30), 0..6),
        ) {
            let mut set = UidRanges::new();
            let mut model = BTreeSet::new();
            for &(first, len) in &inserts {
                set.insert_range(u(first)..=u(first + len));
                model.extend(first..=first + len);
            }
            prop_assert_eq!(set.len(), model.len() as u64);
            prop_assert_eq!(set.iter().map(Uid::get).collect::<Vec<_>>(), model.iter().copied().collect::<Vec<_>>());
            for n in 1..230 {
                prop_assert_eq!(set.contains(u(n)), model.contains(&n));
            }
            // Canonical: the same set from single UIDs has the same ranges,
            // and so has the same set from its ranges in another order.
            prop_assert_eq!(&set, &model.iter().map(|&n| u(n)).collect::<UidRanges>());
            let backwards = inserts.iter().rev().map(|&(first, len)| (first, first + len));
            prop_assert_eq!(&set, &UidRanges::from_pairs(backwards.chain([(0, 0), (9, 8)]).collect()));
            for w in pairs(&set).windows(2) {
                prop_assert!(w[0].1 + 1 < w[1].0, "{:?}", w);
            }
            let ranges: Vec<RangeInclusive<u32>> = other.iter().map(|&(a, l)| a..=a + l).collect();
            let shared: BTreeSet<u32> = model
                .iter()
                .copied()
                .filter(|n| ranges.iter().any(|r| r.contains(n)))
                .collect();
            prop_assert_eq!(set.intersection(ranges).iter().map(Uid::get).collect::<BTreeSet<_>>(), shared);
        }
    }
}

//! The UIDs a client knows, by message sequence number, kept in blocks.
//!
//! An EXPUNGE moves every later message down by one. With one list of
//! (number, UID) pairs, that is a pass over every pair after it: a
//! mailbox of 100,000 messages expunged from the front costs 10^10 steps.
//! Here each block counts its numbers from its own start, so an EXPUNGE
//! changes the pairs of one block and the starts of the blocks after it.

use std::num::NonZeroU32;

/// A block is split in two when it reaches twice this many pairs; a
/// listing in order fills blocks of this many.
#[cfg(not(test))]
const BLOCK: usize = 1024;
/// Small in tests, so that a few messages make several blocks.
#[cfg(test)]
const BLOCK: usize = 3;

#[derive(Debug, Clone)]
struct Block {
    /// The number the offsets count from: at most the first pair's.
    start: u32,
    /// (offset from `start`, UID), ascending by offset; never empty.
    pairs: Vec<(u32, NonZeroU32)>,
}

/// A message's sequence number and UID.
type Pair = (NonZeroU32, NonZeroU32);

/// The known UIDs, ascending by sequence number.
#[derive(Debug, Clone, Default)]
pub(super) struct Known {
    blocks: Vec<Block>,
    len: usize,
}

impl PartialEq for Known {
    fn eq(&self, other: &Known) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl Eq for Known {}

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).expect("a sequence number is at least 1")
}

#[cfg(test)]
thread_local! {
    /// Pairs read one by one by the changes that renumber many, for the
    /// tests of their cost.
    static TOUCHED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Counts `n` pairs read one by one (in tests).
#[inline(always)]
fn touched(n: usize) {
    #[cfg(test)]
    TOUCHED.with(|t| t.set(t.get() + n));
    #[cfg(not(test))]
    let _ = n;
}

/// The pairs read one by one on this thread so far.
#[cfg(test)]
pub(super) fn pairs_touched() -> usize {
    TOUCHED.with(|t| t.get())
}

impl Known {
    /// Blocks of the pairs given, which must ascend by number.
    #[cfg(test)]
    pub(super) fn from_sorted(pairs: Vec<(NonZeroU32, NonZeroU32)>) -> Known {
        let len = pairs.len();
        let blocks = pairs
            .chunks(BLOCK)
            .map(|chunk| {
                let start = chunk[0].0.get();
                Block {
                    start,
                    pairs: chunk.iter().map(|&(s, u)| (s.get() - start, u)).collect(),
                }
            })
            .collect();
        Known { blocks, len }
    }

    /// The number of pairs.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = (NonZeroU32, NonZeroU32)> + '_ {
        self.blocks
            .iter()
            .flat_map(|b| b.pairs.iter().map(move |&(o, u)| (nz(b.start + o), u)))
    }

    /// The pair of the highest number.
    pub(super) fn last(&self) -> Option<(NonZeroU32, NonZeroU32)> {
        let b = self.blocks.last()?;
        let &(o, u) = b.pairs.last()?;
        Some((nz(b.start + o), u))
    }

    /// The block whose numbers `seq` falls among: the last that starts
    /// at or before it.
    fn block_of(&self, seq: u32) -> Option<usize> {
        self.blocks.partition_point(|b| b.start <= seq).checked_sub(1)
    }

    /// The UID of message `seq`.
    pub(super) fn get(&self, seq: NonZeroU32) -> Option<NonZeroU32> {
        let b = &self.blocks[self.block_of(seq.get())?];
        let i = b
            .pairs
            .binary_search_by_key(&(seq.get() - b.start), |&(o, _)| o)
            .ok()?;
        Some(b.pairs[i].1)
    }

    /// The pairs just before and just after message `seq`.
    pub(super) fn neighbour_pairs(&self, seq: NonZeroU32) -> (Option<Pair>, Option<Pair>) {
        let pair = |b: &Block, i: usize| (nz(b.start + b.pairs[i].0), b.pairs[i].1);
        let Some(bi) = self.block_of(seq.get()) else {
            return (None, self.blocks.first().map(|b| pair(b, 0)));
        };
        let b = &self.blocks[bi];
        let off = seq.get() - b.start;
        let before = match b.pairs.partition_point(|&(o, _)| o < off) {
            0 => bi.checked_sub(1).map(|p| {
                let prev = &self.blocks[p];
                pair(prev, prev.pairs.len() - 1)
            }),
            p => Some(pair(b, p - 1)),
        };
        let after = match b.pairs.partition_point(|&(o, _)| o <= off) {
            p if p == b.pairs.len() => self.blocks.get(bi + 1).map(|n| pair(n, 0)),
            p => Some(pair(b, p)),
        };
        (before, after)
    }

    /// Records that message `seq` has `uid`.
    pub(super) fn set(&mut self, seq: NonZeroU32, uid: NonZeroU32) {
        let seq = seq.get();
        // A listing's answers come in order: past the last pair, no
        // search, and a full last block is followed by a new one.
        let append = self
            .blocks
            .last()
            .is_none_or(|b| b.start + b.pairs.last().map_or(0, |p| p.0) < seq);
        if append {
            self.len += 1;
            match self.blocks.last_mut() {
                Some(b) if b.pairs.len() < BLOCK => b.pairs.push((seq - b.start, uid)),
                _ => {
                    let mut pairs = Vec::with_capacity(BLOCK);
                    pairs.push((0, uid));
                    self.blocks.push(Block { start: seq, pairs });
                }
            }
            return;
        }
        let bi = match self.block_of(seq) {
            Some(bi) => bi,
            None => {
                // Before the first block: it starts at `seq` now.
                let first = &mut self.blocks[0];
                let by = first.start - seq;
                first.pairs.iter_mut().for_each(|p| p.0 += by);
                first.start = seq;
                0
            }
        };
        let b = &mut self.blocks[bi];
        let off = seq - b.start;
        match b.pairs.binary_search_by_key(&off, |&(o, _)| o) {
            Ok(i) => b.pairs[i].1 = uid,
            Err(i) => {
                b.pairs.insert(i, (off, uid));
                self.len += 1;
                self.split(bi);
            }
        }
    }

    fn split(&mut self, bi: usize) {
        if self.blocks[bi].pairs.len() < 2 * BLOCK {
            return;
        }
        let b = &mut self.blocks[bi];
        let mut tail = b.pairs.split_off(BLOCK);
        let base = tail[0].0;
        tail.iter_mut().for_each(|p| p.0 -= base);
        let start = b.start + base;
        self.blocks.insert(bi + 1, Block { start, pairs: tail });
    }

    /// Forgets the UID of message `seq` (the message stays).
    pub(super) fn forget(&mut self, seq: NonZeroU32) {
        let Some(bi) = self.block_of(seq.get()) else {
            return;
        };
        let b = &mut self.blocks[bi];
        if let Ok(i) = b.pairs.binary_search_by_key(&(seq.get() - b.start), |&(o, _)| o) {
            b.pairs.remove(i);
            self.len -= 1;
            if b.pairs.is_empty() {
                self.blocks.remove(bi);
            }
        }
    }

    /// Message `seq` is expunged: its UID if known, and every later
    /// message moves down by one.
    pub(super) fn expunge(&mut self, seq: NonZeroU32) -> Option<NonZeroU32> {
        let seq = seq.get();
        let mut uid = None;
        let mut later = 0;
        if let Some(bi) = self.block_of(seq) {
            let b = &mut self.blocks[bi];
            let off = seq - b.start;
            let p = b.pairs.partition_point(|&(o, _)| o < off);
            if b.pairs.get(p).is_some_and(|&(o, _)| o == off) {
                uid = Some(b.pairs.remove(p).1);
                self.len -= 1;
            }
            // The pairs after it are above `off`, so above 0.
            b.pairs[p..].iter_mut().for_each(|q| q.0 -= 1);
            if b.pairs.is_empty() {
                self.blocks.remove(bi);
                later = bi;
            } else {
                later = bi + 1;
            }
        }
        // Later blocks start above `seq`, so above 1.
        self.blocks[later..].iter_mut().for_each(|b| b.start -= 1);
        uid
    }

    /// Removes the messages whose UID is in `ranges` (ascending, neither
    /// overlapping nor touching); the ones after each move down. How many
    /// went. A block none of the ranges reaches is only moved, not read.
    pub(super) fn remove_uids(&mut self, ranges: &[(u32, u32)]) -> u32 {
        let mut gone = 0;
        self.blocks.retain_mut(|b| {
            // Removed pairs of earlier blocks numbered below this block's
            // start, so it stays above 0; a pair's offset is above the
            // number of pairs removed before it in its block.
            let before = gone;
            b.start -= before;
            let (Some(first), Some(last)) = (b.pairs.first(), b.pairs.last()) else {
                return false;
            };
            let i = ranges.partition_point(|&(_, hi)| hi < first.1.get());
            if ranges.get(i).is_none_or(|&(lo, _)| lo > last.1.get()) {
                return true;
            }
            touched(b.pairs.len());
            b.pairs.retain_mut(|(o, u)| {
                let j = ranges.partition_point(|&(_, hi)| hi < u.get());
                if ranges.get(j).is_some_and(|&(lo, _)| lo <= u.get()) {
                    gone += 1;
                    return false;
                }
                *o -= gone - before;
                true
            });
            !b.pairs.is_empty()
        });
        self.len -= gone as usize;
        gone
    }

    /// `drop` of the messages whose UID is unknown, of `count` in all,
    /// went: the highest such numbers, and the pairs above each move down.
    /// The known pairs are walked from the top until the numbers left
    /// unknown above a pair make up `drop`; a block whose pairs all move
    /// by one amount has only its start moved (once it starts at its
    /// first pair).
    pub(super) fn lower_top(&mut self, count: u32, drop: u32) {
        let (count, drop) = (i64::from(count), i64::from(drop));
        // Known pairs above the block being looked at.
        let mut above = 0i64;
        for b in self.blocks.iter_mut().rev() {
            let len = b.pairs.len() as i64;
            // How far the pair at `offset`, with `higher` known pairs
            // above it, moves: `drop` less the unknown numbers above it.
            let by = |offset: u32, higher: i64| {
                let s = i64::from(b.start) + i64::from(offset);
                (drop - (count - s - higher)).max(0)
            };
            let (Some(&(first, _)), Some(&(last, _))) = (b.pairs.first(), b.pairs.last()) else {
                continue;
            };
            let (low, high) = (by(first, above + len - 1), by(last, above));
            if high == 0 {
                return;
            }
            // A block starts at its first pair when it moves whole: a
            // start below it could move past the block before.
            if low == high && first == 0 {
                b.start -= high as u32;
            } else {
                touched(b.pairs.len());
                let new: Vec<i64> = b
                    .pairs
                    .iter()
                    .enumerate()
                    .map(|(i, &(o, _))| i64::from(b.start) + i64::from(o) - by(o, above + len - 1 - i as i64))
                    .collect();
                b.start = new[0] as u32;
                for (p, n) in b.pairs.iter_mut().zip(new) {
                    p.0 = (n - i64::from(b.start)) as u32;
                }
            }
            if low == 0 {
                return;
            }
            above += len;
        }
    }

    /// Keeps the first `keep` pairs, numbered from 1 on with no gap: the
    /// messages whose UID is unknown went, and some known ones with them.
    /// A block already without a gap has only its start moved.
    pub(super) fn keep_first(&mut self, keep: usize) {
        let mut rank = 0usize;
        let mut blocks = 0;
        for b in &mut self.blocks {
            if rank >= keep {
                break;
            }
            b.pairs.truncate(keep - rank);
            b.start = rank as u32 + 1;
            let len = b.pairs.len();
            if b.pairs.first().map(|p| p.0) != Some(0) || b.pairs[len - 1].0 as usize != len - 1 {
                touched(len);
                for (i, p) in b.pairs.iter_mut().enumerate() {
                    p.0 = i as u32;
                }
            }
            rank += len;
            blocks += 1;
        }
        self.blocks.truncate(blocks);
        self.len = rank;
    }

    /// Forgets the pairs above message `count`.
    pub(super) fn truncate_above(&mut self, count: u32) {
        while let Some(b) = self.blocks.last_mut() {
            let keep = b
                .pairs
                .partition_point(|&(o, _)| u64::from(b.start) + u64::from(o) <= u64::from(count));
            self.len -= b.pairs.len() - keep;
            b.pairs.truncate(keep);
            if !b.pairs.is_empty() {
                break;
            }
            self.blocks.pop();
        }
    }

    pub(super) fn clear(&mut self) {
        self.blocks.clear();
        self.len = 0;
    }

    /// The number of the message whose UID is `uid`. The UIDs ascend with
    /// the numbers (the view forgets the pairs that would break that), so
    /// this is two binary searches.
    pub(super) fn find(&self, uid: NonZeroU32) -> Option<NonZeroU32> {
        let bi = self
            .blocks
            .partition_point(|b| b.pairs.last().is_some_and(|&(_, u)| u < uid));
        let b = self.blocks.get(bi)?;
        let i = b.pairs.binary_search_by_key(&uid, |&(_, u)| u).ok()?;
        Some(nz(b.start + b.pairs[i].0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Known {
        /// Panics unless the blocks are as the lookups need them: none
        /// empty, each starting at or below its first pair and above the
        /// pairs of the block before, the pairs ascending by number and UID,
        /// and `len` their number.
        pub(in crate::client) fn check(&self) {
            let mut last: Option<Pair> = None;
            for b in &self.blocks {
                assert!(!b.pairs.is_empty(), "an empty block");
                assert!(b.start >= 1, "a block starting at 0");
                assert!(
                    last.is_none_or(|(s, _)| s.get() < b.start),
                    "block start {} at or below {last:?}",
                    b.start
                );
                for &(o, u) in &b.pairs {
                    let s = nz(b.start + o);
                    assert!(
                        last.is_none_or(|(ls, lu)| ls < s && lu < u),
                        "{:?} after {last:?}",
                        (s, u)
                    );
                    last = Some((s, u));
                }
            }
            assert_eq!(self.len, self.iter().count());
        }

        /// The UIDs of the pairs just before and just after message `seq`.
        fn neighbours(&self, seq: NonZeroU32) -> (Option<NonZeroU32>, Option<NonZeroU32>) {
            let (before, after) = self.neighbour_pairs(seq);
            (before.map(|p| p.1), after.map(|p| p.1))
        }
    }

    /// A block whose first pair went (an offset left at its front) and
    /// then moves down whole: its start must not pass the block before.
    #[test]
    fn a_block_moved_whole_stays_above_the_one_before() {
        let mut k = Known::default();
        for (s, u) in [(1, 1), (2, 2), (4, 3), (10, 22), (14, 32)] {
            k.set(nz(s), nz(u));
        }
        // UID 22 (message 10) and nine never learnt go: 13 messages are
        // left, four with a known UID, so the others are all gone.
        assert_eq!(k.remove_uids(&[(13, 22)]), 1);
        k.lower_top(13, 9);
        k.check();
        let pairs: Vec<(u32, u32)> = k.iter().map(|(s, u)| (s.get(), u.get())).collect();
        assert_eq!(pairs, [(1, 1), (2, 2), (3, 3), (4, 32)]);
        for (s, u) in pairs {
            assert_eq!((k.get(nz(s)), k.find(nz(u))), (Some(nz(u)), Some(nz(s))));
        }
    }

    /// Many blocks: pairs every third message, then every message of the
    /// front expunged one after another.
    #[test]
    fn blocks_split_and_renumber_across_expunges() {
        let mut k = Known::default();
        let n = 5 * BLOCK as u32 + 1;
        for i in 1..=n {
            k.set(nz(3 * i), nz(10 * i));
        }
        assert!(k.blocks.len() >= 5);
        assert_eq!(k.len(), n as usize);
        let m = n / 2;
        assert_eq!(k.get(nz(3 * m)), Some(nz(10 * m)));
        assert_eq!(k.get(nz(3 * m + 1)), None);
        // Around a message without a UID, at one, and before the first.
        assert_eq!(
            k.neighbours(nz(3 * m + 1)),
            (Some(nz(10 * m)), Some(nz(10 * m + 10)))
        );
        assert_eq!(
            k.neighbours(nz(3 * m)),
            (Some(nz(10 * m - 10)), Some(nz(10 * m + 10)))
        );
        assert_eq!(k.neighbours(nz(1)), (None, Some(nz(10))));
        assert_eq!(k.neighbours(nz(3 * n + 5)), (Some(nz(10 * n)), None));
        // Every block's first and last pair, seen from both sides.
        for b in 0..k.blocks.len() {
            let block = &k.blocks[b];
            let first = block.start + block.pairs[0].0;
            let last = block.start + block.pairs.last().expect("not empty").0;
            assert_eq!(k.neighbours(nz(first)).1, k.get(nz(first + 3)));
            assert_eq!(k.neighbours(nz(last)).0, k.get(nz(last - 3)));
        }
        // Messages 1 and 2 have no known UID, message 3 has.
        assert_eq!(k.expunge(nz(1)), None);
        assert_eq!(k.expunge(nz(1)), None);
        assert_eq!(k.expunge(nz(1)), Some(nz(10)));
        assert_eq!(k.get(nz(3)), Some(nz(20)));
        assert_eq!(k.get(nz(3 * n - 3)), Some(nz(10 * n)));
        let pairs: Vec<_> = k.iter().collect();
        assert!(pairs.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(Known::from_sorted(pairs), k);
        // Set before the first block and inside blocks, out of order.
        k.set(nz(1), nz(1));
        k.set(nz(4), nz(25));
        assert_eq!(
            (k.get(nz(1)), k.get(nz(3)), k.get(nz(4))),
            (Some(nz(1)), Some(nz(20)), Some(nz(25)))
        );
        assert_eq!(k.len(), n as usize + 1);
        // UIDs of the first block and of a middle one go: the pairs after
        // each move down by the number gone before them.
        let gone = k.remove_uids(&[(20, 20), (10 * m, 10 * m)]);
        assert_eq!(gone, 2);
        assert_eq!((k.get(nz(3)), k.get(nz(4))), (Some(nz(25)), None));
        assert_eq!(k.get(nz(3 * m - 7)), Some(nz(10 * m - 10)));
        assert_eq!(k.get(nz(3 * m - 2)), Some(nz(10 * m + 10)));
        assert_eq!(k.get(nz(3 * n - 5)), Some(nz(10 * n)));
        let pairs: Vec<_> = k.iter().collect();
        assert!(pairs.windows(2).all(|w| w[0].0 < w[1].0));
        k.truncate_above(3 * m - 2);
        assert_eq!(k.last(), Some((nz(3 * m - 2), nz(10 * m + 10))));
        for _ in 0..3 * n {
            k.expunge(nz(1));
        }
        assert_eq!((k.len(), k.blocks.len()), (0, 0));
    }
}

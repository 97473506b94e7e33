//! The home of [`SequenceSet`] and what goes with it; the explanation of this
//! part of the grammar is on that type, where the rendered documentation
//! shows it.

use std::fmt;
use std::num::NonZeroU32;
use std::ops::{RangeFrom, RangeInclusive};
use std::str::FromStr;

use crate::decode::ErrorKind;
use crate::parse::{PError, PResult, fail, nz_number, parse_whole, put_number, too_many};
use crate::string::TypeError;

/// `seq-number = nz-number / "*"`: a message sequence number or UID, or
/// `*`, the largest number in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SeqNumber {
    /// A number from 1.
    Value(NonZeroU32),
    /// `*`: the number of messages in the mailbox (sequence numbers), or
    /// the UID of the last message, or UIDNEXT when the mailbox is empty
    /// (UIDs).
    Largest,
}

impl SeqNumber {
    /// A number; 0 is not one.
    pub fn new(n: u32) -> Result<Self, TypeError> {
        NonZeroU32::new(n)
            .map(SeqNumber::Value)
            .ok_or(TypeError::problem("sequence number", "must not be 0"))
    }

    /// The number, with `*` standing for `largest`.
    pub fn resolve(self, largest: u32) -> u32 {
        match self {
            SeqNumber::Value(n) => n.get(),
            SeqNumber::Largest => largest,
        }
    }

    /// `seq-number = nz-number / "*"`; `nz-number = digit-nz *DIGIT`, so a
    /// leading zero is refused.
    pub(crate) fn parse(input: &[u8]) -> PResult<'_, Self> {
        match input {
            [b'*', rest @ ..] => Ok((rest, SeqNumber::Largest)),
            [b'0', d, ..] if d.is_ascii_digit() => fail(input, "number without a leading zero"),
            [b'0', ..] => Err(nom::Err::Error(PError::kind(
                input,
                ErrorKind::NumberOutOfRange,
                "number from 1",
            ))),
            [b'1'..=b'9', ..] => nz_number(input).map(|(rest, n)| (rest, SeqNumber::Value(n))),
            _ => fail(input, "sequence number or '*'"),
        }
    }

    fn encode(self, out: &mut Vec<u8>) {
        match self {
            SeqNumber::Value(n) => put_number(out, u64::from(n.get())),
            SeqNumber::Largest => out.push(b'*'),
        }
    }
}

impl From<NonZeroU32> for SeqNumber {
    fn from(n: NonZeroU32) -> Self {
        SeqNumber::Value(n)
    }
}

impl TryFrom<u32> for SeqNumber {
    type Error = TypeError;
    fn try_from(n: u32) -> Result<Self, TypeError> {
        SeqNumber::new(n)
    }
}

impl fmt::Display for SeqNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SeqNumber::Value(n) => write!(f, "{n}"),
            SeqNumber::Largest => f.write_str("*"),
        }
    }
}

/// One element of a sequence set: `seq-range = seq-number ":" seq-number`,
/// or a single `seq-number` (start and end equal).
///
/// The ends are kept in the order sent; `5:2` means the same numbers as
/// `2:5` (RFC 9051: "regardless of order").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SeqRange {
    start: SeqNumber,
    end: SeqNumber,
}

impl SeqRange {
    /// The range from `start` to `end`, in either order.
    pub fn new(start: SeqNumber, end: SeqNumber) -> Self {
        SeqRange { start, end }
    }

    /// A single number.
    pub fn single(n: SeqNumber) -> Self {
        SeqRange { start: n, end: n }
    }

    /// The first end, as sent.
    pub fn start(&self) -> SeqNumber {
        self.start
    }

    /// The second end, as sent.
    pub fn end(&self) -> SeqNumber {
        self.end
    }

    /// Whether this is a single number (encoded without `:`).
    pub fn is_single(&self) -> bool {
        self.start == self.end
    }

    /// The numbers this range covers in a mailbox whose largest number is
    /// `largest`: `*` stands for `largest`, reversed ends are put in order,
    /// and the result is cut to `1..=largest` (so it is empty when
    /// `largest` is 0, or when the whole range is above `largest`).
    pub fn resolve(&self, largest: u32) -> RangeInclusive<u32> {
        let (a, b) = (self.start.resolve(largest), self.end.resolve(largest));
        let (low, high) = if a <= b { (a, b) } else { (b, a) };
        let (low, high) = (low.max(1), high.min(largest));
        if low <= high { low..=high } else { Self::EMPTY }
    }

    /// Whether `n` is in the range, with `*` standing for `largest` (see
    /// [`SeqRange::resolve`]).
    pub fn contains(&self, n: u32, largest: u32) -> bool {
        self.resolve(largest).contains(&n)
    }

    /// Deliberately empty: what a range outside `1..=largest` resolves to.
    #[allow(clippy::reversed_empty_ranges)]
    const EMPTY: RangeInclusive<u32> = 1..=0;

    /// `seq-number / seq-range`; with `star` false, `*` is refused
    /// (`uid-set`).
    fn parse(input: &[u8], star: bool) -> PResult<'_, Self> {
        fn number(i: &[u8], star: bool) -> PResult<'_, SeqNumber> {
            match i.first() {
                Some(b'*') if !star => fail(i, "UID ('*' is not allowed in a uid-set)"),
                Some(b) if !star && !b.is_ascii_digit() => fail(i, "UID"),
                None if !star => fail(i, "UID"),
                _ => SeqNumber::parse(i),
            }
        }
        let (rest, start) = number(input, star)?;
        match rest.strip_prefix(b":") {
            Some(rest) => {
                let (rest, end) = number(rest, star)?;
                Ok((rest, SeqRange { start, end }))
            }
            None => Ok((rest, SeqRange::single(start))),
        }
    }

    fn encode(&self, out: &mut Vec<u8>) {
        self.start.encode(out);
        if !self.is_single() {
            out.push(b':');
            self.end.encode(out);
        }
    }
}

impl From<SeqNumber> for SeqRange {
    fn from(n: SeqNumber) -> Self {
        SeqRange::single(n)
    }
}

impl TryFrom<RangeInclusive<u32>> for SeqRange {
    type Error = TypeError;
    /// `a..=b` as `a:b`; 0 is refused.
    fn try_from(range: RangeInclusive<u32>) -> Result<Self, TypeError> {
        Ok(SeqRange::new(
            SeqNumber::new(*range.start())?,
            SeqNumber::new(*range.end())?,
        ))
    }
}

impl TryFrom<RangeFrom<u32>> for SeqRange {
    type Error = TypeError;
    /// `a..` as `a:*`; 0 is refused.
    fn try_from(range: RangeFrom<u32>) -> Result<Self, TypeError> {
        Ok(SeqRange::new(SeqNumber::new(range.start)?, SeqNumber::Largest))
    }
}

impl fmt::Display for SeqRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_single() {
            write!(f, "{}", self.start)
        } else {
            write!(f, "{}:{}", self.start, self.end)
        }
    }
}

/// `sequence-set = (seq-number / seq-range) ["," sequence-set]`, or `$`,
/// the result of the last SEARCH with `RETURN (SAVE)` (RFC 5182,
/// `sequence-set =/ seq-last-command`).
///
/// Never empty. `$` is accepted only as the whole set: the grammar's
/// recursion would also let it end a list (`1,$`), but RFC 5182 and RFC
/// 9051 section 6.4.4.1 only ever use it alone and combine it with other
/// numbers through `OR` in SEARCH; such a set is refused at the `$`.
///
/// Sequence sets (RFC 9051 section 9): message sequence numbers or UIDs as
/// numbers and ranges, `*` for the largest number in use, and `$` for the
/// saved search result (SEARCHRES, RFC 5182, part of IMAP4rev2). Also the
/// `uid-set` of UIDPLUS (RFC 4315, part of IMAP4rev2), which allows
/// neither `*` nor `$`.
///
/// A set is kept as sent, one [`SeqRange`] per element, so decoding what
/// was encoded gives the same value. Expanding a set into numbers
/// ([`SequenceSet::iter`]) is lazy: a hostile `1:4294967295` costs nothing
/// until it is iterated, and iteration stops at the largest number in use.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SequenceSet(Repr);

#[derive(Clone, PartialEq, Eq, Hash)]
enum Repr {
    Ranges(Vec<SeqRange>),
    LastCommand,
}

impl SequenceSet {
    /// `$`: the saved search result.
    pub const LAST_COMMAND: SequenceSet = SequenceSet(Repr::LastCommand);

    /// A set of these ranges, in this order; empty is refused.
    pub fn new(ranges: Vec<SeqRange>) -> Result<Self, TypeError> {
        if ranges.is_empty() {
            return Err(TypeError::problem("sequence set", "must not be empty"));
        }
        Ok(SequenceSet(Repr::Ranges(ranges)))
    }

    /// The numbers in the order given, with every run of consecutive
    /// ascending numbers merged into a range (`1,2,3,7,5,6` is
    /// `1:3,7,5:6`). Order matters where a set maps onto another (COPYUID).
    /// Refuses 0, naming its index, and an empty iterator.
    pub fn from_numbers(numbers: impl IntoIterator<Item = u32>) -> Result<Self, TypeError> {
        let mut ranges: Vec<(u32, u32)> = Vec::new();
        for (i, n) in numbers.into_iter().enumerate() {
            if n == 0 {
                return Err(TypeError {
                    what: "sequence set",
                    problem: "0 is not a message number",
                    byte: None,
                    position: Some(i),
                });
            }
            match ranges.last_mut() {
                Some((_, end)) if end.checked_add(1) == Some(n) => *end = n,
                _ => ranges.push((n, n)),
            }
        }
        Self::from_pairs(ranges)
    }

    /// The numbers in ascending order without duplicates, merged into
    /// ranges: the shortest encoding of the set (`7,1,3,2,2` is `1:3,7`).
    pub fn from_unordered(numbers: impl IntoIterator<Item = u32>) -> Result<Self, TypeError> {
        let mut numbers: Vec<u32> = numbers.into_iter().collect();
        numbers.sort_unstable();
        numbers.dedup();
        Self::from_numbers(numbers)
    }

    fn from_pairs(pairs: Vec<(u32, u32)>) -> Result<Self, TypeError> {
        let value = |n| SeqNumber::Value(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN));
        Self::new(
            pairs
                .into_iter()
                .map(|(a, b)| SeqRange::new(value(a), value(b)))
                .collect(),
        )
    }

    /// Whether this is `$`, which the caller replaces with the saved search
    /// result before using the set.
    pub fn is_last_command(&self) -> bool {
        matches!(self.0, Repr::LastCommand)
    }

    /// The elements as sent; empty for `$`.
    pub fn ranges(&self) -> &[SeqRange] {
        match &self.0 {
            Repr::Ranges(r) => r,
            Repr::LastCommand => &[],
        }
    }

    /// The numbers of the set in a mailbox whose largest number is
    /// `largest`, element by element without allocating: `*` stands for
    /// `largest`, a reversed range counts up, and numbers above `largest`
    /// are skipped (they name no message). Overlapping elements yield
    /// their numbers more than once; [`SequenceSet::normalized`] merges
    /// them. `$` yields nothing.
    pub fn iter(&self, largest: u32) -> SequenceIter<'_> {
        SequenceIter {
            ranges: self.ranges().iter(),
            current: SeqRange::EMPTY,
            largest,
        }
    }

    /// Each element resolved as by [`SeqRange::resolve`], in order.
    pub fn resolved_ranges(&self, largest: u32) -> impl Iterator<Item = RangeInclusive<u32>> + '_ {
        self.ranges().iter().map(move |r| r.resolve(largest))
    }

    /// Whether `n` is in the set (see [`SequenceSet::iter`]); never for `$`.
    pub fn contains(&self, n: u32, largest: u32) -> bool {
        self.ranges().iter().any(|r| r.contains(n, largest))
    }

    /// Whether the set names a number above `largest`, or uses `*` when
    /// `largest` is 0: for message sequence numbers, what a server answers
    /// with BAD (RFC 9051, `seq-number`). UID sets may name UIDs that do
    /// not exist.
    pub fn exceeds(&self, largest: u32) -> bool {
        self.ranges()
            .iter()
            .flat_map(|r| [r.start, r.end])
            .any(|n| match n {
                SeqNumber::Value(v) => v.get() > largest,
                SeqNumber::Largest => largest == 0,
            })
    }

    /// The same numbers within `1..=largest`, sorted, without overlaps and
    /// with adjacent ranges merged; `None` for `$` or when no number is
    /// left.
    pub fn normalized(&self, largest: u32) -> Option<SequenceSet> {
        let mut pairs: Vec<(u32, u32)> = self
            .resolved_ranges(largest)
            .filter(|r| !r.is_empty())
            .map(|r| (*r.start(), *r.end()))
            .collect();
        pairs.sort_unstable();
        let mut merged: Vec<(u32, u32)> = Vec::with_capacity(pairs.len());
        for (a, b) in pairs {
            match merged.last_mut() {
                Some((_, end)) if u64::from(a) <= u64::from(*end) + 1 => *end = (*end).max(b),
                _ => merged.push((a, b)),
            }
        }
        Self::from_pairs(merged).ok()
    }

    /// Whether the set is also a valid `uid-set` (no `*`, not `$`).
    pub fn is_uid_set(&self) -> bool {
        !self.is_last_command()
            && self
                .ranges()
                .iter()
                .all(|r| r.start != SeqNumber::Largest && r.end != SeqNumber::Largest)
    }

    /// `sequence-set = (seq-number / seq-range) ["," sequence-set]`,
    /// `sequence-set =/ seq-last-command`, `seq-last-command = "$"`; at
    /// most `max` elements.
    pub(crate) fn parse(input: &[u8], max: usize) -> PResult<'_, Self> {
        if let Some(rest) = input.strip_prefix(b"$") {
            if rest.first() == Some(&b',') {
                return fail(rest, "end of the sequence set ('$' stands alone)");
            }
            return Ok((rest, SequenceSet::LAST_COMMAND));
        }
        let (rest, ranges) = parse_elements(input, max, true)?;
        Ok((rest, SequenceSet(Repr::Ranges(ranges))))
    }

    /// Writes the set without spaces: single numbers without `:`.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        match &self.0 {
            Repr::Ranges(ranges) => encode_elements(ranges, out),
            Repr::LastCommand => out.push(b'$'),
        }
    }
}

/// `(seq-number / seq-range) *("," (seq-number / seq-range))`, at most
/// `max` elements; `star` allows `*`.
fn parse_elements(input: &[u8], max: usize, star: bool) -> PResult<'_, Vec<SeqRange>> {
    let mut ranges = Vec::new();
    let mut rest = input;
    loop {
        if ranges.len() == max {
            return too_many(rest, max, "no more sequence set elements");
        }
        let (r, range) = match rest.first() {
            Some(b'$') if !ranges.is_empty() => return fail(rest, "sequence number ('$' stands alone)"),
            _ => SeqRange::parse(rest, star)?,
        };
        ranges.push(range);
        match r.strip_prefix(b",") {
            Some(r) => rest = r,
            None => return Ok((r, ranges)),
        }
    }
}

fn encode_elements(ranges: &[SeqRange], out: &mut Vec<u8>) {
    for (i, r) in ranges.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        r.encode(out);
    }
}

impl From<SeqNumber> for SequenceSet {
    fn from(n: SeqNumber) -> Self {
        SequenceSet(Repr::Ranges(vec![SeqRange::single(n)]))
    }
}

impl From<SeqRange> for SequenceSet {
    fn from(r: SeqRange) -> Self {
        SequenceSet(Repr::Ranges(vec![r]))
    }
}

impl From<NonZeroU32> for SequenceSet {
    fn from(n: NonZeroU32) -> Self {
        SeqNumber::Value(n).into()
    }
}

impl TryFrom<u32> for SequenceSet {
    type Error = TypeError;
    fn try_from(n: u32) -> Result<Self, TypeError> {
        SeqNumber::new(n).map(Into::into)
    }
}

impl TryFrom<RangeInclusive<u32>> for SequenceSet {
    type Error = TypeError;
    /// `a..=b` as `a:b` (`a` when equal).
    fn try_from(range: RangeInclusive<u32>) -> Result<Self, TypeError> {
        SeqRange::try_from(range).map(Into::into)
    }
}

impl TryFrom<RangeFrom<u32>> for SequenceSet {
    type Error = TypeError;
    /// `a..` as `a:*`.
    fn try_from(range: RangeFrom<u32>) -> Result<Self, TypeError> {
        SeqRange::try_from(range).map(Into::into)
    }
}

impl FromStr for SequenceSet {
    type Err = TypeError;
    /// Parses the wire form (`1:3,5,7:*` or `$`) with no element limit.
    fn from_str(s: &str) -> Result<Self, TypeError> {
        parse_whole("sequence set", s.as_bytes(), |i| {
            SequenceSet::parse(i, usize::MAX)
        })
    }
}

impl TryFrom<&str> for SequenceSet {
    type Error = TypeError;
    fn try_from(s: &str) -> Result<Self, TypeError> {
        s.parse()
    }
}

impl fmt::Display for SequenceSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = Vec::new();
        self.encode(&mut out);
        // The encoding is ASCII.
        f.write_str(std::str::from_utf8(&out).unwrap_or_default())
    }
}

impl fmt::Debug for SequenceSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SequenceSet({self})")
    }
}

/// The numbers of a [`SequenceSet`]; see [`SequenceSet::iter`].
#[derive(Debug, Clone)]
pub struct SequenceIter<'s> {
    ranges: std::slice::Iter<'s, SeqRange>,
    current: RangeInclusive<u32>,
    largest: u32,
}

impl Iterator for SequenceIter<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        loop {
            if let Some(n) = self.current.next() {
                return Some(n);
            }
            self.current = self.ranges.next()?.resolve(self.largest);
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let (low, _) = self.current.size_hint();
        (
            low,
            if self.ranges.as_slice().is_empty() {
                Some(low)
            } else {
                None
            },
        )
    }
}

impl std::iter::FusedIterator for SequenceIter<'_> {}

/// `uid-set = (uniqueid / uid-range) *("," uid-set)` (RFC 4315, RFC 9051):
/// UIDs and ranges of UIDs, without `*` or `$`, as in the COPYUID and
/// APPENDUID response codes.
///
/// Order is kept: in COPYUID the n-th source UID was copied to the n-th
/// destination UID. Each range counts up whichever way it was sent
/// (`uid-range`: "2:4 and 4:2 are equivalent").
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct UidSet(SequenceSet);

impl UidSet {
    /// The UIDs in the order given, runs of consecutive ascending UIDs
    /// merged (see [`SequenceSet::from_numbers`]).
    pub fn from_numbers(uids: impl IntoIterator<Item = u32>) -> Result<Self, TypeError> {
        SequenceSet::from_numbers(uids).map(UidSet)
    }

    /// The UIDs sorted, without duplicates, merged into ranges.
    pub fn from_unordered(uids: impl IntoIterator<Item = u32>) -> Result<Self, TypeError> {
        SequenceSet::from_unordered(uids).map(UidSet)
    }

    /// The set as a sequence set.
    pub fn as_sequence_set(&self) -> &SequenceSet {
        &self.0
    }

    /// The set as a sequence set.
    pub fn into_sequence_set(self) -> SequenceSet {
        self.0
    }

    /// The UIDs, in order, without allocating.
    pub fn iter(&self) -> SequenceIter<'_> {
        self.0.iter(u32::MAX)
    }

    /// Whether `uid` is in the set.
    pub fn contains(&self, uid: u32) -> bool {
        self.0.contains(uid, u32::MAX)
    }

    /// How many UIDs the set names (counting overlaps more than once), to
    /// check that the two sets of COPYUID pair up.
    pub fn count(&self) -> u64 {
        self.0
            .resolved_ranges(u32::MAX)
            .map(|r| u64::from(r.end() - r.start()) + 1)
            .sum()
    }

    /// Where `uid` first comes in the set, counting from 0 in the order
    /// written (a range from its lower end): with [`UidSet::nth`], what
    /// pairs a source UID of COPYUID with its destination UID (RFC 4315
    /// section 3 lists both sets in one order). Looked up range by range,
    /// never walked: a set of a few bytes may name four billion UIDs.
    pub fn position(&self, uid: u32) -> Option<u64> {
        let mut before = 0u64;
        for r in self.0.resolved_ranges(u32::MAX) {
            if r.contains(&uid) {
                return Some(before + u64::from(uid - r.start()));
            }
            before += u64::from(r.end() - r.start()) + 1;
        }
        None
    }

    /// The UID at position `n` (from 0, in the order written; see
    /// [`UidSet::position`]).
    pub fn nth(&self, n: u64) -> Option<u32> {
        let mut n = n;
        for r in self.0.resolved_ranges(u32::MAX) {
            let len = u64::from(r.end() - r.start()) + 1;
            if n < len {
                return u32::try_from(n).ok().map(|n| r.start() + n);
            }
            n -= len;
        }
        None
    }

    /// `uid-set = (uniqueid / uid-range) *("," uid-set)`,
    /// `uid-range = (uniqueid ":" uniqueid)`, `uniqueid = nz-number`; at
    /// most `max` elements.
    pub(crate) fn parse(input: &[u8], max: usize) -> PResult<'_, Self> {
        if input.first() == Some(&b'$') {
            return fail(input, "UID ('$' is not allowed in a uid-set)");
        }
        let (rest, ranges) = parse_elements(input, max, false)?;
        Ok((rest, UidSet(SequenceSet(Repr::Ranges(ranges)))))
    }

    /// Writes the set.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        self.0.encode(out);
    }
}

impl TryFrom<SequenceSet> for UidSet {
    type Error = TypeError;
    /// Refuses `*` and `$`.
    fn try_from(set: SequenceSet) -> Result<Self, TypeError> {
        if set.is_uid_set() {
            Ok(UidSet(set))
        } else {
            Err(TypeError::problem("uid-set", "'*' and '$' are not allowed"))
        }
    }
}

impl From<UidSet> for SequenceSet {
    fn from(set: UidSet) -> Self {
        set.0
    }
}

impl FromStr for UidSet {
    type Err = TypeError;
    fn from_str(s: &str) -> Result<Self, TypeError> {
        parse_whole("uid-set", s.as_bytes(), |i| UidSet::parse(i, usize::MAX))
    }
}

impl fmt::Display for UidSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for UidSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UidSet({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn set(s: &str) -> SequenceSet {
        s.parse().unwrap()
    }

    fn encoded(s: &SequenceSet) -> String {
        let mut out = Vec::new();
        s.encode(&mut out);
        String::from_utf8(out).unwrap()
    }

    /// The error of `parse` on `input`, as a decode error against it.
    fn error(input: &[u8], max: usize) -> crate::DecodeError {
        match SequenceSet::parse(input, max) {
            Err(nom::Err::Error(e)) => e.into_decode_error(input),
            other => panic!("expected an error, got {other:?}"),
        }
    }

    /// COPYUID pairs (RFC 4315 section 3): a source UID's position in its
    /// set is its destination's in the other, in the order written, a
    /// reversed range read from its lower end; sets of four billion UIDs
    /// are looked up, not walked.
    #[test]
    fn uid_positions_pair_copyuid_sets() {
        let uids = |s: &str| -> UidSet { s.parse().unwrap() };
        let (from, into) = (uids("7,3:5,9"), uids("20:24"));
        let pairs: Vec<(u32, u32)> = from
            .iter()
            .map(|a| (a, from.position(a).and_then(|n| into.nth(n)).unwrap()))
            .collect();
        assert_eq!(pairs, [(7, 20), (3, 21), (4, 22), (5, 23), (9, 24)]);
        assert_eq!(uids("5:3").position(5), Some(2));
        assert_eq!(from.position(6), None);
        assert_eq!(into.nth(5), None);
        let huge = uids("10:4294967294,1:4");
        assert_eq!(huge.position(2), Some(4_294_967_285 + 1));
        assert_eq!(huge.nth(4_294_967_286), Some(2));
        assert_eq!(huge.nth(u64::MAX), None);
        assert_eq!(huge.position(4_294_967_294), Some(4_294_967_284));
        // A UID named twice is at its first place.
        assert_eq!(uids("4,1:9").position(4), Some(0));
    }

    #[test]
    fn rfc_examples() {
        // RFC 9051 section 9, sequence-set.
        let s = set("2,4:7,9,12:*");
        assert_eq!(s.iter(15).collect::<Vec<_>>(), [2, 4, 5, 6, 7, 9, 12, 13, 14, 15]);
        let s = set("*:4,5:7");
        assert_eq!(s.iter(10).collect::<Vec<_>>(), [4, 5, 6, 7, 8, 9, 10, 5, 6, 7]);
        assert_eq!(s.normalized(10).unwrap(), set("4:10"));
        // seq-range: 2:4 and 4:2 are equivalent.
        assert!(set("2:4").iter(10).eq(set("4:2").iter(10)));
        // A UID range 3291:* includes the last UID even if it is lower.
        assert_eq!(set("3291:*").iter(3000).collect::<Vec<_>>(), [3000]);
        assert!(set("3291:*").contains(3000, 3000));
    }

    #[test]
    fn parse_and_encode() {
        let (rest, s) = SequenceSet::parse(b"1:3,5 (FLAGS)", 10).unwrap();
        assert_eq!(rest, b" (FLAGS)");
        assert_eq!(s.ranges().len(), 2);
        assert_eq!(encoded(&s), "1:3,5");
        assert_eq!(encoded(&set("5:5")), "5");
        assert_eq!(encoded(&set("*")), "*");
        assert_eq!(encoded(&set("4294967295:1")), "4294967295:1");
        let (rest, s) = SequenceSet::parse(b"$ FLAGS", 10).unwrap();
        assert!(s.is_last_command() && rest == b" FLAGS");
        assert_eq!(encoded(&s), "$");
        assert_eq!(s.iter(10).count(), 0);
        assert_eq!(format!("{:?}", set("1,*")), "SequenceSet(1,*)");
    }

    #[test]
    fn rejections_name_the_position() {
        let e = error(b"0", 10);
        assert_eq!((e.offset, e.kind), (0, ErrorKind::NumberOutOfRange));
        let e = error(b"1,0:5", 10);
        assert_eq!((e.offset, e.kind), (2, ErrorKind::NumberOutOfRange));
        let e = error(b"1:", 10);
        assert_eq!(
            (e.offset, e.expected, e.found),
            (2, "sequence number or '*'", None)
        );
        let e = error(b",", 10);
        assert_eq!((e.offset, e.found), (0, Some(b',')));
        let e = error(b"1,,2", 10);
        assert_eq!(e.offset, 2);
        let e = error(b"1,", 10);
        assert_eq!(e.offset, 2);
        let e = error(b"07", 10);
        assert_eq!((e.offset, e.kind), (0, ErrorKind::Syntax));
        let e = error(b"4294967296", 10);
        assert_eq!(e.kind, ErrorKind::NumberOutOfRange);
        let e = error(b"1,$", 10);
        assert_eq!(e.offset, 2);
        let e = error(b"$,1", 10);
        assert_eq!(e.offset, 1);
        let e = error(b"", 10);
        assert_eq!(e.offset, 0);
        // Trailing bytes belong to the caller; FromStr refuses them.
        let t = "1:2x".parse::<SequenceSet>().unwrap_err();
        assert_eq!((t.byte, t.position), (Some(b'x'), Some(3)));
        let t = "1:0".parse::<SequenceSet>().unwrap_err();
        assert_eq!(t.position, Some(2));
        assert!(t.to_string().contains("position 2"), "{t}");
    }

    #[test]
    fn limit_on_elements() {
        let (rest, set) = SequenceSet::parse(b"1,2,3", 3).unwrap();
        assert_eq!((rest, set.to_string()), (&b""[..], "1,2,3".to_owned()));
        let e = error(b"1,2,3,4", 3);
        assert_eq!((e.kind, e.offset), (ErrorKind::TooMany { limit: 3 }, 6));
        // A single range of any size is one element.
        let (rest, set) = SequenceSet::parse(b"1:4294967295", 1).unwrap();
        assert_eq!((rest, set.to_string()), (&b""[..], "1:4294967295".to_owned()));
        let (rest, set) = SequenceSet::parse(b"$", 0).unwrap();
        assert_eq!((rest, set.to_string()), (&b""[..], "$".to_owned()));
    }

    #[test]
    fn constructors_merge_runs() {
        let s = SequenceSet::from_numbers([1, 2, 3, 7, 5, 6]).unwrap();
        assert_eq!(encoded(&s), "1:3,7,5:6");
        let s = SequenceSet::from_unordered([7, 1, 3, 2, 2]).unwrap();
        assert_eq!(encoded(&s), "1:3,7");
        let s = SequenceSet::from_numbers([u32::MAX - 1, u32::MAX, 1]).unwrap();
        assert_eq!(encoded(&s), "4294967294:4294967295,1");
        let e = SequenceSet::from_numbers([3, 0]).unwrap_err();
        assert_eq!(e.position, Some(1));
        assert!(SequenceSet::from_numbers([]).is_err());
        assert!(SequenceSet::new(Vec::new()).is_err());
        assert_eq!(SequenceSet::try_from(3..=5).unwrap(), set("3:5"));
        assert_eq!(SequenceSet::try_from(3..).unwrap(), set("3:*"));
        assert_eq!(SequenceSet::try_from(4).unwrap(), set("4"));
        assert!(SequenceSet::try_from(0..=5).is_err());
        assert!(SeqNumber::new(0).is_err());
    }

    #[test]
    fn iteration_is_bounded_by_largest() {
        let s = set("1:4294967295");
        assert_eq!(s.iter(3).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(s.iter(0).count(), 0);
        assert_eq!(set("5:10").iter(3).count(), 0);
        assert!(set("5:10").exceeds(3) && !set("5:10").exceeds(10));
        assert!(set("*").exceeds(0) && !set("*").exceeds(1));
        // u32::MAX as an end does not overflow.
        let top = set("4294967294:*");
        assert_eq!(top.iter(u32::MAX).collect::<Vec<_>>(), [u32::MAX - 1, u32::MAX]);
        assert!(top.contains(u32::MAX, u32::MAX) && !top.contains(1, u32::MAX));
        assert_eq!(set("1:3,*").normalized(4).unwrap(), set("1:4"));
        assert_eq!(set("5:6").normalized(4), None);
        assert_eq!(SequenceSet::LAST_COMMAND.normalized(4), None);
    }

    #[test]
    fn uid_sets() {
        let (rest, u) = UidSet::parse(b"4:2,10 ", 10).unwrap();
        assert_eq!(rest, b" ");
        assert_eq!(u.iter().collect::<Vec<_>>(), [2, 3, 4, 10]);
        assert_eq!(u.count(), 4);
        assert!(u.contains(3) && !u.contains(5));
        let Err(nom::Err::Error(e)) = UidSet::parse(b"1:*", 10) else {
            panic!()
        };
        assert_eq!(e.into_decode_error(b"1:*").offset, 2);
        let Err(nom::Err::Error(e)) = UidSet::parse(b"$", 10) else {
            panic!()
        };
        assert_eq!(e.remaining, 1);
        assert!(UidSet::try_from(set("1:*")).is_err());
        assert!(UidSet::try_from(SequenceSet::LAST_COMMAND).is_err());
        assert_eq!(UidSet::try_from(set("1:5")).unwrap().to_string(), "1:5");
        assert_eq!("3,1:2".parse::<UidSet>().unwrap().count(), 3);
        assert_eq!(UidSet::from_unordered([9, 8, 1]).unwrap().to_string(), "1,8:9");
        assert_eq!(UidSet::from_numbers([u32::MAX]).unwrap().count(), 1);
    }

    fn seq_number() -> impl Strategy<Value = SeqNumber> {
        prop_oneof![
            1 => Just(SeqNumber::Largest),
            6 => (1u32..=u32::MAX).prop_map(|n| SeqNumber::new(n).unwrap()),
            3 => (1u32..20).prop_map(|n| SeqNumber::new(n).unwrap()),
        ]
    }

    fn sequence_set() -> impl Strategy<Value = SequenceSet> {
        prop_oneof![
            1 => Just(SequenceSet::LAST_COMMAND),
            20 => proptest::collection::vec((seq_number(), seq_number()).prop_map(|(a, b)| SeqRange::new(a, b)), 1..8)
                .prop_map(|r| SequenceSet::new(r).unwrap()),
        ]
    }

    proptest! {
        #[test]
        fn round_trip(s in sequence_set()) {
            let text = encoded(&s);
            let (rest, back) = SequenceSet::parse(text.as_bytes(), 8).unwrap();
            prop_assert!(rest.is_empty());
            prop_assert_eq!(&back, &s);
            prop_assert_eq!(text.parse::<SequenceSet>().unwrap(), s);
        }

        #[test]
        fn iteration_matches_contains(s in sequence_set(), largest in 0u32..30) {
            let listed: std::collections::BTreeSet<u32> = s.iter(largest).collect();
            for n in 0..=largest + 1 {
                prop_assert_eq!(listed.contains(&n), s.contains(n, largest), "n = {}", n);
            }
            let normalized: Vec<u32> = s.normalized(largest).map(|n| n.iter(largest).collect()).unwrap_or_default();
            prop_assert_eq!(normalized, listed.into_iter().collect::<Vec<_>>());
        }

        #[test]
        fn constructors_keep_the_numbers(numbers in proptest::collection::vec(1u32..50, 1..30)) {
            let s = SequenceSet::from_numbers(numbers.iter().copied()).unwrap();
            prop_assert_eq!(s.iter(u32::MAX).collect::<Vec<_>>(), numbers.clone());
            let u = SequenceSet::from_unordered(numbers.iter().copied()).unwrap();
            let mut sorted = numbers;
            sorted.sort_unstable();
            sorted.dedup();
            prop_assert_eq!(u.iter(u32::MAX).collect::<Vec<_>>(), sorted);
            prop_assert_eq!(u.normalized(u32::MAX).unwrap(), u);
        }
    }
}

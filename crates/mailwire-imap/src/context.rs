//! CONTEXT=SEARCH and CONTEXT=SORT (RFC 5267 section 4) and PARTIAL (RFC
//! 9394): a SEARCH or SORT whose result the server keeps up to date
//! (`UPDATE`, answered by ESEARCH `ADDTO` and `REMOVEFROM` data until
//! `CANCELUPDATE`), and results asked for one page at a time (`PARTIAL`).
//! The return options and data items themselves are variants of
//! [`SearchReturnOption`](crate::SearchReturnOption) and
//! [`SearchReturnData`](crate::SearchReturnData); the values they carry
//! live here.
//!
//! ```text
//! command-select      =/ "CANCELUPDATE" 1*(SP quoted)
//! context-position    = number
//! modifier-context    = "CONTEXT"
//! modifier-update     = "UPDATE"
//! modifier-partial    = "PARTIAL" SP partial-range
//! partial-range       = partial-range-first / partial-range-last
//! partial-range-first = nz-number ":" nz-number
//! partial-range-last  = MINUS nz-number ":" MINUS nz-number
//! ret-data-addto      = "ADDTO" SP "(" context-position SP sequence-set
//!                       *(SP context-position SP sequence-set) ")"
//! ret-data-removefrom = "REMOVEFROM" SP "(" context-position SP
//!                       sequence-set *(SP context-position SP
//!                       sequence-set) ")"
//! ret-data-partial    = "PARTIAL" SP "(" partial-range SP
//!                       partial-results ")"
//! partial-results     = sequence-set / "NIL"
//! ```

use std::fmt;
use std::num::NonZeroU32;
use std::str::FromStr;

use crate::decode::DecoderConfig;
use crate::encode::Encoder;
use crate::parse::{PResult, byte, fail, is_nil, number, nz_number, parse_whole, sp, too_many};
use crate::sequence::SequenceSet;
use crate::string::{Quoted, TypeError};

/// `partial-range`: which results of a search to return, counted from the
/// first match (`1:100`) or from the last (`-1:-100`). The two ends are
/// kept in the order sent; `500:400` means the same as `400:500`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PartialRange {
    start: NonZeroU32,
    end: NonZeroU32,
    from_last: bool,
}

impl PartialRange {
    /// `start:end`, counted from the first match.
    pub fn first(start: u32, end: u32) -> Result<Self, TypeError> {
        Self::new(start, end, false)
    }

    /// `-start:-end`, counted from the last match (`-1` is the last).
    pub fn last(start: u32, end: u32) -> Result<Self, TypeError> {
        Self::new(start, end, true)
    }

    fn new(start: u32, end: u32, from_last: bool) -> Result<Self, TypeError> {
        let nz = |n: u32| NonZeroU32::new(n).ok_or(TypeError::problem("partial range", "numbers start at 1"));
        Ok(PartialRange {
            start: nz(start)?,
            end: nz(end)?,
            from_last,
        })
    }

    /// The first end as sent, without its minus sign.
    pub fn start(&self) -> NonZeroU32 {
        self.start
    }

    /// The second end as sent, without its minus sign.
    pub fn end(&self) -> NonZeroU32 {
        self.end
    }

    /// Whether the range counts from the last match (`-1:-100`).
    pub fn is_from_last(&self) -> bool {
        self.from_last
    }

    /// The positions covered, lowest first (1 is the first match, or with
    /// [`is_from_last`](Self::is_from_last) the last).
    pub fn positions(&self) -> std::ops::RangeInclusive<u32> {
        let (a, b) = (self.start.get(), self.end.get());
        a.min(b)..=a.max(b)
    }

    /// `partial-range`.
    pub(crate) fn parse(input: &[u8]) -> PResult<'_, Self> {
        let from_last = input.first() == Some(&b'-');
        let rest = if from_last { &input[1..] } else { input };
        let (rest, start) = nz_number(rest)?;
        let (rest, _) = byte(b':', "':'")(rest)?;
        let rest = if from_last {
            byte(b'-', "'-' (both ends count from the last)")(rest)?.0
        } else {
            rest
        };
        let (rest, end) = nz_number(rest)?;
        Ok((
            rest,
            PartialRange {
                start,
                end,
                from_last,
            },
        ))
    }

    pub(crate) fn encode(&self, e: &mut Encoder<'_>) {
        if self.from_last {
            e.put(b"-");
        }
        e.number(u64::from(self.start.get()));
        e.put(if self.from_last { b":-" } else { b":" });
        e.number(u64::from(self.end.get()));
    }
}

impl fmt::Display for PartialRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.from_last { "-" } else { "" };
        write!(f, "{sign}{}:{sign}{}", self.start, self.end)
    }
}

impl FromStr for PartialRange {
    type Err = TypeError;
    /// Parses the wire form, `1:100` or `-1:-100`.
    fn from_str(s: &str) -> Result<Self, TypeError> {
        parse_whole("partial range", s.as_bytes(), PartialRange::parse)
    }
}

/// One `context-position SP sequence-set` pair of ADDTO or REMOVEFROM:
/// messages that joined or left the result, and where (RFC 5267 sections
/// 4.3.3 and 4.3.4). The pairs are applied one after the other, in the
/// order sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ContextUpdate {
    /// Where in the result the messages are, counted from 1.
    ///
    /// ADDTO inserts the messages at this position: the first of them
    /// occupies it after the insertion, and the result that held it moves
    /// to a later position. REMOVEFROM removes them from this position:
    /// the first of them occupies it before the removal, and the results
    /// after them move to earlier positions. So `ADDTO (1 2733)` on the
    /// result `2734 2735` gives `2733 2734 2735`.
    ///
    /// 0 means no position, and only a SEARCH or UID SEARCH context sends
    /// it (a SORT result's order matters): the client MAY insert added
    /// messages so that the result stays in mailbox order, and removes
    /// removed ones wherever they are.
    pub position: u32,
    /// The messages, in result order.
    pub messages: SequenceSet,
}

/// `"(" context-position SP sequence-set *(SP context-position SP
/// sequence-set) ")"`, at most `limits.list` pairs. A sequence set here
/// names messages, so `$` is refused.
pub(crate) fn parse_updates<'a>(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, Vec<ContextUpdate>> {
    let (mut rest, _) = byte(b'(', "'('")(input)?;
    let mut updates = Vec::new();
    loop {
        if updates.len() == config.limits.list {
            return too_many(rest, config.limits.list, "')'");
        }
        let (r, position) = number(rest)?;
        let (r, _) = sp(r)?;
        let (r, messages) = result_set(r, config)?;
        updates.push(ContextUpdate { position, messages });
        rest = r;
        match rest.first() {
            Some(b')') => return Ok((&rest[1..], updates)),
            Some(b' ') => rest = &rest[1..],
            _ => return fail(rest, "space or ')'"),
        }
    }
}

/// A sequence set of result messages: never `$`.
fn result_set<'a>(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, SequenceSet> {
    if input.first() == Some(&b'$') {
        return fail(input, "sequence set ('$' is not allowed in results)");
    }
    SequenceSet::parse(input, config.limits.list)
}

pub(crate) fn encode_updates(updates: &[ContextUpdate], e: &mut Encoder<'_>) {
    e.put(b"(");
    for (i, u) in updates.iter().enumerate() {
        if i > 0 {
            e.put(b" ");
        }
        e.number(u64::from(u.position));
        e.put(b" ");
        u.messages.encode(e.line());
    }
    e.put(b")");
}

/// `"(" partial-range SP partial-results ")"`: `None` for `NIL`, no
/// results in the range.
pub(crate) fn parse_partial_data<'a>(
    input: &'a [u8],
    config: &DecoderConfig,
) -> PResult<'a, (PartialRange, Option<SequenceSet>)> {
    let (rest, _) = byte(b'(', "'('")(input)?;
    let (rest, range) = PartialRange::parse(rest)?;
    let (rest, _) = sp(rest)?;
    let (rest, results) = if is_nil(rest) {
        (&rest[3..], None)
    } else {
        let (r, set) = result_set(rest, config)?;
        (r, Some(set))
    };
    let (rest, _) = byte(b')', "')'")(rest)?;
    Ok((rest, (range, results)))
}

pub(crate) fn encode_partial_data(range: &PartialRange, results: Option<&SequenceSet>, e: &mut Encoder<'_>) {
    e.put(b"(");
    range.encode(e);
    e.put(b" ");
    match results {
        Some(set) => set.encode(e.line()),
        None => e.put(b"NIL"),
    }
    e.put(b")");
}

/// The arguments of CANCELUPDATE after its name: `1*(SP quoted)`, the
/// tags of the commands whose updates stop, at most `limits.list`.
pub(crate) fn parse_cancel_update<'a>(
    input: &'a [u8],
    config: &DecoderConfig,
) -> PResult<'a, Vec<Quoted<'a>>> {
    let mut tags = Vec::new();
    let mut rest = input;
    while let Some(r) = rest.strip_prefix(b" ") {
        if tags.len() == config.limits.list {
            return too_many(rest, config.limits.list, "end of line");
        }
        let (r, tag) = crate::parse::expect("quoted tag", |i| Quoted::parse(i, false))(r)?;
        tags.push(tag);
        rest = r;
    }
    if tags.is_empty() {
        return fail(rest, "space and quoted tag");
    }
    Ok((rest, tags))
}

pub(crate) fn encode_cancel_update(tags: &[Quoted<'_>], e: &mut Encoder<'_>) {
    for t in tags {
        e.put(b" ");
        crate::string::write_quoted(e.line(), t.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_ranges() {
        let r: PartialRange = "-1:-100".parse().unwrap();
        assert!(r.is_from_last());
        assert_eq!(r.positions(), 1..=100);
        assert_eq!(r.to_string(), "-1:-100");
        let r: PartialRange = "500:400".parse().unwrap();
        assert_eq!((r.start().get(), r.end().get()), (500, 400));
        assert_eq!(r.positions(), 400..=500);
        for bad in ["0:5", "1:*", "-1:5", "1:-5", "5", "1:4294967296", ""] {
            assert!(bad.parse::<PartialRange>().is_err(), "{bad}");
        }
        assert!(PartialRange::first(0, 1).is_err());
        assert_eq!(PartialRange::last(1, 30).unwrap().to_string(), "-1:-30");
    }
}

//! CONDSTORE and QRESYNC (RFC 7162): mod-sequences, the values a server
//! gives every change of a message's metadata, so that a client can ask
//! what changed since it last looked instead of fetching every flag again,
//! and store flags only if nobody changed them in between.
//!
//! CONDSTORE adds the `MODSEQ` fetch attribute and message data item, the
//! `CHANGEDSINCE` fetch modifier, the `UNCHANGEDSINCE` store modifier, the
//! `MODSEQ` search key with its `(MODSEQ n)` at the end of SEARCH results
//! and its `MODSEQ n` in ESEARCH data, the `HIGHESTMODSEQ` status
//! attribute, the `HIGHESTMODSEQ`, `NOMODSEQ` and `MODIFIED` response
//! codes and the `CONDSTORE` select parameter. QRESYNC adds the `QRESYNC`
//! select parameter, the `VANISHED` fetch modifier and the `VANISHED`
//! response (`CLOSED` was already known). The variants live with the types
//! they extend; the values they share, and their parsers, are here.
//!
//! ```text
//! status-att          =/ "HIGHESTMODSEQ"
//! status-att-val      =/ "HIGHESTMODSEQ" SP mod-sequence-valzer
//! store-modifier      =/ "UNCHANGEDSINCE" SP mod-sequence-valzer
//! fetch-modifier      =/ chgsince-fetch-mod
//! chgsince-fetch-mod  = "CHANGEDSINCE" SP mod-sequence-value
//! fetch-att           =/ fetch-mod-sequence
//! fetch-mod-sequence  = "MODSEQ"
//! fetch-mod-resp      = "MODSEQ" SP "(" permsg-modsequence ")"
//! msg-att-dynamic     =/ fetch-mod-resp
//! search-key          =/ search-modsequence
//! search-modsequence  = "MODSEQ" [search-modseq-ext] SP
//!                       mod-sequence-valzer
//! search-modseq-ext   = SP entry-name SP entry-type-req
//! resp-text-code      =/ "HIGHESTMODSEQ" SP mod-sequence-value /
//!                        "NOMODSEQ" /
//!                        "MODIFIED" SP sequence-set
//! entry-name          = entry-flag-name
//! entry-flag-name     = DQUOTE "/flags/" attr-flag DQUOTE
//! entry-type-resp     = "priv" / "shared"
//! entry-type-req      = entry-type-resp / "all"
//! permsg-modsequence  = mod-sequence-value
//! mod-sequence-value  = 1*DIGIT
//!                        ;; (1 <= n <= 9,223,372,036,854,775,807)
//! mod-sequence-valzer = "0" / mod-sequence-value
//! search-sort-mod-seq = "(" "MODSEQ" SP mod-sequence-value ")"
//! select-param        =/ condstore-param
//! condstore-param     = "CONDSTORE"
//! mailbox-data        =/ "SEARCH" [1*(SP nz-number) SP
//!                        search-sort-mod-seq]
//! attr-flag           = "\\Answered" / "\\Flagged" / "\\Deleted" /
//!                       "\\Seen" / "\\Draft" / attr-flag-keyword /
//!                       attr-flag-extension
//! attr-flag-extension = "\\" atom
//! attr-flag-keyword   = atom
//! select-param        =/ "QRESYNC" SP "(" uidvalidity SP
//!                        mod-sequence-value [SP known-uids]
//!                        [SP seq-match-data] ")"
//! seq-match-data      = "(" known-sequence-set SP known-uid-set ")"
//! uidvalidity         = nz-number
//! known-uids          = sequence-set   ;; "*" is not allowed
//! known-sequence-set  = sequence-set   ;; "*" is not allowed
//! known-uid-set       = sequence-set   ;; "*" is not allowed
//! message-data        =/ expunged-resp
//! expunged-resp       = "VANISHED" [SP "(EARLIER)"] SP known-uids
//! rexpunges-fetch-mod = "VANISHED"
//! ```
//!
//! RFC 7162 leaves `known-uids` and its siblings a `sequence-set` and
//! forbids `*` in prose; they are [`UidSet`]s here, which also rules out
//! SEARCHRES's `$`.

use std::fmt;
use std::num::{NonZeroU32, NonZeroU64};

use crate::decode::{DecoderConfig, ErrorKind};
use crate::encode::Encoder;
use crate::flag::Flag;
use crate::parse::{PError, PResult, byte, expect, fail, keyword, number64, nz_number, sp};
use crate::sequence::{SequenceSet, UidSet};
use crate::string::{Quoted, TypeError};

/// The largest mod-sequence, 2^63 - 1 (RFC 7162 section 7).
const LARGEST: u64 = i64::MAX as u64;

/// A mod-sequence: `mod-sequence-value`, a positive 63-bit number
/// (1 ..= 2^63 - 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ModSeq(NonZeroU64);

impl ModSeq {
    /// The smallest mod-sequence, 1.
    pub const MIN: ModSeq = ModSeq(NonZeroU64::MIN);
    /// The largest mod-sequence, 2^63 - 1.
    pub const MAX: ModSeq = match NonZeroU64::new(LARGEST) {
        Some(n) => ModSeq(n),
        None => panic!("2^63 - 1 is not zero"),
    };

    /// Validates the value: 0 and values above 2^63 - 1 are refused.
    pub fn new(value: u64) -> Result<ModSeq, TypeError> {
        match NonZeroU64::new(value) {
            Some(n) if value <= LARGEST => Ok(ModSeq(n)),
            Some(_) => Err(TypeError::problem("mod-sequence", "above 2^63 - 1")),
            None => Err(TypeError::problem("mod-sequence", "0 is not a mod-sequence")),
        }
    }

    /// The number.
    pub const fn get(self) -> u64 {
        self.0.get()
    }
}

impl TryFrom<u64> for ModSeq {
    type Error = TypeError;
    fn try_from(value: u64) -> Result<Self, TypeError> {
        ModSeq::new(value)
    }
}

impl From<ModSeq> for u64 {
    fn from(m: ModSeq) -> u64 {
        m.get()
    }
}

impl fmt::Display for ModSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// `mod-sequence-valzer = "0" / mod-sequence-value`: a mod-sequence or 0,
/// 0 ..= 2^63 - 1. `UNCHANGEDSINCE 0` fails for every message, `MODSEQ 0`
/// in SEARCH matches every message, and `HIGHESTMODSEQ 0` in STATUS says
/// the mailbox keeps no mod-sequences.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ModSeqValzer(u64);

impl ModSeqValzer {
    /// 0.
    pub const ZERO: ModSeqValzer = ModSeqValzer(0);
    /// 2^63 - 1.
    pub const MAX: ModSeqValzer = ModSeqValzer(LARGEST);

    /// Validates the value: values above 2^63 - 1 are refused.
    pub fn new(value: u64) -> Result<ModSeqValzer, TypeError> {
        if value <= LARGEST {
            Ok(ModSeqValzer(value))
        } else {
            Err(TypeError::problem("mod-sequence", "above 2^63 - 1"))
        }
    }

    /// The number.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// The mod-sequence, `None` for 0.
    pub fn mod_seq(self) -> Option<ModSeq> {
        NonZeroU64::new(self.0).map(ModSeq)
    }
}

impl From<ModSeq> for ModSeqValzer {
    fn from(m: ModSeq) -> Self {
        ModSeqValzer(m.get())
    }
}

impl TryFrom<u64> for ModSeqValzer {
    type Error = TypeError;
    fn try_from(value: u64) -> Result<Self, TypeError> {
        ModSeqValzer::new(value)
    }
}

impl From<ModSeqValzer> for u64 {
    fn from(m: ModSeqValzer) -> u64 {
        m.get()
    }
}

impl fmt::Display for ModSeqValzer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// `mod-sequence-value = 1*DIGIT` (1 <= n <= 9,223,372,036,854,775,807).
pub(crate) fn mod_sequence_value(input: &[u8]) -> PResult<'_, ModSeq> {
    let (rest, n) = number64(input)?;
    match NonZeroU64::new(n) {
        Some(n) => Ok((rest, ModSeq(n))),
        None => Err(nom::Err::Error(PError::kind(
            input,
            ErrorKind::NumberOutOfRange,
            "mod-sequence from 1",
        ))),
    }
}

/// `mod-sequence-valzer = "0" / mod-sequence-value`.
pub(crate) fn mod_sequence_valzer(input: &[u8]) -> PResult<'_, ModSeqValzer> {
    // number64 stops at 2^63 - 1, the range of the type.
    number64(input).map(|(rest, n)| (rest, ModSeqValzer(n)))
}

/// The type of metadata item a `MODSEQ` search key looks at:
/// `entry-type-req = entry-type-resp / "all"`, `entry-type-resp = "priv" /
/// "shared"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryType {
    /// `priv`: the mod-sequence of the user's private flag.
    Private,
    /// `shared`: the mod-sequence of the flag shared by all users.
    Shared,
    /// `all`: the larger of the two.
    All,
}

impl EntryType {
    /// The name, in the lower case of the RFC.
    pub fn name(self) -> &'static str {
        match self {
            EntryType::Private => "priv",
            EntryType::Shared => "shared",
            EntryType::All => "all",
        }
    }

    /// `entry-type-req = "priv" / "shared" / "all"`, any case.
    fn parse(input: &[u8]) -> PResult<'_, EntryType> {
        for t in [EntryType::Private, EntryType::Shared, EntryType::All] {
            if let Ok((rest, _)) = keyword(t.name())(input) {
                return Ok((rest, t));
            }
        }
        fail(input, "entry type (priv, shared or all)")
    }
}

/// The metadata item of a `MODSEQ` search key: `search-modseq-ext = SP
/// entry-name SP entry-type-req`, `entry-name = DQUOTE "/flags/" attr-flag
/// DQUOTE`. RFC 7162 names only flags; the server may ignore both parts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ModSeqEntry<'a> {
    /// The flag of the entry name (`"/flags/\\Seen"` is [`Flag::Seen`]);
    /// system flags are matched in any case and sent in their RFC
    /// spelling, like everywhere else in this crate.
    pub flag: Flag<'a>,
    /// Private, shared or both.
    pub entry_type: EntryType,
}

impl ModSeqEntry<'_> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> ModSeqEntry<'static> {
        ModSeqEntry {
            flag: self.flag.into_owned(),
            entry_type: self.entry_type,
        }
    }

    /// Writes `entry-name SP entry-type-req`.
    fn encode(&self, e: &mut Encoder<'_>) {
        let mut name = b"/flags/".to_vec();
        self.flag.encode(&mut name);
        crate::string::write_quoted(e.line(), &name);
        e.put(b" ");
        e.put(self.entry_type.name().as_bytes());
    }
}

/// `entry-flag-name = DQUOTE "/flags/" attr-flag DQUOTE`: the flag, owned
/// (the string usually holds an escaped `\`).
fn entry_flag_name(input: &[u8]) -> PResult<'_, Flag<'static>> {
    const EXPECTED: &str = "entry name (\"/flags/\" and a flag other than \\Recent)";
    let (rest, quoted) =
        Quoted::parse(input, false).map_err(|_| nom::Err::Error(PError::at(input, EXPECTED)))?;
    let content = quoted.as_bytes();
    let flag = content
        .get(..7)
        .filter(|prefix| prefix.eq_ignore_ascii_case(b"/flags/"))
        .and_then(|_| match Flag::parse(&content[7..]) {
            Ok(([], flag)) => Some(flag.into_owned()),
            _ => None,
        });
    match flag {
        Some(flag) => Ok((rest, flag)),
        None => fail(input, EXPECTED),
    }
}

/// `search-modsequence = "MODSEQ" [search-modseq-ext] SP
/// mod-sequence-valzer`, after the name.
pub(crate) fn search_modsequence(input: &[u8]) -> PResult<'_, (Option<ModSeqEntry<'static>>, ModSeqValzer)> {
    let (rest, _) = sp(input)?;
    if rest.first() == Some(&b'"') {
        let (r, flag) = entry_flag_name(rest)?;
        let (r, _) = sp(r)?;
        let (r, entry_type) = EntryType::parse(r)?;
        let (r, _) = sp(r)?;
        let (r, modseq) = expect("mod-sequence", mod_sequence_valzer)(r)?;
        return Ok((r, (Some(ModSeqEntry { flag, entry_type }), modseq)));
    }
    let (r, modseq) = expect("mod-sequence or entry name", mod_sequence_valzer)(rest)?;
    Ok((r, (None, modseq)))
}

/// Writes `"MODSEQ" [search-modseq-ext] SP mod-sequence-valzer`.
pub(crate) fn encode_search_modsequence(
    entry: Option<&ModSeqEntry<'_>>,
    modseq: ModSeqValzer,
    e: &mut Encoder<'_>,
) {
    e.put(b"MODSEQ ");
    if let Some(entry) = entry {
        entry.encode(e);
        e.put(b" ");
    }
    e.number(modseq.get());
}

/// `search-sort-mod-seq = "(" "MODSEQ" SP mod-sequence-value ")"`, at the
/// end of SEARCH (and SORT) results.
pub(crate) fn search_sort_mod_seq(input: &[u8]) -> PResult<'_, ModSeq> {
    let (rest, _) = byte(b'(', "'('")(input)?;
    let (rest, _) = keyword("MODSEQ")(rest)?;
    let (rest, _) = sp(rest)?;
    let (rest, modseq) = mod_sequence_value(rest)?;
    let (rest, _) = byte(b')', "')'")(rest)?;
    Ok((rest, modseq))
}

/// Writes `search-sort-mod-seq`.
pub(crate) fn encode_search_sort_mod_seq(modseq: ModSeq, e: &mut Encoder<'_>) {
    e.put(b"(MODSEQ ");
    e.number(modseq.get());
    e.put(b")");
}

/// The data of `* SEARCH` and `* SORT` after the name: `*(SP nz-number)
/// [SP search-sort-mod-seq]`, the numbers (in the order asked for, for
/// SORT) and with CONDSTORE the highest mod-sequence among them, which
/// the grammar puts only after a number.
pub(crate) fn parse_numbers_and_modseq<'a>(
    input: &'a [u8],
    config: &DecoderConfig,
) -> PResult<'a, (Vec<NonZeroU32>, Option<ModSeq>)> {
    let lenient = config.leniency.extra_spaces;
    let mut numbers = Vec::new();
    let mut rest = input;
    while let Some(r) = rest.strip_prefix(b" ") {
        // A number is the hot path; extra spaces, the MODSEQ and a
        // trailing space are looked for only where none is.
        let (r, n) = match nz_number(r) {
            Ok(number) => number,
            Err(e) => {
                let after = crate::parse::skip_extra_spaces(r, lenient);
                if after.first() == Some(&b'(') && !numbers.is_empty() {
                    let (after, modseq) = search_sort_mod_seq(after)?;
                    return Ok((after, (numbers, Some(modseq))));
                }
                if lenient && matches!(after.first(), None | Some(b'\r' | b'\n')) {
                    return Ok((after, (numbers, None)));
                }
                if after.len() == r.len() {
                    return Err(e);
                }
                nz_number(after)?
            }
        };
        if numbers.len() == config.limits.list {
            return crate::parse::too_many(rest, config.limits.list, "CRLF");
        }
        numbers.push(n);
        rest = r;
    }
    Ok((rest, (numbers, None)))
}

/// Writes `* SEARCH` or `* SORT` data after the name, `(MODSEQ n)` only
/// after a number, as the grammar has it.
pub(crate) fn encode_numbers_and_modseq(numbers: &[NonZeroU32], modseq: Option<ModSeq>, e: &mut Encoder<'_>) {
    for n in numbers {
        e.put(b" ");
        e.number(u64::from(n.get()));
    }
    if let Some(m) = modseq.filter(|_| !numbers.is_empty()) {
        e.put(b" ");
        encode_search_sort_mod_seq(m, e);
    }
}

/// The message numbers and UIDs a client knows to match:
/// `seq-match-data = "(" known-sequence-set SP known-uid-set ")"`, each in
/// ascending order, the n-th number belonging to the n-th UID.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SeqMatchData {
    /// `known-sequence-set`: message numbers (a [`UidSet`] because, like a
    /// uid-set, it allows neither `*` nor `$`).
    pub sequence_numbers: UidSet,
    /// `known-uid-set`: the UIDs of those messages.
    pub uids: UidSet,
}

/// The `QRESYNC` parameter of SELECT and EXAMINE: what the client knew
/// when it last left the mailbox, so the server reports only what changed
/// since.
///
/// ```text
/// select-param =/ "QRESYNC" SP "(" uidvalidity SP mod-sequence-value
///                 [SP known-uids] [SP seq-match-data] ")"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct QResync {
    /// The UIDVALIDITY the client knew; on a mismatch the server ignores
    /// the rest.
    pub uid_validity: NonZeroU32,
    /// The HIGHESTMODSEQ the client knew.
    pub modseq: ModSeq,
    /// The UIDs the client knows (`known-uids`); without them the server
    /// takes every UID below UIDNEXT.
    pub known_uids: Option<UidSet>,
    /// Sample message numbers with their UIDs, which let the server leave
    /// out of VANISHED what the client already knows to be gone.
    pub seq_match: Option<SeqMatchData>,
}

impl QResync {
    /// The value after `QRESYNC`: `SP "(" uidvalidity SP mod-sequence-value
    /// [SP known-uids] [SP seq-match-data] ")"`.
    pub(crate) fn parse<'a>(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, QResync> {
        let max = config.limits.list;
        let (rest, _) = sp(input)?;
        let (rest, _) = byte(b'(', "'('")(rest)?;
        let (rest, uid_validity) = expect("UIDVALIDITY", nz_number)(rest)?;
        let (rest, _) = sp(rest)?;
        let (mut rest, modseq) = expect("mod-sequence", mod_sequence_value)(rest)?;
        let mut known_uids = None;
        if let Some(r) = rest.strip_prefix(b" ").filter(|r| r.first() != Some(&b'(')) {
            let (r, uids) = expect("known UIDs or '('", |i| UidSet::parse(i, max))(r)?;
            known_uids = Some(uids);
            rest = r;
        }
        let mut seq_match = None;
        if let Some(r) = rest.strip_prefix(b" ") {
            let (r, _) = byte(b'(', "'('")(r)?;
            let (r, sequence_numbers) = expect("message numbers", |i| UidSet::parse(i, max))(r)?;
            let (r, _) = sp(r)?;
            let (r, uids) = expect("UIDs", |i| UidSet::parse(i, max))(r)?;
            let (r, _) = byte(b')', "')'")(r)?;
            seq_match = Some(SeqMatchData {
                sequence_numbers,
                uids,
            });
            rest = r;
        }
        let (rest, _) = byte(b')', "')'")(rest)?;
        Ok((
            rest,
            QResync {
                uid_validity,
                modseq,
                known_uids,
                seq_match,
            },
        ))
    }

    /// Writes `"QRESYNC" SP "(" ... ")"`.
    pub(crate) fn encode(&self, e: &mut Encoder<'_>) {
        e.put(b"QRESYNC (");
        e.number(u64::from(self.uid_validity.get()));
        e.put(b" ");
        e.number(self.modseq.get());
        if let Some(uids) = &self.known_uids {
            e.put(b" ");
            uids.encode(e.line());
        }
        if let Some(m) = &self.seq_match {
            e.put(b" (");
            m.sequence_numbers.encode(e.line());
            e.put(b" ");
            m.uids.encode(e.line());
            e.put(b")");
        }
        e.put(b")");
    }
}

/// `expunged-resp = "VANISHED" [SP "(EARLIER)"] SP known-uids`, after the
/// name: whether `(EARLIER)` was there, and the UIDs, at most
/// `limits.list` elements.
pub(crate) fn vanished<'a>(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, (bool, UidSet)> {
    let (rest, _) = sp(input)?;
    let (rest, earlier) = match keyword("(EARLIER)")(rest) {
        Ok((r, _)) => (sp(r)?.0, true),
        Err(_) => (rest, false),
    };
    let (rest, uids) = expect("UIDs or (EARLIER)", |i| UidSet::parse(i, config.limits.list))(rest)?;
    Ok((rest, (earlier, uids)))
}

/// Writes `"VANISHED" [SP "(EARLIER)"] SP known-uids`.
pub(crate) fn encode_vanished(earlier: bool, uids: &UidSet, e: &mut Encoder<'_>) {
    e.put(if earlier {
        b"VANISHED (EARLIER) "
    } else {
        b"VANISHED "
    });
    uids.encode(e.line());
}

/// `"MODIFIED" SP sequence-set` after the name: the messages (or UIDs)
/// that failed the UNCHANGEDSINCE test. `$` is refused: it names a saved
/// search result on the client's side, which a server cannot answer with.
pub(crate) fn modified<'a>(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, SequenceSet> {
    let (rest, _) = sp(input)?;
    if rest.first() == Some(&b'$') {
        return fail(rest, "sequence set ('$' is not allowed after MODIFIED)");
    }
    expect("sequence set", |i| SequenceSet::parse(i, config.limits.list))(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::encode::encoded;

    #[test]
    fn ranges() {
        assert_eq!(mod_sequence_value(b"1)").unwrap().1, ModSeq::MIN);
        assert_eq!(mod_sequence_value(b"9223372036854775807").unwrap().1, ModSeq::MAX);
        let Err(nom::Err::Error(e)) = mod_sequence_value(b"0)") else {
            panic!()
        };
        assert_eq!(e.kind, ErrorKind::NumberOutOfRange);
        assert!(mod_sequence_value(b"9223372036854775808").is_err());
        assert_eq!(mod_sequence_valzer(b"0 ").unwrap().1, ModSeqValzer::ZERO);
        assert!(mod_sequence_valzer(b"9223372036854775808").is_err());
        assert!(ModSeq::new(0).is_err() && ModSeq::new(1 << 63).is_err());
        assert_eq!(ModSeq::new(5).unwrap().get(), 5);
        assert!(ModSeqValzer::new(1 << 63).is_err());
        assert_eq!(ModSeqValzer::new(0).unwrap().mod_seq(), None);
        assert_eq!(ModSeqValzer::from(ModSeq::MAX), ModSeqValzer::MAX);
        assert_eq!(ModSeq::MAX.to_string(), "9223372036854775807");
    }

    #[test]
    fn search_key_forms() {
        let (rest, (entry, m)) = search_modsequence(b" \"/flags/\\\\draft\" all 620162338 x").unwrap();
        assert_eq!(rest, b" x");
        let entry = entry.unwrap();
        assert_eq!(
            (entry.flag.clone(), entry.entry_type, m.get()),
            (Flag::Draft, EntryType::All, 620162338)
        );
        assert_eq!(
            encoded(|e| encode_search_modsequence(Some(&entry), m, e)),
            b"MODSEQ \"/flags/\\\\Draft\" all 620162338"
        );
        let (_, (entry, _)) = search_modsequence(b" \"/FLAGS/$MDNSent\" PRIV 0").unwrap();
        assert_eq!(entry.unwrap().entry_type, EntryType::Private);
        for bad in [
            &b" \"/flags/\\\\Recent\" all 1"[..],
            b" \"/flags/\" all 1",
            b" \"/other/x\" all 1",
            b" \"/flags/a b\" all 1",
        ] {
            let Err(nom::Err::Error(e)) = search_modsequence(bad) else {
                panic!("{bad:?}")
            };
            assert_eq!(e.remaining, bad.len() - 1, "{bad:?}");
        }
        assert!(search_modsequence(b" \"/flags/x\" both 1").is_err());
    }

    #[test]
    fn qresync_forms() {
        let c = DecoderConfig::STRICT;
        for input in [
            &b" (1 2)"[..],
            b" (67890007 20050715194045000 41,43:211,214:541)",
            b" (1 2 (1:3 5,7:8))",
            b" (1 2 1:9 (1:3 5,7:8))",
        ] {
            let (rest, q) = QResync::parse(input, &c).unwrap();
            assert!(rest.is_empty());
            assert_eq!(encoded(|e| q.encode(e)), [&b"QRESYNC"[..], input].concat());
        }
        for (bad, at) in [
            (&b" (0 2)"[..], 2),
            (b" (1 0)", 4),
            (b" (1 2 1:*)", 8),
            (b" (1 2 (1:3))", 10),
            (b" (1 2 $)", 6),
            (b" (1)", 3),
            (b" (1 2 3 4)", 8),
        ] {
            let Err(nom::Err::Error(e)) = QResync::parse(bad, &c) else {
                panic!("{bad:?}")
            };
            assert_eq!(bad.len() - e.remaining, at, "{bad:?}");
        }
    }

    #[test]
    fn vanished_forms() {
        let c = DecoderConfig::STRICT;
        assert!(vanished(b" (EARLIER) 1:3\r\n", &c).unwrap().1.0);
        assert!(vanished(b" (earlier) 1:3\r\n", &c).unwrap().1.0);
        assert!(!vanished(b" 1:3\r\n", &c).unwrap().1.0);
        assert!(vanished(b" (EARLIER)\r\n", &c).is_err());
        assert!(vanished(b" 1:*\r\n", &c).is_err());
        assert!(vanished(b" (LATER) 1\r\n", &c).is_err());
    }
}

//! The home of [`SearchKey`] and what goes with it; the explanation of this
//! part of the grammar is on that type, where the rendered documentation
//! shows it.

use std::num::NonZeroU32;

use crate::condstore::{ModSeq, ModSeqEntry, ModSeqValzer, mod_sequence_value};
use crate::context::{ContextUpdate, PartialRange};
use crate::datetime::Date;
use crate::decode::DecoderConfig;
use crate::encode::Encoder;
use crate::extension::{Budget, TaggedExt, TaggedExtVal, tagged_ext_label};
use crate::objectid::ObjectId;
use crate::parse::{PResult, byte, expect, fail, keyword, number, number64, nz_number, sp, too_many};
use crate::sequence::SequenceSet;
use crate::string::{AString, Atom, IString, Quoted, is_astring_char};

/// A search key: `search-key` of RFC 9051 with the IMAP4rev1 keys of RFC
/// 3501 (`NEW`, `OLD`, `RECENT`), OBJECTID's (RFC 8474: `search-key =/
/// "EMAILID" SP objectid / "THREADID" SP objectid`) and SAVEDATE's (RFC
/// 8514: `search-key =/ "SAVEDBEFORE" SP date / "SAVEDON" SP date /
/// "SAVEDSINCE" SP date / "SAVEDATESUPPORTED"`).
///
/// Dates are sent unquoted (`date-text`); a quoted date decodes to the
/// same value.
///
/// SEARCH and its results: the SEARCH command with every search key of
/// RFC 3501 section 6.4.4 and RFC 9051 section 6.4.4, the return options of
/// ESEARCH (RFC 4731) and SEARCHRES (RFC 5182, `SAVE` and `$`), both part
/// of IMAP4rev2, and the RFC 4466 generic forms that later extensions use;
/// the ESEARCH response (RFC 9051 section 7.3.4, RFC 4731). The IMAP4rev1
/// `* SEARCH n...` response lives with the other responses. The options
/// and data of CONTEXT and PARTIAL are variants here, their values in
/// `crate::context`; SORT and THREAD reuse the keys (`crate::sort`).
///
/// WITHIN (RFC 5032) adds two keys that count seconds back from the time
/// the server runs the search, so a saved search keeps meaning "recent":
///
/// ```text
/// search-key =/ ( "OLDER" / "YOUNGER" ) SP nz-number
/// ```
///
/// Search keys nest (`NOT`, `OR`, parentheses). The parser recurses once
/// per level and counts levels against `limits.depth` before going deeper,
/// and counts every key of the command against `limits.list` before
/// allocating it, so `((((...` or `NOT NOT NOT ...` a hundred thousand deep
/// is an error with its offset, never a stack overflow. A decoded value's
/// drop, clone, comparison and encoding recurse as deep as the value nests,
/// so keep `limits.depth` in the hundreds at most.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SearchKey<'a> {
    /// `ALL`: every message.
    All,
    /// `ANSWERED`: messages with `\Answered`.
    Answered,
    /// `BCC astring`.
    Bcc(AString<'a>),
    /// `BEFORE date`: internal date earlier than the date.
    Before(Date),
    /// `BODY astring`.
    Body(AString<'a>),
    /// `CC astring`.
    Cc(AString<'a>),
    /// `DELETED`.
    Deleted,
    /// `DRAFT`.
    Draft,
    /// `FLAGGED`.
    Flagged,
    /// `FROM astring`.
    From(AString<'a>),
    /// `HEADER header-fld-name astring`.
    Header {
        /// The header field name.
        name: AString<'a>,
        /// The string to look for in its value (empty: any message with
        /// the field).
        value: AString<'a>,
    },
    /// `KEYWORD flag-keyword`.
    Keyword(Atom<'a>),
    /// `LARGER number64` (RFC 3501: `number`).
    Larger(u64),
    /// `NEW` (IMAP4rev1): recent and not seen.
    New,
    /// `NOT search-key`.
    Not(Box<SearchKey<'a>>),
    /// `OLD` (IMAP4rev1): not recent.
    Old,
    /// `OLDER nz-number` (WITHIN, RFC 5032): internal date at least this
    /// many seconds ago.
    Older(NonZeroU32),
    /// `ON date`.
    On(Date),
    /// `OR search-key search-key`.
    Or(Box<SearchKey<'a>>, Box<SearchKey<'a>>),
    /// `RECENT` (IMAP4rev1).
    Recent,
    /// `SEEN`.
    Seen,
    /// `SENTBEFORE date`.
    SentBefore(Date),
    /// `SENTON date`.
    SentOn(Date),
    /// `SENTSINCE date`.
    SentSince(Date),
    /// `SINCE date`.
    Since(Date),
    /// `SMALLER number64` (RFC 3501: `number`).
    Smaller(u64),
    /// `SUBJECT astring`.
    Subject(AString<'a>),
    /// `TEXT astring`.
    Text(AString<'a>),
    /// `TO astring`.
    To(AString<'a>),
    /// `UID sequence-set`, `$` included.
    Uid(SequenceSet),
    /// `UNANSWERED`.
    Unanswered,
    /// `UNDELETED`.
    Undeleted,
    /// `UNDRAFT`.
    Undraft,
    /// `UNFLAGGED`.
    Unflagged,
    /// `UNKEYWORD flag-keyword`.
    Unkeyword(Atom<'a>),
    /// `UNSEEN`.
    Unseen,
    /// `YOUNGER nz-number` (WITHIN, RFC 5032): internal date at most this
    /// many seconds ago.
    Younger(NonZeroU32),
    /// A bare `sequence-set` of message numbers, `$` included (SEARCHRES).
    SequenceSet(SequenceSet),
    /// `"(" search-key *(SP search-key) ")"`: all of the keys. Never empty
    /// when decoded; an empty list encodes as `ALL`, what it means.
    List(Vec<SearchKey<'a>>),
    /// `MODSEQ [entry-name entry-type-req] n` (CONDSTORE, RFC 7162
    /// section 3.1.5): messages whose mod-sequence (of that flag, if
    /// named) is at least `n`.
    ModSeq {
        /// The flag and type of mod-sequence to compare, if named.
        entry: Option<ModSeqEntry<'a>>,
        /// The lowest mod-sequence that matches.
        modseq: ModSeqValzer,
    },
    /// `EMAILID objectid` (RFC 8474).
    EmailId(ObjectId<'a>),
    /// `THREADID objectid` (RFC 8474).
    ThreadId(ObjectId<'a>),
    /// `SAVEDBEFORE date` (RFC 8514).
    SavedBefore(Date),
    /// `SAVEDON date` (RFC 8514).
    SavedOn(Date),
    /// `SAVEDSINCE date` (RFC 8514).
    SavedSince(Date),
    /// `SAVEDATESUPPORTED` (RFC 8514): every message when the mailbox keeps
    /// save dates, none otherwise.
    SaveDateSupported,
}

impl SearchKey<'_> {
    /// How many of the keys in `keys`, at any depth below `NOT`, `OR` and
    /// parenthesised lists (which are not counted themselves), `pick`
    /// holds for. `|_| true` counts the keys a search evaluates.
    ///
    /// ```
    /// use mailwire_imap::SearchKey;
    /// let keys = [
    ///     "SEEN".parse::<SearchKey>().unwrap(),
    ///     "OR (NOT SEEN MODSEQ 5) TEXT x".parse().unwrap(),
    /// ];
    /// assert_eq!(SearchKey::count_leaves(&keys, &|_| true), 4);
    /// assert_eq!(SearchKey::count_leaves(&keys, &|k| matches!(k, SearchKey::Seen)), 2);
    /// ```
    pub fn count_leaves(keys: &[SearchKey<'_>], pick: &dyn Fn(&SearchKey<'_>) -> bool) -> usize {
        keys.iter()
            .map(|key| match key {
                SearchKey::Not(k) => SearchKey::count_leaves(std::slice::from_ref(k), pick),
                SearchKey::Or(a, b) => {
                    SearchKey::count_leaves(std::slice::from_ref(a), pick)
                        + SearchKey::count_leaves(std::slice::from_ref(b), pick)
                }
                SearchKey::List(list) => SearchKey::count_leaves(list, pick),
                key => usize::from(pick(key)),
            })
            .sum()
    }

    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> SearchKey<'static> {
        use SearchKey::*;
        match self {
            All => All,
            Answered => Answered,
            Bcc(s) => Bcc(s.into_owned()),
            Before(d) => Before(d),
            Body(s) => Body(s.into_owned()),
            Cc(s) => Cc(s.into_owned()),
            Deleted => Deleted,
            Draft => Draft,
            Flagged => Flagged,
            From(s) => From(s.into_owned()),
            Header { name, value } => Header {
                name: name.into_owned(),
                value: value.into_owned(),
            },
            Keyword(k) => Keyword(k.into_owned()),
            Larger(n) => Larger(n),
            New => New,
            Not(k) => Not(Box::new(k.into_owned())),
            Old => Old,
            Older(n) => Older(n),
            On(d) => On(d),
            Or(a, b) => Or(Box::new(a.into_owned()), Box::new(b.into_owned())),
            Recent => Recent,
            Seen => Seen,
            SentBefore(d) => SentBefore(d),
            SentOn(d) => SentOn(d),
            SentSince(d) => SentSince(d),
            Since(d) => Since(d),
            Smaller(n) => Smaller(n),
            Subject(s) => Subject(s.into_owned()),
            Text(s) => Text(s.into_owned()),
            To(s) => To(s.into_owned()),
            Uid(s) => Uid(s),
            Unanswered => Unanswered,
            Undeleted => Undeleted,
            Undraft => Undraft,
            Unflagged => Unflagged,
            Unkeyword(k) => Unkeyword(k.into_owned()),
            Unseen => Unseen,
            Younger(n) => Younger(n),
            SequenceSet(s) => SequenceSet(s),
            List(l) => List(l.into_iter().map(SearchKey::into_owned).collect()),
            ModSeq { entry, modseq } => ModSeq {
                entry: entry.map(ModSeqEntry::into_owned),
                modseq,
            },
            EmailId(id) => EmailId(id.into_owned()),
            ThreadId(id) => ThreadId(id.into_owned()),
            SavedBefore(d) => SavedBefore(d),
            SavedOn(d) => SavedOn(d),
            SavedSince(d) => SavedSince(d),
            SaveDateSupported => SaveDateSupported,
        }
    }

    /// Writes the key.
    pub(crate) fn encode<'e>(&'e self, e: &mut Encoder<'e>) {
        use SearchKey::*;
        let string = |e: &mut Encoder<'e>, name: &str, s: &'e AString<'e>| {
            e.put(name.as_bytes());
            e.put(b" ");
            s.encode(e);
        };
        let date = |e: &mut Encoder<'e>, name: &str, d: &Date| {
            e.put(name.as_bytes());
            e.put(b" ");
            d.encode(e.line());
        };
        match self {
            All => e.put(b"ALL"),
            Answered => e.put(b"ANSWERED"),
            Bcc(s) => string(e, "BCC", s),
            Before(d) => date(e, "BEFORE", d),
            Body(s) => string(e, "BODY", s),
            Cc(s) => string(e, "CC", s),
            Deleted => e.put(b"DELETED"),
            Draft => e.put(b"DRAFT"),
            Flagged => e.put(b"FLAGGED"),
            From(s) => string(e, "FROM", s),
            Header { name, value } => {
                string(e, "HEADER", name);
                e.put(b" ");
                value.encode(e);
            }
            Keyword(k) => {
                e.put(b"KEYWORD ");
                e.put(k.as_str().as_bytes());
            }
            Larger(n) => {
                e.put(b"LARGER ");
                e.number(*n);
            }
            New => e.put(b"NEW"),
            Not(k) => {
                e.put(b"NOT ");
                k.encode(e);
            }
            Old => e.put(b"OLD"),
            Older(n) => {
                e.put(b"OLDER ");
                e.number(u64::from(n.get()));
            }
            On(d) => date(e, "ON", d),
            Or(a, b) => {
                e.put(b"OR ");
                a.encode(e);
                e.put(b" ");
                b.encode(e);
            }
            Recent => e.put(b"RECENT"),
            Seen => e.put(b"SEEN"),
            SentBefore(d) => date(e, "SENTBEFORE", d),
            SentOn(d) => date(e, "SENTON", d),
            SentSince(d) => date(e, "SENTSINCE", d),
            Since(d) => date(e, "SINCE", d),
            Smaller(n) => {
                e.put(b"SMALLER ");
                e.number(*n);
            }
            Subject(s) => string(e, "SUBJECT", s),
            Text(s) => string(e, "TEXT", s),
            To(s) => string(e, "TO", s),
            Uid(s) => {
                e.put(b"UID ");
                s.encode(e.line());
            }
            Unanswered => e.put(b"UNANSWERED"),
            Undeleted => e.put(b"UNDELETED"),
            Undraft => e.put(b"UNDRAFT"),
            Unflagged => e.put(b"UNFLAGGED"),
            Unkeyword(k) => {
                e.put(b"UNKEYWORD ");
                e.put(k.as_str().as_bytes());
            }
            Unseen => e.put(b"UNSEEN"),
            Younger(n) => {
                e.put(b"YOUNGER ");
                e.number(u64::from(n.get()));
            }
            SequenceSet(s) => s.encode(e.line()),
            List(keys) if keys.is_empty() => e.put(b"ALL"),
            List(keys) => {
                e.put(b"(");
                encode_keys(keys, e);
                e.put(b")");
            }
            ModSeq { entry, modseq } => {
                crate::condstore::encode_search_modsequence(entry.as_ref(), *modseq, e)
            }
            EmailId(id) => {
                e.put(b"EMAILID ");
                id.encode(e);
            }
            ThreadId(id) => {
                e.put(b"THREADID ");
                id.encode(e);
            }
            SavedBefore(d) => date(e, "SAVEDBEFORE", d),
            SavedOn(d) => date(e, "SAVEDON", d),
            SavedSince(d) => date(e, "SAVEDSINCE", d),
            SaveDateSupported => e.put(b"SAVEDATESUPPORTED"),
        }
    }
}

fn encode_keys<'e>(keys: &'e [SearchKey<'e>], e: &mut Encoder<'e>) {
    for (i, k) in keys.iter().enumerate() {
        if i > 0 {
            e.put(b" ");
        }
        k.encode(e);
    }
}

/// Writes keys separated by spaces; none is `ALL`, what it means.
pub(crate) fn encode_key_list<'e>(keys: &'e [SearchKey<'e>], e: &mut Encoder<'e>) {
    if keys.is_empty() {
        e.put(b"ALL");
    } else {
        encode_keys(keys, e);
    }
}

/// Parses one search key as a SEARCH command writes it, under
/// [`DecoderConfig::STRICT`]; several keys that must all match are one
/// parenthesized key.
///
/// ```
/// use mailwire_imap::{Date, SearchKey};
///
/// let key: SearchKey = "(UNSEEN SINCE 1-Feb-1994 OR FROM ann SUBJECT \"lunch plans\")".parse()?;
/// let SearchKey::List(keys) = &key else { unreachable!() };
/// assert_eq!(keys[1], SearchKey::Since(Date::new(1994, 2, 1).unwrap()));
/// assert_eq!(key.to_string(), "(UNSEEN SINCE 1-Feb-1994 OR FROM ann SUBJECT \"lunch plans\")");
/// assert!("SINCE 30-Feb-1994".parse::<SearchKey>().is_err());
/// # Ok::<(), mailwire_imap::DecodeError>(())
/// ```
impl std::str::FromStr for SearchKey<'static> {
    type Err = crate::DecodeError;
    fn from_str(s: &str) -> Result<Self, crate::DecodeError> {
        let config = DecoderConfig::STRICT;
        crate::parse::parse_str(s.as_bytes(), |i| {
            search_key(i, &config, &mut Budget::new(&config))
        })
        .map(SearchKey::into_owned)
    }
}

crate::encode::display_wire! {
    /// The wire form: `OR FROM ann SUBJECT "lunch plans"`.
    SearchKey;
}

/// `search-key *(SP search-key)`, up to the line end: one budget for the
/// depth and count of all of them (SEARCH, SORT and THREAD share it).
pub(crate) fn search_keys<'a>(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, Vec<SearchKey<'a>>> {
    let mut budget = Budget::new(config);
    let (mut rest, first) = search_key(input, config, &mut budget)?;
    let mut keys = vec![first];
    while let Some(r) = rest.strip_prefix(b" ") {
        let r = skip_spaces(r, config);
        if matches!(r.first(), None | Some(b'\r' | b'\n')) {
            break;
        }
        let (r, key) = search_key(r, config, &mut budget)?;
        keys.push(key);
        rest = r;
    }
    Ok((rest, keys))
}

/// `[search-return-opts]`: `SP "RETURN" SP "(" [search-return-opt *(SP
/// search-return-opt)] ")"`, from the space before `RETURN`; `None` when
/// absent.
pub(crate) fn return_options<'a>(
    input: &'a [u8],
    config: &DecoderConfig,
) -> PResult<'a, Option<Vec<SearchReturnOption<'a>>>> {
    let Ok((r, _)) = (|i| {
        let (i, _) = sp(i)?;
        let (i, _) = keyword("RETURN")(i)?;
        sp(i)
    })(input) else {
        return Ok((input, None));
    };
    let (r, options) = crate::parse::paren_list(config.limits.list, config.leniency.extra_spaces, |i| {
        SearchReturnOption::parse(i, config)
    })(r)?;
    Ok((r, Some(options)))
}

/// Writes `[search-return-opts]`, from its leading space.
pub(crate) fn encode_return_options<'e>(options: Option<&'e [SearchReturnOption<'e>]>, e: &mut Encoder<'e>) {
    if let Some(options) = options {
        e.put(b" RETURN (");
        for (i, o) in options.iter().enumerate() {
            if i > 0 {
                e.put(b" ");
            }
            o.encode(e);
        }
        e.put(b")");
    }
}

/// Skips spaces when the leniency allows extra ones.
fn skip_spaces<'a>(input: &'a [u8], config: &DecoderConfig) -> &'a [u8] {
    crate::parse::skip_extra_spaces(input, config.leniency.extra_spaces)
}

/// The longest key name, `SENTBEFORE` / `UNANSWERED`.
const LONGEST_NAME: usize = 17;

/// `search-key` (RFC 9051 section 9 with the RFC 3501 additions):
///
/// ```text
/// search-key = "ALL" / "ANSWERED" / "BCC" SP astring /
///              "BEFORE" SP date / "BODY" SP astring /
///              "CC" SP astring / "DELETED" / "FLAGGED" /
///              "FROM" SP astring / "KEYWORD" SP flag-keyword /
///              "ON" SP date / "SEEN" /
///              "SINCE" SP date / "SUBJECT" SP astring /
///              "TEXT" SP astring / "TO" SP astring /
///              "UNANSWERED" / "UNDELETED" / "UNFLAGGED" /
///              "UNKEYWORD" SP flag-keyword / "UNSEEN" /
///              "DRAFT" / "HEADER" SP header-fld-name SP astring /
///              "LARGER" SP number64 / "NOT" SP search-key /
///              "OR" SP search-key SP search-key /
///              "SENTBEFORE" SP date / "SENTON" SP date /
///              "SENTSINCE" SP date / "SMALLER" SP number64 /
///              "UID" SP sequence-set / "UNDRAFT" / sequence-set /
///              "(" search-key *(SP search-key) ")"
/// search-key =/ "NEW" / "OLD" / "RECENT"            ; RFC 3501
/// search-key =/ search-modsequence                  ; RFC 7162
/// search-key =/ ( "OLDER" / "YOUNGER" ) SP nz-number ; RFC 5032
/// ```
fn search_key<'a>(
    input: &'a [u8],
    config: &DecoderConfig,
    budget: &mut Budget,
) -> PResult<'a, SearchKey<'a>> {
    budget.count(input, "fewer search keys")?;
    match input.first() {
        Some(b'(') => {
            budget.enter(input)?;
            let mut rest = skip_spaces(&input[1..], config);
            let mut keys = Vec::new();
            loop {
                let (r, k) = search_key(rest, config, budget)?;
                keys.push(k);
                rest = skip_spaces(r, config);
                if let Some(r) = rest.strip_prefix(b")") {
                    budget.leave();
                    return Ok((r, SearchKey::List(keys)));
                }
                if rest.len() == r.len() {
                    (rest, _) = expect("space or ')'", sp)(rest)?;
                    rest = skip_spaces(rest, config);
                }
            }
        }
        Some(b'0'..=b'9' | b'*' | b'$') => {
            let (rest, set) = SequenceSet::parse(input, config.limits.list)?;
            Ok((rest, SearchKey::SequenceSet(set)))
        }
        _ => named_key(input, config, budget),
    }
}

/// Maps the value of a parsed argument to a key.
fn with<'a, T>(r: PResult<'a, T>, f: impl FnOnce(T) -> SearchKey<'a>) -> PResult<'a, SearchKey<'a>> {
    r.map(|(r, v)| (r, f(v)))
}

/// A search key that starts with its name.
fn named_key<'a>(input: &'a [u8], config: &DecoderConfig, budget: &mut Budget) -> PResult<'a, SearchKey<'a>> {
    let n = input.iter().take_while(|b| b.is_ascii_alphabetic()).count();
    if n == 0 || n > LONGEST_NAME {
        return fail(input, "search key");
    }
    let mut name = [0u8; LONGEST_NAME];
    name[..n].copy_from_slice(&input[..n]);
    name[..n].make_ascii_uppercase();
    let after = &input[n..];
    let leniency = &config.leniency;
    let astring = |i: &'a [u8]| -> PResult<'a, AString<'a>> {
        let (i, _) = sp(i)?;
        expect("astring", |i| AString::parse(i, leniency))(i)
    };
    let date = |i: &'a [u8]| -> PResult<'a, Date> {
        let (i, _) = sp(i)?;
        expect("date", Date::parse)(i)
    };
    let flag_keyword = |i: &'a [u8]| -> PResult<'a, Atom<'a>> {
        let (i, _) = sp(i)?;
        expect("keyword", Atom::parse)(i)
    };
    let size = |i: &'a [u8]| -> PResult<'a, u64> {
        let (i, _) = sp(i)?;
        number64(i)
    };
    let seconds = |i: &'a [u8]| -> PResult<'a, NonZeroU32> {
        let (i, _) = sp(i)?;
        nz_number(i)
    };
    use SearchKey::*;
    let simple = |k: SearchKey<'a>| Ok((after, k));
    match &name[..n] {
        b"ALL" => simple(All),
        b"ANSWERED" => simple(Answered),
        b"DELETED" => simple(Deleted),
        b"DRAFT" => simple(Draft),
        b"FLAGGED" => simple(Flagged),
        b"NEW" => simple(New),
        b"OLD" => simple(Old),
        b"RECENT" => simple(Recent),
        b"SEEN" => simple(Seen),
        b"UNANSWERED" => simple(Unanswered),
        b"UNDELETED" => simple(Undeleted),
        b"UNDRAFT" => simple(Undraft),
        b"UNFLAGGED" => simple(Unflagged),
        b"UNSEEN" => simple(Unseen),
        b"BCC" => with(astring(after), Bcc),
        b"BODY" => with(astring(after), Body),
        b"CC" => with(astring(after), Cc),
        b"FROM" => with(astring(after), From),
        b"SUBJECT" => with(astring(after), Subject),
        b"TEXT" => with(astring(after), Text),
        b"TO" => with(astring(after), To),
        b"BEFORE" => with(date(after), Before),
        b"ON" => with(date(after), On),
        b"SINCE" => with(date(after), Since),
        b"SENTBEFORE" => with(date(after), SentBefore),
        b"SENTON" => with(date(after), SentOn),
        b"SENTSINCE" => with(date(after), SentSince),
        b"KEYWORD" => with(flag_keyword(after), Keyword),
        b"UNKEYWORD" => with(flag_keyword(after), Unkeyword),
        b"LARGER" => with(size(after), Larger),
        b"SMALLER" => with(size(after), Smaller),
        // RFC 8474 and RFC 8514.
        b"EMAILID" | b"THREADID" => {
            let (r, _) = sp(after)?;
            let (r, id) = ObjectId::parse(r)?;
            Ok((r, if n == 7 { EmailId(id) } else { ThreadId(id) }))
        }
        b"SAVEDBEFORE" => with(date(after), SavedBefore),
        b"SAVEDON" => with(date(after), SavedOn),
        b"SAVEDSINCE" => with(date(after), SavedSince),
        b"SAVEDATESUPPORTED" => simple(SaveDateSupported),
        b"OLDER" => with(seconds(after), Older),
        b"YOUNGER" => with(seconds(after), Younger),
        b"HEADER" => {
            let (r, name) = astring(after)?;
            let (r, value) = astring(r)?;
            Ok((r, Header { name, value }))
        }
        b"UID" => {
            let (r, _) = sp(after)?;
            let (r, set) = crate::sequence::SequenceSet::parse(r, config.limits.list)?;
            Ok((r, Uid(set)))
        }
        b"NOT" => {
            let (r, _) = sp(after)?;
            budget.enter(input)?;
            let (r, k) = search_key(r, config, budget)?;
            budget.leave();
            Ok((r, Not(Box::new(k))))
        }
        b"MODSEQ" => {
            let (r, (entry, modseq)) = crate::condstore::search_modsequence(after)?;
            Ok((r, ModSeq { entry, modseq }))
        }
        b"OR" => {
            let (r, _) = sp(after)?;
            budget.enter(input)?;
            let (r, a) = search_key(r, config, budget)?;
            let (r, _) = sp(r)?;
            let (r, b) = search_key(r, config, budget)?;
            budget.leave();
            Ok((r, Or(Box::new(a), Box::new(b))))
        }
        _ => fail(input, "search key"),
    }
}

/// A return option of SEARCH: `search-return-opt = "MIN" / "MAX" / "ALL" /
/// "COUNT" / "SAVE" / search-ret-opt-ext`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SearchReturnOption<'a> {
    /// `MIN`: the lowest matching number (RFC 4731).
    Min,
    /// `MAX`: the highest matching number (RFC 4731).
    Max,
    /// `ALL`: every matching number as a sequence set (RFC 4731).
    All,
    /// `COUNT`: how many match (RFC 4731).
    Count,
    /// `SAVE`: keep the result for `$` (RFC 5182).
    Save,
    /// `CONTEXT`: the client will likely ask again (RFC 5267).
    Context,
    /// `UPDATE`: report changes to the result with ADDTO and REMOVEFROM
    /// until CANCELUPDATE (RFC 5267).
    Update,
    /// `PARTIAL partial-range`: only this page of the result (RFC 5267,
    /// RFC 9394).
    Partial(PartialRange),
    /// `search-ret-opt-ext = search-modifier-name [SP search-mod-params]`
    /// (RFC 4466): an option this crate does not know (`RELEVANCY`...),
    /// as sent.
    Other(TaggedExt<'a>),
}

impl SearchReturnOption<'_> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> SearchReturnOption<'static> {
        match self {
            SearchReturnOption::Min => SearchReturnOption::Min,
            SearchReturnOption::Max => SearchReturnOption::Max,
            SearchReturnOption::All => SearchReturnOption::All,
            SearchReturnOption::Count => SearchReturnOption::Count,
            SearchReturnOption::Save => SearchReturnOption::Save,
            SearchReturnOption::Context => SearchReturnOption::Context,
            SearchReturnOption::Update => SearchReturnOption::Update,
            SearchReturnOption::Partial(r) => SearchReturnOption::Partial(r),
            SearchReturnOption::Other(t) => SearchReturnOption::Other(t.into_owned()),
        }
    }

    /// `search-return-opt`.
    fn parse<'a>(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, SearchReturnOption<'a>> {
        let (rest, name) = expect("return option", tagged_ext_label)(input)?;
        let known = [
            ("MIN", SearchReturnOption::Min),
            ("MAX", SearchReturnOption::Max),
            ("ALL", SearchReturnOption::All),
            ("COUNT", SearchReturnOption::Count),
            ("SAVE", SearchReturnOption::Save),
            ("CONTEXT", SearchReturnOption::Context),
            ("UPDATE", SearchReturnOption::Update),
        ];
        if let Some((_, option)) = known
            .into_iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.as_str()))
        {
            return Ok((rest, option));
        }
        if name.as_str().eq_ignore_ascii_case("PARTIAL") {
            let (rest, _) = sp(rest)?;
            let (rest, range) = PartialRange::parse(rest)?;
            return Ok((rest, SearchReturnOption::Partial(range)));
        }
        let (rest, ext) = TaggedExt::parse_value(rest, name, config)?;
        Ok((rest, SearchReturnOption::Other(ext)))
    }

    fn encode<'e>(&'e self, e: &mut Encoder<'e>) {
        match self {
            SearchReturnOption::Min => e.put(b"MIN"),
            SearchReturnOption::Max => e.put(b"MAX"),
            SearchReturnOption::All => e.put(b"ALL"),
            SearchReturnOption::Count => e.put(b"COUNT"),
            SearchReturnOption::Save => e.put(b"SAVE"),
            SearchReturnOption::Context => e.put(b"CONTEXT"),
            SearchReturnOption::Update => e.put(b"UPDATE"),
            SearchReturnOption::Partial(r) => {
                e.put(b"PARTIAL ");
                r.encode(e);
            }
            SearchReturnOption::Other(t) => t.encode(e),
        }
    }
}

/// The arguments of SEARCH and UID SEARCH:
///
/// ```text
/// search             = "SEARCH" [search-return-opts] SP search-program
/// search-return-opts = SP "RETURN" SP "(" [search-return-opt
///                      *(SP search-return-opt)] ")"
/// search-program     = ["CHARSET" SP charset SP]
///                      search-key *(SP search-key)
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Search<'a> {
    /// `RETURN (...)`: `None` when absent (a `* SEARCH` or, in IMAP4rev2,
    /// an ESEARCH answer with `ALL`), `Some` and empty for `RETURN ()`.
    pub return_options: Option<Vec<SearchReturnOption<'a>>>,
    /// `CHARSET charset`. RFC 9051 allows an atom or quoted string, RFC
    /// 3501 an astring; any astring form is accepted and kept.
    pub charset: Option<AString<'a>>,
    /// The keys, all of which must match. Never empty when decoded; an
    /// empty list encodes as `ALL`, what it means.
    pub keys: Vec<SearchKey<'a>>,
}

impl<'a> Search<'a> {
    /// A search for messages matching all of `keys`, without return
    /// options or charset.
    pub fn new(keys: Vec<SearchKey<'a>>) -> Self {
        Search {
            return_options: None,
            charset: None,
            keys,
        }
    }

    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> Search<'static> {
        Search {
            return_options: self
                .return_options
                .map(|o| o.into_iter().map(SearchReturnOption::into_owned).collect()),
            charset: self.charset.map(AString::into_owned),
            keys: self.keys.into_iter().map(SearchKey::into_owned).collect(),
        }
    }

    /// The arguments after `SEARCH`, from the space that follows it, up to
    /// (not including) the line end.
    pub(crate) fn parse(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, Self> {
        let lenient = config.leniency.extra_spaces;
        let (rest, return_options) = return_options(input, config)?;
        let (rest, _) = sp(rest)?;
        let mut rest = crate::parse::skip_extra_spaces(rest, lenient);
        let mut charset = None;
        if let Ok((r, _)) = keyword("CHARSET")(rest) {
            if r.first() == Some(&b' ') {
                let r = crate::parse::skip_extra_spaces(&r[1..], lenient);
                let (r, c) = expect("charset", |i| AString::parse(i, &config.leniency))(r)?;
                let (r, _) = sp(r)?;
                charset = Some(c);
                rest = crate::parse::skip_extra_spaces(r, lenient);
            }
        }
        let (rest, keys) = search_keys(rest, config)?;
        Ok((
            rest,
            Search {
                return_options,
                charset,
                keys,
            },
        ))
    }

    /// Writes the arguments, from the space after `SEARCH`.
    pub(crate) fn encode<'e>(&'e self, e: &mut Encoder<'e>) {
        encode_return_options(self.return_options.as_deref(), e);
        if let Some(c) = &self.charset {
            e.put(b" CHARSET ");
            c.encode(e);
        }
        e.put(b" ");
        encode_key_list(&self.keys, e);
    }
}

/// One item of ESEARCH data: `search-return-data = "MIN" SP nz-number /
/// "MAX" SP nz-number / "ALL" SP sequence-set / "COUNT" SP number /
/// search-ret-data-ext`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SearchReturnData<'a> {
    /// `MIN n`.
    Min(NonZeroU32),
    /// `MAX n`.
    Max(NonZeroU32),
    /// `ALL sequence-set` (never `$`).
    All(SequenceSet),
    /// `COUNT n`.
    Count(u32),
    /// `MODSEQ n` (CONDSTORE, RFC 7162 section 3.1.10, RFC 4731 section
    /// 3.2): the highest mod-sequence of the matching messages.
    ModSeq(ModSeq),
    /// `ADDTO (position set ...)`: messages that joined an UPDATE result
    /// (RFC 5267).
    AddTo(Vec<ContextUpdate>),
    /// `REMOVEFROM (position set ...)`: messages that left an UPDATE
    /// result (RFC 5267).
    RemoveFrom(Vec<ContextUpdate>),
    /// `PARTIAL (range results)`: one page of the result (RFC 9394);
    /// `results` is `None` for `NIL`, no match in the range.
    Partial {
        /// The range asked for.
        range: PartialRange,
        /// The matching numbers in the range.
        results: Option<SequenceSet>,
    },
    /// `search-ret-data-ext = search-modifier-name SP search-return-value`:
    /// data this crate does not know, as sent.
    Other {
        /// The name.
        name: Atom<'a>,
        /// The value (`tagged-ext-val`).
        value: TaggedExtVal<'a>,
    },
}

impl SearchReturnData<'_> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> SearchReturnData<'static> {
        match self {
            SearchReturnData::Min(n) => SearchReturnData::Min(n),
            SearchReturnData::Max(n) => SearchReturnData::Max(n),
            SearchReturnData::All(s) => SearchReturnData::All(s),
            SearchReturnData::Count(n) => SearchReturnData::Count(n),
            SearchReturnData::ModSeq(m) => SearchReturnData::ModSeq(m),
            SearchReturnData::AddTo(u) => SearchReturnData::AddTo(u),
            SearchReturnData::RemoveFrom(u) => SearchReturnData::RemoveFrom(u),
            SearchReturnData::Partial { range, results } => SearchReturnData::Partial { range, results },
            SearchReturnData::Other { name, value } => SearchReturnData::Other {
                name: name.into_owned(),
                value: value.into_owned(),
            },
        }
    }

    /// `search-return-data`.
    fn parse<'a>(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, SearchReturnData<'a>> {
        let (rest, name) = expect("search return data", tagged_ext_label)(input)?;
        let (rest, _) = sp(rest)?;
        let n = name.as_str();
        if n.eq_ignore_ascii_case("MIN") {
            nz_number(rest).map(|(r, v)| (r, SearchReturnData::Min(v)))
        } else if n.eq_ignore_ascii_case("MAX") {
            nz_number(rest).map(|(r, v)| (r, SearchReturnData::Max(v)))
        } else if n.eq_ignore_ascii_case("COUNT") {
            number(rest).map(|(r, v)| (r, SearchReturnData::Count(v)))
        } else if n.eq_ignore_ascii_case("ALL") {
            if rest.first() == Some(&b'$') {
                return fail(rest, "sequence set ('$' is not allowed after ALL)");
            }
            SequenceSet::parse(rest, config.limits.list).map(|(r, v)| (r, SearchReturnData::All(v)))
        } else if n.eq_ignore_ascii_case("MODSEQ") {
            mod_sequence_value(rest).map(|(r, v)| (r, SearchReturnData::ModSeq(v)))
        } else if n.eq_ignore_ascii_case("ADDTO") {
            crate::context::parse_updates(rest, config).map(|(r, u)| (r, SearchReturnData::AddTo(u)))
        } else if n.eq_ignore_ascii_case("REMOVEFROM") {
            crate::context::parse_updates(rest, config).map(|(r, u)| (r, SearchReturnData::RemoveFrom(u)))
        } else if n.eq_ignore_ascii_case("PARTIAL") {
            crate::context::parse_partial_data(rest, config)
                .map(|(r, (range, results))| (r, SearchReturnData::Partial { range, results }))
        } else {
            let (r, value) = TaggedExtVal::parse(rest, config, true)?;
            Ok((r, SearchReturnData::Other { name, value }))
        }
    }

    fn encode<'e>(&'e self, e: &mut Encoder<'e>) {
        match self {
            SearchReturnData::Min(n) => {
                e.put(b"MIN ");
                e.number(u64::from(n.get()));
            }
            SearchReturnData::Max(n) => {
                e.put(b"MAX ");
                e.number(u64::from(n.get()));
            }
            SearchReturnData::All(s) => {
                e.put(b"ALL ");
                s.encode(e.line());
            }
            SearchReturnData::Count(n) => {
                e.put(b"COUNT ");
                e.number(u64::from(*n));
            }
            SearchReturnData::ModSeq(m) => {
                e.put(b"MODSEQ ");
                e.number(m.get());
            }
            SearchReturnData::AddTo(u) => {
                e.put(b"ADDTO ");
                crate::context::encode_updates(u, e);
            }
            SearchReturnData::RemoveFrom(u) => {
                e.put(b"REMOVEFROM ");
                crate::context::encode_updates(u, e);
            }
            SearchReturnData::Partial { range, results } => {
                e.put(b"PARTIAL ");
                crate::context::encode_partial_data(range, results.as_ref(), e);
            }
            SearchReturnData::Other { name, value } => {
                e.put(name.as_str().as_bytes());
                e.put(b" ");
                value.encode(e);
            }
        }
    }
}

/// The ESEARCH response (RFC 4731, RFC 9051 section 7.3.4):
///
/// ```text
/// esearch-response  = "ESEARCH" [search-correlator] [SP "UID"]
///                     *(SP search-return-data)
/// search-correlator = SP "(" "TAG" SP tag-string
///                     [SP "MAILBOX" SP astring SP "UIDVALIDITY" SP nz-number] ")"
///                     ; MAILBOX and UIDVALIDITY: MULTISEARCH, RFC 7377
/// tag-string        = string    ; RFC 4466
/// tag-string        = astring   ; RFC 9051
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ESearch<'a> {
    /// The tag of the command this answers. Written quoted, as every RFC
    /// example and Dovecot write it: RFC 4466's `tag-string` is a
    /// `string`, so an IMAP4rev1 client need not take the atom form that
    /// RFC 9051's `astring` allows. Both forms, and a literal, are
    /// decoded; a literal that a quoted string cannot hold (CR, LF, or
    /// 8-bit text that is not UTF-8) is no command tag and is refused.
    /// The type is that of the tags of CANCELUPDATE and `[NOUPDATE]`.
    pub tag: Option<Quoted<'a>>,
    /// The mailbox the results are for (MULTISEARCH, RFC 7377). Part of
    /// the correlator, so written only with a `tag`.
    pub mailbox: Option<crate::multisearch::ESearchMailbox<'a>>,
    /// Whether the numbers are UIDs.
    pub uid: bool,
    /// The data, in the order sent.
    pub data: Vec<SearchReturnData<'a>>,
}

impl<'a> ESearch<'a> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> ESearch<'static> {
        ESearch {
            tag: self.tag.map(Quoted::into_owned),
            mailbox: self.mailbox.map(crate::multisearch::ESearchMailbox::into_owned),
            uid: self.uid,
            data: self.data.into_iter().map(SearchReturnData::into_owned).collect(),
        }
    }

    /// The response data after `ESEARCH`, up to the line end.
    pub(crate) fn parse(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, Self> {
        let mut rest = input;
        let mut tag = None;
        let mut mailbox = None;
        if let Some(r) = rest.strip_prefix(b" (") {
            let (r, _) = keyword("TAG")(r)?;
            let (r, _) = sp(r)?;
            let (r, t) = tag_string(r, config)?;
            let (r, m) = crate::multisearch::ESearchMailbox::parse_optional(r, config)?;
            let (r, _) = byte(b')', "')'")(r)?;
            tag = Some(t);
            mailbox = m;
            rest = r;
        }
        let mut uid = false;
        if let Some(r) = rest.strip_prefix(b" ") {
            if let Ok((r, _)) = keyword("UID")(r) {
                if matches!(r.first(), None | Some(b' ' | b'\r' | b'\n')) {
                    uid = true;
                    rest = r;
                }
            }
        }
        let mut data = Vec::new();
        while let Some(r) = rest.strip_prefix(b" ") {
            if matches!(r.first(), None | Some(b'\r' | b'\n')) {
                break;
            }
            if data.len() == config.limits.list {
                return too_many(r, config.limits.list, "end of ESEARCH data");
            }
            let (r, d) = SearchReturnData::parse(r, config)?;
            data.push(d);
            rest = r;
        }
        Ok((
            rest,
            ESearch {
                tag,
                mailbox,
                uid,
                data,
            },
        ))
    }

    /// Writes the data after `ESEARCH`.
    pub(crate) fn encode<'e>(&'e self, e: &mut Encoder<'e>) {
        if let Some(t) = &self.tag {
            e.put(b" (TAG ");
            crate::string::write_quoted(e.line(), t.as_bytes());
            if let Some(m) = &self.mailbox {
                m.encode(e);
            }
            e.put(b")");
        }
        if self.uid {
            e.put(b" UID");
        }
        for d in &self.data {
            e.put(b" ");
            d.encode(e);
        }
    }
}

/// `tag-string`: `string` (RFC 4466) or `astring` (RFC 9051), as the
/// quoted string the tag is written as.
fn tag_string<'a>(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, Quoted<'a>> {
    match input.first() {
        Some(b'"') => Quoted::parse(input, config.leniency.eight_bit_quoted),
        Some(b'{') => {
            let (r, s) = IString::parse(input, &config.leniency)?;
            match Quoted::new(s.as_bytes().to_vec()) {
                Ok(q) => Ok((r, q)),
                Err(_) => fail(input, "tag string (a command tag)"),
            }
        }
        _ => {
            let n = input.iter().take_while(|&&b| is_astring_char(b)).count();
            if n == 0 {
                return fail(input, "tag string");
            }
            // ASTRING-CHARs are ASCII, and neither '"' nor '\\'.
            Ok((&input[n..], Quoted::borrowed(&input[..n])))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use crate::encode::{LiteralPolicy, to_bytes};

    fn encoded(s: &Search<'_>) -> Vec<u8> {
        let mut e = Encoder::new(LiteralPolicy::SyncOnly);
        s.encode(&mut e);
        let mut out = to_bytes(&e.finish());
        out.truncate(out.len() - 2);
        out
    }

    fn parse(input: &[u8]) -> Search<'_> {
        let (rest, s) = Search::parse(input, &DecoderConfig::STRICT).unwrap();
        assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(rest));
        s
    }

    fn error(input: &[u8], config: &DecoderConfig) -> crate::DecodeError {
        match Search::parse(input, config) {
            Err(nom::Err::Error(e)) => e.into_decode_error(input),
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn every_key_round_trips() {
        let input = b" RETURN (MIN MAX ALL COUNT SAVE PARTIAL 1:100) CHARSET UTF-8 ALL ANSWERED BCC x \
            BEFORE 1-Feb-1994 BODY \"a b\" CC y DELETED DRAFT FLAGGED FROM Smith HEADER X-A \"\" \
            KEYWORD $Junk LARGER 9223372036854775807 NEW NOT SEEN OLD ON 29-Feb-2000 \
            OR (SEEN FLAGGED) UNSEEN RECENT SEEN SENTBEFORE 1-Jan-2000 SENTON 2-Jan-2000 \
            SENTSINCE 3-Jan-2000 SINCE 4-Jan-2000 SMALLER 0 SUBJECT hi TEXT {3}\r\nx\"y TO z \
            UID 1:*,5 UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNKEYWORD foo UNSEEN 1,3:4 $ UID $";
        let s = parse(input);
        assert_eq!(s.keys.len(), 38);
        assert_eq!(s.return_options.as_ref().unwrap().len(), 6);
        assert_eq!(encoded(&s), input);
        assert_eq!(s.clone().into_owned(), s);
    }

    #[test]
    fn case_and_quoted_dates() {
        let s = parse(b" since \"1-Feb-1994\" not from smith");
        assert_eq!(encoded(&s), b" SINCE 1-Feb-1994 NOT FROM smith");
        assert_eq!(s.keys[0], SearchKey::Since(Date::new(1994, 2, 1).unwrap()));
    }

    #[test]
    fn empty_keys_mean_all() {
        assert_eq!(encoded(&Search::new(Vec::new())), b" ALL");
        let s = Search::new(vec![SearchKey::List(Vec::new())]);
        assert_eq!(encoded(&s), b" ALL");
    }

    #[test]
    fn rejections() {
        let c = DecoderConfig::STRICT;
        assert_eq!(error(b" ALLX", &c).offset, 1);
        assert_eq!(error(b" BEFORE 30-Feb-1994", &c).offset, 8);
        assert_eq!(error(b" OR SEEN", &c).offset, 8);
        assert_eq!(error(b" ()", &c).offset, 2);
        assert_eq!(error(b" (SEEN )", &c).offset, 7);
        assert_eq!(error(b" KEYWORD \\Seen", &c).offset, 9);
        assert_eq!(error(b" RETURN (MIN 5) ALL", &c).offset, 13);
        assert_eq!(error(b" CHARSET UTF-8", &c).offset, 14);
        let (rest, read) = Search::parse(b" ( SEEN )", &DecoderConfig::default()).unwrap();
        assert!(rest.is_empty());
        assert_eq!(read, Search::parse(b" (SEEN)", &c).unwrap().1);
    }

    #[test]
    fn nesting_is_bounded() {
        let c = DecoderConfig::STRICT;
        for unit in [&b"("[..], b"NOT ", b"OR ALL "] {
            let mut input = b" ".to_vec();
            for _ in 0..100_000 {
                input.extend_from_slice(unit);
            }
            let e = error(&input, &c);
            assert_eq!(e.kind, ErrorKind::TooDeep { limit: 64 });
            assert_eq!(e.offset, 1 + 64 * unit.len());
        }
        let mut input = b" ".to_vec();
        for _ in 0..64 {
            input.extend_from_slice(b"NOT ");
        }
        input.extend_from_slice(b"SEEN");
        let s = parse(&input);
        assert_eq!(encoded(&s), input);
    }

    #[test]
    fn key_counts_are_bounded() {
        let mut c = DecoderConfig::STRICT;
        c.limits.list = 3;
        let (rest, search) = Search::parse(b" SEEN (DRAFT)", &c).unwrap();
        assert!(rest.is_empty());
        assert_eq!(search.keys.len(), 2);
        let e = error(b" SEEN (DRAFT DELETED)", &c);
        assert_eq!((e.kind, e.offset), (ErrorKind::TooMany { limit: 3 }, 13));
    }

    #[test]
    fn esearch() {
        let c = DecoderConfig::STRICT;
        for input in [
            &b" (TAG \"A285\") UID MIN 7 MAX 3800"[..],
            b" (TAG \"a1\") MIN 2 MODSEQ 917162488",
            b" UID COUNT 17 ALL 4:18,21,28",
            b" COUNT 18 ALL 1:17,21",
            b" (TAG \"A284\")",
            b"",
            b" X (a (b))",
        ] {
            let (rest, r) = ESearch::parse(input, &c).unwrap();
            assert!(rest.is_empty());
            let mut e = Encoder::new(LiteralPolicy::SyncOnly);
            r.encode(&mut e);
            let out = to_bytes(&e.finish());
            assert_eq!(&out[..out.len() - 2], input);
        }
        assert!(ESearch::parse(b" ALL $", &c).is_err());
        assert!(ESearch::parse(b" MIN 0", &c).is_err());
        let (_, r) = ESearch::parse(b" UIDX 5", &c).unwrap();
        assert!(!r.uid && r.data.len() == 1);
    }
}

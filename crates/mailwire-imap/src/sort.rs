//! SORT and THREAD (RFC 5256), the DISPLAYFROM and DISPLAYTO sort keys of
//! SORT=DISPLAY (RFC 5957), the return options of ESORT (RFC 5267 section
//! 3) and the CONDSTORE modification sequence of `* SORT` (RFC 7162).
//! SORT answers with the message numbers in the order asked for, THREAD
//! with the messages grouped into conversation trees; both take the search
//! keys of SEARCH, but with a charset that is not optional.
//!
//! ```text
//! sort            = ["UID" SP] "SORT" [search-return-opts]
//!                   SP sort-criteria SP search-criteria    ; RFC 5267
//! sort-criteria   = "(" sort-criterion *(SP sort-criterion) ")"
//! sort-criterion  = ["REVERSE" SP] sort-key
//! sort-key        = "ARRIVAL" / "CC" / "DATE" / "FROM" / "SIZE" /
//!                   "SUBJECT" / "TO"
//! sort-key        =/ "DISPLAYFROM" / "DISPLAYTO"           ; RFC 5957
//! thread          = ["UID" SP] "THREAD" SP thread-alg SP search-criteria
//! thread-alg      = "ORDEREDSUBJECT" / "REFERENCES" / thread-alg-ext
//! thread-alg-ext  = atom
//! search-criteria = charset 1*(SP search-key)
//! charset         = atom / quoted
//! sort-data       = "SORT" *(SP nz-number)
//! sort-data       = "SORT" [1*(SP nz-number) SP
//!                   search-sort-mod-seq]                   ; RFC 7162
//! search-sort-mod-seq = "(" "MODSEQ" SP mod-sequence-value ")"
//! thread-data     = "THREAD" [SP 1*thread-list]
//! thread-list     = "(" (thread-members / thread-nested) ")"
//! thread-members  = nz-number *(SP nz-number) [SP thread-nested]
//! thread-nested   = 2*thread-list
//! ```
//!
//! Thread trees nest. The decoder recurses once per level and counts
//! levels against `limits.depth` before going deeper, and counts every
//! number of a THREAD response against `limits.list` before allocating
//! it, so `((((...` a hundred thousand deep is an error with its offset,
//! never a stack overflow. Lists are not counted: each holds a number or
//! splits in two or more, so a tree has fewer than twice as many lists as
//! numbers, and a THREAD of 1,000,000 one-message threads (2,000,000
//! elements) fits the default limit of 1,048,576. A decoded tree's drop, clone,
//! comparison and encoding recurse as deep as it nests, so keep
//! `limits.depth` in the hundreds at most.

use std::num::NonZeroU32;

use crate::decode::{DecoderConfig, ErrorKind};
use crate::encode::Encoder;
use crate::extension::Budget;
use crate::parse::{PError, PResult, byte, expect, fail, nz_number, separator, sp};
use crate::search::{SearchKey, SearchReturnOption};
use crate::string::{AString, Atom};

/// `sort-key`: what SORT orders by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SortKey<'a> {
    /// `ARRIVAL`: the internal date and time.
    Arrival,
    /// `CC`: the first Cc address's mailbox.
    Cc,
    /// `DATE`: the Date header (the internal date when there is none).
    Date,
    /// `FROM`: the first From address's mailbox.
    From,
    /// `SIZE`: the RFC 822 size.
    Size,
    /// `SUBJECT`: the base subject (RFC 5256 section 2.1).
    Subject,
    /// `TO`: the first To address's mailbox.
    To,
    /// `DISPLAYFROM`: the display name of the first From address (RFC
    /// 5957).
    DisplayFrom,
    /// `DISPLAYTO`: the display name of the first To address (RFC 5957).
    DisplayTo,
    /// A key of an extension this crate does not know, as sent. Never one
    /// of the names above, nor `REVERSE`, when decoded.
    Other(Atom<'a>),
}

/// The known sort keys by name, for decoding and encoding.
const SORT_KEYS: [(&str, SortKey<'static>); 9] = [
    ("ARRIVAL", SortKey::Arrival),
    ("CC", SortKey::Cc),
    ("DATE", SortKey::Date),
    ("FROM", SortKey::From),
    ("SIZE", SortKey::Size),
    ("SUBJECT", SortKey::Subject),
    ("TO", SortKey::To),
    ("DISPLAYFROM", SortKey::DisplayFrom),
    ("DISPLAYTO", SortKey::DisplayTo),
];

impl SortKey<'_> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> SortKey<'static> {
        match self {
            SortKey::Arrival => SortKey::Arrival,
            SortKey::Cc => SortKey::Cc,
            SortKey::Date => SortKey::Date,
            SortKey::From => SortKey::From,
            SortKey::Size => SortKey::Size,
            SortKey::Subject => SortKey::Subject,
            SortKey::To => SortKey::To,
            SortKey::DisplayFrom => SortKey::DisplayFrom,
            SortKey::DisplayTo => SortKey::DisplayTo,
            SortKey::Other(a) => SortKey::Other(a.into_owned()),
        }
    }

    /// The name as sent.
    pub fn as_str(&self) -> &str {
        match self {
            SortKey::Other(a) => a.as_str(),
            known => SORT_KEYS
                .iter()
                .find(|(_, k)| k == known)
                .map_or("", |(name, _)| name),
        }
    }
}

/// `sort-criterion = ["REVERSE" SP] sort-key`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SortCriterion<'a> {
    /// `REVERSE`: descending order for this key.
    pub reverse: bool,
    /// The key.
    pub key: SortKey<'a>,
}

impl SortCriterion<'_> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> SortCriterion<'static> {
        SortCriterion {
            reverse: self.reverse,
            key: self.key.into_owned(),
        }
    }

    /// `sort-criterion`.
    fn parse(input: &[u8]) -> PResult<'_, SortCriterion<'_>> {
        let (rest, first) = expect("sort key", Atom::parse)(input)?;
        if first.as_str().eq_ignore_ascii_case("REVERSE") {
            let (rest, _) = sp(rest)?;
            let (rest, key) = sort_key(rest)?;
            return Ok((rest, SortCriterion { reverse: true, key }));
        }
        Ok((
            rest,
            SortCriterion {
                reverse: false,
                key: known_sort_key(first),
            },
        ))
    }

    fn encode(&self, e: &mut Encoder<'_>) {
        if self.reverse {
            e.put(b"REVERSE ");
        }
        e.put(self.key.as_str().as_bytes());
    }
}

/// `sort-key`: a known name, or any other atom but `REVERSE`.
fn sort_key(input: &[u8]) -> PResult<'_, SortKey<'_>> {
    let (rest, name) = expect("sort key", Atom::parse)(input)?;
    if name.as_str().eq_ignore_ascii_case("REVERSE") {
        return fail(input, "sort key");
    }
    Ok((rest, known_sort_key(name)))
}

fn known_sort_key(name: Atom<'_>) -> SortKey<'_> {
    SORT_KEYS
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name.as_str()))
        .map_or(SortKey::Other(name), |(_, k)| k.clone())
}

/// The arguments of SORT and UID SORT (see the module documentation for
/// the grammar).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Sort<'a> {
    /// `RETURN (...)` (ESORT, RFC 5267): `None` when absent (the answer
    /// is `* SORT`), `Some` and empty for `RETURN ()`.
    pub return_options: Option<Vec<SearchReturnOption<'a>>>,
    /// The sort criteria, the first the most significant. Never empty
    /// when decoded.
    pub criteria: Vec<SortCriterion<'a>>,
    /// The charset of the search strings (required by SORT). `atom /
    /// quoted` in the grammar; any astring form is accepted, as SEARCH's
    /// `CHARSET` is.
    pub charset: AString<'a>,
    /// The search keys, all of which must match. Never empty when
    /// decoded; an empty list encodes as `ALL`, what it means.
    pub keys: Vec<SearchKey<'a>>,
}

impl<'a> Sort<'a> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> Sort<'static> {
        Sort {
            return_options: self
                .return_options
                .map(|o| o.into_iter().map(SearchReturnOption::into_owned).collect()),
            criteria: self.criteria.into_iter().map(SortCriterion::into_owned).collect(),
            charset: self.charset.into_owned(),
            keys: self.keys.into_iter().map(SearchKey::into_owned).collect(),
        }
    }

    /// The arguments after `SORT`, from the space that follows it, up to
    /// (not including) the line end.
    pub(crate) fn parse(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, Self> {
        let (rest, return_options) = crate::search::return_options(input, config)?;
        let (rest, _) = separator(rest, config.leniency.extra_spaces)?;
        let open = rest;
        let (rest, criteria) =
            crate::parse::paren_list(config.limits.list, false, SortCriterion::parse)(rest)?;
        if criteria.is_empty() {
            // `()`: the list must hold one criterion at least.
            return fail(&open[1..], "sort key");
        }
        let (rest, _) = separator(rest, config.leniency.extra_spaces)?;
        let (rest, (charset, keys)) = search_criteria(rest, config)?;
        Ok((
            rest,
            Sort {
                return_options,
                criteria,
                charset,
                keys,
            },
        ))
    }

    /// Writes the arguments, from the space after `SORT`.
    pub(crate) fn encode<'e>(&'e self, e: &mut Encoder<'e>) {
        crate::search::encode_return_options(self.return_options.as_deref(), e);
        e.put(b" (");
        for (i, c) in self.criteria.iter().enumerate() {
            if i > 0 {
                e.put(b" ");
            }
            c.encode(e);
        }
        e.put(b") ");
        encode_search_criteria(&self.charset, &self.keys, e);
    }
}

/// `search-criteria = charset 1*(SP search-key)`. When the keys fail and
/// the word read as the charset is itself a search key, the charset was
/// left out: the error points there.
fn search_criteria<'a>(
    input: &'a [u8],
    config: &DecoderConfig,
) -> PResult<'a, (AString<'a>, Vec<SearchKey<'a>>)> {
    let (rest, charset) = expect("charset", |i| AString::parse(i, &config.leniency))(input)?;
    let keys = separator(rest, config.leniency.extra_spaces)
        .and_then(|(r, _)| crate::search::search_keys(r, config));
    match keys {
        Ok((rest, keys)) => Ok((rest, (charset, keys))),
        Err(nom::Err::Error(e)) if e.kind == ErrorKind::Syntax && looks_like_search_key(input, config) => {
            Err(nom::Err::Error(PError::at(
                input,
                "charset (SORT and THREAD require one before the search keys)",
            )))
        }
        Err(e) => Err(e),
    }
}

/// Whether `input`, where the charset was read, holds search keys.
fn looks_like_search_key(input: &[u8], config: &DecoderConfig) -> bool {
    crate::search::search_keys(input, config).is_ok()
}

fn encode_search_criteria<'e>(charset: &'e AString<'e>, keys: &'e [SearchKey<'e>], e: &mut Encoder<'e>) {
    charset.encode(e);
    e.put(b" ");
    crate::search::encode_key_list(keys, e);
}

/// `thread-alg`: how THREAD groups messages.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ThreadAlgorithm<'a> {
    /// `ORDEREDSUBJECT`: by base subject, then date (RFC 5256).
    OrderedSubject,
    /// `REFERENCES`: by the References and In-Reply-To headers (RFC
    /// 5256).
    References,
    /// `REFS`: REFERENCES with threads ordered by their newest message
    /// (draft-ietf-morg-inthread; Dovecot offers it as `THREAD=REFS`).
    Refs,
    /// An algorithm this crate does not know (`thread-alg-ext = atom`).
    /// Never one of the names above when decoded.
    Other(Atom<'a>),
}

impl ThreadAlgorithm<'_> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> ThreadAlgorithm<'static> {
        match self {
            ThreadAlgorithm::OrderedSubject => ThreadAlgorithm::OrderedSubject,
            ThreadAlgorithm::References => ThreadAlgorithm::References,
            ThreadAlgorithm::Refs => ThreadAlgorithm::Refs,
            ThreadAlgorithm::Other(a) => ThreadAlgorithm::Other(a.into_owned()),
        }
    }

    /// The name as sent.
    pub fn as_str(&self) -> &str {
        match self {
            ThreadAlgorithm::OrderedSubject => "ORDEREDSUBJECT",
            ThreadAlgorithm::References => "REFERENCES",
            ThreadAlgorithm::Refs => "REFS",
            ThreadAlgorithm::Other(a) => a.as_str(),
        }
    }

    /// `thread-alg = "ORDEREDSUBJECT" / "REFERENCES" / thread-alg-ext`.
    fn parse(input: &[u8]) -> PResult<'_, ThreadAlgorithm<'_>> {
        let (rest, name) = expect("thread algorithm", Atom::parse)(input)?;
        let known = [
            ThreadAlgorithm::OrderedSubject,
            ThreadAlgorithm::References,
            ThreadAlgorithm::Refs,
        ];
        let alg = known
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(name.as_str()))
            .unwrap_or(ThreadAlgorithm::Other(name));
        Ok((rest, alg))
    }
}

/// The arguments of THREAD and UID THREAD: `thread-alg SP
/// search-criteria`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ThreadCommand<'a> {
    /// The threading algorithm.
    pub algorithm: ThreadAlgorithm<'a>,
    /// The charset of the search strings (required), as for [`Sort`].
    pub charset: AString<'a>,
    /// The search keys, all of which must match. Never empty when
    /// decoded; an empty list encodes as `ALL`.
    pub keys: Vec<SearchKey<'a>>,
}

impl<'a> ThreadCommand<'a> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> ThreadCommand<'static> {
        ThreadCommand {
            algorithm: self.algorithm.into_owned(),
            charset: self.charset.into_owned(),
            keys: self.keys.into_iter().map(SearchKey::into_owned).collect(),
        }
    }

    /// The arguments after `THREAD`, from the space that follows it.
    pub(crate) fn parse(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, Self> {
        let (rest, _) = separator(input, config.leniency.extra_spaces)?;
        let (rest, algorithm) = ThreadAlgorithm::parse(rest)?;
        let (rest, _) = separator(rest, config.leniency.extra_spaces)?;
        let (rest, (charset, keys)) = search_criteria(rest, config)?;
        Ok((
            rest,
            ThreadCommand {
                algorithm,
                charset,
                keys,
            },
        ))
    }

    /// Writes the arguments, from the space after `THREAD`.
    pub(crate) fn encode<'e>(&'e self, e: &mut Encoder<'e>) {
        e.put(b" ");
        e.put(self.algorithm.as_str().as_bytes());
        e.put(b" ");
        encode_search_criteria(&self.charset, &self.keys, e);
    }
}

/// One thread of a THREAD response (`thread-list`): a chain of messages,
/// each the parent of the next, then the sub-threads that split from the
/// last of them (or, when `messages` is empty, siblings whose parent is
/// missing or did not match).
///
/// `(3 6 (4 23)(44 7 96))` is 3, then 6, then two sub-threads `4 23` and
/// `44 7 96`; `((3)(5))` is two siblings of an absent parent.
///
/// The grammar allows no sub-thread list of one: a value with one child
/// means the same as its chain continued by the child's, and is written
/// that way (so it decodes back as the longer chain). A thread with
/// neither messages nor children has no wire form; it is written `()`,
/// which decoders refuse.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Thread {
    /// The chain of messages, parent first.
    pub messages: Vec<NonZeroU32>,
    /// The sub-threads after the last message: none, or two or more when
    /// decoded.
    pub children: Vec<Thread>,
}

impl Thread {
    /// Converts to a value that owns its data (a thread borrows nothing;
    /// here for symmetry with the other types).
    pub fn into_owned(self) -> Thread {
        self
    }

    /// `thread-list`, counting itself and its numbers on `budget`.
    fn parse<'a>(input: &'a [u8], budget: &mut Budget) -> PResult<'a, Thread> {
        let Some(mut rest) = input.strip_prefix(b"(") else {
            return fail(input, "'('");
        };
        budget.enter(input)?;
        let mut thread = Thread::default();
        // thread-members: numbers separated by spaces.
        while rest.first().is_some_and(u8::is_ascii_digit) {
            budget.count(rest, "fewer thread members")?;
            let (r, n) = nz_number(rest)?;
            thread.messages.push(n);
            rest = r;
            match rest {
                [b' ', b'0'..=b'9', ..] => rest = &rest[1..],
                [b' ', b'(', ..] => {
                    rest = &rest[1..];
                    break;
                }
                [b')', ..] => break,
                _ => return fail(rest, "space or ')'"),
            }
        }
        // thread-nested: lists back to back, at least two.
        while rest.first() == Some(&b'(') {
            let (r, child) = Thread::parse(rest, budget)?;
            thread.children.push(child);
            rest = r;
        }
        match (thread.messages.is_empty(), thread.children.len()) {
            (true, 0) => return fail(rest, "message number or '('"),
            (_, 1) => return fail(rest, "'(' (a thread splits into two or more)"),
            _ => {}
        }
        let (rest, _) = byte(b')', "')'")(rest)?;
        budget.leave();
        Ok((rest, thread))
    }

    /// Writes the thread, a one-child split as the chain it means.
    fn encode(&self, e: &mut Encoder<'_>) {
        e.put(b"(");
        let mut node = self;
        let mut first = true;
        loop {
            for n in &node.messages {
                if !first {
                    e.put(b" ");
                }
                first = false;
                e.number(u64::from(n.get()));
            }
            if let [only] = node.children.as_slice() {
                node = only;
                continue;
            }
            if !node.children.is_empty() && !first {
                e.put(b" ");
            }
            for c in &node.children {
                c.encode(e);
            }
            break;
        }
        e.put(b")");
    }
}

/// The data of `* THREAD` after the name: `[SP 1*thread-list]`.
pub(crate) fn parse_thread_data<'a>(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, Vec<Thread>> {
    let mut threads = Vec::new();
    let Some(mut rest) = input.strip_prefix(b" ") else {
        return Ok((input, threads));
    };
    if config.leniency.extra_spaces && matches!(rest.first(), None | Some(b'\r' | b'\n')) {
        return Ok((rest, threads));
    }
    let mut budget = Budget::new(config);
    loop {
        let (r, t) = Thread::parse(rest, &mut budget)?;
        threads.push(t);
        rest = r;
        if rest.first() != Some(&b'(') {
            // A trailing space, where the leniency allows one.
            return Ok((
                crate::parse::skip_extra_spaces(rest, config.leniency.extra_spaces),
                threads,
            ));
        }
    }
}

/// Writes `* THREAD` data after the name.
pub(crate) fn encode_thread_data(threads: &[Thread], e: &mut Encoder<'_>) {
    if !threads.is_empty() {
        e.put(b" ");
    }
    for t in threads {
        t.encode(e);
    }
}

//! The home of [`FetchItem`] and what goes with it; the explanation of this
//! part of the grammar is on that type, where the rendered documentation
//! shows it.

pub(crate) mod body;
pub(crate) mod data;
pub(crate) mod envelope;
pub(crate) mod modifier;
pub(crate) mod section;

use crate::decode::{DecoderConfig, ErrorKind};
use crate::encode::Encoder;
use crate::parse::{PError, PResult, fail, paren_list};
use crate::sequence::SequenceSet;
use crate::string::{IString, NString, Quoted};

use self::modifier::{FetchModifier, parse_fetch_modifiers};
use self::section::{Partial, Section, SectionPart, encode_section_binary, parse_section_binary};

// ---------------------------------------------------------------------
// Shared parsing helpers of the FETCH grammar.

pub(crate) use crate::parse::{is_nil, missing, separator as sp, skip_spaces};

/// `(`; with `lenient`, spaces after it. Inlined, as
/// [`sp`](crate::parse::separator) is.
#[inline(always)]
pub(crate) fn open_paren(input: &[u8], lenient: bool) -> PResult<'_, ()> {
    match input.strip_prefix(b"(") {
        Some(rest) if lenient => Ok((skip_spaces(rest), ())),
        Some(rest) => Ok((rest, ())),
        None => missing(input, "'('"),
    }
}

/// `)`; with `lenient`, spaces before it. Inlined, as
/// [`sp`](crate::parse::separator) is.
#[inline(always)]
pub(crate) fn close_paren(input: &[u8], lenient: bool) -> PResult<'_, ()> {
    let at = if lenient { skip_spaces(input) } else { input };
    match at.strip_prefix(b")") {
        Some(rest) => Ok((rest, ())),
        None => missing(at, "')'"),
    }
}

/// After an element of a list: the input past the separating space when
/// another element follows, `None` at the end of the list. With `lenient`,
/// runs of spaces separate, and spaces before `)` end the list.
#[inline(always)]
pub(crate) fn more(input: &[u8], lenient: bool) -> Option<&[u8]> {
    let rest = input.strip_prefix(b" ")?;
    if !lenient {
        return Some(rest);
    }
    let rest = skip_spaces(rest);
    if rest.first() == Some(&b')') {
        None
    } else {
        Some(rest)
    }
}

/// `nstring`, with the two common forms (quoted, NIL) first.
pub(crate) fn nstring<'a>(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, NString<'a>> {
    match input.first() {
        Some(b'"') => {
            let (rest, q) = Quoted::parse(input, config.leniency.eight_bit_quoted)?;
            Ok((rest, NString(Some(IString::Quoted(q)))))
        }
        Some(b'N') if input.get(1..3) == Some(b"IL") => Ok((&input[3..], NString(None))),
        _ => NString::parse(input, &config.leniency),
    }
}

/// [`nstring`] written into `out`, the input after it returned. Values
/// that come back from a function through memory are copied on with wider
/// loads than the stores that wrote them, which stalls store forwarding on
/// x86; written in place, the string's words are stored once, where they
/// stay.
#[inline(always)]
pub(crate) fn nstring_into<'a>(
    input: &'a [u8],
    config: &DecoderConfig,
    out: &mut NString<'a>,
) -> Result<&'a [u8], nom::Err<PError>> {
    match input.first() {
        Some(b'"') => {
            if let Some(n) = crate::string::plain_quoted(&input[1..]) {
                fill(
                    out,
                    NString(Some(IString::Quoted(Quoted::borrowed(&input[1..1 + n])))),
                );
                return Ok(&input[n + 2..]);
            }
        }
        Some(b'N') if input.get(1..3) == Some(b"IL") => {
            fill(out, NString(None));
            return Ok(&input[3..]);
        }
        _ => {}
    }
    nstring_into_slow(input, config, out)
}

/// The forms of [`nstring_into`] other than plain quoted text and NIL:
/// out of line, so that the common path saves few registers.
#[cold]
#[inline(never)]
fn nstring_into_slow<'a>(
    input: &'a [u8],
    config: &DecoderConfig,
    out: &mut NString<'a>,
) -> Result<&'a [u8], nom::Err<PError>> {
    let (rest, value) = nstring(input, config)?;
    *out = value;
    Ok(rest)
}

/// A value a decoder writes over in place, and the test that tells its
/// placeholders (values that own nothing) from the rest.
pub(crate) trait Placeholder {
    /// Whether `self` owns nothing, so that not running its drop code
    /// loses nothing. Each implementation matches only forms that cannot
    /// own memory (`None`, a borrowed string, a variant without heap
    /// data).
    fn is_placeholder(&self) -> bool;
}

/// Stores `value` in `slot`. The decoders call it on slots that hold a
/// placeholder (see [`Placeholder`]), which is overwritten without running
/// its drop code; anything else is dropped as usual, out of line, so a
/// slot filled twice leaks nothing. The test reads one discriminant in
/// place. Measured on the FETCH benchmark (callgrind, instructions, the
/// forgetting without a test as the base): this is 2.7% more; assigning
/// after the same test is 9% more (the drop code of the whole type is
/// still called); moving the old value out to test it is 15% more (a
/// copy of a few hundred bytes).
#[inline(always)]
pub(crate) fn fill<T: Placeholder>(slot: &mut T, value: T) {
    if slot.is_placeholder() {
        std::mem::forget(std::mem::replace(slot, value));
    } else {
        assign_out_of_line(slot, value);
    }
}

#[cold]
#[inline(never)]
fn assign_out_of_line<T>(slot: &mut T, value: T) {
    *slot = value;
}

/// Stores `value` in `slot`, which is `None`, and returns it, as
/// `Option::insert` does, but always inlined: the value is then built in
/// the slot, not on the stack and copied there with a call to `memcpy`
/// (these are structures of a few hundred bytes, filled field by field
/// after this).
#[inline(always)]
pub(crate) fn insert<T>(slot: &mut Option<T>, value: T) -> &mut T {
    fill(slot, Some(value));
    slot.get_or_insert_with(|| unreachable!("a value was stored just before"))
}

impl<T> Placeholder for Option<T> {
    #[inline(always)]
    fn is_placeholder(&self) -> bool {
        self.is_none()
    }
}

impl Placeholder for IString<'_> {
    #[inline(always)]
    fn is_placeholder(&self) -> bool {
        self.is_borrowed()
    }
}

impl Placeholder for NString<'_> {
    #[inline(always)]
    fn is_placeholder(&self) -> bool {
        self.0.is_none()
    }
}

pub(crate) fn too_deep<T>(input: &[u8], limit: usize) -> PResult<'_, T> {
    Err(nom::Err::Error(PError::kind(
        input,
        ErrorKind::TooDeep { limit },
        "less nesting",
    )))
}

/// The item names of FETCH commands and responses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Word {
    All,
    Fast,
    Full,
    Envelope,
    Flags,
    InternalDate,
    Rfc822,
    Rfc822Header,
    Rfc822Size,
    Rfc822Text,
    Body,
    BodyPeek,
    BodyStructure,
    Uid,
    Binary,
    BinaryPeek,
    BinarySize,
    ModSeq,
    EmailId,
    ThreadId,
    SaveDate,
    Preview,
}

/// The length of an item name at the start of `input`: atom characters up
/// to `[`.
pub(crate) fn name_len(input: &[u8]) -> usize {
    input
        .iter()
        .take_while(|&&b| b != b'[' && crate::string::is_atom_char(b))
        .count()
}

/// The items a server sends in every FETCH response, named in upper case
/// and followed by a space (`UID 4`, `BODY (...)`): the name's length and
/// which item it is, from a comparison of its bytes, without measuring
/// the name first. `None` for any other form (lower case, `BODY[`,
/// `BINARY`...), which [`name_len`] and [`word`] then read.
#[inline(always)]
pub(crate) fn common_response_word(input: &[u8]) -> Option<(usize, Word)> {
    #[inline(always)]
    fn named<const N: usize>(input: &[u8], name: &[u8; N], word: Word) -> Option<(usize, Word)> {
        (input.first_chunk::<N>() == Some(name) && input.get(N) == Some(&b' ')).then_some((N, word))
    }
    match input.first()? {
        b'U' => named(input, b"UID", Word::Uid),
        b'F' => named(input, b"FLAGS", Word::Flags),
        b'I' => named(input, b"INTERNALDATE", Word::InternalDate),
        b'R' => named(input, b"RFC822.SIZE", Word::Rfc822Size),
        b'E' => named(input, b"ENVELOPE", Word::Envelope),
        b'B' if input.get(4) == Some(&b'S') => named(input, b"BODYSTRUCTURE", Word::BodyStructure),
        b'B' => named(input, b"BODY", Word::Body),
        _ => None,
    }
}

/// Which item `name` is, chosen by length and first byte before any
/// comparison.
pub(crate) fn word(name: &[u8]) -> Option<Word> {
    let first = name.first()?.to_ascii_uppercase();
    // Servers send the names in upper case: an exact comparison first.
    let is = |w: &[u8]| name == w || name.eq_ignore_ascii_case(w);
    let found = match (name.len(), first) {
        (3, b'U') if is(b"UID") => Word::Uid,
        (3, b'A') if is(b"ALL") => Word::All,
        (4, b'B') if is(b"BODY") => Word::Body,
        (4, b'F') if is(b"FAST") => Word::Fast,
        (4, b'F') if is(b"FULL") => Word::Full,
        (5, b'F') if is(b"FLAGS") => Word::Flags,
        (6, b'R') if is(b"RFC822") => Word::Rfc822,
        (6, b'B') if is(b"BINARY") => Word::Binary,
        (6, b'M') if is(b"MODSEQ") => Word::ModSeq,
        (7, b'E') if is(b"EMAILID") => Word::EmailId,
        (7, b'P') if is(b"PREVIEW") => Word::Preview,
        (8, b'T') if is(b"THREADID") => Word::ThreadId,
        (8, b'S') if is(b"SAVEDATE") => Word::SaveDate,
        (8, b'E') if is(b"ENVELOPE") => Word::Envelope,
        (9, b'B') if is(b"BODY.PEEK") => Word::BodyPeek,
        (11, b'R') if is(b"RFC822.SIZE") => Word::Rfc822Size,
        (11, b'R') if is(b"RFC822.TEXT") => Word::Rfc822Text,
        (11, b'B') if is(b"BINARY.SIZE") => Word::BinarySize,
        (11, b'B') if is(b"BINARY.PEEK") => Word::BinaryPeek,
        (12, b'I') if is(b"INTERNALDATE") => Word::InternalDate,
        (13, b'B') if is(b"BODYSTRUCTURE") => Word::BodyStructure,
        (13, b'R') if is(b"RFC822.HEADER") => Word::Rfc822Header,
        _ => return None,
    };
    Some(found)
}

// ---------------------------------------------------------------------
// The command side.

/// A FETCH macro: shorthand for a list of data items (RFC 9051 section
/// 6.4.5). It must stand alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FetchMacro {
    /// `ALL`: `(FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)`.
    All,
    /// `FAST`: `(FLAGS INTERNALDATE RFC822.SIZE)`.
    Fast,
    /// `FULL`: `(FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY)`.
    Full,
}

impl FetchMacro {
    /// The data items the macro stands for.
    pub fn expand(self) -> &'static [FetchItem<'static>] {
        const FULL: &[FetchItem<'static>] = &[
            FetchItem::Flags,
            FetchItem::InternalDate,
            FetchItem::Rfc822Size,
            FetchItem::Envelope,
            FetchItem::Body,
        ];
        match self {
            FetchMacro::All => &FULL[..4],
            FetchMacro::Fast => &FULL[..3],
            FetchMacro::Full => FULL,
        }
    }

    /// The macro's name.
    pub fn name(self) -> &'static str {
        match self {
            FetchMacro::All => "ALL",
            FetchMacro::Fast => "FAST",
            FetchMacro::Full => "FULL",
        }
    }
}

/// A data item of a FETCH command: `fetch-att`.
///
/// The FETCH area, both directions: the FETCH command with its data items,
/// macros and RFC 4466 modifiers (a server decodes, a client encodes), and
/// the FETCH response with every message data item (a client decodes, a
/// server encodes). Covers RFC 9051 sections 6.4.5 and 7.5.2, RFC 3501
/// sections 6.4.5 and 7.4.2 (RFC822, RFC822.HEADER, RFC822.TEXT), RFC 3516
/// (BINARY, BINARY.PEEK, BINARY.SIZE, literal8), RFC 4466 section 2.4
/// (fetch modifiers) and RFC 7162 (CONDSTORE's MODSEQ item and
/// CHANGEDSINCE modifier, QRESYNC's VANISHED modifier; see
/// `crate::condstore`).
///
/// ```text
/// fetch           = "FETCH" SP sequence-set SP ("ALL" / "FULL" / "FAST" /
///                   fetch-att / "(" fetch-att *(SP fetch-att) ")")
///                   [fetch-modifiers]
/// fetch-att       = "ENVELOPE" / "FLAGS" / "INTERNALDATE" /
///                   "RFC822" [".HEADER" / ".SIZE" / ".TEXT"] /
///                   "BODY" ["STRUCTURE"] / "UID" /
///                   "BODY" section [partial] /
///                   "BODY.PEEK" section [partial] /
///                   "BINARY" [".PEEK"] section-binary [partial] /
///                   "BINARY.SIZE" section-binary
/// fetch-att       =/ "MODSEQ"                               ; RFC 7162
/// message-data    = nz-number SP ("EXPUNGE" / ("FETCH" SP msg-att))
/// ```
///
/// Submodules: `section` (section specs and partial ranges), `modifier`
/// (fetch modifiers), `envelope`, `body` (BODY and BODYSTRUCTURE), `data`
/// (the response's message data items).
///
/// Decoding borrows from the input; item names are told apart by their
/// length and bytes, not by trying keywords one after another.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FetchItem<'a> {
    /// `ENVELOPE`.
    Envelope,
    /// `FLAGS`.
    Flags,
    /// `INTERNALDATE`.
    InternalDate,
    /// `RFC822.SIZE`.
    Rfc822Size,
    /// `RFC822` (IMAP4rev1): the whole message, like `BODY[]`.
    Rfc822,
    /// `RFC822.HEADER` (IMAP4rev1): like `BODY.PEEK[HEADER]`.
    Rfc822Header,
    /// `RFC822.TEXT` (IMAP4rev1): like `BODY[TEXT]`.
    Rfc822Text,
    /// `BODY`: the body structure without extension data.
    Body,
    /// `BODYSTRUCTURE`.
    BodyStructure,
    /// `UID`.
    Uid,
    /// `BODY[section]<partial>`, or `BODY.PEEK[...]` when `peek` (which
    /// leaves `\Seen` alone).
    BodySection {
        /// The section.
        section: Section<'a>,
        /// The range wanted, if not all.
        partial: Option<Partial>,
        /// `BODY.PEEK`.
        peek: bool,
    },
    /// `BINARY[section-binary]<partial>` or `BINARY.PEEK[...]` (RFC 3516):
    /// the section with its transfer encoding removed.
    Binary {
        /// The part, `None` for `[]`.
        section: Option<SectionPart>,
        /// The range wanted, if not all.
        partial: Option<Partial>,
        /// `BINARY.PEEK`.
        peek: bool,
    },
    /// `BINARY.SIZE[section-binary]` (RFC 3516): the decoded size.
    BinarySize {
        /// The part, `None` for `[]`.
        section: Option<SectionPart>,
    },
    /// `MODSEQ` (CONDSTORE, RFC 7162): the message's mod-sequence; once
    /// asked for, the server adds it to every unsolicited FETCH.
    ModSeq,
    /// `EMAILID` (RFC 8474): the message's object identifier.
    EmailId,
    /// `THREADID` (RFC 8474): the thread's object identifier.
    ThreadId,
    /// `SAVEDATE` (RFC 8514): when the message was saved in this mailbox.
    SaveDate,
    /// `PREVIEW`, or `PREVIEW (LAZY)` when `lazy` (RFC 8970: `fetch-att =/
    /// "PREVIEW" [SP "(" preview-mod *(SP preview-mod) ")"]`, `preview-mod
    /// = "LAZY"`): a short text of the message; lazily, NIL when the
    /// server has none ready.
    Preview {
        /// `(LAZY)`: answer NIL rather than compute a preview now.
        lazy: bool,
    },
}

impl<'a> FetchItem<'a> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> FetchItem<'static> {
        match self {
            FetchItem::Envelope => FetchItem::Envelope,
            FetchItem::Flags => FetchItem::Flags,
            FetchItem::InternalDate => FetchItem::InternalDate,
            FetchItem::Rfc822Size => FetchItem::Rfc822Size,
            FetchItem::Rfc822 => FetchItem::Rfc822,
            FetchItem::Rfc822Header => FetchItem::Rfc822Header,
            FetchItem::Rfc822Text => FetchItem::Rfc822Text,
            FetchItem::Body => FetchItem::Body,
            FetchItem::BodyStructure => FetchItem::BodyStructure,
            FetchItem::Uid => FetchItem::Uid,
            FetchItem::BodySection {
                section,
                partial,
                peek,
            } => FetchItem::BodySection {
                section: section.into_owned(),
                partial,
                peek,
            },
            FetchItem::Binary {
                section,
                partial,
                peek,
            } => FetchItem::Binary {
                section,
                partial,
                peek,
            },
            FetchItem::BinarySize { section } => FetchItem::BinarySize { section },
            FetchItem::ModSeq => FetchItem::ModSeq,
            FetchItem::EmailId => FetchItem::EmailId,
            FetchItem::ThreadId => FetchItem::ThreadId,
            FetchItem::SaveDate => FetchItem::SaveDate,
            FetchItem::Preview { lazy } => FetchItem::Preview { lazy },
        }
    }

    /// `fetch-att` (RFC 9051, with the RFC822 items of RFC 3501, the
    /// BINARY items of RFC 3516 and `fetch-att =/ fetch-mod-sequence`,
    /// `fetch-mod-sequence = "MODSEQ"` of RFC 7162).
    pub(crate) fn parse(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, Self> {
        let n = name_len(input);
        let rest = &input[n..];
        let Some(w) = word(&input[..n]) else {
            return fail(input, "fetch attribute");
        };
        let item = match w {
            Word::Envelope => FetchItem::Envelope,
            Word::Flags => FetchItem::Flags,
            Word::InternalDate => FetchItem::InternalDate,
            Word::Rfc822Size => FetchItem::Rfc822Size,
            Word::Rfc822 => FetchItem::Rfc822,
            Word::Rfc822Header => FetchItem::Rfc822Header,
            Word::Rfc822Text => FetchItem::Rfc822Text,
            Word::BodyStructure => FetchItem::BodyStructure,
            Word::Uid => FetchItem::Uid,
            Word::ModSeq => FetchItem::ModSeq,
            Word::Body if rest.first() != Some(&b'[') => FetchItem::Body,
            Word::Body | Word::BodyPeek => {
                let (r, section) = Section::parse(rest, config)?;
                let (r, partial) = optional_partial(r)?;
                return Ok((
                    r,
                    FetchItem::BodySection {
                        section,
                        partial,
                        peek: w == Word::BodyPeek,
                    },
                ));
            }
            Word::Binary | Word::BinaryPeek => {
                let (r, section) = parse_section_binary(rest, config)?;
                let (r, partial) = optional_partial(r)?;
                return Ok((
                    r,
                    FetchItem::Binary {
                        section,
                        partial,
                        peek: w == Word::BinaryPeek,
                    },
                ));
            }
            Word::BinarySize => {
                let (r, section) = parse_section_binary(rest, config)?;
                return Ok((r, FetchItem::BinarySize { section }));
            }
            Word::EmailId => FetchItem::EmailId,
            Word::ThreadId => FetchItem::ThreadId,
            Word::SaveDate => FetchItem::SaveDate,
            Word::Preview => {
                let (r, lazy) = preview_modifiers(rest)?;
                return Ok((r, FetchItem::Preview { lazy }));
            }
            Word::All | Word::Fast | Word::Full => {
                return fail(input, "fetch attribute (ALL, FAST and FULL stand alone)");
            }
        };
        Ok((rest, item))
    }

    pub(crate) fn encode<'e>(&'e self, e: &mut Encoder<'e>) {
        let simple = match self {
            FetchItem::Envelope => "ENVELOPE",
            FetchItem::Flags => "FLAGS",
            FetchItem::InternalDate => "INTERNALDATE",
            FetchItem::Rfc822Size => "RFC822.SIZE",
            FetchItem::Rfc822 => "RFC822",
            FetchItem::Rfc822Header => "RFC822.HEADER",
            FetchItem::Rfc822Text => "RFC822.TEXT",
            FetchItem::Body => "BODY",
            FetchItem::BodyStructure => "BODYSTRUCTURE",
            FetchItem::Uid => "UID",
            FetchItem::ModSeq => "MODSEQ",
            FetchItem::BodySection {
                section,
                partial,
                peek,
            } => {
                e.put(if *peek { b"BODY.PEEK" } else { b"BODY" });
                section.encode(e);
                if let Some(p) = partial {
                    p.encode(e.line());
                }
                return;
            }
            FetchItem::Binary {
                section,
                partial,
                peek,
            } => {
                e.put(if *peek { b"BINARY.PEEK" } else { b"BINARY" });
                encode_section_binary(section.as_ref(), e.line());
                if let Some(p) = partial {
                    p.encode(e.line());
                }
                return;
            }
            FetchItem::BinarySize { section } => {
                e.put(b"BINARY.SIZE");
                encode_section_binary(section.as_ref(), e.line());
                return;
            }
            FetchItem::EmailId => "EMAILID",
            FetchItem::ThreadId => "THREADID",
            FetchItem::SaveDate => "SAVEDATE",
            FetchItem::Preview { lazy: false } => "PREVIEW",
            FetchItem::Preview { lazy: true } => "PREVIEW (LAZY)",
        };
        e.put(simple.as_bytes());
    }
}

/// `[SP "(" preview-mod *(SP preview-mod) ")"]` after `PREVIEW`, with
/// `preview-mod = "LAZY"` (RFC 8970): whether LAZY was asked. The list is
/// taken only when it starts with LAZY: after a lone PREVIEW item, ` (`
/// can also open the command's fetch modifiers.
fn preview_modifiers(input: &[u8]) -> PResult<'_, bool> {
    let lazy_at = |i: &[u8]| {
        i.len() >= 4 && i[..4].eq_ignore_ascii_case(b"LAZY") && matches!(i.get(4), Some(b' ' | b')'))
    };
    let Some(mut rest) = input.strip_prefix(b" (").filter(|r| lazy_at(r)) else {
        return Ok((input, false));
    };
    loop {
        if !lazy_at(rest) {
            return fail(rest, "LAZY");
        }
        rest = &rest[4..];
        match rest.first() {
            Some(b')') => return Ok((&rest[1..], true)),
            _ => rest = &rest[1..],
        }
    }
}

fn optional_partial(input: &[u8]) -> PResult<'_, Option<Partial>> {
    if input.first() == Some(&b'<') {
        let (r, p) = Partial::parse(input)?;
        Ok((r, Some(p)))
    } else {
        Ok((input, None))
    }
}

/// What a FETCH command asks for: a macro, a single data item, or a
/// parenthesized list (kept apart so that encoding gives back what was
/// decoded).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FetchItems<'a> {
    /// `ALL`, `FAST` or `FULL`.
    Macro(FetchMacro),
    /// One data item without parentheses.
    Item(FetchItem<'a>),
    /// `"(" fetch-att *(SP fetch-att) ")"` (never empty).
    List(Vec<FetchItem<'a>>),
}

/// Parses one data item as a FETCH command writes it, under
/// [`DecoderConfig::STRICT`].
///
/// ```
/// use mailwire_imap::{FetchItem, SectionText};
///
/// let item: FetchItem = "BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)]".parse()?;
/// let FetchItem::BodySection { section, peek: true, .. } = &item else { unreachable!() };
/// let Some(SectionText::HeaderFields(fields)) = section.text() else { unreachable!() };
/// assert_eq!(fields.names().len(), 2);
/// assert_eq!(item.to_string(), "BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)]");
/// assert!("BODY[HEADER.FIELDS ()]".parse::<FetchItem>().is_err());
/// # Ok::<(), mailwire_imap::DecodeError>(())
/// ```
impl std::str::FromStr for FetchItem<'static> {
    type Err = crate::DecodeError;
    fn from_str(s: &str) -> Result<Self, crate::DecodeError> {
        crate::parse::parse_str(s.as_bytes(), |i| FetchItem::parse(i, &DecoderConfig::STRICT))
            .map(FetchItem::into_owned)
    }
}

/// Parses what a FETCH command asks for: a macro (`ALL`, `FAST`, `FULL`),
/// one item, or a parenthesized list, under [`DecoderConfig::STRICT`].
///
/// ```
/// use mailwire_imap::{FetchItem, FetchItems};
///
/// let items: FetchItems = "(UID FLAGS BODY.PEEK[HEADER])".parse()?;
/// assert_eq!(items.items().len(), 3);
/// assert_eq!(items.items()[0], FetchItem::Uid);
/// assert_eq!("FAST".parse::<FetchItems>()?.items().len(), 3);
/// # Ok::<(), mailwire_imap::DecodeError>(())
/// ```
impl std::str::FromStr for FetchItems<'static> {
    type Err = crate::DecodeError;
    fn from_str(s: &str) -> Result<Self, crate::DecodeError> {
        crate::parse::parse_str(s.as_bytes(), |i| FetchItems::parse(i, &DecoderConfig::STRICT))
            .map(FetchItems::into_owned)
    }
}

crate::encode::display_wire! {
    /// The wire form: `BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)]`.
    FetchItem;
}

crate::encode::display_wire! {
    /// The wire form: a macro, one item, or a parenthesized list.
    FetchItems;
}

impl<'a> FetchItems<'a> {
    /// The data items asked for, macros expanded.
    pub fn items(&self) -> &[FetchItem<'a>] {
        match self {
            FetchItems::Macro(m) => m.expand(),
            FetchItems::Item(i) => std::slice::from_ref(i),
            FetchItems::List(l) => l,
        }
    }

    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> FetchItems<'static> {
        match self {
            FetchItems::Macro(m) => FetchItems::Macro(m),
            FetchItems::Item(i) => FetchItems::Item(i.into_owned()),
            FetchItems::List(l) => FetchItems::List(l.into_iter().map(FetchItem::into_owned).collect()),
        }
    }

    /// `"ALL" / "FULL" / "FAST" / fetch-att / "(" fetch-att *(SP fetch-att)
    /// ")"`.
    pub(crate) fn parse(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, Self> {
        if input.first() == Some(&b'(') {
            let (rest, items) = paren_list(config.limits.list, config.leniency.extra_spaces, |i| {
                FetchItem::parse(i, config)
            })(input)?;
            if items.is_empty() {
                return fail(&input[1..], "fetch attribute");
            }
            return Ok((rest, FetchItems::List(items)));
        }
        let n = name_len(input);
        let m = match word(&input[..n]) {
            Some(Word::All) => FetchMacro::All,
            Some(Word::Fast) => FetchMacro::Fast,
            Some(Word::Full) => FetchMacro::Full,
            _ => {
                let (rest, item) = FetchItem::parse(input, config).map_err(|e| match e {
                    nom::Err::Error(e) if e.remaining == input.len() => {
                        nom::Err::Error(PError::at(input, "fetch attribute, macro or '('"))
                    }
                    e => e,
                })?;
                return Ok((rest, FetchItems::Item(item)));
            }
        };
        Ok((&input[n..], FetchItems::Macro(m)))
    }

    pub(crate) fn encode<'e>(&'e self, e: &mut Encoder<'e>) {
        match self {
            FetchItems::Macro(m) => e.put(m.name().as_bytes()),
            FetchItems::Item(i) => i.encode(e),
            FetchItems::List(l) => {
                e.put(b"(");
                for (i, item) in l.iter().enumerate() {
                    if i > 0 {
                        e.put(b" ");
                    }
                    item.encode(e);
                }
                e.put(b")");
            }
        }
    }
}

/// The arguments of FETCH and UID FETCH.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fetch<'a> {
    /// The messages: sequence numbers, or UIDs for UID FETCH.
    pub sequence_set: SequenceSet,
    /// What to fetch.
    pub items: FetchItems<'a>,
    /// RFC 4466 modifiers; empty when none were sent.
    pub modifiers: Vec<FetchModifier<'a>>,
}

impl<'a> Fetch<'a> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> Fetch<'static> {
        Fetch {
            sequence_set: self.sequence_set,
            items: self.items.into_owned(),
            modifiers: self
                .modifiers
                .into_iter()
                .map(FetchModifier::into_owned)
                .collect(),
        }
    }

    /// The arguments of `fetch = "FETCH" SP sequence-set SP ("ALL" / "FULL"
    /// / "FAST" / fetch-att / "(" fetch-att *(SP fetch-att) ")")
    /// [fetch-modifiers]`, from the sequence set on.
    pub(crate) fn parse(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, Self> {
        let (rest, sequence_set) = SequenceSet::parse(input, config.limits.list)?;
        let (rest, _) = crate::parse::sp(rest)?;
        let (rest, items) = FetchItems::parse(rest, config)?;
        let (rest, modifiers) = match rest {
            [b' ', b'(', ..] => parse_fetch_modifiers(&rest[1..], config)?,
            _ => (rest, Vec::new()),
        };
        Ok((
            rest,
            Fetch {
                sequence_set,
                items,
                modifiers,
            },
        ))
    }

    /// Writes the arguments, from the sequence set on.
    pub(crate) fn encode<'e>(&'e self, e: &mut Encoder<'e>) {
        self.sequence_set.encode(e.line());
        e.put(b" ");
        self.items.encode(e);
        if !self.modifiers.is_empty() {
            e.put(b" (");
            for (i, m) in self.modifiers.iter().enumerate() {
                if i > 0 {
                    e.put(b" ");
                }
                m.encode(e);
            }
            e.put(b")");
        }
    }
}

#[cfg(test)]
mod tests;

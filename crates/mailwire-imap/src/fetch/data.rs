//! The home of [`MessageDataItem`] and what goes with it; the explanation of this
//! part of the grammar is on that type, where the rendered documentation
//! shows it.

use std::num::NonZeroU32;

use crate::condstore::{ModSeq, mod_sequence_value};
use crate::datetime::DateTime;
use crate::decode::DecoderConfig;
use crate::encode::Encoder;
use crate::flag::{Flag, FlagFetch};
use crate::objectid::ObjectId;
use crate::parse::{PError, PResult, fail, number, number64, nz_number, paren_list, put_number, too_many};
use crate::string::{AstringAtom, Atom, IString, Literal, NString, is_astring_char, is_atom_char};

use super::body::BodyStructure;
use super::envelope::Envelope;
use super::section::{
    Section, SectionPart, encode_origin, encode_section_binary, parse_origin, parse_section_binary,
};
use super::{
    Word, close_paren, common_response_word, is_nil, more, name_len, nstring, open_paren, sp, too_deep, word,
};

/// A message data item of a FETCH response.
///
/// The message data items of a FETCH response (RFC 9051 section 7.5.2,
/// RFC 3501 section 7.4.2, RFC 3516 section 4.3).
///
/// ```text
/// msg-att         = "(" (msg-att-dynamic / msg-att-static)
///                    *(SP (msg-att-dynamic / msg-att-static)) ")"
/// msg-att-dynamic = "FLAGS" SP "(" [flag-fetch *(SP flag-fetch)] ")"
/// msg-att-static  = "ENVELOPE" SP envelope /
///                   "INTERNALDATE" SP date-time /
///                   "RFC822.SIZE" SP number64 /
///                   "RFC822" [".HEADER" / ".TEXT"] SP nstring /
///                   "BODY" ["STRUCTURE"] SP body /
///                   "BODY" section ["<" number ">"] SP nstring /
///                   "BINARY" section-binary SP (nstring / literal8) /
///                   "BINARY.SIZE" section-binary SP number /
///                   "UID" SP uniqueid
/// msg-att-dynamic =/ fetch-mod-resp                         ; RFC 7162
/// fetch-mod-resp  = "MODSEQ" SP "(" permsg-modsequence ")"
/// ```
///
/// OBJECTID's `EMAILID` and `THREADID` (RFC 8474), SAVEDATE's `SAVEDATE`
/// (RFC 8514) and PREVIEW's `PREVIEW` (RFC 8970) are typed. Items of
/// extensions this crate has no variant for yet (`X-GM-LABELS`,
/// `X-GM-MSGID`...) are kept as
/// [`MessageDataItem::Other`] with a generic value, so a response that
/// carries them still decodes.
///
/// [`ResponseReader`](crate::ResponseReader) decodes the items one at a
/// time, and stops at the name of an item that carries message data, so
/// that the (possibly huge) literal is handed over in pieces instead of
/// being held whole.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MessageDataItem<'a> {
    /// `FLAGS (...)`.
    Flags(Vec<FlagFetch<'a>>),
    /// `UID n`.
    Uid(NonZeroU32),
    /// `INTERNALDATE "..."`.
    InternalDate(DateTime),
    /// `RFC822.SIZE n` (a 63-bit number in IMAP4rev2).
    Rfc822Size(u64),
    /// `ENVELOPE (...)`.
    Envelope(Box<Envelope<'a>>),
    /// `BODY (...)`: the body structure without extension data.
    Body(Box<BodyStructure<'a>>),
    /// `BODYSTRUCTURE (...)`.
    BodyStructure(Box<BodyStructure<'a>>),
    /// `RFC822 nstring` (IMAP4rev1).
    Rfc822(NString<'a>),
    /// `RFC822.HEADER nstring` (IMAP4rev1).
    Rfc822Header(NString<'a>),
    /// `RFC822.TEXT nstring` (IMAP4rev1).
    Rfc822Text(NString<'a>),
    /// `BODY[section]<origin> nstring`.
    BodySection {
        /// The section.
        section: Section<'a>,
        /// The origin octet of a partial fetch.
        origin: Option<u64>,
        /// The data; NIL when the section does not exist.
        data: NString<'a>,
    },
    /// `BINARY[section-binary]<origin> (nstring / literal8)` (RFC 3516);
    /// the origin is in the prose of RFC 3516 and RFC 9051, not in their
    /// ABNF.
    Binary {
        /// The part, `None` for `[]`.
        section: Option<SectionPart>,
        /// The origin octet of a partial fetch.
        origin: Option<u64>,
        /// The data: a literal8 ([`Literal::is_binary`]) when it holds NUL.
        data: NString<'a>,
    },
    /// `BINARY.SIZE[section-binary] number` (RFC 3516).
    BinarySize {
        /// The part, `None` for `[]`.
        section: Option<SectionPart>,
        /// The decoded size.
        size: u32,
    },
    /// `MODSEQ (n)` (CONDSTORE, RFC 7162): the message's mod-sequence.
    ModSeq(ModSeq),
    /// `EMAILID (id)` (RFC 8474: `fetch-emailid-resp = "EMAILID" SP "("
    /// objectid ")"`).
    EmailId(ObjectId<'a>),
    /// `THREADID (id)` or `THREADID NIL` (RFC 8474: `fetch-threadid-resp =
    /// "THREADID" SP ( "(" objectid ")" / nil )`); NIL when the server
    /// keeps no thread for the message.
    ThreadId(Option<ObjectId<'a>>),
    /// `SAVEDATE date-time` or `SAVEDATE NIL` (RFC 8514: `msg-att-static =/
    /// "SAVEDATE" SP (date-time / nil)`); NIL when the mailbox keeps no
    /// save dates.
    SaveDate(Option<DateTime>),
    /// `PREVIEW nstring` (RFC 8970: `msg-att-dynamic =/ "PREVIEW" SP
    /// nstring`); NIL when a LAZY fetch found none ready. The drafts' form
    /// `PREVIEW (FUZZY nstring)` decodes to this too when
    /// [`Leniency::fuzzy_preview`](crate::Leniency::fuzzy_preview) allows
    /// it; the encoder writes the RFC form.
    Preview(NString<'a>),
    /// An item of an extension this crate has no variant for, kept as
    /// sent.
    Other {
        /// The item name, as sent.
        name: Atom<'a>,
        /// Its value.
        value: ExtensionValue<'a>,
    },
}

/// The value of a FETCH data item this crate has no variant for: a
/// number, a string or NIL, an atom (flag-like atoms such as `\Inbox`
/// included), or a parenthesized list of those.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ExtensionValue<'a> {
    /// A number.
    Number(u64),
    /// A string, or NIL.
    String(NString<'a>),
    /// An atom (`]` allowed, as in astrings).
    Atom(AstringAtom<'a>),
    /// A `\`-prefixed atom such as `\Inbox`; the atom without the `\`.
    Flag(AstringAtom<'a>),
    /// A parenthesized list, possibly empty.
    List(Vec<ExtensionValue<'a>>),
}

impl ExtensionValue<'_> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> ExtensionValue<'static> {
        match self {
            ExtensionValue::Number(n) => ExtensionValue::Number(n),
            ExtensionValue::String(s) => ExtensionValue::String(s.into_owned()),
            ExtensionValue::Atom(a) => ExtensionValue::Atom(a.into_owned()),
            ExtensionValue::Flag(a) => ExtensionValue::Flag(a.into_owned()),
            ExtensionValue::List(l) => {
                ExtensionValue::List(l.into_iter().map(ExtensionValue::into_owned).collect())
            }
        }
    }

    fn parse<'a>(input: &'a [u8], config: &DecoderConfig, depth: usize) -> PResult<'a, ExtensionValue<'a>> {
        match input.first() {
            Some(b'(') => {
                if depth >= config.limits.depth {
                    return too_deep(input, config.limits.depth);
                }
                let lenient = config.leniency.extra_spaces;
                let (mut rest, ()) = open_paren(input, lenient)?;
                let mut list = Vec::new();
                if let Some(r) = rest.strip_prefix(b")") {
                    return Ok((r, ExtensionValue::List(list)));
                }
                loop {
                    if list.len() == config.limits.list {
                        return too_many(rest, config.limits.list, "')'");
                    }
                    let (r, v) = ExtensionValue::parse(rest, config, depth + 1)?;
                    list.push(v);
                    match more(r, lenient) {
                        Some(next) => rest = next,
                        None => {
                            let (r, ()) = close_paren(r, lenient)?;
                            return Ok((r, ExtensionValue::List(list)));
                        }
                    }
                }
            }
            Some(b'"' | b'{' | b'~') => {
                let (r, s) = data_value(input, config)?;
                Ok((r, ExtensionValue::String(s)))
            }
            Some(b'\\') => {
                let (r, a) = AstringAtom::parse(&input[1..])?;
                Ok((r, ExtensionValue::Flag(a)))
            }
            Some(b'0'..=b'9')
                if input.iter().take_while(|b| b.is_ascii_digit()).count() == atom_len(input) =>
            {
                let (r, v) = number64(input)?;
                Ok((r, ExtensionValue::Number(v)))
            }
            _ if is_nil(input) && atom_len(input) == 3 => {
                Ok((&input[3..], ExtensionValue::String(NString::NIL)))
            }
            _ => {
                let (r, a) = AstringAtom::parse(input)
                    .map_err(|_| nom::Err::Error(PError::at(input, "number, string, atom or list")))?;
                Ok((r, ExtensionValue::Atom(a)))
            }
        }
    }

    fn encode<'e>(&'e self, e: &mut Encoder<'e>) {
        match self {
            ExtensionValue::Number(n) => put_number(e.line(), *n),
            ExtensionValue::String(s) => s.encode(e),
            ExtensionValue::Atom(a) => e.put(a.as_str().as_bytes()),
            ExtensionValue::Flag(a) => {
                e.put(b"\\");
                e.put(a.as_str().as_bytes());
            }
            ExtensionValue::List(l) => {
                e.put(b"(");
                for (i, v) in l.iter().enumerate() {
                    if i > 0 {
                        e.put(b" ");
                    }
                    v.encode(e);
                }
                e.put(b")");
            }
        }
    }
}

fn atom_len(input: &[u8]) -> usize {
    input.iter().take_while(|&&b| is_astring_char(b)).count()
}

/// The name part of a FETCH response item that carries message data, up
/// to and including the space before the data: what a streaming decoder
/// reads before it takes a literal itself.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DataItemName<'a> {
    /// `RFC822`.
    Rfc822,
    /// `RFC822.HEADER`.
    Rfc822Header,
    /// `RFC822.TEXT`.
    Rfc822Text,
    /// `BODY[section]<origin>`.
    BodySection {
        /// The section.
        section: Section<'a>,
        /// The origin octet of a partial fetch.
        origin: Option<u64>,
    },
    /// `BINARY[section-binary]<origin>`.
    Binary {
        /// The part, `None` for `[]`.
        section: Option<SectionPart>,
        /// The origin octet of a partial fetch.
        origin: Option<u64>,
    },
}

impl<'a> DataItemName<'a> {
    /// The item with its data.
    pub fn with_data(self, data: NString<'a>) -> MessageDataItem<'a> {
        match self {
            DataItemName::Rfc822 => MessageDataItem::Rfc822(data),
            DataItemName::Rfc822Header => MessageDataItem::Rfc822Header(data),
            DataItemName::Rfc822Text => MessageDataItem::Rfc822Text(data),
            DataItemName::BodySection { section, origin } => MessageDataItem::BodySection {
                section,
                origin,
                data,
            },
            DataItemName::Binary { section, origin } => MessageDataItem::Binary {
                section,
                origin,
                data,
            },
        }
    }

    /// Whether the data may be a literal8 (`BINARY`).
    pub fn allows_literal8(&self) -> bool {
        matches!(self, DataItemName::Binary { .. })
    }

    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> DataItemName<'static> {
        match self {
            DataItemName::Rfc822 => DataItemName::Rfc822,
            DataItemName::Rfc822Header => DataItemName::Rfc822Header,
            DataItemName::Rfc822Text => DataItemName::Rfc822Text,
            DataItemName::BodySection { section, origin } => DataItemName::BodySection {
                section: section.into_owned(),
                origin,
            },
            DataItemName::Binary { section, origin } => DataItemName::Binary { section, origin },
        }
    }
}

/// The rest of a data-bearing item's name after its word: the section and
/// origin, then the space.
fn data_item_rest<'a>(w: Word, rest: &'a [u8], config: &DecoderConfig) -> PResult<'a, DataItemName<'a>> {
    let lenient = config.leniency.extra_spaces;
    let (rest, name) = match w {
        Word::Rfc822 => (rest, DataItemName::Rfc822),
        Word::Rfc822Header => (rest, DataItemName::Rfc822Header),
        Word::Rfc822Text => (rest, DataItemName::Rfc822Text),
        Word::Body => {
            let (r, section) = Section::parse(rest, config)?;
            let (r, origin) = parse_origin(r)?;
            (r, DataItemName::BodySection { section, origin })
        }
        Word::Binary => {
            let (r, section) = parse_section_binary(rest, config)?;
            let (r, origin) = parse_origin(r)?;
            (r, DataItemName::Binary { section, origin })
        }
        _ => return fail(rest, "message data item name"),
    };
    let (rest, ()) = sp(rest, lenient)?;
    Ok((rest, name))
}

/// Parses the name of a FETCH response item that carries message data
/// (`BODY[section]<origin>`, `BINARY[section-binary]<origin>`, `RFC822`,
/// `RFC822.HEADER`, `RFC822.TEXT`) up to and including the space before
/// its nstring, so that a streaming decoder can take a large literal
/// itself. Fails on any other item.
pub(crate) fn data_item_name<'a>(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, DataItemName<'a>> {
    let n = name_len(input);
    let rest = &input[n..];
    match word(&input[..n]) {
        Some(w @ (Word::Rfc822 | Word::Rfc822Header | Word::Rfc822Text | Word::Binary)) => {
            data_item_rest(w, rest, config)
        }
        Some(Word::Body) if rest.first() == Some(&b'[') => data_item_rest(Word::Body, rest, config),
        _ => fail(
            input,
            "BODY[...], BINARY[...], RFC822, RFC822.HEADER or RFC822.TEXT",
        ),
    }
}

/// `nstring / literal8`: the data of a data-bearing item.
fn data_value<'a>(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, NString<'a>> {
    if input.first() == Some(&b'~') {
        let (r, l) = Literal::parse(input, config.leniency.bare_lf)?;
        return Ok((r, NString(Some(IString::Literal(l)))));
    }
    nstring(input, config)
}

/// `"(" "FUZZY" SP nstring ")"`: the PREVIEW data of the drafts before
/// RFC 8970, which older Dovecot 2.3 builds send (`PREVIEW (FUZZY "...")`,
/// `PREVIEW (FUZZY NIL)`); the text is RFC 8970's preview.
fn fuzzy_preview<'a>(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, NString<'a>> {
    let lenient = config.leniency.extra_spaces;
    let (r, ()) = open_paren(input, lenient)?;
    let (r, _) = crate::parse::keyword("FUZZY")(r)?;
    let (r, ()) = sp(r, lenient)?;
    let (r, text) = nstring(r, config)?;
    let (r, ()) = close_paren(r, lenient)?;
    Ok((r, text))
}

/// `flag-fetch`, with the system flags in their RFC spelling and keywords
/// read without the general path (they make up most FLAGS lists).
fn flag_fetch(input: &[u8]) -> PResult<'_, FlagFetch<'_>> {
    if let Some(name) = input.strip_prefix(b"\\") {
        let n = name.iter().take_while(|&&b| is_atom_char(b)).count();
        let flag = match &name[..n] {
            b"Seen" => Some(FlagFetch::Flag(Flag::Seen)),
            b"Answered" => Some(FlagFetch::Flag(Flag::Answered)),
            b"Flagged" => Some(FlagFetch::Flag(Flag::Flagged)),
            b"Deleted" => Some(FlagFetch::Flag(Flag::Deleted)),
            b"Draft" => Some(FlagFetch::Flag(Flag::Draft)),
            b"Recent" => Some(FlagFetch::Recent),
            _ => None,
        };
        if let Some(flag) = flag {
            return Ok((&name[n..], flag));
        }
    } else if let Ok((rest, keyword)) = Atom::parse(input) {
        // flag-keyword = ... / atom
        return Ok((rest, FlagFetch::Flag(Flag::Keyword(keyword))));
    }
    FlagFetch::parse(input)
}

/// One item of `msg-att`: `msg-att-dynamic / msg-att-static`, or an
/// extension item kept as [`MessageDataItem::Other`].
pub(crate) fn msg_att_item<'a>(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, MessageDataItem<'a>> {
    let mut item = PLACEHOLDER;
    let rest = msg_att_item_into(input, config, &mut item)?;
    Ok((rest, item))
}

/// An item that owns nothing, to be overwritten.
const PLACEHOLDER: MessageDataItem<'static> = MessageDataItem::Rfc822Size(0);

impl super::Placeholder for MessageDataItem<'_> {
    #[inline(always)]
    fn is_placeholder(&self) -> bool {
        matches!(self, MessageDataItem::Rfc822Size(_))
    }
}

/// [`msg_att_item`] written into `out`, which owns nothing: each item is
/// stored where it stays (see [`nstring_into`](super::nstring_into)).
fn msg_att_item_into<'a>(
    input: &'a [u8],
    config: &DecoderConfig,
    out: &mut MessageDataItem<'a>,
) -> Result<&'a [u8], nom::Err<PError>> {
    let lenient = config.leniency.extra_spaces;
    let (n, w) = match common_response_word(input) {
        Some((n, w)) => (n, Some(w)),
        None => {
            let n = name_len(input);
            (n, word(&input[..n]))
        }
    };
    let rest = &input[n..];
    let fill = super::fill;
    let r = match w {
        Some(Word::Flags) => {
            let (r, ()) = sp(rest, lenient)?;
            let (r, flags) = paren_list(config.limits.list, lenient, flag_fetch)(r)?;
            fill(out, MessageDataItem::Flags(flags));
            r
        }
        Some(Word::Uid) => {
            let (r, ()) = sp(rest, lenient)?;
            let (r, uid) = nz_number(r)?;
            fill(out, MessageDataItem::Uid(uid));
            r
        }
        Some(Word::InternalDate) => {
            let (r, ()) = sp(rest, lenient)?;
            let (r, date) = DateTime::parse(r, config.leniency.unpadded_day)?;
            fill(out, MessageDataItem::InternalDate(date));
            r
        }
        Some(Word::Rfc822Size) => {
            let (r, ()) = sp(rest, lenient)?;
            let (r, size) = number64(r)?;
            fill(out, MessageDataItem::Rfc822Size(size));
            r
        }
        // Parsed in their boxes: these structures are large to move.
        Some(Word::Envelope) => {
            let (r, ()) = sp(rest, lenient)?;
            let mut envelope = Box::new(Envelope::EMPTY);
            let r = envelope.parse_into(r, config)?;
            fill(out, MessageDataItem::Envelope(envelope));
            r
        }
        Some(Word::Body) if rest.first() != Some(&b'[') => {
            let (r, ()) = sp(rest, lenient)?;
            let mut body = BodyStructure::boxed_placeholder_for(r);
            let r = BodyStructure::parse_into(r, config, 0, &mut body)?;
            fill(out, MessageDataItem::Body(body));
            r
        }
        Some(Word::BodyStructure) => {
            let (r, ()) = sp(rest, lenient)?;
            let mut body = BodyStructure::boxed_placeholder_for(r);
            let r = BodyStructure::parse_into(r, config, 0, &mut body)?;
            fill(out, MessageDataItem::BodyStructure(body));
            r
        }
        Some(Word::BinarySize) => {
            let (r, section) = parse_section_binary(rest, config)?;
            let (r, ()) = sp(r, lenient)?;
            let (r, size) = number(r)?;
            fill(out, MessageDataItem::BinarySize { section, size });
            r
        }
        // "MODSEQ" SP "(" permsg-modsequence ")"
        Some(Word::ModSeq) => {
            let (r, ()) = sp(rest, lenient)?;
            let (r, ()) = open_paren(r, lenient)?;
            let (r, m) = mod_sequence_value(r)?;
            let (r, ()) = close_paren(r, lenient)?;
            fill(out, MessageDataItem::ModSeq(m));
            r
        }
        Some(w @ (Word::Body | Word::Binary | Word::Rfc822 | Word::Rfc822Header | Word::Rfc822Text)) => {
            let (r, name) = data_item_rest(w, rest, config)?;
            let (r, data) = if name.allows_literal8() {
                data_value(r, config)?
            } else {
                nstring(r, config)?
            };
            fill(out, name.with_data(data));
            r
        }
        Some(Word::EmailId) => {
            let (r, ()) = sp(rest, lenient)?;
            let (r, id) = ObjectId::parse_parenthesized(r)?;
            fill(out, MessageDataItem::EmailId(id));
            r
        }
        Some(Word::ThreadId) => {
            let (r, ()) = sp(rest, lenient)?;
            let (r, id) = ObjectId::parse_parenthesized_or_nil(r)?;
            fill(out, MessageDataItem::ThreadId(id));
            r
        }
        Some(Word::SaveDate) => {
            let (r, ()) = sp(rest, lenient)?;
            let (r, date) = if is_nil(r) {
                (&r[3..], None)
            } else {
                let (r, d) = DateTime::parse(r, config.leniency.unpadded_day)?;
                (r, Some(d))
            };
            fill(out, MessageDataItem::SaveDate(date));
            r
        }
        Some(Word::Preview) => {
            let (r, ()) = sp(rest, lenient)?;
            let (r, text) = if config.leniency.fuzzy_preview && r.first() == Some(&b'(') {
                fuzzy_preview(r, config)?
            } else {
                nstring(r, config)?
            };
            fill(out, MessageDataItem::Preview(text));
            r
        }
        // Names of the command side, and unknown names.
        _ => {
            if n == 0 {
                return fail(input, "message data item").map(|(r, ())| r);
            }
            // Atom characters are ASCII.
            let name = std::str::from_utf8(&input[..n]).unwrap_or_default();
            let Ok(name) = Atom::new(name) else {
                return fail(input, "message data item").map(|(r, ())| r);
            };
            let (r, ()) = sp(rest, lenient)?;
            let (r, value) = ExtensionValue::parse(r, config, 0)?;
            fill(out, MessageDataItem::Other { name, value });
            r
        }
    };
    Ok(r)
}

/// `msg-att = "(" (msg-att-dynamic / msg-att-static) *(SP (msg-att-dynamic
/// / msg-att-static)) ")"`: at least one item, at most
/// [`Limits::list`](crate::Limits::list).
pub(crate) fn msg_att<'a>(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, Vec<MessageDataItem<'a>>> {
    let lenient = config.leniency.extra_spaces;
    let (mut rest, ()) = open_paren(input, lenient)?;
    let mut items = Vec::with_capacity(config.limits.list.min(8));
    loop {
        if items.len() == config.limits.list {
            return too_many(rest, config.limits.list, "')'");
        }
        items.push(PLACEHOLDER);
        let Some(item) = items.last_mut() else {
            return fail(rest, "message data item");
        };
        let r = msg_att_item_into(rest, config, item)?;
        match more(r, lenient) {
            Some(next) => rest = next,
            None => {
                let (r, ()) = close_paren(r, lenient)?;
                return Ok((r, items));
            }
        }
    }
}

impl<'a> MessageDataItem<'a> {
    /// A message data item (`BODY[...]`, `BINARY[...]`, `RFC822`,
    /// `RFC822.HEADER`, `RFC822.TEXT`) split into its name and its data,
    /// the inverse of [`DataItemName::with_data`]; any other item comes
    /// back as it is, in `Err`.
    pub fn into_data(self) -> Result<(DataItemName<'a>, NString<'a>), Self> {
        match self {
            MessageDataItem::Rfc822(data) => Ok((DataItemName::Rfc822, data)),
            MessageDataItem::Rfc822Header(data) => Ok((DataItemName::Rfc822Header, data)),
            MessageDataItem::Rfc822Text(data) => Ok((DataItemName::Rfc822Text, data)),
            MessageDataItem::BodySection {
                section,
                origin,
                data,
            } => Ok((DataItemName::BodySection { section, origin }, data)),
            MessageDataItem::Binary {
                section,
                origin,
                data,
            } => Ok((DataItemName::Binary { section, origin }, data)),
            other => Err(other),
        }
    }

    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> MessageDataItem<'static> {
        match self {
            MessageDataItem::Flags(f) => {
                MessageDataItem::Flags(f.into_iter().map(FlagFetch::into_owned).collect())
            }
            MessageDataItem::Uid(u) => MessageDataItem::Uid(u),
            MessageDataItem::InternalDate(d) => MessageDataItem::InternalDate(d),
            MessageDataItem::Rfc822Size(s) => MessageDataItem::Rfc822Size(s),
            MessageDataItem::Envelope(e) => MessageDataItem::Envelope(Box::new(e.into_owned())),
            MessageDataItem::Body(b) => MessageDataItem::Body(Box::new(b.into_owned())),
            MessageDataItem::BodyStructure(b) => MessageDataItem::BodyStructure(Box::new(b.into_owned())),
            MessageDataItem::Rfc822(s) => MessageDataItem::Rfc822(s.into_owned()),
            MessageDataItem::Rfc822Header(s) => MessageDataItem::Rfc822Header(s.into_owned()),
            MessageDataItem::Rfc822Text(s) => MessageDataItem::Rfc822Text(s.into_owned()),
            MessageDataItem::BodySection {
                section,
                origin,
                data,
            } => MessageDataItem::BodySection {
                section: section.into_owned(),
                origin,
                data: data.into_owned(),
            },
            MessageDataItem::Binary {
                section,
                origin,
                data,
            } => MessageDataItem::Binary {
                section,
                origin,
                data: data.into_owned(),
            },
            MessageDataItem::BinarySize { section, size } => MessageDataItem::BinarySize { section, size },
            MessageDataItem::ModSeq(m) => MessageDataItem::ModSeq(m),
            MessageDataItem::EmailId(id) => MessageDataItem::EmailId(id.into_owned()),
            MessageDataItem::ThreadId(id) => MessageDataItem::ThreadId(id.map(ObjectId::into_owned)),
            MessageDataItem::SaveDate(d) => MessageDataItem::SaveDate(d),
            MessageDataItem::Preview(p) => MessageDataItem::Preview(p.into_owned()),
            MessageDataItem::Other { name, value } => MessageDataItem::Other {
                name: name.into_owned(),
                value: value.into_owned(),
            },
        }
    }

    /// Writes the item.
    pub(crate) fn encode<'e>(&'e self, e: &mut Encoder<'e>) {
        match self {
            MessageDataItem::Flags(flags) => {
                e.put(b"FLAGS (");
                for (i, f) in flags.iter().enumerate() {
                    if i > 0 {
                        e.put(b" ");
                    }
                    f.encode(e.line());
                }
                e.put(b")");
            }
            MessageDataItem::Uid(u) => {
                e.put(b"UID ");
                e.number(u64::from(u.get()));
            }
            MessageDataItem::InternalDate(d) => {
                e.put(b"INTERNALDATE ");
                d.encode(e.line());
            }
            MessageDataItem::Rfc822Size(s) => {
                e.put(b"RFC822.SIZE ");
                e.number(*s);
            }
            MessageDataItem::Envelope(env) => {
                e.put(b"ENVELOPE ");
                env.encode(e);
            }
            MessageDataItem::Body(b) => {
                e.put(b"BODY ");
                b.encode(e);
            }
            MessageDataItem::BodyStructure(b) => {
                e.put(b"BODYSTRUCTURE ");
                b.encode(e);
            }
            MessageDataItem::Rfc822(s) => {
                e.put(b"RFC822 ");
                s.encode(e);
            }
            MessageDataItem::Rfc822Header(s) => {
                e.put(b"RFC822.HEADER ");
                s.encode(e);
            }
            MessageDataItem::Rfc822Text(s) => {
                e.put(b"RFC822.TEXT ");
                s.encode(e);
            }
            MessageDataItem::BodySection {
                section,
                origin,
                data,
            } => {
                e.put(b"BODY");
                section.encode(e);
                encode_origin(*origin, e.line());
                e.put(b" ");
                data.encode(e);
            }
            MessageDataItem::Binary {
                section,
                origin,
                data,
            } => {
                e.put(b"BINARY");
                encode_section_binary(section.as_ref(), e.line());
                encode_origin(*origin, e.line());
                e.put(b" ");
                e.with_literal8(|e| data.encode(e));
            }
            MessageDataItem::BinarySize { section, size } => {
                e.put(b"BINARY.SIZE");
                encode_section_binary(section.as_ref(), e.line());
                e.put(b" ");
                e.number(u64::from(*size));
            }
            MessageDataItem::ModSeq(m) => {
                e.put(b"MODSEQ (");
                e.number(m.get());
                e.put(b")");
            }
            MessageDataItem::EmailId(id) => {
                e.put(b"EMAILID ");
                id.encode_parenthesized(e);
            }
            MessageDataItem::ThreadId(id) => {
                e.put(b"THREADID ");
                match id {
                    Some(id) => id.encode_parenthesized(e),
                    None => e.put(b"NIL"),
                }
            }
            MessageDataItem::SaveDate(d) => {
                e.put(b"SAVEDATE ");
                match d {
                    Some(d) => d.encode(e.line()),
                    None => e.put(b"NIL"),
                }
            }
            MessageDataItem::Preview(p) => {
                e.put(b"PREVIEW ");
                p.encode(e);
            }
            MessageDataItem::Other { name, value } => {
                e.put(name.as_str().as_bytes());
                e.put(b" ");
                // Its strings are taken as literal8 too (an item this
                // crate does not know may carry binary data).
                e.with_literal8(|e| value.encode(e));
            }
        }
    }
}

/// Writes `msg-att`.
pub(crate) fn encode_msg_att<'e>(items: &'e [MessageDataItem<'_>], e: &mut Encoder<'e>) {
    e.put(b"(");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            e.put(b" ");
        }
        item.encode(e);
    }
    e.put(b")");
}

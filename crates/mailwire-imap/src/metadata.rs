//! METADATA and METADATA-SERVER (RFC 5464): annotations on mailboxes and
//! on the server, named by slash-separated entry names. Adds the
//! GETMETADATA (with its MAXSIZE and DEPTH options) and SETMETADATA
//! commands, the METADATA response in both its forms (values answering
//! GETMETADATA, and the unsolicited list of changed entries), and the
//! `[METADATA ...]` response codes.
//!
//! ```text
//! entries             = entry / "(" entry *(SP entry) ")"
//! entry               = astring
//!                       ; slash-separated path to entry
//!                       ; MUST NOT contain "*" or "%"
//! entry-value         = entry SP value
//! entry-values        = "(" entry-value *(SP entry-value) ")"
//! entry-list          = entry *(SP entry)
//! getmetadata         = "GETMETADATA" [SP getmetadata-options]
//!                       SP mailbox SP entries
//! getmetadata-options = "(" getmetadata-option *(SP getmetadata-option) ")"
//! getmetadata-option  = tagged-ext-label [SP tagged-ext-val]
//! maxsize-opt         = "MAXSIZE" SP number
//! scope-opt           = "DEPTH" SP ("0" / "1" / "infinity")
//! metadata-resp       = "METADATA" SP mailbox SP (entry-values / entry-list)
//! resp-text-code      =/ "METADATA" SP "LONGENTRIES" SP number
//! resp-text-code      =/ "METADATA" SP ("MAXSIZE" SP number /
//!                        "TOOMANY" / "NOPRIVATE")
//! setmetadata         = "SETMETADATA" SP mailbox SP entry-values
//! value               = nstring / literal8
//! ```
//!
//! The empty mailbox name (`""`) stands for the server. Entry names are
//! validated by [`MetadataEntry::new`] (RFC 5464 section 3.2); values are
//! [`NString`]s, whose literals may be literal8.

use std::borrow::Cow;

use nom::Parser;

use crate::decode::DecoderConfig;
use crate::encode::Encoder;
use crate::extension::{TaggedExt, tagged_ext_label};
use crate::mailbox::Mailbox;
use crate::parse::{PError, PResult, expect, fail, keyword, number, paren_list, sp, too_many};
use crate::string::{AString, NString, TypeError, is_astring_char};

/// An entry name: `/`-separated components starting with `/`, such as
/// `/private/comment`; no `*` or `%`, no control or non-ASCII bytes, no
/// `//`, no `/` at the end (RFC 5464 section 3.2). Compared as sent;
/// servers treat the names case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MetadataEntry<'a>(Cow<'a, str>);

/// What is wrong with an entry name, and where (a byte position).
fn check_entry(name: &[u8]) -> Result<(), (usize, &'static str)> {
    if name.first() != Some(&b'/') {
        return Err((0, "'/' at the start"));
    }
    for (i, &b) in name.iter().enumerate() {
        if !(0x20..0x7f).contains(&b) || b == b'*' || b == b'%' {
            return Err((i, "entry name character (printable ASCII, not '*' or '%')"));
        }
        if b == b'/' && name.get(i + 1) == Some(&b'/') {
            return Err((i + 1, "entry name component (no '//')"));
        }
    }
    if name.len() < 2 || name.last() == Some(&b'/') {
        return Err((name.len(), "entry name component (no '/' at the end)"));
    }
    Ok(())
}

impl<'a> MetadataEntry<'a> {
    /// Validates an entry name.
    pub fn new(name: impl Into<Cow<'a, str>>) -> Result<Self, TypeError> {
        let name = name.into();
        match check_entry(name.as_bytes()) {
            Ok(()) => Ok(MetadataEntry(name)),
            Err((position, problem)) => Err(TypeError {
                what: "metadata entry name",
                problem,
                byte: name.as_bytes().get(position).copied(),
                position: Some(position),
            }),
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> MetadataEntry<'static> {
        MetadataEntry(Cow::Owned(self.0.into_owned()))
    }

    /// `entry = astring`, validated; the error points at the bad byte
    /// when the name is in the input as sent.
    pub(crate) fn parse(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, Self> {
        let (rest, s) = expect("entry name", |i| AString::parse(i, &config.leniency)).parse(input)?;
        let bytes = s.as_bytes();
        let offset = (bytes.as_ptr() as usize)
            .checked_sub(input.as_ptr() as usize)
            .filter(|o| {
                input
                    .get(*o..o + bytes.len())
                    .is_some_and(|b| b.as_ptr() == bytes.as_ptr())
            });
        if let Err((position, problem)) = check_entry(bytes) {
            let at = offset.map_or(input, |o| &input[(o + position).min(input.len())..]);
            return Err(nom::Err::Error(PError::at(at, problem)));
        }
        // Checked: printable ASCII.
        let name = match offset {
            Some(o) => Cow::Borrowed(std::str::from_utf8(&input[o..o + bytes.len()]).unwrap_or_default()),
            None => Cow::Owned(String::from_utf8_lossy(bytes).into_owned()),
        };
        Ok((rest, MetadataEntry(name)))
    }

    /// Writes the name: an atom when it can be, quoted otherwise (a
    /// valid name never needs a literal).
    pub(crate) fn encode(&self, e: &mut Encoder<'_>) {
        let bytes = self.0.as_bytes();
        if bytes.iter().all(|&b| is_astring_char(b)) {
            e.put(bytes);
        } else {
            crate::string::write_quoted(e.line(), bytes);
        }
    }
}

/// `entry-value = entry SP value`, `value = nstring / literal8`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MetadataEntryValue<'a> {
    /// The entry.
    pub entry: MetadataEntry<'a>,
    /// Its value; NIL removes the entry (SETMETADATA) or says it has no
    /// value (METADATA).
    pub value: NString<'a>,
}

impl MetadataEntryValue<'_> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> MetadataEntryValue<'static> {
        MetadataEntryValue {
            entry: self.entry.into_owned(),
            value: self.value.into_owned(),
        }
    }
}

/// `value = nstring / literal8`.
fn value<'a>(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, NString<'a>> {
    if input.first() == Some(&b'~') {
        let (r, l) = crate::string::Literal::parse(input, config.leniency.bare_lf)?;
        return Ok((r, NString(Some(crate::string::IString::Literal(l)))));
    }
    NString::parse(input, &config.leniency)
}

/// `entry-values = "(" entry-value *(SP entry-value) ")"`: at least one.
fn entry_values<'a>(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, Vec<MetadataEntryValue<'a>>> {
    let (rest, list) = paren_list(config.limits.list, config.leniency.extra_spaces, |i| {
        let (r, entry) = MetadataEntry::parse(i, config)?;
        let (r, _) = sp(r)?;
        let (r, value) = value(r, config)?;
        Ok((r, MetadataEntryValue { entry, value }))
    })(input)?;
    if list.is_empty() {
        return fail(input.get(1..).unwrap_or_default(), "entry name");
    }
    Ok((rest, list))
}

fn encode_entry_values<'e>(values: &'e [MetadataEntryValue<'e>], e: &mut Encoder<'e>) {
    e.put(b"(");
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            e.put(b" ");
        }
        v.entry.encode(e);
        e.put(b" ");
        // `value = nstring / literal8`.
        e.with_literal8(|e| v.value.encode(e));
    }
    e.put(b")");
}

/// The DEPTH of a GETMETADATA: `scope-opt = "DEPTH" SP ("0" / "1" /
/// "infinity")`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetadataDepth {
    /// `0`: the entries named (the default).
    Zero,
    /// `1`: and their children.
    One,
    /// `infinity`: and all their descendants.
    Infinity,
}

/// An option of GETMETADATA: `getmetadata-option = tagged-ext-label [SP
/// tagged-ext-val]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum GetMetadataOption<'a> {
    /// `MAXSIZE n`: only values of at most `n` octets.
    MaxSize(u32),
    /// `DEPTH 0/1/infinity`.
    Depth(MetadataDepth),
    /// Any other option, as sent (never MAXSIZE or DEPTH).
    Other(TaggedExt<'a>),
}

impl<'a> GetMetadataOption<'a> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> GetMetadataOption<'static> {
        match self {
            GetMetadataOption::MaxSize(n) => GetMetadataOption::MaxSize(n),
            GetMetadataOption::Depth(d) => GetMetadataOption::Depth(d),
            GetMetadataOption::Other(t) => GetMetadataOption::Other(t.into_owned()),
        }
    }

    /// `getmetadata-option`, with `maxsize-opt` and `scope-opt` typed.
    fn parse(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, Self> {
        let (rest, name) = expect("GETMETADATA option", tagged_ext_label).parse(input)?;
        if name.as_str().eq_ignore_ascii_case("MAXSIZE") {
            let (rest, _) = sp(rest)?;
            let (rest, n) = number(rest)?;
            return Ok((rest, GetMetadataOption::MaxSize(n)));
        }
        if name.as_str().eq_ignore_ascii_case("DEPTH") {
            let (rest, _) = sp(rest)?;
            let depth = match rest.first() {
                Some(b'0') => Some((&rest[1..], MetadataDepth::Zero)),
                Some(b'1') => Some((&rest[1..], MetadataDepth::One)),
                _ => keyword("infinity")(rest)
                    .ok()
                    .map(|(r, _)| (r, MetadataDepth::Infinity)),
            };
            return match depth {
                Some((r, d)) if !r.first().is_some_and(|b| b.is_ascii_alphanumeric()) => {
                    Ok((r, GetMetadataOption::Depth(d)))
                }
                _ => fail(rest, "0, 1 or infinity"),
            };
        }
        let (rest, ext) = TaggedExt::parse_value(rest, name, config)?;
        Ok((rest, GetMetadataOption::Other(ext)))
    }

    fn encode<'e>(&'e self, e: &mut Encoder<'e>) {
        match self {
            GetMetadataOption::MaxSize(n) => {
                e.put(b"MAXSIZE ");
                e.number(u64::from(*n));
            }
            GetMetadataOption::Depth(d) => e.put(match d {
                MetadataDepth::Zero => b"DEPTH 0",
                MetadataDepth::One => b"DEPTH 1",
                MetadataDepth::Infinity => b"DEPTH infinity",
            }),
            GetMetadataOption::Other(t) => t.encode(e),
        }
    }
}

/// The arguments of GETMETADATA.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GetMetadata<'a> {
    /// The options; empty when none were sent.
    pub options: Vec<GetMetadataOption<'a>>,
    /// The mailbox; `""` for server annotations.
    pub mailbox: Mailbox<'a>,
    /// The entries asked for, at least one (one is sent without
    /// parentheses).
    pub entries: Vec<MetadataEntry<'a>>,
}

impl<'a> GetMetadata<'a> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> GetMetadata<'static> {
        GetMetadata {
            options: self
                .options
                .into_iter()
                .map(GetMetadataOption::into_owned)
                .collect(),
            mailbox: self.mailbox.into_owned(),
            entries: self.entries.into_iter().map(MetadataEntry::into_owned).collect(),
        }
    }

    /// `getmetadata = "GETMETADATA" [SP getmetadata-options] SP mailbox SP
    /// entries`, after the name; the options are also read after the
    /// mailbox, where RFC 5464's examples put them.
    pub(crate) fn parse(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, Self> {
        // "(" getmetadata-option *(SP getmetadata-option) ")" SP
        let option_list = |rest: &'a [u8]| -> PResult<'a, Vec<GetMetadataOption<'a>>> {
            let (r, list) = paren_list(config.limits.list, config.leniency.extra_spaces, |i| {
                GetMetadataOption::parse(i, config)
            })(rest)?;
            if list.is_empty() {
                return fail(&rest[1..], "GETMETADATA option");
            }
            let (r, _) = sp(r)?;
            Ok((r, list))
        };
        let (mut rest, _) = sp(input)?;
        let mut options = Vec::new();
        if rest.first() == Some(&b'(') {
            (rest, options) = option_list(rest)?;
        }
        let (rest, mailbox) = Mailbox::parse(rest, &config.leniency)?;
        let (mut rest, _) = sp(rest)?;
        // RFC 5464's examples (sections 4.2.1 and 4.2.2) put the options
        // after the mailbox, against its ABNF, and clients copy them: both
        // orders are read, the ABNF's is written. An option list starts
        // with a label, an entry list with an entry name.
        if options.is_empty()
            && rest.first() == Some(&b'(')
            && rest.get(1).is_some_and(|b| b.is_ascii_alphabetic())
        {
            (rest, options) = option_list(rest)?;
        }
        let (rest, entries) = if rest.first() == Some(&b'(') {
            let (r, list) = paren_list(config.limits.list, config.leniency.extra_spaces, |i| {
                MetadataEntry::parse(i, config)
            })(rest)?;
            if list.is_empty() {
                return fail(&rest[1..], "entry name");
            }
            (r, list)
        } else {
            let (r, entry) = MetadataEntry::parse(rest, config)?;
            (r, vec![entry])
        };
        Ok((
            rest,
            GetMetadata {
                options,
                mailbox,
                entries,
            },
        ))
    }

    /// Writes ` [(options)] mailbox entries`.
    pub(crate) fn encode<'e>(&'e self, e: &mut Encoder<'e>) {
        e.put(b" ");
        if !self.options.is_empty() {
            e.put(b"(");
            for (i, o) in self.options.iter().enumerate() {
                if i > 0 {
                    e.put(b" ");
                }
                o.encode(e);
            }
            e.put(b") ");
        }
        self.mailbox.encode(e);
        e.put(b" ");
        match self.entries.as_slice() {
            [one] => one.encode(e),
            many => {
                e.put(b"(");
                for (i, entry) in many.iter().enumerate() {
                    if i > 0 {
                        e.put(b" ");
                    }
                    entry.encode(e);
                }
                e.put(b")");
            }
        }
    }
}

/// `setmetadata = "SETMETADATA" SP mailbox SP entry-values`, after the
/// name.
pub(crate) fn parse_setmetadata<'a>(
    input: &'a [u8],
    config: &DecoderConfig,
) -> PResult<'a, (Mailbox<'a>, Vec<MetadataEntryValue<'a>>)> {
    let (rest, _) = sp(input)?;
    let (rest, mailbox) = Mailbox::parse(rest, &config.leniency)?;
    let (rest, _) = sp(rest)?;
    let (rest, values) = entry_values(rest, config)?;
    Ok((rest, (mailbox, values)))
}

/// Writes ` mailbox (entry value ...)`.
pub(crate) fn encode_setmetadata<'e>(
    mailbox: &'e Mailbox<'e>,
    values: &'e [MetadataEntryValue<'e>],
    e: &mut Encoder<'e>,
) {
    e.put(b" ");
    mailbox.encode(e);
    e.put(b" ");
    encode_entry_values(values, e);
}

/// What a METADATA response carries.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MetadataData<'a> {
    /// `entry-values`: the values GETMETADATA asked for (at least one).
    Values(Vec<MetadataEntryValue<'a>>),
    /// `entry-list`: entries whose values changed, sent unsolicited (at
    /// least one).
    Entries(Vec<MetadataEntry<'a>>),
}

/// `metadata-resp = "METADATA" SP mailbox SP (entry-values / entry-list)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MetadataResponse<'a> {
    /// The mailbox; `""` for server annotations.
    pub mailbox: Mailbox<'a>,
    /// The values, or the changed entries.
    pub data: MetadataData<'a>,
}

impl<'a> MetadataResponse<'a> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> MetadataResponse<'static> {
        MetadataResponse {
            mailbox: self.mailbox.into_owned(),
            data: match self.data {
                MetadataData::Values(v) => {
                    MetadataData::Values(v.into_iter().map(MetadataEntryValue::into_owned).collect())
                }
                MetadataData::Entries(v) => {
                    MetadataData::Entries(v.into_iter().map(MetadataEntry::into_owned).collect())
                }
            },
        }
    }

    /// The response after `METADATA`, from the space that follows it.
    pub(crate) fn parse(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, Self> {
        let (rest, _) = sp(input)?;
        let (rest, mailbox) = Mailbox::parse(rest, &config.leniency)?;
        let (rest, _) = sp(rest)?;
        if rest.first() == Some(&b'(') {
            let (rest, values) = entry_values(rest, config)?;
            return Ok((
                rest,
                MetadataResponse {
                    mailbox,
                    data: MetadataData::Values(values),
                },
            ));
        }
        let (mut rest, first) = MetadataEntry::parse(rest, config)?;
        let mut entries = vec![first];
        while let Some(r) = rest.strip_prefix(b" ") {
            if entries.len() == config.limits.list {
                return too_many(rest, config.limits.list, "end of line");
            }
            let (r, entry) = MetadataEntry::parse(r, config)?;
            entries.push(entry);
            rest = r;
        }
        Ok((
            rest,
            MetadataResponse {
                mailbox,
                data: MetadataData::Entries(entries),
            },
        ))
    }

    /// Writes ` mailbox (entry value...)` or ` mailbox entry...`.
    pub(crate) fn encode<'e>(&'e self, e: &mut Encoder<'e>) {
        e.put(b" ");
        self.mailbox.encode(e);
        e.put(b" ");
        match &self.data {
            MetadataData::Values(values) => encode_entry_values(values, e),
            MetadataData::Entries(entries) => {
                for (i, entry) in entries.iter().enumerate() {
                    if i > 0 {
                        e.put(b" ");
                    }
                    entry.encode(e);
                }
            }
        }
    }
}

/// The `[METADATA ...]` response codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetadataCode {
    /// `LONGENTRIES n`: GETMETADATA left out values longer than MAXSIZE;
    /// the longest is `n` octets.
    LongEntries(u32),
    /// `MAXSIZE n`: SETMETADATA failed, values can be at most `n` octets.
    MaxSize(u32),
    /// `TOOMANY`: SETMETADATA failed, too many entries.
    TooMany,
    /// `NOPRIVATE`: SETMETADATA failed, no private annotations here.
    NoPrivate,
}

impl MetadataCode {
    /// The code after `METADATA`, from the space that follows it.
    pub(crate) fn parse(input: &[u8]) -> PResult<'_, Self> {
        let (rest, _) = sp(input)?;
        let n = rest.iter().take_while(|b| b.is_ascii_alphabetic()).count();
        let word = rest[..n].to_ascii_uppercase();
        let after = &rest[n..];
        let with_number = |make: fn(u32) -> MetadataCode| {
            let (r, _) = sp(after)?;
            let (r, n) = number(r)?;
            Ok((r, make(n)))
        };
        match word.as_slice() {
            b"LONGENTRIES" => with_number(MetadataCode::LongEntries),
            b"MAXSIZE" => with_number(MetadataCode::MaxSize),
            b"TOOMANY" => Ok((after, MetadataCode::TooMany)),
            b"NOPRIVATE" => Ok((after, MetadataCode::NoPrivate)),
            _ => fail(rest, "LONGENTRIES, MAXSIZE, TOOMANY or NOPRIVATE"),
        }
    }

    /// Writes `METADATA ...`.
    pub(crate) fn encode(&self, e: &mut Encoder<'_>) {
        match self {
            MetadataCode::LongEntries(n) => {
                e.put(b"METADATA LONGENTRIES ");
                e.number(u64::from(*n));
            }
            MetadataCode::MaxSize(n) => {
                e.put(b"METADATA MAXSIZE ");
                e.number(u64::from(*n));
            }
            MetadataCode::TooMany => e.put(b"METADATA TOOMANY"),
            MetadataCode::NoPrivate => e.put(b"METADATA NOPRIVATE"),
        }
    }
}

//! The home of [`BodyStructure`] and what goes with it; the explanation of this
//! part of the grammar is on that type, where the rendered documentation
//! shows it.

use nom::error::ParseError;

use crate::decode::{DecoderConfig, ErrorKind};
use crate::encode::Encoder;
use crate::parse::{PError, PResult, fail, number, number64, put_number, too_many};
use crate::small_list::inline_list;
use crate::string::{IString, NString, Quoted};

use super::envelope::Envelope;
use super::{close_paren, insert, is_nil, more, nstring, nstring_into, open_paren, skip_spaces, sp};

/// A MIME parameter: attribute and value, as sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BodyParam<'a> {
    /// The attribute (`charset`, `boundary`, `name`...).
    pub name: IString<'a>,
    /// The value.
    pub value: IString<'a>,
}

impl BodyParam<'_> {
    /// A parameter of two empty strings, to be filled in place.
    const EMPTY: BodyParam<'static> = BodyParam {
        name: empty_string(),
        value: empty_string(),
    };

    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> BodyParam<'static> {
        BodyParam {
            name: self.name.into_owned(),
            value: self.value.into_owned(),
        }
    }
}

inline_list!(
    /// A parameter list (`body-fld-param`); empty for NIL. One parameter is
    /// stored inline (`charset`, `boundary`, `name`: the usual case), so
    /// decoding it allocates nothing. It is used as a `Vec` is: it
    /// dereferences to a slice, converts from and into `Vec`, collects and
    /// iterates.
    BodyParams,
    BodyParam
);

fn own_params(params: BodyParams<'_>) -> BodyParams<'static> {
    BodyParams(params.0.map(BodyParam::into_owned))
}

/// The value of the first parameter named `name` (ASCII case-insensitive).
fn find_param<'p>(params: &'p [BodyParam<'_>], name: &str) -> Option<&'p [u8]> {
    params
        .iter()
        .find(|p| p.name.as_bytes().eq_ignore_ascii_case(name.as_bytes()))
        .map(|p| p.value.as_bytes())
}

/// The basic fields of a single-part body: `body-fields = body-fld-param
/// SP body-fld-id SP body-fld-desc SP body-fld-enc SP body-fld-octets`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BodyFields<'a> {
    /// `body-fld-param`: the Content-Type parameters; empty for NIL.
    pub params: BodyParams<'a>,
    /// `body-fld-id`: Content-ID.
    pub id: NString<'a>,
    /// `body-fld-desc`: Content-Description.
    pub description: NString<'a>,
    /// `body-fld-enc`: Content-Transfer-Encoding (`7BIT`, `BASE64`...).
    pub encoding: IString<'a>,
    /// `body-fld-octets`: the size in its transfer encoding.
    pub octets: u32,
}

impl<'a> BodyFields<'a> {
    /// The value of a Content-Type parameter (ASCII case-insensitive
    /// name).
    pub fn param(&self, name: &str) -> Option<&[u8]> {
        find_param(&self.params, name)
    }

    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> BodyFields<'static> {
        BodyFields {
            params: own_params(self.params),
            id: self.id.into_owned(),
            description: self.description.into_owned(),
            encoding: self.encoding.into_owned(),
            octets: self.octets,
        }
    }

    /// Empty fields, to be filled in place.
    const EMPTY: BodyFields<'static> = BodyFields {
        params: BodyParams::new(),
        id: NString::NIL,
        description: NString::NIL,
        encoding: empty_string(),
        octets: 0,
    };

    /// `body-fields = body-fld-param SP body-fld-id SP body-fld-desc SP
    /// body-fld-enc SP body-fld-octets`, written into `self` (see
    /// [`nstring_into`]), which is [`BodyFields::EMPTY`].
    fn parse_into(&mut self, input: &'a [u8], config: &DecoderConfig) -> Result<&'a [u8], nom::Err<PError>> {
        let lenient = config.leniency.extra_spaces;
        let rest = params_into(input, config, &mut self.params)?;
        let (rest, ()) = sp(rest, lenient)?;
        let rest = nstring_into(rest, config, &mut self.id)?;
        let (rest, ()) = sp(rest, lenient)?;
        let rest = nstring_into(rest, config, &mut self.description)?;
        let (rest, ()) = sp(rest, lenient)?;
        let rest = string_into(rest, config, &mut self.encoding)?;
        let (rest, ()) = sp(rest, lenient)?;
        let (rest, octets) = number(rest)?;
        self.octets = octets;
        Ok(rest)
    }

    fn encode<'e>(&'e self, e: &mut Encoder<'e>) {
        encode_params(&self.params, e);
        e.put(b" ");
        self.id.encode(e);
        e.put(b" ");
        self.description.encode(e);
        e.put(b" ");
        self.encoding.encode(e);
        e.put(b" ");
        e.number(u64::from(self.octets));
    }
}

/// What a single part carries after its basic fields, by media type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SpecificFields<'a> {
    /// `body-type-basic`: nothing more.
    Basic,
    /// `body-type-text` (media type TEXT): the size in lines.
    Text {
        /// `body-fld-lines`.
        lines: u64,
    },
    /// `body-type-msg` (MESSAGE/RFC822 or MESSAGE/GLOBAL): the envelope,
    /// body structure and size in lines of the encapsulated message.
    Message {
        /// The encapsulated message's envelope.
        envelope: Box<Envelope<'a>>,
        /// The encapsulated message's body structure.
        body: Box<BodyStructure<'a>>,
        /// `body-fld-lines`.
        lines: u64,
    },
}

impl super::Placeholder for SpecificFields<'_> {
    #[inline(always)]
    fn is_placeholder(&self) -> bool {
        matches!(self, SpecificFields::Basic)
    }
}

impl SpecificFields<'_> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> SpecificFields<'static> {
        match self {
            SpecificFields::Basic => SpecificFields::Basic,
            SpecificFields::Text { lines } => SpecificFields::Text { lines },
            SpecificFields::Message {
                envelope,
                body,
                lines,
            } => SpecificFields::Message {
                envelope: Box::new(envelope.into_owned()),
                body: Box::new(body.into_owned()),
                lines,
            },
        }
    }
}

/// `body-fld-dsp = "(" string SP body-fld-param ")"`: Content-Disposition.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Disposition<'a> {
    /// The disposition type (`inline`, `attachment`...).
    pub kind: IString<'a>,
    /// Its parameters (`filename`...); empty for NIL.
    pub params: BodyParams<'a>,
}

impl<'a> Disposition<'a> {
    /// The value of a disposition parameter (ASCII case-insensitive
    /// name).
    pub fn param(&self, name: &str) -> Option<&[u8]> {
        find_param(&self.params, name)
    }

    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> Disposition<'static> {
        Disposition {
            kind: self.kind.into_owned(),
            params: own_params(self.params),
        }
    }
}

/// `body-fld-lang = nstring / "(" string *(SP string) ")"`:
/// Content-Language.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Language<'a> {
    /// One language tag, or NIL.
    Single(NString<'a>),
    /// A parenthesized list of tags (never empty).
    List(Vec<IString<'a>>),
}

impl Language<'_> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> Language<'static> {
        match self {
            Language::Single(s) => Language::Single(s.into_owned()),
            Language::List(l) => Language::List(l.into_iter().map(IString::into_owned).collect()),
        }
    }
}

/// `body-extension = nstring / number / number64 / "(" body-extension
/// *(SP body-extension) ")"`: extension data defined by future revisions.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BodyExtension<'a> {
    /// A string or NIL.
    String(NString<'a>),
    /// A number.
    Number(u64),
    /// A parenthesized list (never empty).
    List(Vec<BodyExtension<'a>>),
}

impl BodyExtension<'_> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> BodyExtension<'static> {
        match self {
            BodyExtension::String(s) => BodyExtension::String(s.into_owned()),
            BodyExtension::Number(n) => BodyExtension::Number(n),
            BodyExtension::List(l) => {
                BodyExtension::List(l.into_iter().map(BodyExtension::into_owned).collect())
            }
        }
    }
}

/// The extension fields shared by single parts and multiparts, from the
/// disposition on: `SP body-fld-dsp [SP body-fld-lang [SP body-fld-loc
/// *(SP body-extension)]]`. Each level is there only when it was sent, so
/// that `NIL NIL` and nothing are told apart.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExtensionTail<'a> {
    /// `body-fld-dsp`; `None` for NIL.
    pub disposition: Option<Disposition<'a>>,
    /// `[SP body-fld-lang ...]`.
    pub language: Option<LanguageTail<'a>>,
}

/// `body-fld-lang [SP body-fld-loc *(SP body-extension)]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LanguageTail<'a> {
    /// `body-fld-lang`.
    pub language: Language<'a>,
    /// `[SP body-fld-loc *(SP body-extension)]`.
    pub location: Option<LocationTail<'a>>,
}

/// `body-fld-loc *(SP body-extension)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LocationTail<'a> {
    /// `body-fld-loc`: Content-Location.
    pub location: NString<'a>,
    /// Extension data after the location.
    pub extensions: Vec<BodyExtension<'a>>,
}

impl ExtensionTail<'_> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> ExtensionTail<'static> {
        ExtensionTail {
            disposition: self.disposition.map(Disposition::into_owned),
            language: self.language.map(|l| LanguageTail {
                language: l.language.into_owned(),
                location: l.location.map(|l| LocationTail {
                    location: l.location.into_owned(),
                    extensions: l.extensions.into_iter().map(BodyExtension::into_owned).collect(),
                }),
            }),
        }
    }
}

/// `body-ext-1part = body-fld-md5 [SP ...]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SinglePartExtension<'a> {
    /// `body-fld-md5`: Content-MD5.
    pub md5: NString<'a>,
    /// The fields after it, if sent.
    pub tail: Option<ExtensionTail<'a>>,
}

/// `body-ext-mpart = body-fld-param [SP ...]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MultipartExtension<'a> {
    /// `body-fld-param`: the Content-Type parameters (`boundary`...);
    /// empty for NIL.
    pub params: BodyParams<'a>,
    /// The fields after them, if sent.
    pub tail: Option<ExtensionTail<'a>>,
}

/// A body structure: `body = "(" (body-type-1part / body-type-mpart) ")"`.
///
/// BODY answers carry no extension data (`extension` is `None`);
/// BODYSTRUCTURE answers usually do.
///
/// BODY and BODYSTRUCTURE (RFC 9051 sections 7.5.2 and 9, RFC 3501
/// section 7.4.2): the MIME structure of a message as the server parsed
/// it, with every extension field.
///
/// ```text
/// body            = "(" (body-type-1part / body-type-mpart) ")"
/// body-type-1part = (body-type-basic / body-type-msg / body-type-text)
///                   [SP body-ext-1part]
/// body-type-basic = media-basic SP body-fields
/// body-type-msg   = media-message SP body-fields SP envelope
///                   SP body SP body-fld-lines
/// body-type-text  = media-text SP body-fields SP body-fld-lines
/// body-type-mpart = 1*body SP media-subtype [SP body-ext-mpart]
/// body-fields     = body-fld-param SP body-fld-id SP body-fld-desc SP
///                   body-fld-enc SP body-fld-octets
/// body-ext-1part  = body-fld-md5 [SP body-fld-dsp [SP body-fld-lang
///                   [SP body-fld-loc *(SP body-extension)]]]
/// body-ext-mpart  = body-fld-param [SP body-fld-dsp [SP body-fld-lang
///                   [SP body-fld-loc *(SP body-extension)]]]
/// body-fld-param  = "(" string SP string *(SP string SP string) ")" / nil
/// body-fld-dsp    = "(" string SP body-fld-param ")" / nil
/// body-fld-lang   = nstring / "(" string *(SP string) ")"
/// body-extension  = nstring / number / number64 /
///                   "(" body-extension *(SP body-extension) ")"
/// ```
///
/// Nesting (multipart parts, message/rfc822 bodies, extension lists) is
/// checked against [`Limits::depth`](crate::Limits::depth) before each
/// level is entered, so hostile input cannot exhaust the stack with the
/// default limits (a level takes about 1 KiB of stack in release builds,
/// so a limit raised far above the default needs a larger stack); list
/// lengths are checked against
/// [`Limits::list`](crate::Limits::list) before each element is stored.
///
/// With [`Leniency::nil_in_body`](crate::Leniency::nil_in_body), NIL is
/// read as an empty string where a string is required (media type and
/// subtype, parameter values, encoding, disposition type): Mail.ru sends
/// `("boundary" NIL)`, iCloud and maddy send a NIL encoding. With
/// [`Leniency::malformed_body`](crate::Leniency::malformed_body), shapes
/// outside the grammar that real servers send are read too: `()` as an
/// empty parameter list (Mail.ru, Lotus Domino), a disposition sent as a
/// bare string (Exchange: `"inline"` for `("inline" NIL)`), and a multipart
/// without parts (Gmail: `("ALTERNATIVE")`, `("RELATED" NIL ("ATTACHMENT"
/// NIL) NIL)`, `(NIL "alternative" ...)`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BodyStructure<'a> {
    /// `body-type-1part`.
    Single {
        /// `media-basic` / `media-message` / `media-text`: the type, as
        /// sent (`"TEXT"`, `"image"`...).
        media_type: IString<'a>,
        /// The subtype, as sent.
        media_subtype: IString<'a>,
        /// The basic fields.
        fields: BodyFields<'a>,
        /// The fields of TEXT and MESSAGE/RFC822 parts. Decoding chooses
        /// the variant from the media type; encoding writes what is here.
        specific: SpecificFields<'a>,
        /// `[SP body-ext-1part]`.
        extension: Option<SinglePartExtension<'a>>,
    },
    /// `body-type-mpart`.
    Multipart {
        /// The parts, in order. Empty only when decoded leniently from a
        /// server that sends multiparts without parts; such a value is
        /// encoded the way those servers send it (`("MIXED")`).
        parts: Vec<BodyStructure<'a>>,
        /// `media-subtype`: `MIXED`, `ALTERNATIVE`...
        subtype: IString<'a>,
        /// `[SP body-ext-mpart]`.
        extension: Option<MultipartExtension<'a>>,
    },
}

impl<'a> BodyStructure<'a> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> BodyStructure<'static> {
        match self {
            BodyStructure::Single {
                media_type,
                media_subtype,
                fields,
                specific,
                extension,
            } => BodyStructure::Single {
                media_type: media_type.into_owned(),
                media_subtype: media_subtype.into_owned(),
                fields: fields.into_owned(),
                specific: specific.into_owned(),
                extension: extension.map(|x| SinglePartExtension {
                    md5: x.md5.into_owned(),
                    tail: x.tail.map(ExtensionTail::into_owned),
                }),
            },
            BodyStructure::Multipart {
                parts,
                subtype,
                extension,
            } => BodyStructure::Multipart {
                parts: parts.into_iter().map(BodyStructure::into_owned).collect(),
                subtype: subtype.into_owned(),
                extension: extension.map(|x| MultipartExtension {
                    params: own_params(x.params),
                    tail: x.tail.map(ExtensionTail::into_owned),
                }),
            },
        }
    }

    /// The extension fields from the disposition on, if sent.
    pub fn extension_tail(&self) -> Option<&ExtensionTail<'a>> {
        match self {
            BodyStructure::Single { extension, .. } => extension.as_ref()?.tail.as_ref(),
            BodyStructure::Multipart { extension, .. } => extension.as_ref()?.tail.as_ref(),
        }
    }

    /// Content-Disposition, if sent and not NIL.
    pub fn disposition(&self) -> Option<&Disposition<'a>> {
        self.extension_tail()?.disposition.as_ref()
    }

    /// Content-Language, if sent.
    pub fn language(&self) -> Option<&Language<'a>> {
        Some(&self.extension_tail()?.language.as_ref()?.language)
    }

    /// Content-Location, if sent.
    pub fn location(&self) -> Option<&NString<'a>> {
        Some(
            &self
                .extension_tail()?
                .language
                .as_ref()?
                .location
                .as_ref()?
                .location,
        )
    }

    /// A multipart without parts, to be filled in place (allocates
    /// nothing).
    pub(crate) const PLACEHOLDER: BodyStructure<'static> = BodyStructure::Multipart {
        parts: Vec::new(),
        subtype: empty_string(),
        extension: None,
    };

    /// A single part with empty fields, to be filled in place.
    const SINGLE_PLACEHOLDER: BodyStructure<'static> = BodyStructure::Single {
        media_type: empty_string(),
        media_subtype: empty_string(),
        fields: BodyFields::EMPTY,
        specific: SpecificFields::Basic,
        extension: None,
    };

    /// A boxed placeholder of the kind of body that starts `input` (`((`
    /// starts a multipart). [`BodyStructure::parse_into`] fills a
    /// placeholder of the right kind as it is, and overwrites one of the
    /// other kind first: guessing right spares writing a part's few
    /// hundred bytes twice. (Each branch boxes its own constant: a value
    /// chosen at run time would be built on the stack and copied.)
    #[inline(always)]
    pub(crate) fn boxed_placeholder_for(input: &[u8]) -> Box<BodyStructure<'static>> {
        if starts_multipart(input) {
            Box::new(BodyStructure::PLACEHOLDER)
        } else {
            Box::new(BodyStructure::SINGLE_PLACEHOLDER)
        }
    }

    /// `body = "(" (body-type-1part / body-type-mpart) ")"` at nesting
    /// `depth` (the outermost body is at 0).
    pub(crate) fn parse(input: &'a [u8], config: &DecoderConfig, depth: usize) -> PResult<'a, Self> {
        let mut out = BodyStructure::PLACEHOLDER;
        let rest = Self::parse_into(input, config, depth, &mut out)?;
        Ok((rest, out))
    }

    /// [`BodyStructure::parse`] written into `out` (see [`nstring_into`]):
    /// parts are parsed in their slots of the parts list, never moved.
    /// `out` holds a placeholder ([`BodyStructure::PLACEHOLDER`] or a
    /// single part with empty fields) that owns nothing: it is filled as
    /// it is, or overwritten without being dropped.
    pub(crate) fn parse_into(
        input: &'a [u8],
        config: &DecoderConfig,
        depth: usize,
        out: &mut Self,
    ) -> Result<&'a [u8], nom::Err<PError>> {
        check_depth(input, config, depth)?;
        let lenient = config.leniency.extra_spaces;
        let (inner, ()) = open_paren(input, lenient)?;
        if inner.first() == Some(&b'(') {
            return multipart_into(inner, config, depth, out);
        }
        let parsed = single_part_into(inner, config, depth, out);
        // Read leniently, a single part whose subtype was NIL may be a
        // multipart without parts as well (see `shaped_as_empty_multipart`);
        // a subtype read from NIL is empty, which is rare otherwise, so the
        // common path pays one length test.
        if config.leniency.malformed_body && single_subtype_is_empty(out) && parsed.is_ok() {
            if let Some(rest) = reread_as_empty_multipart(inner, config, depth, out) {
                return Ok(rest);
            }
        }
        if let Err(nom::Err::Error(e)) = &parsed {
            if config.leniency.malformed_body {
                let e = e.clone();
                return match empty_multipart(inner, config, depth) {
                    Ok((rest, value)) => {
                        *out = value;
                        Ok(rest)
                    }
                    Err(nom::Err::Error(e2)) => Err(nom::Err::Error(e.or(e2))),
                    Err(other) => Err(other),
                };
            }
        }
        parsed
    }

    pub(crate) fn encode<'e>(&'e self, e: &mut Encoder<'e>) {
        e.put(b"(");
        match self {
            BodyStructure::Single {
                media_type,
                media_subtype,
                fields,
                specific,
                extension,
            } => {
                media_type.encode(e);
                e.put(b" ");
                media_subtype.encode(e);
                e.put(b" ");
                fields.encode(e);
                match specific {
                    SpecificFields::Basic => {}
                    SpecificFields::Text { lines } => {
                        e.put(b" ");
                        e.number(*lines);
                    }
                    SpecificFields::Message {
                        envelope,
                        body,
                        lines,
                    } => {
                        e.put(b" ");
                        envelope.encode(e);
                        e.put(b" ");
                        body.encode(e);
                        e.put(b" ");
                        e.number(*lines);
                    }
                }
                if let Some(x) = extension {
                    e.put(b" ");
                    x.md5.encode(e);
                    encode_tail(x.tail.as_ref(), e);
                }
            }
            BodyStructure::Multipart {
                parts,
                subtype,
                extension,
            } => {
                for part in parts {
                    part.encode(e);
                }
                if !parts.is_empty() {
                    e.put(b" ");
                }
                subtype.encode(e);
                if let Some(x) = extension {
                    e.put(b" ");
                    encode_params(&x.params, e);
                    encode_tail(x.tail.as_ref(), e);
                }
            }
        }
        e.put(b")");
    }
}

fn check_depth<'a>(input: &'a [u8], config: &DecoderConfig, depth: usize) -> PResult<'a, ()> {
    if depth >= config.limits.depth {
        return Err(nom::Err::Error(PError::kind(
            input,
            ErrorKind::TooDeep {
                limit: config.limits.depth,
            },
            "less nesting",
        )));
    }
    Ok((input, ()))
}

/// A required `string`; with `nil_in_body`, NIL reads as an empty string.
fn string<'a>(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, IString<'a>> {
    let mut out = empty_string();
    let rest = string_into(input, config, &mut out)?;
    Ok((rest, out))
}

/// [`string`] written into `out` (see [`nstring_into`]).
#[inline]
fn string_into<'a>(
    input: &'a [u8],
    config: &DecoderConfig,
    out: &mut IString<'a>,
) -> Result<&'a [u8], nom::Err<PError>> {
    if input.first() == Some(&b'"') {
        if let Some(n) = crate::string::plain_quoted(&input[1..]) {
            super::fill(out, IString::Quoted(Quoted::borrowed(&input[1..1 + n])));
            return Ok(&input[n + 2..]);
        }
    }
    string_into_slow(input, config, out)
}

/// The forms of [`string_into`] other than plain quoted text, out of line.
#[cold]
#[inline(never)]
fn string_into_slow<'a>(
    input: &'a [u8],
    config: &DecoderConfig,
    out: &mut IString<'a>,
) -> Result<&'a [u8], nom::Err<PError>> {
    if input.first() == Some(&b'"') {
        let (rest, q) = Quoted::parse(input, config.leniency.eight_bit_quoted)?;
        *out = IString::Quoted(q);
        return Ok(rest);
    }
    if config.leniency.nil_in_body && is_nil(input) {
        *out = empty_string();
        return Ok(&input[3..]);
    }
    let (rest, s) = IString::parse(input, &config.leniency)?;
    *out = s;
    Ok(rest)
}

/// Whether the body at the start of `input` looks like a multipart (`((`):
/// the guess that picks a placeholder, not a check.
#[inline(always)]
fn starts_multipart(input: &[u8]) -> bool {
    input.get(1) == Some(&b'(')
}

const fn empty_string() -> IString<'static> {
    IString::Quoted(Quoted::EMPTY)
}

/// `body-type-mpart = 1*body SP media-subtype [SP body-ext-mpart]`, after
/// the opening parenthesis, up to and including the closing one, written
/// into `out`.
fn multipart_into<'a>(
    input: &'a [u8],
    config: &DecoderConfig,
    depth: usize,
    out: &mut BodyStructure<'a>,
) -> Result<&'a [u8], nom::Err<PError>> {
    let lenient = config.leniency.extra_spaces;
    // A wrong guess of the kind (rare: see `boxed_placeholder_for`).
    if !matches!(out, BodyStructure::Multipart { .. }) {
        *out = BodyStructure::PLACEHOLDER;
    }
    let BodyStructure::Multipart {
        parts,
        subtype,
        extension,
    } = out
    else {
        return fail(input, "multipart").map(|(r, ())| r);
    };
    // At least one part, usually two or three. Room for two keeps the
    // list (488 bytes a part) small enough for the allocator's fast path
    // (glibc's per-thread cache takes up to 1 KiB); room for three made
    // the FETCH benchmark slower.
    parts.reserve_exact(2);
    let mut rest = input;
    loop {
        if parts.len() == config.limits.list {
            return too_many(rest, config.limits.list, "')'");
        }
        // Each part is parsed in its slot: a part is large to move.
        // As in `boxed_placeholder_for`.
        if starts_multipart(rest) {
            parts.push(BodyStructure::PLACEHOLDER);
        } else {
            parts.push(BodyStructure::SINGLE_PLACEHOLDER);
        }
        let Some(part) = parts.last_mut() else {
            return fail(rest, "body part").map(|(r, ())| r);
        };
        rest = BodyStructure::parse_into(rest, config, depth + 1, part)?;
        // Servers that put spaces between the parts.
        if lenient {
            let after = skip_spaces(rest);
            if after.first() == Some(&b'(') {
                rest = after;
            }
        }
        if rest.first() != Some(&b'(') {
            break;
        }
    }
    let (rest, ()) = sp(rest, lenient)?;
    let rest = string_into(rest, config, subtype)?;
    let rest = match more(rest, lenient) {
        Some(r) => {
            let x = insert(
                extension,
                MultipartExtension {
                    params: BodyParams::new(),
                    tail: None,
                },
            );
            let r = params_into(r, config, &mut x.params)?;
            extension_tail(r, config, depth, &mut x.tail)?.0
        }
        None => rest,
    };
    let (rest, ()) = close_paren(rest, lenient)?;
    Ok(rest)
}

/// Whether an envelope follows the basic fields of a MESSAGE/GLOBAL part.
/// RFC 9051 gives MESSAGE/GLOBAL the fields of MESSAGE/RFC822 (envelope,
/// body, lines); RFC 3501 knows only MESSAGE/RFC822, so an IMAP4rev1
/// server (Dovecot 2.3) describes MESSAGE/GLOBAL with the basic fields, as
/// `media-basic`, which admits any MESSAGE subtype, allows. An envelope is
/// a parenthesised list; the basic form has `)` or an extension field
/// there.
fn envelope_follows(input: &[u8], lenient: bool) -> bool {
    let after = if lenient {
        skip_spaces(input)
    } else {
        input.strip_prefix(b" ").unwrap_or(input)
    };
    after.first() == Some(&b'(')
}

/// Whether `body` is a single part with an empty subtype (as one read
/// from NIL under `nil_in_body` is).
#[inline]
fn single_subtype_is_empty(body: &BodyStructure<'_>) -> bool {
    matches!(body, BodyStructure::Single { media_subtype, .. } if media_subtype.as_bytes().is_empty())
}

/// Reads `inner` again as a multipart without parts into `out` if it has
/// that shape, and returns what follows it.
#[cold]
#[inline(never)]
fn reread_as_empty_multipart<'a>(
    inner: &'a [u8],
    config: &DecoderConfig,
    depth: usize,
    out: &mut BodyStructure<'a>,
) -> Option<&'a [u8]> {
    if !shaped_as_empty_multipart(inner, config) {
        return None;
    }
    let (rest, value) = empty_multipart(inner, config, depth).ok()?;
    *out = value;
    Some(rest)
}

/// Whether a body that starts with a string, not a part, has the shape of
/// a multipart without parts, `("MIXED" NIL ...)`, rather than that of a
/// single part, `("TEXT" "PLAIN" ...)`: the string is followed by `)`,
/// ` NIL` or ` (` (parameters) where a single part has its subtype, a
/// string. Read leniently, some bodies fit both shapes (a single part
/// whose subtype is NIL under `nil_in_body`, a multipart whose extension
/// fields line up with a single part's fields); this shape is how the
/// encoder writes a multipart without parts, so such a value decodes back
/// the same, and a single part, whose subtype it writes as a string, never
/// has it.
fn shaped_as_empty_multipart(inner: &[u8], config: &DecoderConfig) -> bool {
    let after = match inner.first() {
        Some(b'"') => match crate::string::plain_quoted(&inner[1..]) {
            Some(n) => &inner[n + 2..],
            None => match IString::parse(inner, &config.leniency) {
                Ok((rest, _)) => rest,
                Err(_) => return false,
            },
        },
        Some(b'{') => match IString::parse(inner, &config.leniency) {
            Ok((rest, _)) => rest,
            Err(_) => return false,
        },
        _ => return false,
    };
    match after {
        [b')', ..] | [b' ', b'(', ..] => true,
        [b' ', nil @ ..] => is_nil(nil) && !nil.get(3).is_some_and(u8::is_ascii_alphanumeric),
        _ => false,
    }
}

/// A multipart without parts, as Gmail sends it: the subtype first
/// (`("ALTERNATIVE")`), or after NIL (`(NIL "alternative" ...)`), then the
/// multipart extension fields.
#[inline(never)]
fn empty_multipart<'a>(
    input: &'a [u8],
    config: &DecoderConfig,
    depth: usize,
) -> PResult<'a, BodyStructure<'a>> {
    let lenient = config.leniency.extra_spaces;
    let rest = match input {
        [b'N' | b'n', b'I' | b'i', b'L' | b'l', b' ', ..] => {
            let (r, ()) = sp(&input[3..], lenient)?;
            r
        }
        _ => input,
    };
    let (rest, subtype) = IString::parse(rest, &config.leniency)?;
    let (rest, extension) = match more(rest, lenient) {
        Some(r) => {
            let (r, params) = params(r, config)?;
            let mut tail = None;
            let (r, ()) = extension_tail(r, config, depth, &mut tail)?;
            (r, Some(MultipartExtension { params, tail }))
        }
        None => (rest, None),
    };
    let (rest, ()) = close_paren(rest, lenient)?;
    Ok((
        rest,
        BodyStructure::Multipart {
            parts: Vec::new(),
            subtype,
            extension,
        },
    ))
}

/// `body-type-1part = (body-type-basic / body-type-msg / body-type-text)
/// [SP body-ext-1part]`, after the opening parenthesis, up to and
/// including the closing one. Kept out of line so that the frames of the
/// multipart recursion stay small.
#[inline(never)]
fn single_part_into<'a>(
    input: &'a [u8],
    config: &DecoderConfig,
    depth: usize,
    out: &mut BodyStructure<'a>,
) -> Result<&'a [u8], nom::Err<PError>> {
    let lenient = config.leniency.extra_spaces;
    // A wrong guess of the kind, as in `multipart_into`.
    if !matches!(out, BodyStructure::Single { .. }) {
        *out = BodyStructure::SINGLE_PLACEHOLDER;
    }
    let BodyStructure::Single {
        media_type,
        media_subtype,
        fields,
        specific,
        extension,
    } = out
    else {
        return fail(input, "body part").map(|(r, ())| r);
    };
    let rest = string_into(input, config, media_type)?;
    let (rest, ()) = sp(rest, lenient)?;
    let rest = string_into(rest, config, media_subtype)?;
    let (rest, ()) = sp(rest, lenient)?;
    let rest = fields.parse_into(rest, config)?;
    let kind = media_type.as_bytes();
    let (rest, specific_fields) = if kind.eq_ignore_ascii_case(b"TEXT") {
        // body-type-text: SP body-fld-lines
        let (r, ()) = sp(rest, lenient)?;
        let (r, lines) = number64(r)?;
        (r, SpecificFields::Text { lines })
    } else if kind.eq_ignore_ascii_case(b"MESSAGE")
        && (media_subtype.as_bytes().eq_ignore_ascii_case(b"RFC822")
            || (media_subtype.as_bytes().eq_ignore_ascii_case(b"GLOBAL") && envelope_follows(rest, lenient)))
    {
        // body-type-msg: SP envelope SP body SP body-fld-lines
        let (r, ()) = sp(rest, lenient)?;
        let (r, envelope) = Envelope::parse(r, config)?;
        let (r, ()) = sp(r, lenient)?;
        let (r, body) = BodyStructure::parse(r, config, depth + 1)?;
        let (r, ()) = sp(r, lenient)?;
        let (r, lines) = number64(r)?;
        (
            r,
            SpecificFields::Message {
                envelope: Box::new(envelope),
                body: Box::new(body),
                lines,
            },
        )
    } else {
        (rest, SpecificFields::Basic)
    };
    super::fill(specific, specific_fields);
    let rest = match more(rest, lenient) {
        Some(r) => {
            let x = insert(
                extension,
                SinglePartExtension {
                    md5: NString::NIL,
                    tail: None,
                },
            );
            let r = nstring_into(r, config, &mut x.md5)?;
            extension_tail(r, config, depth, &mut x.tail)?.0
        }
        None => rest,
    };
    let (rest, ()) = close_paren(rest, lenient)?;
    Ok(rest)
}

/// `[SP body-fld-dsp [SP body-fld-lang [SP body-fld-loc *(SP
/// body-extension)]]]`.
fn extension_tail<'a>(
    input: &'a [u8],
    config: &DecoderConfig,
    depth: usize,
    out: &mut Option<ExtensionTail<'a>>,
) -> PResult<'a, ()> {
    let lenient = config.leniency.extra_spaces;
    let Some(rest) = more(input, lenient) else {
        return Ok((input, ()));
    };
    // Each level is written where it stays (see `nstring_into`).
    let tail = insert(
        out,
        ExtensionTail {
            disposition: None,
            language: None,
        },
    );
    let rest = disposition_into(rest, config, &mut tail.disposition)?;
    let Some(after) = more(rest, lenient) else {
        return Ok((rest, ()));
    };
    let lang = insert(
        &mut tail.language,
        LanguageTail {
            language: Language::Single(NString::NIL),
            location: None,
        },
    );
    let rest = match &mut lang.language {
        Language::Single(single) if after.first() != Some(&b'(') => nstring_into(after, config, single)?,
        other => {
            let (rest, language) = language(after, config)?;
            *other = language;
            rest
        }
    };
    let Some(after) = more(rest, lenient) else {
        return Ok((rest, ()));
    };
    let loc = insert(
        &mut lang.location,
        LocationTail {
            location: NString::NIL,
            extensions: Vec::new(),
        },
    );
    let rest = nstring_into(after, config, &mut loc.location)?;
    let extensions = &mut loc.extensions;
    let mut r = rest;
    while let Some(after) = more(r, lenient) {
        if extensions.len() == config.limits.list {
            return too_many(r, config.limits.list, "')'");
        }
        let (next, ext) = body_extension(after, config, depth + 1)?;
        extensions.push(ext);
        r = next;
    }
    Ok((r, ()))
}

fn encode_tail<'e>(tail: Option<&'e ExtensionTail<'_>>, e: &mut Encoder<'e>) {
    let Some(tail) = tail else { return };
    e.put(b" ");
    match &tail.disposition {
        Some(d) => {
            e.put(b"(");
            d.kind.encode(e);
            e.put(b" ");
            encode_params(&d.params, e);
            e.put(b")");
        }
        None => e.put(b"NIL"),
    }
    let Some(lang) = &tail.language else { return };
    e.put(b" ");
    match &lang.language {
        Language::Single(s) => s.encode(e),
        Language::List(list) => {
            e.put(b"(");
            for (i, s) in list.iter().enumerate() {
                if i > 0 {
                    e.put(b" ");
                }
                s.encode(e);
            }
            e.put(b")");
        }
    }
    let Some(loc) = &lang.location else { return };
    e.put(b" ");
    loc.location.encode(e);
    for ext in &loc.extensions {
        e.put(b" ");
        ext.encode(e);
    }
}

/// `body-fld-param = "(" string SP string *(SP string SP string) ")" /
/// nil`; NIL is an empty list.
fn params<'a>(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, BodyParams<'a>> {
    let mut list = BodyParams::new();
    let rest = params_into(input, config, &mut list)?;
    Ok((rest, list))
}

/// [`params`] appended to `list`, which is empty; each parameter is
/// written in its slot (see [`nstring_into`]).
fn params_into<'a>(
    input: &'a [u8],
    config: &DecoderConfig,
    list: &mut BodyParams<'a>,
) -> Result<&'a [u8], nom::Err<PError>> {
    if is_nil(input) {
        return Ok(&input[3..]);
    }
    let lenient = config.leniency.extra_spaces;
    let (mut rest, ()) = open_paren(input, lenient)
        .map_err(|_| nom::Err::Error(PError::at(input, "parameter list or NIL")))?;
    if config.leniency.malformed_body {
        if let Some(r) = rest.strip_prefix(b")") {
            return Ok(r);
        }
    }
    debug_assert!(list.is_empty(), "parameters are parsed into an empty list");
    let mut count = 0;
    loop {
        if count == config.limits.list {
            return too_many(rest, config.limits.list, "')'");
        }
        count += 1;
        let param = list.0.push_mut(BodyParam::EMPTY);
        let r = string_into(rest, config, &mut param.name)?;
        let (r, ()) = sp(r, lenient)?;
        let r = string_into(r, config, &mut param.value)?;
        match more(r, lenient) {
            Some(next) => rest = next,
            None => {
                let (r, ()) = close_paren(r, lenient)?;
                return Ok(r);
            }
        }
    }
}

fn encode_params<'e>(params: &'e [BodyParam<'_>], e: &mut Encoder<'e>) {
    if params.is_empty() {
        e.put(b"NIL");
        return;
    }
    e.put(b"(");
    for (i, p) in params.iter().enumerate() {
        if i > 0 {
            e.put(b" ");
        }
        p.name.encode(e);
        e.put(b" ");
        p.value.encode(e);
    }
    e.put(b")");
}

/// `body-fld-dsp = "(" string SP body-fld-param ")" / nil`; with
/// `malformed_body`, a bare string (Exchange) is a disposition without
/// parameters.
/// [`disposition`] written into `out`, which is `None`.
fn disposition_into<'a>(
    input: &'a [u8],
    config: &DecoderConfig,
    out: &mut Option<Disposition<'a>>,
) -> Result<&'a [u8], nom::Err<PError>> {
    if is_nil(input) {
        return Ok(&input[3..]);
    }
    if input.first() == Some(&b'(') {
        let lenient = config.leniency.extra_spaces;
        let (r, ()) = open_paren(input, lenient)?;
        let d = insert(
            out,
            Disposition {
                kind: empty_string(),
                params: BodyParams::new(),
            },
        );
        let r = string_into(r, config, &mut d.kind)?;
        let (r, ()) = sp(r, lenient)?;
        let r = params_into(r, config, &mut d.params)?;
        let (r, ()) = close_paren(r, lenient)?;
        return Ok(r);
    }
    let (rest, value) = disposition(input, config)?;
    *out = value;
    Ok(rest)
}

fn disposition<'a>(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, Option<Disposition<'a>>> {
    let lenient = config.leniency.extra_spaces;
    match input.first() {
        Some(b'(') => {
            let (r, ()) = open_paren(input, lenient)?;
            let (r, kind) = string(r, config)?;
            let (r, ()) = sp(r, lenient)?;
            let (r, params) = params(r, config)?;
            let (r, ()) = close_paren(r, lenient)?;
            Ok((r, Some(Disposition { kind, params })))
        }
        _ if is_nil(input) => Ok((&input[3..], None)),
        Some(b'"' | b'{') if config.leniency.malformed_body => {
            let (r, kind) = IString::parse(input, &config.leniency)?;
            Ok((
                r,
                Some(Disposition {
                    kind,
                    params: BodyParams::new(),
                }),
            ))
        }
        _ => fail(input, "disposition list or NIL"),
    }
}

/// `body-fld-lang = nstring / "(" string *(SP string) ")"`.
fn language<'a>(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, Language<'a>> {
    if input.first() != Some(&b'(') {
        let (r, s) = nstring(input, config)?;
        return Ok((r, Language::Single(s)));
    }
    let lenient = config.leniency.extra_spaces;
    let (mut rest, ()) = open_paren(input, lenient)?;
    let mut list = Vec::new();
    loop {
        if list.len() == config.limits.list {
            return too_many(rest, config.limits.list, "')'");
        }
        let (r, s) = IString::parse(rest, &config.leniency)?;
        list.push(s);
        match more(r, lenient) {
            Some(next) => rest = next,
            None => {
                let (r, ()) = close_paren(r, lenient)?;
                return Ok((r, Language::List(list)));
            }
        }
    }
}

/// `body-extension = nstring / number / number64 / "(" body-extension
/// *(SP body-extension) ")"` at nesting `depth`.
fn body_extension<'a>(
    input: &'a [u8],
    config: &DecoderConfig,
    depth: usize,
) -> PResult<'a, BodyExtension<'a>> {
    match input.first() {
        Some(b'0'..=b'9') => {
            let (r, n) = number64(input)?;
            Ok((r, BodyExtension::Number(n)))
        }
        Some(b'(') => {
            check_depth(input, config, depth)?;
            let lenient = config.leniency.extra_spaces;
            let (mut rest, ()) = open_paren(input, lenient)?;
            let mut list = Vec::new();
            loop {
                if list.len() == config.limits.list {
                    return too_many(rest, config.limits.list, "')'");
                }
                let (r, ext) = body_extension(rest, config, depth + 1)?;
                list.push(ext);
                match more(r, lenient) {
                    Some(next) => rest = next,
                    None => {
                        let (r, ()) = close_paren(r, lenient)?;
                        return Ok((r, BodyExtension::List(list)));
                    }
                }
            }
        }
        _ => {
            let (r, s) = nstring(input, config)
                .map_err(|_| nom::Err::Error(PError::at(input, "string, number, list or NIL")))?;
            Ok((r, BodyExtension::String(s)))
        }
    }
}

impl BodyExtension<'_> {
    fn encode<'e>(&'e self, e: &mut Encoder<'e>) {
        match self {
            BodyExtension::String(s) => s.encode(e),
            BodyExtension::Number(n) => put_number(e.line(), *n),
            BodyExtension::List(l) => {
                e.put(b"(");
                for (i, x) in l.iter().enumerate() {
                    if i > 0 {
                        e.put(b" ");
                    }
                    x.encode(e);
                }
                e.put(b")");
            }
        }
    }
}

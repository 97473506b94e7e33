//! The home of [`Section`] and what goes with it; the explanation of this
//! part of the grammar is on that type, where the rendered documentation
//! shows it.

use std::num::{NonZeroU32, NonZeroU64};

use crate::decode::{DecoderConfig, ErrorKind};
use crate::encode::Encoder;
use crate::parse::{PError, PResult, byte, fail, number64, nz_number, paren_list, put_number, too_many};
use crate::string::{AString, TypeError};

/// A part number: `section-part = nz-number *("." nz-number)`, such as
/// `4.2.1`. Never empty.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SectionPart(Vec<NonZeroU32>);

impl SectionPart {
    /// A part number from its components; refuses an empty list.
    pub fn new(parts: Vec<NonZeroU32>) -> Result<Self, TypeError> {
        if parts.is_empty() {
            return Err(TypeError::problem("section part", "must not be empty"));
        }
        Ok(SectionPart(parts))
    }

    /// The components, outermost first.
    pub fn as_slice(&self) -> &[NonZeroU32] {
        &self.0
    }

    /// `section-part = nz-number *("." nz-number)`, at most `max`
    /// components. Stops before a `.` that is not followed by a digit, so
    /// that `1.MIME` leaves `.MIME` to the caller.
    pub(crate) fn parse(input: &[u8], max: usize) -> PResult<'_, Self> {
        let mut parts = Vec::new();
        let mut rest = input;
        loop {
            if parts.len() == max {
                return too_many(rest, max, "fewer part numbers");
            }
            let (r, n) = nz_number(rest)?;
            parts.push(n);
            match r {
                [b'.', d, ..] if d.is_ascii_digit() => rest = &r[1..],
                _ => return Ok((r, SectionPart(parts))),
            }
        }
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        for (i, n) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(b'.');
            }
            put_number(out, u64::from(n.get()));
        }
    }
}

/// `header-list = "(" header-fld-name *(SP header-fld-name) ")"`: the
/// field names of `HEADER.FIELDS` and `HEADER.FIELDS.NOT`. Never empty.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HeaderList<'a>(Vec<AString<'a>>);

impl<'a> HeaderList<'a> {
    /// A list of field names; refuses an empty list.
    pub fn new(names: Vec<AString<'a>>) -> Result<Self, TypeError> {
        if names.is_empty() {
            return Err(TypeError::problem("header list", "must not be empty"));
        }
        Ok(HeaderList(names))
    }

    /// The field names, as sent.
    pub fn names(&self) -> &[AString<'a>] {
        &self.0
    }

    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> HeaderList<'static> {
        HeaderList(self.0.into_iter().map(AString::into_owned).collect())
    }

    /// `header-list`.
    fn parse(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, Self> {
        let leniency = &config.leniency;
        let (rest, names) = paren_list(config.limits.list, leniency.extra_spaces, |i| {
            AString::parse(i, leniency)
        })(input)?;
        if names.is_empty() {
            return fail(&input[1..], "header field name");
        }
        Ok((rest, HeaderList(names)))
    }

    fn encode<'e>(&'e self, e: &mut Encoder<'e>) {
        e.put(b"(");
        for (i, name) in self.0.iter().enumerate() {
            if i > 0 {
                e.put(b" ");
            }
            name.encode(e);
        }
        e.put(b")");
    }
}

/// What follows the part number in a section, or stands alone:
/// `section-text = section-msgtext / "MIME"`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SectionText<'a> {
    /// `HEADER`: the RFC 5322 header.
    Header,
    /// `HEADER.FIELDS (...)`: only these header fields.
    HeaderFields(HeaderList<'a>),
    /// `HEADER.FIELDS.NOT (...)`: every header field but these.
    HeaderFieldsNot(HeaderList<'a>),
    /// `TEXT`: the body without the header.
    Text,
    /// `MIME`: the MIME header of a part (only after a part number).
    Mime,
}

impl SectionText<'_> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> SectionText<'static> {
        match self {
            SectionText::Header => SectionText::Header,
            SectionText::HeaderFields(l) => SectionText::HeaderFields(l.into_owned()),
            SectionText::HeaderFieldsNot(l) => SectionText::HeaderFieldsNot(l.into_owned()),
            SectionText::Text => SectionText::Text,
            SectionText::Mime => SectionText::Mime,
        }
    }
}

/// A section: `section = "[" [section-spec] "]"`. `[]` is the whole
/// message; `[1.2.MIME]` the MIME header of part 1.2.
///
/// Section specifications (RFC 9051 section 6.4.5.1, RFC 3501 section
/// 6.4.5, RFC 3516): which part of a message `BODY[...]` and `BINARY[...]`
/// name, and the partial ranges `<origin.octets>` of a FETCH command.
///
/// ```text
/// section         = "[" [section-spec] "]"
/// section-binary  = "[" [section-part] "]"
/// section-spec    = section-msgtext / (section-part ["." section-text])
/// section-msgtext = "HEADER" / "HEADER.FIELDS" [".NOT"] SP header-list /
///                   "TEXT"
/// section-part    = nz-number *("." nz-number)
/// section-text    = section-msgtext / "MIME"
/// header-list     = "(" header-fld-name *(SP header-fld-name) ")"
/// header-fld-name = astring
/// partial         = "<" number64 "." nz-number64 ">"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Section<'a> {
    part: Option<SectionPart>,
    text: Option<SectionText<'a>>,
}

impl<'a> Section<'a> {
    /// `[]`: the whole message, header included.
    pub const WHOLE: Section<'static> = Section {
        part: None,
        text: None,
    };

    /// A section from a part number and a text specifier; refuses `MIME`
    /// without a part number.
    pub fn new(part: Option<SectionPart>, text: Option<SectionText<'a>>) -> Result<Self, TypeError> {
        if part.is_none() && text == Some(SectionText::Mime) {
            return Err(TypeError::problem("section", "MIME needs a part number"));
        }
        Ok(Section { part, text })
    }

    /// The part number, if any.
    pub fn part(&self) -> Option<&SectionPart> {
        self.part.as_ref()
    }

    /// The text specifier, if any.
    pub fn text(&self) -> Option<&SectionText<'a>> {
        self.text.as_ref()
    }

    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> Section<'static> {
        Section {
            part: self.part,
            text: self.text.map(SectionText::into_owned),
        }
    }

    /// A `section-spec` given alone, as an IMAP URL's `;SECTION=` carries
    /// it (RFC 5092, once percent-decoded): `1.2.MIME`, `HEADER.FIELDS
    /// (SUBJECT)`, `TEXT`; the empty text is the whole message.
    pub fn from_spec(spec: &[u8]) -> Result<Section<'static>, TypeError> {
        let mut bracketed = Vec::with_capacity(spec.len() + 2);
        bracketed.push(b'[');
        bracketed.extend_from_slice(spec);
        bracketed.push(b']');
        match Section::parse(&bracketed, &DecoderConfig::STRICT) {
            Ok(([], section)) => Ok(section.into_owned()),
            _ => Err(TypeError::problem("section", "not a section-spec")),
        }
    }

    /// `section = "[" [section-spec] "]"`,
    /// `section-spec = section-msgtext / (section-part ["." section-text])`.
    pub(crate) fn parse(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, Self> {
        let (rest, _) = byte(b'[', "'['")(input)?;
        if let Some(rest) = rest.strip_prefix(b"]") {
            return Ok((rest, Section::WHOLE));
        }
        let (rest, part) = if rest.first().is_some_and(u8::is_ascii_digit) {
            let (r, part) = SectionPart::parse(rest, config.limits.list)?;
            match r.strip_prefix(b".") {
                Some(r) => (r, Some(part)),
                None => {
                    let (r, _) = byte(b']', "']' or '.'")(r)?;
                    return Ok((
                        r,
                        Section {
                            part: Some(part),
                            text: None,
                        },
                    ));
                }
            }
        } else {
            (rest, None)
        };
        let (rest, text) = section_text(rest, config, part.is_some())?;
        let (rest, _) = byte(b']', "']'")(rest)?;
        Ok((
            rest,
            Section {
                part,
                text: Some(text),
            },
        ))
    }

    pub(crate) fn encode<'e>(&'e self, e: &mut Encoder<'e>) {
        e.put(b"[");
        if let Some(part) = &self.part {
            part.encode(e.line());
            if self.text.is_some() {
                e.put(b".");
            }
        }
        match &self.text {
            None => {}
            Some(SectionText::Header) => e.put(b"HEADER"),
            Some(SectionText::HeaderFields(list)) => {
                e.put(b"HEADER.FIELDS ");
                list.encode(e);
            }
            Some(SectionText::HeaderFieldsNot(list)) => {
                e.put(b"HEADER.FIELDS.NOT ");
                list.encode(e);
            }
            Some(SectionText::Text) => e.put(b"TEXT"),
            Some(SectionText::Mime) => e.put(b"MIME"),
        }
        e.put(b"]");
    }
}

/// `section-text = section-msgtext / "MIME"`; `MIME` only when `mime`.
fn section_text<'a>(input: &'a [u8], config: &DecoderConfig, mime: bool) -> PResult<'a, SectionText<'a>> {
    let n = input
        .iter()
        .take_while(|&&b| b.is_ascii_alphabetic() || b == b'.')
        .count();
    let word = &input[..n];
    let rest = &input[n..];
    let is = |w: &str| word.eq_ignore_ascii_case(w.as_bytes());
    if is("HEADER") {
        Ok((rest, SectionText::Header))
    } else if is("TEXT") {
        Ok((rest, SectionText::Text))
    } else if mime && is("MIME") {
        Ok((rest, SectionText::Mime))
    } else if is("HEADER.FIELDS") || is("HEADER.FIELDS.NOT") {
        let not = n == "HEADER.FIELDS.NOT".len();
        let (rest, _) = byte(b' ', "space")(rest)?;
        let (rest, list) = HeaderList::parse(rest, config)?;
        Ok((
            rest,
            if not {
                SectionText::HeaderFieldsNot(list)
            } else {
                SectionText::HeaderFields(list)
            },
        ))
    } else if mime {
        fail(input, "HEADER, HEADER.FIELDS, HEADER.FIELDS.NOT, TEXT or MIME")
    } else {
        fail(
            input,
            "part number, HEADER, HEADER.FIELDS, HEADER.FIELDS.NOT or TEXT",
        )
    }
}

/// `section-binary = "[" [section-part] "]"`: `None` for `[]`.
pub(crate) fn parse_section_binary<'a>(
    input: &'a [u8],
    config: &DecoderConfig,
) -> PResult<'a, Option<SectionPart>> {
    let (rest, _) = byte(b'[', "'['")(input)?;
    if let Some(rest) = rest.strip_prefix(b"]") {
        return Ok((rest, None));
    }
    let (rest, part) = SectionPart::parse(rest, config.limits.list).map_err(|e| match e {
        nom::Err::Error(e) if e.remaining == rest.len() => {
            nom::Err::Error(PError::at(rest, "part number or ']'"))
        }
        e => e,
    })?;
    let (rest, _) = byte(b']', "']'")(rest)?;
    Ok((rest, Some(part)))
}

/// Writes `section-binary`.
pub(crate) fn encode_section_binary(part: Option<&SectionPart>, out: &mut Vec<u8>) {
    out.push(b'[');
    if let Some(part) = part {
        part.encode(out);
    }
    out.push(b']');
}

/// A partial range of a FETCH command: `partial = "<" number64 "."
/// nz-number64 ">"` (RFC 9051; RFC 3501 has 32-bit numbers): the
/// zero-based offset of the first octet and the most octets wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Partial {
    offset: u64,
    length: NonZeroU64,
}

impl Partial {
    /// A range; refuses numbers above 2^63 - 1 (`number64`).
    pub fn new(offset: u64, length: NonZeroU64) -> Result<Self, TypeError> {
        if offset > i64::MAX as u64 || length.get() > i64::MAX as u64 {
            return Err(TypeError::problem("partial", "number above 2^63 - 1"));
        }
        Ok(Partial { offset, length })
    }

    /// The offset of the first octet.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The most octets wanted.
    pub fn length(&self) -> NonZeroU64 {
        self.length
    }

    /// `partial = "<" number64 "." nz-number64 ">"`.
    pub(crate) fn parse(input: &[u8]) -> PResult<'_, Self> {
        let (rest, _) = byte(b'<', "'<'")(input)?;
        let (rest, offset) = number64(rest)?;
        let (rest, _) = byte(b'.', "'.'")(rest)?;
        let at = rest;
        if let [b'0', b'0'..=b'9', ..] = rest {
            return fail(rest, "digit 1-9");
        }
        let (rest, length) = number64(rest)?;
        let Some(length) = NonZeroU64::new(length) else {
            return Err(nom::Err::Error(PError::kind(
                at,
                ErrorKind::NumberOutOfRange,
                "number from 1",
            )));
        };
        let (rest, _) = byte(b'>', "'>'")(rest)?;
        Ok((rest, Partial { offset, length }))
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.push(b'<');
        put_number(out, self.offset);
        out.push(b'.');
        put_number(out, self.length.get());
        out.push(b'>');
    }
}

/// `"<" number ">"`: the origin octet of a partial `BODY[...]` or
/// `BINARY[...]` in a FETCH response. Read as a 63-bit number, like the
/// `partial` it answers.
pub(crate) fn parse_origin(input: &[u8]) -> PResult<'_, Option<u64>> {
    let Some(rest) = input.strip_prefix(b"<") else {
        return Ok((input, None));
    };
    let (rest, origin) = number64(rest)?;
    let (rest, _) = byte(b'>', "'>'")(rest)?;
    Ok((rest, Some(origin)))
}

/// Writes `"<" number ">"` when there is an origin.
pub(crate) fn encode_origin(origin: Option<u64>, out: &mut Vec<u8>) {
    if let Some(origin) = origin {
        out.push(b'<');
        put_number(out, origin);
        out.push(b'>');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::{LiteralPolicy, to_bytes};

    fn section(input: &str) -> Section<'_> {
        let (rest, s) = Section::parse(input.as_bytes(), &DecoderConfig::STRICT).unwrap();
        assert!(rest.is_empty(), "{input}");
        let mut e = Encoder::new(LiteralPolicy::SyncOnly);
        s.encode(&mut e);
        let bytes = to_bytes(&e.finish());
        assert_eq!(&bytes[..bytes.len() - 2], input.as_bytes());
        s
    }

    #[test]
    fn a_section_spec_alone() {
        assert_eq!(Section::from_spec(b"").unwrap(), Section::WHOLE);
        assert_eq!(Section::from_spec(b"1.2.MIME").unwrap(), section("[1.2.MIME]"));
        assert_eq!(
            Section::from_spec(b"HEADER.FIELDS (SUBJECT FROM)").unwrap(),
            section("[HEADER.FIELDS (SUBJECT FROM)]")
        );
        for bad in [&b"MIME"[..], b"1.", b"]", b"TEXT] x", b"0"] {
            assert!(Section::from_spec(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn rfc9051_part_specifiers() {
        // The example of RFC 9051 section 6.4.5.1.
        for spec in [
            "[]",
            "[HEADER]",
            "[TEXT]",
            "[1]",
            "[3.HEADER]",
            "[3.TEXT]",
            "[3.1]",
            "[4.1.MIME]",
            "[4.2.HEADER]",
            "[4.2.2.1]",
            "[HEADER.FIELDS (DATE FROM)]",
            "[1.HEADER.FIELDS.NOT (\"X Y\" SUBJECT)]",
        ] {
            section(spec);
        }
        let s = section("[4.2.2.1]");
        let parts: Vec<u32> = s.part().unwrap().as_slice().iter().map(|n| n.get()).collect();
        assert_eq!(parts, [4, 2, 2, 1]);
        assert_eq!(s.text(), None);
        assert!(matches!(
            section("[1.HEADER.FIELDS.NOT (\"X Y\" SUBJECT)]").text(),
            Some(SectionText::HeaderFieldsNot(l)) if l.names().len() == 2
        ));
    }

    #[test]
    fn invalid_sections_name_the_position() {
        let cfg = DecoderConfig::STRICT;
        for (input, offset) in [
            (&b"[MIME]"[..], 1),
            (b"[0]", 1),
            (b"[1.0]", 3),
            (b"[01]", 1),
            (b"[HEADER.FIELDS ()]", 16),
            (b"[HEADER.FIELDS]", 14),
            (b"[1.FOO]", 3),
            (b"[1.2", 4),
            (b"[HEADER", 7),
        ] {
            let Err(nom::Err::Error(e)) = Section::parse(input, &cfg) else {
                panic!("{input:?}")
            };
            assert_eq!(
                input.len() - e.remaining,
                offset,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
        assert!(Section::new(None, Some(SectionText::Mime)).is_err());
        assert!(SectionPart::new(vec![]).is_err());
        assert!(HeaderList::new(vec![]).is_err());
        let mut cfg = cfg;
        cfg.limits.list = 3;
        let Err(nom::Err::Error(e)) = Section::parse(b"[1.2.3.4]", &cfg) else {
            panic!()
        };
        assert_eq!(e.kind, ErrorKind::TooMany { limit: 3 });
    }

    #[test]
    fn partials_and_origins() {
        let (rest, p) = Partial::parse(b"<0.2048>x").unwrap();
        assert_eq!((rest, p.offset(), p.length().get()), (&b"x"[..], 0, 2048));
        let mut out = Vec::new();
        p.encode(&mut out);
        assert_eq!(out, b"<0.2048>");
        assert!(Partial::parse(b"<0.0>").is_err());
        assert!(Partial::parse(b"<1.02>").is_err());
        assert!(Partial::parse(b"<1>").is_err());
        let (_, big) = Partial::parse(b"<9223372036854775807.1>").unwrap();
        assert_eq!(big.offset(), i64::MAX as u64);
        assert!(Partial::parse(b"<9223372036854775808.1>").is_err());
        assert!(Partial::new(u64::MAX, NonZeroU64::MIN).is_err());
        assert_eq!(parse_origin(b"<42> ").unwrap(), (&b" "[..], Some(42)));
        assert_eq!(parse_origin(b" ").unwrap(), (&b" "[..], None));
        let cfg = DecoderConfig::STRICT;
        assert_eq!(parse_section_binary(b"[]", &cfg).unwrap().1, None);
        let (_, part) = parse_section_binary(b"[1.2]", &cfg).unwrap();
        let mut out = Vec::new();
        encode_section_binary(part.as_ref(), &mut out);
        assert_eq!(out, b"[1.2]");
        assert!(parse_section_binary(b"[TEXT]", &cfg).is_err());
    }
}

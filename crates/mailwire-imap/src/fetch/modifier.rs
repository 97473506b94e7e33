//! FETCH modifiers (RFC 4466 section 2.4) and the generic extension values
//! of RFC 4466 section 2.1 they carry.
//!
//! ```text
//! fetch-modifiers     = SP "(" fetch-modifier *(SP fetch-modifier) ")"
//! fetch-modifier      = fetch-modifier-name [ SP fetch-modif-params ]
//! fetch-modif-params  = tagged-ext-val
//! fetch-modifier-name = tagged-ext-label
//! tagged-ext-label    = tagged-label-fchar *tagged-label-char
//! tagged-label-fchar  = ALPHA / "-" / "_" / "."
//! tagged-label-char   = tagged-label-fchar / DIGIT / ":"
//! tagged-ext-val      = tagged-ext-simple / "(" [tagged-ext-comp] ")"
//! tagged-ext-simple   = sequence-set / number
//! tagged-ext-comp     = astring / tagged-ext-comp *(SP tagged-ext-comp) /
//!                       "(" tagged-ext-comp ")"
//! ```
//!
//! RFC 4466 defines no modifier itself; extensions (CONDSTORE's
//! `CHANGEDSINCE`, QRESYNC's `VANISHED`) add variants to [`FetchModifier`].
//! Until they do, every modifier is kept as [`FetchModifier::Other`].

use std::borrow::Cow;
use std::fmt;

use crate::core::{AString, TypeError, check_bytes};
use crate::decode::{DecoderConfig, ErrorKind};
use crate::encode::Encoder;
use crate::parse::{PError, PResult, byte, fail, number64, put_number};
use crate::sequence::SequenceSet;

fn is_label_first(b: u8) -> bool {
    b.is_ascii_alphabetic() || matches!(b, b'-' | b'_' | b'.')
}

fn is_label_char(b: u8) -> bool {
    is_label_first(b) || b.is_ascii_digit() || b == b':'
}

/// The name of an extension item: `tagged-ext-label = tagged-label-fchar
/// *tagged-label-char`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TaggedLabel<'a>(Cow<'a, str>);

impl<'a> TaggedLabel<'a> {
    /// Validates a label.
    pub fn new(label: impl Into<Cow<'a, str>>) -> Result<Self, TypeError> {
        let label = label.into();
        match label.as_bytes().first() {
            None => return Err(TypeError::problem("tagged-ext-label", "must not be empty")),
            Some(&b) if !is_label_first(b) => {
                return Err(TypeError {
                    what: "tagged-ext-label",
                    problem: "must start with a letter, '-', '_' or '.'",
                    byte: Some(b),
                    position: Some(0),
                });
            }
            Some(_) => {}
        }
        check_bytes("tagged-ext-label", label.as_bytes(), is_label_char)?;
        Ok(TaggedLabel(label))
    }

    /// The label as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> TaggedLabel<'static> {
        TaggedLabel(Cow::Owned(self.0.into_owned()))
    }

    /// `tagged-ext-label`.
    pub(crate) fn parse(input: &'a [u8]) -> PResult<'a, Self> {
        match input.first() {
            Some(&b) if is_label_first(b) => {}
            _ => return fail(input, "extension name"),
        }
        let n = input.iter().take_while(|&&b| is_label_char(b)).count();
        // The label characters are ASCII.
        let text = std::str::from_utf8(&input[..n]).unwrap_or_default();
        Ok((&input[n..], TaggedLabel(Cow::Borrowed(text))))
    }
}

impl fmt::Debug for TaggedLabel<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TaggedLabel({})", self.0)
    }
}

/// `tagged-ext-val = tagged-ext-simple / "(" [tagged-ext-comp] ")"`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TaggedExtValue<'a> {
    /// A number (read as a 63-bit number, since extensions such as
    /// CONDSTORE put mod-sequences here).
    Number(u64),
    /// A sequence set that is not a plain number (`1:5,7`, `$`).
    SequenceSet(SequenceSet),
    /// `"(" [tagged-ext-comp] ")"`: the elements inside the parentheses,
    /// possibly none.
    Comp(Vec<TaggedExtComp<'a>>),
}

/// One element of a `tagged-ext-comp`: an astring, or a parenthesized,
/// non-empty run of elements.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TaggedExtComp<'a> {
    /// An astring.
    AString(AString<'a>),
    /// `"(" tagged-ext-comp ")"`.
    List(Vec<TaggedExtComp<'a>>),
}

impl TaggedExtComp<'_> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> TaggedExtComp<'static> {
        match self {
            TaggedExtComp::AString(a) => TaggedExtComp::AString(a.into_owned()),
            TaggedExtComp::List(l) => TaggedExtComp::List(l.into_iter().map(Self::into_owned).collect()),
        }
    }

    fn encode<'e>(&'e self, e: &mut Encoder<'e>) {
        match self {
            TaggedExtComp::AString(a) => a.encode(e),
            TaggedExtComp::List(l) => encode_comps(l, e),
        }
    }
}

fn encode_comps<'e>(comps: &'e [TaggedExtComp<'_>], e: &mut Encoder<'e>) {
    e.put(b"(");
    for (i, c) in comps.iter().enumerate() {
        if i > 0 {
            e.put(b" ");
        }
        c.encode(e);
    }
    e.put(b")");
}

/// `"(" [tagged-ext-comp] ")"` at nesting `depth`; `allow_empty` for the
/// outermost list.
fn parse_comps<'a>(
    input: &'a [u8],
    config: &DecoderConfig,
    depth: usize,
    allow_empty: bool,
) -> PResult<'a, Vec<TaggedExtComp<'a>>> {
    if depth >= config.limits.depth {
        return Err(nom::Err::Error(PError::kind(
            input,
            ErrorKind::TooDeep {
                limit: config.limits.depth,
            },
            "less nesting",
        )));
    }
    let (mut rest, _) = byte(b'(', "'('")(input)?;
    let mut comps = Vec::new();
    if let Some(r) = rest.strip_prefix(b")") {
        if allow_empty {
            return Ok((r, comps));
        }
        return fail(rest, "astring or '('");
    }
    loop {
        if comps.len() == config.limits.list {
            return Err(nom::Err::Error(PError::kind(
                rest,
                ErrorKind::TooMany {
                    limit: config.limits.list,
                },
                "')'",
            )));
        }
        let (r, comp) = if rest.first() == Some(&b'(') {
            let (r, l) = parse_comps(rest, config, depth + 1, false)?;
            (r, TaggedExtComp::List(l))
        } else {
            let (r, a) = AString::parse(rest, &config.leniency)?;
            (r, TaggedExtComp::AString(a))
        };
        comps.push(comp);
        match r.first() {
            Some(b')') => return Ok((&r[1..], comps)),
            Some(b' ') => rest = &r[1..],
            _ => return fail(r, "space or ')'"),
        }
    }
}

impl<'a> TaggedExtValue<'a> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> TaggedExtValue<'static> {
        match self {
            TaggedExtValue::Number(n) => TaggedExtValue::Number(n),
            TaggedExtValue::SequenceSet(s) => TaggedExtValue::SequenceSet(s),
            TaggedExtValue::Comp(c) => {
                TaggedExtValue::Comp(c.into_iter().map(TaggedExtComp::into_owned).collect())
            }
        }
    }

    /// `tagged-ext-val = tagged-ext-simple / "(" [tagged-ext-comp] ")"`,
    /// `tagged-ext-simple = sequence-set / number`.
    pub(crate) fn parse(input: &'a [u8], config: &DecoderConfig, depth: usize) -> PResult<'a, Self> {
        if input.first() == Some(&b'(') {
            let (rest, comps) = parse_comps(input, config, depth, true)?;
            return Ok((rest, TaggedExtValue::Comp(comps)));
        }
        let digits = input.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits > 0 && !matches!(input.get(digits), Some(b':' | b',')) {
            let (rest, n) = number64(input)?;
            return Ok((rest, TaggedExtValue::Number(n)));
        }
        let (rest, set) = SequenceSet::parse(input, config.limits.list).map_err(|e| match e {
            nom::Err::Error(e) if e.remaining == input.len() => {
                nom::Err::Error(PError::at(input, "number, sequence set or '('"))
            }
            e => e,
        })?;
        Ok((rest, TaggedExtValue::SequenceSet(set)))
    }

    pub(crate) fn encode<'e>(&'e self, e: &mut Encoder<'e>) {
        match self {
            TaggedExtValue::Number(n) => put_number(e.line(), *n),
            TaggedExtValue::SequenceSet(s) => s.encode(e.line()),
            TaggedExtValue::Comp(c) => encode_comps(c, e),
        }
    }
}

/// A FETCH modifier: `fetch-modifier = fetch-modifier-name [ SP
/// fetch-modif-params ]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FetchModifier<'a> {
    /// A modifier this crate has no variant for, kept as sent.
    Other {
        /// Its name.
        name: TaggedLabel<'a>,
        /// Its parameters, if any.
        value: Option<TaggedExtValue<'a>>,
    },
}

impl<'a> FetchModifier<'a> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> FetchModifier<'static> {
        match self {
            FetchModifier::Other { name, value } => FetchModifier::Other {
                name: name.into_owned(),
                value: value.map(TaggedExtValue::into_owned),
            },
        }
    }

    /// `fetch-modifier = fetch-modifier-name [ SP fetch-modif-params ]`.
    pub(crate) fn parse(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, Self> {
        let (rest, name) = TaggedLabel::parse(input)?;
        match rest.strip_prefix(b" ") {
            // A space before another modifier's name, or before the value.
            Some(r) if !r.first().copied().is_some_and(is_label_first) => {
                let (r, value) = TaggedExtValue::parse(r, config, 1)?;
                Ok((
                    r,
                    FetchModifier::Other {
                        name,
                        value: Some(value),
                    },
                ))
            }
            _ => Ok((rest, FetchModifier::Other { name, value: None })),
        }
    }

    pub(crate) fn encode<'e>(&'e self, e: &mut Encoder<'e>) {
        match self {
            FetchModifier::Other { name, value } => {
                e.put(name.as_str().as_bytes());
                if let Some(v) = value {
                    e.put(b" ");
                    v.encode(e);
                }
            }
        }
    }
}

/// `fetch-modifiers = SP "(" fetch-modifier *(SP fetch-modifier) ")"`,
/// from the `(` on; at least one modifier.
pub(crate) fn parse_fetch_modifiers<'a>(
    input: &'a [u8],
    config: &DecoderConfig,
) -> PResult<'a, Vec<FetchModifier<'a>>> {
    let (mut rest, _) = byte(b'(', "'('")(input)?;
    let mut modifiers = Vec::new();
    loop {
        if modifiers.len() == config.limits.list {
            return Err(nom::Err::Error(PError::kind(
                rest,
                ErrorKind::TooMany {
                    limit: config.limits.list,
                },
                "')'",
            )));
        }
        let (r, m) = FetchModifier::parse(rest, config)?;
        modifiers.push(m);
        match r.first() {
            Some(b')') => return Ok((&r[1..], modifiers)),
            Some(b' ') => rest = &r[1..],
            _ => return fail(r, "space or ')'"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::{LiteralPolicy, to_bytes};

    fn round_trip(input: &[u8]) -> Vec<FetchModifier<'_>> {
        let (rest, m) = parse_fetch_modifiers(input, &DecoderConfig::STRICT).unwrap();
        assert!(rest.is_empty());
        let mut e = Encoder::new(LiteralPolicy::SyncOnly);
        e.put(b"(");
        for (i, m) in m.iter().enumerate() {
            if i > 0 {
                e.put(b" ");
            }
            m.encode(&mut e);
        }
        e.put(b")");
        let out = to_bytes(&e.finish());
        assert_eq!(&out[..out.len() - 2], input);
        m
    }

    #[test]
    fn modifiers() {
        // RFC 7162 section 3.1.4.1.
        let m = round_trip(b"(CHANGEDSINCE 12345)");
        assert_eq!(
            m,
            [FetchModifier::Other {
                name: TaggedLabel::new("CHANGEDSINCE").unwrap(),
                value: Some(TaggedExtValue::Number(12345)),
            }]
        );
        // RFC 7162 section 3.2.6: VANISHED without a value, next to another.
        let m = round_trip(b"(CHANGEDSINCE 12345 VANISHED)");
        assert_eq!(m.len(), 2);
        round_trip(b"(X-SET 1:5,7 X-LIST (a (b \"c d\") e) X-EMPTY ())");
        round_trip(b"(X-BIG 9223372036854775807)");
        assert!(parse_fetch_modifiers(b"()", &DecoderConfig::STRICT).is_err());
        assert!(parse_fetch_modifiers(b"(1X)", &DecoderConfig::STRICT).is_err());
        assert!(parse_fetch_modifiers(b"(X (()))", &DecoderConfig::STRICT).is_err());
    }

    #[test]
    fn nesting_is_bounded() {
        let mut cfg = DecoderConfig::STRICT;
        cfg.limits.depth = 4;
        let deep = format!("(X {}a{})", "(".repeat(10), ")".repeat(10));
        let Err(nom::Err::Error(e)) = parse_fetch_modifiers(deep.as_bytes(), &cfg) else {
            panic!()
        };
        assert_eq!(e.kind, ErrorKind::TooDeep { limit: 4 });
        let ok = format!("(X {}a{})", "(".repeat(3), ")".repeat(3));
        assert!(parse_fetch_modifiers(ok.as_bytes(), &cfg).is_ok());
    }

    #[test]
    fn labels() {
        assert!(TaggedLabel::new("X-1:2").is_ok());
        assert!(TaggedLabel::new("1X").is_err());
        assert!(TaggedLabel::new("").is_err());
        assert_eq!(TaggedLabel::new("A B").unwrap_err().position, Some(1));
    }
}

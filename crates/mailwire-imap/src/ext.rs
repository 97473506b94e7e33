//! The generic extension syntax of RFC 4466 section 2.1, which lets a
//! parser keep parameters of extensions it does not know (STORE and FETCH
//! modifiers, SELECT and CREATE parameters, ESEARCH return data) and send
//! them back unchanged.
//!
//! ```text
//! tagged-ext-label    = tagged-label-fchar *tagged-label-char
//! tagged-label-fchar  = ALPHA / "-" / "_" / "."
//! tagged-label-char   = tagged-label-fchar / DIGIT / ":"
//! tagged-ext-val      = tagged-ext-simple / "(" [tagged-ext-comp] ")"
//! tagged-ext-simple   = sequence-set / number / number64
//! tagged-ext-comp     = astring / tagged-ext-comp *(SP tagged-ext-comp) /
//!                       "(" tagged-ext-comp ")"
//! ```

use std::borrow::Cow;
use std::fmt;

use crate::core::{AString, TypeError, check_bytes};
use crate::decode::{DecoderConfig, ErrorKind};
use crate::parse::{PError, PResult, fail, parse_whole};

/// `tagged-ext-label`: the name of an extension parameter, kept as sent
/// (labels compare case-insensitively).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TaggedExtLabel<'a>(Cow<'a, str>);

fn is_label_fchar(b: u8) -> bool {
    b.is_ascii_alphabetic() || matches!(b, b'-' | b'_' | b'.')
}

fn is_label_char(b: u8) -> bool {
    is_label_fchar(b) || b.is_ascii_digit() || b == b':'
}

impl<'a> TaggedExtLabel<'a> {
    /// Validates a label.
    pub fn new(value: impl Into<Cow<'a, str>>) -> Result<Self, TypeError> {
        let value = value.into();
        match value.as_bytes().first() {
            None => return Err(TypeError::problem("tagged-ext-label", "empty")),
            Some(&b) if !is_label_fchar(b) => {
                return Err(TypeError::problem(
                    "tagged-ext-label",
                    "must start with a letter, '-', '_' or '.'",
                ));
            }
            Some(_) => {}
        }
        check_bytes("tagged-ext-label", value.as_bytes(), is_label_char)?;
        Ok(TaggedExtLabel(value))
    }

    /// The label.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> TaggedExtLabel<'static> {
        TaggedExtLabel(Cow::Owned(self.0.into_owned()))
    }

    pub(crate) fn parse(input: &'a [u8]) -> PResult<'a, Self> {
        match input.first() {
            Some(&b) if is_label_fchar(b) => {}
            _ => return fail(input, "extension label"),
        }
        let n = input.iter().take_while(|&&b| is_label_char(b)).count();
        // Only ASCII passed the class check.
        let text = std::str::from_utf8(&input[..n]).unwrap_or_default();
        Ok((&input[n..], TaggedExtLabel(Cow::Borrowed(text))))
    }
}

impl fmt::Debug for TaggedExtLabel<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TaggedExtLabel({:?})", self.0)
    }
}

/// `tagged-ext-val`, checked against the grammar and kept as the bytes that
/// were sent (literals included), so that it goes back out unchanged.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TaggedExtValue<'a>(Cow<'a, [u8]>);

impl<'a> TaggedExtValue<'a> {
    /// Validates a value in its wire form, such as `1:5`, `42` or
    /// `("a" (b c))`.
    pub fn new(wire: impl Into<Cow<'a, [u8]>>) -> Result<Self, TypeError> {
        let wire = wire.into();
        parse_whole("tagged-ext-val", &wire, |i| {
            TaggedExtValue::parse(i, &DecoderConfig::STRICT).map(|(rest, _)| (rest, ()))
        })?;
        Ok(TaggedExtValue(wire))
    }

    /// The value as it travels on the wire.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> TaggedExtValue<'static> {
        TaggedExtValue(Cow::Owned(self.0.into_owned()))
    }

    /// `tagged-ext-val`, with nesting bounded by the depth limit.
    pub(crate) fn parse(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, Self> {
        let rest = if input.first() == Some(&b'(') {
            comp_list(input, config)?
        } else {
            simple(input)?.0
        };
        let used = input.len() - rest.len();
        Ok((rest, TaggedExtValue(Cow::Borrowed(&input[..used]))))
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0);
    }
}

impl fmt::Debug for TaggedExtValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TaggedExtValue({:?})", String::from_utf8_lossy(&self.0))
    }
}

/// `tagged-ext-simple = sequence-set / number / number64`: digits, `*`,
/// `:` and `,` in sequence-set order (a number is a one-element set).
fn simple(input: &[u8]) -> PResult<'_, ()> {
    // A number too large for a sequence number (or 0) is still a number64.
    match crate::SequenceSet::parse(input, usize::MAX) {
        Ok((rest, _)) => Ok((rest, ())),
        Err(_) => crate::parse::number64(input).map(|(rest, _)| (rest, ())),
    }
}

/// `"(" [tagged-ext-comp] ")"`, iteratively so nesting costs no stack.
fn comp_list<'a>(input: &'a [u8], config: &DecoderConfig) -> Result<&'a [u8], nom::Err<PError>> {
    let mut depth = 0usize;
    let mut rest = input;
    let mut need_item = true;
    loop {
        match rest.first() {
            Some(b'(') if need_item || depth == 0 => {
                depth += 1;
                if depth > config.limits.depth {
                    return Err(nom::Err::Error(PError::kind(
                        rest,
                        ErrorKind::TooDeep {
                            limit: config.limits.depth,
                        },
                        "')'",
                    )));
                }
                rest = &rest[1..];
                need_item = true;
                // "()" is allowed at the outer level only ("[tagged-ext-comp]").
                if depth == 1 && rest.first() == Some(&b')') {
                    return Ok(&rest[1..]);
                }
            }
            Some(b')') if !need_item => {
                depth -= 1;
                rest = &rest[1..];
                if depth == 0 {
                    return Ok(rest);
                }
            }
            Some(b' ') if !need_item => {
                rest = &rest[1..];
                need_item = true;
            }
            _ if need_item => {
                let (r, _) = AString::parse(rest, &config.leniency)?;
                rest = r;
                need_item = false;
            }
            _ => return Err(nom::Err::Error(PError::at(rest, "space or ')'"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(input: &[u8]) -> Result<(&[u8], Vec<u8>), ()> {
        TaggedExtValue::parse(input, &DecoderConfig::STRICT)
            .map(|(rest, v)| (rest, v.as_bytes().to_vec()))
            .map_err(|_| ())
    }

    #[test]
    fn values() {
        assert_eq!(value(b"1:5,7 x").unwrap(), (&b" x"[..], b"1:5,7".to_vec()));
        assert_eq!(value(b"12345678901").unwrap().1, b"12345678901");
        assert_eq!(value(b"()").unwrap().1, b"()");
        assert_eq!(value(b"(a \"b c\" (d (e)))").unwrap().1, b"(a \"b c\" (d (e)))");
        assert_eq!(value(b"({3}\r\nabc x)").unwrap().1, b"({3}\r\nabc x)");
        assert!(value(b"(a ())").is_err());
        assert!(value(b"(a").is_err());
        assert!(value(b"(a  b)").is_err());
        assert!(value(b"x").is_err());
        let deep = [vec![b'('; 100_000], vec![b'a'], vec![b')'; 100_000]].concat();
        let Err(nom::Err::Error(e)) = TaggedExtValue::parse(&deep, &DecoderConfig::STRICT) else {
            panic!("depth limit")
        };
        assert!(matches!(e.kind, ErrorKind::TooDeep { .. }));
    }

    #[test]
    fn labels() {
        assert!(TaggedExtLabel::new("UNCHANGEDSINCE").is_ok());
        assert!(TaggedExtLabel::new("x-foo:1").is_ok());
        assert!(TaggedExtLabel::new("1x").is_err());
        assert!(TaggedExtLabel::new("").is_err());
        assert_eq!(TaggedExtLabel::new("a b").unwrap_err().position, Some(1));
        assert!(TaggedExtValue::new(&b"(a b)"[..]).is_ok());
        assert!(TaggedExtValue::new(&b"(a b"[..]).is_err());
    }
}

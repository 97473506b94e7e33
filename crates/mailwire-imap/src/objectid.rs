//! OBJECTID (RFC 8474): stable identifiers for mailboxes, messages and
//! threads. This module has the identifier type and its parsers; the
//! extension's forms live where their grammar does: the `MAILBOXID` status
//! attribute and value ([`StatusAttribute::MailboxId`](crate::StatusAttribute::MailboxId),
//! [`StatusValue::MailboxId`](crate::StatusValue::MailboxId)), the
//! `[MAILBOXID (id)]` code ([`Code::MailboxId`](crate::Code::MailboxId)),
//! the `EMAILID` and `THREADID` fetch attributes and data items, and the
//! `EMAILID` and `THREADID` search keys.
//!
//! ```text
//! objectid            = 1*255(ALPHA / DIGIT / "_" / "-")
//!                       ; characters in object identifiers are case
//!                       ; significant
//! resp-text-code      =/ "MAILBOXID" SP "(" objectid ")"
//! status-att          =/ "MAILBOXID"
//! status-att-val      =/ "MAILBOXID" SP "(" objectid ")"
//! fetch-att           =/ "EMAILID" / "THREADID"
//! fetch-emailid-resp  = "EMAILID" SP "(" objectid ")"
//! fetch-threadid-resp = "THREADID" SP ( "(" objectid ")" / nil )
//!                       ; NIL: no thread information
//! msg-att-static      =/ fetch-emailid-resp / fetch-threadid-resp
//! search-key          =/ "EMAILID" SP objectid / "THREADID" SP objectid
//! ```

use std::borrow::Cow;

use crate::encode::Encoder;
use crate::parse::{PResult, byte, fail, is_nil};
use crate::string::TypeError;

/// The longest identifier RFC 8474 allows, in octets.
pub const OBJECTID_MAX: usize = 255;

/// An object identifier: 1 to 255 letters, digits, `_` and `-`, case
/// significant (`M6d99ac3275bb4e`, `F2212ea87-6097-4256-9d51-71338625`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectId<'a>(Cow<'a, str>);

fn is_objectid_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

impl<'a> ObjectId<'a> {
    /// Validates an identifier.
    pub fn new(value: impl Into<Cow<'a, str>>) -> Result<Self, TypeError> {
        let value = value.into();
        if value.is_empty() {
            return Err(TypeError::problem("object identifier", "empty"));
        }
        if value.len() > OBJECTID_MAX {
            return Err(TypeError {
                what: "object identifier",
                problem: "longer than 255 octets",
                byte: None,
                position: Some(OBJECTID_MAX),
            });
        }
        crate::string::check_bytes("object identifier", value.as_bytes(), is_objectid_char)?;
        Ok(ObjectId(value))
    }

    /// The identifier.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> ObjectId<'static> {
        ObjectId(Cow::Owned(self.0.into_owned()))
    }

    /// `objectid = 1*255(ALPHA / DIGIT / "_" / "-")`.
    pub(crate) fn parse(input: &'a [u8]) -> PResult<'a, Self> {
        let n = input.iter().take_while(|&&b| is_objectid_char(b)).count();
        if n == 0 {
            return fail(input, "object identifier");
        }
        if n > OBJECTID_MAX {
            return fail(
                &input[OBJECTID_MAX..],
                "end of object identifier (at most 255 octets)",
            );
        }
        // Checked: ASCII only.
        let text = std::str::from_utf8(&input[..n]).unwrap_or_default();
        Ok((&input[n..], ObjectId(Cow::Borrowed(text))))
    }

    /// `"(" objectid ")"`.
    pub(crate) fn parse_parenthesized(input: &'a [u8]) -> PResult<'a, Self> {
        let (rest, _) = byte(b'(', "'('")(input)?;
        let (rest, id) = ObjectId::parse(rest)?;
        let (rest, _) = byte(b')', "')'")(rest)?;
        Ok((rest, id))
    }

    /// `"(" objectid ")" / nil`.
    pub(crate) fn parse_parenthesized_or_nil(input: &'a [u8]) -> PResult<'a, Option<Self>> {
        if is_nil(input) {
            return Ok((&input[3..], None));
        }
        let (rest, id) = ObjectId::parse_parenthesized(input).map_err(|e| match e {
            nom::Err::Error(p) if p.remaining == input.len() => {
                nom::Err::Error(crate::parse::PError::at(input, "'(' or NIL"))
            }
            e => e,
        })?;
        Ok((rest, Some(id)))
    }

    /// Writes the identifier.
    pub(crate) fn encode(&self, e: &mut Encoder<'_>) {
        e.put(self.0.as_bytes());
    }

    /// Writes `(identifier)`.
    pub(crate) fn encode_parenthesized(&self, e: &mut Encoder<'_>) {
        e.put(b"(");
        e.put(self.0.as_bytes());
        e.put(b")");
    }
}

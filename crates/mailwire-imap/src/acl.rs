//! ACL (RFC 4314): access control lists on mailboxes. Adds the SETACL,
//! DELETEACL, GETACL, LISTRIGHTS and MYRIGHTS commands and the ACL,
//! LISTRIGHTS and MYRIGHTS responses, with [`Rights`], the validated rights
//! string, and [`RightsModification`], SETACL's `+`/`-` forms.
//!
//! ```text
//! acl-data        = "ACL" SP mailbox *(SP identifier SP rights)
//! deleteacl       = "DELETEACL" SP mailbox SP identifier
//! getacl          = "GETACL" SP mailbox
//! identifier      = astring
//! listrights      = "LISTRIGHTS" SP mailbox SP identifier
//! listrights-data = "LISTRIGHTS" SP mailbox SP identifier
//!                   SP rights *(SP rights)
//! mod-rights      = astring
//!                   ;; +rights to add, -rights to remove
//!                   ;; rights to replace
//! myrights        = "MYRIGHTS" SP mailbox
//! myrights-data   = "MYRIGHTS" SP mailbox SP rights
//! rights          = astring
//!                   ;; only lowercase ASCII letters and digits
//!                   ;; are allowed.
//! setacl          = "SETACL" SP mailbox SP identifier SP mod-rights
//! ```
//!
//! Identifiers stay astrings: a leading `-` names negative rights (RFC 4314
//! section 2), which servers interpret, not the codec.

use std::borrow::Cow;

use nom::Parser;

use crate::decode::DecoderConfig;
use crate::encode::Encoder;
use crate::mailbox::Mailbox;
use crate::parse::{PError, PResult, expect, sp, too_many};
use crate::string::{AString, TypeError};

/// A rights string: lowercase ASCII letters and digits, possibly empty
/// (LISTRIGHTS sends `""` when no right is always granted).
///
/// The letters of RFC 4314 section 2.1 are `l r s w i p k x t e a`, with
/// the obsolete `c` and `d` of RFC 2086; other letters and the digits are
/// left to extensions and servers, so they are valid here too.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Rights<'a>(Cow<'a, str>);

impl<'a> Rights<'a> {
    /// The rights of RFC 4314 section 2.1 and the obsolete `c` and `d`.
    pub const STANDARD: &'static str = "lrswipkxteacd";

    /// Validates a rights string: only `a`-`z` and `0`-`9`.
    pub fn new(value: impl Into<Cow<'a, str>>) -> Result<Self, TypeError> {
        let value = value.into();
        crate::string::check_bytes("rights", value.as_bytes(), is_right)?;
        Ok(Rights(value))
    }

    /// The rights, one character each.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `right` is among these rights.
    pub fn contains(&self, right: char) -> bool {
        self.0.contains(right)
    }

    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> Rights<'static> {
        Rights(Cow::Owned(self.0.into_owned()))
    }

    /// `rights = astring` with only lowercase letters and digits; the
    /// error points at the first other byte when the string is in the
    /// input as sent.
    pub(crate) fn parse(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, Self> {
        let (rest, s) = expect("rights", |i| AString::parse(i, &config.leniency)).parse(input)?;
        let rights = rights_from(input, s.as_bytes(), 0)?;
        Ok((rest, rights))
    }

    /// Writes the rights: an atom, or `""` when empty.
    pub(crate) fn encode(&self, e: &mut Encoder<'_>) {
        if self.0.is_empty() {
            e.put(b"\"\"");
        } else {
            e.put(self.0.as_bytes());
        }
    }
}

/// `LOWER-ALPHA / DIGIT`.
fn is_right(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// The rights in `bytes` (the content of an astring that started at
/// `input`), from `skip` on; an error at the offending byte. Borrowed
/// from the input when the string lies in it as sent.
fn rights_from<'a>(input: &'a [u8], bytes: &[u8], skip: usize) -> Result<Rights<'a>, nom::Err<PError>> {
    let body = bytes.get(skip..).unwrap_or_default();
    if let Some(p) = body.iter().position(|&b| !is_right(b)) {
        let at = within(input, body).map_or(input, |(offset, _)| &input[offset + p..]);
        return Err(nom::Err::Error(PError::at(
            at,
            "rights: lowercase letters and digits",
        )));
    }
    // Checked: ASCII only.
    Ok(Rights(match within(input, body) {
        Some((_, borrowed)) => Cow::Borrowed(std::str::from_utf8(borrowed).unwrap_or_default()),
        None => Cow::Owned(String::from_utf8_lossy(body).into_owned()),
    }))
}

/// Where `part` lies inside `input` (an atom, a quoted string without
/// escapes, a literal: the bytes as sent), and the same bytes borrowed
/// from `input`; `None` when it was copied out (a quoted string with
/// escapes).
fn within<'a>(input: &'a [u8], part: &[u8]) -> Option<(usize, &'a [u8])> {
    let offset = (part.as_ptr() as usize).checked_sub(input.as_ptr() as usize)?;
    let slice = input.get(offset..offset.checked_add(part.len())?)?;
    (slice.as_ptr() == part.as_ptr()).then_some((offset, slice))
}

/// How SETACL changes an identifier's rights: `mod-rights`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RightsModifier {
    /// No prefix: the rights replace the identifier's rights.
    Replace,
    /// `+`: the rights are added.
    Add,
    /// `-`: the rights are removed.
    Remove,
}

/// `mod-rights = astring`: `+rights` to add, `-rights` to remove, `rights`
/// to replace.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RightsModification<'a> {
    /// Replace, add or remove.
    pub modifier: RightsModifier,
    /// The rights.
    pub rights: Rights<'a>,
}

impl<'a> RightsModification<'a> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> RightsModification<'static> {
        RightsModification {
            modifier: self.modifier,
            rights: self.rights.into_owned(),
        }
    }

    /// `mod-rights`.
    pub(crate) fn parse(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, Self> {
        let (rest, s) = expect("rights", |i| AString::parse(i, &config.leniency)).parse(input)?;
        let bytes = s.as_bytes();
        let modifier = match bytes.first() {
            Some(b'+') => RightsModifier::Add,
            Some(b'-') => RightsModifier::Remove,
            _ => RightsModifier::Replace,
        };
        let skip = usize::from(modifier != RightsModifier::Replace);
        let rights = rights_from(input, bytes, skip)?;
        Ok((rest, RightsModification { modifier, rights }))
    }

    /// Writes `+rights`, `-rights`, `rights`, or `""` to replace with
    /// nothing.
    pub(crate) fn encode(&self, e: &mut Encoder<'_>) {
        match self.modifier {
            RightsModifier::Replace => return self.rights.encode(e),
            RightsModifier::Add => e.put(b"+"),
            RightsModifier::Remove => e.put(b"-"),
        }
        e.put(self.rights.as_str().as_bytes());
    }
}

/// One entry of an ACL response: `identifier SP rights`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AclEntry<'a> {
    /// Who (a `-` prefix: negative rights).
    pub identifier: AString<'a>,
    /// The rights granted (or denied).
    pub rights: Rights<'a>,
}

impl AclEntry<'_> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> AclEntry<'static> {
        AclEntry {
            identifier: self.identifier.into_owned(),
            rights: self.rights.into_owned(),
        }
    }
}

/// `acl-data = "ACL" SP mailbox *(SP identifier SP rights)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AclResponse<'a> {
    /// The mailbox.
    pub mailbox: Mailbox<'a>,
    /// Its access control list, possibly empty.
    pub entries: Vec<AclEntry<'a>>,
}

impl<'a> AclResponse<'a> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> AclResponse<'static> {
        AclResponse {
            mailbox: self.mailbox.into_owned(),
            entries: self.entries.into_iter().map(AclEntry::into_owned).collect(),
        }
    }

    /// The response after `ACL`, from the space that follows it.
    pub(crate) fn parse(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, Self> {
        let (rest, _) = sp(input)?;
        let (mut rest, mailbox) = Mailbox::parse(rest, &config.leniency)?;
        let mut entries = Vec::new();
        while let Some(r) = rest.strip_prefix(b" ") {
            if entries.len() == config.limits.list {
                return too_many(rest, config.limits.list, "end of line");
            }
            let (r, identifier) = identifier(r, config)?;
            let (r, _) = sp(r)?;
            let (r, rights) = Rights::parse(r, config)?;
            entries.push(AclEntry { identifier, rights });
            rest = r;
        }
        Ok((rest, AclResponse { mailbox, entries }))
    }

    /// Writes ` mailbox identifier rights...`.
    pub(crate) fn encode<'e>(&'e self, e: &mut Encoder<'e>) {
        e.put(b" ");
        self.mailbox.encode(e);
        for entry in &self.entries {
            e.put(b" ");
            entry.identifier.encode(e);
            e.put(b" ");
            entry.rights.encode(e);
        }
    }
}

/// `listrights-data = "LISTRIGHTS" SP mailbox SP identifier SP rights
/// *(SP rights)`: the rights always granted, then the groups that can be
/// granted (each group all or nothing).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ListRightsResponse<'a> {
    /// The mailbox.
    pub mailbox: Mailbox<'a>,
    /// The identifier asked about.
    pub identifier: AString<'a>,
    /// The rights always granted (often empty: `""`).
    pub required: Rights<'a>,
    /// The rights that can be granted, in groups.
    pub optional: Vec<Rights<'a>>,
}

impl<'a> ListRightsResponse<'a> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> ListRightsResponse<'static> {
        ListRightsResponse {
            mailbox: self.mailbox.into_owned(),
            identifier: self.identifier.into_owned(),
            required: self.required.into_owned(),
            optional: self.optional.into_iter().map(Rights::into_owned).collect(),
        }
    }

    /// The response after `LISTRIGHTS`, from the space that follows it.
    pub(crate) fn parse(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, Self> {
        let (rest, (mailbox, identifier)) = parse_mailbox_identifier(input, config)?;
        let (rest, _) = sp(rest)?;
        let (mut rest, required) = Rights::parse(rest, config)?;
        let mut optional = Vec::new();
        while let Some(r) = rest.strip_prefix(b" ") {
            if optional.len() == config.limits.list {
                return too_many(rest, config.limits.list, "end of line");
            }
            let (r, rights) = Rights::parse(r, config)?;
            optional.push(rights);
            rest = r;
        }
        Ok((
            rest,
            ListRightsResponse {
                mailbox,
                identifier,
                required,
                optional,
            },
        ))
    }

    /// Writes ` mailbox identifier required optional...`.
    pub(crate) fn encode<'e>(&'e self, e: &mut Encoder<'e>) {
        encode_mailbox_identifier(&self.mailbox, &self.identifier, e);
        e.put(b" ");
        self.required.encode(e);
        for r in &self.optional {
            e.put(b" ");
            r.encode(e);
        }
    }
}

/// `myrights-data = "MYRIGHTS" SP mailbox SP rights`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MyRightsResponse<'a> {
    /// The mailbox.
    pub mailbox: Mailbox<'a>,
    /// The rights the user has on it.
    pub rights: Rights<'a>,
}

impl<'a> MyRightsResponse<'a> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> MyRightsResponse<'static> {
        MyRightsResponse {
            mailbox: self.mailbox.into_owned(),
            rights: self.rights.into_owned(),
        }
    }

    /// The response after `MYRIGHTS`, from the space that follows it.
    pub(crate) fn parse(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, Self> {
        let (rest, _) = sp(input)?;
        let (rest, mailbox) = Mailbox::parse(rest, &config.leniency)?;
        let (rest, _) = sp(rest)?;
        let (rest, rights) = Rights::parse(rest, config)?;
        Ok((rest, MyRightsResponse { mailbox, rights }))
    }

    /// Writes ` mailbox rights`.
    pub(crate) fn encode<'e>(&'e self, e: &mut Encoder<'e>) {
        e.put(b" ");
        self.mailbox.encode(e);
        e.put(b" ");
        self.rights.encode(e);
    }
}

/// `identifier = astring`.
fn identifier<'a>(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, AString<'a>> {
    expect("identifier", |i| AString::parse(i, &config.leniency)).parse(input)
}

/// `SP mailbox SP identifier`: the arguments of DELETEACL and LISTRIGHTS.
pub(crate) fn parse_mailbox_identifier<'a>(
    input: &'a [u8],
    config: &DecoderConfig,
) -> PResult<'a, (Mailbox<'a>, AString<'a>)> {
    let (rest, _) = sp(input)?;
    let (rest, mailbox) = Mailbox::parse(rest, &config.leniency)?;
    let (rest, _) = sp(rest)?;
    let (rest, identifier) = identifier(rest, config)?;
    Ok((rest, (mailbox, identifier)))
}

/// Writes ` mailbox identifier`.
pub(crate) fn encode_mailbox_identifier<'e>(
    mailbox: &'e Mailbox<'e>,
    identifier: &'e AString<'e>,
    e: &mut Encoder<'e>,
) {
    e.put(b" ");
    mailbox.encode(e);
    e.put(b" ");
    identifier.encode(e);
}

/// `setacl = "SETACL" SP mailbox SP identifier SP mod-rights`, after the
/// name.
pub(crate) fn parse_setacl<'a>(
    input: &'a [u8],
    config: &DecoderConfig,
) -> PResult<'a, (Mailbox<'a>, AString<'a>, RightsModification<'a>)> {
    let (rest, (mailbox, identifier)) = parse_mailbox_identifier(input, config)?;
    let (rest, _) = sp(rest)?;
    let (rest, rights) = RightsModification::parse(rest, config)?;
    Ok((rest, (mailbox, identifier, rights)))
}

//! CATENATE (RFC 4469): an APPEND message put together on the server
//! from literals and IMAP URLs of messages (or parts) already there, so a
//! client forwarding an attachment need not download and upload it. With
//! UTF8=ACCEPT (RFC 6855 section 4) a part can also be a UTF-8 literal8.
//! The `BADURL` response code names the URL that failed; `TOOBIG` (also
//! RFC 5530) is a [`Code::Condition`](crate::Code::Condition).
//!
//! ```text
//! append-data    =/ "CATENATE" SP "(" cat-part *(SP cat-part) ")"
//! cat-part       = text-literal / url
//! cat-part       =/ utf8-literal                  ; RFC 6855
//! text-literal   = "TEXT" SP literal
//! url            = "URL" SP astring
//! resp-text-code =/ toobig-response-code / badurl-response-code
//! toobig-response-code = "TOOBIG"
//! badurl-response-code = "BADURL" SP url-resp-text
//! url-resp-text  = 1*(%x01-09 / %x0B-0C / %x0E-5B / %x5D-FE)
//!                  ; Any TEXT-CHAR except "]"
//! ```

use std::borrow::Cow;

use crate::decode::DecoderConfig;
use crate::encode::Encoder;
use crate::imap_url::ImapUrl;
use crate::message_cmd::{encode_utf8_literal, parse_utf8_literal};
use crate::parse::{PResult, fail, keyword, too_many};
use crate::string::Literal;

/// One part of a CATENATE list: `cat-part`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CatPart<'a> {
    /// `TEXT literal`: octets to append as they are.
    Text(Literal<'a>),
    /// `URL astring`: the message or part the URL names (relative URLs
    /// are resolved against `imap://user@server/`, or the selected
    /// mailbox).
    Url(ImapUrl<'a>),
    /// `UTF8 (literal8)` (RFC 6855): UTF-8 octets. Always a literal8 on
    /// the wire.
    Utf8(Literal<'a>),
}

impl CatPart<'_> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> CatPart<'static> {
        match self {
            CatPart::Text(l) => CatPart::Text(l.into_owned()),
            CatPart::Url(u) => CatPart::Url(u.into_owned()),
            CatPart::Utf8(l) => CatPart::Utf8(l.into_owned()),
        }
    }
}

/// `cat-part = text-literal / url / utf8-literal`.
fn cat_part<'a>(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, CatPart<'a>> {
    if let Ok((r, _)) = keyword("TEXT ")(input) {
        if r.first() != Some(&b'{') {
            return fail(r, "literal");
        }
        return Literal::parse(r, config.leniency.bare_lf).map(|(r, l)| (r, CatPart::Text(l)));
    }
    if let Ok((r, _)) = keyword("URL ")(input) {
        return ImapUrl::parse(r, config).map(|(r, u)| (r, CatPart::Url(u)));
    }
    if keyword("UTF8 ")(input).is_ok() {
        return parse_utf8_literal(input, config).map(|(r, l)| (r, CatPart::Utf8(l)));
    }
    fail(input, "TEXT, URL or UTF8")
}

/// `"CATENATE" SP "(" cat-part *(SP cat-part) ")"`: at least one part, at
/// most `limits.list`.
pub(crate) fn parse_catenate<'a>(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, Vec<CatPart<'a>>> {
    let (mut rest, _) = keyword("CATENATE (")(input)?;
    let mut parts = Vec::new();
    loop {
        if parts.len() == config.limits.list {
            return too_many(rest, config.limits.list, "')'");
        }
        let (r, part) = cat_part(rest, config)?;
        parts.push(part);
        match r.first() {
            Some(b')') => return Ok((&r[1..], parts)),
            Some(b' ') => rest = &r[1..],
            _ => return fail(r, "space or ')'"),
        }
    }
}

/// Writes `CATENATE (part...)`.
pub(crate) fn encode_catenate<'e>(parts: &'e [CatPart<'e>], e: &mut Encoder<'e>) {
    e.put(b"CATENATE (");
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            e.put(b" ");
        }
        match part {
            CatPart::Text(l) => {
                e.put(b"TEXT ");
                e.literal_data(l.data(), false);
            }
            CatPart::Url(u) => {
                e.put(b"URL ");
                u.encode(e);
            }
            CatPart::Utf8(l) => encode_utf8_literal(l, e),
        }
    }
    e.put(b")");
}

/// `SP url-resp-text` after `BADURL`: the URL as the server quotes it,
/// up to `]`. Kept as text, not as an [`ImapUrl`]: a URL that does not
/// parse is one of the reasons for the code.
pub(crate) fn parse_badurl_code(input: &[u8]) -> PResult<'_, Cow<'_, str>> {
    let Some(text) = input.strip_prefix(b" ") else {
        return fail(input, "space and URL");
    };
    let n = text
        .iter()
        .take_while(|&&b| !matches!(b, 0 | b'\r' | b'\n' | b']' | 0xff))
        .count();
    if n == 0 {
        return fail(text, "URL");
    }
    Ok((&text[n..], String::from_utf8_lossy(&text[..n])))
}

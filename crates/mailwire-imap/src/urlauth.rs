//! URLAUTH (RFC 4467): URLs that carry their own authorization, so a
//! third party (a submission server, BURL) can fetch a message part with
//! the URL alone. Adds the GENURLAUTH, RESETKEY and URLFETCH commands and
//! the GENURLAUTH and URLFETCH responses; the URLs are [`ImapUrl`]s (RFC
//! 5092), whose `;URLAUTH=` parts they read.
//!
//! ```text
//! genurlauth      = "GENURLAUTH" 1*(SP url-rump SP mechanism)
//! genurlauth-data = "*" SP "GENURLAUTH" 1*(SP url-full)
//! url-full        = astring   ; contains authimapurlfull
//! url-rump        = astring   ; contains authimapurlrump
//! urlfetch        = "URLFETCH" 1*(SP url-full)
//! urlfetch-data   = "*" SP "URLFETCH" 1*(SP url-full SP nstring)
//! resetkey        = "RESETKEY" [SP mailbox *(SP mechanism)]
//! mechanism       = "INTERNAL" / 1*(ALPHA / DIGIT / "-" / ".")
//! resp-text-code  =/ "URLMECH" SP "INTERNAL" *(SP mechanism ["=" base64])
//! ```
//!
//! URLFETCH data may also be a `literal8` (RFC 5524 section 4 allows
//! binary data; Dovecot sends it for BINARY fetches).

use crate::command::Base64;
use crate::core::{Atom, IString, Literal, NString};
use crate::decode::DecoderConfig;
use crate::encode::Encoder;
use crate::imap_url::ImapUrl;
use crate::mailbox::Mailbox;
use crate::parse::{PResult, fail, keyword, sp, too_many};
use crate::response::Response;

/// One URL of GENURLAUTH and the mechanism to authorize it with.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GenUrlAuth<'a> {
    /// The URL, normally a rump (`;URLAUTH=` without a verifier; see
    /// [`ImapUrl::is_urlauth_rump`]).
    pub url: ImapUrl<'a>,
    /// The mechanism (`INTERNAL`).
    pub mechanism: Atom<'a>,
}

impl GenUrlAuth<'_> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> GenUrlAuth<'static> {
        GenUrlAuth {
            url: self.url.into_owned(),
            mechanism: self.mechanism.into_owned(),
        }
    }
}

/// `mechanism = "INTERNAL" / 1*(ALPHA / DIGIT / "-" / ".")`.
fn mechanism(input: &[u8]) -> PResult<'_, Atom<'_>> {
    let n = input
        .iter()
        .take_while(|&&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        .count();
    // These characters are ASCII atom characters.
    match std::str::from_utf8(&input[..n])
        .ok()
        .and_then(|s| Atom::new(s).ok())
    {
        Some(a) => Ok((&input[n..], a)),
        None => fail(input, "URLAUTH mechanism"),
    }
}

/// `1*(SP item)` up to the end of the line, at most `limits.list`.
fn one_or_more<'a, T>(
    input: &'a [u8],
    config: &DecoderConfig,
    expected: &'static str,
    mut item: impl FnMut(&'a [u8]) -> PResult<'a, T>,
) -> PResult<'a, Vec<T>> {
    let mut items = Vec::new();
    let mut rest = input;
    while let Some(next) = rest.strip_prefix(b" ") {
        let next = crate::parse::skip_extra_spaces(next, config.leniency.extra_spaces);
        if config.leniency.extra_spaces && matches!(next.first(), None | Some(b'\r' | b'\n')) {
            break;
        }
        if items.len() == config.limits.list {
            return too_many(next, config.limits.list, "end of line");
        }
        let (r, v) = item(next)?;
        items.push(v);
        rest = r;
    }
    if items.is_empty() {
        return fail(rest, expected);
    }
    Ok((rest, items))
}

/// `1*(SP url-rump SP mechanism)` after `GENURLAUTH`.
pub(crate) fn parse_genurlauth<'a>(
    input: &'a [u8],
    config: &DecoderConfig,
) -> PResult<'a, Vec<GenUrlAuth<'a>>> {
    one_or_more(input, config, "space and URL", |i| {
        let (r, url) = ImapUrl::parse(i, config)?;
        let (r, _) = sp(r)?;
        let (r, mechanism) = self::mechanism(r)?;
        Ok((r, GenUrlAuth { url, mechanism }))
    })
}

/// `1*(SP url-full)` after `URLFETCH` (command) or `* GENURLAUTH`.
pub(crate) fn parse_urls<'a>(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, Vec<ImapUrl<'a>>> {
    one_or_more(input, config, "space and URL", |i| ImapUrl::parse(i, config))
}

/// `[SP mailbox *(SP mechanism)]` after `RESETKEY`.
pub(crate) fn parse_resetkey<'a>(
    input: &'a [u8],
    config: &DecoderConfig,
) -> PResult<'a, (Option<Mailbox<'a>>, Vec<Atom<'a>>)> {
    let lenient = config.leniency.extra_spaces;
    let line_end = |i: &[u8]| matches!(i.first(), None | Some(b'\r' | b'\n'));
    let Some(r) = input
        .strip_prefix(b" ")
        .map(|r| crate::parse::skip_extra_spaces(r, lenient))
        .filter(|r| !(lenient && line_end(r)))
    else {
        return Ok((input, (None, Vec::new())));
    };
    let (r, mailbox) = Mailbox::parse(r, &config.leniency)?;
    let mut mechanisms = Vec::new();
    let mut rest = r;
    while let Some(next) = rest.strip_prefix(b" ") {
        let next = crate::parse::skip_extra_spaces(next, lenient);
        if lenient && line_end(next) {
            break;
        }
        if mechanisms.len() == config.limits.list {
            return too_many(next, config.limits.list, "end of line");
        }
        let (r, m) = mechanism(next)?;
        mechanisms.push(m);
        rest = r;
    }
    Ok((rest, (Some(mailbox), mechanisms)))
}

/// Writes ` url mechanism...` after `GENURLAUTH`.
pub(crate) fn encode_genurlauth<'e>(items: &'e [GenUrlAuth<'e>], e: &mut Encoder<'e>) {
    for item in items {
        e.put(b" ");
        item.url.encode(e);
        e.put(b" ");
        e.put(item.mechanism.as_str().as_bytes());
    }
}

/// Writes ` url...`.
pub(crate) fn encode_urls<'e>(urls: &'e [ImapUrl<'e>], e: &mut Encoder<'e>) {
    for url in urls {
        e.put(b" ");
        url.encode(e);
    }
}

/// Writes ` [mailbox mechanism...]` after `RESETKEY`.
pub(crate) fn encode_resetkey<'e>(
    mailbox: &'e Option<Mailbox<'e>>,
    mechanisms: &'e [Atom<'e>],
    e: &mut Encoder<'e>,
) {
    if let Some(m) = mailbox {
        e.put(b" ");
        m.encode(e);
        for mech in mechanisms {
            e.put(b" ");
            e.put(mech.as_str().as_bytes());
        }
    }
}

/// One URL of a URLFETCH response and what it names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UrlFetchData<'a> {
    /// The URL, as the client sent it.
    pub url: ImapUrl<'a>,
    /// The data; NIL when the URL could not be fetched. A literal8 (binary
    /// data) is an [`IString::Literal`] whose literal is binary.
    pub data: NString<'a>,
}

impl UrlFetchData<'_> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> UrlFetchData<'static> {
        UrlFetchData {
            url: self.url.into_owned(),
            data: self.data.into_owned(),
        }
    }
}

/// `nstring`, or a `literal8`.
fn nstring_or_literal8<'a>(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, NString<'a>> {
    if input.first() == Some(&b'~') {
        let (r, l) = Literal::parse(input, config.leniency.bare_lf)?;
        return Ok((r, NString(Some(IString::Literal(l)))));
    }
    NString::parse(input, &config.leniency)
}

/// `GENURLAUTH 1*(SP url-full)` and `URLFETCH 1*(SP url-full SP
/// nstring)` response data, up to the line end; `None` when `input`
/// starts with neither name.
pub(crate) fn response_data<'a>(
    input: &'a [u8],
    config: &DecoderConfig,
) -> Option<PResult<'a, Response<'a>>> {
    let word = |w: &'static str| {
        keyword(w)(input)
            .ok()
            .map(|(r, _)| r)
            .filter(|r| matches!(r.first(), None | Some(b' ' | b'\r' | b'\n')))
    };
    if let Some(r) = word("GENURLAUTH") {
        return Some(parse_urls(r, config).map(|(r, urls)| (r, Response::GenUrlAuth(urls))));
    }
    if let Some(r) = word("URLFETCH") {
        let data = one_or_more(r, config, "space and URL", |i| {
            let (r, url) = ImapUrl::parse(i, config)?;
            let (r, _) = sp(r)?;
            let (r, data) = nstring_or_literal8(r, config)?;
            Ok((r, UrlFetchData { url, data }))
        });
        return Some(data.map(|(r, d)| (r, Response::UrlFetch(d))));
    }
    None
}

/// Writes ` url data...` after `* URLFETCH`.
pub(crate) fn encode_urlfetch_data<'e>(items: &'e [UrlFetchData<'e>], e: &mut Encoder<'e>) {
    for item in items {
        e.put(b" ");
        item.url.encode(e);
        e.put(b" ");
        item.data.encode(e);
    }
}

/// A mechanism of the `URLMECH` response code, with the key a client may
/// be given for it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UrlMechanism<'a> {
    /// The mechanism.
    pub mechanism: Atom<'a>,
    /// `"=" base64`: mechanism-specific data.
    pub data: Option<Base64<'a>>,
}

impl UrlMechanism<'_> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> UrlMechanism<'static> {
        UrlMechanism {
            mechanism: self.mechanism.into_owned(),
            data: self.data.map(Base64::into_owned),
        }
    }
}

/// `SP "INTERNAL" *(SP mechanism ["=" base64])` after `URLMECH`: the
/// mechanisms after the mandatory INTERNAL.
pub(crate) fn parse_urlmech_code<'a>(
    input: &'a [u8],
    config: &DecoderConfig,
) -> PResult<'a, Vec<UrlMechanism<'a>>> {
    let (r, _) = sp(input)?;
    let (mut rest, _) = keyword("INTERNAL")(r)?;
    let mut list = Vec::new();
    while let Some(next) = rest.strip_prefix(b" ") {
        if list.len() == config.limits.list {
            return too_many(next, config.limits.list, "']'");
        }
        let (r, mechanism) = self::mechanism(next)?;
        let (r, data) = match r.strip_prefix(b"=") {
            Some(b) => {
                let n = b
                    .iter()
                    .take_while(|&&c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'='))
                    .count();
                // The run is ASCII.
                let text = std::str::from_utf8(&b[..n]).unwrap_or_default();
                match Base64::new(text) {
                    Ok(k) => (&b[n..], Some(k)),
                    Err(e) => return fail(&b[e.position.unwrap_or(0).min(n)..], "base64"),
                }
            }
            None => (r, None),
        };
        list.push(UrlMechanism { mechanism, data });
        rest = r;
    }
    Ok((rest, list))
}

/// Writes `URLMECH INTERNAL mechanism[=data]...`.
pub(crate) fn encode_urlmech_code(list: &[UrlMechanism<'_>], e: &mut Encoder<'_>) {
    e.put(b"URLMECH INTERNAL");
    for m in list {
        e.put(b" ");
        e.put(m.mechanism.as_str().as_bytes());
        if let Some(d) = &m.data {
            e.put(b"=");
            e.put(d.as_str().as_bytes());
        }
    }
}

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
//! URLAUTH=BINARY (RFC 5524, "Extended URLFETCH for Binary and Converted
//! Parts") extends `urlfetch` and `urlfetch-data`: an argument may be a
//! parenthesized URL with parameters asking for the part's body structure
//! and for its content decoded (BINARY) or as stored (BODY), and the
//! answer to such an argument is a list of metadata items, each in
//! parentheses of its own, instead of one nstring (RFC 5524 sections 3
//! and 5, with the RFC's rule names):
//!
//! ```text
//! urlfetch            = "URLFETCH" 1*(SP url-fetch-arg)
//! url-fetch-arg       = url-fetch-simple / url-fetch-ext
//! url-fetch-simple    = url-full
//! url-fetch-ext       = "(" url-full *(SP url-fetch-param) ")"
//! url-fetch-param     = "BODY" / "BINARY" / "BODYPARTSTRUCTURE" / atom
//! urlfetch-data       = "*" SP "URLFETCH" 1*(SP (urldata-simple / urldata-ext))
//! urldata-simple      = url-full SP nstring
//! urldata-ext         = url-full url-metadata
//! url-metadata        = 1*(SP "(" url-metadata-el ")")
//! url-metadata-el     = url-meta-bodystruct / url-meta-body / url-meta-binary
//! url-meta-bodystruct = "BODYPARTSTRUCTURE" SP body
//! url-meta-body       = "BODY" SP nstring
//! url-meta-binary     = "BINARY" SP (nstring / literal8)
//! ```
//!
//! `body` is RFC 3501's body structure, decoded by [`BodyStructure`].
//! Unknown parameter atoms are kept as [`UrlFetchParam::Other`] so later
//! extensions decode.
//!
//! Two servers answer outside that grammar, and the decoder takes both
//! when [`Leniency`](crate::Leniency) allows it (the default does):
//! Dovecot 2.3 puts every item of one URL in a single list,
//! `url (BODYPARTSTRUCTURE (...) BINARY {57}...)`
//! ([`urlfetch_one_list`](crate::Leniency::urlfetch_one_list)), and Cyrus
//! sends `(BODYPARTSTRUCTURE NIL)` because it does not compute the
//! structure ([`urlfetch_nil_structure`](crate::Leniency::urlfetch_nil_structure)).
//! Dovecot's shape decodes to the same value as the RFC's; the encoder
//! always writes the RFC's.
//!
//! The answer to a plain URL is also taken as a `literal8`, which neither
//! RFC 4467 nor RFC 5524 allows there (both say `nstring`); no server is
//! known to send one (Dovecot writes `{n}` for the plain form, and `~{n}`
//! only for an extended BINARY item).

use crate::command::Base64;
use crate::decode::DecoderConfig;
use crate::encode::Encoder;
use crate::fetch::body::BodyStructure;
use crate::imap_url::ImapUrl;
use crate::mailbox::Mailbox;
use crate::parse::{PResult, byte, fail, is_nil, keyword, sp, too_many};
use crate::response::Response;
use crate::string::{Atom, IString, Literal, NString};

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

/// `1*(SP url-full)` after `* GENURLAUTH`.
pub(crate) fn parse_urls<'a>(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, Vec<ImapUrl<'a>>> {
    one_or_more(input, config, "space and URL", |i| ImapUrl::parse(i, config))
}

/// `url-fetch-param`, a parameter of an extended URLFETCH argument (RFC
/// 5524 section 3.1): what to return for the URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UrlFetchParam<'a> {
    /// `BODYPARTSTRUCTURE`: the body structure of the part the URL names.
    BodyPartStructure,
    /// `BINARY`: the content with its transfer encoding removed.
    Binary,
    /// `BODY`: the content as stored (what RFC 4467's URLFETCH returns).
    Body,
    /// Any other atom, for extensions; encoded as decoded.
    Other(Atom<'a>),
}

impl UrlFetchParam<'_> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> UrlFetchParam<'static> {
        match self {
            UrlFetchParam::BodyPartStructure => UrlFetchParam::BodyPartStructure,
            UrlFetchParam::Binary => UrlFetchParam::Binary,
            UrlFetchParam::Body => UrlFetchParam::Body,
            UrlFetchParam::Other(a) => UrlFetchParam::Other(a.into_owned()),
        }
    }

    fn as_str(&self) -> &str {
        match self {
            UrlFetchParam::BodyPartStructure => "BODYPARTSTRUCTURE",
            UrlFetchParam::Binary => "BINARY",
            UrlFetchParam::Body => "BODY",
            UrlFetchParam::Other(a) => a.as_str(),
        }
    }
}

/// One argument of URLFETCH: `url-fetch-simple`, the `url-full` of RFC
/// 4467, or `url-fetch-ext = "(" url-full *(SP url-fetch-param) ")"` (RFC
/// 5524).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UrlFetchRequest<'a> {
    /// The URL.
    pub url: ImapUrl<'a>,
    /// `None` for the plain RFC 4467 form; the parameters of the
    /// parenthesized RFC 5524 form (possibly none) otherwise.
    pub params: Option<Vec<UrlFetchParam<'a>>>,
}

impl<'a> UrlFetchRequest<'a> {
    /// A plain RFC 4467 argument.
    pub fn plain(url: ImapUrl<'a>) -> Self {
        UrlFetchRequest { url, params: None }
    }

    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> UrlFetchRequest<'static> {
        UrlFetchRequest {
            url: self.url.into_owned(),
            params: self
                .params
                .map(|p| p.into_iter().map(UrlFetchParam::into_owned).collect()),
        }
    }
}

/// `url-fetch-arg = url-fetch-simple / url-fetch-ext`, with
/// `url-fetch-simple = url-full` and `url-fetch-ext = "(" url-full *(SP
/// url-fetch-param) ")"`.
fn url_fetch_arg<'a>(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, UrlFetchRequest<'a>> {
    let Some(inner) = input.strip_prefix(b"(") else {
        let (r, url) = ImapUrl::parse(input, config)?;
        return Ok((r, UrlFetchRequest::plain(url)));
    };
    let (mut rest, url) = ImapUrl::parse(inner, config)?;
    let mut params = Vec::new();
    while let Some(next) = rest.strip_prefix(b" ") {
        if params.len() == config.limits.list {
            return too_many(next, config.limits.list, "')'");
        }
        let Ok((r, atom)) = Atom::parse(next) else {
            return fail(next, "URLFETCH parameter");
        };
        let word = atom.as_str();
        let param = if word.eq_ignore_ascii_case("BODYPARTSTRUCTURE") {
            UrlFetchParam::BodyPartStructure
        } else if word.eq_ignore_ascii_case("BINARY") {
            UrlFetchParam::Binary
        } else if word.eq_ignore_ascii_case("BODY") {
            UrlFetchParam::Body
        } else {
            UrlFetchParam::Other(atom)
        };
        params.push(param);
        rest = r;
    }
    let (rest, _) = byte(b')', "space or ')'")(rest)?;
    Ok((
        rest,
        UrlFetchRequest {
            url,
            params: Some(params),
        },
    ))
}

/// `1*(SP url-fetch-arg)` after `URLFETCH` (command).
pub(crate) fn parse_urlfetch<'a>(
    input: &'a [u8],
    config: &DecoderConfig,
) -> PResult<'a, Vec<UrlFetchRequest<'a>>> {
    one_or_more(input, config, "space and URL", |i| url_fetch_arg(i, config))
}

/// Writes ` url-fetch-arg...` after `URLFETCH`.
pub(crate) fn encode_urlfetch<'e>(requests: &'e [UrlFetchRequest<'e>], e: &mut Encoder<'e>) {
    for request in requests {
        e.put(b" ");
        match &request.params {
            None => request.url.encode(e),
            Some(params) => {
                e.put(b"(");
                request.url.encode(e);
                for p in params {
                    e.put(b" ");
                    e.put(p.as_str().as_bytes());
                }
                e.put(b")");
            }
        }
    }
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
    /// What the server returns for it.
    pub data: UrlFetchAnswer<'a>,
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

/// The answer for one URL of URLFETCH.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UrlFetchAnswer<'a> {
    /// The `nstring` of `urldata-simple` (RFC 4467, RFC 5524), the answer
    /// to a plain URL: the data, NIL when the URL could not be fetched. A
    /// literal8 (binary data, outside the grammar; see the module) is an
    /// [`IString::Literal`] whose literal is binary.
    Plain(NString<'a>),
    /// `url-metadata = 1*(SP "(" url-metadata-el ")")` (RFC 5524 section
    /// 3.2), the answer to a parenthesized argument; at least one item.
    /// Also what Dovecot's single list decodes to (see
    /// [`Leniency::urlfetch_one_list`](crate::Leniency::urlfetch_one_list));
    /// encoded in the RFC form.
    Extended(Vec<UrlFetchMetadata<'a>>),
}

impl UrlFetchAnswer<'_> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> UrlFetchAnswer<'static> {
        match self {
            UrlFetchAnswer::Plain(n) => UrlFetchAnswer::Plain(n.into_owned()),
            UrlFetchAnswer::Extended(items) => {
                UrlFetchAnswer::Extended(items.into_iter().map(UrlFetchMetadata::into_owned).collect())
            }
        }
    }
}

/// `url-metadata-el`, a metadata item of an extended URLFETCH answer (RFC
/// 5524 section 3.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UrlFetchMetadata<'a> {
    /// `url-meta-bodystruct = "BODYPARTSTRUCTURE" SP body`: the structure
    /// of the part. `None` only for Cyrus's `BODYPARTSTRUCTURE NIL`, which
    /// the grammar does not allow (see
    /// [`Leniency::urlfetch_nil_structure`](crate::Leniency::urlfetch_nil_structure));
    /// it is encoded back as `NIL`, which only such a decoder takes.
    BodyPartStructure(Option<Box<BodyStructure<'a>>>),
    /// `url-meta-binary = "BINARY" SP (nstring / literal8)`: the content,
    /// decoded; NIL when it cannot be decoded.
    Binary(NString<'a>),
    /// `url-meta-body = "BODY" SP nstring`: the content as stored.
    Body(NString<'a>),
}

impl UrlFetchMetadata<'_> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> UrlFetchMetadata<'static> {
        match self {
            UrlFetchMetadata::BodyPartStructure(b) => {
                UrlFetchMetadata::BodyPartStructure(b.map(|b| Box::new(b.into_owned())))
            }
            UrlFetchMetadata::Binary(n) => UrlFetchMetadata::Binary(n.into_owned()),
            UrlFetchMetadata::Body(n) => UrlFetchMetadata::Body(n.into_owned()),
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

/// `url-metadata-el = url-meta-bodystruct / url-meta-body /
/// url-meta-binary`; `BODYPARTSTRUCTURE NIL` when the leniency allows it.
fn url_metadata_el<'a>(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, UrlFetchMetadata<'a>> {
    if let Ok((r, _)) = keyword("BODYPARTSTRUCTURE")(input) {
        let (r, _) = sp(r)?;
        if config.leniency.urlfetch_nil_structure && is_nil(r) {
            return Ok((&r[3..], UrlFetchMetadata::BodyPartStructure(None)));
        }
        let (r, body) = BodyStructure::parse(r, config, 0)?;
        return Ok((r, UrlFetchMetadata::BodyPartStructure(Some(Box::new(body)))));
    }
    if let Ok((r, _)) = keyword("BINARY")(input) {
        let (r, _) = sp(r)?;
        let (r, data) = nstring_or_literal8(r, config)?;
        return Ok((r, UrlFetchMetadata::Binary(data)));
    }
    if let Ok((r, _)) = keyword("BODY")(input) {
        let (r, _) = sp(r)?;
        let (r, data) = NString::parse(r, &config.leniency)?;
        return Ok((r, UrlFetchMetadata::Body(data)));
    }
    fail(input, "BODYPARTSTRUCTURE, BINARY or BODY")
}

/// The answer after `url-full SP`: the `nstring` of `urldata-simple` (or
/// a literal8), or `url-metadata = 1*(SP "(" url-metadata-el ")")` less
/// its first space. With `urlfetch_one_list`, a list may hold several
/// items (Dovecot's `"(" url-metadata-el *(SP url-metadata-el) ")"`); the
/// two shapes may then even be mixed. At most `limits.list` items in all.
fn url_fetch_answer<'a>(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, UrlFetchAnswer<'a>> {
    if input.first() != Some(&b'(') {
        let (r, data) = nstring_or_literal8(input, config)?;
        return Ok((r, UrlFetchAnswer::Plain(data)));
    }
    let one_list = config.leniency.urlfetch_one_list;
    let close = if one_list { "space or ')'" } else { "')'" };
    let mut items = Vec::new();
    // `rest` starts with the '(' of an item list.
    let mut rest = input;
    loop {
        let mut inner = &rest[1..];
        loop {
            if items.len() == config.limits.list {
                return too_many(inner, config.limits.list, "end of URLFETCH data");
            }
            let (r, item) = url_metadata_el(inner, config)?;
            items.push(item);
            match r.strip_prefix(b" ") {
                Some(next) if one_list => inner = next,
                _ => {
                    let (r, _) = byte(b')', close)(r)?;
                    rest = r;
                    break;
                }
            }
        }
        // A URL never starts with '(' (an astring cannot), so " (" is the
        // next item of this URL.
        match rest.strip_prefix(b" ") {
            Some(next) if next.first() == Some(&b'(') => rest = next,
            _ => return Ok((rest, UrlFetchAnswer::Extended(items))),
        }
    }
}

/// `GENURLAUTH 1*(SP url-full)` and `URLFETCH 1*(SP (urldata-simple /
/// urldata-ext))` response data, up to the line end; `None` when `input`
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
            let (r, data) = url_fetch_answer(r, config)?;
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
        match &item.data {
            // A literal8 as the decoder takes one (see the module).
            UrlFetchAnswer::Plain(data) => e.with_literal8(|e| data.encode(e)),
            UrlFetchAnswer::Extended(list) => {
                // `url-metadata = 1*(SP "(" url-metadata-el ")")`; the
                // first space is written above.
                for (i, m) in list.iter().enumerate() {
                    if i > 0 {
                        e.put(b" ");
                    }
                    e.put(b"(");
                    match m {
                        UrlFetchMetadata::BodyPartStructure(Some(b)) => {
                            e.put(b"BODYPARTSTRUCTURE ");
                            b.encode(e);
                        }
                        UrlFetchMetadata::BodyPartStructure(None) => e.put(b"BODYPARTSTRUCTURE NIL"),
                        UrlFetchMetadata::Binary(data) => {
                            e.put(b"BINARY ");
                            e.with_literal8(|e| data.encode(e));
                        }
                        UrlFetchMetadata::Body(data) => {
                            e.put(b"BODY ");
                            data.encode(e);
                        }
                    }
                    e.put(b")");
                }
            }
        }
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

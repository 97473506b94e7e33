//! IMAP URLs (RFC 5092), the values CATENATE (RFC 4469) and URLAUTH
//! (RFC 4467) carry in astrings: a validated [`ImapUrl`] that keeps the
//! text as it was sent (so it re-encodes byte for byte, in the same
//! astring form) and gives its parts, percent-decoded on request.
//!
//! ```text
//! imapurl          = "imap://" iserver ipath-query
//! relative-imap-url = inetwork-path / iabsolute-path / irelative-path
//! inetwork-path    = "//" iserver ipath-query
//! iabsolute-path   = "/" [ icommand ]
//! irelative-path   = imessagelist / imsg-or-part
//! imsg-or-part     = ( imailbox-ref "/" iuid-only ["/" isection-only]
//!                      ["/" ipartial-only] ) /
//!                    ( iuid-only ["/" isection-only] ["/" ipartial-only] ) /
//!                    ( isection-only ["/" ipartial-only] ) /
//!                    ipartial-only
//! iserver          = [iuserinfo "@"] host [ ":" port ]
//! iuserinfo        = enc-user [iauth] / [enc-user] iauth
//! iauth            = ";AUTH=" ( "*" / enc-auth-type )
//! ipath-query      = ["/" [ icommand ]]
//! icommand         = imessagelist / imessagepart [iurlauth]
//! imessagelist     = imailbox-ref [ "?" enc-search ]
//! imessagepart     = imailbox-ref iuid [isection] [ipartial]
//! imailbox-ref     = enc-mailbox [uidvalidity]
//! uidvalidity      = ";UIDVALIDITY=" nz-number
//! iuid             = "/" iuid-only
//! iuid-only        = ";UID=" nz-number
//! isection         = "/" isection-only
//! isection-only    = ";SECTION=" enc-section
//! ipartial         = "/" ipartial-only
//! ipartial-only    = ";PARTIAL=" partial-range
//! partial-range    = number [ "." nz-number ]
//! enc-mailbox / enc-section / enc-search = 1*bchar
//! bchar            = achar / ":" / "@" / "/"
//! achar            = uchar / "&" / "="
//! uchar            = unreserved / sub-delims-sh / pct-encoded
//! sub-delims-sh    = "!" / "$" / "'" / "(" / ")" / "*" / "+" / ","
//! iurlauth         = iurlauth-rump iua-verifier
//! iurlauth-rump    = [expire] ";URLAUTH=" access
//! iua-verifier     = ":" uauth-mechanism ":" enc-urlauth
//! access           = ("submit+" enc-user) / ("user+" enc-user) /
//!                    "authuser" / "anonymous"
//! expire           = ";EXPIRE=" date-time        ; RFC 3339
//! uauth-mechanism  = "INTERNAL" / 1*(ALPHA / DIGIT / "-" / ".")
//! enc-urlauth      = 32*HEXDIG
//! ```
//!
//! The `;NAME=` words are case-insensitive. `access` is read as an
//! application name with an optional `+` and user, which covers the four
//! forms above and the ones RFC 4467 leaves to later applications.

use std::borrow::Cow;
use std::num::NonZeroU32;

use crate::decode::DecoderConfig;
use crate::encode::Encoder;
use crate::parse::{PError, PResult};
use crate::string::{AString, TypeError};

/// Which of the forms of RFC 5092 a URL takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UrlForm {
    /// `imap://server/...`.
    Absolute,
    /// `//server/...`, relative to the scheme.
    NetworkPath,
    /// `/mailbox...`, relative to the server (what CATENATE sends).
    AbsolutePath,
    /// `mailbox...` or `;UID=...`, relative to a base URL.
    RelativePath,
}

/// `partial-range = number ["." nz-number]`: the first octet and, if
/// given, how many.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UrlPartial {
    /// Offset of the first octet.
    pub offset: u32,
    /// Number of octets; to the end when absent.
    pub length: Option<NonZeroU32>,
}

/// Byte range of a part in the URL text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Span(usize, usize);

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
struct Parts {
    user: Option<Span>,
    auth: Option<Span>,
    host: Option<Span>,
    port: Option<u16>,
    mailbox: Option<Span>,
    uid_validity: Option<NonZeroU32>,
    search: Option<Span>,
    uid: Option<NonZeroU32>,
    section: Option<Span>,
    partial: Option<UrlPartial>,
    expire: Option<Span>,
    access: Option<Span>,
    mechanism: Option<Span>,
    token: Option<Span>,
}

/// An IMAP URL (RFC 5092), absolute or relative, with URLAUTH parts
/// (RFC 4467). Holds the astring it travels in, as sent; the parts are
/// located when the value is made and decoded when asked for.
///
/// A URL with a URLAUTH verifier lets whoever holds it read the message,
/// so Debug output shows the token as `<redacted>`; the text itself is
/// [`ImapUrl::as_str`], named so that every use is visible in review.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ImapUrl<'a> {
    text: AString<'a>,
    form: UrlForm,
    /// Boxed: the spans of every part would make each value carrying a
    /// URL (CATENATE parts, URLFETCH data) several times larger.
    parts: Box<Parts>,
}

/// A failure at a position of the URL text.
type UrlError = (usize, &'static str);

impl<'a> ImapUrl<'a> {
    /// Validates `text` as an IMAP URL; it is sent in its cheapest astring
    /// form.
    pub fn new(text: impl Into<Cow<'a, str>>) -> Result<Self, TypeError> {
        let text = match text.into() {
            Cow::Borrowed(s) => AString::from_bytes(s.as_bytes()),
            Cow::Owned(s) => AString::from_bytes(s.into_bytes()),
        }
        .map_err(|e| TypeError {
            what: "IMAP URL",
            ..e
        })?;
        Self::from_astring(text)
    }

    /// Validates the content of an astring as an IMAP URL, keeping the
    /// astring's form (atom, quoted, literal) for encoding.
    pub fn from_astring(text: AString<'a>) -> Result<Self, TypeError> {
        match check(text.as_bytes()) {
            Ok((form, parts)) => Ok(ImapUrl {
                text,
                form,
                parts: Box::new(parts),
            }),
            Err((position, problem)) => Err(TypeError {
                what: "IMAP URL",
                problem,
                byte: text.as_bytes().get(position).copied(),
                position: Some(position),
            }),
        }
    }

    /// The URL text, as sent.
    pub fn as_str(&self) -> &str {
        // Validation admits ASCII only.
        std::str::from_utf8(self.text.as_bytes()).unwrap_or_default()
    }

    /// The astring the URL travels in.
    pub fn as_astring(&self) -> &AString<'a> {
        &self.text
    }

    /// Which form the URL takes.
    pub fn form(&self) -> UrlForm {
        self.form
    }

    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> ImapUrl<'static> {
        ImapUrl {
            text: self.text.into_owned(),
            form: self.form,
            parts: self.parts,
        }
    }

    fn part(&self, span: Option<Span>) -> Option<Cow<'_, [u8]>> {
        span.map(|Span(a, b)| percent_decode(&self.text.as_bytes()[a..b]))
    }

    fn raw(&self, span: Option<Span>) -> Option<&str> {
        span.map(|Span(a, b)| &self.as_str()[a..b])
    }

    /// The user (`enc-user` of `iserver`), percent-decoded.
    pub fn user(&self) -> Option<Cow<'_, [u8]>> {
        self.part(self.parts.user)
    }

    /// The SASL mechanism of `;AUTH=`, percent-decoded (`*` for any).
    pub fn auth_type(&self) -> Option<Cow<'_, [u8]>> {
        self.part(self.parts.auth)
    }

    /// The host, percent-decoded (an IP literal keeps its brackets).
    pub fn host(&self) -> Option<Cow<'_, [u8]>> {
        self.part(self.parts.host)
    }

    /// The port.
    pub fn port(&self) -> Option<u16> {
        self.parts.port
    }

    /// The mailbox name, percent-decoded: the bytes of the IMAP mailbox
    /// name (modified UTF-7 or UTF-8, as the server names it).
    pub fn mailbox(&self) -> Option<Cow<'_, [u8]>> {
        self.part(self.parts.mailbox)
    }

    /// `;UIDVALIDITY=`.
    pub fn uid_validity(&self) -> Option<NonZeroU32> {
        self.parts.uid_validity
    }

    /// The search program after `?`, percent-decoded.
    pub fn search(&self) -> Option<Cow<'_, [u8]>> {
        self.part(self.parts.search)
    }

    /// `;UID=`.
    pub fn uid(&self) -> Option<NonZeroU32> {
        self.parts.uid
    }

    /// The section after `;SECTION=`, percent-decoded (a `section-spec`
    /// such as `1.2.MIME`).
    pub fn section(&self) -> Option<Cow<'_, [u8]>> {
        self.part(self.parts.section)
    }

    /// `;PARTIAL=`.
    pub fn partial(&self) -> Option<UrlPartial> {
        self.parts.partial
    }

    /// The `date-time` of `;EXPIRE=` (RFC 3339 text).
    pub fn expire(&self) -> Option<&str> {
        self.raw(self.parts.expire)
    }

    /// The access identifier of `;URLAUTH=` (`submit+fred`, `anonymous`),
    /// as sent.
    pub fn access(&self) -> Option<&str> {
        self.raw(self.parts.access)
    }

    /// The mechanism of the URLAUTH verifier (`INTERNAL`).
    pub fn urlauth_mechanism(&self) -> Option<&str> {
        self.raw(self.parts.mechanism)
    }

    /// The token of the URLAUTH verifier, in hexadecimal.
    pub fn urlauth_token(&self) -> Option<&str> {
        self.raw(self.parts.token)
    }

    /// Whether the URL has `;URLAUTH=` without a verifier: a
    /// `authimapurlrump`, what GENURLAUTH takes.
    pub fn is_urlauth_rump(&self) -> bool {
        self.parts.access.is_some() && self.parts.mechanism.is_none()
    }

    pub(crate) fn encode<'e>(&'e self, e: &mut Encoder<'e>) {
        self.text.encode(e);
    }

    /// An astring holding an IMAP URL; an invalid URL fails at the byte
    /// that breaks it.
    pub(crate) fn parse(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, Self> {
        let (rest, text) = AString::parse(input, &config.leniency)?;
        match check(text.as_bytes()) {
            Ok((form, parts)) => Ok((
                rest,
                ImapUrl {
                    text,
                    form,
                    parts: Box::new(parts),
                },
            )),
            Err((position, expected)) => {
                // Where the content starts: after the quote, or at the
                // literal's data (which ends the astring).
                let consumed = input.len() - rest.len();
                let start = match &text {
                    AString::Atom(_) => 0,
                    AString::String(crate::string::IString::Quoted(_)) => 1,
                    AString::String(crate::string::IString::Literal(l)) => consumed - l.data().len(),
                };
                let at = (start + position).min(consumed);
                Err(nom::Err::Error(PError::at(&input[at..], expected)))
            }
        }
    }
}

impl<'a> TryFrom<&'a str> for ImapUrl<'a> {
    type Error = TypeError;
    fn try_from(value: &'a str) -> Result<Self, TypeError> {
        ImapUrl::new(value)
    }
}

impl std::fmt::Debug for ImapUrl<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = self.as_str();
        match self.parts.token {
            Some(Span(a, b)) => write!(f, "ImapUrl({}<redacted>{})", &text[..a], &text[b..]),
            None => write!(f, "ImapUrl({text})"),
        }
    }
}

/// `%XX` escapes replaced by their octets; borrowed when there is none.
fn percent_decode(bytes: &[u8]) -> Cow<'_, [u8]> {
    if memchr::memchr(b'%', bytes).is_none() {
        return Cow::Borrowed(bytes);
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match (
            b,
            bytes.get(i + 1).and_then(|&h| hex(h)),
            bytes.get(i + 2).and_then(|&l| hex(l)),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push(h << 4 | l);
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    Cow::Owned(out)
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// `unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~"` (RFC 3986).
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// `uchar` without `pct-encoded`.
fn is_uchar(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'!' | b'$' | b'\'' | b'(' | b')' | b'*' | b'+' | b',')
}

/// `achar` without `pct-encoded`.
fn is_achar(b: u8) -> bool {
    is_uchar(b) || b == b'&' || b == b'='
}

/// `bchar` without `pct-encoded`.
fn is_bchar(b: u8) -> bool {
    is_achar(b) || matches!(b, b':' | b'@' | b'/')
}

/// `reg-name` characters of RFC 3986 without `pct-encoded`.
fn is_reg_name(b: u8) -> bool {
    is_unreserved(b) || b"!$&'()*+,;=".contains(&b)
}

/// `uauth-mechanism` characters.
fn is_mechanism(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'.'
}

/// The end of a run of `class` characters and `%XX` escapes from `at`;
/// `%00` is refused (no IMAP name or section holds NUL).
fn run(t: &[u8], mut at: usize, class: fn(u8) -> bool) -> Result<usize, UrlError> {
    while let Some(&b) = t.get(at) {
        if b == b'%' {
            match (
                t.get(at + 1).and_then(|&h| hex(h)),
                t.get(at + 2).and_then(|&l| hex(l)),
            ) {
                (Some(0), Some(0)) => return Err((at, "percent escape other than %00")),
                (Some(_), Some(_)) => at += 3,
                _ => return Err((at, "two hex digits after '%'")),
            }
        } else if class(b) {
            at += 1;
        } else {
            break;
        }
    }
    Ok(at)
}

/// A non-empty run, or `expected` at `at`.
fn run1(t: &[u8], at: usize, class: fn(u8) -> bool, expected: &'static str) -> Result<usize, UrlError> {
    let end = run(t, at, class)?;
    if end == at {
        return Err((at, expected));
    }
    Ok(end)
}

/// `word` (case-insensitive) at `at`: the position after it.
fn word(t: &[u8], at: usize, word: &str) -> Option<usize> {
    let w = word.as_bytes();
    let end = at.checked_add(w.len())?;
    t.get(at..end).filter(|s| s.eq_ignore_ascii_case(w)).map(|_| end)
}

/// `number` as a u32, up to the first non-digit.
fn digits(t: &[u8], at: usize) -> Result<(usize, u32), UrlError> {
    let n = t[at.min(t.len())..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    if n == 0 {
        return Err((at, "number"));
    }
    let mut v: u32 = 0;
    for &d in &t[at..at + n] {
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add(u32::from(d - b'0')))
            .ok_or((at, "32-bit number"))?;
    }
    Ok((at + n, v))
}

/// `nz-number`.
fn nz(t: &[u8], at: usize) -> Result<(usize, NonZeroU32), UrlError> {
    if t.get(at) == Some(&b'0') {
        return Err((at, "digit 1-9"));
    }
    let (end, v) = digits(t, at)?;
    Ok((end, NonZeroU32::new(v).ok_or((at, "number from 1"))?))
}

/// The whole URL: its form and where its parts are.
fn check(t: &[u8]) -> Result<(UrlForm, Parts), UrlError> {
    let mut p = Parts::default();
    let (form, at) = if let Some(at) = word(t, 0, "imap://") {
        (UrlForm::Absolute, path_query(t, server(t, at, &mut p)?, &mut p)?)
    } else if t.starts_with(b"//") {
        (
            UrlForm::NetworkPath,
            path_query(t, server(t, 2, &mut p)?, &mut p)?,
        )
    } else if t.first() == Some(&b'/') {
        let at = if t.len() > 1 { command(t, 1, &mut p)? } else { 1 };
        (UrlForm::AbsolutePath, at)
    } else if t.is_empty() {
        return Err((0, "IMAP URL"));
    } else {
        (UrlForm::RelativePath, relative(t, &mut p)?)
    };
    if at != t.len() {
        return Err((at, "end of URL"));
    }
    Ok((form, p))
}

/// `iserver = [iuserinfo "@"] host [":" port]`.
fn server(t: &[u8], at: usize, p: &mut Parts) -> Result<usize, UrlError> {
    let end = t[at..]
        .iter()
        .position(|&b| b == b'/')
        .map_or(t.len(), |i| at + i);
    let mut at = at;
    if let Some(i) = t[at..end].iter().rposition(|&b| b == b'@') {
        let info_end = at + i;
        let user_end = run(t, at, is_achar)?;
        if user_end > at {
            p.user = Some(Span(at, user_end));
        }
        let mut i = user_end;
        if let Some(a) = word(t, i, ";AUTH=") {
            i = if t.get(a) == Some(&b'*') {
                a + 1
            } else {
                run1(t, a, is_achar, "SASL mechanism or '*'")?
            };
            p.auth = Some(Span(a, i));
        }
        if i == at {
            return Err((at, "user or ;AUTH="));
        }
        if i != info_end {
            return Err((i, "'@'"));
        }
        at = info_end + 1;
    }
    let host_end = if t.get(at) == Some(&b'[') {
        let close = t[at..end].iter().position(|&b| b == b']').ok_or((end, "']'"))?;
        let inner = &t[at + 1..at + close];
        if inner.is_empty()
            || !inner
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || b".:".contains(&b))
        {
            return Err((at + 1, "IP literal"));
        }
        at + close + 1
    } else {
        run1(t, at, is_reg_name, "host")?
    };
    p.host = Some(Span(at, host_end));
    let mut at = host_end;
    if t.get(at) == Some(&b':') {
        let (e, port) = digits(t, at + 1)?;
        p.port = Some(u16::try_from(port).map_err(|_| (at + 1, "port up to 65535"))?);
        at = e;
    }
    Ok(at)
}

/// `ipath-query = ["/" [icommand]]`.
fn path_query(t: &[u8], at: usize, p: &mut Parts) -> Result<usize, UrlError> {
    match t.get(at) {
        None => Ok(at),
        Some(b'/') if at + 1 == t.len() => Ok(at + 1),
        Some(b'/') => command(t, at + 1, p),
        Some(_) => Err((at, "'/'")),
    }
}

/// `icommand = imessagelist / imessagepart [iurlauth]`.
fn command(t: &[u8], at: usize, p: &mut Parts) -> Result<usize, UrlError> {
    let at = mailbox_ref(t, at, p)?;
    if let Some(a) = word(t, at, "/;UID=") {
        let at = message_part(t, a, p)?;
        return urlauth(t, at, p);
    }
    if t.get(at) == Some(&b'?') {
        let end = run1(t, at + 1, is_bchar, "search program")?;
        p.search = Some(Span(at + 1, end));
        return Ok(end);
    }
    Ok(at)
}

/// `imailbox-ref = enc-mailbox [uidvalidity]`. A `/` that ends the name
/// and comes before `;UID=` belongs to `iuid`.
fn mailbox_ref(t: &[u8], at: usize, p: &mut Parts) -> Result<usize, UrlError> {
    let mut end = run1(t, at, is_bchar, "mailbox name")?;
    if end > at + 1 && t[end - 1] == b'/' && word(t, end, ";UID=").is_some() {
        end -= 1;
    }
    p.mailbox = Some(Span(at, end));
    if let Some(a) = word(t, end, ";UIDVALIDITY=") {
        let (e, v) = nz(t, a)?;
        p.uid_validity = Some(v);
        return Ok(e);
    }
    Ok(end)
}

/// After `;UID=`: `nz-number [isection] [ipartial]`.
fn message_part(t: &[u8], at: usize, p: &mut Parts) -> Result<usize, UrlError> {
    let (at, uid) = nz(t, at)?;
    p.uid = Some(uid);
    match word(t, at, "/;SECTION=") {
        Some(a) => section(t, a, p),
        None => partial_after(t, at, p),
    }
}

/// After `;SECTION=`: `enc-section [ipartial]`. A `/` that ends the
/// section and comes before `;PARTIAL=` belongs to `ipartial`.
fn section(t: &[u8], at: usize, p: &mut Parts) -> Result<usize, UrlError> {
    let mut end = run1(t, at, is_bchar, "section")?;
    if end > at + 1 && t[end - 1] == b'/' && word(t, end, ";PARTIAL=").is_some() {
        end -= 1;
    }
    p.section = Some(Span(at, end));
    partial_after(t, end, p)
}

/// `[ipartial]`.
fn partial_after(t: &[u8], at: usize, p: &mut Parts) -> Result<usize, UrlError> {
    match word(t, at, "/;PARTIAL=") {
        Some(a) => partial(t, a, p),
        None => Ok(at),
    }
}

/// `partial-range = number ["." nz-number]`.
fn partial(t: &[u8], at: usize, p: &mut Parts) -> Result<usize, UrlError> {
    let (mut at, offset) = digits(t, at)?;
    let mut length = None;
    if t.get(at) == Some(&b'.') {
        let (e, n) = nz(t, at + 1)?;
        length = Some(n);
        at = e;
    }
    p.partial = Some(UrlPartial { offset, length });
    Ok(at)
}

/// `irelative-path = imessagelist / imsg-or-part`.
fn relative(t: &[u8], p: &mut Parts) -> Result<usize, UrlError> {
    if let Some(a) = word(t, 0, ";UID=") {
        return message_part(t, a, p);
    }
    if let Some(a) = word(t, 0, ";SECTION=") {
        return section(t, a, p);
    }
    if let Some(a) = word(t, 0, ";PARTIAL=") {
        return partial(t, a, p);
    }
    command(t, 0, p)
}

/// `[iurlauth]`: `[";EXPIRE=" date-time] ";URLAUTH=" access [":"
/// uauth-mechanism ":" enc-urlauth]`.
fn urlauth(t: &[u8], at: usize, p: &mut Parts) -> Result<usize, UrlError> {
    let mut at = at;
    if let Some(a) = word(t, at, ";EXPIRE=") {
        let end = t[a..].iter().position(|&b| b == b';').map_or(t.len(), |i| a + i);
        check_date_time(&t[a..end]).map_err(|i| (a + i, "RFC 3339 date-time"))?;
        p.expire = Some(Span(a, end));
        at = end;
        if word(t, at, ";URLAUTH=").is_none() {
            return Err((at, ";URLAUTH="));
        }
    }
    let Some(a) = word(t, at, ";URLAUTH=") else {
        return Ok(at);
    };
    let mut end = run1(t, a, is_mechanism, "access identifier")?;
    if t.get(end) == Some(&b'+') {
        end = run1(t, end + 1, is_achar, "user after '+'")?;
    }
    p.access = Some(Span(a, end));
    if t.get(end) != Some(&b':') {
        return Ok(end);
    }
    let m = end + 1;
    let m_end = run1(
        t,
        m,
        |b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.',
        "URLAUTH mechanism",
    )?;
    // run1 admits escapes; a mechanism has none.
    if t[m..m_end].contains(&b'%') {
        return Err((m, "URLAUTH mechanism"));
    }
    p.mechanism = Some(Span(m, m_end));
    if t.get(m_end) != Some(&b':') {
        return Err((m_end, "':' and URLAUTH token"));
    }
    let k = m_end + 1;
    let k_end = k + t[k..].iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if k_end - k < 32 {
        return Err((k, "URLAUTH token of 32 hex digits or more"));
    }
    p.token = Some(Span(k, k_end));
    Ok(k_end)
}

/// RFC 3339 `date-time = full-date "T" full-time`, `full-time =
/// partial-time time-offset`; the position of the first wrong byte.
fn check_date_time(d: &[u8]) -> Result<(), usize> {
    const SHAPE: &[u8] = b"dddd-dd-ddTdd:dd:dd";
    for (i, &s) in SHAPE.iter().enumerate() {
        let ok = match (s, d.get(i)) {
            (b'd', Some(b)) => b.is_ascii_digit(),
            (b'T', Some(b)) => b.eq_ignore_ascii_case(&b'T'),
            (c, Some(&b)) => b == c,
            (_, None) => false,
        };
        if !ok {
            return Err(i);
        }
    }
    let mut i = SHAPE.len();
    if d.get(i) == Some(&b'.') {
        let n = d[i + 1..].iter().take_while(|b| b.is_ascii_digit()).count();
        if n == 0 {
            return Err(i + 1);
        }
        i += 1 + n;
    }
    match d.get(i) {
        Some(b'Z' | b'z') if i + 1 == d.len() => Ok(()),
        Some(b'+' | b'-') => {
            let o = &d[i + 1..];
            let shape_ok = o.len() == 5
                && o[..2].iter().all(u8::is_ascii_digit)
                && o[2] == b':'
                && o[3..].iter().all(u8::is_ascii_digit);
            if shape_ok { Ok(()) } else { Err(i + 1) }
        }
        _ => Err(i),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_of_absolute_and_relative_urls() {
        let u = ImapUrl::new("imap://joe%40x@example.com:143/INBOX/;uid=20/;section=1.2/;PARTIAL=0.1024")
            .unwrap();
        assert_eq!(u.form(), UrlForm::Absolute);
        assert_eq!(u.user().unwrap().as_ref(), b"joe@x");
        assert_eq!(u.host().unwrap().as_ref(), b"example.com");
        assert_eq!(u.port(), Some(143));
        assert_eq!(u.mailbox().unwrap().as_ref(), b"INBOX");
        assert_eq!(u.uid(), NonZeroU32::new(20));
        assert_eq!(u.section().unwrap().as_ref(), b"1.2");
        assert_eq!(
            u.partial(),
            Some(UrlPartial {
                offset: 0,
                length: NonZeroU32::new(1024)
            })
        );
        let u = ImapUrl::new("/Drafts;UIDVALIDITY=385759045/;UID=20/;section=HEADER").unwrap();
        assert_eq!(u.form(), UrlForm::AbsolutePath);
        assert_eq!(u.mailbox().unwrap().as_ref(), b"Drafts");
        assert_eq!(u.uid_validity(), NonZeroU32::new(385759045));
        let u = ImapUrl::new(";UID=7/;SECTION=2").unwrap();
        assert_eq!(
            (u.form(), u.uid(), u.mailbox()),
            (UrlForm::RelativePath, NonZeroU32::new(7), None)
        );
        let u = ImapUrl::new("imap://;AUTH=*@h/a%2Fb%20c?SUBJECT%20x").unwrap();
        assert_eq!(u.auth_type().unwrap().as_ref(), b"*");
        assert_eq!(u.mailbox().unwrap().as_ref(), b"a/b c");
        assert_eq!(u.search().unwrap().as_ref(), b"SUBJECT x");
        let u = ImapUrl::new("imap://h").unwrap();
        assert_eq!((u.host().unwrap().as_ref(), u.mailbox()), (&b"h"[..], None));
        assert!(ImapUrl::new("imap://[::1]:993/").is_ok());
    }

    #[test]
    fn urlauth_parts() {
        let u = ImapUrl::new(
            "imap://joe@example.com/INBOX/;uid=20/;section=1.2;EXPIRE=2006-04-01T09:00:00-08:00;urlauth=submit+fred:internal:91354a473744909de610943775f92038",
        )
        .unwrap();
        assert_eq!(u.expire(), Some("2006-04-01T09:00:00-08:00"));
        assert_eq!(u.access(), Some("submit+fred"));
        assert_eq!(u.urlauth_mechanism(), Some("internal"));
        assert_eq!(u.urlauth_token(), Some("91354a473744909de610943775f92038"));
        assert!(!u.is_urlauth_rump());
        let debug = format!("{u:?}");
        assert!(
            debug.contains(":internal:<redacted>") && !debug.contains("91354a"),
            "{debug}"
        );
        assert!(
            ImapUrl::new("imap://joe@example.com/INBOX/;uid=20;urlauth=anonymous")
                .unwrap()
                .is_urlauth_rump()
        );
    }

    #[test]
    fn rejections_name_the_position() {
        for (text, position) in [
            ("", 0),
            ("/a%2", 2),
            ("/a%zz", 2),
            ("/a%00", 2),
            ("/INBOX;UIDVALIDITY=0", 19),
            ("/INBOX/;UID=", 12),
            ("/INBOX/;UID=1/;SECTION=", 23),
            ("/INBOX/;UID=1/;PARTIAL=1.0", 25),
            ("imap://", 7),
            ("imap://h:99999/", 9),
            ("imap://h/a b", 10),
            ("imap://h/a;UID=1", 10),
            ("/x/;UID=1;URLAUTH=anonymous:internal:abc", 37),
            ("/x/;UID=1;EXPIRE=2006-04-01;URLAUTH=anonymous", 27),
            ("/x/;UID=1;EXPIRE=2006-04-01T09:00:00Z", 37),
        ] {
            let e = ImapUrl::new(text).unwrap_err();
            assert_eq!(e.position, Some(position), "{text:?}: {e}");
        }
    }
}

//! POP3 responses: decoding (client side) and encoding (server side).
//!
//! ```text
//! single-line = status [SP text] CRLF            ; RFC 2449 section 3
//! multi-line  = single-line *dot-stuffed "." CRLF
//! status      = "+OK" / "-ERR"
//! text        = *schar / resp-code *CHAR
//! resp-code   = "[" resp-level *("/" resp-level) "]"
//! resp-level  = 1*rchar
//! greeting    = "+OK" [resp-code] *gchar [timestamp] *gchar CRLF
//! ```
//!
//! Which form a response takes depends on the command it answers, so the
//! decoder is told what to [`Expect`].

use std::borrow::Cow;

use bytes::BufMut;
use nom::Parser;
use nom::bytes::complete::{tag, take_while1};
use nom::multi::separated_list1;
use nom::sequence::delimited;

use crate::body::Body;
use crate::capability::{Capability, parse_capability};
use crate::command::{Command, as_ascii};
use crate::decode::{DecodeError, Decoded, DecoderConfig, ErrorKind, Line, find_line, parse_u64, put_u64};
use crate::types::{LanguageTag, MessageNumber, SaslData, Text, Timestamp, UniqueId};

/// `+OK` or `-ERR`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// `+OK`.
    Ok,
    /// `-ERR`.
    Err,
}

/// An extended response code (RFC 2449 section 8, RFC 3206, RFC 6856).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ResponseCode<'a> {
    /// `[IN-USE]`: the maildrop is locked by another session.
    InUse,
    /// `[LOGIN-DELAY]`: the user logged in too recently.
    LoginDelay,
    /// `[SYS/TEMP]`: a transient system failure (RFC 3206).
    SysTemp,
    /// `[SYS/PERM]`: a permanent system failure (RFC 3206).
    SysPerm,
    /// `[AUTH]`: the credentials are wrong (RFC 3206).
    Auth,
    /// `[UTF8]`: the message needs UTF-8 mode (RFC 6856 section 5).
    Utf8,
    /// Any other code, kept as sent; [`ResponseCode::levels`] splits its
    /// hierarchy at `/`.
    Other(Cow<'a, str>),
}

impl ResponseCode<'_> {
    /// The code as sent, without brackets.
    pub fn as_str(&self) -> &str {
        match self {
            ResponseCode::InUse => "IN-USE",
            ResponseCode::LoginDelay => "LOGIN-DELAY",
            ResponseCode::SysTemp => "SYS/TEMP",
            ResponseCode::SysPerm => "SYS/PERM",
            ResponseCode::Auth => "AUTH",
            ResponseCode::Utf8 => "UTF8",
            ResponseCode::Other(s) => s,
        }
    }

    /// The levels of the hierarchy, outermost first: `SYS/TEMP` gives
    /// `SYS`, `TEMP`.
    pub fn levels(&self) -> impl Iterator<Item = &str> {
        self.as_str().split('/')
    }

    /// Converts to an owned value.
    pub fn into_owned(self) -> ResponseCode<'static> {
        match self {
            ResponseCode::InUse => ResponseCode::InUse,
            ResponseCode::LoginDelay => ResponseCode::LoginDelay,
            ResponseCode::SysTemp => ResponseCode::SysTemp,
            ResponseCode::SysPerm => ResponseCode::SysPerm,
            ResponseCode::Auth => ResponseCode::Auth,
            ResponseCode::Utf8 => ResponseCode::Utf8,
            ResponseCode::Other(s) => ResponseCode::Other(Cow::Owned(s.into_owned())),
        }
    }

    /// A code from its text (without brackets); well-known codes become
    /// their variants. `None` if it is not `resp-level *("/" resp-level)`.
    pub fn parse(code: &str) -> Option<ResponseCode<'_>> {
        let bytes = code.as_bytes();
        if bytes.is_empty() || !bytes.iter().all(|&b| is_rchar(b) || b == b'/') {
            return None;
        }
        if bytes.split(|&b| b == b'/').any(<[u8]>::is_empty) {
            return None;
        }
        let eq = |s: &str| code.eq_ignore_ascii_case(s);
        Some(if eq("IN-USE") {
            ResponseCode::InUse
        } else if eq("LOGIN-DELAY") {
            ResponseCode::LoginDelay
        } else if eq("SYS/TEMP") {
            ResponseCode::SysTemp
        } else if eq("SYS/PERM") {
            ResponseCode::SysPerm
        } else if eq("AUTH") {
            ResponseCode::Auth
        } else if eq("UTF8") {
            ResponseCode::Utf8
        } else {
            ResponseCode::Other(Cow::Borrowed(code))
        })
    }
}

/// `rchar = %x21-2E / %x30-5C / %x5E-7F`, "printable ASCII, excluding "/"
/// and "]"" in the words of RFC 2449; DEL (0x7F) is left out as the words
/// say, since it is not printable.
fn is_rchar(b: u8) -> bool {
    (0x21..=0x7E).contains(&b) && b != b'/' && b != b']'
}

/// A status line: `+OK` or `-ERR`, an optional response code and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusLine<'a> {
    /// `+OK` or `-ERR`.
    pub status: Status,
    /// The extended response code, if any.
    pub code: Option<ResponseCode<'a>>,
    /// The human-readable text after the code (may be empty).
    pub text: Text<'a>,
}

impl<'a> StatusLine<'a> {
    /// `+OK text`.
    pub fn ok(text: &'a str) -> Self {
        StatusLine {
            status: Status::Ok,
            code: None,
            text: Text::new(text.as_bytes()).unwrap_or(Text::EMPTY),
        }
    }

    /// `-ERR text`.
    pub fn err(text: &'a str) -> Self {
        StatusLine {
            status: Status::Err,
            ..StatusLine::ok(text)
        }
    }

    /// `-ERR [code] text`.
    pub fn err_with(code: ResponseCode<'a>, text: &'a str) -> Self {
        StatusLine {
            code: Some(code),
            ..StatusLine::err(text)
        }
    }

    /// Whether the status is `+OK`.
    pub fn is_ok(&self) -> bool {
        self.status == Status::Ok
    }

    /// The APOP timestamp in the text of a greeting (RFC 1939 section 7):
    /// the first `<...>` that holds an `@`.
    pub fn apop_timestamp(&self) -> Option<Timestamp<'_>> {
        let text = self.text.as_bytes();
        let mut from = 0;
        while let Some(open) = memchr::memchr(b'<', &text[from..]).map(|i| from + i) {
            let close = memchr::memchr(b'>', &text[open..]).map(|i| open + i)?;
            let candidate = &text[open..=close];
            if Timestamp::validate(candidate).is_ok() {
                return Some(Timestamp::unchecked(as_ascii(candidate)));
            }
            from = open + 1;
        }
        None
    }

    /// Converts to an owned value.
    pub fn into_owned(self) -> StatusLine<'static> {
        StatusLine {
            status: self.status,
            code: self.code.map(ResponseCode::into_owned),
            text: self.text.into_owned(),
        }
    }

    /// Writes the line, CRLF included.
    pub fn encode(&self, out: &mut impl BufMut) {
        self.encode_head(out);
        if !self.text.is_empty() {
            if self.code.is_some() {
                out.put_u8(b' ');
            }
            out.put_slice(self.text.as_bytes());
        }
        out.put_slice(b"\r\n");
    }

    /// `+OK` or `-ERR`, a space, and the code with a space after it.
    fn encode_head(&self, out: &mut impl BufMut) {
        out.put_slice(match self.status {
            Status::Ok => b"+OK",
            Status::Err => b"-ERR",
        });
        if self.code.is_some() || !self.text.is_empty() {
            out.put_u8(b' ');
        }
        if let Some(code) = &self.code {
            out.put_u8(b'[');
            out.put_slice(code.as_str().as_bytes());
            out.put_u8(b']');
        }
    }
}

/// The answer to STAT: `+OK nn mm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// Messages in the maildrop, deleted ones excluded.
    pub count: u32,
    /// Their total size in octets.
    pub size: u64,
}

/// A scan listing of LIST: message number and exact size in octets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanListing {
    /// The message.
    pub message: MessageNumber,
    /// Its size in octets.
    pub size: u64,
}

/// A unique-id listing of UIDL: message number and unique id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UniqueIdListing<'a> {
    /// The message.
    pub message: MessageNumber,
    /// Its unique id.
    pub unique_id: UniqueId<'a>,
}

/// A language listing of LANG (RFC 6856 section 3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Language<'a> {
    /// The language tag.
    pub tag: LanguageTag<'a>,
    /// Its name in itself, UTF-8, possibly empty.
    pub description: Text<'a>,
}

/// What kind of response a client expects next; it depends on the command
/// sent (see [`Expect::for_command`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Expect {
    /// The greeting at connection start.
    Greeting,
    /// A single status line.
    Status,
    /// `+OK nn mm` (STAT).
    Stat,
    /// `+OK msg size` (LIST msg).
    ScanListing,
    /// A multi-line list of scan listings (LIST).
    ScanListings,
    /// `+OK msg unique-id` (UIDL msg).
    UniqueIdListing,
    /// A multi-line list of unique-id listings (UIDL).
    UniqueIdListings,
    /// A multi-line list of capabilities (CAPA).
    Capabilities,
    /// A multi-line list of languages (LANG without argument).
    Languages,
    /// A multi-line message body (RETR, TOP).
    Message,
    /// A SASL challenge `+ base64` or a final status line (AUTH).
    Sasl,
}

impl Expect {
    /// The response form that answers `command`.
    pub fn for_command(command: &Command<'_>) -> Expect {
        match command {
            Command::Stat => Expect::Stat,
            Command::List(Some(_)) => Expect::ScanListing,
            Command::List(None) => Expect::ScanListings,
            Command::Uidl(Some(_)) => Expect::UniqueIdListing,
            Command::Uidl(None) => Expect::UniqueIdListings,
            Command::Capa => Expect::Capabilities,
            Command::Lang(None) => Expect::Languages,
            Command::Retr(_) | Command::Top { .. } => Expect::Message,
            Command::Auth { .. } => Expect::Sasl,
            Command::User(_)
            | Command::Pass(_)
            | Command::Apop { .. }
            | Command::Dele(_)
            | Command::Noop
            | Command::Rset
            | Command::Quit
            | Command::Stls
            | Command::Utf8
            | Command::Lang(Some(_)) => Expect::Status,
        }
    }

    /// Whether a `+OK` answer is followed by a multi-line block.
    pub fn is_multi_line(self) -> bool {
        matches!(
            self,
            Expect::ScanListings
                | Expect::UniqueIdListings
                | Expect::Capabilities
                | Expect::Languages
                | Expect::Message
        )
    }
}

/// A decoded or to-be-encoded response.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Response<'a> {
    /// A plain status line: any `-ERR`, the greeting, and `+OK` answers
    /// that carry no data.
    Status(StatusLine<'a>),
    /// `+OK nn mm`.
    Stat(Stat),
    /// `+OK msg size`.
    ScanListing(ScanListing),
    /// `+OK ...` then scan listings.
    ScanListings {
        /// The `+OK` line.
        status: StatusLine<'a>,
        /// The listings, in order.
        listings: Vec<ScanListing>,
    },
    /// `+OK msg unique-id`.
    UniqueIdListing(UniqueIdListing<'a>),
    /// `+OK ...` then unique-id listings.
    UniqueIdListings {
        /// The `+OK` line.
        status: StatusLine<'a>,
        /// The listings, in order.
        listings: Vec<UniqueIdListing<'a>>,
    },
    /// `+OK ...` then capabilities.
    Capabilities {
        /// The `+OK` line.
        status: StatusLine<'a>,
        /// The capabilities, in order.
        capabilities: Vec<Capability<'a>>,
    },
    /// `+OK ...` then language listings.
    Languages {
        /// The `+OK` line.
        status: StatusLine<'a>,
        /// The languages, in order.
        languages: Vec<Language<'a>>,
    },
    /// `+OK ...` then a whole message body (RETR, TOP). Large bodies are
    /// better decoded with [`crate::BodyDecoder`] after the status line.
    Message {
        /// The `+OK` line.
        status: StatusLine<'a>,
        /// The body.
        body: Body<'a>,
    },
    /// `+ base64`: a SASL challenge (RFC 5034 section 4).
    Continuation(SaslData<'a>),
}

impl Response<'_> {
    /// Converts to an owned value.
    pub fn into_owned(self) -> Response<'static> {
        match self {
            Response::Status(s) => Response::Status(s.into_owned()),
            Response::Stat(s) => Response::Stat(s),
            Response::ScanListing(s) => Response::ScanListing(s),
            Response::ScanListings { status, listings } => Response::ScanListings {
                status: status.into_owned(),
                listings,
            },
            Response::UniqueIdListing(u) => Response::UniqueIdListing(UniqueIdListing {
                message: u.message,
                unique_id: u.unique_id.into_owned(),
            }),
            Response::UniqueIdListings { status, listings } => Response::UniqueIdListings {
                status: status.into_owned(),
                listings: listings
                    .into_iter()
                    .map(|u| UniqueIdListing {
                        message: u.message,
                        unique_id: u.unique_id.into_owned(),
                    })
                    .collect(),
            },
            Response::Capabilities { status, capabilities } => Response::Capabilities {
                status: status.into_owned(),
                capabilities: capabilities.into_iter().map(Capability::into_owned).collect(),
            },
            Response::Languages { status, languages } => Response::Languages {
                status: status.into_owned(),
                languages: languages
                    .into_iter()
                    .map(|l| Language {
                        tag: l.tag.into_owned(),
                        description: l.description.into_owned(),
                    })
                    .collect(),
            },
            Response::Message { status, body } => Response::Message {
                status: status.into_owned(),
                body: body.into_owned(),
            },
            Response::Continuation(d) => Response::Continuation(d.into_owned()),
        }
    }

    /// Writes the response, terminator included.
    pub fn encode(&self, out: &mut impl BufMut) {
        match self {
            Response::Status(s) => s.encode(out),
            Response::Stat(s) => {
                out.put_slice(b"+OK ");
                put_u64(out, u64::from(s.count));
                out.put_u8(b' ');
                put_u64(out, s.size);
                out.put_slice(b"\r\n");
            }
            Response::ScanListing(s) => {
                out.put_slice(b"+OK ");
                encode_scan(s, out);
            }
            Response::ScanListings { status, listings } => {
                status.encode(out);
                for s in listings {
                    encode_scan(s, out);
                }
                out.put_slice(b".\r\n");
            }
            Response::UniqueIdListing(u) => {
                out.put_slice(b"+OK ");
                encode_uidl(u, out);
            }
            Response::UniqueIdListings { status, listings } => {
                status.encode(out);
                for u in listings {
                    encode_uidl(u, out);
                }
                out.put_slice(b".\r\n");
            }
            Response::Capabilities { status, capabilities } => {
                status.encode(out);
                for c in capabilities {
                    c.encode(out);
                }
                out.put_slice(b".\r\n");
            }
            Response::Languages { status, languages } => {
                status.encode(out);
                for l in languages {
                    out.put_slice(l.tag.as_str().as_bytes());
                    if !l.description.is_empty() {
                        out.put_u8(b' ');
                        out.put_slice(l.description.as_bytes());
                    }
                    out.put_slice(b"\r\n");
                }
                out.put_slice(b".\r\n");
            }
            Response::Message { status, body } => {
                status.encode(out);
                out.put_slice(body.wire());
                out.put_slice(b".\r\n");
            }
            Response::Continuation(d) => {
                out.put_slice(b"+ ");
                out.put_slice(d.as_str().as_bytes());
                out.put_slice(b"\r\n");
            }
        }
    }

    /// The encoded response in a new buffer.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.encode(&mut v);
        v
    }
}

pub(crate) fn encode_scan(s: &ScanListing, out: &mut impl BufMut) {
    put_u64(out, u64::from(s.message.get()));
    out.put_u8(b' ');
    put_u64(out, s.size);
    out.put_slice(b"\r\n");
}

pub(crate) fn encode_uidl(u: &UniqueIdListing<'_>, out: &mut impl BufMut) {
    put_u64(out, u64::from(u.message.get()));
    out.put_u8(b' ');
    out.put_slice(u.unique_id.as_str().as_bytes());
    out.put_slice(b"\r\n");
}

/// Decodes a status line's content (without CRLF).
///
/// Text that starts with `[` is a response code only if it is a
/// well-formed `resp-code`; otherwise strict mode fails and lenient mode
/// keeps it as text.
pub fn parse_status_line<'a>(line: &'a [u8], config: &DecoderConfig) -> Result<StatusLine<'a>, DecodeError> {
    let lenient = config.leniency;
    let (status, len) = if line.starts_with(b"+OK") {
        (Status::Ok, 3)
    } else if line.starts_with(b"-ERR") {
        (Status::Err, 4)
    } else if lenient.status_case && line.len() >= 3 && line[..3].eq_ignore_ascii_case(b"+OK") {
        (Status::Ok, 3)
    } else if lenient.status_case && line.len() >= 4 && line[..4].eq_ignore_ascii_case(b"-ERR") {
        (Status::Err, 4)
    } else {
        return Err(DecodeError::syntax(line, 0, "\"+OK\" or \"-ERR\""));
    };
    let mut at = len;
    match line.get(at) {
        None => {}
        Some(b' ') => at += 1,
        // Some servers omit the space before a response code or text.
        Some(_) if lenient.extra_spaces => {}
        Some(_) => return Err(DecodeError::syntax(line, at, "space")),
    }
    let mut rest = &line[at..];
    let mut code = None;
    if rest.first() == Some(&b'[') {
        let parsed: nom::IResult<&[u8], Vec<&[u8]>> = delimited(
            tag(&b"["[..]),
            separated_list1(tag(&b"/"[..]), take_while1(is_rchar)),
            tag(&b"]"[..]),
        )
        .parse(rest);
        match parsed {
            Ok((after, _)) if after.is_empty() || after[0] == b' ' || lenient.extra_spaces => {
                let inner = &rest[1..rest.len() - after.len() - 1];
                code = ResponseCode::parse(as_ascii(inner));
                rest = after.strip_prefix(b" ").unwrap_or(after);
                at = line.len() - rest.len();
            }
            _ if lenient.malformed_response_code => {}
            _ => return Err(DecodeError::syntax(line, at, "response code")),
        }
    }
    Text::validate(rest).map_err(|e| DecodeError::syntax(line, at + e.position.unwrap_or(0), "text"))?;
    Ok(StatusLine {
        status,
        code,
        text: Text::unchecked(rest),
    })
}

/// A word of a line and its offset in the line.
type Word<'a> = (&'a [u8], usize);

/// The first two words of `text` (which starts at `base` in `line`):
/// `a SP b [SP anything]`, with runs of spaces when `lenient`. RFC 1939
/// puts no requirement on what follows the second word.
fn two_words<'a>(
    text: &'a [u8],
    base: usize,
    line: &[u8],
    lenient: bool,
    expected: [&'static str; 2],
) -> Result<[Word<'a>; 2], DecodeError> {
    let skip = |from: usize| {
        if lenient {
            from + text[from..].iter().take_while(|&&b| b == b' ').count()
        } else {
            from
        }
    };
    let a = skip(0);
    let a_end = memchr::memchr(b' ', &text[a..]).map_or(text.len(), |i| a + i);
    if a_end == a {
        return Err(DecodeError::syntax(line, base + a, expected[0]));
    }
    if a_end == text.len() {
        return Err(DecodeError::syntax(line, base + a_end, "space"));
    }
    let b = skip(a_end + 1);
    let b_end = memchr::memchr(b' ', &text[b..]).map_or(text.len(), |i| b + i);
    if b_end == b {
        return Err(DecodeError::syntax(line, base + b, expected[1]));
    }
    Ok([(&text[a..a_end], base + a), (&text[b..b_end], base + b)])
}

/// A decimal number: `Syntax` at the first non-digit, `NumberOutOfRange`
/// if it does not fit.
fn number((digits, at): Word<'_>, line: &[u8], expected: &'static str) -> Result<u64, DecodeError> {
    if let Some(bad) = digits.iter().position(|b| !b.is_ascii_digit()) {
        return Err(DecodeError::syntax(line, at + bad, expected));
    }
    parse_u64(digits)
        .ok_or_else(|| DecodeError::new(ErrorKind::NumberOutOfRange, at, expected).with_found(line))
}

fn message_number(word: Word<'_>, line: &[u8]) -> Result<MessageNumber, DecodeError> {
    let n = number(word, line, "message number")?;
    u32::try_from(n).ok().and_then(MessageNumber::new).ok_or_else(|| {
        DecodeError::new(ErrorKind::NumberOutOfRange, word.1, "message number from 1").with_found(line)
    })
}

fn stat(text: &[u8], base: usize, line: &[u8], lenient: bool) -> Result<Stat, DecodeError> {
    let [count, size] = two_words(text, base, line, lenient, ["message count", "size in octets"])?;
    let at = count.1;
    Ok(Stat {
        count: u32::try_from(number(count, line, "message count")?).map_err(|_| {
            DecodeError::new(ErrorKind::NumberOutOfRange, at, "message count").with_found(line)
        })?,
        size: number(size, line, "size in octets")?,
    })
}

fn scan_listing(text: &[u8], base: usize, line: &[u8], lenient: bool) -> Result<ScanListing, DecodeError> {
    let [n, size] = two_words(text, base, line, lenient, ["message number", "size in octets"])?;
    Ok(ScanListing {
        message: message_number(n, line)?,
        size: number(size, line, "size in octets")?,
    })
}

fn uidl_listing<'a>(
    text: &'a [u8],
    base: usize,
    line: &[u8],
    lenient: bool,
) -> Result<UniqueIdListing<'a>, DecodeError> {
    let [n, (id, id_at)] = two_words(text, base, line, lenient, ["message number", "unique id"])?;
    UniqueId::validate(id)
        .map_err(|e| DecodeError::syntax(line, id_at + e.position.unwrap_or(0), "unique id"))?;
    Ok(UniqueIdListing {
        message: message_number(n, line)?,
        unique_id: UniqueId::unchecked(as_ascii(id)),
    })
}

fn language(line: &[u8]) -> Result<Language<'_>, DecodeError> {
    let sp = memchr::memchr(b' ', line).unwrap_or(line.len());
    let tag = &line[..sp];
    LanguageTag::validate(tag)
        .map_err(|e| DecodeError::syntax(line, e.position.unwrap_or(0), "language tag"))?;
    let description = line.get(sp + 1..).unwrap_or_default();
    Text::validate(description)
        .map_err(|e| DecodeError::syntax(line, sp + 1 + e.position.unwrap_or(0), "text"))?;
    Ok(Language {
        tag: LanguageTag::unchecked(as_ascii(tag)),
        description: Text::unchecked(description),
    })
}

/// Decodes one response of the form `expect`.
///
/// Multi-line responses other than message bodies are bounded by
/// `config.limits.multi_line`, and bodies by `config.limits.body`; to
/// stream a large body, decode the status line with [`Expect::Status`] and
/// the rest with [`crate::BodyDecoder`].
pub fn decode_response<'a>(
    input: &'a [u8],
    expect: Expect,
    config: &DecoderConfig,
) -> Result<Decoded<Response<'a>>, DecodeError> {
    let limits = &config.limits;
    let Some(first) = find_line(input, limits.response_line, config.leniency.bare_lf)? else {
        return Ok(Decoded::Incomplete);
    };
    let resume = Some(first.consumed);
    let line = first.content;
    if expect == Expect::Sasl && (line == b"+" || line.starts_with(b"+ ")) {
        // `+ base64`; a bare `+` is accepted as an empty challenge.
        let data = match line.get(1) {
            None if config.leniency.extra_spaces => &[][..],
            Some(b' ') => &line[2..],
            _ => return Err(DecodeError::syntax(line, 1, "space").resume(resume)),
        };
        SaslData::validate(data).map_err(|e| {
            DecodeError::syntax(line, 2 + e.position.unwrap_or(0), "base64 challenge").resume(resume)
        })?;
        return Ok(Decoded::Complete {
            value: Response::Continuation(SaslData::unchecked(as_ascii(data))),
            consumed: first.consumed,
        });
    }
    let status = parse_status_line(line, config).map_err(|e| e.resume(resume))?;
    if status.status == Status::Err {
        return Ok(Decoded::Complete {
            value: Response::Status(status),
            consumed: first.consumed,
        });
    }
    let text_at = line.len() - status.text.as_bytes().len();
    let lenient = config.leniency.extra_spaces;
    let single = |value| {
        Ok(Decoded::Complete {
            value,
            consumed: first.consumed,
        })
    };
    match expect {
        Expect::Greeting | Expect::Status | Expect::Sasl => single(Response::Status(status)),
        Expect::Stat => single(Response::Stat(
            stat(&line[text_at..], text_at, line, lenient).map_err(|e| e.resume(resume))?,
        )),
        Expect::ScanListing => single(Response::ScanListing(
            scan_listing(&line[text_at..], text_at, line, lenient).map_err(|e| e.resume(resume))?,
        )),
        Expect::UniqueIdListing => single(Response::UniqueIdListing(
            uidl_listing(&line[text_at..], text_at, line, lenient).map_err(|e| e.resume(resume))?,
        )),
        Expect::Message => {
            let body_input = &input[first.consumed..];
            let end = if body_input.starts_with(b".\r\n") {
                Some((0, 3))
            } else {
                memchr::memmem::find(body_input, b"\r\n.\r\n").map(|i| (i + 2, i + 5))
            };
            match end {
                Some((body_len, used)) if body_len <= limits.body => Ok(Decoded::Complete {
                    value: Response::Message {
                        status,
                        body: Body::from_wire_unchecked(&body_input[..body_len]),
                    },
                    consumed: first.consumed + used,
                }),
                Some(_) => Err(too_long(limits.body, first.consumed)),
                None if body_input.len().saturating_sub(4) > limits.body => {
                    Err(too_long(limits.body, first.consumed))
                }
                None => Ok(Decoded::Incomplete),
            }
        }
        Expect::ScanListings => multi_line(input, first, config, |l, lenient| scan_listing(l, 0, l, lenient))
            .map(|d| d.map(|listings| Response::ScanListings { status, listings })),
        Expect::UniqueIdListings => {
            multi_line(input, first, config, |l, lenient| uidl_listing(l, 0, l, lenient))
                .map(|d| d.map(|listings| Response::UniqueIdListings { status, listings }))
        }
        Expect::Capabilities => multi_line(input, first, config, parse_capability)
            .map(|d| d.map(|capabilities| Response::Capabilities { status, capabilities })),
        Expect::Languages => multi_line(input, first, config, |l, _| language(l))
            .map(|d| d.map(|languages| Response::Languages { status, languages })),
    }
}

fn too_long(limit: usize, offset: usize) -> DecodeError {
    DecodeError::new(
        ErrorKind::ResponseTooLong { limit },
        offset,
        "end of multi-line response",
    )
}

/// Decodes the lines after `first` up to the terminating ".", each with
/// `item`. Lines are unstuffed before parsing.
fn multi_line<'a, T>(
    input: &'a [u8],
    first: Line<'a>,
    config: &DecoderConfig,
    item: impl Fn(&'a [u8], bool) -> Result<T, DecodeError>,
) -> Result<Decoded<Vec<T>>, DecodeError> {
    let limits = &config.limits;
    // Parse only once the terminating line is here: a client that decodes
    // a long listing as it arrives then scans it with memchr's speed on
    // each read instead of parsing it again.
    let after_first = &input[first.consumed - 1..];
    let ended = memchr::memmem::find(after_first, b"\n.\r\n").is_some()
        || (config.leniency.bare_lf && memchr::memmem::find(after_first, b"\n.\n").is_some());
    #[cfg(test)]
    crate::decode::SCANNED.with(|s| s.set(s.get() + after_first.len()));
    if !ended {
        return if input.len() > limits.multi_line {
            Err(too_long(limits.multi_line, limits.multi_line))
        } else {
            Ok(Decoded::Incomplete)
        };
    }
    let mut at = first.consumed;
    let mut items = Vec::new();
    loop {
        if at > limits.multi_line {
            return Err(too_long(limits.multi_line, at));
        }
        let found = find_line(&input[at..], limits.response_line, config.leniency.bare_lf);
        let Some(line) = found.map_err(|e| e.shifted(at))? else {
            return Ok(Decoded::Incomplete);
        };
        // The limit counts every line, the terminating "." included.
        if at + line.consumed > limits.multi_line {
            return Err(too_long(limits.multi_line, at));
        }
        let content = line.content;
        let next = at + line.consumed;
        if content == b"." {
            return Ok(Decoded::Complete {
                value: items,
                consumed: next,
            });
        }
        let (content, stuffed) = match content.strip_prefix(b".") {
            Some(rest) => (rest, 1),
            None => (content, 0),
        };
        let value = item(content, config.leniency.extra_spaces)
            .map_err(|e| e.shifted(at + stuffed).resume(Some(next)))?;
        items.push(value);
        at = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(input: &[u8], expect: Expect) -> Response<'_> {
        match decode_response(input, expect, &DecoderConfig::STRICT).unwrap() {
            Decoded::Complete { value, consumed } => {
                assert_eq!(consumed, input.len());
                for i in 0..input.len() {
                    assert_eq!(
                        decode_response(&input[..i], expect, &DecoderConfig::STRICT).unwrap(),
                        Decoded::Incomplete,
                        "prefix {i}"
                    );
                }
                assert_eq!(value.to_bytes(), input, "re-encoding {value:?}");
                value
            }
            Decoded::Incomplete => panic!("incomplete"),
        }
    }

    #[test]
    fn status_lines_and_codes() {
        let r = decode(b"-ERR [IN-USE] maildrop locked\r\n", Expect::Status);
        let Response::Status(s) = r else { panic!() };
        assert_eq!(s.code, Some(ResponseCode::InUse));
        assert_eq!(s.text.as_bytes(), b"maildrop locked");
        let r = decode(b"-ERR [SYS/TEMP/DISK] full\r\n", Expect::Status);
        let Response::Status(s) = r else { panic!() };
        assert_eq!(
            s.code.as_ref().unwrap().levels().collect::<Vec<_>>(),
            ["SYS", "TEMP", "DISK"]
        );
        decode(b"+OK\r\n", Expect::Status);
        decode(b"-ERR [AUTH]\r\n", Expect::Status);
        decode(b"+OK caf\xc3\xa9 \xff latin\r\n", Expect::Status);
    }

    #[test]
    fn malformed_codes_strict_and_lenient() {
        assert!(decode_response(b"-ERR [IN USE] x\r\n", Expect::Status, &DecoderConfig::STRICT).is_err());
        let (r, _) = decode_response(b"-ERR [IN USE] x\r\n", Expect::Status, &DecoderConfig::default())
            .unwrap()
            .complete()
            .unwrap();
        let Response::Status(s) = r else { panic!() };
        assert_eq!((s.code, s.text.as_bytes()), (None, &b"[IN USE] x"[..]));
    }

    #[test]
    fn greeting_timestamp() {
        let Response::Status(s) = decode(
            b"+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n",
            Expect::Greeting,
        ) else {
            panic!()
        };
        assert_eq!(
            s.apop_timestamp().unwrap().as_str(),
            "<1896.697170952@dbc.mtview.ca.us>"
        );
        let Response::Status(s) = decode(b"+OK <not a stamp> ready\r\n", Expect::Greeting) else {
            panic!()
        };
        assert!(s.apop_timestamp().is_none());
    }

    #[test]
    fn typed_single_lines() {
        assert_eq!(
            decode(b"+OK 2 320\r\n", Expect::Stat),
            Response::Stat(Stat { count: 2, size: 320 })
        );
        assert_eq!(
            decode(b"+OK 2 200\r\n", Expect::ScanListing),
            Response::ScanListing(ScanListing {
                message: MessageNumber::new(2).unwrap(),
                size: 200
            })
        );
        assert!(matches!(
            decode(b"+OK 2 QhdPYR:00WBw1Ph7x7\r\n", Expect::UniqueIdListing),
            Response::UniqueIdListing(_)
        ));
        assert!(decode_response(b"+OK 0 200\r\n", Expect::ScanListing, &DecoderConfig::STRICT).is_err());
    }

    #[test]
    fn multi_line_listings() {
        let r = decode(
            b"+OK 2 messages (320 octets)\r\n1 120\r\n2 200\r\n.\r\n",
            Expect::ScanListings,
        );
        let Response::ScanListings { listings, .. } = r else {
            panic!()
        };
        assert_eq!(listings.len(), 2);
        decode(
            b"+OK\r\n1 whqtswO00WBw418f9t5JxYwZ\r\n2 QhdPYR:00WBw1Ph7x7\r\n.\r\n",
            Expect::UniqueIdListings,
        );
        decode(b"+OK Capability list follows\r\nTOP\r\nUSER\r\nSASL CRAM-MD5 KERBEROS_V4\r\nRESP-CODES\r\nLOGIN-DELAY 900\r\nPIPELINING\r\nEXPIRE 60\r\nUIDL\r\nIMPLEMENTATION Shlemazle-Plotz-v302\r\n.\r\n", Expect::Capabilities);
        decode(b"+OK Language listing follows:\r\nen English\r\nen-boont English Boontling dialect\r\nde Deutsch\r\n.\r\n", Expect::Languages);
        // An error ends a multi-line command after one line.
        decode(b"-ERR no such message\r\n", Expect::ScanListings);
    }

    #[test]
    fn listing_numbers_errors_and_spacing() {
        let strict = DecoderConfig::STRICT;
        let lenient = DecoderConfig::default();
        let e = decode_response(b"+OK x 320\r\n", Expect::Stat, &strict).unwrap_err();
        assert_eq!((e.kind, e.offset), (ErrorKind::Syntax, 4));
        let e = decode_response(b"+OK 2 3x0\r\n", Expect::Stat, &strict).unwrap_err();
        assert_eq!((e.kind, e.offset, e.found), (ErrorKind::Syntax, 7, Some(b'x')));
        let e = decode_response(b"+OK 2 99999999999999999999\r\n", Expect::Stat, &strict).unwrap_err();
        assert_eq!((e.kind, e.offset), (ErrorKind::NumberOutOfRange, 6));
        assert!(decode_response(b"+OK  2  200\r\n", Expect::ScanListing, &strict).is_err());
        let (r, _) = decode_response(b"+OK  2  200\r\n", Expect::ScanListing, &lenient)
            .unwrap()
            .complete()
            .unwrap();
        assert_eq!(
            r,
            Response::ScanListing(ScanListing {
                message: MessageNumber::new(2).unwrap(),
                size: 200
            })
        );
        let (r, _) = decode_response(b"+OK\r\n1  abc \r\n.\r\n", Expect::UniqueIdListings, &lenient)
            .unwrap()
            .complete()
            .unwrap();
        assert!(
            matches!(r, Response::UniqueIdListings { listings, .. } if listings[0].unique_id.as_str() == "abc")
        );
        // What follows the size is free (RFC 1939 section 7).
        let (r, _) = decode_response(b"+OK 2 320 octets\r\n", Expect::Stat, &strict)
            .unwrap()
            .complete()
            .unwrap();
        assert_eq!(r, Response::Stat(Stat { count: 2, size: 320 }));
    }

    #[test]
    fn listing_errors_point_into_the_listing() {
        let input = b"+OK\r\n1 120\r\nx 200\r\n.\r\n";
        let e = decode_response(input, Expect::ScanListings, &DecoderConfig::STRICT).unwrap_err();
        assert_eq!((e.offset, e.resume_at), (12, Some(19)));
    }

    #[test]
    fn message_bodies() {
        let r = decode(
            b"+OK 120 octets\r\nSubject: x\r\n\r\n..dot\r\n.\r\n",
            Expect::Message,
        );
        let Response::Message { body, .. } = r else {
            panic!()
        };
        assert_eq!(&*body.unstuffed(), b"Subject: x\r\n\r\n.dot\r\n");
        let r = decode(b"+OK\r\n.\r\n", Expect::Message);
        let Response::Message { body, .. } = r else {
            panic!()
        };
        assert!(body.wire().is_empty());
    }

    #[test]
    fn sasl_continuations() {
        assert_eq!(
            decode(b"+ \r\n", Expect::Sasl),
            Response::Continuation(SaslData::new("").unwrap())
        );
        decode(
            b"+ PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n",
            Expect::Sasl,
        );
        decode(b"+OK Maildrop locked and ready\r\n", Expect::Sasl);
    }

    #[test]
    fn response_limits() {
        let cfg = DecoderConfig {
            limits: crate::Limits {
                multi_line: 64,
                ..crate::Limits::RFC
            },
            ..DecoderConfig::STRICT
        };
        let mut input = b"+OK\r\n".to_vec();
        for i in 1..100 {
            input.extend_from_slice(format!("{i} 100\r\n").as_bytes());
        }
        let e = decode_response(&input, Expect::ScanListings, &cfg).unwrap_err();
        assert_eq!(e.kind, ErrorKind::ResponseTooLong { limit: 64 });
    }
}

//! Capabilities of the CAPA response (RFC 2449 section 6, RFC 5034,
//! RFC 2595, RFC 6856, RFC 3206).
//!
//! ```text
//! capability = capa-tag *(SP param) CRLF   ; 512 octets maximum
//! capa-tag   = 1*cchar
//! cchar      = %x21-2D / %x2F-7F           ; printable ASCII, excluding "."
//! ```

use std::borrow::Cow;

use bytes::BufMut;
use nom::bytes::complete::{tag, take_while1};
use nom::multi::many0;
use nom::sequence::preceded;
use nom::{IResult, Parser};

use crate::command::as_ascii;
use crate::decode::{DecodeError, parse_u64, put_u64};
use crate::types::{Mechanism, Param, Text};

/// The retention policy of the EXPIRE capability (RFC 2449 section 6.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expire {
    /// Messages are kept for at least this many days.
    Days(u32),
    /// Messages are never deleted by the server.
    Never,
}

/// One capability of a CAPA response.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Capability<'a> {
    /// `TOP`: the TOP command.
    Top,
    /// `USER`: USER and PASS.
    User,
    /// `SASL mech...`: AUTH with these mechanisms (RFC 5034).
    Sasl(Vec<Mechanism<'a>>),
    /// `RESP-CODES`: extended response codes.
    RespCodes,
    /// `LOGIN-DELAY n [USER]`: minimum seconds between logins; `USER`
    /// says the delay may vary per user.
    LoginDelay {
        /// Seconds.
        seconds: u32,
        /// Whether the value may differ per user.
        per_user: bool,
    },
    /// `PIPELINING`: the server accepts several commands at once.
    Pipelining,
    /// `EXPIRE n|NEVER [USER]`: how long the server keeps messages.
    Expire {
        /// The policy.
        policy: Expire,
        /// Whether the value may differ per user.
        per_user: bool,
    },
    /// `UIDL`: the UIDL command.
    Uidl,
    /// `IMPLEMENTATION text`: what the server is.
    Implementation(Text<'a>),
    /// `STLS` (RFC 2595).
    Stls,
    /// `AUTH-RESP-CODE` (RFC 3206).
    AuthRespCode,
    /// `UTF8 [USER]` (RFC 6856); `USER` means UTF-8 user names and
    /// passwords are accepted.
    Utf8 {
        /// Whether UTF-8 credentials are accepted.
        user: bool,
    },
    /// `LANG` (RFC 6856).
    Lang,
    /// A capability this crate does not know, kept as sent.
    Other {
        /// The tag.
        tag: Cow<'a, str>,
        /// Its parameters.
        params: Vec<Param<'a>>,
    },
}

impl Capability<'_> {
    /// Converts to an owned value.
    pub fn into_owned(self) -> Capability<'static> {
        match self {
            Capability::Sasl(m) => Capability::Sasl(m.into_iter().map(Mechanism::into_owned).collect()),
            Capability::Implementation(t) => Capability::Implementation(t.into_owned()),
            Capability::Other { tag, params } => Capability::Other {
                tag: Cow::Owned(tag.into_owned()),
                params: params.into_iter().map(Param::into_owned).collect(),
            },
            Capability::Top => Capability::Top,
            Capability::User => Capability::User,
            Capability::RespCodes => Capability::RespCodes,
            Capability::LoginDelay { seconds, per_user } => Capability::LoginDelay { seconds, per_user },
            Capability::Pipelining => Capability::Pipelining,
            Capability::Expire { policy, per_user } => Capability::Expire { policy, per_user },
            Capability::Uidl => Capability::Uidl,
            Capability::Stls => Capability::Stls,
            Capability::AuthRespCode => Capability::AuthRespCode,
            Capability::Utf8 { user } => Capability::Utf8 { user },
            Capability::Lang => Capability::Lang,
        }
    }

    /// Writes the capability line, CRLF included.
    pub fn encode(&self, out: &mut impl BufMut) {
        let user = |out: &mut dyn BufMut, yes: bool| {
            if yes {
                out.put_slice(b" USER");
            }
        };
        match self {
            Capability::Top => out.put_slice(b"TOP"),
            Capability::User => out.put_slice(b"USER"),
            Capability::Sasl(mechs) => {
                out.put_slice(b"SASL");
                for m in mechs {
                    out.put_u8(b' ');
                    out.put_slice(m.as_str().as_bytes());
                }
            }
            Capability::RespCodes => out.put_slice(b"RESP-CODES"),
            Capability::LoginDelay { seconds, per_user } => {
                out.put_slice(b"LOGIN-DELAY ");
                put_u64(out, u64::from(*seconds));
                user(out, *per_user);
            }
            Capability::Pipelining => out.put_slice(b"PIPELINING"),
            Capability::Expire { policy, per_user } => {
                out.put_slice(b"EXPIRE ");
                match policy {
                    Expire::Days(d) => put_u64(out, u64::from(*d)),
                    Expire::Never => out.put_slice(b"NEVER"),
                }
                user(out, *per_user);
            }
            Capability::Uidl => out.put_slice(b"UIDL"),
            Capability::Implementation(t) => {
                out.put_slice(b"IMPLEMENTATION");
                if !t.is_empty() {
                    out.put_u8(b' ');
                    out.put_slice(t.as_bytes());
                }
            }
            Capability::Stls => out.put_slice(b"STLS"),
            Capability::AuthRespCode => out.put_slice(b"AUTH-RESP-CODE"),
            Capability::Utf8 { user: u } => {
                out.put_slice(b"UTF8");
                user(out, *u);
            }
            Capability::Lang => out.put_slice(b"LANG"),
            Capability::Other { tag, params } => {
                out.put_slice(tag.as_bytes());
                for p in params {
                    out.put_u8(b' ');
                    out.put_slice(p.as_inner());
                }
            }
        }
        out.put_slice(b"\r\n");
    }
}

fn is_cchar(b: u8) -> bool {
    (0x21..=0x7E).contains(&b) && b != b'.'
}

fn is_param_char(b: u8) -> bool {
    b > 0x20 && b != 0x7F
}

/// `capa-tag *(SP param)`, with runs of spaces accepted when `lenient`.
/// A capability tag and its parameters.
type Words<'a> = (&'a [u8], Vec<&'a [u8]>);

fn capability_words(line: &[u8], lenient: bool) -> IResult<&[u8], Words<'_>> {
    let spaces = |i| {
        if lenient {
            take_while1(|b| b == b' ').parse(i)
        } else {
            tag(&b" "[..]).parse(i)
        }
    };
    let (rest, tag) = take_while1(is_cchar).parse(line)?;
    let (rest, params) = many0(preceded(spaces, take_while1(is_param_char))).parse(rest)?;
    let (rest, _) = if lenient {
        nom::bytes::complete::take_while(|b| b == b' ').parse(rest)?
    } else {
        (rest, &b""[..])
    };
    Ok((rest, (tag, params)))
}

/// Parses one capability line (without its CRLF).
pub(crate) fn parse_capability(line: &[u8], lenient: bool) -> Result<Capability<'_>, DecodeError> {
    let tag_len = line.iter().take_while(|&&b| is_cchar(b)).count();
    let name = &line[..tag_len];
    // IMPLEMENTATION takes free text, spaces included.
    if name.eq_ignore_ascii_case(b"IMPLEMENTATION") {
        let text = line.get(tag_len + 1..).unwrap_or_default();
        if tag_len < line.len() && line[tag_len] != b' ' {
            return Err(DecodeError::syntax(line, tag_len, "space"));
        }
        return match Text::validate(text) {
            Ok(()) => Ok(Capability::Implementation(Text::unchecked(text))),
            Err(e) => Err(DecodeError::syntax(
                line,
                tag_len + 1 + e.position.unwrap_or(0),
                "text",
            )),
        };
    }
    let (rest, (tag, params)) = match capability_words(line, lenient) {
        Ok(ok) => ok,
        Err(_) => return Err(DecodeError::syntax(line, 0, "capability tag")),
    };
    if !rest.is_empty() {
        let at = line.len() - rest.len();
        return Err(DecodeError::syntax(line, at, "capability parameter"));
    }
    let upper = |p: &[u8], s: &str| p.eq_ignore_ascii_case(s.as_bytes());
    let user_flag = |p: &[&[u8]]| match p {
        [] => Some(false),
        [u] if upper(u, "USER") => Some(true),
        _ => None,
    };
    let known = match (tag.to_ascii_uppercase().as_slice(), params.as_slice()) {
        (b"TOP", []) => Some(Capability::Top),
        (b"USER", []) => Some(Capability::User),
        (b"SASL", mechs) => mechs
            .iter()
            .map(|m| {
                Mechanism::validate(m)
                    .ok()
                    .map(|()| Mechanism::unchecked(as_ascii(m)))
            })
            .collect::<Option<Vec<_>>>()
            .map(Capability::Sasl),
        (b"RESP-CODES", []) => Some(Capability::RespCodes),
        (b"LOGIN-DELAY", [n, rest @ ..]) => parse_u64(n)
            .and_then(|n| u32::try_from(n).ok())
            .zip(user_flag(rest))
            .map(|(seconds, per_user)| Capability::LoginDelay { seconds, per_user }),
        (b"PIPELINING", []) => Some(Capability::Pipelining),
        (b"EXPIRE", [n, rest @ ..]) => {
            let policy = if upper(n, "NEVER") {
                Some(Expire::Never)
            } else {
                parse_u64(n).and_then(|n| u32::try_from(n).ok()).map(Expire::Days)
            };
            policy
                .zip(user_flag(rest))
                .map(|(policy, per_user)| Capability::Expire { policy, per_user })
        }
        (b"UIDL", []) => Some(Capability::Uidl),
        (b"STLS", []) => Some(Capability::Stls),
        (b"AUTH-RESP-CODE", []) => Some(Capability::AuthRespCode),
        (b"UTF8", rest) => user_flag(rest).map(|user| Capability::Utf8 { user }),
        (b"LANG", []) => Some(Capability::Lang),
        _ => None,
    };
    Ok(known.unwrap_or_else(|| Capability::Other {
        tag: Cow::Borrowed(as_ascii(tag)),
        params: params.into_iter().map(Param::unchecked).collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(line: &[u8]) -> Capability<'_> {
        let cap = parse_capability(line, false).unwrap();
        let mut out = Vec::new();
        cap.encode(&mut out);
        assert_eq!(&out[..out.len() - 2], line, "{cap:?}");
        cap
    }

    #[test]
    fn typed_capabilities() {
        assert_eq!(round_trip(b"TOP"), Capability::Top);
        assert_eq!(
            round_trip(b"SASL PLAIN CRAM-MD5"),
            Capability::Sasl(vec![
                Mechanism::new("PLAIN").unwrap(),
                Mechanism::new("CRAM-MD5").unwrap()
            ])
        );
        assert_eq!(
            round_trip(b"LOGIN-DELAY 900"),
            Capability::LoginDelay {
                seconds: 900,
                per_user: false
            }
        );
        assert_eq!(
            round_trip(b"EXPIRE NEVER"),
            Capability::Expire {
                policy: Expire::Never,
                per_user: false
            }
        );
        assert_eq!(
            round_trip(b"EXPIRE 60 USER"),
            Capability::Expire {
                policy: Expire::Days(60),
                per_user: true
            }
        );
        assert_eq!(round_trip(b"UTF8 USER"), Capability::Utf8 { user: true });
        assert_eq!(
            round_trip(b"IMPLEMENTATION Shlemazle-Plotz-v302"),
            Capability::Implementation(Text::new(&b"Shlemazle-Plotz-v302"[..]).unwrap())
        );
        assert!(
            matches!(round_trip(b"X-FOO a b"), Capability::Other { ref params, .. } if params.len() == 2)
        );
        // A known tag with unexpected parameters is kept, not rejected.
        assert!(matches!(round_trip(b"TOP 1"), Capability::Other { .. }));
    }

    #[test]
    fn case_and_spaces() {
        assert_eq!(parse_capability(b"top", false).unwrap(), Capability::Top);
        assert!(parse_capability(b"SASL  PLAIN", false).is_err());
        assert_eq!(
            parse_capability(b"SASL  PLAIN ", true).unwrap(),
            Capability::Sasl(vec![Mechanism::PLAIN])
        );
    }
}

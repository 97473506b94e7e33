//! POP3 commands: decoding (server side) and encoding (client side).
//!
//! ```text
//! command = keyword *(SP param) CRLF    ; 255 octets maximum (RFC 2449 section 3)
//! keyword = 3*4VCHAR
//! param   = 1*VCHAR
//! ```

use bytes::BufMut;

use crate::decode::{DecodeError, Decoded, DecoderConfig, ErrorKind, find_line, parse_u64, put_u64};
use crate::types::{LanguageTag, Mechanism, MessageNumber, Param, Password, SaslData, TypeError};

/// The MD5 digest of an APOP command: 16 bytes, sent as 32 lower-case hex
/// digits (RFC 1939 section 7).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Digest(pub [u8; 16]);

impl Digest {
    /// Parses 32 hex digits (either case).
    pub fn from_hex(hex: &[u8]) -> Result<Digest, TypeError> {
        if hex.len() != 32 {
            return Err(TypeError {
                what: "APOP digest",
                problem: "must be 32 hex digits",
                byte: None,
                position: None,
            });
        }
        let mut out = [0u8; 16];
        for (i, pair) in hex.chunks_exact(2).enumerate() {
            let nibble = |j: usize| -> Result<u8, TypeError> {
                let b = pair[j];
                match b {
                    b'0'..=b'9' => Ok(b - b'0'),
                    b'a'..=b'f' => Ok(b - b'a' + 10),
                    b'A'..=b'F' => Ok(b - b'A' + 10),
                    _ => Err(TypeError {
                        what: "APOP digest",
                        problem: "not a hex digit",
                        byte: Some(b),
                        position: Some(2 * i + j),
                    }),
                }
            };
            out[i] = nibble(0)? << 4 | nibble(1)?;
        }
        Ok(Digest(out))
    }

    /// Writes the 32 lower-case hex digits.
    pub fn write_hex(&self, out: &mut impl BufMut) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        for b in self.0 {
            out.put_u8(HEX[usize::from(b >> 4)]);
            out.put_u8(HEX[usize::from(b & 15)]);
        }
    }
}

impl std::fmt::Debug for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut s = Vec::with_capacity(32);
        self.write_hex(&mut s);
        write!(f, "Digest({})", String::from_utf8_lossy(&s))
    }
}

/// The argument of LANG (RFC 6856 section 3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LanguageRange<'a> {
    /// `*`: the language the server administrator prefers.
    Any,
    /// A language tag.
    Tag(LanguageTag<'a>),
}

impl LanguageRange<'_> {
    /// Converts to an owned value.
    pub fn into_owned(self) -> LanguageRange<'static> {
        match self {
            LanguageRange::Any => LanguageRange::Any,
            LanguageRange::Tag(t) => LanguageRange::Tag(t.into_owned()),
        }
    }
}

/// A POP3 command.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Command<'a> {
    /// `USER name` (RFC 1939 section 7).
    User(Param<'a>),
    /// `PASS string` (RFC 1939 section 7); the string may hold spaces.
    Pass(Password<'a>),
    /// `APOP name digest` (RFC 1939 section 7).
    Apop {
        /// The mailbox name.
        name: Param<'a>,
        /// MD5 of the greeting's timestamp followed by the shared secret.
        digest: Digest,
    },
    /// `AUTH mechanism [initial-response]` (RFC 5034 section 4). An initial
    /// response of `=` is `Some` with empty data.
    Auth {
        /// The SASL mechanism.
        mechanism: Mechanism<'a>,
        /// The initial client response, if sent.
        initial_response: Option<SaslData<'a>>,
    },
    /// `STAT`.
    Stat,
    /// `LIST [msg]`.
    List(Option<MessageNumber>),
    /// `RETR msg`.
    Retr(MessageNumber),
    /// `DELE msg`.
    Dele(MessageNumber),
    /// `NOOP`.
    Noop,
    /// `RSET`.
    Rset,
    /// `QUIT`.
    Quit,
    /// `TOP msg n`: the headers, the blank line and `n` body lines.
    Top {
        /// The message.
        message: MessageNumber,
        /// How many body lines.
        lines: u32,
    },
    /// `UIDL [msg]`.
    Uidl(Option<MessageNumber>),
    /// `CAPA` (RFC 2449 section 5).
    Capa,
    /// `STLS` (RFC 2595 section 4).
    Stls,
    /// `UTF8` (RFC 6856 section 2).
    Utf8,
    /// `LANG [range]` (RFC 6856 section 3); `None` asks for the list.
    Lang(Option<LanguageRange<'a>>),
}

impl Command<'_> {
    /// The command keyword, upper case.
    pub fn keyword(&self) -> &'static str {
        match self {
            Command::User(_) => "USER",
            Command::Pass(_) => "PASS",
            Command::Apop { .. } => "APOP",
            Command::Auth { .. } => "AUTH",
            Command::Stat => "STAT",
            Command::List(_) => "LIST",
            Command::Retr(_) => "RETR",
            Command::Dele(_) => "DELE",
            Command::Noop => "NOOP",
            Command::Rset => "RSET",
            Command::Quit => "QUIT",
            Command::Top { .. } => "TOP",
            Command::Uidl(_) => "UIDL",
            Command::Capa => "CAPA",
            Command::Stls => "STLS",
            Command::Utf8 => "UTF8",
            Command::Lang(_) => "LANG",
        }
    }

    /// Converts to an owned value.
    pub fn into_owned(self) -> Command<'static> {
        match self {
            Command::User(p) => Command::User(p.into_owned()),
            Command::Pass(p) => Command::Pass(p.into_owned()),
            Command::Apop { name, digest } => Command::Apop {
                name: name.into_owned(),
                digest,
            },
            Command::Auth {
                mechanism,
                initial_response,
            } => Command::Auth {
                mechanism: mechanism.into_owned(),
                initial_response: initial_response.map(SaslData::into_owned),
            },
            Command::Stat => Command::Stat,
            Command::List(n) => Command::List(n),
            Command::Retr(n) => Command::Retr(n),
            Command::Dele(n) => Command::Dele(n),
            Command::Noop => Command::Noop,
            Command::Rset => Command::Rset,
            Command::Quit => Command::Quit,
            Command::Top { message, lines } => Command::Top { message, lines },
            Command::Uidl(n) => Command::Uidl(n),
            Command::Capa => Command::Capa,
            Command::Stls => Command::Stls,
            Command::Utf8 => Command::Utf8,
            Command::Lang(r) => Command::Lang(r.map(LanguageRange::into_owned)),
        }
    }

    /// Writes the command, CRLF included, into `out`.
    pub fn encode(&self, out: &mut impl BufMut) {
        out.put_slice(self.keyword().as_bytes());
        let number = |out: &mut dyn BufMut, n: u64| {
            let mut tmp = [0u8; 20];
            let mut slice = &mut tmp[..];
            put_u64(&mut slice, n);
            let len = 20 - slice.len();
            out.put_u8(b' ');
            out.put_slice(&tmp[..len]);
        };
        match self {
            Command::User(p) => {
                out.put_u8(b' ');
                out.put_slice(p.as_inner());
            }
            Command::Pass(p) => {
                out.put_u8(b' ');
                out.put_slice(p.expose());
            }
            Command::Apop { name, digest } => {
                out.put_u8(b' ');
                out.put_slice(name.as_inner());
                out.put_u8(b' ');
                digest.write_hex(out);
            }
            Command::Auth {
                mechanism,
                initial_response,
            } => {
                out.put_u8(b' ');
                out.put_slice(mechanism.as_str().as_bytes());
                if let Some(ir) = initial_response {
                    out.put_u8(b' ');
                    if ir.as_str().is_empty() {
                        out.put_u8(b'=');
                    } else {
                        out.put_slice(ir.as_str().as_bytes());
                    }
                }
            }
            Command::List(Some(n)) | Command::Uidl(Some(n)) | Command::Retr(n) | Command::Dele(n) => {
                number(out, u64::from(n.get()))
            }
            Command::Top { message, lines } => {
                number(out, u64::from(message.get()));
                number(out, u64::from(*lines));
            }
            Command::Lang(Some(range)) => {
                out.put_u8(b' ');
                match range {
                    LanguageRange::Any => out.put_u8(b'*'),
                    LanguageRange::Tag(t) => out.put_slice(t.as_str().as_bytes()),
                }
            }
            Command::Stat
            | Command::List(None)
            | Command::Noop
            | Command::Rset
            | Command::Quit
            | Command::Uidl(None)
            | Command::Capa
            | Command::Stls
            | Command::Utf8
            | Command::Lang(None) => {}
        }
        out.put_slice(b"\r\n");
    }

    /// The encoded command in a new buffer.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(32);
        self.encode(&mut v);
        v
    }
}

/// The first space in a command line. Command lines are short (255 bytes
/// at most, words of a few bytes), where a plain loop beats memchr's
/// set-up cost.
fn space(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b' ')
}

/// Splits the parameters of a command line at single spaces.
struct Params<'a> {
    line: &'a [u8],
    pos: usize,
    lenient: bool,
}

impl<'a> Params<'a> {
    /// The next parameter and its offset in the line.
    fn next(&mut self) -> Result<Option<(&'a [u8], usize)>, DecodeError> {
        if self.pos >= self.line.len() {
            return Ok(None);
        }
        // `pos` is at a space that separates parameters.
        let mut start = self.pos + 1;
        if self.lenient {
            while start < self.line.len() && self.line[start] == b' ' {
                start += 1;
            }
            if start == self.line.len() {
                self.pos = start;
                return Ok(None);
            }
        }
        let end = space(&self.line[start..]).map_or(self.line.len(), |i| start + i);
        if end == start {
            return Err(DecodeError::syntax(self.line, start, "parameter"));
        }
        self.pos = end;
        Ok(Some((&self.line[start..end], start)))
    }

    fn required(&mut self, what: &'static str) -> Result<(&'a [u8], usize), DecodeError> {
        match self.next()? {
            Some(p) => Ok(p),
            None => Err(DecodeError::syntax(self.line, self.line.len(), what)),
        }
    }

    fn end(&mut self) -> Result<(), DecodeError> {
        match self.next()? {
            None => Ok(()),
            Some((_, at)) => Err(DecodeError::syntax(self.line, at - 1, "end of line")),
        }
    }
}

fn message_number(p: (&[u8], usize), line: &[u8]) -> Result<MessageNumber, DecodeError> {
    let (digits, at) = p;
    if !digits.iter().all(u8::is_ascii_digit) {
        return Err(DecodeError::syntax(line, at, "message number"));
    }
    parse_u64(digits)
        .and_then(|n| u32::try_from(n).ok())
        .and_then(MessageNumber::new)
        .ok_or_else(|| {
            DecodeError::new(
                ErrorKind::NumberOutOfRange,
                at,
                "message number from 1 to 4294967295",
            )
            .with_found(line)
        })
}

fn typed<T>(
    r: Result<T, TypeError>,
    line: &[u8],
    at: usize,
    expected: &'static str,
) -> Result<T, DecodeError> {
    r.map_err(|e| DecodeError::syntax(line, at + e.position.unwrap_or(0), expected))
}

/// Decodes one command line.
///
/// Keywords are case-insensitive. The line may be at most
/// `config.limits.command_line` bytes, CRLF included.
pub fn decode_command<'a>(
    input: &'a [u8],
    config: &DecoderConfig,
) -> Result<Decoded<Command<'a>>, DecodeError> {
    let Some(line) = find_line(input, config.limits.command_line, config.leniency.bare_lf)? else {
        return Ok(Decoded::Incomplete);
    };
    let resume = Some(line.consumed);
    parse_command(line.content, config)
        .map(|value| Decoded::Complete {
            value,
            consumed: line.consumed,
        })
        .map_err(|e| e.resume(resume))
}

fn parse_command<'a>(line: &'a [u8], config: &DecoderConfig) -> Result<Command<'a>, DecodeError> {
    let kw_end = space(line).unwrap_or(line.len());
    let kw = &line[..kw_end];
    if !(3..=4).contains(&kw.len()) {
        return Err(DecodeError::new(ErrorKind::UnknownCommand, 0, "command keyword").with_found(line));
    }
    let mut key = [b' '; 4];
    for (k, b) in key.iter_mut().zip(kw) {
        *k = b.to_ascii_uppercase();
    }
    let mut p = Params {
        line,
        pos: kw_end,
        lenient: config.leniency.extra_spaces,
    };
    let cmd = match &key {
        b"USER" => {
            let (name, at) = p.required("user name")?;
            Command::User(
                typed(Param::validate(name), line, at, "user name").map(|()| Param::unchecked(name))?,
            )
        }
        b"PASS" => {
            // RFC 1939: the argument is the rest of the line, spaces and all.
            if kw_end + 1 >= line.len() {
                return Err(DecodeError::syntax(line, line.len(), "password"));
            }
            let pass = &line[kw_end + 1..];
            typed(Password::validate(pass), line, kw_end + 1, "password")?;
            return Ok(Command::Pass(Password::unchecked(pass)));
        }
        b"APOP" => {
            let (name, at) = p.required("mailbox name")?;
            typed(Param::validate(name), line, at, "mailbox name")?;
            let (hex, at) = p.required("digest")?;
            let digest = typed(Digest::from_hex(hex), line, at, "32 hex digits")?;
            Command::Apop {
                name: Param::unchecked(name),
                digest,
            }
        }
        b"AUTH" => {
            let (mech, at) = p.required("SASL mechanism")?;
            typed(Mechanism::validate(mech), line, at, "SASL mechanism")?;
            let mechanism = Mechanism::unchecked(as_ascii(mech));
            let initial_response = match p.next()? {
                None => None,
                Some((b"=", _)) => Some(SaslData::unchecked("")),
                Some((data, at)) => {
                    typed(SaslData::validate(data), line, at, "base64 initial response")?;
                    Some(SaslData::unchecked(as_ascii(data)))
                }
            };
            Command::Auth {
                mechanism,
                initial_response,
            }
        }
        b"STAT" => Command::Stat,
        b"LIST" => Command::List(p.next()?.map(|a| message_number(a, line)).transpose()?),
        b"RETR" => Command::Retr(message_number(p.required("message number")?, line)?),
        b"DELE" => Command::Dele(message_number(p.required("message number")?, line)?),
        b"NOOP" => Command::Noop,
        b"RSET" => Command::Rset,
        b"QUIT" => Command::Quit,
        b"TOP " => {
            let message = message_number(p.required("message number")?, line)?;
            let (digits, at) = p.required("number of lines")?;
            let lines = parse_u64(digits)
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| DecodeError::syntax(line, at, "number of lines"))?;
            Command::Top { message, lines }
        }
        b"UIDL" => Command::Uidl(p.next()?.map(|a| message_number(a, line)).transpose()?),
        b"CAPA" => Command::Capa,
        b"STLS" => Command::Stls,
        b"UTF8" => Command::Utf8,
        b"LANG" => Command::Lang(match p.next()? {
            None => None,
            Some((b"*", _)) => Some(LanguageRange::Any),
            Some((tag, at)) => {
                typed(LanguageTag::validate(tag), line, at, "language tag")?;
                Some(LanguageRange::Tag(LanguageTag::unchecked(as_ascii(tag))))
            }
        }),
        _ => return Err(DecodeError::new(ErrorKind::UnknownCommand, 0, "command keyword").with_found(line)),
    };
    p.end()?;
    Ok(cmd)
}

/// Bytes already validated as ASCII, as a `str`.
pub(crate) fn as_ascii(b: &[u8]) -> &str {
    std::str::from_utf8(b).unwrap_or_default()
}

/// A client's line during an AUTH exchange (RFC 5034 section 4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaslResponse<'a> {
    /// Base64 data answering a challenge (possibly empty).
    Data(SaslData<'a>),
    /// `*`: the client cancels the exchange.
    Cancel,
}

impl SaslResponse<'_> {
    /// Writes the line, CRLF included.
    pub fn encode(&self, out: &mut impl BufMut) {
        match self {
            SaslResponse::Data(d) => out.put_slice(d.as_str().as_bytes()),
            SaslResponse::Cancel => out.put_u8(b'*'),
        }
        out.put_slice(b"\r\n");
    }

    /// Converts to an owned value.
    pub fn into_owned(self) -> SaslResponse<'static> {
        match self {
            SaslResponse::Data(d) => SaslResponse::Data(d.into_owned()),
            SaslResponse::Cancel => SaslResponse::Cancel,
        }
    }
}

/// Decodes a client line sent during an AUTH exchange, bounded by
/// `config.limits.sasl_line`.
pub fn decode_sasl_response<'a>(
    input: &'a [u8],
    config: &DecoderConfig,
) -> Result<Decoded<SaslResponse<'a>>, DecodeError> {
    let Some(line) = find_line(input, config.limits.sasl_line, config.leniency.bare_lf)? else {
        return Ok(Decoded::Incomplete);
    };
    let value = if line.content == b"*" {
        SaslResponse::Cancel
    } else {
        typed(
            SaslData::validate(line.content),
            line.content,
            0,
            "base64 data or '*'",
        )
        .map_err(|e| e.resume(Some(line.consumed)))?;
        SaslResponse::Data(SaslData::unchecked(as_ascii(line.content)))
    };
    Ok(Decoded::Complete {
        value,
        consumed: line.consumed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(input: &[u8]) -> Result<Decoded<Command<'_>>, DecodeError> {
        decode_command(input, &DecoderConfig::STRICT)
    }

    fn ok(input: &[u8]) -> Command<'_> {
        match decode(input).unwrap() {
            Decoded::Complete { value, consumed } => {
                assert_eq!(consumed, input.len());
                value
            }
            Decoded::Incomplete => panic!("incomplete: {input:?}"),
        }
    }

    #[test]
    fn every_command_round_trips() {
        let lines: &[&[u8]] = &[
            b"USER mrose\r\n",
            b"PASS secret with spaces \r\n",
            b"APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n",
            b"AUTH PLAIN\r\n",
            b"AUTH PLAIN =\r\n",
            b"AUTH PLAIN dGVzdAB0ZXN0AHRlc3Q=\r\n",
            b"STAT\r\n",
            b"LIST\r\n",
            b"LIST 2\r\n",
            b"RETR 1\r\n",
            b"DELE 4294967295\r\n",
            b"NOOP\r\n",
            b"RSET\r\n",
            b"QUIT\r\n",
            b"TOP 10 0\r\n",
            b"UIDL\r\n",
            b"UIDL 3\r\n",
            b"CAPA\r\n",
            b"STLS\r\n",
            b"UTF8\r\n",
            b"LANG\r\n",
            b"LANG *\r\n",
            b"LANG en-boont\r\n",
        ];
        for line in lines {
            let cmd = ok(line);
            assert_eq!(&cmd.to_bytes()[..], *line, "{cmd:?}");
        }
    }

    #[test]
    fn keywords_are_case_insensitive() {
        assert_eq!(ok(b"stat\r\n"), Command::Stat);
        assert_eq!(
            ok(b"Top 1 2\r\n"),
            Command::Top {
                message: MessageNumber::FIRST,
                lines: 2
            }
        );
    }

    #[test]
    fn every_prefix_is_incomplete() {
        let line = b"APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n";
        for i in 0..line.len() {
            assert_eq!(decode(&line[..i]).unwrap(), Decoded::Incomplete, "prefix {i}");
        }
    }

    #[test]
    fn message_zero_and_overflow_are_errors() {
        let e = decode(b"RETR 0\r\n").unwrap_err();
        assert_eq!(
            (e.kind, e.offset, e.resume_at),
            (ErrorKind::NumberOutOfRange, 5, Some(8))
        );
        let e = decode(b"LIST 4294967296\r\n").unwrap_err();
        assert_eq!(e.kind, ErrorKind::NumberOutOfRange);
        let e = decode(b"RETR -1\r\n").unwrap_err();
        assert_eq!((e.kind, e.offset), (ErrorKind::Syntax, 5));
    }

    #[test]
    fn errors_name_position_and_resume_point() {
        let e = decode(b"RETR\r\nNOOP\r\n").unwrap_err();
        assert_eq!(
            (e.offset, e.expected, e.resume_at),
            (4, "message number", Some(6))
        );
        let e = decode(b"XYZZY\r\n").unwrap_err();
        assert_eq!(e.kind, ErrorKind::UnknownCommand);
        let e = decode(b"STAT 1\r\n").unwrap_err();
        assert_eq!((e.offset, e.expected), (4, "end of line"));
        let e = decode(b"APOP mrose c4c9334bac560ecc979e58001b3e22fg\r\n").unwrap_err();
        assert_eq!(e.offset, 42);
    }

    #[test]
    fn command_line_limit() {
        let mut long = b"USER ".to_vec();
        long.extend(std::iter::repeat_n(b'a', 248));
        long.extend_from_slice(b"\r\n");
        assert_eq!(long.len(), 255);
        assert!(matches!(decode(&long).unwrap(), Decoded::Complete { .. }));
        long.insert(5, b'a');
        assert_eq!(
            decode(&long).unwrap_err().kind,
            ErrorKind::LineTooLong { limit: 255 }
        );
    }

    #[test]
    fn leniency_is_runtime() {
        assert!(decode(b"LIST  1 \r\n").is_err());
        assert!(decode(b"LIST 1\n").is_err());
        let lenient = DecoderConfig::default();
        let (c, _) = decode_command(b"LIST  1 \r\n", &lenient)
            .unwrap()
            .complete()
            .unwrap();
        assert_eq!(c, Command::List(MessageNumber::new(1)));
        let (c, n) = decode_command(b"LIST 1\n", &lenient).unwrap().complete().unwrap();
        assert_eq!((c, n), (Command::List(MessageNumber::new(1)), 7));
    }

    #[test]
    fn sasl_lines() {
        let cfg = DecoderConfig::STRICT;
        let (r, _) = decode_sasl_response(b"*\r\n", &cfg).unwrap().complete().unwrap();
        assert_eq!(r, SaslResponse::Cancel);
        let (r, _) = decode_sasl_response(b"\r\n", &cfg).unwrap().complete().unwrap();
        assert_eq!(r, SaslResponse::Data(SaslData::new("").unwrap()));
        assert!(decode_sasl_response(b"not base64!\r\n", &cfg).is_err());
    }
}

//! Decode outcomes, errors, limits and leniency shared by every decoder.
//!
//! Every decoder in this crate answers one of three things:
//!
//! - [`Decoded::Complete`]: a value and how many bytes of the input it used;
//! - [`Decoded::Incomplete`]: the input is a valid prefix, feed more bytes;
//! - `Err(`[`DecodeError`]`)`: the input is not valid here; the error says
//!   where, what was expected, and how to get to the next line.
//!
//! Every prefix of a valid message decodes as `Incomplete`, never as an error.

use std::fmt;

/// The outcome of a decoder that did not fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded<T> {
    /// A complete value, and the number of input bytes it used.
    Complete {
        /// The decoded value.
        value: T,
        /// How many bytes of the input the value used.
        consumed: usize,
    },
    /// The input is a valid prefix: more bytes are needed.
    Incomplete,
}

impl<T> Decoded<T> {
    /// Maps the value of a complete outcome.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Decoded<U> {
        match self {
            Decoded::Complete { value, consumed } => Decoded::Complete {
                value: f(value),
                consumed,
            },
            Decoded::Incomplete => Decoded::Incomplete,
        }
    }

    /// The value, if complete.
    pub fn complete(self) -> Option<(T, usize)> {
        match self {
            Decoded::Complete { value, consumed } => Some((value, consumed)),
            Decoded::Incomplete => None,
        }
    }
}

/// What went wrong, in categories a caller can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The bytes do not follow the grammar.
    Syntax,
    /// The command keyword is not one this crate knows.
    UnknownCommand,
    /// A line is longer than the configured limit.
    LineTooLong {
        /// The limit in bytes, line terminator included.
        limit: usize,
    },
    /// A multi-line response is longer than the configured limit.
    ResponseTooLong {
        /// The limit in bytes.
        limit: usize,
    },
    /// A number does not fit, or is 0 where numbering starts at 1.
    NumberOutOfRange,
}

/// A decoding error: where it happened, what was expected, how to recover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// Byte offset in the decoder's input where the error was detected.
    pub offset: usize,
    /// What the decoder expected at `offset`.
    pub expected: &'static str,
    /// The byte found at `offset`, if any.
    pub found: Option<u8>,
    /// The category of the error.
    pub kind: ErrorKind,
    /// Bytes to discard to reach the start of the next line, when that line
    /// end is already in the input; `None` when it is not, in which case the
    /// caller discards what it has and keeps discarding up to the next LF
    /// (see [`skip_line`]).
    pub resume_at: Option<usize>,
}

impl DecodeError {
    pub(crate) fn new(kind: ErrorKind, offset: usize, expected: &'static str) -> Self {
        DecodeError {
            offset,
            expected,
            found: None,
            kind,
            resume_at: None,
        }
    }

    pub(crate) fn syntax(input: &[u8], offset: usize, expected: &'static str) -> Self {
        let mut e = Self::new(ErrorKind::Syntax, offset, expected);
        e.found = input.get(offset).copied();
        e
    }

    pub(crate) fn with_found(mut self, input: &[u8]) -> Self {
        self.found = input.get(self.offset).copied();
        self
    }

    pub(crate) fn resume(mut self, at: Option<usize>) -> Self {
        self.resume_at = at;
        self
    }

    /// Shifts the offsets by `base`, for an error found in a sub-slice.
    pub(crate) fn shifted(mut self, base: usize) -> Self {
        self.offset += base;
        self.resume_at = self.resume_at.map(|r| r + base);
        self
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            ErrorKind::LineTooLong { limit } => {
                write!(f, "line longer than {limit} bytes at offset {}", self.offset)?
            }
            ErrorKind::ResponseTooLong { limit } => write!(
                f,
                "multi-line response longer than {limit} bytes at offset {}",
                self.offset
            )?,
            ErrorKind::UnknownCommand => write!(f, "unknown command at offset {}", self.offset)?,
            ErrorKind::NumberOutOfRange => write!(f, "number out of range at offset {}", self.offset)?,
            ErrorKind::Syntax => write!(f, "syntax error at offset {}", self.offset)?,
        }
        write!(f, ": expected {}", self.expected)?;
        match self.found {
            Some(b) if b.is_ascii_graphic() => write!(f, ", found '{}'", b as char),
            Some(b) => write!(f, ", found byte 0x{b:02X}"),
            None => Ok(()),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Returns how many bytes to discard to get past the next LF, if one is in
/// `input`.
pub fn skip_line(input: &[u8]) -> Option<usize> {
    memchr::memchr(b'\n', input).map(|i| i + 1)
}

/// Size limits that bound what a decoder accepts before allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest command line, CRLF included (RFC 2449 section 4: 255).
    pub command_line: usize,
    /// Longest SASL client response line, CRLF included. RFC 5034 puts no
    /// limit on these lines; mechanisms such as GSSAPI need several KiB.
    pub sasl_line: usize,
    /// Longest single response line, CRLF included. RFC 2449 sets 512; real
    /// servers exceed it in greetings and CAPA lines, so the default is
    /// larger.
    pub response_line: usize,
    /// Longest non-body multi-line response (CAPA, LIST, UIDL, LANG),
    /// terminator included.
    pub multi_line: usize,
    /// Longest message body the one-shot decoder ([`crate::decode_response`])
    /// holds; the streaming [`crate::BodyDecoder`] has no limit because it
    /// holds nothing.
    pub body: usize,
}

impl Limits {
    /// The limits the RFCs state, where they state one.
    pub const RFC: Limits = Limits {
        command_line: 255,
        sasl_line: 64 * 1024,
        response_line: 512,
        multi_line: 16 * 1024 * 1024,
        body: 64 * 1024 * 1024,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            response_line: 8 * 1024,
            ..Limits::RFC
        }
    }
}

/// Deviations from the RFCs that real peers are known to send.
///
/// This is runtime configuration, never a cargo feature, so two users of
/// the crate in one program can choose differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leniency {
    /// Accept a bare LF as a line terminator on command and response lines
    /// (never inside message bodies, which are binary-safe).
    pub bare_lf: bool,
    /// Accept trailing spaces after the last argument of a command or
    /// response, and repeated spaces between arguments.
    pub extra_spaces: bool,
    /// Accept `+ok` / `-err` in any case.
    pub status_case: bool,
    /// Accept a response code in brackets that is not well formed
    /// as plain text instead of failing.
    pub malformed_response_code: bool,
}

impl Leniency {
    /// Accept only what the RFCs allow.
    pub const STRICT: Leniency = Leniency {
        bare_lf: false,
        extra_spaces: false,
        status_case: false,
        malformed_response_code: false,
    };
    /// Accept every deviation this crate knows of.
    pub const LENIENT: Leniency = Leniency {
        bare_lf: true,
        extra_spaces: true,
        status_case: true,
        malformed_response_code: true,
    };
}

impl Default for Leniency {
    fn default() -> Self {
        Leniency::LENIENT
    }
}

/// Configuration of the decoders: limits and leniency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DecoderConfig {
    /// Size limits.
    pub limits: Limits,
    /// Accepted deviations.
    pub leniency: Leniency,
}

impl DecoderConfig {
    /// Strict RFC grammar with the RFC limits.
    pub const STRICT: DecoderConfig = DecoderConfig {
        limits: Limits::RFC,
        leniency: Leniency::STRICT,
    };
}

/// One line found in the input: its content without the terminator and the
/// number of bytes it used including the terminator.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Line<'a> {
    pub content: &'a [u8],
    pub consumed: usize,
}

// Octets searched for LF by this thread's line framing, for the
// linearity tests.
#[cfg(test)]
thread_local! {
    pub(crate) static SCANNED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Finds the first line of `input`, bounded by `limit` (terminator included).
pub(crate) fn find_line<'a>(
    input: &'a [u8],
    limit: usize,
    bare_lf: bool,
) -> Result<Option<Line<'a>>, DecodeError> {
    let window = &input[..input.len().min(limit)];
    let found = memchr::memchr(b'\n', window);
    #[cfg(test)]
    SCANNED.with(|s| s.set(s.get() + found.map_or(window.len(), |i| i + 1)));
    match found {
        Some(lf) => {
            if lf > 0 && input[lf - 1] == b'\r' {
                Ok(Some(Line {
                    content: &input[..lf - 1],
                    consumed: lf + 1,
                }))
            } else if bare_lf {
                Ok(Some(Line {
                    content: &input[..lf],
                    consumed: lf + 1,
                }))
            } else {
                Err(DecodeError::syntax(input, lf, "CR before LF").resume(Some(lf + 1)))
            }
        }
        None if input.len() >= limit => {
            Err(
                DecodeError::new(ErrorKind::LineTooLong { limit }, limit, "line terminator")
                    .resume(skip_line(input)),
            )
        }
        None => Ok(None),
    }
}

/// Parses a decimal number from ASCII digits without allocating.
pub(crate) fn parse_u64(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 20 {
        return None;
    }
    let mut n: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(n)
}

/// Writes a decimal number without going through `format!`.
pub(crate) fn put_u64(out: &mut impl bytes::BufMut, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.put_slice(&buf[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip() {
        for n in [0u64, 1, 9, 10, 255, 4_294_967_295, u64::MAX] {
            let mut v = Vec::new();
            put_u64(&mut v, n);
            assert_eq!(parse_u64(&v), Some(n));
        }
        assert_eq!(parse_u64(b"18446744073709551616"), None);
        assert_eq!(parse_u64(b""), None);
        assert_eq!(parse_u64(b"1a"), None);
    }

    #[test]
    fn line_limit_and_terminators() {
        let l = find_line(b"abc\r\nrest", 255, false).unwrap().unwrap();
        assert_eq!((l.content, l.consumed), (&b"abc"[..], 5));
        assert!(find_line(b"abc\r", 255, false).unwrap().is_none());
        let e = find_line(b"abc\nx", 255, false).unwrap_err();
        assert_eq!((e.offset, e.resume_at), (3, Some(4)));
        let l = find_line(b"abc\nx", 255, true).unwrap().unwrap();
        assert_eq!(l.consumed, 4);
        let e = find_line(&[b'a'; 300], 255, false).unwrap_err();
        assert_eq!(e.kind, ErrorKind::LineTooLong { limit: 255 });
        assert_eq!(e.resume_at, None);
        // A line of exactly the limit, terminator included, is accepted.
        let mut exact = vec![b'a'; 253];
        exact.extend_from_slice(b"\r\n");
        assert!(find_line(&exact, 255, false).unwrap().is_some());
    }

    #[test]
    fn error_display_names_offset_and_expectation() {
        let e = DecodeError::syntax(b"LIST x", 5, "message number");
        assert_eq!(
            e.to_string(),
            "syntax error at offset 5: expected message number, found 'x'"
        );
    }
}

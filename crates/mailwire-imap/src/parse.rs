//! Parser plumbing shared by every grammar module: the nom error type that
//! remembers where it failed and what it expected, and small combinators.
//!
//! Parsers run on a message the framer (`crate::frame`) has already found
//! complete, literals included, so they never need more input: a parser
//! that runs out of bytes fails with "expected ...", and the framer is what
//! answers "need more bytes".

use nom::error::ParseError;
use nom::{IResult, Parser};

use crate::decode::{DecodeError, ErrorKind};

/// A parse failure: how many bytes were left when it happened (the offset
/// is the message length minus that), what was expected there, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PError {
    pub remaining: usize,
    pub expected: &'static str,
    pub kind: ErrorKind,
}

impl PError {
    pub fn at(input: &[u8], expected: &'static str) -> Self {
        PError {
            remaining: input.len(),
            expected,
            kind: ErrorKind::Syntax,
        }
    }

    pub fn kind(input: &[u8], kind: ErrorKind, expected: &'static str) -> Self {
        PError {
            remaining: input.len(),
            expected,
            kind,
        }
    }

    /// The error as a [`DecodeError`] against the whole message.
    pub fn into_decode_error(self, message: &[u8]) -> DecodeError {
        let offset = message.len().saturating_sub(self.remaining);
        DecodeError::new(self.kind, message, offset, self.expected)
    }
}

impl<'a> ParseError<&'a [u8]> for PError {
    fn from_error_kind(input: &'a [u8], _kind: nom::error::ErrorKind) -> Self {
        PError::at(input, "valid syntax")
    }

    fn append(_input: &'a [u8], _kind: nom::error::ErrorKind, other: Self) -> Self {
        other
    }

    /// Of two alternatives that failed, report the one that got further.
    fn or(self, other: Self) -> Self {
        if other.remaining < self.remaining {
            other
        } else {
            self
        }
    }
}

/// The result of a parser in this crate.
pub(crate) type PResult<'a, T> = IResult<&'a [u8], T, PError>;

/// Fails with `expected` at `input`.
pub(crate) fn fail<'a, T>(input: &'a [u8], expected: &'static str) -> PResult<'a, T> {
    Err(nom::Err::Error(PError::at(input, expected)))
}

/// Whether `input` starts with `NIL` (any case).
pub(crate) fn is_nil(input: &[u8]) -> bool {
    input.len() >= 3 && input[..3].eq_ignore_ascii_case(b"NIL")
}

/// A list reached its `limit` of elements at `input`, where `expected`
/// (what ends the list) would have had to come.
pub(crate) fn too_many<T>(input: &[u8], limit: usize, expected: &'static str) -> Result<T, nom::Err<PError>> {
    Err(nom::Err::Error(PError::kind(
        input,
        ErrorKind::TooMany { limit },
        expected,
    )))
}

/// Runs `parser`; if it fails without consuming anything, names what was
/// expected there.
pub(crate) fn expect<'a, T>(
    expected: &'static str,
    mut parser: impl Parser<&'a [u8], Output = T, Error = PError>,
) -> impl FnMut(&'a [u8]) -> PResult<'a, T> {
    move |input: &'a [u8]| match parser.parse(input) {
        Err(nom::Err::Error(e)) if e.remaining == input.len() && e.kind == ErrorKind::Syntax => {
            Err(nom::Err::Error(PError { expected, ..e }))
        }
        other => other,
    }
}

/// Exactly the byte `b`.
pub(crate) fn byte<'a>(b: u8, expected: &'static str) -> impl FnMut(&'a [u8]) -> PResult<'a, u8> {
    move |input: &'a [u8]| match input.first() {
        Some(&c) if c == b => Ok((&input[1..], c)),
        _ => fail(input, expected),
    }
}

/// One space.
pub(crate) fn sp(input: &[u8]) -> PResult<'_, u8> {
    byte(b' ', "space")(input)
}

/// A keyword, matched case-insensitively (IMAP keywords are).
pub(crate) fn keyword<'a>(word: &'static str) -> impl FnMut(&'a [u8]) -> PResult<'a, &'a [u8]> {
    move |input: &'a [u8]| {
        let n = word.len();
        if input.len() >= n && input[..n].eq_ignore_ascii_case(word.as_bytes()) {
            Ok((&input[n..], &input[..n]))
        } else {
            fail(input, word)
        }
    }
}

/// `number = 1*DIGIT` as a u32 (RFC 9051: "unsigned 32-bit integer").
#[inline(always)]
pub(crate) fn number(input: &[u8]) -> PResult<'_, u32> {
    let (rest, n) = number64(input)?;
    match u32::try_from(n) {
        Ok(n) => Ok((rest, n)),
        Err(_) => not_32_bit(input),
    }
}

#[cold]
#[inline(never)]
fn not_32_bit(input: &[u8]) -> PResult<'_, u32> {
    Err(nom::Err::Error(PError::kind(
        input,
        ErrorKind::NumberOutOfRange,
        "32-bit number",
    )))
}

/// `nz-number = digit-nz *DIGIT` as a u32.
pub(crate) fn nz_number(input: &[u8]) -> PResult<'_, std::num::NonZeroU32> {
    if input.first() == Some(&b'0') {
        return fail(input, "digit 1-9");
    }
    let (rest, n) = number(input)?;
    match std::num::NonZeroU32::new(n) {
        Some(n) => Ok((rest, n)),
        None => Err(nom::Err::Error(PError::kind(
            input,
            ErrorKind::NumberOutOfRange,
            "number from 1",
        ))),
    }
}

/// `number64 = 1*DIGIT` (at most 2^63 - 1, RFC 9051 section 9).
/// Inlined: numbers sit between most tokens of a FETCH response, and the
/// common case is a few instructions.
#[inline(always)]
pub(crate) fn number64(input: &[u8]) -> PResult<'_, u64> {
    // One to seven digits followed by anything, eight bytes at a time.
    if let Some(word) = input.first_chunk::<8>() {
        let v = u64::from_le_bytes(*word);
        let digits = v.wrapping_sub(0x3030_3030_3030_3030);
        // A byte that is not a digit ends up at 10 or more (its high bit
        // set after adding 0x76) or wraps below zero (high bit set).
        // Borrows and carries only run upwards from such a byte, so the
        // lowest flagged byte is the first non-digit.
        let stop = (digits | digits.wrapping_add(0x7676_7676_7676_7676)) & 0x8080_8080_8080_8080;
        let n = (stop.trailing_zeros() / 8) as usize;
        if (1..8).contains(&n) {
            // The digits moved to the top bytes, zeros (leading zero
            // digits) below them.
            return Ok((&input[n..], eight_digits(digits << (8 * (8 - n)))));
        }
    }
    number64_slow(input)
}

/// [`number64`] of eight digits or more, near the end of the input, or
/// missing; out of line (not cold: UIDVALIDITY and MODSEQ values are this
/// long).
#[inline(never)]
fn number64_slow(input: &[u8]) -> PResult<'_, u64> {
    // One pass over the digits; up to 18 of them stay below 10^18, so below
    // 2^63, and need no overflow check.
    let mut n: u64 = 0;
    let mut digits = 0;
    while let Some(&b) = input.get(digits) {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        if digits == 18 {
            return long_number64(input);
        }
        n = n * 10 + u64::from(d);
        digits += 1;
    }
    if digits == 0 {
        return fail(input, "number");
    }
    Ok((&input[digits..], n))
}

/// The value of eight decimal digits, one per byte of `v` (values 0-9),
/// the first in the lowest byte: pairs, then fours, then all eight, each
/// step one multiplication per lane.
#[inline(always)]
fn eight_digits(v: u64) -> u64 {
    let v = (v & 0x000f_000f_000f_000f) * 10 + ((v >> 8) & 0x000f_000f_000f_000f);
    let v = (v & 0x0000_00ff_0000_00ff) * 100 + ((v >> 16) & 0x0000_00ff_0000_00ff);
    (v & 0x0000_0000_0000_ffff) * 10000 + ((v >> 32) & 0x0000_0000_0000_ffff)
}

/// [`number64`] of 19 digits or more, checked for overflow.
#[cold]
#[inline(never)]
fn long_number64(input: &[u8]) -> PResult<'_, u64> {
    let digits = input.iter().take_while(|b| b.is_ascii_digit()).count();
    let mut n: u64 = 0;
    for &d in &input[..digits] {
        n = match n.checked_mul(10).and_then(|n| n.checked_add(u64::from(d - b'0'))) {
            Some(n) if n <= i64::MAX as u64 => n,
            _ => {
                return Err(nom::Err::Error(PError::kind(
                    input,
                    ErrorKind::NumberOutOfRange,
                    "63-bit number",
                )));
            }
        };
    }
    Ok((&input[digits..], n))
}

/// Writes a decimal number without going through `format!`. Numbers of up
/// to eight digits (sizes, UIDs, line counts: nearly all of them) are
/// turned into digits in one word, without a loop: split into two 4-digit
/// halves, each half into two 2-digit lanes, each lane into two digits,
/// with multiplications that divide exactly in that range (x * 10486 >> 20
/// is x / 100 below 10,000; x * 103 >> 10 is x / 10 below 100). The word is
/// stored whole and cut to length, which beats a call to `memcpy`.
pub(crate) fn put_number(out: &mut Vec<u8>, n: u64) {
    if n < 10 {
        out.push(b'0' + n as u8);
        return;
    }
    if n < 100_000_000 {
        let digits = n.ilog10() as usize + 1;
        // Lanes of 32 bits: the high four digits, then the low four.
        let x = (n / 10_000) | ((n % 10_000) << 32);
        // Lanes of 16 bits: two digits each.
        let hundreds = ((x * 10_486) >> 20) & 0x0000_007F_0000_007F;
        let y = hundreds | ((x - hundreds * 100) << 16);
        // Lanes of 8 bits: one digit each, the first in the lowest byte.
        let tens = ((y * 103) >> 10) & 0x000F_000F_000F_000F;
        let z = tens | ((y - tens * 10) << 8);
        let ascii = (z + 0x3030_3030_3030_3030) >> (8 * (8 - digits));
        let at = out.len();
        out.extend_from_slice(&ascii.to_le_bytes());
        out.truncate(at + digits);
        return;
    }
    let mut n = n;
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
    out.extend_from_slice(&buf[i..]);
}

/// `CRLF`, or a bare LF when `bare_lf`.
pub(crate) fn crlf(bare_lf: bool) -> impl FnMut(&[u8]) -> PResult<'_, ()> {
    move |input: &[u8]| match input {
        [b'\r', b'\n', rest @ ..] => Ok((rest, ())),
        [b'\n', rest @ ..] if bare_lf => Ok((rest, ())),
        _ => fail(input, "CRLF"),
    }
}

/// `"(" [item *(SP item)] ")"` with at most `max` items; `lenient` accepts
/// runs of spaces and spaces next to the parentheses.
pub(crate) fn paren_list<'a, T>(
    max: usize,
    lenient: bool,
    mut item: impl FnMut(&'a [u8]) -> PResult<'a, T>,
) -> impl FnMut(&'a [u8]) -> PResult<'a, Vec<T>> {
    move |input: &'a [u8]| {
        let (mut rest, _) = byte(b'(', "'('")(input)?;
        let mut items = Vec::new();
        let skip = |i: &'a [u8]| skip_extra_spaces(i, lenient);
        rest = skip(rest);
        if let Some(r) = rest.strip_prefix(b")") {
            return Ok((r, items));
        }
        loop {
            if items.len() == max {
                return too_many(rest, max, "')'");
            }
            let (r, value) = item(rest)?;
            items.push(value);
            rest = r;
            let before = rest;
            rest = skip(rest);
            if let Some(r) = rest.strip_prefix(b")") {
                return Ok((r, items));
            }
            if rest.len() == before.len() {
                (rest, _) = sp(rest)?;
                if lenient {
                    rest = skip(rest);
                }
            }
        }
    }
}

/// Skips a run of spaces.
#[inline(always)]
pub(crate) fn skip_spaces(input: &[u8]) -> &[u8] {
    // Almost always there is none: one comparison, inline.
    match input {
        [b' ', rest @ ..] => skip_more_spaces(rest),
        _ => input,
    }
}

#[cold]
#[inline(never)]
fn skip_more_spaces(input: &[u8]) -> &[u8] {
    let n = input.iter().take_while(|&&b| b == b' ').count();
    &input[n..]
}

/// Skips a run of spaces if `lenient` (the `extra_spaces` leniency).
#[inline(always)]
pub(crate) fn skip_extra_spaces(input: &[u8], lenient: bool) -> &[u8] {
    if lenient { skip_spaces(input) } else { input }
}

/// One space; with `lenient` (`extra_spaces`), a run of them. Inlined:
/// called between almost any two tokens, and as a call its result comes
/// back through memory.
#[inline(always)]
pub(crate) fn separator(input: &[u8], lenient: bool) -> PResult<'_, ()> {
    match input.strip_prefix(b" ") {
        Some(rest) => Ok((skip_extra_spaces(rest, lenient), ())),
        None => missing(input, "space"),
    }
}

/// The error of a missing punctuation byte, out of line.
#[cold]
#[inline(never)]
pub(crate) fn missing<'a>(input: &'a [u8], expected: &'static str) -> PResult<'a, ()> {
    fail(input, expected)
}

/// Runs `parser` on all of `text`: the value, or a [`TypeError`](crate::TypeError) naming the
/// byte and position where it failed (`problem` is what was expected
/// there). For the `FromStr` and `TryFrom<&str>` constructors of types that
/// are defined by their grammar.
pub(crate) fn parse_whole<'a, T>(
    what: &'static str,
    text: &'a [u8],
    parser: impl FnOnce(&'a [u8]) -> PResult<'a, T>,
) -> Result<T, crate::string::TypeError> {
    let at = |remaining: usize, problem: &'static str| {
        let position = text.len().saturating_sub(remaining);
        crate::string::TypeError {
            what,
            problem,
            byte: text.get(position).copied(),
            position: Some(position),
        }
    };
    match parser(text) {
        Ok(([], value)) => Ok(value),
        Ok((rest, _)) => Err(at(rest.len(), "end of the value")),
        Err(nom::Err::Error(e) | nom::Err::Failure(e)) => Err(at(e.remaining, e.expected)),
        Err(nom::Err::Incomplete(_)) => Err(at(0, "more input")),
    }
}

/// Parses the whole of `text` with `parser`, for a `FromStr`: a failure,
/// or anything left after the value, is a [`DecodeError`] at its offset in
/// `text`.
pub(crate) fn parse_str<'a, T>(
    text: &'a [u8],
    parser: impl FnOnce(&'a [u8]) -> PResult<'a, T>,
) -> Result<T, DecodeError> {
    match parser(text) {
        Ok(([], value)) => Ok(value),
        Ok((rest, _)) => Err(PError::at(rest, "end of the value").into_decode_error(text)),
        Err(nom::Err::Error(e) | nom::Err::Failure(e)) => Err(e.into_decode_error(text)),
        Err(nom::Err::Incomplete(_)) => Err(PError::at(b"", "more input").into_decode_error(text)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(number(b"4294967295 ").unwrap(), (&b" "[..], u32::MAX));
        assert_eq!(
            number(b"4294967296").unwrap_err(),
            nom::Err::Error(PError::kind(
                b"4294967296",
                ErrorKind::NumberOutOfRange,
                "32-bit number"
            ))
        );
        assert!(nz_number(b"0").is_err());
        assert!(nz_number(b"01").is_err());
        assert!(number64(b"9223372036854775808").is_err());
        assert_eq!(number64(b"9223372036854775807").unwrap().1, i64::MAX as u64);
        let mut v = Vec::new();
        put_number(&mut v, 1234567890);
        assert_eq!(v, b"1234567890");
        // Every digit count, at both edges.
        for k in 0..20 {
            let p = 10u64.pow(k);
            for n in [p - 1, p, p + 1, p.saturating_mul(9)] {
                v.clear();
                put_number(&mut v, n);
                assert_eq!(v, n.to_string().as_bytes());
            }
        }
        v.clear();
        put_number(&mut v, u64::MAX);
        assert_eq!(v, u64::MAX.to_string().as_bytes());
    }

    proptest::proptest! {
        /// `put_number` writes what `to_string` writes, after what is
        /// already in the buffer, for numbers of every length.
        #[test]
        fn put_number_matches_to_string(n in proptest::prelude::any::<u64>(), shift in 0u32..64) {
            let n = n >> shift;
            let mut out = b"x".to_vec();
            put_number(&mut out, n);
            let want = n.to_string();
            proptest::prop_assert_eq!(&out[1..], want.as_bytes());
        }

        /// The one-pass digit loop agrees with a checked parse of the
        /// digit run, for every length around the 18-digit switch.
        #[test]
        fn number64_matches_a_checked_parse(
            digits in "[0-9]{0,22}",
            tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..10),
        ) {
            // The digit run ends where the tail's first non-digit is.
            let tail_digits = tail.iter().take_while(|b| b.is_ascii_digit()).count();
            let digits = format!("{digits}{}", std::str::from_utf8(&tail[..tail_digits]).unwrap());
            let tail = &tail[tail_digits..];
            let input = [digits.as_bytes(), tail].concat();
            let expected = if digits.is_empty() {
                None
            } else {
                digits.parse::<u64>().ok().filter(|&n| n <= i64::MAX as u64)
            };
            match number64(&input) {
                Ok((rest, n)) => {
                    proptest::prop_assert_eq!(Some(n), expected);
                    proptest::prop_assert_eq!(rest, tail);
                }
                Err(_) => proptest::prop_assert_eq!(None, expected),
            }
        }
    }

    #[test]
    fn lists() {
        let mut p = paren_list(10, false, number);
        assert_eq!(p(b"(1 2 3)x").unwrap(), (&b"x"[..], vec![1, 2, 3]));
        assert_eq!(p(b"()").unwrap().1, Vec::<u32>::new());
        assert!(p(b"(1  2)").is_err());
        assert!(p(b"(1 2 )").is_err());
        let mut lenient = paren_list(10, true, number);
        assert_eq!(lenient(b"( 1  2 )").unwrap().1, vec![1, 2]);
        let mut short = paren_list(2, false, number);
        let Err(nom::Err::Error(e)) = short(b"(1 2 3)") else {
            panic!()
        };
        assert_eq!(e.kind, ErrorKind::TooMany { limit: 2 });
    }

    #[test]
    fn errors_report_the_furthest_alternative() {
        let mut p = nom::branch::alt((keyword("UID FETCH"), keyword("UNSELECT")));
        let Err(nom::Err::Error(e)) = p.parse(b"UNSUBSCRIBE") else {
            panic!()
        };
        assert_eq!(e.remaining, 11);
        let message = b"A1 UNSUBSCRIBE";
        let d = PError {
            remaining: 3,
            expected: "x",
            kind: ErrorKind::Syntax,
        }
        .into_decode_error(message);
        assert_eq!(d.offset, 11);
    }
}

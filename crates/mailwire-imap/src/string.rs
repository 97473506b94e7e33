//! The home of [`AString`] and what goes with it; the explanation of this
//! part of the grammar is on that type, where the rendered documentation
//! shows it.

use std::borrow::Cow;
use std::fmt;

use crate::decode::LiteralMode;
use crate::encode::Encoder;
use crate::parse::{PError, PResult, byte, crlf, fail, number64};

pub use mailwire_core::TypeError;
pub(crate) use mailwire_core::check_bytes;

const ATOM: u8 = 1;
const ASTRING: u8 = 2;
const TAG: u8 = 4;
const QUOTED: u8 = 8;
const LIST: u8 = 16;

/// Character classes of RFC 9051 section 9, one table lookup per byte.
static CLASSES: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b: u8 = 0x01;
    while b < 0x80 {
        let ctl = b < 0x20 || b == 0x7f;
        let quoted_special = b == b'"' || b == b'\\';
        let wildcard = b == b'%' || b == b'*';
        let atom_special = b == b'('
            || b == b')'
            || b == b'{'
            || b == b' '
            || ctl
            || wildcard
            || quoted_special
            || b == b']';
        let mut class = 0;
        if !atom_special {
            class |= ATOM | ASTRING | LIST;
            if b != b'+' {
                class |= TAG;
            }
        }
        if b == b']' {
            class |= ASTRING | TAG | LIST;
        }
        if wildcard {
            class |= LIST;
        }
        // TEXT-CHAR except quoted-specials.
        if b != b'\r' && b != b'\n' && !quoted_special {
            class |= QUOTED;
        }
        t[b as usize] = class;
        b += 1;
    }
    t
};

/// `ATOM-CHAR`.
pub(crate) fn is_atom_char(b: u8) -> bool {
    CLASSES[usize::from(b)] & ATOM != 0
}

/// `ASTRING-CHAR = ATOM-CHAR / resp-specials`.
pub(crate) fn is_astring_char(b: u8) -> bool {
    CLASSES[usize::from(b)] & ASTRING != 0
}

/// `list-char = ATOM-CHAR / list-wildcards / resp-specials`.
pub(crate) fn is_list_char(b: u8) -> bool {
    CLASSES[usize::from(b)] & LIST != 0
}

fn is_tag_char(b: u8) -> bool {
    CLASSES[usize::from(b)] & TAG != 0
}

fn take_class(input: &[u8], class: u8) -> usize {
    input
        .iter()
        .take_while(|&&b| CLASSES[usize::from(b)] & class != 0)
        .count()
}

macro_rules! text_newtype {
    ($(#[$meta:meta])* $name:ident, $what:literal, $class:expr) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash)]
        pub struct $name<'a>(Cow<'a, str>);

        impl<'a> $name<'a> {
            /// Validates the value.
            pub fn new(value: impl Into<Cow<'a, str>>) -> Result<Self, TypeError> {
                let value = value.into();
                if value.is_empty() {
                    return Err(TypeError::problem($what, "must not be empty"));
                }
                check_bytes($what, value.as_bytes(), |b| CLASSES[usize::from(b)] & $class != 0)?;
                Ok($name(value))
            }

            /// The value as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Converts to a value that owns its data.
            pub fn into_owned(self) -> $name<'static> {
                $name(Cow::Owned(self.0.into_owned()))
            }

            /// The value from byte `start` on, borrowed where the value is;
            /// `None` when that is empty or not at a character boundary.
            #[allow(dead_code)] // not every newtype needs it
            pub(crate) fn tail(self, start: usize) -> Option<$name<'a>> {
                if start >= self.0.len() || !self.0.is_char_boundary(start) {
                    return None;
                }
                // A suffix of a valid value is valid (one class for every byte).
                Some($name(match self.0 {
                    Cow::Borrowed(s) => Cow::Borrowed(&s[start..]),
                    Cow::Owned(s) => Cow::Owned(s[start..].to_owned()),
                }))
            }

            /// Parses the value at the start of `input`.
            pub(crate) fn parse(input: &'a [u8]) -> PResult<'a, Self> {
                let n = take_class(input, $class);
                if n == 0 {
                    return fail(input, $what);
                }
                // The class holds ASCII only.
                let text = std::str::from_utf8(&input[..n]).unwrap_or_default();
                Ok((&input[n..], $name(Cow::Borrowed(text))))
            }
        }

        /// The text as it is sent, without the type's name: wrapped in
        /// other values, it reads as the wire does.
        impl fmt::Debug for $name<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Display for $name<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<'a> TryFrom<&'a str> for $name<'a> {
            type Error = TypeError;
            fn try_from(value: &'a str) -> Result<Self, TypeError> {
                $name::new(value)
            }
        }
    };
}

text_newtype!(
    /// A command tag: `tag = 1*<any ASTRING-CHAR except "+">`.
    Tag,
    "tag",
    TAG
);

text_newtype!(
    /// An atom: `atom = 1*ATOM-CHAR`.
    Atom,
    "atom",
    ATOM
);

text_newtype!(
    /// The atom form of an astring: `1*ASTRING-CHAR` (an atom that may also
    /// hold `]`).
    AstringAtom,
    "astring atom",
    ASTRING
);

/// A quoted string: `quoted = DQUOTE *QUOTED-CHAR DQUOTE`. Holds the
/// content without quotes and escapes.
///
/// Borrowed content never holds `"` or `\\` (content with them is copied
/// when the value is made, and the decoder borrows only strings sent without
/// escapes), so the encoder writes borrowed content without looking for
/// characters to escape: a FETCH response decoded and sent on is copied,
/// not scanned.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Quoted<'a>(Cow<'a, [u8]>);

/// `value`, owned when it is borrowed and holds `"` or `\\` (see
/// [`Quoted`]).
fn unescaped_form(value: Cow<'_, [u8]>) -> Cow<'_, [u8]> {
    match value {
        Cow::Borrowed(b) if memchr::memchr2(b'"', b'\\', b).is_some() => Cow::Owned(b.to_vec()),
        value => value,
    }
}

/// Checks what a quoted string may hold: no CR, LF or NUL; 8-bit bytes
/// only as UTF-8 (RFC 9051 allows UTF8-2/3/4 in QUOTED-CHAR).
fn check_quoted(value: &[u8]) -> Result<(), TypeError> {
    check_bytes("quoted string", value, |b| !matches!(b, b'\r' | b'\n' | 0))?;
    if !value.is_ascii() && std::str::from_utf8(value).is_err() {
        return Err(TypeError::problem("quoted string", "8-bit content must be UTF-8"));
    }
    Ok(())
}

/// Whether the cheapest `string` form of `value` is quoted: it can be
/// quoted, and is short enough that a literal would not be cheaper to
/// read.
pub(crate) fn quotable(value: &[u8]) -> bool {
    value.len() <= 1024 && check_quoted(value).is_ok()
}

/// Checks what a literal may hold: `CHAR8 = %x01-ff`.
pub(crate) fn check_char8(data: &[u8]) -> Result<(), TypeError> {
    match memchr::memchr(0, data) {
        Some(p) => Err(TypeError {
            what: "literal",
            problem: "byte not allowed",
            byte: Some(0),
            position: Some(p),
        }),
        None => Ok(()),
    }
}

impl<'a> Quoted<'a> {
    /// Validates the content: no CR, LF or NUL; 8-bit bytes only as UTF-8
    /// (RFC 9051 allows UTF8-2/3/4 in QUOTED-CHAR).
    pub fn new(value: impl Into<Cow<'a, [u8]>>) -> Result<Self, TypeError> {
        let value = value.into();
        check_quoted(&value)?;
        Ok(Quoted(unescaped_form(value)))
    }

    /// The content, unescaped.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> Quoted<'static> {
        Quoted(Cow::Owned(self.0.into_owned()))
    }

    /// A quoted string holding `content` as it is (the caller checked it,
    /// and it holds no `"` or `\\`).
    #[inline(always)]
    pub(crate) fn borrowed(content: &'a [u8]) -> Self {
        Quoted(Cow::Borrowed(content))
    }

    /// `quoted`; with `eight_bit`, any 8-bit byte is accepted (servers that
    /// send Latin-1 in quoted strings).
    #[inline]
    pub(crate) fn parse(input: &'a [u8], eight_bit: bool) -> PResult<'a, Self> {
        let (rest, _) = byte(b'"', "'\"'")(input)?;
        // The common case, 7-bit text without escapes: borrowed as it is.
        if let Some(i) = plain_quoted_len(rest) {
            if rest[i] == b'"' {
                return Ok((&rest[i + 1..], Quoted(Cow::Borrowed(&rest[..i]))));
            }
        }
        Self::parse_escaped(rest, eight_bit)
    }

    /// The rest of `quoted` after the opening quote, escapes and errors
    /// included.
    #[cold]
    fn parse_escaped(after_quote: &'a [u8], eight_bit: bool) -> PResult<'a, Self> {
        let mut rest = after_quote;
        let start = rest;
        let mut owned: Option<Vec<u8>> = None;
        loop {
            let Some(i) = find_quoted_special(rest) else {
                return fail(&rest[rest.len()..], "'\"'");
            };
            let chunk = &rest[..i];
            if !eight_bit && !chunk.is_ascii() && std::str::from_utf8(chunk).is_err() {
                let bad = chunk.iter().position(|b| !b.is_ascii()).unwrap_or(0);
                return fail(&rest[bad..], "UTF-8 or 7-bit text");
            }
            match rest[i] {
                b'"' => {
                    let value = match owned {
                        Some(mut v) => {
                            v.extend_from_slice(chunk);
                            Cow::Owned(v)
                        }
                        None => Cow::Borrowed(&start[..i]),
                    };
                    return Ok((&rest[i + 1..], Quoted(value)));
                }
                b'\\' => match rest.get(i + 1) {
                    Some(&c @ (b'"' | b'\\')) => {
                        let v = owned.get_or_insert_with(Vec::new);
                        v.extend_from_slice(chunk);
                        v.push(c);
                        rest = &rest[i + 2..];
                    }
                    _ => return fail(&rest[i + 1..], "'\"' or '\\' after '\\'"),
                },
                _ => return fail(&rest[i..], "'\"'"),
            }
        }
    }

    fn encode(&self, out: &mut Vec<u8>) {
        match &self.0 {
            Cow::Borrowed(plain) => write_plain_quoted(out, plain),
            Cow::Owned(content) => write_quoted(out, content),
        }
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `v` below `n` (at most 0x80) is set,
/// exactly up to and including the first such byte (above it, borrows may
/// set more), so the lowest set bit is exact.
#[inline(always)]
fn bytes_below(v: u64, n: u8) -> u64 {
    v.wrapping_sub(ONES * u64::from(n)) & !v & HIGHS
}

/// The bytes of `v` equal to `b`, flagged as by [`bytes_below`].
#[inline(always)]
fn bytes_equal(v: u64, b: u8) -> u64 {
    bytes_below(v ^ (ONES * u64::from(b)), 1)
}

/// Reads 8 bytes at `at`, if there are.
#[inline(always)]
fn word_at(bytes: &[u8], at: usize) -> Option<u64> {
    let chunk = bytes.get(at..at.checked_add(8)?)?;
    let mut word = [0u8; 8];
    word.copy_from_slice(chunk);
    Some(u64::from_le_bytes(word))
}

/// The common case of `quoted`: `after_quote` (the input after the opening
/// quote) holds 7-bit text without escapes up to a closing quote; its
/// length. Small enough to come back in registers.
#[inline(always)]
pub(crate) fn plain_quoted(after_quote: &[u8]) -> Option<usize> {
    let i = plain_quoted_len(after_quote)?;
    (after_quote.get(i) == Some(&b'"')).then_some(i)
}

/// The position of the first byte that ends a run of plain 7-bit quoted
/// text: `"`, `\\`, a control character or a byte above 0x7F. Eight bytes
/// at a time: quoted strings fill FETCH responses, and the message goes on
/// after them, so whole words are almost always there. Out of line: inlined
/// into a parser, the loop's five constants and its state do not fit in
/// the registers left, and it spills on every word.
#[inline(never)]
fn plain_quoted_len(bytes: &[u8]) -> Option<usize> {
    let mut at = 0;
    while let Some(v) = word_at(bytes, at) {
        let hit = bytes_equal(v, b'"') | bytes_equal(v, b'\\') | bytes_below(v, 0x20) | (v & HIGHS);
        if hit != 0 {
            return Some(at + (hit.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    bytes[at..]
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || !(0x20..=0x7f).contains(&b))
        .map(|i| at + i)
}

/// The position of the first `"`, `\\`, CR, LF or NUL.
fn find_quoted_special(bytes: &[u8]) -> Option<usize> {
    let mut at = 0;
    while let Some(v) = word_at(bytes, at) {
        let hit = bytes_equal(v, b'"')
            | bytes_equal(v, b'\\')
            | bytes_equal(v, b'\r')
            | bytes_equal(v, b'\n')
            | bytes_below(v, 1);
        if hit != 0 {
            return Some(at + (hit.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    bytes[at..]
        .iter()
        .position(|&b| matches!(b, b'"' | b'\\' | b'\r' | b'\n' | 0))
        .map(|i| at + i)
}

/// Writes `bytes` as a quoted string, escaping `"` and `\\`. Almost no
/// string needs an escape, so the scan for one and the copy are one pass
/// of whole words: the strings of envelopes and body structures are short,
/// and a few fixed-size stores beat a call to `memcpy`. The last word
/// overlaps the one before it (written after a `truncate`) instead of
/// ending in a byte loop.
#[inline]
pub(crate) fn write_quoted(out: &mut Vec<u8>, bytes: &[u8]) {
    let special = |v: u64| bytes_equal(v, b'"') | bytes_equal(v, b'\\') != 0;
    let len = bytes.len();
    out.reserve(len + 2);
    out.push(b'"');
    let start = out.len();
    if len < 8 {
        if bytes
            .iter()
            .fold(false, |hit, &b| hit | (b == b'"') | (b == b'\\'))
        {
            out.truncate(start - 1);
            return write_quoted_escaped(out, bytes);
        }
        if len >= 4 {
            let half = |at: usize| bytes.get(at..at + 4).map(|w| [w[0], w[1], w[2], w[3]]);
            if let (Some(head), Some(tail)) = (half(0), half(len - 4)) {
                out.extend_from_slice(&head);
                out.truncate(start + len - 4);
                out.extend_from_slice(&tail);
            }
        } else {
            out.extend_from_slice(bytes);
        }
    } else {
        let mut at = 0;
        while let Some(v) = word_at(bytes, at) {
            if special(v) {
                out.truncate(start - 1);
                return write_quoted_escaped(out, bytes);
            }
            out.extend_from_slice(&v.to_le_bytes());
            at += 8;
        }
        if let Some(v) = word_at(bytes, len - 8).filter(|_| at < len) {
            if special(v) {
                out.truncate(start - 1);
                return write_quoted_escaped(out, bytes);
            }
            out.truncate(start + len - 8);
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    out.push(b'"');
}

/// Writes `bytes`, which holds no `"` or `\\`, as a quoted string.
#[inline]
fn write_plain_quoted(out: &mut Vec<u8>, bytes: &[u8]) {
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    out.extend_from_slice(bytes);
    out.push(b'"');
}

#[cold]
fn write_quoted_escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    out.reserve(bytes.len() + 4);
    out.push(b'"');
    for &b in bytes {
        if b == b'"' || b == b'\\' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'"');
}

/// The content in quotes, escaped as Rust escapes a string: `"Ann"`.
impl fmt::Debug for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&String::from_utf8_lossy(&self.0), f)
    }
}

/// The wire form: `"Ann"`, with `"` and `\\` escaped.
impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = Vec::new();
        self.encode(&mut out);
        f.write_str(&String::from_utf8_lossy(&out))
    }
}

impl Quoted<'static> {
    /// `""`.
    pub(crate) const EMPTY: Quoted<'static> = Quoted(Cow::Borrowed(b""));
}

/// A literal: `literal = "{" number64 ["+"] "}" CRLF *CHAR8`, or with
/// `binary`, `literal8 = "~{" number64 "}" CRLF *OCTET` (RFC 3516).
///
/// Two literals are equal when their data and kind are: whether one was
/// sent synchronizing is a transport detail the encoder decides per
/// connection.
#[derive(Clone)]
pub struct Literal<'a> {
    data: Cow<'a, [u8]>,
    /// How it was (or should be) sent.
    pub mode: LiteralMode,
    binary: bool,
}

impl PartialEq for Literal<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.data == other.data && self.binary == other.binary
    }
}

impl Eq for Literal<'_> {}

impl std::hash::Hash for Literal<'_> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.data.hash(state);
        self.binary.hash(state);
    }
}

impl<'a> Literal<'a> {
    /// A literal: any bytes but NUL (`CHAR8 = %x01-ff`).
    pub fn new(data: impl Into<Cow<'a, [u8]>>) -> Result<Self, TypeError> {
        let data = data.into();
        check_char8(&data)?;
        Ok(Literal {
            data,
            mode: LiteralMode::Sync,
            binary: false,
        })
    }

    /// A literal8: any octets (RFC 3516).
    pub fn binary(data: impl Into<Cow<'a, [u8]>>) -> Self {
        Literal {
            data: data.into(),
            mode: LiteralMode::Sync,
            binary: true,
        }
    }

    /// The data.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// Whether this is a literal8.
    pub fn is_binary(&self) -> bool {
        self.binary
    }

    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> Literal<'static> {
        Literal {
            data: Cow::Owned(self.data.into_owned()),
            mode: self.mode,
            binary: self.binary,
        }
    }

    /// `literal` / `literal8`. The framer has checked the length against
    /// the limit, and the data is in `input`.
    pub(crate) fn parse(input: &'a [u8], bare_lf: bool) -> PResult<'a, Self> {
        let (rest, binary) = match input.first() {
            Some(b'~') => (&input[1..], true),
            _ => (input, false),
        };
        let (rest, _) = byte(b'{', "'{'")(rest)?;
        let (rest, length) = number64(rest)?;
        let (rest, mode) = match rest.first() {
            Some(b'+') => (&rest[1..], LiteralMode::NonSync),
            _ => (rest, LiteralMode::Sync),
        };
        let (rest, _) = byte(b'}', "'}'")(rest)?;
        let (rest, ()) = crlf(bare_lf)(rest)?;
        let Some(data) = usize::try_from(length).ok().and_then(|n| rest.get(..n)) else {
            return fail(&rest[rest.len()..], "literal data");
        };
        if !binary {
            // memchr: a message body can be megabytes long.
            if let Some(p) = memchr::memchr(0, data) {
                return fail(&rest[p..], "CHAR8 (NUL only in literal8)");
            }
        }
        Ok((
            &rest[data.len()..],
            Literal {
                data: Cow::Borrowed(data),
                mode,
                binary,
            },
        ))
    }
}

/// The header and the start of the data: `{5}"hello"`, `~{3}"a\0b"`, and
/// `{70}"..."...` past 64 bytes.
impl fmt::Debug for Literal<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOW: usize = 64;
        let shown = &self.data[..self.data.len().min(SHOW)];
        write!(
            f,
            "{}{{{}}}{:?}{}",
            if self.binary { "~" } else { "" },
            self.data.len(),
            String::from_utf8_lossy(shown),
            if self.data.len() > SHOW { "..." } else { "" }
        )
    }
}

/// The wire form: the header (`{5}` or `~{5}`), CRLF and the data.
impl fmt::Display for Literal<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::encode::fmt_wire(f, |e| e.literal_data(&self.data, self.binary))
    }
}

/// `string = quoted / literal`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum IString<'a> {
    /// A quoted string.
    Quoted(Quoted<'a>),
    /// A literal.
    Literal(Literal<'a>),
}

impl<'a> IString<'a> {
    /// Whether the string borrows its bytes (and so owns no memory).
    #[inline(always)]
    pub(crate) fn is_borrowed(&self) -> bool {
        match self {
            IString::Quoted(q) => matches!(q.0, Cow::Borrowed(_)),
            IString::Literal(l) => matches!(l.data, Cow::Borrowed(_)),
        }
    }

    /// The cheapest form that holds `value`: quoted when it can, a literal
    /// otherwise; `None` if even a literal cannot (NUL).
    pub fn from_bytes(value: impl Into<Cow<'a, [u8]>>) -> Result<Self, TypeError> {
        let value = value.into();
        if quotable(&value) {
            return Ok(IString::Quoted(Quoted(unescaped_form(value))));
        }
        Literal::new(value).map(IString::Literal)
    }

    /// The content.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            IString::Quoted(q) => q.as_bytes(),
            IString::Literal(l) => l.data(),
        }
    }

    /// The content, borrowed from the input where it was.
    pub fn into_bytes(self) -> Cow<'a, [u8]> {
        match self {
            IString::Quoted(q) => q.0,
            IString::Literal(l) => l.data,
        }
    }

    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> IString<'static> {
        match self {
            IString::Quoted(q) => IString::Quoted(q.into_owned()),
            IString::Literal(l) => IString::Literal(l.into_owned()),
        }
    }

    /// `string = quoted / literal`.
    pub(crate) fn parse(input: &'a [u8], leniency: &crate::Leniency) -> PResult<'a, Self> {
        match input.first() {
            Some(b'"') => {
                Quoted::parse(input, leniency.eight_bit_quoted).map(|(r, q)| (r, IString::Quoted(q)))
            }
            Some(b'{') => Literal::parse(input, leniency.bare_lf).map(|(r, l)| (r, IString::Literal(l))),
            _ => fail(input, "string"),
        }
    }

    pub(crate) fn encode<'e>(&'e self, e: &mut Encoder<'e>) {
        match self {
            IString::Quoted(q) => q.encode(e.line()),
            // A literal8 only where the grammar has one (or where
            // nothing else holds the data): see `Encoder::with_literal8`.
            IString::Literal(l) => e.literal_data(&l.data, l.binary && e.keeps_literal8(&l.data)),
        }
    }
}

/// `astring = 1*ASTRING-CHAR / string`.
///
/// The core string types of IMAP (RFC 9051 section 4 and 9): tags, atoms,
/// quoted strings, literals, astrings and nstrings.
///
/// Values are validated on construction and borrow from decoded input.
/// A value remembers the form it was sent in (atom, quoted, literal), so
/// decoding what was encoded gives back the same value; the constructors
/// from plain text ([`AString::from_bytes`], [`IString::from_bytes`]) pick
/// the cheapest valid form.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum AString<'a> {
    /// The atom form.
    Atom(AstringAtom<'a>),
    /// A quoted string or literal.
    String(IString<'a>),
}

impl<'a> AString<'a> {
    /// The cheapest form that holds `value`: atom, quoted, then literal.
    pub fn from_bytes(value: impl Into<Cow<'a, [u8]>>) -> Result<Self, TypeError> {
        let value = value.into();
        if !value.is_empty() && value.iter().all(|&b| is_astring_char(b)) {
            let atom = match value {
                Cow::Borrowed(b) => Cow::Borrowed(std::str::from_utf8(b).unwrap_or_default()),
                Cow::Owned(v) => Cow::Owned(String::from_utf8(v).unwrap_or_default()),
            };
            return Ok(AString::Atom(AstringAtom(atom)));
        }
        IString::from_bytes(value).map(AString::String)
    }

    /// The content.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            AString::Atom(a) => a.as_str().as_bytes(),
            AString::String(s) => s.as_bytes(),
        }
    }

    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> AString<'static> {
        match self {
            AString::Atom(a) => AString::Atom(a.into_owned()),
            AString::String(s) => AString::String(s.into_owned()),
        }
    }

    /// `astring = 1*ASTRING-CHAR / string`.
    pub(crate) fn parse(input: &'a [u8], leniency: &crate::Leniency) -> PResult<'a, Self> {
        match input.first() {
            Some(b'"' | b'{') => IString::parse(input, leniency).map(|(r, s)| (r, AString::String(s))),
            _ => AstringAtom::parse(input)
                .map(|(r, a)| (r, AString::Atom(a)))
                .map_err(|_| nom::Err::Error(PError::at(input, "astring"))),
        }
    }

    pub(crate) fn encode<'e>(&'e self, e: &mut Encoder<'e>) {
        match self {
            AString::Atom(a) => e.put(a.as_str().as_bytes()),
            AString::String(s) => s.encode(e),
        }
    }
}

/// `nstring = string / nil`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct NString<'a>(pub Option<IString<'a>>);

impl<'a> NString<'a> {
    /// NIL.
    pub const NIL: NString<'static> = NString(None);

    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> NString<'static> {
        NString(self.0.map(IString::into_owned))
    }

    /// The content, `None` for NIL.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        self.0.as_ref().map(IString::as_bytes)
    }

    /// `nstring = string / nil`.
    pub(crate) fn parse(input: &'a [u8], leniency: &crate::Leniency) -> PResult<'a, Self> {
        if crate::parse::is_nil(input) {
            return Ok((&input[3..], NString(None)));
        }
        IString::parse(input, leniency)
            .map(|(r, s)| (r, NString(Some(s))))
            .map_err(|e| match e {
                nom::Err::Error(e) if e.remaining == input.len() => {
                    nom::Err::Error(PError::at(input, "string or NIL"))
                }
                e => e,
            })
    }

    pub(crate) fn encode<'e>(&'e self, e: &mut Encoder<'e>) {
        match &self.0 {
            Some(s) => s.encode(e),
            None => e.put(b"NIL"),
        }
    }
}

/// The form it holds, as [`Quoted`] and [`Literal`] print it.
impl fmt::Debug for IString<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IString::Quoted(q) => fmt::Debug::fmt(q, f),
            IString::Literal(l) => fmt::Debug::fmt(l, f),
        }
    }
}

crate::encode::display_wire! {
    /// The wire form: quoted or a literal.
    IString;
}

/// The form it holds: an atom bare (`INBOX`), a string as
/// [`IString`] prints it.
impl fmt::Debug for AString<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AString::Atom(a) => fmt::Debug::fmt(a, f),
            AString::String(s) => fmt::Debug::fmt(s, f),
        }
    }
}

crate::encode::display_wire! {
    /// The wire form: an atom, quoted or a literal.
    AString;
}

/// `NIL`, or the string as [`IString`] prints it.
impl fmt::Debug for NString<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(s) => fmt::Debug::fmt(s, f),
            None => f.write_str("NIL"),
        }
    }
}

crate::encode::display_wire! {
    /// The wire form: `NIL`, quoted or a literal.
    NString;
}

/// Implements `TryFrom<&str>` through a constructor from bytes.
macro_rules! try_from_str {
    ($($(#[$doc:meta])* $name:ident => $make:expr;)*) => {$(
        $(#[$doc])*
        impl<'a> TryFrom<&'a str> for $name<'a> {
            type Error = TypeError;
            fn try_from(value: &'a str) -> Result<Self, TypeError> {
                ($make)(value.as_bytes())
            }
        }
    )*};
}

try_from_str! {
    /// The text as it is, if a quoted string can hold it (see
    /// [`Quoted::new`]).
    Quoted => Quoted::new;
    /// A literal holding the text (see [`Literal::new`]).
    Literal => Literal::new;
    /// The cheapest form that holds the text (see [`IString::from_bytes`]).
    IString => IString::from_bytes;
    /// The cheapest form that holds the text (see [`AString::from_bytes`]).
    AString => AString::from_bytes;
    /// A string (never NIL) in the cheapest form that holds the text.
    NString => |v: &'a [u8]| IString::from_bytes(v).map(|s| NString(Some(s)));
}

/// Reads the tag of a message for error reports, if it has one.
pub(crate) fn peek_tag(message: &[u8]) -> Option<Tag<'static>> {
    let n = message.iter().take_while(|&&b| is_tag_char(b)).count();
    if n == 0 || message.get(n) != Some(&b' ') {
        return None;
    }
    Tag::new(String::from_utf8_lossy(&message[..n]).into_owned()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Leniency;

    fn lenient() -> Leniency {
        Leniency::LENIENT
    }

    #[test]
    fn character_classes() {
        assert!(is_atom_char(b'a') && is_atom_char(b'+') && is_atom_char(b'['));
        for b in [
            b'(', b')', b'{', b' ', b'%', b'*', b'"', b'\\', b']', 0x7f, 0x1f, 0x80,
        ] {
            assert!(!is_atom_char(b), "{b:#x}");
        }
        assert!(is_astring_char(b']') && !is_astring_char(b'%'));
        assert!(is_list_char(b'%') && is_list_char(b'*') && is_list_char(b']'));
        assert!(Tag::new("A001").is_ok());
        assert!(Tag::new("+A").is_err() && Tag::new("a b").is_err() && Tag::new("").is_err());
        let e = Tag::new("ab{c").unwrap_err();
        assert_eq!((e.byte, e.position), (Some(b'{'), Some(2)));
    }

    #[test]
    fn quoted_strings() {
        let (rest, q) = Quoted::parse(br#""a\"b\\c" x"#, false).unwrap();
        assert_eq!((rest, q.as_bytes()), (&b" x"[..], &br#"a"b\c"#[..]));
        let (_, q) = Quoted::parse(b"\"plain\"", false).unwrap();
        assert!(matches!(q.0, Cow::Borrowed(_)));
        assert!(Quoted::parse(b"\"a\r\nb\"", false).is_err());
        assert!(Quoted::parse(b"\"\\a\"", false).is_err());
        let (rest, q) = Quoted::parse(b"\"caf\xc3\xa9\"", false).unwrap();
        assert_eq!((rest, q.as_bytes()), (&b""[..], &b"caf\xc3\xa9"[..]));
        assert!(Quoted::parse(b"\"caf\xe9\"", false).is_err());
        let (rest, eight) = Quoted::parse(b"\"caf\xe9\"", true).unwrap();
        assert_eq!((rest, eight.as_bytes()), (&b""[..], &b"caf\xe9"[..]));
        let (_, q) = Quoted::parse(b"\"plain\"", false).unwrap();
        let mut out = Vec::new();
        q.encode(&mut out);
        assert_eq!(out, b"\"plain\"");
    }

    #[test]
    fn literals() {
        let (rest, l) = Literal::parse(b"{5}\r\nhello rest", false).unwrap();
        assert_eq!(
            (rest, l.data(), l.mode),
            (&b" rest"[..], &b"hello"[..], LiteralMode::Sync)
        );
        let (_, l) = Literal::parse(b"{2+}\r\nhi", false).unwrap();
        assert_eq!(l.mode, LiteralMode::NonSync);
        let (_, l) = Literal::parse(b"~{3}\r\na\0b", false).unwrap();
        assert!(l.is_binary());
        assert!(Literal::parse(b"{3}\r\na\0b", false).is_err());
        assert!(Literal::parse(b"{3}\nabc", false).is_err());
        let (rest, l) = Literal::parse(b"{3}\nabc", true).unwrap();
        assert_eq!((rest, l.data()), (&b""[..], &b"abc"[..]));
    }

    #[test]
    fn astrings_pick_the_cheapest_form() {
        assert!(matches!(
            AString::from_bytes(&b"INBOX"[..]).unwrap(),
            AString::Atom(_)
        ));
        assert!(matches!(
            AString::from_bytes(&b"a]b"[..]).unwrap(),
            AString::Atom(_)
        ));
        assert!(matches!(
            AString::from_bytes(&b"two words"[..]).unwrap(),
            AString::String(IString::Quoted(_))
        ));
        assert!(matches!(
            AString::from_bytes(&b""[..]).unwrap(),
            AString::String(IString::Quoted(_))
        ));
        assert!(matches!(
            AString::from_bytes(&b"line\r\nbreak"[..]).unwrap(),
            AString::String(IString::Literal(_))
        ));
        assert!(AString::from_bytes(&b"nul\0"[..]).is_err());
        let (_, a) = AString::parse(b"\"x y\"", &lenient()).unwrap();
        assert_eq!(a.as_bytes(), b"x y");
        let (_, n) = NString::parse(b"nil)", &lenient()).unwrap();
        assert_eq!(n, NString::NIL);
    }

    /// Borrowed content is written without a scan for `"` and `\\`, so
    /// every way of making a borrowed value must leave those out of it.
    #[test]
    fn borrowed_quoted_content_is_never_escaped_content() {
        let encode = |q: &Quoted<'_>| {
            let mut out = Vec::new();
            q.encode(&mut out);
            out
        };
        let made = Quoted::new(&br#"say "hi" \ bye"#[..]).unwrap();
        assert!(matches!(made.0, Cow::Owned(_)));
        assert_eq!(encode(&made), br#""say \"hi\" \\ bye""#);
        let plain = Quoted::new(&b"plain text"[..]).unwrap();
        assert!(matches!(plain.0, Cow::Borrowed(_)));
        assert_eq!(encode(&plain), br#""plain text""#);
        let Ok(IString::Quoted(from_bytes)) = IString::from_bytes(&b"a\\b"[..]) else {
            panic!("a quoted string")
        };
        assert_eq!(encode(&from_bytes), br#""a\\b""#);
        // Decoded: borrowed only when sent without escapes.
        for (wire, encoded) in [
            (&br#""no escapes" "#[..], &br#""no escapes""#[..]),
            (br#""one \" quote" "#, br#""one \" quote""#),
            (b"\"8-bit \\\\ caf\xc3\xa9\" ", b"\"8-bit \\\\ caf\xc3\xa9\""),
        ] {
            let (_, q) = Quoted::parse(wire, false).unwrap();
            assert_eq!(encode(&q), encoded);
            assert!(matches!(q.0, Cow::Owned(_)) || memchr::memchr2(b'"', b'\\', q.as_bytes()).is_none());
        }
    }

    #[test]
    fn tags_of_messages() {
        assert_eq!(peek_tag(b"a001 LOGIN x y").unwrap().as_str(), "a001");
        assert_eq!(peek_tag(b"+ go ahead"), None);
        assert_eq!(peek_tag(b"a001"), None);
    }

    proptest::proptest! {
        /// The word-at-a-time scans find what a byte-by-byte scan finds.
        #[test]
        fn quoted_scans_match_byte_by_byte(
            bytes in proptest::collection::vec(
                proptest::prop_oneof![
                    4 => 0x20u8..0x7f,
                    1 => proptest::prelude::any::<u8>(),
                    1 => proptest::sample::select(vec![b'"', b'\\', b'\r', b'\n', 0, 0x7f, 0x80, 0xff]),
                ],
                0..40,
            )
        ) {
            let special = bytes.iter().position(|&b| matches!(b, b'"' | b'\\' | b'\r' | b'\n' | 0));
            proptest::prop_assert_eq!(find_quoted_special(&bytes), special);
            let plain = bytes.iter().position(|&b| b == b'"' || b == b'\\' || !(0x20..=0x7f).contains(&b));
            proptest::prop_assert_eq!(plain_quoted_len(&bytes), plain);
            // write_quoted escapes exactly what a byte-by-byte writer does.
            let mut naive = vec![b'"'];
            for &b in &bytes {
                if b == b'"' || b == b'\\' {
                    naive.push(b'\\');
                }
                naive.push(b);
            }
            naive.push(b'"');
            let mut out = b"x".to_vec();
            write_quoted(&mut out, &bytes);
            proptest::prop_assert_eq!(&out[1..], &naive[..]);
            // A value made from borrowed bytes encodes the same way.
            if let Ok(q) = Quoted::new(&bytes[..]) {
                let mut out = Vec::new();
                q.encode(&mut out);
                proptest::prop_assert_eq!(out, naive);
            }
        }
    }
}

//! Text for SEARCH: undoing transfer encodings, converting charsets to
//! UTF-8, decoding RFC 2047 encoded words, and case-insensitive substring
//! matching.
//!
//! Decoding here is lenient, unlike `BINARY` (which must refuse what does
//! not decode): a search should find what a reader would see, so broken
//! encodings are decoded as far as they go and never make a part
//! unsearchable.

use std::borrow::Cow;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use mail_parser::decoders::charsets::map::charset_decoder;
use mail_parser::decoders::quoted_printable::quoted_printable_decode;
use memchr::memmem;

/// Folds text for case-insensitive comparison: `char::to_lowercase`, plus
/// the simple case folds of Unicode's CaseFolding.txt that lowercasing
/// misses (final sigma, long s, the Greek symbol variants, the Greek
/// prosgegrammeni), so that `Σ`, `σ` and `ς` all match. Full folding (`ß`
/// against `ss`) and normalization (composed against decomposed accents)
/// are not done.
pub(crate) fn fold_into(text: &str, out: &mut String) {
    out.reserve(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        // Runs of ASCII are copied and lowercased in bulk.
        let ascii = rest.bytes().position(|b| !b.is_ascii()).unwrap_or(rest.len());
        let (run, tail) = rest.split_at(ascii);
        let start = out.len();
        out.push_str(run);
        out[start..].make_ascii_lowercase();
        let mut chars = tail.chars();
        let Some(c) = chars.next() else { break };
        rest = chars.as_str();
        let code = u32::from(c);
        if code < 0x100 {
            // Latin-1: À-Þ (but ×) lower by 0x20; the rest are unchanged.
            let lower = if (0xC0..=0xDE).contains(&code) && code != 0xD7 {
                code + 0x20
            } else {
                code
            };
            out.push(char::from_u32(lower).unwrap_or(c));
            continue;
        }
        let special = match c {
            'ς' => 'σ',
            'ſ' => 's',
            'ϐ' => 'β',
            'ϑ' => 'θ',
            'ϕ' => 'φ',
            'ϖ' => 'π',
            'ϰ' => 'κ',
            'ϱ' => 'ρ',
            'ϵ' => 'ε',
            'ẛ' => 'ṡ',
            '\u{345}' | '\u{1FBE}' => 'ι',
            _ => {
                out.extend(c.to_lowercase());
                continue;
            }
        };
        out.push(special);
    }
}

/// [`fold_into`] into a new string.
pub(crate) fn fold(text: &str) -> String {
    let mut out = String::new();
    fold_into(text, &mut out);
    out
}

/// A search string, folded once, with its substring finder.
#[derive(Debug, Clone)]
pub(crate) struct Needle {
    folded: String,
    finder: memmem::Finder<'static>,
}

impl Needle {
    pub(crate) fn new(text: &str) -> Needle {
        let folded = fold(text);
        let finder = memmem::Finder::new(folded.as_bytes()).into_owned();
        Needle { folded, finder }
    }

    /// Whether the search string is empty (it then matches any text).
    pub(crate) fn is_empty(&self) -> bool {
        self.folded.is_empty()
    }

    /// Whether it occurs in `haystack`, which must already be folded.
    pub(crate) fn in_folded(&self, haystack: &str) -> bool {
        self.finder.find(haystack.as_bytes()).is_some()
    }
}

/// Undoes quoted-printable with mail-parser's decoder; content that is not
/// valid quoted-printable (`=ZZ`) is searched as it is.
pub(crate) fn quoted_printable(data: &[u8]) -> Cow<'_, [u8]> {
    match quoted_printable_decode(data) {
        Some(decoded) => Cow::Owned(decoded),
        None => Cow::Borrowed(data),
    }
}

/// The decoder of [`base64`]: the standard alphabet, padding neither
/// required nor checked (it is removed first), bits of a final incomplete
/// octet ignored.
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);

/// Undoes base64 leniently, with the `base64` crate: characters outside
/// the alphabet are skipped, decoding stops at the first `=`, and a final
/// incomplete group gives the octets it holds.
pub(crate) fn base64(data: &[u8]) -> Vec<u8> {
    let end = memchr::memchr(b'=', data).unwrap_or(data.len());
    let data = data.get(..end).unwrap_or_default();
    let mut clean: Vec<u8> = data
        .iter()
        .copied()
        .filter(|&b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
        .collect();
    // A single character holds no whole octet.
    if clean.len() % 4 == 1 {
        clean.pop();
    }
    LENIENT_BASE64.decode(&clean).unwrap_or_default()
}

/// Converts text in `charset` to UTF-8.
///
/// UTF-8 and US-ASCII (and a missing or unknown charset) are taken as
/// UTF-8 when the octets are valid UTF-8, and otherwise as Windows-1252,
/// the usual reality of unlabelled 8-bit mail; UTF-8 that is labelled so
/// but broken gets replacement characters. Other charsets use
/// `mail-parser`'s decoders: the ISO-8859 family, the Windows code pages,
/// KOI8, UTF-16 and UTF-7 are converted, and with `mail-parser`'s
/// `full_encoding` feature (enabled by this workspace) the multi-byte
/// Asian charsets too (Shift_JIS, EUC-JP, ISO-2022-JP, GBK, GB18030,
/// Big5, EUC-KR).
pub(crate) fn to_utf8<'a>(data: &'a [u8], charset: Option<&[u8]>) -> Cow<'a, str> {
    let charset = charset.map(trim_ascii);
    let utf8_label =
        charset.is_some_and(|c| c.eq_ignore_ascii_case(b"utf-8") || c.eq_ignore_ascii_case(b"utf8"));
    let native = charset.is_none_or(|c| {
        c.is_empty()
            || c.eq_ignore_ascii_case(b"us-ascii")
            || c.eq_ignore_ascii_case(b"ascii")
            || c.eq_ignore_ascii_case(b"utf-8")
            || c.eq_ignore_ascii_case(b"utf8")
    });
    if !native {
        if let Some(decode) = charset.and_then(charset_decoder) {
            return Cow::Owned(decode(data));
        }
    }
    match std::str::from_utf8(data) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) if utf8_label => String::from_utf8_lossy(data),
        Err(_) => Cow::Owned(windows_1252(data)),
    }
}

fn trim_ascii(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t' | b'"', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t' | b'"'] = s {
        s = rest;
    }
    s
}

fn windows_1252(data: &[u8]) -> String {
    match charset_decoder(b"windows-1252") {
        Some(decode) => decode(data),
        None => data.iter().map(|&b| char::from(b)).collect(),
    }
}

/// The first occurrence of a pattern at or after a position, remembered so
/// that a scan whose positions grow (and step back only a little) searches
/// each byte a bounded number of times: a header full of `=?` that never
/// close stays linear.
struct NextMatch<'a> {
    haystack: &'a [u8],
    find: fn(&[u8]) -> Option<usize>,
    /// `found` is the first occurrence at or after `from` (`haystack.len()`
    /// for none), once `valid`.
    from: usize,
    found: usize,
    valid: bool,
}

impl<'a> NextMatch<'a> {
    fn new(haystack: &'a [u8], find: fn(&[u8]) -> Option<usize>) -> NextMatch<'a> {
        NextMatch {
            haystack,
            find,
            from: 0,
            found: 0,
            valid: false,
        }
    }

    /// The first occurrence at or after `from`, or `haystack.len()`.
    fn at_or_after(&mut self, from: usize) -> usize {
        let len = self.haystack.len();
        let search =
            |h: &[u8], start: usize, end: usize| h.get(start..end).and_then(self.find).map(|i| start + i);
        if !self.valid || from > self.found {
            self.from = from;
            self.found = search(self.haystack, from, len).unwrap_or(len);
            self.valid = true;
            return self.found;
        }
        if from >= self.from {
            return self.found;
        }
        // Before the remembered range: only the gap needs a look (one byte
        // past it, for a two-byte pattern straddling its end).
        search(self.haystack, from, (self.from + 1).min(len)).unwrap_or(self.found)
    }
}

fn find_close(h: &[u8]) -> Option<usize> {
    memmem::find(h, b"?=")
}

fn find_break(h: &[u8]) -> Option<usize> {
    memchr::memchr2(b'\r', b'\n', h)
}

/// Decodes one RFC 2047 encoded word starting at `at` (`=?charset?e?text?=`;
/// the charset may carry an RFC 2231 `*language`). Returns its text and the
/// offset after it, or `None` if there is no well-formed encoded word there.
/// The encoded text may not span a line break.
fn encoded_word(
    raw: &[u8],
    at: usize,
    close: &mut NextMatch<'_>,
    line_break: &mut NextMatch<'_>,
) -> Option<(String, usize)> {
    let rest = raw.get(at..)?.strip_prefix(b"=?")?;
    let q1 = memchr::memchr(b'?', rest.get(..rest.len().min(76))?)?;
    let charset = rest.get(..q1)?;
    if charset.is_empty() || charset.iter().any(|b| b.is_ascii_whitespace()) {
        return None;
    }
    let charset = match memchr::memchr(b'*', charset) {
        Some(star) => charset.get(..star)?,
        None => charset,
    };
    let enc = *rest.get(q1 + 1)?;
    if rest.get(q1 + 2) != Some(&b'?') {
        return None;
    }
    let text_start = at + 2 + q1 + 3;
    let text_end = close.at_or_after(text_start);
    if text_end >= raw.len() || line_break.at_or_after(text_start) < text_end {
        return None;
    }
    let text = raw.get(text_start..text_end)?;
    let octets = match enc {
        b'B' | b'b' => base64(text),
        b'Q' | b'q' => q_decode(text),
        _ => return None,
    };
    let decoded = to_utf8(&octets, Some(charset)).into_owned();
    Some((decoded, text_end + 2))
}

/// The `Q` encoding of RFC 2047: quoted-printable where `_` is a space.
fn q_decode(text: &[u8]) -> Vec<u8> {
    let spaced: Cow<'_, [u8]> = if text.contains(&b'_') {
        Cow::Owned(text.iter().map(|&b| if b == b'_' { b' ' } else { b }).collect())
    } else {
        Cow::Borrowed(text)
    };
    quoted_printable(&spaced).into_owned()
}

/// A header field value as a reader sees it: encoded words (RFC 2047)
/// decoded, the whitespace between two adjacent encoded words dropped,
/// other octets taken as UTF-8 (RFC 6532) or else Windows-1252, unfolded,
/// every run of whitespace made one space, and trimmed.
pub(crate) fn decode_header_value(raw: &[u8]) -> String {
    let mut text = String::with_capacity(raw.len());
    let mut literal_start = 0;
    let mut after_word = false;
    let mut pos = 0;
    let mut close = NextMatch::new(raw, find_close);
    let mut line_break = NextMatch::new(raw, find_break);
    while let Some(off) = raw.get(pos..).and_then(|r| memmem::find(r, b"=?")) {
        let at = pos + off;
        match encoded_word(raw, at, &mut close, &mut line_break) {
            Some((word, end)) => {
                let between = raw.get(literal_start..at).unwrap_or_default();
                if !(after_word && between.iter().all(u8::is_ascii_whitespace)) {
                    text.push_str(&to_utf8(between, None));
                }
                text.push_str(&word);
                literal_start = end;
                pos = end;
                after_word = true;
            }
            None => pos = at + 1,
        }
    }
    text.push_str(&to_utf8(raw.get(literal_start..).unwrap_or_default(), None));
    collapse_whitespace(&text)
}

/// Runs of whitespace (any Unicode whitespace, CR and LF included) become
/// one space; leading and trailing whitespace is removed.
pub(crate) fn collapse_whitespace(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Skips CFWS: whitespace and (nested, escaped) comments. `None` for an
/// unterminated comment.
pub(crate) fn skip_cfws(v: &[u8], mut i: usize) -> Option<usize> {
    loop {
        match v.get(i) {
            Some(b' ' | b'\t' | b'\r' | b'\n') => i += 1,
            Some(b'(') => {
                // Nesting is counted, not recursed into.
                let mut depth = 0usize;
                loop {
                    match v.get(i)? {
                        b'\\' => i += 1,
                        b'(' => depth += 1,
                        b')' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    i += 1;
                }
                i += 1;
            }
            _ => return Some(i),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding() {
        assert_eq!(fold("ÄÖÜ straße ΣΑΣ ς ſ \u{212A}"), "äöü straße σασ σ s k");
        assert!(Needle::new("STRASSE").in_folded(&fold("strasse")));
        assert!(!Needle::new("STRASSE").in_folded(&fold("straße")));
        assert!(Needle::new("ΟΔΥΣΣΕΥΣ").in_folded(&fold("οδυσσευς")));
        assert!(Needle::new("").in_folded(""));
        assert!(Needle::new("").is_empty());
        assert!(!Needle::new("x").in_folded(""));
    }

    #[test]
    fn folding_is_lowercasing_outside_the_special_folds() {
        let special = "ςſϐϑϕϖϰϱϵẛ\u{345}\u{1FBE}";
        for c in (0..0x3_0000).filter_map(char::from_u32) {
            if special.contains(c) {
                continue;
            }
            let expected: String = c.to_lowercase().collect();
            assert_eq!(fold(&c.to_string()), expected, "U+{:04X}", u32::from(c));
        }
    }

    /// Base64 decoded one character at a time, for comparison.
    fn slow_base64(data: &[u8]) -> Vec<u8> {
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut bits = Vec::new();
        for &b in data {
            if b == b'=' {
                break;
            }
            if let Some(v) = alphabet.iter().position(|&a| a == b) {
                bits.extend((0..6).rev().map(|i| (v >> i) & 1));
            }
        }
        bits.chunks_exact(8)
            .map(|byte| byte.iter().fold(0u8, |n, &bit| (n << 1) | bit as u8))
            .collect()
    }

    #[test]
    fn base64_fast_path_agrees_with_the_slow_one() {
        let mut x = 0x1234_5678_9ABC_DEF0u64;
        let pool = b"AZaz09+/=\r\n !QUJDRA";
        for len in 0..200 {
            let data: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    pool[(x % pool.len() as u64) as usize]
                })
                .collect();
            assert_eq!(
                base64(&data),
                slow_base64(&data),
                "{:?}",
                String::from_utf8_lossy(&data)
            );
        }
    }

    #[test]
    fn next_match_steps_back_correctly() {
        let hay = b"a?=bc?=d?=";
        let mut m = NextMatch::new(hay, find_close);
        assert_eq!(m.at_or_after(4), 5);
        assert_eq!(m.at_or_after(2), 5);
        assert_eq!(m.at_or_after(1), 1);
        assert_eq!(m.at_or_after(0), 1);
        assert_eq!(m.at_or_after(6), 8);
        assert_eq!(m.at_or_after(9), 10);
        assert_eq!(m.at_or_after(3), 5);
        let mut m = NextMatch::new(hay, find_close);
        for from in 0..=hay.len() {
            let expected = (from..hay.len())
                .find(|&i| hay[i..].starts_with(b"?="))
                .unwrap_or(hay.len());
            assert_eq!(m.at_or_after(from), expected, "{from}");
        }
    }

    #[test]
    fn unclosed_encoded_words_stay_linear() {
        // Quadratic scanning would take minutes here: every `=?` starts an
        // encoded word whose end is never found, or is past a line break.
        let hostile = "=?a?q?x".repeat(200_000);
        assert_eq!(decode_header_value(hostile.as_bytes()), hostile);
        let broken = "=?a?q?x\r\n ?=".repeat(100_000);
        assert_eq!(
            decode_header_value(broken.as_bytes()),
            collapse_whitespace(&broken)
        );
    }

    #[test]
    fn quoted_printable_is_lenient() {
        assert_eq!(&*quoted_printable(b"caf=C3=a9 =3D"), "café =".as_bytes());
        assert_eq!(&*quoted_printable(b"soft=\r\nbreak= \t\nend="), b"softbreakend");
        assert_eq!(&*quoted_printable(b"a = b =ZZ =4"), b"a = b =ZZ =4");
    }

    #[test]
    fn base64_is_lenient() {
        assert_eq!(base64(b"aGVs\r\nbG8=\r\n"), b"hello");
        assert_eq!(base64(b"aGVsbG8"), b"hello");
        assert_eq!(base64(b"a*G!V.s"), b"hel");
        assert_eq!(base64(b""), b"");
        assert_eq!(base64(b"a"), b"");
    }

    #[test]
    fn charsets() {
        assert_eq!(to_utf8(b"caf\xe9", Some(b"ISO-8859-1")), "café");
        assert_eq!(to_utf8(b"caf\xe9", Some(b"\"iso-8859-1\"")), "café");
        assert_eq!(to_utf8("café".as_bytes(), Some(b"UTF-8")), "café");
        assert_eq!(to_utf8(b"caf\xe9", Some(b"utf-8")), "caf\u{FFFD}");
        assert_eq!(to_utf8(b"\x80 caf\xe9", None), "€ café");
        assert_eq!(to_utf8(b"\x80 caf\xe9", Some(b"us-ascii")), "€ café");
        assert_eq!(to_utf8(b"caf\xe9", Some(b"x-unknown")), "café");
        assert_eq!(to_utf8(b"\xf0\xf2\xe9\xf7\xe5\xf4", Some(b"koi8-r")), "ПРИВЕТ");
        // Multi-byte Asian charsets (mail-parser's full_encoding).
        assert_eq!(to_utf8(b"\x93\xfa\x96\x7b", Some(b"Shift_JIS")), "日本");
        assert_eq!(to_utf8(b"\x1b$BF|K\\\x1b(B", Some(b"ISO-2022-JP")), "日本");
        assert_eq!(to_utf8(b"\xc4\xe3\xba\xc3", Some(b"GBK")), "你好");
        assert_eq!(to_utf8(b"\xa7\x41\xa6\x6e", Some(b"Big5")), "你好");
    }

    #[test]
    fn encoded_words() {
        let d = |s: &str| decode_header_value(s.as_bytes());
        assert_eq!(d("=?ISO-8859-1?Q?Andr=E9?= Pirard"), "André Pirard");
        assert_eq!(d("=?utf-8?b?0J/RgNC40LLQtdGC?="), "Привет");
        assert_eq!(d("=?UTF-8?Q?a?= \r\n =?UTF-8?Q?b?="), "ab");
        assert_eq!(d("=?UTF-8?Q?a?= x =?UTF-8?Q?b?="), "a x b");
        assert_eq!(d("=?UTF-8*en?Q?a_b?="), "a b");
        assert_eq!(d("\"=?utf-8?q?Jos=C3=A9?=\" <j@x>"), "\"José\" <j@x>");
        assert_eq!(d("=?utf-8?x?abc?= =?bad"), "=?utf-8?x?abc?= =?bad");
        assert_eq!(d("=?utf-8?q?a\r\n b?="), "=?utf-8?q?a b?=");
        assert_eq!(d("  folded\r\n\tvalue  "), "folded value");
        assert_eq!(d("Caf\u{e9} raw 8-bit"), "Café raw 8-bit");
        assert_eq!(decode_header_value(b"Caf\xe9"), "Café");
    }
}

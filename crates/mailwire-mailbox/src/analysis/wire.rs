//! The form of each string in the analysis results, chosen as Dovecot
//! chooses it, so that mailwire-imap's encoder (which keeps the form a
//! value holds) writes what Dovecot writes.
//!
//! - A string is quoted unless it holds 8-bit octets, CR or LF; then it is
//!   a literal (Dovecot's `imap_append_string`).
//! - A string "for humans" (subject, display name) is also a literal when
//!   it holds `"` or `\`, and a subject is one whenever whitespace was
//!   rewritten (Dovecot's `imap_append_nstring_nolf` path); the empty
//!   string is always `""`.
//! - NUL can be in no IMAP string (`CHAR8` excludes it): it is dropped.

use std::borrow::Cow;

use mailwire_imap::{IString, Literal, NString, Quoted};

/// `value` without NUL octets (borrowed when it has none).
fn without_nul(value: Cow<'_, [u8]>) -> Cow<'_, [u8]> {
    if memchr::memchr(0, &value).is_none() {
        return value;
    }
    Cow::Owned(value.iter().copied().filter(|&b| b != 0).collect())
}

/// A literal of `value`, which holds no NUL (a literal8 otherwise, which
/// no caller makes).
fn literal(value: Cow<'_, [u8]>) -> IString<'_> {
    if memchr::memchr(0, &value).is_some() {
        return IString::Literal(Literal::binary(value));
    }
    IString::Literal(Literal::new(value).unwrap_or_else(|_| Literal::binary(&b""[..])))
}

fn quoted_or_literal(value: Cow<'_, [u8]>, force_literal: bool) -> IString<'_> {
    let value = without_nul(value);
    let needs_literal = force_literal || value.iter().any(|&b| b >= 0x80 || b == b'\r' || b == b'\n');
    if needs_literal {
        return literal(value);
    }
    // Printable ASCII without CR, LF or NUL is always quotable.
    match Quoted::new(value.clone()) {
        Ok(q) => IString::Quoted(q),
        Err(_) => literal(value),
    }
}

/// A `string` in Dovecot's form.
pub(crate) fn string(value: Cow<'_, [u8]>) -> IString<'_> {
    quoted_or_literal(value, false)
}

/// An `nstring` in Dovecot's form.
pub(crate) fn nstring(value: Option<Cow<'_, [u8]>>) -> NString<'_> {
    NString(value.map(string))
}

/// A string for humans (subject, display name) in Dovecot's form;
/// `rewritten` tells that whitespace was rewritten.
pub(crate) fn human(value: Option<Cow<'_, [u8]>>, rewritten: bool) -> NString<'_> {
    NString(value.map(|v| {
        if v.is_empty() {
            return string(v);
        }
        let special = v.iter().any(|&b| b == b'"' || b == b'\\');
        quoted_or_literal(v, rewritten || special)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_literal(s: &NString<'_>) -> bool {
        matches!(s.0, Some(IString::Literal(_)))
    }

    #[test]
    fn forms() {
        assert!(!is_literal(&nstring(Some(Cow::Borrowed(b"a \"b\"")))));
        assert!(is_literal(&nstring(Some(Cow::Borrowed(b"caf\xc3\xa9")))));
        assert!(is_literal(&human(Some(Cow::Borrowed(b"a \"b\"")), false)));
        assert!(is_literal(&human(Some(Cow::Borrowed(b"ab")), true)));
        assert!(!is_literal(&human(Some(Cow::Borrowed(b"")), true)));
        assert_eq!(nstring(Some(Cow::Borrowed(b"a\0b"))).as_bytes(), Some(&b"ab"[..]));
        assert_eq!(nstring(None), NString::NIL);
    }
}

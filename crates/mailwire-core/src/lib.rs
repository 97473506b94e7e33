//! What the mailwire crates share, written once: [`TypeError`], the error
//! of every validating constructor in mailwire-pop3 and mailwire-imap,
//! [modified UTF-7](utf7), which IMAP4rev1 uses for mailbox names and the
//! mailbox model's Maildir++ layout for folder names on disk (with or
//! without IMAP), and [`one_line`], which keeps the application's texts
//! on their response line in both servers. The protocol crates re-export
//! what they use, so their users need not name this crate.
#![forbid(unsafe_code)]

pub mod utf7;

use std::borrow::Cow;

pub use utf7::{decode_modified_utf7, encode_modified_utf7, encode_modified_utf7_into};

/// A value rejected by a constructor: which type, which byte, where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what}: {problem}{}", match (.byte, .position) {
    (Some(b), Some(p)) => format!(" (byte 0x{b:02X} at position {p})"),
    (None, Some(p)) => format!(" (at position {p})"),
    _ => String::new(),
})]
pub struct TypeError {
    /// The type being constructed.
    pub what: &'static str,
    /// What is wrong.
    pub problem: &'static str,
    /// The offending byte, when one byte is to blame.
    pub byte: Option<u8>,
    /// Its position in the value.
    pub position: Option<usize>,
}

impl TypeError {
    /// A problem with the value as a whole (its length, its form).
    pub fn problem(what: &'static str, problem: &'static str) -> TypeError {
        TypeError {
            what,
            problem,
            byte: None,
            position: None,
        }
    }

    /// A byte the type does not allow, at `position` of `value`.
    pub fn at_byte(what: &'static str, value: &[u8], position: usize) -> TypeError {
        TypeError {
            what,
            problem: "byte not allowed",
            byte: value.get(position).copied(),
            position: Some(position),
        }
    }
}

/// Checks every byte of `value` with `ok`, naming the first failure.
pub fn check_bytes(what: &'static str, value: &[u8], ok: impl Fn(u8) -> bool) -> Result<(), TypeError> {
    match value.iter().position(|&b| !ok(b)) {
        Some(p) => Err(TypeError::at_byte(what, value, p)),
        None => Ok(()),
    }
}

/// `text` made to fit on one line of a response, as both servers write the
/// application's texts: CR, LF and NUL become spaces. Borrowed when there
/// is none, which one vectorised scan finds.
pub fn one_line(text: &str) -> Cow<'_, str> {
    if memchr::memchr3(b'\r', b'\n', 0, text.as_bytes()).is_none() {
        return Cow::Borrowed(text);
    }
    // The three are ASCII, so replacing them keeps the UTF-8 valid.
    Cow::Owned(text.replace(['\r', '\n', '\0'], " "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_byte_and_its_position() {
        let e = check_bytes("atom", b"ab(c", |b| b != b'(').unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid atom: byte not allowed (byte 0x28 at position 2)"
        );
        assert_eq!(
            TypeError::problem("tag", "empty").to_string(),
            "invalid tag: empty"
        );
        assert!(check_bytes("atom", b"abc", |b| b != b'(').is_ok());
    }

    #[test]
    fn one_line_borrows_clean_text_and_flattens_line_breaks() {
        let clean = one_line("No such mailbox \u{e9}");
        assert!(matches!(clean, Cow::Borrowed("No such mailbox \u{e9}")));
        assert_eq!(
            one_line("too\r\nlarge\0 \u{e9}t\u{e9}\n"),
            "too  large  \u{e9}t\u{e9} "
        );
        assert_eq!(one_line(""), "");
        // Each of the three alone takes the copying path.
        assert_eq!(one_line("a\0b"), "a b");
        assert_eq!(one_line("a\rb"), "a b");
        assert_eq!(one_line("a\nb"), "a b");
    }
}

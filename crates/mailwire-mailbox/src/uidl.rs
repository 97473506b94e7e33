//! POP3 unique ids (UIDL, RFC 1939 section 7) built from the IMAP UID and
//! UIDVALIDITY, so that both protocols name a message the same way and
//! the id never changes between sessions.
//!
//! The default is Dovecot's default `pop3_uidl_format = %08Xu%08Xv`: the
//! UID then the UIDVALIDITY, each as eight hexadecimal digits. Dovecot's
//! `X` modifier prints lowercase hex (it is not C's `%X`): Dovecot 2.3.19
//! sends `000000016b0248f9`, checked against a running Dovecot by the
//! mail_server tests. A server taking over from Dovecot keeps its clients'
//! ids.

use std::fmt;

use crate::types::{Uid, UidValidity};

/// Makes the unique id of a message. Implementations must give every
/// `(uid, uid_validity)` pair its own id of 1 to 70 characters in
/// 0x21..=0x7E (RFC 1939's rule), the same one every time.
pub trait UidlFormat: Send + Sync + fmt::Debug {
    /// Appends the id to `out`.
    fn write(&self, uid: Uid, uid_validity: UidValidity, out: &mut String);

    /// The id as a new string.
    fn unique_id(&self, uid: Uid, uid_validity: UidValidity) -> String {
        let mut out = String::with_capacity(16);
        self.write(uid, uid_validity, &mut out);
        out
    }
}

/// Dovecot's default format, `%08Xu%08Xv`.
pub const DOVECOT_DEFAULT: &str = "%08Xu%08Xv";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variable {
    Uid,
    UidValidity,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Radix {
    Decimal,
    /// Dovecot's `X`: lowercase hexadecimal.
    Hex,
}

impl Radix {
    /// The most digits a `u32` takes.
    fn max_digits(self) -> usize {
        match self {
            Radix::Decimal => 10,
            Radix::Hex => 8,
        }
    }

    fn is_digit(self, c: char) -> bool {
        match self {
            Radix::Decimal => c.is_ascii_digit(),
            Radix::Hex => c.is_ascii_digit() || ('a'..='f').contains(&c),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Number {
        variable: Variable,
        radix: Radix,
        /// Zero-padded to this width (0: no padding).
        width: usize,
    },
}

/// Why a UIDL template was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid UIDL template at byte {offset}: {problem}")]
pub struct UidlTemplateError {
    /// Where the problem is.
    pub offset: usize,
    /// What it is.
    pub problem: &'static str,
}

/// A UIDL format written like Dovecot's `pop3_uidl_format`, limited to the
/// variables this model has: `%u` (UID) and `%v` (UIDVALIDITY), each with
/// an optional zero-padded width and `X` for hexadecimal (`%08Xu`; in
/// lowercase, as Dovecot prints it; `x` is accepted as a synonym),
/// literal characters, and `%%` for `%`.
///
/// A template must use `%u`, and must be unambiguous: every number is
/// fixed-width (a width of at least 8 hex or 10 decimal digits, with zero
/// padding) or followed by the end or by a literal character that is not
/// one of its digits. `%u%v` is refused (UID 1 with UIDVALIDITY 23 and UID
/// 12 with UIDVALIDITY 3 would both be `123`); `%v.%u` and
/// [`DOVECOT_DEFAULT`] are fine. Without `%v`, ids repeat if INBOX's
/// UIDVALIDITY ever changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UidlTemplate {
    parts: Vec<Part>,
}

impl Default for UidlTemplate {
    /// [`DOVECOT_DEFAULT`].
    fn default() -> Self {
        UidlTemplate {
            parts: vec![
                Part::Number {
                    variable: Variable::Uid,
                    radix: Radix::Hex,
                    width: 8,
                },
                Part::Number {
                    variable: Variable::UidValidity,
                    radix: Radix::Hex,
                    width: 8,
                },
            ],
        }
    }
}

impl UidlTemplate {
    /// Whether the ids hold the UIDVALIDITY (`%v`). Without it, a message
    /// may get the id an earlier one had once INBOX's UIDVALIDITY changes
    /// (UIDs start again): a client that leaves mail on the server then
    /// takes the new message for one it has, and may delete it unseen.
    pub fn uses_uid_validity(&self) -> bool {
        self.parts.iter().any(|p| {
            matches!(
                p,
                Part::Number {
                    variable: Variable::UidValidity,
                    ..
                }
            )
        })
    }

    /// Parses and checks a template.
    pub fn new(template: &str) -> Result<UidlTemplate, UidlTemplateError> {
        let err = |offset, problem| UidlTemplateError { offset, problem };
        let mut parts: Vec<Part> = Vec::new();
        let mut chars = template.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            if c != '%' {
                if !(c.is_ascii_graphic()) {
                    return Err(err(at, "only visible ASCII characters are allowed"));
                }
                push_literal(&mut parts, c);
                continue;
            }
            let mut zero = false;
            let mut width = 0usize;
            let mut radix = Radix::Decimal;
            loop {
                let Some((at, c)) = chars.next() else {
                    return Err(err(template.len(), "unfinished % sequence"));
                };
                match c {
                    '%' if !zero && width == 0 && radix == Radix::Decimal => {
                        push_literal(&mut parts, '%');
                        break;
                    }
                    '0' if width == 0 && !zero => zero = true,
                    '0'..='9' if radix == Radix::Decimal => {
                        width = width * 10 + (c as usize - '0' as usize);
                        if width > 20 {
                            return Err(err(at, "width too large"));
                        }
                    }
                    'X' | 'x' if radix == Radix::Decimal => radix = Radix::Hex,
                    'u' | 'v' => {
                        let variable = if c == 'u' {
                            Variable::Uid
                        } else {
                            Variable::UidValidity
                        };
                        let width = if zero { width } else { 0 };
                        parts.push(Part::Number {
                            variable,
                            radix,
                            width,
                        });
                        break;
                    }
                    _ => return Err(err(at, "unknown variable (only %u and %v are available)")),
                }
            }
        }
        let template = UidlTemplate { parts };
        template.check()?;
        Ok(template)
    }

    fn check(&self) -> Result<(), UidlTemplateError> {
        let err = |problem| UidlTemplateError { offset: 0, problem };
        if !self.parts.iter().any(|p| {
            matches!(
                p,
                Part::Number {
                    variable: Variable::Uid,
                    ..
                }
            )
        }) {
            return Err(err("the template must contain %u"));
        }
        let mut longest = 0usize;
        for (i, part) in self.parts.iter().enumerate() {
            match part {
                Part::Literal(text) => longest += text.len(),
                Part::Number { radix, width, .. } => {
                    longest += (*width).max(radix.max_digits());
                    let fixed = *width >= radix.max_digits();
                    let delimited = match self.parts.get(i + 1) {
                        None => true,
                        Some(Part::Literal(text)) => text.chars().next().is_some_and(|c| !radix.is_digit(c)),
                        Some(Part::Number { .. }) => false,
                    };
                    if !fixed && !delimited {
                        return Err(err("a number must be fixed-width or followed by a non-digit"));
                    }
                }
            }
        }
        if longest > 70 {
            return Err(err("ids could exceed 70 characters"));
        }
        Ok(())
    }
}

fn push_literal(parts: &mut Vec<Part>, c: char) {
    match parts.last_mut() {
        Some(Part::Literal(text)) => text.push(c),
        _ => parts.push(Part::Literal(c.to_string())),
    }
}

impl UidlFormat for UidlTemplate {
    fn write(&self, uid: Uid, uid_validity: UidValidity, out: &mut String) {
        use std::fmt::Write;
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Number {
                    variable,
                    radix,
                    width,
                } => {
                    let n = match variable {
                        Variable::Uid => uid.get(),
                        Variable::UidValidity => uid_validity.get(),
                    };
                    let width = *width;
                    // Writing to a String cannot fail.
                    let _ = match radix {
                        Radix::Decimal => write!(out, "{n:0width$}"),
                        Radix::Hex => write!(out, "{n:0width$x}"),
                    };
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(uid: u32, v: u32) -> (Uid, UidValidity) {
        (Uid::new(uid).unwrap(), UidValidity::new(v).unwrap())
    }

    #[test]
    fn dovecot_default_is_uid_then_uidvalidity_in_lower_hex() {
        let (u, v) = ids(1, 1_700_000_000);
        // 1700000000 = 0x6553F100; Dovecot prints its `X` in lowercase.
        assert_eq!(UidlTemplate::default().unique_id(u, v), "000000016553f100");
        assert_eq!(
            UidlTemplate::new(DOVECOT_DEFAULT).unwrap(),
            UidlTemplate::default()
        );
        let (u, v) = ids(0xABCDEF12, 0xFFFF_FFFF);
        assert_eq!(UidlTemplate::default().unique_id(u, v), "abcdef12ffffffff");
    }

    #[test]
    fn templates_without_the_uidvalidity_are_told_apart() {
        assert!(UidlTemplate::default().uses_uid_validity());
        assert!(UidlTemplate::new("%v.%u").unwrap().uses_uid_validity());
        assert!(!UidlTemplate::new("%u").unwrap().uses_uid_validity());
        assert!(!UidlTemplate::new("%08Xu").unwrap().uses_uid_validity());
    }

    #[test]
    fn other_dovecot_style_templates() {
        let (u, v) = ids(42, 1_234_567_890);
        assert_eq!(
            UidlTemplate::new("%v.%u").unwrap().unique_id(u, v),
            "1234567890.42"
        );
        assert_eq!(
            UidlTemplate::new("%08Xv%08Xu").unwrap().unique_id(u, v),
            "499602d20000002a"
        );
        assert_eq!(
            UidlTemplate::new("%xu-%xv").unwrap().unique_id(u, v),
            "2a-499602d2"
        );
        assert_eq!(UidlTemplate::new("m%%%u").unwrap().unique_id(u, v), "m%42");
        assert_eq!(UidlTemplate::new("%010u").unwrap().unique_id(u, v), "0000000042");
    }

    #[test]
    fn ambiguous_or_invalid_templates_are_refused() {
        for bad in [
            "%u%v", "%Xu%Xv", "%xu1%v", "%v", "abc", "%q", "%", "%08", "a b%u", "%u\u{e9}",
        ] {
            assert!(UidlTemplate::new(bad).is_err(), "{bad:?}");
        }
        assert!(UidlTemplate::new(&format!("{}%u", "x".repeat(61))).is_err());
        assert!(UidlTemplate::new(&format!("{}%u", "x".repeat(60))).is_ok());
        // Hex (lowercase) followed by a letter beyond f, or by an
        // uppercase letter, is delimited; followed by a-f it is not.
        assert!(UidlTemplate::new("%Xug%Xv").is_ok());
        assert!(UidlTemplate::new("%XuA%Xv").is_ok());
        assert!(UidlTemplate::new("%Xua%Xv").is_err());
    }
}

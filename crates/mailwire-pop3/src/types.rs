//! Validated newtypes: values of these types are always valid on the wire.
//!
//! Constructors return a [`TypeError`] that names the offending byte and its
//! position. Decoded values borrow from the input (`Cow::Borrowed`) and turn
//! into `'static` values with `into_owned`.

use std::borrow::Cow;
use std::fmt;
use std::num::NonZeroU32;

pub use mailwire_core::TypeError;
use mailwire_core::check_bytes;

/// A message number: the 1-based position of a message in the maildrop
/// (RFC 1939 section 3), fixed for the whole session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MessageNumber(NonZeroU32);

impl MessageNumber {
    /// Message number 1.
    pub const FIRST: MessageNumber = MessageNumber(NonZeroU32::MIN);

    /// A message number from 1; `None` for 0.
    pub const fn new(n: u32) -> Option<Self> {
        match NonZeroU32::new(n) {
            Some(n) => Some(MessageNumber(n)),
            None => None,
        }
    }

    /// The number, from 1.
    pub const fn get(self) -> u32 {
        self.0.get()
    }

    /// The 0-based index of the message in a listing.
    pub const fn index(self) -> usize {
        self.0.get() as usize - 1
    }
}

impl TryFrom<u32> for MessageNumber {
    type Error = TypeError;
    fn try_from(n: u32) -> Result<Self, TypeError> {
        MessageNumber::new(n).ok_or(TypeError::problem("message number", "numbering starts at 1"))
    }
}

impl fmt::Display for MessageNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

macro_rules! borrowed_newtype {
    ($(#[$meta:meta])* $name:ident, $inner:ty) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash)]
        pub struct $name<'a>(Cow<'a, $inner>);

        impl<'a> $name<'a> {
            /// The value as it appears on the wire.
            pub fn as_inner(&self) -> &$inner {
                &self.0
            }

            /// Converts to a value that owns its data.
            pub fn into_owned(self) -> $name<'static> {
                $name(Cow::Owned(self.0.into_owned()))
            }

            /// Borrows the value without copying.
            pub fn borrowed(&self) -> $name<'_> {
                $name(Cow::Borrowed(&*self.0))
            }

            pub(crate) fn unchecked(value: &'a $inner) -> Self {
                $name(Cow::Borrowed(value))
            }
        }
    };
}

borrowed_newtype!(
    /// A unique-id of a message (RFC 1939 section 7, UIDL): 1 to 70
    /// characters in the range 0x21 to 0x7E, stable across sessions.
    UniqueId,
    str
);

impl<'a> UniqueId<'a> {
    /// Validates a unique id.
    pub fn new(value: impl Into<Cow<'a, str>>) -> Result<Self, TypeError> {
        let value = value.into();
        Self::validate(value.as_bytes())?;
        Ok(UniqueId(value))
    }

    pub(crate) fn validate(v: &[u8]) -> Result<(), TypeError> {
        if v.is_empty() || v.len() > 70 {
            return Err(TypeError::problem("unique id", "length must be 1 to 70"));
        }
        check_bytes("unique id", v, |b| (0x21..=0x7E).contains(&b))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for UniqueId<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UniqueId({:?})", self.0)
    }
}

impl fmt::Display for UniqueId<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

borrowed_newtype!(
    /// A command parameter such as the name of USER and APOP: one or more
    /// visible characters, no spaces. Bytes of 0x80 and above are accepted
    /// for UTF-8 user names (RFC 6856 section 2.2).
    Param,
    [u8]
);

impl<'a> Param<'a> {
    /// Validates a parameter.
    pub fn new(value: impl Into<Cow<'a, [u8]>>) -> Result<Self, TypeError> {
        let value = value.into();
        Self::validate(&value)?;
        Ok(Param(value))
    }

    pub(crate) fn validate(v: &[u8]) -> Result<(), TypeError> {
        if v.is_empty() {
            return Err(TypeError::problem("parameter", "must not be empty"));
        }
        check_bytes("parameter", v, |b| b > 0x20 && b != 0x7F)
    }

    /// The parameter as text, if it is UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }
}

impl fmt::Debug for Param<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Param({:?})", String::from_utf8_lossy(&self.0))
    }
}

borrowed_newtype!(
    /// The argument of PASS: the rest of the command line, which may hold
    /// spaces (RFC 1939 section 7). Debug never shows it.
    Password,
    [u8]
);

impl<'a> Password<'a> {
    /// Validates a password: not empty, no CR, LF or NUL.
    pub fn new(value: impl Into<Cow<'a, [u8]>>) -> Result<Self, TypeError> {
        let value = value.into();
        Self::validate(&value)?;
        Ok(Password(value))
    }

    pub(crate) fn validate(v: &[u8]) -> Result<(), TypeError> {
        if v.is_empty() {
            return Err(TypeError::problem("password", "must not be empty"));
        }
        check_bytes("password", v, |b| !matches!(b, b'\r' | b'\n' | 0))
    }

    /// The password bytes. Named so that every use is visible in review.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Password<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

borrowed_newtype!(
    /// A SASL mechanism name (RFC 4422 section 3.1): 1 to 20 characters of
    /// upper-case letters, digits, `-` and `_`. Lower-case letters are
    /// accepted and compared case-insensitively.
    Mechanism,
    str
);

impl<'a> Mechanism<'a> {
    /// The PLAIN mechanism (RFC 4616).
    pub const PLAIN: Mechanism<'static> = Mechanism(Cow::Borrowed("PLAIN"));

    /// Validates a mechanism name.
    pub fn new(value: impl Into<Cow<'a, str>>) -> Result<Self, TypeError> {
        let value = value.into();
        Self::validate(value.as_bytes())?;
        Ok(Mechanism(value))
    }

    pub(crate) fn validate(v: &[u8]) -> Result<(), TypeError> {
        if v.is_empty() || v.len() > 20 {
            return Err(TypeError::problem("SASL mechanism", "length must be 1 to 20"));
        }
        check_bytes("SASL mechanism", v, |b| {
            b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
        })
    }

    /// The name as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is the named mechanism, ignoring case.
    pub fn is(&self, name: &str) -> bool {
        self.0.eq_ignore_ascii_case(name)
    }
}

impl fmt::Debug for Mechanism<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Mechanism({})", self.0)
    }
}

borrowed_newtype!(
    /// Base64 text of a SASL exchange (RFC 5034 section 4), possibly empty.
    /// It carries credentials, so Debug shows only its length.
    SaslData,
    str
);

impl<'a> SaslData<'a> {
    /// Validates base64 text (RFC 4648 alphabet with padding).
    pub fn new(value: impl Into<Cow<'a, str>>) -> Result<Self, TypeError> {
        let value = value.into();
        Self::validate(value.as_bytes())?;
        Ok(SaslData(value))
    }

    /// Encodes raw bytes as base64.
    pub fn encode(raw: &[u8]) -> SaslData<'static> {
        use base64::Engine;
        SaslData(Cow::Owned(base64::engine::general_purpose::STANDARD.encode(raw)))
    }

    pub(crate) fn validate(v: &[u8]) -> Result<(), TypeError> {
        if v.len() % 4 != 0 {
            return Err(TypeError::problem(
                "base64 data",
                "length must be a multiple of 4",
            ));
        }
        let body = v.len() - v.iter().rev().take(2).take_while(|&&b| b == b'=').count();
        check_bytes("base64 data", &v[..body], |b| {
            b.is_ascii_alphanumeric() || b == b'+' || b == b'/'
        })
    }

    /// The base64 text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Decodes the base64 text.
    pub fn decode(&self) -> Result<Vec<u8>, TypeError> {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(self.0.as_bytes())
            .map_err(|_| TypeError::problem("base64 data", "not canonical base64"))
    }
}

impl fmt::Debug for SaslData<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SaslData(<{} base64 chars>)", self.0.len())
    }
}

borrowed_newtype!(
    /// A language tag (RFC 6856 section 3, RFC 5646), checked as a basic
    /// language range of RFC 4647: `1*8ALPHA *("-" 1*8alphanum)`.
    LanguageTag,
    str
);

impl<'a> LanguageTag<'a> {
    /// Validates a language tag.
    pub fn new(value: impl Into<Cow<'a, str>>) -> Result<Self, TypeError> {
        let value = value.into();
        Self::validate(value.as_bytes())?;
        Ok(LanguageTag(value))
    }

    pub(crate) fn validate(v: &[u8]) -> Result<(), TypeError> {
        let mut start = 0;
        for (i, sub) in v.split(|&b| b == b'-').enumerate() {
            if sub.is_empty() || sub.len() > 8 {
                return Err(TypeError {
                    what: "language tag",
                    problem: "subtags must be 1 to 8 characters",
                    byte: None,
                    position: Some(start),
                });
            }
            let ok = |b: u8| {
                if i == 0 {
                    b.is_ascii_alphabetic()
                } else {
                    b.is_ascii_alphanumeric()
                }
            };
            check_bytes("language tag", sub, ok).map_err(|mut e| {
                e.position = e.position.map(|p| p + start);
                e
            })?;
            start += sub.len() + 1;
        }
        Ok(())
    }

    /// The tag as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for LanguageTag<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LanguageTag({})", self.0)
    }
}

borrowed_newtype!(
    /// Human-readable text of a response line: any bytes but CR and LF.
    /// UTF-8 after the UTF8 or LANG commands (RFC 6856), often Latin-1 or
    /// anything else from older servers, so it is kept as bytes.
    Text,
    [u8]
);

impl<'a> Text<'a> {
    /// Validates text: no CR, LF or NUL.
    pub fn new(value: impl Into<Cow<'a, [u8]>>) -> Result<Self, TypeError> {
        let value = value.into();
        Self::validate(&value)?;
        Ok(Text(value))
    }

    pub(crate) fn validate(v: &[u8]) -> Result<(), TypeError> {
        check_bytes("text", v, |b| !matches!(b, b'\r' | b'\n' | 0))
    }

    /// Empty text.
    pub const EMPTY: Text<'static> = Text(Cow::Borrowed(b""));

    /// The text as a string, if it is UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Whether the text is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Text({:?})", String::from_utf8_lossy(&self.0))
    }
}

impl fmt::Display for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.0))
    }
}

borrowed_newtype!(
    /// The APOP timestamp of a greeting (RFC 1939 section 7): `<` visible
    /// characters `>`, in the form of an RFC 822 msg-id such as
    /// `<1896.697170952@dbc.mtview.ca.us>`.
    Timestamp,
    str
);

impl<'a> Timestamp<'a> {
    /// Validates a timestamp.
    pub fn new(value: impl Into<Cow<'a, str>>) -> Result<Self, TypeError> {
        let value = value.into();
        Self::validate(value.as_bytes())?;
        Ok(Timestamp(value))
    }

    pub(crate) fn validate(v: &[u8]) -> Result<(), TypeError> {
        if v.len() < 3 || v[0] != b'<' || v[v.len() - 1] != b'>' {
            return Err(TypeError::problem("APOP timestamp", "must be <...> with content"));
        }
        check_bytes("APOP timestamp", &v[1..v.len() - 1], |b| {
            b.is_ascii_graphic() && b != b'<' && b != b'>'
        })
        .map_err(|mut e| {
            e.position = e.position.map(|p| p + 1);
            e
        })?;
        if !v.contains(&b'@') {
            return Err(TypeError::problem("APOP timestamp", "must contain '@' (msg-id)"));
        }
        Ok(())
    }

    /// Builds a timestamp unique to this greeting, as RFC 1939 suggests:
    /// `<process-id.clock@hostname>`, here with a caller-supplied counter
    /// too, so two greetings in one clock tick differ. The caller passes
    /// the time because this crate reads no clock.
    pub fn generate(
        process_id: u32,
        counter: u64,
        unix_time: u64,
        hostname: &str,
    ) -> Result<Timestamp<'static>, TypeError> {
        Timestamp::new(format!("<{process_id}.{counter}.{unix_time}@{hostname}>"))
    }

    /// The timestamp, brackets included, as used in the APOP digest.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Timestamp<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_ids() {
        assert!(UniqueId::new("whqtswO00WBw418f9t5JxYwZ").is_ok());
        assert!(UniqueId::new("~").is_ok());
        assert!(UniqueId::new("x".repeat(70)).is_ok());
        assert!(UniqueId::new("x".repeat(71)).is_err());
        assert!(UniqueId::new("").is_err());
        let e = UniqueId::new("ab c").unwrap_err();
        assert_eq!((e.byte, e.position), (Some(b' '), Some(2)));
        assert_eq!(
            e.to_string(),
            "invalid unique id: byte not allowed (byte 0x20 at position 2)"
        );
    }

    #[test]
    fn message_numbers_start_at_one() {
        assert!(MessageNumber::new(0).is_none());
        assert_eq!(MessageNumber::try_from(3).unwrap().index(), 2);
    }

    #[test]
    fn secrets_do_not_leak_through_debug() {
        let p = Password::new(&b"tanstaaf"[..]).unwrap();
        assert!(!format!("{p:?}").contains("tanstaaf"));
        let d = SaslData::encode(b"\0tim\0tanstaaftanstaaf");
        assert!(!format!("{d:?}").contains(d.as_str()));
    }

    #[test]
    fn language_tags() {
        for ok in ["en", "en-boont", "sv", "zh-Hant-TW", "i-default"] {
            assert!(LanguageTag::new(ok).is_ok(), "{ok}");
        }
        for bad in ["", "en-", "-en", "toolongtag", "e1", "en_US"] {
            assert!(LanguageTag::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sasl_data() {
        assert!(SaslData::new("").is_ok());
        assert!(SaslData::new("dGVzdA==").is_ok());
        assert!(SaslData::new("dGVzdA=").is_err());
        assert!(SaslData::new("dG=zdA==").is_err());
        assert_eq!(SaslData::new("dGVzdA==").unwrap().decode().unwrap(), b"test");
    }

    #[test]
    fn timestamps() {
        assert!(Timestamp::new("<1896.697170952@dbc.mtview.ca.us>").is_ok());
        assert!(Timestamp::new("<no-at-sign>").is_err());
        assert!(Timestamp::new("<a b@c>").is_err());
        let t = Timestamp::generate(1896, 1, 697170952, "dbc.mtview.ca.us").unwrap();
        assert_eq!(t.as_str(), "<1896.1.697170952@dbc.mtview.ca.us>");
    }
}

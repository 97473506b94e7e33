//! The IMAP ENVELOPE (RFC 3501 section 7.4.2, RFC 9051 section 7.5.2) as
//! Dovecot builds it.
//!
//! Dovecot's string rules, which this follows:
//! - date, message-id and in-reply-to are the raw header value with CR and LF
//!   removed (the whitespace of a fold stays, so `Message-ID:\r\n <x>` gives
//!   ` <x>`), nothing else is parsed or validated;
//! - subject and display names are "for humans": runs of whitespace (SP,
//!   HTAB, CR, LF) become one space, leading and trailing whitespace goes;
//!   encoded words (RFC 2047) are not decoded;
//! - when a string field occurs twice the last occurrence wins; address
//!   fields that occur twice are concatenated (two From lines give two
//!   addresses);
//! - an address field that yields no address is NIL, and sender and
//!   reply-to fall back to from (RFC 3501) when they are NIL.

use std::borrow::Cow;

use super::address::{Address, parse_address_list};
use super::header::{Fields, humanize, without_line_breaks};

/// The ENVELOPE of a message or of an embedded message/rfc822.
///
/// An empty address list stands for NIL. Strings borrow from the message;
/// a subject is `Cow::Owned` exactly when whitespace had to be rewritten
/// (Dovecot then sends it as a literal).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Envelope<'a> {
    /// env-date: the Date header, unparsed.
    pub date: Option<Cow<'a, [u8]>>,
    /// env-subject.
    pub subject: Option<Cow<'a, [u8]>>,
    /// env-from.
    pub from: Vec<Address<'a>>,
    /// env-sender (from when the message has no usable Sender).
    pub sender: Vec<Address<'a>>,
    /// env-reply-to (from when the message has no usable Reply-To).
    pub reply_to: Vec<Address<'a>>,
    /// env-to.
    pub to: Vec<Address<'a>>,
    /// env-cc.
    pub cc: Vec<Address<'a>>,
    /// env-bcc.
    pub bcc: Vec<Address<'a>>,
    /// env-in-reply-to: the In-Reply-To header, unparsed.
    pub in_reply_to: Option<Cow<'a, [u8]>>,
    /// env-message-id: the Message-ID header, unparsed.
    pub message_id: Option<Cow<'a, [u8]>>,
}

impl Envelope<'_> {
    /// Converts into an envelope that owns its strings.
    pub fn into_owned(self) -> Envelope<'static> {
        let s = |v: Option<Cow<'_, [u8]>>| v.map(|s| Cow::Owned(s.into_owned()));
        let l = |v: Vec<Address<'_>>| v.into_iter().map(Address::into_owned).collect();
        Envelope {
            date: s(self.date),
            subject: s(self.subject),
            from: l(self.from),
            sender: l(self.sender),
            reply_to: l(self.reply_to),
            to: l(self.to),
            cc: l(self.cc),
            bcc: l(self.bcc),
            in_reply_to: s(self.in_reply_to),
            message_id: s(self.message_id),
        }
    }
}

/// Builds the envelope from the header block `raw[start..end]`.
pub(crate) fn envelope(raw: &[u8], start: usize, end: usize) -> Envelope<'_> {
    let mut env = Envelope::default();
    for field in Fields::new(raw, start, end) {
        let Some(value) = field.value else { continue };
        let name = field.name;
        let list = if name.eq_ignore_ascii_case(b"from") {
            &mut env.from
        } else if name.eq_ignore_ascii_case(b"sender") {
            &mut env.sender
        } else if name.eq_ignore_ascii_case(b"reply-to") {
            &mut env.reply_to
        } else if name.eq_ignore_ascii_case(b"to") {
            &mut env.to
        } else if name.eq_ignore_ascii_case(b"cc") {
            &mut env.cc
        } else if name.eq_ignore_ascii_case(b"bcc") {
            &mut env.bcc
        } else {
            if name.eq_ignore_ascii_case(b"date") {
                env.date = Some(without_line_breaks(value));
            } else if name.eq_ignore_ascii_case(b"subject") {
                env.subject = Some(humanize(value));
            } else if name.eq_ignore_ascii_case(b"in-reply-to") {
                env.in_reply_to = Some(without_line_breaks(value));
            } else if name.eq_ignore_ascii_case(b"message-id") {
                env.message_id = Some(without_line_breaks(value));
            }
            continue;
        };
        parse_address_list(value, list);
    }
    if env.sender.is_empty() {
        env.sender = env.from.clone();
    }
    if env.reply_to.is_empty() {
        env.reply_to = env.from.clone();
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_last_string_wins() {
        let raw = b"Subject: one\r\nFrom: a@b\r\nSubject:\ttwo\r\nFrom: c@d\r\nReply-To: \r\n\r\nbody";
        let env = envelope(raw, 0, raw.len());
        assert_eq!(env.subject.as_deref(), Some(&b"two"[..]));
        assert!(matches!(env.subject, Some(Cow::Borrowed(_))));
        assert_eq!(env.from.len(), 2);
        assert_eq!(env.sender, env.from);
        assert_eq!(env.reply_to, env.from);
        assert_eq!(env.date, None);
        assert!(env.to.is_empty());
    }

    #[test]
    fn folded_values() {
        let raw = b"Message-ID:\r\n <x@y>\r\nSubject: a\r\n b\r\nDate: Mon,\r\n 1 Jan\r\n\r\n";
        let env = envelope(raw, 0, raw.len());
        assert_eq!(env.message_id.as_deref(), Some(&b" <x@y>"[..]));
        assert_eq!(env.subject.as_deref(), Some(&b"a b"[..]));
        assert!(matches!(env.subject, Some(Cow::Owned(_))));
        assert_eq!(env.date.as_deref(), Some(&b"Mon, 1 Jan"[..]));
    }
}

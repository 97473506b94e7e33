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

use mailwire_imap::{AddressList, Envelope};

use super::address::{Address, parse_address_list};
use super::header::{Fields, humanize, without_line_breaks};
use super::wire::{human, nstring};

/// The header fields of an envelope as read, before they take their IMAP
/// form. An empty address list stands for NIL; a subject is `Cow::Owned`
/// exactly when whitespace had to be rewritten.
#[derive(Debug, Clone, Default)]
pub(crate) struct RawEnvelope<'a> {
    pub date: Option<Cow<'a, [u8]>>,
    pub subject: Option<Cow<'a, [u8]>>,
    pub from: Vec<Address<'a>>,
    pub sender: Vec<Address<'a>>,
    pub reply_to: Vec<Address<'a>>,
    pub to: Vec<Address<'a>>,
    pub cc: Vec<Address<'a>>,
    pub bcc: Vec<Address<'a>>,
    pub in_reply_to: Option<Cow<'a, [u8]>>,
    pub message_id: Option<Cow<'a, [u8]>>,
}

fn addresses(list: Vec<Address<'_>>) -> AddressList<'_> {
    list.into_iter().map(Address::into_imap).collect()
}

impl<'a> RawEnvelope<'a> {
    /// The ENVELOPE, its strings in the form Dovecot sends them.
    pub(crate) fn into_imap(self) -> Envelope<'a> {
        let rewritten = matches!(self.subject, Some(Cow::Owned(_)));
        Envelope {
            date: nstring(self.date),
            subject: human(self.subject, rewritten),
            from: addresses(self.from),
            sender: addresses(self.sender),
            reply_to: addresses(self.reply_to),
            to: addresses(self.to),
            cc: addresses(self.cc),
            bcc: addresses(self.bcc),
            in_reply_to: nstring(self.in_reply_to),
            message_id: nstring(self.message_id),
        }
    }
}

/// Builds the envelope from the header block `raw[start..end]`.
pub(crate) fn envelope(raw: &[u8], start: usize, end: usize) -> Envelope<'_> {
    raw_envelope(raw, start, end).into_imap()
}

/// Reads the envelope fields of the header block `raw[start..end]`.
pub(crate) fn raw_envelope(raw: &[u8], start: usize, end: usize) -> RawEnvelope<'_> {
    let mut env = RawEnvelope::default();
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
        let env = raw_envelope(raw, 0, raw.len());
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
        let env = raw_envelope(raw, 0, raw.len());
        assert_eq!(env.message_id.as_deref(), Some(&b" <x@y>"[..]));
        assert_eq!(env.subject.as_deref(), Some(&b"a b"[..]));
        assert!(matches!(env.subject, Some(Cow::Owned(_))));
        assert_eq!(env.date.as_deref(), Some(&b"Mon, 1 Jan"[..]));
    }
}

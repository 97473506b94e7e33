//! The home of [`Envelope`] and what goes with it; the explanation of this
//! part of the grammar is on that type, where the rendered documentation
//! shows it.

use crate::decode::DecoderConfig;
use crate::encode::Encoder;
use crate::parse::{PError, PResult, fail, too_many};
use crate::small_list::inline_list;
use crate::string::NString;

use super::{close_paren, nstring_into, open_paren, sp};

/// An address structure: `address = "(" addr-name SP addr-adl SP
/// addr-mailbox SP addr-host ")"`.
///
/// RFC 5322 group syntax is written with special addresses: the start of a
/// group has a NIL host and the group name in `mailbox`
/// ([`Address::is_group_start`]); the end of a group has a NIL host and a
/// NIL mailbox ([`Address::is_group_end`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Address<'a> {
    /// `addr-name`: the display name, RFC 5322 quoting removed.
    pub name: NString<'a>,
    /// `addr-adl`: the obsolete source route.
    pub adl: NString<'a>,
    /// `addr-mailbox`: the local part, or the group name at a group start.
    pub mailbox: NString<'a>,
    /// `addr-host`: the domain; NIL in group markers.
    pub host: NString<'a>,
}

impl<'a> Address<'a> {
    /// Whether this starts a group: NIL host, non-NIL mailbox (the group
    /// name).
    pub fn is_group_start(&self) -> bool {
        self.host.0.is_none() && self.mailbox.0.is_some()
    }

    /// Whether this ends a group: NIL host and NIL mailbox.
    pub fn is_group_end(&self) -> bool {
        self.host.0.is_none() && self.mailbox.0.is_none()
    }

    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> Address<'static> {
        Address {
            name: self.name.into_owned(),
            adl: self.adl.into_owned(),
            mailbox: self.mailbox.into_owned(),
            host: self.host.into_owned(),
        }
    }

    /// An address of four NILs, to be filled in place.
    const NIL: Address<'static> = Address {
        name: NString::NIL,
        adl: NString::NIL,
        mailbox: NString::NIL,
        host: NString::NIL,
    };

    /// `address = "(" addr-name SP addr-adl SP addr-mailbox SP addr-host ")"`,
    /// written into `out` (see [`nstring_into`]).
    fn parse_into(
        input: &'a [u8],
        config: &DecoderConfig,
        out: &mut Address<'a>,
    ) -> Result<&'a [u8], nom::Err<PError>> {
        let lenient = config.leniency.extra_spaces;
        let (rest, ()) = open_paren(input, lenient)?;
        let rest = nstring_into(rest, config, &mut out.name)?;
        let (rest, ()) = sp(rest, lenient)?;
        let rest = nstring_into(rest, config, &mut out.adl)?;
        let (rest, ()) = sp(rest, lenient)?;
        let rest = nstring_into(rest, config, &mut out.mailbox)?;
        let (rest, ()) = sp(rest, lenient)?;
        let rest = nstring_into(rest, config, &mut out.host)?;
        let (rest, ()) = close_paren(rest, lenient)?;
        Ok(rest)
    }

    pub(crate) fn encode<'e>(&'e self, e: &mut Encoder<'e>) {
        e.put(b"(");
        self.name.encode(e);
        e.put(b" ");
        self.adl.encode(e);
        e.put(b" ");
        self.mailbox.encode(e);
        e.put(b" ");
        self.host.encode(e);
        e.put(b")");
    }
}

inline_list!(
    /// An address list of an envelope (`env-from` and the others). Empty
    /// for NIL. The first address is stored inline: From, Sender and
    /// Reply-To nearly always hold one, so decoding them allocates nothing.
    /// It is used as a `Vec` is: it dereferences to a slice, converts from
    /// and into `Vec`, collects and iterates.
    ///
    /// ```
    /// use mailwire_imap::{Address, AddressList, NString};
    ///
    /// let ann = Address { name: NString::NIL, adl: NString::NIL, mailbox: NString::NIL, host: NString::NIL };
    /// let list: AddressList<'_> = vec![ann.clone()].into();
    /// assert_eq!((list.len(), &list[0]), (1, &ann));
    /// assert_eq!(list.into_iter().count(), 1);
    /// ```
    AddressList,
    Address
);

/// The envelope structure of a message. An empty address list stands for
/// NIL (the grammar has no empty list).
///
/// The ENVELOPE of a message (RFC 9051 sections 7.5.2 and 9, RFC 3501
/// section 7.4.2): the parsed RFC 5322 header fields a client shows in a
/// message list.
///
/// ```text
/// envelope        = "(" env-date SP env-subject SP env-from SP
///                   env-sender SP env-reply-to SP env-to SP env-cc SP
///                   env-bcc SP env-in-reply-to SP env-message-id ")"
/// env-from        = "(" 1*address ")" / nil        ; and sender, reply-to,
///                                                  ; to, cc, bcc
/// env-date        = nstring                        ; and subject,
///                                                  ; in-reply-to, message-id
/// address         = "(" addr-name SP addr-adl SP addr-mailbox SP
///                   addr-host ")"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Envelope<'a> {
    /// `env-date`: the Date header field, unparsed.
    pub date: NString<'a>,
    /// `env-subject`.
    pub subject: NString<'a>,
    /// `env-from`.
    pub from: AddressList<'a>,
    /// `env-sender`.
    pub sender: AddressList<'a>,
    /// `env-reply-to`.
    pub reply_to: AddressList<'a>,
    /// `env-to`.
    pub to: AddressList<'a>,
    /// `env-cc`.
    pub cc: AddressList<'a>,
    /// `env-bcc`.
    pub bcc: AddressList<'a>,
    /// `env-in-reply-to`.
    pub in_reply_to: NString<'a>,
    /// `env-message-id`.
    pub message_id: NString<'a>,
}

fn own_list(list: AddressList<'_>) -> AddressList<'static> {
    AddressList(list.0.map(Address::into_owned))
}

impl<'a> Envelope<'a> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> Envelope<'static> {
        Envelope {
            date: self.date.into_owned(),
            subject: self.subject.into_owned(),
            from: own_list(self.from),
            sender: own_list(self.sender),
            reply_to: own_list(self.reply_to),
            to: own_list(self.to),
            cc: own_list(self.cc),
            bcc: own_list(self.bcc),
            in_reply_to: self.in_reply_to.into_owned(),
            message_id: self.message_id.into_owned(),
        }
    }

    /// `envelope = "(" env-date SP env-subject SP env-from SP env-sender SP
    /// env-reply-to SP env-to SP env-cc SP env-bcc SP env-in-reply-to SP
    /// env-message-id ")"`.
    pub(crate) fn parse(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, Self> {
        let mut out = Envelope::EMPTY;
        let rest = out.parse_into(input, config)?;
        Ok((rest, out))
    }

    /// An envelope of NILs, to be filled in place.
    pub(crate) const EMPTY: Envelope<'static> = Envelope {
        date: NString::NIL,
        subject: NString::NIL,
        from: AddressList::new(),
        sender: AddressList::new(),
        reply_to: AddressList::new(),
        to: AddressList::new(),
        cc: AddressList::new(),
        bcc: AddressList::new(),
        in_reply_to: NString::NIL,
        message_id: NString::NIL,
    };

    /// [`Envelope::parse`] written into `self`, which is
    /// [`Envelope::EMPTY`] (see [`nstring_into`]).
    pub(crate) fn parse_into(
        &mut self,
        input: &'a [u8],
        config: &DecoderConfig,
    ) -> Result<&'a [u8], nom::Err<PError>> {
        let lenient = config.leniency.extra_spaces;
        let (rest, ()) = open_paren(input, lenient)?;
        let rest = nstring_into(rest, config, &mut self.date)?;
        let (rest, ()) = sp(rest, lenient)?;
        let rest = nstring_into(rest, config, &mut self.subject)?;
        let mut rest = rest;
        for list in [
            &mut self.from,
            &mut self.sender,
            &mut self.reply_to,
            &mut self.to,
            &mut self.cc,
            &mut self.bcc,
        ] {
            let (r, ()) = sp(rest, lenient)?;
            rest = address_list_into(r, config, list)?;
        }
        let (rest, ()) = sp(rest, lenient)?;
        let rest = nstring_into(rest, config, &mut self.in_reply_to)?;
        let (rest, ()) = sp(rest, lenient)?;
        let rest = nstring_into(rest, config, &mut self.message_id)?;
        let (rest, ()) = close_paren(rest, lenient)?;
        Ok(rest)
    }

    pub(crate) fn encode<'e>(&'e self, e: &mut Encoder<'e>) {
        e.put(b"(");
        self.date.encode(e);
        e.put(b" ");
        self.subject.encode(e);
        for list in [
            &self.from,
            &self.sender,
            &self.reply_to,
            &self.to,
            &self.cc,
            &self.bcc,
        ] {
            e.put(b" ");
            encode_address_list(list, e);
        }
        e.put(b" ");
        self.in_reply_to.encode(e);
        e.put(b" ");
        self.message_id.encode(e);
        e.put(b")");
    }
}

/// `env-from = "(" 1*address ")" / nil` (and the other lists): NIL is an
/// empty list, and `list` is empty on entry. The addresses follow each
/// other without spaces; with `extra_spaces`, spaces between them are
/// accepted.
fn address_list_into<'a>(
    input: &'a [u8],
    config: &DecoderConfig,
    list: &mut AddressList<'a>,
) -> Result<&'a [u8], nom::Err<PError>> {
    match input.first() {
        Some(b'(') => {}
        _ if super::is_nil(input) => {
            return Ok(&input[3..]);
        }
        _ => return fail(input, "address list or NIL").map(|(r, ())| r),
    }
    let lenient = config.leniency.extra_spaces;
    let mut rest = &input[1..];
    if lenient {
        rest = super::skip_spaces(rest);
    }
    debug_assert!(list.is_empty(), "addresses are parsed into an empty list");
    let mut count = 0;
    loop {
        if count == config.limits.list {
            return too_many(rest, config.limits.list, "')'");
        }
        count += 1;
        let slot = list.0.push_mut(Address::NIL);
        let r = Address::parse_into(rest, config, slot)?;
        rest = if lenient { super::skip_spaces(r) } else { r };
        if let Some(r) = rest.strip_prefix(b")") {
            return Ok(r);
        }
    }
}

fn encode_address_list<'e>(list: &'e [Address<'_>], e: &mut Encoder<'e>) {
    if list.is_empty() {
        e.put(b"NIL");
        return;
    }
    e.put(b"(");
    for address in list {
        address.encode(e);
    }
    e.put(b")");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::ErrorKind;
    use crate::encode::{LiteralPolicy, to_bytes};

    fn round_trip(input: &[u8]) -> Envelope<'_> {
        let (rest, env) = Envelope::parse(input, &DecoderConfig::STRICT).unwrap();
        assert!(rest.is_empty());
        let mut e = Encoder::new(LiteralPolicy::SyncOnly);
        env.encode(&mut e);
        let out = to_bytes(&e.finish());
        assert_eq!(&out[..out.len() - 2], input);
        env
    }

    #[test]
    fn rfc_example() {
        // RFC 3501 section 8 and RFC 9051 section 8, joined into one line.
        let env = round_trip(
            b"(\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" \"IMAP4rev1 WG mtg summary and minutes\" \
((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) \
((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) ((NIL NIL \"imap\" \"cac.washington.edu\")) \
((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")(\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) NIL NIL \
\"<B27397-0100000@cac.washington.edu>\")",
        );
        assert_eq!(env.cc.len(), 2);
        assert_eq!(env.to[0].mailbox.as_bytes(), Some(&b"imap"[..]));
        assert!(env.bcc.is_empty() && env.in_reply_to == NString::NIL);
        assert_eq!(env.from, env.sender);
    }

    #[test]
    fn groups_and_literals() {
        // RFC 5322 "Undisclosed:;" and "A Group:Ed <ed@x>;" with a literal
        // subject.
        let input =
            b"(NIL {5}\r\nhi\r\n! ((NIL NIL \"A Group\" NIL)(\"Ed\" NIL \"ed\" \"x\")(NIL NIL NIL NIL)) \
NIL NIL ((NIL NIL \"Undisclosed\" NIL)(NIL NIL NIL NIL)) NIL NIL NIL NIL)";
        let env = round_trip(input);
        assert_eq!(env.subject.as_bytes(), Some(&b"hi\r\n!"[..]));
        assert!(env.from[0].is_group_start() && !env.from[1].is_group_start());
        assert!(env.from[2].is_group_end() && !env.from[0].is_group_end());
        assert!(env.to[0].is_group_start() && env.to[1].is_group_end());
    }

    #[test]
    fn lenient_spaces_and_errors() {
        let spaced = b"(NIL NIL ((NIL NIL \"a\" \"b\") (NIL NIL \"c\" \"d\") ) NIL NIL NIL NIL NIL NIL NIL )";
        assert!(Envelope::parse(spaced, &DecoderConfig::STRICT).is_err());
        let (_, env) = Envelope::parse(spaced, &DecoderConfig::default()).unwrap();
        assert_eq!(env.from.len(), 2);
        let Err(nom::Err::Error(e)) = Envelope::parse(b"(NIL NIL () NIL", &DecoderConfig::STRICT) else {
            panic!()
        };
        assert_eq!(15 - e.remaining, 10);
        let mut cfg = DecoderConfig::STRICT;
        cfg.limits.list = 1;
        let two = b"(NIL NIL ((NIL NIL \"a\" \"b\")(NIL NIL \"c\" \"d\")) NIL NIL NIL NIL NIL NIL NIL)";
        let Err(nom::Err::Error(e)) = Envelope::parse(two, &cfg) else {
            panic!()
        };
        assert_eq!(e.kind, ErrorKind::TooMany { limit: 1 });
    }
}

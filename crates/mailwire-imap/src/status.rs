//! The home of [`StatusAttribute`] and what goes with it; the explanation of this
//! part of the grammar is on that type, where the rendered documentation
//! shows it.

use std::num::NonZeroU32;

use crate::condstore::{ModSeqValzer, mod_sequence_valzer};
use crate::decode::DecoderConfig;
use crate::encode::Encoder;
use crate::extension::{TaggedExtVal, tagged_ext_label};
use crate::mailbox::Mailbox;
use crate::objectid::ObjectId;
use crate::parse::{PResult, expect, fail, is_nil, number, number64, nz_number, paren_list, sp};
use crate::string::Atom;

/// A status attribute: `status-att = "MESSAGES" / "UIDNEXT" /
/// "UIDVALIDITY" / "UNSEEN" / "DELETED" / "SIZE"` (RFC 9051), `/ "RECENT"`
/// (RFC 3501).
///
/// STATUS (RFC 9051 section 6.3.11, RFC 3501 section 6.3.10): the status
/// attributes a client asks for, and the STATUS response that answers
/// (RFC 9051 section 7.3.4), also sent for LIST-STATUS (RFC 5819).
///
/// Attributes of both revisions are known: `MESSAGES`, `UIDNEXT`,
/// `UIDVALIDITY`, `UNSEEN`, `DELETED` and `SIZE` (RFC 9051), and `RECENT`
/// (RFC 3501 only); so are CONDSTORE's `HIGHESTMODSEQ` (RFC 7162),
/// APPENDLIMIT's `APPENDLIMIT` (RFC 7889) and OBJECTID's `MAILBOXID`
/// (RFC 8474).
///
/// Unknown attributes (any `tagged-ext-label`, the form RFC 9051 asks
/// extensions to use) are kept, not refused: a command's
/// [`StatusAttribute::Other`] holds the name, so a server answers `BAD`
/// naming it (or supports it) and a proxy passes it on; a response's
/// [`StatusValue::Other`] holds the name and its value in the generic
/// `tagged-ext-val` form that RFC 9051 asks extensions to use. Extensions
/// add variants to these non-exhaustive enums (APPENDLIMIT and OBJECTID's
/// MAILBOXID have theirs); until then their values are in `Other`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StatusAttribute<'a> {
    /// `MESSAGES`: the number of messages.
    Messages,
    /// `UIDNEXT`: the next unique identifier value.
    UidNext,
    /// `UIDVALIDITY`: the unique identifier validity value.
    UidValidity,
    /// `UNSEEN`: the number of messages without `\Seen`.
    Unseen,
    /// `DELETED`: the number of messages with `\Deleted` (RFC 9051).
    Deleted,
    /// `SIZE`: the total size of the mailbox in octets (RFC 9051).
    Size,
    /// `RECENT`: the number of messages with `\Recent` (IMAP4rev1 only).
    Recent,
    /// `HIGHESTMODSEQ`: the highest mod-sequence in the mailbox (RFC
    /// 7162).
    HighestModSeq,
    /// `APPENDLIMIT`: the largest message APPEND accepts (RFC 7889).
    AppendLimit,
    /// `MAILBOXID`: the mailbox's object identifier (RFC 8474).
    MailboxId,
    /// An attribute this crate does not know, as sent.
    Other(Atom<'a>),
}

const ATTRIBUTES: [(&str, StatusAttribute<'static>); 10] = [
    ("MESSAGES", StatusAttribute::Messages),
    ("UIDNEXT", StatusAttribute::UidNext),
    ("UIDVALIDITY", StatusAttribute::UidValidity),
    ("UNSEEN", StatusAttribute::Unseen),
    ("DELETED", StatusAttribute::Deleted),
    ("SIZE", StatusAttribute::Size),
    ("RECENT", StatusAttribute::Recent),
    ("HIGHESTMODSEQ", StatusAttribute::HighestModSeq),
    ("APPENDLIMIT", StatusAttribute::AppendLimit),
    ("MAILBOXID", StatusAttribute::MailboxId),
];

impl<'a> StatusAttribute<'a> {
    /// The attribute name, upper case for the known ones.
    pub fn name(&self) -> &str {
        match self {
            StatusAttribute::Other(a) => a.as_str(),
            known => ATTRIBUTES.iter().find(|(_, a)| a == known).map_or("", |(n, _)| n),
        }
    }

    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> StatusAttribute<'static> {
        match self {
            StatusAttribute::Messages => StatusAttribute::Messages,
            StatusAttribute::UidNext => StatusAttribute::UidNext,
            StatusAttribute::UidValidity => StatusAttribute::UidValidity,
            StatusAttribute::Unseen => StatusAttribute::Unseen,
            StatusAttribute::Deleted => StatusAttribute::Deleted,
            StatusAttribute::Size => StatusAttribute::Size,
            StatusAttribute::Recent => StatusAttribute::Recent,
            StatusAttribute::HighestModSeq => StatusAttribute::HighestModSeq,
            StatusAttribute::AppendLimit => StatusAttribute::AppendLimit,
            StatusAttribute::MailboxId => StatusAttribute::MailboxId,
            StatusAttribute::Other(a) => StatusAttribute::Other(a.into_owned()),
        }
    }

    /// `status-att`; an unknown name is accepted when it is a
    /// `tagged-ext-label` (see the module notes).
    pub(crate) fn parse(input: &'a [u8]) -> PResult<'a, Self> {
        let (rest, name) = expect("status attribute", tagged_ext_label)(input)?;
        let known = ATTRIBUTES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.as_str()))
            .map(|(_, a)| a.clone());
        Ok((rest, known.unwrap_or(StatusAttribute::Other(name))))
    }

    pub(crate) fn encode(&self, e: &mut Encoder<'_>) {
        e.put(self.name().as_bytes());
    }
}

/// `"(" status-att *(SP status-att) ")"`: at least one attribute, at most
/// `limits.list`.
pub(crate) fn parse_attribute_list<'a>(
    input: &'a [u8],
    config: &DecoderConfig,
) -> PResult<'a, Vec<StatusAttribute<'a>>> {
    let (rest, list) = paren_list(
        config.limits.list,
        config.leniency.extra_spaces,
        StatusAttribute::parse,
    )(input)?;
    if list.is_empty() {
        return fail(input.get(1..).unwrap_or_default(), "status attribute");
    }
    Ok((rest, list))
}

/// Writes `"(" status-att *(SP status-att) ")"`.
pub(crate) fn encode_attribute_list(list: &[StatusAttribute<'_>], e: &mut Encoder<'_>) {
    e.put(b"(");
    for (i, a) in list.iter().enumerate() {
        if i > 0 {
            e.put(b" ");
        }
        a.encode(e);
    }
    e.put(b")");
}

/// `status = "STATUS" SP mailbox SP "(" status-att *(SP status-att) ")"`:
/// the arguments after the command name, from the space that follows it.
pub(crate) fn parse_command<'a>(
    input: &'a [u8],
    config: &DecoderConfig,
) -> PResult<'a, (Mailbox<'a>, Vec<StatusAttribute<'a>>)> {
    let (rest, _) = sp(input)?;
    let (rest, mailbox) = Mailbox::parse(rest, &config.leniency)?;
    let (rest, _) = sp(rest)?;
    let (rest, attributes) = parse_attribute_list(rest, config)?;
    Ok((rest, (mailbox, attributes)))
}

/// Writes ` mailbox (attributes)`.
pub(crate) fn encode_command<'e>(
    mailbox: &'e Mailbox<'e>,
    attributes: &'e [StatusAttribute<'e>],
    e: &mut Encoder<'e>,
) {
    e.put(b" ");
    mailbox.encode(e);
    e.put(b" ");
    encode_attribute_list(attributes, e);
}

/// One value of a STATUS response: `status-att-val = ("MESSAGES" SP
/// number) / ("UIDNEXT" SP nz-number) / ("UIDVALIDITY" SP nz-number) /
/// ("UNSEEN" SP number) / ("DELETED" SP number) / ("SIZE" SP number64)`
/// (RFC 9051), `/ ("RECENT" SP number)` (RFC 3501), `/ "HIGHESTMODSEQ" SP
/// mod-sequence-valzer` (RFC 7162).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StatusValue<'a> {
    /// `MESSAGES n`.
    Messages(u32),
    /// `UIDNEXT n`.
    UidNext(NonZeroU32),
    /// `UIDVALIDITY n`.
    UidValidity(NonZeroU32),
    /// `UNSEEN n`.
    Unseen(u32),
    /// `DELETED n`.
    Deleted(u32),
    /// `SIZE n` (64-bit).
    Size(u64),
    /// `RECENT n` (IMAP4rev1).
    Recent(u32),
    /// `HIGHESTMODSEQ n` (RFC 7162); 0 when the mailbox keeps no
    /// mod-sequences.
    HighestModSeq(ModSeqValzer),
    /// `APPENDLIMIT n` or `APPENDLIMIT NIL` (RFC 7889: `status-att-val =/
    /// "APPENDLIMIT" SP (number / nil)`); `None` when there is no limit
    /// for this mailbox.
    AppendLimit(Option<u32>),
    /// `MAILBOXID (id)` (RFC 8474: `status-att-val =/ "MAILBOXID" SP "("
    /// objectid ")"`).
    MailboxId(ObjectId<'a>),
    /// An attribute this crate does not know, with its value in the
    /// generic syntax (an astring such as `NIL` is accepted too).
    Other {
        /// The attribute name, as sent.
        name: Atom<'a>,
        /// Its value.
        value: TaggedExtVal<'a>,
    },
}

impl<'a> StatusValue<'a> {
    /// The attribute this value answers.
    pub fn attribute(&self) -> StatusAttribute<'_> {
        match self {
            StatusValue::Messages(_) => StatusAttribute::Messages,
            StatusValue::UidNext(_) => StatusAttribute::UidNext,
            StatusValue::UidValidity(_) => StatusAttribute::UidValidity,
            StatusValue::Unseen(_) => StatusAttribute::Unseen,
            StatusValue::Deleted(_) => StatusAttribute::Deleted,
            StatusValue::Size(_) => StatusAttribute::Size,
            StatusValue::Recent(_) => StatusAttribute::Recent,
            StatusValue::HighestModSeq(_) => StatusAttribute::HighestModSeq,
            StatusValue::AppendLimit(_) => StatusAttribute::AppendLimit,
            StatusValue::MailboxId(_) => StatusAttribute::MailboxId,
            StatusValue::Other { name, .. } => StatusAttribute::Other(name.clone()),
        }
    }

    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> StatusValue<'static> {
        match self {
            StatusValue::Messages(n) => StatusValue::Messages(n),
            StatusValue::UidNext(n) => StatusValue::UidNext(n),
            StatusValue::UidValidity(n) => StatusValue::UidValidity(n),
            StatusValue::Unseen(n) => StatusValue::Unseen(n),
            StatusValue::Deleted(n) => StatusValue::Deleted(n),
            StatusValue::Size(n) => StatusValue::Size(n),
            StatusValue::Recent(n) => StatusValue::Recent(n),
            StatusValue::HighestModSeq(n) => StatusValue::HighestModSeq(n),
            StatusValue::AppendLimit(n) => StatusValue::AppendLimit(n),
            StatusValue::MailboxId(id) => StatusValue::MailboxId(id.into_owned()),
            StatusValue::Other { name, value } => StatusValue::Other {
                name: name.into_owned(),
                value: value.into_owned(),
            },
        }
    }

    /// `status-att-val`.
    pub(crate) fn parse(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, Self> {
        let (rest, attribute) = StatusAttribute::parse(input)?;
        let (rest, _) = sp(rest)?;
        match attribute {
            StatusAttribute::Messages => number(rest).map(|(r, n)| (r, StatusValue::Messages(n))),
            StatusAttribute::UidNext => nz_number(rest).map(|(r, n)| (r, StatusValue::UidNext(n))),
            StatusAttribute::UidValidity => nz_number(rest).map(|(r, n)| (r, StatusValue::UidValidity(n))),
            StatusAttribute::Unseen => number(rest).map(|(r, n)| (r, StatusValue::Unseen(n))),
            StatusAttribute::Deleted => number(rest).map(|(r, n)| (r, StatusValue::Deleted(n))),
            StatusAttribute::Size => number64(rest).map(|(r, n)| (r, StatusValue::Size(n))),
            StatusAttribute::Recent => number(rest).map(|(r, n)| (r, StatusValue::Recent(n))),
            StatusAttribute::HighestModSeq => {
                mod_sequence_valzer(rest).map(|(r, n)| (r, StatusValue::HighestModSeq(n)))
            }
            StatusAttribute::AppendLimit if is_nil(rest) => Ok((&rest[3..], StatusValue::AppendLimit(None))),
            StatusAttribute::AppendLimit => {
                expect("number or NIL", number)(rest).map(|(r, n)| (r, StatusValue::AppendLimit(Some(n))))
            }
            StatusAttribute::MailboxId => {
                ObjectId::parse_parenthesized(rest).map(|(r, id)| (r, StatusValue::MailboxId(id)))
            }
            StatusAttribute::Other(name) => {
                let (r, value) = TaggedExtVal::parse(rest, config, true)?;
                Ok((r, StatusValue::Other { name, value }))
            }
        }
    }

    pub(crate) fn encode<'e>(&'e self, e: &mut Encoder<'e>) {
        let number = |e: &mut Encoder<'e>, name: &str, n: u64| {
            e.put(name.as_bytes());
            e.put(b" ");
            e.number(n);
        };
        match self {
            StatusValue::Messages(n) => number(e, "MESSAGES", u64::from(*n)),
            StatusValue::UidNext(n) => number(e, "UIDNEXT", u64::from(n.get())),
            StatusValue::UidValidity(n) => number(e, "UIDVALIDITY", u64::from(n.get())),
            StatusValue::Unseen(n) => number(e, "UNSEEN", u64::from(*n)),
            StatusValue::Deleted(n) => number(e, "DELETED", u64::from(*n)),
            StatusValue::Size(n) => number(e, "SIZE", *n),
            StatusValue::Recent(n) => number(e, "RECENT", u64::from(*n)),
            StatusValue::HighestModSeq(n) => number(e, "HIGHESTMODSEQ", n.get()),
            StatusValue::AppendLimit(Some(n)) => number(e, "APPENDLIMIT", u64::from(*n)),
            StatusValue::AppendLimit(None) => e.put(b"APPENDLIMIT NIL"),
            StatusValue::MailboxId(id) => {
                e.put(b"MAILBOXID ");
                id.encode_parenthesized(e);
            }
            StatusValue::Other { name, value } => {
                e.put(name.as_str().as_bytes());
                e.put(b" ");
                value.encode(e);
            }
        }
    }
}

/// The STATUS response: `"STATUS" SP mailbox SP "(" [status-att-list]
/// ")"`, `status-att-list = status-att-val *(SP status-att-val)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MailboxStatus<'a> {
    /// The mailbox.
    pub mailbox: Mailbox<'a>,
    /// The values, in the order sent.
    pub values: Vec<StatusValue<'a>>,
}

impl<'a> MailboxStatus<'a> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> MailboxStatus<'static> {
        MailboxStatus {
            mailbox: self.mailbox.into_owned(),
            values: self.values.into_iter().map(StatusValue::into_owned).collect(),
        }
    }

    /// The response data after `STATUS`, from the space that follows it.
    pub(crate) fn parse(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, Self> {
        let (rest, _) = sp(input)?;
        let (rest, mailbox) = Mailbox::parse(rest, &config.leniency)?;
        let (rest, _) = sp(rest)?;
        let (rest, values) = paren_list(config.limits.list, config.leniency.extra_spaces, |i| {
            StatusValue::parse(i, config)
        })(rest)?;
        Ok((rest, MailboxStatus { mailbox, values }))
    }

    /// Writes ` mailbox (values)`.
    pub(crate) fn encode<'e>(&'e self, e: &mut Encoder<'e>) {
        e.put(b" ");
        self.mailbox.encode(e);
        e.put(b" (");
        for (i, v) in self.values.iter().enumerate() {
            if i > 0 {
                e.put(b" ");
            }
            v.encode(e);
        }
        e.put(b")");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::{LiteralPolicy, to_bytes};

    fn encoded<'e>(f: impl FnOnce(&mut Encoder<'e>)) -> Vec<u8> {
        let mut e = Encoder::new(LiteralPolicy::SyncOnly);
        f(&mut e);
        let mut out = to_bytes(&e.finish());
        out.truncate(out.len() - 2);
        out
    }

    #[test]
    fn attributes() {
        let c = DecoderConfig::STRICT;
        let (_, list) = parse_attribute_list(b"(uidnext MESSAGES Recent SIZE X-FOO)", &c).unwrap();
        assert_eq!(
            list[..4],
            [
                StatusAttribute::UidNext,
                StatusAttribute::Messages,
                StatusAttribute::Recent,
                StatusAttribute::Size
            ]
        );
        assert_eq!(list[4].name(), "X-FOO");
        assert_eq!(
            encoded(|e| encode_attribute_list(&list, e)),
            b"(UIDNEXT MESSAGES RECENT SIZE X-FOO)"
        );
        assert!(parse_attribute_list(b"()", &c).is_err());
        assert!(parse_attribute_list(b"(MESSAGES", &c).is_err());
    }

    #[test]
    fn values() {
        let c = DecoderConfig::STRICT;
        let input = b" blurdybloop (MESSAGES 231 UIDNEXT 44292 SIZE 9223372036854775807 \
                      HIGHESTMODSEQ 7011231777 APPENDLIMIT NIL MAILBOXID (F2212ea87))";
        let (rest, s) = MailboxStatus::parse(input, &c).unwrap();
        assert!(rest.is_empty());
        assert_eq!(s.values[0], StatusValue::Messages(231));
        assert_eq!(s.values[2], StatusValue::Size(i64::MAX as u64));
        assert_eq!(
            s.values[3],
            StatusValue::HighestModSeq(crate::ModSeqValzer::new(7011231777).unwrap())
        );
        assert_eq!(s.values[4], StatusValue::AppendLimit(None));
        assert!(matches!(&s.values[5], StatusValue::MailboxId(id) if id.as_str() == "F2212ea87"));
        assert_eq!(s.values[3].attribute().name(), "HIGHESTMODSEQ");
        assert_eq!(s.values[1].attribute(), StatusAttribute::UidNext);
        assert_eq!(encoded(|e| s.encode(e)), input);
        assert!(MailboxStatus::parse(b" x (UIDNEXT 0)", &c).is_err());
        assert!(MailboxStatus::parse(b" x (MESSAGES 4294967296)", &c).is_err());
        assert!(MailboxStatus::parse(b" x (MESSAGES)", &c).is_err());
        let (_, empty) = MailboxStatus::parse(b" x ()", &c).unwrap();
        assert!(empty.values.is_empty());
    }
}

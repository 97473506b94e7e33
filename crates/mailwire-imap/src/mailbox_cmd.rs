//! The home of [`SelectParameter`] and what goes with it; the explanation of this
//! part of the grammar is on that type, where the rendered documentation
//! shows it.

use crate::condstore::QResync;
use crate::decode::DecoderConfig;
use crate::encode::Encoder;
use crate::extension::{TaggedExt, encode_params, params, tagged_ext_label};
use crate::flag::{MailboxAttribute, parse_mailbox_attributes};
use crate::mailbox::Mailbox;
use crate::parse::{PResult, expect, sp};

/// A parameter of SELECT or EXAMINE (`select-param`, RFC 4466).
///
/// The mailbox commands of RFC 9051 section 6.3 and RFC 3501 section 6.3:
/// SELECT and EXAMINE with the `select-params` of RFC 4466, CREATE with
/// the `create-params` of RFC 4466 and the `USE` parameter of
/// CREATE-SPECIAL-USE (RFC 6154), DELETE, RENAME with the `rename-params`
/// of RFC 4466, SUBSCRIBE and UNSUBSCRIBE.
///
/// ```text
/// select       = "SELECT" SP mailbox [select-params]
/// examine      = "EXAMINE" SP mailbox [select-params]
/// select-params = SP "(" select-param *(SP select-param) ")"
/// select-param =/ "CONDSTORE" / "QRESYNC" SP "(" ... ")"     ; RFC 7162
/// create       = "CREATE" SP mailbox [create-params]
/// create-params = SP "(" create-param *(SP create-param) ")"
/// create-param =/ "USE" SP "(" [use-attr *(SP use-attr)] ")"   ; RFC 6154
/// delete       = "DELETE" SP mailbox
/// rename       = "RENAME" SP mailbox SP mailbox [rename-params]
/// rename-params = SP "(" rename-param *(SP rename-param) ")"
/// subscribe    = "SUBSCRIBE" SP mailbox
/// unsubscribe  = "UNSUBSCRIBE" SP mailbox
/// ```
///
/// CONDSTORE and QRESYNC (RFC 7162, see `crate::condstore`) are typed;
/// parameters this crate does not know are kept in the generic
/// `tagged-ext-label [SP tagged-ext-val]` form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SelectParameter<'a> {
    /// `CONDSTORE` (RFC 7162): enable CONDSTORE, so that MODSEQ comes with
    /// every unsolicited FETCH from this SELECT on.
    CondStore,
    /// `QRESYNC (...)` (RFC 7162): open the mailbox and report what
    /// changed since the state the client knew.
    QResync(QResync),
    /// `select-param-name [SP select-param-value]`, as sent.
    Other(TaggedExt<'a>),
}

impl<'a> SelectParameter<'a> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> SelectParameter<'static> {
        match self {
            SelectParameter::CondStore => SelectParameter::CondStore,
            SelectParameter::QResync(q) => SelectParameter::QResync(q),
            SelectParameter::Other(t) => SelectParameter::Other(t.into_owned()),
        }
    }

    /// `select-param = select-param-name [SP select-param-value]`, with
    /// RFC 7162's `condstore-param = "CONDSTORE"` and `"QRESYNC" SP "("
    /// ... ")"` typed.
    fn parse(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, Self> {
        let (rest, name) = expect("parameter", tagged_ext_label)(input)?;
        if name.as_str().eq_ignore_ascii_case("CONDSTORE") {
            return Ok((rest, SelectParameter::CondStore));
        }
        if name.as_str().eq_ignore_ascii_case("QRESYNC") {
            return QResync::parse(rest, config).map(|(r, q)| (r, SelectParameter::QResync(q)));
        }
        let (rest, t) = TaggedExt::parse_value(rest, name, config)?;
        Ok((rest, SelectParameter::Other(t)))
    }

    fn encode<'e>(&'e self, e: &mut Encoder<'e>) {
        match self {
            SelectParameter::CondStore => e.put(b"CONDSTORE"),
            SelectParameter::QResync(q) => q.encode(e),
            SelectParameter::Other(t) => t.encode(e),
        }
    }
}

/// A parameter of CREATE (`create-param`, RFC 4466 and RFC 6154).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CreateParameter<'a> {
    /// `"USE" SP "(" [use-attr *(SP use-attr)] ")"`: the special uses of
    /// the new mailbox (RFC 6154). Any `\` atom is accepted (`use-attr-ext`).
    Use(Vec<MailboxAttribute<'a>>),
    /// `create-param-name [SP create-param-value]`, as sent.
    Other(TaggedExt<'a>),
}

impl CreateParameter<'_> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> CreateParameter<'static> {
        match self {
            CreateParameter::Use(a) => {
                CreateParameter::Use(a.into_iter().map(MailboxAttribute::into_owned).collect())
            }
            CreateParameter::Other(t) => CreateParameter::Other(t.into_owned()),
        }
    }

    fn parse<'a>(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, CreateParameter<'a>> {
        let (rest, name) = expect("parameter", tagged_ext_label)(input)?;
        if name.as_str().eq_ignore_ascii_case("USE") {
            let (rest, _) = sp(rest)?;
            let (rest, uses) =
                parse_mailbox_attributes(rest, config.limits.list, config.leniency.extra_spaces)?;
            return Ok((rest, CreateParameter::Use(uses)));
        }
        let (rest, t) = TaggedExt::parse_value(rest, name, config)?;
        Ok((rest, CreateParameter::Other(t)))
    }

    fn encode<'e>(&'e self, e: &mut Encoder<'e>) {
        match self {
            CreateParameter::Use(uses) => {
                let out = e.line();
                out.extend_from_slice(b"USE (");
                for (i, a) in uses.iter().enumerate() {
                    if i > 0 {
                        out.push(b' ');
                    }
                    a.encode(out);
                }
                out.push(b')');
            }
            CreateParameter::Other(t) => t.encode(e),
        }
    }
}

/// A parameter of RENAME (`rename-param`, RFC 4466).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RenameParameter<'a> {
    /// `rename-param-name [SP rename-param-value]`, as sent.
    Other(TaggedExt<'a>),
}

impl RenameParameter<'_> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> RenameParameter<'static> {
        match self {
            RenameParameter::Other(t) => RenameParameter::Other(t.into_owned()),
        }
    }

    fn encode<'e>(&'e self, e: &mut Encoder<'e>) {
        match self {
            RenameParameter::Other(t) => t.encode(e),
        }
    }
}

/// `SP mailbox`: the argument of DELETE, SUBSCRIBE and UNSUBSCRIBE.
pub(crate) fn parse_mailbox_arg<'a>(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, Mailbox<'a>> {
    let (rest, _) = sp(input)?;
    Mailbox::parse(rest, &config.leniency)
}

/// Writes ` mailbox`.
pub(crate) fn encode_mailbox_arg<'e>(mailbox: &'e Mailbox<'e>, e: &mut Encoder<'e>) {
    e.put(b" ");
    mailbox.encode(e);
}

/// `SP mailbox [select-params]`: the arguments of SELECT and EXAMINE.
pub(crate) fn parse_select<'a>(
    input: &'a [u8],
    config: &DecoderConfig,
) -> PResult<'a, (Mailbox<'a>, Vec<SelectParameter<'a>>)> {
    let (rest, mailbox) = parse_mailbox_arg(input, config)?;
    let (rest, parameters) = params(rest, config, |i| SelectParameter::parse(i, config))?;
    Ok((rest, (mailbox, parameters)))
}

/// Writes ` mailbox [(params)]`.
pub(crate) fn encode_select<'e>(
    mailbox: &'e Mailbox<'e>,
    parameters: &'e [SelectParameter<'e>],
    e: &mut Encoder<'e>,
) {
    encode_mailbox_arg(mailbox, e);
    encode_params(parameters, e, |p, e| p.encode(e));
}

/// `SP mailbox [create-params]`: the arguments of CREATE.
pub(crate) fn parse_create<'a>(
    input: &'a [u8],
    config: &DecoderConfig,
) -> PResult<'a, (Mailbox<'a>, Vec<CreateParameter<'a>>)> {
    let (rest, mailbox) = parse_mailbox_arg(input, config)?;
    let (rest, parameters) = params(rest, config, |i| CreateParameter::parse(i, config))?;
    Ok((rest, (mailbox, parameters)))
}

/// Writes ` mailbox [(params)]`.
pub(crate) fn encode_create<'e>(
    mailbox: &'e Mailbox<'e>,
    parameters: &'e [CreateParameter<'e>],
    e: &mut Encoder<'e>,
) {
    encode_mailbox_arg(mailbox, e);
    encode_params(parameters, e, |p, e| p.encode(e));
}

/// The mailboxes and parameters of RENAME.
pub(crate) type RenameArgs<'a> = (Mailbox<'a>, Mailbox<'a>, Vec<RenameParameter<'a>>);

/// `SP mailbox SP mailbox [rename-params]`: the arguments of RENAME.
pub(crate) fn parse_rename<'a>(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, RenameArgs<'a>> {
    let (rest, from) = parse_mailbox_arg(input, config)?;
    let (rest, to) = parse_mailbox_arg(rest, config)?;
    let (rest, parameters) = params(rest, config, |i| {
        TaggedExt::parse(i, config).map(|(r, t)| (r, RenameParameter::Other(t)))
    })?;
    Ok((rest, (from, to, parameters)))
}

/// Writes ` from to [(params)]`.
pub(crate) fn encode_rename<'e>(
    from: &'e Mailbox<'e>,
    to: &'e Mailbox<'e>,
    parameters: &'e [RenameParameter<'e>],
    e: &mut Encoder<'e>,
) {
    encode_mailbox_arg(from, e);
    encode_mailbox_arg(to, e);
    encode_params(parameters, e, |p, e| p.encode(e));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extension::TaggedExtVal;

    use crate::encode::encoded;

    #[test]
    fn select_parameters() {
        let c = DecoderConfig::STRICT;
        let input = b" INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541) CONDSTORE)";
        let (rest, (m, p)) = parse_select(input, &c).unwrap();
        assert!(rest.is_empty() && m.is_inbox());
        let SelectParameter::QResync(q) = &p[0] else {
            panic!("{p:?}")
        };
        assert_eq!(q.uid_validity.get(), 67890007);
        assert_eq!(p[1], SelectParameter::CondStore);
        assert_eq!(encoded(|e| encode_select(&m, &p, e)), input);
        let (_, (_, p)) = parse_select(b" INBOX (X-QRESYNC (1 2))", &c).unwrap();
        assert!(matches!(&p[0], SelectParameter::Other(t) if matches!(t.value, Some(TaggedExtVal::List(_)))));
        assert!(parse_select(b" INBOX (CONDSTORE 1)", &c).is_err());
        assert!(parse_select(b" INBOX (QRESYNC)", &c).is_err());
        assert!(parse_select(b" INBOX ()", &c).is_err());
        let (rest, (_, p)) = parse_select(b" INBOX", &c).unwrap();
        assert!(rest.is_empty() && p.is_empty());
    }

    #[test]
    fn create_parameters() {
        let c = DecoderConfig::STRICT;
        for input in [
            &b" MySpecial (USE (\\Drafts \\Sent))"[..],
            b" x (USE ())",
            b" x (USE (\\X-Future) X-OTHER 5)",
            b" \"Sent Mail\"",
        ] {
            let (rest, (m, p)) = parse_create(input, &c).unwrap();
            assert!(rest.is_empty());
            assert_eq!(encoded(|e| encode_create(&m, &p, e)), input);
            let owned: Vec<_> = p.clone().into_iter().map(CreateParameter::into_owned).collect();
            assert_eq!(owned, p);
        }
        let (_, (_, p)) = parse_create(b" x (use (\\drafts))", &c).unwrap();
        assert_eq!(p, [CreateParameter::Use(vec![MailboxAttribute::Drafts])]);
        assert!(parse_create(b" x (USE \\Drafts)", &c).is_err());
    }

    #[test]
    fn rename_parameters() {
        let c = DecoderConfig::STRICT;
        let input = b" INBOX old-mail (X-KEEP 1:5)";
        let (rest, (from, to, p)) = parse_rename(input, &c).unwrap();
        assert!(rest.is_empty() && from.is_inbox() && !to.is_inbox());
        assert_eq!(encoded(|e| encode_rename(&from, &to, &p, e)), input);
        assert!(parse_rename(b" a", &c).is_err());
    }
}

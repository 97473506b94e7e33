//! The home of [`List`] and what goes with it; the explanation of this
//! part of the grammar is on that type, where the rendered documentation
//! shows it.

use crate::decode::DecoderConfig;
use crate::encode::Encoder;
use crate::extension::{
    Budget, ExtComponent, TaggedExtVal, component_list, encode_component_list, owned_components,
};
use crate::flag::{MailboxAttribute, parse_mailbox_attributes};
use crate::mailbox::{ListMailbox, Mailbox};
use crate::parse::{PResult, byte, expect, fail, keyword, paren_list, sp};
use crate::status::{StatusAttribute, encode_attribute_list, parse_attribute_list};
use crate::string::{AString, Atom, Quoted};

/// `option-extension = (option-standard-tag / option-vendor-tag) [SP
/// option-value]`, `option-value = "(" option-val-comp ")"` (RFC 5258): a
/// LIST option this crate does not know, as sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OptionExtension<'a> {
    /// The option name (an atom; vendor options start with `vendor.`).
    pub name: Atom<'a>,
    /// The components between the parentheses of the value, if any.
    pub value: Option<Vec<ExtComponent<'a>>>,
}

impl<'a> OptionExtension<'a> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> OptionExtension<'static> {
        OptionExtension {
            name: self.name.into_owned(),
            value: self.value.map(owned_components),
        }
    }

    /// The optional ` (value)` after a name that was already read.
    fn parse_value(rest: &'a [u8], name: Atom<'a>, config: &DecoderConfig) -> PResult<'a, Self> {
        match rest.strip_prefix(b" ").filter(|r| r.first() == Some(&b'(')) {
            Some(v) => {
                let (rest, value) = component_list(v, config, &mut Budget::new(config))?;
                if value.is_empty() {
                    return fail(&v[1..], "option value");
                }
                Ok((
                    rest,
                    OptionExtension {
                        name,
                        value: Some(value),
                    },
                ))
            }
            None => Ok((rest, OptionExtension { name, value: None })),
        }
    }

    fn encode<'e>(&'e self, e: &mut Encoder<'e>) {
        e.put(self.name.as_str().as_bytes());
        if let Some(v) = &self.value {
            e.put(b" ");
            encode_component_list(v, e);
        }
    }
}

/// A selection option of LIST (RFC 5258 `list-select-opt`, RFC 6154).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ListSelectOption<'a> {
    /// `SUBSCRIBED`: subscribed mailboxes only.
    Subscribed,
    /// `REMOTE`: include remote mailboxes.
    Remote,
    /// `RECURSIVEMATCH`: also mailboxes whose children match (needs a base
    /// option such as `SUBSCRIBED`).
    RecursiveMatch,
    /// `SPECIAL-USE`: mailboxes with a special use only (RFC 6154).
    SpecialUse,
    /// Any other option.
    Other(OptionExtension<'a>),
}

impl ListSelectOption<'_> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> ListSelectOption<'static> {
        match self {
            ListSelectOption::Subscribed => ListSelectOption::Subscribed,
            ListSelectOption::Remote => ListSelectOption::Remote,
            ListSelectOption::RecursiveMatch => ListSelectOption::RecursiveMatch,
            ListSelectOption::SpecialUse => ListSelectOption::SpecialUse,
            ListSelectOption::Other(o) => ListSelectOption::Other(o.into_owned()),
        }
    }

    /// `list-select-opt = list-select-base-opt / list-select-independent-opt
    /// / list-select-mod-opt`.
    fn parse<'a>(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, ListSelectOption<'a>> {
        let (rest, name) = expect("selection option", Atom::parse)(input)?;
        let n = name.as_str();
        let known = [
            ("SUBSCRIBED", ListSelectOption::Subscribed),
            ("REMOTE", ListSelectOption::Remote),
            ("RECURSIVEMATCH", ListSelectOption::RecursiveMatch),
            ("SPECIAL-USE", ListSelectOption::SpecialUse),
        ];
        if let Some((_, o)) = known.into_iter().find(|(k, _)| k.eq_ignore_ascii_case(n)) {
            return Ok((rest, o));
        }
        let (rest, o) = OptionExtension::parse_value(rest, name, config)?;
        Ok((rest, ListSelectOption::Other(o)))
    }

    fn encode<'e>(&'e self, e: &mut Encoder<'e>) {
        match self {
            ListSelectOption::Subscribed => e.put(b"SUBSCRIBED"),
            ListSelectOption::Remote => e.put(b"REMOTE"),
            ListSelectOption::RecursiveMatch => e.put(b"RECURSIVEMATCH"),
            ListSelectOption::SpecialUse => e.put(b"SPECIAL-USE"),
            ListSelectOption::Other(o) => o.encode(e),
        }
    }
}

/// A return option of LIST (RFC 5258 `return-option`, RFC 5819, RFC 6154).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ListReturnOption<'a> {
    /// `SUBSCRIBED`: mark subscribed mailboxes with `\Subscribed`.
    Subscribed,
    /// `CHILDREN`: `\HasChildren` / `\HasNoChildren`.
    Children,
    /// `SPECIAL-USE`: the special-use attributes (RFC 6154).
    SpecialUse,
    /// `status-option = "STATUS" SP "(" status-att *(SP status-att) ")"`
    /// (RFC 5819): a STATUS response for each selectable mailbox listed.
    Status(Vec<StatusAttribute<'a>>),
    /// Any other option.
    Other(OptionExtension<'a>),
}

impl ListReturnOption<'_> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> ListReturnOption<'static> {
        match self {
            ListReturnOption::Subscribed => ListReturnOption::Subscribed,
            ListReturnOption::Children => ListReturnOption::Children,
            ListReturnOption::SpecialUse => ListReturnOption::SpecialUse,
            ListReturnOption::Status(s) => {
                ListReturnOption::Status(s.into_iter().map(StatusAttribute::into_owned).collect())
            }
            ListReturnOption::Other(o) => ListReturnOption::Other(o.into_owned()),
        }
    }

    /// `return-option = "SUBSCRIBED" / "CHILDREN" / status-option /
    /// "SPECIAL-USE" / option-extension`.
    fn parse<'a>(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, ListReturnOption<'a>> {
        let (rest, name) = expect("return option", Atom::parse)(input)?;
        let n = name.as_str();
        if n.eq_ignore_ascii_case("STATUS") {
            let (rest, _) = sp(rest)?;
            let (rest, attributes) = parse_attribute_list(rest, config)?;
            return Ok((rest, ListReturnOption::Status(attributes)));
        }
        let known = [
            ("SUBSCRIBED", ListReturnOption::Subscribed),
            ("CHILDREN", ListReturnOption::Children),
            ("SPECIAL-USE", ListReturnOption::SpecialUse),
        ];
        if let Some((_, o)) = known.into_iter().find(|(k, _)| k.eq_ignore_ascii_case(n)) {
            return Ok((rest, o));
        }
        let (rest, o) = OptionExtension::parse_value(rest, name, config)?;
        Ok((rest, ListReturnOption::Other(o)))
    }

    fn encode<'e>(&'e self, e: &mut Encoder<'e>) {
        match self {
            ListReturnOption::Subscribed => e.put(b"SUBSCRIBED"),
            ListReturnOption::Children => e.put(b"CHILDREN"),
            ListReturnOption::SpecialUse => e.put(b"SPECIAL-USE"),
            ListReturnOption::Status(a) => {
                e.put(b"STATUS ");
                encode_attribute_list(a, e);
            }
            ListReturnOption::Other(o) => o.encode(e),
        }
    }
}

/// `mbox-or-pat = list-mailbox / patterns`, `patterns = "(" list-mailbox
/// *(SP list-mailbox) ")"` (RFC 5258).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ListPatterns<'a> {
    /// One pattern.
    Single(ListMailbox<'a>),
    /// A parenthesised list of patterns (one or more when decoded).
    List(Vec<ListMailbox<'a>>),
}

impl ListPatterns<'_> {
    /// The patterns.
    pub fn as_slice(&self) -> &[ListMailbox<'_>] {
        match self {
            ListPatterns::Single(p) => std::slice::from_ref(p),
            ListPatterns::List(l) => l,
        }
    }

    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> ListPatterns<'static> {
        match self {
            ListPatterns::Single(p) => ListPatterns::Single(p.into_owned()),
            ListPatterns::List(l) => ListPatterns::List(l.into_iter().map(ListMailbox::into_owned).collect()),
        }
    }
}

/// `"(" opt *(SP opt) ")"` with at most `limits.list` options; empty allowed.
fn option_list<'a, T>(
    input: &'a [u8],
    config: &DecoderConfig,
    item: impl FnMut(&'a [u8]) -> PResult<'a, T>,
) -> PResult<'a, Vec<T>> {
    paren_list(config.limits.list, config.leniency.extra_spaces, item)(input)
}

fn encode_list<'e, T>(items: &'e [T], e: &mut Encoder<'e>, f: impl Fn(&'e T, &mut Encoder<'e>)) {
    e.put(b"(");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            e.put(b" ");
        }
        f(item, e);
    }
    e.put(b")");
}

/// The arguments of LIST (RFC 9051, RFC 5258):
///
/// ```text
/// list             = "LIST" [SP list-select-opts] SP mailbox SP mbox-or-pat
///                    [SP list-return-opts]
/// list-select-opts = "(" [(*(list-select-opt SP) list-select-base-opt
///                    *(SP list-select-opt)) / (list-select-independent-opt
///                    *(SP list-select-independent-opt))] ")"
/// list-return-opts = "RETURN" SP "(" [return-option *(SP return-option)] ")"
/// ```
///
/// The rule that `RECURSIVEMATCH` needs a base option is checked as far as
/// it can be: `(RECURSIVEMATCH)` and `(REMOTE RECURSIVEMATCH)` are refused,
/// an unknown option may be a base option and lets it pass.
///
/// LIST and LSUB: the LIST command of RFC 9051 section 6.3.9 with the
/// LIST-EXTENDED selection and return options and multiple patterns of
/// RFC 5258, the `SPECIAL-USE` options of RFC 6154 and the `STATUS` return
/// option of RFC 5819; the IMAP4rev1 LSUB command (RFC 3501 section
/// 6.3.9); and the LIST and LSUB responses (`mailbox-list`, RFC 9051
/// section 7.3.1, RFC 5258 section 6) with their `CHILDINFO` and `OLDNAME`
/// extended data items.
///
/// Options and extended data this crate does not know are kept as sent in
/// the generic forms of RFC 5258 and RFC 4466. A LIST response borrows the
/// mailbox name from the input (unless it has escapes) and allocates only
/// for its attribute list, so a 5,000-line LIST answer costs one small
/// allocation per line.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct List<'a> {
    /// The selection options; `None` when absent, `Some` and empty for `()`.
    pub selection: Option<Vec<ListSelectOption<'a>>>,
    /// The reference name (`""` for none).
    pub reference: Mailbox<'a>,
    /// The pattern or patterns.
    pub patterns: ListPatterns<'a>,
    /// The return options; `None` when absent, `Some` and empty for
    /// `RETURN ()`.
    pub return_options: Option<Vec<ListReturnOption<'a>>>,
}

impl<'a> List<'a> {
    /// A basic LIST: `LIST reference pattern`.
    pub fn new(reference: Mailbox<'a>, pattern: ListMailbox<'a>) -> Self {
        List {
            selection: None,
            reference,
            patterns: ListPatterns::Single(pattern),
            return_options: None,
        }
    }

    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> List<'static> {
        List {
            selection: self
                .selection
                .map(|s| s.into_iter().map(ListSelectOption::into_owned).collect()),
            reference: self.reference.into_owned(),
            patterns: self.patterns.into_owned(),
            return_options: self
                .return_options
                .map(|s| s.into_iter().map(ListReturnOption::into_owned).collect()),
        }
    }

    /// The arguments after `LIST`, from the space that follows it.
    pub(crate) fn parse(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, Self> {
        let leniency = &config.leniency;
        let (mut rest, _) = sp(input)?;
        let mut selection = None;
        if rest.first() == Some(&b'(') {
            let at = rest;
            let (r, options) = option_list(rest, config, |i| ListSelectOption::parse(i, config))?;
            let has = |o: &ListSelectOption<'_>| options.contains(o);
            if has(&ListSelectOption::RecursiveMatch)
                && !has(&ListSelectOption::Subscribed)
                && !options.iter().any(|o| matches!(o, ListSelectOption::Other(_)))
            {
                return fail(
                    &at[1..],
                    "a base selection option such as SUBSCRIBED with RECURSIVEMATCH",
                );
            }
            selection = Some(options);
            (rest, _) = sp(r)?;
        }
        let (rest, reference) = Mailbox::parse(rest, leniency)?;
        let (rest, _) = sp(rest)?;
        let (mut rest, patterns) = if rest.first() == Some(&b'(') {
            let (r, list) = option_list(rest, config, |i| ListMailbox::parse(i, leniency))?;
            if list.is_empty() {
                return fail(&rest[1..], "list-mailbox");
            }
            (r, ListPatterns::List(list))
        } else {
            let (r, p) = ListMailbox::parse(rest, leniency)?;
            (r, ListPatterns::Single(p))
        };
        let mut return_options = None;
        if let Some(r) = rest.strip_prefix(b" ") {
            if let Ok((r, _)) = keyword("RETURN")(r) {
                let (r, _) = sp(r)?;
                let (r, options) = option_list(r, config, |i| ListReturnOption::parse(i, config))?;
                return_options = Some(options);
                rest = r;
            }
        }
        Ok((
            rest,
            List {
                selection,
                reference,
                patterns,
                return_options,
            },
        ))
    }

    /// Writes the arguments, from the space after `LIST`.
    pub(crate) fn encode<'e>(&'e self, e: &mut Encoder<'e>) {
        if let Some(s) = &self.selection {
            e.put(b" ");
            encode_list(s, e, |o, e| o.encode(e));
        }
        e.put(b" ");
        self.reference.encode(e);
        e.put(b" ");
        match &self.patterns {
            ListPatterns::Single(p) => p.encode(e),
            ListPatterns::List(l) => encode_list(l, e, |p, e| p.encode(e)),
        }
        if let Some(r) = &self.return_options {
            e.put(b" RETURN ");
            encode_list(r, e, |o, e| o.encode(e));
        }
    }
}

/// `lsub = "LSUB" SP mailbox SP list-mailbox` (RFC 3501): the arguments
/// after the command name, from the space that follows it.
pub(crate) fn parse_lsub<'a>(
    input: &'a [u8],
    config: &DecoderConfig,
) -> PResult<'a, (Mailbox<'a>, ListMailbox<'a>)> {
    let (rest, _) = sp(input)?;
    let (rest, reference) = Mailbox::parse(rest, &config.leniency)?;
    let (rest, _) = sp(rest)?;
    let (rest, pattern) = ListMailbox::parse(rest, &config.leniency)?;
    Ok((rest, (reference, pattern)))
}

/// Writes ` reference pattern`.
pub(crate) fn encode_lsub<'e>(reference: &'e Mailbox<'e>, pattern: &'e ListMailbox<'e>, e: &mut Encoder<'e>) {
    e.put(b" ");
    reference.encode(e);
    e.put(b" ");
    pattern.encode(e);
}

/// An extended data item of a LIST response: `mbox-list-extended-item =
/// mbox-list-extended-item-tag SP tagged-ext-val`.
///
/// The tag may be sent quoted or not (`"CHILDINFO"`, `CHILDINFO`); the
/// known items are sent quoted, as in RFC 5258 and RFC 9051.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ListExtendedItem<'a> {
    /// `childinfo-extended-item = "CHILDINFO" SP "("
    /// list-select-base-opt-quoted *(SP list-select-base-opt-quoted) ")"`:
    /// the selection options (such as `SUBSCRIBED`) that children of this
    /// mailbox match (RFC 5258 RECURSIVEMATCH).
    ChildInfo(Vec<Quoted<'a>>),
    /// `oldname-extended-item = "OLDNAME" SP "(" mailbox ")"`: the name
    /// before a RENAME or canonicalisation (RFC 9051).
    OldName(Mailbox<'a>),
    /// Any other item, as sent. Its value may also be an astring (the
    /// example of RFC 9051 section 7.3.1 sends `Sample "text"`).
    Other {
        /// `mbox-list-extended-item-tag = astring`.
        tag: AString<'a>,
        /// The value.
        value: TaggedExtVal<'a>,
    },
}

impl<'a> ListExtendedItem<'a> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> ListExtendedItem<'static> {
        match self {
            ListExtendedItem::ChildInfo(o) => {
                ListExtendedItem::ChildInfo(o.into_iter().map(Quoted::into_owned).collect())
            }
            ListExtendedItem::OldName(m) => ListExtendedItem::OldName(m.into_owned()),
            ListExtendedItem::Other { tag, value } => ListExtendedItem::Other {
                tag: tag.into_owned(),
                value: value.into_owned(),
            },
        }
    }

    /// `mbox-list-extended-item`.
    fn parse(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, Self> {
        let (rest, tag) = expect("extended item tag", |i| AString::parse(i, &config.leniency))(input)?;
        let (rest, _) = sp(rest)?;
        let name = tag.as_bytes();
        if name.eq_ignore_ascii_case(b"CHILDINFO") {
            let (rest, options) = option_list(rest, config, |i| {
                Quoted::parse(i, config.leniency.eight_bit_quoted)
            })?;
            if options.is_empty() {
                return fail(rest, "quoted selection option");
            }
            return Ok((rest, ListExtendedItem::ChildInfo(options)));
        }
        if name.eq_ignore_ascii_case(b"OLDNAME") {
            let (rest, _) = byte(b'(', "'('")(rest)?;
            let (rest, mailbox) = Mailbox::parse(rest, &config.leniency)?;
            let (rest, _) = byte(b')', "')'")(rest)?;
            return Ok((rest, ListExtendedItem::OldName(mailbox)));
        }
        let (rest, value) = TaggedExtVal::parse(rest, config, true)?;
        Ok((rest, ListExtendedItem::Other { tag, value }))
    }

    fn encode<'e>(&'e self, e: &mut Encoder<'e>) {
        match self {
            ListExtendedItem::ChildInfo(options) => {
                e.put(b"\"CHILDINFO\" ");
                encode_list(options, e, |o, e| {
                    crate::string::write_quoted(e.line(), o.as_bytes())
                });
            }
            ListExtendedItem::OldName(m) => {
                e.put(b"\"OLDNAME\" (");
                m.encode(e);
                e.put(b")");
            }
            ListExtendedItem::Other { tag, value } => {
                tag.encode(e);
                e.put(b" ");
                value.encode(e);
            }
        }
    }
}

/// The hierarchy delimiter: `DQUOTE QUOTED-CHAR DQUOTE / nil`.
pub(crate) fn parse_delimiter(input: &[u8]) -> PResult<'_, Option<char>> {
    if crate::parse::is_nil(input) {
        return Ok((&input[3..], None));
    }
    let (rest, _) = byte(b'"', "'\"' or NIL")(input)?;
    let (rest, c) = match rest {
        [b'\\', c @ (b'"' | b'\\'), rest @ ..] => (rest, char::from(*c)),
        [c @ 0x01..=0x7f, rest @ ..] if !matches!(c, b'"' | b'\\' | b'\r' | b'\n') => (rest, char::from(*c)),
        [c @ 0xc2..=0xf4, ..] => {
            let len = match c {
                0xc2..=0xdf => 2,
                0xe0..=0xef => 3,
                _ => 4,
            };
            match rest.get(..len).and_then(|b| std::str::from_utf8(b).ok()) {
                Some(s) => (&rest[len..], s.chars().next().unwrap_or_default()),
                None => return fail(rest, "hierarchy delimiter character"),
            }
        }
        _ => return fail(rest, "hierarchy delimiter character"),
    };
    let (rest, _) = byte(b'"', "'\"'")(rest)?;
    Ok((rest, Some(c)))
}

/// Writes a delimiter: `"c"`, escaped when needed, or `NIL`. A line break
/// cannot be a `QUOTED-CHAR` (it would end the line): it is written as
/// `NIL`, no delimiter.
pub(crate) fn encode_delimiter(delimiter: Option<char>, out: &mut Vec<u8>) {
    match delimiter {
        None | Some('\r' | '\n') => out.extend_from_slice(b"NIL"),
        Some(c) => {
            let mut buf = [0u8; 4];
            crate::string::write_quoted(out, c.encode_utf8(&mut buf).as_bytes());
        }
    }
}

/// A space; with `extra_spaces`, a run of them.
pub(crate) fn separator<'a>(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, ()> {
    crate::parse::separator(input, config.leniency.extra_spaces)
}

/// A LIST or LSUB response:
///
/// ```text
/// mailbox-list = "(" [mbx-list-flags] ")" SP
///                (DQUOTE QUOTED-CHAR DQUOTE / nil) SP mailbox
///                [SP mbox-list-extended]
/// mbox-list-extended = "(" [mbox-list-extended-item
///                      *(SP mbox-list-extended-item)] ")"
/// ```
///
/// Attribute names are sent in their RFC spelling (`\NoInferiors` decodes
/// to [`MailboxAttribute::Noinferiors`] and is sent as `\Noinferiors`), and
/// every case variant of INBOX as `INBOX`. An empty `()` of extended items
/// decodes to an empty list, which is not sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MailboxList<'a> {
    /// The mailbox attributes.
    pub attributes: Vec<MailboxAttribute<'a>>,
    /// The hierarchy delimiter; `None` (NIL) for a flat name space.
    pub delimiter: Option<char>,
    /// The mailbox name.
    pub mailbox: Mailbox<'a>,
    /// Extended data items (RFC 5258), in the order sent.
    pub extended: Vec<ListExtendedItem<'a>>,
}

impl<'a> MailboxList<'a> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> MailboxList<'static> {
        MailboxList {
            attributes: self
                .attributes
                .into_iter()
                .map(MailboxAttribute::into_owned)
                .collect(),
            delimiter: self.delimiter,
            mailbox: self.mailbox.into_owned(),
            extended: self
                .extended
                .into_iter()
                .map(ListExtendedItem::into_owned)
                .collect(),
        }
    }

    /// The response data after `LIST` or `LSUB`, from the space that
    /// follows it.
    pub(crate) fn parse(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, Self> {
        let (rest, ()) = separator(input, config)?;
        let (rest, attributes) =
            parse_mailbox_attributes(rest, config.limits.list, config.leniency.extra_spaces)?;
        let (rest, ()) = separator(rest, config)?;
        let (rest, delimiter) = parse_delimiter(rest)?;
        let (rest, ()) = separator(rest, config)?;
        let (mut rest, mailbox) = Mailbox::parse(rest, &config.leniency)?;
        let mut extended = Vec::new();
        if let Some(r) = rest.strip_prefix(b" ").filter(|r| r.first() == Some(&b'(')) {
            let (r, items) = option_list(r, config, |i| ListExtendedItem::parse(i, config))?;
            extended = items;
            rest = r;
        }
        Ok((
            rest,
            MailboxList {
                attributes,
                delimiter,
                mailbox,
                extended,
            },
        ))
    }

    /// Writes the data, from the space after `LIST` or `LSUB`.
    pub(crate) fn encode<'e>(&'e self, e: &mut Encoder<'e>) {
        let out = e.line();
        out.extend_from_slice(b" (");
        for (i, a) in self.attributes.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            a.encode(out);
        }
        out.extend_from_slice(b") ");
        encode_delimiter(self.delimiter, out);
        out.push(b' ');
        self.mailbox.encode(e);
        if !self.extended.is_empty() {
            e.put(b" ");
            encode_list(&self.extended, e, |i, e| i.encode(e));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    use crate::encode::encoded;

    fn list(input: &[u8]) -> List<'_> {
        let (rest, l) = List::parse(input, &DecoderConfig::STRICT).unwrap();
        assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(rest));
        l
    }

    #[test]
    fn commands_round_trip() {
        for input in [
            &b" \"\" *"[..],
            b" () \"\" %",
            b" (SUBSCRIBED RECURSIVEMATCH) \"\" \"%\" RETURN (CHILDREN)",
            b" (REMOTE SPECIAL-USE X-FOO vendor.x-bar (a (b c))) INBOX (\"INBOX\" Drafts \"Sent/%\")",
            b" \"\" % RETURN (STATUS (MESSAGES UNSEEN SIZE) SUBSCRIBED SPECIAL-USE X-Y (1))",
            b" \"\" % RETURN ()",
            b" ~/Mail/ {3}\r\nfoo",
        ] {
            let l = list(input);
            assert_eq!(encoded(|e| l.encode(e)), input, "{l:?}");
            assert_eq!(l.clone().into_owned(), l);
        }
        let l = list(b" (SUBSCRIBED) \"\" (a b)");
        assert_eq!(l.patterns.as_slice().len(), 2);
        assert_eq!(l.selection, Some(vec![ListSelectOption::Subscribed]));
    }

    #[test]
    fn command_rejections() {
        let c = DecoderConfig::STRICT;
        let offset = |input: &[u8]| match List::parse(input, &c) {
            Err(nom::Err::Error(e)) => e.into_decode_error(input).offset,
            other => panic!("{other:?}"),
        };
        assert_eq!(offset(b" (RECURSIVEMATCH) \"\" %"), 2);
        assert_eq!(offset(b" (REMOTE RECURSIVEMATCH) \"\" %"), 2);
        assert!(
            List::parse(b" (RECURSIVEMATCH X-BASE) \"\" %", &c)
                .unwrap()
                .0
                .is_empty()
        );
        assert_eq!(offset(b" \"\" ()"), 5);
        assert_eq!(offset(b" (SUBSCRIBED RECURSIVEMATCH)\"\" %"), 28);
        assert_eq!(offset(b" \"\" % RETURN (STATUS ())"), 22);
        assert_eq!(offset(b" \"\" % RETURN (X ())"), 17);
    }

    #[test]
    fn responses_round_trip() {
        for input in [
            &b" () \"/\" blurdybloop"[..],
            b" (\\Noselect) \".\" #news.",
            b" (\\HasNoChildren \\Sent) \"/\" \"[Gmail]/Sent Mail\"",
            b" () NIL foo",
            b" () \"\\\\\" a",
            b" () \"\\\"\" x",
            b" (\\Subscribed) \"/\" \"Foo\" (\"CHILDINFO\" (\"SUBSCRIBED\" \"X\"))",
            b" () \"/\" \"Normalized\" (\"OLDNAME\" (\"NonNormalized\"))",
            b" (\\Marked) \":\" Tables (tablecloth ((\"edge\" \"lacy\") (\"color\" \"red\")) Sample \"text\")",
            b" (\\X-Custom) \"/\" {7}\r\na\"b c\\d",
            b" () \"\xc3\xa9\" caf&AOk-",
        ] {
            let (rest, m) = MailboxList::parse(input, &DecoderConfig::STRICT).unwrap();
            assert!(rest.is_empty());
            assert_eq!(encoded(|e| m.encode(e)), input, "{m:?}");
            assert_eq!(m.clone().into_owned(), m);
        }
    }

    #[test]
    fn response_normalisation_and_leniency() {
        let c = DecoderConfig::STRICT;
        let (_, m) = MailboxList::parse(b" (\\NoInferiors \\MARKED) \"/\" \"inbox\" ()", &c).unwrap();
        assert_eq!(m.mailbox, Mailbox::Inbox);
        assert_eq!(
            m.attributes,
            [MailboxAttribute::Noinferiors, MailboxAttribute::Marked]
        );
        assert_eq!(encoded(|e| m.encode(e)), b" (\\Noinferiors \\Marked) \"/\" INBOX");
        let (_, m) = MailboxList::parse(b" () \".\" \"foo\" (CHILDINFO (\"SUBSCRIBED\"))", &c).unwrap();
        assert!(matches!(&m.extended[0], ListExtendedItem::ChildInfo(o) if o[0].as_bytes() == b"SUBSCRIBED"));
        assert!(MailboxList::parse(b" () \".\"  \"INBOX\"", &c).is_err());
        let (rest, read) = MailboxList::parse(b" () \".\"  \"INBOX\"", &DecoderConfig::default()).unwrap();
        assert!(rest.is_empty());
        assert_eq!(read, MailboxList::parse(b" () \".\" \"INBOX\"", &c).unwrap().1);
        for bad in [
            &b" () \"\" x"[..],
            b" () \"ab\" x",
            b" () \"\\a\" x",
            b" () \"/\" x (\"CHILDINFO\" ())",
            b" () \"/\" x (\"OLDNAME\" foo)",
            b" (Noselect) \"/\" x",
        ] {
            assert!(
                MailboxList::parse(bad, &c).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let mut small = DecoderConfig::STRICT;
        small.limits.list = 2;
        let Err(nom::Err::Error(e)) = MailboxList::parse(b" (\\A \\B \\C) \"/\" x", &small) else {
            panic!()
        };
        assert_eq!(e.kind, ErrorKind::TooMany { limit: 2 });
    }

    #[test]
    fn lsub() {
        let (rest, (r, p)) = parse_lsub(b" \"#news.\" \"comp.mail.*\"", &DecoderConfig::STRICT).unwrap();
        assert!(rest.is_empty());
        assert_eq!(
            encoded(|e| encode_lsub(&r, &p, e)),
            b" \"#news.\" \"comp.mail.*\""
        );
    }
}

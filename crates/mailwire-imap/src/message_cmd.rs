//! The home of [`Append`] and what goes with it; the explanation of this
//! part of the grammar is on that type, where the rendered documentation
//! shows it.

use nom::Parser;

use crate::condstore::{ModSeqValzer, mod_sequence_valzer};
use crate::datetime::DateTime;
use crate::decode::DecoderConfig;
use crate::encode::Encoder;
use crate::extension::{TaggedExt, tagged_ext_label};
use crate::flag::{Flag, encode_flag_list, parse_flag_list};
use crate::mailbox::Mailbox;
use crate::parse::{PResult, expect, fail, keyword, sp, too_many};
use crate::sequence::SequenceSet;
use crate::string::Literal;

/// The content of one APPEND message: `append-data`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AppendData<'a> {
    /// `literal / literal8`: the message (a literal8 with BINARY, RFC
    /// 3516).
    Literal(Literal<'a>),
    /// `"UTF8" SP "(" literal8 ")"` (UTF8=ACCEPT, RFC 6855 section 4): a
    /// message with UTF-8 header fields. Always a literal8 on the wire;
    /// the literal's binary flag is ignored when encoding.
    Utf8(Literal<'a>),
    /// `"CATENATE" SP "(" cat-part *(SP cat-part) ")"` (RFC 4469): the
    /// message put together from literals and URLs of messages already on
    /// the server. Never empty when decoded.
    Catenate(Vec<crate::catenate::CatPart<'a>>),
}

impl<'a> AppendData<'a> {
    /// The message literal of the `Literal` and `Utf8` forms.
    pub fn literal(&self) -> Option<&Literal<'a>> {
        match self {
            AppendData::Literal(l) | AppendData::Utf8(l) => Some(l),
            AppendData::Catenate(_) => None,
        }
    }

    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> AppendData<'static> {
        match self {
            AppendData::Literal(l) => AppendData::Literal(l.into_owned()),
            AppendData::Utf8(l) => AppendData::Utf8(l.into_owned()),
            AppendData::Catenate(parts) => AppendData::Catenate(
                parts
                    .into_iter()
                    .map(crate::catenate::CatPart::into_owned)
                    .collect(),
            ),
        }
    }

    /// `append-data` with its UTF8 and CATENATE forms.
    fn parse(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, Self> {
        match input.first() {
            Some(b'{' | b'~') => {
                Literal::parse(input, config.leniency.bare_lf).map(|(r, l)| (r, AppendData::Literal(l)))
            }
            Some(b'U' | b'u') => parse_utf8_literal(input, config).map(|(r, l)| (r, AppendData::Utf8(l))),
            Some(b'C' | b'c') => {
                crate::catenate::parse_catenate(input, config).map(|(r, p)| (r, AppendData::Catenate(p)))
            }
            _ => fail(input, "message literal, UTF8 or CATENATE"),
        }
    }

    fn encode<'e>(&'e self, e: &mut Encoder<'e>) {
        match self {
            AppendData::Literal(l) => e.literal_data(l.data(), l.is_binary()),
            AppendData::Utf8(l) => encode_utf8_literal(l, e),
            AppendData::Catenate(parts) => crate::catenate::encode_catenate(parts, e),
        }
    }
}

/// `utf8-literal = "UTF8" SP "(" literal8 ")"` (RFC 6855 section 4).
pub(crate) fn parse_utf8_literal<'a>(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, Literal<'a>> {
    let (r, _) = keyword("UTF8 (")(input)?;
    if r.first() != Some(&b'~') {
        return fail(r, "literal8");
    }
    let (r, l) = Literal::parse(r, config.leniency.bare_lf)?;
    let (r, _) = crate::parse::byte(b')', "')'")(r)?;
    Ok((r, l))
}

/// Writes `UTF8 (~{n}...)`.
pub(crate) fn encode_utf8_literal<'e>(l: &'e Literal<'e>, e: &mut Encoder<'e>) {
    e.put(b"UTF8 (");
    e.literal_data(l.data(), true);
    e.put(b")");
}

/// One message of an APPEND command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendMessage<'a> {
    /// The flags to set, if a flag list was sent (it may be empty).
    pub flags: Option<Vec<Flag<'a>>>,
    /// The INTERNALDATE to set; the server uses the current time without it.
    pub date: Option<DateTime>,
    /// The message: a literal (or literal8 with BINARY), a UTF-8 message
    /// or a CATENATE list.
    pub data: AppendData<'a>,
}

impl AppendMessage<'_> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> AppendMessage<'static> {
        AppendMessage {
            flags: self.flags.map(|f| f.into_iter().map(Flag::into_owned).collect()),
            date: self.date,
            data: self.data.into_owned(),
        }
    }
}

/// `APPEND`: store messages in a mailbox (RFC 9051 section 6.3.12). More
/// than one message is MULTIAPPEND (RFC 3502), which a server accepts only
/// if it announced it.
///
/// Commands that add, change, copy and move messages: APPEND (with
/// RFC 3502 MULTIAPPEND's several messages and RFC 3516's literal8), STORE
/// with RFC 4466 modifiers, COPY, MOVE (RFC 6851) and UID EXPUNGE
/// (RFC 4315); with the FLAGS response that lists a mailbox's flags.
/// An APPEND message is a literal, a UTF-8 message (`UTF8 (literal8)`,
/// UTF8=ACCEPT, RFC 6855 section 4) or a CATENATE list (RFC 4469, see
/// `crate::catenate`).
///
/// ```text
/// append          = "APPEND" SP mailbox 1*append-message   ; RFC 4466
/// append-message  = append-opts SP append-data
/// append-opts     = [SP flag-list] [SP date-time] *(SP append-ext)
/// append-data     = literal / literal8 / append-data-ext
/// append-data     =/ utf8-literal                          ; RFC 6855
/// utf8-literal    = "UTF8" SP "(" literal8 ")"
/// store           = "STORE" SP sequence-set [store-modifiers] SP store-att-flags
/// store-modifier  =/ "UNCHANGEDSINCE" SP mod-sequence-valzer   ; RFC 7162
/// copy            = "COPY" SP sequence-set SP mailbox
/// move            = "MOVE" SP sequence-set SP mailbox
/// uid-expunge     = "UID" SP "EXPUNGE" SP sequence-set
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Append<'a> {
    /// The mailbox to add the messages to.
    pub mailbox: Mailbox<'a>,
    /// The messages, at least one.
    pub messages: Vec<AppendMessage<'a>>,
}

impl<'a> Append<'a> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> Append<'static> {
        Append {
            mailbox: self.mailbox.into_owned(),
            messages: self.messages.into_iter().map(AppendMessage::into_owned).collect(),
        }
    }

    /// `append = "APPEND" SP mailbox 1*append-message` after the name,
    /// with `append-message = append-opts SP append-data`,
    /// `append-opts = [SP flag-list] [SP date-time]`, and
    /// `append-data = literal / literal8 / utf8-literal / "CATENATE" ...`.
    ///
    /// Other `append-ext` and `append-data-ext` forms fail as syntax
    /// errors.
    pub(crate) fn parse(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, Self> {
        let (rest, _) = sp(input)?;
        let (mut rest, mailbox) = Mailbox::parse(rest, &config.leniency)?;
        let mut messages = Vec::new();
        while let Some(r) = rest.strip_prefix(b" ") {
            if messages.len() == config.limits.list {
                return too_many(rest, config.limits.list, "end of command");
            }
            let (r, message) = parse_append_message(r, config)?;
            messages.push(message);
            rest = r;
        }
        if messages.is_empty() {
            return fail(rest, "space and message literal");
        }
        Ok((rest, Append { mailbox, messages }))
    }

    pub(crate) fn encode<'e>(&'e self, e: &mut Encoder<'e>) {
        e.put(b" ");
        self.mailbox.encode(e);
        for m in &self.messages {
            encode_append_message(m, e);
        }
    }
}

/// `append-message = append-opts SP append-data`, `append-opts = [SP
/// flag-list] [SP date-time]`, `append-data = literal / literal8 /
/// utf8-data / catenate` (see [`AppendData`]): one message of APPEND (and
/// of REPLACE, RFC 8508), from after the space that starts it.
pub(crate) fn parse_append_message<'a>(
    input: &'a [u8],
    config: &DecoderConfig,
) -> PResult<'a, AppendMessage<'a>> {
    let (mut r, flags) = if input.first() == Some(&b'(') {
        let (r, f) = parse_flag_list(input, config.limits.list, config.leniency.extra_spaces, false)?;
        let (r, _) = sp(r)?;
        (r, Some(f))
    } else {
        (input, None)
    };
    let mut date = None;
    if r.first() == Some(&b'"') {
        let (r2, d) = expect("date-time", |i| DateTime::parse(i, false)).parse(r)?;
        let (r2, _) = sp(r2)?;
        date = Some(d);
        r = r2;
    }
    let (r, data) = AppendData::parse(r, config)?;
    Ok((r, AppendMessage { flags, date, data }))
}

/// Writes ` [flags] [date] data`: one message of APPEND or REPLACE.
pub(crate) fn encode_append_message<'e>(m: &'e AppendMessage<'e>, e: &mut Encoder<'e>) {
    if let Some(flags) = &m.flags {
        e.put(b" ");
        encode_flag_list(flags, e.line());
    }
    if let Some(date) = &m.date {
        e.put(b" ");
        date.encode(e.line());
    }
    e.put(b" ");
    m.data.encode(e);
}

/// How STORE changes the flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoreAction {
    /// `FLAGS`: replace the flags.
    Replace,
    /// `+FLAGS`: add the flags.
    Add,
    /// `-FLAGS`: remove the flags.
    Remove,
}

/// A STORE modifier (RFC 4466 `store-modifier`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StoreModifier<'a> {
    /// `UNCHANGEDSINCE n` (CONDSTORE, RFC 7162): change only the messages
    /// whose mod-sequence is at most `n`; the others are named in the
    /// `MODIFIED` response code. With 0 every message fails.
    UnchangedSince(ModSeqValzer),
    /// `store-modifier-name [SP store-mod-params]` of an extension this
    /// crate does not know.
    Other(TaggedExt<'a>),
}

impl<'a> StoreModifier<'a> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> StoreModifier<'static> {
        match self {
            StoreModifier::UnchangedSince(m) => StoreModifier::UnchangedSince(m),
            StoreModifier::Other(ext) => StoreModifier::Other(ext.into_owned()),
        }
    }

    /// `store-modifier = store-modifier-name [SP store-mod-params]`, with
    /// RFC 7162's `store-modifier =/ "UNCHANGEDSINCE" SP
    /// mod-sequence-valzer` typed.
    fn parse(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, Self> {
        let (rest, name) = expect("store modifier", tagged_ext_label)(input)?;
        if name.as_str().eq_ignore_ascii_case("UNCHANGEDSINCE") {
            let (rest, _) = sp(rest)?;
            let (rest, m) = expect("mod-sequence", mod_sequence_valzer)(rest)?;
            return Ok((rest, StoreModifier::UnchangedSince(m)));
        }
        TaggedExt::parse_value(rest, name, config).map(|(rest, ext)| (rest, StoreModifier::Other(ext)))
    }

    fn encode<'e>(&'e self, e: &mut Encoder<'e>) {
        match self {
            StoreModifier::UnchangedSince(m) => {
                e.put(b"UNCHANGEDSINCE ");
                e.number(m.get());
            }
            StoreModifier::Other(ext) => ext.encode(e),
        }
    }
}

/// `STORE`: change the flags of messages (RFC 9051 section 6.4.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Store<'a> {
    /// The messages (UIDs in UID STORE).
    pub sequence_set: SequenceSet,
    /// Extension modifiers, in the order sent.
    pub modifiers: Vec<StoreModifier<'a>>,
    /// Replace, add or remove.
    pub action: StoreAction,
    /// `.SILENT`: the server does not send the new flags back.
    pub silent: bool,
    /// The flags (written as a parenthesised list).
    pub flags: Vec<Flag<'a>>,
}

impl<'a> Store<'a> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> Store<'static> {
        Store {
            sequence_set: self.sequence_set,
            modifiers: self
                .modifiers
                .into_iter()
                .map(StoreModifier::into_owned)
                .collect(),
            action: self.action,
            silent: self.silent,
            flags: self.flags.into_iter().map(Flag::into_owned).collect(),
        }
    }

    /// `store = "STORE" SP sequence-set [store-modifiers] SP
    /// store-att-flags` after the name, with
    /// `store-modifiers = SP "(" store-modifier *(SP store-modifier) ")"`,
    /// `store-modifier = store-modifier-name [SP store-mod-params]`,
    /// `store-att-flags = (["+" / "-"] "FLAGS" [".SILENT"]) SP
    /// (flag-list / (flag *(SP flag)))`.
    pub(crate) fn parse(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, Self> {
        let (rest, _) = sp(input)?;
        let (rest, sequence_set) =
            expect("sequence set", |i| SequenceSet::parse(i, config.limits.list)).parse(rest)?;
        let (rest, _) = sp(rest)?;
        let (rest, modifiers) = if rest.first() == Some(&b'(') {
            let modifier = |i: &'a [u8]| StoreModifier::parse(i, config);
            let (r, m) = crate::parse::paren_list(config.limits.list, false, modifier)(rest)?;
            if m.is_empty() {
                return fail(&rest[1..], "store modifier");
            }
            let (r, _) = sp(r)?;
            (r, m)
        } else {
            (rest, Vec::new())
        };
        let (rest, action) = match rest.first() {
            Some(b'+') => (&rest[1..], StoreAction::Add),
            Some(b'-') => (&rest[1..], StoreAction::Remove),
            _ => (rest, StoreAction::Replace),
        };
        let (rest, _) = keyword("FLAGS")(rest)?;
        let (rest, silent) = match keyword(".SILENT")(rest) {
            Ok((r, _)) => (r, true),
            Err(_) => (rest, false),
        };
        let (rest, _) = sp(rest)?;
        let (rest, flags) = if rest.first() == Some(&b'(') {
            parse_flag_list(rest, config.limits.list, config.leniency.extra_spaces, false)?
        } else {
            let mut flags = Vec::new();
            let (mut r, first) = expect("flag", Flag::parse).parse(rest)?;
            flags.push(first);
            while let Some(next) = r.strip_prefix(b" ") {
                if flags.len() == config.limits.list {
                    return too_many(r, config.limits.list, "end of command");
                }
                let (n, f) = expect("flag", Flag::parse).parse(next)?;
                flags.push(f);
                r = n;
            }
            (r, flags)
        };
        Ok((
            rest,
            Store {
                sequence_set,
                modifiers,
                action,
                silent,
                flags,
            },
        ))
    }

    pub(crate) fn encode<'e>(&'e self, e: &mut Encoder<'e>) {
        e.put(b" ");
        self.sequence_set.encode(e.line());
        e.put(b" ");
        if !self.modifiers.is_empty() {
            e.put(b"(");
            for (i, m) in self.modifiers.iter().enumerate() {
                if i > 0 {
                    e.put(b" ");
                }
                m.encode(e);
            }
            e.put(b") ");
        }
        let out = e.line();
        out.extend_from_slice(match self.action {
            StoreAction::Replace => b"FLAGS",
            StoreAction::Add => b"+FLAGS",
            StoreAction::Remove => b"-FLAGS",
        });
        if self.silent {
            out.extend_from_slice(b".SILENT");
        }
        out.push(b' ');
        encode_flag_list(&self.flags, out);
    }
}

/// The arguments of COPY and MOVE: `sequence-set SP mailbox`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyMove<'a> {
    /// The messages (UIDs in UID COPY and UID MOVE).
    pub sequence_set: SequenceSet,
    /// The destination.
    pub mailbox: Mailbox<'a>,
}

impl<'a> CopyMove<'a> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> CopyMove<'static> {
        CopyMove {
            sequence_set: self.sequence_set,
            mailbox: self.mailbox.into_owned(),
        }
    }

    /// `SP sequence-set SP mailbox`, after `COPY` or `MOVE`.
    pub(crate) fn parse(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, Self> {
        let (rest, _) = sp(input)?;
        let (rest, sequence_set) =
            expect("sequence set", |i| SequenceSet::parse(i, config.limits.list)).parse(rest)?;
        let (rest, _) = sp(rest)?;
        let (rest, mailbox) = Mailbox::parse(rest, &config.leniency)?;
        Ok((
            rest,
            CopyMove {
                sequence_set,
                mailbox,
            },
        ))
    }

    pub(crate) fn encode<'e>(&'e self, e: &mut Encoder<'e>) {
        e.put(b" ");
        self.sequence_set.encode(e.line());
        e.put(b" ");
        self.mailbox.encode(e);
    }
}

/// `SP sequence-set` after `UID EXPUNGE`.
pub(crate) fn parse_uid_expunge<'a>(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, SequenceSet> {
    let (rest, _) = sp(input)?;
    expect("sequence set", |i| SequenceSet::parse(i, config.limits.list)).parse(rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::Leniency;

    fn config() -> DecoderConfig {
        DecoderConfig {
            leniency: Leniency::STRICT,
            ..DecoderConfig::default()
        }
    }

    #[test]
    fn store_forms() {
        let (rest, s) = Store::parse(b" 2:4 +FLAGS.SILENT \\Deleted \\Seen\r\n", &config()).unwrap();
        assert_eq!(rest, b"\r\n");
        assert_eq!(s.action, StoreAction::Add);
        assert!(s.silent);
        assert_eq!(s.flags, vec![Flag::Deleted, Flag::Seen]);
        let mut e = Encoder::default();
        s.encode(&mut e);
        assert_eq!(e.line(), b" 2:4 +FLAGS.SILENT (\\Deleted \\Seen)");

        let (_, s) = Store::parse(b" 1 (UNCHANGEDSINCE 12345 X-FOO) -flags ()", &config()).unwrap();
        assert_eq!(s.action, StoreAction::Remove);
        assert_eq!(
            s.modifiers[0],
            StoreModifier::UnchangedSince(ModSeqValzer::new(12345).unwrap())
        );
        assert!(matches!(&s.modifiers[1], StoreModifier::Other(t) if t.name.as_str() == "X-FOO"));
        assert!(s.flags.is_empty());
        let mut e = Encoder::default();
        s.encode(&mut e);
        assert_eq!(e.line(), b" 1 (UNCHANGEDSINCE 12345 X-FOO) -FLAGS ()");

        assert!(Store::parse(b" 1 FLAGS", &config()).is_err());
        assert!(Store::parse(b" 1 () FLAGS (\\Seen)", &config()).is_err());
        assert!(Store::parse(b" 1 *FLAGS (\\Seen)", &config()).is_err());
        assert!(Store::parse(b" 1 FLAGS (\\Recent)", &config()).is_err());
    }

    #[test]
    fn append_forms() {
        let input =
            b" saved-messages (\\Seen) \" 7-Feb-1994 21:52:25 -0800\" {3}\r\nabc (\\Draft) ~{2}\r\n\0x";
        let (rest, a) = Append::parse(input, &config()).unwrap();
        assert!(rest.is_empty());
        assert_eq!(a.messages.len(), 2);
        assert_eq!(a.messages[0].flags.as_deref(), Some(&[Flag::Seen][..]));
        assert!(a.messages[0].date.is_some());
        let data = a.messages[1].data.literal().unwrap();
        assert_eq!(data.data(), b"\0x");
        assert!(data.is_binary());
        let mut e = Encoder::default();
        a.encode(&mut e);
        assert_eq!(
            crate::encode::to_bytes(&e.finish()),
            [&input[..], b"\r\n"].concat()
        );

        assert!(Append::parse(b" INBOX", &config()).is_err());
        assert!(Append::parse(b" INBOX \"abc\"", &config()).is_err());
        assert!(Append::parse(b" INBOX () ", &config()).is_err());
    }

    #[test]
    fn copy_move_and_uid_expunge() {
        let (rest, c) = CopyMove::parse(b" 2:4,* MEETING", &config()).unwrap();
        assert!(rest.is_empty());
        assert_eq!(c.mailbox.as_bytes(), b"MEETING");
        let mut e = Encoder::default();
        c.encode(&mut e);
        assert_eq!(e.line(), b" 2:4,* MEETING");
        assert!(CopyMove::parse(b" 2:4", &config()).is_err());
        let (_, set) = parse_uid_expunge(b" 3000:3002", &config()).unwrap();
        assert_eq!(set.to_string(), "3000:3002");
    }
}

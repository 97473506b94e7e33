//! The home of [`Flag`] and what goes with it; the explanation of this
//! part of the grammar is on that type, where the rendered documentation
//! shows it.

use std::borrow::Cow;
use std::fmt;

use crate::parse::{PResult, fail, paren_list};
use crate::string::{Atom, TypeError};

/// The system flags, in the spelling they are sent in.
const SYSTEM_FLAGS: [(&str, Flag<'static>); 5] = [
    ("Answered", Flag::Answered),
    ("Flagged", Flag::Flagged),
    ("Deleted", Flag::Deleted),
    ("Seen", Flag::Seen),
    ("Draft", Flag::Draft),
];

/// `\` followed by an atom, the atom borrowed.
fn backslash_atom<'a>(input: &'a [u8], expected: &'static str) -> PResult<'a, Atom<'a>> {
    match input.strip_prefix(b"\\") {
        Some(rest) => Atom::parse(rest),
        None => fail(input, expected),
    }
}

/// A message flag: `flag = "\Answered" / "\Flagged" / "\Deleted" /
/// "\Seen" / "\Draft" / flag-keyword / flag-extension`.
///
/// Message flags and mailbox attributes (RFC 9051 sections 2.3.2 and
/// 7.3.1, RFC 3501, LIST-EXTENDED RFC 5258, SPECIAL-USE RFC 6154).
///
/// System flags and attributes are matched case-insensitively (`\SEEN` is
/// [`Flag::Seen`]) and always sent in their RFC spelling; keywords and
/// unknown `\`-names are kept as sent. `\Recent` (IMAP4rev1 only) exists
/// only where the grammar allows it: in [`FlagFetch`], never in [`Flag`];
/// `\*` only in [`FlagPerm`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Flag<'a> {
    /// `\Answered`.
    Answered,
    /// `\Flagged`.
    Flagged,
    /// `\Deleted`.
    Deleted,
    /// `\Seen`.
    Seen,
    /// `\Draft`.
    Draft,
    /// `flag-keyword = "$MDNSent" / "$Forwarded" / "$Junk" / "$NotJunk" /
    /// "$Phishing" / atom`: a keyword, as sent (keywords are atoms, so
    /// never start with `\`). Compared as sent, case-sensitively; servers
    /// commonly treat keywords case-insensitively, which is theirs to do.
    Keyword(Atom<'a>),
    /// `flag-extension = "\" atom`: a `\`-flag this crate does not know.
    Extension(FlagExtension<'a>),
}

impl<'a> Flag<'a> {
    /// A flag from its text: `\Seen` (any case) for a system flag, an atom
    /// for a keyword, `\Name` for an extension. Refuses `\Recent` (see
    /// [`FlagFetch`]) and `\*` (see [`FlagPerm`]).
    pub fn new(text: impl Into<Cow<'a, str>>) -> Result<Self, TypeError> {
        match text.into() {
            Cow::Borrowed(t) => match t.strip_prefix('\\') {
                Some(name) => Self::from_name(Cow::Borrowed(name)),
                None => Atom::new(t).map(Flag::Keyword),
            },
            Cow::Owned(mut t) => {
                if t.starts_with('\\') {
                    t.remove(0);
                    Self::from_name(Cow::Owned(t))
                } else {
                    Atom::new(t).map(Flag::Keyword)
                }
            }
        }
    }

    /// A keyword; refuses anything that is not an atom.
    pub fn keyword(atom: impl Into<Cow<'a, str>>) -> Result<Self, TypeError> {
        Atom::new(atom).map(Flag::Keyword)
    }

    fn from_name(name: Cow<'a, str>) -> Result<Self, TypeError> {
        match system_flag(&name) {
            Some(flag) => Ok(flag),
            None => FlagExtension::new(name).map(Flag::Extension),
        }
    }

    /// Whether this is one of the five system flags.
    pub fn is_system(&self) -> bool {
        !matches!(self, Flag::Keyword(_) | Flag::Extension(_))
    }

    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> Flag<'static> {
        match self {
            Flag::Answered => Flag::Answered,
            Flag::Flagged => Flag::Flagged,
            Flag::Deleted => Flag::Deleted,
            Flag::Seen => Flag::Seen,
            Flag::Draft => Flag::Draft,
            Flag::Keyword(a) => Flag::Keyword(a.into_owned()),
            Flag::Extension(e) => Flag::Extension(e.into_owned()),
        }
    }

    /// `flag = "\Answered" / "\Flagged" / "\Deleted" / "\Seen" / "\Draft" /
    /// flag-keyword / flag-extension`, `flag-extension = "\" atom`,
    /// `flag-keyword = ... / atom`; "Does not include \Recent".
    pub(crate) fn parse(input: &'a [u8]) -> PResult<'a, Self> {
        if input.first() != Some(&b'\\') {
            return Atom::parse(input)
                .map(|(rest, a)| (rest, Flag::Keyword(a)))
                .or_else(|_| fail(input, "flag"));
        }
        if input.get(1) == Some(&b'*') {
            return fail(input, "flag (\\* is only allowed in PERMANENTFLAGS)");
        }
        let (rest, name) = backslash_atom(input, "flag").or_else(|_| fail(input, "flag"))?;
        if name.as_str().eq_ignore_ascii_case("Recent") {
            return fail(input, "flag (\\Recent is only allowed in FETCH FLAGS)");
        }
        let flag = system_flag(name.as_str()).unwrap_or(Flag::Extension(FlagExtension(name)));
        Ok((rest, flag))
    }

    /// Writes the flag: system flags in their RFC spelling.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Flag::Keyword(a) => out.extend_from_slice(a.as_str().as_bytes()),
            Flag::Extension(e) => {
                out.push(b'\\');
                out.extend_from_slice(e.as_str().as_bytes());
            }
            system => {
                out.push(b'\\');
                out.extend_from_slice(system_name(system).as_bytes());
            }
        }
    }
}

fn system_flag(name: &str) -> Option<Flag<'static>> {
    SYSTEM_FLAGS
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, f)| f.clone())
}

fn system_name(flag: &Flag<'_>) -> &'static str {
    SYSTEM_FLAGS
        .iter()
        .find(|(_, f)| f == flag)
        .map_or("", |(n, _)| n)
}

impl fmt::Display for Flag<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Flag::Keyword(a) => f.write_str(a.as_str()),
            Flag::Extension(e) => write!(f, "\\{}", e.as_str()),
            system => write!(f, "\\{}", system_name(system)),
        }
    }
}

impl<'a> TryFrom<&'a str> for Flag<'a> {
    type Error = TypeError;
    fn try_from(text: &'a str) -> Result<Self, TypeError> {
        Flag::new(text)
    }
}

macro_rules! extension_name {
    ($(#[$meta:meta])* $name:ident, $what:literal, $reserved:expr) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash)]
        pub struct $name<'a>(Atom<'a>);

        impl<'a> $name<'a> {
            /// Validates the name (without the `\`): an atom that is not a
            /// name with a variant of its own.
            pub fn new(name: impl Into<Cow<'a, str>>) -> Result<Self, TypeError> {
                let atom = Atom::new(name).map_err(|e| TypeError { what: $what, ..e })?;
                let reserved: fn(&str) -> bool = $reserved;
                if reserved(atom.as_str()) {
                    return Err(TypeError::problem($what, "has a variant of its own"));
                }
                Ok($name(atom))
            }

            /// The name, without the `\`, as sent.
            pub fn as_str(&self) -> &str {
                self.0.as_str()
            }

            /// Converts to a value that owns its data.
            pub fn into_owned(self) -> $name<'static> {
                $name(self.0.into_owned())
            }
        }

        impl fmt::Debug for $name<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "(\\{})"), self.0)
            }
        }
    };
}

extension_name!(
    /// The name of a `flag-extension` (`\` atom) other than the system
    /// flags and `\Recent`.
    FlagExtension,
    "flag extension",
    |name| name.eq_ignore_ascii_case("Recent") || system_flag(name).is_some()
);

extension_name!(
    /// The name of a mailbox attribute extension (`flag-extension`,
    /// `use-attr-ext`) other than those [`MailboxAttribute`] knows.
    AttributeExtension,
    "mailbox attribute extension",
    |name| known_attribute(name).is_some()
);

/// A flag in a FETCH response: `flag-fetch = flag / "\Recent"`
/// (IMAP4rev1; RFC 9051 keeps it as `obsolete-flag-recent`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FlagFetch<'a> {
    /// A flag.
    Flag(Flag<'a>),
    /// `\Recent`: first session to see the message (IMAP4rev1).
    Recent,
}

impl<'a> FlagFetch<'a> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> FlagFetch<'static> {
        match self {
            FlagFetch::Flag(f) => FlagFetch::Flag(f.into_owned()),
            FlagFetch::Recent => FlagFetch::Recent,
        }
    }

    /// `flag-fetch = flag / obsolete-flag-recent`,
    /// `obsolete-flag-recent = "\Recent"`
    pub(crate) fn parse(input: &'a [u8]) -> PResult<'a, Self> {
        if let Ok((rest, name)) = backslash_atom(input, "flag") {
            if name.as_str().eq_ignore_ascii_case("Recent") {
                return Ok((rest, FlagFetch::Recent));
            }
        }
        Flag::parse(input).map(|(rest, f)| (rest, FlagFetch::Flag(f)))
    }

    /// Writes the flag.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        match self {
            FlagFetch::Flag(f) => f.encode(out),
            FlagFetch::Recent => out.extend_from_slice(b"\\Recent"),
        }
    }
}

impl<'a> From<Flag<'a>> for FlagFetch<'a> {
    fn from(flag: Flag<'a>) -> Self {
        FlagFetch::Flag(flag)
    }
}

impl fmt::Display for FlagFetch<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlagFetch::Flag(flag) => flag.fmt(f),
            FlagFetch::Recent => f.write_str("\\Recent"),
        }
    }
}

/// A flag in the PERMANENTFLAGS response code: `flag-perm = flag / "\*"`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FlagPerm<'a> {
    /// A flag that can be changed permanently.
    Flag(Flag<'a>),
    /// `\*`: new keywords can be created by storing them.
    Asterisk,
}

impl<'a> FlagPerm<'a> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> FlagPerm<'static> {
        match self {
            FlagPerm::Flag(f) => FlagPerm::Flag(f.into_owned()),
            FlagPerm::Asterisk => FlagPerm::Asterisk,
        }
    }

    /// `flag-perm = flag / "\*"`
    pub(crate) fn parse(input: &'a [u8]) -> PResult<'a, Self> {
        match input.strip_prefix(b"\\*") {
            Some(rest) => Ok((rest, FlagPerm::Asterisk)),
            None => Flag::parse(input).map(|(rest, f)| (rest, FlagPerm::Flag(f))),
        }
    }

    /// Writes the flag.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        match self {
            FlagPerm::Flag(f) => f.encode(out),
            FlagPerm::Asterisk => out.extend_from_slice(b"\\*"),
        }
    }
}

impl<'a> From<Flag<'a>> for FlagPerm<'a> {
    fn from(flag: Flag<'a>) -> Self {
        FlagPerm::Flag(flag)
    }
}

impl fmt::Display for FlagPerm<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlagPerm::Flag(flag) => flag.fmt(f),
            FlagPerm::Asterisk => f.write_str("\\*"),
        }
    }
}

/// `flag-list = "(" [flag *(SP flag)] ")"` with at most `max` flags.
///
/// `extra_spaces` accepts spaces next to the parentheses and runs of
/// spaces. `foreign_flags` skips `\Recent` and `\*`, which the grammar
/// keeps out of flag lists but some servers put in the FLAGS response
/// (Zoho and GreenMail send `\*`); they still count towards `max`.
pub(crate) fn parse_flag_list<'a>(
    input: &'a [u8],
    max: usize,
    extra_spaces: bool,
    foreign_flags: bool,
) -> PResult<'a, Vec<Flag<'a>>> {
    let item = |i: &'a [u8]| {
        if foreign_flags {
            if let Ok((rest, name)) = backslash_atom(i, "flag") {
                if name.as_str().eq_ignore_ascii_case("Recent") {
                    return Ok((rest, None));
                }
            }
            if let Some(rest) = i.strip_prefix(b"\\*") {
                return Ok((rest, None));
            }
        }
        Flag::parse(i).map(|(rest, f)| (rest, Some(f)))
    };
    let (rest, flags) = paren_list(max, extra_spaces, item)(input)?;
    Ok((rest, flags.into_iter().flatten().collect()))
}

/// Writes `flag-list`.
pub(crate) fn encode_flag_list(flags: &[Flag<'_>], out: &mut Vec<u8>) {
    out.push(b'(');
    for (i, flag) in flags.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        flag.encode(out);
    }
    out.push(b')');
}

/// A mailbox attribute in a LIST response (`mbx-list-oflag`,
/// `mbx-list-sflag`, `child-mbox-flag`, SPECIAL-USE `use-attr`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MailboxAttribute<'a> {
    /// `\Noinferiors`: no child mailbox can exist.
    Noinferiors,
    /// `\Noselect`: the mailbox cannot be selected.
    Noselect,
    /// `\Marked`: probably new messages since it was last selected.
    Marked,
    /// `\Unmarked`: no new messages since it was last selected.
    Unmarked,
    /// `\HasChildren` (RFC 3348, RFC 9051).
    HasChildren,
    /// `\HasNoChildren` (RFC 3348, RFC 9051).
    HasNoChildren,
    /// `\NonExistent` (RFC 5258): the name does not refer to a mailbox.
    NonExistent,
    /// `\Subscribed` (RFC 5258).
    Subscribed,
    /// `\Remote` (RFC 5258): the mailbox is on another server.
    Remote,
    /// `\All` (SPECIAL-USE): every message.
    All,
    /// `\Archive` (SPECIAL-USE).
    Archive,
    /// `\Drafts` (SPECIAL-USE).
    Drafts,
    /// `\Flagged` (SPECIAL-USE): the flagged messages.
    Flagged,
    /// `\Junk` (SPECIAL-USE).
    Junk,
    /// `\Sent` (SPECIAL-USE).
    Sent,
    /// `\Trash` (SPECIAL-USE).
    Trash,
    /// Any other `\` atom, as sent (`flag-extension`, `use-attr-ext`).
    Extension(AttributeExtension<'a>),
}

/// The attributes with a variant, in the spelling they are sent in.
const ATTRIBUTES: [(&str, MailboxAttribute<'static>); 16] = [
    ("Noinferiors", MailboxAttribute::Noinferiors),
    ("Noselect", MailboxAttribute::Noselect),
    ("Marked", MailboxAttribute::Marked),
    ("Unmarked", MailboxAttribute::Unmarked),
    ("HasChildren", MailboxAttribute::HasChildren),
    ("HasNoChildren", MailboxAttribute::HasNoChildren),
    ("NonExistent", MailboxAttribute::NonExistent),
    ("Subscribed", MailboxAttribute::Subscribed),
    ("Remote", MailboxAttribute::Remote),
    ("All", MailboxAttribute::All),
    ("Archive", MailboxAttribute::Archive),
    ("Drafts", MailboxAttribute::Drafts),
    ("Flagged", MailboxAttribute::Flagged),
    ("Junk", MailboxAttribute::Junk),
    ("Sent", MailboxAttribute::Sent),
    ("Trash", MailboxAttribute::Trash),
];

impl<'a> MailboxAttribute<'a> {
    /// An attribute from its text, `\` included (any case).
    pub fn new(text: impl Into<Cow<'a, str>>) -> Result<Self, TypeError> {
        let name = match text.into() {
            Cow::Borrowed(t) => t.strip_prefix('\\').map(Cow::Borrowed),
            Cow::Owned(mut t) if t.starts_with('\\') => {
                t.remove(0);
                Some(Cow::Owned(t))
            }
            Cow::Owned(_) => None,
        };
        let Some(name) = name else {
            return Err(TypeError::problem("mailbox attribute", "must start with '\\'"));
        };
        match known_attribute(&name) {
            Some(a) => Ok(a),
            None => AttributeExtension::new(name).map(MailboxAttribute::Extension),
        }
    }

    /// Whether this is a SPECIAL-USE attribute (RFC 6154).
    pub fn is_special_use(&self) -> bool {
        use MailboxAttribute::*;
        matches!(self, All | Archive | Drafts | Flagged | Junk | Sent | Trash)
    }

    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> MailboxAttribute<'static> {
        match self {
            MailboxAttribute::Extension(e) => MailboxAttribute::Extension(e.into_owned()),
            MailboxAttribute::Noinferiors => MailboxAttribute::Noinferiors,
            MailboxAttribute::Noselect => MailboxAttribute::Noselect,
            MailboxAttribute::Marked => MailboxAttribute::Marked,
            MailboxAttribute::Unmarked => MailboxAttribute::Unmarked,
            MailboxAttribute::HasChildren => MailboxAttribute::HasChildren,
            MailboxAttribute::HasNoChildren => MailboxAttribute::HasNoChildren,
            MailboxAttribute::NonExistent => MailboxAttribute::NonExistent,
            MailboxAttribute::Subscribed => MailboxAttribute::Subscribed,
            MailboxAttribute::Remote => MailboxAttribute::Remote,
            MailboxAttribute::All => MailboxAttribute::All,
            MailboxAttribute::Archive => MailboxAttribute::Archive,
            MailboxAttribute::Drafts => MailboxAttribute::Drafts,
            MailboxAttribute::Flagged => MailboxAttribute::Flagged,
            MailboxAttribute::Junk => MailboxAttribute::Junk,
            MailboxAttribute::Sent => MailboxAttribute::Sent,
            MailboxAttribute::Trash => MailboxAttribute::Trash,
        }
    }

    /// The name without the `\`.
    pub fn name(&self) -> &str {
        match self {
            MailboxAttribute::Extension(e) => e.as_str(),
            known => ATTRIBUTES.iter().find(|(_, a)| a == known).map_or("", |(n, _)| n),
        }
    }

    /// `mbx-list-oflag = "\Noinferiors" / child-mbox-flag / "\Subscribed" /
    /// "\Remote" / flag-extension`, `mbx-list-sflag = "\NonExistent" /
    /// "\Noselect" / "\Marked" / "\Unmarked"`, `child-mbox-flag =
    /// "\HasChildren" / "\HasNoChildren"`, `use-attr = "\All" / "\Archive" /
    /// "\Drafts" / "\Flagged" / "\Junk" / "\Sent" / "\Trash" /
    /// use-attr-ext`, `use-attr-ext = "\" atom`
    pub(crate) fn parse(input: &'a [u8]) -> PResult<'a, Self> {
        // The known attributes are told by their bytes, before (and
        // without) making an atom of them.
        if let Some(rest) = input.strip_prefix(b"\\") {
            let n = rest
                .iter()
                .take_while(|&&b| crate::string::is_atom_char(b))
                .count();
            if let Some(known) = known_attribute_bytes(&rest[..n]) {
                return Ok((&rest[n..], known));
            }
        }
        let (rest, name) = backslash_atom(input, "mailbox attribute")
            .or_else(|_| fail(input, "mailbox attribute ('\\' atom)"))?;
        let attribute =
            known_attribute(name.as_str()).unwrap_or(MailboxAttribute::Extension(AttributeExtension(name)));
        Ok((rest, attribute))
    }

    /// Writes the attribute: known ones in their RFC spelling.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.push(b'\\');
        out.extend_from_slice(self.name().as_bytes());
    }
}

fn known_attribute(name: &str) -> Option<MailboxAttribute<'static>> {
    known_attribute_bytes(name.as_bytes())
}

/// The attribute named `name` (without `\`, any case), if it is one of
/// [`ATTRIBUTES`]: only the names of the same length and first letter are
/// compared, servers' spelling first.
fn known_attribute_bytes(name: &[u8]) -> Option<MailboxAttribute<'static>> {
    let first = name.first()?.to_ascii_lowercase();
    ATTRIBUTES
        .iter()
        .filter(|(n, _)| n.len() == name.len() && n.as_bytes()[0].to_ascii_lowercase() == first)
        .find(|(n, _)| n.as_bytes() == name || n.as_bytes().eq_ignore_ascii_case(name))
        .map(|(_, a)| a.clone())
}

impl fmt::Display for MailboxAttribute<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\\{}", self.name())
    }
}

/// `"(" [mbx-list-flags] ")"` of `mailbox-list`, with at most `max`
/// attributes. The grammar's rule that at most one of `\NonExistent`,
/// `\Noselect`, `\Marked`, `\Unmarked` appears is not enforced: servers
/// send `\NonExistent` with `\Noselect`, which RFC 5258 says it implies.
pub(crate) fn parse_mailbox_attributes(
    input: &[u8],
    max: usize,
    extra_spaces: bool,
) -> PResult<'_, Vec<MailboxAttribute<'_>>> {
    paren_list(max, extra_spaces, MailboxAttribute::parse)(input)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn encoded(f: impl Fn(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        f(&mut out);
        String::from_utf8(out).unwrap()
    }

    fn flag(text: &str) -> Flag<'_> {
        let (rest, f) = Flag::parse(text.as_bytes()).unwrap();
        assert!(rest.is_empty(), "{text}");
        f
    }

    fn offset_of<T: fmt::Debug>(input: &[u8], r: PResult<'_, T>) -> (usize, &'static str) {
        match r {
            Err(nom::Err::Error(e)) => {
                let e = e.into_decode_error(input);
                (e.offset, e.expected)
            }
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn system_flags_are_case_insensitive() {
        assert_eq!(flag("\\Seen"), Flag::Seen);
        assert_eq!(flag("\\SEEN"), Flag::Seen);
        assert_eq!(flag("\\answered"), Flag::Answered);
        assert_eq!(encoded(|o| flag("\\dRaFt").encode(o)), "\\Draft");
        assert!(Flag::Deleted.is_system() && !flag("$Junk").is_system());
        // A longer atom is an extension, not a system flag.
        assert!(matches!(flag("\\Seenx"), Flag::Extension(e) if e.as_str() == "Seenx"));
    }

    #[test]
    fn keywords_and_extensions_are_kept_as_sent() {
        for text in [
            "$Forwarded",
            "$MDNSent",
            "NonJunk",
            "$label1",
            "\\Foo",
            "\\X-Custom",
        ] {
            let f = flag(text);
            assert!(!f.is_system());
            assert_eq!(encoded(|o| f.encode(o)), text);
            assert_eq!(f.to_string(), text);
            assert_eq!(Flag::new(text).unwrap(), f);
            assert_eq!(Flag::new(text.to_string()).unwrap(), f);
        }
        let (rest, f) = Flag::parse(b"$Junk)").unwrap();
        assert_eq!((rest, f), (&b")"[..], Flag::keyword("$Junk").unwrap()));
        let (rest, _) = Flag::parse(b"\\Seen]").unwrap();
        assert_eq!(rest, b"]");
        assert_eq!(Flag::new("\\seen").unwrap(), Flag::Seen);
        assert!(Flag::keyword("a b").is_err());
        assert!(FlagExtension::new("Seen").is_err() && FlagExtension::new("recent").is_err());
        assert!(FlagExtension::new("Foo").is_ok());
        let e = Flag::new("\\Fo{o").unwrap_err();
        assert_eq!((e.byte, e.position), (Some(b'{'), Some(2)));
        assert_eq!(format!("{:?}", flag("\\Foo")), "Extension(FlagExtension(\\Foo))");
        let owned: Flag<'static> = flag("$x").into_owned();
        assert_eq!(owned, Flag::keyword("$x").unwrap());
    }

    #[test]
    fn recent_and_asterisk_only_where_allowed() {
        assert_eq!(offset_of(b"\\Recent", Flag::parse(b"\\Recent")).0, 0);
        assert_eq!(offset_of(b"\\recent", Flag::parse(b"\\recent")).0, 0);
        assert_eq!(offset_of(b"\\*", Flag::parse(b"\\*")).0, 0);
        assert!(Flag::new("\\Recent").is_err() && Flag::new("\\*").is_err());
        assert_eq!(FlagFetch::parse(b"\\RECENT").unwrap().1, FlagFetch::Recent);
        assert_eq!(
            FlagFetch::parse(b"\\Recently").unwrap().1,
            FlagFetch::Flag(flag("\\Recently"))
        );
        assert_eq!(
            FlagFetch::parse(b"\\Seen").unwrap().1,
            FlagFetch::Flag(Flag::Seen)
        );
        assert!(FlagFetch::parse(b"\\*").is_err());
        assert_eq!(encoded(|o| FlagFetch::Recent.encode(o)), "\\Recent");
        assert_eq!(
            FlagPerm::parse(b"\\* x").unwrap(),
            (&b" x"[..], FlagPerm::Asterisk)
        );
        assert_eq!(
            FlagPerm::parse(b"$Junk").unwrap().1,
            FlagPerm::Flag(flag("$Junk"))
        );
        assert!(FlagPerm::parse(b"\\Recent").is_err());
        assert_eq!(encoded(|o| FlagPerm::Asterisk.encode(o)), "\\*");
        assert_eq!(FlagPerm::Asterisk.to_string(), "\\*");
    }

    #[test]
    fn rejections() {
        assert_eq!(offset_of(b"(x", Flag::parse(b"(x")), (0, "flag"));
        assert_eq!(offset_of(b"\\", Flag::parse(b"\\")), (0, "flag"));
        assert_eq!(offset_of(b"\\ x", Flag::parse(b"\\ x")), (0, "flag"));
        assert_eq!(offset_of(b"", Flag::parse(b"")), (0, "flag"));
        let input = b"(\\Seen \\Recent)";
        assert_eq!(offset_of(input, parse_flag_list(input, 10, false, false)).0, 7);
    }

    #[test]
    fn flag_lists() {
        // RFC 9051 section 7.3.5 (FLAGS response) and 6.4.6 (STORE).
        let input = b"(\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n";
        let (rest, flags) = parse_flag_list(input, 10, false, false).unwrap();
        assert_eq!(rest, b"\r\n");
        assert_eq!(
            flags,
            [
                Flag::Answered,
                Flag::Flagged,
                Flag::Deleted,
                Flag::Seen,
                Flag::Draft
            ]
        );
        assert_eq!(
            encoded(|o| encode_flag_list(&flags, o)),
            "(\\Answered \\Flagged \\Deleted \\Seen \\Draft)"
        );
        assert_eq!(
            parse_flag_list(b"()", 10, false, false).unwrap().1,
            Vec::<Flag>::new()
        );
        assert_eq!(encoded(|o| encode_flag_list(&[], o)), "()");
        // Limit.
        let input = b"(a b c)";
        let Err(nom::Err::Error(e)) = parse_flag_list(input, 2, false, false) else {
            panic!()
        };
        let e = e.into_decode_error(input);
        assert_eq!((e.kind, e.offset), (ErrorKind::TooMany { limit: 2 }, 5));
        // Spacing and foreign flags only when asked.
        assert!(parse_flag_list(b"( \\Seen )", 10, false, false).is_err());
        assert_eq!(
            parse_flag_list(b"( \\Seen )", 10, true, false).unwrap().1,
            [Flag::Seen]
        );
        let zoho = b"(\\Answered \\Recent \\* $Junk)";
        assert!(parse_flag_list(zoho, 10, false, false).is_err());
        let (_, flags) = parse_flag_list(zoho, 10, false, true).unwrap();
        assert_eq!(flags, [Flag::Answered, flag("$Junk")]);
    }

    #[test]
    fn mailbox_attributes() {
        let input = b"(\\HasNoChildren \\Trash \\noselect \\Foo-Bar) \"/\" Trash";
        let (rest, attrs) = parse_mailbox_attributes(input, 10, false).unwrap();
        assert_eq!(rest, b" \"/\" Trash");
        assert_eq!(
            attrs[..3],
            [
                MailboxAttribute::HasNoChildren,
                MailboxAttribute::Trash,
                MailboxAttribute::Noselect
            ]
        );
        assert!(matches!(&attrs[3], MailboxAttribute::Extension(e) if e.as_str() == "Foo-Bar"));
        assert!(attrs[1].is_special_use() && !attrs[0].is_special_use());
        let text: Vec<String> = attrs.iter().map(|a| encoded(|o| a.encode(o))).collect();
        assert_eq!(text, ["\\HasNoChildren", "\\Trash", "\\Noselect", "\\Foo-Bar"]);
        for (name, attribute) in ATTRIBUTES.iter() {
            let text = format!("\\{}", name.to_ascii_uppercase());
            assert_eq!(&MailboxAttribute::parse(text.as_bytes()).unwrap().1, attribute);
            assert_eq!(&MailboxAttribute::new(text).unwrap(), attribute);
            assert_eq!(attribute.to_string(), format!("\\{name}"));
            assert_eq!(&attribute.clone().into_owned(), attribute);
        }
        // Near misses of the known names are extensions.
        for near in ["\\Sen", "\\Sentx", "\\Jumk", "\\HasNoChildrem", "\\A"] {
            let (rest, a) = MailboxAttribute::parse(near.as_bytes()).unwrap();
            assert!(rest.is_empty());
            assert!(
                matches!(&a, MailboxAttribute::Extension(e) if e.as_str() == &near[1..]),
                "{near}"
            );
        }
        assert!(AttributeExtension::new("sent").is_err() && AttributeExtension::new("Important").is_ok());
        assert!(MailboxAttribute::new("Sent").is_err());
        assert_eq!(offset_of(b"Sent", MailboxAttribute::parse(b"Sent")).0, 0);
        let input = b"(\\Marked \\x \\y)";
        let Err(nom::Err::Error(e)) = parse_mailbox_attributes(input, 2, false) else {
            panic!()
        };
        assert_eq!(e.kind, ErrorKind::TooMany { limit: 2 });
        let owned = MailboxAttribute::new("\\Important".to_string())
            .unwrap()
            .into_owned();
        assert_eq!(owned.name(), "Important");
    }
}

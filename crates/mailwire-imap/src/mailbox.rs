//! The home of [`Mailbox`] and what goes with it; the explanation of this
//! part of the grammar is on that type, where the rendered documentation
//! shows it.

use std::borrow::Cow;
use std::fmt;

use crate::decode::Leniency;
use crate::encode::Encoder;
use crate::parse::{PResult, expect, fail};
use crate::string::{AString, IString, TypeError, is_list_char};
pub use mailwire_core::utf7::{decode_modified_utf7, encode_modified_utf7};
use mailwire_core::utf7::{is_modified_utf7_identity, is_printable};

/// The human name of wire bytes in an IMAP4rev1 session: modified UTF-7
/// decoded when the bytes are ASCII; 8-bit bytes cannot be modified UTF-7,
/// so such a name comes from a UTF-8 peer and is taken as it is.
fn decode_name(bytes: &[u8]) -> Result<Cow<'_, str>, TypeError> {
    if bytes.is_ascii() {
        if memchr::memchr(b'&', bytes).is_none() && bytes.iter().all(|&b| is_printable(b)) {
            return Ok(Cow::Borrowed(std::str::from_utf8(bytes).unwrap_or_default()));
        }
        return decode_modified_utf7(bytes).map(Cow::Owned);
    }
    utf8_name(bytes).map(Cow::Borrowed)
}

/// Wire bytes as UTF-8, naming the first byte that is not.
fn utf8_name(bytes: &[u8]) -> Result<&str, TypeError> {
    std::str::from_utf8(bytes).map_err(|e| TypeError {
        what: "UTF-8 mailbox name",
        problem: "not UTF-8",
        byte: bytes.get(e.valid_up_to()).copied(),
        position: Some(e.valid_up_to()),
    })
}

/// Checks a UTF-8 name against RFC 6855 section 3: no control characters
/// (U+0000-U+001F, U+0080-U+009F), DEL, LINE SEPARATOR or PARAGRAPH
/// SEPARATOR.
fn check_utf8_name(name: &str) -> Result<(), TypeError> {
    match name
        .char_indices()
        .find(|&(_, c)| matches!(c, '\0'..='\x1f' | '\x7f'..='\u{9f}' | '\u{2028}' | '\u{2029}'))
    {
        Some((p, _)) => Err(TypeError {
            what: "UTF-8 mailbox name",
            problem: "control character, DEL or line/paragraph separator (RFC 6855)",
            byte: Some(name.as_bytes()[p]),
            position: Some(p),
        }),
        None => Ok(()),
    }
}

/// A name in modified UTF-7, borrowed when the encoding changes nothing.
fn utf7_bytes(name: &str) -> Cow<'_, [u8]> {
    if is_modified_utf7_identity(name.as_bytes()) {
        Cow::Borrowed(name.as_bytes())
    } else {
        Cow::Owned(encode_modified_utf7(name).into_bytes())
    }
}

/// A mailbox name: `mailbox = "INBOX" / astring`.
///
/// INBOX is case-insensitive: every case variant of it, in any astring form,
/// is [`Mailbox::Inbox`], and a [`MailboxOther`] can never hold one.
///
/// Mailbox names (RFC 9051 section 5.1, RFC 3501 section 5.1.3, RFC 6855):
/// the `mailbox` argument with its case-insensitive INBOX, the modified
/// UTF-7 codec of IMAP4rev1 names, and LIST patterns (`list-mailbox`) with
/// their wildcard matching (RFC 9051 section 6.3.9).
///
/// A [`Mailbox`] holds the name as it travels on the wire. How that maps to
/// the name a human reads depends on the session: IMAP4rev1 peers exchange
/// modified UTF-7 ([`Mailbox::from_utf8_name`], [`Mailbox::to_utf8_name`]);
/// once UTF8=ACCEPT (RFC 6855) or IMAP4rev2 is enabled, names are UTF-8 and
/// `&` stands for itself ([`Mailbox::from_utf8_name_raw`],
/// [`Mailbox::to_utf8_name_raw`]).
///
/// The modified UTF-7 decoder is strict: it accepts exactly what the encoder
/// produces, so no two wire names decode to the same UTF-8 name. RFC 3501
/// forbids the alternate forms it rejects (printable ASCII in base64,
/// superfluous shifts such as `&U,BTFw-&ZeVnLIqe-`), and a server that
/// accepted them would let `&AGk-nbox` pass for `inbox`. A peer that sends
/// such a name can still be answered: the [`Mailbox`] keeps the wire form,
/// only its display name is unavailable.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Mailbox<'a> {
    /// INBOX, the user's primary mailbox (RFC 9051 section 5.1).
    Inbox,
    /// Any other name.
    Other(MailboxOther<'a>),
}

/// A mailbox name other than INBOX, as it travels on the wire.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct MailboxOther<'a>(AString<'a>);

impl<'a> MailboxOther<'a> {
    /// Wraps a name; a case variant of INBOX is refused (it is
    /// [`Mailbox::Inbox`]).
    pub fn new(name: AString<'a>) -> Result<Self, TypeError> {
        if is_inbox(name.as_bytes()) {
            return Err(TypeError::problem(
                "mailbox name",
                "a case variant of INBOX is Mailbox::Inbox",
            ));
        }
        Ok(MailboxOther(name))
    }

    /// The name as an astring.
    pub fn as_astring(&self) -> &AString<'a> {
        &self.0
    }

    /// The name as it travels on the wire.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The astring.
    pub fn into_inner(self) -> AString<'a> {
        self.0
    }

    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> MailboxOther<'static> {
        MailboxOther(self.0.into_owned())
    }
}

impl<'a> TryFrom<AString<'a>> for MailboxOther<'a> {
    type Error = TypeError;
    fn try_from(name: AString<'a>) -> Result<Self, TypeError> {
        MailboxOther::new(name)
    }
}

fn is_inbox(name: &[u8]) -> bool {
    name.eq_ignore_ascii_case(b"INBOX")
}

impl<'a> Mailbox<'a> {
    /// The mailbox an astring names: INBOX for any case variant of it.
    pub fn new(name: AString<'a>) -> Self {
        if is_inbox(name.as_bytes()) {
            Mailbox::Inbox
        } else {
            Mailbox::Other(MailboxOther(name))
        }
    }

    /// The mailbox of a human name for an IMAP4rev1 peer: encoded in
    /// modified UTF-7 (borrowed when that changes nothing), in the cheapest
    /// astring form.
    pub fn from_utf8_name(name: &'a str) -> Self {
        // Modified UTF-7 is printable ASCII, which every astring form holds.
        Mailbox::new(AString::from_bytes(utf7_bytes(name)).expect("modified UTF-7 has no NUL"))
    }

    /// The mailbox of a human name for a peer with UTF8=ACCEPT (RFC 6855)
    /// or IMAP4rev2 (RFC 9051 section 5.1): kept as UTF-8, `&` included.
    /// RFC 6855 section 3 forbids control characters, DEL, LINE SEPARATOR
    /// and PARAGRAPH SEPARATOR in such names.
    pub fn from_utf8_name_raw(name: &'a str) -> Result<Self, TypeError> {
        check_utf8_name(name)?;
        AString::from_bytes(name.as_bytes()).map(Mailbox::new)
    }

    /// The human name in an IMAP4rev1 session: modified UTF-7 decoded (see
    /// [`decode_modified_utf7`]). A name with 8-bit bytes cannot be modified
    /// UTF-7: it came from a UTF-8 peer and is returned as it is if it is
    /// UTF-8. INBOX is `"INBOX"`.
    pub fn to_utf8_name(&self) -> Result<Cow<'_, str>, TypeError> {
        match self {
            Mailbox::Inbox => Ok(Cow::Borrowed("INBOX")),
            Mailbox::Other(m) => decode_name(m.as_bytes()),
        }
    }

    /// The human name in a UTF8=ACCEPT or IMAP4rev2 session: the wire bytes
    /// as UTF-8, `&` standing for itself.
    pub fn to_utf8_name_raw(&self) -> Result<&str, TypeError> {
        match self {
            Mailbox::Inbox => Ok("INBOX"),
            Mailbox::Other(m) => utf8_name(m.as_bytes()),
        }
    }

    /// The name as it travels on the wire (`INBOX` for INBOX).
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Mailbox::Inbox => b"INBOX",
            Mailbox::Other(m) => m.as_bytes(),
        }
    }

    /// Whether this is INBOX.
    pub fn is_inbox(&self) -> bool {
        matches!(self, Mailbox::Inbox)
    }

    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> Mailbox<'static> {
        match self {
            Mailbox::Inbox => Mailbox::Inbox,
            Mailbox::Other(m) => Mailbox::Other(m.into_owned()),
        }
    }

    /// `mailbox = "INBOX" / astring`; "an astring that consists of the
    /// case-insensitive sequence "I" "N" "B" "O" "X" is considered to be an
    /// INBOX and not an astring".
    pub(crate) fn parse(input: &'a [u8], leniency: &Leniency) -> PResult<'a, Self> {
        let (rest, name) = expect("mailbox", |i| AString::parse(i, leniency))(input)?;
        Ok((rest, Mailbox::new(name)))
    }

    pub(crate) fn encode<'e>(&'e self, e: &mut Encoder<'e>) {
        match self {
            Mailbox::Inbox => e.put(b"INBOX"),
            Mailbox::Other(m) => m.0.encode(e),
        }
    }
}

impl<'a> From<AString<'a>> for Mailbox<'a> {
    fn from(name: AString<'a>) -> Self {
        Mailbox::new(name)
    }
}

/// The mailbox whose name on the wire is `name`, in the cheapest astring
/// form; fails only for a NUL. The text is sent as it is: a human name
/// with characters beyond ASCII goes through [`Mailbox::from_utf8_name`]
/// (IMAP4rev1) or [`Mailbox::from_utf8_name_raw`] (UTF-8 sessions).
///
/// ```
/// use mailwire_imap::Mailbox;
///
/// assert!(Mailbox::try_from("inbox")?.is_inbox());
/// let drafts = Mailbox::try_from("Work/Drafts 2024")?;
/// assert_eq!(drafts.to_string(), "\"Work/Drafts 2024\"");
/// assert_eq!(format!("{drafts:?}"), "\"Work/Drafts 2024\"");
/// # Ok::<(), mailwire_imap::TypeError>(())
/// ```
impl<'a> TryFrom<&'a str> for Mailbox<'a> {
    type Error = TypeError;
    fn try_from(name: &'a str) -> Result<Self, TypeError> {
        AString::from_bytes(name.as_bytes()).map(Mailbox::new)
    }
}

/// A name other than INBOX, as [`Mailbox::try_from`] makes it.
impl<'a> TryFrom<&'a str> for MailboxOther<'a> {
    type Error = TypeError;
    fn try_from(name: &'a str) -> Result<Self, TypeError> {
        AString::from_bytes(name.as_bytes()).and_then(MailboxOther::new)
    }
}

/// `INBOX`, or the name as [`AString`] prints it.
impl fmt::Debug for Mailbox<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mailbox::Inbox => f.write_str("INBOX"),
            Mailbox::Other(m) => fmt::Debug::fmt(m, f),
        }
    }
}

/// The name as [`AString`] prints it.
impl fmt::Debug for MailboxOther<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

crate::encode::display_wire! {
    /// The wire form: `INBOX`, or the name as an atom, quoted or a literal.
    Mailbox;
}

/// The wire form of the name.
impl fmt::Display for MailboxOther<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// The unquoted form of a LIST pattern: `1*list-char`, where
/// `list-char = ATOM-CHAR / list-wildcards / resp-specials`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ListCharString<'a>(Cow<'a, str>);

impl<'a> ListCharString<'a> {
    /// Validates the value.
    pub fn new(value: impl Into<Cow<'a, str>>) -> Result<Self, TypeError> {
        let value = value.into();
        if value.is_empty() {
            return Err(TypeError::problem("list-char string", "must not be empty"));
        }
        crate::string::check_bytes("list-char string", value.as_bytes(), is_list_char)?;
        Ok(ListCharString(value))
    }

    /// The value as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> ListCharString<'static> {
        ListCharString(Cow::Owned(self.0.into_owned()))
    }

    /// `1*list-char`.
    pub(crate) fn parse(input: &'a [u8]) -> PResult<'a, Self> {
        let n = input.iter().take_while(|&&b| is_list_char(b)).count();
        if n == 0 {
            return fail(input, "list-char");
        }
        // list-char is ASCII only.
        let text = std::str::from_utf8(&input[..n]).unwrap_or_default();
        Ok((&input[n..], ListCharString(Cow::Borrowed(text))))
    }
}

/// The pattern as it is sent.
impl fmt::Debug for ListCharString<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A LIST or LSUB pattern: `list-mailbox = 1*list-char / string`, where `*`
/// matches anything and `%` anything but the hierarchy delimiter.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ListMailbox<'a> {
    /// The unquoted form.
    Token(ListCharString<'a>),
    /// A quoted string or literal.
    String(IString<'a>),
}

impl<'a> ListMailbox<'a> {
    /// The cheapest form that holds `pattern`: unquoted, quoted, then
    /// literal.
    pub fn from_bytes(pattern: impl Into<Cow<'a, [u8]>>) -> Result<Self, TypeError> {
        let pattern = pattern.into();
        if !pattern.is_empty() && pattern.iter().all(|&b| is_list_char(b)) {
            let text = match pattern {
                Cow::Borrowed(b) => Cow::Borrowed(std::str::from_utf8(b).unwrap_or_default()),
                Cow::Owned(v) => Cow::Owned(String::from_utf8(v).unwrap_or_default()),
            };
            return Ok(ListMailbox::Token(ListCharString(text)));
        }
        IString::from_bytes(pattern).map(ListMailbox::String)
    }

    /// The pattern of a human pattern for an IMAP4rev1 peer: encoded in
    /// modified UTF-7 like [`Mailbox::from_utf8_name`] (the wildcards are
    /// printable ASCII and stay as they are).
    pub fn from_utf8_pattern(pattern: &'a str) -> Self {
        ListMailbox::from_bytes(utf7_bytes(pattern)).expect("modified UTF-7 has no NUL")
    }

    /// The pattern of a human pattern for a UTF8=ACCEPT or IMAP4rev2 peer,
    /// kept as UTF-8 with the restrictions of
    /// [`Mailbox::from_utf8_name_raw`].
    pub fn from_utf8_pattern_raw(pattern: &'a str) -> Result<Self, TypeError> {
        check_utf8_name(pattern)?;
        ListMailbox::from_bytes(pattern.as_bytes())
    }

    /// The pattern as it travels on the wire.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            ListMailbox::Token(t) => t.as_str().as_bytes(),
            ListMailbox::String(s) => s.as_bytes(),
        }
    }

    /// The human pattern in an IMAP4rev1 session, decoded like
    /// [`Mailbox::to_utf8_name`].
    pub fn to_utf8_pattern(&self) -> Result<Cow<'_, str>, TypeError> {
        decode_name(self.as_bytes())
    }

    /// Whether `name` matches this pattern, both in the form the pattern
    /// has on the wire (see [`list_pattern_matches`]). A pattern that is not
    /// UTF-8 matches nothing (RFC 9051 section 6.3.9: a pattern a server
    /// does not accept gives no LIST responses).
    ///
    /// In an IMAP4rev1 session, a wire pattern such as `&U,A-*` (`台*`)
    /// cannot match a wire name `&U,BTFw-` (`台北`) byte by byte; servers
    /// match the decoded forms: `list_pattern_matches(&p.to_utf8_pattern()?,
    /// delimiter, "台北")`.
    pub fn matches(&self, delimiter: Option<char>, name: &str) -> bool {
        match std::str::from_utf8(self.as_bytes()) {
            Ok(pattern) => list_pattern_matches(pattern, delimiter, name),
            Err(_) => false,
        }
    }

    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> ListMailbox<'static> {
        match self {
            ListMailbox::Token(t) => ListMailbox::Token(t.into_owned()),
            ListMailbox::String(s) => ListMailbox::String(s.into_owned()),
        }
    }

    /// `list-mailbox = 1*list-char / string`.
    pub(crate) fn parse(input: &'a [u8], leniency: &Leniency) -> PResult<'a, Self> {
        match input.first() {
            Some(b'"' | b'{') => IString::parse(input, leniency).map(|(r, s)| (r, ListMailbox::String(s))),
            _ => ListCharString::parse(input)
                .map(|(r, t)| (r, ListMailbox::Token(t)))
                .or_else(|_| fail(input, "list-mailbox")),
        }
    }

    pub(crate) fn encode<'e>(&'e self, e: &mut Encoder<'e>) {
        match self {
            ListMailbox::Token(t) => e.put(t.as_str().as_bytes()),
            ListMailbox::String(s) => s.encode(e),
        }
    }
}

/// One step of a compiled LIST pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Char(char),
    /// `*`: zero or more characters.
    Any,
    /// `%`: zero or more characters other than the hierarchy delimiter.
    Level,
}

/// Whether `name` matches the LIST `pattern` (RFC 9051 section 6.3.9): `*`
/// matches zero or more characters, `%` zero or more characters other than
/// the hierarchy `delimiter` (anything, when there is no hierarchy), and
/// every other character itself, case-sensitively.
///
/// INBOX is the caller's: RFC 9051 includes it in LIST output when "the
/// uppercase string "INBOX" matches" the pattern, so pass `"INBOX"`. That a
/// trailing `%` also returns the levels of hierarchy above matching names
/// is the server's to apply, too.
///
/// Runs in O(pattern × name) time and O(pattern) space, whatever the
/// wildcards: it follows the set of pattern positions the name so far can
/// reach, instead of backtracking.
pub fn list_pattern_matches(pattern: &str, delimiter: Option<char>, name: &str) -> bool {
    // A run of wildcards matches what `*` matches if it holds one, and what
    // `%` matches otherwise.
    let mut steps: Vec<Step> = Vec::with_capacity(pattern.len());
    for c in pattern.chars() {
        let step = match c {
            '*' => Step::Any,
            '%' => Step::Level,
            c => Step::Char(c),
        };
        match (steps.last_mut(), step) {
            (Some(last @ Step::Level), Step::Any) => *last = Step::Any,
            (Some(Step::Any | Step::Level), Step::Any | Step::Level) => {}
            _ => steps.push(step),
        }
    }
    if !steps.iter().any(|s| matches!(s, Step::Any | Step::Level)) {
        return pattern == name;
    }
    if steps == [Step::Any] {
        return true;
    }
    // Each character step takes one character of the name: a pattern with
    // more of them than the name has characters cannot match (and a long
    // hostile pattern costs its length, not its length times the name's).
    let needed = steps.iter().filter(|s| matches!(s, Step::Char(_))).count();
    if needed > name.chars().count() {
        return false;
    }

    // reached[i]: the name so far can be matched by steps[..i].
    let mut reached = vec![false; steps.len() + 1];
    let mut next = vec![false; steps.len() + 1];
    reached[0] = true;
    skip_wildcards(&steps, &mut reached);
    for c in name.chars() {
        next.fill(false);
        let mut any = false;
        for (i, step) in steps.iter().enumerate() {
            if !reached[i] {
                continue;
            }
            match *step {
                Step::Any => next[i] = true,
                Step::Level if Some(c) != delimiter => next[i] = true,
                Step::Level => continue,
                Step::Char(p) if p == c => next[i + 1] = true,
                Step::Char(_) => continue,
            }
            any = true;
        }
        if !any {
            return false;
        }
        skip_wildcards(&steps, &mut next);
        std::mem::swap(&mut reached, &mut next);
    }
    reached[steps.len()]
}

/// A wildcard may match nothing: where it is reached, so is the step after.
fn skip_wildcards(steps: &[Step], reached: &mut [bool]) {
    for (i, step) in steps.iter().enumerate() {
        if reached[i] && matches!(step, Step::Any | Step::Level) {
            reached[i + 1] = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::{LiteralPolicy, to_bytes};
    use crate::parse::PError;
    use crate::string::{AstringAtom, Quoted};
    use proptest::prelude::*;

    fn encoded<'e>(f: impl FnOnce(&mut Encoder<'e>)) -> Vec<u8> {
        let mut e = Encoder::new(LiteralPolicy::SyncOnly);
        f(&mut e);
        to_bytes(&e.finish())
    }

    #[test]
    fn rfc3501_example() {
        let wire = "~peter/mail/&U,BTFw-/&ZeVnLIqe-";
        let name = "~peter/mail/台北/日本語";
        assert_eq!(encode_modified_utf7(name), wire);
        assert_eq!(decode_modified_utf7(wire.as_bytes()).unwrap(), name);
        assert_eq!(encode_modified_utf7("台北日本語"), "&U,BTF2XlZyyKng-");
        assert_eq!(decode_modified_utf7(b"&U,BTF2XlZyyKng-").unwrap(), "台北日本語");
        assert_eq!(encode_modified_utf7("\u{263a}!"), "&Jjo-!");
    }

    #[test]
    fn ampersand() {
        assert_eq!(encode_modified_utf7("&"), "&-");
        assert_eq!(decode_modified_utf7(b"&-").unwrap(), "&");
        assert_eq!(encode_modified_utf7("Tom & Jerry"), "Tom &- Jerry");
        assert_eq!(decode_modified_utf7(b"&-&-").unwrap(), "&&");
        // `&-` right after a section is an ampersand, not a second section.
        assert_eq!(encode_modified_utf7("é&é"), "&AOk-&-&AOk-");
        assert_eq!(decode_modified_utf7(b"&AOk-&-&AOk-").unwrap(), "é&é");
    }

    #[test]
    fn surrogate_pairs_and_controls() {
        let name = "mail/\u{1F600}x\u{10FFFF}";
        let wire = encode_modified_utf7(name);
        assert_eq!(wire, "mail/&2D3eAA-x&2,,f,w-");
        assert_eq!(decode_modified_utf7(wire.as_bytes()).unwrap(), name);
        assert_eq!(encode_modified_utf7("a\tb\u{7f}"), "a&AAk-b&AH8-");
        assert_eq!(decode_modified_utf7(b"a&AAk-b&AH8-").unwrap(), "a\tb\u{7f}");
        assert_eq!(encode_modified_utf7("\0"), "&AAA-");
    }

    fn rejected(input: &str) -> (&'static str, Option<u8>, Option<usize>) {
        let e = decode_modified_utf7(input.as_bytes()).unwrap_err();
        assert_eq!(e.what, "modified UTF-7 name");
        (e.problem, e.byte, e.position)
    }

    #[test]
    fn malformed_utf7_is_rejected_with_positions() {
        assert_eq!(
            rejected("ab&U,BTFw"),
            ("'&' not closed by '-'", Some(b'&'), Some(2))
        );
        assert_eq!(rejected("&"), ("'&' not closed by '-'", Some(b'&'), Some(0)));
        let (_, byte, position) = rejected("&Jjo!");
        assert_eq!((byte, position), (Some(b'!'), Some(4)));
        assert_eq!(rejected("&U,BTFw-&ZeVnLIqe-").2, Some(8));
        assert_eq!(
            rejected("&AOk-&AOk-").0,
            "superfluous shift: a base64 section right after another"
        );
        assert_eq!(rejected("x&AGE-").0, "printable US-ASCII encoded in base64");
        assert_eq!(rejected("x&AGE-").2, Some(4));
        assert_eq!(rejected("&ACY-").0, "printable US-ASCII encoded in base64");
        // "&AOl-": the padding bits of 'l' are not zero.
        assert_eq!(
            rejected("&AOl-"),
            ("base64 padding bits not zero", Some(b'l'), Some(3))
        );
        // Four characters hold one code unit and eight bits too many.
        assert_eq!(
            rejected("&AOkA-"),
            (
                "base64 section ends inside a UTF-16 code unit",
                Some(b'-'),
                Some(5)
            )
        );
        assert_eq!(
            rejected("&AO-").0,
            "base64 section ends inside a UTF-16 code unit"
        );
        assert_eq!(
            rejected("&2D0-").0,
            "high surrogate not followed by a low surrogate"
        );
        assert_eq!(
            rejected("&2D0AYQ-").0,
            "high surrogate not followed by a low surrogate"
        );
        assert_eq!(rejected("&3gA-").0, "unpaired low surrogate");
        assert_eq!(rejected("a/b&2D0-").2, Some(7));
        assert_eq!(
            rejected("caf\u{e9}"),
            ("byte not printable US-ASCII", Some(0xc3), Some(3))
        );
        assert_eq!(
            rejected("a\tb"),
            ("byte not printable US-ASCII", Some(b'\t'), Some(1))
        );
        assert_eq!(rejected("&AO/-").2, Some(3));
        let e = decode_modified_utf7(b"&AOk").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid modified UTF-7 name: '&' not closed by '-' (byte 0x26 at position 0)"
        );
    }

    #[test]
    fn inbox_is_case_insensitive() {
        let strict = Leniency::STRICT;
        for wire in [&b"iNbOx "[..], b"INBOX ", b"\"inbox\" ", b"{5}\r\nInBoX "] {
            let (rest, m) = Mailbox::parse(wire, &strict).unwrap();
            assert_eq!((rest, m), (&b" "[..], Mailbox::Inbox));
        }
        let (rest, m) = Mailbox::parse(b"INBOX.Sent)", &strict).unwrap();
        assert_eq!(rest, b")");
        assert_eq!(m.as_bytes(), b"INBOX.Sent");
        assert!(!m.is_inbox());
        let e = MailboxOther::new(AString::Atom(AstringAtom::new("inbox").unwrap())).unwrap_err();
        assert_eq!(e.problem, "a case variant of INBOX is Mailbox::Inbox");
        assert!(
            MailboxOther::try_from(AString::String(IString::Quoted(
                Quoted::new(&b"INBOX"[..]).unwrap()
            )))
            .is_err()
        );
        assert!(MailboxOther::new(AString::from_bytes(&b"INBOX2"[..]).unwrap()).is_ok());
        assert_eq!(Mailbox::from_utf8_name("Inbox"), Mailbox::Inbox);
        assert_eq!(
            Mailbox::from(AString::from_bytes(&b"inBOX"[..]).unwrap()),
            Mailbox::Inbox
        );
        assert_eq!(Mailbox::Inbox.to_utf8_name().unwrap(), "INBOX");
        assert_eq!(encoded(|e| Mailbox::Inbox.encode(e)), b"INBOX\r\n");
    }

    #[test]
    fn mailboxes_on_the_wire() {
        let strict = Leniency::STRICT;
        let m = Mailbox::from_utf8_name("Sent");
        assert!(matches!(&m, Mailbox::Other(o) if matches!(o.as_astring(), AString::Atom(_))));
        assert_eq!(encoded(|e| m.encode(e)), b"Sent\r\n");
        let m = Mailbox::from_utf8_name("~peter/mail/台北/日本語");
        assert_eq!(m.as_bytes(), b"~peter/mail/&U,BTFw-/&ZeVnLIqe-");
        assert_eq!(m.to_utf8_name().unwrap(), "~peter/mail/台北/日本語");
        let m = Mailbox::from_utf8_name("Sent Items & Co");
        assert_eq!(encoded(|e| m.encode(e)), b"\"Sent Items &- Co\"\r\n");
        let (_, back) = Mailbox::parse(b"\"Sent Items &- Co\"", &strict).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.to_utf8_name().unwrap(), "Sent Items & Co");

        let m = Mailbox::from_utf8_name_raw("Entwürfe & Co").unwrap();
        assert_eq!(m.as_bytes(), "Entwürfe & Co".as_bytes());
        assert_eq!(m.to_utf8_name_raw().unwrap(), "Entwürfe & Co");
        // 8-bit bytes cannot be modified UTF-7: taken as UTF-8.
        assert_eq!(m.to_utf8_name().unwrap(), "Entwürfe & Co");
        let e = Mailbox::from_utf8_name_raw("a\u{2028}b").unwrap_err();
        assert_eq!((e.byte, e.position), (Some(0xe2), Some(1)));
        assert!(Mailbox::from_utf8_name_raw("a\u{85}").is_err());
        // ...whereas modified UTF-7 carries any character.
        assert_eq!(
            Mailbox::from_utf8_name("a\u{85}").to_utf8_name().unwrap(),
            "a\u{85}"
        );

        let (_, latin1) = Mailbox::parse(b"\"caf\xe9\"", &Leniency::LENIENT).unwrap();
        let e = latin1.to_utf8_name_raw().unwrap_err();
        assert_eq!((e.byte, e.position), (Some(0xe9), Some(3)));
        assert!(latin1.to_utf8_name().is_err());

        let (_, bad) = Mailbox::parse(b"&AGk-nbox", &strict).unwrap();
        assert!(!bad.is_inbox());
        assert!(bad.to_utf8_name().is_err());

        assert!(
            matches!(Mailbox::from_utf8_name("plain"), Mailbox::Other(o) if matches!(o.as_astring(), AString::Atom(a) if a.as_str() == "plain"))
        );
        let owned = Mailbox::from_utf8_name(&String::from("x y")).into_owned();
        assert_eq!(owned.as_bytes(), b"x y");

        let long = "x ".repeat(600);
        let m = Mailbox::from_utf8_name(&long);
        assert!(
            matches!(&m, Mailbox::Other(o) if matches!(o.as_astring(), AString::String(IString::Literal(_))))
        );
        let wire = encoded(|e| m.encode(e));
        assert!(wire.starts_with(b"{1200}\r\n"));
        let (rest, back) = Mailbox::parse(&wire, &strict).unwrap();
        assert_eq!((rest, back), (&b"\r\n"[..], m));

        let Err(nom::Err::Error(e)) = Mailbox::parse(b"(x", &strict) else {
            panic!()
        };
        assert_eq!(e, PError::at(b"(x", "mailbox"));
        let Err(nom::Err::Error(e)) = Mailbox::parse(b"\"open", &strict) else {
            panic!()
        };
        assert_eq!(e.remaining, 0);
    }

    #[test]
    fn list_mailboxes() {
        let strict = Leniency::STRICT;
        let (rest, p) = ListMailbox::parse(b"~smith/Mail/foo.* x", &strict).unwrap();
        assert_eq!(rest, b" x");
        assert!(matches!(&p, ListMailbox::Token(t) if t.as_str() == "~smith/Mail/foo.*"));
        let (_, p) = ListMailbox::parse(b"%]x", &strict).unwrap();
        assert_eq!(p.as_bytes(), b"%]x");
        let (_, p) = ListMailbox::parse(b"\"\"", &strict).unwrap();
        assert!(matches!(&p, ListMailbox::String(_)) && p.as_bytes().is_empty());
        let Err(nom::Err::Error(e)) = ListMailbox::parse(b"(", &strict) else {
            panic!()
        };
        assert_eq!(e, PError::at(b"(", "list-mailbox"));

        let p = ListMailbox::from_utf8_pattern("Archiv/*");
        assert!(matches!(p, ListMailbox::Token(_)));
        assert_eq!(encoded(|e| p.encode(e)), b"Archiv/*\r\n");
        let p = ListMailbox::from_utf8_pattern("台*");
        assert_eq!(p.as_bytes(), b"&U,A-*");
        assert_eq!(p.to_utf8_pattern().unwrap(), "台*");
        assert!(!p.matches(Some('/'), "&U,BTFw-"));
        assert!(list_pattern_matches(
            &p.to_utf8_pattern().unwrap(),
            Some('/'),
            "台北"
        ));
        let p = ListMailbox::from_utf8_pattern("My Folders/%");
        assert_eq!(encoded(|e| p.encode(e)), b"\"My Folders/%\"\r\n");
        let (_, back) = ListMailbox::parse(b"\"My Folders/%\"", &strict).unwrap();
        assert_eq!(back, p);
        assert!(p.matches(Some('/'), "My Folders/a") && !p.matches(Some('/'), "My Folders/a/b"));
        let p = ListMailbox::from_utf8_pattern_raw("Entwürfe/*").unwrap();
        assert!(p.matches(Some('/'), "Entwürfe/x/y"));
        assert!(ListMailbox::from_utf8_pattern_raw("a\nb").is_err());
        assert!(ListCharString::new("a b").is_err() && ListCharString::new("").is_err());
        assert_eq!(ListCharString::new("a*%]").unwrap().into_owned().as_str(), "a*%]");
        let (_, latin1) = ListMailbox::parse(b"\"caf\xe9*\"", &Leniency::LENIENT).unwrap();
        assert!(!latin1.matches(None, "caf\u{e9}"));
    }

    #[test]
    fn wildcard_table() {
        let d = Some('/');
        for (pattern, name, expected) in [
            ("*", "", true),
            ("*", "a/b/c", true),
            ("%", "", true),
            ("%", "abc", true),
            ("%", "a/b", false),
            ("%/%", "a/b", true),
            ("%/%", "a/b/c", false),
            ("a/*", "a/b/c", true),
            ("a/*", "a/", true),
            ("a/*", "a", false),
            ("a/%", "a/b", true),
            ("a/%", "a/b/c", false),
            ("a%", "a", true),
            ("a%", "ab/", false),
            ("*c", "a/b/c", true),
            ("%c", "a/b/c", false),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
            ("a%b%c", "a/b/c", false),
            ("a%/*", "abc/d/e", true),
            ("INBOX", "INBOX", true),
            ("INBOX", "inbox", false),
            ("inbox", "INBOX", false),
            ("foo.*", "foo.bar", true),
            ("foo.*", "foobar", false),
            ("%*%", "x/y", true),
            ("*%*", "", true),
            ("*/", "a/b/", true),
            ("%/", "a/b/", false),
            ("台%", "台北", true),
            ("台%", "台北/x", false),
            ("", "", true),
            ("", "a", false),
            ("%a%b%", "ab", true),
            ("%a%b%c", "ab", false),
            ("*台*北*", "台北", true),
        ] {
            assert_eq!(
                list_pattern_matches(pattern, d, name),
                expected,
                "{pattern:?} against {name:?}"
            );
        }
        // Without a hierarchy, `%` is `*`.
        assert!(list_pattern_matches("%", None, "a/b"));
        assert!(list_pattern_matches("a.%", Some('.'), "a.b/c"));
        assert!(!list_pattern_matches("a.%", Some('.'), "a.b.c"));
    }

    #[test]
    fn wildcards_do_not_backtrack_exponentially() {
        let pattern: String = "*%".repeat(30) + "x";
        let name = "a/".repeat(20_000);
        let started = std::time::Instant::now();
        assert!(!list_pattern_matches(&pattern, Some('/'), &name));
        assert!(list_pattern_matches(&pattern, Some('/'), &(name.clone() + "x")));
        // Runs of wildcards collapse; wildcards between literals do not.
        let pattern: String = (0..30)
            .map(|i| if i % 2 == 0 { "*a" } else { "%a" })
            .collect::<String>()
            + "b";
        let name = "a".repeat(20_000);
        assert!(!list_pattern_matches(&pattern, Some('/'), &name));
        assert!(list_pattern_matches(&pattern, Some('/'), &(name + "b")));
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
    }

    /// A pattern with more literal characters than a name has matches
    /// nothing: the count decides before any matching (a hostile pattern
    /// of a mebibyte, `%a` over and over, cost its length times the name's
    /// for every name: 9 s for fifty names of 204 characters on the
    /// server). As many as the name has can still match.
    #[test]
    fn a_pattern_longer_than_the_name_matches_nothing() {
        let pattern = "%a".repeat(1 << 19);
        let name = "a".repeat(204);
        assert!(!list_pattern_matches(&pattern, Some('/'), &name));
        assert!(list_pattern_matches(&"%a".repeat(204), Some('/'), &name));
        assert!(!list_pattern_matches(&"%a".repeat(205), Some('/'), &name));
    }

    /// A plain backtracking matcher to compare with on small inputs.
    fn naive(pattern: &[char], delimiter: Option<char>, name: &[char]) -> bool {
        match pattern.split_first() {
            None => name.is_empty(),
            Some(('*', rest)) => (0..=name.len()).any(|k| naive(rest, delimiter, &name[k..])),
            Some(('%', rest)) => {
                let level = name.iter().take_while(|&&c| Some(c) != delimiter).count();
                (0..=level).any(|k| naive(rest, delimiter, &name[k..]))
            }
            Some((&p, rest)) => name.first() == Some(&p) && naive(rest, delimiter, &name[1..]),
        }
    }

    proptest! {
        #[test]
        fn utf7_round_trips(name in any::<String>()) {
            let wire = encode_modified_utf7(&name);
            prop_assert!(wire.bytes().all(is_printable));
            prop_assert_eq!(decode_modified_utf7(wire.as_bytes())?, name.clone());
            let m = Mailbox::from_utf8_name(&name);
            let expected = if is_inbox(name.as_bytes()) { "INBOX".to_string() } else { name.clone() };
            prop_assert_eq!(m.to_utf8_name()?, expected);
            let bytes = encoded(|e| m.encode(e));
            let (rest, back) = Mailbox::parse(&bytes, &Leniency::STRICT).unwrap();
            prop_assert_eq!(rest, &b"\r\n"[..]);
            prop_assert_eq!(back, m.clone());
        }

        #[test]
        fn astral_round_trips(name in "[a&\u{e9}\u{4e00}-\u{4e10}\u{1F600}-\u{1F610}\u{10000}\u{10FFFF}/-]{0,12}") {
            let wire = encode_modified_utf7(&name);
            prop_assert_eq!(decode_modified_utf7(wire.as_bytes())?, name);
        }

        #[test]
        fn decoding_accepts_only_the_canonical_form(wire in "[-&AOk2D3eBCa,+/!]{0,16}") {
            if let Ok(name) = decode_modified_utf7(wire.as_bytes()) {
                prop_assert_eq!(encode_modified_utf7(&name), wire);
            }
        }

        #[test]
        fn matching_agrees_with_backtracking(pattern in "[ab/*%]{0,8}", name in "[ab/]{0,10}") {
            let p: Vec<char> = pattern.chars().collect();
            let n: Vec<char> = name.chars().collect();
            for d in [Some('/'), None] {
                prop_assert_eq!(list_pattern_matches(&pattern, d, &name), naive(&p, d, &n));
            }
        }
    }
}

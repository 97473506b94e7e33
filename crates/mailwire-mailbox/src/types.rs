//! Identifiers and names of the model: UIDs, UIDVALIDITY, MODSEQ, internal
//! dates, account and mailbox names, SPECIAL-USE attributes, and the error
//! type shared by the store and its backends.

use std::fmt;
use std::num::{NonZeroU32, NonZeroU64};
use std::sync::Arc;

/// A message's unique identifier in its mailbox (RFC 9051 section
/// 2.3.1.1): non-zero, strictly ascending in the order messages were added,
/// never reused under the same [`UidValidity`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Uid(NonZeroU32);

impl Uid {
    /// UID 1, the first a new mailbox assigns.
    pub const MIN: Uid = Uid(NonZeroU32::MIN);

    /// A UID; `None` for 0.
    pub const fn new(value: u32) -> Option<Uid> {
        match NonZeroU32::new(value) {
            Some(n) => Some(Uid(n)),
            None => None,
        }
    }

    /// The number.
    pub const fn get(self) -> u32 {
        self.0.get()
    }

    /// The next UID, or `None` past `u32::MAX`.
    pub fn next(self) -> Option<Uid> {
        self.0.checked_add(1).map(Uid)
    }
}

impl From<NonZeroU32> for Uid {
    fn from(n: NonZeroU32) -> Uid {
        Uid(n)
    }
}

impl From<Uid> for NonZeroU32 {
    fn from(uid: Uid) -> NonZeroU32 {
        uid.0
    }
}

impl fmt::Display for Uid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A mailbox's unique identifier validity value (RFC 9051 section
/// 2.3.1.1). Every mailbox an account creates, including one recreated
/// under an old name, gets a value greater than any the account used
/// before, so `(name, UIDVALIDITY, UID)` names one message forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UidValidity(NonZeroU32);

impl UidValidity {
    /// A UIDVALIDITY; `None` for 0.
    pub const fn new(value: u32) -> Option<UidValidity> {
        match NonZeroU32::new(value) {
            Some(n) => Some(UidValidity(n)),
            None => None,
        }
    }

    /// The number.
    pub const fn get(self) -> u32 {
        self.0.get()
    }
}

impl From<NonZeroU32> for UidValidity {
    fn from(n: NonZeroU32) -> UidValidity {
        UidValidity(n)
    }
}

impl From<UidValidity> for NonZeroU32 {
    fn from(v: UidValidity) -> NonZeroU32 {
        v.0
    }
}

impl fmt::Display for UidValidity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A modification sequence (RFC 7162 section 3.1): a positive 63-bit
/// number from a per-account counter. Every change (a message added, its
/// flags changed, messages expunged, a mailbox created) takes a new value
/// greater than all before; the messages changed by one operation share
/// it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ModSeq(NonZeroU64);

impl ModSeq {
    /// The smallest value.
    pub const MIN: ModSeq = ModSeq(NonZeroU64::MIN);
    /// The largest value RFC 7162 allows (2^63 - 1).
    pub const MAX: ModSeq = match NonZeroU64::new(i64::MAX as u64) {
        Some(n) => ModSeq(n),
        None => panic!("non-zero"),
    };

    /// A MODSEQ; `None` for 0 and for values above 2^63 - 1.
    pub const fn new(value: u64) -> Option<ModSeq> {
        if value > i64::MAX as u64 {
            return None;
        }
        match NonZeroU64::new(value) {
            Some(n) => Some(ModSeq(n)),
            None => None,
        }
    }

    /// The number.
    pub const fn get(self) -> u64 {
        self.0.get()
    }

    /// The next value, or `None` past [`ModSeq::MAX`].
    pub fn next(self) -> Option<ModSeq> {
        ModSeq::new(self.get().checked_add(1)?)
    }
}

impl fmt::Display for ModSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A message's INTERNALDATE: the moment it was received or appended,
/// with the time zone it is shown in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct InternalDate {
    /// Seconds since 1970-01-01T00:00:00Z.
    pub unix_seconds: i64,
    /// The zone offset from UTC in minutes (`+0200` is 120), within
    /// ±(99 * 60 + 59) as IMAP's `zone` can write it.
    pub zone_minutes: i16,
}

impl InternalDate {
    /// A date at the given Unix time, shown in UTC.
    pub const fn from_unix(unix_seconds: i64) -> InternalDate {
        InternalDate {
            unix_seconds,
            zone_minutes: 0,
        }
    }

    /// The current time, in UTC (the clock is read here, in the storage
    /// layer, never in the protocol crates).
    pub fn now() -> InternalDate {
        let secs = match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            Err(e) => i64::try_from(e.duration().as_secs()).map_or(i64::MIN, |s| -s),
        };
        InternalDate::from_unix(secs)
    }
}

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what}: {problem}")]
pub struct NameError {
    /// What was being named ("mailbox name", "account name", "keyword").
    pub what: &'static str,
    /// What is wrong with it.
    pub problem: &'static str,
}

impl NameError {
    pub(crate) const fn new(what: &'static str, problem: &'static str) -> NameError {
        NameError { what, problem }
    }
}

/// The longest account name accepted, in bytes.
pub const MAX_ACCOUNT_NAME: usize = 255;

/// The name of an account (a user): 1 to [`MAX_ACCOUNT_NAME`] bytes of
/// UTF-8 without control characters. Compared exactly.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccountName(Arc<str>);

impl AccountName {
    /// Validates an account name.
    pub fn new(name: &str) -> Result<AccountName, NameError> {
        const WHAT: &str = "account name";
        if name.is_empty() || name.len() > MAX_ACCOUNT_NAME {
            return Err(NameError::new(WHAT, "length must be 1 to 255 bytes"));
        }
        if name.chars().any(char::is_control) {
            return Err(NameError::new(WHAT, "control characters are not allowed"));
        }
        Ok(AccountName(name.into()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The model's hierarchy delimiter.
pub const DELIMITER: char = '/';

/// The longest mailbox name accepted, in bytes.
pub const MAX_MAILBOX_NAME: usize = 1024;

/// The deepest hierarchy accepted: names have at most this many levels.
pub const MAX_MAILBOX_DEPTH: usize = 32;

/// A mailbox name: UTF-8 levels separated by [`DELIMITER`] (`/`).
///
/// Every case variant of `INBOX` is stored as `INBOX` (RFC 9051 section
/// 5.1); so is the first level of an inferior of INBOX (`inbox/x` is
/// `INBOX/x`). Other names are case-sensitive. A name has no empty level
/// (no leading, trailing or doubled `/`), no level `.` or `..` (names that
/// look like paths are refused, though no name can reach outside the
/// account's storage), no control characters, no `%` or `*` (IMAP's LIST
/// wildcards, which would make the name impossible to list alone), at
/// most [`MAX_MAILBOX_DEPTH`] levels and [`MAX_MAILBOX_NAME`] bytes. The IMAP
/// layer converts modified UTF-7 and strips the trailing delimiter that a
/// CREATE may carry before building one. Unicode normalisation (NFC) is
/// the caller's to do.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MailboxName(Arc<str>);

impl MailboxName {
    /// Validates a mailbox name.
    pub fn new(name: &str) -> Result<MailboxName, NameError> {
        const WHAT: &str = "mailbox name";
        if name.is_empty() || name.len() > MAX_MAILBOX_NAME {
            return Err(NameError::new(WHAT, "length must be 1 to 1024 bytes"));
        }
        if name.chars().any(char::is_control) {
            return Err(NameError::new(WHAT, "control characters are not allowed"));
        }
        if name.contains(['%', '*']) {
            return Err(NameError::new(WHAT, "the LIST wildcards % and * are not allowed"));
        }
        let mut depth = 0usize;
        for level in name.split(DELIMITER) {
            if level.is_empty() {
                return Err(NameError::new(WHAT, "empty hierarchy level"));
            }
            if level == "." || level == ".." {
                return Err(NameError::new(WHAT, "the levels . and .. are not allowed"));
            }
            depth += 1;
        }
        if depth > MAX_MAILBOX_DEPTH {
            return Err(NameError::new(WHAT, "too many hierarchy levels"));
        }
        let first = name.split(DELIMITER).next().unwrap_or(name);
        if first.eq_ignore_ascii_case("INBOX") && first != "INBOX" {
            let mut fixed = String::with_capacity(name.len());
            fixed.push_str("INBOX");
            fixed.push_str(&name[first.len()..]);
            return Ok(MailboxName(fixed.into()));
        }
        Ok(MailboxName(name.into()))
    }

    /// `INBOX`.
    pub fn inbox() -> MailboxName {
        MailboxName("INBOX".into())
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is INBOX itself (not an inferior of it).
    pub fn is_inbox(&self) -> bool {
        &*self.0 == "INBOX"
    }

    /// The hierarchy levels.
    pub fn levels(&self) -> impl Iterator<Item = &str> {
        self.0.split(DELIMITER)
    }

    /// The superior name (`a/b` for `a/b/c`), if any.
    pub fn parent(&self) -> Option<MailboxName> {
        self.0.rfind(DELIMITER).map(|i| MailboxName(self.0[..i].into()))
    }

    /// Every superior name, the top level first.
    pub fn ancestors(&self) -> Vec<MailboxName> {
        self.0
            .match_indices(DELIMITER)
            .map(|(i, _)| MailboxName(self.0[..i].into()))
            .collect()
    }

    /// Whether this name is a (direct or deeper) inferior of `other`.
    pub fn is_inferior_of(&self, other: &MailboxName) -> bool {
        self.0.len() > other.0.len()
            && self.0.starts_with(&*other.0)
            && self.0[other.0.len()..].starts_with(DELIMITER)
    }

    /// This name with its superior `from` replaced by `to` (`from/x` becomes
    /// `to/x`); `to` itself if this is `from`; `None` if this is neither
    /// `from` nor an inferior of it, or if the result would break a limit.
    pub fn rebase(&self, from: &MailboxName, to: &MailboxName) -> Option<MailboxName> {
        if self == from {
            return Some(to.clone());
        }
        if !self.is_inferior_of(from) {
            return None;
        }
        let mut name = String::with_capacity(to.0.len() + self.0.len() - from.0.len());
        name.push_str(&to.0);
        name.push_str(&self.0[from.0.len()..]);
        MailboxName::new(&name).ok()
    }
}

impl fmt::Debug for MailboxName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MailboxName({:?})", &*self.0)
    }
}

impl fmt::Display for MailboxName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A mailbox incarnation: its current name and the UIDVALIDITY that tells
/// it from an earlier or later mailbox of the same name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MailboxRef {
    /// The current name.
    pub name: MailboxName,
    /// Its UIDVALIDITY.
    pub uid_validity: UidValidity,
}

/// A SPECIAL-USE mailbox attribute (RFC 6154 section 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SpecialUse {
    /// `\All`: every message, a virtual mailbox.
    All,
    /// `\Archive`: archived messages.
    Archive,
    /// `\Drafts`: messages being composed.
    Drafts,
    /// `\Flagged`: flagged messages, a virtual mailbox.
    Flagged,
    /// `\Junk`: messages judged to be spam.
    Junk,
    /// `\Sent`: copies of sent messages.
    Sent,
    /// `\Trash`: messages the user deleted.
    Trash,
}

impl SpecialUse {
    /// Every attribute.
    pub const ALL: [SpecialUse; 7] = [
        SpecialUse::All,
        SpecialUse::Archive,
        SpecialUse::Drafts,
        SpecialUse::Flagged,
        SpecialUse::Junk,
        SpecialUse::Sent,
        SpecialUse::Trash,
    ];

    /// The attribute as IMAP writes it (`\Sent`).
    pub const fn as_str(self) -> &'static str {
        match self {
            SpecialUse::All => "\\All",
            SpecialUse::Archive => "\\Archive",
            SpecialUse::Drafts => "\\Drafts",
            SpecialUse::Flagged => "\\Flagged",
            SpecialUse::Junk => "\\Junk",
            SpecialUse::Sent => "\\Sent",
            SpecialUse::Trash => "\\Trash",
        }
    }

    /// The attribute named by `text` (`\sent` in any case), if any.
    pub fn from_name(text: &str) -> Option<SpecialUse> {
        SpecialUse::ALL
            .into_iter()
            .find(|u| u.as_str().eq_ignore_ascii_case(text))
    }
}

/// The mailboxes a new account gets, with their SPECIAL-USE attributes.
pub const DEFAULT_MAILBOXES: [(&str, Option<SpecialUse>); 5] = [
    ("INBOX", None),
    ("Drafts", Some(SpecialUse::Drafts)),
    ("Sent", Some(SpecialUse::Sent)),
    ("Junk", Some(SpecialUse::Junk)),
    ("Trash", Some(SpecialUse::Trash)),
];

/// A failure of the store or of a backend.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// No account has that name.
    #[error("no such account: {0}")]
    NoSuchAccount(AccountName),
    /// The account exists already.
    #[error("account exists: {0}")]
    AccountExists(AccountName),
    /// No mailbox has that name (IMAP `NO [NONEXISTENT]`).
    #[error("no such mailbox: {0}")]
    NoSuchMailbox(MailboxName),
    /// A mailbox with that name exists already (IMAP `NO [ALREADYEXISTS]`).
    #[error("mailbox exists: {0}")]
    MailboxExists(MailboxName),
    /// The mailbox was deleted, or deleted and created again with a new
    /// UIDVALIDITY, since the caller looked it up.
    #[error("mailbox {0} was deleted")]
    MailboxGone(MailboxName),
    /// A name was refused.
    #[error(transparent)]
    InvalidName(#[from] NameError),
    /// The operation is not allowed on that mailbox or in this state (IMAP
    /// `NO [CANNOT]`), e.g. deleting INBOX or renaming a mailbox into its
    /// own inferior.
    #[error("not allowed: {0}")]
    NotAllowed(&'static str),
    /// The mailbox was selected read-only (EXAMINE).
    #[error("mailbox is read-only")]
    ReadOnly,
    /// The message was expunged and its content is no longer kept (IMAP
    /// `NO [EXPUNGEISSUED]`), or it never existed.
    #[error("message {0} is not available")]
    NoSuchMessage(Uid),
    /// A limit was reached (too many keywords, a message too large, the UID
    /// or MODSEQ space exhausted): IMAP `NO [LIMIT]`.
    #[error("limit reached: {0}")]
    Limit(&'static str),
    /// A transient failure of the storage: try again later.
    #[error("temporary failure: {0}")]
    Temporary(String),
    /// A permanent failure of the storage (corrupt data, permissions).
    #[error("permanent failure: {0}")]
    Permanent(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inbox_is_case_insensitive_and_so_is_its_first_level() {
        assert!(MailboxName::new("inBox").unwrap().is_inbox());
        assert_eq!(MailboxName::new("inbox/Work").unwrap().as_str(), "INBOX/Work");
        assert_eq!(MailboxName::new("Inboxes").unwrap().as_str(), "Inboxes");
        assert_eq!(MailboxName::new("Work/inbox").unwrap().as_str(), "Work/inbox");
    }

    #[test]
    fn names_refuse_empty_levels_and_controls() {
        for bad in [
            "", "/a", "a/", "a//b", "a\u{7}b", "a\nb", ".", "..", "../bob", "a/../b", "INBOX/.", "%", "a*",
            "x/%y",
        ] {
            assert!(MailboxName::new(bad).is_err(), "{bad:?}");
        }
        assert!(MailboxName::new(&"a/".repeat(33)[..65]).is_err());
        assert!(MailboxName::new(&"x".repeat(1025)).is_err());
        assert_eq!(MailboxName::new("Entwürfe/日本").unwrap().levels().count(), 2);
    }

    #[test]
    fn hierarchy_helpers() {
        let n = MailboxName::new("a/b/c").unwrap();
        let a = MailboxName::new("a").unwrap();
        assert_eq!(n.parent().unwrap().as_str(), "a/b");
        let anc: Vec<_> = n.ancestors().iter().map(|m| m.to_string()).collect();
        assert_eq!(anc, ["a", "a/b"]);
        assert!(n.is_inferior_of(&a));
        assert!(!MailboxName::new("ab").unwrap().is_inferior_of(&a));
        let z = MailboxName::new("z").unwrap();
        assert_eq!(n.rebase(&a, &z).unwrap().as_str(), "z/b/c");
        assert_eq!(a.rebase(&a, &z).unwrap(), z);
        assert!(MailboxName::new("ab").unwrap().rebase(&a, &z).is_none());
    }

    #[test]
    fn modseq_is_63_bits_and_non_zero() {
        assert!(ModSeq::new(0).is_none());
        assert!(ModSeq::new(1 << 63).is_none());
        assert_eq!(ModSeq::MAX.next(), None);
        assert_eq!(ModSeq::MIN.next().map(ModSeq::get), Some(2));
        assert_eq!(Uid::new(u32::MAX).unwrap().next(), None);
    }

    #[test]
    fn special_use_names() {
        assert_eq!(SpecialUse::from_name("\\sent"), Some(SpecialUse::Sent));
        assert_eq!(SpecialUse::from_name("Sent"), None);
    }
}

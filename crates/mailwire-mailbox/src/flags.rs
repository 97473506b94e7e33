//! Message flags (RFC 9051 section 2.3.2): the five system flags and
//! keywords. `\Recent` is not stored: it is a property of a session's view
//! (see [`crate::SelectedMailbox`]).

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use crate::types::NameError;

/// The five system flags as a set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct SystemFlags(u8);

impl SystemFlags {
    /// `\Seen`: the message has been read.
    pub const SEEN: SystemFlags = SystemFlags(1);
    /// `\Answered`: the message has been answered.
    pub const ANSWERED: SystemFlags = SystemFlags(2);
    /// `\Flagged`: marked for urgent or special attention.
    pub const FLAGGED: SystemFlags = SystemFlags(4);
    /// `\Deleted`: marked for removal by a later EXPUNGE.
    pub const DELETED: SystemFlags = SystemFlags(8);
    /// `\Draft`: not yet complete.
    pub const DRAFT: SystemFlags = SystemFlags(16);
    /// Every system flag, with its IMAP spelling.
    pub const NAMED: [(SystemFlags, &'static str); 5] = [
        (SystemFlags::ANSWERED, "\\Answered"),
        (SystemFlags::FLAGGED, "\\Flagged"),
        (SystemFlags::DELETED, "\\Deleted"),
        (SystemFlags::SEEN, "\\Seen"),
        (SystemFlags::DRAFT, "\\Draft"),
    ];
    const MASK: u8 = 31;

    /// No flag.
    pub const fn empty() -> SystemFlags {
        SystemFlags(0)
    }

    /// The set from its bits (bits outside the five flags are dropped).
    pub const fn from_bits(bits: u8) -> SystemFlags {
        SystemFlags(bits & Self::MASK)
    }

    /// The bits.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Whether every flag of `other` is set.
    pub const fn contains(self, other: SystemFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether no flag is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Both sets.
    pub const fn union(self, other: SystemFlags) -> SystemFlags {
        SystemFlags(self.0 | other.0)
    }

    /// This set without the flags of `other`.
    pub const fn difference(self, other: SystemFlags) -> SystemFlags {
        SystemFlags(self.0 & !other.0)
    }

    /// The flag named `text` (`\seen` in any case), if it is a system flag.
    pub fn from_name(text: &str) -> Option<SystemFlags> {
        Self::NAMED
            .into_iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(text))
            .map(|(f, _)| f)
    }

    /// The names of the flags set, in RFC order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Self::NAMED
            .into_iter()
            .filter(move |(f, _)| self.contains(*f))
            .map(|(_, n)| n)
    }
}

impl std::ops::BitOr for SystemFlags {
    type Output = SystemFlags;
    fn bitor(self, rhs: SystemFlags) -> SystemFlags {
        self.union(rhs)
    }
}

/// The longest keyword accepted, in bytes.
pub const MAX_KEYWORD_LEN: usize = 255;

/// A keyword (`flag-keyword = atom`): ASCII atom characters, never starting
/// with `\`. Keywords are compared ASCII-case-insensitively (`$Junk` and
/// `$junk` are one keyword) and keep the spelling first given.
#[derive(Clone)]
pub struct Keyword(Arc<str>);

impl Keyword {
    /// Validates a keyword: 1 to [`MAX_KEYWORD_LEN`] bytes of `ATOM-CHAR`
    /// (visible ASCII except `( ) { % * " \ ]`).
    pub fn new(text: &str) -> Result<Keyword, NameError> {
        const WHAT: &str = "keyword";
        if text.is_empty() || text.len() > MAX_KEYWORD_LEN {
            return Err(NameError::new(WHAT, "length must be 1 to 255 bytes"));
        }
        let atom = |b: u8| (0x21..0x7F).contains(&b) && !b"(){%*\"\\]".contains(&b);
        if !text.bytes().all(atom) {
            return Err(NameError::new(WHAT, "only atom characters are allowed"));
        }
        Ok(Keyword(text.into()))
    }

    /// The keyword as first spelt.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl PartialEq for Keyword {
    fn eq(&self, other: &Keyword) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }
}

impl Eq for Keyword {}

impl Ord for Keyword {
    fn cmp(&self, other: &Keyword) -> Ordering {
        let a = self.0.bytes().map(|b| b.to_ascii_lowercase());
        let b = other.0.bytes().map(|b| b.to_ascii_lowercase());
        a.cmp(b)
    }
}

impl PartialOrd for Keyword {
    fn partial_cmp(&self, other: &Keyword) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Hash for Keyword {
    fn hash<H: Hasher>(&self, state: &mut H) {
        for b in self.0.bytes() {
            state.write_u8(b.to_ascii_lowercase());
        }
    }
}

impl fmt::Debug for Keyword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Keyword({:?})", &*self.0)
    }
}

impl fmt::Display for Keyword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The flags of a message: system flags and keywords.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Flags {
    /// The system flags.
    pub system: SystemFlags,
    /// The keywords, in case-insensitive order.
    pub keywords: BTreeSet<Keyword>,
}

impl Flags {
    /// No flags.
    pub fn new() -> Flags {
        Flags::default()
    }

    /// Only these system flags.
    pub fn system(system: SystemFlags) -> Flags {
        Flags {
            system,
            keywords: BTreeSet::new(),
        }
    }

    /// Flags from IMAP-style names: `\Seen` (any case) for a system flag,
    /// anything else a keyword. `\Recent` and other `\` names are refused.
    pub fn parse<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Flags, NameError> {
        let mut flags = Flags::new();
        for name in names {
            if let Some(f) = SystemFlags::from_name(name) {
                flags.system = flags.system | f;
            } else {
                flags.keywords.insert(Keyword::new(name)?);
            }
        }
        Ok(flags)
    }

    /// Whether `\Seen` is set.
    pub fn is_seen(&self) -> bool {
        self.system.contains(SystemFlags::SEEN)
    }

    /// Whether `\Deleted` is set.
    pub fn is_deleted(&self) -> bool {
        self.system.contains(SystemFlags::DELETED)
    }

    /// Whether no flag or keyword is set.
    pub fn is_empty(&self) -> bool {
        self.system.is_empty() && self.keywords.is_empty()
    }

    /// The flags after `action` with `operand`.
    pub fn apply(&self, action: FlagAction, operand: &Flags) -> Flags {
        match action {
            FlagAction::Replace => operand.clone(),
            FlagAction::Add => {
                let mut out = self.clone();
                out.system = out.system | operand.system;
                for k in &operand.keywords {
                    if !out.keywords.contains(k) {
                        out.keywords.insert(k.clone());
                    }
                }
                out
            }
            FlagAction::Remove => Flags {
                system: self.system.difference(operand.system),
                keywords: self.keywords.difference(&operand.keywords).cloned().collect(),
            },
        }
    }

    /// The flags as IMAP names: system flags first, then keywords.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        let system = self.system.names().map(|n| -> &str { n });
        system.chain(self.keywords.iter().map(Keyword::as_str))
    }

    /// Exactly the same flags, keyword spelling included (`==` ignores the
    /// case of keywords).
    pub fn same_spelling(&self, other: &Flags) -> bool {
        self == other && self.keywords.iter().zip(&other.keywords).all(|(a, b)| a.0 == b.0)
    }
}

/// How STORE changes flags (RFC 9051 section 6.4.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlagAction {
    /// `+FLAGS`: add these flags.
    Add,
    /// `-FLAGS`: remove these flags.
    Remove,
    /// `FLAGS`: replace all flags with these.
    Replace,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(names: &[&str]) -> Flags {
        Flags::parse(names.iter().copied()).unwrap()
    }

    #[test]
    fn system_flag_names_are_case_insensitive() {
        let flags = f(&["\\SEEN", "\\deleted", "$Junk"]);
        assert!(flags.is_seen() && flags.is_deleted());
        assert_eq!(
            flags.names().collect::<Vec<_>>(),
            ["\\Deleted", "\\Seen", "$Junk"]
        );
        assert!(Flags::parse(["\\Recent"]).is_err());
        assert!(Flags::parse(["a b"]).is_err());
        assert!(Flags::parse(["a]"]).is_err());
    }

    #[test]
    fn keywords_ignore_case_and_keep_first_spelling() {
        let mut flags = f(&["$Forwarded"]);
        flags = flags.apply(FlagAction::Add, &f(&["$FORWARDED", "Work"]));
        assert_eq!(flags.names().collect::<Vec<_>>(), ["$Forwarded", "Work"]);
        flags = flags.apply(FlagAction::Remove, &f(&["work", "\\Seen"]));
        assert_eq!(flags.names().collect::<Vec<_>>(), ["$Forwarded"]);
        assert!(!flags.same_spelling(&f(&["$forwarded"])));
        assert_eq!(flags, f(&["$forwarded"]));
    }

    #[test]
    fn actions() {
        let base = f(&["\\Seen", "a"]);
        assert_eq!(base.apply(FlagAction::Replace, &f(&["\\Draft"])), f(&["\\Draft"]));
        assert_eq!(
            base.apply(FlagAction::Add, &f(&["\\Draft"])),
            f(&["\\Seen", "a", "\\Draft"])
        );
        assert_eq!(base.apply(FlagAction::Remove, &f(&["\\Seen", "b"])), f(&["a"]));
    }
}

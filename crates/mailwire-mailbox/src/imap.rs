//! The boundary with mailwire-imap (feature `imap`): conversions between
//! the store's own identities and the values IMAP sends, where both exist.
//!
//! - [`ModSeq`]: `From` both ways (both are positive 63-bit numbers).
//! - [`InternalDate`]: `From<mailwire_imap::DateTime>`; the other way is
//!   `TryFrom`, as IMAP's years stop at 9999.
//! - [`Flags`]: `TryFrom<&[mailwire_imap::Flag]>` (a flag the store cannot
//!   hold is refused) and [`Flags::to_imap`].
//! - [`MailboxName`]: [`MailboxName::to_imap`] and
//!   [`MailboxName::from_imap`], in modified UTF-7 or, after `ENABLE
//!   UTF8=ACCEPT`, in UTF-8; both use `/` as the hierarchy delimiter.
//! - [`MailboxStatus`]: [`MailboxStatus::to_imap`] answers the STATUS
//!   items asked for.
//! - [`AppendMessage`]: `TryFrom<mailwire_imap::AppendMessage>` for a
//!   message sent as a literal (CATENATE is assembled by the server first).
//! - [`UidRanges`] and `mailwire_imap::UidSet`: `From<&UidSet>` (merged,
//!   for lookups) and `TryFrom<&UidRanges>` (the empty set is refused).
//!
//! [`Uid`](crate::Uid) and [`UidValidity`](crate::UidValidity) are plain
//! non-zero numbers on the wire (`NonZeroU32`), converted with `From` both
//! ways.

use std::num::NonZeroU32;

use bytes::Bytes;
use mailwire_imap::{DateTime, Flag, Mailbox, MailboxAttribute, ModSeqValzer, StatusAttribute, StatusValue};

use crate::flags::Flags;
use crate::ranges::UidRanges;
use crate::store::{AppendMessage, MailboxStatus};
use crate::types::{InternalDate, MailboxName, ModSeq, NameError, SpecialUse};

impl From<mailwire_imap::ModSeq> for ModSeq {
    fn from(m: mailwire_imap::ModSeq) -> ModSeq {
        ModSeq::new(m.get()).unwrap_or(ModSeq::MAX)
    }
}

impl From<ModSeq> for mailwire_imap::ModSeq {
    fn from(m: ModSeq) -> mailwire_imap::ModSeq {
        // Both stop at 2^63 - 1.
        mailwire_imap::ModSeq::new(m.get()).unwrap_or(mailwire_imap::ModSeq::MAX)
    }
}

impl TryFrom<&UidRanges> for mailwire_imap::UidSet {
    type Error = mailwire_core::TypeError;

    /// The set as IMAP writes it (`1:4,9`); an error for the empty set,
    /// which IMAP cannot write.
    fn try_from(set: &UidRanges) -> Result<Self, Self::Error> {
        use mailwire_imap::{SeqNumber, SeqRange, SequenceSet};
        let ranges = set
            .ranges()
            .map(|r| {
                SeqRange::new(
                    SeqNumber::from(NonZeroU32::from(*r.start())),
                    SeqNumber::from(NonZeroU32::from(*r.end())),
                )
            })
            .collect();
        mailwire_imap::UidSet::try_from(SequenceSet::new(ranges)?)
    }
}

impl From<&mailwire_imap::UidSet> for UidRanges {
    /// The UIDs of a set as IMAP sent it, in any order, overlapping or
    /// repeated (`5,5,9:3,1`), merged: what a client looks many UIDs up
    /// in by binary search, such as each message it knows in a VANISHED
    /// set. It costs the set's ranges, never its UIDs: `1:4294967295` is
    /// one range.
    fn from(set: &mailwire_imap::UidSet) -> UidRanges {
        UidRanges::from_pairs(
            set.as_sequence_set()
                .resolved_ranges(u32::MAX)
                .map(|r| (*r.start(), *r.end()))
                .collect(),
        )
    }
}

impl From<DateTime> for InternalDate {
    fn from(d: DateTime) -> InternalDate {
        InternalDate {
            unix_seconds: d.unix_timestamp(),
            zone_minutes: d.zone_minutes(),
        }
    }
}

impl TryFrom<InternalDate> for DateTime {
    type Error = mailwire_imap::TypeError;

    fn try_from(d: InternalDate) -> Result<DateTime, mailwire_imap::TypeError> {
        DateTime::from_unix_timestamp(d.unix_seconds, d.zone_minutes)
    }
}

impl TryFrom<&[Flag<'_>]> for Flags {
    type Error = NameError;

    fn try_from(flags: &[Flag<'_>]) -> Result<Flags, NameError> {
        let names: Vec<String> = flags.iter().map(ToString::to_string).collect();
        Flags::parse(names.iter().map(String::as_str))
    }
}

impl SpecialUse {
    /// The LIST attribute (RFC 6154).
    pub fn to_imap(self) -> MailboxAttribute<'static> {
        match self {
            SpecialUse::All => MailboxAttribute::All,
            SpecialUse::Archive => MailboxAttribute::Archive,
            SpecialUse::Drafts => MailboxAttribute::Drafts,
            SpecialUse::Flagged => MailboxAttribute::Flagged,
            SpecialUse::Junk => MailboxAttribute::Junk,
            SpecialUse::Sent => MailboxAttribute::Sent,
            SpecialUse::Trash => MailboxAttribute::Trash,
        }
    }

    /// The special use a LIST attribute names, if it names one.
    pub fn from_imap(attribute: &MailboxAttribute<'_>) -> Option<SpecialUse> {
        SpecialUse::ALL.into_iter().find(|u| u.to_imap() == *attribute)
    }
}

impl Flags {
    /// The flags as IMAP sends them, system flags first.
    pub fn to_imap(&self) -> Vec<Flag<'_>> {
        // The store's names are valid flags (its keywords are atoms).
        self.names().filter_map(|n| Flag::new(n).ok()).collect()
    }
}

impl MailboxName {
    /// The name on the wire: modified UTF-7 (IMAP4rev1), or UTF-8 when the
    /// session enabled UTF8=ACCEPT.
    pub fn to_imap(&self, utf8: bool) -> Mailbox<'_> {
        if utf8 {
            // A name without NUL is an astring (ours have none).
            Mailbox::from_utf8_name_raw(self.as_str())
                .unwrap_or_else(|_| Mailbox::from_utf8_name(self.as_str()))
        } else {
            Mailbox::from_utf8_name(self.as_str())
        }
    }

    /// The name a client sent: modified UTF-7 decoded unless the session
    /// enabled UTF8=ACCEPT; refused when it does not decode or is no valid
    /// mailbox name here.
    pub fn from_imap(name: &Mailbox<'_>, utf8: bool) -> Result<MailboxName, NameError> {
        let refused = |_| NameError::new("mailbox name", "not valid modified UTF-7 or UTF-8");
        if name.is_inbox() {
            return Ok(MailboxName::inbox());
        }
        if utf8 {
            MailboxName::new(name.to_utf8_name_raw().map_err(refused)?)
        } else {
            MailboxName::new(&name.to_utf8_name().map_err(refused)?)
        }
    }
}

impl MailboxStatus {
    /// The STATUS values asked for, in the order asked; attributes the
    /// model has no value for (APPENDLIMIT, MAILBOXID, extensions) are
    /// left out.
    pub fn to_imap(&self, attributes: &[StatusAttribute<'_>]) -> Vec<StatusValue<'static>> {
        attributes
            .iter()
            .filter_map(|a| {
                Some(match a {
                    StatusAttribute::Messages => StatusValue::Messages(self.messages),
                    StatusAttribute::UidNext => StatusValue::UidNext(self.uid_next.into()),
                    StatusAttribute::UidValidity => StatusValue::UidValidity(self.uid_validity.into()),
                    StatusAttribute::Unseen => StatusValue::Unseen(self.unseen),
                    StatusAttribute::Deleted => StatusValue::Deleted(self.deleted),
                    StatusAttribute::Size => StatusValue::Size(self.size),
                    StatusAttribute::Recent => StatusValue::Recent(self.recent),
                    StatusAttribute::HighestModSeq => {
                        StatusValue::HighestModSeq(ModSeqValzer::new(self.highest_modseq.get()).ok()?)
                    }
                    _ => return None,
                })
            })
            .collect()
    }
}

/// Why an APPEND message cannot be stored as it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppendConversionError {
    /// A CATENATE list (or other data that is not a literal): the server
    /// assembles the message first.
    #[error("CATENATE data must be assembled first")]
    Catenate,
    /// A flag the store cannot hold.
    #[error(transparent)]
    Flags(#[from] NameError),
}

impl TryFrom<mailwire_imap::AppendMessage<'_>> for AppendMessage {
    type Error = AppendConversionError;

    fn try_from(m: mailwire_imap::AppendMessage<'_>) -> Result<AppendMessage, AppendConversionError> {
        let content = match m.data.literal() {
            Some(l) => Bytes::copy_from_slice(l.data()),
            None => return Err(AppendConversionError::Catenate),
        };
        let flags = match &m.flags {
            Some(f) => Flags::try_from(f.as_slice())?,
            None => Flags::new(),
        };
        Ok(AppendMessage {
            content,
            flags,
            internal_date: m.date.map(InternalDate::from),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;

    use super::*;

    #[test]
    fn conversions() {
        let date = InternalDate {
            unix_seconds: 1_700_000_000,
            zone_minutes: -420,
        };
        let wire = DateTime::try_from(date).unwrap();
        assert_eq!(InternalDate::from(wire), date);
        assert!(DateTime::try_from(InternalDate::from_unix(i64::MAX)).is_err());

        let m = ModSeq::new(7).unwrap();
        assert_eq!(ModSeq::from(mailwire_imap::ModSeq::from(m)), m);
        assert_eq!(
            mailwire_imap::ModSeq::from(ModSeq::MAX),
            mailwire_imap::ModSeq::MAX
        );

        let flags = Flags::parse(["\\Seen", "$Work"]).unwrap();
        let wire = flags.to_imap();
        assert_eq!(Flags::try_from(wire.as_slice()).unwrap(), flags);

        let name = MailboxName::new("Entwürfe/2024").unwrap();
        let wire = name.to_imap(false);
        assert_eq!(wire.as_bytes(), b"Entw&APw-rfe/2024");
        assert_eq!(MailboxName::from_imap(&wire, false).unwrap(), name);
        let raw = name.to_imap(true);
        assert_eq!(raw.as_bytes(), "Entwürfe/2024".as_bytes());
        assert_eq!(MailboxName::from_imap(&raw, true).unwrap(), name);
        let inbox = Mailbox::from_utf8_name("inbox");
        assert!(MailboxName::from_imap(&inbox, false).unwrap().is_inbox());
    }

    #[test]
    fn uid_sets_and_ranges() {
        use crate::types::Uid;
        let ranges = |s: &str| UidRanges::from(&s.parse::<mailwire_imap::UidSet>().unwrap());
        // Any order, repeats, reversed and touching ranges: merged.
        let merged = ranges("5,5,9:3,1,10,12:4294967295,11");
        let shown: Vec<(u32, u32)> = merged
            .ranges()
            .map(|r| (r.start().get(), r.end().get()))
            .collect();
        assert_eq!(shown, [(1, 1), (3, u32::MAX)]);
        assert_eq!(merged.len(), u64::from(u32::MAX) - 1);
        for (uid, inside) in [(1, true), (2, false), (3, true), (u32::MAX, true)] {
            assert_eq!(merged.contains(Uid::new(uid).unwrap()), inside, "{uid}");
        }
        let back = mailwire_imap::UidSet::try_from(&merged).unwrap();
        assert_eq!(back.to_string(), "1,3:4294967295");
        assert_eq!(ranges("2,4:6,9").len(), 5);
        assert!(mailwire_imap::UidSet::try_from(&UidRanges::new()).is_err());
    }

    #[test]
    fn status_and_append() {
        use crate::types::{Uid, UidValidity};

        let status = MailboxStatus {
            messages: 3,
            recent: 1,
            uid_next: Uid::new(9).unwrap(),
            uid_validity: UidValidity::new(5).unwrap(),
            unseen: 2,
            deleted: 0,
            size: 100,
            highest_modseq: ModSeq::new(4).unwrap(),
        };
        let asked = [
            StatusAttribute::UidNext,
            StatusAttribute::AppendLimit,
            StatusAttribute::Messages,
            StatusAttribute::HighestModSeq,
        ];
        let values = status.to_imap(&asked);
        assert_eq!(
            values,
            [
                StatusValue::UidNext(NonZeroU32::new(9).unwrap()),
                StatusValue::Messages(3),
                StatusValue::HighestModSeq(ModSeqValzer::new(4).unwrap()),
            ]
        );

        let date = DateTime::from_unix_timestamp(1_700_000_000, 60).unwrap();
        let append = mailwire_imap::AppendMessage {
            flags: Some(vec![
                Flag::Seen,
                Flag::Keyword(mailwire_imap::Atom::new("$Work").unwrap()),
            ]),
            date: Some(date),
            data: mailwire_imap::AppendData::Literal(
                mailwire_imap::Literal::new(&b"Subject: x\r\n\r\n"[..]).unwrap(),
            ),
        };
        let stored = AppendMessage::try_from(append).unwrap();
        assert_eq!(&stored.content[..], b"Subject: x\r\n\r\n");
        assert_eq!(stored.flags, Flags::parse(["\\Seen", "$Work"]).unwrap());
        assert_eq!(stored.internal_date, Some(InternalDate::from(date)));
        let catenate = mailwire_imap::AppendMessage {
            flags: None,
            date: None,
            data: mailwire_imap::AppendData::Catenate(Vec::new()),
        };
        assert_eq!(
            AppendMessage::try_from(catenate),
            Err(AppendConversionError::Catenate)
        );
    }
}

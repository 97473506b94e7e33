//! What a completed command brings back: its tagged status and the
//! untagged data that belongs to it.

use std::num::NonZeroU32;

use super::CommandId;
use crate::condstore::ModSeq;
use crate::fetch::data::MessageDataItem;
use crate::flag::{Flag, FlagPerm};
use crate::list::MailboxList;
use crate::response::{Code, RespText, Response, Status};
use crate::search::ESearch;
use crate::sequence::UidSet;
use crate::sort::Thread;
use crate::status::MailboxStatus;
use crate::string::Tag;

/// A command's completion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    /// The command.
    pub id: CommandId,
    /// Its tag.
    pub tag: Tag<'static>,
    /// `OK`, `NO` or `BAD`.
    pub status: Status,
    /// The code and text of the tagged response.
    pub text: RespText<'static>,
    /// The untagged data that answered it.
    pub data: CommandData,
}

impl Completion {
    /// `APPENDUID` (UIDPLUS, RFC 4315): the destination's UIDVALIDITY and
    /// the new messages' UIDs.
    pub fn append_uid(&self) -> Option<(NonZeroU32, &UidSet)> {
        match &self.text.code {
            Some(Code::AppendUid { uid_validity, uids }) => Some((*uid_validity, uids)),
            _ => None,
        }
    }

    /// `COPYUID` (UIDPLUS, RFC 4315) of COPY, or of MOVE (which sends it
    /// in an untagged OK, RFC 6851): the destination's UIDVALIDITY, the
    /// source UIDs and their UIDs in the destination, pairwise.
    pub fn copy_uid(&self) -> Option<(NonZeroU32, &UidSet, &UidSet)> {
        let untagged = self.data.other.iter().filter_map(|r| match r {
            Response::Status { text, .. } => text.code.as_ref(),
            _ => None,
        });
        std::iter::once(self.text.code.as_ref())
            .flatten()
            .chain(untagged)
            .find_map(|code| match code {
                Code::CopyUid {
                    uid_validity,
                    source,
                    destination,
                } => Some((*uid_validity, source, destination)),
                _ => None,
            })
    }
}

/// The untagged data of one command, sorted by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CommandData {
    /// SELECT and EXAMINE: the mailbox as it opened.
    pub select: Option<SelectData>,
    /// FETCH and STORE: each message's items, in the order received.
    pub fetch: Vec<(NonZeroU32, Vec<MessageDataItem<'static>>)>,
    /// SEARCH (`* SEARCH`) and SORT (`* SORT`): the numbers, sorted as the
    /// server sent them, and the highest mod-sequence when sent.
    pub search: Option<(Vec<NonZeroU32>, Option<ModSeq>)>,
    /// `* ESEARCH` answers (ESEARCH, IMAP4rev2, ESORT, MULTISEARCH).
    pub esearch: Vec<ESearch<'static>>,
    /// THREAD: the threads.
    pub threads: Vec<Thread>,
    /// LIST and LSUB: the mailboxes.
    pub list: Vec<MailboxList<'static>>,
    /// STATUS, and LIST-STATUS: the values.
    pub status: Vec<MailboxStatus<'static>>,
    /// Everything else that came while the command ran and is not about
    /// the selected mailbox (CAPABILITY, ENABLED, NAMESPACE, ID, QUOTA,
    /// untagged OK/NO/BAD with their codes...).
    pub other: Vec<Response<'static>>,
}

/// A mailbox as SELECT or EXAMINE opened it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SelectData {
    /// `* FLAGS`: the flags defined in the mailbox.
    pub flags: Vec<Flag<'static>>,
    /// `* n EXISTS`.
    pub exists: u32,
    /// `* n RECENT` (IMAP4rev1 servers).
    pub recent: Option<u32>,
    /// `PERMANENTFLAGS`, when sent.
    pub permanent_flags: Option<Vec<FlagPerm<'static>>>,
    /// `UIDVALIDITY`.
    pub uid_validity: Option<NonZeroU32>,
    /// `UIDNEXT`.
    pub uid_next: Option<NonZeroU32>,
    /// `HIGHESTMODSEQ` (CONDSTORE).
    pub highest_modseq: Option<ModSeq>,
    /// `NOMODSEQ`: the mailbox keeps no mod-sequences.
    pub no_modseq: bool,
    /// `UNSEEN` (IMAP4rev1 servers): the first unseen message.
    pub first_unseen: Option<NonZeroU32>,
    /// `READ-ONLY` in the tagged OK (or EXAMINE).
    pub read_only: bool,
}

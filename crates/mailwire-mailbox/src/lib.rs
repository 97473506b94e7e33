//! The mailbox model shared by POP3 and IMAP (work in progress).
//!
//! This crate will hold accounts with hierarchical mailboxes (UIDVALIDITY,
//! UIDNEXT, UIDs, flags, MODSEQ and expunge tombstones), a change feed that
//! sessions apply when their protocol allows, MIME analysis (ENVELOPE,
//! BODYSTRUCTURE, sections), SEARCH evaluation, an in-memory and a Maildir
//! backend, and the two protocol views: the POP3 maildrop (feature `pop3`)
//! and the IMAP selected mailbox (feature `imap`). Its API is synchronous and
//! does storage I/O only, never network I/O.
#![forbid(unsafe_code)]

mod backend;
mod content;
mod flags;
mod maildir;
mod types;

pub use backend::{
    Appended, Backend, Copied, ExpungeRequest, Expunged, ExternalChange, FlagUpdate, FlagsStored,
    MailboxEntry, MailboxSnapshot, MessageMeta, Moved, NewMessage, StoreCondition, StoreFlags, Tombstone,
};
pub use content::canonical_crlf;
pub use flags::{FlagAction, Flags, Keyword, MAX_KEYWORD_LEN, SystemFlags};
pub use maildir::{MaildirBackend, MaildirOptions};
pub use types::{
    AccountName, DEFAULT_MAILBOXES, DELIMITER, InternalDate, MAX_ACCOUNT_NAME, MAX_MAILBOX_DEPTH,
    MAX_MAILBOX_NAME, MailboxName, MailboxRef, ModSeq, NameError, SpecialUse, StoreError, Uid, UidValidity,
};

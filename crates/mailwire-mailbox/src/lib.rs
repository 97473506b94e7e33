//! The mailbox model shared by POP3 and IMAP: one store serving both
//! protocols at once, consistently.
//!
//! # The model
//!
//! A [`Store`] holds accounts; an [`Account`] holds mailboxes in a
//! hierarchy (delimiter `/`, [`DELIMITER`]; `INBOX` in any case is INBOX;
//! names are UTF-8) and its subscriptions. A new account gets INBOX,
//! Drafts, Sent, Junk and Trash, the last four with their SPECIAL-USE
//! attributes (RFC 6154). Each mailbox has a [`UidValidity`] from a
//! per-account counter (a recreated mailbox always gets a new one) and a
//! UIDNEXT; each message a strictly increasing [`Uid`], [`Flags`] (system
//! flags and keywords), an INTERNALDATE, its exact size and a [`ModSeq`]
//! from a per-account counter that rises with every change (RFC 7162). An
//! expunge leaves a [`Tombstone`], so [`Account::changes_since`] can tell
//! an offline client what changed and what vanished since a MODSEQ.
//! Messages are stored with CRLF line ends ([`canonical_crlf`]): a bare LF
//! is converted on append, so sizes are exact for both protocols.
//!
//! Storage sits behind the [`Backend`] trait (accounts, mailboxes,
//! messages, atomic operations; never files or paths). [`MemoryBackend`]
//! is the embedded default.
//!
//! # Two protocols, one store
//!
//! IMAP keeps mail on the server: a [`SelectedMailbox`] maps sequence
//! numbers to UIDs, changes flags, copies and moves, and learns of other
//! sessions' changes only when the server asks between commands
//! ([`SelectedMailbox::changes`]), never in the middle of a FETCH, STORE
//! or SEARCH. Expunged messages keep their numbers and stay readable until
//! the session has reported them.
//!
//! POP3 downloads and deletes: the `Pop3Maildrop` (feature `pop3`)
//! implements `mailwire_pop3::Maildrop` over the INBOX. Its numbering is
//! frozen at login; it hears of nothing during the session, can still read
//! messages that IMAP expunged meanwhile, and deletes only at QUIT, in one
//! transaction. Its unique ids default to Dovecot's `%08Xu%08Xv`
//! ([`UidlTemplate`]), so they never change and match what Dovecot served.
//!
//! Message analysis (`analysis`, feature `imap`) computes what IMAP FETCH
//! returns from a stored message: ENVELOPE, BODY and BODYSTRUCTURE with
//! every extension field, BODY\[section\] extraction with partial ranges,
//! and BINARY content with its transfer encoding undone, matching what
//! Dovecot returns for the same message.
//!
//! SEARCH (`search`, feature `imap`) evaluates every IMAP4rev2 search key
//! (and the IMAP4rev1 ones) on a message or a whole mailbox: flags, dates,
//! sizes and sets without reading content, header and body keys on decoded
//! text.
//!
//! SORT and THREAD (`sort`, feature `imap`) order the messages a search
//! matched (RFC 5256's keys and RFC 5957's DISPLAYFROM and DISPLAYTO) or
//! group them into conversation trees (ORDEREDSUBJECT, REFERENCES, REFS),
//! reading only the top header of each message.
//!
//! # One vocabulary: the `imap` feature
//!
//! The model speaks mailwire-imap's types wherever it says what IMAP says,
//! as it speaks mailwire-pop3's through the `pop3` feature: with `imap`,
//! the analysis produces `mailwire_imap::{Envelope, BodyStructure}` and
//! reads sections as `mailwire_imap::{Section, SectionPart, Partial}`, and
//! SEARCH evaluates `mailwire_imap::SearchKey` (its `*`, `$` and CHARSET
//! resolved through a `search::SearchScope`) with `mailwire_imap::Date` as
//! its calendar. This crate has no copies of them.
//! The choice, over moving wire-independent types to a layer below both
//! crates: an ENVELOPE or a BODYSTRUCTURE *is* wire vocabulary (NIL against
//! empty, which extension fields are present, whether a string goes as a
//! quoted string or a literal, which is how Dovecot's answers are matched
//! byte for byte), so a neutral copy would have to restate all of it and
//! be converted on every FETCH; producing the codec's values directly costs
//! nothing at FETCH time (they borrow from the message) and the encoder
//! writes them as they are. A POP3-only user does not compile IMAP.
//!
//! The model keeps its own types where its invariants differ from the
//! wire's or the wire has no such value, and converts at the boundary
//! (with `imap`): [`Uid`] and [`UidValidity`] (`From` both ways with
//! `NonZeroU32`, as the wire carries them), [`ModSeq`] (`From` both ways
//! with `mailwire_imap::ModSeq`), [`InternalDate`] (seconds in any zone:
//! `From<mailwire_imap::DateTime>`, `TryFrom` the other way, years stop at
//! 9999), [`Flags`] and [`Keyword`] (the store's limits:
//! `TryFrom<&[mailwire_imap::Flag]>` and `Flags::to_imap`), mailbox names
//! ([`MailboxName`]: UTF-8, `/` delimiter; `MailboxName::to_imap` and
//! `MailboxName::from_imap` in modified UTF-7 or UTF-8), [`MailboxStatus`]
//! (every value at once; `MailboxStatus::to_imap` answers the STATUS items
//! asked for) and [`AppendMessage`] (owned bytes to store;
//! `TryFrom<mailwire_imap::AppendMessage>`), and the analysis' part tree
//! (`analysis::Part`: where each part is in the stored bytes).
//!
//! The API is synchronous and thread-safe (`Send + Sync`); it does storage
//! I/O only, never network I/O.
//!
//! ```
//! use mailwire_mailbox::{AccountName, AppendMessage, MailboxName, MemoryBackend, Notification, SelectMode, Store};
//!
//! let store = Store::new(MemoryBackend::new());
//! let alice = store.create_account(&AccountName::new("alice")?)?;
//! let inbox = MailboxName::inbox();
//! let mut session = alice.select(&inbox, SelectMode::ReadWrite)?;
//!
//! // Mail arrives (bare LF is stored as CRLF).
//! let appended = alice.append(&inbox, AppendMessage::new(&b"Subject: hi\n\nHello\n"[..]))?;
//! assert_eq!(appended.uids[0].get(), 1);
//!
//! // The IMAP session hears of it when it asks, between commands.
//! assert_eq!(session.changes(true)?, [Notification::Exists(1), Notification::Recent(1)]);
//! assert_eq!(&session.read(appended.uids[0])?[..], b"Subject: hi\r\n\r\nHello\r\n");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

#[cfg(feature = "imap")]
pub mod analysis;
mod backend;
mod content;
mod feed;
mod flags;
#[cfg(feature = "imap")]
mod imap;
mod maildir;
mod memory;
#[cfg(feature = "pop3")]
mod pop3;
mod ranges;
#[cfg(feature = "imap")]
pub mod search;
mod selected;
#[cfg(feature = "imap")]
pub mod sort;
mod store;
#[cfg(feature = "imap")]
pub mod text;
mod types;
mod uidl;
mod upload;

pub use backend::{
    Appended, Backend, Copied, ExpungeRequest, Expunged, ExternalChange, FlagUpdate, FlagsStored,
    MailboxEntry, MailboxSnapshot, MessageMeta, Moved, NewMessage, StagedMessage, StoreCondition, StoreFlags,
    Tombstone,
};
pub use content::canonical_crlf;
pub use flags::{FlagAction, Flags, Keyword, MAX_KEYWORD_LEN, SystemFlags};
#[cfg(feature = "imap")]
pub use imap::AppendConversionError;
pub use maildir::{MaildirBackend, MaildirOptions};
pub use memory::MemoryBackend;
#[cfg(feature = "pop3")]
pub use pop3::{LockPolicy, Pop3Config, Pop3Maildrop};
pub use ranges::UidRanges;
pub use selected::{Notification, SelectMode, SelectedMailbox, ViewMessage};
pub use store::{Account, AppendMessage, AppendUid, ChangesSince, MailboxStatus, Store, StoreConfig};
pub use types::{
    AccountName, DEFAULT_MAILBOXES, DELIMITER, InternalDate, MAX_ACCOUNT_NAME, MAX_MAILBOX_DEPTH,
    MAX_MAILBOX_NAME, MailboxName, MailboxRef, ModSeq, NameError, SpecialUse, StoreError, Uid, UidValidity,
};
pub use uidl::{DOVECOT_DEFAULT, UidlFormat, UidlTemplate, UidlTemplateError};
pub use upload::Upload;

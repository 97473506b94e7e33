//! Sans-IO IMAP4rev2 / IMAP4rev1 codec (in progress).
//!
//! What exists: the decode outcomes shared by every decoder ([`Decoded`]:
//! complete, need more bytes, literal announced, or a [`DecodeError`] with
//! offset, expectation and tag), limits and leniency as runtime
//! configuration, message framing that finds where a message ends across
//! literals before any parser runs (so limits are checked before anything
//! is allocated), the core string types (tag, atom, quoted, literal,
//! literal8, astring, nstring) that remember the form they were sent in, and
//! an encoder that produces line and literal fragments so a client knows
//! where to wait for a continuation request. SEARCH with ESEARCH and
//! SEARCHRES ([`Search`], [`ESearch`]), LIST-EXTENDED, LSUB and NAMESPACE
//! ([`List`], [`MailboxList`], [`NamespaceResponse`]), STATUS
//! ([`MailboxStatus`]) and the mailbox commands (SELECT, EXAMINE, CREATE,
//! DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE) are decoded and encoded, with
//! the generic extension forms of RFC 4466 ([`TaggedExtVal`]) kept as sent.
//!
//! What comes next (see the project's IMAP issue): mailbox names with
//! modified UTF-7, sequence sets, dates, flags, section specs, every command
//! and response of RFC 3501 and RFC 9051 with the folded-in extensions,
//! streaming of large literals in responses, and the session state machines.
//! It follows the conventions of `mailwire-pop3`.
#![forbid(unsafe_code)]

mod command;
mod core;
mod datetime;
mod decode;
mod encode;
mod extension;
mod fetch;
mod flag;
mod frame;
mod list;
mod mailbox;
mod mailbox_cmd;
mod message_cmd;
mod namespace;
mod parse;
mod response;
mod search;
mod sequence;
mod small_list;
mod status;
mod stream;

pub use crate::core::{AString, AstringAtom, Atom, IString, Literal, NString, Quoted, Tag, TypeError};
pub use command::{
    AuthenticateData, Base64, Command, CommandBody, Secret, decode_authenticate_data, decode_command,
    decode_idle_done,
};
pub use datetime::{Date, DateTime, days_in_month, is_leap_year};
pub use decode::{
    DecodeError, Decoded, DecoderConfig, ErrorKind, Leniency, Limits, LiteralAnnouncement, LiteralMode,
};
pub use encode::{Encoder, Fragment, LiteralPolicy, to_bytes};
pub use extension::{ExtComponent, TaggedExt, TaggedExtVal};
pub use fetch::body::{
    BodyExtension, BodyFields, BodyParam, BodyParams, BodyStructure, Disposition, ExtensionTail, Language,
    LanguageTail, LocationTail, MultipartExtension, SinglePartExtension, SpecificFields,
};
pub use fetch::data::{DataItemName, ExtensionValue, MessageDataItem};
pub use fetch::envelope::{Address, AddressList, Envelope};
pub use fetch::modifier::FetchModifier;
pub use fetch::section::{HeaderList, Partial, Section, SectionPart, SectionText};
pub use fetch::{Fetch, FetchItem, FetchItems, FetchMacro};
pub use flag::{AttributeExtension, Flag, FlagExtension, FlagFetch, FlagPerm, MailboxAttribute};
pub use list::{
    List, ListExtendedItem, ListPatterns, ListReturnOption, ListSelectOption, MailboxList, OptionExtension,
};
pub use mailbox::{
    ListCharString, ListMailbox, Mailbox, MailboxOther, decode_modified_utf7, encode_modified_utf7,
    list_pattern_matches,
};
pub use mailbox_cmd::{CreateParameter, RenameParameter, SelectParameter};
pub use message_cmd::{Append, AppendMessage, CopyMove, Store, StoreAction, StoreModifier};
pub use namespace::{NamespaceDescription, NamespaceExtension, NamespaceResponse};
pub use response::{Code, RespText, Response, Status, decode_greeting, decode_response};
pub use search::{ESearch, Search, SearchKey, SearchReturnData, SearchReturnOption};
pub use sequence::{SeqNumber, SeqRange, SequenceIter, SequenceSet, UidSet};
pub use small_list::SmallList;
pub use status::{MailboxStatus, StatusAttribute, StatusValue};
pub use stream::{ReadEvent, ResponseReader};

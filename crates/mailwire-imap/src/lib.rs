//! Sans-IO IMAP4rev2 / IMAP4rev1: a codec for every command and response of
//! RFC 3501 and RFC 9051, with the extensions RFC 9051 folds in (IDLE,
//! ENABLE, NAMESPACE, UNSELECT, UIDPLUS, ESEARCH, SEARCHRES, SASL-IR,
//! LITERAL-, LIST-EXTENDED, LIST-STATUS, MOVE, BINARY, SPECIAL-USE,
//! STATUS=SIZE, CHILDREN), the generic forms of RFC 4466, and these
//! extensions: CONDSTORE and QRESYNC (RFC 7162); SORT, THREAD,
//! SORT=DISPLAY, ESORT, CONTEXT=SEARCH, CONTEXT=SORT and PARTIAL (RFCs
//! 5256, 5957, 5267, 9394); ID (RFC 2971), QUOTA (RFC 9208), ACL (RFC
//! 4314), METADATA (RFC 5464), COMPRESS (RFC 4978), UNAUTHENTICATE (RFC
//! 8437), OBJECTID (RFC 8474), APPENDLIMIT (RFC 7889), SAVEDATE (RFC
//! 8514), PREVIEW (RFC 8970) and REPLACE (RFC 8508); WITHIN (RFC 5032),
//! UTF8=ACCEPT's APPEND form (RFC 6855), CATENATE (RFC 4469) with the
//! IMAP URLs it carries (RFC 5092), NOTIFY (RFC 5465), MULTISEARCH (RFC
//! 7377) and URLAUTH (RFC 4467); typed capabilities; all decoded and
//! encoded on both sides; and the sessions on top of it, [`server`] and
//! [`client`]. Nothing here opens a socket or reads a clock: bytes go in,
//! typed values and bytes come out.
//!
//! # Where things are
//!
//! The values of the protocol are at the crate root: the strings
//! ([`AString`], [`Quoted`], [`Mailbox`], ...), [`Command`] and [`Response`]
//! with everything they carry, the decoders and the [`Encoder`]. Each
//! extension also has a module of its own ([`condstore`], [`sort`],
//! [`urlauth`], ...) that says what it adds to the grammar and holds its
//! types, which the root re-exports. The sessions are in [`server`] and
//! [`client`], with the types only they use. Values build from text too:
//! `"BODY.PEEK[HEADER.FIELDS (SUBJECT)]".parse::<FetchItem>()`,
//! `Mailbox::try_from("Drafts")`, and print in wire form with `Display`.
//!
//! # Decoding
//!
//! Every decoder answers [`Decoded::Complete`] with the bytes it used,
//! [`Decoded::Incomplete`] for a valid prefix, [`Decoded::LiteralAnnounced`]
//! where a command's literal header ends (so a server can send `+` or
//! refuse before the data arrives), or a [`DecodeError`] with the offset,
//! what was expected, the tag and where the next message starts. Limits
//! ([`Limits`]) are checked before anything is allocated; leniency towards
//! what real servers send ([`Leniency`]) is runtime configuration.
//! Decoded values borrow from the input; `into_owned` makes them `'static`.
//!
//! ```
//! use mailwire_imap::{decode_command, decode_response, Decoded, DecoderConfig};
//! use mailwire_imap::{MessageDataItem, Response};
//!
//! let config = DecoderConfig::default();
//! let wire = b"* 12 FETCH (UID 4827 FLAGS (\\Seen) ENVELOPE (NIL \"Lunch?\" \
//!     ((\"Ann\" NIL \"ann\" \"example.org\")) NIL NIL NIL NIL NIL NIL NIL))\r\n";
//! let Decoded::Complete { value: Response::Fetch { seq, items }, consumed } = decode_response(wire, &config)? else {
//!     unreachable!()
//! };
//! assert_eq!((seq.get(), consumed), (12, wire.len()));
//! let MessageDataItem::Envelope(envelope) = &items[2] else { unreachable!() };
//! assert_eq!(envelope.subject.as_bytes(), Some(&b"Lunch?"[..]));
//! assert_eq!(envelope.from[0].mailbox.as_bytes(), Some(&b"ann"[..]));
//!
//! // A server learns of an APPEND's literal before its data arrives.
//! let append = b"a1 APPEND INBOX {310}\r\n";
//! let Decoded::LiteralAnnounced(announced) = decode_command(append, &config)? else { unreachable!() };
//! assert_eq!((announced.length, announced.data_start), (310, append.len()));
//! # Ok::<(), mailwire_imap::DecodeError>(())
//! ```
//!
//! Large message data in responses streams: [`ResponseReader`] hands over
//! the head of a FETCH response, then the data of its `BODY[...]`,
//! `BINARY[...]` or `RFC822...` literal in chunks as they arrive, then the
//! rest, without buffering the literal. Every other literal (a server may
//! send any string as one) is decoded in place.
//! [`decode_response`] answers [`Decoded::Incomplete`] until a literal's
//! data is in, never [`Decoded::LiteralAnnounced`]: a server does not wait
//! for a continuation request, so a client has nothing to answer.
//!
//! # Sessions
//!
//! [`server::ServerSession`] and [`client::ClientSession`] are the protocol
//! state machines above the codec, sans-IO like the rest: bytes in with
//! `receive`, bytes out with `poll_transmit`, events out with `poll_event`,
//! time in with `handle_timeout`. The server session keeps RFC 9051's
//! states, literals, LOGIN and AUTHENTICATE, IDLE, ENABLE, the STARTTLS and
//! COMPRESS switch points and the selected mailbox's message numbers; what
//! needs the store comes out as an event with a handle the application
//! answers through. The client session generates tags, sends literals as
//! the server allows, orders commands as RFC 9051 section 5.5 requires,
//! pairs each completion with its data and keeps a view of the selected
//! mailbox. Each module's documentation has a compiled example.
//!
//! # Encoding
//!
//! Commands encode into [`Fragment`]s: lines, and the literals between them
//! where a client must wait for a continuation request. Each string takes
//! its cheapest valid form (atom, quoted, literal), and non-synchronizing
//! literals are used when the [`LiteralPolicy`] says the peer accepts
//! them. Responses encode into fragments too, or straight into a buffer
//! with [`Response::encode_into`].
//!
//! ```
//! use mailwire_imap::{decode_command, to_bytes, Decoded, DecoderConfig, LiteralPolicy};
//!
//! let wire = b"a2 UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])\r\n";
//! let Decoded::Complete { value, .. } = decode_command(wire, &DecoderConfig::default())? else { unreachable!() };
//! assert_eq!(to_bytes(&value.encode(LiteralPolicy::SyncOnly)), wire);
//! # Ok::<(), mailwire_imap::DecodeError>(())
//! ```
#![forbid(unsafe_code)]

pub mod acl;
mod capability;
pub mod catenate;
pub mod client;
mod command;
pub mod compress;
pub mod condstore;
pub mod context;
mod datetime;
mod decode;
mod encode;
mod extension;
mod fetch;
mod flag;
mod frame;
pub mod id;
pub mod imap_url;
mod list;
mod mailbox;
mod mailbox_cmd;
mod message_cmd;
pub mod metadata;
pub mod multisearch;
mod namespace;
pub mod notify;
pub mod objectid;
mod parse;
pub mod quota;
pub mod replace;
mod response;
mod search;
mod sequence;
pub mod server;
mod small_list;
pub mod sort;
mod status;
mod stream;
mod string;
pub mod urlauth;

pub use crate::string::{AString, AstringAtom, Atom, IString, Literal, NString, Quoted, Tag, TypeError};
pub use acl::{
    AclEntry, AclResponse, ListRightsResponse, MyRightsResponse, Rights, RightsModification, RightsModifier,
};
pub use capability::{Capabilities, Capability};
pub use catenate::CatPart;
pub use command::{
    AuthenticateData, Base64, Command, CommandBody, CommandReader, Secret, decode_authenticate_data,
    decode_command, decode_idle_done,
};
pub use condstore::{EntryType, ModSeq, ModSeqEntry, ModSeqValzer, QResync, SeqMatchData};
pub use context::{ContextUpdate, PartialRange};
pub use datetime::{Date, DateTime};
pub use decode::{
    DecodeError, Decoded, DecoderConfig, ErrorKind, Leniency, Limits, LiteralAnnouncement, LiteralMode,
};
pub use encode::{Encoder, Fragment, Fragments, LiteralPolicy, to_bytes};
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
pub use id::{ID_FIELD_MAX, ID_PAIRS_MAX, ID_VALUE_MAX, IdParam, IdParams};
pub use imap_url::{ImapUrl, UrlForm, UrlPartial};
pub use list::{
    List, ListExtendedItem, ListPatterns, ListReturnOption, ListSelectOption, MailboxList, OptionExtension,
};
pub use mailbox::{
    ListCharString, ListMailbox, Mailbox, MailboxOther, decode_modified_utf7, encode_modified_utf7,
    list_pattern_matches,
};
pub use mailbox_cmd::{CreateParameter, RenameParameter, SelectParameter};
pub use message_cmd::{Append, AppendData, AppendMessage, CopyMove, Store, StoreAction, StoreModifier};
pub use metadata::{
    GetMetadata, GetMetadataOption, MetadataCode, MetadataData, MetadataDepth, MetadataEntry,
    MetadataEntryValue, MetadataResponse,
};
pub use multisearch::{ESearchMailbox, MultiSearch, SearchSource};
pub use namespace::{NamespaceDescription, NamespaceExtension, NamespaceResponse};
pub use notify::{EventGroup, FilterMailboxes, Notify, NotifyEvent, OneOrMoreMailbox};
pub use objectid::{OBJECTID_MAX, ObjectId};
pub use quota::{Quota, QuotaLimit, QuotaResource, QuotaRoot, QuotaUsage};
pub use replace::Replace;
pub use response::{Code, RespText, Response, Status, decode_greeting, decode_response};
pub use search::{ESearch, Search, SearchKey, SearchReturnData, SearchReturnOption};
pub use sequence::{SeqNumber, SeqRange, SequenceIter, SequenceSet, UidSet};
pub use small_list::IntoIter as ListIntoIter;
pub use sort::{Sort, SortCriterion, SortKey, Thread, ThreadAlgorithm, ThreadCommand};
pub use status::{MailboxStatus, StatusAttribute, StatusValue};
pub use stream::{ReadEvent, ResponseReader, StreamedEvents};
pub use urlauth::{
    GenUrlAuth, UrlFetchAnswer, UrlFetchData, UrlFetchMetadata, UrlFetchParam, UrlFetchRequest, UrlMechanism,
};

//! The home of [`Response`] and what goes with it; the explanation of this
//! part of the grammar is on that type, where the rendered documentation
//! shows it.

use std::borrow::Cow;

use nom::Parser;

use crate::acl::{AclResponse, ListRightsResponse, MyRightsResponse};
use crate::capability::{Capabilities, Capability};
use crate::condstore::ModSeq;
use crate::decode::{DecodeError, Decoded, DecoderConfig, ErrorKind};
use crate::encode::{Encoder, Fragments, LiteralPolicy};
use crate::fetch::data::MessageDataItem;
use crate::flag::{Flag, FlagPerm};
use crate::frame::{Framed, Side, frame};
use crate::id::IdParams;
use crate::list::MailboxList;
use crate::metadata::{MetadataCode, MetadataResponse};
use crate::namespace::NamespaceResponse;
use crate::objectid::ObjectId;
use crate::parse::{PError, PResult, crlf, expect, fail, keyword, number, nz_number, sp};
use crate::quota::{Quota, QuotaRoot};
use crate::search::ESearch;
use crate::sequence::{SequenceSet, UidSet};
use crate::sort::Thread;
use crate::status::MailboxStatus;
use crate::string::{Atom, Tag};

/// The status of a status response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// `OK`.
    Ok,
    /// `NO`.
    No,
    /// `BAD`.
    Bad,
    /// `PREAUTH` (greeting only).
    PreAuth,
    /// `BYE`.
    Bye,
}

impl Status {
    fn name(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::No => "NO",
            Status::Bad => "BAD",
            Status::PreAuth => "PREAUTH",
            Status::Bye => "BYE",
        }
    }
}

/// A response code (`resp-text-code`) of RFC 9051, RFC 3501 and RFC 5530.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Code<'a> {
    /// `ALERT`: show the text to the user.
    Alert,
    /// `BADCHARSET [(charset...)]`.
    BadCharset(Vec<Cow<'a, str>>),
    /// `CAPABILITY ...`.
    Capability(Capabilities<'a>),
    /// `PARSE`.
    Parse,
    /// `READ-ONLY`.
    ReadOnly,
    /// `READ-WRITE`.
    ReadWrite,
    /// `TRYCREATE`.
    TryCreate,
    /// `UIDNEXT n`.
    UidNext(std::num::NonZeroU32),
    /// `UIDVALIDITY n`.
    UidValidity(std::num::NonZeroU32),
    /// `UNSEEN n` (IMAP4rev1).
    Unseen(std::num::NonZeroU32),
    /// `UIDNOTSTICKY` (RFC 4315).
    UidNotSticky,
    /// `CLOSED` (RFC 7162, RFC 9051).
    Closed,
    /// `UNKNOWN-CTE` (RFC 3516).
    UnknownCte,
    /// `HIGHESTMODSEQ n` (RFC 7162): the highest mod-sequence of the
    /// mailbox.
    HighestModSeq(ModSeq),
    /// `NOMODSEQ` (RFC 7162): the mailbox keeps no mod-sequences.
    NoModSeq,
    /// `MODIFIED sequence-set` (RFC 7162): the messages (UIDs after UID
    /// STORE) that failed the UNCHANGEDSINCE test.
    Modified(SequenceSet),
    /// `PERMANENTFLAGS (flag-perm...)`: the flags a client can change
    /// permanently; `\*` means new keywords can be created.
    PermanentFlags(Vec<FlagPerm<'a>>),
    /// `APPENDUID uidvalidity uids` (RFC 4315, RFC 9051): the UIDs APPEND
    /// gave (a set for MULTIAPPEND).
    AppendUid {
        /// The UIDVALIDITY of the destination mailbox.
        uid_validity: std::num::NonZeroU32,
        /// The new UIDs.
        uids: UidSet,
    },
    /// `COPYUID uidvalidity source destination` (RFC 4315, RFC 9051): the
    /// UIDs COPY or MOVE gave, pairwise in set order.
    CopyUid {
        /// The UIDVALIDITY of the destination mailbox.
        uid_validity: std::num::NonZeroU32,
        /// The UIDs of the copied messages.
        source: UidSet,
        /// Their UIDs in the destination.
        destination: UidSet,
    },
    /// `NOUPDATE quoted` (RFC 5267 section 4.3.1): the server will not
    /// keep the result of the command with this tag up to date. Sent in
    /// an untagged NO while the command runs; the command itself still
    /// completes, with its other return options honoured.
    NoUpdate(crate::string::Quoted<'a>),
    /// `BADURL url` (CATENATE, RFC 4469): the first URL that APPEND could
    /// not use, as the server wrote it (it may not parse as an
    /// [`ImapUrl`](crate::ImapUrl): bad syntax is one of the reasons).
    BadUrl(Cow<'a, str>),
    /// `NOTIFICATIONOVERFLOW` (NOTIFY, RFC 5465): the server stopped
    /// sending events, as if NOTIFY NONE had been received.
    NotificationOverflow,
    /// `BADEVENT (event...)` (NOTIFY, RFC 5465): the events the server
    /// supports, after a NOTIFY that asked for another. Names only: a
    /// `MessageNew`'s fetch attributes are not written.
    BadEvent(Vec<crate::notify::NotifyEvent<'a>>),
    /// `URLMECH INTERNAL mechanism...` (URLAUTH, RFC 4467): the URLAUTH
    /// mechanisms of the selected mailbox, after the INTERNAL every server
    /// has.
    UrlMech(Vec<crate::urlauth::UrlMechanism<'a>>),
    /// A code without arguments from RFC 5530 or RFC 9051 section 7.1
    /// (`UNAVAILABLE`, `AUTHENTICATIONFAILED`, `NONEXISTENT`, ...), kept
    /// by name; see [`Code::RFC5530`].
    Condition(Atom<'a>),
    /// `METADATA LONGENTRIES n`, `METADATA MAXSIZE n`, `METADATA TOOMANY`
    /// or `METADATA NOPRIVATE` (RFC 5464). Another `METADATA` code is kept
    /// as [`Code::Other`].
    Metadata(MetadataCode),
    /// `COMPRESSIONACTIVE` (RFC 4978): compression is already on.
    CompressionActive,
    /// `MAILBOXID (id)` (RFC 8474): the object identifier of the mailbox
    /// CREATE made or SELECT opened. A `MAILBOXID` code of another form
    /// is kept as [`Code::Other`].
    MailboxId(ObjectId<'a>),
    /// Any other code: `atom [SP 1*<any TEXT-CHAR except "]">]`, kept as
    /// sent.
    Other {
        /// The code name.
        name: Atom<'a>,
        /// Its argument text, if any.
        text: Option<Cow<'a, str>>,
    },
}

impl Code<'_> {
    /// The argument-free codes of RFC 5530 and RFC 9051 section 7.1 that
    /// parse as [`Code::Condition`].
    pub const RFC5530: [&'static str; 21] = [
        "UNAVAILABLE",
        "AUTHENTICATIONFAILED",
        "AUTHORIZATIONFAILED",
        "EXPIRED",
        "PRIVACYREQUIRED",
        "CONTACTADMIN",
        "NOPERM",
        "INUSE",
        "EXPUNGEISSUED",
        "CORRUPTION",
        "SERVERBUG",
        "CLIENTBUG",
        "CANNOT",
        "LIMIT",
        "OVERQUOTA",
        "ALREADYEXISTS",
        "NONEXISTENT",
        "NOTSAVED",
        "HASCHILDREN",
        "TOOBIG",
        "USEATTR",
    ];

    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> Code<'static> {
        let own = |c: Cow<'_, str>| Cow::Owned(c.into_owned());
        match self {
            Code::Alert => Code::Alert,
            Code::BadCharset(c) => Code::BadCharset(c.into_iter().map(own).collect()),
            Code::Capability(c) => Code::Capability(c.into_owned()),
            Code::Parse => Code::Parse,
            Code::ReadOnly => Code::ReadOnly,
            Code::ReadWrite => Code::ReadWrite,
            Code::TryCreate => Code::TryCreate,
            Code::UidNext(n) => Code::UidNext(n),
            Code::UidValidity(n) => Code::UidValidity(n),
            Code::Unseen(n) => Code::Unseen(n),
            Code::UidNotSticky => Code::UidNotSticky,
            Code::Closed => Code::Closed,
            Code::UnknownCte => Code::UnknownCte,
            Code::HighestModSeq(m) => Code::HighestModSeq(m),
            Code::NoModSeq => Code::NoModSeq,
            Code::Modified(s) => Code::Modified(s),
            Code::PermanentFlags(f) => {
                Code::PermanentFlags(f.into_iter().map(FlagPerm::into_owned).collect())
            }
            Code::AppendUid { uid_validity, uids } => Code::AppendUid { uid_validity, uids },
            Code::CopyUid {
                uid_validity,
                source,
                destination,
            } => Code::CopyUid {
                uid_validity,
                source,
                destination,
            },
            Code::BadUrl(u) => Code::BadUrl(own(u)),
            Code::NotificationOverflow => Code::NotificationOverflow,
            Code::UrlMech(list) => Code::UrlMech(
                list.into_iter()
                    .map(crate::urlauth::UrlMechanism::into_owned)
                    .collect(),
            ),
            Code::BadEvent(events) => Code::BadEvent(
                events
                    .into_iter()
                    .map(crate::notify::NotifyEvent::into_owned)
                    .collect(),
            ),
            Code::Condition(a) => Code::Condition(a.into_owned()),
            Code::NoUpdate(tag) => Code::NoUpdate(tag.into_owned()),
            Code::Metadata(m) => Code::Metadata(m),
            Code::CompressionActive => Code::CompressionActive,
            Code::MailboxId(id) => Code::MailboxId(id.into_owned()),
            Code::Other { name, text } => Code::Other {
                name: name.into_owned(),
                text: text.map(own),
            },
        }
    }

    fn encode(&self, e: &mut Encoder<'_>) {
        let simple = |e: &mut Encoder<'_>, s: &str| e.put(s.as_bytes());
        match self {
            Code::Alert => simple(e, "ALERT"),
            Code::BadCharset(charsets) => {
                e.put(b"BADCHARSET");
                // A name with a line break is neither an atom nor a quoted
                // string (nor a charset): it is left out.
                let mut sendable = charsets.iter().filter(|c| !c.contains(['\r', '\n'])).peekable();
                if sendable.peek().is_some() {
                    e.put(b" (");
                    for (i, c) in sendable.enumerate() {
                        if i > 0 {
                            e.put(b" ");
                        }
                        encode_charset(e, c);
                    }
                    e.put(b")");
                }
            }
            Code::Capability(caps) => {
                e.put(b"CAPABILITY");
                crate::capability::encode_list(caps.as_slice(), e);
            }
            Code::Parse => simple(e, "PARSE"),
            Code::ReadOnly => simple(e, "READ-ONLY"),
            Code::ReadWrite => simple(e, "READ-WRITE"),
            Code::TryCreate => simple(e, "TRYCREATE"),
            Code::UidNext(n) => {
                e.put(b"UIDNEXT ");
                e.number(u64::from(n.get()));
            }
            Code::UidValidity(n) => {
                e.put(b"UIDVALIDITY ");
                e.number(u64::from(n.get()));
            }
            Code::Unseen(n) => {
                e.put(b"UNSEEN ");
                e.number(u64::from(n.get()));
            }
            Code::UidNotSticky => simple(e, "UIDNOTSTICKY"),
            Code::Closed => simple(e, "CLOSED"),
            Code::UnknownCte => simple(e, "UNKNOWN-CTE"),
            Code::HighestModSeq(m) => {
                e.put(b"HIGHESTMODSEQ ");
                e.number(m.get());
            }
            Code::NoModSeq => simple(e, "NOMODSEQ"),
            Code::Modified(s) => {
                e.put(b"MODIFIED ");
                s.encode(e.line());
            }
            Code::PermanentFlags(flags) => {
                let out = e.line();
                out.extend_from_slice(b"PERMANENTFLAGS (");
                for (i, f) in flags.iter().enumerate() {
                    if i > 0 {
                        out.push(b' ');
                    }
                    f.encode(out);
                }
                out.push(b')');
            }
            Code::AppendUid { uid_validity, uids } => {
                e.put(b"APPENDUID ");
                e.number(u64::from(uid_validity.get()));
                e.put(b" ");
                uids.encode(e.line());
            }
            Code::CopyUid {
                uid_validity,
                source,
                destination,
            } => {
                e.put(b"COPYUID ");
                e.number(u64::from(uid_validity.get()));
                e.put(b" ");
                source.encode(e.line());
                e.put(b" ");
                destination.encode(e.line());
            }
            Code::NoUpdate(tag) => {
                e.put(b"NOUPDATE ");
                crate::string::write_quoted(e.line(), tag.as_bytes());
            }
            Code::BadUrl(u) => {
                e.put(b"BADURL ");
                // `url-resp-text` is TEXT-CHAR but `]`: what else a URL
                // may hold (`imap://[::1]/...`) is percent-encoded, as a
                // URL may be.
                let mut rest = u.as_bytes();
                if rest.is_empty() {
                    e.put(b"%00");
                }
                while !rest.is_empty() {
                    let n = rest
                        .iter()
                        .position(|b| matches!(b, 0 | b'\r' | b'\n' | b']' | 0xff))
                        .unwrap_or(rest.len());
                    e.put(&rest[..n]);
                    if let Some(&b) = rest.get(n) {
                        e.put(format!("%{b:02X}").as_bytes());
                    }
                    rest = rest.get(n + 1..).unwrap_or_default();
                }
            }
            Code::NotificationOverflow => simple(e, "NOTIFICATIONOVERFLOW"),
            Code::UrlMech(list) => crate::urlauth::encode_urlmech_code(list, e),
            Code::BadEvent(events) => crate::notify::encode_badevent_code(events, e),
            Code::Condition(a) => e.put(a.as_str().as_bytes()),
            Code::Metadata(m) => m.encode(e),
            Code::CompressionActive => simple(e, "COMPRESSIONACTIVE"),
            Code::MailboxId(id) => {
                e.put(b"MAILBOXID ");
                id.encode_parenthesized(e);
            }
            Code::Other { name, text } => {
                e.put(name.as_str().as_bytes());
                if let Some(t) = text {
                    // `1*<any TEXT-CHAR except "]">`: a line break or a `]`
                    // would end the line or the code.
                    e.put(b" ");
                    put_flattened(e, t, b"\r\n]");
                }
            }
        }
    }
}

/// `charset = atom / quoted`: written as an atom when it can be.
fn encode_charset(e: &mut Encoder<'_>, c: &str) {
    if Atom::new(c).is_ok() {
        e.put(c.as_bytes());
    } else {
        crate::string::write_quoted(e.line(), c.as_bytes());
    }
}

/// `resp-text = ["[" resp-text-code "]" SP] [text]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RespText<'a> {
    /// The response code, if any.
    pub code: Option<Code<'a>>,
    /// The human-readable text (UTF-8 per RFC 9051; kept lossless as
    /// sent).
    pub text: Cow<'a, str>,
}

impl<'a> RespText<'a> {
    /// Text without a code.
    pub fn text(text: &'a str) -> Self {
        RespText {
            code: None,
            text: Cow::Borrowed(text),
        }
    }

    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> RespText<'static> {
        RespText {
            code: self.code.map(Code::into_owned),
            text: Cow::Owned(self.text.into_owned()),
        }
    }

    fn encode(&self, e: &mut Encoder<'_>) {
        if let Some(code) = &self.code {
            e.put(b"[");
            code.encode(e);
            e.put(b"]");
            e.put(b" ");
        }
        // `text` is `1*TEXT-CHAR`, no CR or LF: an application's text that
        // holds a line break (a client's mailbox name echoed in a NO)
        // would otherwise end the line, and what follows would be read as
        // a response of its own (`* BYE`). A text without a code that
        // starts with `[` would be read as a code (`[CAPABILITY ...]`
        // replacing the client's list): a space goes first.
        if self.code.is_none() && self.text.starts_with('[') {
            e.put(b" ");
        }
        // RFC 9051's text is optional: an empty one leaves the line
        // ending in the space, which the decoder reads back as empty.
        put_flattened(e, &self.text, b"\r\n");
    }
}

/// Writes `text` with each of the bytes `out` (ASCII) replaced by a space.
fn put_flattened(e: &mut Encoder<'_>, text: &str, out: &[u8]) {
    let mut rest = text.as_bytes();
    while let Some(n) = rest.iter().position(|b| out.contains(b)) {
        e.put(&rest[..n]);
        e.put(b" ");
        rest = &rest[n + 1..];
    }
    e.put(rest);
}

/// A response. A client decodes responses ([`decode_response`],
/// [`decode_greeting`], or [`ResponseReader`](crate::ResponseReader) to
/// stream large FETCH literals), a server encodes them
/// ([`Response::encode`], [`Response::encode_into`]).
///
/// ```text
/// response        = *(continue-req / response-data) response-done
/// continue-req    = "+" SP (resp-text / base64) CRLF
/// response-data   = "*" SP (resp-cond-state / resp-cond-bye /
///                   mailbox-data / message-data / capability-data /
///                   enable-data) CRLF
/// response-tagged = tag SP resp-cond-state CRLF
/// resp-cond-state = ("OK" / "NO" / "BAD") SP resp-text
/// resp-cond-bye   = "BYE" SP resp-text
/// resp-cond-auth  = ("OK" / "PREAUTH") SP resp-text
/// resp-text       = ["[" resp-text-code "]" SP] [text]
/// ```
///
/// Every response of RFC 3501 and RFC 9051 and of the extensions the crate
/// knows is a variant; the grammar of their data is with its types (a
/// FETCH's items with [`MessageDataItem`], a LIST's with
/// [`MailboxList`](crate::MailboxList), ...).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Response<'a> {
    /// A status response: tagged completion, or untagged OK/NO/BAD/BYE/
    /// PREAUTH (which includes the greeting).
    Status {
        /// The tag, `None` for `*`.
        tag: Option<Tag<'a>>,
        /// The status.
        status: Status,
        /// Code and text.
        text: RespText<'a>,
    },
    /// `+ text` or `+ base64`: a continuation request.
    Continue(RespText<'a>),
    /// `* CAPABILITY ...`.
    Capability(Capabilities<'a>),
    /// `* ENABLED ...` (RFC 5161).
    Enabled(Vec<Capability<'a>>),
    /// `* n EXISTS`.
    Exists(u32),
    /// `* n RECENT` (IMAP4rev1).
    Recent(u32),
    /// `* n EXPUNGE`.
    Expunge(std::num::NonZeroU32),
    /// `* SEARCH n... [(MODSEQ m)]` (IMAP4rev1 and
    /// obsolete-search-response; the mod-sequence is CONDSTORE's, RFC
    /// 7162 section 3.1.6).
    Search {
        /// The matching message numbers (UIDs after UID SEARCH).
        numbers: Vec<std::num::NonZeroU32>,
        /// `(MODSEQ m)`: the highest mod-sequence of the matching messages,
        /// sent when the search had a MODSEQ key. The grammar puts it only
        /// after a number, so it is not written when `numbers` is empty.
        modseq: Option<ModSeq>,
    },
    /// `* FLAGS (flag...)`: the flags defined in the selected mailbox.
    Flags(Vec<Flag<'a>>),
    /// `* LIST mailbox-list` (RFC 9051 section 7.3.1, RFC 5258).
    List(MailboxList<'a>),
    /// `* LSUB mailbox-list` (IMAP4rev1, RFC 3501 section 7.2.3).
    Lsub(MailboxList<'a>),
    /// `* STATUS mailbox (values)` (RFC 9051 section 7.3.4). Named apart
    /// from [`Response::Status`], the status responses.
    MailboxStatus(MailboxStatus<'a>),
    /// `* ESEARCH ...` (RFC 4731, RFC 9051 section 7.3.4).
    ESearch(ESearch<'a>),
    /// `* NAMESPACE ...` (RFC 2342, RFC 9051 section 7.3.2).
    Namespace(NamespaceResponse<'a>),
    /// `* VANISHED [(EARLIER)] uids` (QRESYNC, RFC 7162 section 3.2.10):
    /// messages expunged, by UID.
    Vanished {
        /// `(EARLIER)`: an answer to UID FETCH (VANISHED) or SELECT
        /// (QRESYNC) about messages the client may still count; without
        /// it, each UID replaces an EXPUNGE and lowers the message count.
        earlier: bool,
        /// The UIDs.
        uids: UidSet,
    },
    /// `* SORT n...` (RFC 5256): the numbers in the order asked for.
    Sort {
        /// The message numbers or UIDs, sorted.
        numbers: Vec<std::num::NonZeroU32>,
        /// `(MODSEQ n)` (CONDSTORE, RFC 7162): the highest modification
        /// sequence of the messages; only after one number or more (the
        /// encoder leaves it out of an empty result).
        modseq: Option<ModSeq>,
    },
    /// `* THREAD thread-list...` (RFC 5256): the threads, possibly none.
    Thread(Vec<Thread>),
    /// `* GENURLAUTH url...` (URLAUTH, RFC 4467): the authorized URLs.
    GenUrlAuth(Vec<crate::imap_url::ImapUrl<'a>>),
    /// `* URLFETCH url data...` (URLAUTH, RFC 4467; extended answers from
    /// URLAUTH=BINARY, RFC 5524).
    UrlFetch(Vec<crate::urlauth::UrlFetchData<'a>>),
    /// `* n FETCH (...)`: data about message `seq` (RFC 9051 section
    /// 7.5.2).
    Fetch {
        /// The message sequence number.
        seq: std::num::NonZeroU32,
        /// The data items, in the order sent.
        items: Vec<MessageDataItem<'a>>,
    },
    /// `* ID (field value ...)` or `* ID NIL` (RFC 2971): `None` for NIL.
    Id(Option<IdParams<'a>>),
    /// `* QUOTA root (resource usage limit ...)` (RFC 9208).
    Quota(Quota<'a>),
    /// `* QUOTAROOT mailbox root...` (RFC 9208).
    QuotaRoot(QuotaRoot<'a>),
    /// `* ACL mailbox identifier rights ...` (RFC 4314).
    Acl(AclResponse<'a>),
    /// `* LISTRIGHTS mailbox identifier rights...` (RFC 4314).
    ListRights(ListRightsResponse<'a>),
    /// `* MYRIGHTS mailbox rights` (RFC 4314).
    MyRights(MyRightsResponse<'a>),
    /// `* METADATA mailbox (entry value ...)` or, unsolicited, `* METADATA
    /// mailbox entry...` (RFC 5464).
    Metadata(MetadataResponse<'a>),
}

impl<'a> Response<'a> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> Response<'static> {
        match self {
            Response::Status { tag, status, text } => Response::Status {
                tag: tag.map(Tag::into_owned),
                status,
                text: text.into_owned(),
            },
            Response::Continue(t) => Response::Continue(t.into_owned()),
            Response::Capability(c) => Response::Capability(c.into_owned()),
            Response::Enabled(c) => Response::Enabled(c.into_iter().map(Capability::into_owned).collect()),
            Response::Exists(n) => Response::Exists(n),
            Response::Recent(n) => Response::Recent(n),
            Response::Expunge(n) => Response::Expunge(n),
            Response::Search { numbers, modseq } => Response::Search { numbers, modseq },
            Response::Vanished { earlier, uids } => Response::Vanished { earlier, uids },
            Response::Flags(f) => Response::Flags(f.into_iter().map(Flag::into_owned).collect()),
            Response::List(l) => Response::List(l.into_owned()),
            Response::Lsub(l) => Response::Lsub(l.into_owned()),
            Response::MailboxStatus(s) => Response::MailboxStatus(s.into_owned()),
            Response::ESearch(s) => Response::ESearch(s.into_owned()),
            Response::Namespace(n) => Response::Namespace(n.into_owned()),
            Response::Sort { numbers, modseq } => Response::Sort { numbers, modseq },
            Response::Thread(t) => Response::Thread(t),
            Response::Fetch { seq, items } => Response::Fetch {
                seq,
                items: items.into_iter().map(MessageDataItem::into_owned).collect(),
            },
            Response::Id(params) => Response::Id(crate::id::owned(params)),
            Response::Quota(q) => Response::Quota(q.into_owned()),
            Response::QuotaRoot(q) => Response::QuotaRoot(q.into_owned()),
            Response::Acl(a) => Response::Acl(a.into_owned()),
            Response::ListRights(l) => Response::ListRights(l.into_owned()),
            Response::MyRights(m) => Response::MyRights(m.into_owned()),
            Response::Metadata(m) => Response::Metadata(m.into_owned()),
            Response::GenUrlAuth(urls) => Response::GenUrlAuth(
                urls.into_iter()
                    .map(crate::imap_url::ImapUrl::into_owned)
                    .collect(),
            ),
            Response::UrlFetch(data) => Response::UrlFetch(
                data.into_iter()
                    .map(crate::urlauth::UrlFetchData::into_owned)
                    .collect(),
            ),
        }
    }

    /// Encodes the response (a server never waits for continuation
    /// requests, so the fragments can be sent back to back).
    pub fn encode(&self) -> Fragments<'_> {
        let mut e = Encoder::new(LiteralPolicy::SyncOnly);
        self.encode_to(&mut e);
        e.finish()
    }

    /// Appends the response's bytes, literal data included, to `out`: the
    /// same bytes as [`to_bytes`](crate::to_bytes)`(&self.encode())`,
    /// without the fragment list and its line buffers. A server that
    /// reuses `out` for every response allocates nothing once it has
    /// grown.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let mut e = Encoder::into_buffer(LiteralPolicy::SyncOnly, std::mem::take(out));
        self.encode_to(&mut e);
        *out = e.finish_inline();
    }

    fn encode_to<'e>(&'e self, e: &mut Encoder<'e>) {
        match self {
            Response::Status { tag, status, text } => {
                match tag {
                    Some(t) => e.put(t.as_str().as_bytes()),
                    None => e.put(b"*"),
                }
                e.put(b" ");
                e.put(status.name().as_bytes());
                e.put(b" ");
                text.encode(e);
            }
            Response::Continue(text) => {
                e.put(b"+ ");
                text.encode(e);
            }
            Response::Capability(caps) => {
                e.put(b"* CAPABILITY");
                crate::capability::encode_list(caps.as_slice(), e);
            }
            Response::Enabled(caps) => {
                e.put(b"* ENABLED");
                crate::capability::encode_list(caps, e);
            }
            Response::Exists(n) | Response::Recent(n) => {
                e.put(b"* ");
                e.number(u64::from(*n));
                e.put(if matches!(self, Response::Exists(_)) {
                    b" EXISTS"
                } else {
                    b" RECENT"
                });
            }
            Response::Expunge(n) => {
                e.put(b"* ");
                e.number(u64::from(n.get()));
                e.put(b" EXPUNGE");
            }
            Response::Flags(flags) => {
                e.put(b"* FLAGS ");
                crate::flag::encode_flag_list(flags, e.line());
            }
            Response::Search { numbers, modseq } => {
                e.put(b"* SEARCH");
                crate::condstore::encode_numbers_and_modseq(numbers, *modseq, e);
            }
            Response::Vanished { earlier, uids } => {
                e.put(b"* ");
                crate::condstore::encode_vanished(*earlier, uids, e);
            }
            Response::List(l) => {
                e.put(b"* LIST");
                l.encode(e);
            }
            Response::Lsub(l) => {
                e.put(b"* LSUB");
                l.encode(e);
            }
            Response::MailboxStatus(s) => {
                e.put(b"* STATUS");
                s.encode(e);
            }
            Response::ESearch(s) => {
                e.put(b"* ESEARCH");
                s.encode(e);
            }
            Response::Namespace(n) => {
                e.put(b"* NAMESPACE");
                n.encode(e);
            }
            Response::Sort { numbers, modseq } => {
                e.put(b"* SORT");
                crate::condstore::encode_numbers_and_modseq(numbers, *modseq, e);
            }
            Response::Thread(threads) => {
                e.put(b"* THREAD");
                crate::sort::encode_thread_data(threads, e);
            }
            Response::Fetch { seq, items } => {
                e.put(b"* ");
                e.number(u64::from(seq.get()));
                e.put(b" FETCH ");
                crate::fetch::data::encode_msg_att(items, e);
            }
            Response::Id(params) => {
                e.put(b"* ID");
                crate::id::encode_id_params(params, e);
            }
            Response::Quota(q) => {
                e.put(b"* QUOTA");
                q.encode(e);
            }
            Response::QuotaRoot(q) => {
                e.put(b"* QUOTAROOT");
                q.encode(e);
            }
            Response::Acl(a) => {
                e.put(b"* ACL");
                a.encode(e);
            }
            Response::ListRights(l) => {
                e.put(b"* LISTRIGHTS");
                l.encode(e);
            }
            Response::MyRights(m) => {
                e.put(b"* MYRIGHTS");
                m.encode(e);
            }
            Response::Metadata(m) => {
                e.put(b"* METADATA");
                m.encode(e);
            }
            Response::GenUrlAuth(urls) => {
                e.put(b"* GENURLAUTH");
                crate::urlauth::encode_urls(urls, e);
            }
            Response::UrlFetch(data) => {
                e.put(b"* URLFETCH");
                crate::urlauth::encode_urlfetch_data(data, e);
            }
        }
    }
}

/// `resp-text-code`.
fn code<'a>(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, Code<'a>> {
    let (rest, name) = expect("response code", Atom::parse).parse(input)?;
    let upper = name.as_str().to_ascii_uppercase();
    let number_code = |rest: &'a [u8], make: fn(std::num::NonZeroU32) -> Code<'a>| {
        let (rest, _) = sp(rest)?;
        let (rest, n) = nz_number(rest)?;
        Ok((rest, make(n)))
    };
    match upper.as_str() {
        "ALERT" => Ok((rest, Code::Alert)),
        "PARSE" => Ok((rest, Code::Parse)),
        "READ-ONLY" => Ok((rest, Code::ReadOnly)),
        "READ-WRITE" => Ok((rest, Code::ReadWrite)),
        "TRYCREATE" => Ok((rest, Code::TryCreate)),
        "UIDNOTSTICKY" => Ok((rest, Code::UidNotSticky)),
        "CLOSED" => Ok((rest, Code::Closed)),
        "UNKNOWN-CTE" => Ok((rest, Code::UnknownCte)),
        "NOMODSEQ" => Ok((rest, Code::NoModSeq)),
        // "HIGHESTMODSEQ" SP mod-sequence-value (RFC 7162)
        "HIGHESTMODSEQ" => {
            let (rest, _) = sp(rest)?;
            let (rest, m) = expect("mod-sequence", crate::condstore::mod_sequence_value).parse(rest)?;
            Ok((rest, Code::HighestModSeq(m)))
        }
        // "MODIFIED" SP sequence-set (RFC 7162)
        "MODIFIED" => crate::condstore::modified(rest, config).map(|(r, s)| (r, Code::Modified(s))),
        "COMPRESSIONACTIVE" => Ok((rest, Code::CompressionActive)),
        // A METADATA code this crate does not know stays generic.
        "METADATA" => match MetadataCode::parse(rest) {
            Ok((r, m)) if r.first() == Some(&b']') => Ok((r, Code::Metadata(m))),
            _ => other_code(name, rest),
        },
        // "MAILBOXID" SP "(" objectid ")"; another form stays generic.
        "MAILBOXID" => match sp(rest).and_then(|(r, _)| ObjectId::parse_parenthesized(r)) {
            Ok((r, id)) if r.first() == Some(&b']') => Ok((r, Code::MailboxId(id))),
            _ => other_code(name, rest),
        },
        "UIDNEXT" => number_code(rest, Code::UidNext),
        "UIDVALIDITY" => number_code(rest, Code::UidValidity),
        "UNSEEN" => number_code(rest, Code::Unseen),
        // "PERMANENTFLAGS" SP "(" [flag-perm *(SP flag-perm)] ")"
        "PERMANENTFLAGS" => {
            let (rest, _) = sp(rest)?;
            let (rest, flags) =
                crate::parse::paren_list(config.limits.list, config.leniency.extra_spaces, FlagPerm::parse)(
                    rest,
                )?;
            Ok((rest, Code::PermanentFlags(flags)))
        }
        // "APPENDUID" SP nz-number SP append-uid, append-uid = uniqueid /
        // uid-set (the set with MULTIAPPEND, RFC 4315)
        "APPENDUID" => {
            let (rest, _) = sp(rest)?;
            let (rest, uid_validity) = nz_number(rest)?;
            let (rest, _) = sp(rest)?;
            let (rest, uids) = UidSet::parse(rest, config.limits.list)?;
            Ok((rest, Code::AppendUid { uid_validity, uids }))
        }
        // "COPYUID" SP nz-number SP uid-set SP uid-set
        "COPYUID" => {
            let (rest, _) = sp(rest)?;
            let (rest, uid_validity) = nz_number(rest)?;
            let (rest, _) = sp(rest)?;
            let (rest, source) = UidSet::parse(rest, config.limits.list)?;
            let (rest, _) = sp(rest)?;
            let (rest, destination) = UidSet::parse(rest, config.limits.list)?;
            if source.count() != destination.count() {
                return Err(nom::Err::Error(PError::at(
                    rest,
                    "as many destination UIDs as source UIDs",
                )));
            }
            Ok((
                rest,
                Code::CopyUid {
                    uid_validity,
                    source,
                    destination,
                },
            ))
        }
        "CAPABILITY" => {
            let (rest, caps) = crate::capability::parse_list(rest, config.limits.list)?;
            Ok((rest, Code::Capability(Capabilities(caps))))
        }
        // "BADCHARSET" [SP "(" charset *(SP charset) ")" ]
        "BADCHARSET" => {
            let Some(list) = rest.strip_prefix(b" ") else {
                return Ok((rest, Code::BadCharset(Vec::new())));
            };
            let charset = |i: &'a [u8]| -> PResult<'a, Cow<'a, str>> {
                if i.first() == Some(&b'"') {
                    let (r, q) = crate::string::Quoted::parse(i, config.leniency.eight_bit_quoted)?;
                    Ok((r, Cow::Owned(String::from_utf8_lossy(q.as_bytes()).into_owned())))
                } else {
                    let (r, a) = Atom::parse(i)?;
                    Ok((r, Cow::Borrowed(a.as_str()).into_owned().into()))
                }
            };
            let (rest, charsets) =
                crate::parse::paren_list(config.limits.list, config.leniency.extra_spaces, charset)(list)?;
            Ok((rest, Code::BadCharset(charsets)))
        }
        // "NOUPDATE" SP quoted (RFC 5267)
        "NOUPDATE" => {
            let (rest, _) = sp(rest)?;
            let (rest, tag) = expect("quoted tag", |i| {
                crate::string::Quoted::parse(i, config.leniency.eight_bit_quoted)
            })
            .parse(rest)?;
            Ok((rest, Code::NoUpdate(tag)))
        }
        "BADURL" => crate::catenate::parse_badurl_code(rest).map(|(r, u)| (r, Code::BadUrl(u))),
        "NOTIFICATIONOVERFLOW" => Ok((rest, Code::NotificationOverflow)),
        "URLMECH" => crate::urlauth::parse_urlmech_code(rest, config).map(|(r, l)| (r, Code::UrlMech(l))),
        "BADEVENT" => crate::notify::parse_badevent_code(rest, config).map(|(r, ev)| (r, Code::BadEvent(ev))),
        _ if Code::RFC5530.contains(&upper.as_str()) => Ok((rest, Code::Condition(name))),
        _ => other_code(name, rest),
    }
}

/// A code this crate has no variant for: `atom [SP 1*<any TEXT-CHAR
/// except "]">]`, after the atom.
fn other_code<'a>(name: Atom<'a>, rest: &'a [u8]) -> PResult<'a, Code<'a>> {
    let Some(arg) = rest.strip_prefix(b" ") else {
        return Ok((rest, Code::Other { name, text: None }));
    };
    let n = arg
        .iter()
        .take_while(|&&b| b != b']' && b != b'\r' && b != b'\n')
        .count();
    if n == 0 {
        return fail(arg, "response code argument");
    }
    let text = String::from_utf8_lossy(&arg[..n]);
    Ok((
        &arg[n..],
        Code::Other {
            name,
            text: Some(text),
        },
    ))
}

/// `resp-text = ["[" resp-text-code "]" SP] [text]` (RFC 9051: the text
/// may be empty, as the encoder writes an empty one; RFC 3501 wanted
/// `1*TEXT-CHAR`), up to the end of the line.
fn resp_text<'a>(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, RespText<'a>> {
    let mut rest = input;
    let mut parsed_code = None;
    if let Some(after) = rest.strip_prefix(b"[") {
        let (r, c) = code(after, config)?;
        let (r, _) = expect("']'", crate::parse::byte(b']', "']'")).parse(r)?;
        parsed_code = Some(c);
        rest = match r.first() {
            Some(b' ') => &r[1..],
            // "[code]" alone at the end of the line: the RFC wants text,
            // several servers send none.
            Some(b'\r' | b'\n') if config.leniency.missing_text => r,
            _ => return fail(r, "space"),
        };
    }
    let end = rest
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .unwrap_or(rest.len());
    let text = &rest[..end];
    let text = match std::str::from_utf8(text) {
        Ok(t) => Cow::Borrowed(t),
        Err(_) => Cow::Owned(String::from_utf8_lossy(text).into_owned()),
    };
    Ok((
        &rest[end..],
        RespText {
            code: parsed_code,
            text,
        },
    ))
}

/// A response line (no literals in this first part of the grammar).
fn response<'a>(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, Response<'a>> {
    let leniency = &config.leniency;
    let end = |r: &'a [u8]| crlf(leniency.bare_lf)(r);
    if let Some(rest) = input.strip_prefix(b"+") {
        let rest = match rest.first() {
            Some(b' ') => &rest[1..],
            // "+\r\n": an empty continuation, common in the wild.
            _ if leniency.missing_text => rest,
            _ => return fail(rest, "space"),
        };
        let (rest, text) = resp_text(
            rest,
            &DecoderConfig {
                leniency: crate::Leniency {
                    missing_text: true,
                    ..*leniency
                },
                ..*config
            },
        )?;
        let (rest, ()) = end(rest)?;
        return Ok((rest, Response::Continue(text)));
    }
    let (rest, tag) = match input.strip_prefix(b"* ") {
        Some(r) => (r, None),
        None => {
            let (r, t) = expect("tag or '*'", Tag::parse).parse(input)?;
            let (r, _) = sp(r)?;
            (r, Some(t))
        }
    };
    // message-data and the numbered mailbox data: the hot path of FETCH
    // streams, reached before any keyword is tried.
    if tag.is_none() && rest.first().is_some_and(u8::is_ascii_digit) {
        return numbered(rest, config);
    }
    for (word, st) in [
        ("OK", Status::Ok),
        ("NO", Status::No),
        ("BAD", Status::Bad),
        ("PREAUTH", Status::PreAuth),
        ("BYE", Status::Bye),
    ] {
        if let Ok((r, _)) = keyword(word)(rest) {
            if tag.is_some() && matches!(st, Status::PreAuth | Status::Bye) {
                return fail(rest, "OK, NO or BAD");
            }
            let r = match r.first() {
                Some(b' ') => &r[1..],
                Some(b'\r' | b'\n') if leniency.missing_text => r,
                _ => continue,
            };
            let (r, text) = resp_text(r, config)?;
            let (r, ()) = end(r)?;
            return Ok((
                r,
                Response::Status {
                    tag,
                    status: st,
                    text,
                },
            ));
        }
    }
    if tag.is_some() {
        return fail(rest, "OK, NO or BAD");
    }
    if let Some(data) = mailbox_data(rest, config) {
        let (r, value) = data?;
        let (r, ()) = end(r)?;
        return Ok((r, value));
    }
    if let Some(data) = crate::urlauth::response_data(rest, config) {
        let (r, value) = data?;
        let (r, ()) = end(r)?;
        return Ok((r, value));
    }
    if let Ok((r, _)) = keyword("CAPABILITY")(rest) {
        let (r, caps) = crate::capability::parse_list(r, config.limits.list)?;
        let (r, ()) = end(r)?;
        return Ok((r, Response::Capability(Capabilities(caps))));
    }
    if let Ok((r, _)) = keyword("ENABLED")(rest) {
        let (r, caps) = crate::capability::parse_list(r, config.limits.list)?;
        let (r, ()) = end(r)?;
        return Ok((r, Response::Enabled(caps)));
    }
    // "FLAGS" SP flag-list; some servers list \Recent or \* there, which
    // the lenient decoder drops.
    if let Ok((r, _)) = keyword("FLAGS")(rest) {
        let (r, _) = sp(r)?;
        let (r, flags) = crate::flag::parse_flag_list(
            r,
            config.limits.list,
            leniency.extra_spaces,
            leniency.foreign_flags,
        )?;
        let (r, ()) = end(r)?;
        return Ok((r, Response::Flags(flags)));
    }
    // "SEARCH" *(SP nz-number), and RFC 7162's
    // "SEARCH" [1*(SP nz-number) SP search-sort-mod-seq]
    if let Ok((r, _)) = keyword("SEARCH")(rest) {
        let (r, (numbers, modseq)) = crate::condstore::parse_numbers_and_modseq(r, config)?;
        let (r, ()) = end(r)?;
        return Ok((r, Response::Search { numbers, modseq }));
    }
    if let Ok((r, _)) = keyword("VANISHED")(rest) {
        let (r, (earlier, uids)) = crate::condstore::vanished(r, config)?;
        let (r, ()) = end(r)?;
        return Ok((r, Response::Vanished { earlier, uids }));
    }
    fail(rest, "response data")
}

/// `message-data = nz-number SP ("EXPUNGE" / ("FETCH" SP msg-att))` and
/// `mailbox-data =/ number SP ("EXISTS" / "RECENT")`.
fn numbered<'a>(rest: &'a [u8], config: &DecoderConfig) -> PResult<'a, Response<'a>> {
    let end = |r: &'a [u8]| crlf(config.leniency.bare_lf)(r);
    let (r, n) = expect("response data", number).parse(rest)?;
    let (r, _) = sp(r)?;
    let nonzero = || {
        std::num::NonZeroU32::new(n)
            .ok_or_else(|| nom::Err::Error(PError::kind(rest, ErrorKind::NumberOutOfRange, "number from 1")))
    };
    if r.len() >= 6 && r[..6].eq_ignore_ascii_case(b"FETCH ") {
        let seq = nonzero()?;
        let (r, items) = crate::fetch::data::msg_att(&r[6..], config)?;
        let r = if config.leniency.extra_spaces {
            crate::fetch::skip_spaces(r)
        } else {
            r
        };
        let (r, ()) = end(r)?;
        return Ok((r, Response::Fetch { seq, items }));
    }
    let (r, value) = if let Ok((r, _)) = keyword("EXISTS")(r) {
        (r, Response::Exists(n))
    } else if let Ok((r, _)) = keyword("RECENT")(r) {
        (r, Response::Recent(n))
    } else if let Ok((r, _)) = keyword("EXPUNGE")(r) {
        (r, Response::Expunge(nonzero()?))
    } else {
        return fail(r, "EXISTS, RECENT, EXPUNGE or FETCH");
    };
    let (r, ()) = end(r)?;
    Ok((r, value))
}

/// LIST, LSUB, STATUS, ESEARCH, NAMESPACE, SORT and THREAD data (see the
/// `list`, `status`, `search`, `namespace` and `sort` modules), up to the line end; `None`
/// when `input` starts with none of these names.
fn mailbox_data<'a>(input: &'a [u8], config: &DecoderConfig) -> Option<PResult<'a, Response<'a>>> {
    let word = |w: &'static str| {
        keyword(w)(input)
            .ok()
            .map(|(r, _)| r)
            .filter(|r| matches!(r.first(), None | Some(b' ' | b'\r' | b'\n')))
    };
    if let Some(r) = word("LIST") {
        return Some(MailboxList::parse(r, config).map(|(r, l)| (r, Response::List(l))));
    }
    if let Some(r) = word("LSUB") {
        return Some(MailboxList::parse(r, config).map(|(r, l)| (r, Response::Lsub(l))));
    }
    if let Some(r) = word("STATUS") {
        return Some(MailboxStatus::parse(r, config).map(|(r, s)| (r, Response::MailboxStatus(s))));
    }
    if let Some(r) = word("ESEARCH") {
        return Some(ESearch::parse(r, config).map(|(r, s)| (r, Response::ESearch(s))));
    }
    if let Some(r) = word("NAMESPACE") {
        return Some(NamespaceResponse::parse(r, config).map(|(r, n)| (r, Response::Namespace(n))));
    }
    if let Some(r) = word("SORT") {
        return Some(
            crate::condstore::parse_numbers_and_modseq(r, config)
                .map(|(r, (numbers, modseq))| (r, Response::Sort { numbers, modseq })),
        );
    }
    if let Some(r) = word("THREAD") {
        return Some(crate::sort::parse_thread_data(r, config).map(|(r, t)| (r, Response::Thread(t))));
    }
    if let Some(r) = word("ID") {
        return Some(crate::id::parse_id(r, config).map(|(r, p)| (r, Response::Id(p))));
    }
    if let Some(r) = word("QUOTA") {
        return Some(Quota::parse(r, config).map(|(r, q)| (r, Response::Quota(q))));
    }
    if let Some(r) = word("QUOTAROOT") {
        return Some(QuotaRoot::parse(r, config).map(|(r, q)| (r, Response::QuotaRoot(q))));
    }
    if let Some(r) = word("ACL") {
        return Some(AclResponse::parse(r, config).map(|(r, a)| (r, Response::Acl(a))));
    }
    if let Some(r) = word("LISTRIGHTS") {
        return Some(ListRightsResponse::parse(r, config).map(|(r, l)| (r, Response::ListRights(l))));
    }
    if let Some(r) = word("MYRIGHTS") {
        return Some(MyRightsResponse::parse(r, config).map(|(r, m)| (r, Response::MyRights(m))));
    }
    if let Some(r) = word("METADATA") {
        return Some(MetadataResponse::parse(r, config).map(|(r, m)| (r, Response::Metadata(m))));
    }
    None
}

/// The wire form without the final CRLF, literal data in place:
/// `* 3 EXISTS`, `a1 OK [READ-WRITE] SELECT completed`.
impl std::fmt::Display for Response<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        crate::encode::fmt_wire(f, |e| self.encode_to(e))
    }
}

/// Decodes one response. A malformed line comes back as an error whose
/// `resume_at` skips it, so the rest of the stream stays in step.
///
/// The answer is [`Decoded::Complete`] or [`Decoded::Incomplete`], never
/// [`Decoded::LiteralAnnounced`]: a server sends a literal's data without
/// waiting, so a client has nothing to answer a literal header with, and
/// a response that ends inside a literal is simply not complete yet.
pub fn decode_response<'a>(
    input: &'a [u8],
    config: &DecoderConfig,
) -> Result<Decoded<Response<'a>>, DecodeError> {
    // `Stream` comes only with FrameOptions::stream, which `frame`
    // does not set.
    match frame(input, Side::Response, config)? {
        Framed::Complete(len) => decode_framed_response(&input[..len], config)
            .map(|value| Decoded::Complete { value, consumed: len }),
        Framed::Incomplete | Framed::Stream { .. } | Framed::Literal(_) => Ok(Decoded::Incomplete),
    }
}

/// Decodes one response that framing found complete (`message` ends with
/// its final line end); errors resume after it.
pub(crate) fn decode_framed_response<'a>(
    message: &'a [u8],
    config: &DecoderConfig,
) -> Result<Response<'a>, DecodeError> {
    let len = message.len();
    let error = |e: PError| {
        let mut d = e.into_decode_error(message);
        d.resume_at = Some(len);
        d.tag = crate::string::peek_tag(message).filter(|t| t.as_str() != "*");
        d
    };
    match response(message, config) {
        Ok(([], value)) => Ok(value),
        Ok((rest, _)) => Err(error(PError::at(rest, "end of response"))),
        Err(nom::Err::Error(e) | nom::Err::Failure(e)) => Err(error(e)),
        Err(nom::Err::Incomplete(_)) => Err(error(PError::at(b"", "complete response"))),
    }
}

/// Decodes the greeting, the first thing a server sends:
/// `greeting = "*" SP (resp-cond-auth / resp-cond-bye) CRLF`,
/// `resp-cond-auth = ("OK" / "PREAUTH") SP resp-text`. Anything else is an
/// error, so a client never mistakes another protocol's banner (or a
/// stray tagged line) for a greeting.
pub fn decode_greeting<'a>(
    input: &'a [u8],
    config: &DecoderConfig,
) -> Result<Decoded<Response<'a>>, DecodeError> {
    let len = match frame(input, Side::Response, config)? {
        Framed::Complete(len) => len,
        Framed::Incomplete | Framed::Stream { .. } => return Ok(Decoded::Incomplete),
        Framed::Literal(_) => {
            // A status line never holds a literal: no need to wait for
            // its data to know this is no greeting.
            let mut e = DecodeError::syntax(input, 0, "* OK, * PREAUTH or * BYE greeting");
            e.resume_at = None;
            return Err(e);
        }
    };
    let value = decode_framed_response(&input[..len], config)?;
    let ok = matches!(
        value,
        Response::Status {
            tag: None,
            status: Status::Ok | Status::PreAuth | Status::Bye,
            ..
        }
    );
    if !ok {
        let mut e = DecodeError::syntax(&input[..len], 0, "* OK, * PREAUTH or * BYE greeting");
        e.resume_at = Some(len);
        return Err(e);
    }
    Ok(Decoded::Complete { value, consumed: len })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::to_bytes;

    fn round_trip(line: &[u8]) -> Response<'_> {
        let value = match decode_response(line, &DecoderConfig::STRICT).unwrap() {
            Decoded::Complete { value, consumed } => {
                assert_eq!(consumed, line.len());
                value
            }
            other => panic!("{other:?}"),
        };
        assert_eq!(to_bytes(&value.encode()), line, "{value:?}");
        let mut out = b"kept".to_vec();
        value.encode_into(&mut out);
        assert_eq!((&out[..4], &out[4..]), (&b"kept"[..], line), "{value:?}");
        for i in 0..line.len() {
            assert_eq!(
                decode_response(&line[..i], &DecoderConfig::STRICT).unwrap(),
                Decoded::Incomplete
            );
        }
        value
    }

    #[test]
    fn rfc9051_status_responses() {
        round_trip(b"* OK IMAP4rev2 server ready\r\n");
        round_trip(b"* PREAUTH IMAP4rev2 server logged in as Smith\r\n");
        round_trip(b"* BYE Autologout; idle for too long\r\n");
        round_trip(b"a001 OK LOGIN completed\r\n");
        round_trip(b"A003 NO [ALREADYEXISTS] Mailbox already exists\r\n");
        round_trip(b"* OK [UIDVALIDITY 3857529045] UIDs valid\r\n");
        round_trip(b"* OK [UIDNEXT 4392] Predicted next UID\r\n");
        round_trip(b"A142 OK [READ-WRITE] SELECT completed\r\n");
        round_trip(b"* OK [ALERT] System shutdown in 10 minutes\r\n");
        round_trip(b"a002 NO [BADCHARSET (UTF-8 \"x y\")] charset\r\n");
        round_trip(b"* OK [CAPABILITY IMAP4rev2 STARTTLS AUTH=GSSAPI] ready\r\n");
        let r = round_trip(b"A1 OK [X-SOMETHING arg text] done\r\n");
        assert!(matches!(
            r,
            Response::Status {
                text: RespText {
                    code: Some(Code::Other { .. }),
                    ..
                },
                ..
            }
        ));
        let r = round_trip(b"A2 NO [NONEXISTENT] Unknown Mailbox: foo\r\n");
        assert!(matches!(
            r,
            Response::Status {
                text: RespText {
                    code: Some(Code::Condition(_)),
                    ..
                },
                ..
            }
        ));
    }

    #[test]
    fn data_and_continuations() {
        round_trip(b"* CAPABILITY IMAP4rev2 STARTTLS AUTH=GSSAPI LOGINDISABLED\r\n");
        round_trip(b"* ENABLED CONDSTORE QRESYNC\r\n");
        round_trip(b"* 172 EXISTS\r\n");
        round_trip(b"* 1 RECENT\r\n");
        round_trip(b"* 3 EXPUNGE\r\n");
        round_trip(b"* SEARCH 2 84 882\r\n");
        round_trip(b"* SEARCH\r\n");
        round_trip(b"+ Ready for additional command text\r\n");
        round_trip(b"+ YGgGCSqGSIb3EgECAgIAb1kwV6ADAgEFoQMCAQ8=\r\n");
        assert!(decode_response(b"* 0 EXPUNGE\r\n", &DecoderConfig::STRICT).is_err());
    }

    #[test]
    fn flags_and_uid_codes() {
        let r = round_trip(b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n");
        assert!(matches!(&r, Response::Flags(f) if f.len() == 5));
        round_trip(b"* FLAGS ()\r\n");
        let r = round_trip(b"* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Limited\r\n");
        let Response::Status {
            text:
                RespText {
                    code: Some(Code::PermanentFlags(flags)),
                    ..
                },
            ..
        } = r
        else {
            panic!("{r:?}")
        };
        assert_eq!(
            flags,
            vec![
                FlagPerm::Flag(Flag::Deleted),
                FlagPerm::Flag(Flag::Seen),
                FlagPerm::Asterisk
            ]
        );
        round_trip(b"A003 OK [APPENDUID 38505 3955] APPEND completed\r\n");
        round_trip(b"A004 OK [APPENDUID 38505 3955:3957] MULTIAPPEND completed\r\n");
        let r = round_trip(b"A004 OK [COPYUID 38505 304,319:320 3956:3958] Done\r\n");
        assert!(matches!(
            r,
            Response::Status {
                text: RespText {
                    code: Some(Code::CopyUid { .. }),
                    ..
                },
                ..
            }
        ));
        // The two sets of COPYUID pair up; '*' is not a UID.
        assert!(decode_response(b"A1 OK [COPYUID 1 1:3 5] x\r\n", &DecoderConfig::STRICT).is_err());
        assert!(decode_response(b"A1 OK [APPENDUID 1 *] x\r\n", &DecoderConfig::STRICT).is_err());
        assert!(decode_response(b"A1 OK [APPENDUID 0 1] x\r\n", &DecoderConfig::STRICT).is_err());
        // \Recent and \* in FLAGS: refused by the RFC grammar, dropped leniently.
        let odd = b"* FLAGS (\\Seen \\Recent \\*)\r\n";
        assert!(decode_response(odd, &DecoderConfig::STRICT).is_err());
        let (r, _) = decode_response(odd, &DecoderConfig::default())
            .unwrap()
            .complete()
            .unwrap();
        assert_eq!(r, Response::Flags(vec![Flag::Seen]));
    }

    #[test]
    fn encode_into_writes_literals_inline() {
        let lines: [&[u8]; 3] = [
            b"* 1 FETCH (UID 7 BODY[] {11}\r\nhello world BODY[1] {0}\r\n FLAGS (\\Seen))\r\n",
            b"* 2 FETCH (BINARY[1] ~{3}\r\na\0b ENVELOPE (NIL {2}\r\n\r\n NIL NIL NIL NIL NIL NIL NIL NIL))\r\n",
            b"* LIST () \"/\" {5}\r\nab\"cd\r\n",
        ];
        let mut out = Vec::new();
        for line in lines {
            let Ok(Decoded::Complete { value, consumed }) = decode_response(line, &DecoderConfig::STRICT)
            else {
                panic!("{line:?}")
            };
            assert_eq!(consumed, line.len());
            assert!(value.encode().len() > 1, "has literal fragments");
            assert_eq!(to_bytes(&value.encode()), line);
            value.encode_into(&mut out);
        }
        assert_eq!(out, lines.concat());
    }

    /// A response never answers `LiteralAnnounced`: only a command's
    /// literal waits for a continuation request.
    #[test]
    fn responses_with_literals_are_incomplete_until_their_data_is_in() {
        // round_trip checks that every prefix is Incomplete.
        round_trip(b"* 1 FETCH (BODY[] {5}\r\nhello UID 7)\r\n");
        round_trip(b"* LIST () \"/\" {3}\r\na b\r\n");
        round_trip(b"* 2 FETCH (BINARY[] ~{3}\r\na\0b)\r\n");
        // A literal too large for the limits is still refused at its header.
        let mut config = DecoderConfig::STRICT;
        config.limits.literal = 4;
        let e = decode_response(b"* 1 FETCH (BODY[] {5}\r\n", &config).unwrap_err();
        assert!(
            matches!(e.kind, ErrorKind::LiteralTooLarge { length: 5, .. }),
            "{e:?}"
        );
        // A greeting is a status line, which holds no literal: a message
        // with one is refused at its header.
        let e = decode_greeting(b"* 1 FETCH (BODY[] {5}\r\n", &DecoderConfig::STRICT).unwrap_err();
        assert_eq!((e.offset, e.resume_at), (0, None));
    }

    #[test]
    fn greetings() {
        let config = DecoderConfig::STRICT;
        for ok in [
            &b"* OK [CAPABILITY IMAP4rev2 AUTH=PLAIN] Dovecot ready.\r\n"[..],
            b"* PREAUTH IMAP4rev2 server logged in as Smith\r\n",
            b"* BYE Too many connections\r\n",
        ] {
            assert!(matches!(
                decode_greeting(ok, &config).unwrap(),
                Decoded::Complete { .. }
            ));
            assert_eq!(
                decode_greeting(&ok[..ok.len() - 1], &config).unwrap(),
                Decoded::Incomplete
            );
        }
        for bad in [
            &b"* NO go away\r\n"[..],
            b"A1 OK hi\r\n",
            b"* 3 EXISTS\r\n",
            b"+OK POP3 server ready\r\n",
            b"* CAPABILITY IMAP4rev2\r\n",
        ] {
            assert!(decode_greeting(bad, &config).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn leniency_and_resynchronisation() {
        // RFC 9051's resp-text may be empty after its space (RFC 7162's
        // `a107 OK` is sent so), and an empty text encodes that way.
        let r = round_trip(b"a107 OK \r\n");
        assert!(matches!(&r, Response::Status { text, .. } if text.text.is_empty() && text.code.is_none()));
        round_trip(b"* OK [HIGHESTMODSEQ 715194045007] \r\n");
        assert!(decode_response(b"* OK\r\n", &DecoderConfig::STRICT).is_err());
        assert!(matches!(
            decode_response(b"* OK\r\n", &DecoderConfig::default()),
            Ok(Decoded::Complete { .. })
        ));
        assert!(matches!(
            decode_response(b"+\r\n", &DecoderConfig::default()),
            Ok(Decoded::Complete { .. })
        ));
        let stream = b"* 1 FROBNICATE\r\n* 2 EXISTS\r\n";
        let e = decode_response(stream, &DecoderConfig::STRICT).unwrap_err();
        assert_eq!((e.offset, e.resume_at), (4, Some(16)));
        let (r, _) = decode_response(&stream[16..], &DecoderConfig::STRICT)
            .unwrap()
            .complete()
            .unwrap();
        assert_eq!(r, Response::Exists(2));
        let e = decode_response(b"a1 PREAUTH x\r\n", &DecoderConfig::STRICT).unwrap_err();
        assert_eq!(e.tag.unwrap().as_str(), "a1");
    }
}

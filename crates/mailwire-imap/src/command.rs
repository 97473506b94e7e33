//! The home of [`Command`] and what goes with it; the explanation of this
//! part of the grammar is on that type, where the rendered documentation
//! shows it.

use std::fmt;

use nom::Parser;

use crate::acl::RightsModification;
use crate::capability::Capability;
use crate::decode::{DecodeError, Decoded, DecoderConfig, ErrorKind};
use crate::encode::{Encoder, Fragments, LiteralPolicy};
use crate::fetch::Fetch;
use crate::frame::{FrameOptions, Framed, Progress, Side, frame_resume};
use crate::id::IdParams;
use crate::list::List;
use crate::mailbox::{ListMailbox, Mailbox};
use crate::mailbox_cmd::{CreateParameter, RenameParameter, SelectParameter};
use crate::message_cmd::{Append, CopyMove, Store, parse_uid_expunge};
use crate::metadata::{GetMetadata, MetadataEntryValue};
use crate::parse::{PError, PResult, crlf, expect, fail, keyword, sp, too_many};
use crate::quota::QuotaLimit;
use crate::replace::Replace;
use crate::search::Search;
use crate::sequence::SequenceSet;
use crate::sort::{Sort, ThreadCommand};
use crate::status::StatusAttribute;
use crate::string::{AString, Atom, Quoted, Tag};
use crate::{acl, compress, id, list, mailbox_cmd, metadata, quota, status};

/// A value that Debug output never shows: passwords and SASL data.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps a secret.
    pub fn new(value: T) -> Self {
        Secret(value)
    }

    /// The secret. Named so that every use is visible in review.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// SASL data in base64 (RFC 4959 initial responses, AUTHENTICATE lines):
/// `base64 = *(4base64-char) [base64-terminal]`, possibly empty.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Base64<'a>(std::borrow::Cow<'a, str>);

impl<'a> Base64<'a> {
    /// Validates base64 text (RFC 4648 alphabet with padding).
    pub fn new(value: impl Into<std::borrow::Cow<'a, str>>) -> Result<Self, crate::TypeError> {
        let value = value.into();
        let v = value.as_bytes();
        if v.len() % 4 != 0 {
            return Err(crate::TypeError::problem(
                "base64",
                "length must be a multiple of 4",
            ));
        }
        let body = v.len() - v.iter().rev().take(2).take_while(|&&b| b == b'=').count();
        crate::string::check_bytes("base64", &v[..body], |b| {
            b.is_ascii_alphanumeric() || b == b'+' || b == b'/'
        })?;
        Ok(Base64(value))
    }

    /// The base64 text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> Base64<'static> {
        Base64(std::borrow::Cow::Owned(self.0.into_owned()))
    }

    /// `base64`, up to the end of the line (which `input` is).
    fn parse_to_end(input: &'a [u8]) -> PResult<'a, Self> {
        let end = input
            .iter()
            .position(|&b| b == b'\r' || b == b'\n')
            .unwrap_or(input.len());
        let text = std::str::from_utf8(&input[..end]).unwrap_or("\u{0}");
        match Base64::new(text) {
            Ok(b) => Ok((&input[end..], b)),
            Err(e) => fail(&input[e.position.unwrap_or(0).min(end)..], "base64"),
        }
    }
}

impl fmt::Debug for Base64<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Base64(<{} chars>)", self.0.len())
    }
}

/// A command: its tag and what it asks. A server decodes commands
/// ([`decode_command`], or [`CommandReader`] as bytes arrive), a client
/// encodes them ([`Command::encode`]).
///
/// ```text
/// command         = tag SP (command-any / command-auth / command-nonauth /
///                   command-select) CRLF
/// command-any     = "CAPABILITY" / "LOGOUT" / "NOOP"
/// command-nonauth = login / authenticate / "STARTTLS"
/// ```
///
/// Every command of RFC 3501 and RFC 9051 and of the extensions the crate
/// knows is a variant of [`CommandBody`]; the arguments' grammar is with
/// their types (mailbox names, sequence sets, fetch items, search keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command<'a> {
    /// The tag that the completion response repeats.
    pub tag: Tag<'a>,
    /// The command itself.
    pub body: CommandBody<'a>,
}

/// What a command asks.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CommandBody<'a> {
    /// `CAPABILITY`.
    Capability,
    /// `NOOP`.
    Noop,
    /// `LOGOUT`.
    Logout,
    /// `STARTTLS` (RFC 9051 section 6.2.1).
    StartTls,
    /// `AUTHENTICATE auth-type [SP initial-resp]` (RFC 9051 section 6.2.2,
    /// SASL-IR RFC 4959). An initial response of `=` is `Some` and empty.
    Authenticate {
        /// The SASL mechanism.
        mechanism: Atom<'a>,
        /// The initial response.
        initial_response: Option<Secret<Base64<'a>>>,
    },
    /// `LOGIN userid password` (RFC 9051 section 6.2.3).
    Login {
        /// The user name.
        username: AString<'a>,
        /// The password.
        password: Secret<AString<'a>>,
    },
    /// `ENABLE 1*(SP capability)` (RFC 5161, RFC 9051 section 6.3.1).
    Enable(Vec<Capability<'a>>),
    /// `IDLE` (RFC 2177, RFC 9051 section 6.3.13); ends with `DONE`, see
    /// [`decode_idle_done`].
    Idle,
    /// `NAMESPACE` (RFC 2342, RFC 9051 section 6.3.10).
    Namespace,
    /// `CHECK` (IMAP4rev1 only, RFC 3501 section 6.4.1).
    Check,
    /// `CLOSE`.
    Close,
    /// `UNSELECT` (RFC 3691, RFC 9051 section 6.4.2).
    Unselect,
    /// `EXPUNGE`.
    Expunge,
    /// `APPEND` (RFC 9051 section 6.3.12; several messages are RFC 3502
    /// MULTIAPPEND).
    Append(Append<'a>),
    /// `STORE` or `UID STORE` (RFC 9051 section 6.4.6).
    Store {
        /// The arguments.
        store: Store<'a>,
        /// `UID STORE`: the set holds UIDs.
        uid: bool,
    },
    /// `COPY` or `UID COPY` (RFC 9051 section 6.4.7).
    Copy {
        /// The arguments.
        args: CopyMove<'a>,
        /// `UID COPY`: the set holds UIDs.
        uid: bool,
    },
    /// `MOVE` or `UID MOVE` (RFC 6851, RFC 9051 section 6.4.8).
    Move {
        /// The arguments.
        args: CopyMove<'a>,
        /// `UID MOVE`: the set holds UIDs.
        uid: bool,
    },
    /// `UID EXPUNGE sequence-set` (RFC 4315, RFC 9051 section 6.4.9).
    UidExpunge(SequenceSet),
    /// `SEARCH` (RFC 9051 section 6.4.4), or `UID SEARCH` when `uid`.
    Search {
        /// The return options, charset and keys.
        search: Search<'a>,
        /// Whether this is `UID SEARCH` (numbers are UIDs).
        uid: bool,
    },
    /// `LIST` (RFC 9051 section 6.3.9, RFC 5258).
    List(List<'a>),
    /// `LSUB reference pattern` (IMAP4rev1, RFC 3501 section 6.3.9).
    Lsub {
        /// The reference name.
        reference: Mailbox<'a>,
        /// The pattern.
        pattern: ListMailbox<'a>,
    },
    /// `STATUS mailbox (attributes)` (RFC 9051 section 6.3.11).
    Status {
        /// The mailbox.
        mailbox: Mailbox<'a>,
        /// The attributes asked for (one or more).
        attributes: Vec<StatusAttribute<'a>>,
    },
    /// `SELECT mailbox [(params)]` (RFC 9051 section 6.3.2, RFC 4466).
    Select {
        /// The mailbox.
        mailbox: Mailbox<'a>,
        /// The parameters; empty when none were sent.
        parameters: Vec<SelectParameter<'a>>,
    },
    /// `EXAMINE mailbox [(params)]` (RFC 9051 section 6.3.3, RFC 4466).
    Examine {
        /// The mailbox.
        mailbox: Mailbox<'a>,
        /// The parameters; empty when none were sent.
        parameters: Vec<SelectParameter<'a>>,
    },
    /// `CREATE mailbox [(params)]` (RFC 9051 section 6.3.4, RFC 4466,
    /// RFC 6154).
    Create {
        /// The mailbox.
        mailbox: Mailbox<'a>,
        /// The parameters; empty when none were sent.
        parameters: Vec<CreateParameter<'a>>,
    },
    /// `DELETE mailbox` (RFC 9051 section 6.3.5).
    Delete(Mailbox<'a>),
    /// `RENAME from to [(params)]` (RFC 9051 section 6.3.6, RFC 4466).
    Rename {
        /// The existing mailbox.
        from: Mailbox<'a>,
        /// The new name.
        to: Mailbox<'a>,
        /// The parameters; empty when none were sent.
        parameters: Vec<RenameParameter<'a>>,
    },
    /// `SUBSCRIBE mailbox` (RFC 9051 section 6.3.7).
    Subscribe(Mailbox<'a>),
    /// `UNSUBSCRIBE mailbox` (RFC 9051 section 6.3.8).
    Unsubscribe(Mailbox<'a>),
    /// `ESEARCH` (MULTISEARCH, RFC 7377): a search of several mailboxes.
    ESearch(crate::multisearch::MultiSearch<'a>),
    /// `GENURLAUTH` (URLAUTH, RFC 4467): URLs to authorize, each with a
    /// mechanism; at least one.
    GenUrlAuth(Vec<crate::urlauth::GenUrlAuth<'a>>),
    /// `RESETKEY [mailbox *mechanism]` (URLAUTH, RFC 4467): new access
    /// keys, for one mailbox or all.
    ResetKey {
        /// The mailbox; all mailboxes when absent.
        mailbox: Option<Mailbox<'a>>,
        /// The mechanisms whose keys to reset (only with a mailbox); all
        /// when empty.
        mechanisms: Vec<Atom<'a>>,
    },
    /// `URLFETCH` (URLAUTH, RFC 4467; parenthesized arguments with
    /// parameters from URLAUTH=BINARY, RFC 5524): the URLs to fetch; at
    /// least one.
    UrlFetch(Vec<crate::urlauth::UrlFetchRequest<'a>>),
    /// `NOTIFY` (RFC 5465).
    Notify(crate::notify::Notify<'a>),
    /// `FETCH` or `UID FETCH` (RFC 9051 sections 6.4.5 and 6.4.9).
    Fetch {
        /// The arguments.
        fetch: Fetch<'a>,
        /// `UID FETCH`: the sequence set holds UIDs.
        uid: bool,
    },
    /// `SORT` or `UID SORT` (RFC 5256, ESORT RFC 5267).
    Sort {
        /// The return options, criteria, charset and keys.
        sort: Sort<'a>,
        /// `UID SORT`: the numbers of the answer are UIDs.
        uid: bool,
    },
    /// `THREAD` or `UID THREAD` (RFC 5256).
    Thread {
        /// The algorithm, charset and keys.
        thread: ThreadCommand<'a>,
        /// `UID THREAD`: the numbers of the answer are UIDs.
        uid: bool,
    },
    /// `CANCELUPDATE 1*(SP quoted)` (RFC 5267 section 4.3.5): the tags
    /// of the SEARCH or SORT commands whose updates stop.
    CancelUpdate(Vec<Quoted<'a>>),
    /// `ID (field value ...)` or `ID NIL` (RFC 2971): `None` for NIL.
    Id(Option<IdParams<'a>>),
    /// `GETQUOTA quota-root` (RFC 9208).
    GetQuota(AString<'a>),
    /// `GETQUOTAROOT mailbox` (RFC 9208).
    GetQuotaRoot(Mailbox<'a>),
    /// `SETQUOTA quota-root (resource limit ...)` (RFC 9208).
    SetQuota {
        /// The quota root.
        root: AString<'a>,
        /// The limits to set; empty removes them all.
        limits: Vec<QuotaLimit<'a>>,
    },
    /// `SETACL mailbox identifier mod-rights` (RFC 4314).
    SetAcl {
        /// The mailbox.
        mailbox: Mailbox<'a>,
        /// Whose rights change.
        identifier: AString<'a>,
        /// How they change.
        rights: RightsModification<'a>,
    },
    /// `DELETEACL mailbox identifier` (RFC 4314).
    DeleteAcl {
        /// The mailbox.
        mailbox: Mailbox<'a>,
        /// Whose entry goes.
        identifier: AString<'a>,
    },
    /// `GETACL mailbox` (RFC 4314).
    GetAcl(Mailbox<'a>),
    /// `LISTRIGHTS mailbox identifier` (RFC 4314).
    ListRights {
        /// The mailbox.
        mailbox: Mailbox<'a>,
        /// Whose rights.
        identifier: AString<'a>,
    },
    /// `MYRIGHTS mailbox` (RFC 4314).
    MyRights(Mailbox<'a>),
    /// `GETMETADATA [(options)] mailbox entries` (RFC 5464).
    GetMetadata(GetMetadata<'a>),
    /// `SETMETADATA mailbox (entry value ...)` (RFC 5464).
    SetMetadata {
        /// The mailbox; `""` for server annotations.
        mailbox: Mailbox<'a>,
        /// The entries and their new values (NIL removes).
        values: Vec<MetadataEntryValue<'a>>,
    },
    /// `COMPRESS algorithm` (RFC 4978); `DEFLATE` is the one defined.
    Compress(Atom<'a>),
    /// `UNAUTHENTICATE` (RFC 8437): back to the not-authenticated state.
    Unauthenticate,
    /// `REPLACE` or `UID REPLACE` (RFC 8508).
    Replace {
        /// The arguments.
        replace: Replace<'a>,
        /// `UID REPLACE`: the target is a UID.
        uid: bool,
    },
}

impl CommandBody<'_> {
    /// FETCH, STORE and SEARCH by message number, and SORT and THREAD by
    /// number (whose answers are numbers too; RFC 5256 is silent, so
    /// both sessions treat them like SEARCH): a server sends no EXPUNGE
    /// while such a command runs (RFC 9051 section 7.5.1), so a client
    /// may send more of them without waiting.
    pub fn forbids_expunge(&self) -> bool {
        matches!(
            self,
            CommandBody::Fetch { uid: false, .. }
                | CommandBody::Store { uid: false, .. }
                | CommandBody::Search { uid: false, .. }
                | CommandBody::Sort { uid: false, .. }
                | CommandBody::Thread { uid: false, .. }
        )
    }

    /// The arguments hold message sequence numbers: a client waits for
    /// every command in progress that may expunge before sending it (RFC
    /// 9051 section 5.5).
    pub fn uses_sequence_numbers(&self) -> bool {
        self.forbids_expunge()
            || matches!(
                self,
                CommandBody::Copy { uid: false, .. } | CommandBody::Move { uid: false, .. }
            )
    }

    /// The command name, upper case.
    pub fn name(&self) -> &'static str {
        match self {
            CommandBody::Capability => "CAPABILITY",
            CommandBody::Noop => "NOOP",
            CommandBody::Logout => "LOGOUT",
            CommandBody::StartTls => "STARTTLS",
            CommandBody::Authenticate { .. } => "AUTHENTICATE",
            CommandBody::Login { .. } => "LOGIN",
            CommandBody::Enable(_) => "ENABLE",
            CommandBody::Idle => "IDLE",
            CommandBody::Namespace => "NAMESPACE",
            CommandBody::Check => "CHECK",
            CommandBody::Close => "CLOSE",
            CommandBody::Unselect => "UNSELECT",
            CommandBody::Expunge => "EXPUNGE",
            CommandBody::Append(_) => "APPEND",
            CommandBody::Store { uid: false, .. } => "STORE",
            CommandBody::Store { uid: true, .. } => "UID STORE",
            CommandBody::Copy { uid: false, .. } => "COPY",
            CommandBody::Copy { uid: true, .. } => "UID COPY",
            CommandBody::Move { uid: false, .. } => "MOVE",
            CommandBody::Move { uid: true, .. } => "UID MOVE",
            CommandBody::UidExpunge(_) => "UID EXPUNGE",
            CommandBody::Search { uid: false, .. } => "SEARCH",
            CommandBody::Search { uid: true, .. } => "UID SEARCH",
            CommandBody::List(_) => "LIST",
            CommandBody::Lsub { .. } => "LSUB",
            CommandBody::Status { .. } => "STATUS",
            CommandBody::Select { .. } => "SELECT",
            CommandBody::Examine { .. } => "EXAMINE",
            CommandBody::Create { .. } => "CREATE",
            CommandBody::Delete(_) => "DELETE",
            CommandBody::Rename { .. } => "RENAME",
            CommandBody::Subscribe(_) => "SUBSCRIBE",
            CommandBody::Unsubscribe(_) => "UNSUBSCRIBE",
            CommandBody::Notify(_) => "NOTIFY",
            CommandBody::ESearch(_) => "ESEARCH",
            CommandBody::GenUrlAuth(_) => "GENURLAUTH",
            CommandBody::ResetKey { .. } => "RESETKEY",
            CommandBody::UrlFetch(_) => "URLFETCH",
            CommandBody::Fetch { uid: true, .. } => "UID FETCH",
            CommandBody::Fetch { uid: false, .. } => "FETCH",
            CommandBody::Sort { uid: false, .. } => "SORT",
            CommandBody::Sort { uid: true, .. } => "UID SORT",
            CommandBody::Thread { uid: false, .. } => "THREAD",
            CommandBody::Thread { uid: true, .. } => "UID THREAD",
            CommandBody::CancelUpdate(_) => "CANCELUPDATE",
            CommandBody::Id(_) => "ID",
            CommandBody::GetQuota(_) => "GETQUOTA",
            CommandBody::GetQuotaRoot(_) => "GETQUOTAROOT",
            CommandBody::SetQuota { .. } => "SETQUOTA",
            CommandBody::SetAcl { .. } => "SETACL",
            CommandBody::DeleteAcl { .. } => "DELETEACL",
            CommandBody::GetAcl(_) => "GETACL",
            CommandBody::ListRights { .. } => "LISTRIGHTS",
            CommandBody::MyRights(_) => "MYRIGHTS",
            CommandBody::GetMetadata(_) => "GETMETADATA",
            CommandBody::SetMetadata { .. } => "SETMETADATA",
            CommandBody::Compress(_) => "COMPRESS",
            CommandBody::Unauthenticate => "UNAUTHENTICATE",
            CommandBody::Replace { uid: false, .. } => "REPLACE",
            CommandBody::Replace { uid: true, .. } => "UID REPLACE",
        }
    }
}

impl<'a> Command<'a> {
    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> Command<'static> {
        let body = match self.body {
            CommandBody::Authenticate {
                mechanism,
                initial_response,
            } => CommandBody::Authenticate {
                mechanism: mechanism.into_owned(),
                initial_response: initial_response.map(|s| Secret(s.0.into_owned())),
            },
            CommandBody::Login { username, password } => CommandBody::Login {
                username: username.into_owned(),
                password: Secret(password.0.into_owned()),
            },
            CommandBody::Enable(caps) => {
                CommandBody::Enable(caps.into_iter().map(Capability::into_owned).collect())
            }
            CommandBody::Capability => CommandBody::Capability,
            CommandBody::Noop => CommandBody::Noop,
            CommandBody::Logout => CommandBody::Logout,
            CommandBody::StartTls => CommandBody::StartTls,
            CommandBody::Idle => CommandBody::Idle,
            CommandBody::Namespace => CommandBody::Namespace,
            CommandBody::Check => CommandBody::Check,
            CommandBody::Close => CommandBody::Close,
            CommandBody::Unselect => CommandBody::Unselect,
            CommandBody::Expunge => CommandBody::Expunge,
            CommandBody::Append(a) => CommandBody::Append(a.into_owned()),
            CommandBody::Store { store, uid } => CommandBody::Store {
                store: store.into_owned(),
                uid,
            },
            CommandBody::Copy { args, uid } => CommandBody::Copy {
                args: args.into_owned(),
                uid,
            },
            CommandBody::Move { args, uid } => CommandBody::Move {
                args: args.into_owned(),
                uid,
            },
            CommandBody::UidExpunge(set) => CommandBody::UidExpunge(set),
            CommandBody::Search { search, uid } => CommandBody::Search {
                search: search.into_owned(),
                uid,
            },
            CommandBody::List(l) => CommandBody::List(l.into_owned()),
            CommandBody::Lsub { reference, pattern } => CommandBody::Lsub {
                reference: reference.into_owned(),
                pattern: pattern.into_owned(),
            },
            CommandBody::Status { mailbox, attributes } => CommandBody::Status {
                mailbox: mailbox.into_owned(),
                attributes: attributes.into_iter().map(StatusAttribute::into_owned).collect(),
            },
            CommandBody::Select { mailbox, parameters } => CommandBody::Select {
                mailbox: mailbox.into_owned(),
                parameters: parameters.into_iter().map(SelectParameter::into_owned).collect(),
            },
            CommandBody::Examine { mailbox, parameters } => CommandBody::Examine {
                mailbox: mailbox.into_owned(),
                parameters: parameters.into_iter().map(SelectParameter::into_owned).collect(),
            },
            CommandBody::Create { mailbox, parameters } => CommandBody::Create {
                mailbox: mailbox.into_owned(),
                parameters: parameters.into_iter().map(CreateParameter::into_owned).collect(),
            },
            CommandBody::Delete(m) => CommandBody::Delete(m.into_owned()),
            CommandBody::Rename { from, to, parameters } => CommandBody::Rename {
                from: from.into_owned(),
                to: to.into_owned(),
                parameters: parameters.into_iter().map(RenameParameter::into_owned).collect(),
            },
            CommandBody::Subscribe(m) => CommandBody::Subscribe(m.into_owned()),
            CommandBody::Unsubscribe(m) => CommandBody::Unsubscribe(m.into_owned()),
            CommandBody::Fetch { fetch, uid } => CommandBody::Fetch {
                fetch: fetch.into_owned(),
                uid,
            },
            CommandBody::Sort { sort, uid } => CommandBody::Sort {
                sort: sort.into_owned(),
                uid,
            },
            CommandBody::Thread { thread, uid } => CommandBody::Thread {
                thread: thread.into_owned(),
                uid,
            },
            CommandBody::CancelUpdate(tags) => {
                CommandBody::CancelUpdate(tags.into_iter().map(Quoted::into_owned).collect())
            }
            CommandBody::Id(params) => CommandBody::Id(id::owned(params)),
            CommandBody::GetQuota(root) => CommandBody::GetQuota(root.into_owned()),
            CommandBody::GetQuotaRoot(m) => CommandBody::GetQuotaRoot(m.into_owned()),
            CommandBody::SetQuota { root, limits } => CommandBody::SetQuota {
                root: root.into_owned(),
                limits: limits.into_iter().map(QuotaLimit::into_owned).collect(),
            },
            CommandBody::SetAcl {
                mailbox,
                identifier,
                rights,
            } => CommandBody::SetAcl {
                mailbox: mailbox.into_owned(),
                identifier: identifier.into_owned(),
                rights: rights.into_owned(),
            },
            CommandBody::DeleteAcl { mailbox, identifier } => CommandBody::DeleteAcl {
                mailbox: mailbox.into_owned(),
                identifier: identifier.into_owned(),
            },
            CommandBody::GetAcl(m) => CommandBody::GetAcl(m.into_owned()),
            CommandBody::ListRights { mailbox, identifier } => CommandBody::ListRights {
                mailbox: mailbox.into_owned(),
                identifier: identifier.into_owned(),
            },
            CommandBody::MyRights(m) => CommandBody::MyRights(m.into_owned()),
            CommandBody::GetMetadata(g) => CommandBody::GetMetadata(g.into_owned()),
            CommandBody::SetMetadata { mailbox, values } => CommandBody::SetMetadata {
                mailbox: mailbox.into_owned(),
                values: values.into_iter().map(MetadataEntryValue::into_owned).collect(),
            },
            CommandBody::Compress(a) => CommandBody::Compress(a.into_owned()),
            CommandBody::Unauthenticate => CommandBody::Unauthenticate,
            CommandBody::Replace { replace, uid } => CommandBody::Replace {
                replace: replace.into_owned(),
                uid,
            },
            CommandBody::Notify(n) => CommandBody::Notify(n.into_owned()),
            CommandBody::ESearch(s) => CommandBody::ESearch(s.into_owned()),
            CommandBody::GenUrlAuth(items) => CommandBody::GenUrlAuth(
                items
                    .into_iter()
                    .map(crate::urlauth::GenUrlAuth::into_owned)
                    .collect(),
            ),
            CommandBody::ResetKey { mailbox, mechanisms } => CommandBody::ResetKey {
                mailbox: mailbox.map(Mailbox::into_owned),
                mechanisms: mechanisms.into_iter().map(Atom::into_owned).collect(),
            },
            CommandBody::UrlFetch(urls) => CommandBody::UrlFetch(
                urls.into_iter()
                    .map(crate::urlauth::UrlFetchRequest::into_owned)
                    .collect(),
            ),
        };
        Command {
            tag: self.tag.into_owned(),
            body,
        }
    }

    /// Encodes the command into line and literal fragments for a server
    /// that accepts `policy`.
    pub fn encode(&self, policy: LiteralPolicy) -> Fragments<'_> {
        let mut e = Encoder::new(policy);
        self.encode_to(&mut e, false);
        e.finish()
    }

    /// Writes the command; with `redact`, credentials (a LOGIN password, an
    /// AUTHENTICATE initial response) as `<redacted>`.
    fn encode_to<'e>(&'e self, e: &mut Encoder<'e>, redact: bool) {
        e.put(self.tag.as_str().as_bytes());
        e.put(b" ");
        e.put(self.body.name().as_bytes());
        match &self.body {
            CommandBody::Authenticate {
                mechanism,
                initial_response,
            } => {
                e.put(b" ");
                e.put(mechanism.as_str().as_bytes());
                if let Some(ir) = initial_response {
                    e.put(b" ");
                    let text = ir.expose().as_str();
                    e.put(match () {
                        () if redact => b"<redacted>",
                        () if text.is_empty() => b"=",
                        () => text.as_bytes(),
                    });
                }
            }
            CommandBody::Login { username, password } => {
                e.put(b" ");
                username.encode(e);
                e.put(b" ");
                if redact {
                    e.put(b"<redacted>");
                } else {
                    password.expose().encode(e);
                }
            }
            CommandBody::Enable(caps) => crate::capability::encode_list(caps, e),
            CommandBody::Append(a) => a.encode(e),
            CommandBody::Store { store, .. } => store.encode(e),
            CommandBody::Copy { args, .. } | CommandBody::Move { args, .. } => args.encode(e),
            CommandBody::UidExpunge(set) => {
                e.put(b" ");
                set.encode(e.line());
            }
            CommandBody::Search { search, .. } => search.encode(e),
            CommandBody::List(l) => l.encode(e),
            CommandBody::Lsub { reference, pattern } => list::encode_lsub(reference, pattern, e),
            CommandBody::Status { mailbox, attributes } => status::encode_command(mailbox, attributes, e),
            CommandBody::Select { mailbox, parameters } | CommandBody::Examine { mailbox, parameters } => {
                mailbox_cmd::encode_select(mailbox, parameters, e)
            }
            CommandBody::Create { mailbox, parameters } => mailbox_cmd::encode_create(mailbox, parameters, e),
            CommandBody::Rename { from, to, parameters } => {
                mailbox_cmd::encode_rename(from, to, parameters, e)
            }
            CommandBody::Delete(m) | CommandBody::Subscribe(m) | CommandBody::Unsubscribe(m) => {
                mailbox_cmd::encode_mailbox_arg(m, e)
            }
            CommandBody::Fetch { fetch, .. } => {
                e.put(b" ");
                fetch.encode(e);
            }
            CommandBody::Sort { sort, .. } => sort.encode(e),
            CommandBody::Thread { thread, .. } => thread.encode(e),
            CommandBody::CancelUpdate(tags) => crate::context::encode_cancel_update(tags, e),
            CommandBody::Id(params) => id::encode_id_params(params, e),
            CommandBody::GetQuota(root) => {
                e.put(b" ");
                root.encode(e);
            }
            CommandBody::SetQuota { root, limits } => quota::encode_setquota(root, limits, e),
            CommandBody::SetAcl {
                mailbox,
                identifier,
                rights,
            } => {
                acl::encode_mailbox_identifier(mailbox, identifier, e);
                e.put(b" ");
                rights.encode(e);
            }
            CommandBody::DeleteAcl { mailbox, identifier }
            | CommandBody::ListRights { mailbox, identifier } => {
                acl::encode_mailbox_identifier(mailbox, identifier, e)
            }
            CommandBody::GetQuotaRoot(m) | CommandBody::GetAcl(m) | CommandBody::MyRights(m) => {
                mailbox_cmd::encode_mailbox_arg(m, e)
            }
            CommandBody::GetMetadata(g) => g.encode(e),
            CommandBody::SetMetadata { mailbox, values } => metadata::encode_setmetadata(mailbox, values, e),
            CommandBody::Compress(algorithm) => {
                e.put(b" ");
                e.put(algorithm.as_str().as_bytes());
            }
            CommandBody::Replace { replace, .. } => replace.encode(e),
            CommandBody::Notify(n) => n.encode(e),
            CommandBody::ESearch(s) => s.encode(e),
            CommandBody::GenUrlAuth(items) => crate::urlauth::encode_genurlauth(items, e),
            CommandBody::ResetKey { mailbox, mechanisms } => {
                crate::urlauth::encode_resetkey(mailbox, mechanisms, e)
            }
            CommandBody::UrlFetch(urls) => crate::urlauth::encode_urlfetch(urls, e),
            CommandBody::Capability
            | CommandBody::Noop
            | CommandBody::Logout
            | CommandBody::StartTls
            | CommandBody::Idle
            | CommandBody::Namespace
            | CommandBody::Check
            | CommandBody::Close
            | CommandBody::Unselect
            | CommandBody::Expunge
            | CommandBody::Unauthenticate => {}
        }
    }
}

/// The wire form without the final CRLF, literal data in place, except
/// that credentials never show: a LOGIN password and an AUTHENTICATE
/// initial response print as `<redacted>` (the bytes to send come from
/// [`Command::encode`]).
///
/// ```
/// use mailwire_imap::Command;
///
/// let command = mailwire_imap::decode_command(b"a1 LOGIN ann \"s3cret\"\r\n", &Default::default())?
///     .complete()
///     .unwrap()
///     .0;
/// assert_eq!(command.to_string(), "a1 LOGIN ann <redacted>");
/// # let _: &Command = &command;
/// # Ok::<(), mailwire_imap::DecodeError>(())
/// ```
impl fmt::Display for Command<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::encode::fmt_wire(f, |e| self.encode_to(e, true))
    }
}

/// `command = tag SP (command-any / command-auth / command-nonauth /
/// command-select) CRLF`, for the commands this module knows so far.
fn command<'a>(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, Command<'a>> {
    let leniency = &config.leniency;
    let (rest, tag) = expect("tag", Tag::parse).parse(input)?;
    let (rest, _) = sp(rest)?;
    let name_len = rest.iter().take_while(|b| b.is_ascii_alphabetic()).count();
    let name = rest[..name_len].to_ascii_uppercase();
    let after = &rest[name_len..];
    let simple = |body| Ok((after, body));
    // fetch = "FETCH" SP sequence-set SP (...) [fetch-modifiers]
    let (rest, body) = match name.as_slice() {
        b"CAPABILITY" => simple(CommandBody::Capability),
        b"NOOP" => simple(CommandBody::Noop),
        b"LOGOUT" => simple(CommandBody::Logout),
        b"STARTTLS" => simple(CommandBody::StartTls),
        b"IDLE" => simple(CommandBody::Idle),
        b"NAMESPACE" => simple(CommandBody::Namespace),
        b"CHECK" => simple(CommandBody::Check),
        b"CLOSE" => simple(CommandBody::Close),
        b"UNSELECT" => simple(CommandBody::Unselect),
        b"EXPUNGE" => simple(CommandBody::Expunge),
        // authenticate = "AUTHENTICATE" SP auth-type [SP initial-resp]
        // initial-resp = (base64 / "=")
        b"AUTHENTICATE" => {
            let (r, _) = sp(after)?;
            let (r, mechanism) = expect("SASL mechanism", Atom::parse).parse(r)?;
            let (r, initial_response) = match r.first() {
                Some(b' ') => {
                    let r = &r[1..];
                    if r.first() == Some(&b'=') {
                        (&r[1..], Some(Secret(Base64(std::borrow::Cow::Borrowed("")))))
                    } else {
                        let (r, data) = Base64::parse_to_end(r)?;
                        (r, Some(Secret(data)))
                    }
                }
                _ => (r, None),
            };
            Ok((
                r,
                CommandBody::Authenticate {
                    mechanism,
                    initial_response,
                },
            ))
        }
        // login = "LOGIN" SP userid SP password
        b"LOGIN" => {
            let (r, _) = sp(after)?;
            let (r, username) = expect("user name", |i| AString::parse(i, leniency)).parse(r)?;
            let (r, _) = sp(r)?;
            let (r, password) = expect("password", |i| AString::parse(i, leniency)).parse(r)?;
            Ok((
                r,
                CommandBody::Login {
                    username,
                    password: Secret(password),
                },
            ))
        }
        // enable = "ENABLE" 1*(SP capability)
        b"ENABLE" => {
            let mut caps = Vec::new();
            let mut r = after;
            while let Some(next) = r.strip_prefix(b" ") {
                if caps.len() == config.limits.list {
                    return too_many(r, config.limits.list, "end of line");
                }
                let (n, cap) = expect("capability", Capability::parse).parse(next)?;
                caps.push(cap);
                r = n;
            }
            if caps.is_empty() {
                return fail(r, "space and capability");
            }
            Ok((r, CommandBody::Enable(caps)))
        }
        b"LIST" => List::parse(after, config).map(|(r, l)| (r, CommandBody::List(l))),
        b"LSUB" => list::parse_lsub(after, config)
            .map(|(r, (reference, pattern))| (r, CommandBody::Lsub { reference, pattern })),
        b"STATUS" => status::parse_command(after, config)
            .map(|(r, (mailbox, attributes))| (r, CommandBody::Status { mailbox, attributes })),
        b"SELECT" => mailbox_cmd::parse_select(after, config)
            .map(|(r, (mailbox, parameters))| (r, CommandBody::Select { mailbox, parameters })),
        b"EXAMINE" => mailbox_cmd::parse_select(after, config)
            .map(|(r, (mailbox, parameters))| (r, CommandBody::Examine { mailbox, parameters })),
        b"CREATE" => mailbox_cmd::parse_create(after, config)
            .map(|(r, (mailbox, parameters))| (r, CommandBody::Create { mailbox, parameters })),
        b"DELETE" => mailbox_cmd::parse_mailbox_arg(after, config).map(|(r, m)| (r, CommandBody::Delete(m))),
        b"RENAME" => mailbox_cmd::parse_rename(after, config)
            .map(|(r, (from, to, parameters))| (r, CommandBody::Rename { from, to, parameters })),
        b"SUBSCRIBE" => {
            mailbox_cmd::parse_mailbox_arg(after, config).map(|(r, m)| (r, CommandBody::Subscribe(m)))
        }
        b"UNSUBSCRIBE" => {
            mailbox_cmd::parse_mailbox_arg(after, config).map(|(r, m)| (r, CommandBody::Unsubscribe(m)))
        }
        b"APPEND" => Append::parse(after, config).map(|(r, a)| (r, CommandBody::Append(a))),
        b"NOTIFY" => crate::notify::Notify::parse(after, config).map(|(r, n)| (r, CommandBody::Notify(n))),
        b"GENURLAUTH" => {
            crate::urlauth::parse_genurlauth(after, config).map(|(r, g)| (r, CommandBody::GenUrlAuth(g)))
        }
        b"RESETKEY" => crate::urlauth::parse_resetkey(after, config)
            .map(|(r, (mailbox, mechanisms))| (r, CommandBody::ResetKey { mailbox, mechanisms })),
        b"URLFETCH" => {
            crate::urlauth::parse_urlfetch(after, config).map(|(r, u)| (r, CommandBody::UrlFetch(u)))
        }
        b"ESEARCH" => {
            crate::multisearch::MultiSearch::parse(after, config).map(|(r, s)| (r, CommandBody::ESearch(s)))
        }
        b"UID" => uid_command(after, config),
        b"CANCELUPDATE" => {
            crate::context::parse_cancel_update(after, config).map(|(r, t)| (r, CommandBody::CancelUpdate(t)))
        }
        b"UNAUTHENTICATE" => simple(CommandBody::Unauthenticate),
        b"ID" => id::parse_id(after, config).map(|(r, p)| (r, CommandBody::Id(p))),
        b"GETQUOTA" => quota::parse_getquota(after, config).map(|(r, q)| (r, CommandBody::GetQuota(q))),
        b"GETQUOTAROOT" => {
            mailbox_cmd::parse_mailbox_arg(after, config).map(|(r, m)| (r, CommandBody::GetQuotaRoot(m)))
        }
        b"SETQUOTA" => quota::parse_setquota(after, config)
            .map(|(r, (root, limits))| (r, CommandBody::SetQuota { root, limits })),
        b"SETACL" => acl::parse_setacl(after, config).map(|(r, (mailbox, identifier, rights))| {
            (
                r,
                CommandBody::SetAcl {
                    mailbox,
                    identifier,
                    rights,
                },
            )
        }),
        b"DELETEACL" => acl::parse_mailbox_identifier(after, config)
            .map(|(r, (mailbox, identifier))| (r, CommandBody::DeleteAcl { mailbox, identifier })),
        b"GETACL" => mailbox_cmd::parse_mailbox_arg(after, config).map(|(r, m)| (r, CommandBody::GetAcl(m))),
        b"LISTRIGHTS" => acl::parse_mailbox_identifier(after, config)
            .map(|(r, (mailbox, identifier))| (r, CommandBody::ListRights { mailbox, identifier })),
        b"MYRIGHTS" => {
            mailbox_cmd::parse_mailbox_arg(after, config).map(|(r, m)| (r, CommandBody::MyRights(m)))
        }
        b"GETMETADATA" => GetMetadata::parse(after, config).map(|(r, g)| (r, CommandBody::GetMetadata(g))),
        b"SETMETADATA" => metadata::parse_setmetadata(after, config)
            .map(|(r, (mailbox, values))| (r, CommandBody::SetMetadata { mailbox, values })),
        b"COMPRESS" => compress::parse_compress(after).map(|(r, a)| (r, CommandBody::Compress(a))),
        _ => simple_or_uid(after, &name, false, config).unwrap_or_else(|| fail(rest, "command name")),
    }?;
    let rest = crate::parse::skip_extra_spaces(rest, leniency.extra_spaces);
    let (rest, ()) = crlf(leniency.bare_lf)(rest)?;
    Ok((rest, Command { tag, body }))
}

/// The commands that have a UID form, by name: `None` for other names.
fn simple_or_uid<'a>(
    after: &'a [u8],
    name: &[u8],
    uid: bool,
    config: &DecoderConfig,
) -> Option<PResult<'a, CommandBody<'a>>> {
    Some(match name {
        b"STORE" => Store::parse(after, config).map(|(r, store)| (r, CommandBody::Store { store, uid })),
        b"COPY" => CopyMove::parse(after, config).map(|(r, args)| (r, CommandBody::Copy { args, uid })),
        b"MOVE" => CopyMove::parse(after, config).map(|(r, args)| (r, CommandBody::Move { args, uid })),
        b"EXPUNGE" if uid => parse_uid_expunge(after, config).map(|(r, s)| (r, CommandBody::UidExpunge(s))),
        b"SEARCH" => Search::parse(after, config).map(|(r, search)| (r, CommandBody::Search { search, uid })),
        b"REPLACE" => {
            Replace::parse(after, config).map(|(r, replace)| (r, CommandBody::Replace { replace, uid }))
        }
        b"FETCH" => sp(after)
            .and_then(|(r, _)| Fetch::parse(r, config))
            .map(|(r, fetch)| (r, CommandBody::Fetch { fetch, uid })),
        b"SORT" => Sort::parse(after, config).map(|(r, sort)| (r, CommandBody::Sort { sort, uid })),
        b"THREAD" => {
            ThreadCommand::parse(after, config).map(|(r, thread)| (r, CommandBody::Thread { thread, uid }))
        }
        _ => return None,
    })
}

/// `uid = "UID" SP (copy / move / fetch / search / store / uid-expunge)`,
/// with `sort` and `thread` (RFC 5256) and `uid-replace` (RFC 8508),
/// after `UID`.
fn uid_command<'a>(input: &'a [u8], config: &DecoderConfig) -> PResult<'a, CommandBody<'a>> {
    let (rest, _) = sp(input)?;
    let len = rest.iter().take_while(|b| b.is_ascii_alphabetic()).count();
    let name = rest[..len].to_ascii_uppercase();
    simple_or_uid(&rest[len..], &name, true, config).unwrap_or_else(|| {
        fail(
            rest,
            "a command with a UID form (FETCH, STORE, COPY, MOVE, SEARCH, SORT, THREAD, EXPUNGE, REPLACE)",
        )
    })
}

/// Decodes one command.
///
/// Answers [`Decoded::LiteralAnnounced`] while a literal's data has not
/// all arrived, so a server can send a continuation request (or refuse)
/// for a synchronizing literal; the same announcement repeats, with the
/// same `data_start`, until the data is there.
///
/// Each call frames the input from its first byte. A server that calls
/// again as more of a long command arrives uses a [`CommandReader`],
/// which resumes where it stopped.
pub fn decode_command<'a>(
    input: &'a [u8],
    config: &DecoderConfig,
) -> Result<Decoded<Command<'a>>, DecodeError> {
    decode_command_from(input, config, FrameOptions::default(), &mut Progress::default())
}

fn decode_command_from<'a>(
    input: &'a [u8],
    config: &DecoderConfig,
    options: FrameOptions,
    progress: &mut Progress,
) -> Result<Decoded<Command<'a>>, DecodeError> {
    let len = match frame_resume(input, Side::Command, config, options, progress)? {
        Framed::Complete(len) => len,
        // Stream comes only with FrameOptions::stream, which is not set here.
        Framed::Incomplete | Framed::Stream { .. } => return Ok(Decoded::Incomplete),
        Framed::Literal(a) => return Ok(Decoded::LiteralAnnounced(a)),
    };
    let message = &input[..len];
    match command(message, config) {
        Ok(([], value)) => Ok(Decoded::Complete { value, consumed: len }),
        Ok((rest, _)) => Err(finish_error(PError::at(rest, "end of command"), message)),
        Err(nom::Err::Error(e) | nom::Err::Failure(e)) => Err(finish_error(e, message)),
        Err(nom::Err::Incomplete(_)) => Err(finish_error(PError::at(b"", "complete command"), message)),
    }
}

/// Reads a client's commands as they arrive in pieces: [`decode_command`]
/// with memory of how far the current command has been framed, so that a
/// command delivered in small pieces (a 10 MB command of a million small
/// literals, say) costs time linear in its size instead of being scanned
/// again from its first byte at every call.
///
/// Pass the bytes not yet consumed, starting with the current command;
/// between calls, append what arrives and drop only what a
/// [`Decoded::Complete`] consumed (or what an error's `resume_at` skips).
/// Handing it an input shorter than the last one starts the framing over,
/// so misuse costs time, never a wrong answer.
#[derive(Debug, Clone)]
pub struct CommandReader {
    config: DecoderConfig,
    progress: Progress,
}

impl CommandReader {
    /// A reader with the given configuration.
    pub fn new(config: DecoderConfig) -> Self {
        CommandReader {
            config,
            progress: Progress::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &DecoderConfig {
        &self.config
    }

    /// Decodes the next command from `input`: the same answers as
    /// [`decode_command`].
    pub fn decode<'a>(&mut self, input: &'a [u8]) -> Result<Decoded<Command<'a>>, DecodeError> {
        decode_command_from(input, &self.config, FrameOptions::default(), &mut self.progress)
    }

    /// [`CommandReader::decode`], announcing every literal whose data
    /// starts after `after`, even when its data has arrived: a server asks
    /// about each synchronizing literal before it reads it (whether or not
    /// the client waited), and streams APPEND's messages.
    pub(crate) fn decode_announcing<'a>(
        &mut self,
        input: &'a [u8],
        after: usize,
    ) -> Result<Decoded<Command<'a>>, DecodeError> {
        let options = FrameOptions {
            announce_after: Some(after),
            ..FrameOptions::default()
        };
        decode_command_from(input, &self.config, options, &mut self.progress)
    }

    /// Forgets how far the current command was framed (after the caller
    /// dropped bytes other than what the reader told it to).
    pub fn reset(&mut self) {
        self.progress = Progress::default();
    }
}

fn finish_error(e: PError, message: &[u8]) -> DecodeError {
    let mut d = e.into_decode_error(message);
    d.tag = crate::string::peek_tag(message);
    d.resume_at = Some(message.len());
    d
}

/// A client line during AUTHENTICATE: base64 data or `*` to cancel
/// (RFC 9051 section 6.2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthenticateData<'a> {
    /// Data answering a challenge.
    Continue(Secret<Base64<'a>>),
    /// `*`: the client cancels.
    Cancel,
}

impl AuthenticateData<'_> {
    /// The line a client sends: `base64 CRLF` (an empty response is an
    /// empty line) or `* CRLF`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = match self {
            AuthenticateData::Continue(data) => data.expose().as_str().as_bytes().to_vec(),
            AuthenticateData::Cancel => b"*".to_vec(),
        };
        out.extend_from_slice(b"\r\n");
        out
    }

    /// Converts to a value that owns its data.
    pub fn into_owned(self) -> AuthenticateData<'static> {
        match self {
            AuthenticateData::Continue(data) => AuthenticateData::Continue(Secret(data.0.into_owned())),
            AuthenticateData::Cancel => AuthenticateData::Cancel,
        }
    }
}

/// Decodes a client line during AUTHENTICATE.
pub fn decode_authenticate_data<'a>(
    input: &'a [u8],
    config: &DecoderConfig,
) -> Result<Decoded<AuthenticateData<'a>>, DecodeError> {
    let len = match frame_line(input, config)? {
        Some(len) => len,
        None => return Ok(Decoded::Incomplete),
    };
    let line = &input[..len];
    let content = line
        .strip_suffix(b"\r\n")
        .or_else(|| line.strip_suffix(b"\n"))
        .unwrap_or(line);
    if content == b"*" {
        return Ok(Decoded::Complete {
            value: AuthenticateData::Cancel,
            consumed: len,
        });
    }
    match Base64::parse_to_end(content) {
        Ok((_, data)) => Ok(Decoded::Complete {
            value: AuthenticateData::Continue(Secret(data)),
            consumed: len,
        }),
        Err(nom::Err::Error(e) | nom::Err::Failure(e)) => {
            let mut d = e.into_decode_error(content);
            d.resume_at = Some(len);
            Err(d)
        }
        Err(nom::Err::Incomplete(_)) => Ok(Decoded::Incomplete),
    }
}

/// Decodes the `DONE` line that ends IDLE (RFC 2177): `idle = "IDLE" CRLF
/// "DONE"`, case-insensitive.
pub fn decode_idle_done(input: &[u8], config: &DecoderConfig) -> Result<Decoded<()>, DecodeError> {
    let Some(len) = frame_line(input, config)? else {
        return Ok(Decoded::Incomplete);
    };
    let parsed = (keyword("DONE"), crlf(config.leniency.bare_lf)).parse(&input[..len]);
    match parsed {
        Ok(([], _)) => Ok(Decoded::Complete {
            value: (),
            consumed: len,
        }),
        _ => {
            let mut d = DecodeError::syntax(input, 0, "DONE");
            d.resume_at = Some(len);
            Err(d)
        }
    }
}

/// The length of the first line (no literals here), terminator included.
fn frame_line(input: &[u8], config: &DecoderConfig) -> Result<Option<usize>, DecodeError> {
    let window = &input[..input.len().min(config.limits.command_line)];
    let found = memchr::memchr(b'\n', window);
    #[cfg(test)]
    crate::frame::SCANNED.with(|s| s.set(s.get() + found.map_or(window.len(), |i| i + 1)));
    match found {
        Some(lf) if lf > 0 && input[lf - 1] == b'\r' || config.leniency.bare_lf => Ok(Some(lf + 1)),
        Some(lf) => {
            let mut d = DecodeError::syntax(input, lf, "CR before LF");
            d.resume_at = Some(lf + 1);
            Err(d)
        }
        None if input.len() >= config.limits.command_line => {
            let mut e = DecodeError::new(
                ErrorKind::LineTooLong {
                    limit: config.limits.command_line,
                },
                input,
                config.limits.command_line,
                "line end",
            );
            // Whether the octet past the limit has arrived depends on the
            // reads: the error names none.
            e.found = None;
            Err(e)
        }
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::LiteralMode;
    use crate::encode::to_bytes;

    fn decode(input: &[u8]) -> Command<'_> {
        match decode_command(input, &DecoderConfig::STRICT).unwrap() {
            Decoded::Complete { value, consumed } => {
                assert_eq!(consumed, input.len());
                value
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rfc9051_examples_round_trip() {
        // RFC 9051 sections 6.1 to 6.4 examples.
        for line in [
            &b"abcd CAPABILITY\r\n"[..],
            b"a002 NOOP\r\n",
            b"A023 LOGOUT\r\n",
            b"a001 STARTTLS\r\n",
            b"A001 AUTHENTICATE GSSAPI\r\n",
            b"A001 AUTHENTICATE PLAIN dGVzdAB0ZXN0AHRlc3Q=\r\n",
            b"A001 AUTHENTICATE EXTERNAL =\r\n",
            b"a001 LOGIN SMITH SESAME\r\n",
            b"t1 ENABLE CONDSTORE X-GOOD-IDEA\r\n",
            b"a002 IDLE\r\n",
            b"A001 NAMESPACE\r\n",
            b"FXXZ CHECK\r\n",
            b"A341 CLOSE\r\n",
            b"A342 UNSELECT\r\n",
            b"A202 EXPUNGE\r\n",
        ] {
            let c = decode(line);
            assert_eq!(to_bytes(&c.encode(LiteralPolicy::SyncOnly)), line, "{c:?}");
        }
    }

    #[test]
    fn login_with_literals_and_announcements() {
        let input = b"A1 LOGIN {5}\r\nfred! {6}\r\nsecret\r\n";
        for i in 0..input.len() {
            match decode_command(&input[..i], &DecoderConfig::STRICT).unwrap() {
                Decoded::Incomplete => assert!(i < 14 || (19..25).contains(&i) || i >= 31, "{i}"),
                Decoded::LiteralAnnounced(a) => {
                    assert_eq!(a.tag.as_ref().unwrap().as_str(), "A1");
                    assert_eq!(a.mode, LiteralMode::Sync);
                    assert!(a.data_start == 14 || a.data_start == 25, "{i}: {a:?}");
                }
                Decoded::Complete { .. } => panic!("complete at {i}"),
            }
        }
        let c = decode(input);
        let CommandBody::Login { username, password } = &c.body else {
            panic!()
        };
        assert_eq!(
            (username.as_bytes(), password.expose().as_bytes()),
            (&b"fred!"[..], &b"secret"[..])
        );
        assert!(!format!("{c:?}").contains("secret"));
        let fragments = c.encode(LiteralPolicy::SyncOnly);
        assert_eq!(fragments.len(), 5);
        assert_eq!(to_bytes(&fragments), input);
    }

    #[test]
    fn errors_carry_tag_offset_and_resume_point() {
        let e = decode_command(b"A1 LOGIN fred\r\nA2 NOOP\r\n", &DecoderConfig::STRICT).unwrap_err();
        assert_eq!(
            (e.offset, e.tag.as_ref().unwrap().as_str(), e.resume_at),
            (13, "A1", Some(15))
        );
        let e = decode_command(b"A1 FROB\r\n", &DecoderConfig::STRICT).unwrap_err();
        assert_eq!((e.offset, e.expected), (3, "command name"));
        let e = decode_command(b"A1 NOOP \r\n", &DecoderConfig::STRICT).unwrap_err();
        assert_eq!(e.offset, 7);
        assert!(matches!(
            decode_command(b"A1 NOOP \r\n", &DecoderConfig::default()),
            Ok(Decoded::Complete { .. })
        ));
        let e = decode_command(b"A1 ENABLE\r\n", &DecoderConfig::STRICT).unwrap_err();
        assert_eq!(e.offset, 9);
    }

    #[test]
    fn authenticate_lines_and_done() {
        let cfg = DecoderConfig::STRICT;
        let (d, n) = decode_authenticate_data(b"dGVzdA==\r\n", &cfg)
            .unwrap()
            .complete()
            .unwrap();
        assert_eq!(n, 10);
        assert!(matches!(d, AuthenticateData::Continue(_)));
        let (d, _) = decode_authenticate_data(b"*\r\n", &cfg)
            .unwrap()
            .complete()
            .unwrap();
        assert_eq!(d, AuthenticateData::Cancel);
        assert!(decode_authenticate_data(b"not base64\r\n", &cfg).is_err());
        assert_eq!(
            decode_authenticate_data(b"dGVz", &cfg).unwrap(),
            Decoded::Incomplete
        );
        assert_eq!(
            decode_idle_done(b"done\r\n", &cfg).unwrap(),
            Decoded::Complete {
                value: (),
                consumed: 6
            }
        );
        assert_eq!(decode_idle_done(b"DON", &cfg).unwrap(), Decoded::Incomplete);
        assert_eq!(
            decode_idle_done(b"A1 NOOP\r\n", &cfg).unwrap_err().resume_at,
            Some(9)
        );
    }
}

//! The commands, run against the mailbox model on the blocking pool: each
//! takes the user's [`Work`] (account and selected mailbox) and returns
//! what the session should send, as [`Answer`]s and a completion. Nothing
//! here touches the session or the network.

use std::num::NonZeroU32;
use std::sync::Arc;

use mailwire::imap::server::{Enabled, MailboxSnapshot as ImapSnapshot};
use mailwire::imap::{
    AString, AppendData, CatPart, Code, Command, CommandBody, ContextUpdate, ESearch, FetchItem,
    FetchModifier, Flag, FlagFetch, FlagPerm, IString, ImapUrl, List, ListMailbox, ListPatterns,
    ListReturnOption, ListSelectOption, Mailbox, MailboxAttribute, MailboxList, MessageDataItem,
    NamespaceDescription, NamespaceResponse, ObjectId, QResync, Quota, QuotaResource, QuotaRoot, QuotaUsage,
    Quoted, RespText, Response, SearchKey, SearchReturnData, SearchReturnOption, SelectParameter, Status,
    StatusAttribute, StoreAction, StoreModifier, UidSet, UrlForm, list_pattern_matches,
};
use mailwire::mailbox::analysis::{analyze, extract_section, to_crlf};
use mailwire::mailbox::search::{Search, SearchError, SearchScope};
use mailwire::mailbox::sort::SortError;
use mailwire::mailbox::{
    Account, FlagAction, Flags, MailboxEntry, MailboxName, ModSeq, Notification, SelectMode, SelectedMailbox,
    SpecialUse, StoreCondition, StoreError, StoreFlags, Uid,
};

use super::cache::{Structure, StructureCache};
use super::fetch;
use crate::users::QuotaRule;

/// The hierarchy delimiter on the wire (the model's).
pub const DELIMITER: char = '/';

/// What the connection keeps of a logged-in user.
pub struct Work {
    /// The account.
    pub account: Account,
    /// The selected (or examined) mailbox.
    pub selected: Option<SelectedMailbox>,
    /// The user's limits.
    pub quota: QuotaRule,
    /// The largest message APPEND takes (CATENATE's result included).
    pub append_limit: u64,
    /// The server's cache of message structures.
    pub structures: Arc<StructureCache>,
    /// The searches kept up to date (CONTEXT=SEARCH), for the selected
    /// mailbox.
    pub live: Vec<LiveSearch>,
}

/// The name of the one quota root each user has (RFC 9208).
const QUOTA_ROOT: &str = "User quota";

impl Work {
    /// What the user's mailboxes hold: octets and messages.
    fn usage(&self) -> Result<(u64, u64), StoreError> {
        let mut octets = 0u64;
        let mut messages = 0u64;
        for entry in self.account.list()? {
            match self.account.status(&entry.name) {
                Ok(s) => {
                    octets = octets.saturating_add(s.size);
                    messages += u64::from(s.messages);
                }
                // Deleted meanwhile.
                Err(StoreError::NoSuchMailbox(_) | StoreError::MailboxGone(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok((octets, messages))
    }

    /// `Err` with `NO [OVERQUOTA]` when adding `octets` in `messages`
    /// messages would pass the user's quota.
    pub fn check_quota(&self, octets: u64, messages: u64) -> Result<(), Outcome> {
        if !self.quota.is_limited() {
            return Ok(());
        }
        let (used, count) = self.usage().map_err(|e| store_failure(&e))?;
        let over_storage = self
            .quota
            .storage
            .is_some_and(|l| used.saturating_add(octets) > l);
        let over_messages = self.quota.messages.is_some_and(|l| count + messages > l);
        if over_storage || over_messages {
            return Err(Outcome::no("Quota exceeded").with_code(condition("OVERQUOTA")));
        }
        Ok(())
    }

    /// The QUOTA response of the user's root.
    fn quota_response(&self) -> Result<Response<'static>, StoreError> {
        let (used, count) = self.usage()?;
        let mut resources = Vec::new();
        if let Some(limit) = self.quota.storage {
            // STORAGE counts units of 1024 octets (RFC 9208 section 5.1).
            resources.push(QuotaUsage {
                resource: QuotaResource::Storage,
                usage: used.div_ceil(1024),
                limit: limit / 1024,
            });
        }
        if let Some(limit) = self.quota.messages {
            resources.push(QuotaUsage {
                resource: QuotaResource::Message,
                usage: count,
                limit,
            });
        }
        Ok(Response::Quota(Quota {
            root: quota_root(),
            resources,
        }))
    }
}

fn quota_root() -> AString<'static> {
    AString::try_from(QUOTA_ROOT).expect("a quoted string")
}

/// What a command needs to know of the session.
#[derive(Debug, Clone)]
pub struct Info {
    /// The UIDs the command's message set names (see
    /// `CommandRequest::messages`).
    pub messages: Vec<NonZeroU32>,
    /// What ENABLE turned on.
    pub enabled: Enabled,
    /// Mailbox names in UTF-8 (UTF8=ACCEPT) rather than modified UTF-7.
    pub utf8: bool,
    /// IMAP4rev2's forms are in use.
    pub rev2: bool,
    /// The SEARCHRES result `$` stands for.
    pub saved: Option<Vec<NonZeroU32>>,
    /// The command's tag (ESEARCH answers name it).
    pub tag: String,
}

/// Something to send, in order, before the completion.
#[derive(Debug)]
pub enum Answer {
    /// Untagged data that carries no message number.
    Data(Response<'static>),
    /// `* n FETCH` for the message with this UID.
    Fetch(NonZeroU32, Vec<MessageDataItem<'static>>),
    /// SEARCH's matches, and their highest MODSEQ for a MODSEQ search.
    Search(Vec<NonZeroU32>, Option<mailwire::imap::ModSeq>),
    /// The mailbox a SELECT or EXAMINE opens.
    Open(ImapSnapshot),
    /// A message arrived in the selected mailbox.
    Added(NonZeroU32),
    /// A message of the selected mailbox was expunged.
    Expunged(NonZeroU32),
    /// A message's flags changed.
    Flags(
        NonZeroU32,
        Vec<FlagFetch<'static>>,
        Option<mailwire::imap::ModSeq>,
    ),
    /// The selected mailbox was deleted under the session.
    Gone,
    /// The number of messages `\Recent` for this session.
    Recent(u32),
    /// `* n FETCH` whose last item is the whole message, streamed from
    /// disk after `items`.
    Stream {
        uid: NonZeroU32,
        items: Vec<MessageDataItem<'static>>,
        name: mailwire::imap::DataItemName<'static>,
        length: u64,
    },
}

/// Messages larger than this are streamed from disk when a FETCH asks for
/// the whole message alone (see [`fetch::streamable`]); smaller ones are
/// rendered in batches.
pub const STREAM_ABOVE: u64 = 256 * 1024;

/// A command's answers and its completion.
#[derive(Debug)]
pub struct Outcome {
    pub answers: Vec<Answer>,
    pub status: Status,
    pub text: RespText<'static>,
}

impl Outcome {
    pub fn ok(answers: Vec<Answer>, text: &'static str) -> Outcome {
        Outcome {
            answers,
            status: Status::Ok,
            text: RespText::text(text),
        }
    }

    fn with_code(mut self, code: Code<'static>) -> Outcome {
        self.text.code = Some(code);
        self
    }

    pub fn no(text: impl Into<String>) -> Outcome {
        Outcome {
            answers: Vec::new(),
            status: Status::No,
            text: RespText {
                code: None,
                text: text.into().into(),
            },
        }
    }

    pub fn bad(text: &'static str) -> Outcome {
        Outcome {
            answers: Vec::new(),
            status: Status::Bad,
            text: RespText::text(text),
        }
    }
}

/// A response code of RFC 5530.
pub fn condition(name: &'static str) -> Code<'static> {
    Code::Condition(mailwire::imap::Atom::new(name).expect("RFC 5530 codes are atoms"))
}

/// The answer to a failure of the store.
pub fn store_failure(e: &StoreError) -> Outcome {
    let (code, text) = match e {
        StoreError::NoSuchMailbox(_) | StoreError::MailboxGone(_) => {
            (condition("NONEXISTENT"), "No such mailbox".to_string())
        }
        StoreError::MailboxExists(_) => (condition("ALREADYEXISTS"), "Mailbox already exists".into()),
        StoreError::InvalidName(e) => (condition("CANNOT"), format!("Invalid name: {e}")),
        StoreError::NotAllowed(why) => (condition("CANNOT"), (*why).to_string()),
        StoreError::ReadOnly => (Code::ReadOnly, "Mailbox is read-only".into()),
        StoreError::NoSuchMessage(_) => (condition("EXPUNGEISSUED"), "Message was expunged".into()),
        StoreError::Limit(why) => (condition("LIMIT"), (*why).to_string()),
        StoreError::Temporary(_) => (condition("UNAVAILABLE"), "Temporary failure, try again".into()),
        StoreError::Permanent(_) | StoreError::NoSuchAccount(_) | StoreError::AccountExists(_) => {
            (condition("SERVERBUG"), "Internal error".into())
        }
    };
    if matches!(e, StoreError::Temporary(_) | StoreError::Permanent(_)) {
        tracing::error!(error = %e, "storage failed");
    }
    Outcome::no(text).with_code(code)
}

/// A mailbox name the client sent, in the model's terms; a trailing
/// delimiter is dropped (RFC 9051 section 6.3.4).
pub fn mailbox_name(name: &Mailbox<'_>, utf8: bool) -> Result<MailboxName, Outcome> {
    let trimmed;
    let name = match name.to_utf8_name() {
        Ok(text) if text.len() > 1 && text.ends_with(DELIMITER) => {
            trimmed = Mailbox::from_utf8_name(text.trim_end_matches(DELIMITER)).into_owned();
            &trimmed
        }
        _ => name,
    };
    MailboxName::from_imap(name, utf8)
        .map_err(|e| Outcome::no(format!("Invalid mailbox name: {e}")).with_code(condition("CANNOT")))
}

/// Runs one command (FETCH goes through [`fetch_batch`] instead), then
/// takes the changes the session may report now.
pub fn run(work: &mut Work, command: &Command<'static>, info: &Info) -> Outcome {
    let mut outcome = execute(work, &command.body, info);
    if outcome.status == Status::Ok || work.selected.is_some() {
        changes(work, !command.body.forbids_expunge(), info, &mut outcome.answers);
        update_live_searches(work, info, &mut outcome.answers);
    }
    outcome
}

fn execute(work: &mut Work, body: &CommandBody<'static>, info: &Info) -> Outcome {
    match body {
        CommandBody::Noop | CommandBody::Check => Outcome::ok(Vec::new(), "NOOP completed"),
        CommandBody::Namespace => namespace(),
        CommandBody::List(list) => self::list(work, list, info),
        CommandBody::Lsub { reference, pattern } => lsub(work, reference, pattern, info),
        CommandBody::Status { mailbox, attributes } => status(work, mailbox, attributes, info),
        CommandBody::Create { mailbox, parameters } => {
            let name = match mailbox_name(mailbox, info.utf8) {
                Ok(n) => n,
                Err(o) => return o,
            };
            let mut uses = Vec::new();
            for p in parameters {
                if let mailwire::imap::CreateParameter::Use(attrs) = p {
                    for a in attrs {
                        match SpecialUse::from_imap(a) {
                            Some(u) => uses.push(u),
                            None => {
                                return Outcome::no("Unknown special use").with_code(condition("USEATTR"));
                            }
                        }
                    }
                }
            }
            match work.account.create_mailbox(&name, &uses) {
                Ok(entry) => Outcome::ok(Vec::new(), "CREATE completed")
                    .with_code(Code::MailboxId(mailbox_id(entry.uid_validity))),
                Err(e) => store_failure(&e),
            }
        }
        CommandBody::Delete(mailbox) => {
            let name = match mailbox_name(mailbox, info.utf8) {
                Ok(n) => n,
                Err(o) => return o,
            };
            match work.account.delete_mailbox(&name) {
                Ok(()) => Outcome::ok(Vec::new(), "DELETE completed"),
                Err(e) => store_failure(&e),
            }
        }
        CommandBody::Rename { from, to, .. } => {
            let (from, to) = match (mailbox_name(from, info.utf8), mailbox_name(to, info.utf8)) {
                (Ok(f), Ok(t)) => (f, t),
                (Err(o), _) | (_, Err(o)) => return o,
            };
            match work.account.rename_mailbox(&from, &to) {
                Ok(()) => Outcome::ok(Vec::new(), "RENAME completed"),
                Err(e) => store_failure(&e),
            }
        }
        CommandBody::Subscribe(mailbox) | CommandBody::Unsubscribe(mailbox) => {
            let name = match mailbox_name(mailbox, info.utf8) {
                Ok(n) => n,
                Err(o) => return o,
            };
            let done = match body {
                CommandBody::Subscribe(_) => work.account.subscribe(&name),
                _ => work.account.unsubscribe(&name),
            };
            match done {
                Ok(()) => Outcome::ok(Vec::new(), "Completed"),
                Err(e) => store_failure(&e),
            }
        }
        CommandBody::Select { mailbox, parameters } => {
            select(work, mailbox, parameters, SelectMode::ReadWrite, info)
        }
        CommandBody::Examine { mailbox, parameters } => {
            select(work, mailbox, parameters, SelectMode::ReadOnly, info)
        }
        CommandBody::Close => match work.selected.take().inspect(|_| work.live.clear()) {
            Some(selected) => match selected.close() {
                Ok(()) => Outcome::ok(Vec::new(), "CLOSE completed"),
                // Deselected all the same (the session deselects on OK
                // only, so say OK: the expunge is what failed).
                Err(e) => {
                    tracing::warn!(error = %e, "CLOSE could not expunge");
                    Outcome::ok(Vec::new(), "CLOSE completed, nothing expunged")
                }
            },
            None => Outcome::bad("No mailbox selected"),
        },
        CommandBody::Unselect => {
            work.selected = None;
            work.live.clear();
            Outcome::ok(Vec::new(), "UNSELECT completed")
        }
        CommandBody::Expunge | CommandBody::UidExpunge(_) => {
            let Some(selected) = work.selected.as_mut() else {
                return Outcome::bad("No mailbox selected");
            };
            let uids: Vec<Uid> = info.messages.iter().map(|&u| Uid::from(u)).collect();
            let only = matches!(body, CommandBody::UidExpunge(_)).then_some(&uids[..]);
            match selected.expunge(only) {
                Ok(_) => Outcome::ok(Vec::new(), "EXPUNGE completed"),
                Err(e) => store_failure(&e),
            }
        }
        CommandBody::Store { store, uid } => self::store(work, store, *uid, info),
        CommandBody::Copy { args, .. } | CommandBody::Move { args, .. } => copy(
            work,
            &args.mailbox,
            matches!(body, CommandBody::Move { .. }),
            info,
        ),
        CommandBody::Search { search, uid } => self::search(work, search, *uid, info),
        CommandBody::CancelUpdate(tags) => {
            let known = |t: &Quoted<'_>| work.live.iter().any(|l| l.tag.as_bytes() == t.as_bytes());
            if !tags.iter().all(known) {
                return Outcome::bad("No search with that tag is kept up to date");
            }
            work.live
                .retain(|l| !tags.iter().any(|t| l.tag.as_bytes() == t.as_bytes()));
            Outcome::ok(Vec::new(), "CANCELUPDATE completed")
        }
        CommandBody::Sort { sort, uid } => self::sort(work, sort, *uid, info),
        CommandBody::Thread { thread, uid } => self::thread(work, thread, *uid, info),
        CommandBody::Append(append) => append_whole(work, append, info),
        CommandBody::GetQuotaRoot(mailbox) => {
            let name = match mailbox_name(mailbox, info.utf8) {
                Ok(n) => n,
                Err(o) => return o,
            };
            if let Err(e) = work.account.mailbox(&name) {
                return store_failure(&e);
            }
            let roots = if work.quota.is_limited() {
                vec![quota_root()]
            } else {
                Vec::new()
            };
            let mut answers = vec![Answer::Data(Response::QuotaRoot(QuotaRoot {
                mailbox: mailbox.clone(),
                roots,
            }))];
            if work.quota.is_limited() {
                match work.quota_response() {
                    Ok(r) => answers.push(Answer::Data(r)),
                    Err(e) => return store_failure(&e),
                }
            }
            Outcome::ok(answers, "GETQUOTAROOT completed")
        }
        CommandBody::GetQuota(root) => {
            if !work.quota.is_limited() || root.as_bytes() != QUOTA_ROOT.as_bytes() {
                return Outcome::no("No such quota root").with_code(condition("NONEXISTENT"));
            }
            match work.quota_response() {
                Ok(r) => Outcome::ok(vec![Answer::Data(r)], "GETQUOTA completed"),
                Err(e) => store_failure(&e),
            }
        }
        CommandBody::SetQuota { .. } => {
            Outcome::no("Quotas are set by the administrator").with_code(condition("NOPERM"))
        }
        _ => Outcome::bad("Command not implemented"),
    }
}

/// The changes to report now: expunges only when `allow_expunge` (the
/// session holds them back the same way), then new messages and flags.
pub fn changes(work: &mut Work, allow_expunge: bool, info: &Info, out: &mut Vec<Answer>) {
    let Some(selected) = work.selected.as_mut() else {
        return;
    };
    let known_max = selected.messages().last().map(|m| m.uid);
    let notes = match selected.changes(allow_expunge) {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the mailbox's changes");
            return;
        }
    };
    let condstore = info.enabled.condstore;
    let mut recent = None;
    for note in notes {
        match note {
            Notification::Expunge { uid, .. } => out.push(Answer::Expunged(uid.into())),
            // EXISTS follows from the messages added (below).
            Notification::Exists(_) => {}
            Notification::Recent(n) => recent = Some(n),
            Notification::Flags {
                uid,
                flags,
                modseq,
                recent,
                ..
            } => {
                let list = fetch::flag_list(&flags, recent, info.rev2);
                out.push(Answer::Flags(uid.into(), list, condstore.then(|| modseq.into())));
            }
            Notification::Gone => out.push(Answer::Gone),
        }
    }
    // New messages: those above the highest UID known before.
    for m in selected.messages().iter().rev() {
        if known_max.is_some_and(|k| m.uid <= k) {
            break;
        }
        out.push(Answer::Added(m.uid.into()));
    }
    // `Added` must come in ascending order.
    let start = out
        .iter()
        .rposition(|a| !matches!(a, Answer::Added(_)))
        .map_or(0, |i| i + 1);
    out[start..].reverse();
    if let Some(n) = recent {
        out.push(Answer::Recent(n));
    }
}

fn namespace() -> Outcome {
    let personal = NamespaceDescription {
        prefix: IString::Quoted(Quoted::new(Vec::new()).expect("empty is quoted")),
        delimiter: Some(DELIMITER),
        extensions: Vec::new(),
    };
    Outcome::ok(
        vec![Answer::Data(Response::Namespace(NamespaceResponse {
            personal: vec![personal],
            other_users: Vec::new(),
            shared: Vec::new(),
        }))],
        "NAMESPACE completed",
    )
}

/// The attributes of a listed mailbox.
fn attributes(
    entry: &MailboxEntry,
    all: &[MailboxEntry],
    special_use: bool,
) -> Vec<MailboxAttribute<'static>> {
    let children = all.iter().any(|e| e.name.is_inferior_of(&entry.name));
    let mut out = vec![if children {
        MailboxAttribute::HasChildren
    } else {
        MailboxAttribute::HasNoChildren
    }];
    if special_use {
        for u in &entry.special_use {
            out.push(u.to_imap());
        }
    }
    out
}

/// The patterns of a LIST, each joined to the reference (RFC 9051 section
/// 6.3.9: the reference is a prefix; a pattern is read from the root when
/// it starts with the delimiter).
fn patterns(reference: &Mailbox<'_>, patterns: &[ListMailbox<'_>], utf8: bool) -> Vec<String> {
    let reference = decode_name(reference.as_bytes(), utf8);
    patterns
        .iter()
        .map(|p| {
            let p = decode_name(p.as_bytes(), utf8);
            if p.starts_with(DELIMITER) || reference.is_empty() {
                p
            } else if reference.ends_with(DELIMITER) {
                format!("{reference}{p}")
            } else {
                format!("{reference}{DELIMITER}{p}")
            }
        })
        .collect()
}

/// A name or pattern the client sent, as UTF-8 text (modified UTF-7 decoded
/// unless UTF8=ACCEPT); undecodable bytes are kept as they are, lossily,
/// so they match nothing.
fn decode_name(bytes: &[u8], utf8: bool) -> String {
    if !utf8 {
        if let Ok(text) = mailwire::imap::decode_modified_utf7(bytes) {
            return text;
        }
    }
    String::from_utf8_lossy(bytes).into_owned()
}

/// Whether a listed name matches a pattern; INBOX matches in any case.
fn matches(pattern: &str, name: &MailboxName) -> bool {
    if name.is_inbox() && pattern.eq_ignore_ascii_case("INBOX") {
        return true;
    }
    list_pattern_matches(pattern, Some(DELIMITER), name.as_str())
        || (name.is_inbox() && list_pattern_matches(&pattern.to_ascii_uppercase(), Some(DELIMITER), "INBOX"))
}

fn list(work: &mut Work, list: &List<'static>, info: &Info) -> Outcome {
    let raw: Vec<ListMailbox<'static>> = match &list.patterns {
        ListPatterns::Single(p) => vec![p.clone()],
        ListPatterns::List(l) => l.clone(),
    };
    // LIST "" "": the delimiter and the root.
    if raw.len() == 1
        && raw[0].as_bytes().is_empty()
        && list.selection.is_none()
        && list.return_options.is_none()
    {
        return Outcome::ok(
            vec![Answer::Data(Response::List(MailboxList {
                attributes: vec![MailboxAttribute::Noselect],
                delimiter: Some(DELIMITER),
                mailbox: Mailbox::from_utf8_name("").into_owned(),
                extended: Vec::new(),
            }))],
            "LIST completed",
        );
    }
    let patterns = patterns(&list.reference, &raw, info.utf8);
    let selection = list.selection.as_deref().unwrap_or_default();
    let returns = list.return_options.as_deref().unwrap_or_default();
    let subscribed_only = selection.contains(&ListSelectOption::Subscribed);
    let special_only = selection.contains(&ListSelectOption::SpecialUse);
    let want_subscribed = subscribed_only || returns.contains(&ListReturnOption::Subscribed);
    // SPECIAL-USE attributes are always sent (RFC 6154 allows it), and so
    // are the children attributes (CHILDREN, RFC 9051).
    let status: Option<&Vec<StatusAttribute<'static>>> = returns.iter().find_map(|r| match r {
        ListReturnOption::Status(a) => Some(a),
        _ => None,
    });
    let all = match work.account.list() {
        Ok(l) => l,
        Err(e) => return store_failure(&e),
    };
    let subscriptions = if want_subscribed {
        match work.account.subscriptions() {
            Ok(s) => s,
            Err(e) => return store_failure(&e),
        }
    } else {
        Vec::new()
    };
    let mut answers = Vec::new();
    for entry in &all {
        if !patterns.iter().any(|p| matches(p, &entry.name)) {
            continue;
        }
        let subscribed = subscriptions.contains(&entry.name);
        if (subscribed_only && !subscribed) || (special_only && entry.special_use.is_empty()) {
            continue;
        }
        let mut attrs = attributes(entry, &all, true);
        if want_subscribed && subscribed {
            attrs.push(MailboxAttribute::Subscribed);
        }
        answers.push(Answer::Data(Response::List(MailboxList {
            attributes: attrs,
            delimiter: Some(DELIMITER),
            mailbox: entry.name.to_imap(info.utf8).into_owned(),
            extended: Vec::new(),
        })));
        if let Some(items) = status {
            // LIST-STATUS (RFC 5819): a mailbox that cannot be read is
            // listed without its STATUS.
            if let Ok(s) = work.account.status(&entry.name) {
                answers.push(Answer::Data(Response::MailboxStatus(
                    mailwire::imap::MailboxStatus {
                        mailbox: entry.name.to_imap(info.utf8).into_owned(),
                        values: status_values(&s, items),
                    },
                )));
            }
        }
    }
    // Subscribed names whose mailbox is gone (RFC 5258: \NonExistent).
    if subscribed_only {
        for name in &subscriptions {
            if all.iter().any(|e| &e.name == name) || !patterns.iter().any(|p| matches(p, name)) {
                continue;
            }
            answers.push(Answer::Data(Response::List(MailboxList {
                attributes: vec![MailboxAttribute::NonExistent, MailboxAttribute::Subscribed],
                delimiter: Some(DELIMITER),
                mailbox: name.to_imap(info.utf8).into_owned(),
                extended: Vec::new(),
            })));
        }
    }
    Outcome::ok(answers, "LIST completed")
}

fn lsub(
    work: &mut Work,
    reference: &Mailbox<'static>,
    pattern: &ListMailbox<'static>,
    info: &Info,
) -> Outcome {
    let patterns = patterns(reference, std::slice::from_ref(pattern), info.utf8);
    let (subscriptions, all) = match (work.account.subscriptions(), work.account.list()) {
        (Ok(s), Ok(a)) => (s, a),
        (Err(e), _) | (_, Err(e)) => return store_failure(&e),
    };
    let answers = subscriptions
        .iter()
        .filter(|n| patterns.iter().any(|p| matches(p, n)))
        .map(|name| {
            let exists = all.iter().any(|e| &e.name == name);
            Answer::Data(Response::Lsub(MailboxList {
                attributes: if exists {
                    Vec::new()
                } else {
                    vec![MailboxAttribute::Noselect]
                },
                delimiter: Some(DELIMITER),
                mailbox: name.to_imap(info.utf8).into_owned(),
                extended: Vec::new(),
            }))
        })
        .collect();
    Outcome::ok(answers, "LSUB completed")
}

fn status(
    work: &mut Work,
    mailbox: &Mailbox<'static>,
    attributes: &[StatusAttribute<'static>],
    info: &Info,
) -> Outcome {
    let name = match mailbox_name(mailbox, info.utf8) {
        Ok(n) => n,
        Err(o) => return o,
    };
    match work.account.status(&name) {
        Ok(s) => Outcome::ok(
            vec![Answer::Data(Response::MailboxStatus(
                mailwire::imap::MailboxStatus {
                    mailbox: mailbox.clone(),
                    values: status_values(&s, attributes),
                },
            ))],
            "STATUS completed",
        ),
        Err(e) => store_failure(&e),
    }
}

fn select(
    work: &mut Work,
    mailbox: &Mailbox<'static>,
    parameters: &[SelectParameter<'static>],
    mode: SelectMode,
    info: &Info,
) -> Outcome {
    // RFC 9051 section 6.3.2: the old selection ends even if this fails.
    work.selected = None;
    work.live.clear();
    let qresync = parameters.iter().find_map(|p| match p {
        SelectParameter::QResync(q) => Some(q),
        _ => None,
    });
    if qresync.is_some() && !info.enabled.qresync {
        // RFC 7162 section 3.2.5: only after ENABLE QRESYNC.
        return Outcome::bad("QRESYNC is not enabled");
    }
    let name = match mailbox_name(mailbox, info.utf8) {
        Ok(n) => n,
        Err(o) => return o,
    };
    let selected = match work.account.select(&name, mode) {
        Ok(s) => s,
        Err(e) => return store_failure(&e),
    };
    let uids: Vec<NonZeroU32> = selected.messages().iter().map(|m| m.uid.into()).collect();
    let mut snapshot = ImapSnapshot::new(selected.uid_validity().into(), selected.uid_next().into(), uids);
    let mut keywords: Vec<String> = Vec::new();
    for m in selected.messages() {
        for k in m.flags.names().filter(|n| !n.starts_with('\\')) {
            if !keywords.iter().any(|have| have.eq_ignore_ascii_case(k)) {
                keywords.push(k.to_owned());
            }
        }
    }
    keywords.sort();
    for k in &keywords {
        if let Ok(flag) = Flag::new(k.as_str()) {
            let flag = flag.into_owned();
            snapshot
                .permanent_flags
                .insert(snapshot.permanent_flags.len() - 1, FlagPerm::Flag(flag.clone()));
            snapshot.flags.push(flag);
        }
    }
    snapshot.highest_modseq = Some(selected.highest_modseq().into());
    snapshot.recent = selected.recent();
    snapshot.first_unseen = selected.first_unseen().and_then(NonZeroU32::new);
    snapshot.read_only = selected.is_read_only();
    if snapshot.read_only {
        snapshot.permanent_flags.clear();
    }
    let read_only = selected.is_read_only();
    let uid_validity = selected.uid_validity();
    let mut answers = vec![Answer::Open(snapshot)];
    if let Some(q) = qresync {
        if let Err(e) = resynchronise(&selected, q, &mut answers) {
            return store_failure(&e);
        }
    }
    work.selected = Some(selected);
    answers.push(Answer::Data(Response::Status {
        tag: None,
        status: Status::Ok,
        text: RespText {
            code: Some(Code::MailboxId(mailbox_id(uid_validity))),
            text: "Mailbox ID".into(),
        },
    }));
    let outcome = Outcome::ok(answers, "Selected");
    if read_only {
        Outcome {
            text: RespText::text("EXAMINE completed"),
            ..outcome
        }
        .with_code(Code::ReadOnly)
    } else {
        Outcome {
            text: RespText::text("SELECT completed"),
            ..outcome
        }
        .with_code(Code::ReadWrite)
    }
}

/// QRESYNC's part of SELECT (RFC 7162 section 3.2.5.1): when the client's
/// UIDVALIDITY is current, `VANISHED (EARLIER)` for the messages expunged
/// since its MODSEQ (among its known UIDs, if it sent them), then FETCH of
/// UID, FLAGS and MODSEQ for the messages changed since.
fn resynchronise(selected: &SelectedMailbox, q: &QResync, out: &mut Vec<Answer>) -> Result<(), StoreError> {
    if NonZeroU32::from(selected.uid_validity()) != q.uid_validity {
        return Ok(());
    }
    let since = ModSeq::new(q.modseq.get()).unwrap_or(ModSeq::MAX);
    let changes = selected
        .account()
        .changes_since(&selected.mailbox().name, since)?;
    let known = |uid: Uid| q.known_uids.as_ref().is_none_or(|k| k.contains(uid.get()));
    let vanished: Vec<u32> = changes
        .vanished
        .iter()
        .copied()
        .filter(|u| known(*u))
        .map(Uid::get)
        .collect();
    if let Ok(uids) = UidSet::from_unordered(vanished) {
        out.push(Answer::Data(Response::Vanished { earlier: true, uids }));
    }
    for meta in &changes.changed {
        let Some(message) = view_message(selected, meta.uid) else {
            continue;
        };
        out.push(Answer::Fetch(
            message.uid.into(),
            vec![
                MessageDataItem::Uid(message.uid.into()),
                MessageDataItem::Flags(fetch::flags(message, false)),
                MessageDataItem::ModSeq(message.modseq.into()),
            ],
        ));
    }
    Ok(())
}

fn store(work: &mut Work, store: &mailwire::imap::Store<'static>, uid_command: bool, info: &Info) -> Outcome {
    let Some(selected) = work.selected.as_mut() else {
        return Outcome::bad("No mailbox selected");
    };
    let flags = match Flags::try_from(&store.flags[..]) {
        Ok(f) => f,
        Err(e) => return Outcome::bad_owned(format!("Invalid flag: {e}")),
    };
    let mut condition = None;
    let mut unchanged_since_zero = false;
    for m in &store.modifiers {
        match m {
            StoreModifier::UnchangedSince(v) => match ModSeq::new(v.get()) {
                Some(since) => condition = Some(StoreCondition::UnchangedSince(since)),
                // Every message has a MODSEQ above 0: all fail
                // (RFC 7162 section 3.2).
                None => unchanged_since_zero = true,
            },
            _ => return Outcome::bad("Unknown STORE modifier"),
        }
    }
    if unchanged_since_zero {
        let failed: Vec<Uid> = info.messages.iter().map(|&u| Uid::from(u)).collect();
        return modified(
            Outcome::ok(Vec::new(), "STORE completed"),
            selected,
            &failed,
            uid_command,
        );
    }
    let request = StoreFlags {
        uids: info.messages.iter().map(|&u| Uid::from(u)).collect(),
        action: match store.action {
            StoreAction::Replace => FlagAction::Replace,
            StoreAction::Add => FlagAction::Add,
            StoreAction::Remove => FlagAction::Remove,
        },
        flags,
        condition,
    };
    let stored = match selected.store_flags(&request) {
        Ok(s) => s,
        Err(e) => return store_failure(&e),
    };
    let condstore = info.enabled.condstore || condition.is_some();
    let mut answers = Vec::new();
    for update in &stored.updated {
        // RFC 7162 section 3.2: with CONDSTORE, a silent STORE still sends
        // the new MODSEQ.
        if store.silent && !condstore {
            continue;
        }
        let mut items = Vec::new();
        if !store.silent {
            let recent = view_message(selected, update.uid).is_some_and(|m| m.recent);
            items.push(MessageDataItem::Flags(fetch::flag_list(
                &update.flags,
                recent,
                info.rev2,
            )));
        }
        if condstore {
            items.push(MessageDataItem::ModSeq(update.modseq.into()));
        }
        answers.push(Answer::Fetch(update.uid.into(), items));
    }
    modified(
        Outcome::ok(answers, "STORE completed"),
        selected,
        &stored.failed,
        uid_command,
    )
}

/// STORE's `[MODIFIED set]` for the messages that failed UNCHANGEDSINCE,
/// in the client's terms: UIDs for UID STORE, message numbers otherwise
/// (STORE holds expunges back, so the session's numbers and the view's
/// agree here).
fn modified(outcome: Outcome, selected: &SelectedMailbox, failed: &[Uid], uid_command: bool) -> Outcome {
    if failed.is_empty() {
        return outcome;
    }
    let numbers: Vec<u32> = if uid_command {
        failed.iter().map(|u| u.get()).collect()
    } else {
        failed.iter().filter_map(|u| selected.seq(*u)).collect()
    };
    match mailwire::imap::SequenceSet::from_unordered(numbers) {
        Ok(set) => outcome.with_code(Code::Modified(set)),
        Err(_) => outcome,
    }
}

fn copy(work: &mut Work, to: &Mailbox<'static>, move_: bool, info: &Info) -> Outcome {
    let Some(selected) = work.selected.as_ref() else {
        return Outcome::bad("No mailbox selected");
    };
    let to = match mailbox_name(to, info.utf8) {
        Ok(n) => n,
        Err(o) => return o,
    };
    let uids: Vec<Uid> = info.messages.iter().map(|&u| Uid::from(u)).collect();
    if !move_ {
        let octets = selected
            .messages()
            .iter()
            .filter(|m| uids.binary_search(&m.uid).is_ok())
            .map(|m| m.size)
            .sum();
        if let Err(o) = work.check_quota(octets, uids.len() as u64) {
            return o;
        }
    }
    let Some(selected) = work.selected.as_mut() else {
        return Outcome::bad("No mailbox selected");
    };
    let done = if move_ {
        selected.move_to(&uids, &to)
    } else {
        selected.copy_to(&uids, &to)
    };
    let copied = match done {
        Ok(c) => c,
        Err(StoreError::NoSuchMailbox(_)) => {
            return Outcome::no("No such mailbox").with_code(Code::TryCreate);
        }
        Err(e) => return store_failure(&e),
    };
    let code = copy_uid(&copied);
    if move_ {
        // RFC 6851 section 4.3: COPYUID in an untagged OK before the
        // expunges.
        let mut answers = Vec::new();
        if let Some(code) = code {
            answers.push(Answer::Data(Response::Status {
                tag: None,
                status: Status::Ok,
                text: RespText {
                    code: Some(code),
                    text: "Moved UIDs".into(),
                },
            }));
        }
        return Outcome::ok(answers, "MOVE completed");
    }
    let outcome = Outcome::ok(Vec::new(), "COPY completed");
    match code {
        Some(code) => outcome.with_code(code),
        None => outcome,
    }
}

fn copy_uid(copied: &mailwire::mailbox::Copied) -> Option<Code<'static>> {
    if copied.mapping.is_empty() {
        return None;
    }
    let source = UidSet::from_unordered(copied.mapping.iter().map(|(s, _)| s.get())).ok()?;
    let destination = UidSet::from_unordered(copied.mapping.iter().map(|(_, d)| d.get())).ok()?;
    Some(Code::CopyUid {
        uid_validity: copied.uid_validity.into(),
        source,
        destination,
    })
}

/// The messages of the selected mailbox that match all `keys`, ascending
/// by UID, and whether a MODSEQ key was among them (CONDSTORE: the answer
/// then carries the highest MODSEQ of the matches).
fn matching(
    selected: &SelectedMailbox,
    keys: &[SearchKey<'static>],
    charset: Option<&[u8]>,
    info: &Info,
) -> Result<(Vec<Uid>, bool), Outcome> {
    if let Some(c) = charset {
        if !["UTF-8", "US-ASCII"]
            .iter()
            .any(|k| k.as_bytes().eq_ignore_ascii_case(c))
        {
            return Err(Outcome::no("Unsupported charset")
                .with_code(Code::BadCharset(vec!["UTF-8".into(), "US-ASCII".into()])));
        }
    }
    let saved: Vec<Uid> = info.saved.iter().flatten().map(|&u| Uid::from(u)).collect();
    let scope = SearchScope {
        last_seq: u32::try_from(selected.messages().len()).unwrap_or(u32::MAX),
        last_uid: selected.messages().last().map_or(0, |m| m.uid.get()),
        saved: info.saved.as_ref().map(|_| saved.as_slice()),
        // US-ASCII is UTF-8.
        charset: None,
    };
    let mut key = SearchKey::List(keys.to_vec());
    let mut modseq = false;
    resolve_keys(&mut key, selected, now(), &mut modseq).map_err(|e| store_failure(&e))?;
    let compiled = match Search::new(&key, &scope) {
        Ok(s) => s,
        Err(SearchError::Unsupported(what)) => {
            return Err(Outcome::no(format!("{what} is not supported")).with_code(condition("CANNOT")));
        }
        Err(e) => return Err(Outcome::no(e.to_string()).with_code(condition("LIMIT"))),
    };
    match selected.search_compiled(&compiled) {
        Ok(uids) => Ok((uids, modseq)),
        Err(SearchError::Store(e)) => Err(store_failure(&e)),
        Err(e) => Err(Outcome::no(e.to_string())),
    }
}

/// The highest MODSEQ among `uids` (for a search with a MODSEQ key).
fn highest_modseq(selected: &SelectedMailbox, uids: &[Uid]) -> Option<mailwire::imap::ModSeq> {
    selected
        .messages()
        .iter()
        .filter(|m| uids.binary_search(&m.uid).is_ok())
        .map(|m| m.modseq)
        .max()
        .map(Into::into)
}

fn search(work: &mut Work, search: &mailwire::imap::Search<'static>, uid: bool, info: &Info) -> Outcome {
    let charset = search.charset.as_ref().map(|c| c.as_bytes());
    let (selected, uids, with_modseq) = match selected_matching(work, &search.keys, charset, info) {
        Ok(m) => m,
        Err(o) => return o,
    };
    let modseq = with_modseq.then(|| highest_modseq(selected, &uids)).flatten();
    let options = search.return_options.as_deref().unwrap_or_default();
    let contextual = options.iter().any(|o| {
        matches!(
            o,
            SearchReturnOption::Partial(_) | SearchReturnOption::Context | SearchReturnOption::Update
        )
    });
    if !contextual {
        // The session writes SEARCH or ESEARCH, and keeps SAVE's result.
        return Outcome::ok(
            vec![Answer::Search(uids.into_iter().map(Into::into).collect(), modseq)],
            "SEARCH completed",
        );
    }
    if options.contains(&SearchReturnOption::Save) {
        return Outcome::bad("SAVE does not go with PARTIAL, CONTEXT or UPDATE here");
    }
    // CONTEXT=SEARCH (RFC 5267): the answer is this server's to write.
    let numbers = client_numbers(selected, &uids, uid);
    let mut answers = vec![esearch(&info.tag, uid, esearch_data(&numbers, options, modseq))];
    if options.contains(&SearchReturnOption::Update) {
        // Kept up to date for UID SEARCH only: a message number in ADDTO
        // could reach the client before the EXISTS that makes it valid.
        if uid && work.live.len() < MAX_LIVE_SEARCHES {
            work.live.push(LiveSearch {
                tag: info.tag.clone(),
                keys: search.keys.clone(),
                charset: search.charset.as_ref().map(|c| c.as_bytes().to_vec()),
                result: uids,
            });
        } else {
            let tag = Quoted::new(info.tag.as_bytes().to_vec()).expect("a tag is a quoted string");
            answers.push(Answer::Data(Response::Status {
                tag: None,
                status: Status::Ok,
                text: RespText {
                    code: Some(Code::NoUpdate(tag)),
                    text: "Results are not kept up to date".into(),
                },
            }));
        }
    }
    Outcome::ok(answers, "SEARCH completed")
}

/// The most `RETURN (UPDATE)` searches one session keeps up to date.
const MAX_LIVE_SEARCHES: usize = 16;

/// A UID SEARCH whose result the client asked to keep up to date (RFC 5267
/// section 4.3).
#[derive(Debug)]
pub struct LiveSearch {
    tag: String,
    keys: Vec<SearchKey<'static>>,
    charset: Option<Vec<u8>>,
    /// The result as the client knows it, ascending.
    result: Vec<Uid>,
}

/// `* ESEARCH (TAG "tag") [UID] data`.
fn esearch(tag: &str, uid: bool, data: Vec<SearchReturnData<'static>>) -> Answer {
    let tag = Quoted::new(tag.as_bytes().to_vec()).expect("a tag is a quoted string");
    Answer::Data(Response::ESearch(ESearch {
        tag: Some(tag),
        mailbox: None,
        uid,
        data,
    }))
}

/// The ESEARCH data `options` ask for, of a result in the order given
/// (ascending for SEARCH, the sort order for SORT): MIN and MAX are its
/// first and last, ALL keeps its order, PARTIAL picks positions in it
/// (RFC 4731, RFC 5267, RFC 9394); `RETURN ()` or no result option at all
/// means ALL.
fn esearch_data(
    numbers: &[NonZeroU32],
    options: &[SearchReturnOption<'static>],
    modseq: Option<mailwire::imap::ModSeq>,
) -> Vec<SearchReturnData<'static>> {
    let results = options.iter().any(|o| {
        matches!(
            o,
            SearchReturnOption::Min
                | SearchReturnOption::Max
                | SearchReturnOption::All
                | SearchReturnOption::Count
                | SearchReturnOption::Partial(_)
        )
    });
    let wanted =
        |o: SearchReturnOption<'static>| options.contains(&o) || (!results && o == SearchReturnOption::All);
    let set = |n: &[NonZeroU32]| mailwire::imap::SequenceSet::from_numbers(n.iter().map(|n| n.get())).ok();
    let mut data = Vec::new();
    if let (true, Some(&n)) = (wanted(SearchReturnOption::Min), numbers.first()) {
        data.push(SearchReturnData::Min(n));
    }
    if let (true, Some(&n)) = (wanted(SearchReturnOption::Max), numbers.last()) {
        data.push(SearchReturnData::Max(n));
    }
    if wanted(SearchReturnOption::All) {
        if let Some(all) = set(numbers) {
            data.push(SearchReturnData::All(all));
        }
    }
    if wanted(SearchReturnOption::Count) {
        data.push(SearchReturnData::Count(numbers.len() as u32));
    }
    for option in options {
        if let SearchReturnOption::Partial(range) = option {
            let len = numbers.len();
            let positions = range.positions();
            let (lo, hi) = (*positions.start() as usize, *positions.end() as usize);
            // Positions count from 1, from the first match or the last.
            let picked: &[NonZeroU32] = if lo > len {
                &[]
            } else if range.is_from_last() {
                &numbers[len - hi.min(len)..=len - lo]
            } else {
                &numbers[lo - 1..hi.min(len)]
            };
            data.push(SearchReturnData::Partial {
                range: *range,
                results: set(picked),
            });
        }
    }
    if let (Some(m), false) = (modseq, numbers.is_empty()) {
        data.push(SearchReturnData::ModSeq(m));
    }
    data
}

/// ADDTO and REMOVEFROM for the searches kept up to date: run again after
/// the mailbox changed. Expunged messages leave without REMOVEFROM (their
/// EXPUNGE or VANISHED says it).
pub fn update_live_searches(work: &mut Work, info: &Info, out: &mut Vec<Answer>) {
    let Some(selected) = work.selected.as_ref() else {
        return;
    };
    for live in &mut work.live {
        let Ok((now, _)) = matching(selected, &live.keys, live.charset.as_deref(), info) else {
            continue;
        };
        let added: Vec<u32> = now
            .iter()
            .filter(|u| live.result.binary_search(u).is_err())
            .map(|u| u.get())
            .collect();
        let removed: Vec<u32> = live
            .result
            .iter()
            .filter(|u| selected.seq(**u).is_some() && now.binary_search(u).is_err())
            .map(|u| u.get())
            .collect();
        live.result = now;
        let update = |uids: Vec<u32>| {
            mailwire::imap::SequenceSet::from_numbers(uids)
                .ok()
                .map(|messages| {
                    vec![ContextUpdate {
                        position: 0,
                        messages,
                    }]
                })
        };
        let mut data = Vec::new();
        if let Some(u) = update(added) {
            data.push(SearchReturnData::AddTo(u));
        }
        if let Some(u) = update(removed) {
            data.push(SearchReturnData::RemoveFrom(u));
        }
        if !data.is_empty() {
            out.push(esearch(&live.tag, true, data));
        }
    }
}

/// The selected mailbox and its messages that match all `keys` (see
/// [`matching`]), or the answer that refuses the command.
fn selected_matching<'w>(
    work: &'w Work,
    keys: &[SearchKey<'static>],
    charset: Option<&[u8]>,
    info: &Info,
) -> Result<(&'w SelectedMailbox, Vec<Uid>, bool), Outcome> {
    let selected = work
        .selected
        .as_ref()
        .ok_or_else(|| Outcome::bad("No mailbox selected"))?;
    let (uids, with_modseq) = matching(selected, keys, charset, info)?;
    Ok((selected, uids, with_modseq))
}

/// The answer to a SORT or THREAD the model could not run.
fn sort_failure(e: SortError) -> Outcome {
    match e {
        SortError::Store(e) => store_failure(&e),
        other => Outcome::bad_owned(other.to_string()),
    }
}

/// Messages as the client names them: UIDs for UID commands, message
/// numbers otherwise; the order is kept.
fn client_numbers(selected: &SelectedMailbox, uids: &[Uid], uid: bool) -> Vec<NonZeroU32> {
    uids.iter()
        .filter_map(|&u| {
            if uid {
                Some(u.into())
            } else {
                selected.seq(u).and_then(NonZeroU32::new)
            }
        })
        .collect()
}

/// SORT and UID SORT (RFC 5256), and ESORT's RETURN options (RFC 5267).
fn sort(work: &mut Work, sort: &mailwire::imap::Sort<'static>, uid: bool, info: &Info) -> Outcome {
    let charset = Some(sort.charset.as_bytes());
    let (selected, matched, with_modseq) = match selected_matching(work, &sort.keys, charset, info) {
        Ok(m) => m,
        Err(o) => return o,
    };
    let sorted = match selected.sort(&sort.criteria, &matched) {
        Ok(s) => s,
        Err(e) => return sort_failure(e),
    };
    let modseq = with_modseq.then(|| highest_modseq(selected, &matched)).flatten();
    let numbers = client_numbers(selected, &sorted, uid);
    let Some(options) = &sort.return_options else {
        return Outcome::ok(
            vec![Answer::Data(Response::Sort { numbers, modseq })],
            "SORT completed",
        );
    };
    Outcome::ok(
        vec![esearch(&info.tag, uid, esearch_data(&numbers, options, modseq))],
        "SORT completed",
    )
}

/// THREAD and UID THREAD (RFC 5256; REFS as Dovecot has it).
fn thread(
    work: &mut Work,
    thread: &mailwire::imap::ThreadCommand<'static>,
    uid: bool,
    info: &Info,
) -> Outcome {
    let charset = Some(thread.charset.as_bytes());
    let (selected, matched, _) = match selected_matching(work, &thread.keys, charset, info) {
        Ok(m) => m,
        Err(o) => return o,
    };
    let tree = match selected.thread(&thread.algorithm, &matched) {
        Ok(t) => t,
        Err(e) => return sort_failure(e),
    };
    let number = |u: Uid| -> NonZeroU32 {
        if uid {
            u.into()
        } else {
            selected
                .seq(u)
                .and_then(NonZeroU32::new)
                .unwrap_or(NonZeroU32::MIN)
        }
    };
    // Deeper nesting is sent as a chain: the encoder and clients recurse.
    let threads = tree.to_imap(number, THREAD_DEPTH);
    Outcome::ok(vec![Answer::Data(Response::Thread(threads))], "THREAD completed")
}

/// The deepest THREAD nesting sent.
const THREAD_DEPTH: usize = 64;

/// A message of the view by its UID (a binary search: the view is in UID
/// order).
fn view_message(selected: &SelectedMailbox, uid: Uid) -> Option<&mailwire::mailbox::ViewMessage> {
    selected.seq(uid).and_then(|seq| selected.get(seq))
}

/// The MAILBOXID of a mailbox (RFC 8474): its UIDVALIDITY, which the
/// account never gives twice and a RENAME keeps.
pub fn mailbox_id(uid_validity: mailwire::mailbox::UidValidity) -> ObjectId<'static> {
    ObjectId::new(format!("M{:08x}", uid_validity.get())).expect("letters and digits")
}

/// STATUS values, MAILBOXID included (the model has none of its own).
fn status_values(
    s: &mailwire::mailbox::MailboxStatus,
    attributes: &[StatusAttribute<'static>],
) -> Vec<mailwire::imap::StatusValue<'static>> {
    let mut values = s.to_imap(attributes);
    if attributes.contains(&StatusAttribute::MailboxId) {
        values.push(mailwire::imap::StatusValue::MailboxId(mailbox_id(s.uid_validity)));
    }
    values
}

/// The time now, in seconds since the epoch.
fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The keys the model leaves to the server become the set of UIDs that
/// match (a set no message has when none does): WITHIN's OLDER and
/// YOUNGER (RFC 5032) compare the internal date with the clock, which the
/// model does not read; OBJECTID's EMAILID is a digest of the content
/// (see `fetch::email_id`) and THREADID matches nothing (no threads are
/// kept).
fn resolve_keys(
    key: &mut SearchKey<'static>,
    selected: &SelectedMailbox,
    now: i64,
    modseq: &mut bool,
) -> Result<(), StoreError> {
    let messages = selected.messages();
    let set_of = |uids: Vec<u32>| -> SearchKey<'static> {
        match mailwire::imap::SequenceSet::from_numbers(uids) {
            Ok(set) => SearchKey::Uid(set),
            Err(_) => SearchKey::Not(Box::new(SearchKey::All)),
        }
    };
    let dated = |f: &dyn Fn(i64) -> bool| -> Vec<u32> {
        messages
            .iter()
            .filter(|m| f(m.internal_date.unix_seconds))
            .map(|m| m.uid.get())
            .collect()
    };
    match key {
        SearchKey::Older(n) => {
            let limit = now - i64::from(n.get());
            *key = set_of(dated(&|date| date < limit));
        }
        SearchKey::Younger(n) => {
            let limit = now - i64::from(n.get());
            *key = set_of(dated(&|date| date >= limit));
        }
        SearchKey::EmailId(id) => {
            let mut uids = Vec::new();
            for m in messages {
                match selected.read(m.uid) {
                    Ok(content) if fetch::email_id(&content) == *id => uids.push(m.uid.get()),
                    Ok(_) | Err(StoreError::NoSuchMessage(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            *key = set_of(uids);
        }
        SearchKey::ThreadId(_) => *key = set_of(Vec::new()),
        // CONDSTORE (RFC 7162 section 3.1.5). The model keeps one MODSEQ
        // per message, so a flag named in the key compares with it too.
        SearchKey::ModSeq { modseq: since, .. } => {
            *modseq = true;
            let since = since.get();
            let uids = messages
                .iter()
                .filter(|m| m.modseq.get() >= since)
                .map(|m| m.uid.get())
                .collect();
            *key = set_of(uids);
        }
        SearchKey::Not(k) => resolve_keys(k, selected, now, modseq)?,
        SearchKey::Or(a, b) => {
            resolve_keys(a, selected, now, modseq)?;
            resolve_keys(b, selected, now, modseq)?;
        }
        SearchKey::List(keys) => {
            for k in keys {
                resolve_keys(k, selected, now, modseq)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// APPEND as one command (the forms the session does not stream).
fn append_whole(work: &mut Work, append: &mailwire::imap::Append<'static>, info: &Info) -> Outcome {
    let name = match mailbox_name(&append.mailbox, info.utf8) {
        Ok(n) => n,
        Err(o) => return o,
    };
    let mut messages = Vec::new();
    for m in &append.messages {
        let message = match &m.data {
            AppendData::Catenate(parts) => {
                let content = match catenate(work, parts) {
                    Ok(c) => c,
                    Err(o) => return o,
                };
                let flags = match m.flags.as_deref().map(Flags::try_from).transpose() {
                    Ok(f) => f.unwrap_or_default(),
                    Err(e) => return Outcome::bad_owned(format!("Invalid flag: {e}")),
                };
                mailwire::mailbox::AppendMessage {
                    content: content.into(),
                    flags,
                    internal_date: m.date.map(mailwire::mailbox::InternalDate::from),
                }
            }
            _ => match mailwire::mailbox::AppendMessage::try_from(m.clone()) {
                Ok(m) => m,
                Err(e) => return Outcome::bad_owned(format!("Invalid message: {e}")),
            },
        };
        messages.push(message);
    }
    append_messages(work, &name, messages)
}

/// Assembles a CATENATE message (RFC 4469): its text parts as sent, its
/// URL parts read from this user's mailboxes.
fn catenate(work: &Work, parts: &[CatPart<'static>]) -> Result<Vec<u8>, Outcome> {
    let mut out = Vec::new();
    for part in parts {
        match part {
            CatPart::Text(literal) => out.extend_from_slice(literal.data()),
            CatPart::Url(url) => out.extend_from_slice(&url_content(work, url)?),
            _ => return Err(Outcome::bad("Unknown CATENATE part")),
        }
        if out.len() as u64 > work.append_limit {
            return Err(Outcome::no("The message would be too big").with_code(condition("TOOBIG")));
        }
    }
    Ok(out)
}

/// What a CATENATE URL names: a message of one of the user's mailboxes, or
/// a section of it, or part of that. Only URLs without a server (absolute
/// or relative paths) are taken, and none with URLAUTH.
fn url_content(work: &Work, url: &ImapUrl<'static>) -> Result<Vec<u8>, Outcome> {
    let bad = || Outcome::no("Invalid URL").with_code(Code::BadUrl(url.as_str().to_owned().into()));
    if matches!(url.form(), UrlForm::Absolute | UrlForm::NetworkPath) || url.access().is_some() {
        return Err(bad());
    }
    let name = match url.mailbox() {
        Some(m) => {
            let text = std::str::from_utf8(&m).map_err(|_| bad())?;
            MailboxName::new(text).map_err(|_| bad())?
        }
        None => match &work.selected {
            Some(s) => s.mailbox().name.clone(),
            None => return Err(bad()),
        },
    };
    let uid = Uid::from(url.uid().ok_or_else(bad)?);
    if let Some(validity) = url.uid_validity() {
        let entry = work.account.mailbox(&name).map_err(|_| bad())?;
        if NonZeroU32::from(entry.uid_validity) != validity {
            return Err(bad());
        }
    }
    let content = work.account.read_message(&name, uid).map_err(|_| bad())?;
    let data = match url.section() {
        None => to_crlf(&content).into_owned(),
        Some(spec) => {
            let section = mailwire::imap::Section::from_spec(&spec).map_err(|_| bad())?;
            let msg = analyze(&content);
            let data = extract_section(&msg, &section, None).ok_or_else(bad)?;
            to_crlf(&data).into_owned()
        }
    };
    Ok(match url.partial() {
        Some(p) => {
            let start = (p.offset as usize).min(data.len());
            let end = p.length.map_or(data.len(), |l| {
                start.saturating_add(l.get() as usize).min(data.len())
            });
            data[start..end].to_vec()
        }
        None => data,
    })
}

/// Stores the messages of an APPEND, all or none, with APPENDUID.
pub fn append_messages(
    work: &mut Work,
    name: &MailboxName,
    messages: Vec<mailwire::mailbox::AppendMessage>,
) -> Outcome {
    let octets = messages.iter().map(|m| m.content.len() as u64).sum();
    if let Err(o) = work.check_quota(octets, messages.len() as u64) {
        return o;
    }
    appended(work.account.append_all(name, messages))
}

/// APPEND of messages received into uploads (streamed to disk).
pub fn append_uploads(
    work: &mut Work,
    name: &MailboxName,
    uploads: Vec<mailwire::mailbox::Upload>,
) -> Outcome {
    let octets = uploads.iter().map(|u| u.size()).sum();
    if let Err(o) = work.check_quota(octets, uploads.len() as u64) {
        return o;
    }
    appended(work.account.append_uploads(name, uploads))
}

/// The answer to an APPEND, with APPENDUID.
fn appended(result: Result<mailwire::mailbox::AppendUid, StoreError>) -> Outcome {
    match result {
        Ok(appended) => {
            let outcome = Outcome::ok(Vec::new(), "APPEND completed");
            match UidSet::from_unordered(appended.uids.iter().map(|u| u.get())) {
                Ok(uids) if !appended.uids.is_empty() => outcome.with_code(Code::AppendUid {
                    uid_validity: appended.uid_validity.into(),
                    uids,
                }),
                _ => outcome,
            }
        }
        Err(StoreError::NoSuchMailbox(_)) => Outcome::no("No such mailbox").with_code(Code::TryCreate),
        Err(e) => store_failure(&e),
    }
}

/// What NOTIFY's MessageNew asked to be sent of new messages of the
/// selected mailbox (RFC 5465 section 5.2), for each UID in `uids` still
/// there. Nothing is changed by it: a BODY[] item is read as BODY.PEEK[]
/// would be. A message larger than [`STREAM_ABOVE`] gets only the items
/// that need no content (a notification is not streamed); one whose
/// content cannot be read or decoded gets those too.
pub fn new_message_data(
    work: &mut Work,
    items: &[FetchItem<'static>],
    uids: &[NonZeroU32],
    info: &Info,
) -> Vec<(NonZeroU32, Vec<MessageDataItem<'static>>)> {
    let Some(selected) = work.selected.as_mut() else {
        return Vec::new();
    };
    let content = fetch::needs_content(items);
    let mut out = Vec::with_capacity(uids.len());
    for &uid in uids {
        let Some(message) = view_message(selected, Uid::from(uid)).cloned() else {
            continue;
        };
        let bytes = if content && message.size <= STREAM_ABOVE {
            selected.read(Uid::from(uid)).ok()
        } else {
            None
        };
        let analysis = bytes.as_deref().map(analyze);
        let data = fetch::render(&message, analysis.as_ref(), None, items, info.rev2, false)
            .or_else(|_| fetch::render(&message, None, None, items, info.rev2, false))
            .unwrap_or_default();
        out.push((uid, data));
    }
    out
}

/// FETCH for some of the command's messages: renders messages from
/// `info.messages[start..]` until about `budget` octets are rendered, and
/// returns where the next batch starts (the length when done).
pub fn fetch_batch(
    work: &mut Work,
    fetch: &mailwire::imap::Fetch<'static>,
    uid_command: bool,
    info: &Info,
    start: usize,
    budget: usize,
) -> Result<(Vec<Answer>, usize), Outcome> {
    let Some(selected) = work.selected.as_mut() else {
        return Err(Outcome::bad("No mailbox selected"));
    };
    let items = fetch::wanted(&fetch.items);
    let mut changed_since = None;
    let mut vanished = false;
    for m in &fetch.modifiers {
        match m {
            FetchModifier::ChangedSince(v) => changed_since = Some(v.get()),
            FetchModifier::Vanished if info.enabled.qresync => vanished = true,
            _ => return Err(Outcome::bad("Unknown FETCH modifier")),
        }
    }
    let mut answers = Vec::new();
    if vanished && start == 0 {
        // RFC 7162 section 3.2.6: UID FETCH (CHANGEDSINCE m VANISHED) also
        // reports the UIDs of the set expunged since m.
        let (Some(since), true) = (changed_since, uid_command) else {
            return Err(Outcome::bad("VANISHED needs UID FETCH with CHANGEDSINCE"));
        };
        let since = ModSeq::new(since).unwrap_or(ModSeq::MIN);
        let changes = selected
            .account()
            .changes_since(&selected.mailbox().name, since)
            .map_err(|e| store_failure(&e))?;
        let largest = selected
            .messages()
            .last()
            .map_or(0, |m| m.uid.get())
            .max(selected.uid_next().get() - 1);
        let gone: Vec<u32> = changes
            .vanished
            .iter()
            .map(|u| u.get())
            .filter(|u| fetch.sequence_set.contains(*u, largest))
            .collect();
        if let Ok(uids) = UidSet::from_unordered(gone) {
            answers.push(Answer::Data(Response::Vanished { earlier: true, uids }));
        }
    }
    let content = fetch::needs_content(&items);
    let structure_only = content && fetch::structure_only(&items);
    let stream = fetch::streamable(&items);
    let modseq = changed_since.is_some() || (info.enabled.condstore && items.contains(&FetchItem::Flags));
    let end = info.messages.len();
    let mut i = start;
    let mut rendered = 0usize;
    while i < end && rendered < budget {
        // One message at a time when it may be streamed: its \Seen is set
        // just before it is sent.
        let batch_end = (i + if stream.is_some() { 1 } else { 16 }).min(end);
        let uids: Vec<Uid> = info.messages[i..batch_end]
            .iter()
            .map(|&u| Uid::from(u))
            .collect();
        let mut seen_now = Vec::new();
        if fetch::sets_seen(&items) {
            match selected.mark_seen(&uids) {
                Ok(updates) => seen_now.extend(updates.into_iter().map(|u| u.uid)),
                Err(e) => return Err(store_failure(&e)),
            }
        }
        for &uid in &uids {
            i += 1;
            let Some(message) = view_message(selected, uid).cloned() else {
                // Expunged meanwhile: skip it (RFC 9051 section 7.5.1).
                continue;
            };
            if changed_since.is_some_and(|since| message.modseq.get() <= since) {
                continue;
            }
            if let (Some(name), true) = (&stream, message.size > STREAM_ABOVE) {
                let mut data =
                    fetch::render(&message, None, None, &items, info.rev2, modseq).unwrap_or_default();
                if seen_now.contains(&uid) && !items.contains(&FetchItem::Flags) {
                    data.push(MessageDataItem::Flags(fetch::flags(&message, info.rev2)));
                }
                answers.push(Answer::Stream {
                    uid: uid.into(),
                    items: data,
                    name: name.clone(),
                    length: message.size,
                });
                // The stream is sent before the next message is read.
                return Ok((answers, i));
            }
            // ENVELOPE, BODY and BODYSTRUCTURE alone come from the cache
            // when the message was analysed before.
            let key = (selected.mailbox().uid_validity, uid);
            let cached = if structure_only {
                work.structures.get(selected.account().name(), key.0, key.1)
            } else {
                None
            };
            let bytes = if content && cached.is_none() {
                match selected.read(uid) {
                    Ok(b) => Some(b),
                    Err(StoreError::NoSuchMessage(_)) => continue,
                    Err(e) => return Err(store_failure(&e)),
                }
            } else {
                None
            };
            let analysis = bytes.as_deref().map(analyze);
            let cached = match (cached, &analysis) {
                (None, Some(msg)) if structure_only => {
                    let structure = Arc::new(Structure::of(msg));
                    let weight = msg.part_tree().body_start;
                    work.structures.put(
                        selected.account().name(),
                        key.0,
                        key.1,
                        Arc::clone(&structure),
                        weight,
                    );
                    Some(structure)
                }
                (cached, _) => cached,
            };
            let answer = if cached.is_some() {
                fetch::render(&message, None, cached.as_deref(), &items, info.rev2, modseq)
            } else {
                fetch::render(&message, analysis.as_ref(), None, &items, info.rev2, modseq)
            };
            let mut data = match answer {
                Ok(d) => d,
                Err(fetch::ItemError::UnknownCte) => {
                    return Err(Outcome::no("Cannot decode the part").with_code(condition("UNKNOWN-CTE")));
                }
            };
            if seen_now.contains(&uid) && !items.contains(&FetchItem::Flags) {
                // The \Seen this FETCH set is reported along (RFC 9051
                // section 6.4.5); the session also learns the flags were
                // sent.
                data.push(MessageDataItem::Flags(fetch::flags(&message, info.rev2)));
            }
            rendered += bytes.as_ref().map_or(64, |b| b.len());
            answers.push(Answer::Fetch(uid.into(), data));
        }
    }
    Ok((answers, i))
}

impl Outcome {
    fn bad_owned(text: String) -> Outcome {
        Outcome {
            answers: Vec::new(),
            status: Status::Bad,
            text: RespText {
                code: None,
                text: text.into(),
            },
        }
    }
}

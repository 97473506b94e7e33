//! The commands, run against the mailbox model on the blocking pool: each
//! takes the user's [`Work`] (account and selected mailbox) and returns
//! what the session should send, as [`Answer`]s and a completion. Nothing
//! here touches the session or the network. LIST and LSUB are in
//! `mailboxes`, SEARCH, SORT and THREAD in `search`, APPEND in `append`,
//! FETCH in `fetching`; this module dispatches and holds the rest.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;

use mailwire::imap::server::{Enabled, MailboxSnapshot as ImapSnapshot};
use mailwire::imap::{
    AString, Code, Command, CommandBody, Flag, FlagFetch, FlagPerm, Mailbox, MessageDataItem, ObjectId,
    QResync, Quota, QuotaResource, QuotaRoot, QuotaUsage, Quoted, RespText, Response, SearchKey,
    SelectParameter, Status, StatusAttribute, StoreAction, StoreModifier, UidSet,
};
use mailwire::mailbox::{
    Account, FlagAction, Flags, MailboxName, ModSeq, Notification, SelectMode, SelectedMailbox, SpecialUse,
    StoreCondition, StoreError, StoreFlags, Uid,
};

use super::append::append_whole;
use super::cache::StructureCache;
use super::fetch;
use super::mailboxes::{self, lsub, namespace};
use super::search::{self, LiveSearch, update_live_searches};
use crate::budget::{Held, MemoryBudget};
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
    /// What all sessions may hold of messages read whole: the account's
    /// share of it (`share.content`).
    pub content: Arc<MemoryBudget>,
    /// The account's shares of the server's budgets.
    pub share: Arc<crate::server::AccountShare>,
    /// The searches kept up to date (CONTEXT=SEARCH), for the selected
    /// mailbox.
    pub live: Vec<LiveSearch>,
}

/// What an account's mailboxes hold: octets and messages. The octets
/// include the content kept of expunged messages for sessions that still
/// show them (a POP3 session that listed them holds it until it ends):
/// left out, an account could hold its quota once more per lingering
/// session. Kept messages are not counted as messages.
pub fn usage(account: &Account) -> Result<(u64, u64), StoreError> {
    let mut octets = 0u64;
    let mut messages = 0u64;
    for entry in account.list()? {
        // The status first: an expunge between the two is counted twice
        // rather than missed.
        let usage = account
            .status(&entry.name)
            .and_then(|s| Ok((s, account.kept_size(&entry.name)?)));
        match usage {
            Ok((s, kept)) => {
                octets = octets.saturating_add(s.size).saturating_add(kept);
                messages += u64::from(s.messages);
            }
            // Deleted meanwhile.
            Err(StoreError::NoSuchMailbox(_) | StoreError::MailboxGone(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok((octets, messages))
}

/// What `quota` leaves an account: octets and messages (`None` when
/// nothing is limited).
pub fn quota_room(account: &Account, quota: QuotaRule) -> Result<Option<(u64, u64)>, StoreError> {
    if !quota.is_limited() {
        return Ok(None);
    }
    let (used, count) = usage(account)?;
    Ok(Some((
        quota.storage.map_or(u64::MAX, |l| l.saturating_sub(used)),
        quota.messages.map_or(u64::MAX, |l| l.saturating_sub(count)),
    )))
}

/// `Err` with `NO [OVERQUOTA]` when adding `octets` in `messages` messages
/// would pass `quota`.
fn check_quota(account: &Account, quota: QuotaRule, octets: u64, messages: u64) -> Result<(), Outcome> {
    let Some((room, count_room)) = quota_room(account, quota).map_err(|e| store_failure(&e))? else {
        return Ok(());
    };
    if octets > room || messages > count_room {
        return Err(Outcome::no("Quota exceeded").with_code(condition("OVERQUOTA")));
    }
    Ok(())
}

/// The name of the one quota root each user has (RFC 9208).
const QUOTA_ROOT: &str = "User quota";

impl Work {
    /// What the user's mailboxes hold (see [`usage`]).
    fn usage(&self) -> Result<(u64, u64), StoreError> {
        usage(&self.account)
    }

    /// `Err` with `NO [OVERQUOTA]` when adding `octets` in `messages`
    /// messages would pass the user's quota.
    pub fn check_quota(&self, octets: u64, messages: u64) -> Result<(), Outcome> {
        check_quota(&self.account, self.quota, octets, messages)
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
    /// Budget taken for a large message (read whole, or its sections read
    /// from its file): given back once the answers are sent.
    Hold(Held),
    /// `* n FETCH` whose last item is streamed from disk.
    Stream(Streamed),
}

/// A `* n FETCH` whose last item, `literal`, is streamed from disk after
/// `items`.
#[derive(Debug)]
pub struct Streamed {
    pub uid: NonZeroU32,
    pub items: Vec<MessageDataItem<'static>>,
    pub literal: super::fetching::FileLiteral,
}

/// Messages larger than this are streamed from disk when a FETCH asks for
/// the whole message alone (see [`fetch::streamable`]); smaller ones are
/// rendered in batches.
pub const STREAM_ABOVE: u64 = 256 * 1024;

/// How long a command waits for room in the server's budget for messages
/// read whole ([`Work::content`]) before it answers [`no_room`]: on the
/// connection's task, its storage job given back meanwhile (see
/// [`Outcome::wants_room`]).
pub const CONTENT_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// The answer to a command that found no room in the budget for messages
/// read whole in [`CONTENT_WAIT`].
pub fn no_room() -> Outcome {
    Outcome::no("Too many large messages are being read; try again later").with_code(condition("UNAVAILABLE"))
}

/// [`no_room`] for a job that needs `amount` octets of the budget now and
/// found no room: the connection waits for it (up to [`CONTENT_WAIT`])
/// and runs the job again, or answers this.
pub fn no_room_for(amount: u64) -> Outcome {
    Outcome {
        wants_room: std::num::NonZeroU64::new(amount.max(1)),
        ..no_room()
    }
}

/// A command's answers and its completion.
#[derive(Debug)]
pub struct Outcome {
    pub answers: Vec<Answer>,
    pub status: Status,
    pub text: RespText<'static>,
    /// The job found no room in the content budget for this many octets
    /// and changed nothing: run it again once there is room (see
    /// [`no_room_for`]).
    pub wants_room: Option<std::num::NonZeroU64>,
}

impl Outcome {
    pub fn ok(answers: Vec<Answer>, text: &'static str) -> Outcome {
        Outcome {
            answers,
            status: Status::Ok,
            text: RespText::text(text),
            wants_room: None,
        }
    }

    pub(super) fn with_code(mut self, code: Code<'static>) -> Outcome {
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
            wants_room: None,
        }
    }

    pub fn bad(text: &'static str) -> Outcome {
        Outcome {
            answers: Vec::new(),
            status: Status::Bad,
            text: RespText::text(text),
            wants_room: None,
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
/// takes the changes the session may report now (not when it is to run
/// again once there is room, [`Outcome::wants_room`]: taken, they would be
/// lost with the answer that is dropped).
pub fn run(work: &mut Work, command: &Command<'static>, info: &Info) -> Outcome {
    let mut outcome = execute(work, &command.body, info);
    if outcome.wants_room.is_none() && (outcome.status == Status::Ok || work.selected.is_some()) {
        changes(work, !command.body.forbids_expunge(), info, &mut outcome.answers);
        update_live_searches(work, info, &mut outcome.answers);
    }
    outcome
}

fn execute(work: &mut Work, body: &CommandBody<'static>, info: &Info) -> Outcome {
    match body {
        CommandBody::Noop | CommandBody::Check => Outcome::ok(Vec::new(), "NOOP completed"),
        CommandBody::Namespace => namespace(),
        CommandBody::List(list) => mailboxes::list(work, list, info),
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
        CommandBody::Search { search, uid } => search::search(work, search, *uid, info),
        CommandBody::CancelUpdate(tags) => {
            let known = |t: &Quoted<'_>| work.live.iter().any(|l| l.tag.as_bytes() == t.as_bytes());
            if !tags.iter().all(known) {
                return Outcome::bad("No search with that tag is kept up to date");
            }
            work.live
                .retain(|l| !tags.iter().any(|t| l.tag.as_bytes() == t.as_bytes()));
            Outcome::ok(Vec::new(), "CANCELUPDATE completed")
        }
        CommandBody::Sort { sort, uid } => search::sort(work, sort, *uid, info),
        CommandBody::Thread { thread, uid } => search::thread(work, thread, *uid, info),
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
    // RFC 7162 section 3.2 (and its section 6 example): while expunges
    // wait (this command forbids them), a client that sees MODSEQ data is
    // told a HIGHESTMODSEQ below theirs, or, reconnecting, it would
    // resynchronise past them and keep those messages.
    if condstore && selected.has_pending_expunges() {
        let text = RespText {
            code: Some(Code::HighestModSeq(selected.safe_highest_modseq().into())),
            text: "Expunges are delayed".into(),
        };
        out.push(Answer::Data(Response::Status {
            tag: None,
            status: Status::Ok,
            text,
        }));
    }
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
    // Only the UIDs the client knows, as ranges (a resynchronisation from
    // before pruned tombstones names every gap up to the highest UID).
    let vanished = match &q.known_uids {
        Some(known) => changes
            .vanished
            .intersection(known.as_sequence_set().resolved_ranges(u32::MAX)),
        None => changes.vanished,
    };
    if let Ok(uids) = UidSet::try_from(&vanished) {
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

/// A message of the view by its UID (a binary search: the view is in UID
/// order).
pub(super) fn view_message(selected: &SelectedMailbox, uid: Uid) -> Option<&mailwire::mailbox::ViewMessage> {
    selected.seq(uid).and_then(|seq| selected.get(seq))
}

/// The MAILBOXID of a mailbox (RFC 8474): its UIDVALIDITY, which the
/// account never gives twice and a RENAME keeps.
pub fn mailbox_id(uid_validity: mailwire::mailbox::UidValidity) -> ObjectId<'static> {
    ObjectId::new(format!("M{:08x}", uid_validity.get())).expect("letters and digits")
}

/// STATUS values, MAILBOXID included (the model has none of its own).
pub(super) fn status_values(
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
pub(super) fn now() -> i64 {
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
///
/// Every message is read for the EMAILID keys once, however many there
/// are (a search may hold a thousand), a piece at a time.
pub(super) fn resolve_keys(
    key: &mut SearchKey<'static>,
    selected: &SelectedMailbox,
    now: i64,
    modseq: &mut bool,
) -> Result<(), StoreError> {
    let mut wanted = HashMap::new();
    email_ids(key, &mut wanted);
    if !wanted.is_empty() {
        for m in selected.messages() {
            let id = match selected.open(m.uid) {
                Ok(reader) => fetch::email_id_of(reader)
                    .map_err(|e| StoreError::Temporary(format!("reading a message: {e}")))?,
                Err(StoreError::NoSuchMessage(_)) => continue,
                Err(e) => return Err(e),
            };
            if let Some(uids) = wanted.get_mut(&id) {
                uids.push(m.uid.get());
            }
        }
    }
    resolve(key, selected, now, modseq, &wanted);
    Ok(())
}

/// The EMAILID values `key` names, each with an empty list of UIDs.
fn email_ids(key: &SearchKey<'static>, into: &mut HashMap<ObjectId<'static>, Vec<u32>>) {
    match key {
        SearchKey::EmailId(id) => {
            into.entry(id.clone()).or_default();
        }
        SearchKey::Not(k) => email_ids(k, into),
        SearchKey::Or(a, b) => {
            email_ids(a, into);
            email_ids(b, into);
        }
        SearchKey::List(keys) => keys.iter().for_each(|k| email_ids(k, into)),
        _ => {}
    }
}

/// [`resolve_keys`] once the messages of each EMAILID are known.
fn resolve(
    key: &mut SearchKey<'static>,
    selected: &SelectedMailbox,
    now: i64,
    modseq: &mut bool,
    emails: &HashMap<ObjectId<'static>, Vec<u32>>,
) {
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
        SearchKey::EmailId(id) => *key = set_of(emails.get(id).cloned().unwrap_or_default()),
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
        SearchKey::Not(k) => resolve(k, selected, now, modseq, emails),
        SearchKey::Or(a, b) => {
            resolve(a, selected, now, modseq, emails);
            resolve(b, selected, now, modseq, emails);
        }
        SearchKey::List(keys) => {
            for k in keys {
                resolve(k, selected, now, modseq, emails);
            }
        }
        _ => {}
    }
}

impl Outcome {
    pub(super) fn bad_owned(text: String) -> Outcome {
        Outcome {
            answers: Vec::new(),
            status: Status::Bad,
            text: RespText {
                code: None,
                text: text.into(),
            },
            wants_room: None,
        }
    }
}

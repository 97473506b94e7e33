//! `sync`: a two-way mirror of the account in a local Maildir++.
//!
//! The local side is the mailbox model's Maildir backend (the layout
//! Dovecot and mail_server serve: INBOX at the root, other mailboxes as
//! `.Name` folders), so the mirror keeps its own UIDs and flags with
//! keywords, and notices what other programs did to it.
//!
//! Each run, for every mailbox:
//!
//! 1. the server's messages and flags are learnt the cheapest way it
//!    offers: QRESYNC (`SELECT ... (QRESYNC (uidvalidity modseq))`, which
//!    answers with the changed flags and VANISHED (EARLIER)), else
//!    CONDSTORE (`UID FETCH 1:* (FLAGS) (CHANGEDSINCE modseq)` and a UID
//!    scan for expunges), else a full `UID FETCH 1:* (FLAGS)`;
//! 2. the local messages and flags come from the model;
//! 3. every pair recorded by the last run is merged three ways against
//!    the flags both had then: a flag changed on one side is changed on
//!    the other, a message deleted on one side and unchanged on the other
//!    is deleted there, and one deleted on one side but changed on the
//!    other is kept (downloaded or uploaded again). A pair records the
//!    key of its server message (size and Message-ID, as below): before
//!    a server message is deleted, or moved, for a local copy gone, its
//!    key is read again, and one that differs (a UID given to another
//!    message, or a mirror of another account with the same UIDVALIDITY)
//!    is downloaded instead;
//! 4. messages on one side only are first paired with each other (same
//!    size and Message-ID, or same header when there is none), which is
//!    also how a run killed between a change and its record, and a
//!    changed UIDVALIDITY, are recovered; a local message gone from one
//!    folder and new in another is moved on the server (MOVE, not a new
//!    upload); the rest are downloaded or uploaded.
//!
//! Every change is made first and recorded after (see [`state`]), so a run
//! killed at any point loses nothing, and the pairing of step 4 keeps the
//! next run from duplicating what the killed one did. One thing the
//! pairing cannot see: an APPEND that the server stores after the next run
//! has listed the mailbox (a server still reading a killed run's upload).
//! Each upload is therefore recorded before it is sent and marked answered
//! after; a later run deletes the server copy such an unanswered upload
//! left beside the one uploaded again (`Run::second_copies`).

mod state;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{IsTerminal, Write};
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use indicatif::{ProgressBar, ProgressStyle};
use mailwire::imap::client::{Completion, MailboxChange};
use mailwire::imap::{
    Append, AppendData, AppendMessage, CommandBody, CopyMove, CreateParameter, DataItemName, DateTime, Fetch,
    FetchModifier, Flag, FlagFetch, List, ListMailbox, ListReturnOption, Literal, Mailbox, MailboxAttribute,
    MessageDataItem, ModSeq, QResync, Search, SearchKey, Section, SelectParameter, SequenceSet,
    StatusAttribute, StatusValue, Store, StoreAction,
};
use mailwire::mailbox::{
    Account, AccountName, Flags, MailboxName, MaildirBackend, MaildirOptions, SpecialUse, StoreError, Uid,
    UidRanges,
};

use crate::Failure;
use crate::connection::{Imap, uid_in};
use crate::maildir_files;
use state::{FlagSet, Key, State};

/// What `sync` was asked.
pub struct Options {
    /// The mirror.
    pub maildir: PathBuf,
    /// Only mailboxes matching this LIST pattern (`*` and `%`).
    pub pattern: Option<String>,
    /// Print what would change; change nothing.
    pub dry_run: bool,
}

/// What a run did.
#[derive(Debug, Default)]
struct Counts {
    downloaded: u64,
    uploaded: u64,
    moved: u64,
    flagged_remote: u64,
    flagged_local: u64,
    deleted_remote: u64,
    deleted_local: u64,
    mailboxes_created: u64,
}

impl Counts {
    fn transferred(&self) -> u64 {
        self.downloaded + self.uploaded
    }

    fn changes(&self) -> u64 {
        self.transferred()
            + self.moved
            + self.flagged_remote
            + self.flagged_local
            + self.deleted_remote
            + self.deleted_local
            + self.mailboxes_created
    }
}

fn store_error(what: &str, e: StoreError) -> Failure {
    Failure::Local(format!("{what}: {e}"))
}

/// The local mirror: the model over the Maildir.
struct Local {
    account: Account,
}

impl Local {
    /// Opens (creating if need be) the Maildir at `path`. The model keeps
    /// accounts as `<root>/<name>`: the mirror is the account named after
    /// its directory.
    fn open(path: &Path, create: bool) -> Result<Option<Local>, Failure> {
        let bad = || {
            Failure::Usage(format!(
                "--maildir {}: give a directory whose name is a plain name (not starting with a dot)",
                path.display()
            ))
        };
        let absolute =
            std::path::absolute(path).map_err(|e| Failure::Local(format!("{}: {e}", path.display())))?;
        let (Some(parent), Some(name)) = (absolute.parent(), absolute.file_name().and_then(|n| n.to_str()))
        else {
            return Err(bad());
        };
        let account_name = AccountName::new(name).map_err(|_| bad())?;
        let backend = MaildirBackend::with_options(parent, MaildirOptions::default().with_subdir(None))
            .map_err(|e| store_error("opening the Maildir", e))?;
        if backend.maildir_path(&account_name) != absolute {
            return Err(bad());
        }
        use mailwire::mailbox::Backend as _;
        let exists = backend
            .account_exists(&account_name)
            .map_err(|e| store_error("opening the Maildir", e))?;
        if !exists {
            if !create {
                return Ok(None);
            }
            backend
                .create_account(&account_name)
                .map_err(|e| store_error("creating the Maildir", e))?;
        }
        // The mirror holds what the server holds: the server's cap on
        // mailboxes is the one that counts.
        let config = mailwire::mailbox::StoreConfig {
            max_mailboxes: usize::MAX,
            ..Default::default()
        };
        let store = mailwire::mailbox::Store::with_config(backend, config);
        let account = store
            .account(&account_name)
            .map_err(|e| store_error("opening the Maildir", e))?;
        Ok(Some(Local { account }))
    }
}

/// A mailbox on the server.
#[derive(Debug, Clone)]
struct RemoteBox {
    wire: Mailbox<'static>,
    special: Vec<SpecialUse>,
    /// It exists on the server (not only to be created by a dry run).
    exists: bool,
}

/// `sync`.
pub fn sync(imap: &mut Imap, options: &Options) -> Result<(), Failure> {
    let Some(local) = Local::open(&options.maildir, !options.dry_run)? else {
        println!(
            "would create the Maildir {} and download everything",
            options.maildir.display()
        );
        return Ok(());
    };
    let mut state = State::open(&options.maildir, options.dry_run)?;
    if imap.offers("QRESYNC") {
        imap.ok(
            CommandBody::Enable(vec!["QRESYNC".try_into().expect("a capability")]),
            "ENABLE QRESYNC",
        )?;
    }
    let mut run = Run {
        imap,
        local,
        state: &mut state,
        dry_run: options.dry_run,
        counts: Counts::default(),
        progress: progress_bar(),
        delimiter: '/',
    };
    let boxes = run.mailboxes(options.pattern.as_deref())?;
    let mut plans = Vec::new();
    for (name, remote) in &boxes {
        if let Some(plan) = run.plan(name, remote)? {
            plans.push(plan);
        }
    }
    run.moves(&mut plans)?;
    for plan in plans {
        run.apply(plan)?;
    }
    run.progress.finish_and_clear();
    run.state.compact()?;
    let c = &run.counts;
    let verb = if options.dry_run { "would be " } else { "" };
    let method = if run.imap.offers("QRESYNC") {
        "QRESYNC"
    } else if run.imap.offers("CONDSTORE") {
        "CONDSTORE"
    } else {
        "full scans"
    };
    if c.changes() == 0 {
        println!(
            "{} mailboxes in sync ({method}): nothing changed, no message transferred",
            boxes.len()
        );
    } else {
        println!(
            "{} mailboxes ({method}): {} {verb}downloaded, {} {verb}uploaded, {} {verb}moved, flags {verb}changed on {} on the \
             server and {} here, {} {verb}deleted on the server and {} here, {} mailboxes {verb}created",
            boxes.len(),
            c.downloaded,
            c.uploaded,
            c.moved,
            c.flagged_remote,
            c.flagged_local,
            c.deleted_remote,
            c.deleted_local,
            c.mailboxes_created
        );
    }
    Ok(())
}

fn progress_bar() -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} messages")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar
}

/// One mailbox's situation before anything is changed.
struct Plan {
    name: MailboxName,
    remote_box: RemoteBox,
    uid_validity: u32,
    uid_next: u32,
    modseq: u64,
    local_validity: u32,
    /// Every server message now, with its flags.
    remote: BTreeMap<u32, FlagSet>,
    /// Every local message now: flags and size.
    local: BTreeMap<u32, (FlagSet, u64)>,
    /// The pairs still valid, with the flags both had.
    pairs: BTreeMap<u32, (u32, FlagSet)>,
    /// A UIDVALIDITY changed: the recorded pairs are void.
    reset: bool,
    /// Paired server messages whose local copy is gone while the server's
    /// flags did not change: deleted here, or moved to another folder.
    local_gone: BTreeMap<u32, (u64, Key)>,
    /// Local messages no pair holds.
    local_new: BTreeSet<u32>,
}

fn key_of(size: u64, header: &[u8]) -> Key {
    let header = &header[..header.len().min(HEAD_LIMIT)];
    let crlf = mailwire::mailbox::canonical_crlf(Bytes::copy_from_slice(header));
    let id = header_field(&crlf, "message-id").map(|v| format!("id:{}", v.trim()));
    let id = id.unwrap_or_else(|| {
        use sha2::Digest as _;
        let digest = sha2::Sha256::digest(&crlf);
        format!("header:{digest:x}")
    });
    (size, id)
}

/// A header field's value (unfolded), from a header in CRLF form.
fn header_field(header: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(header);
    let mut lines = text.split("\r\n").peekable();
    while let Some(line) = lines.next() {
        if line.is_empty() {
            break;
        }
        let Some((field, value)) = line.split_once(':') else {
            continue;
        };
        if field.trim().eq_ignore_ascii_case(name) {
            let mut value = value.to_owned();
            while let Some(next) = lines.peek().filter(|l| l.starts_with([' ', '\t'])) {
                value.push_str(next);
                lines.next();
            }
            return Some(value.split_whitespace().collect::<Vec<_>>().join(" "));
        }
    }
    None
}

/// The header of a message (up to and with the empty line).
fn header_of(message: &[u8]) -> &[u8] {
    let end = memchr::memmem::find(message, b"\r\n\r\n")
        .map(|i| i + 4)
        .or_else(|| memchr::memmem::find(message, b"\n\n").map(|i| i + 2))
        .unwrap_or(message.len());
    &message[..end]
}

/// Three-way merge of flags: each flag changed on one side since `base`
/// takes that side's value; changed on both, both agree.
fn merge(base: &FlagSet, local: &FlagSet, remote: &FlagSet) -> FlagSet {
    let all: BTreeSet<&String> = base.iter().chain(local).chain(remote).collect();
    all.into_iter()
        .filter(|f| {
            let (b, l, r) = (base.contains(*f), local.contains(*f), remote.contains(*f));
            if l != b { l } else { r }
        })
        .cloned()
        .collect()
}

fn flag_set(flags: &[FlagFetch<'_>]) -> FlagSet {
    flags
        .iter()
        .filter(|f| !matches!(f, FlagFetch::Recent))
        .map(ToString::to_string)
        .collect()
}

fn model_flags(flags: &FlagSet) -> Flags {
    let usable = flags.iter().filter(|f| Flags::parse([f.as_str()]).is_ok());
    Flags::parse(usable.map(String::as_str)).unwrap_or_default()
}

fn local_flag_set(flags: &Flags) -> FlagSet {
    flags.names().map(str::to_owned).collect()
}

fn imap_flags(flags: &FlagSet) -> Vec<Flag<'static>> {
    flags.iter().filter_map(|f| Flag::new(f.clone()).ok()).collect()
}

fn uid_set(uids: impl IntoIterator<Item = u32>) -> SequenceSet {
    SequenceSet::from_unordered(uids).expect("UIDs make a set")
}

/// Why a body the server sent for `UID FETCH r (... BODY.PEEK[])` is not
/// message `r`'s, if it is not: the `n`th body of the answer (only one is
/// taken), for the message of UID `uid` (when known), of item `item`.
fn body_refused(r: u32, uid: Option<u32>, item: &DataItemName<'_>, n: u32) -> Option<String> {
    let whole = matches!(
        item,
        DataItemName::BodySection { section, origin: None } if *section == Section::WHOLE
    );
    if !whole {
        return Some(format!("the server sent {item:?} where BODY[] was asked for"));
    }
    if n > 1 {
        return Some("the server sent the message's body twice".into());
    }
    uid.filter(|&u| u != r)
        .map(|uid| format!("the server sent the body of UID {uid} where {r} was asked for"))
}

fn uid_fetch(uids: SequenceSet, items: &str, modifiers: Vec<FetchModifier<'static>>) -> CommandBody<'static> {
    CommandBody::Fetch {
        fetch: Fetch {
            sequence_set: uids,
            items: items.parse().expect("the program's FETCH items parse"),
            modifiers,
        },
        uid: true,
    }
}

/// The UID and flags of each FETCH answer in `done` and in `changes`.
fn fetched_flags(done: &Completion, changes: &[MailboxChange], into: &mut BTreeMap<u32, FlagSet>) {
    for (_, items) in &done.data.fetch {
        let uid = uid_in(items);
        let flags = items.iter().find_map(|i| match i {
            MessageDataItem::Flags(f) => Some(flag_set(f)),
            _ => None,
        });
        if let (Some(uid), Some(flags)) = (uid, flags) {
            into.insert(uid, flags);
        }
    }
    for change in changes {
        if let MailboxChange::Flags {
            uid: Some(uid),
            flags,
            ..
        } = change
        {
            into.insert(uid.get(), flag_set(flags));
        }
    }
}

struct Run<'a> {
    imap: &'a mut Imap,
    local: Local,
    state: &'a mut State,
    dry_run: bool,
    counts: Counts,
    progress: ProgressBar,
    delimiter: char,
}

impl Run<'_> {
    /// The mailboxes to mirror, by local name: the server's, the local
    /// ones, and what each side created, renamed or deleted since the
    /// last run.
    fn mailboxes(&mut self, pattern: Option<&str>) -> Result<BTreeMap<MailboxName, RemoteBox>, Failure> {
        let mut list = List::new(
            Mailbox::from_utf8_name(""),
            ListMailbox::from_utf8_pattern(pattern.unwrap_or("*")),
        )
        .into_owned();
        if self.imap.offers("SPECIAL-USE") {
            list.return_options = Some(vec![ListReturnOption::SpecialUse]);
        }
        let unreadable = self.imap.unreadable();
        let done = self.imap.ok(CommandBody::List(list), "LIST")?;
        // A mailbox missing from the list only because its entry could not
        // be read would look deleted on the server, and its local folder
        // be deleted.
        let listed_whole = self.imap.unreadable() == unreadable;
        let mut remote: BTreeMap<MailboxName, RemoteBox> = BTreeMap::new();
        for entry in &done.data.list {
            if let Some(d) = entry.delimiter {
                self.delimiter = d;
            }
            if entry
                .attributes
                .iter()
                .any(|a| matches!(a, MailboxAttribute::Noselect | MailboxAttribute::NonExistent))
            {
                continue;
            }
            let Ok(wire_name) = entry.mailbox.to_utf8_name() else {
                // No local folder can be it either (this tool names
                // folders after names it could read).
                tracing::warn!("a mailbox name the server listed is not modified UTF-7; it is left out");
                continue;
            };
            let levels: Vec<&str> = match entry.delimiter {
                Some(d) => wire_name.split(d).collect(),
                None => vec![&wire_name],
            };
            let Ok(name) = MailboxName::new(&levels.join("/")) else {
                // No local folder can be it.
                tracing::warn!("the mailbox {wire_name:?} has no local name; it is left out");
                continue;
            };
            let special = entry
                .attributes
                .iter()
                .filter_map(SpecialUse::from_imap)
                .collect();
            remote.insert(
                name,
                RemoteBox {
                    wire: entry.mailbox.clone(),
                    special,
                    exists: true,
                },
            );
        }
        let local: Vec<_> = self
            .local
            .account
            .list()
            .map_err(|e| store_error("listing the Maildir", e))?
            .into_iter()
            .filter(|e| pattern.is_none_or(|p| matches_pattern(p, e.name.as_str())))
            .collect();
        let local_names: BTreeSet<MailboxName> = local.iter().map(|e| e.name.clone()).collect();

        // Renamed on the server: a mailbox known here (and in the state)
        // is gone there, and a new one has its UIDVALIDITY (a hint only:
        // the local folder is renamed, its messages paired again).
        let gone: Vec<MailboxName> = local_names
            .iter()
            .filter(|n| !remote.contains_key(*n) && self.state.mailboxes.contains_key(n.as_str()))
            .cloned()
            .collect();
        let fresh: Vec<MailboxName> = remote
            .keys()
            .filter(|n| !local_names.contains(*n) && !self.state.mailboxes.contains_key(n.as_str()))
            .cloned()
            .collect();
        let mut renamed = BTreeSet::new();
        if listed_whole && !gone.is_empty() && !fresh.is_empty() {
            for new_name in &fresh {
                let validity = self.remote_validity(&remote[new_name].wire)?;
                let Some(old) = gone.iter().find(|g| {
                    !renamed.contains(*g)
                        && self
                            .state
                            .mailboxes
                            .get(g.as_str())
                            .is_some_and(|s| s.uid_validity == validity)
                }) else {
                    continue;
                };
                println!("{}renamed on the server: {old} -> {new_name}", self.would());
                if !self.dry_run {
                    self.local
                        .account
                        .rename_mailbox(old, new_name)
                        .map_err(|e| store_error("renaming a local folder", e))?;
                    // The pairs are not carried over: a UIDVALIDITY is
                    // unique per name only (RFC 9051 section 2.3.1.1), and
                    // a server that gives every mailbox the same one would
                    // have another client's new mailbox take the old one's
                    // pairs, and its messages deleted for local copies
                    // gone. The folder's messages stay; the next look at
                    // it pairs them by key, as a first one does.
                    self.state.forget(old.as_str())?;
                }
                renamed.insert(old.clone());
            }
        }

        let mut all = remote.clone();
        for entry in &local {
            if remote.contains_key(&entry.name) || renamed.contains(&entry.name) {
                continue;
            }
            if !listed_whole {
                // Neither deleted here nor created on the server on a
                // guess: it may be the mailbox the list could not say.
                tracing::warn!(
                    "{}: not in the server's list, which could not all be read; left as it is this run",
                    entry.name
                );
                continue;
            }
            let known = self.state.mailboxes.get(entry.name.as_str());
            if known.is_some_and(|s| s.uid_validity != 0) && self.deleted_remotely_unchanged(&entry.name)? {
                println!("{}deleted on the server: {}", self.would(), entry.name);
                if !self.dry_run {
                    self.local
                        .account
                        .delete_mailbox(&entry.name)
                        .map_err(|e| store_error("deleting a local folder", e))?;
                    self.state.forget(entry.name.as_str())?;
                }
                self.counts.deleted_local += 1;
                continue;
            }
            // New here (or deleted there with changes made here): created
            // on the server.
            let wire = self.wire_name(&entry.name);
            println!("{}created on the server: {}", self.would(), entry.name);
            if !self.dry_run {
                let parameters = if self.imap.offers("CREATE-SPECIAL-USE") && !entry.special_use.is_empty() {
                    vec![CreateParameter::Use(
                        entry.special_use.iter().map(|u| u.to_imap()).collect(),
                    )]
                } else {
                    Vec::new()
                };
                self.imap.ok(
                    CommandBody::Create {
                        mailbox: wire.clone(),
                        parameters,
                    },
                    &format!("CREATE {}", entry.name),
                )?;
                self.state.forget(entry.name.as_str())?;
            }
            self.counts.mailboxes_created += 1;
            all.insert(
                entry.name.clone(),
                RemoteBox {
                    wire,
                    special: entry.special_use.clone(),
                    exists: !self.dry_run,
                },
            );
        }
        for (name, remote_box) in &remote {
            if !listed_whole && !local_names.contains(name) {
                // Not created here either: it may be the new name of a
                // folder renamed on the server, which a whole list finds.
                all.remove(name);
                continue;
            }
            if !local_names.contains(name) {
                let exists_now = self.local.account.mailbox(name).is_ok();
                if !exists_now {
                    if self.state.mailboxes.contains_key(name.as_str()) {
                        // Deleted here: its messages stay on the server
                        // and come back (a folder removed by hand is no
                        // order to delete mail).
                        println!("{}deleted here, so downloaded again: {name}", self.would());
                        if !self.dry_run {
                            self.state.forget(name.as_str())?;
                        }
                    }
                    println!("{}created here: {name}", self.would());
                    if !self.dry_run {
                        self.local
                            .account
                            .create_mailbox(name, &remote_box.special)
                            .map_err(|e| store_error("creating a local folder", e))?;
                    }
                    self.counts.mailboxes_created += 1;
                }
            }
        }
        Ok(all)
    }

    fn would(&self) -> &'static str {
        if self.dry_run { "would be " } else { "" }
    }

    /// Whether a local folder whose mailbox the server no longer has holds
    /// nothing new or changed since the last run (then it goes too).
    fn deleted_remotely_unchanged(&self, name: &MailboxName) -> Result<bool, Failure> {
        let Some(known) = self.state.mailboxes.get(name.as_str()) else {
            return Ok(false);
        };
        let snapshot = self
            .local
            .account
            .snapshot(name)
            .map_err(|e| store_error("reading a local folder", e))?;
        let paired: BTreeMap<u32, &FlagSet> = known.pairs.values().map(|(l, f)| (*l, f)).collect();
        Ok(snapshot.messages.iter().all(|m| {
            paired
                .get(&m.uid.get())
                .is_some_and(|f| **f == local_flag_set(&m.flags))
        }))
    }

    fn wire_name(&self, name: &MailboxName) -> Mailbox<'static> {
        let joined = name
            .as_str()
            .split('/')
            .collect::<Vec<_>>()
            .join(&self.delimiter.to_string());
        Mailbox::from_utf8_name(&joined).into_owned()
    }

    fn remote_validity(&mut self, wire: &Mailbox<'static>) -> Result<u32, Failure> {
        let done = self.imap.ok(
            CommandBody::Status {
                mailbox: wire.clone(),
                attributes: vec![StatusAttribute::UidValidity],
            },
            "STATUS",
        )?;
        Ok(done
            .data
            .status
            .iter()
            .flat_map(|s| &s.values)
            .find_map(|v| match v {
                StatusValue::UidValidity(v) => Some(v.get()),
                _ => None,
            })
            .unwrap_or(0))
    }

    /// Opens a mailbox on the server and learns its messages and flags.
    fn plan(&mut self, name: &MailboxName, remote_box: &RemoteBox) -> Result<Option<Plan>, Failure> {
        let known = self
            .state
            .mailboxes
            .get(name.as_str())
            .cloned()
            .unwrap_or_default();
        let qresync = self.imap.offers("QRESYNC") && known.uid_validity != 0 && known.highest_modseq != 0;
        let condstore = self.imap.offers("CONDSTORE");
        let mut parameters = Vec::new();
        if qresync {
            parameters.push(SelectParameter::QResync(QResync {
                uid_validity: NonZeroU32::new(known.uid_validity).expect("not 0"),
                modseq: ModSeq::new(known.highest_modseq).expect("not 0"),
                known_uids: None,
                seq_match: None,
            }));
        } else if condstore {
            parameters.push(SelectParameter::CondStore);
        }
        self.imap.take_changes();
        let unreadable = self.imap.unreadable();
        if !remote_box.exists {
            // A dry run that would create it: every local message would
            // be uploaded.
            let local = self
                .local
                .account
                .snapshot(name)
                .map_err(|e| store_error("reading a local folder", e))?;
            return Ok(Some(Plan {
                name: name.clone(),
                remote_box: remote_box.clone(),
                uid_validity: 0,
                uid_next: 0,
                modseq: 0,
                local_validity: local.uid_validity.get(),
                remote: BTreeMap::new(),
                local_new: local.messages.iter().map(|m| m.uid.get()).collect(),
                local: local
                    .messages
                    .iter()
                    .map(|m| (m.uid.get(), (local_flag_set(&m.flags), m.size)))
                    .collect(),
                pairs: BTreeMap::new(),
                reset: false,
                local_gone: BTreeMap::new(),
            }));
        }
        let selected = self.imap.run(CommandBody::Select {
            mailbox: remote_box.wire.clone(),
            parameters,
        })?;
        if selected.status != mailwire::imap::Status::Ok {
            tracing::warn!(
                "{name}: cannot open it on the server ({}); left as it is",
                selected.text.text
            );
            return Ok(None);
        }
        let select_changes = self.imap.take_changes();
        let data = selected.data.select.clone().unwrap_or_default();
        let uid_validity = data.uid_validity.map_or(0, NonZeroU32::get);
        let uid_next = data.uid_next.map_or(0, NonZeroU32::get);
        let modseq = data.highest_modseq.map_or(0, ModSeq::get);
        let same_validity = uid_validity == known.uid_validity;
        let mut pairs = if same_validity {
            known.pairs.clone()
        } else {
            BTreeMap::new()
        };
        // Pairs recorded before any UIDVALIDITY was (a first run killed
        // before it wrote the mailbox's numbers) are void too: kept, one
        // for a UID not given yet would pair the message that gets it
        // with a local copy long gone, and delete it on the server.
        let mut reset = !same_validity && (known.uid_validity != 0 || !known.pairs.is_empty());
        if known.uid_validity != 0 && !same_validity {
            println!(
                "{name}: the server's UIDVALIDITY changed ({} -> {uid_validity}); its messages are paired again",
                known.uid_validity
            );
        }

        // The server's messages.
        let mut remote: BTreeMap<u32, FlagSet> = BTreeMap::new();
        let exists = data.exists;
        if qresync && same_validity {
            // QRESYNC: the pairs, less VANISHED (EARLIER), plus the changes.
            // The pairs looked up in the sets, not the sets walked
            // through: one may name four billion UIDs. Each set is merged
            // once, so that a lookup is a binary search whatever order
            // the server sent its ranges in.
            let vanished: Vec<UidRanges> = select_changes
                .iter()
                .filter_map(|change| match change {
                    MailboxChange::VanishedEarlier { uids } | MailboxChange::Vanished { uids } => {
                        Some(UidRanges::from(uids))
                    }
                    _ => None,
                })
                .collect();
            for (r, (_, f)) in &pairs {
                let gone = Uid::new(*r).is_some_and(|u| vanished.iter().any(|uids| uids.contains(u)));
                if !gone {
                    remote.insert(*r, f.clone());
                }
            }
            fetched_flags(&selected, &select_changes, &mut remote);
        } else if condstore && same_validity && known.highest_modseq != 0 && exists > 0 {
            // CONDSTORE: every UID, and the flags changed since.
            let all = self.imap.ok(
                uid_fetch("1:*".parse().expect("a set"), "(UID)", Vec::new()),
                "UID FETCH",
            )?;
            let changes = self.imap.take_changes();
            let uids: BTreeSet<u32> = all
                .data
                .fetch
                .iter()
                .filter_map(|(_, items)| uid_in(items))
                .collect();
            let changed = self.imap.ok(
                uid_fetch(
                    "1:*".parse().expect("a set"),
                    "(UID FLAGS)",
                    vec![FetchModifier::ChangedSince(
                        ModSeq::new(known.highest_modseq).expect("not 0"),
                    )],
                ),
                "UID FETCH CHANGEDSINCE",
            )?;
            let more = self.imap.take_changes();
            let mut flags = BTreeMap::new();
            fetched_flags(&changed, &[changes, more].concat(), &mut flags);
            let mut unknown = Vec::new();
            for uid in &uids {
                match (flags.get(uid), pairs.get(uid)) {
                    (Some(f), _) => {
                        remote.insert(*uid, f.clone());
                    }
                    (None, Some((_, f))) => {
                        remote.insert(*uid, f.clone());
                    }
                    (None, None) => unknown.push(*uid),
                }
            }
            if !unknown.is_empty() {
                let done = self.imap.ok(
                    uid_fetch(uid_set(unknown), "(UID FLAGS)", Vec::new()),
                    "UID FETCH",
                )?;
                let changes = self.imap.take_changes();
                fetched_flags(&done, &changes, &mut remote);
            }
        } else if exists > 0 {
            let done = self.imap.ok(
                uid_fetch("1:*".parse().expect("a set"), "(UID FLAGS)", Vec::new()),
                "UID FETCH",
            )?;
            let changes = self.imap.take_changes();
            fetched_flags(&done, &changes, &mut remote);
        }

        // A message missing from the answers only because one could not
        // be read would look expunged on the server, and its local copy
        // be deleted; a flag change in it would be passed over for good
        // once the mod-sequence moves past it. Such a run takes every
        // paired message it did not see as there and unchanged, and
        // keeps the mod-sequence it started from.
        let incomplete = self.imap.unreadable() != unreadable;
        let modseq = if !incomplete {
            modseq
        } else {
            tracing::warn!(
                "{name}: the server's answers could not all be read; nothing is deleted for what they did not say"
            );
            for (r, (_, synced)) in &pairs {
                remote.entry(*r).or_insert_with(|| synced.clone());
            }
            if same_validity { known.highest_modseq } else { 0 }
        };

        // The local messages.
        let (local, local_validity) = match self.local.account.snapshot(name) {
            Ok(s) => (
                s.messages
                    .iter()
                    .map(|m| (m.uid.get(), (local_flag_set(&m.flags), m.size)))
                    .collect::<BTreeMap<_, _>>(),
                s.uid_validity.get(),
            ),
            Err(StoreError::NoSuchMailbox(_)) if self.dry_run => (BTreeMap::new(), 0),
            Err(e) => return Err(store_error("reading a local folder", e)),
        };
        if known.local_validity != 0 && known.local_validity != local_validity && same_validity {
            println!("{name}: the local UIDVALIDITY changed; its messages are paired again");
            pairs.clear();
            reset = true;
        }

        // Pairs whose local copy went while the server's did not change:
        // a deletion here, or a move to another folder.
        let mut local_gone = BTreeMap::new();
        for (r, (l, synced)) in &pairs {
            if !local.contains_key(l) && remote.get(r).is_some_and(|f| f == synced) {
                local_gone.insert(*r, (0, (0, String::new())));
            }
        }
        if !local_gone.is_empty() {
            let mut keys = self.remote_keys(local_gone.keys().copied())?;
            // The server message must still be the one paired: one whose
            // key differs (the server gave its UID to another message,
            // which RFC 9051 forbids under one UIDVALIDITY, or the mirror
            // was synchronised with another account whose UIDVALIDITY is
            // the same) is neither deleted nor moved for the local copy
            // gone, but downloaded as a message of its own. Pairs that
            // earlier versions recorded have no key to check.
            for (r, (_, key)) in std::mem::take(&mut local_gone) {
                let now = keys.remove(&r);
                match (known.keys.get(&r), now) {
                    (Some(paired), Some(now)) if *paired == now => {
                        local_gone.insert(r, (now.0, now));
                    }
                    (None, Some(now)) => {
                        local_gone.insert(r, (now.0, now));
                    }
                    (None, None) => {
                        local_gone.insert(r, (key.0, key));
                    }
                    (Some(_), now) => {
                        tracing::warn!(
                            "{name} {r}: the server's message is not the one paired with the local copy \
                             that was deleted ({}); it is downloaded again, not deleted",
                            if now.is_some() {
                                "another size or Message-ID"
                            } else {
                                "its size and header could not be read"
                            }
                        );
                        pairs.remove(&r);
                    }
                }
            }
        }
        let paired_local: BTreeSet<u32> = pairs.values().map(|(l, _)| *l).collect();
        let local_new: BTreeSet<u32> = local
            .keys()
            .filter(|l| !paired_local.contains(l))
            .copied()
            .collect();
        if qresync && same_validity && !local_new.is_empty() && exists > 0 {
            // QRESYNC names only what changed: a server message no pair
            // holds (a run that could not record its pair) and unchanged
            // since is not among them, and its local copy would be
            // uploaded again. With local messages to place, every UID is
            // listed so that they are paired instead.
            let done = self.imap.ok(
                uid_fetch("1:*".parse().expect("a set"), "(UID FLAGS)", Vec::new()),
                "UID FETCH",
            )?;
            let changes = self.imap.take_changes();
            let mut every = BTreeMap::new();
            fetched_flags(&done, &changes, &mut every);
            for (uid, flags) in every {
                remote.entry(uid).or_insert(flags);
            }
        }
        Ok(Some(Plan {
            name: name.clone(),
            remote_box: remote_box.clone(),
            uid_validity,
            uid_next,
            modseq,
            local_validity,
            remote,
            local,
            pairs,
            reset,
            local_gone,
            local_new,
        }))
    }

    /// The keys of server messages (of the selected mailbox).
    fn remote_keys(&mut self, uids: impl IntoIterator<Item = u32>) -> Result<BTreeMap<u32, Key>, Failure> {
        let uids: Vec<u32> = uids.into_iter().collect();
        let mut keys = BTreeMap::new();
        if uids.is_empty() {
            return Ok(keys);
        }
        let set = uid_set(uids.iter().copied());
        let sized = self.imap.ok(
            uid_fetch(set.clone(), "(UID RFC822.SIZE)", Vec::new()),
            "UID FETCH",
        )?;
        let mut sizes = BTreeMap::new();
        for (_, items) in &sized.data.fetch {
            let uid = uid_in(items);
            let size = items.iter().find_map(|i| match i {
                MessageDataItem::Rfc822Size(n) => Some(*n),
                _ => None,
            });
            if let (Some(uid), Some(size)) = (uid, size) {
                sizes.insert(uid, size);
            }
        }
        // A header too long to hold comes in pieces: its first HEAD_LIMIT
        // bytes are what the key reads.
        let mut headers: BTreeMap<u32, Vec<u8>> = BTreeMap::new();
        let mut streamed = Vec::new();
        let done = self.imap.fetch_streaming(
            uid_fetch(set, "(UID BODY.PEEK[HEADER])", Vec::new()),
            "UID FETCH HEADER",
            &mut |piece| {
                match piece {
                    crate::connection::Streamed::Start { .. } => streamed.clear(),
                    crate::connection::Streamed::Data(bytes) => {
                        let take = bytes.len().min(HEAD_LIMIT.saturating_sub(streamed.len()));
                        streamed.extend_from_slice(&bytes[..take]);
                    }
                    crate::connection::Streamed::End { uid } => {
                        if let Some(uid) = uid {
                            headers.insert(uid, std::mem::take(&mut streamed));
                        }
                    }
                }
                Ok(())
            },
        )?;
        for (_, items) in &done.data.fetch {
            let uid = uid_in(items);
            let header = items.iter().find_map(|i| match i {
                MessageDataItem::BodySection { data, .. } => data.as_bytes(),
                _ => None,
            });
            if let (Some(uid), Some(header)) = (uid, header) {
                headers.insert(uid, header.to_vec());
            }
        }
        // Only the messages asked for: a key of another message would
        // pair it, or take it for a copy, unseen.
        let asked: BTreeSet<u32> = uids.iter().copied().collect();
        for (uid, header) in headers {
            if let Some(size) = sizes.get(&uid).filter(|_| asked.contains(&uid)) {
                keys.insert(uid, key_of(*size, &header));
            }
        }
        Ok(keys)
    }

    /// A local message's key, from its header alone (read in pieces).
    fn local_key(&self, name: &MailboxName, uid: u32, size: u64) -> Result<Key, Failure> {
        let mut reader = self
            .local
            .account
            .open_message(name, Uid::new(uid).expect("a UID"))
            .map_err(|e| store_error("reading a local message", e))?;
        let mut head = Vec::new();
        let mut piece = [0; 8192];
        while head.len() < HEAD_LIMIT && memchr::memmem::find(&head, b"\n\r\n").is_none() {
            let n = std::io::Read::read(&mut reader, &mut piece)
                .map_err(|e| Failure::Local(format!("reading a local message: {e}")))?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&piece[..n]);
        }
        Ok(key_of(size, header_of(&head)))
    }

    fn read_local(&self, name: &MailboxName, uid: u32) -> Result<Bytes, Failure> {
        self.local
            .account
            .read_message(name, Uid::new(uid).expect("a UID"))
            .map_err(|e| store_error("reading a local message", e))
    }

    /// A local message that left folder A (its server copy unchanged)
    /// and appeared in folder B is moved on the server, not uploaded.
    fn moves(&mut self, plans: &mut [Plan]) -> Result<(), Failure> {
        let gone: usize = plans.iter().map(|p| p.local_gone.len()).sum();
        if gone == 0 {
            return Ok(());
        }
        // The keys of every new local message, by folder.
        let mut new_keys: Vec<BTreeMap<Key, Vec<u32>>> = Vec::new();
        for plan in plans.iter() {
            let mut keys: BTreeMap<Key, Vec<u32>> = BTreeMap::new();
            for &l in &plan.local_new {
                let size = plan.local[&l].1;
                keys.entry(self.local_key(&plan.name, l, size)?)
                    .or_default()
                    .push(l);
            }
            new_keys.push(keys);
        }
        for from in 0..plans.len() {
            // A message a deletion left marked `\Deleted` (see
            // `Run::keep_marked`) is being deleted, not moved: its copy,
            // made by a COPY that gave no new UID, is still to be paired.
            let gone: Vec<(u32, Key)> = plans[from]
                .local_gone
                .iter()
                .filter(|(r, _)| {
                    !plans[from]
                        .pairs
                        .get(r)
                        .is_some_and(|(_, f)| f.contains("\\Deleted"))
                })
                .map(|(r, (_, k))| (*r, k.clone()))
                .collect();
            for (r, key) in gone {
                let Some(to) = (0..plans.len())
                    .find(|&to| to != from && new_keys[to].get(&key).is_some_and(|v| !v.is_empty()))
                else {
                    continue;
                };
                let local_uid = new_keys[to]
                    .get_mut(&key)
                    .and_then(Vec::pop)
                    .expect("found above");
                let (from_name, to_name) = (plans[from].name.clone(), plans[to].name.clone());
                println!(
                    "{}moved on the server: {from_name} {r} -> {to_name}",
                    self.would()
                );
                self.counts.moved += 1;
                plans[from].local_gone.remove(&r);
                plans[to].local_new.remove(&local_uid);
                let flags = plans[from].remote.remove(&r).unwrap_or_default();
                let old = plans[from].pairs.remove(&r);
                if self.dry_run {
                    continue;
                }
                self.select(&plans[from].remote_box.wire)?;
                let args = CopyMove {
                    sequence_set: uid_set([r]),
                    mailbox: plans[to].remote_box.wire.clone(),
                };
                let (done, left) = if self.imap.offers("MOVE") {
                    let done = self.imap.ok(CommandBody::Move { args, uid: true }, "MOVE")?;
                    (done, BTreeSet::new())
                } else {
                    let done = self.imap.ok(CommandBody::Copy { args, uid: true }, "COPY")?;
                    (done, self.delete_remote(&[r])?)
                };
                match old.filter(|_| left.contains(&r)) {
                    Some((l, synced)) => self.keep_marked(from_name.as_str(), r, l, &synced)?,
                    None => self.state.unpair(from_name.as_str(), r)?,
                }
                let new_uid = done.copy_uid().and_then(|(_, _, into)| into.iter().next());
                if let Some(new_uid) = new_uid {
                    // Paired now: the next run keeps it; its flags are the
                    // server's, merged into the local copy by that run.
                    self.state
                        .pair(to_name.as_str(), new_uid, local_uid, &flags, Some(&key))?;
                    plans[to].remote.insert(new_uid, flags.clone());
                    plans[to].pairs.insert(new_uid, (local_uid, flags));
                }
            }
        }
        Ok(())
    }

    fn select(&mut self, wire: &Mailbox<'static>) -> Result<(), Failure> {
        self.imap.ok(
            CommandBody::Select {
                mailbox: wire.clone(),
                parameters: Vec::new(),
            },
            "SELECT",
        )?;
        self.imap.take_changes();
        Ok(())
    }

    /// Marks `uids` `\Deleted` and expunges them: with UID EXPUNGE
    /// (UIDPLUS, and IMAP4rev2's base), else with EXPUNGE when every
    /// message marked `\Deleted` in the mailbox is one of them (EXPUNGE
    /// takes all such messages, and others may be another client's,
    /// marked to be looked at before they go). Returns the UIDs left
    /// marked and not expunged.
    fn delete_remote(&mut self, uids: &[u32]) -> Result<BTreeSet<u32>, Failure> {
        if uids.is_empty() {
            return Ok(BTreeSet::new());
        }
        let set = uid_set(uids.iter().copied());
        self.imap.ok(
            CommandBody::Store {
                store: Store {
                    sequence_set: set.clone(),
                    modifiers: Vec::new(),
                    action: StoreAction::Add,
                    silent: true,
                    flags: vec![Flag::Deleted],
                },
                uid: true,
            },
            "STORE \\Deleted",
        )?;
        if self.imap.offers("UIDPLUS") || self.imap.offers("IMAP4rev2") {
            self.imap.ok(CommandBody::UidExpunge(set), "UID EXPUNGE")?;
            return Ok(BTreeSet::new());
        }
        let ours: BTreeSet<u32> = uids.iter().copied().collect();
        let marked = self.imap.ok(
            CommandBody::Search {
                search: Search::new(vec![SearchKey::Deleted]),
                uid: true,
            },
            "UID SEARCH DELETED",
        )?;
        let others = match &marked.data.search {
            Some((found, _)) => found.iter().filter(|u| !ours.contains(&u.get())).count(),
            // No `* SEARCH` answer (an ESEARCH one is not looked into):
            // others may be marked.
            None => 1,
        };
        if others == 0 {
            self.imap.ok(CommandBody::Expunge, "EXPUNGE")?;
            return Ok(BTreeSet::new());
        }
        tracing::warn!(
            "the server has no UID EXPUNGE, and {others} other messages are marked \\Deleted in the \
             mailbox: the messages deleted here stay marked \\Deleted until a client expunges them"
        );
        Ok(ours)
    }

    /// Keeps the pair of server message `r`, which a deletion left marked
    /// `\Deleted` but not expunged, with that flag among those both had:
    /// the next run finds it unchanged and its local copy gone, and
    /// deletes it again (expunged once the mailbox holds no other marked
    /// message), instead of downloading it as a message no pair holds. Should
    /// someone remove the mark, the message counts as changed on the
    /// server, and is downloaded again.
    fn keep_marked(&mut self, name: &str, r: u32, l: u32, synced: &FlagSet) -> Result<(), Failure> {
        let mut marked = synced.clone();
        marked.insert("\\Deleted".to_owned());
        self.state.pair(name, r, l, &marked, None)
    }

    fn store_remote(&mut self, uid: u32, from: &FlagSet, to: &FlagSet) -> Result<(), Failure> {
        let add: FlagSet = to.difference(from).cloned().collect();
        let remove: FlagSet = from.difference(to).cloned().collect();
        for (action, flags) in [(StoreAction::Add, add), (StoreAction::Remove, remove)] {
            if flags.is_empty() {
                continue;
            }
            self.imap.ok(
                CommandBody::Store {
                    store: Store {
                        sequence_set: uid_set([uid]),
                        modifiers: Vec::new(),
                        action,
                        silent: true,
                        flags: imap_flags(&flags),
                    },
                    uid: true,
                },
                "STORE",
            )?;
        }
        Ok(())
    }

    fn store_local(&mut self, name: &MailboxName, uid: u32, flags: &FlagSet) -> Result<(), Failure> {
        let request = mailwire::mailbox::StoreFlags {
            uids: vec![Uid::new(uid).expect("a UID")],
            action: mailwire::mailbox::FlagAction::Replace,
            flags: model_flags(flags),
            condition: None,
        };
        self.local
            .account
            .store_flags(name, &request)
            .map_err(|e| store_error("changing local flags", e))?;
        Ok(())
    }

    fn delete_local(&mut self, name: &MailboxName, uids: &[u32]) -> Result<(), Failure> {
        if uids.is_empty() {
            return Ok(());
        }
        let uids: Vec<Uid> = uids.iter().filter_map(|u| Uid::new(*u)).collect();
        let request = mailwire::mailbox::StoreFlags {
            uids: uids.clone(),
            action: mailwire::mailbox::FlagAction::Add,
            flags: Flags::parse(["\\Deleted"]).expect("a flag"),
            condition: None,
        };
        self.local
            .account
            .store_flags(name, &request)
            .map_err(|e| store_error("deleting local messages", e))?;
        self.local
            .account
            .expunge(name, Some(&uids))
            .map_err(|e| store_error("deleting local messages", e))?;
        Ok(())
    }

    /// Makes one mailbox's two sides equal.
    fn apply(&mut self, mut plan: Plan) -> Result<(), Failure> {
        let name = plan.name.clone();
        let key = name.as_str().to_owned();
        let would = self.would();
        if plan.reset && !self.dry_run {
            // The old pairs name other messages now: forgotten before any
            // new one is recorded.
            self.state.forget(&key)?;
        }
        if plan.remote_box.exists {
            self.select(&plan.remote_box.wire)?;
        }
        let mut remote_deletions = Vec::new();
        let mut local_deletions = Vec::new();
        let mut remote_new: BTreeSet<u32> = plan
            .remote
            .keys()
            .filter(|r| !plan.pairs.contains_key(r))
            .copied()
            .collect();
        let mut local_new = std::mem::take(&mut plan.local_new);
        for (r, (l, synced)) in std::mem::take(&mut plan.pairs) {
            match (plan.remote.get(&r), plan.local.get(&l)) {
                (Some(remote), Some((local, _))) => {
                    let merged = merge(&synced, local, remote);
                    if merged != *remote {
                        println!("{would}flagged on the server: {name} {r} ({})", join(&merged));
                        self.counts.flagged_remote += 1;
                        if !self.dry_run {
                            self.store_remote(r, remote, &merged)?;
                        }
                    }
                    if merged != *local {
                        println!("{would}flagged here: {name} {r} ({})", join(&merged));
                        self.counts.flagged_local += 1;
                        if !self.dry_run {
                            self.store_local(&name, l, &merged)?;
                        }
                    }
                    if !self.dry_run {
                        self.state.pair(&key, r, l, &merged, None)?;
                    }
                }
                (None, Some((local, _))) if *local == synced => local_deletions.push((r, l)),
                (None, Some(_)) => {
                    // Deleted on the server, changed here: kept, and
                    // uploaded again.
                    if !self.dry_run {
                        self.state.unpair(&key, r)?;
                    }
                    local_new.insert(l);
                }
                (Some(remote), None) if *remote == synced => remote_deletions.push((r, l, synced)),
                (Some(_), None) => {
                    // Deleted here, changed on the server: downloaded again.
                    if !self.dry_run {
                        self.state.unpair(&key, r)?;
                    }
                    remote_new.insert(r);
                }
                (None, None) => {
                    if !self.dry_run {
                        self.state.unpair(&key, r)?;
                    }
                }
            }
        }

        // Deletions: made first, recorded after.
        if !remote_deletions.is_empty() {
            let uids: Vec<u32> = remote_deletions.iter().map(|(r, _, _)| *r).collect();
            println!("{would}deleted on the server: {name} {}", list(&uids));
            self.counts.deleted_remote += remote_deletions.len() as u64;
            if !self.dry_run {
                let uids: Vec<u32> = remote_deletions.iter().map(|(r, _, _)| *r).collect();
                let left = self.delete_remote(&uids)?;
                for (r, l, synced) in &remote_deletions {
                    if left.contains(r) {
                        self.keep_marked(&key, *r, *l, synced)?;
                    } else {
                        self.state.unpair(&key, *r)?;
                    }
                }
            }
        }
        if !local_deletions.is_empty() {
            let remote_uids: Vec<u32> = local_deletions.iter().map(|(r, _)| *r).collect();
            println!("{would}deleted here: {name} {}", list(&remote_uids));
            self.counts.deleted_local += local_deletions.len() as u64;
            if !self.dry_run {
                let locals: Vec<u32> = local_deletions.iter().map(|(_, l)| *l).collect();
                self.delete_local(&name, &locals)?;
                for r in &remote_uids {
                    self.state.unpair(&key, *r)?;
                }
            }
        }

        // Messages on one side only: paired with each other where they
        // are the same message (a run killed after a transfer, a new
        // UIDVALIDITY), transferred otherwise.
        let mut cut = self.state.cut_uploads(&key);
        let remote_keys = if !remote_new.is_empty() && (!local_new.is_empty() || !cut.is_empty()) {
            self.remote_keys(remote_new.iter().copied())?
        } else {
            BTreeMap::new()
        };
        if !remote_new.is_empty() && !local_new.is_empty() {
            let mut by_key: BTreeMap<Key, Vec<u32>> = BTreeMap::new();
            for l in &local_new {
                let size = plan.local.get(l).map_or(0, |(_, s)| *s);
                by_key
                    .entry(self.local_key(&name, *l, size)?)
                    .or_default()
                    .push(*l);
            }
            for (r, k) in &remote_keys {
                let Some(l) = by_key.get_mut(k).and_then(Vec::pop) else {
                    continue;
                };
                let r = *r;
                remote_new.remove(&r);
                local_new.remove(&l);
                let remote = plan.remote.get(&r).cloned().unwrap_or_default();
                let local = plan.local.get(&l).map(|(f, _)| f.clone()).unwrap_or_default();
                // No common past: flags are united.
                let united: FlagSet = remote.union(&local).cloned().collect();
                if !self.dry_run {
                    if united != remote {
                        self.store_remote(r, &remote, &united)?;
                    }
                    if united != local {
                        self.store_local(&name, l, &united)?;
                    }
                    self.state.pair(&key, r, l, &united, Some(k))?;
                    // Perhaps the copy an upload of it cut off left: that
                    // upload is accounted for.
                    if let Some(at) = cut.iter().position(|(local, _)| *local == l) {
                        let (_, sent) = cut.remove(at);
                        self.state.upload_answered(&key, l, sent)?;
                    }
                }
            }
        }
        self.second_copies(&plan, &mut remote_new, &remote_keys, cut)?;
        self.progress
            .inc_length((remote_new.len() + local_new.len()) as u64);
        self.progress.set_message(name.to_string());
        let mut delivered = Vec::new();
        for r in remote_new {
            delivered.extend(self.download(&plan, r)?);
            self.progress.inc(1);
        }
        self.take_in(&plan, delivered)?;
        for l in local_new {
            self.upload(&plan, l)?;
            self.progress.inc(1);
        }
        if !self.dry_run {
            self.state.set_mailbox(
                &key,
                plan.uid_validity,
                plan.uid_next,
                plan.modseq,
                plan.local_validity,
            )?;
        }
        Ok(())
    }

    /// Deletes the second copies that uploads cut off (`cut`) left on the
    /// server. IMAP gives an APPEND no name, so a run killed while the
    /// server stores one cannot tell whether it was stored, and the server
    /// may store it after the next run listed the mailbox: that run then
    /// uploads the message again. A server message no pair holds, with
    /// the key of a local message that is paired already and whose upload
    /// was cut off, is that upload's copy: deleted on the server, not
    /// downloaded. One copy at most per upload cut off.
    fn second_copies(
        &mut self,
        plan: &Plan,
        remote_new: &mut BTreeSet<u32>,
        remote_keys: &BTreeMap<u32, Key>,
        cut: Vec<(u32, u64)>,
    ) -> Result<(), Failure> {
        let key = plan.name.as_str().to_owned();
        let paired: BTreeSet<u32> = self
            .state
            .mailboxes
            .get(&key)
            .map(|mb| mb.pairs.values().map(|(l, _)| *l).collect())
            .unwrap_or_default();
        let mut copies = Vec::new();
        let mut answered = Vec::new();
        for (l, sent) in cut {
            let Some((_, size)) = plan.local.get(&l) else {
                continue;
            };
            if !paired.contains(&l) {
                continue;
            }
            let wanted = self.local_key(&plan.name, l, *size)?;
            let copy = remote_keys
                .iter()
                .find(|(r, k)| **k == wanted && remote_new.contains(r) && !copies.contains(*r));
            if let Some((r, _)) = copy {
                copies.push(*r);
                answered.push((l, sent));
            }
        }
        if copies.is_empty() {
            return Ok(());
        }
        println!(
            "{}deleted on the server, second copies of uploads a run cut off: {} {}",
            self.would(),
            plan.name,
            list(&copies)
        );
        self.counts.deleted_remote += copies.len() as u64;
        for r in &copies {
            remote_new.remove(r);
        }
        if self.dry_run {
            return Ok(());
        }
        // Left marked `\Deleted` (no UID EXPUNGE, other messages marked),
        // a copy is found again by the next run, and downloaded.
        self.delete_remote(&copies)?;
        for (l, sent) in answered {
            self.state.upload_answered(&key, l, sent)?;
        }
        Ok(())
    }

    /// Downloads a message straight into the local folder, as a mail
    /// delivery agent would: streamed into `tmp/`, flushed, its time set to
    /// the INTERNALDATE, renamed into `cur/` with its system flags. The
    /// model takes it in at the next snapshot ([`Run::take_in`]).
    fn download(&mut self, plan: &Plan, r: u32) -> Result<Option<Delivered>, Failure> {
        self.counts.downloaded += 1;
        if self.dry_run {
            println!("would be downloaded: {} {r}", plan.name);
            return Ok(None);
        }
        let dir = self.local.account.delivery_dir(&plan.name).ok_or_else(|| {
            Failure::Local(format!("{}: the mirror has no folder to deliver into", plan.name))
        })?;
        let name = maildir_files::unique_name("", ".mailwire-sync");
        let tmp = dir.join("tmp").join(&name);
        let file = maildir_files::create_new_file(&tmp)
            .map_err(|e| Failure::Local(format!("{}: {e}", tmp.display())))?;
        let mut out = std::io::BufWriter::new(file);
        let mut head = Vec::new();
        let mut written = 0u64;
        let unreadable = self.imap.unreadable();
        // What the server sent that is not message `r`'s body, once: the
        // download fails (a Network failure), nothing is stored.
        let mut wrong: Option<String> = None;
        let result = (|| {
            let mut keep =
                |bytes: &[u8], out: &mut std::io::BufWriter<std::fs::File>| -> std::io::Result<()> {
                    if head.len() < HEAD_LIMIT {
                        let take = bytes.len().min(HEAD_LIMIT - head.len());
                        head.extend_from_slice(&bytes[..take]);
                    }
                    written += bytes.len() as u64;
                    out.write_all(bytes)
                };
            // Only one BODY[] of message r is taken: a second body, another
            // section, or another message's body (a broken or hostile
            // server) would be stored and recorded as r, and r deleted on
            // the server later as if it had been stored.
            let mut bodies = 0u32;
            let refuse = |what: String, wrong: &mut Option<String>| -> std::io::Error {
                *wrong = Some(what.clone());
                std::io::Error::other(what)
            };
            let done = self
                .imap
                .fetch_streaming(
                    uid_fetch(
                        uid_set([r]),
                        "(UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])",
                        Vec::new(),
                    ),
                    "UID FETCH BODY[]",
                    &mut |piece| match piece {
                        crate::connection::Streamed::Start { uid, item } => {
                            bodies += 1;
                            match body_refused(r, uid, item, bodies) {
                                Some(why) => Err(refuse(why, &mut wrong)),
                                None => Ok(()),
                            }
                        }
                        crate::connection::Streamed::Data(bytes) => keep(bytes, &mut out),
                        crate::connection::Streamed::End { uid } if uid != Some(r) => Err(refuse(
                            format!("the server sent a message body for UID {uid:?} where {r} was asked for"),
                            &mut wrong,
                        )),
                        crate::connection::Streamed::End { .. } => Ok(()),
                    },
                )
                .map_err(|e| match wrong.take() {
                    Some(why) => Failure::Network(format!("{} {r}: {why}", plan.name)),
                    None => e,
                })?;
            let (mut flags, mut date, mut size) = (None, None, None);
            for (_, items) in &done.data.fetch {
                let uid = uid_in(items);
                for item in items {
                    match item {
                        MessageDataItem::Flags(f) if uid == Some(r) => flags = Some(flag_set(f)),
                        MessageDataItem::InternalDate(d) if uid == Some(r) => date = Some(*d),
                        MessageDataItem::Rfc822Size(n) if uid == Some(r) => size = Some(*n),
                        MessageDataItem::BodySection {
                            section,
                            origin,
                            data,
                        } => {
                            let Some(bytes) = data.as_bytes() else { continue };
                            bodies += 1;
                            let name = DataItemName::BodySection {
                                section: section.clone(),
                                origin: *origin,
                            };
                            if let Some(why) = body_refused(r, uid, &name, bodies) {
                                return Err(Failure::Network(format!("{} {r}: {why}", plan.name)));
                            }
                            keep(bytes, &mut out)
                                .map_err(|e| Failure::Local(format!("{}: {e}", tmp.display())))?;
                        }
                        _ => {}
                    }
                }
            }
            let file = out
                .into_inner()
                .map_err(|e| Failure::Local(format!("{}: {}", tmp.display(), e.error())))?;
            Ok::<_, Failure>((bodies > 0, flags, date, size, file))
        })();
        let (found, flags, date, size, file) = match result {
            Ok(r) => r,
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(e);
            }
        };
        if !found {
            let _ = std::fs::remove_file(&tmp);
            // A response that could not be read may have been the
            // message's: not taken for an expunge, the run fails and the
            // next one tries again.
            if self.imap.unreadable() != unreadable {
                return Err(Failure::Network(format!(
                    "{} {r}: the server's answer could not be read",
                    plan.name
                )));
            }
            // Expunged meanwhile: nothing to download.
            return Ok(None);
        }
        let flags = flags.unwrap_or_else(|| plan.remote.get(&r).cloned().unwrap_or_default());
        let local_error = |e: std::io::Error| Failure::Local(format!("{}: {e}", tmp.display()));
        let target = dir.join("cur").join(format!("{name}:2,{}", info_letters(&flags)));
        let placed = (|| {
            if let Some(date) = date {
                let when = std::time::UNIX_EPOCH
                    + std::time::Duration::from_secs(date.unix_timestamp().max(0) as u64);
                file.set_modified(when)?;
            }
            file.sync_all()?;
            drop(file);
            std::fs::rename(&tmp, &target)
        })();
        if let Err(e) = placed {
            // Not delivered: nothing of it stays in tmp/.
            let _ = std::fs::remove_file(&tmp);
            return Err(local_error(e));
        }
        maildir_files::sync_dir(&dir.join("cur")).map_err(local_error)?;
        let header = header_of(&head);
        Ok(Some(Delivered {
            remote: r,
            key: key_of(written, header),
            remote_key: key_of(size.unwrap_or(written), header),
            flags,
        }))
    }

    /// Pairs the messages [`Run::download`] delivered with the local UIDs
    /// the model gave them, and sets the keywords the file name cannot
    /// hold. One the model does not show yet is paired by the next run.
    fn take_in(&mut self, plan: &Plan, delivered: Vec<Delivered>) -> Result<(), Failure> {
        if delivered.is_empty() {
            return Ok(());
        }
        let snapshot = self
            .local
            .account
            .snapshot(&plan.name)
            .map_err(|e| store_error("reading a local folder", e))?;
        let paired: BTreeSet<u32> = self
            .state
            .mailboxes
            .get(plan.name.as_str())
            .map(|mb| mb.pairs.values().map(|(l, _)| *l).collect())
            .unwrap_or_default();
        let mut by_key: BTreeMap<Key, Vec<(u32, FlagSet)>> = BTreeMap::new();
        for m in &snapshot.messages {
            let l = m.uid.get();
            if plan.local.contains_key(&l) || paired.contains(&l) {
                continue;
            }
            let key = self.local_key(&plan.name, l, m.size)?;
            by_key.entry(key).or_default().push((l, local_flag_set(&m.flags)));
        }
        for d in delivered {
            let Some((l, local)) = by_key.get_mut(&d.key).and_then(Vec::pop) else {
                tracing::warn!(
                    "{}: a downloaded message is not seen yet; the next run pairs it",
                    plan.name
                );
                continue;
            };
            if local != d.flags {
                self.store_local(&plan.name, l, &d.flags)?;
            }
            self.state
                .pair(plan.name.as_str(), d.remote, l, &d.flags, Some(&d.remote_key))?;
        }
        Ok(())
    }

    fn upload(&mut self, plan: &Plan, l: u32) -> Result<(), Failure> {
        self.counts.uploaded += 1;
        if self.dry_run {
            println!("would be uploaded: {} (local {l})", plan.name);
            return Ok(());
        }
        let content = self.read_local(&plan.name, l)?;
        let flags = plan.local.get(&l).map(|(f, _)| f.clone()).unwrap_or_default();
        let snapshot_date = self
            .local
            .account
            .snapshot(&plan.name)
            .ok()
            .and_then(|s| s.messages.into_iter().find(|m| m.uid.get() == l))
            .map(|m| m.internal_date);
        let date =
            snapshot_date.and_then(|d| DateTime::from_unix_timestamp(d.unix_seconds, d.zone_minutes).ok());
        let literal =
            Literal::new(content.to_vec()).map_err(|e| Failure::Local(format!("a local message: {e}")))?;
        // Recorded before it is sent: should this run end before the
        // answer, the next one knows a copy may yet appear.
        let sent = self.state.upload_sent(plan.name.as_str(), l)?;
        let done = self.imap.run(CommandBody::Append(Append {
            mailbox: plan.remote_box.wire.clone(),
            messages: vec![AppendMessage {
                flags: Some(imap_flags(&flags)),
                date,
                data: AppendData::Literal(literal),
            }],
        }))?;
        // Paired before the upload is marked answered: killed between the
        // two, the next run finds the pair and no copy to delete.
        let stored = done.status == mailwire::imap::Status::Ok;
        if let Some(r) = done
            .append_uid()
            .filter(|_| stored)
            .and_then(|(_, uids)| uids.iter().next())
        {
            // The server's key of the copy is not asked for: the local
            // one, which a server that stores what it is given shows too.
            let size = plan.local.get(&l).map_or(content.len() as u64, |(_, s)| *s);
            let key = key_of(size, header_of(&content));
            self.state.pair(plan.name.as_str(), r, l, &flags, Some(&key))?;
        }
        self.state.upload_answered(plan.name.as_str(), l, sent)?;
        Imap::check(done, &format!("APPEND to {}", plan.name))?;
        Ok(())
    }
}

/// A message downloaded into the mirror, not yet paired.
struct Delivered {
    remote: u32,
    /// Its key as the local copy shows it.
    key: Key,
    /// Its key as the server shows it (RFC822.SIZE, not the octets
    /// received), recorded with the pair.
    remote_key: Key,
    flags: FlagSet,
}

/// How much of a downloaded message's beginning is kept to find its
/// header (the key that pairs it).
const HEAD_LIMIT: usize = 256 * 1024;

/// The Maildir info letters of the system flags (keywords are set through
/// the model afterwards).
fn info_letters(flags: &FlagSet) -> String {
    let mut letters: Vec<char> = flags
        .iter()
        .filter_map(|f| match f.to_ascii_lowercase().as_str() {
            "\\draft" => Some('D'),
            "\\flagged" => Some('F'),
            "\\answered" => Some('R'),
            "\\seen" => Some('S'),
            "\\deleted" => Some('T'),
            _ => None,
        })
        .collect();
    letters.sort_unstable();
    letters.into_iter().collect()
}

fn join(flags: &FlagSet) -> String {
    flags.iter().cloned().collect::<Vec<_>>().join(" ")
}

fn list(uids: &[u32]) -> String {
    uids.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
}

/// IMAP LIST pattern matching: `*` matches anything, `%` anything but the
/// hierarchy delimiter (`/` in local names).
fn matches_pattern(pattern: &str, name: &str) -> bool {
    fn go(p: &[char], n: &[char]) -> bool {
        match p.split_first() {
            None => n.is_empty(),
            Some(('*', rest)) => (0..=n.len()).any(|i| go(rest, &n[i..])),
            Some(('%', rest)) => (0..=n.len())
                .take_while(|&i| i == 0 || n[i - 1] != '/')
                .any(|i| go(rest, &n[i..])),
            Some((c, rest)) => n.first() == Some(c) && go(rest, &n[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    go(&p, &n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> FlagSet {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn flags_merge_three_ways() {
        let base = set(&["\\Seen", "a"]);
        // Each side's change wins over no change; both agree otherwise.
        assert_eq!(
            merge(&base, &set(&["\\Seen", "a", "b"]), &set(&["a"])),
            set(&["a", "b"])
        );
        assert_eq!(merge(&base, &base, &set(&["\\Flagged"])), set(&["\\Flagged"]));
        assert_eq!(merge(&base, &set(&[]), &base), set(&[]));
    }

    #[test]
    fn patterns() {
        assert!(matches_pattern("*", "a/b"));
        assert!(matches_pattern("%", "INBOX"));
        assert!(!matches_pattern("%", "a/b"));
        assert!(matches_pattern("a/%", "a/b"));
        assert!(matches_pattern("Arch*", "Archive/2026"));
        assert!(!matches_pattern("Arch", "Archive"));
    }

    #[test]
    fn keys_use_the_message_id_or_the_header() {
        let a = key_of(10, b"Subject: x\nMessage-ID:\n <1@x>\n\n");
        assert_eq!(a, (10, "id:<1@x>".into()));
        let b = key_of(10, b"Subject: x\r\n\r\n");
        assert_eq!(b, key_of(10, b"Subject: x\n\n"));
        assert_ne!(b, key_of(10, b"Subject: y\n\n"));
    }
}

//! The selected mailbox as the client sees it: the sequence-number↔UID
//! map, and the store's changes waiting until RFC 9051 lets the session
//! tell the client.
//!
//! The application reports what happens in the store whenever it happens
//! ([`message_added`](super::ServerSession::message_added),
//! [`message_expunged`](super::ServerSession::message_expunged),
//! [`flags_changed`](super::ServerSession::flags_changed)). The session announces the changes at
//! the end of a command, or at once during IDLE, with the numbers the
//! client knows: `EXISTS` before anything about a new message, `EXPUNGE`
//! (or `VANISHED` after ENABLE QRESYNC) never while a FETCH, STORE or
//! SEARCH by sequence number is in progress (RFC 9051 section 7.5.1), and
//! flag changes as `FETCH` with `MODSEQ` after ENABLE CONDSTORE.

use std::collections::{BTreeSet, VecDeque};
use std::num::NonZeroU32;

use crate::condstore::ModSeq;
use crate::fetch::data::{DataItemName, MessageDataItem};
use crate::flag::{Flag, FlagFetch, FlagPerm};
use crate::response::{Code, RespText, Response, Status};
use crate::sequence::{SeqNumber, SequenceSet, UidSet};
use crate::string::{IString, Literal, NString};

/// A mailbox as SELECT or EXAMINE opens it, for
/// [`ServerSession::open_mailbox`](super::ServerSession::open_mailbox).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MailboxSnapshot {
    /// `UIDVALIDITY`.
    pub uid_validity: NonZeroU32,
    /// `UIDNEXT`: the UID the next message will get.
    pub uid_next: NonZeroU32,
    /// The UIDs of the messages, ascending: message 1 first.
    pub uids: Vec<NonZeroU32>,
    /// The flags defined in the mailbox (`* FLAGS`).
    pub flags: Vec<Flag<'static>>,
    /// The flags a client can change permanently (`PERMANENTFLAGS`); empty
    /// for a read-only mailbox.
    pub permanent_flags: Vec<FlagPerm<'static>>,
    /// The highest mod-sequence (CONDSTORE), or `None` for a mailbox that
    /// keeps none (`NOMODSEQ`).
    pub highest_modseq: Option<ModSeq>,
    /// Messages new since the last session (IMAP4rev1's `RECENT`; not
    /// sent to IMAP4rev2 clients).
    pub recent: u32,
    /// The sequence number of the first unseen message (IMAP4rev1's
    /// `UNSEEN` code).
    pub first_unseen: Option<NonZeroU32>,
    /// The mailbox can only be read (EXAMINE always is).
    pub read_only: bool,
}

impl MailboxSnapshot {
    /// A mailbox holding `uids`, with the system flags defined and
    /// changeable, `\*` allowed, and no mod-sequences.
    pub fn new(uid_validity: NonZeroU32, uid_next: NonZeroU32, uids: Vec<NonZeroU32>) -> Self {
        let system = [
            Flag::Answered,
            Flag::Flagged,
            Flag::Deleted,
            Flag::Seen,
            Flag::Draft,
        ];
        MailboxSnapshot {
            uid_validity,
            uid_next,
            uids,
            flags: system.to_vec(),
            permanent_flags: system
                .into_iter()
                .map(FlagPerm::Flag)
                .chain([FlagPerm::Asterisk])
                .collect(),
            highest_modseq: None,
            recent: 0,
            first_unseen: None,
            read_only: false,
        }
    }
}

/// A change in the store the client has not been told about.
#[derive(Debug, Clone)]
enum Change {
    Added(NonZeroU32),
    Expunged(NonZeroU32),
    Flags {
        uid: NonZeroU32,
        flags: Vec<FlagFetch<'static>>,
        modseq: Option<ModSeq>,
    },
}

/// How the session writes what the client must learn.
#[derive(Debug, Clone, Copy)]
pub(super) struct Announce {
    /// `EXPUNGE`/`VANISHED` may be sent now.
    pub expunge: bool,
    /// QRESYNC is on: `VANISHED` instead of `EXPUNGE`.
    pub qresync: bool,
    /// CONDSTORE is on: `UID` and `MODSEQ` with flag changes.
    pub condstore: bool,
    /// IMAP4rev2 is in use: no `RECENT`.
    pub rev2: bool,
}

/// The client's view of the selected mailbox.
#[derive(Debug, Default)]
pub(super) struct View {
    /// The UIDs of the messages the client counts (the first `announced`
    /// of them) or will be told of, ascending.
    uids: Vec<NonZeroU32>,
    /// How many messages the client knows exist.
    announced: usize,
    /// Expunged in the store, still in the client's view.
    gone: BTreeSet<NonZeroU32>,
    pending: VecDeque<Change>,
    /// The SEARCHRES `$` result, as UIDs.
    saved: Vec<NonZeroU32>,
    /// A `\Recent` count not yet sent (IMAP4rev1).
    recent: Option<u32>,
    /// The highest mod-sequence the client was told of: the mailbox's at
    /// the opening and those of flag changes since (`None` for a mailbox
    /// that keeps none). New messages' are not counted: a value below the
    /// mailbox's only makes a client resynchronise a little more.
    pub(super) highest_modseq: Option<ModSeq>,
    pub(super) read_only: bool,
}

impl View {
    pub(super) fn new(snapshot: &MailboxSnapshot) -> Self {
        let mut uids = snapshot.uids.clone();
        uids.sort_unstable();
        uids.dedup();
        View {
            announced: uids.len(),
            uids,
            highest_modseq: snapshot.highest_modseq,
            read_only: snapshot.read_only,
            ..View::default()
        }
    }

    /// The sequence number of a message the client knows.
    pub(super) fn seq_of(&self, uid: NonZeroU32) -> Option<NonZeroU32> {
        let i = self.uids[..self.announced].binary_search(&uid).ok()?;
        NonZeroU32::new(i as u32 + 1)
    }

    pub(super) fn save(&mut self, uids: Vec<NonZeroU32>) {
        self.saved = uids;
    }

    /// The UIDs a sequence set names: message numbers the client knows,
    /// or UIDs (which may name messages that do not exist). `None` when
    /// a message number is beyond the mailbox (a `BAD`, RFC 9051).
    pub(super) fn resolve(&self, set: &SequenceSet, uid: bool) -> Option<Vec<NonZeroU32>> {
        let known = &self.uids[..self.announced];
        if set.is_last_command() {
            return Some(
                self.saved
                    .iter()
                    .copied()
                    .filter(|u| known.binary_search(u).is_ok())
                    .collect(),
            );
        }
        // The ranges are merged before anything is expanded: a set naming
        // the mailbox many times over (`1:*,1:*,...`, some 16,000 times in
        // a 64 KiB line) would otherwise make a list that many times its
        // size before the duplicates went.
        if !uid {
            let count = known.len() as u32;
            if set.exceeds(count) {
                return None;
            }
            let Some(merged) = set.normalized(count) else {
                return Some(Vec::new());
            };
            return Some(
                merged
                    .resolved_ranges(count)
                    .flat_map(|r| known[*r.start() as usize - 1..*r.end() as usize].iter().copied())
                    .collect(),
            );
        }
        let largest = known.last().map_or(0, |u| u.get());
        let resolve = |n: SeqNumber| match n {
            SeqNumber::Value(v) => v.get(),
            SeqNumber::Largest => largest,
        };
        let mut ranges: Vec<(u32, u32)> = set
            .ranges()
            .iter()
            .map(|range| {
                let (a, b) = (resolve(range.start()), resolve(range.end()));
                (a.min(b), a.max(b))
            })
            .collect();
        ranges.sort_unstable();
        let mut out = Vec::new();
        // Past the UIDs taken so far: the ranges ascend by their start, so
        // each adds only what lies above the last one's end.
        let mut from = 0;
        for (lo, hi) in ranges {
            let start = from.max(known.partition_point(|u| u.get() < lo));
            let end = known.partition_point(|u| u.get() <= hi);
            if start < end {
                out.extend_from_slice(&known[start..end]);
                from = end;
            }
        }
        Some(out)
    }

    pub(super) fn added(&mut self, uid: NonZeroU32) {
        self.pending.push_back(Change::Added(uid));
    }

    pub(super) fn expunged(&mut self, uid: NonZeroU32) {
        self.gone.insert(uid);
        self.pending.push_back(Change::Expunged(uid));
    }

    pub(super) fn flags_changed(
        &mut self,
        uid: NonZeroU32,
        flags: Vec<FlagFetch<'static>>,
        modseq: Option<ModSeq>,
    ) {
        self.pending.push_back(Change::Flags { uid, flags, modseq });
    }

    /// Forgets pending flag changes of `uid`: a FETCH of its flags is on
    /// its way to the client.
    pub(super) fn flags_sent(&mut self, uid: NonZeroU32) {
        self.pending
            .retain(|c| !matches!(c, Change::Flags { uid: u, .. } if *u == uid));
    }

    /// Writes what the client may learn now, in the order it happened.
    pub(super) fn announce(&mut self, how: Announce, out: &mut Vec<Response<'static>>) {
        let mut vanished: Vec<u32> = Vec::new();
        let mut withheld = VecDeque::new();
        let pending = std::mem::take(&mut self.pending);
        for change in pending {
            match change {
                Change::Added(uid) => {
                    // UIDs only grow; a stale or repeated one is ignored.
                    let last = self.uids.last().copied();
                    if last.is_none_or(|l| uid > l) {
                        self.uids.push(uid);
                    }
                }
                Change::Expunged(uid) if !how.expunge => withheld.push_back(Change::Expunged(uid)),
                Change::Expunged(uid) => {
                    let Ok(i) = self.uids.binary_search(&uid) else {
                        self.gone.remove(&uid);
                        continue;
                    };
                    self.gone.remove(&uid);
                    if i >= self.announced {
                        // Never announced: it silently never existed.
                        self.uids.remove(i);
                        continue;
                    }
                    if how.qresync {
                        vanished.push(uid.get());
                    } else {
                        out.push(Response::Expunge(
                            NonZeroU32::new(i as u32 + 1).expect("i + 1 > 0"),
                        ));
                    }
                    self.uids.remove(i);
                    self.announced -= 1;
                }
                Change::Flags { uid, flags, modseq } => {
                    if self.gone.contains(&uid) {
                        continue;
                    }
                    let Ok(i) = self.uids.binary_search(&uid) else {
                        continue;
                    };
                    self.flush_vanished(&mut vanished, out);
                    if i >= self.announced {
                        self.announced = self.uids.len();
                        out.push(Response::Exists(self.announced as u32));
                    }
                    let mut items = Vec::with_capacity(3);
                    if how.condstore {
                        items.push(MessageDataItem::Uid(uid));
                    }
                    items.push(MessageDataItem::Flags(flags));
                    if let (true, Some(m)) = (how.condstore, modseq) {
                        items.push(MessageDataItem::ModSeq(m));
                    }
                    if let (Some(h), Some(m)) = (self.highest_modseq, modseq) {
                        self.highest_modseq = Some(h.max(m));
                    }
                    out.push(Response::Fetch {
                        seq: NonZeroU32::new(i as u32 + 1).expect("i + 1 > 0"),
                        items,
                    });
                }
            }
        }
        self.flush_vanished(&mut vanished, out);
        if self.announced != self.uids.len() {
            self.announced = self.uids.len();
            out.push(Response::Exists(self.announced as u32));
        }
        if let Some(n) = self.recent.take().filter(|_| !how.rev2) {
            out.push(Response::Recent(n));
        }
        self.pending = withheld;
    }

    fn flush_vanished(&self, vanished: &mut Vec<u32>, out: &mut Vec<Response<'static>>) {
        if vanished.is_empty() {
            return;
        }
        let uids = UidSet::from_unordered(vanished.drain(..)).expect("UIDs are not zero");
        out.push(Response::Vanished { earlier: false, uids });
    }
}

/// The untagged responses that open a mailbox (RFC 9051 section 6.3.2,
/// RFC 3501 section 6.3.1, RFC 7162 section 3.1.2), for the `view` made
/// of it (its EXISTS counts the view's messages: a snapshot that names a
/// UID twice would otherwise announce one message more than the numbers
/// the session gives).
pub(super) fn opening(
    snapshot: &MailboxSnapshot,
    view: &View,
    rev2: bool,
    condstore: bool,
) -> Vec<Response<'static>> {
    let mut out = vec![
        Response::Flags(snapshot.flags.clone()),
        Response::Exists(view.uids.len() as u32),
    ];
    if !rev2 {
        out.push(Response::Recent(snapshot.recent));
        if let Some(n) = snapshot.first_unseen {
            out.push(untagged_ok(Code::Unseen(n), "First unseen"));
        }
    }
    out.push(untagged_ok(
        Code::PermanentFlags(snapshot.permanent_flags.clone()),
        "Flags permitted",
    ));
    out.push(untagged_ok(
        Code::UidValidity(snapshot.uid_validity),
        "UIDs valid",
    ));
    out.push(untagged_ok(
        Code::UidNext(snapshot.uid_next),
        "Predicted next UID",
    ));
    if condstore {
        out.push(modseq_status(snapshot.highest_modseq));
    }
    out
}

/// `* OK [HIGHESTMODSEQ m]`, or `* OK [NOMODSEQ]` for a mailbox that keeps
/// no mod-sequences (RFC 7162 section 3.1.2).
pub(super) fn modseq_status(highest: Option<ModSeq>) -> Response<'static> {
    match highest {
        Some(m) => untagged_ok(Code::HighestModSeq(m), "Highest"),
        None => untagged_ok(Code::NoModSeq, "No permanent modsequences"),
    }
}

/// `* OK [code] text`.
fn untagged_ok(code: Code<'static>, text: &'static str) -> Response<'static> {
    Response::Status {
        tag: None,
        status: Status::Ok,
        text: RespText {
            code: Some(code),
            text: text.into(),
        },
    }
}

impl super::ServerSession {
    /// Opens the mailbox a pending SELECT or EXAMINE asked for: the session
    /// writes FLAGS, EXISTS, the UIDVALIDITY, UIDNEXT and PERMANENTFLAGS
    /// codes, RECENT and UNSEEN for IMAP4rev1 clients and HIGHESTMODSEQ or
    /// NOMODSEQ once CONDSTORE is on (`SELECT (CONDSTORE)` turns it on),
    /// and keeps the UIDs as the client's view. Then send anything more
    /// (QRESYNC's `VANISHED (EARLIER)` and FETCH) and
    /// [`complete`](super::ServerSession::complete) with OK.
    pub fn open_mailbox(
        &mut self,
        request: &super::CommandRequest,
        snapshot: MailboxSnapshot,
    ) -> Result<(), super::AnswerError> {
        let (effect, _) = self.check_command(request.serial)?;
        let super::Effect::Select { .. } = effect else {
            return Err(super::AnswerError::NotAllowed);
        };
        if super::rules::select_asks_condstore(&request.command.body)
            && !self.enabled.condstore
            && self.offers(|c| *c == crate::capability::Capability::CondStore)
        {
            // RFC 7162 section 3.1: a CONDSTORE-enabling command.
            self.enabled.condstore = true;
            let condstore = crate::capability::Capability::CondStore;
            self.events
                .push_back(super::ServerEvent::Enabled(vec![condstore]));
        }
        let view = View::new(&snapshot);
        for response in opening(&snapshot, &view, self.rev2_active(), self.enabled.condstore) {
            self.write(&response);
        }
        self.opening = Some(view);
        Ok(())
    }

    /// A message arrived in the selected mailbox (by delivery, APPEND or
    /// COPY from any session). UIDs must grow; an older one is ignored.
    /// Ignored when no mailbox is selected.
    pub fn message_added(&mut self, uid: NonZeroU32) {
        if let Some(view) = self.current_view() {
            view.added(uid);
            self.announce_if_idle();
        }
    }

    /// The number of messages `\Recent` in this session changed (new
    /// messages arrived): IMAP4rev1 clients get `* n RECENT` with the next
    /// `EXISTS` (RFC 3501 section 7.3.2); IMAP4rev2 has no `\Recent`.
    pub fn recent_changed(&mut self, count: u32) {
        if let Some(view) = self.current_view() {
            view.recent = Some(count);
            self.announce_if_idle();
        }
    }

    /// A message of the selected mailbox was expunged (by any session).
    pub fn message_expunged(&mut self, uid: NonZeroU32) {
        if let Some(view) = self.current_view() {
            view.expunged(uid);
            self.announce_if_idle();
        }
    }

    /// The flags of a message of the selected mailbox changed (by another
    /// session, or by this one in a way its own responses did not show),
    /// with the new mod-sequence when the mailbox keeps them.
    pub fn flags_changed(&mut self, uid: NonZeroU32, flags: Vec<FlagFetch<'static>>, modseq: Option<ModSeq>) {
        if let Some(view) = self.current_view() {
            view.flags_changed(uid, flags, modseq);
            self.announce_if_idle();
        }
    }

    /// Sends `* n FETCH (...)` for the message with `uid`, during a
    /// command in the selected state (FETCH, STORE, or any other that
    /// reports message data): the session writes the sequence number the
    /// client knows, and adds `UID` for UID commands, which RFC 9051
    /// requires. Refused for a message the client does not know.
    pub fn fetch_data(
        &mut self,
        request: &super::CommandRequest,
        uid: NonZeroU32,
        mut items: Vec<MessageDataItem<'_>>,
    ) -> Result<(), super::AnswerError> {
        self.check_command(request.serial)?;
        // During SELECT (QRESYNC), about the mailbox being opened.
        let Some(view) = self.current_view() else {
            return Err(super::AnswerError::NotAllowed);
        };
        let seq = view.seq_of(uid).ok_or(super::AnswerError::NotAllowed)?;
        if items.iter().any(|i| matches!(i, MessageDataItem::Flags(_))) {
            view.flags_sent(uid);
        }
        let uid_command = matches!(
            request.command.body,
            crate::command::CommandBody::Fetch { uid: true, .. }
                | crate::command::CommandBody::Store { uid: true, .. }
                | crate::command::CommandBody::Copy { uid: true, .. }
                | crate::command::CommandBody::Move { uid: true, .. }
        );
        if uid_command && !items.iter().any(|i| matches!(i, MessageDataItem::Uid(_))) {
            items.insert(0, MessageDataItem::Uid(uid));
        }
        self.write(&Response::Fetch { seq, items });
        Ok(())
    }

    /// Sends what the client must learn of the selected mailbox now,
    /// outside any command, as IDLE does: for a client that asked for it
    /// with NOTIFY (RFC 5465). `expunge` false holds expunges back (the
    /// `selected-delayed` filter). Does nothing while a command runs.
    pub fn announce_changes(&mut self, expunge: bool) {
        if matches!(self.phase, super::Phase::Commands | super::Phase::Idle { .. })
            && self.streaming.is_none()
        {
            self.announce(expunge);
        }
    }

    /// Writes untagged `STATUS`, `LIST` or `ESEARCH` data outside any
    /// command: NOTIFY's news of other mailboxes (RFC 5465 section 5), and
    /// the ADDTO and REMOVEFROM of searches kept up to date (RFC 5267
    /// section 4.3). Refused while a command runs, and for any other
    /// response.
    pub fn unsolicited(&mut self, response: &Response<'_>) -> Result<(), super::AnswerError> {
        if !matches!(self.phase, super::Phase::Commands | super::Phase::Idle { .. })
            || self.streaming.is_some()
        {
            return Err(super::AnswerError::NotAllowed);
        }
        if !matches!(
            response,
            Response::MailboxStatus(_) | Response::List(_) | Response::ESearch(_)
        ) {
            return Err(super::AnswerError::NotAllowed);
        }
        self.write(response);
        Ok(())
    }

    /// Writes `* n FETCH` for a message outside any command: the
    /// attributes NOTIFY's `MessageNew` asked for (RFC 5465 section 5.2),
    /// sent after the `EXISTS` that announced the message (call
    /// [`announce_changes`](Self::announce_changes) first). `UID` is put
    /// first when `items` lacks it. Refused while a command runs, and for
    /// a message the client has not been told of.
    pub fn unsolicited_fetch(
        &mut self,
        uid: NonZeroU32,
        mut items: Vec<MessageDataItem<'_>>,
    ) -> Result<(), super::AnswerError> {
        if !matches!(self.phase, super::Phase::Commands | super::Phase::Idle { .. })
            || self.streaming.is_some()
        {
            return Err(super::AnswerError::NotAllowed);
        }
        let Some(view) = self.current_view() else {
            return Err(super::AnswerError::NotAllowed);
        };
        let seq = view.seq_of(uid).ok_or(super::AnswerError::NotAllowed)?;
        if items.iter().any(|i| matches!(i, MessageDataItem::Flags(_))) {
            view.flags_sent(uid);
        }
        if !items.iter().any(|i| matches!(i, MessageDataItem::Uid(_))) {
            items.insert(0, MessageDataItem::Uid(uid));
        }
        self.write(&Response::Fetch { seq, items });
        Ok(())
    }

    /// Starts a `* n FETCH` whose last item's data is streamed: writes
    /// `items` (as [`fetch_data`](Self::fetch_data) would, with `UID` for
    /// UID commands), then `name` and the header of a literal of `length`
    /// octets (a literal8 for BINARY when `binary`). Send exactly `length`
    /// octets with [`fetch_literal_data`](Self::fetch_literal_data), then
    /// [`fetch_literal_end`](Self::fetch_literal_end); nothing else can be
    /// answered in between. For BODY and RFC822 data the octets must not
    /// hold NUL (RFC 9051's `literal`): replace them, as Dovecot does with
    /// 0x80.
    pub fn fetch_literal_start<'a>(
        &mut self,
        request: &super::CommandRequest,
        uid: NonZeroU32,
        mut items: Vec<MessageDataItem<'a>>,
        name: DataItemName<'a>,
        length: u64,
        binary: bool,
    ) -> Result<(), super::AnswerError> {
        if binary && !name.allows_literal8() {
            return Err(super::AnswerError::NotAllowed);
        }
        // An empty literal stands in for the data: everything up to its
        // header is the response's start.
        let placeholder = if binary {
            Literal::binary(&[][..])
        } else {
            Literal::new(&[][..]).expect("empty is a literal")
        };
        items.push(name.with_data(NString(Some(IString::Literal(placeholder)))));
        let before = self.output.len();
        self.fetch_data(request, uid, items)?;
        let tail: &[u8] = if binary { b"~{0}\r\n)\r\n" } else { b"{0}\r\n)\r\n" };
        debug_assert!(self.output.ends_with(tail));
        if !self.output[before..].ends_with(tail) {
            return Err(super::AnswerError::NotAllowed);
        }
        self.output.truncate(self.output.len() - tail.len());
        let header = if binary {
            format!("~{{{length}}}\r\n")
        } else {
            format!("{{{length}}}\r\n")
        };
        self.output.extend_from_slice(header.as_bytes());
        self.streaming = Some(length);
        Ok(())
    }

    /// The next octets of the literal [`fetch_literal_start`] began;
    /// refused beyond its length.
    ///
    /// [`fetch_literal_start`]: Self::fetch_literal_start
    pub fn fetch_literal_data(
        &mut self,
        request: &super::CommandRequest,
        data: &[u8],
    ) -> Result<(), super::AnswerError> {
        let remaining = self.literal_owed(request)?;
        if data.len() as u64 > remaining {
            return Err(super::AnswerError::NotAllowed);
        }
        self.output.extend_from_slice(data);
        self.streaming = Some(remaining - data.len() as u64);
        Ok(())
    }

    /// Ends the streamed `FETCH`; refused until all the literal's octets
    /// were sent.
    pub fn fetch_literal_end(&mut self, request: &super::CommandRequest) -> Result<(), super::AnswerError> {
        if self.literal_owed(request)? != 0 {
            return Err(super::AnswerError::NotAllowed);
        }
        self.streaming = None;
        self.output.extend_from_slice(b")\r\n");
        Ok(())
    }

    /// Whether a streamed FETCH literal is open.
    pub fn is_streaming(&self) -> bool {
        self.streaming.is_some()
    }

    fn literal_owed(&self, request: &super::CommandRequest) -> Result<u64, super::AnswerError> {
        let owed = self.streaming.ok_or(super::AnswerError::NotAllowed)?;
        match &self.phase {
            super::Phase::Waiting { serial, .. } if *serial == request.serial => Ok(owed),
            _ => Err(super::AnswerError::NotPending),
        }
    }

    /// Answers SEARCH or UID SEARCH with the UIDs of the matching messages
    /// (in any order) and, for a search with a MODSEQ key, their highest
    /// mod-sequence. The session writes the answer the client asked for:
    /// `* SEARCH` to an IMAP4rev1 client without RETURN, otherwise
    /// `* ESEARCH` with MIN, MAX, COUNT and ALL as requested (ALL alone
    /// for IMAP4rev2 without RETURN), in message numbers or UIDs, and
    /// keeps the result for `$` after `RETURN (SAVE)` (RFC 5182: only the
    /// minimum and maximum when SAVE comes with MIN or MAX alone). Other
    /// return options (PARTIAL, CONTEXT, UPDATE) are the application's to
    /// answer with [`respond`](super::ServerSession::respond).
    pub fn search_matches(
        &mut self,
        request: &super::CommandRequest,
        uids: &[NonZeroU32],
        modseq: Option<ModSeq>,
    ) -> Result<(), super::AnswerError> {
        use crate::search::{ESearch, SearchReturnData, SearchReturnOption as Opt};
        self.check_command(request.serial)?;
        let crate::command::CommandBody::Search { search, uid } = &request.command.body else {
            return Err(super::AnswerError::NotAllowed);
        };
        let rev2 = self.rev2_active();
        let Some(view) = self.view.as_mut() else {
            return Err(super::AnswerError::NotAllowed);
        };
        let mut matched: Vec<NonZeroU32> = uids
            .iter()
            .copied()
            .filter(|u| view.seq_of(*u).is_some())
            .collect();
        matched.sort_unstable();
        matched.dedup();
        // Message numbers for SEARCH, UIDs for UID SEARCH; both ascending.
        let numbers: Vec<NonZeroU32> = if *uid {
            matched.clone()
        } else {
            matched.iter().filter_map(|u| view.seq_of(*u)).collect()
        };
        let options = search.return_options.as_deref();
        let has = |o: &Opt<'_>| options.is_some_and(|opts| opts.contains(o));
        if has(&Opt::Save) {
            let min_max_only = (has(&Opt::Min) || has(&Opt::Max)) && !has(&Opt::All) && !has(&Opt::Count);
            let saved = if min_max_only {
                let mut s = Vec::new();
                if has(&Opt::Min) {
                    s.extend(matched.first().copied());
                }
                if has(&Opt::Max) {
                    s.extend(matched.last().copied());
                }
                s.dedup();
                s
            } else {
                matched.clone()
            };
            view.save(saved);
        }
        let response = match options {
            None if !rev2 => Response::Search { numbers, modseq },
            _ => {
                let wanted = |o: Opt<'static>| match options {
                    None => o == Opt::All,
                    // RETURN () means ALL (RFC 4731).
                    Some([]) => o == Opt::All,
                    Some(opts) => opts.contains(&o),
                };
                if options.is_some_and(|o| o.len() == 1 && o[0] == Opt::Save) {
                    // RFC 5182: SAVE alone returns nothing.
                    return Ok(());
                }
                let mut data = Vec::new();
                if let (true, Some(&n)) = (wanted(Opt::Min), numbers.first()) {
                    data.push(SearchReturnData::Min(n));
                }
                if let (true, Some(&n)) = (wanted(Opt::Max), numbers.last()) {
                    data.push(SearchReturnData::Max(n));
                }
                if wanted(Opt::All) && !numbers.is_empty() {
                    let set = SequenceSet::from_numbers(numbers.iter().map(|n| n.get()))
                        .expect("ascending, not zero");
                    data.push(SearchReturnData::All(set));
                }
                if wanted(Opt::Count) {
                    data.push(SearchReturnData::Count(numbers.len() as u32));
                }
                if let (Some(m), false) = (modseq, numbers.is_empty()) {
                    data.push(SearchReturnData::ModSeq(m));
                }
                let tag = crate::string::Quoted::new(request.command.tag.as_str().as_bytes().to_vec())
                    .expect("a tag fits a quoted string");
                Response::ESearch(ESearch {
                    tag: Some(tag),
                    mailbox: None,
                    uid: *uid,
                    data,
                })
            }
        };
        self.write(&response);
        Ok(())
    }

    /// The SEARCHRES result `$` stands for (RFC 5182): the UIDs the last
    /// `SEARCH RETURN (SAVE)` saved, ascending, or `None` when no mailbox
    /// is selected. The session resolves `$` in message sets itself; a
    /// store that evaluates SEARCH keys needs this for `$` inside a key.
    pub fn saved_search(&self) -> Option<&[NonZeroU32]> {
        self.view.as_ref().map(|v| v.saved.as_slice())
    }

    /// The view changes go to: the mailbox being opened, or the selected
    /// one.
    fn current_view(&mut self) -> Option<&mut View> {
        match self.opening.as_mut() {
            Some(v) => Some(v),
            None => self.view.as_mut(),
        }
    }

    fn announce_if_idle(&mut self) {
        if let super::Phase::Idle { .. } = self.phase {
            self.announce(true);
        }
    }

    /// Tells the client what it may learn now.
    pub(super) fn announce(&mut self, expunge: bool) {
        let how = Announce {
            expunge,
            qresync: self.enabled.qresync,
            condstore: self.enabled.condstore,
            rev2: self.rev2_active(),
        };
        let Some(view) = self.view.as_mut() else {
            return;
        };
        let mut out = Vec::new();
        view.announce(how, &mut out);
        for response in &out {
            self.write(response);
        }
    }

    /// IMAP4rev2's forms are in use: the server offers only IMAP4rev2, or
    /// the client enabled it.
    pub(super) fn rev2_active(&self) -> bool {
        self.config.imap4rev2 && (self.enabled.imap4rev2 || !self.config.imap4rev1)
    }

    /// The UIDs a command's sequence set names, or why it is refused.
    pub(super) fn messages_of(
        &self,
        body: &crate::command::CommandBody<'_>,
    ) -> Result<Vec<NonZeroU32>, &'static str> {
        use crate::command::CommandBody as C;
        let (set, uid) = match body {
            C::Fetch { fetch, uid } => (&fetch.sequence_set, *uid),
            C::Store { store, uid } => (&store.sequence_set, *uid),
            C::Copy { args, uid } | C::Move { args, uid } => (&args.sequence_set, *uid),
            C::UidExpunge(set) => (set, true),
            _ => return Ok(Vec::new()),
        };
        let Some(view) = self.view.as_ref() else {
            return Ok(Vec::new());
        };
        view.resolve(set, uid).ok_or("Invalid message sequence number")
    }
}

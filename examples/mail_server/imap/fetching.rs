//! FETCH of the selected mailbox's messages, in batches a job on the
//! blocking pool renders (large bodies left to stream), and the data
//! NOTIFY's MessageNew asks for.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use std::borrow::Cow;
use std::cell::RefCell;

use mailwire::imap::{
    DataItemName, FetchItem, FetchModifier, MessageDataItem, ObjectId, Partial, Response, Section,
    SectionPart, UidSet,
};
use mailwire::mailbox::analysis::{BinaryError, Content, Measure, Part, StoredLayout, StoredMessage};
use mailwire::mailbox::{ModSeq, SelectedMailbox, StoreError, Uid, ViewMessage};

use super::cache::{Structure, StructureCache};
use super::exec::{
    Answer, Info, Outcome, STREAM_ABOVE, Streamed, Work, condition, no_room_for, store_failure, view_message,
};
use super::fetch::{self, ContentItem, ItemError, LiteralCap};

/// The FETCH data of new messages, by UID (see [`new_message_data`]),
/// each with whether it holds every item asked for (a content item may be
/// left out).
pub type NewMessageData = Vec<(NonZeroU32, Vec<MessageDataItem<'static>>, bool)>;

/// What NOTIFY's MessageNew asked to be sent of new messages of the
/// selected mailbox (RFC 5465 section 5.2), for the UIDs of `uids` still
/// there, from the first until what is rendered may hold `budget` octets
/// (one message at least); with how many of `uids` it went
/// through, so that the rest is rendered once this part is sent. Nothing
/// is changed by it: the `\Seen` a BODY[] item sets is set by
/// [`mark_sent_seen`] once the session queued the FETCH, if it holds every
/// item. A message larger than [`STREAM_ABOVE`] is read from its file a
/// page at a time, and a section of it larger than that is left out (a
/// notification is not streamed); one whose content cannot be read or
/// decoded gets only the items that need no content.
pub fn new_message_data(
    work: &mut Work,
    items: &[FetchItem<'static>],
    uids: &[NonZeroU32],
    info: &Info,
    budget: u64,
) -> (NewMessageData, usize) {
    let Some(selected) = work.selected.as_mut() else {
        return (Vec::new(), uids.len());
    };
    let needs_content = fetch::needs_content(items);
    // A CONDSTORE-aware client gets MODSEQ in every untagged FETCH (RFC
    // 7162 section 3.1), news of new messages included.
    let modseq = info.enabled.condstore;
    let mut out = Vec::new();
    let mut literal_bytes = 0u64;
    for (at, &uid) in uids.iter().enumerate() {
        if literal_bytes >= budget {
            return (out, at);
        }
        let Some(message) = view_message(selected, Uid::from(uid)).cloned() else {
            continue;
        };
        if needs_content {
            // What its literals may hold, or what is read of it (ENVELOPE
            // or BODYSTRUCTURE of a large header can hold more than its
            // literals), whichever is more.
            let each = if message.size > STREAM_ABOVE {
                STREAM_ABOVE
            } else {
                u64::MAX
            };
            let weighs =
                fetch::literals_at_most(items, message.size, each).max(message.size.min(STREAM_ABOVE));
            literal_bytes = literal_bytes.saturating_add(weighs);
        }
        if needs_content && message.size > STREAM_ABOVE {
            let mut data = fetch::render(&message, None, None, items, info.rev2, modseq).unwrap_or_default();
            let read = file_structure(selected, &work.structures, Uid::from(uid))
                .map(|structure| from_file(selected, Uid::from(uid), items, &structure));
            let whole = match read {
                // A section to be streamed is left out.
                Some(Ok(Some((mut read, streamed)))) => {
                    data.append(&mut read);
                    streamed.is_none()
                }
                _ => false,
            };
            out.push((uid, data, whole));
            continue;
        }
        let bytes = if needs_content {
            selected.read(Uid::from(uid)).ok()
        } else {
            None
        };
        // Past the bound of what it may decode, it is announced without
        // its content.
        let limit = fetch::decode_limit(message.size);
        let content = bytes.as_deref().map(fetch::InMemory::new).filter(|msg| {
            fetch::decoding_at_most(items, None, message.size) <= limit
                || fetch::decoding_at_most(items, Some(msg.analysis().part_tree()), message.size) <= limit
        });
        let (data, whole) = match fetch::render(&message, content.as_ref(), None, items, info.rev2, modseq) {
            Ok(data) => (data, content.is_some() || !needs_content),
            Err(_) => (
                fetch::render(&message, None, None, items, info.rev2, modseq).unwrap_or_default(),
                false,
            ),
        };
        out.push((uid, data, whole));
    }
    (out, uids.len())
}

/// Sets `\Seen` on new messages of `sent`, whose NOTIFY FETCH held a body
/// read without PEEK and everything else asked for, once the session
/// queued it: RFC 5465 section 5.2 calls such items ones that "implicitly
/// set the \seen flag", as a FETCH of them does (RFC 9051 section 6.4.5).
/// Nothing is set in a read-only selection, nor on a message whose
/// notification left out content. The changes come back as flag changes
/// for the session to announce (`FETCH (FLAGS ...)`, with UID and MODSEQ
/// for a CONDSTORE-aware client), followed by what searches kept up to
/// date make of them. A failure to set it is logged: the content was
/// sent, and the flags stay as they are.
pub fn mark_sent_seen(work: &mut Work, sent: &[NonZeroU32], info: &Info) -> Vec<Answer> {
    let Some(selected) = work.selected.as_mut() else {
        return Vec::new();
    };
    let uids: Vec<Uid> = sent.iter().map(|&u| Uid::from(u)).collect();
    let updates = match selected.mark_seen(&uids) {
        Ok(updates) => updates,
        Err(e) => {
            tracing::warn!(error = %e, "cannot set \\Seen on messages NOTIFY sent");
            return Vec::new();
        }
    };
    let condstore = info.enabled.condstore;
    let mut answers: Vec<Answer> = updates
        .into_iter()
        .map(|update| {
            let recent = view_message(selected, update.uid).is_some_and(|m| m.recent);
            let flags = fetch::flag_list(&update.flags, recent, info.rev2);
            Answer::Flags(update.uid.into(), flags, condstore.then(|| update.modseq.into()))
        })
        .collect();
    if !answers.is_empty() {
        super::search::update_live_searches(work, info, &mut answers);
    }
    answers
}

/// The answer to BINARY of a part that cannot be decoded (RFC 3516).
fn unknown_cte() -> Outcome {
    Outcome::no("Cannot decode the part").with_code(condition("UNKNOWN-CTE"))
}

/// What the sections of a large message read from its file may hold in
/// memory together (each is at most [`STREAM_ABOVE`]; a larger one is
/// streamed). For a FETCH, what they may hold is taken from
/// `--content-memory` before they are read, and given back once they are
/// sent; NOTIFY's news of new messages holds one part of about 1 MiB and
/// one message's sections at a time, outside it.
const FROM_FILE_HELD: u64 = 16 << 20;

fn too_large() -> Outcome {
    Outcome::no("FETCH items too large together for one message").with_code(condition("LIMIT"))
}

/// What [`from_file`] answers: the items rendered, and the literal to
/// stream after them.
type FromFile = (Vec<MessageDataItem<'static>>, Option<FileLiteral>);

/// A literal read from a message's file as it is sent: its item's name,
/// its length, the content (a section; the whole message, opened when it
/// is sent, when `None`), and whether it is a literal8.
#[derive(Debug)]
pub struct FileLiteral {
    pub name: DataItemName<'static>,
    pub length: u64,
    pub content: Option<Box<Content>>,
    pub binary: bool,
}

/// A large message's structure, analysed in its file a page at a time
/// ([`StoredMessage`]) unless the cache holds it, and kept in the cache;
/// `None` when the message cannot be read in pages (a backend without
/// files, a header block above 1 MiB, a read error): it is then read
/// whole. What a FETCH would decode of the message is weighed from it
/// before any room is taken, and the file is opened again with its layout,
/// not analysed again.
fn file_structure(
    selected: &SelectedMailbox,
    structures: &StructureCache,
    uid: Uid,
) -> Option<Arc<Structure>> {
    let (account, uid_validity) = (selected.account().name(), selected.mailbox().uid_validity);
    if let Some(s) = structures
        .get(account, uid_validity, uid)
        .filter(|s| s.layout().is_some())
    {
        return Some(s);
    }
    let (file, len) = selected.message_file(uid).ok()??;
    let msg = StoredMessage::open(file, len).ok()?;
    let structure = Arc::new(Structure::of_stored(&msg));
    let layout = structure.layout().map_or(0, StoredLayout::weight);
    let weight = msg.part_tree().body_start + layout;
    structures.put(account, uid_validity, uid, Arc::clone(&structure), weight);
    Some(structure)
}

/// Whether what `items` decode of a message, and read to reach their
/// partial ranges, passes the bound of one answer
/// ([`fetch::decode_limit`]).
fn past_decode_bound(items: &[FetchItem<'_>], tree: &Part, size: u64) -> bool {
    let cost =
        fetch::decoding_at_most(items, Some(tree), size).saturating_add(fetch::skipping_at_most(items, size));
    cost > fetch::decode_limit(size)
}

/// The content items of a FETCH for a large message, answered from its
/// file read a page at a time ([`StoredMessage`]) instead of whole, opened
/// again with the layout of `structure` ([`file_structure`]): the items
/// rendered, and the one section too large to render (above
/// [`STREAM_ABOVE`]), to be streamed after them. `Ok(None)` when that
/// cannot be done (the file changed, a read error, two large sections):
/// the message is then read whole. Past the decode bound, or with a BINARY
/// whose content cannot be decoded, the FETCH fails, as it does when the
/// message is read whole.
fn from_file(
    selected: &SelectedMailbox,
    uid: Uid,
    items: &[FetchItem<'_>],
    structure: &Arc<Structure>,
) -> Result<Option<FromFile>, Outcome> {
    let Some(layout) = structure.layout() else {
        return Ok(None);
    };
    let Ok(Some((file, len))) = selected.message_file(uid) else {
        return Ok(None);
    };
    let Ok(msg) = StoredMessage::reopen(file, len, layout) else {
        return Ok(None);
    };
    if past_decode_bound(items, msg.part_tree(), msg.size()) {
        return Err(too_large());
    }
    let file = FileMessage {
        msg,
        structure: Arc::clone(structure),
        measured: RefCell::new(Vec::new()),
    };
    let mut data = Vec::new();
    let mut streamed = None;
    let mut cap = LiteralCap::new(fetch::answer_limit(len).min(FROM_FILE_HELD));
    for item in items {
        let (name, mut content, binary) = match fetch::content_item(&file, item) {
            Ok(None) => continue,
            Ok(Some(ContentItem::Done(d))) => {
                data.push(d);
                continue;
            }
            Ok(Some(ContentItem::Literal { name, data, binary })) => (name, data, binary),
            Err(ItemError::UnknownCte) => return Err(unknown_cte()),
            Err(ItemError::TooLarge) => return Err(too_large()),
            Err(ItemError::Read(_)) => return Ok(None),
        };
        // A section's length is counted, a BINARY's (and whether it holds
        // NUL) found by decoding it, once per part and command.
        let measure = if binary {
            match item {
                FetchItem::Binary {
                    section,
                    partial: None,
                    ..
                } => file.measure(section.as_ref(), &mut content),
                _ => content.measure(),
            }
        } else {
            content.length().map(|len| Measure { len, nul: false })
        };
        let measure = match measure {
            Ok(m) => m,
            Err(e) if binary && e.kind() == std::io::ErrorKind::InvalidData => return Err(unknown_cte()),
            Err(_) => return Ok(None),
        };
        if measure.len <= STREAM_ABOVE {
            if cap.take::<std::io::Error>(measure.len).is_err() {
                return Err(too_large());
            }
            let mut bytes = Vec::with_capacity(measure.len as usize);
            if std::io::Read::read_to_end(&mut content, &mut bytes).is_err()
                || bytes.len() as u64 != measure.len
            {
                return Ok(None);
            }
            data.push(name.with_data(if binary {
                fetch::binary_literal(Cow::Owned(bytes))
            } else {
                fetch::literal(Cow::Owned(bytes))
            }));
        } else if streamed.is_some() {
            return Ok(None);
        } else {
            streamed = Some(FileLiteral {
                name,
                length: measure.len,
                content: Some(Box::new(content)),
                binary: binary && measure.nul,
            });
        }
    }
    Ok(Some((data, streamed)))
}

/// A large message read from its file a page at a time, with its
/// structure: what [`from_file`] answers content items from.
struct FileMessage {
    msg: StoredMessage,
    structure: Arc<Structure>,
    /// What decoding a whole part found, by part: BINARY.SIZE and BINARY
    /// of the same part decode it once to measure it.
    measured: RefCell<Vec<(Option<SectionPart>, Measure)>>,
}

impl FileMessage {
    /// The measure of `content`, the whole of `part` decoded: found by
    /// decoding it the first time it is asked for.
    fn measure(&self, part: Option<&SectionPart>, content: &mut Content) -> std::io::Result<Measure> {
        if let Some((_, m)) = self.measured.borrow().iter().find(|(p, _)| p.as_ref() == part) {
            return Ok(*m);
        }
        let m = content.measure()?;
        self.measured.borrow_mut().push((part.cloned(), m));
        Ok(m)
    }
}

impl fetch::ItemSource for FileMessage {
    type Data = Content;
    type Error = std::io::Error;

    fn structure_item(&self, item: &FetchItem<'_>) -> Option<MessageDataItem<'static>> {
        self.structure.item(item)
    }

    fn section(&self, section: &Section<'_>, partial: Option<&Partial>) -> std::io::Result<Option<Content>> {
        self.msg.section(section, partial)
    }

    fn binary(
        &self,
        part: Option<&SectionPart>,
        partial: Option<&Partial>,
    ) -> std::io::Result<Result<Content, BinaryError>> {
        self.msg.binary(part, partial)
    }

    /// Found by decoding the part, as it would be sent.
    fn binary_size(&self, part: Option<&SectionPart>) -> std::io::Result<Result<u64, BinaryError>> {
        let mut content = match self.msg.binary(part, None)? {
            Ok(c) => c,
            Err(e) => return Ok(Err(e)),
        };
        match self.measure(part, &mut content) {
            Ok(m) => Ok(Ok(m.len)),
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => Ok(Err(BinaryError::InvalidContent)),
            Err(e) => Err(e),
        }
    }

    fn preview(&self) -> std::io::Result<String> {
        self.msg.preview()
    }

    /// A digest of the message as it is read.
    fn email_id(&self) -> std::io::Result<ObjectId<'static>> {
        let whole = self
            .msg
            .section(&Section::WHOLE, None)?
            .ok_or_else(|| std::io::Error::other("no message"))?;
        fetch::email_id_of(whole)
    }
}

/// What a message read whole weighs in that budget, in multiples of its
/// size: the content read, the literal of the answer, the encoded answer
/// waiting to be sent, and what the allocator keeps of them (a 24 MiB
/// BINARY[] raised the server's peak by about 125 MiB).
const WHOLE_WEIGHT: u64 = 5;

/// What PREVIEW adds to that: its text part decoded, in UTF-8, and
/// collapsed (PREVIEW with BINARY[] of a 24 MiB message raised the peak
/// by about 175 MiB).
const PREVIEW_WEIGHT: u64 = 3;

/// What one call of [`fetch_batch`] did.
pub struct Batch {
    /// The answers to send.
    pub answers: Vec<Answer>,
    /// Where the next call starts (the number of messages when done).
    pub next: usize,
    /// The refusal that ends the FETCH once the answers are sent: the
    /// messages before a refused one are answered first, and the refused
    /// one is neither read again nor waited for.
    pub refused: Option<Outcome>,
}

impl Batch {
    fn sent(answers: Vec<Answer>, next: usize) -> Batch {
        Batch {
            answers,
            next,
            refused: None,
        }
    }
}

/// The answers so far, then `outcome` for the message at `at`.
fn refuse(answers: Vec<Answer>, at: usize, outcome: Outcome) -> Batch {
    Batch {
        answers,
        next: at,
        refused: Some(outcome),
    }
}

/// FETCH for some of the command's messages: renders messages from
/// `info.messages[start..]` until about `budget` octets are rendered, and
/// says where the next batch starts, or how the FETCH ends. `Err` when it
/// fails before anything is answered.
pub fn fetch_batch(
    work: &mut Work,
    fetch: &mailwire::imap::Fetch<'static>,
    uid_command: bool,
    info: &Info,
    start: usize,
    budget: usize,
) -> Result<Batch, Outcome> {
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
        let gone = changes
            .vanished
            .intersection(fetch.sequence_set.resolved_ranges(largest));
        if let Ok(uids) = UidSet::try_from(&gone) {
            answers.push(Answer::Data(Response::Vanished { earlier: true, uids }));
        }
    }
    let content = fetch::needs_content(&items);
    let structure_only = content && fetch::structure_only(&items);
    let stream = fetch::streamable(&items);
    // Large messages are read from their files a page at a time.
    let file_items = content && stream.is_none();
    let modseq = changed_since.is_some() || (info.enabled.condstore && items.contains(&FetchItem::Flags));
    let end = info.messages.len();
    let mut i = start;
    let mut rendered = 0usize;
    let account = selected.account().name().clone();
    let uid_validity = selected.mailbox().uid_validity;
    // A large message that is not answered from the structure cache: read
    // from its file, or whole (taking room in the server's budget until it
    // is sent).
    let large = |message: &ViewMessage| {
        content
            && message.size > STREAM_ABOVE
            && stream.is_none()
            && !(structure_only && work.structures.get(&account, uid_validity, message.uid).is_some())
    };
    let weight = if items.iter().any(|i| matches!(i, FetchItem::Preview { .. })) {
        WHOLE_WEIGHT + PREVIEW_WEIGHT
    } else {
        WHOLE_WEIGHT
    };
    // What the literals of a message's answer hold in memory until sent
    // (a large message read whole is weighed apart; a streamed literal is
    // not held).
    let literals = |message: &ViewMessage| {
        if !content || (stream.is_some() && message.size > STREAM_ABOVE) {
            0
        } else if message.size > STREAM_ABOVE {
            fetch::literals_at_most(&items, message.size, STREAM_ABOVE).min(FROM_FILE_HELD)
        } else {
            fetch::literals_at_most(&items, message.size, u64::MAX)
        }
    };
    // Whether what `items` decode of a message read whole may pass the
    // bound: known from the items and its size alone when they are few;
    // otherwise a small message is read and its part tree counted (before
    // its \Seen is set), and a large one read whole is refused.
    let decodes_too_much = |selected: &SelectedMailbox, message: &ViewMessage| {
        let limit = fetch::decode_limit(message.size);
        if !content || fetch::decoding_at_most(&items, None, message.size) <= limit {
            return false;
        }
        if message.size > STREAM_ABOVE {
            return true;
        }
        selected.read(message.uid).is_ok_and(|bytes| {
            let tree = fetch::InMemory::new(&bytes);
            fetch::decoding_at_most(&items, Some(tree.analysis().part_tree()), message.size) > limit
        })
    };
    // Room in `--content-memory` for a large message, taken before it is
    // read (and before its \Seen is set). After other messages of this
    // call, it is not waited for: their answers go first, and the next
    // call starts with it, waiting. (A batch of small messages holds about `budget`
    // at most, and takes none: waiting for room holds a storage job.)
    // Never waited for here: the connection waits, its storage job given
    // back (`no_room_for`).
    let room = |amount: u64| work.content.hold(amount, Duration::ZERO);
    // Once budget is held for a large message read whole, the answers go
    // out before more is read.
    let mut holding = false;
    while i < end && rendered < budget && !holding {
        // One message at a time when it may be streamed: its \Seen is set
        // just before it is sent. A large message ends its batch, and starts
        // one: a batch streams one message, or holds budget for one, at
        // most. Other batches end once their literals may hold `budget`.
        let limit = if stream.is_some() { 1 } else { 16 };
        let mut batch_end = i;
        let mut whole = None;
        // What the batch's literals may hold.
        let mut literal_bytes = 0u64;
        let mut held_for_file = None;
        // A large message's items read from its file, before its \Seen is
        // set: if that cannot be done, it is read whole, within the budget.
        let mut prepared = None;
        while batch_end < end && batch_end - i < limit {
            let message = view_message(selected, Uid::from(info.messages[batch_end]));
            // A message unchanged since CHANGEDSINCE is outside the set
            // (RFC 7162 section 3.1.4.1): it is neither read, weighed nor
            // waited for; the batch skips it.
            if message.is_some_and(|m| changed_since.is_some_and(|since| m.modseq.get() <= since)) {
                batch_end += 1;
                continue;
            }
            if let Some(m) = message.filter(|m| large(m)) {
                if batch_end == i {
                    let structure = file_items
                        .then(|| file_structure(selected, &work.structures, m.uid))
                        .flatten();
                    let read = match structure {
                        Some(structure) => {
                            // Past the decode bound it is refused before
                            // any room is waited for (under load, a wait
                            // ended it with NO [UNAVAILABLE] instead), once
                            // the answers of this call are sent.
                            let layout = structure.layout();
                            if layout.is_some_and(|l| past_decode_bound(&items, l.part_tree(), m.size)) {
                                return Ok(refuse(answers, i, too_large()));
                            }
                            match room(literals(m)) {
                                Some(h) => held_for_file = Some((h, literals(m))),
                                None if i > start => return Ok(Batch::sent(answers, i)),
                                None => return Err(no_room_for(literals(m))),
                            }
                            match from_file(selected, m.uid, &items, &structure) {
                                Ok(read) => read,
                                Err(refused) => return Ok(refuse(answers, i, refused)),
                            }
                        }
                        None => None,
                    };
                    match read {
                        Some(read) => prepared = Some((m.uid, read)),
                        None if decodes_too_much(selected, m) => return Ok(refuse(answers, i, too_large())),
                        None => {
                            held_for_file = None;
                            whole = Some(m.size);
                        }
                    }
                    batch_end += 1;
                }
                break;
            }
            // A message read whole is checked before its \Seen is set: one
            // past the bound ends the batch, and is refused once the
            // answers before it are sent.
            if message.is_some_and(|m| decodes_too_much(selected, m)) {
                if batch_end > i {
                    break;
                }
                return Ok(refuse(answers, i, too_large()));
            }
            let more = message.map_or(0, literals);
            if batch_end > i && literal_bytes.saturating_add(more) > budget as u64 {
                break;
            }
            literal_bytes = literal_bytes.saturating_add(more);
            batch_end += 1;
        }
        // Its sections' room is given back once the answers are sent; the
        // job goes on (later room is not waited for) until its answers may
        // hold `budget`, each such message weighing what its literals may
        // hold or what is read of it (an ENVELOPE of a large header), as
        // much as a message of [`STREAM_ABOVE`] at least.
        if let Some((h, amount)) = held_for_file {
            answers.push(Answer::Hold(h));
            let weighs = amount.max(STREAM_ABOVE);
            rendered = rendered.saturating_add(usize::try_from(weighs).unwrap_or(usize::MAX));
        }
        if let Some(size) = whole {
            match room(size.saturating_mul(weight)) {
                Some(h) => answers.push(Answer::Hold(h)),
                None if i > start => return Ok(Batch::sent(answers, i)),
                None => return Err(no_room_for(size.saturating_mul(weight))),
            }
            holding = true;
        }
        // Every message of the batch is rendered before any \Seen is set:
        // one that cannot be answered (UNKNOWN-CTE, or its literals past
        // the cap) ends the batch, and only the messages before it are
        // marked, and answered. A message expunged meanwhile (RFC 9051
        // section 7.5.1), or unchanged since CHANGEDSINCE, is neither.
        let mut ready = Vec::new();
        let mut refused = None;
        for (j, &uid) in info.messages.iter().enumerate().take(batch_end).skip(i) {
            let uid = Uid::from(uid);
            let Some(message) = view_message(selected, uid) else {
                continue;
            };
            if changed_since.is_some_and(|since| message.modseq.get() <= since) {
                continue;
            }
            // The items answered from the message's metadata alone.
            let meta = || fetch::render(message, None, None, &items, info.rev2, modseq).unwrap_or_default();
            if let (Some(name), true) = (&stream, message.size > STREAM_ABOVE) {
                let literal = FileLiteral {
                    name: name.clone(),
                    length: message.size,
                    content: None,
                    binary: false,
                };
                ready.push((j, uid, meta(), Some(literal)));
                continue;
            }
            let key = (selected.mailbox().uid_validity, uid);
            let from_file = match prepared.take() {
                Some((u, read)) if u == uid => Some(read),
                other => {
                    prepared = other;
                    None
                }
            };
            if let Some((mut data, streamed)) = from_file {
                let mut before = meta();
                before.append(&mut data);
                ready.push((j, uid, before, streamed));
                continue;
            }
            // ENVELOPE, BODY and BODYSTRUCTURE alone come from the cache
            // when the message was analysed before.
            let cached = if structure_only {
                work.structures.get(selected.account().name(), key.0, key.1)
            } else {
                None
            };
            let bytes = if content && cached.is_none() {
                match selected.read(uid) {
                    Ok(b) => Some(b),
                    Err(StoreError::NoSuchMessage(_)) => continue,
                    // The answers of earlier batches (their \Seen set)
                    // are sent first; this batch's are dropped unmarked.
                    Err(e) => return Ok(refuse(answers, i, store_failure(&e))),
                }
            } else {
                None
            };
            let content = bytes.as_deref().map(fetch::InMemory::new);
            let cached = match (cached, &content) {
                (None, Some(content)) if structure_only => {
                    let msg = content.analysis();
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
                fetch::render(message, None, cached.as_deref(), &items, info.rev2, modseq)
            } else {
                fetch::render(message, content.as_ref(), None, &items, info.rev2, modseq)
            };
            match answer {
                Ok(data) => ready.push((j, uid, data, None)),
                Err(ItemError::UnknownCte) => {
                    refused = Some((j, unknown_cte()));
                    break;
                }
                Err(ItemError::TooLarge) => {
                    refused = Some((j, too_large()));
                    break;
                }
                Err(ItemError::Read(never)) => match never {},
            }
            // What was read, or what the literals may hold if more.
            let weighs = bytes
                .as_ref()
                .map_or(64, |b| b.len() as u64)
                .max(literals(message));
            rendered = rendered.saturating_add(usize::try_from(weighs).unwrap_or(usize::MAX));
        }
        let mut seen_now = Vec::new();
        if fetch::sets_seen(&items) && !ready.is_empty() {
            let uids: Vec<Uid> = ready.iter().map(|&(_, uid, _, _)| uid).collect();
            match selected.mark_seen(&uids) {
                Ok(updates) => seen_now.extend(updates.into_iter().map(|u| u.uid)),
                Err(e) => return Ok(refuse(answers, i, store_failure(&e))),
            }
        }
        for (j, uid, mut data, streamed) in ready {
            if seen_now.contains(&uid) {
                if let Some(message) = view_message(selected, uid) {
                    // The \Seen this FETCH set is reported along (RFC 9051
                    // section 6.4.5); the session also learns the flags
                    // were sent.
                    fetch::seen_set(&mut data, message, info.rev2, info.enabled.condstore);
                }
            }
            match streamed {
                None => answers.push(Answer::Fetch(uid.into(), data)),
                Some(literal) => {
                    answers.push(Answer::Stream(Streamed {
                        uid: uid.into(),
                        items: data,
                        literal,
                    }));
                    // The stream is sent before the next message is read.
                    return Ok(Batch::sent(answers, j + 1));
                }
            }
        }
        match refused {
            // The answers before it are sent first.
            Some((j, outcome)) => return Ok(refuse(answers, j, outcome)),
            None => i = batch_end,
        }
    }
    Ok(Batch::sent(answers, i))
}

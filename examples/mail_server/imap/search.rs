//! SEARCH, SORT and THREAD, and the searches CONTEXT=SEARCH keeps up to
//! date (RFC 5267), run against the selected mailbox on the blocking pool.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use mailwire::imap::{
    Code, ContextUpdate, ESearch, Quoted, RespText, Response, SearchKey, SearchReturnData,
    SearchReturnOption, Status,
};
use mailwire::mailbox::search::{FILE_ABOVE, Search, SearchError, SearchScope};
use mailwire::mailbox::sort::SortError;
use mailwire::mailbox::{ModSeq, SelectedMailbox, Uid, ViewMessage};

use super::exec::{
    Answer, Info, Outcome, STREAM_ABOVE, Work, condition, no_room_for, now, resolve_keys, store_failure,
};
use crate::budget::MemoryBudget;

/// What a message a search reads weighs in the budget for messages read
/// whole, in multiples of its size: its content and the text the keys
/// look at.
const SEARCH_WEIGHT: u64 = 3;

/// The messages of the selected mailbox that match all `keys`, ascending
/// by UID, and whether a MODSEQ key was among them (CONDSTORE: the answer
/// then carries the highest MODSEQ of the matches).
fn matching(
    selected: &SelectedMailbox,
    keys: &[SearchKey<'static>],
    charset: Option<&[u8]>,
    info: &Info,
    budget: &Arc<MemoryBudget>,
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
    if SearchKey::count_leaves(keys, &|_| true) > MAX_KEYS {
        return Err(
            Outcome::no(format!("More than {MAX_KEYS} keys in one search")).with_code(condition("LIMIT"))
        );
    }
    if text_keys(keys) > MAX_TEXT_KEYS {
        return Err(Outcome::no(format!(
            "More than {MAX_TEXT_KEYS} BODY and TEXT keys in one search"
        ))
        .with_code(condition("LIMIT")));
    }
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
    // A key that reads the messages reads each, one after another: room in
    // the server's budget for the largest, when it is large. A large
    // message in its file is read in part: its top header alone (1 MiB at
    // most) for header keys, which then need no room; its text parts for
    // BODY and TEXT, bounded here by the message's size.
    let largest = selected.messages().iter().max_by_key(|m| m.size);
    let in_file =
        |m: &ViewMessage| m.size > FILE_ABOVE && matches!(selected.message_file(m.uid), Ok(Some(_)));
    let needs_room = match largest {
        Some(m) if compiled.needs_content() && m.size > STREAM_ABOVE => compiled.needs_body() || !in_file(m),
        _ => false,
    };
    let largest = largest.map_or(0, |m| m.size);
    // Never waited for here: the connection waits, its storage job given
    // back (`no_room_for`).
    let amount = largest.saturating_mul(SEARCH_WEIGHT);
    let _room = if needs_room {
        Some(
            budget
                .hold(amount, Duration::ZERO)
                .ok_or_else(|| no_room_for(amount))?,
        )
    } else {
        None
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

pub(super) fn search(
    work: &mut Work,
    search: &mailwire::imap::Search<'static>,
    uid: bool,
    info: &Info,
) -> Outcome {
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
            let state = (!volatile(&search.keys)).then(|| view_state(selected));
            work.live.push(LiveSearch {
                tag: info.tag.clone(),
                keys: search.keys.clone(),
                charset: search.charset.as_ref().map(|c| c.as_bytes().to_vec()),
                result: uids,
                state,
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

/// The most keys one search may hold, at any depth (NOT, OR and
/// parenthesised lists not counted): each is evaluated against every
/// message. Lines ended in literals take a command past the 64 KiB line
/// limit, up to the 65,536 keys the decoder takes (its list limit); 30,000
/// HEADER keys took 9.8 s on a mailbox of 10,000 messages, holding one of
/// the server's storage jobs throughout.
const MAX_KEYS: usize = 1_000;

/// The most BODY and TEXT keys one search may hold: each reads the text of
/// every message again (3,000 `NOT BODY` keys took 8.5 s on a 40 MB
/// mailbox, holding one of the server's storage jobs throughout).
const MAX_TEXT_KEYS: usize = 64;

/// How many BODY and TEXT keys `keys` hold, at any depth.
fn text_keys(keys: &[SearchKey<'_>]) -> usize {
    SearchKey::count_leaves(keys, &|key| {
        matches!(key, SearchKey::Body(_) | SearchKey::Text(_))
    })
}

/// The most `RETURN (UPDATE)` searches one session keeps up to date.
const MAX_LIVE_SEARCHES: usize = 16;

/// A UID SEARCH whose result the client asked to keep up to date (RFC 5267
/// section 4.3).
#[derive(Debug)]
pub struct LiveSearch {
    pub(super) tag: String,
    keys: Vec<SearchKey<'static>>,
    charset: Option<Vec<u8>>,
    /// The result as the client knows it, ascending.
    result: Vec<Uid>,
    /// The view it was found in ([`view_state`]), to be run again only
    /// once that changed; `None` for keys whose result changes with more
    /// than the view ([`volatile`]), run again after every command.
    state: Option<ViewState>,
}

/// What a search's result depends on in the selected mailbox: its
/// messages (how many, the next UID) and their flags (HIGHESTMODSEQ moves
/// with every flag change).
type ViewState = (usize, Uid, ModSeq);

fn view_state(selected: &SelectedMailbox) -> ViewState {
    (
        selected.messages().len(),
        selected.uid_next(),
        selected.highest_modseq(),
    )
}

/// Whether keys depend on more than the view: the time (OLDER, YOUNGER)
/// or the saved result (`$`), which other commands change.
fn volatile(keys: &[SearchKey<'_>]) -> bool {
    let depends = |key: &SearchKey<'_>| match key {
        SearchKey::Older(_) | SearchKey::Younger(_) => true,
        SearchKey::SequenceSet(set) | SearchKey::Uid(set) => set.is_last_command(),
        _ => false,
    };
    SearchKey::count_leaves(keys, &depends) > 0
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
    let state = view_state(selected);
    for live in &mut work.live {
        // Unchanged since it last ran: the same result (16 searches of
        // 200 text keys each cost every NOOP 7 s on a 40 MB mailbox).
        if live.state.is_some_and(|s| s == state) {
            continue;
        }
        // Without room now, the next change brings the update.
        let Ok((now, _)) = matching(selected, &live.keys, live.charset.as_deref(), info, &work.content)
        else {
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
        if live.state.is_some() {
            live.state = Some(state);
        }
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
    let (uids, with_modseq) = matching(selected, keys, charset, info, &work.content)?;
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
pub(super) fn sort(work: &mut Work, sort: &mailwire::imap::Sort<'static>, uid: bool, info: &Info) -> Outcome {
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
pub(super) fn thread(
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

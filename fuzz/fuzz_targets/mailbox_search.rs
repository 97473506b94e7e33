//! SEARCH evaluation of the mailbox model against a naive reference
//! written here (issue 14).
//!
//! The input is read a byte at a time (0 once it runs out). It makes 1 to
//! 5 messages in the INBOX of a MemoryBackend store, each with system
//! flags, keywords from a set of three, an INTERNALDATE near 2024-03-01
//! (day ends and zones near the edges; sometimes any day from 1960 to
//! 2099), a top header of up to four `Subject`, `X-Tag`, `From`, `To`,
//! `Cc`, `Bcc` and `Date` fields (names in varying case, values from a
//! tiny alphabet so that matches happen; `Date` well-formed per RFC 5322
//! or unreadable) and a plain-text body. Expunged messages may sit between
//! them, so UIDs have gaps and `*` is not UIDNEXT - 1, and the messages
//! appended before a first SELECT are not `\Recent` in the session
//! searched. Then a key: NOT, OR and lists (up to depth 5) of every flag
//! key, RECENT/NEW/OLD, KEYWORD/UNKEYWORD, BEFORE/ON/SINCE,
//! SENTBEFORE/SENTON/SENTSINCE, LARGER/SMALLER, UID and sequence sets with
//! `*`, SUBJECT, FROM, TO, CC, BCC, HEADER, BODY and TEXT,
//! SAVEDBEFORE/SAVEDON/SAVEDSINCE (dates near today, when the messages are
//! saved, or any day) and SAVEDATESUPPORTED, and now and then a key the
//! model refuses (OLDER, YOUNGER, `$`).
//!
//! Checked: each message's save date lies between the clock before the
//! appends and after them (RFC 8514); `SelectedMailbox::search`,
//! `Account::search` (where nothing is `\Recent` any more),
//! `Search::matches` and `evaluate` on every message give what the
//! reference gives, and none of them panics; so does `Search::matches`
//! with each message given as a file (`MessageContent::File`, as a large
//! message of a Maildir is searched: header keys read the top header
//! alone, body keys analyse the file). The reference follows RFC 9051
//! section 6.4.4 and the choices documented in `mailwire_mailbox::search`:
//! text keys are ASCII-case-insensitive substring searches of the field
//! values (an empty string matches a message that has the field),
//! FROM/TO/CC/BCC also of `<addr>` for a bare address, TEXT of the `name:
//! value` lines and the body; BEFORE/ON/SINCE compare the INTERNALDATE's
//! date in its own zone, the SAVED* keys the save date's date in UTC, the
//! SENT* keys the date written in `Date:`, and a message without a
//! readable one matches none of them. The generated messages stay where
//! those rules are unambiguous: ASCII, no encoded words, one `Date:` at
//! most; field values are written with any whitespace and folding between
//! their words (read last from the input), which the model's documented
//! unfolding and collapsing of whitespace makes single spaces again.
//!
//! The SAVED* dates near today follow the clock, as the save dates do: an
//! input replayed on another day keeps their distance, not their dates.
#![no_main]

use std::cell::RefCell;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{Seek, Write as _};
use std::num::NonZeroU32;

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use mailwire_imap::{AString, Atom, SeqNumber, SeqRange, SequenceSet};
use mailwire_mailbox::search::{
    Date, MessageContent, MessageContext, Search, SearchError, SearchKey, SearchScope, evaluate,
};
use mailwire_mailbox::{
    AccountName, AppendMessage, Flags, InternalDate, Keyword, MailboxName, MemoryBackend, SelectMode, Store,
    SystemFlags, Uid,
};

/// The input, a byte at a time; 0 once it runs out.
struct Input<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos = self.pos.saturating_add(1);
        b
    }

    fn below(&mut self, n: usize) -> usize {
        usize::from(self.byte()) % n
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    fn word(&mut self, chars: &[char], max: usize) -> String {
        let len = self.below(max + 1);
        (0..len).map(|_| self.pick(chars)).collect()
    }
}

/// 2024-03-01 in days since 1970-01-01.
const BASE_DAY: i64 = 19_783;
const KEYWORDS: [&str; 3] = ["$Work", "Later", "$junk"];
const KEY_KEYWORDS: [&str; 5] = ["$Work", "$WORK", "later", "$Junk", "Nope"];
const TEXT_CHARS: [char; 5] = ['a', 'b', 'A', 'B', 'c'];
const BODY_CHARS: [char; 6] = ['a', 'b', 'A', 'B', 'c', ' '];
const NEEDLE_CHARS: [char; 16] = [
    'a', 'b', 'A', 'B', 'c', ' ', '<', '>', '@', ':', '0', '1', '2', 'm', 'M', 't',
];
const SECONDS: [i64; 7] = [0, 1, 3599, 3600, 43_200, 82_800, 86_399];
const ZONES: [i16; 10] = [0, 60, -60, 1, -1, 330, -720, 840, 5999, -5999];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

// The naive calendar the model's SEARCH tests use too.
#[path = "../../crates/mailwire-mailbox/tests/naive/calendar.rs"]
mod calendar;
use calendar::civil;

/// A day: mostly within four days of 2024-03-01 (29 February included),
/// sometimes any day of 1960-2099.
fn day_number(inp: &mut Input) -> i64 {
    if inp.below(4) != 0 {
        BASE_DAY - 4 + inp.below(10) as i64
    } else {
        let n = i64::from(inp.byte()) << 8 | i64::from(inp.byte());
        -3653 + n % 51_135
    }
}

fn key_date(inp: &mut Input) -> Date {
    let (y, m, d) = civil(day_number(inp));
    Date::new(y as u16, m as u8, d as u8).expect("a real day")
}

/// A day near today (the messages' save date), or any day.
fn saved_key_date(inp: &mut Input) -> Date {
    let today = InternalDate::now().unix_seconds.div_euclid(86_400);
    let day = match inp.below(4) {
        0 => day_number(inp),
        _ => today - 2 + inp.below(5) as i64,
    };
    let (y, m, d) = civil(day);
    Date::new(y as u16, m as u8, d as u8).expect("a real day")
}

/// A calendar day as (year, month, day), ordered as days are.
type Day = (i64, u32, u32);

fn date_tuple(d: &Date) -> Day {
    (i64::from(d.year()), u32::from(d.month()), u32::from(d.day()))
}

#[derive(Debug)]
struct Message {
    system: u8,
    keywords: Vec<&'static str>,
    unix: i64,
    zone: i16,
    /// The top header: (name, value with single spaces).
    fields: Vec<(&'static str, String)>,
    /// The date written in the `Date:` field, if it is readable.
    sent: Option<Day>,
    body: String,
    content: String,
    uid: u32,
    seq: u32,
    recent: bool,
    /// The save date the model reports.
    saved: i64,
}

fn text_value(inp: &mut Input) -> String {
    let words = inp.below(4);
    let mut out: Vec<String> = Vec::new();
    for _ in 0..words {
        let mut w = inp.word(&TEXT_CHARS, 2);
        w.push(inp.pick(&TEXT_CHARS));
        out.push(w);
    }
    out.join(" ")
}

fn address_value(inp: &mut Input) -> String {
    let part = |inp: &mut Input| {
        let mut w = inp.word(&TEXT_CHARS, 2);
        w.push(inp.pick(&TEXT_CHARS));
        w
    };
    match inp.below(4) {
        0 => String::new(),
        1 => format!("{}@{}", part(inp), part(inp)),
        2 => format!("{} <{}@{}>", part(inp), part(inp), part(inp)),
        _ => format!("{} {} <{}@{}>", part(inp), part(inp), part(inp), part(inp)),
    }
}

/// A `Date:` value and the date it says, if it is a readable one.
fn date_value(inp: &mut Input) -> (String, Option<Day>) {
    if inp.below(6) == 0 {
        let bad = inp.pick(&["soon", "", "30 Feb 2024 10:00 +0000", "32 Mar 2024 10:00 +0000"]);
        return (bad.to_string(), None);
    }
    let days = day_number(inp);
    let (y, m, d) = civil(days);
    let form = inp.byte();
    let mut out = String::new();
    if form & 1 != 0 {
        let _ = write!(out, "{}, ", WEEKDAYS[(days + 4).rem_euclid(7) as usize]);
    }
    if form & 2 != 0 {
        let _ = write!(out, "{d:02}");
    } else {
        let _ = write!(out, "{d}");
    }
    let _ = write!(out, " {} {y:04} ", MONTHS[m as usize - 1]);
    let hour = inp.pick(&[0, 9, 23]);
    let minute = inp.pick(&[0, 59]);
    let _ = write!(out, "{hour:02}:{minute:02}");
    if form & 4 != 0 {
        let _ = write!(out, ":{:02}", inp.pick(&[0, 59, 60]));
    }
    let zone = inp.pick(&["+0000", "+0100", "-0000", "-1200", "+1400", "GMT", "EST", "UT"]);
    let _ = write!(out, " {zone}");
    (out, Some((y, m, d)))
}

fn message(inp: &mut Input) -> Message {
    let system = inp.byte() & 31;
    let kw = inp.byte();
    let keywords = (0..3)
        .filter(|i| kw & (1 << i) != 0)
        .map(|i| KEYWORDS[i])
        .collect();
    let (unix, zone) = if inp.below(8) != 0 {
        let day = BASE_DAY - 4 + inp.below(9) as i64;
        (day * 86_400 + inp.pick(&SECONDS), inp.pick(&ZONES))
    } else {
        let seconds = (i64::from(inp.byte()) << 8 | i64::from(inp.byte())) * 2;
        (day_number(inp) * 86_400 + seconds % 86_400, inp.pick(&ZONES))
    };
    let mut fields = Vec::new();
    let mut sent = None;
    let mut dated = false;
    for _ in 0..inp.below(5) {
        match inp.below(7) {
            0 => fields.push((inp.pick(&["Subject", "subject", "SUBJECT"]), text_value(inp))),
            1 => fields.push((inp.pick(&["X-Tag", "x-tag"]), text_value(inp))),
            2 => fields.push((inp.pick(&["From", "FROM"]), address_value(inp))),
            3 => fields.push((inp.pick(&["To", "to"]), address_value(inp))),
            4 => fields.push((inp.pick(&["Cc", "CC"]), address_value(inp))),
            5 => fields.push((inp.pick(&["Bcc", "bcc"]), address_value(inp))),
            _ if !dated => {
                dated = true;
                let (value, date) = date_value(inp);
                sent = date;
                fields.push((inp.pick(&["Date", "date"]), value));
            }
            _ => {}
        }
    }
    let mut body = String::new();
    for _ in 0..inp.below(4) {
        body.push_str(&inp.word(&BODY_CHARS, 6));
        body.push_str("\r\n");
    }
    Message {
        system,
        keywords,
        unix,
        zone,
        fields,
        sent,
        body,
        content: String::new(),
        uid: 0,
        seq: 0,
        recent: false,
        saved: 0,
    }
}

const LEADS: [&str; 5] = [" ", "", "  ", "\t", "\r\n "];
const SEPARATORS: [&str; 6] = [" ", "  ", "\t", "\r\n ", "\r\n\t", " \r\n "];
const TRAILS: [&str; 3] = ["", " ", "\t "];

/// The message as stored: every space of a field value written as some
/// whitespace or a fold (RFC 5322 section 2.2.3), which the model unfolds
/// and collapses back to the single spaces of `fields`.
fn render(m: &mut Message, inp: &mut Input) {
    let mut content = String::new();
    for (name, value) in &m.fields {
        content.push_str(name);
        content.push(':');
        if !value.is_empty() {
            content.push_str(inp.pick(&LEADS));
            for (i, word) in value.split(' ').enumerate() {
                if i > 0 {
                    content.push_str(inp.pick(&SEPARATORS));
                }
                content.push_str(word);
            }
        }
        content.push_str(inp.pick(&TRAILS));
        content.push_str("\r\n");
    }
    content.push_str("\r\n");
    content.push_str(&m.body);
    m.content = content;
}

fn needle(inp: &mut Input) -> AString<'static> {
    AString::from_bytes(inp.word(&NEEDLE_CHARS, 4).into_bytes()).expect("an ASCII string")
}

fn set(inp: &mut Input) -> SequenceSet {
    let number = |inp: &mut Input| match inp.below(13) {
        0 => SeqNumber::Largest,
        12 => SeqNumber::Value(NonZeroU32::MAX),
        n => SeqNumber::new(n as u32).expect("not 0"),
    };
    let ranges = (0..1 + inp.below(3))
        .map(|_| {
            let start = number(inp);
            if inp.byte() & 1 != 0 {
                SeqRange::single(start)
            } else {
                SeqRange::new(start, number(inp))
            }
        })
        .collect();
    SequenceSet::new(ranges).expect("not empty")
}

fn leaf(inp: &mut Input) -> SearchKey<'static> {
    let atom = |inp: &mut Input| Atom::new(inp.pick(&KEY_KEYWORDS).to_string()).expect("an atom");
    match inp.below(35) {
        0 => SearchKey::All,
        1 => SearchKey::Answered,
        2 => SearchKey::Deleted,
        3 => SearchKey::Draft,
        4 => SearchKey::Flagged,
        5 => SearchKey::Seen,
        6 => SearchKey::Unanswered,
        7 => SearchKey::Undeleted,
        8 => SearchKey::Undraft,
        9 => SearchKey::Unflagged,
        10 => SearchKey::Unseen,
        11 => SearchKey::Recent,
        12 => SearchKey::New,
        13 => SearchKey::Old,
        14 => SearchKey::Keyword(atom(inp)),
        15 => SearchKey::Unkeyword(atom(inp)),
        16 => SearchKey::Before(key_date(inp)),
        17 => SearchKey::On(key_date(inp)),
        18 => SearchKey::Since(key_date(inp)),
        19 => SearchKey::SentBefore(key_date(inp)),
        20 => SearchKey::SentOn(key_date(inp)),
        21 => SearchKey::SentSince(key_date(inp)),
        22 => SearchKey::Larger(size(inp)),
        23 => SearchKey::Smaller(size(inp)),
        24 => SearchKey::Uid(set(inp)),
        25 => SearchKey::SequenceSet(set(inp)),
        26 => SearchKey::Subject(needle(inp)),
        27 => SearchKey::From(needle(inp)),
        28 => SearchKey::To(needle(inp)),
        29 => SearchKey::Cc(needle(inp)),
        30 => SearchKey::Bcc(needle(inp)),
        31 => {
            let name = inp.pick(&["Subject", "subject", "FROM", "Date", "X-Tag", "to", "Missing"]);
            SearchKey::Header {
                name: AString::from_bytes(name.as_bytes().to_vec()).expect("a name"),
                value: needle(inp),
            }
        }
        32 => SearchKey::Body(needle(inp)),
        33 => SearchKey::Text(needle(inp)),
        _ => match inp.below(6) {
            0 => SearchKey::Older(NonZeroU32::MIN),
            1 => SearchKey::Younger(NonZeroU32::MIN),
            2 => {
                let date = saved_key_date(inp);
                match inp.below(3) {
                    0 => SearchKey::SavedBefore(date),
                    1 => SearchKey::SavedOn(date),
                    _ => SearchKey::SavedSince(date),
                }
            }
            3 => SearchKey::Uid(SequenceSet::LAST_COMMAND),
            4 => SearchKey::SequenceSet(SequenceSet::LAST_COMMAND),
            _ => SearchKey::SaveDateSupported,
        },
    }
}

fn size(inp: &mut Input) -> u64 {
    match inp.byte() {
        255 => u64::MAX,
        n => u64::from(n),
    }
}

fn key(inp: &mut Input, depth: usize) -> SearchKey<'static> {
    if depth >= 5 {
        return leaf(inp);
    }
    match inp.below(16) {
        0 => SearchKey::Not(Box::new(key(inp, depth + 1))),
        1 => SearchKey::Or(Box::new(key(inp, depth + 1)), Box::new(key(inp, depth + 1))),
        2 | 3 => SearchKey::List((0..inp.below(4)).map(|_| key(inp, depth + 1)).collect()),
        _ => leaf(inp),
    }
}

/// Whether the model evaluates the key (RFC 9051 leaves OLDER and YOUNGER
/// to an extension it does not implement; `$` needs a saved result, which
/// `SelectedMailbox::search` has not).
fn supported(key: &SearchKey) -> bool {
    match key {
        SearchKey::Older(_) | SearchKey::Younger(_) => false,
        SearchKey::Uid(s) | SearchKey::SequenceSet(s) => !s.is_last_command(),
        SearchKey::Not(k) => supported(k),
        SearchKey::Or(a, b) => supported(a) && supported(b),
        SearchKey::List(list) => list.iter().all(supported),
        _ => true,
    }
}

/// What `*` stands for, and whether `\Recent` is seen.
struct View {
    last_uid: u32,
    last_seq: u32,
    recent: bool,
}

fn contains(haystack: &str, needle: &AString) -> bool {
    let needle = std::str::from_utf8(needle.as_bytes()).expect("ASCII needle");
    haystack
        .to_ascii_lowercase()
        .contains(&needle.to_ascii_lowercase())
}

fn in_set(set: &SequenceSet, n: u32, largest: u32) -> bool {
    let resolve = |s: SeqNumber| match s {
        SeqNumber::Value(v) => v.get(),
        SeqNumber::Largest => largest,
    };
    set.ranges().iter().any(|r| {
        let (a, b) = (resolve(r.start()), resolve(r.end()));
        a.min(b) <= n && n <= a.max(b)
    })
}

fn reference(key: &SearchKey, m: &Message, view: &View) -> bool {
    let sys = |bits: u8| m.system & bits != 0;
    let seen = SystemFlags::SEEN.bits();
    let recent = m.recent && view.recent;
    let internal = || civil((m.unix + i64::from(m.zone) * 60).div_euclid(86_400));
    let saved = || civil(m.saved.div_euclid(86_400));
    let sent = |test: fn(&Day, &Day) -> bool, d: &Date| m.sent.is_some_and(|s| test(&s, &date_tuple(d)));
    let header = |name: &str, s: &AString| {
        m.fields
            .iter()
            .any(|(n, v)| n.eq_ignore_ascii_case(name) && contains(v, s))
    };
    let address = |name: &str, s: &AString| {
        m.fields.iter().any(|(n, v)| {
            n.eq_ignore_ascii_case(name)
                && (contains(v, s) || (!v.is_empty() && !v.contains('<') && contains(&format!("<{v}>"), s)))
        })
    };
    let keyword = |k: &Atom| m.keywords.iter().any(|n| n.eq_ignore_ascii_case(k.as_str()));
    match key {
        SearchKey::All => true,
        SearchKey::Answered => sys(SystemFlags::ANSWERED.bits()),
        SearchKey::Deleted => sys(SystemFlags::DELETED.bits()),
        SearchKey::Draft => sys(SystemFlags::DRAFT.bits()),
        SearchKey::Flagged => sys(SystemFlags::FLAGGED.bits()),
        SearchKey::Seen => sys(seen),
        SearchKey::Unanswered => !sys(SystemFlags::ANSWERED.bits()),
        SearchKey::Undeleted => !sys(SystemFlags::DELETED.bits()),
        SearchKey::Undraft => !sys(SystemFlags::DRAFT.bits()),
        SearchKey::Unflagged => !sys(SystemFlags::FLAGGED.bits()),
        SearchKey::Unseen => !sys(seen),
        SearchKey::Recent => recent,
        SearchKey::New => recent && !sys(seen),
        SearchKey::Old => !recent,
        SearchKey::Keyword(k) => keyword(k),
        SearchKey::Unkeyword(k) => !keyword(k),
        SearchKey::Before(d) => internal() < date_tuple(d),
        SearchKey::On(d) => internal() == date_tuple(d),
        SearchKey::Since(d) => internal() >= date_tuple(d),
        SearchKey::SentBefore(d) => sent(|s, d| s < d, d),
        SearchKey::SentOn(d) => sent(|s, d| s == d, d),
        SearchKey::SentSince(d) => sent(|s, d| s >= d, d),
        SearchKey::Larger(n) => m.content.len() as u64 > *n,
        SearchKey::Smaller(n) => (m.content.len() as u64) < *n,
        SearchKey::Uid(set) => in_set(set, m.uid, view.last_uid),
        SearchKey::SequenceSet(set) => in_set(set, m.seq, view.last_seq),
        SearchKey::Subject(s) => header("subject", s),
        SearchKey::Header { name, value } => {
            header(std::str::from_utf8(name.as_bytes()).expect("ASCII name"), value)
        }
        SearchKey::From(s) => address("from", s),
        SearchKey::To(s) => address("to", s),
        SearchKey::Cc(s) => address("cc", s),
        SearchKey::Bcc(s) => address("bcc", s),
        SearchKey::Body(s) => contains(&m.body, s),
        SearchKey::Text(s) => {
            contains(&m.body, s) || m.fields.iter().any(|(n, v)| contains(&format!("{n}: {v}"), s))
        }
        SearchKey::Not(k) => !reference(k, m, view),
        SearchKey::Or(a, b) => reference(a, m, view) || reference(b, m, view),
        SearchKey::List(list) => list.iter().all(|k| reference(k, m, view)),
        SearchKey::SavedBefore(d) => saved() < date_tuple(d),
        SearchKey::SavedOn(d) => saved() == date_tuple(d),
        SearchKey::SavedSince(d) => saved() >= date_tuple(d),
        SearchKey::SaveDateSupported => true,
        other => unreachable!("not generated: {other:?}"),
    }
}

fn describe(key: &SearchKey, messages: &[Message]) -> String {
    let mut out = format!("key: {key:?}\nmessages:\n");
    for m in messages {
        let _ = writeln!(
            out,
            "  uid {} seq {} recent {} system {:#04b} keywords {:?} internal {} {:+} ({:?}) sent {:?} size {}\n    {:?}",
            m.uid,
            m.seq,
            m.recent,
            m.system,
            m.keywords,
            m.unix,
            m.zone,
            civil((m.unix + i64::from(m.zone) * 60).div_euclid(86_400)),
            m.sent,
            m.content.len(),
            m.content,
        );
    }
    out
}

fn uids(list: &[Uid]) -> Vec<u32> {
    list.iter().map(|u| u.get()).collect()
}

fn expected(key: &SearchKey, messages: &[Message], view: &View) -> Vec<u32> {
    messages
        .iter()
        .filter(|m| reference(key, m, view))
        .map(|m| m.uid)
        .collect()
}

fn flags_of(m: &Message) -> Flags {
    let mut flags = Flags::system(SystemFlags::from_bits(m.system));
    for k in &m.keywords {
        flags.keywords.insert(Keyword::new(k).expect("a keyword"));
    }
    flags
}

fuzz_target!(|data: &[u8]| {
    let mut inp = Input { data, pos: 0 };
    let count = 1 + inp.below(5);
    let split = inp.below(count + 1);
    let ghosts = inp.byte();
    let mut messages: Vec<Message> = (0..count).map(|_| message(&mut inp)).collect();
    let key = key(&mut inp, 0);
    // Last, so that an input that ends early writes plain single spaces.
    for m in &mut messages {
        render(m, &mut inp);
    }

    let store = Store::new(MemoryBackend::new());
    let account = store
        .create_account(&AccountName::new("fuzz").expect("a name"))
        .expect("an account");
    let inbox = MailboxName::new("INBOX").expect("a name");
    // Expunged messages before some messages and after the last one.
    let ghost = || AppendMessage {
        content: Bytes::from_static(b"\r\n"),
        flags: Flags::system(SystemFlags::DELETED),
        internal_date: Some(InternalDate::from_unix(0)),
    };
    let mut ghost_uids = Vec::new();
    let before = InternalDate::now().unix_seconds;
    let mut append = |range: std::ops::Range<usize>, messages: &mut [Message], trailing: bool| {
        for i in range {
            if ghosts & (1 << i) != 0 {
                ghost_uids.extend(account.append_all(&inbox, vec![ghost()]).expect("append").uids);
            }
            let m = &mut messages[i];
            let appended = AppendMessage {
                content: Bytes::from(m.content.clone()),
                flags: flags_of(m),
                internal_date: Some(InternalDate {
                    unix_seconds: m.unix,
                    zone_minutes: m.zone,
                }),
            };
            m.uid = account.append_all(&inbox, vec![appended]).expect("append").uids[0].get();
            m.seq = i as u32 + 1;
        }
        if trailing {
            ghost_uids.extend(account.append_all(&inbox, vec![ghost()]).expect("append").uids);
        }
    };
    // The messages before `split` are claimed by a first session.
    append(0..split, &mut messages, false);
    drop(account.select(&inbox, SelectMode::ReadWrite).expect("select"));
    append(split..count, &mut messages, ghosts & 0x80 != 0);
    for m in &mut messages[split..] {
        m.recent = true;
    }
    if !ghost_uids.is_empty() {
        account.expunge(&inbox, Some(&ghost_uids)).expect("expunge");
    }
    let selected = account.select(&inbox, SelectMode::ReadWrite).expect("select");
    // The save date is when the message was appended (RFC 8514): checked
    // against the clock around the appends, then what the reference uses.
    let after = InternalDate::now().unix_seconds;
    for (m, v) in messages.iter_mut().zip(selected.messages()) {
        assert!(
            (before..=after).contains(&v.save_date),
            "save date {} outside {before}..={after}",
            v.save_date
        );
        m.saved = v.save_date;
    }
    let got_meta: Vec<(u32, u64, bool)> = selected
        .messages()
        .iter()
        .map(|m| (m.uid.get(), m.size, m.recent))
        .collect();
    let want_meta: Vec<(u32, u64, bool)> = messages
        .iter()
        .map(|m| (m.uid, m.content.len() as u64, m.recent))
        .collect();
    assert_eq!(
        got_meta,
        want_meta,
        "the mailbox as selected\n{}",
        describe(&key, &messages)
    );

    let view = View {
        last_uid: messages.last().map_or(0, |m| m.uid),
        last_seq: count as u32,
        recent: true,
    };
    let scope = SearchScope {
        last_seq: view.last_seq,
        last_uid: view.last_uid,
        ..SearchScope::default()
    };
    let session = selected.search(&key);
    let whole = account.search(&inbox, &key);
    let compiled = Search::new(&key, &scope);
    if !supported(&key) {
        for (what, result) in [("SelectedMailbox::search", &session), ("Account::search", &whole)] {
            assert!(
                matches!(result, Err(SearchError::Unsupported(_))),
                "{what} of an unsupported key: {result:?}\n{}",
                describe(&key, &messages)
            );
        }
        assert!(
            matches!(compiled, Err(SearchError::Unsupported(_))),
            "{compiled:?}"
        );
        return;
    }
    let want = expected(&key, &messages, &view);
    let got = uids(&session.expect("SelectedMailbox::search"));
    assert_eq!(
        got,
        want,
        "SelectedMailbox::search (left) against the reference\n{}",
        describe(&key, &messages)
    );
    // Account::search: the second SELECT claimed every message.
    let unclaimed = View {
        recent: false,
        ..view
    };
    let want_whole = expected(&key, &messages, &unclaimed);
    let got_whole = uids(&whole.expect("Account::search"));
    assert_eq!(
        got_whole,
        want_whole,
        "Account::search (left) against the reference\n{}",
        describe(&key, &messages)
    );

    let compiled = compiled.expect("Search::new");
    for (m, vm) in messages.iter().zip(selected.messages()) {
        let ctx = MessageContext::of_view(vm, m.seq, MessageContent::Bytes(m.content.as_bytes()));
        let want = reference(&key, m, &view);
        let got = compiled.matches(&ctx).expect("Search::matches");
        assert_eq!(
            got,
            want,
            "Search::matches (left) on uid {}\n{}",
            m.uid,
            describe(&key, &messages)
        );
        let got = evaluate(&key, &scope, &ctx).expect("evaluate");
        assert_eq!(
            got,
            want,
            "evaluate (left) on uid {}\n{}",
            m.uid,
            describe(&key, &messages)
        );
        let file = FILE.with(|f| {
            let mut f = f.borrow_mut();
            f.set_len(0).expect("truncated");
            f.rewind().expect("rewound");
            f.write_all(m.content.as_bytes()).expect("written");
            f.try_clone().expect("a second descriptor")
        });
        let len = m.content.len() as u64;
        let in_file = || Ok(Some((file.try_clone().expect("a descriptor"), len)));
        let read = || Ok(Bytes::from(m.content.clone()));
        let content = MessageContent::File {
            file: &in_file,
            read: &read,
        };
        let ctx = MessageContext::of_view(vm, m.seq, content);
        let got = compiled.matches(&ctx).expect("Search::matches in a file");
        assert_eq!(
            got,
            want,
            "Search::matches in a file (left) on uid {}\n{}",
            m.uid,
            describe(&key, &messages)
        );
    }
});

thread_local! {
    static FILE: RefCell<File> = RefCell::new(tempfile::tempfile().expect("a temporary file"));
}

//! SEARCH evaluation: every key with positive and negative cases on six
//! varied messages (encoded words, quoted-printable and base64 bodies in
//! ISO-8859-1 and UTF-8, a multipart with attachments, a nested
//! message/rfc822, broken and missing dates), nesting and its limit, lazy
//! reading of content, and a property test of the non-content keys against
//! a naive reference.

#[path = "naive/calendar.rs"]
mod calendar;

use std::cell::Cell;

use bytes::Bytes;
use mailwire_imap::{AString, Atom, SeqNumber, SeqRange, SequenceSet};
use mailwire_mailbox::search::{
    Date, MessageContent, MessageContext, Search, SearchError, SearchKey, SearchOptions, SearchScope,
    date_of_internal, evaluate,
};
use mailwire_mailbox::{
    Account, AccountName, AppendMessage, FlagAction, Flags, InternalDate, Keyword, MailboxName,
    MaildirBackend, MaildirOptions, MemoryBackend, SelectMode, SelectedMailbox, Store, StoreError,
    StoreFlags, SystemFlags, Uid,
};
use proptest::prelude::*;

const M1: &str = "Date: Fri, 21 Nov 1997 09:55:06 -0600
From: John Doe <jdoe@machine.example>
To: Mary Smith <mary@example.net>
Cc: \"Doe, Jane\" <jane@example.org>
Bcc: secret@example.com
Subject: Saying Hello
Message-ID: <1234@local.machine.example>
X-Custom: alpha
  beta

This is a message just to say hello.
So, \"Hello\".
";

const M2: &str = "Date: 3 Mar 03 10:00 EST (obsolete form)
From: =?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>
To: =?UTF-8?B?0JjQstCw0L0=?= <ivan@example.ru>
Subject: =?ISO-8859-1?Q?Caf=E9_cr=E8me?= =?UTF-8?Q?_=E2=82=AC?=
MIME-Version: 1.0
Content-Type: text/plain; charset=ISO-8859-1
Content-Transfer-Encoding: quoted-printable

Le caf=E9 est tr=E8s bon.=20
Soft=
break here.
";

const M3: &str = "Date: Mon, 1 Jan 2024 00:30:00 +0900
From: Reports <reports@example.com>
To: team@example.com
Subject: Quarterly numbers
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=\"outer\"

This is the preamble, preamblewords.
--outer
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: base64

R3LDvMOfZSBhdXMgTcO8bmNoZW4g4oCUIMO8bsOvY8O2ZMOpDQpad2VpdGUgWmVpbGUuDQo=
--outer
Content-Type: text/html; charset=UTF-8
Content-Transfer-Encoding: quoted-printable

<p>A <b>bold statement</b> caf=C3=A9</p>
--outer
Content-Type: application/pdf; name=report.pdf
Content-Disposition: attachment; filename=report.pdf
Content-Description: Quarterly report
Content-Transfer-Encoding: base64

JVBERi0xLjQgc2VjcmV0LWF0dGFjaG1lbnQtd29yZCBiaW5hcnkA/w==
--outer--
";

const M4: &str = "Date: Tue, 05 Mar 2024 08:00:00 +0000
From: Outer <outer@example.com>
To: someone@example.com
Subject: Fwd: something
Content-Type: multipart/mixed; boundary=b1

--b1
Content-Type: text/plain

see attached
--b1
Content-Type: message/rfc822

From: inner@example.com
Subject: Inner subject zebra
Content-Type: multipart/alternative; boundary=b2

--b2
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: base64

x2EgbWFyY2hlIHRy6HMgYmllbi4NCg==
--b2
Content-Type: text/html

<i>html alternative</i>
--b2--
--b1--
";

const M5: &str = "Date: sometime last week
From: Οδυσσέας <odysseus@ithaca.example>
To: undisclosed-recipients:;
Subject: ΟΔΥΣΣΕΥΣ returns
X-Empty:

Σύντομο μήνυμα.
";

const M6: &str = "From: bare@example.com (Bare Person)
Subject: minimal

";

fn not(key: SearchKey<'static>) -> SearchKey<'static> {
    SearchKey::Not(Box::new(key))
}

fn or(a: SearchKey<'static>, b: SearchKey<'static>) -> SearchKey<'static> {
    SearchKey::Or(Box::new(a), Box::new(b))
}

/// A set of these ranges, each given by its two ends in either order.
/// A set of `ranges`, 0 standing for `*`.
fn set(ranges: impl IntoIterator<Item = (u32, u32)>) -> SequenceSet {
    let n = |n: u32| SeqNumber::new(n).unwrap_or(SeqNumber::Largest);
    SequenceSet::new(
        ranges
            .into_iter()
            .map(|(a, b)| SeqRange::new(n(a), n(b)))
            .collect(),
    )
    .unwrap()
}

fn atom(s: &str) -> Atom<'static> {
    Atom::new(s.to_string()).unwrap()
}

fn scope() -> SearchScope<'static> {
    SearchScope::default()
}

fn name(s: &str) -> MailboxName {
    MailboxName::new(s).unwrap()
}

fn uid(n: u32) -> Uid {
    Uid::new(n).unwrap()
}

fn date(y: u16, m: u8, d: u8) -> Date {
    Date::new(y, m, d).unwrap()
}

fn kw(s: &str) -> Keyword {
    Keyword::new(s).unwrap()
}

fn s(text: &str) -> AString<'static> {
    AString::from_bytes(text.as_bytes().to_vec()).unwrap()
}

fn message(content: &str, flags: &[&str], unix: i64, zone: i16) -> AppendMessage {
    AppendMessage {
        content: Bytes::from(content.to_string()),
        flags: Flags::parse(flags.iter().copied()).unwrap(),
        internal_date: Some(InternalDate {
            unix_seconds: unix,
            zone_minutes: zone,
        }),
    }
}

// 2024-03-01T23:30:00Z
const T0: i64 = 1_709_335_800;

/// An account whose INBOX holds M1-M6 (UIDs 1-6), with M1-M3 no longer
/// recent, and a session that sees M4-M6 as recent.
fn fixture() -> (Account, SelectedMailbox) {
    let store = Store::new(MemoryBackend::new());
    let acc = store.create_account(&AccountName::new("alice").unwrap()).unwrap();
    let inbox = name("INBOX");
    acc.append_all(
        &inbox,
        vec![
            message(M1, &["\\Seen", "\\Answered", "$Work"], T0, 0),
            message(M2, &["\\Flagged", "\\Seen"], T0, 60),
            message(M3, &["\\Deleted", "\\Draft", "$Junk"], T0 + 3600, -120),
        ],
    )
    .unwrap();
    drop(acc.select(&inbox, SelectMode::ReadWrite).unwrap());
    acc.append_all(
        &inbox,
        vec![
            message(M4, &[], T0 + 4 * 86_400, 0),
            message(M5, &["\\Seen"], T0 - 61 * 86_400, 0),
            message(M6, &["$work"], T0 + 12 * 3600, 0),
        ],
    )
    .unwrap();
    let view = acc.select(&inbox, SelectMode::ReadWrite).unwrap();
    (acc, view)
}

#[track_caller]
fn check(view: &SelectedMailbox, key: SearchKey, expected: &[u32]) {
    let got: Vec<u32> = view.search(&key).unwrap().iter().map(|u| u.get()).collect();
    assert_eq!(got, expected, "{key:?}");
}

#[test]
fn flag_keys() {
    let (_acc, v) = fixture();
    check(&v, SearchKey::All, &[1, 2, 3, 4, 5, 6]);
    check(&v, SearchKey::Answered, &[1]);
    check(&v, SearchKey::Unanswered, &[2, 3, 4, 5, 6]);
    check(&v, SearchKey::Deleted, &[3]);
    check(&v, SearchKey::Undeleted, &[1, 2, 4, 5, 6]);
    check(&v, SearchKey::Draft, &[3]);
    check(&v, SearchKey::Undraft, &[1, 2, 4, 5, 6]);
    check(&v, SearchKey::Flagged, &[2]);
    check(&v, SearchKey::Unflagged, &[1, 3, 4, 5, 6]);
    check(&v, SearchKey::Seen, &[1, 2, 5]);
    check(&v, SearchKey::Unseen, &[3, 4, 6]);
    check(&v, SearchKey::Keyword(atom("$WORK")), &[1, 6]);
    check(&v, SearchKey::Unkeyword(atom("$work")), &[2, 3, 4, 5]);
    check(&v, SearchKey::Keyword(atom("$Junk")), &[3]);
    check(&v, SearchKey::Keyword(atom("nowhere")), &[]);
    check(&v, SearchKey::Unkeyword(atom("nowhere")), &[1, 2, 3, 4, 5, 6]);
}

#[test]
fn recent_new_old() {
    let (_acc, v) = fixture();
    check(&v, SearchKey::Recent, &[4, 5, 6]);
    check(&v, SearchKey::New, &[4, 6]);
    check(&v, SearchKey::Old, &[1, 2, 3]);
    check(&v, not(SearchKey::New), &[1, 2, 3, 5]);
}

#[test]
fn internal_date_keys_use_the_date_in_its_own_zone() {
    let (_acc, v) = fixture();
    // M1 is 1 March in UTC; M2 the same instant shown at +0100, so 2 March;
    // M3 an hour later at -0200, so still 1 March.
    check(&v, SearchKey::On(date(2024, 3, 1)), &[1, 3]);
    check(&v, SearchKey::On(date(2024, 3, 2)), &[2, 6]);
    check(&v, SearchKey::Before(date(2024, 3, 2)), &[1, 3, 5]);
    check(&v, SearchKey::Since(date(2024, 3, 2)), &[2, 4, 6]);
    check(&v, SearchKey::Since(date(2024, 3, 6)), &[]);
    check(&v, SearchKey::Before(date(2023, 12, 31)), &[]);
    check(&v, SearchKey::On(date(2023, 12, 31)), &[5]);
}

#[test]
fn sent_date_keys_use_the_written_date_and_skip_unreadable_ones() {
    let (_acc, v) = fixture();
    check(&v, SearchKey::SentOn(date(1997, 11, 21)), &[1]);
    // An obsolete two-digit year and a named zone.
    check(&v, SearchKey::SentOn(date(2003, 3, 3)), &[2]);
    // 1 Jan 2024 00:30 +0900 is still 31 Dec 2023 in UTC: the written date counts.
    check(&v, SearchKey::SentOn(date(2024, 1, 1)), &[3]);
    check(&v, SearchKey::SentBefore(date(2024, 1, 1)), &[1, 2]);
    check(&v, SearchKey::SentSince(date(2024, 1, 1)), &[3, 4]);
    check(&v, SearchKey::SentSince(date(2024, 3, 6)), &[]);
    // M5's Date cannot be read and M6 has none: they match no SENT* key.
    check(&v, SearchKey::SentBefore(date(9999, 12, 31)), &[1, 2, 3, 4]);
    check(&v, SearchKey::SentSince(date(0, 1, 1)), &[1, 2, 3, 4]);
    check(&v, not(SearchKey::SentOn(date(1997, 11, 21))), &[2, 3, 4, 5, 6]);
}

#[test]
fn size_keys() {
    let (_acc, v) = fixture();
    let sizes: Vec<(u64, u32)> = v.messages().iter().zip(1..).map(|(m, i)| (m.size, i)).collect();
    let mut by_size = sizes.clone();
    by_size.sort_unstable();
    // The message of median size.
    let (size, mid) = by_size[2];
    let pick = |f: &dyn Fn(u64) -> bool| -> Vec<u32> {
        sizes.iter().filter(|(s, _)| f(*s)).map(|(_, i)| *i).collect()
    };
    let smaller = pick(&|s| s < size);
    let larger = pick(&|s| s > size);
    assert!(!smaller.is_empty() && !larger.is_empty() && !smaller.contains(&mid) && !larger.contains(&mid));
    check(&v, SearchKey::Smaller(size), &smaller);
    check(&v, SearchKey::Larger(size), &larger);
    check(
        &v,
        SearchKey::Larger(size - 1),
        &[larger.clone(), vec![mid]].concat().tap_sort(),
    );
    check(
        &v,
        SearchKey::Smaller(size + 1),
        &[smaller.clone(), vec![mid]].concat().tap_sort(),
    );
    check(&v, SearchKey::Larger(u64::MAX), &[]);
    check(&v, SearchKey::Smaller(0), &[]);
    check(&v, SearchKey::Larger(0), &[1, 2, 3, 4, 5, 6]);
}

trait TapSort {
    fn tap_sort(self) -> Self;
}

impl TapSort for Vec<u32> {
    fn tap_sort(mut self) -> Self {
        self.sort_unstable();
        self
    }
}

#[test]
fn uid_and_sequence_sets() {
    let store = Store::new(MemoryBackend::new());
    let acc = store.create_account(&AccountName::new("bob").unwrap()).unwrap();
    let inbox = name("INBOX");
    let msgs = (0..5)
        .map(|i| AppendMessage::new(Bytes::from(format!("Subject: {i}\r\n\r\nbody\r\n"))))
        .collect();
    acc.append_all(&inbox, msgs).unwrap();
    acc.store_flags(
        &inbox,
        &StoreFlags {
            uids: vec![uid(2)],
            action: FlagAction::Add,
            flags: Flags::system(SystemFlags::DELETED),
            condition: None,
        },
    )
    .unwrap();
    acc.expunge(&inbox, None).unwrap();
    let v = acc.select(&inbox, SelectMode::ReadOnly).unwrap();
    // UIDs 1 3 4 5 are sequence numbers 1 2 3 4.
    check(&v, SearchKey::Uid(set([(2, 3)])), &[3]);
    check(&v, SearchKey::SequenceSet(set([(2, 3)])), &[3, 4]);
    check(&v, SearchKey::Uid(set([(5, 1)])), &[1, 3, 4, 5]);
    check(&v, SearchKey::SequenceSet(set([(4, 4), (1, 1), (9, 9)])), &[1, 5]);
    check(&v, SearchKey::Uid(set([(99, 99)])), &[]);
    check(
        &v,
        not(SearchKey::SequenceSet(set([(1, 1), (3, u32::MAX)]))),
        &[3],
    );
    // Account-level search numbers the mailbox as it is.
    let got = acc
        .search(&inbox, &SearchKey::SequenceSet(set([(2, 2)])))
        .unwrap();
    assert_eq!(got, [uid(3)]);
}

#[test]
fn address_keys() {
    let (_acc, v) = fixture();
    check(&v, SearchKey::From(s("john")), &[1]);
    check(&v, SearchKey::From(s("JDOE@machine.EXAMPLE")), &[1]);
    check(&v, SearchKey::From(s("john doe <jdoe@")), &[1]);
    // Encoded words in display names are decoded; no accent folding.
    check(&v, SearchKey::From(s("andré pirard")), &[2]);
    check(&v, SearchKey::From(s("andre")), &[]);
    check(&v, SearchKey::From(s("=?ISO")), &[]);
    check(&v, SearchKey::From(s("pirard@vm1")), &[2]);
    // Raw UTF-8 names (RFC 6532), folded.
    check(&v, SearchKey::From(s("ΟΔΥΣΣΈΑΣ")), &[5]);
    // A comment after a bare address is its display name.
    check(&v, SearchKey::From(s("bare person <bare@example.com>")), &[6]);
    check(&v, SearchKey::From(s("inner@example.com")), &[]);
    check(&v, SearchKey::From(s("")), &[1, 2, 3, 4, 5, 6]);
    check(&v, SearchKey::To(s("иван")), &[2]);
    check(&v, SearchKey::To(s("Mary Smith")), &[1]);
    check(&v, SearchKey::To(s("undisclosed-recipients")), &[5]);
    check(&v, SearchKey::To(s("example.com")), &[3, 4]);
    check(&v, SearchKey::Cc(s("Doe, Jane")), &[1]);
    // The unquoted form too.
    check(&v, SearchKey::Cc(s("doe, jane <jane@example.org>")), &[1]);
    check(&v, SearchKey::Cc(s("")), &[1]);
    check(&v, SearchKey::Cc(s("mary")), &[]);
    check(&v, SearchKey::Bcc(s("SECRET@")), &[1]);
    check(&v, SearchKey::Bcc(s("jane")), &[]);
}

#[test]
fn subject_and_header_keys() {
    let (_acc, v) = fixture();
    check(&v, SearchKey::Subject(s("hello")), &[1]);
    // Two adjacent encoded words in two charsets, the space between dropped.
    check(&v, SearchKey::Subject(s("CAFÉ CRÈME €")), &[2]);
    check(&v, SearchKey::Subject(s("café crème  €")), &[]);
    // Final sigma folds like any sigma.
    check(&v, SearchKey::Subject(s("οδυσσευσ returns")), &[5]);
    check(&v, SearchKey::Subject(s("zebra")), &[]);
    check(&v, SearchKey::Subject(s("")), &[1, 2, 3, 4, 5, 6]);
    let header = |n: &str, value: &str| SearchKey::Header {
        name: s(n),
        value: s(value),
    };
    check(&v, header("x-custom", ""), &[1]);
    // Folded values are unfolded.
    check(&v, header("X-CUSTOM", "ALPHA BETA"), &[1]);
    check(&v, header("Message-ID", "1234@local"), &[1]);
    check(&v, header("X-Empty", ""), &[5]);
    check(&v, header("X-Empty", "x"), &[]);
    check(&v, header("X-Missing", ""), &[]);
    check(&v, header("Content-Type", "multipart"), &[3, 4]);
    check(&v, header("Content-Type", "iso-8859-1"), &[2]);
    check(&v, header("Subject", "zebra"), &[]);
    check(&v, header("Subject", "Café"), &[2]);
    check(&v, header("bad name:", ""), &[]);
}

#[test]
fn body_key_searches_decoded_text_parts() {
    let (_acc, v) = fixture();
    // Quoted-printable ISO-8859-1, soft line breaks undone.
    check(&v, SearchKey::Body(s("TRÈS BON")), &[2]);
    check(&v, SearchKey::Body(s("softbreak here")), &[2]);
    check(&v, SearchKey::Body(s("=E9")), &[]);
    // base64 UTF-8 in a multipart.
    check(&v, SearchKey::Body(s("grüße aus MÜNCHEN — ünïcödé")), &[3]);
    check(&v, SearchKey::Body(s("zweite zeile")), &[3]);
    // Quoted-printable UTF-8 HTML, searched with its markup.
    check(&v, SearchKey::Body(s("bold statement</b> café")), &[3]);
    // Attachments of other types, preambles and headers are not searched.
    check(&v, SearchKey::Body(s("secret-attachment-word")), &[]);
    check(&v, SearchKey::Body(s("preamblewords")), &[]);
    check(&v, SearchKey::Body(s("quarterly")), &[]);
    check(&v, SearchKey::Body(s("hello")), &[1]);
    // Inside a nested message/rfc822: base64 ISO-8859-1, and the HTML part.
    check(&v, SearchKey::Body(s("ça marche très bien")), &[4]);
    check(&v, SearchKey::Body(s("html alternative")), &[4]);
    check(&v, SearchKey::Body(s("see attached")), &[4]);
    check(&v, SearchKey::Body(s("inner subject zebra")), &[]);
    check(&v, SearchKey::Body(s("ΣΎΝΤΟΜΟ")), &[5]);
    check(&v, SearchKey::Body(s("")), &[1, 2, 3, 4, 5, 6]);
    check(&v, SearchKey::Body(s("no such words")), &[]);
}

#[test]
fn text_key_searches_headers_and_bodies() {
    let (_acc, v) = fixture();
    check(&v, SearchKey::Text(s("inner subject zebra")), &[4]);
    check(&v, SearchKey::Text(s("quarterly report")), &[3]);
    check(&v, SearchKey::Text(s("subject: saying hello")), &[1]);
    check(&v, SearchKey::Text(s("hello")), &[1]);
    check(&v, SearchKey::Text(s("content-type: message/rfc822")), &[4]);
    check(&v, SearchKey::Text(s("très bon")), &[2]);
    check(&v, SearchKey::Text(s("andré")), &[2]);
    check(&v, SearchKey::Text(s("secret-attachment-word")), &[]);
    check(&v, SearchKey::Text(s("")), &[1, 2, 3, 4, 5, 6]);
}

#[test]
fn or_not_and_nesting() {
    let (_acc, v) = fixture();
    let seen_or_flagged = or(SearchKey::Seen, SearchKey::Flagged);
    check(&v, seen_or_flagged.clone(), &[1, 2, 5]);
    check(&v, not(seen_or_flagged.clone()), &[3, 4, 6]);
    check(&v, not(not(seen_or_flagged)), &[1, 2, 5]);
    check(
        &v,
        SearchKey::List(vec![SearchKey::Seen, not(SearchKey::From(s("john")))]),
        &[2, 5],
    );
    check(
        &v,
        or(
            SearchKey::Body(s("ça marche")),
            SearchKey::List(vec![
                SearchKey::Keyword(atom("$work")),
                SearchKey::Subject(s("minimal")),
            ]),
        ),
        &[4, 6],
    );
    check(
        &v,
        SearchKey::List(vec![
            SearchKey::List(vec![]),
            or(SearchKey::Recent, SearchKey::Answered),
            not(or(SearchKey::Text(s("zebra")), SearchKey::Seen)),
        ]),
        &[6],
    );
    check(&v, SearchKey::List(vec![]), &[1, 2, 3, 4, 5, 6]);
    check(&v, not(SearchKey::All), &[]);
    check(&v, or(not(SearchKey::All), SearchKey::Draft), &[3]);
}

fn nested_not(depth: usize) -> SearchKey<'static> {
    let mut key = SearchKey::All;
    for _ in 1..depth {
        key = not(key);
    }
    key
}

#[test]
fn depth_limit() {
    let limit = SearchOptions::DEFAULT_MAX_DEPTH;
    assert!(Search::new(&nested_not(limit), &scope()).is_ok());
    assert_eq!(
        Search::new(&nested_not(limit + 1), &scope()).err(),
        Some(SearchError::TooDeep { limit })
    );
    let options = SearchOptions { max_depth: 3 };
    let ok = SearchKey::List(vec![or(SearchKey::Seen, SearchKey::Draft)]);
    assert!(Search::with_options(&ok, &scope(), &options).is_ok());
    let deep = SearchKey::List(vec![or(SearchKey::Seen, not(SearchKey::Draft))]);
    assert_eq!(
        Search::with_options(&deep, &scope(), &options).err(),
        Some(SearchError::TooDeep { limit: 3 })
    );
    let mut lists = SearchKey::Seen;
    for _ in 0..limit {
        lists = SearchKey::List(vec![lists]);
    }
    assert!(matches!(
        Search::new(&lists, &scope()),
        Err(SearchError::TooDeep { .. })
    ));
    // The view-level search reports it before reading anything.
    let (_acc, v) = fixture();
    assert!(matches!(v.search(&lists), Err(SearchError::TooDeep { .. })));
    // An even number of NOTs at the limit matches everything.
    let even = nested_not(if limit % 2 == 1 { limit } else { limit - 1 });
    check(&v, even, &[1, 2, 3, 4, 5, 6]);
}

/// Evaluates `key` on `content` through a counting loader.
fn with_loader(
    key: &SearchKey,
    flags: &Flags,
    content: &str,
    fail: bool,
) -> (Result<bool, SearchError>, usize) {
    let calls = Cell::new(0);
    let load = || {
        calls.set(calls.get() + 1);
        if fail {
            Err(StoreError::Temporary("disk on fire".into()))
        } else {
            Ok(Bytes::from(content.to_string()))
        }
    };
    let ctx = MessageContext {
        uid: uid(7),
        seq: 3,
        flags,
        recent: false,
        internal_date: InternalDate::from_unix(T0),
        size: 1234,
        save_date: 1_700_000_000,
        content: MessageContent::Lazy(&load),
    };
    (evaluate(key, &scope(), &ctx), calls.get())
}

#[test]
fn content_is_read_only_when_needed_and_once() {
    let seen = Flags::system(SystemFlags::SEEN);
    let unseen = Flags::new();
    let meta_only = SearchKey::List(vec![
        SearchKey::Seen,
        SearchKey::Larger(100),
        SearchKey::Since(date(2024, 1, 1)),
        SearchKey::Uid(set([(7, 7)])),
        SearchKey::SequenceSet(set([(1, 5)])),
        not(SearchKey::Keyword(atom("x"))),
        SearchKey::Old,
    ]);
    assert!(!Search::new(&meta_only, &scope()).unwrap().needs_content());
    assert_eq!(with_loader(&meta_only, &seen, M1, true), (Ok(true), 0));
    // A failing cheap key skips the body key, wherever it stands in the list.
    let body_first = SearchKey::List(vec![SearchKey::Body(s("hello")), SearchKey::Seen]);
    assert!(Search::new(&body_first, &scope()).unwrap().needs_content());
    assert_eq!(with_loader(&body_first, &unseen, M1, true), (Ok(false), 0));
    let or = or(SearchKey::Text(s("hello")), SearchKey::Unseen);
    assert_eq!(with_loader(&or, &unseen, M1, true), (Ok(true), 0));
    // Several content keys read once.
    let many = SearchKey::List(vec![
        SearchKey::Body(s("hello")),
        SearchKey::Subject(s("saying")),
        SearchKey::From(s("john")),
        SearchKey::SentOn(date(1997, 11, 21)),
        SearchKey::Text(s("mary")),
    ]);
    assert_eq!(with_loader(&many, &seen, M1, false), (Ok(true), 1));
    assert_eq!(with_loader(&many, &seen, M2, false), (Ok(false), 1));
    // A read failure is reported.
    let (result, calls) = with_loader(&many, &seen, M1, true);
    assert_eq!(calls, 1);
    assert!(matches!(
        result,
        Err(SearchError::Store(StoreError::Temporary(_)))
    ));
    // Content at hand needs no loader.
    let ctx = MessageContext {
        uid: uid(1),
        seq: 1,
        flags: &seen,
        recent: true,
        internal_date: InternalDate::from_unix(0),
        size: 10,
        save_date: 1_700_000_000,
        content: MessageContent::Bytes(M2.as_bytes()),
    };
    assert_eq!(evaluate(&SearchKey::Body(s("très")), &scope(), &ctx), Ok(true));
    assert_eq!(evaluate(&SearchKey::Body(s("hello")), &scope(), &ctx), Ok(false));
}

fn on_bytes(key: &SearchKey, raw: &[u8]) -> bool {
    let flags = Flags::new();
    let ctx = MessageContext {
        uid: uid(1),
        seq: 1,
        flags: &flags,
        recent: false,
        internal_date: InternalDate::from_unix(0),
        size: raw.len() as u64,
        save_date: 1_700_000_000,
        content: MessageContent::Bytes(raw),
    };
    evaluate(key, &scope(), &ctx).unwrap()
}

#[test]
fn the_last_date_field_counts_as_envelope_shows() {
    let raw = b"Date: 1 Jan 2000 10:00 +0000\r\nDate: 2 Feb 2001 10:00 +0000\r\n\r\nx\r\n";
    assert!(on_bytes(&SearchKey::SentOn(date(2001, 2, 2)), raw));
    assert!(!on_bytes(&SearchKey::SentOn(date(2000, 1, 1)), raw));
}

#[test]
fn deep_mime_nesting_is_searched_within_the_analysis_limit() {
    // 5,000 nested multiparts: the analysis stops at its depth limit, the
    // search walks what it parsed without recursing.
    let mut raw = String::new();
    for i in 0..5000 {
        raw.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n"
        ));
    }
    raw.push_str("Content-Type: text/plain\r\n\r\ndeepest words\r\n");
    assert!(!on_bytes(&SearchKey::Body(s("deepest")), raw.as_bytes()));
    assert!(on_bytes(&SearchKey::Text(s("boundary=b42")), raw.as_bytes()));
    // At a depth the analysis accepts, the text is found.
    let mut shallow = String::new();
    for i in 0..50 {
        shallow.push_str(&format!("Content-Type: message/rfc822\r\nX-Level: {i}\r\n\r\n"));
    }
    shallow.push_str("Subject: inner\r\n\r\ndeepest words\r\n");
    assert!(on_bytes(&SearchKey::Body(s("DEEPEST")), shallow.as_bytes()));
    assert!(on_bytes(&SearchKey::Text(s("x-level: 49")), shallow.as_bytes()));
    assert!(!on_bytes(
        &SearchKey::Header {
            name: s("x-level"),
            value: s("49")
        },
        shallow.as_bytes()
    ));
}

#[test]
fn expunged_messages_keep_their_content_for_the_view_that_shows_them() {
    let (acc, mut v) = fixture();
    let inbox = name("INBOX");
    // Another session deletes M1; this view still shows it but its content
    // is kept for it, so it is still searched.
    acc.store_flags(
        &inbox,
        &StoreFlags {
            uids: vec![uid(1)],
            action: FlagAction::Add,
            flags: Flags::system(SystemFlags::DELETED),
            condition: None,
        },
    )
    .unwrap();
    acc.expunge(&inbox, Some(&[uid(1)])).unwrap();
    v.changes(false).unwrap();
    assert!(v.is_expunged(uid(1)));
    check(&v, SearchKey::Body(s("hello")), &[1]);
    check(&v, SearchKey::Answered, &[1]);
}

// ---------------------------------------------------------------------------
// Property test: non-content keys against a naive reference.
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Meta {
    uid: u32,
    seq: u32,
    flags: Flags,
    recent: bool,
    unix: i64,
    zone: i16,
    size: u64,
}

/// The calendar date of `unix + zone`, counted by hand.
fn naive_date(unix: i64, zone: i16) -> (i64, u32, u32) {
    calendar::civil((unix + i64::from(zone) * 60).div_euclid(86_400))
}

/// Whether `n` is in `set`, `*` being `last`, worked out by hand from
/// the ranges (RFC 9051 section 9: a range's ends in either order).
fn in_set(set: &SequenceSet, n: u32, last: u32) -> bool {
    let value = |x: SeqNumber| match x {
        SeqNumber::Value(v) => v.get(),
        SeqNumber::Largest => last,
    };
    set.ranges().iter().any(|r| {
        let (a, b) = (value(r.start()), value(r.end()));
        a.min(b) <= n && n <= a.max(b)
    })
}

/// `*` as the mailbox of the messages searched has it: its message count
/// and its highest UID.
#[derive(Debug, Clone, Copy)]
struct Last {
    seq: u32,
    uid: u32,
}

fn reference(key: &SearchKey, m: &Meta, last: Last) -> bool {
    let sys = |f| m.flags.system.contains(f);
    let day = || naive_date(m.unix, m.zone);
    let key_day = |d: &Date| (i64::from(d.year()), u32::from(d.month()), u32::from(d.day()));
    match key {
        SearchKey::All => true,
        SearchKey::Answered => sys(SystemFlags::ANSWERED),
        SearchKey::Deleted => sys(SystemFlags::DELETED),
        SearchKey::Draft => sys(SystemFlags::DRAFT),
        SearchKey::Flagged => sys(SystemFlags::FLAGGED),
        SearchKey::Seen => sys(SystemFlags::SEEN),
        SearchKey::Unanswered => !sys(SystemFlags::ANSWERED),
        SearchKey::Undeleted => !sys(SystemFlags::DELETED),
        SearchKey::Undraft => !sys(SystemFlags::DRAFT),
        SearchKey::Unflagged => !sys(SystemFlags::FLAGGED),
        SearchKey::Unseen => !sys(SystemFlags::SEEN),
        SearchKey::Keyword(k) => m.flags.names().any(|n| n.eq_ignore_ascii_case(k.as_str())),
        SearchKey::Unkeyword(k) => !m.flags.names().any(|n| n.eq_ignore_ascii_case(k.as_str())),
        SearchKey::Recent => m.recent,
        SearchKey::New => m.recent && !sys(SystemFlags::SEEN),
        SearchKey::Old => !m.recent,
        SearchKey::Before(d) => day() < key_day(d),
        SearchKey::On(d) => day() == key_day(d),
        SearchKey::Since(d) => day() >= key_day(d),
        SearchKey::Larger(n) => m.size > *n,
        SearchKey::Smaller(n) => m.size < *n,
        SearchKey::Uid(set) => in_set(set, m.uid, last.uid),
        SearchKey::SequenceSet(set) => in_set(set, m.seq, last.seq),
        SearchKey::Not(k) => !reference(k, m, last),
        SearchKey::Or(a, b) => reference(a, m, last) || reference(b, m, last),
        SearchKey::List(list) => list.iter().all(|k| reference(k, m, last)),
        other => panic!("not generated: {other:?}"),
    }
}

const KEYWORDS: [&str; 3] = ["$Work", "$junk", "Later"];

fn arb_flags() -> impl Strategy<Value = Flags> {
    (
        0u8..32,
        proptest::collection::vec(prop::sample::select(&KEYWORDS[..]), 0..3),
    )
        .prop_map(|(bits, kws)| {
            let mut flags = Flags::system(SystemFlags::from_bits(bits));
            for k in kws {
                flags.keywords.insert(kw(&k.to_ascii_uppercase()));
            }
            flags
        })
}

fn arb_meta() -> impl Strategy<Value = Meta> {
    (
        1u32..40,
        1u32..40,
        arb_flags(),
        any::<bool>(),
        // Mostly within days of the key dates, so that zones and day ends
        // decide; sometimes anywhere from 1900 to 2100.
        prop_oneof![
            3 => (T0 - 10 * 86_400)..(T0 + 10 * 86_400),
            1 => -2_208_988_800i64..4_102_444_800,
        ],
        -5999i16..=5999,
        0u64..3000,
    )
        .prop_map(|(uid, seq, flags, recent, unix, zone, size)| Meta {
            uid,
            seq,
            flags,
            recent,
            unix,
            zone,
            size,
        })
}

fn arb_date() -> impl Strategy<Value = Date> {
    prop_oneof![
        3 => (Just(2024u16), 2u8..=3, 1u8..=31),
        1 => (1899u16..2102, 1u8..=12, 1u8..=31),
    ]
    .prop_filter_map("no such day", |(y, m, d)| Date::new(y, m, d).ok())
}

/// Ranges of numbers up to 45, `*` (0 here) among them now and then.
fn arb_set() -> impl Strategy<Value = SequenceSet> {
    let end = prop_oneof![6 => 1u32..45, 1 => Just(0u32)];
    proptest::collection::vec((end.clone(), end), 1..4).prop_map(set)
}

fn arb_leaf() -> impl Strategy<Value = SearchKey<'static>> {
    prop_oneof![
        1 => Just(SearchKey::All),
        1 => Just(SearchKey::Answered),
        1 => Just(SearchKey::Deleted),
        1 => Just(SearchKey::Draft),
        1 => Just(SearchKey::Flagged),
        1 => Just(SearchKey::Seen),
        1 => Just(SearchKey::Unanswered),
        1 => Just(SearchKey::Undeleted),
        1 => Just(SearchKey::Undraft),
        1 => Just(SearchKey::Unflagged),
        1 => Just(SearchKey::Unseen),
        1 => Just(SearchKey::Recent),
        1 => Just(SearchKey::New),
        1 => Just(SearchKey::Old),
        1 => prop::sample::select(&KEYWORDS[..]).prop_map(|k| SearchKey::Keyword(atom(k))),
        1 => prop::sample::select(&KEYWORDS[..]).prop_map(|k| SearchKey::Unkeyword(atom(k))),
        // Dates weigh more: their day boundaries are where mistakes hide.
        4 => arb_date().prop_map(SearchKey::Before),
        4 => arb_date().prop_map(SearchKey::On),
        4 => arb_date().prop_map(SearchKey::Since),
        1 => (0u64..3000).prop_map(SearchKey::Larger),
        1 => (0u64..3000).prop_map(SearchKey::Smaller),
        1 => arb_set().prop_map(SearchKey::Uid),
        1 => arb_set().prop_map(SearchKey::SequenceSet),
    ]
}

fn arb_key() -> impl Strategy<Value = SearchKey<'static>> {
    arb_leaf().prop_recursive(5, 40, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(not),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| or(a, b)),
            proptest::collection::vec(inner, 0..4).prop_map(SearchKey::List),
        ]
    })
}

proptest! {
    #[test]
    fn metadata_keys_match_the_naive_reference(key in arb_key(), metas in proptest::collection::vec(arb_meta(), 1..16)) {
        // `*` is the count and the highest UID of a mailbox holding them.
        let last = Last {
            seq: metas.iter().map(|m| m.seq).max().unwrap_or(0),
            uid: metas.iter().map(|m| m.uid).max().unwrap_or(0),
        };
        let scope = SearchScope { last_seq: last.seq, last_uid: last.uid, ..scope() };
        let search = Search::new(&key, &scope).unwrap();
        prop_assert!(!search.needs_content());
        let never = || -> Result<Bytes, StoreError> { panic!("content read for a metadata key") };
        for m in &metas {
            let ctx = MessageContext {
                uid: uid(m.uid),
                seq: m.seq,
                flags: &m.flags,
                recent: m.recent,
                internal_date: InternalDate { unix_seconds: m.unix, zone_minutes: m.zone },
                size: m.size,
                save_date: 1_700_000_000,
                content: MessageContent::Lazy(&never),
            };
            prop_assert_eq!(search.matches(&ctx).unwrap(), reference(&key, m, last), "{:?} on {:?}", key, m);
        }
    }

    #[test]
    fn internal_dates_agree_with_naive_calendar(unix in -62_000_000_000i64..250_000_000_000, zone in -5999i16..=5999) {
        let (y, m, d) = naive_date(unix, zone);
        let got = date_of_internal(InternalDate { unix_seconds: unix, zone_minutes: zone }).unwrap();
        prop_assert_eq!((i64::from(got.year()), u32::from(got.month()), u32::from(got.day())), (y, m, d));
    }

    #[test]
    fn arbitrary_content_never_panics(raw in proptest::collection::vec(any::<u8>(), 0..600), needle in "[a-zA-Z=?é ]{0,6}") {
        let flags = Flags::new();
        let ctx = MessageContext {
            uid: uid(1),
            seq: 1,
            flags: &flags,
            recent: false,
            internal_date: InternalDate::from_unix(0),
            size: raw.len() as u64,
            save_date: 1_700_000_000,
            content: MessageContent::Bytes(&raw),
        };
        for key in [
            SearchKey::Text(s(&needle)),
            SearchKey::From(s(&needle)),
            SearchKey::Header { name: s("subject"), value: s(&needle) },
            SearchKey::SentSince(date(2000, 1, 1)),
        ] {
            let _ = evaluate(&key, &scope(), &ctx).unwrap();
        }
        // The empty needle finds every message.
        prop_assert!(evaluate(&SearchKey::Body(s("")), &scope(), &ctx).unwrap());
    }
}

#[test]
fn imap_keys_resolve_star_dollar_and_charset() {
    let (_acc, v) = fixture();
    let key = |s: &str| s.parse::<SearchKey<'static>>().unwrap();
    check(&v, key("UID 5:*"), &[5, 6]);
    check(&v, key("4:*"), &[4, 5, 6]);
    check(&v, key("(SEEN UID *)"), &[]);
    check(&v, key("OR UID 1 *"), &[1, 6]);
    // `$` needs the saved result, which the view-level search has not.
    let dollar = key("UID $");
    assert_eq!(
        v.search(&dollar),
        Err(SearchError::Unsupported("$ without a saved result"))
    );
    let saved = [uid(2), uid(5)];
    let scope = SearchScope {
        saved: Some(&saved),
        ..SearchScope::default()
    };
    let got = v
        .search_compiled(&Search::new(&key("$"), &scope).unwrap())
        .unwrap();
    assert_eq!(got, [uid(2), uid(5)]);
    // The command's CHARSET: `tr\xe8s` is ISO-8859-1 for "très" (in the
    // quoted-printable body of M2 and the base64 one inside M4).
    let tres = SearchKey::Body(AString::from_bytes(&b"tr\xe8s"[..]).unwrap());
    let latin1 = SearchScope {
        charset: Some("ISO-8859-1"),
        ..SearchScope::default()
    };
    let got = v.search_compiled(&Search::new(&tres, &latin1).unwrap()).unwrap();
    assert_eq!(got, [uid(2), uid(4)]);
    // A keyword the store cannot hold is set on no message.
    check(&v, SearchKey::Keyword(atom(&"k".repeat(1000))), &[]);
    check(
        &v,
        SearchKey::Unkeyword(atom(&"k".repeat(1000))),
        &[1, 2, 3, 4, 5, 6],
    );
    // What the model does not keep is refused, not guessed.
    assert_eq!(v.search(&key("OLDER 60")), Err(SearchError::Unsupported("OLDER")));
    assert_eq!(
        v.search(&key("MODSEQ 5")),
        Err(SearchError::Unsupported("MODSEQ"))
    );
}

/// Large messages (above `FILE_ABOVE`) in a Maildir are searched in their
/// files, their top header and text parts read from there: every key
/// finds what it finds in the same messages held in memory, line ends of
/// the files LF or CRLF.
#[test]
fn large_messages_are_searched_in_their_files() {
    let attachment: String = "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB\n".repeat(7000);
    let large_multipart = format!(
        "From: Ann <ann@example.org>\nSubject: big report\nContent-Type: multipart/mixed; boundary=zz\n\n\
         --zz\nContent-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\n\
         Gr=FC=DFe, the quokka is here\n--zz\nContent-Type: application/octet-stream\n\
         Content-Transfer-Encoding: base64\nX-Part: wombat\n\n{attachment}--zz--\n"
    );
    let large_text = format!(
        "From: Bob <bob@example.net>\r\nSubject: long text\r\n\r\n{}the needle at the end\r\n",
        "lorem ipsum dolor sit amet\r\n".repeat(12_000)
    );
    let small = "From: Cy <cy@example.com>\r\nSubject: small\r\n\r\nquokka too\r\n";
    let contents = [large_multipart.as_str(), large_text.as_str(), small];
    assert!(
        contents[..2]
            .iter()
            .all(|c| c.len() as u64 > mailwire_mailbox::search::FILE_ABOVE)
    );

    let dir = tempfile::tempdir().unwrap();
    let maildir = Store::new(
        MaildirBackend::with_options(
            dir.path().to_path_buf(),
            MaildirOptions::default().with_fsync(false),
        )
        .unwrap(),
    );
    let memory = Store::new(MemoryBackend::new());
    let inbox = name("INBOX");
    let mut views = Vec::new();
    for store in [&maildir, &memory] {
        let acc = store.create_account(&AccountName::new("alice").unwrap()).unwrap();
        acc.append_all(&inbox, contents.iter().map(|c| message(c, &[], T0, 0)).collect())
            .unwrap();
        views.push(acc.select(&inbox, SelectMode::ReadOnly).unwrap());
    }
    let cases: Vec<(SearchKey<'static>, &[u32])> = vec![
        (SearchKey::Body(s("quokka")), &[1, 3]),
        (SearchKey::Body(s("GRÜßE")), &[1]),
        (SearchKey::Body(s("needle at the end")), &[2]),
        (SearchKey::Body(s("QUFBQUFB")), &[]),
        (SearchKey::Text(s("wombat")), &[1]),
        (SearchKey::Text(s("needle")), &[2]),
        (
            SearchKey::Header {
                name: s("X-Part"),
                value: s("wombat"),
            },
            &[],
        ),
        (SearchKey::Subject(s("big")), &[1]),
        (SearchKey::From(s("bob@example.net")), &[2]),
        (SearchKey::Larger(300_000), &[1, 2]),
    ];
    for (key, expected) in cases {
        for view in &views {
            check(view, key.clone(), expected);
        }
    }
}

/// A large message in its file: header keys read its top header block
/// alone; body keys analyse it in its file, and read it whole only when
/// that fails.
#[test]
fn header_keys_read_only_the_header_of_a_message_in_its_file() {
    use std::io::Write;
    let mut raw = b"From: Ann Example <ann@example.org>\nSubject: quarterly numbers\n\
                    Date: Mon, 2 Mar 2026 10:00:00 +0000\nX-Tag: blue\n\n"
        .to_vec();
    while raw.len() < 300 * 1024 {
        raw.extend_from_slice(b"a line of the report, with nothing to look for in it\n");
    }
    raw.extend_from_slice(b"the last line names a zebra\n");
    let mut file = tempfile::tempfile().expect("a temporary file");
    file.write_all(&raw).expect("written");
    let flags = Flags::new();
    let reads = Cell::new(0);
    let read = || {
        reads.set(reads.get() + 1);
        Ok(Bytes::from(raw.clone()))
    };
    let check = |claimed: u64, key: SearchKey<'static>| {
        let in_file = || Ok(Some((file.try_clone().expect("a handle"), claimed)));
        let ctx = MessageContext {
            uid: uid(1),
            seq: 1,
            flags: &flags,
            recent: false,
            internal_date: InternalDate::from_unix(T0),
            size: raw.len() as u64,
            save_date: T0,
            content: MessageContent::File {
                file: &in_file,
                read: &read,
            },
        };
        evaluate(&key, &scope(), &ctx).expect("evaluated")
    };
    let sent = SearchKey::SentOn(Date::new(2026, 3, 2).expect("a date"));
    let header = SearchKey::Header {
        name: s("X-Tag"),
        value: s("blue"),
    };
    // A length longer than the file: analysing it there fails, so does
    // reading its end; its header is read all the same.
    let long = raw.len() as u64 + 10;
    for key in [
        SearchKey::Subject(s("QUARTERLY")),
        SearchKey::From(s("ann@example")),
        sent.clone(),
        header.clone(),
    ] {
        assert!(check(long, key.clone()), "{key:?}");
        assert_eq!(reads.get(), 0, "{key:?} read the message whole");
    }
    assert!(!check(long, SearchKey::Subject(s("zebra"))));
    assert_eq!(reads.get(), 0);
    // A body key reads the message whole when it cannot be analysed in
    // its file, and from the file when it can.
    assert!(check(long, SearchKey::Body(s("zebra"))));
    assert_eq!(reads.get(), 1);
    let exact = raw.len() as u64;
    let both = SearchKey::List(vec![
        SearchKey::Subject(s("numbers")),
        SearchKey::Text(s("zebra")),
    ]);
    assert!(check(exact, both));
    assert!(!check(exact, SearchKey::Body(s("giraffe"))));
    assert_eq!(reads.get(), 1, "a message analysed in its file was read whole");
}

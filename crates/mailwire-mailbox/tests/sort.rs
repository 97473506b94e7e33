//! SORT and THREAD evaluation: RFC 5256's SORT example, every sort key
//! with REVERSE and the sequence-number tie-break, RFC 5957's display
//! keys, the three threading algorithms on one mailbox worked out by hand
//! from RFC 5256's steps, hostile References (loops, a chain deeper than
//! the loop check walks, a References field of 100,000 IDs, a deep comb
//! cut for the wire), and property tests: SORT against a naive reference
//! on known keys, THREAD listing every message exactly once.

use std::num::NonZeroU32;

use bytes::Bytes;
use mailwire_imap::Atom;
use mailwire_mailbox::sort::{
    SortCriterion, SortError, SortKey, Thread, ThreadAlgorithm, ThreadTree, collation_key,
};
use mailwire_mailbox::{
    Account, AccountName, AppendMessage, Flags, InternalDate, MailboxName, MemoryBackend, SelectMode,
    SelectedMailbox, Store, SystemFlags, Uid,
};
use proptest::prelude::*;

/// A mailbox holding `messages` (content, INTERNALDATE), UIDs from 1.
fn mailbox(messages: Vec<(String, i64)>) -> (Account, SelectedMailbox) {
    let store = Store::new(MemoryBackend::new());
    let acc = store.create_account(&AccountName::new("alice").unwrap()).unwrap();
    let inbox = MailboxName::inbox();
    if !messages.is_empty() {
        acc.append_all(
            &inbox,
            messages
                .into_iter()
                .map(|(content, unix)| AppendMessage {
                    content: Bytes::from(content),
                    flags: Flags::new(),
                    internal_date: Some(InternalDate::from_unix(unix)),
                })
                .collect(),
        )
        .unwrap();
    }
    let view = acc.select(&inbox, SelectMode::ReadOnly).unwrap();
    (acc, view)
}

/// A message of these header fields and a short body.
fn msg(fields: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (name, value) in fields {
        out.push_str(name);
        out.push_str(": ");
        out.push_str(value);
        out.push_str("\r\n");
    }
    out.push_str("\r\nbody\r\n");
    out
}

/// A `Date:` value `t` seconds (under a day) after 2020-01-01T00:00Z.
fn date(t: i64) -> String {
    format!(
        "Wed, 1 Jan 2020 {:02}:{:02}:{:02} +0000",
        t / 3600,
        t / 60 % 60,
        t % 60
    )
}

const JAN_2020: i64 = 1_577_836_800;

fn key(key: SortKey<'static>) -> SortCriterion<'static> {
    SortCriterion { reverse: false, key }
}

fn rev(key: SortKey<'static>) -> SortCriterion<'static> {
    SortCriterion { reverse: true, key }
}

fn all(view: &SelectedMailbox) -> Vec<Uid> {
    view.messages().iter().map(|m| m.uid).collect()
}

#[track_caller]
fn check_sort(view: &SelectedMailbox, criteria: &[SortCriterion<'static>], expected: &[u32]) {
    let got: Vec<u32> = view
        .sort(criteria, &all(view))
        .unwrap()
        .iter()
        .map(|u| u.get())
        .collect();
    assert_eq!(got, expected, "{criteria:?}");
}

/// A thread in the wire's notation, checking the shape mailwire-imap's
/// encoder needs (no one-child split, nothing empty).
fn wire(threads: &[Thread]) -> String {
    fn one(t: &Thread, out: &mut String) {
        assert!(!(t.messages.is_empty() && t.children.is_empty()));
        assert_ne!(t.children.len(), 1, "a one-child split: {t:?}");
        out.push('(');
        let numbers: Vec<String> = t.messages.iter().map(|n| n.to_string()).collect();
        out.push_str(&numbers.join(" "));
        if !t.messages.is_empty() && !t.children.is_empty() {
            out.push(' ');
        }
        for c in &t.children {
            one(c, out);
        }
        out.push(')');
    }
    let mut out = String::new();
    for t in threads {
        one(t, &mut out);
    }
    out
}

fn uid_number(uid: Uid) -> NonZeroU32 {
    uid.into()
}

fn threads(view: &SelectedMailbox, algorithm: ThreadAlgorithm<'static>) -> String {
    let tree = view.thread(&algorithm, &all(view)).unwrap();
    check_tree(&tree, view.messages().len());
    wire(&tree.to_imap(uid_number, 100))
}

/// Every message once; placeholders only at the root, with two children
/// or more.
#[track_caller]
fn check_tree(tree: &ThreadTree, messages: usize) {
    let mut uids = tree.uids();
    assert_eq!(uids.len(), messages);
    uids.sort();
    uids.dedup();
    assert_eq!(uids.len(), messages);
    let mut is_root = vec![false; tree.nodes().len()];
    for &r in tree.roots() {
        is_root[r] = true;
    }
    for (i, node) in tree.nodes().iter().enumerate() {
        if node.uid.is_none() {
            assert!(is_root[i], "placeholder below the root");
            assert!(
                node.children.len() >= 2,
                "placeholder with fewer than two children"
            );
        }
    }
}

#[test]
fn rfc5256_sort_example() {
    // `SORT (SUBJECT REVERSE DATE) UTF-8 ALL` answers `5 3 4 1 2` in RFC
    // 5256 section 3; this mailbox is built so that it must.
    let (_acc, view) = mailbox(vec![
        (msg(&[("Subject", "b"), ("Date", &date(100))]), JAN_2020),
        (msg(&[("Subject", "c"), ("Date", &date(100))]), JAN_2020),
        (msg(&[("Subject", "a"), ("Date", &date(300))]), JAN_2020),
        (msg(&[("Subject", "Re: A"), ("Date", &date(200))]), JAN_2020),
        (msg(&[("Subject", "[list] a"), ("Date", &date(400))]), JAN_2020),
    ]);
    check_sort(
        &view,
        &[key(SortKey::Subject), rev(SortKey::Date)],
        &[5, 3, 4, 1, 2],
    );
    // REVERSE reverses one key, not the sequence-number tie-break.
    check_sort(&view, &[key(SortKey::Subject)], &[3, 4, 5, 1, 2]);
    check_sort(&view, &[rev(SortKey::Subject)], &[2, 1, 3, 4, 5]);
    // An empty match sorts to nothing.
    assert!(view.sort(&[key(SortKey::Subject)], &[]).unwrap().is_empty());
}

#[test]
fn dates_sizes_and_arrival() {
    let (_acc, view) = mailbox(vec![
        // RFC 5256 section 2.2: these two are the same UTC moment.
        (msg(&[("Date", "31 Dec 2000 16:01:33 -0800")]), 30),
        (
            msg(&[("Date", "1 Jan 2001 00:01:33 +0000"), ("X-Pad", "padding")]),
            10,
        ),
        // No Date: the INTERNALDATE (2000-12-31T00:00Z) stands in.
        (msg(&[("Subject", "no date")]), 978_220_800),
        // An unreadable Date: likewise (2001-06-01).
        (msg(&[("Date", "someday")]), 991_353_600),
        // Two Date fields: the last one counts, as in ENVELOPE.
        (
            msg(&[
                ("Date", "1 Jan 1990 00:00 +0000"),
                ("Date", "1 Jan 2002 00:00 +0000"),
            ]),
            20,
        ),
    ]);
    check_sort(&view, &[key(SortKey::Date)], &[3, 1, 2, 4, 5]);
    check_sort(&view, &[rev(SortKey::Date)], &[5, 4, 1, 2, 3]);
    check_sort(&view, &[key(SortKey::Arrival)], &[2, 5, 1, 3, 4]);
    check_sort(&view, &[rev(SortKey::Arrival)], &[4, 3, 1, 5, 2]);
    // 42, 57, 26, 23 and 68 octets.
    check_sort(&view, &[key(SortKey::Size)], &[4, 3, 1, 2, 5]);
    // Several criteria: DATE ties between 1 and 2 broken by SIZE.
    check_sort(&view, &[key(SortKey::Date), rev(SortKey::Size)], &[3, 2, 1, 4, 5]);
    // A key named again, reversed or not, changes nothing: the first
    // naming decides.
    let mut again = vec![key(SortKey::Date)];
    again.extend(std::iter::repeat_n(rev(SortKey::Date), 5_000));
    again.push(rev(SortKey::Size));
    again.push(key(SortKey::Size));
    check_sort(&view, &again, &[3, 2, 1, 4, 5]);
}

#[test]
fn address_keys_and_display_keys() {
    let (_acc, view) = mailbox(vec![
        (msg(&[("From", "Zed <alice@x>"), ("To", "b@x")]), 0),
        (msg(&[("From", "Adam <BOB@x>"), ("To", "a@x"), ("Cc", "zz@x")]), 0),
        (msg(&[("Subject", "no from")]), 0),
        (msg(&[("From", "undisclosed-recipients:;"), ("Cc", "_x@x")]), 0),
        (
            msg(&[("From", "=?UTF-8?Q?=C3=89mile?= <emile@x>"), ("Cc", "a@x")]),
            0,
        ),
        (msg(&[("From", "\"\" <carl@x>, zoe@x"), ("To", "Ann <zed@x>")]), 0),
        (msg(&[("From", ""), ("From", "dan@x (Dan D)")]), 0),
    ]);
    // addr-mailbox of the first address; a group's is its name; none is "".
    check_sort(&view, &[key(SortKey::From)], &[3, 1, 2, 6, 7, 5, 4]);
    // RFC 5957: display name (decoded), else mailbox@host, else the group.
    // `Dan D` comes from the comment after a bare address, as ENVELOPE
    // reads it; `Émile` sorts after ASCII.
    check_sort(&view, &[key(SortKey::DisplayFrom)], &[3, 2, 6, 7, 4, 1, 5]);
    check_sort(&view, &[rev(SortKey::DisplayFrom)], &[5, 1, 4, 7, 6, 2, 3]);
    check_sort(&view, &[key(SortKey::To)], &[3, 4, 5, 7, 2, 1, 6]);
    check_sort(&view, &[key(SortKey::DisplayTo)], &[3, 4, 5, 7, 2, 6, 1]);
    // i;ascii-casemap compares upper case: `ZZ` before `_X`.
    check_sort(&view, &[key(SortKey::Cc)], &[1, 3, 6, 7, 5, 2, 4]);
}

#[test]
fn collation_is_ascii_casemap_on_ascii() {
    assert_eq!(collation_key("aBc_"), "ABC_");
    assert!(collation_key("a") < collation_key("_"));
    assert!(collation_key("") < collation_key("a"));
    assert_eq!(collation_key("straße"), "STRASSE");
}

#[test]
fn unknown_keys_algorithms_and_uids_are_refused() {
    let (_acc, view) = mailbox(vec![(msg(&[("Subject", "x")]), 0)]);
    let other = SortKey::Other(Atom::try_from("MODSEQ").unwrap());
    assert!(matches!(
        view.sort(&[key(other)], &all(&view)),
        Err(SortError::UnsupportedKey(k)) if k == "MODSEQ"
    ));
    let alg = ThreadAlgorithm::Other(Atom::try_from("X-NEW").unwrap());
    assert!(matches!(
        view.thread(&alg, &all(&view)),
        Err(SortError::UnsupportedAlgorithm(a)) if a == "X-NEW"
    ));
    let stranger = Uid::new(99).unwrap();
    assert_eq!(
        view.sort(&[key(SortKey::Size)], &[stranger]),
        Err(SortError::NotInView(stranger))
    );
    // A UID given twice is listed once.
    let uid = Uid::MIN;
    assert_eq!(view.sort(&[key(SortKey::Size)], &[uid, uid]).unwrap(), [uid]);
    assert_eq!(
        view.thread(&ThreadAlgorithm::References, &[uid, uid])
            .unwrap()
            .uids(),
        [uid]
    );
}

/// Twelve messages whose threads RFC 5256's steps give by hand (see
/// `threading_by_hand`).
fn thread_fixture() -> (Account, SelectedMailbox) {
    mailbox(thread_messages())
}

/// The messages of [`thread_fixture`].
fn thread_messages() -> Vec<(String, i64)> {
    let m = |fields: &[(&str, &str)], t: i64| {
        let d = date(t);
        let mut all = vec![("Date", d.as_str())];
        all.extend_from_slice(fields);
        (msg(&all), JAN_2020)
    };
    vec![
        m(&[("Message-ID", "<1@x>"), ("Subject", "Hello")], 100),
        m(
            &[
                ("Message-ID", "<2@x>"),
                ("References", "<1@x>"),
                ("Subject", "Re: Hello"),
            ],
            200,
        ),
        m(
            &[
                ("Message-ID", "<3@x>"),
                ("References", "<\"1\"@x>\r\n <2@x>"),
                ("Subject", "Re: Hello"),
            ],
            300,
        ),
        m(
            &[
                ("Message-ID", "<4@x>"),
                ("In-Reply-To", "<1@x> (Hello's author)"),
                ("Subject", "Re: hello"),
            ],
            150,
        ),
        m(
            &[
                ("Message-ID", "<5@x>"),
                ("References", "<missing@x>"),
                ("Subject", "Other"),
            ],
            650,
        ),
        m(
            &[
                ("Message-ID", "<6@x>"),
                ("References", "<missing@x>"),
                ("Subject", "Re: Other"),
            ],
            400,
        ),
        m(&[("Message-ID", "<7@x>"), ("Subject", "Hello")], 600),
        m(&[("Message-ID", "<8@x>"), ("Subject", "Re: Lonely")], 50),
        m(&[("Message-ID", "<9@x>"), ("Subject", "Lonely")], 700),
        m(
            &[
                ("Message-ID", "<a@loop>"),
                ("References", "<b@loop>"),
                ("Subject", "Loop"),
            ],
            800,
        ),
        m(
            &[
                ("Message-ID", "<b@loop>"),
                ("References", "<a@loop>"),
                ("Subject", "Loop"),
            ],
            900,
        ),
        m(&[("Message-ID", "<1@x>"), ("Subject", "Dup")], 1000),
    ]
}

#[test]
fn threading_by_hand() {
    let (_acc, view) = thread_fixture();
    // ORDEREDSUBJECT: groups LONELY (8 9), HELLO (1 4 2 3 7), OTHER (6 5),
    // LOOP (10 11), DUP (12), by the date of their first message.
    assert_eq!(
        threads(&view, ThreadAlgorithm::OrderedSubject),
        "(8 9)(1 (4)(2)(3)(7))(6 5)(10 11)(12)"
    );
    // REFERENCES: 2, 3 (quoting normalized) and 4 (In-Reply-To) below 1;
    // 5 and 6 under a dummy `missing` that stays at the root with two
    // children; 7 merged with 1 by subject under a new dummy (neither is a
    // reply); 8 (a reply) under 9 (not one); 11 refuses to become 10's
    // child (a loop) and is its parent; 12's duplicate ID is replaced.
    assert_eq!(
        threads(&view, ThreadAlgorithm::References),
        "((1 (4)(2 3))(7))((6)(5))(9 8)(11 10)(12)"
    );
    // REFS: no subject merging; threads by their newest message.
    assert_eq!(
        threads(&view, ThreadAlgorithm::Refs),
        "(8)(1 (4)(2 3))(7)((6)(5))(9)(11 10)(12)"
    );
    // THREAD over part of the mailbox: without 1, its replies 4 and 2 hang
    // from a dummy, which stays at the root with its two children.
    let some = [2, 3, 4].map(|u| Uid::new(u).unwrap());
    let tree = view.thread(&ThreadAlgorithm::References, &some).unwrap();
    check_tree(&tree, 3);
    assert_eq!(wire(&tree.to_imap(uid_number, 100)), "((4)(2 3))");
}

#[test]
fn sequence_numbers_for_thread() {
    // A message appended and expunged first: UID n + 1 is message n.
    let store = Store::new(MemoryBackend::new());
    let acc = store.create_account(&AccountName::new("alice").unwrap()).unwrap();
    let inbox = MailboxName::inbox();
    let gone = AppendMessage {
        content: Bytes::from_static(b"\r\nx\r\n"),
        flags: Flags::system(SystemFlags::DELETED),
        internal_date: None,
    };
    let gone = acc.append_all(&inbox, vec![gone]).unwrap().uids;
    acc.expunge(&inbox, Some(&gone)).unwrap();
    let messages = thread_messages()
        .into_iter()
        .map(|(content, unix)| AppendMessage {
            content: Bytes::from(content),
            flags: Flags::new(),
            internal_date: Some(InternalDate::from_unix(unix)),
        })
        .collect();
    acc.append_all(&inbox, messages).unwrap();
    let view = acc.select(&inbox, SelectMode::ReadOnly).unwrap();
    let tree = view.thread(&ThreadAlgorithm::References, &all(&view)).unwrap();
    let by_seq = tree.to_imap(|uid| NonZeroU32::new(view.seq(uid).unwrap()).unwrap(), 100);
    assert_eq!(wire(&by_seq), "((1 (4)(2 3))(7))((6)(5))(9 8)(11 10)(12)");
    let by_uid = tree.to_imap(uid_number, 100);
    assert_eq!(wire(&by_uid), "((2 (5)(3 4))(8))((7)(6))(10 9)(12 11)(13)");
}

#[test]
fn reference_loops_and_deep_chains_end() {
    let mut messages = Vec::new();
    // A three-message loop, each referencing the next.
    for (id, next) in [("a", "b"), ("b", "c"), ("c", "a")] {
        messages.push((
            msg(&[
                ("Message-ID", &format!("<{id}@l>")),
                ("References", &format!("<{next}@l> <{id}@l>")),
            ]),
            0,
        ));
    }
    // Fifteen messages whose References (1,000 IDs each, overlapping by
    // one) make a chain of dummies ~15,000 deep: deeper than the loop check
    // walks.
    for k in 0..15 {
        let refs: Vec<String> = (k * 999..k * 999 + 1000)
            .map(|i| format!("<d{i}@deep>"))
            .collect();
        messages.push((
            msg(&[
                ("Message-ID", &format!("<m{k}@deep>")),
                ("References", &refs.join(" ")),
            ]),
            0,
        ));
    }
    // A References field of 60,000 IDs (1,000 are kept).
    let huge: Vec<String> = (0..60_000).map(|i| format!("<h{i}@huge>")).collect();
    messages.push((
        msg(&[("Message-ID", "<huge@x>"), ("References", &huge.join(" "))]),
        0,
    ));
    let count = messages.len();
    let (_acc, view) = mailbox(messages);
    for alg in [
        ThreadAlgorithm::References,
        ThreadAlgorithm::Refs,
        ThreadAlgorithm::OrderedSubject,
    ] {
        let tree = view.thread(&alg, &all(&view)).unwrap();
        check_tree(&tree, count);
        let mut listed = Vec::new();
        for t in tree.to_imap(uid_number, 64) {
            collect(&t, &mut listed);
        }
        assert_eq!(listed.len(), count);
    }
}

fn collect(t: &Thread, out: &mut Vec<u32>) {
    out.extend(t.messages.iter().map(|n| n.get()));
    for c in &t.children {
        collect(c, out);
    }
}

fn depth(t: &Thread) -> usize {
    1 + t.children.iter().map(depth).max().unwrap_or(0)
}

#[test]
fn a_deep_comb_is_cut_for_the_wire() {
    // A spine s0 <- s1 <- ... with a leaf replying to each spine message:
    // every spine message has two children, so the wire form nests once
    // per level.
    let n = 1000;
    let mut messages = Vec::new();
    for i in 0..n {
        let mut fields = vec![("Message-ID".to_owned(), format!("<s{i}@comb>"))];
        if i > 0 {
            fields.push(("In-Reply-To".to_owned(), format!("<s{}@comb>", i - 1)));
        }
        let f: Vec<(&str, &str)> = fields.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        messages.push((msg(&f), JAN_2020 + i64::from(i)));
        let leaf = format!("<s{i}@comb>");
        messages.push((msg(&[("In-Reply-To", &leaf)]), JAN_2020 + i64::from(i) + 1));
    }
    let (_acc, view) = mailbox(messages);
    let tree = view.thread(&ThreadAlgorithm::References, &all(&view)).unwrap();
    check_tree(&tree, 2 * n as usize);
    for max in [1, 5, 64] {
        let wire_form = tree.to_imap(uid_number, max);
        assert_eq!(wire_form.len(), 1);
        assert!(depth(&wire_form[0]) <= max + 1, "{max}");
        let mut listed = Vec::new();
        collect(&wire_form[0], &mut listed);
        listed.sort();
        assert_eq!(listed, (1..=2 * n).collect::<Vec<_>>());
    }
}

// Property tests.

/// Subjects with their collated base subject.
const SUBJECTS: [(&str, &str); 8] = [
    ("Hello", "HELLO"),
    ("Re: hello", "HELLO"),
    ("[x] Fwd: Apple", "APPLE"),
    ("apple (fwd)", "APPLE"),
    ("", ""),
    ("=?UTF-8?Q?Zebra?=", "ZEBRA"),
    ("Re: [y] zebra", "ZEBRA"),
    ("[fwd: Re: apple]", "APPLE"),
];

/// Address fields with their addr-mailbox and display keys.
const ADDRESSES: [(&str, &str, &str); 5] = [
    ("Bob <bob@x>", "BOB", "BOB"),
    ("alice@x", "ALICE", "ALICE@X"),
    ("", "", ""),
    ("\"Zed\" <ann@x>", "ANN", "ZED"),
    ("group: carl@x;", "GROUP", "GROUP"),
];

#[derive(Debug, Clone)]
struct Gen {
    subject: usize,
    from: usize,
    to: usize,
    date: Option<i64>,
    arrival: i64,
    pad: usize,
}

fn gen_message() -> impl Strategy<Value = Gen> {
    (
        0..SUBJECTS.len(),
        0..ADDRESSES.len(),
        0..ADDRESSES.len(),
        proptest::option::of(0i64..5),
        0i64..5,
        0usize..4,
    )
        .prop_map(|(subject, from, to, date, arrival, pad)| Gen {
            subject,
            from,
            to,
            date,
            arrival,
            pad,
        })
}

fn gen_criterion() -> impl Strategy<Value = SortCriterion<'static>> {
    let keys = [
        SortKey::Arrival,
        SortKey::Cc,
        SortKey::Date,
        SortKey::From,
        SortKey::Size,
        SortKey::Subject,
        SortKey::To,
        SortKey::DisplayFrom,
        SortKey::DisplayTo,
    ];
    (0..keys.len(), any::<bool>()).prop_map(move |(k, reverse)| SortCriterion {
        reverse,
        key: keys[k].clone(),
    })
}

fn content(g: &Gen) -> String {
    let mut fields: Vec<(&str, String)> = Vec::new();
    if let Some(d) = g.date {
        fields.push(("Date", date(d * 60)));
    }
    fields.push(("Subject", SUBJECTS[g.subject].0.to_owned()));
    if !ADDRESSES[g.from].0.is_empty() {
        fields.push(("From", ADDRESSES[g.from].0.to_owned()));
    }
    if !ADDRESSES[g.to].0.is_empty() {
        fields.push(("To", ADDRESSES[g.to].0.to_owned()));
        fields.push(("Cc", ADDRESSES[g.to].0.to_owned()));
    }
    fields.push(("X-Pad", "x".repeat(g.pad)));
    let f: Vec<(&str, &str)> = fields.iter().map(|(a, b)| (*a, b.as_str())).collect();
    msg(&f)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn sort_matches_a_naive_reference(
        gens in proptest::collection::vec(gen_message(), 0..10),
        criteria in proptest::collection::vec(gen_criterion(), 1..6),
        subset in proptest::collection::vec(any::<bool>(), 10),
    ) {
        let messages = gens
            .iter()
            .map(|g| (content(g), JAN_2020 + g.arrival * 60 + 30))
            .collect();
        let (_acc, view) = mailbox(messages);
        let matched: Vec<Uid> = all(&view)
            .into_iter()
            .zip(&subset)
            .filter(|(_, keep)| **keep)
            .map(|(u, _)| u)
            .collect();
        let got = view.sort(&criteria, &matched).unwrap();

        // A permutation of the input.
        let mut sorted = got.clone();
        sorted.sort();
        prop_assert_eq!(&sorted, &matched);

        // The naive reference, from the keys the fixtures were built with.
        let sort_key = |uid: Uid, key: &SortKey<'_>| -> (i64, String) {
            let g = &gens[uid.get() as usize - 1];
            let arrival = JAN_2020 + g.arrival * 60 + 30;
            match key {
                SortKey::Arrival => (arrival, String::new()),
                SortKey::Date => (g.date.map_or(arrival, |d| JAN_2020 + d * 60), String::new()),
                SortKey::Size => (view.messages()[uid.get() as usize - 1].size as i64, String::new()),
                SortKey::Subject => (0, SUBJECTS[g.subject].1.to_owned()),
                SortKey::From => (0, ADDRESSES[g.from].1.to_owned()),
                SortKey::To | SortKey::Cc => (0, ADDRESSES[g.to].1.to_owned()),
                SortKey::DisplayFrom => (0, ADDRESSES[g.from].2.to_owned()),
                SortKey::DisplayTo => (0, ADDRESSES[g.to].2.to_owned()),
                _ => unreachable!(),
            }
        };
        let mut expected = matched.clone();
        expected.sort_by(|&a, &b| {
            for c in &criteria {
                let o = sort_key(a, &c.key).cmp(&sort_key(b, &c.key));
                let o = if c.reverse { o.reverse() } else { o };
                if o.is_ne() {
                    return o;
                }
            }
            a.cmp(&b)
        });
        prop_assert_eq!(&got, &expected);

        // REVERSE of a single key: equal-key runs keep ascending sequence
        // order, the runs themselves come in the opposite order.
        let c = &criteria[0];
        let forward = view.sort(&[SortCriterion { reverse: false, key: c.key.clone() }], &matched).unwrap();
        let backward = view.sort(&[SortCriterion { reverse: true, key: c.key.clone() }], &matched).unwrap();
        let runs = |list: &[Uid]| {
            let mut runs: Vec<Vec<Uid>> = Vec::new();
            for &u in list {
                match runs.last_mut() {
                    Some(run) if sort_key(run[0], &c.key) == sort_key(u, &c.key) => run.push(u),
                    _ => runs.push(vec![u]),
                }
            }
            runs
        };
        let mut reversed_runs = runs(&forward);
        reversed_runs.reverse();
        prop_assert_eq!(reversed_runs, runs(&backward));
    }

    #[test]
    fn threads_hold_every_message_once(
        specs in proptest::collection::vec(
            (
                proptest::option::of(0u8..6),
                proptest::collection::vec(0u8..7, 0..4),
                proptest::option::of(0u8..7),
                0..SUBJECTS.len(),
                0i64..4,
            ),
            0..14,
        ),
        subset in proptest::collection::vec(any::<bool>(), 14),
        max_depth in 1usize..4,
    ) {
        let messages = specs
            .iter()
            .map(|(id, refs, irt, subject, t)| {
                let mut fields: Vec<(&str, String)> = vec![("Date", date(t * 60)), ("Subject", SUBJECTS[*subject].0.to_owned())];
                if let Some(id) = id {
                    fields.push(("Message-ID", format!("<{id}@p>")));
                }
                if !refs.is_empty() {
                    let r: Vec<String> = refs.iter().map(|r| format!("<{r}@p>")).collect();
                    fields.push(("References", r.join(" ")));
                }
                if let Some(irt) = irt {
                    fields.push(("In-Reply-To", format!("<{irt}@p>")));
                }
                let f: Vec<(&str, &str)> = fields.iter().map(|(a, b)| (*a, b.as_str())).collect();
                (msg(&f), JAN_2020)
            })
            .collect();
        let (_acc, view) = mailbox(messages);
        let matched: Vec<Uid> = all(&view).into_iter().zip(&subset).filter(|(_, k)| **k).map(|(u, _)| u).collect();
        for alg in [ThreadAlgorithm::OrderedSubject, ThreadAlgorithm::References, ThreadAlgorithm::Refs] {
            let tree = view.thread(&alg, &matched).unwrap();
            check_tree(&tree, matched.len());
            let mut uids = tree.uids();
            uids.sort();
            prop_assert_eq!(&uids, &matched);
            let wire_form = tree.to_imap(uid_number, max_depth);
            let _ = wire(&wire_form);
            let mut listed = Vec::new();
            for t in &wire_form {
                prop_assert!(depth(t) <= max_depth + 1);
                collect(t, &mut listed);
            }
            listed.sort();
            let expected: Vec<u32> = matched.iter().map(|u| u.get()).collect();
            prop_assert_eq!(listed, expected);
        }
    }
}

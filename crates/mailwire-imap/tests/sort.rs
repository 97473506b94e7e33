//! SORT, THREAD, SORT=DISPLAY, ESORT, CONTEXT=SEARCH / CONTEXT=SORT and
//! PARTIAL: the examples of RFC 5256 sections 3 and 4, RFC 5957, RFC 5267
//! sections 3 and 4, RFC 9394 and the `* SORT ... (MODSEQ n)` of RFC 7162,
//! decoded strictly, re-encoded byte for byte and compared; malformed and
//! hostile forms with their offsets; property tests that generated SORT
//! and THREAD commands and thread trees round-trip.

mod codec_support;

use std::num::NonZeroU32;

use codec_support::*;
use mailwire_imap::{
    AString, Atom, Command, CommandBody, ContextUpdate, Date, DecoderConfig, ErrorKind, LiteralPolicy,
    PartialRange, Quoted, Response, SearchKey, SearchReturnData, SearchReturnOption, SequenceSet, Sort,
    SortCriterion, SortKey, Tag, Thread, ThreadAlgorithm, ThreadCommand, to_bytes,
};
use proptest::prelude::*;

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap()
}

fn nzs(ns: &[u32]) -> Vec<NonZeroU32> {
    ns.iter().map(|&n| nz(n)).collect()
}

fn sort_of<'a>(c: &'a Command<'a>) -> (&'a Sort<'a>, bool) {
    match &c.body {
        CommandBody::Sort { sort, uid } => (sort, *uid),
        other => panic!("not a sort: {other:?}"),
    }
}

fn thread_of<'a>(c: &'a Command<'a>) -> (&'a ThreadCommand<'a>, bool) {
    match &c.body {
        CommandBody::Thread { thread, uid } => (thread, *uid),
        other => panic!("not a thread: {other:?}"),
    }
}

fn criterion(reverse: bool, key: SortKey<'static>) -> SortCriterion<'static> {
    SortCriterion { reverse, key }
}

fn sorted(r: &Response<'_>) -> (Vec<u32>, Option<u64>) {
    match r {
        Response::Sort { numbers, modseq } => {
            (numbers.iter().map(|n| n.get()).collect(), modseq.map(|m| m.get()))
        }
        other => panic!("not a sort response: {other:?}"),
    }
}

fn threads<'a>(r: &'a Response<'a>) -> &'a [Thread] {
    match r {
        Response::Thread(t) => t,
        other => panic!("not a thread response: {other:?}"),
    }
}

fn esearch_data<'a>(r: &'a Response<'a>) -> &'a [SearchReturnData<'a>] {
    match r {
        Response::ESearch(e) => &e.data,
        other => panic!("not an ESEARCH response: {other:?}"),
    }
}

/// A chain of messages without sub-threads.
fn chain(ns: &[u32]) -> Thread {
    Thread {
        messages: nzs(ns),
        children: Vec::new(),
    }
}

fn split(ns: &[u32], children: Vec<Thread>) -> Thread {
    Thread {
        messages: nzs(ns),
        children,
    }
}

#[test]
fn rfc5256_sort_examples() {
    let c = command_round_trip(b"A282 SORT (SUBJECT) UTF-8 SINCE 1-Feb-1994\r\n");
    let (s, uid) = sort_of(&c);
    assert!(!uid && s.return_options.is_none());
    assert_eq!(s.criteria, vec![criterion(false, SortKey::Subject)]);
    assert_eq!(s.charset.as_bytes(), b"UTF-8");
    assert_eq!(s.keys, vec![SearchKey::Since(Date::new(1994, 2, 1).unwrap())]);
    let r = response_round_trip(b"* SORT 2 84 882\r\n");
    assert_eq!(sorted(&r), (vec![2, 84, 882], None));

    let c = command_round_trip(b"A283 SORT (SUBJECT REVERSE DATE) UTF-8 ALL\r\n");
    let (s, _) = sort_of(&c);
    assert_eq!(
        s.criteria,
        vec![criterion(false, SortKey::Subject), criterion(true, SortKey::Date)]
    );
    assert_eq!(s.keys, vec![SearchKey::All]);
    let r = response_round_trip(b"* SORT 5 3 4 1 2\r\n");
    assert_eq!(sorted(&r).0, vec![5, 3, 4, 1, 2]);

    let c = command_round_trip(b"A284 SORT (SUBJECT) US-ASCII TEXT \"not in mailbox\"\r\n");
    let (s, _) = sort_of(&c);
    assert_eq!(s.charset.as_bytes(), b"US-ASCII");
    assert!(matches!(&s.keys[0], SearchKey::Text(t) if t.as_bytes() == b"not in mailbox"));
    let r = response_round_trip(b"* SORT\r\n");
    assert_eq!(sorted(&r), (vec![], None));

    // Section 4.
    assert_eq!(sorted(&response_round_trip(b"* SORT 2 3 6\r\n")).0, vec![2, 3, 6]);

    // UID SORT, every key, lower case accepted and sent upper case.
    let c = command_round_trip(b"A1 UID SORT (ARRIVAL CC DATE FROM SIZE SUBJECT TO) \"UTF-8\" UNSEEN\r\n");
    let (s, uid) = sort_of(&c);
    assert!(uid);
    assert_eq!(s.criteria.len(), 7);
    assert_eq!(s.criteria[4], criterion(false, SortKey::Size));
    command_encodes_as(
        b"A1 uid sort (reverse arrival) utf-8 all\r\n",
        LiteralPolicy::SyncOnly,
        b"A1 UID SORT (REVERSE ARRIVAL) utf-8 ALL\r\n",
    );
}

#[test]
fn rfc5957_display_sort_keys() {
    // RFC 5957 section 4's example.
    let c = command_round_trip(b"A282 SORT (DISPLAYFROM) UTF-8 ALL\r\n");
    assert_eq!(
        sort_of(&c).0.criteria,
        vec![criterion(false, SortKey::DisplayFrom)]
    );
    let r = response_round_trip(b"* SORT 2 81 83 84 82 882\r\n");
    assert_eq!(sorted(&r).0, vec![2, 81, 83, 84, 82, 882]);
    let c = command_round_trip(b"A283 SORT (REVERSE DISPLAYTO DATE) UTF-8 ALL\r\n");
    assert_eq!(
        sort_of(&c).0.criteria,
        vec![
            criterion(true, SortKey::DisplayTo),
            criterion(false, SortKey::Date)
        ]
    );
    // A key of an extension this crate does not know stays an atom.
    let c = command_round_trip(b"A284 SORT (REVERSE X-SCORE MODSEQ) UTF-8 ALL\r\n");
    let criteria = &sort_of(&c).0.criteria;
    assert_eq!(
        criteria[0],
        criterion(true, SortKey::Other(Atom::new("X-SCORE").unwrap()))
    );
    assert_eq!(criteria[1].key.as_str(), "MODSEQ");
}

#[test]
fn rfc5256_thread_examples() {
    // Section 3; the dates are sent in the encoder's canonical case.
    let c = command_encodes_as(
        b"A283 THREAD ORDEREDSUBJECT UTF-8 SINCE 5-MAR-2000\r\n",
        LiteralPolicy::SyncOnly,
        b"A283 THREAD ORDEREDSUBJECT UTF-8 SINCE 5-Mar-2000\r\n",
    );
    let (t, uid) = thread_of(&c);
    assert!(!uid);
    assert_eq!(t.algorithm, ThreadAlgorithm::OrderedSubject);
    assert_eq!(t.charset.as_bytes(), b"UTF-8");
    assert_eq!(t.keys, vec![SearchKey::Since(Date::new(2000, 3, 5).unwrap())]);
    // The response without the editorial line breaks.
    let r = response_round_trip(
        b"* THREAD (166)(167)(168)(169)(172)(170)(171)(173)(174 (175)(176)(178)(181)(180))\
          (179)(177 (183)(182)(188)(184)(185)(186)(187)(189))(190)(191)(192)(193)(194 195)\
          (196 (197)(198))(199)(200 202)(201)(203)(204)(205)(206 207)(208)\r\n",
    );
    let t = threads(&r);
    assert_eq!(t.len(), 25);
    assert_eq!(t[0], chain(&[166]));
    assert_eq!(
        t[8],
        split(
            &[174],
            vec![
                chain(&[175]),
                chain(&[176]),
                chain(&[178]),
                chain(&[181]),
                chain(&[180])
            ]
        )
    );
    assert_eq!(t[15], chain(&[194, 195]));

    let c = command_round_trip(b"A284 THREAD ORDEREDSUBJECT US-ASCII TEXT \"gewp\"\r\n");
    assert_eq!(thread_of(&c).0.charset.as_bytes(), b"US-ASCII");
    assert!(threads(&response_round_trip(b"* THREAD\r\n")).is_empty());

    let c = command_encodes_as(
        b"A285 THREAD REFERENCES UTF-8 SINCE 5-MAR-2000\r\n",
        LiteralPolicy::SyncOnly,
        b"A285 THREAD REFERENCES UTF-8 SINCE 5-Mar-2000\r\n",
    );
    assert_eq!(thread_of(&c).0.algorithm, ThreadAlgorithm::References);
    let r = response_round_trip(
        b"* THREAD (166)(167)(168)(169)(172)((170)(179))(171)(173)((174)(175)(176)(178)(181)(180))\
          ((177)(183)(182)(188 (184)(189))(185 186)(187))(190)(191)(192)(193)((194)(195 196))\
          (197 198)(199)(200 202)(201)(203)(204)(205 206 207)(208)\r\n",
    );
    let t = threads(&r);
    assert_eq!(t[5], split(&[], vec![chain(&[170]), chain(&[179])]));
    assert_eq!(t.len(), 23);
    assert_eq!(
        t[9],
        split(
            &[],
            vec![
                chain(&[177]),
                chain(&[183]),
                chain(&[182]),
                split(&[188], vec![chain(&[184]), chain(&[189])]),
                chain(&[185, 186]),
                chain(&[187]),
            ]
        )
    );

    // Section 4.
    let r = response_round_trip(b"* THREAD (2)(3 6 (4 23)(44 7 96))\r\n");
    assert_eq!(
        threads(&r),
        &[
            chain(&[2]),
            split(&[3, 6], vec![chain(&[4, 23]), chain(&[44, 7, 96])])
        ]
    );
    let r = response_round_trip(b"* THREAD ((3)(5))\r\n");
    assert_eq!(threads(&r), &[split(&[], vec![chain(&[3]), chain(&[5])])]);

    // UID THREAD, REFS and an unknown algorithm.
    let c = command_round_trip(b"A1 UID THREAD REFS UTF-8 UNDELETED\r\n");
    assert_eq!(
        thread_of(&c),
        (
            &ThreadCommand {
                algorithm: ThreadAlgorithm::Refs,
                charset: AString::from_bytes(&b"UTF-8"[..]).unwrap(),
                keys: vec![SearchKey::Undeleted],
            },
            true
        )
    );
    let c = command_round_trip(b"A2 THREAD X-FANCY UTF-8 ALL\r\n");
    assert_eq!(thread_of(&c).0.algorithm.as_str(), "X-FANCY");
}

#[test]
fn a_one_child_split_is_written_as_the_chain_it_means() {
    let t = split(&[1], vec![split(&[2, 3], vec![chain(&[4]), chain(&[5])])]);
    let r = Response::Thread(vec![t, split(&[], vec![chain(&[6, 7])])]);
    let bytes = to_bytes(&r.encode());
    assert_eq!(bytes, b"* THREAD (1 2 3 (4)(5))(6 7)\r\n");
    let back = decode_resp_with(&bytes, &DecoderConfig::STRICT);
    assert_eq!(
        threads(&back),
        &[split(&[1, 2, 3], vec![chain(&[4]), chain(&[5])]), chain(&[6, 7])]
    );
}

#[test]
fn rfc7162_sort_modseq() {
    let r = response_round_trip(b"* SORT 2 84 882 (MODSEQ 917162488)\r\n");
    assert_eq!(sorted(&r), (vec![2, 84, 882], Some(917162488)));
    // The grammar wants a number before the modification sequence.
    let e = response_error(b"* SORT (MODSEQ 5)\r\n", &DecoderConfig::STRICT);
    assert_eq!(e.offset, 7);
    let e = response_error(b"* SORT 5 (MODSEQ)\r\n", &DecoderConfig::STRICT);
    assert_eq!(e.offset, 16);
}

#[test]
fn rfc5267_esort_examples() {
    // Section 3.3 (ESORT): the answers come as ESEARCH, in sort order.
    let c = command_round_trip(b"A282 SORT RETURN (MIN MAX) (DATE) UTF-8 SINCE 1-Feb-1994\r\n");
    let (s, _) = sort_of(&c);
    assert_eq!(
        s.return_options,
        Some(vec![SearchReturnOption::Min, SearchReturnOption::Max])
    );
    assert_eq!(s.criteria, vec![criterion(false, SortKey::Date)]);
    let r = response_round_trip(b"* ESEARCH (TAG \"A282\") MIN 2 MAX 882\r\n");
    assert_eq!(
        esearch_data(&r),
        &[SearchReturnData::Min(nz(2)), SearchReturnData::Max(nz(882))]
    );
    command_round_trip(b"A283 SORT RETURN (ALL) (DATE REVERSE SUBJECT) UTF-8 SINCE 1-Feb-1994\r\n");
    // A sorted ALL keeps its order: ranges only for ascending runs.
    let r = response_round_trip(b"* ESEARCH (TAG \"A283\") ALL 882,1102,999,1,2:3,6:8\r\n");
    let SearchReturnData::All(set) = &esearch_data(&r)[0] else {
        panic!()
    };
    assert_eq!(set, &"882,1102,999,1,2:3,6:8".parse::<SequenceSet>().unwrap());
    command_round_trip(b"A284 SORT RETURN (COUNT) (DATE) UTF-8 SINCE 1-Feb-1994\r\n");
    response_round_trip(b"* ESEARCH (TAG \"A284\") COUNT 47\r\n");
    let c = command_round_trip(b"A285 UID SORT RETURN () (DATE) UTF-8 ALL\r\n");
    assert_eq!(
        sort_of(&c),
        (
            &Sort {
                return_options: Some(vec![]),
                criteria: vec![criterion(false, SortKey::Date)],
                charset: AString::from_bytes(&b"UTF-8"[..]).unwrap(),
                keys: vec![SearchKey::All],
            },
            true
        )
    );
    let r = response_round_trip(b"* ESEARCH (TAG \"A285\") UID ALL 23765,23764,23763,23761\r\n");
    assert!(matches!(&r, Response::ESearch(e) if e.uid && e.tag.as_ref().unwrap().as_bytes() == b"A285"));
}

#[test]
fn rfc5267_context_examples() {
    // Section 4.3: UPDATE, then ADDTO and REMOVEFROM as the result changes.
    let c = command_round_trip(b"B01 UID SEARCH RETURN (UPDATE) KEYWORD $Junk\r\n");
    let CommandBody::Search { search, .. } = &c.body else {
        panic!()
    };
    assert_eq!(search.return_options, Some(vec![SearchReturnOption::Update]));
    let r = response_round_trip(b"* ESEARCH (TAG \"B01\") UID ADDTO (0 32768:32769)\r\n");
    assert_eq!(
        esearch_data(&r),
        &[SearchReturnData::AddTo(vec![ContextUpdate {
            position: 0,
            messages: "32768:32769".parse().unwrap(),
        }])]
    );
    let r = response_round_trip(b"* ESEARCH (TAG \"B01\") UID REMOVEFROM (0 32768)\r\n");
    assert!(matches!(&esearch_data(&r)[0], SearchReturnData::RemoveFrom(u) if u.len() == 1));

    // CONTEXT=SORT: positions in the sorted result, several pairs.
    let c = command_round_trip(b"C01 UID SORT RETURN (ALL COUNT CONTEXT UPDATE) (DATE) UTF-8 UNDELETED\r\n");
    assert_eq!(
        sort_of(&c).0.return_options,
        Some(vec![
            SearchReturnOption::All,
            SearchReturnOption::Count,
            SearchReturnOption::Context,
            SearchReturnOption::Update,
        ])
    );
    let r = response_round_trip(b"* ESEARCH (TAG \"C01\") UID ADDTO (1 2733) ADDTO (1 2731:2732)\r\n");
    assert_eq!(esearch_data(&r).len(), 2);
    let r = response_round_trip(b"* ESEARCH (TAG \"C01\") UID ADDTO (1 2733 1 2731:2732)\r\n");
    let SearchReturnData::AddTo(updates) = &esearch_data(&r)[0] else {
        panic!()
    };
    assert_eq!(updates.len(), 2);
    assert_eq!(
        (updates[1].position, updates[1].messages.to_string()),
        (1, "2731:2732".into())
    );
    response_round_trip(b"* ESEARCH (TAG \"C01\") UID REMOVEFROM (1 2732) ADDTO (1 2731)\r\n");

    // Section 4.3.5.
    let c = command_round_trip(b"B04 CANCELUPDATE \"B01\"\r\n");
    assert_eq!(
        c.body,
        CommandBody::CancelUpdate(vec![Quoted::new(&b"B01"[..]).unwrap()])
    );
    let c = command_round_trip(b"B05 CANCELUPDATE \"B02\" \"C01\"\r\n");
    assert!(matches!(&c.body, CommandBody::CancelUpdate(t) if t.len() == 2));
}

#[test]
fn rfc9394_partial_examples() {
    let c = command_round_trip(b"A04 UID SEARCH RETURN (PARTIAL -1:-100) UNDELETED UNKEYWORD $Junk\r\n");
    let CommandBody::Search { search, .. } = &c.body else {
        panic!()
    };
    assert_eq!(
        search.return_options,
        Some(vec![SearchReturnOption::Partial(
            PartialRange::last(1, 100).unwrap()
        )])
    );
    let r = response_round_trip(b"* ESEARCH (TAG \"A04\") UID PARTIAL (-1:-100 55700:55799)\r\n");
    assert_eq!(
        esearch_data(&r),
        &[SearchReturnData::Partial {
            range: "-1:-100".parse().unwrap(),
            results: Some("55700:55799".parse().unwrap()),
        }]
    );
    command_round_trip(b"A05 UID SEARCH RETURN (COUNT PARTIAL 1:500) UNDELETED\r\n");
    let r = response_round_trip(b"* ESEARCH (TAG \"A05\") UID COUNT 12 PARTIAL (1:500 NIL)\r\n");
    assert_eq!(
        esearch_data(&r)[1],
        SearchReturnData::Partial {
            range: PartialRange::first(1, 500).unwrap(),
            results: None,
        }
    );
    // 500:400 is kept as sent.
    let c = command_round_trip(b"A06 UID SORT RETURN (PARTIAL 500:400) (REVERSE DATE) UTF-8 ALL\r\n");
    let Some(options) = &sort_of(&c).0.return_options else {
        panic!()
    };
    let SearchReturnOption::Partial(range) = options[0] else {
        panic!()
    };
    assert_eq!(
        (range.start().get(), range.end().get(), range.positions()),
        (500, 400, 400..=500)
    );
    response_round_trip(b"* ESEARCH (TAG \"A06\") UID PARTIAL (500:400 9,8,7:5)\r\n");
}

#[test]
fn malformed_commands() {
    let strict = DecoderConfig::STRICT;
    for (input, offset, expected) in [
        // No charset: TEXT is read where the charset goes.
        (
            &b"A1 SORT (SUBJECT) TEXT x\r\n"[..],
            18,
            "charset (SORT and THREAD require one before the search keys)",
        ),
        (
            b"A1 SORT (SUBJECT) ALL\r\n",
            18,
            "charset (SORT and THREAD require one before the search keys)",
        ),
        (
            b"A1 THREAD REFERENCES SEEN\r\n",
            21,
            "charset (SORT and THREAD require one before the search keys)",
        ),
        (b"A1 SORT (SUBJECT) UTF-8\r\n", 23, "space"),
        (b"A1 SORT (SUBJECT) UTF-8 \r\n", 24, "search key"),
        (b"A1 SORT () UTF-8 ALL\r\n", 9, "sort key"),
        (b"A1 SORT SUBJECT UTF-8 ALL\r\n", 8, "'('"),
        (b"A1 SORT (REVERSE) UTF-8 ALL\r\n", 16, "space"),
        (b"A1 SORT (REVERSE REVERSE) UTF-8 ALL\r\n", 17, "sort key"),
        (b"A1 SORT (DATE  SIZE) UTF-8 ALL\r\n", 14, "sort key"),
        // UTF-8 and ALL are read as sort keys of extensions.
        (b"A1 SORT (DATE UTF-8 ALL\r\n", 23, "space"),
        (b"A1 SORT RETURN (MIN) UTF-8 ALL\r\n", 21, "'('"),
        (b"A1 THREAD\r\n", 9, "space"),
        (b"A1 UID THREAD (REFS) UTF-8 ALL\r\n", 14, "thread algorithm"),
        (b"A1 SEARCH RETURN (PARTIAL 0:5) ALL\r\n", 26, "digit 1-9"),
        (
            b"A1 SEARCH RETURN (PARTIAL -1:5) ALL\r\n",
            29,
            "'-' (both ends count from the last)",
        ),
        (b"A1 SEARCH RETURN (PARTIAL 1:*) ALL\r\n", 28, "number"),
        (b"A1 SEARCH RETURN (PARTIAL) ALL\r\n", 25, "space"),
        (b"A1 CANCELUPDATE\r\n", 15, "space and quoted tag"),
        (b"A1 CANCELUPDATE B01\r\n", 16, "quoted tag"),
    ] {
        let e = command_error(input, &strict);
        assert_eq!(
            (e.offset, e.expected),
            (offset, expected),
            "{}",
            String::from_utf8_lossy(input)
        );
        assert_eq!(e.tag.unwrap().as_str(), "A1");
        assert_eq!(e.kind, ErrorKind::Syntax);
    }
}

#[test]
fn malformed_responses() {
    let strict = DecoderConfig::STRICT;
    for (input, offset) in [
        (&b"* SORT 0\r\n"[..], 7),
        (b"* SORT 1  2\r\n", 9),
        (b"* SORT 1 x\r\n", 9),
        (b"* THREAD ()\r\n", 10),
        (b"* THREAD (0)\r\n", 10),
        (b"* THREAD (1 (2))\r\n", 15),
        (b"* THREAD ((2))\r\n", 13),
        (b"* THREAD (1)(2\r\n", 14),
        (b"* THREAD (1 )\r\n", 11),
        (b"* THREAD (1)x\r\n", 12),
        (b"* THREAD 1\r\n", 9),
        (b"* ESEARCH ADDTO ()\r\n", 17),
        (b"* ESEARCH ADDTO (1)\r\n", 18),
        (b"* ESEARCH ADDTO (1 $)\r\n", 19),
        (b"* ESEARCH REMOVEFROM (1 2 3)\r\n", 27),
        (b"* ESEARCH PARTIAL (1:5)\r\n", 22),
        (b"* ESEARCH PARTIAL (1:5 NIL NIL)\r\n", 26),
    ] {
        let e = response_error(input, &strict);
        assert_eq!(e.offset, offset, "{}: {e:?}", String::from_utf8_lossy(input));
        assert_eq!(e.tag, None);
    }
    let e = response_error(b"* SORT 0\r\n", &strict);
    assert_eq!(e.expected, "digit 1-9");
}

#[test]
fn nesting_is_bounded() {
    let config = long_lines();
    // 100,000 nested parentheses: an error at the 65th, no stack overflow.
    let mut input = b"* THREAD ".to_vec();
    input.extend(std::iter::repeat_n(b'(', 100_000));
    input.extend_from_slice(b"1");
    input.extend(std::iter::repeat_n(b')', 100_000));
    input.extend_from_slice(b"\r\n");
    let e = response_error(&input, &config);
    assert_eq!((e.kind, e.offset), (ErrorKind::TooDeep { limit: 64 }, 9 + 64));
    // As deep as allowed decodes and round-trips: each level two lists.
    let mut t = chain(&[1]);
    for n in 2..=64 {
        t = split(&[], vec![t, chain(&[n])]);
    }
    let r = Response::Thread(vec![t]);
    let bytes = to_bytes(&r.encode());
    assert_eq!(decode_resp_with(&bytes, &DecoderConfig::STRICT), r);
    // Search keys of SORT nest under the same limit.
    let mut input = b"A1 SORT (DATE) UTF-8 ".to_vec();
    input.extend(std::iter::repeat_n(b"NOT ".as_slice(), 100_000).flatten());
    input.extend_from_slice(b"SEEN\r\n");
    let e = command_error(&input, &config);
    assert_eq!(
        (e.kind, e.offset),
        (ErrorKind::TooDeep { limit: 64 }, 21 + 64 * 4)
    );
    assert_eq!(e.tag.unwrap().as_str(), "A1");
}

#[test]
fn counts_are_bounded() {
    let mut small = long_lines();
    small.limits.list = 1000;
    // The numbers of a THREAD response count: 1000 fit, the 1001st does
    // not.
    let mut input = b"* THREAD (".to_vec();
    let mut offsets = Vec::new();
    for n in 1..=2000u32 {
        if n > 1 {
            input.push(b' ');
        }
        offsets.push(input.len());
        input.extend_from_slice(n.to_string().as_bytes());
    }
    input.extend_from_slice(b")\r\n");
    let e = response_error(&input, &small);
    assert_eq!(
        (e.kind, e.offset),
        (ErrorKind::TooMany { limit: 1000 }, offsets[1000])
    );
    // Threads of one message each: lists are not counted (a tree has
    // fewer than twice as many lists as numbers), numbers are.
    let threads = |n: usize| {
        let mut input = b"* THREAD ".to_vec();
        input.extend(std::iter::repeat_n(b"(7)".as_slice(), n).flatten());
        input.extend_from_slice(b"\r\n");
        input
    };
    let Response::Thread(t) = decode_resp_with(&threads(1000), &small) else {
        panic!()
    };
    assert_eq!(t.len(), 1000);
    let e = response_error(&threads(1001), &small);
    assert_eq!(
        (e.kind, e.offset),
        (ErrorKind::TooMany { limit: 1000 }, 9 + 1000 * 3 + 1)
    );
    // SORT numbers, sort criteria, ADDTO pairs, CANCELUPDATE tags: head,
    // repeated unit, tail, whether a command.
    type Case = (&'static [u8], &'static [u8], &'static [u8], bool);
    let cases: [Case; 4] = [
        (b"* SORT", b" 5", b"", false),
        (b"A1 SORT (DATE", b" DATE", b") UTF-8 ALL", true),
        (b"* ESEARCH ADDTO (1 2", b" 1 2", b")", false),
        (b"A1 CANCELUPDATE", b" \"x\"", b"", true),
    ];
    for (head, unit, tail, command) in cases {
        let mut input = head.to_vec();
        input.extend(std::iter::repeat_n(unit, 2000).flatten());
        input.extend_from_slice(tail);
        input.extend_from_slice(b"\r\n");
        let e = if command {
            command_error(&input, &small)
        } else {
            response_error(&input, &small)
        };
        assert_eq!(
            e.kind,
            ErrorKind::TooMany { limit: 1000 },
            "{}",
            String::from_utf8_lossy(head)
        );
    }
}

fn text() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => "[A-Za-z0-9]{1,8}".prop_map(String::into_bytes),
        2 => "[ -~]{0,12}".prop_map(String::into_bytes),
        1 => proptest::collection::vec(1u8..=255, 0..16),
    ]
}

fn astring() -> impl Strategy<Value = AString<'static>> {
    text().prop_map(|t| AString::from_bytes(t).unwrap())
}

fn key() -> impl Strategy<Value = SearchKey<'static>> {
    let leaf = prop_oneof![
        Just(SearchKey::All),
        Just(SearchKey::Unseen),
        Just(SearchKey::Deleted),
        astring().prop_map(SearchKey::Subject),
        astring().prop_map(SearchKey::From),
        (1u32..10_000).prop_map(|n| SearchKey::Uid(SequenceSet::try_from(n..=n + 5).unwrap())),
    ];
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            inner.clone().prop_map(|k| SearchKey::Not(Box::new(k))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| SearchKey::Or(Box::new(a), Box::new(b))),
            proptest::collection::vec(inner, 1..3).prop_map(SearchKey::List),
        ]
    })
}

fn sort_key() -> impl Strategy<Value = SortKey<'static>> {
    prop_oneof![
        Just(SortKey::Arrival),
        Just(SortKey::Cc),
        Just(SortKey::Date),
        Just(SortKey::From),
        Just(SortKey::Size),
        Just(SortKey::Subject),
        Just(SortKey::To),
        Just(SortKey::DisplayFrom),
        Just(SortKey::DisplayTo),
        "X-[A-Z0-9]{1,6}".prop_map(|a| SortKey::Other(Atom::new(a).unwrap())),
    ]
}

fn partial_range() -> impl Strategy<Value = PartialRange> {
    (1u32.., 1u32.., any::<bool>()).prop_map(|(a, b, last)| {
        if last {
            PartialRange::last(a, b).unwrap()
        } else {
            PartialRange::first(a, b).unwrap()
        }
    })
}

fn return_option() -> impl Strategy<Value = SearchReturnOption<'static>> {
    prop_oneof![
        Just(SearchReturnOption::Min),
        Just(SearchReturnOption::Max),
        Just(SearchReturnOption::All),
        Just(SearchReturnOption::Count),
        Just(SearchReturnOption::Save),
        Just(SearchReturnOption::Context),
        Just(SearchReturnOption::Update),
        partial_range().prop_map(SearchReturnOption::Partial),
    ]
}

fn charset() -> impl Strategy<Value = AString<'static>> {
    prop_oneof![
        Just(AString::from_bytes(&b"UTF-8"[..]).unwrap()),
        Just(AString::from_bytes(&b"US-ASCII"[..]).unwrap()),
        Just(AString::from_bytes(&b"x y"[..]).unwrap()),
    ]
}

fn number() -> impl Strategy<Value = NonZeroU32> {
    (1u32..).prop_map(nz)
}

/// Threads as the grammar allows them: a chain, or a chain (possibly
/// empty) and two or more sub-threads.
fn thread() -> impl Strategy<Value = Thread> {
    let leaf = proptest::collection::vec(number(), 1..4).prop_map(|messages| Thread {
        messages,
        children: Vec::new(),
    });
    leaf.prop_recursive(6, 64, 4, |inner| {
        (
            proptest::collection::vec(number(), 0..3),
            proptest::collection::vec(inner, 2..4),
        )
            .prop_map(|(messages, children)| Thread { messages, children })
    })
}

fn set() -> impl Strategy<Value = SequenceSet> {
    proptest::collection::vec((1u32..100_000, 0u32..5), 1..4).prop_map(|ranges| {
        let text: Vec<String> = ranges
            .iter()
            .map(|&(a, n)| {
                if n == 0 {
                    a.to_string()
                } else {
                    format!("{}:{a}", a + n)
                }
            })
            .collect();
        text.join(",").parse().unwrap()
    })
}

fn context_data() -> impl Strategy<Value = SearchReturnData<'static>> {
    let updates = || {
        proptest::collection::vec(
            (any::<u32>(), set()).prop_map(|(position, messages)| ContextUpdate { position, messages }),
            1..4,
        )
    };
    prop_oneof![
        updates().prop_map(SearchReturnData::AddTo),
        updates().prop_map(SearchReturnData::RemoveFrom),
        (partial_range(), proptest::option::of(set()))
            .prop_map(|(range, results)| SearchReturnData::Partial { range, results }),
        (1u32..).prop_map(SearchReturnData::Count),
    ]
}

fn round_trip_command(command: &Command<'_>, policy: LiteralPolicy) -> Result<(), TestCaseError> {
    let bytes = to_bytes(&command.encode(policy));
    let decoded = decode_cmd_with(&bytes, &DecoderConfig::STRICT);
    prop_assert_eq!(&decoded, command);
    prop_assert_eq!(to_bytes(&decoded.encode(policy)), bytes);
    Ok(())
}

proptest! {
    #[test]
    fn generated_sorts_round_trip(
        criteria in proptest::collection::vec(
            (any::<bool>(), sort_key()).prop_map(|(reverse, key)| SortCriterion { reverse, key }),
            1..5,
        ),
        options in proptest::option::of(proptest::collection::vec(return_option(), 0..4)),
        charset in charset(),
        keys in proptest::collection::vec(key(), 1..4),
        uid in any::<bool>(),
        policy in prop_oneof![Just(LiteralPolicy::SyncOnly), Just(LiteralPolicy::LiteralPlus)],
    ) {
        let sort = Sort { return_options: options, criteria, charset, keys };
        let command = Command { tag: Tag::new("s1").unwrap(), body: CommandBody::Sort { sort, uid } };
        round_trip_command(&command, policy)?;
    }

    #[test]
    fn generated_threads_round_trip(
        algorithm in prop_oneof![
            Just(ThreadAlgorithm::OrderedSubject),
            Just(ThreadAlgorithm::References),
            Just(ThreadAlgorithm::Refs),
            "X-[A-Z]{1,6}".prop_map(|a| ThreadAlgorithm::Other(Atom::new(a).unwrap())),
        ],
        charset in charset(),
        keys in proptest::collection::vec(key(), 1..4),
        uid in any::<bool>(),
    ) {
        let thread = ThreadCommand { algorithm, charset, keys };
        let command = Command { tag: Tag::new("t1").unwrap(), body: CommandBody::Thread { thread, uid } };
        round_trip_command(&command, LiteralPolicy::SyncOnly)?;
    }

    #[test]
    fn generated_thread_trees_round_trip(threads in proptest::collection::vec(thread(), 0..5)) {
        let response = Response::Thread(threads);
        let bytes = to_bytes(&response.encode());
        let decoded = decode_resp_with(&bytes, &DecoderConfig::STRICT);
        prop_assert_eq!(&decoded, &response);
        prop_assert_eq!(to_bytes(&decoded.encode()), bytes);
    }

    #[test]
    fn generated_sort_and_context_data_round_trip(
        numbers in proptest::collection::vec(number(), 0..6),
        modseq in proptest::option::of(1u64..=i64::MAX as u64),
        data in proptest::collection::vec(context_data(), 0..4),
        tags in proptest::collection::vec("[A-Za-z0-9 ]{0,6}", 1..4),
    ) {
        let modseq = modseq.filter(|_| !numbers.is_empty()).map(|m| mailwire_imap::ModSeq::new(m).unwrap());
        for response in [
            Response::Sort { numbers, modseq },
            Response::ESearch(mailwire_imap::ESearch {
                tag: Some(Quoted::new(&b"C01"[..]).unwrap()),
                mailbox: None,
                uid: true,
                data,
            }),
        ] {
            let bytes = to_bytes(&response.encode());
            let decoded = decode_resp_with(&bytes, &DecoderConfig::STRICT);
            prop_assert_eq!(&decoded, &response);
        }
        let body = CommandBody::CancelUpdate(
            tags.into_iter().map(|t| Quoted::new(t.into_bytes()).unwrap()).collect(),
        );
        round_trip_command(&Command { tag: Tag::new("c1").unwrap(), body }, LiteralPolicy::SyncOnly)?;
    }
}

/// The fuzz seeds of these extensions decode, message by message, without
/// an error (the corpus test checks round trips but tolerates errors).
#[test]
fn fuzz_seeds_decode_cleanly() {
    let seeds = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds");
    let commands = [
        "sort-charset-criteria",
        "uid-sort-display",
        "sort-esort-return",
        "thread-references",
        "uid-thread-orderedsubject",
        "search-return-partial",
        "search-return-context-update",
        "cancelupdate",
        "uid-fetch-partial",
    ];
    let responses = [
        "sort",
        "sort-modseq",
        "thread-nested",
        "esearch-addto-removefrom",
        "esearch-partial",
        "esearch-sort-all",
        "noupdate",
    ];
    let all = commands
        .iter()
        .map(|n| (format!("imap_command/{n}"), true))
        .chain(responses.iter().map(|n| (format!("imap_response/{n}"), false)));
    for (name, command) in all {
        let bytes = std::fs::read(seeds.join(&name)).unwrap();
        // The first byte selects the fuzzer's configuration.
        let mut input = &bytes[1..];
        while !input.is_empty() {
            let consumed = if command {
                match mailwire_imap::decode_command(input, &DecoderConfig::STRICT) {
                    Ok(mailwire_imap::Decoded::Complete { consumed, .. }) => consumed,
                    other => panic!("{name}: {other:?}"),
                }
            } else {
                match mailwire_imap::decode_response(input, &DecoderConfig::STRICT) {
                    Ok(mailwire_imap::Decoded::Complete { consumed, .. }) => consumed,
                    other => panic!("{name}: {other:?}"),
                }
            };
            input = &input[consumed..];
        }
    }
}

#[test]
fn lenient_trailing_spaces() {
    let lenient = DecoderConfig::default();
    let r = decode_resp_with(b"* SORT 2 3 \r\n", &lenient);
    assert_eq!(sorted(&r).0, vec![2, 3]);
    let r = decode_resp_with(b"* THREAD \r\n", &lenient);
    assert!(threads(&r).is_empty());
    let r = decode_resp_with(b"* THREAD (1)(2 3)  \r\n", &lenient);
    assert_eq!(threads(&r), &[chain(&[1]), chain(&[2, 3])]);
    let r = decode_resp_with(b"* SORT 2  3   (MODSEQ 4)\r\n", &lenient);
    assert_eq!(sorted(&r), (vec![2, 3], Some(4)));
    assert_eq!(
        response_error(b"* THREAD (1) \r\n", &DecoderConfig::STRICT).offset,
        12
    );
    assert_eq!(
        response_error(b"* SORT 2 3 \r\n", &DecoderConfig::STRICT).offset,
        11
    );
}

#[test]
fn rfc9394_fetch_partial() {
    let c = command_round_trip(b"A1 UID FETCH 1:* (FLAGS) (PARTIAL -1:-30)\r\n");
    let CommandBody::Fetch { fetch, uid: true } = &c.body else {
        panic!("{c:?}")
    };
    assert_eq!(
        fetch.modifiers,
        [mailwire_imap::FetchModifier::Partial(
            PartialRange::last(1, 30).unwrap()
        )]
    );
    let e = command_error(
        b"A1 UID FETCH 1:* (FLAGS) (PARTIAL 0:30)\r\n",
        &DecoderConfig::STRICT,
    );
    assert_eq!((e.offset, e.tag.unwrap().as_str()), (34, "A1"));
}

#[test]
fn rfc5267_noupdate_code() {
    // Section 4.3.1: the server declines to keep a result up to date, in
    // an untagged NO while the command runs; the command still completes.
    let r = response_round_trip(b"* NO [NOUPDATE \"B02\"] Too many contexts\r\n");
    let Response::Status { tag: None, text, .. } = &r else {
        panic!("{r:?}")
    };
    assert_eq!(
        text.code,
        Some(mailwire_imap::Code::NoUpdate(Quoted::new(&b"B02"[..]).unwrap()))
    );
    response_round_trip(b"B02 OK Search completed, will not notify.\r\n");
    response_round_trip(b"* OK [NOUPDATE \"B0]3\"] x\r\n");
    let e = response_error(b"* NO [NOUPDATE B02] x\r\n", &DecoderConfig::STRICT);
    assert_eq!((e.offset, e.tag), (15, None));
}

/// A client's copy of a context result, kept up to date by ADDTO and
/// REMOVEFROM pairs read as `ContextUpdate::position` documents them
/// (RFC 5267 sections 4.3.3 and 4.3.4): a non-zero position is the one
/// the first message of the set occupies after an insertion or before a
/// removal; 0 inserts in mailbox order and removes wherever found.
fn apply(result: &mut Vec<u32>, data: &[SearchReturnData<'_>]) {
    for d in data {
        let (updates, add) = match d {
            SearchReturnData::AddTo(u) => (u, true),
            SearchReturnData::RemoveFrom(u) => (u, false),
            other => panic!("{other:?}"),
        };
        for u in updates {
            // No `*` in results; ranges expand in increasing order.
            let messages: Vec<u32> = u.messages.iter(u32::MAX).collect();
            match (u.position, add) {
                (0, true) => {
                    result.extend(messages);
                    result.sort_unstable();
                }
                (0, false) => result.retain(|m| !messages.contains(m)),
                (p, true) => {
                    let at = p as usize - 1;
                    result.splice(at..at, messages);
                }
                (p, false) => {
                    let at = p as usize - 1;
                    let removed: Vec<u32> = result.drain(at..at + messages.len()).collect();
                    assert_eq!(removed, messages);
                }
            }
        }
    }
}

#[test]
fn rfc5267_context_positions() {
    // Section 4.3.3: ADDTO data that turns the sorted result 2734:2735
    // into 2731:2735, the pairs applied in order; reading the position as
    // the one "after which" the messages go would put 2733 after 2734.
    for line in [
        &b"* ESEARCH (TAG \"C01\") UID ADDTO (1 2733) ADDTO (1 2731:2732)\r\n"[..],
        b"* ESEARCH (TAG \"C01\") UID ADDTO (1 2733 1 2731:2732)\r\n",
        b"* ESEARCH (TAG \"C01\") UID ADDTO (1 2731:2733)\r\n",
    ] {
        let r = response_round_trip(line);
        let mut result = vec![2734, 2735];
        apply(&mut result, esearch_data(&r));
        assert_eq!(
            result,
            [2731, 2732, 2733, 2734, 2735],
            "{:?}",
            String::from_utf8_lossy(line)
        );
    }
    // Removal from a position: the first message removed occupied it.
    let r = response_round_trip(b"* ESEARCH (TAG \"C01\") UID REMOVEFROM (2 2732:2733)\r\n");
    let mut result = vec![2731, 2732, 2733, 2734, 2735];
    apply(&mut result, esearch_data(&r));
    assert_eq!(result, [2731, 2734, 2735]);
    // Position 0, a SEARCH context: no place in the result.
    let r = response_round_trip(b"* ESEARCH (TAG \"B01\") UID ADDTO (0 32768:32769)\r\n");
    let mut result = vec![5, 40000];
    apply(&mut result, esearch_data(&r));
    assert_eq!(result, [5, 32768, 32769, 40000]);
    let r = response_round_trip(b"* ESEARCH (TAG \"B01\") UID REMOVEFROM (0 32768)\r\n");
    apply(&mut result, esearch_data(&r));
    assert_eq!(result, [5, 32769, 40000]);
}

#[test]
fn lenient_spaces_between_arguments() {
    let lenient = DecoderConfig::default();
    let c = decode_cmd_with(b"A1 SORT RETURN ( MIN ) (DATE)  UTF-8  ALL  \r\n", &lenient);
    assert_eq!(
        to_bytes(&c.encode(LiteralPolicy::SyncOnly)),
        b"A1 SORT RETURN (MIN) (DATE) UTF-8 ALL\r\n"
    );
    let c = decode_cmd_with(b"A1 THREAD  REFS  UTF-8  SEEN\r\n", &lenient);
    assert_eq!(
        to_bytes(&c.encode(LiteralPolicy::SyncOnly)),
        b"A1 THREAD REFS UTF-8 SEEN\r\n"
    );
    let e = command_error(b"A1 THREAD  REFS UTF-8 SEEN\r\n", &DecoderConfig::STRICT);
    assert_eq!(e.offset, 10);
}

//! SEARCH, UID SEARCH and ESEARCH: the examples of RFC 3501 section 6.4.4,
//! RFC 9051 sections 6.4.4 and 7.3.4, RFC 4731 and the SEARCHRES examples
//! of RFC 9051 section 6.4.4.1 (taken from RFC 5182), decoded, re-encoded
//! byte for byte and compared; hostile nesting and counts; a property test
//! that generated search keys round-trip.

mod codec_support;

use std::num::NonZeroU32;

use codec_support::*;
use mailwire_imap::{
    AString, Atom, CommandBody, Date, DecoderConfig, ErrorKind, LiteralPolicy, ModSeq, Response, Search,
    SearchKey, SearchReturnData, SearchReturnOption, SequenceSet, decode_command, to_bytes,
};
use proptest::prelude::*;

fn search_of<'a>(body: &'a CommandBody<'a>) -> (&'a Search<'a>, bool) {
    match body {
        CommandBody::Search { search, uid } => (search, *uid),
        other => panic!("not a search: {other:?}"),
    }
}

fn date(y: u16, m: u8, d: u8) -> Date {
    Date::new(y, m, d).unwrap()
}

fn astring(s: &str) -> AString<'_> {
    AString::from_bytes(s.as_bytes()).unwrap()
}

#[test]
fn rfc3501_search_examples() {
    let c = command_round_trip(b"A282 SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n");
    let (s, uid) = search_of(&c.body);
    assert!(!uid && s.return_options.is_none() && s.charset.is_none());
    assert_eq!(s.keys.len(), 3);
    assert_eq!(s.keys[0], SearchKey::Flagged);
    assert_eq!(s.keys[1], SearchKey::Since(date(1994, 2, 1)));
    let SearchKey::Not(inner) = &s.keys[2] else {
        panic!()
    };
    let SearchKey::From(from) = &**inner else { panic!() };
    assert_eq!(from.as_bytes(), b"Smith");

    command_round_trip(b"A283 SEARCH TEXT \"string not in mailbox\"\r\n");
    let c = command_round_trip(b"A284 SEARCH CHARSET UTF-8 TEXT {6}\r\nXXXXXX\r\n");
    let (s, _) = search_of(&c.body);
    assert_eq!(s.charset.as_ref().unwrap().as_bytes(), b"UTF-8");
    assert!(matches!(&s.keys[0], SearchKey::Text(t) if t.as_bytes() == b"XXXXXX"));

    response_round_trip(b"* SEARCH 2 84 882\r\n");
    response_round_trip(b"* SEARCH\r\n");
    response_round_trip(b"* SEARCH 43\r\n");
    response_round_trip(b"* SEARCH 2 3 6\r\n");
}

#[test]
fn rfc9051_and_rfc4731_search_examples() {
    let cases: [&[u8]; 8] = [
        b"A282 SEARCH RETURN (MIN COUNT) FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n",
        b"A283 SEARCH RETURN () FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n",
        b"A284 SEARCH TEXT \"string not in mailbox\"\r\n",
        "A285 SEARCH CHARSET UTF-8 TEXT {12}\r\nотпуск\r\n".as_bytes(),
        b"A284 SEARCH RETURN (MIN) UNSEEN\r\n",
        b"A285 UID SEARCH RETURN (MIN MAX) 1:5000\r\n",
        b"A286 SEARCH RETURN (COUNT) DELETED\r\n",
        b"A286 SEARCH RETURN (COUNT) deleted\r\n",
    ];
    for (i, input) in cases.iter().enumerate() {
        if i == 7 {
            // Keys are case-insensitive and sent upper case.
            command_encodes_as(
                input,
                LiteralPolicy::SyncOnly,
                b"A286 SEARCH RETURN (COUNT) DELETED\r\n",
            );
        } else {
            command_round_trip(input);
        }
    }
    let c = command_round_trip(b"A282 SEARCH RETURN (MIN COUNT) FLAGGED\r\n");
    let (s, _) = search_of(&c.body);
    assert_eq!(
        s.return_options.as_deref(),
        Some(&[SearchReturnOption::Min, SearchReturnOption::Count][..])
    );
    let c = command_round_trip(b"A283 SEARCH RETURN () FLAGGED\r\n");
    assert_eq!(search_of(&c.body).0.return_options.as_deref(), Some(&[][..]));
    let c = command_round_trip(b"A285 UID SEARCH RETURN (MIN MAX) 1:5000\r\n");
    assert_eq!(c.body.name(), "UID SEARCH");
    let (s, uid) = search_of(&c.body);
    assert!(uid);
    assert_eq!(s.keys, [SearchKey::SequenceSet("1:5000".parse().unwrap())]);

    for input in [
        &b"* ESEARCH (TAG \"A282\") MIN 2 COUNT 3\r\n"[..],
        b"* ESEARCH (TAG \"A283\") ALL 2,10:11\r\n",
        b"* ESEARCH (TAG \"A284\")\r\n",
        b"* ESEARCH (TAG \"A285\") ALL 43\r\n",
        b"* ESEARCH (TAG \"A284\") MIN 4\r\n",
        b"* ESEARCH (TAG \"A285\") UID MIN 7 MAX 3800\r\n",
        b"* ESEARCH (TAG \"A286\") COUNT 15\r\n",
        // RFC 9051 section 7.3.4.
        b"* ESEARCH UID COUNT 17 ALL 4:18,21,28\r\n",
        b"* ESEARCH (TAG \"a567\") UID COUNT 17 ALL 4:18,21,28\r\n",
        b"* ESEARCH COUNT 18 ALL 1:17,21\r\n",
        b"* ESEARCH (TAG \"h\") ALL 1:3,5,8,13,21,42\r\n",
        // RFC 4731 section 3.2, with CONDSTORE data.
        b"* ESEARCH (TAG \"a1\") MIN 2 MODSEQ 917162488\r\n",
        b"* ESEARCH (TAG \"a2\") MAX 23 MODSEQ 907162321\r\n",
        b"* ESEARCH (TAG \"a3\") MIN 2 MAX 23 MODSEQ 917162488\r\n",
        b"* ESEARCH (TAG \"a4\") MIN 2 COUNT 10 MODSEQ 917162500\r\n",
    ] {
        response_round_trip(input);
    }
    let r = response_round_trip(b"* ESEARCH (TAG \"A285\") UID MIN 7 MAX 3800\r\n");
    let Response::ESearch(e) = r else { panic!() };
    assert!(e.uid);
    assert_eq!(e.tag.unwrap().as_bytes(), b"A285");
    assert_eq!(
        e.data,
        [
            SearchReturnData::Min(NonZeroU32::new(7).unwrap()),
            SearchReturnData::Max(NonZeroU32::new(3800).unwrap())
        ]
    );
    let r = response_round_trip(b"* ESEARCH (TAG \"a1\") MIN 2 MODSEQ 917162488\r\n");
    let Response::ESearch(e) = r else { panic!() };
    // MODSEQ is CONDSTORE's (RFC 7162 section 3.1.10), typed.
    assert_eq!(
        e.data[1],
        SearchReturnData::ModSeq(ModSeq::new(917162488).unwrap())
    );
}

/// RFC 4466 and RFC 4731 make the correlator's `tag-string` a `string`,
/// RFC 9051 an `astring`: the atom form and a literal decode, and the tag
/// is always written quoted, as every RFC example and Dovecot write it.
#[test]
fn esearch_tag_forms() {
    for (input, tag) in [
        (&b"* ESEARCH (TAG A285) UID MIN 7\r\n"[..], &b"A285"[..]),
        (b"* ESEARCH (tag a]1) ALL 1:3\r\n", b"a]1"),
        (b"* ESEARCH (TAG {4}\r\nA285) COUNT 3\r\n", b"A285"),
        (b"* ESEARCH (TAG \"A285\") COUNT 3\r\n", b"A285"),
    ] {
        let r = decode_resp_with(input, &DecoderConfig::STRICT);
        let Response::ESearch(e) = &r else { panic!("{r:?}") };
        assert_eq!(e.tag.as_ref().map(|t| t.as_bytes()), Some(tag));
        let wire = to_bytes(&r.encode());
        let quoted = [&b"(TAG \""[..], tag, b"\")"].concat();
        assert!(
            wire.windows(quoted.len()).any(|w| w == quoted),
            "{:?}",
            String::from_utf8_lossy(&wire)
        );
        assert_eq!(decode_resp_with(&wire, &DecoderConfig::STRICT), r);
    }
    let r = response_encodes_as(
        b"* ESEARCH (TAG A285 MAILBOX folder1 UIDVALIDITY 1) UID ALL 1\r\n",
        b"* ESEARCH (TAG \"A285\" MAILBOX folder1 UIDVALIDITY 1) UID ALL 1\r\n",
    );
    assert!(matches!(&r, Response::ESearch(e) if e.mailbox.is_some()));
    // No tag, or a literal that no quoted string (so no command tag) holds.
    for (input, offset) in [
        (&b"* ESEARCH (TAG ) ALL 1\r\n"[..], 15),
        (b"* ESEARCH (TAG {3}\r\na\nb) ALL 1\r\n", 15),
        (b"* ESEARCH (TAG A1 ) ALL 1\r\n", 17),
    ] {
        let e = response_error(input, &DecoderConfig::STRICT);
        assert_eq!(e.offset, offset, "{:?}: {e:?}", String::from_utf8_lossy(input));
    }
}

#[test]
fn searchres_examples() {
    // RFC 9051 section 6.4.4.1, the examples of RFC 5182.
    for input in [
        &b"A282 SEARCH RETURN (SAVE) FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n"[..],
        b"A300 SEARCH RETURN (SAVE) SINCE 1-Jan-2004 NOT FROM \"Smith\"\r\n",
        b"A301 UID SEARCH UID $ SMALLER 4096\r\n",
        b"A301 UID SEARCH $ SMALLER 4096\r\n",
        b"P282 SEARCH RETURN (SAVE) SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n",
        b"B283 SEARCH RETURN (SAVE) CHARSET KOI8-R (OR $ 1,3000:3021) TEXT {4}\r\nXXXX\r\n",
        b"E282 SEARCH RETURN (SAVE) SINCE 28-Oct-2006 NOT FROM \"Eric\"\r\n",
        b"F282 SEARCH RETURN (SAVE) KEYWORD $Junk\r\n",
        b"G283 SEARCH RETURN (ALL) SINCE 28-Oct-2006 FROM \"Eric\"\r\n",
        b"H283 SEARCH RETURN (SAVE) SINCE 28-Oct-2006 FROM \"Eric\"\r\n",
        b"C282 SEARCH RETURN (ALL) SINCE 12-Feb-2006 NOT FROM \"Smith\"\r\n",
        b"C283 SEARCH RETURN (ALL SAVE) SINCE 12-Feb-2006 NOT FROM \"Smith\"\r\n",
        b"C284 SEARCH RETURN (SAVE MIN) SINCE 12-Feb-2006 NOT FROM \"Smith\"\r\n",
        b"C285 SEARCH RETURN (MAX SAVE MIN) SINCE 12-Feb-2006 NOT FROM \"Smith\"\r\n",
        b"C286 SEARCH RETURN (MAX SAVE MIN COUNT) SINCE 12-Feb-2006 NOT FROM \"Smith\"\r\n",
        b"C286 SEARCH RETURN (ALL SAVE MIN) SINCE 12-Feb-2006 NOT FROM \"Smith\"\r\n",
    ] {
        command_round_trip(input);
    }
    // A non-synchronizing literal (LITERAL+), re-encoded for such a server.
    let input = "P283 SEARCH CHARSET UTF-8 (OR $ 1,3000:3021) TEXT {8+}\r\nмать\r\n".as_bytes();
    let c = command_encodes_as(input, LiteralPolicy::LiteralPlus, input);
    let (s, _) = search_of(&c.body);
    let SearchKey::List(inner) = &s.keys[0] else {
        panic!()
    };
    let SearchKey::Or(a, b) = &inner[0] else { panic!() };
    assert_eq!(**a, SearchKey::SequenceSet(SequenceSet::LAST_COMMAND));
    assert_eq!(**b, SearchKey::SequenceSet("1,3000:3021".parse().unwrap()));
    let c = command_round_trip(b"A301 UID SEARCH UID $ SMALLER 4096\r\n");
    assert_eq!(
        search_of(&c.body).0.keys,
        [
            SearchKey::Uid(SequenceSet::LAST_COMMAND),
            SearchKey::Smaller(4096)
        ]
    );
    for input in [
        &b"* ESEARCH (TAG \"A301\") UID ALL 17,900,901\r\n"[..],
        b"* ESEARCH (TAG \"P283\") ALL 882,1102,3003,3005:3006\r\n",
        b"* ESEARCH (TAG \"G283\") ALL 3:15,27,29:103\r\n",
        b"* ESEARCH (TAG \"C283\") ALL 2,10:15,21\r\n",
        b"* ESEARCH (TAG \"C284\") MIN 2\r\n",
        b"* ESEARCH (TAG \"C285\") MIN 2 MAX 21\r\n",
        b"* ESEARCH (TAG \"C286\") MIN 2 MAX 21 COUNT 8\r\n",
        b"* ESEARCH (TAG \"C286\") MIN 2 ALL 2,10:15,21\r\n",
    ] {
        response_round_trip(input);
    }
    // "$" is not allowed after ALL in ESEARCH data.
    let e = response_error(b"* ESEARCH ALL $\r\n", &DecoderConfig::STRICT);
    assert_eq!(e.offset, 14);
}

#[test]
fn every_key_of_both_revisions() {
    let input = b"T1 SEARCH ALL ANSWERED BCC x BEFORE 1-Feb-1994 BODY \"a b\" CC y DELETED DRAFT FLAGGED \
        FROM Smith HEADER X-Mailer \"\" KEYWORD $Forwarded LARGER 5000000000 NEW NOT SEEN OLD ON 29-Feb-2000 \
        OR RECENT SEEN SENTBEFORE 1-Jan-2000 SENTON 2-Jan-2000 SENTSINCE 3-Jan-2000 SINCE 4-Jan-2000 \
        SMALLER 10 SUBJECT hi TEXT {3}\r\nx\"y TO z UID 1:*,5 UNANSWERED UNDELETED UNDRAFT UNFLAGGED \
        UNKEYWORD foo UNSEEN 1,3:4 * (SEEN (DRAFT))\r\n";
    let c = command_round_trip(input);
    let keys = &search_of(&c.body).0.keys;
    assert_eq!(keys.len(), 36);
    assert!(keys.contains(&SearchKey::Larger(5_000_000_000)));
    assert!(keys.contains(&SearchKey::Keyword(Atom::new("$Forwarded").unwrap())));
    assert!(keys.contains(&SearchKey::Header {
        name: astring("X-Mailer"),
        value: AString::from_bytes(&b""[..]).unwrap()
    }));
}

#[test]
fn unknown_keys_and_bad_arguments_are_errors_with_offsets() {
    let c = DecoderConfig::STRICT;
    // Gmail's X-GM-RAW is not a key this crate knows.
    let input = b"a1 SEARCH RETURN (MIN) X-GM-RAW \"has:attachment\"\r\n";
    let e = command_error(input, &c);
    assert_eq!((e.offset, e.tag.as_ref().unwrap().as_str()), (23, "a1"));
    assert_eq!(e.resume_at, Some(input.len()));
    for (input, offset) in [
        (&b"A1 SEARCH\r\n"[..], 9),
        (b"A1 SEARCH \r\n", 10),
        (b"A1 SEARCH SINCE 1-Foo-1994\r\n", 18),
        (b"A1 SEARCH LARGER -1\r\n", 17),
        (b"A1 SEARCH UID\r\n", 13),
        (b"A1 SEARCH NOT\r\n", 13),
        (b"A1 SEARCH (SEEN\r\n", 15),
        (b"A1 SEARCH SEEN)\r\n", 14),
        (b"A1 SEARCH 0\r\n", 10),
        (b"A1 SEARCH 1,$\r\n", 12),
        (b"A1 SEARCH RETURN (MIN\r\n", 21),
        (b"A1 UID FROB 1\r\n", 7),
        (b"A1 UID\r\n", 6),
    ] {
        let e = command_error(input, &c);
        assert_eq!(e.offset, offset, "{:?}: {e}", String::from_utf8_lossy(input));
        assert_eq!(e.tag.as_ref().unwrap().as_str(), "A1");
        assert_eq!(e.resume_at, Some(input.len()));
    }
    // A trailing space is accepted by the lenient decoder.
    assert!(matches!(
        decode_command(b"A1 SEARCH SEEN \r\n", &DecoderConfig::default()),
        Ok(mailwire_imap::Decoded::Complete { .. })
    ));
}

#[test]
fn extra_spaces_before_the_keys_where_the_leniency_allows_them() {
    let input = b"A1 SEARCH  CHARSET  UTF-8  ALL\r\n";
    let e = command_error(input, &DecoderConfig::STRICT);
    assert_eq!((e.offset, e.tag.unwrap().as_str()), (10, "A1"));
    let c = decode_cmd_with(input, &DecoderConfig::default());
    let (s, _) = search_of(&c.body);
    assert_eq!(s.charset.as_ref().unwrap().as_bytes(), b"UTF-8");
    assert_eq!(s.keys, [SearchKey::All]);
}

#[test]
fn hostile_nesting_and_counts() {
    let config = long_lines();
    for unit in [&b"("[..], b"NOT ", b"OR ALL "] {
        let mut input = b"A1 SEARCH ".to_vec();
        for _ in 0..100_000 {
            input.extend_from_slice(unit);
        }
        input.extend_from_slice(b"ALL\r\n");
        let e = command_error(&input, &config);
        assert_eq!(
            e.kind,
            ErrorKind::TooDeep { limit: 64 },
            "{}",
            String::from_utf8_lossy(unit)
        );
        assert_eq!(e.offset, 10 + 64 * unit.len());
        assert_eq!(e.tag.as_ref().unwrap().as_str(), "A1");
    }
    // Exactly at the limit is fine.
    let mut input = b"A1 SEARCH ".to_vec();
    input.extend(std::iter::repeat_n(b'(', 64));
    input.extend_from_slice(b"ALL");
    input.extend(std::iter::repeat_n(b')', 64));
    input.extend_from_slice(b"\r\n");
    command_round_trip(&input);

    // A million keys against a list limit of 1000.
    let mut small = long_lines();
    small.limits.list = 1000;
    let mut input = b"A1 SEARCH".to_vec();
    for _ in 0..1_000_000 {
        input.extend_from_slice(b" 1");
    }
    input.extend_from_slice(b"\r\n");
    let e = command_error(&input, &small);
    assert_eq!(
        (e.kind, e.offset),
        (ErrorKind::TooMany { limit: 1000 }, 10 + 2 * 1000)
    );
    // Keys inside parentheses count too.
    let mut input = b"A1 SEARCH (".to_vec();
    for _ in 0..2000 {
        input.extend_from_slice(b"SEEN ");
    }
    input.extend_from_slice(b"SEEN)\r\n");
    let e = command_error(&input, &small);
    assert_eq!(e.kind, ErrorKind::TooMany { limit: 1000 });
    // A sequence set with too many elements.
    let mut input = b"A1 SEARCH UID 1".to_vec();
    for _ in 0..5000 {
        input.extend_from_slice(b",1");
    }
    input.extend_from_slice(b"\r\n");
    assert_eq!(
        command_error(&input, &small).kind,
        ErrorKind::TooMany { limit: 1000 }
    );
    // ESEARCH data items.
    let mut input = b"* ESEARCH".to_vec();
    for _ in 0..2000 {
        input.extend_from_slice(b" COUNT 1");
    }
    input.extend_from_slice(b"\r\n");
    assert_eq!(
        response_error(&input, &small).kind,
        ErrorKind::TooMany { limit: 1000 }
    );
}

fn text() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => "[A-Za-z0-9]{1,8}".prop_map(String::into_bytes),
        2 => "[ -~]{0,12}".prop_map(String::into_bytes),
        1 => proptest::collection::vec(1u8..=255, 0..16),
    ]
}

fn astring_strategy() -> impl Strategy<Value = AString<'static>> {
    text().prop_map(|t| AString::from_bytes(t).unwrap())
}

fn date_strategy() -> impl Strategy<Value = Date> {
    (0u16..=9999, 1u8..=12, 1u8..=28).prop_map(|(y, m, d)| Date::new(y, m, d).unwrap())
}

fn set_strategy() -> impl Strategy<Value = SequenceSet> {
    prop_oneof![
        1 => Just(SequenceSet::LAST_COMMAND),
        6 => proptest::collection::vec((1u32..100_000, 0u32..5), 1..4).prop_map(|ranges| {
            let text: Vec<String> = ranges
                .iter()
                .map(|&(a, n)| if n == 0 { a.to_string() } else { format!("{a}:{}", a + n) })
                .collect();
            text.join(",").parse().unwrap()
        }),
        1 => Just("1:*".parse().unwrap()),
    ]
}

fn key_strategy() -> impl Strategy<Value = SearchKey<'static>> {
    let atom = "[A-Za-z$][A-Za-z0-9_]{0,6}".prop_map(|a| Atom::new(a).unwrap());
    let leaf = prop_oneof![
        Just(SearchKey::All),
        Just(SearchKey::Answered),
        Just(SearchKey::Deleted),
        Just(SearchKey::Draft),
        Just(SearchKey::Flagged),
        Just(SearchKey::New),
        Just(SearchKey::Old),
        Just(SearchKey::Recent),
        Just(SearchKey::Seen),
        Just(SearchKey::Unanswered),
        Just(SearchKey::Undeleted),
        Just(SearchKey::Undraft),
        Just(SearchKey::Unflagged),
        Just(SearchKey::Unseen),
        astring_strategy().prop_map(SearchKey::Bcc),
        astring_strategy().prop_map(SearchKey::Body),
        astring_strategy().prop_map(SearchKey::Cc),
        astring_strategy().prop_map(SearchKey::From),
        astring_strategy().prop_map(SearchKey::Subject),
        astring_strategy().prop_map(SearchKey::Text),
        astring_strategy().prop_map(SearchKey::To),
        (astring_strategy(), astring_strategy()).prop_map(|(name, value)| SearchKey::Header { name, value }),
        date_strategy().prop_map(SearchKey::Before),
        date_strategy().prop_map(SearchKey::On),
        date_strategy().prop_map(SearchKey::Since),
        date_strategy().prop_map(SearchKey::SentBefore),
        date_strategy().prop_map(SearchKey::SentOn),
        date_strategy().prop_map(SearchKey::SentSince),
        atom.clone().prop_map(SearchKey::Keyword),
        atom.prop_map(SearchKey::Unkeyword),
        (0u64..=i64::MAX as u64).prop_map(SearchKey::Larger),
        (0u64..=u64::from(u32::MAX)).prop_map(SearchKey::Smaller),
        set_strategy().prop_map(SearchKey::Uid),
        set_strategy().prop_map(SearchKey::SequenceSet),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(|k| SearchKey::Not(Box::new(k))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| SearchKey::Or(Box::new(a), Box::new(b))),
            proptest::collection::vec(inner, 1..4).prop_map(SearchKey::List),
        ]
    })
}

fn return_option_strategy() -> impl Strategy<Value = SearchReturnOption<'static>> {
    prop_oneof![
        Just(SearchReturnOption::Min),
        Just(SearchReturnOption::Max),
        Just(SearchReturnOption::All),
        Just(SearchReturnOption::Count),
        Just(SearchReturnOption::Save),
    ]
}

proptest! {
    #[test]
    fn generated_searches_round_trip(
        keys in proptest::collection::vec(key_strategy(), 1..5),
        options in proptest::option::of(proptest::collection::vec(return_option_strategy(), 0..4)),
        charset in proptest::option::of(Just(AString::from_bytes(&b"UTF-8"[..]).unwrap())),
        uid in any::<bool>(),
        policy in prop_oneof![Just(LiteralPolicy::SyncOnly), Just(LiteralPolicy::LiteralPlus)],
    ) {
        let search = Search { return_options: options, charset, keys };
        let command = mailwire_imap::Command {
            tag: mailwire_imap::Tag::new("t1").unwrap(),
            body: CommandBody::Search { search, uid },
        };
        let bytes = to_bytes(&command.encode(policy));
        let decoded = decode_cmd_with(&bytes, &DecoderConfig::STRICT);
        prop_assert_eq!(&decoded, &command);
        prop_assert_eq!(to_bytes(&decoded.encode(policy)), bytes);
    }
}

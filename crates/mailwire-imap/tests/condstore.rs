//! CONDSTORE and QRESYNC (RFC 7162): every client and server line of the
//! examples of sections 3.1 and 3.2 (and of section 6) that this crate
//! decodes, decoded strictly where the RFC follows its own grammar, every
//! prefix checked, re-encoded and compared, with the typed values asserted;
//! malformed forms with their offsets and tags; limits; the fuzz seeds.
//! Generated values are in tests/condstore_generated.rs.

mod codec_support;

use codec_support::*;
use mailwire_imap::{
    Code, Command, CommandBody, DecoderConfig, EntryType, ErrorKind, Fetch, FetchItem, FetchItems,
    FetchModifier, Flag, FlagFetch, Leniency, LiteralPolicy, MailboxStatus, MessageDataItem, ModSeq,
    ModSeqEntry, ModSeqValzer, QResync, RespText, Response, SearchKey, SearchReturnData, SelectParameter,
    SeqMatchData, Status, StatusAttribute, StatusValue, Store, StoreAction, StoreModifier, to_bytes,
};

/// The strict grammar, but `[code]` without text: RFC 7162 writes
/// `* OK [HIGHESTMODSEQ 715194045007]`, `* OK [CLOSED]` and `a107 OK`.
fn missing_text() -> DecoderConfig {
    DecoderConfig {
        leniency: Leniency {
            missing_text: true,
            ..Leniency::STRICT
        },
        ..DecoderConfig::STRICT
    }
}

/// A client line that re-encodes byte for byte.
fn client(input: &[u8]) -> Command<'_> {
    command_round_trip(input)
}

/// A server line that re-encodes byte for byte.
fn server(input: &[u8]) -> Response<'_> {
    response_round_trip(input)
}

/// The code of a status response.
fn code<'r>(r: &'r Response<'_>) -> &'r Code<'r> {
    match r {
        Response::Status {
            text: RespText { code: Some(c), .. },
            ..
        } => c,
        other => panic!("no code in {other:?}"),
    }
}

fn store<'c>(c: &'c Command<'_>) -> (&'c Store<'c>, bool) {
    match &c.body {
        CommandBody::Store { store, uid } => (store, *uid),
        other => panic!("{other:?}"),
    }
}

fn fetch<'c>(c: &'c Command<'_>) -> (&'c Fetch<'c>, bool) {
    match &c.body {
        CommandBody::Fetch { fetch, uid } => (fetch, *uid),
        other => panic!("{other:?}"),
    }
}

fn select_parameters<'c>(c: &'c Command<'_>) -> &'c [SelectParameter<'c>] {
    match &c.body {
        CommandBody::Select { parameters, .. } | CommandBody::Examine { parameters, .. } => parameters,
        other => panic!("{other:?}"),
    }
}

fn fetch_items<'r>(r: &'r Response<'_>) -> (u32, &'r [MessageDataItem<'r>]) {
    match r {
        Response::Fetch { seq, items } => (seq.get(), items),
        other => panic!("{other:?}"),
    }
}

/// The MODSEQ of a FETCH response.
fn fetched_modseq(r: &Response<'_>) -> u64 {
    let (_, items) = fetch_items(r);
    items
        .iter()
        .find_map(|i| match i {
            MessageDataItem::ModSeq(m) => Some(m.get()),
            _ => None,
        })
        .expect("a MODSEQ item")
}

#[test]
fn section_3_1_2_highestmodseq_and_nomodseq() {
    // Example 1.
    client(b"A142 SELECT INBOX\r\n");
    for line in [
        &b"* 172 EXISTS\r\n"[..],
        b"* 1 RECENT\r\n",
        b"* OK [UNSEEN 12] Message 12 is first unseen\r\n",
        b"* OK [UIDVALIDITY 3857529045] UIDs valid\r\n",
        b"* OK [UIDNEXT 4392] Predicted next UID\r\n",
        b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n",
        b"* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Limited\r\n",
        b"A142 OK [READ-WRITE] SELECT completed\r\n",
    ] {
        server(line);
    }
    // Sent without text; written back with the space before the (empty)
    // text, which the strict grammar accepts.
    let r = response_encodes_as_with(
        b"* OK [HIGHESTMODSEQ 715194045007]\r\n",
        b"* OK [HIGHESTMODSEQ 715194045007] \r\n",
        &missing_text(),
    );
    assert_eq!(code(&r), &Code::HighestModSeq(modseq(715194045007)));
    assert_eq!(
        decode_resp_with(b"* OK [HIGHESTMODSEQ 715194045007] \r\n", &DecoderConfig::STRICT),
        r
    );
    // Example 2.
    let r = server(b"* OK [NOMODSEQ] Sorry, this mailbox format doesn't support modsequences\r\n");
    assert_eq!(code(&r), &Code::NoModSeq);
}

#[test]
fn section_3_1_3_conditional_store() {
    // Example 3.
    let c = client(b"a103 UID STORE 6,4,8 (UNCHANGEDSINCE 12121230045) +FLAGS.SILENT (\\Deleted)\r\n");
    let (s, uid) = store(&c);
    assert!(uid && s.silent && s.action == StoreAction::Add);
    assert_eq!(s.sequence_set, set("6,4,8"));
    assert_eq!(s.modifiers, [StoreModifier::UnchangedSince(valzer(12121230045))]);
    assert_eq!(s.flags, [Flag::Deleted]);
    for (line, seq, uid, m) in [
        (
            &b"* 1 FETCH (UID 4 MODSEQ (12121231000))\r\n"[..],
            1,
            4,
            12121231000,
        ),
        (b"* 2 FETCH (UID 6 MODSEQ (12121230852))\r\n", 2, 6, 12121230852),
        (b"* 4 FETCH (UID 8 MODSEQ (12121230956))\r\n", 4, 8, 12121230956),
    ] {
        let r = server(line);
        assert_eq!(
            fetch_items(&r),
            (
                seq,
                &[MessageDataItem::Uid(nz(uid)), MessageDataItem::ModSeq(modseq(m))][..]
            )
        );
    }
    server(b"a103 OK Conditional Store completed\r\n");
    // Example 4.
    let c = client(b"a104 STORE * (UNCHANGEDSINCE 12121230045) +FLAGS.SILENT (\\Deleted $Processed)\r\n");
    assert_eq!(store(&c).0.flags[1], Flag::keyword("$Processed").unwrap());
    assert_eq!(
        fetched_modseq(&server(b"* 50 FETCH (MODSEQ (12111230047))\r\n")),
        12111230047
    );
    server(b"a104 OK Store (conditional) completed\r\n");
    // Example 5.
    let c = client(b"c101 STORE 50 (UNCHANGEDSINCE 12121230045) -FLAGS.SILENT (\\Deleted)\r\n");
    assert_eq!(store(&c).0.action, StoreAction::Remove);
    let r = response_encodes_as_with(
        b"* OK [HIGHESTMODSEQ 12111230047]\r\n",
        b"* OK [HIGHESTMODSEQ 12111230047] \r\n",
        &missing_text(),
    );
    assert_eq!(code(&r), &Code::HighestModSeq(modseq(12111230047)));
    server(b"* 50 FETCH (MODSEQ (12111230048))\r\n");
    server(b"c101 OK Store (conditional) completed\r\n");
    // Examples 6 and 7.
    client(b"d105 STORE 7,5,9 (UNCHANGEDSINCE 320162338) +FLAGS.SILENT (\\Deleted)\r\n");
    server(b"* 5 FETCH (MODSEQ (320162350))\r\n");
    let r = server(b"* 7 FETCH (MODSEQ (320162342) FLAGS (\\Seen \\Deleted))\r\n");
    assert_eq!(
        fetch_items(&r).1,
        [
            MessageDataItem::ModSeq(modseq(320162342)),
            MessageDataItem::Flags(vec![FlagFetch::Flag(Flag::Seen), FlagFetch::Flag(Flag::Deleted)])
        ]
    );
    server(b"* 9 FETCH (MODSEQ (320162349) FLAGS (\\Answered))\r\n");
    let r = server(b"d105 OK [MODIFIED 7,9] Conditional STORE failed\r\n");
    assert_eq!(code(&r), &Code::Modified(set("7,9")));
    // Example 8: UNCHANGEDSINCE 0.
    let c = client(b"a102 STORE 12 (UNCHANGEDSINCE 0) +FLAGS.SILENT ($MDNSent)\r\n");
    assert_eq!(
        store(&c).0.modifiers,
        [StoreModifier::UnchangedSince(ModSeqValzer::ZERO)]
    );
    let r = server(b"a102 OK [MODIFIED 12] Conditional STORE failed\r\n");
    assert_eq!(code(&r), &Code::Modified(set("12")));
    // Examples 9 and 10.
    client(b"a106 STORE 100:150 (UNCHANGEDSINCE 212030000000) +FLAGS.SILENT ($Processed)\r\n");
    for line in [
        &b"* 100 FETCH (MODSEQ (303181230852))\r\n"[..],
        b"* 102 FETCH (MODSEQ (303181230852))\r\n",
        b"* 150 FETCH (MODSEQ (303181230852))\r\n",
        b"a106 OK [MODIFIED 101] Conditional STORE failed\r\n",
        b"* 101 FETCH (MODSEQ (303011130956) FLAGS ($Processed))\r\n",
        b"* 101 FETCH (MODSEQ (303011130956) FLAGS (\\Deleted \\Answered))\r\n",
        b"* 101 FETCH (MODSEQ (303181230852))\r\n",
        b"b108 OK Conditional Store completed\r\n",
        b"* 101 FETCH (MODSEQ (303011130956) FLAGS ($Processed \\Deleted \\Answered))\r\n",
        b"a106 OK Conditional STORE completed\r\n",
    ] {
        server(line);
    }
    client(b"a107 NOOP\r\n");
    client(b"b107 NOOP\r\n");
    // "a107 OK" has no text.
    let r = response_encodes_as_with(b"a107 OK\r\n", b"a107 OK \r\n", &missing_text());
    assert!(matches!(
        r,
        Response::Status {
            status: Status::Ok,
            ..
        }
    ));
    let c = client(b"b108 STORE 101 (UNCHANGEDSINCE 303011130956) +FLAGS.SILENT ($Processed)\r\n");
    assert_eq!(
        store(&c).0.modifiers,
        [StoreModifier::UnchangedSince(valzer(303011130956))]
    );
    // Example 11: system flags in any case, written in their RFC spelling.
    let c = command_encodes_as(
        b"B001 STORE 1:7 (UNCHANGEDSINCE 320172338) +FLAGS (\\SEEN)\r\n",
        LiteralPolicy::SyncOnly,
        b"B001 STORE 1:7 (UNCHANGEDSINCE 320172338) +FLAGS (\\Seen)\r\n",
    );
    assert!(!store(&c).0.silent);
    response_encodes_as(
        b"* 1 FETCH (MODSEQ (320172342) FLAGS (\\SEEN))\r\n",
        b"* 1 FETCH (MODSEQ (320172342) FLAGS (\\Seen))\r\n",
    );
    let r = server(b"B001 NO [MODIFIED 2] Some of the messages no longer exist.\r\n");
    assert!(matches!(
        r,
        Response::Status {
            status: Status::No,
            ..
        }
    ));
    assert_eq!(code(&r), &Code::Modified(set("2")));
    client(b"B002 NOOP\r\n");
    server(b"* 4 EXPUNGE\r\n");
    server(b"* 2 FETCH (MODSEQ (320172340) FLAGS (\\Deleted \\Answered))\r\n");
    server(b"B002 OK NOOP Completed.\r\n");
    client(b"b003 STORE 2 (UNCHANGEDSINCE 320172340) +FLAGS (\\Seen)\r\n");
    response_encodes_as(
        b"* 2 FETCH (MODSEQ (320180050) FLAGS (\\SEEN \\Flagged))\r\n",
        b"* 2 FETCH (MODSEQ (320180050) FLAGS (\\Seen \\Flagged))\r\n",
    );
    server(b"b003 OK Conditional Store completed\r\n");
    client(b"e105 STORE 7,3:9 (UNCHANGEDSINCE 12121230045) +FLAGS.SILENT (\\Deleted)\r\n");
}

#[test]
fn section_3_1_4_changedsince_and_modseq_item() {
    // Example 12.
    let c = client(b"s100 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345)\r\n");
    let (f, uid) = fetch(&c);
    assert!(uid);
    assert_eq!(f.items, FetchItems::List(vec![FetchItem::Flags]));
    assert_eq!(f.modifiers, [FetchModifier::ChangedSince(modseq(12345))]);
    for (line, m) in [
        (&b"* 1 FETCH (UID 4 MODSEQ (65402) FLAGS (\\Seen))\r\n"[..], 65402),
        (b"* 2 FETCH (UID 6 MODSEQ (75403) FLAGS (\\Deleted))\r\n", 75403),
        (
            b"* 4 FETCH (UID 8 MODSEQ (29738) FLAGS ($NoJunk $AutoJunk $MDNSent))\r\n",
            29738,
        ),
    ] {
        assert_eq!(fetched_modseq(&server(line)), m);
    }
    server(b"s100 OK FETCH completed\r\n");
    // Example 13.
    let c = client(b"a FETCH 1:3 (MODSEQ)\r\n");
    assert_eq!(fetch(&c).0.items, FetchItems::List(vec![FetchItem::ModSeq]));
    for (line, m) in [
        (&b"* 1 FETCH (MODSEQ (624140003))\r\n"[..], 624140003),
        (b"* 2 FETCH (MODSEQ (624140007))\r\n", 624140007),
        (b"* 3 FETCH (MODSEQ (624140005))\r\n", 624140005),
    ] {
        assert_eq!(fetched_modseq(&server(line)), m);
    }
    server(b"a OK Fetch complete\r\n");
    // A single item without parentheses, in lower case.
    let c = command_encodes_as(
        b"a fetch 1 modseq\r\n",
        LiteralPolicy::SyncOnly,
        b"a FETCH 1 MODSEQ\r\n",
    );
    assert_eq!(fetch(&c).0.items, FetchItems::Item(FetchItem::ModSeq));
    // Example 14.
    client(b"A142 SELECT INBOX\r\n");
    server(b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n");
    server(b"* OK [PERMANENTFLAGS (\\Answered \\Deleted \\Seen \\*)] Limited\r\n");
    client(b"A160 STORE 7 +FLAGS.SILENT (\\Deleted)\r\n");
    server(b"* 7 FETCH (MODSEQ (2121231000))\r\n");
    server(b"A160 OK Store completed\r\n");
    client(b"C180 NOOP\r\n");
    let r = server(b"* 7 FETCH (FLAGS (\\Deleted \\Answered) MODSEQ (12121231000))\r\n");
    assert_eq!(fetched_modseq(&r), 12121231000);
    server(b"C180 OK Noop completed\r\n");
    client(b"D210 NOOP\r\n");
    server(b"D210 OK Noop completed\r\n");
    client(b"A240 STORE 7 +FLAGS.SILENT (\\Seen)\r\n");
    server(b"* 7 FETCH (MODSEQ (12121231777))\r\n");
    server(b"A240 OK Store completed\r\n");
    client(b"C270 NOOP\r\n");
    server(b"* 7 FETCH (FLAGS (\\Deleted \\Answered \\Seen) MODSEQ (12121231777))\r\n");
    server(b"C270 OK Noop completed\r\n");
    client(b"D300 NOOP\r\n");
    server(b"D300 OK Noop completed\r\n");
    client(b"A330 STORE 7 -FLAGS.SILENT (\\Answered \\Seen)\r\n");
    server(b"* 7 FETCH (MODSEQ (12121245160))\r\n");
    server(b"A330 OK Store completed\r\n");
    client(b"C360 NOOP\r\n");
    server(b"* 7 FETCH (FLAGS (\\Deleted) MODSEQ (12121245160))\r\n");
    server(b"C360 OK Noop completed\r\n");
    client(b"D390 NOOP\r\n");
    server(b"D390 OK Noop completed\r\n");
}

#[test]
fn section_3_1_5_to_3_1_10_search_status_select() {
    // Example 15: "\\draft" is the flag \Draft, sent in its RFC spelling.
    let c = command_encodes_as(
        b"a SEARCH MODSEQ \"/flags/\\\\draft\" all 620162338\r\n",
        LiteralPolicy::SyncOnly,
        b"a SEARCH MODSEQ \"/flags/\\\\Draft\" all 620162338\r\n",
    );
    let CommandBody::Search { search, uid: false } = &c.body else {
        panic!()
    };
    assert_eq!(
        search.keys,
        [SearchKey::ModSeq {
            entry: Some(ModSeqEntry {
                flag: Flag::Draft,
                entry_type: EntryType::All
            }),
            modseq: valzer(620162338)
        }]
    );
    let r = server(b"* SEARCH 2 5 6 7 11 12 18 19 20 23 (MODSEQ 917162500)\r\n");
    let Response::Search { numbers, modseq: m } = &r else {
        panic!()
    };
    assert_eq!(numbers.len(), 10);
    assert_eq!((numbers[9].get(), *m), (23, Some(modseq(917162500))));
    server(b"a OK Search complete\r\n");
    // Example 16.
    let c = client(b"t SEARCH OR NOT MODSEQ 720162338 LARGER 50000\r\n");
    let CommandBody::Search { search, .. } = &c.body else {
        panic!()
    };
    let SearchKey::Or(a, _) = &search.keys[0] else {
        panic!()
    };
    assert_eq!(
        **a,
        SearchKey::Not(Box::new(SearchKey::ModSeq {
            entry: None,
            modseq: valzer(720162338)
        }))
    );
    let r = server(b"* SEARCH\r\n");
    assert_eq!(
        r,
        Response::Search {
            numbers: vec![],
            modseq: None
        }
    );
    server(b"t OK Search complete, nothing found\r\n");
    // Example 17.
    let c = client(b"A042 STATUS blurdybloop (UIDNEXT MESSAGES HIGHESTMODSEQ)\r\n");
    let CommandBody::Status { attributes, .. } = &c.body else {
        panic!()
    };
    assert_eq!(attributes[2], StatusAttribute::HighestModSeq);
    let r = server(b"* STATUS blurdybloop (MESSAGES 231 UIDNEXT 44292 HIGHESTMODSEQ 7011231777)\r\n");
    let Response::MailboxStatus(MailboxStatus { values, .. }) = &r else {
        panic!()
    };
    assert_eq!(values[2], StatusValue::HighestModSeq(valzer(7011231777)));
    assert_eq!(values[2].attribute(), StatusAttribute::HighestModSeq);
    server(b"A042 OK STATUS completed\r\n");
    // A mailbox without mod-sequences answers 0 (section 3.1.7).
    let r = server(b"* STATUS x (HIGHESTMODSEQ 0)\r\n");
    let Response::MailboxStatus(MailboxStatus { values, .. }) = &r else {
        panic!()
    };
    assert_eq!(values[0], StatusValue::HighestModSeq(ModSeqValzer::ZERO));
    // Example 18.
    let c = client(b"A142 SELECT INBOX (CONDSTORE)\r\n");
    assert_eq!(select_parameters(&c), [SelectParameter::CondStore]);
    server(b"A142 OK [READ-WRITE] SELECT completed, CONDSTORE is now enabled\r\n");
    // Example 19 (and the response of example 20; SORT is not decoded here).
    let c = client(b"a SEARCH RETURN (ALL) MODSEQ 1234\r\n");
    let CommandBody::Search { search, .. } = &c.body else {
        panic!()
    };
    assert_eq!(
        search.keys,
        [SearchKey::ModSeq {
            entry: None,
            modseq: valzer(1234)
        }]
    );
    let r = server(b"* ESEARCH (TAG \"a\") ALL 1:3,5 MODSEQ 1236\r\n");
    let Response::ESearch(e) = &r else { panic!() };
    assert_eq!(
        e.data,
        [
            SearchReturnData::All(set("1:3,5")),
            SearchReturnData::ModSeq(modseq(1236))
        ]
    );
    server(b"a OK Extended SEARCH completed\r\n");
    server(b"* ESEARCH (TAG \"a\") ALL 5,3,2,1 MODSEQ 1236\r\n");
    server(b"a OK Extended SORT completed\r\n");
    // The other entry types, and keywords, in any case.
    let c = command_encodes_as(
        b"a UID SEARCH modseq \"/FLAGS/$MDNSent\" PRIV 0 modseq \"/flags/\\\\x-ext\" Shared 5\r\n",
        LiteralPolicy::SyncOnly,
        b"a UID SEARCH MODSEQ \"/flags/$MDNSent\" priv 0 MODSEQ \"/flags/\\\\x-ext\" shared 5\r\n",
    );
    let CommandBody::Search { search, uid: true } = &c.body else {
        panic!()
    };
    assert!(matches!(
        &search.keys[0],
        SearchKey::ModSeq { entry: Some(ModSeqEntry { flag: Flag::Keyword(k), entry_type: EntryType::Private }), modseq }
            if k.as_str() == "$MDNSent" && *modseq == ModSeqValzer::ZERO
    ));
    assert!(matches!(
        &search.keys[1],
        SearchKey::ModSeq { entry: Some(ModSeqEntry { flag: Flag::Extension(x), entry_type: EntryType::Shared }), .. }
            if x.as_str() == "x-ext"
    ));
}

#[test]
fn section_3_2_5_qresync_select() {
    let c = client(b"A02 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))\r\n");
    assert_eq!(
        select_parameters(&c),
        [SelectParameter::QResync(QResync {
            uid_validity: nz(67890007),
            modseq: modseq(20050715194045000),
            known_uids: Some(uids("41,43:211,214:541")),
            seq_match: None,
        })]
    );
    for line in [
        &b"* 464 EXISTS\r\n"[..],
        b"* 3 RECENT\r\n",
        b"* OK [UIDVALIDITY 3857529045] UIDVALIDITY\r\n",
        b"* OK [UIDNEXT 550] Predicted next UID\r\n",
        b"* OK [HIGHESTMODSEQ 90060128194045007] Highest mailbox mod-sequence\r\n",
        b"* OK [UNSEEN 12] Message 12 is first unseen\r\n",
        b"* FLAGS (\\Answered \\Flagged \\Draft \\Deleted \\Seen)\r\n",
        b"* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Draft \\Deleted \\Seen \\*)] Permanent flags\r\n",
        b"A02 OK [READ-WRITE] Sorry, UIDVALIDITY mismatch\r\n",
    ] {
        server(line);
    }
    // Section 3.2.5.1.
    let c = client(b"A03 SELECT INBOX (QRESYNC (67890007 90060115194045000 41:211,214:541))\r\n");
    let [SelectParameter::QResync(q)] = select_parameters(&c) else {
        panic!()
    };
    assert_eq!(q.known_uids, Some(uids("41:211,214:541")));
    let r = response_encodes_as_with(b"* OK [CLOSED]\r\n", b"* OK [CLOSED] \r\n", &missing_text());
    assert_eq!(code(&r), &Code::Closed);
    for line in [
        &b"* 100 EXISTS\r\n"[..],
        b"* 11 RECENT\r\n",
        b"* OK [UIDVALIDITY 67890007] UIDVALIDITY\r\n",
        b"* OK [UIDNEXT 600] Predicted next UID\r\n",
        b"* OK [UNSEEN 7] There are some unseen messages in the mailbox\r\n",
        b"A03 OK [READ-WRITE] mailbox selected\r\n",
    ] {
        server(line);
    }
    let r = server(b"* OK [HIGHESTMODSEQ 90060115205545359] Highest mailbox mod-sequence\r\n");
    assert_eq!(code(&r), &Code::HighestModSeq(modseq(90060115205545359)));
    let r = server(b"* VANISHED (EARLIER) 41,43:116,118,120:211,214:540\r\n");
    assert_eq!(
        r,
        Response::Vanished {
            earlier: true,
            uids: uids("41,43:116,118,120:211,214:540")
        }
    );
    for (line, uid, m) in [
        (
            &b"* 49 FETCH (UID 117 FLAGS (\\Seen \\Answered) MODSEQ (90060115194045001))\r\n"[..],
            117,
            90060115194045001,
        ),
        (
            b"* 50 FETCH (UID 119 FLAGS (\\Draft $MDNSent) MODSEQ (90060115194045308))\r\n",
            119,
            90060115194045308,
        ),
        (
            b"* 51 FETCH (UID 541 FLAGS (\\Seen $Forwarded) MODSEQ (90060115194045001))\r\n",
            541,
            90060115194045001,
        ),
    ] {
        let r = server(line);
        assert_eq!(fetch_items(&r).1[0], MessageDataItem::Uid(nz(uid)));
        assert_eq!(fetched_modseq(&r), m);
    }
    // Section 3.2.5.2, first example; the VANISHED line, elided in the
    // RFC, spelled out.
    let c = client(b"A04 SELECT INBOX (QRESYNC (67890007 90060115194045000 1:29997))\r\n");
    let [SelectParameter::QResync(q)] = select_parameters(&c) else {
        panic!()
    };
    assert_eq!(
        (q.known_uids.as_ref(), q.seq_match.as_ref()),
        (Some(&uids("1:29997")), None)
    );
    for line in [
        &b"* 10003 EXISTS\r\n"[..],
        b"* 4 RECENT\r\n",
        b"* OK [UIDNEXT 30013] Predicted next UID\r\n",
        b"* 1 FETCH (UID 3 FLAGS (\\Seen \\Answered $Important) MODSEQ (90060115194045001))\r\n",
        b"* 9889 FETCH (UID 29667 FLAGS (\\Seen \\Answered) MODSEQ (90060115194045027))\r\n",
        b"* 9890 FETCH (UID 29670 FLAGS (\\Draft $MDNSent) MODSEQ (90060115194045028))\r\n",
        b"* 9999 FETCH (UID 29997 FLAGS (\\Seen $Forwarded) MODSEQ (90060115194045031))\r\n",
        b"A04 OK [READ-WRITE] mailbox selected\r\n",
    ] {
        server(line);
    }
    let mut line = b"* VANISHED (EARLIER) ".to_vec();
    for k in (1..29669).step_by(3) {
        line.extend_from_slice(format!("{}:{},", k, k + 1).as_bytes());
    }
    line.extend_from_slice(b"29671:29996\r\n");
    // Longer than the default line limit; its prefixes are not checked
    // (each would be framed again from the start).
    let r = decode_resp_with(&line, &long_lines());
    assert_eq!(to_bytes(&r.encode()), line);
    let Response::Vanished {
        earlier: true,
        uids: gone,
    } = &r
    else {
        panic!()
    };
    assert_eq!(gone.as_sequence_set().ranges().len(), 9890 + 1);
    assert!(gone.contains(29668) && !gone.contains(29667) && gone.contains(29700));
    // Second example, with sequence match data.
    let c = client(
        b"B04 SELECT INBOX (QRESYNC (67890007 90060115194045000 1:29997 (5000,7500,9000,9990:9999 \
15000,22500,27000,29970,29973,29976,29979,29982,29985,29988,29991,29994,29997)))\r\n",
    );
    let [SelectParameter::QResync(q)] = select_parameters(&c) else {
        panic!()
    };
    assert_eq!(
        q.seq_match,
        Some(SeqMatchData {
            sequence_numbers: uids("5000,7500,9000,9990:9999"),
            uids: uids("15000,22500,27000,29970,29973,29976,29979,29982,29985,29988,29991,29994,29997"),
        })
    );
    assert_eq!(q.known_uids, Some(uids("1:29997")));
    // Section 6: the client's example.
    let c = client(b"A142 SELECT INBOX (QRESYNC (3857529045 20010715194032001 1:198))\r\n");
    let [SelectParameter::QResync(q)] = select_parameters(&c) else {
        panic!()
    };
    assert_eq!(q.uid_validity, nz(3857529045));
    server(b"* OK [HIGHESTMODSEQ 20010715194045007] Highest mailbox mod-sequence\r\n");
    server(b"* VANISHED (EARLIER) 1:5,7:8,10:15\r\n");
    server(b"* 2 FETCH (UID 6 MODSEQ (20010715205008000) FLAGS (\\Deleted))\r\n");
    server(b"* 5 FETCH (UID 9 MODSEQ (20010715195517000) FLAGS ($NoJunk $AutoJunk $MDNSent))\r\n");
    server(b"A142 OK [READ-WRITE] SELECT completed\r\n");
    // EXAMINE takes the same parameters; QRESYNC without known UIDs but
    // with match data.
    let c = client(b"A5 EXAMINE INBOX (QRESYNC (1 2 (1:3 5,7:8)) CONDSTORE)\r\n");
    let [SelectParameter::QResync(q), SelectParameter::CondStore] = select_parameters(&c) else {
        panic!()
    };
    assert_eq!((q.known_uids.as_ref(), q.seq_match.is_some()), (None, true));
    command_encodes_as(
        b"A6 select inbox (qresync (1 2) condstore)\r\n",
        LiteralPolicy::SyncOnly,
        b"A6 SELECT INBOX (QRESYNC (1 2) CONDSTORE)\r\n",
    );
}

#[test]
fn sections_3_2_6_to_3_2_10_vanished() {
    // Section 3.2.6, example 1.
    client(b"s100 UID FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345)\r\n");
    server(b"* 1 FETCH (UID 404 MODSEQ (65402) FLAGS (\\Seen))\r\n");
    server(b"* 2 FETCH (UID 406 MODSEQ (75403) FLAGS (\\Deleted))\r\n");
    server(b"* 4 FETCH (UID 408 MODSEQ (29738) FLAGS ($NoJunk $AutoJunk $MDNSent))\r\n");
    server(b"s100 OK FETCH completed\r\n");
    client(b"s101 UID SEARCH 300:500\r\n");
    let r = server(b"* SEARCH 404 406 407 408 410 412\r\n");
    assert!(matches!(&r, Response::Search { numbers, modseq: None } if numbers.len() == 6));
    server(b"s101 OK search completed\r\n");
    let c = client(b"s100 UID FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345 VANISHED)\r\n");
    assert_eq!(
        fetch(&c).0.modifiers,
        [
            FetchModifier::ChangedSince(modseq(12345)),
            FetchModifier::Vanished
        ]
    );
    let r = server(b"* VANISHED (EARLIER) 300:310,405,411\r\n");
    assert_eq!(
        r,
        Response::Vanished {
            earlier: true,
            uids: uids("300:310,405,411")
        }
    );
    // Sections 3.2.7 to 3.2.9.
    client(b"A202 EXPUNGE\r\n");
    server(b"* 3 EXPUNGE\r\n");
    server(b"* 5 EXPUNGE\r\n");
    server(b"* 8 EXPUNGE\r\n");
    let r = server(b"A202 OK [HIGHESTMODSEQ 20010715194045319] expunged\r\n");
    assert_eq!(code(&r), &Code::HighestModSeq(modseq(20010715194045319)));
    client(b"B202 EXPUNGE\r\n");
    let r = server(b"* VANISHED 405,407,410,425\r\n");
    assert_eq!(
        r,
        Response::Vanished {
            earlier: false,
            uids: uids("405,407,410,425")
        }
    );
    server(b"B202 OK [HIGHESTMODSEQ 20010715194045319] expunged\r\n");
    client(b"A202 CLOSE\r\n");
    server(b"A202 OK done\r\n");
    let c = client(b". UID EXPUNGE 3000:3002\r\n");
    assert_eq!(c.tag.as_str(), ".");
    server(b". OK [HIGHESTMODSEQ 20010715194045319] Ok\r\n");
    // Section 3.2.10.
    server(b"* VANISHED 505,507,510,625\r\n");
    server(b"A202 OK EXPUNGE completed\r\n");
    client(b"A210 EXPUNGE\r\n");
    server(b"* VANISHED 504,508\r\n");
    server(b"A210 OK EXPUNGE completed\r\n");
    for line in [&b"* VANISHED 1\r\n"[..], b"* VANISHED 3\r\n", b"* VANISHED 5\r\n"] {
        assert!(matches!(server(line), Response::Vanished { earlier: false, .. }));
    }
    response_encodes_as(b"* vanished (earlier) 1\r\n", b"* VANISHED (EARLIER) 1\r\n");
    // Section 6: the delayed VANISHED; flags without parentheses are
    // written back with them.
    let c = command_encodes_as(
        b"A150 STORE 1:2 (UNCHANGEDSINCE 96) +FLAGS.SILENT \\Seen\r\n",
        LiteralPolicy::SyncOnly,
        b"A150 STORE 1:2 (UNCHANGEDSINCE 96) +FLAGS.SILENT (\\Seen)\r\n",
    );
    assert_eq!(store(&c).0.modifiers, [StoreModifier::UnchangedSince(valzer(96))]);
    server(b"* 1 FETCH (UID 6 MODSEQ (103))\r\n");
    server(b"* 2 FETCH (UID 7 MODSEQ (101))\r\n");
    let r = server(b"* OK [HIGHESTMODSEQ 99] VANISHED reply with MODSEQ 100 is delayed\r\n");
    assert_eq!(code(&r), &Code::HighestModSeq(modseq(99)));
    server(b"A150 OK [MODIFIED 3] done\r\n");
    command_encodes_as(
        b"A151 STORE 3 +FLAGS.SILENT \\Seen\r\n",
        LiteralPolicy::SyncOnly,
        b"A151 STORE 3 +FLAGS.SILENT (\\Seen)\r\n",
    );
    server(b"* 3 FETCH (UID 8 MODSEQ (104))\r\n");
    server(b"A151 OK [HIGHESTMODSEQ 99] Still delaying VANISHED\r\n");
    client(b"A152 NOOP\r\n");
    server(b"* VANISHED 8\r\n");
    server(b"A153 OK [HIGHESTMODSEQ 104] done\r\n");
}

#[test]
fn malformed_commands_have_offsets_and_tags() {
    let c = DecoderConfig::STRICT;
    for (input, offset, kind) in [
        // CHANGEDSINCE wants a mod-sequence from 1, and one.
        (
            &b"A1 FETCH 1 FLAGS (CHANGEDSINCE 0)\r\n"[..],
            31,
            ErrorKind::NumberOutOfRange,
        ),
        (b"A1 FETCH 1 FLAGS (CHANGEDSINCE)\r\n", 30, ErrorKind::Syntax),
        (b"A1 FETCH 1 FLAGS (CHANGEDSINCE x)\r\n", 31, ErrorKind::Syntax),
        (
            b"A1 FETCH 1 FLAGS (CHANGEDSINCE 9223372036854775808)\r\n",
            31,
            ErrorKind::NumberOutOfRange,
        ),
        // VANISHED takes no value.
        (
            b"A1 UID FETCH 1 FLAGS (CHANGEDSINCE 1 VANISHED 1)\r\n",
            46,
            ErrorKind::Syntax,
        ),
        // MODSEQ is a bare fetch attribute.
        (b"A1 FETCH 1 (MODSEQ (1))\r\n", 19, ErrorKind::Syntax),
        // UNCHANGEDSINCE wants a number (0 is fine).
        (
            b"A1 STORE 1 (UNCHANGEDSINCE) +FLAGS (\\Seen)\r\n",
            26,
            ErrorKind::Syntax,
        ),
        (
            b"A1 STORE 1 (UNCHANGEDSINCE -1) +FLAGS (\\Seen)\r\n",
            27,
            ErrorKind::Syntax,
        ),
        (
            b"A1 STORE 1 (UNCHANGEDSINCE 1 +FLAGS (\\Seen)\r\n",
            29,
            ErrorKind::Syntax,
        ),
        // QRESYNC: missing arguments, zeros, '*', unbalanced parentheses.
        (b"A1 SELECT INBOX (QRESYNC)\r\n", 24, ErrorKind::Syntax),
        (b"A1 SELECT INBOX (QRESYNC ())\r\n", 26, ErrorKind::Syntax),
        (b"A1 SELECT INBOX (QRESYNC (1))\r\n", 27, ErrorKind::Syntax),
        (b"A1 SELECT INBOX (QRESYNC (0 1))\r\n", 26, ErrorKind::Syntax),
        (
            b"A1 SELECT INBOX (QRESYNC (1 0))\r\n",
            28,
            ErrorKind::NumberOutOfRange,
        ),
        (b"A1 SELECT INBOX (QRESYNC (1 2 1:*))\r\n", 32, ErrorKind::Syntax),
        (
            b"A1 SELECT INBOX (QRESYNC (1 2 (1:3)))\r\n",
            34,
            ErrorKind::Syntax,
        ),
        (b"A1 SELECT INBOX (QRESYNC (1 2 (1 2))\r\n", 36, ErrorKind::Syntax),
        (b"A1 SELECT INBOX (QRESYNC (1 2 3\r\n", 31, ErrorKind::Syntax),
        (b"A1 EXAMINE INBOX (CONDSTORE 1)\r\n", 28, ErrorKind::Syntax),
        // MODSEQ search key: missing value, bad entry names and types.
        (b"A1 SEARCH MODSEQ\r\n", 16, ErrorKind::Syntax),
        (
            b"A1 SEARCH MODSEQ \"/flags/\\\\Seen\" 5\r\n",
            33,
            ErrorKind::Syntax,
        ),
        (
            b"A1 SEARCH MODSEQ \"/flags/\\\\Recent\" all 5\r\n",
            17,
            ErrorKind::Syntax,
        ),
        (
            b"A1 SEARCH MODSEQ \"/annotation/x\" all 5\r\n",
            17,
            ErrorKind::Syntax,
        ),
        (b"A1 SEARCH MODSEQ {6}\r\n/flags all 5\r\n", 17, ErrorKind::Syntax),
        (b"A1 SEARCH MODSEQ \"/flags/x\" any 5\r\n", 28, ErrorKind::Syntax),
        (b"A1 SEARCH MODSEQ \"/flags/x\" all\r\n", 31, ErrorKind::Syntax),
        (
            b"A1 SEARCH MODSEQ 9223372036854775808\r\n",
            17,
            ErrorKind::NumberOutOfRange,
        ),
    ] {
        let e = command_error(input, &c);
        assert_eq!(
            (e.offset, e.kind),
            (offset, kind),
            "{:?}: {e}",
            String::from_utf8_lossy(input)
        );
        assert_eq!(e.tag.as_ref().map(|t| t.as_str()), Some("A1"), "{e}");
        assert_eq!(e.resume_at, Some(input.len()));
    }
}

#[test]
fn malformed_responses_have_offsets_and_tags() {
    let c = DecoderConfig::STRICT;
    for (input, offset, kind) in [
        (
            &b"* 1 FETCH (MODSEQ (0))\r\n"[..],
            19,
            ErrorKind::NumberOutOfRange,
        ),
        (b"* 1 FETCH (MODSEQ 5)\r\n", 18, ErrorKind::Syntax),
        (b"* 1 FETCH (MODSEQ (5 6))\r\n", 20, ErrorKind::Syntax),
        (b"* 1 FETCH (MODSEQ (5)\r\n", 21, ErrorKind::Syntax),
        (b"* 1 FETCH (MODSEQ ())\r\n", 19, ErrorKind::Syntax),
        (b"* OK [HIGHESTMODSEQ 0] x\r\n", 20, ErrorKind::NumberOutOfRange),
        (b"* OK [HIGHESTMODSEQ] x\r\n", 19, ErrorKind::Syntax),
        (b"* OK [NOMODSEQ 5] x\r\n", 14, ErrorKind::Syntax),
        (b"* OK [MODIFIED] x\r\n", 14, ErrorKind::Syntax),
        (b"* OK [MODIFIED 0] x\r\n", 15, ErrorKind::NumberOutOfRange),
        (b"* OK [MODIFIED $] x\r\n", 15, ErrorKind::Syntax),
        (b"* STATUS x (HIGHESTMODSEQ -1)\r\n", 26, ErrorKind::Syntax),
        (b"* SEARCH (MODSEQ 5)\r\n", 9, ErrorKind::Syntax),
        (b"* SEARCH 1 (MODSEQ 0)\r\n", 19, ErrorKind::NumberOutOfRange),
        (b"* SEARCH 1 (MODSEQ 5) 2\r\n", 21, ErrorKind::Syntax),
        (b"* SEARCH 1 (MODSEQ 5\r\n", 20, ErrorKind::Syntax),
        (b"* SEARCH 1 (MODSEQ)\r\n", 18, ErrorKind::Syntax),
        (b"* ESEARCH ALL 1 MODSEQ 0\r\n", 23, ErrorKind::NumberOutOfRange),
        (b"* VANISHED\r\n", 10, ErrorKind::Syntax),
        (b"* VANISHED (EARLIER)\r\n", 20, ErrorKind::Syntax),
        (b"* VANISHED 0\r\n", 11, ErrorKind::NumberOutOfRange),
        (b"* VANISHED 1:*\r\n", 13, ErrorKind::Syntax),
        (b"* VANISHED $\r\n", 11, ErrorKind::Syntax),
        (b"* VANISHED (LATER) 1\r\n", 11, ErrorKind::Syntax),
        (b"* VANISHED 1 2\r\n", 12, ErrorKind::Syntax),
    ] {
        let e = response_error(input, &c);
        assert_eq!(
            (e.offset, e.kind),
            (offset, kind),
            "{:?}: {e}",
            String::from_utf8_lossy(input)
        );
        assert_eq!(e.tag, None);
        assert_eq!(e.resume_at, Some(input.len()));
    }
    let e = response_error(b"A9 NO [MODIFIED 1:x] no\r\n", &c);
    assert_eq!((e.offset, e.tag.unwrap().as_str()), (18, "A9"));
}

#[test]
fn limits() {
    // Nesting: MODSEQ keys deep inside NOT and parentheses.
    let mut input = b"A1 SEARCH ".to_vec();
    for _ in 0..100 {
        input.extend_from_slice(b"NOT (");
    }
    input.extend_from_slice(b"MODSEQ 1");
    input.extend_from_slice(&b")".repeat(100));
    input.extend_from_slice(b"\r\n");
    let e = command_error(&input, &DecoderConfig::STRICT);
    assert_eq!(e.kind, ErrorKind::TooDeep { limit: 64 });
    assert_eq!(e.tag.unwrap().as_str(), "A1");
    // Counts: every UID set is bounded by limits.list.
    let mut small = DecoderConfig::STRICT;
    small.limits.list = 3;
    for (input, offset, command) in [
        (&b"* VANISHED 1,3,5,7\r\n"[..], 17, false),
        (b"* VANISHED (EARLIER) 1,3,5:6,8\r\n", 29, false),
        (b"* OK [MODIFIED 1,3,5,7] x\r\n", 21, false),
        (b"* SEARCH 1 2 3 4 (MODSEQ 5)\r\n", 14, false),
        (b"A1 SELECT INBOX (QRESYNC (1 2 1,3,5,7))\r\n", 36, true),
        (b"A1 SELECT INBOX (QRESYNC (1 2 (1,3,5,7 1)))\r\n", 37, true),
        (b"A1 SELECT INBOX (QRESYNC (1 2 (1 1,3,5,7)))\r\n", 39, true),
    ] {
        let e = if command {
            command_error(input, &small)
        } else {
            response_error(input, &small)
        };
        assert_eq!(
            (e.kind, e.offset),
            (ErrorKind::TooMany { limit: 3 }, offset),
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
    assert!(matches!(
        decode_resp_with(b"* VANISHED 1,3,5\r\n", &small),
        Response::Vanished { .. }
    ));
}

/// `* VANISHED (EARLIER) 1,3,5,...` with `count` separate UIDs.
fn many_vanished(count: u32) -> Vec<u8> {
    let mut line = b"* VANISHED (EARLIER) 1".to_vec();
    for i in 1..count {
        line.push(b',');
        line.extend_from_slice((2 * i + 1).to_string().as_bytes());
    }
    line.extend_from_slice(b"\r\n");
    line
}

fn check_many_vanished(count: u32, config: &DecoderConfig) {
    let line = many_vanished(count);
    assert!(config.limits.list >= 1_000_000);
    let r = decode_resp_with(&line, config);
    let Response::Vanished { earlier: true, uids } = &r else {
        panic!()
    };
    assert_eq!(uids.count(), u64::from(count));
    assert!(uids.contains(2 * count - 1) && !uids.contains(2 * count));
    assert_eq!(to_bytes(&r.encode()), line);
}

/// A large VANISHED (EARLIER) that fits the 4 MiB lines of `long_lines`.
#[test]
fn a_large_vanished_response_decodes_within_limits() {
    check_many_vanished(300_000, &long_lines());
}

/// The million UIDs of a mailbox resynchronised after a large expunge:
/// about 7.4 MB on one line, within the default limits once responses may
/// have longer lines than commands.
#[test]
fn a_million_vanished_uids_decode_within_limits() {
    check_many_vanished(1_000_000, &DecoderConfig::STRICT);
}

#[test]
fn an_empty_search_result_drops_its_modseq() {
    // The grammar puts (MODSEQ n) only after a number ("omitted if no
    // match", RFC 7162 section 3.1.6).
    let r = Response::Search {
        numbers: vec![],
        modseq: Some(ModSeq::MIN),
    };
    assert_eq!(to_bytes(&r.encode()), b"* SEARCH\r\n");
}

/// The fuzz seeds of this extension are valid and strict (the first byte
/// picks the fuzzer's leniency).
#[test]
fn fuzz_seeds_decode_strictly() {
    let seeds = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds");
    for (dir, names, command) in [
        (
            "imap_command",
            &[
                "fetch-modseq-changedsince-vanished",
                "store-unchangedsince-zero",
                "select-qresync-seq-match",
                "examine-condstore",
                "search-modseq-entry",
                "search-modseq",
                "status-highestmodseq",
            ][..],
            true,
        ),
        (
            "imap_response",
            &[
                "fetch-modseq",
                "code-highestmodseq",
                "code-nomodseq",
                "code-modified",
                "status-highestmodseq",
                "search-modseq",
                "esearch-modseq",
                "vanished-earlier",
                "vanished",
            ][..],
            false,
        ),
    ] {
        for name in names {
            let bytes = std::fs::read(seeds.join(dir).join(name)).unwrap();
            if command {
                decode_cmd_with(&bytes[1..], &DecoderConfig::STRICT);
            } else {
                decode_resp_with(&bytes[1..], &DecoderConfig::STRICT);
            }
        }
    }
}

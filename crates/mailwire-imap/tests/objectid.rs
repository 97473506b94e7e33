//! OBJECTID (RFC 8474) and APPENDLIMIT (RFC 7889): the examples of RFC 8474
//! sections 4, 5 and 7 and RFC 7889 section 4 decoded, re-encoded and
//! compared with typed values (MAILBOXID code and status value, EMAILID and
//! THREADID fetch items and data, the search keys, APPENDLIMIT numbers and
//! NIL); malformed identifiers with error offsets; property tests.

mod codec_support;

use codec_support::*;
use mailwire_imap::{
    Code, Command, CommandBody, Date, DecoderConfig, ErrorKind, Fetch, FetchItem, FetchItems, LiteralPolicy,
    Mailbox, MailboxStatus, MessageDataItem, ObjectId, RespText, Response, Search, SearchKey,
    StatusAttribute, StatusValue, Tag, to_bytes,
};
use proptest::prelude::*;

fn id(s: &str) -> ObjectId<'_> {
    ObjectId::new(s).unwrap()
}

#[test]
fn rfc8474_examples() {
    // Section 4.1: CREATE and SELECT report the MAILBOXID.
    let r = response_round_trip(b"3 OK [MAILBOXID (F2212ea87-6097-4256-9d51-71338625)] Completed\r\n");
    let Response::Status {
        text: RespText {
            code: Some(Code::MailboxId(m)),
            ..
        },
        ..
    } = &r
    else {
        panic!("{r:?}")
    };
    assert_eq!(m, &id("F2212ea87-6097-4256-9d51-71338625"));
    response_round_trip(b"* OK [MAILBOXID (F2212ea87-6097-4256-9d51-71338625)] Ok\r\n");
    // Section 4.2: STATUS.
    let c = command_encodes_as(
        b"6 status foo (mailboxid)\r\n",
        LiteralPolicy::SyncOnly,
        b"6 STATUS foo (MAILBOXID)\r\n",
    );
    assert!(
        matches!(&c.body, CommandBody::Status { attributes, .. } if attributes == &[StatusAttribute::MailboxId])
    );
    let r = response_round_trip(b"* STATUS bar (MAILBOXID (F6352ae03-b7f5-463c-896f-d8b48ee3))\r\n");
    let Response::MailboxStatus(MailboxStatus { values, .. }) = &r else {
        panic!()
    };
    assert_eq!(
        values,
        &[StatusValue::MailboxId(id("F6352ae03-b7f5-463c-896f-d8b48ee3"))]
    );
    assert_eq!(values[0].attribute(), StatusAttribute::MailboxId);
    command_encodes_as(
        b"11 list \"\" \"*\" return (status (mailboxid))\r\n",
        LiteralPolicy::SyncOnly,
        b"11 LIST \"\" \"*\" RETURN (STATUS (MAILBOXID))\r\n",
    );
    response_round_trip(b"* STATUS INBOX (MAILBOXID (Ff8e3ead4-9389-4aff-adb1-d8d89efd8cbf))\r\n");
    // Section 5: FETCH EMAILID and THREADID.
    let c = command_encodes_as(
        b"22 fetch 1:* (emailid threadid)\r\n",
        LiteralPolicy::SyncOnly,
        b"22 FETCH 1:* (EMAILID THREADID)\r\n",
    );
    let CommandBody::Fetch { fetch, .. } = &c.body else {
        panic!()
    };
    assert_eq!(
        fetch.items,
        FetchItems::List(vec![FetchItem::EmailId, FetchItem::ThreadId])
    );
    let r = response_round_trip(b"* 1 FETCH (EMAILID (M6d99ac3275bb4e) THREADID (T64b478a75b7ea9))\r\n");
    let Response::Fetch { items, .. } = &r else {
        panic!()
    };
    assert_eq!(
        items,
        &[
            MessageDataItem::EmailId(id("M6d99ac3275bb4e")),
            MessageDataItem::ThreadId(Some(id("T64b478a75b7ea9")))
        ]
    );
    response_round_trip(b"* 3 FETCH (EMAILID (M5fdc09b49ea703) THREADID (T11863d02dd95b5))\r\n");
    let r = response_round_trip(b"* 2 FETCH (EMAILID (M288836c4c7a762) THREADID NIL)\r\n");
    let Response::Fetch { items, .. } = &r else {
        panic!()
    };
    assert_eq!(items[1], MessageDataItem::ThreadId(None));
    command_round_trip(b"27 UID FETCH 1:* (UID EMAILID THREADID) (CHANGEDSINCE 5)\r\n");
    // Section 7: the search keys.
    let c = command_round_trip(b"27 SEARCH EMAILID M6d99ac3275bb4e\r\n");
    let CommandBody::Search { search, .. } = &c.body else {
        panic!()
    };
    assert_eq!(search.keys, [SearchKey::EmailId(id("M6d99ac3275bb4e"))]);
    let c = command_encodes_as(
        b"28 uid search threadid T64b478a75b7ea9 not emailid M_x-1\r\n",
        LiteralPolicy::SyncOnly,
        b"28 UID SEARCH THREADID T64b478a75b7ea9 NOT EMAILID M_x-1\r\n",
    );
    let CommandBody::Search { search, uid: true } = &c.body else {
        panic!()
    };
    assert_eq!(search.keys[0], SearchKey::ThreadId(id("T64b478a75b7ea9")));
}

#[test]
fn rfc7889_examples() {
    let c = command_round_trip(b"t1 STATUS INBOX (APPENDLIMIT)\r\n");
    assert!(
        matches!(&c.body, CommandBody::Status { attributes, .. } if attributes == &[StatusAttribute::AppendLimit])
    );
    let r = response_round_trip(b"* STATUS INBOX (APPENDLIMIT 257890)\r\n");
    let Response::MailboxStatus(s) = &r else { panic!() };
    assert_eq!(s.values, [StatusValue::AppendLimit(Some(257890))]);
    let r = response_round_trip(b"* STATUS INBOX (APPENDLIMIT NIL)\r\n");
    let Response::MailboxStatus(s) = &r else { panic!() };
    assert_eq!(s.values, [StatusValue::AppendLimit(None)]);
    response_encodes_as(
        b"* STATUS \"INBOX\" (appendlimit nil)\r\n",
        b"* STATUS INBOX (APPENDLIMIT NIL)\r\n",
    );
    command_round_trip(b"t1 LIST \"\" % RETURN (STATUS (APPENDLIMIT))\r\n");
    response_round_trip(b"* STATUS x (APPENDLIMIT 0 MAILBOXID (a))\r\n");
    response_round_trip(b"* CAPABILITY IMAP4rev1 ID APPENDLIMIT=257890\r\n");
}

#[test]
fn malformed_and_hostile() {
    let strict = DecoderConfig::STRICT;
    let resp = |input: &[u8], offset: usize| {
        let e = response_error(input, &strict);
        assert_eq!(e.offset, offset, "{:?}: {e:?}", String::from_utf8_lossy(input));
    };
    resp(b"* STATUS x (MAILBOXID ())\r\n", 23);
    resp(b"* STATUS x (MAILBOXID (a.b))\r\n", 24);
    resp(b"* STATUS x (MAILBOXID abc)\r\n", 22);
    resp(b"* STATUS x (APPENDLIMIT -1)\r\n", 24);
    resp(b"* STATUS x (APPENDLIMIT 4294967296)\r\n", 24);
    resp(b"* 1 FETCH (EMAILID NIL)\r\n", 19);
    resp(b"* 1 FETCH (EMAILID (M1 M2))\r\n", 22);
    resp(b"* 1 FETCH (THREADID (T1)x)\r\n", 24);
    resp(b"* 1 FETCH (THREADID T1)\r\n", 20);
    // 255 octets are fine, 256 are not; the error is at the 256th.
    let long = "a".repeat(256);
    response_round_trip(format!("* 1 FETCH (EMAILID ({}))\r\n", &long[1..]).as_bytes());
    resp(format!("* 1 FETCH (EMAILID ({long}))\r\n").as_bytes(), 20 + 255);
    let e = command_error(format!("s SEARCH EMAILID {long}\r\n").as_bytes(), &strict);
    assert_eq!(
        (e.offset, e.kind, e.tag.unwrap().as_str()),
        (17 + 255, ErrorKind::Syntax, "s")
    );
    let e = command_error(b"s SEARCH EMAILID\r\n", &strict);
    assert_eq!(e.offset, 16);
    let e = command_error(b"s SEARCH THREADID a/b\r\n", &strict);
    assert_eq!(e.offset, 19);
    // A MAILBOXID code of another form stays generic.
    let r = response_round_trip(b"a OK [MAILBOXID F1] x\r\n");
    assert!(matches!(
        &r,
        Response::Status {
            text: RespText {
                code: Some(Code::Other { .. }),
                ..
            },
            ..
        }
    ));
    // Constructors.
    assert!(ObjectId::new("").is_err());
    assert_eq!(ObjectId::new("ab.c").unwrap_err().position, Some(2));
    assert!(ObjectId::new("a".repeat(256)).is_err());
    // RFC 8474 section 4: 1 to 255 characters.
    assert_eq!(ObjectId::new("a".repeat(255)).unwrap().as_str().len(), 255);
    assert_eq!(ObjectId::new("a").unwrap().as_str(), "a");
}

fn objectid_strategy() -> impl Strategy<Value = ObjectId<'static>> {
    "[A-Za-z0-9_-]{1,40}".prop_map(|s| ObjectId::new(s).unwrap())
}

proptest! {
    #[test]
    fn generated_objectids_round_trip(
        mailbox_id in objectid_strategy(),
        email in objectid_strategy(),
        thread in proptest::option::of(objectid_strategy()),
        limit in proptest::option::of(any::<u32>()),
        uid in any::<bool>(),
    ) {
        let response = Response::MailboxStatus(MailboxStatus {
            mailbox: Mailbox::Inbox,
            values: vec![StatusValue::MailboxId(mailbox_id.clone()), StatusValue::AppendLimit(limit)],
        });
        let bytes = to_bytes(&response.encode());
        prop_assert_eq!(decode_resp_with(&bytes, &DecoderConfig::STRICT), response);
        let response = Response::Fetch {
            seq: std::num::NonZeroU32::new(1).unwrap(),
            items: vec![MessageDataItem::EmailId(email.clone()), MessageDataItem::ThreadId(thread.clone())],
        };
        let bytes = to_bytes(&response.encode());
        prop_assert_eq!(decode_resp_with(&bytes, &DecoderConfig::STRICT), response);
        let mut keys = vec![SearchKey::EmailId(email)];
        keys.extend(thread.map(SearchKey::ThreadId));
        keys.push(SearchKey::Since(Date::new(2020, 1, 1).unwrap()));
        let command = Command { tag: Tag::new("o").unwrap(), body: CommandBody::Search { search: Search::new(keys), uid } };
        let bytes = to_bytes(&command.encode(LiteralPolicy::SyncOnly));
        prop_assert_eq!(decode_cmd_with(&bytes, &DecoderConfig::STRICT), command);
        let command = Command {
            tag: Tag::new("o").unwrap(),
            body: CommandBody::Fetch {
                fetch: Fetch {
                    sequence_set: "1:*".parse().unwrap(),
                    items: FetchItems::List(vec![FetchItem::EmailId, FetchItem::ThreadId]),
                    modifiers: Vec::new(),
                },
                uid,
            },
        };
        let bytes = to_bytes(&command.encode(LiteralPolicy::SyncOnly));
        prop_assert_eq!(decode_cmd_with(&bytes, &DecoderConfig::STRICT), command);
    }
}

//! SAVEDATE (RFC 8514) and PREVIEW (RFC 8970): the forms of their examples
//! (FETCH SAVEDATE with a date and with NIL, the SAVED* and
//! SAVEDATESUPPORTED search keys, FETCH PREVIEW with and without LAZY,
//! PREVIEW text and NIL) decoded, re-encoded and compared with typed values;
//! malformed forms with error offsets; property tests.

mod codec_support;

use codec_support::*;
use mailwire_imap::{
    Command, CommandBody, Date, DateTime, DecoderConfig, Fetch, FetchItem, FetchItems, IString,
    LiteralPolicy, MessageDataItem, NString, Response, Search, SearchKey, Tag, to_bytes,
};
use proptest::prelude::*;

fn items<'a>(r: &'a Response<'a>) -> &'a [MessageDataItem<'a>] {
    match r {
        Response::Fetch { items, .. } => items,
        other => panic!("{other:?}"),
    }
}

#[test]
fn savedate() {
    let c = command_round_trip(b"A1 FETCH 1:3 (UID SAVEDATE)\r\n");
    let CommandBody::Fetch { fetch, .. } = &c.body else {
        panic!()
    };
    assert_eq!(
        fetch.items,
        FetchItems::List(vec![FetchItem::Uid, FetchItem::SaveDate])
    );
    command_round_trip(b"A2 UID FETCH 10 SAVEDATE\r\n");
    let r = response_round_trip(b"* 1 FETCH (UID 1 SAVEDATE \"11-Jan-2019 10:11:12 +0100\")\r\n");
    let want: DateTime = "\"11-Jan-2019 10:11:12 +0100\"".parse().unwrap();
    assert_eq!(items(&r)[1], MessageDataItem::SaveDate(Some(want)));
    let r = response_round_trip(b"* 2 FETCH (UID 2 SAVEDATE NIL)\r\n");
    assert_eq!(items(&r)[1], MessageDataItem::SaveDate(None));

    let c =
        command_round_trip(b"A3 SEARCH SAVEDBEFORE 1-Feb-2019 SAVEDON 2-Feb-2019 SAVEDSINCE 3-Feb-2019\r\n");
    let CommandBody::Search { search, .. } = &c.body else {
        panic!()
    };
    assert_eq!(
        search.keys,
        [
            SearchKey::SavedBefore(Date::new(2019, 2, 1).unwrap()),
            SearchKey::SavedOn(Date::new(2019, 2, 2).unwrap()),
            SearchKey::SavedSince(Date::new(2019, 2, 3).unwrap()),
        ]
    );
    let c = command_encodes_as(
        b"A4 uid search savedatesupported not savedsince \"1-Jan-2020\"\r\n",
        LiteralPolicy::SyncOnly,
        b"A4 UID SEARCH SAVEDATESUPPORTED NOT SAVEDSINCE 1-Jan-2020\r\n",
    );
    let CommandBody::Search { search, uid: true } = &c.body else {
        panic!()
    };
    assert_eq!(search.keys[0], SearchKey::SaveDateSupported);
    command_round_trip(b"A5 SEARCH OR SAVEDATESUPPORTED (SAVEDON 1-Jan-2020 UID 1:5)\r\n");
}

#[test]
fn preview() {
    let c = command_round_trip(b"A1 FETCH 1 (PREVIEW)\r\n");
    let CommandBody::Fetch { fetch, .. } = &c.body else {
        panic!()
    };
    assert_eq!(
        fetch.items,
        FetchItems::List(vec![FetchItem::Preview { lazy: false }])
    );
    let c = command_round_trip(b"A2 FETCH 1:4 (UID PREVIEW (LAZY))\r\n");
    let CommandBody::Fetch { fetch, .. } = &c.body else {
        panic!()
    };
    assert_eq!(fetch.items.items()[1], FetchItem::Preview { lazy: true });
    command_encodes_as(
        b"A3 fetch 1 preview (lazy)\r\n",
        LiteralPolicy::SyncOnly,
        b"A3 FETCH 1 PREVIEW (LAZY)\r\n",
    );
    // After a lone PREVIEW, a list that is not LAZY is the fetch modifiers.
    let c = command_round_trip(b"A4 FETCH 1 PREVIEW (CHANGEDSINCE 12345)\r\n");
    let CommandBody::Fetch { fetch, .. } = &c.body else {
        panic!()
    };
    assert_eq!(
        (fetch.items.items(), fetch.modifiers.len()),
        (&[FetchItem::Preview { lazy: false }][..], 1)
    );
    let c = command_round_trip(b"A5 FETCH 1 PREVIEW (LAZY) (CHANGEDSINCE 12345)\r\n");
    let CommandBody::Fetch { fetch, .. } = &c.body else {
        panic!()
    };
    assert_eq!(
        (fetch.items.items(), fetch.modifiers.len()),
        (&[FetchItem::Preview { lazy: true }][..], 1)
    );

    let r = response_round_trip(b"* 1 FETCH (PREVIEW \"Preview text!\")\r\n");
    assert!(
        matches!(&items(&r)[0], MessageDataItem::Preview(p) if p.as_bytes() == Some(&b"Preview text!"[..]))
    );
    let r = response_round_trip(b"* 2 FETCH (UID 2 PREVIEW NIL)\r\n");
    assert_eq!(items(&r)[1], MessageDataItem::Preview(NString::NIL));
    response_round_trip(b"* 3 FETCH (PREVIEW \"\")\r\n");
    response_round_trip(b"* 4 FETCH (PREVIEW {12}\r\nline\r\nbreak!)\r\n");
}

#[test]
fn malformed() {
    let strict = DecoderConfig::STRICT;
    for (input, offset) in [
        (&b"t FETCH 1 (PREVIEW (LAZY X))\r\n"[..], 25),
        (b"t FETCH 1 (PREVIEW (LAZY)\r\n", 25),
        (b"t FETCH 1 (PREVIEW (FAST))\r\n", 19),
        (b"t FETCH 1 (SAVEDATE[])\r\n", 19),
        (b"t SEARCH SAVEDON\r\n", 16),
        (b"t SEARCH SAVEDBEFORE 31-Feb-2020\r\n", 21),
        (b"t SEARCH SAVEDATESUPPORTEDX\r\n", 9),
    ] {
        let e = command_error(input, &strict);
        assert_eq!(
            (e.offset, e.tag.map(|t| t.as_str().to_owned())),
            (offset, Some("t".to_owned())),
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
    for (input, offset) in [
        (&b"* 1 FETCH (SAVEDATE \"1-Jan-2020\")\r\n"[..], 22),
        (b"* 1 FETCH (SAVEDATE)\r\n", 19),
        (b"* 1 FETCH (PREVIEW abc)\r\n", 19),
    ] {
        let e = response_error(input, &strict);
        assert_eq!(e.offset, offset, "{:?}", String::from_utf8_lossy(input));
    }
}

fn date_strategy() -> impl Strategy<Value = Date> {
    (1900u16..2100, 1u8..=12, 1u8..=28).prop_map(|(y, m, d)| Date::new(y, m, d).unwrap())
}

proptest! {
    #[test]
    fn generated_savedate_and_preview_round_trip(
        date in date_strategy(),
        time in (0u8..24, 0u8..60, 0u8..60, -720i16..=720),
        saved in any::<bool>(),
        text in proptest::option::of("[ -~]{0,30}|[\\x01-\\x7f]{0,20}"),
        lazy in any::<bool>(),
        which in 0usize..4,
    ) {
        let save_date = saved.then(|| DateTime::new(date, time.0, time.1, time.2, time.3).unwrap());
        let preview = NString(text.map(|t| IString::from_bytes(t.into_bytes()).unwrap()));
        let response = Response::Fetch {
            seq: std::num::NonZeroU32::new(7).unwrap(),
            items: vec![MessageDataItem::SaveDate(save_date), MessageDataItem::Preview(preview)],
        };
        let bytes = to_bytes(&response.encode());
        prop_assert_eq!(decode_resp_with(&bytes, &DecoderConfig::STRICT), response);
        let key = [SearchKey::SavedBefore(date), SearchKey::SavedOn(date), SearchKey::SavedSince(date), SearchKey::SaveDateSupported][which].clone();
        let command = Command {
            tag: Tag::new("p").unwrap(),
            body: CommandBody::Search { search: Search::new(vec![SearchKey::Not(Box::new(key))]), uid: lazy },
        };
        let bytes = to_bytes(&command.encode(LiteralPolicy::SyncOnly));
        prop_assert_eq!(decode_cmd_with(&bytes, &DecoderConfig::STRICT), command);
        for items in [
            FetchItems::Item(FetchItem::Preview { lazy }),
            FetchItems::List(vec![FetchItem::Preview { lazy }, FetchItem::SaveDate]),
        ] {
            let command = Command {
                tag: Tag::new("p").unwrap(),
                body: CommandBody::Fetch {
                    fetch: Fetch { sequence_set: "1".parse().unwrap(), items, modifiers: Vec::new() },
                    uid: false,
                },
            };
            let bytes = to_bytes(&command.encode(LiteralPolicy::SyncOnly));
            prop_assert_eq!(decode_cmd_with(&bytes, &DecoderConfig::STRICT), command);
        }
    }
}

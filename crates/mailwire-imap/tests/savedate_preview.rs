//! SAVEDATE (RFC 8514) and PREVIEW (RFC 8970): the forms of their examples
//! (FETCH SAVEDATE with a date and with NIL, the SAVED* and
//! SAVEDATESUPPORTED search keys, FETCH PREVIEW with and without LAZY,
//! PREVIEW text and NIL) decoded, re-encoded and compared with typed values;
//! the drafts' `PREVIEW (FUZZY ...)` of older Dovecot builds, decoded where
//! the leniency allows it and re-encoded in the RFC form; malformed forms
//! with error offsets; property tests.

mod codec_support;

use codec_support::*;
use mailwire_imap::{
    Command, CommandBody, Date, DateTime, DecoderConfig, Fetch, FetchItem, FetchItems, IString, Leniency,
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
    let want = DateTime::new(Date::new(2019, 1, 11).unwrap(), 10, 11, 12, 60).unwrap();
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

/// Dovecot 2.3 builds from before RFC 8970 answer PREVIEW (and SNIPPET)
/// as `(FUZZY nstring)`: the lenient default reads PREVIEW's as the RFC's
/// PREVIEW item and writes it in the RFC form; strictly it is an error.
/// SNIPPET has no variant and stays as sent.
#[test]
fn pre_rfc_fuzzy_preview() {
    let lenient = DecoderConfig::default();
    for (input, rfc, text) in [
        (
            &b"* 1 FETCH (UID 1 PREVIEW (FUZZY \"Preview text!\"))\r\n"[..],
            &b"* 1 FETCH (UID 1 PREVIEW \"Preview text!\")\r\n"[..],
            Some(&b"Preview text!"[..]),
        ),
        (
            b"* 2 FETCH (PREVIEW (FUZZY NIL) UID 2)\r\n",
            b"* 2 FETCH (PREVIEW NIL UID 2)\r\n",
            None,
        ),
        (
            b"* 3 FETCH (PREVIEW (fuzzy {12}\r\nline\r\nbreak!))\r\n",
            b"* 3 FETCH (PREVIEW {12}\r\nline\r\nbreak!)\r\n",
            Some(&b"line\r\nbreak!"[..]),
        ),
    ] {
        let r = response_encodes_as_with(input, rfc, &lenient);
        let preview = items(&r).iter().find_map(|i| match i {
            MessageDataItem::Preview(p) => Some(p.as_bytes()),
            _ => None,
        });
        assert_eq!(preview, Some(text), "{r:?}");
        assert_eq!(decode_resp_with(rfc, &DecoderConfig::STRICT), r);
    }
    // The switch alone is enough; with the extra-spaces leniency, spaces
    // inside the parentheses pass too.
    let only_this = DecoderConfig {
        leniency: Leniency {
            fuzzy_preview: true,
            ..Leniency::STRICT
        },
        ..DecoderConfig::STRICT
    };
    let r = decode_resp_with(b"* 1 FETCH (PREVIEW (FUZZY \"x\"))\r\n", &only_this);
    assert!(matches!(&items(&r)[0], MessageDataItem::Preview(p) if p.as_bytes() == Some(&b"x"[..])));
    response_encodes_as_with(
        b"* 1 FETCH (PREVIEW ( FUZZY  \"x\" ))\r\n",
        b"* 1 FETCH (PREVIEW \"x\")\r\n",
        &lenient,
    );
    // SNIPPET, the name of the same drafts, is no typed item.
    let r = response_round_trip(b"* 1 FETCH (SNIPPET (FUZZY \"x\"))\r\n");
    assert!(matches!(&items(&r)[0], MessageDataItem::Other { name, .. } if name.as_str() == "SNIPPET"));

    let not_this = DecoderConfig {
        leniency: Leniency {
            fuzzy_preview: false,
            ..Leniency::LENIENT
        },
        ..lenient
    };
    for (input, offset, config) in [
        (
            &b"* 1 FETCH (PREVIEW (FUZZY \"x\"))\r\n"[..],
            19,
            &DecoderConfig::STRICT,
        ),
        (b"* 1 FETCH (PREVIEW (FUZZY \"x\"))\r\n", 19, &not_this),
        (b"* 1 FETCH (PREVIEW (LAZY \"x\"))\r\n", 20, &lenient),
        (b"* 1 FETCH (PREVIEW (FUZZY))\r\n", 25, &lenient),
        (b"* 1 FETCH (PREVIEW (FUZZYNIL))\r\n", 25, &lenient),
        (b"* 1 FETCH (PREVIEW (FUZZY \"x\" \"y\"))\r\n", 29, &only_this),
        (b"* 1 FETCH (PREVIEW (FUZZY \"x\"\r\n", 29, &lenient),
        (b"* 1 FETCH (PREVIEW (FUZZY abc))\r\n", 26, &lenient),
    ] {
        let e = response_error(input, config);
        assert_eq!(e.offset, offset, "{:?}: {e:?}", String::from_utf8_lossy(input));
    }
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
    /// The drafts' `(FUZZY text)` decodes, leniently, to what the RFC form
    /// of the same text does.
    #[test]
    fn fuzzy_previews_decode_as_the_rfc_form(text in proptest::option::of("[ -~]{0,30}|[\\x01-\\x7f]{0,20}")) {
        let response = Response::Fetch {
            seq: std::num::NonZeroU32::new(3).unwrap(),
            items: vec![MessageDataItem::Preview(NString(text.map(|t| IString::from_bytes(t.into_bytes()).unwrap())))],
        };
        let rfc = to_bytes(&response.encode());
        let at = b"* 3 FETCH (PREVIEW ".len();
        let fuzzy = [&rfc[..at], b"(FUZZY ", &rfc[at..rfc.len() - 3], b"))\r\n"].concat();
        prop_assert_eq!(decode_resp_with(&fuzzy, &DecoderConfig::default()), response);
    }

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

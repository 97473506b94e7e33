//! WITHIN (RFC 5032): the OLDER and YOUNGER search keys, from the RFC's
//! example, in every position a search key can take; malformed intervals
//! with their offsets; a property test that generated keys round-trip.

mod codec_support;

use std::num::NonZeroU32;

use codec_support::*;
use mailwire_imap::{
    Command, CommandBody, DecoderConfig, ErrorKind, LiteralPolicy, Search, SearchKey, Tag, to_bytes,
};
use proptest::prelude::*;

fn keys<'a>(c: &'a Command<'a>) -> &'a [SearchKey<'a>] {
    match &c.body {
        CommandBody::Search { search, .. } => &search.keys,
        other => panic!("not a search: {other:?}"),
    }
}

fn secs(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap()
}

#[test]
fn rfc5032_example() {
    // RFC 5032 section 3: messages of the last three days, unseen.
    let c = command_round_trip(b"a1 SEARCH UNSEEN YOUNGER 259200\r\n");
    assert_eq!(keys(&c), &[SearchKey::Unseen, SearchKey::Younger(secs(259200))]);
    response_round_trip(b"* SEARCH 4 8 15 16 23 42\r\n");
}

#[test]
fn within_keys_nest_and_ignore_case() {
    let c = command_round_trip(b"a2 UID SEARCH OR OLDER 3600 (YOUNGER 60 SEEN) NOT OLDER 4294967295\r\n");
    let k = keys(&c);
    let SearchKey::Or(a, b) = &k[0] else {
        panic!("{k:?}")
    };
    assert_eq!(**a, SearchKey::Older(secs(3600)));
    assert_eq!(
        **b,
        SearchKey::List(vec![SearchKey::Younger(secs(60)), SearchKey::Seen])
    );
    assert_eq!(k[1], SearchKey::Not(Box::new(SearchKey::Older(secs(u32::MAX)))));
    command_encodes_as(
        b"a3 SEARCH older 10 Younger 5\r\n",
        LiteralPolicy::SyncOnly,
        b"a3 SEARCH OLDER 10 YOUNGER 5\r\n",
    );
    command_round_trip(b"a4 SEARCH RETURN (COUNT) YOUNGER 1\r\n");
}

#[test]
fn malformed_intervals() {
    let c = DecoderConfig::STRICT;
    for (input, offset, kind) in [
        // nz-number: zero is not an interval.
        (&b"a1 SEARCH OLDER 0\r\n"[..], 16, ErrorKind::Syntax),
        (b"a1 SEARCH YOUNGER 007\r\n", 18, ErrorKind::Syntax),
        // Missing argument, missing space.
        (b"a1 SEARCH OLDER\r\n", 15, ErrorKind::Syntax),
        (b"a1 SEARCH YOUNGER\r\n", 17, ErrorKind::Syntax),
        (b"a1 SEARCH OLDER x\r\n", 16, ErrorKind::Syntax),
        // Above 32 bits.
        (b"a1 SEARCH OLDER 4294967296\r\n", 16, ErrorKind::NumberOutOfRange),
    ] {
        let e = command_error(input, &c);
        assert_eq!(
            (e.offset, e.kind),
            (offset, kind),
            "{:?}",
            String::from_utf8_lossy(input)
        );
        assert_eq!(e.tag.unwrap().as_str(), "a1");
    }
}

fn within_key() -> impl Strategy<Value = SearchKey<'static>> {
    let leaf = prop_oneof![
        (1u32..=u32::MAX).prop_map(|n| SearchKey::Older(secs(n))),
        (1u32..=u32::MAX).prop_map(|n| SearchKey::Younger(secs(n))),
        Just(SearchKey::Seen),
    ];
    leaf.prop_recursive(3, 8, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(|k| SearchKey::Not(Box::new(k))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| SearchKey::Or(Box::new(a), Box::new(b))),
            proptest::collection::vec(inner, 1..3).prop_map(SearchKey::List),
        ]
    })
}

proptest! {
    #[test]
    fn generated_within_searches_round_trip(keys in proptest::collection::vec(within_key(), 1..4)) {
        let command = Command {
            tag: Tag::new("w1").unwrap(),
            body: CommandBody::Search { search: Search::new(keys), uid: false },
        };
        let bytes = to_bytes(&command.encode(LiteralPolicy::SyncOnly));
        let decoded = decode_cmd_with(&bytes, &DecoderConfig::STRICT);
        prop_assert_eq!(&decoded, &command);
    }
}

//! MULTISEARCH (RFC 7377): the ESEARCH command with its source options
//! and the ESEARCH responses with a MAILBOX/UIDVALIDITY correlator, in
//! the shape of the RFC's examples; malformed commands and responses with
//! their offsets; property tests that generated values round-trip.

mod codec_support;

use std::num::NonZeroU32;

use codec_support::*;
use mailwire_imap::{
    AString, Atom, Command, CommandBody, DecoderConfig, ESearch, ESearchMailbox, ErrorKind, FilterMailboxes,
    LiteralPolicy, Mailbox, MultiSearch, OneOrMoreMailbox, Response, Search, SearchKey, SearchReturnData,
    SearchReturnOption, SearchSource, SequenceSet, Tag, TaggedExt, TaggedExtVal, to_bytes,
};
use proptest::prelude::*;

fn multisearch<'a>(c: &'a Command<'a>) -> &'a MultiSearch<'a> {
    match &c.body {
        CommandBody::ESearch(s) => s,
        other => panic!("not ESEARCH: {other:?}"),
    }
}

fn quoted(name: &str) -> Mailbox<'_> {
    Mailbox::new(AString::String(
        mailwire_imap::IString::from_bytes(name.as_bytes()).unwrap(),
    ))
}

#[test]
fn rfc7377_examples() {
    let c = command_encodes_as(
        b"tag1 ESEARCH IN (mailboxes \"folder1\" subtree-one \"folder2\") unseen\r\n",
        LiteralPolicy::SyncOnly,
        b"tag1 ESEARCH IN (mailboxes \"folder1\" subtree-one \"folder2\") UNSEEN\r\n",
    );
    let s = multisearch(&c);
    let source = s.source.as_ref().unwrap();
    assert_eq!(
        source.mailboxes,
        vec![
            FilterMailboxes::Mailboxes(OneOrMoreMailbox::One(quoted("folder1"))),
            FilterMailboxes::SubtreeOne(OneOrMoreMailbox::One(quoted("folder2"))),
        ]
    );
    assert!(source.scope_options.is_empty());
    assert_eq!(s.search.keys, vec![SearchKey::Unseen]);
    command_encodes_as(
        b"tag2 ESEARCH IN (mailboxes \"folder1\" subtree-one \"folder2\") subject \"chad\"\r\n",
        LiteralPolicy::SyncOnly,
        b"tag2 ESEARCH IN (mailboxes \"folder1\" subtree-one \"folder2\") SUBJECT \"chad\"\r\n",
    );
    let r = response_round_trip(
        b"* ESEARCH (TAG \"tag1\" MAILBOX \"folder1\" UIDVALIDITY 1) UID ALL 4001,4003,4005,4007,4009\r\n",
    );
    let Response::ESearch(e) = &r else { panic!("{r:?}") };
    assert_eq!(e.tag.as_ref().unwrap().as_bytes(), b"tag1");
    let m = e.mailbox.as_ref().unwrap();
    assert_eq!((m.mailbox.as_bytes(), m.uid_validity.get()), (&b"folder1"[..], 1));
    assert!(e.uid);
    for line in [
        &b"* ESEARCH (TAG \"tag2\" MAILBOX \"folder1\" UIDVALIDITY 1) UID ALL 3001:3004,3788\r\n"[..],
        b"* ESEARCH (TAG \"tag1\" MAILBOX \"folder2/banana\" UIDVALIDITY 503) UID ALL 3002,4004\r\n",
        b"* ESEARCH (TAG \"tag1\" MAILBOX \"folder2/peach\" UIDVALIDITY 3) UID ALL 921691\r\n",
        b"tag1 OK done\r\n",
        b"* ESEARCH (TAG \"tag2\" MAILBOX \"folder2/salmon\" UIDVALIDITY 1111111111) UID ALL 3008:4211\r\n",
        b"tag2 OK done\r\n",
        // A correlator without a mailbox still decodes as before.
        b"* ESEARCH (TAG \"A285\") UID MIN 7 MAX 3800\r\n",
    ] {
        response_round_trip(line);
    }
}

#[test]
fn source_options_return_options_and_no_source() {
    let c = command_round_trip(
        b"t3 ESEARCH IN (personal subscribed subtree (Lists \"a b\") (X-DEPTH 1 X-FLAG)) RETURN (MIN COUNT) CHARSET UTF-8 OLDER 3600\r\n",
    );
    let s = multisearch(&c);
    let source = s.source.as_ref().unwrap();
    assert_eq!(source.mailboxes.len(), 3);
    assert_eq!(source.scope_options.len(), 2);
    assert_eq!(source.scope_options[0].value, Some(TaggedExtVal::Number(1)));
    assert_eq!(
        s.search.return_options,
        Some(vec![SearchReturnOption::Min, SearchReturnOption::Count])
    );
    let c = command_round_trip(b"t4 ESEARCH ALL\r\n");
    assert_eq!(multisearch(&c).source, None);
    command_round_trip(b"t5 ESEARCH IN (selected inboxes) RETURN () FLAGGED\r\n");
    command_encodes_as(
        b"t6 esearch in (Personal) all\r\n",
        LiteralPolicy::SyncOnly,
        b"t6 ESEARCH IN (personal) ALL\r\n",
    );
}

#[test]
fn malformed_esearch() {
    let c = DecoderConfig::STRICT;
    for (input, offset, expected) in [
        (&b"A1 ESEARCH IN () ALL\r\n"[..], 15, "mailbox filter"),
        (b"A1 ESEARCH IN (personal ()) ALL\r\n", 25, "scope option"),
        (b"A1 ESEARCH IN (personal)\r\n", 24, "space"),
        (b"A1 ESEARCH IN (personal (X 1) inboxes) ALL\r\n", 29, "')'"),
        (b"A1 ESEARCH IN (personal ALL\r\n", 24, "mailbox filter"),
        (b"A1 ESEARCH IN (subtree) ALL\r\n", 22, "space"),
        (b"A1 ESEARCH\r\n", 10, "space"),
    ] {
        expect_command_error(input, &c, offset, expected, "A1");
    }
    let mut small = DecoderConfig::STRICT;
    small.limits.list = 2;
    let e = command_error(b"A1 ESEARCH IN (personal inboxes subscribed) ALL\r\n", &small);
    assert_eq!((e.offset, e.kind), (32, ErrorKind::TooMany { limit: 2 }));
    let e = command_error(b"A1 ESEARCH IN (mailboxes (a b c)) ALL\r\n", &small);
    assert_eq!((e.offset, e.kind), (28, ErrorKind::TooMany { limit: 2 }));
    for (input, offset) in [
        (&b"* ESEARCH (TAG \"a\" MAILBOX \"x\") ALL 1\r\n"[..], 30),
        (b"* ESEARCH (TAG \"a\" MAILBOX \"x\" UIDVALIDITY 0) ALL 1\r\n", 43),
        (b"* ESEARCH (TAG \"a\" MAILBOX) ALL 1\r\n", 18),
    ] {
        let e = response_error(input, &c);
        assert_eq!(e.offset, offset, "{:?}", String::from_utf8_lossy(input));
    }
}

fn mailbox_strategy() -> impl Strategy<Value = Mailbox<'static>> {
    prop_oneof!["[A-Za-z]{1,6}(/[a-z]{1,4})?", "[a-z]{1,4} [a-z]{1,4}"]
        .prop_map(|n| Mailbox::new(AString::from_bytes(n.into_bytes()).unwrap()))
}

fn filter_strategy() -> impl Strategy<Value = FilterMailboxes<'static>> {
    let names = prop_oneof![
        mailbox_strategy().prop_map(OneOrMoreMailbox::One),
        proptest::collection::vec(mailbox_strategy(), 1..3).prop_map(OneOrMoreMailbox::List),
    ];
    prop_oneof![
        Just(FilterMailboxes::Selected),
        Just(FilterMailboxes::Inboxes),
        Just(FilterMailboxes::Personal),
        Just(FilterMailboxes::Subscribed),
        names.clone().prop_map(FilterMailboxes::Subtree),
        names.clone().prop_map(FilterMailboxes::SubtreeOne),
        names.prop_map(FilterMailboxes::Mailboxes),
    ]
}

proptest! {
    #[test]
    fn generated_multisearches_round_trip(
        source in proptest::option::of((
            proptest::collection::vec(filter_strategy(), 1..4),
            proptest::collection::vec(
                ("X-[A-Z]{1,5}", proptest::option::of(0u64..1000)).prop_map(|(n, v)| TaggedExt {
                    name: Atom::new(n).unwrap(),
                    value: v.map(TaggedExtVal::Number),
                }),
                0..3,
            ),
        )),
        count in any::<bool>(),
    ) {
        let source = source.map(|(mailboxes, scope_options)| SearchSource { mailboxes, scope_options });
        let mut search = Search::new(vec![SearchKey::Seen, SearchKey::Older(NonZeroU32::new(60).unwrap())]);
        if count {
            search.return_options = Some(vec![SearchReturnOption::Count]);
        }
        let command = Command { tag: Tag::new("m1").unwrap(), body: CommandBody::ESearch(MultiSearch { source, search }) };
        let bytes = to_bytes(&command.encode(LiteralPolicy::SyncOnly));
        prop_assert_eq!(&decode_cmd_with(&bytes, &DecoderConfig::STRICT), &command);
    }

    #[test]
    fn generated_correlators_round_trip(
        tag in "[a-z0-9]{1,6}",
        mailbox in proptest::option::of((mailbox_strategy(), 1u32..)),
        uids in proptest::collection::vec(1u32..100_000, 1..4),
    ) {
        let set: SequenceSet = uids.iter().map(|u| u.to_string()).collect::<Vec<_>>().join(",").parse().unwrap();
        let r = Response::ESearch(ESearch {
            tag: Some(mailwire_imap::Quoted::new(tag.into_bytes()).unwrap()),
            mailbox: mailbox.map(|(mailbox, v)| ESearchMailbox { mailbox, uid_validity: NonZeroU32::new(v).unwrap() }),
            uid: true,
            data: vec![SearchReturnData::All(set)],
        });
        let bytes = to_bytes(&r.encode());
        prop_assert_eq!(&decode_resp_with(&bytes, &DecoderConfig::STRICT), &r);
    }
}

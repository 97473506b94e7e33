//! NOTIFY (RFC 5465): the RFC's commands (its section 3 example with the
//! events of a group unparenthesized, encoded in the grammar's form) and
//! the responses it shows, the NOTIFICATIONOVERFLOW and BADEVENT codes;
//! malformed and hostile commands with their offsets; property tests that
//! generated commands and codes round-trip.

mod codec_support;

use codec_support::*;
use mailwire_imap::{
    AString, Atom, Code, Command, CommandBody, DecoderConfig, ErrorKind, EventGroup, FetchItem,
    FilterMailboxes, LiteralPolicy, Mailbox, Notify, NotifyEvent, OneOrMoreMailbox, RespText, Response,
    Status, Tag, to_bytes,
};
use proptest::prelude::*;

fn notify<'a>(c: &'a Command<'a>) -> (bool, &'a [EventGroup<'a>]) {
    match &c.body {
        CommandBody::Notify(Notify::Set { status, groups }) => (*status, groups),
        other => panic!("not NOTIFY SET: {other:?}"),
    }
}

fn mailbox(name: &str) -> Mailbox<'_> {
    Mailbox::new(AString::from_bytes(name.as_bytes()).unwrap())
}

#[test]
fn rfc5465_section_3_example() {
    let c = command_encodes_as(
        b"b notify set status (selected MessageNew (uid body.peek[header.fields (from to subject)]) MessageExpunge) (subtree Lists MessageNew)\r\n",
        LiteralPolicy::SyncOnly,
        b"b NOTIFY SET STATUS (selected (MessageNew (UID BODY.PEEK[HEADER.FIELDS (from to subject)]) MessageExpunge)) (subtree Lists (MessageNew))\r\n",
    );
    let (status, groups) = notify(&c);
    assert!(status);
    assert_eq!(groups.len(), 2);
    assert_eq!(groups[0].filter, FilterMailboxes::Selected);
    let events = groups[0].events.as_ref().unwrap();
    let NotifyEvent::MessageNew(items) = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(items.len(), 2);
    assert_eq!(items[0], FetchItem::Uid);
    assert!(matches!(items[1], FetchItem::BodySection { peek: true, .. }));
    assert_eq!(events[1], NotifyEvent::MessageExpunge);
    assert_eq!(
        groups[1].filter,
        FilterMailboxes::Subtree(OneOrMoreMailbox::One(mailbox("Lists")))
    );
    assert_eq!(groups[1].events, Some(vec![NotifyEvent::MessageNew(Vec::new())]));

    for line in [
        &b"* STATUS Lists/Lemonade (UIDVALIDITY 4 UIDNEXT 9999 MESSAGES 500)\r\n"[..],
        b"* STATUS Lists/Im2000 (UIDVALIDITY 901 UIDNEXT 1 MESSAGES 0)\r\n",
        b"b OK done\r\n",
        b"* STATUS Lists/Lemonade (UIDVALIDITY 4 UIDNEXT 10000 MESSAGES 501)\r\n",
        b"* 127 FETCH (UID 127001 BODY[HEADER.FIELDS (From To Subject)] {75}\r\nSubject: Re: good morning\r\nFrom: alice@example.org\r\nTo: bob@example.org\r\n\r\n)\r\n",
        b"* STATUS misc (UIDVALIDITY 1 UIDNEXT 999)\r\n",
    ] {
        response_round_trip(line);
    }
    let c = command_encodes_as(
        b"e notify set (selected MessageNew (uid body.peek[header.fields (from to subject)]) MessageExpunge) (subtree Lists MessageNew) (mailboxes misc MessageNew)\r\n",
        LiteralPolicy::SyncOnly,
        b"e NOTIFY SET (selected (MessageNew (UID BODY.PEEK[HEADER.FIELDS (from to subject)]) MessageExpunge)) (subtree Lists (MessageNew)) (mailboxes misc (MessageNew))\r\n",
    );
    let (status, groups) = notify(&c);
    assert!(!status);
    assert_eq!(
        groups[2].filter,
        FilterMailboxes::Mailboxes(OneOrMoreMailbox::One(mailbox("misc")))
    );
}

#[test]
fn rfc5465_section_5_and_6_examples() {
    let c = command_encodes_as(
        b"a notify set (mailboxes INBOX (Messagenew messageExpunge)) (personal (SubscriptionChange))\r\n",
        LiteralPolicy::SyncOnly,
        b"a NOTIFY SET (mailboxes INBOX (MessageNew MessageExpunge)) (personal (SubscriptionChange))\r\n",
    );
    let (_, groups) = notify(&c);
    assert_eq!(
        groups[0].filter,
        FilterMailboxes::Mailboxes(OneOrMoreMailbox::One(Mailbox::Inbox))
    );
    assert_eq!(groups[1].filter, FilterMailboxes::Personal);
    assert_eq!(groups[1].events, Some(vec![NotifyEvent::SubscriptionChange]));
    let c = command_encodes_as(
        b"a notify set (selected (Messagenew (uid flags) messageExpunge)) (personal (MessageNew FlagChange MessageExpunge))\r\n",
        LiteralPolicy::SyncOnly,
        b"a NOTIFY SET (selected (MessageNew (UID FLAGS) MessageExpunge)) (personal (MessageNew FlagChange MessageExpunge))\r\n",
    );
    let (_, groups) = notify(&c);
    assert_eq!(
        groups[0].events.as_ref().unwrap()[0],
        NotifyEvent::MessageNew(vec![FetchItem::Uid, FetchItem::Flags])
    );
    for line in [
        &b"* 99 FETCH (UID 9999 FLAGS ($Junk))\r\n"[..],
        b"* STATUS Lists/Lemonade (HIGHESTMODSEQ 65666665 UIDVALIDITY 101)\r\n",
        b"* 444 EXISTS\r\n",
        b"* 444 FETCH (UID 9999)\r\n",
        b"* STATUS Lists/Lemonade (UIDNEXT 10002 MESSAGES 503)\r\n",
        b"* 444 EXPUNGE\r\n",
        b"* STATUS misc (UIDNEXT 999 MESSAGES 554)\r\n",
        b"* LIST () \"/\" \"NewMailbox\"\r\n",
        b"* LIST (\\NonExistent) \".\" \"INBOX.DeletedMailbox\"\r\n",
        b"* LIST () \"/\" \"NewMailbox\" (\"OLDNAME\" (\"OldMailbox\"))\r\n",
        b"* LIST (\\Subscribed) \"/\" \"SubscribedMailbox\"\r\n",
    ] {
        response_round_trip(line);
    }
}

#[test]
fn every_filter_and_event_round_trips() {
    let c = command_round_trip(
        b"A2 NOTIFY SET STATUS (selected-delayed (MessageNew (UID FLAGS) MessageExpunge FlagChange AnnotationChange)) (inboxes NONE) (subscribed (MailboxName SubscriptionChange MailboxMetadataChange ServerMetadataChange X-Custom)) (subtree (Lists \"Other Folder\") (MessageNew MessageExpunge)) (subtree-one Archive (MailboxName))\r\n",
    );
    let (_, groups) = notify(&c);
    assert_eq!(groups[0].filter, FilterMailboxes::SelectedDelayed);
    assert_eq!(groups[1].events, None);
    assert_eq!(
        groups[2].events.as_ref().unwrap()[4],
        NotifyEvent::Other(Atom::new("X-Custom").unwrap())
    );
    let FilterMailboxes::Subtree(OneOrMoreMailbox::List(names)) = &groups[3].filter else {
        panic!()
    };
    assert_eq!(names[1].as_bytes(), b"Other Folder");
    let c = command_round_trip(b"A3 NOTIFY NONE\r\n");
    assert_eq!(c.body, CommandBody::Notify(Notify::None));
    // NONE alone ends a group; a NONE among events is an event-ext.
    command_round_trip(b"A4 NOTIFY SET (personal (NONE))\r\n");
}

#[test]
fn notify_codes() {
    let r = response_round_trip(b"* OK [NOTIFICATIONOVERFLOW] ...A comment can go here...\r\n");
    assert!(matches!(
        r,
        Response::Status {
            text: RespText {
                code: Some(Code::NotificationOverflow),
                ..
            },
            ..
        }
    ));
    let r = response_round_trip(b"a1 NO [BADEVENT (MessageNew MessageExpunge)] Unsupported event\r\n");
    let Response::Status {
        status: Status::No,
        text: RespText {
            code: Some(Code::BadEvent(events)),
            ..
        },
        ..
    } = &r
    else {
        panic!("{r:?}")
    };
    assert_eq!(
        events,
        &[NotifyEvent::MessageNew(Vec::new()), NotifyEvent::MessageExpunge]
    );
    response_encodes_as(
        b"a2 NO [badevent (messagenew X-Other)] no\r\n",
        b"a2 NO [BADEVENT (MessageNew X-Other)] no\r\n",
    );
    for (input, offset) in [
        (&b"a3 NO [BADEVENT ()] x\r\n"[..], 17),
        (b"a3 NO [BADEVENT] x\r\n", 15),
        (b"a3 NO [BADEVENT (x] y\r\n", 18),
    ] {
        let e = response_error(input, &DecoderConfig::STRICT);
        assert_eq!(
            (e.offset, e.tag.unwrap().as_str()),
            (offset, "a3"),
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn malformed_notify_commands() {
    let c = DecoderConfig::STRICT;
    for (input, offset, expected) in [
        (&b"A1 NOTIFY\r\n"[..], 9, "space"),
        (b"A1 NOTIFY GET\r\n", 10, "SET or NONE"),
        (b"A1 NOTIFY SET\r\n", 13, "space and event group"),
        (b"A1 NOTIFY SET STATUS\r\n", 20, "space and event group"),
        (b"A1 NOTIFY SET selected\r\n", 14, "'(' and event group"),
        (b"A1 NOTIFY SET (bogus (MessageNew))\r\n", 15, "mailbox filter"),
        (b"A1 NOTIFY SET (selected)\r\n", 23, "space"),
        (b"A1 NOTIFY SET (selected ())\r\n", 25, "event"),
        (b"A1 NOTIFY SET (mailboxes ())\r\n", 26, "mailbox"),
        (b"A1 NOTIFY SET (subtree (MessageNew))\r\n", 35, "space"),
        (
            b"A1 NOTIFY SET (selected (MessageNew ()))\r\n",
            37,
            "fetch attribute",
        ),
        (b"A1 NOTIFY SET (selected (MessageNew)\r\n", 36, "')'"),
        (
            b"A1 NOTIFY SET (selected (MessageNew MessageExpunge)))\r\n",
            52,
            "CRLF",
        ),
        (
            b"A1 NOTIFY SET (selected (MessageNew)) \r\n",
            38,
            "'(' and event group",
        ),
        (b"A1 NOTIFY NONE STATUS\r\n", 14, "CRLF"),
    ] {
        expect_command_error(input, &c, offset, expected, "A1");
    }
    // A trailing space is what Dovecot-era clients send; the lenient
    // decoder takes it, as the command without it.
    assert_eq!(
        decode_cmd_with(
            b"A1 NOTIFY SET (selected (MessageNew)) \r\n",
            &DecoderConfig::default()
        ),
        decode_cmd_with(b"A1 NOTIFY SET (selected (MessageNew))\r\n", &c)
    );
}

#[test]
fn hostile_notify_commands_are_bounded() {
    // 100,000 opening parentheses: no recursion, an error where the filter
    // should be.
    let mut input = b"A1 NOTIFY SET ".to_vec();
    input.extend(std::iter::repeat_n(b'(', 100_000));
    input.extend_from_slice(b"\r\n");
    let e = command_error(&input, &long_lines());
    assert_eq!(
        (e.offset, e.kind, e.expected),
        (15, ErrorKind::Syntax, "mailbox filter")
    );
    // Nesting past limits.depth.
    let mut c = DecoderConfig::STRICT;
    c.limits.depth = 2;
    let e = command_error(b"A1 NOTIFY SET (selected (MessageNew (UID)))\r\n", &c);
    assert_eq!((e.offset, e.kind), (36, ErrorKind::TooDeep { limit: 2 }));
    let e = command_error(
        b"A1 NOTIFY SET (subtree ((a)) (MailboxName))\r\n",
        &DecoderConfig::STRICT,
    );
    assert_eq!(e.offset, 24);
    // Groups, events and mailboxes together count against limits.list.
    let mut c = DecoderConfig::STRICT;
    c.limits.list = 3;
    let ok = b"A1 NOTIFY SET (personal (MailboxName SubscriptionChange))\r\n";
    assert!(matches!(
        mailwire_imap::decode_command(ok, &c),
        Ok(mailwire_imap::Decoded::Complete { .. })
    ));
    let input = b"A1 NOTIFY SET (personal (MailboxName SubscriptionChange MessageNew))\r\n";
    let e = command_error(input, &c);
    assert_eq!((e.offset, e.kind), (56, ErrorKind::TooMany { limit: 3 }));
    let input = b"A1 NOTIFY SET (mailboxes (a b c) NONE)\r\n";
    let e = command_error(input, &c);
    assert_eq!((e.offset, e.kind), (30, ErrorKind::TooMany { limit: 3 }));
    // A million groups stop at the limit.
    let mut input = b"A1 NOTIFY SET".to_vec();
    for _ in 0..200_000 {
        input.extend_from_slice(b" (inboxes NONE)");
    }
    input.extend_from_slice(b"\r\n");
    let mut c = long_lines();
    c.limits.list = 1000;
    assert_eq!(command_error(&input, &c).kind, ErrorKind::TooMany { limit: 1000 });
}

fn mailbox_strategy() -> impl Strategy<Value = Mailbox<'static>> {
    prop_oneof![
        "[A-Za-z]{1,6}(/[a-z]{1,4})?",
        "[a-z]{1,4} [a-z]{1,4}",
        Just("INBOX".to_string()),
    ]
    .prop_map(|n| Mailbox::new(AString::from_bytes(n.into_bytes()).unwrap()))
}

fn names_strategy() -> impl Strategy<Value = OneOrMoreMailbox<'static>> {
    prop_oneof![
        mailbox_strategy().prop_map(OneOrMoreMailbox::One),
        proptest::collection::vec(mailbox_strategy(), 1..4).prop_map(OneOrMoreMailbox::List),
    ]
}

fn filter_strategy() -> impl Strategy<Value = FilterMailboxes<'static>> {
    prop_oneof![
        Just(FilterMailboxes::Selected),
        Just(FilterMailboxes::SelectedDelayed),
        Just(FilterMailboxes::Inboxes),
        Just(FilterMailboxes::Personal),
        Just(FilterMailboxes::Subscribed),
        names_strategy().prop_map(FilterMailboxes::Subtree),
        names_strategy().prop_map(FilterMailboxes::SubtreeOne),
        names_strategy().prop_map(FilterMailboxes::Mailboxes),
    ]
}

fn event_strategy() -> impl Strategy<Value = NotifyEvent<'static>> {
    prop_oneof![
        proptest::collection::vec(
            proptest::sample::select(vec![
                FetchItem::Uid,
                FetchItem::Flags,
                FetchItem::Envelope,
                FetchItem::Rfc822Size
            ]),
            0..3
        )
        .prop_map(NotifyEvent::MessageNew),
        Just(NotifyEvent::MessageExpunge),
        Just(NotifyEvent::FlagChange),
        Just(NotifyEvent::AnnotationChange),
        Just(NotifyEvent::MailboxName),
        Just(NotifyEvent::SubscriptionChange),
        Just(NotifyEvent::MailboxMetadataChange),
        Just(NotifyEvent::ServerMetadataChange),
        "X-[A-Za-z]{1,6}".prop_map(|a| NotifyEvent::Other(Atom::new(a).unwrap())),
    ]
}

proptest! {
    #[test]
    fn generated_notify_commands_round_trip(
        status in any::<bool>(),
        groups in proptest::collection::vec(
            (filter_strategy(), proptest::option::of(proptest::collection::vec(event_strategy(), 1..4)))
                .prop_map(|(filter, events)| EventGroup { filter, events }),
            1..4,
        ),
    ) {
        let command = Command { tag: Tag::new("n1").unwrap(), body: CommandBody::Notify(Notify::Set { status, groups }) };
        let bytes = to_bytes(&command.encode(LiteralPolicy::SyncOnly));
        prop_assert_eq!(&decode_cmd_with(&bytes, &DecoderConfig::STRICT), &command);
    }

    #[test]
    fn generated_badevent_codes_round_trip(
        events in proptest::collection::vec(
            event_strategy().prop_map(|e| match e { NotifyEvent::MessageNew(_) => NotifyEvent::MessageNew(Vec::new()), e => e }),
            1..5,
        ),
    ) {
        let r = Response::Status {
            tag: Some(Tag::new("n2").unwrap()),
            status: Status::No,
            text: RespText { code: Some(Code::BadEvent(events)), text: "unsupported".into() },
        };
        let bytes = to_bytes(&r.encode());
        prop_assert_eq!(&decode_resp_with(&bytes, &DecoderConfig::STRICT), &r);
    }
}

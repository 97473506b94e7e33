//! STATUS and the mailbox commands (SELECT, EXAMINE, CREATE, DELETE,
//! RENAME, SUBSCRIBE, UNSUBSCRIBE): the examples of RFC 3501 and RFC 9051
//! sections 6.3 and 7.3.4, RFC 5819, RFC 6154 and RFC 2342, and the
//! extension forms of RFC 7162, RFC 7889 and RFC 8474 that are kept
//! generically; decoded, re-encoded byte for byte and compared.

mod codec_support;

use std::num::NonZeroU32;

use codec_support::*;
use mailwire_imap::{
    CommandBody, CreateParameter, DecoderConfig, ErrorKind, LiteralPolicy, Mailbox, MailboxAttribute,
    MailboxStatus, Response, SelectParameter, StatusAttribute, StatusValue, TaggedExtVal, to_bytes,
};
use proptest::prelude::*;

#[test]
fn status_commands_and_responses() {
    let c = command_round_trip(b"A042 STATUS blurdybloop (UIDNEXT MESSAGES)\r\n");
    let CommandBody::Status { mailbox, attributes } = &c.body else {
        panic!()
    };
    assert_eq!(mailbox.as_bytes(), b"blurdybloop");
    assert_eq!(attributes, &[StatusAttribute::UidNext, StatusAttribute::Messages]);
    command_round_trip(b"A1 STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE RECENT)\r\n");
    // RFC 7162's and RFC 7889's attributes are known (see
    // tests/condstore.rs and tests/objectid.rs); unknown attributes are
    // kept for the server to judge.
    let c = command_round_trip(b"t1 STATUS INBOX (APPENDLIMIT X-FOO)\r\n");
    let CommandBody::Status { attributes, .. } = &c.body else {
        panic!()
    };
    assert_eq!(attributes[0], StatusAttribute::AppendLimit);
    assert!(matches!(&attributes[1], StatusAttribute::Other(a) if a.as_str() == "X-FOO"));
    command_encodes_as(
        b"a STATUS inbox (messages)\r\n",
        LiteralPolicy::SyncOnly,
        b"a STATUS INBOX (MESSAGES)\r\n",
    );

    let r = response_round_trip(b"* STATUS blurdybloop (MESSAGES 231 UIDNEXT 44292)\r\n");
    let Response::MailboxStatus(s) = &r else { panic!() };
    assert_eq!(
        s.values,
        [
            StatusValue::Messages(231),
            StatusValue::UidNext(NonZeroU32::new(44292).unwrap())
        ]
    );
    for input in [
        &b"* STATUS \"foo\" (MESSAGES 30 UNSEEN 29)\r\n"[..],
        b"* STATUS blurdybloop (MESSAGES 231 UIDNEXT 44292 HIGHESTMODSEQ 7011231777)\r\n",
        b"* STATUS INBOX (APPENDLIMIT 257890)\r\n",
        b"* STATUS INBOX (APPENDLIMIT NIL)\r\n",
        b"* STATUS foo (MAILBOXID (F2212ea87-6097-4256-9d51-71338625))\r\n",
        b"* STATUS x (UIDVALIDITY 3857529045 DELETED 0 SIZE 9223372036854775807 RECENT 1)\r\n",
        b"* STATUS x ()\r\n",
        b"* STATUS {4}\r\na b  (MESSAGES 1)\r\n",
    ] {
        response_round_trip(input);
    }
    // RFC 5819: "INBOX" in quotes is INBOX, sent as the atom.
    let r = response_encodes_as(
        b"* STATUS \"INBOX\" (MESSAGES 17 UNSEEN 16)\r\n",
        b"* STATUS INBOX (MESSAGES 17 UNSEEN 16)\r\n",
    );
    let Response::MailboxStatus(s) = &r else { panic!() };
    assert_eq!(s.mailbox, Mailbox::Inbox);
    let r = response_round_trip(b"* STATUS foo (MAILBOXID (F2212ea87-6097-4256-9d51-71338625))\r\n");
    let Response::MailboxStatus(MailboxStatus { values, .. }) = &r else {
        panic!()
    };
    // RFC 8474's MAILBOXID is typed.
    let StatusValue::MailboxId(id) = &values[0] else {
        panic!()
    };
    assert_eq!(id.as_str(), "F2212ea87-6097-4256-9d51-71338625");
}

#[test]
fn status_errors() {
    let c = DecoderConfig::STRICT;
    for (input, offset) in [
        (&b"A1 STATUS INBOX ()\r\n"[..], 17),
        (b"A1 STATUS INBOX\r\n", 15),
        (b"A1 STATUS INBOX MESSAGES\r\n", 16),
        (b"A1 STATUS (MESSAGES)\r\n", 10),
        (b"A1 STATUS INBOX (MESSAGES 1)\r\n", 26),
    ] {
        let e = command_error(input, &c);
        assert_eq!(e.offset, offset, "{:?}: {e}", String::from_utf8_lossy(input));
        assert_eq!(e.tag.as_ref().unwrap().as_str(), "A1");
    }
    for (input, offset, kind) in [
        (&b"* STATUS x (UIDNEXT 0)\r\n"[..], 20, ErrorKind::Syntax),
        (
            b"* STATUS x (MESSAGES 4294967296)\r\n",
            21,
            ErrorKind::NumberOutOfRange,
        ),
        (b"* STATUS x (MESSAGES)\r\n", 20, ErrorKind::Syntax),
        (b"* STATUS x (MESSAGES 1 )\r\n", 23, ErrorKind::Syntax),
        (b"* STATUS x MESSAGES 1\r\n", 11, ErrorKind::Syntax),
    ] {
        let e = response_error(input, &c);
        assert_eq!(
            (e.offset, e.kind),
            (offset, kind),
            "{:?}: {e}",
            String::from_utf8_lossy(input)
        );
    }
    let mut small = long_lines();
    small.limits.list = 10;
    let mut input = b"A1 STATUS INBOX (".to_vec();
    for _ in 0..1000 {
        input.extend_from_slice(b"MESSAGES ");
    }
    input.extend_from_slice(b"MESSAGES)\r\n");
    assert_eq!(
        command_error(&input, &small).kind,
        ErrorKind::TooMany { limit: 10 }
    );
}

#[test]
fn select_and_examine() {
    for input in [
        &b"A142 SELECT INBOX\r\n"[..],
        b"A143 SELECT Drafts\r\n",
        b"A932 EXAMINE blurdybloop\r\n",
        b"A007 SELECT funny\r\n",
        // RFC 7162: CONDSTORE and QRESYNC parameters (typed; see
        // tests/condstore.rs).
        b"A142 SELECT INBOX (CONDSTORE)\r\n",
        b"A02 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))\r\n",
        b"A03 SELECT INBOX (QRESYNC (67890007 90060115194045000 41:211,214:541))\r\n",
        b"A04 SELECT INBOX (QRESYNC (67890007 90060115194045000 1:29997))\r\n",
        b"B04 SELECT INBOX (QRESYNC (67890007 90060115194045000 1:29997 (5000,7500,9000,9990:9999 \
15000,22500,27000,29970,29973,29976,29979,29982,29985,29988,29991,29994,29997)))\r\n",
        b"A142 SELECT INBOX (QRESYNC (3857529045 20010715194032001 1:198))\r\n",
        b"A1 EXAMINE \"Sent Mail\" (CONDSTORE X-FOO 5)\r\n",
    ] {
        command_round_trip(input);
    }
    let c = command_round_trip(b"A1 EXAMINE \"Sent Mail\" (CONDSTORE X-FOO 5)\r\n");
    let CommandBody::Examine { mailbox, parameters } = &c.body else {
        panic!()
    };
    assert!(!mailbox.is_inbox());
    assert_eq!(parameters[0], SelectParameter::CondStore);
    let SelectParameter::Other(p) = &parameters[1] else {
        panic!()
    };
    assert_eq!(
        (p.name.as_str(), &p.value),
        ("X-FOO", &Some(TaggedExtVal::Number(5)))
    );
    let c = command_round_trip(b"A932 EXAMINE blurdybloop\r\n");
    assert!(matches!(&c.body, CommandBody::Examine { parameters, .. } if parameters.is_empty()));
    assert_eq!(c.body.name(), "EXAMINE");
    // Every case of INBOX is INBOX.
    let c = command_encodes_as(
        b"a SELECT \"iNbOx\"\r\n",
        LiteralPolicy::SyncOnly,
        b"a SELECT INBOX\r\n",
    );
    assert!(matches!(
        &c.body,
        CommandBody::Select {
            mailbox: Mailbox::Inbox,
            ..
        }
    ));
    // A literal mailbox name, and its announcement.
    command_round_trip(b"A1 SELECT {9}\r\nSent Mail\r\n");
    for (input, offset) in [
        (&b"A1 SELECT\r\n"[..], 9),
        (b"A1 SELECT INBOX ()\r\n", 17),
        (b"A1 SELECT INBOX (1)\r\n", 17),
        (b"A1 EXAMINE \r\n", 11),
    ] {
        let e = command_error(input, &DecoderConfig::STRICT);
        assert_eq!(e.offset, offset, "{:?}: {e}", String::from_utf8_lossy(input));
    }
}

#[test]
fn create_delete_rename_subscribe() {
    for input in [
        &b"A003 CREATE owatagusiam/\r\n"[..],
        b"A004 CREATE owatagusiam/blurdybloop\r\n",
        b"A005 CREATE NonNormalized\r\n",
        b"A002 CREATE \"INBOX.Sent Mail\"\r\n",
        b"A004 CREATE \"Sent Mail\"\r\n",
        b"A005 CREATE \"Delete Items\"\r\n",
        b"A006 CREATE \"#mh/Deleted Items\"\r\n",
        b"t2 CREATE MySpecial (USE (\\Drafts \\Sent))\r\n",
        b"t3 CREATE Everything (USE (\\All))\r\n",
        b"A683 DELETE blurdybloop\r\n",
        b"A684 DELETE foo\r\n",
        b"A685 DELETE foo/bar\r\n",
        b"A83 DELETE blurdybloop\r\n",
        b"m356 DELETE Notes\r\n",
        b"A683 RENAME blurdybloop sarasoop\r\n",
        b"A684 RENAME foo zowie\r\n",
        b"Z433 RENAME INBOX old-mail\r\n",
        b"1001 RENAME X Y\r\n",
        b"o356 RENAME this that\r\n",
        b"p RENAME this that (X-PARAM (1 2))\r\n",
        b"A002 SUBSCRIBE #news.comp.mail.mime\r\n",
        b"1002 SUBSCRIBE Y\r\n",
        b"A002 UNSUBSCRIBE #news.comp.mail.mime\r\n",
        b"1003 UNSUBSCRIBE X\r\n",
    ] {
        command_round_trip(input);
    }
    let c = command_round_trip(b"t2 CREATE MySpecial (USE (\\Drafts \\Sent))\r\n");
    let CommandBody::Create { mailbox, parameters } = &c.body else {
        panic!()
    };
    assert_eq!(mailbox.as_bytes(), b"MySpecial");
    assert_eq!(
        parameters,
        &[CreateParameter::Use(vec![
            MailboxAttribute::Drafts,
            MailboxAttribute::Sent
        ])]
    );
    let c = command_round_trip(b"Z433 RENAME INBOX old-mail\r\n");
    let CommandBody::Rename { from, to, parameters } = &c.body else {
        panic!()
    };
    assert!(from.is_inbox() && to.as_bytes() == b"old-mail" && parameters.is_empty());
    let c = command_round_trip(b"1003 UNSUBSCRIBE X\r\n");
    assert!(matches!(&c.body, CommandBody::Unsubscribe(m) if m.as_bytes() == b"X"));
    // The answer to an unsupported special use (RFC 6154).
    response_round_trip(b"t3 NO [USEATTR] \\All not supported\r\n");
    for (input, offset) in [
        (&b"A1 CREATE\r\n"[..], 9),
        (b"A1 CREATE x (USE)\r\n", 16),
        (b"A1 CREATE x (USE (Drafts))\r\n", 18),
        (b"A1 DELETE a b\r\n", 11),
        (b"A1 RENAME a\r\n", 11),
        (b"A1 SUBSCRIBE (x)\r\n", 13),
    ] {
        let e = command_error(input, &DecoderConfig::STRICT);
        assert_eq!(e.offset, offset, "{:?}: {e}", String::from_utf8_lossy(input));
        assert_eq!(e.resume_at, Some(input.len()));
    }
}

#[test]
fn literals_in_mailbox_commands_are_announced() {
    let input = b"A1 RENAME {3}\r\nold {3+}\r\nnew\r\n";
    let c = command_encodes_as(
        input,
        LiteralPolicy::LiteralPlus,
        b"A1 RENAME {3+}\r\nold {3+}\r\nnew\r\n",
    );
    let fragments = c.encode(LiteralPolicy::SyncOnly);
    assert_eq!(fragments.len(), 5);
    assert_eq!(to_bytes(&fragments), b"A1 RENAME {3}\r\nold {3}\r\nnew\r\n");
}

fn attribute_strategy() -> impl Strategy<Value = StatusAttribute<'static>> {
    prop_oneof![
        Just(StatusAttribute::Messages),
        Just(StatusAttribute::UidNext),
        Just(StatusAttribute::UidValidity),
        Just(StatusAttribute::Unseen),
        Just(StatusAttribute::Deleted),
        Just(StatusAttribute::Size),
        Just(StatusAttribute::Recent),
        Just(StatusAttribute::HighestModSeq),
        "X-[A-Z]{1,6}".prop_map(|a| StatusAttribute::Other(mailwire_imap::Atom::new(a).unwrap())),
    ]
}

fn value_strategy() -> impl Strategy<Value = StatusValue<'static>> {
    prop_oneof![
        any::<u32>().prop_map(StatusValue::Messages),
        (1..=u32::MAX).prop_map(|n| StatusValue::UidNext(NonZeroU32::new(n).unwrap())),
        (1..=u32::MAX).prop_map(|n| StatusValue::UidValidity(NonZeroU32::new(n).unwrap())),
        any::<u32>().prop_map(StatusValue::Unseen),
        any::<u32>().prop_map(StatusValue::Deleted),
        (0..=i64::MAX as u64).prop_map(StatusValue::Size),
        any::<u32>().prop_map(StatusValue::Recent),
        (0..=i64::MAX as u64)
            .prop_map(|n| StatusValue::HighestModSeq(mailwire_imap::ModSeqValzer::new(n).unwrap())),
        ("X-[A-Z]{1,6}", 0..=i64::MAX as u64).prop_map(|(a, n)| StatusValue::Other {
            name: mailwire_imap::Atom::new(a).unwrap(),
            value: TaggedExtVal::Number(n)
        }),
    ]
}

proptest! {
    #[test]
    fn generated_status_round_trips(
        attributes in proptest::collection::vec(attribute_strategy(), 1..6),
        values in proptest::collection::vec(value_strategy(), 0..6),
        name in "[ -~]{0,10}",
    ) {
        let mailbox = Mailbox::new(mailwire_imap::AString::from_bytes(name.into_bytes()).unwrap());
        let command = mailwire_imap::Command {
            tag: mailwire_imap::Tag::new("S1").unwrap(),
            body: CommandBody::Status { mailbox: mailbox.clone(), attributes },
        };
        let bytes = to_bytes(&command.encode(LiteralPolicy::SyncOnly));
        prop_assert_eq!(decode_cmd_with(&bytes, &DecoderConfig::STRICT), command);
        let response = Response::MailboxStatus(MailboxStatus { mailbox, values });
        let bytes = to_bytes(&response.encode());
        prop_assert_eq!(decode_resp_with(&bytes, &DecoderConfig::STRICT), response);
    }
}

/// Valid messages of every area of this test suite and its siblings, to
/// mutate.
const SEEDS: [&[u8]; 12] = [
    b"A042 STATUS blurdybloop (UIDNEXT MESSAGES)\r\n",
    b"* STATUS \"foo\" (MESSAGES 30 UNSEEN 29 X (a (b)) Y NIL)\r\n",
    b"A02 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))\r\n",
    b"t2 CREATE MySpecial (USE (\\Drafts \\Sent))\r\n",
    b"p RENAME {4}\r\nthis that (X-PARAM (1 2))\r\n",
    b"A282 SEARCH RETURN (MIN COUNT) CHARSET UTF-8 FLAGGED SINCE 1-Feb-1994 NOT (OR $ 1:5 TEXT {3}\r\nabc)\r\n",
    b"* ESEARCH (TAG \"A285\") UID MIN 7 MAX 3800 ALL 1:3,5 X (1 \"a\")\r\n",
    b"C04 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (\"%\" foo) RETURN (CHILDREN STATUS (MESSAGES))\r\n",
    b"* LIST (\\Marked) \":\" Tables (tablecloth ((\"edge\" \"lacy\") (\"color\" \"red\")) Sample \"text\")\r\n",
    b"* LIST () \"/\" \"Foo\" (\"CHILDINFO\" (\"SUBSCRIBED\") \"OLDNAME\" (x))\r\n",
    b"* NAMESPACE ((\"\" \"/\")(\"#mh/\" \"/\" \"X-PARAM\" (\"FLAG1\" \"FLAG2\"))) NIL ((\"#news.\" \".\"))\r\n",
    b"a LSUB \"#news.\" {3}\r\nc.%\r\n",
];

fn mutated() -> impl Strategy<Value = Vec<u8>> {
    (
        0..SEEDS.len(),
        proptest::collection::vec((0usize..200, 0u8..3, any::<u8>()), 1..4),
    )
        .prop_map(|(seed, edits)| {
            let mut v = SEEDS[seed].to_vec();
            for (at, op, byte) in edits {
                let at = at % (v.len() + 1);
                match op {
                    0 => v.insert(at, byte),
                    1 if at < v.len() => {
                        v.remove(at);
                    }
                    _ if at < v.len() => v[at] = byte,
                    _ => {}
                }
            }
            v
        })
}

proptest! {
    /// Mutated messages never panic; what decodes re-encodes to a message
    /// that decodes to the same value.
    #[test]
    fn mutations_never_panic_and_stay_stable(input in mutated()) {
        for config in [DecoderConfig::STRICT, DecoderConfig::default()] {
            if let Ok(mailwire_imap::Decoded::Complete { value, .. }) =
                mailwire_imap::decode_command(&input, &config)
            {
                let bytes = to_bytes(&value.encode(LiteralPolicy::SyncOnly));
                prop_assert_eq!(decode_cmd_with(&bytes, &config), value);
            }
            if let Ok(mailwire_imap::Decoded::Complete { value, .. }) =
                mailwire_imap::decode_response(&input, &config)
            {
                let bytes = to_bytes(&value.encode());
                prop_assert_eq!(decode_resp_with(&bytes, &config), value);
            }
        }
    }
}

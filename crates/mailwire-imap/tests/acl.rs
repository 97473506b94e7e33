//! ACL (RFC 4314): the examples of section 3 decoded, re-encoded byte for
//! byte and compared; rights strings validated (the `lrQswicda` example of
//! section 3.1 is refused at the `Q`); SETACL's `+`/`-` forms typed;
//! malformed and over-limit forms with error offsets; a property test that
//! generated commands and responses round-trip.

mod codec_support;

use codec_support::*;
use mailwire_imap::{
    AString, AclEntry, AclResponse, Command, CommandBody, DecoderConfig, ErrorKind, ListRightsResponse,
    LiteralPolicy, Mailbox, MyRightsResponse, Response, Rights, RightsModification, RightsModifier, Tag,
    to_bytes,
};
use proptest::prelude::*;

fn rights(s: &str) -> Rights<'_> {
    Rights::new(s).unwrap()
}

#[test]
fn rfc4314_examples() {
    // Section 3.1.
    let c = command_round_trip(b"A036 SETACL INBOX/Drafts John lrqswicda\r\n");
    let CommandBody::SetAcl {
        mailbox,
        identifier,
        rights: m,
    } = &c.body
    else {
        panic!()
    };
    assert_eq!(mailbox.as_bytes(), b"INBOX/Drafts");
    assert_eq!(identifier.as_bytes(), b"John");
    assert_eq!(
        m,
        &RightsModification {
            modifier: RightsModifier::Replace,
            rights: rights("lrqswicda")
        }
    );
    let c = command_round_trip(b"A002 SETACL INBOX/Drafts Chris +cda\r\n");
    let CommandBody::SetAcl { rights: m, .. } = &c.body else {
        panic!()
    };
    assert_eq!((m.modifier, m.rights.as_str()), (RightsModifier::Add, "cda"));
    let c = command_round_trip(b"A003 SETACL INBOX/Drafts -Fred -wt\r\n");
    let CommandBody::SetAcl {
        identifier,
        rights: m,
        ..
    } = &c.body
    else {
        panic!()
    };
    assert_eq!(identifier.as_bytes(), b"-Fred");
    assert_eq!((m.modifier, m.rights.as_str()), (RightsModifier::Remove, "wt"));
    // Section 3.2 and 3.3.
    let c = command_round_trip(b"A002 DELETEACL INBOX/Drafts Chris\r\n");
    assert!(
        matches!(&c.body, CommandBody::DeleteAcl { identifier, .. } if identifier.as_bytes() == b"Chris")
    );
    let c = command_round_trip(b"A001 GETACL INBOX/Drafts\r\n");
    assert_eq!(c.body.name(), "GETACL");
    let r = response_round_trip(b"* ACL INBOX/Drafts Fred rwipslxcetda\r\n");
    let Response::Acl(AclResponse { mailbox, entries }) = &r else {
        panic!()
    };
    assert_eq!(mailbox.as_bytes(), b"INBOX/Drafts");
    assert_eq!(
        entries,
        &[AclEntry {
            identifier: AString::from_bytes(&b"Fred"[..]).unwrap(),
            rights: rights("rwipslxcetda")
        }]
    );
    assert!(entries[0].rights.contains('x') && !entries[0].rights.contains('q'));
    // Section 3.4.
    let c = command_round_trip(b"a001 LISTRIGHTS ~/Mail/saved smith\r\n");
    assert!(
        matches!(&c.body, CommandBody::ListRights { mailbox, .. } if mailbox.as_bytes() == b"~/Mail/saved")
    );
    let r = response_round_trip(b"* LISTRIGHTS ~/Mail/saved smith la r swicdkxte\r\n");
    let Response::ListRights(l) = &r else { panic!() };
    assert_eq!(l.required, rights("la"));
    assert_eq!(l.optional, [rights("r"), rights("swicdkxte")]);
    command_encodes_as(
        b"a005 listrights archive/imap anyone\r\n",
        LiteralPolicy::SyncOnly,
        b"a005 LISTRIGHTS archive/imap anyone\r\n",
    );
    let r = response_round_trip(
        b"* LISTRIGHTS archive.imap anyone \"\" l r s w i p k x t e c d a 0 1 2 3 4 5 6 7 8 9\r\n",
    );
    let Response::ListRights(l) = &r else { panic!() };
    assert_eq!(l.required.as_str(), "");
    assert_eq!(l.optional.len(), 23);
    // Section 3.5.
    let c = command_round_trip(b"A003 MYRIGHTS INBOX\r\n");
    assert_eq!(c.body, CommandBody::MyRights(Mailbox::Inbox));
    let r = response_round_trip(b"* MYRIGHTS INBOX rwiptsldaex\r\n");
    let Response::MyRights(MyRightsResponse { rights: my, .. }) = &r else {
        panic!()
    };
    assert_eq!(my.as_str(), "rwiptsldaex");
}

#[test]
fn other_forms() {
    // An empty ACL; several entries; quoted forms re-encoded as atoms.
    response_round_trip(b"* ACL Archive\r\n");
    response_round_trip(b"* ACL INBOX Fred rwipslxetad -Fred wetd anyone l\r\n");
    response_encodes_as(b"* MYRIGHTS INBOX \"lr\"\r\n", b"* MYRIGHTS INBOX lr\r\n");
    response_round_trip(b"* MYRIGHTS INBOX \"\"\r\n");
    command_round_trip(b"a SETACL INBOX Fred \"\"\r\n");
    command_encodes_as(
        b"a SETACL INBOX Fred \"+k\"\r\n",
        LiteralPolicy::SyncOnly,
        b"a SETACL INBOX Fred +k\r\n",
    );
    command_round_trip(b"a SETACL \"Saved mail\" \"Jane Doe\" -\r\n");
    command_round_trip(b"a SETACL INBOX {4}\r\na\"b\\ lr\r\n");
}

#[test]
fn malformed_and_hostile() {
    let strict = DecoderConfig::STRICT;
    let check = command_error_at(&strict, "A035");
    // RFC 4314 section 3.1: upper-case rights are not allowed; the error
    // is at the Q.
    check(
        b"A035 SETACL INBOX/Drafts John lrQswicda\r\n",
        32,
        ErrorKind::Syntax,
    );
    check(b"A035 SETACL INBOX/Drafts John +l-r\r\n", 32, ErrorKind::Syntax);
    check(b"A035 SETACL INBOX John \"lr w\"\r\n", 26, ErrorKind::Syntax);
    check(b"A035 SETACL INBOX John {3}\r\nl.r\r\n", 29, ErrorKind::Syntax);
    check(b"A035 SETACL INBOX John\r\n", 22, ErrorKind::Syntax);
    check(b"A035 DELETEACL INBOX\r\n", 20, ErrorKind::Syntax);
    check(b"A035 GETACL\r\n", 11, ErrorKind::Syntax);
    check(b"A035 LISTRIGHTS INBOX\r\n", 21, ErrorKind::Syntax);
    check(b"A035 MYRIGHTS INBOX Fred\r\n", 19, ErrorKind::Syntax);
    let e = response_error(b"* MYRIGHTS INBOX rwX\r\n", &strict);
    assert_eq!((e.offset, e.tag), (19, None));
    let e = response_error(b"* ACL INBOX Fred\r\n", &strict);
    assert_eq!(e.offset, 16);
    let e = response_error(b"* LISTRIGHTS INBOX smith\r\n", &strict);
    assert_eq!(e.offset, 24);
    let e = response_error(b"* LISTRIGHTS INBOX smith \"\" l R\r\n", &strict);
    assert_eq!(e.offset, 30);
    let mut low = DecoderConfig::STRICT;
    low.limits.list = 2;
    let e = response_error(b"* ACL INBOX a l b l c l\r\n", &low);
    assert_eq!((e.offset, e.kind), (19, ErrorKind::TooMany { limit: 2 }));
    let e = response_error(b"* LISTRIGHTS INBOX a \"\" l r s\r\n", &low);
    assert_eq!((e.offset, e.kind), (27, ErrorKind::TooMany { limit: 2 }));
    // The constructor names the byte.
    let e = Rights::new("lrQs").unwrap_err();
    assert_eq!((e.byte, e.position), (Some(b'Q'), Some(2)));
}

fn rights_strategy() -> impl Strategy<Value = Rights<'static>> {
    "[a-z0-9]{0,8}".prop_map(|s| Rights::new(s).unwrap())
}

fn astring_strategy() -> impl Strategy<Value = AString<'static>> {
    "[ -~]{0,12}".prop_map(|s| AString::from_bytes(s.into_bytes()).unwrap())
}

fn modifier_strategy() -> impl Strategy<Value = RightsModifier> {
    prop_oneof![
        Just(RightsModifier::Replace),
        Just(RightsModifier::Add),
        Just(RightsModifier::Remove)
    ]
}

proptest! {
    #[test]
    fn generated_acl_round_trips(
        name in astring_strategy(),
        identifier in astring_strategy(),
        modifier in modifier_strategy(),
        granted in rights_strategy(),
        entries in proptest::collection::vec((astring_strategy(), rights_strategy()), 0..4),
        optional in proptest::collection::vec(rights_strategy(), 0..4),
    ) {
        let mailbox = Mailbox::new(name);
        let commands = [
            CommandBody::SetAcl {
                mailbox: mailbox.clone(),
                identifier: identifier.clone(),
                rights: RightsModification { modifier, rights: granted.clone() },
            },
            CommandBody::DeleteAcl { mailbox: mailbox.clone(), identifier: identifier.clone() },
            CommandBody::ListRights { mailbox: mailbox.clone(), identifier: identifier.clone() },
            CommandBody::GetAcl(mailbox.clone()),
            CommandBody::MyRights(mailbox.clone()),
        ];
        for body in commands {
            let command = Command { tag: Tag::new("a").unwrap(), body };
            let bytes = to_bytes(&command.encode(LiteralPolicy::SyncOnly));
            prop_assert_eq!(decode_cmd_with(&bytes, &DecoderConfig::STRICT), command);
        }
        let entries = entries.into_iter().map(|(identifier, rights)| AclEntry { identifier, rights }).collect();
        let responses = [
            Response::Acl(AclResponse { mailbox: mailbox.clone(), entries }),
            Response::ListRights(ListRightsResponse {
                mailbox: mailbox.clone(),
                identifier,
                required: granted.clone(),
                optional,
            }),
            Response::MyRights(MyRightsResponse { mailbox, rights: granted }),
        ];
        for response in responses {
            let bytes = to_bytes(&response.encode());
            prop_assert_eq!(decode_resp_with(&bytes, &DecoderConfig::STRICT), response);
        }
    }
}

//! QUOTA (RFC 9208): the examples of sections 4 and 5 decoded, re-encoded
//! byte for byte and compared; typed and unknown resources; malformed and
//! over-limit forms with error offsets; a property test that generated
//! commands and responses round-trip.

mod codec_support;

use codec_support::*;
use mailwire_imap::{
    AString, Atom, Code, Command, CommandBody, DecoderConfig, ErrorKind, LiteralPolicy, Mailbox, Quota,
    QuotaLimit, QuotaResource, QuotaRoot, QuotaUsage, RespText, Response, Tag, to_bytes,
};
use proptest::prelude::*;

fn usage(resource: QuotaResource<'static>, usage: u64, limit: u64) -> QuotaUsage<'static> {
    QuotaUsage {
        resource,
        usage,
        limit,
    }
}

#[test]
fn rfc9208_examples() {
    let c = command_round_trip(b"G0001 GETQUOTA \"!partition/sda4\"\r\n");
    let CommandBody::GetQuota(root) = &c.body else {
        panic!()
    };
    assert_eq!(root.as_bytes(), b"!partition/sda4");
    let r = response_round_trip(b"* QUOTA \"!partition/sda4\" (STORAGE 104 10923847)\r\n");
    let Response::Quota(q) = &r else { panic!() };
    assert_eq!(q.resources, [usage(QuotaResource::Storage, 104, 10923847)]);

    let c = command_round_trip(b"G0002 GETQUOTAROOT INBOX\r\n");
    assert_eq!(c.body, CommandBody::GetQuotaRoot(Mailbox::Inbox));
    let r = response_round_trip(b"* QUOTAROOT INBOX \"#user/alice\" \"!partition/sda4\"\r\n");
    let Response::QuotaRoot(QuotaRoot { mailbox, roots }) = &r else {
        panic!()
    };
    assert_eq!(mailbox, &Mailbox::Inbox);
    assert_eq!(roots.len(), 2);
    assert_eq!(roots[0].as_bytes(), b"#user/alice");
    let r = response_round_trip(b"* QUOTA \"#user/alice\" (MESSAGE 42 1000)\r\n");
    let Response::Quota(q) = &r else { panic!() };
    assert_eq!(q.resources, [usage(QuotaResource::Message, 42, 1000)]);

    command_round_trip(b"S0000 GETQUOTA \"#user/alice\"\r\n");
    let r = response_round_trip(b"* QUOTA \"#user/alice\" (STORAGE 54 111 MESSAGE 42 1000)\r\n");
    let Response::Quota(q) = &r else { panic!() };
    assert_eq!(
        q.resources,
        [
            usage(QuotaResource::Storage, 54, 111),
            usage(QuotaResource::Message, 42, 1000)
        ]
    );
    let c = command_round_trip(b"S0001 SETQUOTA \"#user/alice\" (STORAGE 510)\r\n");
    let CommandBody::SetQuota { root, limits } = &c.body else {
        panic!()
    };
    assert_eq!(root.as_bytes(), b"#user/alice");
    assert_eq!(
        limits,
        &[QuotaLimit {
            resource: QuotaResource::Storage,
            limit: 510
        }]
    );
    response_round_trip(b"* QUOTA \"#user/alice\" (STORAGE 58 512)\r\n");
    command_round_trip(b"S0002 SETQUOTA \"!partition/sda4\" (STORAGE 99999999)\r\n");
    response_round_trip(b"S0002 NO Cannot change system limit\r\n");
    // Section 4.1.1 and 4.1.2: the empty root; a mailbox without roots.
    let r = response_round_trip(b"* QUOTA \"\" (STORAGE 10 512)\r\n");
    let Response::Quota(Quota { root, .. }) = &r else {
        panic!()
    };
    assert_eq!(root.as_bytes(), b"");
    response_round_trip(b"* QUOTAROOT INBOX \"\"\r\n");
    let r = response_round_trip(b"* QUOTAROOT comp.mail.mime\r\n");
    assert!(matches!(&r, Response::QuotaRoot(q) if q.roots.is_empty()));
    // Section 5: OVERQUOTA.
    let r = response_round_trip(b"A003 NO [OVERQUOTA] APPEND Failed\r\n");
    let Response::Status {
        text: RespText {
            code: Some(Code::Condition(c)),
            ..
        },
        ..
    } = &r
    else {
        panic!("{r:?}")
    };
    assert_eq!(c.as_str(), "OVERQUOTA");
    response_round_trip(b"* NO [OVERQUOTA] Soft quota has been exceeded\r\n");
}

#[test]
fn resources_and_other_forms() {
    let r = response_round_trip(
        b"* QUOTA x (STORAGE 1 2 MESSAGE 3 4 MAILBOX 5 6 ANNOTATION-STORAGE 7 8 X-FOO 9 9223372036854775807)\r\n",
    );
    let Response::Quota(q) = &r else { panic!() };
    let names: Vec<_> = q.resources.iter().map(|r| r.resource.name().to_owned()).collect();
    assert_eq!(
        names,
        ["STORAGE", "MESSAGE", "MAILBOX", "ANNOTATION-STORAGE", "X-FOO"]
    );
    assert_eq!(q.resources[3].resource, QuotaResource::AnnotationStorage);
    assert_eq!(
        q.resources[4].resource,
        QuotaResource::Other(Atom::new("X-FOO").unwrap())
    );
    assert_eq!(q.resources[4].limit, i64::MAX as u64);
    // Resource names are case-insensitive, and sent upper case.
    response_encodes_as(b"* QUOTA x (storage 1 2)\r\n", b"* QUOTA x (STORAGE 1 2)\r\n");
    command_encodes_as(
        b"a setquota \"\" (message 0)\r\n",
        LiteralPolicy::SyncOnly,
        b"a SETQUOTA \"\" (MESSAGE 0)\r\n",
    );
    // An empty SETQUOTA list removes the limits.
    let c = command_round_trip(b"a SETQUOTA root ()\r\n");
    assert!(matches!(&c.body, CommandBody::SetQuota { limits, .. } if limits.is_empty()));
    command_round_trip(b"a GETQUOTA {3}\r\na b\r\n");
    command_round_trip(b"a GETQUOTAROOT \"a b\"\r\n");
}

#[test]
fn malformed_and_hostile() {
    let strict = DecoderConfig::STRICT;
    let check = command_error_at(&strict, "q1");
    check(b"q1 GETQUOTA\r\n", 11, ErrorKind::Syntax);
    check(b"q1 GETQUOTAROOT\r\n", 15, ErrorKind::Syntax);
    check(b"q1 SETQUOTA root\r\n", 16, ErrorKind::Syntax);
    check(b"q1 SETQUOTA root (STORAGE)\r\n", 25, ErrorKind::Syntax);
    check(b"q1 SETQUOTA root (STORAGE -1)\r\n", 26, ErrorKind::Syntax);
    check(b"q1 SETQUOTA root (STORAGE 1\r\n", 27, ErrorKind::Syntax);
    check(
        b"q1 SETQUOTA root (STORAGE 9223372036854775808)\r\n",
        26,
        ErrorKind::NumberOutOfRange,
    );
    let mut low = DecoderConfig::STRICT;
    low.limits.list = 2;
    let e = command_error(b"q1 SETQUOTA r (A 1 B 2 C 3)\r\n", &low);
    assert_eq!((e.offset, e.kind), (23, ErrorKind::TooMany { limit: 2 }));
    let e = response_error(b"* QUOTA r (A 1 2 B 3 4 C 5 6)\r\n", &low);
    assert_eq!((e.offset, e.kind), (23, ErrorKind::TooMany { limit: 2 }));
    let e = response_error(b"* QUOTAROOT INBOX a b c\r\n", &low);
    assert_eq!((e.offset, e.kind), (21, ErrorKind::TooMany { limit: 2 }));
    // quota-list has at least one resource; each has usage and limit.
    let e = response_error(b"* QUOTA r ()\r\n", &strict);
    assert_eq!(e.offset, 11);
    let e = response_error(b"* QUOTA r (STORAGE 1)\r\n", &strict);
    assert_eq!(e.offset, 20);
    let e = response_error(b"* QUOTA r\r\n", &strict);
    assert_eq!(e.offset, 9);
}

fn resource_strategy() -> impl Strategy<Value = QuotaResource<'static>> {
    prop_oneof![
        Just(QuotaResource::Storage),
        Just(QuotaResource::Message),
        Just(QuotaResource::Mailbox),
        Just(QuotaResource::AnnotationStorage),
        "X-[A-Z0-9]{1,8}".prop_map(|a| QuotaResource::Other(Atom::new(a).unwrap())),
    ]
}

fn astring_strategy() -> impl Strategy<Value = AString<'static>> {
    "[ -~]{0,12}".prop_map(|s| AString::from_bytes(s.into_bytes()).unwrap())
}

proptest! {
    #[test]
    fn generated_quota_round_trips(
        root in astring_strategy(),
        limits in proptest::collection::vec((resource_strategy(), 0..=i64::MAX as u64), 0..5),
        usages in proptest::collection::vec(
            (resource_strategy(), 0..=i64::MAX as u64, 0..=i64::MAX as u64), 1..5),
        roots in proptest::collection::vec(astring_strategy(), 0..4),
    ) {
        let limits = limits.into_iter().map(|(resource, limit)| QuotaLimit { resource, limit }).collect();
        let command = Command {
            tag: Tag::new("q").unwrap(),
            body: CommandBody::SetQuota { root: root.clone(), limits },
        };
        let bytes = to_bytes(&command.encode(LiteralPolicy::SyncOnly));
        prop_assert_eq!(decode_cmd_with(&bytes, &DecoderConfig::STRICT), command);
        let resources = usages.into_iter().map(|(r, u, l)| usage(r, u, l)).collect();
        let response = Response::Quota(Quota { root: root.clone(), resources });
        let bytes = to_bytes(&response.encode());
        prop_assert_eq!(decode_resp_with(&bytes, &DecoderConfig::STRICT), response);
        let response = Response::QuotaRoot(QuotaRoot { mailbox: Mailbox::new(root), roots });
        let bytes = to_bytes(&response.encode());
        prop_assert_eq!(decode_resp_with(&bytes, &DecoderConfig::STRICT), response);
    }
}

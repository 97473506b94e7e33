//! ID (RFC 2971): the examples of sections 3.1 and 3.2 decoded, re-encoded
//! byte for byte and compared; the limits of section 3.3 (30 pairs, 30-octet
//! names, 1024-octet values) enforced with error offsets; a property test
//! that generated lists round-trip in commands and responses.

mod codec_support;

use codec_support::*;
use mailwire_imap::{
    Command, CommandBody, DecoderConfig, ErrorKind, IString, IdParam, IdParams, LiteralPolicy, NString,
    Response, Tag, to_bytes,
};
use proptest::prelude::*;

fn text(n: &NString<'_>) -> Option<String> {
    n.as_bytes().map(|b| String::from_utf8_lossy(b).into_owned())
}

#[test]
fn rfc2971_examples() {
    let c = command_round_trip(
        b"a023 ID (\"name\" \"sodr\" \"version\" \"19.34\" \"vendor\" \"Pink Floyd Music Limited\")\r\n",
    );
    let CommandBody::Id(Some(params)) = &c.body else {
        panic!("{c:?}")
    };
    assert_eq!(params.params().len(), 3);
    assert_eq!(
        text(params.get("VENDOR").unwrap()).as_deref(),
        Some("Pink Floyd Music Limited")
    );
    assert_eq!(params.params()[1].field().as_bytes(), b"version");
    assert_eq!(c.body.name(), "ID");

    let r = response_round_trip(b"* ID NIL\r\n");
    assert_eq!(r, Response::Id(None));
    let c = command_round_trip(b"a042 ID NIL\r\n");
    assert_eq!(c.body, CommandBody::Id(None));

    let r = response_round_trip(
        b"* ID (\"name\" \"Cyrus\" \"version\" \"1.5\" \"os\" \"sunos\" \"os-version\" \"5.5\" \
          \"support-url\" \"mailto:cyrus-bugs+@andrew.cmu.edu\")\r\n",
    );
    let Response::Id(Some(params)) = &r else {
        panic!("{r:?}")
    };
    assert_eq!(params.params().len(), 5);
    assert_eq!(text(params.get("os").unwrap()).as_deref(), Some("sunos"));
    assert_eq!(
        text(params.get("support-url").unwrap()).as_deref(),
        Some("mailto:cyrus-bugs+@andrew.cmu.edu")
    );
    assert!(params.get("date").is_none());
}

#[test]
fn other_forms() {
    // NIL values, literals, an empty list, lower case.
    let c = command_round_trip(b"a ID (\"name\" NIL {2}\r\nos \"Linux\")\r\n");
    let CommandBody::Id(Some(params)) = &c.body else {
        panic!()
    };
    assert_eq!(params.params()[0].value(), &NString::NIL);
    assert_eq!(params.params()[1].field().as_bytes(), b"os");
    let r = response_round_trip(b"* ID ()\r\n");
    assert_eq!(r, Response::Id(Some(IdParams::default())));
    command_encodes_as(b"a id nil\r\n", LiteralPolicy::SyncOnly, b"a ID NIL\r\n");
    response_encodes_as(b"* ID (\"name\" nil)\r\n", b"* ID (\"name\" NIL)\r\n");
    // Dovecot's answer, as sent.
    response_round_trip(b"* ID (\"name\" \"Dovecot\")\r\n");
}

#[test]
fn malformed_and_hostile() {
    let strict = DecoderConfig::STRICT;
    let check = command_error_at(&strict, "t1");
    check(b"t1 ID\r\n", 5, ErrorKind::Syntax);
    check(b"t1 ID \r\n", 6, ErrorKind::Syntax);
    check(b"t1 ID (\"name\")\r\n", 13, ErrorKind::Syntax);
    check(b"t1 ID (\"a\" \"b\"\r\n", 14, ErrorKind::Syntax);
    check(b"t1 ID (name \"b\")\r\n", 7, ErrorKind::Syntax);
    check(b"t1 ID (\"a\" \"b\" )\r\n", 15, ErrorKind::Syntax);
    check(b"t1 ID NILL\r\n", 9, ErrorKind::Syntax);

    // 31 pairs: refused where the 31st starts, before it is stored.
    let pair = "\"k\" \"v\"";
    let pairs = vec![pair; 31].join(" ");
    let input = format!("t1 ID ({pairs})\r\n");
    let at = "t1 ID (".len() + 30 * (pair.len() + 1);
    check(input.as_bytes(), at, ErrorKind::TooMany { limit: 30 });
    // Exactly 30 is fine.
    let pairs = vec![pair; 30].join(" ");
    let input = format!("t1 ID ({pairs})\r\n");
    let c = command_round_trip(input.as_bytes());
    let CommandBody::Id(Some(params)) = &c.body else {
        panic!()
    };
    assert_eq!(params.params().len(), 30);
    // A lower list limit wins.
    let mut low = DecoderConfig::STRICT;
    low.limits.list = 2;
    let e = command_error(input.as_bytes(), &low);
    assert_eq!((e.offset, e.kind), (7 + 2 * 8, ErrorKind::TooMany { limit: 2 }));

    // A 31-octet field name, at the string; 30 is fine.
    let name = "x".repeat(31);
    check(
        format!("t1 ID (\"a\" NIL \"{name}\" \"v\")\r\n").as_bytes(),
        15,
        ErrorKind::Syntax,
    );
    command_round_trip(format!("t1 ID (\"{}\" \"v\")\r\n", &name[1..]).as_bytes());
    // The same in a literal.
    check(
        format!("t1 ID ({{31}}\r\n{name} \"v\")\r\n").as_bytes(),
        7,
        ErrorKind::Syntax,
    );
    // A 1025-octet value, at the value; 1024 is fine.
    let value = "v".repeat(1025);
    check(
        format!("t1 ID (\"name\" \"{value}\")\r\n").as_bytes(),
        14,
        ErrorKind::Syntax,
    );
    command_round_trip(format!("t1 ID (\"name\" {{1024}}\r\n{})\r\n", &value[1..]).as_bytes());
    let e = response_error(format!("* ID (\"name\" \"{value}\")\r\n").as_bytes(), &strict);
    assert_eq!((e.offset, e.expected), (13, "value of at most 1024 octets"));
}

#[test]
fn constructors_enforce_the_limits() {
    let field = |s: &'static str| IString::from_bytes(s.as_bytes()).unwrap();
    let name = IdParam::new(field("name"), NString::NIL).unwrap();
    assert_eq!(
        (name.field().as_bytes(), name.value().as_bytes()),
        (&b"name"[..], None)
    );
    let long: &'static str = Box::leak("n".repeat(31).into_boxed_str());
    let e = IdParam::new(field(long), NString::NIL).unwrap_err();
    assert_eq!(e.position, Some(30));
    let big: &'static str = Box::leak("v".repeat(1025).into_boxed_str());
    let e = IdParam::from_text("name", Some(big)).unwrap_err();
    assert_eq!(e.position, Some(1024));
    let most = IdParam::from_text("name", Some(&big[1..])).unwrap();
    assert_eq!(most.value().as_bytes(), Some(&big.as_bytes()[1..]));
    let one = IdParam::from_text("os", None).unwrap();
    assert_eq!(IdParams::new(vec![one.clone(); 30]).unwrap().params().len(), 30);
    assert_eq!(IdParams::new(vec![one; 31]).unwrap_err().position, Some(30));
}

fn param_strategy() -> impl Strategy<Value = IdParam<'static>> {
    (
        "[a-z-]{1,12}|[ -~]{0,30}",
        proptest::option::of("[ -~]{0,40}|[\\x01-\\x7f]{0,20}"),
    )
        .prop_map(|(f, v)| {
            let field = IString::from_bytes(f.into_bytes()).unwrap();
            let value = NString(v.map(|v| IString::from_bytes(v.into_bytes()).unwrap()));
            IdParam::new(field, value).unwrap()
        })
}

proptest! {
    #[test]
    fn generated_id_lists_round_trip(
        params in proptest::option::of(proptest::collection::vec(param_strategy(), 0..31)),
        policy in prop_oneof![Just(LiteralPolicy::SyncOnly), Just(LiteralPolicy::LiteralPlus)],
    ) {
        let params = params.map(|p| IdParams::new(p).unwrap());
        let command = Command { tag: Tag::new("i1").unwrap(), body: CommandBody::Id(params.clone()) };
        let bytes = to_bytes(&command.encode(policy));
        prop_assert_eq!(decode_cmd_with(&bytes, &DecoderConfig::STRICT), command);
        let response = Response::Id(params);
        let bytes = to_bytes(&response.encode());
        prop_assert_eq!(decode_resp_with(&bytes, &DecoderConfig::STRICT), response);
    }
}

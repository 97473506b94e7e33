//! Typed capabilities: Dovecot's and the RFCs' CAPABILITY lines, ENABLE
//! and ENABLED, the questions a client asks of a list, and a property test
//! that any capability list round-trips.

mod codec_support;

use codec_support::*;
use mailwire_imap::{
    Atom, Capabilities, Capability, Code, CommandBody, DecoderConfig, ErrorKind, RespText, Response, Status,
    decode_response, to_bytes,
};
use proptest::prelude::*;

fn atom(s: &str) -> Atom<'_> {
    Atom::new(s).unwrap()
}

#[test]
fn dovecot_capability_after_login() {
    // Dovecot 2.3.19's list after LOGIN (one line).
    let line = b"* CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY \
THREAD=REFERENCES THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT \
CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ESORT SEARCHRES \
WITHIN CONTEXT=SEARCH LIST-STATUS BINARY MOVE SNIPPET=FUZZY PREVIEW=FUZZY PREVIEW STATUS=SIZE \
SAVEDATE LITERAL+ NOTIFY SPECIAL-USE QUOTA\r\n";
    let Response::Capability(caps) = response_round_trip(line) else {
        panic!()
    };
    assert_eq!(caps.as_slice().len(), 39);
    for wanted in [
        Capability::Imap4Rev1,
        Capability::SaslIr,
        Capability::LiteralPlus,
        Capability::QResync,
        Capability::CondStore,
        Capability::ContextSearch,
        Capability::SortDisplay,
        Capability::StatusSize,
        Capability::Notify,
        Capability::Quota,
    ] {
        assert!(caps.contains(&wanted), "{wanted:?}");
    }
    assert!(!caps.contains(&Capability::Utf8Accept));
    assert!(caps.contains(&Capability::Other(atom("I18NLEVEL=1"))));
    assert_eq!(
        caps.thread_algorithms().collect::<Vec<_>>(),
        ["REFERENCES", "REFS", "ORDEREDSUBJECT"]
    );
    assert!(caps.accepts_non_sync_literal(1 << 30));
}

#[test]
fn greeting_code_and_rfc_examples() {
    let r = response_round_trip(b"* OK [CAPABILITY IMAP4rev2 STARTTLS AUTH=GSSAPI LOGINDISABLED] ready\r\n");
    let Response::Status {
        status: Status::Ok,
        text: RespText {
            code: Some(Code::Capability(caps)),
            ..
        },
        ..
    } = r
    else {
        panic!()
    };
    assert!(caps.contains(&Capability::LoginDisabled) && caps.contains(&Capability::StartTls));
    assert!(caps.supports_auth("gssapi") && !caps.supports_auth("PLAIN"));
    // RFC 7889 section 2.
    let Response::Capability(caps) = response_round_trip(b"* CAPABILITY IMAP4rev1 ID APPENDLIMIT=257890\r\n")
    else {
        panic!()
    };
    assert_eq!(caps.append_limit(), Some(Some(257890)));
    let Response::Capability(caps) = response_round_trip(b"* CAPABILITY IMAP4rev1 ID APPENDLIMIT\r\n") else {
        panic!()
    };
    assert_eq!(caps.append_limit(), Some(None));
    // Names are case-insensitive; known ones come back in their usual spelling.
    response_encodes_as(
        b"* CAPABILITY imap4REV1 literal+ auth=PLAIN utf8=accept\r\n",
        b"* CAPABILITY IMAP4rev1 LITERAL+ AUTH=PLAIN UTF8=ACCEPT\r\n",
    );
}

#[test]
fn enable_and_enabled() {
    // RFC 5161 section 4 and RFC 7162 section 3.2.3.
    let c = command_round_trip(b"t1 ENABLE CONDSTORE X-GOOD-IDEA\r\n");
    let CommandBody::Enable(caps) = &c.body else {
        panic!()
    };
    assert_eq!(
        caps[..],
        [Capability::CondStore, Capability::Other(atom("X-GOOD-IDEA"))]
    );
    let c = command_round_trip(b"A01 ENABLE QRESYNC\r\n");
    assert!(matches!(&c.body, CommandBody::Enable(c) if c[..] == [Capability::QResync]));
    let c = command_round_trip(b"a1 ENABLE UTF8=ACCEPT\r\n");
    assert!(matches!(&c.body, CommandBody::Enable(c) if c[..] == [Capability::Utf8Accept]));
    let Response::Enabled(caps) = response_round_trip(b"* ENABLED CONDSTORE QRESYNC\r\n") else {
        panic!()
    };
    assert_eq!(caps, [Capability::CondStore, Capability::QResync]);
    response_round_trip(b"* ENABLED\r\n");
    // Hostile: a capability that is not an atom, too many of them.
    let e = command_error(b"A2 ENABLE (X)\r\n", &DecoderConfig::STRICT);
    assert_eq!((e.offset, e.tag.as_ref().unwrap().as_str()), (10, "A2"));
    let mut config = DecoderConfig::STRICT;
    config.limits.list = 3;
    let e = response_error(b"* CAPABILITY A B C D\r\n", &config);
    assert_eq!(e.kind, ErrorKind::TooMany { limit: 3 });
}

fn capability_strategy() -> impl Strategy<Value = Capability<'static>> {
    let name = prop_oneof![
        Just("IMAP4rev2".to_owned()),
        Just("literal-".to_owned()),
        Just("QRESYNC".to_owned()),
        "(AUTH|THREAD|COMPRESS|RIGHTS|QUOTA|APPENDLIMIT|X)(=(RES-)?[A-Za-z0-9+-]{0,6})?",
        "APPENDLIMIT=[0-9]{1,22}",
        "[A-Z][A-Z0-9=+.-]{0,12}",
    ];
    name.prop_map(|n| Capability::from_atom(Atom::new(n).unwrap()).into_owned())
}

proptest! {
    #[test]
    fn capability_lists_round_trip(list in proptest::collection::vec(capability_strategy(), 0..8)) {
        let r = Response::Capability(Capabilities(list));
        let bytes = to_bytes(&r.encode());
        let (decoded, n) = decode_response(&bytes, &DecoderConfig::STRICT).unwrap().complete().unwrap();
        prop_assert_eq!(n, bytes.len());
        prop_assert_eq!(decoded, r);
    }
}

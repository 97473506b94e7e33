//! URLAUTH (RFC 4467): the RFC's GENURLAUTH, URLFETCH and RESETKEY
//! exchanges decoded, re-encoded byte for byte and checked; URLFETCH data
//! as NIL, quoted, literal and literal8; malformed commands with their
//! offsets; property tests that generated values round-trip.

mod codec_support;

use codec_support::*;
use mailwire_imap::{
    Atom, Code, Command, CommandBody, DecoderConfig, ErrorKind, GenUrlAuth, IString, ImapUrl, Literal,
    LiteralPolicy, Mailbox, NString, RespText, Response, Tag, UrlFetchAnswer, UrlFetchData, UrlFetchRequest,
    UrlForm, to_bytes,
};
use proptest::prelude::*;

const RUMP: &str = "imap://joe@example.com/INBOX/;uid=20/;section=1.2;urlauth=submit+fred";
const FULL: &str = "imap://joe@example.com/INBOX/;uid=20/;section=1.2;urlauth=submit+fred:internal:91354a473744909de610943775f92038";

#[test]
fn rfc4467_genurlauth_and_urlfetch() {
    let input = format!("a001 GENURLAUTH \"{RUMP}\" INTERNAL\r\n");
    let c = command_round_trip(input.as_bytes());
    let CommandBody::GenUrlAuth(items) = &c.body else {
        panic!("{c:?}")
    };
    assert_eq!(items.len(), 1);
    let url = &items[0].url;
    assert!(url.is_urlauth_rump());
    assert_eq!(
        (url.form(), url.access(), url.urlauth_mechanism()),
        (UrlForm::Absolute, Some("submit+fred"), None)
    );
    assert_eq!(url.section().unwrap().as_ref(), b"1.2");
    assert_eq!(items[0].mechanism.as_str(), "INTERNAL");

    let line = format!("* GENURLAUTH \"{FULL}\"\r\n");
    let r = response_round_trip(line.as_bytes());
    let Response::GenUrlAuth(urls) = &r else {
        panic!("{r:?}")
    };
    assert_eq!(urls[0].urlauth_mechanism(), Some("internal"));
    assert_eq!(urls[0].urlauth_token(), Some("91354a473744909de610943775f92038"));
    response_round_trip(b"a001 OK GENURLAUTH completed\r\n");

    let input = format!("a002 URLFETCH \"{FULL}\"\r\n");
    let c = command_round_trip(input.as_bytes());
    let CommandBody::UrlFetch(urls) = &c.body else {
        panic!("{c:?}")
    };
    assert_eq!(urls[0].url.as_str(), FULL);
    assert_eq!(urls[0].params, None);
    let line = format!("* URLFETCH \"{FULL}\" {{28}}\r\nSi vis pacem, para bellum.\r\n\r\n");
    let r = response_round_trip(line.as_bytes());
    let Response::UrlFetch(data) = &r else {
        panic!("{r:?}")
    };
    assert_eq!(data[0].url.as_str(), FULL);
    assert_eq!(
        plain(&data[0].data).as_bytes(),
        Some(&b"Si vis pacem, para bellum.\r\n"[..])
    );
    response_round_trip(b"a002 OK URLFETCH completed\r\n");
}

/// The RFC 4467 answer of `answer`.
fn plain<'a>(answer: &'a UrlFetchAnswer<'a>) -> &'a NString<'a> {
    match answer {
        UrlFetchAnswer::Plain(n) => n,
        other => panic!("{other:?}"),
    }
}

#[test]
fn resetkey_forms() {
    let c = command_round_trip(b"a001 RESETKEY\r\n");
    assert_eq!(
        c.body,
        CommandBody::ResetKey {
            mailbox: None,
            mechanisms: Vec::new()
        }
    );
    let c = command_round_trip(b"a002 RESETKEY INBOX INTERNAL X-OTHER.1\r\n");
    let CommandBody::ResetKey { mailbox, mechanisms } = &c.body else {
        panic!()
    };
    assert_eq!(mailbox, &Some(Mailbox::Inbox));
    assert_eq!(mechanisms.len(), 2);
    command_round_trip(b"a003 RESETKEY \"Other Box\"\r\n");
    response_round_trip(b"a001 OK All keys removed\r\n");
}

#[test]
fn urlfetch_data_forms() {
    // Several URLs: NIL for the one the server would not fetch, a quoted
    // string, a literal8 holding NUL.
    let r = response_round_trip(
        b"* URLFETCH /INBOX/;UID=1 NIL \"imap://h/INBOX/;UID=2;URLAUTH=anonymous:INTERNAL:0123456789abcdef0123456789abcdef\" \"short\" imap://h/INBOX/;UID=3 ~{3}\r\na\0b\r\n",
    );
    let Response::UrlFetch(data) = &r else {
        panic!("{r:?}")
    };
    assert_eq!(data.len(), 3);
    assert_eq!(plain(&data[0].data), &NString::NIL);
    assert_eq!(plain(&data[1].data).as_bytes(), Some(&b"short"[..]));
    let NString(Some(IString::Literal(l))) = plain(&data[2].data) else {
        panic!()
    };
    assert!(l.is_binary() && l.data() == b"a\0b");
    command_round_trip(b"a3 URLFETCH /INBOX/;UID=1 imap://h/INBOX/;UID=2\r\n");
    command_round_trip(b"a4 GENURLAUTH imap://h/a/;UID=1;URLAUTH=anonymous INTERNAL imap://h/b/;UID=2;EXPIRE=2025-01-01T00:00:00Z;URLAUTH=user+x X-MECH\r\n");
}

#[test]
fn urlmech_code() {
    let r = response_round_trip(b"* OK [URLMECH INTERNAL XSAMPLE=P34OKhO7VEkCbsiYY8rGEg==] done\r\n");
    let Response::Status {
        text: RespText {
            code: Some(Code::UrlMech(list)),
            ..
        },
        ..
    } = &r
    else {
        panic!("{r:?}")
    };
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].mechanism.as_str(), "XSAMPLE");
    assert_eq!(
        list[0].data.as_ref().unwrap().as_str(),
        "P34OKhO7VEkCbsiYY8rGEg=="
    );
    let r = response_round_trip(b"* OK [URLMECH INTERNAL] only the internal one\r\n");
    assert!(
        matches!(&r, Response::Status { text: RespText { code: Some(Code::UrlMech(l)), .. }, .. } if l.is_empty())
    );
    response_round_trip(b"* OK [URLMECH INTERNAL A B=] x\r\n");
    for (input, offset) in [
        (&b"* OK [URLMECH] x\r\n"[..], 13),
        (b"* OK [URLMECH XSAMPLE] x\r\n", 14),
        (b"* OK [URLMECH INTERNAL X=abc] x\r\n", 25),
        (b"* OK [URLMECH INTERNAL =abcd] x\r\n", 23),
    ] {
        let e = response_error(input, &DecoderConfig::STRICT);
        assert_eq!(e.offset, offset, "{:?}", String::from_utf8_lossy(input));
    }
}

#[test]
fn malformed_urlauth_commands() {
    let c = DecoderConfig::STRICT;
    for (input, offset, expected) in [
        (&b"a1 GENURLAUTH\r\n"[..], 13, "space and URL"),
        (
            b"a1 GENURLAUTH imap://h/a/;UID=1;URLAUTH=anonymous\r\n",
            49,
            "space",
        ),
        (
            b"a1 GENURLAUTH imap://h/a/;UID=1;URLAUTH=anonymous \"INTERNAL\"\r\n",
            50,
            "URLAUTH mechanism",
        ),
        (b"a1 URLFETCH\r\n", 11, "space and URL"),
        (
            b"a1 URLFETCH \"imap://h/a/;UID=1;URLAUTH=anonymous:internal:12\"\r\n",
            58,
            "URLAUTH token of 32 hex digits or more",
        ),
        (
            b"a1 URLFETCH \"imap://h/a/;UID=1;URLAUTH=:internal\"\r\n",
            39,
            "access identifier",
        ),
        (
            b"a1 URLFETCH \"imap://h/a%/;UID=1\"\r\n",
            23,
            "two hex digits after '%'",
        ),
        (b"a1 RESETKEY INBOX \"INTERNAL\"\r\n", 18, "URLAUTH mechanism"),
    ] {
        expect_command_error(input, &c, offset, expected, "a1");
    }
    let e = response_error(b"* URLFETCH /INBOX/;UID=1\r\n", &c);
    assert_eq!(e.offset, 24);
    let mut small = DecoderConfig::STRICT;
    small.limits.list = 2;
    let e = command_error(b"a1 URLFETCH /a/;UID=1 /a/;UID=2 /a/;UID=3\r\n", &small);
    assert_eq!((e.offset, e.kind), (32, ErrorKind::TooMany { limit: 2 }));
}

fn url_strategy() -> impl Strategy<Value = ImapUrl<'static>> {
    (
        "[a-z]{1,5}",
        "[A-Za-z]{1,6}",
        1u32..,
        proptest::sample::select(vec!["anonymous", "authuser", "submit+fred", "user+x%20y"]),
        proptest::option::of("[0-9a-f]{32,40}"),
    )
        .prop_map(|(host, mailbox, uid, access, token)| {
            let mut text = format!("imap://{host}/{mailbox}/;UID={uid};URLAUTH={access}");
            if let Some(t) = token {
                text += &format!(":INTERNAL:{t}");
            }
            ImapUrl::new(text).unwrap()
        })
}

proptest! {
    #[test]
    fn generated_urlauth_commands_round_trip(
        requests in proptest::collection::vec((url_strategy(), "[A-Z][A-Z0-9.-]{0,6}"), 1..3),
        fetch in proptest::collection::vec(url_strategy(), 1..3),
    ) {
        for body in [
            CommandBody::GenUrlAuth(requests.iter().cloned().map(|(url, m)| GenUrlAuth { url, mechanism: Atom::new(m).unwrap() }).collect()),
            CommandBody::UrlFetch(fetch.iter().cloned().map(UrlFetchRequest::plain).collect()),
        ] {
            let command = Command { tag: Tag::new("u1").unwrap(), body };
            let bytes = to_bytes(&command.encode(LiteralPolicy::SyncOnly));
            prop_assert_eq!(&decode_cmd_with(&bytes, &DecoderConfig::STRICT), &command);
        }
    }

    #[test]
    fn generated_urlfetch_responses_round_trip(
        data in proptest::collection::vec(
            (url_strategy(), prop_oneof![
                Just(NString::NIL),
                proptest::collection::vec(1u8..=255, 0..30).prop_map(|d| NString(Some(IString::from_bytes(d).unwrap()))),
                proptest::collection::vec(any::<u8>(), 0..30).prop_map(|d| NString(Some(IString::Literal(Literal::binary(d))))),
            ]).prop_map(|(url, data)| UrlFetchData { url, data: UrlFetchAnswer::Plain(data) }),
            1..4,
        ),
    ) {
        let r = Response::UrlFetch(data);
        let bytes = to_bytes(&r.encode());
        prop_assert_eq!(&decode_resp_with(&bytes, &DecoderConfig::STRICT), &r);
    }
}

/// Extra spaces are taken by the lenient decoder (and refused by the
/// strict one); the values re-encode in the grammar's form.
#[test]
fn lenient_spaces() {
    for (input, canonical) in [
        (&b"a1 RESETKEY \r\n"[..], &b"a1 RESETKEY\r\n"[..]),
        (
            b"a1 RESETKEY INBOX  INTERNAL \r\n",
            b"a1 RESETKEY INBOX INTERNAL\r\n",
        ),
        (b"a1 URLFETCH  /a/;UID=1 \r\n", b"a1 URLFETCH /a/;UID=1\r\n"),
        (
            b"a1 NOTIFY SET  (selected NONE) \r\n",
            b"a1 NOTIFY SET (selected NONE)\r\n",
        ),
    ] {
        assert!(mailwire_imap::decode_command(input, &DecoderConfig::STRICT).is_err());
        let c = decode_cmd_with(input, &DecoderConfig::default());
        assert_eq!(to_bytes(&c.encode(LiteralPolicy::SyncOnly)), canonical);
        assert_eq!(decode_cmd_with(canonical, &DecoderConfig::STRICT), c);
    }
}

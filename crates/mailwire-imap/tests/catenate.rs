//! CATENATE (RFC 4469) with the IMAP URLs it carries (RFC 5092), and the
//! UTF8=ACCEPT APPEND form (RFC 6855 section 4): the RFC 4469 examples
//! decoded, re-encoded byte for byte and checked part by part; BADURL and
//! TOOBIG; malformed lists and URLs with their offsets; property tests
//! that generated messages and URLs round-trip.

mod codec_support;

use std::num::NonZeroU32;

use codec_support::*;
use mailwire_imap::{
    AString, Append, AppendData, AppendMessage, CatPart, Code, Command, CommandBody, DecoderConfig,
    ErrorKind, Flag, ImapUrl, Literal, LiteralPolicy, Mailbox, RespText, Response, Status, Tag, UrlForm,
    UrlPartial, to_bytes,
};
use proptest::prelude::*;

fn append<'a>(c: &'a Command<'a>) -> &'a Append<'a> {
    match &c.body {
        CommandBody::Append(a) => a,
        other => panic!("not an APPEND: {other:?}"),
    }
}

fn parts<'a>(m: &'a AppendMessage<'a>) -> &'a [CatPart<'a>] {
    match &m.data {
        AppendData::Catenate(p) => p,
        other => panic!("not CATENATE: {other:?}"),
    }
}

fn url<'a>(p: &'a CatPart<'a>) -> &'a ImapUrl<'a> {
    match p {
        CatPart::Url(u) => u,
        other => panic!("not a URL: {other:?}"),
    }
}

fn nz(n: u32) -> Option<NonZeroU32> {
    NonZeroU32::new(n)
}

const BOUNDARY: &[u8] = b"\r\n--------------030308070208000400050907\r\n";
const LAST_BOUNDARY: &[u8] = b"\r\n--------------030308070208000400050907--\r\n";

#[test]
fn rfc4469_example_1_replaces_an_attachment() {
    let input = [
        &b"A003 APPEND Drafts (\\Seen \\Draft $MDNSent) CATENATE (URL \"/Drafts;UIDVALIDITY=385759045/;UID=20/;section=HEADER\" TEXT {42}\r\n"[..],
        BOUNDARY,
        b" URL \"/Drafts;UIDVALIDITY=385759045/;UID=20/;section=1.MIME\" URL \"/Drafts;UIDVALIDITY=385759045/;UID=20/;section=1\" TEXT {42}\r\n",
        BOUNDARY,
        b" URL \"/Drafts;UIDVALIDITY=385759045/;UID=30\" TEXT {44}\r\n",
        LAST_BOUNDARY,
        b")\r\n",
    ]
    .concat();
    let c = command_round_trip(&input);
    let a = append(&c);
    assert_eq!(a.mailbox.as_bytes(), b"Drafts");
    assert_eq!(a.messages.len(), 1);
    let m = &a.messages[0];
    assert_eq!(m.flags.as_ref().unwrap()[..2], [Flag::Seen, Flag::Draft]);
    let p = parts(m);
    assert_eq!(p.len(), 7);
    let first = url(&p[0]);
    assert_eq!(first.form(), UrlForm::AbsolutePath);
    assert_eq!(first.mailbox().unwrap().as_ref(), b"Drafts");
    assert_eq!(first.uid_validity(), nz(385759045));
    assert_eq!(first.uid(), nz(20));
    assert_eq!(first.section().unwrap().as_ref(), b"HEADER");
    assert!(matches!(&p[1], CatPart::Text(l) if l.data() == BOUNDARY));
    assert_eq!(url(&p[2]).section().unwrap().as_ref(), b"1.MIME");
    assert_eq!(url(&p[3]).section().unwrap().as_ref(), b"1");
    assert_eq!((url(&p[5]).uid(), url(&p[5]).section()), (nz(30), None));
    assert!(matches!(&p[6], CatPart::Text(l) if l.data() == LAST_BOUNDARY));
    response_round_trip(b"A003 OK catenate append completed\r\n");
}

#[test]
fn rfc4469_example_2_with_appenduid() {
    let header = b"Return-Path: <bar@example.org>\r\nSubject: About our holiday trip\r\n\r\nCheers,\r\nBob\r\n--------------030308070208000400050907\r\n";
    let input = [
        format!("A003 APPEND Drafts (\\Seen \\Draft $MDNSent) CATENATE (TEXT {{{}}}\r\n", header.len()).as_bytes(),
        header,
        b" URL \"/Drafts;UIDVALIDITY=385759045/;UID=20/;Section=2.MIME\" URL \"/Drafts;UIDVALIDITY=385759045/;UID=20/;Section=2\" TEXT {44}\r\n",
        LAST_BOUNDARY,
        b")\r\n",
    ]
    .concat();
    let c = command_round_trip(&input);
    let p = parts(&append(&c).messages[0]);
    // ";Section=" is matched without regard to case.
    assert_eq!(url(&p[1]).section().unwrap().as_ref(), b"2.MIME");
    let r = response_round_trip(b"A003 OK [APPENDUID 385759045 45] append Completed\r\n");
    assert!(matches!(
        r,
        Response::Status {
            status: Status::Ok,
            ..
        }
    ));
    command_round_trip(b"A004 UID STORE 20 +FLAGS.SILENT (\\Deleted)\r\n");
}

#[test]
fn rfc4469_example_3_strips_an_attachment() {
    let boundary = b"\r\n--------------030308070208000400050903\r\n";
    let note = b"\r\n--------------030308070208000400050903\r\nContent-type: text/plain; charset=\"us-ascii\"\r\nContent-transfer-encoding: 7bit\r\n\r\nThis body part contained a Power Point presentation that was\r\ndeleted upon your request.\r\n--------------030308070208000400050903--\r\n";
    assert_eq!(note.len(), 255);
    let input = [
        &b"A003 APPEND Drafts (\\Seen \\Draft $MDNSent) CATENATE (URL \"/Drafts;UIDVALIDITY=385759045/;UID=21/;section=HEADER\" TEXT {42}\r\n"[..],
        boundary,
        b" URL \"/Drafts;UIDVALIDITY=385759045/;UID=21/;section=1.MIME\" URL \"/Drafts;UIDVALIDITY=385759045/;UID=21/;section=1\" TEXT {255}\r\n",
        note,
        b")\r\n",
    ]
    .concat();
    let c = command_round_trip(&input);
    let p = parts(&append(&c).messages[0]);
    assert_eq!(p.len(), 5);
    assert!(matches!(&p[4], CatPart::Text(l) if l.data() == note));
    assert_eq!(url(&p[3]).uid(), nz(21));
    response_round_trip(b"A003 OK append Completed\r\n");
}

#[test]
fn badurl_and_toobig_codes() {
    let r = response_round_trip(
        b"A003 NO [BADURL /Drafts;UIDVALIDITY=385759045/;UID=20/;section=3] No such part\r\n",
    );
    let Response::Status {
        text: RespText {
            code: Some(Code::BadUrl(u)),
            ..
        },
        ..
    } = &r
    else {
        panic!("{r:?}")
    };
    assert_eq!(u, "/Drafts;UIDVALIDITY=385759045/;UID=20/;section=3");
    assert_eq!(
        ImapUrl::new(u.as_ref()).unwrap().section().unwrap().as_ref(),
        b"3"
    );
    // What the server could not parse is kept too.
    let r = response_round_trip(b"A004 NO [BADURL imap://x y z] Bad URL syntax\r\n");
    assert!(
        matches!(&r, Response::Status { text: RespText { code: Some(Code::BadUrl(u)), .. }, .. } if u == "imap://x y z")
    );
    let r = response_round_trip(b"A005 NO [TOOBIG] Resulting message too large\r\n");
    assert!(
        matches!(&r, Response::Status { text: RespText { code: Some(Code::Condition(c)), .. }, .. } if c.as_str() == "TOOBIG")
    );
    let e = response_error(b"A006 NO [BADURL] x\r\n", &DecoderConfig::STRICT);
    assert_eq!((e.offset, e.tag.unwrap().as_str()), (15, "A006"));
}

#[test]
fn utf8_append_and_utf8_parts() {
    let body = "Subject: café\r\n\r\nbonjour\r\n".as_bytes();
    let input = [
        format!("A1 APPEND INBOX UTF8 (~{{{}}}\r\n", body.len()).as_bytes(),
        body,
        b")\r\n",
    ]
    .concat();
    let c = command_round_trip(&input);
    let m = &append(&c).messages[0];
    assert!(matches!(&m.data, AppendData::Utf8(l) if l.data() == body && l.is_binary()));
    assert_eq!(m.data.literal().unwrap().data(), body);
    // MULTIAPPEND with a plain literal, a UTF-8 message and a CATENATE
    // list holding a UTF-8 part, in a quoted and an atom URL.
    let input = [
        &b"A2 APPEND Sent (\\Seen) {3}\r\nabc \" 7-Feb-1994 21:52:25 -0800\" utf8 (~{2}\r\n\xc3\xa9) CATENATE (UTF8 (~{2}\r\n\xc3\xa9) URL /INBOX/;UID=3 URL \"imap://joe@example.com/INBOX/;UID=3\")\r\n"[..],
    ]
    .concat();
    let c = command_encodes_as(&input, LiteralPolicy::SyncOnly, &input.clone().replace_utf8());
    let a = append(&c);
    assert_eq!(a.messages.len(), 3);
    let p = parts(&a.messages[2]);
    assert!(matches!(&p[0], CatPart::Utf8(l) if l.data() == "é".as_bytes()));
    assert!(matches!(url(&p[1]).as_astring(), AString::Atom(_)));
    assert_eq!(url(&p[2]).form(), UrlForm::Absolute);
    assert_eq!(url(&p[2]).user().unwrap().as_ref(), b"joe");
    // A client with LITERAL+ sends every literal non-synchronizing; a
    // literal8 too.
    let plus = to_bytes(&c.encode(LiteralPolicy::LiteralPlus));
    assert!(plus.windows(6).any(|w| w == b"~{2+}\r"));
    assert_eq!(decode_cmd_with(&plus, &DecoderConfig::STRICT), c);
}

/// Spells the lower-case `utf8` of a test input the way it is encoded.
trait ReplaceUtf8 {
    fn replace_utf8(self) -> Vec<u8>;
}

impl ReplaceUtf8 for Vec<u8> {
    fn replace_utf8(self) -> Vec<u8> {
        let mut out = self;
        if let Some(i) = out.windows(6).position(|w| w == b" utf8 ") {
            out[i + 1..i + 5].copy_from_slice(b"UTF8");
        }
        out
    }
}

#[test]
fn malformed_catenate_and_urls() {
    let c = DecoderConfig::STRICT;
    for (input, offset, expected) in [
        (&b"A1 APPEND INBOX CATENATE ()\r\n"[..], 26, "TEXT, URL or UTF8"),
        (b"A1 APPEND INBOX CATENATE\r\n", 16, "CATENATE ("),
        (b"A1 APPEND INBOX CATENATE (TEXT ~{1}\r\nx)\r\n", 31, "literal"),
        (b"A1 APPEND INBOX CATENATE (TEXT {1}\r\nx\r\n", 37, "space or ')'"),
        (
            b"A1 APPEND INBOX CATENATE (TEXT {1}\r\nx  URL /a/;UID=1)\r\n",
            38,
            "TEXT, URL or UTF8",
        ),
        (b"A1 APPEND INBOX UTF8 ({3}\r\nabc)\r\n", 22, "literal8"),
        (b"A1 APPEND INBOX UTF8 (~{3}\r\nabc\r\n", 31, "')'"),
        // A percent escape cut short; a zero UID in an atom URL.
        (
            b"A1 APPEND INBOX CATENATE (URL \"/a%2\")\r\n",
            33,
            "two hex digits after '%'",
        ),
        (b"A1 APPEND INBOX CATENATE (URL /a/;UID=0)\r\n", 38, "digit 1-9"),
        (
            b"A1 APPEND INBOX CATENATE (URL \"/INBOX;UIDVALIDITY=0/;UID=1\")\r\n",
            50,
            "digit 1-9",
        ),
        (
            b"A1 APPEND INBOX CATENATE (URL \"/INBOX/;UID=1/;PARTIAL=\")\r\n",
            54,
            "number",
        ),
        (
            b"A1 APPEND INBOX CATENATE (URL \"imap://h/a b\")\r\n",
            41,
            "end of URL",
        ),
        (b"A1 APPEND INBOX CATENATE (URL \"\")\r\n", 31, "IMAP URL"),
    ] {
        expect_command_error(input, &c, offset, expected, "A1");
    }
    // A URL in a literal fails at its byte in the literal's data.
    let input = b"A1 APPEND INBOX CATENATE (URL {4}\r\n/a%2)\r\n";
    let e = command_error(input, &c);
    assert_eq!(e.offset, 37);
}

#[test]
fn part_counts_are_bounded() {
    let mut c = DecoderConfig::STRICT;
    c.limits.list = 2;
    let ok = b"A1 APPEND INBOX CATENATE (URL /a/;UID=1 URL /a/;UID=2)\r\n";
    assert!(matches!(
        mailwire_imap::decode_command(ok, &c),
        Ok(mailwire_imap::Decoded::Complete { .. })
    ));
    let e = command_error(
        b"A1 APPEND INBOX CATENATE (URL /a/;UID=1 URL /a/;UID=2 URL /a/;UID=3)\r\n",
        &c,
    );
    assert_eq!((e.kind, e.offset), (ErrorKind::TooMany { limit: 2 }, 54));
    // A million tiny parts never get further than the limit.
    let mut input = b"A1 APPEND INBOX CATENATE (".to_vec();
    for _ in 0..100_000 {
        input.extend_from_slice(b"URL /a/;UID=1 ");
    }
    input.extend_from_slice(b"URL /a/;UID=1)\r\n");
    let mut c = long_lines();
    c.limits.list = 1000;
    let e = command_error(&input, &c);
    assert_eq!(e.kind, ErrorKind::TooMany { limit: 1000 });
}

fn url_strategy() -> impl Strategy<Value = String> {
    let name = "[A-Za-z0-9._~-]{1,8}(%2[0F]|/)?[a-z]{0,3}";
    let server = prop_oneof![
        Just(String::new()),
        "[a-z]{1,6}".prop_map(|h| format!("imap://{h}")),
        ("[a-z]{1,6}", "[a-z]{1,6}", 1u16..).prop_map(|(u, h, p)| format!("imap://{u}@{h}:{p}")),
        "[a-z]{1,6}".prop_map(|h| format!("//;AUTH=*@{h}")),
    ];
    let tail = prop_oneof![
        Just(String::new()),
        (1u32.., 1u32..).prop_map(|(v, u)| format!(";UIDVALIDITY={v}/;UID={u}")),
        (
            1u32..,
            proptest::sample::select(vec!["HEADER", "1.MIME", "2.3.TEXT"])
        )
            .prop_map(|(u, s)| format!("/;uid={u}/;Section={s}")),
        (1u32.., 0u32.., proptest::option::of(1u32..)).prop_map(|(u, o, l)| format!(
            "/;UID={u}/;PARTIAL={o}{}",
            l.map(|l| format!(".{l}")).unwrap_or_default()
        )),
        Just("?SUBJECT%20x".to_string()),
    ];
    (server, name, tail).prop_map(|(s, n, t)| format!("{s}/{n}{t}"))
}

fn part_strategy() -> impl Strategy<Value = CatPart<'static>> {
    prop_oneof![
        proptest::collection::vec(1u8..=255, 0..20).prop_map(|d| CatPart::Text(Literal::new(d).unwrap())),
        proptest::collection::vec(any::<u8>(), 0..20).prop_map(|d| CatPart::Utf8(Literal::binary(d))),
        (url_strategy(), any::<bool>()).prop_map(|(u, quoted)| {
            let url = if quoted {
                let q = AString::String(mailwire_imap::IString::from_bytes(u.into_bytes()).unwrap());
                ImapUrl::from_astring(q).unwrap()
            } else {
                ImapUrl::new(u).unwrap()
            };
            CatPart::Url(url)
        }),
    ]
}

proptest! {
    #[test]
    fn generated_appends_round_trip(
        messages in proptest::collection::vec(
            prop_oneof![
                proptest::collection::vec(part_strategy(), 1..5).prop_map(AppendData::Catenate),
                proptest::collection::vec(any::<u8>(), 0..20).prop_map(|d| AppendData::Utf8(Literal::binary(d))),
                proptest::collection::vec(1u8..=255, 0..20).prop_map(|d| AppendData::Literal(Literal::new(d).unwrap())),
            ],
            1..3,
        ),
        policy in prop_oneof![Just(LiteralPolicy::SyncOnly), Just(LiteralPolicy::LiteralPlus)],
    ) {
        let command = Command {
            tag: Tag::new("c1").unwrap(),
            body: CommandBody::Append(Append {
                mailbox: Mailbox::Inbox,
                messages: messages
                    .into_iter()
                    .map(|data| AppendMessage { flags: None, date: None, data })
                    .collect(),
            }),
        };
        let bytes = to_bytes(&command.encode(policy));
        let decoded = decode_cmd_with(&bytes, &DecoderConfig::STRICT);
        prop_assert_eq!(&decoded, &command);
        prop_assert_eq!(to_bytes(&decoded.encode(policy)), bytes);
    }

    /// The parts found in a URL are the ones it was built from.
    #[test]
    fn url_parts_are_found(
        user in "[a-z]{1,5}(%40[a-z]{1,3})?",
        host in "[a-z]{1,6}(\\.[a-z]{2,3})?",
        mailbox in "[A-Za-z]{1,5}(/[a-z]{1,4}|%20x)?",
        validity in proptest::option::of(1u32..),
        uid in 1u32..,
        section in proptest::option::of("[1-9](\\.[1-9]){0,2}(\\.MIME)?"),
        partial in proptest::option::of((0u32.., proptest::option::of(1u32..))),
    ) {
        let mut text = format!("imap://{user}@{host}/{mailbox}");
        if let Some(v) = validity {
            text += &format!(";UIDVALIDITY={v}");
        }
        text += &format!("/;UID={uid}");
        if let Some(s) = &section {
            text += &format!("/;SECTION={s}");
        }
        if let Some((o, l)) = partial {
            text += &format!("/;PARTIAL={o}");
            if let Some(l) = l {
                text += &format!(".{l}");
            }
        }
        let u = ImapUrl::new(text.as_str()).unwrap();
        let decode = |s: &str| s.replace("%40", "@").replace("%20", " ").into_bytes();
        prop_assert_eq!(u.as_str(), text.as_str());
        prop_assert_eq!(u.user().unwrap().into_owned(), decode(&user));
        prop_assert_eq!(u.host().unwrap().into_owned(), host.clone().into_bytes());
        prop_assert_eq!(u.mailbox().unwrap().into_owned(), decode(&mailbox));
        prop_assert_eq!(u.uid_validity(), validity.and_then(NonZeroU32::new));
        prop_assert_eq!(u.uid(), NonZeroU32::new(uid));
        prop_assert_eq!(u.section().map(|s| s.into_owned()), section.map(String::into_bytes));
        prop_assert_eq!(
            u.partial(),
            partial.map(|(offset, l)| UrlPartial { offset, length: l.and_then(NonZeroU32::new) })
        );
        prop_assert_eq!(u.clone().into_owned(), u);
    }
}

//! A response the application builds stays one response on the wire,
//! whatever text it holds: a line break in a text, a code's argument, a
//! charset name or a delimiter would end the line, and the rest would be
//! read as responses of its own (a client's mailbox name echoed in a NO
//! becoming `* BYE`).

use std::borrow::Cow;

use mailwire_imap::{
    Atom, Code, Decoded, DecoderConfig, Mailbox, MailboxList, RespText, Response, Status, Tag,
    decode_response,
};

/// The response encoded, checked to be one line, and decoded back.
fn one_line(response: &Response<'_>) -> (String, Response<'static>) {
    let mut out = Vec::new();
    response.encode_into(&mut out);
    let text = String::from_utf8(out.clone()).unwrap();
    assert_eq!(
        out.iter().filter(|&&b| b == b'\n' || b == b'\r').count(),
        2,
        "{text:?}"
    );
    assert!(text.ends_with("\r\n"), "{text:?}");
    match decode_response(&out, &DecoderConfig::default()) {
        Ok(Decoded::Complete { value, consumed }) => {
            assert_eq!(consumed, out.len(), "{text:?}");
            (text, value.into_owned())
        }
        other => panic!("{text:?}: {other:?}"),
    }
}

fn tagged_no(text: RespText<'static>) -> Response<'static> {
    Response::Status {
        tag: Some(Tag::try_from("a1").unwrap()),
        status: Status::No,
        text,
    }
}

#[test]
fn a_text_with_a_line_break_stays_one_line() {
    let name = "x\r\n* BYE spoofed";
    let text = RespText {
        code: None,
        text: Cow::Owned(format!("No mailbox {name}")),
    };
    let (wire, _) = one_line(&tagged_no(text.clone()));
    assert_eq!(wire, "a1 NO No mailbox x  * BYE spoofed\r\n");
    let (wire, _) = one_line(&Response::Continue(text));
    assert!(wire.starts_with("+ No mailbox x  "), "{wire:?}");
}

#[test]
fn a_text_without_a_code_is_not_read_as_one() {
    let text = RespText::text("[CAPABILITY IMAP4rev1 XSPOOF] hello");
    let (wire, back) = one_line(&tagged_no(text));
    let Response::Status { text, .. } = back else {
        panic!("{back:?}")
    };
    assert_eq!(text.code, None, "{wire:?}");
    assert!(text.text.contains("[CAPABILITY"), "{wire:?}");
}

#[test]
fn codes_with_line_breaks_stay_one_line() {
    let other = RespText {
        code: Some(Code::Other {
            name: Atom::new("XTHING").unwrap(),
            text: Some(Cow::Borrowed("a]b\r\n* BYE x")),
        }),
        text: Cow::Borrowed("text"),
    };
    let (wire, back) = one_line(&tagged_no(other));
    assert_eq!(wire, "a1 NO [XTHING a b  * BYE x] text\r\n");
    let Response::Status { text, .. } = back else {
        panic!("{back:?}")
    };
    assert!(matches!(text.code, Some(Code::Other { .. })), "{text:?}");

    let charsets = RespText {
        code: Some(Code::BadCharset(vec![
            Cow::Borrowed("UTF-8"),
            Cow::Borrowed("x\r\n* BYE"),
            Cow::Borrowed("iso 8859-1"),
        ])),
        text: Cow::Borrowed("charsets"),
    };
    let (wire, _) = one_line(&tagged_no(charsets));
    assert_eq!(wire, "a1 NO [BADCHARSET (UTF-8 \"iso 8859-1\")] charsets\r\n");
    let none = RespText {
        code: Some(Code::BadCharset(vec![Cow::Borrowed("\n")])),
        text: Cow::Borrowed("charsets"),
    };
    let (wire, _) = one_line(&tagged_no(none));
    assert_eq!(wire, "a1 NO [BADCHARSET] charsets\r\n");
}

#[test]
fn a_line_break_is_no_delimiter() {
    let list = Response::List(MailboxList {
        attributes: Vec::new(),
        delimiter: Some('\n'),
        mailbox: Mailbox::try_from("INBOX").unwrap(),
        extended: Vec::new(),
    });
    let (wire, _) = one_line(&list);
    assert_eq!(wire, "* LIST () NIL INBOX\r\n");
}

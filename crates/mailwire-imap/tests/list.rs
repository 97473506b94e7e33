//! LIST, LSUB and NAMESPACE: the examples of RFC 3501 and RFC 9051
//! (sections 6.3.9, 6.3.10, 7.3.1, 7.3.2), RFC 5258 section 5, RFC 5819,
//! RFC 6154 and RFC 2342, decoded, re-encoded byte for byte (or to the
//! documented canonical form) and compared; real-world forms; hostile
//! input; a property test that generated LIST responses round-trip.

mod codec_support;

use codec_support::*;
use mailwire_imap::{
    AString, CommandBody, Decoded, DecoderConfig, ErrorKind, ExtComponent, List, ListExtendedItem,
    ListMailbox, ListPatterns, ListReturnOption, ListSelectOption, LiteralPolicy, Mailbox, MailboxAttribute,
    MailboxList, NamespaceResponse, Response, StatusAttribute, TaggedExtVal, decode_response,
    encode_modified_utf7, to_bytes,
};
use proptest::prelude::*;

fn list_of<'a>(r: &'a Response<'a>) -> &'a MailboxList<'a> {
    match r {
        Response::List(l) | Response::Lsub(l) => l,
        other => panic!("not a LIST/LSUB response: {other:?}"),
    }
}

fn list_command<'a>(body: &'a CommandBody<'a>) -> &'a List<'a> {
    match body {
        CommandBody::List(l) => l,
        other => panic!("not LIST: {other:?}"),
    }
}

#[test]
fn rfc3501_and_rfc9051_list_commands() {
    for input in [
        &b"A682 LIST \"\" *\r\n"[..],
        b"A86 LIST \"\" %\r\n",
        b"A101 LIST \"\" \"\"\r\n",
        b"A102 LIST #news.comp.mail.misc \"\"\r\n",
        b"A103 LIST /usr/staff/jones \"\"\r\n",
        b"A202 LIST ~/Mail/ %\r\n",
        b"A002 LSUB \"#news.\" \"comp.mail.*\"\r\n",
        b"A003 LSUB \"#news.\" \"comp.%\"\r\n",
        b"A01 LIST \"\" \"*\"\r\n",
        b"A002 LIST \"\" \"Other Users/%\"\r\n",
        b"A002 LIST \"\" \"#Users/%\"\r\n",
        b"A003 LIST \"\" \"#Users/Mike/%\"\r\n",
        b"A002 LIST \"\" \"~mark/%\"\r\n",
    ] {
        command_round_trip(input);
    }
    let c = command_round_trip(b"A202 LIST ~/Mail/ %\r\n");
    let l = list_command(&c.body);
    assert_eq!(l.reference.as_bytes(), b"~/Mail/");
    assert_eq!(l.patterns.as_slice()[0].as_bytes(), b"%");
    assert!(l.selection.is_none() && l.return_options.is_none());
    let c = command_round_trip(b"A002 LSUB \"#news.\" \"comp.mail.*\"\r\n");
    let CommandBody::Lsub { reference, pattern } = &c.body else {
        panic!()
    };
    assert_eq!(
        (reference.as_bytes(), pattern.as_bytes()),
        (&b"#news."[..], &b"comp.mail.*"[..])
    );
}

#[test]
fn rfc5258_list_commands() {
    for input in [
        &b"A02 LIST (SUBSCRIBED) \"\" \"*\"\r\n"[..],
        b"A03 LIST () \"\" \"%\" RETURN (CHILDREN)\r\n",
        b"A04 LIST (REMOTE) \"\" \"%\" RETURN (CHILDREN)\r\n",
        b"A05 LIST (REMOTE SUBSCRIBED) \"\" \"*\"\r\n",
        b"A06 LIST (REMOTE) \"\" \"*\" RETURN (SUBSCRIBED)\r\n",
        b"BBB LIST \"\" (\"INBOX\" \"Drafts\" \"Sent/%\")\r\n",
        b"CA3 LIST \"\" \"%\" RETURN (CHILDREN)\r\n",
        b"C04 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" \"%\"\r\n",
        b"C04 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" \"%\" RETURN (CHILDREN)\r\n",
        b"D03 LIST (RECURSIVEMATCH SUBSCRIBED) \"\" \"*2\"\r\n",
        b"a1 LIST \"\" (\"foo\")\r\n",
        b"a1 LIST \"\" (\"foo\" \"foo/*\")\r\n",
        b"a2 LIST (SUBSCRIBED) \"\" \"foo/*\"\r\n",
        b"a3 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" foo RETURN (CHILDREN)\r\n",
        b"a1 LIST (REMOTE) \"\" *\r\n",
        b"a2 LIST () \"\" %\r\n",
        b"a3 LIST (REMOTE) \"\" %\r\n",
        b"a3.1 LIST \"\" (% music/rock)\r\n",
    ] {
        command_round_trip(input);
    }
    let c = command_round_trip(b"BBB LIST \"\" (\"INBOX\" \"Drafts\" \"Sent/%\")\r\n");
    let l = list_command(&c.body);
    let ListPatterns::List(patterns) = &l.patterns else {
        panic!()
    };
    assert_eq!(patterns.len(), 3);
    let c = command_round_trip(b"C04 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" \"%\" RETURN (CHILDREN)\r\n");
    let l = list_command(&c.body);
    assert_eq!(
        l.selection.as_deref(),
        Some(&[ListSelectOption::Subscribed, ListSelectOption::RecursiveMatch][..])
    );
    assert_eq!(
        l.return_options.as_deref(),
        Some(&[ListReturnOption::Children][..])
    );
    // RECURSIVEMATCH needs a base option (RFC 5258 section 6).
    let e = command_error(b"a LIST (RECURSIVEMATCH) \"\" %\r\n", &DecoderConfig::STRICT);
    assert_eq!(e.offset, 8);
    let e = command_error(
        b"a LIST (REMOTE RECURSIVEMATCH) \"\" %\r\n",
        &DecoderConfig::STRICT,
    );
    assert_eq!(e.offset, 8);
}

#[test]
fn rfc5819_rfc6154_list_commands() {
    let c = command_round_trip(b"A01 LIST \"\" % RETURN (STATUS (MESSAGES UNSEEN))\r\n");
    let l = list_command(&c.body);
    assert_eq!(
        l.return_options.as_deref(),
        Some(
            &[ListReturnOption::Status(vec![
                StatusAttribute::Messages,
                StatusAttribute::Unseen
            ])][..]
        )
    );
    command_round_trip(b"A02 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" % RETURN (STATUS (MESSAGES))\r\n");
    // RFC 5819 prints this command without the space before "" (an
    // erratum; RFC 9051 section 6.3.9.9 has it): an error, at the quote.
    let e = command_error(
        b"A02 LIST (SUBSCRIBED RECURSIVEMATCH)\"\" % RETURN (STATUS (MESSAGES))\r\n",
        &DecoderConfig::default(),
    );
    assert_eq!(e.offset, 36);
    for input in [
        &b"t1 LIST \"\" \"%\"\r\n"[..],
        b"t2 LIST \"\" \"%\" RETURN (SPECIAL-USE)\r\n",
        b"t3 LIST (SPECIAL-USE) \"\" \"*\"\r\n",
        b"A002 LIST (SPECIAL-USE) \"\" \"*\"\r\n",
        b"A003 LIST (SPECIAL-USE) \"#mh/\" \"*\"\r\n",
    ] {
        command_round_trip(input);
    }
    let c = command_round_trip(b"t3 LIST (SPECIAL-USE) \"\" \"*\"\r\n");
    assert_eq!(
        list_command(&c.body).selection.as_deref(),
        Some(&[ListSelectOption::SpecialUse][..])
    );
    // Options of later extensions are kept as sent.
    let c = command_round_trip(
        b"x LIST (vendor.x-opt (a \"b c\" (d))) \"\" * RETURN (MYRIGHTS METADATA (DEPTH 1 (/shared/comment)))\r\n",
    );
    let l = list_command(&c.body);
    let Some([ListSelectOption::Other(o)]) = l.selection.as_deref() else {
        panic!()
    };
    assert_eq!(o.name.as_str(), "vendor.x-opt");
    assert_eq!(o.value.as_ref().unwrap().len(), 3);
    let Some([ListReturnOption::Other(a), ListReturnOption::Other(b)]) = l.return_options.as_deref() else {
        panic!()
    };
    assert!(a.value.is_none());
    assert!(matches!(&b.value.as_ref().unwrap()[2], ExtComponent::List(_)));
}

#[test]
fn rfc3501_and_rfc9051_list_responses() {
    for input in [
        &b"* LIST () \"/\" blurdybloop\r\n"[..],
        b"* LIST (\\Noselect) \"/\" foo\r\n",
        b"* LIST () \"/\" foo/bar\r\n",
        b"* LIST () \".\" foo.bar\r\n",
        b"* LIST (\\Noselect) \".\" foo\r\n",
        b"* LIST () \".\" INBOX\r\n",
        b"* LIST () \".\" INBOX.bar\r\n",
        b"* LIST () \".\" old-mail\r\n",
        b"* LIST (\\Noselect) \"/\" \"\"\r\n",
        b"* LIST (\\Noselect) \".\" #news.\r\n",
        b"* LIST (\\Noselect) \"/\" /\r\n",
        b"* LIST (\\Noselect) \"/\" ~/Mail/foo\r\n",
        b"* LIST () \"/\" ~/Mail/meetings\r\n",
        b"* LSUB () \".\" #news.comp.mail.mime\r\n",
        b"* LSUB () \".\" #news.comp.mail.misc\r\n",
        b"* LIST () \"/\" INBOX\r\n",
        b"* LIST () \"/\" Drafts\r\n",
        b"* LIST () \".\" funny\r\n",
        b"* LIST () \"/\" \"Normalized\" (\"OLDNAME\" (\"NonNormalized\"))\r\n",
        b"* LIST (\\NonExistent) \".\" \"INBOX.DeletedMailbox\"\r\n",
        b"* LIST () \"/\" \"NewMailbox\" (\"OLDNAME\" (\"OldMailbox\"))\r\n",
        b"* LIST (\\Marked) \":\" Tables (tablecloth ((\"edge\" \"lacy\") (\"color\" \"red\")) Sample \"text\")\r\n",
        b"* LIST () \":\" Tables:new (tablecloth (\"edge\" \"lacy\") Sample (\"text\" \"more text\"))\r\n",
    ] {
        response_round_trip(input);
    }
    // "\NoSelect" in RFC 3501's LSUB example is sent in RFC spelling.
    response_encodes_as(
        b"* LSUB (\\NoSelect) \".\" #news.comp.mail\r\n",
        b"* LSUB (\\Noselect) \".\" #news.comp.mail\r\n",
    );
    let r = response_round_trip(b"* LIST () \"/\" \"NewMailbox\" (\"OLDNAME\" (\"OldMailbox\"))\r\n");
    let l = list_of(&r);
    assert_eq!(l.delimiter, Some('/'));
    assert_eq!(l.mailbox.as_bytes(), b"NewMailbox");
    assert!(matches!(&l.extended[0], ListExtendedItem::OldName(m) if m.as_bytes() == b"OldMailbox"));
    let r = response_round_trip(
        b"* LIST (\\Marked) \":\" Tables (tablecloth ((\"edge\" \"lacy\") (\"color\" \"red\")) Sample \"text\")\r\n",
    );
    let l = list_of(&r);
    assert_eq!(l.extended.len(), 2);
    assert!(
        matches!(&l.extended[1], ListExtendedItem::Other { value: TaggedExtVal::String(s), .. }
        if s.as_bytes() == b"text")
    );
}

#[test]
fn rfc5258_list_responses() {
    for input in [
        &b"* LIST (\\Subscribed \\NonExistent) \"/\" \"Fruit/Peach\"\r\n"[..],
        b"* LIST () \"/\" \"Fruit\"\r\n",
        b"* LIST (\\Subscribed) \"/\" \"Vegetable/Broccoli\"\r\n",
        b"* LIST (\\HasChildren) \"/\" \"Fruit\"\r\n",
        b"* LIST (\\HasNoChildren) \"/\" \"Tofu\"\r\n",
        b"* LIST (\\Remote) \"/\" \"Bread\"\r\n",
        b"* LIST (\\HasChildren \\Remote) \"/\" \"Meat\"\r\n",
        b"* LIST (\\Remote \\Subscribed) \"/\" \"Bread\"\r\n",
        b"* LIST (\\Marked) \"/\" \"Sent/December2003\"\r\n",
        b"* LIST () \"/\" \"Foo\" (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n",
        b"* LIST (\\Subscribed) \"/\" \"Foo\" (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n",
        b"* LIST (\\Subscribed \\HasChildren) \"/\" \"Foo\" (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n",
        b"* LIST (\\NonExistent) \"/\" \"Foo\" (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n",
        b"* LIST (\\HasChildren \\Subscribed) \"/\" \"Foo\"\r\n",
        b"* LIST (\\HasNoChildren \\Subscribed) \"/\" \"Moo\"\r\n",
        b"* LIST () \"/\" \"foo2\" (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n",
        b"* LIST (\\Subscribed) \"/\" \"eps2\" (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n",
        b"* LIST (\\NonExistent) \"/\" \"qux2\" (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n",
        b"* LIST () \"/\" foo\r\n",
        b"* LIST (\\Subscribed \\NonExistent) \"/\" foo/bar\r\n",
        b"* LIST (\\HasNoChildren) \"/\" foo (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n",
        b"* LIST () \"/\" music/rock\r\n",
        b"* LIST (\\Remote) \"/\" also/jazz\r\n",
        b"* LIST (\\NonExistent \\HasChildren) \"/\" music\r\n",
    ] {
        response_round_trip(input);
    }
    // Every form of INBOX is sent as the atom INBOX.
    response_encodes_as(b"* LIST () \"/\" \"INBOX\"\r\n", b"* LIST () \"/\" INBOX\r\n");
    // "inbox" is INBOX, and \NoInferiors is sent as \Noinferiors.
    let r = response_encodes_as(
        b"* LIST (\\Marked \\NoInferiors \\Subscribed) \"/\" \"inbox\"\r\n",
        b"* LIST (\\Marked \\Noinferiors \\Subscribed) \"/\" INBOX\r\n",
    );
    let l = list_of(&r);
    assert_eq!(l.mailbox, Mailbox::Inbox);
    assert_eq!(
        l.attributes,
        [
            MailboxAttribute::Marked,
            MailboxAttribute::Noinferiors,
            MailboxAttribute::Subscribed
        ]
    );
    let r = response_round_trip(b"* LIST () \"/\" \"foo2\" (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n");
    let ListExtendedItem::ChildInfo(options) = &list_of(&r).extended[0] else {
        panic!()
    };
    assert_eq!(options[0].as_bytes(), b"SUBSCRIBED");
}

#[test]
fn rfc5819_and_rfc6154_responses() {
    // RFC 5819 prints two spaces before "INBOX": accepted leniently.
    let lenient = DecoderConfig::default();
    response_encodes_as_with(
        b"* LIST () \".\"  \"INBOX\"\r\n",
        b"* LIST () \".\" INBOX\r\n",
        &lenient,
    );
    let e = response_error(b"* LIST () \".\"  \"INBOX\"\r\n", &DecoderConfig::STRICT);
    assert_eq!(e.offset, 14);
    response_encodes_as_with(
        b"* LIST (\\Subscribed) \".\"  \"INBOX\"\r\n",
        b"* LIST (\\Subscribed) \".\" INBOX\r\n",
        &lenient,
    );
    response_round_trip(b"* LIST () \".\" \"foo\"\r\n");
    response_encodes_as(
        b"* LIST (\\NoSelect) \".\" \"bar\"\r\n",
        b"* LIST (\\Noselect) \".\" \"bar\"\r\n",
    );
    // An unquoted CHILDINFO tag (RFC 5819) is sent quoted.
    let r = response_encodes_as(
        b"* LIST () \".\" \"foo\" (CHILDINFO (\"SUBSCRIBED\"))\r\n",
        b"* LIST () \".\" \"foo\" (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n",
    );
    assert!(matches!(list_of(&r).extended[0], ListExtendedItem::ChildInfo(_)));
    for input in [
        &b"* LIST (\\Marked \\HasNoChildren) \"/\" Inbox\r\n"[..],
        b"* LIST (\\HasNoChildren) \"/\" ToDo\r\n",
        b"* LIST (\\HasChildren) \"/\" Projects\r\n",
        b"* LIST (\\Sent \\HasNoChildren) \"/\" SentMail\r\n",
        b"* LIST (\\Marked \\Drafts \\HasNoChildren) \"/\" MyDrafts\r\n",
        b"* LIST (\\Trash \\HasNoChildren) \"/\" Trash\r\n",
        b"* LIST (\\Marked) \"/\" Inbox\r\n",
        b"* LIST (\\Sent) \"/\" SentMail\r\n",
        b"* LIST () \"/\" SavedDrafts\r\n",
        b"* LIST (\\NonExistent \\Archive) \"/\" Archives\r\n",
        b"* LIST (\\NonExistent \\Junk) \"/\" Junk\r\n",
        b"* LIST (\\NonExistent \\Sent) \"/\" \"Sent Mail\"\r\n",
        b"* LIST (\\NonExistent \\Trash) \"/\" \"Deleted Items\"\r\n",
        b"* LIST (\\NonExistent \\Drafts) \"/\" \"#mh/Drafts\"\r\n",
    ] {
        response_encodes_as(input, &expected_form(input));
    }
    let r = response_encodes_as(
        b"* LIST (\\Marked \\Drafts \\HasNoChildren) \"/\" MyDrafts\r\n",
        b"* LIST (\\Marked \\Drafts \\HasNoChildren) \"/\" MyDrafts\r\n",
    );
    assert!(list_of(&r).attributes[1].is_special_use());
}

/// The line as sent again: `Inbox` decodes to INBOX and is sent as
/// `INBOX`; everything else as received.
fn expected_form(original: &[u8]) -> Vec<u8> {
    match original.strip_suffix(b" Inbox\r\n") {
        Some(head) => [head, b" INBOX\r\n"].concat(),
        None => original.to_vec(),
    }
}

#[test]
fn namespace_responses() {
    for input in [
        &b"* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n"[..],
        b"* NAMESPACE NIL NIL ((\"\" \".\"))\r\n",
        b"* NAMESPACE ((\"\" \"/\")) NIL ((\"Public Folders/\" \"/\"))\r\n",
        b"* NAMESPACE ((\"\" \"/\")) ((\"~\" \"/\")) ((\"#shared/\" \"/\")(\"#public/\" \"/\")(\"#ftp/\" \"/\")(\"#news.\" \".\"))\r\n",
        b"* NAMESPACE ((\"\" \"/\")(\"#mh/\" \"/\" \"X-PARAM\" (\"FLAG1\" \"FLAG2\"))) NIL NIL\r\n",
        b"* NAMESPACE ((\"\" \"/\")) ((\"Other Users/\" \"/\")) NIL\r\n",
        b"* NAMESPACE ((\"\" \"/\")) ((\"#Users/\" \"/\")) NIL\r\n",
        b"* NAMESPACE ((\"\" \"/\")) ((\"~\" \"/\")) NIL\r\n",
        // RFC 2342 section 5 "Namespace_Response_Extension" with a literal.
        b"* NAMESPACE ((\"\" \"/\" {7}\r\nX-PARAM (\"a\"))) NIL NIL\r\n",
    ] {
        response_round_trip(input);
    }
    command_round_trip(b"A001 NAMESPACE\r\n");
    let r = response_round_trip(
        b"* NAMESPACE ((\"\" \"/\")) ((\"~\" \"/\")) ((\"#shared/\" \"/\")(\"#public/\" \"/\")(\"#ftp/\" \"/\")(\"#news.\" \".\"))\r\n",
    );
    let Response::Namespace(n) = &r else { panic!() };
    assert_eq!((n.personal.len(), n.other_users.len(), n.shared.len()), (1, 1, 4));
    assert_eq!(n.shared[3].delimiter, Some('.'));
    assert_eq!(n.other_users[0].prefix.as_bytes(), b"~");
    // RFC 2342 example 5 prints two spaces between the NILs.
    response_encodes_as_with(
        b"* NAMESPACE ((\"INBOX.\" \".\")) NIL  NIL\r\n",
        b"* NAMESPACE ((\"INBOX.\" \".\")) NIL NIL\r\n",
        &DecoderConfig::default(),
    );
    assert!(
        decode_response(
            b"* NAMESPACE ((\"INBOX.\" \".\")) NIL  NIL\r\n",
            &DecoderConfig::STRICT
        )
        .is_err()
    );
    let empty = NamespaceResponse::default();
    assert_eq!(
        to_bytes(&Response::Namespace(empty).encode()),
        b"* NAMESPACE NIL NIL NIL\r\n"
    );
}

#[test]
fn real_world_forms() {
    // Dovecot.
    response_round_trip(b"* LIST (\\HasNoChildren) \".\" INBOX\r\n");
    response_round_trip(b"* LIST (\\HasChildren) \".\" Archive\r\n");
    response_encodes_as(
        b"* LIST (\\HasNoChildren \\UnMarked \\Trash) \".\" Trash\r\n",
        b"* LIST (\\HasNoChildren \\Unmarked \\Trash) \".\" Trash\r\n",
    );
    // Gmail.
    let r = response_round_trip(b"* LIST (\\HasNoChildren \\Sent) \"/\" \"[Gmail]/Sent Mail\"\r\n");
    let l = list_of(&r);
    assert_eq!(
        l.attributes,
        [MailboxAttribute::HasNoChildren, MailboxAttribute::Sent]
    );
    assert_eq!(l.mailbox.to_utf8_name().unwrap(), "[Gmail]/Sent Mail");
    response_round_trip(b"* LIST (\\HasChildren \\Noselect) \"/\" \"[Gmail]\"\r\n");
    response_round_trip(b"* LIST (\\All \\HasNoChildren) \"/\" \"[Gmail]/All Mail\"\r\n");
    response_round_trip(b"* LIST (\\Flagged \\HasNoChildren) \"/\" \"[Gmail]/Starred\"\r\n");
    // A literal name: a response waiting for its data is incomplete (a
    // server never waits for a continuation request, so a client has no
    // literal announcement to answer).
    let input = b"* LIST () \"/\" {16}\r\nName \"with\" \\ ()\r\n";
    let r = response_round_trip(input);
    assert_eq!(list_of(&r).mailbox.as_bytes(), b"Name \"with\" \\ ()");
    assert_eq!(
        decode_response(&input[..25], &DecoderConfig::STRICT),
        Ok(Decoded::Incomplete)
    );
    // Modified UTF-7 names (Dovecot in Russian, RFC 3501's example).
    let wire = encode_modified_utf7("Отправленные");
    let input = format!("* LIST (\\HasNoChildren \\Sent) \"/\" \"{wire}\"\r\n");
    let r = response_round_trip(input.as_bytes());
    assert_eq!(list_of(&r).mailbox.to_utf8_name().unwrap(), "Отправленные");
    let r = response_round_trip(b"* LIST () \"/\" ~peter/mail/&U,BTFw-/&ZeVnLIqe-\r\n");
    assert_eq!(
        list_of(&r).mailbox.to_utf8_name().unwrap(),
        "~peter/mail/台北/日本語"
    );
    // A UTF-8 name (IMAP4rev2), a NIL delimiter, escaped delimiters.
    response_round_trip("* LIST () \"/\" \"Entwürfe\"\r\n".as_bytes());
    response_round_trip(b"* LIST (\\Noinferiors) NIL Flat\r\n");
    response_round_trip(b"* LIST () \"\\\\\" foo\r\n");
    response_round_trip(b"* LIST () \"\\\"\" foo\r\n");
    // Outlook-style space before the closing parenthesis, leniently.
    response_encodes_as_with(
        b"* LIST (\\HasNoChildren ) \"/\" Inbox\r\n",
        b"* LIST (\\HasNoChildren) \"/\" INBOX\r\n",
        &DecoderConfig::default(),
    );
}

#[test]
fn a_stream_of_five_thousand_mailboxes() {
    let mut stream = Vec::new();
    for i in 0..5000 {
        stream.extend_from_slice(
            format!("* LIST (\\HasNoChildren) \"/\" \"Folder {i}/Sub folder\"\r\n").as_bytes(),
        );
    }
    stream.extend_from_slice(b"A1 OK LIST completed\r\n");
    let mut at = 0;
    let mut names = 0;
    loop {
        let Decoded::Complete { value, consumed } =
            decode_response(&stream[at..], &DecoderConfig::STRICT).unwrap()
        else {
            panic!("at {at}")
        };
        at += consumed;
        match value {
            Response::List(l) => {
                assert_eq!(
                    l.mailbox.as_bytes(),
                    format!("Folder {names}/Sub folder").as_bytes()
                );
                names += 1;
            }
            Response::Status { .. } => break,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!((names, at), (5000, stream.len()));
}

#[test]
fn hostile_responses() {
    let mut small = long_lines();
    small.limits.list = 100;
    let mut input = b"* LIST (".to_vec();
    for _ in 0..10_000 {
        input.extend_from_slice(b"\\A ");
    }
    input.extend_from_slice(b"\\A) \"/\" x\r\n");
    let e = response_error(&input, &small);
    assert_eq!(
        (e.kind, e.offset),
        (ErrorKind::TooMany { limit: 100 }, 8 + 3 * 100)
    );
    assert_eq!(e.resume_at, Some(input.len()));
    // Deep extended data.
    let mut input = b"* LIST () \"/\" x (X ".to_vec();
    input.extend(std::iter::repeat_n(b'(', 100_000));
    input.extend_from_slice(b"\r\n");
    let e = response_error(&input, &long_lines());
    assert_eq!((e.kind, e.offset), (ErrorKind::TooDeep { limit: 64 }, 19 + 64));
    // Many namespaces.
    let mut input = b"* NAMESPACE (".to_vec();
    for _ in 0..1000 {
        input.extend_from_slice(b"(\"\" \"/\")");
    }
    input.extend_from_slice(b") NIL NIL\r\n");
    assert_eq!(
        response_error(&input, &small).kind,
        ErrorKind::TooMany { limit: 100 }
    );
    // Bad lines name the offending offset.
    for (input, offset) in [
        (&b"* LIST \"/\" x\r\n"[..], 7),
        (b"* LIST () \"//\" x\r\n", 12),
        (b"* LIST () x\r\n", 10),
        (b"* LIST () \"/\"\r\n", 13),
        (b"* LIST (Marked) \"/\" x\r\n", 8),
        (b"* LIST () \"/\" x (\"OLDNAME\")\r\n", 26),
        (b"* NAMESPACE () NIL NIL\r\n", 13),
    ] {
        let e = response_error(input, &DecoderConfig::STRICT);
        assert_eq!(e.offset, offset, "{:?}: {e}", String::from_utf8_lossy(input));
    }
}

fn attribute_strategy() -> impl Strategy<Value = MailboxAttribute<'static>> {
    prop_oneof![
        Just(MailboxAttribute::Noinferiors),
        Just(MailboxAttribute::Noselect),
        Just(MailboxAttribute::Marked),
        Just(MailboxAttribute::HasChildren),
        Just(MailboxAttribute::HasNoChildren),
        Just(MailboxAttribute::NonExistent),
        Just(MailboxAttribute::Subscribed),
        Just(MailboxAttribute::Sent),
        Just(MailboxAttribute::Trash),
        "X-[A-Za-z]{1,6}".prop_map(|a| MailboxAttribute::new(format!("\\{a}")).unwrap()),
    ]
}

fn mailbox_strategy() -> impl Strategy<Value = Mailbox<'static>> {
    prop_oneof![
        Just(Mailbox::Inbox),
        "[A-Za-z0-9 ./\\[\\]&-]{1,20}"
            .prop_map(|n| Mailbox::new(AString::from_bytes(n.into_bytes()).unwrap())),
        "\\PC{1,8}".prop_map(|n| Mailbox::new(AString::from_bytes(n.into_bytes()).unwrap())),
        proptest::collection::vec(1u8..=255, 1..12)
            .prop_map(|n| Mailbox::new(AString::from_bytes(n).unwrap())),
    ]
}

fn extended_strategy() -> impl Strategy<Value = ListExtendedItem<'static>> {
    let component =
        "[a-z]{1,5}".prop_map(|s| ExtComponent::String(AString::from_bytes(s.into_bytes()).unwrap()));
    prop_oneof![
        Just(ListExtendedItem::ChildInfo(vec![
            mailwire_imap::Quoted::new(&b"SUBSCRIBED"[..]).unwrap()
        ])),
        mailbox_strategy().prop_map(ListExtendedItem::OldName),
        ("X-[A-Z]{1,4}", 0u64..1_000_000).prop_map(|(t, n)| ListExtendedItem::Other {
            tag: AString::from_bytes(t.into_bytes()).unwrap(),
            value: TaggedExtVal::Number(n),
        }),
        ("X-[A-Z]{1,4}", proptest::collection::vec(component, 0..3)).prop_map(|(t, c)| {
            ListExtendedItem::Other {
                tag: AString::from_bytes(t.into_bytes()).unwrap(),
                value: TaggedExtVal::List(c),
            }
        }),
    ]
}

proptest! {
    #[test]
    fn generated_list_responses_round_trip(
        attributes in proptest::collection::vec(attribute_strategy(), 0..4),
        delimiter in proptest::option::of(prop_oneof![Just('/'), Just('.'), Just('\\'), Just('"'), Just('é')]),
        mailbox in mailbox_strategy(),
        extended in proptest::collection::vec(extended_strategy(), 0..3),
        lsub in any::<bool>(),
    ) {
        let list = MailboxList { attributes, delimiter, mailbox, extended };
        let response = if lsub { Response::Lsub(list) } else { Response::List(list) };
        let bytes = to_bytes(&response.encode());
        let decoded = decode_resp_with(&bytes, &DecoderConfig::STRICT);
        prop_assert_eq!(&decoded, &response);
        prop_assert_eq!(to_bytes(&decoded.encode()), bytes);
    }

    #[test]
    fn generated_list_commands_round_trip(
        reference in mailbox_strategy(),
        patterns in proptest::collection::vec("[A-Za-z%*/]{1,6}", 1..3),
        single in any::<bool>(),
    ) {
        let patterns: Vec<ListMailbox<'static>> =
            patterns.into_iter().map(|p| ListMailbox::from_bytes(p.into_bytes()).unwrap()).collect();
        let mut list = List::new(reference, patterns[0].clone());
        if !single {
            list.patterns = ListPatterns::List(patterns);
            list.selection = Some(vec![ListSelectOption::Subscribed]);
            list.return_options = Some(vec![ListReturnOption::Children]);
        }
        let command = mailwire_imap::Command {
            tag: mailwire_imap::Tag::new("L1").unwrap(),
            body: CommandBody::List(list),
        };
        let bytes = to_bytes(&command.encode(LiteralPolicy::SyncOnly));
        prop_assert_eq!(decode_cmd_with(&bytes, &DecoderConfig::STRICT), command);
    }
}

//! Values from text and back: `FromStr` for what a FETCH or SEARCH
//! command asks for, `TryFrom<&str>` for the strings, `Display` in wire
//! form, and Debug output that reads as the wire does instead of nesting
//! wrappers.

use mailwire_imap::{
    AString, Address, AstringAtom, Atom, Capabilities, Capability, Command, DecoderConfig, ErrorKind,
    FetchItem, FetchItems, FetchMacro, Flag, IString, Literal, Mailbox, MailboxOther, NString, Quoted,
    Response, SearchKey, SectionText, SequenceSet, Tag, decode_command, decode_response,
};

#[test]
fn fetch_items_parse_from_text() {
    let item: FetchItem = "BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)]".parse().unwrap();
    let FetchItem::BodySection {
        section,
        partial: None,
        peek: true,
    } = &item
    else {
        panic!("{item:?}")
    };
    let Some(SectionText::HeaderFields(fields)) = section.text() else {
        panic!("{section:?}")
    };
    assert_eq!(
        fields.names().iter().map(|f| f.as_bytes()).collect::<Vec<_>>(),
        [&b"SUBJECT"[..], b"FROM"]
    );
    // Keywords are case-insensitive; Display writes them as usual.
    let lower: FetchItem = "body.peek[header.fields (subject from)]".parse().unwrap();
    assert_eq!(lower.to_string(), "BODY.PEEK[HEADER.FIELDS (subject from)]");
    for text in [
        "UID",
        "FLAGS",
        "ENVELOPE",
        "BODYSTRUCTURE",
        "RFC822.SIZE",
        "BODY[]",
        "BODY[1.2.TEXT]<0.2048>",
        "BINARY.PEEK[1]",
        "BINARY.SIZE[2]",
        "MODSEQ",
        "EMAILID",
        "PREVIEW (LAZY)",
    ] {
        let item: FetchItem = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(item.to_string(), text);
    }
    // Errors are decode errors, with the offset in the text.
    let e = "BODY[HEADER.FIELDS ()]".parse::<FetchItem>().unwrap_err();
    assert_eq!((e.kind, e.offset), (ErrorKind::Syntax, 20));
    let e = "UID FLAGS".parse::<FetchItem>().unwrap_err();
    assert_eq!((e.offset, e.expected), (3, "end of the value"));
    let place = |text: &str| {
        let e = text.parse::<FetchItem>().unwrap_err();
        (e.offset, e.expected)
    };
    assert_eq!(place(""), (0, "fetch attribute"));
    assert_eq!(
        place("BODY["),
        (5, "part number, HEADER, HEADER.FIELDS, HEADER.FIELDS.NOT or TEXT")
    );
    // Strict: no extra spaces.
    assert_eq!(place("BODY[HEADER.FIELDS ( SUBJECT)]"), (20, "astring"));

    let items: FetchItems = "(UID FLAGS BODY.PEEK[HEADER])".parse().unwrap();
    assert_eq!(items.items().len(), 3);
    assert_eq!(items.to_string(), "(UID FLAGS BODY.PEEK[HEADER])");
    assert_eq!(
        "full".parse::<FetchItems>().unwrap(),
        FetchItems::Macro(FetchMacro::Full)
    );
    assert!(matches!(
        "UID".parse::<FetchItems>().unwrap(),
        FetchItems::Item(FetchItem::Uid)
    ));
    assert!("()".parse::<FetchItems>().is_err());
}

#[test]
fn search_keys_parse_from_text() {
    let key: SearchKey = "OR FROM ann SUBJECT \"lunch plans\"".parse().unwrap();
    let SearchKey::Or(a, b) = &key else {
        panic!("{key:?}")
    };
    assert!(matches!(&**a, SearchKey::From(s) if s.as_bytes() == b"ann"));
    assert!(matches!(&**b, SearchKey::Subject(s) if s.as_bytes() == b"lunch plans"));
    assert_eq!(key.to_string(), "OR FROM ann SUBJECT \"lunch plans\"");
    for text in [
        "ALL",
        "(UNSEEN SINCE 1-Feb-1994)",
        "NOT DELETED",
        "UID 1:100,200:*",
        "2,4:7",
        "LARGER 10000",
        "HEADER Message-ID \"<x@y>\"",
        "MODSEQ 620162338",
        "YOUNGER 3600",
    ] {
        let key: SearchKey = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(key.to_string(), text);
    }
    // A literal in the text is taken as it is.
    let key: SearchKey = "TEXT {3}\r\na b".parse().unwrap();
    assert!(matches!(&key, SearchKey::Text(s) if s.as_bytes() == b"a b"));
    // Two keys are not one: they go in parentheses.
    let e = "SEEN FLAGGED".parse::<SearchKey>().unwrap_err();
    assert_eq!((e.offset, e.expected), (4, "end of the value"));
    let e = "SINCE 30-Feb-1994".parse::<SearchKey>().unwrap_err();
    assert_eq!(e.kind, ErrorKind::NumberOutOfRange);
    // The strict configuration's depth limit holds.
    let deep = format!("{}ALL{}", "(".repeat(1000), ")".repeat(1000));
    let e = deep.parse::<SearchKey>().unwrap_err();
    assert!(matches!(e.kind, ErrorKind::TooDeep { .. }), "{e:?}");
}

#[test]
fn sequence_sets_parse_and_print() {
    let set: SequenceSet = "1:3,5,7:*".parse().unwrap();
    assert_eq!(set.to_string(), "1:3,5,7:*");
    assert_eq!(SequenceSet::try_from("$").unwrap().to_string(), "$");
    assert!("0".parse::<SequenceSet>().is_err());
}

#[test]
fn strings_from_text() {
    assert_eq!(Tag::try_from("A001").unwrap().as_str(), "A001");
    assert!(Tag::try_from("+A").is_err());
    assert!(Atom::try_from("a b").is_err());
    assert_eq!(AstringAtom::try_from("a]b").unwrap().as_str(), "a]b");
    // The cheapest form that holds the content.
    assert!(matches!(AString::try_from("INBOX").unwrap(), AString::Atom(_)));
    assert!(matches!(
        AString::try_from("two words").unwrap(),
        AString::String(IString::Quoted(_))
    ));
    assert!(matches!(
        AString::try_from("line\r\nbreak").unwrap(),
        AString::String(IString::Literal(_))
    ));
    assert!(matches!(IString::try_from("x").unwrap(), IString::Quoted(_)));
    assert_eq!(NString::try_from("x").unwrap().as_bytes(), Some(&b"x"[..]));
    assert_eq!(Quoted::try_from("say \"hi\"").unwrap().as_bytes(), b"say \"hi\"");
    assert!(Quoted::try_from("a\nb").is_err());
    assert_eq!(Literal::try_from("a\r\nb").unwrap().data(), b"a\r\nb");
    let e = AString::try_from("nul\0").unwrap_err();
    assert_eq!((e.byte, e.position), (Some(0), Some(3)));
    assert_eq!(Mailbox::try_from("InBoX").unwrap(), Mailbox::Inbox);
    assert_eq!(Mailbox::try_from("Sent").unwrap().as_bytes(), b"Sent");
    assert!(MailboxOther::try_from("inbox").is_err());
    assert_eq!(MailboxOther::try_from("Trash").unwrap().as_bytes(), b"Trash");
    assert_eq!(Flag::try_from("\\Seen").unwrap(), Flag::Seen);
    assert_eq!(Capability::try_from("IMAP4rev2").unwrap(), Capability::Imap4Rev2);
}

#[test]
fn strings_print_as_the_wire_writes_them() {
    let name = NString::try_from("Ann").unwrap();
    assert_eq!(format!("{name:?}"), "\"Ann\"");
    assert_eq!(format!("{:?}", NString::NIL), "NIL");
    assert_eq!(name.to_string(), "\"Ann\"");
    assert_eq!(NString::NIL.to_string(), "NIL");
    let escaped = Quoted::try_from("say \"hi\" \\ bye").unwrap();
    assert_eq!(escaped.to_string(), r#""say \"hi\" \\ bye""#);
    assert_eq!(format!("{escaped:?}"), r#""say \"hi\" \\ bye""#);
    let literal = AString::try_from("a\r\nb").unwrap();
    assert_eq!(literal.to_string(), "{4}\r\na\r\nb");
    assert_eq!(format!("{literal:?}"), "{4}\"a\\r\\nb\"");
    assert_eq!(format!("{:?}", Literal::binary(&b"a\0b"[..])), "~{3}\"a\\0b\"");
    let long = Literal::try_from("x".repeat(70).as_str()).unwrap().into_owned();
    assert_eq!(format!("{long:?}"), format!("{{70}}\"{}\"...", "x".repeat(64)));
    let atom = AString::try_from("INBOX.Sent").unwrap();
    assert_eq!(
        (atom.to_string(), format!("{atom:?}")),
        ("INBOX.Sent".into(), "INBOX.Sent".into())
    );
    assert_eq!(format!("{:?}", Tag::try_from("a1").unwrap()), "a1");
    assert_eq!(
        format!("{:?}", Flag::try_from("$Junk").unwrap()),
        "Keyword($Junk)"
    );
    assert_eq!(Flag::Seen.to_string(), "\\Seen");
    // Mailboxes.
    assert_eq!(
        (Mailbox::Inbox.to_string(), format!("{:?}", Mailbox::Inbox)),
        ("INBOX".into(), "INBOX".into())
    );
    let drafts = Mailbox::try_from("My Drafts").unwrap();
    assert_eq!(
        (drafts.to_string(), format!("{drafts:?}")),
        ("\"My Drafts\"".into(), "\"My Drafts\"".into())
    );
    // Nested values read compactly.
    let ann = Address {
        name: NString::try_from("Ann").unwrap(),
        adl: NString::NIL,
        mailbox: NString::try_from("ann").unwrap(),
        host: NString::try_from("example.org").unwrap(),
    };
    assert_eq!(
        format!("{ann:?}"),
        r#"Address { name: "Ann", adl: NIL, mailbox: "ann", host: "example.org" }"#
    );
}

#[test]
fn capabilities_print_as_sent() {
    let caps: Capabilities = ["IMAP4rev2", "AUTH=PLAIN", "APPENDLIMIT=35651584", "X-VENDOR"]
        .into_iter()
        .map(|c| Capability::try_from(c).unwrap())
        .collect();
    assert_eq!(
        caps.to_string(),
        "IMAP4rev2 AUTH=PLAIN APPENDLIMIT=35651584 X-VENDOR"
    );
    assert_eq!(Capability::LiteralPlus.to_string(), "LITERAL+");
}

#[test]
fn responses_and_commands_print_their_wire_form() {
    let config = DecoderConfig::STRICT;
    for wire in [
        &b"* 3 EXISTS\r\n"[..],
        b"a1 OK [READ-WRITE] SELECT completed\r\n",
        b"* 12 FETCH (UID 7 BODY[] {5}\r\nhello)\r\n",
        b"* CAPABILITY IMAP4rev2 AUTH=PLAIN\r\n",
    ] {
        let (response, _) = decode_response(wire, &config).unwrap().complete().unwrap();
        let shown: Response = response;
        assert_eq!(shown.to_string().as_bytes(), &wire[..wire.len() - 2]);
    }
    for wire in [
        &b"a2 UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])\r\n"[..],
        b"a3 APPEND INBOX {5}\r\nhello\r\n",
        b"a4 SELECT \"My Drafts\"\r\n",
    ] {
        let (command, _) = decode_command(wire, &config).unwrap().complete().unwrap();
        let shown: Command = command;
        assert_eq!(shown.to_string().as_bytes(), &wire[..wire.len() - 2]);
    }
    // Credentials never show.
    for (wire, shown) in [
        (
            &b"a5 LOGIN ann \"s3cret pass\"\r\n"[..],
            "a5 LOGIN ann <redacted>",
        ),
        (
            b"a6 AUTHENTICATE PLAIN AGFubgBzM2NyZXQ=\r\n",
            "a6 AUTHENTICATE PLAIN <redacted>",
        ),
        (b"a7 AUTHENTICATE PLAIN\r\n", "a7 AUTHENTICATE PLAIN"),
    ] {
        let (command, _) = decode_command(wire, &config).unwrap().complete().unwrap();
        assert_eq!(command.to_string(), shown);
        assert!(!format!("{command:?}").contains("s3cret"));
    }
}

//! Limits that fit real mailboxes: separate line limits for commands and
//! responses, a whole-message limit, and framing that stays linear when a
//! long message arrives in small pieces.

mod codec_support;

use codec_support::*;
use mailwire_imap::{
    CommandBody, CommandReader, Decoded, DecoderConfig, ErrorKind, ReadEvent, Response, ResponseReader,
    SearchKey, SearchReturnData, decode_command, decode_response,
};

/// `* SEARCH 1 2 ... n`.
fn search_response(n: u32) -> Vec<u8> {
    let mut line = b"* SEARCH".to_vec();
    for i in 1..=n {
        line.push(b' ');
        line.extend_from_slice(i.to_string().as_bytes());
    }
    line.extend_from_slice(b"\r\n");
    line
}

#[test]
fn a_search_of_a_million_messages_decodes_with_the_defaults() {
    let line = search_response(1_000_000);
    assert!(line.len() > 64 * 1024 * 100);
    let r = decode_resp_with(&line, &DecoderConfig::default());
    let Response::Search { numbers, .. } = r else {
        panic!()
    };
    assert_eq!(numbers.len(), 1_000_000);
    assert_eq!(numbers[999_999].get(), 1_000_000);
    // The streaming reader takes it too.
    let mut reader = ResponseReader::new(DecoderConfig::default(), 1 << 20);
    let Ok(Decoded::Complete {
        value: ReadEvent::Response(Response::Search { numbers: n, .. }),
        consumed,
    }) = reader.decode(&line)
    else {
        panic!()
    };
    assert_eq!((n.len(), consumed), (1_000_000, line.len()));
}

#[test]
fn an_esearch_of_a_million_scattered_uids_decodes_with_the_defaults() {
    // Every other UID of ten digits: no ranges to shorten the set.
    let mut line = b"* ESEARCH (TAG \"A1\") UID ALL ".to_vec();
    for i in 0..1_000_000u64 {
        if i > 0 {
            line.push(b',');
        }
        line.extend_from_slice((4_000_000_001 + 2 * i).to_string().as_bytes());
    }
    line.extend_from_slice(b"\r\n");
    assert!(line.len() > 10_000_000);
    let r = decode_resp_with(&line, &DecoderConfig::default());
    let Response::ESearch(e) = r else { panic!() };
    let [SearchReturnData::All(set)] = &e.data[..] else {
        panic!("{:?}", e.data.len())
    };
    assert_eq!(set.ranges().len(), 1_000_000);
}

#[test]
fn a_sort_and_a_thread_of_a_million_messages_decode_with_the_defaults() {
    // UID SORT of a million ten-digit UIDs, in reverse.
    let mut line = b"* SORT".to_vec();
    for i in (0..1_000_000u64).rev() {
        line.push(b' ');
        line.extend_from_slice((4_000_000_000 + i).to_string().as_bytes());
    }
    line.extend_from_slice(b" (MODSEQ 917162500)\r\n");
    let Response::Sort { numbers, modseq } = decode_resp_with(&line, &DecoderConfig::default()) else {
        panic!()
    };
    assert_eq!(
        (numbers.len(), modseq.map(|m| m.get())),
        (1_000_000, Some(917162500))
    );
    // THREAD of a million single-message threads, each in its own
    // parentheses, and one of a thousand threads of a thousand replies
    // (nested no deeper than the default depth: a reply chain is flat).
    let mut line = b"* THREAD ".to_vec();
    for i in 0..1_000_000u64 {
        line.push(b'(');
        line.extend_from_slice((4_000_000_000 + i).to_string().as_bytes());
        line.push(b')');
    }
    line.extend_from_slice(b"\r\n");
    assert!(line.len() > 12_000_000);
    let Response::Thread(threads) = decode_resp_with(&line, &DecoderConfig::default()) else {
        panic!()
    };
    assert_eq!(threads.len(), 1_000_000);
    let mut line = b"* THREAD ".to_vec();
    for t in 0..1000u32 {
        line.push(b'(');
        for r in 0..1000u32 {
            if r > 0 {
                line.push(b' ');
            }
            line.extend_from_slice((t * 1000 + r + 1).to_string().as_bytes());
        }
        line.push(b')');
    }
    line.extend_from_slice(b"\r\n");
    let Response::Thread(threads) = decode_resp_with(&line, &DecoderConfig::default()) else {
        panic!()
    };
    assert_eq!((threads.len(), threads[999].messages.len()), (1000, 1000));
}

#[test]
fn a_vanished_of_a_million_scattered_uids_decodes_with_the_defaults() {
    let mut line = b"* VANISHED (EARLIER) ".to_vec();
    for i in 0..1_000_000u64 {
        if i > 0 {
            line.push(b',');
        }
        line.extend_from_slice((4_000_000_001 + 2 * i).to_string().as_bytes());
    }
    line.extend_from_slice(b"\r\n");
    let Response::Vanished { earlier, uids } = decode_resp_with(&line, &DecoderConfig::default()) else {
        panic!()
    };
    assert!(earlier);
    assert_eq!(uids.count(), 1_000_000);
}

#[test]
fn command_lines_keep_dovecots_limit() {
    let mut command = b"A1 UID FETCH ".to_vec();
    for i in 0..20_000u32 {
        if i > 0 {
            command.push(b',');
        }
        command.extend_from_slice((2 * i + 1).to_string().as_bytes());
    }
    command.extend_from_slice(b" FLAGS\r\n");
    let e = command_error(&command, &DecoderConfig::default());
    assert_eq!(e.kind, ErrorKind::LineTooLong { limit: 64 * 1024 });
    assert_eq!(e.tag.unwrap().as_str(), "A1");
    let mut config = DecoderConfig::default();
    config.limits.command_line = 1 << 20;
    assert!(matches!(
        decode_cmd_with(&command, &config).body,
        CommandBody::Fetch { uid: true, .. }
    ));
}

#[test]
fn whole_message_limit_refuses_before_buffering() {
    let mut config = DecoderConfig::default();
    config.limits.command_message = 1024;
    // The literal would take the command past the limit: refused at its
    // header, with the tag, before any of its data is there.
    let e = command_error(b"A7 APPEND INBOX {2000}\r\n", &config);
    assert_eq!(e.kind, ErrorKind::MessageTooLarge { limit: 1024 });
    assert_eq!(e.tag.as_ref().unwrap().as_str(), "A7");
    assert!(e.to_string().contains("1024"), "{e}");
    // Many literals under the literal limit add up to the same error.
    let mut login = b"A8 SEARCH".to_vec();
    for _ in 0..200 {
        login.extend_from_slice(b" TEXT {4}\r\nabcd");
    }
    login.extend_from_slice(b"\r\n");
    let e = command_error(&login, &config);
    assert_eq!(e.kind, ErrorKind::MessageTooLarge { limit: 1024 });
    // Responses have their own.
    config.limits.response_message = 100;
    let e = response_error(b"* 1 FETCH (BODY[] {200}\r\n", &config);
    assert_eq!(e.kind, ErrorKind::MessageTooLarge { limit: 100 });
    assert!(matches!(
        decode_response(b"* 1 FETCH (BODY[] {20}\r\n", &config),
        Ok(mailwire_imap::Decoded::Incomplete)
    ));
    assert!(matches!(
        decode_command(b"A1 LOGIN {20}\r\n", &config),
        Ok(mailwire_imap::Decoded::LiteralAnnounced(_))
    ));
}

#[test]
fn a_million_small_literals_fed_in_pieces() {
    // About 12 MB: a million TEXT keys, each with a literal.
    let mut command = b"A1 SEARCH".to_vec();
    for i in 0..1_000_000u32 {
        command.extend_from_slice(b" TEXT {1}\r\n");
        command.push(b'a' + (i % 26) as u8);
    }
    command.extend_from_slice(b"\r\n");
    let mut reader = CommandReader::new(DecoderConfig::default());
    let mut end = 0;
    let mut announcements = 0;
    let (value, consumed) = loop {
        end = (end + 4096).min(command.len());
        match reader.decode(&command[..end]).unwrap() {
            Decoded::Complete { value, consumed } => break (value, consumed),
            Decoded::LiteralAnnounced(a) => {
                announcements += 1;
                assert!(a.data_start <= end);
            }
            Decoded::Incomplete => assert!(end < command.len()),
        }
    };
    assert_eq!(consumed, command.len());
    assert!(announcements > 0);
    let CommandBody::Search { search, .. } = value.body else {
        panic!()
    };
    assert_eq!(search.keys.len(), 1_000_000);
    assert!(matches!(&search.keys[27], SearchKey::Text(t) if t.as_bytes() == b"b"));
    // The reader starts the next command afresh.
    let next = b"A2 NOOP\r\n";
    assert!(matches!(
        reader.decode(next).unwrap(),
        Decoded::Complete { consumed: 9, .. }
    ));
}

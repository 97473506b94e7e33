//! `ReadEvent::into_streamed`: one FETCH, one shape, whatever the
//! threshold.
//!
//! A proxy reading with `ResponseReader` gets a FETCH response whole when
//! its message data is short and in pieces (`LiteralStart`, data,
//! `FetchEnd`) when it is long. Passed through `into_streamed`, every
//! event sequence for the same input must be the same, for every
//! threshold and every chunking of the input; and it must be the
//! sequence the text of the response calls for, checked here by hand for
//! three responses.

use std::num::NonZeroU32;

use mailwire_imap::{
    DataItemName, Decoded, DecoderConfig, Flag, FlagFetch, MessageDataItem, ReadEvent, ResponseReader,
    Section, SectionText, decode_response,
};
use proptest::prelude::*;

/// An event in the streamed shape, owned, with consecutive data pieces
/// joined.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Shaped {
    Other(ReadEvent<'static>),
    Start {
        seq: u32,
        items: Vec<MessageDataItem<'static>>,
        item: DataItemName<'static>,
        length: u64,
    },
    Data(Vec<u8>),
    End {
        seq: u32,
        items: Vec<MessageDataItem<'static>>,
    },
}

fn shaped(event: ReadEvent<'_>, out: &mut Vec<Shaped>) {
    for e in event.into_streamed() {
        let next = match e {
            ReadEvent::LiteralStart {
                seq,
                items,
                item,
                length,
            } => Shaped::Start {
                seq: seq.get(),
                items: items.into_iter().map(MessageDataItem::into_owned).collect(),
                item: item.into_owned(),
                length,
            },
            ReadEvent::LiteralData(d) => {
                assert!(!d.is_empty(), "no empty data pieces");
                if let Some(Shaped::Data(joined)) = out.last_mut() {
                    joined.extend_from_slice(&d);
                    continue;
                }
                Shaped::Data(d.into_owned())
            }
            ReadEvent::FetchEnd { seq, items } => Shaped::End {
                seq: seq.get(),
                items: items.into_iter().map(MessageDataItem::into_owned).collect(),
            },
            ReadEvent::Response(r) => {
                assert!(
                    !matches!(r, mailwire_imap::Response::Fetch { .. }),
                    "a FETCH never comes whole"
                );
                Shaped::Other(ReadEvent::Response(r).into_owned())
            }
            other => Shaped::Other(other.into_owned()),
        };
        out.push(next);
    }
}

/// Reads `input` in pieces of `chunk` bytes with `threshold`, and shapes
/// every event.
fn read(input: &[u8], threshold: u64, chunk: usize) -> Vec<Shaped> {
    let mut reader = ResponseReader::new(DecoderConfig::default(), threshold);
    let (mut buffer, mut fed, mut out) = (Vec::new(), 0, Vec::new());
    loop {
        match reader.decode(&buffer).expect("valid input") {
            Decoded::Complete { value, consumed } => {
                shaped(value, &mut out);
                buffer.drain(..consumed);
            }
            _ if fed < input.len() => {
                let end = (fed + chunk).min(input.len());
                buffer.extend_from_slice(&input[fed..end]);
                fed = end;
            }
            _ => break,
        }
    }
    assert!(buffer.is_empty() && reader.is_between_responses());
    out
}

const RESPONSES: &[&[u8]] = &[
    b"* 1 FETCH (UID 7 BODY[] {11}\r\nHello world FLAGS (\\Seen))\r\n",
    b"* 2 FETCH (BODY[HEADER] \"Subject: hi\" BODY[TEXT] {20}\r\n01234567890123456789)\r\n",
    b"* 3 FETCH (BODY[HEADER] {4}\r\nab\r\n BODY[TEXT] {12}\r\n0123456789ab UID 9 RFC822.SIZE 16)\r\n",
    b"* 4 FETCH (UID 10 BODY[] NIL)\r\n",
    b"* 5 FETCH (FLAGS (\\Seen) UID 11)\r\n",
    b"* 6 FETCH (BODY[1]<0> {0}\r\n RFC822.TEXT {3}\r\nxyz BINARY[2] ~{4}\r\na\0bc)\r\n",
    b"* 7 FETCH (ENVELOPE (NIL {17}\r\na literal subject NIL NIL NIL NIL NIL NIL NIL NIL) BODY[] \"q\")\r\n",
    b"* OK [UIDNEXT 12] next\r\n",
];

#[test]
fn a_whole_fetch_takes_the_streamed_shape() {
    let whole = read(RESPONSES[1], u64::MAX, usize::MAX);
    let header = DataItemName::BodySection {
        section: Section::new(None, Some(SectionText::Header)).unwrap(),
        origin: None,
    };
    let text = DataItemName::BodySection {
        section: Section::new(None, Some(SectionText::Text)).unwrap(),
        origin: None,
    };
    assert_eq!(
        whole,
        vec![
            Shaped::Start {
                seq: 2,
                items: vec![],
                item: header,
                length: 11
            },
            Shaped::Data(b"Subject: hi".to_vec()),
            Shaped::Start {
                seq: 2,
                items: vec![],
                item: text,
                length: 20
            },
            Shaped::Data(b"01234567890123456789".to_vec()),
            Shaped::End {
                seq: 2,
                items: vec![]
            },
        ]
    );
    // Items before a literal go with its start, items after the last one
    // with the end.
    let body = DataItemName::BodySection {
        section: Section::WHOLE,
        origin: None,
    };
    assert_eq!(
        read(RESPONSES[0], u64::MAX, usize::MAX),
        vec![
            Shaped::Start {
                seq: 1,
                items: vec![MessageDataItem::Uid(NonZeroU32::new(7).unwrap())],
                item: body,
                length: 11
            },
            Shaped::Data(b"Hello world".to_vec()),
            Shaped::End {
                seq: 1,
                items: vec![MessageDataItem::Flags(vec![FlagFetch::Flag(Flag::Seen)])]
            },
        ]
    );
    assert_eq!(
        read(RESPONSES[2], u64::MAX, usize::MAX),
        vec![
            Shaped::Start {
                seq: 3,
                items: vec![],
                item: DataItemName::BodySection {
                    section: Section::new(None, Some(SectionText::Header)).unwrap(),
                    origin: None,
                },
                length: 4
            },
            Shaped::Data(b"ab\r\n".to_vec()),
            Shaped::Start {
                seq: 3,
                items: vec![],
                item: DataItemName::BodySection {
                    section: Section::new(None, Some(SectionText::Text)).unwrap(),
                    origin: None,
                },
                length: 12
            },
            Shaped::Data(b"0123456789ab".to_vec()),
            Shaped::End {
                seq: 3,
                items: vec![
                    MessageDataItem::Uid(NonZeroU32::new(9).unwrap()),
                    MessageDataItem::Rfc822Size(16)
                ]
            },
        ]
    );
    // NIL data stays an item; a FETCH without data is a lone end.
    let nil = read(RESPONSES[3], 0, usize::MAX);
    assert!(matches!(&nil[..], [Shaped::End { seq: 4, items }] if items.len() == 2));
    let none = read(RESPONSES[4], 0, usize::MAX);
    assert!(matches!(&none[..], [Shaped::End { seq: 5, items }] if items.len() == 2));
    // Everything else passes as it is, equal to what decode_response gives.
    let other = read(RESPONSES[7], 0, 1);
    let Ok(Decoded::Complete { value, .. }) = decode_response(RESPONSES[7], &DecoderConfig::default()) else {
        panic!("valid response")
    };
    assert_eq!(
        other,
        vec![Shaped::Other(ReadEvent::Response(value.into_owned()))]
    );
}

#[test]
fn every_threshold_and_chunking_gives_one_shape() {
    for response in RESPONSES {
        let expected = read(response, u64::MAX, usize::MAX);
        for threshold in [0, 1, 3, 4, 11, 12, 20, 1 << 20] {
            for chunk in [1, 2, 7, 64, usize::MAX] {
                assert_eq!(
                    read(response, threshold, chunk),
                    expected,
                    "{} with threshold {threshold}, chunks of {chunk}",
                    String::from_utf8_lossy(response)
                );
            }
        }
    }
}

proptest! {
    /// The whole stream at once, with any threshold and chunking.
    #[test]
    fn a_stream_of_responses_has_one_shape(threshold in 0u64..32, chunk in 1usize..40) {
        let stream: Vec<u8> = RESPONSES.concat();
        prop_assert_eq!(read(&stream, threshold, chunk), read(&stream, u64::MAX, usize::MAX));
    }
}

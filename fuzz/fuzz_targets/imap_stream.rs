//! The streaming response reader fed random chunkings.
//!
//! The first byte picks the streaming threshold; the next two bytes seed
//! the chunk sizes; the rest is the server's byte stream. Fed whole and fed
//! in pieces (each piece appended to a buffer as a socket read would), the
//! reader must give the same events (compared as values, data pieces
//! joined, the octets no event used counted in all, the data of a literal
//! the input ends inside kept), never panic, use exactly the bytes it is given, and a
//! response it yields whole must be what `decode_response` gives for the
//! same bytes. Streamed literal data adds up to the announced length,
//! unless a NUL in a `{n}` literal ends it with an error. Passed through
//! `ReadEvent::into_streamed`, an input has an error (or ends inside a
//! response) for the drawn threshold exactly when it has one without
//! streaming, and the events of one without are the same for both.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailwire_fuzz::show;
use mailwire_imap::{Decoded, DecoderConfig, ErrorKind, ReadEvent, ResponseReader, decode_response};

/// An event as two runs are compared: values, streamed data joined.
#[derive(Debug, PartialEq)]
enum Event {
    Read(ReadEvent<'static>),
    /// A streamed literal's data, all of it.
    Data(Vec<u8>),
    /// The data of a literal the input ends inside.
    Partial(Vec<u8>),
    Error(ErrorKind, &'static str),
    /// The octets no event used: skipped, left after an error, or held at
    /// the end (how they are skipped depends on the reads).
    Unused(usize),
}

/// Runs the reader over `input` delivered in pieces from `sizes`; returns
/// the events with data pieces joined, an error marker for each error, and
/// the octets no event used last.
fn run(input: &[u8], threshold: u64, sizes: &mut impl Iterator<Item = usize>) -> Vec<Event> {
    let config = DecoderConfig::default();
    let mut reader = ResponseReader::new(config, threshold);
    let mut buffer: Vec<u8> = Vec::new();
    let mut fed = 0;
    let mut events = Vec::new();
    let mut data: Vec<u8> = Vec::new();
    let mut announced: Option<u64> = None;
    let mut skipped = 0;
    let flush = |events: &mut Vec<Event>, data: &mut Vec<u8>, announced: &mut Option<u64>| {
        if let Some(len) = announced.take() {
            assert_eq!(data.len() as u64, len, "literal data does not add up");
            events.push(Event::Data(std::mem::take(data)));
        }
    };
    // Each call either consumes bytes or asks for more, so this ends.
    for _ in 0..input.len() * 4 + 16 {
        match reader.decode(&buffer) {
            Ok(Decoded::Complete { value, consumed }) => {
                assert!(consumed > 0 && consumed <= buffer.len());
                match value {
                    ReadEvent::LiteralData(d) => data.extend_from_slice(&d),
                    ReadEvent::Skipped(d) => skipped += d.len(),
                    other => {
                        flush(&mut events, &mut data, &mut announced);
                        if let ReadEvent::Response(r) = &other {
                            let (again, n) = decode_response(&buffer[..consumed], &config)
                                .unwrap()
                                .complete()
                                .unwrap();
                            assert_eq!((&again, n), (r, consumed));
                        }
                        if let ReadEvent::LiteralStart { length, .. } = &other {
                            announced = Some(*length);
                        }
                        events.push(Event::Read(other.into_owned()));
                    }
                }
                buffer.drain(..consumed);
            }
            Ok(Decoded::Incomplete | Decoded::LiteralAnnounced(_)) => {
                if fed == input.len() {
                    break;
                }
                let end = (fed + sizes.next().unwrap_or(1).max(1)).min(input.len());
                buffer.extend_from_slice(&input[fed..end]);
                fed = end;
            }
            Err(e) => {
                // Only a NUL in a `{n}` literal cuts streamed data short.
                match announced {
                    Some(len) if data.len() as u64 == len => flush(&mut events, &mut data, &mut announced),
                    Some(_) => {
                        assert_eq!(
                            e.expected, "CHAR8 (NUL only in literal8)",
                            "streamed data cut by {e}"
                        );
                        events.push(Event::Partial(std::mem::take(&mut data)));
                        announced = None;
                    }
                    None => {}
                }
                events.push(Event::Error(e.kind, e.expected));
                match e.resume_at {
                    Some(r) if r > 0 && r <= buffer.len() => {
                        skipped += r;
                        buffer.drain(..r);
                    }
                    _ => break,
                }
            }
        }
    }
    if let Some(len) = announced {
        assert!(data.len() as u64 <= len, "literal data runs over");
        if data.len() as u64 == len {
            flush(&mut events, &mut data, &mut announced);
        } else {
            events.push(Event::Partial(data));
        }
    }
    // Bytes of a response being skipped come out as they arrive: where the
    // input ends inside one, some are still held. What the events did not
    // use is the same however the input was read.
    events.push(Event::Unused(skipped + buffer.len() + (input.len() - fed)));
    events
}

/// The events of `input` in the streamed shape (`into_streamed`), data
/// pieces joined; `None` if the reader reported an error or the input
/// ends inside a response (a streamed one has then been handed out in
/// part, a whole one not at all).
fn shaped(input: &[u8], threshold: u64, sizes: &mut impl Iterator<Item = usize>) -> Option<Vec<Event>> {
    let mut reader = ResponseReader::new(DecoderConfig::default(), threshold);
    let (mut buffer, mut fed, mut events) = (Vec::new(), 0, Vec::new());
    let mut data: Option<Vec<u8>> = None;
    for _ in 0..input.len() * 4 + 16 {
        match reader.decode(&buffer).ok()? {
            Decoded::Complete { value, consumed } => {
                for event in value.into_streamed() {
                    match event {
                        ReadEvent::LiteralData(d) => {
                            assert!(!d.is_empty(), "an empty data piece");
                            data.get_or_insert_with(Vec::new).extend_from_slice(&d);
                        }
                        ReadEvent::Response(mailwire_imap::Response::Fetch { .. }) => {
                            panic!("a FETCH came whole out of into_streamed")
                        }
                        other => {
                            if let Some(d) = data.take() {
                                events.push(Event::Data(d));
                            }
                            events.push(Event::Read(other.into_owned()));
                        }
                    }
                }
                buffer.drain(..consumed);
            }
            _ if fed < input.len() => {
                let end = (fed + sizes.next().unwrap_or(1).max(1)).min(input.len());
                buffer.extend_from_slice(&input[fed..end]);
                fed = end;
            }
            _ => break,
        }
    }
    if !(buffer.is_empty() && reader.is_between_responses()) {
        return None;
    }
    if let Some(d) = data.take() {
        events.push(Event::Data(d));
    }
    Some(events)
}

fuzz_target!(|bytes: &[u8]| {
    let [t, a, b, input @ ..] = bytes else {
        return;
    };
    let threshold = u64::from(*t % 32);
    let whole = run(input, threshold, &mut std::iter::repeat(input.len().max(1)));
    let pattern = [usize::from(*a % 17) + 1, usize::from(*b % 5) + 1];
    let pieces = run(input, threshold, &mut pattern.iter().copied().cycle());
    assert_eq!(whole, pieces, "{}", show(input));
    let unstreamed = shaped(input, u64::MAX, &mut std::iter::repeat(input.len().max(1)));
    let streamed = shaped(input, threshold, &mut pattern.iter().copied().cycle());
    // Streaming neither finds nor hides an error, nor a response cut off.
    assert_eq!(unstreamed.is_some(), streamed.is_some(), "{}", show(input));
    if let (Some(unstreamed), Some(streamed)) = (unstreamed, streamed) {
        assert_eq!(unstreamed, streamed, "{}", show(input));
    }
});

//! The streaming response reader fed random chunkings.
//!
//! The first byte picks the streaming threshold; the next two bytes seed
//! the chunk sizes; the rest is the server's byte stream. Fed whole and fed
//! in pieces (each piece appended to a buffer as a socket read would), the
//! reader must give the same events (data pieces joined), never panic, use
//! exactly the bytes it is given, and a response it yields whole must be
//! what `decode_response` gives for the same bytes. Streamed literal data
//! adds up to the announced length. Passed through
//! `ReadEvent::into_streamed`, the events of an input without errors are
//! the same for the drawn threshold as for no streaming at all.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailwire_fuzz::show;
use mailwire_imap::{Decoded, DecoderConfig, ReadEvent, ResponseReader, decode_response};

/// Runs the reader over `input` delivered in pieces from `sizes`; returns
/// the events as strings with data pieces joined, and an error marker for
/// each error.
fn run(input: &[u8], threshold: u64, sizes: &mut impl Iterator<Item = usize>) -> Vec<String> {
    let config = DecoderConfig::default();
    let mut reader = ResponseReader::new(config, threshold);
    let mut buffer: Vec<u8> = Vec::new();
    let mut fed = 0;
    let mut events = Vec::new();
    let mut data: Vec<u8> = Vec::new();
    let mut announced: Option<u64> = None;
    let flush = |events: &mut Vec<String>, data: &mut Vec<u8>, announced: &mut Option<u64>| {
        if let Some(len) = announced.take() {
            assert_eq!(data.len() as u64, len, "literal data does not add up");
            events.push(format!("data {}", show(data)));
            data.clear();
        }
    };
    // Each call either consumes bytes or asks for more, so this ends.
    for _ in 0..input.len() * 4 + 16 {
        match reader.decode(&buffer) {
            Ok(Decoded::Complete { value, consumed }) => {
                assert!(consumed > 0 && consumed <= buffer.len());
                match value {
                    ReadEvent::LiteralData(d) => data.extend_from_slice(&d),
                    other => {
                        if !matches!(other, ReadEvent::LiteralData(_)) {
                            flush(&mut events, &mut data, &mut announced);
                        }
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
                        // Skipped bytes depend on the chunking; their total does not.
                        if !matches!(other, ReadEvent::Skipped(_)) {
                            events.push(format!("{other:?}"));
                        }
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
                events.push(format!("error {:?} {}", e.kind, e.expected));
                match e.resume_at {
                    Some(r) if r > 0 && r <= buffer.len() => {
                        buffer.drain(..r);
                    }
                    _ => break,
                }
            }
        }
    }
    if announced.is_some() && data.len() as u64 == announced.unwrap_or(0) {
        flush(&mut events, &mut data, &mut announced);
    }
    events
}

/// The events of `input` in the streamed shape (`into_streamed`), data
/// pieces joined; `None` if the reader reported an error or the input
/// ends inside a response (a streamed one has then been handed out in
/// part, a whole one not at all).
fn shaped(input: &[u8], threshold: u64, sizes: &mut impl Iterator<Item = usize>) -> Option<Vec<String>> {
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
                                events.push(format!("data {}", show(&d)));
                            }
                            events.push(format!("{other:?}"));
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
        events.push(format!("data {}", show(&d)));
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
    if let (Some(unstreamed), Some(streamed)) = (unstreamed, streamed) {
        assert_eq!(unstreamed, streamed, "{}", show(input));
    }
});

//! Streaming message bodies: `BodyDecoder` and `DotStuffer`.
//!
//! Input layout: the first byte's low three bits say how many of the next
//! bytes are read sizes (0 means "everything left"); the rest is the
//! payload. Checked:
//! - decoding the payload as a dot-stuffed body in reads of those sizes,
//!   keeping unused bytes like a socket reader, gives the same body bytes,
//!   bytes used and end as decoding it whole, and both match a naive
//!   reference unstuffer;
//! - stuffing the payload as a message in pushes of those sizes gives the
//!   same wire bytes as stuffing it whole, as `Body::from_message` and as
//!   a naive stuffer of the CRLF-normalised payload; the
//!   wire has CRLF line ends only, is a valid `Body`, and unstuffs (whole,
//!   in reads, through `Body::unstuffed`) to the CRLF-normalised payload,
//!   ending exactly at its terminator; `normalised_len` counts that
//!   normalised payload;
//! - a stuffer is reset by `finish`: reused, it stuffs the same way.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailwire_fuzz::{body_decode_reads, normalise, reference_unstuff, show};
use mailwire_pop3::{Body, DotStuffer};

/// A naive stuffer (RFC 1939 section 3): every line of the CRLF-normalised
/// message that starts with `.` gets another in front, then `.` CRLF ends
/// it.
fn reference_stuff(normalised: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(normalised.len() * 2 + 3);
    let mut line_start = true;
    for &b in normalised {
        if line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        line_start = b == b'\n';
    }
    out.extend_from_slice(b".\r\n");
    out
}

fn stuff(stuffer: &mut DotStuffer, message: &[u8], pushes: &[usize]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut at = 0;
    let mut sizes = pushes.iter().copied().cycle();
    while at < message.len() {
        let n = match sizes.next() {
            Some(0) | None => message.len() - at,
            Some(n) => n.min(message.len() - at),
        };
        stuffer.push(&message[at..at + n], &mut out);
        at += n;
    }
    // An empty push changes nothing.
    stuffer.push(b"", &mut out);
    stuffer.finish(&mut out);
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&head, rest)) = data.split_first() else {
        return;
    };
    let n = usize::from(head & 7).min(rest.len());
    let (sizes, payload) = rest.split_at(n);
    let reads: Vec<usize> = sizes.iter().map(|&s| usize::from(s)).collect();

    // The payload as a dot-stuffed body.
    let reference = reference_unstuff(payload);
    let whole = body_decode_reads(payload, &[0]);
    assert_eq!(
        whole,
        reference,
        "whole decode vs reference for {}",
        show(payload)
    );
    let chunked = body_decode_reads(payload, &reads);
    assert_eq!(
        chunked,
        reference,
        "reads of {reads:?} vs reference for {}",
        show(payload)
    );

    // The payload as a message to stuff.
    let mut stuffer = DotStuffer::new();
    let wire = stuff(&mut stuffer, payload, &reads);
    let normalised = normalise(payload);
    assert_eq!(
        stuffer.normalised_len(),
        normalised.len() as u64,
        "normalised_len for {}",
        show(payload)
    );
    let at_once = stuff(&mut DotStuffer::new(), payload, &[0]);
    assert_eq!(
        wire,
        at_once,
        "pushes of {reads:?} vs one push for {}",
        show(payload)
    );
    let reused = stuff(&mut stuffer, payload, &[0]);
    assert_eq!(wire, reused, "a reused stuffer for {}", show(payload));

    assert!(wire.ends_with(b".\r\n"));
    for (i, &b) in wire.iter().enumerate() {
        assert!(
            b != b'\n' || (i > 0 && wire[i - 1] == b'\r'),
            "bare LF at {i} in {}",
            show(&wire)
        );
    }
    assert_eq!(wire, reference_stuff(&normalised), "stuffed {}", show(payload));
    let body_wire = &wire[..wire.len() - 3];
    assert_eq!(Body::from_message(payload).wire(), body_wire);
    let body = match Body::from_wire(body_wire) {
        Ok(b) => b,
        Err(e) => panic!("stuffed {} is not a valid body: {e}", show(body_wire)),
    };
    assert_eq!(
        *body.unstuffed(),
        normalised[..],
        "Body::unstuffed of {}",
        show(body_wire)
    );

    let unstuffed = reference_unstuff(&wire);
    assert!(
        unstuffed.ended && unstuffed.consumed == wire.len(),
        "the stuffed {} does not end at its terminator: {unstuffed:?}",
        show(&wire)
    );
    assert_eq!(unstuffed.data, normalised, "round trip of {}", show(payload));
    assert_eq!(body_decode_reads(&wire, &reads), unstuffed);
});

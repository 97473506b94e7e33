//! Response decoding, as a client reads a server's answer.
//!
//! The first byte picks the [`Expect`] (`byte % 11`, all eleven forms) and,
//! in its high nibble, a mix of leniency flags; the rest is the response.
//! It is decoded strictly, leniently, with the mixed flags, and with the
//! mixed flags under tiny limits. Checked for each:
//! - a complete response used 1..=len bytes ending at an LF; those bytes
//!   alone decode the same; every prefix of them is Incomplete;
//! - it re-encodes to bytes that the same configuration (limits aside)
//!   decodes to the same response, and re-encoding that gives the same
//!   bytes;
//! - the limits hold: a multi-line listing no longer than `multi_line`, a
//!   body no longer than `body`;
//! - a message body is valid wire form and unstuffs the same way through
//!   `Body::unstuffed`, `BodyDecoder` and a reference unstuffer;
//! - a status line's APOP timestamp is a valid timestamp, the first
//!   `<...>` of its text with an `@` and only printable ASCII inside, as a
//!   naive scan here finds it (RFC 1939 section 7);
//! - single-line forms are Incomplete only while no line end is within the
//!   limit;
//! - errors point inside the input and resume at a line start;
//! - whatever strict decoding accepts, lenient decoding accepts as the same
//!   response.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailwire_fuzz::{
    EXPECTS, TINY, body_decode_reads, check_response_encoding, decode_checked, leniency_from_bits,
    reference_unstuff, show,
};
use mailwire_pop3::{
    Body, DecodeError, Decoded, DecoderConfig, Expect, Limits, Response, Status, Timestamp, decode_response,
};

fn check<'a>(
    input: &'a [u8],
    expect: Expect,
    config: &DecoderConfig,
) -> Result<Decoded<Response<'a>>, DecodeError> {
    let r = decode_checked(input, |i| decode_response(i, expect, config));
    match &r {
        Ok(Decoded::Complete { value, consumed }) => {
            check_response_encoding(value, expect, config);
            check_value(value, *consumed, expect, config, input);
        }
        Ok(Decoded::Incomplete) if !expect.is_multi_line() => {
            let limit = config.limits.response_line;
            assert!(
                input.len() < limit && !input.contains(&b'\n'),
                "Incomplete although a line end is within the limit: {}",
                show(input)
            );
        }
        _ => {}
    }
    r
}

fn check_value(value: &Response<'_>, consumed: usize, expect: Expect, config: &DecoderConfig, input: &[u8]) {
    let limits = &config.limits;
    let multi = matches!(
        value,
        Response::ScanListings { .. }
            | Response::UniqueIdListings { .. }
            | Response::Capabilities { .. }
            | Response::Languages { .. }
    );
    if multi {
        assert!(
            consumed <= limits.multi_line,
            "{consumed}-byte {expect:?} response over the multi_line limit of {}",
            limits.multi_line
        );
    }
    match value {
        Response::Status(s) => {
            if let Some(ts) = s.apop_timestamp() {
                assert!(Timestamp::new(ts.as_str()).is_ok(), "{ts:?}");
            }
            assert_eq!(
                s.apop_timestamp().map(|ts| ts.as_str().as_bytes().to_vec()),
                first_timestamp(s.text.as_bytes()).map(<[u8]>::to_vec),
                "the APOP timestamp of {:?}",
                s.text
            );
            // A multi-line form answered by a single status line only on -ERR.
            assert!(s.status == Status::Err || !expect.is_multi_line());
        }
        Response::Message { body, .. } => {
            assert_eq!(expect, Expect::Message);
            let wire = body.wire();
            assert!(
                wire.len() <= limits.body,
                "{}-byte body over the limit of {}",
                wire.len(),
                limits.body
            );
            assert!(
                Body::from_wire(wire).is_ok(),
                "decoded body is not valid wire form: {}",
                show(wire)
            );
            // The body and its terminator, through the streaming decoder and
            // the reference, must give what Body::unstuffed gives.
            let mut terminated = wire.to_vec();
            terminated.extend_from_slice(b".\r\n");
            let reference = reference_unstuff(&terminated);
            assert!(reference.ended && reference.consumed == terminated.len());
            assert_eq!(
                *body.unstuffed(),
                reference.data[..],
                "Body::unstuffed of {}",
                show(wire)
            );
            assert_eq!(body_decode_reads(&terminated, &[0]), reference);
            // The body ends the input that was consumed.
            assert!(input[..consumed].ends_with(&terminated));
        }
        _ => {}
    }
}

/// The first `<...>` of `text` whose inside is printable ASCII other than
/// `<` and `>` and holds an `@`: every `<` tried in turn.
fn first_timestamp(text: &[u8]) -> Option<&[u8]> {
    (0..text.len()).find_map(|open| {
        if text[open] != b'<' {
            return None;
        }
        let inside = text[open + 1..]
            .iter()
            .take_while(|&&b| b.is_ascii_graphic() && b != b'<' && b != b'>')
            .count();
        let close = open + 1 + inside;
        let found = inside > 0 && text.get(close) == Some(&b'>') && text[open + 1..close].contains(&b'@');
        found.then(|| &text[open..=close])
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, input)) = data.split_first() else {
        return;
    };
    let expect = EXPECTS[usize::from(selector % 11)];
    let lenient = DecoderConfig::default();
    let mixed = DecoderConfig {
        limits: Limits::default(),
        leniency: leniency_from_bits(selector >> 4),
    };
    let tiny = DecoderConfig {
        limits: TINY,
        ..mixed
    };

    let strict = check(input, expect, &DecoderConfig::STRICT);
    let loose = check(input, expect, &lenient);
    if let Ok(Decoded::Complete { .. }) = strict {
        assert_eq!(loose, strict, "strict and lenient disagree on {}", show(input));
    }
    check(input, expect, &mixed).ok();
    check(input, expect, &tiny).ok();
});

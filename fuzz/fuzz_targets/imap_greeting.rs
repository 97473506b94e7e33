//! Greeting decoding, the first thing a client reads: only untagged OK,
//! PREAUTH or BYE is a greeting, and each of them is (RFC 9051's
//! `greeting`). A greeting is also a response, decoded the same way by the
//! response decoder, and re-encodes to itself; a response the response
//! decoder reads as an untagged OK, PREAUTH or BYE is a greeting.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailwire_fuzz::imap::{check_response_encoding, decode_checked, leniency_from_bits};
use mailwire_imap::{Decoded, DecoderConfig, Limits, Response, Status, decode_greeting, decode_response};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, input)) = data.split_first() else {
        return;
    };
    let config = DecoderConfig {
        limits: Limits::default(),
        leniency: leniency_from_bits(selector),
    };
    let r = decode_checked(input, |i| decode_greeting(i, &config));
    if let Ok(Decoded::Complete { value, consumed }) = &r {
        assert!(matches!(
            value,
            Response::Status {
                tag: None,
                status: Status::Ok | Status::PreAuth | Status::Bye,
                ..
            }
        ));
        let (again, n) = decode_response(input, &config).unwrap().complete().unwrap();
        assert_eq!((&again, n), (value, *consumed));
        check_response_encoding(value, &config);
    }
    if let Ok(Decoded::Complete {
        value:
            value @ Response::Status {
                tag: None,
                status: Status::Ok | Status::PreAuth | Status::Bye,
                ..
            },
        consumed,
    }) = decode_response(input, &config)
    {
        assert!(
            matches!(&r, Ok(Decoded::Complete { value: v, consumed: n }) if *v == value && *n == consumed),
            "a response that is a greeting: {r:?}"
        );
    }
});

//! Pipelined command decoding, as a server reads a client's stream.
//!
//! The input is decoded command after command with the default (lenient)
//! and the strict configuration. Checked:
//! - a complete command used 1..=len bytes ending at an LF, within the
//!   line limit; those bytes alone decode the same; every prefix of them is
//!   Incomplete;
//! - it re-encodes to a line that strict decoding turns into the same
//!   command, and re-encoding that gives the same bytes;
//! - whatever strict decoding accepts, lenient decoding accepts as the same
//!   command;
//! - Incomplete only while no line end is within the limit;
//! - errors point inside the input and resume at a line start; decoding
//!   goes on from there (or past the next LF).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailwire_fuzz::{check_command_encoding, decode_checked, show, skip_after};
use mailwire_pop3::{Decoded, DecoderConfig, decode_command};

fuzz_target!(|data: &[u8]| {
    let lenient = DecoderConfig::default();
    for config in [lenient, DecoderConfig::STRICT] {
        let limit = config.limits.command_line;
        let mut rest = data;
        while !rest.is_empty() {
            match decode_checked(rest, |i| decode_command(i, &config)) {
                Ok(Decoded::Complete { value, consumed }) => {
                    assert!(consumed <= limit, "{consumed}-byte line over the {limit} limit");
                    check_command_encoding(&value);
                    if config == DecoderConfig::STRICT {
                        let l = decode_command(rest, &lenient);
                        assert_eq!(
                            l,
                            Ok(Decoded::Complete {
                                value: value.clone(),
                                consumed
                            }),
                            "strict and lenient disagree on {}",
                            show(&rest[..consumed])
                        );
                    }
                    rest = &rest[consumed..];
                }
                Ok(Decoded::Incomplete) => {
                    assert!(
                        rest.len() < limit && !rest.contains(&b'\n'),
                        "Incomplete although a line end is within the limit: {}",
                        show(rest)
                    );
                    break;
                }
                Err(e) => match skip_after(&e, rest) {
                    Some(n) => rest = &rest[n..],
                    None => break,
                },
            }
        }
    }
});

//! decode, encode, decode: the value survives and the encoding is a fixed
//! point.
//!
//! The first byte picks what the rest is (`byte % 13`): 0..=10 a response
//! of the same [`Expect`] as in `pop3_response`, 11 a command, 12 a client
//! line of an AUTH exchange. Its high nibble picks a mix of leniency flags.
//! The rest is decoded strictly, leniently and with the mixed flags; for
//! every complete value x, decode(encode(x)) == x with the same
//! configuration (limits aside; commands and SASL lines strictly), and
//! encode(decode(encode(x))) == encode(x) byte for byte. AUTH client lines
//! also get the error and prefix checks of `pop3_command`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailwire_fuzz::{
    EXPECTS, check_command_encoding, check_response_encoding, check_sasl_response_encoding, decode_checked,
    leniency_from_bits,
};
use mailwire_pop3::{Decoded, DecoderConfig, Limits, decode_command, decode_response, decode_sasl_response};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, input)) = data.split_first() else {
        return;
    };
    let mixed = DecoderConfig {
        limits: Limits::default(),
        leniency: leniency_from_bits(selector >> 4),
    };
    for config in [DecoderConfig::STRICT, DecoderConfig::default(), mixed] {
        match selector % 13 {
            11 => {
                if let Ok(Decoded::Complete { value, .. }) = decode_command(input, &config) {
                    check_command_encoding(&value);
                }
            }
            12 => {
                // No other target decodes these lines: check errors and
                // prefixes too.
                let r = decode_checked(input, |i| decode_sasl_response(i, &config));
                if let Ok(Decoded::Complete { value, .. }) = r {
                    check_sasl_response_encoding(&value);
                }
            }
            e => {
                let expect = EXPECTS[usize::from(e)];
                if let Ok(Decoded::Complete { value, .. }) = decode_response(input, expect, &config) {
                    check_response_encoding(&value, expect, &config);
                }
            }
        }
    }
});

//! Command decoding, as a server reads a client.
//!
//! The first byte is a mix of leniency flags; the rest is the input. It is
//! decoded strictly, leniently, with the mixed flags, and with the mixed
//! flags under tiny limits. Checked for each: the decode invariants of
//! `mailwire_fuzz::imap::decode_checked`; a complete command re-encodes
//! under every literal policy to bytes that decode to the same command;
//! whatever strict decoding accepts, lenient decoding accepts as the same
//! command.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailwire_fuzz::imap::{TINY, check_command_encoding, decode_checked, leniency_from_bits};
use mailwire_fuzz::show;
use mailwire_imap::{Command, DecodeError, Decoded, DecoderConfig, Limits, decode_command};

fn check<'a>(input: &'a [u8], config: &DecoderConfig) -> Result<Decoded<Command<'a>>, DecodeError> {
    let r = decode_checked(input, |i| decode_command(i, config));
    if let Ok(Decoded::Complete { value, .. }) = &r {
        check_command_encoding(value, config);
        assert_eq!(value.clone().into_owned(), *value);
    }
    r
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, input)) = data.split_first() else {
        return;
    };
    let mixed = DecoderConfig {
        limits: Limits::default(),
        leniency: leniency_from_bits(selector),
    };
    let strict = check(input, &DecoderConfig::STRICT);
    let loose = check(input, &DecoderConfig::default());
    if let Ok(Decoded::Complete { .. }) = strict {
        assert_eq!(loose, strict, "strict and lenient disagree on {}", show(input));
    }
    check(input, &mixed).ok();
    check(
        input,
        &DecoderConfig {
            limits: TINY,
            ..mixed
        },
    )
    .ok();
});

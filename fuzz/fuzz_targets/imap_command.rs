//! Command decoding, as a server reads a client.
//!
//! Decoded in every configuration of
//! `mailwire_fuzz::imap::decode_in_every_config`. Checked for each: the
//! decode invariants of `mailwire_fuzz::imap::decode_checked`; a complete
//! command re-encodes under every literal policy to bytes that decode to
//! the same command, and its owned form is equal to it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailwire_fuzz::imap::{check_command_encoding, decode_checked, decode_in_every_config};
use mailwire_imap::{Decoded, decode_command};

fuzz_target!(|data: &[u8]| {
    decode_in_every_config(data, |input, config| {
        match decode_checked(input, |i| decode_command(i, config)) {
            Ok(Decoded::Complete { value, consumed }) => {
                check_command_encoding(&value, config);
                let owned = value.clone().into_owned();
                assert_eq!(owned, value);
                Some((owned, consumed))
            }
            _ => None,
        }
    });
});

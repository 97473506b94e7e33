//! Response decoding, as a client reads a server.
//!
//! Decoded in every configuration of
//! `mailwire_fuzz::imap::decode_in_every_config`. Checked for each: the
//! decode invariants of `mailwire_fuzz::imap::decode_checked`; a complete
//! response re-encodes to bytes that decode to the same response.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailwire_fuzz::imap::{check_response_encoding, decode_checked, decode_in_every_config};
use mailwire_imap::{Decoded, decode_response};

fuzz_target!(|data: &[u8]| {
    decode_in_every_config(data, |input, config| {
        match decode_checked(input, |i| decode_response(i, config)) {
            Ok(Decoded::Complete { value, consumed }) => {
                check_response_encoding(&value, config);
                Some((value.into_owned(), consumed))
            }
            _ => None,
        }
    });
});

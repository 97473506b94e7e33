//! AUTHENTICATE continuation data, as a server reads it: base64 or `*`.
//! A complete value re-encodes to a line that decodes to the same value,
//! and its Debug output never shows the data.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailwire_fuzz::imap::{decode_checked, leniency_from_bits};
use mailwire_fuzz::show;
use mailwire_imap::{AuthenticateData, Decoded, DecoderConfig, Limits, decode_authenticate_data};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, input)) = data.split_first() else {
        return;
    };
    let config = DecoderConfig {
        limits: Limits::default(),
        leniency: leniency_from_bits(selector),
    };
    let r = decode_checked(input, |i| decode_authenticate_data(i, &config));
    if let Ok(Decoded::Complete { value, .. }) = &r {
        let wire = value.encode();
        let (again, n) = decode_authenticate_data(&wire, &DecoderConfig::STRICT)
            .unwrap()
            .complete()
            .unwrap_or_else(|| panic!("{}", show(&wire)));
        assert_eq!((&again, n), (value, wire.len()));
        if let AuthenticateData::Continue(_) = value {
            assert_eq!(
                format!("{value:?}"),
                "Continue(Secret(<redacted>))",
                "Debug shows the secret"
            );
        }
    }
});

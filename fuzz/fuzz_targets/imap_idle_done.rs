//! IDLE's DONE, as a server reads it while idling: `DONE` CRLF in any case
//! and nothing else. A complete DONE used exactly one line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailwire_fuzz::imap::{decode_checked, leniency_from_bits};
use mailwire_imap::{Decoded, DecoderConfig, Limits, decode_idle_done};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, input)) = data.split_first() else {
        return;
    };
    let config = DecoderConfig {
        limits: Limits::default(),
        leniency: leniency_from_bits(selector),
    };
    if let Ok(Decoded::Complete { consumed, .. }) = decode_checked(input, |i| decode_idle_done(i, &config)) {
        let line = &input[..consumed];
        let content = line
            .strip_suffix(b"\r\n")
            .or_else(|| line.strip_suffix(b"\n"))
            .unwrap();
        assert!(content.eq_ignore_ascii_case(b"DONE"));
    }
});

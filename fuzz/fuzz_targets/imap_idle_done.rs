//! IDLE's DONE, as a server reads it while idling: `DONE` CRLF in any case
//! and nothing else. A complete DONE used exactly one line, and an input
//! that starts with such a line (or `DONE` LF, where bare LF is allowed)
//! is a complete DONE of that line.
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
    let decoded = decode_checked(input, |i| decode_idle_done(i, &config));
    if let Ok(Decoded::Complete { consumed, .. }) = decoded {
        let line = &input[..consumed];
        let content = line
            .strip_suffix(b"\r\n")
            .or_else(|| line.strip_suffix(b"\n"))
            .unwrap();
        assert!(content.eq_ignore_ascii_case(b"DONE"));
    }
    let starts = |line: &[u8]| {
        input
            .get(..line.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(line))
    };
    let line = if starts(b"DONE\r\n") {
        Some(6)
    } else if starts(b"DONE\n") && config.leniency.bare_lf {
        Some(5)
    } else {
        None
    };
    if let Some(len) = line {
        assert!(
            matches!(decoded, Ok(Decoded::Complete { consumed, .. }) if consumed == len),
            "{decoded:?}"
        );
    }
});

//! Checks shared by the IMAP fuzz targets.
//!
//! Each check panics with the offending bytes when an invariant fails, so
//! that libFuzzer records the input as a crash.

use mailwire_imap::{
    Command, DecodeError, Decoded, DecoderConfig, Leniency, Limits, LiteralPolicy, Response, decode_command,
    decode_response, to_bytes,
};

use crate::show;

/// Limits small enough for the fuzzer to cross every one of them.
pub const TINY: Limits = Limits {
    command_line: 48,
    response_line: 56,
    literal: 32,
    command_message: 80,
    response_message: 96,
    depth: 3,
    list: 4,
};

/// A leniency made of the bits of `bits`, one flag each. The flags past
/// the eighth share a bit with an earlier one, so that each is seen both
/// on and off: URLFETCH's NIL structure that of NIL in body structures,
/// Dovecot's URLFETCH list that of extra spaces, the drafts' PREVIEW that
/// of malformed body structures.
#[allow(clippy::needless_update)] // later leniency flags take the lenient default
pub fn leniency_from_bits(bits: u8) -> Leniency {
    Leniency {
        bare_lf: bits & 1 != 0,
        extra_spaces: bits & 2 != 0,
        missing_text: bits & 4 != 0,
        nil_in_body: bits & 8 != 0,
        eight_bit_quoted: bits & 16 != 0,
        foreign_flags: bits & 32 != 0,
        malformed_body: bits & 64 != 0,
        unpadded_day: bits & 128 != 0,
        urlfetch_one_list: bits & 2 != 0,
        urlfetch_nil_structure: bits & 8 != 0,
        fuzzy_preview: bits & 64 != 0,
        ..Leniency::LENIENT
    }
}

/// `config`'s leniency with limits that no re-encoded value reaches: a
/// re-encoded value can be longer than the input (a bare LF becomes CRLF,
/// a quoted string may become a literal).
pub fn roomy(config: &DecoderConfig) -> DecoderConfig {
    DecoderConfig {
        limits: Limits {
            command_line: 1 << 30,
            response_line: 1 << 30,
            literal: 1 << 30,
            command_message: 1 << 40,
            response_message: 1 << 40,
            depth: 1 << 20,
            list: 1 << 30,
        },
        leniency: config.leniency,
    }
}

/// An error points inside the input and resumes after its offset.
pub fn check_error(e: &DecodeError, input: &[u8]) {
    assert!(
        e.offset <= input.len(),
        "error offset {} past the input: {}",
        e.offset,
        show(input)
    );
    if let Some(r) = e.resume_at {
        assert!(
            r <= input.len() && r > e.offset,
            "resume_at {r} not after the error's offset {} and inside the input: {}",
            e.offset,
            show(input)
        );
    }
    // Display never panics and says something.
    assert!(!e.to_string().is_empty());
}

/// Runs a decoder on `input` and checks what every decoder promises:
/// - a complete value used 1..=len bytes, and those bytes alone decode the
///   same;
/// - a few prefixes of a complete message are Incomplete, or a literal
///   announcement whose data starts within the prefix;
/// - a literal announcement's data starts inside the input;
/// - errors point inside the input.
pub fn decode_checked<'a, T: std::fmt::Debug + PartialEq>(
    input: &'a [u8],
    decode: impl Fn(&'a [u8]) -> Result<Decoded<T>, DecodeError>,
) -> Result<Decoded<T>, DecodeError> {
    let r = decode(input);
    match &r {
        Ok(Decoded::Complete { value, consumed }) => {
            let n = *consumed;
            assert!(n > 0 && n <= input.len(), "consumed {n} of {}", input.len());
            assert_eq!(
                decode(&input[..n]).as_ref().ok(),
                r.as_ref().ok(),
                "{}",
                show(input)
            );
            for end in [0, 1, n / 3, n / 2, n - 1] {
                if end >= n {
                    continue;
                }
                match decode(&input[..end]) {
                    Ok(Decoded::Incomplete) => {}
                    Ok(Decoded::LiteralAnnounced(a)) => {
                        assert!(a.data_start <= end, "announced past the prefix: {}", show(input));
                    }
                    other => panic!(
                        "prefix {end} of a complete {value:?} gave {other:?}: {}",
                        show(input)
                    ),
                }
            }
        }
        Ok(Decoded::LiteralAnnounced(a)) => {
            assert!(a.data_start <= input.len(), "{}", show(input));
        }
        Ok(Decoded::Incomplete) => {}
        Err(e) => check_error(e, input),
    }
    r
}

/// A command re-encodes (under every literal policy) to bytes that decode
/// to the same command, and re-encoding that gives the same bytes.
pub fn check_command_encoding(value: &Command<'_>, config: &DecoderConfig) {
    let config = roomy(config);
    for policy in [
        LiteralPolicy::SyncOnly,
        LiteralPolicy::LiteralPlus,
        LiteralPolicy::LiteralMinus,
    ] {
        let wire = to_bytes(&value.encode(policy));
        let again = match decode_command(&wire, &config) {
            Ok(Decoded::Complete { value, consumed }) if consumed == wire.len() => value,
            other => panic!("{value:?} encoded as {} decodes as {other:?}", show(&wire)),
        };
        assert_eq!(&again, value, "encoded as {}", show(&wire));
        assert_eq!(to_bytes(&again.encode(policy)), wire);
    }
}

/// A response re-encodes to bytes that decode to the same response, and
/// re-encoding that gives the same bytes.
pub fn check_response_encoding(value: &Response<'_>, config: &DecoderConfig) {
    let config = roomy(config);
    let wire = to_bytes(&value.encode());
    let again = match decode_response(&wire, &config) {
        Ok(Decoded::Complete { value, consumed }) if consumed == wire.len() => value,
        other => panic!("{value:?} encoded as {} decodes as {other:?}", show(&wire)),
    };
    assert_eq!(&again, value, "encoded as {}", show(&wire));
    assert_eq!(to_bytes(&again.encode()), wire);
}

/// The frame of the command and response targets: the first byte of `data`
/// is a mix of leniency flags, the rest the input, decoded by `check`
/// strictly, leniently, with the mixed flags, and with the mixed flags under
/// tiny limits. `check` decodes with its own invariants and answers a
/// complete value with the length it used; whatever strict decoding
/// accepts, lenient decoding must accept as the same value, of the same
/// length (compared as values: Debug hides passwords and cuts literals).
pub fn decode_in_every_config<T: PartialEq + std::fmt::Debug>(
    data: &[u8],
    check: impl Fn(&[u8], &DecoderConfig) -> Option<T>,
) {
    let Some((&selector, input)) = data.split_first() else {
        return;
    };
    let mixed = DecoderConfig {
        limits: Limits::default(),
        leniency: leniency_from_bits(selector),
    };
    let strict = check(input, &DecoderConfig::STRICT);
    let loose = check(input, &DecoderConfig::default());
    if strict.is_some() {
        assert_eq!(loose, strict, "strict and lenient disagree on {}", show(input));
    }
    check(input, &mixed);
    check(
        input,
        &DecoderConfig {
            limits: TINY,
            ..mixed
        },
    );
}

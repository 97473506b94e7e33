//! Helpers shared by the codec transcript tests: decode, check every
//! prefix, re-encode and compare.
#![allow(dead_code)]

use mailwire_imap::{
    Command, DecodeError, Decoded, DecoderConfig, LiteralPolicy, Response, decode_command, decode_response,
    to_bytes,
};

/// Every proper prefix of `input` decodes as Incomplete, or for a command
/// as LiteralAnnounced (responses never announce literals).
pub fn assert_prefixes_incomplete(input: &[u8], command: bool, config: &DecoderConfig) {
    for i in 0..input.len() {
        let prefix = &input[..i];
        let outcome = if command {
            decode_command(prefix, config).map(|d| d.map(|_| ()))
        } else {
            decode_response(prefix, config).map(|d| d.map(|_| ()))
        };
        match outcome {
            Ok(Decoded::Incomplete) => {}
            Ok(Decoded::LiteralAnnounced(_)) if command => {}
            other => panic!(
                "prefix of {} bytes of {:?}: {other:?}",
                i,
                String::from_utf8_lossy(input)
            ),
        }
    }
}

/// Decodes a whole command with `config`.
pub fn decode_cmd_with<'a>(input: &'a [u8], config: &DecoderConfig) -> Command<'a> {
    match decode_command(input, config) {
        Ok(Decoded::Complete { value, consumed }) => {
            assert_eq!(consumed, input.len(), "{:?}", String::from_utf8_lossy(input));
            value
        }
        other => panic!("{:?}: {other:?}", String::from_utf8_lossy(input)),
    }
}

/// Decodes a whole response with `config`.
pub fn decode_resp_with<'a>(input: &'a [u8], config: &DecoderConfig) -> Response<'a> {
    match decode_response(input, config) {
        Ok(Decoded::Complete { value, consumed }) => {
            assert_eq!(consumed, input.len(), "{:?}", String::from_utf8_lossy(input));
            value
        }
        other => panic!("{:?}: {other:?}", String::from_utf8_lossy(input)),
    }
}

/// Decodes `input` strictly, checks its prefixes, re-encodes it with
/// `policy` and compares with `expected`; checks `into_owned` keeps the
/// value.
pub fn command_encodes_as<'a>(input: &'a [u8], policy: LiteralPolicy, expected: &[u8]) -> Command<'a> {
    let config = DecoderConfig::STRICT;
    assert_prefixes_incomplete(input, true, &config);
    let c = decode_cmd_with(input, &config);
    assert_eq!(
        String::from_utf8_lossy(&to_bytes(&c.encode(policy))),
        String::from_utf8_lossy(expected),
        "{c:?}"
    );
    assert_eq!(c.clone().into_owned(), c);
    c
}

/// A command that re-encodes byte for byte (synchronizing literals).
pub fn command_round_trip(input: &[u8]) -> Command<'_> {
    command_encodes_as(input, LiteralPolicy::SyncOnly, input)
}

/// Decodes `input` with `config`, checks its prefixes, re-encodes it and
/// compares with `expected`.
pub fn response_encodes_as_with<'a>(
    input: &'a [u8],
    expected: &[u8],
    config: &DecoderConfig,
) -> Response<'a> {
    assert_prefixes_incomplete(input, false, config);
    let r = decode_resp_with(input, config);
    assert_eq!(
        String::from_utf8_lossy(&to_bytes(&r.encode())),
        String::from_utf8_lossy(expected),
        "{r:?}"
    );
    assert_eq!(r.clone().into_owned(), r);
    r
}

/// A response decoded strictly that re-encodes as `expected`.
pub fn response_encodes_as<'a>(input: &'a [u8], expected: &[u8]) -> Response<'a> {
    response_encodes_as_with(input, expected, &DecoderConfig::STRICT)
}

/// A response that re-encodes byte for byte.
pub fn response_round_trip(input: &[u8]) -> Response<'_> {
    response_encodes_as(input, input)
}

/// The error of decoding a command.
pub fn command_error(input: &[u8], config: &DecoderConfig) -> DecodeError {
    match decode_command(input, config) {
        Err(e) => e,
        Ok(other) => panic!(
            "{:?}: expected an error, got {other:?}",
            String::from_utf8_lossy(input)
        ),
    }
}

/// Decoding `input` under `config` fails at `offset`, expecting
/// `expected`, and the error carries the command's `tag`.
pub fn expect_command_error(input: &[u8], config: &DecoderConfig, offset: usize, expected: &str, tag: &str) {
    let e = command_error(input, config);
    assert_eq!(
        (e.offset, e.expected, e.tag.as_ref().map(|t| t.as_str())),
        (offset, expected, Some(tag)),
        "{:?}",
        String::from_utf8_lossy(input)
    );
}

/// A checker of command errors under `config`: each command given to it
/// must fail at `offset` with `kind`, and the error must carry `tag`.
pub fn command_error_at<'c>(
    config: &'c DecoderConfig,
    tag: &'c str,
) -> impl Fn(&[u8], usize, mailwire_imap::ErrorKind) + 'c {
    move |input, offset, kind| {
        let e = command_error(input, config);
        assert_eq!(
            (e.offset, e.kind, e.tag.as_ref().map(|t| t.as_str())),
            (offset, kind, Some(tag)),
            "{:?}: {e:?}",
            String::from_utf8_lossy(input)
        );
    }
}

/// The error of decoding a response.
pub fn response_error(input: &[u8], config: &DecoderConfig) -> DecodeError {
    match decode_response(input, config) {
        Err(e) => e,
        Ok(other) => panic!(
            "{:?}: expected an error, got {other:?}",
            String::from_utf8_lossy(input)
        ),
    }
}

/// A configuration whose line limit lets hostile lines reach the parser.
pub fn long_lines() -> DecoderConfig {
    let mut c = DecoderConfig::STRICT;
    c.limits = c.limits.with_line(4 << 20);
    c
}

/// A mod-sequence of the tests (1 or more).
pub fn modseq(n: u64) -> mailwire_imap::ModSeq {
    mailwire_imap::ModSeq::new(n).unwrap()
}

/// A mod-sequence or zero.
pub fn valzer(n: u64) -> mailwire_imap::ModSeqValzer {
    mailwire_imap::ModSeqValzer::new(n).unwrap()
}

/// A UID set from its wire form.
pub fn uids(s: &str) -> mailwire_imap::UidSet {
    s.parse().unwrap()
}

/// A sequence set from its wire form.
pub fn set(s: &str) -> mailwire_imap::SequenceSet {
    s.parse().unwrap()
}

/// A non-zero number.
pub fn nz(n: u32) -> std::num::NonZeroU32 {
    std::num::NonZeroU32::new(n).unwrap()
}

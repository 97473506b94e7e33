//! Checks and reference models shared by the fuzz targets in
//! `fuzz_targets/`.
//!
//! Every check panics with the offending bytes when an invariant fails, so
//! that libFuzzer records the input as a crash. The reference models here
//! are deliberately naive (byte by byte, whole input at once) so that they
//! are easy to trust and independent of the crate's memchr-based code.

pub mod imap;
#[cfg(test)]
mod report;

use mailwire_pop3::{
    BodyChunk, BodyDecoder, Command, DecodeError, Decoded, DecoderConfig, Expect, Leniency, Limits, Response,
    SaslResponse, decode_command, decode_response, decode_sasl_response,
};

/// Every [`Expect`], indexed by a selector byte modulo 11.
pub const EXPECTS: [Expect; 11] = [
    Expect::Greeting,
    Expect::Status,
    Expect::Stat,
    Expect::ScanListing,
    Expect::ScanListings,
    Expect::UniqueIdListing,
    Expect::UniqueIdListings,
    Expect::Capabilities,
    Expect::Languages,
    Expect::Message,
    Expect::Sasl,
];

/// Limits small enough for the fuzzer to cross every one of them.
pub const TINY: Limits = Limits {
    command_line: 24,
    sasl_line: 24,
    response_line: 40,
    multi_line: 96,
    body: 64,
};

/// A leniency made of the low four bits of `bits`, one flag each.
pub fn leniency_from_bits(bits: u8) -> Leniency {
    Leniency {
        bare_lf: bits & 1 != 0,
        extra_spaces: bits & 2 != 0,
        status_case: bits & 4 != 0,
        malformed_response_code: bits & 8 != 0,
    }
}

/// `config`'s leniency with limits that no re-encoded value reaches.
///
/// Re-encoding can make a line longer than the one decoded (a bare LF
/// becomes CRLF, a missing space after `+OK` is added), so a value decoded
/// right at a limit may re-encode past it.
pub fn roomy(config: &DecoderConfig) -> DecoderConfig {
    const BIG: usize = 1 << 30;
    DecoderConfig {
        limits: Limits {
            command_line: BIG,
            sasl_line: BIG,
            response_line: BIG,
            multi_line: BIG,
            body: BIG,
        },
        leniency: config.leniency,
    }
}

/// Printable form of bytes for panic messages.
pub fn show(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}

/// Checks what every [`DecodeError`] must hold for the `input` it came from:
/// the offset lies inside the input and `resume_at`, when given, is the
/// start of a line (just past an LF) inside it.
pub fn check_error(e: &DecodeError, input: &[u8]) {
    assert!(
        e.offset <= input.len(),
        "error offset {} past the input ({} bytes): {e:?} for {}",
        e.offset,
        input.len(),
        show(input)
    );
    if let Some(found) = e.found {
        assert_eq!(
            input.get(e.offset),
            Some(&found),
            "`found` is not the byte at `offset`: {e:?} for {}",
            show(input)
        );
    }
    if let Some(r) = e.resume_at {
        assert!(
            (1..=input.len()).contains(&r),
            "resume_at {r} outside 1..={}: {e:?} for {}",
            input.len(),
            show(input)
        );
        assert_eq!(
            input[r - 1],
            b'\n',
            "resume_at {r} is not just past an LF: {e:?} for {}",
            show(input)
        );
    }
    // Display must not panic and must say something.
    assert!(!e.to_string().is_empty());
}

/// How far to skip after an error to reach the next line, or `None` when
/// the input holds no further line.
pub fn skip_after(e: &DecodeError, input: &[u8]) -> Option<usize> {
    e.resume_at.or_else(|| mailwire_pop3::skip_line(input))
}

/// Checks that every strict prefix of `input[..consumed]` is `Incomplete`.
///
/// Long values are sampled: the prefixes near both ends and a spread in
/// between, so the check stays linear-ish in the input size.
pub fn check_prefixes<'a, T: std::fmt::Debug>(
    consumed: usize,
    input: &'a [u8],
    mut decode: impl FnMut(&'a [u8]) -> Result<Decoded<T>, DecodeError>,
) {
    let mut check = |i: usize| {
        let r = decode(&input[..i]);
        assert!(
            matches!(r, Ok(Decoded::Incomplete)),
            "prefix of {i} bytes of a complete value ({consumed} bytes) is not Incomplete: {r:?}\ninput: {}",
            show(&input[..consumed])
        );
    };
    if consumed <= 300 {
        (0..consumed).for_each(&mut check);
    } else {
        (0..64).for_each(&mut check);
        (consumed - 64..consumed).for_each(&mut check);
        let step = consumed / 61;
        (64..consumed - 64).step_by(step.max(1)).for_each(&mut check);
    }
}

/// Decodes `input` with `decode`, checks the outcome-independent invariants
/// (consumed in range and ends a line, decoding only the consumed bytes
/// gives the same, every prefix is incomplete, errors are sane) and returns
/// the outcome.
pub fn decode_checked<'a, T: std::fmt::Debug + PartialEq>(
    input: &'a [u8],
    decode: impl Fn(&'a [u8]) -> Result<Decoded<T>, DecodeError>,
) -> Result<Decoded<T>, DecodeError> {
    let r = decode(input);
    match &r {
        Ok(Decoded::Complete { value, consumed }) => {
            let consumed = *consumed;
            assert!(
                consumed > 0 && consumed <= input.len(),
                "consumed {consumed} of {} bytes: {value:?}",
                input.len()
            );
            assert_eq!(
                input[consumed - 1],
                b'\n',
                "a complete value does not end at a line end: {value:?} from {}",
                show(input)
            );
            let again = decode(&input[..consumed]);
            assert_eq!(
                again,
                r,
                "the consumed bytes alone decode differently: {}",
                show(&input[..consumed])
            );
            check_prefixes(consumed, input, &decode);
        }
        Ok(Decoded::Incomplete) => {}
        Err(e) => check_error(e, input),
    }
    r
}

/// Checks a decoded command: it re-encodes to a line that decodes strictly
/// (limits aside) to the same command, and encoding is stable.
pub fn check_command_encoding(value: &Command<'_>) {
    let wire = value.to_bytes();
    assert!(
        wire.starts_with(value.keyword().as_bytes()) && wire.ends_with(b"\r\n"),
        "{value:?} encodes as {}",
        show(&wire)
    );
    let strict = roomy(&DecoderConfig::STRICT);
    match decode_command(&wire, &strict) {
        Ok(Decoded::Complete {
            value: again,
            consumed,
        }) => {
            assert_eq!(consumed, wire.len(), "re-decoding {}", show(&wire));
            assert_eq!(&again, value, "re-decoding {}", show(&wire));
            assert_eq!(
                again.to_bytes(),
                wire,
                "encoding is not stable for {}",
                show(&wire)
            );
        }
        other => panic!(
            "{value:?} encodes as {}, which strict decoding rejects: {other:?}",
            show(&wire)
        ),
    }
    assert_eq!(&value.clone().into_owned(), value);
}

/// Checks a decoded SASL client line the same way.
pub fn check_sasl_response_encoding(value: &SaslResponse<'_>) {
    let mut wire = Vec::new();
    value.encode(&mut wire);
    let strict = roomy(&DecoderConfig::STRICT);
    match decode_sasl_response(&wire, &strict) {
        Ok(Decoded::Complete {
            value: again,
            consumed,
        }) => {
            assert_eq!(consumed, wire.len(), "re-decoding {}", show(&wire));
            assert_eq!(&again, value, "re-decoding {}", show(&wire));
        }
        other => panic!(
            "{value:?} encodes as {}, which strict decoding rejects: {other:?}",
            show(&wire)
        ),
    }
    assert_eq!(&value.clone().into_owned(), value);
}

/// Checks a decoded response: it re-encodes to bytes that `config` (limits
/// aside) decodes to the same response, and re-encoding that gives the
/// same bytes.
pub fn check_response_encoding(value: &Response<'_>, expect: Expect, config: &DecoderConfig) {
    let wire = value.to_bytes();
    assert!(wire.ends_with(b"\r\n"), "{value:?} encodes as {}", show(&wire));
    match decode_response(&wire, expect, &roomy(config)) {
        Ok(Decoded::Complete {
            value: again,
            consumed,
        }) => {
            assert_eq!(consumed, wire.len(), "re-decoding {} as {expect:?}", show(&wire));
            assert_eq!(&again, value, "re-decoding {} as {expect:?}", show(&wire));
            assert_eq!(
                again.to_bytes(),
                wire,
                "encoding is not stable for {}",
                show(&wire)
            );
        }
        other => panic!(
            "{value:?} encodes as {}, which {:?} decoding as {expect:?} rejects: {other:?}",
            show(&wire),
            config.leniency
        ),
    }
    assert_eq!(&value.clone().into_owned(), value);
}

/// What unstuffing a body produced: the body bytes handed out, the input
/// bytes used, and whether the terminating line was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unstuffed {
    /// Unstuffed body bytes.
    pub data: Vec<u8>,
    /// Input bytes used (the rest is held back or follows the body).
    pub consumed: usize,
    /// Whether the terminating `.` line was consumed.
    pub ended: bool,
}

/// The reference unstuffer: line by line over the whole input.
///
/// Lines end with CRLF only (a body is binary-safe, a bare LF is data). At
/// a line start, `.` CRLF ends the body and a leading `.` is dropped. When
/// the input runs out, everything is handed out except what could still
/// turn out to be part of the terminator or of a line end: a trailing CR,
/// or a `.` / `.` CR at a line start.
pub fn reference_unstuff(wire: &[u8]) -> Unstuffed {
    let mut data = Vec::new();
    let mut i = 0;
    loop {
        // `i` is at a line start.
        let line = &wire[i..];
        if line.starts_with(b".\r\n") {
            return Unstuffed {
                data,
                consumed: i + 3,
                ended: true,
            };
        }
        if line == b"." || line == b".\r" {
            return Unstuffed {
                data,
                consumed: i,
                ended: false,
            };
        }
        let from = i + usize::from(line.first() == Some(&b'.'));
        match wire[from..].windows(2).position(|w| w == b"\r\n") {
            Some(p) => {
                data.extend_from_slice(&wire[from..from + p + 2]);
                i = from + p + 2;
            }
            None => {
                let end = if wire.ends_with(b"\r") && wire.len() > from {
                    wire.len() - 1
                } else {
                    wire.len()
                };
                data.extend_from_slice(&wire[from..end]);
                return Unstuffed {
                    data,
                    consumed: end,
                    ended: false,
                };
            }
        }
    }
}

/// Runs a [`BodyDecoder`] over `wire` the way a socket reader would: bytes
/// arrive in reads of the sizes in `reads` (cycled; 0 means everything
/// left), unused bytes are kept and more are appended when the decoder asks
/// for them.
///
/// Checks the per-call invariants on the way.
pub fn body_decode_reads(wire: &[u8], reads: &[usize]) -> Unstuffed {
    let mut decoder = BodyDecoder::new();
    let mut pending: Vec<u8> = Vec::new();
    let mut fed = 0;
    let mut out = Unstuffed {
        data: Vec::new(),
        consumed: 0,
        ended: false,
    };
    let mut reads = reads.iter().copied().cycle();
    loop {
        match decoder.decode(&pending) {
            Decoded::Complete {
                value: BodyChunk::Data(d),
                consumed,
            } => {
                assert!(
                    consumed > 0 && consumed <= pending.len() && d.len() <= consumed,
                    "Data of {} bytes for {consumed} of {} pending bytes",
                    d.len(),
                    pending.len()
                );
                assert!(!decoder.is_finished());
                out.data.extend_from_slice(d);
                out.consumed += consumed;
                pending.drain(..consumed);
            }
            Decoded::Complete {
                value: BodyChunk::End,
                consumed,
            } => {
                assert!(consumed <= pending.len());
                assert!(decoder.is_finished());
                out.consumed += consumed;
                out.ended = true;
                pending.drain(..consumed);
                // A finished decoder stays finished and uses nothing more.
                assert_eq!(
                    decoder.decode(&pending),
                    Decoded::Complete {
                        value: BodyChunk::End,
                        consumed: 0
                    }
                );
                break;
            }
            Decoded::Incomplete => {
                assert!(!decoder.is_finished());
                if fed == wire.len() {
                    break;
                }
                let n = match reads.next() {
                    Some(0) | None => wire.len() - fed,
                    Some(n) => n.min(wire.len() - fed),
                };
                pending.extend_from_slice(&wire[fed..fed + n]);
                fed += n;
            }
        }
    }
    assert_eq!(
        decoder.delivered(),
        out.data.len() as u64,
        "delivered() disagrees"
    );
    out
}

/// The CRLF normalisation [`mailwire_pop3::DotStuffer`] promises: a LF not
/// preceded by CR becomes CRLF, a final lone CR becomes CRLF, and a
/// non-empty message that does not end with CRLF gets one.
pub fn normalise(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 2);
    for (i, &b) in message.iter().enumerate() {
        if b == b'\n' && (i == 0 || message[i - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(b);
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        if out.ends_with(b"\r") {
            out.push(b'\n');
        } else {
            out.extend_from_slice(b"\r\n");
        }
    }
    out
}

/// The input of a session target cut into reads: read `n` is
/// `reads[n] + 1` bytes, and once the sizes run out the rest comes in one
/// read.
pub struct Reads<'a> {
    input: &'a [u8],
    sizes: std::slice::Iter<'a, u8>,
}

impl<'a> Reads<'a> {
    /// `input` cut by `sizes`.
    pub fn new(input: &'a [u8], sizes: &'a [u8]) -> Self {
        Reads {
            input,
            sizes: sizes.iter(),
        }
    }
}

impl<'a> Iterator for Reads<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.input.is_empty() {
            return None;
        }
        let size = self
            .sizes
            .next()
            .map_or(self.input.len(), |&r| usize::from(r) + 1);
        let (read, rest) = self.input.split_at(size.min(self.input.len()));
        self.input = rest;
        Some(read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_unstuffer() {
        let u = reference_unstuff(b"a\r\n..b\r\n.\r\nafter");
        assert_eq!(
            (u.data.as_slice(), u.consumed, u.ended),
            (&b"a\r\n.b\r\n"[..], 11, true)
        );
        let u = reference_unstuff(b"a\r\n.\r");
        assert_eq!(
            (u.data.as_slice(), u.consumed, u.ended),
            (&b"a\r\n"[..], 3, false)
        );
        let u = reference_unstuff(b".x\r");
        assert_eq!((u.data.as_slice(), u.consumed, u.ended), (&b"x"[..], 2, false));
        let u = reference_unstuff(b"\r");
        assert_eq!((u.data.as_slice(), u.consumed, u.ended), (&b""[..], 0, false));
    }

    #[test]
    fn decoder_matches_reference_on_samples() {
        for wire in [
            &b"a\r\n..b\r\n.\r\n"[..],
            b".\r\n",
            b"x\r\n.\r",
            b"\r\n.\r\n",
            b".a\rb\r\n.\r\n",
        ] {
            for step in 0..6 {
                assert_eq!(
                    body_decode_reads(wire, &[step]),
                    reference_unstuff(wire),
                    "{wire:?} by {step}"
                );
            }
        }
    }

    #[test]
    fn normalisation() {
        assert_eq!(normalise(b""), b"");
        assert_eq!(normalise(b"a\nb"), b"a\r\nb\r\n");
        assert_eq!(normalise(b"a\r"), b"a\r\n");
        assert_eq!(normalise(b"a\r\r\n"), b"a\r\r\n");
        assert_eq!(normalise(b"\n"), b"\r\n");
    }
}

//! Message framing: where does one IMAP message end?
//!
//! A message is a line, and when the line ends with a literal header
//! (`{n}`, `{n+}` or `~{n}`), the n bytes of data and another line, and so
//! on. The framer finds the end with memchr before any parser runs, checks
//! line lengths and literal sizes against the limits before anything is
//! allocated, and is what answers "need more bytes" and "literal
//! announced". The parsers then run on a complete message.

use crate::core::peek_tag;
use crate::decode::{DecodeError, DecoderConfig, ErrorKind, LiteralAnnouncement, LiteralMode};

/// Which side sent the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// A client command.
    Command,
    /// A server response.
    Response,
}

/// The outcome of framing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Framed {
    /// The message is complete and this long, final CRLF included.
    Complete(usize),
    /// More bytes are needed.
    Incomplete,
    /// The input ends inside a literal.
    Literal(LiteralAnnouncement),
    /// A literal larger than [`FrameOptions::stream_above`] starts at
    /// `data_start`: the caller streams it instead of waiting for it.
    Stream {
        /// Where its data starts (after the header's CRLF).
        data_start: usize,
        /// Its announced length.
        length: u64,
    },
}

/// How [`frame_with`] reads its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct FrameOptions {
    /// The input starts in the middle of a message, right after a literal's
    /// data (so its first line is not a status response's text).
    pub mid_message: bool,
    /// Literals longer than this are reported as [`Framed::Stream`] rather
    /// than checked against the literal limit and waited for.
    pub stream_above: Option<u64>,
    /// A literal whose data starts after this offset is announced even
    /// when its data is already in the input: a server session asks the
    /// application about every synchronizing literal (whether or not the
    /// client sent the data early), and streams APPEND's messages.
    pub announce_after: Option<usize>,
}

/// A literal header at the end of `line`: `(length, mode, binary)`.
///
/// `{` must not be inside a quoted string; quoted strings never span lines,
/// so scanning the line is enough.
pub(crate) fn literal_header(line: &[u8]) -> Option<(u64, LiteralMode, bool)> {
    let inner = line.strip_suffix(b"}")?;
    let open = memchr::memrchr(b'{', inner)?;
    let (digits, mode) = match inner[open + 1..].strip_suffix(b"+") {
        Some(d) => (d, LiteralMode::NonSync),
        None => (&inner[open + 1..], LiteralMode::Sync),
    };
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if in_quoted(&line[..open]) {
        return None;
    }
    let length = digits.iter().fold(0u64, |n, &d| n * 10 + u64::from(d - b'0'));
    let binary = open > 0 && line[open - 1] == b'~';
    Some((length, mode, binary))
}

/// Whether the end of `prefix` is inside a quoted string.
fn in_quoted(prefix: &[u8]) -> bool {
    let mut inside = false;
    let mut i = 0;
    while let Some(j) = memchr::memchr2(b'"', b'\\', &prefix[i..]) {
        let at = i + j;
        if prefix[at] == b'\\' {
            // An escape only means something inside quotes.
            i = at + if inside { 2 } else { 1 };
        } else {
            inside = !inside;
            i = at + 1;
        }
        if i >= prefix.len() {
            break;
        }
    }
    inside
}

/// Whether a response line carries free text to its end (status
/// responses, continuation requests), where `{n}` is just text.
fn is_text_response(line: &[u8]) -> bool {
    if line.first() == Some(&b'+') {
        return true;
    }
    let Some(sp) = memchr::memchr(b' ', line) else {
        return false;
    };
    let rest = &line[sp + 1..];
    let word_end = memchr::memchr(b' ', rest).unwrap_or(rest.len());
    let word = &rest[..word_end];
    let status = |w: &[u8]| {
        ["OK", "NO", "BAD"]
            .iter()
            .any(|s| w.eq_ignore_ascii_case(s.as_bytes()))
    };
    if &line[..sp] == b"*" {
        status(word) || word.eq_ignore_ascii_case(b"BYE") || word.eq_ignore_ascii_case(b"PREAUTH")
    } else {
        status(word)
    }
}

/// Where framing of a message that has not all arrived stopped, so that
/// the next call resumes there instead of scanning the message from its
/// first byte again: framing a message delivered in pieces costs time
/// linear in its size, however small the pieces.
///
/// Valid while the input keeps starting at the same message and only
/// grows; [`frame_resume`] starts over when the input is shorter than what
/// it saw last, and resets the progress whenever it answers anything but
/// "incomplete" or "literal announced".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Progress {
    /// Start of the line being framed.
    line_start: usize,
    /// How far from `line_start` the search for LF has got.
    scanned: usize,
    /// A literal whose data has not all arrived.
    literal: Option<PendingLiteral>,
    /// The input length at the last call.
    seen: usize,
}

/// A literal header already framed, waiting for its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PendingLiteral {
    length: u64,
    mode: LiteralMode,
    binary: bool,
    data_start: usize,
}

impl Progress {
    /// How many bytes of the message have been framed: a caller may drop
    /// nothing, but it knows how much of the input is known good.
    #[cfg(test)]
    pub(crate) fn framed(&self) -> usize {
        self.line_start
    }
}

#[cfg(test)]
thread_local! {
    /// Bytes searched for LF by this thread's framer, for the linearity
    /// tests.
    static SCANNED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Finds the end of the first message of `input`.
pub(crate) fn frame(input: &[u8], side: Side, config: &DecoderConfig) -> Result<Framed, DecodeError> {
    frame_with(input, side, config, FrameOptions::default())
}

/// [`frame`], with options for streaming readers.
pub(crate) fn frame_with(
    input: &[u8],
    side: Side,
    config: &DecoderConfig,
    options: FrameOptions,
) -> Result<Framed, DecodeError> {
    frame_resume(input, side, config, options, &mut Progress::default())
}

/// [`frame_with`], resuming where `progress` says the previous call on the
/// same message stopped.
pub(crate) fn frame_resume(
    input: &[u8],
    side: Side,
    config: &DecoderConfig,
    options: FrameOptions,
    progress: &mut Progress,
) -> Result<Framed, DecodeError> {
    if input.len() < progress.seen {
        *progress = Progress::default();
    }
    progress.seen = input.len();
    let outcome = frame_from(input, side, config, options, progress);
    if !matches!(outcome, Ok(Framed::Incomplete | Framed::Literal(_))) {
        *progress = Progress::default();
    }
    outcome
}

fn frame_from(
    input: &[u8],
    side: Side,
    config: &DecoderConfig,
    options: FrameOptions,
    progress: &mut Progress,
) -> Result<Framed, DecodeError> {
    let limits = &config.limits;
    let (line_limit, message_limit) = match side {
        Side::Command => (limits.command_line, limits.command_message),
        Side::Response => (limits.response_line, limits.response_message),
    };
    let too_large = |offset: usize| {
        let mut e = DecodeError::new(
            ErrorKind::MessageTooLarge { limit: message_limit },
            input,
            offset,
            "a smaller message",
        );
        e.tag = peek_tag(input);
        e
    };
    let announce = |p: PendingLiteral| {
        Framed::Literal(LiteralAnnouncement {
            tag: if side == Side::Command {
                peek_tag(input)
            } else {
                None
            },
            length: p.length,
            mode: p.mode,
            binary: p.binary,
            data_start: p.data_start,
        })
    };
    if let Some(pending) = progress.literal {
        // Fits: checked against the literal limit when it was framed.
        let data_end = pending.data_start.saturating_add(pending.length as usize);
        if input.len() < data_end {
            return Ok(announce(pending));
        }
        progress.literal = None;
        progress.line_start = data_end;
        progress.scanned = 0;
    }
    loop {
        let start = progress.line_start;
        let window_end = input.len().min(start.saturating_add(line_limit));
        let from = start + progress.scanned;
        let found = memchr::memchr(b'\n', &input[from.min(window_end)..window_end]);
        #[cfg(test)]
        SCANNED.with(|s| s.set(s.get() + found.map_or(window_end.saturating_sub(from), |i| i + 1)));
        let Some(i) = found else {
            if input.len() - start >= line_limit {
                let mut e = DecodeError::new(
                    ErrorKind::LineTooLong { limit: line_limit },
                    input,
                    start + line_limit,
                    "line end",
                );
                e.tag = peek_tag(input);
                return Err(e);
            }
            if input.len() as u64 > message_limit {
                return Err(too_large(message_limit as usize));
            }
            progress.scanned = window_end - start;
            return Ok(Framed::Incomplete);
        };
        let lf = from + i;
        if (lf + 1) as u64 > message_limit {
            return Err(too_large(message_limit as usize));
        }
        let end = if lf > start && input[lf - 1] == b'\r' {
            lf - 1
        } else if config.leniency.bare_lf {
            lf
        } else {
            let mut e = DecodeError::syntax(input, lf, "CR before LF");
            e.tag = peek_tag(input);
            e.resume_at = Some(lf + 1);
            return Err(e);
        };
        let line = &input[start..end];
        if start == 0 && side == Side::Response && !options.mid_message && is_text_response(line) {
            return Ok(Framed::Complete(lf + 1));
        }
        let Some((length, mode, binary)) = literal_header(line) else {
            return Ok(Framed::Complete(lf + 1));
        };
        if options.stream_above.is_some_and(|t| length > t) {
            return Ok(Framed::Stream {
                data_start: lf + 1,
                length,
            });
        }
        if length > limits.literal {
            let mut e = DecodeError::new(
                ErrorKind::LiteralTooLarge {
                    length,
                    limit: limits.literal,
                },
                input,
                end - 1,
                "a smaller literal",
            );
            e.tag = peek_tag(input);
            return Err(e);
        }
        let data_start = lf + 1;
        // The whole message so far, the literal and at least a CRLF after
        // it: refused before the data is waited for.
        if (data_start as u64).saturating_add(length).saturating_add(2) > message_limit {
            return Err(too_large(end - 1));
        }
        // Fits: length <= limits.literal, which the caller keeps sane.
        let data_end = data_start.saturating_add(length as usize);
        let gated = options.announce_after.is_some_and(|after| data_start > after);
        if input.len() < data_end || gated {
            let pending = PendingLiteral {
                length,
                mode,
                binary,
                data_start,
            };
            progress.literal = Some(pending);
            return Ok(announce(pending));
        }
        progress.line_start = data_end;
        progress.scanned = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(input: &[u8]) -> Framed {
        frame(input, Side::Command, &DecoderConfig::STRICT).unwrap()
    }

    #[test]
    fn lines_and_literals() {
        assert_eq!(cmd(b"A1 NOOP\r\nA2"), Framed::Complete(9));
        assert_eq!(cmd(b"A1 NOOP\r"), Framed::Incomplete);
        let append = b"A2 APPEND INBOX {11}\r\nhello world)\r\n";
        assert_eq!(cmd(append), Framed::Complete(append.len()));
        for i in 0..append.len() {
            let f = cmd(&append[..i]);
            if !(22..33).contains(&i) {
                assert_eq!(f, Framed::Incomplete, "{i}");
            } else {
                let Framed::Literal(a) = f else {
                    panic!("{i}: {f:?}")
                };
                assert_eq!(
                    (a.length, a.mode, a.data_start, a.tag.unwrap().as_str()),
                    (11, LiteralMode::Sync, 22, "A2")
                );
            }
        }
        let Framed::Literal(a) = cmd(b"A3 LOGIN {3+}\r\n") else {
            panic!()
        };
        assert_eq!(a.mode, LiteralMode::NonSync);
        let Framed::Literal(a) = cmd(b"A4 APPEND INBOX ~{3}\r\n") else {
            panic!()
        };
        assert!(a.binary);
        // Two literals in one command.
        let login = b"A5 LOGIN {1}\r\na {1}\r\nb\r\n";
        assert_eq!(cmd(login), Framed::Complete(login.len()));
    }

    #[test]
    fn braces_in_quotes_and_text_are_not_literals() {
        assert_eq!(cmd(b"A1 LOGIN \"{5}\r\n"), Framed::Complete(15));
        assert_eq!(cmd(b"A1 LOGIN \"a\\\"{5}\r\n"), Framed::Complete(18));
        let r = frame(b"* OK [ALERT] hi {5}\r\n", Side::Response, &DecoderConfig::STRICT).unwrap();
        assert_eq!(r, Framed::Complete(21));
        let r = frame(b"a1 NO text {5}\r\n", Side::Response, &DecoderConfig::STRICT).unwrap();
        assert_eq!(r, Framed::Complete(16));
        let r = frame(
            b"* 1 FETCH (BODY[] {5}\r\n",
            Side::Response,
            &DecoderConfig::STRICT,
        )
        .unwrap();
        assert!(matches!(
            r,
            Framed::Literal(LiteralAnnouncement {
                tag: None,
                length: 5,
                ..
            })
        ));
    }

    #[test]
    fn limits_are_checked_before_allocating() {
        let e = frame(
            b"A1 APPEND INBOX {4294967295}\r\n",
            Side::Command,
            &DecoderConfig::STRICT,
        )
        .unwrap_err();
        assert_eq!(
            e.kind,
            ErrorKind::LiteralTooLarge {
                length: 4294967295,
                limit: 64 * 1024 * 1024
            }
        );
        assert_eq!(e.tag.unwrap().as_str(), "A1");
        let mut config = DecoderConfig::STRICT;
        config.limits.command_line = 16;
        let e = frame(b"A1 NOOP and much more", Side::Command, &config).unwrap_err();
        assert_eq!(e.kind, ErrorKind::LineTooLong { limit: 16 });
        assert_eq!(
            frame(b"A1 NOOP\r\n", Side::Command, &config).unwrap(),
            Framed::Complete(9)
        );
    }

    #[test]
    fn streamed_literals() {
        let options = FrameOptions {
            mid_message: false,
            stream_above: Some(4),
            ..FrameOptions::default()
        };
        let config = DecoderConfig::STRICT;
        let big = b"* 1 FETCH (UID 1 BODY[1] {3}\r\nabc BODY[] {4294967295}\r\nxyz";
        assert_eq!(
            frame_with(big, Side::Response, &config, options).unwrap(),
            Framed::Stream {
                data_start: 55,
                length: 4294967295
            }
        );
        // Small literals are framed as usual; a big one is reported even
        // before its header's line is followed by data.
        assert_eq!(
            frame_with(&big[..20], Side::Response, &config, options).unwrap(),
            Framed::Incomplete
        );
        // After a literal, "OK" starts no status text.
        let rest = b" OK {5}\r\nhello)\r\n";
        let mid = FrameOptions {
            mid_message: true,
            ..FrameOptions::default()
        };
        assert_eq!(
            frame_with(rest, Side::Response, &config, mid).unwrap(),
            Framed::Complete(rest.len())
        );
    }

    /// Feeds `input` to the framer `step` bytes at a time, as a reader
    /// would, with or without progress kept between calls; answers the
    /// final outcome and the bytes searched for LF.
    fn feed(input: &[u8], step: usize, keep_progress: bool, config: &DecoderConfig) -> (Framed, usize) {
        SCANNED.with(|s| s.set(0));
        let mut progress = Progress::default();
        let mut end = 0;
        loop {
            end = (end + step).min(input.len());
            if !keep_progress {
                progress = Progress::default();
            }
            let f = frame_resume(
                &input[..end],
                Side::Command,
                config,
                FrameOptions::default(),
                &mut progress,
            )
            .unwrap();
            if !matches!(f, Framed::Incomplete | Framed::Literal(_)) || end == input.len() {
                return (f, SCANNED.with(|s| s.get()));
            }
        }
    }

    #[test]
    fn framing_in_pieces_is_linear() {
        // A million small literals, fed 4 KiB at a time.
        let mut command = b"A1 SEARCH".to_vec();
        for _ in 0..1_000_000 {
            command.extend_from_slice(b" TEXT {1}\r\nx");
        }
        command.extend_from_slice(b"\r\n");
        let config = DecoderConfig::STRICT;
        let (f, scanned) = feed(&command, 4096, true, &config);
        assert_eq!(f, Framed::Complete(command.len()));
        // Each byte is searched at most once (literal data not at all).
        assert!(
            scanned <= command.len(),
            "{scanned} bytes searched for {}",
            command.len()
        );
        // Without the progress, the same framing searches the message
        // again from its first byte at every call: quadratic.
        let small = &command[..200_000];
        let (_, rescanned) = feed(small, 4096, false, &config);
        assert!(rescanned > 10 * small.len(), "{rescanned}");
        // One long line arriving in pieces is searched once too.
        let mut long = vec![b'a'; 60_000];
        long.extend_from_slice(b"\r\n");
        let (f, scanned) = feed(&long, 100, true, &config);
        assert_eq!((f, scanned), (Framed::Complete(long.len()), long.len()));
    }

    #[test]
    fn progress_survives_literals_and_restarts_on_a_shorter_input() {
        let config = DecoderConfig::STRICT;
        let input = b"A1 LOGIN {5}\r\nfred! {6}\r\nsecret\r\n";
        let mut progress = Progress::default();
        let mut announced = Vec::new();
        for end in 1..=input.len() {
            match frame_resume(
                &input[..end],
                Side::Command,
                &config,
                FrameOptions::default(),
                &mut progress,
            ) {
                Ok(Framed::Literal(a)) => {
                    assert_eq!(a.tag.as_ref().unwrap().as_str(), "A1");
                    if announced.last() != Some(&a.data_start) {
                        announced.push(a.data_start);
                    }
                }
                Ok(Framed::Incomplete) => {}
                Ok(Framed::Complete(n)) => assert_eq!((n, end), (input.len(), input.len())),
                other => panic!("{end}: {other:?}"),
            }
        }
        assert_eq!(announced, [14, 25]);
        assert_eq!(progress, Progress::default(), "reset after a complete message");
        // A shorter input than the last (the caller dropped bytes): start over.
        let _ = frame_resume(
            &input[..30],
            Side::Command,
            &config,
            FrameOptions::default(),
            &mut progress,
        );
        assert_eq!(progress.framed(), 19);
        let r = frame_resume(
            &input[..16],
            Side::Command,
            &config,
            FrameOptions::default(),
            &mut progress,
        );
        assert!(matches!(
            r,
            Ok(Framed::Literal(LiteralAnnouncement { data_start: 14, .. }))
        ));
        assert_eq!(progress.framed(), 0);
        let r = frame_resume(
            b"A2 NOOP\r\n",
            Side::Command,
            &config,
            FrameOptions::default(),
            &mut progress,
        );
        assert_eq!(r.unwrap(), Framed::Complete(9));
    }

    #[test]
    fn whole_message_limit() {
        let mut config = DecoderConfig::STRICT;
        config.limits.command_message = 64;
        // A literal that would carry the message past the limit is refused
        // when announced, before its data is waited for.
        let e = frame(b"A1 APPEND INBOX {60}\r\n", Side::Command, &config).unwrap_err();
        assert_eq!(e.kind, ErrorKind::MessageTooLarge { limit: 64 });
        assert_eq!((e.offset, e.tag.unwrap().as_str()), (19, "A1"));
        assert!(frame(b"A1 APPEND INBOX {40}\r\n", Side::Command, &config).is_ok());
        // Lines and literals add up.
        let mut many = b"A2 LOGIN".to_vec();
        while many.len() < 100 {
            many.extend_from_slice(b" {2}\r\nab");
        }
        let e = frame(&many, Side::Command, &config).unwrap_err();
        assert_eq!(e.kind, ErrorKind::MessageTooLarge { limit: 64 });
        assert!(e.to_string().contains("64 bytes"), "{e}");
        // The response limit is separate.
        let r = frame(b"* 1 FETCH (BODY[] {60}\r\n", Side::Response, &config).unwrap();
        assert!(matches!(r, Framed::Literal(_)));
    }

    #[test]
    fn line_limits_per_direction() {
        let mut line = b"* SEARCH".to_vec();
        while line.len() < 100_000 {
            line.extend_from_slice(b" 12345");
        }
        line.extend_from_slice(b"\r\n");
        let config = DecoderConfig::STRICT;
        assert_eq!(
            frame(&line, Side::Response, &config).unwrap(),
            Framed::Complete(line.len())
        );
        let e = frame(&line, Side::Command, &config).unwrap_err();
        assert_eq!(e.kind, ErrorKind::LineTooLong { limit: 64 * 1024 });
    }

    #[test]
    fn bare_lf() {
        assert!(frame(b"A1 NOOP\n", Side::Command, &DecoderConfig::STRICT).is_err());
        assert_eq!(
            frame(b"A1 NOOP\n", Side::Command, &DecoderConfig::default()).unwrap(),
            Framed::Complete(8)
        );
    }
}

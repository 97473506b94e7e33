//! Message framing: where does one IMAP message end?
//!
//! A message is a line, and when the line ends with a literal header
//! (`{n}`, `{n+}` or `~{n}`), the n bytes of data and another line, and so
//! on. The framer finds the end with memchr before any parser runs, checks
//! line lengths and literal sizes against the limits before anything is
//! allocated, and is what answers "need more bytes" and "literal
//! announced". The parsers then run on a complete message.
//!
//! For [`ResponseReader`](crate::ResponseReader) it also tells which
//! literals to stream: those longer than a threshold that are the data of a
//! FETCH message data item (`BODY[]`, `BINARY[1]`, `RFC822`...). Any
//! string of a response may be sent as a literal, so a long subject in an
//! ENVELOPE or a long parameter in a BODYSTRUCTURE is framed like any
//! other literal, under the literal limit, and decoded in place.
//!
//! The framer tells them apart in two steps, so that streaming a message
//! costs nothing more than parsing the items before it. First by the bytes
//! right before the literal: only a literal after `]`, `>` or `RFC822...`
//! and a space can be message data, and anything else (`(NIL {20}`,
//! `"...\" {20}`, `PREVIEW {20}`) is framed in place at once. Such a
//! literal is a candidate, which the reader confirms by parsing the items
//! before it, as it must anyway; the rare candidate that stands inside an
//! item (an extension's list `(a] {20}`) fails that parse, and the reader
//! frames the response again following its structure ([`MsgAttScan`]),
//! which then decides every large literal of the response exactly.

use crate::decode::{DecodeError, DecoderConfig, ErrorKind, LiteralAnnouncement, LiteralMode};
use crate::fetch::data::data_item_name;
use crate::string::peek_tag;

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
    /// A literal to stream (see [`FrameOptions::stream`]) starts at
    /// `data_start`: the caller streams it instead of waiting for it.
    Stream {
        /// Where its data starts (after the header's CRLF).
        data_start: usize,
        /// Its announced length.
        length: u64,
        /// Whether the structure of the response was followed to the
        /// literal (see [`Progress::following_fetch_structure`]). If not, a
        /// literal that only looks like message data by the bytes before it
        /// is a candidate for the caller to confirm.
        followed: bool,
    },
}

/// How [`frame_with`] reads its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct FrameOptions {
    /// The input starts in the middle of a message, right after a literal's
    /// data (so its first line is not a status response's text).
    pub mid_message: bool,
    /// Which literals are reported as [`Framed::Stream`] rather than
    /// checked against the literal limit and waited for.
    pub stream: Option<StreamLiterals>,
    /// A literal whose data starts after this offset is announced even
    /// when its data is already in the input: a server session asks the
    /// application about every synchronizing literal (whether or not the
    /// client sent the data early), and streams APPEND's messages.
    pub announce_after: Option<usize>,
}

/// The literals a streaming reader takes itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StreamLiterals {
    /// Those longer than `above` that are the data of a message data item
    /// of a FETCH response (`BODY[section]<origin>`,
    /// `BINARY[section]<origin>`, `RFC822`, `RFC822.HEADER`,
    /// `RFC822.TEXT`). The input is a FETCH response, or with
    /// [`FrameOptions::mid_message`] the rest of one after a streamed
    /// literal.
    MessageData {
        /// The threshold.
        above: u64,
    },
    /// Every literal longer than `above`, wherever it stands: for a reader
    /// skipping the rest of a response without keeping any of it.
    Any {
        /// The threshold.
        above: u64,
    },
}

impl StreamLiterals {
    /// The threshold.
    fn above(self) -> u64 {
        match self {
            StreamLiterals::MessageData { above } | StreamLiterals::Any { above } => above,
        }
    }
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
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let length = literal_length(digits)?;
    if in_quoted(&line[..open]) {
        return None;
    }
    let binary = open > 0 && line[open - 1] == b'~';
    Some((length, mode, binary))
}

/// The length a literal header's digits give: one digit at least, and
/// as the parser reads `number64`, leading zeros whatever their number
/// (`{00000000000000000000}` is an empty literal); `None` past 19
/// significant digits. (The server session's skipped lines keep a header
/// with its leading zeros dropped for the same reason:
/// `server::input::keep_tail`.)
fn literal_length(digits: &[u8]) -> Option<u64> {
    let significant = &digits[digits.iter().take_while(|&&d| d == b'0').count()..];
    if digits.is_empty() || significant.len() > 19 {
        return None;
    }
    Some(
        significant
            .iter()
            .fold(0u64, |n, &d| n * 10 + u64::from(d - b'0')),
    )
}

/// Whether the end of `prefix` is inside a quoted string.
fn in_quoted(prefix: &[u8]) -> bool {
    quote_state(Quote::Outside, prefix) != Quote::Outside
}

/// Where a line stands with respect to quoted strings (which never span
/// lines), as [`literal_header`] reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Quote {
    Outside,
    Inside,
    /// Inside, after a backslash: the next octet is escaped.
    Escaped,
}

impl Quote {
    /// Octets that put a line in this state.
    pub(crate) fn mark(self, out: &mut Vec<u8>) {
        match self {
            Quote::Outside => {}
            Quote::Inside => out.push(b'"'),
            Quote::Escaped => out.extend_from_slice(b"\"\\"),
        }
    }
}

/// The state after `bytes`, from `state`.
pub(crate) fn quote_state(mut state: Quote, bytes: &[u8]) -> Quote {
    let mut i = 0;
    if state == Quote::Escaped {
        if bytes.is_empty() {
            return state;
        }
        state = Quote::Inside;
        i = 1;
    }
    while let Some(j) = memchr::memchr2(b'"', b'\\', &bytes[i..]) {
        let at = i + j;
        state = match (state, bytes[at]) {
            (Quote::Inside, b'\\') if at + 1 == bytes.len() => return Quote::Escaped,
            (Quote::Inside, b'\\') => {
                i = at + 2;
                continue;
            }
            // An escape only means something inside quotes.
            (_, b'\\') => state,
            (Quote::Outside, _) => Quote::Inside,
            _ => Quote::Outside,
        };
        i = at + 1;
    }
    state
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
        w.eq_ignore_ascii_case(b"OK") || w.eq_ignore_ascii_case(b"NO") || w.eq_ignore_ascii_case(b"BAD")
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
    /// How far the structure of a FETCH response has been followed, when
    /// the caller asked for it.
    msg_att: Option<MsgAttScan>,
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
    /// Framing from the start of a FETCH response (or, `mid_message`, of
    /// the rest of one after a streamed literal) that follows its
    /// structure to decide exactly which large literals are message data.
    pub(crate) fn following_fetch_structure(mid_message: bool) -> Progress {
        Progress {
            msg_att: Some(MsgAttScan::new(mid_message)),
            ..Progress::default()
        }
    }

    /// How many bytes of the message have been framed: a caller may drop
    /// nothing, but it knows how much of the input is known good.
    #[cfg(test)]
    pub(crate) fn framed(&self) -> usize {
        self.line_start
    }
}

/// Follows a FETCH response's `msg-att` just far enough to tell whether a
/// literal is the data of a message data item, and so may be streamed:
///
/// ```text
/// msg-att        = "(" (msg-att-dynamic / msg-att-static)
///                  *(SP (msg-att-dynamic / msg-att-static)) ")"
/// msg-att-static =/ "RFC822" [".HEADER" / ".TEXT"] SP nstring /
///                  "BODY" section ["<" number ">"] SP nstring /
///                  "BINARY" section-binary SP (nstring / literal8)
/// ```
///
/// Such a literal stands right inside `msg-att`'s parenthesis, after the
/// item's name; every other literal of a FETCH response is nested deeper
/// (an ENVELOPE's subject, a BODYSTRUCTURE's parameter, a header field name
/// in `BODY[HEADER.FIELDS (...)]`) or follows another name (`PREVIEW`, an
/// extension's). So it is enough to count parentheses outside quoted
/// strings and literal data, to know a section's brackets (whose spaces
/// separate nothing), and to remember where the last token right inside
/// `msg-att` started: at a literal, that is its item's name.
///
/// It runs when the reader asks for it (see [`ends_like_data_item_name`]
/// for when), and then only up to each literal above the streaming
/// threshold, resuming where it stopped: each byte of a response is
/// followed at most once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct MsgAttScan {
    /// The bytes before this have been followed.
    pos: usize,
    /// Parenthesis depth: `msg-att`'s own parenthesis is depth 1.
    depth: u32,
    /// Inside a section's brackets at depth 1.
    section: bool,
    /// Inside a quoted string.
    quoted: bool,
    /// The last byte followed at depth 1 ends a token (a space, or
    /// `msg-att`'s parenthesis): the next other byte starts one.
    boundary: bool,
    /// Where the last token at depth 1 started.
    token: usize,
}

impl MsgAttScan {
    /// At the start of a FETCH response, or (`mid_message`) right after a
    /// streamed literal, inside `msg-att`.
    fn new(mid_message: bool) -> Self {
        MsgAttScan {
            pos: 0,
            depth: u32::from(mid_message),
            section: false,
            quoted: false,
            boundary: false,
            token: 0,
        }
    }

    /// Whether the literal header at `header` (its `~` or `{`, outside any
    /// quoted string) is the data of a message data item.
    fn is_message_data(&mut self, input: &[u8], header: usize, config: &DecoderConfig) -> bool {
        self.follow(input, header);
        if self.depth != 1 || self.section || self.quoted || self.token > header {
            return false;
        }
        let name = &input[self.token..header];
        matches!(data_item_name(name, config), Ok((rest, _)) if rest.is_empty())
    }

    /// Follows the structure up to `end`, skipping the data of the
    /// literals on the way (all of it is in `input`: the framer has passed
    /// it).
    fn follow(&mut self, input: &[u8], end: usize) {
        let mut i = self.pos;
        #[cfg(test)]
        FOLLOWED.with(|f| f.set(f.get() + end.saturating_sub(i)));
        while i < end {
            let b = input[i];
            i += 1;
            if self.quoted {
                match b {
                    // A quoted string ends with its line, as in `in_quoted`.
                    b'"' | b'\n' => self.quoted = false,
                    b'\\' if input.get(i) != Some(&b'\n') => i += 1,
                    _ => {}
                }
                continue;
            }
            if self.depth == 1 && !self.section {
                if b == b' ' {
                    self.boundary = true;
                    continue;
                }
                if self.boundary {
                    self.boundary = false;
                    self.token = i - 1;
                }
            }
            match b {
                b'"' => self.quoted = true,
                b'(' => {
                    self.depth += 1;
                    self.boundary = self.depth == 1;
                }
                b')' => self.depth = self.depth.saturating_sub(1),
                b'[' if self.depth == 1 => self.section = true,
                b']' if self.depth == 1 => self.section = false,
                b'{' => {
                    if let Some(data_end) = literal_data_end(input, i) {
                        i = data_end;
                    }
                }
                _ => {}
            }
        }
        self.pos = self.pos.max(i);
    }
}

/// Whether a literal header after `before` may be the data of a message
/// data item: `before` ends with `]` (`BODY[...]`, `BINARY[...]`), `>` (an
/// origin) or `RFC822`, `RFC822.HEADER`, `RFC822.TEXT`, and spaces. Every
/// name [`data_item_name`] reads ends so; a literal after anything else
/// (`(`, `"`, `NIL`, a number, another item's name) is not message data.
fn ends_like_data_item_name(before: &[u8]) -> bool {
    let name = before.trim_ascii_end();
    if name.len() == before.len() {
        return false;
    }
    let ends_with = |suffix: &[u8]| {
        name.len() >= suffix.len() && name[name.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
    };
    matches!(name.last(), Some(b']' | b'>'))
        || ends_with(b"RFC822")
        || ends_with(b"RFC822.HEADER")
        || ends_with(b"RFC822.TEXT")
}

/// Whether the literal above the threshold whose header ends the line
/// `input[line_start..line_end]` is streamed: `Some(followed)` if so (see
/// [`Framed::Stream`]).
#[inline(never)]
fn stream_decision(
    stream: StreamLiterals,
    input: &[u8],
    line_start: usize,
    line_end: usize,
    progress: &mut Progress,
    config: &DecoderConfig,
) -> Option<bool> {
    if let StreamLiterals::Any { .. } = stream {
        return Some(false);
    }
    // The header (`{` or `~{`): `literal_header` found it there.
    let line = &input[line_start..line_end];
    let open = memchr::memrchr(b'{', line)?;
    let header = line_start + open - usize::from(open > 0 && line[open - 1] == b'~');
    match &mut progress.msg_att {
        Some(scan) => scan.is_message_data(input, header, config).then_some(true),
        None => ends_like_data_item_name(&input[line_start..header]).then_some(false),
    }
}

/// When `input[after - 1]` is the `{` of a literal header (which ends its
/// line, as [`literal_header`] requires), where the literal's data ends.
fn literal_data_end(input: &[u8], after: usize) -> Option<usize> {
    let rest = &input[after..];
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let length = literal_length(&rest[..digits])?;
    let mut at = digits;
    if rest.get(at) == Some(&b'+') {
        at += 1;
    }
    if rest.get(at) != Some(&b'}') {
        return None;
    }
    at += 1;
    if rest.get(at) == Some(&b'\r') {
        at += 1;
    }
    if rest.get(at) != Some(&b'\n') {
        return None;
    }
    let data_start = after + at + 1;
    Some(data_start.saturating_add(usize::try_from(length).unwrap_or(usize::MAX)))
}

#[cfg(test)]
thread_local! {
    /// Bytes searched for LF by this thread's framer, for the linearity
    /// tests.
    pub(crate) static SCANNED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    /// Bytes of FETCH structure followed by this thread's framer (literal
    /// data skipped included).
    pub(crate) static FOLLOWED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
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
                // Whether the octet past the limit has arrived depends on
                // the reads: the error names none.
                e.found = None;
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
        if let Some(stream) = options.stream {
            if length > stream.above() {
                if let Some(followed) = stream_decision(stream, input, start, end, progress, config) {
                    return Ok(Framed::Stream {
                        data_start: lf + 1,
                        length,
                        followed,
                    });
                }
            }
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

    proptest::proptest! {
        /// The quote state of a line is the same read whole, in two
        /// pieces or an octet at a time, is what a byte-by-byte reader of
        /// quoted strings gives, and a state's mark puts a line in it
        /// (what the server's skipped lines rely on).
        #[test]
        fn quote_state_is_the_same_however_the_line_is_cut(
            bytes in proptest::collection::vec(
                proptest::prop_oneof![
                    1 => proptest::prelude::any::<u8>(),
                    3 => proptest::sample::select(vec![b'"', b'\\', b'a', b'{']),
                ],
                0..40,
            ),
            cut in 0usize..41,
        ) {
            let cut = cut.min(bytes.len());
            let mut naive = Quote::Outside;
            for &b in &bytes {
                naive = match (naive, b) {
                    (Quote::Escaped, _) => Quote::Inside,
                    (Quote::Inside, b'\\') => Quote::Escaped,
                    (Quote::Inside, b'"') => Quote::Outside,
                    (Quote::Outside, b'"') => Quote::Inside,
                    (state, _) => state,
                };
            }
            let whole = quote_state(Quote::Outside, &bytes);
            proptest::prop_assert_eq!(whole, naive);
            let (a, b) = bytes.split_at(cut);
            proptest::prop_assert_eq!(quote_state(quote_state(Quote::Outside, a), b), whole);
            let octets = bytes.iter().fold(Quote::Outside, |s, b| quote_state(s, std::slice::from_ref(b)));
            proptest::prop_assert_eq!(octets, whole);
            let mut marked = Vec::new();
            whole.mark(&mut marked);
            proptest::prop_assert_eq!(quote_state(Quote::Outside, &marked), whole);
            proptest::prop_assert_eq!(in_quoted(&bytes), whole != Quote::Outside);
        }
    }

    fn cmd(input: &[u8]) -> Framed {
        frame(input, Side::Command, &DecoderConfig::STRICT).unwrap()
    }

    /// A literal's length with leading zeros, however many, is read as
    /// the parser reads it: `{00000000000000000000}` announces an empty
    /// literal, and the command goes on after it. The framer took 20 digits
    /// for no literal and ended the command at its line; the imap_command
    /// fuzz target found it with its errors required to resume after them.
    #[test]
    fn leading_zeros_of_a_literal_length_are_read_as_the_parser_reads_them() {
        let zeros = b"A1 LIST {00000000000000000000}\r\n";
        for config in [DecoderConfig::STRICT, DecoderConfig::default()] {
            assert_eq!(
                crate::decode_command(zeros, &config),
                Ok(crate::Decoded::Incomplete)
            );
            let whole = [&zeros[..], b" \"*\"\r\n"].concat();
            let Ok(crate::Decoded::Complete { value, consumed }) = crate::decode_command(&whole, &config)
            else {
                panic!("{:?}", crate::decode_command(&whole, &config))
            };
            assert_eq!((consumed, value.body.name()), (whole.len(), "LIST"));
        }
        assert_eq!(literal_length(b"0000000000000000000000000009"), Some(9));
        assert_eq!(
            literal_length(b"9999999999999999999"),
            Some(9_999_999_999_999_999_999)
        );
        assert_eq!(literal_length(b"10000000000000000000"), None);
        assert_eq!(literal_length(b""), None);
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
            stream: Some(StreamLiterals::MessageData { above: 4 }),
            ..FrameOptions::default()
        };
        let config = DecoderConfig::STRICT;
        let big = b"* 1 FETCH (UID 1 BODY[1] {3}\r\nabc BODY[] {4294967295}\r\nxyz";
        assert_eq!(
            frame_with(big, Side::Response, &config, options).unwrap(),
            Framed::Stream {
                data_start: 55,
                length: 4294967295,
                followed: false
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

    /// How the framer takes a literal of 5 bytes at the end of `input`
    /// with a threshold of 4: `Some(followed)` when streamed, `None` when
    /// framed in place. `follow`: following the structure from the start.
    fn decide(input: &[u8], mid_message: bool, follow: bool) -> Option<bool> {
        let options = FrameOptions {
            mid_message,
            stream: Some(StreamLiterals::MessageData { above: 4 }),
            ..FrameOptions::default()
        };
        let mut progress = if follow {
            Progress::following_fetch_structure(mid_message)
        } else {
            Progress::default()
        };
        match frame_resume(
            input,
            Side::Response,
            &DecoderConfig::STRICT,
            options,
            &mut progress,
        )
        .unwrap()
        {
            Framed::Stream {
                data_start,
                length,
                followed,
            } => {
                assert_eq!((data_start, length, followed), (input.len(), 5, follow));
                Some(followed)
            }
            Framed::Literal(a) => {
                assert_eq!((a.data_start, a.length), (input.len(), 5));
                None
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn only_message_data_streams() {
        let message_data = [
            &b"* 1 FETCH (BODY[] {5}\r\n"[..],
            b"* 1 FETCH (UID 1 BODY[HEADER.FIELDS (A \"B\" {2}\r\nCD)]<0> {5}\r\n",
            b"* 1 FETCH (BINARY[1] ~{5}\r\n",
            b"* 1 FETCH (RFC822.TEXT {5}\r\n",
            b"* 1 FETCH (rfc822 {5}\r\n",
            b"* 1 fetch (body[1.mime] {5}\r\n",
            // Literal data and quoted strings that look like structure.
            b"* 1 FETCH (ENVELOPE (NIL {4}\r\n)) \" NIL) BODY[] {5}\r\n",
            b"* 1 FETCH (ENVELOPE (\"(\\\"[\" NIL) BODY[] {5}\r\n",
            b"* 1 FETCH (PREVIEW {3}\r\n(((  BODY[] {5}\r\n",
        ];
        for input in message_data {
            let shown = String::from_utf8_lossy(input);
            // Followed, it is message data; unfollowed, a candidate.
            assert_eq!(decide(input, false, true), Some(true), "{shown}");
            assert_eq!(decide(input, false, false), Some(false), "{shown}");
        }
        // Not message data, and not even a candidate.
        for input in [
            &b"* 1 FETCH (ENVELOPE (NIL {5}\r\n"[..],
            b"* 1 FETCH (ENVELOPE (\"date\" {5}\r\n",
            b"* 1 FETCH (PREVIEW {5}\r\n",
            b"* 1 FETCH (X-EXT {5}\r\n",
            b"* 1 FETCH (BODY[HEADER.FIELDS ({5}\r\n",
            b"* 1 FETCH (BODY[HEADER.FIELDS (A {5}\r\n",
            b"* 1 FETCH (BODYSTRUCTURE (\"TEXT\" {5}\r\n",
            b"* 1 FETCH (BODY[] \"x\" {5}\r\n",
            b"* 1 FETCH (BODY[]{5}\r\n",
            b"* 1 FETCH (ENVELOPE (\"a) BODY[] \" {5}\r\n",
            // The bytes before it are literal data.
            b"* 1 FETCH (ENVELOPE ({8}\r\n BODY[] {5}\r\n",
        ] {
            let shown = String::from_utf8_lossy(input);
            assert_eq!(decide(input, false, true), None, "{shown}");
            assert_eq!(decide(input, false, false), None, "{shown}");
        }
        // Candidates by their last bytes that following the structure
        // finds inside another item.
        for input in [
            &b"* 1 FETCH (X-EXT (BODY[] {5}\r\n"[..],
            b"* 1 FETCH (X-EXT (a] {5}\r\n",
            b"* 1 FETCH (X-EXT (1 RFC822 {5}\r\n",
            b"* 1 FETCH (BODY[HEADER.FIELDS (A] {5}\r\n",
        ] {
            let shown = String::from_utf8_lossy(input);
            assert_eq!(decide(input, false, true), None, "{shown}");
            assert_eq!(decide(input, false, false), Some(false), "{shown}");
        }
        // After a streamed literal, the input starts inside msg-att.
        assert_eq!(decide(b" UID 3 BODY[2] {5}\r\n", true, true), Some(true));
        assert_eq!(
            decide(b" BODY[2] {2}\r\nab BODY[3] {5}\r\n", true, true),
            Some(true)
        );
        assert_eq!(decide(b" X-EXT (BODY[2] {5}\r\n", true, true), None);
        assert_eq!(decide(b" PREVIEW {5}\r\n", true, false), None);
        assert_eq!(decide(b" ENVELOPE (NIL {5}\r\n", true, false), None);
        // Skipping streams them all.
        let any = FrameOptions {
            mid_message: true,
            stream: Some(StreamLiterals::Any { above: 4 }),
            ..FrameOptions::default()
        };
        let r = frame_with(
            b" ENVELOPE (NIL {5}\r\n",
            Side::Response,
            &DecoderConfig::STRICT,
            any,
        );
        assert!(matches!(r, Ok(Framed::Stream { length: 5, .. })), "{r:?}");
    }

    #[test]
    fn ends_like_a_data_item_name() {
        for yes in [
            "BODY[] ",
            "BODY[1]<0> ",
            "x] ",
            "RFC822  ",
            "(rfc822.header ",
            "RFC822.TEXT ",
        ] {
            assert!(ends_like_data_item_name(yes.as_bytes()), "{yes}");
        }
        for no in [
            "BODY[]",
            "(",
            "NIL ",
            "\"x\" ",
            "PREVIEW ",
            "RFC822.SIZE ",
            "12 ",
            "",
        ] {
            assert!(!ends_like_data_item_name(no.as_bytes()), "{no}");
        }
    }

    #[test]
    fn following_fetch_structure_in_pieces_is_linear() {
        // Ten thousand literals above the threshold, none of them message
        // data, fed 7 bytes at a time while following the structure.
        let mut response = b"* 1 FETCH (UID 1".to_vec();
        for _ in 0..10_000 {
            response.extend_from_slice(b" X-EXT ({6}\r\n(x) \"\" a] {6}\r\n] {1}\r)");
        }
        response.extend_from_slice(b" BODY[] {6}\r\n");
        let config = DecoderConfig::STRICT;
        let options = FrameOptions {
            mid_message: false,
            stream: Some(StreamLiterals::MessageData { above: 5 }),
            ..FrameOptions::default()
        };
        FOLLOWED.with(|f| f.set(0));
        let mut progress = Progress::following_fetch_structure(false);
        let mut end = 0;
        let outcome = loop {
            end = (end + 7).min(response.len());
            match frame_resume(&response[..end], Side::Response, &config, options, &mut progress).unwrap() {
                Framed::Incomplete | Framed::Literal(_) => assert!(end < response.len()),
                other => break other,
            }
        };
        assert_eq!(
            outcome,
            Framed::Stream {
                data_start: response.len(),
                length: 6,
                followed: true
            }
        );
        let followed = FOLLOWED.with(|f| f.get());
        assert!(followed <= response.len(), "{followed} for {}", response.len());
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
        assert!(matches!(
            frame(b"A1 APPEND INBOX {40}\r\n", Side::Command, &config),
            Ok(Framed::Literal(_))
        ));
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

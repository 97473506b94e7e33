//! The home of [`Decoded`] and what goes with it; the explanation of this
//! part of the grammar is on that type, where the rendered documentation
//! shows it.

use std::fmt;

use crate::string::Tag;

/// How a literal is sent (RFC 9051 section 4.3, RFC 7888).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LiteralMode {
    /// `{n}`: the client waits for a continuation request.
    Sync,
    /// `{n+}`: the client does not wait (LITERAL+ / LITERAL-).
    NonSync,
}

/// A literal header seen while the literal data has not all arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiteralAnnouncement {
    /// The tag of the command that carries the literal, if the message is a
    /// tagged command.
    pub tag: Option<Tag<'static>>,
    /// The announced length in octets.
    pub length: u64,
    /// Synchronizing or not.
    pub mode: LiteralMode,
    /// `~{n}`: a literal8, which may hold NUL (RFC 3516).
    pub binary: bool,
    /// Offset in the input where the literal data starts (right after the
    /// header's CRLF). A server sends its continuation request once per
    /// offset; the same announcement comes back until the data is complete.
    pub data_start: usize,
}

/// The outcome of a decoder that did not fail.
///
/// Every decoder answers one of four things:
///
/// - [`Decoded::Complete`]: a value and how many bytes of the input it used;
/// - [`Decoded::Incomplete`]: the input is a valid prefix, feed more bytes;
/// - [`Decoded::LiteralAnnounced`], from the command decoders only: the
///   input ends inside a literal whose header `{n}` has arrived; a server
///   answers a synchronizing literal with a continuation request (or
///   refuses it) before the data comes. A server never waits for one, so
///   [`decode_response`](crate::decode_response) answers `Incomplete`
///   there;
/// - `Err(`[`DecodeError`]`)`: the input is not valid here.
///
/// Every prefix of a valid message is `Incomplete` (or, for a command,
/// `LiteralAnnounced`), never an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded<T> {
    /// A complete value, and the number of input bytes it used.
    Complete {
        /// The decoded value.
        value: T,
        /// How many bytes of the input the value used.
        consumed: usize,
    },
    /// The input is a valid prefix: more bytes are needed.
    Incomplete,
    /// The input ends inside a literal; see [`LiteralAnnouncement`].
    LiteralAnnounced(LiteralAnnouncement),
}

impl<T> Decoded<T> {
    /// Maps the value of a complete outcome.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Decoded<U> {
        match self {
            Decoded::Complete { value, consumed } => Decoded::Complete {
                value: f(value),
                consumed,
            },
            Decoded::Incomplete => Decoded::Incomplete,
            Decoded::LiteralAnnounced(a) => Decoded::LiteralAnnounced(a),
        }
    }

    /// The value and the bytes used, if complete.
    pub fn complete(self) -> Option<(T, usize)> {
        match self {
            Decoded::Complete { value, consumed } => Some((value, consumed)),
            _ => None,
        }
    }
}

/// What went wrong, in categories a caller can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The bytes do not follow the grammar.
    Syntax,
    /// A line is longer than the configured limit.
    LineTooLong {
        /// The limit in bytes.
        limit: usize,
    },
    /// A literal is larger than the configured limit; nothing was
    /// allocated for it. A server answers `tag NO [TOOBIG]` or `BAD`.
    LiteralTooLarge {
        /// The announced length.
        length: u64,
        /// The limit.
        limit: u64,
    },
    /// Parentheses, BODYSTRUCTURE parts or search keys nest deeper than the
    /// configured limit.
    TooDeep {
        /// The limit.
        limit: usize,
    },
    /// A list has more elements than the configured limit.
    TooMany {
        /// The limit.
        limit: usize,
    },
    /// A number does not fit its type, or is 0 where numbering starts at 1.
    NumberOutOfRange,
    /// A whole command or response (lines and literals together) is
    /// larger than the configured limit; nothing beyond the limit was
    /// buffered. A server answers `tag BAD` (or `NO [TOOBIG]` when a
    /// literal announced it) and skips the rest.
    MessageTooLarge {
        /// The limit in bytes.
        limit: u64,
    },
}

/// A decoding error: where it happened, what was expected, how to recover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// Byte offset in the decoder's input where the error was detected.
    pub offset: usize,
    /// What the decoder expected at `offset`.
    pub expected: &'static str,
    /// The byte found at `offset`, if any.
    pub found: Option<u8>,
    /// The category of the error.
    pub kind: ErrorKind,
    /// The tag of the message, when it could be read, so a server can
    /// answer `tag BAD`.
    pub tag: Option<Tag<'static>>,
    /// Bytes to discard to reach the start of the next message, when known;
    /// `None` when the end of the bad message is not in the input yet (the
    /// caller discards up to the next LF that is not inside a literal).
    pub resume_at: Option<usize>,
}

impl DecodeError {
    pub(crate) fn new(kind: ErrorKind, input: &[u8], offset: usize, expected: &'static str) -> Self {
        DecodeError {
            offset,
            expected,
            found: input.get(offset).copied(),
            kind,
            tag: None,
            resume_at: None,
        }
    }

    pub(crate) fn syntax(input: &[u8], offset: usize, expected: &'static str) -> Self {
        Self::new(ErrorKind::Syntax, input, offset, expected)
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            ErrorKind::Syntax => write!(f, "syntax error at offset {}", self.offset)?,
            ErrorKind::LineTooLong { limit } => {
                write!(f, "line longer than {limit} bytes at offset {}", self.offset)?
            }
            ErrorKind::LiteralTooLarge { length, limit } => write!(
                f,
                "literal of {length} bytes exceeds the limit of {limit} at offset {}",
                self.offset
            )?,
            ErrorKind::TooDeep { limit } => {
                write!(f, "nesting deeper than {limit} at offset {}", self.offset)?
            }
            ErrorKind::TooMany { limit } => {
                write!(f, "list longer than {limit} elements at offset {}", self.offset)?
            }
            ErrorKind::NumberOutOfRange => write!(f, "number out of range at offset {}", self.offset)?,
            ErrorKind::MessageTooLarge { limit } => write!(
                f,
                "message larger than the limit of {limit} bytes at offset {}",
                self.offset
            )?,
        }
        write!(f, ": expected {}", self.expected)?;
        match self.found {
            Some(b) if b.is_ascii_graphic() => write!(f, ", found '{}'", b as char),
            Some(b) => write!(f, ", found byte 0x{b:02X}"),
            None => Ok(()),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Size limits checked before anything is allocated.
///
/// Lines have a limit per direction: a server reads short commands and
/// keeps its per-connection memory small, while a client must take a
/// `* SEARCH`, `* SORT`, `* THREAD`, `* ESEARCH` or `* VANISHED` line that
/// lists every message of a large mailbox. The whole-message limits bound
/// everything a one-shot decoder buffers for one command or response, lines
/// and literals together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest line of a command (between literals), CRLF included. RFC
    /// 9051 section 4 sets no limit; RFC 2683 section 3.2.1.5 asks servers
    /// to take at least 8000 octets. The default, 64 KiB, is Dovecot's
    /// `imap_max_line_length`.
    pub command_line: usize,
    /// Longest line of a response, CRLF included. The default, 32 MiB,
    /// holds a `* SEARCH`, `* SORT`, `* THREAD` or `* VANISHED` of
    /// 1,000,000 messages with ten-digit UIDs (about 13 MB for the
    /// THREAD form, the longest).
    pub response_line: usize,
    /// Largest literal held in memory by the one-shot decoders.
    pub literal: u64,
    /// Largest whole command: its lines and literals together. Checked
    /// when a line ends or a literal is announced, before its data is
    /// waited for.
    pub command_message: u64,
    /// Largest whole response: its lines and literals together.
    pub response_message: u64,
    /// Deepest nesting of parentheses, BODYSTRUCTURE parts and search keys.
    pub depth: usize,
    /// Most elements in one list (flags, sequence set ranges, search keys,
    /// fetch items, numbers of a SEARCH response...).
    pub list: usize,
}

impl Limits {
    /// The default limits.
    pub const DEFAULT: Limits = Limits {
        command_line: 64 * 1024,
        response_line: 32 * 1024 * 1024,
        literal: 64 * 1024 * 1024,
        command_message: 80 * 1024 * 1024,
        response_message: 256 * 1024 * 1024,
        depth: 64,
        list: 1 << 20,
    };

    /// Sets both line limits (for tests and tools that read either side
    /// with one configuration).
    pub const fn with_line(mut self, line: usize) -> Limits {
        self.command_line = line;
        self.response_line = line;
        self
    }

    /// Sets both whole-message limits.
    pub const fn with_message(mut self, message: u64) -> Limits {
        self.command_message = message;
        self.response_message = message;
        self
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// Deviations from the RFCs that real servers and clients are known to
/// send. Runtime configuration, never a cargo feature.
///
/// The default is [`LENIENT`](Leniency::LENIENT), for clients and servers
/// alike: what real peers send is read.
///
/// # Encoding again what was decoded leniently
///
/// A proxy that decodes with these deviations and encodes what it
/// decoded sends the RFC form of nearly all of them: CRLF line ends, no
/// extra spaces, an empty text after the space where one was missing
/// (RFC 9051 allows it), the grammar's body structures and padded dates,
/// FLAGS without `\Recent` and `\*`, each URLFETCH item in parentheses
/// of its own. One passes through: a quoted string holding 8-bit bytes
/// that are not UTF-8 ([`eight_bit_quoted`](Leniency::eight_bit_quoted))
/// keeps its form, as every decoded string does, so it is written as it
/// came, which a strict peer refuses (RFC 9051 allows UTF-8 in quoted
/// strings, no other 8-bit bytes). A proxy in front of such a peer turns
/// that option off (the client gets a `BAD`) or writes those strings again
/// in their valid form, a literal:
///
/// ```
/// use mailwire_imap::{
///     AString, CommandBody, DecoderConfig, Decoded, LiteralPolicy, decode_command, to_bytes,
/// };
///
/// // A user name in Latin-1, in a quoted string.
/// let line = b"a1 LOGIN \"caf\xe9\" secret\r\n";
/// let Ok(Decoded::Complete { value: mut command, .. }) = decode_command(line, &DecoderConfig::default())
/// else {
///     panic!("decoded leniently");
/// };
/// assert_eq!(to_bytes(&command.encode(LiteralPolicy::SyncOnly)), line);
/// if let CommandBody::Login { username, .. } = &mut command.body {
///     *username = AString::from_bytes(username.as_bytes().to_vec())?;
/// }
/// assert_eq!(
///     to_bytes(&command.encode(LiteralPolicy::SyncOnly)),
///     b"a1 LOGIN {4}\r\ncaf\xe9 secret\r\n"
/// );
/// # Ok::<(), mailwire_imap::TypeError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leniency {
    /// Accept a bare LF as a line end.
    pub bare_lf: bool,
    /// Accept a space before `)` and after the last element of a line
    /// (Dovecot, Outlook).
    pub extra_spaces: bool,
    /// Accept a status response without text after it (`* OK` alone).
    pub missing_text: bool,
    /// Accept NIL where a body parameter string or list is required
    /// (Gmail, Yahoo, Mail.ru BODYSTRUCTURE).
    pub nil_in_body: bool,
    /// Accept 8-bit bytes in quoted strings without UTF8=ACCEPT
    /// (Exchange, Mail.ru).
    pub eight_bit_quoted: bool,
    /// Accept `\Recent` and `\*` in the FLAGS response, which the grammar
    /// keeps out of it (Zoho and GreenMail send `\*`); they are dropped.
    pub foreign_flags: bool,
    /// Accept BODYSTRUCTURE shapes outside the grammar: `()` as an empty
    /// parameter list (Mail.ru, Lotus Domino), a disposition sent as a
    /// bare string (Exchange: `"inline"`), a multipart without parts
    /// (Gmail: `("ALTERNATIVE")`, `(NIL "alternative" ...)`).
    pub malformed_body: bool,
    /// Accept a single-digit day without its padding space in a date-time
    /// (`"8-Mar-2023 12:16:47 +0800"` in INTERNALDATE, reported by Apple's
    /// swift-nio-imap users; imapflow sent it in APPEND).
    pub unpadded_day: bool,
    /// Accept the metadata items of an extended URLFETCH answer (RFC
    /// 5524) in one parenthesized list, `(BODYPARTSTRUCTURE ... BINARY
    /// ...)`, where the RFC gives each item parentheses of its own,
    /// `(BODYPARTSTRUCTURE ...) (BINARY ...)` (Dovecot 2.3, whose
    /// recorded session is in tests/traces/imap). Both decode to the same
    /// value; the encoder writes the RFC form.
    pub urlfetch_one_list: bool,
    /// Accept `BODYPARTSTRUCTURE NIL` in an extended URLFETCH answer,
    /// where RFC 5524 requires a body structure (Cyrus IMAP, which does
    /// not compute one); decoded as no structure.
    pub urlfetch_nil_structure: bool,
    /// Accept FETCH's `PREVIEW (FUZZY nstring)`, the form of the drafts
    /// before RFC 8970, as the RFC's `PREVIEW nstring` (older Dovecot 2.3
    /// builds, which advertise `PREVIEW=FUZZY` and answer PREVIEW like
    /// their SNIPPET; 2.3.19.1 answers in the RFC form).
    pub fuzzy_preview: bool,
}

impl Leniency {
    /// Accept only what the RFCs allow.
    pub const STRICT: Leniency = Leniency {
        bare_lf: false,
        extra_spaces: false,
        missing_text: false,
        nil_in_body: false,
        eight_bit_quoted: false,
        foreign_flags: false,
        malformed_body: false,
        unpadded_day: false,
        urlfetch_one_list: false,
        urlfetch_nil_structure: false,
        fuzzy_preview: false,
    };
    /// Accept every deviation this crate knows of.
    pub const LENIENT: Leniency = Leniency {
        bare_lf: true,
        extra_spaces: true,
        missing_text: true,
        nil_in_body: true,
        eight_bit_quoted: true,
        foreign_flags: true,
        malformed_body: true,
        unpadded_day: true,
        urlfetch_one_list: true,
        urlfetch_nil_structure: true,
        fuzzy_preview: true,
    };
}

impl Default for Leniency {
    fn default() -> Self {
        Leniency::LENIENT
    }
}

/// Configuration of the decoders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DecoderConfig {
    /// Size limits.
    pub limits: Limits,
    /// Accepted deviations.
    pub leniency: Leniency,
}

impl DecoderConfig {
    /// The RFC grammar only, with the default limits.
    pub const STRICT: DecoderConfig = DecoderConfig {
        limits: Limits::DEFAULT,
        leniency: Leniency::STRICT,
    };
}

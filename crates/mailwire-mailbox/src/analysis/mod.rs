//! Message analysis: ENVELOPE, BODYSTRUCTURE / BODY, `BODY[section]` and
//! `BINARY[section]` (RFC 3501, RFC 9051, RFC 3516) computed from the raw
//! bytes of a message, in plain types of this crate that an IMAP server
//! adapts to its wire types.
//!
//! The results match what Dovecot 2.3 returns for the same messages, byte
//! for byte; the corpus under `tests/corpus/` holds Dovecot's answers and the
//! script that regenerates them. The Dovecot behaviour this reproduces is
//! described on the modules' items: [`Envelope`] (string rules), [`Address`]
//! (splitting, placeholders, groups), [`Param`] (RFC 2231 handling),
//! [`BodyStructure`] (defaults and MIME splitting), [`extract_section`] and
//! [`decode_binary`].
//!
//! Everything borrows from the message: header strings are `Cow::Borrowed`
//! unless unquoting or unfolding changed them, and sections are slices of the
//! message except `HEADER.FIELDS` and `BINARY` of encoded parts.
//!
//! Hostile input is bounded: multipart and message/rfc822 nesting is limited
//! by [`AnalysisOptions::max_depth`] and the number of parts by
//! [`AnalysisOptions::max_parts`]; the parser is iterative and linear in the
//! size of the message (boundary lines are found with memchr/memmem, every
//! byte is counted once for sizes and line counts).
//!
//! ```
//! use mailwire_mailbox::analysis::{analyze, extract_section, BodyKind, Section, SectionText};
//!
//! let raw = b"From: Ann <ann@example.org>\r\nSubject: Hi\r\n\r\nHello\r\n";
//! let msg = analyze(raw);
//! assert_eq!(msg.envelope().subject.as_deref(), Some(&b"Hi"[..]));
//! assert_eq!(msg.envelope().sender[0].mailbox.as_deref(), Some(&b"ann"[..]));
//! assert!(matches!(msg.body_structure().kind, BodyKind::Text { lines: 1 }));
//! let text = Section { part: vec![], text: Some(SectionText::Text) };
//! assert_eq!(extract_section(&msg, &text, None).as_deref(), Some(&b"Hello\r\n"[..]));
//! ```

pub(crate) mod address;
mod binary;
mod envelope;
pub(crate) mod header;
mod lexer;
mod mime;
mod section;
mod structure;

pub use address::{Address, MISSING_DOMAIN, MISSING_MAILBOX};
pub use binary::{BinaryContent, BinaryError, binary_size, decode_binary};
pub use envelope::Envelope;
pub use header::humanize;
pub use mime::{Disposition, Param};
pub use section::{Partial, Section, SectionText, extract_section, find_part, to_crlf};
pub use structure::{BodyFields, BodyKind, BodyStructure};

/// Limits and behaviour of [`analyze_with`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalysisOptions {
    /// Deepest nesting of multiparts and message/rfc822 parts that is
    /// parsed (default 100, as Dovecot). A deeper multipart has no parts and
    /// a deeper message/rfc822 an empty embedded message; their bodies stay
    /// opaque. Values above [`AnalysisOptions::MAX_DEPTH`] are lowered to it,
    /// because the result tree and its users recurse.
    pub max_depth: usize,
    /// Most parts parsed in one message (default 10,000, as Dovecot); later
    /// boundaries of the multipart that reaches it are ignored.
    pub max_parts: usize,
    /// Count each bare LF as CRLF in sizes (default true): right for a
    /// server that sends messages with CRLF line ends, as IMAP requires and
    /// Dovecot does (see [`to_crlf`]).
    pub count_lf_as_crlf: bool,
}

impl AnalysisOptions {
    /// Highest accepted [`AnalysisOptions::max_depth`].
    pub const MAX_DEPTH: usize = 1000;
}

impl Default for AnalysisOptions {
    fn default() -> Self {
        AnalysisOptions {
            max_depth: 100,
            max_parts: 10_000,
            count_lf_as_crlf: true,
        }
    }
}

/// The analysis of one message: its envelope and body structure, tied to the
/// message bytes for section extraction.
#[derive(Debug, Clone)]
pub struct MessageAnalysis<'a> {
    raw: &'a [u8],
    envelope: Envelope<'a>,
    body: BodyStructure<'a>,
    size: u64,
}

impl<'a> MessageAnalysis<'a> {
    /// The message the analysis was made from.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// The ENVELOPE of the message.
    pub fn envelope(&self) -> &Envelope<'a> {
        &self.envelope
    }

    /// The BODYSTRUCTURE (and BODY, without extension data) of the message.
    pub fn body_structure(&self) -> &BodyStructure<'a> {
        &self.body
    }

    /// RFC822.SIZE: the message size, bare LFs counted as CRLF unless
    /// [`AnalysisOptions::count_lf_as_crlf`] was turned off.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Splits into the envelope and the body structure.
    pub fn into_parts(self) -> (Envelope<'a>, BodyStructure<'a>) {
        (self.envelope, self.body)
    }
}

/// Analyzes a message with the default [`AnalysisOptions`].
pub fn analyze(raw: &[u8]) -> MessageAnalysis<'_> {
    analyze_with(raw, &AnalysisOptions::default())
}

/// Analyzes a message with the given options.
pub fn analyze_with<'a>(raw: &'a [u8], options: &AnalysisOptions) -> MessageAnalysis<'a> {
    let mut opts = options.clone();
    opts.max_depth = opts.max_depth.min(AnalysisOptions::MAX_DEPTH);
    let (envelope, body, size) = structure::parse(raw, &opts);
    MessageAnalysis {
        raw,
        envelope,
        body,
        size,
    }
}

#[cfg(test)]
mod tests;

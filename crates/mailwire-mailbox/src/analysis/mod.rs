//! Message analysis: ENVELOPE, BODYSTRUCTURE / BODY, `BODY[section]` and
//! `BINARY[section]` (RFC 3501, RFC 9051, RFC 3516) computed from the raw
//! bytes of a message, in mailwire-imap's types: [`Envelope`] and
//! [`BodyStructure`] are what a FETCH response carries, and sections are
//! named by mailwire-imap's [`Section`], [`SectionPart`] and [`Partial`],
//! as a FETCH command names them.
//!
//! The results match what Dovecot 2.3 returns for the same messages, byte
//! for byte once encoded by mailwire-imap's encoder: each string is made in
//! the form (quoted or literal) that Dovecot sends it in, and the encoder
//! keeps it. The corpus under `tests/corpus/` holds Dovecot's answers and
//! the script that regenerates them. The Dovecot behaviour this reproduces
//! is described on the modules: the envelope's string rules and address
//! splitting (placeholders [`MISSING_MAILBOX`] and [`MISSING_DOMAIN`],
//! groups), MIME parameters (RFC 2231 handling), body structure defaults
//! and MIME splitting, [`extract_section`] and [`decode_binary`].
//!
//! Where each part is in the message is the model's own [`Part`] tree,
//! which has no IMAP counterpart ([`MessageAnalysis::part_tree`]).
//!
//! Everything borrows from the message: header strings are borrowed unless
//! unquoting or unfolding changed them, and sections are slices of the
//! message except `HEADER.FIELDS` and `BINARY` of encoded parts.
//!
//! Hostile input is bounded: multipart and message/rfc822 nesting is limited
//! by [`AnalysisOptions::max_depth`] and the number of parts by
//! [`AnalysisOptions::max_parts`]; the parser is iterative and linear in the
//! size of the message (boundary lines are found with memchr/memmem, every
//! byte is counted once for sizes and line counts).
//!
//! ```
//! use mailwire_imap::{BodyStructure, Section, SectionText, SpecificFields};
//! use mailwire_mailbox::analysis::{analyze, extract_section};
//!
//! let raw = b"From: Ann <ann@example.org>\r\nSubject: Hi\r\n\r\nHello\r\n";
//! let msg = analyze(raw);
//! assert_eq!(msg.envelope().subject.as_bytes(), Some(&b"Hi"[..]));
//! assert_eq!(msg.envelope().sender[0].mailbox.as_bytes(), Some(&b"ann"[..]));
//! assert!(matches!(
//!     msg.body_structure(),
//!     BodyStructure::Single { specific: SpecificFields::Text { lines: 1 }, .. }
//! ));
//! let text = Section::new(None, Some(SectionText::Text))?;
//! assert_eq!(extract_section(&msg, &text, None).as_deref(), Some(&b"Hello\r\n"[..]));
//!
//! // The FETCH response, in Dovecot's form.
//! assert_eq!(
//!     msg.envelope().subject.to_string(),
//!     "\"Hi\"",
//! );
//! # Ok::<(), mailwire_imap::TypeError>(())
//! ```

pub(crate) mod address;
mod binary;
mod envelope;
pub(crate) mod header;
mod lexer;
mod mime;
mod pieces;
mod preview;
mod section;
mod source;
mod stored;
mod structure;
mod wire;

pub use address::{MISSING_DOMAIN, MISSING_MAILBOX};
pub use binary::{BinaryContent, BinaryError, binary_size, decode_binary};
pub use header::humanize;
pub use mailwire_imap::{
    Address, BodyFields, BodyStructure, Disposition, Envelope, Partial, Section, SectionPart, SectionText,
};
pub use pieces::{Content, Measure};
pub(crate) use preview::strip_markup;
pub use preview::{PREVIEW_CHARS, preview};
pub use section::{apply_partial, extract_section, find_part, to_crlf};
pub use stored::{StoredLayout, StoredMessage};
pub use structure::{MAX_BOUNDARY, Part, PartKind};
pub(crate) use structure::{TransferEncoding, leaves};

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

/// The analysis of one message: its envelope, body structure and part
/// tree, tied to the message bytes for section extraction.
#[derive(Debug, Clone)]
pub struct MessageAnalysis<'a> {
    raw: &'a [u8],
    envelope: Envelope<'a>,
    body: BodyStructure<'a>,
    part: Part,
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

    /// The BODYSTRUCTURE of the message, with every extension field.
    pub fn body_structure(&self) -> &BodyStructure<'a> {
        &self.body
    }

    /// The BODY of the message: its BODYSTRUCTURE without extension data.
    pub fn body(&self) -> BodyStructure<'a> {
        structure::without_extensions(&self.body)
    }

    /// Where each part is in the message.
    pub fn part_tree(&self) -> &Part {
        &self.part
    }

    /// RFC822.SIZE: the message size, bare LFs counted as CRLF unless
    /// [`AnalysisOptions::count_lf_as_crlf`] was turned off.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Splits into the envelope and the body structure (BODYSTRUCTURE).
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
    let (envelope, part, body, size) = structure::parse(&raw, &opts);
    MessageAnalysis {
        raw,
        envelope,
        body,
        part,
        size,
    }
}

#[cfg(test)]
mod tests;

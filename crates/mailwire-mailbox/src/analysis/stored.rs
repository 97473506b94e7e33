//! A message analysed in a file, read a page at a time: the ENVELOPE,
//! BODYSTRUCTURE and part tree of [`analyze`](super::analyze), and
//! sections and BINARY sections that are read from the file as they are
//! sent ([`Content`]), so that a large message is never held whole.
//!
//! The file is seen with every bare LF turned into CRLF, as a server sends
//! it: the results equal those of [`analyze`](super::analyze),
//! [`extract_section`](super::extract_section) (then
//! [`to_crlf`](super::to_crlf)) and [`decode_binary`](super::decode_binary)
//! for the message with CRLF line ends. Memory is bounded by the part
//! tree, one page, and header blocks, which are copied to be read; a
//! header block larger than 1 MiB, or header blocks adding up to more
//! than 16 MiB, make [`StoredMessage::open`] fail.
//!
//! ```
//! use std::io::{Read, Write};
//! use mailwire_imap::{Section, SectionPart};
//! use mailwire_mailbox::analysis::StoredMessage;
//!
//! let raw = b"Subject: Hi\nContent-Type: multipart/mixed; boundary=b\n\n--b\n\
//!             Content-Transfer-Encoding: base64\n\naGVsbG8=\n--b--\n";
//! let mut file = tempfile::tempfile()?;
//! file.write_all(raw)?;
//! let msg = StoredMessage::open(file, raw.len() as u64)?;
//! assert_eq!(msg.envelope().subject.as_bytes(), Some(&b"Hi"[..]));
//! let part = SectionPart::new(vec![1.try_into()?])?;
//! let mut content = msg.binary(Some(&part), None)?.expect("part 1 decodes");
//! assert_eq!(content.measure()?.len, 5);
//! let mut text = Vec::new();
//! content.read_to_end(&mut text)?;
//! assert_eq!(text, b"hello");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fs::File;
use std::io;

use mailwire_imap::{BodyStructure, Envelope, Partial, Section, SectionPart};

use super::AnalysisOptions;
use super::binary::{BinaryError, binary_pieces};
use super::pieces::{Content, Piece};
use super::preview::preview_part;
use super::section::section_pieces;
use super::source::{FileMap, FileSource};
use super::structure::{self, Part};

/// What [`StoredMessage::open`] found of a message, without its file
/// ([`StoredMessage::layout`]): a server keeps it to read sections of the
/// same message again without analysing it again.
#[derive(Debug, Clone)]
pub struct StoredLayout {
    map: FileMap,
    found: Found,
}

/// What the analysis of a message found.
#[derive(Debug, Clone)]
struct Found {
    envelope: Envelope<'static>,
    body: BodyStructure<'static>,
    part: Part,
    size: u64,
}

impl StoredLayout {
    /// The message's ENVELOPE.
    pub fn envelope(&self) -> &Envelope<'static> {
        &self.found.envelope
    }

    /// The message's BODYSTRUCTURE.
    pub fn body_structure(&self) -> &BodyStructure<'static> {
        &self.found.body
    }

    /// Where each part is in the message's CRLF view, as
    /// [`StoredMessage::part_tree`] said: what a server needs to weigh a
    /// request (what decoding a part costs) before it opens the file again.
    pub fn part_tree(&self) -> &Part {
        &self.found.part
    }

    /// About how much memory it takes, the ENVELOPE and BODYSTRUCTURE
    /// left out (a cache weighs them with the header they repeat).
    pub fn weight(&self) -> usize {
        fn part(p: &Part) -> usize {
            std::mem::size_of::<Part>() + p.children().iter().map(part).sum::<usize>()
        }
        self.map.weight() + part(&self.found.part)
    }
}

/// A message analysed in a file (see the module documentation).
pub struct StoredMessage {
    source: FileSource,
    found: Found,
}

impl std::fmt::Debug for StoredMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredMessage")
            .field("part", &self.found.part)
            .field("size", &self.found.size)
            .finish_non_exhaustive()
    }
}

impl StoredMessage {
    /// Analyses the first `len` octets of `file` (its size) with the
    /// default [`AnalysisOptions`].
    pub fn open(file: File, len: u64) -> io::Result<StoredMessage> {
        StoredMessage::open_with(file, len, &AnalysisOptions::default())
    }

    /// Analyses the first `len` octets of `file` with the given options;
    /// sizes are those of the CRLF view whatever
    /// [`AnalysisOptions::count_lf_as_crlf`] says. Fails on a read error,
    /// a file shorter than `len`, a header block larger than 1 MiB, or
    /// header blocks adding up to more than 16 MiB.
    pub fn open_with(file: File, len: u64, options: &AnalysisOptions) -> io::Result<StoredMessage> {
        let source = FileSource::open(file, len)?;
        let mut opts = options.clone();
        opts.max_depth = opts.max_depth.min(AnalysisOptions::MAX_DEPTH);
        let (envelope, part, body, size) = structure::parse(&source, &opts);
        if let Some(e) = source.error() {
            return Err(e);
        }
        Ok(StoredMessage {
            source,
            found: Found {
                envelope,
                body,
                part,
                size,
            },
        })
    }

    /// The ENVELOPE of the message.
    pub fn envelope(&self) -> &Envelope<'static> {
        &self.found.envelope
    }

    /// The BODYSTRUCTURE of the message, with every extension field.
    pub fn body_structure(&self) -> &BodyStructure<'static> {
        &self.found.body
    }

    /// The BODY of the message: its BODYSTRUCTURE without extension data.
    pub fn body(&self) -> BodyStructure<'static> {
        structure::without_extensions(&self.found.body)
    }

    /// Where each part is in the message's CRLF view.
    pub fn part_tree(&self) -> &Part {
        &self.found.part
    }

    /// RFC822.SIZE: the length of the message with CRLF line ends.
    pub fn size(&self) -> u64 {
        self.found.size
    }

    /// `BODY[section]<partial>`, to be read from the file; `None` when the
    /// section does not exist (Dovecot then sends an empty string).
    pub fn section(&self, section: &Section<'_>, partial: Option<&Partial>) -> io::Result<Option<Content>> {
        let Some(pieces) = section_pieces(&self.source, &self.found.part, section) else {
            return Ok(None);
        };
        self.checked()?;
        Ok(Some(Content::new(
            self.source.try_clone()?,
            pieces,
            false,
            partial,
        )))
    }

    /// `BINARY[part]<partial>` (`BINARY[]` for `None`), to be read from
    /// the file; the inner error says why the section cannot be made (a
    /// decoding error is met when it is read).
    pub fn binary(
        &self,
        part: Option<&SectionPart>,
        partial: Option<&Partial>,
    ) -> io::Result<Result<Content, BinaryError>> {
        let (pieces, decoded) = match binary_pieces(&self.source, &self.found.part, part) {
            Ok(p) => p,
            Err(e) => return Ok(Err(e)),
        };
        self.checked()?;
        Ok(Ok(Content::new(
            self.source.try_clone()?,
            pieces,
            decoded,
            partial,
        )))
    }

    /// The PREVIEW of the message (see [`preview`](super::preview)): its
    /// text part is read from the file, and only that part is held.
    pub fn preview(&self) -> io::Result<String> {
        let Some(chosen) = preview_part(&self.found.part, &self.found.body) else {
            return Ok(String::new());
        };
        Ok(chosen.preview(&self.read_range(chosen.part.body_range())?))
    }

    /// The octets of `range` of the message's CRLF view, read from the
    /// file.
    pub(crate) fn read_range(&self, range: std::ops::Range<usize>) -> io::Result<Vec<u8>> {
        let mut content = Content::new(
            self.source.try_clone()?,
            vec![Piece::Copy(range.clone())],
            false,
            None,
        );
        let mut out = Vec::with_capacity(range.len());
        io::Read::read_to_end(&mut content, &mut out)?;
        Ok(out)
    }

    /// What the analysis found, without the file: kept, it opens the same
    /// message again ([`StoredMessage::reopen`]) without reading it.
    pub fn layout(&self) -> StoredLayout {
        StoredLayout {
            map: self.source.map(),
            found: self.found.clone(),
        }
    }

    /// The message in `file` (the first `len` octets) as an earlier
    /// analysis of the same content found it: nothing is read until a
    /// section is. The content must be the same (a Maildir message's
    /// never changes); a length other than the layout's is an error.
    pub fn reopen(file: File, len: u64, layout: &StoredLayout) -> io::Result<StoredMessage> {
        if usize::try_from(len).ok() != Some(layout.map.raw_len) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the file's length is not the analysed message's",
            ));
        }
        Ok(StoredMessage {
            source: FileSource::with_map(file, layout.map.clone()),
            found: layout.found.clone(),
        })
    }

    fn checked(&self) -> io::Result<()> {
        match self.source.error() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

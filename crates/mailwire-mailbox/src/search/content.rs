//! The searchable text of one message, computed lazily: header keys read
//! only the top header block, body keys parse the MIME tree, and every
//! piece is decoded and folded once however many keys use it.

use std::borrow::Cow;
use std::cell::OnceCell;

use crate::analysis::address::{Address, parse_address_list};
use crate::analysis::header::Fields;
use crate::analysis::{
    MISSING_DOMAIN, MISSING_MAILBOX, MessageAnalysis, Part, StoredMessage, TransferEncoding, analyze, leaves,
};

use mailwire_imap::{BodyStructure, Date};

use super::date::parse_date_header;
use super::text::{Needle, base64, decode_header_value, fold, fold_into, quoted_printable, to_utf8};

/// One field of the top header block.
struct Field<'r> {
    name: &'r [u8],
    value: &'r [u8],
    /// The decoded value, folded.
    folded: OnceCell<String>,
}

impl Field<'_> {
    fn folded(&self) -> &str {
        self.folded.get_or_init(|| fold(&decode_header_value(self.value)))
    }
}

/// A message being searched.
pub(crate) struct Doc<'r> {
    /// The message, or the top header block of a message in its file.
    raw: &'r [u8],
    /// The message in its file: its tree, and its parts read from there.
    stored: Option<&'r StoredMessage>,
    fields: OnceCell<Vec<Field<'r>>>,
    analysis: OnceCell<MessageAnalysis<'r>>,
    /// The decoded, folded text of each text part.
    bodies: OnceCell<Vec<String>>,
    /// Every header block below the top one (MIME part headers and the
    /// headers of embedded messages) as `name: value` lines, decoded and
    /// folded.
    part_headers: OnceCell<String>,
    /// The top header block as `name: value` lines, decoded and folded.
    top_header: OnceCell<String>,
}

impl<'r> Doc<'r> {
    pub(crate) fn new(raw: &'r [u8]) -> Doc<'r> {
        Doc {
            raw,
            stored: None,
            fields: OnceCell::new(),
            analysis: OnceCell::new(),
            bodies: OnceCell::new(),
            part_headers: OnceCell::new(),
            top_header: OnceCell::new(),
        }
    }

    /// A message analysed in its file, whose top header block is `header`.
    pub(crate) fn stored(msg: &'r StoredMessage, header: &'r [u8]) -> Doc<'r> {
        Doc {
            stored: Some(msg),
            ..Doc::new(header)
        }
    }

    /// The part tree and what BODYSTRUCTURE says of each part.
    fn tree(&self) -> (&Part, &BodyStructure<'_>) {
        match self.stored {
            Some(msg) => (msg.part_tree(), msg.body_structure()),
            None => {
                let a = self.analysis();
                (a.part_tree(), a.body_structure())
            }
        }
    }

    /// The octets of `range` of the message. A read error of a message in
    /// its file gives nothing: the part does not match.
    fn bytes(&self, range: std::ops::Range<usize>) -> Cow<'r, [u8]> {
        match self.stored {
            Some(msg) => Cow::Owned(msg.read_range(range).unwrap_or_default()),
            None => Cow::Borrowed(self.raw.get(range).unwrap_or_default()),
        }
    }

    fn fields(&self) -> &[Field<'r>] {
        self.fields.get_or_init(|| {
            Fields::new(self.raw, 0, self.raw.len())
                .filter_map(|f| {
                    Some(Field {
                        name: f.name,
                        value: f.value?,
                        folded: OnceCell::new(),
                    })
                })
                .collect()
        })
    }

    fn named<'s>(&'s self, name: &'s [u8]) -> impl Iterator<Item = &'s Field<'r>> + 's {
        self.fields()
            .iter()
            .filter(move |f| f.name.eq_ignore_ascii_case(name))
    }

    /// HEADER, SUBJECT: a field of the top header with that name whose
    /// decoded value contains the needle (any such field when the needle is
    /// empty).
    pub(crate) fn header_contains(&self, name: &[u8], needle: &Needle) -> bool {
        self.named(name)
            .any(|f| needle.is_empty() || needle.in_folded(f.folded()))
    }

    /// FROM, TO, CC, BCC: a field of that name whose decoded value contains
    /// the needle, or one of whose addresses does in the form `display name
    /// <local@domain>` (display name decoded and unquoted, without it when
    /// absent; a group by its name).
    pub(crate) fn address_contains(&self, name: &[u8], needle: &Needle) -> bool {
        self.named(name).any(|f| {
            if needle.is_empty() || needle.in_folded(f.folded()) {
                return true;
            }
            let mut list = Vec::new();
            parse_address_list(f.value, &mut list);
            list.iter().any(|a| needle.in_folded(&fold(&address_text(a))))
        })
    }

    /// The date of the last `Date:` field (the one ENVELOPE shows), if it
    /// parses.
    pub(crate) fn sent_date(&self) -> Option<Date> {
        let field = self.named(b"date").last()?;
        parse_date_header(field.value).map(|d| d.date)
    }

    fn analysis(&self) -> &MessageAnalysis<'r> {
        self.analysis.get_or_init(|| analyze(self.raw))
    }

    /// BODY: the decoded text of a text part contains the needle.
    pub(crate) fn body_contains(&self, needle: &Needle) -> bool {
        if needle.is_empty() {
            return true;
        }
        let bodies = self.bodies.get_or_init(|| text_parts(self));
        bodies.iter().any(|b| needle.in_folded(b))
    }

    /// TEXT: the top header, a part header or a text part contains the
    /// needle.
    pub(crate) fn text_contains(&self, needle: &Needle) -> bool {
        if needle.is_empty() {
            return true;
        }
        let top = self.top_header.get_or_init(|| {
            let mut out = String::new();
            for f in self.fields() {
                header_line(f.name, f.folded(), &mut out);
            }
            out
        });
        if needle.in_folded(top) || self.body_contains(needle) {
            return true;
        }
        let parts = self.part_headers.get_or_init(|| {
            let mut out = String::new();
            for node in nodes(self.tree().0).into_iter().skip(1) {
                let header = self.bytes(node.header_range());
                for f in Fields::new(&header, 0, header.len()) {
                    if let Some(value) = f.value {
                        header_line(f.name, &fold(&decode_header_value(value)), &mut out);
                    }
                }
            }
            out
        });
        needle.in_folded(parts)
    }
}

/// Appends `name: value` and a line end, the name folded.
fn header_line(name: &[u8], folded_value: &str, out: &mut String) {
    fold_into(&String::from_utf8_lossy(name), out);
    out.push_str(": ");
    out.push_str(folded_value);
    out.push('\n');
}

/// `display name <local@domain>` of an envelope address, without the
/// placeholders of broken addresses.
fn address_text(a: &Address<'_>) -> String {
    let mut out = String::new();
    if let Some(name) = a.name.as_deref() {
        out.push_str(&decode_header_value(name));
    }
    let mailbox = a.mailbox.as_deref().filter(|m| *m != MISSING_MAILBOX);
    let host = a.host.as_deref().filter(|h| *h != MISSING_DOMAIN);
    if a.is_group_start() {
        if let Some(group) = mailbox {
            out.push_str(&decode_header_value(group));
        }
        return out;
    }
    if mailbox.is_some() || host.is_some() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push('<');
        out.push_str(&String::from_utf8_lossy(mailbox.unwrap_or_default()));
        out.push('@');
        out.push_str(&String::from_utf8_lossy(host.unwrap_or_default()));
        out.push('>');
    }
    out
}

/// Every node of the tree, the root first (iteratively: the tree is as
/// deep as the analysis allowed).
fn nodes(root: &Part) -> Vec<&Part> {
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(node) = stack.pop() {
        out.push(node);
        stack.extend(node.children().iter().rev());
    }
    out
}

/// The decoded, folded text of every leaf whose type is `text/*` or a
/// `message/*` that is not parsed as a message (RFC 9051 lets a server skip
/// the others), in any multipart or embedded message/rfc822.
fn text_parts(doc: &Doc<'_>) -> Vec<String> {
    let mut out = Vec::new();
    let (root, structure) = doc.tree();
    for (part, body) in leaves(root, structure) {
        let mailwire_imap::BodyStructure::Single {
            media_type, fields, ..
        } = body
        else {
            continue;
        };
        let kind = media_type.as_bytes();
        if !kind.eq_ignore_ascii_case(b"text") && !kind.eq_ignore_ascii_case(b"message") {
            continue;
        }
        let body = doc.bytes(part.body_range());
        let octets: Cow<'_, [u8]> = match part.transfer_encoding {
            TransferEncoding::Base64 => Cow::Owned(base64(&body)),
            TransferEncoding::QuotedPrintable => quoted_printable(&body),
            TransferEncoding::Identity | TransferEncoding::Unknown => Cow::Borrowed(&body),
        };
        out.push(fold(&to_utf8(&octets, fields.param("charset"))));
    }
    out
}

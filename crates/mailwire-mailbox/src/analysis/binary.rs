//! `BINARY[section]` and `BINARY.SIZE[section]` (RFC 3516): content with its
//! Content-Transfer-Encoding removed.
//!
//! base64 and quoted-printable are decoded with the `mail-parser` crate's
//! decoders; 7bit, 8bit and binary (and no header at all) are identity and
//! borrow from the message. Any other encoding, including an empty
//! Content-Transfer-Encoding header, is [`BinaryError::UnknownCte`], which a
//! server answers with `NO [UNKNOWN-CTE]`.
//!
//! For a multipart or message/rfc822 section (and `BINARY[]`), Dovecot sends
//! the section with every encoded part inside it decoded and that part's
//! Content-Transfer-Encoding header moved to the end of its header as
//! `Content-Transfer-Encoding: binary`; this does the same.

use std::borrow::Cow;
use std::fmt;

use mail_parser::decoders::base64::base64_decode;
use mail_parser::decoders::quoted_printable::quoted_printable_decode;

use mailwire_imap::SectionPart;

use super::MessageAnalysis;
use super::header::Fields;
use super::section::find_part;
use super::structure::{Part, TransferEncoding};

/// Why a BINARY section cannot be produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryError {
    /// The part number does not address a part.
    NoSuchPart,
    /// A Content-Transfer-Encoding this cannot decode (`NO [UNKNOWN-CTE]`).
    UnknownCte,
    /// base64 or quoted-printable content that does not decode.
    InvalidContent,
}

impl fmt::Display for BinaryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BinaryError::NoSuchPart => "no such body part",
            BinaryError::UnknownCte => "unknown Content-Transfer-Encoding",
            BinaryError::InvalidContent => "content does not match its Content-Transfer-Encoding",
        })
    }
}

impl std::error::Error for BinaryError {}

/// Decoded content of a BINARY section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinaryContent<'a> {
    /// The octets.
    pub data: Cow<'a, [u8]>,
    /// True when something was decoded (Dovecot then sends a `~{n}`
    /// literal8, whatever the octets).
    pub decoded: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Cte {
    Identity,
    Base64,
    QuotedPrintable,
}

fn cte(part: &Part) -> Result<Cte, BinaryError> {
    match part.transfer_encoding {
        TransferEncoding::Identity => Ok(Cte::Identity),
        TransferEncoding::Base64 => Ok(Cte::Base64),
        TransferEncoding::QuotedPrintable => Ok(Cte::QuotedPrintable),
        TransferEncoding::Unknown => Err(BinaryError::UnknownCte),
    }
}

fn children(part: &Part) -> &[Part] {
    part.children()
}

/// Whether anything under `part` (its body) needs decoding; errors on an
/// unknown encoding of a leaf.
fn body_needs_decoding(part: &Part) -> Result<bool, BinaryError> {
    let kids = children(part);
    if kids.is_empty() {
        return Ok(cte(part)? != Cte::Identity);
    }
    let mut any = false;
    for k in kids {
        any |= body_needs_decoding(k)?;
    }
    Ok(any)
}

fn decode_leaf<'a>(raw: &'a [u8], part: &Part) -> Result<Cow<'a, [u8]>, BinaryError> {
    let body = raw.get(part.body_range()).unwrap_or_default();
    match cte(part)? {
        Cte::Identity => Ok(Cow::Borrowed(body)),
        Cte::Base64 => base64_decode(body)
            .map(Cow::Owned)
            .ok_or(BinaryError::InvalidContent),
        Cte::QuotedPrintable => quoted_printable_decode(body)
            .map(Cow::Owned)
            .ok_or(BinaryError::InvalidContent),
    }
}

/// Appends a part's header (rewritten when its body gets decoded) and body.
fn write_full(raw: &[u8], part: &Part, out: &mut Vec<u8>) -> Result<(), BinaryError> {
    let header = raw.get(part.header_range()).unwrap_or_default();
    if children(part).is_empty() && cte(part)? != Cte::Identity {
        let mut last = part.header_start;
        for f in Fields::new(raw, part.header_start, part.body_start) {
            last = f.end;
            if !f.name.eq_ignore_ascii_case(b"content-transfer-encoding") {
                out.extend_from_slice(raw.get(f.start..f.end).unwrap_or_default());
            }
        }
        out.extend_from_slice(b"Content-Transfer-Encoding: binary\r\n");
        out.extend_from_slice(raw.get(last..part.body_start).unwrap_or_default());
    } else {
        out.extend_from_slice(header);
    }
    write_body(raw, part, out)
}

fn write_body(raw: &[u8], part: &Part, out: &mut Vec<u8>) -> Result<(), BinaryError> {
    let kids = children(part);
    if kids.is_empty() {
        out.extend_from_slice(&decode_leaf(raw, part)?);
        return Ok(());
    }
    let mut pos = part.body_start;
    for k in kids {
        out.extend_from_slice(raw.get(pos..k.header_start.max(pos)).unwrap_or_default());
        write_full(raw, k, out)?;
        pos = pos.max(k.end);
    }
    out.extend_from_slice(raw.get(pos..part.end.max(pos)).unwrap_or_default());
    Ok(())
}

/// Returns the content of `BINARY[part]` (`BINARY[]` for `None`).
/// Apply a partial range with [`super::apply_partial`].
pub fn decode_binary<'a>(
    msg: &MessageAnalysis<'a>,
    part: Option<&SectionPart>,
) -> Result<BinaryContent<'a>, BinaryError> {
    let raw = msg.raw();
    let root = msg.part_tree();
    let Some(part) = part.map(SectionPart::as_slice) else {
        let root_decodes = children(root).is_empty() && cte(root)? != Cte::Identity;
        if !root_decodes && !body_needs_decoding(root)? {
            return Ok(BinaryContent {
                data: Cow::Borrowed(raw),
                decoded: false,
            });
        }
        let mut out = Vec::with_capacity(raw.len());
        write_full(raw, root, &mut out)?;
        return Ok(BinaryContent {
            data: Cow::Owned(out),
            decoded: true,
        });
    };
    let node = find_part(root, part).ok_or(BinaryError::NoSuchPart)?;
    if children(node).is_empty() {
        let decoded = cte(node)? != Cte::Identity;
        return Ok(BinaryContent {
            data: decode_leaf(raw, node)?,
            decoded,
        });
    }
    if !body_needs_decoding(node)? {
        let body = raw.get(node.body_range()).unwrap_or_default();
        return Ok(BinaryContent {
            data: Cow::Borrowed(body),
            decoded: false,
        });
    }
    let mut out = Vec::with_capacity(node.end - node.body_start);
    write_body(raw, node, &mut out)?;
    Ok(BinaryContent {
        data: Cow::Owned(out),
        decoded: true,
    })
}

/// Returns `BINARY.SIZE[part]`: the size of [`decode_binary`]'s content.
/// For content that needs no decoding this is the BODYSTRUCTURE size (bare
/// LF counted as CRLF by default), without looking at the octets.
pub fn binary_size(msg: &MessageAnalysis<'_>, part: Option<&SectionPart>) -> Result<u64, BinaryError> {
    let node = match part {
        None => None,
        Some(p) => Some(find_part(msg.part_tree(), p.as_slice()).ok_or(BinaryError::NoSuchPart)?),
    };
    if let Some(n) = node {
        if children(n).is_empty() && cte(n)? == Cte::Identity {
            return Ok(n.size);
        }
    }
    let content = decode_binary(msg, part)?;
    if !content.decoded {
        return Ok(match node {
            Some(n) => n.size,
            None => msg.size(),
        });
    }
    Ok(content.data.len() as u64)
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;

    use super::super::analyze;
    use super::*;

    fn part(path: &[u32]) -> Option<SectionPart> {
        let path = path.iter().map(|&n| NonZeroU32::new(n).unwrap()).collect();
        SectionPart::new(path).ok()
    }

    const MSG: &[u8] = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Transfer-Encoding: base64\r\nContent-Type: application/octet-stream\r\n\r\nAAEC\r\n--b\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\na=3Db=\r\nc\r\n--b\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin\r\n--b\r\n\r\nplain\r\n--b--\r\n";

    #[test]
    fn leaves_decode() {
        let msg = analyze(MSG);
        let b = decode_binary(&msg, part(&[1]).as_ref());
        assert_eq!(
            b,
            Ok(BinaryContent {
                data: Cow::Owned(vec![0, 1, 2]),
                decoded: true
            })
        );
        assert_eq!(
            decode_binary(&msg, part(&[2]).as_ref()).map(|b| b.data.into_owned()),
            Ok(b"a=bc".to_vec())
        );
        assert_eq!(
            decode_binary(&msg, part(&[3]).as_ref()),
            Err(BinaryError::UnknownCte)
        );
        assert_eq!(
            binary_size(&msg, part(&[3]).as_ref()),
            Err(BinaryError::UnknownCte)
        );
        assert!(matches!(
            decode_binary(&msg, part(&[4]).as_ref()),
            Ok(BinaryContent {
                data: Cow::Borrowed(b"plain"),
                ..
            })
        ));
        assert_eq!(binary_size(&msg, part(&[1]).as_ref()), Ok(3));
        assert_eq!(binary_size(&msg, part(&[4]).as_ref()), Ok(5));
        assert_eq!(
            decode_binary(&msg, part(&[5]).as_ref()),
            Err(BinaryError::NoSuchPart)
        );
        assert_eq!(
            decode_binary(&msg, part(&[]).as_ref()),
            Err(BinaryError::UnknownCte)
        );
    }

    #[test]
    fn containers_rewrite_encoded_parts() {
        let raw = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Transfer-Encoding: base64\r\nX: y\r\n\r\naGk=\r\n--b--\r\n";
        let msg = analyze(raw);
        let all = decode_binary(&msg, part(&[]).as_ref()).map(|b| b.data.into_owned());
        let expected = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nX: y\r\nContent-Transfer-Encoding: binary\r\n\r\nhi\r\n--b--\r\n";
        assert_eq!(all.as_deref(), Ok(&expected[..]));
        assert_eq!(binary_size(&msg, part(&[]).as_ref()), Ok(expected.len() as u64));
    }
}

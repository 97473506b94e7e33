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

use mailwire_imap::SectionPart;

use super::MessageAnalysis;
use super::header::Fields;
use super::pieces::{Cte, Piece, assemble, push_copy};
use super::section::find_part;
use super::source::Source;
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

/// The encoding to remove from a leaf; `None` for none.
fn cte(part: &Part) -> Result<Option<Cte>, BinaryError> {
    match part.transfer_encoding {
        TransferEncoding::Identity => Ok(None),
        TransferEncoding::Base64 => Ok(Some(Cte::Base64)),
        TransferEncoding::QuotedPrintable => Ok(Some(Cte::QuotedPrintable)),
        TransferEncoding::Unknown => Err(BinaryError::UnknownCte),
    }
}

/// Whether anything under `part` (its body) needs decoding; errors on an
/// unknown encoding of a leaf.
fn body_needs_decoding(part: &Part) -> Result<bool, BinaryError> {
    let kids = part.children();
    if kids.is_empty() {
        return Ok(cte(part)?.is_some());
    }
    let mut any = false;
    for k in kids {
        any |= body_needs_decoding(k)?;
    }
    Ok(any)
}

fn leaf_pieces(part: &Part, out: &mut Vec<Piece>) -> Result<(), BinaryError> {
    match cte(part)? {
        None => push_copy(out, part.body_range()),
        Some(c) => out.push(Piece::Decode(part.body_range(), c)),
    }
    Ok(())
}

/// A part's header (rewritten when its body gets decoded) and body.
fn full_pieces<'a, S: Source<'a>>(src: &S, part: &Part, out: &mut Vec<Piece>) -> Result<(), BinaryError> {
    if part.children().is_empty() && cte(part)?.is_some() {
        let at = part.header_start;
        let header = src.bytes(at, part.body_start);
        let mut last = 0;
        for f in Fields::new(&header, 0, header.len()) {
            last = f.end;
            if !f.name.eq_ignore_ascii_case(b"content-transfer-encoding") {
                push_copy(out, at + f.start..at + f.end);
            }
        }
        out.push(Piece::Insert(b"Content-Transfer-Encoding: binary\r\n".to_vec()));
        push_copy(out, at + last..part.body_start);
    } else {
        push_copy(out, part.header_range());
    }
    body_pieces(src, part, out)
}

fn body_pieces<'a, S: Source<'a>>(src: &S, part: &Part, out: &mut Vec<Piece>) -> Result<(), BinaryError> {
    let kids = part.children();
    if kids.is_empty() {
        return leaf_pieces(part, out);
    }
    let mut pos = part.body_start;
    for k in kids {
        push_copy(out, pos..k.header_start.max(pos));
        full_pieces(src, k, out)?;
        pos = pos.max(k.end);
    }
    push_copy(out, pos..part.end.max(pos));
    Ok(())
}

/// The pieces of `BINARY[part]` (`BINARY[]` for `None`) of the message in
/// `src` whose tree is `root`, and whether anything is decoded.
pub(crate) fn binary_pieces<'a, S: Source<'a>>(
    src: &S,
    root: &Part,
    part: Option<&SectionPart>,
) -> Result<(Vec<Piece>, bool), BinaryError> {
    let mut out = Vec::new();
    let Some(part) = part.map(SectionPart::as_slice) else {
        let root_decodes = root.children().is_empty() && cte(root)?.is_some();
        if !root_decodes && !body_needs_decoding(root)? {
            push_copy(&mut out, 0..src.len());
            return Ok((out, false));
        }
        full_pieces(src, root, &mut out)?;
        return Ok((out, true));
    };
    let node = find_part(root, part).ok_or(BinaryError::NoSuchPart)?;
    if node.children().is_empty() {
        leaf_pieces(node, &mut out)?;
        return Ok((out, cte(node)?.is_some()));
    }
    if !body_needs_decoding(node)? {
        push_copy(&mut out, node.body_range());
        return Ok((out, false));
    }
    body_pieces(src, node, &mut out)?;
    Ok((out, true))
}

/// Returns the content of `BINARY[part]` (`BINARY[]` for `None`).
/// Apply a partial range with [`super::apply_partial`].
pub fn decode_binary<'a>(
    msg: &MessageAnalysis<'a>,
    part: Option<&SectionPart>,
) -> Result<BinaryContent<'a>, BinaryError> {
    let raw = msg.raw();
    let (pieces, decoded) = binary_pieces(&raw, msg.part_tree(), part)?;
    Ok(BinaryContent {
        data: assemble(raw, &pieces)?,
        decoded,
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
        if n.children().is_empty() && cte(n)?.is_none() {
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

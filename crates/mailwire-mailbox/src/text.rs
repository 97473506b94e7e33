//! Mail text as a reader sees it, for programs that show messages: header
//! values with their encoded words decoded, bodies undone from their
//! transfer encoding (whole or in pieces, as they arrive) and converted
//! from their charset, and HTML reduced to text.
//!
//! These are the decoders SEARCH and PREVIEW use, so a client shows the
//! text the server's search matched.
//!
//! ```
//! use mailwire_mailbox::text::{TransferDecoder, decode_header_value, to_utf8};
//!
//! assert_eq!(decode_header_value(b"=?ISO-8859-1?Q?Caf=E9?= au lait"), "Café au lait");
//!
//! let mut decoder = TransferDecoder::new(b"quoted-printable");
//! let mut octets = decoder.push(b"Caf=E9 =\r\nau l");
//! octets.extend(decoder.push(b"ait\r\n"));
//! octets.extend(decoder.finish());
//! assert_eq!(to_utf8(&octets, Some(b"iso-8859-1")), "Café au lait\r\n");
//! ```

use std::borrow::Cow;

use crate::search::text;

/// A header field value as a reader sees it: encoded words (RFC 2047)
/// decoded, other octets taken as UTF-8 (RFC 6532) or else Windows-1252,
/// unfolded, runs of whitespace made one space, trimmed.
pub fn decode_header_value(raw: &[u8]) -> String {
    text::decode_header_value(raw)
}

/// Converts text in `charset` (a `charset` parameter's value) to UTF-8.
/// UTF-8, US-ASCII, a missing or an unknown charset are read as UTF-8
/// when valid and as Windows-1252 otherwise; the ISO-8859 family, the
/// Windows code pages, KOI8, UTF-16, UTF-7 and the Asian multi-byte
/// charsets are converted.
pub fn to_utf8<'a>(data: &'a [u8], charset: Option<&[u8]>) -> Cow<'a, str> {
    text::to_utf8(data, charset)
}

/// Undoes a body's Content-Transfer-Encoding (`base64`,
/// `quoted-printable`; anything else is returned as it is). Both decoders
/// are lenient: characters outside base64's alphabet are skipped, and
/// quoted-printable that does not decode is returned as it is.
pub fn decode_transfer_encoding<'a>(body: &'a [u8], encoding: &[u8]) -> Cow<'a, [u8]> {
    let encoding = encoding.trim_ascii();
    if encoding.eq_ignore_ascii_case(b"base64") {
        Cow::Owned(text::base64(body))
    } else if encoding.eq_ignore_ascii_case(b"quoted-printable") {
        text::quoted_printable(body)
    } else {
        Cow::Borrowed(body)
    }
}

/// HTML as text: tags, comments and the content of `head`, `title`,
/// `style` and `script` removed, the common entities decoded. Good enough
/// to read a message that has no plain-text part; not a renderer.
pub fn html_to_text(html: &str) -> String {
    let text = crate::analysis::strip_markup(html);
    // Each line's runs of whitespace made one space; no more than one
    // empty line in a row.
    let mut out = String::with_capacity(text.len());
    let mut blank = true;
    for line in text.lines() {
        let line = line.split_whitespace().collect::<Vec<_>>().join(" ");
        if line.is_empty() {
            if !blank {
                out.push('\n');
            }
            blank = true;
            continue;
        }
        out.push_str(&line);
        out.push('\n');
        blank = false;
    }
    out
}

/// Undoes a transfer encoding on a body that arrives in pieces, holding
/// at most a line (quoted-printable) or three characters (base64) between
/// pieces.
#[derive(Debug)]
pub struct TransferDecoder {
    kind: Kind,
    pending: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Identity,
    Base64 { ended: bool },
    QuotedPrintable,
}

impl TransferDecoder {
    /// A decoder for the Content-Transfer-Encoding `encoding`.
    pub fn new(encoding: &[u8]) -> TransferDecoder {
        let encoding = encoding.trim_ascii();
        let kind = if encoding.eq_ignore_ascii_case(b"base64") {
            Kind::Base64 { ended: false }
        } else if encoding.eq_ignore_ascii_case(b"quoted-printable") {
            Kind::QuotedPrintable
        } else {
            Kind::Identity
        };
        TransferDecoder {
            kind,
            pending: Vec::new(),
        }
    }

    /// Decodes the next piece; returns the octets it completes.
    pub fn push(&mut self, piece: &[u8]) -> Vec<u8> {
        match &mut self.kind {
            Kind::Identity => piece.to_vec(),
            Kind::Base64 { ended: true } => Vec::new(),
            Kind::Base64 { ended } => {
                let end = memchr::memchr(b'=', piece);
                *ended = end.is_some();
                let piece = &piece[..end.unwrap_or(piece.len())];
                self.pending.extend(
                    piece
                        .iter()
                        .copied()
                        .filter(|&b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/'),
                );
                let whole = if *ended {
                    self.pending.len()
                } else {
                    self.pending.len() / 4 * 4
                };
                let out = text::base64(&self.pending[..whole]);
                self.pending.drain(..whole);
                out
            }
            Kind::QuotedPrintable => {
                self.pending.extend_from_slice(piece);
                // Whole lines decode alone (a soft break ends its line).
                let Some(last) = memchr::memrchr(b'\n', &self.pending) else {
                    return Vec::new();
                };
                let out = text::quoted_printable(&self.pending[..=last]).into_owned();
                self.pending.drain(..=last);
                out
            }
        }
    }

    /// The octets of what is left at the end of the body.
    pub fn finish(&mut self) -> Vec<u8> {
        let rest = std::mem::take(&mut self.pending);
        match self.kind {
            Kind::Identity => rest,
            Kind::Base64 { .. } => text::base64(&rest),
            Kind::QuotedPrintable => text::quoted_printable(&rest).into_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every way of cutting an encoded body gives what decoding it whole
    /// gives.
    #[test]
    fn pieces_decode_as_the_whole() {
        let cases: [(&[u8], &[u8]); 3] = [
            (b"base64", b"SGVs\r\nbG8s IHdv\r\ncmxk\r\nIQ==\r\nignored"),
            (
                b"quoted-printable",
                b"soft=\r\nbreak =C3=A9t=C3=A9\r\nline two=3D\r\nend",
            ),
            (b"8bit", b"as it is\r\n"),
        ];
        for (encoding, body) in cases {
            let whole = decode_transfer_encoding(body, encoding).into_owned();
            for cut in 0..=body.len() {
                for cut2 in cut..=body.len() {
                    let mut d = TransferDecoder::new(encoding);
                    let mut out = d.push(&body[..cut]);
                    out.extend(d.push(&body[cut..cut2]));
                    out.extend(d.push(&body[cut2..]));
                    out.extend(d.finish());
                    assert_eq!(out, whole, "{encoding:?} cut at {cut} and {cut2}");
                }
            }
        }
        assert_eq!(
            decode_transfer_encoding(b"SGVsbG8sIHdvcmxkIQ==", b"BASE64 "),
            &b"Hello, world!"[..]
        );
    }

    #[test]
    fn html_becomes_text() {
        assert_eq!(
            html_to_text("<html><head><title>t</title></head>\n\n\n<p>Caf&#233;  <b>&amp;</b>\tmore</p>\n"),
            "Café & more\n"
        );
    }
}

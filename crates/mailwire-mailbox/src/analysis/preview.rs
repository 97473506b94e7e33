//! The PREVIEW of a message (RFC 8970): a short plain-text extract of
//! its first text part, as a mail client shows it under the subject.

use std::borrow::Cow;

use mailwire_imap::BodyStructure;

use super::{MessageAnalysis, Part, TransferEncoding, leaves};
use crate::search::text::{base64, collapse_whitespace, quoted_printable, to_utf8};

/// The most characters a preview has. RFC 8970 allows at most 256; 200
/// is what Dovecot sends.
pub const PREVIEW_CHARS: usize = 200;

/// The preview of a message: the text of its first `text/plain` part (or,
/// without one, its first `text/html` part with the markup removed),
/// decoded from its transfer encoding and charset, with runs of
/// whitespace (and control characters) made one space, cut to
/// [`PREVIEW_CHARS`] characters. Empty when the message has no text.
pub fn preview(msg: &MessageAnalysis<'_>) -> String {
    match preview_part(msg.part_tree(), msg.body_structure()) {
        Some(chosen) => chosen.preview(msg.raw().get(chosen.part.body_range()).unwrap_or_default()),
        None => String::new(),
    }
}

/// The text part a preview is made of, and how to read it.
pub(crate) struct PreviewPart<'b> {
    pub part: &'b Part,
    charset: Option<Vec<u8>>,
    html: bool,
}

/// The part [`preview`] reads: the first `text/plain` leaf, or else the
/// first `text/html` one.
pub(crate) fn preview_part<'b>(root: &'b Part, body: &'b BodyStructure<'_>) -> Option<PreviewPart<'b>> {
    let texts: Vec<_> = leaves(root, body)
        .into_iter()
        .filter_map(|(part, body)| {
            let BodyStructure::Single {
                media_type,
                media_subtype,
                fields,
                ..
            } = body
            else {
                return None;
            };
            if !media_type.as_bytes().eq_ignore_ascii_case(b"text") {
                return None;
            }
            let html = media_subtype.as_bytes().eq_ignore_ascii_case(b"html");
            let plain = media_subtype.as_bytes().eq_ignore_ascii_case(b"plain");
            (html || plain).then(|| PreviewPart {
                part,
                charset: fields.param("charset").map(<[u8]>::to_vec),
                html,
            })
        })
        .collect();
    let index = texts.iter().position(|t| !t.html).unwrap_or(0);
    texts.into_iter().nth(index)
}

impl PreviewPart<'_> {
    /// The preview of the part whose body is `body`.
    pub(crate) fn preview(&self, body: &[u8]) -> String {
        let octets: Cow<'_, [u8]> = match self.part.transfer_encoding {
            TransferEncoding::Base64 => Cow::Owned(base64(body)),
            TransferEncoding::QuotedPrintable => quoted_printable(body),
            TransferEncoding::Identity | TransferEncoding::Unknown => Cow::Borrowed(body),
        };
        let text = to_utf8(&octets, self.charset.as_deref());
        let text = if self.html {
            Cow::Owned(strip_markup(&text))
        } else {
            text
        };
        // Control characters (a NUL of a broken message) are no text either.
        let text: String = text
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let mut out = collapse_whitespace(&text);
        if let Some((cut, _)) = out.char_indices().nth(PREVIEW_CHARS) {
            out.truncate(cut);
            // The cut may fall just after a space.
            out.truncate(out.trim_end().len());
        }
        out
    }
}

/// HTML as text: tags, comments and the content of `style` and `script`
/// elements removed, the common entities decoded.
pub(crate) fn strip_markup(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let tag = &rest[open..];
        let skipped = ["head", "title", "style", "script"].into_iter().find(|name| {
            let after = tag.as_bytes().get(1..1 + name.len());
            after.is_some_and(|a| a.eq_ignore_ascii_case(name.as_bytes()))
                && matches!(
                    tag.as_bytes().get(1 + name.len()),
                    None | Some(b'>' | b' ' | b'\t' | b'\r' | b'\n' | b'/')
                )
        });
        let end = if tag.starts_with("<!--") {
            tag.find("-->").map(|i| i + 3)
        } else if let Some(name) = skipped {
            // Up to the element's end tag; a search that runs on from where
            // the last one stopped, so the whole text is read once.
            find_ascii_ci(tag.as_bytes(), format!("</{name}").as_bytes())
                .and_then(|i| tag[i..].find('>').map(|j| i + j + 1))
        } else {
            tag.find('>').map(|i| i + 1)
        };
        out.push(' ');
        match end {
            Some(e) => rest = &tag[e..],
            None => {
                rest = "";
                break;
            }
        }
    }
    out.push_str(rest);
    decode_entities(&out)
}

/// Where `needle` (ASCII) first occurs in `haystack`, ignoring ASCII case.
fn find_ascii_ci(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

fn decode_entities(text: &str) -> String {
    if !text.contains('&') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let tail = &rest[amp..];
        // An entity is short: looking further for its `;` would read the
        // rest of the text at every `&`.
        let entity = tail.as_bytes()[..tail.len().min(11)]
            .iter()
            .position(|&b| b == b';')
            .map(|i| (&tail[1..i], i + 1));
        let decoded = entity.and_then(|(name, len)| {
            let c = match name {
                "amp" => '&',
                "lt" => '<',
                "gt" => '>',
                "quot" => '"',
                "apos" => '\'',
                "nbsp" => ' ',
                _ => {
                    let n = name.strip_prefix('#')?;
                    let code = match n.strip_prefix(['x', 'X']) {
                        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                        None => n.parse().ok()?,
                    };
                    char::from_u32(code)?
                }
            };
            Some((c, len))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &tail[len..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::super::analyze;
    use super::*;

    #[test]
    fn plain_text_first_decoded_and_collapsed() {
        let msg = b"Subject: x\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\n\
Content-Type: text/html\r\n\r\n<p>HTML &amp; more</p>\r\n--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\r\nGr=FC=DFe,\r\n\r\n  zweite   Zeile\r\n--b--\r\n";
        assert_eq!(preview(&analyze(msg)), "Gr\u{fc}\u{df}e, zweite Zeile");
    }

    #[test]
    fn html_alone_loses_its_markup() {
        let msg = b"Content-Type: text/html\r\n\r\n<html><head><title>T</title><style>p {color: red}</style></head>\
<body><!-- hidden --><p>Caf&eacute; &amp; &#x263A; &lt;ok&gt;</p><script>x<y</script></body></html>\r\n";
        assert_eq!(preview(&analyze(msg)), "Caf&eacute; & \u{263a} <ok>");
    }

    #[test]
    fn unclosed_elements_and_many_tags_cost_linear_time() {
        let mut html = b"Content-Type: text/html\r\n\r\n".to_vec();
        for _ in 0..50_000 {
            html.extend_from_slice(b"<style>a</style><b>x</b>");
        }
        html.extend_from_slice(b"<script>never closed");
        let p = preview(&analyze(&html));
        assert!(
            // 200 characters end in a space here, which goes.
            p.starts_with("x x x") && p.chars().count() == PREVIEW_CHARS - 1 && p.ends_with('x'),
            "{p}"
        );
    }

    #[test]
    fn ampersands_without_entities_cost_linear_time() {
        // Each `&` looked for its `;` through the rest of the text: some
        // 10^12 octets read here.
        let mut html = b"Content-Type: text/html\r\n\r\n".to_vec();
        html.extend(std::iter::repeat_n(b'&', 2_000_000));
        html.extend_from_slice(b"&amp;&lt;x&#59;");
        let p = preview(&analyze(&html));
        assert_eq!(p, "&".repeat(PREVIEW_CHARS));
        assert_eq!(strip_markup("a&&amp;&#x3b;&;&nbsp"), "a&&;&;&nbsp");
    }

    #[test]
    fn control_characters_are_no_text() {
        let msg = b"Subject: x\r\n\r\nnul\0\0here\x07 and  \x1b[31mred\r\n";
        assert_eq!(preview(&analyze(msg)), "nul here and [31mred");
    }

    #[test]
    fn long_text_is_cut_and_no_text_is_empty() {
        let mut msg = b"Subject: long\r\n\r\n".to_vec();
        msg.extend(std::iter::repeat_n("\u{e9}t\u{e9} ".as_bytes(), 200).flatten());
        msg.splice(
            0..0,
            b"Content-Type: text/plain; charset=utf-8\r\n".iter().copied(),
        );
        let p = preview(&analyze(&msg));
        // "été " repeats: the 200th character is a space, which goes.
        assert_eq!(p.chars().count(), PREVIEW_CHARS - 1);
        assert!(p.starts_with("\u{e9}t\u{e9} \u{e9}t\u{e9}") && p.ends_with('\u{e9}'));
        let attachment = b"Content-Type: application/octet-stream\r\n\r\nAAAA\r\n";
        assert_eq!(preview(&analyze(attachment)), "");
    }
}

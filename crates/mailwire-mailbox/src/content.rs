//! The canonical form of stored messages: CRLF line ends.
//!
//! IMAP (RFC 9051 section 6.3.12) and POP3 (RFC 1939 section 3) both send
//! messages with CRLF line ends, and both state exact sizes. The store
//! keeps every message in that form, so RFC822.SIZE and the POP3 size are
//! the stored length and reading needs no conversion: on append, a bare LF
//! becomes CRLF and a message that does not end with a line end gets a
//! final CRLF (an empty message stays empty). A bare CR is kept as it is.

use bytes::Bytes;

/// `content` in canonical form: every LF preceded by CR, ending with CRLF
/// unless empty. Content already in that form is returned as is, without
/// copying.
pub fn canonical_crlf(content: Bytes) -> Bytes {
    let bare = memchr::memchr_iter(b'\n', &content)
        .filter(|&lf| lf == 0 || content.get(lf - 1) != Some(&b'\r'))
        .count();
    let tail: &[u8] = match &content[..] {
        [] | [.., b'\r', b'\n'] => b"",
        [.., b'\n'] => b"", // a bare final LF: its CR is added below
        [.., b'\r'] => b"\n",
        _ => b"\r\n",
    };
    if bare == 0 && tail.is_empty() {
        return content;
    }
    let mut out = Vec::with_capacity(content.len().saturating_add(bare).saturating_add(2));
    let mut start = 0;
    for lf in memchr::memchr_iter(b'\n', &content) {
        if lf == 0 || content.get(lf - 1) != Some(&b'\r') {
            out.extend_from_slice(&content[start..lf]);
            out.extend_from_slice(b"\r\n");
            start = lf + 1;
        }
    }
    out.extend_from_slice(&content[start..]);
    out.extend_from_slice(tail);
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(input: &[u8]) -> Vec<u8> {
        canonical_crlf(Bytes::copy_from_slice(input)).to_vec()
    }

    #[test]
    fn bare_lf_and_missing_final_line_end() {
        assert_eq!(c(b""), b"");
        assert_eq!(c(b"a"), b"a\r\n");
        assert_eq!(c(b"a\n"), b"a\r\n");
        assert_eq!(c(b"a\r"), b"a\r\n");
        assert_eq!(c(b"\n\n"), b"\r\n\r\n");
        assert_eq!(c(b"a\r\nb\nc"), b"a\r\nb\r\nc\r\n");
        assert_eq!(c(b"a\rb\r\n"), b"a\rb\r\n");
    }

    #[test]
    fn canonical_content_is_not_copied() {
        let input = Bytes::from_static(b"Subject: x\r\n\r\nbody\r\n");
        let out = canonical_crlf(input.clone());
        assert_eq!(out.as_ptr(), input.as_ptr());
    }
}

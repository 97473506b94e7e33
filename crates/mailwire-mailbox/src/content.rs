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
    let tail: &[u8] = match &content[..] {
        [] | [.., b'\r', b'\n'] => b"",
        [.., b'\n'] => b"", // a bare final LF: its CR is added below
        [.., b'\r'] => b"\n",
        _ => b"\r\n",
    };
    let converted = crlf_converted(&content);
    if converted.is_none() && tail.is_empty() {
        return content;
    }
    let mut out = converted.unwrap_or_else(|| content.to_vec());
    out.extend_from_slice(tail);
    Bytes::from(out)
}

/// `data` with every bare LF turned into CRLF, or `None` when it has none
/// (nothing to copy). The one conversion of the crate: the store's, the
/// Maildir's for files stored with LF, and the MIME analysis's.
pub(crate) fn crlf_converted(data: &[u8]) -> Option<Vec<u8>> {
    let first = memchr::memchr_iter(b'\n', data).find(|&i| i == 0 || data[i - 1] != b'\r')?;
    let mut out = Vec::with_capacity(data.len() + data.len() / 32 + 2);
    out.extend_from_slice(&data[..first]);
    push_crlf(&mut out, &data[first..], false);
    Some(out)
}

/// Appends `raw` to `out` with every bare LF turned into CRLF, copying the
/// runs between line ends whole; `after_cr` says whether the octet before
/// `raw` was CR (for content converted a piece at a time).
pub(crate) fn push_crlf(out: &mut Vec<u8>, raw: &[u8], after_cr: bool) {
    let mut from = 0;
    for i in memchr::memchr_iter(b'\n', raw) {
        let cr = if i == 0 { after_cr } else { raw[i - 1] == b'\r' };
        if !cr {
            out.extend_from_slice(&raw[from..i]);
            out.push(b'\r');
            from = i;
        }
    }
    out.extend_from_slice(&raw[from..]);
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

    /// The conversion against a byte-at-a-time reference, whole and in
    /// pieces (each piece told whether the octet before it was CR).
    fn naive(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, &b) in data.iter().enumerate() {
            if b == b'\n' && (i == 0 || data[i - 1] != b'\r') {
                out.push(b'\r');
            }
            out.push(b);
        }
        out
    }

    proptest::proptest! {
        #[test]
        fn crlf_conversion_equals_the_reference(
            data in proptest::collection::vec(proptest::sample::select(vec![b'a', b'\r', b'\n']), 0..64),
            cut in 0usize..64,
        ) {
            let expected = naive(&data);
            match crlf_converted(&data) {
                Some(out) => proptest::prop_assert_eq!(&out, &expected),
                None => proptest::prop_assert_eq!(&data, &expected),
            }
            let cut = cut.min(data.len());
            let mut pieces = Vec::new();
            push_crlf(&mut pieces, &data[..cut], false);
            push_crlf(&mut pieces, &data[cut..], cut > 0 && data[cut - 1] == b'\r');
            proptest::prop_assert_eq!(pieces, expected);
        }
    }
}

//! Header blocks: field iteration over raw bytes, and the two ways Dovecot
//! turns a raw header value into an IMAP string.
//!
//! A field is a line that does not start with SP or HTAB, plus the
//! continuation lines that do (RFC 5322 section 2.2.3). Its name is the text
//! before the first `:` with trailing whitespace removed (`From : x` is a From
//! field, as Dovecot reads it); a line without a colon is kept as a field
//! without value so that `HEADER.FIELDS.NOT` can copy it like Dovecot does.

use std::borrow::Cow;

/// One header field as found in the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Field<'a> {
    /// Offset of the first byte of the field in the message.
    pub start: usize,
    /// Offset just past the field's last line terminator (or the end of the
    /// header block when the last line has none).
    pub end: usize,
    /// The name, trailing whitespace removed; the whole first line for a line
    /// without a colon.
    pub name: &'a [u8],
    /// The value: after the colon and the whitespace that follows it on the
    /// first line, up to (not including) the final line terminator. Folded
    /// lines keep their CRLF and leading whitespace. `None` without a colon.
    pub value: Option<&'a [u8]>,
}

/// Iterator over the fields of a header block `raw[start..end]` (the block
/// may include its terminating blank line, which yields nothing).
pub(crate) struct Fields<'a> {
    raw: &'a [u8],
    pos: usize,
    end: usize,
}

impl<'a> Fields<'a> {
    pub(crate) fn new(raw: &'a [u8], start: usize, end: usize) -> Self {
        let end = end.min(raw.len());
        Fields {
            raw,
            pos: start.min(end),
            end,
        }
    }
}

/// Returns the offset just past the line that starts at `pos` (after its LF),
/// or `limit` when there is no LF before it.
fn line_end(raw: &[u8], pos: usize, limit: usize) -> usize {
    match raw.get(pos..limit).and_then(|s| memchr::memchr(b'\n', s)) {
        Some(i) => pos + i + 1,
        None => limit,
    }
}

/// Length of the line terminator at the end of `line` (0, 1 or 2).
fn terminator_len(line: &[u8]) -> usize {
    match line {
        [.., b'\r', b'\n'] => 2,
        [.., b'\n'] => 1,
        _ => 0,
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Field<'a>;

    fn next(&mut self) -> Option<Field<'a>> {
        let raw = self.raw;
        loop {
            if self.pos >= self.end {
                return None;
            }
            let start = self.pos;
            let first_end = line_end(raw, start, self.end);
            let first = raw.get(start..first_end).unwrap_or_default();
            if first.len() == terminator_len(first) {
                // The blank line that ends the header block.
                self.pos = self.end;
                return None;
            }
            let mut end = first_end;
            while end < self.end && matches!(raw.get(end), Some(b' ' | b'\t')) {
                end = line_end(raw, end, self.end);
            }
            self.pos = end;
            if matches!(first.first(), Some(b' ' | b'\t')) {
                // A continuation line with no field before it: skip it.
                continue;
            }
            let field = raw.get(start..end).unwrap_or_default();
            let content = &field[..field.len() - terminator_len(field)];
            let line = &first[..first.len() - terminator_len(first)];
            return Some(match memchr::memchr(b':', line) {
                Some(colon) => {
                    let mut value = &content[colon + 1..];
                    while let [b' ' | b'\t', rest @ ..] = value {
                        value = rest;
                    }
                    Field {
                        start,
                        end,
                        name: trim_end(&line[..colon]),
                        value: Some(value),
                    }
                }
                None => Field {
                    start,
                    end,
                    name: trim_end(line),
                    value: None,
                },
            });
        }
    }
}

fn trim_end(mut s: &[u8]) -> &[u8] {
    while let [rest @ .., b' ' | b'\t' | b'\r'] = s {
        s = rest;
    }
    s
}

/// The top header block of the message `reader` gives: up to and with its
/// blank line, or the whole message when it has none, as read (line ends
/// unchanged). Read in pieces, never further than the blank line's piece;
/// a block longer than `limit` is cut after its last whole line within
/// it (fields past it are not seen).
pub(crate) fn top_header(mut reader: impl std::io::Read, limit: usize) -> std::io::Result<Vec<u8>> {
    let mut raw = Vec::new();
    // Where the next line starts: the end of the last whole line read.
    let mut line_start = 0;
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        while let Some(i) = memchr::memchr(b'\n', &raw[line_start..]) {
            let end = line_start + i + 1;
            if end > limit {
                break;
            }
            if matches!(&raw[line_start..end], b"\n" | b"\r\n") {
                raw.truncate(end);
                return Ok(raw);
            }
            line_start = end;
        }
        if raw.len() > limit {
            raw.truncate(line_start);
            return Ok(raw);
        }
        let n = match reader.read(&mut chunk) {
            Ok(0) => return Ok(raw),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        raw.extend_from_slice(&chunk[..n]);
    }
}

/// Removes every CR and LF from a header value, keeping the whitespace that
/// followed them: Dovecot's form for the envelope date, message-id and
/// in-reply-to, and for body-fld-id, -desc, -md5 and -loc.
pub(crate) fn without_line_breaks(value: &[u8]) -> Cow<'_, [u8]> {
    if memchr::memchr2(b'\r', b'\n', value).is_none() {
        return Cow::Borrowed(value);
    }
    Cow::Owned(
        value
            .iter()
            .copied()
            .filter(|&b| b != b'\r' && b != b'\n')
            .collect(),
    )
}

/// Dovecot's form of a subject or display name ("string for humans"): runs
/// of SP, HTAB, CR and LF become one space, leading and trailing ones are
/// removed, and NUL becomes 0x80. Returns the input unchanged (borrowed) when
/// there is nothing to rewrite, which is also when Dovecot sends the string
/// as it is.
pub fn humanize(value: &[u8]) -> Cow<'_, [u8]> {
    let needs_rewrite = value.first() == Some(&b' ')
        || value.last() == Some(&b' ')
        || value.windows(2).any(|w| w == b"  ")
        || value.iter().any(|&b| matches!(b, b'\t' | b'\r' | b'\n' | 0));
    if !needs_rewrite {
        return Cow::Borrowed(value);
    }
    let mut out = Vec::with_capacity(value.len());
    let mut pending_space = false;
    for &b in value {
        match b {
            b' ' | b'\t' | b'\r' | b'\n' => pending_space = !out.is_empty(),
            _ => {
                if pending_space {
                    out.push(b' ');
                    pending_space = false;
                }
                out.push(if b == 0 { 0x80 } else { b });
            }
        }
    }
    Cow::Owned(out)
}

/// Finds the end of a header block that starts at `start` and is not inside
/// a multipart: the offset after the blank line, or the end of the input.
#[cfg(test)]
fn block_end(raw: &[u8], start: usize) -> usize {
    let mut pos = start;
    while pos < raw.len() {
        let end = line_end(raw, pos, raw.len());
        let line = &raw[pos..end];
        if line.len() == terminator_len(line) {
            return end;
        }
        pos = end;
    }
    raw.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(raw: &[u8]) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        Fields::new(raw, 0, block_end(raw, 0))
            .map(|f| (f.name.to_vec(), f.value.map(<[u8]>::to_vec)))
            .collect()
    }

    #[test]
    fn the_top_header_ends_at_its_blank_line_or_whole_lines_within_the_limit() {
        let read = |raw: &[u8], limit| top_header(raw, limit).expect("read from a slice");
        assert_eq!(read(b"A: 1\nB: 2\n\nbody\n", 100), b"A: 1\nB: 2\n\n");
        assert_eq!(read(b"A: 1\r\n\r\nbody", 100), b"A: 1\r\n\r\n");
        assert_eq!(read(b"\r\nbody", 100), b"\r\n");
        assert_eq!(read(b"A: 1\nB: 2", 100), b"A: 1\nB: 2");
        // Past the limit: cut after the last whole line within it.
        let mut long = Vec::new();
        while long.len() < 100_000 {
            long.extend_from_slice(b"X-Filler: a header line without end in sight\n");
        }
        let cut = read(&long, 50_000);
        assert!(cut.len() <= 50_000 && cut.len() > 49_000, "{}", cut.len());
        assert!(cut.ends_with(b"\n") && long.starts_with(&cut));
        // A blank line just past the limit is not reached.
        assert_eq!(read(b"A: 1\nB: 2\n\n", 10), b"A: 1\nB: 2\n");
        // Nothing is read past the piece that holds the blank line.
        struct Pieces(Vec<&'static [u8]>);
        impl std::io::Read for Pieces {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let piece = self.0.remove(0);
                assert!(!piece.is_empty(), "read past the header");
                buf[..piece.len()].copy_from_slice(piece);
                Ok(piece.len())
            }
        }
        let pieces = Pieces(vec![b"A: 1\r", b"\n\r", b"\nbody", b""]);
        assert_eq!(top_header(pieces, 100).expect("read"), b"A: 1\r\n\r\n");
    }

    #[test]
    fn splits_fields_with_folding_and_odd_names() {
        let raw = b"Subject:  a\r\n\tb\r\nFrom : x\r\nno colon\r\nTo:\r\n y\r\n\r\nbody: no";
        let got = fields(raw);
        assert_eq!(
            got,
            vec![
                (b"Subject".to_vec(), Some(b"a\r\n\tb".to_vec())),
                (b"From".to_vec(), Some(b"x".to_vec())),
                (b"no colon".to_vec(), None),
                (b"To".to_vec(), Some(b"\r\n y".to_vec())),
            ]
        );
    }

    #[test]
    fn field_offsets_cover_whole_lines() {
        let raw = b"A: 1\nB: 2\n continued\n\nbody";
        let f: Vec<_> = Fields::new(raw, 0, raw.len()).collect();
        assert_eq!(f.len(), 2);
        assert_eq!(&raw[f[1].start..f[1].end], b"B: 2\n continued\n");
        assert_eq!(f[1].value, Some(&b"2\n continued"[..]));
    }

    #[test]
    fn header_without_terminator_and_leading_continuation() {
        let raw = b" stray\r\nX: last";
        let f: Vec<_> = Fields::new(raw, 0, raw.len()).collect();
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].value, Some(&b"last"[..]));
        assert_eq!(f[0].end, raw.len());
    }

    #[test]
    fn humanize_collapses_whitespace() {
        assert!(matches!(humanize(b"plain text"), Cow::Borrowed(_)));
        assert_eq!(&*humanize(b"a\r\n\tb  c "), b"a b c");
        assert_eq!(&*humanize(b"a\tb"), b"a b");
        assert_eq!(&*humanize(b"  "), b"");
        assert_eq!(&*humanize(b"x\0y"), b"x\x80y");
    }

    #[test]
    fn line_breaks_are_removed_but_whitespace_kept() {
        assert_eq!(&*without_line_breaks(b"a\r\n b"), b"a b");
        assert!(matches!(without_line_breaks(b"ab"), Cow::Borrowed(_)));
    }
}

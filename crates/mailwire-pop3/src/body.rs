//! Multi-line message bodies (RETR, TOP): dot-stuffing and unstuffing.
//!
//! RFC 1939 section 3: each line of a multi-line response ends with CRLF; a
//! line that begins with "." is sent with one more "." in front; the
//! response ends with a line holding a single ".".
//!
//! Both directions stream. [`BodyDecoder`] hands out slices of the input
//! between stuffed dots and keeps nothing; [`DotStuffer`] writes a message
//! through into the caller's buffer in pieces as it comes, turning bare LF
//! into CRLF. Neither ever holds a whole message.

use std::borrow::Cow;

use bytes::BufMut;
use memchr::memmem;

use crate::decode::Decoded;

/// A piece of a body handed out by [`BodyDecoder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyChunk<'a> {
    /// Body bytes, unstuffed, borrowed from the input.
    Data(&'a [u8]),
    /// The terminating line was consumed; the body is complete.
    End,
}

/// A streaming decoder of a dot-stuffed body.
///
/// Feed it the bytes after the `+OK` line of RETR or TOP, in chunks of any
/// size. Each call returns one [`BodyChunk`] borrowed from the input and how
/// many input bytes it used; keep the bytes it did not use and call again
/// with them followed by more input.
///
/// ```
/// use mailwire_pop3::{BodyChunk, BodyDecoder, Decoded};
///
/// let wire = b"Subject: hi\r\n\r\n..dot\r\n.\r\n";
/// let mut decoder = BodyDecoder::new();
/// let (mut body, mut at) = (Vec::new(), 0);
/// loop {
///     match decoder.decode(&wire[at..]) {
///         Decoded::Complete { value: BodyChunk::Data(d), consumed } => {
///             body.extend_from_slice(d);
///             at += consumed;
///         }
///         Decoded::Complete { value: BodyChunk::End, .. } => break,
///         Decoded::Incomplete => unreachable!("the whole body is here"),
///     }
/// }
/// assert_eq!(body, b"Subject: hi\r\n\r\n.dot\r\n");
/// ```
#[derive(Debug, Clone, Default)]
pub struct BodyDecoder {
    /// The next input byte starts a line.
    mid_line: bool,
    finished: bool,
    /// Body bytes handed out so far (unstuffed).
    delivered: u64,
}

static LINE_DOT: std::sync::LazyLock<memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memmem::Finder::new(b"\r\n."));

static LF_DOT: std::sync::LazyLock<memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memmem::Finder::new(b"\n."));

/// Whether `chunk` holds an LF without a CR before it (`prev_cr`: the byte
/// before the chunk was CR). Written as a branch-free fold over blocks so
/// the compiler vectorises it; a block is checked before the next starts.
fn has_bare_lf(chunk: &[u8], prev_cr: bool) -> bool {
    if chunk.first() == Some(&b'\n') && !prev_cr {
        return true;
    }
    const BLOCK: usize = 4096;
    let mut start = 1;
    while start < chunk.len() {
        let end = (start + BLOCK).min(chunk.len());
        let (cur, prev) = (&chunk[start..end], &chunk[start - 1..end - 1]);
        let found = cur.iter().zip(prev).fold(0u8, |acc, (&b, &p)| {
            acc | (u8::from(b == b'\n') & u8::from(p != b'\r'))
        });
        if found != 0 {
            return true;
        }
        start = end;
    }
    false
}

impl BodyDecoder {
    /// A decoder positioned at the start of a body.
    pub fn new() -> Self {
        BodyDecoder::default()
    }

    /// Whether the terminating line has been consumed.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// How many body bytes have been handed out so far.
    pub fn delivered(&self) -> u64 {
        self.delivered
    }

    /// Decodes the next piece of body from `input`.
    pub fn decode<'a>(&mut self, input: &'a [u8]) -> Decoded<BodyChunk<'a>> {
        if self.finished {
            return Decoded::Complete {
                value: BodyChunk::End,
                consumed: 0,
            };
        }
        let mut start = 0;
        if !self.mid_line {
            match input {
                [] | [b'.'] | [b'.', b'\r'] => return Decoded::Incomplete,
                [b'.', b'\r', b'\n', ..] => {
                    self.finished = true;
                    return Decoded::Complete {
                        value: BodyChunk::End,
                        consumed: 3,
                    };
                }
                // A stuffed dot: drop it (RFC 1939 section 3).
                [b'.', ..] => start = 1,
                _ => {}
            }
        }
        let rest = &input[start..];
        let (data, used) = match LINE_DOT.find(rest) {
            // Hand out everything up to and including the CRLF; the dot
            // that follows starts the next call at a line start.
            Some(i) => {
                self.mid_line = false;
                (&rest[..i + 2], i + 2)
            }
            None => {
                let keep = match rest {
                    [.., b'\r', b'\n'] => {
                        self.mid_line = false;
                        0
                    }
                    // The CR may start the CRLF that precedes a dot.
                    [.., b'\r'] => {
                        self.mid_line = true;
                        1
                    }
                    _ => {
                        self.mid_line = true;
                        0
                    }
                };
                (&rest[..rest.len() - keep], rest.len() - keep)
            }
        };
        if start + used == 0 {
            return Decoded::Incomplete;
        }
        self.delivered += data.len() as u64;
        Decoded::Complete {
            value: BodyChunk::Data(data),
            consumed: start + used,
        }
    }
}

/// Decodes a whole dot-stuffed body held in memory, terminator included:
/// the unstuffed body and the number of bytes it used, or `None` if the
/// terminating line is not in `wire`. For bodies that arrive in pieces,
/// use [`BodyDecoder`].
///
/// ```
/// assert_eq!(mailwire_pop3::unstuff(b"..a\r\n.\r\nrest"), Some((b".a\r\n".to_vec(), 8)));
/// assert_eq!(mailwire_pop3::unstuff(b"..a\r\n"), None);
/// ```
pub fn unstuff(wire: &[u8]) -> Option<(Vec<u8>, usize)> {
    let mut decoder = BodyDecoder::new();
    let mut body = Vec::with_capacity(wire.len());
    let mut at = 0;
    loop {
        match decoder.decode(&wire[at..]) {
            Decoded::Complete {
                value: BodyChunk::Data(data),
                consumed,
            } => {
                body.extend_from_slice(data);
                at += consumed;
            }
            Decoded::Complete {
                value: BodyChunk::End,
                consumed,
            } => return Some((body, at + consumed)),
            Decoded::Incomplete => return None,
        }
    }
}

/// A streaming dot-stuffer: writes a message as a multi-line body.
///
/// Bare LF becomes CRLF, lines starting with "." get another ".", and
/// [`finish`](DotStuffer::finish) adds a CRLF if the message did not end
/// with one, then the terminating ".". Other bytes, 8-bit included, pass
/// through unchanged.
///
/// ```
/// use mailwire_pop3::DotStuffer;
///
/// let mut out = Vec::new();
/// let mut stuffer = DotStuffer::new();
/// stuffer.push(b"Subject: hi\n\n.dot", &mut out);
/// stuffer.push(b"\nlast line", &mut out);
/// stuffer.finish(&mut out);
/// assert_eq!(out, b"Subject: hi\r\n\r\n..dot\r\nlast line\r\n.\r\n");
/// ```
#[derive(Debug, Clone)]
pub struct DotStuffer {
    line_start: bool,
    last_was_cr: bool,
    /// Bytes written for the message, CRLF-normalised, before stuffing.
    normalised_len: u64,
}

impl Default for DotStuffer {
    fn default() -> Self {
        Self::new()
    }
}

impl DotStuffer {
    /// A stuffer at the start of a message.
    pub fn new() -> Self {
        DotStuffer {
            line_start: true,
            last_was_cr: false,
            normalised_len: 0,
        }
    }

    /// Bytes of the CRLF-normalised message written so far, without the
    /// stuffed dots: what a client counts as the message size.
    pub fn normalised_len(&self) -> u64 {
        self.normalised_len
    }

    /// Writes the next piece of the message.
    pub fn push(&mut self, chunk: &[u8], out: &mut impl BufMut) {
        if chunk.is_empty() {
            return;
        }
        if self.line_start && chunk[0] == b'.' {
            out.put_u8(b'.');
        }
        let from = if has_bare_lf(chunk, self.last_was_cr) {
            self.push_normalising(chunk, out)
        } else {
            // The common case, CRLF throughout: only lines that start with
            // a dot change, and those are rare.
            let mut from = 0;
            for lf in LF_DOT.find_iter(chunk) {
                out.put_slice(&chunk[from..=lf]);
                out.put_u8(b'.');
                from = lf + 1;
            }
            from
        };
        out.put_slice(&chunk[from..]);
        self.normalised_len += chunk.len() as u64;
        let last = chunk[chunk.len() - 1];
        self.line_start = last == b'\n';
        self.last_was_cr = last == b'\r';
    }

    /// Writes `chunk` turning bare LF into CRLF and stuffing dots; returns
    /// where the unwritten tail starts.
    fn push_normalising(&mut self, chunk: &[u8], out: &mut impl BufMut) -> usize {
        let mut from = 0;
        for lf in memchr::memchr_iter(b'\n', chunk) {
            let cr = if lf == 0 {
                self.last_was_cr
            } else {
                chunk[lf - 1] == b'\r'
            };
            let dot_next = chunk.get(lf + 1) == Some(&b'.');
            if cr && !dot_next {
                continue;
            }
            out.put_slice(&chunk[from..lf]);
            if cr {
                out.put_u8(b'\n');
            } else {
                out.put_slice(b"\r\n");
                self.normalised_len += 1;
            }
            if dot_next {
                out.put_u8(b'.');
            }
            from = lf + 1;
        }
        from
    }

    /// Ends the message: a CRLF if the last line lacks one, then ".".
    pub fn finish(&mut self, out: &mut impl BufMut) {
        if !self.line_start {
            if self.last_was_cr {
                // A final lone CR becomes the CR of the closing CRLF.
                out.put_u8(b'\n');
                self.normalised_len += 1;
            } else {
                out.put_slice(b"\r\n");
                self.normalised_len += 2;
            }
        }
        out.put_slice(b".\r\n");
        *self = DotStuffer {
            normalised_len: self.normalised_len,
            ..DotStuffer::new()
        };
    }
}

/// A complete multi-line body held in its dot-stuffed wire form: every line
/// ends with CRLF and lines that begin with "." carry the extra dot. The
/// terminating ".\r\n" is not part of it.
///
/// Decoding borrows the wire bytes; [`Body::unstuffed`] copies only if a
/// line is stuffed.
#[derive(Clone, PartialEq, Eq)]
pub struct Body<'a>(Cow<'a, [u8]>);

impl<'a> Body<'a> {
    /// Stuffs a message (any bytes; bare LF becomes CRLF and a final CRLF
    /// is added if missing).
    pub fn from_message(message: &[u8]) -> Body<'static> {
        let mut out = Vec::with_capacity(message.len() + message.len() / 64 + 5);
        let mut s = DotStuffer::new();
        s.push(message, &mut out);
        s.finish(&mut out);
        out.truncate(out.len() - 3);
        Body(Cow::Owned(out))
    }

    /// Wraps wire bytes already stuffed, checking that every line ends with
    /// CRLF and none is a lone ".".
    pub fn from_wire(wire: impl Into<Cow<'a, [u8]>>) -> Result<Self, crate::TypeError> {
        let wire = wire.into();
        if !wire.is_empty() && !wire.ends_with(b"\r\n") {
            return Err(crate::TypeError {
                what: "body",
                problem: "must end with CRLF",
                byte: None,
                position: Some(wire.len()),
            });
        }
        if wire.starts_with(b".\r\n") {
            return Err(crate::TypeError {
                what: "body",
                problem: "a line holds a lone '.'",
                byte: Some(b'.'),
                position: Some(0),
            });
        }
        if let Some(i) = memmem::find(&wire, b"\r\n.\r\n") {
            return Err(crate::TypeError {
                what: "body",
                problem: "a line holds a lone '.'",
                byte: Some(b'.'),
                position: Some(i + 2),
            });
        }
        Ok(Body(wire))
    }

    pub(crate) fn from_wire_unchecked(wire: &'a [u8]) -> Self {
        Body(Cow::Borrowed(wire))
    }

    /// The stuffed wire bytes, without the terminating line.
    pub fn wire(&self) -> &[u8] {
        &self.0
    }

    /// The message with stuffing removed; borrowed when nothing was stuffed.
    pub fn unstuffed(&self) -> Cow<'_, [u8]> {
        let wire: &[u8] = &self.0;
        if !wire.starts_with(b".") && memmem::find(wire, b"\r\n.").is_none() {
            return Cow::Borrowed(wire);
        }
        let mut out = Vec::with_capacity(wire.len());
        let mut d = BodyDecoder::new();
        let mut at = 0;
        while let Decoded::Complete {
            value: BodyChunk::Data(chunk),
            consumed,
        } = d.decode(&wire[at..])
        {
            out.extend_from_slice(chunk);
            at += consumed;
            if at == wire.len() {
                break;
            }
        }
        Cow::Owned(out)
    }

    /// Converts to an owned value.
    pub fn into_owned(self) -> Body<'static> {
        Body(Cow::Owned(self.0.into_owned()))
    }
}

impl std::fmt::Debug for Body<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const SHOW: usize = 64;
        let shown = &self.0[..self.0.len().min(SHOW)];
        write!(
            f,
            "Body({} bytes: {:?}",
            self.0.len(),
            String::from_utf8_lossy(shown)
        )?;
        if self.0.len() > SHOW {
            f.write_str("...")?;
        }
        f.write_str(")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stuff(message: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut s = DotStuffer::new();
        s.push(message, &mut out);
        s.finish(&mut out);
        out
    }

    fn unstuff_all(wire: &[u8], step: usize) -> Vec<u8> {
        let mut d = BodyDecoder::new();
        let mut body = Vec::new();
        let mut pending: Vec<u8> = Vec::new();
        let mut fed = 0;
        loop {
            match d.decode(&pending) {
                Decoded::Complete {
                    value: BodyChunk::Data(x),
                    consumed,
                } => {
                    body.extend_from_slice(x);
                    pending.drain(..consumed);
                }
                Decoded::Complete {
                    value: BodyChunk::End,
                    consumed,
                } => {
                    pending.drain(..consumed);
                    assert!(pending.is_empty() && fed == wire.len(), "stopped early");
                    return body;
                }
                Decoded::Incomplete => {
                    let end = (fed + step).min(wire.len());
                    assert!(end > fed, "ran out of input");
                    pending.extend_from_slice(&wire[fed..end]);
                    fed = end;
                }
            }
        }
    }

    #[test]
    fn edge_cases_that_broke_others() {
        let cases: &[(&[u8], &[u8])] = &[
            // A body line that is exactly ".".
            (b"a\r\n.\r\nb\r\n", b"a\r\n..\r\nb\r\n.\r\n"),
            // Lines starting with "..".
            (b"..x\r\n", b"...x\r\n.\r\n"),
            // No final CRLF.
            (b"last", b"last\r\n.\r\n"),
            // Bare LF.
            (b"a\nb\n.\n", b"a\r\nb\r\n..\r\n.\r\n"),
            // Empty message.
            (b"", b".\r\n"),
            // A lone CR at the end, and CR not before LF in the middle.
            (b"a\rb\r", b"a\rb\r\n.\r\n"),
            // 8-bit bytes pass through.
            (b"\xff\x00\x80.\r\n", b"\xff\x00\x80.\r\n.\r\n"),
        ];
        for (message, wire) in cases {
            assert_eq!(stuff(message), *wire, "stuffing {message:?}");
        }
    }

    #[test]
    fn every_chunking_unstuffs_the_same() {
        let message: &[u8] = b".\r\n..\r\n.x\r\nplain\r\n\r\n.\r\nend.\r";
        let wire = stuff(message);
        let expected = b".\r\n..\r\n.x\r\nplain\r\n\r\n.\r\nend.\r\n";
        for step in 1..=wire.len() {
            assert_eq!(unstuff_all(&wire, step), expected, "step {step}");
        }
    }

    #[test]
    fn body_type() {
        let b = Body::from_message(b"..a\n.\n");
        assert_eq!(b.wire(), b"...a\r\n..\r\n");
        assert_eq!(&*b.unstuffed(), b"..a\r\n.\r\n");
        assert!(Body::from_wire(&b"x\r\n.\r\n"[..]).is_err());
        assert!(Body::from_wire(&b"x"[..]).is_err());
        assert!(matches!(
            Body::from_wire(&b"x\r\n"[..]).unwrap().unstuffed(),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn stuffer_counts_normalised_size() {
        let mut s = DotStuffer::new();
        let mut out = Vec::new();
        s.push(b"a\nb\r\n.c", &mut out);
        s.finish(&mut out);
        assert_eq!(s.normalised_len(), b"a\r\nb\r\n.c\r\n".len() as u64);
    }
}

//! A section or BINARY content as a list of pieces of the message: ranges
//! to copy, ranges to decode and octets to insert. Made once by the rules
//! of [`section`](super::section) and [`binary`](super::binary), the list
//! is put together in memory for a message held whole, or read a page at a
//! time from a file by [`Content`].
//!
//! base64 and quoted-printable are decoded by `mail-parser`'s decoders.
//! Read in pages, a range is decoded in blocks cut where the decoder's
//! state is its initial one (after a whole base64 quantum; after an octet
//! that ends no escape and no trailing whitespace in quoted-printable), so
//! that the blocks decode to exactly what the whole range would.

use std::borrow::Cow;
use std::io::{self, Read};
use std::ops::Range;

use mail_parser::decoders::base64::{BASE64_MAP, base64_decode};
use mail_parser::decoders::quoted_printable::{HEX_MAP, quoted_printable_decode};

use super::binary::BinaryError;
use super::source::{FileSource, PAGE, Source};

/// A Content-Transfer-Encoding that can be removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cte {
    Base64,
    QuotedPrintable,
}

/// Appends a range to copy, merged with the one before when they touch.
pub(crate) fn push_copy(out: &mut Vec<Piece>, r: Range<usize>) {
    if r.is_empty() {
        return;
    }
    if let Some(Piece::Copy(last)) = out.last_mut() {
        if last.end == r.start {
            last.end = r.end;
            return;
        }
    }
    out.push(Piece::Copy(r));
}

/// One piece of a content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    /// These octets of the message.
    Copy(Range<usize>),
    /// These octets of the message, decoded.
    Decode(Range<usize>, Cte),
    /// These octets.
    Insert(Vec<u8>),
}

fn decode(data: &[u8], cte: Cte) -> Option<Vec<u8>> {
    match cte {
        Cte::Base64 => base64_decode(data),
        Cte::QuotedPrintable => quoted_printable_decode(data),
    }
}

/// Puts pieces together from a message in memory; a single range to copy
/// stays borrowed.
pub(crate) fn assemble<'a>(raw: &'a [u8], pieces: &[Piece]) -> Result<Cow<'a, [u8]>, BinaryError> {
    let slice = |r: &Range<usize>| raw.get(r.clone()).unwrap_or_default();
    match pieces {
        [] => return Ok(Cow::Borrowed(&[])),
        [Piece::Copy(r)] => return Ok(Cow::Borrowed(slice(r))),
        _ => {}
    }
    let room = pieces
        .iter()
        .map(|p| match p {
            Piece::Copy(r) | Piece::Decode(r, _) => r.len(),
            Piece::Insert(bytes) => bytes.len(),
        })
        .sum();
    let mut out = Vec::with_capacity(room);
    for piece in pieces {
        match piece {
            Piece::Copy(r) => out.extend_from_slice(slice(r)),
            Piece::Decode(r, cte) => {
                out.extend_from_slice(&decode(slice(r), *cte).ok_or(BinaryError::InvalidContent)?)
            }
            Piece::Insert(bytes) => out.extend_from_slice(bytes),
        }
    }
    Ok(Cow::Owned(out))
}

/// The length of the longest prefix of `data` after which the decoder is
/// in its initial state (see the module documentation), given that it was
/// at the start. Content that cannot decode may be cut anywhere: it fails
/// in whichever block holds the fault.
fn safe_cut(data: &[u8], cte: Cte) -> usize {
    let mut cut = 0;
    match cte {
        Cte::Base64 => {
            let mut count = 0usize;
            for (i, &ch) in data.iter().enumerate() {
                if BASE64_MAP[count][usize::from(ch)] < 0x01ff_ffff {
                    count = (count + 1) & 3;
                } else if ch == b'=' {
                    count = 0;
                } else if !matches!(ch, b' ' | b'\t' | b'\r' | b'\n') {
                    // A fault, or 0xFF, where the decoder stops (see
                    // `ends_base64`).
                    return data.len();
                }
                if count == 0 {
                    cut = i + 1;
                }
            }
        }
        Cte::QuotedPrintable => {
            #[derive(PartialEq)]
            enum State {
                Text,
                Eq,
                Hex,
            }
            let mut state = State::Text;
            let mut spaces = 0usize;
            let hex = |ch: u8| HEX_MAP[usize::from(ch)] != -1;
            for (i, &ch) in data.iter().enumerate() {
                match (ch, &state) {
                    (b'=', State::Text) => state = State::Eq,
                    (b'=', _) => return data.len(),
                    (b'\n', _) => {
                        if state == State::Eq {
                            state = State::Text;
                        }
                        spaces = 0;
                    }
                    (b'\r', _) => {}
                    (_, State::Text) if ch.is_ascii_whitespace() => spaces += 1,
                    (_, State::Text) => spaces = 0,
                    (_, State::Eq) if hex(ch) => state = State::Hex,
                    (_, State::Eq) if ch.is_ascii_whitespace() => {}
                    (_, State::Hex) if hex(ch) => {
                        state = State::Text;
                        spaces = 0;
                    }
                    _ => return data.len(),
                }
                if state == State::Text && spaces == 0 {
                    cut = i + 1;
                }
            }
        }
    }
    cut
}

/// Whether base64 decoding stops in `block`: `mail-parser`'s decoder ends
/// its input at the first 0xFF, and ignores what follows.
fn ends_base64(block: &[u8], cte: Cte) -> bool {
    cte == Cte::Base64 && memchr::memchr(0xff, block).is_some()
}

/// The most encoded octets held back waiting for a place to cut: past
/// it, reading fails rather than grow.
const MAX_CARRY: usize = 4 * 1024 * 1024;

/// A content read a page at a time from a message in a file: a section
/// (`BODY[section]<partial>`) or a BINARY section, as made by
/// [`StoredMessage`](super::StoredMessage). It reads the file's view with
/// CRLF line ends, so what it gives equals what the in-memory functions
/// give for the message with CRLF line ends.
///
/// The length of a literal must be known before it is sent:
/// [`measure`](Content::measure) reads the content once to count it (and
/// meets any decoding error there), then [`Read`] gives it.
pub struct Content {
    source: FileSource,
    pieces: Vec<Piece>,
    decoded: bool,
    /// The partial range: octets skipped, and the most given after them.
    skip: u64,
    limit: u64,
    /// Where reading is: the piece and the offset in it.
    piece: usize,
    at: usize,
    /// Encoded octets waiting for a place to cut, and whether the
    /// quoted-printable decoder has seen a CR (it then ends lines with
    /// CRLF).
    carry: Vec<u8>,
    seen_cr: bool,
    /// Octets made and not given yet, and how many were made before them.
    out: Vec<u8>,
    out_at: usize,
    made: u64,
}

impl std::fmt::Debug for Content {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Content")
            .field("pieces", &self.pieces)
            .field("decoded", &self.decoded)
            .finish_non_exhaustive()
    }
}

/// What [`Content::measure`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Measure {
    /// The content's length in octets.
    pub len: u64,
    /// Whether it holds a NUL (BINARY then needs a literal8).
    pub nul: bool,
}

impl Content {
    pub(crate) fn new(
        source: FileSource,
        pieces: Vec<Piece>,
        decoded: bool,
        partial: Option<&super::Partial>,
    ) -> Content {
        Content {
            source,
            pieces,
            decoded,
            skip: partial.map_or(0, |p| p.offset()),
            limit: partial.map_or(u64::MAX, |p| p.length().get()),
            piece: 0,
            at: 0,
            carry: Vec::new(),
            seen_cr: false,
            out: Vec::new(),
            out_at: 0,
            made: 0,
        }
    }

    /// True when something was decoded (a BINARY answer is then sent as a
    /// literal8 when it holds a NUL, as Dovecot does).
    pub fn decoded(&self) -> bool {
        self.decoded
    }

    /// Reads the content through once: its length and whether it holds a
    /// NUL, or the decoding fault it has (anywhere, also past a partial
    /// range). Reading starts again from the beginning afterwards.
    pub fn measure(&mut self) -> io::Result<Measure> {
        self.rewind();
        let mut m = Measure { len: 0, nul: false };
        let mut buf = vec![0; PAGE];
        loop {
            let n = self.read(&mut buf)?;
            if n == 0 {
                break;
            }
            m.len += n as u64;
            m.nul |= memchr::memchr(0, &buf[..n]).is_some();
        }
        // The content past a partial range is decoded too: a fault there
        // fails the section as it does in memory.
        while self.make()? {}
        self.rewind();
        Ok(m)
    }

    /// The content's length: counted from the pieces when nothing is
    /// decoded (the file's view has CRLF line ends already), measured
    /// otherwise (see [`measure`](Content::measure)).
    pub fn length(&mut self) -> io::Result<u64> {
        let mut total = 0u64;
        for piece in &self.pieces {
            total += match piece {
                Piece::Copy(r) => (r.end.min(self.source.len()).saturating_sub(r.start)) as u64,
                Piece::Insert(bytes) => bytes.len() as u64,
                Piece::Decode(..) => return self.measure().map(|m| m.len),
            };
        }
        Ok(total.saturating_sub(self.skip).min(self.limit))
    }

    fn rewind(&mut self) {
        self.piece = 0;
        self.at = 0;
        self.carry.clear();
        self.seen_cr = false;
        self.out.clear();
        self.out_at = 0;
        self.made = 0;
    }

    /// Makes the next octets of the whole content into `out`; false at
    /// the end.
    fn make(&mut self) -> io::Result<bool> {
        self.out.clear();
        self.out_at = 0;
        while self.out.is_empty() {
            let Some(piece) = self.pieces.get(self.piece) else {
                return Ok(false);
            };
            match piece {
                Piece::Insert(bytes) => {
                    self.out.extend_from_slice(bytes);
                    self.next_piece();
                }
                Piece::Copy(r) => {
                    let from = r.start + self.at;
                    let to = r.end.min(from + PAGE);
                    if from >= to {
                        self.next_piece();
                        continue;
                    }
                    let n = self.source.append(from, to, &mut self.out);
                    self.check(n == to - from)?;
                    self.at += to - from;
                }
                Piece::Decode(r, cte) => {
                    let (r, cte) = (r.clone(), *cte);
                    let from = r.start + self.at;
                    let to = r.end.min(from + PAGE);
                    let last = to >= r.end;
                    if from < to {
                        let n = self.source.append(from, to, &mut self.carry);
                        self.check(n == to - from)?;
                        self.at += to - from;
                    }
                    let cut = if last {
                        self.carry.len()
                    } else {
                        safe_cut(&self.carry, cte)
                    };
                    if cut == 0 && self.carry.len() > MAX_CARRY {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "encoded content without a place to cut it",
                        ));
                    }
                    if cut > 0 {
                        let mut block = Vec::with_capacity(cut + 1);
                        if cte == Cte::QuotedPrintable && self.seen_cr {
                            // Gives the decoder its CR state back.
                            block.push(b'\r');
                        }
                        block.extend_from_slice(&self.carry[..cut]);
                        self.seen_cr |= memchr::memchr(b'\r', &self.carry[..cut]).is_some();
                        self.carry.drain(..cut);
                        let decoded = decode(&block, cte).ok_or_else(|| {
                            io::Error::new(io::ErrorKind::InvalidData, BinaryError::InvalidContent)
                        })?;
                        self.out.extend_from_slice(&decoded);
                        if ends_base64(&block, cte) {
                            self.next_piece();
                            continue;
                        }
                    }
                    if last {
                        self.next_piece();
                    }
                }
            }
        }
        Ok(true)
    }

    fn next_piece(&mut self) {
        self.piece += 1;
        self.at = 0;
        self.carry.clear();
        self.seen_cr = false;
    }

    /// Fails with the source's read error when a read came back short.
    fn check(&self, complete: bool) -> io::Result<()> {
        match (complete, self.source.error()) {
            (true, None) => Ok(()),
            (_, Some(e)) => Err(e),
            (false, None) => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the message file ended early",
            )),
        }
    }
}

impl Read for Content {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let end = self.skip.saturating_add(self.limit);
        loop {
            if self.out_at == self.out.len() && (self.made >= end || !self.make()?) {
                return Ok(0);
            }
            // `made` counts the octets of `out` before `out_at` too.
            let here = self.made;
            let avail = (self.out.len() - self.out_at) as u64;
            if here + avail <= self.skip {
                self.made += avail;
                self.out_at = self.out.len();
                continue;
            }
            let from = self.skip.saturating_sub(here);
            let upto = avail.min(end.saturating_sub(here));
            if from >= upto {
                self.made += avail;
                self.out_at = self.out.len();
                continue;
            }
            let n = usize::try_from(upto - from).unwrap_or(usize::MAX).min(buf.len());
            let start = self.out_at + from as usize;
            buf[..n].copy_from_slice(&self.out[start..start + n]);
            self.out_at = start + n;
            self.made = here + from + n as u64;
            return Ok(n);
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Decoding in blocks cut by `safe_cut` gives what decoding the whole
    /// gives, whatever the block sizes.
    fn blocks_decode_like_the_whole(data: &[u8], cte: Cte, sizes: &[usize]) {
        let whole = decode(data, cte);
        let mut out = Vec::new();
        let mut carry = Vec::new();
        let mut seen_cr = false;
        let mut rest = data;
        let mut failed = false;
        for &size in sizes.iter().cycle() {
            let take = size.max(1).min(rest.len());
            carry.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            let cut = if rest.is_empty() {
                carry.len()
            } else {
                safe_cut(&carry, cte)
            };
            let mut block = Vec::new();
            if cte == Cte::QuotedPrintable && seen_cr {
                block.push(b'\r');
            }
            block.extend_from_slice(&carry[..cut]);
            seen_cr |= carry[..cut].contains(&b'\r');
            carry.drain(..cut);
            match decode(&block, cte) {
                Some(d) => out.extend_from_slice(&d),
                None => failed = true,
            }
            if rest.is_empty() || ends_base64(&block, cte) {
                break;
            }
        }
        match whole {
            Some(w) => {
                assert!(!failed, "a block failed where the whole decodes");
                assert_eq!(out, w);
            }
            None => assert!(failed, "the whole fails, so must a block"),
        }
    }

    fn encoded() -> impl Strategy<Value = Vec<u8>> {
        let alphabet: Vec<u8> = b"AZaz09+/=  \t\r\n\r\n=3D=20=\r\n-_!\x00\xff".to_vec();
        proptest::collection::vec(proptest::sample::select(alphabet), 0..200)
    }

    proptest! {
        #[test]
        fn base64_blocks(data in encoded(), sizes in proptest::collection::vec(1usize..9, 1..5)) {
            blocks_decode_like_the_whole(&data, Cte::Base64, &sizes);
        }

        #[test]
        fn quoted_printable_blocks(data in encoded(), sizes in proptest::collection::vec(1usize..9, 1..5)) {
            blocks_decode_like_the_whole(&data, Cte::QuotedPrintable, &sizes);
        }
    }

    #[test]
    fn known_cuts() {
        assert_eq!(safe_cut(b"QUJD\r\nRE", Cte::Base64), 6);
        assert_eq!(safe_cut(b"QQ==QU", Cte::Base64), 4);
        assert_eq!(safe_cut(b"a=3Db=\r\nc  ", Cte::QuotedPrintable), 9);
        assert_eq!(safe_cut(b"ab=4", Cte::QuotedPrintable), 2);
    }
}

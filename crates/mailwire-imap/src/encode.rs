//! Encoding into fragments: lines and the literals between them.
//!
//! A client must wait for the server's continuation request before sending
//! the data of a synchronizing literal, so an encoded message is a list of
//! [`Fragment`]s: each line fragment ends right after a literal header (or
//! at the final CRLF), and each literal fragment holds the data that
//! follows, borrowed from the value being encoded.

use std::borrow::Cow;

use crate::decode::LiteralMode;
use crate::parse::put_number;
use crate::small_list::SmallList;

/// What the peer accepts, per connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LiteralPolicy {
    /// Only synchronizing literals (and every server-to-client literal).
    #[default]
    SyncOnly,
    /// LITERAL+ (RFC 7888): every literal may be non-synchronizing.
    LiteralPlus,
    /// LITERAL- (RFC 7888), and IMAP4rev2 servers: non-synchronizing
    /// literals of at most 4096 octets.
    LiteralMinus,
}

/// A piece of an encoded message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fragment<'a> {
    /// Bytes of a line; ends with CRLF, after a literal header or the end
    /// of the message.
    Line(Vec<u8>),
    /// Literal data.
    Literal {
        /// The data.
        data: Cow<'a, [u8]>,
        /// Whether the sender must wait for a continuation request first.
        mode: LiteralMode,
    },
}

/// The first line's initial capacity. A FETCH response with an envelope
/// and a body structure is about 1 KiB; growing a line from a few bytes
/// to that costs four reallocations, while an allocation of 1 KiB costs
/// no more than a small one (glibc serves both from its per-thread cache).
const LINE_CAPACITY: usize = 1024;

/// Builds the fragments of one message.
#[derive(Debug, Default)]
pub struct Encoder<'a> {
    fragments: SmallList<Fragment<'a>>,
    line: Vec<u8>,
    policy: LiteralPolicy,
    /// Literal data goes into `line` too: the whole message is one run of
    /// bytes in a caller's buffer (see [`Encoder::into_buffer`]).
    inline: bool,
}

impl<'a> Encoder<'a> {
    /// An encoder for a peer that accepts `policy`.
    pub fn new(policy: LiteralPolicy) -> Self {
        Encoder {
            fragments: SmallList::new(),
            line: Vec::with_capacity(LINE_CAPACITY),
            policy,
            inline: false,
        }
    }

    /// An encoder that appends the whole message, literal data included,
    /// to `buffer` (taken here and given back by
    /// [`finish_inline`](Encoder::finish_inline)): no fragment list, no
    /// allocation once the buffer has grown to its working size.
    pub(crate) fn into_buffer(policy: LiteralPolicy, buffer: Vec<u8>) -> Self {
        Encoder {
            fragments: SmallList::new(),
            line: buffer,
            policy,
            inline: true,
        }
    }

    /// Ends the message with CRLF and returns the buffer of an
    /// [`into_buffer`](Encoder::into_buffer) encoder.
    pub(crate) fn finish_inline(mut self) -> Vec<u8> {
        debug_assert!(self.inline && self.fragments.is_empty());
        self.line.extend_from_slice(b"\r\n");
        self.line
    }

    /// The line being written.
    pub(crate) fn line(&mut self) -> &mut Vec<u8> {
        &mut self.line
    }

    /// Appends bytes to the current line.
    pub(crate) fn put(&mut self, bytes: &[u8]) {
        self.line.extend_from_slice(bytes);
    }

    /// Appends a decimal number.
    pub(crate) fn number(&mut self, n: u64) {
        put_number(&mut self.line, n);
    }

    /// Writes a literal header, ends the line there, and adds the data.
    pub(crate) fn literal(&mut self, data: &'a [u8], binary: bool) {
        let len = data.len() as u64;
        let mode = match self.policy {
            LiteralPolicy::LiteralPlus => LiteralMode::NonSync,
            LiteralPolicy::LiteralMinus if len <= 4096 => LiteralMode::NonSync,
            _ => LiteralMode::Sync,
        };
        if binary {
            self.line.push(b'~');
        }
        self.line.push(b'{');
        put_number(&mut self.line, len);
        if mode == LiteralMode::NonSync {
            self.line.push(b'+');
        }
        self.line.extend_from_slice(b"}\r\n");
        if self.inline {
            self.line.extend_from_slice(data);
            return;
        }
        self.fragments
            .push(Fragment::Line(std::mem::take(&mut self.line)));
        self.fragments.push(Fragment::Literal {
            data: Cow::Borrowed(data),
            mode,
        });
    }

    /// Ends the message with CRLF and returns its fragments. A message
    /// without literals is one line, kept inline in the list.
    pub fn finish(mut self) -> SmallList<Fragment<'a>> {
        self.line.extend_from_slice(b"\r\n");
        self.fragments.push(Fragment::Line(self.line));
        self.fragments
    }
}

/// Joins fragments into the bytes on the wire (for tests, servers, and
/// peers that do not wait).
pub fn to_bytes(fragments: &[Fragment<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for f in fragments {
        match f {
            Fragment::Line(l) => out.extend_from_slice(l),
            Fragment::Literal { data, .. } => out.extend_from_slice(data),
        }
    }
    out
}

/// What `f` writes, without the CRLF the encoder ends with: the unit
/// tests' view of one encoded piece.
#[cfg(test)]
pub(crate) fn encoded<'e>(f: impl FnOnce(&mut Encoder<'e>)) -> Vec<u8> {
    let mut e = Encoder::new(LiteralPolicy::SyncOnly);
    f(&mut e);
    let mut out = to_bytes(&e.finish());
    out.truncate(out.len() - 2);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_policies() {
        for (policy, header) in [
            (LiteralPolicy::SyncOnly, &b"A {5}\r\n"[..]),
            (LiteralPolicy::LiteralPlus, b"A {5+}\r\n"),
            (LiteralPolicy::LiteralMinus, b"A {5+}\r\n"),
        ] {
            let mut e = Encoder::new(policy);
            e.put(b"A ");
            e.literal(b"hello", false);
            e.put(b" B");
            let f = e.finish();
            assert_eq!(f.len(), 3);
            assert_eq!(f[0], Fragment::Line(header.to_vec()));
            assert_eq!(to_bytes(&f), [header, b"hello B\r\n"].concat());
        }
        let big = vec![b'x'; 4097];
        let mut e = Encoder::new(LiteralPolicy::LiteralMinus);
        e.literal(&big, false);
        assert!(matches!(
            e.finish()[1],
            Fragment::Literal {
                mode: LiteralMode::Sync,
                ..
            }
        ));
    }
}

//! The home of [`Fragment`] and what goes with it; the explanation of this
//! part of the grammar is on that type, where the rendered documentation
//! shows it.

use std::borrow::Cow;

use crate::decode::LiteralMode;
use crate::parse::put_number;
use crate::small_list::inline_list;
use crate::string::{Atom, TypeError, check_char8, is_astring_char, quotable, write_quoted};

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
///
/// Encoding into fragments: lines and the literals between them.
///
/// A client must wait for the server's continuation request before sending
/// the data of a synchronizing literal, so an encoded message is a list of
/// [`Fragment`]s: each line fragment ends right after a literal header (or
/// at the final CRLF), and each literal fragment holds the data that
/// follows, borrowed from the value being encoded.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
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

inline_list!(
    /// The fragments of one encoded message, in order: what
    /// [`Command::encode`](crate::Command::encode),
    /// [`Response::encode`](crate::Response::encode) and
    /// [`Encoder::finish`] return. A message without literals is one line,
    /// kept inline, so the list itself allocates nothing. It is used as a
    /// `Vec` is: it dereferences to a slice (so [`to_bytes`] takes it as
    /// it is), converts into a `Vec` and iterates, by value too.
    ///
    /// ```
    /// use mailwire_imap::{Fragment, LiteralPolicy, Response, to_bytes};
    ///
    /// let fragments = Response::Exists(3).encode();
    /// assert_eq!(fragments.len(), 1);
    /// assert_eq!(to_bytes(&fragments), b"* 3 EXISTS\r\n");
    /// for fragment in fragments {
    ///     assert!(matches!(fragment, Fragment::Line(_)));
    /// }
    /// # let _ = LiteralPolicy::SyncOnly;
    /// ```
    Fragments,
    Fragment
);

/// The first line's initial capacity. A FETCH response with an envelope
/// and a body structure is about 1 KiB; growing a line from a few bytes
/// to that costs four reallocations, while an allocation of 1 KiB costs
/// no more than a small one (glibc serves both from its per-thread cache).
const LINE_CAPACITY: usize = 1024;

/// Writes one message: the lines, and the literals between them.
///
/// Every command and response of the crate encodes through an `Encoder`.
/// It is public so that a program can write what the crate does not model
/// (a vendor command, an extension's arguments, a value of its own) with
/// the same rules as the crate's own values: each string takes its
/// cheapest valid form (atom, quoted string, literal), and a literal's
/// header says `{n}` or `{n+}` as the peer's [`LiteralPolicy`] allows,
/// with the line ending there so that a client can wait for the
/// continuation request before the data. The writing surface is small on
/// purpose: raw bytes for the keywords and spaces the caller's grammar
/// asks for, numbers, strings, and the end of the message; what a value
/// needs beyond that, the caller composes from these.
///
/// ```
/// use mailwire_imap::{Atom, Encoder, Fragment, LiteralMode, LiteralPolicy, to_bytes};
///
/// // A vendor command: `a1 XSETNOTE <astring> <string>`.
/// let note = b"line one\r\nline two";
/// let mut e = Encoder::new(LiteralPolicy::SyncOnly);
/// e.put(b"a1 XSETNOTE ");
/// e.astring(b"INBOX")?; // an atom
/// e.put(b" ");
/// e.string(note)?; // holds CRLF: a literal
/// let fragments = e.finish();
/// assert_eq!(fragments[0], Fragment::Line(b"a1 XSETNOTE INBOX {18}\r\n".to_vec()));
/// assert!(matches!(fragments[1], Fragment::Literal { mode: LiteralMode::Sync, .. }));
/// assert_eq!(to_bytes(&fragments), b"a1 XSETNOTE INBOX {18}\r\nline one\r\nline two\r\n");
///
/// // The same writer, straight to bytes, for a peer that takes LITERAL+.
/// let mut e = Encoder::new(LiteralPolicy::LiteralPlus);
/// e.put(b"a2 XPRIORITY ");
/// e.number(3);
/// e.put(b" ");
/// e.atom(&Atom::new("High")?);
/// e.put(b" ");
/// e.string(b"say \"hi\"")?; // quoted, escaped
/// e.put(b" ");
/// e.nstring(None)?;
/// e.put(b" ");
/// e.literal(b"x")?; // a literal even though it could be quoted
/// assert_eq!(e.finish_bytes(), b"a2 XPRIORITY 3 High \"say \\\"hi\\\"\" NIL {1+}\r\nx\r\n");
/// # Ok::<(), mailwire_imap::TypeError>(())
/// ```
#[derive(Debug, Default)]
pub struct Encoder<'a> {
    fragments: Fragments<'a>,
    line: Vec<u8>,
    policy: LiteralPolicy,
    /// Literal data goes into `line` too: the whole message is one run of
    /// bytes in a caller's buffer (see [`Encoder::into_buffer`]).
    inline: bool,
    /// The string being written may be a `literal8` (BINARY data, a
    /// METADATA value): see [`Encoder::with_literal8`].
    literal8: bool,
}

impl<'a> Encoder<'a> {
    /// An encoder for a peer that accepts `policy`.
    pub fn new(policy: LiteralPolicy) -> Self {
        Encoder {
            fragments: Fragments::new(),
            line: Vec::with_capacity(LINE_CAPACITY),
            policy,
            inline: false,
            literal8: false,
        }
    }

    /// Runs `write` where the grammar allows a `literal8` (`nstring /
    /// literal8`: BINARY data, a METADATA value, URLFETCH's BINARY).
    /// Elsewhere a string held as a literal8 (an [`IString`] made with
    /// [`Literal::binary`](crate::Literal::binary)) is written as a
    /// literal, which takes any octet but NUL; one that holds NUL fits no
    /// form there, and is written as the literal8 it is, for the peer to
    /// refuse.
    ///
    /// [`IString`]: crate::IString
    pub(crate) fn with_literal8(&mut self, write: impl FnOnce(&mut Self)) {
        let outer = std::mem::replace(&mut self.literal8, true);
        write(self);
        self.literal8 = outer;
    }

    /// Whether a string held as a literal8 of `data` is written as one
    /// here: where the grammar allows it, or where nothing else holds it.
    pub(crate) fn keeps_literal8(&self, data: &[u8]) -> bool {
        self.literal8 || memchr::memchr(0, data).is_some()
    }

    /// An encoder that appends the whole message, literal data included,
    /// to `buffer` (taken here and given back by
    /// [`finish_inline`](Encoder::finish_inline)): no fragment list, no
    /// allocation once the buffer has grown to its working size.
    pub(crate) fn into_buffer(policy: LiteralPolicy, buffer: Vec<u8>) -> Self {
        Encoder {
            fragments: Fragments::new(),
            line: buffer,
            policy,
            inline: true,
            literal8: false,
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

    /// Appends bytes to the current line as they are: keywords, spaces,
    /// parentheses. Nothing is checked; a CR or LF here breaks the
    /// message's framing, so values go through the string methods.
    pub fn put(&mut self, bytes: &[u8]) {
        self.line.extend_from_slice(bytes);
    }

    /// Appends a decimal number (`number`, `number64`).
    pub fn number(&mut self, n: u64) {
        put_number(&mut self.line, n);
    }

    /// Appends an atom.
    pub fn atom(&mut self, atom: &Atom<'_>) {
        self.put(atom.as_str().as_bytes());
    }

    /// Appends `value` as an `astring` in its cheapest form: an atom when
    /// every byte is an `ASTRING-CHAR`, else as [`string`](Encoder::string)
    /// does. Fails only for a NUL byte, which no form can carry.
    pub fn astring(&mut self, value: &'a [u8]) -> Result<(), TypeError> {
        if !value.is_empty() && value.iter().all(|&b| is_astring_char(b)) {
            self.put(value);
            return Ok(());
        }
        self.string(value)
    }

    /// Appends `value` as a `string`: quoted (escaped where needed) when it
    /// can be, a literal otherwise (CR, LF, 8-bit bytes that are not UTF-8,
    /// or more than 1 KiB). Fails only for a NUL byte.
    pub fn string(&mut self, value: &'a [u8]) -> Result<(), TypeError> {
        if quotable(value) {
            write_quoted(&mut self.line, value);
            return Ok(());
        }
        self.literal(value)
    }

    /// Appends `value` as an `nstring`: `NIL` for `None`, else as
    /// [`string`](Encoder::string) does.
    pub fn nstring(&mut self, value: Option<&'a [u8]>) -> Result<(), TypeError> {
        match value {
            Some(v) => self.string(v),
            None => {
                self.put(b"NIL");
                Ok(())
            }
        }
    }

    /// Appends `data` as a literal whatever it holds: the header, then
    /// (outside an inline buffer) the end of the line and the data as a
    /// fragment of its own. Fails for a NUL byte (`CHAR8`); see
    /// [`literal8`](Encoder::literal8).
    pub fn literal(&mut self, data: &'a [u8]) -> Result<(), TypeError> {
        check_char8(data)?;
        self.literal_data(data, false);
        Ok(())
    }

    /// Appends `data` as a `literal8` (`~{n}`, RFC 3516), which may hold
    /// any octet; only where the grammar allows one (APPEND and
    /// CATENATE data with BINARY, BINARY[] responses).
    pub fn literal8(&mut self, data: &'a [u8]) {
        self.literal_data(data, true);
    }

    /// Writes a literal header, ends the line there, and adds the data.
    pub(crate) fn literal_data(&mut self, data: &'a [u8], binary: bool) {
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
    pub fn finish(mut self) -> Fragments<'a> {
        self.line.extend_from_slice(b"\r\n");
        self.fragments.push(Fragment::Line(self.line));
        self.fragments
    }

    /// Ends the message with CRLF and returns its bytes, literal data
    /// included: for a server, or a client whose peer will not make it
    /// wait (LITERAL+).
    pub fn finish_bytes(self) -> Vec<u8> {
        to_bytes(&self.finish())
    }
}

/// Writes what `encode` puts on the wire to `f`, literal data in place and
/// without the final CRLF: the `Display` of a value with a wire form.
/// Bytes that are not UTF-8 show as U+FFFD.
pub(crate) fn fmt_wire<'e>(
    f: &mut std::fmt::Formatter<'_>,
    encode: impl FnOnce(&mut Encoder<'e>),
) -> std::fmt::Result {
    let mut e = Encoder::into_buffer(LiteralPolicy::SyncOnly, Vec::new());
    encode(&mut e);
    f.write_str(&String::from_utf8_lossy(&e.line))
}

/// Implements `Display` as the wire form for types with an
/// `encode(&self, &mut Encoder)` method, each with its doc line.
macro_rules! display_wire {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        impl std::fmt::Display for $name<'_> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                $crate::encode::fmt_wire(f, |e| self.encode(e))
            }
        }
    )*};
}

pub(crate) use display_wire;

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

    /// The public writers pick the cheapest valid form, as the typed
    /// values' constructors do.
    #[test]
    fn strings_take_their_cheapest_form() {
        fn write<'v>(
            f: impl FnOnce(&mut Encoder<'v>) -> Result<(), TypeError>,
        ) -> Result<Vec<u8>, TypeError> {
            let mut e = Encoder::new(LiteralPolicy::LiteralPlus);
            f(&mut e).map(|()| e.finish_bytes())
        }
        let long = vec![b'a'; 1025];
        for (value, astring, string) in [
            (&b"INBOX"[..], &b"INBOX\r\n"[..], &b"\"INBOX\"\r\n"[..]),
            (b"a]b", b"a]b\r\n", b"\"a]b\"\r\n"),
            (b"", b"\"\"\r\n", b"\"\"\r\n"),
            (b"two words", b"\"two words\"\r\n", b"\"two words\"\r\n"),
            (b"a\"b\\", b"\"a\\\"b\\\\\"\r\n", b"\"a\\\"b\\\\\"\r\n"),
            (
                "café".as_bytes(),
                "\"café\"\r\n".as_bytes(),
                "\"café\"\r\n".as_bytes(),
            ),
            (b"caf\xe9", b"{4+}\r\ncaf\xe9\r\n", b"{4+}\r\ncaf\xe9\r\n"),
            (b"a\r\nb", b"{4+}\r\na\r\nb\r\n", b"{4+}\r\na\r\nb\r\n"),
        ] {
            assert_eq!(write(|e| e.astring(value)).unwrap(), astring, "{value:?}");
            assert_eq!(write(|e| e.string(value)).unwrap(), string, "{value:?}");
            assert_eq!(write(|e| e.nstring(Some(value))).unwrap(), string, "{value:?}");
        }
        // Past 1 KiB a literal is cheaper to read than a quoted string.
        assert!(write(|e| e.string(&long)).unwrap().starts_with(b"{1025+}\r\n"));
        assert_eq!(write(|e| e.nstring(None)).unwrap(), b"NIL\r\n");
        // NUL fits no form but literal8.
        let nul = &b"a\0b"[..];
        for f in [Encoder::astring, Encoder::string, Encoder::literal] {
            let e = write(|e| f(e, nul)).unwrap_err();
            assert_eq!((e.byte, e.position), (Some(0), Some(1)));
        }
        assert_eq!(
            write(|e| {
                e.literal8(b"a\0b");
                Ok(())
            })
            .unwrap(),
            b"~{3+}\r\na\0b\r\n"
        );
        let mut e = Encoder::new(LiteralPolicy::SyncOnly);
        e.put(b"X ");
        e.number(u64::MAX);
        e.put(b" ");
        e.atom(&Atom::new("FLAG").unwrap());
        assert_eq!(
            e.finish().into_vec(),
            [Fragment::Line(b"X 18446744073709551615 FLAG\r\n".to_vec())]
        );
    }

    #[test]
    fn literal_policies() {
        for (policy, header) in [
            (LiteralPolicy::SyncOnly, &b"A {5}\r\n"[..]),
            (LiteralPolicy::LiteralPlus, b"A {5+}\r\n"),
            (LiteralPolicy::LiteralMinus, b"A {5+}\r\n"),
        ] {
            let mut e = Encoder::new(policy);
            e.put(b"A ");
            e.literal(b"hello").unwrap();
            e.put(b" B");
            let f = e.finish();
            assert_eq!(f.len(), 3);
            assert_eq!(f[0], Fragment::Line(header.to_vec()));
            assert_eq!(to_bytes(&f), [header, b"hello B\r\n"].concat());
        }
        let big = vec![b'x'; 4097];
        let mut e = Encoder::new(LiteralPolicy::LiteralMinus);
        e.literal(&big).unwrap();
        assert!(matches!(
            e.finish()[1],
            Fragment::Literal {
                mode: LiteralMode::Sync,
                ..
            }
        ));
    }
}

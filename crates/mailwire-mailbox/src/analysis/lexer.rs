//! A small RFC 5322 / RFC 2045 lexer over a raw header value: CFWS, atoms,
//! MIME tokens, quoted strings and domain literals. Everything borrows from
//! the input unless a quoted-pair forces an unescaped copy.

use std::borrow::Cow;

/// Character classes, one bit each.
const ATEXT: u8 = 1;
const TOKEN: u8 = 2;

const fn classes() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        let mut c = 0;
        // RFC 5322 atext; bytes >= 0x80 are accepted as Dovecot does with
        // unencoded 8-bit headers.
        if b.is_ascii_alphanumeric() || b >= 0x80 {
            c |= ATEXT;
        }
        if matches!(
            b,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'/'
                | b'='
                | b'?'
                | b'^'
                | b'_'
                | b'`'
                | b'{'
                | b'|'
                | b'}'
                | b'~'
        ) {
            c |= ATEXT;
        }
        // RFC 2045 token: any CHAR except SPACE, CTLs and tspecials.
        if b > 0x20
            && b != 0x7f
            && !matches!(
                b,
                b'(' | b')'
                    | b'<'
                    | b'>'
                    | b'@'
                    | b','
                    | b';'
                    | b':'
                    | b'\\'
                    | b'"'
                    | b'/'
                    | b'['
                    | b']'
                    | b'?'
                    | b'='
            )
        {
            c |= TOKEN;
        }
        t[i] = c;
        i += 1;
    }
    t
}

static CLASS: [u8; 256] = classes();

/// The lexer state: a position in a header value.
pub(crate) struct Lexer<'a> {
    s: &'a [u8],
    pos: usize,
    /// Content (without the parentheses) of the last comment skipped.
    pub last_comment: Option<&'a [u8]>,
}

/// A quoted string or comment ran to the end of the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unterminated;

impl<'a> Lexer<'a> {
    pub(crate) fn new(s: &'a [u8]) -> Self {
        Lexer {
            s,
            pos: 0,
            last_comment: None,
        }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn set_pos(&mut self, pos: usize) {
        self.pos = pos.min(self.s.len());
    }

    pub(crate) fn input(&self) -> &'a [u8] {
        self.s
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }

    pub(crate) fn bump(&mut self) {
        if self.pos < self.s.len() {
            self.pos += 1;
        }
    }

    /// Consumes `b` if it is next.
    pub(crate) fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Skips whitespace, line breaks and (nested) comments, remembering the
    /// last comment. An unterminated comment swallows the rest of the value.
    pub(crate) fn skip_cfws(&mut self) -> Result<(), Unterminated> {
        loop {
            match self.peek() {
                Some(b' ' | b'\t' | b'\r' | b'\n') => self.pos += 1,
                Some(b'(') => {
                    let start = self.pos + 1;
                    let mut depth = 0usize;
                    loop {
                        match self.peek() {
                            None => {
                                // A quoted-pair at the very end stepped past it.
                                self.pos = self.s.len();
                                self.last_comment = self.s.get(start..);
                                return Err(Unterminated);
                            }
                            Some(b'\\') => self.pos += 2,
                            Some(b'(') => {
                                depth += 1;
                                self.pos += 1;
                            }
                            Some(b')') => {
                                depth -= 1;
                                self.pos += 1;
                                if depth == 0 {
                                    break;
                                }
                            }
                            Some(_) => self.pos += 1,
                        }
                    }
                    self.pos = self.pos.min(self.s.len());
                    self.last_comment = self.s.get(start..self.pos - 1);
                }
                _ => return Ok(()),
            }
        }
    }

    fn run(&mut self, class: u8) -> &'a [u8] {
        let start = self.pos;
        while let Some(b) = self.peek() {
            if CLASS[usize::from(b)] & class == 0 {
                break;
            }
            self.pos += 1;
        }
        &self.s[start..self.pos]
    }

    /// An RFC 5322 atom (possibly empty).
    pub(crate) fn atom(&mut self) -> &'a [u8] {
        self.run(ATEXT)
    }

    /// An RFC 2045 token (possibly empty).
    pub(crate) fn token(&mut self) -> &'a [u8] {
        self.run(TOKEN)
    }

    /// A quoted string starting at the current `"`; returns its content with
    /// quoted-pairs resolved and the line breaks of folding removed (RFC
    /// 5322 section 3.2.4: a folded `"a\r\n b"` is `a b`), borrowed when
    /// there are neither.
    pub(crate) fn quoted_string(&mut self) -> Result<Cow<'a, [u8]>, Unterminated> {
        debug_assert_eq!(self.peek(), Some(b'"'));
        self.pos += 1;
        let start = self.pos;
        let mut rewrite = false;
        loop {
            match self.peek() {
                None => return Err(Unterminated),
                Some(b'"') => break,
                Some(b'\\') => {
                    rewrite = true;
                    self.pos += 2;
                    if self.pos > self.s.len() {
                        self.pos = self.s.len();
                        return Err(Unterminated);
                    }
                }
                Some(b'\n') => {
                    rewrite = true;
                    self.pos += 1;
                }
                Some(_) => self.pos += 1,
            }
        }
        let content = &self.s[start..self.pos];
        self.pos += 1;
        if !rewrite {
            return Ok(Cow::Borrowed(content));
        }
        let mut out = Vec::with_capacity(content.len());
        let mut it = content.iter().peekable();
        while let Some(&b) = it.next() {
            match b {
                b'\\' => out.extend(it.next()),
                // A line break (LF, or CR LF) goes; a lone CR stays, as in
                // Dovecot.
                b'\n' => {}
                b'\r' if it.peek() == Some(&&b'\n') => {}
                _ => out.push(b),
            }
        }
        Ok(Cow::Owned(out))
    }

    /// A domain literal starting at the current `[`, brackets included.
    pub(crate) fn domain_literal(&mut self) -> Result<&'a [u8], Unterminated> {
        let start = self.pos;
        loop {
            match self.peek() {
                None => return Err(Unterminated),
                Some(b']') => {
                    self.pos += 1;
                    return Ok(&self.s[start..self.pos]);
                }
                Some(b'\\') => self.pos = (self.pos + 2).min(self.s.len()),
                Some(_) => self.pos += 1,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `mailbox_analysis` fuzz target: a comment ending in a
    /// lone backslash left the position past the end, and the next token
    /// sliced out of range (a Content-Type of `MULTIPART/Mixed (x\`).
    #[test]
    fn a_comment_cut_after_a_backslash_leaves_the_lexer_at_the_end() {
        let mut l = Lexer::new(b"(comment \\");
        assert_eq!(l.skip_cfws(), Err(Unterminated));
        assert!(l.at_end());
        assert_eq!(l.token(), b"");
        assert_eq!(l.atom(), b"");
        let parsed = crate::analysis::mime::content_type(b"MULTIPART/Mixed (x\\");
        assert_eq!(parsed.media_type, b"MULTIPART");
        assert_eq!(parsed.subtype, b"Mixed");
    }

    #[test]
    fn comments_nest_and_are_remembered() {
        let mut l = Lexer::new(b" (a (b) \\) c) x");
        assert_eq!(l.skip_cfws(), Ok(()));
        assert_eq!(l.last_comment, Some(&b"a (b) \\) c"[..]));
        assert_eq!(l.atom(), b"x");
        let mut l = Lexer::new(b"(open");
        assert_eq!(l.skip_cfws(), Err(Unterminated));
        assert!(l.at_end());
    }

    #[test]
    fn quoted_strings_unescape_only_when_needed() {
        let mut l = Lexer::new(b"\"a b\"");
        assert!(matches!(l.quoted_string(), Ok(Cow::Borrowed(b"a b"))));
        let mut l = Lexer::new(b"\"a\\\"b\\\\\" rest");
        assert_eq!(l.quoted_string().as_deref(), Ok(&b"a\"b\\"[..]));
        assert_eq!(l.peek(), Some(b' '));
        let mut l = Lexer::new(b"\"open\\");
        assert_eq!(l.quoted_string(), Err(Unterminated));
        // Folding's line breaks go, its whitespace stays; an escaped CR
        // and a lone one are kept.
        let mut l = Lexer::new(b"\"a\r\n b\n\tc\\\rd\re\"");
        assert_eq!(l.quoted_string().as_deref(), Ok(&b"a b\tc\rd\re"[..]));
        let mut l = Lexer::new(b"\"x\ry\"");
        assert!(matches!(l.quoted_string(), Ok(Cow::Borrowed(b"x\ry"))));
    }

    #[test]
    fn tokens_and_atoms_differ_on_specials() {
        let mut l = Lexer::new(b"name*0*=x");
        assert_eq!(l.token(), b"name*0*");
        let mut l = Lexer::new(b"a/b");
        assert_eq!(l.atom(), b"a/b");
        let mut l = Lexer::new(b"a/b");
        assert_eq!(l.token(), b"a");
        let mut l = Lexer::new(b"[1.2.3.4] x");
        assert_eq!(l.domain_literal(), Ok(&b"[1.2.3.4]"[..]));
    }
}

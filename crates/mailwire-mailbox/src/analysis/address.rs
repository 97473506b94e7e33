//! Address lists (RFC 5322 section 3.4) split the way Dovecot splits them
//! for the IMAP ENVELOPE.
//!
//! What Dovecot does, and so what this does:
//! - the display name is the phrase before `<`, its quoted strings unquoted
//!   and its words joined by one space, then made "for humans" (runs of
//!   whitespace collapsed); encoded words (RFC 2047) are kept as they are;
//! - without a phrase, a comment *after* the addr-spec (`a@b (Real Name)`)
//!   becomes the name; a comment before it does not;
//! - a local part without `@domain` gets the host `MISSING_DOMAIN`, an
//!   `@domain` without local part the mailbox `MISSING_MAILBOX`, and an
//!   address that cannot be read at all (an unterminated quoted string) both;
//! - a group `name: a, b;` is a start marker (mailbox = group name, host
//!   NIL), its members, and an end marker (all four NIL);
//! - a source route `<@a,@b:x@y>` is the adl `@a,@b`.

use std::borrow::Cow;

use super::header::humanize;
use super::lexer::{Lexer, Unterminated};
use super::wire::{human, nstring};

/// Host given to an address whose domain is missing (Dovecot's placeholder).
pub const MISSING_DOMAIN: &[u8] = b"MISSING_DOMAIN";
/// Mailbox given to an address whose local part is missing (Dovecot's placeholder).
pub const MISSING_MAILBOX: &[u8] = b"MISSING_MAILBOX";

/// One address as read, before it takes its IMAP form
/// ([`mailwire_imap::Address`], through [`Address::into_imap`]); SEARCH
/// reads it too.
///
/// A group start has only `mailbox` (the group's name); a group end has no
/// field at all. Strings borrow from the message unless they had to be
/// rebuilt (unquoting, joining, whitespace collapsing).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Address<'a> {
    /// Display name (addr-name), `None` for NIL.
    pub name: Option<Cow<'a, [u8]>>,
    /// Source route (addr-adl), `None` for NIL.
    pub adl: Option<Cow<'a, [u8]>>,
    /// Local part, or the group name of a group start (addr-mailbox).
    pub mailbox: Option<Cow<'a, [u8]>>,
    /// Domain (addr-host); `None` for group markers.
    pub host: Option<Cow<'a, [u8]>>,
}

impl<'a> Address<'a> {
    /// True for the start-of-group marker (`NIL NIL name NIL`).
    pub(crate) fn is_group_start(&self) -> bool {
        self.host.is_none() && self.mailbox.is_some()
    }

    /// The ENVELOPE address, its strings in the form Dovecot sends them.
    pub(crate) fn into_imap(self) -> mailwire_imap::Address<'a> {
        mailwire_imap::Address {
            name: human(self.name, false),
            adl: nstring(self.adl),
            mailbox: nstring(self.mailbox),
            host: nstring(self.host),
        }
    }
}

fn missing<'a>() -> Address<'a> {
    Address {
        name: None,
        adl: None,
        mailbox: Some(Cow::Borrowed(MISSING_MAILBOX)),
        host: Some(Cow::Borrowed(MISSING_DOMAIN)),
    }
}

/// Joins `words` with `sep`, borrowing `input[span]` when it already reads
/// exactly like the joined result.
fn join<'a>(input: &'a [u8], span: (usize, usize), words: Vec<Cow<'a, [u8]>>, sep: &[u8]) -> Cow<'a, [u8]> {
    if words.len() == 1 {
        return words.into_iter().next().unwrap_or_default();
    }
    let mut out = Vec::new();
    for (i, w) in words.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(sep);
        }
        out.extend_from_slice(w);
    }
    match input.get(span.0..span.1) {
        Some(raw) if raw == out.as_slice() => Cow::Borrowed(raw),
        _ => Cow::Owned(out),
    }
}

/// A phrase: atoms (dots allowed, as in obs-phrase) and quoted strings.
/// Returns `None` when there is no word.
fn phrase<'a>(lx: &mut Lexer<'a>) -> Result<Option<Cow<'a, [u8]>>, Unterminated> {
    let mut words = Vec::new();
    let mut span = (0, 0);
    loop {
        lx.skip_cfws()?;
        let start = lx.pos();
        let word = match lx.peek() {
            Some(b'"') => {
                let w = lx.quoted_string()?;
                // The span of a quoted word is its content, for `join`.
                if words.is_empty() {
                    span.0 = start + 1;
                }
                span.1 = lx.pos() - 1;
                words.push(w);
                continue;
            }
            _ => dotted_atom(lx),
        };
        if word.is_empty() {
            break;
        }
        if words.is_empty() {
            span.0 = start;
        }
        span.1 = lx.pos();
        words.push(Cow::Borrowed(word));
    }
    if words.is_empty() {
        return Ok(None);
    }
    Ok(Some(join(lx.input(), span, words, b" ")))
}

/// An atom in which dots may appear anywhere (dot-atom and obs forms).
fn dotted_atom<'a>(lx: &mut Lexer<'a>) -> &'a [u8] {
    let start = lx.pos();
    loop {
        let a = lx.atom();
        if !lx.eat(b'.') && a.is_empty() {
            break;
        }
    }
    lx.input().get(start..lx.pos()).unwrap_or_default()
}

/// Local part or domain: dotted atoms, quoted strings (local part) or domain
/// literals (domain), concatenated. `None` when empty.
fn addr_segments<'a>(lx: &mut Lexer<'a>, domain: bool) -> Result<Option<Cow<'a, [u8]>>, Unterminated> {
    let mut segments: Vec<Cow<'a, [u8]>> = Vec::new();
    let mut span = (0, 0);
    loop {
        let before = lx.pos();
        lx.skip_cfws()?;
        let start = lx.pos();
        let seg: Cow<'a, [u8]> = match lx.peek() {
            Some(b'"') if !domain => lx.quoted_string()?,
            Some(b'[') if domain => Cow::Borrowed(lx.domain_literal()?),
            _ => Cow::Borrowed(dotted_atom(lx)),
        };
        if lx.pos() == start {
            lx.set_pos(before);
            break;
        }
        if segments.is_empty() {
            span.0 = start;
        }
        span.1 = lx.pos();
        segments.push(seg);
    }
    if segments.is_empty() {
        return Ok(None);
    }
    if segments.len() > 1 {
        // Borrow the raw span only when nothing (CFWS, quotes) sits inside it.
        let joined: Vec<u8> = segments.iter().flat_map(|s| s.iter().copied()).collect();
        return Ok(Some(match lx.input().get(span.0..span.1) {
            Some(raw) if raw == joined.as_slice() => Cow::Borrowed(raw),
            _ => Cow::Owned(joined),
        }));
    }
    Ok(segments.pop())
}

/// `local-part [@ domain]` into mailbox and host, with the placeholders.
fn addr_spec<'a>(lx: &mut Lexer<'a>, addr: &mut Address<'a>) -> Result<(), Unterminated> {
    let local = addr_segments(lx, false)?;
    lx.skip_cfws()?;
    let host = if lx.eat(b'@') {
        addr_segments(lx, true)?
    } else {
        None
    };
    addr.mailbox = Some(local.unwrap_or(Cow::Borrowed(MISSING_MAILBOX)));
    addr.host = Some(host.unwrap_or(Cow::Borrowed(MISSING_DOMAIN)));
    Ok(())
}

/// `<[route:]addr-spec>` after the `<`.
fn angle_addr<'a>(lx: &mut Lexer<'a>, addr: &mut Address<'a>) -> Result<(), Unterminated> {
    lx.skip_cfws()?;
    if lx.peek() == Some(b'@') {
        let mut domains = Vec::new();
        let route_start = lx.pos();
        let mut route_end = route_start;
        loop {
            lx.skip_cfws()?;
            if lx.eat(b',') {
                continue;
            }
            if !lx.eat(b'@') {
                break;
            }
            if let Some(d) = addr_segments(lx, true)? {
                domains.push(Cow::Owned([&b"@"[..], &d].concat()));
            }
            route_end = lx.pos();
        }
        lx.skip_cfws()?;
        if lx.eat(b':') && !domains.is_empty() {
            addr.adl = Some(join(lx.input(), (route_start, route_end), domains, b","));
        }
    }
    addr_spec(lx, addr)?;
    lx.skip_cfws()?;
    lx.eat(b'>');
    Ok(())
}

/// Skips to the next `,` (or `;` inside a group) after unreadable text.
fn skip_junk(lx: &mut Lexer<'_>, in_group: bool) {
    while let Some(b) = lx.peek() {
        if b == b',' || (in_group && b == b';') {
            return;
        }
        if b == b'"' {
            if lx.quoted_string().is_err() {
                return;
            }
            continue;
        }
        lx.bump();
    }
}

/// Parses one address-list header value, appending to `out`.
pub(crate) fn parse_address_list<'a>(value: &'a [u8], out: &mut Vec<Address<'a>>) {
    let mut lx = Lexer::new(value);
    let mut in_group = false;
    loop {
        if lx.skip_cfws().is_err() {
            break;
        }
        match lx.peek() {
            None => break,
            Some(b',') => {
                lx.bump();
                continue;
            }
            Some(b';') => {
                lx.bump();
                if in_group {
                    out.push(Address::default());
                    in_group = false;
                }
                continue;
            }
            _ => {}
        }
        match one_address(&mut lx, in_group, out) {
            Ok(Some(true)) => {
                in_group = true;
                continue;
            }
            Ok(Some(false)) => {}
            Ok(None) => {}
            Err(Unterminated) => {
                out.push(missing());
                break;
            }
        }
        if lx.skip_cfws().is_err() {
            break;
        }
        if !matches!(lx.peek(), None | Some(b',' | b';')) {
            skip_junk(&mut lx, in_group);
        }
    }
    if in_group {
        out.push(Address::default());
    }
}

/// Reads a mailbox or a group start. `Ok(Some(true))` when a group started.
fn one_address<'a>(
    lx: &mut Lexer<'a>,
    in_group: bool,
    out: &mut Vec<Address<'a>>,
) -> Result<Option<bool>, Unterminated> {
    let start = lx.pos();
    let name = phrase(lx)?;
    lx.skip_cfws()?;
    let mut addr = Address::default();
    match lx.peek() {
        Some(b':') if !in_group => {
            lx.bump();
            out.push(Address {
                mailbox: Some(name.unwrap_or_default()),
                ..Address::default()
            });
            return Ok(Some(true));
        }
        Some(b'<') => {
            lx.bump();
            addr.name = name.map(humanized).filter(|n| !n.is_empty());
            angle_addr(lx, &mut addr)?;
        }
        _ => {
            lx.set_pos(start);
            addr_spec(lx, &mut addr)?;
            lx.last_comment = None;
            lx.skip_cfws()?;
            addr.name = lx
                .last_comment
                .map(|c| humanized(Cow::Borrowed(c)))
                .filter(|n| !n.is_empty());
            if addr.mailbox.as_deref() == Some(MISSING_MAILBOX)
                && addr.host.as_deref() == Some(MISSING_DOMAIN)
                && lx.pos() == start
            {
                // Nothing readable here; let the caller skip it.
                return Ok(None);
            }
        }
    }
    out.push(addr);
    Ok(Some(false))
}

fn humanized(s: Cow<'_, [u8]>) -> Cow<'_, [u8]> {
    match s {
        Cow::Borrowed(b) => humanize(b),
        Cow::Owned(v) => match humanize(&v) {
            Cow::Borrowed(_) => Cow::Owned(v),
            Cow::Owned(h) => Cow::Owned(h),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(value: &[u8]) -> String {
        let mut out = Vec::new();
        parse_address_list(value, &mut out);
        let f = |s: &Option<Cow<'_, [u8]>>| match s {
            Some(s) => format!("{:?}", String::from_utf8_lossy(s)),
            None => "NIL".to_string(),
        };
        out.iter()
            .map(|a| format!("({} {} {} {})", f(&a.name), f(&a.adl), f(&a.mailbox), f(&a.host)))
            .collect()
    }

    #[test]
    fn plain_and_named_addresses() {
        assert_eq!(
            render(b"\"Alice Example\" <alice@example.org>, bob@x"),
            r#"("Alice Example" NIL "alice" "example.org")(NIL NIL "bob" "x")"#
        );
        assert_eq!(render(b"Plain  Words <p@x>"), r#"("Plain Words" NIL "p" "x")"#);
    }

    #[test]
    fn trailing_comment_is_the_name_leading_one_is_not() {
        assert_eq!(render(b"u@x (Real Name)"), r#"("Real Name" NIL "u" "x")"#);
        assert_eq!(render(b"(Comment) u@x"), r#"(NIL NIL "u" "x")"#);
    }

    #[test]
    fn placeholders_for_missing_parts() {
        assert_eq!(render(b"mike@"), r#"(NIL NIL "mike" "MISSING_DOMAIN")"#);
        assert_eq!(render(b"@host"), r#"(NIL NIL "MISSING_MAILBOX" "host")"#);
        assert_eq!(
            render(b"\"open <x@y>"),
            r#"(NIL NIL "MISSING_MAILBOX" "MISSING_DOMAIN")"#
        );
        assert_eq!(render(b"(only a comment)"), "");
        assert_eq!(render(b""), "");
    }

    #[test]
    fn groups_and_routes() {
        assert_eq!(
            render(b"undisclosed-recipients:;"),
            r#"(NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL)"#
        );
        assert_eq!(
            render(b"G: a@b, c@d"),
            r#"(NIL NIL "G" NIL)(NIL NIL "a" "b")(NIL NIL "c" "d")(NIL NIL NIL NIL)"#
        );
        assert_eq!(render(b"<@r1,@r2:l@h>"), r#"(NIL "@r1,@r2" "l" "h")"#);
        assert_eq!(render(b"<@r1, @r2:l@h>"), r#"(NIL "@r1,@r2" "l" "h")"#);
    }

    #[test]
    fn quoted_local_part_and_domain_literal() {
        assert_eq!(render(b"\"local part\"@x"), r#"(NIL NIL "local part" "x")"#);
        assert_eq!(render(b"a.b+c@[1.2.3.4]"), r#"(NIL NIL "a.b+c" "[1.2.3.4]")"#);
        assert_eq!(render(b"a . b @ x . y"), r#"(NIL NIL "a.b" "x.y")"#);
    }

    #[test]
    fn hostile_input_terminates() {
        let junk: Vec<u8> = b"<<@,,:;;\"\\(".iter().copied().cycle().take(10_000).collect();
        let _ = render(&junk);
        let many = b"a@b,".repeat(10_000);
        let mut out = Vec::new();
        parse_address_list(&many, &mut out);
        assert_eq!(out.len(), 10_000);
    }
}

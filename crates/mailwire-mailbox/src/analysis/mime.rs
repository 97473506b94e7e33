//! MIME content headers (RFC 2045, RFC 2183, RFC 3066 lists, RFC 2231
//! parameter continuations) read the way Dovecot reads them for
//! BODYSTRUCTURE.
//!
//! Dovecot's rules, which this follows:
//! - type, subtype, disposition type, parameter names and the encoding keep
//!   the case they have in the message (`TEXT/HTML`, `7BIT`);
//! - parameters are read up to the first one that does not parse (`novalue`
//!   without `=`, an unterminated quoted string): that one and all after it
//!   are dropped; an empty value (`charset=`) is kept;
//! - RFC 2231 parameters (a `*` in the name) come after the plain ones,
//!   sorted by name (case-insensitively) and segment number. A complete run
//!   of segments `0..n` is merged into one parameter named like segment 0,
//!   with a `*` suffix when any segment was extended (`*0*`); the values are
//!   concatenated as they are, percent-encoding kept, and `''` (no charset,
//!   no language) is put in front when the first segment was not extended
//!   but a later one was. A run with a gap or a duplicate, and a single
//!   `name*=...`, are kept as they are, one parameter per segment.

use std::borrow::Cow;
use std::cmp::Ordering;

use mailwire_imap::{BodyParam, BodyParams, Disposition};

use super::lexer::Lexer;
use super::wire::string;

/// A body parameter (`attribute value`) as Dovecot returns it, before it
/// takes its IMAP form ([`mailwire_imap::BodyParam`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Param<'a> {
    /// Parameter name, original case; ends with `*` for RFC 2231 values
    /// that still carry `charset'language'` and percent-encoding.
    pub name: Cow<'a, [u8]>,
    /// Parameter value, unquoted.
    pub value: Cow<'a, [u8]>,
}

/// The `body-fld-param` of `params`: NIL when empty.
pub(crate) fn imap_params(params: Vec<Param<'_>>) -> BodyParams<'_> {
    params
        .into_iter()
        .map(|p| BodyParam {
            name: string(p.name),
            value: string(p.value),
        })
        .collect()
}

/// Content-Disposition (RFC 2183) as read, before it takes its IMAP form
/// ([`mailwire_imap::Disposition`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ContentDisposition<'a> {
    /// The disposition type as written (`attachment`, `INLINE`, ...).
    pub kind: Cow<'a, [u8]>,
    /// Its parameters; empty for NIL.
    pub params: Vec<Param<'a>>,
}

impl<'a> ContentDisposition<'a> {
    /// The `body-fld-dsp`.
    pub(crate) fn into_imap(self) -> Disposition<'a> {
        Disposition {
            kind: string(self.kind),
            params: imap_params(self.params),
        }
    }
}

/// Compares two names ASCII-case-insensitively.
fn cmp_ci(a: &[u8], b: &[u8]) -> Ordering {
    a.iter()
        .map(u8::to_ascii_lowercase)
        .cmp(b.iter().map(u8::to_ascii_lowercase))
}

/// Reads `; name=value` pairs until the end or the first one that fails.
fn raw_params<'a>(lx: &mut Lexer<'a>) -> Vec<(&'a [u8], Cow<'a, [u8]>)> {
    let mut out = Vec::new();
    loop {
        if lx.skip_cfws().is_err() || lx.at_end() || !lx.eat(b';') {
            break;
        }
        if lx.skip_cfws().is_err() {
            break;
        }
        let name = lx.token();
        if name.is_empty() || lx.skip_cfws().is_err() || !lx.eat(b'=') || lx.skip_cfws().is_err() {
            break;
        }
        let value = if lx.peek() == Some(b'"') {
            match lx.quoted_string() {
                Ok(v) => v,
                Err(_) => break,
            }
        } else if lx.peek() == Some(b'=') {
            // `name==?utf-8?B?...?=`: an encoded word written unquoted,
            // which some senders do; taken up to the next `;` or
            // whitespace, as Dovecot does, rather than losing it and every
            // parameter after it.
            let rest = &lx.input()[lx.pos()..];
            let len = rest
                .iter()
                .position(|b| matches!(b, b';' | b' ' | b'\t' | b'\r' | b'\n'))
                .unwrap_or(rest.len());
            lx.set_pos(lx.pos() + len);
            Cow::Borrowed(&rest[..len])
        } else {
            Cow::Borrowed(lx.token())
        };
        out.push((name, value));
    }
    out
}

/// An RFC 2231 parameter name split: base name length, segment number
/// (`None` for `name*`), and whether the segment is extended.
fn split_2231(name: &[u8]) -> Option<(usize, Option<u32>, bool)> {
    let star = memchr::memchr(b'*', name)?;
    if star == 0 {
        return None;
    }
    let rest = &name[star + 1..];
    if rest.is_empty() {
        return Some((star, None, true));
    }
    let (digits, extended) = match rest {
        [d @ .., b'*'] => (d, true),
        d => (d, false),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut n: u32 = 0;
    for &d in digits {
        n = n.checked_mul(10)?.checked_add(u32::from(d - b'0'))?;
    }
    Some((star, Some(n), extended))
}

struct Segment<'a> {
    name: &'a [u8],
    base: usize,
    index: Option<u32>,
    extended: bool,
    value: Cow<'a, [u8]>,
}

/// Applies Dovecot's RFC 2231 handling (see the module documentation).
fn merge_params<'a>(raw: Vec<(&'a [u8], Cow<'a, [u8]>)>) -> Vec<Param<'a>> {
    let mut out = Vec::with_capacity(raw.len());
    let mut segments = Vec::new();
    for (name, value) in raw {
        match split_2231(name) {
            None => out.push(Param {
                name: Cow::Borrowed(name),
                value,
            }),
            Some((base, index, extended)) => segments.push(Segment {
                name,
                base,
                index,
                extended,
                value,
            }),
        }
    }
    segments.sort_by(|a, b| cmp_ci(&a.name[..a.base], &b.name[..b.base]).then(a.index.cmp(&b.index)));
    let mut rest = &mut segments[..];
    while !rest.is_empty() {
        let base = &rest[0].name[..rest[0].base];
        let len = rest
            .iter()
            .take_while(|s| cmp_ci(&s.name[..s.base], base) == Ordering::Equal)
            .count();
        let (group, tail) = rest.split_at_mut(len);
        rest = tail;
        let complete = group
            .iter()
            .enumerate()
            .all(|(i, s)| s.index.and_then(|n| usize::try_from(n).ok()) == Some(i));
        if !complete {
            for s in group.iter_mut() {
                out.push(Param {
                    name: Cow::Borrowed(s.name),
                    value: std::mem::take(&mut s.value),
                });
            }
            continue;
        }
        let extended = group.iter().any(|s| s.extended);
        let (first_name, first_base, first_extended) = (group[0].name, group[0].base, group[0].extended);
        let value = if group.len() == 1 && !extended {
            std::mem::take(&mut group[0].value)
        } else {
            let mut v = Vec::new();
            if extended && !first_extended {
                v.extend_from_slice(b"''");
            }
            for s in group.iter() {
                v.extend_from_slice(&s.value);
            }
            Cow::Owned(v)
        };
        let name = if extended {
            let mut name = first_name[..first_base].to_vec();
            name.push(b'*');
            Cow::Owned(name)
        } else {
            Cow::Borrowed(&first_name[..first_base])
        };
        out.push(Param { name, value });
    }
    out
}

/// A parsed Content-Type value.
pub(crate) struct ContentType<'a> {
    pub media_type: &'a [u8],
    pub subtype: &'a [u8],
    pub params: Vec<Param<'a>>,
}

/// Parses a Content-Type value: `type [/ subtype] *(; param)`.
pub(crate) fn content_type(value: &[u8]) -> ContentType<'_> {
    let mut lx = Lexer::new(value);
    let _ = lx.skip_cfws();
    let media_type = lx.token();
    let _ = lx.skip_cfws();
    let subtype = if lx.eat(b'/') {
        let _ = lx.skip_cfws();
        lx.token()
    } else {
        &b""[..]
    };
    ContentType {
        media_type,
        subtype,
        params: merge_params(raw_params(&mut lx)),
    }
}

/// Parses a Content-Disposition value.
pub(crate) fn disposition(value: &[u8]) -> ContentDisposition<'_> {
    let mut lx = Lexer::new(value);
    let _ = lx.skip_cfws();
    let kind = lx.token();
    ContentDisposition {
        kind: Cow::Borrowed(kind),
        params: merge_params(raw_params(&mut lx)),
    }
}

/// Parses a Content-Transfer-Encoding value: one token, comments skipped.
pub(crate) fn encoding(value: &[u8]) -> &[u8] {
    let mut lx = Lexer::new(value);
    let _ = lx.skip_cfws();
    lx.token()
}

/// Parses a Content-Language value: a comma-separated list of tags.
pub(crate) fn languages(value: &[u8]) -> Vec<Cow<'_, [u8]>> {
    let mut lx = Lexer::new(value);
    let mut out = Vec::new();
    loop {
        if lx.skip_cfws().is_err() {
            break;
        }
        let tag = lx.token();
        if !tag.is_empty() {
            out.push(Cow::Borrowed(tag));
        }
        if lx.skip_cfws().is_err() || !lx.eat(b',') {
            break;
        }
    }
    out
}

/// Finds a plain (non-RFC 2231) parameter by name, case-insensitively.
pub(crate) fn find_param<'p, 'a>(params: &'p [Param<'a>], name: &[u8]) -> Option<&'p Cow<'a, [u8]>> {
    params
        .iter()
        .find(|p| p.name.eq_ignore_ascii_case(name))
        .map(|p| &p.value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(params: &[Param<'_>]) -> String {
        params
            .iter()
            .map(|p| {
                format!(
                    "{}={}",
                    String::from_utf8_lossy(&p.name),
                    String::from_utf8_lossy(&p.value)
                )
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn type_subtype_and_params_keep_case() {
        let ct = content_type(b"TEXT/HTML (c); CHARSET = \"a\\\"b\" ; x=");
        assert_eq!(ct.media_type, b"TEXT");
        assert_eq!(ct.subtype, b"HTML");
        assert_eq!(render(&ct.params), "CHARSET=a\"b x=");
        let ct = content_type(b"text");
        assert_eq!((ct.media_type, ct.subtype), (&b"text"[..], &b""[..]));
    }

    #[test]
    fn params_stop_at_the_first_bad_one() {
        assert_eq!(render(&content_type(b"a/b; x=1; novalue; y=2").params), "x=1");
        assert_eq!(render(&content_type(b"a/b; x=\"open").params), "");
        assert_eq!(render(&content_type(b"a/b garbage; x=1").params), "");
    }

    #[test]
    fn an_unquoted_encoded_word_is_a_value() {
        // It lost its value and every parameter after it (the charset
        // then read as us-ascii).
        let ct = content_type(b"text/plain; name==?utf-8?B?0YTQsNC5?=; charset=koi8-r");
        assert_eq!(render(&ct.params), "name==?utf-8?B?0YTQsNC5?= charset=koi8-r");
        let d = disposition(b"attachment; filename==?utf-8?Q?a=20b?= ;size=3");
        assert_eq!(render(&d.params), "filename==?utf-8?Q?a=20b?= size=3");
    }

    #[test]
    fn rfc2231_continuations_merge() {
        let p = content_type(b"a/b; n*1*=%20b; n*0*=utf-8''a; n*2=c; plain=1").params;
        assert_eq!(render(&p), "plain=1 n*=utf-8''a%20bc");
        let p = content_type(b"a/b; N*0=x; n*1=y").params;
        assert_eq!(render(&p), "N=xy");
        let p = content_type(b"a/b; f*0=x; f*1*=%41").params;
        assert_eq!(render(&p), "f*=''x%41");
    }

    #[test]
    fn rfc2231_broken_runs_stay_apart() {
        let p = content_type(b"a/b; g*0=a; g*2=b; d*0=x; d*0=y; s*=v").params;
        assert_eq!(render(&p), "d*0=x d*0=y g*0=a g*2=b s*=v");
        let p = content_type(b"a/b; k*1=only").params;
        assert_eq!(render(&p), "k*1=only");
        let p = content_type(b"a/b; k*99999999999=x; k*b=y").params;
        assert_eq!(render(&p), "k*99999999999=x k*b=y");
    }

    #[test]
    fn disposition_language_encoding() {
        let d = disposition(b"ATTACHMENT; FileName=x.dat");
        assert_eq!(&*d.kind, b"ATTACHMENT");
        assert_eq!(render(&d.params), "FileName=x.dat");
        let l: Vec<_> = languages(b"en (English), fr")
            .into_iter()
            .map(Cow::into_owned)
            .collect();
        assert_eq!(l, vec![b"en".to_vec(), b"fr".to_vec()]);
        assert_eq!(encoding(b" base64 (comment)"), b"base64");
    }
}

//! Message IDs for the REFERENCES threading algorithm (RFC 5256 section
//! 3, RFC 5322 section 3.6.4), normalized so that quoting does not matter.
//!
//! ```text
//! msg-id          = [CFWS] "<" id-left "@" id-right ">" [CFWS]
//! id-left         = dot-atom-text / obs-id-left
//! id-right        = dot-atom-text / no-fold-literal / obs-id-right
//! obs-id-left     = local-part
//! obs-id-right    = domain
//! ```
//!
//! The normalized form is `left@right` without the angle brackets, quoted
//! strings unquoted and comments and folding whitespace between the words
//! removed, so `<"01KF8JCEOCBS0045PS"@xxx.yyy.com>` and
//! `<01KF8JCEOCBS0045PS@xxx.yyy.com>` are the same ID (RFC 5256's
//! example). Comparisons are case-sensitive, as RFC 5256 says.
//!
//! Leniency: an ID without `@` (`<1234.5678>`, seen in the wild) is
//! accepted when the text between the brackets has no whitespace, as
//! written; anything else that is not a msg-id (the phrases some
//! In-Reply-To fields carry, unbalanced brackets) is skipped.

use memchr::memchr;

use crate::search::text::skip_cfws;

/// The most IDs kept from one References field: the first and the last
/// `MAX_REFERENCES - 1`, as MUAs trim long References fields (RFC 5322
/// section 3.6.4 suggests keeping the first). This bounds the memory and
/// the linking time one message can cost.
pub const MAX_REFERENCES: usize = 1000;

/// Every valid msg-id of a field value, in order, each normalized; at most
/// `limit` of them (the first and the last `limit - 1`).
pub(crate) fn msg_ids(value: &[u8], limit: usize) -> Vec<String> {
    let mut first: Option<String> = None;
    let mut tail = std::collections::VecDeque::new();
    let mut pos = 0;
    while let Some(off) = value.get(pos..).and_then(|r| memchr(b'<', r)) {
        let at = pos + off;
        match msg_id_at(value, at + 1) {
            Some((id, end)) => {
                if first.is_none() {
                    first = Some(id);
                } else if limit > 1 {
                    if tail.len() == limit - 1 {
                        tail.pop_front();
                    }
                    tail.push_back(id);
                }
                pos = end;
            }
            None => pos = at + 1,
        }
    }
    first.into_iter().chain(tail).take(limit).collect()
}

/// The first valid msg-id of a field value, normalized.
pub(crate) fn first_msg_id(value: &[u8]) -> Option<String> {
    let mut pos = 0;
    while let Some(off) = value.get(pos..).and_then(|r| memchr(b'<', r)) {
        let at = pos + off;
        if let Some((id, _)) = msg_id_at(value, at + 1) {
            return Some(id);
        }
        pos = at + 1;
    }
    None
}

/// `atext` of RFC 5322, plus 8-bit octets (RFC 6532).
fn is_atext(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b) || b >= 0x80
}

/// A quoted string starting at `v[i] == '"'`, unquoted into `out`; the
/// offset after it.
fn quoted(v: &[u8], mut i: usize, out: &mut Vec<u8>) -> Option<usize> {
    i += 1;
    loop {
        match *v.get(i)? {
            b'"' => return Some(i + 1),
            b'\\' => {
                out.push(*v.get(i + 1)?);
                i += 2;
            }
            b'\r' | b'\n' => i += 1,
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
}

/// Words (atoms or, in the local part, quoted strings; in the domain a
/// `[...]` literal) separated by dots, CFWS allowed around them.
fn dotted(v: &[u8], mut i: usize, domain: bool, out: &mut Vec<u8>) -> Option<usize> {
    let start_len = out.len();
    loop {
        i = skip_cfws(v, i)?;
        match v.get(i) {
            Some(b'"') if !domain => i = quoted(v, i, out)?,
            Some(b'[') if domain && out.len() == start_len => {
                let close = i + memchr(b']', &v[i..])?;
                let literal = &v[i..=close];
                if literal[1..literal.len() - 1]
                    .iter()
                    .any(|&b| b == b'[' || b == b'\\')
                {
                    return None;
                }
                out.extend(
                    literal
                        .iter()
                        .filter(|&&b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n')),
                );
                return skip_cfws(v, close + 1);
            }
            Some(&b) if is_atext(b) => {
                let len = v[i..].iter().take_while(|&&b| is_atext(b)).count();
                out.extend_from_slice(&v[i..i + len]);
                i += len;
            }
            _ => return None,
        }
        i = skip_cfws(v, i)?;
        if v.get(i) == Some(&b'.') {
            out.push(b'.');
            i += 1;
        } else {
            return Some(i);
        }
    }
}

/// A msg-id whose `<` is just before `start`: the normalized ID and the
/// offset after its `>`.
fn msg_id_at(v: &[u8], start: usize) -> Option<(String, usize)> {
    // An ID never holds `<`: looking no further than the next one keeps
    // the scan of a field linear however many unterminated comments,
    // quoted strings and brackets it holds.
    let window = v
        .get(start..)
        .and_then(|r| memchr(b'<', r))
        .map_or(v.len(), |n| start + n);
    let v = &v[..window];
    let mut out = Vec::new();
    let strict = dotted(v, start, false, &mut out).and_then(|i| {
        if v.get(i) != Some(&b'@') {
            return None;
        }
        out.push(b'@');
        let i = dotted(v, i + 1, true, &mut out)?;
        (v.get(i) == Some(&b'>')).then_some(i + 1)
    });
    if let Some(end) = strict {
        return Some((String::from_utf8_lossy(&out).into_owned(), end));
    }
    // Lenient: `<text>` without whitespace or brackets inside.
    let len = v
        .get(start..)?
        .iter()
        .take_while(|&&b| !matches!(b, b'>' | b'<' | b' ' | b'\t' | b'\r' | b'\n'))
        .count();
    if len == 0 || v.get(start + len) != Some(&b'>') {
        return None;
    }
    let text = &v[start..start + len];
    Some((String::from_utf8_lossy(text).into_owned(), start + len + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalization() {
        let one = |s: &str| first_msg_id(s.as_bytes());
        assert_eq!(
            one("<\"01KF8JCEOCBS0045PS\"@xxx.yyy.com>"),
            one("<01KF8JCEOCBS0045PS@xxx.yyy.com>")
        );
        assert_eq!(
            one("<01KF8JCEOCBS0045PS@xxx.yyy.com>").as_deref(),
            Some("01KF8JCEOCBS0045PS@xxx.yyy.com")
        );
        assert_eq!(
            one(" (comment) < a . b (c) @ example . com > ").as_deref(),
            Some("a.b@example.com")
        );
        assert_eq!(one("<\"a\\\"b\"@x>").as_deref(), Some("a\"b@x"));
        assert_eq!(one("<a@[1.2.3.4]>").as_deref(), Some("a@[1.2.3.4]"));
        assert_eq!(one("<1234.5678>").as_deref(), Some("1234.5678"));
        assert_eq!(one("Your message of <junk <a@b>").as_deref(), Some("a@b"));
        assert_eq!(one("<a b>"), None);
        assert_eq!(one("no id here"), None);
        assert_eq!(one("<unterminated@x"), None);
        assert_ne!(one("<A@x>"), one("<a@x>"));
    }

    #[test]
    fn lists_and_their_limit() {
        let ids = msg_ids(b"<a@x> junk <b@x>\r\n\t<c@x><d@x>", 10);
        assert_eq!(ids, ["a@x", "b@x", "c@x", "d@x"]);
        assert_eq!(msg_ids(b"<a@x> <b@x> <c@x> <d@x>", 3), ["a@x", "c@x", "d@x"]);
        assert_eq!(msg_ids(b"<a@x> <b@x>", 1), ["a@x"]);
        let many: String = (0..100_000).map(|i| format!("<{i}@x> ")).collect();
        let ids = msg_ids(many.as_bytes(), MAX_REFERENCES);
        assert_eq!(ids.len(), MAX_REFERENCES);
        assert_eq!(ids[0], "0@x");
        assert_eq!(ids[MAX_REFERENCES - 1], "99999@x");
    }

    #[test]
    fn hostile_ids_stay_linear() {
        let opens = "<".repeat(200_000);
        assert!(msg_ids(opens.as_bytes(), 10).is_empty());
        let comments = "<a(".repeat(100_000);
        assert!(msg_ids(comments.as_bytes(), 10).is_empty());
        let quotes = "<\"a".repeat(100_000);
        assert!(msg_ids(quotes.as_bytes(), 10).is_empty());
        let literals = "<a@[".repeat(100_000);
        assert!(msg_ids(literals.as_bytes(), 10).is_empty());
    }
}

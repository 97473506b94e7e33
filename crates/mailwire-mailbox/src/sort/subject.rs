//! The base subject of RFC 5256 section 2.1: a subject with its reply and
//! forward artifacts (`Re:`, `Fwd:`, `[list]` blobs, `(fwd)` trailers,
//! `[fwd: ...]` wrappers) removed, for SUBJECT sorting and for threading.
//!
//! ```text
//! subject         = *subj-leader [subj-middle] *subj-trailer
//! subj-refwd      = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":"
//! subj-blob       = "[" *BLOBCHAR "]" *WSP
//! subj-fwd        = subj-fwd-hdr subject subj-fwd-trl
//! subj-fwd-hdr    = "[fwd:"
//! subj-fwd-trl    = "]"
//! subj-leader     = (*subj-blob subj-refwd) / WSP
//! subj-middle     = *subj-blob (subj-base / subj-fwd)
//! subj-trailer    = "(fwd)" / WSP
//! subj-base       = NONWSP *(*WSP NONWSP)
//! BLOBCHAR        = %x01-5a / %x5c / %x5e-ff
//! ```
//!
//! The ABNF is ambiguous, so RFC 5256 fixes a procedure, which
//! [`base_subject`] follows step by step. Every step removes text, so the
//! loops end; each pass is linear in what is left.

use crate::search::text::decode_header_value;

/// The base subject of a message and whether its subject marks it as a
/// reply or forward (RFC 5256 section 2.1 and the REFERENCES algorithm).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct BaseSubject {
    /// The base subject, decoded to UTF-8, case preserved (compare it
    /// case-insensitively, as SORT and THREAD do).
    pub text: String,
    /// Whether extracting it removed a `subj-refwd` (`Re:`, `Fwd:`, ...),
    /// a `(fwd)` trailer, or a `[fwd: ...]` wrapper: RFC 5256's "reply or
    /// forward", which the REFERENCES algorithm uses when it merges threads
    /// by subject.
    pub is_reply_or_forward: bool,
}

/// The base subject of a `Subject:` header value as it is in the message
/// (RFC 5256 section 2.1):
///
/// 1. RFC 2047 encoded words decoded to UTF-8, other 8-bit text read as
///    UTF-8 or else Windows-1252, unfolded, every run of whitespace made
///    one space (as SEARCH decodes header values);
/// 2. trailing `(fwd)` and whitespace removed, repeatedly;
/// 3. leading whitespace and `subj-leader`s (blobs followed by `re`, `fw`
///    or `fwd`, optional whitespace and blob, and `:`) removed;
/// 4. a leading `subj-blob` removed when text remains after it;
/// 5. steps 3 and 4 repeated while they remove something;
/// 6. a `[fwd:` ... `]` wrapper removed, then again from step 2.
///
/// Keywords are matched ASCII-case-insensitively (`RE:`, `Fwd:`, `[FWD:`).
pub fn base_subject(raw: &[u8]) -> BaseSubject {
    // Step 1. The decoder also trims, which steps 2 and 3 would do.
    let decoded = decode_header_value(raw);
    base_subject_of_decoded(&decoded)
}

/// Steps 2 to 7 on text already decoded and with whitespace collapsed.
pub(crate) fn base_subject_of_decoded(decoded: &str) -> BaseSubject {
    let mut s: &str = decoded;
    let mut marked = false;
    loop {
        // Step 2: subj-trailer = "(fwd)" / WSP, repeatedly.
        loop {
            let before = s.len();
            s = s.trim_end_matches([' ', '\t']);
            if ends_with_ignore_case(s, "(fwd)") {
                s = &s[..s.len() - "(fwd)".len()];
                marked = true;
            }
            if s.len() == before {
                break;
            }
        }
        // Steps 3 to 5.
        loop {
            let before = s.len();
            // Step 3: every subj-leader.
            loop {
                let trimmed = s.trim_start_matches([' ', '\t']);
                if trimmed.len() != s.len() {
                    s = trimmed;
                    continue;
                }
                match leader_refwd(s) {
                    Some(len) => {
                        s = &s[len..];
                        marked = true;
                    }
                    None => break,
                }
            }
            // Step 4: a subj-blob, if a subj-base remains after it. Step 3
            // tried a refwd after each leading blob and found none, so it
            // would find none after removing one: remove them all here
            // rather than rescanning them once per blob (quadratic).
            while let Some(len) = blob(s) {
                if len >= s.len() {
                    break;
                }
                s = &s[len..];
            }
            if s.len() == before {
                break;
            }
        }
        // Step 6: subj-fwd-hdr ... subj-fwd-trl.
        if starts_with_ignore_case(s, "[fwd:") && s.ends_with(']') && s.len() >= "[fwd:]".len() {
            s = &s["[fwd:".len()..s.len() - 1];
            marked = true;
            continue;
        }
        break;
    }
    BaseSubject {
        text: s.to_owned(),
        is_reply_or_forward: marked,
    }
}

/// The length of `subj-blob = "[" *BLOBCHAR "]" *WSP` at the start of `s`.
fn blob(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    if b.first() != Some(&b'[') {
        return None;
    }
    let close = 1 + b[1..].iter().position(|&c| c == b'[' || c == b']')?;
    if b[close] != b']' {
        return None;
    }
    Some(close + 1 + wsp_len(&b[close + 1..]))
}

/// The length of `*subj-blob subj-refwd` at the start of `s`, where
/// `subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":"`.
fn leader_refwd(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    // Blobs may precede the refwd only if a refwd follows them: try the
    // refwd after each blob.
    loop {
        if let Some(len) = refwd(&b[i..]) {
            return Some(i + len);
        }
        i += blob(&s[i..])?;
    }
}

/// The length of a `subj-refwd` at the start of `b`.
fn refwd(b: &[u8]) -> Option<usize> {
    let mut i = if b.len() >= 2 && b[..2].eq_ignore_ascii_case(b"re") {
        2
    } else if b.len() >= 2 && b[..2].eq_ignore_ascii_case(b"fw") {
        if b.get(2).is_some_and(|c| c.eq_ignore_ascii_case(&b'd')) {
            3
        } else {
            2
        }
    } else {
        return None;
    };
    i += wsp_len(&b[i..]);
    if b.get(i) == Some(&b'[') {
        // The blob is optional: `Re[2]:`, but also `Re: [list] x` where
        // no blob belongs to the refwd.
        let rest = std::str::from_utf8(&b[i..]).ok()?;
        if let Some(len) = blob(rest) {
            if b.get(i + len) == Some(&b':') {
                return Some(i + len + 1);
            }
        }
    }
    (b.get(i) == Some(&b':')).then_some(i + 1)
}

fn wsp_len(b: &[u8]) -> usize {
    b.iter().take_while(|&&c| c == b' ' || c == b'\t').count()
}

fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

fn ends_with_ignore_case(s: &str, suffix: &str) -> bool {
    s.len() >= suffix.len() && s.as_bytes()[s.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc5256_base_subjects() {
        // (raw Subject value, base subject, reply or forward)
        let cases: &[(&str, &str, bool)] = &[
            ("", "", false),
            ("Hello", "Hello", false),
            ("  Hello \t world  ", "Hello world", false),
            ("Re: Hello", "Hello", true),
            ("RE: Hello", "Hello", true),
            ("re:Hello", "Hello", true),
            ("Re: Re: RE: Hello", "Hello", true),
            ("Fwd: Hello", "Hello", true),
            ("FW: Hello", "Hello", true),
            ("fw : Hello", "Hello", true),
            ("Re[2]: Hello", "Hello", true),
            ("Re [2] : Hello", "Hello", true),
            ("[list] Re: Hello", "Hello", true),
            ("[list] Hello", "Hello", false),
            ("[a][b] Re: [c] Fwd: Hello", "Hello", true),
            ("[only a blob]", "[only a blob]", false),
            ("Re: [only a blob]", "[only a blob]", true),
            ("Hello (fwd)", "Hello", true),
            ("Hello (FWD) (fwd)  ", "Hello", true),
            ("[Fwd: Hello]", "Hello", true),
            ("[fwd: Re: Hello (fwd)]", "Hello", true),
            ("Re: [Fwd: [list] Re: Hello]", "Hello", true),
            ("[fwd: [fwd: Hello]]", "Hello", true),
            ("Regarding: Hello", "Regarding: Hello", false),
            ("Re Hello", "Re Hello", false),
            ("Hello: Re: world", "Hello: Re: world", false),
            ("=?UTF-8?Q?Re=3A_Caf=C3=A9?=", "Café", true),
            (
                "=?ISO-8859-1?Q?Caf=E9?= =?UTF-8?B?IGNyw6htZQ==?=",
                "Café crème",
                false,
            ),
            ("Re: =?UTF-8?B?W2ZvbzpdIEjDqWxsbw==?=", "Héllo", true),
            ("Re:\r\n\t Folded\r\n  subject", "Folded subject", true),
            ("[fwd:]", "", true),
            ("[unclosed Re: x", "[unclosed Re: x", false),
            ("Re: [a] [b]", "[b]", true),
        ];
        for &(raw, base, marked) in cases {
            let got = base_subject(raw.as_bytes());
            assert_eq!(got.text, base, "{raw:?}");
            assert_eq!(got.is_reply_or_forward, marked, "{raw:?}");
        }
    }

    #[test]
    fn hostile_subjects_stay_linear_enough() {
        let many = "Re: ".repeat(50_000) + "x";
        assert_eq!(base_subject(many.as_bytes()).text, "x");
        let blobs = "[a]".repeat(50_000);
        assert_eq!(base_subject(blobs.as_bytes()).text, "[a]");
        let wrapped = "[fwd: ".repeat(2_000) + "x" + &"]".repeat(2_000);
        assert_eq!(base_subject(wrapped.as_bytes()).text, "x");
    }
}

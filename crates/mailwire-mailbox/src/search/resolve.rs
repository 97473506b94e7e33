//! From mailwire-imap's [`SearchKey`] to the evaluator's key: strings to
//! UTF-8 from the command's charset, `*` and `$` resolved, keywords checked
//! against the store's rules.

use mailwire_imap::{AString, SearchKey, SequenceSet};

use crate::flags::Keyword;

use super::text::to_utf8;
use super::{Key, NumberSet, SearchError, SearchScope};

fn text(s: &AString<'_>, scope: &SearchScope<'_>) -> String {
    to_utf8(s.as_bytes(), scope.charset.map(str::as_bytes)).into_owned()
}

/// The numbers of `set`; `$` is the saved result (UIDs), which the caller
/// matches by UID whatever the set's kind.
enum Resolved {
    Numbers(NumberSet),
    Saved(NumberSet),
}

fn numbers(set: &SequenceSet, largest: u32, scope: &SearchScope<'_>) -> Result<Resolved, SearchError> {
    if set.is_last_command() {
        let saved = scope
            .saved
            .ok_or(SearchError::Unsupported("$ without a saved result"))?;
        return Ok(Resolved::Saved(saved.iter().map(|u| u.get()).collect()));
    }
    // `*` is `largest`; numbers above it are kept (they match no message
    // of the mailbox, and a message evaluated alone keeps its own).
    Ok(Resolved::Numbers(NumberSet::from_ranges(
        set.ranges()
            .iter()
            .map(|r| (r.start().resolve(largest), r.end().resolve(largest))),
    )))
}

/// A key that matches no message.
fn nothing() -> Key {
    Key::Not(Box::new(Key::All))
}

/// Resolves `key`, refusing nesting deeper than `max_depth` (the top key
/// is level `depth`).
pub(crate) fn resolve(
    key: &SearchKey<'_>,
    scope: &SearchScope<'_>,
    depth: usize,
    max_depth: usize,
) -> Result<Key, SearchError> {
    if depth > max_depth {
        return Err(SearchError::TooDeep { limit: max_depth });
    }
    let inner = |k: &SearchKey<'_>| resolve(k, scope, depth + 1, max_depth).map(Box::new);
    Ok(match key {
        SearchKey::All => Key::All,
        SearchKey::Answered => Key::Answered,
        SearchKey::Deleted => Key::Deleted,
        SearchKey::Draft => Key::Draft,
        SearchKey::Flagged => Key::Flagged,
        SearchKey::Seen => Key::Seen,
        SearchKey::Unanswered => Key::Unanswered,
        SearchKey::Undeleted => Key::Undeleted,
        SearchKey::Undraft => Key::Undraft,
        SearchKey::Unflagged => Key::Unflagged,
        SearchKey::Unseen => Key::Unseen,
        // A keyword the store cannot hold is set on no message.
        SearchKey::Keyword(k) => match Keyword::new(k.as_str()) {
            Ok(k) => Key::Keyword(k),
            Err(_) => nothing(),
        },
        SearchKey::Unkeyword(k) => match Keyword::new(k.as_str()) {
            Ok(k) => Key::Unkeyword(k),
            Err(_) => Key::All,
        },
        SearchKey::Recent => Key::Recent,
        SearchKey::New => Key::New,
        SearchKey::Old => Key::Old,
        SearchKey::Before(d) => Key::Before(*d),
        SearchKey::On(d) => Key::On(*d),
        SearchKey::Since(d) => Key::Since(*d),
        SearchKey::SentBefore(d) => Key::SentBefore(*d),
        SearchKey::SentOn(d) => Key::SentOn(*d),
        SearchKey::SentSince(d) => Key::SentSince(*d),
        SearchKey::Larger(n) => Key::Larger(*n),
        SearchKey::Smaller(n) => Key::Smaller(*n),
        SearchKey::From(s) => Key::From(text(s, scope)),
        SearchKey::To(s) => Key::To(text(s, scope)),
        SearchKey::Cc(s) => Key::Cc(text(s, scope)),
        SearchKey::Bcc(s) => Key::Bcc(text(s, scope)),
        SearchKey::Subject(s) => Key::Subject(text(s, scope)),
        SearchKey::Header { name, value } => Key::Header {
            name: String::from_utf8_lossy(name.as_bytes()).into_owned(),
            value: text(value, scope),
        },
        SearchKey::Body(s) => Key::Body(text(s, scope)),
        SearchKey::Text(s) => Key::Text(text(s, scope)),
        SearchKey::Uid(set) => match numbers(set, scope.last_uid, scope)? {
            Resolved::Numbers(n) | Resolved::Saved(n) => Key::Uid(n),
        },
        SearchKey::SequenceSet(set) => match numbers(set, scope.last_seq, scope)? {
            Resolved::Numbers(n) => Key::Sequence(n),
            Resolved::Saved(n) => Key::Uid(n),
        },
        SearchKey::Not(k) => Key::Not(inner(k)?),
        SearchKey::Or(a, b) => Key::Or(inner(a)?, inner(b)?),
        SearchKey::List(keys) => {
            let mut list = Vec::with_capacity(keys.len());
            for k in keys {
                list.push(*inner(k)?);
            }
            Key::And(list)
        }
        // Every message has a save date (RFC 8514).
        SearchKey::SaveDateSupported => Key::All,
        SearchKey::SavedBefore(d) => Key::SavedBefore(*d),
        SearchKey::SavedOn(d) => Key::SavedOn(*d),
        SearchKey::SavedSince(d) => Key::SavedSince(*d),
        SearchKey::Older(_) => return Err(SearchError::Unsupported("OLDER")),
        SearchKey::Younger(_) => return Err(SearchError::Unsupported("YOUNGER")),
        SearchKey::ModSeq { .. } => return Err(SearchError::Unsupported("MODSEQ")),
        SearchKey::EmailId(_) => return Err(SearchError::Unsupported("EMAILID")),
        SearchKey::ThreadId(_) => return Err(SearchError::Unsupported("THREADID")),
        _ => return Err(SearchError::Unsupported("an extension's key")),
    })
}

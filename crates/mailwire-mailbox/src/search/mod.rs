//! SEARCH evaluation (RFC 9051 section 6.4.4, with the IMAP4rev1 keys
//! RECENT, NEW and OLD of RFC 3501): which messages match a [`SearchKey`].
//!
//! The key is mailwire-imap's [`SearchKey`], as a SEARCH command carries
//! it; a [`SearchScope`] says what its `*` and `$` stand for and in which
//! CHARSET its strings are. [`Search::new`] compiles a key once
//! (resolving it, checking its nesting against [`SearchOptions::max_depth`],
//! folding its strings, and putting the keys of every AND and OR list in
//! order of cost);
//! [`Search::matches`] then tests one message, described by a
//! [`MessageContext`]. [`SelectedMailbox::search`] and [`Account::search`]
//! run a key over a whole mailbox.
//!
//! # What is matched
//!
//! - Flags, UID and sequence number, RFC822.SIZE and INTERNALDATE are
//!   answered from the context alone: a key made only of them never reads
//!   the message, and in an AND list they are tested before any key that
//!   does, so that a failing one skips the read.
//! - BEFORE, ON and SINCE compare the calendar date of the INTERNALDATE *in
//!   its own zone* (RFC 9051: "disregarding time and timezone").
//! - SENTBEFORE, SENTON and SENTSINCE compare the date written in the last
//!   `Date:` field of the top header (the one ENVELOPE shows), in the
//!   sender's zone; see [`parse_date_header`] for the syntax read. RFC 9051
//!   does not say what a message without a readable `Date:` matches: here
//!   it matches none of the three (so `NOT SENTBEFORE d` matches it), as in
//!   Courier; using the INTERNALDATE instead would make the answer depend on
//!   when the message was delivered.
//! - String keys are substring searches after decoding and case folding on
//!   both sides (see below). An empty string matches every message for
//!   BODY and TEXT, and for HEADER, SUBJECT, FROM, TO, CC and BCC every
//!   message that has such a field.
//! - HEADER name and SUBJECT search the decoded value (after the colon) of
//!   every field of the top header block with that name (names compared
//!   ASCII-case-insensitively). Header values are decoded like this: RFC
//!   2047 encoded words decoded (whitespace between adjacent ones dropped;
//!   also inside quoted strings and comments, as mail clients do), other
//!   8-bit octets read as UTF-8 (RFC 6532) or else Windows-1252, unfolded,
//!   and every run of whitespace made one space. A needle with two spaces
//!   in a row therefore never matches a header.
//! - FROM, TO, CC and BCC match the decoded field value as HEADER does, and
//!   also each address of it written as `display name <local@domain>`, the
//!   display name decoded and unquoted (`"Doe, J." <j@x>` matches
//!   `doe, j. <j@x>`; an address without one is `<local@domain>`; a comment
//!   after a bare address is its display name).
//! - BODY searches every text part: each leaf of the MIME tree whose type
//!   is `text/*` (also the default type of a part without Content-Type) or
//!   a `message/*` that is not parsed as a message (delivery-status,
//!   message/global, ...), in multiparts and embedded message/rfc822 parts
//!   at any depth, with its Content-Transfer-Encoding undone (base64 and
//!   quoted-printable, leniently) and its charset converted to UTF-8 (see
//!   below). Other leaves (images, applications) are not searched, as RFC
//!   9051 allows; nor are headers, preambles and epilogues. HTML is searched
//!   as it is written, markup and entities included. Each part is searched
//!   on its own: a needle never matches across two parts. Parts nested
//!   deeper than the analysis allows ([`crate::analysis::AnalysisOptions::max_depth`], 100)
//!   are not searched.
//! - TEXT searches what BODY searches, and every header block: the top one
//!   and those of parts and embedded messages, each field as the line
//!   `name: decoded value`, so `TEXT "subject: hello"` matches.
//!
//! Charsets: UTF-8 and US-ASCII text (and text without charset or with an
//! unknown one) is read as UTF-8 when valid and otherwise as Windows-1252;
//! other charsets use `mail-parser`'s decoders, including the multi-byte
//! Asian charsets (Shift_JIS, ISO-2022-JP, EUC-*, GBK, GB18030, Big5)
//! through its `full_encoding` feature, which the workspace enables.
//!
//! Case folding: both sides are folded with `char::to_lowercase` plus the
//! simple case folds it misses (final sigma, long s, Greek symbol variants),
//! so matching is case-insensitive for all of Unicode except where full
//! folding is needed (`ß` does not match `ss`). There is no Unicode
//! normalization: a precomposed `é` does not match `e` with a combining
//! accent. Line ends in bodies are kept, so a needle does not match across
//! a line break.

mod content;
mod date;
mod eval;
mod resolve;
pub(crate) mod text;

use bytes::Bytes;

pub use date::{HeaderDate, date_of_internal, parse_date_header};
pub use mailwire_imap::{Date, SearchKey};

use crate::flags::{Flags, Keyword};
use crate::selected::{SelectedMailbox, ViewMessage};
use crate::store::Account;
use crate::types::{InternalDate, MailboxName, StoreError, Uid};

use eval::{Cells, Cost, Eval, Node};

/// A search key resolved for this crate's evaluator (see [`resolve`]):
/// strings in UTF-8, sets as numbers, keywords as the store's.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Key {
    /// `ALL`: every message.
    All,
    /// `ANSWERED`: `\Answered` is set.
    Answered,
    /// `DELETED`: `\Deleted` is set.
    Deleted,
    /// `DRAFT`: `\Draft` is set.
    Draft,
    /// `FLAGGED`: `\Flagged` is set.
    Flagged,
    /// `SEEN`: `\Seen` is set.
    Seen,
    /// `UNANSWERED`: `\Answered` is not set.
    Unanswered,
    /// `UNDELETED`: `\Deleted` is not set.
    Undeleted,
    /// `UNDRAFT`: `\Draft` is not set.
    Undraft,
    /// `UNFLAGGED`: `\Flagged` is not set.
    Unflagged,
    /// `UNSEEN`: `\Seen` is not set.
    Unseen,
    /// `KEYWORD flag`: the keyword is set.
    Keyword(Keyword),
    /// `UNKEYWORD flag`: the keyword is not set.
    Unkeyword(Keyword),
    /// `RECENT` (IMAP4rev1): `\Recent` in this session.
    Recent,
    /// `NEW` (IMAP4rev1): `\Recent` and not `\Seen`.
    New,
    /// `OLD` (IMAP4rev1): not `\Recent`.
    Old,
    /// `BEFORE date`: INTERNALDATE's date is earlier.
    Before(Date),
    /// `ON date`: INTERNALDATE's date is this one.
    On(Date),
    /// `SINCE date`: INTERNALDATE's date is this one or later.
    Since(Date),
    /// `SAVEDBEFORE date` (RFC 8514): the save date's date is earlier.
    SavedBefore(Date),
    /// `SAVEDON date`: the save date's date is this one.
    SavedOn(Date),
    /// `SAVEDSINCE date`: the save date's date is this one or later.
    SavedSince(Date),
    /// `SENTBEFORE date`: the `Date:` header's date is earlier.
    SentBefore(Date),
    /// `SENTON date`: the `Date:` header's date is this one.
    SentOn(Date),
    /// `SENTSINCE date`: the `Date:` header's date is this one or later.
    SentSince(Date),
    /// `LARGER n`: RFC822.SIZE is larger than `n`.
    Larger(u64),
    /// `SMALLER n`: RFC822.SIZE is smaller than `n`.
    Smaller(u64),
    /// `FROM string`.
    From(String),
    /// `TO string`.
    To(String),
    /// `CC string`.
    Cc(String),
    /// `BCC string`.
    Bcc(String),
    /// `SUBJECT string`.
    Subject(String),
    /// `HEADER field-name string`: an empty string matches every message
    /// with the field.
    Header {
        /// The field name (compared ASCII-case-insensitively).
        name: String,
        /// The string to find in its value.
        value: String,
    },
    /// `BODY string`: in the text of the body, not in headers.
    Body(String),
    /// `TEXT string`: in the headers or the body.
    Text(String),
    /// `UID sequence-set`, resolved to UIDs.
    Uid(NumberSet),
    /// A bare `sequence-set`, resolved to message sequence numbers.
    Sequence(NumberSet),
    /// `NOT key`.
    Not(Box<Key>),
    /// `OR key key`.
    Or(Box<Key>, Box<Key>),
    /// `(key key ...)` and the top-level list: all of them (an empty list
    /// matches every message).
    And(Vec<Key>),
}

/// A set of numbers (UIDs or sequence numbers) as sorted, disjoint,
/// non-adjacent inclusive ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub(crate) struct NumberSet {
    ranges: Vec<(u32, u32)>,
}

impl NumberSet {
    /// The empty set.
    #[cfg(test)]
    pub fn new() -> NumberSet {
        NumberSet::default()
    }

    /// The set of these inclusive ranges, each given by its two ends in
    /// either order (like IMAP's `5:2`, which is `2:5`); the ranges may come
    /// in any order and overlap.
    pub fn from_ranges(ranges: impl IntoIterator<Item = (u32, u32)>) -> NumberSet {
        let mut list: Vec<(u32, u32)> = ranges.into_iter().map(|(a, b)| (a.min(b), a.max(b))).collect();
        list.sort_unstable();
        let mut merged: Vec<(u32, u32)> = Vec::with_capacity(list.len());
        for (start, end) in list {
            match merged.last_mut() {
                Some(last) if start <= last.1.saturating_add(1) => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        NumberSet { ranges: merged }
    }

    /// Whether `n` is in the set.
    pub fn contains(&self, n: u32) -> bool {
        let i = self.ranges.partition_point(|&(_, end)| end < n);
        self.ranges.get(i).is_some_and(|&(start, _)| start <= n)
    }

    /// Whether the set is empty.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The ranges, ascending.
    #[cfg(test)]
    pub fn ranges(&self) -> impl Iterator<Item = std::ops::RangeInclusive<u32>> + '_ {
        self.ranges.iter().map(|&(a, b)| a..=b)
    }
}

impl FromIterator<u32> for NumberSet {
    fn from_iter<I: IntoIterator<Item = u32>>(iter: I) -> NumberSet {
        NumberSet::from_ranges(iter.into_iter().map(|n| (n, n)))
    }
}

/// Limits of [`Search::with_options`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchOptions {
    /// The deepest nesting of NOT, OR and AND lists accepted; the top key
    /// is level 1 (default [`SearchOptions::DEFAULT_MAX_DEPTH`]). Compiling
    /// and evaluating recurse once per level.
    pub max_depth: usize,
}

impl SearchOptions {
    /// The default depth limit: above what the IMAP decoder accepts by
    /// default (64), far below what the stack can take.
    pub const DEFAULT_MAX_DEPTH: usize = 100;
}

impl Default for SearchOptions {
    fn default() -> Self {
        SearchOptions {
            max_depth: SearchOptions::DEFAULT_MAX_DEPTH,
        }
    }
}

/// What the `*` and `$` of a key stand for, and the charset of its strings.
#[derive(Debug, Clone, Copy, Default)]
pub struct SearchScope<'s> {
    /// `*` in a message-number set: the number of messages.
    pub last_seq: u32,
    /// `*` in a UID set: the highest UID of the mailbox (0 when it is
    /// empty).
    pub last_uid: u32,
    /// `$` (SEARCHRES, RFC 5182): the UIDs the last `SEARCH RETURN (SAVE)`
    /// saved; `None` refuses a key with `$`.
    pub saved: Option<&'s [Uid]>,
    /// The CHARSET of the SEARCH command; `None` for UTF-8. Strings that
    /// are not valid in it are read as Windows-1252, as message text is.
    pub charset: Option<&'s str>,
}

/// Why a search failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SearchError {
    /// The key nests deeper than the limit.
    #[error("search key nests deeper than {limit} levels")]
    TooDeep {
        /// The limit.
        limit: usize,
    },
    /// The key holds something the model does not evaluate: `$` without a
    /// saved result, OLDER and YOUNGER (no clock here), MODSEQ, EMAILID,
    /// THREADID, an extension's key.
    #[error("{0} is not supported in SEARCH")]
    Unsupported(&'static str),
    /// A message could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where the content of a message comes from.
#[derive(Clone, Copy)]
pub enum MessageContent<'a> {
    /// The message, at hand.
    Bytes(&'a [u8]),
    /// Reads the message; called at most once per evaluation, and only if a
    /// key needs the content.
    Lazy(&'a dyn Fn() -> Result<Bytes, StoreError>),
    /// A large message, read from its file where the store keeps one:
    /// header keys read only its top header block from there; body keys
    /// analyse it in its file
    /// ([`StoredMessage`](crate::analysis::StoredMessage)) and read its
    /// text parts, never the whole message. Header keys see the first
    /// 1 MiB of a longer top header block. `None` from `file` means no
    /// file, and
    /// `read` reads the message whole, as it does when the message cannot
    /// be analysed in its file (a header block above 1 MiB). Called only
    /// if a key needs the content: `file` at most twice per evaluation
    /// (for the header, then for the rest), `read` at most once.
    File {
        /// The message's file, and its length.
        file: &'a dyn Fn() -> Result<Option<(std::fs::File, u64)>, StoreError>,
        /// Reads the message whole.
        read: &'a dyn Fn() -> Result<Bytes, StoreError>,
    },
}

impl std::fmt::Debug for MessageContent<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MessageContent::Bytes(b) => write!(f, "Bytes({} octets)", b.len()),
            MessageContent::Lazy(_) => f.write_str("Lazy"),
            MessageContent::File { .. } => f.write_str("File"),
        }
    }
}

/// What a search knows of one message.
#[derive(Debug, Clone, Copy)]
pub struct MessageContext<'a> {
    /// Its UID.
    pub uid: Uid,
    /// Its message sequence number.
    pub seq: u32,
    /// Its flags.
    pub flags: &'a Flags,
    /// Whether it is `\Recent` in the session.
    pub recent: bool,
    /// Its INTERNALDATE.
    pub internal_date: InternalDate,
    /// Its RFC822.SIZE.
    pub size: u64,
    /// When it was saved in its mailbox (RFC 8514), in seconds since the
    /// epoch; SAVEDBEFORE, SAVEDON and SAVEDSINCE compare its date in UTC.
    pub save_date: i64,
    /// Its content.
    pub content: MessageContent<'a>,
}

impl<'a> MessageContext<'a> {
    /// The context of a message of a selected mailbox's view.
    pub fn of_view(message: &'a ViewMessage, seq: u32, content: MessageContent<'a>) -> MessageContext<'a> {
        MessageContext {
            uid: message.uid,
            seq,
            flags: &message.flags,
            recent: message.recent,
            internal_date: message.internal_date,
            size: message.size,
            save_date: message.save_date,
            content,
        }
    }
}

/// A compiled search key.
#[derive(Debug, Clone)]
pub struct Search {
    root: Node,
}

impl Search {
    /// Compiles a key with the default [`SearchOptions`].
    pub fn new(key: &SearchKey<'_>, scope: &SearchScope<'_>) -> Result<Search, SearchError> {
        Search::with_options(key, scope, &SearchOptions::default())
    }

    /// Compiles a key; fails if it nests too deep or holds what
    /// [`SearchError::Unsupported`] lists.
    pub fn with_options(
        key: &SearchKey<'_>,
        scope: &SearchScope<'_>,
        options: &SearchOptions,
    ) -> Result<Search, SearchError> {
        let key = resolve::resolve(key, scope, 1, options.max_depth)?;
        Ok(Search {
            root: eval::compile(&key, 1, options.max_depth)?,
        })
    }

    /// Whether some key may need the message content (a header or body
    /// key); if not, [`matches`](Self::matches) never reads it.
    pub fn needs_content(&self) -> bool {
        self.root.cost() > Cost::Meta
    }

    /// Whether some key may need more than the top header block (BODY,
    /// TEXT): a message in its file ([`MessageContent::File`]) is then
    /// analysed there and its text parts read; if not, only its top header
    /// block is read (its first 1 MiB at most).
    pub fn needs_body(&self) -> bool {
        self.root.cost() > Cost::Header
    }

    /// Whether the message matches. Fails only if the content was needed
    /// and could not be read.
    pub fn matches(&self, message: &MessageContext<'_>) -> Result<bool, StoreError> {
        let cells = Cells::default();
        Eval::new(message, &cells).eval(&self.root)
    }
}

/// Compiles `key` with the default options and tests one message.
pub fn evaluate(
    key: &SearchKey<'_>,
    scope: &SearchScope<'_>,
    message: &MessageContext<'_>,
) -> Result<bool, SearchError> {
    Ok(Search::new(key, scope)?.matches(message)?)
}

/// Messages larger than this are searched in their files (see
/// [`MessageContent::File`]) where the store keeps files.
pub const FILE_ABOVE: u64 = 256 * 1024;

/// Runs `search` over messages given as (sequence number, context
/// builder); a message whose content is gone (expunged meanwhile) does not
/// match a key that needs it. `read` reads a message whole; `file` gives
/// its file, where a large one is read a page at a time.
fn run<'m>(
    search: &Search,
    messages: impl Iterator<Item = (u32, &'m ViewMessage)>,
    read: &dyn Fn(Uid) -> Result<Bytes, StoreError>,
    file: &dyn Fn(Uid) -> Result<Option<(std::fs::File, u64)>, StoreError>,
) -> Result<Vec<Uid>, SearchError> {
    let mut out = Vec::new();
    for (seq, message) in messages {
        let load = || read(message.uid);
        let in_file = || file(message.uid);
        let content = if message.size > FILE_ABOVE {
            MessageContent::File {
                file: &in_file,
                read: &load,
            }
        } else {
            MessageContent::Lazy(&load)
        };
        let ctx = MessageContext::of_view(message, seq, content);
        match search.matches(&ctx) {
            Ok(true) => out.push(message.uid),
            Ok(false) | Err(StoreError::NoSuchMessage(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}

impl SelectedMailbox {
    /// SEARCH over the session's view: the UIDs of the matching messages,
    /// ascending (their sequence numbers are [`seq`](Self::seq)). Expunged
    /// messages not yet reported are searched while their content is kept.
    /// `*` stands for the last message; `$` is refused (see
    /// [`search_compiled`](Self::search_compiled) for a [`SearchScope`] of
    /// one's own).
    pub fn search(&self, key: &SearchKey<'_>) -> Result<Vec<Uid>, SearchError> {
        let scope = SearchScope {
            last_seq: u32::try_from(self.messages().len()).unwrap_or(u32::MAX),
            last_uid: self.messages().last().map_or(0, |m| m.uid.get()),
            ..SearchScope::default()
        };
        self.search_compiled(&Search::new(key, &scope)?)
    }

    /// [`search`](Self::search) with a key compiled beforehand.
    pub fn search_compiled(&self, search: &Search) -> Result<Vec<Uid>, SearchError> {
        let numbered = (1u32..).zip(self.messages());
        run(search, numbered, &|uid| self.read(uid), &|uid| {
            self.message_file(uid)
        })
    }
}

impl Account {
    /// SEARCH over a mailbox as it is now, without selecting it: sequence
    /// numbers are positions in the mailbox and `\Recent` means not yet
    /// claimed by any session (as STATUS counts RECENT).
    pub fn search(&self, mailbox: &MailboxName, key: &SearchKey<'_>) -> Result<Vec<Uid>, SearchError> {
        let entry = self.mailbox(mailbox)?;
        let reference = entry.to_ref();
        let snapshot = self.snapshot(mailbox)?;
        let scope = SearchScope {
            last_seq: u32::try_from(snapshot.messages.len()).unwrap_or(u32::MAX),
            last_uid: snapshot.messages.last().map_or(0, |m| m.uid.get()),
            ..SearchScope::default()
        };
        let search = Search::new(key, &scope)?;
        let first_recent = snapshot.first_recent_uid;
        let messages: Vec<ViewMessage> = snapshot
            .messages
            .into_iter()
            .map(|m| {
                let recent = m.uid >= first_recent;
                ViewMessage::new(m, recent)
            })
            .collect();
        let backend = self.backend();
        run(
            &search,
            (1u32..).zip(&messages),
            &|uid| backend.read_message(self.name(), &reference, uid),
            &|uid| backend.message_file(self.name(), &reference, uid),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::{NumberSet, Search, SearchError, SearchKey, SearchScope, run};
    use crate::flags::Flags;
    use crate::selected::ViewMessage;
    use crate::types::{InternalDate, ModSeq, StoreError, Uid};
    use bytes::Bytes;
    use mailwire_imap::AString;

    /// A message expunged meanwhile (its content gone when read) matches no
    /// key that needs its content, and the search goes on; a key that needs
    /// none still matches it; any other failure to read ends the search.
    #[test]
    fn a_message_whose_content_is_gone_matches_no_content_key() {
        let message = |uid| ViewMessage {
            uid: Uid::new(uid).expect("not zero"),
            flags: Flags::new(),
            modseq: ModSeq::MIN,
            recent: false,
            size: 24,
            internal_date: InternalDate::from_unix(0),
            save_date: 0,
        };
        let messages = [message(1), message(2), message(3)];
        let numbered = || (1u32..).zip(messages.iter());
        let gone_at_2 = |uid: Uid| match uid.get() {
            2 => Err(StoreError::NoSuchMessage(uid)),
            _ => Ok(Bytes::from_static(b"Subject: x\r\n\r\nhello\r\n")),
        };
        let no_file = |_: Uid| Ok(None);
        let search = |key: SearchKey<'static>| Search::new(&key, &SearchScope::default()).expect("a key");
        let hello = SearchKey::Body(AString::try_from("hello").expect("an atom"));
        let found = run(&search(hello.clone()), numbered(), &gone_at_2, &no_file).expect("searched");
        assert_eq!(found, [Uid::new(1).unwrap(), Uid::new(3).unwrap()]);
        let all = run(&search(SearchKey::All), numbered(), &gone_at_2, &no_file).expect("searched");
        assert_eq!(all.len(), 3);
        let failing = |uid: Uid| match uid.get() {
            2 => Err(StoreError::Temporary("disk".into())),
            _ => Ok(Bytes::new()),
        };
        assert!(matches!(
            run(&search(hello), numbered(), &failing, &no_file),
            Err(SearchError::Store(StoreError::Temporary(_)))
        ));
    }

    #[test]
    fn number_sets_normalise() {
        let set = NumberSet::from_ranges([(9, 7), (1, 2), (3, 4), (6, 6), (20, 30), (25, 26)]);
        let ranges: Vec<_> = set.ranges().collect();
        assert_eq!(ranges, [1..=4, 6..=9, 20..=30]);
        for (n, inside) in [
            (0, false),
            (1, true),
            (4, true),
            (5, false),
            (9, true),
            (10, false),
            (31, false),
        ] {
            assert_eq!(set.contains(n), inside, "{n}");
        }
        let full = NumberSet::from_ranges([(0, u32::MAX), (5, 5)]);
        assert!(full.contains(u32::MAX) && full.contains(0));
        assert_eq!(full.ranges().count(), 1);
        assert!(NumberSet::new().is_empty() && !NumberSet::new().contains(1));
    }
}

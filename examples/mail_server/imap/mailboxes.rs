//! LIST (with LIST-EXTENDED, LIST-STATUS and SPECIAL-USE), LSUB and
//! NAMESPACE: the user's mailboxes as the client asked to see them.

use mailwire::imap::{
    IString, List, ListMailbox, ListPatterns, ListReturnOption, ListSelectOption, Mailbox, MailboxAttribute,
    MailboxList, NamespaceDescription, NamespaceResponse, Quoted, Response, StatusAttribute,
    list_pattern_matches,
};
use mailwire::mailbox::{MailboxEntry, MailboxName};

use super::exec::{Answer, DELIMITER, Info, Outcome, Work, condition, status_values, store_failure};

/// NAMESPACE (RFC 2342): one personal namespace, no prefix, `/` between
/// levels; no other users' or shared namespaces.
pub(super) fn namespace() -> Outcome {
    let personal = NamespaceDescription {
        prefix: IString::Quoted(Quoted::new(Vec::new()).expect("empty is quoted")),
        delimiter: Some(DELIMITER),
        extensions: Vec::new(),
    };
    Outcome::ok(
        vec![Answer::Data(Response::Namespace(NamespaceResponse {
            personal: vec![personal],
            other_users: Vec::new(),
            shared: Vec::new(),
        }))],
        "NAMESPACE completed",
    )
}

/// The attributes of a listed mailbox.
fn attributes(
    entry: &MailboxEntry,
    all: &[MailboxEntry],
    special_use: bool,
) -> Vec<MailboxAttribute<'static>> {
    let children = all.iter().any(|e| e.name.is_inferior_of(&entry.name));
    let mut out = vec![if children {
        MailboxAttribute::HasChildren
    } else {
        MailboxAttribute::HasNoChildren
    }];
    if special_use {
        for u in &entry.special_use {
            out.push(u.to_imap());
        }
    }
    out
}

/// At most this many patterns in one LIST (RFC 5258 allows a list): each
/// is matched against every mailbox. More is `NO [LIMIT]`.
const MAX_PATTERNS: usize = 64;

/// The most matching one LIST or LSUB may cost: the sum, over every
/// pattern and name it is matched against, of the pattern's length times
/// the name's (what matching costs at most). Listings of every mailbox
/// with a few patterns cost thousands; past this, `NO [LIMIT]`.
const MAX_MATCH_WORK: u64 = 1 << 28;

/// A pattern with runs of wildcards made one (a run matches what `*`
/// matches if it holds one, else what `%` matches), and the number of
/// characters other than wildcards it holds; `None` past `limit` of them.
fn collapsed(pattern: &str, limit: usize) -> Option<(String, usize)> {
    let mut out = String::new();
    let mut literal = 0;
    for c in pattern.chars() {
        match (c, out.chars().next_back()) {
            ('*', Some('%')) => {
                out.pop();
                out.push('*');
            }
            ('*' | '%', Some('*' | '%')) => {}
            ('*' | '%', _) => out.push(c),
            _ => {
                literal += 1;
                if literal > limit {
                    return None;
                }
                out.push(c);
            }
        }
    }
    Some((out, literal))
}

/// The patterns of a LIST, each joined to the reference (RFC 9051 section
/// 6.3.9: the reference is a prefix; a pattern is read from the root when
/// it starts with the delimiter), without repeats. Runs of wildcards are
/// made one, and a pattern with more characters than the longest mailbox
/// name, which matches nothing, is left out: a reference of a megabyte
/// (a literal may be that long) costs its length once, not once for
/// every pattern.
fn patterns(reference: &Mailbox<'_>, patterns: &[ListMailbox<'_>], utf8: bool) -> Vec<String> {
    let limit = mailwire::mailbox::MAX_MAILBOX_NAME;
    let reference = collapsed(&decode_name(reference.as_bytes(), utf8), limit);
    let mut joined: Vec<String> = patterns
        .iter()
        .filter_map(|p| {
            let (p, p_literal) = collapsed(&decode_name(p.as_bytes(), utf8), limit)?;
            if p.starts_with(DELIMITER) {
                return Some(p);
            }
            let (reference, r_literal) = reference.as_ref()?;
            if reference.is_empty() {
                return Some(p);
            }
            let between = !reference.ends_with(DELIMITER);
            if r_literal + usize::from(between) + p_literal > limit {
                return None;
            }
            let mut joined = String::with_capacity(reference.len() + 1 + p.len());
            joined.push_str(reference);
            if between {
                joined.push(DELIMITER);
            }
            joined.push_str(&p);
            Some(joined)
        })
        .collect();
    joined.sort_unstable();
    joined.dedup();
    joined
}

/// `NO [LIMIT]` if matching `patterns` against `names` could cost more
/// than [`MAX_MATCH_WORK`].
fn too_costly<'n>(patterns: &[String], names: impl Iterator<Item = &'n MailboxName>) -> Option<Outcome> {
    let pattern_len: u64 = patterns.iter().map(|p| p.len() as u64).sum();
    let name_len: u64 = names.map(|n| n.as_str().len() as u64).sum();
    (pattern_len.saturating_mul(name_len) > MAX_MATCH_WORK)
        .then(|| Outcome::no("Too costly a listing: fewer or shorter patterns").with_code(condition("LIMIT")))
}

/// A name or pattern the client sent, as UTF-8 text (modified UTF-7 decoded
/// unless UTF8=ACCEPT); undecodable bytes are kept as they are, lossily,
/// so they match nothing.
fn decode_name(bytes: &[u8], utf8: bool) -> String {
    if !utf8 {
        if let Ok(text) = mailwire::imap::decode_modified_utf7(bytes) {
            return text;
        }
    }
    String::from_utf8_lossy(bytes).into_owned()
}

/// Whether a listed name matches a pattern; INBOX matches in any case.
fn matches(pattern: &str, name: &MailboxName) -> bool {
    if name.is_inbox() && pattern.eq_ignore_ascii_case("INBOX") {
        return true;
    }
    list_pattern_matches(pattern, Some(DELIMITER), name.as_str())
        || (name.is_inbox() && list_pattern_matches(&pattern.to_ascii_uppercase(), Some(DELIMITER), "INBOX"))
}

/// The levels of the hierarchy above mailboxes that are no mailbox
/// themselves (a parent deleted after its children were made), sorted.
fn missing_levels(all: &[MailboxEntry]) -> Vec<MailboxName> {
    let existing: std::collections::BTreeSet<&MailboxName> = all.iter().map(|e| &e.name).collect();
    let mut missing: Vec<MailboxName> = all
        .iter()
        .flat_map(|e| std::iter::successors(e.name.parent(), MailboxName::parent))
        .filter(|parent| !existing.contains(parent))
        .collect();
    missing.sort_unstable();
    missing.dedup();
    missing
}

pub(super) fn list(work: &mut Work, list: &List<'static>, info: &Info) -> Outcome {
    let raw: Vec<ListMailbox<'static>> = match &list.patterns {
        ListPatterns::Single(p) => vec![p.clone()],
        ListPatterns::List(l) => l.clone(),
    };
    // LIST "" "": the delimiter and the root.
    if raw.len() == 1
        && raw[0].as_bytes().is_empty()
        && list.selection.is_none()
        && list.return_options.is_none()
    {
        return Outcome::ok(
            vec![Answer::Data(Response::List(MailboxList {
                attributes: vec![MailboxAttribute::Noselect],
                delimiter: Some(DELIMITER),
                mailbox: Mailbox::from_utf8_name("").into_owned(),
                extended: Vec::new(),
            }))],
            "LIST completed",
        );
    }
    if raw.len() > MAX_PATTERNS {
        return Outcome::no(format!("Too many patterns: at most {MAX_PATTERNS} in one LIST"))
            .with_code(condition("LIMIT"));
    }
    let patterns = patterns(&list.reference, &raw, info.utf8);
    let selection = list.selection.as_deref().unwrap_or_default();
    let returns = list.return_options.as_deref().unwrap_or_default();
    let subscribed_only = selection.contains(&ListSelectOption::Subscribed);
    let special_only = selection.contains(&ListSelectOption::SpecialUse);
    let want_subscribed = subscribed_only || returns.contains(&ListReturnOption::Subscribed);
    // SPECIAL-USE attributes are always sent (RFC 6154 allows it), and so
    // are the children attributes (CHILDREN, RFC 9051).
    let status: Option<&Vec<StatusAttribute<'static>>> = returns.iter().find_map(|r| match r {
        ListReturnOption::Status(a) => Some(a),
        _ => None,
    });
    let all = match work.account.list() {
        Ok(l) => l,
        Err(e) => return store_failure(&e),
    };
    let subscriptions = if want_subscribed {
        match work.account.subscriptions() {
            Ok(s) => s,
            Err(e) => return store_failure(&e),
        }
    } else {
        Vec::new()
    };
    let missing = if subscribed_only || special_only {
        Vec::new()
    } else {
        missing_levels(&all)
    };
    let names = all.iter().map(|e| &e.name).chain(&subscriptions).chain(&missing);
    if let Some(refused) = too_costly(&patterns, names) {
        return refused;
    }
    let mut answers = Vec::new();
    for entry in &all {
        if !patterns.iter().any(|p| matches(p, &entry.name)) {
            continue;
        }
        let subscribed = subscriptions.contains(&entry.name);
        if (subscribed_only && !subscribed) || (special_only && entry.special_use.is_empty()) {
            continue;
        }
        let mut attrs = attributes(entry, &all, true);
        if want_subscribed && subscribed {
            attrs.push(MailboxAttribute::Subscribed);
        }
        answers.push(Answer::Data(Response::List(MailboxList {
            attributes: attrs,
            delimiter: Some(DELIMITER),
            mailbox: entry.name.to_imap(info.utf8).into_owned(),
            extended: Vec::new(),
        })));
        if let Some(items) = status {
            // LIST-STATUS (RFC 5819): a mailbox that cannot be read is
            // listed without its STATUS.
            if let Ok(s) = work.account.status(&entry.name) {
                answers.push(Answer::Data(Response::MailboxStatus(
                    mailwire::imap::MailboxStatus {
                        mailbox: entry.name.to_imap(info.utf8).into_owned(),
                        values: status_values(&s, items),
                    },
                )));
            }
        }
    }
    // Levels of the hierarchy that are no mailbox (a parent deleted after
    // its children were made) match a pattern ending in `%`: RFC 9051
    // section 6.3.9 has them listed, as \Noselect, so that a client that
    // walks the hierarchy one level at a time reaches the children; an
    // extended LIST names them \NonExistent (RFC 5258).
    if !missing.is_empty() {
        let extended = list.selection.is_some() || list.return_options.is_some() || raw.len() > 1;
        let by_level: Vec<&String> = patterns.iter().filter(|p| p.ends_with('%')).collect();
        for name in missing {
            if !by_level.iter().any(|p| matches(p, &name)) {
                continue;
            }
            let absent = if extended {
                MailboxAttribute::NonExistent
            } else {
                MailboxAttribute::Noselect
            };
            answers.push(Answer::Data(Response::List(MailboxList {
                attributes: vec![absent, MailboxAttribute::HasChildren],
                delimiter: Some(DELIMITER),
                mailbox: name.to_imap(info.utf8).into_owned(),
                extended: Vec::new(),
            })));
        }
    }
    // Subscribed names whose mailbox is gone (RFC 5258: \NonExistent).
    if subscribed_only {
        for name in &subscriptions {
            if all.iter().any(|e| &e.name == name) || !patterns.iter().any(|p| matches(p, name)) {
                continue;
            }
            answers.push(Answer::Data(Response::List(MailboxList {
                attributes: vec![MailboxAttribute::NonExistent, MailboxAttribute::Subscribed],
                delimiter: Some(DELIMITER),
                mailbox: name.to_imap(info.utf8).into_owned(),
                extended: Vec::new(),
            })));
        }
    }
    Outcome::ok(answers, "LIST completed")
}

pub(super) fn lsub(
    work: &mut Work,
    reference: &Mailbox<'static>,
    pattern: &ListMailbox<'static>,
    info: &Info,
) -> Outcome {
    let patterns = patterns(reference, std::slice::from_ref(pattern), info.utf8);
    let (subscriptions, all) = match (work.account.subscriptions(), work.account.list()) {
        (Ok(s), Ok(a)) => (s, a),
        (Err(e), _) | (_, Err(e)) => return store_failure(&e),
    };
    if let Some(refused) = too_costly(&patterns, subscriptions.iter()) {
        return refused;
    }
    let answers = subscriptions
        .iter()
        .filter(|n| patterns.iter().any(|p| matches(p, n)))
        .map(|name| {
            let exists = all.iter().any(|e| &e.name == name);
            Answer::Data(Response::Lsub(MailboxList {
                attributes: if exists {
                    Vec::new()
                } else {
                    vec![MailboxAttribute::Noselect]
                },
                delimiter: Some(DELIMITER),
                mailbox: name.to_imap(info.utf8).into_owned(),
                extended: Vec::new(),
            }))
        })
        .collect();
    Outcome::ok(answers, "LSUB completed")
}

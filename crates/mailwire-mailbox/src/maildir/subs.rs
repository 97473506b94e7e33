//! The `subscriptions` file at the Maildir root, as Dovecot 2.3 writes it:
//! the header `V<TAB>2`, an empty line, then one name a line with the
//! hierarchy levels separated by a tab, each level in its on-disk form
//! (modified UTF-7; see [`super::layout`]). Files without the header
//! (older Dovecot, Courier) have one name a line with `.` between levels.
//! Changes are made under `subscriptions.lock`, whose content becomes the
//! new file; lines mailwire cannot read are kept.

use std::path::Path;

use super::fsutil::{self, io_err};
use super::layout;
use super::lock::{self, DotLock};
use crate::types::{MailboxName, StoreError};

const HEADER: &str = "V\t2\n\n";

/// A `subscriptions` file larger than this is refused as corrupt: it is
/// ten thousand names of 100 octets, ten times the mailboxes an account
/// has by default. Each LIST of subscriptions reads it whole, a line at a
/// few dozen octets of memory: 16 MiB of one-letter lines took some 400 MB
/// per read, in the process that serves every user.
const MAX_FILE: u64 = 1 << 20;

/// Dovecot's tab escaping: `\x01` followed by a letter stands for a
/// control character.
fn tab_unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1}' {
            match chars.next() {
                Some('1') => out.push('\u{1}'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some('n') => out.push('\n'),
                Some(other) => out.push(other),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn decode(line: &[u8], v2: bool) -> Option<MailboxName> {
    // Names on disk are ASCII (modified UTF-7): a line that is not UTF-8
    // is no name, and is kept as it is.
    let line = std::str::from_utf8(line).ok()?;
    // A file written with CRLF line ends.
    let line = line.strip_suffix('\r').unwrap_or(line);
    let levels: Vec<String> = if v2 {
        line.split('\t').map(tab_unescape).collect()
    } else {
        line.split('.').map(str::to_owned).collect()
    };
    let mut name = String::new();
    for (i, level) in levels.iter().enumerate() {
        if i > 0 {
            name.push('/');
        }
        name.push_str(&layout::decode_level(level)?);
    }
    MailboxName::new(&name).ok()
}

fn encode(name: &MailboxName, v2: bool) -> String {
    if name.is_inbox() {
        return "INBOX".into();
    }
    let mut out = String::new();
    for (i, level) in name.levels().enumerate() {
        if i > 0 {
            out.push(if v2 { '\t' } else { '.' });
        }
        layout::encode_level(level, &mut out);
    }
    out
}

/// The file's lines and whether it has the version 2 header (a missing
/// file counts as version 2, the format written). Lines end at LF only
/// and keep any CR, and are kept as octets, so that a line written back is
/// the line read (a line that does not decode is kept as it is: a CR
/// dropped from it could make it decode as a name nobody subscribed, and
/// octets that are not UTF-8 would come back as replacement characters).
fn read_lines(path: &Path) -> Result<(bool, Vec<Vec<u8>>), StoreError> {
    let text = match fsutil::read_file(path, MAX_FILE) {
        Ok(b) => b,
        Err(e) if fsutil::not_found(&e) => return Ok((true, Vec::new())),
        Err(e) => return Err(io_err("read", path, &e)),
    };
    let (v2, body) = match text.strip_prefix(HEADER.as_bytes()) {
        Some(rest) => (true, rest),
        None => (false, text.as_slice()),
    };
    Ok((
        v2,
        body.split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(<[u8]>::to_vec)
            .collect(),
    ))
}

/// The subscribed names, sorted, without repeats.
pub(crate) fn list(maildir: &Path) -> Result<Vec<MailboxName>, StoreError> {
    let (v2, lines) = read_lines(&maildir.join("subscriptions"))?;
    let mut names: Vec<MailboxName> = lines.iter().filter_map(|l| decode(l, v2)).collect();
    names.sort();
    names.dedup();
    Ok(names)
}

/// Adds or removes a subscription.
pub(crate) fn set(
    maildir: &Path,
    name: &MailboxName,
    subscribed: bool,
    fsync: bool,
) -> Result<(), StoreError> {
    let path = maildir.join("subscriptions");
    let lock = DotLock::acquire(&path, lock::SHORT_STALE, lock::default_timeout(lock::SHORT_STALE))?;
    let (v2, lines) = read_lines(&path)?;
    let present = lines.iter().any(|l| decode(l, v2).as_ref() == Some(name));
    if present == subscribed {
        return Ok(()); // dropping the lock removes it
    }
    let mut out = Vec::new();
    if v2 {
        out.extend_from_slice(HEADER.as_bytes());
    }
    for line in &lines {
        if !subscribed && decode(line, v2).as_ref() == Some(name) {
            continue;
        }
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    if subscribed {
        out.extend_from_slice(encode(name, v2).as_bytes());
        out.push(b'\n');
    }
    lock.replace(&out, fsync)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn mb(s: &str) -> MailboxName {
        MailboxName::new(s).unwrap()
    }

    /// A file past the limit is refused, whatever it holds; one just
    /// under it is read.
    #[test]
    fn a_file_past_the_limit_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("subscriptions");
        let line = "INBOX\n";
        let fits = HEADER.to_owned() + &line.repeat((MAX_FILE as usize - HEADER.len()) / line.len());
        fs::write(&path, &fits).unwrap();
        assert_eq!(list(dir.path()).unwrap(), [mb("INBOX")]);
        fs::write(&path, fits + line).unwrap();
        assert!(matches!(list(dir.path()), Err(StoreError::Permanent(_))));
    }

    #[test]
    fn reads_dovecot_2_3_file_and_keeps_its_format() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("subscriptions");
        fs::write(&path, "V\t2\n\nWork\tProjects\nEntw&APw-rfe\nINBOX\n").unwrap();
        assert_eq!(
            list(dir.path()).unwrap(),
            [mb("Entwürfe"), mb("INBOX"), mb("Work/Projects")]
        );
        set(dir.path(), &mb("a.b/c"), true, false).unwrap();
        set(dir.path(), &mb("Entwürfe"), false, false).unwrap();
        set(dir.path(), &mb("INBOX"), true, false).unwrap();
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "V\t2\n\nWork\tProjects\nINBOX\na\\2eb\tc\n"
        );
        assert!(!dir.path().join("subscriptions.lock").exists());
    }

    /// Found by the `mailbox_maildir_files` fuzz target: a line that does
    /// not decode because it ends with two CRs lost one when the file was
    /// written back, and then decoded: a subscription added and removed
    /// left a name subscribed that was not before.
    #[test]
    fn lines_are_written_back_as_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("subscriptions");
        // A line that is not UTF-8 is kept octet for octet too (it came
        // back with replacement characters).
        let content = b"{.43}}\r\r\nkept\r\ncaf\xe9\nplain\n";
        fs::write(&path, content).unwrap();
        let before = list(dir.path()).unwrap();
        assert_eq!(before, [mb("kept"), mb("plain")]);
        set(dir.path(), &mb("New"), true, false).unwrap();
        set(dir.path(), &mb("New"), false, false).unwrap();
        assert_eq!(list(dir.path()).unwrap(), before);
        assert_eq!(fs::read(&path).unwrap(), content);
    }

    #[test]
    fn version_1_files() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("subscriptions"), "Work.Projects\n&\n").unwrap();
        assert_eq!(list(dir.path()).unwrap(), [mb("Work/Projects")]);
        set(dir.path(), &mb("x/y"), true, false).unwrap();
        assert_eq!(
            fs::read_to_string(dir.path().join("subscriptions")).unwrap(),
            "Work.Projects\n&\nx.y\n"
        );
    }

    #[test]
    fn new_file_is_version_2() {
        let dir = tempfile::tempdir().unwrap();
        set(dir.path(), &mb("Sent"), true, false).unwrap();
        assert_eq!(
            fs::read_to_string(dir.path().join("subscriptions")).unwrap(),
            "V\t2\n\nSent\n"
        );
        assert_eq!(tab_unescape("a\u{1}tb"), "a\tb");
    }
}

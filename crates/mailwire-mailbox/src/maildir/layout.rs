//! Names on disk: Maildir++ folder names, account directories and message
//! file names.
//!
//! A mailbox `a/b` is the folder `.a.b` in the account's Maildir; INBOX is
//! the Maildir itself. Each level is written the way Dovecot 2.3 writes it
//! with its default settings: modified UTF-7 (RFC 3501 section 5.1.3), after
//! escaping the characters that the layout reserves as the listescape
//! plugin does (`\2e` for `.`, `\5c` for `\`, `\7e` for a leading `~`).
//! Dovecot without that plugin refuses `.` in names and shows such a
//! folder under its escaped name.
//!
//! A message file is `<base>[:2,<flags>]`; mailwire's bases look like
//! Dovecot's: `<secs>.M<usecs>P<pid>Q<n>.<host>,S=<size>,W=<vsize>`.

use std::fmt::Write as _;

use mailwire_core::utf7::{decode_modified_utf7_relaxed, encode_modified_utf7_into};

use crate::types::MailboxName;

/// The folder directory name of a mailbox other than INBOX (`.a.b`).
pub(crate) fn folder_dir_name(name: &MailboxName) -> String {
    let mut out = String::with_capacity(name.as_str().len() + 8);
    for level in name.levels() {
        out.push('.');
        encode_level(level, &mut out);
    }
    out
}

/// The mailbox of a folder directory name, if it is one (`.a.b` is
/// `a/b`); `None` for names that are not folders or do not decode.
pub(crate) fn mailbox_of_dir(dir: &str) -> Option<MailboxName> {
    let rest = dir.strip_prefix('.')?;
    if rest.is_empty() || rest == "." {
        return None;
    }
    let mut name = String::with_capacity(rest.len());
    for (i, level) in rest.split('.').enumerate() {
        if i > 0 {
            name.push('/');
        }
        name.push_str(&decode_level(level)?);
    }
    let mb = MailboxName::new(&name).ok()?;
    // INBOX is the Maildir root; a `.INBOX` folder is not a mailbox.
    if mb.is_inbox() { None } else { Some(mb) }
}

/// The level as stored: escapes, then modified UTF-7.
pub(crate) fn encode_level(level: &str, out: &mut String) {
    let mut escaped = String::with_capacity(level.len());
    for (i, c) in level.chars().enumerate() {
        match c {
            '.' => escaped.push_str("\\2e"),
            '\\' => escaped.push_str("\\5c"),
            '~' if i == 0 => escaped.push_str("\\7e"),
            c => escaped.push(c),
        }
    }
    encode_modified_utf7_into(&escaped, out);
}

/// The level from its stored form; `None` if it does not decode.
pub(crate) fn decode_level(stored: &str) -> Option<String> {
    let text = decode_modified_utf7_relaxed(stored.as_bytes()).ok()?;
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(pos) = rest.find('\\') {
        out.push_str(&rest[..pos]);
        let hex = rest.get(pos + 1..pos + 3);
        match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
            Some(b) if b.is_ascii() && b >= 0x20 => {
                out.push(char::from(b));
                rest = &rest[pos + 3..];
            }
            _ => {
                out.push('\\');
                rest = &rest[pos + 1..];
            }
        }
    }
    out.push_str(rest);
    Some(out)
}

/// The directory name of an account: its name, with `%`, `/` and a
/// leading `.` percent-encoded so that it is one safe path component.
pub(crate) fn account_dir_name(account: &str) -> String {
    let mut out = String::with_capacity(account.len());
    for (i, c) in account.chars().enumerate() {
        match c {
            '%' | '/' => {
                let _ = write!(out, "%{:02X}", c as u32);
            }
            '.' if i == 0 => out.push_str("%2E"),
            c => out.push(c),
        }
    }
    out
}

/// Whether a message file name is usable: no `/`, no line breaks, not a
/// dot file.
pub(crate) fn valid_message_file(name: &str) -> bool {
    !name.is_empty() && !name.starts_with('.') && !name.contains(['/', '\n', '\r']) && name.len() <= 255
}

/// A message file name split into its base and its info (the text after
/// `:2,`, if the name has it).
pub(crate) fn split_info(name: &str) -> (&str, Option<&str>) {
    match name.split_once(':') {
        Some((base, info)) => (base, Some(info.strip_prefix("2,").unwrap_or(""))),
        None => (name, None),
    }
}

/// The value of a `,<key>=<n>` field of a base name (`S` or `W`).
pub(crate) fn base_field(base: &str, key: char) -> Option<u64> {
    base.split(',')
        .skip(1)
        .find_map(|f| f.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
}

/// Whether `virtual_size` (a `W=` field) can be the size with CRLF line
/// ends of a file of `file_len` octets: at least its length, at most
/// twice it (every octet an LF). A name that says otherwise was not
/// written with the file, and is not believed.
pub(crate) fn fits_file(virtual_size: u64, file_len: u64) -> bool {
    (file_len..=file_len.saturating_mul(2)).contains(&virtual_size)
}

/// A new base name for a message of `size` octets stored with CRLF line
/// ends (so its physical and virtual sizes are equal).
pub(crate) fn new_base(size: u64) -> String {
    format!(
        "{}.{},S={size},W={size}",
        super::fsutil::unique_base(),
        super::fsutil::filename_host()
    )
}

/// A new base name for a copy of a message whose base is `old` (its S=
/// and W= fields are kept).
pub(crate) fn copy_base(old: &str) -> String {
    let mut out = format!(
        "{}.{}",
        super::fsutil::unique_base(),
        super::fsutil::filename_host()
    );
    for key in ['S', 'W'] {
        if let Some(v) = base_field(old, key) {
            let _ = write!(out, ",{key}={v}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mb(s: &str) -> MailboxName {
        MailboxName::new(s).unwrap()
    }

    #[test]
    fn folder_names_like_dovecot() {
        assert_eq!(folder_dir_name(&mb("Work/Projects")), ".Work.Projects");
        assert_eq!(folder_dir_name(&mb("Entwürfe")), ".Entw&APw-rfe");
        assert_eq!(folder_dir_name(&mb("a.b/~c\\d")), ".a\\2eb.\\7ec\\5cd");
        assert_eq!(folder_dir_name(&mb("R&D")), ".R&-D");
        assert_eq!(folder_dir_name(&mb("日本語")), ".&ZeVnLIqe-");
        for name in [
            "Work/Projects",
            "Entwürfe",
            "a.b/~c\\d",
            "R&D",
            "日本語/x",
            "😀 mail",
            "INBOX/x",
        ] {
            assert_eq!(
                mailbox_of_dir(&folder_dir_name(&mb(name))),
                Some(mb(name)),
                "{name}"
            );
        }
        assert_eq!(mailbox_of_dir("."), None);
        assert_eq!(mailbox_of_dir(".."), None);
        assert_eq!(mailbox_of_dir(".INBOX"), None);
        assert_eq!(mailbox_of_dir("cur"), None);
        assert_eq!(mailbox_of_dir(".a..b"), None);
    }

    #[test]
    fn folder_levels_round_trip_through_modified_utf7() {
        for level in [
            "plain",
            "a&b",
            "Entwürfe",
            "台北日本語",
            "😀 x",
            "~&-&",
            "Ünïcödé&",
            "a.b\\c",
        ] {
            let mut stored = String::new();
            encode_level(level, &mut stored);
            assert!(stored.bytes().all(|b| (0x20..0x7f).contains(&b)), "{stored}");
            assert_eq!(decode_level(&stored).as_deref(), Some(level), "{stored}");
        }
        // Two adjacent runs, as other software may write them, still read.
        assert_eq!(decode_level("&APw-&APw-").as_deref(), Some("üü"));
        for malformed in ["&APw", "&AGE-", "&APx-", "&2D0-", "\u{7f}"] {
            assert_eq!(decode_level(malformed), None, "{malformed}");
        }
    }

    #[test]
    fn account_dirs_are_one_component() {
        assert_eq!(account_dir_name("alice"), "alice");
        assert_eq!(account_dir_name("a/b%c"), "a%2Fb%25c");
        assert_eq!(account_dir_name(".."), "%2E.");
        assert_eq!(account_dir_name("bob@example.org"), "bob@example.org");
    }

    #[test]
    fn file_names() {
        assert_eq!(
            split_info("1.M2P3.h,S=5,W=6:2,FS"),
            ("1.M2P3.h,S=5,W=6", Some("FS"))
        );
        assert_eq!(split_info("1.M2P3.h"), ("1.M2P3.h", None));
        assert_eq!(base_field("1.M2P3.h,S=5,W=6", 'W'), Some(6));
        assert_eq!(base_field("1.M2P3.h,S=5", 'W'), None);
        let b = new_base(42);
        assert_eq!(base_field(&b, 'S'), Some(42));
        assert_eq!(base_field(&copy_base(&b), 'W'), Some(42));
        assert!(valid_message_file(&b));
        assert!(!valid_message_file(".hidden"));
    }
}

//! The client against a server that lies: sets of four billion UIDs where
//! it names a few messages, a UID at the top of the range, sizes that add
//! up past 64 bits. mail_server holds the conversation and a proxy
//! rewrites its answers. The client must finish promptly and stay small.

use std::process::Command;
use std::time::Duration;

use super::proxy::Proxy;
use super::support::{self, TempDir};
use super::{client_command, mail_server_account};

/// The most address space the client may take: far above what it needs,
/// far below the 16 GiB that four billion UIDs take as a list.
const ADDRESS_SPACE_KIB: u64 = 2 * 1024 * 1024;

/// `command` run with its address space limited (`ulimit -v`), so that a
/// client that tries to hold four billion UIDs fails at once instead of
/// filling the machine.
pub fn limited(command: &Command) -> Command {
    let mut wrapped = Command::new("sh");
    wrapped
        .arg("-c")
        .arg(format!("ulimit -v {ADDRESS_SPACE_KIB} && exec \"$@\""))
        .arg("sh")
        .arg(command.get_program())
        .args(command.get_args());
    for (key, value) in command.get_envs() {
        match value {
            Some(value) => wrapped.env(key, value),
            None => wrapped.env_remove(key),
        };
    }
    wrapped
}

/// Runs the client through `proxy` with its address space limited; it
/// must succeed within a minute. What it printed.
fn run_limited(proxy: &Proxy, args: &[&str]) -> String {
    let out = support::run(
        &mut limited(&client_command(proxy.addr, args)),
        b"",
        Duration::from_secs(60),
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "imap_client {args:?} failed ({}): {stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Every APPENDUID names UIDs 1 to 4294967295.
fn appenduid_of_everything(line: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(line).ok()?;
    let (tag, rest) = text.split_once(' ')?;
    let (validity, _) = rest.strip_prefix("OK [APPENDUID ")?.split_once(' ')?;
    Some(format!("{tag} OK [APPENDUID {validity} 1:4294967295] appended\r\n").into_bytes())
}

/// IDLE's go-ahead comes with two VANISHED of every UID.
fn everything_vanishes_in_idle(line: &[u8]) -> Option<Vec<u8>> {
    if !line.starts_with(b"+ idling") {
        return None;
    }
    let mut out = line.to_vec();
    out.extend_from_slice(b"* VANISHED 1:4294967295\r\n".repeat(2).as_slice());
    Some(out)
}

/// `upload` takes one UID per message it sent from the APPENDUID code.
#[test]
fn upload_takes_one_uid_per_message_from_appenduid() {
    let (_mail, server) = mail_server_account("client-hostile-upload");
    let proxy = Proxy::rewriting(server.imap, Some(appenduid_of_everything));
    let dir = TempDir::new("client-hostile-upload-files");
    let file = dir.path().join("note.eml");
    std::fs::write(&file, b"Subject: a note\r\n\r\nhello\r\n").expect("write the message");
    let file = file.display().to_string();
    let stdout = run_limited(&proxy, &["upload", file.as_str(), "--to", "INBOX"]);
    assert_eq!(stdout.trim(), format!("uploaded {file} to INBOX as UID 1"));
}

/// `watch` looks the messages it knows up in a VANISHED set instead of
/// walking through the set: four billion UIDs cost nothing, and every
/// known message is reported gone.
#[test]
fn watch_looks_up_a_vanished_set() {
    let (_mail, server) = mail_server_account("client-hostile-watch");
    let proxy = Proxy::rewriting(server.imap, Some(everything_vanishes_in_idle));
    let stdout = run_limited(&proxy, &["watch", "--stop-after", "3"]);
    let count: usize = stdout
        .lines()
        .find_map(|l| {
            l.strip_prefix("watching INBOX: ")?
                .strip_suffix(" messages")?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no count of messages: {stdout}"));
    assert!(count > 0, "{stdout}");
    let vanished: Vec<&str> = stdout.lines().filter(|l| l.starts_with("vanished ")).collect();
    let expected: Vec<String> = (1..=count).map(|u| format!("vanished {u}")).collect();
    assert_eq!(vanished, expected, "{stdout}");
}

/// How many times [`highest_uid_then_growth`] said the mailbox grew.
static GROWTHS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Message 1's UID is 4294967295 in every listing, and IDLE's go-ahead
/// says the mailbox grew.
fn highest_uid_then_growth(line: &[u8]) -> Option<Vec<u8>> {
    if line.starts_with(b"+ idling") {
        GROWTHS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut out = line.to_vec();
        out.extend_from_slice(b"* 99 EXISTS\r\n");
        return Some(out);
    }
    let text = std::str::from_utf8(line).ok()?;
    if !text.starts_with("* 1 FETCH (") {
        return None;
    }
    let uid = digits_after(text, "UID ")?;
    Some(format!("{}4294967295{}", &text[..uid.start], &text[uid.end..]).into_bytes())
}

/// Where the number after the first `key` in `text` lies.
fn digits_after(text: &str, key: &str) -> Option<std::ops::Range<usize>> {
    let start = text.find(key)? + key.len();
    let len = text[start..].bytes().take_while(u8::is_ascii_digit).count();
    Some(start..start + len)
}

/// `watch` told that a mailbox whose highest UID is 4294967295 grew: no
/// UID can be above it, so it lists the mailbox again instead of asking
/// for the UIDs from 4294967296 on.
#[test]
fn watch_survives_growth_above_the_highest_uid() {
    let (_mail, server) = mail_server_account("client-hostile-top-uid");
    let proxy = Proxy::rewriting(server.imap, Some(highest_uid_then_growth));
    let stdout = run_limited(&proxy, &["watch", "--stop-after", "3"]);
    assert!(stdout.starts_with("watching INBOX: "), "{stdout}");
    // The growth was told (while the client was idling).
    assert!(GROWTHS.load(std::sync::atomic::Ordering::Relaxed) > 0, "{stdout}");
    // The listings agree: nothing new, nothing gone.
    assert!(
        stdout
            .lines()
            .all(|l| !l.starts_with("new ") && !l.starts_with("vanished ")),
        "{stdout}"
    );
}

/// STATUS without SIZE, and every RFC822.SIZE the largest number64
/// (2^63 - 1).
fn huge_sizes(line: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(line).ok()?;
    if text.starts_with("* STATUS ") {
        let size = digits_after(text, " SIZE ")?;
        let key = size.start - " SIZE ".len();
        return Some(format!("{}{}", &text[..key], &text[size.end..]).into_bytes());
    }
    let size = digits_after(text, "RFC822.SIZE ")?;
    Some(format!("{}9223372036854775807{}", &text[..size.start], &text[size.end..]).into_bytes())
}

/// `mailboxes` adds up the sizes of the messages when STATUS gives none:
/// sizes that overflow 64 bits saturate (16 EiB, shown in TiB) instead of
/// panicking or wrapping round.
#[test]
fn mailbox_sizes_saturate() {
    let (_mail, server) = mail_server_account("client-hostile-sizes");
    let proxy = Proxy::rewriting(server.imap, Some(huge_sizes));
    let stdout = run_limited(&proxy, &["mailboxes"]);
    let inbox = stdout
        .lines()
        .find(|l| l.starts_with("INBOX "))
        .unwrap_or_else(|| panic!("no INBOX row: {stdout}"));
    assert!(inbox.ends_with(" 16777216.0 TiB"), "{stdout}");
}

/// Every FETCH response that carries a whole message body says it is the
/// body of UID 7777, a message nobody asked for.
fn body_of_another_uid(line: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(line).ok()?;
    if !(text.starts_with("* ") && text.contains(" FETCH (") && text.contains("BODY[] ")) {
        return None;
    }
    let uid = digits_after(text, "UID ")?;
    Some(format!("{}7777{}", &text[..uid.start], &text[uid.end..]).into_bytes())
}

/// A sync of the mirror at `local` with the server at `addr` (a proxy's,
/// or the server's): what it did.
fn sync_with(addr: std::net::SocketAddr, local: &std::path::Path) -> std::process::Output {
    support::run(
        &mut super::sync::sync_command_to(addr, local, &[]),
        b"",
        Duration::from_secs(60),
    )
}

/// [`sync_with`], which must succeed (`what` names it); what it printed.
fn synced(addr: std::net::SocketAddr, local: &std::path::Path, what: &str) -> String {
    let out = sync_with(addr, local);
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The message files under `root`: every file in a `cur` or `new`
/// directory.
fn message_files(root: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(root) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            let path = e.path();
            match path.file_name().and_then(|n| n.to_str()) {
                Some("cur" | "new") => std::fs::read_dir(&path).map_or(0, |d| d.count()),
                _ if path.is_dir() => message_files(&path),
                _ => 0,
            }
        })
        .sum()
}

/// `sync` asks for message r's body and is given the body of another
/// message: the run fails, nothing is stored or paired; the next run,
/// without the lie, stores every message once. It stored the body it was
/// given as r's and recorded the pair, so r, never stored, was deleted on
/// the server once that local copy was deleted.
#[test]
fn sync_refuses_the_body_of_another_message() {
    let (_mail, server) = mail_server_account("client-hostile-body");
    let proxy = Proxy::rewriting(server.imap, Some(body_of_another_uid));
    let dir = TempDir::new("client-hostile-body-files");
    let local = dir.path().join("Maildir");
    let out = sync_with(proxy.addr, &local);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("the server sent the body of UID 7777 where"),
        "{stderr}"
    );
    assert_eq!(message_files(&local), 0);

    synced(server.imap, &local, "without the lie");
    assert_eq!(message_files(&local), super::messages().len());
}

/// A first sync killed after it recorded pairs but before it recorded
/// the mailbox's UIDVALIDITY leaves pairs valid for no UIDVALIDITY; here
/// one for the UID the next message will get, with a local copy that
/// does not exist. The next sync forgets them. It kept them, wrote the
/// UIDVALIDITY, and the sync after took the new message for one whose
/// local copy was deleted: it deleted it on the server, never stored.
#[test]
fn pairs_recorded_before_any_uidvalidity_are_forgotten() {
    let (mail, server) = mail_server_account("client-hostile-early-pairs");
    let dir = TempDir::new("client-hostile-early-pairs-files");
    let local = dir.path().join("Maildir");
    let count = super::messages().len();
    let next = count + 1;
    for sub in ["cur", "new", "tmp", "mailwire-sync"] {
        std::fs::create_dir_all(local.join(sub)).expect("create the mirror");
    }
    std::fs::write(
        local.join("mailwire-sync/journal"),
        format!("P\tINBOX\t{next}\t50\n"),
    )
    .expect("write the journal");
    let sync = |what: &str| synced(server.imap, &local, what);
    sync("first");
    assert_eq!(message_files(&local), count);
    let inbox = mail.maildir("alice");
    std::fs::write(
        inbox.join("new").join("1764999999.M1P1.late"),
        b"Subject: arrives later\r\n\r\nkeep me\r\n",
    )
    .expect("deliver");
    sync("second");
    assert_eq!(message_files(&local), next, "the new message was not downloaded");
    assert_eq!(message_files(&inbox), next, "a message was deleted on the server");
}

/// Every UIDVALIDITY the server gives (SELECT's code, STATUS's value) is
/// 1: unique per mailbox name, as RFC 9051 allows, not across names.
fn every_uidvalidity_is_one(line: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(line).ok()?;
    let at = digits_after(text, "UIDVALIDITY ")?;
    Some(format!("{}1{}", &text[..at.start], &text[at.end..]).into_bytes())
}

/// A message for the folders of [`a_mailbox_taken_for_a_renamed_one_gets_no_pairs`].
fn note(subject: &str) -> Vec<u8> {
    format!("Subject: {subject}\r\nMessage-ID: <{subject}@mailwire.test>\r\n\r\n{subject}\r\n").into_bytes()
}

/// A server that gives every mailbox the same UIDVALIDITY; another
/// client deletes `Old` and creates `New` with other messages under the
/// same UIDs; here one of Old's messages was deleted. `sync` takes New
/// for Old renamed (the only hint it has), and renames the local folder,
/// but pairs its messages again by key: New's messages are downloaded and
/// none is deleted on the server. It carried Old's pairs over, so New's
/// message of the deleted one's UID counted as deleted here, and was
/// deleted on the server, never stored.
#[test]
fn a_mailbox_taken_for_a_renamed_one_gets_no_pairs() {
    let (mail, server) = mail_server_account("client-hostile-same-validity");
    let proxy = Proxy::rewriting(server.imap, Some(every_uidvalidity_is_one));
    let inbox = mail.maildir("alice");
    let folder = |name: &str, messages: &[&str]| {
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(inbox.join(name).join(sub)).expect("create a folder");
        }
        for (i, subject) in messages.iter().enumerate() {
            let file = inbox
                .join(name)
                .join("new")
                .join(format!("176400000{i}.M{i}P1.{subject}"));
            std::fs::write(file, note(subject)).expect("deliver");
        }
    };
    folder(".Old", &["old-one", "old-two"]);
    let dir = TempDir::new("client-hostile-same-validity-files");
    let local = dir.path().join("Maildir");
    let sync = |what: &str| synced(proxy.addr, &local, what);
    sync("first");
    let local_old = local.join(".Old/cur");
    let first = std::fs::read_dir(&local_old)
        .expect("the local Old")
        .next()
        .expect("a message")
        .expect("an entry")
        .path();
    std::fs::remove_file(first).expect("delete a message here");

    std::fs::remove_dir_all(inbox.join(".Old")).expect("delete Old on the server");
    folder(".New", &["new-one", "new-two"]);
    let out = sync("second");
    assert!(out.contains("renamed on the server: Old -> New"), "{out}");
    let on_server: Vec<Vec<u8>> = ["cur", "new"]
        .iter()
        .flat_map(|d| std::fs::read_dir(inbox.join(".New").join(d)).expect("the server's New"))
        .map(|e| std::fs::read(e.expect("an entry").path()).expect("a message"))
        .collect();
    for subject in ["new-one", "new-two"] {
        assert!(
            on_server
                .iter()
                .any(|m| m.windows(subject.len()).any(|w| w == subject.as_bytes())),
            "{subject} was deleted on the server: {out}"
        );
    }
}

/// The Message-ID of the HTML message of [`super::messages`], and what
/// [`another_message_under_its_uid`] makes of it.
const PAIRED_ID: &[u8] = b"<html@mailwire.test>";
const OTHER_ID: &[u8] = b"<HTML@mailwire.test>";

/// The server shows another message under the HTML message's UID (its
/// Message-ID changed, in every literal): the UID given to another
/// message under one UIDVALIDITY, as RFC 9051 forbids, or the mirror
/// synchronised with another account whose UIDVALIDITY is the same.
fn another_message_under_its_uid(literal: &mut [u8]) {
    if let Some(at) = literal.windows(PAIRED_ID.len()).position(|w| w == PAIRED_ID) {
        literal[at..at + OTHER_ID.len()].copy_from_slice(OTHER_ID);
    }
}

/// Whether some message file under `root` (in `cur` or `new`, at any
/// depth) holds `what`; the path of the first that does.
fn file_with(root: &std::path::Path, what: &[u8]) -> Option<std::path::PathBuf> {
    for entry in std::fs::read_dir(root).ok()?.flatten() {
        let path = entry.path();
        let found = match path.file_name().and_then(|n| n.to_str()) {
            Some("cur" | "new") => std::fs::read_dir(&path)
                .ok()?
                .flatten()
                .map(|e| e.path())
                .find(|p| std::fs::read(p).is_ok_and(|m| m.windows(what.len()).any(|w| w == what))),
            _ if path.is_dir() => file_with(&path, what),
            _ => None,
        };
        if found.is_some() {
            return found;
        }
    }
    None
}

/// A message deleted here whose UID the server now gives to another
/// message: that message is not deleted on the server for the local
/// copy gone (pairs hold the key their server message had), but
/// downloaded. Without keys it was deleted on the server, never stored.
#[test]
fn a_uid_given_to_another_message_is_not_deleted_for_the_first_ones_copy() {
    let (mail, server) = mail_server_account("client-hostile-reused-uid");
    let dir = TempDir::new("client-hostile-reused-uid-files");
    let local = dir.path().join("Maildir");
    synced(server.imap, &local, "first");
    let count = super::messages().len();
    let copy = file_with(&local, PAIRED_ID).expect("the HTML message's local copy");
    std::fs::remove_file(copy).expect("delete it here");

    let proxy = Proxy::rewriting_literals(server.imap, None, Some(another_message_under_its_uid));
    let out = sync_with(proxy.addr, &local);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    let inbox = mail.maildir("alice");
    assert_eq!(
        message_files(&inbox),
        count,
        "a message was deleted on the server"
    );
    assert!(stderr.contains("is not the one paired"), "{stderr}");
    assert!(file_with(&inbox, PAIRED_ID).is_some());
    assert!(
        file_with(&local, OTHER_ID).is_some(),
        "the message shown was not downloaded"
    );
    assert_eq!(message_files(&local), count);

    // Deleted here again, with the server showing it as it is: that
    // deletion is the message's own, and reaches the server.
    let copy = file_with(&local, OTHER_ID).expect("the copy downloaded");
    std::fs::remove_file(copy).expect("delete it here");
    synced(proxy.addr, &local, "third");
    assert_eq!(message_files(&inbox), count - 1);
    assert!(file_with(&inbox, PAIRED_ID).is_none());
}

/// A server without UIDPLUS (RFC 4315): capability lists without it and
/// IMAP4rev2, answers without its COPYUID and APPENDUID codes.
fn without_uid_expunge(line: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(line).ok()?;
    if text.contains("CAPABILITY") {
        return Some(
            text.replace(" UIDPLUS", "")
                .replace(" IMAP4rev2", "")
                .into_bytes(),
        );
    }
    for code in ["[COPYUID ", "[APPENDUID "] {
        if let Some(at) = text.find(code) {
            let end = at + text[at..].find("] ")? + 2;
            return Some(format!("{}{}", &text[..at], &text[end..]).into_bytes());
        }
    }
    None
}

/// Runs the client as another program would, against `server` itself: it
/// must succeed.
fn other_client(server: std::net::SocketAddr, args: &[&str]) {
    let out = support::run(&mut client_command(server, args), b"", Duration::from_secs(60));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// The Maildir info letters of the message file under `root` that holds
/// `what`.
fn letters_of(root: &std::path::Path, what: &[u8]) -> String {
    let file = file_with(root, what).expect("the message's file");
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .expect("a name")
        .to_owned();
    name.split_once(":2,")
        .map(|(_, l)| l.to_owned())
        .unwrap_or_default()
}

/// A server without UID EXPUNGE: a message deleted here is marked
/// `\Deleted` on the server and, while another message of the mailbox
/// is marked too (another client's, which an EXPUNGE would take as
/// well), left so, its pair kept, so that the next run neither downloads
/// it again nor expunges the other one; once it is the only one marked,
/// EXPUNGE removes it. The pair was dropped, and the next run downloaded
/// the message again, marked; nothing was ever expunged.
#[test]
fn without_uid_expunge_a_deletion_settles_and_expunges_only_what_it_deleted() {
    let (mail, server) = mail_server_account("client-hostile-no-uidplus");
    let proxy = Proxy::rewriting(server.imap, Some(without_uid_expunge));
    let dir = TempDir::new("client-hostile-no-uidplus-files");
    let local = dir.path().join("Maildir");
    let inbox = mail.maildir("alice");
    let count = super::messages().len();
    synced(proxy.addr, &local, "first");
    std::fs::remove_file(file_with(&local, PAIRED_ID).expect("the local copy")).expect("delete it here");
    other_client(server.imap, &["flag", "1", "+\\Deleted"]);

    let out = synced(proxy.addr, &local, "second");
    assert!(out.contains("deleted on the server"), "{out}");
    assert_eq!(
        message_files(&inbox),
        count,
        "expunged with another message marked"
    );
    assert!(
        letters_of(&inbox, PAIRED_ID).contains('T'),
        "not marked \\Deleted"
    );

    synced(proxy.addr, &local, "third");
    assert!(
        file_with(&local, PAIRED_ID).is_none(),
        "the message deleted here was downloaded again"
    );
    assert_eq!(message_files(&inbox), count);

    // The other client changes its mind: the deletion is the only one
    // left, and is expunged.
    other_client(server.imap, &["flag", "1", "-\\Deleted"]);
    synced(proxy.addr, &local, "fourth");
    assert_eq!(message_files(&inbox), count - 1);
    assert!(file_with(&inbox, PAIRED_ID).is_none());
    assert!(file_with(&local, PAIRED_ID).is_none());
    assert_eq!(message_files(&local), count - 1);
}

/// Capability lists without MOVE, UIDPLUS and IMAP4rev2.
fn without_move_or_uid_expunge(line: &[u8]) -> Option<Vec<u8>> {
    let text = String::from_utf8(without_uid_expunge(line)?).ok()?;
    Some(text.replace(" MOVE", "").into_bytes())
}

/// How many message files directly in `folder`'s `cur` and `new` hold
/// `what`.
fn copies_in(folder: &std::path::Path, what: &[u8]) -> usize {
    ["cur", "new"]
        .iter()
        .filter_map(|d| std::fs::read_dir(folder.join(d)).ok())
        .flatten()
        .flatten()
        .filter(|e| std::fs::read(e.path()).is_ok_and(|m| m.windows(what.len()).any(|w| w == what)))
        .count()
}

/// A server without MOVE and UID EXPUNGE, a message moved here from
/// INBOX to another folder while another message of INBOX is marked
/// `\Deleted`: the move is a COPY, and the original stays marked; the
/// next run neither copies it again (the marked original is being
/// deleted, not moved) nor downloads it; once it is the only one marked
/// it is expunged, and the server holds the message once, in the folder.
#[test]
fn without_move_or_uid_expunge_a_move_settles_without_a_second_copy() {
    let (mail, server) = mail_server_account("client-hostile-no-move");
    let proxy = Proxy::rewriting(server.imap, Some(without_move_or_uid_expunge));
    let dir = TempDir::new("client-hostile-no-move-files");
    let local = dir.path().join("Maildir");
    let inbox = mail.maildir("alice");
    synced(proxy.addr, &local, "first");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(local.join(".Archive").join(sub)).expect("a local folder");
    }
    synced(proxy.addr, &local, "the folder created");
    let copy = file_with(&local, PAIRED_ID).expect("the local copy");
    let moved = local.join(".Archive/cur").join(copy.file_name().expect("a name"));
    std::fs::rename(&copy, &moved).expect("move it here");
    other_client(server.imap, &["flag", "1", "+\\Deleted"]);

    let out = synced(proxy.addr, &local, "the move");
    assert!(out.contains("moved on the server: INBOX "), "{out}");
    assert_eq!(copies_in(&inbox.join(".Archive"), PAIRED_ID), 1);
    assert!(
        letters_of(&inbox, PAIRED_ID).contains('T'),
        "the original is not marked"
    );

    synced(proxy.addr, &local, "after the move");
    assert_eq!(copies_in(&inbox.join(".Archive"), PAIRED_ID), 1, "copied twice");
    assert_eq!(
        copies_in(&local, PAIRED_ID),
        0,
        "the original was downloaded again"
    );
    assert_eq!(copies_in(&local.join(".Archive"), PAIRED_ID), 1);

    other_client(server.imap, &["flag", "1", "-\\Deleted"]);
    synced(proxy.addr, &local, "once no other message is marked");
    assert_eq!(copies_in(&inbox, PAIRED_ID), 0, "the original was not expunged");
    assert_eq!(copies_in(&inbox.join(".Archive"), PAIRED_ID), 1);
    assert_eq!(copies_in(&local, PAIRED_ID), 0);
    assert_eq!(copies_in(&local.join(".Archive"), PAIRED_ID), 1);
}

/// Capability lists without STARTTLS (a man in the middle strips it).
fn starttls_stripped(line: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(line).ok()?;
    text.contains(" STARTTLS")
        .then(|| text.replace(" STARTTLS", "").into_bytes())
}

/// The tagged OK to STARTTLS turned into a NO.
fn starttls_refused(line: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(line).ok()?;
    let (tag, rest) = text.split_once(' ')?;
    (rest.starts_with("OK ") && rest.to_ascii_lowercase().contains("tls"))
        .then(|| format!("{tag} NO not now\r\n").into_bytes())
}

/// `--tls starttls` against a server whose STARTTLS is stripped from its
/// capabilities or refused: the run ends with exit 3 before any login,
/// never in plaintext (the server allows plaintext logins here, so a
/// fallback would have succeeded).
#[test]
fn starttls_stripped_or_refused_ends_the_run_before_login() {
    let (mail, server) = mail_server_account("client-hostile-starttls");
    let ca = mail.dir.path().join("cert.pem").display().to_string();
    for (rewrite, said) in [
        (
            starttls_stripped as super::proxy::Rewrite,
            "does not offer STARTTLS",
        ),
        (starttls_refused, "the server refused TLS"),
    ] {
        let proxy = Proxy::rewriting(server.imap, Some(rewrite));
        let mut command = Command::new(support::example_binary("imap_client"));
        command
            .arg("--server")
            .arg(proxy.addr.to_string())
            .args([
                "--tls",
                "starttls",
                "--ca-file",
                &ca,
                "--user",
                "alice",
                "--timeout",
                "20",
            ])
            .args(["headers", "--limit", "1"])
            .env("MAILWIRE_PASSWORD", "secret");
        let out = support::run(&mut command, b"", Duration::from_secs(60));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{said}: {stderr}");
        assert!(stderr.contains(said), "{stderr}");
        assert!(out.stdout.is_empty(), "{}", String::from_utf8_lossy(&out.stdout));
    }
}

/// Capability lists without SPECIAL-USE.
fn without_special_use(line: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(line).ok()?;
    text.contains("CAPABILITY")
        .then(|| text.replace(" SPECIAL-USE", "").into_bytes())
}

/// Neither SPECIAL-USE nor a `\Trash` attribute anywhere.
fn without_any_trash(line: &[u8]) -> Option<Vec<u8>> {
    let text = String::from_utf8(without_special_use(line).unwrap_or_else(|| line.to_vec())).ok()?;
    Some(
        text.replace(" \\Trash", "")
            .replace("\\Trash ", "")
            .replace("(\\Trash)", "()")
            .into_bytes(),
    )
}

/// `delete` without `--expunge` moves to the trash: found among a plain
/// LIST's attributes when the server does not offer SPECIAL-USE (RFC 6154
/// section 2 allows it), and, when the server names no trash at all,
/// refused (exit 2) with nothing deleted. It deleted for good, silently,
/// on a server without SPECIAL-USE.
#[test]
fn delete_without_a_trash_deletes_nothing_unless_told_to() {
    let (mail, server) = mail_server_account("client-hostile-no-trash");
    let inbox = mail.maildir("alice");
    let count = super::messages().len();
    let run = |proxy: &Proxy, args: &[&str]| {
        support::run(
            &mut client_command(proxy.addr, args),
            b"",
            Duration::from_secs(60),
        )
    };

    let bare = Proxy::rewriting(server.imap, Some(without_any_trash));
    let refused = run(&bare, &["delete", "1"]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("nothing was deleted"), "{stderr}");
    assert_eq!(message_files(&inbox), count);
    assert!(run(&bare, &["delete", "1", "--expunge"]).status.success());
    assert_eq!(message_files(&inbox), count - 1);

    let plain = Proxy::rewriting(server.imap, Some(without_special_use));
    let moved = run(&plain, &["delete", "2"]);
    assert!(
        moved.status.success(),
        "{}",
        String::from_utf8_lossy(&moved.stderr)
    );
    assert_eq!(message_files(&inbox), count - 1, "moved, not deleted");
    assert_eq!(message_files(&inbox.join(".Trash")), 1);
}

/// A sender's control characters never reach the terminal: an ESC and a
/// BEL in an encoded-word subject (an OSC sequence that retitles the
/// terminal), a CSI in the body, a bidirectional override in the sender's
/// name. `headers`, `read` and `watch`'s listing print U+FFFD instead.
/// They were printed as they came.
#[test]
fn control_characters_from_a_sender_are_not_printed() {
    let (mail, server) = mail_server_account("client-hostile-escapes");
    let message = b"From: =?UTF-8?B?4oCuZ2Zw?= <e@example.org>\r\n\
        Subject: =?UTF-8?B?G10yOzp4Bw==?= escapes\r\n\
        Message-ID: <escapes@mailwire.test>\r\n\r\n\
        before \x1b[2J\x1b[31m after\r\n";
    std::fs::write(
        mail.maildir("alice").join("new").join("1765000000.M1P1.escapes"),
        message,
    )
    .expect("deliver");
    let printed = |args: &[&str]| {
        let out = support::run(
            &mut client_command(server.imap, args),
            b"",
            Duration::from_secs(60),
        );
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        out.stdout
    };
    let headers = printed(&["headers"]);
    let text = String::from_utf8_lossy(&headers).into_owned();
    assert!(text.contains("escapes"), "{text}");
    let uid = text
        .lines()
        .find(|l| l.contains("escapes"))
        .and_then(|l| l.split_whitespace().next())
        .expect("the message's row")
        .to_owned();
    let read = printed(&["read", &uid, "--peek"]);
    for (what, out) in [("headers", &headers), ("read", &read)] {
        for control in [0x1b_u8, 0x07] {
            assert!(
                !out.contains(&control),
                "{what} printed 0x{control:02x}: {:?}",
                String::from_utf8_lossy(out)
            );
        }
        assert!(!String::from_utf8_lossy(out).contains('\u{202E}'), "{what}");
    }
    assert!(String::from_utf8_lossy(&read).contains("after"));
}

/// How many APPENDs [`second_append_refused`] has seen completed.
static APPENDS_DONE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A server without MULTIAPPEND that refuses the second APPEND (over
/// quota, say).
fn second_append_refused(line: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(line).ok()?;
    if text.contains("CAPABILITY") {
        return Some(text.replace(" MULTIAPPEND", "").into_bytes());
    }
    if !text.contains(" OK [APPENDUID ") {
        return None;
    }
    let n = APPENDS_DONE.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let tag = text.split(' ').next()?;
    (n == 1).then(|| format!("{tag} NO [OVERQUOTA] over quota\r\n").into_bytes())
}

/// `upload` tells each file as soon as the server has it, and a failure
/// names the file it stopped at: the user sends again what was not
/// stored, and nothing twice. Before, nothing was told until all had
/// been sent, so a refusal of the second file hid that the first was
/// stored. And a MULTIAPPEND answered without APPENDUID (RFC 4315 allows
/// it) tells every file, not the first only.
#[test]
fn upload_tells_what_was_stored_before_a_failure() {
    let (_mail, server) = mail_server_account("client-hostile-upload");
    let dir = TempDir::new("client-hostile-upload-files");
    let files: Vec<String> = (1..=3)
        .map(|i| {
            let path = dir.path().join(format!("m{i}.eml"));
            std::fs::write(&path, note(&format!("upload-{i}"))).expect("write");
            path.display().to_string()
        })
        .collect();
    let upload = |proxy: &Proxy| {
        let mut args = vec!["upload", "--to", "INBOX"];
        args.extend(files.iter().map(String::as_str));
        support::run(
            &mut client_command(proxy.addr, &args),
            b"",
            Duration::from_secs(60),
        )
    };

    let refusing = Proxy::rewriting(server.imap, Some(second_append_refused));
    let out = upload(&refusing);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stdout.contains(&format!("uploaded {} to INBOX as UID", files[0])),
        "{stdout}"
    );
    assert!(!stdout.contains(&files[1]), "{stdout}");
    assert!(
        stderr.contains(&format!(
            "1 files were uploaded (above); {} and the files after it were not",
            files[1]
        )),
        "{stderr}"
    );

    let without_uids = Proxy::rewriting(server.imap, Some(without_uid_expunge));
    let out = upload(&without_uids);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for file in &files {
        assert!(
            stdout.contains(&format!("uploaded {file} to INBOX\n")),
            "{stdout}"
        );
    }
}

/// An IMAP4rev2 server may send a new message's flags, with its UID, in
/// the same burst as its EXISTS (RFC 9051 section 7.5.2); here the
/// proxy adds `* 9 FETCH (UID 9 FLAGS (\Seen))` after the EXISTS of the
/// account's ninth message.
fn flags_with_the_exists(line: &[u8]) -> Option<Vec<u8>> {
    let count = super::messages().len() + 1;
    (line == format!("* {count} EXISTS\r\n").as_bytes()).then(|| {
        let mut out = line.to_vec();
        out.extend_from_slice(format!("* {count} FETCH (UID {count} FLAGS (\\Seen))\r\n").as_bytes());
        out
    })
}

/// `watch` announces a new message whose flags came with its EXISTS:
/// a flag change of a UID it does not know is a new message, not a
/// message to take in silently (it was taken in, the UIDs above it
/// looked for, and it was never told).
#[test]
fn watch_announces_a_message_whose_flags_came_first() {
    let (_mail, server) = mail_server_account("client-hostile-flags-first");
    let proxy = Proxy::rewriting(server.imap, Some(flags_with_the_exists));
    let mut watch = super::Watch::start(proxy.addr, 60);
    watch.expect("watching INBOX: ");
    let dir = TempDir::new("client-hostile-flags-first-files");
    let file = dir.path().join("new.eml");
    std::fs::write(
        &file,
        b"From: Gil <gil@example.org>\nSubject: flagged first\n\nhi\n",
    )
    .expect("write");
    other_client(
        server.imap,
        &["upload", "--to", "INBOX", &file.display().to_string()],
    );
    let uid = super::messages().len() + 1;
    let line = watch.expect(&format!("new {uid} "));
    assert!(line.ends_with("from Gil: flagged first"), "{line}");
}

/// Before the tagged OK of every FETCH, a FETCH the server sends of its
/// own: another session changed message 1's flags (no UID: an IMAP4rev1
/// server).
fn unsolicited_flags_before_fetch_ends(line: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(line).ok()?;
    let tagged_fetch = !text.starts_with('*') && text.contains(" OK ") && text.contains("FETCH");
    tagged_fetch.then(|| format!("* 1 FETCH (FLAGS (\\Flagged))\r\n{text}").into_bytes())
}

/// `headers --limit 3` shows three rows whatever else the server says
/// meanwhile: a FETCH it sends of its own is no row (it was shown, as a
/// row of UID 0).
#[test]
fn headers_show_only_the_messages_asked_for() {
    let (_mail, server) = mail_server_account("client-hostile-unsolicited");
    let proxy = Proxy::rewriting(server.imap, Some(unsolicited_flags_before_fetch_ends));
    let out = support::run(
        &mut client_command(proxy.addr, &["headers", "--limit", "3"]),
        b"",
        Duration::from_secs(60),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows: Vec<&str> = stdout.lines().skip(1).collect();
    assert_eq!(rows.len(), 3, "{stdout}");
    let count = super::messages().len();
    for (row, uid) in rows.iter().zip((count - 2..=count).rev()) {
        assert!(row.trim_start().starts_with(&format!("{uid} ")), "{stdout}");
    }
}

/// How many greetings [`first_greeting_busy`] has seen.
static GREETINGS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// The first connection is greeted with `BYE [UNAVAILABLE]`, as a server
/// with all its connections taken greets (mail_server and Dovecot do).
fn first_greeting_busy(line: &[u8]) -> Option<Vec<u8>> {
    if !line.starts_with(b"* OK [CAPABILITY") && !line.starts_with(b"* OK ") {
        return None;
    }
    if GREETINGS.fetch_add(1, std::sync::atomic::Ordering::SeqCst) > 0 {
        return None;
    }
    Some(b"* BYE [UNAVAILABLE] too many connections, try later\r\n".to_vec())
}

/// `watch` waits out a server that refuses it for now, and then watches:
/// it stopped for good (exit 6), as if the password were wrong.
#[test]
fn watch_waits_out_a_busy_server() {
    let (_mail, server) = mail_server_account("client-hostile-busy");
    let proxy = Proxy::rewriting(server.imap, Some(first_greeting_busy));
    let mut watch = super::Watch::start(proxy.addr, 30);
    let refused = watch.expect("the server refused the login for now");
    assert!(refused.contains("reconnecting in 1 s"), "{refused}");
    watch.expect("watching INBOX: ");
}

/// COPYUID (and MOVE's) claims every UID was copied, UIDs 1 to 4 last,
/// to every UID.
fn copyuid_of_everything(line: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(line).ok()?;
    let at = text.find("[COPYUID ")? + "[COPYUID ".len();
    let validity_end = at + text[at..].find(' ')?;
    let end = at + text[at..].find(']')?;
    Some(
        format!(
            "{} 5:4294967295,1:4 1:4294967295{}",
            &text[..validity_end],
            &text[end..]
        )
        .into_bytes(),
    )
}

/// `copy` prints one line per UID asked for, found by its position in
/// the server's COPYUID sets, however many UIDs they name (it printed four
/// billion lines).
#[test]
fn copy_reports_only_the_uids_asked_for() {
    let (_mail, server) = mail_server_account("client-hostile-copyuid");
    let proxy = Proxy::rewriting(server.imap, Some(copyuid_of_everything));
    let out = support::run(
        &mut client_command(proxy.addr, &["copy", "2", "3", "--to", "Trash"]),
        b"",
        Duration::from_secs(60),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        ["copied 2 -> Trash 4294967293", "copied 3 -> Trash 4294967294"],
        "{stdout}"
    );
}

/// Every BODYSTRUCTURE broken beyond reading (a parenthesis too many).
fn broken_structure(line: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(line).ok()?;
    text.contains("BODYSTRUCTURE (").then(|| {
        text.replacen("BODYSTRUCTURE (", "BODYSTRUCTURE ((", 1)
            .into_bytes()
    })
}

/// `read` of a message whose structure the server sends broken says so
/// (exit 3, the server's protocol) instead of "has no message with UID".
#[test]
fn read_tells_a_broken_answer_from_a_missing_message() {
    let (_mail, server) = mail_server_account("client-hostile-broken-structure");
    let proxy = Proxy::rewriting(server.imap, Some(broken_structure));
    let out = support::run(
        &mut client_command(proxy.addr, &["read", "1", "--peek"]),
        b"",
        Duration::from_secs(60),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("could not be read"), "{stderr}");
    let missing = support::run(
        &mut client_command(server.imap, &["read", "4000", "--peek"]),
        b"",
        Duration::from_secs(60),
    );
    assert_eq!(
        missing.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );
}

/// The client with `--timeout 2` through `proxy`, which must end within
/// 30 s: what it did, and how long it took.
fn impatient(proxy: &Proxy, args: &[&str]) -> (std::process::Output, Duration) {
    impatient_with(proxy, &["--tls", "none"], args)
}

/// [`impatient`] with `tls` (the `--tls` options).
fn impatient_with(proxy: &Proxy, tls: &[&str], args: &[&str]) -> (std::process::Output, Duration) {
    let mut command = Command::new(support::example_binary("imap_client"));
    command
        .arg("--server")
        .arg(proxy.addr.to_string())
        .args(tls)
        .args(["--user", "alice", "--timeout", "2"])
        .args(args)
        .env("MAILWIRE_PASSWORD", "secret")
        .env_remove("RUST_LOG");
    let started = std::time::Instant::now();
    let out = support::run(&mut command, b"", Duration::from_secs(30));
    (out, started.elapsed())
}

/// The first tagged completion (the client's tags start with `A`).
fn first_completion(line: &[u8]) -> bool {
    line.starts_with(b"A") && line.windows(4).any(|w| w == b" OK ")
}

/// A server that sends its answers one octet every 300 ms, each before a
/// read would time out: the client gives up once no whole response has
/// come for its timeout (2 s), as it says. It waited for each octet
/// afresh, for minutes (a few octets a second is no answer).
#[test]
fn an_answer_sent_an_octet_at_a_time_times_out() {
    let (_mail, server) = mail_server_account("client-hostile-drip");
    let proxy = Proxy::slowing(server.imap, Some(first_completion), Duration::from_millis(300));
    let (out, took) = impatient(&proxy, &["mailboxes"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("did not answer in time"), "{stderr}");
    assert!(took < Duration::from_secs(15), "took {took:?}");
}

/// A large message (streamed to the disk, not held) sent at 100 octets a
/// second: each piece is an answer, so only its pace tells; the client
/// gives up once a timeout's worth of it comes slower than 1 KiB a second,
/// and stores nothing. It would have taken fifty minutes.
#[test]
fn a_message_sent_a_few_octets_a_second_is_refused() {
    let (mail, server) = mail_server_account("client-hostile-slow-message");
    let body: String = (0..6000).map(|i| format!("line {i:045}\n")).collect();
    mail.deliver(
        "alice",
        &[format!("Subject: large\nFrom: a@example.org\n\n{body}").into_bytes()],
    );
    let big = |line: &[u8]| super::proxy::literal_length(line).is_some_and(|n| n >= 256 * 1024);
    let proxy = Proxy::slowing(server.imap, Some(big), Duration::from_millis(10));
    let local = TempDir::new("client-hostile-slow-message-local");
    let (out, took) = impatient(
        &proxy,
        &[
            "sync",
            "--maildir",
            &local.path().join("Mail").display().to_string(),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("slower than 1024 octets a second"), "{stderr}");
    assert!(took < Duration::from_secs(15), "took {took:?}");
    assert!(
        file_with(&local.path().join("Mail"), b"Subject: large").is_none(),
        "the cut message was stored"
    );
}

/// A server that sends its TLS handshake an octet every 300 ms, each
/// before a read would time out: the client gives up once its timeout
/// (2 s) has passed in all, as it says. The handshake waited for each
/// octet afresh: minutes.
#[test]
fn a_tls_handshake_sent_an_octet_at_a_time_times_out() {
    let (mail, server) = mail_server_account("client-hostile-slow-handshake");
    let proxy = Proxy::slowing(server.imaps, None, Duration::from_millis(300));
    let ca = mail.dir.path().join("cert.pem").display().to_string();
    let tls = ["--tls", "implicit", "--ca-file", &ca, "--tls-name", "127.0.0.1"];
    let (out, took) = impatient_with(&proxy, &tls, &["mailboxes"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("did not finish the TLS handshake in time"),
        "{stderr}"
    );
    assert!(took < Duration::from_secs(15), "took {took:?}");
}

/// Over TLS (the client's default), a server that sends the records of its
/// answer an octet every 300 ms: a read of the TLS stream waited for a
/// whole record, each octet with the read's timeout afresh, so the
/// session's deadline was never looked at. The client gives up once its
/// timeout (2 s) has passed without an answer, as it says.
#[test]
fn an_answer_in_tls_records_sent_an_octet_at_a_time_times_out() {
    let (mail, server) = mail_server_account("client-hostile-slow-records");
    // The client's handshake end and its first command: the answer to
    // that command comes slowly.
    let proxy = Proxy::slowing_tls(server.imaps, 2, Duration::from_millis(300));
    let ca = mail.dir.path().join("cert.pem").display().to_string();
    let tls = ["--tls", "implicit", "--ca-file", &ca, "--tls-name", "127.0.0.1"];
    let (out, took) = impatient_with(&proxy, &tls, &["mailboxes"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("did not answer in time"), "{stderr}");
    assert!(took < Duration::from_secs(15), "took {took:?}");
}

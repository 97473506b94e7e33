//! The client against a server that lies: sets of four billion UIDs where
//! it names a few messages. mail_server holds the conversation and a proxy
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

//! Real IMAP clients: curl, Python's imaplib, mbsync (isync), fetchmail and
//! getmail6, over plain IMAP, STARTTLS and IMAPS.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::support::{
    self, MailRoot, MailServer, TempDir, by_message_id, check_delivered, crlf, curl, header_part, lf,
    message_id, require, run, unhex,
};
use crate::{TlsFiles, alice_root, start};

/// A server for `mail` with plaintext logins allowed and `tls`'s
/// certificate on the STARTTLS and IMAPS sides.
fn start_with_tls(mail: &MailRoot, tls: &TlsFiles) -> MailServer {
    let tls_args = tls.args();
    let mut extra: Vec<&str> = tls_args.iter().map(String::as_str).collect();
    extra.push("--allow-plaintext-auth");
    start(mail, &extra)
}

/// The three ways in: plain IMAP, STARTTLS on the plain port, IMAPS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Plain,
    StartTls,
    Imaps,
}

impl Mode {
    const ALL: [Mode; 3] = [Mode::Plain, Mode::StartTls, Mode::Imaps];

    fn name(self) -> &'static str {
        match self {
            Mode::Plain => "plain",
            Mode::StartTls => "starttls",
            Mode::Imaps => "imaps",
        }
    }

    fn addr(self, server: &MailServer) -> SocketAddr {
        match self {
            Mode::Imaps => server.imaps,
            _ => server.imap,
        }
    }
}

/// The sample messages with their Message-IDs renamed (`<sample-n@` to
/// `<{prefix}-n@`), for mailboxes other than the INBOX.
fn renamed(messages: &[Vec<u8>], prefix: &str) -> Vec<Vec<u8>> {
    let from = b"<sample-";
    let to = format!("<{prefix}-").into_bytes();
    messages
        .iter()
        .map(|m| {
            let at = m
                .windows(from.len())
                .position(|w| w == from)
                .expect("a sample Message-ID");
            [&m[..at], &to[..], &m[at + from.len()..]].concat()
        })
        .collect()
}

/// Drops messages into a Maildir++ folder (`.Name`) of the user's Maildir.
fn deliver_to_folder(mail: &MailRoot, user: &str, folder: &str, messages: &[Vec<u8>]) {
    let dir = mail.maildir(user).join(folder);
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(dir.join(sub)).expect("create the folder");
    }
    for (i, message) in messages.iter().enumerate() {
        let name = format!("17640001{i:02}.M{i}P2Q{i}.mailwire-test");
        std::fs::write(dir.join("new").join(name), message).expect("deliver a message");
    }
}

/// Sends `commands` (pipelined, the last one LOGOUT) on a plain IMAP
/// connection and returns everything the server sent.
fn raw_imap(addr: SocketAddr, commands: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("set a timeout");
    stream.write_all(commands.as_bytes()).expect("send commands");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

/// How many messages a mailbox holds, by STATUS.
fn messages_in(server: &MailServer, mailbox: &str) -> String {
    let answer = raw_imap(
        server.imap,
        &format!("a LOGIN alice secret\r\nb STATUS {mailbox} (MESSAGES)\r\nc LOGOUT\r\n"),
    );
    answer
        .lines()
        .find(|l| l.starts_with("* STATUS"))
        .unwrap_or_else(|| panic!("no STATUS answer in:\n{answer}"))
        .to_owned()
}

// ---------------------------------------------------------------- curl

/// curl's options and base URL for a mode.
fn curl_base(mode: Mode, server: &MailServer, cert: &Path) -> (Vec<String>, String) {
    let mut args: Vec<String> = vec!["-s".into(), "--user".into(), "alice:secret".into()];
    let cert = cert.display().to_string();
    let url = match mode {
        Mode::Plain => format!("imap://{}/", server.imap),
        Mode::StartTls => {
            args.extend(["--ssl-reqd".into(), "--cacert".into(), cert]);
            format!("imap://{}/", server.imap)
        }
        Mode::Imaps => {
            args.extend(["--cacert".into(), cert]);
            format!("imaps://{}/", server.imaps)
        }
    };
    (args, url)
}

/// The numbers of a `* SEARCH` answer.
fn search_numbers(text: &[u8]) -> Vec<u32> {
    let text = String::from_utf8_lossy(text);
    let line = text
        .lines()
        .find(|l| l.starts_with("* SEARCH"))
        .unwrap_or_else(|| panic!("no SEARCH answer in {text:?}"));
    line["* SEARCH".len()..]
        .split_whitespace()
        .map(|n| n.parse().unwrap_or_else(|_| panic!("bad SEARCH answer {line:?}")))
        .collect()
}

#[test]
fn curl_lists_examines_searches_fetches_and_appends_over_plain_starttls_and_imaps() {
    if !require("curl") {
        return;
    }
    let mail = alice_root("imap-curl");
    let tls = TlsFiles::new();
    let server = start_with_tls(&mail, &tls);
    let stored = support::sample_messages();
    let expected = by_message_id(&stored);
    let work = TempDir::new("imap-curl-work");

    for mode in Mode::ALL {
        let name = mode.name();
        let (base_args, root) = curl_base(mode, &server, &tls.cert);
        let curl_with = |url: &str, extra: &[&str]| {
            let mut args: Vec<&str> = base_args.iter().map(String::as_str).collect();
            args.push(url);
            args.extend_from_slice(extra);
            curl(&args)
        };
        let inbox = format!("{root}INBOX");

        // LIST.
        let list = String::from_utf8_lossy(&curl_with(&root, &[])).into_owned();
        assert!(
            list.lines()
                .any(|l| l.starts_with("* LIST (") && l.ends_with(" INBOX")),
            "{name}: LIST:\n{list}"
        );

        // EXAMINE.
        let examine = String::from_utf8_lossy(&curl_with(&inbox, &["-X", "EXAMINE INBOX"])).into_owned();
        assert!(
            examine.lines().any(|l| l == format!("* {} EXISTS", stored.len())),
            "{name}: EXAMINE:\n{examine}"
        );
        assert!(
            examine.lines().any(|l| l.starts_with("* OK [UIDVALIDITY ")),
            "{name}: EXAMINE:\n{examine}"
        );

        // UIDs, sizes, then every message by UID.
        let uids = search_numbers(&curl_with(&inbox, &["-X", "UID SEARCH ALL"]));
        assert_eq!(uids.len(), stored.len(), "{name}: UID SEARCH ALL: {uids:?}");
        let sizes =
            String::from_utf8_lossy(&curl_with(&inbox, &["-X", "UID FETCH 1:* (RFC822.SIZE)"])).into_owned();
        let mut seen = BTreeSet::new();
        for uid in &uids {
            let message = curl_with(&format!("{inbox};UID={uid}"), &[]);
            let id = message_id(&message).unwrap_or_else(|| panic!("{name}: UID {uid} has no Message-ID"));
            let original = &expected[&id];
            assert_eq!(
                message,
                crlf(original),
                "{name}: UID FETCH {uid} BODY[] ({id}) differs from the stored message"
            );
            assert!(
                sizes.contains(&format!("UID {uid} RFC822.SIZE {})", message.len())),
                "{name}: RFC822.SIZE of UID {uid} is not {}:\n{sizes}",
                message.len()
            );
            let header = curl_with(&format!("{inbox};UID={uid};SECTION=HEADER"), &[]);
            assert_eq!(header, header_part(original), "{name}: BODY[HEADER] of UID {uid}");
            seen.insert(id);
        }
        assert_eq!(seen.len(), stored.len(), "{name}: every message once");

        // SEARCH.
        assert_eq!(
            search_numbers(&curl_with(&format!("{inbox}?ALL"), &[])),
            (1..=stored.len() as u32).collect::<Vec<_>>(),
            "{name}: SEARCH ALL"
        );
        let dots = search_numbers(&curl_with(
            &format!("{inbox}?SUBJECT%20%22Dots%20everywhere%22"),
            &[],
        ));
        assert_eq!(
            dots.len(),
            1,
            "{name}: SEARCH SUBJECT \"Dots everywhere\": {dots:?}"
        );
        let found = curl_with(&format!("{inbox};MAILINDEX={}", dots[0]), &[]);
        assert_eq!(
            message_id(&found).as_deref(),
            Some("<sample-2@mailwire.test>"),
            "{name}: the message SEARCH SUBJECT found"
        );

        // APPEND (curl's upload) into a new mailbox, then read it back.
        let mailbox = format!("Uploads-{name}");
        curl_with(&root, &["-X", &format!("CREATE {mailbox}")]);
        let upload = crlf(
            format!(
                "From: Alice <alice@example.org>\nTo: bob@example.org\nSubject: Uploaded over {name}\n\
                 Message-ID: <upload-{name}@mailwire.test>\n\nUploaded by curl.\n.\n..two dots\n"
            )
            .as_bytes(),
        );
        let file = work.path().join(format!("{name}.eml"));
        std::fs::write(&file, &upload).expect("write the upload");
        let file_arg = file.display().to_string();
        curl_with(&format!("{root}{mailbox}"), &["-T", &file_arg]);
        let uploaded_uids =
            search_numbers(&curl_with(&format!("{root}{mailbox}"), &["-X", "UID SEARCH ALL"]));
        assert_eq!(
            uploaded_uids.len(),
            1,
            "{name}: {mailbox} after APPEND: {uploaded_uids:?}"
        );
        let back = curl_with(&format!("{root}{mailbox};UID={}", uploaded_uids[0]), &[]);
        assert_eq!(back, upload, "{name}: the appended message read back");
        // And what the Maildir holds is that message.
        let folder = mail.maildir("alice").join(format!(".{mailbox}"));
        let on_disk = maildir_messages(&folder);
        assert_eq!(on_disk.len(), 1, "{name}: files in {}", folder.display());
        assert_eq!(
            lf(&on_disk[0]),
            lf(&upload),
            "{name}: the appended message on disk"
        );
    }
    assert!(!server.logs().contains("secret"), "a password reached the logs");
}

// ---------------------------------------------------------------- imaplib

/// Runs imaplib_session.py and returns its results.
fn imaplib(mode: Mode, server: &MailServer, cert: &Path) -> BTreeMap<String, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mail_server/imaplib_session.py");
    let output = run(
        Command::new("python3").arg(script).args([
            mode.name(),
            "127.0.0.1",
            &mode.addr(server).port().to_string(),
            "alice",
            "secret",
            &cert.display().to_string(),
        ]),
        b"",
        Duration::from_secs(180),
    );
    assert!(
        output.status.success(),
        "imaplib ({}) failed: {}\n{}\nserver log:\n{}",
        mode.name(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        server.logs()
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// The UIDs of a uid-set (`1:3,5`), one by one.
fn expand_uid_set(set: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in set.split(',') {
        match part.split_once(':') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (a.parse().unwrap_or(0), b.parse().unwrap_or(0));
                out.extend((a.min(b)..=a.max(b)).map(|u| u.to_string()));
            }
            None => out.push(part.to_owned()),
        }
    }
    out
}

/// Failed expectations, gathered so one run reports all of them.
struct Checks {
    mode: &'static str,
    failures: Vec<String>,
}

impl Checks {
    fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            self.failures.push(format!("{}: {}", self.mode, what()));
        }
    }
}

/// The number after `name ` in an answer (`MODSEQ (5)` gives 5 too).
fn number_after(text: &str, name: &str) -> Option<u64> {
    let at = text.find(&format!("{name} "))? + name.len() + 1;
    let digits: String = text[at..]
        .trim_start_matches('(')
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

fn check_imaplib(mode: Mode, r: &BTreeMap<String, String>) -> Vec<String> {
    let stored = support::sample_messages();
    let expected = by_message_id(&stored);
    let mut c = Checks {
        mode: mode.name(),
        failures: Vec::new(),
    };
    let get = |k: &str| r.get(k).cloned().unwrap_or_else(|| format!("MISSING {k}"));
    let ok_is = |c: &mut Checks, k: &str, want: &str| {
        let got = get(k);
        c.check(got == want, || format!("{k}: expected {want:?}, got {got:?}"));
    };
    let contains = |c: &mut Checks, k: &str, want: &str| {
        let got = get(k);
        c.check(got.contains(want), || {
            format!("{k}: expected {want:?} in {got:?}")
        });
    };
    let lacks = |c: &mut Checks, k: &str, unwanted: &str| {
        let got = get(k);
        c.check(!got.contains(unwanted), || {
            format!("{k}: {unwanted:?} should not be in {got:?}")
        });
    };

    // A command that raised in imaplib is a failure, whatever is checked
    // of it below.
    for (k, v) in r {
        c.check(!v.starts_with("ERROR"), || format!("{k}: {v}"));
    }

    // Greeting capabilities, logins.
    let before = get("capability_before");
    for cap in ["IMAP4REV1", "AUTH=PLAIN"] {
        c.check(before.split(' ').any(|x| x == cap), || {
            format!("capability_before lacks {cap}: {before}")
        });
    }
    c.check(
        before.split(' ').any(|x| x == "STARTTLS") == (mode == Mode::Plain),
        || format!("STARTTLS is offered before TLS only: {before}"),
    );
    lacks(&mut c, "capability_before", "LOGINDISABLED");
    if mode == Mode::StartTls {
        ok_is(&mut c, "starttls", "OK");
    }
    contains(&mut c, "wrong_login", "[AUTHENTICATIONFAILED]");
    ok_is(&mut c, "logout_wrong", "BYE");
    ok_is(&mut c, "authenticate", "OK");
    ok_is(&mut c, "authenticated_noop", "OK");
    ok_is(&mut c, "authenticated_logout", "BYE");
    lacks(&mut c, "login", "ERROR");
    let capability = get("capability");
    for cap in [
        "IMAP4rev1",
        "NAMESPACE",
        "UNSELECT",
        "UIDPLUS",
        "MOVE",
        "ESEARCH",
        "BINARY",
        "CONDSTORE",
        "LIST-STATUS",
        "IDLE",
        "ENABLE",
    ] {
        c.check(capability.split([' ', '|']).any(|x| x == cap), || {
            format!("CAPABILITY lacks {cap}: {capability}")
        });
    }
    ok_is(&mut c, "enabled", "CONDSTORE");
    ok_is(&mut c, "namespace", "((\"\" \"/\")) NIL NIL");
    ok_is(&mut c, "noop", "OK");

    // Mailboxes.
    ok_is(&mut c, "list_root", "(\\Noselect) \"/\" \"\"");
    ok_is(&mut c, "list_initial", "(\\HasNoChildren) \"/\" INBOX");
    ok_is(&mut c, "create_archive", "OK");
    ok_is(&mut c, "create_nested", "OK");
    contains(&mut c, "create_existing", "NO [ALREADYEXISTS]");
    for name in ["\"/\" Archive", "\"/\" Projects/2026", "\"/\" INBOX"] {
        contains(&mut c, "list_after_create", name);
    }
    contains(&mut c, "list_percent", "\"/\" Archive");
    lacks(&mut c, "list_percent", "Projects/2026");
    ok_is(&mut c, "subscribe", "OK");
    contains(&mut c, "lsub_subscribed", "\"/\" Archive");
    ok_is(&mut c, "unsubscribe", "OK");
    lacks(&mut c, "lsub_unsubscribed", "Archive");
    ok_is(&mut c, "rename", "OK");
    contains(&mut c, "list_after_rename", "\"/\" Projects/2027");
    lacks(&mut c, "list_after_rename", "2026");
    ok_is(&mut c, "delete", "OK");
    lacks(&mut c, "list_after_delete", "2027");
    contains(&mut c, "delete_missing", "NO [NONEXISTENT]");
    let total: usize = stored.iter().map(|m| crlf(m).len()).sum();
    let status = get("status_inbox");
    for part in [
        format!("MESSAGES {}", stored.len()),
        format!("UIDNEXT {}", stored.len() + 1),
        format!("UNSEEN {}", stored.len()),
        format!("SIZE {total}"),
        "UIDVALIDITY ".to_owned(),
        "HIGHESTMODSEQ ".to_owned(),
    ] {
        c.check(status.starts_with("INBOX (") && status.contains(&part), || {
            format!("status_inbox: expected {part:?} in {status:?}")
        });
    }
    contains(
        &mut c,
        "list_status",
        &format!("INBOX (MESSAGES {})", stored.len()),
    );
    contains(&mut c, "list_status", "Archive (MESSAGES 0)");

    // EXAMINE.
    ok_is(&mut c, "examine", &stored.len().to_string());
    ok_is(&mut c, "examine_read_only", "yes");
    let body = unhex(&get("examine_fetch_body"));
    let id = message_id(&body);
    c.check(id.as_ref().is_some_and(|id| crlf(&expected[id]) == body), || {
        format!("examine_fetch_body: not a stored message: {id:?}")
    });
    lacks(&mut c, "examine_flags_after", "\\Seen");
    ok_is(&mut c, "unselect_examined", "OK");

    // SELECT and FETCH of every message.
    ok_is(&mut c, "select", &stored.len().to_string());
    ok_is(&mut c, "select_read_write", "yes");
    let validity = number_after(&status, "UIDVALIDITY");
    c.check(get("select_uidvalidity").parse::<u64>().ok() == validity, || {
        format!(
            "select_uidvalidity {} is not STATUS's {validity:?}",
            get("select_uidvalidity")
        )
    });
    contains(&mut c, "select_permanentflags", "\\*");
    c.check(get("select_highestmodseq").parse::<u64>().is_ok(), || {
        format!("select_highestmodseq: {}", get("select_highestmodseq"))
    });
    let uids: Vec<String> = get("uid_search_all")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    c.check(uids.len() == stored.len(), || format!("uid_search_all: {uids:?}"));
    // Sequence number -> Message-ID, from what the client received.
    let mut ids: BTreeMap<u32, String> = BTreeMap::new();
    for n in 1..=stored.len() as u32 {
        let peek = unhex(&get(&format!("peek {n}")));
        let Some(id) = message_id(&peek).filter(|id| expected.contains_key(id)) else {
            c.check(false, || {
                format!("peek {n}: not a stored message: {}", get(&format!("peek {n}")))
            });
            continue;
        };
        let original = &expected[&id];
        c.check(peek == crlf(original), || {
            format!("BODY.PEEK[] of {n} ({id}) differs")
        });
        c.check(
            unhex(&get(&format!("header {n}"))) == header_part(original),
            || format!("BODY.PEEK[HEADER] of {n} ({id}) differs"),
        );
        c.check(unhex(&get(&format!("binary {n}"))) == crlf(original), || {
            format!(
                "BINARY.PEEK[] of {n} ({id}) differs: {}",
                get(&format!("binary {n}"))
            )
        });
        let attributes = get(&format!("attributes {n}"));
        c.check(
            number_after(&attributes, "RFC822.SIZE") == Some(peek.len() as u64),
            || format!("RFC822.SIZE of {n} is not {}: {attributes}", peek.len()),
        );
        c.check(
            attributes.contains("INTERNALDATE \"") && attributes.contains("UID "),
            || format!("attributes {n}: {attributes}"),
        );
        let structure = get(&format!("bodystructure {n}"));
        c.check(structure.contains("BODYSTRUCTURE (\"text\" \"plain\""), || {
            format!("bodystructure {n}: {structure}")
        });
        if id == "<sample-4@mailwire.test>" {
            c.check(
                structure.contains("\"iso-8859-1\"") && structure.contains("\"8bit\""),
                || format!("bodystructure of the 8-bit message: {structure}"),
            );
        }
        let envelope = get(&format!("envelope {n}"));
        let subject = String::from_utf8_lossy(original)
            .lines()
            .find_map(|l| l.strip_prefix("Subject: ").map(str::to_owned))
            .unwrap_or_default();
        c.check(
            envelope.contains(&format!("\"{subject}\"")) && envelope.contains(&format!("\"{id}\"")),
            || format!("envelope {n} lacks the subject {subject:?} or {id}: {envelope}"),
        );
        ids.insert(n, id);
    }
    c.check(
        ids.values().collect::<BTreeSet<_>>().len() == stored.len(),
        || format!("every message once: {ids:?}"),
    );
    let seq_of = |id: &str| ids.iter().find(|(_, v)| v.as_str() == id).map_or(0, |(n, _)| *n);
    let sample = |k: u32| format!("<sample-{k}@mailwire.test>");
    lacks(&mut c, "flags_after_peek", "\\Seen");
    let body1 = unhex(&get("fetch_body_1"));
    c.check(ids.get(&1).is_some_and(|id| crlf(&expected[id]) == body1), || {
        "BODY[] of 1 differs".to_owned()
    });
    contains(&mut c, "flags_after_body", "\\Seen");
    let first = unhex(&get("uid_fetch_first"));
    c.check(ids.get(&1).is_some_and(|id| crlf(&expected[id]) == first), || {
        "UID FETCH of the first UID differs".to_owned()
    });

    // STORE.
    contains(&mut c, "store_add", "\\Flagged");
    contains(&mut c, "store_add", "$Label1");
    lacks(&mut c, "store_remove", "\\Flagged");
    contains(&mut c, "store_remove", "$Label1");
    lacks(&mut c, "flags_after_store", "\\Flagged");
    contains(&mut c, "flags_after_store", "$Label1");
    contains(&mut c, "uid_store", "\\Answered");
    contains(&mut c, "uid_store", "UID ");

    // SEARCH, against what the messages hold.
    let all: Vec<String> = (1..=stored.len()).map(|n| n.to_string()).collect();
    ok_is(&mut c, "search_all", &all.join(" "));
    ok_is(&mut c, "search_subject", &seq_of(&sample(2)).to_string());
    ok_is(&mut c, "search_keyword", "2");
    ok_is(&mut c, "search_body", &seq_of(&sample(2)).to_string());
    ok_is(&mut c, "search_larger", &seq_of(&sample(6)).to_string());
    ok_is(&mut c, "search_seen", "1");
    ok_is(&mut c, "search_unseen", &all[1..].join(" "));
    ok_is(&mut c, "search_header", &seq_of(&sample(4)).to_string());
    let mut or_not = [seq_of(&sample(1)), seq_of(&sample(6))];
    or_not.sort_unstable();
    ok_is(&mut c, "search_or_not", &format!("{} {}", or_not[0], or_not[1]));
    let large_uid = uids
        .get(seq_of(&sample(6)).saturating_sub(1) as usize)
        .cloned()
        .unwrap_or_default();
    ok_is(&mut c, "uid_search_subject", &large_uid);
    let (min, max) = (uids.first().cloned(), uids.last().cloned());
    contains(&mut c, "esearch", "(TAG \"");
    contains(
        &mut c,
        "esearch",
        &format!(
            "UID MIN {} MAX {} COUNT {}",
            min.unwrap_or_default(),
            max.unwrap_or_default(),
            stored.len()
        ),
    );

    // CONDSTORE.
    let modseqs = get("fetch_modseq");
    c.check(
        modseqs.split(" | ").filter(|i| i.contains("MODSEQ (")).count() == stored.len(),
        || format!("fetch_modseq: {modseqs}"),
    );
    let old = get("modseq_3").parse::<u64>().ok();
    c.check(old.is_some(), || format!("modseq_3: {}", get("modseq_3")));
    contains(&mut c, "store_unchangedsince_ok", "\\Draft");
    ok_is(&mut c, "modified_after_ok", "no");
    let new = number_after(&get("modseq_3_after"), "MODSEQ");
    c.check(new > old, || {
        format!("MODSEQ of 3 did not grow: {old:?} then {}", get("modseq_3_after"))
    });
    ok_is(&mut c, "modified_after_stale", "3");
    contains(&mut c, "flags_3_after_stale", "\\Draft");

    // COPY, MOVE, APPEND.
    ok_is(&mut c, "copy", "OK");
    let copyuid = get("copy_copyuid");
    c.check(copyuid.split(' ').count() == 3, || {
        format!("copy_copyuid: {copyuid:?}")
    });
    ok_is(&mut c, "status_archive_after_copy", "Archive (MESSAGES 2)");
    ok_is(&mut c, "move", "OK");
    ok_is(&mut c, "move_expunge", "3");
    let moved = get("move_copyuid");
    c.check(moved.split(' ').nth(1) == uids.get(2).map(String::as_str), || {
        format!("move_copyuid {moved:?} names UID {:?}", uids.get(2))
    });
    ok_is(
        &mut c,
        "status_inbox_after_move",
        &format!("INBOX (MESSAGES {})", stored.len() - 1),
    );
    contains(&mut c, "copy_missing", "NO [TRYCREATE]");
    ok_is(&mut c, "append", "OK");
    c.check(get("append_appenduid").split(' ').nth(1) == Some("4"), || {
        format!("append_appenduid: {}", get("append_appenduid"))
    });
    contains(&mut c, "append_missing", "NO [TRYCREATE]");

    // Archive holds messages 1 to 3 of the INBOX and the appended one.
    let appended = unhex(&get("appended_message"));
    ok_is(&mut c, "select_archive", "4");
    let mut in_archive = BTreeSet::new();
    for n in 1..=4 {
        let message = unhex(&get(&format!("archive {n}")));
        let id = message_id(&message).unwrap_or_default();
        let want = if id == "<appended-1@mailwire.test>" {
            appended.clone()
        } else {
            expected.get(&id).map(|m| crlf(m)).unwrap_or_default()
        };
        c.check(!want.is_empty() && message == want, || {
            format!("archive {n} ({id}) differs from what was copied, moved or appended")
        });
        if id == "<appended-1@mailwire.test>" {
            let attributes = get(&format!("archive_attributes {n}"));
            c.check(
                attributes.contains("\\Seen")
                    && attributes.contains("$Appended")
                    && attributes.contains("INTERNALDATE \"23-Nov-2026 09:00:00 +0000\""),
                || format!("the appended message's flags and date: {attributes}"),
            );
        }
        in_archive.insert(id);
    }
    let want: BTreeSet<String> = (1..=3)
        .filter_map(|n| ids.get(&n).cloned())
        .chain(["<appended-1@mailwire.test>".to_owned()])
        .collect();
    c.check(in_archive == want, || {
        format!("Archive holds {in_archive:?}, not {want:?}")
    });

    // EXPUNGE, UNSELECT, CLOSE.
    contains(&mut c, "store_deleted_1", "\\Deleted");
    ok_is(&mut c, "expunge", "1");
    ok_is(&mut c, "status_archive_after_expunge", "Archive (MESSAGES 3)");
    ok_is(&mut c, "unselect", "OK");
    ok_is(&mut c, "status_archive_after_unselect", "Archive (MESSAGES 3)");
    ok_is(&mut c, "select_archive_again", "3");
    ok_is(&mut c, "close", "OK");
    ok_is(&mut c, "status_archive_after_close", "Archive (MESSAGES 2)");

    // UID COPY, UID EXPUNGE.
    let left = stored.len() - 1;
    ok_is(&mut c, "create_copies", "OK");
    ok_is(&mut c, "select_inbox_for_copy", &left.to_string());
    ok_is(&mut c, "uid_copy", "OK");
    let inbox_uids: Vec<&String> = uids
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 2)
        .map(|(_, u)| u)
        .collect();
    let copyuid = get("uid_copy_copyuid");
    let source: Vec<String> = copyuid.split(' ').nth(1).map(expand_uid_set).unwrap_or_default();
    c.check(source.iter().collect::<Vec<_>>() == inbox_uids, || {
        format!("uid_copy_copyuid {copyuid:?} names other UIDs than {inbox_uids:?}")
    });
    ok_is(&mut c, "select_copies", &left.to_string());
    let copies: Vec<String> = get("copies_uids").split_whitespace().map(str::to_owned).collect();
    c.check(copies.len() == left, || format!("copies_uids: {copies:?}"));
    ok_is(&mut c, "uid_expunge", "OK");
    ok_is(&mut c, "uid_expunge_expunged", "1");
    ok_is(
        &mut c,
        "copies_uids_after",
        &copies.get(1..).unwrap_or_default().join(" "),
    );

    // IDLE.
    ok_is(&mut c, "select_for_idle", &(stored.len() - 1).to_string());
    let idle = get("idle");
    c.check(
        idle.contains(&format!("* {} EXISTS", stored.len())) && idle.contains(" OK"),
        || format!("IDLE: {idle}"),
    );
    ok_is(&mut c, "noop_after_idle", "OK");
    ok_is(&mut c, "logout", "BYE");

    // The second session: sections and partial FETCH of what the INBOX
    // holds now (the samples but the moved one, and appended-2).
    contains(&mut c, "id", "\"mailwire\"");
    ok_is(&mut c, "second_login", "OK");
    let appended_2 = {
        let text = String::from_utf8_lossy(&appended).replace("appended-1", "appended-2");
        text.into_bytes()
    };
    let count: usize = get("second_select").parse().unwrap_or(0);
    c.check(count == stored.len(), || {
        format!("second_select: {}", get("second_select"))
    });
    for n in 1..=count {
        let whole = unhex(&get(&format!("whole {n}")));
        let id = message_id(&whole).unwrap_or_default();
        let original = if id == "<appended-2@mailwire.test>" {
            appended_2.clone()
        } else {
            expected.get(&id).map(|m| crlf(m)).unwrap_or_default()
        };
        c.check(!original.is_empty() && whole == original, || {
            format!("whole {n} ({id}) differs from the stored message")
        });
        let body = original
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(&[][..], |p| &original[p + 4..]);
        let text = unhex(&get(&format!("text {n}")));
        c.check(text == body, || format!("BODY[TEXT] of {n} ({id}) differs"));
        let part1 = unhex(&get(&format!("part1 {n}")));
        c.check(part1 == body, || format!("BODY[1] of {n} ({id}) differs"));
        let partial = unhex(&get(&format!("partial {n}")));
        c.check(partial == original[10..30], || {
            format!(
                "BODY[]<10.20> of {n} ({id}): {:?}",
                String::from_utf8_lossy(&partial)
            )
        });
        let binary_size = get(&format!("binary_size {n}"));
        c.check(
            binary_size == format!("{n} (BINARY.SIZE[1] {})", body.len()),
            || {
                format!(
                    "BINARY.SIZE[1] of {n} ({id}) is not {}: {binary_size}",
                    body.len()
                )
            },
        );
    }
    c.check(get("status_missing").starts_with("NO "), || {
        format!("status_missing: {}", get("status_missing"))
    });
    let saved = get("searchres");
    c.check(
        saved.split(" | ").count() == 1 && saved.contains("\"<sample-1@mailwire.test>\""),
        || format!("SEARCH RETURN (SAVE) SUBJECT Plain then FETCH $: {saved}"),
    );
    ok_is(&mut c, "unselect_before_rename", "OK");
    ok_is(&mut c, "rename_inbox", "OK");
    ok_is(&mut c, "status_inbox_after_rename", "INBOX (MESSAGES 0)");
    ok_is(
        &mut c,
        "status_old_inbox",
        &format!("Old-inbox (MESSAGES {count})"),
    );
    ok_is(&mut c, "second_logout", "BYE");
    c.failures
}

#[test]
fn python_imaplib_runs_every_command_over_plain_starttls_and_imaps() {
    if !require("python3") {
        return;
    }
    let mut failures = Vec::new();
    for mode in Mode::ALL {
        let mail = alice_root(&format!("imaplib-{}", mode.name()));
        let tls = TlsFiles::new();
        let server = start_with_tls(&mail, &tls);
        let results = imaplib(mode, &server, &tls.cert);
        let found = check_imaplib(mode, &results);
        if !found.is_empty() {
            failures.extend(found);
            failures.push(format!("{}: server log:\n{}", mode.name(), server.logs()));
        }
        let logs = server.logs();
        assert!(logs.contains("authentication failed"), "{logs}");
        assert!(!logs.contains("secret"), "a password reached the logs:\n{logs}");
    }
    assert!(failures.is_empty(), "imaplib:\n{}", failures.join("\n"));
}

// ---------------------------------------------------------------- mbsync

/// The messages of a Maildir folder (its `new` and `cur`, nothing else).
fn maildir_messages(dir: &Path) -> Vec<Vec<u8>> {
    let mut messages = Vec::new();
    for sub in ["new", "cur"] {
        if let Ok(entries) = std::fs::read_dir(dir.join(sub)) {
            for entry in entries.flatten() {
                if entry.path().is_file() {
                    messages.push(std::fs::read(entry.path()).expect("read a message"));
                }
            }
        }
    }
    messages
}

/// The message without mbsync's `X-TUID:` header line.
fn without_tuid(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len());
    let mut in_header = true;
    for line in message.split_inclusive(|&b| b == b'\n') {
        if in_header && (line == b"\n" || line == b"\r\n") {
            in_header = false;
        }
        if in_header && line.starts_with(b"X-TUID: ") {
            continue;
        }
        out.extend_from_slice(line);
    }
    out
}

/// The mailboxes of the mbsync test and what each holds: Maildir++ folder
/// on the server's side, mailbox name, messages.
fn mbsync_mailboxes() -> Vec<(&'static str, &'static str, Vec<Vec<u8>>)> {
    let samples = support::sample_messages();
    vec![
        ("", "INBOX", samples.clone()),
        (".Work", "Work", renamed(&samples[..3], "work")),
        (".Work.2026", "Work/2026", renamed(&samples[3..], "w2026")),
        (".Archive", "Archive", Vec::new()),
    ]
}

/// Writes an mbsync configuration for alice's account into `work`
/// (`ssl_type` None, STARTTLS or IMAPS; `sync` Pull, All, ...), with the
/// local Maildir++ at `work/Maildir`.
fn mbsync_config(server: &MailServer, tls: &TlsFiles, work: &Path, ssl_type: &str, sync: &str) -> PathBuf {
    let port = if ssl_type == "IMAPS" {
        server.imaps.port()
    } else {
        server.imap.port()
    };
    // Plaintext on loopback: mbsync wants it said, and LOGIN named.
    let tls_lines = if ssl_type == "None" {
        "SSLType None\nAuthMechs LOGIN\n".to_owned()
    } else {
        format!("SSLType {ssl_type}\nCertificateFile {}\n", tls.cert.display())
    };
    let config = work.join("mbsyncrc");
    std::fs::write(
        &config,
        format!(
            "IMAPAccount server\nHost 127.0.0.1\nPort {port}\nUser alice\nPass secret\n{tls_lines}\n\
             IMAPStore remote\nAccount server\n\n\
             MaildirStore local\nInbox {local}\nSubFolders Maildir++\n\n\
             Channel mirror\nFar :remote:\nNear :local:\nPatterns *\nCreate Near\nSync {sync}\n\
             SyncState *\n",
            local = work.join("Maildir").display(),
        ),
    )
    .expect("write the mbsync configuration");
    config
}

/// Runs `mbsync -a` with a configuration; it must succeed.
fn mbsync(server: &MailServer, config: &Path, what: &str) -> String {
    let output = run(
        Command::new("mbsync").arg("-c").arg(config).args(["-V", "-a"]),
        b"",
        Duration::from_secs(180),
    );
    assert!(
        output.status.success(),
        "mbsync ({what}) failed ({}):\n{}\n{}\nserver log:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        server.logs()
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Mirrors alice's account with mbsync (`ssl_type` None, STARTTLS or
/// IMAPS) and checks every mailbox and message arrived unchanged.
fn mbsync_mirror(server: &MailServer, tls: &TlsFiles, ssl_type: &str) {
    let work = TempDir::new(&format!("mbsync-{ssl_type}"));
    let local = work.path().join("Maildir");
    let config = mbsync_config(server, tls, work.path(), ssl_type, "Pull");
    let log = mbsync(server, &config, ssl_type);
    for (folder, mailbox, messages) in mbsync_mailboxes() {
        let dir = local.join(folder);
        assert!(
            dir.join("cur").is_dir(),
            "mbsync ({ssl_type}) did not create {mailbox} ({}):\n{log}",
            dir.display(),
        );
        let mirrored: Vec<Vec<u8>> = maildir_messages(&dir).iter().map(|m| without_tuid(m)).collect();
        check_delivered(&format!("mbsync ({ssl_type}) {mailbox}"), &mirrored, &messages);
    }
}

/// The files of a Maildir folder (`new` and `cur`) with their names.
fn maildir_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    for sub in ["new", "cur"] {
        if let Ok(entries) = std::fs::read_dir(dir.join(sub)) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                files.push((name, std::fs::read(entry.path()).expect("read a message")));
            }
        }
    }
    files
}

/// The Maildir flags of a file name (`...:2,FS` gives `FS`).
fn maildir_flags(name: &str) -> &str {
    name.rsplit_once(":2,").map_or("", |(_, f)| f)
}

#[test]
fn mbsync_mirrors_every_mailbox_over_plain_starttls_and_imaps() {
    if !require("mbsync") {
        return;
    }
    let mail = alice_root("mbsync");
    for (folder, _, messages) in mbsync_mailboxes() {
        if !folder.is_empty() {
            deliver_to_folder(&mail, "alice", folder, &messages);
        }
    }
    let tls = TlsFiles::new();
    let server = start_with_tls(&mail, &tls);
    for ssl_type in ["None", "STARTTLS", "IMAPS"] {
        mbsync_mirror(&server, &tls, ssl_type);
    }
    // A pull leaves the server's mailboxes as they were.
    for (_, mailbox, messages) in mbsync_mailboxes() {
        assert_eq!(
            messages_in(&server, mailbox),
            format!("* STATUS {mailbox} (MESSAGES {})", messages.len())
        );
    }
}

// ---------------------------------------------------------------- fetchmail

#[test]
fn fetchmail_over_imap_and_imaps_delivers_every_message_unchanged() {
    if !require("fetchmail") {
        return;
    }
    let mail = alice_root("fetchmail-imap");
    let tls = TlsFiles::new();
    let server = start_with_tls(&mail, &tls);
    let stored = support::sample_messages();
    let plain = support::run_fetchmail(&server, server.imap.port(), "IMAP", "sslproto ''");
    check_delivered("fetchmail (IMAP)", &plain, &stored);
    let secure = support::run_fetchmail(
        &server,
        server.imaps.port(),
        "IMAP",
        // fetchmail matches the certificate's DNS names only, not its IP.
        &format!(
            "ssl sslcertck sslcertfile \"{}\" sslcommonname localhost",
            tls.cert.display()
        ),
    );
    check_delivered("fetchmail (IMAPS)", &secure, &stored);
    // Keep mode: everything is still on the server.
    assert_eq!(
        messages_in(&server, "INBOX"),
        format!("* STATUS INBOX (MESSAGES {})", stored.len())
    );
}

// ---------------------------------------------------------------- getmail

/// Runs getmail with `retriever` (its `[retriever]` lines) and returns
/// the messages it delivered into a Maildir.
fn getmail_imap(server: &MailServer, retriever: &str) -> Vec<Vec<u8>> {
    let retriever = format!("{retriever}mailboxes = (\"INBOX\",)\nrecord_mailbox = false\n");
    let (_work, out) = support::run_getmail(server, &retriever);
    maildir_messages(&out)
}

#[test]
fn getmail_over_imap_and_imaps_delivers_every_message_unchanged_into_a_maildir() {
    if !require("getmail") {
        return;
    }
    let mail = alice_root("getmail-imap");
    let tls = TlsFiles::new();
    let server = start_with_tls(&mail, &tls);
    let stored = support::sample_messages();
    let plain = getmail_imap(
        &server,
        &format!(
            "type = SimpleIMAPRetriever\nserver = 127.0.0.1\nport = {}\n",
            server.imap.port()
        ),
    );
    check_delivered("getmail (IMAP)", &plain, &stored);
    let secure = getmail_imap(
        &server,
        &format!(
            "type = SimpleIMAPSSLRetriever\nserver = 127.0.0.1\nport = {}\nca_certs = {}\n",
            server.imaps.port(),
            tls.cert.display()
        ),
    );
    check_delivered("getmail (IMAPS)", &secure, &stored);
    assert_eq!(
        messages_in(&server, "INBOX"),
        format!("* STATUS INBOX (MESSAGES {})", stored.len())
    );
}

#[test]
fn mbsync_pushes_a_new_message_and_a_flag_back_to_the_server() {
    if !require("mbsync") {
        return;
    }
    let mail = alice_root("mbsync-push");
    for (folder, _, messages) in mbsync_mailboxes() {
        if !folder.is_empty() {
            deliver_to_folder(&mail, "alice", folder, &messages);
        }
    }
    let tls = TlsFiles::new();
    let server = start_with_tls(&mail, &tls);
    let work = TempDir::new("mbsync-push");
    let local = work.path().join("Maildir");
    let config = mbsync_config(&server, &tls, work.path(), "None", "All");
    mbsync(&server, &config, "first sync");

    // Locally: a new message in Work, and the INBOX's first sample flagged.
    let pushed = b"From: Alice <alice@example.org>\nTo: bob@example.org\nSubject: Pushed by mbsync\n\
                   Message-ID: <pushed-1@mailwire.test>\n\nWritten locally.\n.\nthe end\n"
        .to_vec();
    std::fs::write(local.join(".Work/new/1764009999.M1P1Q1.local"), &pushed).expect("write a local message");
    let (name, _) = maildir_files(&local)
        .into_iter()
        .find(|(_, m)| message_id(m).as_deref() == Some("<sample-1@mailwire.test>"))
        .expect("the first sample, mirrored");
    let sub = if local.join("new").join(&name).exists() {
        "new"
    } else {
        "cur"
    };
    let base = name.split(":2,").next().unwrap_or(&name).to_owned();
    std::fs::rename(
        local.join(sub).join(&name),
        local
            .join("cur")
            .join(format!("{base}:2,F{}", maildir_flags(&name).replace('F', ""))),
    )
    .expect("flag the local copy");
    let log = mbsync(&server, &config, "second sync");

    // The server: Work holds the pushed message, unchanged but for
    // mbsync's X-TUID; the first sample is flagged.
    let work_folder = maildir_files(&mail.maildir("alice").join(".Work"));
    let messages: Vec<Vec<u8>> = work_folder.iter().map(|(_, m)| without_tuid(m)).collect();
    let mut wanted = renamed(&support::sample_messages()[..3], "work");
    wanted.push(pushed);
    check_delivered("mbsync's push into Work", &messages, &wanted);
    let inbox = maildir_files(&mail.maildir("alice"));
    let (name, _) = inbox
        .iter()
        .find(|(_, m)| message_id(m).as_deref() == Some("<sample-1@mailwire.test>"))
        .expect("the first sample on the server");
    assert!(
        maildir_flags(name).contains('F'),
        "the first sample is not flagged on the server ({name}):\n{log}\nserver log:\n{}",
        server.logs()
    );
    assert_eq!(
        messages_in(&server, "Work"),
        "* STATUS Work (MESSAGES 4)",
        "mbsync's log:\n{log}"
    );
}

#[test]
fn curl_cannot_log_in_to_imap_without_tls_unless_allowed() {
    if !require("curl") {
        return;
    }
    let mail = alice_root("imap-curl-tls");
    let tls = TlsFiles::new();
    let tls_args = tls.args();
    let extra: Vec<&str> = tls_args.iter().map(String::as_str).collect();
    let server = start(&mail, &extra);
    let inbox = format!("imap://{}/INBOX", server.imap);
    let refused = run(
        Command::new("curl").args(["-s", "--user", "alice:secret", &inbox, "-X", "UID SEARCH ALL"]),
        b"",
        Duration::from_secs(60),
    );
    // 67: "the user name, password, or similar was not accepted".
    assert_eq!(
        refused.status.code(),
        Some(67),
        "{refused:?}\nserver log:\n{}",
        server.logs()
    );
    let cert = tls.cert.display().to_string();
    let uids = search_numbers(&curl(&[
        "-s",
        "--ssl-reqd",
        "--cacert",
        &cert,
        "--user",
        "alice:secret",
        &inbox,
        "-X",
        "UID SEARCH ALL",
    ]));
    assert_eq!(
        uids.len(),
        support::sample_messages().len(),
        "after STARTTLS: {uids:?}"
    );
}

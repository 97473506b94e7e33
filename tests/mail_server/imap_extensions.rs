//! mail_server's IMAP extensions, each proven over the wire with the
//! exact responses its RFC asks for: QRESYNC and CONDSTORE (RFC 7162),
//! COMPRESS=DEFLATE (RFC 4978), large literals, QUOTA (RFC 9208),
//! CATENATE (RFC 4469), SORT/ESORT/THREAD (RFC 5256, 5267, 5957), OBJECTID
//! (RFC 8474), PREVIEW (RFC 8970), WITHIN (RFC 5032), UTF8=ACCEPT
//! (RFC 6855), UNAUTHENTICATE (RFC 8437); and the server holding its
//! ground against hostile mailbox names and hostile input.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::imap_wire::{Imap, Reply};
use crate::support::{self, MailRoot, MailServer, crlf, header_part};
use crate::{PASSWD, alice_root, start};

pub(crate) fn mail_server(mail: &MailRoot) -> MailServer {
    start(mail, &["--allow-plaintext-auth"])
}

/// The untagged responses as text lines without CRLF, `\Recent` removed
/// from flag lists (it depends on which session saw a message first).
pub(crate) fn lines(reply: &Reply) -> Vec<String> {
    reply
        .untagged
        .iter()
        .map(|r| {
            String::from_utf8_lossy(r)
                .trim_end()
                .replace(" \\Recent", "")
                .replace("\\Recent ", "")
                .replace("(\\Recent)", "()")
        })
        .collect()
}

/// The text after `[CODE ` up to `]` in `text`.
fn code_text<'a>(text: &'a str, code: &str) -> Option<&'a str> {
    let needle = format!("[{code} ");
    let at = text.find(&needle)? + needle.len();
    let end = text[at..].find(']')? + at;
    Some(&text[at..end])
}

/// The number after `key` (e.g. `MODSEQ (`) in `line`.
pub(crate) fn number_after(line: &str, key: &str) -> u64 {
    let at = line.find(key).unwrap_or_else(|| panic!("{key} in {line}")) + key.len();
    line[at..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a number after {key} in {line}"))
}

/// The bytes of the first literal `{n}\r\n...` in a response.
fn literal_of(response: &[u8]) -> Vec<u8> {
    let open = response
        .windows(1)
        .position(|w| w == b"{")
        .unwrap_or_else(|| panic!("a literal in {}", String::from_utf8_lossy(response)));
    let close = open + response[open..].iter().position(|&b| b == b'}').expect("}");
    let n: usize = std::str::from_utf8(&response[open + 1..close])
        .expect("digits")
        .trim_end_matches('+')
        .parse()
        .expect("a literal length");
    assert_eq!(
        &response[close + 1..close + 3],
        b"\r\n",
        "CRLF after the literal's length"
    );
    response[close + 3..close + 3 + n].to_vec()
}

/// Writes one message into the user's `new/` under a name of its own.
fn deliver_one(mail: &MailRoot, user: &str, name: &str, message: &[u8]) {
    let maildir = mail.maildir(user);
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).expect("create the Maildir");
    }
    std::fs::write(maildir.join("new").join(name), message).expect("deliver a message");
}

/// `--allow-plaintext-auth` login to alice.
pub(crate) fn alice(server: &MailServer) -> Imap {
    Imap::login(server.imap, "alice", "secret")
}

pub(crate) fn assert_status(reply: &Reply, statuses: &[&str], what: &str) {
    assert!(
        statuses.contains(&reply.status.as_str()),
        "{what}: expected {statuses:?}, got {}\n{}",
        reply.completion,
        reply.text()
    );
}

// ---------------------------------------------------------------- 1

#[test]
fn qresync_reports_vanished_and_resynchronises_select() {
    let mail = alice_root("qresync");
    let server = mail_server(&mail);

    // QRESYNC before ENABLE: BAD (RFC 7162 section 3.2.5).
    let mut early = alice(&server);
    let plain = early.command("SELECT INBOX").ok("SELECT");
    let uidvalidity = plain.code_number("UIDVALIDITY").expect("UIDVALIDITY");
    let bad = early.command(&format!("SELECT INBOX (QRESYNC ({uidvalidity} 1 1:6))"));
    assert_eq!(bad.status, "BAD", "QRESYNC before ENABLE: {}", early.transcript());
    early.logout();

    let mut imap = alice(&server);
    let enabled = imap.command("ENABLE QRESYNC").ok("ENABLE");
    assert_eq!(lines(&enabled), ["* ENABLED QRESYNC"]);
    let select = imap.command("SELECT INBOX").ok("SELECT");
    assert_eq!(select.count("EXISTS"), Some(6));
    assert_eq!(select.code_number("UIDVALIDITY"), Some(uidvalidity));
    let m = select
        .code_number("HIGHESTMODSEQ")
        .expect("HIGHESTMODSEQ after ENABLE QRESYNC");

    let store = imap.command("STORE 2 +FLAGS (\\Deleted)").ok("STORE");
    let got = lines(&store);
    assert_eq!(got.len(), 1, "{got:?}");
    let deleted_modseq = number_after(&got[0], "MODSEQ (");
    assert!(deleted_modseq > m, "{got:?}");
    assert_eq!(
        got[0],
        format!("* 2 FETCH (FLAGS (\\Deleted) MODSEQ ({deleted_modseq}))")
    );

    let expunge = imap.command("EXPUNGE").ok("EXPUNGE");
    assert_eq!(
        lines(&expunge),
        ["* VANISHED 2"],
        "VANISHED, not EXPUNGE, once QRESYNC is on"
    );

    let flag = imap.command("UID STORE 3 +FLAGS (\\Flagged)").ok("UID STORE");
    let got = lines(&flag);
    assert_eq!(got.len(), 1, "{got:?}");
    let x = number_after(&got[0], "MODSEQ (");
    assert!(x > deleted_modseq, "{got:?}");
    let changed = format!("* 2 FETCH (UID 3 FLAGS (\\Flagged) MODSEQ ({x}))");
    assert_eq!(got, std::slice::from_ref(&changed));

    let since = imap
        .command(&format!("UID FETCH 1:* (FLAGS) (CHANGEDSINCE {m} VANISHED)"))
        .ok("UID FETCH CHANGEDSINCE VANISHED");
    assert_eq!(
        lines(&since),
        ["* VANISHED (EARLIER) 2".to_owned(), changed.clone()]
    );

    imap.command("UNSELECT").ok("UNSELECT");
    let resync = imap
        .command(&format!("SELECT INBOX (QRESYNC ({uidvalidity} {m} 1:6))"))
        .ok("SELECT QRESYNC");
    assert_eq!(resync.count("EXISTS"), Some(5));
    assert_eq!(resync.code_number("HIGHESTMODSEQ"), Some(x));
    let got = lines(&resync);
    let vanished: Vec<_> = got.iter().filter(|l| l.starts_with("* VANISHED")).collect();
    assert_eq!(vanished, ["* VANISHED (EARLIER) 2"], "{got:?}");
    let fetches: Vec<_> = got.iter().filter(|l| l.contains(" FETCH ")).collect();
    assert_eq!(fetches, [&changed], "{got:?}");

    // A UIDVALIDITY that is not the mailbox's: a plain SELECT.
    let wrong = imap
        .command(&format!("SELECT INBOX (QRESYNC ({} {m} 1:6))", uidvalidity + 1))
        .ok("SELECT QRESYNC with a wrong UIDVALIDITY");
    let got = lines(&wrong);
    assert!(
        !got.iter()
            .any(|l| l.starts_with("* VANISHED") || l.contains(" FETCH ")),
        "{got:?}"
    );
    imap.logout();
}

// ---------------------------------------------------------------- 2

/// While a FETCH holds an expunge back (RFC 9051 forbids EXPUNGE during
/// it), the flag change made after the expunge is told with its MODSEQ,
/// and so is a HIGHESTMODSEQ below the expunge's (RFC 7162 section 3.2):
/// a client that loses the connection then resynchronises from before
/// the expunge, and learns of it. Before, nothing held it below.
#[test]
fn a_delayed_expunge_keeps_the_highestmodseq_told_below_it() {
    let mail = alice_root("condstore-delayed");
    let server = mail_server(&mail);
    let mut a = alice(&server);
    a.command("ENABLE CONDSTORE").ok("ENABLE");
    let select = a.command("SELECT INBOX").ok("SELECT");
    let highest = select.code_number("HIGHESTMODSEQ").expect("[HIGHESTMODSEQ n]");
    let mut b = alice(&server);
    b.command("SELECT INBOX").ok("SELECT");
    b.command("STORE 1 +FLAGS.SILENT (\\Deleted)").ok("STORE");
    b.command("EXPUNGE").ok("EXPUNGE");
    b.command("STORE 1 +FLAGS.SILENT (\\Flagged)").ok("STORE");
    let fetch = a.command("FETCH 2 (FLAGS)").ok("FETCH");
    assert!(!fetch.text().contains("* 1 EXPUNGE"), "{}", fetch.text());
    let told = fetch
        .code_number("HIGHESTMODSEQ")
        .unwrap_or_else(|| panic!("no HIGHESTMODSEQ below the delayed expunge:\n{}", fetch.text()));
    // \Deleted at highest + 1, the expunge at + 2, \Flagged at + 3.
    assert_eq!(told, highest + 1, "{}", fetch.text());
    let noop = a.command("NOOP").ok("NOOP");
    assert!(noop.text().contains("* 1 EXPUNGE"), "{}", noop.text());
    a.logout();
    b.logout();
}

#[test]
fn condstore_modseq_unchangedsince_and_search() {
    let mail = alice_root("condstore");
    let server = mail_server(&mail);
    let mut imap = alice(&server);
    assert_eq!(
        lines(&imap.command("ENABLE CONDSTORE").ok("ENABLE")),
        ["* ENABLED CONDSTORE"]
    );
    let select = imap.command("SELECT INBOX").ok("SELECT");
    let highest = select.code_number("HIGHESTMODSEQ").expect("[HIGHESTMODSEQ n]");

    let fetch = imap.command("FETCH 1:* (MODSEQ)").ok("FETCH MODSEQ");
    let got = lines(&fetch);
    assert_eq!(got.len(), 6, "{got:?}");
    let mut modseqs = Vec::new();
    for (i, line) in got.iter().enumerate() {
        let k = number_after(line, "MODSEQ (");
        assert_eq!(line, &format!("* {} FETCH (MODSEQ ({k}))", i + 1));
        modseqs.push(k);
    }
    assert_eq!(modseqs.iter().max(), Some(&highest));
    let k1 = modseqs[0];
    assert!(k1 > 1, "message 1's modseq is above 1: {got:?}");

    let refused = imap.command(&format!("STORE 1 (UNCHANGEDSINCE {}) +FLAGS (\\Seen)", k1 - 1));
    assert_eq!(refused.status, "OK", "{}", refused.completion);
    assert!(
        refused.completion.contains("OK [MODIFIED 1]"),
        "{}",
        refused.completion
    );
    assert!(
        lines(&refused).iter().all(|l| !l.contains("\\Seen")),
        "{:?}",
        lines(&refused)
    );
    let flags = imap.command("FETCH 1 (FLAGS)").ok("FETCH FLAGS");
    assert!(
        !lines(&flags)[0].contains("\\Seen"),
        "not stored: {:?}",
        lines(&flags)
    );

    let stored = imap
        .command(&format!("STORE 1 (UNCHANGEDSINCE {k1}) +FLAGS (\\Seen)"))
        .ok("STORE UNCHANGEDSINCE current");
    assert!(!stored.completion.contains("MODIFIED"), "{}", stored.completion);
    let got = lines(&stored);
    assert_eq!(got.len(), 1, "{got:?}");
    let n = number_after(&got[0], "MODSEQ (");
    assert!(n > highest, "{got:?}");
    assert_eq!(got[0], format!("* 1 FETCH (FLAGS (\\Seen) MODSEQ ({n}))"));

    let search = imap
        .command(&format!("SEARCH MODSEQ {}", highest + 1))
        .ok("SEARCH MODSEQ");
    assert_eq!(lines(&search), [format!("* SEARCH 1 (MODSEQ {n})")]);
    let all = imap.command("SEARCH MODSEQ 1").ok("SEARCH MODSEQ 1");
    assert_eq!(lines(&all), [format!("* SEARCH 1 2 3 4 5 6 (MODSEQ {n})")]);
    let none = imap
        .command(&format!("SEARCH MODSEQ {}", n + 1))
        .ok("SEARCH MODSEQ");
    assert_eq!(lines(&none), ["* SEARCH"]);

    imap.command("UNSELECT").ok("UNSELECT");
    let again = imap.command("SELECT INBOX").ok("SELECT");
    assert_eq!(again.code_number("HIGHESTMODSEQ"), Some(n));
    imap.logout();
}

/// The first CONDSTORE-enabling command other than ENABLE and SELECT
/// (RFC 7162 section 3.1: FETCH of MODSEQ, SEARCH MODSEQ, STORE
/// UNCHANGEDSINCE, STATUS HIGHESTMODSEQ...) reports the selected
/// mailbox's HIGHESTMODSEQ before its answers and makes every later
/// untagged FETCH carry UID and MODSEQ. Before, such a command answered
/// for itself alone: no HIGHESTMODSEQ, and another session's flag change
/// reached the client without a MODSEQ, so a client caching by MODSEQ
/// missed it.
#[test]
fn a_first_condstore_enabling_command_reports_highestmodseq_and_turns_modseq_on() {
    let mail = alice_root("condstore-enabling");
    let server = mail_server(&mail);
    let mut other = alice(&server);
    other.command("SELECT INBOX (CONDSTORE)").ok("SELECT");
    let all = lines(&other.command("FETCH 1:* (MODSEQ)").ok("FETCH MODSEQ"));
    let highest = all
        .iter()
        .map(|l| number_after(l, "MODSEQ ("))
        .max()
        .expect("messages");

    let mut imap = alice(&server);
    let select = imap.command("SELECT INBOX").ok("SELECT");
    assert_eq!(select.code_number("HIGHESTMODSEQ"), None, "{:?}", lines(&select));
    let fetch = imap.command("FETCH 1 (FLAGS MODSEQ)").ok("FETCH MODSEQ");
    let got = lines(&fetch);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0], format!("* OK [HIGHESTMODSEQ {highest}] Highest"));
    assert_eq!(
        got[1],
        format!(
            "* 1 FETCH (FLAGS () MODSEQ ({}))",
            number_after(&all[0], "MODSEQ (")
        )
    );
    // Once only.
    let again = lines(&imap.command("SEARCH MODSEQ 1").ok("SEARCH MODSEQ"));
    assert_eq!(again, [format!("* SEARCH 1 2 3 4 5 6 (MODSEQ {highest})")]);

    let stored = lines(&other.command("STORE 3 +FLAGS (\\Flagged)").ok("STORE"));
    let modseq = number_after(&stored[0], "MODSEQ (");
    assert!(modseq > highest, "{stored:?}");
    let uid = number_after(&lines(&other.command("FETCH 3 (UID)").ok("FETCH UID"))[0], "UID ");
    let news = lines(&imap.command("NOOP").ok("NOOP"));
    assert_eq!(
        news,
        [format!(
            "* 3 FETCH (UID {uid} FLAGS (\\Flagged) MODSEQ ({modseq}))"
        )]
    );
    imap.logout();

    // STATUS (HIGHESTMODSEQ) outside a mailbox: nothing owed then, and the
    // next SELECT reports HIGHESTMODSEQ as after ENABLE CONDSTORE.
    let mut imap = alice(&server);
    let status = lines(&imap.command("STATUS INBOX (HIGHESTMODSEQ)").ok("STATUS"));
    assert_eq!(status, [format!("* STATUS INBOX (HIGHESTMODSEQ {modseq})")]);
    let select = imap.command("SELECT INBOX").ok("SELECT");
    assert_eq!(select.code_number("HIGHESTMODSEQ"), Some(modseq));
    imap.logout();
    other.logout();
}

/// A FETCH that sets `\Seen` with CHANGEDSINCE answers, and marks, only
/// the messages changed since (RFC 7162 section 3.1.4.1 subsets the
/// messages): before, every message of the set was marked first, which
/// raised its MODSEQ past the bound, and it was answered too. The answer's
/// FLAGS and MODSEQ are those after the mark.
#[test]
fn changedsince_fetch_marks_only_the_messages_it_answers() {
    let mail = alice_root("changedsince-seen");
    let server = mail_server(&mail);
    let mut imap = alice(&server);
    imap.command("ENABLE CONDSTORE").ok("ENABLE");
    let select = imap.command("SELECT INBOX").ok("SELECT");
    let highest = select.code_number("HIGHESTMODSEQ").expect("[HIGHESTMODSEQ n]");
    imap.command("STORE 2 +FLAGS.SILENT (\\Flagged)").ok("STORE");
    let fetched = imap
        .command(&format!(
            "FETCH 1:3 (BODY[HEADER.FIELDS (SUBJECT)]) (CHANGEDSINCE {highest})"
        ))
        .ok("FETCH CHANGEDSINCE");
    let got = lines(&fetched);
    assert!(
        got.iter()
            .all(|l| !l.starts_with("* 1 ") && !l.starts_with("* 3 ")),
        "{got:?}"
    );
    let answer: Vec<&String> = got.iter().filter(|l| l.starts_with("* 2 FETCH")).collect();
    assert_eq!(answer.len(), 1, "{got:?}");
    let now = lines(&imap.command("FETCH 1:3 (FLAGS MODSEQ)").ok("FETCH FLAGS"));
    assert_eq!(now.len(), 3, "{now:?}");
    assert!(
        !now[0].contains("\\Seen") && !now[2].contains("\\Seen"),
        "{now:?}"
    );
    assert!(
        now[1].contains("\\Seen") && now[1].contains("\\Flagged"),
        "{now:?}"
    );
    let modseq = number_after(&now[1], "MODSEQ (");
    assert!(modseq > highest, "{now:?}");
    assert!(answer[0].contains(&format!("MODSEQ ({modseq})")), "{}", answer[0]);
    assert!(answer[0].contains("\\Seen"), "{}", answer[0]);
    // A FETCH that sets \Seen, without CHANGEDSINCE, FLAGS or UID asked
    // for, reports UID, FLAGS and MODSEQ to a CONDSTORE-aware client (RFC
    // 7162 section 3.2.4); before, MODSEQ and UID were left out, and the
    // client never learnt the message's new MODSEQ.
    let marked = lines(
        &imap
            .command("FETCH 3 (BODY[HEADER.FIELDS (SUBJECT)])")
            .ok("FETCH"),
    );
    assert_eq!(marked.len(), 1, "{marked:?}");
    let now = lines(&imap.command("FETCH 3 (MODSEQ)").ok("FETCH MODSEQ"));
    let modseq = number_after(&now[0], "MODSEQ (");
    for part in ["UID 3 ", "\\Seen", &format!("MODSEQ ({modseq})")] {
        assert!(marked[0].contains(part), "{part} in {}", marked[0]);
    }
    imap.logout();
}

// ---------------------------------------------------------------- 3

/// Reads plain lines until one starts with `tag `.
pub(crate) fn read_plain_until(stream: &mut TcpStream, tag: &str) -> String {
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        let n = match stream.read(&mut byte) {
            // A signal to this process (another test's child ending).
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            read => read.expect("read a plain response"),
        };
        assert!(n > 0, "closed: {}", String::from_utf8_lossy(&got));
        got.push(byte[0]);
        if got.ends_with(b"\r\n") {
            let text = String::from_utf8_lossy(&got).into_owned();
            let last = text.trim_end().rsplit("\r\n").next().unwrap_or("").to_owned();
            if last.starts_with(&format!("{tag} ")) {
                return text;
            }
        }
    }
}

#[test]
fn compress_deflate_carries_every_message_byte_for_byte() {
    use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

    let mail = alice_root("compress");
    let server = mail_server(&mail);
    let mut stream = TcpStream::connect(server.imap).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut greeting = [0u8; 4];
    stream.read_exact(&mut greeting).expect("greeting");
    assert_eq!(&greeting, b"* OK");
    stream.write_all(b"a LOGIN alice secret\r\n").expect("send");
    let login = read_plain_until(&mut stream, "a");
    assert!(login.contains("a OK"), "{login}");
    assert!(login.contains("COMPRESS=DEFLATE"), "{login}");
    stream.write_all(b"b COMPRESS DEFLATE\r\n").expect("send");
    let compress = read_plain_until(&mut stream, "b");
    assert!(compress.starts_with("b OK"), "{compress}");

    let mut deflate = Compress::new(Compression::default(), false);
    let commands = b"c SELECT INBOX\r\nd UID FETCH 1:* (BODY.PEEK[])\r\ne LOGOUT\r\n";
    let mut out = Vec::with_capacity(1024);
    deflate
        .compress_vec(commands, &mut out, FlushCompress::Sync)
        .expect("deflate");
    assert_eq!(deflate.total_in() as usize, commands.len());
    stream.write_all(&out).expect("send compressed");

    let mut compressed = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut chunk = [0u8; 64 * 1024];
    loop {
        assert!(Instant::now() < deadline, "no end of the compressed stream");
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => compressed.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("read: {e}"),
        }
    }
    let mut inflate = Decompress::new(false);
    let mut plain = Vec::new();
    let mut out = vec![0u8; 256 * 1024];
    loop {
        let (in_before, out_before) = (inflate.total_in(), inflate.total_out());
        let status = inflate
            .decompress(&compressed[in_before as usize..], &mut out, FlushDecompress::None)
            .expect("inflate the server's output");
        let produced = (inflate.total_out() - out_before) as usize;
        plain.extend_from_slice(&out[..produced]);
        let consumed = inflate.total_in() - in_before;
        if status == Status::StreamEnd || (consumed == 0 && produced == 0) {
            break;
        }
    }
    assert_eq!(
        inflate.total_in() as usize,
        compressed.len(),
        "all the output inflates"
    );
    let text = String::from_utf8_lossy(&plain);
    assert!(text.contains("\r\nc OK"), "{text}");
    assert!(text.contains("\r\nd OK"), "{text}");
    assert!(text.contains("* BYE"), "{text}");
    assert!(text.contains("\r\ne OK"), "{text}");
    for (i, message) in support::sample_messages().iter().enumerate() {
        let body = crlf(message);
        let mut wanted =
            format!("* {} FETCH (UID {} BODY[] {{{}}}\r\n", i + 1, i + 1, body.len()).into_bytes();
        wanted.extend_from_slice(&body);
        wanted.extend_from_slice(b")\r\n");
        assert!(
            plain.windows(wanted.len()).any(|w| w == wanted.as_slice()),
            "message {} not carried byte for byte:\n{text}",
            i + 1
        );
    }
}

// ---------------------------------------------------------------- 4

#[test]
fn large_messages_stream_whole() {
    let mail = MailRoot::new("large", PASSWD, "alice", &[]);
    let mut big =
        b"From: Big <big@example.org>\nSubject: Two MiB\nMessage-ID: <big@mailwire.test>\n\n".to_vec();
    let mut i = 0u32;
    while big.len() < 2 * 1024 * 1024 {
        big.extend_from_slice(format!("line {i:07} of a large message with bare LF ends\n").as_bytes());
        if i == 1000 {
            big.extend_from_slice(b"a NUL byte follows: \0 and the line goes on\n");
        }
        i += 1;
    }
    deliver_one(&mail, "alice", "1764000001.M1P1Q1.big", &big);
    let server = mail_server(&mail);
    let mut imap = alice(&server);
    imap.command("SELECT INBOX").ok("SELECT");
    let mut expected = crlf(&big);
    for b in &mut expected {
        if *b == 0 {
            *b = 0x80;
        }
    }
    let fetch = imap
        .command("UID FETCH 1 (RFC822.SIZE BODY.PEEK[])")
        .ok("UID FETCH");
    assert_eq!(fetch.untagged.len(), 1, "{}", fetch.completion);
    let response = &fetch.untagged[0];
    let head = String::from_utf8_lossy(&response[..200.min(response.len())]).into_owned();
    let size = number_after(&head, "RFC822.SIZE ");
    let literal = literal_of(response);
    assert_eq!(literal.len() as u64, size, "{head}");
    assert_eq!(literal.len(), expected.len(), "{head}");
    assert!(
        literal == expected,
        "the literal is the file with CRLF and NUL as 0x80"
    );
    assert!(response.ends_with(b")\r\n"));
    assert!(head.starts_with("* 1 FETCH (UID 1 RFC822.SIZE "), "{head}");

    let rfc822 = imap.command("UID FETCH 1 (RFC822)").ok("UID FETCH RFC822");
    let all: Vec<u8> = rfc822.untagged.concat();
    assert!(literal_of(&all) == expected, "RFC822 carries the same bytes");
    let text = String::from_utf8_lossy(&all);
    assert!(text.contains("FLAGS (\\Seen"), "RFC822 sets \\Seen and says so");
    let flags = imap.command("UID FETCH 1 (FLAGS)").ok("FETCH FLAGS");
    assert_eq!(lines(&flags), ["* 1 FETCH (UID 1 FLAGS (\\Seen))"]);

    // A 1 MiB APPEND comes back identical.
    let mut appended = b"From: a@example.org\r\nSubject: One MiB\r\n\r\n".to_vec();
    let mut j = 0u32;
    while appended.len() < 1024 * 1024 {
        appended.extend_from_slice(format!("appended line {j:07} é 8-bit\r\n").as_bytes());
        j += 1;
    }
    let append = imap
        .command_with_literal("APPEND INBOX", &appended)
        .ok("APPEND 1 MiB");
    let uid = appended_uid(&append);
    let back = imap
        .command(&format!("UID FETCH {uid} (BODY.PEEK[])"))
        .ok("UID FETCH the appended message");
    let back: Vec<u8> = back.untagged.concat();
    assert!(
        literal_of(&back) == appended,
        "the appended message comes back identical"
    );
    imap.logout();
}

// ---------------------------------------------------------------- 5

#[test]
fn quota_limits_append_and_copy() {
    let passwd = format!("{PASSWD}carol:{{PLAIN}}pw::::::userdb_quota_rule=*:storage=4k:messages=3\n");
    let mail = MailRoot::new("quota", &passwd, "carol", &[]);
    support::MailRoot::deliver(&mail, "alice", &[]);
    let server = mail_server(&mail);

    let (mut imap, _) = Imap::connect(server.imap);
    let login = imap.command("LOGIN carol pw").ok("LOGIN carol");
    assert!(
        login
            .completion
            .contains(" QUOTA QUOTA=RES-STORAGE QUOTA=RES-MESSAGE "),
        "{}",
        login.completion
    );
    let root = imap.command("GETQUOTAROOT INBOX").ok("GETQUOTAROOT");
    assert_eq!(
        lines(&root),
        [
            "* QUOTAROOT INBOX \"User quota\"",
            "* QUOTA \"User quota\" (STORAGE 0 4 MESSAGE 0 3)"
        ]
    );
    imap.command_with_literal("APPEND INBOX", b"a: b\r\n\r\nxy")
        .ok("APPEND 10 octets");
    let big = imap.command_with_literal("APPEND INBOX", &[b'x'; 5000]);
    assert_eq!(big.status, "NO", "{}", imap.transcript());
    assert!(big.completion.contains("NO [OVERQUOTA]"), "{}", big.completion);

    let mut three_k = b"a: b\r\n\r\n".to_vec();
    three_k.resize(3000, b'y');
    imap.command_with_literal("APPEND INBOX", &three_k)
        .ok("APPEND 3000 octets");
    let quota = imap.command("GETQUOTA \"User quota\"").ok("GETQUOTA");
    assert_eq!(
        lines(&quota),
        ["* QUOTA \"User quota\" (STORAGE 3 4 MESSAGE 2 3)"]
    );
    imap.command("SELECT INBOX").ok("SELECT");
    let copy = imap.command("COPY 2 INBOX");
    assert_eq!(copy.status, "NO", "{}", imap.transcript());
    assert!(copy.completion.contains("NO [OVERQUOTA]"), "{}", copy.completion);
    imap.command("COPY 1 INBOX").ok("COPY within the quota");
    let copy = imap.command("COPY 1 INBOX");
    assert!(
        copy.completion.contains("NO [OVERQUOTA]"),
        "a fourth message: {}",
        copy.completion
    );
    let set = imap.command("SETQUOTA \"User quota\" (STORAGE 100)");
    assert_eq!(set.status, "NO", "{}", set.completion);
    imap.logout();

    let mut alice = alice(&server);
    let root = alice.command("GETQUOTAROOT INBOX").ok("GETQUOTAROOT");
    assert_eq!(lines(&root), ["* QUOTAROOT INBOX"]);
    alice.logout();
}

/// A MULTIAPPEND is refused at the first message its quota cannot hold,
/// before that message is sent, not once the whole command has been
/// staged on disk: one command may carry 65,536 messages of up to
/// APPENDLIMIT each (nearly free to send under COMPRESS), which filled
/// the disk past any quota before the check at its end. Nothing of the
/// command is stored.
#[test]
fn a_multiappend_past_the_quota_is_refused_at_the_message_that_passes_it() {
    let passwd = format!("{PASSWD}carol:{{PLAIN}}pw::::::userdb_quota_rule=*:storage=4k\n");
    let mail = MailRoot::new("quota-multi", &passwd, "carol", &[]);
    let server = mail_server(&mail);
    let (mut imap, _) = Imap::connect(server.imap);
    imap.command("LOGIN carol pw").ok("LOGIN carol");
    let mut first = b"Subject: one\r\n\r\n".to_vec();
    first.resize(3000, b'x');
    let mut command = format!("m1 APPEND INBOX {{{}+}}\r\n", first.len()).into_bytes();
    command.extend_from_slice(&first);
    command.extend_from_slice(b" {1000000}\r\n");
    imap.send(&command);
    let answer = String::from_utf8_lossy(&imap.response()).into_owned();
    assert!(
        answer.starts_with("m1 NO [OVERQUOTA]"),
        "the second message was asked for: {answer}"
    );
    let status = imap.command("STATUS INBOX (MESSAGES)").ok("STATUS");
    assert!(status.text().contains("(MESSAGES 0)"), "{}", status.text());
    // One that fits is stored.
    imap.command_with_literal("APPEND INBOX", &first)
        .ok("APPEND within the quota");
    imap.logout();
}

/// A message IMAP expunges while a POP3 session lists it stays on disk
/// for that session until it ends: the quota counts it until then.
/// Counted out, an account could hold its quota once more per POP3
/// session left open (with `--lock none`, any number of them).
#[test]
fn content_kept_for_a_pop3_session_counts_against_the_quota() {
    let passwd = format!("{PASSWD}carol:{{PLAIN}}pw::::::userdb_quota_rule=*:storage=4k\n");
    let mut three_k = b"Subject: kept\r\n\r\n".to_vec();
    three_k.resize(2998, b'k');
    three_k.extend_from_slice(b"\r\n");
    let mail = MailRoot::new("quota-kept", &passwd, "carol", &[three_k.clone()]);
    let server = mail_server(&mail);

    let (mut pop, _) = support::RawPop3::connect(server.pop3);
    assert!(pop.login("carol", "pw").starts_with("+OK"));
    assert!(pop.command("STAT").starts_with("+OK 1 3000"));

    let (mut imap, _) = Imap::connect(server.imap);
    imap.command("LOGIN carol pw").ok("LOGIN carol");
    imap.command("SELECT INBOX").ok("SELECT");
    imap.command("STORE 1 +FLAGS.SILENT (\\Deleted)").ok("STORE");
    imap.command("EXPUNGE").ok("EXPUNGE");
    imap.command("CLOSE").ok("CLOSE");
    let quota = imap.command("GETQUOTA \"User quota\"").ok("GETQUOTA");
    assert_eq!(lines(&quota), ["* QUOTA \"User quota\" (STORAGE 3 4)"]);
    let append = imap.command_with_literal("APPEND INBOX", &three_k);
    assert!(
        append.completion.contains("NO [OVERQUOTA]"),
        "{}",
        imap.transcript()
    );

    // The POP3 session still reads what it listed, then ends.
    assert!(pop.command("RETR 1").starts_with("+OK"));
    assert!(pop.body() == three_k, "RETR gives the kept message whole");
    assert!(pop.command("QUIT").starts_with("+OK"));
    assert!(pop.closed_within(Duration::from_secs(10)));

    let quota = imap.command("GETQUOTA \"User quota\"").ok("GETQUOTA");
    assert_eq!(lines(&quota), ["* QUOTA \"User quota\" (STORAGE 0 4)"]);
    imap.command_with_literal("APPEND INBOX", &three_k)
        .ok("APPEND once the POP3 session let go");
    imap.logout();
}

// ---------------------------------------------------------------- 6

#[test]
fn catenate_builds_a_message_from_urls_and_text() {
    let mail = alice_root("catenate");
    let server = mail_server(&mail);
    let mut imap = alice(&server);
    imap.command("CREATE Drafts").ok("CREATE Drafts");
    let select = imap.command("SELECT INBOX").ok("SELECT");
    let v = select.code_number("UIDVALIDITY").expect("UIDVALIDITY");
    let command = format!(
        "APPEND Drafts CATENATE (URL \"/INBOX;UIDVALIDITY={v}/;UID=1/;SECTION=HEADER\" \
         TEXT {{15+}}\r\nNew body text\r\n UTF8 (~{{5+}}\r\n\u{e9}t\u{e9}) \
         URL \";UID=1/;SECTION=TEXT/;PARTIAL=0.10\")"
    );
    let append = imap.command_raw(command.as_bytes()).ok("APPEND CATENATE");
    let uid = appended_uid(&append);

    let first = &support::sample_messages()[0];
    let mut expected = header_part(first);
    expected.extend_from_slice("New body text\r\n\u{e9}t\u{e9}".as_bytes());
    let text = crlf(first)[header_part(first).len()..].to_vec();
    expected.extend_from_slice(&text[..10]);
    expected.extend_from_slice(b"\r\n");
    imap.command("SELECT Drafts").ok("SELECT Drafts");
    let fetch = imap
        .command(&format!("UID FETCH {uid} (BODY.PEEK[])"))
        .ok("UID FETCH");
    let stored = literal_of(&fetch.untagged.concat());
    assert_eq!(
        String::from_utf8_lossy(&stored),
        String::from_utf8_lossy(&expected)
    );

    // A whole message, and a partial range of it.
    imap.command("SELECT INBOX").ok("SELECT");
    let command =
        format!("APPEND Drafts CATENATE (URL \"/INBOX;UIDVALIDITY={v}/;UID=1\" URL \";UID=1/;PARTIAL=5.7\")");
    let append = imap
        .command_raw(command.as_bytes())
        .ok("APPEND CATENATE of a whole message");
    let whole_uid = appended_uid(&append);
    let mut expected = crlf(first);
    expected.extend_from_slice(&crlf(first)[5..12]);
    // As above, the message gets a last line break.
    expected.extend_from_slice(b"\r\n");
    imap.command("SELECT Drafts").ok("SELECT Drafts");
    let fetch = imap
        .command(&format!("UID FETCH {whole_uid} (BODY.PEEK[])"))
        .ok("UID FETCH");
    assert_eq!(literal_of(&fetch.untagged.concat()), expected);

    imap.command("SELECT INBOX").ok("SELECT");
    let url = "/INBOX;UIDVALIDITY=1/;UID=1/;SECTION=HEADER";
    let wrong = imap.command(&format!("APPEND Drafts CATENATE (URL \"{url}\")"));
    assert_eq!(wrong.status, "NO", "{}", wrong.completion);
    assert!(
        wrong.completion.contains(&format!("NO [BADURL {url}]")),
        "{}",
        wrong.completion
    );
    // The same URL after a TEXT part: the command streams, and its text
    // is dropped.
    let streamed =
        imap.command_raw(format!("APPEND Drafts CATENATE (TEXT {{5+}}\r\nhello URL \"{url}\")").as_bytes());
    assert!(
        streamed.completion.contains(&format!("NO [BADURL {url}]")),
        "{}",
        streamed.completion
    );
    let drafts = imap.command("STATUS Drafts (MESSAGES)").ok("STATUS");
    assert!(
        String::from_utf8_lossy(&drafts.untagged.concat()).contains("(MESSAGES 2)"),
        "{drafts:?}"
    );
    let url = format!("imap://localhost/INBOX;UIDVALIDITY={v}/;UID=1");
    let remote = imap.command(&format!("APPEND Drafts CATENATE (URL \"{url}\")"));
    assert_eq!(remote.status, "NO", "{}", remote.completion);
    assert!(
        remote.completion.contains(&format!("NO [BADURL {url}]")),
        "{}",
        remote.completion
    );
    imap.logout();
}

// ---------------------------------------------------------------- 7

fn thread_messages() -> Vec<Vec<u8>> {
    let message = |subject: &str, date: &str, from: &str, id: &str, refs: &str| {
        let refs = if refs.is_empty() {
            String::new()
        } else {
            let last = refs.rsplit(' ').next().unwrap_or(refs);
            format!("In-Reply-To: {last}\nReferences: {refs}\n")
        };
        format!(
            "From: {from}\nTo: alice@example.org\nSubject: {subject}\nDate: {date}\n\
             Message-ID: {id}\n{refs}\nBody of {id}.\n"
        )
        .into_bytes()
    };
    vec![
        message(
            "Re: beta",
            "Sat, 03 Jan 2026 10:00:00 +0000",
            "Zed <zed@example.org>",
            "<a@t>",
            "",
        ),
        message(
            "alpha",
            "Thu, 01 Jan 2026 10:00:00 +0000",
            "Bob <bob@example.org>",
            "<b@t>",
            "",
        ),
        message(
            "Gamma",
            "Fri, 02 Jan 2026 10:00:00 +0000",
            "alice@example.org",
            "<c@t>",
            "",
        ),
        message(
            "Re: alpha",
            "Sun, 04 Jan 2026 10:00:00 +0000",
            "Carl <carl@example.org>",
            "<d@t>",
            "<b@t>",
        ),
        message(
            "Re: alpha",
            "Mon, 05 Jan 2026 10:00:00 +0000",
            "amy <amy@example.org>",
            "<e@t>",
            "<b@t> <d@t>",
        ),
    ]
}

/// The numbers of a sequence set, in its order.
fn expand(set: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for part in set.split(',') {
        match part.split_once(':') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (a.parse().expect("n"), b.parse().expect("n"));
                if a <= b {
                    out.extend(a..=b);
                } else {
                    out.extend((b..=a).rev());
                }
            }
            None => out.push(part.parse().expect("n")),
        }
    }
    out
}

#[test]
fn sort_esort_and_thread() {
    let mail = MailRoot::new("sort", PASSWD, "alice", &thread_messages());
    let server = mail_server(&mail);
    let mut imap = alice(&server);
    imap.command("SELECT INBOX").ok("SELECT");
    let uids = imap.command("FETCH 1:* (UID)").ok("FETCH UID");
    assert_eq!(
        lines(&uids),
        (1..=5)
            .map(|i| format!("* {i} FETCH (UID {i})"))
            .collect::<Vec<_>>()
    );

    let subject = imap.command("SORT (SUBJECT) UTF-8 ALL").ok("SORT SUBJECT");
    assert_eq!(lines(&subject), ["* SORT 2 4 5 1 3"]);
    let date = imap
        .command("UID SORT (REVERSE DATE) UTF-8 ALL")
        .ok("UID SORT REVERSE DATE");
    assert_eq!(lines(&date), ["* SORT 5 4 1 3 2"]);
    let from = imap
        .command("SORT (DISPLAYFROM) UTF-8 ALL")
        .ok("SORT DISPLAYFROM");
    assert_eq!(lines(&from), ["* SORT 3 5 2 4 1"]);

    let esort = imap
        .command("SORT RETURN (MIN MAX COUNT ALL) (SUBJECT) UTF-8 ALL")
        .ok("ESORT");
    let got = lines(&esort);
    assert_eq!(got.len(), 1, "{got:?}");
    let tag = esort.completion.split(' ').next().expect("tag");
    let prefix = format!("* ESEARCH (TAG \"{tag}\") ");
    assert!(got[0].starts_with(&prefix), "{got:?}");
    let words: Vec<&str> = got[0][prefix.len()..].split(' ').collect();
    let mut items = BTreeMap::new();
    for pair in words.chunks(2) {
        items.insert(pair[0], pair[1]);
    }
    assert_eq!(items.len(), 4, "{got:?}");
    assert_eq!(
        expand(items["ALL"]),
        [2, 4, 5, 1, 3],
        "ALL in sort order: {got:?}"
    );
    assert_eq!(items["COUNT"], "5", "{got:?}");
    // RFC 5267 section 3.2: for SORT, MIN and MAX are the first and the
    // last message in the sort order.
    assert_eq!(items["MIN"], "2", "{got:?}");
    assert_eq!(items["MAX"], "3", "{got:?}");

    let references = imap
        .command("THREAD REFERENCES UTF-8 ALL")
        .ok("THREAD REFERENCES");
    assert_eq!(lines(&references), ["* THREAD (2 4 5)(3)(1)"]);
    let ordered = imap
        .command("THREAD ORDEREDSUBJECT UTF-8 ALL")
        .ok("THREAD ORDEREDSUBJECT");
    assert_eq!(lines(&ordered), ["* THREAD (2 (4)(5))(3)(1)"]);
    let refs = imap.command("THREAD REFS UTF-8 ALL").ok("THREAD REFS");
    assert_eq!(lines(&refs), ["* THREAD (3)(1)(2 4 5)"]);

    let bad = imap.command("SORT (SIZE) ISO-8859-1 ALL");
    assert_eq!(bad.status, "NO", "{}", bad.completion);
    assert!(bad.completion.contains("NO [BADCHARSET"), "{}", bad.completion);
    imap.logout();
}

// ---------------------------------------------------------------- 8

#[test]
fn objectid_mailboxid_emailid_threadid() {
    let mail = alice_root("objectid");
    let server = mail_server(&mail);
    let mut imap = alice(&server);
    let create = imap.command("CREATE Foo").ok("CREATE");
    let foo_id = code_text(&create.completion, "MAILBOXID")
        .unwrap_or_else(|| panic!("[MAILBOXID (...)]: {}", create.completion))
        .to_owned();
    assert!(foo_id.starts_with('(') && foo_id.ends_with(')'), "{foo_id}");
    let status = imap.command("STATUS INBOX (MAILBOXID)").ok("STATUS");
    let got = lines(&status);
    assert_eq!(got.len(), 1, "{got:?}");
    let inbox_id = got[0]
        .strip_prefix("* STATUS INBOX (MAILBOXID ")
        .and_then(|r| r.strip_suffix(')'))
        .unwrap_or_else(|| panic!("{got:?}"))
        .to_owned();
    assert_ne!(inbox_id, foo_id);
    let select = imap.command("SELECT INBOX").ok("SELECT");
    assert!(
        lines(&select)
            .iter()
            .any(|l| l.starts_with(&format!("* OK [MAILBOXID {inbox_id}]"))),
        "{}",
        select.text()
    );
    imap.command("RENAME Foo Bar").ok("RENAME");
    let renamed = imap.command("STATUS Bar (MAILBOXID)").ok("STATUS Bar");
    assert_eq!(lines(&renamed), [format!("* STATUS Bar (MAILBOXID {foo_id})")]);

    let ids = imap.command("FETCH 1 (EMAILID THREADID)").ok("FETCH EMAILID");
    let got = lines(&ids);
    assert_eq!(got.len(), 1, "{got:?}");
    let email_id = got[0]
        .strip_prefix("* 1 FETCH (EMAILID (")
        .and_then(|r| r.strip_suffix(") THREADID NIL)"))
        .unwrap_or_else(|| panic!("{got:?}"))
        .to_owned();
    assert!(email_id.starts_with('E'), "{email_id}");
    let other = imap.command("FETCH 2 (EMAILID)").ok("FETCH EMAILID");
    assert!(!lines(&other)[0].contains(&email_id), "{:?}", lines(&other));

    imap.command("COPY 1 Bar").ok("COPY");
    let search = imap
        .command(&format!("SEARCH EMAILID {email_id}"))
        .ok("SEARCH EMAILID");
    assert_eq!(lines(&search), ["* SEARCH 1"]);
    imap.command("SELECT Bar").ok("SELECT Bar");
    let copy = imap.command("FETCH 1 (EMAILID)").ok("FETCH EMAILID of the copy");
    assert_eq!(lines(&copy), [format!("* 1 FETCH (EMAILID ({email_id}))")]);
    let search = imap
        .command(&format!("SEARCH EMAILID {email_id}"))
        .ok("SEARCH EMAILID");
    assert_eq!(lines(&search), ["* SEARCH 1"]);
    let thread = imap.command("SEARCH THREADID T1").ok("SEARCH THREADID");
    assert_eq!(lines(&thread), ["* SEARCH"]);
    imap.logout();
}

// ---------------------------------------------------------------- 9

fn preview_server(tag: &str) -> (MailRoot, MailServer) {
    let alternative = b"From: a@example.org\nSubject: Alternative\nMIME-Version: 1.0\n\
Content-Type: multipart/alternative; boundary=\"b1\"\n\n--b1\n\
Content-Type: text/plain; charset=ISO-8859-1\nContent-Transfer-Encoding: quoted-printable\n\n\
Gr=FC=DFe aus\n   K=F6ln,\t  viele=20\n\n  Gr=FC=DFe\n--b1\n\
Content-Type: text/html; charset=utf-8\n\n<p>HTML version</p>\n--b1--\n"
        .to_vec();
    let html = b"From: a@example.org\nSubject: HTML\nMIME-Version: 1.0\n\
Content-Type: text/html; charset=us-ascii\n\n\
<html><head><title>T</title></head><body><p>Hello <b>World</b></p>\n<p>Second   para</p></body></html>\n"
        .to_vec();
    let mail = MailRoot::new(tag, PASSWD, "alice", &[alternative, html]);
    let server = mail_server(&mail);
    (mail, server)
}

#[test]
fn preview_of_alternative_quoted_printable_latin1() {
    let (_mail, server) = preview_server("preview-alt");
    let mut imap = alice(&server);
    imap.command("SELECT INBOX").ok("SELECT");
    let text = "Grüße aus Köln, viele Grüße";
    let wanted = format!("* 1 FETCH (PREVIEW {{{}}}\r\n{text})\r\n", text.len()).into_bytes();
    for command in ["FETCH 1 (PREVIEW)", "FETCH 1 (PREVIEW (LAZY))"] {
        let preview = imap.command(command).ok(command);
        assert_eq!(
            preview.untagged,
            std::slice::from_ref(&wanted),
            "{command}: {}",
            preview.text()
        );
    }
    imap.logout();
}

#[test]
fn preview_of_html_only_is_its_body_text() {
    let (_mail, server) = preview_server("preview-html");
    let mut imap = alice(&server);
    imap.command("SELECT INBOX").ok("SELECT");
    // The text a reader sees: no markup, and nothing of <head> (the
    // <title> is not body text).
    for command in ["FETCH 2 (PREVIEW)", "FETCH 2 (PREVIEW (LAZY))"] {
        let preview = imap.command(command).ok(command);
        assert_eq!(
            lines(&preview),
            ["* 2 FETCH (PREVIEW \"Hello World Second para\")"],
            "{command}"
        );
    }
    imap.logout();
}

// ---------------------------------------------------------------- 10

#[test]
fn within_younger_and_older() {
    let mail = MailRoot::new("within", PASSWD, "alice", &[]);
    let server = mail_server(&mail);
    let mut imap = alice(&server);
    let message = b"From: a@example.org\r\nSubject: dated\r\n\r\nbody\r\n";
    imap.command_with_literal("APPEND INBOX \"01-Jan-2020 00:00:00 +0000\"", message)
        .ok("APPEND with an old date");
    imap.command_with_literal("APPEND INBOX", message)
        .ok("APPEND now");
    imap.command("SELECT INBOX").ok("SELECT");
    assert_eq!(
        lines(&imap.command("SEARCH YOUNGER 3600").ok("YOUNGER")),
        ["* SEARCH 2"]
    );
    assert_eq!(
        lines(&imap.command("SEARCH OLDER 3600").ok("OLDER")),
        ["* SEARCH 1"]
    );
    assert_eq!(
        lines(&imap.command("UID SEARCH OLDER 1").ok("OLDER 1")),
        ["* SEARCH 1"]
    );
    imap.logout();
}

/// ENVELOPE, BODY and BODYSTRUCTURE come from the server's cache once a
/// message was analysed: the answers of a second session, and of a FETCH
/// that also reads content (and so does not use the cache), are the same
/// as the first's, for every sample message.
#[test]
fn structures_from_the_cache_equal_those_read_from_the_message() {
    let mail = alice_root("structure-cache");
    let server = mail_server(&mail);
    let fetch = |items: &str| {
        let mut imap = alice(&server);
        imap.command("EXAMINE INBOX").ok("EXAMINE");
        let answer = lines(&imap.command(&format!("FETCH 1:* ({items})")).ok("FETCH"));
        imap.logout();
        answer
    };
    let first = fetch("ENVELOPE BODYSTRUCTURE BODY");
    assert!(
        first.len() >= 3 && first.iter().all(|l| l.contains("ENVELOPE (")),
        "{first:?}"
    );
    assert_eq!(fetch("ENVELOPE BODYSTRUCTURE BODY"), first, "from the cache");
    // With a section the content is read, and the structures analysed anew.
    let read: Vec<String> = fetch("ENVELOPE BODYSTRUCTURE BODY BODY.PEEK[HEADER.FIELDS (X-NONE)]")
        .into_iter()
        .map(|l| l[..l.find(" BODY[HEADER.FIELDS").expect("the section")].to_owned() + ")")
        .collect();
    assert_eq!(read, first);
}

/// The UID of the message an APPEND answered with `[APPENDUID v uid]`.
fn appended_uid(appended: &Reply) -> String {
    code_text(&appended.completion, "APPENDUID")
        .and_then(|t| t.split(' ').nth(1))
        .unwrap_or_else(|| panic!("APPENDUID: {}", appended.completion))
        .to_owned()
}

/// Waits for unsolicited responses until one contains each of `wanted`
/// (in any order), and returns them all as text.
fn until_heard(imap: &mut Imap, wanted: &[&str]) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut heard = String::new();
    while !wanted.iter().all(|w| heard.contains(w)) {
        let left = deadline.saturating_duration_since(Instant::now());
        match imap.response_within(left) {
            Some(r) => heard.push_str(&String::from_utf8_lossy(&r)),
            None => panic!("waited 10 s for {wanted:?}; heard:\n{heard}"),
        }
    }
    heard
}

/// NOTIFY's news of a new message carries its MODSEQ to a
/// CONDSTORE-aware client, as every untagged FETCH must once CONDSTORE is
/// on (RFC 7162 section 3.1); before, it was left out.
#[test]
fn notify_news_carries_modseq_under_condstore() {
    let mail = alice_root("notify-modseq");
    let server = mail_server(&mail);
    let mut watcher = alice(&server);
    watcher.command("ENABLE CONDSTORE").ok("ENABLE");
    let exists = watcher
        .command("SELECT INBOX")
        .ok("SELECT")
        .count("EXISTS")
        .expect("EXISTS");
    watcher
        .command("NOTIFY SET (selected (MessageNew (UID FLAGS) MessageExpunge))")
        .ok("NOTIFY");
    let mut other = alice(&server);
    let appended = other
        .command_with_literal("APPEND INBOX", b"Subject: new\r\n\r\nnew\r\n")
        .ok("APPEND");
    let uid = appended_uid(&appended);
    let n = exists + 1;
    let heard = until_heard(&mut watcher, &[&format!("* {n} FETCH (UID {uid} ")]);
    let fetch = heard
        .lines()
        .find(|l| l.starts_with(&format!("* {n} FETCH")))
        .unwrap_or_default()
        .to_owned();
    let now = lines(&watcher.command(&format!("FETCH {n} (MODSEQ)")).ok("FETCH MODSEQ"));
    let modseq = number_after(&now[0], "MODSEQ (");
    assert!(fetch.contains(&format!("MODSEQ ({modseq})")), "{fetch}");
    watcher.logout();
    other.logout();
}

/// NOTIFY's MessageNew items that read a body without PEEK set `\Seen`,
/// as a FETCH of them does (RFC 5465 section 5.2 calls them items that
/// "implicitly set the \seen flag"): once the content is sent, the
/// watcher hears `FETCH (FLAGS (... \Seen ...))` without sending a
/// command (with UID and MODSEQ under CONDSTORE), and another session sees
/// the message read. With BODY.PEEK[], in a mailbox opened with EXAMINE,
/// or when the section was left out (a large message's section above 256
/// KiB is not sent in a notification), nothing is set. Before, such items
/// were read as PEEK: the client took the message as read, the server did
/// not.
#[test]
fn notify_body_without_peek_sets_seen_once_sent() {
    let mail = alice_root("notify-seen");
    let server = mail_server(&mail);
    let mut other = alice(&server);
    let large_text = "a line of a large message\r\n".repeat(16 << 10);
    for (open, condstore, item, large, sets_seen) in [
        ("SELECT", false, "BODY[TEXT]", false, true),
        ("SELECT", true, "BODY[TEXT]", false, true),
        ("SELECT", false, "BODY.PEEK[TEXT]", false, false),
        ("EXAMINE", false, "BODY[TEXT]", false, false),
        ("SELECT", false, "BODY[TEXT]", true, false),
    ] {
        let case = format!("{open} with {item}, CONDSTORE {condstore}, large {large}");
        let mut watcher = alice(&server);
        if condstore {
            watcher.command("ENABLE CONDSTORE").ok("ENABLE");
        }
        let exists = watcher
            .command(&format!("{open} INBOX"))
            .ok(open)
            .count("EXISTS")
            .expect("EXISTS");
        watcher
            .command(&format!(
                "NOTIFY SET (selected (MessageNew (UID {item}) MessageExpunge FlagChange))"
            ))
            .ok("NOTIFY");
        let body = if large {
            large_text.clone()
        } else {
            format!("{case}\r\n")
        };
        let appended = other
            .command_with_literal(
                "APPEND INBOX",
                format!("Subject: {case}\r\n\r\n{body}").as_bytes(),
            )
            .ok("APPEND");
        let uid = appended_uid(&appended);
        let n = exists + 1;
        let news = format!("* {n} FETCH (UID {uid}");
        let mut wanted = vec![news.as_str()];
        if !large {
            wanted.push(&case);
        }
        if sets_seen {
            // Heard without a command from the watcher.
            wanted.push("\\Seen");
        }
        let mut heard = until_heard(&mut watcher, &wanted);
        heard.push_str(&watcher.command("NOOP").ok("NOOP").text());
        let flags_heard: Vec<&str> = heard
            .lines()
            .filter(|l| l.starts_with(&format!("* {n} FETCH (")) && l.contains("FLAGS ("))
            .collect();
        other.command("EXAMINE INBOX").ok("EXAMINE");
        let now = lines(
            &other
                .command(&format!("UID FETCH {uid} FLAGS"))
                .ok("UID FETCH FLAGS"),
        );
        assert_eq!(now.len(), 1, "{now:?}");
        if sets_seen {
            assert!(
                flags_heard.len() == 1 && flags_heard[0].contains("\\Seen"),
                "{case}: the watcher heard:\n{heard}"
            );
            if condstore {
                assert!(
                    flags_heard[0].contains(&format!("UID {uid}")) && flags_heard[0].contains("MODSEQ ("),
                    "{case}: {}",
                    flags_heard[0]
                );
            }
            assert!(now[0].contains("\\Seen"), "{case}: {now:?}");
        } else {
            assert!(flags_heard.is_empty(), "{case}: the watcher heard:\n{heard}");
            assert!(!now[0].contains("\\Seen"), "{case}: {now:?}");
        }
        if large {
            assert!(!heard.contains("BODY[TEXT]"), "{case}: the section was sent");
        }
        watcher.logout();
    }
    other.logout();
}

/// NOTIFY (RFC 5465) without a command from the client: a new message in
/// the selected mailbox comes as EXISTS then FETCH with MessageNew's
/// attributes, a flag change as FETCH FLAGS, an expunge as EXPUNGE; news
/// of other mailboxes as STATUS, and a new mailbox as LIST.
#[test]
fn notify_reports_changes_as_they_happen() {
    let mail = alice_root("notify");
    let server = mail_server(&mail);
    let mut watcher = alice(&server);
    watcher.command("CREATE Sent").ok("CREATE Sent");
    let exists = watcher
        .command("SELECT INBOX")
        .ok("SELECT")
        .count("EXISTS")
        .expect("EXISTS");
    watcher
        .command(
            "NOTIFY SET (selected (MessageNew (UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)]) \
             MessageExpunge FlagChange)) (personal (MessageNew MessageExpunge MailboxName))",
        )
        .ok("NOTIFY");
    let mut other = alice(&server);
    let message = b"From: b@example.org\r\nSubject: notified\r\n\r\nhello\r\n";
    let appended = other
        .command_with_literal("APPEND INBOX (\\Flagged)", message)
        .ok("APPEND");
    let uid = appended_uid(&appended);
    let n = exists + 1;
    let heard = until_heard(
        &mut watcher,
        &[&format!("* {n} EXISTS"), &format!("* {n} FETCH (UID {uid} ")],
    );
    let fetch = heard
        .lines()
        .skip_while(|l| !l.starts_with(&format!("* {n} FETCH")))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(fetch.contains("FLAGS (\\Flagged"), "{fetch}");
    assert!(
        fetch.contains("BODY[HEADER.FIELDS (SUBJECT)]") && fetch.contains("Subject: notified"),
        "{fetch}"
    );
    assert!(
        heard.find(" EXISTS").unwrap() < heard.find(" FETCH").unwrap(),
        "{heard}"
    );
    // A large message is read from its file for the notification.
    let mut large = b"From: b@example.org\r\nSubject: a large one\r\n\r\n".to_vec();
    while large.len() < 300 << 10 {
        large.extend_from_slice(b"a line of the large message\r\n");
    }
    let appended = other
        .command_with_literal("APPEND INBOX", &large)
        .ok("APPEND a large message");
    let large_uid = appended_uid(&appended);
    let heard = until_heard(&mut watcher, &[&format!("* {} FETCH (UID {large_uid} ", n + 1)]);
    assert!(heard.contains("Subject: a large one"), "{heard}");

    other.command("SELECT INBOX").ok("SELECT");
    other
        .command(&format!("UID STORE {uid} +FLAGS (\\Seen)"))
        .ok("STORE");
    until_heard(&mut watcher, &[&format!("* {n} FETCH (FLAGS (")]);
    other
        .command_with_literal("APPEND Sent", message)
        .ok("APPEND to Sent");
    until_heard(&mut watcher, &["* STATUS Sent (MESSAGES 1"]);
    other.command("CREATE Projects").ok("CREATE");
    until_heard(&mut watcher, &["* LIST ", "Projects"]);
    other
        .command(&format!("UID STORE {uid} +FLAGS (\\Deleted)"))
        .ok("STORE");
    other.command("EXPUNGE").ok("EXPUNGE");
    until_heard(&mut watcher, &[&format!("* {n} EXPUNGE")]);
    other.logout();
    watcher.logout();
}

/// Today's date in UTC as IMAP writes a date (`4-Dec-2026`).
fn today_utc() -> String {
    let out = std::process::Command::new("date")
        .args(["-u", "+%-d-%b-%Y"])
        .output()
        .expect("date");
    String::from_utf8(out.stdout).expect("ASCII").trim().to_owned()
}

/// SAVEDATE (RFC 8514): the save date is when the message came into this
/// mailbox (its APPEND or COPY, or its delivery by another program), not
/// its INTERNALDATE; FETCH gives it, the SAVED* keys search it, and it
/// survives a restart of the server.
#[test]
fn savedate_is_when_the_message_came_into_the_mailbox() {
    let mail = MailRoot::new("savedate", PASSWD, "alice", &[]);
    let server = mail_server(&mail);
    let before = today_utc();
    let mut imap = alice(&server);
    let caps = imap.command("CAPABILITY").ok("CAPABILITY").text();
    assert!(caps.contains(" SAVEDATE"), "{caps}");
    let message = b"From: a@example.org\r\nSubject: old\r\n\r\nbody\r\n";
    imap.command_with_literal("APPEND INBOX \"01-Jan-2020 00:00:00 +0000\"", message)
        .ok("APPEND with an old date");
    imap.command("CREATE Archive").ok("CREATE");
    imap.command("SELECT INBOX").ok("SELECT");
    imap.command("COPY 1 Archive").ok("COPY");
    imap.logout();
    // Delivered by another program.
    mail.deliver("alice", &[b"Subject: delivered\r\n\r\nx\r\n".to_vec()]);

    let check = |imap: &mut Imap, today: &[String]| {
        for mailbox in ["INBOX", "Archive"] {
            imap.command(&format!("SELECT {mailbox}")).ok("SELECT");
            let fetched = lines(&imap.command("FETCH 1:* (SAVEDATE INTERNALDATE)").ok("FETCH"));
            assert!(!fetched.is_empty());
            for line in &fetched {
                assert!(line.contains("INTERNALDATE \""), "{line}");
                // `"dd-Mon-yyyy hh:mm:ss +zzzz"`, the day padded.
                let saved = line
                    .split("SAVEDATE \"")
                    .nth(1)
                    .and_then(|rest| rest.trim_start_matches([' ', '0']).split(' ').next())
                    .unwrap_or_else(|| panic!("no SAVEDATE: {line}"));
                assert!(today.iter().any(|t| t == saved), "{mailbox}: {line}");
            }
            let n = fetched.len();
            let all: Vec<String> = (1..=n).map(|i| i.to_string()).collect();
            let expect = format!("* SEARCH {}", all.join(" "));
            let on = today.iter().any(|t| {
                lines(&imap.command(&format!("SEARCH SAVEDON {t}")).ok("SAVEDON")) == [expect.clone()]
            });
            assert!(on, "{mailbox}: SAVEDON today");
            assert_eq!(
                lines(&imap.command("SEARCH SAVEDBEFORE 1-Jan-2021").ok("SAVEDBEFORE")),
                ["* SEARCH"]
            );
            assert_eq!(
                lines(&imap.command("SEARCH SAVEDSINCE 1-Jan-2021").ok("SAVEDSINCE")),
                std::slice::from_ref(&expect)
            );
            assert_eq!(
                lines(&imap.command("SEARCH SAVEDATESUPPORTED").ok("SAVEDATESUPPORTED")),
                std::slice::from_ref(&expect)
            );
            // The INTERNALDATE keys still see 2020 for the appended one.
            let old = lines(&imap.command("SEARCH BEFORE 1-Jan-2021").ok("BEFORE"));
            assert_eq!(old, ["* SEARCH 1"], "{mailbox}");
        }
    };
    let mut imap = alice(&server);
    check(&mut imap, &[before.clone(), today_utc()]);
    imap.logout();
    drop(server);
    let server = mail_server(&mail);
    let mut imap = alice(&server);
    check(&mut imap, &[before, today_utc()]);
    imap.logout();
}

// ---------------------------------------------------------------- 11

/// The mailbox name of a LIST line, unquoted.
fn list_name(line: &str) -> String {
    let line = line.trim_end();
    let name = if let Some(inner) = line.strip_suffix('"') {
        &inner[inner.rfind('"').expect("opening quote") + 1..]
    } else {
        line.rsplit(' ').next().expect("a name")
    };
    name.to_owned()
}

#[test]
fn utf8_accept_names_and_append() {
    let mail = alice_root("utf8");
    let server = mail_server(&mail);
    let mut imap = alice(&server);
    assert_eq!(
        lines(&imap.command("ENABLE UTF8=ACCEPT").ok("ENABLE")),
        ["* ENABLED UTF8=ACCEPT"]
    );
    imap.command_raw("CREATE \"Entwürfe/Ölmühle\"".as_bytes())
        .ok("CREATE a UTF-8 name");
    let list = imap.command("LIST \"\" *").ok("LIST");
    let names: Vec<String> = list
        .lines_starting("LIST ")
        .iter()
        .map(|l| list_name(l))
        .collect();
    assert!(names.contains(&"Entwürfe".to_owned()), "{names:?}");
    assert!(names.contains(&"Entwürfe/Ölmühle".to_owned()), "{names:?}");

    let message = "From: Jörg <jörg@example.org>\r\nSubject: Grüße\r\n\r\nHallo Ölmühle\r\n";
    let mut command = format!("APPEND INBOX UTF8 (~{{{}+}}\r\n", message.len()).into_bytes();
    command.extend_from_slice(message.as_bytes());
    command.push(b')');
    let append = imap.command_raw(&command).ok("APPEND UTF8");
    let uid = appended_uid(&append);
    imap.command("SELECT INBOX").ok("SELECT");
    let back = imap
        .command(&format!("UID FETCH {uid} (BODY.PEEK[])"))
        .ok("FETCH");
    assert_eq!(literal_of(&back.untagged.concat()), message.as_bytes());
    imap.logout();

    let mut plain = alice(&server);
    let list = plain.command("LIST \"\" *").ok("LIST");
    let names: Vec<String> = list
        .lines_starting("LIST ")
        .iter()
        .map(|l| list_name(l))
        .collect();
    assert!(names.contains(&"Entw&APw-rfe".to_owned()), "{names:?}");
    assert!(
        names.contains(&"Entw&APw-rfe/&ANY-lm&APw-hle".to_owned()),
        "{names:?}"
    );
    plain.logout();
}

// ---------------------------------------------------------------- 12

#[test]
fn unauthenticate_then_login_as_another_user() {
    let mail = alice_root("unauth");
    let bob_message =
        b"From: b@example.org\nSubject: for bob only\nMessage-ID: <bob@t>\n\nBob's secret.\n".to_vec();
    mail.deliver("bob", std::slice::from_ref(&bob_message));
    let server = mail_server(&mail);
    let mut imap = alice(&server);
    let select = imap.command("SELECT INBOX").ok("SELECT");
    assert_eq!(select.count("EXISTS"), Some(6));
    imap.command("UNAUTHENTICATE").ok("UNAUTHENTICATE");
    let refused = imap.command("SELECT INBOX");
    assert_status(&refused, &["BAD", "NO"], "SELECT when not authenticated");
    imap.command("LOGIN bob builder")
        .ok("LOGIN bob after UNAUTHENTICATE");
    let select = imap.command("SELECT INBOX").ok("SELECT bob's INBOX");
    assert_eq!(select.count("EXISTS"), Some(1));
    let fetch = imap.command("FETCH 1:* (BODY.PEEK[])").ok("FETCH");
    assert_eq!(fetch.untagged.len(), 1);
    assert_eq!(literal_of(&fetch.untagged[0]), crlf(&bob_message));
    imap.logout();
}

// ---------------------------------------------------------------- 13

/// Every path under `dir` (relative), with file contents.
fn tree(dir: &Path) -> BTreeMap<PathBuf, Option<Vec<u8>>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(at) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&at) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let relative = path.strip_prefix(dir).expect("under dir").to_path_buf();
            if path.is_dir() {
                out.insert(relative, None);
                stack.push(path);
            } else {
                out.insert(relative, std::fs::read(&path).ok());
            }
        }
    }
    out
}

/// What one session did with hostile mailbox names.
struct HostileRun {
    mail: MailRoot,
    /// The commands the server accepted (OK), with its completion.
    accepted: Vec<String>,
    /// The whole session.
    transcript: String,
    bob_before: BTreeMap<PathBuf, Option<Vec<u8>>>,
    top_before: Vec<PathBuf>,
}

/// With UTF8=ACCEPT: dots and slashes of other scripts, which are
/// letters of a name, not its structure. They may be taken as names, and
/// must stay inside alice's Maildir.
const LETTER_NAMES: [&str; 3] = ["\u{ff0e}\u{ff0e}", "\u{2215}etc", "a\u{2024}\u{2024}/x"];

/// bob's one message, which alice must never see.
const BOB_SECRET: &str = "bob-only-content-7f3a9c";

/// Runs CREATE, SELECT, EXAMINE, STATUS, RENAME, SUBSCRIBE, DELETE,
/// APPEND, LIST, LSUB, COPY and MOVE with hostile names as alice, on a
/// mail root where bob has mail; with `utf8`, after `ENABLE UTF8=ACCEPT`
/// (names are UTF-8 then, and modified UTF-7 is not decoded).
fn hostile_names_session(tag: &str, utf8: bool) -> HostileRun {
    let mail = alice_root(tag);
    mail.deliver(
        "bob",
        &[format!("From: b@example.org\nSubject: bob's\n\n{BOB_SECRET}\n").into_bytes()],
    );
    let bob_before = tree(&mail.root.join("bob"));
    let top_before: Vec<_> = tree(mail.dir.path())
        .into_keys()
        .filter(|p| p.components().count() == 1)
        .collect();
    let server = mail_server(&mail);
    let mut imap = alice(&server);
    if utf8 {
        imap.command("ENABLE UTF8=ACCEPT").ok("ENABLE UTF8=ACCEPT");
    }
    imap.command("CREATE Legit").ok("CREATE Legit");

    let long = "a".repeat(5000);
    let deep = vec!["d"; 200].join("/");
    let quoted = [
        "..",
        "../bob",
        "a/../../x",
        "/etc",
        "%",
        "*",
        "INBOX/../..",
        // ".." and "/" in modified UTF-7's base64: printable ASCII must not
        // be encoded, so neither decodes.
        "&AC4ALg-",
        "&AC8-",
        "&ACU-",
        "../../bob/Maildir",
        "../bob/Maildir",
        ".",
        "INBOX/.",
        "a//b",
    ];
    let mut accepted = Vec::new();
    let mut names: Vec<String> = quoted
        .iter()
        // With UTF8=ACCEPT, `&` is itself: those are plain names then.
        .filter(|n| !(utf8 && n.starts_with('&')))
        .map(|n| format!("\"{n}\""))
        .collect();
    if utf8 {
        names.extend(LETTER_NAMES.iter().map(|n| format!("\"{n}\"")));
    }
    names.push(long);
    names.push(deep);
    for name in &names {
        for command in [
            format!("CREATE {name}"),
            format!("SELECT {name}"),
            format!("EXAMINE {name}"),
            format!("STATUS {name} (MESSAGES)"),
            format!("RENAME Legit {name}"),
            format!("RENAME {name} Legit2"),
            format!("SUBSCRIBE {name}"),
            // Not the selected one: deleting that one ends the session.
            "UNSELECT".to_owned(),
            format!("DELETE {name}"),
        ] {
            let reply = imap.command(&command);
            if command != "UNSELECT" && reply.status == "OK" {
                let shown: String = command.chars().take(80).collect();
                accepted.push(format!("{shown} -> {}", reply.completion));
            }
        }
        let reply = imap.command_with_literal(&format!("APPEND {name}"), b"Subject: x\r\n\r\ny\r\n");
        if reply.status == "OK" {
            let shown: String = name.chars().take(60).collect();
            accepted.push(format!("APPEND {shown} -> {}", reply.completion));
        }
    }
    // LIST and LSUB with a hostile reference or pattern list only names
    // `LIST "" *` lists (alice's own mailboxes), or the empty name of the
    // hierarchy delimiter; COPY and MOVE take no hostile destination.
    let listed_name = |line: &str| line.split_once(") ").map(|(_, rest)| rest.trim_end().to_owned());
    let own: std::collections::BTreeSet<String> = imap
        .command("LIST \"\" *")
        .ok("LIST all")
        .lines_starting("LIST ")
        .iter()
        .filter_map(|l| listed_name(l))
        .collect();
    assert!(own.iter().any(|n| n.ends_with("INBOX")), "{own:?}");
    imap.command("SELECT INBOX").ok("SELECT INBOX for COPY and MOVE");
    for name in &names {
        for command in [
            format!("LIST {name} *"),
            format!("LIST {name} %"),
            format!("LIST \"\" {name}"),
            format!("LIST {name} {name}"),
            format!("LSUB {name} *"),
            format!("LSUB \"\" {name}"),
        ] {
            let reply = imap.command(&command);
            let lines = reply
                .lines_starting("LIST ")
                .into_iter()
                .chain(reply.lines_starting("LSUB "));
            for line in lines {
                let listed = listed_name(&line).unwrap_or_default();
                if !own.contains(&listed) && !listed.ends_with(" \"\"") {
                    let shown: String = command.chars().take(80).collect();
                    accepted.push(format!("{shown} listed {}", line.trim_end()));
                }
            }
        }
        for command in [
            format!("COPY 1 {name}"),
            format!("UID COPY 1:* {name}"),
            format!("MOVE 1 {name}"),
        ] {
            let reply = imap.command(&command);
            if reply.status == "OK" {
                let shown: String = command.chars().take(80).collect();
                accepted.push(format!("{shown} -> {}", reply.completion));
            }
        }
    }
    // NUL, CR and LF; `..` and `/` written as overlong UTF-8, which is not
    // UTF-8 at all.
    for raw in [
        &b"a\0b"[..],
        b"a\rb",
        b"a\nb",
        b"\0",
        b"../\0bob",
        b"\xc0\xae\xc0\xae",
        b"a\xc0\xafb",
        b"\xc0\xae\xc0\xae/bob",
    ] {
        for verb in ["CREATE", "SELECT", "STATUS"] {
            let mut command = format!("{verb} {{{}+}}\r\n", raw.len()).into_bytes();
            command.extend_from_slice(raw);
            if verb == "STATUS" {
                command.extend_from_slice(b" (MESSAGES)");
            }
            let reply = imap.command_raw(&command);
            if reply.status == "OK" {
                accepted.push(format!("{verb} {raw:?} -> {}", reply.completion));
            }
        }
    }
    // The session still works, and alice's own mail is where it was.
    let select = imap
        .command("SELECT INBOX")
        .ok("SELECT INBOX after hostile names");
    assert_eq!(select.count("EXISTS"), Some(6));
    let transcript = imap.transcript();
    imap.logout();
    HostileRun {
        mail,
        accepted,
        transcript,
        bob_before,
        top_before,
    }
}

#[test]
fn hostile_mailbox_names_are_refused() {
    for utf8 in [false, true] {
        let run = hostile_names_session(&format!("hostile-refused-{utf8}"), utf8);
        let accepted: Vec<&String> = run
            .accepted
            .iter()
            .filter(|a| !(utf8 && LETTER_NAMES.iter().any(|l| a.contains(l))))
            .collect();
        assert!(
            accepted.is_empty(),
            "UTF8=ACCEPT {utf8}: accepted ({}):\n{}",
            accepted.len(),
            accepted.iter().map(|a| a.as_str()).collect::<Vec<_>>().join("\n")
        );
    }
}

#[test]
fn hostile_mailbox_names_never_reach_outside_the_maildir() {
    for utf8 in [false, true] {
        names_stay_inside(hostile_names_session(&format!("hostile-inside-{utf8}"), utf8));
    }
}

fn names_stay_inside(run: HostileRun) {
    let mail = &run.mail;
    let top_after: Vec<_> = tree(mail.dir.path())
        .into_keys()
        .filter(|p| p.components().count() == 1)
        .collect();
    assert_eq!(top_after, run.top_before, "nothing new beside mail/ and users");
    for path in tree(&mail.root).keys() {
        assert!(
            path.starts_with("alice/Maildir") || path.starts_with("bob") || path == Path::new("alice"),
            "outside a user's Maildir: {}",
            path.display()
        );
    }
    assert_eq!(
        tree(&mail.root.join("bob")),
        run.bob_before,
        "bob's tree unchanged"
    );
    assert!(!mail.dir.path().join("x").exists() && !mail.root.join("x").exists());
    assert!(
        !run.transcript.contains(BOB_SECRET),
        "alice saw bob's mail:\n{}",
        run.transcript
    );
    // No name showed bob's one message.
    for line in run.transcript.lines() {
        assert!(
            !line.starts_with("S: * 1 EXISTS") && !line.contains("(MESSAGES 1)"),
            "a hostile name reached bob's INBOX: {line}"
        );
    }
}

/// Searches kept up to date (`UID SEARCH RETURN (UPDATE)`, RFC 5267) run
/// again once the mailbox changed: a flag change another session makes
/// brings ADDTO, and a command after it, with nothing changed, brings no
/// second one. A search whose result moves with the time (YOUNGER) runs
/// after every command: once its messages are older, a NOOP brings
/// REMOVEFROM though the mailbox did not change.
#[test]
fn searches_kept_up_to_date_follow_changes_and_the_time() {
    let mail = MailRoot::new("live-searches", PASSWD, "alice", &[]);
    let server = mail_server(&mail);
    let mut other = alice(&server);
    for text in ["one", "two"] {
        let message = format!("Subject: {text}\r\n\r\n{text}\r\n");
        other
            .command_with_literal("APPEND INBOX", message.as_bytes())
            .ok("APPEND, dated now");
    }
    let mut imap = alice(&server);
    imap.command("SELECT INBOX").ok("SELECT");
    let seen = imap
        .command("UID SEARCH RETURN (UPDATE) SEEN")
        .ok("a live search");
    assert!(
        seen.lines_starting("ESEARCH")
            .iter()
            .all(|l| !l.contains(" ALL ")),
        "{}",
        seen.text()
    );
    let young = imap
        .command("UID SEARCH RETURN (UPDATE) YOUNGER 3")
        .ok("a live search of the time");
    assert!(young.text().contains("ALL 1:2"), "{}", young.text());

    other.command("SELECT INBOX").ok("SELECT");
    other.command("UID STORE 2 +FLAGS (\\Seen)").ok("STORE");
    let noop = imap.command("NOOP").ok("NOOP");
    let adds = noop.lines_starting("ESEARCH");
    assert!(adds.iter().any(|l| l.contains("ADDTO (0 2)")), "{}", noop.text());
    let again = imap.command("NOOP").ok("NOOP");
    assert!(again.lines_starting("ESEARCH").is_empty(), "{}", again.text());

    std::thread::sleep(std::time::Duration::from_millis(4200));
    let later = imap.command("NOOP").ok("NOOP");
    let removed = later.lines_starting("ESEARCH");
    assert!(
        removed.len() == 1 && removed[0].contains("REMOVEFROM (0 1:2)"),
        "{}",
        later.text()
    );
}

/// A search may hold 64 BODY and TEXT keys, at any depth; one more is
/// refused with `NO [LIMIT]` before any message is read (each reads the
/// text of every message again: 3,000 of them took 8.5 s on a 40 MB
/// mailbox). SORT goes the same way.
#[test]
fn a_search_holds_at_most_64_text_keys() {
    let mail = MailRoot::new("text-keys", PASSWD, "alice", &support::sample_messages()[..2]);
    let server = mail_server(&mail);
    let mut imap = alice(&server);
    imap.command("SELECT INBOX").ok("SELECT");
    let keys = |n: usize| {
        (0..n)
            .map(|i| {
                if i % 2 == 0 {
                    "NOT BODY zzqq"
                } else {
                    "OR TEXT zzqq NOT TEXT zzqq"
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    // 43 keys holding 64 text keys (odd ones hold two).
    let within = imap.command(&format!("SEARCH {}", keys(43)));
    assert_status(&within, &["OK"], "64 text keys");
    for command in [
        format!("SEARCH {}", keys(44)),
        format!("SORT (ARRIVAL) UTF-8 {}", keys(44)),
    ] {
        let over = imap.command(&command);
        assert_status(&over, &["NO"], "66 text keys");
        assert!(over.completion.contains("[LIMIT]"), "{}", over.completion);
    }
    imap.command("NOOP").ok("the session goes on");
}

/// A search may hold 1,000 keys, at any depth; one more is refused with
/// `NO [LIMIT]` before any message is looked at, SORT and THREAD too.
/// Lines ended in literals take a command past the 64 KiB line limit, up
/// to the 65,536 keys the decoder takes, and each key is evaluated against
/// every message (30,000 HEADER keys took 9.8 s on a mailbox of 10,000
/// messages). Before, nothing but the decoder's limit counted them.
#[test]
fn a_search_holds_at_most_1000_keys() {
    let mail = MailRoot::new("many-keys", PASSWD, "alice", &support::sample_messages()[..2]);
    let server = mail_server(&mail);
    let mut imap = alice(&server);
    imap.command("SELECT INBOX").ok("SELECT");
    // NOT, OR and lists are not counted: 1,000 leaves.
    let within = format!(
        "SEARCH {} (OR SEEN NOT HEADER X-Zz q) {}",
        "NOT LARGER 99999999 ".repeat(499),
        "SMALLER 99999999 ".repeat(499).trim_end()
    );
    assert_status(&imap.command(&within), &["OK"], "1,000 keys");
    for command in [
        format!("SEARCH {}", "NOT LARGER 99999999 ".repeat(1_001).trim_end()),
        format!("SORT (ARRIVAL) UTF-8 {}", "UNSEEN ".repeat(1_001).trim_end()),
        format!("THREAD REFERENCES UTF-8 {}", "ALL ".repeat(1_001).trim_end()),
    ] {
        let over = imap.command(&command);
        assert_status(&over, &["NO"], "1,001 keys");
        assert!(over.completion.contains("[LIMIT]"), "{}", over.completion);
    }
    imap.command("NOOP").ok("the session goes on");
}

/// A mailbox deleted while it has children (RFC 9051 section 6.3.5
/// allows it) leaves a level of the hierarchy that is no mailbox: a
/// pattern ending in `%` lists it, `\Noselect` (RFC 9051 section 6.3.9:
/// "matching levels of hierarchy are also returned"), `\NonExistent` in
/// an extended LIST (RFC 5258), so that a client walking the hierarchy a
/// level at a time still reaches its children; `*` lists the children
/// only. It was not listed, and `foo/bar` could not be reached that way.
#[test]
fn a_parent_deleted_before_its_children_is_listed_as_a_level() {
    let mail = alice_root("list-levels");
    let server = mail_server(&mail);
    let mut imap = alice(&server);
    imap.command("CREATE foo/bar/baz").ok("CREATE");
    imap.command("DELETE foo/bar").ok("DELETE foo/bar");
    imap.command("DELETE foo").ok("DELETE foo");
    let listed = |imap: &mut Imap, command: &str| -> Vec<String> {
        let mut got: Vec<String> = lines(&imap.command(command).ok(command))
            .into_iter()
            .filter(|l| l.contains("foo"))
            .collect();
        got.sort();
        got
    };
    assert_eq!(
        listed(&mut imap, "LIST \"\" %"),
        ["* LIST (\\Noselect \\HasChildren) \"/\" foo"]
    );
    assert_eq!(
        listed(&mut imap, "LIST \"\" foo/%"),
        ["* LIST (\\Noselect \\HasChildren) \"/\" foo/bar"]
    );
    assert_eq!(
        listed(&mut imap, "LIST () \"\" %"),
        ["* LIST (\\NonExistent \\HasChildren) \"/\" foo"]
    );
    assert_eq!(
        listed(&mut imap, "LIST \"\" *"),
        ["* LIST (\\HasNoChildren) \"/\" foo/bar/baz"]
    );
    assert_eq!(
        listed(&mut imap, "LIST \"foo\" %"),
        ["* LIST (\\Noselect \\HasChildren) \"/\" foo/bar"]
    );
    assert!(listed(&mut imap, "LIST (SUBSCRIBED) \"\" %").is_empty());
    // A level that is no mailbox cannot be selected.
    assert_eq!(imap.command("SELECT foo").status, "NO");
    imap.logout();
}

/// NOTIFY's `mailboxes` and `subtree` filters name mailboxes as the
/// session does: in UTF-8 once UTF8=ACCEPT is on (RFC 6855), where `&`
/// is a character and not the start of modified UTF-7. A mailbox named
/// with one was never matched, and its news never came.
#[test]
fn notify_filters_read_names_in_utf8_once_accepted() {
    let mail = alice_root("notify-utf8");
    let server = mail_server(&mail);
    let mut watcher = alice(&server);
    watcher.command("ENABLE UTF8=ACCEPT").ok("ENABLE");
    watcher.command("CREATE \"Tom & Jerry\"").ok("CREATE");
    watcher.command("CREATE \"Été & co\"").ok("CREATE");
    watcher.command("CREATE \"Été & co/sub\"").ok("CREATE");
    watcher
        .command(
            "NOTIFY SET (mailboxes \"Tom & Jerry\" (MessageNew MessageExpunge)) \
             (subtree \"Été & co\" (MessageNew MessageExpunge))",
        )
        .ok("NOTIFY");
    let mut other = alice(&server);
    other.command("ENABLE UTF8=ACCEPT").ok("ENABLE");
    for (mailbox, news) in [
        ("\"Tom & Jerry\"", "* STATUS \"Tom & Jerry\" (MESSAGES 1"),
        ("\"Été & co/sub\"", "* STATUS \"Été & co/sub\" (MESSAGES 1"),
    ] {
        other
            .command_with_literal(&format!("APPEND {mailbox}"), b"Subject: news\r\n\r\nnews\r\n")
            .ok("APPEND");
        until_heard(&mut watcher, &[news]);
    }
    watcher.logout();
    other.logout();
}

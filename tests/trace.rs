//! Tests of the `trace` example: captures written to a temporary directory
//! and traced through the example's own `run`, plus one run of the real
//! binary for the exit status.

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

// The example's `main` is not called from here.
#[allow(dead_code)]
#[path = "../examples/trace.rs"]
mod trace;

/// Two capture files in a directory of their own, removed on drop.
struct Capture {
    dir: PathBuf,
}

impl Capture {
    fn new(client: &[u8], server: &[u8]) -> Capture {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "mailwire-trace-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("client"), client).unwrap();
        std::fs::write(dir.join("server"), server).unwrap();
        Capture { dir }
    }

    fn args(&self, protocol: &str) -> Vec<OsString> {
        vec![
            protocol.into(),
            self.dir.join("client").into_os_string(),
            self.dir.join("server").into_os_string(),
        ]
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Exit status, report and error output of a trace with `args`.
fn run_args(args: &[OsString]) -> (u8, String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let status = trace::run(args, &mut out, &mut err);
    (
        status,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

/// Exit status and report of a POP3 trace.
fn run(client: &[u8], server: &[u8]) -> (u8, String) {
    let capture = Capture::new(client, server);
    let (status, out, err) = run_args(&capture.args("pop3"));
    assert_eq!(err, "", "unexpected error output");
    (status, out)
}

fn offset(haystack: &[u8], needle: &[u8]) -> usize {
    haystack.windows(needle.len()).position(|w| w == needle).unwrap()
}

fn last_line(report: &str) -> &str {
    report.lines().last().unwrap()
}

fn assert_line(report: &str, line: &str) {
    assert!(report.lines().any(|l| l == line), "no line {line:?} in\n{report}");
}

/// RFC 1939 section 10, with message bodies that need dot-stuffing.
const RFC1939_CLIENT: &[u8] = b"APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n\
STAT\r\n\
LIST\r\n\
RETR 1\r\n\
DELE 1\r\n\
RETR 2\r\n\
DELE 2\r\n\
QUIT\r\n";

const RFC1939_SERVER: &[u8] = b"+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n\
+OK mrose's maildrop has 2 messages (320 octets)\r\n\
+OK 2 320\r\n\
+OK 2 messages (320 octets)\r\n\
1 120\r\n\
2 200\r\n\
.\r\n\
+OK 120 octets\r\n\
Subject: one\r\n\
\r\n\
..a line that starts with a dot\r\n\
.\r\n\
+OK message 1 deleted\r\n\
+OK 200 octets\r\n\
Subject: two\r\n\
\r\n\
...\r\n\
..\r\n\
.\r\n\
+OK message 2 deleted\r\n\
+OK dewey POP3 server signing off (maildrop empty)\r\n";

#[test]
fn rfc1939_sample_session_passes() {
    let (status, report) = run(RFC1939_CLIENT, RFC1939_SERVER);
    assert_eq!(status, 0, "{report}");
    let c = |needle: &[u8]| offset(RFC1939_CLIENT, needle);
    let s = |needle: &[u8]| offset(RFC1939_SERVER, needle);
    assert_line(
        &report,
        "S 0 +OK POP3 server ready <1896.697170952@dbc.mtview.ca.us> ok",
    );
    assert_line(&report, "C 0 APOP mrose <redacted> ok");
    assert_line(&report, &format!("C {} STAT ok", c(b"STAT")));
    assert_line(&report, &format!("S {} +OK 2 320 ok", s(b"+OK 2 320")));
    assert_line(&report, &format!("C {} LIST ok", c(b"LIST")));
    assert_line(
        &report,
        &format!(
            "S {} +OK 2 messages (320 octets) [2 scan listings] ok",
            s(b"+OK 2 messages")
        ),
    );
    assert_line(&report, &format!("C {} RETR 1 ok", c(b"RETR 1")));
    assert_line(&report, &format!("S {} +OK 120 octets ok", s(b"+OK 120")));
    // "Subject: one\r\n\r\n.a line that starts with a dot\r\n"
    assert_line(
        &report,
        &format!("S {} RETR body 48 bytes ok", s(b"Subject: one")),
    );
    // "Subject: two\r\n\r\n..\r\n.\r\n"
    assert_line(
        &report,
        &format!("S {} RETR body 23 bytes ok", s(b"Subject: two")),
    );
    assert_line(&report, &format!("C {} QUIT ok", c(b"QUIT")));
    // Greeting, 8 commands, 8 status lines, 2 bodies.
    assert_eq!(last_line(&report), "19 passed, 0 failed");
    assert_eq!(report.lines().filter(|l| l.ends_with(" ok")).count(), 19);
    assert!(!report.contains("c4c9334bac560ecc979e58001b3e22fb"), "{report}");
}

#[test]
fn a_corrupted_server_line_fails_alone() {
    let server = String::from_utf8(RFC1939_SERVER.to_vec())
        .unwrap()
        .replace("+OK 2 320", "+OK two 320");
    let server = server.as_bytes();
    let (status, report) = run(RFC1939_CLIENT, server);
    assert_eq!(status, 1, "{report}");
    let bad = offset(server, b"+OK two");
    let fails: Vec<&str> = report.lines().filter(|l| l.contains(" FAIL ")).collect();
    assert_eq!(fails.len(), 1, "{report}");
    assert!(
        fails[0].starts_with(&format!("S {bad} FAIL \"+OK two 320\\r\\n\": ")),
        "{report}"
    );
    assert!(fails[0].contains(&format!("at offset {}", bad + 4)), "{report}");
    // The next answer is framed correctly again.
    assert_line(
        &report,
        &format!(
            "S {} +OK 2 messages (320 octets) [2 scan listings] ok",
            offset(server, b"+OK 2 messages")
        ),
    );
    assert_eq!(last_line(&report), "18 passed, 1 failed");
}

#[test]
fn a_corrupted_client_line_reports_the_client_offset() {
    let client = b"STAT\r\nRETR one\r\nNOOP\r\n";
    let server = b"+OK ready\r\n+OK 1 5\r\n-ERR bad message number\r\n+OK\r\n";
    let (status, report) = run(client, server);
    assert_eq!(status, 1, "{report}");
    let fail = report.lines().find(|l| l.contains(" FAIL ")).unwrap();
    assert!(fail.starts_with("C 6 FAIL \"RETR one\\r\\n\": "), "{report}");
    assert!(fail.contains("at offset 11"), "{report}");
    assert_line(&report, "S 20 -ERR bad message number ok");
    assert_line(&report, "C 16 NOOP ok");
    assert_eq!(last_line(&report), "6 passed, 1 failed");
}

#[test]
fn multi_line_framing_follows_the_commands() {
    let client = b"CAPA\r\nLIST 1\r\nLIST\r\nUIDL 2\r\nUIDL\r\nLANG\r\nLANG en\r\nTOP 1 0\r\nQUIT\r\n";
    let server: &[u8] = b"+OK ready\r\n\
+OK Capability list follows\r\nTOP\r\nUSER\r\nSASL PLAIN\r\nUIDL\r\nLANG\r\n.\r\n\
+OK 1 120\r\n\
+OK\r\n1 120\r\n2 200\r\n.\r\n\
+OK 2 QhdPYR:00WBw1Ph7x7\r\n\
+OK\r\n1 whqtswO00WBw418f9t5JxYwZ\r\n2 QhdPYR:00WBw1Ph7x7\r\n.\r\n\
+OK Language listing follows:\r\nen English\r\nde Deutsch\r\n.\r\n\
+OK Language changed\r\n\
+OK\r\nSubject: x\r\n\r\n.\r\n\
+OK bye\r\n";
    let (status, report) = run(client, server);
    assert_eq!(status, 0, "{report}");
    let s = |needle: &[u8]| offset(server, needle);
    assert_line(
        &report,
        &format!(
            "S {} +OK Capability list follows [5 capabilities] ok",
            s(b"+OK Cap")
        ),
    );
    assert_line(&report, &format!("S {} +OK 1 120 ok", s(b"+OK 1 120")));
    assert_line(
        &report,
        &format!("S {} +OK [2 scan listings] ok", s(b"+OK\r\n1 120")),
    );
    assert_line(
        &report,
        &format!("S {} +OK [2 unique-id listings] ok", s(b"+OK\r\n1 whq")),
    );
    assert_line(
        &report,
        &format!(
            "S {} +OK Language listing follows: [2 languages] ok",
            s(b"+OK Lang")
        ),
    );
    assert_line(&report, &format!("S {} TOP body 14 bytes ok", s(b"Subject: x")));
    assert_line(&report, &format!("S {} +OK bye ok", s(b"+OK bye")));
    assert_eq!(last_line(&report), "20 passed, 0 failed");
}

#[test]
fn a_bad_listing_line_skips_to_the_terminator() {
    let client = b"LIST\r\nSTAT\r\n";
    let server = b"+OK ready\r\n+OK\r\n1 120\r\nbogus\r\n2 200\r\n.\r\n+OK 2 320\r\n";
    let (status, report) = run(client, server);
    assert_eq!(status, 1, "{report}");
    let bogus = offset(server, b"bogus");
    assert!(
        report.contains(&format!("S {bogus} FAIL \"bogus\\r\\n\": ")),
        "{report}"
    );
    assert_line(
        &report,
        &format!("S {} +OK 2 320 ok", offset(server, b"+OK 2 320")),
    );
    assert_eq!(last_line(&report), "4 passed, 1 failed");
}

#[test]
fn stls_stops_the_trace_at_the_switch() {
    // After the switch come TLS records; this "ciphertext" would decode as
    // POP3 if the trace went on.
    let client = b"CAPA\r\nSTLS\r\n\x16\x03\x01\x00\x05QUIT\r\nUSER x\r\n";
    let server = b"+OK ready\r\n+OK\r\nSTLS\r\n.\r\n+OK Begin TLS negotiation\r\n\x16\x03\x03+OK\r\n";
    let (status, report) = run(client, server);
    assert_eq!(status, 0, "{report}");
    let tls = offset(server, b"\x16");
    assert_line(&report, "C 6 STLS ok");
    assert_line(
        &report,
        &format!("S {} +OK Begin TLS negotiation ok", offset(server, b"+OK Begin")),
    );
    assert_line(
        &report,
        &format!(
            "-- STLS: TLS starts at C offset 12 and S offset {tls}; the remaining {} client and {} server \
             bytes are not decoded",
            client.len() - 12,
            server.len() - tls
        ),
    );
    assert!(!report.contains("QUIT") && !report.contains("USER"), "{report}");
    assert_eq!(last_line(&report), "5 passed, 0 failed");
}

#[test]
fn a_refused_stls_goes_on_in_plain_text() {
    let (status, report) = run(b"STLS\r\nQUIT\r\n", b"+OK ready\r\n-ERR not now\r\n+OK bye\r\n");
    assert_eq!(status, 0, "{report}");
    assert!(!report.contains("TLS starts"), "{report}");
    assert_line(&report, "C 6 QUIT ok");
    assert_eq!(last_line(&report), "5 passed, 0 failed");
}

#[test]
fn auth_plain_with_a_continuation() {
    // "\0alice\0hunter2"
    let client = b"AUTH PLAIN\r\nAGFsaWNlAGh1bnRlcjI=\r\nSTAT\r\nAUTH CRAM-MD5\r\n*\r\nQUIT\r\n";
    let server = b"+OK ready\r\n+ \r\n+OK logged in\r\n+OK 0 0\r\n\
+ PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n-ERR [AUTH] cancelled\r\n+OK bye\r\n";
    let (status, report) = run(client, server);
    assert_eq!(status, 0, "{report}");
    let c = |needle: &[u8]| offset(client, needle);
    let s = |needle: &[u8]| offset(server, needle);
    assert_line(&report, "C 0 AUTH PLAIN ok");
    assert_line(
        &report,
        &format!("S {} + <challenge, 0 base64 chars> ok", s(b"+ \r\n")),
    );
    assert_line(&report, &format!("C {} SASL response <redacted> ok", c(b"AGFs")));
    assert_line(&report, &format!("S {} +OK logged in ok", s(b"+OK logged")));
    assert_line(&report, &format!("C {} STAT ok", c(b"STAT")));
    assert_line(&report, &format!("S {} +OK 0 0 ok", s(b"+OK 0 0")));
    assert_line(
        &report,
        &format!("S {} + <challenge, 56 base64 chars> ok", s(b"+ PDE")),
    );
    assert_line(&report, &format!("C {} * (SASL cancel) ok", c(b"*")));
    assert_line(&report, &format!("S {} -ERR [AUTH] cancelled ok", s(b"-ERR")));
    assert_eq!(last_line(&report), "13 passed, 0 failed");
}

#[test]
fn no_credentials_in_the_output() {
    let secrets: [&[u8]; 4] = [
        b"hunter2 with spaces",
        b"AGFsaWNlAHMzY3JldA==",
        b"c4c9334bac560ecc979e58001b3e22fb",
        b"AGJvYgBzM2NyZXQy",
    ];
    let client: &[u8] = b"USER alice\r\n\
PASS hunter2 with spaces\r\n\
PASS hunter2 with spaces\0\r\n\
APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n\
AUTH PLAIN AGFsaWNlAHMzY3JldA==\r\n\
AUTH PLAIN AGFsaWNlAHMzY3JldA=!\r\n\
AUTH PLAIN\r\n\
AGFsaWNlAHMzY3JldA=!\r\n\
AUTH PLAIN\r\n\
AGJvYgBzM2NyZXQy\r\n\
AGJvYgBzM2NyZXQy\r\n\
QUIT\r\n";
    let server: &[u8] = b"+OK ready <1896.697170952@dbc.mtview.ca.us>\r\n\
+OK\r\n\
-ERR [AUTH] no\r\n\
-ERR bad password\r\n\
-ERR [AUTH] no\r\n\
-ERR [AUTH] no\r\n\
-ERR bad base64\r\n\
+ \r\n\
-ERR bad base64\r\n\
+ \r\n\
+OK logged in\r\n\
-ERR unknown command\r\n\
+OK bye\r\n";
    let (status, report) = run(client, server);
    // The NUL in a password, the bad base64 and the SASL data sent as a
    // command fail to decode.
    assert_eq!(status, 1, "{report}");
    for secret in secrets {
        let secret = std::str::from_utf8(secret).unwrap();
        assert!(!report.contains(secret), "{secret:?} in\n{report}");
    }
    for word in ["hunter2", "s3cret", "AGFs", "AGJv"] {
        assert!(!report.contains(word), "{word:?} in\n{report}");
    }
    assert_line(
        &report,
        &format!("C {} PASS <redacted> ok", offset(client, b"PASS")),
    );
    assert_line(
        &report,
        &format!("C {} APOP mrose <redacted> ok", offset(client, b"APOP")),
    );
    assert_line(
        &report,
        &format!(
            "C {} AUTH PLAIN <redacted> ok",
            offset(client, b"AUTH PLAIN AGFs")
        ),
    );
    assert_eq!(last_line(&report), "21 passed, 4 failed");
}

#[test]
fn lenient_captures_decode() {
    // Bare LF, lower-case status, a body with bare LF that re-stuffing
    // turns into CRLF.
    let client = b"stat\nRETR 1\nQUIT\n";
    let server = b"+ok ready\n+OK 1 7\n+OK\r\na\nb\r\n.\r\n+OK\n";
    let (status, report) = run(client, server);
    assert_eq!(status, 0, "{report}");
    assert_line(
        &report,
        &format!(
            "S {} RETR body 5 bytes (1 bare LF re-stuffed as CRLF) ok",
            offset(server, b"a\nb")
        ),
    );
    assert_eq!(last_line(&report), "8 passed, 0 failed");
}

#[test]
fn truncated_and_extra_server_data() {
    let (status, report) = run(b"RETR 1\r\nQUIT\r\n", b"+OK ready\r\n+OK\r\nabc\r\n");
    assert_eq!(status, 1, "{report}");
    assert!(
        report.contains("S 16 FAIL \"abc\\r\\n\": the capture ends inside the RETR body"),
        "{report}"
    );
    assert_line(
        &report,
        "-- no response to QUIT: the server capture ends at offset 21",
    );

    let (status, report) = run(b"NOOP\r\n", b"+OK ready\r\n+OK\r\n-ERR autologout\r\n");
    assert_eq!(status, 1, "{report}");
    assert_line(
        &report,
        "S 16 FAIL \"-ERR autologout\\r\\n\": server data with no command pending in the client capture",
    );
    assert_eq!(last_line(&report), "3 passed, 1 failed");
}

#[test]
fn usage_errors_exit_2() {
    let capture = Capture::new(b"", b"+OK\r\n");
    let (status, _, err) = run_args(&capture.args("smtp"));
    assert_eq!(status, 2);
    assert!(err.contains("unknown protocol"), "{err}");

    let (status, _, err) = run_args(&["pop3".into()]);
    assert_eq!(status, 2);
    assert!(err.starts_with("usage: "), "{err}");

    let mut args = capture.args("pop3");
    args[1] = capture.dir.join("missing").into_os_string();
    let (status, out, err) = run_args(&args);
    assert_eq!((status, out.as_str()), (2, ""));
    assert!(err.contains("cannot read"), "{err}");

    let (status, out, _) = run_args(&["--help".into()]);
    assert_eq!(status, 0);
    assert!(out.starts_with("usage: "), "{out}");
}

#[test]
fn the_binary_exits_with_the_status() {
    let good = Capture::new(RFC1939_CLIENT, RFC1939_SERVER);
    let bad = Capture::new(RFC1939_CLIENT, b"+OK ready\r\n+OK\r\n+OK two 320\r\n");
    for (capture, code, last) in [
        (&good, 0, "19 passed, 0 failed"),
        (&bad, 1, "10 passed, 1 failed"),
    ] {
        let mut cargo = std::process::Command::new(env!("CARGO"));
        // The variables cargo sets for this test would make the inner build
        // differ from the outer one (ring's build script watches
        // CARGO_MANIFEST_DIR) and rebuild the dependencies on every run.
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            if name.starts_with("CARGO_PKG_") || name.starts_with("CARGO_MANIFEST_") {
                cargo.env_remove(name.as_ref());
            }
        }
        let output = cargo
            .args(["run", "--quiet", "--example", "trace", "--"])
            .args(capture.args("pop3"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap();
        let stdout = String::from_utf8(output.stdout).unwrap();
        assert_eq!(
            output.status.code(),
            Some(code),
            "{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(last_line(&stdout), last, "{stdout}");
    }
}

/// Exit status and report of an IMAP trace.
fn run_imap(client: &[u8], server: &[u8]) -> (u8, String) {
    let capture = Capture::new(client, server);
    let (status, out, err) = run_args(&capture.args("imap"));
    assert_eq!(err, "", "unexpected error output");
    (status, out)
}

#[test]
fn imap_session_with_literals_authenticate_and_idle() {
    let client = b"a1 CAPABILITY\r\n\
a2 AUTHENTICATE PLAIN\r\n\
AGFsaWNlAHNlY3JldA==\r\n\
a3 APPEND INBOX (\\Seen) {5}\r\n\
hello\r\n\
a4 IDLE\r\n\
DONE\r\n\
a5 UID STORE 1 +FLAGS.SILENT (\\Deleted)\r\n\
a6 LOGOUT\r\n";
    let server = b"* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN] ready\r\n\
* CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN IDLE UIDPLUS\r\n\
a1 OK done\r\n\
+ \r\n\
a2 OK Logged in\r\n\
+ OK\r\n\
a3 OK [APPENDUID 1700000000 1] Append completed.\r\n\
+ idling\r\n\
* 2 EXISTS\r\n\
a4 OK Idle completed.\r\n\
a5 OK Store completed.\r\n\
* BYE Logging out\r\n\
a6 OK Logout completed.\r\n";
    let (status, report) = run_imap(client, server);
    assert_eq!(status, 0, "{report}");
    assert_line(
        &report,
        "S 0 * OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN] ready ok",
    );
    assert_line(&report, "C 15 a2 AUTHENTICATE ok");
    assert_line(&report, "C 38 AUTHENTICATE data (not shown) ok");
    assert_line(&report, &format!("C {} DONE ok", offset(client, b"DONE")));
    assert_line(&report, &format!("C {} a5 UID STORE ok", offset(client, b"a5")));
    assert!(!report.contains("AGFsaWNl"), "the SASL data is shown:\n{report}");
    assert_eq!(last_line(&report), "21 passed, 0 failed");
}

#[test]
fn imap_failures_resynchronise_and_hide_credentials() {
    // a1: refused by the decoder and by the server (BAD): passes as such.
    // a3: refused by the decoder, accepted by the server: a failure.
    let client = b"a1 LOGIN alice \"s3cret pass\r\na2 NOOP\r\na3 LOGIN bob \"t0p secret\r\n";
    let server =
        b"* OK ready\r\na1 BAD parse error\r\n* 1 FROBNICATE\r\n* 3 EXISTS\r\na2 OK done\r\na3 OK in\r\n";
    let (status, report) = run_imap(client, server);
    assert_eq!(status, 1, "{report}");
    assert!(!report.contains("s3cret") && !report.contains("t0p"), "{report}");
    assert_line(
        &report,
        "C 0 a1 LOGIN (arguments not shown) rejected, as the server did, ok",
    );
    assert!(
        report.contains(&format!(
            "C {} FAIL \"a3 LOGIN (arguments not shown)\"",
            offset(client, b"a3")
        )),
        "{report}"
    );
    assert!(
        report.contains(&format!(
            "S {} FAIL \"* 1 FROBNICATE\\r\\n\"",
            offset(server, b"* 1 FROB")
        )),
        "{report}"
    );
    assert_line(
        &report,
        &format!("S {} * 3 EXISTS ok", offset(server, b"* 3 EXISTS")),
    );
    assert_line(&report, &format!("C {} a2 NOOP ok", offset(client, b"a2")));
    assert_eq!(last_line(&report), "7 passed, 2 failed");
}

#[test]
fn imap_stops_at_starttls() {
    let client = b"a1 STARTTLS\r\n\x16\x03\x01binary";
    let server = b"* OK ready\r\na1 OK Begin TLS negotiation now.\r\n\x16\x03\x03binary";
    let (status, report) = run_imap(client, server);
    assert_eq!(status, 0, "{report}");
    assert_line(&report, "-- STARTTLS accepted: the rest is TLS; decoding stops");
    assert_eq!(last_line(&report), "3 passed, 0 failed");
}

#[test]
fn imap_stops_at_an_accepted_compress() {
    // a1 is refused and the trace goes on; after a2's OK both directions
    // are DEFLATE streams, which would not decode.
    let client = b"a1 COMPRESS FOO\r\na2 COMPRESS DEFLATE\r\n\xf2\x0b\xf2\x0f\xf0\x75\x01";
    let server =
        b"* OK ready\r\na1 NO Unknown compression mechanism\r\na2 OK Begin compression.\r\n\x72\x0a\x0d";
    let (status, report) = run_imap(client, server);
    assert_eq!(status, 0, "{report}");
    assert_line(&report, "C 0 a1 COMPRESS ok");
    assert_line(&report, &format!("C {} a2 COMPRESS ok", offset(client, b"a2")));
    assert_line(
        &report,
        "-- COMPRESS is active: the rest is compressed; decoding stops",
    );
    assert_eq!(last_line(&report), "5 passed, 0 failed");
}

/// The sessions recorded from Python's imaplib, curl and a raw client
/// against Dovecot (tests/traces/imap/README.md): every message decodes
/// and survives a round trip; the commands that the recordings send on
/// purpose malformed are refused, as Dovecot refused them.
#[test]
fn recorded_dovecot_sessions_pass() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/traces/imap");
    let mut seen = 0;
    for (name, refused) in [
        ("imaplib-session", &["XBOGUS"][..]),
        ("imaplib-authenticate", &[]),
        ("curl-fetch", &[]),
        ("curl-list", &[]),
        ("curl-examine", &[]),
        ("raw-literals", &[]),
        ("imaplib-condstore", &["UID STORE 1 (UNCHANGEDSINCE) "]),
        (
            "imaplib-sort-thread",
            &["SORT (SUBJECT) ALL", "THREAD ORDEREDSUBJECT\\r"],
        ),
        (
            "imaplib-misc",
            &["SETMETADATA INBOX (/private/comme", "GETQUOTAROOT\\r"],
        ),
        ("imaplib-compress", &[]),
        ("imaplib-urlauth", &[]),
    ] {
        let read = |ext: &str| std::fs::read(dir.join(format!("{name}.{ext}"))).unwrap();
        let (client, server) = (read("client"), read("server"));
        let (status, report) = run_imap(&client, &server);
        let failures: Vec<&str> = report.lines().filter(|l| l.contains(" FAIL ")).collect();
        assert_eq!((status, failures.len()), (0, 0), "{name}:\n{report}");
        // The commands refused by Dovecot with BAD and by the decoder.
        let rejected: Vec<&str> = report
            .lines()
            .filter(|l| l.ends_with("rejected, as the server did, ok"))
            .collect();
        assert_eq!(rejected.len(), refused.len(), "{name}:\n{report}");
        for command in refused {
            assert!(
                rejected.iter().any(|l| l.contains(command)),
                "{name}: {command:?} not rejected:\n{report}"
            );
        }
        // What each extension capture is there for (README.md), so that a
        // new recording cannot lose it unnoticed.
        let holds: &[&str] = match name {
            "imaplib-condstore" => &[
                "* ENABLED CONDSTORE QRESYNC",
                "[MODIFIED ",
                "* VANISHED (EARLIER) ",
                "[CLOSED]",
            ],
            "imaplib-sort-thread" => &["* SORT ", "* THREAD ", " PARTIAL (", " ADDTO (", " REMOVEFROM ("],
            "imaplib-misc" => &[
                "* ID (",
                "* QUOTA ",
                "* ACL ",
                "* METADATA ",
                " PREVIEW ",
                "[BADURL ",
                "* STATUS Archive",
            ],
            "imaplib-compress" => &[" OK Begin compression"],
            "imaplib-urlauth" => &[
                "* GENURLAUTH imap://",
                "[URLMECH INTERNAL]",
                "* URLFETCH imap://",
                " (BODYPARTSTRUCTURE (",
            ],
            _ => &[],
        };
        for text in holds {
            assert!(
                server.windows(text.len()).any(|w| w == text.as_bytes()),
                "{name}: no {text:?} in the server capture"
            );
        }
        if name == "imaplib-compress" {
            assert_eq!(
                report.lines().rev().nth(1),
                Some("-- COMPRESS is active: the rest is compressed; decoding stops"),
                "{name}:\n{report}"
            );
        }
        let passed: u64 = last_line(&report).split(' ').next().unwrap().parse().unwrap();
        assert!(passed >= 10, "{name}: {report}");
        seen += 1;
    }
    assert_eq!(seen, 11);
}

/// Exit status and report of an IMAP trace through the sessions.
fn run_imap_sessions(client: &[u8], server: &[u8]) -> (u8, String) {
    let capture = Capture::new(client, server);
    let (status, out, err) = run_args(&capture.args("imap-sessions"));
    assert_eq!(err, "", "unexpected error output");
    (status, out)
}

/// Every recording replayed through the server and the client session:
/// every command gets its recorded status from both, and the server session
/// asks for literal data where Dovecot did.
#[test]
fn recorded_dovecot_sessions_pass_through_the_sessions() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/traces/imap");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".client").map(str::to_owned)
        })
        .collect();
    names.sort();
    assert!(names.len() >= 11, "{names:?}");
    for name in names {
        let read = |ext: &str| std::fs::read(dir.join(format!("{name}.{ext}"))).unwrap();
        let (client, server) = (read("client"), read("server"));
        let (status, report) = run_imap_sessions(&client, &server);
        assert_eq!(status, 0, "{name}:\n{report}");
        assert!(!report.contains(" FAIL "), "{name}:\n{report}");
        // One line per tagged completion of the recording, and the line
        // about continuation requests.
        let tagged = String::from_utf8_lossy(&server)
            .lines()
            .filter(|l| {
                let mut words = l.split(' ');
                let tag = words.next().unwrap_or("");
                !tag.is_empty()
                    && tag != "*"
                    && tag != "+"
                    && tag.bytes().all(|b| b.is_ascii_alphanumeric())
                    && matches!(words.next(), Some("OK" | "NO" | "BAD"))
            })
            .count();
        let commands = report.lines().filter(|l| l.starts_with("C ")).count();
        assert_eq!(commands, tagged, "{name}: one line per completion\n{report}");
        assert!(
            report.contains("continuation requests where the server sent them"),
            "{name}:\n{report}"
        );
    }
}

/// A recording whose server accepted what the session refuses fails, and
/// a literal the server took without a continuation request is noticed.
#[test]
fn the_session_trace_fails_where_the_sessions_differ_from_the_recording() {
    // FETCH before login: the session says BAD, the "server" said OK.
    let client = b"a1 FETCH 1 FLAGS\r\na2 LOGOUT\r\n";
    let server = b"* OK ready\r\na1 OK done\r\n* BYE bye\r\na2 OK bye\r\n";
    let (status, report) = run_imap_sessions(client, server);
    assert_eq!(status, 1, "{report}");
    assert!(
        report.contains("FAIL") && report.contains("server session answered Bad"),
        "{report}"
    );

    // A synchronizing literal answered by the server with no `+`.
    let client = b"a1 LOGIN {5}\r\nalice pw\r\n";
    let server = b"* OK ready\r\na1 OK in\r\n";
    let (status, report) = run_imap_sessions(client, server);
    assert_eq!(status, 1, "{report}");
    assert!(report.contains("continuation requests"), "{report}");
}
